#!/usr/bin/env python3
"""A real Prometheus (Debian's prometheus package, installed by scripts/deps.sh test) on a free
loopback port scrapes gantry's admin /metrics; its HTTP API then answers a histogram_quantile
over gantry's buckets that matches the latencies that were sent: requests to an origin that
sleeps a known time land in the bucket holding that time. Readiness is polled (the targets API
until a scrape happened), never slept on."""

import json
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

import gwtest
from gwtest import Gantry, Origin, request


def api(port, path, **params):
    url = "http://127.0.0.1:%d%s" % (port, path)
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


class Prometheus:
    def __init__(self, target_port, tmp):
        self.port = gwtest.free_port()
        self.dir = tmp
        cfg = os.path.join(tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: gantry\n    metrics_path: /metrics\n"
                    "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % target_port)
        self.log = open(os.path.join(tmp, "prometheus.log"), "w")
        self.proc = subprocess.Popen(
            [shutil.which("prometheus"), "--config.file=" + cfg,
             "--storage.tsdb.path=" + os.path.join(tmp, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def ready(self):
        assert self.proc.poll() is None, "prometheus exited: " + self.logs()
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % self.port, timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def scraped_since(self, t):
        """The gantry target was scraped successfully after wall time t."""
        ts = api(self.port, "/api/v1/targets")["data"]["activeTargets"]
        for tg in ts:
            last = tg.get("lastScrape", "")
            if tg.get("health") == "up" and last and _rfc3339(last) > t:
                return True
        return False

    def query(self, q):
        r = api(self.port, "/api/v1/query", query=q)
        assert r["status"] == "success", r
        return r["data"]["result"]

    def logs(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()[-3000:]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def _rfc3339(s):
    """Seconds since the epoch of Prometheus's timestamps (2026-12-06T10:15:30.123456789Z)."""
    import datetime
    s = s.rstrip("Z")
    if "." in s:
        head, frac = s.split(".", 1)
        frac = frac[:6]
    else:
        head, frac = s, "0"
    dt = datetime.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc)
    return dt.timestamp() + float("0." + frac)


@gwtest.timeout(180)
def test_prometheus_scrapes_gantry_and_quantiles_match():
    if shutil.which("prometheus") is None:
        gwtest.skip("prometheus not installed (scripts/deps.sh test installs it)")
    tmp = gwtest._mkdtemp("prometheus")
    with Origin() as o, Gantry(gwtest.simple_config(o, prefix="/", workers=2)) as g:
        # 90 answers after 30 ms, 10 after 300 ms: p50 is in (0.025, 0.05], p99 in (0.25, 0.5].
        for _ in range(90):
            assert request(g.port, "GET", "/sleep/30").status == 200
        for _ in range(10):
            assert request(g.port, "GET", "/sleep/300").status == 200
        p = Prometheus(g.admin_port, tmp)
        try:
            gwtest.wait_until(p.ready, 60, interval=0.2, message="prometheus ready")
            t0 = time.time()
            gwtest.wait_until(lambda: p.scraped_since(t0), 60, interval=0.2,
                              message="prometheus scraped gantry")

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
        finally:
            p.stop()


if __name__ == "__main__":
    gwtest.main(globals())
