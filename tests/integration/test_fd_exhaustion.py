#!/usr/bin/env python3
"""Running out of file descriptors (issue 11, defects).

gantry runs under a low RLIMIT_NOFILE (set on the running process with prlimit, like a low
`ulimit -n`), clients hold keep-alive connections until it has no descriptor left, and a churn
of new connections keeps arriving. gantry must pause accepting instead of spinning on accept,
answer the connections it cannot serve with 503 and count them, write a bounded number of log
lines, keep answering the connections it holds, serve new clients again once descriptors are
free, and exit on SIGTERM.
"""

import os
import resource
import signal
import threading
import time

import gwtest
from gwtest import ConnectionClosed, Gantry, HttpConn, Origin

HEADROOM = 40  # descriptors gantry may open beyond the ones it holds when ready
CHURN_SECS = 3.0
CHURN_THREADS = 4
LOG_BYTES_MAX = 256 * 1024  # a spinning accept loop writes this in a fraction of a second


def config(origin):
    cfg = gwtest.simple_config(origin, workers=2)
    cfg["timeouts"] = {"client_header": "60s", "client_idle": "120s"}
    return cfg


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def cpu_seconds(pid):
    """User + system CPU time of the whole process (every thread), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def log_bytes(g):
    return os.path.getsize(g.stdout_path) + os.path.getsize(g.stderr_path)


def check_log_small(g):
    n = log_bytes(g)
    assert n < LOG_BYTES_MAX, "gantry wrote %d bytes of log (flood)\n%s" % (n, g.logs())


def held_request(c):
    """GET /health on a held keep-alive connection: the status, or what went wrong."""
    try:
        c.send_request("GET", "/health")
        return c.read_response().status
    except (OSError, ConnectionClosed) as e:
        return repr(e)


class Churn(threading.Thread):
    """Opens new connections, one GET /health each, until stop: counts the outcomes."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stopping = threading.Event()
        self.outcomes = {}
        self.lock = threading.Lock()

    def count(self, what):
        with self.lock:
            self.outcomes[what] = self.outcomes.get(what, 0) + 1

    def run(self):
        while not self.stopping.is_set():
            try:
                with HttpConn(self.port, timeout=2) as c:
                    c.send_request("GET", "/health", [("Connection", "close")])
                    r = c.read_response()
                    self.count(r.status)
                    if r.status == 503:
                        self.count("503 " + r.json().get("error", "?"))
            except (OSError, ConnectionClosed) as e:
                self.count(type(e).__name__)
            self.stopping.wait(0.005)  # a steady churn, not a benchmark of the client


def exhaust(g):
    """Lowers gantry's descriptor limit, then holds keep-alive connections until it cannot
    serve one more; returns the held connections."""
    _, hard = resource.prlimit(g.pid, resource.RLIMIT_NOFILE)
    resource.prlimit(g.pid, resource.RLIMIT_NOFILE, (open_fds(g.pid) + HEADROOM, hard))
    held, refused_with = [], None
    for _ in range(3 * HEADROOM):
        c = HttpConn(g.port, timeout=3)
        st = held_request(c)
        if st != 200:
            refused_with = st
            c.close()
            break
        held.append(c)
    assert refused_with is not None, "gantry never ran out of descriptors"
    assert len(held) >= HEADROOM // 2, (len(held), refused_with, g.logs())
    check_log_small(g)
    return held


@gwtest.timeout(180)
def test_out_of_descriptors_pauses_answers_recovers_and_stops():
    with Origin() as o, Gantry(config(o)) as g:
        held = exhaust(g)

        # A churn of new connections while every descriptor is taken.
        churn = [Churn(g.port) for _ in range(CHURN_THREADS)]
        cpu0, t0 = cpu_seconds(g.pid), time.monotonic()
        for t in churn:
            t.start()
        try:
            while time.monotonic() - t0 < CHURN_SECS:
                check_log_small(g)  # fail early rather than fill the disk
                time.sleep(0.1)  # the churn runs for CHURN_SECS: this is its clock, not a wait
            # The connections gantry holds are still served.
            answers = [held_request(c) for c in held]
        finally:
            for t in churn:
                t.stopping.set()
            for t in churn:
                t.join(10)
        cpu = cpu_seconds(g.pid) - cpu0
        wall = time.monotonic() - t0
        outcomes = {}
        for t in churn:
            for k, v in t.outcomes.items():
                outcomes[k] = outcomes.get(k, 0) + v
        print("churn: %.1f s, gantry CPU %.2f s, %d held, outcomes %r" % (
            wall, cpu, len(held), outcomes))
        # A worker spinning on accept burns a whole core; serving the churn takes a little.
        assert cpu < 0.5 * wall, "gantry used %.2f s of CPU in %.2f s (outcomes %r)\n%s" % (
            cpu, wall, outcomes, g.logs())
        assert answers == [200] * len(held), (answers, g.logs())
        check_log_small(g)

        # Connections it had no descriptor for were answered 503, and counted.
        assert outcomes.get("503 too many connections", 0) > 0, (outcomes, g.logs())
        status = g.admin_request("GET", "/gateway/status", timeout=5).json()
        acc = status["accept"]
        print("status accept: %r" % acc)
        assert acc["errors"] > 0 and acc["refused"] > 0 and acc["pauses"] > 0, acc
        lines = [l for l in g.stderr().splitlines() if "file descriptors" in l]
        assert 0 < len(lines) <= 2 + 2 * (time.monotonic() - t0), lines

        # Once the held clients leave, new clients are served again.
        for c in held:
            c.close()

        def served():
            try:
                return gwtest.request(g.port, "GET", "/echo/back", timeout=2).status == 200
            except (OSError, ConnectionClosed):
                return False

        gwtest.wait_until(served, timeout=30, message="a new client served after the churn")
        for _ in range(HEADROOM // 2):
            assert gwtest.request(g.port, "GET", "/echo/again", timeout=5).status == 200
        check_log_small(g)
        # Leaving the block sends SIGTERM and fails unless gantry exits 0 within 10 s.


@gwtest.timeout(120)
def test_sigterm_while_out_of_descriptors():
    with Origin() as o, Gantry(config(o)) as g:
        held = exhaust(g)
        churn = [Churn(g.port) for _ in range(CHURN_THREADS)]
        for t in churn:
            t.start()
        try:
            t0 = time.monotonic()
            while time.monotonic() - t0 < CHURN_SECS:
                check_log_small(g)
                time.sleep(0.1)  # the churn's clock, as above
            # The drain closes the idle keep-alive connections and exits.
            g.signal(signal.SIGTERM)
            assert g.wait_exit(timeout=15) == 0, g.logs()
        finally:
            for t in churn:
                t.stopping.set()
            for t in churn:
                t.join(10)
            for c in held:
                c.close()
        check_log_small(g)


if __name__ == "__main__":
    gwtest.main(globals())
