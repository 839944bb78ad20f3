#!/usr/bin/env python3
"""Per-service circuit breaker through the real binary: failures open it, an open circuit
answers 503 naming the service with Retry-After without touching the upstream, and after
open_duration a successful probe closes it again."""
import time

import gwtest
from gwtest import Gantry, Origin, request


def _config(o, **breaker):
    cfg = gwtest.simple_config(o)
    cfg["services"][0]["circuit_breaker"] = breaker
    return cfg


def _origin_requests(o):
    return o.stats()["requests"]


def test_failures_open_the_circuit_and_a_probe_closes_it():
    with Origin() as o:
        cfg = _config(o, failure_threshold=3, open_duration="1s", half_open_requests=1,
                      minimum_requests=100)
        with Gantry(cfg) as g:
            for _ in range(3):
                assert request(g.port, "GET", "/status/500").status == 500
            seen = _origin_requests(o)
            r = request(g.port, "GET", "/echo/x")
            assert r.status == 503, r
            body = r.json()
            assert body["status"] == 503 and "svc" in body["error"], body
            assert body["request_id"] == r.header("X-Request-ID")
            assert r.header("Retry-After") in ("1", "2"), r.headers
            assert _origin_requests(o) == seen  # fail fast: the upstream never saw it
            # After open_duration a probe goes through and its success closes the circuit.
            deadline = time.monotonic() + 5
            while True:
                r = request(g.port, "GET", "/echo/x")
                if r.status == 200 or time.monotonic() > deadline:
                    break
                assert r.status == 503
                time.sleep(0.05)
            assert r.status == 200, r
            for _ in range(5):
                assert request(g.port, "GET", "/echo/x").status == 200


def test_failed_probe_reopens_the_circuit():
    with Origin() as o:
        cfg = _config(o, failure_threshold=2, open_duration="1s", half_open_requests=1,
                      minimum_requests=100)
        with Gantry(cfg) as g:
            for _ in range(2):
                assert request(g.port, "GET", "/status/503").status == 503
            assert request(g.port, "GET", "/echo/x").status == 503  # open
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                before = _origin_requests(o)
                r = request(g.port, "GET", "/status/500")
                if _origin_requests(o) > before:  # this one was the probe
                    assert r.status == 500
                    break
                time.sleep(0.05)
            else:
                raise AssertionError("no probe reached the origin")
            seen = _origin_requests(o)
            r = request(g.port, "GET", "/echo/x")
            assert r.status == 503 and "circuit open" in r.json()["error"], r
            assert _origin_requests(o) == seen


def test_client_errors_do_not_open_the_circuit():
    with Origin() as o:
        cfg = _config(o, failure_threshold=2, open_duration="10s", minimum_requests=100)
        with Gantry(cfg) as g:
            for _ in range(5):
                assert request(g.port, "GET", "/status/404").status == 404
            assert request(g.port, "GET", "/echo/x").status == 200


def test_without_circuit_breaker_failures_pass_through():
    with Origin() as o:
        with Gantry(gwtest.simple_config(o)) as g:
            for _ in range(10):
                assert request(g.port, "GET", "/status/500").status == 500
            assert request(g.port, "GET", "/echo/x").status == 200


if __name__ == "__main__":
    gwtest.main(globals())
