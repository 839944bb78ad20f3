#!/usr/bin/env python3
"""WebSocket upgrade proxying (issue 14): real WebSocket clients and servers (the npm `ws`
package on the machine's Node.js, tests/node/ws_peer.mjs, installed by scripts/deps.sh test)
through the real gantry binary.

- echo through the proxy of text, binary, fragmented and 16 MiB messages; the upstream sees the
  handshake's Upgrade and Sec-WebSocket-* fields; one access-log line (101), one close line
  with duration and bytes, the tunnel metrics;
- authentication on the handshake: 401 before any upgrade, a bearer token in Authorization or
  in the service's token_query parameter (redacted from the logs);
- handshake checks: 400, 426 with Sec-WebSocket-Version, the Origin allow-list (403); h2c and
  upgrades on a service with websocket off are ignored (a plain request goes upstream); an
  upstream that does not switch is relayed as a normal answer;
- a reload under 200 open tunnels closes none; SIGTERM ends tunnels at drain_timeout with a
  close frame 1001 to both sides; the idle timeout ends a tunnel with 1001.
"""
import json
import os
import re
import select
import shutil
import signal
import subprocess
import time

import gwtest
import socket

from gwtest import Gantry, Origin, raw_exchange
from gwtest.servers import RawServer
from gwtest.jose import claims, hs_token
from gwtest.procs import Backend

NODE_DIR = os.path.join(gwtest.REPO, "tests", "node")
PEER = os.path.join(NODE_DIR, "ws_peer.mjs")
SECRET = "ws-test-secret-0123456789abcdefghijklmn"
KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def need_node():
    if shutil.which("node") is None:
        gwtest.skip("node is not installed (scripts/deps.sh test)")
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "ws")):
        gwtest.skip("tests/node/node_modules/ws is missing (scripts/deps.sh test)")


class WsServer(Backend):
    """The ws echo server of ws_peer.mjs; its events ("OPEN /path", "CLOSE code") are in its log."""

    name = "ws-server"

    def __init__(self):
        super().__init__(["node", PEER, "server"])

    def events(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()


def ws_config(server, websocket=None, **top):
    cfg = gwtest.simple_config(server, prefix="/ws", name="chat", **top)
    if websocket is not None:
        cfg["services"][0]["websocket"] = websocket
    return cfg


def node(*args, timeout=120):
    """Runs ws_peer.mjs to completion; returns (exit status, the JSON it printed)."""
    p = subprocess.run(["node", PEER] + list(args), capture_output=True, timeout=timeout,
                       text=True)
    line = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else "{}"
    try:
        return p.returncode, json.loads(line)
    except ValueError:
        raise AssertionError("ws_peer %s printed %r (stderr %r)" % (args, p.stdout, p.stderr))


def url(g, path="/ws/chat"):
    return "ws://127.0.0.1:%d%s" % (g.port, path)


class Holder:
    """ws_peer.mjs hold: n open connections, driven through stdin; its stdout lines in .lines.
    (With argv, any other mode of ws_peer.mjs, first line matching first.)"""

    def __init__(self, ws_url, n, timeout=60, argv=None, first=r"^OPEN \d+$"):
        argv = argv or ["hold", ws_url, str(n)]
        self.proc = subprocess.Popen(["node", PEER] + argv,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self.fd = self.proc.stdout.fileno()
        self.buf = b""
        self.eof = False
        self.lines = []
        self.wait_line(first, timeout)

    def poll_lines(self, wait):
        """Reads what the holder printed within wait seconds into .lines (at once after its
        end: nothing more can come; callers poll with their own deadline)."""
        if self.eof:
            return
        r, _, _ = select.select([self.fd], [], [], wait)
        if not r:
            return
        chunk = os.read(self.fd, 65536)
        self.eof = not chunk
        self.buf += chunk
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            self.lines.append(line.decode().strip())

    def wait_line(self, pattern, timeout=30):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines:
                if rx.search(line):
                    return line
            if time.monotonic() > deadline:
                raise AssertionError("no %r from ws_peer hold within %s s: %r"
                                     % (pattern, timeout, self.lines[-20:]))
            if self.eof:
                raise AssertionError("ws_peer hold exited: %r" % self.lines[-20:])
            self.poll_lines(0.1)

    def command(self, cmd):
        self.proc.stdin.write((cmd + "\n").encode())
        self.proc.stdin.flush()

    def closes(self):
        return [line for line in self.lines if line.startswith("CLOSE ")]

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


def handshake_bytes(path="/ws/chat", extra="", version="13", key=KEY, method="GET"):
    return ("%s %s HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: %s\r\n%s\r\n"
            % (method, path, key, version, extra)).encode()


def status_of(data):
    return int(data.split(b" ", 2)[1])


# ---- echo --------------------------------------------------------------------------------------


@gwtest.timeout(180)
def test_echo_text_binary_fragmented_and_16mib():
    need_node()
    with WsServer() as s, Gantry(ws_config(s)) as g:
        rc, rep = node("echo", url(g, "/ws/echo?room=1"))
        assert rc == 0, rep
        assert rep["text"] and rep["binary"] and rep["fragmented"] and rep["big"], rep
        up = rep["upstream"]
        assert up["url"] == "/ws/echo?room=1", up
        h = up["headers"]
        assert h["upgrade"] == "websocket" and h["connection"].lower() == "upgrade", h
        assert h["sec-websocket-version"] == "13" and len(h["sec-websocket-key"]) == 24, h
        assert "permessage-deflate" in h["sec-websocket-extensions"], h
        assert h["x-forwarded-for"] == "127.0.0.1" and h["x-request-id"], h
        rid = h["x-request-id"]
        # one access-log line with the 101, one close line with duration and bytes
        g.wait_log(r'%s 127\.0\.0\.1 "GET /ws/echo\?room=1" 101 ' % rid)
        m = g.wait_log(r"websocket closed \((client|upstream) closed\): request %s service chat "
                       r"client 127\.0\.0\.1 upstream 127\.0\.0\.1:%d, \d+ ms, (\d+) bytes from "
                       r"the client, (\d+) bytes from the upstream" % (rid, s.port),
                       stream="stderr")
        assert int(m.group(2)) > 16 << 20 and int(m.group(3)) > 16 << 20, m.group(0)
        metrics = g.admin_request("GET", "/metrics").body.decode()
        assert "gantry_tunnels_total 1" in metrics, metrics
        assert "gantry_tunnels 0" in metrics, metrics
        assert 'gantry_tunnel_duration_seconds_count 1' in metrics, metrics
        got = re.search(r'gantry_tunnel_bytes_total\{direction="in"\} (\d+)', metrics)
        assert got and int(got.group(1)) > 16 << 20, metrics


# ---- authentication on the handshake -------------------------------------------------------------


def auth_config(s):
    cfg = ws_config(s, websocket={"token_query": "access_token",
                                  "token_protocol": "access_token."},
                    auth={"jwt": {"keys": [{"kid": "k1", "alg": "HS256", "secret": SECRET}]}})
    cfg["services"][0]["auth"] = {"required": True}
    return cfg


@gwtest.timeout(120)
def test_auth_refused_before_any_upgrade():
    need_node()
    token = hs_token(SECRET, claims(sub="alice"), kid="k1")
    with WsServer() as s, Gantry(auth_config(s)) as g:
        rc, rep = node("handshake", url(g))
        assert not rep["open"] and rep["status"] == 401, rep
        assert json.loads(rep["body"])["status"] == 401, rep
        bad = hs_token("another-secret-0123456789abcdefghijklmnop", claims(), kid="k1")
        rc, rep = node("handshake", url(g, "/ws/chat?access_token=" + bad))
        assert not rep["open"] and rep["status"] == 401, rep
        # the upstream never saw an upgrade
        assert "OPEN" not in s.events(), s.events()

        rc, rep = node("handshake", url(g), json.dumps({"Authorization": "Bearer " + token}))
        assert rep["open"], rep
        assert rep["upstream"]["headers"]["x-user-id"] == "alice", rep
        rc, rep = node("handshake", url(g, "/ws/chat?x=1&access_token=" + token))
        assert rep["open"], rep
        assert rep["upstream"]["headers"]["x-user-id"] == "alice", rep
        rc, rep = node("handshake", url(g), "{}", "chat,access_token." + token)
        assert rep["open"], rep
        assert rep["upstream"]["headers"]["x-user-id"] == "alice", rep
        rc, rep = node("handshake", url(g), "{}", "chat,access_token." + bad)
        assert not rep["open"] and rep["status"] == 401, rep
        # the token stays out of the logs
        g.wait_log(r'"GET /ws/chat\?x=1&access_token=\*\*\*" 101 ')
        assert token not in g.stdout() and token not in g.stderr()
        # the query token is for handshakes only: a plain GET with it is refused
        r = g.request("GET", "/ws/chat?access_token=" + token)
        assert r.status == 401, r


# ---- handshake checks ----------------------------------------------------------------------------


def test_bad_handshakes_are_refused():
    need_node()
    with WsServer() as s, Gantry(ws_config(s, websocket={"origins": ["https://app.example"]})) as g:
        r = raw_exchange(g.port, handshake_bytes(key="short"))
        assert status_of(r) == 400 and b"invalid WebSocket handshake" in r, r
        r = raw_exchange(g.port, handshake_bytes(method="POST", extra="Content-Length: 0\r\n"))
        assert status_of(r) == 400, r
        r = raw_exchange(g.port, handshake_bytes(version="8"))
        assert status_of(r) == 426, r
        assert b"\r\nSec-WebSocket-Version: 13\r\n" in r and b"\r\nUpgrade: websocket\r\n" in r, r
        r = raw_exchange(g.port, handshake_bytes(extra="Origin: https://evil.example\r\n"))
        assert status_of(r) == 403 and b"origin not allowed for WebSocket" in r, r
        assert "OPEN" not in s.events(), s.events()
        rc, rep = node("handshake", url(g), json.dumps({"Origin": "https://app.example"}))
        assert rep["open"], rep


def vary_lines(data):
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]
    return [line for line in head if line.lower().startswith(b"vary:")]


def test_refusals_vary_with_origin():
    """A handshake refused on a service that checks Origin (websocket.origins) or answers CORS
    says Vary: Origin, once, like every other answer there (it is refused before the CORS row,
    which adds it to the others); a refusal elsewhere does not."""
    with Origin() as o:
        cfg = gwtest.simple_config(o, prefix="/ws", name="chat")
        cfg["services"][0]["websocket"] = {"origins": ["https://app.example"]}
        cfg["services"].append({"name": "cors", "prefix": "/c", "targets": [o.target()],
                                "cors": {"origins": ["https://app.example"]}})
        cfg["services"].append({"name": "plain", "prefix": "/p", "targets": [o.target()]})
        with Gantry(cfg) as g:
            r = raw_exchange(g.port, handshake_bytes(extra="Origin: https://evil.example\r\n"))
            assert status_of(r) == 403 and vary_lines(r) == [b"Vary: Origin"], r
            r = raw_exchange(g.port, handshake_bytes(version="8"))
            assert status_of(r) == 426 and vary_lines(r) == [b"Vary: Origin"], r
            assert b"\r\nSec-WebSocket-Version: 13\r\n" in r, r
            r = raw_exchange(g.port, handshake_bytes(path="/c/x", key="short",
                                                     extra="Origin: https://app.example\r\n"))
            assert status_of(r) == 400 and vary_lines(r) == [b"Vary: Origin"], r
            r = raw_exchange(g.port, handshake_bytes(path="/p/x", key="short"))
            assert status_of(r) == 400 and vary_lines(r) == [], r
            # the service's other answers: Vary from its CORS row, as before
            r = g.request("GET", "/c/x", headers={"Origin": "https://app.example"})
            assert r.header("Vary") == "Origin", r


def test_ignored_upgrades_go_upstream_as_plain_requests():
    with Origin() as o:
        cfg = gwtest.simple_config(o, name="plain", prefix="/plain")
        cfg["services"][0]["strip_prefix"] = True
        cfg["services"].append({"name": "off", "prefix": "/off", "targets": [o.target()],
                                "strip_prefix": True, "websocket": False})
        with Gantry(cfg) as g:
            # h2c is refused: the request is served over HTTP/1.1, without its Upgrade
            r = g.request("GET", "/plain/echo", headers={
                "Connection": "Upgrade, HTTP2-Settings", "Upgrade": "h2c",
                "HTTP2-Settings": "AAMAAABkAAQAAP__"})
            assert r.status == 200, r
            seen = {k.lower(): v for k, v in r.json()["headers"]}
            assert "upgrade" not in seen and "http2-settings" not in seen, seen
            # websocket off: the handshake is a plain GET upstream
            r = raw_exchange(g.port, handshake_bytes(path="/off/echo"))
            assert status_of(r) == 200, r
            body = json.loads(r.split(b"\r\n\r\n", 1)[1].split(b"\r\n", 1)[-1]
                              if b"Transfer-Encoding: chunked" in r
                              else r.split(b"\r\n\r\n", 1)[1])
            seen = {k.lower(): v for k, v in body["headers"]}
            assert "upgrade" not in seen, seen
            # an upstream that does not switch: its answer is relayed as a normal response
            r = raw_exchange(g.port, handshake_bytes(path="/plain/status/403"))
            assert status_of(r) == 403, r


def upstream_saw_upgrade(g, path):
    """Sends a handshake for path to an Origin (which never switches) and returns whether the
    request that reached it still had its Upgrade field."""
    r = raw_exchange(g.port, handshake_bytes(path=path))
    assert status_of(r) == 200, r
    body = r.split(b"\r\n\r\n", 1)[1]
    if b"Transfer-Encoding: chunked" in r:
        body = body.split(b"\r\n", 1)[-1]
    seen = {k.lower(): v for k, v in json.loads(body)["headers"]}
    return "upgrade" in seen


def test_per_route_websocket():
    """websocket.routes: the first route covering the path decides, apart from the service."""
    with Origin() as o:
        cfg = gwtest.simple_config(o, name="app", prefix="/app")
        cfg["services"][0]["strip_prefix"] = True
        cfg["services"][0]["websocket"] = {
            "routes": [{"match": {"prefix": "/app/echo/admin"}, "enabled": False}]}
        cfg["services"].append({
            "name": "mostly-off", "prefix": "/off", "targets": [o.target()], "strip_prefix": True,
            "websocket": {"enabled": False, "routes": [{"match": {"prefix": "/off/echo/live"}}]}})
        with Gantry(cfg) as g:
            assert upstream_saw_upgrade(g, "/app/echo/chat")
            assert not upstream_saw_upgrade(g, "/app/echo/admin")
            assert not upstream_saw_upgrade(g, "/app/echo/admin/x")
            assert upstream_saw_upgrade(g, "/app/echo/administrator")  # segment boundaries
            assert upstream_saw_upgrade(g, "/off/echo/live")
            assert not upstream_saw_upgrade(g, "/off/echo/other")
            # a bad handshake on a route without upgrades is not checked: a plain request
            r = raw_exchange(g.port, handshake_bytes(path="/off/echo/other", version="8"))
            assert status_of(r) == 200, r
            r = raw_exchange(g.port, handshake_bytes(path="/off/echo/live", version="8"))
            assert status_of(r) == 426, r


class MqttishServer(RawServer):
    """Answers an "Upgrade: mqtt" request with a 101, then echoes bytes in upper case; any
    other request with a 200 that says whether an Upgrade field came."""

    def serve(self, sock, index):
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                return
            head += chunk
        if b"\r\nupgrade: mqtt\r\n" in head.lower():
            sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                         b"Upgrade: mqtt\r\n\r\n")
            rest = head.split(b"\r\n\r\n", 1)[1]
            if rest:
                sock.sendall(rest.upper())
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    sock.shutdown(socket.SHUT_WR)  # the client's half-close, answered
                    return
                sock.sendall(chunk.upper())
        body = b"upgrade" if b"\r\nupgrade:" in head.lower() else b"plain"
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


def test_other_protocols_only_when_listed():
    with MqttishServer() as up:
        cfg = gwtest.simple_config(up.port, name="mq", prefix="/mq")
        cfg["services"][0]["websocket"] = {"protocols": ["mqtt"]}
        cfg["services"].append({"name": "plain", "prefix": "/plain", "targets": [up.target()]})
        with Gantry(cfg) as g:
            req = (b"GET %s HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: mqtt\r\n"
                   b"\r\nearly")
            with socket.create_connection(("127.0.0.1", g.port), timeout=10) as c:
                c.sendall(req % b"/mq")
                got = b""
                while b"EARLY" not in got:
                    chunk = c.recv(4096)
                    assert chunk, got
                    got += chunk
                assert got.startswith(b"HTTP/1.1 101 "), got
                assert b"\r\nUpgrade: mqtt\r\n" in got and b"\r\nConnection: Upgrade\r\n" in got
                c.sendall(b"ping")
                got = b""
                while len(got) < 4:
                    chunk = c.recv(4096)
                    assert chunk, got
                    got += chunk
                assert got == b"PING", got
            g.wait_log(r"tunnel closed \(client closed\): request \S+ service mq .*, 9 bytes from "
                       r"the client, \d+ bytes from the upstream", stream="stderr")
            # not listed: the upgrade is ignored, a plain request goes upstream
            r = raw_exchange(g.port, req.replace(b"\r\n\r\nearly", b"\r\nConnection: close"
                                                 b"\r\n\r\n") % b"/plain")
            assert status_of(r) == 200 and r.endswith(b"plain"), r


# ---- backpressure --------------------------------------------------------------------------------


def tunnel_bytes(g, direction):
    metrics = g.admin_request("GET", "/metrics").body.decode()
    m = re.search(r'gantry_tunnel_bytes_total\{direction="%s"\} (\d+)' % direction, metrics)
    return int(m.group(1))


@gwtest.timeout(120)
def test_a_client_that_does_not_read_stops_reading_from_the_upstream():
    need_node()
    mib = 64
    with WsServer() as s, Gantry(ws_config(s)) as g:
        with Holder(url(g), 0, argv=["flood", url(g), str(mib)], first=r"^PAUSED$") as h:
            rss0 = g.rss_kib()
            # wait until gantry stops reading from the upstream: the bytes it read from it
            # stand still (kernel buffers full on both legs), or all of them came
            seen = []

            def settled():
                seen.append(tunnel_bytes(g, "out"))
                return seen[-1] >= mib << 20 or (len(seen) > 10 and seen[-1] == seen[-10] > 0)

            gwtest.wait_until(settled, 60, interval=0.1, message="upstream reads to settle")
            held = seen[-1]
            grew = g.rss_kib() - rss0
            # only socket buffers hold the rest: gantry read a small part and keeps little of it
            assert held < 24 << 20, "gantry read %d bytes for a client that reads nothing" % held
            assert grew < 8 * 1024, "gantry grew by %d KiB" % grew
            h.command("resume")
            assert h.wait_line(r"^GOT ", 60) == "GOT %d" % (mib << 20), h.lines
            assert tunnel_bytes(g, "out") >= mib << 20


# ---- reload and drain ----------------------------------------------------------------------------


@gwtest.timeout(180)
def test_reload_under_200_open_tunnels_closes_none():
    need_node()
    with WsServer() as s, Gantry(ws_config(s)) as g:
        with Holder(url(g), 200) as h:
            h.command("check")
            assert h.wait_line(r"^CHECKED ") == "CHECKED 200 200"
            cfg = ws_config(s, websocket={"idle_timeout": "2h"})
            cfg["listen"] = g.config["listen"]
            cfg["services"].append({"name": "other", "prefix": "/other",
                                    "targets": [s.target()]})
            for _ in range(2):
                offset = len(g.stderr())
                g.write_config(cfg)
                g.signal(signal.SIGHUP)
                gwtest.wait_until(lambda: "configuration reloaded" in g.stderr()[offset:], 15,
                                  message="reload")
            h.lines = [line for line in h.lines if not line.startswith("CHECKED")]
            h.command("check")
            assert h.wait_line(r"^CHECKED ") == "CHECKED 200 200", h.lines
            assert h.closes() == [], h.closes()
            assert "websocket closed" not in g.stderr()
            metrics = g.admin_request("GET", "/metrics").body.decode()
            assert "gantry_tunnels 200" in metrics, metrics


@gwtest.timeout(120)
def test_sigterm_closes_tunnels_with_1001_at_drain_timeout():
    need_node()
    with WsServer() as s:
        g = Gantry(ws_config(s, drain_timeout="2s"))
        with Holder(url(g), 3) as h:
            g.signal(signal.SIGTERM)
            # the tunnels live on during the drain, until its timeout
            g.wait_log(r"draining", stream="stderr")
            assert h.closes() == []
            def three_closes():
                h.poll_lines(0.1)
                return len(h.closes()) == 3
            gwtest.wait_until(three_closes, 30, message="three closes")
            assert h.closes() == ["CLOSE 1001"] * 3, h.lines
            g.wait_log(r"drain timeout", stream="stderr")
            assert g.wait_exit(15) == 0, g.logs()
            gwtest.wait_until(lambda: s.events().count("CLOSE 1001") == 3, 10,
                              message="the upstream heard 1001 three times: " + s.events())
            assert g.stderr().count("websocket closed (gateway going away)") == 3, g.stderr()
        g.stop(check=True)


@gwtest.timeout(60)
def test_idle_timeout_ends_a_tunnel_with_1001():
    need_node()
    with WsServer() as s, Gantry(ws_config(s, websocket={"idle_timeout": "1s"})) as g:
        with Holder(url(g), 1) as h:
            assert h.wait_line(r"^CLOSE ", 30) == "CLOSE 1001"
            g.wait_log(r"websocket closed \(idle timeout\)", stream="stderr")


if __name__ == "__main__":
    gwtest.main(globals())
