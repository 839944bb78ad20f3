#!/usr/bin/env python3
"""IP rules (issue 16): allow and deny lists by client address, through the real binary.

Clients with different addresses are loopback connections from 127.0.0.1, 127.0.0.2, ...
(every 127/8 address is the loopback's), and, behind a trusted proxy, the addresses that proxy
reports in X-Forwarded-For. IPv6 goes through a listener on [::1] (skipped where the machine
has no IPv6 loopback). Source: docs/config.md, section "IP rules".
"""

import re
import signal
import socket

import gwtest
from gwtest import Gantry, HttpConn, Origin, assert_json_error, request


def svc(name, prefix, origin, **extra):
    s = {"name": name, "prefix": prefix, "targets": [origin.target()]}
    s.update(extra)
    return s


def config(*services, **top):
    cfg = {"workers": 1, "services": list(services), "log": {"access": "off"}}
    cfg.update(top)
    return cfg


def get(g, path, source="127.0.0.1", headers=None, method="GET"):
    return request(g.port, method, path, headers=headers, source=source, host=g.host)


def assert_refused(r):
    body = assert_json_error(r, 403)
    assert body["error"] == "client address not allowed", body
    # gantry's own answer, given before any other stage: it still carries the security headers
    assert r.header("X-Content-Type-Options") == "nosniff", r.headers
    return body


def assert_passed(r, origin=None):
    assert r.status == 200, r
    if origin is not None:
        assert r.header("X-Origin-Port") == str(origin.port), r.headers


def test_deny_list_refuses_its_addresses_before_the_upstream():
    with Origin() as o, Gantry(config(svc("a", "/echo/a", o), ip_rules={
            "deny": ["127.0.0.2", "127.0.1.0/24"]})) as g:
        assert_passed(get(g, "/echo/a/x"), o)
        assert_passed(get(g, "/echo/a/x", source="127.0.0.3"), o)
        o.reset_stats()
        assert_refused(get(g, "/echo/a/x", source="127.0.0.2"))
        assert_refused(get(g, "/echo/a/x", source="127.0.1.200"))
        assert_refused(get(g, "/echo/a/x", source="127.0.1.200", method="POST"))
        assert o.stats()["requests"] == 0  # refused requests never reach it
        # not routed: 404 whatever the address; probes answer everyone
        assert_json_error(get(g, "/nowhere", source="127.0.0.2"), 404)
        assert get(g, "/health", source="127.0.0.2").status == 200


def test_allow_list_refuses_every_other_address_and_deny_wins():
    with Origin() as o, Gantry(config(svc("a", "/echo/a", o), ip_rules={
            "allow": ["127.0.0.0/29", "::1"], "deny": "127.0.0.4"})) as g:
        assert_passed(get(g, "/echo/a", source="127.0.0.1"), o)
        assert_passed(get(g, "/echo/a", source="127.0.0.7"), o)
        assert_refused(get(g, "/echo/a", source="127.0.0.8"))
        assert_refused(get(g, "/echo/a", source="127.0.0.4"))  # in both lists: deny wins
        # a keep-alive connection is judged request by request, from the same address
        with HttpConn(g.port, host=g.host, source="127.0.0.9") as c:
            for _ in range(2):
                c.send_request("GET", "/echo/a")
                r = c.read_response()
                assert_refused(r)


def test_behind_trusted_proxies_the_forwarded_client_is_judged():
    with Origin() as o, Gantry(config(
            svc("a", "/echo/a", o),
            rate_limit={"trusted_proxies": ["127.0.0.1/32", "10.0.0.0/8"]},
            ip_rules={"deny": ["203.0.113.0/24"],
                      "allow": ["198.51.100.0/24", "203.0.113.0/24"]})) as g:
        xff = lambda v: {"X-Forwarded-For": v}  # noqa: E731
        assert_passed(get(g, "/echo/a", headers=xff("198.51.100.7")))
        assert_refused(get(g, "/echo/a", headers=xff("203.0.113.9")))
        assert_refused(get(g, "/echo/a", headers=xff("192.0.2.1")))  # outside the allow list
        # the right-most entry that is not a trusted proxy is the client; entries left of it
        # could be forged
        assert_passed(get(g, "/echo/a", headers=xff("203.0.113.9, 198.51.100.7, 10.1.2.3")))
        assert_refused(get(g, "/echo/a", headers=xff("198.51.100.7, 203.0.113.9")))
        # several X-Forwarded-For lines are one list
        assert_refused(get(g, "/echo/a", headers=[("X-Forwarded-For", "198.51.100.7"),
                                             ("X-Forwarded-For", "203.0.113.9")]))
        # garbage stops the walk: the last address vouched for is the proxy's own, which is
        # not in the allow list
        assert_refused(get(g, "/echo/a", headers=xff("198.51.100.7, not-an-ip")))
        # a client that is not a trusted proxy cannot claim another address
        assert_refused(get(g, "/echo/a", source="127.0.0.2", headers=xff("198.51.100.7")))
        # the peer itself (a trusted proxy without the header) is outside the allow list
        assert_refused(get(g, "/echo/a"))


def test_rules_per_route_and_method():
    with Origin() as o, Gantry(config(svc("a", "/echo/a", o, ip_rules={
            "deny": "127.0.0.2",
            "rules": [
                {"match": {"prefix": "/echo/a/admin"}, "allow": "127.0.0.1"},
                {"match": {"prefix": "/echo/a/admin/public"}, "allow": False},
                {"match": {"prefix": "/echo/a/open"}, "deny": False},
                {"match": {"prefix": "/echo/a/write", "methods": ["POST", "DELETE"]},
                 "deny": ["127.0.0.2", "127.0.0.3"]},
            ]}))) as g:
        assert_passed(get(g, "/echo/a/admin/x"), o)
        assert_refused(get(g, "/echo/a/admin/x", source="127.0.0.5"))
        assert_refused(get(g, "/echo/a/admin;x=1", source="127.0.0.5"))  # a path parameter too
        assert_passed(get(g, "/echo/a/adminx", source="127.0.0.5"), o)  # segment boundary
        # the longest matching prefix wins: no allow list, the service's deny list
        assert_passed(get(g, "/echo/a/admin/public/y", source="127.0.0.5"), o)
        assert_refused(get(g, "/echo/a/admin/public/y", source="127.0.0.2"))
        # normalised before matching: /a/x/../admin is /a/admin
        assert_refused(get(g, "/echo/a/x/../admin", source="127.0.0.5"))
        assert_passed(get(g, "/echo/a/open", source="127.0.0.2"), o)
        assert_refused(get(g, "/echo/a/elsewhere", source="127.0.0.2"))
        assert_passed(get(g, "/echo/a/write", source="127.0.0.3"), o)  # GET: the rule does not apply
        assert_refused(get(g, "/echo/a/write", source="127.0.0.3", method="POST"))


def test_gateway_lists_services_inherit_override_or_turn_off():
    with Origin() as o, Gantry(config(
            svc("inherits", "/echo/a", o),
            svc("own", "/echo/b", o, ip_rules={"deny": "127.0.0.3"}),
            svc("no-allow", "/echo/c", o, ip_rules={"allow": False}),
            svc("off", "/echo/d", o, ip_rules=False),
            ip_rules={"allow": "127.0.0.0/30", "deny": "127.0.0.2"})) as g:
        assert_passed(get(g, "/echo/a"))
        assert_refused(get(g, "/echo/a", source="127.0.0.2"))
        assert_refused(get(g, "/echo/a", source="127.0.0.9"))
        # own deny replaces the gateway's; the gateway's allow list stays
        assert_passed(get(g, "/echo/b", source="127.0.0.2"))
        assert_refused(get(g, "/echo/b", source="127.0.0.3"))
        assert_refused(get(g, "/echo/b", source="127.0.0.9"))
        # the gateway's allow list dropped, its deny list kept
        assert_passed(get(g, "/echo/c", source="127.0.0.9"))
        assert_refused(get(g, "/echo/c", source="127.0.0.2"))
        # no list at all
        assert_passed(get(g, "/echo/d", source="127.0.0.2"))
        assert_passed(get(g, "/echo/d", source="127.0.0.9"))


def test_a_refusal_carries_the_cors_headers_of_an_allowed_origin():
    # The CORS decision runs before the IP rules (it never answers), so a browser page of an
    # allowed origin can read the 403 instead of seeing a CORS failure.
    with Origin() as o, Gantry(config(svc("a", "/echo/a", o), ip_rules={"deny": "127.0.0.2"},
                                      cors={"origins": ["https://app.example.com"]})) as g:
        r = get(g, "/echo/a", source="127.0.0.2", headers={"Origin": "https://app.example.com"})
        assert_refused(r)
        assert r.header("Access-Control-Allow-Origin") == "https://app.example.com", r.headers
        r = get(g, "/echo/a", source="127.0.0.2", headers={"Origin": "https://evil.example"})
        assert_refused(r)
        assert r.header("Access-Control-Allow-Origin") is None, r.headers


def reload(g, cfg, expect=r"configuration reloaded"):
    """Writes cfg (on gantry's listen address), SIGHUP, and waits for the line that says how
    the reload went."""
    offset = len(g.stderr())
    g.write_config(dict(cfg, listen=g.config["listen"]))
    g.signal(signal.SIGHUP)
    gwtest.wait_until(lambda: re.search(expect, g.stderr()[offset:]), 15,
                      message="%r in gantry's stderr" % expect)


def test_reload_changes_the_lists():
    with Origin() as o:
        with Gantry(config(svc("a", "/echo/a", o), ip_rules={"deny": "127.0.0.2"})) as g:
            assert_refused(get(g, "/echo/a", source="127.0.0.2"))
            reload(g, config(svc("a", "/echo/a", o), ip_rules={"deny": "127.0.0.3"}))
            assert_passed(get(g, "/echo/a", source="127.0.0.2"))
            assert_refused(get(g, "/echo/a", source="127.0.0.3"))
            # a list that does not load leaves the running one in place
            reload(g, config(svc("a", "/echo/a", o), ip_rules={"deny": "127.0.0.256"}),
                   expect=r"ip_rules\.deny: \\?\"127\.0\.0\.256\\?\" is not an IP address")
            assert_refused(get(g, "/echo/a", source="127.0.0.3"))
            assert_passed(get(g, "/echo/a", source="127.0.0.2"))


def test_thousands_of_entries():
    # 4,096 blocks that do not touch (every other /24), plus the one that holds 127.0.0.2
    deny = ["10.%d.%d.0/24" % (i >> 7, (i & 127) * 2) for i in range(4096)] + ["127.0.0.2"]
    with Origin() as o, Gantry(config(svc("a", "/echo/a", o), ip_rules={"deny": deny})) as g:
        assert_refused(get(g, "/echo/a", source="127.0.0.2"))
        assert_passed(get(g, "/echo/a"), o)


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_ipv6_clients():
    if not ipv6_loopback():
        gwtest.skip("no IPv6 loopback here")
    port = gwtest.free_port()
    with Origin() as o:
        cfg = config(svc("a", "/echo/a", o), svc("b", "/echo/b", o, ip_rules={"allow": ["::1"]}),
                     svc("c", "/echo/c", o, ip_rules={"allow": ["127.0.0.0/8"]}),
                     ip_rules={"deny": ["::1/128"], "allow": ["::/0"]},
                     listen="[::1]:%d" % port)
        cfg["services"][1]["ip_rules"]["deny"] = False
        with Gantry(cfg) as g:
            assert g.host == "::1"
            assert_refused(get(g, "/echo/a", source="::1"))
            assert_passed(get(g, "/echo/b", source="::1"), o)
            # an IPv4 block never holds an IPv6 client
            assert_refused(get(g, "/echo/c", source="::1"))


def test_ipv4_clients_of_a_dual_stack_listener_are_matched_as_ipv4():
    if not ipv6_loopback():
        gwtest.skip("no IPv6 here")
    if open("/proc/sys/net/ipv6/bindv6only").read().strip() != "0":
        gwtest.skip("IPv6 sockets are IPv6-only here (net.ipv6.bindv6only)")
    port = gwtest.free_port()
    with Origin() as o:
        # On "[::]" an IPv4 client arrives as ::ffff:127.0.0.2: IPv4 entries match it, an
        # entry written as IPv4-mapped IPv6 is the same IPv4 block, and "::/0" (every IPv6
        # address) does not hold it.
        cfg = config(svc("a", "/echo/a", o),
                     svc("b", "/echo/b", o, ip_rules={"deny": "::ffff:127.0.0.3/128"}),
                     ip_rules={"deny": ["127.0.0.2", "::/0"]},
                     listen="[::]:%d" % port)
        with Gantry(cfg):
            def v4(path, source):
                return request(port, "GET", path, source=source, host="127.0.0.1")

            assert_refused(v4("/echo/a", "127.0.0.2"))
            assert_passed(v4("/echo/a", "127.0.0.5"), o)
            assert_refused(v4("/echo/b", "127.0.0.3"))
            assert_passed(v4("/echo/b", "127.0.0.2"), o)
            if ipv6_loopback():
                assert_refused(request(port, "GET", "/echo/a", source="::1", host="::1"))


if __name__ == "__main__":
    gwtest.main(globals())
