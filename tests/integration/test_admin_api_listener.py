#!/usr/bin/env python3
"""The admin listener (issue "Control plane"): HTTP errors, keep-alive, pipelining and bodies
over its limit, the request-head timeout, the API key (required on every request when
configured, mandatory off loopback, never shown), "off", and a start that fails on a port in
use.
"""

import json
import os
import re
import socket
import time

import gwtest
from gwtest import Gantry, HttpConn, Origin
from gwtest.admin_api import admin, config, expect_json, file_text, served_by, svc

KEY = "s3cret-admin-key"


# ---- HTTP behaviour ------------------------------------------------------------------------------


def test_http_errors_keepalive_and_bodies():
    with Origin() as a:
        with Gantry(config(svc("users", "/api/users", a))) as g:
            e = expect_json(admin(g, "GET", "/api/nothing"), 404)
            assert "/api/nothing" in e["error"], e
            r = admin(g, "PATCH", "/api/services")
            expect_json(r, 405)
            assert r.header("Allow") == "GET, HEAD, POST", r.headers
            r = admin(g, "GET", "/api/config/reload")
            expect_json(r, 405)
            assert r.header("Allow") == "POST", r.headers
            # a body over 1 MiB: 413 and the connection closes
            with HttpConn(g.admin_port) as c:
                c.send_request("POST", "/api/services",
                               [("Content-Length", str(1024 * 1024 + 1))])
                r = c.read_response()
                expect_json(r, 413)
                assert c.wait_closed(5)
            # ... also when the client sends the body anyway: the answer is not lost to a reset
            with HttpConn(g.admin_port) as c:
                c.send_request("POST", "/api/services", body=4 * 1024 * 1024)
                expect_json(c.read_response(), 413)
            with HttpConn(g.admin_port) as c:
                c.send_request("POST", "/api/services", [("Transfer-Encoding", "chunked")])
                c.send(gwtest.chunked(b"x" * (1024 * 1024 + 10), size=65536))
                expect_json(c.read_response(), 413)
            # a malformed request: the parser's status, as JSON
            data = gwtest.raw_exchange(g.admin_port, b"GET / HTTP/1.1\r\nHost: x\nA: b\r\n\r\n")
            assert data.startswith(b"HTTP/1.1 400 "), data
            assert b"application/json" in data and b"bare LF" in data, data
            # keep-alive, pipelining and a chunked body on one connection
            with HttpConn(g.admin_port) as c:
                body = json.dumps({"url": "http://127.0.0.1:1"}).encode()
                c.send(gwtest.build_request("GET", "/health/services", None, None, "x")
                       + gwtest.build_request("GET", "/api/services/users", None, None, "x"))
                assert c.read_response().status == 200
                assert c.read_response().json()["name"] == "users"
                c.send_request("POST", "/api/services/users/targets",
                               [("Transfer-Encoding", "chunked")], gwtest.chunked(body, size=7))
                r = c.read_response()
                assert r.status == 201 and len(r.json()["targets"]) == 2, r.body
                c.send_request("DELETE", "/api/services/users/targets",
                               [("Expect", "100-continue")], body)
                r = c.read_response(skip_interim=True)
                assert r.status == 200 and len(r.json()["targets"]) == 1, r.body
                c.send_request("GET", "/", [("Connection", "close")])
                assert c.read_response().status == 200
                assert c.wait_closed(5)


@gwtest.timeout(60)
def test_header_timeout():
    """10 s for a request head from its first byte: 408 JSON, then close. A connection that
    sends nothing is closed quietly after the same time."""
    with Origin() as a:
        with Gantry(config(svc("users", "/api/users", a))) as g:
            with HttpConn(g.admin_port, timeout=20) as slow, \
                    HttpConn(g.admin_port, timeout=20) as mute:
                slow.send(b"GET /gateway/status HTTP/1.1\r\nHost: x\r\n")
                t0 = time.monotonic()
                r = slow.read_response()
                took = time.monotonic() - t0
                e = expect_json(r, 408)
                assert e["error"] == "timed out reading request header", e
                assert 9 <= took <= 13, took
                assert slow.wait_closed(5)
                assert mute.read_raw(5) == b"" and mute.eof
            # the admin listener still answers
            expect_json(admin(g, "GET", "/health/detailed"), 200)


# ---- authentication ------------------------------------------------------------------------------


def test_api_key_required_when_configured():
    with Origin() as a:
        port = gwtest.free_port()
        cfg = config(svc("users", "/api/users", a),
                     admin={"listen": "127.0.0.1:%d" % port, "api_key": "${ADMIN_API_KEY}"})
        with Gantry(cfg, extra_env={"ADMIN_API_KEY": KEY}) as g:
            assert g.admin_port == port
            for path, method in [("/gateway/status", "GET"), ("/api/services", "GET"),
                                 ("/api/config/reload", "POST"), ("/nope", "GET"),
                                 ("/api/services/users", "DELETE")]:
                for headers in ([], [("Authorization", "Bearer wrong")],
                                [("X-API-Key", KEY + "x")], [("Authorization", "Basic " + KEY)],
                                [("X-API-Key", KEY[:-1])]):
                    r = admin(g, method, path, headers=headers)
                    e = expect_json(r, 401)
                    assert r.header("WWW-Authenticate").startswith("Bearer"), r.headers
                    assert "API key" in e["error"], e
            assert served_by(g, "/api/users/1", a)  # nothing was deleted
            for headers in ([("Authorization", "Bearer " + KEY)],
                            [("authorization", "bearer " + KEY)], [("X-API-Key", KEY)]):
                expect_json(admin(g, "GET", "/gateway/status", headers=headers), 200)
            # the key is never shown
            st = admin(g, "GET", "/gateway/status", headers=[("X-API-Key", KEY)])
            assert KEY.encode() not in st.body
            assert KEY not in file_text(g)


def test_non_loopback_admin_requires_a_key():
    with Origin() as a:
        port = gwtest.free_port()
        cfg = config(svc("users", "/api/users", a), listen="127.0.0.1:%d" % gwtest.free_port(),
                     admin={"listen": "0.0.0.0:%d" % port})
        tmp = gwtest._mkdtemp("admin-refusal")
        path = os.path.join(tmp, "gantry.json")
        with open(path, "w") as f:
            json.dump(cfg, f, indent=2)
        for argv in (["-c", path], ["check", path]):
            p = gwtest.run_gantry(argv, timeout=30)
            out = p.stdout + p.stderr
            assert p.returncode == 1, (argv, p.returncode, out)
            assert re.search(r"gantry\.json:\d+:\d+: admin\.listen: .*not a loopback address: "
                             r"set admin\.api_key", out), out
            assert "AddressSanitizer" not in out and "runtime error" not in out, out
        with socket.socket() as s:  # nothing was bound
            assert s.connect_ex(("127.0.0.1", port)) != 0
        # with a key it starts, and the key is required
        cfg["admin"]["api_key"] = KEY
        with Gantry(cfg) as g:
            assert g.admin_port == port
            expect_json(admin(g, "GET", "/health/detailed"), 401)
            expect_json(admin(g, "GET", "/health/detailed",
                              headers=[("Authorization", "Bearer " + KEY)]), 200)


def test_admin_off():
    with Origin() as a:
        port = gwtest.free_port()
        with Gantry(config(svc("users", "/api/users", a), admin={"listen": "off"})) as g:
            assert g.admin_port is None
            assert served_by(g, "/api/users/1", a)
            with socket.socket() as s:
                assert s.connect_ex(("127.0.0.1", port)) != 0
            assert "admin API disabled" in g.stderr()


def test_admin_port_in_use_fails_the_start():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        cfg = config(admin={"listen": "127.0.0.1:%d" % port})
        g = Gantry(cfg, wait_ready=False)
        assert g.wait_exit(10) == 1
        assert re.search(r"admin listen on 127\.0\.0\.1:%d: .*in use" % port, g.stderr()), (
            g.stderr())
        assert "AddressSanitizer" not in g.stderr()


if __name__ == "__main__":
    gwtest.main(globals())
