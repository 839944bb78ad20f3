#!/usr/bin/env python3
"""Built-in identity's revocations survive a restart (README "Built-in identity", "What survives
a restart"): the store holds each revocation (idp_revoked) until the tokens it covers expire, and
a starting gantry loads the live ones into its in-process set. With the default local backend,
SQLite and PostgreSQL: the access tokens of a logout, a logout of every session, a password
change, an admin disable, an admin delete and a refresh-token reuse are refused by the services
and by me after a restart as before it. With the Redis backend: an instance started after Redis
lost its data still refuses them.
"""

import json
import os

import gwtest
from gwtest import Gantry, Origin, PostgresServer, RedisServer, request

SECRET = "identity-restart-test-secret-0123456789abcdef"
PASSWORD = "correct horse battery"
NEW_PASSWORD = "brand new passphrase 1"
ADMIN_KEY = "restart-admin-key-0123456789"


def config(origin, tmp, pg=None, rs=None):
    ident = {
        "jwt": {"kid": "id1", "secret": SECRET},
        "password": {"opslimit": 1, "memlimit": "8KiB", "min_length": 10},
        "register": {"mode": "open"},
        "lockout": {"max_failures": 1000, "max_address_failures": 1000},
    }
    if pg is not None:
        ident["store"] = "postgres"
        ident["postgres"] = {"dsn": pg.dsn(), "pool": 3, "timeout": "2s"}
    else:
        ident["sqlite"] = os.path.join(tmp, "identity.db")
    cfg = gwtest.simple_config(origin, prefix="/api", identity=ident)
    if rs is not None:
        cfg["rate_limit"] = {"redis": {"url": rs.url(), "timeout": "1s", "backoff_min": "50ms",
                                       "backoff_max": "300ms"}}
        ident["revocation"] = {"backend": "redis"}
    cfg["services"][0]["auth"] = {"methods": ["jwt"]}
    cfg["services"][0]["strip_prefix"] = True
    cfg["admin"] = {"listen": "127.0.0.1:%d" % gwtest.free_port(), "api_key": ADMIN_KEY}
    return cfg


def post(g, path, body, tok=None):
    hs = {"Content-Type": "application/json"}
    if tok:
        hs["Authorization"] = "Bearer " + tok
    return request(g.port, "POST", path, headers=hs, body=json.dumps(body))


def admin(g, method, path):
    return request(g.admin_port, method, path, headers={"X-API-Key": ADMIN_KEY})


def login(g, name, password=PASSWORD):
    r = post(g, "/auth/login", {"login": name, "password": password})
    assert r.status == 200, r
    return r.json()


def statuses(g, tok):
    """(service, me) for tok."""
    hs = {"Authorization": "Bearer " + tok}
    return (request(g.port, "GET", "/api/echo/x", headers=hs).status,
            request(g.port, "GET", "/auth/me", headers=hs).status)


def revoke_every_way(g):
    """Six users, each token revoked another way; plus one left alone. Returns the tokens."""
    names = ("lo", "la", "pw", "di", "de", "rr", "ok")
    for n in names:
        r = post(g, "/auth/register", {"username": "user" + n, "email": n + "@example.com",
                                       "password": PASSWORD})
        assert r.status == 201, r
    t = {n: login(g, "user" + n) for n in names}
    tok = {n: t[n]["access_token"] for n in names}
    assert post(g, "/auth/logout", {}, tok["lo"]).status == 200
    assert post(g, "/auth/logout", {"all": True}, tok["la"]).status == 200
    r = post(g, "/auth/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
             tok["pw"])
    assert r.status == 200, r
    assert admin(g, "POST", "/api/identity/users/userdi/disable").status == 200
    assert admin(g, "DELETE", "/api/identity/users/userde").status == 200
    first = t["rr"]["refresh_token"]
    assert post(g, "/auth/refresh", {"refresh_token": first}).status == 200
    assert post(g, "/auth/refresh", {"refresh_token": first}).status == 401  # reuse
    for n in names:
        want = (200, 200) if n == "ok" else (401, 401)
        assert statuses(g, tok[n]) == want, (n, statuses(g, tok[n]))
    return tok


def check_refused(g, tok):
    for n, t in tok.items():
        want = (200, 200) if n == "ok" else (401, 401)
        assert statuses(g, t) == want, (n, statuses(g, t))


def test_local_backend_sqlite_restart_keeps_revocations():
    tmp = gwtest._mkdtemp("identity-restart")
    with Origin() as o:
        cfg = config(o, tmp)
        with Gantry(cfg) as g:
            tok = revoke_every_way(g)
        with Gantry(cfg) as g:
            check_refused(g, tok)
            assert "identity: 9 live revocation(s) loaded from the store" in g.stderr(), \
                g.stderr()


@gwtest.timeout(180)
def test_local_backend_postgres_restart_keeps_revocations():
    tmp = gwtest._mkdtemp("identity-restart-pg")
    with PostgresServer() as pg, Origin() as o:
        cfg = config(o, tmp, pg=pg)
        with Gantry(cfg) as g:
            tok = revoke_every_way(g)
        rows = pg.query("SELECT count(*) FROM idp_revoked")
        assert rows == [["9"]], rows  # six sessions, three presented tokens
        with Gantry(cfg) as g:
            check_refused(g, tok)


@gwtest.timeout(180)
def test_redis_backend_instance_started_after_redis_lost_its_data():
    tmp = gwtest._mkdtemp("identity-restart-redis")
    with RedisServer() as rs, Origin() as o:
        cfg = config(o, tmp, rs=rs)
        with Gantry(cfg) as a:
            tok = revoke_every_way(a)
            rs.cmd("FLUSHALL")
            # a second instance beside a: its own ports (sharing a's would let the kernel hand
            # some of b's requests to a, which still holds the revocations)
            cfg_b = dict(cfg, listen="127.0.0.1:%d" % gwtest.free_port(),
                         admin=dict(cfg["admin"], listen="127.0.0.1:%d" % gwtest.free_port()))
            with Gantry(cfg_b) as b:
                gwtest.wait_until(lambda: "read from Redis" in b.stderr(), 10,
                                  message="b read the (empty) set from Redis")
                check_refused(b, tok)


if __name__ == "__main__":
    gwtest.main(globals())
