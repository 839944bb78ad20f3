#!/usr/bin/env python3
"""DNS discovery against a real resolver: dnsmasq on a loopback port, answering from a hosts
file this test rewrites (SIGHUP re-reads it) and from SRV records. discovery "dns": every
A address of the target's name is a target, and a change of the file is published like a
reload; a resolver that stops answering keeps the last good set (logged once). "dns_srv": the
SRV records give the targets' addresses, ports and weights."""

import os
import shutil
import signal
import subprocess

import gwtest
from gwtest import Gantry, Origin, request
from gwtest.procs import _mkdtemp, _sigterm_then_kill, _spawn, _track, _untrack


def require_dnsmasq():
    if shutil.which("dnsmasq") is None:
        gwtest.skip("dnsmasq is not installed (scripts/deps.sh test)")


class Dnsmasq:
    """dnsmasq on 127.0.0.1:<free port>, no upstream, names from a hosts file (TTL 1 s)."""

    def __init__(self, hosts, srv=()):
        require_dnsmasq()
        self.tmpdir = _mkdtemp("dnsmasq")
        self.hosts_path = os.path.join(self.tmpdir, "hosts")
        self.write_hosts(hosts)
        self.port = gwtest.free_port()
        self.log_path = os.path.join(self.tmpdir, "dnsmasq.log")
        argv = [
            shutil.which("dnsmasq"), "--keep-in-foreground", "--no-resolv", "--no-hosts",
            "--no-daemon", "--addn-hosts=" + self.hosts_path, "--listen-address=127.0.0.1",
            "--bind-interfaces", "--port=%d" % self.port, "--local-ttl=1", "--user=root",
            "--pid-file=" + os.path.join(self.tmpdir, "pid"), "--log-queries",
            "--log-facility=" + self.log_path, "--conf-file=/dev/null",
        ]
        argv += ["--srv-host=" + s for s in srv]
        self._err = open(os.path.join(self.tmpdir, "stderr"), "wb")
        self.proc = _spawn(argv, stderr=self._err, stdout=self._err)
        _track(self)
        gwtest.wait_until(self._answers, 10, message="dnsmasq answers")

    def _answers(self):
        if self.proc.poll() is not None:
            raise AssertionError("dnsmasq exited: %s" % open(self._err.name).read())
        return os.path.exists(self.log_path) and "started" in open(self.log_path).read()

    def write_hosts(self, lines):
        tmp = self.hosts_path + ".tmp"
        with open(tmp, "w") as f:
            f.write("".join(line + "\n" for line in lines))
        os.replace(tmp, self.hosts_path)

    def reload(self):
        self.proc.send_signal(signal.SIGHUP)

    def stop(self):
        _sigterm_then_kill(self.proc, 5)
        self._err.close()
        _untrack(self)

    def _kill_quietly(self):
        self.stop()


def config(port, resolver, kind="dns", host="orders.test"):
    cfg = {
        "services": [
            {
                "name": "orders",
                "prefix": "/orders",
                "strip_prefix": True,
                "discovery": kind,
                "targets": ["http://%s:%d" % (host, port) if port else "http://%s" % host],
            }
        ]
    }
    cfg["discovery"] = {"resolver": "127.0.0.1:%d" % resolver.port, "interval": "1s"}
    return cfg


def targets(g):
    """(url, weight) of each target of the running service "orders"."""
    svc = g.admin_request("GET", "/api/services/orders").json()
    return sorted(
        (t, 1) if isinstance(t, str) else (t["url"], t.get("weight", 1)) for t in svc["targets"]
    )


def target_urls(g):
    return [u for u, _ in targets(g)]


def origin_on(host, port):
    return Origin(extra_args=["--host", host, "--port", str(port)])


def test_dns_addresses_become_targets_and_follow_the_file():
    port = gwtest.free_port()
    with origin_on("127.0.0.2", port), origin_on("127.0.0.3", port), origin_on(
        "127.0.0.4", port
    ):
        dns = Dnsmasq(["127.0.0.2 orders.test", "127.0.0.3 orders.test"])
        with Gantry(config(port, dns)) as g:
            want = ["http://127.0.0.2:%d" % port, "http://127.0.0.3:%d" % port]
            gwtest.wait_until(lambda: target_urls(g) == want, 10, message="both addresses")
            assert all(request(g.port, "GET", "/orders/echo").status == 200 for _ in range(6))
            g.wait_log(r"discovery: dns orders.test resolves to: 127.0.0.2, 127.0.0.3",
                       stream="stderr")
            # the hosts file changes: one address goes, another comes
            dns.write_hosts(["127.0.0.3 orders.test", "127.0.0.4 orders.test"])
            dns.reload()
            want = ["http://127.0.0.3:%d" % port, "http://127.0.0.4:%d" % port]
            gwtest.wait_until(lambda: target_urls(g) == want, 10, message="new addresses")
            assert all(request(g.port, "GET", "/orders/echo").status == 200 for _ in range(6))
            # the resolver stops answering: the last good set stays, one log line
            dns.stop()
            g.wait_log(r"discovery: dns orders.test does not resolve .*keeping the last",
                       stream="stderr", timeout=20)
            assert target_urls(g) == want
            assert request(g.port, "GET", "/orders/echo").status == 200
            assert g.stderr().count("orders.test does not resolve") == 1


def test_ipv6_addresses_become_targets_too():
    # AAAA records as well as A: "::1 orders.test" in the hosts file is a target
    # http://[::1]:port next to the IPv4 one, and requests reach both.
    port = gwtest.free_port()
    with origin_on("127.0.0.2", port), origin_on("::1", port):
        dns = Dnsmasq(["127.0.0.2 orders.test", "::1 orders.test"])
        with Gantry(config(port, dns)) as g:
            want = sorted(["http://127.0.0.2:%d" % port, "http://[::1]:%d" % port])
            gwtest.wait_until(lambda: target_urls(g) == want, 10,
                              message="the A and the AAAA address as targets")
            assert all(request(g.port, "GET", "/orders/echo").status == 200 for _ in range(6))
            # the IPv6 address goes: its target goes with it
            dns.write_hosts(["127.0.0.2 orders.test"])
            dns.reload()
            assert connections_to_ipv6_loopback(port) > 0  # a kept-alive one, pooled
            gwtest.wait_until(lambda: target_urls(g) == ["http://127.0.0.2:%d" % port], 10,
                              message="the AAAA address removed")
            assert all(request(g.port, "GET", "/orders/echo").status == 200 for _ in range(4))
            # and the pool of the removed address is drained: no connection to it stays open
            gwtest.wait_until(lambda: connections_to_ipv6_loopback(port) == 0, 10,
                              message="the removed address's pooled connections closed")


def connections_to_ipv6_loopback(port):
    """Established TCP connections towards [::1]:port (gantry's side of its pooled ones)."""
    remote = "00000000000000000000000001000000:%04X" % port
    with open("/proc/net/tcp6") as f:
        return sum(1 for line in f.readlines()[1:]
                   if line.split()[2] == remote and line.split()[3] == "01")


def test_a_short_record_ttl_wins_over_the_interval():
    """discovery.interval is 10 minutes, but dnsmasq answers with a TTL of 1 s (--local-ttl=1):
    the name is resolved again when its records expire, so a change is followed within
    seconds, not at the next interval."""
    port = gwtest.free_port()
    with origin_on("127.0.0.2", port), origin_on("127.0.0.3", port):
        dns = Dnsmasq(["127.0.0.2 orders.test"])
        cfg = config(port, dns)
        cfg["discovery"]["interval"] = "10m"
        with Gantry(cfg) as g:
            gwtest.wait_until(lambda: target_urls(g) == ["http://127.0.0.2:%d" % port], 10,
                              message="first address")
            dns.write_hosts(["127.0.0.3 orders.test"])
            dns.reload()
            gwtest.wait_until(lambda: target_urls(g) == ["http://127.0.0.3:%d" % port], 15,
                              message="the change followed at the records' TTL")
            assert request(g.port, "GET", "/orders/echo").status == 200


def test_dns_srv_records_give_ports_and_weights():
    with Origin() as a, Origin() as b:
        dns = Dnsmasq(
            ["127.0.0.1 a.orders.test", "127.0.0.1 b.orders.test"],
            srv=[
                "_http._tcp.orders.test,a.orders.test,%d,0,5" % a.port,
                "_http._tcp.orders.test,b.orders.test,%d,0,1" % b.port,
            ],
        )
        with Gantry(config(0, dns, kind="dns_srv", host="_http._tcp.orders.test")) as g:
            gwtest.wait_until(lambda: len(target_urls(g)) == 2, 10, message="SRV targets")
            got = targets(g)
            assert got == sorted(
                [("http://127.0.0.1:%d" % a.port, 5), ("http://127.0.0.1:%d" % b.port, 1)]
            ), got
            ports = {request(g.port, "GET", "/orders/echo").header("X-Origin-Port")
                     for _ in range(30)}
            assert ports == {str(a.port), str(b.port)}, ports


def test_discovery_config_errors():
    bad = {"services": [{"name": "s", "prefix": "/s", "discovery": "mdns",
                         "targets": ["http://x.test:1"]}],
           "discovery": {"resolver": "dns.example:53", "interval": "10ms"}}
    path = os.path.join(_mkdtemp("disc"), "bad.json")
    import json
    with open(path, "w") as f:
        json.dump(bad, f)
    r = gwtest.run_gantry(["check", path])
    assert r.returncode == 1
    out = r.stdout + r.stderr
    assert "services[0].discovery" in out and "discovery.resolver" in out, out
    assert "discovery.interval" in out, out


if __name__ == "__main__":
    gwtest.main(globals())
