#!/usr/bin/env python3
"""The audit log (issue 16, README "Audit log"), against the real binary: admin changes,
reloads (SIGHUP and the admin API), 403s, repeated 401s and API keys from new addresses become
hash-chained JSON lines in the file, in SQLite and in a real PostgreSQL; GET /api/audit filters
and pages them; `gantry audit verify` finds a tampered line; SIGUSR1 reopens the file; a
PostgreSQL that dies is caught up after it comes back while gantry keeps serving."""

import hashlib
import json
import os
import signal
import sqlite3
import urllib.parse

import gwtest
from gwtest import Gantry, Origin, PostgresServer, request

ADMIN_KEY = "audit-admin-secret"
KEY_ID = "sha256:" + hashlib.sha256(ADMIN_KEY.encode()).hexdigest()[:12]
ALICE_KEY = "alice-key-0123456789"
ALICE_HASH = "sha256:" + hashlib.sha256(ALICE_KEY.encode()).hexdigest()
AUTH = {"X-API-Key": ADMIN_KEY}


def _config(o, tmp, **audit):
    cfg = gwtest.simple_config(o, name="open", prefix="/open")
    cfg["log"] = {"access": "off"}
    cfg["services"][0]["strip_prefix"] = True
    cfg["admin"] = {"listen": "127.0.0.1:%d" % gwtest.free_port(), "api_key": ADMIN_KEY}
    cfg["auth"] = {"consumers": [{"id": "alice", "api_keys": ALICE_HASH}]}
    cfg["services"] += [
        {"name": "keyed", "prefix": "/keyed", "targets": [o.target()],
         "auth": {"methods": ["api_key"]}, "strip_prefix": True,
         "circuit_breaker": {"failure_threshold": 3, "open_duration": "1s"}},
        {"name": "walled", "prefix": "/walled", "targets": [o.target()],
         "ip_rules": {"deny": ["127.0.0.2"]}, "strip_prefix": True},
    ]
    a = {"file": os.path.join(tmp, "audit.log"), "unauthorized": {"threshold": 3}}
    a.update(audit)
    cfg["audit"] = a
    return cfg


def _tmp():
    return gwtest._mkdtemp("audit")


def _lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def _admin(g, method, path, body=None):
    return g.admin_request(method, path, headers=AUTH, body=json.dumps(body) if body is not None
                           else None)


def _verify(path):
    return gwtest.run_gantry(["audit", "verify", path])


def _wait_entries(path, n):
    gwtest.wait_until(lambda: os.path.exists(path) and len(_lines(path)) >= n, timeout=10,
                      message="%d audit entries in %s" % (n, path))
    return _lines(path)


def test_admin_changes_and_reloads_are_chained_in_the_file_and_sqlite():
    tmp = _tmp()
    db = os.path.join(tmp, "audit.db")
    with Origin() as o, Gantry(_config(o, tmp, sqlite=db)) as g:
        log = os.path.join(tmp, "audit.log")
        svc = {"name": "extra", "prefix": "/extra", "targets": [o.target()]}
        assert _admin(g, "POST", "/api/services", svc).status == 201
        assert _admin(g, "PATCH", "/api/services/extra", {"strip_prefix": True}).status == 200
        assert _admin(g, "POST", "/api/services/extra/targets",
                      {"url": "http://127.0.0.1:%d" % gwtest.free_port()}).status == 201
        r = _admin(g, "DELETE", "/api/services/extra/targets?url=" + urllib.parse.quote(
            "http://127.0.0.1:%d" % o.port))
        assert r.status == 200, r
        assert _admin(g, "PATCH", "/api/services/nosuch", {"x": 1}).status == 404
        assert _admin(g, "DELETE", "/api/services/extra").status == 200
        assert _admin(g, "POST", "/api/circuits/keyed/reset").status == 200
        assert _admin(g, "POST", "/api/config/reload").status == 200
        g.signal(signal.SIGHUP)
        g.wait_log(r"SIGHUP: reloading", stream="stderr")
        entries = _wait_entries(log, 1)
        gwtest.wait_until(lambda: sum(e["actor"].get("via") == "signal"
                                      for e in _lines(log)) == 1, timeout=10)
        entries = _lines(log)
        changes = [(e["action"], e["object"], e.get("status")) for e in entries
                   if e["action"] != "config.reload"]
        assert changes == [
            ("service.create", "service:extra", 200),
            ("service.patch", "service:extra", 200),
            ("target.add", "service:extra", 200),
            ("target.remove", "service:extra", 200),
            ("service.patch", "service:nosuch", 404),
            ("service.delete", "service:extra", 200),
            ("circuit.reset", "service:keyed", 200),
        ], changes
        for e in entries:
            if e["actor"].get("via") == "admin":
                assert e["actor"] == {"key": KEY_ID, "addr": "127.0.0.1", "via": "admin"}, e
        patch = entries[[e["action"] for e in entries].index("service.patch")]
        assert patch["detail"] == {"changed": ["strip_prefix"]}, patch
        assert patch["before"].startswith("sha256:") and patch["after"] != patch["before"]
        assert "after" not in [e for e in entries if e["action"] == "service.delete"][0]
        reloads = [e for e in entries if e["action"] == "config.reload"]
        # One per change that reached the file (5), the admin reload, SIGHUP.
        assert len(reloads) == 7, reloads
        assert reloads[-1]["actor"] == {"key": "SIGHUP", "via": "signal"}, reloads[-1]
        assert reloads[-2]["actor"]["via"] == "admin"
        assert all(e["detail"]["result"] == "ok" for e in reloads)
        # The chain: numbered from 1, each entry carries the hash of the one before.
        assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
        assert entries[0]["prev"] == "0" * 64
        for a, b in zip(entries, entries[1:]):
            assert b["prev"] == a["hash"]
        out = _verify(log)
        assert out.returncode == 0 and "ok, %d entries" % len(entries) in out.stdout, out
        # The same lines in SQLite.
        con = sqlite3.connect(db)
        rows = con.execute("SELECT seq, action, entry, hash FROM audit_log ORDER BY seq").fetchall()
        assert [r[0] for r in rows] == [e["seq"] for e in entries]
        with open(log) as f:
            assert [r[2] for r in rows] == f.read().splitlines()
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert con.execute("SELECT version FROM gantry_migrations WHERE component = 'audit'"
                           ).fetchall() == [(1,)]
        con.close()
        # A bad reload is recorded as refused.
        cfg = _config(o, tmp, sqlite=db)
        cfg["services"][0]["prefix"] = "no-slash"
        g.write_config(cfg)
        assert _admin(g, "POST", "/api/config/reload").status == 422
        last = _lines(log)[-1]
        assert last["action"] == "config.reload" and last["status"] == 422, last
        assert last["detail"]["result"] == "refused"
    # A restart continues the chain from the file.
    with Origin() as o, Gantry(_config(o, tmp, sqlite=db)) as g:
        n = len(_lines(log))
        assert _admin(g, "POST", "/api/circuits/keyed/reset").status == 200
        entries = _wait_entries(log, n + 1)
        assert entries[-1]["seq"] == n + 1 and entries[-1]["prev"] == entries[-2]["hash"]
    assert _verify(log).returncode == 0


def test_cache_purges_and_registrations_are_audited():
    """A cache purge and a backend registration (create, delete) are admin changes: each one
    is an entry with the admin's actor; a registration's token never appears."""
    tmp = _tmp()
    with Origin() as o:
        cfg = _config(o, tmp)
        cfg["services"][0]["cache"] = {"enabled": True, "ttl": "1h"}
        cfg["registration"] = {"encryption_key": "11" * 32}
        with Gantry(cfg) as g:
            log = os.path.join(tmp, "audit.log")
            r = _admin(g, "POST", "/api/cache/purge", {"prefix": "example/open"})
            assert r.status == 200, r
            assert _admin(g, "POST", "/api/cache/purge", {"all": True}).status == 200
            r = _admin(g, "POST", "/api/registrations",
                       {"name": "reg", "url": o.target()["url"], "prefix": "/reg",
                        "token": "secret-backend-token"})
            assert r.status == 201, r
            rid = json.loads(r.body)["id"]
            assert _admin(g, "DELETE", "/api/registrations/" + rid).status == 200
            entries = _wait_entries(log, 4)
            got = [(e["action"], e["object"], e.get("status")) for e in entries
                   if e["action"] != "config.reload"]
            assert got == [
                ("cache.purge", "cache:prefix", 200),
                ("cache.purge", "cache:all", 200),
                ("registration.create", "registration:" + rid, 201),
                ("registration.delete", "registration:" + rid, 200),
            ], got
            purge = entries[0]
            assert purge["detail"]["prefix"] == "example/open" and "purged" in purge["detail"]
            assert purge["actor"] == {"key": KEY_ID, "addr": "127.0.0.1", "via": "admin"}, purge
            reg = [e for e in entries if e["action"] == "registration.create"][0]
            assert reg["detail"] == {"name": "reg", "prefix": "/reg", "url": o.target()["url"]}, reg
            with open(log) as f:
                assert "secret-backend-token" not in f.read()
            assert _verify(log).returncode == 0


def test_a_file_rotated_while_stopped_continues_the_chain_from_sqlite():
    tmp = _tmp()
    db = os.path.join(tmp, "audit.db")
    log = os.path.join(tmp, "audit.log")
    with Origin() as o:
        with Gantry(_config(o, tmp, sqlite=db)) as g:
            for _ in range(2):
                assert _admin(g, "POST", "/api/circuits/keyed/reset").status == 200
        old = _lines(log)
        os.rename(log, log + ".1")
        with Gantry(_config(o, tmp, sqlite=db)) as g:
            assert _admin(g, "POST", "/api/circuits/keyed/reset").status == 200
            new = _wait_entries(log, 1)
        assert new[0]["seq"] == 3 and new[0]["prev"] == old[-1]["hash"], (old, new)
        con = sqlite3.connect(db)
        assert [r[0] for r in con.execute("SELECT seq FROM audit_log ORDER BY seq")] == [1, 2, 3]
        con.close()


def test_auth_events_403_repeated_401_and_new_addresses():
    tmp = _tmp()
    with Origin() as o, Gantry(_config(o, tmp)) as g:
        log = os.path.join(tmp, "audit.log")
        assert request(g.port, "GET", "/walled/echo", source="127.0.0.2").status == 403
        assert request(g.port, "GET", "/walled/echo").status == 200
        for _ in range(2):
            assert request(g.port, "GET", "/keyed/echo").status == 401
        assert request(g.port, "GET", "/keyed/echo", source="127.0.0.3").status == 401
        # Two from 127.0.0.1 and one from elsewhere: under the threshold of 3.
        entries = _wait_entries(log, 1)
        assert [e["action"] for e in entries] == ["auth.forbidden"], entries
        assert request(g.port, "GET", "/keyed/echo", headers={"X-API-Key": "wrong"}).status == 401
        entries = _wait_entries(log, 2)
        rep = entries[1]
        assert rep["action"] == "auth.unauthorized_repeated", rep
        assert rep["object"] == "client:127.0.0.1" and rep["detail"]["count"] == 3, rep
        forbidden = entries[0]
        assert forbidden["object"] == "route:GET /walled/echo", forbidden
        assert forbidden["actor"] == {"addr": "127.0.0.2", "via": "proxy"}, forbidden
        assert forbidden["detail"]["error"] == "EIPDENIED" and forbidden["status"] == 403
        # alice's key: one entry per new address, none for repeats.
        for src in ("127.0.0.1", "127.0.0.1", "127.0.0.4", "127.0.0.4", "127.0.0.1"):
            r = request(g.port, "GET", "/keyed/echo", headers={"X-API-Key": ALICE_KEY}, source=src)
            assert r.status == 200, r
        entries = _wait_entries(log, 4)
        new = [e for e in _lines(log) if e["action"] == "auth.apikey_new_address"]
        assert [e["detail"]["address"] for e in new] == ["127.0.0.1", "127.0.0.4"], new
        assert all(e["object"] == "consumer:alice" for e in new)
        # The admin API's own 401s count too.
        for _ in range(3):
            assert g.admin_request("GET", "/api/services").status == 401
        gwtest.wait_until(lambda: len(_lines(log)) == 5, timeout=10)
        assert _lines(log)[-1]["detail"]["last_path"] == "admin"
        assert _verify(log).returncode == 0


def _page(g, query):
    r = _admin(g, "GET", "/api/audit?" + query)
    assert r.status == 200, r
    return r.json()


def _check_queries(g, store):
    """GET /api/audit over a log holding 5 circuit resets and one 403, in store."""
    for i in range(5):
        assert _admin(g, "POST", "/api/circuits/keyed/reset").status == 200
    assert request(g.port, "GET", "/walled/echo", source="127.0.0.2").status == 403
    gwtest.wait_until(lambda: len(_page(g, "limit=1000")["entries"]) == 6, timeout=10,
                      message="6 entries in " + store)
    all_ = _page(g, "limit=1000")
    assert all_["source"] == store and all_["next_cursor"] is None
    entries = all_["entries"]
    assert len(entries) == 6 and [e["seq"] for e in entries] == list(range(1, 7))
    # action (exact and prefix), actor (key or address), object
    assert len(_page(g, "action=circuit.reset")["entries"]) == 5
    assert len(_page(g, "action=auth.*")["entries"]) == 1
    assert len(_page(g, "actor=" + KEY_ID)["entries"]) == 5
    assert len(_page(g, "actor=127.0.0.2")["entries"]) == 1
    assert len(_page(g, "object=service:keyed")["entries"]) == 5
    assert len(_page(g, "object=route:*")["entries"]) == 1
    assert _page(g, "action=nothing")["entries"] == []
    # since / until: RFC 3339 or epoch seconds
    t = entries[2]["time"]
    since = _page(g, "since=" + urllib.parse.quote(t))["entries"]
    assert since and all(e["time"] >= t for e in since) and since[0]["seq"] <= 3
    assert _page(g, "until=" + urllib.parse.quote(entries[0]["time"]))["entries"] == []
    assert len(_page(g, "since=0")["entries"]) == 6
    assert _page(g, "since=4102444800")["entries"] == []  # 2100
    # paging: limit + cursor
    seen = []
    cursor = None
    while True:
        q = "limit=2&action=circuit.reset" + ("&cursor=%d" % cursor if cursor else "")
        page = _page(g, q)
        seen += [e["seq"] for e in page["entries"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(page["entries"]) == 2
    assert seen == [e["seq"] for e in entries if e["action"] == "circuit.reset"]
    # bad queries are 400 with the parameter named
    for q, word in (("limit=0", "limit"), ("limit=5000", "limit"), ("since=yesterday",
                    "since"), ("cursor=x", "cursor"), ("colour=red", "colour"),
                    ("action=%zz", "action")):
        r = _admin(g, "GET", "/api/audit?" + q)
        assert r.status == 400 and word in r.json()["error"], (q, r)
    assert g.admin_request("GET", "/api/audit").status == 401


def test_get_api_audit_filters_and_pages():
    tmp = _tmp()
    for store in ("file", "sqlite"):
        extra = {"sqlite": os.path.join(tmp, "q.db")} if store == "sqlite" else {}
        if store == "sqlite":
            os.unlink(os.path.join(tmp, "audit.log"))
        with Origin() as o, Gantry(_config(o, tmp, **extra)) as g:
            _check_queries(g, store)


@gwtest.timeout(180)
def test_get_api_audit_reads_postgres_when_it_is_the_only_store():
    tmp = _tmp()
    with PostgresServer() as pg, Origin() as o:
        cfg = _config(o, tmp, postgres={"dsn": pg.dsn()})
        del cfg["audit"]["file"]
        with Gantry(cfg) as g:
            g.wait_log(r"audit: postgres is up", stream="stderr")
            _check_queries(g, "postgres")
            # the cursor is the row id: a second instance's rows share the table
            pg.query("INSERT INTO audit_log (seq, time, action, entry, hash, prev) VALUES "
                     "(1, now(), 'other.thing', '{\"seq\":1,\"action\":\"other.thing\"}', "
                     "'h-other', 'p')")
            both = _page(g, "limit=1000")["entries"]
            assert [e["action"] for e in both[-2:]] == ["auth.forbidden", "other.thing"], both
            # an entry recorded just before a query is in its answer
            assert _admin(g, "POST", "/api/circuits/keyed/reset").status == 200
            last = _page(g, "action=circuit.reset")["entries"]
            assert len(last) == 6, last
            pg.kill()
            g.wait_log(r"audit: postgres is down", stream="stderr")
            r = _admin(g, "GET", "/api/audit")
            assert r.status == 503 and "postgres" in r.json()["error"], r
            assert request(g.port, "GET", "/open/echo").status == 200


def test_no_audit_section_no_endpoint_data_and_no_file():
    with Origin() as o, Gantry(gwtest.simple_config(o)) as g:
        r = g.admin_request("GET", "/api/audit")
        assert r.status == 404 and "audit.file" in r.json()["error"], r
        assert request(g.port, "GET", "/echo").status == 200


def test_a_tampered_file_is_detected_by_audit_verify():
    tmp = _tmp()
    with Origin() as o, Gantry(_config(o, tmp)) as g:
        for i in range(4):
            assert _admin(g, "POST", "/api/circuits/keyed/reset").status == 200
        log = os.path.join(tmp, "audit.log")
        _wait_entries(log, 4)
    with open(log) as f:
        good = f.read().splitlines(keepends=True)
    out = _verify(log)
    assert out.returncode == 0 and "ok, 4 entries (seq 1 to 4)" in out.stdout, out

    def check(lines, lineno, why):
        bad = os.path.join(tmp, "bad.log")
        with open(bad, "w") as f:
            f.writelines(lines)
        out = _verify(bad)
        assert out.returncode == 1, out
        assert "BROKEN at line %d" % lineno in out.stdout and why in out.stdout, out

    changed = list(good)
    changed[2] = changed[2].replace('"circuit.reset"', '"circuit.resex"')
    check(changed, 3, "does not match its hash")
    # A changed entry whose hash was recomputed breaks the link of the next one.
    e = json.loads(good[1])
    e["actor"]["addr"] = "10.9.9.9"
    body = json.dumps(e, separators=(",", ":"))
    prefix = body[: body.index(',"hash":')]
    forged = prefix + ',"hash":"%s"}\n' % hashlib.sha256(prefix.encode()).hexdigest()
    check([good[0], forged] + good[2:], 3, "chain is broken")
    check([good[0]] + good[2:], 2, "chain is broken")  # a line removed
    check(good[:3] + [good[3].rstrip("\n")], 4, "no newline")
    check(good[:1] + ["not json\n"] + good[1:], 2, "not an audit entry")
    assert gwtest.run_gantry(["audit", "verify"]).returncode == 2
    assert "audit verify" in gwtest.run_gantry(["--help"]).stdout


def test_sigusr1_reopens_the_file_and_the_chain_continues():
    tmp = _tmp()
    with Origin() as o, Gantry(_config(o, tmp)) as g:
        log = os.path.join(tmp, "audit.log")
        assert _admin(g, "POST", "/api/circuits/keyed/reset").status == 200
        _wait_entries(log, 1)
        os.rename(log, log + ".1")  # what logrotate does
        assert _admin(g, "POST", "/api/circuits/keyed/reset").status == 200
        assert len(_lines(log + ".1")) == 2  # still the open file
        g.signal(signal.SIGUSR1)
        g.wait_log(r"audit: reopened", stream="stderr")
        assert _admin(g, "POST", "/api/circuits/keyed/reset").status == 200
        new = _wait_entries(log, 1)
        old = _lines(log + ".1")
        assert new[0]["seq"] == 3 and new[0]["prev"] == old[-1]["hash"], (old, new)
    out = _verify(log)
    assert out.returncode == 0 and ("anchor " + old[-1]["hash"]) in out.stdout, out
    both = os.path.join(tmp, "both.log")
    with open(both, "w") as f, open(log + ".1") as a, open(log) as b:
        f.write(a.read() + b.read())
    assert _verify(both).returncode == 0


def _pg_rows(pg):
    try:
        return pg.query("SELECT seq, hash FROM audit_log ORDER BY seq")
    except gwtest.HarnessError:
        return []


def _metric(g, name):
    r = _admin(g, "GET", "/metrics")
    for line in r.body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


@gwtest.timeout(180)
def test_postgres_receives_entries_and_catches_up_after_it_was_killed():
    tmp = _tmp()
    with PostgresServer() as pg, Origin() as o:
        cfg = _config(o, tmp, postgres={"dsn": pg.dsn()})
        with Gantry(cfg) as g:
            log = os.path.join(tmp, "audit.log")
            g.wait_log(r"audit: postgres is up", stream="stderr")
            for _ in range(3):
                assert _admin(g, "POST", "/api/circuits/keyed/reset").status == 200
            gwtest.wait_until(lambda: len(_pg_rows(pg)) == 3, timeout=20)
            assert [r[1] for r in _pg_rows(pg)] == [e["hash"] for e in _lines(log)]
            assert _metric(g, "gantry_audit_postgres_up") == 1
            pg.kill()
            # gantry keeps serving and recording while PostgreSQL is gone
            for _ in range(4):
                assert _admin(g, "POST", "/api/circuits/keyed/reset").status == 200
                assert request(g.port, "GET", "/open/echo").status == 200
            assert len(_lines(log)) == 7
            g.wait_log(r"audit: postgres is down", stream="stderr")
            gwtest.wait_until(lambda: _metric(g, "gantry_audit_postgres_pending") == 4,
                              timeout=20)
            assert _metric(g, "gantry_audit_postgres_up") == 0
            pg.start()
            gwtest.wait_until(lambda: len(_pg_rows(pg)) == 7, timeout=30)
            assert [r[1] for r in _pg_rows(pg)] == [e["hash"] for e in _lines(log)]
            assert [int(r[0]) for r in _pg_rows(pg)] == list(range(1, 8))
            gwtest.wait_until(lambda: _metric(g, "gantry_audit_postgres_pending") == 0,
                              timeout=10)
            assert _metric(g, "gantry_audit_postgres_up") == 1
            assert _metric(g, "gantry_audit_postgres_written_total") == 7
            text = g.stderr()
            assert text.count("audit: postgres is down") == 1, text
            assert text.count("audit: postgres is up") == 2, text
            entry = pg.query("SELECT entry FROM audit_log WHERE seq = 5")[0][0]
            with open(log) as f:
                assert entry == f.read().splitlines()[4]
            assert pg.query("SELECT version FROM gantry_migrations") == [["1"]]


if __name__ == "__main__":
    gwtest.main(globals())
