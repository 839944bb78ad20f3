#!/usr/bin/env python3
"""identity.revocation.failure_policy (README "Built-in identity", "Scaled out: Redis for
revocations"): what a token check does while an instance's revoked set is not in sync with Redis.
A real redis-server is killed and started again mid-test, under two real gantry instances
sharing it: A with failure_policy fail_closed, B with the default (local).

- A revocation that reaches Redis without being heard (written into the set, not published:
  what another instance revokes while this one is cut off) is learnt when the set is read
  again after the reconnect: both instances refuse the token afterwards, neither before.
- Redis down: A answers identity's tokens 503 (the error table's "token revocations
  unavailable", Retry-After: 1), its own `me` endpoint too, but logout still works; B keeps
  answering from its set (its own revocations refused, the rest accepted). Tokens of another
  issuer (an auth.jwt key) are never affected. One log line per change; the metrics count the
  checks made meanwhile.
- An instance with fail_closed started while Redis is down answers 503 until it has read the
  set.
"""

import base64
import json
import os
import re

import gwtest
from gwtest import Gantry, Origin, RedisServer, request
from gwtest.jose import hs_token

SECRET = "identity-revocation-policy-secret-0123456789"
OTHER_SECRET = "another-issuer-secret-0123456789abcdefghij"
PASSWORD = "correct horse battery"
KEY = "gantry:identity:revoked"
IN_SYNC = re.compile(r"identity: revocations in sync with Redis: tokens are checked again")
REFUSING = re.compile(r"identity: tokens issued here are answered 503 until the revocations "
                      r"are read from Redis again")
UNREACHABLE = re.compile(r"identity: Redis at \S+ unreachable")
RESYNCED = re.compile(r"identity: \d+ live revocation\(s\) read from Redis")


def config(origin, rs, tmp, name, policy=None):
    ident = {
        "sqlite": os.path.join(tmp, name + ".db"),
        "jwt": {"kid": "id1", "secret": SECRET},
        "password": {"opslimit": 1, "memlimit": "8KiB", "min_length": 10},
        "register": {"mode": "open"},
        "revocation": {"backend": "redis"},
    }
    if policy:
        ident["revocation"]["failure_policy"] = policy
    cfg = gwtest.simple_config(origin, prefix="/api", identity=ident)
    cfg["admin"] = {"listen": "127.0.0.1:%d" % gwtest.free_port()}
    cfg["rate_limit"] = {"redis": {"url": rs.url(), "timeout": "1s", "backoff_min": "50ms",
                                   "backoff_max": "300ms"}}
    # auth.jwt: a key of another issuer, beside identity's own
    cfg["auth"] = {"jwt": {"keys": [{"kid": "other", "alg": "HS256", "secret": OTHER_SECRET}]}}
    cfg["services"][0]["auth"] = {"methods": ["jwt"]}
    cfg["services"][0]["strip_prefix"] = True
    return cfg


def post(g, path, body, tok=None):
    hs = {"Content-Type": "application/json"}
    if tok:
        hs["Authorization"] = "Bearer " + tok
    return request(g.port, "POST", path, headers=hs, body=json.dumps(body))


def login(g):
    r = post(g, "/auth/login", {"login": "alice", "password": PASSWORD})
    assert r.status == 200, r
    return r.json()["access_token"]


def api(g, tok):
    return request(g.port, "GET", "/api/echo/x", headers={"Authorization": "Bearer " + tok})


def me(g, tok):
    return request(g.port, "GET", "/auth/me", headers={"Authorization": "Bearer " + tok})


def member(tok, claim):
    """The Redis member of a token's claim: FNV-1a 64 of its value, 16 hex digits (0 -> 1)."""
    seg = tok.split(".")[1]
    value = json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))[claim]
    h = 0xcbf29ce484222325
    for c in value.encode():
        h = ((h ^ c) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % (h or 1), json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))


def metric(g, name, labels=""):
    body = g.admin_request("GET", "/metrics").body.decode()
    m = re.search(r"^%s%s (\d+)$" % (re.escape(name), re.escape(labels)), body, re.M)
    return int(m.group(1)) if m else None


def wait_log(g, pattern, offset, message):
    gwtest.wait_until(lambda: pattern.search(g.stderr()[offset:]), 10, message=message)


@gwtest.timeout(180)
def test_redis_down_local_and_fail_closed():
    tmp = gwtest._mkdtemp("idrevpol")
    with RedisServer() as rs, Origin() as o:
        a = Gantry(config(o, rs, tmp, "a", "fail_closed"))
        b = Gantry(config(o, rs, tmp, "b"))
        c = None
        try:
            wait_log(a, IN_SYNC, 0, "A in sync")
            gwtest.wait_until(lambda: RESYNCED.search(b.stderr()), 10, message="B read the set")
            assert metric(a, "gantry_revocations_redis_synced") == 1
            r = post(a, "/auth/register", {"username": "alice", "email": "a@example.com",
                                           "password": PASSWORD})
            assert r.status == 201, r
            t1, t2, t3 = login(a), login(a), login(a)
            foreign = hs_token(OTHER_SECRET, {"sub": "svc", "exp": 4102444800, "jti": "x"},
                               kid="other")
            for g in (a, b):
                assert api(g, t1).status == 200
                assert api(g, foreign).status == 200

            # A revocation that reaches Redis unheard (no PUBLISH), as one made elsewhere while
            # these instances were cut off: nobody knows it yet; the snapshot keeps it.
            m1, claims1 = member(t1, "sid")
            rs.cmd("ZADD", KEY, claims1["exp"] + 300, m1)
            rs.cmd("SAVE")
            assert api(a, t1).status == 200 and api(b, t1).status == 200

            off_a, off_b = len(a.stderr()), len(b.stderr())
            rs.kill()
            wait_log(a, UNREACHABLE, off_a, "A's unreachable line")
            wait_log(a, REFUSING, off_a, "A's 503 line")
            wait_log(b, UNREACHABLE, off_b, "B's unreachable line")

            # fail_closed: identity's tokens 503, the JSON from the error table.
            r = api(a, t2)
            assert r.status == 503, r
            assert r.json()["error"] == "token revocations unavailable", r.body
            assert "revoked" in r.json()["reason"], r.body
            assert r.header("Retry-After") == "1", r.headers
            assert me(a, t2).status == 503
            assert api(a, foreign).status == 200  # another issuer's token: not affected
            # Logout still goes through (it only revokes more), and applies on A at once.
            r = post(a, "/auth/logout", {}, t3)
            assert r.status == 200, r
            # local (B): answers from what it holds; t3's logout was not heard (Redis is down).
            assert api(b, t2).status == 200
            assert api(b, t1).status == 200
            assert api(b, t3).status == 200
            assert api(b, foreign).status == 200
            assert metric(a, "gantry_revocations_redis_synced") == 0
            assert metric(a, "gantry_revocations_redis_fallbacks_total",
                          '{outcome="refused"}') >= 1
            assert metric(b, "gantry_revocations_redis_fallbacks_total",
                          '{outcome="local"}') >= 3

            # An instance started with fail_closed while Redis is down: 503 until it read the set.
            c = Gantry(config(o, rs, tmp, "c", "fail_closed"))
            assert api(c, t2).status == 503

            # Redis back (with the snapshot): every instance reads the set again and refuses
            # t1; A shares t3's logout; fail_closed answers again.
            off_a = len(a.stderr())
            rs.start()
            wait_log(a, IN_SYNC, off_a, "A in sync again")
            assert api(a, t1).status == 401
            assert api(a, t3).status == 401
            assert api(a, t2).status == 200
            gwtest.wait_until(lambda: api(b, t1).status == 401, 10, message="B learnt t1")
            gwtest.wait_until(lambda: api(b, t3).status == 401, 10, message="B learnt t3")
            assert api(b, t2).status == 200
            wait_log(c, IN_SYNC, 0, "C in sync")
            assert api(c, t1).status == 401  # in the set it read
            # t3: in that read, or published by A a moment later (whichever came first)
            gwtest.wait_until(lambda: api(c, t3).status == 401, 10, message="C learnt t3")
            assert api(c, t2).status == 200
            assert metric(a, "gantry_revocations_redis_synced") == 1

            # One line per change of state.
            log = a.stderr()
            assert len(UNREACHABLE.findall(log)) == 1, log
            assert len(REFUSING.findall(log)) == 1, log
            assert len(IN_SYNC.findall(log)) == 2, log
            assert not REFUSING.search(b.stderr()) and not IN_SYNC.search(b.stderr())
        finally:
            for g in (a, b, c):
                if g is not None:
                    g.stop()


if __name__ == "__main__":
    gwtest.main(globals())
