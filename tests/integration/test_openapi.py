#!/usr/bin/env python3
"""Aggregated OpenAPI (issue 16), through the real binary: gantry fetches each service's
OpenAPI 3 document (a URL, a path on its first target, or a file), merges them and serves the
result at openapi.path on the proxy port; paths under the service's public prefix, components
renamed per service with their $refs, gantry's own security schemes, refreshes that keep the
last good copy when a fetch fails. The documents come from a real HTTP server in this process
(DocServer), whose answers each test changes. Source: docs/openapi.md.
"""

import http.server
import json
import os
import shutil
import signal
import ssl
import subprocess
import threading

import gwtest
from gwtest import Gantry, Origin, assert_json_error, request


class DocServer:
    """An HTTP/1.1 server on a free loopback port answering GET <path> with what set() gave:
    (status, body text)."""

    def __init__(self):
        self.routes = {}
        self.hits = {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                status, body = server.routes.get(self.path, (404, '{"error": "no"}'))
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def set(self, path, doc, status=200):
        self.routes[path] = (status, doc if isinstance(doc, str) else json.dumps(doc))

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def target(self):
        return {"url": "http://127.0.0.1:%d" % self.port}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def users_doc(title="users"):
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": "1"},
        "servers": [{"url": "http://users.internal:8080/"}],
        "security": [{"upstreamKey": []}],
        "tags": [{"name": "users"}],
        "paths": {
            "/users/{id}": {
                "servers": [{"url": "http://elsewhere"}],
                "get": {
                    "operationId": "getUser",
                    "security": [{"upstreamKey": []}],
                    "parameters": [{"$ref": "#/components/parameters/Id"}],
                    "responses": {"200": {"description": "ok", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/User"}}}}},
                },
            },
            "x-internal": {"ignored": True},
        },
        "components": {
            "schemas": {
                "User": {"type": "object", "properties": {
                    "address": {"$ref": "#/components/schemas/Address"}}},
                "Address": {"type": "object"},
            },
            "parameters": {"Id": {"name": "id", "in": "path", "required": True,
                                  "schema": {"type": "string"}}},
            "securitySchemes": {"upstreamKey": {"type": "apiKey", "in": "header",
                                                "name": "X-Internal"}},
        },
    }


def orders_doc():
    return {
        "openapi": "3.1.0",
        "info": {"title": "orders", "version": "2"},
        "servers": [{"url": "/v1"}],
        "paths": {
            "/orders": {"post": {"operationId": "create", "requestBody": {
                "$ref": "#/components/requestBodies/Order"}, "responses": {
                "201": {"description": "made"}}}},
        },
        "components": {
            "schemas": {"User": {"type": "string"}},
            "requestBodies": {"Order": {"content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/User"}}}}},
        },
    }


def config(*services, **top):
    cfg = {"workers": 1, "services": list(services), "log": {"access": "off"}}
    cfg.update(top)
    return cfg


def docs(g, path="/docs"):
    r = request(g.port, "GET", path, host=g.host)
    assert r.status == 200, r
    assert r.header("Content-Type") == "application/json", r.headers
    return r.json()


AUTH = {
    "jwt": {"keys": [{"kid": "k1", "alg": "HS256", "secret": "s" * 32}]},
    "api_keys": {"header": "X-Gateway-Key"},
    "consumers": [{"id": "alice", "api_keys": [
        "sha256:" + "a" * 64]}],
}


def test_merges_paths_components_and_security():
    with DocServer() as d, Origin() as o:
        d.set("/users/openapi.json", users_doc())
        d.set("/openapi.json", orders_doc())
        cfg = config(
            {"name": "users", "prefix": "/api/users", "strip_prefix": True,
             "targets": [o.target()], "auth": {"methods": ["jwt"]},
             "openapi": {"url": d.url("/users/openapi.json")}},
            {"name": "orders", "prefix": "/api/orders", "targets": [d.target()],
             "auth": {"methods": ["api_key"], "required": False},
             "openapi": {"path": "/openapi.json"}},
            {"name": "plain", "prefix": "/", "targets": [o.target()]},
            auth=AUTH,
            openapi={"title": "Acme API", "version": "7", "server_url": "https://api.acme.test"})
        with Gantry(cfg) as g:
            gwtest.wait_until(lambda: len(docs(g)["paths"]) == 2, message="both documents")
            m = docs(g)
            assert m["openapi"] == "3.1.0"  # one of them is 3.1
            assert m["info"] == {"title": "Acme API", "version": "7"}, m["info"]
            assert m["servers"] == [{"url": "https://api.acme.test"}]
            # users: strip_prefix, so its paths go under the prefix; its base path is "/"
            op = m["paths"]["/api/users/users/{id}"]["get"]
            assert "servers" not in m["paths"]["/api/users/users/{id}"]
            assert op["operationId"] == "users.getUser"
            assert op["parameters"] == [{"$ref": "#/components/parameters/users.Id"}]
            schema = op["responses"]["200"]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/users.User"}
            assert op["security"] == [{"users.bearer": []}], op
            # orders: no strip_prefix (its upstream sees the full path) but a base path "/v1"
            op = m["paths"]["/v1/orders"]["post"]
            assert op["operationId"] == "orders.create"
            assert op["requestBody"] == {"$ref": "#/components/requestBodies/orders.Order"}
            assert op["security"] == [{"orders.apiKey": []}, {}], op  # auth is optional
            c = m["components"]
            assert set(c["schemas"]) == {"users.User", "users.Address", "orders.User"}
            assert c["schemas"]["users.User"]["properties"]["address"] == {
                "$ref": "#/components/schemas/users.Address"}
            body = c["requestBodies"]["orders.Order"]["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/orders.User"}
            assert c["securitySchemes"] == {
                "users.bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "orders.apiKey": {"type": "apiKey", "in": "header", "name": "x-gateway-key"},
            }, c["securitySchemes"]
            assert "security" not in m  # the upstream's root requirement is not carried
            assert m["tags"] == [{"name": "users"}]
            # HEAD: same head, no body
            r = request(g.port, "HEAD", "/docs", host=g.host)
            assert r.status == 200 and r.body == b"", r
            # the document is gantry's: the "/" service never sees the request
            o.reset_stats()
            docs(g)
            assert o.stats()["requests"] == 0


@gwtest.timeout(60)
def test_refresh_keeps_the_last_good_copy_and_logs_once_per_change():
    with DocServer() as d, Origin() as o:
        d.set("/u.json", users_doc("first"))
        cfg = config({"name": "users", "prefix": "/api", "targets": [o.target()],
                      "openapi": {"url": d.url("/u.json")}},
                     openapi={"path": "/api/v1/docs", "refresh": "1s"})
        with Gantry(cfg) as g:
            gwtest.wait_until(lambda: "/users/{id}" in docs(g, "/api/v1/docs")["paths"],
                              message="first document")
            # a change on the upstream shows after a refresh
            doc = users_doc()
            doc["paths"]["/users"] = {"get": {"responses": {"200": {"description": "ok"}}}}
            d.set("/u.json", doc)
            gwtest.wait_until(lambda: "/users" in docs(g, "/api/v1/docs")["paths"],
                              message="refreshed document")
            # failures keep it: an error status, then not JSON, then not OpenAPI
            hits = d.hits.get("/u.json", 0)
            d.set("/u.json", '{"error": "down"}', status=503)
            gwtest.wait_until(lambda: d.hits.get("/u.json", 0) >= hits + 3, timeout=10,
                              message="three failed refreshes")
            assert "/users" in docs(g, "/api/v1/docs")["paths"]
            d.set("/u.json", "not json")
            hits = d.hits["/u.json"]
            gwtest.wait_until(lambda: d.hits["/u.json"] >= hits + 2, timeout=10,
                              message="two more refreshes")
            d.set("/u.json", {"swagger": "2.0"})
            hits = d.hits["/u.json"]
            gwtest.wait_until(lambda: d.hits["/u.json"] >= hits + 2, timeout=10,
                              message="two more refreshes")
            assert "/users" in docs(g, "/api/v1/docs")["paths"]
            d.set("/u.json", users_doc())
            gwtest.wait_until(lambda: "/users" not in docs(g, "/api/v1/docs")["paths"],
                              message="good again")
            err = g.stderr()
            # one line when it started failing, one when it recovered
            assert err.count("warn openapi: service users:") == 1, err
            assert err.count("document loaded from") == 2, err
            assert "status 503; keeping the last good document" in err, err


def test_file_source_unreachable_sources_and_reload():
    with DocServer() as d, Origin() as o:
        tmp = gwtest._mkdtemp("openapi")
        f = os.path.join(tmp, "orders.json")
        with open(f, "w") as fh:
            json.dump(orders_doc(), fh)
        dead = gwtest.free_port()
        cfg = config(
            {"name": "orders", "prefix": "/orders", "strip_prefix": True,
             "targets": [o.target()], "openapi": {"file": f}},
            {"name": "gone", "prefix": "/gone", "targets": [o.target()],
             "openapi": {"url": "http://127.0.0.1:%d/openapi.json" % dead}},
            openapi=True)
        with Gantry(cfg) as g:
            m = docs(g)
            assert list(m["paths"]) == ["/orders/v1/orders"], m["paths"]
            g.wait_log(r"openapi: service gone: http://127.0.0.1:%d/openapi.json: .*its paths "
                       r"are left out" % dead, stream="stderr")
            # a reload adds a service: its document joins the merged one
            d.set("/users.json", users_doc())
            cfg["services"].append({"name": "users", "prefix": "/users", "targets": [o.target()],
                                    "openapi": {"url": d.url("/users.json")}})
            g.write_config(cfg)
            g.signal(signal.SIGHUP)
            gwtest.wait_until(lambda: "/users/{id}" in docs(g)["paths"], message="after reload")
            assert "/orders/v1/orders" in docs(g)["paths"]
            # and a reload that turns it off gives the path back to the routes
            cfg["openapi"] = False
            g.write_config(cfg)
            g.signal(signal.SIGHUP)
            gwtest.wait_until(
                lambda: request(g.port, "GET", "/docs", host=g.host).status == 404,
                message="docs off")
            assert_json_error(request(g.port, "GET", "/docs", host=g.host), 404)


def test_versioned_services_are_documented_under_their_path_version():
    with DocServer() as d, Origin() as o:
        d.set("/v1.json", {"openapi": "3.0.0", "info": {"title": "a", "version": "1"},
                           "paths": {"/users": {"get": {"responses": {}}}}})
        d.set("/v2.json", {"openapi": "3.0.0", "info": {"title": "a", "version": "2"},
                           "paths": {"/users": {"get": {"responses": {}}}}})
        cfg = config(
            {"name": "u1", "prefix": "/users", "version": "1", "targets": [o.target()],
             "openapi": {"url": d.url("/v1.json")}},
            {"name": "u2", "prefix": "/users", "version": "2", "targets": [o.target()],
             "openapi": {"url": d.url("/v2.json")}},
            openapi=True)
        with Gantry(cfg) as g:
            gwtest.wait_until(lambda: len(docs(g)["paths"]) == 2, message="both versions")
            assert set(docs(g)["paths"]) == {"/v1/users", "/v2/users"}


def test_openapi_off_by_default():
    with DocServer() as d, Origin() as o:
        d.set("/a.json", users_doc())
        cfg = config({"name": "a", "prefix": "/x", "targets": [o.target()],
                      "openapi": {"url": d.url("/a.json")}})
        with Gantry(cfg) as g:
            assert_json_error(request(g.port, "GET", "/docs", host=g.host), 404)
            assert d.hits == {}  # nothing fetched while off


def test_viewer_page_and_script_for_browsers_json_for_the_rest():
    with DocServer() as d, Origin() as o:
        d.set("/a.json", users_doc())
        cfg = config({"name": "users", "prefix": "/api", "targets": [o.target()],
                      "openapi": {"url": d.url("/a.json")}}, openapi=True)
        with Gantry(cfg) as g:
            nav = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
            r = request(g.port, "GET", "/docs", headers=nav, host=g.host)
            assert r.status == 200, r
            assert r.header("Content-Type") == "text/html; charset=utf-8", r.headers
            assert r.header("Vary") == "Accept", r.headers
            assert b'<script src="?viewer.js">' in r.body, r.body
            assert b"http" not in r.body.replace(b"http-equiv", b"")  # no CDN, no URL at all
            r = request(g.port, "GET", "/docs?viewer.js", headers=nav, host=g.host)
            assert r.status == 200 and r.header("Content-Type").startswith("text/javascript")
            assert b"fetch(location.pathname" in r.body
            assert b"innerHTML" not in r.body  # service documents are rendered as text only
            # curl's */* and a JSON client get the document
            for accept in ("*/*", "application/json"):
                r = request(g.port, "GET", "/docs", headers={"Accept": accept}, host=g.host)
                assert r.header("Content-Type") == "application/json", (accept, r.headers)
        cfg["openapi"] = {"viewer": False}
        with Gantry(cfg) as g:
            r = request(g.port, "GET", "/docs", headers={"Accept": "text/html"}, host=g.host)
            assert r.header("Content-Type") == "application/json", r.headers
            assert r.header("Vary") is None, r.headers
            r = request(g.port, "GET", "/docs?viewer.js", host=g.host)
            assert r.header("Content-Type") == "application/json", r.headers


NODE_DIR = os.path.join(gwtest.REPO, "tests", "node")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@gwtest.timeout(120)
def test_viewer_renders_in_a_real_browser_under_the_default_csp():
    missing = [x for x in (CHROMIUM,) if not os.path.exists(x)]
    if shutil.which("node") is None:
        missing.append("node")
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "puppeteer-core")):
        missing.append("tests/node/node_modules/puppeteer-core")
    assert not missing, "missing %s: run scripts/deps.sh test (make test does)" % missing
    with DocServer() as d, Origin() as o:
        doc = users_doc()
        doc["paths"]["/users/{id}"]["get"]["summary"] = "<img src=x onerror=alert(1)>"
        d.set("/a.json", doc)
        cfg = config({"name": "users", "prefix": "/api", "strip_prefix": True,
                      "targets": [o.target()], "openapi": {"url": d.url("/a.json")}},
                     openapi={"title": "Acme"})
        with Gantry(cfg) as g:
            gwtest.wait_until(lambda: docs(g)["paths"], message="the document")
            expr = ("document.body.dataset.state === 'loading' ? undefined : "
                    "{state: document.body.dataset.state, title: document.title, "
                    "paths: [...document.querySelectorAll('.op .path')].map(e => e.textContent),"
                    " summaries: [...document.querySelectorAll('.op .summary')].map("
                    "e => e.textContent), imgs: document.querySelectorAll('img').length, "
                    "comps: [...document.querySelectorAll('.comp .name')].map("
                    "e => e.textContent)}")
            run = subprocess.run(
                ["node", "run_page.mjs", "http://%s:%d/docs" % (g.host, g.port), "30000"],
                cwd=NODE_DIR, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                timeout=90, env=dict(os.environ, RUN_PAGE_RESULT=expr))
            assert run.returncode == 0, (run.stdout, run.stderr)
            report = json.loads(run.stdout.strip().splitlines()[-1])
            res = report["result"]
            assert res["state"] == "ready", report
            assert res["title"] == "Acme documentation", report
            assert res["paths"] == ["/api/users/{id}"], report
            # markup in a service's document is shown as text, never run
            assert res["summaries"] == ["<img src=x onerror=alert(1)>"], report
            assert res["imgs"] == 0, report
            assert "users.User" in res["comps"], report
            # the default security headers' CSP let the page load its script: no violation
            assert report["errors"] == [], report
            assert not [c for c in report["console"] if "Content Security Policy" in c], report


def _make_certs(tmp):
    """A CA and two leaves it signs: "ok" for 127.0.0.1, "other" for other.test only."""
    def sh(*args):
        r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert r.returncode == 0, r.stdout.decode()
    p = lambda n: os.path.join(tmp, n)  # noqa: E731
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-days", "30", "-subj", "/CN=openapi test CA", "-keyout", p("ca.key"),
       "-out", p("ca.pem"), "-addext", "basicConstraints=critical,CA:TRUE",
       "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name, san in (("ok", "IP:127.0.0.1"), ("other", "DNS:other.test")):
        sh("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
           "-nodes", "-subj", "/CN=" + name, "-keyout", p(name + ".key"),
           "-out", p(name + ".csr"))
        with open(p(name + ".ext"), "w") as f:
            f.write("subjectAltName=%s\n" % san)
        sh("openssl", "x509", "-req", "-in", p(name + ".csr"), "-CA", p("ca.pem"), "-CAkey",
           p("ca.key"), "-CAcreateserial", "-days", "30", "-out", p(name + ".pem"),
           "-extfile", p(name + ".ext"))
    return p


class TlsDocServer(DocServer):
    """DocServer over TLS with the certificate given (the handshake happens on accept; one that
    gantry refuses is an accept error the server ignores)."""

    def __init__(self, cert, key):
        super().__init__()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)

    def url(self, path):
        return "https://127.0.0.1:%d%s" % (self.port, path)


@gwtest.timeout(120)
def test_https_sources_are_fetched_with_the_certificate_verified():
    tmp = gwtest._mkdtemp("openapi-tls")
    p = _make_certs(tmp)
    with TlsDocServer(p("ok.pem"), p("ok.key")) as good, \
            TlsDocServer(p("other.pem"), p("other.key")) as wrong_name, Origin() as o:
        good.set("/users.json", users_doc())
        wrong_name.set("/orders.json", orders_doc())
        svc = [{"name": "users", "prefix": "/users", "targets": [o.target()],
                "openapi": {"url": good.url("/users.json")}},
               {"name": "orders", "prefix": "/orders", "targets": [o.target()],
                "openapi": {"url": wrong_name.url("/orders.json")}}]
        # trusting the test CA: the good server's document is merged; the other one's
        # certificate names other.test, not 127.0.0.1, so it is refused and left out
        with Gantry(config(*svc, openapi={"ca_file": p("ca.pem"), "refresh": "1s"})) as g:
            gwtest.wait_until(lambda: "/users/{id}" in docs(g)["paths"],
                              message="the document fetched over https")
            g.wait_log(r"openapi: service orders: https://127.0.0.1:%d/orders.json: "
                       r".*tls: certificate not verified: .*its paths are left out"
                       % wrong_name.port, stream="stderr")
            assert not any(k.startswith("/orders") for k in docs(g)["paths"])
            assert good.hits.get("/users.json", 0) >= 1
            assert wrong_name.hits.get("/orders.json", 0) == 0  # never got a request
        # without the CA file the system store does not know the test CA: nothing is fetched
        with Gantry(config(*svc[:1], openapi={"refresh": "1s"})) as g:
            g.wait_log(r"openapi: service users: .*tls: certificate not verified: "
                       r"(unable to get local issuer certificate|self.signed)",
                       stream="stderr")
            assert docs(g)["paths"] == {}
    # a CA file that is not one fails the load with the key's position
    bad = os.path.join(tmp, "not-a-ca.pem")
    with open(bad, "w") as f:
        f.write("nothing here\n")
    path = os.path.join(tmp, "bad-ca.json")
    with open(path, "w") as f:
        json.dump(config({"name": "u", "prefix": "/u", "targets": [{"url": "http://127.0.0.1:1"}]},
                         openapi={"ca_file": bad}), f)
    out = gwtest.run_gantry(["check", path])
    assert out.returncode != 0 and "openapi.ca_file" in out.stderr + out.stdout, out


if __name__ == "__main__":
    gwtest.main(globals())
