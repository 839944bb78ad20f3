#!/usr/bin/env python3
"""WebSocket tunnels, gantry next to nginx, in one run (issue 14, "Must hold").

    python3 bench/ws_compare.py [--gantry build/rel/gantry] [--tunnels 9900] [--rounds 3]

1. Memory: each proxy (access log off) holds --tunnels idle WebSocket tunnels to an echo server
   of its own (tests/node/ws_peer.mjs, npm ws); RSS of the proxy before and after -> KiB per
   tunnel. Each tunnel takes two descriptors in the proxy, and a process may open no more than
   20,000 here (the hard limit, which root cannot raise in this sandbox): gantry, one process
   with one worker, holds up to about 9,950; nginx runs out of worker_connections above about
   8,000 in one worker process, so for this part it runs 2 worker processes (RSS summed over
   both; the per-tunnel figure is the same as with one, which measures 17.7 KiB at 8,000).
2. Latency: message round trips (32-byte binary messages, echo) straight to the echo server,
   through gantry and through nginx, with 1 connection and with 100; rounds interleaved, the
   median of each round's p50 and p99 reported, and gantry's ratio to nginx and to direct.
3. Throughput: echo with 16 messages of --size bytes (default 4096) in flight per connection,
   1 and 10 connections, for --seconds each, straight, through gantry and through nginx; rounds
   interleaved, the median of the rounds' messages per second, and gantry's ratios.
   (--skip-memory runs 2 and 3 only.)

Every process is started here on free loopback ports and stopped by its pid at the end.
Needs node with tests/node/node_modules (scripts/deps.sh test) and nginx.
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

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER = os.path.join(REPO, "tests", "node", "ws_peer.mjs")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("nothing listens on %d" % port)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit("no VmRSS for %d" % pid)


def children(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(x) for x in out.stdout.split()]


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_echo():
    p = subprocess.Popen(["node", PEER, "server"], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().split()
    if len(line) != 2 or line[0] != "READY":
        raise SystemExit("echo server did not start")
    # keep its event lines from filling the pipe
    subprocess.Popen(["cat"], stdin=p.stdout, stdout=subprocess.DEVNULL)
    return p, int(line[1])


def start_gantry(binary, tmp, backend):
    port, admin = free_port(), free_port()
    cfg = {
        "listen": "127.0.0.1:%d" % port,
        "workers": 1,
        "max_connections": 30000,
        "drain_timeout": "1s",
        "timeouts": {"upstream_connect": "30s"},
        "admin": {"listen": "127.0.0.1:%d" % admin},
        "log": {"access": "off", "level": "warn"},
        "services": [{"name": "ws", "prefix": "/", "targets": ["http://127.0.0.1:%d" % backend]}],
    }
    path = os.path.join(tmp, "gantry.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    p = subprocess.Popen([binary, "-c", path], stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(tmp, "gantry.err"), "w"))
    wait_port(port)
    return p, port, p.pid


def start_nginx(tmp, backend, workers=1, name="nginx"):
    port = free_port()
    tmp = os.path.join(tmp, name)
    os.makedirs(tmp, exist_ok=True)
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""
worker_processes %(workers)d;
worker_rlimit_nofile 20000;
daemon off;
pid %(tmp)s/nginx.pid;
error_log %(tmp)s/nginx.err warn;
events { worker_connections 20000; }
http {
    access_log off;
    client_body_temp_path %(tmp)s/body; proxy_temp_path %(tmp)s/proxy;
    fastcgi_temp_path %(tmp)s/fcgi; uwsgi_temp_path %(tmp)s/uwsgi; scgi_temp_path %(tmp)s/scgi;
    map $http_upgrade $connection_upgrade { default upgrade; '' close; }
    upstream echo { server 127.0.0.1:%(backend)d; keepalive 64; }
    server {
        listen 127.0.0.1:%(port)d;
        location / {
            proxy_pass http://echo;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 3600s;
        }
    }
}
""" % {"tmp": tmp, "port": port, "backend": backend, "workers": workers})
    p = subprocess.Popen(["nginx", "-p", tmp, "-c", conf, "-e", os.path.join(tmp, "nginx.err")])
    wait_port(port)
    pids = []
    deadline = time.monotonic() + 5
    while len(pids) < workers and time.monotonic() < deadline:
        pids = children(p.pid)
        time.sleep(0.05)
    return p, port, pids


def hold_tunnels(port, n):
    env = dict(os.environ, WS_BATCH="100")
    h = subprocess.Popen(["node", PEER, "hold", "ws://127.0.0.1:%d/mem" % port, str(n)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    line = h.stdout.readline().strip()
    if line != "OPEN %d" % n:
        raise RuntimeError("holder: %r" % line)
    return h


def memory(name, port, pids, n):
    # a few round trips first, so that lazily allocated state is not counted per tunnel
    subprocess.run(["node", PEER, "latency", "ws://127.0.0.1:%d/" % port, "4", "10"],
                   capture_output=True, timeout=60)
    time.sleep(0.5)
    before = sum(rss_kib(pid) for pid in pids)
    h = hold_tunnels(port, n)
    time.sleep(1.0)
    after = sum(rss_kib(pid) for pid in pids)
    h.stdin.write("check\n")
    h.stdin.flush()
    checked = h.stdout.readline().strip()
    h.stdin.write("quit\n")
    h.stdin.flush()
    h.wait(60)
    per = (after - before) / n
    print("%-7s RSS %7d KiB idle, %7d KiB with %d tunnels: %.2f KiB per tunnel (%s)"
          % (name, before, after, n, per, checked), flush=True)
    return {"before_kib": before, "after_kib": after, "tunnels": n, "kib_per_tunnel": per}


def latency(port, conns, msgs):
    out = subprocess.run(["node", PEER, "latency", "ws://127.0.0.1:%d/lat" % port, str(conns),
                          str(msgs)], capture_output=True, text=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


def throughput(port, conns, seconds, size):
    out = subprocess.run(["node", PEER, "throughput", "ws://127.0.0.1:%d/tp" % port, str(conns),
                          str(seconds), str(size)], capture_output=True, text=True,
                         timeout=seconds + 120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def interleaved(targets, rounds, run):
    """run(port) for each target, rounds times, the order rotated each round."""
    rows = {name: [] for name, _ in targets}
    for r in range(rounds):
        order = targets[r % len(targets):] + targets[:r % len(targets)]
        for name, port in order:
            rows[name].append(run(port))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gantry", default=os.path.join(REPO, "build", "rel", "gantry"))
    ap.add_argument("--tunnels", type=int, default=9900)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--msgs", type=int, default=2000, help="round trips per connection, 1 conn")
    ap.add_argument("--seconds", type=float, default=3, help="per throughput round")
    ap.add_argument("--size", type=int, default=4096, help="throughput message size")
    ap.add_argument("--skip-memory", action="store_true")
    args = ap.parse_args()
    if not shutil.which("nginx") or not shutil.which("node"):
        raise SystemExit("needs nginx and node")
    tmp = tempfile.mkdtemp(prefix="ws-compare-")
    procs = []
    try:
        # one echo server per proxy: each holds the proxy's tunnels, and a process may have
        # no more than 20,000 descriptors here
        echo, backend = start_echo()
        procs.append(echo)
        echo2, backend2 = start_echo()
        procs.append(echo2)
        g, gport, gpid = start_gantry(args.gantry, tmp, backend)
        procs.append(g)
        n, nport, _ = start_nginx(tmp, backend2)
        procs.append(n)
        report = {"memory": {}, "latency": {}, "throughput": {}}
        if not args.skip_memory:
            report["memory"]["gantry"] = memory("gantry", gport, [gpid], args.tunnels)
            nm, nmport, nmpids = start_nginx(tmp, backend2, workers=2, name="nginx-mem")
            try:
                report["memory"]["nginx"] = memory("nginx", nmport, nmpids, args.tunnels)
            finally:
                stop(nm)
        targets = [("direct", backend), ("gantry", gport), ("nginx", nport)]
        for conns, msgs in ((1, args.msgs), (100, max(20, args.msgs // 20))):
            rows = interleaved(targets, args.rounds, lambda port: latency(port, conns, msgs))
            key = "%d conn" % conns
            report["latency"][key] = {}
            for name, _ in targets:
                p50 = statistics.median(x["p50_us"] for x in rows[name])
                p99 = statistics.median(x["p99_us"] for x in rows[name])
                report["latency"][key][name] = {"p50_us": p50, "p99_us": p99}
                print("%-8s %-7s p50 %7.1f us  p99 %7.1f us  (median of %d rounds)"
                      % (key, name, p50, p99, args.rounds), flush=True)
            lat = report["latency"][key]
            print("%-8s gantry/nginx p50 %.2fx p99 %.2fx; gantry/direct p50 %.2fx p99 %.2fx"
                  % (key, lat["gantry"]["p50_us"] / lat["nginx"]["p50_us"],
                     lat["gantry"]["p99_us"] / lat["nginx"]["p99_us"],
                     lat["gantry"]["p50_us"] / lat["direct"]["p50_us"],
                     lat["gantry"]["p99_us"] / lat["direct"]["p99_us"]), flush=True)
        for conns in (1, 10):
            rows = interleaved(targets, args.rounds,
                               lambda port: throughput(port, conns, args.seconds, args.size))
            key = "%d conn" % conns
            report["throughput"][key] = {}
            for name, _ in targets:
                mps = statistics.median(x["msgs_per_s"] for x in rows[name])
                report["throughput"][key][name] = {"msgs_per_s": mps,
                                                   "mib_per_s": mps * args.size / (1 << 20)}
                print("%-8s %-7s %9.0f msgs/s  %7.1f MiB/s  (%d-byte echo, median of %d rounds)"
                      % (key, name, mps, mps * args.size / (1 << 20), args.size, args.rounds),
                      flush=True)
            tp = report["throughput"][key]
            print("%-8s throughput gantry/nginx %.2fx, gantry/direct %.2fx"
                  % (key, tp["gantry"]["msgs_per_s"] / tp["nginx"]["msgs_per_s"],
                     tp["gantry"]["msgs_per_s"] / tp["direct"]["msgs_per_s"]), flush=True)
        print(json.dumps(report))
    except Exception:
        for name in ("gantry.err", "nginx/nginx.err", "nginx-mem/nginx.err"):
            path = os.path.join(tmp, name)
            if os.path.exists(path):
                print("--- %s\n%s" % (name, open(path).read()[-3000:]))
        raise
    finally:
        for p in reversed(procs):
            stop(p)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
