#!/usr/bin/env python3
"""Regressions from the review of the auth and rate-limit policies, one test per finding, each
shown to fail on the code before its fix (GANTRY_BIN=... python3 test_policy_regressions.py):

- verified JWTs and introspection answers are cached apart, and a hit counts only for a method
  the service accepts (an introspected opaque token is not accepted by a jwt-only service; a
  JWT verified elsewhere still goes to introspection on an introspection-only service);
- limits that need no identity run before authentication: bad credentials are counted (key
  guessing is throttled, bogus opaque tokens cost at most the limit in introspections);
- a path parameter (";x", which Tomcat/Spring/Jetty strip) does not escape a matched limit;
- "required": false with roles (anonymous would get more than a valid token without the
  role) is refused by the config;
- a reload that touches a Redis setting does not fail the decisions in flight;
- a reload refused while building the policy releases what the build took (LeakSanitizer);
- the suspended path (close, body, pipelining, reload, drain) is clean under ASan.
"""

import hashlib
import os
import signal
import socket
import struct
import time

import gwtest
from gwtest import AuthService, Gantry, Origin, request
from gwtest.jose import claims, hs_token

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
            rs = [request(g.port, "GET", "/api/echo/x", headers=[("X-API-Key", "guess-%d" % i)])
                  for i in range(8)]
            statuses = [r.status for r in rs]
            assert statuses == [401] * 3 + [429] * 5, ("8 key guesses from one IP under a 3-per-IP "
                                                      "limit", statuses)
            # the 401s were counted, and say so: the headers are on gantry's own answers too
            assert [r.header("RateLimit-Remaining") for r in rs[:3]] == ["2", "1", "0"], rs[:3]
            assert rs[0].header("X-RateLimit-Limit") == "3", rs[0]


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
    """required: false with roles would let an anonymous request in where a valid token without
    the role gets 403: the config refuses it, for the service and for a rule."""
    import json
    import tempfile
    with Origin() as o:
        auth = {"jwt": {"keys": [{"kid": "k1", "alg": "HS256", "secret": SECRET}]}}
        for svc_auth, path in (({"required": False, "roles": ["admin"]},
                                "services[0].auth.required"),
                               ({"rules": [{"match": {"prefix": "/adm/x"}, "required": False,
                                            "permissions": ["p"]}]},
                                "services[0].auth.rules[0].required")):
            services = [{"name": "adm", "prefix": "/adm", "targets": [o.target()],
                         "auth": svc_auth}]
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
                json.dump(base(o, services, auth=auth), f, indent=1)
            try:
                res = gwtest.run_gantry(["check", f.name])
            finally:
                os.unlink(f.name)
            assert res.returncode == 1, res
            assert path + ": is false while roles or permissions are required" in res.stderr, \
                res.stderr


# ---- the suspended-request path (introspection held by a slow auth service) -------------------


def _raw(method, target, tok, body=b"", extra=""):
    head = "%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n%s" % (method, target, tok,
                                                                         extra)
    if body or method == "POST":
        head += "Content-Length: %d\r\n" % len(body)
    return head.encode() + b"\r\n" + body


def _send_suspended(c, svc, data):
    """Sends a request on c and waits until its introspection reached svc: the request is
    suspended (svc delays its answers)."""
    calls = svc.stats()["introspect"]
    c.send(data)
    gwtest.wait_until(lambda: svc.stats()["introspect"] > calls, 5,
                      message="the request suspended on its introspection")


def test_suspended_requests_survive_close_body_pipelining_reload_and_stop():
    """Runs under the ASan build: the harness fails on any sanitizer report at exit."""
    good, bad = opaque(), opaque()
    now = int(time.time())
    with AuthService() as svc, Origin() as o:
        svc.set_tokens({good: {"active": True, "sub": "u", "exp": now + 3600}})
        auth = {"introspection": {"url": svc.url("/introspect"), "timeout": "3s",
                                  "cache_ttl": "1ms", "negative_cache_ttl": "1ms"}}
        services = [{"name": "api", "prefix": "/api", "strip_prefix": True,
                     "targets": [o.target()], "auth": {"required": True}}]
        cfg = base(o, services, auth=auth)
        with Gantry(cfg) as g:
            svc.set_mode(delay_ms=400)
            # 1. the client goes away (FIN, then RST) while its request is suspended
            for linger in (False, True):
                s = socket.create_connection(("127.0.0.1", g.port))
                s.sendall(_raw("GET", "/api/echo/gone", opaque()))
                if linger:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            # 2. body and a pipelined request arrive while suspended
            c = gwtest.HttpConn(g.port)
            c.send(_raw("POST", "/api/echo/a", good, b"hello") + _raw("GET", "/api/echo/b", good))
            r1, r2 = c.read_response(), c.read_response()
            assert (r1.status, r2.status) == (200, 200), (r1.status, r2.status)
            c.sock.close()
            # 3. refused while its body is unread: the body must not be parsed as a request
            smuggled = b"GET /api/echo/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
            data = gwtest.raw_exchange(g.port, _raw("POST", "/api/echo/c", bad, smuggled),
                                       timeout=5)
            assert data.startswith(b"HTTP/1.1 401"), data[:100]
            assert data.count(b"HTTP/1.1 ") == 1, data
            assert not any("smuggled" in str(q) for q in o.last_requests()), o.last_requests()
            # 4. reload while suspended
            c = gwtest.HttpConn(g.port)
            _send_suspended(c, svc, _raw("GET", "/api/echo/reload", good))
            cfg2 = dict(cfg, log={"access": "stdout"})  # same listen address
            g.write_config(cfg2)
            g.signal(signal.SIGHUP)
            assert c.read_response().status == 200
            c.sock.close()
            # 5. drain while suspended: answered, then a clean exit (checked by the harness)
            c = gwtest.HttpConn(g.port)
            _send_suspended(c, svc, _raw("GET", "/api/echo/drain", good))
            g.signal(signal.SIGTERM)
            assert c.read_response().status == 200
            c.sock.close()
            assert g.wait_exit(15) == 0
            g.check_exit()



def _status(g):
    return g.admin_request("GET", "/gateway/status").json()


def _redis_calls(g):
    return _status(g)["rate_limit"]["redis"]["calls"]


def _redis_client_ids(rs):
    """The ids of the connections Redis has, but the one asking."""
    out = rs.cmd("CLIENT", "LIST").decode()
    return {f[3:] for line in out.splitlines() if "cmd=client|list" not in line
            for f in line.split() if f.startswith("id=")}


def test_reload_of_redis_settings_does_not_fail_decisions_in_flight():
    """Decisions are held in Redis with CLIENT PAUSE ... WRITE (scripts wait, the test's own
    reads go on) until the test has seen what it waits for, then CLIENT UNPAUSE."""
    gwtest.require_redis()
    with gwtest.RedisServer() as rs, Origin() as o:
        def cfg(timeout):
            services = [{"name": "api", "prefix": "/api", "strip_prefix": True,
                         "targets": [o.target()],
                         "rate_limit": {"limits": [{"name": "l", "limit": 1000, "period": LONG}]}}]
            return base(o, services, rate_limit={
                "backend": "redis",
                "redis": {"url": rs.url(), "timeout": timeout, "failure_policy": "fail_closed"}})
        c0 = cfg("3s")
        with Gantry(c0) as g:
            gwtest.wait_until(lambda: request(g.port, "GET", "/api/echo/x").status == 200, 10,
                              message="redis backend up")
            # a client that leaves while its decision is held in Redis (ASan checks the rest)
            calls = _redis_calls(g)
            rs.cmd("CLIENT", "PAUSE", "10000", "WRITE")
            try:
                s = socket.create_connection(("127.0.0.1", g.port))
                s.sendall(b"GET /api/echo/gone HTTP/1.1\r\nHost: x\r\n\r\n")
                gwtest.wait_until(lambda: _redis_calls(g) > calls, 5,
                                  message="the decision sent to Redis")
                s.close()
            finally:
                rs.cmd("CLIENT", "UNPAUSE")
            gwtest.wait_until(lambda: _status(g)["connections"] == 0, 5,
                              message="the gone client's connection finished")
            # a reload that only lengthens the Redis timeout, while a decision is held
            calls = _redis_calls(g)
            ids = _redis_client_ids(rs)
            rs.cmd("CLIENT", "PAUSE", "10000", "WRITE")
            try:
                c = gwtest.HttpConn(g.port)
                c.send(b"GET /api/echo/held HTTP/1.1\r\nHost: x\r\n\r\n")
                gwtest.wait_until(lambda: _redis_calls(g) > calls, 5,
                                  message="the decision sent to Redis")
                g.write_config(dict(cfg("4s"), listen=c0["listen"]))
                g.signal(signal.SIGHUP)
                # The worker took the new settings: it connects a client made with them.
                gwtest.wait_until(lambda: _redis_client_ids(rs) - ids, 5,
                                  message="the worker's new Redis client connected")
            finally:
                rs.cmd("CLIENT", "UNPAUSE")
            r = c.read_response()
            c.sock.close()
            assert r.status == 200, ("reload of a Redis setting failed the decision in flight "
                                     "(fail_closed)", r.status, r.body[:200])


def test_refused_reload_releases_what_the_policy_build_took():
    """A reload refused by the policy build (a limit gw_rl_conf_prepare rejects although the
    config schema accepted it) leaks the earlier limits' Redis key strings and store slots:
    LeakSanitizer reports at exit (checked by the harness)."""
    with Origin() as o:
        def cfg(burst):
            return base(o, [{"name": "a", "prefix": "/", "targets": [o.target()]}], rate_limit={
                "limits": [{"name": "ok", "limit": 10, "period": "1s"},
                           {"name": "big", "limit": 1, "period": LONG, "burst": burst}]})
        c0 = cfg(1)
        with Gantry(c0) as g:
            off = len(g.stderr())
            g.write_config(dict(cfg(4000000000), listen=c0["listen"]))
            g.signal(signal.SIGHUP)
            gwtest.wait_until(lambda: "reload refused" in g.stderr()[off:], 10,
                              message="reload refused")


if __name__ == "__main__":
    gwtest.main(globals())
