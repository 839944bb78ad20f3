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
            assert [{k: v for k, v in t.items() if k != "since"}
                     for t in st["services"][0]["targets"]] == [
                {"url": a.url(), "state": "up", "weight": 1, "in_flight": 0, "ewma_ms": None},
                {"url": b.url(), "state": "up", "weight": 1, "in_flight": 0, "ewma_ms": None},
            ], st
            assert st["last_reload"] is None and st["dashboard"] is True, st
            assert st["registration"] is False, st
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
            for s in hs["services"]:
                s.pop("target_states")
            assert hs == {"services": [{"name": "users", "targets": 2, "healthy": 2},
                                       {"name": "orders", "targets": 1, "healthy": 1}]}, hs

            idx = expect_json(admin(g, "GET", "/"), 200)
            paths = {(e["method"], e["path"]) for e in idx["endpoints"]}
            for want in [("GET", "/api/services"), ("POST", "/api/services"),
                         ("GET", "/api/services/{name}"), ("PUT", "/api/services/{name}"),
                         ("PATCH", "/api/services/{name}"), ("DELETE", "/api/services/{name}"),
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
            # as the file holds it: keys, units and shorthands as written, no defaults added
            assert users == svc("users", "/api/users", a), users
            assert body["services"][0] == users
            orders = expect_json(admin(g, "GET", "/api/services/orders/"), 200)
            assert orders == full, orders
            assert body["services"][1] == orders
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
            assert body == new, body  # the service as the file now holds it
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
            assert body["name"] == "users" and body["prefix"] == "/v2/users", body
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
                                  {"prefix": "/other", "targets": [a.url()],
                                   "strip_prefix": True}), 400)
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
            assert body["targets"] == [a.url(), b.url()], body
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
            assert body["targets"] == [a.url(), {"url": c.url(), "weight": 5}], body
            q = "/api/services/users/targets?url=" + c.url().replace(":", "%3A").replace("/", "%2F")
            body = expect_json(admin(g, "DELETE", q), 200)
            assert body["targets"] == [a.url()], body
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


# ---- the whole service: GET -> PUT round trip, PUT never drops a key silently, PATCH ----------


def full_service(a, b):
    """A service that uses every section a service can have."""
    return {
        "name": "orders",
        "prefix": ["/api/orders", "/api/carts"],
        "hosts": ["api.example.com"],
        "methods": ["GET", "POST"],
        "strip_prefix": True,
        "host_header": "target",
        "timeouts": {"upstream_connect": "2s", "upstream_response": "2m"},
        "limits": {"max_body_bytes": "1k"},
        "targets": [{"url": "http://127.0.0.1:${A_PORT}", "weight": 3}, b.url()],
        "load_balancer": {"strategy": "consistent_hash", "hash_key": "header:X-User"},
        "health_check": {"path": "/health", "interval": "5s", "timeout": "1s",
                         "healthy_threshold": 1, "unhealthy_threshold": 4,
                         "expected_status": "200-299"},
        "outlier_detection": {"consecutive_failures": 7, "base_ejection_time": "10s",
                              "max_ejection_time": "60s", "max_ejection_percent": 30},
        "circuit_breaker": {"failure_threshold": 9, "open_duration": "15s",
                            "half_open_requests": 2},
        "retries": {"attempts": 1, "statuses": [503], "backoff_base": "10ms"},
        "rate_limit": {"limits": [{"name": "per-ip", "algorithm": "sliding_window",
                                   "limit": 100, "period": "1m"}]},
        "auth": {"roles": ["admin"], "public_paths": ["/api/orders/public"]},
    }


def full_config(a, b):
    return config(svc("users", "/api/users", a), full_service(a, b),
                  auth={"consumers": [{"id": "alice", "roles": ["admin"],
                                       "api_keys": ["sha256:" + "ab" * 32]}]})


SECTIONS = ["load_balancer", "health_check", "outlier_detection", "circuit_breaker", "retries",
            "rate_limit", "auth"]


def test_get_then_put_is_an_identity():
    with Origin() as a, Origin() as b:
        with Gantry(full_config(a, b), extra_env={"A_PORT": str(a.port)}) as g:
            text, gen = file_text(g), generation(g)
            in_file = json.loads(text)["services"][1]
            got = expect_json(admin(g, "GET", "/api/services/orders"), 200)
            # every key, as the file holds it (${ENV} unexpanded, units as written)
            assert got == in_file, got
            for key in SECTIONS:
                assert key in got, (key, got)
            listed = expect_json(admin(g, "GET", "/api/services"), 200)["services"]
            assert listed[1] == got, listed
            # sent back unchanged: the file is not touched, nothing is reloaded, and the
            # running service is the same
            r = admin(g, "PUT", "/api/services/orders", got)
            assert expect_json(r, 200) == got
            assert_unchanged(g, text, gen)
            assert expect_json(admin(g, "GET", "/api/services/orders"), 200) == got
            # the same with the keys in another order (the document is compared, not text)
            shuffled = dict(reversed(list(got.items())))
            expect_json(admin(g, "PUT", "/api/services/orders", shuffled), 200)
            assert_unchanged(g, text, gen)
            # an edit of one setting keeps every other one, in the file and running
            got["retries"]["attempts"] = 2
            expect_json(admin(g, "PUT", "/api/services/orders", got), 200)
            assert generation(g) == gen + 1
            saved = json.loads(file_text(g))["services"][1]
            assert saved == got, saved
            assert expect_json(admin(g, "GET", "/api/services/orders"), 200) == got
            assert "${A_PORT}" in file_text(g)


def test_put_refuses_to_drop_keys_it_was_not_given():
    with Origin() as a, Origin() as b:
        with Gantry(full_config(a, b), extra_env={"A_PORT": str(a.port)}) as g:
            text, gen = file_text(g), generation(g)
            whole = expect_json(admin(g, "GET", "/api/services/orders"), 200)
            # the README's old recipe: a body with some keys only
            partial = {"prefix": "/api/orders", "targets": [b.url()]}
            e = expect_json(admin(g, "PUT", "/api/services/orders", partial), 409)
            missing = ["hosts", "methods", "strip_prefix", "host_header", "timeouts", "limits"] \
                + SECTIONS
            assert e["missing"] == missing, e
            assert "null" in e["error"] and "PATCH" in e["error"], e
            assert_unchanged(g, text, gen)
            # a key is removed only when the body says so, with null
            body = dict(whole, rate_limit=None, circuit_breaker=None)
            r = expect_json(admin(g, "PUT", "/api/services/orders", body), 200)
            assert "rate_limit" not in r and "circuit_breaker" not in r, r
            saved = json.loads(file_text(g))["services"][1]
            expect = {k: v for k, v in whole.items() if k not in ("rate_limit", "circuit_breaker")}
            assert saved == expect, saved
            assert r == expect, r
            circuits = expect_json(admin(g, "GET", "/api/circuits/orders"), 200)
            assert circuits["enabled"] is False, circuits


def test_patch_merges_into_the_service():
    with Origin() as a, Origin() as b:
        with Gantry(full_config(a, b), extra_env={"A_PORT": str(a.port)}) as g:
            whole = expect_json(admin(g, "GET", "/api/services/orders"), 200)
            # RFC 7396 merge patch: objects merge, null removes, anything else replaces
            patch = {"retries": {"attempts": 3}, "health_check": None, "strip_prefix": False}
            r = admin(g, "PATCH", "/api/services/orders", patch)
            got = expect_json(r, 200)
            expect = dict(whole, strip_prefix=False)
            expect["retries"] = dict(whole["retries"], attempts=3)
            del expect["health_check"]
            assert got == expect, got
            assert json.loads(file_text(g))["services"][1] == expect
            assert expect_json(admin(g, "GET", "/api/services/orders"), 200) == expect
            # renaming, unknown service, invalid result: refused, nothing changes
            text, gen = file_text(g), generation(g)
            e = expect_json(admin(g, "PATCH", "/api/services/orders", {"name": "x"}), 400)
            assert "cannot be renamed" in e["error"], e
            expect_json(admin(g, "PATCH", "/api/services/ghost", {"strip_prefix": True}), 404)
            e = expect_json(admin(g, "PATCH", "/api/services/orders",
                                  {"retries": {"attempts": 99}}), 400)
            assert e["errors"][0]["path"] == "services[1].retries.attempts", e
            e = expect_json(admin(g, "PATCH", "/api/services/orders", [1]), 400)
            assert "object" in e["error"], e
            # an empty patch changes nothing
            assert expect_json(admin(g, "PATCH", "/api/services/orders", {}), 200) == expect
            assert_unchanged(g, text, gen)


# ---- target states in /gateway/status and /health/services ------------------------------------


def parse_time(s):
    """An RFC 3339 UTC timestamp ("2026-12-06T10:15:30.123Z") as unix seconds."""
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", s), s
    import datetime
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def target_states(g, service):
    """(state, since) per target URL of one service, from /gateway/status; /health/services
    must say the same, and count as healthy the targets that are up."""
    st = expect_json(admin(g, "GET", "/gateway/status"), 200)
    states = {t["url"]: (t["state"], t.get("since"))
              for s in st["services"] if s["name"] == service for t in s["targets"]}
    hs = expect_json(admin(g, "GET", "/health/services"), 200)
    hsvc = [s for s in hs["services"] if s["name"] == service][0]
    ups = sum(1 for s, _ in states.values() if s == "up")
    assert (hsvc["targets"], hsvc["healthy"]) == (len(states), ups), (st, hs)
    from_health = {t["url"]: (t["state"], t["since"]) for t in hsvc.get("target_states", [])}
    return states, from_health


def states_of(g, service):
    """target_states, once both endpoints agree (they are read one after the other)."""
    def agree():
        states, from_health = target_states(g, service)
        return states if states == from_health else None
    return gwtest.wait_until(agree, 5, message="/gateway/status and /health/services agree")


def test_status_reports_a_target_down_by_health_checks():
    with Origin() as a, Origin() as b:
        service = svc("users", "/api/users", a, b, health_check={
            "path": "/health", "interval": "200ms", "timeout": "100ms",
            "healthy_threshold": 1, "unhealthy_threshold": 2})
        with Gantry(config(service)) as g:
            started = time.time()
            states, _ = target_states(g, "users")
            assert [s for s, _ in states.values()] == ["up", "up"], states
            broke = time.time()
            request(b.port, "GET", "/__set_health/500")
            assert gwtest.wait_until(lambda: "is DOWN" in g.logs()), g.logs()
            states, _ = target_states(g, "users")
            assert states[b.url()][0] == "down", states
            states = states_of(g, "users")
            assert states[a.url()][0] == "up", states
            # up since it was loaded
            assert started - 10 <= parse_time(states[a.url()][1]) <= started + 1, states
            state, since = states[b.url()]
            assert state == "down", states
            assert broke - 1 <= parse_time(since) <= time.time() + 1, (broke, states)
            # back up: "up" again, since the moment it came back
            ups = g.logs().count("is UP")
            request(b.port, "GET", "/__set_health/200")
            assert gwtest.wait_until(lambda: g.logs().count("is UP") > ups), g.logs()
            state, since_up = states_of(g, "users")[b.url()]
            assert state == "up" and parse_time(since_up) >= parse_time(since), (state, since_up)


def test_status_reports_an_ejected_target():
    dead = gwtest.free_port()
    with Origin() as a:
        service = svc("users", "/", a, outlier_detection={
            "consecutive_failures": 2, "base_ejection_time": "30s", "max_ejection_percent": 50})
        service["targets"].append("http://127.0.0.1:%d" % dead)
        with Gantry(config(service)) as g:
            before = time.time()
            for _ in range(10):
                assert g.request("GET", "/echo/x").status == 200
            assert gwtest.wait_until(lambda: "ejected from service" in g.logs()), g.logs()
            states, _ = target_states(g, "users")
            assert states["http://127.0.0.1:%d" % dead][0] == "ejected", states
            states = states_of(g, "users")
            assert states[a.url()][0] == "up", states
            state, since = states["http://127.0.0.1:%d" % dead]
            assert state == "ejected", states
            assert before - 1 <= parse_time(since) <= time.time() + 1, (before, states)


def test_status_reports_an_open_target_circuit():
    with Origin() as a:
        service = svc("users", "/", a, circuit_breaker={
            "failure_threshold": 3, "open_duration": "60s", "minimum_requests": 100})
        with Gantry(config(service)) as g:
            before = time.time()
            for _ in range(3):
                assert g.request("GET", "/status/500").status == 500
            states, _ = target_states(g, "users")
            assert states[a.url()][0] == "circuit_open", states
            state, since = states_of(g, "users")[a.url()]
            assert state == "circuit_open", (state, since)
            assert before - 1 <= parse_time(since) <= time.time() + 1, (before, since)
            # a reset closes it: up again
            expect_json(admin(g, "POST", "/api/circuits/users/reset"), 200)
            assert states_of(g, "users")[a.url()][0] == "up"


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
