#!/usr/bin/env python3
"""Rate limiting with the local backend (issue 6), through the real binary.

Every limit here has a long period (minutes to days) so that nothing refills during a test:
the counts are exact, with no timing assertion, except in the "headers are true" test, which
follows the headers' own advice and must never be refused. Sources: docs/config.md (section
"Rate limiting"), docs/ratelimit.md, /tmp/notes/policy_spec.md.
"""

import json
import os
import re
import signal
import threading
import time

import gwtest
from gwtest import Gantry, Origin, assert_json_error, request

IETF = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
LEGACY = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
RELOADED = re.compile(r"configuration reloaded")

# A fixed window is aligned to the clock: a 10-day window makes crossing its edge during a
# test practically impossible (the longest period allowed is about 12.7 days).
LONG = "240h"


# ---- helpers ------------------------------------------------------------------------------------


def svc(name, prefix, origin, limits=None):
    s = {"name": name, "prefix": prefix, "targets": [origin.target()]}
    if limits is not None:
        s["rate_limit"] = {"limits": limits}
    return s


def config(*services, workers=1, **rate_limit):
    """A config with these services and a gateway "rate_limit" object made of the keyword
    arguments (limits=[...], headers=..., trusted_proxies=...)."""
    cfg = {"workers": workers, "services": list(services), "log": {"access": "off"}}
    if rate_limit:
        cfg["rate_limit"] = rate_limit
    return cfg


def lim(limit, period, name=None, **extra):
    d = {"limit": limit, "period": period}
    if name:
        d["name"] = name
    d.update(extra)
    return d


def rl(r):
    """The six rate-limit headers of r as {name: int or None}; asserts that the IETF and legacy
    spellings agree when both are there and that each appears at most once."""
    out = {}
    for n in IETF + LEGACY:
        vals = r.header_all(n)
        assert len(vals) <= 1, (n, vals, r.headers)
        out[n] = int(vals[0]) if vals else None
    for a, b in zip(IETF, LEGACY):
        if out[a] is not None and out[b] is not None:
            assert out[a] == out[b], (a, b, r.headers)
    return out


def limit_of(r):
    return rl(r)["RateLimit-Limit"]


def remaining_of(r):
    return rl(r)["RateLimit-Remaining"]


def assert_limited(r, limit=None):
    """r is gantry's 429: JSON body, Retry-After >= 1 equal to body.retry_after, the headers of
    the refusing limit with Remaining 0."""
    body = assert_json_error(r, 429)
    assert body["error"] == "rate limit exceeded", body
    retry = r.header("Retry-After")
    assert retry is not None and retry.isdigit() and int(retry) >= 1, r.headers
    assert body["retry_after"] == int(retry), (body, r.headers)
    assert r.header("X-Origin-Port") is None, r.headers
    h = rl(r)
    assert h["RateLimit-Remaining"] == 0 and h["X-RateLimit-Remaining"] == 0, r.headers
    if limit is not None:
        assert h["RateLimit-Limit"] == limit and h["X-RateLimit-Limit"] == limit, r.headers
    assert h["RateLimit-Reset"] >= 1, r.headers
    return body


def get(g, path, headers=None, method="GET"):
    return request(g.port, method, path, headers=headers)


def statuses(g, path, n, headers=None, method="GET"):
    return [get(g, path, headers, method).status for _ in range(n)]


def xff(ip):
    return [("X-Forwarded-For", ip)]


def hup(g, timeout=15):
    """SIGHUP and waits for the "configuration reloaded" line written after it."""
    offset = len(g.stderr())
    g.signal(signal.SIGHUP)
    gwtest.wait_until(lambda: RELOADED.search(g.stderr()[offset:]), timeout,
                      message="reload line in gantry's stderr")


# ---- one limit ---------------------------------------------------------------------------------


def test_n_per_minute_admits_exactly_n_then_429_with_headers_and_json():
    n = 5
    with Origin() as o, Gantry(config(svc("s", "/", o, [lim(n, "1m", "per-ip")]))) as g:
        for i in range(n):
            r = get(g, "/echo/%d" % i)
            assert r.status == 200 and r.header("X-Origin-Port") == str(o.port), r
            h = rl(r)
            assert all(v is not None for v in h.values()), r.headers
            assert h["RateLimit-Limit"] == n, r.headers
            assert h["RateLimit-Remaining"] == n - 1 - i, (i, r.headers)
            assert h["RateLimit-Reset"] >= 1, r.headers
        for _ in range(3):
            assert_limited(get(g, "/echo/over"), limit=n)
        assert o.stats()["requests"] == n, o.stats()


def test_headers_are_true_for_a_client_that_follows_them():
    """A client that sends while Remaining > 0, else waits RateLimit-Reset (and Retry-After
    after a refusal), is never refused. Each algorithm, about 3 s each, one key per algorithm."""
    algos = [("gcra", lim(5, "1s", "g")),
             ("token_bucket", lim(5, "1s", "t", algorithm="token_bucket")),
             ("sliding_window", lim(5, "1s", "s", algorithm="sliding_window", buckets=4)),
             ("fixed_window", lim(5, "1s", "f", algorithm="fixed_window"))]
    with Origin() as o:
        services = [svc(a, "/echo/" + a, o, [l]) for a, l in algos]
        with Gantry(config(*services)) as g:
            for a, _ in algos:
                refused, admitted = [], 0
                deadline = time.monotonic() + 3.0
                while time.monotonic() < deadline:
                    r = get(g, "/echo/%s/x" % a)
                    if r.status == 200:
                        admitted += 1
                        h = rl(r)
                        if h["RateLimit-Remaining"] == 0:
                            # waiting exactly what the header says is what is under test
                            time.sleep(h["RateLimit-Reset"])
                    else:
                        refused.append((r.status, r.headers))
                        time.sleep(int(r.header("Retry-After") or "1"))  # as told, likewise
                assert not refused, (a, refused)
                assert admitted >= 10, (a, admitted)  # it really went past the first burst


def test_several_limits_refuse_at_the_first_exhausted_and_report_the_fewest_remaining():
    with Origin() as o:
        a = svc("a", "/echo/a", o, [lim(3, "1m", "minute"), lim(100, "1h", "hour")])
        b = svc("b", "/echo/b", o, [lim(100, "1h", "hour"), lim(3, "1m", "minute")])
        with Gantry(config(a, b)) as g:
            for path in ("/echo/a/x", "/echo/b/x"):
                for i in range(3):
                    r = get(g, path)
                    assert r.status == 200, (path, r)
                    assert limit_of(r) == 3 and remaining_of(r) == 2 - i, (path, i, r.headers)
                assert_limited(get(g, path), limit=3)


def test_gateway_wide_limits_apply_to_every_service_service_limits_to_theirs():
    with Origin() as o:
        cfg = config(svc("a", "/echo/a", o, [lim(2, "1m", "a-only")]), svc("b", "/echo/b", o),
                     limits=[lim(6, "1m", "everyone")])
        with Gantry(cfg) as g:
            # /a: both limits apply; the headers are those of the one with fewer remaining.
            for i in range(2):
                r = get(g, "/echo/a/x")
                assert r.status == 200 and limit_of(r) == 2 and remaining_of(r) == 1 - i, r.headers
            # The service's limit refuses; the gateway's, checked first, counted it (3 of 6).
            assert_limited(get(g, "/echo/a/x"), limit=2)
            # /b: only the gateway's limit applies.
            for rem in (2, 1, 0):
                r = get(g, "/echo/b/x")
                assert r.status == 200 and limit_of(r) == 6 and remaining_of(r) == rem, r.headers
            assert_limited(get(g, "/echo/b/x"), limit=6)
            assert_limited(get(g, "/echo/a/x"), limit=6)  # the gateway-wide limit answers first
            assert o.stats()["requests"] == 5, o.stats()


def test_a_service_without_limits_gets_no_headers_and_upstream_headers_pass():
    with Origin() as o:
        cfg = config(svc("a", "/echo/a", o, [lim(1, "1m")]), svc("b", "/echo/b", o))
        with Gantry(cfg) as g:
            for _ in range(3):
                r = get(g, "/echo/b?h=RateLimit-Limit:999")
                assert r.status == 200, r
                assert r.header_all("RateLimit-Limit") == ["999"], r.headers
                assert r.header("X-RateLimit-Limit") is None, r.headers


# ---- keys ------------------------------------------------------------------------------------


def test_key_ip_behind_trusted_proxies_counts_forwarded_clients_apart():
    with Origin() as o:
        cfg = config(svc("s", "/", o, [lim(2, "1m", key="ip")]),
                     trusted_proxies=["127.0.0.1/32"])
        with Gantry(cfg) as g:
            assert statuses(g, "/echo/x", 3, xff("203.0.113.1")) == [200, 200, 429]
            assert statuses(g, "/echo/x", 3, xff("203.0.113.2")) == [200, 200, 429]
            # Entries left of the right-most untrusted one could be forged: ignored.
            assert statuses(g, "/echo/x", 1, xff("198.51.100.9, 203.0.113.1")) == [429]
            # A trusted proxy on the right is skipped: the client is the entry before it.
            assert statuses(g, "/echo/x", 1, xff("203.0.113.2, 127.0.0.1")) == [429]
            # Without X-Forwarded-For, the peer (127.0.0.1) is the client: its own counter.
            assert statuses(g, "/echo/x", 3) == [200, 200, 429]


def test_key_ip_without_trusted_proxies_ignores_forwarded_for():
    with Origin() as o, Gantry(config(svc("s", "/", o, [lim(2, "1m", key="ip")]))) as g:
        assert statuses(g, "/echo/x", 2, xff("203.0.113.1")) == [200, 200]
        # Another "client" by X-Forwarded-For shares the peer's counter.
        assert statuses(g, "/echo/x", 2, xff("203.0.113.2")) == [429, 429]
        assert statuses(g, "/echo/x", 1) == [429]


def test_key_header_counts_tenants_apart_and_falls_back_to_the_client_ip():
    with Origin() as o:
        cfg = config(svc("s", "/", o, [lim(2, "1m", key="header:X-Tenant")]),
                     trusted_proxies=["127.0.0.1/32"])
        with Gantry(cfg) as g:
            assert statuses(g, "/echo/x", 3, [("X-Tenant", "acme")]) == [200, 200, 429]
            assert statuses(g, "/echo/x", 3, [("x-tenant", "globex")]) == [200, 200, 429]
            # The same tenant from another address is the same counter.
            assert statuses(g, "/echo/x", 1, [("X-Tenant", "acme")] + xff("203.0.113.5")) == [429]
            # Absent (or empty): the client's address is the key, one counter per address.
            assert statuses(g, "/echo/x", 3, xff("203.0.113.1")) == [200, 200, 429]
            assert statuses(g, "/echo/x", 1, [("X-Tenant", "")] + xff("203.0.113.1")) == [429]
            assert statuses(g, "/echo/x", 3, xff("203.0.113.2")) == [200, 200, 429]
            # A tenant named like an address is not that address's counter.
            assert statuses(g, "/echo/x", 1, [("X-Tenant", "203.0.113.1")]) == [200]


def test_key_global_is_one_counter_for_every_client():
    with Origin() as o:
        cfg = config(svc("s", "/", o, [lim(3, "1m", key="global")]),
                     trusted_proxies=["127.0.0.1/32"])
        with Gantry(cfg) as g:
            for i in range(3):
                assert statuses(g, "/echo/x", 1, xff("203.0.113.%d" % (i + 1))) == [200]
            assert statuses(g, "/echo/x", 1, xff("203.0.113.99")) == [429]
            assert statuses(g, "/echo/x", 1) == [429]


def test_key_route_limits_only_the_matched_method_and_prefix_for_all_clients():
    with Origin() as o:
        login = lim(2, "1m", "login", key="route",
                    match={"prefix": "/echo/users/login", "methods": ["POST"]})
        cfg = config(svc("users", "/echo/users", o, [login]), trusted_proxies=["127.0.0.1/32"])
        with Gantry(cfg) as g:
            r = request(g.port, "POST", "/echo/users/login", headers=xff("203.0.113.1"), body="a")
            assert r.status == 200 and limit_of(r) == 2 and remaining_of(r) == 1, r.headers
            r = request(g.port, "POST", "/echo/users/login/otp", headers=xff("203.0.113.2"),
                        body="a")
            assert r.status == 200 and remaining_of(r) == 0, r.headers
            # One counter for every client of the route.
            r = request(g.port, "POST", "/echo/users/login", headers=xff("203.0.113.3"), body="a")
            assert_limited(r, limit=2)
            # GET, other paths, and prefixes that are not on a segment boundary: not limited.
            for method, path in (("GET", "/echo/users/login"), ("POST", "/echo/users/loginx"),
                                 ("POST", "/echo/users/other"), ("GET", "/echo/users/1")):
                for _ in range(3):
                    r = request(g.port, method, path + "?h=RateLimit-Limit:999",
                                body="a" if method == "POST" else None)
                    assert r.status == 200, (method, path, r)
                    assert r.header_all("RateLimit-Limit") == ["999"], (method, path, r.headers)


# ---- algorithms -------------------------------------------------------------------------------


def test_each_algorithm_admits_exactly_the_limit_of_a_burst():
    cases = [
        ("gcra", lim(7, "1h", "g", algorithm="gcra"), 7, 7),
        ("token_bucket", lim(7, "1h", "t", algorithm="token_bucket"), 7, 7),
        ("sliding_window", lim(7, LONG, "s", algorithm="sliding_window"), 7, 7),
        ("fixed_window", lim(7, LONG, "f", algorithm="fixed_window"), 7, 7),
        # burst bounds the buckets (and is their RateLimit-Limit); the rate stays 7 per hour
        ("gcra-burst", lim(7, "1h", "gb", algorithm="gcra", burst=3), 3, 3),
        ("token_bucket-burst", lim(7, "1h", "tb", algorithm="token_bucket", burst=3), 3, 3),
    ]
    with Origin() as o:
        services = [svc(name, "/echo/" + name, o, [l]) for name, l, _, _ in cases]
        with Gantry(config(*services)) as g:
            for name, _, admitted, header_limit in cases:
                got = []
                for i in range(admitted + 4):
                    r = get(g, "/echo/%s/x" % name)
                    got.append(r.status)
                    if r.status == 200:
                        assert limit_of(r) == header_limit, (name, r.headers)
                        assert remaining_of(r) == admitted - 1 - i, (name, i, r.headers)
                    else:
                        assert_limited(r, limit=header_limit)
                assert got == [200] * admitted + [429] * 4, (name, got)
            assert o.stats()["requests"] == sum(c[2] for c in cases), o.stats()


# ---- header modes -------------------------------------------------------------------------------


def test_header_modes_all_ietf_legacy_off():
    expect = {"all": IETF + LEGACY, "ietf": IETF, "legacy": LEGACY, "off": ()}
    with Origin() as o:
        for mode, present in expect.items():
            cfg = config(svc("s", "/", o, [lim(1, "1m")]), headers=mode)
            with Gantry(cfg) as g:
                ok = get(g, "/echo")
                refused = get(g, "/echo")
                assert ok.status == 200 and refused.status == 429, (mode, ok, refused)
                assert refused.header("Retry-After") is not None, (mode, refused.headers)
                for r in (ok, refused):
                    h = rl(r)
                    got = tuple(n for n in IETF + LEGACY if h[n] is not None)
                    assert got == present, (mode, r.status, r.headers)


def test_upstream_rate_limit_headers_are_replaced_by_gantrys():
    with Origin() as o, Gantry(config(svc("s", "/", o, [lim(10, "1m")]))) as g:
        r = get(g, "/echo?h=RateLimit-Limit:999&h=X-RateLimit-Remaining:999"
                   "&h=RateLimit-Policy:x&h=X-Other:kept")
        assert r.status == 200, r
        h = rl(r)  # at most one of each
        assert h["RateLimit-Limit"] == 10 and h["X-RateLimit-Remaining"] == 9, r.headers
        assert r.header("X-Other") == "kept", r.headers


# ---- concurrency -------------------------------------------------------------------------------


@gwtest.timeout(90)
def test_four_threads_two_workers_admit_exactly_the_limit():
    results = []
    lock = threading.Lock()
    # A long period: nothing refills while the 200 requests run, however slow the machine (at
    # 100 per minute one more was admitted every 0.6 s, and a loaded machine saw 101).
    with Origin() as o, Gantry(config(svc("s", "/", o, [lim(100, LONG)]), workers=2)) as g:

        def run():
            mine = []
            for _ in range(50):
                try:
                    mine.append(get(g, "/echo").status)
                except Exception as e:  # counted as a failure below
                    mine.append(repr(e))
            with lock:
                results.extend(mine)

        threads = [threading.Thread(target=run) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(results) == 200, len(results)
        assert results.count(200) == 100 and results.count(429) == 100, sorted(
            set(map(str, results)))
        assert o.stats()["requests"] == 100, o.stats()


# ---- reload ------------------------------------------------------------------------------------


def test_reload_keeps_counters_of_unchanged_limits_and_resets_changed_ones():
    with Origin() as o, Origin() as o2:
        cfg = config(svc("s", "/", o, [lim(3, "1m", "per-ip")]))
        with Gantry(cfg) as g:
            assert statuses(g, "/echo/x", 4) == [200, 200, 200, 429]
            # Unchanged limit, another change in the file (a new service /t on o2).
            g.write_config(config(svc("s", "/", o, [lim(3, "1m", "per-ip")]),
                                  svc("t", "/echo/t", o2)))
            hup(g)
            gwtest.wait_until(lambda: get(g, "/echo/t/x").header("X-Origin-Port") == str(o2.port),
                              message="the reloaded config in force")
            assert statuses(g, "/echo/x", 2) == [429, 429]
            # The same through the admin API.
            r = g.admin_request("POST", "/api/config/reload")
            assert r.status == 200, (r, r.body)
            assert statuses(g, "/echo/x", 1) == [429]
            # A changed limit starts afresh (and /t moves to o, to see the new config).
            g.write_config(config(svc("s", "/", o, [lim(4, "1m", "per-ip")]),
                                  svc("t", "/echo/t", o)))
            hup(g)
            gwtest.wait_until(lambda: get(g, "/echo/t/x").header("X-Origin-Port") == str(o.port),
                              message="the reloaded config in force")
            got = statuses(g, "/echo/x", 5)
            assert got == [200, 200, 200, 200, 429], got


# ---- config errors ---------------------------------------------------------------------------


def _position(text, needle, at):
    """1-based (line, column) of the substring at inside the first occurrence of needle."""
    i = text.index(needle) + needle.index(at)
    return text.count("\n", 0, i) + 1, i - (text.rfind("\n", 0, i) + 1) + 1


def _check_error(text, needle, at, key, words):
    """gantry check on text exits 1 and reports FILE:LINE:COL: KEY: message, located at the
    substring at of needle (the offending value), the message holding every word."""
    tmp = gwtest._mkdtemp("rlcheck")
    path = os.path.join(tmp, "gantry.json")
    with open(path, "w") as f:
        f.write(text)
    p = gwtest.run_gantry(["check", path])
    out = p.stdout + p.stderr
    assert p.returncode == 1, (p.returncode, out)
    line, col = _position(text, needle, at)
    rx = re.compile(r"^%s:(\d+):(\d+): (\S+): (.+)$" % re.escape(path), re.M)
    found = [(int(m.group(1)), int(m.group(2)), m.group(3), m.group(4)) for m in rx.finditer(out)]
    assert found, out
    match = [f for f in found if f[2] == key]
    assert match, (key, found)
    assert (match[0][0], match[0][1]) == (line, col), ((line, col), match, out)
    for w in words:
        assert w in match[0][3], (w, match[0], out)
    assert "runtime error" not in out and "Sanitizer" not in out, out


def _text(rate_limit=None, service_limits=None):
    cfg = {"listen": "127.0.0.1:%d" % gwtest.free_port(),
           "services": [{"name": "s", "prefix": "/", "targets": ["http://127.0.0.1:1"]}]}
    if rate_limit is not None:
        cfg["rate_limit"] = rate_limit
    if service_limits is not None:
        cfg["services"][0]["rate_limit"] = {"limits": service_limits}
    return json.dumps(cfg, indent=2) + "\n"


def test_gantry_check_locates_rate_limit_errors():
    t = _text(service_limits=[{"limit": 5, "period": "1m", "algorithm": "leaky"}])
    _check_error(t, '"algorithm": "leaky"', '"leaky"', "services[0].rate_limit.limits[0].algorithm",
                 ["leaky", "gcra", "sliding_window"])

    t = _text(rate_limit={"limits": [{"limit": 5, "period": "1m", "algorithm": "fixed_window",
                                      "burst": 77}]})
    _check_error(t, '"burst": 77', "77", "rate_limit.limits[0].burst", ["burst", "fixed_window"])

    t = _text(service_limits=[{"limit": 5, "period": "1m", "algorithm": "gcra", "buckets": 4}])
    _check_error(t, '"buckets": 4', "4", "services[0].rate_limit.limits[0].buckets",
                 ["sliding_window"])

    t = _text(rate_limit={"backend": "redis", "redis": {"timeout": "1s"}})
    _check_error(t, '"redis": {', "{", "rate_limit.redis", ["redis.url"])

    t = _text(rate_limit={"backend": "redis", "redis": {"url": "rediss://127.0.0.1:6380"}})
    _check_error(t, '"url": "rediss://', '"rediss://', "rate_limit.redis.url", ["rediss://", "TLS"])

    t = _text(rate_limit={"limits": [{"limit": 5, "period": "1m", "key": "cookie:x"}]})
    _check_error(t, '"key": "cookie:x"', '"cookie:x"', "rate_limit.limits[0].key", ["cookie:x"])

    # and the valid form of each passes
    ok = _text(rate_limit={"backend": "redis", "redis": {"url": "redis://127.0.0.1:6379/0"},
                           "limits": [{"limit": 5, "period": "1m", "algorithm": "gcra",
                                       "burst": 9}]},
               service_limits=[{"limit": 5, "period": "1m", "algorithm": "sliding_window",
                                "buckets": 4, "key": "header:X-Tenant"}])
    tmp = gwtest._mkdtemp("rlcheck")
    path = os.path.join(tmp, "ok.json")
    with open(path, "w") as f:
        f.write(ok)
    p = gwtest.run_gantry(["check", path])
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)


def test_status_counts_each_admitted_request_once():
    """rate_limit.allowed in /gateway/status counts admitted requests: one each, although the
    limits are decided in two passes (before authentication and, keyed by consumer, after it);
    it used to count both passes."""
    n = 4
    with Origin() as o, Gantry(config(svc("s", "/", o, [lim(10, "1m", "per-ip")]))) as g:
        for i in range(n):
            assert get(g, "/echo/%d" % i).status == 200
        get(g, "/echo/x")
        r = g.admin_request("GET", "/gateway/status")
        assert r.status == 200, r
        st = json.loads(r.body)["rate_limit"]
        assert st["allowed"] == n + 1 and st["limited"] == 0, st


if __name__ == "__main__":
    gwtest.main(globals())
