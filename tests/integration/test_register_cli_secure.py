#!/usr/bin/env python3
"""`gantry register` over https:// and with --encryption-key, the real binary as the registering
client against the real binary as the gateway:

- https:// registry URL: the admin API behind gantry's own TLS listener (a service routing
  /api/registrations to the admin listener), with a CA and certificate made by the openssl
  command. Verified by default: refused (exit 3, the verification error) without --ca-file,
  registered with --ca-file, and with --insecure; --ca-file / --insecure on http:// are bad
  usage (exit 2).
- --encryption-key: every byte the client sends passes a recording relay in front of the admin
  listener; the token is not among them (only "sealed_token"), yet the backend receives it
  in the configured header; the same through $ENCRYPTION_KEY, a key the gateway does not
  have is refused (400 on sealed_token, exit 1), and the gateway's previous_keys open it."""

import json
import os
import socket
import subprocess
import tempfile
import threading

import gwtest
from gwtest import Gantry, Origin, request

KEY = "register-secure-key"
ENC = "c4" * 32
OLD = "5e" * 32
TOKEN = "tok-Sealed.77b2e"
TMP = tempfile.mkdtemp(prefix="gw-register-tls-")


def path(name):
    return os.path.join(TMP, name)


def sh(args):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    assert p.returncode == 0, p.stdout.decode("utf-8", "replace")


def make_certs():
    sh(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-days", "30", "-subj", "/CN=gantry register test CA", "-keyout",
        path("ca.key"), "-out", path("ca.pem"), "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    sh(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-subj", "/CN=localhost", "-keyout", path("gw.key"), "-out", path("gw.csr")])
    with open(path("gw.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost\n")
    sh(["openssl", "x509", "-req", "-in", path("gw.csr"), "-CA", path("ca.pem"), "-CAkey",
        path("ca.key"), "-CAcreateserial", "-days", "30", "-out", path("gw.pem"), "-extfile",
        path("gw.ext")])


make_certs()


def gateway_config(origin, tls=False, **registration):
    admin_port = gwtest.free_port()
    cfg = gwtest.simple_config(origin, prefix="/file", name="filesvc")
    cfg["admin"] = {"listen": "127.0.0.1:%d" % admin_port, "api_key": KEY}
    cfg["registration"] = dict(
        {"publish_interval": "20ms", "encryption_key": ENC, "defaults": {"strip_prefix": True}},
        **registration
    )
    if tls:
        # The admin API reached through gantry's TLS listener, as a TLS terminator would.
        cfg["tls"] = {
            "listen": "127.0.0.1:%d" % gwtest.free_port(),
            "certificates": [{"cert": path("gw.pem"), "key": path("gw.key")}],
        }
        cfg["services"].append({
            "name": "registry",
            "prefix": "/api/registrations",
            "targets": ["http://127.0.0.1:%d" % admin_port],
        })
    return cfg


def tls_port(g):
    return int(g.config["tls"]["listen"].rsplit(":", 1)[1])


def routed_to(g, p, origin):
    r = request(g.port, "GET", p)
    return r.status == 200 and r.header("X-Origin-Port") == str(origin.port)


def upstream_auth(g, p):
    r = request(g.port, "GET", p, headers={"Authorization": "Bearer from-client"})
    return [v for n, v in r.json()["headers"] if n.lower() == "authorization"]


def register(args, env=None):
    full = {"ADMIN_API_KEY": KEY}
    full.update(env or {})
    return gwtest.run_gantry(["register"] + args, env=full)


class Relay:
    """A TCP relay on a free loopback port to target_port that records every byte the client
    sends (what would travel on the network)."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.sent = bytearray()
        self.lock = threading.Lock()
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pump, args=(c, u, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c, False), daemon=True).start()

    def _pump(self, src, dst, record):
        try:
            while True:
                b = src.recv(65536)
                if not b:
                    break
                if record:
                    with self.lock:
                        self.sent += b
                dst.sendall(b)
        except OSError:
            pass
        for s in (dst,):
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def close(self):
        self.lsock.close()


def test_https_registry_verified_by_default():
    with Origin() as f, Origin() as b, Gantry(gateway_config(f, tls=True)) as g:
        base = ["--name", "orders", "--prefix", "/orders", "--backend-url", b.target()["url"]]
        url = "https://localhost:%d" % tls_port(g)
        # verified against the system's store only: this CA is unknown
        r = register(base + ["--registry-url", url])
        assert r.returncode == 3, r.stderr
        assert "certificate not verified: unable to get local issuer certificate" in r.stderr, \
            r.stderr
        assert request(g.port, "GET", "/orders/echo").status == 404
        # the name is verified too: the certificate is for localhost, not 127.0.0.1
        r = register(base + ["--registry-url", "https://127.0.0.1:%d" % tls_port(g),
                             "--ca-file", path("ca.pem")])
        assert r.returncode == 3 and "certificate not verified" in r.stderr, r.stderr
        # with the CA: registered, routed, token sent upstream
        r = register(base + ["--registry-url", url, "--ca-file", path("ca.pem"),
                             "--backend-token", TOKEN])
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["has_token"] is True, r.stdout
        gwtest.wait_until(lambda: routed_to(g, "/orders/echo", b), 10, message="routed")
        assert upstream_auth(g, "/orders/echo") == ["Bearer " + TOKEN]
        # --insecure: not verified, still encrypted (and said so)
        r = register(["--name", "lax", "--prefix", "/lax", "--backend-url", b.target()["url"],
                      "--registry-url", "https://127.0.0.1:%d" % tls_port(g), "--insecure"])
        assert r.returncode == 0, r.stderr
        assert "--insecure: the gateway's certificate is not verified" in r.stderr
        gwtest.wait_until(lambda: routed_to(g, "/lax/echo", b), 10, message="routed")
        # a daemon over https deregisters over https on SIGTERM
        log = path("daemon.log")
        with open(log, "wb") as err:
            d = subprocess.Popen(
                [gwtest.gantry_bin(), "register"] + base + [
                    "--registry-url", url, "--ca-file", path("ca.pem"), "--daemon",
                    "--interval", "10m", "--api-key", KEY],
                stderr=err)
            try:
                gwtest.wait_until(lambda: "renewed: registration" in open(log).read(), 15,
                                  message="the daemon renewed over https")
            finally:
                d.terminate()
                d.wait(timeout=15)
        text = open(log).read()
        assert d.returncode == 0, text
        assert "stopping: deregistered" in text, text
        gwtest.wait_until(lambda: request(g.port, "GET", "/orders/echo").status == 404, 10)
    # bad usage: these flags are for https://
    for extra in (["--ca-file", path("ca.pem")], ["--insecure"]):
        r = register(["--name", "a", "--prefix", "/a", "--backend-port", "1",
                      "--registry-url", "http://127.0.0.1:1"] + extra)
        assert r.returncode == 2 and "is for an https:// --registry-url" in r.stderr, r.stderr
    r = register(["--name", "a", "--prefix", "/a", "--backend-port", "1",
                  "--registry-url", "https://127.0.0.1:1", "--ca-file", path("missing.pem")])
    assert r.returncode == 2 and "--ca-file" in r.stderr, r.stderr


def test_encryption_key_seals_the_token_before_it_travels():
    with Origin() as f, Origin() as b, Gantry(gateway_config(f)) as g:
        relay = Relay(g.admin_port)
        try:
            base = ["--name", "orders", "--prefix", "/orders", "--backend-url", b.target()["url"],
                    "--registry-url", "http://127.0.0.1:%d" % relay.port,
                    "--backend-token-env", "ORDERS_TOKEN"]
            r = register(base + ["--encryption-key", ENC], env={"ORDERS_TOKEN": TOKEN})
            assert r.returncode == 0, r.stderr
            assert "the backend token is sealed here with key" in r.stderr, r.stderr
            assert TOKEN not in r.stderr and TOKEN not in r.stdout
            assert json.loads(r.stdout)["has_token"] is True
            with relay.lock:
                sent = bytes(relay.sent)
            assert b'"sealed_token":"v1.' in sent, sent
            assert TOKEN.encode() not in sent, sent
            assert ENC.encode() not in sent  # nor the key
            gwtest.wait_until(lambda: routed_to(g, "/orders/echo", b), 10, message="routed")
            assert upstream_auth(g, "/orders/echo") == ["Bearer " + TOKEN]
            # a key the gateway does not have: refused, with the key at fault
            r = register(base + ["--encryption-key", "77" * 32], env={"ORDERS_TOKEN": TOKEN})
            assert r.returncode == 1, r.stderr
            assert "400" in r.stderr and "does not open with any key" in r.stderr, r.stderr
            # not a key at all: bad usage, nothing sent
            r = register(base + ["--encryption-key", "abc"], env={"ORDERS_TOKEN": TOKEN})
            assert r.returncode == 2 and "64 hex" in r.stderr, r.stderr
            # $ENCRYPTION_KEY is the default when a token is given
            with relay.lock:
                relay.sent.clear()
            r = register(base, env={"ORDERS_TOKEN": TOKEN + "2", "ENCRYPTION_KEY": ENC})
            assert r.returncode == 0, r.stderr
            with relay.lock:
                sent = bytes(relay.sent)
            assert b'"sealed_token":"v1.' in sent and (TOKEN + "2").encode() not in sent, sent
            gwtest.wait_until(lambda: upstream_auth(g, "/orders/echo") == ["Bearer " + TOKEN + "2"],
                              10, message="new token published")
            # --encryption-key without a token is bad usage
            r = register(["--name", "n", "--prefix", "/n", "--backend-port", "1",
                          "--registry-url", "http://127.0.0.1:1", "--encryption-key", ENC])
            assert r.returncode == 2 and "seals the backend token" in r.stderr, r.stderr
        finally:
            relay.close()
    # a gateway whose key changed opens a token sealed under its previous key
    with Origin() as f, Origin() as b, \
            Gantry(gateway_config(f, encryption_key=ENC, previous_keys=[OLD])) as g:
        r = register(["--name", "old", "--prefix", "/old", "--backend-url", b.target()["url"],
                      "--registry-url", "http://127.0.0.1:%d" % g.admin_port,
                      "--backend-token", TOKEN, "--encryption-key-env", "OLD_KEY"],
                     env={"OLD_KEY": OLD})
        assert r.returncode == 0, r.stderr
        gwtest.wait_until(lambda: routed_to(g, "/old/echo", b), 10, message="routed")
        assert upstream_auth(g, "/old/echo") == ["Bearer " + TOKEN]
        assert TOKEN not in g.stderr()


if __name__ == "__main__":
    gwtest.main(globals())
