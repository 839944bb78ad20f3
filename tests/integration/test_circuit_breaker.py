#!/usr/bin/env python3
"""Per-service circuit breaker through the real binary: failures open it, an open circuit
answers 503 naming the service with Retry-After without touching the upstream, and after
open_duration a successful probe closes it again. The open duration is waited for by polling
the admin API until the circuit's next probe is due, never by sleeping."""

import gwtest
from gwtest import Gantry, Origin, request


def _config(o, **breaker):
    cfg = gwtest.simple_config(o)
    cfg["services"][0]["circuit_breaker"] = breaker
    return cfg


def _origin_requests(o):
    return o.stats()["requests"]


def _circuits(g):
    """The service's circuit and its targets' circuits, from GET /api/circuits/svc."""
    r = g.admin_request("GET", "/api/circuits/svc")
    assert r.status == 200, r
    body = r.json()
    return [body["circuit"]] + [t["circuit"] for t in body["targets"]]


def _wait_probe_due(g, timeout=5):
    """Waits until every open circuit of the service may let a probe through: its open
    duration has passed (next_probe_in_ms 0); closed ones are ready anyway."""
    gwtest.wait_until(
        lambda: all(c["state"] == "closed" or c["next_probe_in_ms"] == 0 for c in _circuits(g)),
        timeout, message="the circuit's next probe due")


def test_failures_open_the_circuit_and_a_probe_closes_it():
    with Origin() as o:
        cfg = _config(o, failure_threshold=3, open_duration="1s", half_open_requests=1,
                      minimum_requests=100)
        with Gantry(cfg) as g:
            for _ in range(3):
                assert request(g.port, "GET", "/status/500").status == 500
            assert _circuits(g)[0]["state"] == "open", _circuits(g)
            seen = _origin_requests(o)
            r = request(g.port, "GET", "/echo/x")
            assert r.status == 503, r
            body = r.json()
            assert body["status"] == 503 and "svc" in body["error"], body
            assert body["request_id"] == r.header("X-Request-ID")
            assert r.header("Retry-After") in ("1", "2"), r.headers
            assert _origin_requests(o) == seen  # fail fast: the upstream never saw it
            # After open_duration a probe goes through and its success closes the circuit.
            _wait_probe_due(g)
            r = request(g.port, "GET", "/echo/x")
            assert r.status == 200, r
            assert _origin_requests(o) == seen + 1
            assert _circuits(g)[0]["state"] == "closed", _circuits(g)
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
            times_opened = _circuits(g)[0]["times_opened"]
            _wait_probe_due(g)
            before = _origin_requests(o)
            r = request(g.port, "GET", "/status/500")  # the probe
            assert r.status == 500, r
            assert _origin_requests(o) == before + 1, "the probe did not reach the origin"
            c = _circuits(g)[0]
            assert c["state"] == "open" and c["times_opened"] == times_opened + 1, c
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
