#!/usr/bin/env python3
"""What gantry does to headers on the way through: hop-by-hop removal in both directions
(including the fields named in Connection), X-Forwarded-*, X-Request-ID, Host, and
end-to-end response headers passed unchanged and in order."""

import re
import urllib.parse

import gwtest
from gwtest import Gantry, HttpConn, Origin, request

ID_RE = re.compile(r"^[0-9a-f]{32}$")
HOP_BY_HOP = ("connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate", "transfer-encoding")
ADDED = ("x-request-id", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host")


def cfg(o, **top):
    c = gwtest.simple_config(o, **top)
    c.setdefault("timeouts", {"client_header": "5s", "client_idle": "10s", "client_body": "5s"})
    return c


def names(pairs):
    return [n.lower() for n, _ in pairs]


def values(pairs, name):
    return [v for n, v in pairs if n.lower() == name.lower()]


def echo(port, path="/echo/h", headers=None, **kw):
    """One request to the origin's /echo through gantry: (response, echo JSON)."""
    r = request(port, "GET", path, headers=headers, **kw)
    assert r.status == 200, (r, r.body[:300])
    assert r.header("X-Origin-Port") is not None, r.headers
    return r, r.json()


def query(*headers):
    """?h=Name:Value&... for the origin's extra response headers (percent-encoded)."""
    return "?" + "&".join("h=" + urllib.parse.quote("%s:%s" % hv, safe="") for hv in headers)


# ---- hop-by-hop -----------------------------------------------------------------------------


def test_hop_by_hop_request_headers_are_not_forwarded():
    with Origin() as o, Gantry(cfg(o)) as g:
        sent = [
            ("Connection", "close, X-Secret"),
            ("Keep-Alive", "timeout=5, max=100"),
            ("Proxy-Connection", "keep-alive"),
            ("TE", "trailers"),
            ("Trailer", "X-Checksum"),
            ("Upgrade", "websocket"),
            ("Proxy-Authorization", "Basic dXNlcjpwYXNz"),
            ("X-Secret", "do-not-forward"),
            ("X-Keep", "forwarded"),
            ("Accept", "application/json"),
            ("X-Multi", "1"),
            ("X-Multi", "2"),
        ]
        r, e = echo(g.port, headers=sent)
        got = names(e["headers"])
        for h in HOP_BY_HOP + ("x-secret",):
            assert h not in got, (h, e["headers"])
        assert values(e["headers"], "X-Keep") == ["forwarded"], e["headers"]
        assert values(e["headers"], "Accept") == ["application/json"], e["headers"]
        assert values(e["headers"], "X-Multi") == ["1", "2"], e["headers"]
        # end-to-end headers keep their relative order
        order = [n for n in got if n in ("x-keep", "accept", "x-multi")]
        assert order == ["x-keep", "accept", "x-multi", "x-multi"], got

        # several Connection headers, odd spacing and case: every listed name goes
        sent = [
            ("Connection", "keep-alive , x-one"),
            ("connection", "X-TWO,,\tX-Three"),
            ("X-One", "1"), ("x-two", "2"), ("X-THREE", "3"), ("X-Four", "4"),
        ]
        with HttpConn(g.port) as c:
            c.send_request("GET", "/echo/multi", headers=sent)
            r = c.read_response()
            e = r.json()
            got = names(e["headers"])
            for h in ("x-one", "x-two", "x-three", "connection"):
                assert h not in got, (h, e["headers"])
            assert values(e["headers"], "X-Four") == ["4"], e["headers"]
            # Connection: close, X-Secret above closed its connection; this one is alive
            c.send_request("GET", "/echo/again")
            assert c.read_response().status == 200


def test_hop_by_hop_response_headers_are_not_forwarded():
    with Origin() as o, Gantry(cfg(o)) as g:
        q = query(("X-Drop-Me", "1"), ("Connection", "X-Drop-Me, X-Drop-Too"),
                  ("X-Drop-Too", "2"), ("Keep-Alive", "timeout=99"),
                  ("Proxy-Connection", "keep-alive"), ("Proxy-Authenticate", "Basic"),
                  ("Upgrade", "h2c"), ("Trailer", "X-Sum"), ("X-Stay", "yes"))
        with HttpConn(g.port) as c:
            for path in ("/echo/r" + q, "/bytes/10" + q, "/chunked/10" + q, "/status/204" + q):
                c.send_request("GET", path)
                r = c.read_response()
                assert r.status in (200, 204), (path, r)
                got = names(r.headers)
                for h in ("x-drop-me", "x-drop-too", "keep-alive", "proxy-connection",
                          "proxy-authenticate", "upgrade", "trailer"):
                    assert h not in got, (path, h, r.headers)
                assert values(r.headers, "Connection") == [], (path, r.headers)
                assert values(r.headers, "X-Stay") == ["yes"], (path, r.headers)
            # the connection survives (the upstream's Connection tokens were not "close")
            c.send_request("GET", "/echo/alive")
            assert c.read_response().status == 200


# ---- X-Forwarded-* --------------------------------------------------------------------------


def test_x_forwarded_headers():
    with Origin() as o, Gantry(cfg(o)) as g:
        _, e = echo(g.port, headers=[("Host", "api.example.com:8080")])
        assert values(e["headers"], "X-Forwarded-For") == ["127.0.0.1"], e["headers"]
        assert values(e["headers"], "X-Forwarded-Proto") == ["http"], e["headers"]
        assert values(e["headers"], "X-Forwarded-Host") == ["api.example.com:8080"], e["headers"]

        # spoofed values: the client's XFF is kept with ours appended (last), Proto and Host
        # replaced
        _, e = echo(g.port, headers=[("Host", "real.example"),
                                     ("X-Forwarded-For", "6.6.6.6"),
                                     ("X-Forwarded-Proto", "https"),
                                     ("X-Forwarded-Host", "evil.example")])
        assert values(e["headers"], "X-Forwarded-For") == ["6.6.6.6, 127.0.0.1"], e["headers"]
        assert values(e["headers"], "X-Forwarded-Proto") == ["http"], e["headers"]
        assert values(e["headers"], "X-Forwarded-Host") == ["real.example"], e["headers"]

        # two XFF headers from the client: one header upstream, the client IP still last
        _, e = echo(g.port, headers=[("X-Forwarded-For", "1.1.1.1, 2.2.2.2"),
                                     ("X-Forwarded-For", "3.3.3.3")])
        xff = values(e["headers"], "X-Forwarded-For")
        assert len(xff) == 1, e["headers"]
        assert [p.strip() for p in xff[0].split(",")] == ["1.1.1.1", "2.2.2.2", "3.3.3.3",
                                                          "127.0.0.1"], xff


def test_connection_header_cannot_remove_what_gantry_adds():
    with Origin() as o, Gantry(cfg(o)) as g:
        # the client lists XFF in Connection to make a proxy drop the real one
        _, e = echo(g.port, headers=[("Connection", "X-Forwarded-For"),
                                     ("X-Forwarded-For", "6.6.6.6")])
        xff = values(e["headers"], "X-Forwarded-For")
        assert len(xff) == 1 and xff[0].split(",")[-1].strip() == "127.0.0.1", e["headers"]

        _, e = echo(g.port, headers=[("Connection", "X-Forwarded-For")])
        assert values(e["headers"], "X-Forwarded-For") == ["127.0.0.1"], e["headers"]

        # a header the client names is removed; none of the headers gantry adds is
        r, e = echo(g.port, headers=[
            ("Connection", "X-Api-Key, X-Request-ID, X-Forwarded-Proto, X-Forwarded-Host, "
                           "X-Forwarded-For, Host"),
            ("X-Api-Key", "secret"),
            ("X-Request-ID", "client-id-1"),
        ])
        got = names(e["headers"])
        assert "x-api-key" not in got, e["headers"]
        for h in ADDED + ("host",):
            assert got.count(h) == 1, (h, e["headers"])
        assert values(e["headers"], "X-Forwarded-For") == ["127.0.0.1"], e["headers"]
        assert values(e["headers"], "X-Forwarded-Proto") == ["http"], e["headers"]
        rid = values(e["headers"], "X-Request-ID")[0]
        assert r.header("X-Request-ID") == rid, (r.headers, rid)


# ---- X-Request-ID ---------------------------------------------------------------------------


def _access_line(g, rid):
    """The text access-log line of a request id: "time id client ..."."""
    return g.wait_log(r"(?m)^\S+ %s .*$" % re.escape(rid)).group(0)


def test_request_id_kept_replaced_or_generated():
    with Origin() as o, Gantry(cfg(o)) as g:
        valid = ["abc-123", "A.b_c:d+e/f=g-h", "x" * 128, "0",
                 "550e8400-e29b-41d4-a716-446655440000"]
        for rid in valid:
            r, e = echo(g.port, "/echo/valid", headers=[("X-Request-ID", rid)])
            assert values(e["headers"], "X-Request-ID") == [rid], (rid, e["headers"])
            assert r.header_all("X-Request-ID") == [rid], (rid, r.headers)
            line = _access_line(g, rid)
            assert "/echo/valid" in line and " 200 " in line, line

        invalid = ["x" * 129, "has space", 'quo"te', "", "semi;colon", "tab\there",
                   "comma,separated", "new\u00e9"]
        seen = set()
        for rid in invalid:
            hs = [("X-Request-ID", rid)]
            r = request(g.port, "GET", "/echo/invalid", headers=hs)
            if rid == "new\u00e9":
                # obs-text in a field value is allowed by the grammar: forwarded or refused,
                # but never used as the id
                assert r.status in (200, 400), r
                if r.status == 400:
                    continue
            assert r.status == 200, (rid, r, r.body[:200])
            e = r.json()
            up = values(e["headers"], "X-Request-ID")
            assert len(up) == 1 and ID_RE.match(up[0]), (rid, e["headers"])
            assert r.header_all("X-Request-ID") == up, (rid, r.headers, up)
            assert up[0] not in seen, "id reused"
            seen.add(up[0])
            line = _access_line(g, up[0])
            assert "/echo/invalid" in line, line

        # absent: generated, the same in the response, upstream and the access log
        r, e = echo(g.port, "/echo/absent")
        up = values(e["headers"], "X-Request-ID")
        assert len(up) == 1 and ID_RE.match(up[0]), e["headers"]
        assert r.header_all("X-Request-ID") == up, r.headers
        line = _access_line(g, up[0])
        assert '"GET /echo/absent"' in line and " 200 " in line, line

        # the upstream's own X-Request-ID in its response is replaced by gantry's
        q = query(("X-Request-ID", "from-upstream"))
        r, e = echo(g.port, "/echo/upid" + q, headers=[("X-Request-ID", "client-chosen")])
        assert r.header_all("X-Request-ID") == ["client-chosen"], r.headers
        r, e = echo(g.port, "/echo/upid2" + q)
        ids = r.header_all("X-Request-ID")
        assert len(ids) == 1 and ID_RE.match(ids[0]), r.headers
        assert values(e["headers"], "X-Request-ID") == ids, (e["headers"], ids)

        # an answer gantry gives itself (a probe) keeps a valid client id too
        r = request(g.port, "GET", "/health", headers=[("X-Request-ID", "probe-id-1")])
        assert r.header("X-Request-ID") == "probe-id-1", r.headers
        _access_line(g, "probe-id-1")


def test_each_request_gets_a_fresh_id_on_a_keep_alive_connection():
    with Origin() as o, Gantry(cfg(o)) as g:
        ids = []
        with HttpConn(g.port) as c:
            for i in range(5):
                c.send_request("GET", "/echo/k%d" % i)
                r = c.read_response()
                e = r.json()
                up = values(e["headers"], "X-Request-ID")
                assert len(up) == 1 and r.header("X-Request-ID") == up[0], (r.headers, up)
                ids.append(up[0])
            # a client id on one request does not stick to the next
            c.send_request("GET", "/echo/mine", headers=[("X-Request-ID", "mine-1")])
            assert c.read_response().header("X-Request-ID") == "mine-1"
            c.send_request("GET", "/echo/next")
            nxt = c.read_response().header("X-Request-ID")
            assert ID_RE.match(nxt), nxt
            ids.append(nxt)
        assert len(set(ids)) == len(ids), ids


# ---- Host -----------------------------------------------------------------------------------


def test_host_header_modes():
    with Origin() as o:
        config = cfg(o)
        config["services"] = [
            {"name": "client", "prefix": "/c", "targets": [o.target()]},
            {"name": "target", "prefix": "/t", "host_header": "target",
             "targets": [o.target()]},
            {"name": "fixed", "prefix": "/f", "host_header": "internal.example.com",
             "targets": [o.target()]},
        ]
        with Gantry(config) as g:
            expected = {"/c": "Api.Example.com:8443",
                        "/t": "127.0.0.1:%d" % o.port,
                        "/f": "internal.example.com"}
            for prefix, host in expected.items():
                r = request(g.port, "GET", prefix + "/echo", headers=[("Host",
                                                                      "Api.Example.com:8443")])
                assert r.status == 404 and r.header("X-Origin-Port"), r  # origin's 404
                last = o.last_requests()[-1]
                assert last["target"] == prefix + "/echo", last
                assert values(last["headers"], "Host") == [host], (prefix, last["headers"])
                # the client's Host is still reported
                assert values(last["headers"], "X-Forwarded-Host") == ["Api.Example.com:8443"]
            # HTTP/1.0 without Host, client mode: a Host is still sent (the target's)
            r = request(g.port, "GET", "/c/x", version="HTTP/1.0")
            assert r.header("X-Origin-Port"), r
            last = o.last_requests()[-1]
            assert values(last["headers"], "Host") == ["127.0.0.1:%d" % o.port], last


# ---- end-to-end response headers ------------------------------------------------------------


def test_response_headers_pass_unchanged_and_in_order():
    with Origin() as o, Gantry(cfg(o)) as g:
        extra = [("Set-Cookie", "a=1; Path=/; HttpOnly"), ("X-Foo", "bar  baz"),
                 ("Set-Cookie", "b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT"),
                 ("Cache-Control", "no-store"), ("X-Empty", ""), ("x-lower", "Case Kept"),
                 ("Set-Cookie", "c=3")]
        for path in ("/echo/rh", "/bytes/3", "/chunked/3", "/eof/3", "/status/201"):
            r = request(g.port, "GET", path + query(*extra))
            assert r.status in (200, 201), (path, r)
            got = [(n, v) for n, v in r.headers
                   if n.lower() in ("set-cookie", "x-foo", "cache-control", "x-empty", "x-lower")]
            assert got == extra, (path, r.headers)
            assert r.header("X-Origin-Port") == str(o.port), r.headers


if __name__ == "__main__":
    gwtest.main(globals())
