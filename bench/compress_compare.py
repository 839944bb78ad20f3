#!/usr/bin/env python3
"""gzip of a 64 KiB JSON response: gantry's CPU per byte against nginx's `gzip on` at the same level.

One nginx serves the same 64 KiB JSON file (a realistic document: an array of objects with
repeated keys, ids, names, prices) as the origin. In front of it, each with one worker and
keep-alive upstream connections:

    nginx   gzip on; gzip_comp_level N; gzip_types application/json; gzip_proxied any
    gantry  "compression": {"algorithms": ["gzip"], "gzip_level": N, "types": ["application/json"]}

Before timing, each proxy is checked to answer gzip (Content-Encoding, no Content-Length) whose
decoded body is the file. Then rounds are interleaved (the order rotated each round): `wrk -t1
-c8 -H 'Accept-Encoding: gzip'` per proxy, wrk pinned to cpu0 and the servers to cpu1. The
proxy's CPU time (user + system, every process and thread of it, from /proc) over the run, per
request and per uncompressed byte, is what is compared; the table has the medians over rounds
and the median of per-round ratios gantry/nginx with its range.

With --callgrind, each proxy instead runs alone under valgrind's callgrind (nginx with
master_process off) and gets N1 then N2 requests on one keep-alive connection in two separate
runs; instructions per request = (Ir(N2) - Ir(N1)) / (N2 - N1): user-space instructions, exact
and repeatable (the count noise on this shared machine cannot move).

    python3 bench/compress_compare.py [--level 6] [--rounds 5] [--duration 5] [--gantry PATH]
    python3 bench/compress_compare.py --callgrind [--level 6]
"""

import argparse
import gzip
import http.client
import json
import os
import random
import re
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
SIZE = 64 * 1024


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def json_document(size):
    """A JSON array of catalogue items, cut to exactly size bytes with padding in a last item."""
    rnd = random.Random(16)
    words = ["red", "blue", "green", "large", "small", "steel", "cotton", "wood", "lamp", "chair",
             "table", "shirt", "mug", "kettle", "desk", "shelf", "rug", "clock"]
    items, total = [], 2
    i = 0
    while True:
        it = json.dumps({"id": 100000 + i, "sku": "SKU-%06d" % rnd.randrange(10 ** 6),
                         "name": " ".join(rnd.choice(words) for _ in range(3)),
                         "price": round(rnd.uniform(1, 500), 2), "in_stock": rnd.random() < .8,
                         "tags": rnd.sample(words, 3)}, separators=(",", ":"))
        if total + len(it) + 1 > size - 64:
            break
        items.append(it)
        total += len(it) + 1
        i += 1
    body = "[" + ",".join(items)
    pad = size - len(body) - len(',{"note":""}]')
    body += ',{"note":"' + "x" * pad + '"}]'
    assert len(body) == size
    return body.encode()


def wait_port(port, proc, what):
    for _ in range(200):
        if proc.poll() is not None:
            sys.exit("%s exited while starting" % what)
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit("%s did not listen on %d" % (what, port))


def tree_pids(pid):
    out = [pid]
    try:
        kids = open("/proc/%d/task/%d/children" % (pid, pid)).read().split()
    except OSError:
        kids = []
    for k in kids:
        out += tree_pids(int(k))
    return out


def cpu_seconds(pid):
    """(user, system) time of pid and its descendants (their threads included)."""
    tick = os.sysconf("SC_CLK_TCK")
    user = system = 0
    for p in tree_pids(pid):
        try:
            f = open("/proc/%d/stat" % p).read()
        except OSError:
            continue
        fields = f[f.rindex(")") + 2:].split()
        user += int(fields[11])
        system += int(fields[12])
    return user / tick, system / tick


def nginx_conf(tmp, name, body):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write("""worker_processes 1;
daemon off;
master_process on;
pid %s/nginx.pid;
error_log %s/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s;
    uwsgi_temp_path %s; scgi_temp_path %s;
    keepalive_timeout 300s;
    keepalive_requests 1000000;
%s
}
""" % ((d,) * 7 + (body,)))
    return os.path.join(d, "nginx.conf")


def start(cmd, port, what, cpu):
    p = subprocess.Popen(["taskset", "-c", cpu] + cmd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    wait_port(port, p, what)
    return p


def check(port, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/64k.json", headers={"Accept-Encoding": "gzip"})
    r = c.getresponse()
    data = r.read()
    c.close()
    assert r.status == 200, r.status
    assert r.getheader("Content-Encoding") == "gzip", r.getheaders()
    assert gzip.decompress(data) == body
    return len(data)


def wrk(port, duration, cpu):
    out = subprocess.run(["taskset", "-c", cpu, "wrk", "-t1", "-c8", "-d%ds" % duration,
                          "-H", "Accept-Encoding: gzip", "http://127.0.0.1:%d/64k.json" % port],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"(\d+) requests in", out)
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errs:
        sys.exit("wrk: non-2xx answers: " + out)
    return int(m.group(1))


def send_n(port, n, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for _ in range(n):
        c.request("GET", "/64k.json", headers={"Accept-Encoding": "gzip"})
        r = c.getresponse()
        data = r.read()
        assert r.status == 200 and r.getheader("Content-Encoding") == "gzip"
        assert len(data) > 1000
    c.close()


def callgrind_ir(cmd, port, n, tmp, tag, body):
    out = os.path.join(tmp, "cg.%s.%d" % (tag, n))
    p = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] + cmd,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    try:
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        send_n(port, n, body)
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(300)
    total = 0
    for f in os.listdir(tmp):
        if f.startswith("cg.%s.%d" % (tag, n)):
            for line in open(os.path.join(tmp, f)):
                if line.startswith("summary:") or line.startswith("totals:"):
                    total = max(total, int(line.split()[1]))
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--level", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--gantry", default=os.environ.get("GANTRY_BIN",
                                                       os.path.join(ROOT, "build/bench/gantry")))
    ap.add_argument("--keep-tmp", action="store_true")
    ap.add_argument("--callgrind", action="store_true")
    ap.add_argument("--n1", type=int, default=10)
    ap.add_argument("--n2", type=int, default=60)
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="bench-compress.")
    os.chmod(tmp, 0o755)  # nginx workers may run as nobody
    procs = []
    try:
        body = json_document(SIZE)
        www = os.path.join(tmp, "www")
        os.makedirs(www)
        with open(os.path.join(www, "64k.json"), "wb") as f:
            f.write(body)
        po, pn, pg = free_port(), free_port(), free_port()
        conf = nginx_conf(tmp, "origin", """    server { listen 127.0.0.1:%d; root %s;
             default_type application/json; etag off; }""" % (po, www))
        procs.append(start(["nginx", "-c", conf, "-p", tmp], po, "origin nginx", "1"))
        conf = nginx_conf(tmp, "proxy", """    upstream o { server 127.0.0.1:%d; keepalive 64; }
    server { listen 127.0.0.1:%d;
        gzip on; gzip_comp_level %d; gzip_types application/json; gzip_proxied any;
        gzip_min_length 256; gzip_vary on;
        location / { proxy_pass http://o; proxy_http_version 1.1;
                     proxy_set_header Connection ""; } }""" % (po, pn, a.level))
        nginx = start(["nginx", "-c", conf, "-p", tmp], pn, "proxy nginx", "1")
        procs.append(nginx)
        gconf = os.path.join(tmp, "gantry.json")
        with open(gconf, "w") as f:
            json.dump({"listen": "127.0.0.1:%d" % pg, "workers": 1,
                       "timeouts": {"client_idle": "300s"},
                       "upstream": {"keepalive": {"max_idle": 256, "idle_timeout": "300s"}},
                       "log": {"access": "off"}, "admin": {"listen": "off"},
                       "compression": {"algorithms": ["gzip"], "gzip_level": a.level,
                                       "types": ["application/json"]},
                       "services": [{"name": "origin", "prefix": "/",
                                     "targets": ["http://127.0.0.1:%d" % po]}]}, f)
        if a.callgrind:
            cgconf = conf.replace("proxy/nginx.conf", "proxy/nginx-cg.conf")
            with open(conf) as f, open(cgconf, "w") as g:
                g.write(f.read().replace("master_process on;", "master_process off;"))
            cmds = {"nginx": (["nginx", "-c", cgconf, "-p", tmp], pn + 1000),
                    "gantry": ([a.gantry, "-c", gconf], pg)}
            os.killpg(nginx.pid, signal.SIGTERM)
            nginx.wait(5)
            procs.remove(nginx)
            with open(cgconf) as f:
                text = f.read().replace("listen 127.0.0.1:%d;" % pn, "listen 127.0.0.1:%d;" % (pn + 1000))
            with open(cgconf, "w") as f:
                f.write(text)
            print("gzip level %d, %d-byte JSON body, callgrind, instructions per request = "
                  "(Ir(%d) - Ir(%d)) / %d" % (a.level, SIZE, a.n2, a.n1, a.n2 - a.n1))
            print()
            print("| proxy | instructions/request | instructions/byte |")
            print("| --- | ---: | ---: |")
            irs = {}
            for name, (cmd, port) in cmds.items():
                i1 = callgrind_ir(cmd, port, a.n1, tmp, name, body)
                i2 = callgrind_ir(cmd, port, a.n2, tmp, name, body)
                irs[name] = (i2 - i1) / (a.n2 - a.n1)
                print("| %s | %.0f | %.2f |" % (name, irs[name], irs[name] / SIZE))
            print()
            print("gantry/nginx instructions per byte: %.3f" % (irs["gantry"] / irs["nginx"]))
            return
        gantry = start([a.gantry, "-c", gconf], pg, "gantry", "1")
        procs.append(gantry)
        sizes = {"nginx": check(pn, body), "gantry": check(pg, body)}
        targets = {"nginx": (nginx, pn), "gantry": (gantry, pg)}
        for name, (p, port) in targets.items():  # warm-up
            wrk(port, 1, "0")
        res = {n: [] for n in targets}
        order = list(targets)
        for r in range(a.rounds):
            for name in order[r % 2:] + order[:r % 2]:
                p, port = targets[name]
                c0 = cpu_seconds(p.pid)
                n = wrk(port, a.duration, "0")
                c1 = cpu_seconds(p.pid)
                u, k = c1[0] - c0[0], c1[1] - c0[1]
                res[name].append(((u + k) / n * 1e6, n / a.duration, u / n * 1e6, k / n * 1e6))
        ratios = [res["gantry"][i][0] / res["nginx"][i][0] for i in range(a.rounds)]
        print("gzip level %d, %d-byte JSON body, %d rounds of %ds, wrk -t1 -c8 (cpu0), "
              "proxies on cpu1" % (a.level, SIZE, a.rounds, a.duration))
        print()
        print("| proxy | gzip bytes/response | req/s | CPU us/request (user + system) "
              "| CPU ns/byte |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for name in targets:
            us = statistics.median(x[0] for x in res[name])
            rps = statistics.median(x[1] for x in res[name])
            usr = statistics.median(x[2] for x in res[name])
            sys_ = statistics.median(x[3] for x in res[name])
            print("| %s | %d | %.0f | %.1f (%.1f + %.1f) | %.2f |"
                  % (name, sizes[name], rps, us, usr, sys_, us * 1000 / SIZE))
        print()
        print("gantry/nginx CPU per byte: %.3f [%.3f-%.3f] (median of per-round ratios)"
              % (statistics.median(ratios), min(ratios), max(ratios)))
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if not a.keep_tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
