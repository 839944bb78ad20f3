#!/usr/bin/env python3
"""Instructions per request of policy_compare.py's variants: exact, on a busy machine too.

Each variant's gantry (the same config policy_compare.py writes, 1 worker) runs under
`valgrind --tool=callgrind` twice against the same nginx origin (and the OTLP sink for
tracing-100): once serving BASE keep-alive GETs, once BASE + N, one request at a time on one
connection, with the variant's request headers (a token, an Origin). The difference of the two
runs' instruction totals divided by N is what one request costs in user space, all threads
(the control thread's trace export included); startup and shutdown cancel out. The callgrind
files stay in OUTDIR/<variant>-{base,full}/ for callgrind_annotate.

    python3 bench/policy_callgrind.py [--gantry-bin build/release/gantry] [--out DIR]
                                      [--requests N] [--base B] variant...

Exit status: 0 when every variant was measured; 1 when a server did not start or an answer
was not 200.
"""

import argparse
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import policy_compare as pol  # noqa: E402
import proxy_compare as pc  # noqa: E402


def load(port, n, headers):
    """n keep-alive GETs of / on one connection, one at a time; each must be a 200."""
    hdr = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    req = f"GET / HTTP/1.1\r\nHost: bench\r\n{hdr}\r\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        f = s.makefile("rb")
        for _ in range(n):
            s.sendall(req)
            status = f.readline()
            if not status.startswith(b"HTTP/1.1 200"):
                raise pc.BenchError(f"answer {status!r}")
            length = 0
            while True:
                line = f.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            f.read(length)


def wait_port(port, proc, what, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise pc.BenchError(f"{what} exited at start")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise pc.BenchError(f"{what} did not listen on {port} in {timeout:.0f} s")


def instructions(gantry_bin, cfg_path, port, n, headers, outdir):
    """Total instructions of a gantry run that served 50 warm-up requests and then n."""
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    with open(os.path.join(outdir, "stderr"), "w") as err:
        proc = subprocess.Popen(["valgrind", "--tool=callgrind", "-q",
                                 f"--callgrind-out-file={outdir}/cg.%p", gantry_bin, "-c",
                                 cfg_path], stdout=subprocess.DEVNULL, stderr=err)
    try:
        wait_port(port, proc, "gantry under callgrind")
        load(port, 50, headers)
        load(port, n, headers)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
    # A run may be cut into parts (cg.PID, cg.PID.1, ...: `callgrind_control --dump`, which
    # another callgrind user on the machine may send to every callgrind process): their totals
    # add up to the run's.
    total, parts = 0, glob.glob(f"{outdir}/cg.*")
    for part in parts:
        out = subprocess.run(["callgrind_annotate", part], capture_output=True, text=True,
                             check=True).stdout
        found = [line for line in out.splitlines() if "PROGRAM TOTALS" in line]
        if not found:
            raise pc.BenchError(f"no totals in the callgrind output {part}")
        total += int(found[0].split()[0].replace(",", ""))
    if not parts:
        raise pc.BenchError("no callgrind output")
    return total


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gantry-bin", default=os.environ.get("GANTRY_BIN", "build/release/gantry"))
    p.add_argument("--out", default=None, help="keep the callgrind files here")
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--base", type=int, default=200)
    p.add_argument("variants", nargs="+", choices=list(pol.VARIANTS))
    args = p.parse_args()
    if any("jwt" in v or "redis" in v for v in args.variants):
        p.error("the JWT and Redis variants are not supported here")
    tmp = tempfile.mkdtemp(prefix="gantry-cg-")
    out = args.out or os.path.join(tmp, "cg")
    ports = dict(zip(["origin", "otlp"] + args.variants, pc.free_ports(len(args.variants) + 2)))
    for d in ("www", "temp"):
        os.mkdir(os.path.join(tmp, d))
    for body in ("4k", "64k"):
        with open(os.path.join(tmp, "www", body), "wb") as f:
            f.write(pc.BODIES[body][1])
    user_line = "user root;" if os.geteuid() == 0 else ""
    servers = []
    for name, conf, port_key in (("origin", "origin.nginx.conf", "origin_port"),
                                 ("otlp", "otlp.nginx.conf", "otlp_port")):
        path = pc.render(conf, tmp, tmp=tmp, user_line=user_line, **{port_key: ports[name]})
        servers.append(subprocess.Popen(
            ["nginx", "-p", tmp + "/", "-e", os.path.join(tmp, f"{name}.error.log"), "-c", path,
             "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        for name, proc in zip(("origin", "otlp"), servers):
            wait_port(ports[name], proc, name)
        for name in args.variants:
            cfg = pol.gantry_config(name, ports[name], ports["origin"], 0, {}, ports["otlp"])
            path = os.path.join(tmp, f"{name}.json")
            with open(path, "w") as f:
                json.dump(cfg, f)
            headers = pol.extra_headers(name, {})
            a = instructions(args.gantry_bin, path, ports[name], args.base, headers,
                             os.path.join(out, f"{name}-base"))
            b = instructions(args.gantry_bin, path, ports[name], args.base + args.requests,
                             headers, os.path.join(out, f"{name}-full"))
            print(f"{name}: {(b - a) / args.requests:,.0f} instructions per request", flush=True)
    except pc.BenchError as e:
        print(f"policy_callgrind: {e}", file=sys.stderr)
        return 1
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait()
        if args.out is None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
