#!/usr/bin/env python3
"""Answers that gantry gives before the request's body ended (issue 15): a 401 from auth, a 502
when the upstream is down, a 413 over the body limit, while the client is still sending.

HTTP/2 (RFC 9113 8.1): after the complete response the stream is reset with NO_ERROR, so that
the client stops sending a body nobody reads and the stream is closed on both sides; DATA still
in flight is read and dropped with its window given back. Before, the stream stayed half-open
until the client ended its body: Node's http2 client writing a long upload never saw its stream
close, and each such stream held one of the connection's max_concurrent_streams. Real clients:
Node's http2 module (tests/node/h2_upload.mjs), curl --http2 (h2c prior knowledge and TLS with
ALPN), and the Python h2 package for the frames a client has in flight when the reset reaches it.

HTTP/1.1 (RFC 9112 9.6, 9.3): the answer says Connection: close (the unread body cannot be told
from a next request), and gantry closes after a bounded lingering read.

The gRPC side (a client-streaming call answered by a Trailers-Only status) is in test_grpc.py.
"""

import hashlib
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading

try:
    import h2.config
    import h2.connection
    import h2.events
except ImportError:  # Debian's python3-h2, under a Python that is not Debian's
    sys.path.append("/usr/lib/python3/dist-packages")
    import h2.config
    import h2.connection
    import h2.events

import gwtest
from gwtest import Gantry, HttpConn, Origin

NODE_DIR = os.path.join(gwtest.REPO, "tests", "node")
UPLOAD = os.path.join(NODE_DIR, "h2_upload.mjs")
TMP = tempfile.mkdtemp(prefix="gw-early-")
KEY = "early-answer-key-0123456789"
MIB = 1024 * 1024
NO_ERROR = 0
EARLY = [("/auth/x", 401), ("/down/x", 502)]


def cert():
    """(key, cert): a self-signed certificate for a.test, made once."""
    key, crt = os.path.join(TMP, "k.pem"), os.path.join(TMP, "c.pem")
    if not os.path.exists(crt):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                        "/CN=a.test", "-addext", "subjectAltName=DNS:a.test", "-keyout", key,
                        "-out", crt], check=True, capture_output=True)
    return key, crt


def config(origin, tls_port=None, **http2):
    """Services on one origin: /auth/ needs an API key (401 without), /down/ points at a port
    nobody listens on (502), /small/ takes 64 KiB of body (413); "/" is the origin. h2c on the
    plain port; TLS (ALPN h2) on tls_port when given."""
    down = "http://127.0.0.1:%d" % gwtest.free_port()
    h = {"cleartext": True}
    h.update(http2)
    cfg = gwtest.simple_config(
        origin, http2=h, limits={"max_body_bytes": 0},
        timeouts={"client_body": "30s", "upstream_response": "30s"})
    cfg["services"] = [
        {"name": "auth", "prefix": "/auth/", "targets": [origin.target()],
         "auth": {"required": True}},
        {"name": "down", "prefix": "/down/", "targets": [{"url": down}]},
        {"name": "small", "prefix": "/small/", "targets": [origin.target()],
         "limits": {"max_body_bytes": "64k"}},
        {"name": "origin", "prefix": "/", "targets": [origin.target()]},
    ]
    cfg["auth"] = {"consumers": [{"id": "c", "api_keys": [
        "sha256:" + hashlib.sha256(KEY.encode()).hexdigest()]}]}
    if tls_port:
        key, crt = cert()
        cfg["tls"] = {"listen": "127.0.0.1:%d" % tls_port,
                      "certificates": [{"cert": crt, "key": key}]}
    return cfg


# ---- Node's http2 client: a body that never ends ---------------------------------------------


def node_upload(url, *extra):
    """h2_upload.mjs's JSON: how the stream ended as the client saw it (or hang: true)."""
    p = subprocess.run(["node", UPLOAD, url, "--wait-ms", "10000"] + list(extra),
                       capture_output=True, text=True, timeout=60)
    lines = p.stdout.strip().splitlines()
    if not lines:
        raise AssertionError("h2_upload.mjs %s: status %d, %r" % (url, p.returncode, p.stderr))
    return json.loads(lines[-1])


@gwtest.timeout(180)
def test_node_client_sees_its_stream_closed_after_an_early_answer():
    if shutil.which("node") is None:
        gwtest.skip("node is not installed (scripts/deps.sh test)")
    tls_port = gwtest.free_port()
    with Origin() as o, Gantry(config(o, tls_port)) as g:
        modes = [("h2c", "http://127.0.0.1:%d" % g.port, []),
                 ("tls", "https://127.0.0.1:%d" % tls_port,
                  ["--ca", cert()[1], "--servername", "a.test"])]
        for name, base, extra in modes:
            for path, status in EARLY:
                r = node_upload(base + path, *extra)
                # Before the fix: {"hang": true}, the response ended but the stream never did.
                assert not r.get("hang"), (name, path, r)
                assert r["status"] == status, (name, path, r)
                assert r["rst"] == NO_ERROR, (name, path, r)
                assert json.loads(r["body"])["status"] == status, (name, path, r)
        assert o.stats()["requests"] == 0, o.stats()  # the refused requests went nowhere
        gwtest.wait_until(lambda: '"POST /auth/x" 401' in g.stdout() and
                          '"POST /down/x" 502' in g.stdout(), timeout=10,
                          message="the early answers in the access log")


# ---- curl --http2: gantry's status, and curl done ----------------------------------------------


def curl(*args, stdin=None):
    p = subprocess.run(["curl", "-sS", "-m", "20", "-o", "/dev/null", "-w",
                        "%{http_version} %{http_code}"] + list(args), stdin=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=40)
    return p.returncode, p.stdout.decode(), p.stderr.decode("utf-8", "replace")


def curl_slow(*args):
    """curl -T - fed 1000 bytes every 100 ms for 20 s: a body still coming long after any early
    answer (curl's own bound, -m 20, fails the test if the stream is never ended for it)."""
    feeder = subprocess.Popen(["sh", "-c", "i=0; while [ $i -lt 200 ]; do head -c 1000 "
                               "/dev/zero; sleep 0.1; i=$((i+1)); done"], stdout=subprocess.PIPE)
    try:
        return curl(*args, stdin=feeder.stdout)
    finally:
        feeder.kill()
        feeder.wait()
        feeder.stdout.close()


@gwtest.timeout(240)
def test_curl_gets_the_gateways_status_while_still_sending():
    big = os.path.join(TMP, "big")
    with open(big, "wb") as f:
        f.write(os.urandom(8 * MIB))
    tls_port = gwtest.free_port()
    with Origin() as o, Gantry(config(o, tls_port)) as g:
        modes = [("h2c", ["--http2-prior-knowledge"], "http://127.0.0.1:%d" % g.port),
                 ("tls", ["--http2", "--cacert", cert()[1], "--resolve",
                          "a.test:%d:127.0.0.1" % tls_port], "https://a.test:%d" % tls_port)]
        for name, flags, base in modes:
            for path, status in EARLY + [("/small/x", 413)]:
                rc, out, err = curl(*flags, "--data-binary", "@" + big, base + path)
                assert rc == 0 and out == "2 %d" % status, (name, path, rc, out, err)
                rc, out, err = curl_slow(*flags, "-X", "POST", "-T", "-", base + path)
                assert rc == 0 and out == "2 %d" % status, (name, path, "slow", rc, out, err)
            # The same gantry still takes a whole upload.
            rc, out, err = curl(*flags, "--data-binary", "@" + big, base + "/upload")
            assert rc == 0 and out == "2 200", (name, rc, out, err)


# ---- the frames in flight: Python's h2 on a raw socket -----------------------------------------


class Client:
    """An h2 client that tracks each stream's answer and reset."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.settimeout(10)
        self.c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.c.initiate_connection()
        self.streams = {}
        self.flush()

    def flush(self):
        data = self.c.data_to_send()
        if data:
            self.sock.sendall(data)

    def pump(self):
        try:
            d = self.sock.recv(1 << 20)
        except socket.timeout:
            raise AssertionError("nothing from gantry for 10 s: %r" % self.streams)
        assert d, "gantry closed the connection: %r" % self.streams
        for e in self.c.receive_data(d):
            s = self.streams.get(getattr(e, "stream_id", None))
            if s is None:
                continue
            if isinstance(e, h2.events.ResponseReceived):
                s["status"] = dict(e.headers)[b":status"].decode()
            elif isinstance(e, h2.events.DataReceived):
                s["body"] += e.data
                self.c.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
            elif isinstance(e, h2.events.StreamEnded):
                s["ended"] = True
            elif isinstance(e, h2.events.StreamReset):
                s["reset"] = e.error_code
        self.flush()

    def post(self, path, length):
        sid = self.c.get_next_available_stream_id()
        self.c.send_headers(sid, [(":method", "POST"), (":path", path), (":scheme", "http"),
                                  (":authority", "x"), ("content-length", str(length))])
        self.streams[sid] = {"status": None, "body": b"", "ended": False, "reset": None}
        self.flush()
        return sid

    def send(self, sid, data, end=False):
        """data on sid as the windows allow; stops when the stream is reset."""
        while data and self.streams[sid]["reset"] is None:
            n = min(len(data), self.c.local_flow_control_window(sid),
                    self.c.max_outbound_frame_size)
            if n == 0:
                self.pump()
                continue
            self.c.send_data(sid, data[:n], end_stream=end and n == len(data))
            data = data[n:]
            self.flush()

    def wait(self, sid, reset=False):
        s = self.streams[sid]
        while not (s["ended"] and (not reset or s["reset"] is not None)) and \
                s["reset"] not in (None, NO_ERROR):
            self.pump()
        while not s["ended"] or (reset and s["reset"] is None):
            self.pump()
        return s

    def late_data(self, sid, n):
        """n bytes of DATA (without END_STREAM) on sid, written raw: what a client sent before
        the reset reached it. They count against the connection's window like any DATA, so
        the client's account of it is lowered by hand."""
        while n > 0:
            k = min(n, 16000)
            self.sock.sendall(struct.pack(">I", k)[1:] + b"\x00\x00" + struct.pack(">I", sid) +
                              b"l" * k)
            self.c.outbound_flow_control_window -= k
            n -= k


def test_answered_streams_free_their_slots_and_late_data_is_dropped():
    with Origin() as o, Gantry(config(o, max_concurrent_streams=2)) as g:
        c = Client(g.port)
        while c.c.remote_settings.max_concurrent_streams != 2:
            c.pump()
        # Two uploads that a 401 answers after their first kilobyte: both slots taken.
        sids = [c.post("/auth/x", 10 * MIB) for _ in range(2)]
        for sid in sids:
            c.send(sid, b"a" * 1000)
        for sid in sids:
            s = c.wait(sid, reset=True)  # before the fix: no reset, 10 s, then a failure
            assert s["status"] == "401" and json.loads(s["body"])["status"] == 401, s
            assert s["reset"] == NO_ERROR, s
        # DATA the client had in flight: most of the connection's window (65535 bytes). Were
        # it not read and its window given back, the next uploads would stall.
        for sid in sids:
            c.late_data(sid, 30000)
        # Both slots are free again: two uploads of 1 MiB through the same connection.
        body = os.urandom(MIB)
        ups = [c.post("/upload", len(body)) for _ in range(2)]
        for sid in ups:
            c.send(sid, body, end=True)
        for sid in ups:
            s = c.wait(sid)
            assert s["status"] == "200", s
            got = json.loads(s["body"])
            assert got["received"] == len(body), got
            assert got["sha256"] == hashlib.sha256(body).hexdigest(), got
            assert s["reset"] is None, s  # a complete request: no reset
        c.sock.close()


# ---- HTTP/1.1: Connection: close and a bounded lingering read ---------------------------------


def test_http1_early_answer_closes_after_a_bounded_linger():
    # RFC 9112 9.3: the unread rest of the body would be read as the next request, so the
    # connection cannot persist; 9.6: close only after the client can have read the answer
    # (half-close, read and drop for a while). The client here never stops sending.
    with Origin() as o, Gantry(config(o)) as g:
        for path, status, framing in [("/auth/x", 401, "length"), ("/down/x", 502, "length"),
                                      ("/auth/x", 401, "chunked")]:
            with HttpConn(g.port, timeout=10) as c:
                hdr = {"Content-Length": str(100 * MIB)} if framing == "length" else \
                    {"Transfer-Encoding": "chunked"}
                c.send_request("POST", path, headers=hdr)
                stop = threading.Event()

                def keep_sending():
                    piece = b"x" * 16384 if framing == "length" else \
                        b"4000\r\n" + b"x" * 16384 + b"\r\n"
                    try:
                        while not stop.is_set():
                            c.sock.sendall(piece)
                            stop.wait(0.01)
                    except OSError:
                        pass  # gantry closed: what the test waits for

                t = threading.Thread(target=keep_sending, daemon=True)
                t.start()
                try:
                    r = c.read_response()
                    assert r.status == status, (path, framing, r)
                    assert r.header("Connection", "").lower() == "close", (path, framing, r)
                    assert r.json()["status"] == status, r
                    # Closed although the client still sends (a 2 s linger; 30 s is the bound
                    # that turns a regression into a failure).
                    assert c.wait_closed(30), (path, framing, "still open")
                finally:
                    stop.set()
                    t.join(10)
        assert o.stats()["requests"] == 0, o.stats()


def teardown():
    shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    try:
        gwtest.main(globals())
    finally:
        teardown()
