#!/usr/bin/env python3
"""What one open dashboard costs the gateway: req/s and gantry's CPU per request, with no
dashboard open and with one open (overview, then the live log streaming every request), in
one run.

One gantry binary ($GANTRY_BIN, default build/release/gantry) with one worker and its admin
listener, in front of the nginx origin of bench/proxy_compare.py (3-byte body at /); wrk loads
it with 50 connections. A headless chromium (tests/node/dashboard.mjs, puppeteer-core) stays
up the whole run and, per variant, shows:

    closed     about:blank (no dashboard: nothing polls, no stream is open)
    overview   the dashboard's overview (polls four JSON endpoints every 2 s, the history
               every 5 s)
    live-log   the live log view: a Server-Sent Events stream that records every request

Rounds are interleaved (round r runs every variant once, the order rotated each round);
ratios are medians of per-round ratios to "closed". gantry's CPU per request is measured from
/proc, so it shows the gateway's own cost apart from the browser's. The browser competes for
the same CPUs as gantry and wrk on a small machine: that is part of "one open dashboard" on
the same host, and why the CPU per request is reported too.

    python3 bench/dashboard_cost.py [--rounds N] [--duration S]
"""

import argparse
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time

import proxy_compare as pc

KEY = "bench-dashboard-key"
VARIANTS = ["closed", "overview", "live-log"]


class Browser:
    def __init__(self):
        node_dir = os.path.join(pc.ROOT, "tests", "node")
        self.proc = subprocess.Popen(["node", os.path.join(node_dir, "dashboard.mjs")],
                                     cwd=node_dir, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def do(self, op, **kw):
        kw["op"] = op
        self.proc.stdin.write(json.dumps(kw) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        if not ready:
            raise pc.BenchError("the browser did not answer %r" % kw)
        reply = json.loads(self.proc.stdout.readline())
        if not reply["ok"]:
            raise pc.BenchError("browser: %r: %s" % (kw, reply["error"]))
        return reply.get("value")

    def show(self, variant, admin_port):
        if variant == "closed":
            self.do("goto", url="about:blank")
            return
        view = "overview" if variant == "overview" else "log"
        self.do("goto", url="about:blank")
        self.do("goto", url="http://127.0.0.1:%d/dashboard#%s" % (admin_port, view))
        if self.do("eval", js="sessionStorage.getItem('gantry.adminKey') === null"):
            self.do("type", selector="#key", text=KEY)
            self.do("click", selector="#login-form button[type=submit]")
        self.do("wait", js="!document.getElementById('view-%s').hidden" % view, timeout=15000)
        if view == "log":
            self.do("wait", js="document.getElementById('log-state').textContent"
                    ".startsWith('live')", timeout=15000)

    def close(self):
        try:
            self.do("close")
        except (pc.BenchError, BrokenPipeError, ValueError):
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--conns", type=int, default=50)
    args = ap.parse_args()
    gantry = os.environ.get("GANTRY_BIN", os.path.join(pc.ROOT, "build", "release", "gantry"))
    tmp = tempfile.mkdtemp(prefix="gw-dashboard-bench-")
    origin_port, port, admin_port = pc.free_ports(3)
    for d in ("www", "temp"):
        os.mkdir(os.path.join(tmp, d))
    user_line = "user root;" if os.geteuid() == 0 else ""
    conf = pc.render("origin.nginx.conf", tmp, tmp=tmp, user_line=user_line,
                     origin_port=origin_port)
    cfg = {"listen": "127.0.0.1:%d" % port, "workers": 1,
           "timeouts": {"client_idle": "300s"},
           "upstream": {"keepalive": {"max_idle": 256, "idle_timeout": "300s"}},
           "log": {"access": "off"},
           "admin": {"listen": "127.0.0.1:%d" % admin_port, "api_key": KEY},
           "services": [{"name": "origin", "prefix": "/",
                         "targets": ["http://127.0.0.1:%d" % origin_port]}]}
    cfg_path = os.path.join(tmp, "gantry.json")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)
    origin = pc.Server("origin", origin_port,
                       ["nginx", "-p", tmp + "/", "-e", os.path.join(tmp, "origin.error.log"),
                        "-c", conf, "-g", "daemon off;"], tmp)
    gw = pc.Server("gantry", port, [gantry, "-c", cfg_path], tmp)
    servers = [origin, gw]
    browser = None
    results = {v: [] for v in VARIANTS}
    try:
        for s in servers:
            s.start([])
            pc.wait_ready(s)
        pc.churn(port, total=2000)
        browser = Browser()
        for r in range(args.rounds):
            order = VARIANTS[r % 3:] + VARIANTS[:r % 3]
            for v in order:
                browser.show(v, admin_port)
                time.sleep(3)  # the page settles (first polls, stream open)
                res = pc.run_wrk(args, [], port, "/", servers, "gantry")
                if res["errors"]:
                    raise pc.BenchError("%s: %d errors" % (v, res["errors"]))
                results[v].append(res)
                pc.log("round %d %-9s %10.0f req/s  p99 %.2f ms  gantry %.2f us/req  "
                       "other %.0f%%" % (r + 1, v, res["rps"], res["p99"], res["own_us_req"],
                                         res["other_pct"]))
    finally:
        if browser:
            browser.close()
        for s in reversed(servers):
            s.stop()
    print("\nvariant     req/s (median)  ratio to closed   gantry CPU us/req (median)")
    for v in VARIANTS:
        rps = statistics.median(x["rps"] for x in results[v])
        ratios = [results[v][i]["rps"] / results["closed"][i]["rps"]
                  for i in range(args.rounds)]
        cpu = statistics.median(x["own_us_req"] for x in results[v])
        print("%-10s %15.0f %12.3f [%.3f-%.3f] %12.2f" % (v, rps, statistics.median(ratios),
                                                          min(ratios), max(ratios), cpu))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except pc.BenchError as e:
        print("dashboard_cost: %s" % e, file=sys.stderr)
        sys.exit(1)
