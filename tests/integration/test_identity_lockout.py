#!/usr/bin/env python3
"""The lockout after repeated failed logins (identity.lockout; README "Built-in identity",
docs/internals.md "the lockout"). With the PostgreSQL store it is shared by every gantry instance
on the database: two failures on instance A and one on instance B lock the account on both, an
unknown login the same way (the same answers), the lockout's audit entry is written once (by the
instance whose failure started it), it ends after identity.lockout.duration on both, and the
admin API's unlock on one instance ends it on the other at once. With the SQLite store
(embedded) the lockout stays in-process, and the admin API unlocks it too.
"""

import json
import os

import gwtest
from gwtest import Gantry, Origin, PostgresServer, request

SECRET = "identity-lockout-test-secret-0123456789"
PASSWORD = "correct horse battery"
ADMIN_KEY = "lockout-admin-key-0123456789"


def config(origin, tmp, name, pg=None):
    ident = {
        "jwt": {"kid": "id1", "secret": SECRET},
        "password": {"opslimit": 1, "memlimit": "8KiB", "min_length": 10},
        "register": {"mode": "open"},
        # Three failures lock for four seconds: long enough for the checks made while it holds
        # (on a loaded machine), short enough to wait out.
        "lockout": {"max_failures": 3, "max_address_failures": 1000, "window": "1m",
                    "duration": "4s"},
    }
    if pg is not None:
        ident["store"] = "postgres"
        ident["postgres"] = {"dsn": pg.dsn(), "pool": 2, "timeout": "2s"}
    else:
        ident["sqlite"] = os.path.join(tmp, "identity.db")
    cfg = gwtest.simple_config(origin, prefix="/api", identity=ident,
                               audit={"file": os.path.join(tmp, name + "-audit.log")})
    cfg["admin"] = {"listen": "127.0.0.1:%d" % gwtest.free_port(), "api_key": ADMIN_KEY}
    return cfg


def post(g, path, body):
    return request(g.port, "POST", path, headers={"Content-Type": "application/json"},
                   body=json.dumps(body))


def admin(g, method, path):
    return request(g.admin_port, method, path, headers={"X-API-Key": ADMIN_KEY})


def login(g, name, password=PASSWORD):
    return post(g, "/auth/login", {"login": name, "password": password})


def audit(tmp, name):
    path = os.path.join(tmp, name + "-audit.log")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def count(entries, action, obj):
    return len([e for e in entries if e["action"] == action and e["object"] == obj])


@gwtest.timeout(180)
def test_lockout_is_shared_by_instances_on_postgres():
    tmp = gwtest._mkdtemp("idlock")
    with PostgresServer() as pg, Origin() as o:
        a = Gantry(config(o, tmp, "a", pg))
        b = Gantry(config(o, tmp, "b", pg))
        try:
            r = post(a, "/auth/register", {"username": "alice", "email": "alice@example.com",
                                           "password": PASSWORD})
            assert r.status == 201, r
            # Two failures on A, the third on B: each instance saw fewer than three.
            assert login(a, "alice", "wrong-password-1").status == 401
            assert login(a, "alice", "wrong-password-2").status == 401
            assert login(b, "alice", "wrong-password-3").status == 401
            for g in (a, b):
                r = login(g, "alice")  # even the right password waits, on both instances
                assert r.status == 429, r
                assert 1 <= int(r.header("Retry-After")) <= 4, r
            # The admin API of either instance shows the lockout.
            r = admin(b, "GET", "/api/identity/users/alice")
            assert r.status == 200 and r.json()["locked_for"] >= 1, r
            # An unknown login is counted and answered alike: nothing tells them apart.
            answers = [login(g, "nobody", "wrong-password").status for g in (b, a, b)]
            assert answers == [401, 401, 401], answers
            r = login(a, "nobody", "wrong-password")
            assert r.status == 429, r

            # The lockout's audit entry: once, by the instance whose failure started it. A
            # failed login of another user on each instance afterwards marks where both are.
            assert login(a, "zed", "wrong-password").status == 401
            assert login(b, "zed", "wrong-password").status == 401
            gwtest.wait_until(lambda: all(count(audit(tmp, n), "identity.login_failed",
                                                "user:zed") == 1 for n in ("a", "b")),
                              message="both instances' audit entries written")
            ea, eb = audit(tmp, "a"), audit(tmp, "b")
            assert count(ea, "identity.lockout", "user:alice") == 0, ea
            assert count(eb, "identity.lockout", "user:alice") == 1, eb
            assert count(ea + eb, "identity.lockout", "user:nobody") == 1

            # The lockout ends after its duration, on both instances (the database's clock).
            gwtest.wait_until(lambda: login(b, "alice").status == 200, 15,
                              message="the lockout ended on B")
            assert login(a, "alice").status == 200
            # Counting starts again from nothing: two failures do not lock.
            assert login(b, "alice", "wrong-password-4").status == 401
            assert login(a, "alice", "wrong-password-5").status == 401
            assert login(a, "alice").status == 200  # a success forgets the failures
            assert login(a, "alice", "wrong-password-6").status == 401
            assert login(b, "alice", "wrong-password-7").status == 401
            assert login(b, "alice").status == 200

            # Locked again (by email this time); the admin API on A unlocks it for B at once.
            for g in (a, b, a):
                assert login(g, "alice@example.com", "wrong-password-8").status == 401
            assert login(b, "alice@example.com").status == 429
            r = request(a.admin_port, "POST", "/api/identity/users/alice/unlock",
                        headers={"X-API-Key": ADMIN_KEY})
            assert r.status == 200, r
            assert r.json()["was_locked"] is True and r.json()["unlocked"] is True, r.body
            r = login(b, "alice@example.com")
            assert r.status == 200, r
            assert admin(a, "GET", "/api/identity/users/alice").json()["locked_for"] == 0
            gwtest.wait_until(lambda: count(audit(tmp, "a"), "identity.user_unlock",
                                            "user:alice") == 1, message="unlock audited")
            # The lockout's rows: hashed keys, never a login in clear.
            rows = pg.query("SELECT key FROM idp_lockout")
            assert all(len(k[0]) == 64 and "alice" not in k[0] for k in rows), rows
        finally:
            a.__exit__(None, None, None)
            b.__exit__(None, None, None)


@gwtest.timeout(120)
def test_sqlite_lockout_in_process_and_admin_unlock():
    tmp = gwtest._mkdtemp("idlock")
    with Origin() as o, Gantry(config(o, tmp, "s")) as g:
        r = post(g, "/auth/register", {"username": "bob", "email": "bob@example.com",
                                       "password": PASSWORD})
        assert r.status == 201, r
        for i in range(3):
            assert login(g, "bob", "wrong-password-%d" % i).status == 401
        assert login(g, "bob").status == 429
        assert admin(g, "GET", "/api/identity/users/bob").json()["locked_for"] >= 1
        r = request(g.admin_port, "POST", "/api/identity/users/bob/unlock",
                    headers={"X-API-Key": ADMIN_KEY})
        assert r.status == 200 and r.json()["was_locked"] is True, r
        assert login(g, "bob").status == 200
        # Locked again; it ends by itself after the duration.
        for i in range(3):
            assert login(g, "bob", "wrong-password-%d" % i).status == 401
        assert login(g, "bob").status == 429
        gwtest.wait_until(lambda: login(g, "bob").status == 200, 15,
                          message="the lockout ended")
        r = request(g.admin_port, "POST", "/api/identity/users/nobody/unlock",
                    headers={"X-API-Key": ADMIN_KEY})
        assert r.status == 404, r
        gwtest.wait_until(lambda: count(audit(tmp, "s"), "identity.lockout", "user:bob") == 2,
                          message="two lockouts audited")


def username_and_email_are_one_account(g):
    r = post(g, "/auth/register", {"username": "dave", "email": "dave@example.com",
                                   "password": PASSWORD})
    assert r.status == 201, r
    # Two failures by name, one by email: three for the account, which is locked however it is
    # named.
    assert login(g, "dave", "wrong-password-1").status == 401
    assert login(g, "Dave@Example.com", "wrong-password-2").status == 401
    assert login(g, "DAVE", "wrong-password-3").status == 401
    for name in ("dave", "dave@example.com"):
        r = login(g, name)
        assert r.status == 429, (name, r)
    # An unknown login counts as typed (it has no account), and locks alike.
    for i in range(3):
        assert login(g, "ghost", "wrong-password-%d" % i).status == 401
    assert login(g, "ghost", "wrong-password").status == 429
    assert login(g, "ghost@example.com", "wrong-password").status == 401


@gwtest.timeout(120)
def test_sqlite_lockout_counts_per_account_not_per_spelling():
    tmp = gwtest._mkdtemp("idlock")
    with Origin() as o, Gantry(config(o, tmp, "s")) as g:
        username_and_email_are_one_account(g)
        gwtest.wait_until(lambda: count(audit(tmp, "s"), "identity.lockout", "user:dave") == 1,
                          message="the account's lockout audited under its username")


@gwtest.timeout(180)
def test_postgres_lockout_counts_per_account_not_per_spelling():
    tmp = gwtest._mkdtemp("idlock")
    with PostgresServer() as pg, Origin() as o, Gantry(config(o, tmp, "p", pg)) as g:
        username_and_email_are_one_account(g)


def concurrent_guesses_checked_at_most_max(g):
    """Six wrong guesses at once with max_failures 3: each attempt is counted before its password
    is checked, so no more than three are checked (401); the others wait (429)."""
    import threading
    r = post(g, "/auth/register", {"username": "olga", "email": "olga@example.com",
                                   "password": PASSWORD})
    assert r.status == 201, r
    out = []
    def guess(i):
        out.append(login(g, "olga", "wrong-password-%d" % i).status)
    ts = [threading.Thread(target=guess, args=(i,)) for i in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(out) == [401, 401, 401, 429, 429, 429], out
    # A right password after the reservation released: a success is not a failure.
    r = post(g, "/auth/register", {"username": "pete", "email": "pete@example.com",
                                   "password": PASSWORD})
    assert r.status == 201, r
    assert login(g, "pete", "wrong-password-1").status == 401
    assert login(g, "pete", "wrong-password-2").status == 401
    assert login(g, "pete").status == 200  # the third attempt, reserved, then released
    assert login(g, "pete", "wrong-password-3").status == 401
    assert login(g, "pete").status == 200


def slow_hash_config(o, tmp, name, pg=None):
    cfg = config(o, tmp, name, pg)
    # A real argon2id cost: the guesses overlap while their passwords are checked.
    cfg["identity"]["password"] = {"opslimit": 2, "memlimit": "32MiB", "min_length": 10}
    return cfg


@gwtest.timeout(180)
def test_sqlite_concurrent_guesses_do_not_overshoot_max_failures():
    tmp = gwtest._mkdtemp("idlock")
    with Origin() as o, Gantry(slow_hash_config(o, tmp, "s")) as g:
        concurrent_guesses_checked_at_most_max(g)


@gwtest.timeout(180)
def test_postgres_concurrent_guesses_do_not_overshoot_max_failures():
    tmp = gwtest._mkdtemp("idlock")
    with PostgresServer() as pg, Origin() as o, Gantry(slow_hash_config(o, tmp, "p", pg)) as g:
        concurrent_guesses_checked_at_most_max(g)


if __name__ == "__main__":
    gwtest.main(globals())
