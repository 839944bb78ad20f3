#!/usr/bin/env python3
"""gantry next to nginx and HAProxy, on this machine, in one interleaved run.

An nginx origin serves fixed bodies; wrk loads it directly ("direct", the ceiling) and through
nginx, HAProxy and gantry, each proxy with one worker, logging off and an upstream keep-alive
pool. The machine is shared and noisy, so the report is built from ratios taken within one
round: rounds are interleaved with the order rotated each round, and every ratio is the median
of per-round ratios. A round in which processes other than ours used more than 10% of a CPU is
flagged as disturbed, left out of the medians (as long as 3 clean rounds remain) and replaced
by an extra round (--extra-rounds).

Every server runs in the foreground from a temp dir, listens on a free 127.0.0.1 port and is
stopped by its pid when this script exits, including on Ctrl-C and SIGTERM.

Exit status: 0 when the run completed; 1 when a server did not start, a body check failed,
a server died or wrk gave no result; 2 for bad arguments.

    python3 bench/proxy_compare.py [--rounds N] [--duration S] [--body ok,4k,64k] [--keep-tmp]
"""

import argparse
import ctypes
import http.client
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CONF = os.path.join(HERE, "conf")
HZ = os.sysconf("SC_CLK_TCK")
DISTURBED_PCT = 10.0  # other processes' CPU, in % of one CPU, above which a round is disturbed
MIN_CLEAN = 3  # clean rounds needed to drop the disturbed ones
BODIES = {"ok": ("/", b"ok\n"), "4k": ("/4k", b"a" * 4096), "64k": ("/64k", b"b" * 65536)}
TARGETS = ["direct", "nginx", "haproxy", "gantry"]


class BenchError(Exception):
    """A failure that ends the run with exit status 1."""


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- servers --
class Server:
    """One foreground server process started by us and stopped by its pid."""

    def __init__(self, name, port, cmd, tmp):
        self.name, self.port, self.cmd, self.tmp = name, port, cmd, tmp
        self.log_path = os.path.join(tmp, f"{name}.out")
        self.proc = None

    def start(self, pin):
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(
                pin + self.cmd, cwd=self.tmp, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def pids(self):
        """The server's pid and every descendant (nginx workers)."""
        return [self.proc.pid] + _descendants(self.proc.pid) if self.alive() else []

    def log_tail(self, n=15):
        text = ""
        for path in (self.log_path, os.path.join(self.tmp, f"{self.name}.error.log")):
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    text += "".join(f.readlines()[-n:])
        return text.strip() or "(no output)"

    def stop(self):
        if not self.alive():
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


def _die_with_parent():
    # PR_SET_PDEATHSIG: if this script is killed outright, the server still gets SIGTERM.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _descendants(pid):
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _read_stat(entry)
            if stat:
                children.setdefault(int(stat[1]), []).append(int(entry))
    out, pending = [], [pid]
    while pending:
        kids = children.get(pending.pop(), [])
        out += kids
        pending += kids
    return out


def _read_stat(pid):
    """Fields of /proc/PID/stat after the command name (state is [0], ppid [1]), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def proc_ticks(pids):
    """utime + stime of the given processes (all their threads), in clock ticks."""
    total = 0
    for pid in pids:
        stat = _read_stat(pid)
        if stat:
            total += int(stat[11]) + int(stat[12])
    return total


def busy_ticks():
    """Busy time of all CPUs from /proc/stat: user nice system irq softirq, in clock ticks."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2] + v[5] + v[6]


def free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def fetch(port, path, timeout=2.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def wait_ready(srv, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not srv.alive():
            raise BenchError(f"{srv.name} exited at start:\n{srv.log_tail()}")
        try:
            if fetch(srv.port, "/", timeout=1.0)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise BenchError(f"{srv.name} did not answer on 127.0.0.1:{srv.port} in {timeout:.0f}s:\n"
                     f"{srv.log_tail()}")


def churn(port, total=5000, batch=500):
    """Serve `total` one-request connections, `batch` at a time, so that every proxy has the
    same history before it is measured (HAProxy is 5-11% slower on 4k/64k without it)."""
    req = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
    for _ in range(total // batch):
        socks = []
        try:
            for _ in range(batch):
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(req)
                socks.append(s)
            for s in socks:
                data = b""
                while b"\r\n\r\nok\n" not in data:
                    chunk = s.recv(4096)
                    if not chunk:
                        raise BenchError(f"port {port}: connection closed during warm-up")
                    data += chunk
        finally:
            for s in socks:
                s.close()


# ------------------------------------------------------------------------------ wrk --
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def parse_wrk(text):
    """req/s, p50/p99 in ms, request count and error count from `wrk --latency` output."""

    def grab(pattern):
        m = re.search(pattern, text, re.M)
        if not m:
            raise BenchError(f"cannot parse wrk output (no {pattern!r}):\n{text}")
        return m

    res = {"rps": float(grab(r"^Requests/sec:\s+([\d.]+)").group(1)),
           "requests": int(grab(r"^\s*(\d+) requests in").group(1))}
    for pct in ("50", "99"):
        m = grab(rf"^\s+{pct}(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$")
        res[f"p{pct}"] = float(m.group(1)) * _UNITS[m.group(2)]
    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        errors += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        errors += int(m.group(1))
    res["errors"] = errors
    return res


def _our_cpu_s():
    """CPU seconds of this script and of its waited-for children (wrk), user + system."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def run_wrk(args, lg_pin, port, path, servers, own):
    """One wrk run; adds the CPU bookkeeping: own_us_req (CPU of the target's processes per
    request) and other_pct (busy CPU not used by wrk, this script or any of our servers)."""
    pids = {s.name: s.pids() for s in servers}
    all_pids = [p for v in pids.values() for p in v]
    ours0, srv0, own0 = _our_cpu_s(), proc_ticks(all_pids), proc_ticks(pids[own])
    busy0, t0 = busy_ticks(), time.monotonic()
    cmd = lg_pin + ["wrk", "-t1", f"-c{args.conns}", f"-d{args.duration}s", "--latency",
                    f"http://127.0.0.1:{port}{path}"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 30)
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish: {' '.join(cmd)}") from None
    wall = time.monotonic() - t0
    busy = busy_ticks() - busy0
    srv, own_t = proc_ticks(all_pids) - srv0, proc_ticks(pids[own]) - own0
    ours_s = _our_cpu_s() - ours0
    if out.returncode != 0:
        raise BenchError(f"wrk failed ({out.returncode}): {' '.join(cmd)}\n"
                         f"{out.stdout}{out.stderr}")
    res = parse_wrk(out.stdout)
    res["other_pct"] = max(0.0, 100.0 * ((busy - srv) / HZ - ours_s) / wall)
    res["own_us_req"] = 1e6 * own_t / HZ / res["requests"] if res["requests"] else 0.0
    return res


# --------------------------------------------------------------------------- report --
def _fmt_rps(v):
    return f"{v:,.0f}"


def _fmt_ms(v):
    return f"{v:.2f} ms" if v < 10 else f"{v:.1f} ms"


def _ratio(vals):
    if not vals:
        return "-"
    return f"{statistics.median(vals):.2f} [{min(vals):.2f}-{max(vals):.2f}]"


def report(body, rounds, args, pin_note):
    """Markdown for one body: the summary table, then one line per round."""
    clean = [r for r in rounds if not r["disturbed"]]
    used = clean if len(clean) >= MIN_CLEAN else rounds
    size = len(BODIES[body][1])
    lines = [f"### body `{body}` ({size:,} B at `{BODIES[body][0]}`)", "",
             f"wrk -t1 -c{args.conns} -d{args.duration}s --latency; {pin_note}; "
             f"{len(rounds)} rounds, {len(clean)} clean, medians over {len(used)}", ""]
    if len(clean) < MIN_CLEAN:
        lines += [f"**WARNING: only {len(clean)} clean rounds; medians include disturbed "
                  "rounds and are unreliable.**", ""]
    lines += ["| target | req/s (median) | min-max | p50 | p99 | vs nginx [min-max] "
              "| vs direct [min-max] | CPU us/req |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for t in TARGETS:
        runs = [r["runs"][t] for r in used]
        rps = [x["rps"] for x in runs]
        vs_nginx = [r["runs"][t]["rps"] / r["runs"]["nginx"]["rps"] for r in used]
        vs_direct = [r["runs"][t]["rps"] / r["runs"]["direct"]["rps"] for r in used]
        lines.append(
            f"| {t} | {_fmt_rps(statistics.median(rps))} "
            f"| {_fmt_rps(min(rps))}-{_fmt_rps(max(rps))} "
            f"| {_fmt_ms(statistics.median(x['p50'] for x in runs))} "
            f"| {_fmt_ms(statistics.median(x['p99'] for x in runs))} "
            f"| {_ratio(vs_nginx)} | {_ratio(vs_direct)} "
            f"| {statistics.median(x['own_us_req'] for x in runs):.1f} |")
    lines += ["", "| round | order | other procs % of a CPU (max run) | |", "|---:|---|---:|---|"]
    for r in rounds:
        flag = "DISTURBED" + (" (dropped)" if used is clean else "") if r["disturbed"] else "clean"
        lines.append(f"| {r['n']} | {' '.join(r['order'])} | {r['other_pct']:.1f} | {flag} |")
    errs = {t: sum(r["runs"][t]["errors"] for r in rounds) for t in TARGETS}
    if any(errs.values()):
        lines += ["", "wrk errors (socket errors + non-2xx): "
                  + ", ".join(f"{t} {n}" for t, n in errs.items() if n)]
    return "\n".join(lines)


def version(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return ((out.stdout + out.stderr).strip().splitlines() or ["?"])[0]
    except OSError as e:
        return str(e)


# ----------------------------------------------------------------------------- main --
def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    p.add_argument("--extra-rounds", type=int, default=2,
                   help="rounds added to replace disturbed ones (default 2)")
    p.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    p.add_argument("--conns", type=int, default=64, help="wrk connections (default 64)")
    p.add_argument("--body", action="append", default=None,
                   help="ok (3 B, default), 4k, 64k; repeat or comma-separate for several")
    p.add_argument("--gantry-bin", default=os.environ.get("GANTRY_BIN") or
                   os.path.join(ROOT, "build", "release", "gantry"),
                   help="default: $GANTRY_BIN, else build/release/gantry")
    p.add_argument("--gantry-config", default=os.path.join(HERE, "gantry-peers.json"),
                   help="default: bench/gantry-peers.json (gets SUT_PORT, WORKERS=1, "
                   "BACKEND_PORT from the environment)")
    p.add_argument("--keep-tmp", action="store_true", help="keep configs and logs")
    args = p.parse_args()
    args.gantry_bin = os.path.abspath(args.gantry_bin)  # servers run from the temp dir
    args.gantry_config = os.path.abspath(args.gantry_config)
    args.body = [b for spec in (args.body or ["ok"]) for b in spec.split(",") if b]
    bad = [b for b in args.body if b not in BODIES]
    if bad or args.rounds < 1 or args.duration < 1 or args.conns < 1 or args.extra_rounds < 0:
        p.error(f"bad arguments (unknown body: {bad})" if bad else "numbers must be positive")
    return args


def render(name, dest, **values):
    with open(os.path.join(CONF, name)) as f:
        text = string.Template(f.read()).substitute(values)
    path = os.path.join(dest, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def setup(args, tmp, ports):
    """Configs and Server objects: origin first, then the proxies."""
    for d in ("www", "temp"):
        os.mkdir(os.path.join(tmp, d))
    for body in ("4k", "64k"):
        with open(os.path.join(tmp, "www", body), "wb") as f:
            f.write(BODIES[body][1])
    # As root, nginx workers switch to "nobody" unless told otherwise; stay root so they can
    # read the 0700 temp dir. As anyone else nginx warns about a user line, so leave it out.
    user_line = "user root;" if os.geteuid() == 0 else ""
    origin_port = ports["direct"]
    common = {"tmp": tmp, "user_line": user_line, "origin_port": origin_port}
    origin_conf = render("origin.nginx.conf", tmp, **common)
    nginx_conf = render("proxy.nginx.conf", tmp, port=ports["nginx"], **common)
    haproxy_conf = render("haproxy.cfg", tmp, port=ports["haproxy"], **common)
    os.environ.update(SUT_PORT=str(ports["gantry"]), PORT=str(ports["gantry"]), WORKERS="1",
                      BACKEND_HOST="127.0.0.1", BACKEND_PORT=str(origin_port))

    def nginx(name, conf):
        return ["nginx", "-p", tmp + "/", "-e", os.path.join(tmp, f"{name}.error.log"),
                "-c", conf, "-g", "daemon off;"]

    return [Server("origin", origin_port, nginx("origin", origin_conf), tmp),
            Server("nginx", ports["nginx"], nginx("nginx", nginx_conf), tmp),
            Server("haproxy", ports["haproxy"], ["haproxy", "-db", "-f", haproxy_conf], tmp),
            Server("gantry", ports["gantry"], [args.gantry_bin, "-c", args.gantry_config], tmp)]


def check_bodies(ports):
    for t in TARGETS:
        for body, (path, want) in BODIES.items():
            try:
                status, got = fetch(ports[t], path, timeout=5)
            except OSError as e:
                raise BenchError(f"{t} {path}: {e}") from None
            if status != 200 or got != want:
                raise BenchError(f"{t} {path}: status {status}, {len(got)} bytes "
                                 f"(want 200 and {len(want)} bytes of the origin's body)")


def bench(args, tmp):
    for tool in ("nginx", "haproxy", "wrk"):
        if not shutil.which(tool):
            raise BenchError(f"{tool} not found (scripts/deps.sh bench installs it)")
    for path in (args.gantry_bin, args.gantry_config):
        if not os.path.exists(path):
            raise BenchError(f"{path} not found (make build, or set GANTRY_BIN)")
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= 2 and shutil.which("taskset"):
        lg_pin, srv_pin = ["taskset", "-c", str(cpus[0])], ["taskset", "-c", str(cpus[1])]
        pin_note = f"wrk pinned to cpu{cpus[0]}, origin and proxies to cpu{cpus[1]}"
    else:
        lg_pin, srv_pin, pin_note = [], [], "not pinned (fewer than 2 CPUs)"
    ports = dict(zip(TARGETS, free_ports(len(TARGETS))))
    servers = setup(args, tmp, ports)
    started = []
    try:
        for srv in servers:
            srv.start(srv_pin)
            started.append(srv)
            wait_ready(srv)
            log(f"{srv.name} up on 127.0.0.1:{srv.port} (pid {srv.proc.pid})")
        check_bodies(ports)
        log("every target serves every body byte for byte")
        for srv in servers[1:]:
            churn(srv.port)
        for t in TARGETS:  # warm-up, not recorded
            subprocess.run(lg_pin + ["wrk", "-t1", f"-c{args.conns}", "-d1s",
                                     f"http://127.0.0.1:{ports[t]}/"], capture_output=True)
        runs_per_round = len(TARGETS) * len(args.body)
        log(f"{args.rounds} rounds x {runs_per_round} wrk runs of {args.duration}s "
            f"(~{args.rounds * runs_per_round * (args.duration + 0.3) / 60:.1f} min)")
        own = {t: ("origin" if t == "direct" else t) for t in TARGETS}
        results = {b: [] for b in args.body}
        last, n = args.rounds, 0
        while n < last:
            order = TARGETS[n % len(TARGETS):] + TARGETS[:n % len(TARGETS)]
            n += 1
            other = 0.0
            for body in args.body:
                rnd = {"n": n, "order": order, "runs": {}}
                for t in order:
                    res = run_wrk(args, lg_pin, ports[t], BODIES[body][0], servers, own[t])
                    rnd["runs"][t] = res
                    other = max(other, res["other_pct"])
                    errs = f", {res['errors']} errors" if res["errors"] else ""
                    log(f"round {n} body {body} {t}: {res['rps']:,.0f} req/s, p50 "
                        f"{res['p50']:.2f} ms, p99 {res['p99']:.2f} ms, other procs "
                        f"{res['other_pct']:.0f}%{errs}")
                results[body].append(rnd)
                for srv in servers:
                    if not srv.alive():
                        raise BenchError(f"{srv.name} exited during the run:\n{srv.log_tail()}")
            disturbed = other > DISTURBED_PCT
            for body in args.body:
                results[body][-1].update(disturbed=disturbed, other_pct=other)
            if disturbed:
                more = last < args.rounds + args.extra_rounds
                last += 1 if more else 0
                log(f"round {n} DISTURBED: other processes used {other:.0f}% of a CPU; "
                    + (f"adding round {last}" if more else "no extra rounds left"))
    finally:
        for srv in reversed(started):
            srv.stop()
    print("## gantry vs nginx vs HAProxy (1 worker each, upstream keep-alive, logs off)\n")
    print(f"{version(['nginx', '-v'])}; {version(['haproxy', '-v'])}; "
          f"{version([args.gantry_bin, 'version'])}; {len(os.sched_getaffinity(0))} CPUs; "
          f"load average at end {' '.join(open('/proc/loadavg').read().split()[:3])}\n")
    for body in args.body:
        print(report(body, results[body], args, pin_note) + "\n")
    print("Ratios are medians of per-round ratios (each target against nginx / direct in the "
          "same round). CPU us/req: user+system CPU of the target's own processes per request "
          "(for direct: the origin's). Disturbed: processes other than wrk, this script and "
          f"the servers used more than {DISTURBED_PCT:.0f}% of a CPU during a run of that round.")


def run_main(bench_fn, args, prefix):
    """Runs bench_fn(args, tmp) in a temp dir with the exit statuses and signal handling every
    benchmark script of this folder shares (policy_compare.py uses it too)."""
    # Ctrl-C raises KeyboardInterrupt even if SIGINT came in ignored (background job);
    # SIGTERM/SIGHUP unwind the same way, so the finally blocks stop the servers.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: sys.exit(128 + signum))
    tmp = tempfile.mkdtemp(prefix=prefix)
    try:
        bench_fn(args, tmp)
        return 0
    except BenchError as e:
        log(f"FAILED: {e}")
        args.keep_tmp = True
        return 1
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        if args.keep_tmp:
            log(f"temp dir kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main():
    return run_main(bench, parse_args(), "gantry-bench.")


if __name__ == "__main__":
    sys.exit(main())
