#!/usr/bin/env python3
"""gantry's HTTPS listener next to nginx and HAProxy terminating TLS, in one interleaved run.

The same ECDSA P-256 certificate (made here with openssl) on all three, one worker each, logs
off, upstream keep-alive to an nginx origin serving "ok\\n" (bench/conf/origin.nginx.conf).
Measured, rounds interleaved with the order rotated (ratios are medians of per-round ratios):

- TLS 1.3 handshakes/s: wrk with "Connection: close", so every request is a new connection
  with a handshake. wrk keeps each connection's session across its reconnects (SSL_clear) and
  offers it: these are mostly TLS 1.3 resumptions (PSK with a fresh X25519 exchange), as many as
  the server's tickets allow (a server that sends no new ticket after a resumption gets a full
  handshake every other time);
- HTTPS keep-alive req/s: wrk -c64 on long-lived TLS connections;
- HTTP/2 req/s: h2load -c8 -m16 (ALPN h2, 16 streams per connection), as h2_compare.py runs it;
  so every server has HTTP/2 on for the whole run (nginx `listen ... ssl http2`, HAProxy
  `alpn h2,http/1.1`; wrk offers no ALPN and gets HTTP/1.1 from all three);
- memory per idle TLS connection: RSS of the server's processes before and after holding
  --idle connections, each of which completed a handshake and one request; measured first,
  before any other load, so that no server reuses memory freed by the rounds.

wrk and the clients are pinned to one CPU, the servers to the other, as proxy_compare.py does.

Rounds disturbed by other processes (more than 10% of a CPU besides ours, proxy_compare.py's
measure) are flagged, dropped while 3 clean ones remain, and replaced by up to --extra-rounds.

    python3 bench/tls_compare.py [--rounds 3] [--extra-rounds 2] [--duration 5] [--idle 2000]
                                 [--h2-conns 8] [--streams 16] [--keep-tmp]
"""

import argparse
import os
import resource
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import time

import proxy_compare as pc

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TARGETS = ["nginx", "haproxy", "gantry"]

NGINX = """{user_line}
worker_processes 1;
pid {tmp}/nginx-tls.pid;
error_log {tmp}/nginx-tls.error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    keepalive_timeout 300s;
    keepalive_requests 100000000;
    client_body_temp_path {tmp}/temp/t-body;
    proxy_temp_path {tmp}/temp/t-proxy;
    fastcgi_temp_path {tmp}/temp/t-fastcgi;
    uwsgi_temp_path {tmp}/temp/t-uwsgi;
    scgi_temp_path {tmp}/temp/t-scgi;
    upstream origin {{ server 127.0.0.1:{origin_port}; keepalive 256; keepalive_timeout 300s; }}
    server {{
        listen 127.0.0.1:{port} ssl backlog=4096;
        ssl_certificate {tmp}/cert.pem;
        ssl_certificate_key {tmp}/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""

HAPROXY = """global
    nbthread 1
    maxconn 8192
    tune.ssl.default-dh-param 2048
defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    timeout http-request 30s
    timeout http-keep-alive 300s
frontend fe
    bind 127.0.0.1:{port} ssl crt {tmp}/combined.pem alpn http/1.1 ssl-min-ver TLSv1.2
    maxconn 8192
    default_backend origin
backend origin
    server o1 127.0.0.1:{origin_port}
"""

GANTRY = """{{
    "listen": "127.0.0.1:{plain_port}",
    "workers": 1,
    "max_connections": 20000,
    "timeouts": {{ "client_idle": "300s" }},
    "upstream": {{ "keepalive": {{ "max_idle": 256, "idle_timeout": "300s" }} }},
    "log": {{ "access": "off" }},
    "admin": {{ "listen": "off" }},
    "security_headers": false,
    "tls": {{ "listen": "127.0.0.1:{port}",
              "certificates": [{{ "cert": "{tmp}/cert.pem", "key": "{tmp}/key.pem" }}] }},
    "services": [ {{ "name": "origin", "prefix": "/",
                    "targets": ["http://127.0.0.1:{origin_port}"] }} ]
}}
"""


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--extra-rounds", type=int, default=2,
                   help="rounds added to replace disturbed ones")
    p.add_argument("--duration", type=int, default=5)
    p.add_argument("--conns", type=int, default=64)
    p.add_argument("--idle", type=int, default=2000, help="idle TLS connections held")
    p.add_argument("--h2-conns", type=int, default=8, help="h2load -c")
    p.add_argument("--streams", type=int, default=16, help="h2load -m: streams per connection")
    p.add_argument("--gantry-bin", default=os.environ.get(
        "GANTRY_BIN", os.path.join(ROOT, "build", "release", "gantry")))
    p.add_argument("--keep-tmp", action="store_true")
    return p.parse_args()


def https_ok(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        with ctx.wrap_socket(s, server_hostname="bench.test") as t:
            t.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                c = t.recv(4096)
                if not c:
                    break
                data += c
    return data.startswith(b"HTTP/1.1 200") and data.endswith(b"ok\n")


def wait_https(srv, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not srv.alive():
            raise pc.BenchError(f"{srv.name} exited at start:\n{srv.log_tail()}")
        try:
            if https_ok(srv.port):
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise pc.BenchError(f"{srv.name} did not answer HTTPS on {srv.port}:\n{srv.log_tail()}")


def wrk(lg_pin, port, args, close, srv=None):
    """One wrk run; with srv, also the server's own CPU (user + system) per request in us, a
    figure other tenants of a shared machine cannot inflate."""
    ticks0 = pc.proc_ticks(srv.pids()) if srv else 0
    cmd = lg_pin + ["wrk", "-t1", f"-c{args.conns}", f"-d{args.duration}s", "--latency"]
    if close:
        cmd += ["-H", "Connection: close"]
    cmd.append(f"https://127.0.0.1:{port}/")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 60)
    if out.returncode != 0:
        raise pc.BenchError(f"wrk failed: {' '.join(cmd)}\n{out.stdout}{out.stderr}")
    res = pc.parse_wrk(out.stdout)
    if srv and res["requests"]:
        res["us"] = 1e6 * (pc.proc_ticks(srv.pids()) - ticks0) / pc.HZ / res["requests"]
    return res


def rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def idle_cost(srv, n):
    """KiB of server RSS per idle TLS keep-alive connection (each served one request)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    socks = []
    try:
        before = rss_kib(srv.pids())
        for _ in range(n):
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", srv.port), timeout=5),
                                server_hostname="bench.test")
            s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
            data = b""
            while not data.endswith(b"ok\n"):
                c = s.recv(4096)
                if not c:
                    raise pc.BenchError(f"{srv.name}: idle connection closed")
                data += c
            socks.append(s)
        time.sleep(1.0)  # let the server settle (buffers released after the request)
        after = rss_kib(srv.pids())
        return (after - before) / n
    finally:
        for s in socks:
            s.close()


def tls_peers(args, tmp, name, nginx_conf, haproxy_conf, gantry_conf):
    """What a TLS comparison (this one, h2_compare.py) starts from: a self-signed certificate
    in tmp, the CPU pinning, and the origin plus the nginx, HAProxy and gantry servers on
    their TLS ports, from the three config templates. Returns (origin, servers, ports,
    lg_pin, srv_pin); nothing is started yet."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                    "/CN=bench.test", "-keyout", f"{tmp}/key.pem", "-out", f"{tmp}/cert.pem"],
                   check=True, capture_output=True)
    with open(f"{tmp}/combined.pem", "w") as f:
        f.write(open(f"{tmp}/cert.pem").read() + open(f"{tmp}/key.pem").read())
    for d in ("www", "temp"):
        os.mkdir(os.path.join(tmp, d))
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= 2 and shutil.which("taskset"):
        lg_pin, srv_pin = ["taskset", "-c", str(cpus[0])], ["taskset", "-c", str(cpus[1])]
    else:
        lg_pin, srv_pin = [], []
    origin_port, pn, ph, pg, pplain = pc.free_ports(5)
    ports = {"nginx": pn, "haproxy": ph, "gantry": pg}
    user_line = "user root;" if os.geteuid() == 0 else ""
    common = {"tmp": tmp, "user_line": user_line, "origin_port": origin_port}
    origin_conf = pc.render("origin.nginx.conf", tmp, **common)
    with open(f"{tmp}/nginx-{name}.conf", "w") as f:
        f.write(nginx_conf.format(port=pn, **common))
    with open(f"{tmp}/haproxy-{name}.cfg", "w") as f:
        f.write(haproxy_conf.format(port=ph, **common))
    with open(f"{tmp}/gantry-{name}.json", "w") as f:
        f.write(gantry_conf.format(port=pg, plain_port=pplain, **common))

    def nginx(conf_name, conf):
        return ["nginx", "-p", tmp + "/", "-e", f"{tmp}/{conf_name}.error.log", "-c", conf, "-g",
                "daemon off;"]

    origin = pc.Server("origin", origin_port, nginx("origin", origin_conf), tmp)
    servers = {
        "nginx": pc.Server("nginx", pn, nginx(f"nginx-{name}", f"{tmp}/nginx-{name}.conf"), tmp),
        "haproxy": pc.Server("haproxy", ph, ["haproxy", "-db", "-f", f"{tmp}/haproxy-{name}.cfg"],
                             tmp),
        "gantry": pc.Server("gantry", pg, [args.gantry_bin, "-c", f"{tmp}/gantry-{name}.json"],
                            tmp),
    }
    return origin, servers, ports, lg_pin, srv_pin


def other_cpu(run, servers):
    """run() with the busy CPU of everything but this script, its clients (wrk, h2load) and the
    servers, in % of one CPU over the run, in its result's "other_pct" (proxy_compare.py's
    measure of a disturbed run)."""
    pids = [p for srv in servers for p in srv.pids()]
    ours0, srv0, busy0 = pc._our_cpu_s(), pc.proc_ticks(pids), pc.busy_ticks()
    t0 = time.monotonic()
    res = run()
    wall = time.monotonic() - t0
    busy, srv = pc.busy_ticks() - busy0, pc.proc_ticks(pids) - srv0
    ours = pc._our_cpu_s() - ours0
    res["other_pct"] = max(0.0, 100.0 * ((busy - srv) / pc.HZ - ours) / wall)
    return res


def bench(args, tmp):
    for tool in ("nginx", "haproxy", "wrk", "h2load", "openssl"):
        if not shutil.which(tool):
            raise pc.BenchError(f"{tool} not found (scripts/deps.sh bench installs it)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.idle + 1000)), hard))
    import h2_compare as hc  # it builds on this file: imported here, not at the top

    origin, servers, ports, lg_pin, srv_pin = tls_peers(args, tmp, "tls", hc.NGINX, hc.HAPROXY,
                                                        hc.GANTRY)
    h2args = argparse.Namespace(conns=args.h2_conns, streams=args.streams,
                                duration=args.duration)
    everyone = [origin] + [servers[t] for t in TARGETS]
    started = []
    rounds = []
    mem = {}
    try:
        origin.start(srv_pin)
        started.append(origin)
        pc.wait_ready(origin)
        for t in TARGETS:
            servers[t].start(srv_pin)
            started.append(servers[t])
            wait_https(servers[t])
        pc.log("every server answers HTTPS with the origin's body")
        # Memory first, on servers that have served nothing else yet: memory freed by the
        # rounds (h2load's buffers, 64 wrk connections) would otherwise be reused by the idle
        # connections and hide part of their cost, more or less for each server.
        for t in TARGETS:
            mem[t] = idle_cost(servers[t], args.idle)
            pc.log(f"{t}: {mem[t]:.2f} KiB per idle TLS connection")
        for t in TARGETS:  # warm-up
            wrk(lg_pin, ports[t], argparse.Namespace(conns=args.conns, duration=1), False)
            hc.h2load(lg_pin, ports[t], argparse.Namespace(conns=args.h2_conns,
                                                           streams=args.streams, duration=1),
                      servers[t])
        last, n = args.rounds, 0
        while n < last:
            order = TARGETS[n % 3:] + TARGETS[:n % 3]
            n += 1
            rnd = {"n": n, "order": order, "runs": {}, "other_pct": 0.0}
            for t in order:
                srv = servers[t]
                hs = other_cpu(lambda: wrk(lg_pin, ports[t], args, True, srv), everyone)
                ka = other_cpu(lambda: wrk(lg_pin, ports[t], args, False, srv), everyone)
                h2 = other_cpu(lambda: hc.h2load(lg_pin, ports[t], h2args, srv), everyone)
                rnd["runs"][t] = {"hs": hs, "ka": ka, "h2": h2}
                rnd["other_pct"] = max(rnd["other_pct"], hs["other_pct"], ka["other_pct"],
                                       h2["other_pct"])
                pc.log(f"round {n} {t}: {hs['rps']:,.0f} handshakes/s "
                       f"({hs['us']:.0f} us CPU each, {hs['errors']} errors), "
                       f"{ka['rps']:,.0f} keep-alive req/s ({ka['us']:.1f} us CPU each, "
                       f"{ka['errors']} errors), {h2['rps']:,.0f} h2 req/s ({h2['us']:.1f} us "
                       f"CPU each, {h2['failed']} failed); other processes "
                       f"{max(hs['other_pct'], ka['other_pct'], h2['other_pct']):.0f}% of a "
                       f"CPU; load average {os.getloadavg()[0]:.1f}")
                for s in everyone:
                    if not s.alive():
                        raise pc.BenchError(f"{s.name} exited during the run:\n{s.log_tail()}")
            rnd["disturbed"] = rnd["other_pct"] > pc.DISTURBED_PCT
            rnd["load"] = os.getloadavg()[0]
            rounds.append(rnd)
            if rnd["disturbed"]:
                more = last < args.rounds + args.extra_rounds
                last += 1 if more else 0
                pc.log(f"round {n} DISTURBED: other processes used {rnd['other_pct']:.0f}% of a "
                       "CPU; " + (f"adding round {last}" if more else "no extra rounds left"))
    finally:
        for srv in reversed(started):
            srv.stop()
    report(args, rounds, mem)
    return 0


def report(args, rounds, mem):
    clean = [r for r in rounds if not r["disturbed"]]
    used = clean if len(clean) >= pc.MIN_CLEAN else rounds
    print("## HTTPS: gantry vs nginx vs HAProxy (1 worker each, same ECDSA P-256 certificate)\n")
    print(f"{pc.version(['nginx', '-v'])}; {pc.version(['haproxy', '-v'])}; "
          f"{pc.version([args.gantry_bin, 'version'])}; {len(os.sched_getaffinity(0))} CPUs; "
          f"{len(rounds)} rounds of {args.duration}s, {len(clean)} clean, medians over "
          f"{len(used)}; wrk -t1 -c{args.conns}, h2load -t1 -c{args.h2_conns} -m{args.streams}\n")
    if len(clean) < pc.MIN_CLEAN:
        print(f"**WARNING: only {len(clean)} clean rounds; medians include disturbed rounds and "
              "are unreliable.**\n")

    def med(t, k, field):
        return statistics.median(r["runs"][t][k][field] for r in used)

    print("| server | TLS 1.3 handshakes/s (new connection per request) | keep-alive req/s "
          "| HTTP/2 req/s | KiB per idle TLS connection |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for t in TARGETS:
        row = [t] + [f"{med(t, k, 'rps'):,.0f} ({med(t, k, 'us'):.1f} us CPU each)"
                     for k in ("hs", "ka", "h2")]
        row.append(f"{mem[t]:.2f}")
        print("| " + " | ".join(row) + " |")
    print("\ngantry against the better of nginx and HAProxy in the same round (median of the "
          "rounds' ratios [min-max]; the issue asks for at least 1.00 in each):\n")
    print("| | handshakes/s | keep-alive req/s | HTTP/2 req/s | KiB per idle TLS connection |")
    print("| --- | ---: | ---: | ---: | ---: |")
    row = ["gantry / best peer"]
    for k in ("hs", "ka", "h2"):
        ratios = [r["runs"]["gantry"][k]["rps"] /
                  max(r["runs"]["nginx"][k]["rps"], r["runs"]["haproxy"][k]["rps"]) for r in used]
        row.append(f"{statistics.median(ratios):.2f} [{min(ratios):.2f}-{max(ratios):.2f}]")
    row.append(f"{mem['gantry'] / min(mem['nginx'], mem['haproxy']):.2f} (lower is better)")
    print("| " + " | ".join(row) + " |")
    print("\n| round | order | other processes, % of a CPU (max run) | load average | |")
    print("| ---: | --- | ---: | ---: | --- |")
    for r in rounds:
        flag = ("DISTURBED" + (" (dropped)" if used is clean else "")) if r["disturbed"] \
            else "clean"
        print(f"| {r['n']} | {' '.join(r['order'])} | {r['other_pct']:.1f} | {r['load']:.1f} "
              f"| {flag} |")
    print("\nRates are medians over the rounds used, ratios medians of per-round ratios; the CPU "
          "per request (the server's own processes, user + system) moves much less with the "
          "neighbours than the rates. Disturbed: processes other than the clients, this script "
          f"and the servers used more than {pc.DISTURBED_PCT:.0f}% of a CPU during a run of that "
          "round.")


def main():
    return pc.run_main(bench, parse_args(), "gantry-tls-bench.")


if __name__ == "__main__":
    sys.exit(main())
