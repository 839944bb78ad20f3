#!/usr/bin/env python3
"""The WebSocket hub (issue 14, "The hub"): a gateway-terminated endpoint hub.path/{client_id}
through the real gantry binary, with real clients (the npm `ws` package on the machine's
Node.js, tests/node/hub_peer.mjs), raw sockets for the frames no good client sends, and a real
redis-server for the fan-out between instances.

- the protocol: subscribe / unsubscribe / publish / ping, error events (the connection stays),
  channel rules with wildcards and {client_id}, targeted delivery, publishing through the admin
  API, the per-client subscription limit;
- the handshake: 426 for a plain request, 401 before any upgrade, the client id bound to the
  identity (403), roles deciding publish rights;
- RFC 6455 answers: an unmasked frame or a reserved bit -> 1002, invalid UTF-8 -> 1007, a
  message over max_message_size -> 1009;
- a slow consumer is cut (its send queue is bounded), the others get every message;
- three instances and Redis: a message published on one reaches every subscriber on every
  instance exactly once; Redis down -> local delivery continues, one log line, no hang;
- a reload closes no hub connection; SIGTERM sends 1001 at drain_timeout; off by default.
"""
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import time

import gwtest
from gwtest import Gantry, Origin
from gwtest.jose import claims, hs_token
from gwtest.redis_server import RedisServer

NODE_DIR = os.path.join(gwtest.REPO, "tests", "node")
PEER = os.path.join(NODE_DIR, "hub_peer.mjs")
SECRET = "hub-test-secret-0123456789abcdefghijklmn"

RULES = [
    {"channels": ["news", "sports.*"], "subscribe": ["*"], "publish": ["editor"]},
    {"channels": ["user.{client_id}"], "subscribe": ["*"]},
    {"channels": ["chat.*"], "subscribe": ["*"], "publish": ["*"]},
]


def need_node():
    if shutil.which("node") is None:
        gwtest.skip("node is not installed (scripts/deps.sh test)")
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "ws")):
        gwtest.skip("tests/node/node_modules/ws is missing (scripts/deps.sh test)")


def hub_config(origin, hub=None, **top):
    cfg = gwtest.simple_config(origin, prefix="/api", name="api", **top)
    h = {"channels": RULES}
    h.update(hub or {})
    cfg["hub"] = h
    return cfg


class Client:
    """hub_peer.mjs: one hub connection driven through stdin; its stdout lines in .lines."""

    def __init__(self, url, headers=None, protocols=None, expect_open=True):
        argv = ["node", PEER, url, json.dumps(headers or {})]
        if protocols:
            argv.append(protocols)
        self.err = open(os.path.join(gwtest.procs._mkdtemp("hubpeer"), "stderr.log"), "w+")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err, bufsize=0)
        self.fd = self.proc.stdout.fileno()
        self.buf = b""
        self.eof = False
        self.lines = []
        self.seen = 0
        first = self.wait_line(r"^(OPEN|FAIL) ")
        if expect_open and not first.startswith("OPEN"):
            raise AssertionError("handshake refused: %s" % first)

    def poll(self, wait):
        if self.eof:
            return
        r, _, _ = select.select([self.fd], [], [], wait)
        if not r:
            return
        chunk = os.read(self.fd, 1 << 20)
        self.eof = not chunk
        self.buf += chunk
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            self.lines.append(line.decode(errors="replace").rstrip("\r"))

    def wait_line(self, pattern, timeout=15, after=0):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines[after:]:
                if rx.search(line):
                    return line
            if time.monotonic() > deadline:
                raise AssertionError("no %r within %s s: %r" % (pattern, timeout, self.tail()))
            if self.eof:
                raise AssertionError("hub_peer exited: %r" % self.tail())
            self.poll(0.05)

    def tail(self):
        self.err.seek(0)
        return [line[:160] for line in self.lines[-8:]] + [self.err.read()[-2000:]]

    def events(self):
        return [json.loads(line[4:]) for line in self.lines if line.startswith("MSG ")]

    def send(self, obj):
        text = obj if isinstance(obj, str) else json.dumps(obj)
        self.proc.stdin.write(("send " + text + "\n").encode())
        self.proc.stdin.flush()

    def command(self, cmd):
        self.proc.stdin.write((cmd + "\n").encode())
        self.proc.stdin.flush()

    def call(self, obj, reply_type=None, timeout=15):
        """Sends obj with a fresh ref and returns the event that answers it."""
        self.seen += 1
        obj = dict(obj, ref="r%d" % self.seen)
        n = len(self.lines)
        self.send(obj)
        line = self.wait_line(r'"ref":"%s"' % obj["ref"], timeout, after=n)
        ev = json.loads(line[4:])
        if reply_type:
            assert ev["type"] == reply_type, ev
        return ev

    def wait_message(self, pred, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            for ev in self.events():
                if ev.get("type") == "message" and pred(ev):
                    return ev
            if time.monotonic() > deadline:
                raise AssertionError("no such message within %s s: %r" % (timeout, self.tail()))
            if self.eof:
                raise AssertionError("hub_peer exited: %r" % self.tail())
            self.poll(0.05)

    def messages(self, channel=None):
        return [ev for ev in self.events()
                if ev.get("type") == "message" and (channel is None or ev["channel"] == channel)]

    def close_code(self, timeout=15):
        line = self.wait_line(r"^CLOSE ", timeout)
        return int(line.split()[1])

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.command("quit")
                self.proc.wait(10)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def ws_url(g, client_id, query=""):
    return "ws://127.0.0.1:%d/ws/%s%s" % (g.port, client_id, query)


def publish(g, channel, data, client_id=None):
    body = {"data": data}
    if client_id:
        body["client_id"] = client_id
    r = g.admin_request("POST", "/api/channels/%s/messages" % channel, body=json.dumps(body),
                        headers={"Content-Type": "application/json"})
    assert r.status == 202, r
    return r.json()["id"]


def prom(g, name):
    """A sample of /metrics (Prometheus text), or None when absent."""
    text = g.admin_request("GET", "/metrics").body.decode()
    m = re.search(r"^%s (\d+)$" % re.escape(name), text, re.M)
    return int(m.group(1)) if m else None


def hub_stats(g):
    r = g.admin_request("GET", "/api/hub")
    assert r.status == 200, r
    return r.json()


# ---- raw frames ---------------------------------------------------------------------------------


def raw_connect(g, client_id="raw"):
    s = socket.create_connection(("127.0.0.1", g.port), timeout=10)
    s.sendall(("GET /ws/%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
               % client_id).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 101 "), head
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head, head
    return s, head.split(b"\r\n\r\n", 1)[1]


def frame(opcode, payload, mask=True, fin=True, rsv=0):
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    if n < 126:
        hdr = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
    if not mask:
        return hdr + payload
    key = os.urandom(4)
    return hdr + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def read_close(s, rest=b"", timeout=10):
    """Reads frames until a close frame; returns its code (None when the stream ended first)."""
    data = rest
    s.settimeout(timeout)
    while True:
        while len(data) >= 2:
            op = data[0] & 0x0F
            n = data[1] & 0x7F
            off = 2
            if n == 126:
                if len(data) < 4:
                    break
                n = struct.unpack("!H", data[2:4])[0]
                off = 4
            elif n == 127:
                if len(data) < 10:
                    break
                n = struct.unpack("!Q", data[2:10])[0]
                off = 10
            if len(data) < off + n:
                break
            payload = data[off:off + n]
            data = data[off + n:]
            if op == 8:
                return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
        chunk = s.recv(65536)
        if not chunk:
            return None
        data += chunk


# ---- the protocol -------------------------------------------------------------------------------


@gwtest.timeout(120)
def test_protocol_subscribe_publish_and_errors():
    need_node()
    with Origin() as o, Gantry(hub_config(o, {"max_subscriptions": 3})) as g, \
            Client(ws_url(g, "alice")) as a, Client(ws_url(g, "bob")) as b:
        assert a.call({"type": "subscribe", "channel": "news"}, "subscribed")["channel"] == "news"
        b.call({"type": "subscribe", "channel": "news"}, "subscribed")
        a.call({"type": "subscribe", "channel": "sports.tennis"}, "subscribed")
        # wildcards and {client_id}: alice's own channel only
        a.call({"type": "subscribe", "channel": "user.alice"}, "subscribed")
        ev = b.call({"type": "subscribe", "channel": "user.alice"}, "error")
        assert ev["code"] == "forbidden", ev
        ev = a.call({"type": "subscribe", "channel": "secret"}, "error")
        assert ev["code"] == "forbidden", ev
        # the per-client limit (3)
        ev = a.call({"type": "subscribe", "channel": "chat.lobby"}, "error")
        assert ev["code"] == "too_many_subscriptions", ev
        # errors never close the connection
        for bad, code in [({"type": "bogus"}, "unknown_type"), ("not json", "bad_json"),
                          ({"type": "subscribe"}, "bad_channel"),
                          ({"type": "subscribe", "channel": "a b"}, "bad_channel"),
                          ({"type": "publish", "channel": "chat.x"}, "missing_data")]:
            n = len(a.lines)
            a.send(bad)
            line = a.wait_line(r'"type":"error"', after=n)
            assert json.loads(line[4:])["code"] == code, (bad, line)
        assert a.call({"type": "ping"}, "pong")

        # backends publish through the admin API; each subscriber gets it once
        mid = publish(g, "news", {"headline": "gantry 2.0"})
        for c in (a, b):
            ev = c.wait_message(lambda e: e["id"] == mid)
            assert ev == {"type": "message", "channel": "news", "id": mid,
                          "data": {"headline": "gantry 2.0"}}, ev
        # targeted delivery: one client only
        tid = publish(g, "user.alice", "for alice", client_id="alice")
        a.wait_message(lambda e: e["id"] == tid)
        # unsubscribe: no more messages from that channel
        b.call({"type": "unsubscribe", "channel": "news"}, "unsubscribed")
        assert b.call({"type": "unsubscribe", "channel": "news"}, "error")["code"] == \
            "not_subscribed"
        mid2 = publish(g, "news", 2)
        a.wait_message(lambda e: e["id"] == mid2)
        assert b.call({"type": "ping"}, "pong")  # b has read everything sent before
        assert [e["id"] for e in b.messages()] == [mid], b.messages()
        assert [e["id"] for e in a.messages("news")] == [mid, mid2], a.messages()
        assert not any(e["id"] == tid for e in b.messages())
        # anonymous clients have no role: publishing to news needs "editor"
        ev = a.call({"type": "publish", "channel": "news", "data": 1}, "error")
        assert ev["code"] == "forbidden", ev
        # binary messages are refused with an error event
        n = len(a.lines)
        a.command("binary xyz")
        assert '"code":"unsupported"' in a.wait_line(r'"type":"error"', after=n)
        st = hub_stats(g)
        assert st["connections"] == 2 and st["published"] == 3, st
        g.wait_log(r'"GET /ws/alice" 101 ')


@gwtest.timeout(60)
def test_plain_requests_and_off_by_default():
    with Origin() as o, Gantry(hub_config(o)) as g:
        r = g.request("GET", "/ws/alice")
        assert r.status == 426 and r.header("Upgrade") == "websocket", r
        r = g.request("GET", "/ws/bad%20id")
        assert r.status == 404, r
        r = g.request("GET", "/api/x")  # the routes are untouched
        assert r.header("X-Origin-Port") == str(o.port), r
    with Origin() as o, Gantry(gwtest.simple_config(o, prefix="/api")) as g:
        r = g.request("GET", "/ws/alice")
        assert r.status == 404, r
        r = g.admin_request("GET", "/api/hub")
        assert r.json() == {"enabled": False}, r.json()
        r = g.admin_request("POST", "/api/channels/news/messages", body='{"data":1}')
        assert r.status == 404, r


def test_origin_refusal_varies_with_origin():
    """hub.origins: a handshake from another origin is refused 403 with Vary: Origin (the answer
    depends on it); one from a listed origin is not refused for its origin."""
    handshake = ("GET /ws/alice HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\n"
                 "Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\nOrigin: %s\r\n\r\n")
    with Origin() as o, Gantry(hub_config(o, {"origins": ["https://app.example"]})) as g:
        r = gwtest.raw_exchange(g.port, (handshake % "https://evil.example").encode())
        head = r.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        assert head[0].startswith(b"HTTP/1.1 403 "), r
        assert [h for h in head if h.lower().startswith(b"vary:")] == [b"Vary: Origin"], r
        with socket.create_connection(("127.0.0.1", g.port), timeout=10) as c:
            c.sendall((handshake % "https://app.example").encode())
            got = b""
            while b"\r\n\r\n" not in got:
                chunk = c.recv(4096)
                assert chunk, got
                got += chunk
            assert got.startswith(b"HTTP/1.1 101 "), got


# ---- the handshake: policies, identity --------------------------------------------------------


def auth_config(o):
    cfg = hub_config(o, {"service": "api"},
                     auth={"jwt": {"keys": [{"kid": "k1", "alg": "HS256", "secret": SECRET}]}})
    cfg["services"][0]["auth"] = {"required": True}
    cfg["services"][0]["websocket"] = {"token_query": "access_token"}
    return cfg


def token(sub, roles=None):
    c = claims(sub=sub)
    if roles:
        c["roles"] = roles
    return hs_token(SECRET, c, kid="k1")


@gwtest.timeout(120)
def test_handshake_runs_the_policy_chain_and_binds_the_id():
    need_node()
    with Origin() as o, Gantry(auth_config(o)) as g:
        c = Client(ws_url(g, "alice"), expect_open=False)
        assert c.lines[0].startswith("FAIL 401 "), c.lines
        c.stop()
        # someone else's id
        c = Client(ws_url(g, "bob"), {"Authorization": "Bearer " + token("alice")},
                   expect_open=False)
        assert c.lines[0].startswith("FAIL 403 "), c.lines
        c.stop()
        with Client(ws_url(g, "alice", "?access_token=" + token("alice", ["editor"]))) as ed, \
                Client(ws_url(g, "bob"), {"Authorization": "Bearer " + token("bob")}) as rd:
            rd.call({"type": "subscribe", "channel": "news"}, "subscribed")
            ev = rd.call({"type": "publish", "channel": "news", "data": "x"}, "error")
            assert ev["code"] == "forbidden", ev
            ev = ed.call({"type": "publish", "channel": "news", "data": {"n": 1}}, "published")
            got = rd.wait_message(lambda e: e["id"] == ev["id"])
            assert got["data"] == {"n": 1}, got
        assert "access_token=***" in g.stdout()
        assert token("alice", ["editor"]) not in g.stdout()


@gwtest.timeout(120)
def test_a_token_carried_in_the_subprotocol_opens_like_a_browser_needs():
    """Browsers cannot set Authorization on a WebSocket; with websocket.token_protocol the token
    rides in Sec-WebSocket-Protocol. A client that offers subprotocols fails the handshake
    unless one comes back (RFC 6455 4.1; browsers and Node's ws enforce it): the hub confirms
    the first protocol offered besides the token, else the token entry itself."""
    need_node()
    with Origin() as o:
        cfg = auth_config(o)
        cfg["services"][0]["websocket"] = {"token_protocol": "access_token."}
        with Gantry(cfg) as g:
            entry = "access_token." + token("alice")
            with Client(ws_url(g, "alice"), protocols=entry) as c:
                assert c.lines[0] == "OPEN " + entry, c.lines[0]
            with Client(ws_url(g, "alice"), protocols="gantry.v1," + entry) as c:
                assert c.lines[0] == "OPEN gantry.v1", c.lines[0]
            c = Client(ws_url(g, "alice"), protocols="access_token.bad", expect_open=False)
            assert c.lines[0].startswith("FAIL 401 "), c.lines
            c.stop()
            assert token("alice") not in g.stdout() + g.stderr()


@gwtest.timeout(120)
def test_backends_publish_on_the_proxy_port_behind_auth():
    """hub.publish_path: POST {path}/{channel}/messages on the proxy port runs the policy chain
    of hub.service (here a required JWT), then the channel rules as for a hub client with the
    caller's roles; subscribers get the message, one client only with "client_id"."""
    need_node()
    with Origin() as o:
        cfg = auth_config(o)
        cfg["hub"]["publish_path"] = "/hub/channels"
        with Gantry(cfg) as g:
            def post(channel, body, tok=None, method="POST", headers=()):
                hs = [("Content-Type", "application/json")] + list(headers)
                if tok:
                    hs.append(("Authorization", "Bearer " + tok))
                return g.request(method, "/hub/channels/%s/messages" % channel,
                                 body=body if isinstance(body, bytes) else json.dumps(body),
                                 headers=hs)
            editor = token("backend", ["editor"])
            with Client(ws_url(g, "alice", "?access_token=" + token("alice"))) as a, \
                    Client(ws_url(g, "bob", "?access_token=" + token("bob"))) as b:
                a.call({"type": "subscribe", "channel": "news"}, "subscribed")
                b.call({"type": "subscribe", "channel": "news"}, "subscribed")
                r = post("news", {"data": {"n": 1}})
                assert r.status == 401, r  # the service's auth runs first
                r = post("news", {"data": {"n": 1}}, token("backend"))
                assert r.status == 403, r  # no role that may publish to news
                r = post("news", {"data": {"n": 2}}, editor)
                assert r.status == 202 and r.json()["channel"] == "news", r
                mid = r.json()["id"]
                for c in (a, b):
                    got = c.wait_message(lambda e: e["id"] == mid)
                    assert got["data"] == {"n": 2}, got
                r = post("news", {"data": "only bob", "client_id": "bob"}, editor)
                assert r.status == 202, r
                only = r.json()["id"]
                got = b.wait_message(lambda e: e["id"] == only)
                assert got["data"] == "only bob", got
                # alice must never get it: a later broadcast arrives, the targeted one did not
                r = post("news", {"data": "after"}, editor)
                after = r.json()["id"]
                a.wait_message(lambda e: e["id"] == after)
                assert only not in [e.get("id") for e in a.events()], a.events()
                # anyone may publish to chat.*, as a hub client may
                r = post("chat.room", {"data": 1}, token("carol"))
                assert r.status == 202, r
                # the hub's counters: 4 published here; 2 + 1 + 2 handed to clients
                gwtest.wait_until(lambda: prom(g, "gantry_hub_messages_published_total") == 4
                                  and prom(g, "gantry_hub_messages_delivered_total") >= 5, 10,
                                  message="hub message counters")
            # bad requests get precise answers
            assert post("news", b"{not json", editor).status == 400
            assert post("news", {"nodata": 1}, editor).status == 400
            assert post("bad*channel", {"data": 1}, editor).status == 404
            r = post("news", {"data": 1}, editor, method="PUT")
            assert r.status == 405 and r.header("Allow") == "POST", r
            r = post("news", {"data": "x" * (70 << 10)}, editor)
            assert r.status == 413, r
            r = g.request("POST", "/hub/channels/news/messages",
                          headers=[("Transfer-Encoding", "chunked"),
                                   ("Authorization", "Bearer " + editor)],
                          body=gwtest.chunked(b'{"data":1}'))
            assert r.status == 411, r
            assert editor not in g.stdout() + g.stderr()
        # needs the service (its auth); never under hub.path
        for hub, why in (({"publish_path": "/pub"}, "needs hub.service"),
                         ({"service": "api", "publish_path": "/ws/pub"}, "overlaps hub.path")):
            path = os.path.join(gwtest._mkdtemp("hubcfg"), "g.json")
            with open(path, "w") as f:
                json.dump(hub_config(o, hub), f)
            p = gwtest.run_gantry(["check", path])
            assert p.returncode != 0 and why in p.stdout + p.stderr, (p.stdout, p.stderr)
            assert "hub.publish_path" in p.stdout + p.stderr, p.stdout + p.stderr


# ---- RFC 6455 answers ---------------------------------------------------------------------------


@gwtest.timeout(60)
def test_bad_frames_get_the_rfc_6455_close_codes():
    with Origin() as o, Gantry(hub_config(o, {"max_message_size": "1KiB"})) as g:
        cases = [
            (frame(1, b'{"type":"ping"}', mask=False), 1002),
            (frame(1, b'{"type":"ping"}', rsv=4), 1002),
            (frame(1, b'"\xff\xfe"'), 1007),
            (frame(1, b"x" * 2048), 1009),
            (frame(1, b'{"type":', fin=False) + frame(0, b"x" * 2048), 1009),
            # control frames: at most 125 bytes, never fragmented (RFC 6455 5.5)
            (frame(9, b"p" * 126), 1002),
            (frame(9, b"p", fin=False), 1002),
            (frame(3, b"x"), 1002),  # a reserved opcode
            (frame(0, b"x"), 1002),  # a continuation with nothing to continue
        ]
        for data, code in cases:
            s, rest = raw_connect(g)
            s.sendall(data)
            assert read_close(s, rest) == code, (data[:16], code)
            s.close()
        # a fragmented message within the cap is one message
        s, rest = raw_connect(g)
        s.sendall(frame(1, b'{"type":', fin=False) + frame(9, b"p") +
                  frame(0, b'"ping","ref":"f1"}'))
        s.settimeout(10)
        data = rest
        while b'"ref":"f1"' not in data:
            chunk = s.recv(4096)
            assert chunk, data
            data += chunk
        assert b'"type":"pong"' in data
        s.sendall(frame(8, struct.pack("!H", 1000)))
        assert read_close(s) == 1000
        s.close()
        assert hub_stats(g)["connections"] == 0 or gwtest.wait_until(
            lambda: hub_stats(g)["connections"] == 0)


# ---- slow consumers -----------------------------------------------------------------------------


@gwtest.timeout(120)
def test_slow_consumer_is_cut_others_unaffected():
    need_node()
    with Origin() as o, Gantry(hub_config(o, {"max_queue": "256KiB"})) as g, \
            Client(ws_url(g, "slow")) as slow, Client(ws_url(g, "fast")) as fast:
        slow.call({"type": "subscribe", "channel": "news"}, "subscribed")
        fast.call({"type": "subscribe", "channel": "news"}, "subscribed")
        slow.command("pause")
        blob = "y" * 16384
        ids = []
        # Enough to fill the socket buffers both ways and then the 256 KiB queue.
        for i in range(400):
            ids.append(publish(g, "news", {"i": i, "blob": blob}))
            if i % 50 == 49 and hub_stats(g)["slow_consumers_cut"] >= 1:
                break
        gwtest.wait_until(lambda: hub_stats(g)["slow_consumers_cut"] >= 1, timeout=30,
                          message="the slow consumer is cut")
        fast.wait_message(lambda e: e["id"] == ids[-1], timeout=30)
        assert [e["id"] for e in fast.messages("news")] == ids
        slow.command("resume")
        assert slow.close_code(30) in (1013, 1006)
        assert len(slow.messages()) < len(ids)
        g.wait_log(r"hub client slow: .* cut as a slow consumer", stream="stderr")
        gwtest.wait_until(lambda: hub_stats(g)["connections"] == 1)


# ---- reload and drain ---------------------------------------------------------------------------


@gwtest.timeout(120)
def test_reload_keeps_and_drain_closes_with_1001():
    need_node()
    with Origin() as o:
        cfg = hub_config(o, {}, drain_timeout="1s")
        g = Gantry(cfg)
        try:
            with Client(ws_url(g, "alice")) as a:
                a.call({"type": "subscribe", "channel": "news"}, "subscribed")
                cfg["services"][0]["strip_prefix"] = True
                g.write_config(cfg)
                r = g.admin_request("POST", "/api/config/reload")
                assert r.status == 200, r
                mid = publish(g, "news", "after reload")
                a.wait_message(lambda e: e["id"] == mid)
                assert a.call({"type": "ping"}, "pong")
                g.signal(signal.SIGTERM)
                assert a.close_code(20) == 1001
            g.wait_exit(20)
        finally:
            g.stop(check=False)


@gwtest.timeout(120)
def test_reload_settings_apply_to_new_connections_open_ones_keep_theirs():
    """A reload changes the path, the channel rules and the limits: a connection opened before
    keeps its settings (and stays open), one opened after gets the new ones."""
    need_node()
    with Origin() as o:
        cfg = hub_config(o, {"max_subscriptions": 3})
        with Gantry(cfg) as g, Client(ws_url(g, "old")) as old:
            old.call({"type": "subscribe", "channel": "news"}, "subscribed")
            cfg["hub"] = {"path": "/live", "max_subscriptions": 1, "ping_interval": "20s",
                          "channels": [{"channels": ["room.*"], "subscribe": ["*"],
                                        "publish": ["*"]}]}
            g.write_config(cfg)
            r = g.admin_request("POST", "/api/config/reload")
            assert r.status == 200, r.body
            # the old path is no hub any more: the request is routed like any other
            r = g.request("GET", "/ws/x")
            assert r.status != 101 and r.status != 426, r
            with Client("ws://127.0.0.1:%d/live/new" % g.port) as new:
                ev = new.call({"type": "subscribe", "channel": "news"}, "error")
                assert ev["code"] == "forbidden", ev
                new.call({"type": "subscribe", "channel": "room.a"}, "subscribed")
                ev = new.call({"type": "subscribe", "channel": "room.b"}, "error")
                assert ev["code"] == "too_many_subscriptions", ev
                # the old connection: its rules (news, sports.*) and its limit (3)
                old.call({"type": "subscribe", "channel": "sports.x"}, "subscribed")
                ev = old.call({"type": "subscribe", "channel": "room.a"}, "error")
                assert ev["code"] == "forbidden", ev
                mid = publish(g, "news", "after the reload")
                old.wait_message(lambda e: e["id"] == mid)
                cid = publish(g, "room.a", "to the new one")
                new.wait_message(lambda e: e["id"] == cid)
                assert hub_stats(g)["connections"] == 2
            assert not any(line.startswith("CLOSE") for line in old.lines), old.lines
            assert "hub client old closed" not in g.stderr()


@gwtest.timeout(120)
def test_hub_over_the_https_listener():
    need_node()
    from test_websocket_tls import path as tls_path  # makes the certificates, sets WS_CA
    with Origin() as o:
        tls = {"listen": "127.0.0.1:%d" % gwtest.free_port(),
               "certificates": [{"cert": tls_path("leaf.pem"), "key": tls_path("leaf.key")}]}
        with Gantry(hub_config(o, {}, tls=tls)) as g:
            url = "wss://127.0.0.1:%s/ws/" % tls["listen"].rsplit(":", 1)[1]
            with Client(url + "alice") as a, Client(url + "bob") as b:
                a.call({"type": "subscribe", "channel": "chat.room"}, "subscribed")
                b.call({"type": "subscribe", "channel": "chat.room"}, "subscribed")
                mid = publish(g, "chat.room", {"big": "z" * 100000})
                for c in (a, b):
                    ev = c.wait_message(lambda e: e["id"] == mid)
                    assert ev["data"]["big"] == "z" * 100000
                pid = b.call({"type": "publish", "channel": "chat.room", "data": "from bob"},
                             "published")["id"]
                a.wait_message(lambda e: e["id"] == pid)
                assert a.call({"type": "ping"}, "pong")
                a.command("quit")
                assert a.close_code() == 1000
                g.wait_log(r"hub client alice closed \(client closed\)", stream="stderr")
                assert hub_stats(g)["connections"] == 1


# ---- several instances and Redis ------------------------------------------------------------------


def redis_config(o, rs):
    return hub_config(o, {"backend": "redis"},
                      rate_limit={"redis": {"url": rs.url(), "timeout": "1s",
                                            "backoff_min": "50ms", "backoff_max": "300ms"}})


@gwtest.timeout(180)
def test_three_instances_share_channels_through_redis():
    need_node()
    with Origin() as o, RedisServer() as rs:
        gs = [Gantry(redis_config(o, rs)) for _ in range(3)]
        clients = []
        try:
            for g in gs:
                g.wait_log(r"hub: redis at \S+ is up", stream="stderr", timeout=10)
            for i, g in enumerate(gs):
                for k in range(2):
                    c = Client(ws_url(g, "c%d%d" % (i, k)))
                    c.call({"type": "subscribe", "channel": "chat.room"}, "subscribed")
                    clients.append(c)
            # published on each instance in turn, by the admin API and by a client
            ids = [publish(gs[0], "chat.room", {"from": "backend 0"})]
            ids.append(clients[2].call({"type": "publish", "channel": "chat.room",
                                        "data": "from c10"}, "published")["id"])
            ids.append(publish(gs[2], "chat.room", {"from": "backend 2"}))
            for c in clients:
                c.wait_message(lambda e: e["id"] == ids[-1])
            for c in clients:
                assert c.call({"type": "ping"}, "pong")
                got = [e["id"] for e in c.messages("chat.room")]
                assert sorted(got) == sorted(ids), (got, ids)  # each exactly once
            # targeted delivery crosses instances too
            tid = publish(gs[0], "chat.room", "psst", client_id="c21")
            clients[5].wait_message(lambda e: e["id"] == tid)

            for g in gs:
                assert prom(g, 'gantry_redis_up{use="hub"}') == 1
                assert prom(g, 'gantry_redis_connects_total{use="hub"}') == 1
                assert hub_stats(g)["redis_reconnects"] == 0
            # Redis goes away: local delivery continues, a log line, no hang
            rs.kill()
            for g in gs:
                g.wait_log(r"hub: redis at \S+ is down", stream="stderr", timeout=15)
            lid = publish(gs[1], "chat.room", "while redis is down")
            clients[2].wait_message(lambda e: e["id"] == lid)
            clients[3].wait_message(lambda e: e["id"] == lid)
            assert clients[2].call({"type": "publish", "channel": "chat.room", "data": 1},
                                   "published")
            st = hub_stats(gs[1])
            assert st["redis_up"] is False and st["redis_local_deliveries"] >= 2, st
            for c in (clients[0], clients[4]):
                assert c.call({"type": "ping"}, "pong")
                assert not any(e["id"] == lid for e in c.messages()), c.messages()
            assert len(re.findall(r"hub: redis at \S+ is down", gs[1].stderr())) == 1
            assert prom(gs[1], 'gantry_redis_up{use="hub"}') == 0
            assert prom(gs[1], "gantry_hub_redis_local_deliveries_total") >= 2
            # and back
            rs.start()
            for g in gs:
                g.wait_log(r"hub: redis at \S+ is up", stream="stderr", timeout=15)
            gwtest.wait_until(lambda: all(hub_stats(g)["redis_up"] for g in gs), timeout=15)
            for g in gs:
                assert prom(g, 'gantry_redis_up{use="hub"}') == 1
                assert prom(g, 'gantry_redis_connects_total{use="hub"}') == 2
                assert hub_stats(g)["redis_reconnects"] == 1
        finally:
            for c in clients:
                c.stop()
            for g in gs:
                g.stop()


if __name__ == "__main__":
    gwtest.main(globals())
