#!/usr/bin/env python3
"""Which JWT claims gantry requires and where it reads roles and permissions from
(auth.jwt.required_claims, auth.jwt.roles_claim and auth.jwt.permissions_claim as lists).

Issue 11: a token without `sub` reached the upstream without X-User-ID, with no way to refuse
it; roles were read from one claim only, while identity providers put them in `role`, `roles`,
`scope`, `permissions` or (Keycloak) `realm_access.roles`.

Layout: three services with strip_prefix on one origin, so /api/<svc>/echo/... reaches the
origin's /echo/... which returns the headers it received.
  /api/admin   role admin
  /api/write   permissions read and write
  /api/any     any identity
"""

import re
import signal
import time

import gwtest
from gwtest import Gantry, Origin, request

from authsvc import hs_token

SECRET = "claims-test-secret-0123456789abcdefghij"  # >= 32 bytes

LISTS = {
    "required_claims": ["sub", "org.id"],
    "roles_claim": ["roles", "role", "scope", "realm_access.roles"],
    "permissions_claim": ["permissions", "scope"],
}


def config(origin, **jwt_extra):
    jwt = {"keys": [{"kid": "k1", "alg": "HS256", "secret": SECRET}]}
    jwt.update(jwt_extra)
    cfg = gwtest.simple_config(origin, auth={"jwt": jwt})
    cfg["services"] = [
        {"name": name, "prefix": "/api/" + name, "strip_prefix": True,
         "targets": [origin.target()], "auth": auth}
        for name, auth in (("admin", {"roles": ["admin"]}),
                           ("write", {"permissions": ["read", "write"]}),
                           ("any", True))
    ]
    return cfg


def token(**claims):
    """An HS256 token with exp in an hour, iat now, and these claims (None: left out)."""
    now = int(time.time())
    body = {"iat": now, "exp": now + 3600}
    body.update({k: v for k, v in claims.items() if v is not None})
    return hs_token(SECRET, body, kid="k1")


def get(g, path, tok):
    return request(g.port, "GET", path, headers=[("Authorization", "Bearer " + tok)])


def identity(r):
    """{header: value} of the identity headers the origin received."""
    assert r.status == 200, (r, r.body[:300])
    out = {}
    for name, value in r.json()["headers"]:
        if name.lower() in ("x-user-id", "x-user-roles", "x-consumer-id"):
            out[name.lower()] = value
    return out


def assert_401(r, reason):
    """gantry's 401 whose JSON reason and WWW-Authenticate error_description are `reason`."""
    body = gwtest.assert_json_error(r, 401)
    assert r.header("X-Origin-Port") is None, r.headers
    assert body["reason"] == reason, body
    challenge = r.header("WWW-Authenticate") or ""
    if reason == "missing bearer token":  # RFC 6750 3.1: no error code then
        assert challenge == 'Bearer realm="gantry"', challenge
        return body
    assert challenge.startswith('Bearer realm="gantry", error="invalid_token"'), challenge
    assert 'error_description="%s"' % reason in challenge, challenge


def test_a_token_without_a_required_claim_gets_401_naming_it():
    with Origin() as o, Gantry(config(o, **LISTS)) as g:
        ok = {"sub": "u1", "org": {"id": "acme"}}
        assert identity(get(g, "/api/any/echo/x", token(**ok))) == {"x-user-id": "u1"}
        seen = o.stats()["requests"]

        for what, claims, missing in [
            ("no sub", dict(ok, sub=None), "sub"),
            ("sub empty", dict(ok, sub=""), "sub"),
            ("no org", dict(ok, org=None), "org.id"),
            ("org without id", dict(ok, org={"name": "acme"}), "org.id"),
            ("org.id null", dict(ok, org={"id": None}), "org.id"),
        ]:
            try:
                assert_401(get(g, "/api/any/echo/x", token(**claims)),
                           "missing required claim '%s'" % missing)
            except AssertionError as e:
                raise AssertionError("%s: %s" % (what, e)) from None
        # sub: null is no sub either (JSON null is written out, not left out)
        now = int(time.time())
        tok = hs_token(SECRET, {"sub": None, "org": {"id": "a"}, "exp": now + 60}, kid="k1")
        assert_401(get(g, "/api/any/echo/x", tok), "missing required claim 'sub'")
        # a roles claim that is no list names the claim too
        assert_401(get(g, "/api/any/echo/x", token(roles={"admin": True}, **ok)),
                   "invalid claim 'roles'")
        assert o.stats()["requests"] == seen
        log = g.stdout() + g.stderr()
        assert re.search(r"authentication failed: missing required claim 'org\.id'", log), log


def test_roles_and_permissions_are_read_from_every_listed_claim():
    with Origin() as o, Gantry(config(o, **LISTS)) as g:
        base = {"sub": "u1", "org": {"id": "acme"}}
        for what, claims, roles in [
            ("roles array", {"roles": ["admin"]}, "admin"),
            ("role string", {"role": "admin"}, "admin"),
            ("scope string", {"scope": "openid admin"}, "openid admin"),
            ("Keycloak realm_access.roles", {"realm_access": {"roles": ["admin", "offline"]}},
             "admin offline"),
            ("union of roles and scope", {"roles": ["viewer"], "scope": "admin viewer"},
             "viewer admin"),
        ]:
            r = get(g, "/api/admin/echo/x", token(**dict(base, **claims)))
            try:
                assert identity(r) == {"x-user-id": "u1", "x-user-roles": roles}
            except AssertionError as e:
                raise AssertionError("%s: %s" % (what, e)) from None
        # none of the listed claims holds admin: 403; an unlisted claim is not read
        for claims in ({"roles": ["viewer"], "scope": "read"}, {"groups": ["admin"]}):
            r = get(g, "/api/admin/echo/x", token(**dict(base, **claims)))
            gwtest.assert_json_error(r, 403)

        # permissions: all of read and write, from permissions and scope together
        r = get(g, "/api/write/echo/x", token(permissions=["read"], scope="write", **base))
        assert r.status == 200, (r, r.body[:300])
        r = get(g, "/api/write/echo/x", token(permissions=["read"], **base))
        gwtest.assert_json_error(r, 403)


def test_claim_lists_take_effect_on_reload_and_a_bad_one_is_refused():
    with Origin() as o, Gantry(config(o)) as g:
        no_sub = token(roles=["viewer"])
        scope_admin = token(sub="u2", scope="admin")
        # defaults: nothing required (a token without sub passes, without X-User-ID), roles
        # only from "roles"
        assert identity(get(g, "/api/any/echo/x", no_sub)) == {"x-user-roles": "viewer"}
        gwtest.assert_json_error(get(g, "/api/admin/echo/x", scope_admin), 403)

        g.write_config(config(o, required_claims="sub", roles_claim=["roles", "scope"]))
        g.signal(signal.SIGHUP)
        gwtest.wait_until(lambda: get(g, "/api/admin/echo/x", scope_admin).status == 200, 10,
                          message="the reloaded roles_claim list in effect")
        assert_401(get(g, "/api/any/echo/x", no_sub), "missing required claim 'sub'")

        # an invalid list is refused with its position; the running config stays
        text = ('{"listen": "127.0.0.1:%d", "admin": {"listen": "127.0.0.1:%d"},\n'
                ' "auth": {"jwt": {"keys": [{"alg": "HS256", "secret": "%s"}],\n'
                '   "roles_claim": ["roles", "realm_access..roles"]}},\n'
                ' "services": [{"name": "any", "prefix": "/", "targets": ["%s"]}]}\n'
                % (g.port, g.admin_port, SECRET, o.target()["url"]))
        g.write_config(text)
        g.signal(signal.SIGHUP)
        g.wait_log(r"reload refused", stream="stderr")
        gwtest.wait_until(lambda: "realm_access..roles" in g.stderr(), 5,
                          message="the refused value in the log")
        want = (r'gantry\.json:3:29: auth\.jwt\.roles_claim\[1\]: "realm_access\.\.roles" is not '
                r'a claim name or a dotted path')
        assert re.search(want, g.stderr()), g.stderr()
        assert get(g, "/api/admin/echo/x", scope_admin).status == 200
        assert_401(get(g, "/api/any/echo/x", no_sub), "missing required claim 'sub'")


if __name__ == "__main__":
    gwtest.main(globals())
