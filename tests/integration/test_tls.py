#!/usr/bin/env python3
"""The HTTPS listener (issue 15, "TLS downstream"), with real clients: curl, openssl s_client,
sslscan, and Python's ssl module for the load.

Certificates are made with the openssl command in the test's temp dir: a CA, leaves for
a.test (the default), *.example.com and api.example.com, an expired one, a replacement for
a.test (the reload swap), and keys that match nothing.
"""

import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import gwtest
from gwtest import Gantry, Origin, request

TMP = tempfile.mkdtemp(prefix="gw-tls-")


def sh(args, inp=None, timeout=30):
    p = subprocess.run(
        args, input=inp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout
    )
    return p.returncode, p.stdout.decode("utf-8", "replace")


def path(name):
    return os.path.join(TMP, name)


def make_ca():
    rc, out = sh(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "30", "-subj", "/CN=gantry test CA", "-keyout", path("ca.key"),
         "-out", path("ca.pem"), "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
    )
    assert rc == 0, out


def make_leaf(name, cn, sans, days="30", start=None):
    """A leaf signed by the CA: name.pem / name.key. start: a notBefore like 20200101000000Z
    (with days from then) for an expired certificate."""
    rc, out = sh(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                  "-nodes", "-subj", "/CN=" + cn, "-keyout", path(name + ".key"),
                  "-out", path(name + ".csr")])
    assert rc == 0, out
    ext = path(name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=" + ",".join("DNS:" + s for s in sans) + "\n")
    if start:
        # "openssl ca" can backdate; "x509 -req" cannot: use a minimal CA config.
        db = path(name + ".db")
        open(db, "w").close()
        conf = path(name + ".cnf")
        with open(conf, "w") as f:
            f.write("[ca]\ndefault_ca=c\n[c]\ndatabase=%s\nnew_certs_dir=%s\nserial=%s\n"
                    "default_md=sha256\npolicy=p\ncopy_extensions=copy\n[p]\ncommonName=supplied\n"
                    % (db, TMP, path(name + ".srl")))
        with open(path(name + ".srl"), "w") as f:
            f.write("01\n")
        rc, out = sh(["openssl", "ca", "-batch", "-config", conf, "-cert", path("ca.pem"),
                      "-keyfile", path("ca.key"), "-in", path(name + ".csr"),
                      "-out", path(name + ".pem"), "-startdate", start, "-enddate",
                      "20200201000000Z", "-extfile", ext, "-notext"])
    else:
        rc, out = sh(["openssl", "x509", "-req", "-in", path(name + ".csr"), "-CA",
                      path("ca.pem"), "-CAkey", path("ca.key"), "-CAcreateserial", "-days",
                      days, "-out", path(name + ".pem"), "-extfile", ext])
    assert rc == 0, out


make_ca()
make_leaf("a", "a.test", ["a.test"])
make_leaf("a2", "a.test", ["a.test"])  # the replacement certificate for the reload test
make_leaf("wild", "*.example.com", ["*.example.com"])
make_leaf("api", "api.example.com", ["api.example.com"])
make_leaf("old", "a.test", ["a.test"], start="20200101000000Z")
sh(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
    path("stray.key")])


def cert(name, names=None):
    c = {"cert": path(name + ".pem"), "key": path(name + ".key")}
    if names:
        c["server_names"] = names
    return c


def tls_config(origin, **tls):
    t = {
        "listen": "127.0.0.1:%d" % gwtest.free_port(),
        "certificates": [cert("a"), cert("wild", ["*.example.com"]),
                         cert("api", ["api.example.com"])],
    }
    t.update(tls)
    return gwtest.simple_config(origin, tls=t, log={"access": "stdout", "level": "debug"})


def tls_port(g):
    return int(g.config["tls"]["listen"].rsplit(":", 1)[1])


def curl(g, host, urlpath="/echo/x", extra=()):
    """HTTP/1.1 over TLS (ALPN would pick h2, which test_http2.py covers)."""
    port = tls_port(g)
    return sh(["curl", "-sS", "--http1.1", "--max-time", "10", "--cacert", path("ca.pem"),
               "--resolve",
               "%s:%d:127.0.0.1" % (host, port), "-D", "-",
               "https://%s:%d%s" % (host, port, urlpath)] + list(extra))


def s_client(g, *args, inp=b"", timeout=15):
    return sh(["openssl", "s_client", "-connect", "127.0.0.1:%d" % tls_port(g),
               "-CAfile", path("ca.pem")] + list(args), inp=inp, timeout=timeout)


def subject_cn(out):
    m = re.search(r"subject=.*?CN ?= ?([^,\n]+)", out)
    return m.group(1).strip() if m else None


def metric(g, name):
    r = g.admin_request("GET", "/metrics")
    total = 0
    for line in r.body.decode().splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_https_request_is_proxied_and_secure():
    with Origin() as o, Gantry(tls_config(o)) as g:
        rc, out = curl(g, "a.test", "/echo/hi?x=1")
        assert rc == 0, out
        assert re.search(r"^HTTP/1.1 200", out, re.M), out
        body = json.loads(out.split("\r\n\r\n", 1)[1])
        assert body["path"] == "/echo/hi?x=1", body
        hdrs = {k.lower(): v for k, v in body["headers"].items()} if isinstance(
            body.get("headers"), dict) else {}
        if hdrs:
            assert hdrs.get("x-forwarded-proto") == "https", hdrs
        # HSTS only over TLS (security headers use r->secure); a 404 of gantry's own too
        assert re.search(r"^strict-transport-security:", out, re.M | re.I), out
        plain = request(g.port, "GET", "/echo/hi")
        assert plain.status == 200 and plain.header("Strict-Transport-Security") is None
        rc, out = curl(g, "a.test", "/nothing-here", ["-X", "DELETE"])
        assert rc == 0 and "strict-transport-security" in out.lower(), out
        assert metric(g, "gantry_tls_handshakes_total") >= 2


def test_forwarded_proto_is_https():
    with Origin() as o, Gantry(tls_config(o)) as g:
        rc, out = curl(g, "a.test", "/echo/p", ["-H", "X-Forwarded-Proto: http"])
        assert rc == 0, out
        reqs = o.last_requests()
        last = reqs[-1]
        h = {k.lower(): v for k, v in last["headers"].items()} if isinstance(
            last["headers"], dict) else {k.lower(): v for k, v in last["headers"]}
        assert h["x-forwarded-proto"] == "https", h


def test_sni_selects_the_certificate():
    with Origin() as o, Gantry(tls_config(o)) as g:
        for sni, want in [("a.test", "a.test"), ("x.example.com", "*.example.com"),
                          ("api.example.com", "api.example.com"),
                          ("unknown.test", "a.test"), ("a.b.example.com", "a.test")]:
            rc, out = s_client(g, "-servername", sni)
            assert subject_cn(out) == want, (sni, out)
        rc, out = s_client(g, "-noservername")
        assert subject_cn(out) == "a.test", out
        # curl verifies name and chain: right name passes, a name on no certificate fails
        rc, out = curl(g, "x.example.com")
        assert rc == 0, out
        rc, out = curl(g, "wrong.test")
        assert rc == 60 and "wrong.test" in out, (rc, out)  # the default certificate


def test_alpn():
    with Origin() as o, Gantry(tls_config(o)) as g:
        # HTTP/2 is on by default: h2 is preferred, http/1.1 still offered.
        rc, out = s_client(g, "-alpn", "h2,http/1.1")
        assert "ALPN protocol: h2" in out, out
        rc, out = s_client(g, "-alpn", "http/1.1")
        assert "ALPN protocol: http/1.1" in out, out
        # RFC 7301 3.2: a client offering only protocols we do not speak gets the fatal
        # no_application_protocol alert; one that sends no ALPN at all gets HTTP/1.1
        for offer in ("spdy/3", "foo,bar"):
            rc, out = s_client(g, "-alpn", offer, inp=b"GET /echo/x HTTP/1.1\r\nHost: a\r\n\r\n")
            assert rc != 0 and "no application protocol" in out, out
            assert "HTTP/1.1 200" not in out, out
        rc, out = s_client(g, "-ign_eof",
                           inp=b"GET /echo/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        assert "No ALPN negotiated" in out and "HTTP/1.1 200" in out, out
    with Origin() as o:
        cfg = tls_config(o)
        cfg["http2"] = False
        with Gantry(cfg) as g:
            rc, out = s_client(g, "-alpn", "h2,http/1.1")
            assert "ALPN protocol: http/1.1" in out, out
            rc, out = s_client(g, "-alpn", "h2")  # h2 is off: nothing we speak
            assert rc != 0 and "no application protocol" in out, out


def test_versions_and_ciphers():
    with Origin() as o, Gantry(tls_config(o)) as g:
        rc, out = s_client(g, "-tls1_2")
        assert "Protocol  : TLSv1.2" in out and "ECDHE" in out, out
        rc, out = s_client(g, "-tls1_3")
        assert "New, TLSv1.3, Cipher is" in out, out
        before = metric(g, "gantry_tls_handshake_failures_total")
        rc, out = s_client(g, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
        assert "Cipher is (NONE)" in out or rc != 0, out
        rc, out = s_client(g, "-tls1_2", "-cipher", "AES128-SHA")  # no forward secrecy
        assert "Cipher is (NONE)" in out or rc != 0, out
        gwtest.wait_until(lambda: metric(g, "gantry_tls_handshake_failures_total") >= before + 2,
                          5, message="handshake failures counted")
        assert "TLS handshake failed" in g.stderr(), g.stderr()[-2000:]
    with Origin() as o, Gantry(tls_config(o, min_version="1.3")) as g:
        rc, out = s_client(g, "-tls1_2")
        assert "Cipher is (NONE)" in out or rc != 0, out
        rc, out = s_client(g, "-tls1_3")
        assert "New, TLSv1.3, Cipher is" in out, out


def fetch_with_session(g, sess_in=None, sess_out=None, proto="-tls1_3", name="x.example.com"):
    """One request over s_client (so a TLS 1.3 ticket arrives before the connection ends)."""
    args = [proto, "-servername", name, "-ign_eof"]
    if sess_in:
        args += ["-sess_in", sess_in]
    if sess_out:
        args += ["-sess_out", sess_out]
    req = b"GET /echo/r HTTP/1.1\r\nHost: x.example.com\r\nConnection: close\r\n\r\n"
    rc, out = s_client(g, *args, inp=req)
    assert "HTTP/1.1 200" in out, out
    return out


def test_session_resumption_tickets_and_cache_survive_reload():
    with Origin() as o, Gantry(tls_config(o)) as g:
        for proto in ("-tls1_3", "-tls1_2"):
            sess = path("sess" + proto)
            out = fetch_with_session(g, sess_out=sess, proto=proto)
            assert "New," in out, out
            out = fetch_with_session(g, sess_in=sess, proto=proto)
            assert "Reused," in out, out
            # RFC 6066 3: never resumed under another server name (a full handshake instead),
            # even one the same certificate serves
            out = fetch_with_session(g, sess_in=sess, proto=proto, name="y.example.com")
            assert "New," in out and "Reused," not in out, (proto, out)
            # a reload builds new contexts; the ticket keys are the process's
            off = len(g.stderr())
            g.signal(signal.SIGHUP)
            gwtest.wait_until(lambda: "configuration reloaded" in g.stderr()[off:], 10,
                              message="reload")
            out = fetch_with_session(g, sess_in=sess, proto=proto)
            assert "Reused," in out, (proto, out)
        assert metric(g, "gantry_tls_resumed_total") >= 4
    # without tickets, TLS 1.2 resumes from the session cache
    with Origin() as o, Gantry(tls_config(o, session_tickets=False)) as g:
        sess = path("sess-cache")
        fetch_with_session(g, sess_out=sess, proto="-tls1_2")
        out = fetch_with_session(g, sess_in=sess, proto="-tls1_2")
        assert "Reused," in out, out
        out = fetch_with_session(g, sess_in=sess, proto="-tls1_2", name="y.example.com")
        assert "New," in out and "Reused," not in out, out


def test_tls13_resumption_gets_a_fresh_ticket():
    # RFC 8446 C.4: a client should use a ticket once. OpenSSL's client keeps the session it
    # resumed with, which does not resume again: without a new ticket after each resumption a
    # client that reconnects in a loop (wrk) does a full handshake every other time.
    with Origin() as o, Gantry(tls_config(o)) as g:
        first, second = path("fresh-1"), path("fresh-2")
        fetch_with_session(g, sess_out=first)
        out = fetch_with_session(g, sess_in=first, sess_out=second)
        assert "Reused," in out, out
        rc, msgs = s_client(g, "-tls1_3", "-servername", "x.example.com", "-sess_in", first,
                            "-msg", "-ign_eof",
                            inp=b"GET /echo/r HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert "Reused," in msgs, msgs
        assert "NewSessionTicket" in msgs, msgs
        # the fresh ticket resumes in turn
        out = fetch_with_session(g, sess_in=second)
        assert "Reused," in out, out


def test_bad_certificate_reload_is_refused_and_old_one_serves():
    with Origin() as o, Gantry(tls_config(o)) as g:
        cfg = dict(g.config)
        tls = dict(cfg["tls"])
        tls["certificates"] = [{"cert": path("a.pem"), "key": path("stray.key")}]
        cfg["tls"] = tls
        g.write_config(cfg)
        off = len(g.stderr())
        g.signal(signal.SIGHUP)
        text = gwtest.wait_until(
            lambda: g.stderr()[off:] if "reload refused" in g.stderr()[off:] else None, 10,
            message="reload refused")
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
            g.write_config(bad)
            off = len(g.stderr())
            g.signal(signal.SIGHUP)
            text = gwtest.wait_until(
                lambda: g.stderr()[off:] if "reload refused" in g.stderr()[off:] else None, 10,
                message="reload refused")
            assert re.search(r":\d+:\d+: tls\.certificates\[0\]\.ocsp_staple: .*not for the "
                             r"certificate", text), text
            rc, out = s_client(g, "-servername", "a.test", "-status")
            assert "Cert Status: good" in out, out


def test_plain_http_to_the_tls_port_is_dropped_and_counted():
    with Origin() as o, Gantry(tls_config(o)) as g:
        before = metric(g, "gantry_tls_handshake_failures_total")
        data = gwtest.raw_exchange(tls_port(g), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 5)
        assert b"HTTP/1.1" not in data, data
        gwtest.wait_until(lambda: metric(g, "gantry_tls_handshake_failures_total") > before, 5,
                          message="failure counted")


def test_redirect_plain_http_to_https():
    with Origin() as o:
        cfg = tls_config(o, redirect_http=["a.test", "*.example.com"])
        with Gantry(cfg) as g:
            port = tls_port(g)
            r = request(g.port, "GET", "/echo/x?y=1", headers={"Host": "a.test:%d" % g.port})
            assert r.status == 308, r
            assert r.header("Location") == "https://a.test:%d/echo/x?y=1" % port, r
            assert r.json()["status"] == 308
            r = request(g.port, "POST", "/up", headers={"Host": "Q.Example.com"}, body=b"x")
            assert r.status == 308 and r.header("Location") == "https://q.example.com:%d/up" % port
            r = request(g.port, "GET", "/echo/x", headers={"Host": "other.test"})
            assert r.status == 200, r
            # a fully qualified name (one trailing dot) is the same host (RFC 3986 3.2.2)
            r = request(g.port, "GET", "/echo/d", headers={"Host": "a.test."})
            assert r.status == 308, r
            assert r.header("Location") == "https://a.test:%d/echo/d" % port, r
            r = request(g.port, "GET", "/echo/d", headers={"Host": "Q.example.com.:80"})
            assert r.status == 308, r
            assert r.header("Location") == "https://q.example.com:%d/echo/d" % port, r
            r = request(g.port, "GET", "/echo/x", headers={"Host": "a.test.."})
            assert r.status != 308, r
            r = request(g.port, "GET", "/health", headers={"Host": "a.test"})
            assert r.status == 200, r  # probes stay on plain HTTP
            rc, out = curl(g, "a.test")  # and HTTPS is not redirected
            assert rc == 0 and "HTTP/1.1 200" in out, out


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


def make_client_cert(name, cn, ca="ca", san="email:alice@example.com,DNS:alice.example",
                     days="30"):
    """A client certificate signed by ca (ca.pem/ca.key, or another CA's files)."""
    rc, out = sh(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                  "-nodes", "-subj", "/O=Example/CN=" + cn, "-keyout", path(name + ".key"),
                  "-out", path(name + ".csr")])
    assert rc == 0, out
    ext = path(name + ".ext")
    with open(ext, "w") as f:
        f.write("extendedKeyUsage=clientAuth\nsubjectAltName=%s\n" % san)
    rc, out = sh(["openssl", "x509", "-req", "-in", path(name + ".csr"), "-CA", path(ca + ".pem"),
                  "-CAkey", path(ca + ".key"), "-CAcreateserial", "-days", days, "-out",
                  path(name + ".pem"), "-extfile", ext])
    assert rc == 0, out


def mtls_curl(g, client=None, headers=()):
    extra = []
    if client:
        extra += ["--cert", path(client + ".pem"), "--key", path(client + ".key")]
    for h in headers:
        extra += ["-H", h]
    return curl(g, "a.test", "/echo/m", extra)


def origin_headers(o):
    last = o.last_requests()[-1]
    hs = last["headers"]
    return {k.lower(): v for k, v in (hs.items() if isinstance(hs, dict) else hs)}


def test_mtls_required_verifies_and_passes_identity_upstream():
    rc, out = sh(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                  "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30", "-subj",
                  "/CN=other CA", "-keyout", path("otherca.key"), "-out", path("otherca.pem"),
                  "-addext", "basicConstraints=critical,CA:TRUE"])
    assert rc == 0, out
    make_client_cert("alice", "alice")
    make_client_cert("mallory", "mallory", ca="otherca")
    with Origin() as o, Gantry(tls_config(o, client_auth={"ca": path("ca.pem")})) as g:
        rc, out = mtls_curl(g, "alice", ["X-Client-Cert-Subject: CN=admin"])
        assert rc == 0 and "HTTP/1.1 200" in out, out
        h = origin_headers(o)
        assert h["x-client-cert-subject"] == "CN=alice,O=Example", h
        assert h["x-client-cert-san"] == "email:alice@example.com, DNS:alice.example", h
        # no certificate, or one from another CA: no handshake
        rc, out = mtls_curl(g)
        assert rc != 0 and "HTTP/1.1" not in out, out
        rc, out = mtls_curl(g, "mallory")
        assert rc != 0 and "HTTP/1.1" not in out, out
        rc, out = s_client(g, "-cert", path("mallory.pem"), "-key", path("mallory.key"),
                           "-tls1_2")
        assert "alert unknown ca" in out or "Cipher is (NONE)" in out, out
        # the plain listener strips the headers too: nobody can forge them
        r = request(g.port, "GET", "/echo/p", headers={"X-Client-Cert-Subject": "CN=admin",
                                                        "x-client-cert-san": "DNS:x"})
        assert r.status == 200
        h = origin_headers(o)
        assert "x-client-cert-subject" not in h and "x-client-cert-san" not in h, h


def test_mtls_optional_and_custom_headers():
    make_client_cert("bob", "bob", san="URI:spiffe://example/bob")
    ca = {"ca": path("ca.pem"), "required": False, "subject_header": "X-SSL-Client",
          "san_header": "X-SSL-Client-SAN"}
    with Origin() as o, Gantry(tls_config(o, client_auth=ca)) as g:
        rc, out = mtls_curl(g, headers=["X-SSL-Client: CN=forged"])
        assert rc == 0 and "HTTP/1.1 200" in out, out
        h = origin_headers(o)
        assert "x-ssl-client" not in h and "x-ssl-client-san" not in h, h
        rc, out = mtls_curl(g, "bob")
        assert rc == 0 and "HTTP/1.1 200" in out, out
        h = origin_headers(o)
        assert h["x-ssl-client"] == "CN=bob,O=Example", h
        assert h["x-ssl-client-san"] == "URI:spiffe://example/bob", h
        rc, out = mtls_curl(g, "mallory")  # optional, but a bad certificate still fails
        assert rc != 0, out


def test_mtls_per_service_with_an_optional_listener():
    # The listener asks for a certificate from either CA and serves clients without one; one
    # service wants any verified certificate, another one from its partners' CA only.
    rc, out = sh(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                  "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30", "-subj",
                  "/CN=partner CA", "-keyout", path("partnerca.key"), "-out",
                  path("partnerca.pem"), "-addext", "basicConstraints=critical,CA:TRUE"])
    assert rc == 0, out
    with open(path("bothca.pem"), "w") as f:
        f.write(open(path("ca.pem")).read() + open(path("partnerca.pem")).read())
    make_client_cert("alice", "alice")
    make_client_cert("partner", "partner", ca="partnerca", san="DNS:partner.example")
    with Origin() as o:
        cfg = tls_config(o, client_auth={"ca": path("bothca.pem"), "required": False})
        targets = cfg["services"][0]["targets"]
        cfg["services"] = [
            {"name": "open", "prefix": "/open", "strip_prefix": True, "targets": targets},
            {"name": "secure", "prefix": "/secure", "strip_prefix": True, "targets": targets,
             "client_cert": True},
            {"name": "partners", "prefix": "/partners", "strip_prefix": True,
             "targets": targets, "client_cert": {"ca": path("partnerca.pem")}},
        ]
        with Gantry(cfg) as g:
            def status(urlpath, client=None, headers=()):
                extra = ["--cert", path(client + ".pem"), "--key", path(client + ".key")] \
                    if client else []
                for h in headers:
                    extra += ["-H", h]
                rc, out = curl(g, "a.test", urlpath, extra)
                assert rc == 0, out
                return int(out.split(" ", 2)[1]), out

            assert status("/open/echo/x")[0] == 200
            code, out = status("/secure/echo/x", headers=["X-Client-Cert-Subject: CN=forged"])
            assert code == 401 and "client certificate required" in out, out
            assert status("/partners/echo/x")[0] == 401
            code, out = status("/secure/echo/x", "alice")
            assert code == 200, out
            assert origin_headers(o)["x-client-cert-subject"] == "CN=alice,O=Example"
            code, out = status("/partners/echo/x", "alice")
            assert code == 403, out
            body = json.loads(out.split("\r\n\r\n", 1)[1])
            assert body["error"] == "client certificate not accepted for service partners", body
            code, out = status("/partners/echo/x", "partner")
            assert code == 200, out
            assert origin_headers(o)["x-client-cert-san"] == "DNS:partner.example"
            assert status("/secure/echo/x", "partner")[0] == 200
            # the plain listener has no certificate to offer
            r = request(g.port, "GET", "/secure/echo/x",
                        headers={"X-Client-Cert-Subject": "CN=alice,O=Example"})
            assert r.status == 401, r
            assert r.json()["error"].startswith("client certificate required"), r.json()


def test_client_cert_needs_the_listener_to_ask_for_one():
    cfg = gwtest.simple_config(1234)
    cfg["services"][0]["client_cert"] = {"ca": path("ca.pem")}
    p = path("cc-bad.json")
    with open(p, "w") as f:
        json.dump(cfg, f)
    r = gwtest.run_gantry(["check", p])
    assert r.returncode != 0, r.stdout + r.stderr
    assert "services[0].client_cert: needs tls.client_auth" in r.stdout + r.stderr, r.stderr


def test_mtls_expired_client_certificate_is_refused():
    make_leaf("oldclient", "oldclient", ["oldclient"], start="20200101000000Z")
    with Origin() as o, Gantry(tls_config(o, client_auth={"ca": path("ca.pem")})) as g:
        rc, out = mtls_curl(g, "oldclient")
        assert rc != 0 and "HTTP/1.1" not in out, out
        rc, out = s_client(g, "-cert", path("oldclient.pem"), "-key", path("oldclient.key"),
                           "-tls1_2")
        assert "certificate expired" in out or "Cipher is (NONE)" in out, out
        gwtest.wait_until(lambda: "(client certificate: certificate has expired)" in g.stderr(),
                          5, message="the reason in the debug log")


def test_mtls_auth_method_identifies_the_consumer():
    make_client_cert("alice", "alice")
    make_client_cert("bob", "bob", san="URI:spiffe://example/bob")
    cfg = None
    with Origin() as o:
        cfg = tls_config(o, client_auth={"ca": path("ca.pem"), "required": False})
        cfg["auth"] = {"consumers": [
            {"id": "alice-app", "roles": ["reader"], "certificates": ["email:alice@example.com"]},
            {"id": "bob-app", "certificates": "CN=bob,O=Example"},
        ]}
        cfg["services"][0]["auth"] = {"methods": ["mtls"], "roles": ["reader"]}
        with Gantry(cfg) as g:
            rc, out = mtls_curl(g, "alice", ["X-Consumer-Id: mallory"])
            assert rc == 0 and "HTTP/1.1 200" in out, out
            h = origin_headers(o)
            assert h["x-consumer-id"] == "alice-app", h
            assert h["x-client-cert-san"] == "email:alice@example.com, DNS:alice.example", h
            rc, out = mtls_curl(g, "bob")  # a consumer, without the role
            assert rc == 0 and "HTTP/1.1 403" in out, out
            rc, out = mtls_curl(g)  # optional client_auth, no certificate: no identity
            assert rc == 0 and "HTTP/1.1 401" in out, out
            r = request(g.port, "GET", "/echo/x")  # plain HTTP: no certificate at all
            assert r.status == 401, r
    # naming the method without client_auth is a config error
    cfg["tls"].pop("client_auth")
    f = path("mtls-auth.json")
    with open(f, "w") as fh:
        json.dump(cfg, fh)
    r = gwtest.run_gantry(["check", f])
    assert r.returncode == 1 and '"mtls" is not configured' in r.stderr, r


def reload_with(g, cfg):
    g.write_config(cfg)
    off = len(g.stderr())
    g.signal(signal.SIGHUP)
    gwtest.wait_until(lambda: "configuration reloaded" in g.stderr()[off:], 10, message="reload")


def mtls_session(g, urlpath, proto, sess_in=None, sess_out=None, client=None):
    """One request over s_client: its output (handshake summary and the HTTP answer)."""
    args = [proto, "-servername", "a.test", "-ign_eof"]
    if sess_in:
        args += ["-sess_in", sess_in]
    if sess_out:
        args += ["-sess_out", sess_out]
    if client:
        args += ["-cert", path(client + ".pem"), "-key", path(client + ".key")]
    req = ("GET %s HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n" % urlpath).encode()
    return s_client(g, *args, inp=req)[1]


def test_mtls_sessions_resume_only_under_the_same_client_auth_settings():
    # A session remembers the client-auth verdict of its full handshake: after a reload that
    # changes what is trusted (the CA bundle's contents, "required"), a session made before it
    # must not resume (a full handshake asks for a certificate again); an unchanged reload
    # keeps resuming.
    make_client_cert("alice", "alice")
    rc, out = sh(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                  "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30", "-subj",
                  "/CN=other CA", "-keyout", path("otherca.key"), "-out", path("otherca.pem"),
                  "-addext", "basicConstraints=critical,CA:TRUE"])
    assert rc == 0, out
    make_client_cert("mallory", "mallory", ca="otherca")
    bundle = path("resume-bundle.pem")
    with open(bundle, "w") as f:
        f.write(open(path("ca.pem")).read() + open(path("otherca.pem")).read())
    with Origin() as o:
        cfg = tls_config(o, client_auth={"ca": bundle, "required": False})
        targets = cfg["services"][0]["targets"]
        cfg["services"] = [
            {"name": "certonly", "prefix": "/cert", "strip_prefix": True, "client_cert": True,
             "targets": targets},
            {"name": "public", "prefix": "/", "targets": targets},
        ]
        with Gantry(cfg) as g:
            protos = ("-tls1_3", "-tls1_2")
            for proto in protos:
                out = mtls_session(g, "/echo/a", proto, sess_out=path("nocert" + proto))
                assert "New," in out and "HTTP/1.1 200" in out, out
                out = mtls_session(g, "/cert/echo/a", proto, sess_out=path("other" + proto),
                                   client="mallory")
                assert "New," in out and "HTTP/1.1 200" in out, out
            # the same settings again: the sessions resume
            reload_with(g, cfg)
            for proto in protos:
                out = mtls_session(g, "/cert/echo/b", proto, sess_in=path("other" + proto))
                assert "Reused," in out and "HTTP/1.1 200" in out, (proto, out)
            # the bundle rewritten in place without the other CA: its certificate's sessions
            # make a full handshake, where no certificate was sent
            with open(bundle, "w") as f:
                f.write(open(path("ca.pem")).read())
            reload_with(g, cfg)
            for proto in protos:
                out = mtls_session(g, "/cert/echo/c", proto, sess_in=path("other" + proto))
                assert "Reused," not in out, (proto, out)
                assert "HTTP/1.1 200" not in out, (proto, out)
            # required from now on: a session made without a certificate does not resume
            cfg["tls"]["client_auth"]["required"] = True
            reload_with(g, cfg)
            for proto in protos:
                out = mtls_session(g, "/echo/d", proto, sess_in=path("nocert" + proto))
                assert "Reused," not in out, (proto, out)
                assert "HTTP/1.1 200" not in out, (proto, out)
            # a full handshake with a certificate of the CA still trusted works and resumes
            for proto in protos:
                out = mtls_session(g, "/cert/echo/e", proto, sess_out=path("alice" + proto),
                                   client="alice")
                assert "New," in out and "HTTP/1.1 200" in out, (proto, out)
                out = mtls_session(g, "/cert/echo/f", proto, sess_in=path("alice" + proto))
                assert "Reused," in out and "HTTP/1.1 200" in out, (proto, out)


def test_websocket_upgrade_over_https_goes_upstream_with_its_upgrade():
    """A WebSocket handshake on the HTTPS listener is proxied as one (tunnels carry the TLS
    session: test_websocket_tls.py); an upstream that answers 200 is relayed as it is."""
    with Origin() as o, Gantry(tls_config(o)) as g:
        rc, out = curl(g, "a.test", "/echo/ws", [
            "-H", "Connection: Upgrade", "-H", "Upgrade: websocket",
            "-H", "Sec-WebSocket-Version: 13", "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="])
        assert rc == 0 and "HTTP/1.1 200" in out and "101" not in out.split("\r\n")[0], out
        h = origin_headers(o)
        assert h.get("upgrade") == "websocket", h


def test_example_config_with_the_selfsigned_script():
    """examples/gantry-tls.json with a certificate from scripts/gen-selfsigned.sh passes
    gantry check (make run-tls does the same in the source tree)."""
    src = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    certs = path("example-certs")
    rc, out = sh([os.path.join(src, "scripts", "gen-selfsigned.sh"), certs, "localhost",
                  "127.0.0.1"])
    assert rc == 0 and "wrote" in out, out
    rc, out = sh(["openssl", "x509", "-in", os.path.join(certs, "cert.pem"), "-noout", "-ext",
                  "subjectAltName"])
    assert "DNS:localhost" in out and "IP Address:127.0.0.1" in out, out
    assert oct(os.stat(os.path.join(certs, "key.pem")).st_mode & 0o777) == "0o600"
    with open(os.path.join(src, "examples", "gantry-tls.json")) as f:
        cfg = json.load(f)
    for c in cfg["tls"]["certificates"]:
        c["cert"] = os.path.join(certs, os.path.basename(c["cert"]))
        c["key"] = os.path.join(certs, os.path.basename(c["key"]))
    f = path("example-tls.json")
    with open(f, "w") as fh:
        json.dump(cfg, fh)
    r = gwtest.run_gantry(["check", f])
    assert r.returncode == 0 and ": ok" in r.stdout, r


def test_sslscan_finds_no_weak_protocol_or_cipher():
    if not shutil.which("sslscan"):
        gwtest.skip("sslscan is not installed (scripts/deps.sh test)")
    with Origin() as o, Gantry(tls_config(o)) as g:
        rc, out = sh(["sslscan", "--no-colour", "127.0.0.1:%d" % tls_port(g)], timeout=120)
        assert rc == 0, out
        for proto in ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1"):
            assert re.search(r"%s\s+disabled" % re.escape(proto), out), out
        assert re.search(r"TLSv1\.2\s+enabled", out) and re.search(r"TLSv1\.3\s+enabled", out)
        accepted = [line for line in out.splitlines() if line.startswith(("Preferred", "Accepted"))]
        assert accepted, out
        for line in accepted:
            assert not re.search(r"RC4|DES|NULL|EXP|MD5|CBC|SHA1?\b|anon|PSK", line.split(
                "bits", 1)[1] if "bits" in line else line), line
            m = re.search(r"(\d+) bits", line)
            assert m and int(m.group(1)) >= 128, line
        assert "Session renegotiation not supported" in out, out
        heartbleed = [line for line in out.splitlines() if "heartbleed" in line]
        assert heartbleed and all("not vulnerable" in line for line in heartbleed), out
        assert "Compression enabled" not in out, out


if __name__ == "__main__":
    try:
        gwtest.main(globals())
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
