#!/usr/bin/env python3
"""TLS to upstreams (issue 15, "TLS upstream"): https:// targets served by real TLS servers
(the test origin behind Python's ssl module, in-process), with certificates made by the
openssl command in the test's temp dir: a CA, a leaf for localhost and 127.0.0.1, a leaf for
another host, an expired leaf, a self-signed leaf, a client certificate for mTLS to upstreams.

What is checked: verification on by default (a configured CA, or the system bundle that does not
know the test CA), SNI and host verification from the target's host or "server_name", wrong-host,
expired and unknown-CA certificates answered 502 with a precise log line and counted (never a
hang), verify: false, a client certificate for an upstream that requires one, pooling (one
handshake for many requests), session reuse across new connections, health checks over TLS.
"""

import json
import os
import re
import shutil
import signal
import ssl

import gwtest
from gwtest import Gantry, request
from gwtest.certs import CertDir
from gwtest.origin import OriginServer

CERTS = CertDir("tlsup")
TMP = CERTS.dir
path = CERTS.path
make_ca = CERTS.make_ca
make_leaf = CERTS.make_leaf


make_ca()
make_ca("otherca", "another CA")
make_leaf("local", "localhost", ["DNS:localhost", "IP:127.0.0.1"])
make_leaf("other", "other.test", ["DNS:other.test"])
make_leaf("expired", "localhost", ["DNS:localhost", "IP:127.0.0.1"], expired=True)
make_leaf("stranger", "localhost", ["DNS:localhost", "IP:127.0.0.1"], ca="otherca")
make_leaf("gateway", "gantry-gateway", ["DNS:gantry.test"], client=True)


def server_ctx(leaf="local", require_client=False):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(path(leaf + ".pem"), path(leaf + ".key"))
    ctx.sni_names = []

    def on_sni(sock, name, c):
        ctx.sni_names.append(name)

    ctx.sni_callback = on_sni
    if require_client:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(path("ca.pem"))
    return ctx


def config(origin, host="localhost", upstream_tls=None, **extra):
    cfg = gwtest.simple_config(
        {"url": "https://%s:%d" % (host, origin.port)}, log={"access": "stdout", "level": "debug"}
    )
    svc = cfg["services"][0]
    if upstream_tls is not None:
        svc["upstream_tls"] = upstream_tls
    svc.update(extra)
    return cfg


def test_https_target_verified_with_the_configured_ca_and_pooled():
    ctx = server_ctx()
    with OriginServer(ssl_context=ctx) as o, Gantry(
        config(o, upstream_tls={"ca": path("ca.pem")})
    ) as g:
        for i in range(5):
            r = request(g.port, "GET", "/echo/%d" % i)
            assert r.status == 200, (r, g.logs())
            assert r.json()["path"] == "/echo/%d" % i
            assert r.header("X-Origin-Port") == str(o.port)
        st = o.stats()
        # Pooled like plain connections: one handshake carried the five requests.
        assert st["tls_handshakes"] == 1, st
        assert st["requests"] == 5, st
        # SNI is the target URL's host; the Host header is the client's as for http://.
        assert ctx.sni_names == ["localhost"], ctx.sni_names
        assert g.metric_total("gantry_upstream_tls_handshakes_total") == 1
        assert g.metric_total("gantry_upstream_tls_handshake_failures_total") == 0


def test_ip_literal_target_verified_as_an_address_without_sni():
    ctx = server_ctx()
    with OriginServer(ssl_context=ctx) as o, Gantry(
        config(o, host="127.0.0.1", upstream_tls={"ca": path("ca.pem")})
    ) as g:
        r = request(g.port, "GET", "/echo/ip")
        assert r.status == 200, (r, g.logs())
        assert ctx.sni_names == [None], ctx.sni_names  # RFC 6066 3: no IP literal in SNI


def test_server_name_sets_sni_and_the_verified_name():
    ctx = server_ctx("other")
    with OriginServer(ssl_context=ctx) as o, Gantry(
        config(o, host="127.0.0.1", upstream_tls={"ca": path("ca.pem"),
                                                   "server_name": "other.test"})
    ) as g:
        r = request(g.port, "GET", "/echo/sni")
        assert r.status == 200, (r, g.logs())
        assert ctx.sni_names == ["other.test"], ctx.sni_names


def expect_502(g, o, reason):
    r = request(g.port, "GET", "/echo/bad", timeout=20)
    assert r.status == 502, (r, g.logs())
    assert r.json()["status"] == 502
    m = g.wait_log(r"upstream localhost:%d: TLS handshake failed: .*%s" % (o.port, reason), stream="stderr")
    assert m, g.logs()
    gwtest.wait_until(lambda: g.metric_total("gantry_upstream_tls_handshake_failures_total") >= 1,
                      timeout=5)
    assert g.metric_total("gantry_upstream_tls_handshakes_total") == 0


def test_wrong_host_certificate_is_502_with_the_reason():
    with OriginServer(ssl_context=server_ctx("other")) as o, Gantry(
        config(o, upstream_tls={"ca": path("ca.pem")})
    ) as g:
        expect_502(g, o, r"upstream certificate: [Hh]ostname mismatch")


def test_expired_certificate_is_502_with_the_reason():
    with OriginServer(ssl_context=server_ctx("expired")) as o, Gantry(
        config(o, upstream_tls={"ca": path("ca.pem")})
    ) as g:
        expect_502(g, o, r"upstream certificate: certificate has expired")


def test_system_bundle_by_default_refuses_an_unknown_ca_and_verify_false_accepts_it():
    with OriginServer(ssl_context=server_ctx("stranger")) as o:
        with Gantry(config(o)) as g:
            expect_502(g, o, r"upstream certificate: unable to get local issuer certificate")
        with Gantry(config(o, upstream_tls={"verify": False})) as g:
            r = request(g.port, "GET", "/echo/unverified")
            assert r.status == 200, (r, g.logs())


def test_plain_http_speaker_on_an_https_target_is_502_not_a_hang():
    # The origin waits for a request head and never answers the ClientHello: the connect
    # timeout bounds the handshake.
    with OriginServer() as o, Gantry(config(o, upstream_tls={"ca": path("ca.pem")},
                                            timeouts={"upstream_connect": "1s"})) as g:
        r = request(g.port, "GET", "/echo/plain", timeout=20)
        assert r.status == 502, (r, g.logs())
        assert g.wait_log(r"upstream localhost:%d: TLS handshake failed: timed out after 1000 ms"
                          % o.port, stream="stderr"), g.logs()
        assert g.metric_total("gantry_upstream_tls_handshake_failures_total") == 1


def test_upstream_that_requires_a_client_certificate():
    with OriginServer(ssl_context=server_ctx(require_client=True)) as o:
        with Gantry(config(o, upstream_tls={"ca": path("ca.pem")})) as g:
            # TLS 1.3: the client's side of the handshake completes before the server checks
            # its certificate, so the refusal (an alert, then a reset) meets the first request.
            r = request(g.port, "GET", "/echo/nocert", timeout=20)
            assert r.status == 502, (r, g.logs())
            assert g.wait_log(r"upstream localhost:%d: (TLS error: .*certificate required|write "
                              r"failed|connection closed|connection reset)" % o.port,
                              stream="stderr"), g.logs()
            # one line per attempt: a TLS error logged with its reason is not logged again as
            # the reset it ends in
            rid = r.json()["request_id"]
            lines = [ln for ln in g.stderr().splitlines() if rid in ln]
            warns = [ln for ln in lines if " warn " in ln]
            retries = [ln for ln in lines if " retry " in ln]
            assert len(warns) == 1 + len(retries), lines
        with Gantry(config(o, upstream_tls={"ca": path("ca.pem"), "cert": path("gateway.pem"),
                                            "key": path("gateway.key")})) as g:
            r = request(g.port, "GET", "/echo/cert")
            assert r.status == 200, (r, g.logs())
            assert o.stats()["tls_handshakes"] >= 1


def test_new_connections_resume_the_pooled_session():
    # No idle pool: every request opens a connection, and every one after the first resumes.
    with OriginServer(ssl_context=server_ctx()) as o2:
        cfg = config(o2, upstream_tls={"ca": path("ca.pem")})
        cfg["upstream"] = {"keepalive": {"max_idle": 0}}
        with Gantry(cfg) as g:
            for i in range(4):
                r = request(g.port, "GET", "/echo/%d" % i)
                assert r.status == 200, (r, g.logs())
            st = o2.stats()
            assert st["tls_handshakes"] == 4, st
            assert st["tls_resumed"] >= 2, st
            assert g.metric_total("gantry_upstream_tls_resumed_total") >= 2
        cfg["services"][0]["upstream_tls"]["session_reuse"] = False
        o2.reset_stats()
        with Gantry(cfg) as g:
            for i in range(3):
                assert request(g.port, "GET", "/echo/%d" % i).status == 200
            st = o2.stats()
            assert st["tls_handshakes"] == 3 and st["tls_resumed"] == 0, st


def test_health_checks_over_tls():
    hc = {"path": "/health", "interval": "500ms", "timeout": "400ms", "healthy_threshold": 1,
          "unhealthy_threshold": 1}
    with OriginServer(ssl_context=server_ctx()) as good, OriginServer(
        ssl_context=server_ctx("other")
    ) as bad:
        cfg = config(good, upstream_tls={"ca": path("ca.pem")}, health_check=hc)
        cfg["services"][0]["targets"].append({"url": "https://localhost:%d" % bad.port})
        with Gantry(cfg) as g:
            g.wait_log(r"health: target localhost:%d of service svc is UP" % good.port, stream="stderr")
            m = g.wait_log(r"health: target localhost:%d of service svc is DOWN \(.*TLS handshake"
                           % bad.port, stream="stderr")
            assert m, g.logs()
            assert good.stats()["by_path"].get("/health", 0) >= 1
            # Requests go to the healthy target only.
            for i in range(4):
                r = request(g.port, "GET", "/echo/%d" % i)
                assert r.status == 200, (r, g.logs())
                assert r.header("X-Origin-Port") == str(good.port)


def test_gantry_check_names_the_key_and_file():
    cfg = gwtest.simple_config({"url": "https://localhost:1"})
    cfg["services"][0]["upstream_tls"] = {"ca": path("missing.pem"), "cert": path("gateway.pem")}
    p = os.path.join(TMP, "bad.json")
    with open(p, "w") as f:
        json.dump(cfg, f)
    r = gwtest.run_gantry(["check", p])
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert re.search(r"services\[0\]\.upstream_tls\.ca: .*missing\.pem", out), out
    assert "services[0].upstream_tls.cert" in out and "needs both" in out, out


def test_a_ca_file_rewritten_in_place_is_a_new_trust_on_reload():
    # The upstream CA file keeps its path but now holds a CA that did not sign the target: after
    # the reload, neither a pooled connection nor a resumed session made under the old CA may
    # carry a request (the pools are keyed by the files' contents, not their paths).
    shutil.copy(path("ca.pem"), path("inplace-ca.pem"))
    with OriginServer(ssl_context=server_ctx()) as o:
        cfg = config(o, upstream_tls={"ca": path("inplace-ca.pem")})
        with Gantry(cfg) as g:
            for i in range(3):
                r = request(g.port, "GET", "/echo/%d" % i)
                assert r.status == 200, (r, g.logs())
            shutil.copy(path("otherca.pem"), path("inplace-ca.pem"))
            off = len(g.stderr())
            g.signal(signal.SIGHUP)
            gwtest.wait_until(lambda: "configuration reloaded" in g.stderr()[off:], 10,
                              message="reload")
            for i in range(3):
                r = request(g.port, "GET", "/echo/after%d" % i, timeout=20)
                assert r.status == 502, (i, r, g.logs())
            assert g.wait_log(r"upstream localhost:%d: TLS handshake failed: .*certificate"
                              % o.port, stream="stderr"), g.logs()
            # and back: the original CA trusts the target again
            shutil.copy(path("ca.pem"), path("inplace-ca.pem"))
            off = len(g.stderr())
            g.signal(signal.SIGHUP)
            gwtest.wait_until(lambda: "configuration reloaded" in g.stderr()[off:], 10,
                              message="reload")
            r = request(g.port, "GET", "/echo/again")
            assert r.status == 200, (r, g.logs())


if __name__ == "__main__":
    gwtest.main(globals())
