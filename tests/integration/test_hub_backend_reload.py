#!/usr/bin/env python3
"""The hub's backend follows reloads (issue 14): hub.backend and hub.redis_channel change on a
reload, with no restart, and no hub connection is closed or loses a subscription.

Two gantry instances and a real redis-server, a real WebSocket client on each (the npm `ws`
package, tests/node/hub_peer.mjs, through test_hub's Client):

- both start with backend local: a message published on one instance reaches its own client
  only, and Redis has no subscriber;
- a reload to backend redis on both: each subscribes (Redis counts two subscribers of the
  channel), and a message published on either reaches both clients, each once;
- a reload renaming redis_channel on one instance: it subscribes to the new channel and drops
  the old one (Redis's PUBSUB NUMSUB shows it), so the two instances no longer share messages,
  until the other one is renamed too;
- a reload back to backend local: that instance unsubscribes and keeps delivering its own
  messages to its own client;
- a reload pointing the other instance at another Redis: a new connection, and its
  subscription moves there.
The clients stay open and subscribed throughout: none sees a close, none subscribes again.
"""
import re

import gwtest
from gwtest import Gantry, Origin
from gwtest.redis_server import RedisServer
from test_hub import Client, hub_config, hub_stats, need_node, publish, ws_url


def numsub(rs, channel):
    reply = rs.cmd("PUBSUB", "NUMSUB", channel)
    return int(reply[1])


@gwtest.timeout(240)
def test_backend_and_channel_follow_reloads():
    need_node()
    with Origin() as o, RedisServer() as rs, RedisServer() as rs2:
        redis = {"url": rs.url(), "timeout": "1s", "backoff_min": "50ms", "backoff_max": "300ms"}

        def config(backend, channel=None):
            hub = {"backend": backend}
            if channel:
                hub["redis_channel"] = channel
            return hub_config(o, hub, rate_limit={"redis": redis})

        def reload(g, backend, channel=None, redis_url=None):
            """g's config with another hub backend and channel, or another Redis (and nothing
            else changed)."""
            cfg = dict(g.config)
            cfg["hub"] = dict(config(backend, channel)["hub"])
            if redis_url:
                cfg["rate_limit"] = {"redis": dict(redis, url=redis_url)}
            g.write_config(cfg)
            r = g.admin_request("POST", "/api/config/reload")
            assert r.status == 200, r.body

        def count(g, pattern):
            return len(re.findall(pattern, g.stderr()))

        ga, gb = Gantry(config("local")), Gantry(config("local"))
        a = b = None
        try:
            a, b = Client(ws_url(ga, "a")), Client(ws_url(gb, "b"))
            for c in (a, b):
                c.call({"type": "subscribe", "channel": "chat.room"}, "subscribed")

            def deliver(src, reach, miss):
                """Publishes on instance src: every client of reach gets it once, none of miss
                (a ping round trip after the others got it)."""
                mid = publish(src, "chat.room", {"n": deliver.n})
                deliver.n += 1
                for c in reach:
                    c.wait_message(lambda e: e["id"] == mid)
                for c in miss:
                    assert c.call({"type": "ping"}, "pong")
                    assert mid not in [e["id"] for e in c.messages()], (mid, c.messages())
                for c in reach:
                    assert [e["id"] for e in c.messages()].count(mid) == 1
                return mid
            deliver.n = 0

            # local: each instance keeps its messages; nobody listens on Redis
            deliver(ga, [a], [b])
            deliver(gb, [b], [a])
            assert numsub(rs, "gantry:hub") == 0
            assert hub_stats(ga)["backend"] == "local"

            # local -> redis on both: they share the channel at once
            for g in (ga, gb):
                reload(g, "redis")
            for g in (ga, gb):
                g.wait_log(r"hub: subscribed to redis channel gantry:hub", stream="stderr",
                           timeout=15)
                g.wait_log(r"hub: redis at \S+ is up", stream="stderr", timeout=15)
            assert numsub(rs, "gantry:hub") == 2
            st = hub_stats(ga)
            assert st["backend"] == "redis" and st["redis_channel"] == "gantry:hub", st
            deliver(ga, [a, b], [])
            deliver(gb, [a, b], [])

            # a renamed channel on one instance: it leaves the old one, the two part ways
            reload(ga, "redis", "hub.two")
            ga.wait_log(r"hub: messages go through redis channel hub\.two \(gantry:hub dropped\)",
                        stream="stderr", timeout=15)
            assert numsub(rs, "gantry:hub") == 1 and numsub(rs, "hub.two") == 1
            assert hub_stats(ga)["redis_channel"] == "hub.two"
            deliver(ga, [a], [b])
            deliver(gb, [b], [a])
            # and the other one follows: shared again
            reload(gb, "redis", "hub.two")
            gb.wait_log(r"hub: messages go through redis channel hub\.two", stream="stderr",
                        timeout=15)
            assert numsub(rs, "gantry:hub") == 0 and numsub(rs, "hub.two") == 2
            deliver(gb, [a, b], [])
            deliver(ga, [a, b], [])

            # redis -> local on one: it unsubscribes and keeps serving its own clients
            reload(ga, "local")
            ga.wait_log(r"hub: backend local from now on", stream="stderr", timeout=15)
            gwtest.wait_until(lambda: numsub(rs, "hub.two") == 1, timeout=15)
            st = hub_stats(ga)
            assert st["backend"] == "local" and st["redis_channel"] is None, st
            deliver(ga, [a], [b])
            deliver(gb, [b], [a])

            # another Redis for the other one: a new connection, the subscription moves with it
            reload(gb, "redis", "hub.two", redis_url=rs2.url())
            gb.wait_log(r"hub: backend redis from now on \(%s, channel hub\.two\): the "
                        r"Redis settings changed" % re.escape("127.0.0.1:%d" % rs2.port),
                        stream="stderr", timeout=15)
            gwtest.wait_until(lambda: numsub(rs2, "hub.two") == 1, timeout=15)
            gwtest.wait_until(lambda: numsub(rs, "hub.two") == 0, timeout=15)
            gwtest.wait_until(lambda: hub_stats(gb)["redis_up"], timeout=15)
            gwtest.wait_until(lambda: count(gb, r"subscribed to redis channel hub\.two") == 2,
                              timeout=15)
            local = hub_stats(gb)["redis_local_deliveries"]
            deliver(gb, [b], [a])
            assert hub_stats(gb)["redis_local_deliveries"] == local  # it went through rs2

            # nothing closed, nothing subscribed again, no "next start" warning
            for c in (a, b):
                assert not any(line.startswith("CLOSE") for line in c.lines), c.lines
                assert len([line for line in c.lines if '"subscribed"' in line]) == 1
            for g in (ga, gb):
                assert hub_stats(g)["connections"] == 1
                assert "next start" not in g.stderr()
                assert count(g, r"hub: redis at \S+ is down") == 0, g.stderr()
        finally:
            for c in (a, b):
                if c:
                    c.stop()
            ga.stop()
            gb.stop()


if __name__ == "__main__":
    gwtest.main(globals())
