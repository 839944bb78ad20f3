#!/usr/bin/env python3
"""Bytes from the client (docs/config.md `bytes_in`, `gantry_http_request_bytes_total`,
`/metrics/json` `bytes_in`): the head and the body as received, chunk framing included, over
HTTP/1.1 and HTTP/2 (there: the payloads of the request's HEADERS and DATA frames), exact in
the access log and in both metrics endpoints alike."""

import json
import re
import socket
import struct
import sys

try:
    import h2.config
    import h2.connection
    import h2.events
except ImportError:  # Debian's python3-h2, under a Python that is not Debian's
    sys.path.append("/usr/lib/python3/dist-packages")
    import h2.config
    import h2.connection
    import h2.events

import gwtest
from gwtest import Gantry, Origin

BODY = bytes(range(256)) * 39 + b"0123456789abcdef"  # 10,000 bytes
assert len(BODY) == 10000


def config(o, **top):
    cfg = gwtest.simple_config(o, prefix="/b", log={"access": "stdout", "access_format": "json"},
                               limits={"max_body_bytes": 0}, **top)
    cfg["services"][0].update({"retries": False, "strip_prefix": True})
    return cfg


def exchange(port, data):
    """Sends data in one write; what gantry answers until it closes (Connection: close)."""
    return gwtest.raw_exchange(port, data, timeout=10)


def log_entry(g, rid):
    return json.loads(g.wait_log(r'(?m)^\{.*"%s".*$' % re.escape(rid)).group(0))


def request_bytes(g, service="svc"):
    """gantry_http_request_bytes_total{service=...} and /metrics/json's bytes_in for the
    service (the Prometheus value twice for requests no service took)."""
    text = g.admin_request("GET", "/metrics").body.decode()
    prom = 0
    for line in text.splitlines():
        if line.startswith("gantry_http_request_bytes_total{") and \
                'service="%s"' % service in line:
            prom += int(float(line.split()[-1]))
    if not service:
        return prom, prom
    js = json.loads(g.admin_request("GET", "/metrics/json").body)
    svc = [s for s in js["services"] if s["name"] == service]
    return prom, svc[0]["bytes_in"] if svc else 0


def counted(g, before, n, service="svc"):
    """Waits until the counters passed before by n (a request is counted as it ends), then
    checks both endpoints moved by exactly n."""
    def moved():
        now = request_bytes(g, service)
        return now if now[0] - before[0] >= n and now[1] - before[1] >= n else None
    now = gwtest.wait_until(moved, 10, message="the request counted")
    assert now[0] - before[0] == n and now[1] - before[1] == n, (before, now, n)


def head(method, path, rid, *fields):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: x", "X-Request-ID: " + rid,
             "Connection: close"]
    lines += list(fields)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_content_length_body_is_counted_with_its_head():
    with Origin() as o, Gantry(config(o)) as g:
        before = request_bytes(g)
        data = head("POST", "/b/upload", "cl-1", "Content-Length: %d" % len(BODY)) + BODY
        out = exchange(g.port, data)
        assert out.startswith(b"HTTP/1.1 200 "), out[:200]
        e = log_entry(g, "cl-1")
        assert e["bytes_in"] == len(data), (e, len(data))
        counted(g, before, len(data))


def test_chunked_body_is_counted_with_its_framing():
    with Origin() as o, Gantry(config(o)) as g:
        before = request_bytes(g)
        body = b"".join(b"%x\r\n%s\r\n" % (len(BODY[i:i + 3000]), BODY[i:i + 3000])
                        for i in range(0, len(BODY), 3000)) + b"0\r\n\r\n"
        data = head("POST", "/b/upload", "ch-1", "Transfer-Encoding: chunked") + body
        out = exchange(g.port, data)
        assert out.startswith(b"HTTP/1.1 200 "), out[:200]
        e = log_entry(g, "ch-1")
        assert e["bytes_in"] == len(data), (e, len(data))
        counted(g, before, len(data))


def test_body_of_a_request_gantry_answers_itself_counts_as_far_as_it_came():
    """A POST to no route: gantry answers 404 without reading the body and closes; the body
    sent in the same write as the head had arrived, and counts (up to its length: what follows
    would be another request's)."""
    with Origin() as o:
        cfg = config(o)
        with Gantry(cfg) as g:
            before = request_bytes(g, "")
            data = head("POST", "/nowhere", "nf-1", "Content-Length: %d" % len(BODY)) + BODY
            out = exchange(g.port, data + b"GET /b/x HTTP/1.1\r\nHost: x\r\n\r\n")
            assert out.startswith(b"HTTP/1.1 404 "), out[:200]
            e = log_entry(g, "nf-1")
            assert e["bytes_in"] == len(data), (e, len(data))
            counted(g, before, len(data), "")


def test_pipelined_requests_each_count_their_own_bytes():
    with Origin() as o, Gantry(config(o)) as g:
        before = request_bytes(g)
        one = head("POST", "/b/upload", "pl-1", "Content-Length: 100").replace(
            b"Connection: close", b"Connection: keep-alive") + BODY[:100]
        two = head("GET", "/b/echo", "pl-2")
        out = exchange(g.port, one + two)
        assert out.count(b"HTTP/1.1 200 ") == 2, out[:300]
        assert log_entry(g, "pl-1")["bytes_in"] == len(one)
        assert log_entry(g, "pl-2")["bytes_in"] == len(two)
        counted(g, before, len(one) + len(two))


def frame_payloads(data, sid):
    """The payload bytes of the HEADERS, CONTINUATION and DATA frames of stream sid in data
    (HTTP/2 frames after the connection preface)."""
    if data.startswith(b"PRI * HTTP/2.0"):
        data = data[24:]
    n, i = 0, 0
    while i + 9 <= len(data):
        length = int.from_bytes(data[i:i + 3], "big")
        ftype = data[i + 3]
        stream = struct.unpack(">I", data[i + 5:i + 9])[0] & 0x7FFFFFFF
        if stream == sid and ftype in (0, 1, 9):
            n += length
        i += 9 + length
    return n


def test_h2_upload_counts_its_header_block_and_data():
    with Origin() as o:
        cfg = config(o, http2={"cleartext": True})
        with Gantry(cfg) as g:
            before = request_bytes(g)
            s = socket.create_connection(("127.0.0.1", g.port), timeout=10)
            c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
            c.initiate_connection()
            sent = c.data_to_send()
            sid = c.get_next_available_stream_id()
            c.send_headers(sid, [(":method", "POST"), (":path", "/b/upload"),
                                 (":scheme", "http"), (":authority", "x"),
                                 ("content-length", str(len(BODY))), ("x-request-id", "h2-1")])
            c.send_data(sid, BODY[:6000])
            c.send_data(sid, BODY[6000:], end_stream=True)
            out = c.data_to_send()
            sent += out
            s.sendall(sent)
            status, ended = None, False
            while not ended:
                d = s.recv(65536)
                assert d, "gantry closed the connection"
                for ev in c.receive_data(d):
                    if isinstance(ev, h2.events.ResponseReceived):
                        status = dict(ev.headers)[b":status"]
                    elif isinstance(ev, h2.events.StreamEnded):
                        ended = True
                s.sendall(c.data_to_send())
            s.close()
            assert status == b"200", status
            want = frame_payloads(sent, sid)
            assert want > len(BODY), want
            e = log_entry(g, "h2-1")
            assert e["bytes_in"] == want, (e, want)
            counted(g, before, want)


if __name__ == "__main__":
    gwtest.main(globals())
