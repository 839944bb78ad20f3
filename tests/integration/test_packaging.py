#!/usr/bin/env python3
"""Packaging and installation: `make install` / `make uninstall` into a DESTDIR, the gantry(8)
man page made from the README, the systemd unit (`systemd-analyze verify`), and the Debian
package: built by scripts/build-deb.sh in a directory of its own (never build/test), lintian,
installed with `dpkg -i` on this machine, `gantry check /etc/gantry/gantry.json` (as root and
as the gantry user), then `dpkg --purge`.

The package test needs root, dpkg-buildpackage, debhelper and lintian (scripts/deps.sh test
installs them); it skips otherwise, and when a gantry package is already installed here (it
would not replace an operator's)."""
import fcntl
import grp
import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile

import gwtest
from gwtest.procs import REPO, gantry_bin


def run(argv, cwd=REPO, env=None, timeout=600, check=True):
    full_env = dict(os.environ)
    full_env.update(env or {})
    p = subprocess.run(argv, cwd=cwd, env=full_env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError("%s exited %d\nstdout:\n%s\nstderr:\n%s"
                             % (" ".join(argv), p.returncode, p.stdout[-4000:], p.stderr[-4000:]))
    return p


def readme_commands():
    """The usages in the README's command reference (its first code block)."""
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        text = f.read()
    body = text.split("## Running gantry", 1)[1]
    block = re.search(r"```\n(.*?)```", body, re.S).group(1)
    return [re.split(r"\s{2,}", line.strip())[0] for line in block.splitlines()
            if line.strip() and not line.startswith(" ")]


def test_man_page_is_the_readme_command_reference():
    out = run(["python3", "scripts/gen-man.py"]).stdout
    assert out.startswith(".TH GANTRY 8 "), out[:80]
    commands = readme_commands()
    assert "gantry convert FILE" in commands and "gantry check FILE" in commands, commands
    for usage in commands:
        assert usage.replace("-", "\\-") in out, usage
    assert "SIGUSR1" in out and "SIGHUP" in out  # the signals table
    if shutil.which("man"):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "gantry.8")
            with open(path, "w") as f:
                f.write(out)
            r = run(["man", "--warnings", "-l", path], env={"MANWIDTH": "80"})
            assert "gantry convert FILE" in r.stdout
            assert r.stderr.strip() == "", r.stderr


def test_systemd_unit_verifies():
    if not shutil.which("systemd-analyze"):
        gwtest.skip("systemd-analyze is not installed")
    with tempfile.TemporaryDirectory() as d:
        man8 = os.path.join(d, "man", "man8")
        os.makedirs(man8)
        with open(os.path.join(man8, "gantry.8"), "w") as f:
            f.write(run(["python3", "scripts/gen-man.py"]).stdout)
        with open(os.path.join(REPO, "deploy/systemd/gantry.service")) as f:
            unit = f.read()
        for needed in ("Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "ProtectSystem=strict",
                       "NoNewPrivileges=yes", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
                       "WatchdogSec="):
            assert needed in unit, needed
        unit = unit.replace("/usr/sbin/gantry", gantry_bin())
        unit = unit.replace("/etc/gantry/", os.path.join(REPO, "deploy") + "/")
        path = os.path.join(d, "gantry.service")
        with open(path, "w") as f:
            f.write(unit)
        r = run(["systemd-analyze", "verify", path], env={"MANPATH": os.path.join(d, "man")},
                check=False)
        assert r.returncode == 0 and r.stdout.strip() == "" and r.stderr.strip() == "", (
            r.returncode, r.stdout, r.stderr)


def test_logrotate_config_signals_usr1():
    with open(os.path.join(REPO, "deploy/logrotate/gantry")) as f:
        text = f.read()
    assert "/var/log/gantry/*.log" in text
    assert "--signal=SIGUSR1" in text and "gantry.service" in text
    r = gwtest.run_gantry(["check", os.path.join(REPO, "deploy/gantry.json")])
    assert r.returncode == 0, r.stderr


@gwtest.timeout(60)
def test_logrotate_rotates_and_gantry_reopens_on_sigusr1():
    """The packaged logrotate file, pointed at a temp dir and at this gantry's pid instead of
    the systemd unit, run by the real logrotate: the old lines stay in access.log.1, new ones
    go to the new access.log."""
    if not shutil.which("logrotate"):
        gwtest.skip("logrotate is not installed")
    if os.geteuid() != 0:
        gwtest.skip("logrotate refuses a state and config not owned by root here")
    with open(os.path.join(REPO, "deploy/logrotate/gantry")) as f:
        conf = f.read()
    post = re.search(r"postrotate\n(.*?)\n\s*endscript", conf, re.S)
    assert "--signal=SIGUSR1" in post.group(1)
    with tempfile.TemporaryDirectory() as d, gwtest.Origin() as o:
        os.chmod(d, 0o755)
        access = os.path.join(d, "access.log")
        cfg = gwtest.simple_config(o, log={"access": access, "error": os.path.join(d, "error.log")})
        with gwtest.Gantry(cfg) as g:
            conf_here = conf.replace("/var/log/gantry/*.log", os.path.join(d, "*.log"))
            conf_here = conf_here.replace("    su gantry gantry\n", "")
            conf_here = conf_here.replace("create 0640 gantry gantry", "create 0640 root root")
            conf_here = conf_here.replace(post.group(1), "        kill -USR1 %d" % g.pid)
            path = os.path.join(d, "logrotate.conf")
            with open(path, "w") as f:
                f.write(conf_here)
            assert gwtest.request(g.port, "GET", "/before-rotation").status in (200, 404)
            gwtest.wait_until(lambda: "/before-rotation" in open(access).read(), 5)
            run(["logrotate", "-f", "-s", os.path.join(d, "state"), path])
            assert "/before-rotation" in open(access + ".1").read()
            errlog = os.path.join(d, "error.log")  # the error log is rotated and reopened too
            gwtest.wait_until(lambda: os.path.exists(errlog) and re.search(
                r"SIGUSR1: access log .* reopened", open(errlog).read()), 5,
                message="the reopen line in the new error.log")
            assert gwtest.request(g.port, "GET", "/after-rotation").status in (200, 404)
            gwtest.wait_until(lambda: "/after-rotation" in open(access).read(), 5,
                              message="the request in the new access.log")
            assert "/after-rotation" not in open(access + ".1").read()


def installed(root):
    files = []
    for d, _, names in os.walk(root):
        files += [os.path.relpath(os.path.join(d, n), root) for n in names]
    return sorted(files)


def make(target, destdir, mandir, *extra):
    return run(["make", "--no-print-directory", target, "DESTDIR=" + destdir,
                "RELEASE_DIR=" + os.path.dirname(gantry_bin()), "MAN_DIR=" + mandir] + list(extra))


def test_make_install_and_uninstall_honour_prefix_and_destdir():
    with tempfile.TemporaryDirectory() as d:
        dest = os.path.join(d, "root")
        mandir = os.path.join(d, "man")
        make("install-files", dest, mandir, "PREFIX=/opt/gw")
        files = installed(dest)
        assert files == sorted([
            "opt/gw/sbin/gantry", "opt/gw/share/man/man8/gantry.8",
            "opt/gw/lib/systemd/system/gantry.service", "opt/gw/lib/sysusers.d/gantry.conf",
            "opt/gw/etc/logrotate.d/gantry", "opt/gw/etc/gantry/gantry.json",
            "opt/gw/share/doc/gantry/README.md", "opt/gw/share/doc/gantry/config.md",
            "opt/gw/share/doc/gantry/examples/gantry.json",
            "opt/gw/share/doc/gantry/examples/gantry.yaml"]), files
        binary = os.path.join(dest, "opt/gw/sbin/gantry")
        assert os.stat(binary).st_mode & 0o777 == 0o755
        assert "gantry check FILE" in run([binary, "--help"]).stdout
        with open(os.path.join(dest, "opt/gw/lib/systemd/system/gantry.service")) as f:
            unit = f.read()
        assert "ExecStart=/opt/gw/sbin/gantry -c /opt/gw/etc/gantry/gantry.json" in unit, unit
        assert "/usr/sbin" not in unit
        r = gwtest.run_gantry(["check", os.path.join(dest, "opt/gw/etc/gantry/gantry.json")])
        assert r.returncode == 0, r.stderr

        # A second install keeps an edited config; uninstall keeps it; PURGE=1 removes it.
        config = os.path.join(dest, "opt/gw/etc/gantry/gantry.json")
        with open(config, "a") as f:
            f.write("\n")
        edited = open(config).read()
        out = make("install-files", dest, mandir, "PREFIX=/opt/gw").stdout
        assert "keeping the existing" in out
        assert open(config).read() == edited
        make("uninstall", dest, mandir, "PREFIX=/opt/gw")
        assert installed(dest) == ["opt/gw/etc/gantry/gantry.json"], installed(dest)
        make("uninstall", dest, mandir, "PREFIX=/opt/gw", "PURGE=1")
        assert installed(dest) == [], installed(dest)

        # PREFIX=/usr puts the configuration in /etc.
        make("install-files", dest, mandir, "PREFIX=/usr")
        assert os.path.exists(os.path.join(dest, "etc/gantry/gantry.json"))
        assert os.path.exists(os.path.join(dest, "usr/sbin/gantry"))


def dpkg_status(pkg):
    r = run(["dpkg-query", "-W", "-f=${Status}", pkg], check=False)
    return r.stdout if r.returncode == 0 else ""


@gwtest.timeout(900)
def test_debian_package_builds_installs_and_purges():
    if os.geteuid() != 0:
        gwtest.skip("dpkg -i needs root")
    for tool in ("dpkg-buildpackage", "dh", "lintian"):
        if not shutil.which(tool):
            gwtest.skip("%s is not installed (scripts/deps.sh test installs it)" % tool)
    if "installed" in dpkg_status("gantry"):
        gwtest.skip("a gantry package is already installed on this machine")
    with open("/tmp/gantry-deb-test.lock", "w") as lock, tempfile.TemporaryDirectory(
            prefix="gantry-deb-") as out:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # The package's own build tree, away from build/test (scripts/build-deb.sh copies the
        # tree to out/src and builds there); lintian must report no error and no warning.
        # Niced: the package's release build must not starve the timing-sensitive tests that
        # CTest runs beside this one.
        r = run(["nice", "-n", "19", "scripts/build-deb.sh", out], timeout=900)
        assert "lintian: no errors or warnings" in r.stdout, r.stdout + r.stderr
        debs = [f for f in os.listdir(out) if f.startswith("gantry_") and f.endswith(".deb")]
        assert len(debs) == 1, debs  # (beside it: gantry-dbgsym, the debug symbols)
        deb = os.path.join(out, debs[0])
        listing = run(["dpkg-deb", "-c", deb]).stdout
        for path in ("./usr/sbin/gantry", "./etc/gantry/gantry.json",
                     "./lib/systemd/system/gantry.service", "./etc/logrotate.d/gantry",
                     "./usr/share/man/man8/gantry.8.gz", "./usr/lib/sysusers.d/gantry.conf"):
            assert path in listing, path
        try:
            run(["dpkg", "-i", deb], timeout=300)
            assert "install ok installed" in dpkg_status("gantry")
            r = run(["/usr/sbin/gantry", "check", "/etc/gantry/gantry.json"])
            assert "/etc/gantry/gantry.json: ok" in r.stdout, r.stdout
            user = pwd.getpwnam("gantry")
            assert user.pw_shell == "/usr/sbin/nologin"
            st = os.stat("/etc/gantry")
            assert stat.S_IMODE(st.st_mode) == 0o750 and st.st_uid == 0
            assert grp.getgrgid(st.st_gid).gr_name == "gantry"
            # The unit's user can read its config (and the check the unit runs passes as it).
            r = run(["runuser", "-u", "gantry", "--", "/usr/sbin/gantry", "check",
                     "/etc/gantry/gantry.json"])
            assert "ok" in r.stdout
            assert os.stat("/var/log/gantry").st_uid == user.pw_uid
            assert "convert FILE" in run(["man", "-P", "cat", "gantry"],
                                         env={"MANWIDTH": "100"}).stdout
            if shutil.which("systemd-analyze"):
                r = run(["systemd-analyze", "verify", "/lib/systemd/system/gantry.service"],
                        check=False)
                assert r.returncode == 0 and r.stderr.strip() == "", r.stderr
            # Enabled (not started) at install.
            assert os.path.exists(
                "/etc/systemd/system/multi-user.target.wants/gantry.service")
        finally:
            run(["dpkg", "--purge", "gantry"], timeout=300, check=False)
        assert dpkg_status("gantry") in ("", "unknown ok not-installed")
        for gone in ("/usr/sbin/gantry", "/etc/gantry", "/lib/systemd/system/gantry.service",
                     "/etc/logrotate.d/gantry", "/var/log/gantry",
                     "/etc/systemd/system/multi-user.target.wants/gantry.service"):
            assert not os.path.exists(gone), gone
        assert run(["dpkg-statoverride", "--list", "/etc/gantry"], check=False).returncode != 0


if __name__ == "__main__":
    gwtest.main(globals())
