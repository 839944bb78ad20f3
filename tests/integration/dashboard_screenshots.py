#!/usr/bin/env python3
"""Takes the README's dashboard screenshots (docs/img/dashboard-*.png) from a live gantry with
traffic: three services, a mix of fast, slow and failing requests for DURATION seconds (the
charts fill from the right), one target stopped, one circuit opened. Not a test (CTest runs
only test_*.py); run it by hand after the page changes:

    python3 tests/integration/dashboard_screenshots.py [DURATION_S] [OUT_DIR]

Defaults: 180 s, docs/img. Needs the test build (build/test/gantry), chromium and
tests/node/node_modules (scripts/deps.sh test)."""

import os
import random
import sys
import threading

import gwtest
from gwtest import Gantry, Origin, request
import test_dashboard_browser as T


def main():
    duration = float(sys.argv[1]) if len(sys.argv) > 1 else 180
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(gwtest.REPO, "docs", "img")
    os.makedirs(out, exist_ok=True)
    with Origin() as a1, Origin() as a2, Origin() as b1, Origin() as c1:
        cfg = {
            "workers": 2,
            "log": {"access": "off"},
            "services": [
                {"name": "users", "prefix": "/api/users", "strip_prefix": True,
                 "targets": [a1.target(), a2.target()],
                 "health_check": {"path": "/health", "interval": "1s", "timeout": "500ms",
                                  "unhealthy_threshold": 1}},
                {"name": "orders", "prefix": "/api/orders", "strip_prefix": True,
                 "targets": [b1.target()],
                 "load_balancer": {"strategy": "p2c_ewma"}},
                {"name": "billing", "prefix": "/api/billing", "strip_prefix": True,
                 "targets": [c1.target()],
                 "circuit_breaker": {"failure_threshold": 5, "open_duration": "10m",
                                     "minimum_requests": 1000}},
            ],
        }
        admin = {"listen": "127.0.0.1:%d" % gwtest.free_port(), "api_key": T.KEY}
        with Gantry(dict(cfg, admin=admin)) as g:
            stop = threading.Event()

            def load():
                rnd = random.Random(7)
                while not stop.is_set():
                    r = rnd.random()
                    if r < 0.55:
                        path = "/api/users/sleep/%d" % rnd.choice((0, 1, 2, 3, 5, 8))
                    elif r < 0.9:
                        path = "/api/orders/sleep/%d" % rnd.choice((1, 4, 10, 20, 35))
                    elif r < 0.97:
                        path = "/api/orders/status/%d" % rnd.choice((404, 500, 503))
                    else:
                        path = "/api/billing/echo/invoice"
                    try:
                        request(g.port, "GET", path)
                    except OSError:
                        pass
            threads = [threading.Thread(target=load, daemon=True) for _ in range(3)]
            for t in threads:
                t.start()
            stopped = threading.Event()

            def later():
                if not stop.wait(duration * 0.6):
                    a2.stop()  # a target goes down
                    for _ in range(5):
                        request(g.port, "GET", "/api/billing/status/502")
                    stopped.set()
            threading.Thread(target=later, daemon=True).start()
            page = T.Page()
            try:
                base = "http://127.0.0.1:%d/dashboard" % g.admin_port
                page.do("goto", url=base)
                page.do("type", selector="#key", text=T.KEY)
                page.do("click", selector="#login-form button[type=submit]")
                page.wait("!document.getElementById('view-overview').hidden")
                stop.wait(duration)
                stopped.wait(30)
                page.do("viewport", width=1280, height=860)
                T.view(page, "overview")
                page.wait("document.getElementById('ov-latency').textContent !== '–'")
                T.shot(page, out, "dashboard-overview")
                T.view(page, "services")
                page.wait("!!document.querySelector('.state-down')", timeout_s=10)
                T.shot(page, out, "dashboard-services")
                T.view(page, "log")
                page.wait("document.getElementById('log-rows').rows.length > 20", timeout_s=10)
                T.shot(page, out, "dashboard-log")
                page.do("scheme", value="dark")
                T.view(page, "overview")
                T.shot(page, out, "dashboard-overview-dark")
                page.do("viewport", width=390, height=844)
                T.view(page, "services")
                T.shot(page, out, "dashboard-services-phone")
            finally:
                stop.set()
                page.close()
                for t in threads:
                    t.join(timeout=10)
    print("screenshots in", out)


if __name__ == "__main__":
    main()
