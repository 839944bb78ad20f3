#!/usr/bin/env python3
"""`gantry register`: the real binary as the registering backend's companion against the real
binary as the gateway. Once (exit statuses, output), --daemon (renews past the TTL, token sent
upstream, SIGTERM deregisters, retries with backoff while the gateway is down and registers
once it is up), --backend-port / --public-ip / --use-public-ip."""

import json
import os
import signal
import subprocess

import gwtest
from gwtest import Gantry, Origin, request
from gwtest.procs import _mkdtemp, _sigterm_then_kill, _spawn, _track, _untrack

KEY = "register-cli-key"
ENC = "c3" * 32
TOKEN = "tok-Backend.31d7a"


def gateway_config(origin, admin_port=None):
    cfg = gwtest.simple_config(origin, prefix="/file", name="filesvc")
    cfg["admin"] = {
        "listen": "127.0.0.1:%d" % (admin_port or gwtest.free_port()),
        "api_key": KEY,
    }
    cfg["registration"] = {
        "publish_interval": "20ms",
        "encryption_key": ENC,
        "defaults": {"strip_prefix": True},
    }
    return cfg


def registry_url(g):
    return "http://127.0.0.1:%d" % g.admin_port


class Registrar:
    """`gantry register ... --daemon` as a subprocess, stderr in a file."""

    def __init__(self, args, env=None):
        self.tmpdir = _mkdtemp("register")
        self.err_path = os.path.join(self.tmpdir, "stderr.log")
        self._err = open(self.err_path, "wb")
        full = dict(os.environ)
        full.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        full.update(env or {})
        self.proc = _spawn(
            [gwtest.gantry_bin(), "register"] + list(args), env=full, stderr=self._err
        )
        _track(self)

    def log(self):
        with open(self.err_path) as f:
            return f.read()

    def wait_log(self, text, count=1, timeout=15):
        gwtest.wait_until(
            lambda: self.log().count(text) >= count,
            timeout,
            message="%d x %r in gantry register's log:\n%s" % (count, text, self.log()),
        )

    def stop(self):
        _sigterm_then_kill(self.proc, 10)
        self._err.close()
        _untrack(self)
        return self.proc.returncode

    def _kill_quietly(self):
        _sigterm_then_kill(self.proc, 10)
        self._err.close()


def routed_to(g, path, origin):
    r = request(g.port, "GET", path)
    return r.status == 200 and r.header("X-Origin-Port") == str(origin.port)


def count(g):
    return g.admin_request("GET", "/api/registrations", headers={"X-API-Key": KEY}).json()["count"]


def register_once(args, env=None):
    return gwtest.run_gantry(["register"] + args, env=env)


def test_daemon_registers_renews_and_deregisters_on_sigterm():
    with Origin() as f, Origin() as b, Gantry(gateway_config(f)) as g:
        d = Registrar(
            [
                "--name", "orders", "--prefix", "/orders", "--registry-url", registry_url(g),
                "--backend-url", b.target()["url"], "--backend-token-env", "ORDERS_TOKEN",
                "--api-key-env", "GW_KEY", "--daemon", "--ttl", "2s", "--interval", "10m",
            ],
            env={"ORDERS_TOKEN": TOKEN, "GW_KEY": KEY},
        )
        d.wait_log("registered: registration")
        gwtest.wait_until(lambda: routed_to(g, "/orders/echo", b), 10, message="routed")
        r = request(g.port, "GET", "/orders/echo", headers={"Authorization": "Bearer client"})
        auth = [v for n, v in r.json()["headers"] if n.lower() == "authorization"]
        assert auth == ["Bearer " + TOKEN], auth
        # the interval is capped at a third of the TTL: renewals keep it past several TTLs
        d.wait_log("renewed: registration", count=6)
        assert routed_to(g, "/orders/echo", b)
        assert "expired" not in g.stderr()
        assert TOKEN not in d.log()
        assert d.stop() == 0, d.log()
        assert "deregistered" in d.log()
        gwtest.wait_until(lambda: request(g.port, "GET", "/orders/echo").status == 404, 10)
        assert count(g) == 0


def test_daemon_retries_until_the_gateway_is_up():
    admin_port = gwtest.free_port()
    with Origin() as f, Origin() as b:
        d = Registrar(
            [
                "--name", "late", "--prefix", "/late", "--registry-url",
                "http://127.0.0.1:%d" % admin_port, "--backend-url", b.target()["url"],
                "--daemon", "--interval", "30s",
            ],
            env={"ADMIN_API_KEY": KEY},
        )
        d.wait_log("cannot be reached", count=2)
        assert "retrying in 1000 ms" in d.log() and "retrying in 2000 ms" in d.log(), d.log()
        with Gantry(gateway_config(f, admin_port)) as g:
            d.wait_log("registered: registration")
            gwtest.wait_until(lambda: routed_to(g, "/late/echo", b), 10, message="routed")
            assert d.stop() == 0, d.log()
            gwtest.wait_until(lambda: request(g.port, "GET", "/late/echo").status == 404, 10)


def test_sigterm_while_the_gateway_is_down_exits_3():
    d = Registrar(
        [
            "--name", "x", "--prefix", "/x", "--registry-url",
            "http://127.0.0.1:%d" % gwtest.free_port(), "--backend-port", "8080", "--daemon",
        ]
    )
    d.wait_log("retrying in")
    assert d.stop() == 0  # never registered: nothing to remove
    assert "not registered, nothing to remove" in d.log()


def test_once_exit_statuses():
    with Origin() as f, Origin() as b, Gantry(gateway_config(f)) as g:
        base = ["--name", "one", "--prefix", "/one", "--registry-url", registry_url(g)]
        r = register_once(base + ["--backend-url", b.target()["url"], "--api-key", KEY,
                                  "--ttl", "60s", "--weight", "3"])
        assert r.returncode == 0, r.stderr
        reg = json.loads(r.stdout)
        assert reg["url"] == b.target()["url"] and reg["weight"] == 3 and reg["ttl"] == 60, reg
        gwtest.wait_until(lambda: routed_to(g, "/one/echo", b), 10, message="routed")
        # --backend-port with --public-ip: the URL is built from them
        r = register_once(base + ["--backend-port", str(b.port), "--public-ip", "127.0.0.1",
                                  "--api-key", KEY])
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["url"] == "http://127.0.0.1:%d" % b.port
        # --use-public-ip: an address of this machine's interfaces, never loopback
        r = register_once(["--name", "pub", "--prefix", "/pub", "--registry-url", registry_url(g),
                           "--backend-port", "8081", "--use-public-ip", "--api-key", KEY])
        if "no interface has an address" in r.stderr:
            assert r.returncode == 2
        else:
            assert "--use-public-ip:" in r.stderr, r.stderr
            if r.returncode == 0:  # the gateway must resolve it, which it does for an address
                url = json.loads(r.stdout)["url"]
                assert url.endswith(":8081") and "127.0.0.1" not in url, url
        # refused: wrong key (1), bad input (1)
        r = register_once(base + ["--backend-url", b.target()["url"], "--api-key", "wrong"])
        assert r.returncode == 1 and "401" in r.stderr, r.stderr
        r = register_once(base + ["--backend-url", b.target()["url"], "--api-key", KEY,
                                  "--ttl", "9999h"])
        assert r.returncode == 1 and "400" in r.stderr, r.stderr
        # the prefix of the file's service belongs to it: 409
        r = register_once(["--name", "thief", "--prefix", "/file", "--registry-url",
                           registry_url(g), "--backend-url", b.target()["url"], "--api-key", KEY])
        assert r.returncode == 1 and "409" in r.stderr, r.stderr
    # unreachable (3) and bad usage (2)
    r = register_once(["--name", "a", "--prefix", "/a", "--registry-url",
                       "http://127.0.0.1:%d" % gwtest.free_port(), "--backend-port", "1"])
    assert r.returncode == 3 and "cannot be reached" in r.stderr, r.stderr
    r = register_once(["--name", "a", "--prefix", "/a"])
    assert r.returncode == 2 and "required" in r.stderr
    r = register_once(["--name", "a", "--prefix", "/a", "--registry-url", "http://h:1",
                       "--backend-port", "99999"])
    assert r.returncode == 2 and "--backend-port" in r.stderr
    r = register_once(["--help"])
    assert r.returncode == 0 and "--daemon" in r.stdout and "--use-public-ip" in r.stdout
    r = gwtest.run_gantry(["--help"])
    assert "gantry register" in r.stdout


if __name__ == "__main__":
    gwtest.main(globals())
