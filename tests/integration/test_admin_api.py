#!/usr/bin/env python3
"""The admin API (issue "Control plane"): every endpoint, its success and its errors.

gantry runs with its admin listener on a free loopback port (gwtest gives every gantry one).
Changes through the API must route traffic at once, be written back to the config file (so a
restart keeps them, with ${ENV} references kept), and leave the file and the running config
untouched when they are refused. Auth: a configured key is required on every request; off
loopback a key is mandatory and gantry refuses to start without one.
"""

import hashlib
import json
import os
import re
import socket
import time

import gwtest
from gwtest import Gantry, HttpConn, Origin, request

KEY = "s3cret-admin-key"


# ---- helpers ------------------------------------------------------------------------------------


def svc(name, prefix, *origins, **extra):
    return dict({"name": name, "prefix": prefix, "targets": [o.url() for o in origins]}, **extra)


def config(*services, **top):
    cfg = {"workers": 1, "services": list(services), "log": {"access": "off"}}
    cfg.update(top)
    return cfg


def admin(g, method, path, body=None, headers=None, **kw):
    """One admin request; body (unless bytes, sent as is) is sent as JSON."""
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body)
    hs = list(headers or [])
    if body is not None:
        hs.append(("Content-Type", "application/json"))
    return request(g.admin_port, method, path, headers=hs, body=body, **kw)


def expect_json(r, status):
    assert r.status == status, (r.status, r.body[:500])
    assert r.header("Content-Type") == "application/json", r.headers
    body = r.json()
    if status >= 400:
        assert body["status"] == status and isinstance(body["error"], str), body
    return body


def file_text(g):
    with open(g.config_path) as f:
        return f.read()


def generation(g):
    return expect_json(admin(g, "GET", "/gateway/status"), 200)["generation"]


def served_by(g, path, origin):
    """The request reached origin (whatever it answered)."""
    r = g.request("GET", path)
    return r.header("X-Origin-Port") == str(origin.port)


def not_routed(g, path):
    r = g.request("GET", path)
    return r.status == 404 and r.json()["error"] == "no route matched"


def assert_unchanged(g, before_text, before_gen):
    assert file_text(g) == before_text, "the config file changed"
    assert generation(g) == before_gen, "a reload happened"


# ---- read-only endpoints -------------------------------------------------------------------------


def test_status_health_and_index():
    with Origin() as a, Origin() as b:
        cfg = config(svc("users", "/api/users", a, b), svc("orders", "/api/orders", a), workers=2)
        with Gantry(cfg) as g:
            st = expect_json(admin(g, "GET", "/gateway/status"), 200)
            assert re.match(r"^\d+\.\d+\.\d+", st["version"]), st
            assert st["generation"] == 1 and st["workers"] == 2, st
            assert re.fullmatch(r"[0-9a-f]{64}", st["config_hash"]), st
            assert st["config_path"] == g.config_path, st
            assert isinstance(st["uptime_seconds"], int) and st["uptime_seconds"] >= 0, st
            assert st["reloads"] == {"ok": 0, "failed": 0, "last_ms": 0.0}, st
            assert [s["name"] for s in st["services"]] == ["users", "orders"], st
            assert st["services"][0]["targets"] == [
                {"url": a.url(), "state": "up", "weight": 1},
                {"url": b.url(), "state": "up", "weight": 1},
            ], st
            # connections counts the proxy's clients
            with HttpConn(g.port) as c:
                c.send_request("GET", "/api/users/x")
                assert c.read_response().header("X-Origin-Port") == str(a.port)
                st = expect_json(admin(g, "GET", "/gateway/status"), 200)
                assert st["connections"] == 1, st

            hd = expect_json(admin(g, "GET", "/health/detailed"), 200)
            assert hd == {"status": "ok",
                          "checks": {"config": "ok", "listeners": "ok", "workers": 2}}, hd
            hs = expect_json(admin(g, "GET", "/health/services"), 200)
            assert hs == {"services": [{"name": "users", "targets": 2, "healthy": 2},
                                       {"name": "orders", "targets": 1, "healthy": 1}]}, hs

            idx = expect_json(admin(g, "GET", "/"), 200)
            paths = {(e["method"], e["path"]) for e in idx["endpoints"]}
            for want in [("GET", "/api/services"), ("POST", "/api/services"),
                         ("GET", "/api/services/{name}"), ("PUT", "/api/services/{name}"),
                         ("DELETE", "/api/services/{name}"),
                         ("POST", "/api/services/{name}/targets"),
                         ("DELETE", "/api/services/{name}/targets"),
                         ("GET", "/gateway/routing"), ("GET", "/gateway/status"),
                         ("GET", "/health/detailed"), ("GET", "/health/services"),
                         ("POST", "/api/config/reload")]:
                assert want in paths, (want, paths)


def test_get_services():
    with Origin() as a:
        full = svc("orders", ["/api/orders", "/api/carts"], a, hosts=["api.example.com"],
                   methods=["GET", "POST"], strip_prefix=True, host_header="target",
                   timeouts={"upstream_response": "2m"}, limits={"max_body_bytes": "1k"})
        full["targets"] = [{"url": a.url(), "weight": 3}]
        cfg = config(svc("users", "/api/users", a), full, timeouts={"upstream_connect": "2s"})
        with Gantry(cfg) as g:
            body = expect_json(admin(g, "GET", "/api/services"), 200)
            assert [s["name"] for s in body["services"]] == ["users", "orders"], body
            users = expect_json(admin(g, "GET", "/api/services/users"), 200)
            assert users == {
                "name": "users", "prefix": ["/api/users"], "strip_prefix": False,
                "host_header": "client",
                "timeouts": {"upstream_connect": "2s", "upstream_response": "30s"},
                "limits": {"max_body_bytes": 10 * 1024 * 1024},
                "targets": [{"url": a.url(), "weight": 1}],
            }, users
            assert body["services"][0] == users
            orders = expect_json(admin(g, "GET", "/api/services/orders/"), 200)
            assert orders == {
                "name": "orders", "prefix": ["/api/orders", "/api/carts"],
                "hosts": ["api.example.com"], "methods": ["GET", "POST"], "strip_prefix": True,
                "host_header": "target",
                "timeouts": {"upstream_connect": "2s", "upstream_response": "120s"},
                "limits": {"max_body_bytes": 1024},
                "targets": [{"url": a.url(), "weight": 3}],
            }, orders
            # HEAD: the same head, no body
            with HttpConn(g.admin_port) as c:
                c.send_request("HEAD", "/api/services/users")
                r = c.read_response(head=True)
                assert r.status == 200 and int(r.header("Content-Length")) > 0, r
            e = expect_json(admin(g, "GET", "/api/services/nope"), 404)
            assert e["error"] == 'no service named "nope"', e


def test_routing_table():
    with Origin() as a:
        cfg = config(
            svc("any", "/", a),
            svc("users", ["/api/users", "/api"], a, methods="GET"),
            svc("vhost", "/api/users", a, hosts=["api.example.com", "*.example.com"],
                methods=["POST"], strip_prefix=True),
        )
        with Gantry(cfg) as g:
            body = expect_json(admin(g, "GET", "/gateway/routing"), 200)
            assert body["generation"] == 1, body
            routes = [(r["host"], r["prefix"], r["methods"], r["service"], r["strip_prefix"])
                      for r in body["routes"]]
            # the router's order: exact host, wildcard, any host; longest prefix first
            assert routes == [
                ("api.example.com", "/api/users", ["POST"], "vhost", True),
                ("*.example.com", "/api/users", ["POST"], "vhost", True),
                ("*", "/api/users", ["GET", "HEAD"], "users", False),
                ("*", "/api", ["GET", "HEAD"], "users", False),
                ("*", "/", ["*"], "any", False),
            ], routes


# ---- changes ---------------------------------------------------------------------------------------


def test_create_service_routes_at_once_and_survives_a_restart():
    with Origin() as a, Origin() as b:
        cfg = config(svc("users", "/api/users", a))
        with Gantry(cfg, extra_env={"B_PORT": str(b.port)}) as g:
            assert not_routed(g, "/api/orders/1")
            new = {"name": "orders", "prefix": "/api/orders",
                   "targets": ["http://127.0.0.1:${B_PORT}"]}
            r = admin(g, "POST", "/api/services", new)
            body = expect_json(r, 201)
            assert r.header("Location") == "/api/services/orders", r.headers
            assert body["name"] == "orders" and body["targets"] == [
                {"url": b.url(), "weight": 1}], body
            assert served_by(g, "/api/orders/1", b)
            assert served_by(g, "/api/users/1", a)
            assert generation(g) == 2
            # written back to the file, ${ENV} kept as written
            text = file_text(g)
            saved = json.loads(text)
            assert saved["services"][1] == new, saved
            assert "${B_PORT}" in text
            assert saved["admin"] == {"listen": "127.0.0.1:%d" % g.admin_port}, saved
            # the status hash is the file's
            st = expect_json(admin(g, "GET", "/gateway/status"), 200)
            assert st["config_hash"] == hashlib.sha256(text.encode()).hexdigest(), st
            # a name that exists: 409, nothing changes
            e = expect_json(admin(g, "POST", "/api/services", new), 409)
            assert "already exists" in e["error"], e
            assert_unchanged(g, text, 2)
            path, port, admin_port = g.config_path, g.port, g.admin_port
        # a restart on the same file keeps the change
        with Gantry(text, port=port, extra_env={"B_PORT": str(b.port)}) as g2:
            g2.admin_port = admin_port
            assert served_by(g2, "/api/orders/1", b)
            names = [s["name"] for s in expect_json(admin(g2, "GET", "/api/services"), 200)[
                "services"]]
            assert names == ["users", "orders"], names
        assert os.path.exists(path)


def test_replace_service():
    with Origin() as a, Origin() as b:
        with Gantry(config(svc("users", "/api/users", a), svc("other", "/other", a))) as g:
            r = admin(g, "PUT", "/api/services/users",
                      {"prefix": "/v2/users", "targets": [b.url()], "strip_prefix": True})
            body = expect_json(r, 200)
            assert body["name"] == "users" and body["prefix"] == ["/v2/users"], body
            assert body["strip_prefix"] is True, body
            assert not_routed(g, "/api/users/1")
            r = g.request("GET", "/v2/users/echo/7")
            assert r.status == 200 and r.json()["path"] == "/echo/7", r
            assert r.header("X-Origin-Port") == str(b.port)
            saved = json.loads(file_text(g))["services"]
            assert saved[0] == {"prefix": "/v2/users", "targets": [b.url()],
                                "strip_prefix": True, "name": "users"}, saved
            # the name in the body must match the path (or be absent)
            text, gen = file_text(g), generation(g)
            e = expect_json(admin(g, "PUT", "/api/services/users",
                                  {"name": "renamed", "prefix": "/x", "targets": [a.url()]}), 400)
            assert "does not match" in e["error"], e
            e = expect_json(admin(g, "PUT", "/api/services/ghost",
                                  {"prefix": "/x", "targets": [a.url()]}), 404)
            assert e["error"] == 'no service named "ghost"', e
            # a prefix another service already serves: the validator names it
            e = expect_json(admin(g, "PUT", "/api/services/users",
                                  {"prefix": "/other", "targets": [a.url()]}), 400)
            assert any(".prefix" in x["path"] and "already routed" in x["message"]
                       for x in e["errors"]), e
            assert_unchanged(g, text, gen)


def test_delete_service():
    with Origin() as a:
        with Gantry(config(svc("users", "/api/users", a), svc("orders", "/api/orders", a))) as g:
            assert served_by(g, "/api/orders/1", a)
            body = expect_json(admin(g, "DELETE", "/api/services/orders"), 200)
            assert body == {"status": "ok", "deleted": "orders", "generation": 2}, body
            assert not_routed(g, "/api/orders/1")
            assert served_by(g, "/api/users/1", a)
            assert [s["name"] for s in json.loads(file_text(g))["services"]] == ["users"]
            e = expect_json(admin(g, "DELETE", "/api/services/orders"), 404)
            assert e["error"] == 'no service named "orders"', e
            expect_json(admin(g, "GET", "/api/services/orders"), 404)


def test_add_and_remove_targets():
    with Origin() as a, Origin() as b, Origin() as c:
        with Gantry(config(svc("users", "/api/users", a))) as g:
            # a URL string
            body = expect_json(admin(g, "POST", "/api/services/users/targets", b.url()), 201)
            assert [t["url"] for t in body["targets"]] == [a.url(), b.url()], body
            # a target object
            body = expect_json(admin(g, "POST", "/api/services/users/targets",
                                     {"url": c.url(), "weight": 5}), 201)
            assert body["targets"][2] == {"url": c.url(), "weight": 5}, body
            seen = set()
            for _ in range(30):
                r = g.request("GET", "/api/users/x")
                assert r.header("X-Origin-Port"), r
                seen.add(int(r.header("X-Origin-Port")))
            assert seen == {a.port, b.port, c.port}, seen
            text, gen = file_text(g), generation(g)
            # the same URL twice: 409
            e = expect_json(admin(g, "POST", "/api/services/users/targets", b.url()), 409)
            assert "already has the target" in e["error"], e
            # an invalid target: the validator's message and path
            e = expect_json(admin(g, "POST", "/api/services/users/targets",
                                  {"url": "ftp://x", "weight": 1}), 400)
            assert e["errors"][0]["path"] == "services[0].targets[3].url", e
            e = expect_json(admin(g, "POST", "/api/services/users/targets",
                                  {"url": "http://127.0.0.1:1", "wieght": 2}), 400)
            assert e["errors"][0]["path"] == "services[0].targets[3].wieght", e
            assert 'did you mean "weight"' in e["errors"][0]["message"], e
            e = expect_json(admin(g, "POST", "/api/services/users/targets", 42), 400)
            assert "target object" in e["error"], e
            e = expect_json(admin(g, "POST", "/api/services/nope/targets", b.url()), 404)
            assert_unchanged(g, text, gen)

            # removal: by body, by query
            body = expect_json(admin(g, "DELETE", "/api/services/users/targets",
                                     {"url": b.url()}), 200)
            assert [t["url"] for t in body["targets"]] == [a.url(), c.url()], body
            q = "/api/services/users/targets?url=" + c.url().replace(":", "%3A").replace("/", "%2F")
            body = expect_json(admin(g, "DELETE", q), 200)
            assert [t["url"] for t in body["targets"]] == [a.url()], body
            assert {int(g.request("GET", "/api/users/x").header("X-Origin-Port"))
                    for _ in range(5)} == {a.port}
            text, gen = file_text(g), generation(g)
            # the last target: refused by the validator
            e = expect_json(admin(g, "DELETE", "/api/services/users/targets", {"url": a.url()}),
                            400)
            assert e["errors"] == [{"path": "services[0].targets",
                                    "message": "must have at least 1 target"}], e
            e = expect_json(admin(g, "DELETE", "/api/services/users/targets",
                                  {"url": "http://127.0.0.1:1"}), 404)
            assert "has no target" in e["error"], e
            e = expect_json(admin(g, "DELETE", "/api/services/users/targets"), 400)
            e = expect_json(admin(g, "DELETE", "/api/services/users/targets",
                                  {"url": a.url(), "extra": 1}), 400)
            assert_unchanged(g, text, gen)
            assert served_by(g, "/api/users/x", a)


def test_bad_input_changes_nothing():
    with Origin() as a:
        with Gantry(config(svc("users", "/api/users", a))) as g:
            text, gen = file_text(g), generation(g)
            cases = [
                # invalid JSON
                ("POST", "/api/services", b'{"name": "x",', "invalid JSON"),
                ("POST", "/api/services", b'{"name": "x", "name": "y"}', "invalid JSON"),
                ("POST", "/api/services", b'\xff', "invalid JSON"),
                # missing body, wrong body type
                ("POST", "/api/services", None, "body is required"),
                ("POST", "/api/services", [1, 2], "service object"),
                ("PUT", "/api/services/users", "x", "service object"),
            ]
            for method, path, body, words in cases:
                e = expect_json(admin(g, method, path, body), 400)
                assert words in e["error"], (method, path, body, e)
            # unknown keys, wrong types, missing keys: every problem, with its key path
            e = expect_json(admin(g, "POST", "/api/services",
                                  {"name": "x", "prefx": "/x", "strip_prefix": "maybe",
                                   "targets": [a.url()]}), 400)
            got = {(x["path"], x["message"].split(" (")[0]) for x in e["errors"]}
            assert ("services[1].prefx", 'unknown key "prefx"') in got, e
            assert any(p.startswith("services[1]") and 'required key "prefix"' in m
                       for p, m in got), e
            assert any(p == "services[1].strip_prefix" for p, _ in got), e
            assert set(e["errors"][0]) == {"path", "message"}, e
            e = expect_json(admin(g, "POST", "/api/services",
                                  {"name": "bad name!", "prefix": "/x", "targets": [a.url()]}),
                            400)
            assert e["errors"][0]["path"] == "services[1].name", e
            # a target whose host does not resolve: validated, written, the reload fails on
            # it, and the file is put back
            e = expect_json(admin(g, "POST", "/api/services",
                                  {"name": "x", "prefix": "/x",
                                   "targets": ["http://no-such-host.invalid:1"]}), 422)
            assert "nothing was changed" in e["error"], e
            assert file_text(g) == text
            st = expect_json(admin(g, "GET", "/gateway/status"), 200)
            assert st["reloads"]["failed"] == 1 and st["generation"] == gen, st
            assert_unchanged(g, text, gen)
            assert served_by(g, "/api/users/1", a)


# ---- reload --------------------------------------------------------------------------------------


def test_reload_endpoint():
    with Origin() as a:
        cfg = config(svc("users", "/api/users", a))
        with Gantry(cfg) as g:
            g.write_config(dict(g.config, services=cfg["services"] + [svc("more", "/more", a)]))
            body = expect_json(admin(g, "POST", "/api/config/reload"), 200)
            assert body["status"] == "ok" and body["generation"] == 2, body
            assert served_by(g, "/more/x", a)
            text = '{\n  "workers": 1,\n  "services": [\n    {"name": "x", "prefix": 5}\n  ]\n}\n'
            column = text.split("\n")[3].index("5") + 1
            g.write_config(text)
            e = expect_json(admin(g, "POST", "/api/config/reload"), 422)
            assert "unchanged" in e["error"], e
            paths = {x["path"]: x for x in e["errors"]}
            p = paths["services[0].prefix"]
            assert (p["file"], p["line"], p["column"]) == (g.config_path, 4, column), p
            assert p["message"].startswith("expected"), p
            assert any("targets" in x["message"] for x in e["errors"]), e  # targets missing
            for x in e["errors"]:
                assert set(x) == {"file", "line", "column", "path", "message"}, x
            st = expect_json(admin(g, "GET", "/gateway/status"), 200)
            assert st["reloads"]["ok"] == 1 and st["reloads"]["failed"] == 1, st
            assert st["generation"] == 2, st
            assert served_by(g, "/more/x", a)
            # a change on top of a broken file is refused: the file's own errors are listed
            e = expect_json(admin(g, "POST", "/api/services", svc("y", "/y", a)), 400)
            assert any(x["path"] == "services[0].prefix" for x in e["errors"]), e
            assert file_text(g) == text


# ---- HTTP behaviour --------------------------------------------------------------------------------


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


# ---- authentication ------------------------------------------------------------------------------------


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
