#!/usr/bin/env python3
"""HTTP/2 to upstreams: h2load (h2c, prior knowledge, several streams per connection) straight
to an HTTP/2 origin, and through gantry to the same origin over h2c (services[].
upstream_protocol "h2c"), with gantry over HTTP/1.1 to an HTTP/1.1 origin beside them for
scale, in one interleaved run.

The origin is nginx (1 worker, logs off, "ok\\n" on /), listening for HTTP/1.1 on one port and
for h2c on another; gantry has 1 worker, logs off, http2.cleartext on. Rounds are interleaved
with the order rotated; the report gives each target's median req/s and the ratios to direct.

    python3 bench/h2_upstream_compare.py [--rounds 3] [--duration 5] [--conns 8] [--streams 16]
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

NGINX = """
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx.error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_timeout 300s;
    keepalive_requests 100000000;
    http2_max_requests 100000000;
    http2_max_concurrent_streams 256;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{h1} backlog=4096;
        location = / {{ return 200 "ok\\n"; }}
    }}
    server {{
        listen 127.0.0.1:{h2} http2 backlog=4096;
        location = / {{ return 200 "ok\\n"; }}
    }}
}}
"""


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def wait_port(port, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def h2load(port, args):
    cmd = ["h2load", "-t1", f"-c{args.conns}", f"-m{args.streams}", f"-D{args.duration}",
           f"http://127.0.0.1:{port}/"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 60)
    rps, ok, failed = 0.0, 0, 0
    for line in out.stdout.splitlines():
        if line.startswith("finished in"):
            rps = float(line.split(",")[1].split()[0])
        elif line.startswith("requests:"):
            f = line.replace(",", "").split()
            ok = int(f[f.index("succeeded") - 1])
            failed = int(f[f.index("failed") - 1])
    if out.returncode != 0 or ok == 0:
        raise RuntimeError(f"h2load failed: {' '.join(cmd)}\n{out.stdout}{out.stderr}")
    return rps, ok, failed


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=5)
    p.add_argument("--conns", type=int, default=8)
    p.add_argument("--streams", type=int, default=16)
    p.add_argument("--gantry-bin", default=os.environ.get(
        "GANTRY_BIN", os.path.join(ROOT, "build", "release", "gantry")))
    args = p.parse_args()
    for tool in ("nginx", "h2load"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (make deps-bench)")
    tmp = tempfile.mkdtemp(prefix="gw-h2up-bench-")
    h1, h2, g_h2c, g_h1, admin1, admin2 = free_ports(6)
    with open(os.path.join(tmp, "nginx.conf"), "w") as f:
        f.write(NGINX.format(tmp=tmp, h1=h1, h2=h2))
    procs = [subprocess.Popen(["nginx", "-p", tmp, "-c", os.path.join(tmp, "nginx.conf"),
                               "-g", "daemon off;"], stderr=subprocess.DEVNULL)]

    def gantry(port, admin, target, proto):
        svc = {"name": "b", "prefix": "/", "targets": [{"url": target}]}
        if proto:
            svc["upstream_protocol"] = proto
        cfg = {"listen": f"127.0.0.1:{port}", "workers": 1,
               "admin": {"listen": f"127.0.0.1:{admin}"}, "http2": {"cleartext": True},
               "metrics": {"enabled": False}, "log": {"access": "off", "level": "warn"},
               "services": [svc]}
        path = os.path.join(tmp, f"gantry-{port}.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        return subprocess.Popen([args.gantry_bin, "-c", path], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    procs.append(gantry(g_h2c, admin1, f"http://127.0.0.1:{h2}", "h2c"))
    procs.append(gantry(g_h1, admin2, f"http://127.0.0.1:{h1}", None))
    targets = {"direct (nginx h2c)": h2, "gantry -> h2c": g_h2c, "gantry -> http1": g_h1}
    try:
        for port in (h1, h2, g_h2c, g_h1):
            wait_port(port)
        for port in targets.values():
            h2load(port, argparse.Namespace(conns=2, streams=2, duration=1))  # warm-up
        results = {t: [] for t in targets}
        names = list(targets)
        for rnd in range(args.rounds):
            order = names[rnd % len(names):] + names[:rnd % len(names)]
            for t in order:
                rps, ok, failed = h2load(targets[t], args)
                if failed:
                    raise RuntimeError(f"{t}: {failed} requests failed")
                results[t].append(rps)
                print(f"round {rnd + 1} {t}: {rps:,.0f} req/s", flush=True)
        direct = statistics.median(results[names[0]])
        print(f"\nh2load -t1 -c{args.conns} -m{args.streams} -D{args.duration} "
              f"(h2c), {args.rounds} rounds, medians:")
        for t in names:
            m = statistics.median(results[t])
            print(f"  {t:20s} {m:12,.0f} req/s   {m / direct:5.2f}x direct")
    finally:
        for pr in procs:
            pr.send_signal(signal.SIGTERM)
        for pr in procs:
            try:
                pr.wait(10)
            except subprocess.TimeoutExpired:
                pr.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
