#!/usr/bin/env python3
"""WebSocket over HTTP/2 (RFC 8441) and the HTTP/2 streams' own timeouts, with real clients.

- the client is tests/node/h2ws_peer.mjs: Node's http2 module sending an extended CONNECT
  (:protocol websocket) once the server offered SETTINGS_ENABLE_CONNECT_PROTOCOL, and RFC 6455
  frames of its own on the stream; the upstream is the npm `ws` echo server of ws_peer.mjs
  (HTTP/1.1 Upgrade);
- echo of text, binary, fragmented and 4 MiB messages over h2c and over TLS (ALPN h2), the
  upstream's view of the handshake, one access-log line (200), one close line;
- the same to an https:// target (a wss:// ws server, certificate verified with the test CA):
  echo, backpressure, the idle timeout's 1001 and a half-close through the upstream's TLS;
- the same policy chain as an HTTP/1.1 upgrade: the Origin allow-list (403), authentication with
  the token in the query (401 without), websocket off for the route (501), an unknown
  :protocol (501), the hub's path (501), malformed extended CONNECTs (stream reset, raw frames);
- backpressure: a client that reads nothing stops gantry reading the upstream; the idle timeout
  ends the tunnel with a close frame 1001 both ways; RST_STREAM from the client closes the
  upstream connection;
- per-stream timeouts: a stream whose body stalls gets its 408 while another stream on the same
  connection completes; a stream whose client leaves the response unread is reset while another
  stream goes on.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import gwtest
from gwtest import Gantry, Origin
from gwtest.certs import CertDir
from gwtest.jose import claims, hs_token
from gwtest.procs import Backend

try:
    import h2.config
    import h2.connection
    import h2.events
    import h2.settings
except ImportError:  # Debian's python3-h2, under a Python that is not Debian's
    sys.path.append("/usr/lib/python3/dist-packages")
    import h2.config
    import h2.connection
    import h2.events
    import h2.settings

NODE_DIR = os.path.join(gwtest.REPO, "tests", "node")
PEER = os.path.join(NODE_DIR, "h2ws_peer.mjs")
WS_PEER = os.path.join(NODE_DIR, "ws_peer.mjs")
SECRET = "h2ws-test-secret-0123456789abcdefghijkl"
TMP = tempfile.mkdtemp(prefix="gw-h2ws-")
CANCEL = 8


def need_node():
    if shutil.which("node") is None:
        gwtest.skip("node is not installed (scripts/deps.sh test)")
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "ws")):
        gwtest.skip("tests/node/node_modules/ws is missing (scripts/deps.sh test)")


CERTS = None


def certs():
    """The test CA and a leaf for localhost (made once, for the wss:// upstreams)."""
    global CERTS
    if CERTS is None:
        CERTS = CertDir("h2wss")
        CERTS.make_ca()
        CERTS.make_leaf("local", "localhost", ["DNS:localhost", "IP:127.0.0.1"])
    return CERTS


class WsServer(Backend):
    """The ws echo server of ws_peer.mjs; its events ("OPEN /path", "CLOSE code") in its log.
    tls: a wss:// server with the test certificate (h2_config then targets it as https://)."""

    name = "ws-server"

    def __init__(self, tls=False):
        env = dict(os.environ)
        if tls:
            env.update(WS_TLS_CERT=certs().path("local.pem"), WS_TLS_KEY=certs().path("local.key"))
        self.tls = tls
        super().__init__(["node", WS_PEER, "server"], env=env)

    def events(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()


def h2_config(server, websocket=None, **top):
    target = {"url": "https://localhost:%d" % server.port} if server.tls else server
    cfg = gwtest.simple_config(target, prefix="/ws", name="chat", http2={"cleartext": True},
                               **top)
    if server.tls:
        cfg["services"][0]["upstream_tls"] = {"ca": certs().path("ca.pem")}
    if websocket is not None:
        cfg["services"][0]["websocket"] = websocket
    return cfg


def url(g, path="/ws/chat"):
    return "http://127.0.0.1:%d%s" % (g.port, path)


def node(*args, timeout=120):
    """Runs h2ws_peer.mjs to completion; returns (exit status, the JSON it printed)."""
    p = subprocess.run(["node", PEER] + list(args), capture_output=True, timeout=timeout,
                       text=True)
    line = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else "{}"
    try:
        return p.returncode, json.loads(line)
    except ValueError:
        raise AssertionError("h2ws_peer %s printed %r (stderr %r)" % (args, p.stdout, p.stderr))


class Holder:
    """h2ws_peer.mjs hold (or flood): one tunnel driven through stdin, its lines in .lines."""

    def __init__(self, argv, first=r"^OPEN$", timeout=30):
        self.p = subprocess.Popen(["node", PEER] + argv, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.wait_line(first, timeout)

    def poll(self, wait):
        import select
        r, _, _ = select.select([self.p.stdout], [], [], wait)
        if r:
            line = self.p.stdout.readline()
            if line:
                self.lines.append(line.strip())
                return True
        return False

    def wait_line(self, pattern, timeout=30):
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for line in self.lines[seen:]:
                if re.search(pattern, line):
                    return line
            seen = len(self.lines)
            if time.monotonic() > deadline:
                raise AssertionError("no %r within %s s: %r (stderr %r)" % (
                    pattern, timeout, self.lines, self.p.stderr.read() if self.p.poll() is not None
                    else ""))
            if not self.poll(0.2) and self.p.poll() is not None:
                raise AssertionError("h2ws_peer exited: %r %r" % (self.lines,
                                                                  self.p.stderr.read()))

    def command(self, cmd):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def metric(g, pattern):
    text = g.admin_request("GET", "/metrics").body.decode()
    m = re.search(pattern, text)
    return int(m.group(1)) if m else None


# ---- the tunnel --------------------------------------------------------------------------------


@gwtest.timeout(120)
def test_echo_over_h2c_with_the_setting_advertised():
    need_node()
    with WsServer() as s, Gantry(h2_config(s)) as g:
        rc, settings = node("settings", url(g))
        assert settings.get("enableConnectProtocol") is True, settings
        rc, rep = node("echo", url(g))
        assert rc == 0, rep
        assert rep["status"] == 200 and rep["close"] == 1000 and rep["ended"], rep
        up = rep["upstream"]
        # the upstream got an HTTP/1.1 handshake: GET, Upgrade, a key of gantry's
        assert up["url"] == "/ws/chat", up
        assert up["headers"]["upgrade"].lower() == "websocket", up
        assert len(up["headers"]["sec-websocket-key"]) == 24, up
        assert up["headers"]["sec-websocket-version"] == "13", up
        g.wait_log(r'"GET /ws/chat" 200 ', stream="stdout")
        g.wait_log(r"websocket over HTTP/2 closed \(closed\): request \w+ service chat",
                   stream="stderr")
        assert metric(g, r"gantry_tunnels_total (\d+)") == 1
        assert metric(g, r"gantry_tunnels (\d+)") == 0


@gwtest.timeout(120)
def test_echo_over_tls_alpn_h2():
    need_node()
    key, crt = os.path.join(TMP, "k.pem"), os.path.join(TMP, "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt, "-days",
                    "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True)
    with WsServer() as s:
        cfg = gwtest.simple_config(s, prefix="/ws", name="chat")
        port = gwtest.free_port()
        cfg["tls"] = {"listen": "127.0.0.1:%d" % port,
                      "certificates": [{"cert": crt, "key": key}]}
        with Gantry(cfg) as g:
            rc, rep = node("echo", "https://localhost:%d/ws/chat" % port)
            assert rc == 0, rep
            assert rep["text"] and rep["big"], rep


@gwtest.timeout(120)
def test_echo_to_a_wss_upstream():
    # RFC 8441 in front, an https:// target behind: the tunnel decrypts what the upstream
    # sends and encrypts what the client sends (the session the proxy's connection made).
    need_node()
    with WsServer(tls=True) as s, Gantry(h2_config(s)) as g:
        rc, rep = node("echo", url(g))
        assert rc == 0, (rep, g.logs())
        assert rep["status"] == 200 and rep["close"] == 1000 and rep["ended"], rep
        assert rep["text"] and rep["big"], rep
        assert rep["upstream"]["headers"]["upgrade"].lower() == "websocket", rep
        g.wait_log(r"websocket over HTTP/2 closed \(closed\): request \w+ service chat",
                   stream="stderr")
        assert metric(g, r"gantry_upstream_tls_handshakes_total(?:\{[^}]*\})? (\d+)") == 1
        assert metric(g, r"gantry_tunnels (\d+)") == 0


@gwtest.timeout(120)
def test_backpressure_idle_timeout_and_half_close_to_a_wss_upstream():
    need_node()
    mib = 24
    with WsServer(tls=True) as s, Gantry(h2_config(s, websocket={"idle_timeout": "2s"})) as g:
        # A client that reads nothing stops gantry reading the upstream (plaintext held in the
        # TLS session included); once it reads, every byte arrives.
        with Holder(["flood", url(g), str(mib)], first=r"^PAUSED$") as h:
            seen = []

            def settled():
                seen.append(metric(g, r'gantry_tunnel_bytes_total\{direction="out"\} (\d+)') or 0)
                return seen[-1] >= mib << 20 or (len(seen) > 10 and seen[-1] == seen[-10] > 0)

            gwtest.wait_until(settled, 60, interval=0.1, message="upstream reads to settle")
            assert seen[-1] < 16 << 20, "gantry read %d bytes for a client that reads nothing" % (
                seen[-1])
            h.command("resume")
            line = h.wait_line(r"^GOT ", 90)
            assert int(line.split()[1]) >= mib << 20, h.lines
        # The idle timeout: a close frame 1001 each way, the upstream's encrypted.
        with Holder(["hold", url(g)]) as h:
            h.command("ping")
            h.wait_line(r"^PONG$")
            assert h.wait_line(r"^CLOSE ", 30) == "CLOSE 1001"
            h.wait_line(r"^END$", 10)
            gwtest.wait_until(lambda: "CLOSE 1001" in s.events(), 10,
                              message="the upstream heard 1001: " + s.events())
        # The client's END_STREAM: close_notify and FIN towards the upstream, whose end comes
        # back as END_STREAM.
        with Holder(["hold", url(g)]) as h:
            h.command("ping")
            h.wait_line(r"^PONG$")
            h.command("end")
            h.wait_line(r"^END$", 10)
            g.wait_log(r"websocket over HTTP/2 closed \(closed\)", stream="stderr")


def test_no_setting_without_a_websocket_service():
    need_node()
    with Origin() as o:
        cfg = gwtest.simple_config(o, http2={"cleartext": True})
        cfg["services"][0]["websocket"] = {"enabled": False}
        with Gantry(cfg) as g:
            rc, settings = node("settings", url(g, "/"))
            assert not settings.get("enableConnectProtocol"), settings


# ---- the policy chain --------------------------------------------------------------------------


@gwtest.timeout(120)
def test_origin_and_auth_apply_as_for_http1():
    need_node()
    with WsServer() as s:
        cfg = h2_config(s, websocket={"origins": ["https://app.example"], "token_query": "token"},
                        auth={"jwt": {"keys": [{"kid": "k1", "alg": "HS256",
                                                "secret": SECRET}]}})
        cfg["services"][0]["auth"] = {"required": True}
        with Gantry(cfg) as g:
            tok = hs_token(SECRET, claims(sub="ana"), kid="k1")
            good = json.dumps({"origin": "https://app.example"})
            rc, rep = node("handshake", url(g, "/ws/chat?token=" + tok), good)
            assert rep["open"] and rep["status"] == 200, rep
            rc, rep = node("handshake", url(g, "/ws/chat"), good)
            assert rep["status"] == 401, rep
            rc, rep = node("handshake", url(g, "/ws/chat?token=" + tok),
                           json.dumps({"origin": "https://evil.example"}))
            assert rep["status"] == 403, rep
            assert "origin not allowed" in rep["body"], rep
            # the token is redacted in the access log
            assert tok not in g.stdout()
            assert "OPEN /ws/chat" in s.events()


def test_refusals_answer_501():
    need_node()
    with WsServer() as s:
        cfg = h2_config(s, websocket={"routes": [{"match": {"prefix": "/ws/plain"},
                                                  "enabled": False}]},
                        hub={"path": "/hub",
                             "channels": [{"channels": ["news"], "subscribe": ["*"]}]})
        with Gantry(cfg) as g:
            rc, rep = node("handshake", url(g, "/ws/plain"))
            assert rep["status"] == 501 and "extended CONNECT" in rep["body"], rep
            rc, rep = node("handshake", url(g, "/hub/client-1"))
            assert rep["status"] == 501 and "HTTP/1.1 only" in rep["body"], rep
            assert "OPEN" not in s.events()
            c = RawH2(g.port)
            sid = c.connect(protocol="chat")
            assert c.wait(sid)["status"] == b"501", c.streams[sid]


class RawH2:
    """An h2 client from the Python h2 package with validation off: what Node would refuse."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.settimeout(10)
        cfg = h2.config.H2Configuration(client_side=True, validate_outbound_headers=False,
                                        normalize_outbound_headers=False,
                                        validate_inbound_headers=False)
        self.c = h2.connection.H2Connection(cfg)
        self.c.initiate_connection()
        self.sock.sendall(self.c.data_to_send())
        self.streams = {}
        self.settings = {}
        # the server's SETTINGS first
        while h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL not in self.settings:
            if not self.pump():
                break

    def pump(self):
        d = self.sock.recv(1 << 20)
        if not d:
            return False
        for e in self.c.receive_data(d):
            sid = getattr(e, "stream_id", None)
            s = self.streams.get(sid)
            if isinstance(e, h2.events.RemoteSettingsChanged):
                for k, v in e.changed_settings.items():
                    self.settings[k] = v.new_value
            elif isinstance(e, h2.events.ResponseReceived):
                s["status"] = dict(e.headers).get(b":status")
            elif isinstance(e, h2.events.DataReceived):
                s["body"] += e.data
                self.c.acknowledge_received_data(e.flow_controlled_length, sid)
            elif isinstance(e, h2.events.StreamEnded):
                s["ended"] = True
            elif isinstance(e, h2.events.StreamReset) and s is not None:
                s["reset"] = e.error_code
        data = self.c.data_to_send()
        if data:
            self.sock.sendall(data)
        return True

    def headers(self, hdrs, end=False):
        sid = self.c.get_next_available_stream_id()
        self.c.send_headers(sid, hdrs, end_stream=end)
        self.sock.sendall(self.c.data_to_send())
        self.streams[sid] = {"status": None, "body": b"", "ended": False, "reset": None}
        return sid

    def connect(self, protocol="websocket", drop=None, extra=()):
        h = [(":method", "CONNECT"), (":protocol", protocol), (":scheme", "http"),
             (":path", "/ws/chat"), (":authority", "x"), ("sec-websocket-version", "13")]
        h = [kv for kv in h if kv[0] != drop] + list(extra)
        return self.headers(h)

    def wait(self, sid):
        s = self.streams[sid]
        while not (s["ended"] or s["reset"] is not None):
            if not self.pump():
                break
        return s

    def close(self):
        self.sock.close()


def test_malformed_extended_connects_are_reset():
    need_node()
    with WsServer() as s, Gantry(h2_config(s)) as g:
        c = RawH2(g.port)
        assert c.settings.get(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL) == 1
        for drop in (":path", ":scheme", ":authority"):
            sid = c.connect(drop=drop)
            st = c.wait(sid)
            assert st["reset"] == 1 and st["status"] is None, (drop, st)  # PROTOCOL_ERROR
        sid = c.connect(extra=[("content-length", "5")])
        assert c.wait(sid)["reset"] == 1, c.streams[sid]
        # :protocol on a GET (RFC 8441 4: only with CONNECT)
        sid = c.headers([(":method", "GET"), (":protocol", "websocket"), (":scheme", "http"),
                         (":path", "/ws/chat"), (":authority", "x")])
        assert c.wait(sid)["reset"] == 1, c.streams[sid]
        # the connection is fine: a proper one opens
        sid = c.connect()
        while c.streams[sid]["status"] is None:
            c.pump()
        assert c.streams[sid]["status"] == b"200", c.streams[sid]
        c.close()
        gwtest.wait_until(lambda: "OPEN /ws/chat" in s.events(), 10,
                          message="the upstream's handshake")


# ---- backpressure and ends ---------------------------------------------------------------------


@gwtest.timeout(120)
def test_a_client_that_does_not_read_stops_reading_from_the_upstream():
    need_node()
    mib = 48
    with WsServer() as s, Gantry(h2_config(s)) as g:
        with Holder(["flood", url(g), str(mib)], first=r"^PAUSED$") as h:
            rss0 = g.rss_kib()
            seen = []

            def settled():
                seen.append(metric(g, r'gantry_tunnel_bytes_total\{direction="out"\} (\d+)') or 0)
                return seen[-1] >= mib << 20 or (len(seen) > 10 and seen[-1] == seen[-10] > 0)

            gwtest.wait_until(settled, 60, interval=0.1, message="upstream reads to settle")
            held = seen[-1]
            grew = g.rss_kib() - rss0
            assert held < 24 << 20, "gantry read %d bytes for a client that reads nothing" % held
            assert grew < 8 * 1024, "gantry grew by %d KiB" % grew
            h.command("resume")
            line = h.wait_line(r"^GOT ", 90)
            assert int(line.split()[1]) >= mib << 20, h.lines


@gwtest.timeout(60)
def test_idle_timeout_sends_1001_both_ways():
    need_node()
    with WsServer() as s, Gantry(h2_config(s, websocket={"idle_timeout": "1s"})) as g:
        with Holder(["hold", url(g)]) as h:
            h.command("ping")
            h.wait_line(r"^PONG$")
            assert h.wait_line(r"^CLOSE ", 30) == "CLOSE 1001"
            h.wait_line(r"^END$", 10)
            g.wait_log(r"websocket over HTTP/2 closed \(idle timeout\)", stream="stderr")
            gwtest.wait_until(lambda: "CLOSE 1001" in s.events(), 10,
                              message="the upstream heard 1001: " + s.events())


@gwtest.timeout(60)
def test_client_reset_closes_the_upstream_and_the_connection_goes_on():
    # Node's stream.close() sends END_STREAM before its RST_STREAM (a clean half-close, which
    # the upstream hears as a FIN): the reset alone comes from raw frames.
    need_node()
    with WsServer() as s, Gantry(h2_config(s)) as g:
        c = RawH2(g.port)
        sid = c.connect()
        while c.streams[sid]["status"] is None:
            assert c.pump()
        assert c.streams[sid]["status"] == b"200", c.streams[sid]
        gwtest.wait_until(lambda: "OPEN /ws/chat" in s.events(), 10, message="upstream open")
        c.c.reset_stream(sid, CANCEL)
        c.sock.sendall(c.c.data_to_send())
        # the upstream sees its connection end without a close frame (1006)
        gwtest.wait_until(lambda: "CLOSE 1006" in s.events(), 10,
                          message="upstream close: " + s.events())
        g.wait_log(r"websocket over HTTP/2 closed \(client reset the stream\)",
                   stream="stderr")
        # the same connection opens another one
        sid = c.connect()
        while c.streams[sid]["status"] is None:
            assert c.pump()
        assert c.streams[sid]["status"] == b"200", c.streams[sid]
        c.close()


@gwtest.timeout(60)
def test_client_end_stream_half_closes_the_upstream():
    need_node()
    with WsServer() as s, Gantry(h2_config(s)) as g:
        with Holder(["hold", url(g)]) as h:
            h.command("ping")
            h.wait_line(r"^PONG$")
            h.command("end")
            # the ws server ends its side when it hears our FIN; that comes back as END_STREAM
            h.wait_line(r"^END$", 10)
            g.wait_log(r"websocket over HTTP/2 closed \(closed\)", stream="stderr")
            gwtest.wait_until(lambda: re.search(r"CLOSE 100[56]", s.events()), 10,
                              message="upstream close: " + s.events())


@gwtest.timeout(120)
def test_sigterm_ends_tunnels_with_1001_at_drain_timeout():
    need_node()
    with WsServer() as s:
        g = Gantry(h2_config(s, drain_timeout="2s"))
        with Holder(["hold", url(g)]) as h:
            h.command("ping")
            h.wait_line(r"^PONG$")
            g.signal(signal.SIGTERM)
            g.wait_log(r"draining", stream="stderr")
            # the tunnel lives through the drain, then hears 1001 and its stream ends
            assert h.wait_line(r"^CLOSE ", 30) == "CLOSE 1001", h.lines
            h.wait_line(r"^END$", 10)
            assert g.wait_exit(15) == 0, g.logs()
            gwtest.wait_until(lambda: "CLOSE 1001" in s.events(), 10,
                              message="the upstream heard 1001: " + s.events())
            assert "websocket over HTTP/2 closed (gateway going away)" in g.stderr(), g.stderr()
        g.stop(check=True)


# ---- per-stream timeouts -------------------------------------------------------------------------


def h2c(port):
    c = RawH2.__new__(RawH2)
    c.sock = socket.create_connection(("127.0.0.1", port))
    c.sock.settimeout(15)
    cfg = h2.config.H2Configuration(client_side=True, validate_outbound_headers=False,
                                    normalize_outbound_headers=False,
                                    validate_inbound_headers=False)
    c.c = h2.connection.H2Connection(cfg)
    c.c.initiate_connection()
    c.sock.sendall(c.c.data_to_send())
    c.streams = {}
    c.settings = {}
    return c


def post(path, n):
    return [(":method", "POST"), (":path", path), (":scheme", "http"), (":authority", "x"),
            ("content-length", str(n))]


@gwtest.timeout(60)
def test_a_stalled_body_gets_408_and_the_other_streams_go_on():
    with Origin() as o:
        cfg = gwtest.simple_config(o, http2={"cleartext": True},
                                   timeouts={"client_body": "1s", "client_idle": "30s"})
        with Gantry(cfg) as g:
            c = h2c(g.port)
            stalled = c.headers(post("/upload", 1000))
            c.c.send_data(stalled, b"x" * 100)
            c.sock.sendall(c.c.data_to_send())
            # another stream on the same connection, after the stall began
            ok = c.headers([(":method", "GET"), (":path", "/echo/ok"), (":scheme", "http"),
                            (":authority", "x")], end=True)
            c.wait(ok)
            assert c.streams[ok]["status"] == b"200", c.streams[ok]
            st = c.wait(stalled)
            assert st["status"] == b"408", st
            assert b"timed out reading request body" in st["body"], st
            # then RST_STREAM NO_ERROR (RFC 9113 8.1): the client need not finish its upload
            while st["reset"] is None:
                assert c.pump()
            assert st["reset"] == 0, st
            # the connection still serves
            again = c.headers([(":method", "GET"), (":path", "/echo/again"), (":scheme", "http"),
                               (":authority", "x")], end=True)
            assert c.wait(again)["status"] == b"200"
            c.close()
            assert metric(g, r'gantry_http2_refused_total\{kind="body_timeout"\} (\d+)') == 1


@gwtest.timeout(60)
def test_a_stream_left_unread_is_reset_and_the_others_go_on():
    with Origin() as o:
        cfg = gwtest.simple_config(o, http2={"cleartext": True},
                                   timeouts={"client_idle": "1s", "client_body": "30s"})
        with Gantry(cfg) as g:
            c = h2c(g.port)
            # a stream window of 16 KiB that this client never opens for the big stream
            c.c.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 16384})
            c.sock.sendall(c.c.data_to_send())
            big = c.headers([(":method", "GET"), (":path", "/bytes/1000000"), (":scheme", "http"),
                             (":authority", "x")], end=True)
            # the connection's window is given back, the stream's never
            s = c.streams[big]
            small = None
            while s["reset"] is None:
                d = c.sock.recv(1 << 20)
                assert d, "connection closed"
                for e in c.c.receive_data(d):
                    sid = getattr(e, "stream_id", None)
                    st = c.streams.get(sid)
                    if isinstance(e, h2.events.ResponseReceived):
                        st["status"] = dict(e.headers).get(b":status")
                    elif isinstance(e, h2.events.DataReceived):
                        st["body"] += e.data
                        c.c.increment_flow_control_window(e.flow_controlled_length)
                        if sid != big and not e.stream_ended:
                            c.c.increment_flow_control_window(e.flow_controlled_length, sid)
                    elif isinstance(e, h2.events.StreamEnded):
                        st["ended"] = True
                    elif isinstance(e, h2.events.StreamReset):
                        st["reset"] = e.error_code
                c.sock.sendall(c.c.data_to_send())
                if small is None and len(s["body"]) >= 16384:
                    small = c.headers([(":method", "GET"), (":path", "/echo/small"),
                                       (":scheme", "http"), (":authority", "x")], end=True)
            assert s["reset"] == CANCEL and len(s["body"]) == 16384, (s["reset"], len(s["body"]))
            assert small is not None and c.wait(small)["status"] == b"200"
            c.close()
            g.wait_log(r"not reading HTTP/2 stream 1; resetting it", stream="stderr")
            assert metric(g, r'gantry_http2_refused_total\{kind="send_timeout"\} (\d+)') == 1


def teardown():
    shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    try:
        gwtest.main(globals())
    finally:
        teardown()
