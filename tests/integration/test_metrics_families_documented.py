#!/usr/bin/env python3
"""Every metric family gantry can export is in the README's families table (issue 12: "README
... every metric family"): the family names written by src/ (string literals "gantry_...")
against the rows of the table under "Families". A family added without its row fails here."""

import os
import re

import gwtest

SUFFIXES = ("_bucket", "_sum", "_count")


def exported_families():
    names = {}
    for root, _, files in os.walk(os.path.join(gwtest.REPO, "src")):
        for f in files:
            if not f.endswith(".c"):
                continue
            path = os.path.join(root, f)
            with open(path, encoding="utf-8") as fh:
                for m in re.finditer(r'"(gantry_[a-z0-9_]+)"', fh.read()):
                    n = m.group(1)
                    if not n.endswith(SUFFIXES):
                        names.setdefault(n, os.path.relpath(path, gwtest.REPO))
    return names


def families_table():
    with open(os.path.join(gwtest.REPO, "README.md"), encoding="utf-8") as fh:
        text = fh.read()
    start = text.index("| family | type | labels | what |")
    end = text.index("\n\n", start)
    return set(re.findall(r"`(gantry_[a-z0-9_]+)`", text[start:end]))


def test_every_family_has_its_row():
    names = exported_families()
    assert len(names) > 50, names  # the scan found the exposition code
    table = families_table()
    missing = sorted("%s (%s)" % (n, f) for n, f in names.items() if n not in table)
    assert not missing, "families without a row in README's table:\n  " + "\n  ".join(missing)


if __name__ == "__main__":
    gwtest.main(globals())
