#!/usr/bin/env python3
"""Upstream failures (issue "Proxy core"): refused, reset, garbage, silent, dying mid-body
(Content-Length and chunked), pooled connections closed by the backend while idle, and a
dead target among live ones.

Rules under test: before any response byte reached the client, gantry answers with a JSON
error (502 refused/reset/garbage, 504 timeout) and keeps a GET's connection open; after that,
it closes the client connection, so a truncated body never looks complete.
"""

import json
import os
import re
import signal
import socket
import struct
import threading
import time

import gwtest
from gwtest import Gantry, HttpConn, Origin, RawServer, assert_json_error, parse_head, request


def raw_until_eof(port, data, timeout=5.0):
    """Sends data; returns (bytes received, seconds until EOF or None when still open)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        return gwtest.read_until_eof(s, timeout)


class ScriptedServer(RawServer):
    """A tiny HTTP/1.1 server on a free port: one thread per connection reads requests
    (Content-Length bodies only) and calls script(server, sock, index, request_head,
    body), which writes the answer and returns False to end the connection (closing it)."""

    def __init__(self, script):
        self.script = script
        self.closed = 0
        self.requests = []  # (connection index, method, path, body length)
        super().__init__(backlog=64)

    def serve(self, s, index):
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = s.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, _, buf = buf.partition(b"\r\n\r\n")
                n = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        n = int(value)
                while len(buf) < n:
                    chunk = s.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                body, buf = buf[:n], buf[n:]
                method, path = head.split(b" ")[:2]
                with self.lock:
                    self.requests.append((index, method.decode(), path.decode(), len(body)))
                if not self.script(self, s, index, head, body):
                    return
        except OSError:
            pass
        finally:
            try:
                s.close()
            except OSError:
                pass
            with self.lock:
                self.closed += 1


def json_answer(server, index, body_len):
    body = json.dumps({"conn": index, "body_len": body_len}).encode()
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )


# ---- backend down ----------------------------------------------------------------------------


def test_backend_down_gives_502_and_gantry_keeps_serving():
    dead = gwtest.free_port()
    with Origin() as o:
        cfg = gwtest.simple_config(dead, prefix="/down", name="down")
        cfg["services"].append({"name": "up", "prefix": "/", "targets": [o.target()]})
        with Gantry(cfg) as g:
            with HttpConn(g.port, timeout=5) as c:
                c.send_request("GET", "/down/x")
                r = c.read_response()
                body = assert_json_error(r, 502)
                assert body["error"] == "upstream connect failed", body
                assert r.header("Connection") is None, r.headers
                # Same connection, other service: served.
                c.send_request("GET", "/echo/after")
                r = c.read_response()
                assert r.status == 200 and r.json()["path"] == "/echo/after", r
            g.wait_log(r"upstream 127\.0\.0\.1:%d: connect failed" % dead, stream="stderr")
            m = g.wait_log(r'"GET /down/x" 502 .* down 127\.0\.0\.1:%d' % dead)
            assert m
            for _ in range(3):
                assert g.request("GET", "/down/y").status == 502
                assert g.request("GET", "/echo").status == 200
            assert g.alive()


# ---- reset, garbage, silent: the client connection survives ------------------------------------


def test_reset_garbage_silent_answered_and_connection_kept():
    with Origin() as o:
        cfg = gwtest.simple_config(o, timeouts={"upstream_response": "1s"})
        with Gantry(cfg) as g:
            with HttpConn(g.port, timeout=5) as c:
                for path, status, error in (
                    ("/reset", 502, "upstream connection reset"),
                    ("/garbage", 502, "upstream sent an invalid response"),
                    ("/silent", 504, "upstream timed out"),
                ):
                    c.send_request("GET", path)
                    r = c.read_response()
                    body = assert_json_error(r, status)
                    assert body["error"] == error, (path, body)
                    assert r.header("Connection") is None, (path, r.headers)
                    c.send_request("GET", "/echo" + path)
                    r = c.read_response()
                    assert r.status == 200, (path, r)
                    assert r.json()["path"] == "/echo" + path
            for path in ("/reset", "/garbage", "/silent"):
                g.wait_log(r'"GET %s" (502|504) ' % path)
            assert g.alive()


def test_reset_on_reused_connection_gives_502_after_one_retry():
    # /reset on a pooled connection: retried once on a fresh one (the GET is idempotent),
    # which is reset too: 502, and the client connection stays usable. The retry policy is
    # off here so that only the stale-connection retry is counted; with it on (the default)
    # the reset is also retried `attempts` more times (test_retry_policy_retries_resets).
    with Origin() as o:
        cfg = gwtest.simple_config(o, timeouts={"client_body": "2s"})
        cfg["services"][0]["retries"] = False
        with Gantry(cfg) as g, HttpConn(g.port, timeout=5) as c:
            c.send_request("GET", "/echo/pool-me")
            assert c.read_response().status == 200
            c.send_request("GET", "/reset")
            r = c.read_response()
            body = assert_json_error(r, 502)
            assert body["error"] == "upstream connection reset", body
            assert r.header("Connection") is None, r.headers
        assert o.stats()["by_path"].get("/reset") == 2, o.stats()


def test_retry_policy_retries_resets_then_answers_502():
    # Default policy: attempts 2, reset before any response byte is retried (idempotent GET).
    with Origin() as o, Gantry(gwtest.simple_config(o)) as g:
        r = request(g.port, "GET", "/reset")
        assert_json_error(r, 502)
        assert o.stats()["by_path"].get("/reset") == 3, o.stats()  # 1 try + 2 retries
        assert "retry 2 of request" in g.logs()


def test_retry_policy_retries_a_502_then_forwards_the_last_answer():
    # One target: retried on itself (no other target exists); after the attempts the last
    # 502 is forwarded as the upstream sent it.
    with Origin() as o, Gantry(gwtest.simple_config(o)) as g:
        r = request(g.port, "GET", "/status/502")
        assert r.status == 502, r
        assert o.stats()["by_path"].get("/status/502") == 3, o.stats()


def test_post_is_not_retried_after_a_reset():
    with Origin() as o, Gantry(gwtest.simple_config(o)) as g:
        r = request(g.port, "POST", "/reset", body=b"x")
        assert_json_error(r, 502)
        assert o.stats()["by_path"].get("/reset") == 1, o.stats()


# ---- dying mid-body --------------------------------------------------------------------------


def test_die_mid_body_content_length_client_sees_truncation_and_eof():
    with Origin() as o, Gantry(gwtest.simple_config(o)) as g:
        for query, exact in (("", True), ("?rst=1", False)):
            data, t = raw_until_eof(
                g.port, b"GET /die-mid-body%s HTTP/1.1\r\nHost: x\r\n\r\n" % query.encode()
            )
            assert t is not None, "no EOF within 5 s (%r): %r" % (query, data[:200])
            status, headers, rest = parse_head(data)
            assert status == 200 and headers["content-length"] == "1000", data[:300]
            assert len(rest) < 1000, len(rest)
            assert rest == gwtest.pattern(len(rest))
            if exact:
                assert len(rest) == 100, len(rest)
            # Through the harness client: ConnectionClosed, never a complete response.
            with HttpConn(g.port, timeout=5) as c:
                c.send_request("GET", "/die-mid-body" + query)
                try:
                    r = c.read_response()
                except gwtest.ConnectionClosed:
                    pass
                else:
                    raise AssertionError("a truncated response looked complete: %r" % r)
        g.wait_log(r"upstream 127\.0\.0\.1:%d: connection (closed|.*reset.*) before the response"
                   % o.port, stream="stderr")


def chunked_dier(cut):
    """Answers with a chunked response: two 1000-byte chunks, then `cut` bytes of a third
    chunk line/data, then closes without the last chunk."""

    def script(server, s, index, head, body):
        piece = b"3e8\r\n" + gwtest.pattern(1000) + b"\r\n"
        s.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + piece * 2)
        s.sendall((b"3e8\r\n" + gwtest.pattern(1000))[:cut])
        s.shutdown(socket.SHUT_WR)
        return False

    return script


def test_chunked_response_dying_mid_body_has_no_last_chunk():
    for cut in (0, 3, 500):
        with ScriptedServer(chunked_dier(cut)) as up, Gantry(gwtest.simple_config(up.url())) as g:
            data, t = raw_until_eof(g.port, b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n")
            assert t is not None, "no EOF within 5 s: %r" % data[:200]
            status, headers, rest = parse_head(data)
            assert status == 200 and headers.get("transfer-encoding") == "chunked", data[:300]
            # Decode what came: chunks of pattern data, never the 0-size last chunk.
            payload = bytearray()
            while rest:
                line, sep, after = rest.partition(b"\r\n")
                if not sep:
                    break
                size = int(line, 16)
                assert size > 0, "a last chunk was sent for a response that died (cut %d)" % cut
                payload += after[:size]
                rest = after[size + 2 :]
            assert 2000 <= len(payload) < 3000, (cut, len(payload))
            with HttpConn(g.port, timeout=5) as c:
                c.send_request("GET", "/c")
                try:
                    r = c.read_response()
                except gwtest.ConnectionClosed:
                    pass
                else:
                    raise AssertionError("a truncated response looked complete: %r" % r)


# ---- pooled connections closed by the backend ------------------------------------------------


def closes_after_answer(rst):
    """Answers keep-alive (no Connection: close), then closes the connection: FIN or RST."""

    def script(server, s, index, head, body):
        s.sendall(json_answer(server, index, len(body)))
        if rst:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False

    return script


def test_pooled_connection_closed_while_idle_is_not_reused():
    for rst in (False, True):
        with ScriptedServer(closes_after_answer(rst)) as up:
            with Gantry(gwtest.simple_config(up.url())) as g, HttpConn(g.port, timeout=5) as c:
                for i, (method, body) in enumerate(
                    [("GET", None), ("GET", None), ("POST", 5000), ("PUT", b"x" * 10),
                     ("POST", 1)]
                ):
                    # The backend has closed every connection it answered.
                    gwtest.wait_until(lambda: up.closed == up.accepted, 5,
                                      message="backend closing its connections")
                    c.send_request(method, "/r%d" % i, body=body)
                    r = c.read_response()
                    assert r.status == 200, (rst, i, method, r, r.body)
                    n = body if isinstance(body, int) else len(body or b"")
                    assert r.json() == {"conn": i, "body_len": n}, (rst, i, r.json())
                assert up.accepted == 5
                assert not re.search(r'"[A-Z]+ /r\d" [^2]', g.stdout()), g.stdout()


def test_pooled_connection_closed_after_idle_is_not_reused():
    # Same, with a backend that keeps the connection open a little after answering and then
    # closes it while gantry holds it idle in its pool.
    def script(server, s, index, head, body):
        s.sendall(json_answer(server, index, len(body)))
        time.sleep(0.2)  # the backend's own idle timeout: the connection sits in the pool
        return False

    with ScriptedServer(script) as up:
        with Gantry(gwtest.simple_config(up.url())) as g, HttpConn(g.port, timeout=5) as c:
            for i, body in enumerate([None, 100, None, 70000]):
                gwtest.wait_until(lambda: up.closed == up.accepted, 5)
                c.send_request("POST" if body else "GET", "/p%d" % i, body=body)
                r = c.read_response()
                assert r.status == 200, (i, r)
                assert r.json() == {"conn": i, "body_len": body or 0}, r.json()


def dies_on_second_request(rst):
    """Answers a connection's first request keep-alive; on its second request, closes it
    without answering (RST or FIN): a pooled connection that dies as it is reused."""

    def script(server, s, index, head, body):
        with server.lock:
            nth = sum(1 for x in server.requests if x[0] == index)
        if nth == 1:
            s.sendall(json_answer(server, index, len(body)))
            return True
        if rst:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False

    return script


def test_reused_connection_dying_before_answer_retries_idempotent_request():
    # A GET (idempotent, no body) sent on a reused keep-alive connection that dies without
    # answering is retried once on a fresh connection: the client gets the fresh answer.
    for rst in (False, True):
        with ScriptedServer(dies_on_second_request(rst)) as up:
            cfg = gwtest.simple_config(up.url(), timeouts={"client_body": "2s"})
            with Gantry(cfg) as g, HttpConn(g.port, timeout=5) as c:
                c.send_request("GET", "/first")
                r = c.read_response()
                assert r.status == 200 and r.json()["conn"] == 0, r
                c.send_request("GET", "/second")
                r = c.read_response()
                assert r.status == 200, (rst, r, r.body)
                assert r.json() == {"conn": 1, "body_len": 0}, r.json()
                with up.lock:
                    paths = [(i, p) for i, _, p, _ in up.requests]
                assert paths == [(0, "/first"), (0, "/second"), (1, "/second")], paths


def test_reused_connection_dying_before_answer_fails_post_with_502():
    # A POST is not retried (it may have been processed): 502.
    with ScriptedServer(dies_on_second_request(False)) as up:
        with Gantry(gwtest.simple_config(up.url())) as g, HttpConn(g.port, timeout=5) as c:
            c.send_request("GET", "/first")
            assert c.read_response().status == 200
            c.send_request("POST", "/second", body=b"data")
            r = c.read_response()
            body = assert_json_error(r, 502)
            assert body["error"] == "upstream connection reset", body
            assert up.accepted == 1


def _tcp_row(local_port, remote_port):
    """(state, rx_queue) of the IPv4 socket local_port -> remote_port (/proc/net/tcp), or None
    when there is none (a socket reset by its peer is no longer listed). State 01: established."""
    with open("/proc/net/tcp") as f:
        next(f)
        for row in f:
            cols = row.split()
            if (int(cols[1].split(":")[1], 16), int(cols[2].split(":")[1], 16)) == (
                    local_port, remote_port):
                return cols[3], int(cols[4].split(":")[1], 16)
    return None


def _stopped(pid):
    """True when every thread of process pid is stopped (SIGSTOP takes effect a little after
    kill() returns)."""
    task = "/proc/%d/task" % pid
    for tid in os.listdir(task):
        try:
            with open("%s/%s/stat" % (task, tid)) as f:
                state = f.read().rpartition(")")[2].split()[0]
        except OSError:
            continue  # a thread that ended
        if state not in ("T", "t"):
            return False
    return True


def test_pooled_connection_reset_in_the_batch_of_its_next_request_is_retried():
    # The backend resets an idle pooled connection (SO_LINGER 0) in the same event batch as
    # the GET that takes it from the pool next: the reset is seen by the head's write
    # (ECONNRESET), before any byte went out, not by a read. The GET is idempotent and nothing
    # was answered, so it goes to a fresh connection, as when a read meets the reset. (It was
    # answered 502 "upstream connection reset", with the retry policy on or off: the write
    # path retried nothing.) Gantry is stopped while both happen, the request first, so that
    # one batch holds both, in that order.
    for retries in (False, True):
        reset_now = threading.Event()
        pooled = []

        def script(server, s, index, head, body):
            s.sendall(json_answer(server, index, len(body)))
            if index > 0:
                return True
            pooled.append(s.getpeername()[1])  # gantry's end of the pooled connection
            reset_now.wait(20)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False  # closed: a reset

        with ScriptedServer(script) as up:
            cfg = gwtest.simple_config(up.url(), workers=1)
            cfg["services"][0]["retries"] = retries  # off: only the fresh connection helps
            with Gantry(cfg) as g, HttpConn(g.port, timeout=10) as c:
                c.send_request("GET", "/first")
                r = c.read_response()
                assert r.status == 200 and r.json()["conn"] == 0, r
                gwtest.wait_until(lambda: pooled, 5, message="the first connection pooled")
                client = (g.port, c.sock.getsockname()[1])
                upstream = (pooled[0], up.port)
                g.signal(signal.SIGSTOP)
                try:
                    gwtest.wait_until(lambda: _stopped(g.pid), 10, message="gantry stopped")
                    c.send_request("GET", "/second")
                    gwtest.wait_until(lambda: (_tcp_row(*client) or ("", 0))[1] > 0, 10,
                                      message="the request in gantry's receive queue")
                    assert _tcp_row(*upstream)[0] == "01", _tcp_row(*upstream)
                    reset_now.set()
                    # A reset socket leaves the established table: its row goes.
                    gwtest.wait_until(lambda: (_tcp_row(*upstream) or ("07",))[0] == "07", 10,
                                      message="the reset at gantry's end of the pooled "
                                              "connection")
                finally:
                    g.signal(signal.SIGCONT)
                r = c.read_response()
                assert r.status == 200, (retries, r.status, r.body)
                assert r.json() == {"conn": 1, "body_len": 0}, r.json()
                with up.lock:
                    paths = [(i, p) for i, _, p, _ in up.requests]
                assert paths == [(0, "/first"), (1, "/second")], paths


# ---- a dead target among live ones -----------------------------------------------------------


def test_one_target_down_all_gets_succeed():
    dead = gwtest.free_port()
    with Origin() as a, Origin() as b:
        cfg = gwtest.simple_config(a, dead, b)
        with Gantry(cfg) as g:
            with HttpConn(g.port, timeout=10) as c:
                ports = []
                for i in range(30):
                    c.send_request("GET", "/echo/%d" % i)
                    r = c.read_response()
                    assert r.status == 200, (i, r, r.body)
                    ports.append(r.header("X-Origin-Port"))
            assert set(ports) == {str(a.port), str(b.port)}, ports
            assert a.stats()["requests"] + b.stats()["requests"] == 30
            g.wait_log(r"upstream 127\.0\.0\.1:%d: connect failed" % dead, stream="stderr")


if __name__ == "__main__":
    gwtest.main(globals())
