"""The gantry binary under test: Gantry starts it on a config in a temp dir, polls /ready,
reads its logs, signals it and checks that it exits cleanly (status 0, no sanitizer report);
run_gantry runs a subcommand to completion."""

import os
import re
import subprocess
import time

from .client import request
from .config import with_ports, write_config_file
from .procs import (
    HarnessError,
    _mkdtemp,
    _read_text,
    _sigterm_then_kill,
    _spawn,
    _tail,
    _track,
    _untrack,
    gantry_bin,
    listens_on,
    port_sharers,
)

_SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


class Gantry:
    """The real gantry binary running on a config.

    config: a dict (written as JSON; a missing "listen" gets 127.0.0.1 and a free port, a
    missing "admin" gets {"listen": "127.0.0.1:<free port>"} so that gantries never share the
    default admin port; .admin_port is that port, or the port of a given "admin.listen") or a
    str (written as is; pass port= to poll /ready). Starts `$GANTRY_BIN -c FILE [args]` with
    stdout and stderr in files of a temp dir and, with wait_ready, polls GET /ready every
    20 ms until it answers 200.
    """

    def __init__(
        self,
        config,
        extra_env=None,
        args=(),
        binary=None,
        wait_ready=True,
        ready_timeout=10,
        port=None,
    ):
        self.binary = binary or gantry_bin()
        if not os.access(self.binary, os.X_OK):
            raise HarnessError("gantry binary %s is not built (set GANTRY_BIN)" % self.binary)
        self.tmpdir = _mkdtemp("gantry")
        self.config_path = os.path.join(self.tmpdir, "gantry.json")
        self.stdout_path = os.path.join(self.tmpdir, "stdout.log")
        self.stderr_path = os.path.join(self.tmpdir, "stderr.log")
        config, self.host, self.port, self.admin_port = with_ports(config)
        if port is not None:
            self.port = port
        self.config = config
        self.write_config(config)

        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        env.update(extra_env or {})
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        argv = [self.binary, "-c", self.config_path] + list(args)
        self.proc = _spawn(argv, env=env, stdout=self._out, stderr=self._err, cwd=self.tmpdir)
        self.pid = self.proc.pid
        self.returncode = None
        _track(self)
        if wait_ready:
            try:
                self.wait_ready(ready_timeout)
            except BaseException:
                self._kill_quietly()
                raise

    # -- configuration --

    def write_config(self, config):
        """Replaces the config file atomically (then signal(SIGHUP) to reload). A dict
        without "admin" keeps the admin listener this gantry was given."""
        write_config_file(self.config_path, config, self.admin_port)

    # -- state --

    def wait_ready(self, timeout=10):
        """Polls GET /ready every 20 ms until 200; fails with the logs if gantry exits."""
        if self.port is None:
            raise HarnessError("no listen port known (config given as text)")
        deadline = time.monotonic() + timeout
        last = None
        while True:
            if self.proc.poll() is not None:
                self._fail(
                    "gantry exited with status %d before it was ready" % self.proc.returncode
                )
            try:
                r = request(self.port, "GET", "/ready", host=self.host, timeout=1)
                if r.status == 200:
                    self._check_port_alone()
                    return
                last = "status %d" % r.status
            except (OSError, ConnectionError) as e:
                last = repr(e)
            if time.monotonic() > deadline:
                self._fail("gantry not ready within %.1f s (last: %s)" % (timeout, last))
            time.sleep(0.02)

    def _check_port_alone(self):
        """Fails when another process listens on this gantry's port too: SO_REUSEPORT lets a
        second gantry bind it without an error (for deploys), and the kernel then spreads the
        test's connections over both, so some answers would come from a stranger (even the
        /ready 200, before this gantry listens). free_port's reservation keeps the harness's
        own processes apart; this names whoever else it is."""
        sharers = port_sharers(self.pid, self.port)
        if sharers:
            alone = "" if listens_on(self.pid, self.port) else (
                " (this gantry, pid %d, does not listen yet: the 200 to /ready was theirs)"
                % self.pid)
            self._fail("another process listens on %s:%d too, and would answer some of this "
                       "test's requests%s: %s" % (self.host, self.port, alone, ", ".join(sharers)))

    def alive(self):
        return self.proc.poll() is None

    def rss_kib(self):
        """Resident set size in KiB (VmRSS of /proc/PID/status)."""
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise HarnessError("no VmRSS for pid %d" % self.pid)

    def stdout(self):
        self._out.flush()
        return _read_text(self.stdout_path)

    def stderr(self):
        return _read_text(self.stderr_path)

    def logs(self):
        """stdout and stderr, labelled, for failure messages."""
        return "--- gantry stdout (%s)\n%s\n--- gantry stderr (%s)\n%s" % (
            self.stdout_path,
            _tail(self.stdout_path, 200),
            self.stderr_path,
            _tail(self.stderr_path, 200),
        )

    def wait_log(self, pattern, timeout=5, stream="stdout"):
        """Waits until the regex matches the stdout (or "stderr") log; returns the match."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            text = self.stdout() if stream == "stdout" else self.stderr()
            m = rx.search(text)
            if m:
                return m
            if time.monotonic() > deadline:
                self._fail("no %r in gantry %s within %.1f s" % (pattern, stream, timeout))
            time.sleep(0.02)

    def url(self, path=""):
        return "http://%s:%d%s" % (self.host, self.port, path)

    def request(self, method, path, **kw):
        return request(self.port, method, path, host=self.host, **kw)

    def admin_request(self, method, path, **kw):
        """One request to the admin API (127.0.0.1:admin_port)."""
        if not self.admin_port:
            raise HarnessError("this gantry has no admin listener")
        return request(self.admin_port, method, path, **kw)

    def metric_total(self, name):
        """The sum of metric name's samples over every label set, from the admin /metrics
        (0 when it has none)."""
        total = 0
        for line in self.admin_request("GET", "/metrics").body.decode().splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                total += float(line.rsplit(" ", 1)[1])
        return total

    # -- lifecycle --

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=10):
        """Waits for gantry to exit by itself; returns its status (no checks)."""
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._fail("gantry still running after %.1f s" % timeout)
        return self.returncode

    def stop(self, timeout=10, check=True):
        """SIGTERM and wait up to timeout s; SIGKILL and fail if it is still running. With
        check, also fails when the exit status is not 0 or a sanitizer reported anything."""
        if _sigterm_then_kill(self.proc, timeout):
            self._finish()
            self._fail("gantry did not exit within %.1f s of SIGTERM (killed)" % timeout)
        self.returncode = self.proc.returncode
        self._finish()
        if check:
            self.check_exit()
        return self.returncode

    def check_exit(self):
        """Fails unless gantry exited with 0 and its stderr holds no sanitizer report."""
        err = self.stderr()
        marks = [m for m in _SANITIZER_MARKS if m in err]
        if marks:
            self._fail("sanitizer report in gantry's stderr (%s)" % ", ".join(marks))
        if self.proc.returncode != 0:
            self._fail("gantry exited with status %s" % self.proc.returncode)

    def _finish(self):
        _untrack(self)
        for f in (self._out, self._err):
            try:
                f.close()
            except (OSError, ValueError):
                pass

    def _fail(self, message):
        raise HarnessError("%s\n%s" % (message, self.logs()))

    def _kill_quietly(self):
        _sigterm_then_kill(self.proc, 10)
        self._finish()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        # A failing test keeps its own exception; a passing one also checks the exit.
        if exc_type is None:
            self.stop()
        else:
            self._kill_quietly()


def run_gantry(args, timeout=30, env=None, binary=None):
    """Runs gantry to completion (e.g. ["check", path]); returns a CompletedProcess with
    text stdout and stderr."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [binary or gantry_bin()] + list(args),
        env=full_env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
