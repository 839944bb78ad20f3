#!/usr/bin/env python3
"""Changes through the admin API (issue "Control plane"): services read, created, replaced,
deleted and patched, targets added and removed, and POST /api/config/reload. A change must
route traffic at once and be written back to the config file (so a restart keeps it, with
${ENV} references kept); one that is refused leaves the file and the running config
untouched. A service read with GET and sent back with PUT changes nothing; PUT never drops a
key it was not given.
"""

import hashlib
import json
import os

import gwtest
from gwtest import Gantry, HttpConn, Origin
from gwtest.admin_api import admin, config, expect_json, file_text, served_by, svc


def generation(g):
    return expect_json(admin(g, "GET", "/gateway/status"), 200)["generation"]


def not_routed(g, path):
    r = g.request("GET", path)
    return r.status == 404 and r.json()["error"] == "no route matched"


def assert_unchanged(g, before_text, before_gen):
    assert file_text(g) == before_text, "the config file changed"
    assert generation(g) == before_gen, "a reload happened"


# ---- services ------------------------------------------------------------------------------------


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


# ---- the whole service: GET -> PUT round trip, PUT never drops a key silently, PATCH -------------


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


if __name__ == "__main__":
    gwtest.main(globals())
