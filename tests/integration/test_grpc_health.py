#!/usr/bin/env python3
"""gRPC health checks (issue 15, "gRPC health checks (grpc.health.v1) for targets"): services
with upstream_protocol "h2c" and health_check.type "grpc" call grpc.health.v1.Health/Check on
each target, and a real @grpc/grpc-js server (tests/node/grpc_peer.mjs, health.proto) whose
answer is flipped at run time decides: SERVING is up; NOT_SERVING, SERVICE_UNKNOWN, an error
status (NOT_FOUND for an unknown service, UNIMPLEMENTED from a server without the health
service) and no answer before the timeout are down. A target that is down takes no call
(gantry answers UNAVAILABLE); back to SERVING, it takes calls again."""

import json
import os
import subprocess

import gwtest
from gwtest import Backend, Gantry
from test_grpc import NODE_DIR, PEER, GrpcServer, call, need_node
from test_metrics import parse, scrape, value

OK, UNAVAILABLE = 0, 14


class BareGrpcServer(Backend):
    """grpc_peer.mjs without grpc.health.v1: Check answers UNIMPLEMENTED."""
    name = "grpc-peer-nohealth"

    def __init__(self):
        super().__init__(["node", PEER, "server", "nohealth"])


def set_health(srv, service, status):
    """Tells the target what Check answers for service (directly, not through gantry)."""
    p = subprocess.run(["node", PEER, "call", "127.0.0.1:%d" % srv.port, "unary",
                        json.dumps({"messages": [{"text": "health:%s=%s" % (service, status)}]})],
                       capture_output=True, timeout=60, text=True, cwd=NODE_DIR)
    assert p.returncode == 0 and json.loads(p.stdout.strip().splitlines()[-1])["code"] == OK, p


def config(srv, **check):
    # Two failures in a row make a target DOWN: one probe slowed by a loaded machine does not.
    hc = {"type": "grpc", "interval": "600ms", "timeout": "500ms", "healthy_threshold": 1,
          "unhealthy_threshold": 2}
    hc.update(check)
    return gwtest.simple_config(
        "http://127.0.0.1:%d" % srv.port, http2={"cleartext": True},
        services=[{"name": "echo", "prefix": "/gwtest.Echo/", "upstream_protocol": "h2c",
                   "retries": False, "health_check": hc,
                   "targets": [{"url": "http://127.0.0.1:%d" % srv.port}]}])


def health_up(g):
    s = parse(scrape(g))
    return value(s, "gantry_target_health_check_up", service="echo",
                 target="127.0.0.1:%d" % g.srv_port)


def wait_state(g, up, why=None):
    """Waits for the check's verdict (and the reason of a DOWN in the log)."""
    want = 1 if up else 0
    gwtest.wait_until(lambda: health_up(g) == want, 15,
                      message="health_check_up %d (%s)" % (want, why))
    if why:
        gwtest.wait_until(lambda: why in g.logs(), 5, message="%r in the log" % why)


@gwtest.timeout(180)
def test_check_follows_the_serving_status_of_a_named_service():
    need_node()
    srv = GrpcServer()
    with Gantry(config(srv, service="gwtest.Echo")) as g:
        g.srv_port = srv.port
        wait_state(g, True)
        assert call(g, "unary", [{"text": "hi"}])["code"] == OK
        set_health(srv, "gwtest.Echo", 2)
        wait_state(g, False, "serving status NOT_SERVING")
        r = call(g, "unary", [{"text": "hi"}])
        assert r["code"] == UNAVAILABLE, r
        set_health(srv, "gwtest.Echo", 1)
        wait_state(g, True)
        assert call(g, "unary", [{"text": "hi"}])["code"] == OK
        set_health(srv, "gwtest.Echo", 3)
        wait_state(g, False, "serving status SERVICE_UNKNOWN")
        set_health(srv, "gwtest.Echo", 1)
        wait_state(g, True)
        # The server no longer knows the name: Check answers NOT_FOUND (5).
        set_health(srv, "gwtest.Echo", "unset")
        wait_state(g, False, "grpc-status 5")
        set_health(srv, "gwtest.Echo", 1)
        wait_state(g, True)
        # No answer before the timeout.
        set_health(srv, "gwtest.Echo", "hang")
        wait_state(g, False, "timed out after 500 ms")
        # Another name's status does not matter to this check.
        set_health(srv, "gwtest.Echo", 1)
        set_health(srv, "", 2)
        wait_state(g, True)


@gwtest.timeout(120)
def test_check_of_the_whole_server():
    need_node()
    srv = GrpcServer()
    with Gantry(config(srv)) as g:  # no "service": the server as a whole ("")
        g.srv_port = srv.port
        wait_state(g, True)
        set_health(srv, "", 2)
        wait_state(g, False, "serving status NOT_SERVING")
        set_health(srv, "", 1)
        wait_state(g, True)


@gwtest.timeout(120)
def test_server_without_the_health_service_is_down():
    need_node()
    srv = BareGrpcServer()
    with Gantry(config(srv)) as g:
        g.srv_port = srv.port
        wait_state(g, False, "grpc-status 12")
        assert "is UP" not in g.logs(), g.logs()


if __name__ == "__main__":
    gwtest.main(globals())
