"""HTTP/2 by hand, for the tests of what a well-behaved client never sends (test_http2.py,
test_http2_attacks.py): a gantry config with h2c on its plain port, raw frames written and read
on a socket of their own (RFC 9113 4.1), the request field lists, and gantry's refusal counters.
Header blocks are encoded by the caller's hpack.Encoder, so that its dynamic table is the one
of the connection.

    s = raw_conn(g.port)
    send(s, headers(hpack.Encoder(), 1, get("/echo/x")))
    frames = read_frames(s, until=lambda fs: goaway_code(fs) is not None)
"""

import socket
import struct

from .config import simple_config

# Frame types and error codes (RFC 9113 6 and 7).
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = (
    0, 1, 2, 3, 4, 6, 7, 8, 9)
PROTOCOL_ERROR = 1
FLOW_CONTROL_ERROR = 3
REFUSED_STREAM = 7
ENHANCE_YOUR_CALM = 11


def h2c_config(o, **http2):
    """simple_config for origin o with HTTP/2 over cleartext (h2c) on the plain port, the given
    http2 settings, unlimited bodies and timeouts long enough for slow streams."""
    h = {"cleartext": True}
    h.update(http2)
    return simple_config(
        o, http2=h, limits={"max_body_bytes": 0},
        timeouts={"client_body": "30s", "upstream_response": "60s"})


def get(path, authority="x", extra=()):
    """The fields of a GET over http, extra fields after the pseudo-headers."""
    return [(":method", "GET"), (":path", path), (":scheme", "http"),
            (":authority", authority)] + list(extra)


def post(path, *extra):
    """The fields of a POST over http, extra fields after the pseudo-headers."""
    return [(":method", "POST"), (":path", path), (":scheme", "http"),
            (":authority", "x")] + list(extra)


def frame(ftype, flags, sid, payload=b""):
    """One frame: the 9-byte head (length, type, flags, stream id) and payload."""
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", sid) + payload


def headers(enc, sid, fields, end_stream=True):
    """A HEADERS frame with END_HEADERS (and END_STREAM unless told otherwise), its block
    encoded by enc."""
    return frame(HEADERS, 4 | (1 if end_stream else 0), sid, enc.encode(fields))


def raw_conn(port):
    """A connection to gantry's plain port that has sent the preface and an empty SETTINGS."""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(10)
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(SETTINGS, 0, 0))
    return s


def send(s, data):
    """sendall, where gantry may already have closed the connection after its GOAWAY."""
    try:
        s.sendall(data)
    except OSError:
        pass


def read_frames(sock, until, limit=1 << 22):
    """Frames read from sock as (type, flags, stream id, payload) until until(frames) holds,
    the peer closes or resets, the socket's timeout passes, or more than limit frames came."""
    buf = b""
    frames = []
    while True:
        try:
            d = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            return frames
        if not d:
            return frames
        buf += d
        while len(buf) >= 9:
            ln = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + ln:
                break
            t, f = buf[3], buf[4]
            sid = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
            frames.append((t, f, sid, buf[9:9 + ln]))
            buf = buf[9 + ln:]
        if until(frames) or len(frames) > limit:
            return frames


def goaway_code(frames):
    """The error code of the first GOAWAY among frames, None when there is none."""
    for t, f, sid, p in frames:
        if t == GOAWAY:
            return struct.unpack(">I", p[4:8])[0]
    return None


def metric(g, name, kind):
    """gantry's counter name{kind="kind"} from its admin /metrics (0 when absent)."""
    text = g.admin_request("GET", "/metrics").body.decode()
    for line in text.splitlines():
        if line.startswith('%s{kind="%s"}' % (name, kind)):
            return int(float(line.split()[-1]))
    return 0
