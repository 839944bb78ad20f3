#!/usr/bin/env python3
"""HTTP/2 to upstreams (issue 15: services[].upstream_protocol "h2c"), with real clients (curl
over HTTP/1.1 and --http2-prior-knowledge, nghttp) in front of gantry and a real HTTP/2 origin
behind it (Node's http2 module, tests/node/h2_peer.mjs): the request as the origin sees it,
bodies both ways past the flow-control windows, response trailers to HTTP/2 clients, streams
multiplexed on one connection up to the origin's SETTINGS_MAX_CONCURRENT_STREAMS, a new
connection after GOAWAY, REFUSED_STREAM and a dead origin answered by gantry.
"""

import hashlib
import json
import os
import shutil
import subprocess
import threading

import gwtest
from gwtest import Backend, Gantry, request

NODE_DIR = os.path.join(gwtest.REPO, "tests", "node")
PEER = os.path.join(NODE_DIR, "h2_peer.mjs")


def need_node():
    if shutil.which("node") is None:
        gwtest.skip("node is not installed (scripts/deps.sh test)")


class H2Origin(Backend):
    name = "h2-peer"

    def __init__(self, *args):
        super().__init__(["node", PEER] + list(args))


def config(origin, **svc):
    cfg = gwtest.simple_config("http://127.0.0.1:%d" % origin.port, http2={"cleartext": True},
                               limits={"max_body_bytes": 0},
                               timeouts={"client_body": "30s", "upstream_response": "30s"})
    cfg["services"][0]["upstream_protocol"] = "h2c"
    cfg["services"][0].update(svc)
    return cfg


def curl(*args, timeout=30):
    p = subprocess.run(["curl", "-sS", "-m", str(timeout)] + list(args), capture_output=True,
                       timeout=timeout + 5)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def test_request_as_the_origin_sees_it():
    need_node()
    o = H2Origin()
    with Gantry(config(o)) as g:
        body = os.urandom(3 * 1024 * 1024 + 17)  # past every window on the way
        r = request(g.port, "POST", "/echo?q=1", headers=[("Content-Type", "application/x-test"),
                                                          ("X-Custom", "v1"), ("TE", "gzip")],
                    body=body, timeout=30)
        assert r.status == 200, (r.status, r.body[:300])
        seen = json.loads(r.body)
        assert seen["method"] == "POST" and seen["path"] == "/echo?q=1", seen
        assert seen["authority"] == "127.0.0.1:%d" % g.port, seen
        assert seen["body_len"] == len(body), seen
        assert seen["body_sha256"] == hashlib.sha256(body).hexdigest(), seen
        h = seen["headers"]
        assert h["x-custom"] == "v1" and h["content-type"] == "application/x-test", h
        assert h["x-forwarded-for"] == "127.0.0.1" and "x-request-id" in h, h
        # Connection-specific fields never cross into HTTP/2 (RFC 9113 8.2.2).
        for name in ("connection", "keep-alive", "transfer-encoding", "host", "te"):
            assert name not in h, (name, h)
        assert r.header("x-origin") == "h2-peer", r.headers

        # A chunked request body of unknown length, from an HTTP/1.1 client.
        r = request(g.port, "POST", "/echo", headers=[("Transfer-Encoding", "chunked")],
                    body=gwtest.chunked(b"abc" * 50000, size=7000), timeout=30)
        assert r.status == 200, r.status
        assert json.loads(r.body)["body_sha256"] == hashlib.sha256(b"abc" * 50000).hexdigest()


def test_an_answer_before_the_body_ends_is_relayed():
    """An origin may answer before the request body has arrived and close the stream with
    NO_ERROR (RFC 9113 8.1): the answer is the response, never a 502. The same clean close
    while a body write waited for its drain once made gantry fail the request (flaky under
    load after a large POST)."""
    need_node()
    o = H2Origin()
    with Gantry(config(o)) as g:
        for i in range(5):
            body = os.urandom(400 * 1024)
            r = request(g.port, "POST", "/early", body=body, timeout=30)
            assert r.status == 200 and r.body == b"early", (i, r.status, r.body[:300])
            r = request(g.port, "POST", "/early", headers=[("Transfer-Encoding", "chunked")],
                        body=gwtest.chunked(body, size=7000), timeout=30)
            assert r.status == 200 and r.body == b"early", (i, r.status, r.body[:300])
        assert "write failed" not in g.stderr(), g.stderr()


def test_http2_clients_get_streams_and_trailers():
    need_node()
    o = H2Origin()
    with Gantry(config(o)) as g:
        base = "http://127.0.0.1:%d" % g.port
        rc, out, err = curl("--http2-prior-knowledge", "-v", base + "/stream?n=40&size=50000")
        assert rc == 0, err
        assert len(out) == 40 * 50000, len(out)
        # The origin's trailers reach the HTTP/2 client after the payload.
        assert "< x-trailer: done" in err, err
        rc, out, err = curl("--http2-prior-knowledge", base + "/echo", "--data-binary", "x" * 1000)
        assert rc == 0 and json.loads(out)["body_len"] == 1000, (out, err)
        p = subprocess.run(["nghttp", "-n", "-s", "-m", "20", base + "/echo"],
                           capture_output=True, timeout=60, text=True)
        assert p.returncode == 0, p.stdout + p.stderr
        gwtest.wait_until(lambda: g.stdout().count('"GET /echo" 200') >= 20, timeout=10,
                          message="nghttp's 20 requests in the access log")


def test_streams_share_a_connection_up_to_its_limit():
    need_node()
    o = H2Origin()
    with Gantry(config(o)) as g:
        seen = []

        def one():
            r = request(g.port, "GET", "/slow?ms=400", timeout=30)
            seen.append(json.loads(r.body))

        ts = [threading.Thread(target=one) for _ in range(6)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        # Six requests at once from six client connections: one HTTP/2 connection upstream.
        assert len(seen) == 6, seen
        assert {s["session"] for s in seen} == {1}, seen
        assert len({s["stream_id"] for s in seen}) == 6, seen
    # An origin that takes 2 streams at a time: the others go on new connections.
    o2 = H2Origin("--max-streams", "2")
    with Gantry(config(o2)) as g:
        r = request(g.port, "GET", "/echo")  # learn the origin's SETTINGS first
        assert r.status == 200
        seen = []

        def one2():
            r = request(g.port, "GET", "/slow?ms=400", timeout=30)
            assert r.status == 200, (r.status, r.body)
            seen.append(json.loads(r.body))

        ts = [threading.Thread(target=one2) for _ in range(6)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert len(seen) == 6, seen
        assert len({s["session"] for s in seen}) >= 2, seen


def test_goaway_refused_stream_and_dead_origin():
    need_node()
    o = H2Origin()
    with Gantry(config(o)) as g:
        r = request(g.port, "GET", "/goaway")
        assert r.status == 200 and json.loads(r.body)["session"] == 1
        # After the GOAWAY the next request goes on a new connection.
        gwtest.wait_until(lambda: json.loads(request(g.port, "GET", "/echo").body)["session"] == 2,
                          timeout=10, message="a request on a second connection")
        # REFUSED_STREAM: nothing was processed, so even a POST goes again (on another
        # connection, body and all), twice; refused every time: 502.
        r = request(g.port, "POST", "/refuse", body=b"x")
        gwtest.assert_json_error(r, 502)
        assert g.stderr().count("stream refused, sent again") == 2, g.stderr()
        r = request(g.port, "GET", "/echo")
        assert r.status == 200
    port = gwtest.free_port()
    cfg = gwtest.simple_config("http://127.0.0.1:%d" % port)
    cfg["services"][0]["upstream_protocol"] = "h2c"
    with Gantry(cfg) as g:
        r = request(g.port, "GET", "/echo")
        gwtest.assert_json_error(r, 502)


def test_health_checks_speak_http2():
    need_node()
    o = H2Origin()
    cfg = config(o, health_check={"path": "/health", "interval": "300ms", "timeout": "250ms",
                                  "healthy_threshold": 1, "unhealthy_threshold": 1})
    with Gantry(cfg) as g:
        # The origin speaks only HTTP/2: an HTTP/1.1 probe could never see it UP.
        assert gwtest.wait_until(lambda: "is UP" in g.logs(), timeout=10), g.logs()
        rc, _, err = curl("--http2-prior-knowledge",
                          "http://127.0.0.1:%d/__set_health/503" % o.port)
        assert rc == 0, err
        assert gwtest.wait_until(lambda: "is DOWN" in g.logs(), timeout=10), g.logs()
        assert "status 503" in g.logs(), g.logs()
        r = request(g.port, "GET", "/echo")
        gwtest.assert_json_error(r, 503)
        curl("--http2-prior-knowledge", "http://127.0.0.1:%d/__set_health/200" % o.port)
        assert gwtest.wait_until(lambda: g.logs().count("is UP") >= 2, timeout=10), g.logs()
        assert request(g.port, "GET", "/echo").status == 200


def test_config_checks_the_scheme():
    bad = gwtest.simple_config("https://127.0.0.1:9")
    bad["services"][0]["upstream_protocol"] = "h2c"
    d = gwtest._mkdtemp("h2cfg")
    path = os.path.join(d, "g.json")
    with open(path, "w") as f:
        json.dump(bad, f)
    p = gwtest.run_gantry(["check", path])
    assert p.returncode != 0
    assert "upstream_protocol" in p.stdout + p.stderr and "http://" in p.stdout + p.stderr, p
    bad["services"][0]["upstream_protocol"] = "h3"
    with open(path, "w") as f:
        json.dump(bad, f)
    p = gwtest.run_gantry(["check", path])
    assert p.returncode != 0 and "upstream_protocol" in p.stdout + p.stderr, p


if __name__ == "__main__":
    gwtest.main(globals())
