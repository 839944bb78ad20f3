#!/usr/bin/env python3
"""Writes the gantry(8) man page (groff) from the README's command reference.

    scripts/gen-man.py [README.md] > gantry.8

The sources, all in README.md: the "## Running gantry" section (its code block is the
synopsis and command list, its bullets the notes), the "### Signals" table of "## Operating
gantry", and the version from CMakeLists.txt. Markdown is reduced to what man needs: `code`
becomes bold, [text](link) becomes text. Standard library only, so that building the package
needs nothing beyond Python."""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def section(text, title):
    """The body of the heading `title` (any level), up to the next heading of that level or
    higher."""
    m = re.search(r"^(#+) " + re.escape(title) + r"\s*$", text, re.M)
    if not m:
        sys.exit("gen-man.py: no section %r in the README" % title)
    level = len(m.group(1))
    rest = text[m.end():]
    end = re.search(r"^#{1,%d} " % level, rest, re.M)
    return rest[: end.start()] if end else rest


def esc(s):
    """groff-escapes plain text."""
    s = s.replace("\\", "\\e").replace("-", "\\-")
    return re.sub(r"^([.'])", r"\\&\1", s)


def inline(s):
    """Markdown inline to groff: links to their text, `code` to bold, **x** to bold."""
    s = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", s)
    out = []
    for i, part in enumerate(re.split(r"`([^`]*)`", s)):
        if i % 2:
            out.append("\\fB" + esc(part) + "\\fR")
        else:
            part = esc(part)
            out.append(re.sub(r"\*\*([^*]+)\*\*", r"\\fB\1\\fR", part))
    return "".join(out)


def bullets(body):
    """The top-level '- ' items of body, each joined into one line."""
    items, cur = [], None
    for line in body.splitlines():
        if line.startswith("- "):
            if cur is not None:
                items.append(cur)
            cur = line[2:].strip()
        elif cur is not None and line.startswith("  ") and line.strip():
            cur += " " + line.strip()
        elif cur is not None and not line.strip():
            items.append(cur)
            cur = None
    if cur is not None:
        items.append(cur)
    return items


def commands(body):
    """(usage, description) pairs from the first ``` block; continuation lines (indented)
    extend the description."""
    m = re.search(r"```[a-z]*\n(.*?)```", body, re.S)
    if not m:
        sys.exit("gen-man.py: no code block in Running gantry")
    rows = []
    for line in m.group(1).splitlines():
        if not line.strip():
            continue
        if line.startswith(" ") and rows:
            rows[-1][1] = (rows[-1][1] + " " + line.strip()).strip()
            continue
        parts = re.split(r"\s{2,}", line.strip(), maxsplit=1)
        rows.append([parts[0], parts[1] if len(parts) > 1 else ""])
    return rows


def table_rows(body):
    rows = []
    for line in body.splitlines():
        if line.startswith("|") and not re.match(r"^\|\s*-", line):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows.append(cells)
    return rows[1:]  # without the header


def version():
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        m = re.search(r"project\(gantry VERSION ([0-9.]+)", f.read())
    return m.group(1) if m else "0"


def main():
    readme = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "README.md")
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    running = section(text, "Running gantry")
    running_top = re.split(r"^### ", running, flags=re.M)[0]
    signals = section(text, "Signals")
    out = []
    w = out.append
    w('.TH GANTRY 8 "" "gantry %s" "System Administration"' % version())
    w(".SH NAME")
    w("gantry \\- API gateway")
    w(".SH SYNOPSIS")
    for usage, _ in commands(running_top):
        w(".br")
        w("\\fB" + esc(usage) + "\\fR")
    w(".SH DESCRIPTION")
    w("gantry is an API gateway: one binary in front of HTTP services with routing, load "
      "balancing, health checks, circuit breaking, rate limits, authentication, metrics and an "
      "admin API, configured by one JSON or YAML file.")
    w(".SH COMMANDS")
    for usage, desc in commands(running_top):
        w(".TP")
        w("\\fB" + esc(usage) + "\\fR")
        w(esc(desc))
    w(".SH NOTES")
    for item in bullets(running_top):
        w(".IP \\(bu 2")
        w(inline(item))
    w(".SH SIGNALS")
    for row in table_rows(signals):
        if len(row) >= 2:
            w(".TP")
            w(inline(row[0]))
            w(inline(row[1]))
    w(".SH FILES")
    w(".TP")
    w("\\fI/etc/gantry/gantry.json\\fR")
    w("the configuration the packaged systemd unit runs (\\fBgantry.service\\fR)")
    w(".TP")
    w("\\fI/var/log/gantry/\\fR")
    w("access and error logs of the packaged configuration, rotated by logrotate")
    w(".SH SEE ALSO")
    w("\\fBsystemctl\\fR(1), \\fBlogrotate\\fR(8); docs/config.md in the documentation "
      "(/usr/share/doc/gantry) for every configuration key.")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
