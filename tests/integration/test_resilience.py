#!/usr/bin/env python3
"""Issue 5's proofs through the real binary: a target killed under load costs no client
request and leaves rotation by passive and active checks; it returns when restarted; a slow
target is avoided by p2c_ewma."""
import collections
import json
import signal
import threading
import time

import gwtest
from gwtest import Gantry, Origin, RawServer, request



class _Load:
    """Threads sending GETs (keep-alive and new connections) until stopped."""

    def __init__(self, port, threads=4):
        self.port = port
        self.stop_flag = threading.Event()
        self.ok = 0
        self.failures = []
        self.by_origin = collections.Counter()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self):
        while not self.stop_flag.is_set():
            try:
                r = request(self.port, "GET", "/echo/load", timeout=5)
                with self.lock:
                    if r.status == 200:
                        self.ok += 1
                        self.by_origin[r.header("X-Origin-Port")] += 1
                    else:
                        self.failures.append(r.status)
            except Exception as e:  # a failed request of any kind counts
                with self.lock:
                    self.failures.append(repr(e))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join(10)


@gwtest.timeout(90)
def test_killed_target_costs_no_request_and_returns_when_restarted():
    a, b, c = Origin(), Origin(), Origin()
    try:
        cfg = gwtest.simple_config(a, b, c)
        svc = cfg["services"][0]
        svc["health_check"] = {"path": "/health", "interval": "200ms", "timeout": "150ms",
                               "healthy_threshold": 1, "unhealthy_threshold": 2}
        svc["outlier_detection"] = {"consecutive_failures": 2, "base_ejection_time": "1s",
                                    "max_ejection_percent": 50}
        cfg["log"] = {"access": "off"}
        with Gantry(cfg) as g:
            assert gwtest.wait_until(lambda: g.logs().count("is UP") >= 3), g.logs()
            with _Load(g.port) as load:
                assert gwtest.wait_until(lambda: load.ok > 200)
                b_port = b.port
                b.proc.send_signal(signal.SIGKILL)
                b.proc.wait(5)
                t_kill = time.monotonic()
                assert gwtest.wait_until(lambda: "of service svc is DOWN" in g.logs(), 5), g.logs()
                t_down = time.monotonic() - t_kill
                served_before = load.ok
                assert gwtest.wait_until(lambda: load.ok > served_before + 300)
                # Restart on the same port: active checks bring it back into rotation.
                b = Origin(extra_args=["--port", str(b_port)])
                assert gwtest.wait_until(lambda: g.logs().count("is UP") >= 4, 10), g.logs()
                seen_b = load.by_origin[str(b_port)]
                assert gwtest.wait_until(lambda: load.by_origin[str(b_port)] > seen_b + 20, 10)
            assert not load.failures, load.failures[:10]
            # Active detection bound: unhealthy_threshold x interval (+ one timeout, + slack).
            assert t_down < 2 * 0.2 + 0.15 + 1.0, t_down
            print("marked DOWN %.2f s after the kill; %d requests, 0 failed" % (t_down, load.ok))
    finally:
        for o in (a, b, c):
            o.stop()


def test_a_failed_connect_is_a_retry_bound_by_the_retry_policy():
    """docs/resilience.md: connect_failed is a retry class. Two targets, the first on a dead
    port, round robin: the requests that pick the dead one first go on to the live one as a
    retry (the access log's `retries`, gantry_upstream_retries_total), a POST with its body
    too; a service whose policy allows no such retry (attempts 0, retry_on without
    connect_failed, retries off) answers those requests 502."""
    with Origin() as o:
        live = "http://127.0.0.1:%d" % o.port

        def svc(name, retries):
            # a dead port of its own, never ejected: every pick of it is a failed connect
            s = {"name": name, "prefix": "/" + name, "strip_prefix": True,
                 "outlier_detection": False,
                 "targets": [{"url": "http://127.0.0.1:%d" % gwtest.free_port()},
                             {"url": live}]}
            if retries is not None:
                s["retries"] = retries
            return s
        cfg = gwtest.simple_config(o, log={"access": "stdout", "access_format": "json",
                                           "access_fields": ["request_id", "status", "target",
                                                             "retries"]})
        cfg["services"] = [svc("d", None), svc("z", {"attempts": 0}),
                           svc("y", {"attempts": 1, "retry_on": ["status"]}),
                           svc("n", False)]
        with Gantry(cfg) as g:
            lines = collections.defaultdict(list)
            for name in ("d", "z", "y", "n"):
                for i in range(4):
                    rid = "%s-%d" % (name, i)
                    r = request(g.port, "POST", "/%s/echo" % name, body=b"x" * 100,
                                headers=[("X-Request-ID", rid)])
                    e = json.loads(g.wait_log(r'(?m)^\{.*"%s".*$' % rid).group(0))
                    assert e["status"] == r.status, (e, r)
                    lines[name].append(e)
                    if r.status == 200:
                        assert r.json()["body_len"] == 100, r
            # the default policy: every request answered, those that met the dead target
            # first retried once (round robin: here a retry's pick moves the rotation too)
            assert [e["status"] for e in lines["d"]] == [200] * 4, lines["d"]
            assert set(e["retries"] for e in lines["d"]) <= {0, 1}, lines["d"]
            retried = sum(e["retries"] for e in lines["d"])
            assert retried >= 1, lines["d"]
            # no connect retry allowed: the requests that met the dead target get 502 (round
            # robin: every other one)
            for name in ("z", "y", "n"):
                got = sorted((e["status"], e["retries"]) for e in lines[name])
                assert got == [(200, 0), (200, 0), (502, 0), (502, 0)], (name, lines[name])
            text = g.admin_request("GET", "/metrics").body.decode()

            def metric(name, service):
                for line in text.splitlines():
                    if line.startswith(name + "{") and 'service="%s"' % service in line:
                        return int(float(line.split()[-1]))
                return 0
            assert metric("gantry_upstream_retries_total", "d") == retried, text
            for name in ("z", "y", "n"):
                assert metric("gantry_upstream_retries_total", name) == 0, name


class _CannedServer(RawServer):
    """Answers every request on a keep-alive connection with `response` after `delay`
    seconds, counting the requests in `count`."""

    delay = 0.0
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nX-Origin-Port: slow\r\n\r\nslow"
    count = 0

    def serve(self, sock, index):
        buf = b""
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            while b"\r\n\r\n" in buf:
                _, buf = buf.split(b"\r\n\r\n", 1)
                type(self).count += 1
                time.sleep(self.delay)  # a slow backend: the scenario, not a wait
                sock.sendall(self.response)


class _SlowServer(_CannedServer):
    delay = 0.03


class _FailingServer(_CannedServer):
    response = (b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
                b"X-Origin-Port: bad\r\n\r\n")


def test_p2c_ewma_avoids_a_slow_target():
    with Origin() as fast1, Origin() as fast2, _SlowServer() as slow:
        cfg = gwtest.simple_config(fast1, fast2, slow.port)
        cfg["services"][0]["load_balancer"] = {"strategy": "p2c_ewma"}
        cfg["log"] = {"access": "off"}
        with Gantry(cfg) as g:
            seen = collections.Counter()
            for _ in range(300):
                r = request(g.port, "GET", "/echo/x")
                assert r.status == 200, r
                seen[r.header("X-Origin-Port")] += 1
            share = seen["slow"] / 300.0
            print("p2c_ewma: slow target got %.1f%% of 300 requests (%s)" % (100 * share, dict(seen)))
            assert share < 0.15, seen


def test_failing_target_trips_its_own_circuit_and_traffic_moves_on():
    with Origin() as good, _FailingServer() as bad:
        cfg = gwtest.simple_config(good, bad.port)
        svc = cfg["services"][0]
        svc["circuit_breaker"] = {"failure_threshold": 3, "open_duration": "30s",
                                  "minimum_requests": 1000}
        svc["retries"] = False  # the 500s reach the client until the circuit opens
        svc["outlier_detection"] = False
        cfg["log"] = {"access": "off"}
        with Gantry(cfg) as g:
            statuses = collections.Counter()
            for _ in range(20):
                statuses[request(g.port, "GET", "/echo/x").status] += 1
            assert statuses[500] == 3, statuses  # exactly the failures that open its circuit
            hits = _FailingServer.count
            for _ in range(30):
                r = request(g.port, "GET", "/echo/x")
                assert r.status == 200 and r.header("X-Origin-Port") == str(good.port), r
            assert _FailingServer.count == hits  # open circuit: the bad target sees nothing


if __name__ == "__main__":
    gwtest.main(globals())
