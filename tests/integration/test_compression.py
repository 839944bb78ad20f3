#!/usr/bin/env python3
"""Response compression through the binary: gzip and brotli chosen by Accept-Encoding with
q-values, the types and the minimum size, every case that must pass untouched (already encoded,
no-transform, HEAD, 204/304, ranges), Vary merged, Content-Length gone, strong ETags weakened,
the levels, large streamed bodies of every framing decoded to the byte, flushing per upstream
read, the layers (gateway, service, route rule) and config errors."""

import hashlib
import os
import subprocess
import sys
import tempfile
import zlib

import gwtest
from gwtest import Gantry, HttpConn, Origin, request, run_gantry

try:
    import brotli
except ImportError:  # Debian's python3-brotli serves the system interpreter
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        import brotli
    except ImportError:
        brotli = None

JSON_BODY = b'{"items": [' + b",".join(b'{"id": %d, "name": "item %d"}' % (i, i)
                                       for i in range(400)) + b"]}"


def cfg(o, comp=None, service=None, **top):
    c = gwtest.simple_config(o, **top)
    if comp is not None:
        c["services"][0]["compression"] = comp
    if service:
        c["services"][0].update(service)
    return c


def gunzip(data):
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = d.decompress(data) + d.flush()
    assert d.eof, "gzip stream not finished"
    assert d.unused_data == b"", "bytes after the gzip stream"
    return out


def unbrotli(data, port=None, path=None):
    if brotli is not None:
        return brotli.decompress(data)
    # no brotli module: let curl decode the same answer again
    out = subprocess.run(["curl", "-s", "--compressed", "-H", "Accept-Encoding: br",
                          "http://127.0.0.1:%d%s" % (port, path)], capture_output=True)
    assert out.returncode == 0, out
    return out.stdout


def reflect(port, ae, body=JSON_BODY, framing="length", ct="application/json", extra="",
            method="POST", headers=None):
    path = "/reflect?framing=%s&ct=%s%s" % (framing, ct, extra)
    hs = [("Accept-Encoding", ae)] if ae is not None else []
    hs += headers or []
    return request(port, method, path, headers=hs, body=body)


def test_gzip_and_brotli_by_accept_encoding():
    with Origin() as o, Gantry(cfg(o, {})) as g:
        r = reflect(g.port, "gzip")
        assert r.status == 200, r
        assert r.header("Content-Encoding") == "gzip", r.headers
        assert r.header("Content-Length") is None and r.framing == "chunked", r.headers
        assert r.header("Vary") == "Accept-Encoding", r.headers
        assert gunzip(r.body) == JSON_BODY
        assert len(r.body) < len(JSON_BODY) // 3

        r = reflect(g.port, "gzip, deflate, br")
        assert r.header("Content-Encoding") == "br", r.headers
        if brotli is not None:
            assert brotli.decompress(r.body) == JSON_BODY

        # no Accept-Encoding: identity, but the answer varies on it all the same
        r = reflect(g.port, None)
        assert r.header("Content-Encoding") is None and r.body == JSON_BODY
        assert r.header("Content-Length") == str(len(JSON_BODY)), r.headers
        assert r.header("Vary") == "Accept-Encoding", r.headers


def test_q_values_decide():
    cases = [
        ("gzip;q=1, br;q=0.5", "gzip"),
        ("br;q=0.8, gzip;q=0.8", "br"),  # equal: br preferred
        ("gzip;q=0, br;q=0", None),
        ("*", "br"),
        ("*;q=0.5, br;q=0", "gzip"),
        ("identity;q=1, gzip;q=0.5", None),  # identity preferred
        ("x-gzip", "gzip"),
        ("GZIP;Q=0.9", "gzip"),
        ("deflate, compress", None),
        ("", None),
        ("gzip;q=2", None),  # not a qvalue: the element is skipped
    ]
    with Origin() as o, Gantry(cfg(o, {})) as g:
        for ae, want in cases:
            r = reflect(g.port, ae)
            assert r.status == 200, (ae, r)
            assert r.header("Content-Encoding") == want, (ae, r.headers)
            if want == "gzip":
                assert gunzip(r.body) == JSON_BODY, ae
            if want is None:
                assert r.body == JSON_BODY, ae
        # several Accept-Encoding lines are one list
        r = request(g.port, "POST", "/reflect", body=JSON_BODY,
                    headers=[("Accept-Encoding", "br;q=0"), ("Accept-Encoding", "gzip")])
        assert r.header("Content-Encoding") == "gzip", r.headers


def test_algorithms_and_levels():
    comp = {"algorithms": ["gzip"], "gzip_level": 1}
    with Origin() as o, Gantry(cfg(o, comp)) as g:
        r = reflect(g.port, "br, gzip")
        assert r.header("Content-Encoding") == "gzip", r.headers
        fast = r.body
        assert gunzip(fast) == JSON_BODY
    with Origin() as o, Gantry(cfg(o, {"gzip_level": 9})) as g:
        best = reflect(g.port, "gzip").body
        assert gunzip(best) == JSON_BODY
    # the level reaches zlib: the gzip header's XFL byte says "fastest" (4) or "best" (2)
    assert fast[8] == 4 and best[8] == 2, (fast[:10], best[:10])
    if brotli is not None:
        with Origin() as o, Gantry(cfg(o, {"brotli_level": 11})) as g:
            b11 = reflect(g.port, "br").body
        with Origin() as o, Gantry(cfg(o, {"brotli_level": 0})) as g:
            b0 = reflect(g.port, "br").body
        assert brotli.decompress(b11) == JSON_BODY == brotli.decompress(b0)
        assert len(b11) < len(b0)


def test_types_and_minimum_size():
    comp = {"types": ["application/json", "text/*"], "min_length": 1000}
    with Origin() as o, Gantry(cfg(o, comp)) as g:
        r = reflect(g.port, "gzip", ct="application/json;%20charset=utf-8")
        assert r.header("Content-Encoding") == "gzip", r.headers
        r = reflect(g.port, "gzip", ct="text/csv")
        assert r.header("Content-Encoding") == "gzip", r.headers
        r = reflect(g.port, "gzip", ct="image/png")
        assert r.header("Content-Encoding") is None and r.body == JSON_BODY
        assert r.header("Vary") is None, "an answer never compressed does not vary"
        # known length below the minimum: as it came
        r = reflect(g.port, "gzip", body=b'{"a": 1}' + b" " * 900)
        assert r.header("Content-Encoding") is None, r.headers
        assert r.header("Content-Length") == "908"
        # unknown length (chunked) below the minimum: compressed, the length is not known
        small = b'{"a": 1}' + b" " * 100
        r = reflect(g.port, "gzip", body=small, framing="chunked")
        assert r.header("Content-Encoding") == "gzip", r.headers
        assert gunzip(r.body) == small
    # the built-in list: JSON yes, octet-stream no
    with Origin() as o, Gantry(cfg(o, {})) as g:
        r = request(g.port, "GET", "/bytes/5000", headers=[("Accept-Encoding", "gzip")])
        assert r.header("Content-Encoding") is None and len(r.body) == 5000


def test_never_for_encoded_no_transform_204_304_ranges():
    with Origin() as o, Gantry(cfg(o, {"types": ["application/json", "application/octet-stream"]})) as g:
        ae = [("Accept-Encoding", "gzip, br")]
        r = request(g.port, "GET", "/bytes/5000?h=Content-Encoding:x-custom", headers=ae)
        assert r.header("Content-Encoding") == "x-custom" and len(r.body) == 5000, r.headers
        r = request(g.port, "GET", "/bytes/5000?h=Cache-Control:public,%20no-transform",
                    headers=ae)
        assert r.header("Content-Encoding") is None and len(r.body) == 5000, r.headers
        r = request(g.port, "GET", "/bytes/5000?h=Content-Range:bytes%200-4999/9000",
                    headers=ae)
        assert r.header("Content-Encoding") is None and len(r.body) == 5000, r.headers
        r = request(g.port, "GET", "/status/206", headers=ae)
        assert r.status == 206 and r.header("Content-Encoding") is None, r.headers
        for code in (204, 304):
            r = request(g.port, "GET", "/status/%d" % code, headers=ae)
            assert r.status == code and r.header("Content-Encoding") is None, r.headers
        # an identity Content-Encoding is no encoding
        r = request(g.port, "GET", "/bytes/5000?h=Content-Encoding:identity", headers=ae)
        assert r.header_all("Content-Encoding") == ["br"], r.headers


def test_vary_merged_and_etag_weakened():
    comp = {"types": ["application/octet-stream"]}
    with Origin() as o, Gantry(cfg(o, comp)) as g:
        ae = [("Accept-Encoding", "gzip")]
        r = request(g.port, "GET", '/bytes/5000?h=Vary:Origin&h=ETag:"v1"', headers=ae)
        assert r.header("Content-Encoding") == "gzip"
        assert r.header_all("Vary") == ["Origin", "Accept-Encoding"], r.headers
        assert r.header_all("ETag") == ['W/"v1"'], r.headers
        assert gunzip(r.body) == gwtest.pattern(5000)
        # already varying on it: not twice; a weak ETag stays as it is
        r = request(g.port, "GET", '/bytes/5000?h=Vary:accept-encoding,%20Origin&h=ETag:W/"v2"',
                    headers=ae)
        assert r.header_all("Vary") == ["accept-encoding, Origin"], r.headers
        assert r.header_all("ETag") == ['W/"v2"'], r.headers
        r = request(g.port, "GET", "/bytes/5000?h=Vary:*", headers=ae)
        assert r.header_all("Vary") == ["*"], r.headers
        # identity: the strong ETag is the representation's own
        r = request(g.port, "GET", '/bytes/5000?h=ETag:"v1"')
        assert r.header_all("ETag") == ['"v1"'] and r.header("Vary") == "Accept-Encoding"


def test_head_gets_the_fields_of_its_get():
    """RFC 9110 9.3.2: a HEAD's fields are its GET's (Vary, Content-Encoding, the weak ETag);
    the encoded length is only known by encoding, so Content-Length goes."""
    comp = {"types": ["application/octet-stream"]}
    with Origin() as o, Gantry(cfg(o, comp)) as g:
        p = '/bytes/5000?h=ETag:"v1"&h=Accept-Ranges:bytes'
        for ae, enc in (("gzip", "gzip"), ("gzip, br", "br")):
            get = request(g.port, "GET", p, headers=[("Accept-Encoding", ae)])
            head = request(g.port, "HEAD", p, headers=[("Accept-Encoding", ae)])
            assert head.status == 200 and head.body == b"", head
            for r in (get, head):
                assert r.header("Content-Encoding") == enc, (ae, r.headers)
                assert r.header_all("Vary") == ["Accept-Encoding"], (ae, r.headers)
                assert r.header_all("ETag") == ['W/"v1"'], (ae, r.headers)
                assert r.header("Accept-Ranges") is None, (ae, r.headers)
            assert head.header("Content-Length") is None, head.headers
        # identity: the length stays, the answer still varies
        head = request(g.port, "HEAD", p)
        assert head.header("Content-Encoding") is None, head.headers
        assert head.header("Content-Length") == "5000", head.headers
        assert head.header_all("Vary") == ["Accept-Encoding"], head.headers
        assert head.header_all("ETag") == ['"v1"'], head.headers
        # a type never compressed: as it came
        head = request(g.port, "HEAD", "/status/200", headers=[("Accept-Encoding", "gzip")])
        assert head.header("Content-Encoding") is None and head.header("Vary") is None


def test_upstream_304_carries_the_vary_and_etag_of_its_200():
    """RFC 9110 15.4.5: a 304 carries the Vary the 200 would, and the same ETag."""
    comp = {"types": ["application/octet-stream"]}
    with Origin() as o, Gantry(cfg(o, comp)) as g:
        p = '/bytes/5000?etag=v1&h=ETag:"v1"'
        for ae, etag in (("gzip", 'W/"v1"'), (None, '"v1"')):
            hs = [("Accept-Encoding", ae)] if ae else []
            full = request(g.port, "GET", p, headers=hs)
            assert full.status == 200 and full.header_all("ETag") == [etag], full.headers
            nm = request(g.port, "GET", p, headers=hs + [("If-None-Match", etag)])
            assert nm.status == 304, nm
            # (the origin's 304 repeats the ETag: once its own, once the h= one)
            assert set(nm.header_all("ETag")) == {etag}, (ae, nm.headers)
            assert nm.header_all("Vary") == ["Accept-Encoding"], (ae, nm.headers)
            assert nm.header("Content-Encoding") is None, nm.headers


def test_fields_of_the_unencoded_bytes_dropped_and_ranges():
    """Accept-Ranges, Content-MD5, Digest (and RFC 9530's Content-Digest, Repr-Digest) describe
    the unencoded bytes: an encoded answer drops them, an identity one keeps them. A range is
    never a slice of the identity bytes under a Content-Encoding: an upstream's 206 goes as it
    came (a range of the identity representation), an upstream that ignores Range gives the
    whole body, compressed."""
    comp = {"types": ["application/octet-stream"]}
    drop = ["Accept-Ranges:bytes", "Content-MD5:Q2hlY2sgSW50ZWdyaXR5IQ==",
            "Digest:sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
            "Content-Digest:sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
            "Repr-Digest:sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"]
    q = "&".join("h=" + h for h in drop)
    with Origin() as o, Gantry(cfg(o, comp)) as g:
        r = request(g.port, "GET", "/bytes/5000?" + q, headers=[("Accept-Encoding", "gzip")])
        assert r.header("Content-Encoding") == "gzip", r.headers
        for h in drop:
            assert r.header(h.split(":")[0]) is None, (h, r.headers)
        r = request(g.port, "GET", "/bytes/5000?" + q)
        assert r.header("Content-Encoding") is None, r.headers
        for h in drop:
            assert r.header(h.split(":")[0]) is not None, (h, r.headers)
        # the origin ignores Range: the whole body, compressed, no range of it
        r = request(g.port, "GET", "/bytes/5000?h=Accept-Ranges:bytes",
                    headers=[("Accept-Encoding", "gzip"), ("Range", "bytes=0-99")])
        assert r.status == 200 and r.header("Content-Range") is None, r.headers
        assert r.header("Content-Encoding") == "gzip" and gunzip(r.body) == gwtest.pattern(5000)
        # the origin answers the range: as it came, never encoded
        r = request(g.port, "GET", "/bytes/100?h=Content-Range:bytes%200-99/5000",
                    headers=[("Accept-Encoding", "gzip"), ("Range", "bytes=0-99")])
        assert r.header("Content-Encoding") is None and r.body == gwtest.pattern(100), r.headers


@gwtest.timeout(120)
def test_large_bodies_of_every_framing_stream():
    n = 6 * 1024 * 1024
    comp = {"types": ["application/octet-stream"]}
    with Origin() as o, Gantry(cfg(o, comp)) as g:
        for path in ("/bytes/%d" % n, "/chunked/%d" % n, "/eof/%d" % n):
            for ae in ("gzip", "br"):
                if ae == "br" and brotli is None:
                    continue
                with HttpConn(g.port, timeout=60) as c:
                    c.send_request("GET", path, [("Accept-Encoding", ae)])
                    r = c.read_response()
                    assert r.status == 200 and r.framing == "chunked", (path, r)
                    assert r.header("Content-Encoding") == ae
                    body = gunzip(r.body) if ae == "gzip" else brotli.decompress(r.body)
                    assert len(body) == n and hashlib.sha256(body).hexdigest() == \
                        gwtest.pattern_sha256(n), path
                    # keep-alive survives: a second request on the same connection
                    c.send_request("GET", "/bytes/10")
                    assert c.read_response().status == 200
        # an HTTP/1.0 client gets a close-delimited compressed body
        r = request(g.port, "GET", "/chunked/%d" % n, headers=[("Accept-Encoding", "gzip")],
                    version="HTTP/1.0")
        assert r.framing == "eof" and r.header("Content-Encoding") == "gzip"
        assert gunzip(r.body) == gwtest.pattern(n)


def test_each_upstream_read_is_flushed():
    # /slow-body sends 5 bytes, waits, then 5 more: the first 5 must reach the client,
    # decodable, while the upstream still holds the rest.
    comp = {"types": ["text/plain"], "min_length": 0}
    with Origin() as o, Gantry(cfg(o, comp)) as g:
        with HttpConn(g.port, timeout=30) as c:
            c.send_request("GET", "/slow-body/3000", [("Accept-Encoding", "gzip")])
            c._read_head()
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)

            def next_chunk():
                size = int(c._read_line(), 16)
                while len(c.buf) < size + 2:
                    assert c._fill(), "connection closed"
                data = bytes(c.buf[:size])
                del c.buf[:size + 2]
                return data

            got = b""
            while len(got) < 5:
                data = next_chunk()
                assert data, "body ended early"
                got += d.decompress(data)
            # the upstream is still sleeping: only a flush can have brought these
            assert got == b"hello", got
            while True:
                data = next_chunk()
                if not data:
                    break
                got += d.decompress(data)
            assert got + d.flush() == b"helloworld" and d.eof


def test_layers_gateway_service_rule():
    top = {"compression": {"types": ["application/json"], "gzip_level": 1}}
    # the origin serves /reflect at its root: each service strips its prefix, and the rules
    # tell requests apart by method as well as by prefix
    with Origin() as o:
        c = gwtest.simple_config(o, **top)
        base = dict(c["services"][0], strip_prefix=True)
        c["services"] = [
            dict(base, name="inherit", prefix="/a"),
            dict(base, name="off", prefix="/b", compression=False),
            dict(base, name="own", prefix="/c", compression={
                "algorithms": ["gzip"],
                "rules": [{"match": {"prefix": "/c", "methods": ["PATCH"]}, "enabled": False},
                          {"match": {"prefix": "/c/reflect", "methods": ["PUT"]},
                           "gzip_level": 9},
                          {"match": {"prefix": "/c", "methods": ["PUT"]}, "gzip_level": 5}]}),
        ]
        with Gantry(c) as g:
            def get(path, method="POST"):
                return request(g.port, method, path, body=JSON_BODY,
                               headers=[("Accept-Encoding", "br, gzip")])
            r = get("/a/reflect")
            assert r.header("Content-Encoding") == "br", r.headers  # the gateway's: both
            r = get("/b/reflect")
            assert r.header("Content-Encoding") is None and r.header("Vary") is None
            r = get("/c/reflect")
            assert r.header("Content-Encoding") == "gzip", r.headers
            assert r.body[8] == 4, r.body[:10]  # the gateway's level 1
            r = get("/c/reflect", "PUT")  # the longest prefix wins: level 9
            assert r.header("Content-Encoding") == "gzip", r.headers
            assert r.body[8] == 2, r.body[:10]
            assert gunzip(r.body) == JSON_BODY
            r = get("/c/reflect", "PATCH")
            assert r.header("Content-Encoding") is None and r.body == JSON_BODY


def test_with_a_json_body_transformation():
    tf = {"response": {"body": {"remove": ["items"], "add": {"ok": True}}}}
    with Origin() as o, Gantry(cfg(o, {}, service={"transform": tf})) as g:
        r = reflect(g.port, "gzip")
        assert r.header("Content-Encoding") == "gzip", r.headers
        assert gunzip(r.body) == b'{"ok":true}', r.body


def cached_cfg(o, comp=None, cache=None):
    c = cfg(o, comp if comp is not None else {"types": ["application/octet-stream"]})
    c["services"][0]["cache"] = cache if cache is not None else True
    return c


def _decode(r):
    enc = r.header("Content-Encoding")
    if enc == "gzip":
        return gunzip(r.body)
    if enc == "br":
        return brotli.decompress(r.body) if brotli is not None else None
    return r.body


def test_cache_stores_one_variant_per_coding():
    """The negotiated coding selects the stored variant: each has its own body, ETag,
    Content-Encoding and Vary; a HIT never compresses; a coding not stored yet is a MISS for
    that variant; a conditional request with the weak ETag gets a 304 with Vary; a purge
    removes every variant."""
    import json
    import urllib.parse
    path = "/bytes/5000?h=" + urllib.parse.quote("Cache-Control:max-age=60") + \
        "&h=" + urllib.parse.quote('ETag:"v2"') + "&h=Accept-Ranges:bytes"
    with Origin() as o, Gantry(cached_cfg(o)) as g:
        def get(ae, method="GET", **more):
            hs = dict(more)
            if ae is not None:
                hs["Accept-Encoding"] = ae
            return request(g.port, method, path, headers=hs)

        want = {"gzip": "gzip", "br": "br", None: None}
        for ae in ("gzip", "br", None):
            for round_ in ("MISS", "HIT"):
                r = get(ae)
                assert r.status == 200 and r.header("X-Cache") == round_, (ae, round_, r.headers)
                assert r.header("Content-Encoding") == want[ae], (ae, round_, r.headers)
                assert r.header_all("Vary") == ["Accept-Encoding"], (ae, round_, r.headers)
                etag = '"v2"' if ae is None else 'W/"v2"'
                assert r.header_all("ETag") == [etag], (ae, round_, r.headers)
                assert r.header("Accept-Ranges") == ("bytes" if ae is None else None), r.headers
                body = _decode(r)
                assert body is None or body == gwtest.pattern(5000), (ae, round_)
                if round_ == "HIT":
                    assert r.header("Content-Length") == str(len(r.body)), r.headers
        assert o.stats()["by_path"].get("/bytes/5000") == 3
        # another spelling of the same choice selects the same variant
        r = get("gzip, deflate;q=0.5")
        assert r.header("X-Cache") == "HIT" and r.header("Content-Encoding") == "gzip", r.headers
        r = get("br;q=0.1, gzip;q=1")
        assert r.header("X-Cache") == "HIT" and r.header("Content-Encoding") == "gzip", r.headers
        # conditional: the compressed variant's weak ETag
        r = get("gzip", **{"If-None-Match": 'W/"v2"'})
        assert r.status == 304 and r.header("X-Cache") == "HIT", r.headers
        assert r.header_all("Vary") == ["Accept-Encoding"], r.headers
        assert r.header("ETag") == 'W/"v2"', r.headers
        r = get(None, **{"If-None-Match": '"v2"'})
        assert r.status == 304 and r.header_all("Vary") == ["Accept-Encoding"], r.headers
        assert r.header("ETag") == '"v2"', r.headers
        # HEAD: the variant's fields
        r = get("gzip", "HEAD")
        assert r.status == 200 and r.header("X-Cache") == "HIT", r.headers
        assert r.header("Content-Encoding") == "gzip" and r.header("ETag") == 'W/"v2"', r.headers
        assert o.stats()["by_path"].get("/bytes/5000") == 3
        # a purge of the URL removes every variant
        u = "http://127.0.0.1:%d%s" % (g.port, path)
        pr = g.admin_request("POST", "/api/cache/purge", body=json.dumps({"url": u}).encode())
        assert pr.status == 200 and pr.json()["purged"] == 3, pr
        for ae in ("gzip", "br", None):
            assert get(ae).header("X-Cache") == "MISS", ae


def test_cache_revalidated_compressed_variant_keeps_its_weak_etag():
    with Origin() as o, Gantry(cached_cfg(o)) as g:
        p = '/bytes/3000?etag=v1&h=Cache-Control:max-age=1&h=ETag:"v1"'
        ae = {"Accept-Encoding": "gzip"}
        r = request(g.port, "GET", p, headers=ae)
        assert r.header("X-Cache") == "MISS" and r.header("ETag") == 'W/"v1"', r.headers
        gwtest.wait_until(lambda: request(
            g.port, "GET", p, headers=dict(ae, **{"Cache-Control": "only-if-cached"})).status
            == 504, 10, message="stale")
        r = request(g.port, "GET", p, headers=ae)
        assert r.header("X-Cache") == "REVALIDATED", r.headers
        assert r.header("Content-Encoding") == "gzip" and r.header("ETag") == 'W/"v1"', r.headers
        assert r.header_all("Vary") == ["Accept-Encoding"], r.headers
        assert gunzip(r.body) == gwtest.pattern(3000)
        r = request(g.port, "GET", p, headers=ae)
        assert r.header("X-Cache") == "HIT" and r.header("ETag") == 'W/"v1"', r.headers


def test_cache_with_a_type_never_compressed_stores_one_variant():
    with Origin() as o, Gantry(cached_cfg(o, {})) as g:
        p = "/bytes/2000?h=Cache-Control:max-age=60"
        r = request(g.port, "GET", p, headers={"Accept-Encoding": "gzip"})
        assert r.header("X-Cache") == "MISS" and r.header("Vary") is None, r.headers
        for ae in ("br", "gzip", None):
            hs = {"Accept-Encoding": ae} if ae else {}
            r = request(g.port, "GET", p, headers=hs)
            assert r.header("X-Cache") == "HIT" and r.header("Content-Encoding") is None, ae
            assert r.body == gwtest.pattern(2000)


def test_config_errors():
    text = ('{\n  "compression": {"gzip_level": 12, "algorithms": ["zstd"]},\n'
            '  "services": [{"name": "s", "prefix": "/", "targets": ["http://127.0.0.1:9"],\n'
            '    "compression": {"types": ["json"], "rules": [{"match": {"prefix": "/x"},'
            ' "brotli_level": 12}]}}]\n}\n')
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bad.json")
        with open(path, "w") as f:
            f.write(text)
        res = run_gantry(["check", path])
        assert res.returncode == 1, res
        out = res.stdout + res.stderr
        assert "bad.json:2:" in out and "compression.gzip_level" in out, out
        assert "compression.algorithms[0]" in out and "unknown algorithm" in out, out
        assert "bad.json:4:" in out and "services[0].compression.types[0]" in out, out
        assert "services[0].compression.rules[0].brotli_level" in out, out


if __name__ == "__main__":
    gwtest.main(globals())
