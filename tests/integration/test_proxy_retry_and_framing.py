#!/usr/bin/env python3
"""Proxy corner cases found by reviewing the downstream-interface refactor, one test each.

- chunked framing split across reads, both directions and for an HTTP/1.0 client: the fix
  that drops bytes a chunked decoder consumed without producing data (these fail on 06681ed);
- the client body timer, no longer stopped by the proxy, does not fire once the body is
  complete;
- a retry of a request whose upstream head write was still pending when the try failed: the
  retry must reach the next connection (it used to hang: try_again left r->body_writing set,
  so pump_request never wrote on the new connection and no timer ran).
"""

import socket
import struct

import gwtest
from gwtest import Gantry, HttpConn, Origin, RawServer
from gwtest.client import read_until_eof

from test_regressions import RawUpstream, wait_readable, config


class PiecesServer(RawServer):
    """For each request head it reads, sends `pieces`, each once gantry has read the one before
    (so each arrives in its own read)."""

    def __init__(self, pieces):
        self.pieces = pieces
        super().__init__()

    def serve(self, s, index):
        buf = b""
        try:
            while True:  # keep-alive: one answer per request head
                while b"\r\n\r\n" not in buf:
                    d = s.recv(65536)
                    if not d:
                        return
                    buf += d
                buf = buf.partition(b"\r\n\r\n")[2]
                for p in self.pieces:
                    s.sendall(p)
                    gwtest.wait_peer_read(s)  # each piece in a read of its own
        except OSError:
            pass


CHUNKED = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"5\r\n", b"hello\r\n",
           b"6\r\n", b" world\r\n", b"0\r\n", b"\r\n"]


def test_chunked_response_split_after_chunk_headers():
    with PiecesServer(CHUNKED) as up, Gantry(gwtest.simple_config(up.target())) as g:
        with HttpConn(g.port, timeout=10) as c:
            c.send_request("GET", "/x")
            r = c.read_response()
            assert r.status == 200 and r.body == b"hello world", r
        s = socket.create_connection(("127.0.0.1", g.port))
        s.sendall(b"GET /x HTTP/1.0\r\nHost: a\r\n\r\n")
        data, _ = read_until_eof(s, 10)
        s.close()
        assert data.partition(b"\r\n\r\n")[2] == b"hello world", data


def test_chunked_request_split_after_chunk_headers():
    with Origin() as o, Gantry(gwtest.simple_config(o)) as g:
        s = socket.create_connection(("127.0.0.1", g.port))
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        for p in [b"5\r\n", b"hello\r\n", b"6\r\n", b" world\r\n", b"0\r\n", b"\r\n"]:
            s.sendall(p)
            gwtest.wait_peer_read(s)  # each piece in a read of its own
        data, _ = read_until_eof(s, 3)
        s.close()
        assert data.startswith(b"HTTP/1.1 200 "), data
        assert b'"received": 11' in data, data


def test_body_timer_does_not_fire_after_the_body_is_complete():
    with Origin() as o:
        # The upstream answers well after client_body has passed; the body's parts go out
        # within client_body of each other (2 s: a loaded sanitizer build once took over 1 s
        # between two sends here), so a 408 can only come from a timer left running.
        cfg = gwtest.simple_config(o, timeouts={"client_body": "2s", "upstream_response": "10s"})
        with Gantry(cfg) as g:
            for chunked in (False, True):
                with HttpConn(g.port, timeout=15) as c:
                    if chunked:
                        c.send(b"POST /sleep/4500 HTTP/1.1\r\nHost: a\r\n"
                               b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
                        gwtest.wait_peer_read(c.sock)
                        c.send(b"0\r\n")
                        gwtest.wait_peer_read(c.sock)
                        c.send(b"\r\n")
                    else:
                        c.send(b"POST /sleep/4500 HTTP/1.1\r\nHost: a\r\n"
                               b"Content-Length: 10\r\n\r\nhello")
                        gwtest.wait_peer_read(c.sock)
                        c.send(b"world")
                    r = c.read_response()
                    assert r.status == 200, (chunked, r.status, r.body)


def _big_get():
    """A GET whose 60 KB head a non-reading upstream (rcvbuf 1 KiB) cannot take at once."""
    pad = b"X-Pad: " + b"p" * 2000 + b"\r\n"
    return b"GET /x HTTP/1.1\r\nHost: a\r\n" + pad * 30 + b"\r\n"


def _answer_second(up, s, index):
    """Reads the head fast (well within a per-try timeout), records it, answers 200."""
    data = b""
    while b"\r\n\r\n" not in data:
        d = s.recv(65536)
        if not d:
            return
        data += d
    with up.lock:
        up.heads.setdefault(index, []).append(data)
    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    up.hold(s)


def _first_response(g, timeout=8):
    with socket.create_connection(("127.0.0.1", g.port), timeout=timeout) as s:
        s.sendall(_big_get())
        s.settimeout(timeout)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                d = s.recv(65536)
                if not d:
                    break
                data += d
        except (socket.timeout, TimeoutError):
            pass
        return data


def test_retry_after_upstream_eof_while_the_head_write_is_pending():
    # Try 1: the upstream shuts its side (FIN, no answer) once gantry started writing the
    # (large) head, which it never reads. The GET is retried (a close before the response is
    # the "reset" class); try 2 answers. Today try 2's connection is opened but nothing is ever
    # written to it and no timer runs: the client waits forever.
    def handler(up, s, index):
        if index == 0:
            wait_readable(s)
            s.shutdown(socket.SHUT_WR)
            up.hold(s)
        else:
            _answer_second(up, s, index)

    with RawUpstream(handler, rcvbuf=1024, maxseg=536) as up, Gantry(
        config(up.url(), limits={"max_header_bytes": "128k"},
               timeouts={"upstream_response": "3s", "client_idle": "10s"})
    ) as g:
        data = _first_response(g)
        assert data.startswith(b"HTTP/1.1 200 "), (
            "no answer to a retried GET (%d upstream connections, heads received: %r)"
            % (up.connections, {k: len(v) for k, v in up.heads.items()}), data[:200])


def test_retry_after_per_try_timeout_while_the_head_write_is_pending():
    # Try 1: the upstream never reads, so the head write stays pending until per_try_timeout
    # cuts the try; try 2 answers.
    def handler(up, s, index):
        if index == 0:
            up.hold(s)
        else:
            _answer_second(up, s, index)

    cfg = config("http://127.0.0.1:1", limits={"max_header_bytes": "128k"},
                 timeouts={"upstream_response": "3s", "client_idle": "10s"})
    with RawUpstream(handler, rcvbuf=1024, maxseg=536) as up:
        cfg["services"][0]["targets"] = [{"url": up.url()}]
        cfg["services"][0]["retries"] = {"per_try_timeout": "300ms"}
        with Gantry(cfg) as g:
            data = _first_response(g)
            assert data.startswith(b"HTTP/1.1 200 "), (
                "no answer to a retried GET (%d upstream connections, heads received: %r)"
                % (up.connections, {k: len(v) for k, v in up.heads.items()}), data[:200])


if __name__ == "__main__":
    gwtest.main(globals())
