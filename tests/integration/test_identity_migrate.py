#!/usr/bin/env python3
"""`gantry migrate` (README "Built-in identity", docs/config.md identity.migrate) against a real
SQLite file and a real PostgreSQL (initdb in a temp dir): --status and --dry-run list the applied
and pending versions and change nothing (no file created), the run applies and prints them, a
second run has nothing to do; the exit statuses (0, 1 unreachable, 2 usage or no identity
section, 3 --status with pending); identity.migrate off refuses a start while a migration is
pending, with the versions and the command in the log, and starts once it ran; concurrent runs
apply each version once (the lock a start takes); DATABASE_URL names the database.
"""

import json
import os
import re
import sqlite3
import threading

import gwtest
from gwtest import Gantry, Origin, PostgresServer, request, run_gantry

SECRET = "identity-migrate-test-secret-0123456789"
PASSWORD = "correct horse battery"
SQLITE_VERSIONS = 6
PG_VERSIONS = 3


def config(origin, pg=None, db=None, **identity):
    ident = {
        "jwt": {"kid": "id1", "secret": SECRET},
        "password": {"opslimit": 1, "memlimit": "8KiB", "min_length": 10},
        "register": {"mode": "open"},
    }
    if pg is not None:
        ident["store"] = "postgres"
        ident["postgres"] = {"dsn": pg.dsn(), "pool": 2, "timeout": "2s"}
    else:
        ident["sqlite"] = db
    ident.update(identity)
    return gwtest.simple_config(origin, prefix="/api", identity=ident)


def write(tmp, cfg, name="gantry.json"):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def migrate(path, *flags, env=None):
    return run_gantry(["migrate", "-c", path] + list(flags), timeout=60, env=env)


def versions(text):
    """{version: "applied" | "pending"} from the listing."""
    return {int(m.group(1)): m.group(2)
            for m in re.finditer(r"^\s+(\d+)\s+(applied|pending)", text, re.M)}


def refused_start(cfg):
    """Starts gantry with cfg, expecting it to exit non-zero: its stderr."""
    g = Gantry(cfg, wait_ready=False)
    try:
        g.proc.wait(timeout=30)
        assert g.proc.returncode == 1, g.logs()
        err = g.stderr()
        assert "Sanitizer" not in err, err
        return err
    finally:
        g.stop(check=False)


def register(g, name):
    return request(g.port, "POST", "/auth/register", headers={"Content-Type": "application/json"},
                   body=json.dumps({"username": name, "email": name + "@example.com",
                                    "password": PASSWORD}))


@gwtest.timeout(180)
def test_sqlite_status_dry_run_apply_and_migrate_off():
    tmp = gwtest._mkdtemp("idmigrate")
    db = os.path.join(tmp, "identity.db")
    with Origin() as o:
        path = write(tmp, config(o, db=db, migrate="off"))
        r = migrate(path, "--status")
        assert r.returncode == 3, (r.stdout, r.stderr)
        assert "does not exist yet" in r.stdout, r.stdout
        assert versions(r.stdout) == {v: "pending" for v in range(1, SQLITE_VERSIONS + 1)}
        r = migrate(path, "--dry-run")
        assert r.returncode == 0 and "would apply %d migrations" % SQLITE_VERSIONS in r.stdout, r
        assert not os.path.exists(db)  # neither created the file

        # migrate off: a start without the database, or with migrations pending, is refused,
        # saying what to run (and the file is not created).
        err = refused_start(config(o, db=db, migrate="off"))
        assert re.search(r"identity.db does not exist and migrations at start are off: run "
                         r"`gantry migrate", err), err
        assert not os.path.exists(db)
        con = sqlite3.connect(db)  # an empty database: at version 0
        con.execute("CREATE TABLE unrelated (x INTEGER)")
        con.commit()
        con.close()
        err = refused_start(config(o, db=db, migrate="off"))
        assert re.search(r"identity schema version 0, this gantry needs %d \(%d migrations "
                         r"pending\).*gantry migrate" % (SQLITE_VERSIONS, SQLITE_VERSIONS), err), err

        r = migrate(path)
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert "applied %d migrations: version 0 -> %d" % (SQLITE_VERSIONS, SQLITE_VERSIONS) \
            in r.stdout, r.stdout
        assert versions(r.stdout) == {v: "applied" for v in range(1, SQLITE_VERSIONS + 1)}
        r = migrate(path)
        assert r.returncode == 0 and "up to date: version %d" % SQLITE_VERSIONS in r.stdout, r
        r = migrate(path, "--status")
        assert r.returncode == 0, r

        # Now the start goes on, with migrate off, and the store works.
        with Gantry(config(o, db=db, migrate="off")) as g:
            assert register(g, "alice").status == 201

        # A database one version behind (its last row removed, as an older gantry left it):
        # --status says which; migrate off refuses; gantry migrate applies just that one, the
        # users kept; a deleted user's id is not reused afterwards.
        con = sqlite3.connect(db)
        con.execute("DELETE FROM gantry_migrations WHERE component = 'identity' AND version = ?",
                    (SQLITE_VERSIONS,))
        con.execute("DROP TABLE idp_revoked")
        con.commit()
        con.close()
        r = migrate(path, "--status")
        assert r.returncode == 3, r
        assert versions(r.stdout)[SQLITE_VERSIONS] == "pending", r.stdout
        assert "1 migration pending: version %d -> %d" % (SQLITE_VERSIONS - 1, SQLITE_VERSIONS) \
            in r.stdout, r.stdout
        err = refused_start(config(o, db=db, migrate="off"))
        assert "(1 migration pending)" in err, err
        r = migrate(path)
        assert r.returncode == 0, r
        assert "applied 1 migration: version %d -> %d" % (SQLITE_VERSIONS - 1, SQLITE_VERSIONS) \
            in r.stdout, r.stdout
        con = sqlite3.connect(db)
        assert con.execute("SELECT username FROM idp_users").fetchall() == [("alice",)]
        con.close()

        # migrate auto (the default): the start applies what is pending itself.
        os.unlink(db)
        with Gantry(config(o, db=db)) as g:
            assert register(g, "bob").status == 201
        r = migrate(path, "--status")
        assert r.returncode == 0 and "up to date" in r.stdout, r


@gwtest.timeout(120)
def test_usage_and_exit_statuses():
    tmp = gwtest._mkdtemp("idmigrate")
    with Origin() as o:
        path = write(tmp, config(o, db=os.path.join(tmp, "identity.db")))
        assert migrate(path, "--bogus").returncode == 2
        assert migrate(path, "--status", "--dry-run").returncode == 2
        r = run_gantry(["migrate", "--help"])
        assert r.returncode == 0 and "--status" in r.stdout and "Exit status" in r.stdout
        bare = write(tmp, gwtest.simple_config(o), "bare.json")
        r = migrate(bare)
        assert r.returncode == 2 and "no identity section" in r.stderr, r
        bad = write(tmp, config(o, db=os.path.join(tmp, "identity.db"), migrate="sometimes"),
                    "bad.json")
        r = migrate(bad)
        assert r.returncode == 2 and "identity.migrate" in r.stderr, r
        # A file that cannot be created: 1, and the log line says why.
        nodir = write(tmp, config(o, db="/nonexistent-dir/x/identity.db"), "nodir.json")
        r = migrate(nodir)
        assert r.returncode == 1 and "cannot open" in r.stderr, r
        r = run_gantry(["--help"])
        assert "gantry migrate" in r.stdout


@gwtest.timeout(120)
def test_concurrent_sqlite_runs_apply_each_version_once():
    tmp = gwtest._mkdtemp("idmigrate")
    with Origin() as o:
        for i in range(3):
            db = os.path.join(tmp, "identity-%d.db" % i)
            path = write(tmp, config(o, db=db), "g%d.json" % i)
            results = []
            ts = [threading.Thread(target=lambda: results.append(migrate(path)))
                  for _ in range(3)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            assert all(r.returncode == 0 for r in results), [(r.stdout, r.stderr)
                                                             for r in results]
            con = sqlite3.connect(db)
            rows = con.execute("SELECT version FROM gantry_migrations WHERE component = "
                               "'identity' ORDER BY version").fetchall()
            con.close()
            assert rows == [(v,) for v in range(1, SQLITE_VERSIONS + 1)], rows


@gwtest.timeout(180)
def test_postgres_status_apply_concurrent_and_migrate_off():
    tmp = gwtest._mkdtemp("idmigrate")
    with PostgresServer() as pg, Origin() as o:
        path = write(tmp, config(o, pg, migrate="off"))
        r = migrate(path, "--status")
        assert r.returncode == 3, (r.stdout, r.stderr)
        assert versions(r.stdout) == {v: "pending" for v in range(1, PG_VERSIONS + 1)}, r.stdout
        r = migrate(path, "--dry-run")
        assert r.returncode == 0, r
        assert pg.query("SELECT to_regclass('gantry_migrations') IS NULL") == [["t"]]

        err = refused_start(config(o, pg, migrate="off"))
        assert re.search(r"identity schema is at version 0, this gantry needs %d .*"
                         r"identity.migrate is off: run `gantry migrate" % PG_VERSIONS, err), err

        # Three runs at once (and a start with migrate auto among them): each version once.
        results = []
        ts = [threading.Thread(target=lambda: results.append(migrate(path))) for _ in range(3)]
        for t in ts:
            t.start()
        with Gantry(config(o, pg)) as g:
            assert register(g, "carol").status == 201
        for t in ts:
            t.join()
        assert all(r.returncode == 0 for r in results), [(r.stdout, r.stderr) for r in results]
        assert pg.query("SELECT version FROM gantry_migrations WHERE component = 'identity' "
                        "ORDER BY version") == [[str(v)] for v in range(1, PG_VERSIONS + 1)]
        r = migrate(path, "--status")
        assert r.returncode == 0 and "up to date: version %d" % PG_VERSIONS in r.stdout, r
        assert versions(r.stdout) == {v: "applied" for v in range(1, PG_VERSIONS + 1)}

        # One version behind: --status names it, migrate off refuses, migrate applies it.
        pg.query("DELETE FROM gantry_migrations WHERE component = 'identity' AND version = %d; "
                 "DROP TABLE idp_revoked" % PG_VERSIONS)
        r = migrate(path, "--status")
        assert r.returncode == 3 and versions(r.stdout)[PG_VERSIONS] == "pending", r.stdout
        err = refused_start(config(o, pg, migrate="off"))
        assert "(1 migration pending)" in err, err
        # The DSN from DATABASE_URL (no postgres.dsn in the file).
        cfg = config(o, pg, migrate="off")
        del cfg["identity"]["postgres"]["dsn"]
        envpath = write(tmp, cfg, "env.json")
        r = migrate(envpath, env={"DATABASE_URL": "postgresql://postgres@127.0.0.1:%d/postgres"
                                                  % pg.port})
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert "applied 1 migration: version %d -> %d" % (PG_VERSIONS - 1, PG_VERSIONS) \
            in r.stdout, r.stdout
        with Gantry(config(o, pg, migrate="off")) as g:
            r = request(g.port, "POST", "/auth/login", headers={"Content-Type":
                                                                "application/json"},
                        body=json.dumps({"login": "carol", "password": PASSWORD}))
            assert r.status == 200, r

        # A database a newer gantry migrated: refused by a start and by gantry migrate.
        pg.query("INSERT INTO gantry_migrations (component, version) VALUES ('identity', 99)")
        err = refused_start(config(o, pg))
        assert "identity schema is at version 99, this gantry knows %d" % PG_VERSIONS in err, err
        r = migrate(path, "--status")
        assert r.returncode == 1 and "version 99" in r.stderr, (r.stdout, r.stderr)
        r = migrate(path)
        assert r.returncode == 1, (r.stdout, r.stderr)
        pg.query("DELETE FROM gantry_migrations WHERE version = 99")

        pg.kill()
        r = migrate(path)
        assert r.returncode == 1 and "cannot connect" in r.stderr, r


if __name__ == "__main__":
    gwtest.main(globals())
