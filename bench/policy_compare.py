#!/usr/bin/env python3
"""What gantry's policies cost in req/s: one gantry binary, one variant per policy, one run.

Every variant is the same gantry binary ($GANTRY_BIN) with one worker in front of the same
nginx origin as bench/proxy_compare.py (3-byte body at /); only the policy differs:

    baseline               no rate limit, no auth (metrics on and the default security
                           headers: what a service gets with nothing configured)
    metrics-off            the baseline with metrics.enabled false (issue 12: metrics cost
                           at most 3% req/s)
    tracing-100            the baseline with tracing at 100% sampling, exporting every span to
                           an OTLP/HTTP sink (nginx answering 200, on the load generator's CPU)
    no-policy              no traffic policy at all: security_headers false (sent the same
                           Origin header as web-policies, so both variants get the same traffic)
    web-policies           CORS (an allowed Origin on every request), the default security
                           headers and one request-header transformation; compared with
                           no-policy (issue 16: at most 3% req/s)
    ratelimit-local        a per-IP gcra limit that never triggers (1,000,000 per 1s), local
    ratelimit-redis        the same limit kept in a real redis-server, local_share 0
    ratelimit-redis-share  the same, local_share 100
    cache-memory           the response cache in memory (ttl 10m): every request after the
                           first is a HIT (policy_callgrind.py measures the HIT path with it)
    jwt-hs256-cached       one HS256 bearer token in every request, verified-token cache on
    jwt-hs256-nocache      the same, cache off (max_entries 0): every request verifies
    jwt-rs256-cached       one RS256 (RSA-2048) token in every request, cache on
    jwt-rs256-nocache      the same, cache off

Before timing, each variant is checked to do what it says: RateLimit headers on the limit
variants (and none on the others), script calls reaching Redis for the Redis variants, 401
without the token and with a tampered signature for the JWT variants. During each timed Redis
run, Redis must hold keys under the variant's prefix and count script calls; any non-2xx
answer during a timed run fails the run.

Rounds are interleaved (round r runs every variant once, the order rotated each round) and
every ratio is the median of per-round ratios to the baseline of the same round. Disturbed
rounds (other processes used more than 10% of a CPU) are flagged and replaced exactly as in
proxy_compare.py, whose server, wrk and /proc helpers this script imports.

Exit status: 0 when the run completed; 1 when a server did not start, a check failed, a server
died, a timed run got a non-2xx answer or wrk gave no result; 2 for bad arguments.

    python3 bench/policy_compare.py [--rounds N] [--duration S] [--only v1,v2] [--keep-tmp]
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

import proxy_compare as pc

CONNS, THREADS = 50, 2
LIMIT = {"name": "per-ip", "algorithm": "gcra", "limit": 1000000, "period": "1s", "key": "ip"}
RL_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "X-RateLimit-Limit",
              "X-RateLimit-Remaining", "X-RateLimit-Reset")
KEY_PREFIX = "gantry:bench:{}:"

ORIGIN = "https://app.example.com"

# name: (kind, what the table says, what the summary says[, the variant it is compared with:
# baseline when absent])
VARIANTS = {
    "baseline": ("none", "no limit, no auth", None),
    "metrics-off": ("mxoff", "metrics.enabled false", "metrics off"),
    "tracing-100": ("trace", "tracing, sample_ratio 1, OTLP/HTTP export", "tracing at 100%"),
    "no-policy": ("bare", "security_headers false, nothing else", "no traffic policy"),
    "web-policies": ("web", "CORS + security headers + one header transformation",
                     "CORS + security headers + header transformation vs no-policy",
                     "no-policy"),
    "ratelimit-local": ("local", "per-IP gcra limit, in-process", "per-IP local limit"),
    "ratelimit-redis": ("redis", "the same limit in Redis, local_share 0", "per-IP Redis limit"),
    "ratelimit-redis-share": ("redis", "the same limit in Redis, local_share 100",
                              "per-IP Redis limit with local_share 100"),
    "cache-memory": ("cache", "response cache (memory), every request a HIT", "cache HIT"),
    "jwt-hs256-cached": ("jwt", "HS256 bearer token, token cache on", "HS256 JWT cached"),
    "jwt-hs256-nocache": ("jwt", "HS256 bearer token, cache off", "HS256 JWT uncached"),
    "jwt-rs256-cached": ("jwt", "RS256 (RSA-2048) bearer token, token cache on",
                         "RS256 JWT cached"),
    "jwt-rs256-nocache": ("jwt", "RS256 (RSA-2048) bearer token, cache off",
                          "RS256 JWT uncached"),
}

BenchError, log = pc.BenchError, pc.log


# ---------------------------------------------------------------------------- redis --
def redis_cmd(port, *args):
    """One command on a fresh connection; the decoded reply (bytes, int, list or None)."""
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(out)
        with s.makefile("rb") as f:
            return _resp(f)


def _resp(f):
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise BenchError("redis: connection closed mid-reply")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest
    if kind == b"-":
        raise BenchError(f"redis: {rest.decode(errors='replace')}")
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_resp(f) for _ in range(n)]
    raise BenchError(f"redis: unexpected reply {line!r}")


def redis_script_calls(port):
    """EVALSHA + EVAL calls Redis has run since it started."""
    info = redis_cmd(port, "INFO", "commandstats").decode()
    return sum(int(m.group(1)) for m in
               re.finditer(r"^cmdstat_(?:evalsha|eval):calls=(\d+)", info, re.M))


def redis_keys(port, prefix):
    return len(redis_cmd(port, "KEYS", prefix + "*") or [])


def wait_redis(srv, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not srv.alive():
            raise BenchError(f"redis exited at start:\n{srv.log_tail()}")
        try:
            if redis_cmd(srv.port, "PING") == b"PONG":
                return
        except (OSError, BenchError):
            pass
        time.sleep(0.05)
    raise BenchError(f"redis did not answer on 127.0.0.1:{srv.port} in {timeout:.0f}s")


# ------------------------------------------------------------------------------ jwt --
def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(alg, kid, sign):
    now = int(time.time())
    head = b64url(json.dumps({"alg": alg, "typ": "JWT", "kid": kid},
                             separators=(",", ":")).encode())
    claims = b64url(json.dumps({"sub": "bench", "iat": now, "exp": now + 86400},
                               separators=(",", ":")).encode())
    signing_input = f"{head}.{claims}".encode()
    return f"{head}.{claims}.{b64url(sign(signing_input))}"


def make_tokens(tmp, need_rsa):
    """HS256 secret and token; RSA-2048 key pair (openssl CLI) and RS256 token when needed."""
    secret = secrets.token_hex(24)  # 48 bytes; HS256 wants at least 32
    out = {"hs_secret": secret,
           "hs_token": mint("HS256", "k1",
                            lambda m: hmac.new(secret.encode(), m, hashlib.sha256).digest())}
    if need_rsa:
        if not shutil.which("openssl"):
            raise BenchError("openssl not found (needed for the RS256 variants)")
        key, pub = os.path.join(tmp, "rs256.key.pem"), os.path.join(tmp, "rs256.pub.pem")
        for cmd in (["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                     "rsa_keygen_bits:2048", "-out", key],
                    ["openssl", "pkey", "-in", key, "-pubout", "-out", pub]):
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                raise BenchError(f"{' '.join(cmd)} failed:\n{r.stderr}")

        def rsa_sign(m):
            # openssl dgst -sign with an RSA key: PKCS#1 v1.5 over SHA-256, i.e. RS256.
            r = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=m,
                               capture_output=True)
            if r.returncode != 0 or len(r.stdout) != 256:
                raise BenchError(f"openssl dgst -sign failed:\n{r.stderr.decode()}")
            return r.stdout

        out.update(rs_pub=pub, rs_token=mint("RS256", "r1", rsa_sign))
    return out


def tamper(token):
    """The token with one character in the middle of its signature changed."""
    head, claims, sig = token.split(".")
    i = len(sig) // 2
    return f"{head}.{claims}.{sig[:i]}{'B' if sig[i] == 'A' else 'A'}{sig[i + 1:]}"


# ------------------------------------------------------------------------ variants --
def reference(name):
    """The variant name is compared with."""
    v = VARIANTS[name]
    return v[3] if len(v) > 3 else "baseline"


def gantry_config(name, port, origin_port, redis_port, tok, otlp_port=0):
    service = {"name": "origin", "prefix": "/", "targets": [f"http://127.0.0.1:{origin_port}"]}
    cfg = {"listen": f"127.0.0.1:{port}", "workers": 1,
           "timeouts": {"client_idle": "300s"},
           "upstream": {"keepalive": {"max_idle": 256, "idle_timeout": "300s"}},
           "log": {"access": "off"}, "admin": {"listen": "off"}, "services": [service]}
    kind = VARIANTS[name][0]
    if kind == "mxoff":
        cfg["metrics"] = {"enabled": False}
    if kind == "trace":
        cfg["tracing"] = {"endpoint": f"http://127.0.0.1:{otlp_port}/v1/traces",
                          "sample_ratio": 1}
    if kind == "bare":
        cfg["security_headers"] = False
    if kind == "web":
        cfg["cors"] = {"origins": [ORIGIN], "credentials": True,
                       "expose_headers": ["X-Request-ID"], "max_age": "10m"}
        service["transform"] = {"request": {"headers": {"set": {"X-Gateway": "gantry"}}}}
    if kind == "local":
        cfg["rate_limit"] = {"backend": "local"}
    elif kind == "redis":
        # fail_closed: should Redis time out during a run, the requests get 503, which fails
        # the run instead of being admitted without Redis and measured as if it had answered.
        cfg["rate_limit"] = {"backend": "redis", "redis": {
            "url": f"redis://127.0.0.1:{redis_port}/0", "key_prefix": KEY_PREFIX.format(name),
            "timeout": "500ms", "failure_policy": "fail_closed",
            "local_share": 100 if name.endswith("-share") else 0}}
    if kind in ("local", "redis"):
        service["rate_limit"] = {"limits": [dict(LIMIT)]}
    if kind == "cache":
        service["cache"] = {"enabled": True, "ttl": "10m"}
    if kind == "jwt":
        if "hs256" in name:
            key = {"kid": "k1", "alg": "HS256", "secret": tok["hs_secret"]}
        else:
            key = {"kid": "r1", "alg": "RS256", "pem_file": tok["rs_pub"]}
        jwt = {"keys": [key]}
        if name.endswith("-nocache"):
            jwt["cache"] = {"max_entries": 0}
        cfg["auth"] = {"jwt": jwt}
        service["auth"] = {"required": True, "methods": ["jwt"]}
    return cfg


def token_of(name, tok):
    if VARIANTS[name][0] != "jwt":
        return None
    return tok["hs_token"] if "hs256" in name else tok["rs_token"]


def extra_headers(name, tok):
    """The request headers wrk sends to the variant (a token, an Origin)."""
    token = token_of(name, tok)
    out = {"Authorization": f"Bearer {token}"} if token else {}
    # no-policy gets the same Origin as web-policies: the policies' cost is measured on the
    # same traffic, so carrying one more request header is not counted as CORS's.
    if VARIANTS[name][0] in ("web", "bare"):
        out["Origin"] = ORIGIN
    return out


def wrk_header_args(name, tok):
    return [a for k, v in extra_headers(name, tok).items() for a in ("-H", f"{k}: {v}")]


def get(port, token=None, more=None):
    """GET / with Connection: close; (status, headers as a dict with lower-case names, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {"Connection": "close", **(more or {})}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request("GET", "/", headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def wait_http(srv, timeout=20.0):
    """Polls until the server answers anything over HTTP (JWT variants answer / with 401)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not srv.alive():
            raise BenchError(f"{srv.name} exited at start:\n{srv.log_tail()}")
        try:
            get(srv.port)
            return
        except (OSError, http.client.HTTPException):
            time.sleep(0.05)
    raise BenchError(f"{srv.name} did not answer on 127.0.0.1:{srv.port} in {timeout:.0f}s:\n"
                     f"{srv.log_tail()}")


def verify(name, port, tok, redis_port):
    """Proves the variant applies its policy; raises BenchError when it does not."""
    kind, token = VARIANTS[name][0], token_of(name, tok)

    def fail(msg):
        raise BenchError(f"{name}: {msg}")

    calls0 = redis_script_calls(redis_port) if kind == "redis" else 0
    status, headers, body = get(port, token, extra_headers(name, tok))
    if status != 200 or body != b"ok\n":
        fail(f"GET / answered {status} with {len(body)} bytes (want 200 and the origin's body)")
    present = [h for h in RL_HEADERS if h.lower() in headers]
    if kind in ("local", "redis"):
        if len(present) != len(RL_HEADERS):
            fail(f"RateLimit headers missing: {sorted(set(RL_HEADERS) - set(present))}")
        what = ", ".join(f"{h}: {headers[h.lower()]}" for h in RL_HEADERS[:3])
    elif present:
        fail(f"unexpected rate-limit headers {present}")
    else:
        what = "no RateLimit headers"
    sechdr = "x-content-type-options" in headers
    if sechdr == (kind == "bare"):
        fail("security headers " + ("present" if sechdr else "missing"))
    if kind == "web":
        if headers.get("access-control-allow-origin") != ORIGIN:
            fail(f"no CORS answer for Origin {ORIGIN}: {headers}")
        what += "; CORS headers for the allowed Origin"
    if kind == "redis":
        calls = redis_script_calls(redis_port) - calls0
        if calls < 1:
            fail("one request made no script call in Redis")
        what += f"; {calls} Redis script call(s) for one request"
    if kind == "jwt":
        for label, t in (("without a token", None), ("with a tampered signature", tamper(token))):
            status, headers, _ = get(port, t)
            if status != 401 or "www-authenticate" not in headers:
                fail(f"a request {label} answered {status} (want 401 with WWW-Authenticate)")
        what += "; 200 with the token, 401 without it and with a tampered signature"
    else:
        status, _, _ = get(port, None)
        if status != 200:
            fail(f"a request without a token answered {status} (this variant has no auth)")
    log(f"{name} checked: {what}")


# ------------------------------------------------------------------------------ wrk --
def run_wrk(args, lg_pin, name, port, hdr, servers, redis_port):
    """One timed wrk run, with the CPU bookkeeping of proxy_compare.run_wrk and, for the
    Redis variants, script calls counted and keys under the prefix looked for mid-run."""
    pids = {s.name: s.pids() for s in servers}
    all_pids = [p for v in pids.values() for p in v]
    redis_pids = pids.get("redis", [])
    kind = VARIANTS[name][0]
    ours0, srv0 = pc._our_cpu_s(), pc.proc_ticks(all_pids)
    own0, redis0 = pc.proc_ticks(pids[name]), pc.proc_ticks(redis_pids)
    calls0 = redis_script_calls(redis_port) if kind == "redis" else 0
    seen = {"keys": 0}
    probe = None
    if kind == "redis":
        # Keys live about 1 ms after their last request (PEXPIRE to a full allowance), so they
        # are looked for while wrk is running, a few times in case one look falls in a gap.
        def look():
            for _ in range(5):
                seen["keys"] = max(seen["keys"], redis_keys(redis_port, KEY_PREFIX.format(name)))
                if seen["keys"]:
                    return
                time.sleep(0.02)

        probe = threading.Timer(args.duration / 2, look)
        probe.start()
    busy0, t0 = pc.busy_ticks(), time.monotonic()
    cmd = lg_pin + ["wrk", f"-t{THREADS}", f"-c{CONNS}", f"-d{args.duration}s", "--latency",
                    *hdr, f"http://127.0.0.1:{port}/"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 30)
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish against {name}") from None
    finally:
        if probe:
            probe.join()
    wall = time.monotonic() - t0
    busy = pc.busy_ticks() - busy0
    srv, own_t = pc.proc_ticks(all_pids) - srv0, pc.proc_ticks(pids[name]) - own0
    redis_t = pc.proc_ticks(redis_pids) - redis0
    ours_s = pc._our_cpu_s() - ours0
    if out.returncode != 0:
        raise BenchError(f"wrk failed ({out.returncode}) against {name}:\n"
                         f"{out.stdout}{out.stderr}")
    res = pc.parse_wrk(out.stdout)
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
    if m and int(m.group(1)):
        raise BenchError(f"{name}: {m.group(1)} of {res['requests']} answers were not 2xx "
                         "(a limit triggered, a token was refused or Redis failed); "
                         "the run would not measure the policy")
    res["other_pct"] = max(0.0, 100.0 * ((busy - srv) / pc.HZ - ours_s) / wall)
    n = res["requests"] or 1
    res["own_us_req"] = 1e6 * own_t / pc.HZ / n
    res["redis_us_req"] = 1e6 * redis_t / pc.HZ / n
    res["calls_req"] = None
    if kind == "redis":
        calls = redis_script_calls(redis_port) - calls0
        if calls < 1 or not seen["keys"]:
            raise BenchError(f"{name}: during the run Redis ran {calls} script calls and held "
                             f"{seen['keys']} keys under {KEY_PREFIX.format(name)!r}")
        res["calls_req"] = calls / n
    return res


# --------------------------------------------------------------------------- report --
def _median_of(runs, key):
    return statistics.median(r[key] for r in runs)


def report(names, rounds, args, pin_note):
    clean = [r for r in rounds if not r["disturbed"]]
    used = clean if len(clean) >= pc.MIN_CLEAN else rounds
    lines = [f"wrk -t{THREADS} -c{CONNS} -d{args.duration}s --latency, keep-alive, GET / (3-byte "
             f"body); gantry workers=1; {pin_note}; {len(rounds)} rounds, {len(clean)} clean, "
             f"medians over {len(used)}", ""]
    if len(clean) < pc.MIN_CLEAN:
        lines += [f"**WARNING: only {len(clean)} clean rounds; medians include disturbed "
                  "rounds and are unreliable.**", ""]
    lines += ["| variant | policy | req/s (median) | min-max | vs its reference [min-max] | p50 "
              "| p99 | gantry CPU us/req (vs reference) | Redis calls/req | Redis CPU us/req |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    ratios, cpu = {}, {}
    base_cpu = _median_of([r["runs"]["baseline"] for r in used], "own_us_req")
    for name in names:
        runs = [r["runs"][name] for r in used]
        rps = [x["rps"] for x in runs]
        ref = reference(name)
        ratios[name] = [r["runs"][name]["rps"] / r["runs"][ref]["rps"] for r in used]
        redis = VARIANTS[name][0] == "redis"
        cpu[name] = _median_of(runs, "own_us_req")
        calls = f"{_median_of(runs, 'calls_req'):.2f}" if redis else "-"
        redis_cpu = f"{_median_of(runs, 'redis_us_req'):.1f}" if redis else "-"
        lines.append(
            f"| {name} | {VARIANTS[name][1]} | {pc._fmt_rps(statistics.median(rps))} "
            f"| {pc._fmt_rps(min(rps))}-{pc._fmt_rps(max(rps))} | {pc._ratio(ratios[name])} "
            f"| {pc._fmt_ms(_median_of(runs, 'p50'))} | {pc._fmt_ms(_median_of(runs, 'p99'))} "
            f"| {cpu[name]:.1f} ({cpu[name] / _median_of([r['runs'][ref] for r in used], 'own_us_req'):.2f}) "
            f"| {calls} | {redis_cpu} |")
    lines += ["", "| round | order | other procs % of a CPU (max run) | |", "|---:|---|---:|---|"]
    for r in rounds:
        flag = "DISTURBED" + (" (dropped)" if used is clean else "") if r["disturbed"] else "clean"
        lines.append(f"| {r['n']} | {' '.join(r['order'])} | {r['other_pct']:.1f} | {flag} |")
    errs = {n: sum(r["runs"][n]["errors"] for r in rounds) for n in names}
    if any(errs.values()):
        lines += ["", "wrk socket errors: " + ", ".join(f"{n} {e}" for n, e in errs.items() if e)]
    summary = "; ".join(f"{VARIANTS[n][2]}: {statistics.median(ratios[n]):.3f}x {reference(n)} "
                        f"(gantry CPU/req {cpu[n] / cpu[reference(n)]:.3f}x)"
                        for n in names if VARIANTS[n][2])
    if len(clean) < pc.MIN_CLEAN:
        summary = f"UNRELIABLE ({len(clean)} clean rounds): " + summary
    return "\n".join(lines), summary


# ----------------------------------------------------------------------------- main --
def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    p.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    p.add_argument("--extra-rounds", type=int, default=2,
                   help="rounds added to replace disturbed ones (default 2)")
    p.add_argument("--only", action="append", default=None,
                   help="comma-separated variants to run (baseline and each one's reference "
                   "are always run): "
                   + ", ".join(VARIANTS))
    p.add_argument("--gantry-bin", default=os.environ.get("GANTRY_BIN") or
                   os.path.join(pc.ROOT, "build", "bench", "gantry"),
                   help="default: $GANTRY_BIN, else build/bench/gantry")
    p.add_argument("--keep-tmp", action="store_true", help="keep configs and logs")
    # bench/run.sh hands one argument list to proxy_compare.py and to this script: accept
    # proxy_compare's other options and ignore them (this benchmark fixes -c50 and the body).
    for opt in ("--body", "--conns", "--gantry-config"):
        p.add_argument(opt, action="append", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.gantry_bin = os.path.abspath(args.gantry_bin)
    only = [v for spec in (args.only or []) for v in spec.split(",") if v]
    bad = [v for v in only if v not in VARIANTS]
    if bad or args.rounds < 1 or args.duration < 1 or args.extra_rounds < 0:
        p.error(f"unknown variant(s) {bad}; known: {', '.join(VARIANTS)}" if bad
                else "numbers must be positive")
    keep = set(only) | {reference(v) for v in only} | {"baseline"}
    args.names = [v for v in VARIANTS if not only or v in keep]
    return args


def bench(args, tmp):
    names = args.names
    need_redis = any(VARIANTS[n][0] == "redis" for n in names)
    for tool in ["nginx", "wrk"] + (["redis-server"] if need_redis else []):
        if not shutil.which(tool):
            raise BenchError(f"{tool} not found (scripts/deps.sh bench installs nginx and wrk; "
                             "redis-server comes with scripts/deps.sh test)")
    if not os.path.exists(args.gantry_bin):
        raise BenchError(f"{args.gantry_bin} not found (make bench, or set GANTRY_BIN)")
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= 2 and shutil.which("taskset"):
        lg_pin, srv_pin = ["taskset", "-c", str(cpus[0])], ["taskset", "-c", str(cpus[1])]
        pin_note = f"wrk pinned to cpu{cpus[0]}, origin, gantry and Redis to cpu{cpus[1]}"
    else:
        lg_pin, srv_pin, pin_note = [], [], "not pinned (fewer than 2 CPUs)"
    tok = make_tokens(tmp, any("rs256" in n for n in names))
    ports = dict(zip(["origin", "redis", "otlp"] + names, pc.free_ports(len(names) + 3)))
    need_otlp = any(VARIANTS[n][0] == "trace" for n in names)
    os.mkdir(os.path.join(tmp, "www"))
    os.mkdir(os.path.join(tmp, "temp"))
    for body in ("4k", "64k"):  # the origin config serves them; unused here
        with open(os.path.join(tmp, "www", body), "wb") as f:
            f.write(pc.BODIES[body][1])
    user_line = "user root;" if os.geteuid() == 0 else ""
    origin_conf = pc.render("origin.nginx.conf", tmp, tmp=tmp, user_line=user_line,
                            origin_port=ports["origin"])
    servers = [pc.Server("origin", ports["origin"],
                         ["nginx", "-p", tmp + "/", "-e", os.path.join(tmp, "origin.error.log"),
                          "-c", origin_conf, "-g", "daemon off;"], tmp)]
    if need_otlp:
        otlp_conf = pc.render("otlp.nginx.conf", tmp, tmp=tmp, user_line=user_line,
                              otlp_port=ports["otlp"])
        servers.append(pc.Server("otlp", ports["otlp"],
                                 ["nginx", "-p", tmp + "/", "-e",
                                  os.path.join(tmp, "otlp.error.log"), "-c", otlp_conf, "-g",
                                  "daemon off;"], tmp))
    if need_redis:
        servers.append(pc.Server("redis", ports["redis"], [
            "redis-server", "--port", str(ports["redis"]), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", tmp, "--daemonize", "no"], tmp))
    for name in names:
        path = os.path.join(tmp, f"{name}.json")
        with open(path, "w") as f:
            json.dump(gantry_config(name, ports[name], ports["origin"], ports["redis"], tok,
                                    ports["otlp"]), f, indent=2)
        servers.append(pc.Server(name, ports[name], [args.gantry_bin, "-c", path], tmp))
    started = []
    try:
        for srv in servers:
            srv.start(lg_pin if srv.name == "otlp" else srv_pin)
            started.append(srv)
            if srv.name in ("origin", "otlp"):
                pc.wait_ready(srv)
            elif srv.name == "redis":
                wait_redis(srv)
            else:
                wait_http(srv)
            log(f"{srv.name} up on 127.0.0.1:{srv.port} (pid {srv.proc.pid})")
        for name in names:
            verify(name, ports[name], tok, ports["redis"])
        for name in names:  # warm-up, not recorded
            hdr = wrk_header_args(name, tok)
            subprocess.run(lg_pin + ["wrk", f"-t{THREADS}", f"-c{CONNS}", "-d1s", *hdr,
                                     f"http://127.0.0.1:{ports[name]}/"], capture_output=True)
        log(f"{args.rounds} rounds x {len(names)} wrk runs of {args.duration}s "
            f"(~{args.rounds * len(names) * (args.duration + 0.3) / 60:.1f} min)")
        rounds, last, n = [], args.rounds, 0
        while n < last:
            order = names[n % len(names):] + names[:n % len(names)]
            n += 1
            rnd = {"n": n, "order": order, "runs": {}}
            for name in order:
                res = run_wrk(args, lg_pin, name, ports[name], wrk_header_args(name, tok),
                              servers, ports["redis"])
                rnd["runs"][name] = res
                extra = (f", Redis {res['calls_req']:.2f} calls/req"
                         if res["calls_req"] is not None else "")
                log(f"round {n} {name}: {res['rps']:,.0f} req/s, p50 {res['p50']:.2f} ms, "
                    f"p99 {res['p99']:.2f} ms, gantry {res['own_us_req']:.1f} us/req{extra}, "
                    f"other procs {res['other_pct']:.0f}%")
                for srv in servers:
                    if not srv.alive():
                        raise BenchError(f"{srv.name} exited during the run:\n{srv.log_tail()}")
            rnd["other_pct"] = max(r["other_pct"] for r in rnd["runs"].values())
            rnd["disturbed"] = rnd["other_pct"] > pc.DISTURBED_PCT
            rounds.append(rnd)
            if rnd["disturbed"]:
                more = last < args.rounds + args.extra_rounds
                last += 1 if more else 0
                log(f"round {n} DISTURBED: other processes used {rnd['other_pct']:.0f}% of a "
                    "CPU; " + (f"adding round {last}" if more else "no extra rounds left"))
    finally:
        for srv in reversed(started):
            srv.stop()
    table, summary = report(names, rounds, args, pin_note)
    print("## What gantry's policies cost (one gantry binary, 1 worker, per-variant config)\n")
    redis_v = pc.version(["redis-server", "--version"]) + "; " if need_redis else ""
    print(f"{pc.version([args.gantry_bin, 'version'])}; {pc.version(['nginx', '-v'])}; "
          f"{redis_v}{len(os.sched_getaffinity(0))} CPUs; load average at end "
          f"{' '.join(open('/proc/loadavg').read().split()[:3])}\n")
    print(table + "\n")
    print("Limit: `" + json.dumps(LIMIT) + "` on the one service; never reached. Redis variants: "
          "failure_policy fail_closed, timeout 500ms, a redis-server on the server CPU (its CPU "
          "is the last column, not in gantry's). Ratios are medians of per-round ratios to the "
          "variant's reference (baseline, or the one named in the summary) of the same round. gantry CPU us/req: user+system CPU of the variant's "
          "gantry process per request, the steadiest figure when other jobs share the machine "
          "(in brackets: against the reference's). Disturbed: processes other than wrk, this "
          "script and the "
          f"servers used more than {pc.DISTURBED_PCT:.0f}% of a CPU during a run of that round.\n")
    print(summary)


def main():
    return pc.run_main(bench, parse_args(), "gantry-bench-policy.")


if __name__ == "__main__":
    sys.exit(main())
