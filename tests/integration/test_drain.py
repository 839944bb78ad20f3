#!/usr/bin/env python3
"""Graceful drain and takeover (issue "Control plane").

SIGTERM/SIGINT: stop accepting, answer the requests in flight, close idle keep-alive
connections, send Connection: close on the next response of a keep-alive client, exit 0 when
done (or after drain_timeout). A second instance can take the port over while the first
drains (SO_REUSEPORT): start the new one, then SIGTERM the old one, under load, without one
failed request.
"""

import hashlib
import os
import re
import signal
import socket
import threading
import time

import gwtest
from gwtest import ConnectionClosed, Gantry, HttpConn, Load, Origin, from_origin

MiB = 1024 * 1024
PROMPT = 2.0  # "promptly", in seconds, for the sanitizer build on a busy machine


# ---- helpers ------------------------------------------------------------------------------------


def config(origin, **top):
    cfg = gwtest.simple_config(origin, workers=2, **top)
    cfg.setdefault("limits", {})["max_body_bytes"] = "64MiB"
    return cfg


def closes_header(r):
    return (r.header("Connection") or "").lower() == "close"


def connect_refused_soon(port, timeout=PROMPT):
    """Polls new connections until one is refused; each one that is still accepted must be
    answered completely with Connection: close. Returns how many were still answered."""
    answered = 0
    deadline = time.monotonic() + timeout
    while True:
        try:
            c = HttpConn(port, timeout=5)
        except (ConnectionRefusedError, ConnectionResetError):
            # refused, or reset by the kernel as the last listener closed mid-handshake
            return answered
        with c:
            try:
                c.send_request("GET", "/echo")
                r = c.read_response()
            except (gwtest.ConnectionClosed, ConnectionResetError, BrokenPipeError):
                # The kernel completes handshakes into a listener's queue; one that lands
                # between a worker's last accept of its queue and the listener's close is reset
                # by the kernel, never seen by gantry: to the client, a refusal (nginx and
                # HAProxy close listeners the same way). The reset may come as early as the
                # request's send.
                return answered
            assert closes_header(r), ("accepted during the drain without Connection: close", r)
            answered += 1
        if time.monotonic() > deadline:
            raise AssertionError("new connections still accepted %.1f s into the drain" % timeout)
        time.sleep(0.01)


class SlowUpload(threading.Thread):
    """POST /upload with a body of n pattern bytes sent in pieces over about secs seconds."""

    def __init__(self, port, n=20 * MiB, piece=512 * 1024, secs=2.0):
        super().__init__(daemon=True)
        self.conn = HttpConn(port, timeout=15)
        self.n, self.piece, self.secs = n, piece, secs
        self.sent = 0
        self.response = None
        self.closed = None
        self.error = None
        self.started = threading.Event()

    def run(self):
        try:
            self.conn.send_request("POST", "/upload", headers=[("Content-Length", str(self.n))])
            block = gwtest.pattern(self.piece)  # piece is a multiple of 256: pattern continues
            pieces = self.n // self.piece
            t0 = time.monotonic()
            for k in range(pieces):
                self.conn.send(block)
                self.sent += self.piece
                self.started.set()
                delay = t0 + (k + 1) * self.secs / pieces - time.monotonic()
                if delay > 0:
                    time.sleep(delay)  # pacing the upload, not waiting for an event
            self.response = self.conn.read_response()
            self.closed = self.conn.wait_closed(PROMPT)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e
            self.started.set()
        finally:
            self.conn.close()  # our FIN ends gantry's lingering close


class SlowDownload(threading.Thread):
    """GET /bytes/n read at about n/secs bytes per second through a small receive buffer."""

    def __init__(self, port, n=50 * MiB, secs=2.0):
        super().__init__(daemon=True)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        s.settimeout(15)
        s.connect(("127.0.0.1", port))
        self.sock = s
        self.n, self.secs = n, secs
        self.status = None
        self.headers = {}
        self.body_len = 0
        self.sha = hashlib.sha256()
        self.closed = None
        self.error = None
        self.head_seen = threading.Event()

    def run(self):
        try:
            self.sock.sendall(b"GET /bytes/%d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % self.n)
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionClosed("closed before the head")
                buf += chunk
            head, _, rest = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            self.status = int(lines[0].split()[1])
            fields = (x.partition(":") for x in lines[1:])
            self.headers = {k.lower(): v.strip() for k, _, v in fields}
            length = int(self.headers["content-length"])
            self.head_seen.set()
            self.sha.update(rest)
            self.body_len = len(rest)
            t0 = time.monotonic()
            rate = self.n / self.secs
            while self.body_len < length:
                ahead = self.body_len / rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)  # throttling the reader
                chunk = self.sock.recv(min(256 * 1024, length - self.body_len))
                if not chunk:
                    break
                self.sha.update(chunk)
                self.body_len += len(chunk)
            # After the body: gantry is draining, so the connection must close.
            self.sock.settimeout(PROMPT)
            try:
                self.closed = self.sock.recv(1) == b""
            except ConnectionResetError:
                self.closed = True
            except OSError:
                self.closed = False
        except Exception as e:  # noqa: BLE001
            self.error = e
            self.head_seen.set()
        finally:
            self.sock.close()


class SlowRequest(threading.Thread):
    """A keep-alive GET whose answer takes a while (/sleep/ms)."""

    def __init__(self, port, path):
        super().__init__(daemon=True)
        self.conn = HttpConn(port, timeout=15)
        self.path = path
        self.response = None
        self.closed = None
        self.error = None

    def run(self):
        try:
            self.conn.send_request("GET", self.path)
            self.response = self.conn.read_response()
            self.closed = self.conn.wait_closed(PROMPT)
        except Exception as e:  # noqa: BLE001
            self.error = e
        finally:
            self.conn.close()


def by_path(origin, path):
    return origin.stats()["by_path"].get(path, 0)


# ---- drain --------------------------------------------------------------------------------------


@gwtest.timeout(60)
def test_sigterm_finishes_requests_in_flight():
    with Origin() as o:
        with Gantry(config(o)) as g:
            idle = HttpConn(g.port, timeout=10)  # one finished request, then idle
            idle.send_request("GET", "/echo")
            assert from_origin(idle.read_response(), o) is None

            # connected, no request yet: each gets to send one during the drain
            quiet_ready = HttpConn(g.port, timeout=10)
            quiet_echo = HttpConn(g.port, timeout=10)

            up = SlowUpload(g.port)
            down = SlowDownload(g.port)
            slow = SlowRequest(g.port, "/sleep/1500")
            for t in (up, down, slow):
                t.start()
            gwtest.wait_until(
                lambda: by_path(o, "/upload") and by_path(o, "/sleep/1500")
                and by_path(o, "/bytes/%d" % (50 * MiB)),
                5,
                message="the three requests at the origin",
            )
            assert up.started.wait(5) and down.head_seen.wait(5)
            assert up.error is None and down.error is None, (up.error, down.error)
            assert up.sent < up.n and down.body_len < down.n, "not in flight any more"

            t_term = time.monotonic()
            g.signal(signal.SIGTERM)
            # the idle keep-alive connection is closed at once
            assert idle.wait_closed(PROMPT), "idle keep-alive connection still open"
            idle_closed = time.monotonic() - t_term
            idle.close()
            g.wait_log(r"signal 15: draining", stream="stderr")
            still_answered = connect_refused_soon(g.port)
            with quiet_ready, quiet_echo:
                quiet_ready.send_request("GET", "/ready")
                r = quiet_ready.read_response()
                assert r.status == 503 and closes_header(r), (r, r.headers)
                assert r.json() == {"status": "not ready"}, r.body
                quiet_echo.send_request("GET", "/echo")
                r = quiet_echo.read_response()
                assert from_origin(r, o) is None and closes_header(r), (r, r.headers)
                assert quiet_ready.wait_closed(PROMPT) and quiet_echo.wait_closed(PROMPT)

            for t in (up, down, slow):
                t.join(20)
                assert not t.is_alive()
            t_done = time.monotonic()
            # the slow upload: complete, intact, told to close
            assert up.error is None, repr(up.error)
            r = up.response
            assert from_origin(r, o) is None, r
            assert r.json() == {"received": up.n, "sha256": gwtest.pattern_sha256(up.n)}, r.body
            assert closes_header(r), r.headers
            assert up.closed, "connection of the upload left open after Connection: close"
            # the slow download: complete and intact, then closed
            assert down.error is None, repr(down.error)
            assert down.status == 200 and down.headers.get("x-origin-port") == str(o.port)
            assert down.body_len == down.n, "download cut at %d of %d" % (down.body_len, down.n)
            assert down.sha.hexdigest() == gwtest.pattern_sha256(down.n)
            assert down.closed, "download connection not closed after its response"
            # the keep-alive request in flight gets Connection: close on its response
            assert slow.error is None, repr(slow.error)
            assert from_origin(slow.response, o) is None, slow.response
            assert slow.response.json() == {"slept_ms": 1500}
            assert closes_header(slow.response), slow.response.headers
            assert slow.closed

            status = g.wait_exit(10)
            t_exit = time.monotonic()
            assert status == 0, g.logs()
            g.stop()  # already exited: checks the status and the sanitizer report
            log = g.stderr()
            assert "drain timeout" not in log, log
            assert re.search(r"info stopped\n", log), log
            print(
                "  idle connection closed %.0f ms after SIGTERM; %d new connection(s) still "
                "answered before refusal; in-flight done %.2f s after SIGTERM; exit %.0f ms "
                "after the last response"
                % (idle_closed * 1000, still_answered, t_done - t_term, (t_exit - t_done) * 1000)
            )
            assert t_exit - t_done < PROMPT, "exit %.2f s after the last response" % (
                t_exit - t_done
            )


def test_sigint_drains_too():
    with Origin() as o:
        with Gantry(config(o)) as g:
            idle = HttpConn(g.port, timeout=10)
            idle.send_request("GET", "/echo")
            assert from_origin(idle.read_response(), o) is None
            slow = SlowRequest(g.port, "/sleep/700")
            slow.start()
            gwtest.wait_until(lambda: by_path(o, "/sleep/700"), 5, message="request at origin")
            g.signal(signal.SIGINT)
            assert idle.wait_closed(PROMPT)
            idle.close()
            slow.join(10)
            assert slow.error is None, repr(slow.error)
            assert from_origin(slow.response, o) is None
            assert closes_header(slow.response)
            assert g.wait_exit(10) == 0
            g.stop()
            assert "signal 2: draining" in g.stderr()


def _second_signal(wait_for_drain):
    with Origin() as o:
        with Gantry(config(o)) as g:
            stuck = HttpConn(g.port, timeout=10)
            stuck.send_request("GET", "/silent")
            gwtest.wait_until(lambda: by_path(o, "/silent"), 5, message="request at origin")
            g.signal(signal.SIGTERM)
            g.wait_log(r"signal 15: draining", stream="stderr")
            if wait_for_drain:
                connect_refused_soon(g.port)  # every worker has started draining
            assert g.alive(), "exited with a request in flight"
            t0 = time.monotonic()
            g.signal(signal.SIGTERM)
            g.wait_log(r"signal 15 again: closing every connection now", stream="stderr")
            assert stuck.wait_closed(PROMPT), "in-flight connection not closed by the 2nd signal"
            stuck.close()
            assert g.wait_exit(PROMPT + 3) == 0
            assert time.monotonic() - t0 < PROMPT + 1
            g.stop()


def test_second_signal_closes_everything_at_once():
    _second_signal(wait_for_drain=True)


def test_second_signal_soon_after_the_first_is_not_lost():
    """The second SIGTERM comes as soon as gantry has logged the first one, maybe before
    the workers have woken up for it; it must not be merged with the first."""
    _second_signal(wait_for_drain=False)


def drain_timeout_key():
    """The documented key path of the drain timeout (e.g. "drain_timeout" or
    "timeouts.drain"), or None while docs/config.md does not list one."""
    with open(os.path.join(gwtest.REPO, "docs", "config.md")) as f:
        text = f.read()
    m = re.search(r"^\|\s*`((?:[a-z_]+\.)*drain(?:_timeout)?|(?:[a-z_]+\.)+drain_timeout)`", text,
                  re.M)
    return m.group(1) if m else None


def test_drain_timeout_cuts_requests_that_take_too_long():
    key = drain_timeout_key()
    if key is None:
        gwtest.skip("no drain_timeout key in docs/config.md yet")
    with Origin() as o:
        cfg = config(o, timeouts={"upstream_response": "30s"})
        obj = cfg
        parts = key.split(".")
        for p in parts[:-1]:
            obj = obj.setdefault(p, {})
        obj[parts[-1]] = "1s"
        with Gantry(cfg) as g:
            stuck = HttpConn(g.port, timeout=10)
            stuck.send_request("GET", "/silent")
            gwtest.wait_until(lambda: by_path(o, "/silent"), 5, message="request at origin")
            t0 = time.monotonic()
            g.signal(signal.SIGTERM)
            assert stuck.wait_closed(5), "in-flight connection not cut by drain_timeout"
            cut = time.monotonic() - t0
            assert g.wait_exit(5) == 0
            exited = time.monotonic() - t0
            g.stop()
            print("  %s 1s: connection cut after %.2f s, exit after %.2f s" % (key, cut, exited))
            assert 0.9 <= cut <= 1 + PROMPT, cut
            assert exited <= 1 + PROMPT, exited
            assert re.search(r"drain timeout \(1000 ms\)", g.stderr()), g.stderr()


# ---- takeover -----------------------------------------------------------------------------------


MIGRATE_REQ = "/proc/sys/net/ipv4/tcp_migrate_req"


class migrated_requests:
    """Sets net.ipv4.tcp_migrate_req=1 for the block when it may (root, Linux 5.14+) and puts
    the old value back: the README's deploy recipe asks for it, because without it the kernel
    resets a handshake that lands on the old listener between its last accept and its close
    (a window of microseconds that a load test hits now and then)."""

    def __enter__(self):
        self.old = None
        try:
            with open(MIGRATE_REQ) as f:
                self.old = f.read().strip()
            with open(MIGRATE_REQ, "w") as f:
                f.write("1")
        except OSError:
            self.old = None
        return self

    def __exit__(self, *exc):
        if self.old is not None:
            with open(MIGRATE_REQ, "w") as f:
                f.write(self.old)


@gwtest.timeout(90)
def test_takeover_under_load_loses_no_request():
    """Deploy recipe: start the new instance on the same port (both listen with
    SO_REUSEPORT), wait for its "listening" line, then SIGTERM the old one."""
    with migrated_requests(), Origin() as o:
        cfg = config(o, log={"access": "stdout"})
        with Gantry(cfg) as a:

            def check(path, r):
                return from_origin(r, o)

            plan = [("keepalive", lambda i: "/echo")] * 4 + [("fresh", lambda i: "/echo")] * 2
            load = Load(a.port, plan, check, duration=60)
            try:
                gwtest.wait_until(lambda: load.total() >= 100, 10, message="load on A")
                cfg_b = dict(a.config)
                cfg_b.pop("admin", None)  # the admin port is not shared: B gets its own
                b = Gantry(cfg_b, wait_ready=False, port=a.port)
                b.wait_log(r"gantry listening on 127\.0\.0\.1:%d " % a.port, stream="stderr",
                           timeout=10)
                assert b.alive()
                # the kernel spreads new connections over the four listeners: B gets some
                gwtest.wait_until(lambda: '"GET /echo"' in b.stdout(), 10,
                                  message="B answering on the shared port")
                before = load.total()
                t_term = time.monotonic()
                a.signal(signal.SIGTERM)
                assert a.wait_exit(15) == 0
                a_exit = time.monotonic() - t_term
                gwtest.wait_until(
                    lambda: time.monotonic() - t_term >= 1.0 and load.total() >= before + 200,
                    15,
                    message="1 s more of load after the SIGTERM",
                )
                after_a = load.total()
                gwtest.wait_until(lambda: load.total() >= after_a + 100, 10, message="load on B")
            finally:
                load.stop()
            print("  takeover: A exited %.2f s after SIGTERM; load: %s" % (a_exit, load.summary()))
            a.stop()  # exited: checks status 0 and the sanitizer report
            b_served = b.stdout().count('"GET /echo"')
            b.stop()
            assert not load.failures, "%d failed requests, first ones:\n%s\nA: %s\nB: %s" % (
                len(load.failures),
                "\n".join(load.failures[:20]),
                a.stderr()[-3000:],
                b.stderr()[-3000:],
            )
            assert b_served > 0


if __name__ == "__main__":
    gwtest.main(globals())
