"""A steady client load against gantry for the integration tests (Python 3 stdlib only).

Load(port, plan, check) runs client threads until stop(): each one sends GETs either on one
keep-alive connection reused for as long as gantry keeps it open, or on a new connection per
request. Used by test_drain.py (takeover under load) and test_reload.py (reloads under load),
which prove that not one request failed.
"""

import collections
import threading
import time

from .client import ConnectionClosed, HttpConn, request


class Load:
    """Client threads against one port until stop(). plan: [(mode, path_fn)] where mode is
    "keepalive" (one connection reused as long as gantry keeps it) or "fresh" (a new
    connection per request) and path_fn(i) gives the path of the i-th request. check(path,
    response) returns None or what is wrong. A request on a reused keep-alive connection that
    the server closed before sending any byte of the response is retried once on a new
    connection, as HTTP clients do (RFC 9112 9.3.1); those are counted in .retries. Anything
    else that goes wrong, a refused or reset new connection included, counts as a failure
    (.failures: "time path: what", time from time.monotonic()).

    Also counted: .closes (responses with Connection: close on keep-alive connections),
    .connects (keep-alive client index -> connections opened), .by_status, .by_origin
    (X-Origin-Port -> responses) and .done_at (completion times, monotonic)."""

    def __init__(self, port, plan, check, duration=60):
        self.port = port
        self.check = check
        self.deadline = time.monotonic() + duration
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.ok = 0
        self.failures = []
        self.retries = 0
        self.closes = 0
        self.connects = collections.Counter()
        self.by_status = collections.Counter()
        self.by_origin = collections.Counter()
        self.done_at = []
        self.threads = [
            threading.Thread(target=self._run, args=(i, mode, fn), daemon=True)
            for i, (mode, fn) in enumerate(plan)
        ]
        for t in self.threads:
            t.start()

    def _record(self, path, r):
        problem = self.check(path, r)
        with self.lock:
            self.by_status[r.status] += 1
            self.by_origin[r.header("X-Origin-Port")] += 1
            self.done_at.append(time.monotonic())
            if problem:
                self.failures.append("%s: %s" % (path, problem))
            else:
                self.ok += 1

    def _fail(self, path, what):
        with self.lock:
            self.failures.append("%.3f %s: %s" % (time.monotonic(), path, what))

    def _running(self):
        return not self.stopping.is_set() and time.monotonic() < self.deadline

    def _run(self, idx, mode, path_fn):
        i = 0
        conn = None
        reused = False
        while self._running():
            path = path_fn(i)
            if mode == "fresh":
                try:
                    r = request(self.port, "GET", path, timeout=10)
                except Exception as e:  # noqa: BLE001 - every error is a failed request
                    self._fail(path, "new connection: %r" % e)
                else:
                    self._record(path, r)
                i += 1
                continue
            if conn is None:
                try:
                    conn = HttpConn(self.port, timeout=10)
                except Exception as e:  # noqa: BLE001
                    self._fail(path, "connect: %r" % e)
                    i += 1
                    continue
                with self.lock:
                    self.connects[idx] += 1
                reused = False
            try:
                conn.send_request("GET", path)
                r = conn.read_response()
            except (ConnectionClosed, ConnectionResetError, BrokenPipeError) as e:
                if isinstance(e, ConnectionClosed):
                    nothing = not conn.buf and "without a response" in str(e)
                else:
                    nothing = True  # reset or broken pipe while sending: no response byte
                conn.close()
                conn = None
                if reused and nothing:
                    with self.lock:
                        self.retries += 1
                    continue  # same i: the request is retried on a new connection
                self._fail(path, "keep-alive (%s): %r" % ("reused" if reused else "new", e))
                i += 1
                continue
            except Exception as e:  # noqa: BLE001
                conn.close()
                conn = None
                self._fail(path, "keep-alive: %r" % e)
                i += 1
                continue
            self._record(path, r)
            i += 1
            reused = True
            if (r.header("Connection") or "").lower() == "close":
                with self.lock:
                    self.closes += 1
                conn.wait_closed(5)
                conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(30)
        assert not any(t.is_alive() for t in self.threads), "load threads did not stop"

    def total(self):
        with self.lock:
            return self.ok + len(self.failures)

    def summary(self):
        return (
            "%d ok, %d failed, %d keep-alive retries, %d Connection: close, statuses %s, "
            "origins %s"
            % (
                self.ok,
                len(self.failures),
                self.retries,
                self.closes,
                dict(self.by_status),
                dict(self.by_origin),
            )
        )
