#!/usr/bin/env python3
"""Request validation through the binary: JSON bodies checked against a route's JSON Schema.
A valid body reaches the upstream untouched; each keyword's violation is a 400 listing the
failure with its JSON pointer and keyword, and never reaches the upstream; a body over the cap
is a 413 (announced or chunked), invalid JSON a 400, a non-JSON Content-Type passes; rules by
route (match), gateway rules inherited, a schema from a file; config errors with their
positions, in the config and in a schema file."""

import json
import os
import tempfile

import gwtest
from gwtest import Gantry, HttpConn, Origin, request, run_gantry
from gwtest.client import assert_json_error

ORDER = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["customer", "items"],
    "additionalProperties": False,
    "properties": {
        "customer": {"type": "string", "minLength": 2, "maxLength": 8,
                     "pattern": "^[a-z]+$"},
        "priority": {"enum": ["low", "normal", "high"]},
        "version": {"const": 2},
        "note": {"type": ["string", "null"]},
        "items": {
            "type": "array", "minItems": 1, "maxItems": 3,
            "items": {"$ref": "#/$defs/item"},
        },
        "coupon": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]},
        "meta": {"type": "object", "additionalProperties": {"type": "integer"}},
    },
    "$defs": {
        "item": {
            "type": "object", "required": ["sku", "qty"],
            "properties": {
                "sku": {"type": "string"},
                "qty": {"type": "integer", "minimum": 1, "maximum": 100},
                "price": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1000},
            },
        },
    },
}

JSON = [("Content-Type", "application/json")]
GOOD = {"customer": "ann", "items": [{"sku": "A-1", "qty": 2, "price": 9.5}],
        "priority": "high", "version": 2, "note": None, "coupon": ["X", 3], "meta": {"a": 1}}


def cfg(o, validation, **top):
    c = gwtest.simple_config(o, **top)
    c["services"][0]["validation"] = validation
    return c


def orders(max_body=None, max_errors=None):
    v = {"rules": [{"match": {"prefix": "/echo/orders", "methods": ["POST", "PUT"]},
                    "schema": ORDER}]}
    if max_body is not None:
        v["max_body_bytes"] = max_body
    if max_errors is not None:
        v["max_errors"] = max_errors
    return v


def post(g, doc, path="/echo/orders", headers=JSON):
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return request(g.port, "POST", path, headers=headers, body=body)


def upstream_requests(o):
    return o.stats()["requests"]


def failures(r):
    body = assert_json_error(r, 400)
    assert body["error"] == "request body does not match the schema", body
    return [(e["pointer"], e["keyword"]) for e in body["errors"]], body


def test_pattern_match_limit_fails_the_check():
    """A pattern that needs more than 100,000 backtracking steps on a value fails that value's
    check (docs/config.md, "pattern"): a 400 naming the keyword and the limit, the upstream never
    asked, the worker free for the next request."""
    schema = {"type": "object", "properties": {"s": {"type": "string", "pattern": "^(a+)+$"}}}
    v = {"rules": [{"match": {"prefix": "/echo/re"}, "schema": schema}]}
    with Origin() as o, Gantry(cfg(o, v)) as g:
        r = post(g, {"s": "aaaa"}, path="/echo/re")
        assert r.status == 200, r
        before = upstream_requests(o)
        r = post(g, {"s": "a" * 20 + "b"}, path="/echo/re")
        got, body = failures(r)
        assert got == [("/s", "pattern")], body
        assert "match limit" in body["errors"][0]["message"], body
        assert upstream_requests(o) == before
        r = post(g, {"s": "aaab"}, path="/echo/re")  # a plain mismatch: the usual message
        got, body = failures(r)
        assert "must match the pattern" in body["errors"][0]["message"], body


def test_valid_body_passes_untouched():
    with Origin() as o, Gantry(cfg(o, orders())) as g:
        # spacing and member order as the client wrote them
        raw = b'{ "items" : [ {"qty": 2, "sku": "A-1"} ],\n "customer": "ann" }'
        r = post(g, raw)
        assert r.status == 200, (r, r.body[:300])
        assert r.json()["body"].encode() == raw, r.json()
        r = post(g, GOOD, headers=[("Content-Type", "application/merchant+json; charset=utf-8")])
        assert r.status == 200 and json.loads(r.json()["body"]) == GOOD, r
        # chunked within the cap: checked, then sent with a Content-Length
        with HttpConn(g.port) as c:
            c.send_request("POST", "/echo/orders", headers=JSON + [("Transfer-Encoding", "chunked")],
                           body=gwtest.chunked(raw, 7))
            r = c.read_response()
            assert r.status == 200 and r.json()["body"].encode() == raw, r
            assert r.json()["framing"] == "length", r.json()
            # the connection serves the next request
            c.send_request("POST", "/echo/orders", headers=JSON, body=b"{}")
            r = c.read_response()
            assert r.status == 400, r


def test_each_keyword_fails_with_its_pointer():
    cases = [
        ({"items": []}, [("", "required"), ("/items", "minItems")]),
        (dict(GOOD, customer=5), [("/customer", "type")]),
        (dict(GOOD, customer="a"), [("/customer", "minLength")]),
        (dict(GOOD, customer="abcdefghi"), [("/customer", "maxLength")]),
        (dict(GOOD, customer="Ann"), [("/customer", "pattern")]),
        (dict(GOOD, priority="urgent"), [("/priority", "enum")]),
        (dict(GOOD, version=3), [("/version", "const")]),
        (dict(GOOD, note=1), [("/note", "type")]),
        (dict(GOOD, extra=1), [("/extra", "additionalProperties")]),
        (dict(GOOD, items=[{"sku": "a", "qty": 1}] * 4), [("/items", "maxItems")]),
        (dict(GOOD, items=[{"sku": "a", "qty": 0}]), [("/items/0/qty", "minimum")]),
        (dict(GOOD, items=[{"sku": "a", "qty": 101}]), [("/items/0/qty", "maximum")]),
        (dict(GOOD, items=[{"sku": "a", "qty": 1.5}]), [("/items/0/qty", "type")]),
        (dict(GOOD, items=[{"sku": "a", "qty": 1, "price": 0}]),
         [("/items/0/price", "exclusiveMinimum")]),
        (dict(GOOD, items=[{"sku": "a", "qty": 1, "price": 1000}]),
         [("/items/0/price", "exclusiveMaximum")]),
        (dict(GOOD, items=[{"qty": 1}]), [("/items/0", "required")]),
        (dict(GOOD, coupon=["X", "3"]), [("/coupon/1", "type")]),
        (dict(GOOD, meta={"a/b": "x"}), [("/meta/a~1b", "type")]),
        ([], [("", "type")]),
    ]
    with Origin() as o, Gantry(cfg(o, orders())) as g:
        before = upstream_requests(o)
        for doc, want in cases:
            r = post(g, doc)
            got, body = failures(r)
            assert got == want, (doc, body)
            assert all(e["message"] for e in body["errors"]), body
        # none of them reached the upstream
        assert upstream_requests(o) == before, o.stats()
        # a minLength counts characters, not bytes
        r = post(g, dict(GOOD, customer="\u00e9\u00e9"))
        assert failures(r)[0] == [("/customer", "pattern")], r.body


def test_first_n_errors_are_listed():
    with Origin() as o, Gantry(cfg(o, orders(max_errors=2))) as g:
        r = post(g, {"customer": 1, "items": 1, "priority": 1, "version": 1})
        got, body = failures(r)
        assert got == [("/customer", "type"), ("/items", "type")], body
        assert body["more_errors"] is True, body


def test_body_over_the_cap_is_413():
    with Origin() as o, Gantry(cfg(o, orders(max_body=64))) as g:
        big = json.dumps(dict(GOOD, note="x" * 200)).encode()
        r = post(g, big)
        assert_json_error(r, 413)
        with HttpConn(g.port) as c:
            c.send_request("POST", "/echo/orders", headers=JSON + [("Transfer-Encoding", "chunked")],
                           body=gwtest.chunked(big, 10))
            r = c.read_response()
        assert_json_error(r, 413)
        assert upstream_requests(o) == 0, o.stats()
        # within the cap: checked and passed
        small = b'{"customer":"ann","items":[{"sku":"a","qty":1}]}'
        r = post(g, small)
        assert r.status == 200 and r.json()["body"].encode() == small, r


def test_invalid_json_is_400():
    with Origin() as o, Gantry(cfg(o, orders())) as g:
        for raw in (b'{"customer": ', b'{"a": 1, "a": 2}', b"", b"nul"):
            r = post(g, raw)
            body = assert_json_error(r, 400)
            assert body["error"] == "request body is not valid JSON", (raw, body)
            assert body.get("reason"), body
        r = post(g, GOOD, headers=JSON + [("Content-Encoding", "gzip")])
        assert_json_error(r, 415)
        assert upstream_requests(o) == 0, o.stats()


def test_expect_100_continue_and_http10():
    with Origin() as o, Gantry(cfg(o, orders())) as g:
        raw = json.dumps(GOOD).encode()
        for body, status in ((raw, 200), (b'{"items": 1}', 400)):
            with HttpConn(g.port) as c:
                c.send(b"POST /echo/orders HTTP/1.1\r\nHost: a\r\nContent-Type: application/json"
                       b"\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
                r = c.read_response()
                if r.status == 100:
                    c.send(body)
                    r = c.read_response()
                assert r.status == status, (body, r)
        with HttpConn(g.port) as c:
            c.send_request("POST", "/echo/orders", headers=JSON, body=b'{"items": 1}',
                           version="HTTP/1.0")
            r = c.read_response()
        assert r.status == 400 and r.json()["errors"], r


def test_non_json_content_type_and_other_routes_pass():
    with Origin() as o, Gantry(cfg(o, orders())) as g:
        raw = b'{"customer": 5}'
        for ct in ("text/plain", "application/jsonx", "application/x-www-form-urlencoded"):
            r = post(g, raw, headers=[("Content-Type", ct)])
            assert r.status == 200 and r.json()["body"].encode() == raw, (ct, r)
        r = post(g, raw, headers=[])
        assert r.status == 200, r
        # another path, another method: no rule
        r = post(g, raw, path="/echo/other")
        assert r.status == 200 and r.json()["body"].encode() == raw, r
        r = request(g.port, "PATCH", "/echo/orders", headers=JSON, body=raw)
        assert r.status == 200, r
        r = request(g.port, "GET", "/echo/orders")
        assert r.status == 200, r


def test_rules_by_route_gateway_inherited_and_schema_file():
    with tempfile.TemporaryDirectory() as d, Origin() as o:
        path = os.path.join(d, "user.json")
        with open(path, "w") as f:
            json.dump({"type": "object", "required": ["email"]}, f)
        top = {"validation": {"rules": [{"match": {"prefix": "/echo/users"},
                                         "schema_file": path}]}}
        c = gwtest.simple_config(o, **top)
        base = c["services"][0]
        c["services"] = [
            dict(base, name="a", prefix="/echo/a",
                 validation={"rules": [{"match": {"prefix": "/echo/a/strict"},
                                        "schema": False},
                                       {"match": {"prefix": "/echo/a"},
                                        "schema": {"type": "object"}}]}),
            dict(base, name="off", prefix="/echo/off", validation=False),
            dict(base, name="own", prefix="/echo/users/own",
                 validation={"inherit": False, "rules": []}),
            dict(base, name="users", prefix="/echo/users"),
        ]
        with Gantry(c) as g:
            # the longest matching prefix wins
            r = post(g, {"x": 1}, path="/echo/a/b")
            assert r.status == 200, r
            got, _ = failures(post(g, {"x": 1}, path="/echo/a/strict/1"))
            assert got == [("", "false")], got
            got, _ = failures(post(g, [1], path="/echo/a/b"))
            assert got == [("", "type")]
            # the gateway's rule, with its schema from a file
            got, _ = failures(post(g, {"name": "x"}, path="/echo/users/1"))
            assert got == [("", "required")], got
            assert post(g, {"email": "a@b"}, path="/echo/users/1").status == 200
            # inherit false, and validation off
            assert post(g, {"name": "x"}, path="/echo/users/own/1").status == 200
            assert post(g, b"not json", path="/echo/off").status == 200


def test_with_a_body_transformation_the_edited_body_is_checked():
    with Origin() as o:
        c = cfg(o, orders())
        c["services"][0]["transform"] = {"request": {"body": {"remove": ["debug"],
                                                              "rename": {"cust": "customer"}}}}
        with Gantry(c) as g:
            r = post(g, {"cust": "ann", "debug": 1, "items": [{"sku": "a", "qty": 1}]})
            assert r.status == 200, (r, r.body)
            assert json.loads(r.json()["body"]) == {"customer": "ann",
                                                     "items": [{"sku": "a", "qty": 1}]}


def check(text, name="gantry.json", files=None):
    with tempfile.TemporaryDirectory() as d:
        for fname, ftext in (files or {}).items():
            with open(os.path.join(d, fname), "w") as f:
                f.write(ftext)
        text = text.replace("@DIR@", d)
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(text)
        res = run_gantry(["check", path])
        return res.returncode, (res.stdout + res.stderr).replace(d + "/", "")


def test_config_errors_with_positions():
    text = ('{\n  "services": [{"name": "s", "prefix": "/", "targets": ["http://127.0.0.1:9"],\n'
            '    "validation": {"rules": [{"match": {"prefix": "/a"}, "schema": {\n'
            '      "type": "object", "properties": {"a": {"format": "email"},\n'
            '        "b": {"pattern": "(", "type": "strin"}}}}]}}]\n}\n')
    rc, out = check(text)
    assert rc == 1, out
    col = text.splitlines()[3].index('"format"') + 1
    assert ("gantry.json:4:%d: services[0].validation.rules[0].schema.properties.a.format" % col
            in out), out
    assert "unknown or unsupported keyword \"format\"" in out, out
    assert "gantry.json:5:" in out and "invalid pattern" in out and "unknown type" in out, out

    schema = '{\n  "type": "object",\n  "properties": {"x": {"$ref": "#/$defs/nope"}}\n}\n'
    text = ('{"services": [{"name": "s", "prefix": "/", "targets": ["http://127.0.0.1:9"],\n'
            ' "validation": {"rules": [{"match": {"prefix": "/a"},'
            ' "schema_file": "@DIR@/s.json"}, {"match": {}}]}}]}\n')
    rc, out = check(text, files={"s.json": schema})
    assert rc == 1, out
    col = schema.splitlines()[2].index('"#/') + 1
    assert "s.json:3:%d: properties.x[\"$ref\"]: $ref: no \"nope\"" % col in out, out
    assert "needs \"schema\" (inline) or \"schema_file\"" in out, out

    rc, out = check('{"services": [{"name": "s", "prefix": "/", "targets": ["http://127.0.0.1:9"],'
                    ' "validation": {"rules": [{"match": {}, "schema_file": "@DIR@/none.json"}]}}]}')
    assert rc == 1 and "cannot read" in out, out
    rc, out = check('{"services": [{"name": "s", "prefix": "/", "targets": ["http://127.0.0.1:9"],'
                    ' "validation": {"rules": [{"match": {}, "schema_file": "@DIR@/s.json"}]}}]}',
                    files={"s.json": '{"type": \n  "x" "y"}'})
    assert rc == 1 and "s.json:2:" in out, out


if __name__ == "__main__":
    gwtest.main(globals())
