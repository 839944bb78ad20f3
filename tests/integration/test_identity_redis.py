#!/usr/bin/env python3
"""Built-in identity's revocations shared through Redis (identity.revocation.backend "redis";
README "Built-in identity", "Scaled out"): two real gantry instances and a real redis-server.
A token logged out on A is refused by B; logout-all and a refresh-token reuse (family revoked)
on A are refused by B; an instance started afterwards knows the earlier revocations (it reads
the set); with Redis killed, a logout on A is answered at once and applies on A, and once Redis
is back (empty) B refuses that token too.
"""

import json
import os
import re

import gwtest
from gwtest import Gantry, Origin, RedisServer, request

SECRET = "identity-redis-test-secret-0123456789abcdef"
PASSWORD = "correct horse battery"
SHARED = re.compile(r"identity: revocations shared through Redis at \S+")
RESYNCED = re.compile(r"identity: \d+ live revocation\(s\) read from Redis")
UNREACHABLE = re.compile(r"identity: Redis at \S+ unreachable")
KEY = "gantry:identity:revoked"


def config(origin, rs, tmp, name):
    ident = {
        "sqlite": os.path.join(tmp, name + ".db"),
        "jwt": {"kid": "id1", "secret": SECRET},
        "password": {"opslimit": 1, "memlimit": "8KiB", "min_length": 10},
        "register": {"mode": "open"},
        "revocation": {"backend": "redis"},
    }
    cfg = gwtest.simple_config(origin, prefix="/api", identity=ident)
    cfg["rate_limit"] = {"redis": {"url": rs.url(), "timeout": "1s", "backoff_min": "50ms",
                                   "backoff_max": "300ms"}}
    cfg["services"][0]["auth"] = {"methods": ["jwt"]}
    cfg["services"][0]["strip_prefix"] = True
    return cfg


def start(origin, rs, tmp, name):
    g = Gantry(config(origin, rs, tmp, name))
    # Connected, subscribed and the set read: from here on it hears every revocation.
    gwtest.wait_until(lambda: SHARED.search(g.stderr()) and RESYNCED.search(g.stderr()), 10,
                      message="revocation sharing up")
    return g


def post(g, path, body, tok=None):
    hs = {"Content-Type": "application/json"}
    if tok:
        hs["Authorization"] = "Bearer " + tok
    return request(g.port, "POST", path, headers=hs, body=json.dumps(body))


def login(g, name="alice"):
    r = post(g, "/auth/login", {"login": name, "password": PASSWORD})
    assert r.status == 200, r
    return r.json()["access_token"], r.json()["refresh_token"]


def api(g, tok):
    return request(g.port, "GET", "/api/echo/x", headers={"Authorization": "Bearer " + tok}).status


def refused_on(g, tok):
    """Waits (no timing assertion: at most 5 s) until g answers tok with 401."""
    gwtest.wait_until(lambda: api(g, tok) == 401, 5, message="token refused")


@gwtest.timeout(120)
def test_logout_on_one_instance_is_refused_by_the_others():
    tmp = gwtest._mkdtemp("idredis")
    with RedisServer() as rs, Origin() as o:
        a = start(o, rs, tmp, "a")
        b = start(o, rs, tmp, "b")
        try:
            r = post(a, "/auth/register", {"username": "alice", "email": "a@example.com",
                                           "password": PASSWORD})
            assert r.status == 201, r

            # logout (this session)
            t1, _ = login(a)
            assert api(b, t1) == 200 and api(a, t1) == 200
            assert post(a, "/auth/logout", {}, t1).status == 200
            assert api(a, t1) == 401
            refused_on(b, t1)

            # logout-all: both sessions, the one not presented too
            t2, _ = login(a)
            t3, _ = login(a)
            assert api(b, t2) == 200 and api(b, t3) == 200
            assert post(a, "/auth/logout", {"all": True}, t2).status == 200
            refused_on(b, t2)
            refused_on(b, t3)

            # refresh-token reuse: the whole family, also the access token of the new refresh
            t4, r4 = login(a)
            r = post(a, "/auth/refresh", {"refresh_token": r4})
            assert r.status == 200, r
            t5 = r.json()["access_token"]
            assert api(b, t5) == 200
            assert post(a, "/auth/refresh", {"refresh_token": r4}).status == 401
            refused_on(b, t5)
            refused_on(b, t4)

            # What Redis holds: one member per revoked jti or sid, expiring with the tokens.
            n = rs.cmd("ZCARD", KEY)
            assert n >= 5, n
            ttl = rs.cmd("TTL", KEY)
            assert 0 < ttl <= 900 + 300 + 5, ttl

            # An instance started now reads the set: it refuses the earlier revocations.
            c = start(o, rs, tmp, "c")
            try:
                for tok in (t1, t2, t3, t4, t5):
                    assert api(c, tok) == 401
                t6, _ = login(a)
                assert api(c, t6) == 200
            finally:
                c.stop()

            # Redis down: the logout is answered at once and applies on A; B keeps what it
            # knows; when Redis is back (empty) A writes what it queued and B learns it.
            t7, _ = login(a)
            assert api(b, t7) == 200
            off_a, off_b = len(a.stderr()), len(b.stderr())
            rs.kill()
            gwtest.wait_until(lambda: UNREACHABLE.search(a.stderr()[off_a:]), 10,
                              message="A's unreachable line")
            r = post(a, "/auth/logout", {}, t7)
            assert r.status == 200, r
            assert api(a, t7) == 401
            assert api(b, t1) == 401  # still known on B
            rs.start()
            gwtest.wait_until(lambda: SHARED.search(a.stderr()[off_a:]), 10,
                              message="A back on Redis")
            refused_on(b, t7)
            assert rs.cmd("ZCARD", KEY) >= 1
            log = a.stderr()[off_a:]
            assert len(UNREACHABLE.findall(log)) == 1, log
            assert len(UNREACHABLE.findall(b.stderr()[off_b:])) <= 1
        finally:
            a.stop()
            b.stop()


if __name__ == "__main__":
    gwtest.main(globals())
