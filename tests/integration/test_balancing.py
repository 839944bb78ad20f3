#!/usr/bin/env python3
"""Load-balancing strategies through the real binary: each service's `load_balancer` picks
the target, and the origin's X-Origin-Port header says which one answered."""
import collections

import gwtest
from gwtest import Gantry, Origin, request


def _config(origins, lb, weights=None):
    targets = []
    for i, o in enumerate(origins):
        t = {"url": "http://127.0.0.1:%d" % o.port}
        if weights:
            t["weight"] = weights[i]
        targets.append(t)
    cfg = gwtest.simple_config(*targets)
    cfg["services"][0]["load_balancer"] = lb
    cfg["log"] = {"access": "off"}
    return cfg


def _count(g, n, headers=None):
    seen = collections.Counter()
    for _ in range(n):
        r = request(g.port, "GET", "/echo/x", headers=headers)
        assert r.status == 200, r
        seen[r.header("X-Origin-Port")] += 1
    return seen


def test_weighted_round_robin_follows_weights_and_interleaves():
    with Origin() as a, Origin() as b:
        cfg = _config([a, b], {"strategy": "weighted_round_robin"}, weights=[1, 3])
        with Gantry(cfg) as g:
            order = [request(g.port, "GET", "/echo/x").header("X-Origin-Port") for _ in range(40)]
            seen = collections.Counter(order)
            assert seen[str(a.port)] == 10 and seen[str(b.port)] == 30, seen
            # smooth: the light target never waits more than 3 picks in a row of the heavy one
            runs = "".join("a" if p == str(a.port) else "b" for p in order)
            assert "bbbb" not in runs, runs


def test_round_robin_alternates():
    with Origin() as a, Origin() as b:
        with Gantry(_config([a, b], {"strategy": "round_robin"})) as g:
            seen = _count(g, 20)
            assert seen[str(a.port)] == 10 and seen[str(b.port)] == 10, seen


def test_consistent_hash_on_a_header_keeps_a_key_on_one_target():
    with Origin() as a, Origin() as b, Origin() as c:
        lb = {"strategy": "consistent_hash", "hash_key": "header:X-User"}
        with Gantry(_config([a, b, c], lb)) as g:
            used = set()
            for user in ("alice", "bob", "carol", "dave", "erin", "frank"):
                seen = _count(g, 5, headers={"X-User": user})
                assert len(seen) == 1, (user, seen)  # every request of a user: one target
                used |= set(seen)
            assert len(used) >= 2, used  # and different users spread


def test_sticky_cookie_is_set_then_honoured():
    with Origin() as a, Origin() as b:
        lb = {"strategy": "round_robin", "sticky_cookie": "gw_sticky"}
        with Gantry(_config([a, b], lb)) as g:
            first = request(g.port, "GET", "/echo/x")
            cookie = first.header("Set-Cookie")
            assert cookie and cookie.startswith("gw_sticky="), first.headers
            value = cookie.split(";")[0]
            port = first.header("X-Origin-Port")
            for _ in range(10):
                r = request(g.port, "GET", "/echo/x", headers={"Cookie": "a=1; " + value})
                assert r.header("X-Origin-Port") == port
                assert r.header("Set-Cookie") is None  # already stuck: no new cookie


def test_dead_target_is_skipped_by_every_strategy():
    dead = gwtest.free_port()
    for strategy in ("round_robin", "weighted_round_robin", "random", "least_connections",
                     "ip_hash", "consistent_hash", "p2c_ewma"):
        with Origin() as a:
            cfg = _config([a], {"strategy": strategy})
            cfg["services"][0]["targets"].append({"url": "http://127.0.0.1:%d" % dead})
            with Gantry(cfg) as g:
                seen = _count(g, 10)
                assert seen == {str(a.port): 10}, (strategy, seen)


if __name__ == "__main__":
    gwtest.main(globals())
