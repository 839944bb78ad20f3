#!/usr/bin/env python3
"""The HTTPS listener's certificates: a reload with a key that does not match is refused
(the old certificate serves on), gantry check warns about expiry, an OCSP staple is checked
and served, and a reload swaps the certificate under HTTPS load without a failed request.
"""

import json
import os
import re
import shutil
import signal
import socket
import ssl
import threading

import gwtest
from gwtest import Gantry, Origin
from gwtest.tls_listener import cert, curl, path, s_client, sh, tls_config, tls_port


def reload_refused(g, cfg):
    """Writes cfg and sends SIGHUP: what gantry wrote to stderr since, once it refused the
    reload."""
    g.write_config(cfg)
    off = len(g.stderr())
    g.signal(signal.SIGHUP)
    return gwtest.wait_until(
        lambda: g.stderr()[off:] if "reload refused" in g.stderr()[off:] else None, 10,
        message="reload refused")


def test_bad_certificate_reload_is_refused_and_old_one_serves():
    with Origin() as o, Gantry(tls_config(o)) as g:
        cfg = dict(g.config)
        tls = dict(cfg["tls"])
        tls["certificates"] = [{"cert": path("a.pem"), "key": path("stray.key")}]
        cfg["tls"] = tls
        text = reload_refused(g, cfg)
        assert re.search(r"gantry\.json:\d+:\d+: tls\.certificates\[0\]\.cert: .*stray\.key: the "
                         r"key does not match", text), text
        rc, out = curl(g, "a.test")
        assert rc == 0, out
        # gantry check says the same, with the position
        rc2 = gwtest.run_gantry(["check", g.config_path])
        assert rc2.returncode == 1 and "does not match" in rc2.stderr, rc2


def test_gantry_check_warns_about_expiry():
    with Origin() as o:
        cfg = tls_config(o, certificates=[cert("old")])
        f = path("expired.json")
        with open(f, "w") as fh:
            json.dump(cfg, fh)
        r = gwtest.run_gantry(["check", f])
        assert r.returncode == 0, r
        assert re.search(r"warning: tls\.certificates\[0\]: .*old\.pem .* expired \d+ day",
                         r.stdout), r.stdout
        cfg = tls_config(o)
        with open(f, "w") as fh:
            json.dump(cfg, fh)
        r = gwtest.run_gantry(["check", f])
        assert r.returncode == 0 and "expires in" in r.stdout, r.stdout  # 30-day test certs
        with Gantry(tls_config(o, certificates=[cert("old")])) as g:
            rc, out = curl(g, "a.test")
            assert rc == 60 and "expired" in out, out  # served as configured; clients refuse


def make_ocsp(leaf, out, days="7"):
    """A DER OCSP response from the test CA saying leaf.pem is good (openssl ocsp as responder)."""
    serial = sh(["openssl", "x509", "-in", path(leaf + ".pem"), "-noout", "-serial"])[1]
    serial = serial.strip().split("=", 1)[1]
    with open(path("ocsp-index.txt"), "w") as f:
        f.write("V\t301231000000Z\t\t%s\tunknown\t/CN=%s\n" % (serial, leaf))
    rc, o = sh(["openssl", "ocsp", "-issuer", path("ca.pem"), "-cert", path(leaf + ".pem"),
                "-reqout", path(out + ".req")])
    assert rc == 0, o
    rc, o = sh(["openssl", "ocsp", "-index", path("ocsp-index.txt"), "-rsigner", path("ca.pem"),
                "-rkey", path("ca.key"), "-CA", path("ca.pem"), "-reqin", path(out + ".req"),
                "-respout", path(out), "-ndays", days])
    assert rc == 0, o


def test_ocsp_staple_is_checked_by_check_and_served():
    # gantry check refuses what the server would refuse (no file, not OCSP, a response about
    # another certificate), with the key's position; a good one is stapled
    make_ocsp("a", "a.ocsp")
    make_ocsp("api", "api.ocsp")
    with open(path("a-chain.pem"), "w") as f:
        f.write(open(path("a.pem")).read() + open(path("ca.pem")).read())
    with open(path("garbage.ocsp"), "w") as f:
        f.write("garbage\n")
    for staple, want in (("missing.ocsp", "cannot open"),
                         ("garbage.ocsp", "not a DER OCSP response"),
                         ("api.ocsp", "not for the certificate")):
        cfg = tls_config(1234)
        cfg["tls"]["certificates"] = [{"cert": path("a-chain.pem"), "key": path("a.key"),
                                       "ocsp_staple": path(staple)}]
        p = path("ocsp-" + staple + ".json")
        with open(p, "w") as f:
            json.dump(cfg, f, indent=1)
        r = gwtest.run_gantry(["check", p])
        assert r.returncode != 0, (staple, r.stdout, r.stderr)
        assert re.search(r"ocsp-%s\.json:\d+:\d+: tls\.certificates\[0\]\.ocsp_staple: .*%s"
                         % (re.escape(staple), want), r.stderr), (staple, r.stderr)
    with Origin() as o:
        cfg = tls_config(o)
        cfg["tls"]["certificates"] = [{"cert": path("a-chain.pem"), "key": path("a.key"),
                                       "ocsp_staple": path("a.ocsp")}]
        with Gantry(cfg) as g:
            rc, out = s_client(g, "-servername", "a.test", "-status")
            assert "OCSP Response Status: successful" in out, out
            assert "Cert Status: good" in out, out
            # a reload with a staple for another certificate is refused where it is
            bad = dict(cfg)
            bad["tls"] = dict(cfg["tls"])
            bad["tls"]["certificates"] = [{"cert": path("a-chain.pem"), "key": path("a.key"),
                                           "ocsp_staple": path("api.ocsp")}]
            text = reload_refused(g, bad)
            assert re.search(r":\d+:\d+: tls\.certificates\[0\]\.ocsp_staple: .*not for the "
                             r"certificate", text), text
            rc, out = s_client(g, "-servername", "a.test", "-status")
            assert "Cert Status: good" in out, out


class HttpsLoad:
    """Client threads doing HTTPS GETs (keep-alive and a new connection per request) until
    stop(); every failure is recorded."""

    def __init__(self, port, nkeep=3, nfresh=3):
        self.port = port
        self.ok = 0
        self.failures = []
        self.serials = set()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        ctx = ssl.create_default_context(cafile=path("ca.pem"))
        self.ctx = ctx
        self.threads = [threading.Thread(target=self.keepalive, daemon=True)
                        for _ in range(nkeep)]
        self.threads += [threading.Thread(target=self.fresh, daemon=True) for _ in range(nfresh)]
        for t in self.threads:
            t.start()

    def _connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return self.ctx.wrap_socket(s, server_hostname="a.test")

    def _get(self, s, close):
        s.sendall(b"GET /echo/l HTTP/1.1\r\nHost: a.test\r\n%s\r\n" %
                  (b"Connection: close\r\n" if close else b""))
        f = s.makefile("rb")
        status = f.readline()
        n = None
        keep = True
        while True:
            line = f.readline()
            if line in (b"\r\n", b""):
                break
            k, _, v = line.decode().partition(":")
            if k.lower() == "content-length":
                n = int(v)
            if k.lower() == "connection" and "close" in v.lower():
                keep = False
        body = f.read(n) if n is not None else b""
        if not status.startswith(b"HTTP/1.1 200") or n is None or len(body) != n:
            raise RuntimeError("bad response %r" % status)
        with self.lock:
            self.ok += 1
            der = s.getpeercert(binary_form=True)
            self.serials.add(ssl.DER_cert_to_PEM_cert(der)[-80:])
        return keep

    def keepalive(self):
        s = None
        while not self.stopping.is_set():
            try:
                if s is None:
                    s = self._connect()
                if not self._get(s, False):
                    s.close()
                    s = None
            except Exception as e:  # noqa: BLE001
                with self.lock:
                    self.failures.append("keepalive: %r" % e)
                s = None
        if s:
            s.close()

    def fresh(self):
        while not self.stopping.is_set():
            try:
                s = self._connect()
                self._get(s, True)
                s.close()
            except Exception as e:  # noqa: BLE001
                with self.lock:
                    self.failures.append("fresh: %r" % e)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(15)


@gwtest.timeout(120)
def test_reload_swaps_the_certificate_under_load_without_a_failed_request():
    live_cert, live_key = path("live.pem"), path("live.key")
    shutil.copy(path("a.pem"), live_cert)
    shutil.copy(path("a.key"), live_key)
    with Origin() as o, Gantry(tls_config(o, certificates=[{"cert": live_cert,
                                                              "key": live_key}])) as g:
        load = HttpsLoad(tls_port(g))
        try:
            gwtest.wait_until(lambda: load.ok >= 50, 30, message="load running")
            for i in range(6):
                src = "a2" if i % 2 == 0 else "a"
                # the files change under the same config; SIGHUP re-reads them
                shutil.copy(path(src + ".key"), live_key + ".tmp")
                shutil.copy(path(src + ".pem"), live_cert + ".tmp")
                os.replace(live_key + ".tmp", live_key)
                os.replace(live_cert + ".tmp", live_cert)
                off = len(g.stderr())
                g.signal(signal.SIGHUP)
                gwtest.wait_until(lambda: "configuration reloaded" in g.stderr()[off:], 10,
                                  message="reload %d" % i)
                want = load.ok + 30
                gwtest.wait_until(lambda: load.ok >= want, 30, message="requests after reload")
        finally:
            load.stop()
        assert not load.failures, load.failures[:5]
        assert load.ok > 200, load.ok
        assert len(load.serials) == 2, "both certificates were served"


if __name__ == "__main__":
    gwtest.main(globals())
