#!/usr/bin/env python3
"""Per-route cache settings and methods through the real binary against a real origin
(docs/config.md services[].cache.rules, .methods): the rule with the longest matching prefix
overrides the service's ttl, max_object_size and methods, or turns the cache off for its
requests; "methods": ["GET"] sends a HEAD upstream instead of answering it from a stored GET.
"""
import gwtest
from gwtest import Gantry, Origin, request


def origin_hits(o, path):
    return o.stats()["by_path"].get(path, 0)


def test_route_rules():
    cache = {
        "ttl": "0",  # responses without freshness information are not stored...
        "rules": [
            # ...except under /bytes/ (the rule's ttl)
            {"match": {"prefix": "/bytes"}, "ttl": "1m"},
            {"match": {"prefix": "/echo"}, "enabled": False},
            {"match": {"prefix": "/echo/keep"}, "ttl": "1m"},  # longer prefix: cached again
            {"match": {"prefix": "/chunked"}, "ttl": "1m", "max_object_size": "100"},
        ],
    }
    c = gwtest.simple_config(o := Origin().__enter__())
    c["services"][0]["cache"] = cache
    try:
        with Gantry(c) as g:
            # the rule's ttl stores what the service's would not
            for i in range(2):
                r = request(g.port, "GET", "/bytes/7")
                assert r.header("X-Cache") == ("MISS", "HIT")[i], r
            assert origin_hits(o, "/bytes/7") == 1
            # outside every rule: the service's ttl 0
            for i in range(2):
                r = request(g.port, "GET", "/status/200")
                assert r.header("X-Cache") == "MISS", r
                assert "detail=no-freshness" in r.header("Cache-Status"), r
            # a rule that turns the cache off: no cache headers, every request upstream
            for i in range(2):
                r = request(g.port, "GET", "/echo/x?h=Cache-Control:max-age%3D60")
                assert r.status == 200 and r.header("X-Cache") is None, r
                assert r.header("Cache-Status") is None, r
            assert origin_hits(o, "/echo/x") == 2
            # the longest matching prefix wins
            for i in range(2):
                r = request(g.port, "GET", "/echo/keep/y")
                assert r.header("X-Cache") == ("MISS", "HIT")[i], r
            # the rule's max_object_size
            # (chunked: the size is known only at the end, after the head said "stored")
            for i in range(2):
                assert request(g.port, "GET", "/chunked/101").header("X-Cache") == "MISS"
                r = request(g.port, "GET", "/chunked/100")
                assert r.header("X-Cache") == ("MISS", "HIT")[i], r
            assert origin_hits(o, "/chunked/101") == 2
    finally:
        o.__exit__(None, None, None)


def test_methods_get_only():
    c = gwtest.simple_config(o := Origin().__enter__())
    c["services"][0]["cache"] = {
        "ttl": "1m",
        "methods": ["GET"],
        "rules": [{"match": {"prefix": "/chunked"}, "methods": ["GET", "HEAD"]}],
    }
    try:
        with Gantry(c) as g:
            assert request(g.port, "GET", "/bytes/9").header("X-Cache") == "MISS"
            assert request(g.port, "GET", "/bytes/9").header("X-Cache") == "HIT"
            h = request(g.port, "HEAD", "/bytes/9")
            assert h.status == 200 and h.header("X-Cache") is None, h
            assert [q["method"] for q in o.last_requests() if q["target"] == "/bytes/9"] == [
                "GET",
                "HEAD",
            ]
            # a rule's methods: HEAD answered from the stored GET again
            assert request(g.port, "GET", "/chunked/9").header("X-Cache") == "MISS"
            h = request(g.port, "HEAD", "/chunked/9")
            assert h.header("X-Cache") == "HIT", h
            assert origin_hits(o, "/chunked/9") == 1
    finally:
        o.__exit__(None, None, None)


if __name__ == "__main__":
    gwtest.main(globals())
