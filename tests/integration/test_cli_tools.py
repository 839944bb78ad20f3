#!/usr/bin/env python3
"""`gantry hash-key` and `gantry token` through the real binary: the hash equals Python's
SHA-256, keys read from stdin, minted tokens decode with the requested claims and their HMAC
checks in Python for each algorithm, durations, and every usage error exits 2."""

import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import time

import gwtest

SECRET32 = "s" * 16 + "0123456789abcdef"  # exactly 32 bytes
SECRET48 = "x" * 48
SECRET64 = "y" * 64
HASH_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


def run(args, stdin=None, env=None):
    """Runs gantry to completion with stdin bytes (or none); returns the CompletedProcess
    (stdout and stderr as text) after checking no sanitizer spoke."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    p = subprocess.run(
        [gwtest.gantry_bin()] + list(args),
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        env=full_env,
        timeout=30,
    )
    p.stdout = p.stdout.decode("utf-8", "replace")
    p.stderr = p.stderr.decode("utf-8", "replace")
    for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error"):
        assert bad not in p.stderr, p.stderr
    return p


def expect_hash(key_bytes):
    return "sha256:" + hashlib.sha256(key_bytes).hexdigest()


def b64d(seg):
    return base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4))


def b64e(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode(token):
    """(header dict, payload dict, signing input bytes, signature bytes)."""
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", token), token
    h, p, s = token.split(".")
    return json.loads(b64d(h)), json.loads(b64d(p)), (h + "." + p).encode(), b64d(s)


def mint(*args, env=None):
    p = run(["token"] + list(args), env=env)
    assert p.returncode == 0, (args, p.returncode, p.stderr)
    assert p.stdout.endswith("\n") and p.stdout.count("\n") == 1, p.stdout
    return p.stdout.strip()


def usage_error(args, words=(), env=None, stdin=None):
    """Runs a command that must fail with exit 2, nothing on stdout and a message on stderr
    containing each of words."""
    p = run(args, env=env, stdin=stdin)
    assert p.returncode == 2, (args, p.returncode, p.stdout, p.stderr)
    assert p.stdout == "", (args, p.stdout)
    assert p.stderr.strip(), args
    for w in words:
        assert w in p.stderr, (args, w, p.stderr)
    return p


# ---- hash-key ------------------------------------------------------------------------------


def test_hash_key_matches_hashlib():
    keys = ["abc", "gk_live_" + "A1b2C3d4" * 8, "with spaces inside", "ключ-🔑", "k" * 4096]
    for key in keys:
        p = run(["hash-key", key])
        assert p.returncode == 0, (key, p.stderr)
        out = p.stdout.rstrip("\n")
        assert p.stdout == out + "\n"
        assert HASH_RE.match(out), out
        assert out == expect_hash(key.encode()), key
    # known vector
    assert run(["hash-key", "abc"]).stdout == (
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n")
    # "--" lets a key start with '-'
    p = run(["hash-key", "--", "-secret"])
    assert p.returncode == 0 and p.stdout.strip() == expect_hash(b"-secret"), p


def test_hash_key_from_stdin():
    cases = [
        (b"s3cret-key\n", b"s3cret-key"),
        (b"s3cret-key\r\n", b"s3cret-key"),
        (b"s3cret-key", b"s3cret-key"),  # no newline at EOF
        (b"first\nsecond\n", b"first"),  # one line only
        (b"  padded  \n", b"  padded  "),  # spaces are part of the key
        ("ключ\n".encode(), "ключ".encode()),
        (b"z" * 4096 + b"\n", b"z" * 4096),
        (b"z" * 4096 + b"\r\n", b"z" * 4096),
    ]
    for data, key in cases:
        p = run(["hash-key", "-"], stdin=data)
        assert p.returncode == 0, (data[:20], p.stderr)
        assert p.stdout == expect_hash(key) + "\n", data[:20]
    # the key is not echoed anywhere
    p = run(["hash-key", "-"], stdin=b"do-not-print-me\n")
    assert "do-not-print-me" not in p.stdout + p.stderr


def test_hash_key_errors():
    usage_error(["hash-key"], ["Usage"])
    usage_error(["hash-key", "a", "b"], ["Usage"])
    usage_error(["hash-key", "--bogus"], ["--bogus"])
    usage_error(["hash-key", ""], ["1 to 4096"])
    usage_error(["hash-key", "k" * 4097], ["4096"])
    usage_error(["hash-key", "-"], ["stdin"], stdin=b"")
    usage_error(["hash-key", "-"], stdin=b"\n")
    usage_error(["hash-key", "-"], ["4096"], stdin=b"z" * 4097 + b"\n")
    usage_error(["hash-key", "-"], ["NUL"], stdin=b"ab\x00cd\n")
    p = run(["hash-key", "--help"])
    assert p.returncode == 0 and "stdin" in p.stdout and "history" in p.stdout, p


# ---- token ---------------------------------------------------------------------------------


def test_token_claims_and_signature():
    before = int(time.time())
    tok = mint("--secret", SECRET32, "--sub", "user123", "--role", "user", "--role", "admin",
               "--permission", "orders:read", "--permission", "orders:write", "--ttl", "15m",
               "--iss", "https://issuer.example", "--aud", "orders-api", "--kid", "dev-1",
               "--claim", "tenant=acme", "--claim", "level:=3",
               "--claim", "flags:=[true,null]")
    after = int(time.time())
    hdr, pay, signing_input, sig = decode(tok)
    assert hdr == {"alg": "HS256", "typ": "JWT", "kid": "dev-1"}, hdr
    assert pay["sub"] == "user123"
    assert pay["iss"] == "https://issuer.example"
    assert pay["aud"] == "orders-api"
    assert pay["roles"] == ["user", "admin"]
    assert "role" not in pay  # only with exactly one role
    assert pay["permissions"] == ["orders:read", "orders:write"]
    assert pay["tenant"] == "acme" and pay["level"] == 3 and pay["flags"] == [True, None]
    assert isinstance(pay["iat"], int) and before <= pay["iat"] <= after, (before, pay, after)
    assert pay["exp"] - pay["iat"] == 900
    want = hmac.new(SECRET32.encode(), signing_input, hashlib.sha256).digest()
    assert hmac.compare_digest(sig, want)
    # the signature segment is unpadded base64url of the MAC
    assert tok.rsplit(".", 1)[1] == b64e(want)
    # a different secret does not produce this signature
    other = hmac.new(SECRET32.upper().encode(), signing_input, hashlib.sha256).digest()
    assert not hmac.compare_digest(sig, other)


def test_token_single_role_and_defaults():
    tok = mint("--secret", SECRET32, "--sub", "u1", "--role", "user")
    hdr, pay, _, _ = decode(tok)
    assert hdr == {"alg": "HS256", "typ": "JWT"}, hdr
    assert pay["roles"] == ["user"] and pay["role"] == "user", pay
    assert pay["exp"] - pay["iat"] == 3600  # default ttl 1h
    assert "permissions" not in pay and "iss" not in pay and "aud" not in pay
    # no role at all: neither claim
    _, pay, _, _ = decode(mint("--secret", SECRET32, "--sub", "u1"))
    assert "roles" not in pay and "role" not in pay, pay


def test_token_durations():
    for ttl, secs in [("30s", 30), ("15m", 900), ("1h", 3600), ("7d", 604800), ("90", 90),
                      ("3650d", 3650 * 86400)]:
        _, pay, _, _ = decode(mint("--secret", SECRET32, "--sub", "u", "--ttl", ttl))
        assert pay["exp"] - pay["iat"] == secs, (ttl, pay)


def test_token_algorithms():
    for alg, secret, digest in [("HS256", SECRET32, hashlib.sha256),
                                ("HS384", SECRET48, hashlib.sha384),
                                ("HS512", SECRET64, hashlib.sha512)]:
        tok = mint("--secret", secret, "--sub", "u", "--alg", alg)
        hdr, _, signing_input, sig = decode(tok)
        assert hdr["alg"] == alg, hdr
        assert hmac.compare_digest(sig, hmac.new(secret.encode(), signing_input, digest).digest())


def test_token_secret_from_env_and_equals_form():
    env = {"GW_TEST_JWT_SECRET": SECRET64}
    tok = mint("--secret-env", "GW_TEST_JWT_SECRET", "--sub=u9", "--alg=HS512", "--ttl=30s",
               "--role=ops", env=env)
    hdr, pay, signing_input, sig = decode(tok)
    assert hdr["alg"] == "HS512" and pay["sub"] == "u9" and pay["role"] == "ops", (hdr, pay)
    assert pay["exp"] - pay["iat"] == 30
    assert hmac.compare_digest(
        sig, hmac.new(SECRET64.encode(), signing_input, hashlib.sha512).digest())
    # the secret never appears in the output
    p = run(["token", "--secret-env", "GW_TEST_JWT_SECRET", "--sub", "u"], env=env)
    assert SECRET64 not in p.stdout + p.stderr


def test_token_claim_overrides():
    # --claim is applied last: an already expired token for testing 401s
    _, pay, _, _ = decode(mint("--secret", SECRET32, "--sub", "u", "--claim", "exp:=1",
                               "--claim", "sub=other", "--claim", "x=a=b"))
    assert pay["exp"] == 1 and pay["sub"] == "other" and pay["x"] == "a=b", pay


def test_token_errors():
    base = ["token", "--secret", SECRET32, "--sub", "u"]
    # short secrets name the RFC 7518 rule
    usage_error(["token", "--secret", SECRET32[:-1], "--sub", "u"], ["32", "48", "64", "7518"])
    usage_error(["token", "--secret", SECRET48[:-1], "--sub", "u", "--alg", "HS384"],
                ["48", "HS384"])
    usage_error(["token", "--secret", SECRET48 + "1" * 15, "--sub", "u", "--alg", "HS512"],
                ["64"])
    usage_error(["token", "--secret-env", "GW_SHORT", "--sub", "u"], ["32"],
                env={"GW_SHORT": "short"})
    # unknown options and missing values: usage on stderr
    usage_error(base + ["--bogus", "x"], ["unknown option", "--bogus", "Usage"])
    usage_error(base + ["-r", "x"], ["unknown option", "Usage"])
    usage_error(base + ["--role"], ["--role needs a value", "Usage"])
    usage_error(["token", "--secret", SECRET32, "--sub"], ["--sub needs a value", "Usage"])
    usage_error(base + ["stray"], ["unexpected argument", "Usage"])
    # required and exclusive options
    usage_error(["token", "--sub", "u"], ["--secret-env"])
    usage_error(["token", "--secret", SECRET32], ["--sub"])
    usage_error(base + ["--secret-env", "X"], ["exclude"])
    usage_error(base + ["--sub", "v"], ["twice"])
    env_missing = "GW_TEST_SURELY_UNSET_%d" % os.getpid()
    usage_error(["token", "--secret-env", env_missing, "--sub", "u"], [env_missing])
    # invalid values
    for ttl in ["0", "0s", "1w", "-5s", "h", "", "1.5h", "10 s", "3651d", "99999999999999999999"]:
        usage_error(base + ["--ttl", ttl], ["--ttl"])
    for alg in ["RS256", "none", "hs256", "ES256", ""]:
        usage_error(base + ["--alg", alg], ["--alg"])
    usage_error(base + ["--role", "two words"], ["role"])
    usage_error(base + ["--permission", ""], ["permission"])
    usage_error(base + ["--claim", "novalue"], ["--claim"])
    usage_error(base + ["--claim", "=v"], ["--claim"])
    usage_error(base + ["--claim", "n:={bad json"], ["JSON"])
    usage_error(base + ["--kid", "k" * 64], ["--kid"])
    p = run(["token", "--help"])
    assert p.returncode == 0 and "--secret-env" in p.stdout and "7518" in p.stdout, p


def test_help_lists_the_tools():
    p = run(["--help"])
    assert p.returncode == 0, p
    assert "hash-key" in p.stdout and "token" in p.stdout, p.stdout
    assert "history" in p.stdout  # why '-' exists


if __name__ == "__main__":
    gwtest.main(globals())
