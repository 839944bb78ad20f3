#!/usr/bin/env python3
"""HTTP/2 over TLS to upstreams (issue 15: services[].upstream_protocol "h2" with https://
targets), against real servers: Node's http2 secure server (tests/node/h2_peer.mjs --tls) and
@grpc/grpc-js with TLS server credentials (tests/node/grpc_peer.mjs server --tls), certificates
made by gwtest.certs (a test CA, a leaf for localhost and 127.0.0.1, a client certificate).

What is checked: the request as the origin sees it (:scheme https, SNI, the body past every
flow-control window), streams multiplexed on one TLS connection (one handshake), trailers to
HTTP/2 clients, session resumption on the next connection after a GOAWAY, a client certificate
for an origin that requires one, verification failures and a server that does not choose h2 in
ALPN answered 502 with one clear log line, health checks over h2+TLS, gRPC calls over TLS.
"""

import concurrent.futures
import hashlib
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading

import gwtest
from gwtest import Backend, Gantry, request
from gwtest.certs import CertDir
from gwtest.origin import OriginServer

NODE_DIR = os.path.join(gwtest.REPO, "tests", "node")
H2_PEER = os.path.join(NODE_DIR, "h2_peer.mjs")
GRPC_PEER = os.path.join(NODE_DIR, "grpc_peer.mjs")

CERTS = CertDir("h2tls")
CERTS.make_ca()
CERTS.make_leaf("local", "localhost", ["DNS:localhost", "IP:127.0.0.1"])
CERTS.make_leaf("gateway", "gantry-gateway", ["DNS:gantry.test"], client=True)
CA = CERTS.path("ca.pem")


def need_node(grpc=False):
    if shutil.which("node") is None:
        gwtest.skip("node is not installed (scripts/deps.sh test)")
    if grpc and not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "@grpc", "grpc-js")):
        gwtest.skip("tests/node/node_modules/@grpc/grpc-js is missing (scripts/deps.sh test)")


class H2TlsOrigin(Backend):
    name = "h2-peer-tls"

    def __init__(self, *args):
        super().__init__(["node", H2_PEER, "--tls", CERTS.path("local.pem"),
                          CERTS.path("local.key")] + list(args))


class GrpcTlsServer(Backend):
    name = "grpc-peer-tls"

    def __init__(self):
        super().__init__(["node", GRPC_PEER, "server", "--tls", CERTS.path("local.pem"),
                          CERTS.path("local.key")])


def config(port, host="localhost", upstream_tls=None, **svc):
    cfg = gwtest.simple_config("https://%s:%d" % (host, port), http2={"cleartext": True},
                               limits={"max_body_bytes": 0},
                               log={"access": "stdout", "level": "debug"},
                               timeouts={"client_body": "30s", "upstream_response": "30s"})
    s = cfg["services"][0]
    s["upstream_protocol"] = "h2"
    s["upstream_tls"] = upstream_tls if upstream_tls is not None else {"ca": CA}
    s.update(svc)
    return cfg


def curl(*args, timeout=30):
    p = subprocess.run(["curl", "-sS", "-m", str(timeout)] + list(args), capture_output=True,
                       timeout=timeout + 5)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def test_requests_are_streams_of_one_verified_tls_connection():
    need_node()
    o = H2TlsOrigin()
    with Gantry(config(o.port)) as g:
        body = os.urandom(3 * 1024 * 1024 + 17)  # past every window on the way
        r = request(g.port, "POST", "/echo?q=1", headers=[("X-Custom", "v1")], body=body,
                    timeout=30)
        assert r.status == 200, (r.status, r.body[:300], g.logs())
        seen = json.loads(r.body)
        assert seen["method"] == "POST" and seen["path"] == "/echo?q=1", seen
        assert seen["headers"][":scheme"] == "https", seen
        assert seen["body_len"] == len(body), seen
        assert seen["body_sha256"] == hashlib.sha256(body).hexdigest(), seen
        assert seen["headers"]["x-custom"] == "v1", seen
        # SNI is the target URL's host, verified against the configured CA.
        assert seen["tls_sni"] == "localhost", seen

        # Concurrent requests: streams of the same connection, one handshake for all.
        def one(i):
            rr = request(g.port, "GET", "/slow?ms=200&i=%d" % i, timeout=30)
            assert rr.status == 200, rr.status
            return json.loads(rr.body)["session"]

        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            sessions = set(ex.map(one, range(8)))
        assert sessions == {seen["session"]}, sessions
        assert g.metric_total("gantry_upstream_tls_handshakes_total") == 1, g.logs()
        assert g.metric_total("gantry_upstream_tls_handshake_failures_total") == 0

        # A response past every window (the target's DATA through the TLS session).
        rc, out, err = curl("-o", "-", "http://127.0.0.1:%d/stream?n=200&size=16384" % g.port)
        assert rc == 0 and len(out) == 200 * 16384, (rc, len(out), err)
        # An answer before the request body ended (RFC 9113 8.1), then a clean close: relayed.
        for i in range(3):
            r = request(g.port, "POST", "/early", body=os.urandom(400 * 1024), timeout=30)
            assert r.status == 200 and r.body == b"early", (i, r.status, r.body[:300])

        # Response trailers reach an HTTP/2 client.
        rc, out, err = curl("--http2-prior-knowledge", "-D", "-",
                            "http://127.0.0.1:%d/stream?n=5&size=1000" % g.port)
        assert rc == 0, err
        assert b"x-trailer: done" in out, out[-300:]
        assert out.count(b"a") + out.count(b"b") > 0


def test_new_connection_after_goaway_resumes_the_session():
    need_node()
    o = H2TlsOrigin()
    with Gantry(config(o.port)) as g:
        r = request(g.port, "GET", "/goaway")
        assert r.status == 200, (r.status, g.logs())
        first = json.loads(r.body)
        assert first["tls_resumed"] is False, first
        # After the GOAWAY the next request goes on a new connection, which resumes the
        # session the first one received (the pool keeps it, as for HTTP/1.1 targets).
        seen = {}

        def second():
            s = json.loads(request(g.port, "GET", "/echo").body)
            seen.update(s)
            return s["session"] != first["session"]

        gwtest.wait_until(second, timeout=10, message="a request on a second connection")
        assert seen["tls_resumed"] is True, seen
        assert g.metric_total("gantry_upstream_tls_resumed_total") >= 1


def test_client_certificate_for_an_origin_that_requires_one():
    need_node()
    o = H2TlsOrigin("--client-ca", CA)
    with Gantry(config(o.port)) as g:
        # Without a client certificate the origin refuses the session (in TLS 1.3 with an
        # alert after the client's side of the handshake completed).
        r = request(g.port, "GET", "/echo")
        gwtest.assert_json_error(r, 502)
        assert "certificate required" in g.logs(), g.logs()
    tls = {"ca": CA, "cert": CERTS.path("gateway.pem"), "key": CERTS.path("gateway.key")}
    with Gantry(config(o.port, upstream_tls=tls)) as g:
        r = request(g.port, "GET", "/echo")
        assert r.status == 200, (r.status, g.logs())
        assert json.loads(r.body)["client_cn"] == "gantry-gateway", r.body


def test_unverified_origin_and_origin_without_h2_get_502():
    need_node()
    o = H2TlsOrigin()
    # The system bundle does not know the test CA: verification fails, 502, one line.
    with Gantry(config(o.port, upstream_tls={})) as g:
        r = request(g.port, "GET", "/echo")
        gwtest.assert_json_error(r, 502)
        assert "TLS handshake failed" in g.logs() and "certificate" in g.logs(), g.logs()
        assert g.metric_total("gantry_upstream_tls_handshake_failures_total") >= 1
    # A wrong host name (the certificate names localhost and 127.0.0.1 only).
    with Gantry(config(o.port, upstream_tls={"ca": CA, "server_name": "other.test"})) as g:
        r = request(g.port, "GET", "/echo")
        gwtest.assert_json_error(r, 502)
        assert "TLS handshake failed" in g.logs(), g.logs()
    # An HTTPS origin that speaks only HTTP/1.1 (no ALPN answer): refused with a clear line.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(CERTS.path("local.pem"), CERTS.path("local.key"))
    with OriginServer(ssl_context=ctx) as h1, Gantry(config(h1.port)) as g:
        r = request(g.port, "GET", "/echo")
        gwtest.assert_json_error(r, 502)
        assert 'did not choose "h2" in ALPN' in g.logs(), g.logs()
    # A peer that closes the connection during the handshake.
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)

    def closer():
        while True:
            try:
                conn, _ = lsock.accept()
            except OSError:
                return
            conn.close()

    threading.Thread(target=closer, daemon=True).start()
    try:
        with Gantry(config(lsock.getsockname()[1])) as g:
            r = request(g.port, "GET", "/echo")
            gwtest.assert_json_error(r, 502)
            # EOF, or a reset or broken pipe when the close beat the ClientHello.
            assert re.search(r"TLS handshake failed: (connection closed by the upstream|"
                             r"connection reset by peer|broken pipe)", g.logs()), g.logs()
            assert "connect failed" not in g.logs(), g.logs()  # one line, not two
            assert g.metric_total("gantry_upstream_tls_handshake_failures_total") >= 1
    finally:
        lsock.close()


def test_health_checks_over_http2_and_tls():
    need_node()
    o = H2TlsOrigin()
    cfg = config(o.port, health_check={"path": "/health", "interval": "300ms",
                                       "timeout": "250ms", "healthy_threshold": 1,
                                       "unhealthy_threshold": 1})
    with Gantry(cfg) as g:
        # The origin speaks only HTTP/2 over TLS: an HTTP/1.1 probe could never see it UP.
        assert gwtest.wait_until(lambda: "is UP" in g.logs(), timeout=10), g.logs()
        assert request(g.port, "GET", "/__set_health/503").status == 200
        assert gwtest.wait_until(lambda: "is DOWN" in g.logs(), timeout=10), g.logs()
        assert "status 503" in g.logs(), g.logs()
        gwtest.assert_json_error(request(g.port, "GET", "/echo"), 503)


def grpc_call(g, kind, messages=None, **opts):
    if messages is not None:
        opts["messages"] = messages
    p = subprocess.run(["node", GRPC_PEER, "call", "127.0.0.1:%d" % g.port, kind,
                        json.dumps(opts)], capture_output=True, timeout=60, text=True)
    lines = p.stdout.strip().splitlines()
    assert p.returncode == 0 and lines, (kind, p.returncode, p.stdout, p.stderr)
    return json.loads(lines[-1])


def test_grpc_calls_over_tls():
    need_node(grpc=True)
    srv = GrpcTlsServer()
    s = {"name": "echo", "prefix": "/gwtest.Echo/", "upstream_protocol": "h2",
         "upstream_tls": {"ca": CA},
         "targets": [{"url": "https://localhost:%d" % srv.port}]}
    cfg = gwtest.simple_config("https://localhost:%d" % srv.port, http2={"cleartext": True},
                               services=[s], timeouts={"upstream_response": "20s"})
    with Gantry(cfg) as g:
        r = grpc_call(g, "unary", [{"text": "hi", "count": 1}])
        assert r["code"] == 0, (r, g.logs())
        assert r["messages"] == [{"text": "echo:hi", "count": 2}], r
        assert r["trailers"].get("x-served-by") == "grpc-peer", r
        r = grpc_call(g, "server", [{"text": "s", "count": 50}])
        assert r["code"] == 0, r
        assert [m["count"] for m in r["messages"]] == list(range(50)), r
        msgs = [{"text": "m%d" % i, "count": i} for i in range(10)]
        r = grpc_call(g, "bidi", msgs)
        assert r["code"] == 0 and len(r["messages"]) == 10, r
        r = grpc_call(g, "unary", [{"text": "fail", "count": 1}])
        assert r["code"] == 5 and r["details"] == "no such thing", r  # NOT_FOUND, passed through
        # grpc-timeout is the upstream deadline over TLS too: DEADLINE_EXCEEDED.
        r = grpc_call(g, "unary", [{"text": "slow:3000", "count": 1}], deadline_ms=500)
        assert r["code"] == 4, r
        assert g.metric_total("gantry_upstream_tls_handshakes_total") == 1, g.logs()


def test_grpc_health_checks_over_tls():
    """health_check.type "grpc" on an "h2" service: grpc.health.v1.Health/Check over TLS
    (:scheme https) decides; SERVING is up, NOT_SERVING takes the target out."""
    need_node(grpc=True)
    srv = GrpcTlsServer()
    s = {"name": "echo", "prefix": "/gwtest.Echo/", "upstream_protocol": "h2",
         "upstream_tls": {"ca": CA}, "retries": False,
         "health_check": {"type": "grpc", "service": "gwtest.Echo", "interval": "600ms",
                          "timeout": "500ms", "healthy_threshold": 1,
                          "unhealthy_threshold": 2},
         "targets": [{"url": "https://localhost:%d" % srv.port}]}
    cfg = gwtest.simple_config("https://localhost:%d" % srv.port, http2={"cleartext": True},
                               services=[s])
    with Gantry(cfg) as g:
        gwtest.wait_until(lambda: g.metric_total("gantry_target_health_check_up") == 1, 15,
                          message="the gRPC check over TLS says up")
        assert grpc_call(g, "unary", [{"text": "hi", "count": 1}])["code"] == 0
        # The target's health answer flips (through gantry, while it is still up).
        r = grpc_call(g, "unary", [{"text": "health:gwtest.Echo=2", "count": 1}])
        assert r["code"] == 0, r
        gwtest.wait_until(lambda: g.metric_total("gantry_target_health_check_up") == 0, 15,
                          message="NOT_SERVING over TLS takes the target out")
        gwtest.wait_until(lambda: "serving status NOT_SERVING" in g.logs(), 5,
                          message="the reason in the log")
        assert grpc_call(g, "unary", [{"text": "hi", "count": 1}])["code"] == 14  # UNAVAILABLE


if __name__ == "__main__":
    gwtest.main(globals())
