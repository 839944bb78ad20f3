#!/usr/bin/env python3
"""Login throttling through the gateway's rate limiter (identity.throttle; README "Built-in
identity"): login attempts per account and per client address, right or wrong, counted before
any password work, answered 429 with Retry-After past the limit, the same for an unknown user;
in-process with rate_limit's local backend, and with the Redis backend shared by two gantry
instances (attempts on A and on B add up), falling back to in-process counters while Redis is
down. The lockout after repeated failures stays as before.
"""

import json
import os

import gwtest
from gwtest import Gantry, Origin, RedisServer, request
from test_identity import PASSWORD, config, login, register


def throttled_config(o, tmp, rs=None, account=3, address=1000, name="id"):
    cfg = config(o, tmp, throttle={"account": {"limit": account, "period": "1h"},
                                   "address": {"limit": address, "period": "1h"}},
                 sqlite=os.path.join(tmp, name + ".db"))
    if rs is not None:
        cfg["rate_limit"] = {"backend": "redis",
                             "redis": {"url": rs.url(), "timeout": "1s", "backoff_min": "50ms",
                                       "backoff_max": "300ms"}}
    return cfg


def test_account_and_address_limits_in_process():
    tmp = gwtest._mkdtemp("idthrottle")
    with Origin() as o, Gantry(throttled_config(o, tmp, account=3, address=5)) as g:
        assert register(g, "alice").status == 201
        assert register(g, "bob").status == 201
        assert login(g, "alice").status == 200
        assert login(g, "alice", "wrong password!").status == 401
        assert login(g, "ALICE").status == 200  # the same account, folded
        r = login(g, "alice")  # the fourth attempt within the hour: refused, even when right
        assert r.status == 429, r
        assert int(r.header("Retry-After")) > 0
        assert "login attempts" in r.json()["reason"], r.body
        assert login(g, "bob").status == 200  # another account: its own count
        # An unknown account is throttled the same way (the same answer as for a known one).
        assert login(g, "nobody").status == 401
        # The address: 5 attempts in all (alice 3 counted, bob 1, nobody 1): the next is refused
        # whatever the account.
        r = login(g, "carol")
        assert r.status == 429, r
        # A bad body is not counted, and still gets its 400.
        r = request(g.port, "POST", "/auth/login", headers={"Content-Type": "application/json"},
                    body="{}")
        assert r.status == 400, r


def test_username_and_email_count_for_one_account():
    tmp = gwtest._mkdtemp("idthrottle")
    with Origin() as o, Gantry(throttled_config(o, tmp, account=3)) as g:
        assert register(g, "alice").status == 201
        assert login(g, "alice").status == 200
        assert login(g, "alice@example.com").status == 200
        assert login(g, "Alice@Example.com", "wrong password!").status == 401
        for name in ("alice", "alice@example.com"):  # three attempts for the account: no more
            r = login(g, name)
            assert r.status == 429, (name, r)
        # An unknown login counts as typed: its email-looking spelling is another key.
        for i in range(3):
            assert login(g, "nobody").status == 401
        assert login(g, "nobody").status == 429
        assert login(g, "nobody@example.com").status == 401


@gwtest.timeout(120)
def test_counted_in_redis_across_instances_and_local_while_redis_is_down():
    tmp = gwtest._mkdtemp("idthrottle")
    with RedisServer() as rs, Origin() as o:
        a = Gantry(throttled_config(o, tmp, rs, account=4, name="a"))
        b = Gantry(throttled_config(o, tmp, rs, account=4, name="b"))
        try:
            for g in (a, b):
                assert register(g, "dora").status == 201
            # The limiter's Redis client connects in the background: wait until a decision has
            # been counted there (a key of the limiter's prefix exists).
            assert login(a, "dora").status == 200
            gwtest.wait_until(lambda: rs.cmd("KEYS", "gantry:rl:identity:*"), 10,
                              message="throttle counted in Redis")
            keys = rs.cmd("KEYS", "gantry:rl:identity:*")
            assert b"gantry:rl:identity:account:dora" in keys, keys
            assert login(b, "dora@example.com").status == 200  # the account, by its email
            assert login(a, "DORA@example.com").status == 200
            assert login(b, "dora").status == 200
            # Four attempts over both instances: the fifth is refused on either, by any name.
            assert login(a, "dora").status == 429
            assert login(b, "dora@example.com").status == 429
            keys = rs.cmd("KEYS", "gantry:rl:identity:account:*")
            assert keys == [b"gantry:rl:identity:account:dora"], keys
            rs.kill()
            # Redis down: the in-process counters take over (this instance's attempts only).
            r = login(a, "erin")
            assert r.status == 401, r
        finally:
            a.__exit__(None, None, None)
            b.__exit__(None, None, None)


if __name__ == "__main__":
    gwtest.main(globals())
