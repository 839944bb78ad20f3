#!/usr/bin/env python3
"""Built-in identity's asymmetric access tokens (README "Built-in identity", "Signing keys"):
EdDSA and ES256 tokens signed with configured private keys, verified by an independent
implementation (Python's `cryptography`) against the JWK Set gantry serves; a protected service
(auth.methods ["jwt"], no other JWT configuration) accepts them; tampered, alg-confused and
foreign tokens are refused; key rotation through config reloads (a new active key, the old one
still verifying until removed); a bad key file refused like a bad config while the old keys keep
serving.
"""

import json
import os
import re
import signal
import subprocess
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

import gwtest
from gwtest import Gantry, Origin, request
from gwtest.jose import Keys, b64json, b64url, hs_token

PASSWORD = "correct horse battery"
RELOADED = re.compile(r"configuration reloaded: generation \d+")
REFUSED = re.compile(r"reload refused")


def config(origin, tmp, keys, active=None, **extra):
    jwt = {"keys": keys}
    if active:
        jwt["active"] = active
    ident = {
        "sqlite": os.path.join(tmp, "identity.db"),
        "issuer": "https://gantry.test",
        "audience": "api",
        "jwt": jwt,
        "password": {"opslimit": 1, "memlimit": "8KiB", "min_length": 10},
        "register": {"mode": "open"},
    }
    ident.update(extra)
    cfg = gwtest.simple_config(origin, prefix="/api", identity=ident, http2={"cleartext": True})
    cfg["services"][0]["auth"] = {"methods": ["jwt"]}
    cfg["services"][0]["strip_prefix"] = True
    return cfg


def key(keys, kind, kid):
    alg = {"ed": "EdDSA", "es": "ES256"}[kind[:2]]
    return {"kid": kid, "alg": alg, "private_key_file": keys._path(kind, "key")}


def post(g, path, body, headers=None):
    hs = {"Content-Type": "application/json"}
    hs.update(headers or {})
    return request(g.port, "POST", path, headers=hs, body=json.dumps(body))


def token_for(g, name):
    r = post(g, "/auth/register",
             {"username": name, "email": name + "@example.com", "password": PASSWORD})
    assert r.status in (201, 409), r
    r = post(g, "/auth/login", {"login": name, "password": PASSWORD})
    assert r.status == 200, r
    return r.json()["access_token"]


def api(g, tok):
    return request(g.port, "GET", "/api/echo/x", headers={"Authorization": "Bearer " + tok}).status


def b64d(s):
    import base64

    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jwks(g):
    r = request(g.port, "GET", "/.well-known/jwks.json")
    assert r.status == 200, r
    return r, {k["kid"]: k for k in r.json()["keys"]}


def verify_independently(tok, jwk):
    """Checks tok's signature with `cryptography` and the public key from the JWK only."""
    h, p, s = tok.split(".")
    data = (h + "." + p).encode()
    sig = b64d(s)
    if jwk["kty"] == "OKP":
        assert jwk["crv"] == "Ed25519"
        Ed25519PublicKey.from_public_bytes(b64d(jwk["x"])).verify(sig, data)
    else:
        assert jwk["kty"] == "EC" and jwk["crv"] == "P-256" and len(sig) == 64
        x = int.from_bytes(b64d(jwk["x"]), "big")
        y = int.from_bytes(b64d(jwk["y"]), "big")
        pub = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        pub.verify(der, data, ec.ECDSA(hashes.SHA256()))


def refused_by_cryptography(tok, jwk):
    try:
        verify_independently(tok, jwk)
    except InvalidSignature:
        return True
    return False


def reload(g, cfg, expect_ok):
    offset = len(g.stderr())
    g.write_config(cfg)
    g.signal(signal.SIGHUP)

    def outcome():
        text = g.stderr()[offset:]
        if RELOADED.search(text) or REFUSED.search(text):
            return text
        return None

    text = gwtest.wait_until(outcome, 10, message="reload outcome in gantry's log")
    assert bool(RELOADED.search(text)) == expect_ok, text
    return text


def test_eddsa_and_es256_tokens_verify_independently_and_tampering_is_refused():
    tmp = gwtest._mkdtemp("idkeys")
    keys = Keys(tmp, kinds=("ed", "es", "ed_other"))
    o = Origin()
    try:
        cfg = config(o, tmp, [key(keys, "ed", "ed1"), key(keys, "es", "es1")])
        with Gantry(cfg) as g:
            r, ks = jwks(g)
            assert r.header("Content-Type") == "application/jwk-set+json", r.headers
            assert r.header("Cache-Control") == "public, max-age=300", r.headers
            assert sorted(ks) == ["ed1", "es1"], ks
            assert ks["ed1"] == {"kty": "OKP", "crv": "Ed25519", "x": ks["ed1"]["x"],
                                 "kid": "ed1", "alg": "EdDSA", "use": "sig"}, ks
            assert ks["es1"]["kty"] == "EC" and ks["es1"]["crv"] == "P-256", ks
            assert ks["es1"]["alg"] == "ES256" and "d" not in ks["es1"] and "d" not in ks["ed1"]
            assert request(g.port, "HEAD", "/.well-known/jwks.json").status == 200
            # the same over HTTP/2 (h2c with prior knowledge): it once crashed gantry
            for method in ("GET", "HEAD"):
                p = subprocess.run(["curl", "-sS", "-m", "10", "--http2-prior-knowledge", "-X",
                                    method, "-o", "/dev/null", "-w", "%{http_code} %{http_version}",
                                    "http://127.0.0.1:%d/.well-known/jwks.json" % g.port],
                                   capture_output=True, text=True, timeout=20)
                assert p.stdout == "200 2", (method, p.stdout, p.stderr)
            p = subprocess.run(["curl", "-sS", "-m", "10", "--http2-prior-knowledge",
                                "http://127.0.0.1:%d/.well-known/jwks.json" % g.port],
                               capture_output=True, text=True, timeout=20)
            assert {k["kid"] for k in json.loads(p.stdout)["keys"]} == {"ed1", "es1"}, p.stdout

            tok = token_for(g, "alice")
            head = json.loads(b64d(tok.split(".")[0]))
            assert head == {"alg": "EdDSA", "typ": "JWT", "kid": "ed1"}, head
            verify_independently(tok, ks["ed1"])
            assert api(g, tok) == 200
            me = request(g.port, "GET", "/auth/me", headers={"Authorization": "Bearer " + tok})
            assert me.status == 200 and me.json()["username"] == "alice", me

            h, p, s = tok.split(".")
            claims = json.loads(b64d(p))
            # Tampered payload: a role added, the signature kept.
            forged = dict(claims, roles=["admin"])
            bad = h + "." + b64json(forged) + "." + s
            assert refused_by_cryptography(bad, ks["ed1"])
            assert api(g, bad) == 401
            # One flipped signature bit.
            sig = bytearray(b64d(s))
            sig[5] ^= 1
            assert api(g, h + "." + p + "." + b64url(bytes(sig))) == 401
            # Alg confusion: HS256 with the public key (PEM and raw x) as the secret, kid ed1.
            for secret in (keys.pub_pem("ed"), b64d(ks["ed1"]["x"]) * 2):
                t = hs_token(secret, claims, header={"alg": "HS256", "typ": "JWT", "kid": "ed1"})
                assert api(g, t) == 401
            # "none", and an ES256 header naming the EdDSA key.
            none = b64json({"alg": "none", "typ": "JWT", "kid": "ed1"}) + "." + p + "."
            assert api(g, none) == 401
            es = keys.sign("es", claims, header={"alg": "ES256", "typ": "JWT", "kid": "ed1"})
            assert api(g, es) == 401
            # A well-formed token signed by another Ed25519 key under our kid.
            other = keys.sign("ed_other", claims, kid="ed1")
            assert api(g, other) == 401
            # Our own endpoints refuse it too.
            me = request(g.port, "GET", "/auth/me", headers={"Authorization": "Bearer " + other})
            assert me.status == 401, me

        # The same keys with ES256 active.
        cfg = config(o, tmp, [key(keys, "ed", "ed1"), key(keys, "es", "es1")], active="es1",
                     jwks={"path": "/api/auth/jwks", "max_age": "1h"})
        with Gantry(cfg) as g:
            r = request(g.port, "GET", "/api/auth/jwks")
            assert r.status == 200 and r.header("Cache-Control") == "public, max-age=3600", r
            ks = {k["kid"]: k for k in r.json()["keys"]}
            assert request(g.port, "GET", "/.well-known/jwks.json").status == 404
            tok = token_for(g, "alice")
            head = json.loads(b64d(tok.split(".")[0]))
            assert head == {"alg": "ES256", "typ": "JWT", "kid": "es1"}, head
            verify_independently(tok, ks["es1"])
            assert api(g, tok) == 200
            h, p, s = tok.split(".")
            forged = dict(json.loads(b64d(p)), sub="1000")
            bad = h + "." + b64json(forged) + "." + s
            assert refused_by_cryptography(bad, ks["es1"])
            assert api(g, bad) == 401
    finally:
        o.stop()


def test_hs256_only_publishes_no_jwks():
    tmp = gwtest._mkdtemp("idkeys")
    o = Origin()
    try:
        cfg = config(o, tmp, [])
        cfg["identity"]["jwt"] = {"kid": "h1", "secret": "x" * 40}
        with Gantry(cfg) as g:
            assert request(g.port, "GET", "/.well-known/jwks.json").status == 404
            assert api(g, token_for(g, "bob")) == 200
            # the identity's keys verify only what is made for its issuer and audience
            # (RFC 8725 3.8, 3.9): the key's holder minting for another audience, or for none,
            # does not reach the service
            now = int(time.time())
            good = {"iss": "https://gantry.test", "aud": "api", "sub": "1", "exp": now + 60}
            assert api(g, hs_token("x" * 40, good, kid="h1")) == 200
            for bad in (dict(good, aud="other"), dict(good, iss="https://evil"),
                        {k: v for k, v in good.items() if k != "aud"},
                        {k: v for k, v in good.items() if k != "iss"}):
                assert api(g, hs_token("x" * 40, bad, kid="h1")) == 401, bad
    finally:
        o.stop()


def test_rotation_through_reload_and_bad_key_file_refused():
    tmp = gwtest._mkdtemp("idkeys")
    keys = Keys(tmp, kinds=("ed", "ed2", "es"))
    o = Origin()
    try:
        with Gantry(config(o, tmp, [key(keys, "ed", "k1")])) as g:
            t1 = token_for(g, "carol")
            assert api(g, t1) == 200
            _, ks = jwks(g)
            assert sorted(ks) == ["k1"]

            # Step 1: a new key k2 becomes active; k1 still verifies.
            reload(g, config(o, tmp, [key(keys, "ed2", "k2"), key(keys, "ed", "k1")]), True)
            _, ks = jwks(g)
            assert sorted(ks) == ["k1", "k2"], ks
            t2 = token_for(g, "carol")
            assert json.loads(b64d(t2.split(".")[0]))["kid"] == "k2"
            verify_independently(t2, ks["k2"])
            assert api(g, t1) == 200 and api(g, t2) == 200

            # A bad key file (not a key; a key of the wrong type) is refused with its file and
            # reason; the running keys keep serving.
            junk = os.path.join(tmp, "junk.pem")
            with open(junk, "w") as f:
                f.write("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
            bad = config(o, tmp, [key(keys, "ed2", "k2"),
                                  {"kid": "k3", "alg": "EdDSA", "private_key_file": junk}])
            text = reload(g, bad, False)
            assert "identity.jwt.keys[1].private_key_file" in text and junk in text, text
            wrong = config(o, tmp, [key(keys, "ed2", "k2"),
                                    {"kid": "k3", "alg": "EdDSA",
                                     "private_key_file": keys._path("es", "key")}])
            text = reload(g, wrong, False)
            assert "EdDSA needs an Ed25519 or Ed448 private key" in text, text
            missing = config(o, tmp, [{"kid": "k3", "alg": "ES256",
                                       "private_key_file": os.path.join(tmp, "nope.pem")}])
            text = reload(g, missing, False)
            assert "nope.pem" in text, text
            _, ks = jwks(g)
            assert sorted(ks) == ["k1", "k2"], ks
            assert api(g, t1) == 200
            assert json.loads(b64d(token_for(g, "carol").split(".")[0]))["kid"] == "k2"

            # Step 2: k1 removed: its tokens are refused, k2's accepted.
            reload(g, config(o, tmp, [key(keys, "ed2", "k2")]), True)
            _, ks = jwks(g)
            assert sorted(ks) == ["k2"], ks
            assert api(g, t1) == 401
            assert api(g, t2) == 200
    finally:
        o.stop()


if __name__ == "__main__":
    gwtest.main(globals())
