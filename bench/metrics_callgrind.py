#!/usr/bin/env python3
"""Instructions per scrape at scale, exact: metrics_scale.py's setup (1,000 services x 5
targets, every route and target with traffic, 2 workers) with gantry under
`valgrind --tool=callgrind`, collecting only inside the admin listener's request handling
(`serve`: the handler and the response's hand-over to the socket). Each endpoint is scraped
--scrapes times between two dumps; what is printed is the instructions of one scrape (their
mean), so a busy machine changes nothing. The callgrind files stay in OUTDIR for
callgrind_annotate.

    python3 bench/metrics_callgrind.py [--gantry build/release/gantry] [--services 1000]
                                       [--out DIR]

Everything runs on 127.0.0.1 and stops by itself."""

import argparse
import glob
import json
import os
import stat
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

import gwtest  # noqa: E402
from gwtest import Origin, request  # noqa: E402

sys.path.insert(0, HERE)
import metrics_scale  # noqa: E402

ENDPOINTS = ["/metrics", "/metrics/json", "/metrics/performance", "/metrics/health-score"]


def totals(path):
    with open(path) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gantry", default=os.path.join(HERE, "..", "build", "release", "gantry"))
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--targets", type=int, default=5)
    ap.add_argument("--scrapes", type=int, default=2)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    out = os.path.abspath(a.out or tempfile.mkdtemp(prefix="metrics-cg-"))
    os.makedirs(out, exist_ok=True)
    for f in glob.glob(os.path.join(out, "cg.*")):
        os.unlink(f)
    wrapper = os.path.join(out, "gantry-under-callgrind")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec valgrind --tool=callgrind -q --collect-atstart=no "
                "--toggle-collect=serve --callgrind-out-file=%s/cg.out %s \"$@\"\n"
                % (out, os.path.abspath(a.gantry)))
    os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IXUSR)
    os.environ["GANTRY_BIN"] = wrapper
    origins = [Origin() for _ in range(a.targets)]
    for o in origins:
        o.__enter__()
    try:
        with gwtest.Gantry(metrics_scale.config(origins, a.services, 2), ready_timeout=300) as g:
            metrics_scale.fill(g.port, a.services, a.targets)
            sizes = {}
            for p in ENDPOINTS:  # warm up: the first scrape allocates the scrape copy
                sizes[p] = len(request(g.admin_port, "GET", p, timeout=300).body)
            subprocess.run(["callgrind_control", "-z", str(g.pid)], check=True,
                           stdout=subprocess.DEVNULL)
            report = {}
            for p in ENDPOINTS:
                for _ in range(a.scrapes):
                    r = request(g.admin_port, "GET", p, timeout=300)
                    assert r.status == 200, r
                before = set(glob.glob(os.path.join(out, "cg.out*")))
                subprocess.run(["callgrind_control", "--dump=" + p, str(g.pid)], check=True,
                               stdout=subprocess.DEVNULL)
                new = sorted(set(glob.glob(os.path.join(out, "cg.out*"))) - before)
                ir = sum(totals(f) for f in new)
                report[p] = {"instructions_per_scrape": ir // a.scrapes, "bytes": sizes[p],
                             "files": [os.path.basename(f) for f in new]}
            print(json.dumps({"services": a.services, "targets_per_service": a.targets,
                              "out": out, "scrapes": report}, indent=2))
    finally:
        for o in origins:
            o.__exit__(None, None, None)


if __name__ == "__main__":
    main()
