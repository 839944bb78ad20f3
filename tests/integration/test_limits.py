#!/usr/bin/env python3
"""Request limits (issue "Proxy core"): request line, header block, header count, body size
(global and per service, Content-Length and chunked), and max_connections.

Limits are counted as docs/config.md and the parser define them: max_request_line covers the
request line with its CRLF; max_header_bytes covers the header block after the request line,
its final empty line included; max_headers counts every field line, Host included.
"""

import gwtest
from gwtest import Gantry, HttpConn, Origin, RecordingServer, shared_origin as origin

MAX_LINE = 1024
MAX_HEADER_BYTES = 2048
MAX_HEADERS = 10


def assert_json_error(r, status, close=True):
    assert r.status == status, r
    assert r.header("Content-Type") == "application/json", r.headers
    body = r.json()
    assert body["status"] == status, body
    assert isinstance(body["error"], str) and body["error"], body
    assert "request_id" in body, body
    if close:
        assert r.header("Connection") == "close", r.headers
    return body


def exchange(port, data):
    """Sends raw request bytes; returns (response, closed_after) with the connection's fate
    after the response (True: gantry closed it)."""
    with HttpConn(port, timeout=5) as c:
        c.send(data)
        r = c.read_response()
        closed = c.wait_closed(3)
    return r, closed


# ---- head limits -----------------------------------------------------------------------------


def head_limits_config(o):
    return gwtest.simple_config(
        o,
        limits={
            "max_request_line": MAX_LINE,
            "max_header_bytes": MAX_HEADER_BYTES,
            "max_headers": MAX_HEADERS,
        },
    )


def request_line(total):
    """A request line of exactly total bytes, CRLF included."""
    fixed = len(b"GET /echo/ HTTP/1.1\r\n")
    return b"GET /echo/" + b"a" * (total - fixed) + b" HTTP/1.1\r\n"


def header_block(total, count=2):
    """A header block of exactly total bytes (its final CRLF included) with count fields,
    the first one Host."""
    lines = [b"Host: example\r\n"] + [b"X-F%d: v\r\n" % i for i in range(count - 2)]
    used = sum(len(x) for x in lines) + len(b"X-Pad: \r\n") + 2
    lines.append(b"X-Pad: " + b"p" * (total - used) + b"\r\n")
    block = b"".join(lines) + b"\r\n"
    assert len(block) == total and len(lines) == count
    return block


def test_request_line_at_limit_accepted_over_limit_414():
    o = origin()
    with Gantry(head_limits_config(o)) as g:
        line = request_line(MAX_LINE)
        assert len(line) == MAX_LINE
        r, _ = exchange(g.port, line + b"Host: example\r\nConnection: close\r\n\r\n")
        assert r.status == 200, r
        assert r.json()["path"] == line.split(b" ")[1].decode()

        r, closed = exchange(g.port, request_line(MAX_LINE + 1) + b"Host: example\r\n\r\n")
        body = assert_json_error(r, 414)
        assert body["error"] == "request line too long", body
        assert closed

        # Refused while the line is still incomplete: no need to wait for its CRLF.
        r, closed = exchange(g.port, b"GET /" + b"b" * (MAX_LINE + 100))
        assert_json_error(r, 414)
        assert closed


def test_header_block_at_limit_accepted_over_limit_431():
    o = origin()
    with Gantry(head_limits_config(o)) as g:
        r, _ = exchange(g.port, b"GET /echo HTTP/1.1\r\n" + header_block(MAX_HEADER_BYTES))
        assert r.status == 200, r
        pad = [v for n, v in r.json()["headers"] if n == "X-Pad"]
        assert len(pad) == 1 and len(pad[0]) > 1900, pad

        over = header_block(MAX_HEADER_BYTES + 1)
        r, closed = exchange(g.port, b"GET /echo HTTP/1.1\r\n" + over)
        body = assert_json_error(r, 431)
        assert body["error"] == "request header block too large", body
        assert closed

        # A header block that never ends is refused once it passes the limit.
        r, closed = exchange(g.port, b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Long: " + b"z" * 5000)
        assert_json_error(r, 431)
        assert closed


def test_header_count_at_limit_accepted_over_limit_431():
    o = origin()
    with Gantry(head_limits_config(o)) as g:
        r, _ = exchange(g.port, b"GET /echo HTTP/1.1\r\n" + header_block(300, MAX_HEADERS))
        assert r.status == 200, r
        assert len(r.json()["headers"]) >= MAX_HEADERS

        r, closed = exchange(g.port, b"GET /echo HTTP/1.1\r\n" + header_block(300, MAX_HEADERS + 1))
        body = assert_json_error(r, 431)
        assert body["error"] == "too many header fields", body
        assert closed


# ---- body size -------------------------------------------------------------------------------


def body_config(*backends):
    """Three services on one origin: /small overrides max_body_bytes with 1 KiB, /big uses
    the global 4 KiB, /any overrides it with 0 (unlimited)."""
    targets = [b.target() if hasattr(b, "target") else b for b in backends]
    cfg = gwtest.simple_config(*backends, prefix="/big", name="big",
                               limits={"max_body_bytes": "4k"})
    cfg["services"][0]["strip_prefix"] = True
    cfg["services"] += [
        {"name": "small", "prefix": "/small", "strip_prefix": True,
         "limits": {"max_body_bytes": "1k"}, "targets": targets},
        {"name": "any", "prefix": "/any", "strip_prefix": True, "limits": {"max_body_bytes": 0},
         "targets": targets},
    ]
    return cfg


def test_content_length_over_limit_413_origin_never_sees_it():
    with Origin() as o, Gantry(body_config(o)) as g:
        for path, limit in (("/small/echo", 1024), ("/big/echo", 4096)):
            # Head only: the 413 must come without the body being read.
            with HttpConn(g.port, timeout=5) as c:
                c.send(
                    b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                    % (path.encode(), limit + 1)
                )
                r = c.read_response()
                body = assert_json_error(r, 413)
                assert body["error"] == "request body too large", body
                assert c.wait_closed(3)
            # Head and body sent at once: same answer.
            r, closed = exchange(
                g.port,
                gwtest.build_request("POST", path, body=gwtest.pattern(limit + 1)),
            )
            assert_json_error(r, 413)
            assert closed
        assert o.stats()["connections"] == 0, o.stats()
        assert o.stats()["requests"] == 0, o.stats()

        for path, n in (("/small/echo", 1024), ("/big/echo", 4096), ("/any/echo", 64 * 1024)):
            r = g.request("POST", path, body=n)
            assert r.status == 200, (path, r)
            assert r.json()["body_len"] == n and r.json()["body_sha256"] == gwtest.pattern_sha256(n)
        assert o.stats()["requests"] == 3


def decode_chunks(data):
    """(payload, complete) of a chunked body as far as it goes; complete: the last chunk and
    the end of the trailer section are there."""
    payload = bytearray()
    while True:
        line, sep, rest = data.partition(b"\r\n")
        if not sep:
            return bytes(payload), False
        size = int(line.split(b";")[0], 16)
        if size == 0:
            return bytes(payload), rest.startswith(b"\r\n")
        if len(rest) < size + 2:
            return bytes(payload + rest[:size]), False
        assert rest[size : size + 2] == b"\r\n", rest[:80]
        payload += rest[:size]
        data = rest[size + 2 :]


def test_chunked_body_over_limit_413_origin_sees_no_complete_request():
    head = b"POST /small/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    with RecordingServer() as up:
        cfg = body_config("http://127.0.0.1:%d" % up.port)
        with Gantry(cfg) as g:
            # 1000 bytes (under the 1 KiB limit) go upstream first; then a chunk that crosses
            # the limit while the body streams: 413, since the client has seen nothing yet.
            with HttpConn(g.port, timeout=5) as c:
                c.send(head + gwtest.chunked(gwtest.pattern(1000))[:-5])

                def forwarded():
                    conns = up.snapshot()
                    if not conns:
                        return None
                    body = conns[0]["data"].partition(b"\r\n\r\n")[2]
                    return decode_chunks(body)[0] == gwtest.pattern(1000)

                gwtest.wait_until(forwarded, 5, message="the first chunk forwarded upstream")
                try:
                    c.send(b"3e8\r\n" + b"x" * 1000 + b"\r\n" + b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass
                r = c.read_response()
                body_json = assert_json_error(r, 413)
                assert body_json["error"] == "request body too large", body_json
                assert c.wait_closed(3)
            conns = gwtest.wait_until(
                lambda: [x for x in up.snapshot() if x["closed"]] or None, 5,
                message="gantry closing the upstream connection",
            )
            assert len(up.snapshot()) == 1
            uphead, _, upbody = conns[0]["data"].partition(b"\r\n\r\n")
            assert b"transfer-encoding: chunked" in uphead.lower(), uphead
            payload, complete = decode_chunks(upbody)
            assert not complete, upbody[-40:]
            assert len(payload) <= 1024 and payload.startswith(gwtest.pattern(1000)), len(payload)

        # All at once (the limit crossed inside one read): 413 too, nothing complete upstream.
        with Gantry(cfg) as g:
            with HttpConn(g.port, timeout=5) as c:
                c.send(head + gwtest.chunked(gwtest.pattern(3000), size=1000))
                assert_json_error(c.read_response(), 413)
                assert c.wait_closed(3)
            gwtest.wait_until(lambda: all(x["closed"] for x in up.snapshot()), 5)
            for x in up.snapshot():
                assert not decode_chunks(x["data"].partition(b"\r\n\r\n")[2])[1], x

    # The same bodies are accepted where they fit (proves the framing was right).
    with Origin() as o, Gantry(body_config(o)) as g:
        with HttpConn(g.port, timeout=5) as c:
            c.send(head.replace(b"/small/", b"/any/")
                   + gwtest.chunked(gwtest.pattern(3000), size=1000))
            r = c.read_response()
            assert r.status == 200, r
            assert r.json() == {"received": 3000, "sha256": gwtest.pattern_sha256(3000)}
            c.send(head + gwtest.chunked(gwtest.pattern(1024), size=1000))
            r = c.read_response()
            assert r.status == 200, r
            assert r.json() == {"received": 1024, "sha256": gwtest.pattern_sha256(1024)}


# ---- max_connections -------------------------------------------------------------------------


def open_served(g):
    """A keep-alive connection that completed one request (retried while connections from
    the readiness probe are still closing inside gantry)."""

    def attempt():
        c = HttpConn(g.port, timeout=5)
        try:
            c.send_request("GET", "/echo")
            r = c.read_response()
        except (ConnectionError, OSError):
            c.close()
            return None
        if r.status == 200 and r.header("Connection") is None:
            return c
        c.close()
        return None

    return gwtest.wait_until(attempt, 5, interval=0.05, message="a connection accepted")


def test_max_connections_refuses_the_sixth_with_503():
    o = origin()
    with Gantry(gwtest.simple_config(o, max_connections=5, workers=1)) as g:
        conns = [open_served(g) for _ in range(5)]
        try:
            # The 6th: answered 503 JSON with Connection: close, then closed.
            with HttpConn(g.port, timeout=5) as c6:
                try:
                    c6.send_request("GET", "/echo")
                except (BrokenPipeError, ConnectionResetError):
                    pass
                r = c6.read_response()
                body = assert_json_error(r, 503)
                assert body["error"] == "too many connections", body
                assert r.header("Retry-After") == "1", r.headers
                assert c6.wait_closed(3)
            g.wait_log(r"refused, 5 connections open \(max_connections 5\)", stream="stderr")

            # The first five still work.
            for c in conns:
                c.send_request("GET", "/echo/again")
                r = c.read_response()
                assert r.status == 200, r
                assert r.json()["path"] == "/echo/again"

            # After one closes, a new connection is accepted.
            conns.pop().close()
            conns.append(open_served(g))
            # ... and with five open again, the next one is refused again.
            with HttpConn(g.port, timeout=5) as c7:
                assert_json_error(c7.read_response(), 503)
                assert c7.wait_closed(3)
        finally:
            for c in conns:
                c.close()


if __name__ == "__main__":
    gwtest.main(globals())
