#!/usr/bin/env python3
"""Built-in identity on PostgreSQL (identity.store "postgres"; README "Built-in identity",
"Scaled out"): a real PostgreSQL (initdb in a temp dir) and two real gantry instances sharing it
(and a real Redis for the revocations). Register on A, log in on B; a refresh token issued by A
rotated on B; the used token replayed on A is a reuse that revokes the family for both; TOTP,
the admin API and the schema (migrated once, versioned in gantry_migrations) through either;
the dsn given by DATABASE_URL; PostgreSQL killed: identity calls get 503 at once with one log
line while proxied requests are unaffected, and once it is back the same instances work
without a restart.
"""

import json
import os
import re
import threading

import gwtest
from gwtest import Gantry, Origin, PostgresServer, RedisServer, request
from test_identity_totp import b32decode, hotp, step_now

SECRET = "identity-pg-test-secret-0123456789abcdef"
PASSWORD = "correct horse battery"
ADMIN_KEY = "pg-admin-key-0123456789"
DOWN = re.compile(r"identity: postgres is down \(")
UP = re.compile(r"identity: postgres is up")


def config(origin, pg, rs=None, dsn=True, **identity):
    ident = {
        "store": "postgres",
        "jwt": {"kid": "id1", "secret": SECRET},
        "password": {"opslimit": 1, "memlimit": "8KiB", "min_length": 10},
        "register": {"mode": "open"},
        "lockout": {"max_failures": 1000, "max_address_failures": 1000},
        "totp": {"encryption_key": "ab" * 32},
    }
    if dsn:
        ident["postgres"] = {"dsn": pg.dsn(), "pool": 3, "timeout": "2s"}
    ident.update(identity)
    cfg = gwtest.simple_config(origin, prefix="/api", identity=ident)
    if rs is not None:
        cfg["rate_limit"] = {"redis": {"url": rs.url(), "timeout": "1s", "backoff_min": "50ms",
                                       "backoff_max": "300ms"}}
        ident["revocation"] = {"backend": "redis"}
    cfg["services"][0]["auth"] = {"methods": ["jwt"]}
    cfg["services"][0]["strip_prefix"] = True
    cfg["services"].append({"name": "open", "prefix": "/open", "targets": [origin.target()],
                            "strip_prefix": True})
    cfg["admin"] = {"listen": "127.0.0.1:%d" % gwtest.free_port(), "api_key": ADMIN_KEY}
    return cfg


def post(g, path, body, tok=None):
    hs = {"Content-Type": "application/json"}
    if tok:
        hs["Authorization"] = "Bearer " + tok
    return request(g.port, "POST", path, headers=hs, body=json.dumps(body))


def admin(g, method, path, body=None):
    hs = {"X-API-Key": ADMIN_KEY}
    data = None
    if body is not None:
        hs["Content-Type"] = "application/json"
        data = json.dumps(body)
    return request(g.admin_port, method, path, headers=hs, body=data)


def register(g, name):
    return post(g, "/auth/register", {"username": name, "email": name + "@example.com",
                                      "password": PASSWORD})


def login(g, name, **extra):
    body = {"login": name, "password": PASSWORD}
    body.update(extra)
    return post(g, "/auth/login", body)


def api(g, tok):
    return request(g.port, "GET", "/api/echo/x", headers={"Authorization": "Bearer " + tok}).status


@gwtest.timeout(180)
def test_two_instances_share_users_and_sessions():
    with PostgresServer() as pg, RedisServer() as rs, Origin() as o:
        a = Gantry(config(o, pg, rs))
        b = Gantry(config(o, pg, rs))
        try:
            # The schema is there once, at its version, whichever instance came first.
            assert pg.query("SELECT version FROM gantry_migrations WHERE component = "
                            "'identity' ORDER BY version") == [["1"], ["2"], ["3"]]
            assert "store postgres" in a.stderr()

            assert register(a, "Alice").status == 201
            r = register(b, "alice")  # the same user, folded, on the other instance
            assert r.status == 409, r
            r = login(b, "alice")
            assert r.status == 200, r
            t = r.json()
            assert api(a, t["access_token"]) == 200  # issued by B, accepted by A

            # A refresh token issued by A, rotated on B, then the used one replayed on A.
            r = login(a, "alice@example.com")
            assert r.status == 200, r
            first = r.json()
            r = post(b, "/auth/refresh", {"refresh_token": first["refresh_token"]})
            assert r.status == 200, r
            second = r.json()
            assert second["refresh_token"] != first["refresh_token"]
            r = post(a, "/auth/refresh", {"refresh_token": first["refresh_token"]})
            assert r.status == 401 and "reused" in r.json()["reason"], r.body
            # The family is revoked in the shared database: its newest token fails on B too.
            r = post(b, "/auth/refresh", {"refresh_token": second["refresh_token"]})
            assert r.status == 401, r
            gwtest.wait_until(lambda: api(b, second["access_token"]) == 401, 5,
                              message="the family's access token refused by B")
            rows = pg.query("SELECT revoked FROM idp_sessions s JOIN idp_refresh r ON r.sid = "
                            "s.sid WHERE r.used = 1")
            assert rows and all(row == ["1"] for row in rows), rows

            # Racing rotations of one token on both instances: exactly one gets a new token.
            tok = login(a, "alice").json()["refresh_token"]
            results = []

            def rotate(g):
                results.append(post(g, "/auth/refresh", {"refresh_token": tok}).status)

            ts = [threading.Thread(target=rotate, args=(g,)) for g in (a, b) * 4]
            for th in ts:
                th.start()
            for th in ts:
                th.join()
            assert sorted(results) == [200] + [401] * 7, results

            # The admin API of either instance sees the same users and sessions.
            r = admin(b, "GET", "/api/identity/users?search=ali")
            assert r.status == 200, r
            assert [u["username"] for u in r.json()["users"]] == ["alice"]
            r = admin(a, "GET", "/api/identity/users/alice/sessions")
            assert r.status == 200 and len(r.json()["sessions"]) >= 3, r

            # TOTP enrolled through A, confirmed through B, required by A's logins.
            acc = login(a, "alice").json()["access_token"]
            r = post(a, "/auth/totp/enrol", {"password": PASSWORD}, tok=acc)
            assert r.status == 200, r
            secret = r.json()["secret"]
            code = hotp(b32decode(secret), step_now())
            r = post(b, "/auth/totp/confirm", {"code": code}, tok=acc)
            assert r.status == 200, r
            recovery = r.json()["recovery_codes"]
            assert login(a, "alice").status == 401
            r = login(a, "alice", recovery_code=recovery[0])
            assert r.status == 200, r
            assert login(b, "alice", recovery_code=recovery[0]).status == 401  # used up
        finally:
            a.__exit__(None, None, None)
            b.__exit__(None, None, None)


@gwtest.timeout(180)
def test_postgres_down_answers_503_and_recovers_without_restart():
    with PostgresServer() as pg, Origin() as o:
        g = Gantry(config(o, pg))
        try:
            assert register(g, "bob").status == 201
            tok = login(g, "bob").json()
            pg.kill()
            # A login needs the store: 503 with gantry's JSON error, never a hang; the log says
            # it once. Requests that do not need it keep flowing, tokens keep verifying.
            for _ in range(3):
                r = login(g, "bob")
                assert r.status == 503, r
                assert r.json()["error"] == "identity store unavailable", r
            assert request(g.port, "GET", "/open/echo/x").status == 200
            assert api(g, tok["access_token"]) == 200
            gwtest.wait_until(lambda: DOWN.search(g.stderr()), 5, message="down logged")
            assert len(DOWN.findall(g.stderr())) == 1, g.stderr()
            r = post(g, "/auth/refresh", {"refresh_token": tok["refresh_token"]})
            assert r.status == 503, r
            assert admin(g, "GET", "/api/identity/users").status == 503

            pg.start()
            # Back: the pooled connections PostgreSQL closed are replaced; no restart of gantry.
            r = login(g, "bob")
            assert r.status == 200, r
            r = post(g, "/auth/refresh", {"refresh_token": tok["refresh_token"]})
            assert r.status == 200, r
            assert UP.search(g.stderr().split("postgres is down")[-1]), g.stderr()
        finally:
            g.__exit__(None, None, None)


@gwtest.timeout(120)
def test_starts_without_postgres_and_database_url_gives_the_dsn():
    with PostgresServer() as pg, Origin() as o:
        pg.kill()
        cfg = config(o, pg, dsn=False)
        g = Gantry(cfg, extra_env={"DATABASE_URL": "postgresql://postgres@127.0.0.1:%d/postgres"
                                             % pg.port})
        try:
            # gantry is up (the proxy works); identity answers 503 until PostgreSQL is there.
            assert request(g.port, "GET", "/open/echo/x").status == 200
            assert register(g, "carol").status == 503
            pg.start()
            r = register(g, "carol")
            assert r.status == 201, r
            assert pg.query("SELECT username FROM idp_users") == [["carol"]]
        finally:
            g.__exit__(None, None, None)


if __name__ == "__main__":
    gwtest.main(globals())
