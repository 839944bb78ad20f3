#!/usr/bin/env python3
"""What TLS costs nginx, HAProxy and gantry per handshake and per request: exact figures that
hold on a busy machine, where tls_compare.py's and h2_compare.py's rates do not.

    python3 bench/tls_callgrind.py [--gantry-bin build/release/gantry] [--seconds 10]
                                   [--servers nginx,haproxy,gantry]
                                   [--modes handshake,full,keepalive,h2] [--no-strace] [--keep-tmp]

The servers, certificate (ECDSA P-256) and configs are tls_compare.py's (HTTP/1.1) and
h2_compare.py's (h2 on), one worker each, in front of the same nginx origin serving "ok\\n";
nginx runs in one process (`master_process off`). Each server runs under
`valgrind --tool=callgrind`; per mode, after a warm-up, the counters are zeroed
(callgrind_control -z), one client works for --seconds, and the counters are dumped: user-space
instructions (the server, OpenSSL, libc, every thread) per unit of work, less what the server
runs when idle over the same time (measured first, --seconds with no client). Modes:

- `handshake`: `wrk -t1 -c1 -H "Connection: close"`: a new connection per request, as
  tls_compare.py's handshake rate; wrk offers the session its previous connection ended with, so
  these are TLS 1.3 resumptions (with a fresh X25519 exchange) as long as the server hands out a
  new ticket each time. Per connection; "full" counts the handshakes that signed with the
  certificate's key (EVP_DigestSign), so a server whose clients cannot resume shows;
- `full`: the same with a client that offers no session (Python's ssl module, TLS 1.3, X25519):
  every handshake is a full one. Per connection;
- `keepalive`: `wrk -t1 -c1` on one kept-alive TLS connection. Per request;
- `h2`: `h2load -c1 -m16` over TLS (ALPN h2), one connection, 16 streams at a time. Per request
  (the connection's one handshake is spread over them).

Unless --no-strace, each server then runs once more without valgrind, with `strace -c -f`
attached during the same handshake and keep-alive work: system calls per connection and per
request.

Every process is started here on free loopback ports and stopped by its pid. Exit status: 0 when
every server was measured; 1 when one did not start or a client failed.
"""

import argparse
import glob
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import h2_compare as hc  # noqa: E402
import proxy_compare as pc  # noqa: E402
import tls_compare as tc  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVERS = ["nginx", "haproxy", "gantry"]
MODES = ["handshake", "full", "keepalive", "h2"]
UNIT = {"handshake": "connection", "full": "connection", "keepalive": "request", "h2": "request"}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gantry-bin", default=os.environ.get(
        "GANTRY_BIN", os.path.join(ROOT, "build", "release", "gantry")))
    p.add_argument("--seconds", type=int, default=10, help="client run per mode under callgrind")
    p.add_argument("--servers", default=",".join(SERVERS))
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--no-strace", action="store_true")
    p.add_argument("--keep-tmp", action="store_true")
    args = p.parse_args()
    args.servers = args.servers.split(",")
    args.modes = args.modes.split(",")
    if not set(args.servers) <= set(SERVERS) or not set(args.modes) <= set(MODES):
        p.error(f"servers: {','.join(SERVERS)}; modes: {','.join(MODES)}")
    args.gantry_bin = os.path.abspath(args.gantry_bin)
    return args


def wrk(port, seconds, close):
    cmd = ["wrk", "-t1", "-c1", f"-d{seconds}s", "--timeout", "10s", "--latency"]
    if close:
        cmd += ["-H", "Connection: close"]
    cmd.append(f"https://127.0.0.1:{port}/")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    res = pc.parse_wrk(out.stdout)
    if out.returncode != 0 or not res["requests"] or res["errors"]:
        raise pc.BenchError(f"wrk failed: {' '.join(cmd)}\n{out.stdout}{out.stderr}")
    return res["requests"]


def h2load(port, n):
    cmd = ["h2load", "-t1", "-c1", "-m16", f"-n{n}", f"https://127.0.0.1:{port}/"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout
    m = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", out)
    if not m or int(m.group(1)) != n or "Application protocol: h2" not in out:
        raise pc.BenchError(f"h2load failed: {' '.join(cmd)}\n{out}")
    return n


def full_handshakes(port, seconds):
    """New connections that offer no session, one at a time, each a GET / read to the close."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    n, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=60),
                             server_hostname="bench.test") as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                try:
                    c = s.recv(4096)
                except (ssl.SSLEOFError, ConnectionResetError):
                    break
                if not c:
                    break
                data += c
            if not data.startswith(b"HTTP/1.1 200") or not data.endswith(b"ok\n"):
                raise pc.BenchError(f"port {port}: answer {data[:80]!r}")
        n += 1
    return n


def work(mode, port, seconds):
    """Runs one mode's client; returns how many units (connections or requests) it did."""
    if mode == "handshake":
        return wrk(port, seconds, True)
    if mode == "full":
        return full_handshakes(port, seconds)
    if mode == "keepalive":
        return wrk(port, seconds, False)
    return h2load(port, 400 * seconds)


def wait_port(port, proc, what, timeout=180.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise pc.BenchError(f"{what} exited at start")
        try:
            tc.https_ok(port)
            return
        except OSError:
            time.sleep(0.2)
    raise pc.BenchError(f"{what} did not answer HTTPS on {port} in {timeout:.0f} s")


def dumped_for(path, mode):
    """Whether path is the dump callgrind_control -d MODE asked for."""
    with open(path, errors="replace") as f:
        for line in f.read(4000).splitlines():
            if line.startswith("desc: Trigger:"):
                return line.rstrip().endswith(f" {mode}")
    return False


def dump_stats(path):
    """(total instructions, signatures made with the certificate's key) of one callgrind dump."""
    names, total, signs, target = {}, 0, 0, None
    with open(path) as f:
        for line in f:
            if line.startswith(("totals:", "summary:")):
                total = int(line.split()[1])
            elif line.startswith("cfn="):
                m = re.match(r"cfn=\((\d+)\)(?: (.*))?", line.strip())
                if m:
                    if m.group(2):
                        names[m.group(1)] = m.group(2)
                    target = names.get(m.group(1))
            elif line.startswith("fn="):
                m = re.match(r"fn=\((\d+)\) (.*)", line.strip())
                if m:
                    names[m.group(1)] = m.group(2)
            elif line.startswith("calls=") and target == "EVP_DigestSign":
                signs += int(line.split("=")[1].split()[0])
    # libssl calls EVP_DigestSign twice per signature: for the length, then to sign.
    return total, signs // 2


def dump(proc, out, label):
    """Dumps proc's counters (callgrind_control -d label, which also zeroes them) and returns
    (total instructions, signatures) of that dump, kept as OUT/label.callgrind."""
    subprocess.run(["callgrind_control", "-d", label, str(proc.pid)], capture_output=True,
                   check=True)
    files, deadline = [], time.monotonic() + 60
    while not files and time.monotonic() < deadline:
        time.sleep(0.2)
        files = [f for f in glob.glob(f"{out}/cg.*") if dumped_for(f, label)]
    if not files:
        raise pc.BenchError(f"no callgrind dump for {label} in {out}")
    total = signs = 0
    for f in files:
        t, n = dump_stats(f)
        total, signs = total + t, signs + n
        os.rename(f, f"{out}/{label}.callgrind")
    return total, signs


def measure(name, cmd, port, modes, seconds, tmp):
    """{mode: (instructions per unit, units, full handshakes)} for one server under callgrind,
    and its idle instructions per second (timers, a control thread), which are taken out of
    every mode's count: otherwise the time a loaded machine adds to a run would show as cost."""
    out = os.path.join(tmp, f"cg-{name}")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "valgrind.log"), "w") as err:
        proc = subprocess.Popen(["valgrind", "--tool=callgrind", "-q",
                                 f"--callgrind-out-file={out}/cg.%p"] + cmd, cwd=tmp,
                                stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                start_new_session=True)
    res = {}
    try:
        wait_port(port, proc, f"{name} under callgrind")
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], capture_output=True,
                       check=True)
        t0 = time.monotonic()
        time.sleep(seconds)
        idle, _ = dump(proc, out, "idle")
        idle_rate = idle / (time.monotonic() - t0)
        res["idle"] = idle_rate
        pc.log(f"{name} idle: {idle_rate:,.0f} instructions per second")
        for mode in modes:
            work(mode, port, 2)  # warm-up: allocator, session cache, upstream connection
            subprocess.run(["callgrind_control", "-z", str(proc.pid)], capture_output=True,
                           check=True)
            t0 = time.monotonic()
            n = work(mode, port, seconds)
            total, signs = dump(proc, out, mode)
            total -= idle_rate * (time.monotonic() - t0)
            res[mode] = (total / n, n, signs)
            pc.log(f"{name} {mode}: {total / n:,.0f} instructions per {UNIT[mode]} ({n} "
                   f"{UNIT[mode]}s, {signs} full handshakes)")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return res


def syscalls(name, srv, port, seconds, tmp):
    """{mode: (system calls per unit, {name: per unit})} for handshake and keepalive, the server
    not under valgrind."""
    srv.start([])
    res = {}
    try:
        tc.wait_https(srv)
        for mode in ("handshake", "keepalive"):
            work(mode, port, 1)
            out = os.path.join(tmp, f"strace-{name}-{mode}.txt")
            cmd = ["strace", "-c", "-f", "-o", out]
            for pid in srv.pids():
                cmd += ["-p", str(pid)]
            tr = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
            time.sleep(1.0)  # attached to every thread
            n = work(mode, port, seconds)
            time.sleep(0.5)
            tr.send_signal(signal.SIGINT)
            tr.wait(30)
            calls = {}
            with open(out) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 5 and parts[3].isdigit() and parts[-1] != "total":
                        calls[parts[-1]] = int(parts[3]) / n
            res[mode] = (sum(calls.values()), calls)
    finally:
        srv.stop()
    return res


def bench(args, tmp):
    for tool in ("nginx", "haproxy", "wrk", "h2load", "openssl", "valgrind", "callgrind_control"):
        if not shutil.which(tool):
            raise pc.BenchError(f"{tool} not found")
    one = "worker_processes 1;\nmaster_process off;"
    kinds = {"tls": [m for m in args.modes if m != "h2"], "h2": [m for m in args.modes if m == "h2"]}
    results = {t: {} for t in args.servers}
    strace = {}
    origin = None
    for kind, modes in kinds.items():
        if not modes:
            continue
        sub = os.path.join(tmp, kind)
        os.makedirs(sub)
        nginx, haproxy, gantry = (tc.NGINX, tc.HAPROXY, tc.GANTRY) if kind == "tls" else \
            (hc.NGINX, hc.HAPROXY, hc.GANTRY)
        origin, srv, ports, _, _ = tc.tls_peers(args, sub, kind, nginx.replace(
            "worker_processes 1;", one), haproxy, gantry)
        origin.start([])
        try:
            pc.wait_ready(origin)
            for t in args.servers:
                results[t].update(measure(t, srv[t].cmd, ports[t], modes, args.seconds, sub))
            if kind == "tls" and not args.no_strace:
                for t in args.servers:
                    strace[t] = syscalls(t, srv[t], ports[t], args.seconds, sub)
        finally:
            origin.stop()
    print("## TLS cost per unit of work: instructions (callgrind) and system calls (strace)\n")
    print(f"{pc.version(['nginx', '-v'])}; {pc.version(['haproxy', '-v'])}; "
          f"{pc.version([args.gantry_bin, 'version'])}; "
          f"{pc.version(['openssl', 'version'])}; {args.seconds} s per mode under callgrind\n")
    head = "| mode | unit | " + " | ".join(args.servers) + " |"
    print(head)
    print("| --- | --- |" + " ---: |" * len(args.servers))
    for mode in args.modes:
        cells = []
        for t in args.servers:
            per, n, signs = results[t][mode]
            cell = f"{per:,.0f}"
            if mode in ("handshake", "full"):
                cell += f" ({100 * signs / n:.0f}% full)"
            cells.append(cell)
        print(f"| {mode} | instructions per {UNIT[mode]} | " + " | ".join(cells) + " |")
    for mode in ("handshake", "keepalive"):
        if strace and mode in args.modes:
            cells = [f"{strace[t][mode][0]:.1f}" for t in args.servers]
            print(f"| {mode} | system calls per {UNIT[mode]} | " + " | ".join(cells) + " |")
    if strace:
        print("\nSystem calls per connection (handshake mode), by name:\n")
        for t in args.servers:
            calls = strace[t]["handshake"][1]
            print(f"- {t}: " + ", ".join(f"{k} {v:.2f}" for k, v in
                                        sorted(calls.items(), key=lambda kv: -kv[1]) if v >= 0.05))
    print("\n`full` = handshakes that signed with the certificate's key (not resumed). User-space "
          "instructions of the server process, all threads, OpenSSL included, less what it runs "
          "when idle (" + ", ".join(f"{t} {results[t]['idle']:,.0f}" for t in args.servers)
          + " instructions per second); the kernel's work shows in the system calls.")
    return 0


def main():
    return pc.run_main(bench, parse_args(), "gantry-tls-cg.")


if __name__ == "__main__":
    sys.exit(main())
