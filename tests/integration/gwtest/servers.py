"""Test servers, started and stopped by the harness:

  Origin()                 origin.py (the configurable origin) as a subprocess on a free port
  ExampleService("users")  example_users from the build tree on a free port
  AuthService()            authsvc.py (introspection and JWKS) as a subprocess on a free port
  OtlpReceiver()           otlp_receiver.py (an OTLP/HTTP JSON trace collector that checks what
                           it receives) as a subprocess on a free port
  shared_origin()          one Origin for the tests of a script that do not count its requests
  RawServer, RecordingServer, HangingListener: in-process raw-socket upstreams that misbehave
                           on purpose
"""

import json
import os
import select
import socket
import sys
import threading

from .client import request
from .procs import PKG, Backend, HarnessError, _mkdtemp, example_bin
from .runner import skip

# ---- subprocess servers ---------------------------------------------------------------------


class Origin(Backend):
    """origin.py (see its docstring for the endpoints) on a free port."""

    name = "origin"

    def __init__(self, extra_args=(), ready_timeout=10):
        argv = [sys.executable, os.path.join(PKG, "origin.py"), "--port", "0"]
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


class AuthService(Backend):
    """authsvc.py (introspection and JWKS, see its docstring) as a subprocess on a free port;
    its files live in its temp dir."""

    name = "authsvc"

    def __init__(self, tokens=None, jwks=None, ready_timeout=10):
        self.state_dir = _mkdtemp("authsvc-state")
        if tokens is not None:
            self.set_tokens(tokens)
        if jwks is not None:
            self.set_jwks(jwks)
        argv = [sys.executable, os.path.join(PKG, "authsvc.py"), "--dir", self.state_dir]
        super().__init__(argv, ready_timeout)

    def _write(self, name, obj):
        path = os.path.join(self.state_dir, name)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(obj, f)
        os.replace(tmp, path)

    def set_tokens(self, table):
        """{token: introspection answer}; unknown tokens are inactive."""
        self._write("tokens.json", table)

    def set_jwks(self, doc):
        self._write("jwks.json", doc)

    def set_mode(self, delay_ms=0, status=0, close=False, script=()):
        """See otlp_receiver.py's /__mode; script: the answers of the next POSTs, in order."""
        request(self.port, "POST", "/__mode",
                body=json.dumps({"delay_ms": delay_ms, "status": status, "close": close,
                                 "script": list(script)}))

    def stats(self):
        return request(self.port, "GET", "/__stats").json()

    def reset_stats(self):
        request(self.port, "POST", "/__reset", body=b"")


class OtlpReceiver(Backend):
    """otlp_receiver.py (see its docstring) on a free port: an OTLP/HTTP trace collector that
    checks every export against the OTLP JSON encoding."""

    name = "otlp"

    def __init__(self, ready_timeout=10, port=0):
        """port: 0 for a free one, or the port of a receiver that was stopped (a restart)."""
        argv = [sys.executable, os.path.join(PKG, "otlp_receiver.py"), "--port", str(port)]
        super().__init__(argv, ready_timeout)

    def endpoint(self):
        return "http://127.0.0.1:%d/v1/traces" % self.port

    def received(self):
        """{"spans": [...], "errors": [...], "posts": N, "connections": N, "headers": [[name,
        value], ...], "log": [{"t", "status", "spans"} per POST]}: each span as OTLP JSON with its attributes as a dict and its resource's
        under "resource"; connections: how many TCP connections the exports came on."""
        return request(self.port, "GET", "/__spans").json()

    def spans(self):
        """The spans so far; fails the test when any export broke the OTLP encoding."""
        got = self.received()
        assert not got["errors"], got["errors"][:10]
        return got["spans"]

    def set_mode(self, delay_ms=0, status=0, close=False, script=()):
        """See otlp_receiver.py's /__mode; script: the answers of the next POSTs, in order."""
        request(self.port, "POST", "/__mode",
                body=json.dumps({"delay_ms": delay_ms, "status": status, "close": close,
                                 "script": list(script)}))

    def reset(self):
        request(self.port, "POST", "/__reset", body=b"")


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
