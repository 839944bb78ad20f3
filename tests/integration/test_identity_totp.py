#!/usr/bin/env python3
"""Built-in identity's TOTP second factor (README "Built-in identity") through the real binary,
checked against an independent RFC 6238 implementation (Python's hmac and hashlib): enrolment
(base32 secret and otpauth:// URI), confirmation, login needing a code (a missing or wrong one
answered exactly like a wrong password), replay of a used code refused, recovery codes usable
once, disable with the password or a code, lockout by wrong codes, the secret sealed at rest
(and opened after a key change through previous_keys), and the endpoints' failure answers.
"""

import base64
import hashlib
import hmac
import os
import sqlite3
import struct
import time
import urllib.parse

import gwtest
from gwtest import Gantry, request
from test_identity import Env, PASSWORD, bearer, config, login, post, register

KEY = "11" * 32
KEY2 = "22" * 32


def hotp(secret, counter, digits=6):
    mac = hmac.new(secret, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    v = struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF
    return str(v % 10 ** digits).zfill(digits)


def step_now(period=30):
    return int(time.time()) // period


def b32decode(s):
    return base64.b32decode(s + "=" * (-len(s) % 8))


def totp_env(max_failures=10):
    totp = {"encryption_key": KEY, "issuer": "Acme Corp"}
    return Env(totp=totp, lockout={"max_failures": max_failures, "max_address_failures": 1000,
                                   "window": "1m", "duration": "1m"})


def login_code(g, name, code=None, recovery=None, password=PASSWORD):
    body = {"login": name, "password": password}
    if code is not None:
        body["totp_code"] = code
    if recovery is not None:
        body["recovery_code"] = recovery
    return post(g, "/auth/login", body)


def enable(g, name):
    """Registers name, enrols and confirms TOTP: (access token, secret, step confirmed, codes)."""
    assert register(g, name).status == 201
    tok = login(g, name).json()["access_token"]
    r = post(g, "/auth/totp/enrol", {"password": PASSWORD}, headers=bearer(tok))
    assert r.status == 200, r
    secret = b32decode(r.json()["secret"])
    s = step_now()
    r = post(g, "/auth/totp/confirm", {"code": hotp(secret, s)}, headers=bearer(tok))
    assert r.status == 200, r
    return tok, secret, s, r.json()["recovery_codes"]


def test_enrol_confirm_and_login_with_a_code():
    with totp_env() as env:
        g = env.g
        assert register(g, "alice").status == 201
        tok = login(g, "alice").json()["access_token"]
        assert request(g.port, "GET", "/auth/me", headers=bearer(tok)).json()["totp_enabled"] is False
        # Without a token: 401; confirm before enrol: 409.
        assert post(g, "/auth/totp/enrol", {"password": PASSWORD}).status == 401
        r = post(g, "/auth/totp/confirm", {"code": "123456"}, headers=bearer(tok))
        assert r.status == 409 and "enrol first" in r.json()["reason"], r.body
        # GET is not the method.
        assert request(g.port, "GET", "/auth/totp/enrol", headers=bearer(tok)).status == 405

        r = post(g, "/auth/totp/enrol", {"password": PASSWORD}, headers=bearer(tok))
        assert r.status == 200, r
        j = r.json()
        assert r.header("Cache-Control") == "no-store"
        secret = b32decode(j["secret"])
        assert len(secret) == 20 and j["digits"] == 6 and j["period"] == 30
        assert j["algorithm"] == "SHA1"
        u = urllib.parse.urlparse(j["otpauth_uri"])
        assert u.scheme == "otpauth" and u.netloc == "totp", j["otpauth_uri"]
        assert urllib.parse.unquote(u.path) == "/Acme Corp:alice", u.path
        q = urllib.parse.parse_qs(u.query)
        assert q["secret"] == [j["secret"]] and q["issuer"] == ["Acme Corp"]
        assert q["digits"] == ["6"] and q["period"] == ["30"] and q["algorithm"] == ["SHA1"]
        # Pending: login still needs no code.
        assert login(g, "alice").status == 200

        # A wrong code (far outside the window) and a malformed one.
        s = step_now()
        r = post(g, "/auth/totp/confirm", {"code": hotp(secret, s + 5)}, headers=bearer(tok))
        assert r.status == 400 and r.json()["field"] == "code", r.body
        r = post(g, "/auth/totp/confirm", {"code": "12ab56"}, headers=bearer(tok))
        assert r.status == 400 and r.json()["field"] == "code", r.body
        r = post(g, "/auth/totp/confirm", {}, headers=bearer(tok))
        assert r.status == 400 and r.json()["field"] == "code", r.body

        r = post(g, "/auth/totp/confirm", {"code": hotp(secret, s)}, headers=bearer(tok))
        assert r.status == 200, r
        codes = r.json()["recovery_codes"]
        assert r.json()["totp_enabled"] is True
        assert len(codes) == 10 and len(set(codes)) == 10
        for c in codes:
            assert len(c) == 11 and c[5] == "-", c
        assert request(g.port, "GET", "/auth/me", headers=bearer(tok)).json()["totp_enabled"]
        # Enrolling again while enabled: 409.
        assert post(g, "/auth/totp/enrol", {"password": PASSWORD}, headers=bearer(tok)).status == 409

        # Login now needs the code. Missing, wrong, or with a wrong password: the same answer
        # as a wrong password alone.
        wrong_pw = login_code(g, "alice", password="wrong-password-1")
        missing = login_code(g, "alice")
        bad = login_code(g, "alice", code=hotp(secret, s + 7))
        for r in (wrong_pw, missing, bad):
            assert r.status == 401, r
            assert r.json()["error"] == wrong_pw.json()["error"]
            assert r.json().get("reason") == wrong_pw.json().get("reason")
        # The code of the confirmed step is used up; the next step's is good once.
        assert login_code(g, "alice", code=hotp(secret, s)).status == 401
        r = login_code(g, "alice", code=hotp(secret, s + 1))
        assert r.status == 200, r
        assert "access_token" in r.json()
        assert login_code(g, "alice", code=hotp(secret, s + 1)).status == 401  # replay


def test_recovery_codes_work_once():
    with totp_env() as env:
        g = env.g
        tok, secret, s, codes = enable(g, "bob")
        r = login_code(g, "bob", recovery=codes[0])
        assert r.status == 200, r
        assert login_code(g, "bob", recovery=codes[0]).status == 401
        # Typed in upper case without the dash: the same code.
        r = login_code(g, "bob", recovery=codes[1].replace("-", "").upper())
        assert r.status == 200, r
        # A recovery code with a wrong password: refused, and not used up.
        assert login_code(g, "bob", recovery=codes[2], password="wrong-password-9").status == 401
        assert login_code(g, "bob", recovery=codes[2]).status == 200
        r = login_code(g, "bob", recovery="not a code!")
        assert r.status == 400 and r.json()["field"] == "recovery_code", r.body
        r = login_code(g, "bob", code="12345")
        assert r.status == 400 and r.json()["field"] == "totp_code", r.body
        gwtest.wait_until(lambda: len([e for e in env.audit()
                                       if e["action"] == "identity.recovery_code_used"]) == 3,
                          message="recovery audit entries")
        # Neither the codes nor the secret reach the audit log.
        with open(os.path.join(env.tmp, "audit.log")) as f:
            text = f.read()
        assert codes[3] not in text and base64.b32encode(secret).decode().rstrip("=") not in text


def test_disable_needs_password_or_code():
    with totp_env() as env:
        g = env.g
        tok, secret, s, codes = enable(g, "carol")
        r = post(g, "/auth/totp/disable", {}, headers=bearer(tok))
        assert r.status == 400 and r.json()["field"] == "password", r.body
        r = post(g, "/auth/totp/disable", {"password": "wrong-password-1"}, headers=bearer(tok))
        assert r.status == 401, r
        r = post(g, "/auth/totp/disable", {"code": hotp(secret, s + 9)}, headers=bearer(tok))
        assert r.status == 401, r
        assert post(g, "/auth/totp/disable", {"password": PASSWORD}).status == 401  # no token
        r = post(g, "/auth/totp/disable", {"code": hotp(secret, s + 1)}, headers=bearer(tok))
        assert r.status == 200 and r.json()["totp_enabled"] is False, r.body
        assert login(g, "carol").status == 200  # no code needed any more
        r = post(g, "/auth/totp/disable", {"password": PASSWORD}, headers=bearer(tok))
        assert r.status == 409, r
        # Again, then off with the password; and with a recovery code.
        tok2 = login(g, "carol").json()["access_token"]
        r = post(g, "/auth/totp/enrol", {"password": PASSWORD}, headers=bearer(tok2))
        secret2 = b32decode(r.json()["secret"])
        r = post(g, "/auth/totp/confirm", {"code": hotp(secret2, step_now())},
                 headers=bearer(tok2))
        codes2 = r.json()["recovery_codes"]
        assert codes2 != codes
        assert login_code(g, "carol", recovery=codes[0]).status == 401  # the old codes are gone
        r = post(g, "/auth/totp/disable", {"code": codes2[0]}, headers=bearer(tok2))
        assert r.status == 200, r.body
        gwtest.wait_until(lambda: {"identity.totp_enrol", "identity.totp_enable",
                                   "identity.totp_disable"} <=
                          {e["action"] for e in env.audit()}, message="totp audit entries")


def test_wrong_codes_lock_the_account():
    with totp_env(max_failures=3) as env:
        g = env.g
        tok, secret, s, codes = enable(g, "dave")
        for i in range(3):  # lockout.max_failures
            assert login_code(g, "dave", code=hotp(secret, s + 20 + i)).status == 401
        r = login_code(g, "dave", code=hotp(secret, s + 1))
        assert r.status == 429 and int(r.header("Retry-After")) > 0, r
        gwtest.wait_until(lambda: any(e["action"] == "identity.lockout" and
                                      e["object"] == "user:dave" for e in env.audit()),
                          message="lockout entry")
        assert any(e["action"] == "identity.login_failed" and e.get("detail") == {"factor": "totp"}
                   for e in env.audit())


def test_secret_sealed_at_rest_and_key_rotation():
    tmp = gwtest._mkdtemp("identity-totp")
    o = gwtest.Origin()
    try:
        cfg = config(o, tmp, totp={"encryption_key": KEY})
        with Gantry(cfg) as g:
            tok, secret, s, codes = enable(g, "erin")
        db = sqlite3.connect(os.path.join(tmp, "identity.db"))
        try:
            box, last = db.execute("SELECT totp_secret, totp_last_step FROM idp_users WHERE "
                                   "username='erin'").fetchone()
            hashes = [h for (h,) in db.execute("SELECT hash FROM idp_recovery")]
        finally:
            db.close()
        assert last == s
        assert len(box) == 8 + 20 + 40 and secret not in box
        assert len(hashes) == 10
        assert hashlib.sha256(codes[0].replace("-", "").encode()).hexdigest() in hashes
        # A new key with the old one in previous_keys: codes still check.
        cfg["identity"]["totp"] = {"encryption_key": KEY2, "previous_keys": [KEY]}
        with Gantry(cfg) as g:
            assert login_code(g, "erin", code=hotp(secret, s + 1)).status == 200
        # The old key gone: codes cannot be checked (logged), recovery codes still work.
        cfg["identity"]["totp"] = {"encryption_key": KEY2}
        with Gantry(cfg) as g:
            assert login_code(g, "erin", code=hotp(secret, step_now() + 1)).status == 401
            assert login_code(g, "erin", recovery=codes[0]).status == 200
            gwtest.wait_until(lambda: "does not open" in g.stderr() + g.stdout(),
                              message="log line about the key")
    finally:
        o.stop()


def test_enrol_needs_the_current_password():
    """A stolen access token alone cannot put a second factor on the account (and lock its owner
    out): enrolment asks for the current password, as a password change does."""
    with totp_env() as env:
        g = env.g
        assert register(g, "vic").status == 201
        tok = login(g, "vic").json()["access_token"]
        r = post(g, "/auth/totp/enrol", b"", headers=bearer(tok))
        assert r.status == 400 and r.json()["field"] == "body", r.body
        r = post(g, "/auth/totp/enrol", {}, headers=bearer(tok))
        assert r.status == 400 and r.json()["field"] == "password", r.body
        r = post(g, "/auth/totp/enrol", {"password": "wrong-password-1"}, headers=bearer(tok))
        assert r.status == 401 and "password" in r.json()["reason"], r.body
        r = post(g, "/auth/totp/enrol", {"password": PASSWORD}, headers=bearer(tok))
        assert r.status == 200 and r.json()["secret"], r.body


def test_totp_endpoints_absent_when_off():
    with Env() as env:
        g = env.g
        assert register(g, "fay").status == 201
        tok = login(g, "fay").json()["access_token"]
        # Not identity's: routed like any path (no service there).
        assert post(g, "/auth/totp/enrol", {"password": PASSWORD}, headers=bearer(tok)).status == 404


if __name__ == "__main__":
    gwtest.main(globals())
