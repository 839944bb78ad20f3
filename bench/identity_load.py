#!/usr/bin/env python3
"""Built-in identity end to end (issue 17, "Must hold"): logins/s at the default argon2id cost
and refreshes/s with the SQLite store, against one gantry with ONE worker, in one run.

gantry ($GANTRY_BIN, default build/release/gantry) runs on a free loopback port with a fresh
SQLite file and no access log. Clients are separate processes on keep-alive connections:

    login     CLIENTS processes log in as one user over and over for DURATION s, at the
              default cost (opslimit 2, memlimit 64 MiB): what argon2id on libuv's thread
              pool (UV_THREADPOOL_SIZE, default 4) allows; compare with bench_identity's raw
              crypto_pwhash_str rate on one thread.
    refresh   each process logs in once (a cheap cost: the refresh path never hashes a
              password), then chains refreshes (each uses the token the previous one
              returned) for DURATION s: SQLite's rotation transaction and the signing of a
              new access token, with --alg HS256, EdDSA or ES256.

With --store postgres the store is a real PostgreSQL (initdb in a temp dir on a free port,
the integration tests' tests/integration/gwtest PostgresServer), the refresh's rotation one
transaction over libpq there instead of SQLite's.

    python3 bench/identity_load.py [--clients N] [--duration S] [--alg EdDSA] [--store postgres]
"""

import argparse
import http.client
import json
import multiprocessing as mp
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = "correct horse battery"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start(tmp, alg, ops, mem, dsn=None):
    port, admin = free_port(), free_port()
    jwt = {"kid": "hs", "secret": "bench-identity-secret-0123456789abcdef"}
    if alg != "HS256":
        key = os.path.join(tmp, "key.pem")
        spec = (["-algorithm", "ED25519"] if alg == "EdDSA"
                else ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"])
        subprocess.run(["openssl", "genpkey"] + spec + ["-out", key], check=True)
        jwt = {"keys": [{"kid": "k", "alg": alg, "private_key_file": key}]}
    cfg = {
        "listen": "127.0.0.1:%d" % port, "workers": 1, "log": {"access": "off", "level": "warn"},
        "admin": {"listen": "127.0.0.1:%d" % admin},
        "identity": {"sqlite": os.path.join(tmp, "id.db"), "jwt": jwt,
                     "store": "postgres" if dsn else "sqlite",
                     "password": {"opslimit": ops, "memlimit": mem},
                     "register": {"mode": "open"},
                     "lockout": {"max_failures": 1000000, "max_address_failures": 1000000}},
        "services": [{"name": "s", "prefix": "/s", "targets": ["http://127.0.0.1:9"]}],
    }
    if dsn:
        cfg["identity"]["postgres"] = {"dsn": dsn}
    path = os.path.join(tmp, "gantry.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    binary = os.environ.get("GANTRY_BIN", os.path.join(ROOT, "build/release/gantry"))
    proc = subprocess.Popen([binary, "-c", path], stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(tmp, "stderr.log"), "w"))
    deadline = time.monotonic() + 60
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/ready")
            if c.getresponse().status == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("gantry did not start: see %s/stderr.log" % tmp)
        time.sleep(0.05)
    return proc, port


def post(c, path, body):
    data = json.dumps(body)
    c.request("POST", path, body=data, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    return r.status, r.read()


def login_worker(port, duration, q):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    n, bad, end = 0, 0, time.monotonic() + duration
    while time.monotonic() < end:
        st, _ = post(c, "/auth/login", {"login": "alice", "password": PASSWORD})
        n += st == 200
        bad += st != 200
    q.put((n, bad))


def refresh_worker(port, duration, q):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    st, body = post(c, "/auth/login", {"login": "alice", "password": PASSWORD})
    assert st == 200, body
    tok = json.loads(body)["refresh_token"]
    n, bad, end = 0, 0, time.monotonic() + duration
    while time.monotonic() < end:
        st, body = post(c, "/auth/refresh", {"refresh_token": tok})
        if st != 200:
            bad += 1
            break
        tok = json.loads(body)["refresh_token"]
        n += 1
    q.put((n, bad))


def run_wrk(port, clients, duration, tmp):
    """Refreshes driven by wrk (bench/identity_refresh.lua): CLIENTS connections on two wrk
    threads, each chaining its own tokens. Returns (rate, non-200 answers)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    path = os.path.join(tmp, "tokens")
    threads = min(2, clients)
    with open(path, "w") as f:
        # One more per thread: wrk calls the first thread's request() once before the run
        # to check the script, which takes a token that is never sent.
        for _ in range(clients + threads):
            st, body = post(c, "/auth/login", {"login": "alice", "password": PASSWORD})
            assert st == 200, body
            f.write(json.loads(body)["refresh_token"] + "\n")
    env = dict(os.environ, GW_TOKENS=path, GW_THREADS=str(threads))
    out = subprocess.run(["wrk", "-t%d" % threads, "-c%d" % clients, "-d%gs" % duration,
                          "-s", os.path.join(ROOT, "bench", "identity_refresh.lua"),
                          "http://127.0.0.1:%d/" % port], env=env, check=True,
                         capture_output=True, text=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rate, int(m.group(1)) if m else 0


def run(kind, port, clients, duration):
    q = mp.Queue()
    target = login_worker if kind == "login" else refresh_worker
    ps = [mp.Process(target=target, args=(port, duration, q)) for _ in range(clients)]
    t0 = time.monotonic()
    for p in ps:
        p.start()
    res = [q.get() for _ in ps]
    for p in ps:
        p.join()
    elapsed = time.monotonic() - t0
    ok = sum(r[0] for r in res)
    bad = sum(r[1] for r in res)
    return ok / max(elapsed, duration), bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--alg", default="HS256", choices=["HS256", "EdDSA", "ES256"])
    ap.add_argument("--store", default="sqlite", choices=["sqlite", "postgres"])
    ap.add_argument("--client", default="wrk" if shutil.which("wrk") else "python",
                    choices=["wrk", "python"],
                    help="what drives the refreshes: wrk (bench/identity_refresh.lua, the "
                         "default when installed) or Python processes")
    ap.add_argument("--only", choices=["login", "refresh"], help="one of the two measures")
    a = ap.parse_args()
    pg = None
    if a.store == "postgres":
        sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
        from gwtest import PostgresServer
        pg = PostgresServer()
    try:
        bench_all(a, pg)
    finally:
        if pg is not None:
            pg.stop()


def bench_all(a, pg):
    for kind, ops, mem in (("login", 2, "64MiB"), ("refresh", 1, "8KiB")):
        if a.only and a.only != kind:
            continue
        tmp = tempfile.mkdtemp(prefix="gw-idbench-")
        if pg is not None:
            pg.query("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        proc, port = start(tmp, a.alg, ops, mem, pg.dsn() if pg else None)
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            st, body = post(c, "/auth/register", {"username": "alice",
                                                  "email": "alice@example.com",
                                                  "password": PASSWORD})
            assert st == 201, body
            client = a.client if kind == "refresh" else "python"
            if client == "wrk":
                rate, bad = run_wrk(port, a.clients, a.duration, tmp)
            else:
                rate, bad = run(kind, port, a.clients, a.duration)
            print("%-8s %-6s %-8s 1 worker, %d clients (%s), %.0fs: %8.1f/s  (%d errors)"
                  % (kind, a.alg, a.store, a.clients, client, a.duration, rate, bad))
        finally:
            proc.terminate()
            proc.wait(10)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
