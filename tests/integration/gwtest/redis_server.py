"""A real redis-server for the integration tests, and a minimal RESP client.

    with RedisServer() as rs:              # redis-server on a free loopback port, no persistence
        rs.url()                           # "redis://127.0.0.1:PORT/0"
        rs.client().cmd("KEYS", "*")       # [b"key", ...]
        rs.kill()                          # SIGKILL (the port is kept)
        rs.start()                         # again on the same port, empty

The server is tracked like the harness's other processes: stopped when the test that started
it ends (or when the script exits). Tests that need it call require_redis(), which skips them
when redis-server is not installed.
"""

import os
import shutil
import signal
import socket
import subprocess
import time

from . import procs
from .runner import skip


class RedisError(Exception):
    """An error reply (-ERR ...) from Redis."""


def require_redis():
    if shutil.which("redis-server") is None:
        skip("redis-server is not installed")


class Redis:
    """One blocking RESP2 connection: cmd(*args) sends a command and returns its reply (bytes,
    int, None, a list, or raises RedisError for an error reply)."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = bytearray()

    def cmd(self, *args):
        out = bytearray(b"*%d\r\n" % len(args))
        for a in args:
            if not isinstance(a, bytes):
                a = str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self._reply()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("redis closed the connection")
        self.buf += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[: i + 2]
                return line
            self._fill()

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RedisError(rest.decode("utf-8", "replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data = bytes(self.buf[:n])
            del self.buf[: n + 2]
            return data
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise ValueError("unexpected RESP reply %r" % line)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class RedisServer:
    """redis-server --port P --bind 127.0.0.1 --save '' --appendonly no, on a free port (or
    port), ready when it answers PING."""

    name = "redis"

    def __init__(self, port=None, ready_timeout=10, args=()):
        require_redis()
        self.port = port or procs.free_port()
        self.args = list(args)  # more redis-server options, e.g. ["--rename-command", "KEYS", ""]
        self.tmpdir = procs._mkdtemp("redis")
        self.log_path = os.path.join(self.tmpdir, "redis.log")
        self.proc = None
        self.start(ready_timeout)

    def start(self, ready_timeout=10):
        """Starts the server (again, on the same port) and waits for PING; a no-op when it
        runs."""
        if self.proc is not None and self.proc.poll() is None:
            return
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", self.tmpdir,
                "--daemonize", "no", "--logfile", self.log_path] + self.args
        self.proc = procs._spawn(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pid = self.proc.pid
        procs._track(self)
        deadline = time.monotonic() + ready_timeout
        while not self.ping():
            if self.proc.poll() is not None:
                raise procs.HarnessError("redis-server exited with status %s\n%s"
                                          % (self.proc.returncode, self.logs()))
            if time.monotonic() > deadline:
                raise procs.HarnessError("redis-server not answering PING within %.1f s\n%s"
                                          % (ready_timeout, self.logs()))
            time.sleep(0.02)

    def ping(self):
        try:
            with Redis(self.port, timeout=1) as r:
                return r.cmd("PING") == b"PONG"
        except (OSError, ConnectionError, RedisError, ValueError):
            return False

    def url(self, db=0):
        return "redis://127.0.0.1:%d/%d" % (self.port, db)

    def client(self):
        return Redis(self.port)

    def cmd(self, *args):
        """One command on a new connection."""
        with Redis(self.port) as r:
            return r.cmd(*args)

    def logs(self):
        return procs._read_text(self.log_path)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL, and waits for the process to be gone."""
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        procs._untrack(self)

    def stop(self, timeout=5):
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
