#!/usr/bin/env python3
"""The WebSocket hub at its limits (issue 14): gantry pings a quiet client every ping_interval
and closes one that answers nothing for idle_timeout with 1001 and a log line; a channel
holding max_subscribers clients refuses the next with the error channel_full, and the
connection stays. Peers and helpers are those of test_hub.py."""

import time

import gwtest
from gwtest import Gantry, Origin
from test_hub import Client, hub_config, need_node, raw_connect, ws_url


def test_a_silent_client_is_pinged_then_closed_with_1001():
    cfg = {"ping_interval": "300ms", "idle_timeout": "1200ms"}
    with Origin() as o, Gantry(hub_config(o, cfg)) as g:
        s, data = raw_connect(g, "quiet")  # a raw client: it never answers a ping
        s.settimeout(10)
        pings, close, t0 = 0, None, time.monotonic()
        while close is None:
            while len(data) >= 2 and len(data) >= 2 + (data[1] & 0x7F):
                op, n = data[0] & 0x0F, data[1] & 0x7F
                payload, data = data[2:2 + n], data[2 + n:]
                if op == 9:
                    pings += 1
                elif op == 8:
                    close = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            if close is None:
                chunk = s.recv(4096)
                assert chunk, "closed without a close frame after %d pings" % pings
                data += chunk
        took = time.monotonic() - t0
        s.close()
        assert close == 1001, close
        assert pings >= 2, "only %d pings in %.1f s" % (pings, took)
        g.wait_log(r"hub client quiet closed \(idle", stream="stderr")


def test_a_full_channel_refuses_the_next_subscriber_and_keeps_it():
    need_node()
    with Origin() as o, Gantry(hub_config(o, {"max_subscribers": 2})) as g, \
            Client(ws_url(g, "a")) as a, Client(ws_url(g, "b")) as b, \
            Client(ws_url(g, "c")) as c:
        a.call({"type": "subscribe", "channel": "news"}, "subscribed")
        b.call({"type": "subscribe", "channel": "news"}, "subscribed")
        ev = c.call({"type": "subscribe", "channel": "news"}, "error")
        assert ev["code"] == "channel_full", ev
        assert c.call({"type": "ping"}, "pong")  # still connected
        a.call({"type": "unsubscribe", "channel": "news"}, "unsubscribed")
        c.call({"type": "subscribe", "channel": "news"}, "subscribed")  # room again


if __name__ == "__main__":
    gwtest.main(globals())
