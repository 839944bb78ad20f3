#!/usr/bin/env python3
"""Routing through the real binary: longest prefix on segment boundaries, strip_prefix,
host (exact, wildcard, any) and method matching with 404/405, path normalisation before
routing, absolute-form targets, 10,000 services, and `gantry check` error locations."""

import json
import os
import random
import re
import time

import gwtest
from gwtest import Gantry, HttpConn, Origin, request

ID_RE = re.compile(r"^[0-9a-f]{32}$")


def routing_config(o):
    t = [o.target()]
    services = [
        {"name": "api", "prefix": "/api", "targets": t},
        {"name": "users", "prefix": "/api/users", "targets": t},
        {"name": "strip", "prefix": "/strip/users", "strip_prefix": True, "targets": t},
        {"name": "items", "prefix": "/v1/items", "targets": t},  # no /v1, no /
        {"name": "h-exact", "prefix": "/h", "hosts": ["api.example.com"], "targets": t},
        {"name": "h-wild", "prefix": "/h", "hosts": "*.example.com", "targets": t},
        {"name": "h-any", "prefix": "/h", "targets": t},
        {"name": "ro", "prefix": "/ro", "methods": ["GET"], "targets": t},
        {"name": "rw-get", "prefix": "/rw", "methods": "GET", "targets": t},
        {"name": "rw-write", "prefix": "/rw", "methods": ["post", "DELETE"], "targets": t},
        {"name": "multi", "prefix": ["/m1", "/m2/x/"], "targets": t},
    ]
    return gwtest.simple_config(o, services=services,
                                log={"access": "stdout", "access_format": "json"},
                                timeouts={"client_header": "5s", "client_idle": "10s"})


class Router:
    """A gantry on routing_config and its origin; route() says who served a request."""

    def __init__(self, g, o):
        self.g = g
        self.o = o

    def access(self, rid):
        """The JSON access-log entry of request id rid."""
        m = self.g.wait_log(r'(?m)^\{.*"request_id":"%s".*\}$' % re.escape(rid))
        return json.loads(m.group(0))

    def route(self, method, target, host="127.0.0.1", raw=None):
        """(response, service name or None, target the origin saw or None)."""
        if raw is None:
            r = request(self.g.port, method, target, headers=[("Host", host)])
        else:
            with HttpConn(self.g.port) as c:
                c.send(raw)
                r = c.read_response(head=(method == "HEAD"))
        rid = r.header("X-Request-ID")
        assert rid, r.headers
        entry = self.access(rid)
        svc = None if entry["service"] == "-" else entry["service"]
        up = None
        if r.header("X-Origin-Port"):
            last = self.o.last_requests()[-1]
            assert last["method"] == method, last
            up = last
        else:
            assert svc is None, (svc, r)
        return r, svc, up

    def expect(self, method, target, service, upstream_target=None, host="127.0.0.1"):
        r, svc, up = self.route(method, target, host)
        assert svc == service, (method, target, host, "served by %r, want %r" % (svc, service))
        assert up is not None, (method, target, r)
        if upstream_target is not None:
            assert up["target"] == upstream_target, (target, up["target"], upstream_target)
        return r, up

    def expect_error(self, method, target, status, host="127.0.0.1"):
        r, svc, up = self.route(method, target, host)
        assert r.status == status, (method, target, host, r, r.body)
        assert svc is None and up is None, (target, svc, up)
        body = r.json()
        assert body["status"] == status and body["request_id"] == r.header("X-Request-ID"), body
        assert ID_RE.match(body["request_id"]), body
        assert r.header("Content-Type") == "application/json", r.headers
        return r


def with_router(fn):
    with Origin() as o, Gantry(routing_config(o)) as g:
        fn(Router(g, o))


# ---- prefixes -------------------------------------------------------------------------------


def test_longest_prefix_on_segment_boundaries():
    def run(rt):
        rt.expect("GET", "/api", "api", "/api")
        rt.expect("GET", "/api/", "api", "/api/")
        rt.expect("GET", "/api/orders/1", "api", "/api/orders/1")
        rt.expect("GET", "/api/users", "users", "/api/users")
        rt.expect("GET", "/api/users/", "users", "/api/users/")
        rt.expect("GET", "/api/users/7?q=1", "users", "/api/users/7?q=1")
        # /api/usersX and /api/users.json are not under /api/users: the shorter /api wins
        rt.expect("GET", "/api/usersX", "api", "/api/usersX")
        rt.expect("GET", "/api/users.json", "api", "/api/users.json")
        # where no shorter prefix exists, the segment boundary gives a clean 404
        rt.expect("GET", "/v1/items", "items", "/v1/items")
        rt.expect("GET", "/v1/items/3", "items", "/v1/items/3")
        for path in ("/v1/itemsX", "/v1/items.json", "/v1", "/v1/", "/apiX", "/", "/ap",
                     "/API/users", "/m2/xy", "/m2", "/m2/y"):
            rt.expect_error("GET", path, 404)
        # a service with several prefixes
        rt.expect("GET", "/m1", "multi", "/m1")
        rt.expect("GET", "/m1/z", "multi", "/m1/z")
        rt.expect("GET", "/m2/x/z", "multi", "/m2/x/z")
        rt.expect("GET", "/m2/x", "multi", "/m2/x")
    with_router(run)


def test_strip_prefix():
    def run(rt):
        rt.expect("GET", "/strip/users/7?q=1", "strip", "/7?q=1")
        rt.expect("GET", "/strip/users", "strip", "/")
        rt.expect("GET", "/strip/users/", "strip", "/")
        rt.expect("GET", "/strip/users?x=1&y", "strip", "/?x=1&y")
        rt.expect("GET", "/strip/users/a/b/", "strip", "/a/b/")
        rt.expect("POST", "/strip/users/new", "strip", "/new")
        rt.expect_error("GET", "/strip/usersX", 404)
        rt.expect_error("GET", "/strip", 404)
    with_router(run)


# ---- hosts and methods ----------------------------------------------------------------------


def test_host_matching():
    def run(rt):
        for host, svc in [
            ("api.example.com", "h-exact"),
            ("API.Example.COM:8443", "h-exact"),
            ("api.example.com.", "h-exact"),
            ("a.example.com", "h-wild"),
            ("x.y.example.com:80", "h-wild"),
            ("www.EXAMPLE.com", "h-wild"),
            ("example.com", "h-any"),          # a wildcard needs a label before its suffix
            ("notexample.com", "h-any"),       # suffix on a label boundary only
            ("example.com.evil.org", "h-any"),
            ("127.0.0.1", "h-any"),
            ("[::1]:8080", "h-any"),
        ]:
            rt.expect("GET", "/h/x", svc, "/h/x", host=host)
        # a host group without the path falls through to the any-host routes
        rt.expect("GET", "/api/users/1", "users", "/api/users/1", host="api.example.com")
        rt.expect("GET", "/api/users/1", "users", "/api/users/1", host="a.example.com")
        rt.expect_error("GET", "/nothing", 404, host="api.example.com")
    with_router(run)


def test_method_matching_and_405():
    def run(rt):
        rt.expect("GET", "/ro/1", "ro", "/ro/1")
        r, up = rt.expect("HEAD", "/ro/1", "ro", "/ro/1")  # HEAD comes with GET
        for m in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND"):
            r = rt.expect_error(m, "/ro/1", 405)
            allow = {a.strip() for a in r.header("Allow", "").split(",")}
            assert allow == {"GET", "HEAD"}, (m, r.headers)
        rt.expect("GET", "/rw", "rw-get", "/rw")
        rt.expect("HEAD", "/rw", "rw-get", "/rw")
        rt.expect("POST", "/rw/1", "rw-write", "/rw/1")
        rt.expect("DELETE", "/rw/1", "rw-write", "/rw/1")
        for m in ("PUT", "PATCH", "PROPFIND"):
            r = rt.expect_error(m, "/rw/1", 405)
            allow = {a.strip() for a in r.header("Allow", "").split(",")}
            assert allow == {"GET", "HEAD", "POST", "DELETE"}, (m, r.headers)
        # a method mismatch never falls back to the shorter prefix (/api has any method,
        # but it is not a prefix of /rw; use /api/users vs /api for a real check)
        rt.expect("PROPFIND", "/api/users/1", "users", "/api/users/1")
        # no route at all is 404, whatever the method
        rt.expect_error("PUT", "/nothing", 404)
    with_router(run)


# ---- normalisation --------------------------------------------------------------------------


def test_path_normalised_before_routing_and_forwarding():
    # Routing uses the normalised path; what goes upstream is the client's own spelling of
    # each segment that normalisation keeps (dot segments and "//" resolved, escapes as sent).
    def run(rt):
        cases = [
            ("/api/admin/../users", "users", "/api/users"),
            ("/api/admin/../users/7?q=1", "users", "/api/users/7?q=1"),
            ("/api/%2e%2e/api/users/1", "users", "/api/users/1"),
            ("/api/%2E%2e/api/users", "users", "/api/users"),
            ("/api/x/%2e%2E/users/2", "users", "/api/users/2"),
            ("//api//users///3", "users", "/api/users/3"),
            ("/api/./users/./4", "users", "/api/users/4"),
            ("/api/%2e/users/5", "users", "/api/users/5"),
            ("/api/%75sers/6", "users", "/api/%75sers/6"),
            ("/api/users/a%3fb", "users", "/api/users/a%3fb"),
            ("/api/users/x?a=/../b&c=%2F", "users", "/api/users/x?a=/../b&c=%2F"),
            ("/strip/../api/users", "users", "/api/users"),
            ("/../../api/users", "users", "/api/users"),
            ("/v1/items/../../api", "api", "/api"),
            ("/api/users/../../strip/users/9", "strip", "/9"),
            ("/h/../v1/items/.", "items", "/v1/items/"),
        ]
        for target, svc, up in cases:
            rt.expect("GET", target, svc, up)
        # after normalisation nothing matches: 404, not a route chosen on the raw path
        rt.expect_error("GET", "/api/users/../../v1", 404)
        for bad in ("/api/users%2F7", "/api/users/%2f", "/api/users/%5C", "/api/users/a%00",
                    "/api/users/%zz", "/api/users/..;/x", "/api/users/%2e%2e%3b/x"):
            rt.expect_error("GET", bad, 400)
        assert all(q["target"] != "/api/users%2F7" for q in rt.o.last_requests())
    with_router(run)


def test_client_spelling_of_the_path_is_forwarded():
    # Signed URLs (S3, CloudFront, HMAC-signed webhooks) sign the path as the client spelled
    # it: gantry routes and decides on the normalised path, but forwards the client's bytes
    # of every segment it keeps (as nginx and HAProxy do), also after strip_prefix, which
    # strips the prefix's segments from that spelling.
    def run(rt):
        cases = [
            ("/api/users/%7Efoo/%41b?x=%7E", "users", "/api/users/%7Efoo/%41b?x=%7E"),
            ("/api/users/%7efoo/%41b?x=%7e", "users", "/api/users/%7efoo/%41b?x=%7e"),
            ("/%61pi/%75sers/%7Efoo", "users", "/%61pi/%75sers/%7Efoo"),
            ("/api/users/x/../%7Efoo//%41b/./", "users", "/api/users/%7Efoo/%41b/"),
            ("/api/users/%7Efoo/%2e%2E/%41b", "users", "/api/users/%41b"),
            ("/api/users/%e2%82%ac;v=%7E", "users", "/api/users/%e2%82%ac;v=%7E"),
            # strip_prefix: the prefix /strip/users is two segments, whatever their spelling
            ("/strip/users/%7Efoo/%41b?x=%7E", "strip", "/%7Efoo/%41b?x=%7E"),
            ("/%73trip/user%73/%7Efoo/%41b?x=%7E", "strip", "/%7Efoo/%41b?x=%7E"),
            ("/strip//users/./%7Efoo", "strip", "/%7Efoo"),
            ("/api/../strip/users/a/../%7E", "strip", "/%7E"),
            ("/strip/%75sers", "strip", "/"),
            ("/strip/users/", "strip", "/"),
            ("/strip/users?q=%7E", "strip", "/?q=%7E"),
        ]
        for target, svc, up in cases:
            rt.expect("GET", target, svc, up)
        # absolute-form: the path's spelling is kept there too
        raw = (b"GET http://example.net/api/users/%7Efoo/%41b?x=%7E HTTP/1.1\r\n"
               b"Host: example.net\r\nConnection: close\r\n\r\n")
        r, svc, up = rt.route("GET", "http://example.net/api/users/%7Efoo/%41b?x=%7E", raw=raw)
        assert svc == "users" and up["target"] == "/api/users/%7Efoo/%41b?x=%7E", (svc, up)
        # an encoded slash is no separator and no character: still refused, never forwarded
        rt.expect_error("GET", "/api/users/%7Efoo%2F%41b", 400)
    with_router(run)


def test_absolute_form_target_routes_on_its_host_and_path():
    def run(rt):
        def absolute(url, host_header):
            raw = ("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                   % (url, host_header)).encode()
            return rt.route("GET", url, raw=raw)

        r, svc, up = absolute("http://example.net/api/users/5?x=1", "example.net")
        assert svc == "users" and up["target"] == "/api/users/5?x=1", (svc, up)
        # the authority picks the host routes, not the Host header
        r, svc, up = absolute("http://api.example.com/h/x", "api.example.com")
        assert svc == "h-exact" and up["target"] == "/h/x", (svc, up)
        r, svc, up = absolute("http://a.example.com:8080/h/y?z", "a.example.com:8080")
        assert svc == "h-wild" and up["target"] == "/h/y?z", (svc, up)
        # the path is normalised as for origin-form
        r, svc, up = absolute("http://example.net/api/admin/../users", "example.net")
        assert svc == "users" and up["target"] == "/api/users", (svc, up)
        r, svc, up = absolute("http://example.net/v1/itemsX", "example.net")
        assert r.status == 404 and svc is None and up is None, r
        # RFC 9110 7.2: a Host that disagrees with the authority is ignored for routing,
        # and the Host sent upstream is generated from the authority
        r, svc, up = absolute("http://api.example.com/h/z", "other.org")
        assert svc == "h-exact", (svc, r)
        hosts = [v for n, v in up["headers"] if n.lower() == "host"]
        assert hosts == ["api.example.com"], (
            "upstream Host for an absolute-form target: %r" % hosts)
    with_router(run)


# ---- 10,000 services ------------------------------------------------------------------------


@gwtest.timeout(170)
def test_ten_thousand_services():
    n = 10000
    with Origin() as o:
        t = [o.target()]
        services = [{"name": "svc%d" % i, "prefix": "/svc/%d" % i, "strip_prefix": False,
                     "targets": t} for i in range(n)]
        config = gwtest.simple_config(o, services=services,
                                      log={"access": "stdout", "access_format": "json"})
        t0 = time.monotonic()
        g = Gantry(config, ready_timeout=120)
        startup = time.monotonic() - t0
        print("gantry with %d services: ready in %.3f s (config %d bytes)"
              % (n, startup, os.path.getsize(g.config_path)))
        with g:
            rng = random.Random(1234)
            picks = [rng.randrange(n) for _ in range(200)] + [0, n - 1]
            ids = {}
            t1 = time.monotonic()
            with HttpConn(g.port, timeout=30) as c:
                for k in picks:
                    path = "/svc/%d/x" % k
                    c.send_request("GET", path)
                    r = c.read_response()
                    # the origin answers 404 for anything but its endpoints: its 404 has
                    # X-Origin-Port and the target it received
                    assert r.status == 404 and r.header("X-Origin-Port") == str(o.port), (k, r)
                    assert r.json()["path"] == path, (k, r.json())
                    ids[r.header("X-Request-ID")] = "svc%d" % k
                for path in ("/svc/%d" % n, "/svc/%d/x" % n, "/svc/01", "/svc", "/svc/-1"):
                    c.send_request("GET", path)
                    r = c.read_response()
                    assert r.status == 404 and r.header("X-Origin-Port") is None, (path, r)
                    assert r.json()["status"] == 404
            print("%d routed requests in %.3f s" % (len(picks), time.monotonic() - t1))
            assert o.stats()["requests"] == len(picks)
            # each request was served by the service of its prefix (access log)
            last = picks and list(ids)[-1]
            g.wait_log(r'"request_id":"%s"' % last)
            served = {}
            for line in g.stdout().splitlines():
                if line.startswith("{"):
                    e = json.loads(line)
                    served[e["request_id"]] = e["service"]
            wrong = {rid: (svc, served.get(rid)) for rid, svc in ids.items()
                     if served.get(rid) != svc}
            assert not wrong, list(wrong.items())[:5]


# ---- gantry check ---------------------------------------------------------------------------

BROKEN = """{
    "listen": "127.0.0.1:8000",
    "workers": [4],
    "services": [
        {
            "name": "a",
            "prefix": "/a",
            "prefx": "/b",
            "targets": [ { "url": "http://127.0.0.1:99999" } ]
        },
        {
            "name": "b",
            "prefix": "/b",
            "strip_prefix": "maybe",
            "targets": [ "ftp://example.com" ]
        }
    ]
}
"""


def _position(text, needle):
    """1-based (line, column) of the first character of needle in text."""
    i = text.index(needle)
    line = text.count("\n", 0, i) + 1
    col = i - (text.rfind("\n", 0, i) + 1) + 1
    return line, col


def test_gantry_check_reports_every_error_with_its_location():
    tmp = gwtest._mkdtemp("check")
    path = os.path.join(tmp, "broken.json")
    with open(path, "w") as f:
        f.write(BROKEN)
    expected = [
        (_position(BROKEN, "[4]"), "workers", ["expected an integer", "array"]),
        (_position(BROKEN, '"prefx"'), "services[0].prefx",
         ['unknown key "prefx"', 'did you mean "prefix"']),
        (_position(BROKEN, '"http://127.0.0.1:99999"'), "services[0].targets[0].url",
         ["99999", "port"]),
        (_position(BROKEN, '"maybe"'), "services[1].strip_prefix", ["boolean"]),
        (_position(BROKEN, '"ftp://example.com"'), "services[1].targets[0].url",
         ["ftp://example.com"]),
    ]
    for argv in (["check", path], ["-c", path]):
        p = gwtest.run_gantry(argv, timeout=30)
        out = p.stdout + p.stderr
        assert p.returncode not in (0, None), (argv, p.returncode, out)
        lines = [ln for ln in out.splitlines() if ln.startswith(path + ":")]
        rx = re.compile(r"^%s:(\d+):(\d+): (\S+): (.+)$" % re.escape(path))
        parsed = []
        for ln in lines:
            m = rx.match(ln)
            if m:
                parsed.append(((int(m.group(1)), int(m.group(2))), m.group(3), m.group(4)))
        assert len(parsed) == len(expected), (argv, out)
        for (pos, key, words), got in zip(expected, parsed):
            assert got[0] == pos and got[1] == key, (argv, (pos, key), got)
            for w in words:
                assert w in got[2], (argv, w, got)
        assert "ASan" not in out and "runtime error" not in out, out

    # examples/gantry.json is valid
    p = gwtest.run_gantry(["check", os.path.join(gwtest.REPO, "examples", "gantry.json")])
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)

    # a syntax error is located too, and nothing else is reported
    bad_syntax = '{\n  "listen": "127.0.0.1:8000",\n  "workers": 1,,\n}\n'
    with open(path, "w") as f:
        f.write(bad_syntax)
    p = gwtest.run_gantry(["check", path])
    assert p.returncode != 0, p
    assert re.search(r"^%s:3:\d+: " % re.escape(path), p.stdout + p.stderr, re.M), (
        p.stdout + p.stderr)


if __name__ == "__main__":
    gwtest.main(globals())
