#!/usr/bin/env python3
"""The response cache's Redis backend (cache.backend "redis", docs/cache.md) through three real
gantry instances sharing one real redis-server on a free loopback port: a response stored by
one instance is a HIT on the others; Vary variants are shared per variant; a purge on one
instance's admin listener (by URL, prefix, tag, all) and an unsafe method's invalidation are
seen by all; PURGE on the proxy port reaches Redis; collapsed misses per instance; Redis
killed mid-run: every request goes upstream as a MISS and is answered (no hang), with one log
line per state change and the backend-error metrics; Redis back: entries are stored and HITs
resume across instances; Redis paused (slower than cache.redis.timeout): a MISS, answered.
Skipped when redis-server is not installed.
"""
import json
import re
import threading
import urllib.parse

import gwtest
from gwtest import Gantry, Origin, RedisServer

DOWN = re.compile(r"cache: redis at \S+ is down")
UP = re.compile(r"cache: redis at \S+ is up")
MAX_AGE = "Cache-Control:max-age=60"


def url(path, *headers):
    """path with ?h=Name:Value for each response header the origin is to add."""
    q = "&".join("h=" + urllib.parse.quote(h, safe="") for h in headers)
    return path + ("&" if "?" in path else "?") + q if q else path


def config(o, rs, workers=2, **cache):
    c = gwtest.simple_config(o, workers=workers)
    c["rate_limit"] = {"redis": {"url": rs.url(), "backoff_min": "20ms", "backoff_max": "200ms"}}
    # A generous timeout: on a loaded test machine a 50 ms look-up may time out, which is a MISS
    # by design (test_slow_redis_is_a_miss), not what the other tests look at.
    c["cache"] = dict({"backend": "redis", "redis": {"timeout": "2s"}}, **cache)
    c["services"][0]["cache"] = {"enabled": True, "ttl_seconds": 300,
                                 "purge_method": True}
    return c


HOST = "shop.example"  # the key has the Host: every instance's requests name the same one


def request(port, method, path, headers=None, **kw):
    return gwtest.request(port, method, path, headers=dict(headers or {}, Host=HOST), **kw)


def cache_status(g):
    return g.admin_request("GET", "/api/cache").json()


def wait_up(g, timeout=10):
    def up():
        red = cache_status(g).get("redis")
        return red and red["clients"] > 0 and red["clients_up"] == red["clients"]
    gwtest.wait_until(up, timeout, message="the cache's Redis clients up")


def hits(o, path):
    return o.stats()["by_path"].get(path, 0)


def xc(r):
    return r.header("X-Cache")


def say(r):
    return (r.status, r.header("X-Cache"), r.header("Cache-Status"))


def metric(g, name):
    text = g.admin_request("GET", "/metrics").body.decode()
    total = 0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def lang_of(r):
    """The X-Lang the origin saw for the stored response (its echo)."""
    return dict((k.lower(), v) for k, v in r.json()["headers"]).get("x-lang")


def three(o, rs, **cache):
    gs = [Gantry(config(o, rs, **cache)) for _ in range(3)]
    for g in gs:
        wait_up(g)
    return gs


def stop_all(gs):
    for g in gs:
        g.stop()


def cached(g, p, **headers):
    """Whether g answers p from the cache (only-if-cached: 504 otherwise)."""
    h = dict(headers, **{"Cache-Control": "only-if-cached"})
    return request(g.port, "GET", p, headers=h).status == 200


@gwtest.timeout(120)
def test_compressed_variants_shared_per_coding():
    """With compression on, each negotiated coding is one variant in the key's Redis hash: its
    own body, weak ETag, Content-Encoding and Vary, found by the other instances; a purge
    removes them all (docs/cache.md, Compression)."""
    gwtest.require_redis()
    with Origin() as o, RedisServer() as rs:
        gs = []
        for _ in range(2):
            c = config(o, rs)
            c["services"][0]["compression"] = {"types": ["application/octet-stream"]}
            gs.append(Gantry(c))
        g1, g2 = gs
        try:
            for g in gs:
                wait_up(g)
            p = url("/bytes/5000", MAX_AGE, 'ETag:"v3"')
            for ae, enc in (("gzip", "gzip"), ("br", "br"), (None, None)):
                hs = {"Accept-Encoding": ae} if ae else {}
                r = request(g1.port, "GET", p, headers=hs)
                assert r.status == 200 and xc(r) == "MISS", (ae, say(r))
                assert r.header("Content-Encoding") == enc, (ae, r.headers)
                gwtest.wait_until(lambda: cached(g2, p, **hs), 5, message="the variant in Redis")
                r = request(g2.port, "GET", p, headers=hs)
                assert xc(r) == "HIT" and r.header("Content-Encoding") == enc, (ae, r.headers)
                assert r.header_all("Vary") == ["Accept-Encoding"], r.headers
                assert r.header("ETag") == ('"v3"' if enc is None else 'W/"v3"'), r.headers
                assert r.header("Content-Length") == str(len(r.body)), r.headers
                if enc == "gzip":
                    import zlib
                    assert zlib.decompress(r.body, 16 + zlib.MAX_WBITS) == gwtest.pattern(5000)
                if enc is None:
                    assert r.body == gwtest.pattern(5000)
                nm = request(g2.port, "GET", p,
                             headers=dict(hs, **{"If-None-Match": r.header("ETag")}))
                assert nm.status == 304 and nm.header("Vary") == "Accept-Encoding", nm.headers
            assert hits(o, "/bytes/5000") == 3
            pr = g1.admin_request("POST", "/api/cache/purge", body=json.dumps(
                {"url": "http://%s%s" % (HOST, p)}).encode())
            assert pr.status == 200 and pr.json()["purged"] >= 3, pr
            for ae in ("gzip", "br", None):
                assert not cached(g2, p, **({"Accept-Encoding": ae} if ae else {})), ae
        finally:
            stop_all(gs)


@gwtest.timeout(120)
def test_three_instances_share_entries_and_variants():
    gwtest.require_redis()
    with Origin() as o, RedisServer() as rs:
        g1, g2, g3 = gs = three(o, rs)
        try:
            p = url("/bytes/4096", MAX_AGE)
            r = request(g1.port, "GET", p)
            assert r.status == 200 and xc(r) == "MISS" and "stored" in r.header("Cache-Status"), r
            # the store reaches Redis after the answer: wait for it, then every instance hits
            gwtest.wait_until(lambda: cached(g2, p), 5, message="the entry in Redis")
            for g in (g2, g3, g1):
                r = request(g.port, "GET", p)
                assert r.status == 200 and xc(r) == "HIT", say(r)
                assert r.body == gwtest.pattern(4096) and r.header("Content-Length") == "4096"
                assert int(r.header("Age")) >= 0 and r.header("Cache-Control") == "max-age=60"
            assert hits(o, "/bytes/4096") == 1
            # HEAD from the stored GET, and a client's conditional request answered 304
            r = request(g3.port, "HEAD", p)
            assert r.status == 200 and xc(r) == "HIT" and r.body == b"", r
            e = url("/echo/etag", MAX_AGE, 'ETag:"v7"')
            request(g1.port, "GET", e)
            gwtest.wait_until(lambda: cached(g2, e), 5)
            r = request(g2.port, "GET", e, headers={"If-None-Match": '"v7"'})
            assert r.status == 304 and xc(r) == "HIT", r
            # Vary: each variant stored once, found by every instance
            v = url("/echo/lang", MAX_AGE, "Vary:X-Lang")
            assert xc(request(g1.port, "GET", v, headers={"X-Lang": "en"})) == "MISS"
            assert xc(request(g2.port, "GET", v, headers={"X-Lang": "fr"})) == "MISS"
            gwtest.wait_until(lambda: cached(g3, v, **{"X-Lang": "en"}) and
                              cached(g3, v, **{"X-Lang": "fr"}), 5)
            en = request(g3.port, "GET", v, headers={"X-Lang": "en"})
            fr = request(g1.port, "GET", v, headers={"X-Lang": "fr"})
            assert xc(en) == "HIT" and lang_of(en) == "en", en
            assert xc(fr) == "HIT" and lang_of(fr) == "fr", fr
            assert not cached(g2, v, **{"X-Lang": "de"})  # another variant: not stored
            assert hits(o, "/echo/lang") == 2
            # what Redis holds: one hash per key, one field per variant, with a TTL
            keys = rs.cmd("KEYS", "gantry:cache:o:*")
            assert len(keys) == 3, keys
            lang = [k for k in keys if b"/echo/lang" in k][0]
            assert rs.cmd("HLEN", lang) == 2
            assert 0 < rs.cmd("TTL", lang) <= 60  # max-age 60, no stale allowance
            # with a validator: kept twice its lifetime, to be revalidated rather than refetched
            tagged = [k for k in keys if b"/echo/etag" in k][0]
            assert 60 < rs.cmd("TTL", tagged) <= 120
            st = cache_status(g1)
            assert st["redis"]["found"] >= 1 and st["objects"] == 0, st  # nothing in memory
        finally:
            stop_all(gs)


@gwtest.timeout(120)
def test_purges_reach_every_instance():
    gwtest.require_redis()
    with Origin() as o, RedisServer() as rs:
        g1, g2, g3 = gs = three(o, rs)
        try:
            def fill(path, *headers, **req):
                p = url(path, MAX_AGE, *headers)
                request(g1.port, "GET", p, headers=req or None)
                gwtest.wait_until(lambda: cached(g3, p, **req), 5, message="stored " + path)
                return p

            def purge(g, body):
                r = g.admin_request("POST", "/api/cache/purge", body=json.dumps(body).encode())
                assert r.status == 200, r
                return r.json()["purged"]

            # by URL, every variant; on instance 2, seen by 1 and 3
            a = fill("/echo/a", "Vary:X-V", **{"X-V": "1"})
            fill("/echo/a", "Vary:X-V", **{"X-V": "2"})
            other = fill("/echo/ab")
            assert purge(g2, {"url": "http://" + HOST + a}) == 2
            for g in gs:
                assert not cached(g, a, **{"X-V": "1"}) and not cached(g, a, **{"X-V": "2"})
                assert cached(g, other)
            # by prefix, by tag, all
            fill("/echo/p/1")
            fill("/echo/p/2")
            assert purge(g3, {"prefix": HOST + "/echo/p/"}) == 2
            assert cached(g1, other)
            t1 = fill("/echo/t1", "Surrogate-Key:blog post-1")
            t2 = fill("/echo/t2", "Surrogate-Key:post-2 blog")
            assert purge(g1, {"tag": "post-1"}) == 1
            assert not cached(g2, t1) and cached(g2, t2)
            assert purge(g2, {"tag": "blog"}) == 1
            assert not cached(g3, t2)
            fill("/echo/z")
            assert purge(g3, {"all": True}) >= 2
            assert not any(cached(g, other) for g in gs)
            assert rs.cmd("KEYS", "gantry:cache:o:*") == []
            # an unsafe method on instance 3 invalidates its target for everyone
            item = fill("/echo/item")
            r = request(g3.port, "POST", item, body=b"x")
            assert r.status == 200 and xc(r) == "BYPASS", r
            gwtest.wait_until(lambda: not cached(g1, item), 5, message="invalidated in Redis")
            # PURGE on the proxy port (purge_method; needs an authenticated request: refused)
            q = fill("/echo/q")
            r = request(g2.port, "PURGE", q)
            assert r.status == 403, r
            assert cached(g1, q)
        finally:
            stop_all(gs)


@gwtest.timeout(120)
def test_collapsed_misses_per_instance():
    gwtest.require_redis()
    with Origin() as o, RedisServer() as rs, Gantry(config(o, rs)) as g:
        wait_up(g)
        p = url("/sleep/300", MAX_AGE)
        out = []

        def get():
            out.append(request(g.port, "GET", p, timeout=20))

        ts = [threading.Thread(target=get) for _ in range(40)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        assert len(out) == 40 and all(r.status == 200 for r in out), [r.status for r in out]
        assert hits(o, "/sleep/300") == 1, o.stats()["by_path"]
        assert metric(g, "gantry_cache_collapsed_total") >= 1


@gwtest.timeout(150)
def test_redis_killed_then_back():
    gwtest.require_redis()
    with Origin() as o, RedisServer() as rs:
        g1, g2, g3 = gs = three(o, rs)
        try:
            p = url("/bytes/100", MAX_AGE)
            request(g1.port, "GET", p)
            gwtest.wait_until(lambda: cached(g2, p), 5)
            offsets = [len(g.stderr()) for g in gs]
            before = hits(o, "/bytes/100")
            rs.kill()
            # every request is answered, from the origin, as a miss; nothing hangs
            for i in range(12):
                g = gs[i % 3]
                r = request(g.port, "GET", p, timeout=10)
                assert r.status == 200 and r.body == bytes(range(100)), r
                assert xc(r) == "MISS", r
            assert hits(o, "/bytes/100") == before + 12
            for g, off in zip(gs, offsets):
                gwtest.wait_until(lambda: DOWN.search(g.stderr()[off:]), 10, message="down line")
                assert cache_status(g)["redis"]["up"] is False
                assert metric(g, "gantry_cache_backend_errors_total") >= 1
                assert metric(g, "gantry_cache_redis_up") == 0
            # an admin purge says Redis could not purge, at once
            r = g2.admin_request("POST", "/api/cache/purge", body=b'{"all": true}')
            assert r.status == 503 and "Redis" in r.json()["error"], r
            # back (empty): stores and HITs across instances resume
            rs.start()
            for g, off in zip(gs, offsets):
                gwtest.wait_until(lambda: UP.search(g.stderr()[off:]), 10, message="up line")
                wait_up(g)
                log = g.stderr()[off:]
                assert len(DOWN.findall(log)) == 1 and len(UP.findall(log)) == 1, log
            q = url("/bytes/200", MAX_AGE)
            assert xc(request(g3.port, "GET", q)) == "MISS"
            gwtest.wait_until(lambda: cached(g1, q), 5, message="stored after the restart")
            for g in gs:
                assert xc(request(g.port, "GET", q)) == "HIT"
            assert hits(o, "/bytes/200") == 1
        finally:
            stop_all(gs)


@gwtest.timeout(90)
def test_slow_redis_is_a_miss():
    gwtest.require_redis()
    with Origin() as o, RedisServer() as rs, Gantry(config(o, rs, redis={"timeout": "30ms"})) as g:
        wait_up(g)
        p = url("/bytes/10", MAX_AGE)
        request(g.port, "GET", p)
        gwtest.wait_until(lambda: cached(g, p), 5)
        rs.cmd("CLIENT", "PAUSE", "3000")
        r = request(g.port, "GET", p, timeout=10)
        assert r.status == 200 and xc(r) == "MISS", r  # the lookup timed out: upstream
        assert metric(g, "gantry_cache_backend_errors_total") >= 1
        wait_up(g, timeout=15)  # reconnects once the pause ends
        gwtest.wait_until(lambda: cached(g, p), 10, message="HITs again")


if __name__ == "__main__":
    gwtest.main(globals())
