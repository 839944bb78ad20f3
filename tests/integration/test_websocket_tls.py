#!/usr/bin/env python3
"""WebSocket tunnels over TLS (issue 14 on issue 15's TLS): real WebSocket clients and servers
(the npm `ws` package, tests/node/ws_peer.mjs, trusting the test CA through WS_CA) through the
real gantry binary.

- wss:// on the HTTPS listener to a plain ws:// backend: echo of text, binary, fragmented and
  16 MiB messages, the close line and the tunnel metrics;
- ws:// on the plain listener to an https:// target (a wss:// backend, certificate verified with
  the configured CA): echo, the upstream's TLS handshake counted;
- TLS on both sides: echo, and a client that stops reading while the backend floods it: gantry
  stops reading from the backend (the rest waits in the kernel and in the sessions) and
  everything arrives once the client reads again;
- SIGTERM ends a wss:// tunnel to a wss:// backend with a close frame 1001 each way, through
  both sessions.

Certificates are made with the openssl command in the test's temp dir.
"""
import os
import re
import signal
import subprocess
import tempfile

import gwtest
from gwtest import Gantry
from gwtest.procs import Backend

from test_websocket import PEER, Holder, need_node, node, tunnel_bytes

TMP = tempfile.mkdtemp(prefix="gw-wstls-")


def path(name):
    return os.path.join(TMP, name)


def sh(args):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    assert p.returncode == 0, p.stdout.decode("utf-8", "replace")


def make_certs():
    sh(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-days", "30", "-subj", "/CN=gantry wss test CA", "-keyout", path("ca.key"),
        "-out", path("ca.pem"), "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    sh(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-subj", "/CN=localhost", "-keyout", path("leaf.key"), "-out", path("leaf.csr")])
    with open(path("leaf.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    sh(["openssl", "x509", "-req", "-in", path("leaf.csr"), "-CA", path("ca.pem"), "-CAkey",
        path("ca.key"), "-CAcreateserial", "-days", "30", "-out", path("leaf.pem"), "-extfile",
        path("leaf.ext")])


make_certs()
# Every ws_peer.mjs client of this file trusts the test CA.
os.environ["WS_CA"] = path("ca.pem")


class WsServer(Backend):
    """ws_peer.mjs's echo server, plain (ws://) or with the test certificate (wss://)."""

    name = "ws-server"

    def __init__(self, tls=False):
        env = dict(os.environ)
        if tls:
            env.update(WS_TLS_CERT=path("leaf.pem"), WS_TLS_KEY=path("leaf.key"))
        self.tls = tls
        super().__init__(["node", PEER, "server"], env=env)

    def events(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()


def config(server, listener_tls=False, **top):
    if server.tls:
        target = {"url": "https://localhost:%d" % server.port}
    else:
        target = server.target()
    cfg = gwtest.simple_config(target, prefix="/ws", name="chat",
                               log={"access": "stdout", "level": "debug"}, **top)
    if server.tls:
        cfg["services"][0]["upstream_tls"] = {"ca": path("ca.pem")}
    if listener_tls:
        cfg["tls"] = {"listen": "127.0.0.1:%d" % gwtest.free_port(),
                      "certificates": [{"cert": path("leaf.pem"), "key": path("leaf.key")}]}
    return cfg


def wss_url(g, p="/ws/echo"):
    return "wss://127.0.0.1:%d%s" % (int(g.config["tls"]["listen"].rsplit(":", 1)[1]), p)


def ws_url(g, p="/ws/echo"):
    return "ws://127.0.0.1:%d%s" % (g.port, p)


def metric(g, name):
    """The sum of a metric's samples (some are per worker)."""
    text = g.admin_request("GET", "/metrics").body.decode()
    found = re.findall(r"^%s(?:\{[^}]*\})? (\d+)$" % re.escape(name), text, re.M)
    return sum(int(v) for v in found) if found else None


def check_echo(g, s, u):
    rc, rep = node("echo", u)
    assert rc == 0, rep
    assert rep["text"] and rep["binary"] and rep["fragmented"] and rep["big"], rep
    h = rep["upstream"]["headers"]
    assert h["upgrade"] == "websocket" and len(h["sec-websocket-key"]) == 24, h
    rid = h["x-request-id"]
    g.wait_log(r'%s 127\.0\.0\.1 "GET /ws/echo" 101 ' % rid)
    m = g.wait_log(r"websocket closed \((client|upstream) closed\): request %s service chat "
                   r"client 127\.0\.0\.1 upstream [a-z0-9.]+:%d, \d+ ms, (\d+) bytes from the "
                   r"client, (\d+) bytes from the upstream" % (rid, s.port), stream="stderr")
    # 16 MiB each way, in plaintext (the records are not counted)
    assert 16 << 20 < int(m.group(2)) < 17 << 20, m.group(0)
    assert 16 << 20 < int(m.group(3)) < 17 << 20, m.group(0)
    assert metric(g, "gantry_tunnels_total") == 1
    gwtest.wait_until(lambda: metric(g, "gantry_tunnels") == 0, 10, message="tunnel closed")


@gwtest.timeout(180)
def test_wss_listener_to_a_plain_backend():
    need_node()
    with WsServer() as s, Gantry(config(s, listener_tls=True)) as g:
        check_echo(g, s, wss_url(g))


@gwtest.timeout(180)
def test_plain_listener_to_an_https_target():
    need_node()
    with WsServer(tls=True) as s, Gantry(config(s)) as g:
        check_echo(g, s, ws_url(g))
        assert metric(g, "gantry_upstream_tls_handshakes_total") == 1


@gwtest.timeout(180)
def test_tls_on_both_sides():
    need_node()
    with WsServer(tls=True) as s, Gantry(config(s, listener_tls=True)) as g:
        check_echo(g, s, wss_url(g))


@gwtest.timeout(180)
def test_backpressure_through_both_sessions():
    need_node()
    mib = 64
    # OpenSSL allocates and frees a record buffer per record (SSL_MODE_RELEASE_BUFFERS): under
    # AddressSanitizer's quarantine every freed one would stay resident and the RSS measure
    # would count the traffic, not what gantry holds.
    asan = os.environ.get("ASAN_OPTIONS", "detect_leaks=1") + ":quarantine_size_mb=0"
    with WsServer(tls=True) as s, \
            Gantry(config(s, listener_tls=True), extra_env={"ASAN_OPTIONS": asan}) as g:
        u = wss_url(g)
        with Holder(u, 0, argv=["flood", u, str(mib)], first=r"^PAUSED$") as h:
            rss0 = g.rss_kib()
            seen = []

            def settled():
                seen.append(tunnel_bytes(g, "out"))
                return seen[-1] >= mib << 20 or (len(seen) > 10 and seen[-1] == seen[-10] > 0)

            gwtest.wait_until(settled, 60, interval=0.1, message="upstream reads to settle")
            assert seen[-1] < 24 << 20, "gantry read %d bytes for a client that reads nothing" \
                % seen[-1]
            grew = g.rss_kib() - rss0
            assert grew < 8 * 1024, "gantry grew by %d KiB" % grew
            h.command("resume")
            assert h.wait_line(r"^GOT ", 60) == "GOT %d" % (mib << 20), h.lines
            assert tunnel_bytes(g, "out") >= mib << 20


@gwtest.timeout(120)
def test_sigterm_sends_1001_through_both_sessions():
    need_node()
    with WsServer(tls=True) as s:
        g = Gantry(config(s, listener_tls=True, drain_timeout="1s"))
        with Holder(wss_url(g), 2) as h:
            g.signal(signal.SIGTERM)

            def two_closes():
                h.poll_lines(0.1)
                return len(h.closes()) == 2
            gwtest.wait_until(two_closes, 30, message="two closes")
            assert h.closes() == ["CLOSE 1001"] * 2, h.lines
            assert g.wait_exit(15) == 0, g.logs()
            gwtest.wait_until(lambda: s.events().count("CLOSE 1001") == 2, 10,
                              message="the upstream heard 1001 twice: " + s.events())
        g.stop(check=True)


if __name__ == "__main__":
    gwtest.main(globals())
