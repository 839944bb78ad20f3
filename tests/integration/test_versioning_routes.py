#!/usr/bin/env python3
"""API versioning (issue 16), routing by prefix and version through the real binary: several
services on one prefix with their versions plus a default service (an unversioned one) for
requests that name no version; path segments in front of a version rule's prefix
("/v2/echo/users/export"), stripped or kept; the admin API's route table and backend
registrations on a prefix that versioned services share. Each service is its own origin, told
apart by X-Origin-Port. Source: docs/versioning.md.
"""

import calendar
import json

import gwtest
from gwtest import Gantry, Origin, assert_json_error, request


def svc(name, prefix, origin, version=None, **extra):
    s = {"name": name, "prefix": prefix, "targets": [origin.target()]}
    if version is not None:
        s["version"] = version
    s.update(extra)
    return s


def config(*services, **top):
    cfg = {"workers": 1, "services": list(services), "log": {"access": "off"}}
    cfg.update(top)
    return cfg


def get(g, path, headers=None, method="GET"):
    return request(g.port, method, path, headers=headers, host=g.host)


def served_by(r, origin):
    assert r.status == 200, r
    assert r.header("X-Origin-Port") == str(origin.port), (r.headers, origin.port)


def orders(o1, o2, od, **extra):
    """orders-v1 (version 1) and orders-v2 (version 2) on /echo/orders, and the default."""
    return [svc("orders-v1", "/echo/orders", o1, "1", **extra),
            svc("orders-v2", "/echo/orders", o2, "2", **extra),
            svc("orders", "/echo/orders", od, **extra)]


def test_one_prefix_goes_to_the_service_of_its_version_or_the_default():
    with Origin() as o1, Origin() as o2, Origin() as od:
        with Gantry(config(*orders(o1, o2, od))) as g:
            served_by(get(g, "/echo/orders/7", {"Accept-Version": "1"}), o1)
            served_by(get(g, "/echo/orders/7", {"Accept": "application/vnd.x+json; version=2"}), o2)
            served_by(get(g, "/echo/orders/7?version=2"), o2)
            r = get(g, "/v2/echo/orders/7")
            served_by(r, o2)
            assert r.json()["path"] == "/echo/orders/7"
            # no version named: the default service
            r = get(g, "/echo/orders/7")
            served_by(r, od)
            assert r.json()["path"] == "/echo/orders/7"
            served_by(get(g, "/echo/orders", method="POST"), od)
            # a version nobody serves: the unknown-version answer with the versions offered,
            # never the default
            od.reset_stats()
            body = assert_json_error(get(g, "/echo/orders", {"API-Version": "3"}), 404)
            assert body["error"] == "unknown API version", body
            assert body["versions"] == ["1", "2"], body
            body = assert_json_error(get(g, "/v3/echo/orders"), 404)
            assert body["versions"] == ["1", "2"], body
            assert od.stats()["requests"] == 0
        # the default service comes before versioning.default; 400 when configured
        with Gantry(config(*orders(o1, o2, od),
                           versioning={"default": "1", "unknown_status": 400})) as g:
            served_by(get(g, "/echo/orders/1"), od)
            body = assert_json_error(get(g, "/echo/orders/1?version=9"), 400)
            assert body["versions"] == ["1", "2"], body
        # without a default service, versioning.default applies as before
        with Gantry(config(*orders(o1, o2, od)[:2], versioning={"default": "1"})) as g:
            served_by(get(g, "/echo/orders/1"), o1)


def test_the_default_keeps_its_methods_and_deprecation():
    dep = "2026-01-31T00:00:00Z"
    with Origin() as o1, Origin() as od:
        cfg = config(svc("orders-v1", "/echo/orders", o1, "1"),
                     svc("orders", "/echo/orders", od, methods=["GET"], deprecated_at=dep,
                         successor="/v1/echo/orders"))
        with Gantry(cfg) as g:
            r = get(g, "/echo/orders/1")
            served_by(r, od)
            assert r.header("Deprecation") == "@%d" % calendar.timegm((2026, 1, 31, 0, 0, 0))
            assert r.header("Link") == '</v1/echo/orders>; rel="successor-version"', r.headers
            r = get(g, "/echo/orders/1", method="DELETE")
            assert_json_error(r, 405)
            assert r.header("Allow") == "GET, HEAD", r.headers
            r = get(g, "/echo/orders/1", {"Accept-Version": "1"}, method="DELETE")
            served_by(r, o1)
            assert r.header("Deprecation") is None, r.headers


def test_path_segment_in_front_of_a_version_rule():
    """A version rule's routes are reached by a path segment too: "/v2/echo/users/export" is
    the rule's prefix "/echo/users/export" with version 2, routed to the rule's service."""
    dep = "2026-03-01T00:00:00Z"
    with Origin() as o, Origin() as other:
        rules = [{"match": {"prefix": "/echo/users/export", "methods": ["GET"]}, "version": "2"},
                 {"match": {"prefix": "/echo/users/legacy"}, "version": ["1", "1.1"],
                  "deprecated_at": dep, "successor": "/v2/echo/users/export"}]
        users = svc("users", "/echo/users", o, versions=rules)
        with Gantry(config(users, svc("catchall", "/", other))) as g:
            o.reset_stats()
            r = get(g, "/v2/echo/users/export/7?a=1")
            served_by(r, o)
            assert r.json()["path"] == "/echo/users/export/7?a=1"  # the segment is stripped
            # the path names the version: it wins over a header, as for versioned services
            served_by(get(g, "/v2/echo/users/export", {"Accept-Version": "1"}), o)
            # the client's spelling of the rest goes on
            r = get(g, "/v2/echo/users/%65xport")
            served_by(r, o)
            assert r.json()["path"] == "/echo/users/%65xport"
            r = get(g, "/v1.1/echo/users/legacy/9")
            served_by(r, o)
            assert r.json()["path"] == "/echo/users/legacy/9"
            assert r.header("Deprecation") == "@%d" % calendar.timegm((2026, 3, 1, 0, 0, 0))
            assert r.header("Link") == '</v2/echo/users/export>; rel="successor-version"'
            # only the rule's methods and versions have path routes: a POST there is not allowed
            # (no fall back to a shorter prefix), another version is just another path
            r = get(g, "/v2/echo/users/export", method="POST")
            assert_json_error(r, 405)
            assert r.header("Allow") == "GET, HEAD", r.headers
            r = get(g, "/v3/echo/users/export")
            assert r.header("X-Origin-Port") == str(other.port), r.headers
            # the header still works without the segment
            served_by(get(g, "/echo/users/export", {"Accept-Version": "2"}), o)
            assert_json_error(get(g, "/echo/users/export"), 404)
        # a segment with a version the rule does not have, where nothing else routes the path:
        # the unknown-version answer with the rule's versions
        with Gantry(config(users, versioning={"unknown_status": 400})) as g:
            o.reset_stats()
            body = assert_json_error(get(g, "/v9/echo/users/export/7"), 400)
            assert body["error"] == "unknown API version" and body["versions"] == ["2"], body
            body = assert_json_error(get(g, "/v2/echo/users/legacy"), 400)
            assert body["versions"] == ["1", "1.1"], body
            # no rule covers the rest: no route
            body = assert_json_error(get(g, "/v9/echo/users/7"), 404)
            assert body["error"] == "no route matched", body
            assert o.stats()["requests"] == 0
        # kept when strip_path_version is off
        with Gantry(config(users, versioning={"strip_path_version": False})) as g:
            o.reset_stats()
            r = get(g, "/v2/echo/users/export/7")  # the origin has no such path: its 404
            assert r.header("X-Origin-Port") == str(o.port), r.headers
            assert o.last_requests()[-1]["target"] == "/v2/echo/users/export/7"
        # with strip_prefix the service's prefix goes too (not the rule's)
        for keep in (True, False):
            s = svc("users", "/echo/users", o, versions=rules, strip_prefix=True)
            with Gantry(config(s, versioning={"strip_path_version": keep})) as g:
                o.reset_stats()
                r = get(g, "/v2/echo/users/export/7")
                assert r.header("X-Origin-Port") == str(o.port), r.headers
                assert o.last_requests()[-1]["target"] == "/export/7"
        # a rule without a prefix covers the service: "/v4" + the service's prefix
        s = svc("users", "/echo/users", o, versions=[{"match": {}, "version": "4"}])
        with Gantry(config(s)) as g:
            r = get(g, "/v4/echo/users/7")
            served_by(r, o)
            assert r.json()["path"] == "/echo/users/7"
            body = assert_json_error(get(g, "/echo/users/7"), 404)
            assert body["versions"] == ["4"], body
        # no path routes when the path is not a source
        with Gantry(config(users, svc("catchall", "/", other),
                           versioning={"sources": ["header"]})) as g:
            r = get(g, "/v2/echo/users/export")
            assert r.header("X-Origin-Port") == str(other.port), r.headers


def test_config_refuses_clashes_with_the_key_path():
    with Origin() as o:
        bad = [
            # two services of one prefix without distinct versions
            (config(svc("a", "/x", o, "1"), svc("b", "/x", o, "1")), "services[1].prefix",
             "is already routed"),
            (config(svc("a", "/x", o, "1"), svc("b", "/x", o), svc("c", "/x", o)),
             "services[2].prefix", "is already the default of that versioned prefix"),
            # a rule's path route taken by another service
            (config(svc("a", "/x", o, versions=[{"match": {"prefix": "/x/y"}, "version": "2"}]),
                    svc("b", "/v2/x/y", o)),
             "services[0].versions[0].match.prefix", "the path route of a version rule"),
        ]
        d = gwtest._mkdtemp("versioning")
        for i, (cfg, path, words) in enumerate(bad):
            f = "%s/bad%d.json" % (d, i)
            with open(f, "w") as fh:
                json.dump(cfg, fh, indent=2)
            p = gwtest.run_gantry(["check", f])
            assert p.returncode != 0, (cfg, p.stdout, p.stderr)
            out = p.stdout + p.stderr
            assert path in out and words in out, (path, words, out)
            assert "bad%d.json:" % i in out, out  # file:line:column


def test_admin_route_table_shows_versions():
    with Origin() as o1, Origin() as o2, Origin() as od:
        rules = [{"match": {"prefix": "/echo/orders/export"}, "version": "3"}]
        cfg = config(*orders(o1, o2, od)[:2], svc("orders", "/echo/orders", od, versions=rules))
        with Gantry(cfg) as g:
            r = g.admin_request("GET", "/gateway/routing")
            assert r.status == 200, r
            rows = [(x["prefix"], x["service"], x.get("version"), x.get("version_in_path"))
                    for x in r.json()["routes"]]
            # longest prefix first (rows of one prefix in no particular order)
            assert [x[0] for x in rows] == ["/v3/echo/orders/export", "/v1/echo/orders",
                                            "/v2/echo/orders"] + ["/echo/orders"] * 3, rows
            assert sorted(rows, key=str) == sorted([
                ("/v3/echo/orders/export", "orders", "3", True),
                ("/v1/echo/orders", "orders-v1", "1", True),
                ("/v2/echo/orders", "orders-v2", "2", True),
                ("/echo/orders", "orders", None, None),
                ("/echo/orders", "orders-v1", "1", False),
                ("/echo/orders", "orders-v2", "2", False),
            ], key=str), rows
            served_by(get(g, "/v3/echo/orders/export"), od)


def test_admin_api_changes_versioned_services():
    with Origin() as o1, Origin() as o2, Origin() as o3:
        with Gantry(config(svc("orders-v1", "/echo/orders", o1, "1"))) as g:
            hs = {"Content-Type": "application/json"}
            new = svc("orders-v2", "/echo/orders", o2, "2")
            r = g.admin_request("POST", "/api/services", headers=hs, body=json.dumps(new))
            assert r.status == 201, r
            served_by(get(g, "/echo/orders", {"Accept-Version": "2"}), o2)
            served_by(get(g, "/v1/echo/orders"), o1)
            # the same version again is refused with the key path; nothing changes
            dup = svc("orders-b", "/echo/orders", o3, "2")
            r = g.admin_request("POST", "/api/services", headers=hs, body=json.dumps(dup))
            assert r.status == 400 and "services[2].prefix" in r.text, r
            # a default added at run time
            dflt = svc("orders", "/echo/orders", o3)
            r = g.admin_request("POST", "/api/services", headers=hs, body=json.dumps(dflt))
            assert r.status == 201, r
            served_by(get(g, "/echo/orders"), o3)
            # a PATCH moves a version
            r = g.admin_request("PATCH", "/api/services/orders-v2", headers=hs,
                                body=json.dumps({"version": "3"}))
            assert r.status == 200, r
            served_by(get(g, "/v3/echo/orders"), o2)
            body = assert_json_error(get(g, "/echo/orders?version=2"), 404)
            assert body["versions"] == ["1", "3"], body


def registration_config(*services):
    cfg = config(*services)
    cfg["registration"] = {"publish_interval": "50ms"}
    return cfg


def test_registrations_on_a_versioned_prefix_name_their_service():
    with Origin() as o1, Origin() as o2, Origin() as b:
        cfg = registration_config(*orders(o1, o2, o1)[:2])
        with Gantry(cfg) as g:
            hs = {"Content-Type": "application/json"}

            def register(name, prefix):
                body = {"name": name, "url": b.target()["url"], "prefix": prefix}
                return g.admin_request("POST", "/api/registrations", headers=hs,
                                       body=json.dumps(body))

            # another name on the shared prefix: 409 naming both owners
            r = register("orders-new", "/echo/orders")
            assert r.status == 409, r
            err = r.json()["error"]
            assert '"orders-v1"' in err and '"orders-v2"' in err, err
            # the second version's name joins that service (it used to be refused, the first
            # version owning the prefix)
            r = register("orders-v2", "/echo/orders")
            assert r.status == 201, r

            def both():
                ports = {get(g, "/v2/echo/orders/1").header("X-Origin-Port") for _ in range(8)}
                return ports == {str(o2.port), str(b.port)}
            gwtest.wait_until(both, 10, message="the registration joined orders-v2")
            # version 1 is untouched
            for _ in range(4):
                served_by(get(g, "/echo/orders", {"Accept-Version": "1"}), o1)


if __name__ == "__main__":
    gwtest.main(globals())
