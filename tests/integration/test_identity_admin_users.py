#!/usr/bin/env python3
"""Built-in identity's admin API, the changes that need a password or remove a user (README
"Built-in identity", /api/identity/users): a user created by an admin (the registration's
password rules, default roles, permissions), deleted (its tokens refused at once, its sessions
gone), its password reset (old password and sessions refused), its permissions set; the
permissions carried by the access token as the "permissions" claim, which a service's
auth.permissions checks without any other configuration. Each change an audit entry, never
with the password.
"""

import json

import gwtest
from gwtest import Gantry, request
from test_identity import PASSWORD, b64d, bearer, login, post
from test_identity_admin import AdminEnv

NEW_PASSWORD = "another long passphrase"


def claims(tok):
    return json.loads(b64d(tok.split(".")[1]))


class Env(AdminEnv):
    def __init__(self):
        super().__init__()
        # A second service needing a permission (auth.permissions: all of them).
        cfg = self.g.config
        self.g.__exit__(None, None, None)
        cfg["services"].append({"name": "orders", "prefix": "/orders", "strip_prefix": True,
                                "targets": [self.o.target()],
                                "auth": {"methods": ["jwt"], "permissions": ["orders:write"]}})
        self.g = Gantry(cfg)


def orders(g, tok):
    return request(g.port, "GET", "/orders/echo/x", headers=bearer(tok)).status


def test_create_user_with_permissions_used_by_a_service():
    with Env() as env:
        g = env.g
        r = env.admin("POST", "/api/identity/users",
                      {"username": "Dave", "email": "Dave@Example.com", "password": PASSWORD,
                       "permissions": ["orders:read"]})
        assert r.status == 201, r.body
        u = r.json()
        assert u["username"] == "dave" and u["email"] == "dave@example.com", u
        assert u["roles"] == ["user"] and u["permissions"] == ["orders:read"], u
        r = env.admin("POST", "/api/identity/users",
                      {"username": "dave", "email": "x@example.com", "password": PASSWORD})
        assert r.status == 409, r.body
        r = env.admin("POST", "/api/identity/users",
                      {"username": "erin", "email": "e@example.com", "password": "password123"})
        assert r.status == 400 and "password" in r.json()["error"], r.body
        r = env.admin("POST", "/api/identity/users",
                      {"username": "erin", "email": "e@example.com", "password": PASSWORD,
                       "roles": ["ops", "ops"]})
        assert r.status == 400 and "repeated" in r.json()["error"], r.body
        r = env.admin("POST", "/api/identity/users", "{\"username\": ")
        assert r.status == 400, r.body

        r = login(g, "dave")
        assert r.status == 200, r
        tok = r.json()["access_token"]
        assert claims(tok)["permissions"] == ["orders:read"]
        assert orders(g, tok) == 403  # orders:write missing
        me = request(g.port, "GET", "/auth/me", headers=bearer(tok)).json()
        assert me["permissions"] == ["orders:read"], me

        r = env.admin("PUT", "/api/identity/users/dave/permissions",
                      {"permissions": ["orders:read", "orders:write"]})
        assert r.status == 200, r.body
        assert r.json()["permissions"] == ["orders:read", "orders:write"]
        assert r.json()["sessions_revoked"] == 1
        assert orders(g, tok) == 401  # the old token's session was revoked
        tok = login(g, "dave").json()["access_token"]
        assert claims(tok)["permissions"] == ["orders:read", "orders:write"]
        assert orders(g, tok) == 200
        r = env.admin("PUT", "/api/identity/users/dave/permissions", {"permissions": "x"})
        assert r.status == 400, r.body
        r = env.admin("PUT", "/api/identity/users/nobody/permissions", {"permissions": []})
        assert r.status == 404, r.body
        users = env.admin("GET", "/api/identity/users").json()["users"]
        assert users[0]["permissions"] == ["orders:read", "orders:write"], users

        gwtest.wait_until(lambda: {"identity.user_create", "identity.user_permissions"} <=
                          {e["action"] for e in env.audit()}, 5, message="audit entries")
        created = [e for e in env.audit() if e["action"] == "identity.user_create"]
        assert [e["status"] for e in created] == [201, 409, 400, 400, 400], created
        assert created[0]["object"] == "user:dave" and created[0]["actor"]["via"] == "admin"
        with open(env.tmp + "/audit.log") as f:
            assert PASSWORD not in f.read()


def test_password_reset_and_delete():
    with Env() as env:
        g = env.g
        assert env.admin("POST", "/api/identity/users",
                         {"username": "fay", "email": "fay@example.com",
                          "password": PASSWORD}).status == 201
        t = login(g, "fay").json()
        r = env.admin("POST", "/api/identity/users/fay/password", {"password": "short"})
        assert r.status == 400, r.body
        r = env.admin("POST", "/api/identity/users/fay/password", {"password": NEW_PASSWORD})
        assert r.status == 200, r.body
        assert r.json()["password_reset"] is True and r.json()["sessions_revoked"] == 1
        assert request(g.port, "GET", "/api/echo/x", headers=bearer(t["access_token"])).status \
            == 401
        assert post(g, "/auth/refresh", {"refresh_token": t["refresh_token"]}).status == 401
        assert login(g, "fay").status == 401
        r = post(g, "/auth/login", {"login": "fay", "password": NEW_PASSWORD})
        assert r.status == 200, r
        t = r.json()

        r = env.admin("DELETE", "/api/identity/users/fay")
        assert r.status == 200, r.body
        assert r.json()["deleted"] is True and r.json()["sessions_revoked"] == 1
        assert request(g.port, "GET", "/api/echo/x", headers=bearer(t["access_token"])).status \
            == 401
        assert post(g, "/auth/login", {"login": "fay", "password": NEW_PASSWORD}).status == 401
        assert env.admin("GET", "/api/identity/users/fay").status == 404
        assert env.admin("DELETE", "/api/identity/users/fay").status == 404
        assert env.admin("POST", "/api/identity/users/fay/password",
                         {"password": NEW_PASSWORD}).status == 404
        # The name is free again.
        assert env.admin("POST", "/api/identity/users",
                         {"username": "fay", "email": "fay@example.com",
                          "password": PASSWORD}).status == 201
        gwtest.wait_until(lambda: {"identity.password_reset", "identity.user_delete"} <=
                          {e["action"] for e in env.audit()}, 5, message="audit entries")
        deleted = [e for e in env.audit() if e["action"] == "identity.user_delete"]
        assert [e["status"] for e in deleted] == [200, 404], deleted
        with open(env.tmp + "/audit.log") as f:
            text = f.read()
            assert NEW_PASSWORD not in text and PASSWORD not in text


def test_digit_only_usernames_refused_so_a_digit_only_user_is_an_id():
    """The admin API's {user} is an id when it is all digits, a username otherwise: a username
    may not be all digits (register and admin create answer 400 naming the field), so "006"
    can never name another account than the user with id 6."""
    with Env() as env:
        g = env.g
        r = post(g, "/auth/register", {"username": "006", "email": "d6@example.com",
                                       "password": PASSWORD})
        assert r.status == 400 and r.json()["field"] == "username", r.body
        assert "digits" in r.json()["reason"], r.body
        r = env.admin("POST", "/api/identity/users",
                      {"username": "500", "email": "five@example.com", "password": PASSWORD})
        assert r.status == 400 and "username" in r.json()["error"], r.body
        for name in ("esc1", "esc2", "esc3", "esc4", "esc5", "esc6"):
            assert env.admin("POST", "/api/identity/users",
                             {"username": name, "email": name + "@example.com",
                              "password": PASSWORD}).status == 201
        r = env.admin("GET", "/api/identity/users/6")
        assert r.status == 200 and r.json()["username"] == "esc6", r.body
        r = env.admin("POST", "/api/identity/users/006/disable")
        assert r.status == 200 and r.json()["username"] == "esc6", r.body
        # A name with a letter is a name.
        assert post(g, "/auth/register", {"username": "006a", "email": "d6a@example.com",
                                          "password": PASSWORD}).status == 201
        assert env.admin("GET", "/api/identity/users/006a").json()["username"] == "006a"


if __name__ == "__main__":
    gwtest.main(globals())
