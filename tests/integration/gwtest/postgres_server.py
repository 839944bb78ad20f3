"""A real PostgreSQL for the integration tests (Debian's postgresql package).

    with PostgresServer() as pg:           # initdb in a temp dir, postgres on a free port
        pg.dsn()                           # "host=127.0.0.1 port=P user=postgres dbname=postgres"
        pg.query("SELECT count(*) FROM t") # rows as lists of strings (psql -At)
        pg.kill()                          # SIGKILL to the postmaster, waits for it to be gone
        pg.start()                         # again on the same port and data directory

The cluster trusts local TCP connections, listens on 127.0.0.1 only and has no Unix socket.
PostgreSQL refuses to run as root: as root the cluster belongs to the "postgres" user (created
by the package) and the server runs as that user. Stopped by pid when the test that started it
ends. Tests that need it call require_postgres(), which skips them when it is not installed.
"""

import glob
import os
import pwd
import signal
import subprocess
import time

from . import procs
from .runner import skip


def _bindir():
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    for d in reversed(dirs):
        if os.path.exists(os.path.join(d, "initdb")) and os.path.exists(os.path.join(d, "postgres")):
            return d
    return None


def _running(pid):
    """The process exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def require_postgres():
    if _bindir() is None:
        skip("postgresql is not installed (scripts/deps.sh test)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            skip("running as root and there is no postgres user to run PostgreSQL as")


class PostgresServer:
    name = "postgres"

    def __init__(self, port=None, ready_timeout=30):
        require_postgres()
        self.bindir = _bindir()
        self.port = port or procs.free_port()
        self.tmpdir = procs._mkdtemp("postgres")
        self.data = os.path.join(self.tmpdir, "data")
        self.log_path = os.path.join(self.tmpdir, "postgres.log")
        self.user = None
        if os.geteuid() == 0:
            self.user = pwd.getpwnam("postgres")
            os.chmod(self.tmpdir, 0o755)
            os.chown(self.tmpdir, self.user.pw_uid, self.user.pw_gid)
        self.proc = None
        out = subprocess.run(
            [os.path.join(self.bindir, "initdb"), "-D", self.data, "-U", "postgres", "-A",
             "trust", "-E", "UTF8", "--no-sync", "--no-instructions"],
            preexec_fn=self._as_user, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=120)
        if out.returncode != 0:
            raise procs.HarnessError("initdb failed:\n%s%s" % (out.stdout, out.stderr))
        self.start(ready_timeout)

    def _as_user(self):
        if self.user is not None:
            os.setgid(self.user.pw_gid)
            os.setgroups([])
            os.setuid(self.user.pw_uid)
        procs._die_with_parent()  # after setuid, which clears the parent-death signal

    def start(self, ready_timeout=30):
        """Starts the server (again, on the same port) and waits until it answers; a no-op when
        it runs."""
        if self.proc is not None and self.proc.poll() is None:
            return
        argv = [os.path.join(self.bindir, "postgres"), "-D", self.data, "-p", str(self.port),
                "-h", "127.0.0.1", "-k", "", "-F", "-c", "fsync=off", "-c",
                "logging_collector=off"]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     preexec_fn=self._as_user)
        log.close()
        self.pid = self.proc.pid
        procs._track(self)
        def up():
            if self.proc.poll() is not None:
                raise procs.HarnessError("postgres exited with status %s\n%s"
                                          % (self.proc.returncode, self.logs()))
            return self.ready()

        try:
            procs.wait_until(up, ready_timeout, interval=0.05, message="postgres ready")
        except AssertionError:
            raise procs.HarnessError("postgres not ready within %.1f s\n%s"
                                      % (ready_timeout, self.logs())) from None

    def _psql(self, sql, timeout=10):
        return subprocess.run(
            [os.path.join(self.bindir, "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
             "postgres", "-d", "postgres", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c",
             sql],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
            env=dict(os.environ, PGCONNECT_TIMEOUT="5"))

    def ready(self):
        try:
            return self._psql("SELECT 1", timeout=5).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def query(self, sql):
        """Rows of sql as lists of strings; raises HarnessError when psql fails."""
        out = self._psql(sql)
        if out.returncode != 0:
            raise procs.HarnessError("psql failed: %s" % out.stderr)
        return [line.split("\t") for line in out.stdout.splitlines()]

    def dsn(self):
        return "host=127.0.0.1 port=%d user=postgres dbname=postgres" % self.port

    def logs(self):
        return procs._read_text(self.log_path)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL to the postmaster; waits until it and its backends are gone (the next start
        needs them gone: they still hold the shared memory)."""
        children = self._children()
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        procs._untrack(self)
        procs.wait_until(lambda: not any(_running(p) for p in children), timeout=20,
                         message="the postgres backends to exit")

    def _children(self):
        pids = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == self.pid:
                pids.append(int(d))
        return pids

    def stop(self, timeout=10):
        if self.proc is not None:
            procs._sigterm_then_kill(self.proc, timeout)
        procs._untrack(self)

    def _kill_quietly(self):
        try:
            self.stop()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
