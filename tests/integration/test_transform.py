#!/usr/bin/env python3
"""Transformations through the binary: request and response headers (remove, rename, set, add)
with variables, query parameters, path rewrites (prefix and regular expression, with the
client's spelling kept where the path is untouched), status mapping, JSON bodies, the layers
(gateway, service, route rule) and config errors with their positions."""

import json
import os
import tempfile

import gwtest
from gwtest import Gantry, HttpConn, Origin, request, run_gantry


def cfg(o, tf=None, service=None, **top):
    c = gwtest.simple_config(o, **top)
    svc = c["services"][0]
    if tf is not None:
        svc["transform"] = tf
    if service:
        svc.update(service)
    return c


def pairs(e, name):
    return [v for n, v in e["headers"] if n.lower() == name.lower()]


def echo(port, path="/echo/x", headers=None, method="GET", body=None):
    r = request(port, method, path, headers=headers, body=body)
    assert r.status == 200, (r, r.body[:300])
    return r, r.json()


# ---- request headers ---------------------------------------------------------------------------


def test_request_headers_remove_rename_set_add_with_variables():
    t = {"request": {"headers": {
        "remove": ["X-Internal", "X-Debug"],
        "rename": {"X-Old": "X-New"},
        "set": {"X-Service": "$service", "X-Accept": "got $http_accept"},
        "add": {"X-Trace": ["id=$request_id", "arg=$arg_page route=$route"]},
    }}}
    with Origin() as o, Gantry(cfg(o, t, service={"prefix": "/echo"})) as g:
        r, e = echo(g.port, "/echo/a?page=7&x=1", headers=[
            ("X-Internal", "secret"), ("x_debug", "1"), ("X-Old", "v"),
            ("X-Service", "client-value"), ("Accept", "text/plain"), ("X-Keep", "k")])
        assert pairs(e, "X-Internal") == [] and pairs(e, "X-Debug") == [], e["headers"]
        assert pairs(e, "x_debug") == [], "a '_' spelling is the same header"
        assert pairs(e, "X-Old") == [] and pairs(e, "X-New") == ["v"], e["headers"]
        assert pairs(e, "X-Service") == ["svc"], e["headers"]
        assert pairs(e, "X-Accept") == ["got text/plain"], e["headers"]
        rid = r.header("X-Request-ID")
        assert pairs(e, "X-Trace") == ["id=" + rid, "arg=7 route=/echo"], e["headers"]
        assert pairs(e, "X-Keep") == ["k"]


def test_request_header_values_cannot_inject_lines():
    t = {"request": {"headers": {"set": {"X-Copy": "$arg_v"}}}}
    with Origin() as o, Gantry(cfg(o, t)) as g:
        # a query value is raw (not decoded): %0D%0A stays text
        r, e = echo(g.port, "/echo/a?v=a%0D%0AX-Evil:%201")
        assert pairs(e, "X-Copy") == ["a%0D%0AX-Evil:%201"], e["headers"]
        assert pairs(e, "X-Evil") == []


def test_consumer_and_user_variables_after_authentication():
    key = "k-123456"
    digest = run_gantry(["hash-key", key]).stdout.strip()
    top = {"auth": {"consumers": [{"id": "billing", "api_keys": [digest]}]}}
    t = {"request": {"headers": {"set": {"X-Who": "$consumer/$user_id", "X-Ip": "$client_ip"}}}}
    with Origin() as o, Gantry(cfg(o, t, service={"auth": {}}, **top)) as g:
        r, e = echo(g.port, headers=[("X-API-Key", key)])
        assert pairs(e, "X-Who") == ["billing/billing"], e["headers"]
        assert pairs(e, "X-Ip") == ["127.0.0.1"], e["headers"]


# ---- query -------------------------------------------------------------------------------------


def test_query_remove_rename_set_add():
    t = {"request": {"query": {
        "remove": ["debug"],
        "rename": {"q": "search"},
        "set": {"v": "2"},
        "add": {"via": "gantry $service", "rid": "$request_id"},
    }}}
    with Origin() as o, Gantry(cfg(o, t)) as g:
        r, e = echo(g.port, "/echo/q?q=cats&debug=1&%64ebug=2&v=1&keep=a%20b&v=3")
        path, _, q = e["path"].partition("?")
        assert path == "/echo/q", e["path"]
        rid = r.header("X-Request-ID")
        assert q == "search=cats&keep=a%20b&v=2&via=gantry%20svc&rid=" + rid, e["path"]
        # no query at all: the added ones make one
        r, e = echo(g.port, "/echo/q")
        assert e["path"].startswith("/echo/q?v=2&via=gantry%20svc&rid="), e["path"]


# ---- path --------------------------------------------------------------------------------------


def test_path_prefix_rewrite_keeps_the_clients_spelling():
    t = {"request": {"path": {"prefix": {"from": "/api/v1", "to": "/echo/internal"}}}}
    svc = {"prefix": "/api", "strip_prefix": True}
    with Origin() as o, Gantry(cfg(o, t, service=svc)) as g:
        r, e = echo(g.port, "/api/v1/users/%7Ejo/x?a=1")
        assert e["path"] == "/echo/internal/users/%7Ejo/x?a=1", e["path"]
        r, e = echo(g.port, "/api/%76%31/a//b/../c")
        assert e["path"] == "/echo/internal/a/c", e["path"]
        # not under the rewritten prefix: strip_prefix as usual
        r = request(g.port, "GET", "/api/echo/z")
        assert r.json()["path"] == "/echo/z", r.body


def test_path_regex_rewrite_with_captures():
    t = {"request": {"path": {"regex": "^/users/([0-9]+)/orders/([a-z]+)$",
                              "replace": "/echo/orders/$2?user=$1"}}}
    with Origin() as o, Gantry(cfg(o, t)) as g:
        r, e = echo(g.port, "/users/42/orders/open?x=1")
        assert e["path"] == "/echo/orders/open?user=42&x=1", e["path"]
        r, e = echo(g.port, "/users/42/orders/open")
        assert e["path"] == "/echo/orders/open?user=42", e["path"]
        r = request(g.port, "GET", "/echo/untouched")
        assert r.json()["path"] == "/echo/untouched"


def test_path_regex_result_is_normalised():
    t = {"request": {"path": {"regex": "^/r/(.*)$", "replace": "/echo/$1"}}}
    with Origin() as o, Gantry(cfg(o, t)) as g:
        r, e = echo(g.port, "/r/%7Eme/x")
        assert e["path"] == "/echo/~me/x", e["path"]


def test_path_regex_match_limit_is_a_500_with_a_precise_log_line():
    """A catastrophic expression (nested quantifiers) stops at PCRE2's match limit (100,000
    steps) instead of holding the worker: the configuration, not the client, failed, so the
    answer is gantry's own 500 (docs/transform.md), with the limit named in the log."""
    t = {"request": {"path": {"regex": "^/re/(a+)+$", "replace": "/echo/$1"}}}
    with Origin() as o, Gantry(cfg(o, t)) as g:
        r, e = echo(g.port, "/re/aaaa")
        assert e["path"] == "/echo/aaaa", e["path"]
        before = upstream_count(o)
        r = request(g.port, "GET", "/re/" + "a" * 20 + "b")
        assert r.status == 500, r
        assert r.json()["error"] == "request transformation failed", r.body
        assert upstream_count(o) == before, "the request must not reach the upstream"
        g.wait_log(r"path rewrite \^/re/\(a\+\)\+\$ hit its match limit \(100000 steps\) on "
                   r"/re/a{20}b: refused \(500\)", stream="stderr")
        # the worker is free: the next request is answered
        r, e = echo(g.port, "/re/aa")
        assert e["path"] == "/echo/aa"


def upstream_count(o):
    return o.stats()["requests"]


# ---- status and response headers ---------------------------------------------------------------


def test_status_mapping_and_response_headers():
    t = {"response": {"status": {"502": 503, "418": 400},
                      "headers": {"remove": ["X-Origin-Port"], "rename": {"X-Up": "X-Down"},
                                  "set": {"X-Served-By": "gantry/$service"},
                                  "add": {"X-Req": "$request_id"}}}}
    with Origin() as o, Gantry(cfg(o, t)) as g:
        r = request(g.port, "GET", "/status/502?h=X-Up:1")
        assert r.status == 503 and r.reason == "Service Unavailable", r
        assert r.header("X-Origin-Port") is None and r.header("X-Down") == "1", r.headers
        assert r.header("X-Served-By") == "gantry/svc", r.headers
        assert r.header("X-Req") == r.header("X-Request-ID"), r.headers
        r = request(g.port, "GET", "/status/418")
        assert r.status == 400, r
        r = request(g.port, "GET", "/status/200?h=X-Served-By:origin")
        assert r.status == 200 and r.header_all("X-Served-By") == ["gantry/svc"], r.headers


def test_response_headers_on_gantrys_own_answers():
    t = {"response": {"headers": {"add": {"X-Served-By": "gantry"}}}}
    c = cfg(9, t)  # port 9: nothing listens, gantry answers 502 itself
    c["services"][0]["retries"] = False
    with Gantry(c) as g:
        r = request(g.port, "GET", "/x")
        assert r.status == 502, r
        assert r.header("X-Served-By") == "gantry", r.headers


# ---- JSON bodies -------------------------------------------------------------------------------


BODY_TF = {"remove": ["secret", "meta.internal"], "rename": {"name": "full_name"},
           "add": {"gateway": {"id": "$request_id", "n": 1.5}, "meta.by": "$service",
                   "who": "$http_x_who"}}


def test_request_json_body_edited():
    t = {"request": {"body": BODY_TF}}
    with Origin() as o, Gantry(cfg(o, t)) as g:
        doc = {"name": "Ann", "secret": "s", "meta": {"internal": 1, "keep": 0.1}, "n": 10}
        r, e = echo(g.port, "/echo/b", method="POST", body=json.dumps(doc).encode(),
                    headers=[("Content-Type", "application/json; charset=utf-8"),
                             ("X-Who", "me")])
        got = json.loads(e["body"])
        assert got == {"full_name": "Ann", "meta": {"keep": 0.1, "by": "svc"}, "n": 10,
                       "gateway": {"id": "$request_id", "n": 1.5}, "who": "me"}, got
        assert pairs(e, "Content-Length") == [str(len(e["body"]))], e["headers"]
        assert "0.1," in e["body"] or "0.1}" in e["body"], e["body"]
        # chunked within the cap: edited, sent with a Content-Length
        with HttpConn(g.port) as c:
            c.send_request("POST", "/echo/c", headers=[("Content-Type", "application/json"),
                                                       ("Transfer-Encoding", "chunked")],
                           body=gwtest.chunked(json.dumps(doc).encode(), 5))
            r = c.read_response()
        e = r.json()
        assert json.loads(e["body"])["full_name"] == "Ann" and e["framing"] == "length", e
        # not JSON, or not an object: untouched
        r, e = echo(g.port, "/echo/d", method="POST", body=b'{"secret": ',
                    headers=[("Content-Type", "application/json")])
        assert e["body"] == '{"secret": ', e
        r, e = echo(g.port, "/echo/d", method="POST", body=b'{"secret": 1}',
                    headers=[("Content-Type", "text/plain")])
        assert e["body"] == '{"secret": 1}', e


def test_request_json_body_over_the_cap_passes_untouched():
    t = {"request": {"body": {"remove": ["secret"]}}, "max_body_bytes": 64}
    with Origin() as o, Gantry(cfg(o, t)) as g:
        doc = json.dumps({"secret": "s", "pad": "x" * 200}).encode()
        r, e = echo(g.port, "/echo/big", method="POST", body=doc,
                    headers=[("Content-Type", "application/json")])
        assert e["body"].encode() == doc, e["body"][:80]
        with HttpConn(g.port) as c:
            c.send_request("POST", "/echo/big", headers=[("Content-Type", "application/json"),
                                                         ("Transfer-Encoding", "chunked")],
                           body=gwtest.chunked(doc, 10))
            r = c.read_response()
        e = r.json()
        assert e["body"].encode() == doc and e["framing"] == "chunked", e
        small = json.dumps({"secret": 1, "a": 2}).encode()
        r, e = echo(g.port, "/echo/small", method="POST", body=small,
                    headers=[("Content-Type", "application/json")])
        assert json.loads(e["body"]) == {"a": 2}, e["body"]


def test_response_json_body_edited_in_every_framing():
    t = {"response": {"body": BODY_TF}, "max_body_bytes": 4096}
    doc = json.dumps({"name": "Ann", "secret": "s", "meta": {"internal": 1}}).encode()
    with Origin() as o, Gantry(cfg(o, t)) as g:
        for framing in ("length", "chunked", "eof"):
            r = request(g.port, "POST", "/reflect?framing=" + framing, body=doc,
                        headers=[("X-Who", "you")])
            assert r.status == 200, (framing, r)
            got = r.json()
            assert got["full_name"] == "Ann" and "secret" not in got, (framing, got)
            assert got["who"] == "you" and got["meta"] == {"by": "svc"}, (framing, got)
            assert r.header("Content-Length") == str(len(r.body)), (framing, r.headers)
        # over the cap, chunked: streamed untouched
        big = json.dumps({"secret": "s", "pad": "y" * 6000}).encode()
        r = request(g.port, "POST", "/reflect?framing=chunked&chunk=1000", body=big)
        assert r.status == 200 and r.body == big and r.framing == "chunked", r
        r = request(g.port, "POST", "/reflect?framing=eof", body=big)
        assert r.body == big, r
        # not JSON: untouched
        r = request(g.port, "POST", "/reflect?ct=text/plain", body=doc)
        assert r.body == doc


def test_response_json_body_to_an_http10_client_and_head():
    t = {"response": {"body": {"remove": ["secret"]}}}
    doc = json.dumps({"secret": "s", "a": 1}).encode()
    with Origin() as o, Gantry(cfg(o, t)) as g:
        with HttpConn(g.port) as c:
            c.send_request("POST", "/reflect?framing=chunked", body=doc, version="HTTP/1.0")
            r = c.read_response()
        assert r.status == 200 and json.loads(r.body) == {"a": 1}, (r, r.body)
        r = request(g.port, "HEAD", "/echo/h")
        assert r.status == 200 and r.body == b"", r


# ---- layers ------------------------------------------------------------------------------------


def test_gateway_service_and_rule_layers():
    top = {"transform": {"request": {"headers": {"set": {"X-Layer": "gateway",
                                                         "X-Gw": "1"}}}}}
    t = {"request": {"headers": {"set": {"X-Layer": "service"}}},
         "rules": [
             {"match": {"prefix": "/echo/a"},
              "request": {"headers": {"add": {"X-Rule": "a"}}}},
             {"match": {"prefix": "/echo/a/b", "methods": ["POST"]},
              "request": {"headers": {"add": {"X-Rule": "ab"}}}},
         ]}
    with Origin() as o, Gantry(cfg(o, t, **top)) as g:
        _, e = echo(g.port, "/echo/z")
        assert pairs(e, "X-Layer") == ["service"] and pairs(e, "X-Gw") == ["1"], e["headers"]
        assert pairs(e, "X-Rule") == []
        _, e = echo(g.port, "/echo/a/b/c")
        assert pairs(e, "X-Rule") == ["a"], e["headers"]
        _, e = echo(g.port, "/echo/a/b/c", method="POST", body=b"")
        assert pairs(e, "X-Rule") == ["ab"], e["headers"]


def test_constant_header_layers_applied_in_one_pass():
    # Constant edits only (no variable, no rename, no rule): worked out when the snapshot is
    # built. A later layer's remove and set take out what an earlier layer added; a client's
    # field goes whatever its case or '-'/'_' spelling; Host and other fields keep their order.
    top = {"transform": {"request": {"headers": {
        "set": {"X-A": "gateway", "X-Gone": "gateway"},
        "add": {"X-B": "gateway"}}}}}
    t = {"request": {"headers": {"remove": ["x-gone"],
                                 "set": {"X-B": "service"},
                                 "add": {"X-A": "service"}}}}
    with Origin() as o, Gantry(cfg(o, t, **top)) as g:
        _, e = echo(g.port, "/echo/z", headers=[
            ("x_a", "client"), ("X-Keep", "1"), ("X-GONE", "client"), ("x-b", "client"),
            ("X-Keep", "2")])
        assert pairs(e, "X-A") == ["gateway", "service"], e["headers"]
        assert pairs(e, "x_a") == [], e["headers"]
        assert pairs(e, "X-Gone") == [], e["headers"]
        assert pairs(e, "X-B") == ["service"], e["headers"]
        assert pairs(e, "X-Keep") == ["1", "2"], e["headers"]
        assert pairs(e, "Host"), e["headers"]
        names = [n.lower() for n, _ in e["headers"]]
        assert names.index("x-keep") < names.index("x-a"), "added fields come after kept ones"
        # a request with no field of theirs: the same additions
        _, e = echo(g.port, "/echo/y")
        assert pairs(e, "X-A") == ["gateway", "service"] and pairs(e, "X-B") == ["service"]


def test_inherit_false_and_transform_off():
    top = {"transform": {"request": {"headers": {"set": {"X-Gw": "1"}}}}}
    with Origin() as o:
        c = gwtest.simple_config(o, **top)
        base = c["services"][0]
        c["services"] = [
            dict(base, name="a", prefix="/echo/a"),
            dict(base, name="b", prefix="/echo/b",
                 transform={"inherit": False, "request": {"headers": {"set": {"X-B": "1"}}}}),
            dict(base, name="c", prefix="/echo/c", transform=False),
        ]
        with Gantry(c) as g:
            _, e = echo(g.port, "/echo/a")
            assert pairs(e, "X-Gw") == ["1"]
            _, e = echo(g.port, "/echo/b")
            assert pairs(e, "X-Gw") == [] and pairs(e, "X-B") == ["1"], e["headers"]
            _, e = echo(g.port, "/echo/c")
            assert pairs(e, "X-Gw") == [], e["headers"]


# ---- config errors -----------------------------------------------------------------------------


def test_config_errors_point_into_the_string():
    text = ('{\n  "services": [{"name": "s", "prefix": "/", "targets": ["http://127.0.0.1:9"],\n'
            '    "transform": {"request": {"headers": {"set": {"X-A": "id $request_id $nope"}},\n'
            '      "path": {"regex": "^/(a", "replace": "/$1"}}}}]\n}\n')
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bad.json")
        with open(path, "w") as f:
            f.write(text)
        res = run_gantry(["check", path])
        assert res.returncode == 1, res
        out = res.stdout + res.stderr
        # "$nope" starts at column 57 of line 3
        col = text.splitlines()[2].index("$nope") + 1
        assert "bad.json:3:%d:" % col in out, out
        assert "unknown variable \"$nope\"" in out, out
        assert "bad.json:4:" in out and "invalid regular expression" in out, out


def test_managed_headers_are_refused():
    c = {"services": [{"name": "s", "prefix": "/", "targets": ["http://127.0.0.1:9"],
                       "transform": {"request": {"headers": {"set": {"Content-Length": "1"},
                                                             "remove": ["X-Forwarded-For"]}},
                                     "response": {"status": {"200": 204}}}}]}
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bad.json")
        with open(path, "w") as f:
            json.dump(c, f)
        res = run_gantry(["check", path])
        out = res.stdout + res.stderr
        assert res.returncode == 1
        assert "\"Content-Length\" is a hop-by-hop or framing header" in out, out
        assert "\"X-Forwarded-For\" is a header gantry sets itself" in out, out
        assert "other than 204 and 304" in out, out


if __name__ == "__main__":
    gwtest.main(globals())


def test_edited_response_body_changes_its_validator_digests_and_heads_length():
    """An edited JSON body is other bytes (RFC 9110 8.8.3): a strong ETag becomes weak, the
    digests of the old bytes and Accept-Ranges go; a HEAD gets no Content-Length, as its GET's
    edited length cannot be known from the head (RFC 9110 8.6). A body the edit does not take
    (not JSON) keeps them all."""
    t = {"response": {"body": {"remove": ["secret"]}}}
    q = ("?h=ETag:%22t1%22&h=Content-MD5:abc&h=Digest:sha-256=xyz&h=Accept-Ranges:bytes"
         "&h=Repr-Digest:sha-256=:x=:")
    with Origin() as o, Gantry(cfg(o, t)) as g:
        for method in ("GET", "HEAD"):
            r = request(g.port, method, "/echo/e" + q)
            assert r.status == 200, (method, r)
            assert r.header("ETag") == 'W/"t1"', (method, r.headers)
            for name in ("Content-MD5", "Digest", "Repr-Digest", "Accept-Ranges"):
                assert r.header(name) is None, (method, name, r.headers)
            if method == "GET":
                assert r.header("Content-Length") == str(len(r.body)), r.headers
            else:
                assert r.header("Content-Length") is None, r.headers
        # not JSON: not edited, so described as it came
        r = request(g.port, "GET", "/bytes/10" + q)
        assert r.header("ETag") == '"t1"' and r.header("Content-MD5") == "abc", r.headers
        assert r.header("Content-Length") == "10", r.headers
