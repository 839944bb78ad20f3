#!/usr/bin/env python3
"""The admin API's identity calls run on libuv's thread pool, never on the control loop
(README "Built-in identity", docs/internals.md "Built-in identity: PostgreSQL off the loops"),
against a real PostgreSQL (initdb in a temp dir):

- a statement made slow (the test holds an ACCESS EXCLUSIVE lock on idp_users): while an admin
  identity call waits for it, the same admin listener answers GET /metrics, GET /gateway/status
  and a config reload; once the lock goes the call answers 200, and its audit entry carries the
  admin key and address of its own request (not of the requests served meanwhile);
- PostgreSQL silent (every process of the cluster stopped with SIGSTOP): the call waits for
  identity.postgres.timeout while the listener answers, then gets its 503, and the log says
  PostgreSQL is down;
- gantry stopped (SIGTERM) while a call waits: the exit waits for the call's work, which still
  happens and is audited; exit status 0 and no sanitizer report (no use after free, no leak).

The ordering is proven with readiness checks: the call is known to be in flight (PostgreSQL
shows its statement waiting for the lock, or its bytes unread in a stopped backend's socket)
before the other requests are sent, and known to be still in flight (the lock is still held)
after they were answered.
"""

import json
import os
import signal
import subprocess
import threading

import gwtest
from gwtest import Gantry, Origin, PostgresServer, request
from test_identity_postgres import ADMIN_KEY, DOWN, config, register

AUTH = {"X-API-Key": ADMIN_KEY}


def with_audit(cfg, tmp):
    cfg["audit"] = {"file": os.path.join(tmp, "audit.log")}
    return cfg


def audit_entries(tmp):
    path = os.path.join(tmp, "audit.log")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


class Locker:
    """A psql session holding an ACCESS EXCLUSIVE lock on a table until release()."""

    def __init__(self, pg, table):
        self.p = subprocess.Popen(
            [os.path.join(pg.bindir, "psql"), "-h", "127.0.0.1", "-p", str(pg.port), "-U",
             "postgres", "-d", "postgres", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.p.stdin.write("BEGIN;\nLOCK TABLE %s IN ACCESS EXCLUSIVE MODE;\nSELECT 'locked';\n"
                           % table)
        self.p.stdin.flush()
        line = self.p.stdout.readline().strip()
        assert line == "locked", (line, self.p.stderr.read() if self.p.poll() is not None else "")

    def release(self):
        if self.p.poll() is None:
            self.p.stdin.write("COMMIT;\n")
            self.p.stdin.close()
            self.p.wait(10)


def waiting_for_lock(pg):
    rows = pg.query("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE '%idp_users%' AND pid <> pg_backend_pid()")
    return int(rows[0][0]) > 0


class Call(threading.Thread):
    """One admin request in a thread: .resp once answered, .error when the connection failed."""

    def __init__(self, g, method, path):
        super().__init__(daemon=True)
        self.g, self.method, self.path = g, method, path
        self.resp = self.error = None
        self.start()

    def run(self):
        try:
            self.resp = request(self.g.admin_port, self.method, self.path, headers=AUTH,
                                timeout=60)
        except Exception as e:  # the connection closed without an answer
            self.error = e


def listener_answers(g):
    """Other admin endpoints answer: the metrics scrape, the status, a reload."""
    r = request(g.admin_port, "GET", "/metrics", headers=AUTH)
    assert r.status == 200 and b"gantry_" in r.body, r
    r = request(g.admin_port, "GET", "/gateway/status", headers=AUTH)
    assert r.status == 200, r
    r = request(g.admin_port, "POST", "/api/config/reload", headers=AUTH)
    assert r.status == 200, r


@gwtest.timeout(180)
def test_slow_statement_leaves_the_admin_listener_answering():
    with PostgresServer() as pg, Origin() as o:
        tmp = gwtest._mkdtemp("idp-admin-pool")
        cfg = with_audit(config(o, pg), tmp)
        cfg["identity"]["postgres"]["timeout"] = "60s"  # the lock, not the timeout, decides
        g = Gantry(cfg)
        locker = None
        try:
            assert register(g, "alice").status == 201
            locker = Locker(pg, "idp_users")
            call = Call(g, "POST", "/api/identity/users/alice/disable")
            gwtest.wait_until(lambda: waiting_for_lock(pg), 20,
                              message="the admin call's statement waiting for the lock")

            listener_answers(g)
            # The call is still in flight: its statement still waits for the lock the test holds.
            assert call.resp is None and call.error is None
            assert waiting_for_lock(pg)

            locker.release()
            call.join(60)
            assert call.resp is not None, call.error
            assert call.resp.status == 200, call.resp
            assert call.resp.json()["disabled"] is True
            assert pg.query("SELECT disabled FROM idp_users WHERE username = 'alice'") == [["1"]]

            # The entry's actor is the disable request's, written after the others were served.
            gwtest.wait_until(lambda: any(e["action"] == "identity.user_disable"
                                          for e in audit_entries(tmp)), 10,
                              message="the disable's audit entry")
            e = [e for e in audit_entries(tmp) if e["action"] == "identity.user_disable"][0]
            assert e["object"] == "user:alice" and e["status"] == 200, e
            assert e["actor"]["via"] == "admin", e
            assert e["actor"]["key"].startswith("sha256:"), e
            assert e["actor"]["addr"] == "127.0.0.1", e
        finally:
            if locker:
                locker.release()
            g.__exit__(None, None, None)


def cluster_pids(pg):
    return [pg.pid] + pg._children()


def unread_bytes_at(port):
    """True when a TCP socket on local port holds received bytes not read yet (a stopped
    backend's query, or a connection in a stopped postmaster's accept queue)."""
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, queues = fields[1], fields[4]
            if int(local.rsplit(":", 1)[1], 16) == port and int(queues.split(":")[1], 16) > 0:
                return True
    return False


@gwtest.timeout(180)
def test_silent_postgres_answers_503_and_the_listener_meanwhile():
    with PostgresServer() as pg, Origin() as o:
        cfg = config(o, pg)
        cfg["identity"]["postgres"]["timeout"] = "8s"
        g = Gantry(cfg)
        stopped = []
        try:
            assert register(g, "bob").status == 201
            assert not unread_bytes_at(pg.port)
            for pid in cluster_pids(pg):
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
            call = Call(g, "GET", "/api/identity/users/bob")
            gwtest.wait_until(lambda: unread_bytes_at(pg.port), 20,
                              message="the admin call's bytes waiting in PostgreSQL's socket")
            listener_answers(g)
            assert call.resp is None and call.error is None  # it waits for the timeout

            call.join(60)
            assert call.resp is not None, call.error
            assert call.resp.status == 503, call.resp
            assert "identity store unavailable" in call.resp.json()["error"]
            gwtest.wait_until(lambda: DOWN.search(g.stderr()), 5, message="down logged")
        finally:
            for pid in stopped:
                os.kill(pid, signal.SIGCONT)
            g.__exit__(None, None, None)


@gwtest.timeout(180)
def test_stop_waits_for_the_call_in_flight():
    with PostgresServer() as pg, Origin() as o:
        tmp = gwtest._mkdtemp("idp-admin-pool")
        cfg = with_audit(config(o, pg), tmp)
        cfg["identity"]["postgres"]["timeout"] = "60s"
        g = Gantry(cfg)
        locker = None
        try:
            assert register(g, "carol").status == 201
            locker = Locker(pg, "idp_users")
            call = Call(g, "POST", "/api/identity/users/carol/disable")
            gwtest.wait_until(lambda: waiting_for_lock(pg), 20,
                              message="the admin call's statement waiting for the lock")
            g.signal(signal.SIGTERM)
            # The admin listener closes its connections first: the call's client is dropped
            # while its work still waits for the lock.
            call.join(30)
            assert not call.is_alive() and call.resp is None, call.resp
            assert g.proc.poll() is None  # waiting for the work
            assert waiting_for_lock(pg)
            locker.release()
            assert g.wait_exit(30) == 0
            g.check_exit()  # no sanitizer report: no use after free, nothing leaked
            # The work happened, and was audited before the audit log closed.
            assert pg.query("SELECT disabled FROM idp_users WHERE username = 'carol'") == [["1"]]
            e = [e for e in audit_entries(tmp) if e["action"] == "identity.user_disable"]
            assert len(e) == 1 and e[0]["status"] == 200 and e[0]["actor"]["via"] == "admin", e
        finally:
            if locker:
                locker.release()
            g.__exit__(None, None, None)


if __name__ == "__main__":
    gwtest.main(globals())
