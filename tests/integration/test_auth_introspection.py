#!/usr/bin/env python3
"""Auth that depends on another service, through the running gateway and a real test
authorization server (gwtest/authsvc.py, a subprocess on a free port):

- opaque bearer tokens checked by RFC 7662 introspection: the request gantry makes (form body,
  token_type_hint, HTTP Basic client credentials), active -> identity headers, inactive -> 401,
  positive and negative caching (counted at the auth service) and their expiry, never past the
  token's exp, and the auth service down, slow (past the timeout), failing or answering
  garbage -> failure_status JSON quickly, not cached;
- JWTs verified with keys from auth.jwt.jwks_url: the key set is fetched, rotated keys are
  picked up after a refresh triggered by an unknown kid and on the refresh interval, a rotated-
  away kid is refused, and a failing JWKS endpoint keeps the previous keys.
"""

import base64
import os
import re
import time

import gwtest
from gwtest import AuthService, Gantry, Origin, request
from gwtest.jose import Keys, claims, hs_token

CLIENT_ID = "gantry-gw"
CLIENT_SECRET = "intro-secret-" + os.urandom(6).hex()
SECRET = "hs256-test-secret-0123456789abcdefghij"

_keys = None


def keys():
    global _keys
    if _keys is None:
        _keys = Keys(gwtest._mkdtemp("keys"), kinds=("rs", "rs2"))
    return _keys


def config(origin, auth, service_auth=None):
    """/api/user (strip_prefix, auth required) on origin: /api/user/echo/... is /echo/..."""
    cfg = gwtest.simple_config(origin, auth=auth)
    cfg["services"] = [
        {
            "name": "user",
            "prefix": "/api/user",
            "strip_prefix": True,
            "targets": [origin.target()],
            "auth": service_auth or {"required": True},
        }
    ]
    return cfg


def introspection(svc, **over):
    conf = {
        "url": svc.url("/introspect"),
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "timeout": "1s",
        "cache_ttl": "60s",
        "negative_cache_ttl": "60s",
    }
    conf.update(over)
    return conf


def opaque():
    return "opq-" + os.urandom(12).hex()


def bearer(tok):
    return [("Authorization", "Bearer " + tok)]


def get(g, tok, path="/api/user/echo/x", timeout=10):
    return request(g.port, "GET", path, headers=bearer(tok) if tok else None, timeout=timeout)


def identity_of(echo):
    out = {}
    for name, value in echo["headers"]:
        n = name.lower().replace("_", "-")
        if n in ("x-user-id", "x-consumer-id", "x-user-roles"):
            out.setdefault(n, []).append(value)
    return out


def assert_ok(r, origin):
    why = gwtest.from_origin(r, origin)
    assert why is None, (why, r.headers)
    return r.json()


def assert_401(r, reason=None):
    body = gwtest.assert_json_error(r, 401)
    assert r.header("X-Origin-Port") is None, r.headers
    challenge = r.header("WWW-Authenticate") or ""
    assert challenge.startswith("Bearer "), r.headers
    assert ('error="invalid_token"' in challenge) != (body.get("reason") == "missing bearer token"), \
        r.headers
    if reason:
        assert reason in body.get("reason", ""), body
    return body


def calls(svc):
    return svc.stats()["introspect"]


# ---- introspection ------------------------------------------------------------------------------


def test_active_token_is_accepted_with_identity_and_cached():
    tok = opaque()
    tok2 = "A+b/c=" + os.urandom(6).hex() + "=="  # characters the form body must escape
    now = int(time.time())
    with AuthService() as svc, Origin() as o:
        svc.set_tokens({
            tok: {"active": True, "sub": "intro-user", "roles": ["admin", "ops"],
                  "exp": now + 3600},
            tok2: {"active": True, "sub": "scope-user", "roles": "read  write", "exp": now + 3600},
        })
        with Gantry(config(o, {"introspection": introspection(svc)})) as g:
            e = assert_ok(get(g, tok), o)
            assert identity_of(e) == {"x-user-id": ["intro-user"],
                                      "x-user-roles": ["admin ops"]}, e["headers"]
            st = svc.stats()
            assert st["introspect"] == 1, st
            last = st["last"]
            assert last["form"] == {"token": tok, "token_type_hint": "access_token"}, last
            assert last["content_type"].startswith("application/x-www-form-urlencoded"), last
            basic = base64.b64encode(("%s:%s" % (CLIENT_ID, CLIENT_SECRET)).encode()).decode()
            assert last["authorization"] == "Basic " + basic, last

            # served from the cache: no further call
            for _ in range(4):
                e = assert_ok(get(g, tok), o)
                assert identity_of(e)["x-user-id"] == ["intro-user"], e["headers"]
            assert calls(svc) == 1

            e = assert_ok(get(g, tok2), o)
            assert identity_of(e) == {"x-user-id": ["scope-user"],
                                      "x-user-roles": ["read write"]}, e["headers"]
            assert svc.stats()["last"]["form"]["token"] == tok2
            assert calls(svc) == 2
            # the token is in no log
            assert tok not in g.stdout() + g.stderr() and tok2 not in g.stdout() + g.stderr()


def test_inactive_and_unknown_tokens_get_401_and_are_cached_negatively():
    with AuthService() as svc, Origin() as o:
        revoked = opaque()
        svc.set_tokens({revoked: {"active": False}, "garbage-answer": "not an object"})
        with Gantry(config(o, {"introspection": introspection(svc, negative_cache_ttl="1s")})) as g:
            assert_401(get(g, revoked), "not active")
            assert calls(svc) == 1
            assert_401(get(g, revoked), "not active")
            assert calls(svc) == 1  # negative cache
            unknown = opaque()
            assert_401(get(g, unknown))
            assert calls(svc) == 2

            # once negative_cache_ttl passed, the service is asked again: now it is active
            svc.set_tokens({revoked: {"active": True, "sub": "back",
                                      "exp": int(time.time()) + 600}})
            gwtest.wait_until(lambda: get(g, revoked).status == 200, 8, interval=0.2,
                              message="the token accepted after the negative cache expired")
            assert calls(svc) >= 2
            # an answer without "active", or not an object: refused, not a failure status
            svc.set_tokens({"noactive": {"sub": "x"}, "garbage": ["active", True]})
            assert_401(get(g, "noactive"))
            r = get(g, "garbage")
            assert_401(r)
            assert o.stats()["requests"] == 1


def test_positive_cache_expires_and_never_outlives_exp():
    with AuthService() as svc, Origin() as o:
        tok, short = opaque(), opaque()
        long_lived = {"active": True, "sub": "a", "exp": int(time.time()) + 600}
        svc.set_tokens({tok: long_lived})
        with Gantry(config(o, {"introspection": introspection(svc, cache_ttl="1s")})) as g:
            assert_ok(get(g, tok), o)
            n = calls(svc)
            gwtest.wait_until(lambda: (get(g, tok).status == 200 and calls(svc) > n), 8,
                              interval=0.2, message="a new call once cache_ttl passed")
            # still answered "active" by the service, but its exp has passed: refused. The
            # short token's exp is set only now, so a slow wait above cannot expire it early.
            exp = int(time.time()) + 2
            svc.set_tokens({tok: long_lived, short: {"active": True, "sub": "s", "exp": exp}})
            assert_ok(get(g, short), o)
            gwtest.wait_until(lambda: time.time() > exp + 1.1, 6, interval=0.1,
                              message="the short token's exp passed")
            assert_401(get(g, short), "expired")
            # a revocation is seen once the positive entry expired
            svc.set_tokens({tok: {"active": False}})
            gwtest.wait_until(lambda: get(g, tok).status == 401, 8, interval=0.2,
                              message="the revoked token refused")


def assert_failure(r, status):
    body = gwtest.assert_json_error(r, status)
    assert r.header("X-Origin-Port") is None, r.headers
    assert r.header("Retry-After") == "1", r.headers
    return body


@gwtest.timeout(60)
def test_auth_service_down_slow_or_failing_gives_failure_status_quickly():
    with AuthService() as svc, Origin() as o:
        tok = opaque()
        svc.set_tokens({tok: {"active": True, "sub": "u", "exp": int(time.time()) + 600}})
        auth = {"introspection": introspection(svc, timeout="300ms")}
        with Gantry(config(o, auth)) as g:
            # slower than the timeout: answered at the timeout, long before the service would
            svc.set_mode(delay_ms=6000)
            t0 = time.monotonic()
            r = get(g, tok, timeout=5)
            took = time.monotonic() - t0
            assert_failure(r, 503)
            assert took < 4.5, took
            # a failure is not cached: the next request asks again
            svc.set_mode(status=500)
            n = calls(svc)
            assert_failure(get(g, tok), 503)
            assert calls(svc) == n + 1
            svc.set_mode()
            e = assert_ok(get(g, tok), o)
            assert identity_of(e)["x-user-id"] == ["u"]

        # down: connection refused
        url = svc.url("/introspect")
        svc.stop()
        with Gantry(config(o, {"introspection": introspection(svc, url=url,
                                                              failure_status=502)})) as g:
            t0 = time.monotonic()
            for _ in range(3):
                assert_failure(get(g, opaque(), timeout=5), 502)
            assert time.monotonic() - t0 < 5, "refused connections should answer at once"
        assert o.stats()["requests"] == 1


def auth_samples(g):
    """{(result, reason): value} of gantry_auth_requests_total for service user, introspection."""
    text = g.admin_request("GET", "/metrics").body.decode()
    out = {}
    for m in re.finditer(r'(?m)^gantry_auth_requests_total\{([^}]*)\} (\d+)$', text):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if labels.get("service") == "user" and labels.get("method") == "introspection":
            out[(labels["result"], labels.get("reason", ""))] = int(m.group(2))
    return out


def test_a_failed_introspection_is_counted_as_an_error():
    """The endpoint failing (500) or down (refused) answers failure_status, and each such
    request counts in gantry_auth_requests_total (result error, reason introspection_failed)
    and in /metrics/json, apart from the 401s."""
    with AuthService() as svc, Origin() as o:
        auth = {"introspection": introspection(svc, timeout="2s")}
        with Gantry(config(o, auth)) as g:
            svc.set_mode(status=500)
            assert_failure(get(g, opaque()), 503)
            svc.stop()
            assert_failure(get(g, opaque()), 503)
            want = {("error", "introspection_failed"): 2}
            gwtest.wait_until(lambda: auth_samples(g) == want, 10,
                              message="two failed introspections counted")
            mj = g.admin_request("GET", "/metrics/json").json()
            a = [s for s in mj["services"] if s["name"] == "user"][0]["auth"]["introspection"]
            assert a["error"] == 2 and a["unauthorized"] == 0 and a["ok"] == 0, a
            assert a["reasons"] == {}, a  # the reasons of 401s


def test_jwts_are_verified_locally_and_opaque_tokens_introspected():
    with AuthService() as svc, Origin() as o:
        tok = opaque()
        svc.set_tokens({tok: {"active": True, "sub": "opaque-user", "exp": int(time.time()) + 600}})
        auth = {
            "jwt": {"keys": [{"kid": "k1", "alg": "HS256", "secret": SECRET}]},
            "introspection": introspection(svc),
        }
        with Gantry(config(o, auth)) as g:
            jwt = hs_token(SECRET, claims("jwt-user"), kid="k1")
            e = assert_ok(get(g, jwt), o)
            assert identity_of(e)["x-user-id"] == ["jwt-user"]
            assert calls(svc) == 0
            # a JWT-shaped token that fails verification is refused, not introspected
            assert_401(get(g, hs_token("x" * 40, claims("jwt-user"), kid="k1")))
            assert calls(svc) == 0
            e = assert_ok(get(g, tok), o)
            assert identity_of(e)["x-user-id"] == ["opaque-user"]
            assert calls(svc) == 1
        # a service limited to jwt never introspects
        with Gantry(config(o, auth, {"methods": ["jwt"]})) as g:
            assert_401(get(g, tok))
            assert calls(svc) == 1


# ---- JWKS ---------------------------------------------------------------------------------------


def jwks_auth(svc, **over):
    jwt = {"jwks_url": svc.url("/jwks.json"), "jwks_refresh": "5m", "jwks_min_refresh": "200ms",
           "jwks_timeout": "2s"}
    jwt.update(over)
    return {"jwt": jwt}


def rs_token(kind, kid, sub="jwks-user"):
    return keys().sign(kind, claims(sub, roles=["r"]), kid=kid)


@gwtest.timeout(60)
def test_jwks_keys_and_rotation_on_unknown_kid():
    k = keys()
    with AuthService(jwks={"keys": [k.jwk("rs", "j1")]}) as svc, Origin() as o:
        with Gantry(config(o, jwks_auth(svc, jwks_min_refresh="1ms"))) as g:
            # the first fetch starts with gantry; tokens with its kid then pass
            gwtest.wait_until(lambda: get(g, rs_token("rs", "j1")).status == 200, 10,
                              interval=0.1, message="a JWKS key accepted")
            cached = rs_token("rs", "j1", "first")
            e = assert_ok(get(g, cached), o)
            assert identity_of(e) == {"x-user-id": ["first"], "x-user-roles": ["r"]}, e
            # kid j1 with another key's signature: refused
            assert_401(get(g, rs_token("rs2", "j1")), "signature")
            fetched = svc.stats()["jwks"]

            # rotate: j1 leaves, j2 (another RSA key) comes; the long refresh interval (5m)
            # means only the unknown kid can make gantry fetch again
            svc.set_jwks({"keys": [k.jwk("rs2", "j2")]})
            # the first request with the new kid is held until the refresh it triggers has
            # answered, then verified: a rotation is invisible to clients
            assert_ok(get(g, rs_token("rs2", "j2")), o)
            assert svc.stats()["jwks"] > fetched
            e = assert_ok(get(g, rs_token("rs2", "j2", "second")), o)
            assert identity_of(e)["x-user-id"] == ["second"]
            # a fresh token with the rotated-away kid, and one verified (and cached) before
            # the rotation: the cache is flushed when the key set changes
            assert_401(get(g, rs_token("rs", "j1", "stale")), "key id")
            assert_401(get(g, cached), "key id")

            # a failing JWKS endpoint keeps the previous keys
            svc.set_mode(status=500)
            n = svc.stats()["jwks"]
            gwtest.wait_until(lambda: (get(g, rs_token("rs", "nokid-" + str(time.time()))),
                                       svc.stats()["jwks"] > n)[1], 10, interval=0.3,
                              message="a refresh attempted while the endpoint fails")
            g.wait_log(r"jwks: .*(failed|not usable)", timeout=5, stream="stderr")
            assert_ok(get(g, rs_token("rs2", "j2", "kept")), o)


@gwtest.timeout(60)
def test_jwks_refreshed_on_the_interval():
    k = keys()
    with AuthService(jwks={"keys": [k.jwk("rs", "i1")]}) as svc, Origin() as o:
        auth = jwks_auth(svc, jwks_refresh="1s", jwks_min_refresh="1s")
        with Gantry(config(o, auth)) as g:
            gwtest.wait_until(lambda: get(g, rs_token("rs", "i1")).status == 200, 10,
                              interval=0.1, message="a JWKS key accepted")
            # fetched again and again without any token asking for it
            n = svc.stats()["jwks"]
            gwtest.wait_until(lambda: svc.stats()["jwks"] >= n + 2, 10, interval=0.1,
                              message="two refreshes on the interval")
            svc.set_jwks({"keys": [k.jwk("rs2", "i2")]})
            n = svc.stats()["jwks"]
            gwtest.wait_until(lambda: svc.stats()["jwks"] >= n + 2, 10, interval=0.1,
                              message="the rotated JWKS fetched")
            gwtest.wait_until(lambda: get(g, rs_token("rs2", "i2")).status == 200, 5,
                              interval=0.1, message="the rotated-in key accepted")
            assert_401(get(g, rs_token("rs", "i1", "stale")))


if __name__ == "__main__":
    gwtest.main(globals())
