#!/usr/bin/env python3
"""A real Prometheus (Debian's prometheus package, installed by scripts/deps.sh test) on a free
loopback port scrapes gantry's admin /metrics; its HTTP API then answers a histogram_quantile
over gantry's buckets that matches the latencies that were sent: requests to an origin that
sleeps a known time land in the bucket holding that time. Readiness is polled (the targets API
until a scrape happened), never slept on."""

import time

import gwtest
from gwtest import Gantry, Origin, PrometheusServer, request


def scrape_config(target_port):
    return ("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: gantry\n    metrics_path: /metrics\n"
            "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % target_port)


@gwtest.timeout(180)
def test_prometheus_scrapes_gantry_and_quantiles_match():
    gwtest.require_prometheus()
    with Origin() as o, Gantry(gwtest.simple_config(o, prefix="/", workers=2)) as g:
        # 90 answers after 30 ms, 10 after 300 ms: p50 is in (0.025, 0.05], p99 in (0.25, 0.5].
        # The client's own clock bounds gantry's from above (its time includes gantry's), the
        # origin's sleep from below: no bound depends on how fast the machine is.
        fast, slow = [], []
        for _ in range(90):
            t0 = time.monotonic()
            assert request(g.port, "GET", "/sleep/30").status == 200
            fast.append((time.monotonic() - t0) * 1000)
        for _ in range(10):
            t0 = time.monotonic()
            assert request(g.port, "GET", "/sleep/300").status == 200
            slow.append((time.monotonic() - t0) * 1000)
        with PrometheusServer(scrape_config(g.admin_port)) as p:
            p.wait_ready()
            p.wait_scraped()

            def one(q):
                res = p.query(q)
                return float(res[0]["value"][1]) if res else None

            sel = 'gantry_http_request_duration_seconds_bucket{service="svc",route="/"}'
            count = one('gantry_http_request_duration_seconds_count{service="svc",route="/"}')
            assert count == 100, count
            p50 = one("histogram_quantile(0.5, %s)" % sel)
            p99 = one("histogram_quantile(0.99, %s)" % sel)
            # gantry's own percentiles (JSON, +-1.6%) lie between the origin's sleep and what
            # the client measured. p50 is the 50th of the 100 times (nearest rank): each of
            # gantry's times is within the client's, so it is at most the client's 50th, which
            # is fast's 50th (every slow one is slower).
            lat = g.admin_request("GET", "/metrics/json").json()["services"][0]["latency_ms"]
            assert 30 * 0.98 <= lat["p50"] <= sorted(fast)[49] * 1.02 + 1, (lat, sorted(fast)[49])
            assert 300 * 0.98 <= lat["p99"] <= max(slow) * 1.02 + 1, (lat, max(slow))
            # histogram_quantile interpolates inside the bucket holding the rank: its accuracy
            # is that bucket's bounds, so it lands in the bucket of gantry's own percentile.
            les = sorted(float(r["metric"]["le"]) for r in p.query(sel)
                         if r["metric"]["le"] != "+Inf")

            def bucket(v):
                return next((i for i, le in enumerate(les) if v <= le), len(les))

            assert bucket(p50) == bucket(lat["p50"] / 1000), (p50, lat, les)
            assert bucket(p99) == bucket(lat["p99"] / 1000), (p99, lat, les)
            total = one('sum(gantry_http_requests_total{service="svc",code="200"})')
            assert total == 100, total
            up = one('up{job="gantry"}')
            assert up == 1, up


if __name__ == "__main__":
    gwtest.main(globals())
