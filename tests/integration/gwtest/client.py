"""The raw HTTP/1.1 client of the tests: requests written byte for byte (build_request,
chunked, HttpConn.send), responses parsed strictly (Content-Length, chunked with trailers, or
close-delimited; bare LF refused), and small helpers over raw bytes and gantry's JSON errors.
"""

import hashlib
import json
import re
import socket
import time

from . import origin as _origin

CHUNK = 256 * 1024
pattern = _origin.pattern
pattern_sha256 = _origin.pattern_sha256


class ConnectionClosed(ConnectionError):
    """The peer closed the connection before a complete response."""


def sha256(data):
    return hashlib.sha256(data).hexdigest()


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

    def __init__(self, port, host="127.0.0.1", timeout=10, source=None):
        """source: the local address to connect from (e.g. "127.0.0.2": any 127/8 address is
        the loopback's), or None for the kernel's choice."""
        self.port = port
        self.host = host
        self.sock = socket.create_connection(
            (host, port), timeout=timeout, source_address=(source, 0) if source else None)
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
        host = "[%s]" % self.host if ":" in self.host else self.host  # an IPv6 literal
        self.send(build_request(method, target, headers, body, "%s:%d" % (host, self.port),
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
            hash_body=False, version="HTTP/1.1", source=None):
    """One request on a new connection (Connection: close unless headers set Connection);
    returns the Response (1xx skipped). body: bytes, str, or int n for n pattern bytes.
    source: the local address to connect from (see HttpConn)."""
    hs = _header_list(headers)
    if "connection" not in {n.lower() for n, _ in hs}:
        hs.append(("Connection", "close"))
    with HttpConn(port, host, timeout, source) as c:
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
