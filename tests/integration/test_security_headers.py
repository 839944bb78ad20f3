#!/usr/bin/env python3
"""Security headers (issue 16), through the real binary: on by default on proxied responses and
on gantry's own answers (404 before routing, 400 parse errors, 503 at the connection limit, the
probes, 403/429/401 from other stages, 502 after the chain), modes if_absent and override, a
header's own mode, per service and per route changes and "off", the Server header hidden, kept
or set, HSTS never over plain HTTP, and reload. Source: docs/config.md "Security headers".
"""

import re
import signal
import urllib.parse

import gwtest
from gwtest import Gantry, HttpConn, Origin, assert_json_error, request

CSP = ("default-src 'self'; base-uri 'self'; font-src 'self' https: data:; form-action 'self'; "
       "frame-ancestors 'self'; img-src 'self' data:; object-src 'none'; script-src 'self'; "
       "script-src-attr 'none'; style-src 'self' https: 'unsafe-inline'")
DEFAULTS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": CSP,
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
ALL = list(DEFAULTS) + ["Strict-Transport-Security", "Permissions-Policy",
                        "Cross-Origin-Embedder-Policy"]


def svc(name, prefix, origin, **extra):
    s = {"name": name, "prefix": prefix, "targets": [origin.target()]}
    s.update(extra)
    return s


def config(*services, **top):
    cfg = {"workers": 1, "services": list(services), "log": {"access": "off"}}
    cfg.update(top)
    return cfg


def with_headers(path, *headers):
    """path with ?h=Name:Value options: the origin adds those response headers."""
    q = "&".join("h=" + urllib.parse.quote(h, safe="") for h in headers)
    return path + ("&" if "?" in path else "?") + q if q else path


def sec(r):
    """The security headers of r as {name: [values]} (each list as sent, in order)."""
    names = ALL + ["Server"]
    return {n: r.header_all(n) for n in names if r.header_all(n)}


def assert_defaults(r, server=None):
    got = sec(r)
    want = {n: [v] for n, v in DEFAULTS.items()}
    if server:
        want["Server"] = [server]
    assert got == want, (got, r.headers)


def assert_none(r, server=None):
    got = sec(r)
    want = {"Server": [server]} if server else {}
    assert got == want, (got, r.headers)


def open_served(g):
    """A keep-alive connection that completed one request (retried while the readiness
    probe's connection may still be closing inside gantry)."""

    def attempt():
        c = HttpConn(g.port, timeout=5)
        try:
            c.send_request("GET", "/echo/hold")
            r = c.read_response()
        except (ConnectionError, OSError):
            c.close()
            return None
        if r.status == 200 and r.header("Connection") is None:
            return c
        c.close()
        return None

    return gwtest.wait_until(attempt, 5, interval=0.05, message="a connection accepted")


# ---- defaults ----------------------------------------------------------------------------------


def test_defaults_on_proxied_responses_server_hidden():
    with Origin() as o, Gantry(config(svc("a", "/", o))) as g:
        r = g.request("GET", with_headers("/echo/x", "Server: Werkzeug/2.0 Python/3.9",
                                          "X-Powered-By: Express"))
        assert r.status == 200, r
        assert r.header("X-Origin-Port") == str(o.port)
        assert_defaults(r)
        # HSTS is never sent over plain HTTP
        assert r.header("Strict-Transport-Security") is None
        # only the Server header is hidden
        assert r.header("X-Powered-By") == "Express", r.headers
        # HEAD, a 204 and a 304 get them too; the body is untouched
        assert_defaults(g.request("HEAD", "/echo/x"))
        assert_defaults(g.request("GET", "/status/204"))
        assert_defaults(g.request("GET", "/status/304"))
        r = g.request("GET", "/bytes/100000", hash_body=True)
        assert r.body_len == 100000 and r.body_sha256 == gwtest.pattern_sha256(100000), r
        assert_defaults(r)
        # an upstream 5xx passes through with them
        assert_defaults(g.request("GET", "/status/503"))


def test_defaults_on_gantrys_own_answers_before_any_service():
    with Origin() as o, Gantry(config(svc("a", "/echo", o), max_connections=2)) as g:
        # 404: no route
        r = g.request("GET", "/nowhere")
        assert_json_error(r, 404)
        assert_defaults(r)
        # probes
        assert_defaults(g.request("GET", "/health"))
        assert_defaults(g.request("GET", "/ready"))
        # 400: a request that does not parse
        raw = gwtest.raw_exchange(g.port, b"GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n")
        head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        assert head.startswith("HTTP/1.1 400 "), head
        for n, v in DEFAULTS.items():
            assert "\r\n%s: %s" % (n, v) in head, head
        # OPTIONS *
        r = g.request("OPTIONS", "*")
        assert r.status == 200 and r.header("Allow"), r
        assert_defaults(r)
        # 503: a connection over max_connections, refused before any request
        held = []
        try:
            for _ in range(2):
                held.append(open_served(g))
            with HttpConn(g.port, timeout=5) as c3:
                r = c3.read_response()
                assert r.status == 503 and r.json()["error"] == "too many connections", r
                assert_defaults(r)
        finally:
            for c in held:
                c.close()


def test_defaults_on_gantrys_own_answers_for_a_service():
    with Origin() as o, Gantry(config(
            svc("limited", "/echo/limited", o,
                rate_limit={"limits": [{"limit": 1, "period": "1h"}]}),
            svc("private", "/echo/private", o, auth={}, ip_rules={"deny": "127.0.0.2"}),
            svc("small", "/echo/small", o, limits={"max_body_bytes": 10}, methods=["GET", "POST"]),
            {"name": "dead", "prefix": "/dead", "targets": ["http://127.0.0.1:%d" %
                                                           gwtest.free_port()]},
            auth={"jwt": {"keys": [{"alg": "HS256", "secret": "s" * 32}]}})) as g:
        # 429 with its rate-limit headers, 401 from authentication, 403 from the IP rules
        assert g.request("GET", "/echo/limited").status == 200
        r = g.request("GET", "/echo/limited")
        assert_json_error(r, 429)
        assert r.header("RateLimit-Limit") == "1", r.headers
        assert_defaults(r)
        r = g.request("GET", "/echo/private")
        assert_json_error(r, 401)
        assert_defaults(r)
        r = request(g.port, "GET", "/echo/private", source="127.0.0.2")
        assert_json_error(r, 403)
        assert_defaults(r)
        # 413 (before the chain), 405, 502 (after it)
        r = g.request("POST", "/echo/small", body=b"x" * 11)
        assert_json_error(r, 413)
        assert_defaults(r)
        r = g.request("DELETE", "/echo/small")
        assert_json_error(r, 405)
        assert_defaults(r)
        r = g.request("GET", "/dead")
        assert_json_error(r, 502)
        assert_defaults(r)


# ---- modes -------------------------------------------------------------------------------------


def test_if_absent_keeps_the_upstreams_own():
    with Origin() as o, Gantry(config(svc("a", "/", o))) as g:
        r = g.request("GET", with_headers("/echo/x", "X-Frame-Options: DENY",
                                          "content-security-policy: default-src 'none'",
                                          "Strict-Transport-Security: max-age=60"))
        got = sec(r)
        assert got["X-Frame-Options"] == ["DENY"], got
        assert got["Content-Security-Policy"] == ["default-src 'none'"], got
        # not gantry's to judge over plain HTTP: passed as it is
        assert got["Strict-Transport-Security"] == ["max-age=60"], got
        for n in ("X-Content-Type-Options", "Referrer-Policy", "Cross-Origin-Opener-Policy",
                  "Cross-Origin-Resource-Policy"):
            assert got[n] == [DEFAULTS[n]], got


def test_override_replaces_the_upstreams_and_a_header_may_have_its_own_mode():
    with Origin() as o, Gantry(config(svc("a", "/", o), security_headers={
            "mode": "override",
            "referrer_policy": {"value": "same-origin", "mode": "if_absent"},
            "x_frame_options": "DENY"})) as g:
        r = g.request("GET", with_headers(
            "/echo/x", "X-Frame-Options: ALLOWALL", "X-Frame-Options: SAMEORIGIN",
            "Content-Security-Policy: default-src *", "Referrer-Policy: unsafe-url",
            "X-Content-Type-Options: nosniff"))
        got = sec(r)
        assert got["X-Frame-Options"] == ["DENY"], got
        assert got["Content-Security-Policy"] == [CSP], got
        assert got["X-Content-Type-Options"] == ["nosniff"], got  # one, not two
        assert got["Referrer-Policy"] == ["unsafe-url"], got  # its own mode: if_absent
        # without the upstream's: gantry's
        got = sec(g.request("GET", "/echo/y"))
        assert got["Referrer-Policy"] == ["same-origin"], got
        assert got["X-Frame-Options"] == ["DENY"], got


# ---- levels ------------------------------------------------------------------------------------


def test_per_service_changes_and_off():
    with Origin() as o, Gantry(config(
            svc("default", "/echo/default", o),
            svc("changed", "/echo/changed", o, security_headers={
                "content_security_policy": "default-src 'none'; frame-ancestors 'none'",
                "x_frame_options": "DENY", "cross_origin_resource_policy": "cross-origin",
                "permissions_policy": "camera=(), microphone=()",
                "cross_origin_embedder_policy": "require-corp",
                "referrer_policy": False}),
            svc("off", "/echo/off", o, security_headers=False),
            {"name": "off-dead", "prefix": "/off-dead", "security_headers": False,
             "targets": ["http://127.0.0.1:%d" % gwtest.free_port()]})) as g:
        assert_defaults(g.request("GET", "/echo/default"))
        got = sec(g.request("GET", "/echo/changed"))
        assert got == {
            "X-Content-Type-Options": ["nosniff"],
            "X-Frame-Options": ["DENY"],
            "Content-Security-Policy": ["default-src 'none'; frame-ancestors 'none'"],
            "Permissions-Policy": ["camera=(), microphone=()"],
            "Cross-Origin-Opener-Policy": ["same-origin"],
            "Cross-Origin-Resource-Policy": ["cross-origin"],
            "Cross-Origin-Embedder-Policy": ["require-corp"],
        }, got
        # off: nothing added, nothing removed (the upstream's Server passes)
        r = g.request("GET", with_headers("/echo/off", "Server: Origin/1"))
        assert_none(r, server="Origin/1")
        r = g.request("GET", "/off-dead")
        assert_json_error(r, 502)
        assert_none(r)
        # gantry's answers before routing keep the gateway's
        assert_defaults(g.request("GET", "/nowhere"))


def test_gateway_off_and_a_service_that_sets_its_own():
    with Origin() as o, Gantry(config(
            svc("plain", "/echo/plain", o),
            svc("framed", "/echo/framed", o, security_headers={"x_frame_options": "DENY"}),
            security_headers=False)) as g:
        assert_none(g.request("GET", "/nowhere"))
        assert_none(g.request("GET", "/health"))
        assert_none(g.request("GET", with_headers("/echo/plain", "Server: S")), server="S")
        r = g.request("GET", with_headers("/echo/framed", "Server: S"))
        got = sec(r)
        assert got == {"X-Frame-Options": ["DENY"], "Server": ["S"]}, got


def test_rules_per_route():
    with Origin() as o, Gantry(config(svc("web", "/echo", o, ip_rules={"deny": "127.0.0.2"},
                                          security_headers={
            "x_frame_options": "DENY",
            "rules": [
                {"match": {"prefix": "/echo/embed"}, "x_frame_options": False,
                 "content_security_policy": "frame-ancestors https://partner.example"},
                {"match": {"prefix": "/echo/embed/raw"}, "enabled": False},
                {"match": {"prefix": "/echo/api", "methods": "POST"}, "mode": "override",
                 "x_content_type_options": {"value": "nosniff"}},
            ]}))) as g:
        got = sec(g.request("GET", "/echo/embed/widget"))
        assert "X-Frame-Options" not in got, got
        assert got["Content-Security-Policy"] == ["frame-ancestors https://partner.example"]
        assert got["X-Content-Type-Options"] == ["nosniff"], got
        # the longest matching prefix wins
        assert_none(g.request("GET", "/echo/embed/raw/x"))
        assert sec(g.request("GET", "/echo/other"))["X-Frame-Options"] == ["DENY"]
        # a rule's match takes methods: POST overrides, GET keeps the upstream's
        path = with_headers("/echo/api", "X-Frame-Options: SAMEORIGIN")
        assert sec(g.request("POST", path, body=b""))["X-Frame-Options"] == ["DENY"]
        assert sec(g.request("GET", path))["X-Frame-Options"] == ["SAMEORIGIN"]
        # rules match the normalised path
        assert_none(g.request("GET", "/echo/embed/x/../raw/y"))
        # gantry's own answers given before the stage ran (a 403 from the IP rules) follow the
        # route's rule too
        r = request(g.port, "GET", "/echo/embed/raw/x", source="127.0.0.2")
        assert_json_error(r, 403)
        assert_none(r)
        r = request(g.port, "GET", "/echo/embed/w", source="127.0.0.2")
        assert_json_error(r, 403)
        assert sec(r)["Content-Security-Policy"] == ["frame-ancestors https://partner.example"]
        r = request(g.port, "GET", "/echo/other", source="127.0.0.2")
        assert sec(r)["X-Frame-Options"] == ["DENY"]


def test_after_response_transformations():
    # Transformations run first: a header they set counts as present (if_absent keeps it), one
    # they remove is gone for good, and what they add to gantry's own answers is seen too.
    with Origin() as o, Gantry(config(
            svc("soft", "/echo/soft", o, transform={"response": {"headers": {
                "set": {"X-Frame-Options": "DENY", "Server": "edge"},
                "remove": ["X-Content-Type-Options"]}}}),
            svc("hard", "/echo/hard", o, security_headers={"mode": "override"},
                transform={"response": {"headers": {"set": {"X-Frame-Options": "DENY"}}}}),
            {"name": "dead", "prefix": "/dead", "targets": ["http://127.0.0.1:%d" %
                                                           gwtest.free_port()],
             "transform": {"response": {"headers": {"set": {"Referrer-Policy": "origin"}}}}})) as g:
        got = sec(g.request("GET", with_headers("/echo/soft", "X-Content-Type-Options: nosniff",
                                                "Server: origin")))
        assert got["X-Frame-Options"] == ["DENY"], got
        assert got["X-Content-Type-Options"] == ["nosniff"], got  # removed, then gantry's
        assert "Server" not in got, got  # hidden, whoever set it
        got = sec(g.request("GET", "/echo/hard"))
        assert got["X-Frame-Options"] == ["SAMEORIGIN"], got  # override: gantry's wins
        r = g.request("GET", "/dead")
        assert_json_error(r, 502)
        assert sec(r)["Referrer-Policy"] == ["origin"], r.headers


def test_on_compressed_and_streamed_answers():
    # A compressed answer is framed differently (its body rewritten as it flows): it carries
    # the headers all the same.
    with Origin() as o, Gantry(config(svc("a", "/", o), compression={
            "types": ["application/octet-stream", "application/json"], "min_length": 0})) as g:
        r = g.request("GET", with_headers("/bytes/5000", "Server: origin"),
                      headers={"Accept-Encoding": "gzip"})
        assert r.status == 200 and r.header("Content-Encoding") == "gzip", r.headers
        assert_defaults(r)


# ---- Server ------------------------------------------------------------------------------------


def test_server_kept_set_or_replaced():
    with Origin() as o, Gantry(config(
            svc("keep", "/echo/keep", o, security_headers={"server": "keep"}),
            svc("set", "/echo/set", o),
            svc("set-if-absent", "/echo/soft", o, security_headers={
                "server": {"value": "edge", "mode": "if_absent"}}),
            svc("hide", "/echo/hide", o, security_headers={"server": "hide"}),
            security_headers={"server": "gantry", "mode": "override"})) as g:
        up = "Server: Origin/1.0"
        assert sec(g.request("GET", with_headers("/echo/keep", up)))["Server"] == ["Origin/1.0"]
        assert sec(g.request("GET", with_headers("/echo/set", up)))["Server"] == ["gantry"]
        assert sec(g.request("GET", "/echo/set"))["Server"] == ["gantry"]
        assert sec(g.request("GET", with_headers("/echo/soft", up)))["Server"] == ["Origin/1.0"]
        assert sec(g.request("GET", "/echo/soft"))["Server"] == ["edge"]
        assert "Server" not in sec(g.request("GET", with_headers("/echo/hide", up)))
        # gantry's own answers carry the gateway's value
        r = g.request("GET", "/nowhere")
        assert sec(r)["Server"] == ["gantry"], r.headers


def test_reload_changes_the_headers():
    with Origin() as o:
        cfg = config(svc("a", "/", o))
        with Gantry(cfg) as g:
            assert_defaults(g.request("GET", "/echo/x"))
            offset = len(g.stderr())
            g.write_config(dict(config(svc("a", "/", o), security_headers={
                "x_frame_options": "DENY"}), listen=g.config["listen"]))
            g.signal(signal.SIGHUP)
            gwtest.wait_until(lambda: re.search("configuration reloaded", g.stderr()[offset:]),
                              15, message="reload line")
            assert sec(g.request("GET", "/echo/x"))["X-Frame-Options"] == ["DENY"]
            assert sec(g.request("GET", "/nowhere"))["X-Frame-Options"] == ["DENY"]


if __name__ == "__main__":
    gwtest.main(globals())
