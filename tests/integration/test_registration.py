#!/usr/bin/env python3
"""Backend registration through the admin API (/api/registrations): a registration becomes a
target of the service for its prefix, renewals, removal, TTL expiry, ownership of prefixes
(409), validation by the config loader (400 with the key path), wrong keys (401, then 429),
no failed request while backends come and go, and how long 1,000 registrations take."""

import json
import os
import signal
import time

import gwtest
from gwtest import Gantry, Load, Origin, request

KEY = "registry-test-key"
AUTH = {"Authorization": "Bearer " + KEY}


def config(origin, **registration):
    cfg = gwtest.simple_config(origin, prefix="/file", name="filesvc")
    cfg["services"][0]["strip_prefix"] = True
    registration.setdefault("defaults", {"strip_prefix": True})
    registration.setdefault("publish_interval", "50ms")
    cfg["registration"] = registration
    return cfg


def api(g, method, path, body=None, headers=AUTH):
    data = json.dumps(body) if body is not None else None
    hs = dict(headers or {})
    if data is not None:
        hs["Content-Type"] = "application/json"
    return g.admin_request(method, path, headers=hs, body=data)


def register(g, name, url, prefix, **more):
    body = {"name": name, "url": url, "prefix": prefix}
    body.update(more)
    return api(g, "POST", "/api/registrations", body, headers=None)


def routed_to(g, path, origin):
    r = request(g.port, "GET", path)
    return r.status == 200 and r.header("X-Origin-Port") == str(origin.port)


def wait_routed(g, path, origin):
    """Registrations are published right after the answer: wait for it."""
    gwtest.wait_until(lambda: routed_to(g, path, origin), 10, message="%s routed" % path)


def wait_gone(g, path):
    gwtest.wait_until(lambda: request(g.port, "GET", path).status == 404, 10,
                      message="%s no longer routed" % path)


def test_a_registration_becomes_a_route_and_goes_away():
    with Origin() as f, Origin() as b1, Origin() as b2, Gantry(config(f)) as g:
        assert request(g.port, "GET", "/orders/echo").status == 404
        r = register(g, "orders", b1.target()["url"], "/orders", ttl=60)
        assert r.status == 201, r
        reg = r.json()
        assert reg["name"] == "orders" and reg["prefix"] == "/orders" and reg["weight"] == 1
        assert r.header("Location") == "/api/registrations/" + reg["id"]
        wait_routed(g, "/orders/echo", b1)
        # the same call again renews: same id, 200, no reload
        again = register(g, "orders", b1.target()["url"], "/orders", ttl=60)
        assert again.status == 200 and again.json()["id"] == reg["id"], again
        # a second instance of the same name joins as a target
        r2 = register(g, "orders", b2.target()["url"], "/orders/")
        assert r2.status == 201, r2
        wait_routed(g, "/orders/echo", b2)
        ports = {request(g.port, "GET", "/orders/echo").header("X-Origin-Port") for _ in range(8)}
        assert ports == {str(b1.port), str(b2.port)}, ports
        lst = g.admin_request("GET", "/api/registrations").json()
        assert lst["count"] == 2 and {x["id"] for x in lst["registrations"]} == {
            reg["id"],
            r2.json()["id"],
        }
        one = g.admin_request("GET", "/api/registrations/" + reg["id"])
        assert one.status == 200 and one.json()["url"] == b1.target()["url"]
        hb = g.admin_request("PUT", "/api/registrations/%s/heartbeat" % reg["id"])
        assert hb.status == 200 and hb.json()["expires_in"] > 50, hb
        d = g.admin_request("DELETE", "/api/registrations/" + r2.json()["id"])
        assert d.status == 200 and d.json()["removed"] is True, d
        gwtest.wait_until(lambda: all(routed_to(g, "/orders/echo", b1) for _ in range(4)), 10)
        d = g.admin_request("DELETE", "/api/registrations/" + reg["id"])
        assert d.status == 200
        wait_gone(g, "/orders/echo")
        assert g.admin_request("GET", "/api/registrations/" + reg["id"]).status == 404
        assert g.admin_request("PUT", "/api/registrations/%s/heartbeat" % reg["id"]).status == 404
        g.wait_log(r"registration %s removed" % reg["id"], stream="stderr")


def test_ttl_passes_without_renewal():
    with Origin() as f, Origin() as b, Gantry(config(f)) as g:
        r = register(g, "brief", b.target()["url"], "/brief", ttl="1s")
        assert r.status == 201, r
        wait_routed(g, "/brief/echo", b)
        wait_gone(g, "/brief/echo")
        g.wait_log(r"registration %s expired" % r.json()["id"], stream="stderr")
        assert g.admin_request("GET", "/api/registrations").json()["count"] == 0


def test_heartbeats_keep_it():
    with Origin() as f, Origin() as b, Gantry(config(f)) as g:
        r = register(g, "kept", b.target()["url"], "/kept", ttl=2)
        rid = r.json()["id"]
        wait_routed(g, "/kept/echo", b)
        end = time.monotonic() + 4
        while time.monotonic() < end:  # renew well within the TTL for twice its length
            assert g.admin_request("PUT", "/api/registrations/%s/heartbeat" % rid).status == 200
            assert routed_to(g, "/kept/echo", b)
            gwtest.wait_until(lambda: True, 0.5)
        assert "expired" not in g.stderr()


def test_prefixes_and_names_are_owned():
    with Origin() as f, Origin() as b, Gantry(config(f)) as g:
        url = b.target()["url"]
        r = register(g, "other", url, "/file")
        assert r.status == 409 and "filesvc" in r.json()["error"], r
        r = register(g, "filesvc", url, "/elsewhere")
        assert r.status == 409, r
        # joining the file's service as a target of it
        r = register(g, "filesvc", url, "/file")
        assert r.status == 201, r
        wait_routed(g, "/file/echo", b)
        ports = {request(g.port, "GET", "/file/echo").header("X-Origin-Port") for _ in range(8)}
        assert ports == {str(f.port), str(b.port)}, ports
        assert register(g, "a", url, "/a").status == 201
        r = register(g, "b", url, "/a")
        assert r.status == 409 and '"a"' in r.json()["error"], r
        r = register(g, "a", "http://127.0.0.1:1", "/b")
        assert r.status == 409, r
        # what the file holds is unchanged: registrations are not written to it
        assert "filesvc" in open(g.config_path).read() and '"/a"' not in open(g.config_path).read()


def test_bad_input_gets_the_key_path():
    with Origin() as f, Gantry(config(f)) as g:
        r = register(g, "x", "ftp://127.0.0.1:1", "/x")
        assert r.status == 400 and [e["path"] for e in r.json()["errors"]] == ["url"], r
        r = register(g, "x", "http://127.0.0.1:1", "no-slash")
        assert r.status == 400 and r.json()["errors"][0]["path"] == "prefix", r
        r = register(g, "bad name!", "http://127.0.0.1:1", "/x")
        assert r.status == 400 and r.json()["errors"][0]["path"] == "name", r
        r = register(g, "x", "http://127.0.0.1:1", "/x", weight=0)
        assert r.status == 400 and r.json()["errors"][0]["path"] == "weight", r
        r = register(g, "x", "http://127.0.0.1:1", "/x", ttl="forever")
        assert r.status == 400 and r.json()["errors"][0]["path"] == "ttl", r
        r = register(g, "x", "http://${HOME}:1", "/x")
        assert r.status == 400 and r.json()["errors"][0]["path"] == "url", r
        r = register(g, "x", "http://no-such-host.invalid:1", "/x")
        assert r.status == 400 and r.json()["errors"][0]["path"] == "url", r
        r = api(g, "POST", "/api/registrations", {"name": "x", "url": "http://127.0.0.1:1",
                                                  "prefix": "/x", "colour": "red"})
        assert r.status == 400 and r.json()["errors"][0]["path"] == "colour", r
        r = api(g, "POST", "/api/registrations", {"url": "http://127.0.0.1:1", "prefix": "/x"})
        assert r.status == 400 and r.json()["errors"][0]["path"] == "name", r
        assert g.admin_request("GET", "/api/registrations").json()["count"] == 0


def test_defaults_apply_to_made_services():
    with Origin() as f, Origin() as b, Gantry(
        config(f, defaults={"strip_prefix": True, "retries": False}, ttl="10s")
    ) as g:
        r = register(g, "stripped", b.target()["url"], "/stripped")
        assert r.status == 201 and r.json()["ttl"] == 10, r
        wait_routed(g, "/stripped/echo/hi", b)
        resp = request(g.port, "GET", "/stripped/echo/hi")
        assert resp.status == 200 and resp.json()["path"] == "/echo/hi", resp
        svc = g.admin_request("GET", "/api/services/stripped")
        assert svc.status == 200 and svc.json()["strip_prefix"] is True, svc


def test_off_without_the_section():
    with Origin() as f, Gantry(gwtest.simple_config(f)) as g:
        r = register(g, "x", "http://127.0.0.1:1", "/x")
        assert r.status == 404 and "registration" in r.json()["error"], r


def test_wrong_keys_get_401_then_429():
    with Origin() as f:
        cfg = config(f)
        port = gwtest.free_port()
        cfg["admin"] = {"listen": "127.0.0.1:%d" % port, "api_key": KEY}
        with Gantry(cfg) as g:
            body = {"name": "k", "url": f.target()["url"], "prefix": "/k"}
            bad = {"Authorization": "Bearer wrong"}
            statuses = [api(g, "POST", "/api/registrations", body, headers=bad).status
                        for _ in range(32)]
            assert statuses[:30] == [401] * 30 and statuses[30:] == [429, 429], statuses
            r = api(g, "POST", "/api/registrations", body, headers=bad)
            assert r.status == 429 and int(r.header("Retry-After")) > 0, r
            # another address is not blocked (127.0.0.2 is loopback too)
            r = request(port, "GET", "/api/registrations", headers=AUTH, source="127.0.0.2")
            assert r.status == 200, r


@gwtest.timeout(240)
def test_no_failed_request_while_backends_come_and_go():
    with Origin() as f, Origin() as b, Origin() as c, Gantry(config(f)) as g:
        url_b, url_c = b.target()["url"], c.target()["url"]
        assert register(g, "steady", url_b, "/steady", ttl=600).status == 201
        wait_routed(g, "/steady/echo", b)

        def check(path, r):
            return None if r.status == 200 else "status %d" % r.status

        plan = [("keepalive", lambda i: "/steady/echo")] * 3 + [("fresh", lambda i: "/file/echo")]
        load = Load(g.port, plan, check, duration=200)
        try:
            gwtest.wait_until(lambda: load.total() >= 50, 10, message="load running")
            for k in range(50):  # 100 changes: a target joins the routed service and leaves
                r = register(g, "steady", url_c, "/steady", ttl=600)
                assert r.status == 201, r
                d = g.admin_request("DELETE", "/api/registrations/" + r.json()["id"])
                assert d.status == 200, d
            before = load.total()
            gwtest.wait_until(lambda: load.total() >= before + 50, 10, message="load continues")
        finally:
            load.stop()
        assert not load.failures, load.summary() + "\n" + "\n".join(load.failures[:10])
        assert load.ok > 0


@gwtest.timeout(240)
def test_a_thousand_registrations():
    with Origin() as f, Origin() as b, Gantry(config(f)) as g:
        url = b.target()["url"]
        start = time.monotonic()
        for i in range(1000):
            r = register(g, "svc%d" % i, url, "/r/%d" % i, ttl=600)
            assert r.status == 201, r
        took = time.monotonic() - start
        print("1000 registrations (one request each, sequential) took %.2f s" % took)
        wait_routed(g, "/r/999/echo", b)
        took = time.monotonic() - start
        print("... and routed by all after %.2f s" % took)
        assert routed_to(g, "/r/0/echo", b)
        assert g.admin_request("GET", "/api/registrations").json()["count"] == 1000


# ---- backend tokens ----------------------------------------------------------------------------

KEY_A = "a1" * 32
KEY_B = "b2" * 32
TOKEN = "tok-Secret.7f3c9d0e1b"


def upstream_headers(g, path, headers=None):
    r = request(g.port, "GET", path, headers=headers)
    assert r.status == 200, r
    return [(n.lower(), v) for n, v in r.json()["headers"]]


def test_token_sent_upstream_and_never_shown():
    with Origin() as f, Origin() as b:
        with Gantry(config(f), extra_env={"ENCRYPTION_KEY": KEY_A}) as g:
            r = register(g, "secure", b.target()["url"], "/secure", token=TOKEN)
            assert r.status == 201 and r.json()["has_token"] is True, r
            assert TOKEN not in r.body.decode()
            wait_routed(g, "/secure/echo", b)
            hs = upstream_headers(g, "/secure/echo", {"Authorization": "Bearer from-client"})
            auth = [v for n, v in hs if n == "authorization"]
            assert auth == ["Bearer " + TOKEN], hs
            # the file's service is untouched: the client's header goes through
            hs = upstream_headers(g, "/file/echo", {"Authorization": "Bearer from-client"})
            assert [v for n, v in hs if n == "authorization"] == ["Bearer from-client"], hs
            # never in an answer of the API, a log line or the config file
            for path in ("/api/registrations", "/api/registrations/" + r.json()["id"],
                         "/api/services", "/api/services/secure", "/gateway/routing",
                         "/gateway/status"):
                body = g.admin_request("GET", path).body.decode()
                assert TOKEN not in body, (path, body)
            renewed = register(g, "secure", b.target()["url"], "/secure", token=TOKEN)
            assert renewed.status == 200 and TOKEN not in renewed.body.decode()
            assert TOKEN not in open(g.config_path).read()
            logs = g.stdout() + g.stderr()
            assert "registration " in logs and TOKEN not in logs


def test_token_header_is_configurable():
    with Origin() as f, Origin() as b:
        cfg = config(f, encryption_key=KEY_A, token_header="X-Backend-Key", token_prefix="")
        with Gantry(cfg) as g:
            assert register(g, "k", b.target()["url"], "/k", token=TOKEN).status == 201
            wait_routed(g, "/k/echo", b)
            hs = upstream_headers(g, "/k/echo", {"x-backend-key": "client", "Authorization": "c"})
            assert [v for n, v in hs if n == "x-backend-key"] == [TOKEN], hs
            assert [v for n, v in hs if n == "authorization"] == ["c"], hs


def test_token_refused_without_a_key_or_when_malformed():
    with Origin() as f, Origin() as b, Gantry(config(f)) as g:
        r = register(g, "k", b.target()["url"], "/k", token=TOKEN)
        assert r.status == 400 and r.json()["errors"][0]["path"] == "token", r
        assert "encryption" in r.json()["errors"][0]["message"]
    with Origin() as f, Origin() as b, Gantry(config(f, encryption_key=KEY_A)) as g:
        r = register(g, "k", b.target()["url"], "/k", token="two\r\nlines")
        assert r.status == 400 and r.json()["errors"][0]["path"] == "token", r


def test_keys_rotate():
    with Origin() as f, Origin() as b:
        with Gantry(config(f, encryption_key=KEY_A)) as g:
            assert register(g, "rot", b.target()["url"], "/rot", token=TOKEN).status == 201
            wait_routed(g, "/rot/echo", b)
            cfg = config(f, encryption_key=KEY_B, previous_keys=[KEY_A])
            cfg["listen"] = "127.0.0.1:%d" % g.port
            g.write_config(cfg)
            g.signal(signal.SIGHUP)
            g.wait_log(r"token sealed again with key", stream="stderr")
            hs = upstream_headers(g, "/rot/echo")
            assert [v for n, v in hs if n == "authorization"] == ["Bearer " + TOKEN], hs
            # the old key can go now
            cfg = config(f, encryption_key=KEY_B)
            cfg["listen"] = "127.0.0.1:%d" % g.port
            g.write_config(cfg)
            g.signal(signal.SIGHUP)
            gwtest.wait_until(lambda: g.stderr().count("configuration reloaded") >= 3, 10)
            hs = upstream_headers(g, "/rot/echo")
            assert [v for n, v in hs if n == "authorization"] == ["Bearer " + TOKEN], hs
            assert "not registration.encryption_key" not in g.stderr()



# ---- inactive after failures -------------------------------------------------------------------


def registration_state(g, rid):
    return g.admin_request("GET", "/api/registrations/" + rid).json()["state"]


def test_three_failed_checks_make_it_inactive_until_healthy():
    defaults = {
        "strip_prefix": True,
        "health_check": {"path": "/health", "interval": "200ms", "timeout": "100ms",
                         "healthy_threshold": 1},
    }
    with Origin() as f, Origin() as b, Gantry(config(f, defaults=defaults)) as g:
        rid = register(g, "checked", b.target()["url"], "/checked").json()["id"]
        gwtest.wait_until(lambda: registration_state(g, rid) == "up", 10, message="up")
        b.set_health(503)
        gwtest.wait_until(lambda: registration_state(g, rid) == "down", 10, message="down")
        r = request(g.port, "GET", "/checked/echo")
        assert r.status == 503, r  # its only target is inactive
        svc = g.admin_request("GET", "/api/services/checked").json()
        assert svc["health_check"]["unhealthy_threshold"] == 3, svc
        b.set_health(200)
        gwtest.wait_until(lambda: registration_state(g, rid) == "up", 10, message="up again")
        wait_routed(g, "/checked/echo", b)


def test_three_failed_requests_eject_it():
    with Origin() as f, Origin() as b, Gantry(config(f)) as g:
        dead = "http://127.0.0.1:%d" % gwtest.free_port()
        live = register(g, "passive", b.target()["url"], "/passive").json()["id"]
        rid = register(g, "passive", dead, "/passive").json()["id"]
        gwtest.wait_until(lambda: registration_state(g, rid) == "up", 10, message="published")
        for _ in range(12):  # the dead one fails, the request is retried on the live one
            assert routed_to(g, "/passive/echo", b)
        gwtest.wait_until(lambda: registration_state(g, rid) == "ejected", 10, message="ejected")
        assert registration_state(g, live) == "up"
        svc = g.admin_request("GET", "/api/services/passive").json()
        assert svc["outlier_detection"]["consecutive_failures"] == 3, svc


# ---- registration.store: restarts ---------------------------------------------------------------


def test_registrations_survive_a_restart_until_their_ttl():
    store_dir = gwtest._mkdtemp("regstore")
    store = os.path.join(store_dir, "registrations.json")
    with Origin() as f, Origin() as b, Origin() as brief:
        cfg = config(f, encryption_key=KEY_A, store=store)
        with Gantry(cfg) as g:
            kept = register(g, "kept", b.target()["url"], "/kept", ttl=300, token=TOKEN)
            assert kept.status == 201, kept
            short = register(g, "brief", brief.target()["url"], "/brief", ttl=2)
            assert short.status == 201, short
            wait_routed(g, "/kept/echo", b)
            wait_routed(g, "/brief/echo", brief)
            expires = short.json()["expires_at_ms"]
        # written on the way out (and within 200 ms of each change before): sealed, never plain
        text = open(store).read()
        assert TOKEN not in text, text
        assert oct(os.stat(store).st_mode & 0o777) == "0o600"
        stored = json.loads(text)["registrations"]
        assert {x["name"] for x in stored} == {"kept", "brief"}
        assert [x for x in stored if x["name"] == "kept"][0]["token_box"]
        # the short one's TTL passes while the gateway is down
        gwtest.wait_until(lambda: time.time() * 1000 > expires + 50, 10, message="TTL passed")
        with Gantry(cfg) as g2:
            wait_routed(g2, "/kept/echo", b)
            hs = upstream_headers(g2, "/kept/echo", {"Authorization": "Bearer client"})
            assert [v for n, v in hs if n == "authorization"] == ["Bearer " + TOKEN], hs
            assert request(g2.port, "GET", "/brief/echo").status == 404
            lst = g2.admin_request("GET", "/api/registrations").json()
            assert [x["name"] for x in lst["registrations"]] == ["kept"], lst
            one = lst["registrations"][0]
            assert one["id"] == kept.json()["id"]
            assert one["registered_at_ms"] == kept.json()["registered_at_ms"]
            assert one["expires_at_ms"] == kept.json()["expires_at_ms"]
            g2.wait_log(r"1 registration restored, 1 expired meanwhile", stream="stderr")
            # a removal reaches the store too
            assert g2.admin_request("DELETE", "/api/registrations/" + one["id"]).status == 200
            gwtest.wait_until(lambda: json.loads(open(store).read())["registrations"] == [], 5)
        with Gantry(cfg) as g3:
            assert g3.admin_request("GET", "/api/registrations").json()["count"] == 0


def test_a_store_that_is_not_one_is_left_alone():
    store_dir = gwtest._mkdtemp("regstore")
    store = os.path.join(store_dir, "registrations.json")
    with open(store, "w") as fh:
        fh.write("{not json")
    with Origin() as f, Gantry(config(f, store=store)) as g:
        g.wait_log(r"not a registration store: starting without", stream="stderr")
        assert g.admin_request("GET", "/api/registrations").json()["count"] == 0


if __name__ == "__main__":
    gwtest.main(globals())
