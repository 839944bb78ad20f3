#!/usr/bin/env python3
"""Built-in identity (README "Built-in identity") through the real binary: register, login,
a protected service (auth.methods ["jwt"], no other JWT configuration) called with the access
token, refresh with rotation, reuse of a used refresh token revoking its family, logout (this
session and all) refusing the token afterwards, me, lockout after repeated failures (and its
audit entries), bad bodies answered 400 with the field named, the registration modes, the
store surviving a restart, and the tokens verified by an independent HS256 implementation
(Python's hmac) while tampered ones are refused.
"""

import base64
import hashlib
import hmac
import json
import os
import threading

import gwtest
from gwtest import Gantry, Origin, request

SECRET = "identity-test-secret-0123456789abcdef"  # >= 32 bytes
PASSWORD = "correct horse battery"


def config(origin, tmp, **identity):
    ident = {
        "sqlite": os.path.join(tmp, "identity.db"),
        "issuer": "https://gantry.test",
        "audience": "api",
        "jwt": {"kid": "id1", "secret": SECRET},
        # The lowest argon2id cost: the tests do many logins under the sanitizers.
        "password": {"opslimit": 1, "memlimit": "8KiB", "min_length": 10},
        "register": {"mode": "open"},
        "lockout": {"max_failures": 3, "max_address_failures": 1000, "window": "1m",
                    "duration": "1m"},
    }
    ident.update(identity)
    cfg = gwtest.simple_config(origin, prefix="/api", identity=ident,
                               audit={"file": os.path.join(tmp, "audit.log")})
    cfg["services"][0]["auth"] = {"methods": ["jwt"]}
    cfg["services"][0]["strip_prefix"] = True
    cfg["services"].append({"name": "open", "prefix": "/open", "targets": [origin.target()]})
    return cfg


def post(g, path, body, headers=None):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    hs = {"Content-Type": "application/json"}
    hs.update(headers or {})
    return request(g.port, "POST", path, headers=hs, body=data)


def bearer(tok):
    return {"Authorization": "Bearer " + tok}


def register(g, name="alice", email=None, password=PASSWORD, **extra):
    body = {"username": name, "email": email or name + "@example.com", "password": password}
    body.update(extra)
    return post(g, "/auth/register", body)


def login(g, login_name="alice", password=PASSWORD):
    return post(g, "/auth/login", {"login": login_name, "password": password})


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def hs256_ok(tok, secret=SECRET):
    """Independent verification: Python's hmac over the signing input."""
    h, p, s = tok.split(".")
    mac = hmac.new(secret.encode(), (h + "." + p).encode(), hashlib.sha256).digest()
    return hmac.compare_digest(mac, b64d(s))


class Env:
    def __init__(self, **identity):
        self.tmp = gwtest._mkdtemp("identity")
        self.o = Origin()
        self.g = Gantry(config(self.o, self.tmp, **identity))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.g.__exit__(*exc)
        self.o.stop()

    def audit(self):
        path = os.path.join(self.tmp, "audit.log")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]


def test_full_flow():
    with Env() as env:
        g = env.g
        r = register(g, "Alice")
        assert r.status == 201, r
        assert r.json()["username"] == "alice" and r.json()["roles"] == ["user"]
        assert r.header("Cache-Control") == "no-store"

        r = login(g, "ALICE")
        assert r.status == 200, r
        t = r.json()
        assert t["token_type"] == "Bearer" and t["expires_in"] == 900
        access, refresh = t["access_token"], t["refresh_token"]
        assert hs256_ok(access)
        head = json.loads(b64d(access.split(".")[0]))
        claims = json.loads(b64d(access.split(".")[1]))
        assert head == {"alg": "HS256", "typ": "JWT", "kid": "id1"}, head
        assert claims["iss"] == "https://gantry.test" and claims["aud"] == "api"
        assert claims["name"] == "alice" and claims["roles"] == ["user"]
        for k in ("sub", "exp", "iat", "jti", "sid"):
            assert k in claims, claims
        assert claims["exp"] - claims["iat"] == 900

        # The protected service: refused without a token, let through with it.
        assert request(g.port, "GET", "/api/echo/x").status == 401
        r = request(g.port, "GET", "/api/echo/x", headers=bearer(access))
        assert r.status == 200, r

        # Login with the email works too.
        assert login(g, "alice@EXAMPLE.com").status == 200

        r = request(g.port, "GET", "/auth/me", headers=bearer(access))
        assert r.status == 200, r
        assert r.json()["email"] == "alice@example.com"

        # Refresh rotates: a new pair; the old refresh token is used up.
        r = post(g, "/auth/refresh", {"refresh_token": refresh})
        assert r.status == 200, r
        access2, refresh2 = r.json()["access_token"], r.json()["refresh_token"]
        assert refresh2 != refresh and access2 != access
        assert json.loads(b64d(access2.split(".")[1]))["sid"] == claims["sid"]
        assert request(g.port, "GET", "/api/echo/x", headers=bearer(access2)).status == 200

        # Reuse of the used token: refused, and the whole family revoked (the newest refresh
        # token and the access tokens of the session too).
        r = post(g, "/auth/refresh", {"refresh_token": refresh})
        assert r.status == 401, r
        assert post(g, "/auth/refresh", {"refresh_token": refresh2}).status == 401
        r = request(g.port, "GET", "/api/echo/x", headers=bearer(access2))
        assert r.status == 401 and "revoked" in r.json()["reason"], r.body
        assert request(g.port, "GET", "/api/echo/x", headers=bearer(access)).status == 401

        # A new session; logout of it refuses its token (cached by the gateway or not).
        t = login(g).json()
        assert request(g.port, "GET", "/api/echo/x", headers=bearer(t["access_token"])).status == 200
        # (no body at all: this session)
        r = request(g.port, "POST", "/auth/logout", headers=bearer(t["access_token"]))
        assert r.status == 200 and r.json()["sessions_revoked"] == 1, r
        assert request(g.port, "GET", "/api/echo/x", headers=bearer(t["access_token"])).status == 401
        r = request(g.port, "GET", "/auth/me", headers=bearer(t["access_token"]))
        assert r.status == 401, r
        assert r.header("WWW-Authenticate") == 'Bearer realm="gantry", error="invalid_token"', r
        assert post(g, "/auth/refresh", {"refresh_token": t["refresh_token"]}).status == 401

        # Logout of all sessions.
        t1, t2 = login(g).json(), login(g).json()
        r = post(g, "/auth/logout", {"all": True}, headers=bearer(t1["access_token"]))
        assert r.status == 200 and r.json()["sessions_revoked"] >= 2, r
        for t in (t1, t2):
            assert request(g.port, "GET", "/api/echo/x",
                           headers=bearer(t["access_token"])).status == 401
            assert post(g, "/auth/refresh", {"refresh_token": t["refresh_token"]}).status == 401

        # The control thread writes audit entries after the answers: poll.
        wanted = {"identity.register", "identity.login", "identity.refresh_reuse",
                  "identity.logout", "identity.logout_all"}
        gwtest.wait_until(lambda: wanted <= {e["action"] for e in env.audit()},
                          message="identity audit entries")


def test_password_change_ends_every_session():
    with Env() as env:
        g = env.g
        assert register(g, "lena").status == 201
        t1, t2 = login(g, "lena").json(), login(g, "lena").json()
        new = "a much better passphrase"
        r = post(g, "/auth/password", {"current_password": "wrong-password-x",
                                       "new_password": new}, headers=bearer(t1["access_token"]))
        assert r.status == 401, r
        r = post(g, "/auth/password", {"current_password": PASSWORD, "new_password": "12345678"},
                 headers=bearer(t1["access_token"]))
        assert r.status == 400 and r.json()["field"] == "new_password", r.body
        r = post(g, "/auth/password", {"current_password": PASSWORD, "new_password": new})
        assert r.status == 401, r  # no bearer token
        r = post(g, "/auth/password", {"current_password": PASSWORD, "new_password": new},
                 headers=bearer(t1["access_token"]))
        assert r.status == 200 and r.json()["sessions_revoked"] == 2, r.body
        for t in (t1, t2):
            assert request(g.port, "GET", "/api/echo/x",
                           headers=bearer(t["access_token"])).status == 401
            assert post(g, "/auth/refresh", {"refresh_token": t["refresh_token"]}).status == 401
        assert login(g, "lena").status == 401
        assert login(g, "lena", new).status == 200
        # The control thread writes audit entries after the answers: poll.
        gwtest.wait_until(lambda: "identity.password_change" in
                          [e["action"] for e in env.audit()], message="password change entry")


def test_tampered_and_foreign_tokens_refused():
    with Env() as env:
        g = env.g
        assert register(g, "bob").status == 201
        tok = login(g, "bob").json()["access_token"]
        h, p, s = tok.split(".")
        claims = json.loads(b64d(p))
        claims["roles"] = ["admin"]
        forged_p = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        forged = h + "." + forged_p + "." + s
        assert not hs256_ok(forged)
        assert request(g.port, "GET", "/api/echo/x", headers=bearer(forged)).status == 401
        assert request(g.port, "GET", "/auth/me", headers=bearer(forged)).status == 401
        bad_sig = h + "." + p + "." + ("A" if s[0] != "A" else "B") + s[1:]
        assert request(g.port, "GET", "/api/echo/x", headers=bearer(bad_sig)).status == 401
        # Signed with another secret: not ours.
        other = hmac.new(b"x" * 40, (h + "." + p).encode(), hashlib.sha256).digest()
        foreign = h + "." + p + "." + base64.urlsafe_b64encode(other).rstrip(b"=").decode()
        assert request(g.port, "GET", "/api/echo/x", headers=bearer(foreign)).status == 401


def test_unknown_user_and_wrong_password_look_alike_and_lockout():
    with Env() as env:
        g = env.g
        assert register(g, "carol").status == 201
        unknown = login(g, "nobody", "whatever-password")
        wrong = login(g, "carol", "wrong-password-1")
        assert unknown.status == wrong.status == 401
        assert unknown.json()["error"] == wrong.json()["error"]
        assert unknown.json().get("reason") == wrong.json().get("reason")
        # a 401 carries its challenge (RFC 9110 15.5.2), the same for both
        assert unknown.header("WWW-Authenticate") == wrong.header("WWW-Authenticate") == \
            'Bearer realm="gantry"', wrong.headers
        # max_failures 3: the third failure locks the account; even the right password waits.
        assert login(g, "carol", "wrong-password-2").status == 401
        assert login(g, "carol", "wrong-password-3").status == 401
        r = login(g, "carol")
        assert r.status == 429, r
        assert int(r.header("Retry-After")) > 0
        # Another account is not affected.
        assert register(g, "dave").status == 201
        assert login(g, "dave").status == 200
        gwtest.wait_until(lambda: any(e["action"] == "identity.lockout"
                                      and e["object"] == "user:carol" for e in env.audit()),
                          message="lockout audit entry")
        gwtest.wait_until(lambda: len([e for e in env.audit()
                                       if e["action"] == "identity.login_failed"]) >= 4,
                          message="failed-login audit entries")
        with open(os.path.join(env.tmp, "audit.log")) as f:
            text = f.read()
        assert "wrong-password" not in text and PASSWORD not in text


def test_bad_input_names_the_field():
    with Env() as env:
        g = env.g
        cases = [
            (b"{not json", "body"),
            (b"[]", "body"),
            ({"email": "a@b.c", "password": PASSWORD}, "username"),
            ({"username": "al", "email": "a@b.c", "password": PASSWORD}, "username"),
            ({"username": "al ice", "email": "a@b.c", "password": PASSWORD}, "username"),
            ({"username": "x" * 65, "email": "a@b.c", "password": PASSWORD}, "username"),
            ({"username": "erin", "email": "no-at-sign", "password": PASSWORD}, "email"),
            ({"username": "erin", "email": "e@x.y", "password": 12}, "password"),
            ({"username": "erin", "email": "e@x.y", "password": "short"}, "password"),
            ({"username": "erin", "email": "e@x.y", "password": "password123"}, "password"),
            ({"username": "erin", "email": "e@x.y", "password": "Qwertyuiop"}, "password"),
            ({"username": "erin", "email": "e@x.y", "password": "p" * 300}, "password"),
        ]
        for body, field in cases:
            r = post(g, "/auth/register", body)
            assert r.status == 400, (body, r)
            assert r.json()["field"] == field, (body, r.body)
            assert field in r.json()["reason"], r.body
        r = post(g, "/auth/login", {"login": "erin"})
        assert r.status == 400 and r.json()["field"] == "password", r.body
        r = post(g, "/auth/refresh", {})
        assert r.status == 400 and r.json()["field"] == "refresh_token", r.body
        r = post(g, "/auth/logout", {"all": "yes"}, headers=bearer("x.y.z"))
        assert r.status == 400 and r.json()["field"] == "all", r.body
        r = post(g, "/auth/login", b"x" * 9000)
        assert r.status == 413, r
        r = request(g.port, "GET", "/auth/login")
        assert r.status == 405 and r.header("Allow") == "POST", r
        # Taken names and addresses, in any case.
        assert register(g, "frank").status == 201
        assert register(g, "FRANK", email="other@example.com").status == 409
        assert register(g, "frank2", email="Frank@Example.com").status == 409


def test_post_endpoints_take_only_json():
    """A body sent as anything but application/json (text/plain is a CORS simple request a
    cross-site page can send without a preflight) is refused 415 before it is read as JSON; a
    charset parameter may say utf-8 only. A POST without a body needs no Content-Type."""
    with Env() as env:
        g = env.g
        body = json.dumps({"username": "mia", "email": "mia@example.com", "password": PASSWORD})
        for ct in ("text/plain", "application/x-www-form-urlencoded",
                   "multipart/form-data; boundary=x", "application/json; charset=utf-16",
                   "application/jsonx", None):
            hs = {} if ct is None else {"Content-Type": ct}
            r = request(g.port, "POST", "/auth/register", headers=hs, body=body)
            assert r.status == 415, (ct, r)
            assert r.json()["error"] == "unsupported media type", r.body
            r = request(g.port, "POST", "/auth/login", headers=hs,
                        body=json.dumps({"login": "mia", "password": PASSWORD}))
            assert r.status == 415, (ct, r)
        r = request(g.port, "POST", "/auth/register",
                    headers={"Content-Type": "application/json; charset=UTF-8"}, body=body)
        assert r.status == 201, r
        tok = login(g, "mia").json()["access_token"]
        # Logout with no body at all, as the README's curl example sends it.
        r = request(g.port, "POST", "/auth/logout", headers=bearer(tok))
        assert r.status == 200, r


def test_me_and_services_share_the_leeway():
    """A token just past its exp but within auth.jwt's leeway (default 30 s) is accepted by the
    services; me accepts it too (the same leeway), and HEAD /auth/me answers as GET without a
    body."""
    import time
    with Env() as env:
        g = env.g
        assert register(g, "lee").status == 201
        claims = json.loads(b64d(login(g, "lee").json()["access_token"].split(".")[1]))
        claims["exp"] = int(time.time()) - 5
        claims["iat"] = claims["exp"] - 900
        def b64e(b):
            return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
        head = b64e(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "id1"}).encode())
        body = b64e(json.dumps(claims).encode())
        sig = b64e(hmac.new(SECRET.encode(), (head + "." + body).encode(),
                            hashlib.sha256).digest())
        tok = head + "." + body + "." + sig
        assert request(g.port, "GET", "/api/echo/x", headers=bearer(tok)).status == 200
        r = request(g.port, "GET", "/auth/me", headers=bearer(tok))
        assert r.status == 200 and r.json()["username"] == "lee", r
        r = request(g.port, "HEAD", "/auth/me", headers=bearer(tok))
        assert r.status == 200 and r.body == b"", r
        assert int(r.header("Content-Length")) > 0, r.headers


def test_registration_modes_and_restart():
    with Env(register={"mode": "invite", "invite_codes": ["let-me-in-42"]}) as env:
        g = env.g
        r = register(g, "gina")
        assert r.status == 400 and r.json()["field"] == "invite_code", r.body
        assert register(g, "gina", invite_code="wrong").status == 403
        assert register(g, "gina", invite_code="let-me-in-42").status == 201
    tmp = gwtest._mkdtemp("identity-admin")
    o = Origin()
    try:
        cfg = config(o, tmp, register={"mode": "admin"})
        with Gantry(cfg) as g:
            # The first user of an empty store is the admin; the next needs an admin's token.
            r = register(g, "root")
            assert r.status == 201 and "admin" in r.json()["roles"], r.body
            assert register(g, "henry").status == 403
            admin = login(g, "root").json()["access_token"]
            r = post(g, "/auth/register", {"username": "henry", "email": "h@example.com",
                                           "password": PASSWORD}, headers=bearer(admin))
            assert r.status == 201, r
            user = login(g, "henry").json()["access_token"]
            r = post(g, "/auth/register", {"username": "ivan", "email": "i@example.com",
                                           "password": PASSWORD}, headers=bearer(user))
            assert r.status == 403, r
        # The store is a file: a restarted gantry knows its users.
        with Gantry(cfg) as g:
            assert login(g, "henry").status == 200
        # Registration off: the endpoint is not there (the path is routed like any other).
        cfg["identity"]["register"] = {"mode": "off"}
        with Gantry(cfg) as g:
            assert register(g, "judy").status == 404
            assert login(g, "henry").status == 200
    finally:
        o.stop()


def test_only_one_first_user_becomes_admin():
    """Admin-only registration: of several registrations racing on an empty store, exactly one
    becomes the admin; the others are refused as any registration without an admin's token.
    (The password hash between the store's count and the insert gives the race its window.)"""
    tmp = gwtest._mkdtemp("identity-first")
    o = Origin()
    try:
        cfg = config(o, tmp, register={"mode": "admin"},
                     password={"opslimit": 2, "memlimit": "16MiB", "min_length": 10})
        with Gantry(cfg) as g:
            results = [None] * 4

            def go(i):
                results[i] = register(g, "first%d" % i)

            threads = [threading.Thread(target=go, args=(i,)) for i in range(len(results))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            statuses = sorted(r.status for r in results)
            assert statuses == [201, 403, 403, 403], [(r.status, r.body) for r in results]
            admins = [r for r in results if r.status == 201]
            assert "admin" in admins[0].json()["roles"], admins[0].body
    finally:
        o.stop()


def test_rehash_on_login_when_cost_changes():
    tmp = gwtest._mkdtemp("identity-rehash")
    o = Origin()
    try:
        cfg = config(o, tmp)
        with Gantry(cfg) as g:
            assert register(g, "kim").status == 201
        db = os.path.join(tmp, "identity.db")

        def stored_hash():
            import sqlite3
            c = sqlite3.connect(db)
            try:
                return c.execute("SELECT password FROM idp_users WHERE username='kim'").fetchone()[0]
            finally:
                c.close()

        before = stored_hash()
        assert before.startswith("$argon2id$") and "t=1" in before, before
        cfg["identity"]["password"]["opslimit"] = 2
        with Gantry(cfg) as g:
            assert login(g, "kim").status == 200
        after = stored_hash()
        assert after != before and "t=2" in after, after
    finally:
        o.stop()


if __name__ == "__main__":
    gwtest.main(globals())
