#!/usr/bin/env python3
"""The admin API's reports (issue "Control plane"): /gateway/status, /health/detailed,
/health/services and the index of endpoints, the routing table, and the state of each target
(down by health checks, ejected, an open circuit) with the time it changed, the same in
/gateway/status and /health/services.

Changes through the API: test_admin_api_services.py; the admin listener itself (HTTP, keys):
test_admin_api_listener.py.
"""

import re
import time

import gwtest
from gwtest import Gantry, HttpConn, Origin, request
from gwtest.admin_api import admin, config, expect_json, svc


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


# ---- target states in /gateway/status and /health/services ---------------------------------------


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


if __name__ == "__main__":
    gwtest.main(globals())
