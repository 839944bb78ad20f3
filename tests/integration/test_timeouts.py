#!/usr/bin/env python3
"""Client and upstream timeouts (issue "Proxy core").

Every timeout under test is 1 s; the others are set far away (5-10 s) so that each test proves
which timer fired. Times are measured around the event, with a generous upper bound for the
sanitizer build and a lower bound that proves gantry waited for the timeout.
"""

import json
import select
import socket
import time

import gwtest
from gwtest import (
    Gantry,
    HangingListener,
    HttpConn,
    Origin,
    RecordingServer,
    assert_json_error,
    parse_head,
    read_until_eof,
)

T = 1.0  # the timeout under test, in seconds
EARLY = 0.85  # an event measured before T * EARLY came too early
LATE = 2.5  # ... and after LATE s too late (sanitizer build, 2 cores, parallel tests)


def config(*backends, service=None, **timeouts):
    """One service; timeouts.* from the keyword arguments (durations), the rest far away."""
    t = {
        "client_header": "10s",
        "client_idle": "10s",
        "client_body": "10s",
        "upstream_connect": "10s",
        "upstream_response": "10s",
    }
    t.update(timeouts)
    cfg = gwtest.simple_config(*backends, timeouts=t)
    if service:
        cfg["services"][0].update(service)
    return cfg


# ---- client header timeout -------------------------------------------------------------------


def test_slowloris_header_gets_408_at_header_timeout():
    # One byte every 0.3 s: the connection is never idle, but the head is not complete after
    # the header timeout (counted from accept / the first byte, never reset by later bytes).
    head = b"GET /echo HTTP/1.1\r\nHost: example\r\nX-Slow: " + b"a" * 40 + b"\r\n\r\n"
    full_time = 0.3 * len(head)  # ~18 s to send it all
    with Origin() as o, Gantry(config(o, client_header="1s")) as g:
        s = socket.create_connection(("127.0.0.1", g.port), timeout=5)
        t0 = time.monotonic()
        received = bytearray()
        t_first = t_eof = None
        sent = 0
        try:
            while time.monotonic() - t0 < 6 and t_eof is None:
                if sent < len(head):
                    try:
                        s.sendall(head[sent : sent + 1])
                        sent += 1
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                r, _, _ = select.select([s], [], [], 0.3)
                while r:
                    try:
                        chunk = s.recv(65536)
                    except ConnectionResetError:
                        chunk = b""
                    if not chunk:
                        t_eof = time.monotonic() - t0
                        break
                    if t_first is None:
                        t_first = time.monotonic() - t0
                    received += chunk
                    r, _, _ = select.select([s], [], [], 0)
        finally:
            s.close()
        assert t_first is not None, "no response within 6 s (sent %d bytes)" % sent
        assert T * EARLY <= t_first <= LATE, "408 after %.2f s" % t_first
        assert t_first < full_time / 3
        assert sent < len(head)
        assert t_eof is not None and t_eof - t_first < 1.0, (t_first, t_eof)
        status, headers, rest = parse_head(bytes(received))
        assert status == 408, received
        assert headers.get("connection") == "close", headers
        assert int(headers["content-length"]) == len(rest), received
        body = json.loads(rest)
        assert body["status"] == 408 and body["error"] == "timed out reading request header"
        assert o.stats()["requests"] == 0


def test_silent_connection_closed_at_header_timeout():
    with Origin() as o, Gantry(config(o, client_header="1s", client_idle="5s")) as g:
        s = socket.create_connection(("127.0.0.1", g.port), timeout=5)
        try:
            data, t = read_until_eof(s, 5)
        finally:
            s.close()
        assert t is not None, "gantry did not close a silent connection within 5 s"
        assert data == b"", data
        assert T * EARLY <= t <= LATE, "closed after %.2f s" % t


def test_next_request_header_timeout_counts_from_its_first_byte():
    # After a complete request the idle timer (5 s) runs; the first byte of the next head
    # starts the header timer (1 s), which then cuts the slow head.
    with Origin() as o, Gantry(config(o, client_header="1s", client_idle="5s")) as g:
        with HttpConn(g.port, timeout=5) as c:
            c.send_request("GET", "/echo/1")
            assert c.read_response().status == 200
            t0 = time.monotonic()
            c.send(b"GET /echo/2 HTTP/1.1\r\n")
            data = c.read_raw(4)
            t = time.monotonic() - t0
            assert c.eof, data
        status, headers, rest = parse_head(data)
        assert status == 408 and headers.get("connection") == "close", data
        assert json.loads(rest)["status"] == 408
        assert T * EARLY <= t <= LATE, "408 after %.2f s" % t


# ---- client idle timeout ---------------------------------------------------------------------


def test_idle_keepalive_connection_closed_after_client_idle():
    with Origin() as o, Gantry(config(o, client_idle="1s", client_header="5s")) as g:
        with HttpConn(g.port, timeout=5) as c:
            c.send_request("GET", "/echo")
            r = c.read_response()
            t0 = time.monotonic()
            assert r.status == 200 and r.header("Connection") is None, r.headers
            data = c.read_raw(5)
            t = time.monotonic() - t0
            assert c.eof, "idle connection still open after 5 s"
        assert data == b"", data
        assert T * EARLY <= t <= LATE, "closed after %.2f s" % t


def test_idle_timeout_counts_from_the_last_request():
    # The idle timer is not restarted by every keep-alive request: armed when the connection
    # first goes idle, it runs on, and when it comes early it waits out what is left since the
    # last request. A connection used again after 1.5 s of a 2 s idle timeout must then stay
    # open for 2 s after that request, not close at the first period's end.
    with Origin() as o:
        cfg = config(o, client_idle="2s", client_header="5s")
        cfg["log"] = {"level": "debug", "access": "off"}
        with Gantry(cfg) as g, HttpConn(g.port, timeout=5) as c:
            c.send_request("GET", "/echo")
            assert c.read_response().status == 200
            time.sleep(1.5)  # the scenario: the client is idle, well inside the first period
            c.send_request("GET", "/echo")
            assert c.read_response().status == 200
            # the first period's timer fires, finds the connection idle for only ~0.5 s, and
            # waits out the rest: the connection must still be usable after that
            g.wait_log(r"idle timer early \(\d+ of 2000 ms idle\), re-armed", stream="stderr")
            c.send_request("GET", "/echo")
            r = c.read_response()
            assert r.status == 200, r.status
            t0 = time.monotonic()
            data = c.read_raw(6)
            t = time.monotonic() - t0
            assert c.eof and data == b"", (c.eof, data)
            assert 2 * EARLY <= t <= 2 + LATE, "closed after %.2f s" % t


# ---- client body timeout ---------------------------------------------------------------------


def test_stalled_request_body_gets_408_and_origin_never_sees_it_complete():
    with RecordingServer() as up, Gantry(
        config(up.target(), client_body="1s", client_header="5s")
    ) as g:
        with HttpConn(g.port, timeout=5) as c:
            c.send(
                b"POST /upload HTTP/1.1\r\nHost: example\r\nContent-Length: 100\r\n\r\n"
                + b"0123456789"
            )
            t0 = time.monotonic()
            r = c.read_response()
            t = time.monotonic() - t0
            body = assert_json_error(r, 408)
            assert body["error"] == "timed out reading request body", body
            assert r.header("Connection") == "close", r.headers
            assert c.wait_closed(3), "connection still open after the 408"
        assert T * EARLY <= t <= LATE, "408 after %.2f s" % t
        conns = gwtest.wait_until(
            lambda: [x for x in up.snapshot() if x["closed"]] or None, 5,
            message="gantry closing the upstream connection",
        )
        assert len(up.snapshot()) == 1
        data = conns[0]["data"]
        head, _, body_bytes = data.partition(b"\r\n\r\n")
        assert b"\r\ncontent-length: 100" in head.lower(), head
        assert body_bytes == b"0123456789", body_bytes


# ---- upstream connect timeout ----------------------------------------------------------------


def test_upstream_connect_timeout_gives_502():
    with HangingListener() as hang, Gantry(config(hang.target(), upstream_connect="1s")) as g:
        t0 = time.monotonic()
        r = g.request("GET", "/echo")
        t = time.monotonic() - t0
        body = assert_json_error(r, 502)
        assert body["error"] == "upstream connect failed", body
        assert T * EARLY <= t <= LATE, "502 after %.2f s" % t
        g.wait_log(r"upstream 127\.0\.0\.1:%d: connect timeout" % hang.port, stream="stderr")


def test_upstream_connect_timeout_retries_other_target():
    # The service's own upstream_connect (1 s) overrides the global one (10 s).
    with HangingListener() as hang, Origin() as o:
        cfg = config(hang.target(), o, service={"timeouts": {"upstream_connect": "1s"}})
        with Gantry(cfg) as g:
            times = []
            for _ in range(2):  # round robin: at least one of the two tries the hanging target
                t0 = time.monotonic()
                r = g.request("GET", "/echo")
                times.append(time.monotonic() - t0)
                assert r.status == 200, r
                assert r.header("X-Origin-Port") == str(o.port)
            assert T * EARLY <= max(times) <= LATE, times
            g.wait_log(r"upstream 127\.0\.0\.1:%d: connect timeout" % hang.port,
                       stream="stderr")
            assert o.stats()["requests"] == 2


# ---- upstream response timeout ---------------------------------------------------------------


def test_silent_upstream_gives_504_after_service_response_timeout():
    # Global upstream_response is 10 s; the service overrides it with 1 s.
    with Origin() as o:
        cfg = config(o, service={"timeouts": {"upstream_response": "1s"}})
        with Gantry(cfg) as g:
            t0 = time.monotonic()
            r = g.request("GET", "/silent")
            t = time.monotonic() - t0
            body = assert_json_error(r, 504)
            assert body["error"] == "upstream timed out", body
            assert T * EARLY <= t <= LATE, "504 after %.2f s" % t
            g.wait_log(r"upstream 127\.0\.0\.1:%d: response timeout" % o.port, stream="stderr")


def test_global_response_timeout_applies_without_override():
    with Origin() as o, Gantry(config(o, upstream_response="1s")) as g:
        t0 = time.monotonic()
        r = g.request("GET", "/silent")
        t = time.monotonic() - t0
        assert_json_error(r, 504)
        assert T * EARLY <= t <= LATE, "504 after %.2f s" % t


def test_response_stalled_mid_body_closes_client_connection():
    # /slow-body/5000: head (Content-Length 10) and 5 bytes, then 5 s of silence. The
    # response timeout (1 s, between body reads) cuts it: the client gets the head, fewer
    # than 10 bytes, then EOF, long before the origin would have finished.
    with Origin() as o, Gantry(config(o, upstream_response="1s")) as g:
        s = socket.create_connection(("127.0.0.1", g.port), timeout=5)
        try:
            s.sendall(b"GET /slow-body/5000 HTTP/1.1\r\nHost: example\r\n\r\n")
            t0 = time.monotonic()
            data, t = read_until_eof(s, 4.5)
        finally:
            s.close()
        assert t is not None, "connection not closed within 4.5 s: %r" % data
        status, headers, rest = parse_head(data)
        assert status == 200 and headers["content-length"] == "10", data
        assert rest == b"hello", data
        assert T * EARLY <= t <= LATE, "closed after %.2f s" % t
        g.wait_log(r"upstream 127\.0\.0\.1:%d: response timeout" % o.port, stream="stderr")


def _paused_reader(port, path, pause):
    """Reads the head and a little of a large answer through a small receive buffer, stops
    reading for `pause` seconds (gantry's writes to it wait meanwhile), then reads to the end.
    Returns (status, content-length, body bytes received)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    try:
        s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: example\r\nConnection: close\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(4096)
        time.sleep(pause)  # the scenario: a client that stops reading for a while
        # Then it reads at full speed: a 4 KiB window would take 16 MiB through 2,000 round
        # trips, long enough under a loaded sanitizer build to meet client_idle.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.settimeout(30)
        while True:
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    status, headers, rest = parse_head(data)
    return status, int(headers["content-length"]), len(rest)


def test_client_pausing_its_reads_is_not_an_upstream_timeout():
    """While gantry waits for a slow client to take the answer, the upstream is not silent: it
    is the client that is slow. The upstream response timeout (1 s) must not cut the answer nor
    count against the target (it used to: truncated body, "response timeout", a failure for the
    breaker and outlier detection)."""
    n = 16 << 20
    svc = {"circuit_breaker": {"failure_threshold": 1, "minimum_requests": 1}}
    with Origin() as o, Gantry(config(o, service=svc, upstream_response="1s",
                                      client_idle="60s")) as g:
        status, length, got = _paused_reader(g.port, "/bytes/%d" % n, 2.5 * T)
        assert status == 200 and length == n and got == n, (status, length, got)
        assert "response timeout" not in g.stderr(), g.stderr()
        r = gwtest.request(g.port, "GET", "/bytes/10")
        assert r.status == 200, r  # the circuit did not open


def test_slow_reader_of_a_large_cached_answer_gets_all_of_it():
    """A cache HIT goes out in one write. A client taking it steadily but slowly, for longer
    than client_idle (1 s), gets all of it: the timer drops a client that took nothing for a
    whole period, not a long transfer (it used to reset such a client after 1 s)."""
    n = 32 << 20
    path = "/bytes/%d?h=Cache-Control:max-age=60" % n
    with Origin() as o:
        cfg = config(o, service={"cache": {"max_object_size": "64MiB"}}, client_idle="1s")
        cfg["cache"] = {"memory": {"max_bytes": "512MiB"}}
        with Gantry(cfg) as g:
            head = (b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Connection: close\r\n\r\n")
            s = socket.create_connection(("127.0.0.1", g.port))
            s.sendall(head)  # the fill, read at full speed
            data, _ = read_until_eof(s, 30)
            data = bytes(data)
            s.close()
            status, headers, rest = parse_head(data)
            assert status == 200 and len(rest) == n, (status, len(rest))
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 18)
            s.settimeout(10)
            s.connect(("127.0.0.1", g.port))
            data = b""
            started = time.monotonic()
            try:
                s.sendall(head)
                while True:
                    time.sleep(0.02)  # the scenario: a steady reader slower than the link
                    chunk = s.recv(1 << 18)
                    if not chunk:
                        break
                    data += chunk
            except ConnectionResetError:
                pass
            finally:
                s.close()
            took = time.monotonic() - started
            status, headers, rest = parse_head(data)
            assert status == 200 and headers.get("x-cache", "").startswith("HIT"), (status, headers)
            assert len(rest) == n, "got %d of %d bytes in %.1f s" % (len(rest), n, took)
            assert "not reading our response" not in g.stderr(), g.stderr()


def test_client_not_reading_a_proxied_answer_is_closed_at_client_idle():
    """A client that never takes a proxied answer is dropped after timeouts.client_idle, and
    that is not the upstream's fault."""
    with Origin() as o, Gantry(config(o, client_idle="1s", upstream_response="10s")) as g:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", g.port))
        try:
            s.sendall(b"GET /bytes/%d HTTP/1.1\r\nHost: example\r\n\r\n" % (64 << 20))
            g.wait_log(r"not reading our response", stream="stderr", timeout=LATE * 4)
        finally:
            s.close()
        assert "response timeout" not in g.stderr(), g.stderr()


if __name__ == "__main__":
    gwtest.main(globals())
