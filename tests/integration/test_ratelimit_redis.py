#!/usr/bin/env python3
"""Rate limiting with the Redis backend (issue 6), through the real binary and a real
redis-server started on a free loopback port (gwtest.RedisServer).

- Three gantry instances share one limit through Redis: a fixed window admits exactly its
  limit across them; GCRA driven faster than its rate admits burst + rate x time (within 2%,
  the bounds computed from the clients' own timestamps); with local_share (pre-allowance) the
  total stays at most the limit and at least the lower bound of state/ratelimit_redis.h.
- Redis killed (SIGKILL) under load, once per failure_policy: fail_open admits, fail_closed
  answers 503 JSON, local decides with in-process counters; no request hangs; one log line
  when Redis goes, one when it is back, and then Redis decides again.
- Keys live under key_prefix with an expiry; a flushed script cache (NOSCRIPT) changes no
  decision.

Limits use key header:X-Tenant so that a test chooses its counters. Skipped when redis-server
is not installed.
"""

import re
import threading
import time

import gwtest
from gwtest import Gantry, Origin, RedisServer, assert_json_error, request

LONG = "240h"  # a fixed window this long is not crossed during a test

UNREACHABLE = re.compile(r"rate limit: redis \S+ unreachable")
BACK = re.compile(r"rate limit: redis \S+ is back")
CONNECTED = re.compile(r"rate limit: redis \S+ connected")


# ---- helpers ------------------------------------------------------------------------------------


def config(origin, rs, limits, workers=1, **redis):
    r = {"url": rs.url(), "timeout": "1s", "backoff_min": "50ms", "backoff_max": "300ms"}
    r.update(redis)
    return {
        "workers": workers,
        "log": {"access": "off"},
        "rate_limit": {"backend": "redis", "redis": r},
        "services": [{"name": "api", "prefix": "/echo", "targets": [origin.target()],
                      "rate_limit": {"limits": limits}}],
    }


def lim(name, limit, period, **extra):
    return dict({"name": name, "limit": limit, "period": period, "key": "header:X-Tenant"},
                **extra)


def rl_status(g):
    r = g.admin_request("GET", "/gateway/status")
    assert r.status == 200, r
    return r.json()["rate_limit"]


def wait_redis_up(g, timeout=10):
    """Until every worker's Redis client is connected and set up."""
    def up():
        st = rl_status(g)["redis"]
        return st["up"] and st["clients_up"] == st["clients"] and st["clients"] >= 1
    gwtest.wait_until(up, timeout, message="redis clients up")


def tenant(g, name, extra=None):
    return request(g.port, "GET", "/echo/t", headers=[("X-Tenant", name)] + list(extra or []))


def tenant_statuses(g, name, n):
    return [tenant(g, name).status for _ in range(n)]


class Drive:
    """threads threads per gantry, each sending requests (one connection each) with tenant
    `key` until it sent `count` of them (or, with count None, until stopped). Records
    (status, send time, receive time, gantry index) for each, or the exception.

    warm: each thread first sends requests for another tenant (key + "-warm"), and the
    recorded ones start together once every thread is sending, so a limit's first decisions
    do not wait for threads and connections to start. until_refused: once stopped, every
    thread goes on until a request sent after the stop was refused (429; at most 10 s more),
    so that the limit had nothing left at that decision, with the demand as high as before
    (threads that stopped one by one would let the bucket fill)."""

    def __init__(self, gantries, key, threads=2, count=None, key_fn=None, warm=False,
                 until_refused=False):
        self.gantries = gantries
        self.key = key
        self.key_fn = key_fn
        self.count = count
        self.until_refused = until_refused
        self.stop_flag = threading.Event()
        self.go = threading.Event()
        self.refused_after_stop = threading.Event()
        self.warmed = 0
        self.lock = threading.Lock()
        self.results = []
        self.errors = []
        self.seq = 0
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(len(gantries)) for _ in range(threads)]
        if not warm:
            self.go.set()

    def _next_key(self):
        if self.key_fn is None:
            return self.key
        with self.lock:
            self.seq += 1
            return self.key_fn(self.seq)

    def _warm_up(self, g):
        counted = False
        while not self.go.is_set() and not self.stop_flag.is_set():
            try:
                request(g.port, "GET", "/echo/w", headers=[("X-Tenant", self.key + "-warm")],
                        timeout=10)
            except Exception as e:
                with self.lock:
                    self.errors.append("warm-up: " + repr(e))
                return
            if not counted:
                counted = True
                with self.lock:
                    self.warmed += 1

    def _stopping(self):
        if not self.stop_flag.is_set():
            return False
        if not self.until_refused or self.refused_after_stop.is_set():
            return True
        return time.monotonic() > self.stopped_at + 10

    def _run(self, index):
        g = self.gantries[index]
        self._warm_up(g)
        sent = 0
        while not self._stopping() and (self.count is None or sent < self.count):
            sent += 1
            after_stop = self.stop_flag.is_set()
            t0 = time.monotonic()
            try:
                r = request(g.port, "GET", "/echo/d", headers=[("X-Tenant", self._next_key())],
                            timeout=10)
                t1 = time.monotonic()
                if after_stop and r.status == 429:
                    self.refused_after_stop.set()
                with self.lock:
                    self.results.append((r.status, t0, t1, index, r))
            except Exception as e:
                with self.lock:
                    self.errors.append(repr(e))

    def statuses(self, since=0.0):
        with self.lock:
            return [s for s, t0, _, _, _ in self.results if t0 >= since]

    def __len__(self):
        with self.lock:
            return len(self.results)

    def __enter__(self):
        for t in self.threads:
            t.start()
        if not self.go.is_set():
            gwtest.wait_until(lambda: self.warmed == len(self.threads) or self.errors, 20,
                              message="every load thread sending")
            self.go.set()
        return self

    def join(self, timeout=60):
        for t in self.threads:
            t.join(timeout)
        assert not any(t.is_alive() for t in self.threads), "load threads still running"

    def stop(self):
        self.stopped_at = time.monotonic()
        self.stop_flag.set()

    def __exit__(self, *exc):
        self.stop()
        self.go.set()
        self.join()


def start_gantries(n, cfg):
    gs = [Gantry(cfg) for _ in range(n)]
    for g in gs:
        wait_redis_up(g)
    return gs


# ---- shared limits ---------------------------------------------------------------------------


@gwtest.timeout(90)
def test_three_instances_share_a_fixed_window_exactly():
    limit = 300
    with RedisServer() as rs, Origin() as o:
        cfg = config(o, rs, [lim("shared", limit, LONG, algorithm="fixed_window")],
                     failure_policy="fail_closed")
        gs = start_gantries(3, cfg)
        with Drive(gs, "fw", threads=2, count=110) as d:
            d.join()
        assert not d.errors, d.errors[:5]
        st = d.statuses()
        assert len(st) == 660 and set(st) <= {200, 429}, sorted(set(st))
        admitted = st.count(200)
        assert admitted == limit, admitted
        per_instance = [sum(1 for s, _, _, i, _ in d.results if s == 200 and i == k)
                        for k in range(3)]
        assert all(n > 0 for n in per_instance), per_instance
        assert o.stats()["requests"] == limit
        for g in gs:
            red = rl_status(g)["redis"]
            assert red["fallbacks"] == 0 and red["failed_closed"] == 0, red
            assert red["decisions"] == 220 and red["local_decisions"] == 0, red
        for g in gs:
            g.stop()


@gwtest.timeout(90)
def test_three_instances_share_a_gcra_rate_within_two_percent():
    # 50/s: the six client threads must keep demand above the rate even on a loaded machine
    # running the sanitizer build (at 100/s a busy CI machine sometimes could not, and then
    # fewer tokens than the bounds assume were taken).
    # 6 s: the first and last decisions are known to within a round trip each, and a loaded
    # machine's round trips (once about 80 ms) must stay small against 2% of the tokens.
    # Burst 150, 3 s of the rate: a pause of the demand costs no token (the bucket refills
    # and the demand takes the refill after it) unless the bucket overflows, i.e. unless no
    # request at all reaches Redis for 3 s; with burst 50 a loaded machine (load average 18)
    # that stalled the clients for 1.1 s lost 5 tokens, under the lower bound.
    rate, burst, seconds = 50, 150, 6.0
    with RedisServer() as rs, Origin() as o:
        cfg = config(o, rs, [lim("rate", rate, "1s", burst=burst)],
                     failure_policy="fail_closed")
        gs = start_gantries(3, cfg)
        # warm: the first decisions come from threads already sending, not from threads and
        # connections still starting (tokens not taken while the bucket is full are lost).
        # until_refused: the load goes on after the stop until a request sent after it was
        # refused, so no token was left then (a stall of the machine just before the stop
        # used to leave the tokens it let accumulate untaken: 345 admitted against a lower
        # bound of 356.6).
        with Drive(gs, "gcra", threads=2, warm=True, until_refused=True) as d:
            gwtest.wait_until(lambda: d.results and
                              time.monotonic() - d.results[0][1] >= seconds, seconds + 10)
        assert not d.errors, d.errors[:5]
        res = list(d.results)
        assert {s for s, _, _, _, _ in res} <= {200, 429}, {s for s, _, _, _, _ in res}
        admitted = sum(1 for s, _, _, _, _ in res if s == 200)
        first_send = min(t0 for _, t0, _, _, _ in res)
        first_recv = min(t1 for _, _, t1, _, _ in res)
        last_send = max(t0 for _, t0, _, _, _ in res)
        last_recv = max(t1 for _, _, t1, _, _ in res)
        assert d.refused_after_stop.is_set(), "no request refused after the stop"
        # Demand stays above the rate (checked: far more refused than admitted), so every
        # token is taken: burst + rate x (time between the first and last decisions), and
        # those decisions happened between the send and receive times.
        refused = len(res) - admitted
        assert refused > admitted, (admitted, refused)
        upper = burst + rate * (last_recv - first_send) + 1
        lower = burst + rate * (last_send - first_recv) - 2
        expected = burst + rate * ((last_send + last_recv) / 2 - (first_send + first_recv) / 2)
        assert lower <= admitted <= upper, (lower, admitted, upper)
        assert abs(admitted - expected) <= 0.02 * expected, (admitted, expected)
        for g in gs:
            assert rl_status(g)["redis"]["fallbacks"] == 0
            g.stop()


@gwtest.timeout(90)
def test_local_share_never_admits_more_than_the_limit():
    limit, share, instances = 300, 10, 3
    with RedisServer() as rs, Origin() as o:
        cfg = config(o, rs, [lim("leased", limit, LONG, algorithm="fixed_window")],
                     failure_policy="fail_closed", local_share=share)
        gs = start_gantries(instances, cfg)
        with Drive(gs, "ls", threads=2, count=110) as d:
            d.join()
        assert not d.errors, d.errors[:5]
        st = d.statuses()
        assert set(st) <= {200, 429}, sorted(set(st))
        admitted = st.count(200)
        # ratelimit_redis.h: never more than Redis counted; under by at most local_share - 1
        # per key, client (one per worker, one worker per instance) and lease.
        assert limit - instances * (share - 1) <= admitted <= limit, admitted
        assert o.stats()["requests"] == admitted
        local = calls = decisions = 0
        for g in gs:
            red = rl_status(g)["redis"]
            assert red["fallbacks"] == 0 and red["failed_closed"] == 0, red
            local += red["local_decisions"]
            calls += red["calls"]
            decisions += red["decisions"]
        assert local > 0 and calls < decisions, (local, calls, decisions)
        for g in gs:
            g.stop()


# ---- Redis killed under load --------------------------------------------------------------------


def _outage(policy, workers, during):
    """Redis answers (5 per hour for tenant "p": 5 admitted, then 429), is SIGKILLed under a
    load of fresh tenants, stays down about 1 s (during(g, load, t_kill) checks the policy),
    comes back on the same port empty: then tenant "p" is decided by Redis again (5 admitted,
    then 429). Each request answers within 2 s; the log has one line per change."""
    with RedisServer() as rs, Origin() as o:
        cfg = config(o, rs, [lim("per-tenant", 5, "1h")], workers=workers,
                     failure_policy=policy)
        with Gantry(cfg) as g:
            wait_redis_up(g)
            assert tenant_statuses(g, "p", 6) == [200] * 5 + [429]
            assert rs.cmd("EXISTS", "gantry:rl:api:per-tenant:h:p") == 1, rs.cmd("KEYS", "*")
            with Drive([g], None, threads=2, key_fn=lambda n: "load-%d" % n) as load:
                gwtest.wait_until(lambda: len(load) >= 20, 10)
                assert set(load.statuses()) == {200}, set(load.statuses())
                offset = len(g.stderr())
                rs.kill()
                t_kill = time.monotonic()
                gwtest.wait_until(lambda: UNREACHABLE.search(g.stderr()[offset:]), 5,
                                  message="the unreachable line")
                during(g, load, t_kill)
                # Let the outage last: several reconnect attempts (backoff 50-300 ms) fail.
                n = len(load)
                gwtest.wait_until(lambda: time.monotonic() - t_kill > 1.2 and len(load) > n + 10,
                                  10)
                rs.start()
                gwtest.wait_until(lambda: BACK.search(g.stderr()[offset:]), 10,
                                  message="the is-back line")
                wait_redis_up(g)
                n = len(load)
                gwtest.wait_until(lambda: len(load) > n + 10, 10)
            assert not load.errors, load.errors[:5]
            slow = [(s, t1 - t0) for s, t0, t1, _, _ in load.results if t1 - t0 >= 2.0]
            assert not slow, slow[:5]
            # Redis decides again: it lost its counters, so "p" starts afresh (neither the
            # failure policy's answer nor the in-process counters).
            assert tenant_statuses(g, "p", 6) == [200] * 5 + [429]
            assert rs.cmd("EXISTS", "gantry:rl:api:per-tenant:h:p") == 1, rs.cmd("KEYS", "*")
            log = g.stderr()[offset:]
            assert len(UNREACHABLE.findall(log)) == 1, log
            assert len(BACK.findall(log)) == 1, log
            assert len(CONNECTED.findall(g.stderr())) == 1, g.stderr()
            red = rl_status(g)["redis"]
            assert red["up"] and red["state_changes"] == 3, red  # connected, down, back
    return red


def test_redis_down_fail_open_admits_without_hanging():
    def during(g, load, t_kill):
        t = time.monotonic()
        # Redis had refused "p"; now every request is admitted, at once.
        assert tenant_statuses(g, "p", 3) == [200] * 3
        assert time.monotonic() - t < 2.0
        n = len(load)
        gwtest.wait_until(lambda: len(load) > n + 10, 10)
        assert set(load.statuses()) == {200}, set(load.statuses())

    red = _outage("fail_open", 2, during)
    assert red["fallbacks"] > 0 and red["failed_closed"] == 0, red


def test_redis_down_fail_closed_answers_503_json():
    def during(g, load, t_kill):
        for _ in range(3):
            r = tenant(g, "fresh")
            body = assert_json_error(r, 503)
            assert body["error"] == "rate limit backend unavailable", body
        t_line = time.monotonic()
        n = len(load)
        gwtest.wait_until(lambda: len(load) > n + 10, 10)
        after = load.statuses(since=t_line)
        assert after and set(after) == {503}, set(after)

    red = _outage("fail_closed", 1, during)
    assert red["failed_closed"] > 0, red


def test_redis_down_local_policy_uses_in_process_counters():
    def during(g, load, t_kill):
        # In-process counters start empty: "p" (refused by Redis) gets 5, then 429.
        got = tenant_statuses(g, "p", 7)
        assert got == [200] * 5 + [429, 429], got
        assert_json_error(tenant(g, "p"), 429)
        n = len(load)
        gwtest.wait_until(lambda: len(load) > n + 10, 10)
        assert set(load.statuses()) == {200}, set(load.statuses())

    red = _outage("local", 1, during)
    assert red["fallbacks"] > 0, red


# ---- keys and scripts -------------------------------------------------------------------------


def test_keys_live_under_the_prefix_and_noscript_changes_nothing():
    with RedisServer() as rs, Origin() as o:
        cfg = config(o, rs, [lim("per-tenant", 5, "1h")], key_prefix="itest:rl:")
        cfg["rate_limit"]["limits"] = [{"name": "g", "limit": 1000, "period": "1h",
                                        "key": "global"}]
        with Gantry(cfg) as g:
            wait_redis_up(g)
            assert tenant_statuses(g, "acme", 2) == [200, 200]
            keys = sorted(k.decode() for k in rs.cmd("KEYS", "*"))
            assert all(k.startswith("itest:rl:") for k in keys), keys
            assert "itest:rl:api:per-tenant:h:acme" in keys, keys
            assert "itest:rl:@gateway:g:all:*" in keys, keys
            for k in keys:
                ttl = rs.cmd("PTTL", k)
                assert 0 < ttl <= 3600 * 1000, (k, ttl)

            # The script cache flushed: the next call gets NOSCRIPT and must still decide.
            assert rs.cmd("SCRIPT", "FLUSH") == b"OK"
            rem = []
            for _ in range(3):
                r = tenant(g, "acme")
                assert r.status == 200, r
                rem.append(int(r.header("RateLimit-Remaining")))
            assert rem == [2, 1, 0], rem
            assert_json_error(tenant(g, "acme"), 429)
            red = rl_status(g)["redis"]
            assert red["noscript_reloads"] >= 1 and red["fallbacks"] == 0, red
            assert red["errors"] == 0 and red["unavailable"] == 0, red
            assert not UNREACHABLE.search(g.stderr()), g.stderr()

            # Another gateway with another prefix on the same Redis counts apart.
            cfg2 = config(o, rs, [lim("per-tenant", 5, "1h")], key_prefix="other:")
            with Gantry(cfg2) as g2:
                wait_redis_up(g2)
                assert tenant(g2, "acme").status == 200
            assert "other:api:per-tenant:h:acme" in [k.decode() for k in rs.cmd("KEYS", "*")]

            # Counters are Redis's: flushing them gives the tenant a full allowance again.
            assert rs.cmd("FLUSHALL") == b"OK"
            assert tenant_statuses(g, "acme", 6) == [200] * 5 + [429]


if __name__ == "__main__":
    gwtest.main(globals())
