"""gwtest: the harness of gantry's integration tests (Python 3 stdlib only).

A test file is a script of functions named test_*; its last lines are

    if __name__ == "__main__":
        gwtest.main(globals())

Pieces (see README.md next to this file):
  Origin()                 tests/integration/origin.py as a subprocess on a free port
  ExampleService("users")  build/<...>/example_users on a free port
  Gantry(config_dict)      the real gantry binary ($GANTRY_BIN) on a config written to a temp dir
  HttpConn(port)           one client connection: send bytes, read parsed responses
  request(port, ...)       one request on a fresh connection
  raw_exchange(port, b)    bytes in, every byte out until close or timeout
  read_until_eof, parse_head, from_origin, assert_json_error, shared_origin: small helpers
  RawServer, RecordingServer, HangingListener: raw-socket upstreams that misbehave on purpose
  main(globals())          runs the tests: "ok NAME" / "FAIL NAME" + traceback, then
                           "N passed, M failed"; exit status 1 when any failed

Every process started here is stopped when the test that started it ends (or, when started
outside a test, when the script exits), whatever happened.
"""

import atexit
import ctypes
import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import origin as _origin  # noqa: E402  (needs HERE on sys.path)

CHUNK = 256 * 1024
DEFAULT_TIMEOUT = 120
pattern = _origin.pattern
pattern_sha256 = _origin.pattern_sha256


class HarnessError(AssertionError):
    """A process of the harness misbehaved (did not start, did not stop, crashed)."""


class ConnectionClosed(ConnectionError):
    """The peer closed the connection before a complete response."""


class TestTimeout(Exception):
    pass


class Skip(Exception):
    """Raised (via skip()) by a test that cannot run here; reported as "skip NAME: reason"
    and counted neither as passed nor as failed."""


def skip(reason):
    raise Skip(reason)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# ---- locations --------------------------------------------------------------------------------


def build_dir():
    """The build tree: $GW_BUILD_DIR, else the directory of $GANTRY_BIN, else build/test."""
    if os.environ.get("GW_BUILD_DIR"):
        return os.environ["GW_BUILD_DIR"]
    if os.environ.get("GANTRY_BIN"):
        return os.path.dirname(os.path.abspath(os.environ["GANTRY_BIN"]))
    return os.path.join(REPO, "build", "test")


def gantry_bin():
    return os.path.abspath(os.environ.get("GANTRY_BIN") or os.path.join(REPO, "build", "test", "gantry"))


def example_bin(name):
    return os.path.join(build_dir(), "example_" + name)


# ---- process tracking ---------------------------------------------------------------------------

_lock = threading.Lock()
_everything = []  # every live process object, stopped at exit
_scope = None  # the running test's objects, stopped when it ends
_ports_given = set()
_tmpdirs = []  # removed at exit unless GWTEST_KEEP=1


def _mkdtemp(what):
    path = tempfile.mkdtemp(prefix="gwtest-%s-" % what)
    with _lock:
        _tmpdirs.append(path)
    return path


def _track(obj):
    with _lock:
        _everything.append(obj)
        if _scope is not None:
            _scope.append(obj)


def _untrack(obj):
    with _lock:
        if obj in _everything:
            _everything.remove(obj)


@atexit.register
def _stop_everything():
    with _lock:
        objs = list(reversed(_everything))
    for obj in objs:
        obj._kill_quietly()
    if os.environ.get("GWTEST_KEEP") != "1":
        for path in _tmpdirs:
            shutil.rmtree(path, ignore_errors=True)


def _on_sigterm(signum, frame):
    raise SystemExit(128 + signum)  # runs atexit, which stops every child


if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGTERM, _on_sigterm)

try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:
    _libc = None


def _die_with_parent():
    # PR_SET_PDEATHSIG (1): the child is killed when the thread that forked it dies, so a
    # runner killed with SIGKILL (CTest's timeout) leaves no process behind.
    if _libc is not None:
        _libc.prctl(1, signal.SIGKILL)


def _spawn(argv, env=None, stdout=None, stderr=None, cwd=None):
    in_main = threading.current_thread() is threading.main_thread()
    return subprocess.Popen(
        argv,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        preexec_fn=_die_with_parent if in_main else None,
    )


def _sigterm_then_kill(proc, timeout):
    """SIGTERM to a running proc, then SIGKILL if it has not exited after timeout seconds.
    Returns True when it had to be killed."""
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return True
    return False


def free_port():
    """A TCP port free on 127.0.0.1 right now (never the same one twice in this process)."""
    for _ in range(100):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        with _lock:
            if port not in _ports_given:
                _ports_given.add(port)
                return port
    raise HarnessError("no free port found")


def _tail(path, lines=60):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return ""
    text = data.decode("utf-8", "replace").splitlines()
    return "\n".join(text[-lines:])


def _read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


# ---- backends that print "READY <port>" -------------------------------------------------------


class Backend:
    """A subprocess that prints "READY <port>" on stdout once it listens (origin.py and the
    example services). stderr, and stdout after READY, go to a log file."""

    name = "backend"

    def __init__(self, argv, ready_timeout=10, env=None):
        self.tmpdir = _mkdtemp(self.name)
        self.log_path = os.path.join(self.tmpdir, "log")
        self._log = open(self.log_path, "ab")
        self.proc = _spawn(argv, env=env, stdout=subprocess.PIPE, stderr=self._log)
        self.pid = self.proc.pid
        self.port = None
        _track(self)
        try:
            self.port = self._wait_ready(ready_timeout)
        except BaseException:
            self._kill_quietly()
            raise
        self._drainer = threading.Thread(target=self._drain, name="gwtest-drain", daemon=True)
        self._drainer.start()

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise HarnessError(
                    "%s: no READY line within %.1f s\n%s" % (self.name, timeout, self.logs())
                )
            readable, _, _ = select.select([fd], [], [], left)
            if not readable:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                self.proc.wait(5)
                raise HarnessError(
                    "%s exited with status %s before READY\n%s"
                    % (self.name, self.proc.returncode, self.logs())
                )
            buf += chunk
        line, _, rest = buf.partition(b"\n")
        m = re.match(rb"READY (\d+)\s*$", line)
        if not m:
            raise HarnessError("%s: unexpected first line %r" % (self.name, line))
        if rest:
            self._log.write(rest)
        return int(m.group(1))

    def _drain(self):
        try:
            while True:
                data = self.proc.stdout.read1(65536)
                if not data:
                    return
                self._log.write(data)
                self._log.flush()
        except (OSError, ValueError):
            return

    def url(self, path=""):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def target(self, **extra):
        """A gantry target entry for this backend: {"url": "http://127.0.0.1:PORT", ...}."""
        return dict({"url": self.url()}, **extra)

    def logs(self):
        return _read_text(self.log_path)

    def alive(self):
        return self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=5):
        """SIGTERM, then SIGKILL after timeout seconds. Returns the exit status."""
        _sigterm_then_kill(self.proc, timeout)
        self._close()
        return self.proc.returncode

    def _close(self):
        _untrack(self)
        drainer = getattr(self, "_drainer", None)
        if drainer is not None:
            drainer.join(2)  # the pipe ends with the process
        for f in (self.proc.stdout, self._log):
            try:
                f.close()
            except (OSError, ValueError):
                pass

    def _kill_quietly(self):
        try:
            self.stop(timeout=5)
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Origin(Backend):
    """origin.py (see its docstring for the endpoints) on a free port."""

    name = "origin"

    def __init__(self, extra_args=(), ready_timeout=10):
        argv = [sys.executable, os.path.join(HERE, "origin.py"), "--port", "0"]
        super().__init__(argv + list(extra_args), ready_timeout)

    def stats(self):
        """{"connections", "active", "requests", "by_path"}; the query itself is not counted."""
        return request(self.port, "GET", "/__stats").json()

    def reset_stats(self):
        request(self.port, "GET", "/__reset_stats")

    def last_requests(self):
        """The last 100 request heads: [{"method", "target", "headers"}]."""
        return request(self.port, "GET", "/__requests").json()

    def set_health(self, status):
        """The status /health answers from now on."""
        request(self.port, "GET", "/__set_health/%d" % status)


class ExampleService(Backend):
    """examples/services/<name>.c as built (example_<name> in the build tree)."""

    def __init__(self, name, extra_args=(), ready_timeout=10):
        self.name = name
        binary = example_bin(name)
        if not os.access(binary, os.X_OK):
            raise HarnessError("%s is not built" % binary)
        super().__init__([binary, "--port", "0", "--quiet"] + list(extra_args), ready_timeout)


# ---- gantry -----------------------------------------------------------------------------------

_SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def simple_config(*backends, prefix="/", name="svc", **top):
    """A one-service config on a free port: backends are Backend objects, ports or URLs.
    Keyword arguments are added at the top level (or replace the defaults)."""
    targets = []
    for b in backends:
        if isinstance(b, Backend):
            targets.append(b.target())
        elif isinstance(b, int):
            targets.append({"url": "http://127.0.0.1:%d" % b})
        elif isinstance(b, dict):
            targets.append(b)
        else:
            targets.append({"url": str(b)})
    cfg = {
        "listen": "127.0.0.1:%d" % free_port(),
        "workers": 1,
        "services": [{"name": name, "prefix": prefix, "targets": targets}],
        "log": {"access": "stdout"},
    }
    cfg.update(top)
    return cfg


def _admin_port(admin):
    """The port of an "admin" config object's listen address (None when "off" or unknown)."""
    listen = admin.get("listen") if isinstance(admin, dict) else None
    if listen is None:
        return 9000
    try:
        return _listen_port(listen)[1]
    except ValueError:
        return None


def _listen_port(listen):
    host, _, port = str(listen).rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::", "*"):
        host = "127.0.0.1"
    return host, int(port)


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
        self.admin_port = None
        if isinstance(config, dict):
            config = dict(config)
            config.setdefault("listen", "127.0.0.1:%d" % free_port())
            self.host, self.port = _listen_port(config["listen"])
            if "admin" not in config:
                self.admin_port = free_port()
                config["admin"] = {"listen": "127.0.0.1:%d" % self.admin_port}
            else:
                self.admin_port = _admin_port(config["admin"])
        else:
            self.host, self.port = "127.0.0.1", None
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
        if isinstance(config, dict) and "admin" not in config and self.admin_port:
            config = dict(config, admin={"listen": "127.0.0.1:%d" % self.admin_port})
        tmp = self.config_path + ".tmp"
        with open(tmp, "w") as f:
            if isinstance(config, str):
                f.write(config)
            else:
                json.dump(config, f, indent=2)
                f.write("\n")
        os.replace(tmp, self.config_path)

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
                    return
                last = "status %d" % r.status
            except (OSError, ConnectionError) as e:
                last = repr(e)
            if time.monotonic() > deadline:
                self._fail("gantry not ready within %.1f s (last: %s)" % (timeout, last))
            time.sleep(0.02)

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


# ---- HTTP client ------------------------------------------------------------------------------


class Response:
    """status, headers ([(name, value)] in order), body (bytes; b"" with hash_body).
    Unpacks as (status, headers, body)."""

    def __init__(self, version, status, reason, headers, raw_head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers
        self.raw_head = raw_head
        self.body = b""
        self.body_len = 0
        self.body_sha256 = None
        self.trailers = []
        self.framing = "none"  # none, length, chunked, eof

    def __iter__(self):
        return iter((self.status, self.headers, self.body))

    def __len__(self):
        return 3

    def __getitem__(self, i):
        return (self.status, self.headers, self.body)[i]

    def header(self, name, default=None):
        """The first value of a header (case-insensitive), or default."""
        name = name.lower()
        for n, v in self.headers:
            if n.lower() == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for n, v in self.headers if n.lower() == name]

    def json(self):
        return json.loads(self.body)

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<Response %d %s, %d header(s), %d body byte(s)>" % (
            self.status,
            self.reason,
            len(self.headers),
            self.body_len,
        )


def _header_list(headers):
    if headers is None:
        return []
    if isinstance(headers, dict):
        return list(headers.items())
    return [tuple(h) for h in headers]


def build_request(method, target, headers=None, body=None, host=None, version="HTTP/1.1"):
    """Request head (+ body when body is bytes/str) as bytes. A Host header is added unless
    given (HTTP/1.1), and Content-Length unless Content-Length or Transfer-Encoding is given."""
    hs = _header_list(headers)
    names = {n.lower() for n, _ in hs}
    if "host" not in names and version == "HTTP/1.1":
        hs.insert(0, ("Host", host or "127.0.0.1"))
    if isinstance(body, str):
        body = body.encode()
    length = body if isinstance(body, int) else (len(body) if body is not None else None)
    if length is not None and "content-length" not in names and "transfer-encoding" not in names:
        hs.append(("Content-Length", str(length)))
    head = "%s %s %s\r\n" % (method, target, version)
    head += "".join("%s: %s\r\n" % (n, v) for n, v in hs) + "\r\n"
    data = head.encode("latin-1")
    if isinstance(body, (bytes, bytearray)):
        data += body
    return data


def chunked(data, size=64 * 1024, trailers=None):
    """data encoded with the chunked transfer coding in chunks of size bytes."""
    if isinstance(data, str):
        data = data.encode()
    out = bytearray()
    for i in range(0, len(data), size):
        piece = data[i : i + size]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    out += b"0\r\n"
    for n, v in trailers or []:
        out += ("%s: %s\r\n" % (n, v)).encode("latin-1")
    out += b"\r\n"
    return bytes(out)


class HttpConn:
    """One client connection. send() writes bytes as given; read_response() parses one
    response (Content-Length, chunked or close-delimited bodies)."""

    def __init__(self, port, host="127.0.0.1", timeout=10):
        self.port = port
        self.host = host
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False
        self._scratch = bytearray(CHUNK)
        self._view = memoryview(self._scratch)

    # -- sending --

    def send(self, data):
        self.sock.sendall(data)

    def send_request(self, method, target, headers=None, body=None, version="HTTP/1.1"):
        """Sends a request; body may be bytes, str, or an int n for n pattern bytes
        (streamed, with Content-Length n unless headers say otherwise)."""
        self.send(build_request(method, target, headers, body, "%s:%d" % (self.host, self.port),
                                version))
        if isinstance(body, int):
            self.send_pattern(body)

    def send_pattern(self, n):
        """n pattern bytes (origin.pattern) in 256 KiB sends."""
        reps, rem = divmod(n, CHUNK)
        for _ in range(reps):
            self.sock.sendall(_origin.PATTERN_BLOCK)
        if rem:
            self.sock.sendall(_origin.PATTERN_BLOCK[:rem])

    def send_pattern_chunked(self, n, size=64 * 1024):
        """n pattern bytes with the chunked coding (size must divide 256 KiB), last chunk
        included."""
        full, rem = divmod(n, size)
        piece = b"%x\r\n" % size + _origin.PATTERN_BLOCK[:size] + b"\r\n"
        per = CHUNK // size
        groups, pieces = divmod(full, per)
        group = piece * per
        for _ in range(groups):
            self.sock.sendall(group)
        tail = piece * pieces
        if rem:
            tail += b"%x\r\n" % rem + _origin.PATTERN_BLOCK[:rem] + b"\r\n"
        self.sock.sendall(tail + b"0\r\n\r\n")

    # -- receiving --

    def _fill(self):
        try:
            data = self.sock.recv(CHUNK)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _read_line(self):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[: i + 1])
                del self.buf[: i + 1]
                if not line.endswith(b"\r\n"):
                    raise ValueError("bare LF in response: %r" % line)
                return line[:-2]
            if not self._fill():
                raise ConnectionClosed("connection closed in the middle of a line")

    def _stream(self, n, sink):
        if self.buf:
            k = min(n, len(self.buf))
            sink(bytes(self.buf[:k]))
            del self.buf[:k]
            n -= k
        while n > 0:
            try:
                k = self.sock.recv_into(self._view, min(n, CHUNK))
            except ConnectionResetError:
                k = 0
            if k == 0:
                self.eof = True
                raise ConnectionClosed("connection closed with %d body byte(s) missing" % n)
            sink(self._view[:k])
            n -= k

    def _stream_to_eof(self, sink):
        if self.buf:
            sink(bytes(self.buf))
            self.buf.clear()
        while True:
            try:
                k = self.sock.recv_into(self._view, CHUNK)
            except ConnectionResetError:
                k = 0
            if k == 0:
                self.eof = True
                return
            sink(self._view[:k])

    def _read_head(self):
        start = 0
        while True:
            end = self.buf.find(b"\r\n\r\n", max(0, start - 3))
            if end >= 0:
                head = bytes(self.buf[: end + 4])
                del self.buf[: end + 4]
                return head
            start = len(self.buf)
            if not self._fill():
                if self.buf:
                    raise ConnectionClosed("connection closed inside a response head: %r"
                                           % bytes(self.buf[:200]))
                raise ConnectionClosed("connection closed without a response")

    def read_response(self, head=False, hash_body=False, skip_interim=False):
        """Reads one response. head: the request was HEAD (no body). hash_body: the body
        is not kept, only body_len and body_sha256. skip_interim: 1xx responses other than
        101 are skipped. Raises ConnectionClosed when the peer closes before the end."""
        while True:
            resp = self._read_one(head, hash_body)
            if not (skip_interim and 100 <= resp.status < 200 and resp.status != 101):
                return resp

    def _read_one(self, head, hash_body):
        raw = self._read_head()
        lines = raw[:-4].split(b"\r\n")
        for line in lines:
            if b"\n" in line or b"\r" in line:
                raise ValueError("bare CR or LF in response head: %r" % raw)
        m = re.match(rb"(HTTP/\d\.\d) (\d{3})(?: (.*))?$", lines[0])
        if not m:
            raise ValueError("malformed status line: %r" % lines[0])
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                raise ValueError("header line without colon: %r" % line)
            headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
        resp = Response(
            m.group(1).decode(),
            int(m.group(2)),
            (m.group(3) or b"").decode("latin-1"),
            headers,
            raw,
        )

        digest = hashlib.sha256()
        kept = bytearray()

        def sink(chunk):
            resp.body_len += len(chunk)
            digest.update(chunk)
            if not hash_body:
                kept.extend(chunk)

        te = [t.strip().lower() for v in resp.header_all("transfer-encoding") for t in v.split(",")]
        cl = resp.header_all("content-length")
        if head or resp.status < 200 or resp.status in (204, 304):
            pass
        elif te:
            if te[-1] == "chunked":
                resp.framing = "chunked"
                self._read_chunked(resp, sink)
            else:
                resp.framing = "eof"
                self._stream_to_eof(sink)
        elif cl:
            values = {v.strip() for c in cl for v in c.split(",")}
            if len(values) != 1 or not next(iter(values)).isdigit():
                raise ValueError("invalid Content-Length in response: %r" % cl)
            resp.framing = "length"
            self._stream(int(next(iter(values))), sink)
        else:
            resp.framing = "eof"
            self._stream_to_eof(sink)
        resp.body = b"" if hash_body else bytes(kept)
        resp.body_sha256 = digest.hexdigest()
        return resp

    def _read_chunked(self, resp, sink):
        while True:
            line = self._read_line()
            size_text = line.split(b";", 1)[0].strip(b" \t")
            if not re.fullmatch(rb"[0-9a-fA-F]+", size_text):
                raise ValueError("invalid chunk size line: %r" % line)
            size = int(size_text, 16)
            if size == 0:
                break
            self._stream(size, sink)
            while len(self.buf) < 2:
                if not self._fill():
                    raise ConnectionClosed("connection closed after chunk data")
            if bytes(self.buf[:2]) != b"\r\n":
                raise ValueError("missing CRLF after chunk data")
            del self.buf[:2]
        while True:
            line = self._read_line()
            if not line:
                return
            name, _, value = line.partition(b":")
            resp.trailers.append((name.decode("latin-1"), value.strip().decode("latin-1")))

    def read_raw(self, timeout=1.0):
        """Whatever arrives within timeout s (or until close); buffered bytes first."""
        data = bytes(self.buf)
        self.buf.clear()
        deadline = time.monotonic() + timeout
        old = self.sock.gettimeout()
        try:
            while not self.eof:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.sock.settimeout(left)
                try:
                    chunk = self.sock.recv(CHUNK)
                except (socket.timeout, TimeoutError):
                    break
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    self.eof = True
                    break
                data += chunk
        finally:
            self.sock.settimeout(old)
        return data

    def wait_closed(self, timeout=5.0):
        """True when the peer closes (FIN or RST) within timeout s; bytes received meanwhile
        are dropped."""
        self.read_raw(timeout)
        return self.eof

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def request(port, method, path, headers=None, body=None, host="127.0.0.1", timeout=10,
            hash_body=False, version="HTTP/1.1"):
    """One request on a new connection (Connection: close unless headers set Connection);
    returns the Response (1xx skipped). body: bytes, str, or int n for n pattern bytes."""
    hs = _header_list(headers)
    if "connection" not in {n.lower() for n, _ in hs}:
        hs.append(("Connection", "close"))
    with HttpConn(port, host, timeout) as c:
        c.send_request(method, path, hs, body, version)
        return c.read_response(head=(method == "HEAD"), hash_body=hash_body, skip_interim=True)


def raw_exchange(port, data, timeout=5.0, host="127.0.0.1"):
    """Sends data, returns every byte received until the peer closes or timeout s pass."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_until_eof(s, timeout)[0]


def read_until_eof(sock, timeout):
    """Reads sock until the peer closes it (FIN or RST) or timeout s pass. Returns (bytes,
    seconds until EOF, or None when the peer did not close within timeout)."""
    t0 = time.monotonic()
    out = bytearray()
    while True:
        left = timeout - (time.monotonic() - t0)
        if left <= 0:
            return bytes(out), None
        sock.settimeout(left)
        try:
            chunk = sock.recv(CHUNK)
        except (socket.timeout, TimeoutError):
            return bytes(out), None
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return bytes(out), time.monotonic() - t0
        out += chunk


def parse_head(data):
    """(status, {lower-case name: value}, rest) of raw response bytes; asserts that a complete
    head is there."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    assert sep, "no complete response head in %r" % data[:300]
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, rest


def from_origin(r, origin):
    """None when r is a 200 answered by origin (its X-Origin-Port), else what is wrong."""
    if r.status != 200:
        return "status %d (%r)" % (r.status, r.body[:200])
    if r.header("X-Origin-Port") != str(origin.port):
        return "answered by origin port %s, expected %d" % (r.header("X-Origin-Port"), origin.port)
    return None


def assert_json_error(r, status):
    """Asserts that r is gantry's own JSON error with this status and a request ID equal to its
    X-Request-ID header; returns the decoded body."""
    assert r.status == status, r
    assert r.header("Content-Type") == "application/json", r.headers
    body = r.json()
    assert body["status"] == status, body
    assert isinstance(body["error"], str) and body["error"], body
    assert body["request_id"] and body["request_id"] == r.header("X-Request-ID"), (body, r.headers)
    return body


_SHARED_ORIGIN = None


def shared_origin():
    """One Origin for the tests of a script that do not count its requests (a new one when the
    last one has stopped)."""
    global _SHARED_ORIGIN
    if _SHARED_ORIGIN is None or not _SHARED_ORIGIN.alive():
        _SHARED_ORIGIN = Origin()
    return _SHARED_ORIGIN


# ---- raw-socket upstreams -----------------------------------------------------------------------


class RawServer:
    """A loopback TCP listener on a free port that calls self.serve(sock, index) in a thread
    per accepted connection (index 0, 1, ...), after self.on_accept(sock, index) under
    self.lock in the accepting thread. A subclass sets its own state before calling
    RawServer.__init__, which starts accepting. rcvbuf/maxseg are set on the listener (the
    accepted sockets inherit them). Leaving the with block closes the listener and shuts down
    and closes every accepted socket."""

    def __init__(self, backlog=16, rcvbuf=None, maxseg=None):
        self.lsock = socket.socket()
        if rcvbuf:
            self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if maxseg:
            self.lsock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, maxseg)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(backlog)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.socks = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def accepted(self):
        """How many connections were accepted so far."""
        with self.lock:
            return len(self.socks)

    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def target(self):
        return {"url": self.url()}

    def on_accept(self, sock, index):
        pass

    def serve(self, sock, index):
        raise NotImplementedError

    def _accept(self):
        while True:
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            with self.lock:
                index = len(self.socks)
                self.socks.append(s)
                self.on_accept(s, index)
            threading.Thread(target=self.serve, args=(s, index), daemon=True).start()

    def close(self):
        self.lsock.close()
        with self.lock:
            socks = list(self.socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class RecordingServer(RawServer):
    """Accepts connections and records every byte each one sends until it closes; never
    answers. .snapshot(): [{"data": bytes, "closed": bool}] per connection."""

    def __init__(self):
        self.conns = []
        super().__init__()

    def on_accept(self, sock, index):
        self.conns.append({"data": bytearray(), "closed": False})

    def serve(self, s, index):
        rec = self.conns[index]
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                with self.lock:
                    rec["data"] += chunk
        except OSError:
            pass
        with self.lock:
            rec["closed"] = True

    def snapshot(self):
        with self.lock:
            return [{"data": bytes(c["data"]), "closed": c["closed"]} for c in self.conns]


class HangingListener:
    """A loopback port whose connects hang: a backlog-0 listener that never accepts, whose
    accept queue is filled first, so that Linux drops further SYNs (the client retries them
    after ~1 s, 3 s, ...). Accepting from .lsock lets the retried ones in. Skips the test
    where connects cannot be made to hang."""

    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(0)
        self.port = self.lsock.getsockname()[1]
        self.fillers = []
        for _ in range(2):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", self.port))
            self.fillers.append(s)
            select.select([], [s], [], 0.3)
        # Precondition: a further connect does not complete.
        probe = socket.socket()
        probe.setblocking(False)
        probe.connect_ex(("127.0.0.1", self.port))
        _, w, _ = select.select([], [probe], [], 0.3)
        probe.close()
        if w:
            self.close()
            skip("cannot make connects hang here (accept queue overflow not dropping SYNs)")

    def target(self):
        return {"url": "http://127.0.0.1:%d" % self.port}

    def own_ports(self):
        """The local ports of the filler connections (some stay in SYN_SENT)."""
        return {s.getsockname()[1] for s in self.fillers}

    def close(self):
        for s in self.fillers:
            s.close()
        self.lsock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def wait_until(predicate, timeout=5.0, interval=0.02, message="condition"):
    """Polls predicate() until it returns a true value (returned) or fails after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("%s not met within %.1f s" % (message, timeout))
        time.sleep(interval)


# ---- runner -----------------------------------------------------------------------------------


def timeout(seconds):
    """Decorator: the test fails after seconds (default 120)."""

    def deco(fn):
        fn._gw_timeout = seconds
        return fn

    return deco


def _on_alarm(signum, frame):
    raise TestTimeout("test timed out")


def _failure_logs(objs):
    out = []
    for obj in objs:
        if isinstance(obj, Gantry):
            out.append(obj.logs())
        elif isinstance(obj, Backend) and _tail(obj.log_path, 40):
            out.append("--- %s log (port %s)\n%s" % (obj.name, obj.port, _tail(obj.log_path, 40)))
    return "\n".join(out)


def _run_one(fn):
    global _scope
    limit = getattr(fn, "_gw_timeout", DEFAULT_TIMEOUT)
    scope = []
    with _lock:
        _scope = scope
    error = None
    old = signal.signal(signal.SIGALRM, _on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            fn()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except Skip as e:
        error = Skip(str(e))
    except TestTimeout:
        error = "timed out after %s s\n%s" % (limit, traceback.format_exc())
    except Exception:
        error = traceback.format_exc()
    finally:
        signal.signal(signal.SIGALRM, old)
        with _lock:
            _scope = None
        if isinstance(error, str):
            logs = _failure_logs(scope)  # log files outlive the processes
            if logs:
                error += logs + "\n"
        for obj in reversed(scope):
            obj._kill_quietly()
    return error


def main(namespace, argv=None):
    """Runs the test_* functions of namespace in definition order (argv: names or -k
    SUBSTRING to select). Prints "ok NAME", "skip NAME: reason" or "FAIL NAME" with the
    traceback, then "N passed, M failed", and exits 1 when any failed."""
    argv = sys.argv[1:] if argv is None else list(argv)
    names = [n for n, f in namespace.items() if n.startswith("test_") and callable(f)]
    if argv:
        if argv[0] == "-k" and len(argv) == 2:
            names = [n for n in names if argv[1] in n]
        else:
            unknown = [a for a in argv if a not in names]
            if unknown:
                print("unknown test(s): %s" % ", ".join(unknown))
                sys.exit(2)
            names = [n for n in names if n in argv]
    passed = failed = 0
    for name in names:
        error = _run_one(namespace[name])
        if error is None:
            passed += 1
            print("ok %s" % name, flush=True)
        elif isinstance(error, Skip):
            print("skip %s: %s" % (name, error), flush=True)
        else:
            failed += 1
            print("FAIL %s\n%s" % (name, error.rstrip("\n")), flush=True)
    print("%d passed, %d failed" % (passed, failed), flush=True)
    sys.exit(1 if failed else 0)
