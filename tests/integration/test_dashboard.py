#!/usr/bin/env python3
"""The dashboard's HTTP side (issue 19), without a browser: the page's files (content types,
Content-Security-Policy, X-Frame-Options, ETag and 304), the admin key rules around them,
admin.dashboard off, the live access-log stream (Server-Sent Events: filters, nothing kept
while nobody watches, a cap on streams), the 15-minute history, the last reload's result in
/gateway/status (SIGHUP included), and POST /api/drain. The browser test is
test_dashboard_browser.py."""

import hashlib
import json
import signal
import socket
import time

import gwtest
from gwtest import Gantry, Origin, request

KEY = "k-" + "7" * 30
AUTH = {"Authorization": "Bearer " + KEY}


def keyed_config(o, **admin):
    cfg = gwtest.simple_config(o, name="app", prefix="/app")
    cfg["services"][0]["strip_prefix"] = True
    cfg["services"].append({"name": "other", "prefix": "/other", "strip_prefix": True,
                            "targets": [o.target()]})
    cfg["admin"] = dict({"listen": "127.0.0.1:%d" % gwtest.free_port(), "api_key": KEY}, **admin)
    return cfg


class Stream:
    """GET /api/access-log/stream on a raw socket; events as (name, data) pairs."""

    def __init__(self, port, query="", headers=AUTH):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        lines = ["GET /api/access-log/stream%s HTTP/1.1" % (("?" + query) if query else ""),
                 "Host: x", "Accept: text/event-stream"]
        lines += ["%s: %s" % kv for kv in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self._read()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.head = head.decode()
        self.status = int(self.head.split(" ")[1])

    def _read(self):
        chunk = self.sock.recv(65536)
        assert chunk, "the stream closed"
        self.buf += chunk

    def event(self):
        """The next event (comments and retry lines skipped)."""
        while True:
            while b"\n\n" not in self.buf:
                self._read()
            block, self.buf = self.buf.split(b"\n\n", 1)
            name, data = "message", None
            for line in block.decode().split("\n"):
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data = json.loads(line[5:].strip())
            if data is not None:
                return name, data

    def close(self):
        self.sock.close()


def test_page_files_headers_and_etag():
    with Origin() as o, Gantry(keyed_config(o)) as g:
        r = request(g.admin_port, "GET", "/dashboard")
        assert r.status == 200, r
        assert r.header("Content-Type") == "text/html; charset=utf-8", r.headers
        csp = r.header("Content-Security-Policy")
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, csp
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp, csp
        assert r.header("X-Frame-Options") == "DENY"
        assert r.header("X-Content-Type-Options") == "nosniff"
        assert r.header("Cache-Control") == "no-cache"
        etag = r.header("ETag")
        assert etag and etag.startswith('"') and len(etag) == 18, etag
        assert b"<script>" not in r.body and b'src="/dashboard/app.js"' in r.body
        # revalidation: 304 without a body, same validator (weak comparison)
        for inm in (etag, "W/" + etag, '"other", ' + etag, "*"):
            r2 = request(g.admin_port, "GET", "/dashboard/", headers={"If-None-Match": inm})
            assert r2.status == 304 and r2.body == b"", (inm, r2)
            assert r2.header("ETag") == etag and r2.header("Content-Length") is None, r2.headers
        r3 = request(g.admin_port, "GET", "/dashboard", headers={"If-None-Match": '"nope"'})
        assert r3.status == 200 and r3.body == r.body
        for path, ctype in (("/dashboard/app.js", "text/javascript; charset=utf-8"),
                            ("/dashboard/app.css", "text/css; charset=utf-8"),
                            ("/dashboard/favicon.svg", "image/svg+xml")):
            f = request(g.admin_port, "GET", path)
            assert f.status == 200 and f.header("Content-Type") == ctype, (path, f.headers)
            assert f.header("ETag") != etag and f.body
        h = request(g.admin_port, "HEAD", "/dashboard/app.js")
        assert h.status == 200 and h.body == b"", h
        assert request(g.admin_port, "GET", "/dashboard/nope.js", headers=AUTH).status == 404
        assert request(g.admin_port, "POST", "/dashboard", headers=AUTH).status == 405


def test_key_rules_and_dashboard_off():
    with Origin() as o, Gantry(keyed_config(o)) as g:
        # the page's files load without the key; data and the stream do not
        assert request(g.admin_port, "GET", "/dashboard/app.js").status == 200
        for path in ("/gateway/status", "/metrics/json", "/metrics/history",
                     "/api/access-log/stream", "/dashboard/nope.js"):
            r = request(g.admin_port, "GET", path)
            assert r.status == 401, (path, r.status)
            assert request(g.admin_port, "GET", path,
                           headers={"Authorization": "Bearer wrong"}).status == 401
        assert request(g.admin_port, "POST", "/dashboard").status == 401
        assert request(g.admin_port, "GET", "/metrics/history", headers=AUTH).status == 200
        assert request(g.admin_port, "POST", "/api/drain").status == 401
        st = request(g.admin_port, "GET", "/gateway/status", headers=AUTH).json()
        assert st["dashboard"] is True and st["tunnels"] == 0, st

        # admin.dashboard: false -> 404 (and the page is no longer public)
        cfg = dict(g.config)
        cfg["admin"] = dict(cfg["admin"], dashboard=False)
        g.write_config(cfg)
        assert request(g.admin_port, "POST", "/api/config/reload", headers=AUTH).status == 200
        assert request(g.admin_port, "GET", "/dashboard").status == 401
        assert request(g.admin_port, "GET", "/dashboard", headers=AUTH).status == 404
        assert request(g.admin_port, "GET", "/api/access-log/stream",
                       headers=AUTH).status == 404
        st = request(g.admin_port, "GET", "/gateway/status", headers=AUTH).json()
        assert st["dashboard"] is False


def test_live_log_stream_filters():
    with Origin() as o, Gantry(keyed_config(o)) as g:
        # sent while nobody watches: never shown (nothing is recorded)
        assert request(g.port, "GET", "/app/status/503").status == 503
        # The client has its answer before the worker records the request: wait for the access
        # line (written after the live log's look), so the stream cannot open in between.
        g.wait_log(r'"GET /app/status/503" 503')
        s = Stream(g.admin_port, "service=app&status=5xx")
        try:
            assert s.status == 200, s.head
            assert "Content-Type: text/event-stream" in s.head, s.head
            assert "Content-Length" not in s.head, s.head
            ids = []
            for path in ("/app/echo/ok", "/app/status/500", "/other/status/502",
                         "/app/status/404", "/app/status/503"):
                ids.append(request(g.port, "GET", path).header("X-Request-ID"))
            seen = []
            while len(seen) < 2:
                name, data = s.event()
                assert name == "log", (name, data)
                seen += data
            assert [(e["status"], e["service"]) for e in seen] == [(500, "app"), (503, "app")]
            assert [e["request_id"] for e in seen] == [ids[1], ids[4]]
            e = seen[0]
            assert e["method"] == "GET" and e["path"] == "/app/status/500", e
            assert e["target"] == "127.0.0.1:%d" % o.port and e["client"] == "127.0.0.1", e
            assert e["duration_ms"] >= 0 and e["upstream_ms"] >= 0, e
        finally:
            s.close()
        # an exact status; a request id (a part of it is enough; the caller's own id is kept)
        s = Stream(g.admin_port, "status=404")
        try:
            rid = request(g.port, "GET", "/other/status/404").header("X-Request-ID")
            request(g.port, "GET", "/other/status/200")
            name, data = s.event()
            assert [d["request_id"] for d in data] == [rid], data
        finally:
            s.close()
        s = Stream(g.admin_port, "request_id=order-42")
        try:
            for rid in ("order-41-a", "client-order-42-b", "order-4", "x-order-42"):
                request(g.port, "GET", "/app/echo/r", headers={"X-Request-ID": rid})
            got = []
            while len(got) < 2:
                got += [d["request_id"] for d in s.event()[1]]
            assert got == ["client-order-42-b", "x-order-42"], got
        finally:
            s.close()
        # bad filters
        for q in ("status=600", "status=5x", "service=%zz"):
            r = request(g.admin_port, "GET", "/api/access-log/stream?" + q, headers=AUTH)
            assert r.status == 400 and "bad filter" in r.json()["error"], (q, r)


def test_at_most_sixteen_streams():
    with Origin() as o, Gantry(keyed_config(o)) as g:
        streams = []
        try:
            for _ in range(16):
                streams.append(Stream(g.admin_port))
                assert streams[-1].status == 200
            r = request(g.admin_port, "GET", "/api/access-log/stream", headers=AUTH)
            assert r.status == 503 and "too many" in r.json()["error"], r
            streams.pop().close()

            def reopened():
                s = Stream(g.admin_port)
                if s.status == 200:
                    streams.append(s)
                    return True
                s.close()
                return False
            gwtest.wait_until(reopened, timeout=5)
            # the other API still answers while streams are open
            assert request(g.admin_port, "GET", "/gateway/status", headers=AUTH).status == 200
        finally:
            for s in streams:
                s.close()


@gwtest.timeout(60)
def test_history_has_interval_rates_and_percentiles():
    with Origin() as o, Gantry(keyed_config(o)) as g:
        h = request(g.admin_port, "GET", "/metrics/history", headers=AUTH).json()
        assert h["interval_seconds"] == 5 and isinstance(h["samples"], list), h

        def sample_with_traffic():
            for _ in range(5):
                assert request(g.port, "GET", "/app/echo/h").status == 200
            s = request(g.admin_port, "GET", "/metrics/history", headers=AUTH).json()["samples"]
            return [x for x in s if x["requests"] > 0]
        got = gwtest.wait_until(sample_with_traffic, timeout=30)
        x = got[-1]
        assert set(x) == {"time_ms", "requests", "rate_per_second", "error_rate", "p50_ms",
                          "p95_ms", "p99_ms", "connections"}, x
        assert x["rate_per_second"] > 0 and x["error_rate"] == 0, x
        assert 0 < x["p50_ms"] <= x["p95_ms"] <= x["p99_ms"], x
        assert abs(x["time_ms"] - time.time() * 1000) < 60000, x


def test_last_reload_in_status_after_sighup():
    with Origin() as o, Gantry(keyed_config(o)) as g:
        st = request(g.admin_port, "GET", "/gateway/status", headers=AUTH).json()
        assert st["last_reload"] is None, st
        text = json.dumps(g.config, indent=2).replace('"prefix": "/other"', '"prefix": 7')
        line = next(i + 1 for i, l in enumerate(text.splitlines()) if '"prefix": 7' in l)
        with open(g.config_path, "w") as f:
            f.write(text)
        g.signal(signal.SIGHUP)

        def failed():
            lr = request(g.admin_port, "GET", "/gateway/status", headers=AUTH).json()["last_reload"]
            return lr if lr and lr["result"] == "failed" else None
        lr = gwtest.wait_until(failed, timeout=5)
        assert len(lr["errors"]) == 1, lr
        e = lr["errors"][0]
        assert e["file"] == g.config_path and e["line"] == line and e["column"] > 0, e
        assert e["path"] == "services[1].prefix", e
        assert lr["at"].endswith("Z"), lr
        g.write_config(g.config)
        g.signal(signal.SIGHUP)

        def ok():
            lr = request(g.admin_port, "GET", "/gateway/status", headers=AUTH).json()["last_reload"]
            return lr if lr["result"] == "ok" else None
        lr = gwtest.wait_until(ok, timeout=5)
        assert lr["errors"] == [], lr


def test_status_targets_in_flight_and_ewma():
    with Origin() as o:
        cfg = keyed_config(o)
        cfg["services"][1]["load_balancer"] = {"strategy": "p2c_ewma"}
        with Gantry(cfg) as g:
            for _ in range(3):
                assert request(g.port, "GET", "/other/echo/e").status == 200
            st = request(g.admin_port, "GET", "/gateway/status", headers=AUTH).json()
            t = {s["name"]: s["targets"][0] for s in st["services"]}
            assert t["app"]["in_flight"] == 0 and t["app"]["ewma_ms"] is None, t
            assert t["other"]["in_flight"] == 0 and t["other"]["ewma_ms"] > 0, t


def test_metrics_json_limits_and_auth():
    with Origin() as o:
        cfg = keyed_config(o)
        cfg["auth"] = {"consumers": [{"id": "batch", "api_keys": [
            "sha256:" + hashlib.sha256(b"k1").hexdigest()]}]}
        cfg["rate_limit"] = {"limits": [{"name": "all", "limit": 100000, "period": "1s",
                                         "key": "global"}]}
        cfg["services"][0]["rate_limit"] = {"limits": [{"name": "tight", "limit": 2,
                                                        "period": "1h", "key": "ip"}]}
        cfg["services"][1]["auth"] = {"methods": ["api_key"]}
        with Gantry(cfg) as g:
            for _ in range(3):
                request(g.port, "GET", "/app/echo/x")
            for key, n in (("k1", 2), ("nope", 3)):
                for _ in range(n):
                    request(g.port, "GET", "/other/echo/x", headers={"X-API-Key": key})
            request(g.port, "GET", "/other/echo/x")

            def counted():
                m = request(g.admin_port, "GET", "/metrics/json", headers=AUTH).json()
                return m if m["total"]["requests"] >= 9 else None
            m = gwtest.wait_until(counted, timeout=5)
            limits = {(l["scope"], l["limit"]): l for l in m["rate_limits"]}
            assert limits[("gateway", "all")]["allowed"] == 9, limits
            assert limits[("app", "tight")]["allowed"] == 2, limits
            assert limits[("app", "tight")]["limited"] == 1, limits
            auth = {s["name"]: s["auth"] for s in m["services"]}
            assert auth["app"] == {}, auth
            assert auth["other"]["api_key"] == {"ok": 2, "forbidden": 0, "unauthorized": 3,
                                                "error": 0, "reasons": {"invalid_key": 3}}, auth
            assert auth["other"]["none"]["reasons"] == {"missing": 1}, auth


def test_drain_from_the_admin_api():
    with Origin() as o:
        g = Gantry(keyed_config(o))
        try:
            r = request(g.admin_port, "POST", "/api/drain", headers=AUTH)
            assert r.status == 202 and r.json()["status"] == "draining", r
            g.wait_exit(timeout=10)
            g.check_exit()
            assert "draining" in g.stderr(), g.stderr()
        finally:
            g.stop(check=False)


if __name__ == "__main__":
    gwtest.main(globals())
