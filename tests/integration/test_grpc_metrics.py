#!/usr/bin/env python3
"""Metrics by gRPC status (issue 15 "metrics by gRPC status", issue 12's bounded labels): gRPC
calls through gantry with the reference Node implementation on both ends (@grpc/grpc-js,
tests/node/grpc_peer.mjs) are counted in gantry_grpc_responses_total{service, route,
grpc_status} and in /metrics/json per service, exactly, across two workers: the target's own
statuses (in trailers after messages, or Trailers-Only), gantry's own gRPC answers
(UNAUTHENTICATED for a missing key, UNAVAILABLE for a target that is down), and NONE for a
call whose client gave up before any status. A service that speaks HTTP/1.1 upstream has no
gRPC rows; promtool accepts the exposition."""

import hashlib
import os
import shutil
import subprocess

import gwtest
from gwtest import Gantry, request
from test_grpc import GrpcServer, call, need_node
from test_metrics import parse, scrape, total, value

KEY = "grpc-metrics-key-0123456789"
OK, NOT_FOUND, INTERNAL, UNAVAILABLE, UNAUTHENTICATED = 0, 5, 13, 14, 16


def config(srv_port):
    key_hash = "sha256:" + hashlib.sha256(KEY.encode()).hexdigest()
    cfg = gwtest.simple_config(
        "http://127.0.0.1:%d" % srv_port, workers=2, http2={"cleartext": True},
        timeouts={"upstream_response": "20s"},
        services=[
            {"name": "echo", "prefix": ["/gwtest.Echo", "/other/"], "upstream_protocol": "h2c",
             "retries": False, "targets": [{"url": "http://127.0.0.1:%d" % srv_port}]},
            {"name": "locked", "prefix": "/locked/", "upstream_protocol": "h2c",
             "auth": {"required": True},
             "targets": [{"url": "http://127.0.0.1:%d" % srv_port}]},
            {"name": "down", "prefix": "/down/", "upstream_protocol": "h2c", "retries": False,
             "targets": [{"url": "http://127.0.0.1:%d" % gwtest.free_port()}]},
            {"name": "plain", "prefix": "/plain/",
             "targets": [{"url": "http://127.0.0.1:%d" % srv_port}]},
        ])
    cfg["auth"] = {"consumers": [{"id": "c", "api_keys": [key_hash]}]}
    return cfg


@gwtest.timeout(180)
def test_calls_are_counted_by_grpc_status():
    need_node()
    srv = GrpcServer()
    with Gantry(config(srv.port)) as g:
        sent = {}

        def expect(service, route, status, n=1):
            k = (service, route, status)
            sent[k] = sent.get(k, 0) + n

        for _ in range(3):
            assert call(g, "unary", [{"text": "hi"}])["code"] == OK
        expect("echo", "/gwtest.Echo", "OK", 3)
        # A streamed answer: grpc-status in the trailers after the messages.
        r = call(g, "server", [{"text": "s", "count": 5}])
        assert r["code"] == OK and len(r["messages"]) == 5, r
        expect("echo", "/gwtest.Echo", "OK")
        for _ in range(2):
            assert call(g, "unary", [{"text": "code:%d" % NOT_FOUND}])["code"] == NOT_FOUND
        expect("echo", "/gwtest.Echo", "NOT_FOUND", 2)
        assert call(g, "unary", [{"text": "code:%d" % INTERNAL}])["code"] == INTERNAL
        expect("echo", "/gwtest.Echo", "INTERNAL")
        assert call(g, "unary", [{"text": "fail"}])["code"] == NOT_FOUND
        expect("echo", "/gwtest.Echo", "NOT_FOUND")

        # Gantry's own answers, with curl (grpc_peer.mjs calls /gwtest.Echo/ methods only).
        def curl(path):
            return curl_grpc(g, path)

        out = curl("/locked/Get")
        assert "< grpc-status: %d" % UNAUTHENTICATED in out, out
        expect("locked", "/locked", "UNAUTHENTICATED")
        for _ in range(2):
            out = curl("/down/Get")
            assert "< grpc-status: %d" % UNAVAILABLE in out, out
        expect("down", "/down", "UNAVAILABLE", 2)
        # The second route of the service has its own rows: the target does not know the
        # method (grpc-js answers UNIMPLEMENTED, Trailers-Only).
        out = curl("/other/Get")
        assert "< grpc-status: 12" in out, out
        expect("echo", "/other", "UNIMPLEMENTED")
        # The client gives up before any status: NONE.
        text = b"slow:3000"
        out = curl_grpc(g, "/gwtest.Echo/Unary", message=b"\x0a" + bytes([len(text)]) + text,
                        max_time=1)
        assert "grpc-status" not in out, out
        expect("echo", "/gwtest.Echo", "NONE")
        # Not gRPC (no application/grpc): counted by HTTP status only.
        request(g.port, "GET", "/other/x")
        request(g.port, "GET", "/plain/x")

        calls = sum(sent.values())

        def counted():
            s = parse(scrape(g))
            return s if total(s, "gantry_grpc_responses_total") >= calls else None

        s = gwtest.wait_until(counted, 15, message="every gRPC call counted")
        got = {(dict(ls)["service"], dict(ls)["route"], dict(ls)["grpc_status"]): v
               for (n, ls), v in s.items() if n == "gantry_grpc_responses_total"}
        assert got == sent, (got, sent)
        # Labels come from the configuration: a service without an HTTP/2 upstream has none.
        assert total(s, "gantry_grpc_responses_total", service="plain") == 0
        assert value(s, "gantry_http_requests_total", service="echo", route="/gwtest.Echo",
                     method="POST", code="200", **{"class": "2xx"}) == 8

        # Prometheus's own checker takes the family.
        promtool = shutil.which("promtool")
        if promtool:
            p = subprocess.run([promtool, "check", "metrics"], input=scrape(g).encode(),
                               capture_output=True, timeout=30)
            assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()

        j = g.admin_request("GET", "/metrics/json").json()
        by = {svc["name"]: svc["grpc"] for svc in j["services"]}
        assert by["plain"] is None, by
        assert by["echo"] == {"calls": 10, "errors": 6, "by_status": {
            "OK": 4, "NOT_FOUND": 3, "INTERNAL": 1, "UNIMPLEMENTED": 1, "NONE": 1}}, by["echo"]
        assert by["down"] == {"calls": 2, "errors": 2, "by_status": {"UNAVAILABLE": 2}}, by
        assert by["locked"]["by_status"] == {"UNAUTHENTICATED": 1}, by


def curl_grpc(g, path, *headers, message=b"", max_time=30):
    """A gRPC request with curl over h2c (any method path), its body the framed message (none
    by default: gantry may answer before it reads a body, and curl then waits for the end of a
    stream that gantry leaves open); curl's verbose output."""
    body = os.path.join(gwtest._mkdtemp("grpc-body"), "msg")
    with open(body, "wb") as f:
        f.write(b"\x00" + len(message).to_bytes(4, "big") + message if message else b"")
    argv = ["curl", "-sS", "-v", "-m", str(max_time), "--http2-prior-knowledge",
            "-H", "content-type: application/grpc", "-H", "te: trailers",
            "--data-binary", "@" + body]
    for h in headers:
        argv += ["-H", h]
    argv.append("http://127.0.0.1:%d%s" % (g.port, path))
    p = subprocess.run(argv, capture_output=True, timeout=60)
    return p.stderr.decode("utf-8", "replace")


if __name__ == "__main__":
    gwtest.main(globals())
