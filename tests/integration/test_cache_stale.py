#!/usr/bin/env python3
"""Stale serving through the real binary against a real origin (docs/cache.md, RFC 5861):
stale-while-revalidate answers the stale response at once and refreshes it behind, one refresh
per key whatever the number of requests and workers (the refresh revalidates with the stored
validators, or fetches the whole response); stale-if-error answers the stale response in place
of the origin's own 500, 502, 503 and 504, not of other statuses, and never where the response
forbids it (no stale-if-error, must-revalidate); a refresh in flight does not hold a stop.
"""
import asyncio
import urllib.parse

import gwtest
from gwtest import Gantry, Origin, request


def cfg(o, cache=True, **top):
    c = gwtest.simple_config(o, **top)
    c["services"][0]["cache"] = cache
    return c


def url(path, *headers):
    q = "&".join("h=" + urllib.parse.quote(h, safe="") for h in headers)
    return path + ("&" if "?" in path else "?") + q if q else path


def origin_hits(o, path):
    return o.stats()["by_path"].get(path, 0)


def metric(g, name):
    text = g.admin_request("GET", "/metrics").body.decode()
    for line in text.splitlines():
        if line.startswith('%s{service="svc"}' % name):
            return int(float(line.split()[-1]))
    return 0


def wait_stale_head(port, path):
    """Polls with HEAD, which a stale response within stale-while-revalidate answers without a
    refresh (a HEAD stores nothing), until the stored response is stale."""
    gwtest.wait_until(lambda: request(port, "HEAD", path).header("X-Cache") == "STALE", timeout=30)


def wait_stale(port, path):
    """only-if-cached never reaches the origin: 504 once the response is no longer fresh (for a
    response without stale-while-revalidate)."""
    gwtest.wait_until(
        lambda: request(port, "GET", path, headers={"Cache-Control": "only-if-cached"}).status
        == 504,
        timeout=30,
    )


SWR = "Cache-Control:max-age=1, stale-while-revalidate=600"


def test_swr_answers_at_once_without_the_origin():
    """The stale answer does not wait for the origin: with the origin gone (and no
    stale-if-error) a foreground revalidation would fail with 502."""
    o = Origin().__enter__()
    try:
        with Gantry(cfg(o)) as g:
            p = url("/bytes/50", SWR)
            assert request(g.port, "GET", p).header("X-Cache") == "MISS"
            wait_stale_head(g.port, p)
            o.stop()
            r = request(g.port, "GET", p)
            assert r.status == 200 and r.body == gwtest.pattern(50), r
            assert r.header("X-Cache") == "STALE", r
            assert int(r.header("Age")) >= 1, r
            cs = r.header("Cache-Status")
            assert cs.startswith("gantry; hit; ttl=") and int(cs.split("ttl=")[1]) <= 0, r
            # the refresh behind failed (connection refused): the stale response stays and
            # the next request may start another refresh
            gwtest.wait_until(
                lambda: request(g.port, "GET", p).header("X-Cache") == "STALE", timeout=10
            )
    finally:
        o.__exit__(None, None, None)


def test_swr_revalidates_behind_with_the_validator():
    with Origin() as o, Gantry(cfg(o)) as g:
        p = url("/bytes/40?etag=v1", SWR, 'ETag:"v1"')
        assert request(g.port, "GET", p).header("X-Cache") == "MISS"
        wait_stale_head(g.port, p)
        r = request(g.port, "GET", p)
        assert r.status == 200 and r.header("X-Cache") == "STALE", r
        assert r.body == gwtest.pattern(40), r
        # the refresh: a conditional GET, answered 304, refreshes the stored response
        gwtest.wait_until(lambda: origin_hits(o, "/bytes/40") == 2, timeout=10)
        reqs = [q for q in o.last_requests() if q["target"].startswith("/bytes/40")]
        sent = dict((n.lower(), v) for n, v in reqs[1]["headers"])
        assert sent.get("if-none-match") == '"v1"', sent
        gwtest.wait_until(lambda: request(g.port, "HEAD", p).header("X-Cache") == "HIT", timeout=10)
        h = request(g.port, "GET", p)
        assert h.header("X-Cache") == "HIT" and h.body == gwtest.pattern(40), h
        assert origin_hits(o, "/bytes/40") == 2
        gwtest.wait_until(lambda: metric(g, "gantry_cache_revalidations_total") == 1, timeout=10)


async def _many_gets(port, path, n):
    async def one():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n" % (path, port)
        writer.write(head.encode())  # the Host request() sends: the same key
        await writer.drain()
        data = await asyncio.wait_for(reader.read(-1), 60)
        writer.close()
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        fields = dict(l.split(": ", 1) for l in lines[1:])
        return int(lines[0].split()[1]), fields.get("X-Cache"), body

    return await asyncio.gather(*(one() for _ in range(n)))


def test_swr_one_refresh_per_key():
    """Many stale requests on two workers while a slow refresh runs: every one is answered from
    the store, and exactly one request reaches the origin; the refreshed response is stored."""
    with Origin() as o, Gantry(cfg(o, workers=2)) as g:
        # max-age=4: the response comes 1.5 s after the request, which counts in its age
        p = url("/sleep/1500", "Cache-Control:max-age=4, stale-while-revalidate=600")
        assert request(g.port, "GET", p).header("X-Cache") == "MISS"
        wait_stale_head(g.port, p)
        results = asyncio.run(_many_gets(g.port, p, 100))
        assert all(st == 200 for st, _, _ in results), results[:3]
        kinds = {xc for _, xc, _ in results}
        assert kinds <= {"STALE", "HIT"} and "STALE" in kinds, kinds
        gwtest.wait_until(lambda: request(g.port, "HEAD", p).header("X-Cache") == "HIT", timeout=30)
        assert origin_hits(o, "/sleep/1500") == 2
        assert origin_hits(o, "/sleep/1500") == 2


def test_swr_refresh_fetches_a_new_response():
    """Without a validator the refresh fetches the whole response and stores it."""
    with Origin() as o, Gantry(cfg(o)) as g:
        p = url("/echo/gen", SWR)
        first = request(g.port, "GET", p)
        assert first.header("X-Cache") == "MISS"
        wait_stale_head(g.port, p)
        assert request(g.port, "GET", p, headers={"If-None-Match": '"x"'}).header(
            "X-Cache"
        ) == "STALE"
        gwtest.wait_until(lambda: request(g.port, "HEAD", p).header("X-Cache") == "HIT", timeout=10)
        reqs = [q for q in o.last_requests() if q["target"].startswith("/echo/gen")]
        assert len(reqs) == 2, reqs
        sent = dict((n.lower(), v) for n, v in reqs[1]["headers"])
        # the client's own validator is not sent: the refresh wants the whole response
        assert "if-none-match" not in sent, sent
        assert metric(g, "gantry_cache_stored_total") == 2


def test_swr_refresh_is_the_clients_request():
    """The refresh goes upstream as the client's request would: the path after strip_prefix and
    the escapes as sent, the query, the identity headers of the authenticated consumer, the
    forwarding headers; never the client's own conditional or Range fields."""
    import hashlib

    key = "k-refresh-0123456789"
    o = Origin().__enter__()
    c = cfg(o, prefix="/api")
    c["services"][0]["strip_prefix"] = True
    c["auth"] = {"consumers": [{"id": "shop", "roles": ["reader"],
                                "api_keys": ["sha256:" + hashlib.sha256(key.encode()).hexdigest()]}]}
    c["services"][0]["auth"] = {"roles": ["reader"]}
    try:
        with Gantry(c) as g:
            p = url("/api/echo/a%7Eb", SWR)
            k = {"X-API-Key": key}
            assert request(g.port, "GET", p, headers=k).header("X-Cache") == "MISS"
            gwtest.wait_until(
                lambda: request(g.port, "HEAD", p, headers=k).header("X-Cache") == "STALE",
                timeout=30)
            h = dict(k, Range="bytes=0-3")
            h["If-Modified-Since"] = "Sun, 06 Nov 1994 08:49:37 GMT"
            assert request(g.port, "GET", p, headers=h).header("X-Cache") == "STALE"
            gwtest.wait_until(lambda: len([q for q in o.last_requests()
                                           if q["target"].startswith("/echo/")]) == 2, timeout=10)
            first, refresh = [q for q in o.last_requests() if q["target"].startswith("/echo/")]
            assert refresh["target"] == first["target"], (first, refresh)
            assert refresh["target"].startswith("/echo/a%7Eb?h="), refresh
            sent = dict((n.lower(), v) for n, v in refresh["headers"])
            assert sent.get("x-consumer-id") == "shop", sent
            assert sent.get("x-forwarded-for") == "127.0.0.1", sent
            assert "range" not in sent and "if-modified-since" not in sent, sent
            gwtest.wait_until(
                lambda: request(g.port, "HEAD", p, headers=k).header("X-Cache") == "HIT",
                timeout=10)
            # the stale answer needed the API key like any other
            assert request(g.port, "GET", p).status == 401
    finally:
        o.__exit__(None, None, None)


def test_swr_with_transformations_revalidates_in_the_foreground():
    """A service with transformations: the copy would not run them, so no stale answer with a
    refresh behind; the stale response is revalidated by the request itself."""
    with Origin() as o:
        c = cfg(o)
        c["services"][0]["transform"] = {"request": {"headers": {"set": {"X-Layer": "gw"}}}}
        with Gantry(c) as g:
            p = url("/bytes/30?etag=v2", SWR, 'ETag:"v2"')
            assert request(g.port, "GET", p).header("X-Cache") == "MISS"
            wait_stale_head(g.port, p)
            r = request(g.port, "GET", p)
            assert r.status == 200 and r.header("X-Cache") == "EXPIRED", r
            assert r.body == gwtest.pattern(30)
            assert origin_hits(o, "/bytes/30") == 2


def test_swr_refresh_in_flight_does_not_hold_a_stop():
    with Origin() as o:
        g = Gantry(cfg(o)).__enter__()
        try:
            p = url("/sleep/2000", SWR)
            assert request(g.port, "GET", p).header("X-Cache") == "MISS"
            wait_stale_head(g.port, p)
            assert request(g.port, "GET", p).header("X-Cache") == "STALE"
            gwtest.wait_until(lambda: o.stats()["active"] >= 1, timeout=10)
        finally:
            g.__exit__(None, None, None)
        assert g.returncode == 0, g.returncode


def test_stale_if_error_on_the_origins_5xx():
    c = cfg(o := Origin().__enter__(), prefix="/o")
    c["services"][0]["strip_prefix"] = True  # /o/health is the origin's /health
    try:
        _stale_if_error_on_5xx(o, c)
    finally:
        o.__exit__(None, None, None)


def _stale_if_error_on_5xx(o, c):
    with Gantry(c) as g:
        p = url("/o/health", "Cache-Control:max-age=1, stale-if-error=600")
        q = url("/o/health?b", "Cache-Control:max-age=1")
        m = url("/o/health?c", "Cache-Control:max-age=1, stale-if-error=600, must-revalidate")
        t = url("/o/health?d", "Cache-Control:max-age=1")
        for path in (p, q, m, t):
            r = request(g.port, "GET", path)
            assert r.status == 200 and r.header("X-Cache") == "MISS", r
        for path in (p, q, m, t):
            wait_stale(g.port, path)
        for code in (500, 502, 503, 504):
            o.set_health(code)
            s = request(g.port, "GET", p)
            assert s.status == 200 and s.json() == {"status": "ok"}, (code, s)
            assert s.header("X-Cache") == "STALE", s
            assert "detail=stale-if-error" in s.header("Cache-Status"), s
        # not where the response forbids it
        o.set_health(500)
        assert request(g.port, "GET", q).status == 500
        assert request(g.port, "GET", m).status == 500
        # the client's own stale-if-error counts too (RFC 5861 4)
        s = request(g.port, "GET", t, headers={"Cache-Control": "stale-if-error=600"})
        assert s.status == 200 and s.header("X-Cache") == "STALE", s
        # not in place of other statuses: the 501 (explicitly fresh) replaces the stored one
        o.set_health(501)
        s = request(g.port, "GET", p)
        assert s.status == 501 and s.header("X-Cache") == "EXPIRED", s
        assert request(g.port, "GET", p).status == 501
        # the origin recovers: its answer replaces the stored one once that is stale
        o.set_health(200)
        wait_stale(g.port, p)
        s = request(g.port, "GET", p)
        assert s.status == 200 and s.header("X-Cache") == "EXPIRED", s
        assert request(g.port, "GET", p).header("X-Cache") == "HIT"


if __name__ == "__main__":
    gwtest.main(globals())
