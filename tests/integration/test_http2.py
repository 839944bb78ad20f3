#!/usr/bin/env python3
"""HTTP/2 to clients (issue 15, "HTTP/2 downstream"), with real clients: curl (--http2 over TLS
with ALPN, --http2-prior-knowledge), nghttp, h2load, and the Python h2 package (Debian's
python3-h2) for what a well-behaved client never sends: malformed requests (RFC 9113 8.2) and
the known attacks (rapid reset, PING flood, CONTINUATION flood, oversized header lists). Raw
frames are written by hand where the h2 package would refuse to.
"""

import hashlib
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

try:
    import h2.config
    import h2.connection
    import h2.events
    import hpack
except ImportError:  # Debian's python3-h2, under a Python that is not Debian's
    sys.path.append("/usr/lib/python3/dist-packages")
    import h2.config
    import h2.connection
    import h2.events
    import hpack

import gwtest
from gwtest import Gantry, Origin, request
from gwtest.h2frames import (ENHANCE_YOUR_CALM, PROTOCOL_ERROR, REFUSED_STREAM, frame, get,
                             goaway_code, h2c_config, headers, metric, post, raw_conn, read_frames,
                             send)

MIB = 1024 * 1024
TMP = tempfile.mkdtemp(prefix="gw-h2-")


def curl(*args, timeout=30):
    p = subprocess.run(["curl", "-sS", "-m", str(timeout)] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout + 5)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


class Client:
    """An h2 client on a raw socket; validation off so that it sends what we tell it."""

    def __init__(self, port, window=None):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.settimeout(10)
        cfg = h2.config.H2Configuration(client_side=True, validate_outbound_headers=False,
                                        normalize_outbound_headers=False,
                                        validate_inbound_headers=False)
        self.c = h2.connection.H2Connection(cfg)
        self.c.initiate_connection()
        if window is not None:
            self.c.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
        self.flush()
        self.streams = {}
        self.goaway = None
        self.closed = False

    def flush(self):
        data = self.c.data_to_send()
        if data:
            self.sock.sendall(data)

    def send_raw(self, data):
        self.sock.sendall(data)

    def headers(self, hdrs, end=True):
        sid = self.c.get_next_available_stream_id()
        self.c.send_headers(sid, hdrs, end_stream=end)
        self.flush()
        self.streams[sid] = {"headers": None, "body": b"", "ended": False, "reset": None}
        return sid

    def data(self, sid, data, end=True):
        # Respect the peer's flow control: wait for window when needed. A stream the server
        # reset (RST_STREAM NO_ERROR after an early answer, RFC 9113 8.1) takes no more.
        while data and self.streams[sid]["reset"] is None:
            n = min(len(data), self.c.local_flow_control_window(sid),
                    self.c.max_outbound_frame_size)
            if n == 0:
                self.pump()
                continue
            self.c.send_data(sid, data[:n], end_stream=end and n == len(data))
            data = data[n:]
            self.flush()
        if end and not data and self.streams[sid]["ended"] is False:
            pass

    def pump(self, ack=True):
        try:
            d = self.sock.recv(1 << 20)
        except socket.timeout:
            raise AssertionError("no answer from gantry")
        if not d:
            self.closed = True
            return
        for e in self.c.receive_data(d):
            s = self.streams.get(getattr(e, "stream_id", None))
            if isinstance(e, h2.events.ResponseReceived):
                s["headers"] = dict(e.headers)
            elif isinstance(e, h2.events.DataReceived):
                s["body"] += e.data
                if ack:
                    self.c.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
            elif isinstance(e, h2.events.StreamEnded):
                s["ended"] = True
            elif isinstance(e, h2.events.StreamReset):
                if s is not None:
                    s["reset"] = e.error_code
            elif isinstance(e, h2.events.ConnectionTerminated):
                self.goaway = e.error_code
        self.flush()

    def wait(self, sid):
        s = self.streams[sid]
        while not (s["ended"] or s["reset"] is not None or self.goaway is not None or self.closed):
            self.pump()
        return s

    def close(self):
        self.sock.close()


PING_FRAME = frame(6, 0, 0, b"12345678")


def continuation_flood(path, n=40):
    """A request whose header block (n fields past path's) is cut into 8-byte pieces: a HEADERS
    without END_HEADERS, then as many CONTINUATION frames as it takes."""
    block = hpack.Encoder().encode(get(path) + [("x-%d" % i, "v") for i in range(n)])
    pieces = [block[i:i + 8] for i in range(0, len(block), 8)]
    return frame(1, 1, 1, pieces[0]) + b"".join(frame(9, 0, 1, p) for p in pieces[1:])


# ---- real clients ---------------------------------------------------------------------------


def test_curl_prior_knowledge_runs_the_same_proxy():
    with Origin() as o, Gantry(h2c_config(o)) as g:
        rc, out, err = curl("--http2-prior-knowledge", "-D", "-", g.url("/echo/hi?x=1"),
                            "-H", "X-Custom: v", "-b", "a=1", "-b", "b=2")
        assert rc == 0, err
        head, _, body = out.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/2 200"), head
        assert b"x-request-id: " in head.lower()
        import json
        echo = json.loads(body)
        assert echo["path"] == "/echo/hi?x=1" and echo["version"] == "HTTP/1.1", echo
        names = {k.lower(): v for k, v in echo["headers"]}
        assert names["host"] == "127.0.0.1:%d" % g.port, names
        assert names["x-custom"] == "v" and names["x-forwarded-proto"] == "http", names
        # The upstream speaks HTTP/1.1: h2 never reaches it, no pseudo-header either.
        assert not any(k.startswith(":") for k in names), names
        # A plain HTTP/1.1 client on the same port is still served.
        r = request(g.port, "GET", "/echo/plain")
        assert r.status == 200 and r.json()["path"] == "/echo/plain"


def test_bodies_both_ways_are_intact():
    n = 20 * MIB
    with Origin() as o, Gantry(h2c_config(o)) as g:
        rc, out, err = curl("--http2-prior-knowledge", "-o", os.path.join(TMP, "dl"), "-w",
                            "%{http_version} %{http_code} %{size_download}",
                            g.url("/bytes/%d" % n))
        assert rc == 0 and out == b"2 200 %d" % n, (out, err)
        with open(os.path.join(TMP, "dl"), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == gwtest.pattern_sha256(n)
        # A chunked upstream body goes out as DATA frames, the chunk framing gone.
        rc, out, err = curl("--http2-prior-knowledge", g.url("/chunked/300000"), "-o",
                            os.path.join(TMP, "ch"), "-w", "%{size_download}")
        assert rc == 0 and out == b"300000", (out, err)
        # Uploads with a content-length and without one (chunked to the upstream), larger
        # than the window: the window comes back as gantry forwards the bytes.
        body = os.urandom(3 * MIB)
        for extra in ([("content-length", str(len(body)))], []):
            c = Client(g.port)
            sid = c.headers(post("/upload", *extra), end=False)
            c.data(sid, body)
            s = c.wait(sid)
            assert s["headers"][b":status"] == b"200", s
            import json
            got = json.loads(s["body"])
            assert got["received"] == len(body), got
            assert got["sha256"] == hashlib.sha256(body).hexdigest()
            c.close()


def test_body_of_an_answered_request_does_not_starve_the_connection():
    # A 413 goes out at once, while the client still sends its megabyte: the rest is read and
    # dropped with its window given back, so the next upload on the connection flows (the
    # stream is reset with NO_ERROR after a linger: test_early_answers.py).
    with Origin() as o:
        cfg = gwtest.simple_config(o, http2={"cleartext": True},
                                   limits={"max_body_bytes": 200000})
        with Gantry(cfg) as g:
            c = Client(g.port)
            big = os.urandom(MIB)
            sid = c.headers(post("/upload", ("content-length", str(len(big)))), end=False)
            c.data(sid, big)
            s = c.wait(sid)
            assert s["headers"][b":status"] == b"413", s
            small = os.urandom(150000)
            sid = c.headers(post("/upload", ("content-length", str(len(small)))), end=False)
            c.data(sid, small)
            s = c.wait(sid)
            assert s["headers"][b":status"] == b"200", s
            c.close()


def test_tls_alpn_h2_and_opt_out():
    key, crt = os.path.join(TMP, "k.pem"), os.path.join(TMP, "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                    "/CN=a.test", "-addext", "subjectAltName=DNS:a.test", "-keyout", key,
                    "-out", crt], check=True, capture_output=True)
    for enabled in (True, False):
        with Origin() as o:
            port = gwtest.free_port()
            cfg = gwtest.simple_config(o, tls={"listen": "127.0.0.1:%d" % port,
                                               "certificates": [{"cert": crt, "key": key}]})
            if not enabled:
                cfg["http2"] = False
            with Gantry(cfg) as g:
                rc, out, err = curl("--http2", "--cacert", crt, "--resolve",
                                    "a.test:%d:127.0.0.1" % port, "-w",
                                    "\n%{http_version} %{http_code}",
                                    "https://a.test:%d/echo/tls" % port)
                assert rc == 0, err
                last = out.rsplit(b"\n", 1)[1]
                assert last == (b"2 200" if enabled else b"1.1 200"), (enabled, out)
                if enabled:
                    import json
                    echo = json.loads(out.rsplit(b"\n", 1)[0])
                    hdrs = {k.lower(): v for k, v in echo["headers"]}
                    assert hdrs["x-forwarded-proto"] == "https", hdrs
                    # A second client: nghttp over TLS, several streams at once.
                    p = subprocess.run(
                        ["nghttp", "-n", "-s", "https://127.0.0.1:%d/echo/a" % port,
                         "https://127.0.0.1:%d/echo/b" % port,
                         "https://127.0.0.1:%d/bytes/100000" % port],
                        capture_output=True, text=True, timeout=30)
                    assert p.returncode == 0, p.stdout + p.stderr
                    assert p.stdout.count("200") >= 3, p.stdout


def test_nghttp_and_h2load_many_streams_per_connection():
    with Origin() as o, Gantry(h2c_config(o)) as g:
        p = subprocess.run(["nghttp", "-n", "-s", "-H", "x-a: 1", g.url("/echo/1"),
                            g.url("/echo/2"), g.url("/status/404"), g.url("/nowhere/../echo/3")],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stdout + p.stderr
        p = subprocess.run(["h2load", "-n", "3000", "-c", "4", "-m", "20", g.url("/echo/x")],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "3000 succeeded, 0 failed, 0 errored" in p.stdout, p.stdout
        assert "status codes: 3000 2xx" in p.stdout, p.stdout


def test_own_answers_and_probes_over_h2():
    with Origin() as o, Gantry(h2c_config(o)) as g:
        c = Client(g.port)
        s = c.wait(c.headers(get("/health")))
        assert s["headers"][b":status"] == b"200" and s["body"] == b'{"status":"ok"}', s
        s = c.wait(c.headers(get("/missing", authority="nohost.test")))
        # simple_config routes "/" for any host: a service answers; a HEAD gets no body.
        assert s["headers"][b":status"] in (b"200", b"404"), s
        s = c.wait(c.headers([(":method", "HEAD"), (":path", "/health"), (":scheme", "http"),
                              (":authority", "x")]))
        assert s["headers"][b":status"] == b"200" and s["body"] == b"", s
        c.close()


def test_slow_h2_reader_does_not_make_gantry_buffer():
    # The client takes 64 KiB (its window) and then nothing: gantry must stop reading the
    # origin, not hold the 512 MiB. Then the client reads the rest, intact.
    n = 512 * MIB
    with Origin() as o, Gantry(h2c_config(o)) as g:
        c = Client(g.port)
        s = c.wait(c.headers(get("/bytes/%d" % (4 * MIB))))  # warm-up: every buffer exists
        assert len(s["body"]) == 4 * MIB
        idle = g.rss_kib()
        sid = c.headers(get("/bytes/%d" % n))
        st = c.streams[sid]
        while len(st["body"]) < 16384:
            c.pump(ack=False)
        time.sleep(2)  # the slow reader: what is under test, not a wait
        grown = g.rss_kib() - idle
        assert grown < 32 * 1024, "gantry grew %d KiB while the client did not read" % grown
        h = hashlib.sha256(st["body"])
        got = len(st["body"])
        st["body"] = b""
        c.c.acknowledge_received_data(got, sid)
        c.flush()
        while not st["ended"]:
            c.pump()
            h.update(st["body"])
            got += len(st["body"])
            st["body"] = b""
        assert got == n and h.hexdigest() == gwtest.pattern_sha256(n)
        c.close()


# ---- RFC 9113 8.2 across the protocol boundary ----------------------------------------------


MALFORMED = [
    ("connection-specific field", get("/echo/m") + [("connection", "keep-alive")]),
    ("keep-alive", get("/echo/m") + [("keep-alive", "5")]),
    ("transfer-encoding", post("/echo/m", ("transfer-encoding", "chunked"))),
    ("te other than trailers", get("/echo/m") + [("te", "gzip")]),
    ("upgrade", get("/echo/m") + [("upgrade", "websocket")]),
    ("uppercase name", get("/echo/m") + [("X-Upper", "1")]),
    ("CR LF in a value", get("/echo/m") + [("x-a", "1\r\nx-smuggled: 1")]),
    ("NUL in a value", get("/echo/m") + [("x-a", "1\x002")]),
    ("LF in a value", get("/echo/m") + [("x-a", "a\nb")]),
    ("missing :path", [(":method", "GET"), (":scheme", "http"), (":authority", "x")]),
    ("missing :method", [(":path", "/"), (":scheme", "http"), (":authority", "x")]),
    ("pseudo after regular", [(":method", "GET"), ("x-a", "1"), (":path", "/"),
                              (":scheme", "http"), (":authority", "x")]),
    ("duplicate :path", get("/echo/m") + [(":path", "/other")]),
    ("unknown pseudo", get("/echo/m") + [(":foo", "1")]),
    ("host disagrees with :authority", get("/echo/m") + [("host", "other.test")]),
    ("empty :path", [(":method", "GET"), (":path", ""), (":scheme", "http"),
                     (":authority", "x")]),
]


def test_malformed_requests_never_reach_the_upstream():
    with Origin() as o, Gantry(h2c_config(o)) as g:
        for what, hdrs in MALFORMED:
            c = Client(g.port)
            s = c.wait(c.headers(hdrs))
            status = s["headers"] and s["headers"].get(b":status")
            refused = s["reset"] == PROTOCOL_ERROR or status == b"400"
            assert refused, (what, s)
            c.close()
        assert o.stats()["requests"] == 0, o.stats()
        # content-length disagreeing with the DATA: more, and fewer.
        for declared, sent in ((10, b"12345"), (3, b"12345")):
            c = Client(g.port)
            sid = c.headers(post("/upload", ("content-length", str(declared))), end=False)
            c.c.send_data(sid, sent, end_stream=True)
            c.flush()
            s = c.wait(sid)
            # The request was under way upstream when the DATA disagreed: the stream is
            # reset and the upstream exchange dropped (never a response to the client).
            assert s["reset"] == PROTOCOL_ERROR or c.goaway is not None, (declared, s)
            assert s["headers"] is None, s
            c.close()
        assert metric(g, "gantry_http2_refused_total", "protocol_error") > 0


# ---- limits and attacks -----------------------------------------------------------------------


def test_max_concurrent_streams_refuses_the_extra_stream():
    with Origin() as o, Gantry(h2c_config(o, max_concurrent_streams=2)) as g:
        c = Client(g.port)
        while not c.c.remote_settings.max_concurrent_streams == 2:
            c.pump()
        # Bypass the client's own limit: three HEADERS frames at once, written raw.
        enc = hpack.Encoder()
        c.send_raw(b"".join(headers(enc, sid, get("/sleep/1000")) for sid in (1, 3, 5)))
        # nghttp2 answers the stream past the limit with RST_STREAM REFUSED_STREAM, or (the
        # client had acknowledged the limit) with GOAWAY PROTOCOL_ERROR: RFC 9113 5.1.2
        # allows both. Either way the third request never reaches the upstream.
        frames = read_frames(c.sock, until=lambda fs: any(
            t == 7 or (t == 3 and sid == 5) for t, _, sid, _ in fs))
        rst = [struct.unpack(">I", p)[0] for t, f, sid, p in frames if t == 3 and sid == 5]
        assert rst == [REFUSED_STREAM] or goaway_code(frames) == PROTOCOL_ERROR, frames
        c.close()
        assert o.stats()["by_path"].get("/sleep/1000", 0) <= 2, o.stats()


def test_rapid_reset_ends_with_goaway():
    with Origin() as o, Gantry(h2c_config(o, max_resets_per_second=50)) as g:
        s = raw_conn(g.port)
        enc = hpack.Encoder()
        out = b""
        for i in range(200):
            sid = 1 + 2 * i
            out += headers(enc, sid, get("/sleep/2000"))
            out += frame(3, 0, sid, struct.pack(">I", 8))  # RST_STREAM CANCEL
        send(s, out)
        frames = read_frames(s, until=lambda fs: goaway_code(fs) is not None)
        assert goaway_code(frames) == ENHANCE_YOUR_CALM, frames[-3:]
        s.close()
        assert metric(g, "gantry_http2_refused_total", "rapid_reset") == 1
        assert metric(g, "gantry_http2_refused_total", "client_reset") >= 50
        # gantry is fine afterwards.
        assert request(g.port, "GET", "/echo/after").status == 200


def test_ping_and_settings_floods_end_with_goaway():
    for kind, flood in (("ping", PING_FRAME), ("settings", frame(4, 0, 0))):
        with Origin() as o, Gantry(h2c_config(o, max_control_frames_per_second=20)) as g:
            s = raw_conn(g.port)
            send(s, flood * 500)
            frames = read_frames(s, until=lambda fs: goaway_code(fs) is not None)
            assert goaway_code(frames) == ENHANCE_YOUR_CALM, (kind, frames[-3:])
            s.close()
            assert metric(g, "gantry_http2_refused_total", "control_flood") == 1, kind


def test_continuation_flood_ends_with_goaway():
    with Origin() as o, Gantry(h2c_config(o, max_continuation_frames=4)) as g:
        s = raw_conn(g.port)
        send(s, continuation_flood("/echo/c"))
        frames = read_frames(s, until=lambda fs: goaway_code(fs) is not None)
        assert goaway_code(frames) == ENHANCE_YOUR_CALM, frames[-3:]
        s.close()
        assert metric(g, "gantry_http2_refused_total", "continuation_flood") == 1
        assert o.stats()["requests"] == 0


def test_each_kind_of_refusal_has_its_own_log_limit():
    # The log lines of floods are limited to one a second per kind: a PING flood does not
    # swallow the line of the CONTINUATION flood that follows it within the second.
    with Origin() as o, Gantry(h2c_config(o, max_control_frames_per_second=20,
                                          max_continuation_frames=4)) as g:
        s = raw_conn(g.port)
        send(s, PING_FRAME * 500)
        frames = read_frames(s, until=lambda fs: goaway_code(fs) is not None)
        assert goaway_code(frames) == ENHANCE_YOUR_CALM, frames[-3:]
        s.close()
        s = raw_conn(g.port)
        send(s, continuation_flood("/echo/c"))
        frames = read_frames(s, until=lambda fs: goaway_code(fs) is not None)
        assert goaway_code(frames) == ENHANCE_YOUR_CALM, frames[-3:]
        s.close()
        assert metric(g, "gantry_http2_refused_total", "continuation_flood") == 1
        gwtest.wait_until(lambda: "HTTP/2 PING/SETTINGS flood" in g.stderr(), 5,
                          message="the PING flood's line")
        gwtest.wait_until(lambda: "HTTP/2 CONTINUATION flood" in g.stderr(), 5,
                          message="the CONTINUATION flood's line, not suppressed by the other")

def test_header_list_too_large_and_hpack_bomb_are_refused():
    with Origin() as o, Gantry(h2c_config(o, max_header_list_size="4KiB")) as g:
        # Plainly too many bytes.
        c = Client(g.port)
        s = c.wait(c.headers(get("/echo/big") + [("x-big-%d" % i, "v" * 200)
                                                 for i in range(40)]))
        assert s["reset"] == ENHANCE_YOUR_CALM, s
        c.close()
        # An HPACK bomb: one 4000-byte entry in the dynamic table, referenced 100 times with
        # one byte each: a few hundred bytes on the wire, 400 KB decoded.
        s = raw_conn(g.port)
        enc = hpack.Encoder()
        first = enc.encode(get("/echo/bomb") + [("x-bomb", "b" * 4000)])
        idx = 62  # the entry just added is the first dynamic one
        block = first + bytes([0x80 | 0x3E]) * 0  # (index 62 written below)
        ref = hpack.Encoder()
        block = first + b"".join([bytes([0x80 | idx])] * 100)
        s.sendall(frame(1, 5, 1, block))
        frames = read_frames(s, until=lambda fs: any(t in (3, 7) for t, _, _, _ in fs))
        rst = [p for t, f, sid, p in frames if t == 3 and sid == 1]
        assert rst or goaway_code(frames) is not None, frames
        s.close()
        del ref
        assert metric(g, "gantry_http2_refused_total", "header_list") >= 1
        assert o.stats()["requests"] == 0


def test_drain_sends_goaway_and_finishes_streams_in_flight():
    import signal
    with Origin() as o, Gantry(h2c_config(o)) as g:
        s = raw_conn(g.port)
        s.sendall(headers(hpack.Encoder(), 1, get("/sleep/1500")))
        gwtest.wait_until(lambda: o.stats()["active"] >= 1, message="request at the origin")
        g.signal(signal.SIGTERM)
        # Raw frames: the h2 package stops reading at the GOAWAY.
        frames = read_frames(s, until=lambda fs: any(
            sid == 1 and f & 1 and t in (0, 1) for t, f, sid, _ in fs))
        kinds = [(t, sid) for t, f, sid, _ in frames if t in (0, 1, 7)]
        assert (7, 0) in kinds and kinds.index((7, 0)) < kinds.index((1, 1)), kinds
        assert goaway_code(frames) == 0, frames
        heads = [p for t, f, sid, p in frames if t == 1 and sid == 1]
        assert hpack.Decoder().decode(heads[0])[0] == (":status", "200"), heads
        s.close()
        assert g.wait_exit(15) == 0


def test_http2_off_by_default_on_the_plain_port():
    with Origin() as o, Gantry(gwtest.simple_config(o)) as g:
        rc, out, err = curl("--http2-prior-knowledge", g.url("/echo/x"))
        assert rc != 0 or b"HTTP/2" not in out, out
        assert o.stats()["requests"] == 0


def teardown():
    shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    try:
        gwtest.main(globals())
    finally:
        teardown()
