#!/usr/bin/env python3
"""A real Prometheus (Debian's prometheus package, installed by scripts/deps.sh test) on a free
loopback port scrapes gantry's admin /metrics; its HTTP API then answers a histogram_quantile
over gantry's buckets that matches the latencies that were sent: requests to an origin that
sleeps a known time land in the bucket holding that time. Readiness is polled (the targets API
until a scrape happened), never slept on."""

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
        for _ in range(90):
            assert request(g.port, "GET", "/sleep/30").status == 200
        for _ in range(10):
            assert request(g.port, "GET", "/sleep/300").status == 200
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
            # histogram_quantile interpolates inside the bucket holding the rank: its accuracy
            # is that bucket's bounds. The sleep plus gantry's own time lies in the same one.
            assert 0.025 < p50 <= 0.05, p50
            assert 0.25 < p99 <= 0.5, p99
            # gantry's own percentiles (JSON, +-1.6%) agree with what was sent.
            lat = g.admin_request("GET", "/metrics/json").json()["services"][0]["latency_ms"]
            assert 30 * 0.98 <= lat["p50"] <= 45, lat
            assert 300 * 0.98 <= lat["p99"] <= 360, lat
            total = one('sum(gantry_http_requests_total{service="svc",code="200"})')
            assert total == 100, total
            up = one('up{job="gantry"}')
            assert up == 1, up


if __name__ == "__main__":
    gwtest.main(globals())
