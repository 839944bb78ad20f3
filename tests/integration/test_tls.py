#!/usr/bin/env python3
"""The HTTPS listener (issue 15, "TLS downstream"), with real clients: curl, openssl s_client
and sslscan. Requests through it, SNI, ALPN, versions and ciphers, plain HTTP sent to it or
redirected to it, a WebSocket upgrade over it, and the example config.

Resumption: test_tls_resumption.py; certificates reloaded, expired, stapled:
test_tls_certificates.py; client certificates: test_tls_client_auth.py. The certificates are
gwtest.tls_listener's.
"""

import json
import os
import re
import shutil

import gwtest
from gwtest import Gantry, Origin, request
from gwtest.tls_listener import (
    curl,
    origin_headers,
    path,
    s_client,
    sh,
    tls_config,
    tls_port,
)


def subject_cn(out):
    m = re.search(r"subject=.*?CN ?= ?([^,\n]+)", out)
    return m.group(1).strip() if m else None


def test_https_request_is_proxied_and_secure():
    with Origin() as o, Gantry(tls_config(o)) as g:
        rc, out = curl(g, "a.test", "/echo/hi?x=1")
        assert rc == 0, out
        assert re.search(r"^HTTP/1.1 200", out, re.M), out
        body = json.loads(out.split("\r\n\r\n", 1)[1])
        assert body["path"] == "/echo/hi?x=1", body
        hdrs = {k.lower(): v for k, v in body["headers"].items()} if isinstance(
            body.get("headers"), dict) else {}
        if hdrs:
            assert hdrs.get("x-forwarded-proto") == "https", hdrs
        # HSTS only over TLS (security headers use r->secure); a 404 of gantry's own too
        assert re.search(r"^strict-transport-security:", out, re.M | re.I), out
        plain = request(g.port, "GET", "/echo/hi")
        assert plain.status == 200 and plain.header("Strict-Transport-Security") is None
        rc, out = curl(g, "a.test", "/nothing-here", ["-X", "DELETE"])
        assert rc == 0 and "strict-transport-security" in out.lower(), out
        assert g.metric_total("gantry_tls_handshakes_total") >= 2


def test_forwarded_proto_is_https():
    with Origin() as o, Gantry(tls_config(o)) as g:
        rc, out = curl(g, "a.test", "/echo/p", ["-H", "X-Forwarded-Proto: http"])
        assert rc == 0, out
        reqs = o.last_requests()
        last = reqs[-1]
        h = {k.lower(): v for k, v in last["headers"].items()} if isinstance(
            last["headers"], dict) else {k.lower(): v for k, v in last["headers"]}
        assert h["x-forwarded-proto"] == "https", h


def test_sni_selects_the_certificate():
    with Origin() as o, Gantry(tls_config(o)) as g:
        for sni, want in [("a.test", "a.test"), ("x.example.com", "*.example.com"),
                          ("api.example.com", "api.example.com"),
                          ("unknown.test", "a.test"), ("a.b.example.com", "a.test")]:
            rc, out = s_client(g, "-servername", sni)
            assert subject_cn(out) == want, (sni, out)
        rc, out = s_client(g, "-noservername")
        assert subject_cn(out) == "a.test", out
        # curl verifies name and chain: right name passes, a name on no certificate fails
        rc, out = curl(g, "x.example.com")
        assert rc == 0, out
        rc, out = curl(g, "wrong.test")
        assert rc == 60 and "wrong.test" in out, (rc, out)  # the default certificate


def test_alpn():
    with Origin() as o, Gantry(tls_config(o)) as g:
        # HTTP/2 is on by default: h2 is preferred, http/1.1 still offered.
        rc, out = s_client(g, "-alpn", "h2,http/1.1")
        assert "ALPN protocol: h2" in out, out
        rc, out = s_client(g, "-alpn", "http/1.1")
        assert "ALPN protocol: http/1.1" in out, out
        # RFC 7301 3.2: a client offering only protocols we do not speak gets the fatal
        # no_application_protocol alert; one that sends no ALPN at all gets HTTP/1.1
        for offer in ("spdy/3", "foo,bar"):
            rc, out = s_client(g, "-alpn", offer, inp=b"GET /echo/x HTTP/1.1\r\nHost: a\r\n\r\n")
            assert rc != 0 and "no application protocol" in out, out
            assert "HTTP/1.1 200" not in out, out
        rc, out = s_client(g, "-ign_eof",
                           inp=b"GET /echo/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        assert "No ALPN negotiated" in out and "HTTP/1.1 200" in out, out
    with Origin() as o:
        cfg = tls_config(o)
        cfg["http2"] = False
        with Gantry(cfg) as g:
            rc, out = s_client(g, "-alpn", "h2,http/1.1")
            assert "ALPN protocol: http/1.1" in out, out
            rc, out = s_client(g, "-alpn", "h2")  # h2 is off: nothing we speak
            assert rc != 0 and "no application protocol" in out, out


def test_versions_and_ciphers():
    with Origin() as o, Gantry(tls_config(o)) as g:
        rc, out = s_client(g, "-tls1_2")
        assert "Protocol  : TLSv1.2" in out and "ECDHE" in out, out
        rc, out = s_client(g, "-tls1_3")
        assert "New, TLSv1.3, Cipher is" in out, out
        before = g.metric_total("gantry_tls_handshake_failures_total")
        rc, out = s_client(g, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
        assert "Cipher is (NONE)" in out or rc != 0, out
        rc, out = s_client(g, "-tls1_2", "-cipher", "AES128-SHA")  # no forward secrecy
        assert "Cipher is (NONE)" in out or rc != 0, out
        gwtest.wait_until(
            lambda: g.metric_total("gantry_tls_handshake_failures_total") >= before + 2, 5,
            message="handshake failures counted")
        assert "TLS handshake failed" in g.stderr(), g.stderr()[-2000:]
    with Origin() as o, Gantry(tls_config(o, min_version="1.3")) as g:
        rc, out = s_client(g, "-tls1_2")
        assert "Cipher is (NONE)" in out or rc != 0, out
        rc, out = s_client(g, "-tls1_3")
        assert "New, TLSv1.3, Cipher is" in out, out


def test_plain_http_to_the_tls_port_is_dropped_and_counted():
    with Origin() as o, Gantry(tls_config(o)) as g:
        before = g.metric_total("gantry_tls_handshake_failures_total")
        data = gwtest.raw_exchange(tls_port(g), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 5)
        assert b"HTTP/1.1" not in data, data
        gwtest.wait_until(lambda: g.metric_total("gantry_tls_handshake_failures_total") > before, 5,
                          message="failure counted")


def test_redirect_plain_http_to_https():
    with Origin() as o:
        cfg = tls_config(o, redirect_http=["a.test", "*.example.com"])
        with Gantry(cfg) as g:
            port = tls_port(g)
            r = request(g.port, "GET", "/echo/x?y=1", headers={"Host": "a.test:%d" % g.port})
            assert r.status == 308, r
            assert r.header("Location") == "https://a.test:%d/echo/x?y=1" % port, r
            assert r.json()["status"] == 308
            r = request(g.port, "POST", "/up", headers={"Host": "Q.Example.com"}, body=b"x")
            assert r.status == 308 and r.header("Location") == "https://q.example.com:%d/up" % port
            r = request(g.port, "GET", "/echo/x", headers={"Host": "other.test"})
            assert r.status == 200, r
            # a fully qualified name (one trailing dot) is the same host (RFC 3986 3.2.2)
            r = request(g.port, "GET", "/echo/d", headers={"Host": "a.test."})
            assert r.status == 308, r
            assert r.header("Location") == "https://a.test:%d/echo/d" % port, r
            r = request(g.port, "GET", "/echo/d", headers={"Host": "Q.example.com.:80"})
            assert r.status == 308, r
            assert r.header("Location") == "https://q.example.com:%d/echo/d" % port, r
            r = request(g.port, "GET", "/echo/x", headers={"Host": "a.test.."})
            assert r.status != 308, r
            r = request(g.port, "GET", "/health", headers={"Host": "a.test"})
            assert r.status == 200, r  # probes stay on plain HTTP
            rc, out = curl(g, "a.test")  # and HTTPS is not redirected
            assert rc == 0 and "HTTP/1.1 200" in out, out


def test_websocket_upgrade_over_https_goes_upstream_with_its_upgrade():
    """A WebSocket handshake on the HTTPS listener is proxied as one (tunnels carry the TLS
    session: test_websocket_tls.py); an upstream that answers 200 is relayed as it is."""
    with Origin() as o, Gantry(tls_config(o)) as g:
        rc, out = curl(g, "a.test", "/echo/ws", [
            "-H", "Connection: Upgrade", "-H", "Upgrade: websocket",
            "-H", "Sec-WebSocket-Version: 13", "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="])
        assert rc == 0 and "HTTP/1.1 200" in out and "101" not in out.split("\r\n")[0], out
        h = origin_headers(o)
        assert h.get("upgrade") == "websocket", h


def test_example_config_with_the_selfsigned_script():
    """examples/gantry-tls.json with a certificate from scripts/gen-selfsigned.sh passes
    gantry check (make run-tls does the same in the source tree)."""
    src = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    certs = path("example-certs")
    rc, out = sh([os.path.join(src, "scripts", "gen-selfsigned.sh"), certs, "localhost",
                  "127.0.0.1"])
    assert rc == 0 and "wrote" in out, out
    rc, out = sh(["openssl", "x509", "-in", os.path.join(certs, "cert.pem"), "-noout", "-ext",
                  "subjectAltName"])
    assert "DNS:localhost" in out and "IP Address:127.0.0.1" in out, out
    assert oct(os.stat(os.path.join(certs, "key.pem")).st_mode & 0o777) == "0o600"
    with open(os.path.join(src, "examples", "gantry-tls.json")) as f:
        cfg = json.load(f)
    for c in cfg["tls"]["certificates"]:
        c["cert"] = os.path.join(certs, os.path.basename(c["cert"]))
        c["key"] = os.path.join(certs, os.path.basename(c["key"]))
    f = path("example-tls.json")
    with open(f, "w") as fh:
        json.dump(cfg, fh)
    r = gwtest.run_gantry(["check", f])
    assert r.returncode == 0 and ": ok" in r.stdout, r


def test_sslscan_finds_no_weak_protocol_or_cipher():
    if not shutil.which("sslscan"):
        gwtest.skip("sslscan is not installed (scripts/deps.sh test)")
    with Origin() as o, Gantry(tls_config(o)) as g:
        rc, out = sh(["sslscan", "--no-colour", "127.0.0.1:%d" % tls_port(g)], timeout=120)
        assert rc == 0, out
        for proto in ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1"):
            assert re.search(r"%s\s+disabled" % re.escape(proto), out), out
        assert re.search(r"TLSv1\.2\s+enabled", out) and re.search(r"TLSv1\.3\s+enabled", out)
        accepted = [line for line in out.splitlines() if line.startswith(("Preferred", "Accepted"))]
        assert accepted, out
        for line in accepted:
            assert not re.search(r"RC4|DES|NULL|EXP|MD5|CBC|SHA1?\b|anon|PSK", line.split(
                "bits", 1)[1] if "bits" in line else line), line
            m = re.search(r"(\d+) bits", line)
            assert m and int(m.group(1)) >= 128, line
        assert "Session renegotiation not supported" in out, out
        heartbleed = [line for line in out.splitlines() if "heartbleed" in line]
        assert heartbleed and all("not vulnerable" in line for line in heartbleed), out
        assert "Compression enabled" not in out, out


if __name__ == "__main__":
    gwtest.main(globals())
