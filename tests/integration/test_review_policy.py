#!/usr/bin/env python3
"""Review findings on the auth and rate-limit policies, as tests that fail while the finding
stands (GANTRY_BIN=... python3 test_review_policy.py):

- the verified-token cache is shared by every service and consulted before the service's
  accepted methods: an answer cached for one method is accepted by a service that only takes
  another (an introspected opaque token on a jwt-only service; a JWT on an introspection-only
  service, without the introspection that would have said "revoked");
- authentication runs before the rate limits, so requests with bad credentials are never
  counted: key guessing is unthrottled and each bogus opaque token costs one introspection;
- a limit's match.prefix is compared on '/' boundaries only, so a path parameter
  (";x", which Tomcat/Spring/Jetty strip) escapes a limit meant for that path;
- "required": false with roles lets an anonymous request through that the same request
  with a valid token lacking the role is refused (403).
"""

import hashlib
import os
import time

import gwtest
from gwtest import Gantry, Origin, request

from authsvc import AuthService, claims, hs_token

SECRET = "review-hs256-secret-0123456789abcdefghij"
LONG = "240h"


def bearer(tok):
    return [("Authorization", "Bearer " + tok)]


def opaque():
    return "opq-" + os.urandom(12).hex()


def base(origin, services, **top):
    cfg = {
        "listen": "127.0.0.1:%d" % gwtest.free_port(),
        "workers": 1,
        "services": services,
        "log": {"access": "off"},
    }
    cfg.update(top)
    return cfg


def two_method_config(o, svc):
    auth = {
        "jwt": {"keys": [{"kid": "k1", "alg": "HS256", "secret": SECRET}]},
        "introspection": {"url": svc.url("/introspect"), "timeout": "1s",
                          "cache_ttl": "60s", "negative_cache_ttl": "60s"},
    }
    services = [
        {"name": "jwtonly", "prefix": "/jwt", "strip_prefix": True, "targets": [o.target()],
         "auth": {"methods": ["jwt"]}},
        {"name": "introonly", "prefix": "/intro", "strip_prefix": True, "targets": [o.target()],
         "auth": {"methods": ["introspection"]}},
    ]
    return base(o, services, auth=auth)


def test_introspected_opaque_token_is_refused_by_a_jwt_only_service():
    tok, fresh = opaque(), opaque()
    now = int(time.time())
    with AuthService() as svc, Origin() as o:
        svc.set_tokens({t: {"active": True, "sub": "mallory", "roles": ["admin"],
                            "exp": now + 3600} for t in (tok, fresh)})
        with Gantry(two_method_config(o, svc)) as g:
            # control: the jwt-only service refuses an opaque token
            r = request(g.port, "GET", "/jwt/echo/x", headers=bearer(fresh))
            assert r.status == 401, (r.status, r.body[:200])
            # the same kind of token, once introspected for the other service...
            r = request(g.port, "GET", "/intro/echo/x", headers=bearer(tok))
            assert r.status == 200, (r.status, r.body[:200])
            # ...must still be refused where introspection is not an accepted method
            r = request(g.port, "GET", "/jwt/echo/x", headers=bearer(tok))
            assert r.status == 401, ("jwt-only service accepted an introspected opaque token",
                                     r.status, r.header("X-Origin-Port"))


def test_jwt_verified_elsewhere_still_goes_to_introspection():
    now = int(time.time())
    with AuthService() as svc, Origin() as o:
        svc.set_tokens({})  # the authorization server calls every token inactive (revoked)
        with Gantry(two_method_config(o, svc)) as g:
            a = hs_token(SECRET, claims(sub="u1", nonce=os.urandom(4).hex()), kid="k1")
            r = request(g.port, "GET", "/intro/echo/x", headers=bearer(a))
            assert r.status == 401, (r.status, r.body[:200])  # control: introspected, inactive
            b = hs_token(SECRET, claims(sub="u2", nonce=os.urandom(4).hex()), kid="k1")
            assert request(g.port, "GET", "/jwt/echo/x", headers=bearer(b)).status == 200
            calls = svc.stats()["introspect"]
            r = request(g.port, "GET", "/intro/echo/x", headers=bearer(b))
            assert r.status == 401 and svc.stats()["introspect"] == calls + 1, (
                "introspection-only service accepted a token without introspecting it",
                r.status, svc.stats()["introspect"], calls)
    del now


def test_bad_api_keys_count_against_the_per_ip_limit():
    good = "review-key-" + os.urandom(8).hex()
    with Origin() as o:
        auth = {"consumers": [{"id": "alice", "api_keys": [
            "sha256:" + hashlib.sha256(good.encode()).hexdigest()]}]}
        services = [{"name": "api", "prefix": "/api", "strip_prefix": True, "targets": [o.target()],
                     "auth": {"methods": ["api_key"]},
                     "rate_limit": {"limits": [{"name": "per-ip", "limit": 3, "period": LONG,
                                                "key": "ip"}]}}]
        with Gantry(base(o, services, auth=auth)) as g:
            statuses = [request(g.port, "GET", "/api/echo/x",
                                headers=[("X-API-Key", "guess-%d" % i)]).status
                        for i in range(8)]
            assert 429 in statuses, ("8 key guesses from one IP under a 3-per-IP limit, "
                                     "none rate limited", statuses)


def test_bogus_opaque_tokens_cost_at_most_the_limit_in_introspections():
    with AuthService() as svc, Origin() as o:
        svc.set_tokens({})
        auth = {"introspection": {"url": svc.url("/introspect"), "timeout": "1s"}}
        services = [{"name": "api", "prefix": "/api", "strip_prefix": True, "targets": [o.target()],
                     "auth": {"required": True},
                     "rate_limit": {"limits": [{"name": "per-ip", "limit": 3, "period": LONG}]}}]
        with Gantry(base(o, services, auth=auth)) as g:
            for _ in range(8):
                request(g.port, "GET", "/api/echo/x", headers=bearer(opaque()))
            n = svc.stats()["introspect"]
            assert n <= 3, ("one IP under a 3-per-IP limit caused %d introspection calls" % n)


def test_path_parameter_does_not_escape_a_matched_limit():
    with Origin() as o:
        services = [{"name": "users", "prefix": "/api/users", "strip_prefix": True, "targets": [o.target()],
                     "rate_limit": {"limits": [{
                         "name": "login", "limit": 1, "period": LONG, "key": "ip",
                         "match": {"prefix": "/api/users/echo/login", "methods": ["POST"]}}]}}]
        with Gantry(base(o, services)) as g:
            assert request(g.port, "POST", "/api/users/echo/login", body=b"u=a").status == 200
            assert request(g.port, "POST", "/api/users/echo/login", body=b"u=a").status == 429
            r = request(g.port, "POST", "/api/users/echo/login;jsessionid=1", body=b"u=a")
            assert r.status == 429, ("';' path parameter escaped the login limit", r.status)


def test_optional_auth_with_roles_gives_anonymous_no_more_than_a_valid_token():
    with Origin() as o:
        auth = {"jwt": {"keys": [{"kid": "k1", "alg": "HS256", "secret": SECRET}]}}
        services = [{"name": "adm", "prefix": "/adm", "strip_prefix": True, "targets": [o.target()],
                     "auth": {"required": False, "roles": ["admin"]}}]
        with Gantry(base(o, services, auth=auth)) as g:
            tok = hs_token(SECRET, claims(sub="u", roles=["user"]), kid="k1")
            assert request(g.port, "GET", "/adm/echo/x", headers=bearer(tok)).status == 403
            r = request(g.port, "GET", "/adm/echo/x")
            assert r.status in (401, 403), ("anonymous passes where a valid non-admin token "
                                            "gets 403", r.status)


if __name__ == "__main__":
    gwtest.main(globals())
