#!/usr/bin/env python3
"""WebSocket tunnels at their limits (issue 14): the max lifetime ends a tunnel with close
frames 1001 both ways and one log line; a reload that removes the tunnel's service leaves the
tunnel open; an upstream that stops reading stops gantry reading from the client (backpressure
from the client towards the upstream: the client's writes block, gantry's memory stays flat).
The peers are those of test_websocket.py (Node's ws package) and a raw upstream."""

import base64
import hashlib
import os
import select
import signal
import socket
import struct
import threading
import time

import gwtest
from gwtest import Gantry, RawServer
from test_websocket import Holder, WsServer, need_node, url, ws_config

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def test_max_lifetime_ends_a_busy_tunnel_with_1001():
    need_node()
    with WsServer() as s, Gantry(ws_config(s, websocket={"max_lifetime": "2s",
                                                       "idle_timeout": "1h"})) as g:
        with Holder(url(g), 1) as h:
            h.command("check")  # busy: a message, then the lifetime runs out anyway
            h.wait_line(r"^CHECKED 1 1$")
            assert h.wait_line(r"^CLOSE ", 30) == "CLOSE 1001"
        g.wait_log(r"websocket closed \(max lifetime\)", stream="stderr")
        gwtest.wait_until(lambda: "CLOSE 1001" in s.events(), 10,
                          message="the upstream got its close frame 1001")


def test_a_reload_that_removes_the_service_keeps_its_tunnels():
    need_node()
    with WsServer() as s:
        cfg = ws_config(s)
        with Gantry(cfg) as g, Holder(url(g), 3) as h:
            other = dict(cfg, services=[dict(cfg["services"][0], name="other",
                                             prefix="/elsewhere")])
            g.write_config(other)
            g.signal(signal.SIGHUP)
            g.wait_log(r"configuration reloaded: generation 2", stream="stderr", timeout=10)
            assert gwtest.request(g.port, "GET", "/ws/chat").status == 404  # the route is gone
            h.command("check")
            assert h.wait_line(r"^CHECKED ") == "CHECKED 3 3", h.lines[-5:]
            assert not h.closes(), h.closes()


class SilentWsUpstream(RawServer):
    """Answers the WebSocket handshake with 101, then never reads again (until closed)."""

    def __init__(self):
        self.closed = threading.Event()
        super().__init__()

    def close(self):
        self.closed.set()
        super().close()

    def serve(self, sock, index):
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                return
            head += chunk
        key = [ln.split(b":", 1)[1].strip() for ln in head.split(b"\r\n")
               if ln.lower().startswith(b"sec-websocket-key:")][0]
        accept = base64.b64encode(hashlib.sha1(key + GUID.encode()).digest())
        sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        self.closed.wait()  # the scenario: an upstream that takes nothing more


def masked_frame(payload):
    mask = os.urandom(4)
    body = bytes(c ^ mask[i % 4] for i, c in enumerate(payload[:4])) + payload[4:]
    # only the first 4 bytes are masked correctly: gantry relays without reading payloads
    return struct.pack("!BBQ", 0x82, 0x80 | 127, len(payload)) + mask + body


def test_an_upstream_that_stops_reading_stops_gantry_reading_the_client():
    with SilentWsUpstream() as up, Gantry(gwtest.simple_config(up.url(), prefix="/ws",
                                                                drain_timeout="1s")) as g:
        s = socket.create_connection(("127.0.0.1", g.port), timeout=10)
        try:
            s.sendall(b"GET /ws/x HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\n"
                      b"Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      b"Sec-WebSocket-Version: 13\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                head += s.recv(4096)
            assert head.startswith(b"HTTP/1.1 101 "), head
            rss0 = g.rss_kib()
            frame = masked_frame(b"x" * (1 << 20))
            s.setblocking(False)
            sent, stalled_since = 0, None
            while sent < (256 << 20):
                try:
                    n = s.send(frame[sent % len(frame):])
                    sent += n
                    stalled_since = None
                except BlockingIOError:
                    now = time.monotonic()
                    stalled_since = stalled_since or now
                    if now - stalled_since > 2.0:
                        break  # the kernel's buffers are full and gantry reads no more
                    select.select([], [s], [], 0.05)  # writable again, or 50 ms passed
            assert sent < (64 << 20), "gantry kept reading: %d MiB taken" % (sent >> 20)
            grew = g.rss_kib() - rss0
            assert grew < 8 * 1024, "gantry's RSS grew %d KiB for %d MiB sent" % (grew,
                                                                                  sent >> 20)
        finally:
            s.close()


if __name__ == "__main__":
    gwtest.main(globals())
