#!/usr/bin/env python3
"""API versioning (issue 16), through the real binary: services that share a prefix and differ
by "version"; the version read from a header, an Accept media-type parameter, the query or a
leading path segment, with a default; unknown versions answered 404 or 400 with the versions
offered; deprecated versions marked with Deprecation, Sunset and Link headers. Each version
is its own origin, told apart by X-Origin-Port. Source: docs/versioning.md.
"""

import calendar
import email.utils
import json
import os

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


def users(o1, o2, **extra):
    return [svc("users-v1", "/echo/users", o1, "1", **extra),
            svc("users-v2", "/echo/users", o2, "2", **extra)]


def test_header_chooses_the_version_and_the_default_applies_without_one():
    with Origin() as o1, Origin() as o2, \
            Gantry(config(*users(o1, o2), versioning={"default": "1"})) as g:
        served_by(get(g, "/echo/users/7", {"Accept-Version": "2"}), o2)
        served_by(get(g, "/echo/users/7", {"API-Version": "1"}), o1)
        served_by(get(g, "/echo/users/7", {"accept-version": "1"}), o1)
        served_by(get(g, "/echo/users/7"), o1)  # the default
        r = get(g, "/echo/users/7", {"Accept-Version": "2"})
        assert r.json()["path"] == "/echo/users/7"  # nothing of the version reaches the path


def test_accept_media_type_parameter_and_query_parameter():
    with Origin() as o1, Origin() as o2, Gantry(config(*users(o1, o2))) as g:
        served_by(get(g, "/echo/users", {"Accept": "application/vnd.acme+json; version=2"}), o2)
        served_by(get(g, "/echo/users", {"Accept": 'text/html, application/json;q=0.9;'
                                                   'Version="1"'}), o1)
        served_by(get(g, "/echo/users?version=2&x=1"), o2)
        r = get(g, "/echo/users?x=1&version=1")
        served_by(r, o1)
        assert r.json()["path"] == "/echo/users?x=1&version=1"  # the query goes on as it was


def test_sources_are_tried_in_the_configured_order():
    with Origin() as o1, Origin() as o2:
        both = {"Accept-Version": "1"}
        with Gantry(config(*users(o1, o2))) as g:  # default order: header before query
            served_by(get(g, "/echo/users?version=2", both), o1)
        with Gantry(config(*users(o1, o2), versioning={"sources": ["query", "header"]})) as g:
            served_by(get(g, "/echo/users?version=2", both), o2)
        with Gantry(config(*users(o1, o2), versioning={
                "sources": ["header"], "headers": ["X-Api-Version"], "default": "1"})) as g:
            served_by(get(g, "/echo/users", {"X-Api-Version": "2"}), o2)
            served_by(get(g, "/echo/users", {"Accept-Version": "2"}), o1)  # not a source here
            served_by(get(g, "/echo/users?version=2"), o1)
            assert_json_error(get(g, "/v2/echo/users"), 404)  # path is not a source: no route


def test_path_segment_routes_and_is_stripped_or_kept():
    with Origin() as o1, Origin() as o2:
        with Gantry(config(*users(o1, o2))) as g:
            r = get(g, "/v2/echo/users/7?a=1")
            served_by(r, o2)
            assert r.json()["path"] == "/echo/users/7?a=1"
            r = get(g, "/v1/echo/users")
            served_by(r, o1)
            assert r.json()["path"] == "/echo/users"
            # the client's spelling of the rest is kept; the segment goes
            r = get(g, "/v2/echo/%75sers/7")
            served_by(r, o2)
            assert r.json()["path"] == "/echo/%75sers/7"
            # the path wins over a header (its route is the longer prefix)
            served_by(get(g, "/v1/echo/users", {"Accept-Version": "2"}), o1)
        with Gantry(config(*users(o1, o2), versioning={"strip_path_version": False})) as g:
            o2.reset_stats()
            get(g, "/v2/echo/users/7")
            assert o2.last_requests()[-1]["target"] == "/v2/echo/users/7"
        # strip_prefix strips the whole matched "/v2/echo/users"
        with Gantry(config(*users(o1, o2, strip_prefix=True))) as g:
            get(g, "/v2/echo/users/echo/x")
            assert o2.last_requests()[-1]["target"] == "/echo/x"
        # a custom path prefix, and a version on the prefix "/"
        with Gantry(config(svc("root-v3", "/", o1, "3"),
                           versioning={"path_prefix": "api-v"})) as g:
            r = get(g, "/api-v3/echo/z")
            served_by(r, o1)
            assert r.json()["path"] == "/echo/z"


def test_unknown_version_answers_404_or_400_with_the_versions_offered():
    with Origin() as o1, Origin() as o2:
        with Gantry(config(*users(o1, o2))) as g:
            o1.reset_stats()
            o2.reset_stats()
            body = assert_json_error(get(g, "/echo/users", {"Accept-Version": "9"}), 404)
            assert body["error"] == "unknown API version", body
            assert body["versions"] == ["1", "2"], body
            # no version and no default
            body = assert_json_error(get(g, "/echo/users"), 404)
            assert body["versions"] == ["1", "2"], body
            # a value that is not a version token is unknown too
            body = assert_json_error(get(g, "/echo/users", {"Accept-Version": "2 3"}), 404)
            # a path version segment nobody serves in front of the versioned prefix
            body = assert_json_error(get(g, "/v9/echo/users/7"), 404)
            assert body["error"] == "unknown API version" and body["versions"] == ["1", "2"]
            body = assert_json_error(get(g, "/v9/elsewhere"), 404)
            assert body["error"] == "no route matched", body
            assert o1.stats()["requests"] == 0 and o2.stats()["requests"] == 0
        with Gantry(config(*users(o1, o2), versioning={"unknown_status": 400})) as g:
            body = assert_json_error(get(g, "/echo/users?version=3"), 400)
            assert body["versions"] == ["1", "2"], body
            body = assert_json_error(get(g, "/v3/echo/users"), 400)
            assert body["versions"] == ["1", "2"], body


def test_method_not_allowed_within_a_version():
    with Origin() as o1, Origin() as o2:
        cfg = config(svc("v1", "/echo/users", o1, "1", methods=["GET"]),
                     svc("v2", "/echo/users", o2, "2"))
        with Gantry(cfg) as g:
            r = get(g, "/echo/users", {"Accept-Version": "1"}, method="DELETE")
            assert_json_error(r, 405)
            assert "GET" in r.header("Allow"), r.headers
            served_by(get(g, "/echo/users", {"Accept-Version": "2"}, method="DELETE"), o2)


def test_deprecated_version_gets_deprecation_sunset_and_link():
    dep = "2026-01-31T00:00:00Z"
    sunset = "2027-06-30T12:00:00Z"
    with Origin() as o1, Origin() as o2:
        v1 = svc("users-v1", "/echo/users", o1, "1", deprecated_at=dep, sunset_at=sunset,
                 successor="/v2/echo/users",
                 rate_limit={"limits": [{"limit": 1, "period": "1m"}]})
        v2 = svc("users-v2", "/echo/users", o2, "2")
        with Gantry(config(v1, v2, versioning={"default": "2"})) as g:
            r = get(g, "/echo/users/1", {"Accept-Version": "1"})
            served_by(r, o1)
            want = calendar.timegm((2026, 1, 31, 0, 0, 0))
            assert r.header("Deprecation") == "@%d" % want, r.headers
            assert r.header("Sunset") == "Wed, 30 Jun 2027 12:00:00 GMT", r.headers
            assert email.utils.parsedate_to_datetime(r.header("Sunset")).year == 2027
            assert r.header("Link") == '</v2/echo/users>; rel="successor-version"', r.headers
            # gantry's own answer for the version (a 429 here) carries them too
            r = get(g, "/v1/echo/users/1")
            assert_json_error(r, 429)
            assert r.header("Deprecation") == "@%d" % want, r.headers
            # the current version has none
            r = get(g, "/echo/users/1")
            served_by(r, o2)
            assert r.header("Deprecation") is None and r.header("Sunset") is None, r.headers
            assert r.header("Link") is None, r.headers


def test_unversioned_service_may_be_deprecated_and_hosts_keep_versions_apart():
    with Origin() as o1, Origin() as o2, Origin() as o3:
        cfg = config(svc("old", "/echo/old", o3, deprecated_at="2025-05-01T00:00:00Z"),
                     svc("a-v1", "/echo", o1, "1", hosts=["a.example"]),
                     svc("b-v1", "/echo", o2, "1", hosts=["b.example"]))
        with Gantry(cfg) as g:
            r = get(g, "/echo/old/x")
            served_by(r, o3)
            assert r.header("Deprecation") == "@%d" % calendar.timegm((2025, 5, 1, 0, 0, 0))
            r = get(g, "/echo/x", {"Accept-Version": "1", "Host": "b.example"})
            served_by(r, o2)
            r = get(g, "/v1/echo/x", {"Host": "a.example"})
            served_by(r, o1)


def test_cors_preflight_reaches_a_version_without_naming_one():
    # A browser's preflight carries no Accept-Version value (only its name, in
    # Access-Control-Request-Headers): it is answered by the CORS of a version that serves the
    # method it asks about, even without a default version.
    with Origin() as o1, Origin() as o2:
        cors = {"origins": ["https://app.example"], "headers": ["Accept-Version"]}
        cfg = config(svc("v1", "/echo/users", o1, "1", methods=["GET"], cors=cors),
                     svc("v2", "/echo/users", o2, "2", methods=["GET", "PUT"], cors=cors))
        with Gantry(cfg) as g:
            pre = {"Origin": "https://app.example", "Access-Control-Request-Method": "PUT",
                   "Access-Control-Request-Headers": "accept-version"}
            r = get(g, "/echo/users/7", pre, method="OPTIONS")
            assert r.status == 204, r
            assert r.header("Access-Control-Allow-Origin") == "https://app.example", r.headers
            assert o1.stats()["requests"] == 0 and o2.stats()["requests"] == 0
            # the actual request names its version
            r = get(g, "/echo/users/7", {"Origin": "https://app.example", "Accept-Version": "2"},
                    method="PUT")
            served_by(r, o2)
            assert r.header("Access-Control-Allow-Origin") == "https://app.example", r.headers


def test_config_errors_name_the_key():
    with Origin() as o1:
        bad = [
            (config(svc("a", "/x", o1, "2 beta")), "services[0].version", "is not a version"),
            (config(svc("a", "/x", o1, "1", sunset_at="next year")), "services[0].sunset_at",
             "RFC 3339"),
            (config(svc("a", "/x", o1, "1"), versioning={"unknown_status": 500}),
             "versioning.unknown_status", "404 or 400"),
            (config(svc("a", "/x", o1, "1"), versioning={"sources": ["cookie"]}),
             "versioning.sources[0]", "unknown source"),
            (config(svc("a", "/x", o1, "1"), svc("b", "/x", o1), svc("c", "/x", o1)),
             "services[2].prefix", "is already the default of that versioned prefix"),
            (config(svc("a", "/x", o1, "1"), svc("b", "/x", o1, "1")), "services[1].prefix",
             "is already routed"),
        ]
        d = gwtest._mkdtemp("versioning")
        for i, (cfg, path, words) in enumerate(bad):
            f = os.path.join(d, "bad%d.json" % i)
            with open(f, "w") as fh:
                json.dump(cfg, fh, indent=2)
            p = gwtest.run_gantry(["check", f])
            assert p.returncode != 0, (cfg, p.stdout, p.stderr)
            out = p.stdout + p.stderr
            assert path in out and words in out, (path, words, out)


def test_a_route_of_a_service_requires_its_versions():
    """A service's "versions" give routes (a match) versions of their own: a request to the
    route names one of them (or the default is one), else the unknown-version answer with the
    route's versions; the route's deprecation headers; other routes of the service as before."""
    dep = "2026-03-01T00:00:00Z"
    with Origin() as o:
        s = svc("users", "/echo/users", o, versions=[
            {"match": {"prefix": "/echo/users/export", "methods": ["GET"]}, "version": "2"},
            {"match": {"prefix": "/echo/users/legacy"}, "version": ["1", "1.1"],
             "deprecated_at": dep, "successor": "/echo/users/export"}])
        with Gantry(config(s)) as g:
            o.reset_stats()
            # an unversioned route of the service needs no version
            served_by(get(g, "/echo/users/7"), o)
            # the versioned route: its version by any source
            served_by(get(g, "/echo/users/export", {"Accept-Version": "2"}), o)
            served_by(get(g, "/echo/users/export?version=2"), o)
            served_by(get(g, "/echo/users/export",
                          {"Accept": "application/vnd.acme+json; version=2"}), o)
            # another version, or none: refused before the upstream, with the versions offered
            before = o.stats()["requests"]
            body = assert_json_error(get(g, "/echo/users/export", {"Accept-Version": "1"}), 404)
            assert body["error"] == "unknown API version" and body["versions"] == ["2"], body
            body = assert_json_error(get(g, "/echo/users/export"), 404)
            assert body["versions"] == ["2"], body
            assert o.stats()["requests"] == before
            # the rule's methods: a POST to the route is not the versioned route
            served_by(get(g, "/echo/users/export", method="POST"), o)
            # a route with two versions, deprecated: its headers, on its own answers too
            r = get(g, "/echo/users/legacy/9", {"API-Version": "1.1"})
            served_by(r, o)
            assert r.header("Deprecation") == "@%d" % calendar.timegm((2026, 3, 1, 0, 0, 0))
            assert r.header("Link") == '</echo/users/export>; rel="successor-version"', r.headers
            r = get(g, "/echo/users/legacy/9", {"API-Version": "3"})
            body = assert_json_error(r, 404)
            assert body["versions"] == ["1", "1.1"], body
            assert r.header("Deprecation") is not None, r.headers
            # the service's other routes carry none
            assert get(g, "/echo/users/export?version=2").header("Deprecation") is None
        # the default version, and 400 as the unknown status
        with Gantry(config(s, versioning={"default": "2", "unknown_status": 400})) as g:
            served_by(get(g, "/echo/users/export"), o)
            body = assert_json_error(get(g, "/echo/users/legacy"), 400)
            assert body["versions"] == ["1", "1.1"], body
        # config errors name the key
        bad = svc("users", "/echo/users", o, versions=[{"match": {"prefix": "/x"},
                                                        "version": "2 3"}])
        path = os.path.join(gwtest._mkdtemp("versioning"), "bad.json")
        with open(path, "w") as f:
            json.dump(config(bad), f)
        out = gwtest.run_gantry(["check", path])
        assert out.returncode != 0, out
        assert "services[0].versions[0].version" in out.stderr and "is not a version" in \
            out.stderr, out.stderr
        missing = svc("users", "/echo/users", o, versions=[{"match": {"prefix": "/x"}}])
        with open(path, "w") as f:
            json.dump(config(missing), f)
        out = gwtest.run_gantry(["check", path])
        assert out.returncode != 0 and "services[0].versions[0]" in out.stderr, out.stderr


if __name__ == "__main__":
    gwtest.main(globals())


def vary_names(r):
    return {v.strip().lower() for line in r.headers if line[0].lower() == "vary"
            for v in line[1].split(",")}


def test_versions_never_share_a_cache_entry_and_answers_vary_by_the_version_headers():
    """One URL answered by two versions: the response cache keeps an entry per service and per
    version (the stripped path segment included), and the answers say Vary with the version
    headers and Accept, so no cache in front of gantry mixes them up either."""
    cache = {"ttl": "60s"}
    with Origin() as o1, Origin() as o2, \
            Gantry(config(*users(o1, o2, cache=cache), versioning={"default": "1"})) as g:
        r = get(g, "/echo/users/c1", {"Accept-Version": "2"})
        served_by(r, o2)
        assert r.header("X-Cache") == "MISS", r.headers
        assert {"accept-version", "api-version", "accept"} <= vary_names(r), r.headers
        r = get(g, "/echo/users/c1", {"Accept-Version": "1"})
        served_by(r, o1)
        assert r.header("X-Cache") == "MISS", r.headers
        assert {"accept-version", "api-version", "accept"} <= vary_names(r), r.headers
        r = get(g, "/echo/users/c1", {"Accept-Version": "2"})
        served_by(r, o2)
        assert r.header("X-Cache") == "HIT", r.headers
        served_by(get(g, "/echo/users/c1"), o1)  # the default is version 1: its entry
        # the path segment is stripped before the key is made: still one entry per version
        r = get(g, "/v2/echo/users/c2")
        served_by(r, o2)
        assert r.header("X-Cache") == "MISS", r.headers
        r = get(g, "/v1/echo/users/c2")
        served_by(r, o1)
        assert r.header("X-Cache") == "MISS", r.headers
        assert get(g, "/v1/echo/users/c2").header("X-Cache") == "HIT"
    # one service with version rules: one entry per version of the route
    with Origin() as o:
        s = svc("users", "/echo/users", o, cache=cache, versions=[
            {"match": {"prefix": "/echo/users/export"}, "version": ["1", "2"]}])
        with Gantry(config(s, versioning={"sources": ["header"]})) as g:
            r = get(g, "/echo/users/export", {"Accept-Version": "2"})
            assert r.header("X-Cache") == "MISS" and vary_names(r) >= {"accept-version"}, r.headers
            assert "accept" not in vary_names(r), r.headers  # Accept is not a source here
            r = get(g, "/echo/users/export", {"Accept-Version": "1"})
            assert r.header("X-Cache") == "MISS", r.headers
            assert ["Accept-Version", "1"] in r.json()["headers"], r.json()  # not v2's answer
            r = get(g, "/echo/users/export", {"Accept-Version": "1"})
            assert r.header("X-Cache") == "HIT", r.headers
    # an unversioned service on its own prefix: no Vary of versioning
    with Origin() as o, Gantry(config(svc("plain", "/echo/plain", o))) as g:
        r = get(g, "/echo/plain/x")
        served_by(r, o)
        assert not vary_names(r) & {"accept-version", "api-version"}, r.headers
