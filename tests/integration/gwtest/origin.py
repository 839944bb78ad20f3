#!/usr/bin/env python3
"""A configurable HTTP/1.1 origin server for gantry's integration tests (stdlib only).

Run it as a program:  python3 gwtest/origin.py --port N   (0 picks a free port; prints
                      READY <port>); gwtest.Origin() starts it so on a free port
or import it:         from gwtest.origin import OriginServer
                      with OriginServer() as o: ... o.port ...

One thread per connection, blocking sockets, 256 KiB sends and receives, no per-byte Python
work: it streams a GiB over loopback in seconds. Keep-alive by default for HTTP/1.1,
`Connection: close` honoured, HTTP/1.0 closes unless it asked for keep-alive. Every
response carries `X-Origin-Port: <port>`. Request bodies (Content-Length or chunked) are
always consumed as a stream into a length + SHA-256 (only the first 64 KiB are kept).

Endpoints (any method unless noted; the path is matched without its query):
  /echo...            200 JSON: method, path (raw target), version, headers ([name, value]
                      pairs in received order), framing, body_len, body_sha256, body (first
                      64 KiB as latin-1, null when longer), trailers, raw_head
  /status/{code}      that status (200..599) with {"status": code}; 204 and 304 without body
  /bytes/{n}          n pattern bytes with Content-Length (byte i is i % 256)
  /chunked/{n}        n pattern bytes, chunked in 64 KiB chunks (close-delimited for HTTP/1.0)
  /eof/{n}            n pattern bytes, no Content-Length or Transfer-Encoding, then close
  /upload             {"received": N, "sha256": hex} (the body is streamed, never held)
  /reflect            the request body (up to 64 KiB) as the response body, Content-Type
                      from ?ct= (default application/json); ?framing=length (default),
                      chunked (chunks of ?chunk=N bytes, default 7) or eof (then close)
  /sleep/{ms}         waits, then 200 {"slept_ms": ms}
  /slow-body/{ms}     Content-Length 10: 5 bytes, a pause of ms, 5 more bytes
  /health             200 {"status": "ok"}, or the status set by /__set_health/{code}
  /garbage            writes "NOT HTTP AT ALL\\r\\n\\r\\n" and closes
  /reset              closes with RST (SO_LINGER 0) without answering
  /die-mid-body       Content-Length 1000, 100 bytes, then close (?rst=1: RST)
  /silent             reads the request, never answers, holds the socket until the peer closes
  /__stats            {"connections", "active", "requests", "by_path"}; see Stats
  /__reset_stats      zeroes the counters
  /__requests         the last 100 request heads: [{method, target, headers}]
  /__set_health/{c}   the status /health answers from now on
Generic query options on normal answers: h=Name:Value (repeatable) adds a response header;
close=1 answers with Connection: close and closes; etag=V answers a request whose
If-None-Match names "V" with 304 (the h= headers and ETag: "V", no body) instead. HEAD gets every header but no body.
"""

import argparse
import collections
import hashlib
import http
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse

CHUNK = 256 * 1024
CHUNKED_PIECE = 64 * 1024
PATTERN_BLOCK = bytes(range(256)) * (CHUNK // 256)
MAX_HEAD = 64 * 1024
MAX_LINE = 8192
KEEP_BODY = 64 * 1024
LAST_REQUESTS = 100


def pattern(n):
    """The n bytes /bytes/{n} sends: byte i is i % 256."""
    reps, rem = divmod(n, CHUNK)
    return PATTERN_BLOCK * reps + PATTERN_BLOCK[:rem]


def pattern_sha256(n):
    """Hex SHA-256 of pattern(n), computed in blocks."""
    h = hashlib.sha256()
    reps, rem = divmod(n, CHUNK)
    for _ in range(reps):
        h.update(PATTERN_BLOCK)
    h.update(PATTERN_BLOCK[:rem])
    return h.hexdigest()


class BadRequest(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class PeerClosed(Exception):
    pass


class Reader:
    """Buffered reads from a blocking socket: lines and heads from a small buffer, bodies
    streamed with recv_into a fixed 256 KiB buffer."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.scratch = bytearray(CHUNK)
        self.view = memoryview(self.scratch)

    def fill(self):
        data = self.sock.recv(CHUNK)
        if not data:
            raise PeerClosed()
        self.buf += data

    def read_head(self):
        """Bytes through the empty line that ends a message head (leading CRLFs skipped);
        None when the peer closed cleanly before sending anything."""
        start = 0
        while True:
            while self.buf.startswith(b"\r\n"):
                del self.buf[:2]
                start = 0
            end = self.buf.find(b"\r\n\r\n", max(0, start - 3))
            if end >= 0:
                head = bytes(self.buf[: end + 4])
                del self.buf[: end + 4]
                return head
            if len(self.buf) > MAX_HEAD:
                raise BadRequest(431, "request head too large")
            start = len(self.buf)
            try:
                self.fill()
            except PeerClosed:
                if not self.buf:
                    return None
                raise

    def read_line(self):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[: i + 1])
                del self.buf[: i + 1]
                return line
            if len(self.buf) > MAX_LINE:
                raise BadRequest(400, "line too long")
            self.fill()

    def read_exact(self, n):
        while len(self.buf) < n:
            self.fill()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def stream(self, n, sink):
        """Passes exactly n bytes to sink (memoryview slices) without holding them."""
        if self.buf:
            k = min(n, len(self.buf))
            sink(memoryview(self.buf)[:k])
            del self.buf[:k]
            n -= k
        while n > 0:
            k = self.sock.recv_into(self.view, min(n, CHUNK))
            if k == 0:
                raise PeerClosed()
            sink(self.view[:k])
            n -= k


class Body:
    """A request body consumed as a stream: length, SHA-256 and the first KEEP_BODY bytes."""

    def __init__(self):
        self.len = 0
        self.hash = hashlib.sha256()
        self.kept = bytearray()

    def __call__(self, chunk):
        self.len += len(chunk)
        self.hash.update(chunk)
        if len(self.kept) <= KEEP_BODY:
            self.kept += chunk[: KEEP_BODY + 1 - len(self.kept)]


class Request:
    def __init__(self, head):
        self.raw_head = head
        lines = head[:-4].split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            raise BadRequest(400, "malformed request line")
        self.method = parts[0].decode("latin-1")
        self.target = parts[1].decode("latin-1")
        self.version = parts[2].decode("latin-1")
        self.headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep or not name or name != name.strip():
                raise BadRequest(400, "malformed header line")
            self.headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
        target = self.target
        if "://" in target and not target.startswith("/"):
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        path, _, query = target.partition("?")
        self.path = path
        self.query = urllib.parse.parse_qs(query, keep_blank_values=True)
        self.trailers = []
        self.body = Body()
        self.framing = "none"

    def header(self, name):
        name = name.lower()
        for n, v in self.headers:
            if n.lower() == name:
                return v
        return None

    def tokens(self, name):
        name = name.lower()
        out = []
        for n, v in self.headers:
            if n.lower() == name:
                out += [t.strip().lower() for t in v.split(",") if t.strip()]
        return out

    def wants_keep_alive(self):
        conn = self.tokens("connection")
        if "close" in conn or self.query.get("close", ["0"])[0] not in ("", "0"):
            return False
        return self.version != "HTTP/1.0" or "keep-alive" in conn

    def is_head(self):
        return self.method == "HEAD"


class OriginServer:
    """The origin, runnable in-process (threads) or as a program (main)."""

    def __init__(self, port=0, host="127.0.0.1", ssl_context=None):
        """ssl_context: an ssl.SSLContext (server side) to speak HTTPS: each accepted
        connection does its handshake in its own thread; stats() then counts tls_handshakes,
        tls_resumed and tls_failures."""
        self.ssl_context = ssl_context
        self.host = host
        self.requested_port = port
        self.port = None
        self._lock = threading.Lock()
        self._socks = set()
        self._stopping = False
        self._listener = None
        self._thread = None
        self.health_status = 200
        self._active = 0
        self.reset_stats()

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self):
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, self.requested_port))
        s.listen(1024)
        self._listener = s
        self.port = s.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, name="origin-accept", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stopping = True
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- stats ----------------------------------------------------------------------------

    def reset_stats(self):
        """connections: TCP connections accepted, except those whose first request is a
        /__ control request (the harness's own stats queries); active: those still open;
        requests: requests other than /__ ones; by_path: requests per path."""
        with self._lock:
            self._connections = 0
            self._requests = 0
            self._by_path = collections.Counter()
            self._last = collections.deque(maxlen=LAST_REQUESTS)
            self._tls = collections.Counter()

    def stats(self):
        with self._lock:
            st = {
                "connections": self._connections,
                "active": self._active,
                "requests": self._requests,
                "by_path": dict(self._by_path),
            }
            if self.ssl_context is not None:
                st["tls_handshakes"] = self._tls["handshakes"]
                st["tls_resumed"] = self._tls["resumed"]
                st["tls_failures"] = self._tls["failures"]
            return st

    # ---- connections ----------------------------------------------------------------------

    def _accept_loop(self):
        while not self._stopping:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                if self._stopping:
                    return
                time.sleep(0.01)  # EMFILE and friends: back off instead of spinning
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._connections += 1
                self._active += 1
                self._socks.add(sock)
            t = threading.Thread(target=self._serve, args=(sock,), name="origin-conn", daemon=True)
            t.start()

    def _serve(self, sock):
        if self.ssl_context is not None:
            raw = sock
            try:
                raw.settimeout(10)
                sock = self.ssl_context.wrap_socket(raw, server_side=True)
                sock.settimeout(None)
            except (OSError, ValueError):
                with self._lock:
                    self._tls["failures"] += 1
                    self._socks.discard(raw)
                    self._active -= 1
                raw.close()
                return
            with self._lock:
                self._tls["handshakes"] += 1
                if sock.session_reused:
                    self._tls["resumed"] += 1
                self._socks.discard(raw)
                self._socks.add(sock)
        reader = Reader(sock)
        counted = True
        first = True
        try:
            while not self._stopping:
                try:
                    head = reader.read_head()
                    if head is None:
                        break
                    req = Request(head)
                except BadRequest as e:
                    self._respond_json(sock, None, e.status, {"error": str(e)}, keep=False)
                    break
                control = req.path.startswith("/__")
                with self._lock:
                    if control and first:
                        self._connections -= 1
                        self._active -= 1
                        counted = False
                    if not control:
                        self._requests += 1
                        self._by_path[req.path] += 1
                        self._last.append(
                            {"method": req.method, "target": req.target, "headers": req.headers}
                        )
                first = False
                try:
                    keep = self._dispatch(sock, reader, req)
                except BadRequest as e:
                    self._respond_json(sock, None, e.status, {"error": str(e)}, keep=False)
                    break
                if not keep:
                    break
        except (PeerClosed, OSError):
            pass
        finally:
            with self._lock:
                self._socks.discard(sock)
                if counted:
                    self._active -= 1
            try:
                sock.close()
            except OSError:
                pass

    def _read_body(self, sock, reader, req):
        te = req.tokens("transfer-encoding")
        cl = req.header("content-length")
        if te:
            if te[-1] != "chunked":
                raise BadRequest(400, "unsupported transfer coding")
            req.framing = "chunked"
        elif cl is not None:
            values = {v.strip() for v in cl.split(",")}
            if len(values) != 1 or not next(iter(values)).isdigit():
                raise BadRequest(400, "invalid Content-Length")
            n = int(next(iter(values)))
            req.framing = "length"
            if n == 0:
                return
        else:
            return
        if "100-continue" in req.tokens("expect") and req.version == "HTTP/1.1":
            sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if req.framing == "length":
            reader.stream(n, req.body)
            return
        while True:
            line = reader.read_line()
            if not line.endswith(b"\r\n"):
                raise BadRequest(400, "chunk size line without CRLF")
            size_text = line[:-2].split(b";", 1)[0].strip(b" \t")
            try:
                size = int(size_text, 16)
            except ValueError:
                raise BadRequest(400, "invalid chunk size") from None
            if size_text.startswith((b"-", b"+", b"0x", b"0X")):
                raise BadRequest(400, "invalid chunk size")
            if size == 0:
                break
            reader.stream(size, req.body)
            if reader.read_exact(2) != b"\r\n":
                raise BadRequest(400, "missing CRLF after chunk data")
        while True:
            line = reader.read_line()
            if line == b"\r\n":
                return
            name, _, value = line.rstrip(b"\r\n").partition(b":")
            req.trailers.append([name.decode("latin-1"), value.strip().decode("latin-1")])

    # ---- responses ------------------------------------------------------------------------

    def _head_bytes(self, req, status, headers, keep):
        reason = ""
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            pass
        lines = ["HTTP/1.1 %d %s" % (status, reason)]
        lines += ["%s: %s" % (n, v) for n, v in headers]
        lines.append("X-Origin-Port: %d" % self.port)
        if req is not None:
            for h in req.query.get("h", []):
                name, _, value = h.partition(":")
                lines.append("%s: %s" % (name.strip(), value.strip()))
        if not keep:
            lines.append("Connection: close")
        elif req is not None and req.version == "HTTP/1.0":
            lines.append("Connection: keep-alive")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _respond(self, sock, req, status, headers, body, keep):
        """Sends a response with Content-Length (none for 1xx/204/304); returns keep."""
        headers = list(headers)
        bodyless = status < 200 or status in (204, 304)
        if not bodyless:
            headers.append(("Content-Length", str(len(body))))
        if bodyless or (req is not None and req.is_head()):
            body = b""
        sock.sendall(self._head_bytes(req, status, headers, keep) + body)
        return keep

    def _respond_json(self, sock, req, status, obj, keep=True):
        body = json.dumps(obj).encode()
        if req is not None:
            keep = keep and req.wants_keep_alive()
        return self._respond(sock, req, status, [("Content-Type", "application/json")], body, keep)

    def _send_pattern(self, sock, n):
        reps, rem = divmod(n, CHUNK)
        for _ in range(reps):
            sock.sendall(PATTERN_BLOCK)
        if rem:
            sock.sendall(PATTERN_BLOCK[:rem])

    def _send_chunked(self, sock, n):
        piece = b"%x\r\n" % CHUNKED_PIECE + PATTERN_BLOCK[:CHUNKED_PIECE] + b"\r\n"
        group = piece * (CHUNK // CHUNKED_PIECE)
        full, rem = divmod(n, CHUNKED_PIECE)
        groups, pieces = divmod(full, CHUNK // CHUNKED_PIECE)
        for _ in range(groups):
            sock.sendall(group)
        tail = piece * pieces
        if rem:
            tail += b"%x\r\n" % rem + PATTERN_BLOCK[:rem] + b"\r\n"
        sock.sendall(tail + b"0\r\n\r\n")

    @staticmethod
    def _close_hard(sock):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()

    @staticmethod
    def _number(text, what):
        if not text.isdigit():
            raise BadRequest(400, "invalid %s" % what)
        return int(text)

    def _dispatch(self, sock, reader, req):
        """Answers one request; returns whether the connection may carry another."""
        path = req.path
        self._read_body(sock, reader, req)
        keep = req.wants_keep_alive()
        head_only = req.is_head()

        etag = req.query.get("etag")
        inm = req.header("if-none-match")
        if etag and inm and ('"%s"' % etag[0]) in inm:
            return self._respond(sock, req, 304, [("ETag", '"%s"' % etag[0])], b"", keep)

        if path.startswith("/echo"):
            body = req.body
            return self._respond_json(
                sock,
                req,
                200,
                {
                    "method": req.method,
                    "path": req.target,
                    "version": req.version,
                    "headers": [list(h) for h in req.headers],
                    "framing": req.framing,
                    "body_len": body.len,
                    "body_sha256": body.hash.hexdigest(),
                    "body": body.kept.decode("latin-1") if body.len <= KEEP_BODY else None,
                    "trailers": req.trailers,
                    "raw_head": req.raw_head.decode("latin-1"),
                },
            )
        if path.startswith("/status/"):
            code = self._number(path[8:], "status")
            if not 200 <= code <= 599:
                raise BadRequest(400, "status must be 200..599")
            return self._respond_json(sock, req, code, {"status": code})
        if path.startswith("/bytes/"):
            n = self._number(path[7:], "length")
            headers = [("Content-Type", "application/octet-stream"), ("Content-Length", str(n))]
            sock.sendall(self._head_bytes(req, 200, headers, keep))
            if not head_only:
                self._send_pattern(sock, n)
            return keep
        if path.startswith("/chunked/"):
            n = self._number(path[9:], "length")
            if req.version == "HTTP/1.0":
                keep = False
            headers = [("Content-Type", "application/octet-stream")]
            if keep:
                headers.append(("Transfer-Encoding", "chunked"))
            sock.sendall(self._head_bytes(req, 200, headers, keep))
            if not head_only:
                if keep:
                    self._send_chunked(sock, n)
                else:
                    self._send_pattern(sock, n)
            return keep
        if path.startswith("/eof/"):
            n = self._number(path[5:], "length")
            headers = [("Content-Type", "application/octet-stream")]
            sock.sendall(self._head_bytes(req, 200, headers, False))
            if not head_only:
                self._send_pattern(sock, n)
            sock.shutdown(socket.SHUT_WR)
            return False
        if path == "/reflect":
            body = req.body.kept
            q = req.query
            ct = q.get("ct", ["application/json"])[0]
            framing = q.get("framing", ["length"])[0]
            if framing == "length":
                return self._respond(sock, req, 200, [("Content-Type", ct)], body, keep)
            if framing == "chunked":
                size = max(1, self._number(q.get("chunk", ["7"])[0], "chunk"))
                headers = [("Content-Type", ct), ("Transfer-Encoding", "chunked")]
                out = self._head_bytes(req, 200, headers, keep)
                for i in range(0, len(body), size):
                    piece = body[i:i + size]
                    out += b"%x\r\n" % len(piece) + piece + b"\r\n"
                sock.sendall(out + b"0\r\n\r\n")
                return keep
            sock.sendall(self._head_bytes(req, 200, [("Content-Type", ct)], False) + body)
            sock.shutdown(socket.SHUT_WR)
            return False
        if path == "/upload":
            return self._respond_json(
                sock, req, 200, {"received": req.body.len, "sha256": req.body.hash.hexdigest()}
            )
        if path.startswith("/sleep/"):
            ms = self._number(path[7:], "milliseconds")
            time.sleep(ms / 1000.0)
            return self._respond_json(sock, req, 200, {"slept_ms": ms})
        if path.startswith("/slow-body/"):
            ms = self._number(path[11:], "milliseconds")
            headers = [("Content-Type", "text/plain"), ("Content-Length", "10")]
            first = b"" if head_only else b"hello"
            sock.sendall(self._head_bytes(req, 200, headers, keep) + first)
            if not head_only:
                time.sleep(ms / 1000.0)
                sock.sendall(b"world")
            return keep
        if path == "/health":
            code = self.health_status
            return self._respond_json(sock, req, code, {"status": "ok" if code < 400 else "down"})
        if path == "/garbage":
            sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            sock.shutdown(socket.SHUT_WR)
            return False
        if path == "/reset":
            self._close_hard(sock)
            return False
        if path == "/die-mid-body":
            headers = [("Content-Type", "application/octet-stream"), ("Content-Length", "1000")]
            sock.sendall(self._head_bytes(req, 200, headers, keep) + PATTERN_BLOCK[:100])
            if req.query.get("rst", ["0"])[0] not in ("", "0"):
                self._close_hard(sock)
            else:
                sock.shutdown(socket.SHUT_WR)
            return False
        if path == "/silent":
            while not self._stopping:
                if not sock.recv(CHUNK):
                    break
            return False
        if path == "/__stats":
            return self._respond_json(sock, req, 200, self.stats())
        if path == "/__reset_stats":
            self.reset_stats()
            return self._respond_json(sock, req, 200, {"reset": True})
        if path == "/__requests":
            with self._lock:
                last = list(self._last)
            return self._respond_json(sock, req, 200, last)
        if path.startswith("/__set_health/"):
            code = self._number(path[14:], "status")
            if not 200 <= code <= 599:
                raise BadRequest(400, "status must be 200..599")
            self.health_status = code
            return self._respond_json(sock, req, 200, {"health": code})
        return self._respond_json(sock, req, 404, {"error": "not found", "path": req.target})


def main(argv=None):
    ap = argparse.ArgumentParser(description="gantry integration-test origin server")
    ap.add_argument("--port", type=int, default=int(os.environ.get("PORT", "0")))
    ap.add_argument("--host", default="127.0.0.1")
    args = ap.parse_args(argv)

    server = OriginServer(args.port, args.host).start()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    sys.stdout.write("READY %d\n" % server.port)
    sys.stdout.flush()
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
