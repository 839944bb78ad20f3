#!/usr/bin/env python3
"""What one WebSocket round trip costs the proxy, gantry next to nginx: figures that hold on a
busy machine, where ws_compare.py's latencies do not.

    python3 bench/ws_callgrind.py [--gantry build/release/gantry] [--msgs 5000]

For each proxy (one worker, access log off; nginx in one process, `master_process off`), an echo
server (tests/node/ws_peer.mjs, npm ws) behind it and one client connection that sends a 32-byte
binary message and waits for its echo, --msgs times:

1. instructions: the proxy runs under `valgrind --tool=callgrind`; after a warm-up of 200 round
   trips the counters are zeroed (callgrind_control -z), the round trips run, and the counters
   are dumped: instructions per round trip (user space: the proxy, libuv, libc), and the
   functions that cost the most per round trip (--top);
2. system calls: `strace -c -f` attached to the proxy for the same round trips (not under
   valgrind): calls per round trip, by name.

Every process is started here on free loopback ports and stopped by its pid.
"""
import argparse
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ws_compare as wc  # noqa: E402

NGINX_CONF = """
master_process off; daemon off; worker_processes 1;
pid %(tmp)s/nginx.pid; error_log %(tmp)s/nginx.err warn;
events { worker_connections 1000; }
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
"""


def proxy_argv(name, tmp, backend, port, gantry):
    if name == "gantry":
        cfg = {"listen": "127.0.0.1:%d" % port, "workers": 1,
               "admin": {"listen": "127.0.0.1:%d" % wc.free_port()},
               "log": {"access": "off", "level": "warn"},
               "services": [{"name": "ws", "prefix": "/",
                             "targets": ["http://127.0.0.1:%d" % backend]}]}
        path = os.path.join(tmp, "gantry.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        return [gantry, "-c", path]
    d = os.path.join(tmp, "nginx")
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF % {"tmp": d, "port": port, "backend": backend})
    return ["nginx", "-p", d, "-c", conf, "-e", os.path.join(d, "nginx.err")]


def totals(path):
    with open(path) as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                return int(line.split()[1])
    return 0


def instructions(name, argv, port, tmp, msgs, top):
    out = os.path.join(tmp, "cg-%s.%%p" % name)
    p = subprocess.Popen(["valgrind", "--tool=callgrind", "-q", "--callgrind-out-file=" + out]
                         + argv, stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(tmp, name + ".valgrind"), "w"))
    try:
        wc.wait_port(port, 60)
        wc.latency(port, 1, 200)
        subprocess.run(["callgrind_control", "-z", str(p.pid)], capture_output=True, check=True)
        wc.latency(port, 1, msgs)
        subprocess.run(["callgrind_control", "-d", "measured", str(p.pid)], capture_output=True,
                       check=True)
        deadline = time.monotonic() + 30
        files = []
        while not files and time.monotonic() < deadline:
            time.sleep(0.2)
            files = [f for f in glob.glob(os.path.join(tmp, "cg-%s.*" % name))
                     if "measured" in open(f, errors="replace").read(4000)]
    finally:
        wc.stop(p)
    ir = sum(totals(f) for f in files)
    print("%-7s %6.0f instructions per round trip (%d round trips under callgrind)"
          % (name, ir / msgs, msgs), flush=True)
    ann = subprocess.run(["callgrind_annotate", "--threshold=100", "--auto=no", "--inclusive=no"]
                         + files, capture_output=True, text=True).stdout
    rows = []
    for line in ann.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].replace(",", "").isdigit() and "PROGRAM" not in line:
            fn = parts[-2] if parts[-1].startswith("[") else parts[-1]
            rows.append((int(parts[0].replace(",", "")), fn))
    # frames open when the counters were dumped (the thread's start, the loop) show their
    # inclusive cost: not a function's own
    rows = [(n, fn) for n, fn in rows if n < 0.9 * ir]
    for n, fn in rows[:top]:
        print("    %6.1f  %s" % (n / msgs, fn[:100]))
    return ir / msgs


def syscalls(name, argv, port, tmp, msgs):
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(tmp, name + ".err"), "w"))
    out = os.path.join(tmp, "strace-%s.txt" % name)
    try:
        wc.wait_port(port, 30)
        wc.latency(port, 1, 200)
        tr = subprocess.Popen(["strace", "-c", "-f", "-p", str(p.pid), "-o", out],
                              stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # attached to every thread
        wc.latency(port, 1, msgs)
        tr.send_signal(signal.SIGINT)
        tr.wait(30)
    finally:
        wc.stop(p)
    calls = {}
    with open(out) as f:
        for line in f:
            parts = line.split()
            if (len(parts) >= 5 and parts[0][0].isdigit() and parts[3].isdigit()
                    and parts[-1] != "total"):
                calls[parts[-1]] = int(parts[3])
    total = sum(calls.values())
    busy = ", ".join("%s %.2f" % (k, v / msgs) for k, v in
                     sorted(calls.items(), key=lambda kv: -kv[1]) if v / msgs >= 0.01)
    print("%-7s %5.2f system calls per round trip (%s)" % (name, total / msgs, busy), flush=True)
    return total / msgs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gantry", default=os.path.join(wc.REPO, "build", "release", "gantry"))
    ap.add_argument("--msgs", type=int, default=5000)
    ap.add_argument("--top", type=int, default=12, help="functions listed per proxy")
    ap.add_argument("--only", choices=["gantry", "nginx"])
    args = ap.parse_args()
    for tool in ("node", "valgrind", "callgrind_control", "strace") + \
            (("nginx",) if args.only != "gantry" else ()):
        if not shutil.which(tool):
            raise SystemExit("needs %s" % tool)
    tmp = tempfile.mkdtemp(prefix="ws-callgrind-")
    echo = None
    try:
        echo, backend = wc.start_echo()
        report = {}
        for name in ("gantry", "nginx"):
            if args.only and name != args.only:
                continue
            port = wc.free_port()
            argv = proxy_argv(name, tmp, backend, port, args.gantry)
            report[name] = {"instructions": instructions(name, argv, port, tmp, args.msgs,
                                                         args.top)}
            port = wc.free_port()
            argv = proxy_argv(name, tmp, backend, port, args.gantry)
            report[name]["syscalls"] = syscalls(name, argv, port, tmp, args.msgs)
        print(json.dumps(report))
    finally:
        if echo:
            wc.stop(echo)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
