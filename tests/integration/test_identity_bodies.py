#!/usr/bin/env python3
"""Built-in identity's request bodies without a Content-Length (README "Built-in identity"):

- HTTP/2 (h2c on the proxy port): a request whose DATA frames run until END_STREAM with no
  content-length, from curl --http2-prior-knowledge (-T -: a body of unknown size) and from a
  raw h2 client sending the body as many small DATA frames; register, login and me work, a
  body of exactly 8 KiB is read, one byte more is 413;
- HTTP/1.1 chunked: from curl (-T -, with Expect: 100-continue) and raw chunks of a few bytes
  with an extension and a trailer; the next request on the same connection is served (the body
  ended where its framing said); over the cap 413, broken framing 400.
"""

import json
import subprocess

import gwtest
from gwtest import Gantry, HttpConn, Origin, chunked, request
from test_identity import PASSWORD, bearer, config, register
from test_http2 import Client

LIMIT = 8192  # GW_IDP_BODY_MAX


def h2c_identity(o, tmp):
    cfg = config(o, tmp)
    cfg["http2"] = {"cleartext": True}
    return cfg


def curl_post(g, path, body, *args):
    """POSTs body from stdin (size unknown to curl: no content-length); status, JSON, stderr."""
    p = subprocess.run(["curl", "-sS", "-v", "-m", "30", "-X", "POST", "-T", "-", "-H",
                        "content-type: application/json", "-w", "\n%{http_code}"] + list(args)
                       + [g.url(path)], input=body.encode() if isinstance(body, str) else body,
                       capture_output=True, timeout=40)
    out, _, code = p.stdout.rpartition(b"\n")
    assert p.returncode == 0, p.stderr
    return int(code), json.loads(out) if out.strip() else None, p.stderr.decode()


def sent_headers(verbose):
    return [line[2:].lower() for line in verbose.splitlines() if line.startswith("> ")]


def login_body(pad=0):
    return json.dumps({"login": "alice", "password": PASSWORD}) + " " * pad


def test_h2_bodies_without_content_length():
    tmp = gwtest._mkdtemp("idp-bodies")
    with Origin() as o, Gantry(h2c_identity(o, tmp)) as g:
        body = json.dumps({"username": "alice", "email": "alice@example.com",
                           "password": PASSWORD})
        code, doc, err = curl_post(g, "/auth/register", body, "--http2-prior-knowledge")
        assert code == 201, (code, doc, err)
        assert "> POST /auth/register HTTP/2" in err, err
        assert not any(h.startswith("content-length") for h in sent_headers(err)), err
        code, doc, err = curl_post(g, "/auth/login", login_body(), "--http2-prior-knowledge")
        assert code == 200, (code, doc, err)
        tok = doc["access_token"]
        r = request(g.port, "GET", "/auth/me", headers=bearer(tok))
        assert r.status == 200 and r.json()["username"] == "alice", r

        # A raw client: the body in DATA frames of 7 bytes, the last one with END_STREAM.
        c = Client(g.port)
        try:
            hs = [(":method", "POST"), (":path", "/auth/login"), (":scheme", "http"),
                  (":authority", "127.0.0.1"), ("content-type", "application/json")]
            data = login_body().encode()
            sid = c.headers(hs, end=False)
            for i in range(0, len(data), 7):
                c.data(sid, data[i:i + 7], end=i + 7 >= len(data))
            s = c.wait(sid)
            assert s["headers"][b":status"] == b"200", s
            assert "access_token" in json.loads(s["body"])
            # Exactly the limit is read (the padding is JSON whitespace): 200.
            data = login_body(LIMIT - len(login_body())).encode()
            assert len(data) == LIMIT
            sid = c.headers(hs, end=False)
            for i in range(0, len(data), 1000):
                c.data(sid, data[i:i + 1000], end=i + 1000 >= len(data))
            s = c.wait(sid)
            assert s["headers"][b":status"] == b"200", s
        finally:
            c.close()

        # One byte more: 413, from curl.
        code, doc, err = curl_post(g, "/auth/login", login_body(LIMIT + 1 - len(login_body())),
                                   "--http2-prior-knowledge")
        assert code == 413 and doc["status"] == 413, (code, doc)
        # The connection and the gateway go on.
        code, doc, err = curl_post(g, "/auth/login", login_body(), "--http2-prior-knowledge")
        assert code == 200, (code, doc)


def test_http1_chunked_bodies():
    tmp = gwtest._mkdtemp("idp-bodies")
    with Origin() as o, Gantry(config(o, tmp)) as g:
        assert register(g).status == 201
        code, doc, err = curl_post(g, "/auth/login", login_body())  # HTTP/1.1: chunked
        assert code == 200, (code, doc, err)
        assert "transfer-encoding: chunked" in sent_headers(err), err
        assert "expect: 100-continue" in sent_headers(err), err

        # Raw chunks of 5 bytes, an extension and a trailer; then a keep-alive request behind it.
        body = chunked(login_body(), size=5, trailers=[("x-t", "1")])
        body = body.replace(b"5\r\n", b"5;ext=1\r\n", 1)
        with HttpConn(g.port) as c:
            c.send_request("POST", "/auth/login",
                           [("Content-Type", "application/json"),
                            ("Transfer-Encoding", "chunked")], body)
            r = c.read_response()
            assert r.status == 200, r
            tok = r.json()["access_token"]
            c.send_request("GET", "/auth/me", [("Authorization", "Bearer " + tok)])
            r = c.read_response()
            assert r.status == 200 and r.json()["username"] == "alice", r

        # Over the cap: 413 (and the connection closes).
        with HttpConn(g.port) as c:
            c.send_request("POST", "/auth/login", [("Content-Type", "application/json"),
                                                   ("Transfer-Encoding", "chunked")],
                           chunked(login_body(LIMIT), size=1000))
            r = c.read_response()
            assert r.status == 413, r
        # Broken framing: 400 naming the body.
        with HttpConn(g.port) as c:
            c.send_request("POST", "/auth/login", [("Content-Type", "application/json"),
                                                   ("Transfer-Encoding", "chunked")],
                           b"zz\r\n{}\r\n0\r\n\r\n")
            r = c.read_response()
            assert r.status == 400 and "chunk" in r.json()["reason"], r
        r = request(g.port, "GET", "/auth/me", headers=bearer(tok))
        assert r.status == 200, r


if __name__ == "__main__":
    gwtest.main(globals())
