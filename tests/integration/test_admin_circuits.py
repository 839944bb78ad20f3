#!/usr/bin/env python3
"""The admin circuit endpoints (issue 5): GET /api/circuits, GET /api/circuits/{service} and
POST /api/circuits/{service}/reset, against the real binary. Three 500s open a service's
circuit; the admin API shows it open with the time to the next probe, and a reset closes it so
the next request reaches the origin again."""

import gwtest
from gwtest import Gantry, Origin, request
from gwtest.admin_api import expect_json

BREAKER = {"failure_threshold": 3, "open_duration": "1s", "half_open_requests": 1,
           "minimum_requests": 100}

CIRCUIT_KEYS = {"state", "consecutive_failures", "window_requests", "window_failures",
                "times_opened", "opened_at_ms", "opened_ago_ms", "next_probe_in_ms",
                "probes_in_flight"}


def _config(o):
    cfg = gwtest.simple_config(o, name="guarded", prefix="/")
    cfg["log"] = {"access": "off"}
    cfg["services"][0]["circuit_breaker"] = dict(BREAKER)
    cfg["services"].append({"name": "plain", "prefix": "/plain", "targets": [o.target()]})
    return cfg


def _by_name(listing):
    return {s["service"]: s for s in listing["services"]}


def _open_circuit(g):
    for i in range(3):
        r = g.request("GET", "/status/500")
        assert r.status == 500, (i, r.status, r.headers, r.body[:300])


def test_list_shows_closed_circuits_and_services_without_one():
    with Origin() as o, Gantry(_config(o)) as g:
        services = _by_name(expect_json(g.admin_request("GET", "/api/circuits"), 200))
        assert set(services) == {"guarded", "plain"}, services
        guarded = services["guarded"]
        assert guarded["enabled"] is True
        c = guarded["circuit"]
        assert set(c) >= CIRCUIT_KEYS, c
        assert c["state"] == "closed" and c["times_opened"] == 0, c
        assert c["opened_at_ms"] is None and c["next_probe_in_ms"] is None, c
        assert c["opened_ago_ms"] is None, c
        assert [t["target"] for t in guarded["targets"]] == ["127.0.0.1:%d" % o.port]
        assert guarded["targets"][0]["circuit"]["state"] == "closed"
        plain = services["plain"]
        assert plain["enabled"] is False and plain["circuit"] is None, plain
        assert [t["circuit"] for t in plain["targets"]] == [None], plain
        # One service alone has the same shape.
        one = expect_json(g.admin_request("GET", "/api/circuits/guarded"), 200)
        assert one["service"] == "guarded" and one["circuit"]["state"] == "closed", one
        assert expect_json(g.admin_request("GET", "/api/circuits/plain/"), 200)["enabled"] is False


def test_failures_show_open_then_reset_closes_it():
    with Origin() as o, Gantry(_config(o)) as g:
        _open_circuit(g)
        c = expect_json(g.admin_request("GET", "/api/circuits/guarded"), 200)["circuit"]
        assert c["state"] == "open" and c["times_opened"] == 1, c
        assert c["window_failures"] == 3 or c["consecutive_failures"] == 3, c
        assert isinstance(c["opened_at_ms"], int) and c["opened_at_ms"] > 0, c
        assert 0 <= c["opened_ago_ms"] <= 1000, c
        assert 0 <= c["next_probe_in_ms"] <= 1000, c
        # Open: the proxy fails fast without touching the origin.
        seen = o.stats()["requests"]
        assert g.request("GET", "/echo/x").status == 503
        assert o.stats()["requests"] == seen
        # The list agrees.
        listed = _by_name(expect_json(g.admin_request("GET", "/api/circuits"), 200))
        assert listed["guarded"]["circuit"]["state"] == "open"
        # Reset: closed at once, and the next request reaches the origin.
        after = expect_json(g.admin_request("POST", "/api/circuits/guarded/reset"), 200)
        assert after["service"] == "guarded", after
        assert after["circuit"]["state"] == "closed", after
        assert after["circuit"]["consecutive_failures"] == 0, after
        assert after["circuit"]["times_opened"] == 1, after  # history is kept
        assert after["circuit"]["next_probe_in_ms"] is None, after
        assert all(t["circuit"]["state"] == "closed" for t in after["targets"]), after
        seen = o.stats()["requests"]
        assert g.request("GET", "/echo/x").status == 200
        assert o.stats()["requests"] == seen + 1
        assert expect_json(g.admin_request("GET", "/api/circuits/guarded"),
                           200)["circuit"]["state"] == "closed"


def test_reset_of_a_closed_circuit_is_harmless():
    with Origin() as o, Gantry(_config(o)) as g:
        body = expect_json(g.admin_request("POST", "/api/circuits/guarded/reset"), 200)
        assert body["circuit"]["state"] == "closed", body
        assert g.request("GET", "/echo/x").status == 200


def test_unknown_service_is_404():
    with Origin() as o, Gantry(_config(o)) as g:
        for method, path in (("GET", "/api/circuits/nope"), ("POST", "/api/circuits/nope/reset")):
            body = expect_json(g.admin_request(method, path), 404)
            assert "nope" in body["error"], body


def test_reset_without_circuit_breaker_is_409():
    with Origin() as o, Gantry(_config(o)) as g:
        body = expect_json(g.admin_request("POST", "/api/circuits/plain/reset"), 409)
        assert "plain" in body["error"] and "circuit_breaker" in body["error"], body


def test_wrong_method_is_405_and_endpoints_are_listed():
    with Origin() as o, Gantry(_config(o)) as g:
        r = g.admin_request("DELETE", "/api/circuits/guarded")
        expect_json(r, 405)
        assert "GET" in r.header("Allow"), r.headers
        expect_json(g.admin_request("GET", "/api/circuits/guarded/reset"), 405)
        endpoints = expect_json(g.admin_request("GET", "/"), 200)["endpoints"]
        paths = {(e["method"], e["path"]) for e in endpoints}
        assert {("GET", "/api/circuits"), ("GET", "/api/circuits/{service}"),
                ("POST", "/api/circuits/{service}/reset")} <= paths, paths


if __name__ == "__main__":
    gwtest.main(globals())
