#!/usr/bin/env python3
"""Active health checks and passive outlier ejection through the real binary."""
import collections

import gwtest
from gwtest import Gantry, Origin, request


def _counts(g, n):
    seen = collections.Counter()
    for _ in range(n):
        r = request(g.port, "GET", "/echo/x")
        assert r.status == 200, r
        seen[r.header("X-Origin-Port")] += 1
    return seen



def test_unhealthy_target_leaves_rotation_and_returns():
    with Origin() as a, Origin() as b:
        cfg = gwtest.simple_config(a, b)
        cfg["services"][0]["health_check"] = {
            "path": "/health", "interval": "200ms", "timeout": "100ms",
            "healthy_threshold": 1, "unhealthy_threshold": 2}
        with Gantry(cfg) as g:
            assert set(_counts(g, 10)) == {str(a.port), str(b.port)}
            request(b.port, "GET", "/__set_health/500")
            assert gwtest.wait_until(lambda: "is DOWN" in g.logs()), g.logs()
            assert _counts(g, 20) == {str(a.port): 20}
            ups = g.logs().count("is UP")
            request(b.port, "GET", "/__set_health/200")
            assert gwtest.wait_until(lambda: g.logs().count("is UP") > ups), g.logs()
            assert set(_counts(g, 10)) == {str(a.port), str(b.port)}


def test_every_target_down_answers_503_with_retry_after():
    with Origin() as a:
        cfg = gwtest.simple_config(a)
        cfg["services"][0]["health_check"] = {
            "path": "/health", "interval": "200ms", "timeout": "100ms",
            "healthy_threshold": 1, "unhealthy_threshold": 1}
        with Gantry(cfg) as g:
            request(a.port, "GET", "/__set_health/503")
            assert gwtest.wait_until(lambda: "is DOWN" in g.logs()), g.logs()
            before = a.stats()["by_path"].get("/echo/x", 0)
            r = request(g.port, "GET", "/echo/x")
            assert r.status == 503, r
            assert r.json()["error"] == "no target available for service svc", r.json()
            assert r.header("Retry-After"), r.headers
            assert a.stats()["by_path"].get("/echo/x", 0) == before


def test_consecutive_failures_eject_a_target():
    dead = gwtest.free_port()
    with Origin() as a:
        cfg = gwtest.simple_config(a, dead)
        cfg["services"][0]["outlier_detection"] = {
            "consecutive_failures": 2, "base_ejection_time": "30s", "max_ejection_percent": 50}
        with Gantry(cfg) as g:
            # Connect failures are retried on the live target: every request succeeds.
            assert _counts(g, 20) == {str(a.port): 20}
            assert gwtest.wait_until(lambda: "ejected from service" in g.logs()), g.logs()
            tried = g.logs().count("connect failed")
            assert _counts(g, 20) == {str(a.port): 20}
            # Ejected: no more connection attempts to the dead target.
            assert g.logs().count("connect failed") == tried, g.logs()


if __name__ == "__main__":
    gwtest.main(globals())
