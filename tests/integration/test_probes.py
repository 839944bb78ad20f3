#!/usr/bin/env python3
"""The proxy port's own probes (/health, /ready, /health/startup) can be moved or switched off
with the top-level "probes" section, so a service on prefix "/" can receive those paths."""

import json
import os
import re

import gwtest
from gwtest import Gantry, Origin, request


def reached(g, o, path):
    """The request for path reached the origin o (not answered by gantry)."""
    r = request(g.port, "GET", path)
    return r.header("X-Origin-Port") == str(o.port)


def answered_by_gantry(g, path):
    r = request(g.port, "GET", path)
    return (r.status == 200 and r.header("X-Origin-Port") is None
            and r.json() == {"status": "ok"})


def started(g, probe):
    """probe() once gantry listens; fails at once with the logs if gantry exited."""
    def check():
        assert g.alive(), g.logs()
        try:
            return probe()
        except OSError:  # not listening yet
            return False
    return check


def admin_ready(g):
    return g.admin_request("GET", "/health/detailed").status == 200


def test_moved_probes_free_their_paths_for_a_root_service():
    with Origin() as o:
        cfg = gwtest.simple_config(o, prefix="/", probes={
            "health": "/_gantry/health", "ready": "/_gantry/ready", "startup": False})
        with Gantry(cfg, wait_ready=False) as g:
            gwtest.wait_until(started(g, lambda: answered_by_gantry(g, "/_gantry/ready")), 10,
                              message="gantry answers its moved /ready")
            seen = o.stats()["requests"]
            assert answered_by_gantry(g, "/_gantry/health")
            assert o.stats()["requests"] == seen, "a probe reached the origin"
            for path in ("/health", "/ready", "/health/startup"):
                assert reached(g, o, path), path
            assert o.stats()["by_path"].get("/health") == 1, o.stats()
            r = request(g.port, "HEAD", "/_gantry/health")
            assert r.status == 200 and r.header("X-Origin-Port") is None, r


def test_probes_off():
    with Origin() as o:
        cfg = gwtest.simple_config(o, prefix="/", probes={
            "health": "off", "ready": False, "startup": "${GW_STARTUP_PROBE:-off}"})
        with Gantry(cfg, wait_ready=False) as g:
            gwtest.wait_until(started(g, lambda: admin_ready(g)), 10,
                              message="gantry ready (admin)")
            for path in ("/health", "/ready", "/health/startup"):
                assert reached(g, o, path), path


def test_default_probes_unchanged():
    with Origin() as o:
        with Gantry(gwtest.simple_config(o, prefix="/")) as g:
            for path in ("/health", "/ready", "/health/startup"):
                assert answered_by_gantry(g, path), path
            assert o.stats()["requests"] == 0


def test_invalid_probe_paths_are_refused():
    cfg = gwtest.simple_config(80, probes={"health": "health", "ready": "/x",
                                           "startup": "/x"})
    tmp = gwtest._mkdtemp("probes")
    path = os.path.join(tmp, "gantry.json")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)
    p = gwtest.run_gantry(["check", path])
    out = p.stdout + p.stderr
    assert p.returncode == 1, out
    assert re.search(r"probes\.health: \"health\": .*must start with \"/\"", out), out
    assert re.search(r"probes\.startup: .*also probes\.ready", out), out


if __name__ == "__main__":
    gwtest.main(globals())
