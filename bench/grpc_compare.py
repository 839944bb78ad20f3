#!/usr/bin/env python3
"""gRPC proxying: h2load with gRPC-shaped unary calls (POST, content-type application/grpc,
te: trailers, a 5-byte-framed message body) over h2c, straight to a gRPC origin, through nginx
(grpc_pass grpc://) and through gantry (services[].upstream_protocol "h2c"), in one
interleaved run.

The origin is nginx speaking h2c (1 worker, logs off) that answers every call like a unary
gRPC server: HTTP 200, content-type application/grpc, one framed message (a gwtest.Msg with
text "ok") and the trailer grpc-status: 0. The proxies have 1 worker each, logs off, a
keep-alive HTTP/2 connection pool to the origin; gantry's metrics stay on (its default, so
each call is also counted by gRPC status). Before measuring, every target must answer a call
with the origin's message and then grpc-status 0 in the trailers (checked with nghttp). Rounds are
interleaved with the order rotated; h2load is pinned to the first CPU and the servers to the
second when there are two. The report gives each target's median req/s and the medians of
the per-round ratios to direct and to nginx.

    python3 bench/grpc_compare.py [--rounds 3] [--duration 5] [--conns 8] [--streams 16]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import proxy_compare as pc

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TARGETS = ["direct", "nginx", "gantry"]
PATH = "/gwtest.Echo/Unary"
# A gRPC length-prefixed message: not compressed, 4-byte length, then gwtest.Msg{text: "ok"}.
REQUEST = b"\x00\x00\x00\x00\x04\x0a\x02hi"
ANSWER = b"\x00\x00\x00\x00\x04\x0a\x02ok"

# The origin: every call is rewritten to the message file; the static module refuses POST with
# 405, which error_page turns into an internal GET of the file with status 200.
ORIGIN = """
worker_processes 1;
{user_line}
pid {tmp}/origin.pid;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_timeout 300s;
    keepalive_requests 100000000;
    http2_max_concurrent_streams 256;
    client_body_temp_path {tmp}/temp;
    server {{
        listen 127.0.0.1:{port} http2 backlog=4096;
        root {tmp}/www;
        location / {{ rewrite ^ /msg last; }}
        location = /msg {{
            default_type application/grpc;
            add_trailer grpc-status 0;
            error_page 405 =200 /msg;
        }}
    }}
}}
"""

NGINX = """
worker_processes 1;
{user_line}
pid {tmp}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_timeout 300s;
    keepalive_requests 100000000;
    http2_max_concurrent_streams 256;
    client_body_temp_path {tmp}/temp;
    upstream origin {{
        server 127.0.0.1:{origin_port};
        keepalive 256;
        keepalive_requests 100000000;
        keepalive_timeout 300s;
    }}
    server {{
        listen 127.0.0.1:{port} http2 backlog=4096;
        location / {{ grpc_pass grpc://origin; }}
    }}
}}
"""


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


def setup(args, tmp, ports):
    for d in ("www", "temp"):
        os.mkdir(os.path.join(tmp, d))
    with open(os.path.join(tmp, "www", "msg"), "wb") as f:
        f.write(ANSWER)
    with open(os.path.join(tmp, "request.bin"), "wb") as f:
        f.write(REQUEST)
    user_line = "user root;" if os.geteuid() == 0 else ""
    confs = {}
    for name, text, port in (("origin", ORIGIN, ports["direct"]), ("nginx", NGINX, ports["nginx"])):
        confs[name] = os.path.join(tmp, f"{name}.nginx.conf")
        with open(confs[name], "w") as f:
            f.write(text.format(tmp=tmp, user_line=user_line, port=port,
                                origin_port=ports["direct"]))
    gantry_conf = os.path.join(tmp, "gantry.json")
    with open(gantry_conf, "w") as f:
        json.dump({"listen": f"127.0.0.1:{ports['gantry']}", "workers": 1,
                   "admin": {"listen": f"127.0.0.1:{ports['admin']}"},
                   "http2": {"cleartext": True}, "log": {"access": "off", "level": "warn"},
                   "upstream": {"keepalive": {"idle_timeout": "300s"}},
                   "services": [{"name": "echo", "prefix": "/", "upstream_protocol": "h2c",
                                 "timeouts": {"upstream_response": "30s"},
                                 "targets": [{"url": f"http://127.0.0.1:{ports['direct']}"}]}]},
                  f)

    def nginx(name):
        return ["nginx", "-p", tmp + "/", "-e", os.path.join(tmp, f"{name}.error.log"),
                "-c", confs[name], "-g", "daemon off;"]

    return (pc.Server("origin", ports["direct"], nginx("origin"), tmp),
            {"nginx": pc.Server("nginx", ports["nginx"], nginx("nginx"), tmp),
             "gantry": pc.Server("gantry", ports["gantry"], [args.gantry_bin, "-c", gantry_conf],
                                 tmp)})


def grpc_call(port, tmp):
    """One call with nghttp (curl does not show trailers): whether the answer held the
    origin's message followed by the trailer grpc-status: 0."""
    out = subprocess.run(
        ["nghttp", "-v", "-t", "5", "-d", os.path.join(tmp, "request.bin"),
         "-H", "content-type: application/grpc", "-H", "te: trailers",
         f"http://127.0.0.1:{port}{PATH}"], capture_output=True, timeout=30).stdout
    body, data = out.find(ANSWER), out.find(b"recv DATA frame")
    return 0 <= body and 0 <= data and out.find(b"grpc-status: 0", data) > data


def wait_grpc(srv, tmp, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not srv.alive():
            raise pc.BenchError(f"{srv.name} exited: {srv.log_tail()}")
        if grpc_call(srv.port, tmp):
            return
        time.sleep(0.05)
    raise pc.BenchError(f"{srv.name}: no gRPC answer with the origin's message and "
                        f"grpc-status 0 within {timeout:.0f} s")


def h2load(lg_pin, port, args, srv, tmp):
    ticks0 = pc.proc_ticks(srv.pids())
    cmd = lg_pin + ["h2load", "-t1", f"-c{args.conns}", f"-m{args.streams}",
                    f"-D{args.duration}", "-d", os.path.join(tmp, "request.bin"),
                    "-H", "content-type: application/grpc", "-H", "te: trailers",
                    f"http://127.0.0.1:{port}{PATH}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 60)
    if out.returncode != 0:
        raise pc.BenchError(f"h2load failed: {' '.join(cmd)}\n{out.stdout}{out.stderr}")
    rps, ok, failed, non2xx = 0.0, 0, 0, 0
    for line in out.stdout.splitlines():
        if line.startswith("finished in"):
            rps = float(line.split(",")[1].split()[0])
        elif line.startswith("requests:"):
            f = line.replace(",", "").split()
            ok = int(f[f.index("succeeded") - 1])
            failed = int(f[f.index("failed") - 1])
        elif line.startswith("status codes:"):
            f = line.replace(",", "").split()
            non2xx = sum(int(f[i - 1]) for i, w in enumerate(f) if w in ("3xx", "4xx", "5xx"))
    # A rare failed call is reported, not fatal: nginx's grpc_pass in front of the nginx origin
    # now and then logs "upstream sent frame for unknown stream" and answers 502.
    if ok == 0 or max(failed, non2xx) > ok // 100:
        raise pc.BenchError(f"{srv.name}: {ok} calls succeeded, {non2xx} not 2xx, "
                            f"{failed} failed\n{out.stdout}")
    us = 1e6 * (pc.proc_ticks(srv.pids()) - ticks0) / pc.HZ / ok
    # h2load's "failed" counts the answers that were not 2xx too.
    return {"rps": rps, "ok": ok, "failed": max(failed, non2xx), "us": us}


def bench(args, tmp):
    for tool in ("nginx", "h2load", "nghttp"):
        if not shutil.which(tool):
            raise pc.BenchError(f"{tool} not found (scripts/deps.sh bench installs it)")
    args.gantry_bin = os.path.abspath(args.gantry_bin)  # the servers run in the temp dir
    if not os.access(args.gantry_bin, os.X_OK):
        raise pc.BenchError(f"{args.gantry_bin} is not an executable (make build)")
    ports = dict(zip(TARGETS + ["admin"], pc.free_ports(len(TARGETS) + 1)))
    origin, proxies = setup(args, tmp, ports)
    cpus = sorted(os.sched_getaffinity(0))
    lg_pin, srv_pin = ([], [])
    if len(cpus) >= 2 and shutil.which("taskset"):
        lg_pin, srv_pin = (["taskset", "-c", str(cpus[0])], ["taskset", "-c", str(cpus[1])])
    servers = {"direct": origin, **proxies}
    started = []
    results = {t: {"rps": [], "us": [], "bad": 0} for t in TARGETS}
    try:
        origin.start(srv_pin)
        started.append(origin)
        wait_grpc(origin, tmp)
        for t in ("nginx", "gantry"):
            proxies[t].start(srv_pin)
            started.append(proxies[t])
            wait_grpc(proxies[t], tmp)
        pc.log("every target answers a gRPC call with the origin's message and grpc-status 0")
        for t in TARGETS:  # warm-up
            h2load(lg_pin, ports[t], argparse.Namespace(conns=args.conns, streams=args.streams,
                                                        duration=1), servers[t], tmp)
        for n in range(args.rounds):
            order = TARGETS[n % 3:] + TARGETS[:n % 3]
            for t in order:
                r = h2load(lg_pin, ports[t], args, servers[t], tmp)
                results[t]["rps"].append(r["rps"])
                results[t]["us"].append(r["us"])
                results[t]["bad"] += r["failed"]
                pc.log(f"round {n + 1} {t}: {r['rps']:,.0f} calls/s "
                       f"({r['us']:.1f} us CPU each, {r['failed']} failed)")
    finally:
        for srv in reversed(started):
            srv.stop()
    print("## gRPC (h2c): direct vs nginx grpc_pass vs gantry (1 worker each)\n")
    print(f"{pc.version(['nginx', '-v'])}; {pc.version([args.gantry_bin, 'version'])}; "
          f"{len(os.sched_getaffinity(0))} CPUs; {args.rounds} rounds of {args.duration}s, "
          f"h2load -t1 -c{args.conns} -m{args.streams}, unary calls of {len(REQUEST)} bytes\n")
    print("| target | calls/s | vs direct | vs nginx | server CPU us per call | failed calls |")
    print("| --- | --- | --- | --- | --- | --- |")
    for t in TARGETS:
        med = statistics.median(results[t]["rps"])
        vs_d = statistics.median(a / b for a, b in zip(results[t]["rps"],
                                                      results["direct"]["rps"]))
        vs_n = statistics.median(a / b for a, b in zip(results[t]["rps"], results["nginx"]["rps"]))
        print(f"| {t} | {med:,.0f} | {vs_d:.2f} | {vs_n:.2f} | "
              f"{statistics.median(results[t]['us']):.1f} | {results[t]['bad']} |")
    print("\nRates are medians over rounds, ratios medians of per-round ratios; CPU is the "
          "target's own processes (for a proxy, not the origin's). Load average at the end: "
          f"{' '.join(open('/proc/loadavg').read().split()[:3])}.")
    return 0


def main():
    return pc.run_main(bench, parse_args(), "gantry-grpc-bench.")


if __name__ == "__main__":
    sys.exit(main())
