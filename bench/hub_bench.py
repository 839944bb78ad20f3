#!/usr/bin/env python3
"""The WebSocket hub's memory and broadcast time (issue 14, "Must hold").

    python3 bench/hub_bench.py [--gantry build/release/gantry] [--clients 9000] [--rounds 5]

One gantry (one worker, access log off, hub on) and one Node.js process holding --clients hub
connections (tests/node/hub_hold.mjs, npm ws), each subscribed to one channel.

1. Memory: RSS of gantry before the connections and once every one is subscribed -> KiB per
   idle hub connection (everything included: kernel socket buffers are not RSS; gantry's
   connection struct, wslay's context, the subscription).
2. Broadcast: --rounds messages published through the admin API, one at a time; for each, the
   time from the admin call to the last client's receipt (as the holder sees it) and the
   spread between the first and the last receipt. Median and worst reported. The holder is a
   single Node.js process parsing every copy, so the figures include its own time. Also
   gantry's own figures: its debug line's time to hand the message to every connection (wall
   time on its worker), and the CPU time all of gantry's threads used per broadcast
   (/proc/PID/task/*/schedstat, nanoseconds on a CPU): on a busy machine the wall times
   include waiting for a core, the CPU time does not.

Every process is started here on free loopback ports and stopped by its pid at the end.
"""
import argparse
import json
import os
import re
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOLD = os.path.join(REPO, "tests", "node", "hub_hold.mjs")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_ns(pid):
    """Time on a CPU of every thread of pid, in nanoseconds."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def user_sys_ticks(pid):
    """utime and stime of the process (all threads), in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def wait_ready(port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/ready" % port, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit("gantry not ready")


def read_line(proc, prefix, timeout):
    deadline = time.monotonic() + timeout
    buf = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([proc.stdout], [], [], 0.1)
        if not r:
            continue
        ch = proc.stdout.read1(65536) if hasattr(proc.stdout, "read1") else os.read(
            proc.stdout.fileno(), 65536)
        if not ch:
            raise SystemExit("holder exited")
        buf += ch
        for line in buf.decode().splitlines():
            if line.startswith(prefix):
                return line
            if line.startswith("ERROR"):
                raise SystemExit("holder: " + line)
    raise SystemExit("no %s from the holder within %s s" % (prefix, timeout))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gantry", default=os.path.join(REPO, "build", "release", "gantry"))
    ap.add_argument("--clients", type=int, default=9000)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="hub-bench-")
    port, admin = free_port(), free_port()
    cfg = {"listen": "127.0.0.1:%d" % port, "workers": 1, "max_connections": 20000,
           "log": {"access": "off", "level": "debug"}, "admin": {"listen": "127.0.0.1:%d" % admin},
           "hub": {"channels": [{"channels": "news", "subscribe": "*"}]}}
    path = os.path.join(tmp, "gantry.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    g = subprocess.Popen([a.gantry, "-c", path], stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(tmp, "stderr.log"), "w"))
    hold = None
    try:
        wait_ready(port)
        time.sleep(0.5)
        before = rss_kib(g.pid)
        hold = subprocess.Popen(["node", HOLD, "ws://127.0.0.1:%d/ws/c" % port, str(a.clients),
                                 "news"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        read_line(hold, "READY", 300)
        time.sleep(1)
        after = rss_kib(g.pid)
        per = (after - before) * 1024 / a.clients
        print("memory: %d idle hub connections, gantry RSS %d KiB -> %d KiB: %.0f bytes each"
              % (a.clients, before, after, per))
        total, spread, cpu = [], [], []
        us0 = user_sys_ticks(g.pid)
        for i in range(a.rounds):
            req = urllib.request.Request("http://127.0.0.1:%d/api/channels/news/messages" % admin,
                                         data=json.dumps({"data": {"n": i}}).encode(),
                                         method="POST")
            c0 = cpu_ns(g.pid)
            t0 = time.monotonic()
            urllib.request.urlopen(req, timeout=10).read()
            line = read_line(hold, "ALL", 60)
            total.append((time.monotonic() - t0) * 1000)
            cpu.append((cpu_ns(g.pid) - c0) / 1e6)
            spread.append(float(line.split()[2]))
        with open(os.path.join(tmp, "stderr.log")) as f:
            hand = [float(x) for x in re.findall(r"handed 1 message\(s\) to its \d+ "
                                                 r"connections in ([0-9.]+) ms", f.read())]
        if hand:
            print("gantry's own time to hand one message to every connection (its debug log): "
                  "median %.1f ms, worst %.1f ms" % (statistics.median(hand), max(hand)))
        us1 = user_sys_ticks(g.pid)
        hz = os.sysconf("SC_CLK_TCK")
        print("gantry's CPU time per broadcast (all threads): median %.1f ms, worst %.1f ms; "
              "user %.1f ms, kernel %.1f ms per broadcast (mean, clock ticks)"
              % (statistics.median(cpu), max(cpu), (us1[0] - us0[0]) * 1000 / hz / a.rounds,
                 (us1[1] - us0[1]) * 1000 / hz / a.rounds))
        print("broadcast to %d subscribers: publish to last receipt median %.1f ms (worst %.1f),"
              " first to last receipt median %.1f ms (worst %.1f)"
              % (a.clients, statistics.median(total), max(total), statistics.median(spread),
                 max(spread)))
    finally:
        if hold:
            try:
                hold.stdin.write(b"quit\n")
                hold.stdin.flush()
                hold.wait(20)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                hold.kill()
                hold.wait()
        g.terminate()
        g.wait(20)


if __name__ == "__main__":
    sys.exit(main())
