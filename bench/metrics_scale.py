#!/usr/bin/env python3
"""Metrics at scale: gantry with 1,000 services x 5 targets (every series filled by traffic),
then: the memory the metrics hold (gantry_metrics_memory_bytes, RSS), the time a scrape of
/metrics and /metrics/json takes (client side and gantry's own gantry_metrics_scrape_duration_
seconds), its size and series count, and the latency of proxied requests while scrapes run
back to back against while they do not (a scrape never blocks a worker: it runs on the control
thread and reads the workers' counters without a lock).

    python3 bench/metrics_scale.py [--gantry build/release/gantry] [--services 1000]

Everything runs on 127.0.0.1 and stops by itself."""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

import gwtest  # noqa: E402
from gwtest import Origin, request  # noqa: E402


def get(port, path, headers=None):
    t0 = time.perf_counter()
    r = request(port, "GET", path, headers=headers, timeout=60)
    return r, time.perf_counter() - t0


def value(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def latencies(port, n, paths):
    out = []
    with gwtest.HttpConn(port, timeout=30) as c:
        for i in range(n):
            t0 = time.perf_counter()
            c.send_request("GET", paths[i % len(paths)], [("Connection", "keep-alive")])
            r = c.read_response()
            assert r.status == 200, r
            out.append(time.perf_counter() - t0)
    return out


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def config(origins, n_services, workers):
    """n_services services with a prefix each and every origin as a target, access log off."""
    services = [{"name": "svc%04d" % i, "prefix": "/s%d" % i, "strip_prefix": True,
                 "targets": ["http://127.0.0.1:%d" % o.port for o in origins]}
                for i in range(n_services)]
    return {"workers": workers, "log": {"access": "off"}, "services": services}


def fill(port, n_services, n_targets):
    """Every series filled: each service's every target (round robin); returns the requests
    sent."""
    done = 0
    for i in range(n_services):
        with gwtest.HttpConn(port, timeout=60) as c:
            for _ in range(n_targets):
                c.send_request("GET", "/s%d/echo/x" % i, [("Connection", "keep-alive")])
                assert c.read_response().status == 200
                done += 1
    return done


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gantry", default=os.path.join(HERE, "..", "build", "release", "gantry"))
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--targets", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scrapes", type=int, default=10)
    a = ap.parse_args()
    os.environ["GANTRY_BIN"] = os.path.abspath(a.gantry)
    origins = [Origin() for _ in range(a.targets)]
    for o in origins:
        o.__enter__()
    try:
        with gwtest.Gantry(config(origins, a.services, a.workers)) as g:
            base, _ = get(g.admin_port, "/metrics")
            rss0 = value(base.body.decode(), "process_resident_memory_bytes")
            t0 = time.perf_counter()
            done = fill(g.port, a.services, a.targets)
            fill_s = time.perf_counter() - t0
            times, jtimes, own = [], [], []
            size = 0
            text = ""
            for _ in range(a.scrapes):
                r, dt = get(g.admin_port, "/metrics")
                text = r.body.decode()
                size = len(r.body)
                times.append(dt)
                own.append(value(text, "gantry_metrics_scrape_duration_seconds"))
                _, dj = get(g.admin_port, "/metrics/json")
                jtimes.append(dj)
            series = sum(1 for line in text.splitlines() if line and line[0] != "#")
            mem = value(text, "gantry_metrics_memory_bytes")
            rss = value(text, "process_resident_memory_bytes")
            # Request latency with and without scrapes running back to back.
            paths = ["/s%d/echo/x" % i for i in range(0, a.services, 7)]
            quiet = latencies(g.port, 3000, paths)
            stop = threading.Event()
            n_scr = [0]

            def scraper():
                while not stop.is_set():
                    get(g.admin_port, "/metrics")
                    n_scr[0] += 1
            th = threading.Thread(target=scraper)
            th.start()
            busy = latencies(g.port, 3000, paths)
            stop.set()
            th.join()
            report = {
                "services": a.services, "targets_per_service": a.targets, "workers": a.workers,
                "requests_sent_to_fill": done, "fill_seconds": round(fill_s, 2),
                "exposition_bytes": size, "exposition_samples": series,
                "scrape_ms_client_median": round(1e3 * statistics.median(times), 2),
                "scrape_ms_client_max": round(1e3 * max(times), 2),
                "scrape_ms_gantry_median": round(1e3 * statistics.median(own), 2),
                "json_ms_client_median": round(1e3 * statistics.median(jtimes), 2),
                "metrics_memory_bytes": mem, "rss_bytes_idle_before": rss0, "rss_bytes": rss,
                "request_ms_p50_quiet": round(1e3 * pct(quiet, 0.5), 3),
                "request_ms_p99_quiet": round(1e3 * pct(quiet, 0.99), 3),
                "request_ms_p50_scraping": round(1e3 * pct(busy, 0.5), 3),
                "request_ms_p99_scraping": round(1e3 * pct(busy, 0.99), 3),
                "scrapes_during_load": n_scr[0],
            }
            print(json.dumps(report, indent=2))
    finally:
        for o in origins:
            o.__exit__(None, None, None)


if __name__ == "__main__":
    main()
