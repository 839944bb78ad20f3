#!/usr/bin/env python3
"""gRPC through gantry (issue 15, "gRPC"), with the reference Node implementation on both ends
(@grpc/grpc-js, tests/node/grpc_peer.mjs): a gRPC client over h2c to gantry, gantry to a gRPC
server over h2c (services[].upstream_protocol "h2c"). Unary, server-streaming, client-streaming
and bidirectional calls with their trailers; grpc-timeout as the upstream deadline; gantry's own
answers as gRPC statuses (401 -> UNAUTHENTICATED, 429 -> RESOURCE_EXHAUSTED, 502 ->
UNAVAILABLE, 504 -> DEADLINE_EXCEEDED); a gRPC call to a service that speaks HTTP/1.1 upstream.
"""

import hashlib
import json
import os
import shutil
import subprocess

import gwtest
from gwtest import Backend, Gantry

NODE_DIR = os.path.join(gwtest.REPO, "tests", "node")
PEER = os.path.join(NODE_DIR, "grpc_peer.mjs")
KEY = "grpc-test-key-0123456789"

OK, NOT_FOUND, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED = 0, 5, 4, 8
UNIMPLEMENTED, UNAVAILABLE, UNAUTHENTICATED = 12, 14, 16


def need_node():
    if shutil.which("node") is None:
        gwtest.skip("node is not installed (scripts/deps.sh test)")
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "@grpc", "grpc-js")):
        gwtest.skip("tests/node/node_modules/@grpc/grpc-js is missing (scripts/deps.sh test)")


class GrpcServer(Backend):
    name = "grpc-peer"

    def __init__(self):
        super().__init__(["node", PEER, "server"])


def call(g, kind, messages=None, **opts):
    """One call through gantry; the JSON grpc_peer.mjs printed: code, details, messages,
    trailers."""
    if messages is not None:
        opts["messages"] = messages
    p = subprocess.run(["node", PEER, "call", "127.0.0.1:%d" % g.port, kind, json.dumps(opts)],
                       capture_output=True, timeout=60, text=True)
    lines = p.stdout.strip().splitlines()
    if p.returncode != 0 or not lines:
        raise AssertionError("grpc_peer call %s: status %d, %r %r" % (kind, p.returncode,
                                                                      p.stdout, p.stderr))
    return json.loads(lines[-1])


def config(target_url, protocol="h2c", **svc):
    s = {"name": "echo", "prefix": "/gwtest.Echo/", "upstream_protocol": protocol,
         "targets": [{"url": target_url}]}
    if protocol == "http1":
        del s["upstream_protocol"]
    s.update(svc)
    return gwtest.simple_config(target_url, http2={"cleartext": True},
                                services=[s], timeouts={"upstream_response": "20s"})


def test_unary_and_streaming_calls_with_trailers():
    need_node()
    srv = GrpcServer()
    with Gantry(config("http://127.0.0.1:%d" % srv.port)) as g:
        r = call(g, "unary", [{"text": "hi", "count": 1}])
        assert r["code"] == OK, r
        assert r["messages"] == [{"text": "echo:hi", "count": 2}], r
        # The upstream's trailers reach the client (the status itself is one of them).
        assert r["trailers"].get("x-served-by") == "grpc-peer", r

        r = call(g, "server", [{"text": "s", "count": 50}])
        assert r["code"] == OK, r
        assert [m["count"] for m in r["messages"]] == list(range(50)), r
        assert r["trailers"].get("x-served-by") == "grpc-peer", r

        msgs = [{"text": "m%d" % i, "count": i} for i in range(20)]
        r = call(g, "client", msgs)
        assert r["code"] == OK, r
        assert r["messages"] == [{"text": ",".join("m%d" % i for i in range(20)),
                                  "count": sum(range(20))}], r

        # Each message goes only after the answer to the previous one came back through
        # gantry: both directions stream at once over the one upstream stream.
        r = call(g, "bidi", msgs)
        assert r["code"] == OK, r
        assert r["messages"] == [{"text": "bidi:m%d" % i, "count": 2 * i} for i in range(20)], r

        # Larger messages than one window: flow control both ways.
        r = call(g, "client", big=300000, n=4)
        assert r["code"] == OK and len(r["messages"][0]["text"]) == 4 * 300000 + 3, r["code"]

        # An error status with its message and trailers, from the upstream.
        r = call(g, "unary", [{"text": "fail"}])
        assert r["code"] == NOT_FOUND and r["details"] == "no such thing", r
        assert r["trailers"].get("x-why") == "fail", r

        gwtest.wait_until(lambda: '"POST /gwtest.Echo/Bidi" 200' in g.stdout(), timeout=10,
                          message="the bidi call in the access log")


def grpc_frame(text):
    """A gwtest.Msg{text} as one gRPC length-prefixed message."""
    b = text.encode()
    msg = b"\x0a" + bytes([len(b)]) + b
    return b"\x00" + len(msg).to_bytes(4, "big") + msg


def curl_grpc(g, method, text, *headers):
    """A unary call with curl over h2c, whose grpc-timeout gantry alone enforces (a gRPC
    library would cancel at its deadline itself); curl's verbose output, trailers included."""
    body = os.path.join(gwtest._mkdtemp("grpc-body"), "msg")
    with open(body, "wb") as f:
        f.write(grpc_frame(text))
    argv = ["curl", "-sS", "-v", "-m", "30", "--http2-prior-knowledge",
            "-H", "content-type: application/grpc", "-H", "te: trailers",
            "--data-binary", "@" + body]
    for h in headers:
        argv += ["-H", h]
    argv.append("http://127.0.0.1:%d/gwtest.Echo/%s" % (g.port, method))
    p = subprocess.run(argv, capture_output=True, timeout=60)
    return p.stderr.decode("utf-8", "replace")


def test_deadline_from_grpc_timeout_and_from_the_service():
    need_node()
    srv = GrpcServer()
    with Gantry(config("http://127.0.0.1:%d" % srv.port)) as g:
        # The client's deadline: grpc-js gives up at it (and resets the stream).
        r = call(g, "unary", [{"text": "slow:5000"}], deadline_ms=400)
        assert r["code"] == DEADLINE_EXCEEDED, r
        # grpc-timeout alone (curl does not enforce it): gantry ends the call at it, with
        # a Trailers-Only DEADLINE_EXCEEDED.
        out = curl_grpc(g, "Unary", "slow:8000", "grpc-timeout: 300m")
        assert "< grpc-status: 4" in out, out
        assert "< grpc-message: upstream timed out" in out, out
        gwtest.wait_until(lambda: '"POST /gwtest.Echo/Unary" 504' in g.stdout(), timeout=10,
                          message="gantry's 504 in the access log")
        out = curl_grpc(g, "Unary", "fast", "grpc-timeout: 10S")
        assert "< grpc-status: 0" in out, out
    # No client deadline: the service's response timeout is the deadline, answered by
    # gantry as DEADLINE_EXCEEDED.
    cfg = config("http://127.0.0.1:%d" % srv.port, timeouts={"upstream_response": "300ms"})
    with Gantry(cfg) as g:
        r = call(g, "unary", [{"text": "slow:5000"}])
        assert r["code"] == DEADLINE_EXCEEDED, r
        assert "upstream timed out" in r["details"], r
        # A client deadline longer than the service's timeout is cut to it.
        r = call(g, "unary", [{"text": "slow:5000"}], deadline_ms=20000)
        assert r["code"] == DEADLINE_EXCEEDED and "upstream timed out" in r["details"], r
        r = call(g, "unary", [{"text": "quick"}], deadline_ms=20000)
        assert r["code"] == OK, r


def test_gateway_answers_are_grpc_statuses():
    need_node()
    srv = GrpcServer()
    url = "http://127.0.0.1:%d" % srv.port
    key_hash = "sha256:" + hashlib.sha256(KEY.encode()).hexdigest()
    cfg = config(url, auth={"required": True},
                 rate_limit={"limits": [{"limit": 2, "period": "1m", "algorithm": "fixed_window"}]})
    cfg["auth"] = {"consumers": [{"id": "grpc-client", "api_keys": [key_hash]}]}
    with Gantry(cfg) as g:
        r = call(g, "unary", [{"text": "no-key"}])
        assert r["code"] == UNAUTHENTICATED, r
        r = call(g, "unary", [{"text": "k"}], metadata={"x-api-key": KEY})
        assert r["code"] == OK, r
        codes = [call(g, "unary", [{"text": "k"}], metadata={"x-api-key": KEY})["code"]
                 for _ in range(3)]
        assert RESOURCE_EXHAUSTED in codes, codes
        # The access log keeps the HTTP status each gRPC status stands for.
        gwtest.wait_until(lambda: '"POST /gwtest.Echo/Unary" 401' in g.stdout() and
                          '"POST /gwtest.Echo/Unary" 429' in g.stdout(), timeout=10,
                          message="401 and 429 in the access log")


def test_backend_down_is_unavailable():
    need_node()
    port = gwtest.free_port()
    with Gantry(config("http://127.0.0.1:%d" % port)) as g:
        r = call(g, "unary", [{"text": "anyone?"}])
        assert r["code"] == UNAVAILABLE, r
        assert "upstream connect failed" in r["details"], r


def test_streaming_call_answered_early_ends_with_the_gateways_status():
    # A client-streaming call that keeps writing (a message every 20 ms, never half-closing)
    # while gantry answers it with a Trailers-Only status: the call ends with that status (its
    # stream reset with NO_ERROR after a linger, RFC 9113 8.1), not at the client's deadline.
    need_node()
    port = gwtest.free_port()
    with Gantry(config("http://127.0.0.1:%d" % port)) as g:
        r = call(g, "client", [{"text": "x" * 1000, "count": 1}], stream_ms=20,
                 deadline_ms=15000)
        assert r["code"] == UNAVAILABLE, r
        assert "upstream connect failed" in r["details"], r
    srv = GrpcServer()
    cfg = config("http://127.0.0.1:%d" % srv.port, auth={"required": True})
    cfg["auth"] = {"consumers": [{"id": "grpc-client", "api_keys": [
        "sha256:" + hashlib.sha256(KEY.encode()).hexdigest()]}]}
    with Gantry(cfg) as g:
        r = call(g, "client", [{"text": "x" * 1000, "count": 1}], stream_ms=20,
                 deadline_ms=15000)
        assert r["code"] == UNAUTHENTICATED, r
        # The same client with its key streams through to the server as before.
        r = call(g, "client", [{"text": "m%d" % i, "count": i} for i in range(5)],
                 metadata={"x-api-key": KEY}, deadline_ms=15000)
        assert r["code"] == OK and r["messages"][0]["count"] == 10, r


def test_grpc_to_an_http1_service_is_a_clear_error():
    need_node()
    srv = GrpcServer()
    with Gantry(config("http://127.0.0.1:%d" % srv.port, protocol="http1")) as g:
        r = call(g, "unary", [{"text": "hi"}])
        assert r["code"] == UNIMPLEMENTED, r
        assert "gRPC needs an HTTP/2 upstream" in r["details"], r


if __name__ == "__main__":
    gwtest.main(globals())
