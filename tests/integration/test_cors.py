#!/usr/bin/env python3
"""CORS through the real binary (docs/cors.md): preflights answered by gantry (204) without
reaching the upstream, and before authentication; allowed origins (exact, subdomain wildcards,
"*", "null"); methods, headers, exposed headers, credentials, max age; Vary: Origin on every
answer, merged into the upstream's; a refused origin gets no CORS headers (the configured status
for a preflight); gantry's own answers (401, 429, 502, 503) carry the CORS headers; the
upstream's own CORS headers are replaced; per-route rules, gateway-wide defaults, a service that
turns CORS off; preflights routed by the method they ask about; the config refuses "*" with
credentials."""

import os

import gwtest
from gwtest import Gantry, HttpConn, Origin, assert_json_error, request

APP = "https://app.example.com"
EVIL = "https://evil.example.net"


def acl(r):
    """The Access-Control-* headers of r, as (lowercased name, value) in order."""
    return [(n.lower(), v) for n, v in r.headers if n.lower().startswith("access-control-")]


def preflight(port, path, origin, method="PUT", headers=None, extra=()):
    hs = [("Origin", origin), ("Access-Control-Request-Method", method)]
    if headers is not None:
        hs.append(("Access-Control-Request-Headers", headers))
    return request(port, "OPTIONS", path, headers=hs + list(extra))


def config(o, svc_cors=None, services=None, **top):
    cfg = {
        "listen": "127.0.0.1:%d" % gwtest.free_port(),
        "workers": 1,
        "log": {"access": "off"},
        "services": services
        or [{"name": "api", "prefix": "/", "targets": [o.target()], "cors": svc_cors}],
    }
    cfg.update(top)
    return cfg


FULL = {
    "origins": [APP, "https://*.example.org"],
    "credentials": True,
    "headers": ["Content-Type", "X-Custom"],
    "expose_headers": ["X-Request-ID", "Retry-After"],
    "max_age": "10m",
}


def test_preflight_is_answered_by_gantry():
    with Origin() as o, Gantry(config(o, FULL)) as g:
        o.reset_stats()
        with HttpConn(g.port) as c:
            c.send_request("OPTIONS", "/api/things/7", [
                ("Origin", APP), ("Access-Control-Request-Method", "PUT"),
                ("Access-Control-Request-Headers", "x-custom, content-type")])
            r = c.read_response()
            assert r.status == 204, r
            assert r.body == b"", r.body
            assert r.header("Content-Length") is None, r.headers  # RFC 9110 8.6
            assert r.header("Content-Type") is None, r.headers
            assert acl(r) == [
                ("access-control-allow-origin", APP),
                ("access-control-allow-credentials", "true"),
                ("access-control-allow-methods", "GET, HEAD, POST, PUT, DELETE, PATCH"),
                ("access-control-allow-headers", "Content-Type, X-Custom"),
                ("access-control-max-age", "600"),
            ], r.headers
            assert r.header_all("Vary") == ["Origin"], r.headers
            assert r.header("X-Request-ID"), r.headers
            # the connection stays usable: a 204 has no body to frame
            c.send_request("GET", "/echo/x", [("Origin", APP)])
            r = c.read_response()
            assert r.status == 200, r
        stats = o.stats()
        assert stats["requests"] == 1, stats  # only the GET: the preflight never went upstream
        assert stats["by_path"].get("/api/things/7") is None, stats


def test_preflight_comes_before_authentication():
    cfg = config(None, services=[{
        "name": "api", "prefix": "/", "targets": ["http://127.0.0.1:%d" % gwtest.free_port()],
        "auth": {}, "cors": dict(FULL, headers=["Authorization", "Content-Type"])}],
        auth={"jwt": {"keys": [{"alg": "HS256", "secret": "s" * 32}]}})
    with Gantry(cfg) as g:
        r = preflight(g.port, "/private", APP, "DELETE", "authorization")
        # a preflight carries no credentials: it must not meet a 401
        assert r.status == 204, (r, r.body)
        # the actual request without a token gets gantry's 401, which the page may read
        r = request(g.port, "DELETE", "/private", headers=[("Origin", APP)])
        assert_json_error(r, 401)
        assert r.header("Access-Control-Allow-Origin") == APP, r.headers
        assert r.header("Access-Control-Allow-Credentials") == "true", r.headers
        assert r.header("Access-Control-Expose-Headers") == "X-Request-ID, Retry-After"
        assert r.header("Vary") == "Origin", r.headers


def test_origins_exact_wildcard_and_refused():
    with Origin() as o, Gantry(config(o, FULL)) as g:
        cases = [
            (APP, True),
            ("https://APP.example.com", True),  # hosts compare without case
            ("https://app.example.com:443", True),  # the default port is no port
            ("https://a.example.org", True),
            ("https://a.b.c.example.org", True),
            ("https://example.org", False),  # a wildcard is for subdomains only
            ("https://badexample.org", False),
            ("https://example.org.evil.com", False),
            ("http://a.example.org", False),  # scheme
            ("https://a.example.org:8443", False),  # port
            ("http://app.example.com", False),
            ("https://app.example.com/", False),  # not an origin
            ("null", False),
            (EVIL, False),
        ]
        for origin, allowed in cases:
            r = preflight(g.port, "/x", origin)
            if allowed:
                assert r.status == 204, (origin, r, r.body)
                assert r.header("Access-Control-Allow-Origin") == origin, (origin, r.headers)
            else:
                body = assert_json_error(r, 403)
                assert body["reason"] == "origin is not allowed", body
                assert acl(r) == [], (origin, r.headers)
                assert r.header("Vary") == "Origin", r.headers
            r = request(g.port, "GET", "/echo/x", headers=[("Origin", origin)])
            assert r.status == 200, r
            if allowed:
                assert r.header("Access-Control-Allow-Origin") == origin, (origin, r.headers)
            else:
                assert acl(r) == [], (origin, r.headers)  # forwarded, but granted nothing
            assert r.header("Vary") == "Origin", (origin, r.headers)
        assert o.stats()["requests"] == len(cases)  # the GETs only


def test_preflight_with_two_origins_is_refused_not_forwarded():
    """Two Origin lines are no origin a browser sends (docs/cors.md): the preflight is refused
    by gantry like a disallowed origin's, and never reaches the upstream."""
    with Origin() as o, Gantry(config(o, FULL)) as g:
        o.reset_stats()
        r = preflight(g.port, "/api/x", APP, extra=[("Origin", APP)])
        body = assert_json_error(r, 403)
        assert body["reason"] == "origin is not allowed", body
        assert acl(r) == [] and r.header("Vary") == "Origin", r.headers
        assert o.stats()["requests"] == 0


def test_star_and_null_origins():
    services = lambda o: [
        {"name": "public", "prefix": "/public", "strip_prefix": True, "targets": [o.target()],
         "cors": {"origins": "*", "expose_headers": "*"}},
        {"name": "sandboxed", "prefix": "/sandbox", "strip_prefix": True,
         "targets": [o.target()],
         "cors": {"origins": ["null"], "credentials": True}},
    ]
    with Origin() as o:
        with Gantry(config(o, services=services(o))) as g:
            r = preflight(g.port, "/public/x", EVIL, "POST", "content-type")
            assert r.status == 204, r
            assert acl(r) == [
                ("access-control-allow-origin", "*"),
                ("access-control-allow-methods", "GET, HEAD, POST, PUT, DELETE, PATCH"),
                ("access-control-allow-headers", "content-type"),
            ], r.headers
            r = request(g.port, "GET", "/public/echo", headers=[("Origin", "null")])
            assert acl(r) == [("access-control-allow-origin", "*"),
                              ("access-control-expose-headers", "*")], r.headers
            r = request(g.port, "GET", "/sandbox/echo", headers=[("Origin", "null")])
            assert acl(r) == [("access-control-allow-origin", "null"),
                              ("access-control-allow-credentials", "true")], r.headers
            r = request(g.port, "GET", "/sandbox/echo", headers=[("Origin", APP)])
            assert acl(r) == [], r.headers


def test_methods_and_headers():
    with Origin() as o:
        services = [
            {"name": "strict", "prefix": "/strict", "targets": [o.target()],
             "cors": {"origins": APP, "methods": ["GET", "POST"], "headers": "X-One"}},
            {"name": "any", "prefix": "/any", "targets": [o.target()],
             "cors": {"origins": APP, "methods": "*"}},
        ]
        with Gantry(config(o, services=services)) as g:
            r = preflight(g.port, "/strict/x", APP, "POST", "x-one")
            assert r.status == 204, r
            assert r.header("Access-Control-Allow-Methods") == "GET, POST", r.headers
            assert r.header("Access-Control-Allow-Headers") == "X-One", r.headers
            assert r.header("Access-Control-Max-Age") is None  # none unless configured
            r = preflight(g.port, "/strict/x", APP, "PUT")
            body = assert_json_error(r, 403)
            assert body["reason"] == "method PUT is not allowed", body
            assert acl(r) == [], r.headers
            r = preflight(g.port, "/strict/x", APP, "POST", "X-One, X-Two")
            body = assert_json_error(r, 403)
            assert body["reason"] == "header X-Two is not allowed", body
            assert acl(r) == [], r.headers
            # "*": the asked-for method and headers are echoed (also unknown tokens)
            r = preflight(g.port, "/any/x", APP, "PURGE", "x-a,x-b")
            assert r.status == 204, (r, r.body)
            assert r.header("Access-Control-Allow-Methods") == "PURGE", r.headers
            assert r.header("Access-Control-Allow-Headers") == "x-a,x-b", r.headers
        assert o.stats()["requests"] == 0


def test_denied_status_is_configurable():
    with Origin() as o, Gantry(config(o, {"origins": APP, "denied_status": 204})) as g:
        r = preflight(g.port, "/x", EVIL)
        assert r.status == 204, r
        assert r.body == b"" and acl(r) == [], r.headers
        assert r.header("Vary") == "Origin"
    with Origin() as o, Gantry(config(o, {"origins": APP, "denied_status": 400})) as g:
        body = assert_json_error(preflight(g.port, "/x", EVIL), 400)
        assert body["error"] == "preflight refused by the CORS policy", body


def test_vary_is_merged_and_upstream_cors_headers_replaced():
    with Origin() as o, Gantry(config(o, FULL)) as g:
        def get(query, origin=APP):
            hs = [("Origin", origin)] if origin else []
            return request(g.port, "GET", "/echo/v?" + query, headers=hs)

        r = get("h=Vary:Accept-Encoding")
        assert r.header_all("Vary") == ["Accept-Encoding, Origin"], r.headers
        r = get("h=Vary:accept-encoding,%20origin")
        assert r.header_all("Vary") == ["accept-encoding, origin"], r.headers
        r = get("h=Vary:*")
        assert r.header_all("Vary") == ["*"], r.headers
        r = get("h=Vary:Accept&h=Vary:Cookie")
        assert r.header_all("Vary") == ["Accept", "Cookie, Origin"], r.headers
        r = get("h=X:1", origin=None)  # a same-origin request: Vary all the same
        assert r.header_all("Vary") == ["Origin"], r.headers
        assert acl(r) == [], r.headers
        # the upstream's own CORS headers never reach the client beside gantry's
        up = ("h=Access-Control-Allow-Origin:*&h=access-control-allow-credentials:false"
              "&h=Access-Control-Expose-Headers:Secret&h=Access-Control-Max-Age:99")
        r = get(up)
        assert acl(r) == [
            ("access-control-allow-origin", APP),
            ("access-control-allow-credentials", "true"),
            ("access-control-expose-headers", "X-Request-ID, Retry-After"),
        ], r.headers
        r = get(up, origin=EVIL)
        assert acl(r) == [], r.headers
        r = get(up, origin=None)
        assert acl(r) == [], r.headers


def test_cors_lines_once_and_first_with_or_without_other_stages_state():
    # A request that needs nothing of its own (an exact origin, no Origin, a refused one) takes
    # no stage state: its lines come from an answer hook; with a rate limit, the limit takes
    # state and the chain's on_response adds them. An origin allowed by a pattern keeps its
    # own state. Either way: once, before the security headers, merged with the upstream's Vary.
    with Origin() as o:
        base = {"targets": [o.target()], "strip_prefix": True, "cors": FULL}
        services = [
            dict(base, name="plain", prefix="/plain"),
            dict(base, name="limited", prefix="/limited",
                 rate_limit={"limits": [{"limit": 1000000, "period": "1s"}]}),
        ]
        with Gantry(config(o, services=services)) as g:
            for svc in ("plain", "limited"):
                for origin in (APP, "https://a.b.example.org"):
                    r = request(g.port, "GET", "/%s/echo" % svc, headers=[("Origin", origin)])
                    assert r.status == 200, (svc, r.status)
                    names = [n.lower() for n, _ in r.headers]
                    assert r.header_all("Access-Control-Allow-Origin") == [origin], r.headers
                    assert names.count("access-control-allow-credentials") == 1, r.headers
                    assert r.header_all("Vary") == ["Origin"], r.headers
                    assert (names.index("access-control-allow-origin")
                            < names.index("x-content-type-options")), r.headers
                    r = request(g.port, "GET", "/%s/echo/v?h=Vary:Accept" % svc,
                                headers=[("Origin", origin)])
                    assert r.header_all("Vary") == ["Accept, Origin"], (svc, r.headers)
                    assert r.header_all("Access-Control-Allow-Origin") == [origin], r.headers
                for hs in ([], [("Origin", EVIL)]):
                    r = request(g.port, "GET", "/%s/echo" % svc, headers=hs)
                    assert acl(r) == [] and r.header_all("Vary") == ["Origin"], (svc, r.headers)


def test_gantrys_own_answers_carry_cors_headers():
    dead = "http://127.0.0.1:%d" % gwtest.free_port()
    with Origin() as o:
        services = [
            {"name": "limited", "prefix": "/limited", "strip_prefix": True,
             "targets": [o.target()], "cors": FULL,
             "rate_limit": {"limits": [{"limit": 1, "period": "1h", "burst": 1}]}},
            {"name": "dead", "prefix": "/dead", "targets": [dead], "cors": FULL,
             "retries": False},
        ]
        with Gantry(config(o, services=services)) as g:
            hs = [("Origin", APP)]
            assert request(g.port, "GET", "/limited/echo", headers=hs).status == 200
            r = request(g.port, "GET", "/limited/echo", headers=hs)
            assert_json_error(r, 429)
            assert r.header("Access-Control-Allow-Origin") == APP, r.headers
            assert r.header("Access-Control-Allow-Credentials") == "true", r.headers
            assert r.header("Access-Control-Expose-Headers") == "X-Request-ID, Retry-After"
            assert r.header("Retry-After"), r.headers
            assert r.header("Vary") == "Origin", r.headers
            # the limit counts preflights too (it comes first): a refused one is a 429
            r = preflight(g.port, "/limited/echo", APP)
            assert_json_error(r, 429)
            assert r.header("Access-Control-Allow-Origin") == APP, r.headers
            r = request(g.port, "GET", "/dead/x", headers=hs)
            assert_json_error(r, 502)
            assert r.header("Access-Control-Allow-Origin") == APP, r.headers
            # a refused origin's error: no CORS headers
            r = request(g.port, "GET", "/dead/x", headers=[("Origin", EVIL)])
            assert_json_error(r, 502)
            assert acl(r) == [] and r.header("Vary") == "Origin", r.headers
        # a body announced over the service's max_body_bytes is refused before the chain runs,
        # with the CORS headers all the same (and the connection closed: the body is not read)
        services[1]["limits"] = {"max_body_bytes": 1000}
        with Gantry(config(o, services=services)) as g:
            with HttpConn(g.port) as c:
                c.send_request("POST", "/dead/x", [("Origin", APP), ("Content-Length", "5000")])
                r = c.read_response()
            assert_json_error(r, 413)
            assert r.header("Access-Control-Allow-Origin") == APP, r.headers
            assert r.header("Vary") == "Origin", r.headers
            assert r.header("Connection") == "close", r.headers


def test_rules_per_route_and_inheritance():
    with Origin() as o:
        services = [
            {"name": "app", "prefix": "/app", "strip_prefix": True, "targets": [o.target()],
             "cors": {"rules": [
                 {"match": {"prefix": "/app/public"}, "origins": "*", "credentials": False},
                 {"match": {"prefix": "/app/echo/legacy"}, "enabled": False},
                 {"match": {"prefix": "/app/admin", "methods": ["DELETE"]},
                  "origins": "https://admin.example.com"},
             ]}},
            {"name": "plain", "prefix": "/plain", "targets": [o.target()]},
            {"name": "off", "prefix": "/off", "strip_prefix": True, "targets": [o.target()],
             "cors": False},
        ]
        cfg = config(o, services=services, cors={"origins": APP, "credentials": True})
        with Gantry(cfg) as g:
            # the gateway's section, inherited
            for path in ("/app/x", "/plain/x", "/app/admin/x"):
                r = preflight(g.port, path, APP)
                assert r.status == 204, (path, r)
                assert r.header("Access-Control-Allow-Credentials") == "true", r.headers
            r = preflight(g.port, "/app/public/x", EVIL)
            assert r.status == 204, r
            assert acl(r)[0] == ("access-control-allow-origin", "*"), r.headers
            assert r.header("Access-Control-Allow-Credentials") is None, r.headers
            # a rule matches a preflight by the method it asks about
            r = preflight(g.port, "/app/admin/x", "https://admin.example.com", "DELETE")
            assert r.status == 204, r
            assert_json_error(preflight(g.port, "/app/admin/x", APP, "DELETE"), 403)
            o.reset_stats()
            # CORS off for a route or a service: the upstream answers its preflights, and its
            # own CORS headers pass unchanged
            for path in ("/app/echo/legacy", "/off/echo/legacy"):
                r = preflight(g.port, path + "?h=Access-Control-Allow-Origin:*", EVIL)
                assert r.status == 200, (path, r)
                assert r.json()["method"] == "OPTIONS", r.body
                assert acl(r) == [("access-control-allow-origin", "*")], (path, r.headers)
                assert r.header("Vary") is None, r.headers
            assert o.stats()["requests"] == 2


def test_preflight_reaches_a_service_that_restricts_methods():
    with Origin() as o:
        services = [
            {"name": "ro", "prefix": "/ro", "methods": ["GET"], "targets": [o.target()]},
            {"name": "rw", "prefix": "/rw", "methods": ["GET", "PUT"], "targets": [o.target()],
             "cors": {"origins": APP}},
        ]
        with Gantry(config(o, services=services)) as g:
            r = preflight(g.port, "/rw/x", APP, "PUT")
            assert r.status == 204, (r, r.body)
            # the method it asks about is not the service's: as any request of that method
            assert_json_error(preflight(g.port, "/rw/x", APP, "DELETE"), 405)
            # an OPTIONS that is not a preflight is routed as itself
            r = request(g.port, "OPTIONS", "/rw/x", headers=[("Origin", APP)])
            assert_json_error(r, 405)
            # a service without CORS: its preflights are OPTIONS requests like any other
            assert_json_error(preflight(g.port, "/ro/x", APP, "GET"), 405)
        assert o.stats()["requests"] == 0


def test_config_refuses_star_with_credentials():
    path = os.path.join(gwtest._mkdtemp("cors"), "star.json")
    with open(path, "w") as f:
        f.write('{"cors": {"origins": "*", "credentials": true},\n'
                ' "services": [{"name": "s", "prefix": "/", "targets": ["http://127.0.0.1:1"]}]}\n')
    r = gwtest.run_gantry(["check", path])
    assert r.returncode == 1, (r.stdout, r.stderr)
    out = r.stdout + r.stderr
    assert "star.json:1:42: cors.credentials: origins \"*\" with credentials true" in out, out


if __name__ == "__main__":
    gwtest.main(globals())
