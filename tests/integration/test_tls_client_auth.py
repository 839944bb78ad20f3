#!/usr/bin/env python3
"""Client certificates on the HTTPS listener (mutual TLS): required, optional, per service, the
identity passed upstream in headers nobody can forge, expired certificates refused, the mtls
auth method's consumers, and sessions that resume only under the same client-auth settings.
"""

import json
import signal

import gwtest
from gwtest import Gantry, Origin, request
from gwtest.tls_listener import certs, curl, origin_headers, path, s_client, tls_config


def make_client_cert(name, cn, ca="ca", san="email:alice@example.com,DNS:alice.example"):
    """A client certificate for O=Example, CN=cn, signed by ca (ca.pem/ca.key, or another
    CA's files), with the subjectAltName san."""
    certs().make_leaf(name, cn, san.split(","), ca=ca, client=True, org="Example")


def mtls_curl(g, client=None, headers=()):
    extra = []
    if client:
        extra += ["--cert", path(client + ".pem"), "--key", path(client + ".key")]
    for h in headers:
        extra += ["-H", h]
    return curl(g, "a.test", "/echo/m", extra)


def test_mtls_required_verifies_and_passes_identity_upstream():
    certs().make_ca("otherca", "other CA")
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
    certs().make_ca("partnerca", "partner CA")
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
    certs().make_leaf("oldclient", "oldclient", ["DNS:oldclient"], expired=True, client=True)
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
    certs().make_ca("otherca", "other CA")
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


if __name__ == "__main__":
    gwtest.main(globals())
