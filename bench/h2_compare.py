#!/usr/bin/env python3
"""gantry's HTTP/2 downstream next to nginx and HAProxy speaking HTTP/2 to clients, in one
interleaved run: h2load over TLS (ALPN h2), several streams per connection.

The same ECDSA P-256 certificate (made here with openssl) on all three, one worker each, logs
off, HTTP/1.1 keep-alive to an nginx origin serving "ok\\n" (bench/conf/origin.nginx.conf).
Rounds are interleaved with the order rotated; ratios are medians of per-round ratios. h2load
and the servers are pinned to different CPUs, as proxy_compare.py does.

    python3 bench/h2_compare.py [--rounds 3] [--duration 5] [--conns 8] [--streams 16]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys

import proxy_compare as pc
import tls_compare as tc

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TARGETS = ["nginx", "haproxy", "gantry"]

# nginx 1.22 (Debian 12): "http2" is a parameter of "listen".
NGINX = tc.NGINX.replace("listen 127.0.0.1:{port} ssl backlog=4096;",
                         "listen 127.0.0.1:{port} ssl http2 backlog=4096;")
HAPROXY = tc.HAPROXY.replace("alpn http/1.1", "alpn h2,http/1.1")
GANTRY = tc.GANTRY  # HTTP/2 is on by default on the TLS listener


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=5)
    p.add_argument("--conns", type=int, default=8)
    p.add_argument("--streams", type=int, default=16, help="h2load -m: streams per connection")
    p.add_argument("--gantry-bin", default=os.environ.get(
        "GANTRY_BIN", os.path.join(ROOT, "build", "release", "gantry")))
    p.add_argument("--keep-tmp", action="store_true")
    return p.parse_args()


def h2load(lg_pin, port, args, srv):
    ticks0 = pc.proc_ticks(srv.pids())
    cmd = lg_pin + ["h2load", "-t1", f"-c{args.conns}", f"-m{args.streams}",
                    f"-D{args.duration}", f"https://127.0.0.1:{port}/"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 60)
    if out.returncode != 0:
        raise pc.BenchError(f"h2load failed: {' '.join(cmd)}\n{out.stdout}{out.stderr}")
    rps, ok, failed, proto = 0.0, 0, 0, ""
    for line in out.stdout.splitlines():
        if line.startswith("finished in"):
            rps = float(line.split(",")[1].split()[0])
        elif line.startswith("requests:"):
            f = line.replace(",", "").split()
            ok = int(f[f.index("succeeded") - 1])
            failed = int(f[f.index("failed") - 1])
        elif line.startswith("Application protocol:"):
            proto = line.split(":", 1)[1].strip()
    if proto != "h2":
        raise pc.BenchError(f"{srv.name} did not speak h2 (h2load saw {proto!r})")
    us = 1e6 * (pc.proc_ticks(srv.pids()) - ticks0) / pc.HZ / ok if ok else 0.0
    return {"rps": rps, "ok": ok, "failed": failed, "us": us}


def bench(args, tmp):
    for tool in ("nginx", "haproxy", "h2load", "openssl"):
        if not shutil.which(tool):
            raise pc.BenchError(f"{tool} not found (scripts/deps.sh bench installs it)")
    origin, servers, ports, lg_pin, srv_pin = tc.tls_peers(args, tmp, "h2", NGINX, HAPROXY,
                                                           GANTRY)
    started = []
    results = {t: {"rps": [], "us": []} for t in TARGETS}
    try:
        origin.start(srv_pin)
        started.append(origin)
        pc.wait_ready(origin)
        for t in TARGETS:
            servers[t].start(srv_pin)
            started.append(servers[t])
            tc.wait_https(servers[t])
        pc.log("every server answers HTTPS with the origin's body")
        for t in TARGETS:  # warm-up
            h2load(lg_pin, ports[t], argparse.Namespace(conns=args.conns, streams=args.streams,
                                                        duration=1), servers[t])
        for n in range(args.rounds):
            order = TARGETS[n % 3:] + TARGETS[:n % 3]
            for t in order:
                r = h2load(lg_pin, ports[t], args, servers[t])
                results[t]["rps"].append(r["rps"])
                results[t]["us"].append(r["us"])
                pc.log(f"round {n + 1} {t}: {r['rps']:,.0f} req/s over h2 "
                       f"({r['us']:.1f} us CPU each, {r['failed']} failed)")
    finally:
        for srv in reversed(started):
            srv.stop()
    print("## HTTP/2: gantry vs nginx vs HAProxy (1 worker each, TLS, ALPN h2)\n")
    print(f"{pc.version(['nginx', '-v'])}; {pc.version(['haproxy', '-v'])}; "
          f"{pc.version([args.gantry_bin, 'version'])}; {len(os.sched_getaffinity(0))} CPUs; {args.rounds} rounds "
          f"of {args.duration}s, h2load -t1 -c{args.conns} -m{args.streams}\n")
    print("| server | HTTP/2 req/s | vs nginx | vs HAProxy | server CPU us per request |")
    print("| --- | --- | --- | --- | --- |")
    for t in TARGETS:
        med = statistics.median(results[t]["rps"])
        vs_n = statistics.median(a / b for a, b in zip(results[t]["rps"], results["nginx"]["rps"]))
        vs_h = statistics.median(a / b for a, b in zip(results[t]["rps"],
                                                      results["haproxy"]["rps"]))
        print(f"| {t} | {med:,.0f} | {vs_n:.2f} | {vs_h:.2f} | "
              f"{statistics.median(results[t]['us']):.1f} |")
    print("\nRates are medians over rounds, ratios medians of per-round ratios. "
          f"Load average at the end: {' '.join(open('/proc/loadavg').read().split()[:3])}.")
    return 0


def main():
    return pc.run_main(bench, parse_args(), "gantry-h2-bench.")


if __name__ == "__main__":
    sys.exit(main())
