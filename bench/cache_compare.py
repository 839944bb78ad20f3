#!/usr/bin/env python3
"""gantry's response cache HIT path next to nginx proxy_cache and to gantry uncached, in one
interleaved run (issue 13's "Must hold": HIT at least 1.2x nginx proxy_cache and 2x gantry's
own uncached proxying, 3 B and 4 KiB bodies, 1 worker each), and gantry with the Redis backend
("gantry-redis": cache.backend "redis", every HIT read from a redis-server of its own on
loopback; its CPU per request counts that redis-server too) when redis-server is installed.

The origin (an nginx serving fixed bodies, as in proxy_compare.py) sends no Cache-Control; nginx
caches every 200 for 10 minutes (conf/nginx-cache.sh: proxy_cache_valid, proxy_cache_lock) and
gantry's service stores it for 10 minutes (gantry-peers-cache.json, "ttl": "10m"), so every
measured request of the two cached targets is a hit (the script checks that gantry says
"X-Cache: HIT" before the rounds). "nginx" and "gantry"
are the same proxies without a cache. Rounds, order rotation, disturbed-round handling, CPU
accounting and the exit statuses are proxy_compare.py's (this script imports it).

    python3 bench/cache_compare.py [--rounds N] [--duration S] [--body ok,4k] [--keep-tmp]
"""

import http.client
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proxy_compare as pc  # noqa: E402

TARGETS = ["nginx", "nginx-cache", "gantry", "gantry-cache"]
GOALS = {("gantry-cache", "nginx-cache"): 1.2, ("gantry-cache", "gantry"): 2.0}
# the Redis backend's HIT, next to the others (no goal in the issue)
REDIS_RATIOS = [("gantry-redis", "gantry-cache"), ("gantry-redis", "gantry"),
                ("gantry-redis", "nginx-cache")]
if shutil.which("redis-server"):
    TARGETS.append("gantry-redis")


def setup(args, tmp, ports, origin_port):
    for d in ("www", "temp"):
        os.mkdir(os.path.join(tmp, d))
    for body in ("4k", "64k"):
        with open(os.path.join(tmp, "www", body), "wb") as f:
            f.write(pc.BODIES[body][1])
    user_line = "user root;" if os.geteuid() == 0 else ""
    common = {"tmp": tmp, "user_line": user_line, "origin_port": origin_port}
    origin_conf = pc.render("origin.nginx.conf", tmp, **common)
    nginx_conf = pc.render("proxy.nginx.conf", tmp, port=ports["nginx"], **common)
    conf = os.path.join(pc.HERE, "gantry-peers-cache.json")

    def env(port, **more):
        base = {"PORT": port, "SUT_PORT": port, "WORKERS": 1, "BACKEND_HOST": "127.0.0.1",
                "BACKEND_PORT": origin_port, "BENCH_TMP": tmp}
        base.update(more)
        return ["env"] + [f"{k}={v}" for k, v in base.items()]

    def nginx(name, c):
        return ["nginx", "-p", tmp + "/", "-e", os.path.join(tmp, f"{name}.error.log"),
                "-c", c, "-g", "daemon off;"]

    return [
        pc.Server("origin", origin_port, nginx("origin", origin_conf), tmp),
        pc.Server("nginx", ports["nginx"], nginx("nginx", nginx_conf), tmp),
        pc.Server("nginx-cache", ports["nginx-cache"],
                  env(ports["nginx-cache"]) + ["bash", os.path.join(pc.CONF, "nginx-cache.sh")],
                  tmp),
        pc.Server("gantry", ports["gantry"],
                  env(ports["gantry"], GW_CACHE_ON="false") + [args.gantry_bin, "-c", conf], tmp),
        pc.Server("gantry-cache", ports["gantry-cache"],
                  env(ports["gantry-cache"], GW_CACHE_ON="true") + [args.gantry_bin, "-c", conf],
                  tmp),
    ] + ([pc.Server("gantry-redis", ports["gantry-redis"],
                    env(ports["gantry-redis"], REDIS_PORT=ports["redis"])
                    + ["bash", os.path.join(pc.CONF, "gantry-redis.sh"), args.gantry_bin, "-c",
                       os.path.join(pc.HERE, "gantry-peers-cache-redis.json")], tmp)]
         if "gantry-redis" in TARGETS else [])


def x_cache(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp.getheader("X-Cache")
    finally:
        conn.close()


def report(body, rounds, args, pin_note):
    clean = [r for r in rounds if not r["disturbed"]]
    used = clean if len(clean) >= pc.MIN_CLEAN else rounds
    lines = [f"### body `{body}` ({len(pc.BODIES[body][1]):,} B at `{pc.BODIES[body][0]}`)", "",
             f"wrk -t1 -c{args.conns} -d{args.duration}s --latency; {pin_note}; "
             f"{len(rounds)} rounds, {len(clean)} clean, medians over {len(used)}", ""]
    if len(clean) < pc.MIN_CLEAN:
        lines += [f"**WARNING: only {len(clean)} clean rounds; medians include disturbed "
                  "rounds and are unreliable.**", ""]
    lines += ["| target | req/s (median) | min-max | p50 | p99 | CPU us/req |",
              "|---|---:|---:|---:|---:|---:|"]
    for t in TARGETS:
        runs = [r["runs"][t] for r in used]
        rps = [x["rps"] for x in runs]
        lines.append(f"| {t} | {pc._fmt_rps(statistics.median(rps))} "
                     f"| {pc._fmt_rps(min(rps))}-{pc._fmt_rps(max(rps))} "
                     f"| {pc._fmt_ms(statistics.median(x['p50'] for x in runs))} "
                     f"| {pc._fmt_ms(statistics.median(x['p99'] for x in runs))} "
                     f"| {statistics.median(x['own_us_req'] for x in runs):.1f} |")
    lines += ["", "| ratio | req/s [min-max] | CPU per request (inverse) | goal |",
              "|---|---:|---:|---|"]
    for (a, b), goal in GOALS.items():
        rps = [r["runs"][a]["rps"] / r["runs"][b]["rps"] for r in used]
        cpu = [r["runs"][b]["own_us_req"] / r["runs"][a]["own_us_req"]
               for r in used if r["runs"][a]["own_us_req"] > 0]
        met = "met" if statistics.median(rps) >= goal else "NOT met"
        lines.append(f"| {a} / {b} | {pc._ratio(rps)} | {pc._ratio(cpu)} | {goal}x: {met} |")
    for a, b in REDIS_RATIOS if "gantry-redis" in TARGETS else []:
        rps = [r["runs"][a]["rps"] / r["runs"][b]["rps"] for r in used]
        cpu = [r["runs"][b]["own_us_req"] / r["runs"][a]["own_us_req"]
               for r in used if r["runs"][a]["own_us_req"] > 0]
        lines.append(f"| {a} / {b} | {pc._ratio(rps)} | {pc._ratio(cpu)} | - |")
    return "\n".join(lines)


def bench(args, tmp):
    for tool in ("nginx", "wrk"):
        if not shutil.which(tool):
            raise pc.BenchError(f"{tool} not found (scripts/deps.sh bench installs it)")
    if not os.path.exists(args.gantry_bin):
        raise pc.BenchError(f"{args.gantry_bin} not found (make build, or set GANTRY_BIN)")
    args.body = [b for b in args.body if b != "64k"] or ["ok"]
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= 2 and shutil.which("taskset"):
        lg_pin, srv_pin = ["taskset", "-c", str(cpus[0])], ["taskset", "-c", str(cpus[1])]
        pin_note = f"wrk pinned to cpu{cpus[0]}, origin and proxies to cpu{cpus[1]}"
    else:
        lg_pin, srv_pin, pin_note = [], [], "not pinned (fewer than 2 CPUs)"
    free = pc.free_ports(len(TARGETS) + 2)
    origin_port, ports = free[0], dict(zip(TARGETS, free[1:]))
    ports["redis"] = free[-1]
    servers = setup(args, tmp, ports, origin_port)
    started = []
    try:
        for srv in servers:
            srv.start(srv_pin)
            started.append(srv)
            pc.wait_ready(srv)
            pc.log(f"{srv.name} up on 127.0.0.1:{srv.port} (pid {srv.proc.pid})")
        for t in TARGETS:
            for body in args.body:
                path, want = pc.BODIES[body]
                status, got = pc.fetch(ports[t], path, timeout=5)
                if status != 200 or got != want:
                    raise pc.BenchError(f"{t} {path}: status {status}, {len(got)} bytes")
        for body in args.body:
            for t in ("gantry-cache", "gantry-redis"):
                if t not in TARGETS:
                    continue
                # the Redis backend stores after the answer: give it a moment to land
                for _ in range(100):
                    status, xc = x_cache(ports[t], pc.BODIES[body][0])
                    if xc == "HIT":
                        break
                    time.sleep(0.05)
                if xc != "HIT":
                    raise pc.BenchError(f"{t} {pc.BODIES[body][0]}: X-Cache {xc}, not HIT")
        for t in TARGETS:
            pc.churn(ports[t])
            subprocess.run(lg_pin + ["wrk", "-t1", f"-c{args.conns}", "-d1s",
                                     f"http://127.0.0.1:{ports[t]}/"], capture_output=True)
        own = {t: t for t in TARGETS}
        results = {b: [] for b in args.body}
        last, n = args.rounds, 0
        while n < last:
            order = TARGETS[n % len(TARGETS):] + TARGETS[:n % len(TARGETS)]
            n += 1
            other = 0.0
            for body in args.body:
                rnd = {"n": n, "order": order, "runs": {}}
                for t in order:
                    res = pc.run_wrk(args, lg_pin, ports[t], pc.BODIES[body][0], servers, own[t])
                    rnd["runs"][t] = res
                    other = max(other, res["other_pct"])
                    pc.log(f"round {n} body {body} {t}: {res['rps']:,.0f} req/s, "
                           f"other procs {res['other_pct']:.0f}%")
                    if res["errors"]:
                        raise pc.BenchError(f"{t}: {res['errors']} wrk errors")
                results[body].append(rnd)
                for srv in servers:
                    if not srv.alive():
                        raise pc.BenchError(f"{srv.name} exited:\n{srv.log_tail()}")
            disturbed = other > pc.DISTURBED_PCT
            for body in args.body:
                results[body][-1].update(disturbed=disturbed, other_pct=other)
            if disturbed and last < args.rounds + args.extra_rounds:
                last += 1
                pc.log(f"round {n} DISTURBED ({other:.0f}% of a CPU): adding round {last}")
    finally:
        for srv in reversed(started):
            srv.stop()
    print("## gantry cache HIT (memory, Redis) vs nginx proxy_cache vs uncached "
          "(1 worker each, logs off)\n")
    print(f"{pc.version(['nginx', '-v'])}; {pc.version([args.gantry_bin, 'version'])}; "
          f"{len(os.sched_getaffinity(0))} CPUs\n")
    for body in args.body:
        print(report(body, results[body], args, pin_note) + "\n")
    print("Ratios are medians of per-round ratios. CPU us/req: user+system CPU of the target's "
          "own processes per request; the inverse CPU ratio says how many times less CPU the "
          "first needs per request.")


def main():
    args = pc.parse_args()
    if args.body == ["ok"]:
        args.body = ["ok", "4k"]
    return pc.run_main(bench, args, "gantry-cache-bench.")


if __name__ == "__main__":
    sys.exit(main())
