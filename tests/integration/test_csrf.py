#!/usr/bin/env python3
"""The CSRF check through the real binary (docs/cors.md, "CSRF"): off by default; when on,
unsafe methods (POST, PUT, PATCH, DELETE) whose Origin, or when absent whose Referer, is not
trusted are refused with 403 JSON before authentication and never reach the upstream; trusted
are the request's own host, csrf.origins (exact, wildcard, "null") and the service's CORS
origins; safe methods pass; a request with neither header passes unless no_origin is "refuse";
rules per route (a webhook exempted), gateway-wide defaults, a service that turns it off."""

import gwtest
from gwtest import Gantry, Origin, assert_json_error, request

APP = "https://app.example.com"
EVIL = "https://evil.example.net"


def config(o, services, **top):
    cfg = {
        "listen": "127.0.0.1:%d" % gwtest.free_port(),
        "workers": 1,
        "log": {"access": "off"},
        "services": services,
    }
    cfg.update(top)
    return cfg


def svc(o, name, csrf=None, **more):
    s = {"name": name, "prefix": "/" + name, "strip_prefix": True, "targets": [o.target()]}
    if csrf is not None:
        s["csrf"] = csrf
    s.update(more)
    return s


def post(g, path, headers=(), method="POST", host=None):
    hs = list(headers) + ([("Host", host)] if host else [])
    return request(g.port, method, path, headers=hs, body=b"{}")


def refused(r, reason):
    body = assert_json_error(r, 403)
    assert body["error"] == "cross-site request refused", body
    assert body["reason"] == reason, body


def test_off_by_default():
    with Origin() as o, Gantry(config(o, [svc(o, "open")])) as g:
        r = post(g, "/open/echo", [("Origin", EVIL)])
        assert r.status == 200, r


def test_unsafe_methods_from_untrusted_origins_are_refused():
    with Origin() as o:
        services = [svc(o, "app", {"origins": ["https://partner.example.com",
                                               "https://*.example.org"]})]
        with Gantry(config(o, services)) as g:
            o.reset_stats()
            for method in ("POST", "PUT", "PATCH", "DELETE"):
                r = post(g, "/app/echo", [("Origin", EVIL)], method=method)
                refused(r, "the request's Origin is not a trusted origin")
            refused(post(g, "/app/echo", [("Origin", "null")]),
                    "the request's Origin is not a trusted origin")
            refused(post(g, "/app/echo", [("Origin", "https://example.org")]),
                    "the request's Origin is not a trusted origin")
            refused(post(g, "/app/echo", [("Origin", "not an origin")]),
                    "the Origin header is not an origin")
            assert o.stats()["requests"] == 0  # none reached the upstream
            # safe methods are never checked (a GET must not change anything)
            for method in ("GET", "HEAD", "OPTIONS"):
                r = request(g.port, method, "/app/echo", headers=[("Origin", EVIL)])
                assert r.status == 200, (method, r)
            # trusted: listed, a wildcard, and the request's own host (the target origin)
            for origin, host in [("https://partner.example.com", None),
                                 ("https://a.b.example.org", None),
                                 ("https://shop.example.com", "shop.example.com"),
                                 ("http://127.0.0.1:%d" % g.port, "127.0.0.1:%d" % g.port)]:
                r = post(g, "/app/echo", [("Origin", origin)], host=host)
                assert r.status == 200, (origin, r, r.body)
            # the target origin's port must be the Host's
            refused(post(g, "/app/echo", [("Origin", "https://shop.example.com:8443")],
                         host="shop.example.com"),
                    "the request's Origin is not a trusted origin")


def test_referer_when_there_is_no_origin():
    with Origin() as o:
        services = [svc(o, "app", {"origins": APP})]
        with Gantry(config(o, services)) as g:
            r = post(g, "/app/echo", [("Referer", APP + "/settings?tab=1")])
            assert r.status == 200, r
            refused(post(g, "/app/echo", [("Referer", EVIL + "/attack.html")]),
                    "the request's Referer is not from a trusted origin")
            refused(post(g, "/app/echo", [("Referer", "/relative")]),
                    "the Referer header is not an absolute URL")
            # Origin wins over Referer
            refused(post(g, "/app/echo", [("Origin", EVIL), ("Referer", APP + "/")]),
                    "the request's Origin is not a trusted origin")


def test_requests_without_origin_or_referer():
    with Origin() as o:
        services = [svc(o, "lenient", {"origins": APP}),
                    svc(o, "strict", {"origins": APP, "no_origin": "refuse"})]
        with Gantry(config(o, services)) as g:
            # not a page in a browser (curl, a server, an app): allowed by default
            assert post(g, "/lenient/echo").status == 200
            refused(post(g, "/strict/echo"), "the request has neither Origin nor Referer")
            assert post(g, "/strict/echo", [("Origin", APP)]).status == 200


def test_cors_origins_are_trusted():
    with Origin() as o:
        services = [
            svc(o, "spa", True, cors={"origins": [APP], "credentials": True}),
            svc(o, "public", True, cors={"origins": "*"}),
        ]
        with Gantry(config(o, services)) as g:
            r = post(g, "/spa/echo", [("Origin", APP)])
            assert r.status == 200, r
            assert r.header("Access-Control-Allow-Origin") == APP
            r = post(g, "/spa/echo", [("Origin", EVIL)])
            refused(r, "the request's Origin is not a trusted origin")
            # "*" lets anyone read; it does not make anyone trusted to write
            refused(post(g, "/public/echo", [("Origin", EVIL)]),
                    "the request's Origin is not a trusted origin")


def test_check_comes_before_authentication():
    auth = {"jwt": {"keys": [{"alg": "HS256", "secret": "s" * 32}]}}
    with Origin() as o:
        services = [svc(o, "acct", {"origins": APP}, auth={})]
        with Gantry(config(o, services, auth=auth)) as g:
            # a forged request is refused as such, whatever its cookies
            refused(post(g, "/acct/echo", [("Origin", EVIL), ("Cookie", "session=abc")]),
                    "the request's Origin is not a trusted origin")
            assert_json_error(post(g, "/acct/echo", [("Origin", APP)]), 401)


def test_rules_gateway_defaults_and_off():
    with Origin() as o:
        services = [
            svc(o, "shop", {"rules": [
                {"match": {"prefix": "/shop/echo/webhooks"}, "enabled": False},
                {"match": {"prefix": "/shop/echo/partner", "methods": ["PUT"]},
                 "origins": "https://partner.example.com"},
            ]}),
            svc(o, "plain"),
            svc(o, "internal", False),
        ]
        cfg = config(o, services, csrf={"origins": APP})
        with Gantry(cfg) as g:
            for path in ("/shop/echo/x", "/plain/echo/x"):
                refused(post(g, path, [("Origin", EVIL)]),
                        "the request's Origin is not a trusted origin")
                assert post(g, path, [("Origin", APP)]).status == 200
            r = post(g, "/shop/echo/webhooks/stripe", [("Origin", EVIL)])
            assert r.status == 200, r
            r = post(g, "/internal/echo/x", [("Origin", EVIL)])
            assert r.status == 200, r
            partner = [("Origin", "https://partner.example.com")]
            assert post(g, "/shop/echo/partner/1", partner, method="PUT").status == 200
            refused(post(g, "/shop/echo/partner/1", [("Origin", APP)], method="PUT"),
                    "the request's Origin is not a trusted origin")
            refused(post(g, "/shop/echo/partner/1", partner),  # POST: not the rule's method
                    "the request's Origin is not a trusted origin")


if __name__ == "__main__":
    gwtest.main(globals())
