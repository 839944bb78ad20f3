"""Processes of the harness: where things are, temp dirs, free ports, starting processes so
that they die with the runner, stopping them by pid (SIGTERM, then SIGKILL), subprocesses that
announce readiness with a "READY <port>" line (Backend), and wait_until for polling.

Every process object is tracked: it is stopped when the test that started it ends (the runner
stops the objects of its scope) or, when started outside a test, when the script exits.
"""

import atexit
import ctypes
import errno
import fcntl
import os
import random
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

PKG = os.path.dirname(os.path.abspath(__file__))  # tests/integration/gwtest
HERE = os.path.dirname(PKG)  # tests/integration
REPO = os.path.dirname(os.path.dirname(HERE))
if HERE not in sys.path:
    sys.path.insert(0, HERE)


class HarnessError(AssertionError):
    """A process of the harness misbehaved (did not start, did not stop, crashed)."""


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


def _ephemeral_low():
    """The first port of the kernel's ephemeral range (outgoing connections' local ports)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


# One file for the whole machine: every process of the harness (the gwtest scripts of any
# checkout, and tests/unit/free_port.h of the C unit tests) reserves a port by locking the
# byte at offset `port` of it.
PORT_LOCK_FILE = "/tmp/gwtest-ports.lock"
_port_lock_fd = None


def reserve_port(port):
    """Reserves port for this process against every other process of the harness on this
    machine, until this process exits; True when it got it (or held it already), False when
    another process holds it. A POSIX record lock on byte `port` of PORT_LOCK_FILE: the
    kernel drops it when the process ends, however it ends, and a child does not inherit it.
    Without the file (no /tmp) it reserves nothing and says True."""
    global _port_lock_fd
    with _lock:
        if _port_lock_fd is None:
            try:
                _port_lock_fd = os.open(PORT_LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                                        0o666)
            except OSError:
                _port_lock_fd = -1
            else:
                try:
                    os.fchmod(_port_lock_fd, 0o666)  # past the umask, for every user
                except OSError:
                    pass  # made by another user, who chose its mode
        if _port_lock_fd < 0:
            return True
        try:
            # Never closed: closing any descriptor of the file would drop all of them.
            fcntl.lockf(_port_lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, port)
        except OSError as e:
            if e.errno in (errno.EACCES, errno.EAGAIN):
                return False
            raise
        return True


def free_port():
    """A TCP port free on 127.0.0.1 right now and reserved for this process (never the same
    one twice in this process, never one another process of the harness reserved).

    Drawn below the ephemeral range: a port bind(0) hands out is one the kernel may give the
    next outgoing connection of any test running in parallel, and the listener started on it
    then fails with "Address already in use".

    Reserved (reserve_port) because the check that nothing is bound there is only true until
    the test binds it: two scripts running at once (CTest -j, other checkouts' tests) could
    both draw a port in that window, and gantry's listeners (SO_REUSEPORT, for deploys) would
    then share it without an error, the kernel spreading each script's connections over both
    gantries (a `/status/500` answered by the other test's gantry)."""
    low = _ephemeral_low()
    lo, hi = (10000, low - 1) if low > 11000 else (1024, 65535)
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randint(lo, hi)
        with _lock:
            if port in _ports_given:
                continue
        if not reserve_port(port):
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        with _lock:
            if port not in _ports_given:
                _ports_given.add(port)
                return port
    raise HarnessError("no free port found")


def _listening_sockets(port):
    """{inode: local address (hex, as /proc writes it)} of the TCP sockets listening on port,
    any address, IPv4 and IPv6 (Linux /proc/net/tcp{,6}; empty elsewhere)."""
    out = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != "0A":  # 0A: TCP_LISTEN
                continue
            addr, _, hexport = fields[1].rpartition(":")
            if int(hexport, 16) == port:
                out[fields[9]] = addr
    return out


def _socket_inodes(pid):
    """Inodes of the sockets process pid holds open (an empty set when it is gone)."""
    found = set()
    d = "/proc/%d/fd" % pid
    try:
        names = os.listdir(d)
    except OSError:
        return found
    for name in names:
        try:
            target = os.readlink(os.path.join(d, name))
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[8:-1])
    return found


def port_sharers(pid, port):
    """The other processes that listen on port where process pid listens (a group of
    SO_REUSEPORT sockets spreads connections over all of them), or on any address of it when
    pid does not listen there: a list of "pid (command line)" strings ("?" for a socket whose
    holder is not visible); empty when pid is alone, or when /proc cannot tell (not Linux)."""
    listening = _listening_sockets(port)
    mine = _socket_inodes(pid) & set(listening)
    addrs = {listening[i] for i in mine}
    wildcard = any(a.strip("0") == "" for a in addrs)
    foreign = {i for i, a in listening.items()
               if i not in mine and (not mine or wildcard or a in addrs or a.strip("0") == "")}
    holders = []
    if not foreign:
        return holders
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != pid:
            held = _socket_inodes(int(entry)) & foreign
            if held:
                try:
                    with open("/proc/%s/cmdline" % entry, "rb") as f:
                        name = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
                except OSError:
                    name = "?"
                holders.append("%s (%s)" % (entry, name[:120]))
                foreign -= held
    return holders + ["?"] * len(foreign)


def listens_on(pid, port):
    """Whether process pid holds a socket listening on port (True when /proc cannot tell)."""
    if not os.path.exists("/proc/net/tcp") or not os.path.isdir("/proc/%d/fd" % pid):
        return True
    return bool(_socket_inodes(pid) & set(_listening_sockets(port)))


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


def _tcp_queues():
    """{(local_port, remote_port): (tx_queue, rx_queue)} for IPv4 loopback sockets."""
    out = {}
    with open("/proc/net/tcp") as f:
        next(f)
        for row in f:
            cols = row.split()
            lport = int(cols[1].split(":")[1], 16)
            rport = int(cols[2].split(":")[1], 16)
            tx, rx = (int(v, 16) for v in cols[4].split(":"))
            out[(lport, rport)] = (tx, rx)
    return out


def peer_has_read(sock):
    """True once every byte written on sock (an IPv4 loopback TCP socket) is acknowledged and
    the peer's end has nothing left in its receive queue: the peer read it all."""
    mine, theirs = sock.getsockname()[1], sock.getpeername()[1]
    t = _tcp_queues()
    ours, peer = t.get((mine, theirs)), t.get((theirs, mine))
    return ours is not None and peer is not None and ours[0] == 0 and peer[1] == 0


def wait_peer_read(sock, timeout=10, also=None):
    """Polls until the peer read everything written on sock (or also() is true): how a test
    makes each write arrive in a read of its own without sleeping."""
    wait_until(lambda: peer_has_read(sock) or (also is not None and also()), timeout=timeout,
               interval=0.002, message="the peer reading our bytes")
