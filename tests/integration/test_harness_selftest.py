#!/usr/bin/env python3
"""Self-test of the integration harness (gwtest) and the test origin (gwtest/origin.py).

Needs no gantry: the Gantry class is exercised against a fake binary written here, and the
example services only when they are built (skipped otherwise).
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import gwtest
from gwtest import HttpConn, Origin, raw_exchange, request, shared_origin as origin


def test_echo_reports_request_as_received():
    o = origin()
    with HttpConn(o.port) as c:
        c.send(
            b"GET /echo/a%20b?x=1&y HTTP/1.1\r\nHost: h\r\nX-B: 2\r\nx-a: 1\r\nX-B: 3\r\n\r\n"
        )
        r = c.read_response()
    assert r.status == 200, r
    assert r.header("X-Origin-Port") == str(o.port)
    e = r.json()
    assert e["method"] == "GET"
    assert e["path"] == "/echo/a%20b?x=1&y"
    assert e["headers"] == [["Host", "h"], ["X-B", "2"], ["x-a", "1"], ["X-B", "3"]]
    assert e["body_len"] == 0 and e["framing"] == "none"
    assert e["raw_head"].startswith("GET /echo/a%20b?x=1&y HTTP/1.1\r\nHost: h\r\n")


def test_echo_content_length_body():
    o = origin()
    status, headers, body = request(o.port, "POST", "/echo", body=b"hello world")
    assert status == 200
    e = json.loads(body)
    assert e["body_len"] == 11 and e["body"] == "hello world" and e["framing"] == "length"
    assert e["body_sha256"] == gwtest.sha256(b"hello world")


def test_echo_chunked_body_with_extensions_and_trailers():
    o = origin()
    with HttpConn(o.port) as c:
        c.send(
            b"PUT /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n"
        )
        e = c.read_response().json()
        assert e["framing"] == "chunked"
        assert e["body"] == "hello world" and e["body_len"] == 11
        assert e["trailers"] == [["X-Trailer", "t"]]
        # a large chunked body, then the connection is still usable
        data = os.urandom(300_000)
        c.send(gwtest.build_request("POST", "/echo", [("Transfer-Encoding", "chunked")]))
        c.send(gwtest.chunked(data, size=70_000))
        e = c.read_response().json()
        assert e["body_len"] == len(data) and e["body_sha256"] == gwtest.sha256(data)
        assert e["body"] is None  # longer than the 64 KiB kept
        c.send_request("GET", "/echo/again")
        assert c.read_response().json()["path"] == "/echo/again"


def test_head_has_headers_but_no_body():
    o = origin()
    with HttpConn(o.port) as c:
        c.send_request("HEAD", "/bytes/1000")
        r = c.read_response(head=True)
        assert r.status == 200 and r.header("Content-Length") == "1000" and r.body == b""
        c.send_request("HEAD", "/echo")
        r = c.read_response(head=True)
        assert r.status == 200 and int(r.header("Content-Length")) > 0 and r.body == b""
        # nothing stray was sent: the next response parses
        c.send_request("GET", "/bytes/3")
        assert c.read_response().body == b"\x00\x01\x02"


def test_pipelined_requests_answered_in_order():
    o = origin()
    with HttpConn(o.port) as c:
        c.send(
            gwtest.build_request("GET", "/echo/one")
            + gwtest.build_request("POST", "/echo/two", body=b"xyz")
            + gwtest.build_request("GET", "/bytes/5")
        )
        assert c.read_response().json()["path"] == "/echo/one"
        e = c.read_response().json()
        assert e["path"] == "/echo/two" and e["body"] == "xyz"
        assert c.read_response().body == gwtest.pattern(5)


def test_status_codes():
    o = origin()
    with HttpConn(o.port) as c:
        for code in (200, 201, 404, 418, 503):
            c.send_request("GET", "/status/%d" % code)
            r = c.read_response()
            assert r.status == code and r.json() == {"status": code}, r
        for code in (204, 304):
            c.send_request("GET", "/status/%d" % code)
            r = c.read_response()
            assert r.status == code and r.body == b"" and r.header("Content-Length") is None
        c.send_request("GET", "/status/200?h=Retry-After:7&h=X-Extra:%20a")
        r = c.read_response()
        assert r.header("Retry-After") == "7" and r.header("X-Extra") == "a"
        c.send_request("GET", "/nope")
        assert c.read_response().status == 404


def test_bodies_by_length_chunked_and_eof():
    o = origin()
    with HttpConn(o.port) as c:
        c.send_request("GET", "/bytes/100000")
        r = c.read_response()
        assert r.framing == "length" and r.body == gwtest.pattern(100000)
        c.send_request("GET", "/chunked/200001")
        r = c.read_response()
        assert r.framing == "chunked" and r.body == gwtest.pattern(200001)
        c.send_request("GET", "/chunked/0")
        r = c.read_response()
        assert r.framing == "chunked" and r.body == b""
        c.send_request("GET", "/eof/5000")
        r = c.read_response()
        assert r.framing == "eof" and r.body == gwtest.pattern(5000)
        assert r.header("Connection") == "close" and c.eof
    # HTTP/1.0 cannot take chunked: close-delimited instead
    r = request(o.port, "GET", "/chunked/1000", version="HTTP/1.0")
    assert r.framing == "eof" and r.body == gwtest.pattern(1000)


def test_connection_close_and_http10():
    o = origin()
    with HttpConn(o.port) as c:
        c.send_request("GET", "/echo", [("Connection", "close")])
        assert c.read_response().header("Connection") == "close"
        assert c.wait_closed(2)
    with HttpConn(o.port) as c:
        c.send_request("GET", "/echo", version="HTTP/1.0")
        assert c.read_response().header("Connection") == "close"
        assert c.wait_closed(2)
    with HttpConn(o.port) as c:
        c.send_request("GET", "/echo", [("Connection", "keep-alive")], version="HTTP/1.0")
        assert c.read_response().header("Connection") == "keep-alive"
        c.send_request("GET", "/echo?close=1")
        assert c.read_response().header("Connection") == "close"
        assert c.wait_closed(2)


def test_stats_count_connections_and_requests():
    with Origin() as o:
        assert o.stats()["connections"] == 0
        conns = [HttpConn(o.port) for _ in range(3)]
        for c in conns:
            for _ in range(2):
                c.send_request("GET", "/echo")
                c.read_response()
        s = o.stats()
        assert s["connections"] == 3 and s["requests"] == 6 and s["active"] == 3, s
        assert s["by_path"] == {"/echo": 6}
        for c in conns:
            c.close()
        gwtest.wait_until(lambda: o.stats()["active"] == 0, message="connections closed")
        # a connection that sends nothing is still counted
        socket.create_connection(("127.0.0.1", o.port)).close()
        gwtest.wait_until(lambda: o.stats()["connections"] == 4, message="bare connection")
        assert [r["target"] for r in o.last_requests()] == ["/echo"] * 6
        o.reset_stats()
        assert o.stats() == {"connections": 0, "active": 0, "requests": 0, "by_path": {}}


def test_health_can_be_switched():
    with Origin() as o:
        assert request(o.port, "GET", "/health").status == 200
        o.set_health(503)
        r = request(o.port, "GET", "/health")
        assert r.status == 503 and r.json() == {"status": "down"}


@gwtest.timeout(60)
def test_50mib_download_and_uploads():
    o = origin()
    n = 50 * 1024 * 1024
    want = gwtest.pattern_sha256(n)
    with HttpConn(o.port, timeout=30) as c:
        c.send_request("GET", "/bytes/%d" % n)
        r = c.read_response(hash_body=True)
        assert r.body_len == n and r.body_sha256 == want and r.body == b""
        c.send_request("GET", "/chunked/%d" % n)
        r = c.read_response(hash_body=True)
        assert r.body_len == n and r.body_sha256 == want
        c.send_request("POST", "/upload", body=n)
        assert c.read_response().json() == {"received": n, "sha256": want}
        c.send(gwtest.build_request("POST", "/upload", [("Transfer-Encoding", "chunked")]))
        c.send_pattern_chunked(n)
        assert c.read_response().json() == {"received": n, "sha256": want}


def test_sleep_and_slow_body():
    o = origin()
    t0 = time.monotonic()
    r = request(o.port, "GET", "/sleep/200")
    assert r.status == 200 and r.json() == {"slept_ms": 200}
    assert time.monotonic() - t0 >= 0.2
    with HttpConn(o.port) as c:
        c.send_request("GET", "/slow-body/300")
        first = c.read_raw(0.15)
        assert first.endswith(b"\r\n\r\nhello"), first
        assert b"Content-Length: 10\r\n" in first
        rest = c.read_raw(1.0)
        assert rest == b"world", rest


def test_misbehaving_endpoints():
    o = origin()
    assert raw_exchange(o.port, gwtest.build_request("GET", "/garbage")) == (
        b"NOT HTTP AT ALL\r\n\r\n"
    )
    # /reset: an RST, no answer
    s = socket.create_connection(("127.0.0.1", o.port), timeout=5)
    s.sendall(gwtest.build_request("GET", "/reset"))
    try:
        got = s.recv(100)
        assert got == b"", got
        reset = False
    except ConnectionResetError:
        reset = True
    s.close()
    assert reset, "expected ECONNRESET from /reset"
    # /die-mid-body: 100 of 1000 bytes, then the connection ends
    with HttpConn(o.port) as c:
        c.send_request("GET", "/die-mid-body")
        try:
            c.read_response()
            raise AssertionError("a truncated body must not parse")
        except gwtest.ConnectionClosed as e:
            assert "900 body byte(s) missing" in str(e), e
    # /silent: never answers, keeps the connection
    with HttpConn(o.port) as c:
        c.send_request("POST", "/silent", body=b"abc")
        assert c.read_raw(0.5) == b"" and not c.eof
        gwtest.wait_until(lambda: o.stats()["active"] >= 1, message="silent conn open")


def test_expect_continue_and_bad_requests():
    o = origin()
    with HttpConn(o.port) as c:
        c.send(gwtest.build_request("POST", "/echo", [("Expect", "100-continue")], body=4))
        r = c.read_response()
        assert r.status == 100, r
        c.send(b"abcd")
        r = c.read_response()
        assert r.status == 200 and r.json()["body"] == "abcd"
    data = raw_exchange(o.port, b"GARBAGE\r\n\r\n", timeout=2)
    assert data.startswith(b"HTTP/1.1 400 "), data
    data = raw_exchange(
        o.port, b"POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    )
    assert data.startswith(b"HTTP/1.1 400 "), data


def test_origin_runs_in_process():
    from gwtest.origin import OriginServer

    with OriginServer() as srv:
        r = request(srv.port, "GET", "/echo/in-process")
        assert r.json()["path"] == "/echo/in-process"
        assert srv.stats()["requests"] == 1


def test_raw_exchange_returns_on_timeout():
    with InProcessOrigin() as port:
        t0 = time.monotonic()
        assert raw_exchange(port, b"GET /silent HTTP/1.1\r\nHost: h\r\n\r\n", timeout=0.3) == b""
        assert 0.25 < time.monotonic() - t0 < 2


class InProcessOrigin:
    def __enter__(self):
        from gwtest.origin import OriginServer

        self.srv = OriginServer().start()
        return self.srv.port

    def __exit__(self, *exc):
        self.srv.stop()


# ---- the runner itself ------------------------------------------------------------------------

RUNNER_PROBE = """
import os, sys, time
sys.path.insert(0, {here!r})
import gwtest

def test_passes():
    pass

def test_fails():
    assert 1 == 2, "one is not two"

@gwtest.timeout(1)
def test_times_out():
    o = gwtest.Origin()
    with open({pidfile!r}, "w") as f:
        f.write(str(o.pid))
    time.sleep(30)

def test_skips():
    gwtest.skip("not here")

def test_after_timeout_still_runs():
    pass

if __name__ == "__main__":
    gwtest.main(globals())
"""


@gwtest.timeout(30)
def test_runner_reports_and_cleans_up():
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "test_probe.py")
        pidfile = os.path.join(tmp, "pid")
        with open(script, "w") as f:
            f.write(RUNNER_PROBE.format(here=gwtest.HERE, pidfile=pidfile))
        p = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=25)
        out = p.stdout.splitlines()
        assert p.returncode == 1, p
        assert "ok test_passes" in out
        assert "FAIL test_fails" in out
        assert "FAIL test_times_out" in out
        assert "skip test_skips: not here" in out
        assert "ok test_after_timeout_still_runs" in out
        assert "one is not two" in p.stdout and "timed out after 1 s" in p.stdout
        assert out[-1] == "2 passed, 2 failed", out[-1]
        with open(pidfile) as f:
            pid = int(f.read())
        assert not os.path.exists("/proc/%d" % pid) or _is_zombie(pid), "origin left running"
        # selecting tests by name
        p = subprocess.run([sys.executable, script, "test_passes"], capture_output=True,
                           text=True, timeout=25)
        assert p.returncode == 0, p
        assert p.stdout.splitlines() == ["ok test_passes", "1 passed, 0 failed"], p.stdout


def _is_zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


# ---- Gantry against a fake binary -------------------------------------------------------------

FAKE_GANTRY = """#!{python}
import json, os, signal, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

cfg = json.load(open(sys.argv[sys.argv.index("-c") + 1]))
mode = os.environ.get("FAKE_MODE", "ok")
if mode == "exit":
    print("config error: services[0].targets: boom", file=sys.stderr)
    sys.exit(3)

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = json.dumps({{"path": self.path, "mode": mode}}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        print("access GET %s 200" % self.path, flush=True)
    def log_message(self, *a):
        pass

host, port = cfg["listen"].rsplit(":", 1)
srv = ThreadingHTTPServer((host, int(port)), H)

def on_term(*a):
    if mode == "leak":
        sys.stderr.write("==1==ERROR: LeakSanitizer: detected memory leaks\\n")
        sys.stderr.flush()
    os._exit(0)

if mode == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
else:
    signal.signal(signal.SIGTERM, on_term)
print("fake gantry on", cfg["listen"], flush=True)
srv.serve_forever()
"""


def _fake_gantry(tmp):
    path = os.path.join(tmp, "fake-gantry")
    with open(path, "w") as f:
        f.write(FAKE_GANTRY.format(python=sys.executable))
    os.chmod(path, 0o755)
    return path


@gwtest.timeout(60)
def test_gantry_class_against_a_fake_binary():
    with tempfile.TemporaryDirectory() as tmp:
        fake = _fake_gantry(tmp)
        with Origin() as o:
            cfg = gwtest.simple_config(o, prefix="/api")
            assert cfg["services"][0]["targets"] == [{"url": "http://127.0.0.1:%d" % o.port}]
            with gwtest.Gantry(cfg, binary=fake) as g:
                assert g.port == int(cfg["listen"].rsplit(":", 1)[1])
                assert g.rss_kib() > 0
                with open(g.config_path) as f:
                    assert json.load(f) == g.config
                assert g.request("GET", "/x").json()["path"] == "/x"
                g.wait_log(r"access GET /x 200")
                assert "fake gantry on" in g.logs()
            assert g.returncode == 0 and not g.alive()

        # exits before ready: the error carries its stderr
        try:
            gwtest.Gantry({"workers": 1}, binary=fake, extra_env={"FAKE_MODE": "exit"})
            raise AssertionError("Gantry() must fail")
        except gwtest.HarnessError as e:
            assert "exited with status 3" in str(e) and "boom" in str(e), e

        # ignores SIGTERM: stop() kills it and fails
        g = gwtest.Gantry({}, binary=fake, extra_env={"FAKE_MODE": "ignore-term"})
        try:
            g.stop(timeout=0.5)
            raise AssertionError("stop() must fail")
        except gwtest.HarnessError as e:
            assert "did not exit" in str(e)
        assert not g.alive()

        # a sanitizer report fails stop()
        g = gwtest.Gantry({}, binary=fake, extra_env={"FAKE_MODE": "leak"})
        try:
            g.stop()
            raise AssertionError("stop() must fail")
        except gwtest.HarnessError as e:
            assert "LeakSanitizer" in str(e)

        p = gwtest.run_gantry(["-c", "/nonexistent"], binary=fake, timeout=10)
        assert p.returncode != 0


# ---- ports shared between processes ---------------------------------------------------------

HOLD_PORT = """
import sys
sys.path.insert(0, {here!r})
import gwtest
print(gwtest.reserve_port(int(sys.argv[1])), flush=True)
sys.stdin.readline()
"""


def test_a_port_reserved_by_another_process_is_not_handed_out():
    port = gwtest.free_port()  # reserved by this process
    assert gwtest.reserve_port(port)  # held already: still ours
    child = subprocess.Popen([sys.executable, "-c", HOLD_PORT.format(here=gwtest.HERE), str(port)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "False"  # another process holds it
    finally:
        child.stdin.close()
        child.wait(10)
    # And the other way round: what a child holds is refused here until the child is gone.
    other = gwtest.free_port() + 1
    child = subprocess.Popen([sys.executable, "-c", HOLD_PORT.format(here=gwtest.HERE),
                              str(other)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout.readline().strip() == "True"
        assert not gwtest.reserve_port(other)
    finally:
        child.stdin.close()
        child.wait(10)
    assert gwtest.reserve_port(other)  # the kernel dropped the child's lock when it exited


@gwtest.timeout(60)
def test_a_second_gantry_on_the_same_port_is_named():
    # Two gantries bind one port without an error (SO_REUSEPORT, for deploys) and the kernel
    # spreads connections over both: the second one must not pass for ready.
    with Origin() as o, gwtest.Gantry(gwtest.simple_config(o)) as a:
        cfg = dict(a.config)
        cfg.pop("admin", None)
        try:
            b = gwtest.Gantry(cfg)
        except gwtest.HarnessError as e:
            assert "another process listens on 127.0.0.1:%d too" % a.port in str(e), e
            assert "%d (" % a.pid in str(e), e
        else:
            b.stop()
            raise AssertionError("Gantry() must fail on a port another gantry listens on")
        assert request(a.port, "GET", "/ready").status == 200


# ---- the example services (when built) ------------------------------------------------------


def test_example_services_when_built():
    if not os.access(gwtest.example_bin("users"), os.X_OK):
        gwtest.skip("example services not built in %s" % gwtest.build_dir())
    for name in ("users", "orders"):
        with gwtest.ExampleService(name) as svc:
            r = request(svc.port, "GET", "/api/" + name)
            assert r.status == 200 and r.header("X-Served-By") == name
            assert r.json()["count"] == 2
            with HttpConn(svc.port) as c:
                body = b'{"name": "Grace"}' if name == "users" else b'{"item": "x"}'
                c.send(
                    gwtest.build_request("POST", "/api/" + name, body=body)
                    + gwtest.build_request("GET", "/api/%s/3" % name)
                    + gwtest.build_request("DELETE", "/api/%s/3" % name)
                    + gwtest.build_request("GET", "/api/%s/3" % name)
                    + gwtest.build_request("GET", "/health", [("Connection", "close")])
                )
                statuses = [c.read_response().status for _ in range(5)]
                assert statuses == [201, 200, 204, 404, 200], statuses
                assert c.wait_closed(2)
        assert svc.proc.returncode == 0, svc.logs()
        assert "Sanitizer" not in svc.logs() and "runtime error" not in svc.logs(), svc.logs()


if __name__ == "__main__":
    gwtest.main(globals())
