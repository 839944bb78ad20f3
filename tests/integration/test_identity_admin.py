#!/usr/bin/env python3
"""Built-in identity's admin API (README "Built-in identity", /api/identity/users) through the
real binary, on the admin listener with an API key: users listed (paging, search) and read,
disabled (sessions end, logins refused) and enabled, forced logout, TOTP reset, roles changed
(old tokens refused, new ones carry the roles), sessions listed and one revoked; each change an
audit entry with the admin key as actor; failures (no key, unknown user or session, bad roles
body, identity off) answered precisely.
"""

import base64
import json
import os
import time

import gwtest
from gwtest import Gantry, request
from test_identity import PASSWORD, bearer, b64d, config, login, post, register
from test_identity_totp import KEY, b32decode, hotp, login_code, step_now

ADMIN_KEY = "identity-admin-key-0123"
AUTH = {"X-API-Key": ADMIN_KEY}


class AdminEnv:
    def __init__(self, **identity):
        self.tmp = gwtest._mkdtemp("identity-admin")
        self.o = gwtest.Origin()
        cfg = config(self.o, self.tmp, **identity)
        cfg["admin"] = {"listen": "127.0.0.1:%d" % gwtest.free_port(), "api_key": ADMIN_KEY}
        self.g = Gantry(cfg)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.g.__exit__(*exc)
        self.o.stop()

    def admin(self, method, path, body=None, headers=AUTH):
        data = None if body is None else (body if isinstance(body, (str, bytes))
                                          else json.dumps(body))
        hs = dict(headers)
        if data is not None:
            hs["Content-Type"] = "application/json"
        return self.g.admin_request(method, path, headers=hs, body=data)

    def audit(self):
        path = os.path.join(self.tmp, "audit.log")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]


def ok(g, tok):
    return request(g.port, "GET", "/api/echo/x", headers=bearer(tok)).status == 200


def test_users_list_get_and_key_rules():
    with AdminEnv() as env:
        g = env.g
        for name in ("amy", "ben", "cat", "dan", "eve"):
            assert register(g, name).status == 201
        assert env.admin("GET", "/api/identity/users", headers={}).status == 401
        assert env.admin("GET", "/api/identity/users",
                         headers={"X-API-Key": "wrong"}).status == 401
        r = env.admin("GET", "/api/identity/users")
        assert r.status == 200, r
        users = r.json()["users"]
        assert [u["username"] for u in users] == ["amy", "ben", "cat", "dan", "eve"]
        assert r.json()["next_cursor"] is None
        assert users[0]["roles"] == ["user"] and users[0]["disabled"] is False
        assert "password" not in json.dumps(r.json())
        # Paging
        r = env.admin("GET", "/api/identity/users?limit=2")
        page = r.json()
        assert [u["username"] for u in page["users"]] == ["amy", "ben"]
        r = env.admin("GET", "/api/identity/users?limit=2&cursor=%d" % page["next_cursor"])
        assert [u["username"] for u in r.json()["users"]] == ["cat", "dan"]
        # Search (username or email; LIKE's wildcards are literal)
        r = env.admin("GET", "/api/identity/users?search=ev")
        assert [u["username"] for u in r.json()["users"]] == ["eve"]
        assert env.admin("GET", "/api/identity/users?search=%25").json()["users"] == []
        # An over-long search is refused, never ignored (which would list every user).
        for n in (255, 256, 300, 2000):
            r = env.admin("GET", "/api/identity/users?search=" + "e" * n)
            assert r.status == 400 and "search" in r.json()["error"], (n, r.body)
        r = env.admin("GET", "/api/identity/users?search=%zz")
        assert r.status == 400 and "search" in r.json()["error"], r.body
        assert env.admin("GET", "/api/identity/users?limit=0").status == 400
        assert env.admin("GET", "/api/identity/users?cursor=x").status == 400
        # One user by id or name
        uid = users[2]["id"]
        r = env.admin("GET", "/api/identity/users/%d" % uid)
        assert r.status == 200 and r.json()["username"] == "cat", r.body
        assert r.json()["live_sessions"] == 0
        login(g, "cat")
        r = env.admin("GET", "/api/identity/users/CAT")
        assert r.status == 200 and r.json()["id"] == uid and r.json()["live_sessions"] == 1
        r = env.admin("GET", "/api/identity/users/nobody")
        assert r.status == 404 and "nobody" in r.json()["error"], r.body
        assert env.admin("GET", "/api/identity/users/99999").status == 404
        assert env.admin("PATCH", "/api/identity/users/cat").status == 405


def test_disable_enable_logout_and_sessions():
    with AdminEnv() as env:
        g = env.g
        assert register(g, "fred").status == 201
        t1, t2 = login(g, "fred").json(), login(g, "fred").json()
        assert ok(g, t1["access_token"]) and ok(g, t2["access_token"])

        r = env.admin("GET", "/api/identity/users/fred/sessions")
        assert r.status == 200, r
        sessions = r.json()["sessions"]
        assert len(sessions) == 2 and all(s["live"] for s in sessions)
        sid1 = json.loads(b64d(t1["access_token"].split(".")[1]))["sid"]
        assert sid1 in [s["sid"] for s in sessions]

        # Revoke one session: its tokens go, the other's stay.
        r = env.admin("DELETE", "/api/identity/users/fred/sessions/" + sid1)
        assert r.status == 200 and r.json()["revoked"] is True, r.body
        assert not ok(g, t1["access_token"]) and ok(g, t2["access_token"])
        assert post(g, "/auth/refresh", {"refresh_token": t1["refresh_token"]}).status == 401
        assert env.admin("DELETE", "/api/identity/users/fred/sessions/" + "0" * 32).status == 404
        assert env.admin("DELETE", "/api/identity/users/fred/sessions/short").status == 404

        # Force logout: every session.
        t3 = login(g, "fred").json()
        r = env.admin("POST", "/api/identity/users/fred/logout")
        assert r.status == 200 and r.json()["sessions_revoked"] == 2, r.body
        assert not ok(g, t2["access_token"]) and not ok(g, t3["access_token"])

        # Disable: sessions end and logins are refused like a wrong password.
        t4 = login(g, "fred").json()
        r = env.admin("POST", "/api/identity/users/fred/disable")
        assert r.status == 200 and r.json()["disabled"] is True, r.body
        assert r.json()["sessions_revoked"] == 1
        assert not ok(g, t4["access_token"])
        r = login(g, "fred")
        assert r.status == 401, r
        assert post(g, "/auth/refresh", {"refresh_token": t4["refresh_token"]}).status == 401
        assert env.admin("GET", "/api/identity/users/fred").json()["disabled"] is True
        r = env.admin("POST", "/api/identity/users/fred/enable")
        assert r.status == 200 and r.json()["disabled"] is False, r.body
        assert ok(g, login(g, "fred").json()["access_token"])
        assert env.admin("POST", "/api/identity/users/ghost/disable").status == 404

        gwtest.wait_until(lambda: {"identity.session_revoke", "identity.user_logout",
                                   "identity.user_disable", "identity.user_enable"} <=
                          {e["action"] for e in env.audit()}, message="admin identity entries")
        for e in env.audit():
            if e["action"] in ("identity.user_disable", "identity.user_enable",
                               "identity.user_logout") and e["status"] == 200:
                assert e["object"] == "user:fred", e
                assert e["actor"]["via"] == "admin" and e["actor"]["key"].startswith("sha256:"), e
        assert any(e["action"] == "identity.user_disable" and e["status"] == 404 and
                   e["object"] == "user:ghost" for e in env.audit())


def test_roles_change_and_totp_reset():
    with AdminEnv(totp={"encryption_key": KEY}) as env:
        g = env.g
        assert register(g, "gail").status == 201
        tok = login(g, "gail").json()["access_token"]
        for body, why in ((b"{", "roles"), ({"roles": "admin"}, "roles"),
                          ({"roles": ["ok", "bad role"]}, "1 to 64"),
                          ({"roles": ["a", "a"]}, "repeated"),
                          ({"roles": ["r%d" % i for i in range(33)]}, "at most 32")):
            r = env.admin("PUT", "/api/identity/users/gail/roles", body)
            assert r.status == 400 and why in r.json()["error"], (body, r.body)
        r = env.admin("PUT", "/api/identity/users/gail/roles", {"roles": ["user", "editor"]})
        assert r.status == 200 and r.json()["roles"] == ["user", "editor"], r.body
        assert r.json()["sessions_revoked"] == 1
        assert not ok(g, tok)  # the old token carried the old roles
        claims = json.loads(b64d(login(g, "gail").json()["access_token"].split(".")[1]))
        assert claims["roles"] == ["user", "editor"]
        assert env.admin("PUT", "/api/identity/users/nobody/roles",
                         {"roles": ["x"]}).status == 404

        # TOTP on, then reset by the admin: logins need no code any more.
        tok = login(g, "gail").json()["access_token"]
        r = post(g, "/auth/totp/enrol", {"password": PASSWORD}, headers=bearer(tok))
        secret = b32decode(r.json()["secret"])
        assert post(g, "/auth/totp/confirm", {"code": hotp(secret, step_now())},
                    headers=bearer(tok)).status == 200
        assert login(g, "gail").status == 401
        r = env.admin("POST", "/api/identity/users/gail/totp/reset")
        assert r.status == 200 and r.json()["was_enabled"] is True, r.body
        assert env.admin("GET", "/api/identity/users/gail").json()["totp_enabled"] is False
        assert login(g, "gail").status == 200
        r = env.admin("POST", "/api/identity/users/gail/totp/reset")
        assert r.status == 200 and r.json()["was_enabled"] is False
        gwtest.wait_until(lambda: {"identity.user_roles", "identity.totp_reset"} <=
                          {e["action"] for e in env.audit()}, message="roles and reset entries")
        roles = [e for e in env.audit() if e["action"] == "identity.user_roles"
                 and e["status"] == 200]
        assert roles[0]["detail"] == {"roles": ["user", "editor"]}, roles


def test_identity_off_answers_503():
    tmp = gwtest._mkdtemp("identity-admin-off")
    o = gwtest.Origin()
    try:
        cfg = gwtest.simple_config(o)
        cfg["admin"] = {"listen": "127.0.0.1:%d" % gwtest.free_port(), "api_key": ADMIN_KEY}
        with Gantry(cfg) as g:
            r = g.admin_request("GET", "/api/identity/users", headers=AUTH)
            assert r.status == 503 and "identity" in r.json()["error"], r.body
            r = g.admin_request("POST", "/api/identity/users/x/disable", headers=AUTH)
            assert r.status == 503, r.body
    finally:
        o.stop()


if __name__ == "__main__":
    gwtest.main(globals())
