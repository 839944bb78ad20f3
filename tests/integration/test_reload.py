#!/usr/bin/env python3
"""Hot reload (issue "Control plane").

SIGHUP re-reads the config file, validates it and publishes a new snapshot to every worker;
an invalid file is refused with file:line:column and the running configuration stays. The
main test reloads 50 times under a steady load (keep-alive clients and clients opening a new
connection per request), alternating valid changes (services and targets added and removed)
with invalid files, and proves that every single request succeeded and went where the
snapshot it saw sent it. Another reports the reload latency with 1,000 services.

Origins: A serves /stable (in every config); B and C serve /t (its target set alternates
between [B] and [B, C]) and the short-lived services /v/N (even N on B, odd N on C).
"""

import json
import os
import re
import socket
import signal
import time

import gwtest
from gwtest import Gantry, HttpConn, Load, Origin, from_origin, request

RELOADED = re.compile(r"configuration reloaded: generation (\d+), (\d+) services?, ([\d.]+) ms")
REFUSED = re.compile(r"reload refused")


# ---- helpers ------------------------------------------------------------------------------------


def gantry_404(r):
    """None when r is gantry's own JSON 404 (no route), else what is wrong."""
    if r.status != 404 or r.header("X-Origin-Port") is not None:
        return "expected gantry's 404, got %d from origin port %s" % (
            r.status,
            r.header("X-Origin-Port"),
        )
    body = r.json()
    if body.get("status") != 404 or not body.get("error") or not body.get("request_id"):
        return "404 body %r" % body
    return None


def service(name, prefix, origins):
    return {
        "name": name,
        "prefix": prefix,
        "strip_prefix": True,
        "targets": [o.target() for o in origins],
    }


def stderr_since(g, offset):
    return g.stderr()[offset:]


def hup(g, expect_ok, timeout=15):
    """SIGHUP, then waits for the outcome line; returns the stderr written since the signal
    (the outcome line and, for a refusal, at least its first error line)."""
    offset = len(g.stderr())
    g.signal(signal.SIGHUP)

    def outcome():
        text = stderr_since(g, offset)
        if expect_ok:
            return text if RELOADED.search(text) else None
        if REFUSED.search(text) and re.search(r"gantry\.json:\d+:\d+: ", text):
            return text
        if RELOADED.search(text):
            return text  # the wrong outcome: reported by the caller
        return None

    return gwtest.wait_until(outcome, timeout, message="reload outcome in gantry's log")


def locate(text, marker, nth=0, within=None):
    """(line, column), 1-based, of the nth occurrence of marker (on a line containing within,
    when given)."""
    seen = 0
    for ln, line in enumerate(text.split("\n"), 1):
        if within is not None and within not in line:
            continue
        col = line.find(marker)
        if col >= 0:
            if seen == nth:
                return ln, col + 1
            seen += 1
    raise AssertionError("%r not in the generated config" % marker)


def dump(cfg):
    return json.dumps(cfg, indent=2) + "\n"


# ---- the main proof: 50 reloads under load ---------------------------------------------------


class Plan:
    """The configurations of the 50-reload test. Valid variant k holds /stable (A), /t
    ([B] for even k, [B, C] for odd k) and /v/(k-1), /v/k; so variant k adds /v/k and
    removes /v/(k-2) and the target C of /t comes and goes."""

    def __init__(self, a, b, c, listen):
        self.a, self.b, self.c = a, b, c
        self.listen = listen

    def v_origin(self, n):
        return self.b if n % 2 == 0 else self.c

    def t_origins(self, k):
        return [self.b] if k % 2 == 0 else [self.b, self.c]

    def valid(self, k):
        services = [
            service("stable", "/stable", [self.a]),
            service("t", "/t", self.t_origins(k)),
        ]
        for n in (k - 1, k):
            if n >= 0:
                services.append(service("v%d" % n, "/v/%d" % n, [self.v_origin(n)]))
        return {
            "listen": self.listen,
            "workers": 2,
            "log": {"access": "off"},
            "services": services,
        }

    def invalid(self, k):
        """Variant k + 1 with one mistake (five kinds in turn); returns (text, regex the
        error line must match). Were it accepted, /v/(k+1) would appear and /t change."""
        cfg = self.valid(k + 1)
        svcs = cfg["services"]
        i = len(svcs) - 1  # /v/(k+1)
        kind = k % 5
        if kind == 0:  # syntax: a missing comma; the parser names the next line
            text = dump(cfg)
            line, _ = locate(text, '"workers": 2,')
            text = text.replace('"workers": 2,', '"workers": 2', 1)
            return text, r"gantry\.json:%d:\d+: " % (line + 1)
        if kind == 1:  # wrong type
            svcs[i]["targets"] = 42
            text = dump(cfg)
            line, col = locate(text, "42", within='"targets": 42')
            return text, r"gantry\.json:%d:%d: services\[%d\]\.targets: expected an array" % (
                line,
                col,
                i,
            )
        if kind == 2:  # unknown key, with a suggestion
            svcs[i]["prefx"] = svcs[i].pop("prefix")
            text = dump(cfg)
            line, col = locate(text, '"prefx"')
            return text, (
                r'gantry\.json:%d:%d: services\[%d\]\.prefx: unknown key "prefx" '
                r'\(did you mean "prefix"\?\)' % (line, col, i)
            )
        if kind == 3:  # duplicate service name
            svcs[i]["name"] = "stable"
            text = dump(cfg)
            line, col = locate(text, '"stable"', nth=1, within='"name"')
            return text, (
                r'gantry\.json:%d:%d: services\[%d\]\.name: duplicate service name "stable"'
                % (line, col, i)
            )
        svcs[i]["targets"] = [{"url": "http://127.0.0.1:99999"}]  # kind 4: bad port
        text = dump(cfg)
        line, col = locate(text, '"http://127.0.0.1:99999"')
        return text, (
            r"gantry\.json:%d:%d: services\[%d\]\.targets\[0\]\.url: .*port must be"
            % (line, col, i)
        )


def probe_t(g, plan, k):
    """/t answers from the targets of variant k only (and from all of them)."""
    want = {str(o.port) for o in plan.t_origins(k)}
    seen = set()
    for _ in range(30):
        r = g.request("GET", "/t/echo")
        assert r.status == 200, (k, r, r.body[:200])
        port = r.header("X-Origin-Port")
        assert port in want, "variant %d: /t answered by %s, targets are %s" % (k, port, want)
        seen.add(port)
        if seen == want and len(seen) > 1:
            break
    if len(want) == 1:
        return
    assert seen == want, "variant %d: /t answered only by %s of %s" % (k, seen, want)


def probe_valid(g, plan, k):
    for n in (k - 1, k):
        if n >= 0:
            problem = from_origin(g.request("GET", "/v/%d/echo" % n), plan.v_origin(n))
            assert problem is None, "after valid variant %d, /v/%d: %s" % (k, n, problem)
    if k >= 2:
        problem = gantry_404(g.request("GET", "/v/%d/echo" % (k - 2)))
        assert problem is None, "after valid variant %d, removed /v/%d: %s" % (k, k - 2, problem)
    probe_t(g, plan, k)


def probe_refused(g, plan, k):
    problem = gantry_404(g.request("GET", "/v/%d/echo" % (k + 1)))
    assert problem is None, "refused file added /v/%d anyway: %s" % (k + 1, problem)
    problem = from_origin(g.request("GET", "/v/%d/echo" % k), plan.v_origin(k))
    assert problem is None, "after a refused file, /v/%d: %s" % (k, problem)
    probe_t(g, plan, k)  # still variant k's targets


@gwtest.timeout(150)
def test_fifty_reloads_under_load_lose_no_request():
    with Origin() as a, Origin() as b, Origin() as c:
        plan = Plan(a, b, c, "127.0.0.1:%d" % gwtest.free_port())
        with Gantry(plan.valid(0)) as g:
            current = [0]  # the valid variant in force

            def check(path, r):
                if path.startswith("/stable/"):
                    return from_origin(r, a)
                if path.startswith("/t/"):
                    port = r.header("X-Origin-Port")
                    if r.status != 200 or port not in (str(b.port), str(c.port)):
                        return "status %d from origin %s" % (r.status, r.header("X-Origin-Port"))
                    return None
                # /v/N while N comes and goes: its own origin or gantry's 404, nothing else
                n = int(path.split("/")[2])
                if r.status == 404 and r.header("X-Origin-Port") is None:
                    return gantry_404(r)
                return from_origin(r, plan.v_origin(n))

            def churn(i):
                k = current[0]
                return "/v/%d/echo" % (k - 2 + i % 4)  # removed, live, live, not yet added

            plan_ = [("keepalive", lambda i: "/stable/echo" if i % 2 else "/t/echo")] * 4
            plan_ += [("fresh", lambda i: "/stable/echo")] * 2
            plan_ += [("fresh", churn)]
            load = Load(g.port, plan_, check, duration=110)
            try:
                gwtest.wait_until(lambda: load.total() >= 50, 10, message="load running")
                started = time.monotonic()
                generation = 1
                for k in range(25):
                    if k > 0:  # a valid change: variant k
                        g.write_config(plan.valid(k))
                        text = hup(g, expect_ok=True)
                        generation += 1
                        m = RELOADED.search(text)
                        assert not REFUSED.search(text), "variant %d refused:\n%s" % (k, text)
                        nsvc = len(plan.valid(k)["services"])
                        assert (int(m.group(1)), int(m.group(2))) == (generation, nsvc), text
                        current[0] = k
                        probe_valid(g, plan, k)
                    else:
                        probe_valid(g, plan, 0)
                    text, rx = plan.invalid(k)
                    g.write_config(text)
                    off = len(g.stderr())
                    out = hup(g, expect_ok=False)
                    assert not RELOADED.search(out), "invalid file %d accepted:\n%s" % (k, out)
                    gwtest.wait_until(
                        lambda: re.search(rx, stderr_since(g, off)), 5,
                        message="error line %r" % rx,
                    )
                    assert g.stderr().count("reload refused") == k + 1, g.stderr()
                    probe_refused(g, plan, k)
                # the 50th reload: valid again (25 valid, 25 refused)
                g.write_config(plan.valid(25))
                text = hup(g, expect_ok=True)
                assert int(RELOADED.search(text).group(1)) == generation + 1, text
                current[0] = 25
                probe_valid(g, plan, 25)
                elapsed = time.monotonic() - started
                during = sum(1 for t in load.done_at if started <= t <= started + elapsed)
            finally:
                load.stop()
            print("  50 reloads in %.1f s under load: %s" % (elapsed, load.summary()))
            assert not load.failures, "%d failed requests, first ones:\n%s" % (
                len(load.failures),
                "\n".join(load.failures[:20]),
            )
            assert during >= 200, "only %d requests completed during the reloads" % during
            # A reload never closes a client connection: each keep-alive client kept its one.
            assert load.retries == 0, load.summary()
            assert all(n == 1 for n in load.connects.values()), load.connects
            assert load.by_origin[str(a.port)] > 0 and load.by_origin[str(c.port)] > 0
            log = g.stderr()
            assert len(RELOADED.findall(log)) == 25, log
            assert len(REFUSED.findall(log)) == 25, log
            assert log.count("the running configuration is unchanged") == 25, log


# ---- a request keeps the snapshot it started with ---------------------------------------------


def test_request_in_flight_keeps_its_snapshot():
    """A request routed before a reload that removes its service still completes from its
    target (a slow answer and a streamed body), and the next request on the same keep-alive
    connection is routed by the new snapshot."""
    n = 32 * 1024 * 1024
    with Origin() as a, Origin() as b:
        cfg = {
            "workers": 1,
            "services": [
                service("stable", "/stable", [a]),
                service("gone", "/gone", [b]),
            ],
        }
        with Gantry(cfg) as g:
            slow = HttpConn(g.port, timeout=10)
            stream = HttpConn(g.port, timeout=10)
            keep = HttpConn(g.port, timeout=10)
            try:
                keep.send_request("GET", "/gone/echo")
                assert from_origin(keep.read_response(), b) is None
                slow.send_request("GET", "/gone/sleep/1000")
                stream.send_request("GET", "/gone/bytes/%d" % n)
                stream.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
                gwtest.wait_until(
                    lambda: b.stats()["by_path"].get("/sleep/1000")
                    and b.stats()["by_path"].get("/bytes/%d" % n),
                    5,
                    message="both requests at the origin",
                )
                while b"\r\n\r\n" not in stream.buf:  # the head, and the body under way
                    assert stream._fill(), "closed before the response head"
                assert stream.buf.startswith(b"HTTP/1.1 200"), bytes(stream.buf[:100])
                g.write_config(dict(g.config, services=[service("stable", "/stable", [a])]))
                text = hup(g, expect_ok=True)
                assert "generation 2, 1 service," in text, text
                r = slow.read_response()
                assert from_origin(r, b) is None, r
                assert r.json() == {"slept_ms": 1000}
                r = stream.read_response(hash_body=True)
                assert from_origin(r, b) is None, r
                assert r.body_len == n and r.body_sha256 == gwtest.pattern_sha256(n)
                keep.send_request("GET", "/gone/echo")
                assert gantry_404(keep.read_response()) is None
                keep.send_request("GET", "/stable/echo")
                assert from_origin(keep.read_response(), a) is None
            finally:
                for conn in (slow, stream, keep):
                    conn.close()


def test_max_headers_change_resizes_the_kept_requests():
    """Requests' memory is kept for reuse (conn/conn.c, sized by limits.max_headers): after a
    reload that raises the limit, a request with more fields than the old limit must get
    memory of the new size (under AddressSanitizer a kept, smaller one would overflow), and
    after one that lowers it, the limit is the new one."""
    with Origin() as a:
        cfg = {"workers": 1, "limits": {"max_headers": 20},
               "services": [service("s", "/s", [a])]}
        many = {"X-Field-%d" % i: "v" for i in range(60)}
        with Gantry(cfg) as g:
            for _ in range(20):  # several requests, so several are kept
                assert request(g.port, "GET", "/s/echo").status == 200
            assert request(g.port, "GET", "/s/echo", headers=many).status == 431
            g.write_config(dict(cfg, limits={"max_headers": 100}))
            hup(g, expect_ok=True)
            for _ in range(5):
                r = request(g.port, "GET", "/s/echo", headers=many)
                assert r.status == 200 and from_origin(r, a) is None, r
            g.write_config(dict(cfg, limits={"max_headers": 30}))
            hup(g, expect_ok=True)
            assert request(g.port, "GET", "/s/echo", headers=many).status == 431
            assert request(g.port, "GET", "/s/echo").status == 200


def test_listen_and_workers_changes_wait_for_a_restart():
    """listen and workers are bound at start: a reload that changes them is applied for the
    rest, with a warning, and the old port keeps serving."""
    with Origin() as a:
        cfg = {"workers": 1, "services": [service("stable", "/stable", [a])]}
        with Gantry(cfg) as g:
            new = dict(g.config, listen="127.0.0.1:%d" % gwtest.free_port(), workers=2)
            new["services"] = cfg["services"] + [service("more", "/more", [a])]
            g.write_config(new)
            text = hup(g, expect_ok=True)
            rx = r"warn reload: listen changed \(127\.0\.0\.1:%d -> " % g.port
            assert re.search(rx, text), text
            assert re.search(r"warn reload: workers changed \(1 -> 2\)", text), text
            assert from_origin(g.request("GET", "/more/echo"), a) is None


def test_reload_of_an_unreadable_file_is_refused():
    with Origin() as a:
        cfg = {"workers": 1, "services": [service("stable", "/stable", [a])]}
        with Gantry(cfg) as g:
            os.remove(g.config_path)
            g.signal(signal.SIGHUP)
            g.wait_log(r"reload refused", stream="stderr")
            g.wait_log(r"error   %s: " % re.escape(g.config_path), stream="stderr")
            assert from_origin(g.request("GET", "/stable/echo"), a) is None
            cfg2 = dict(g.config, services=cfg["services"] + [service("more", "/more", [a])])
            g.write_config(cfg2)
            hup(g, expect_ok=True)
            assert from_origin(g.request("GET", "/more/echo"), a) is None


# ---- reload latency with 1,000 services --------------------------------------------------------


def big_config(a, b, listen, n, odd_target):
    services = [
        service("s%d" % i, "/s/%d" % i, [b if (odd_target and i % 2) else a]) for i in range(n)
    ]
    return {"listen": listen, "workers": 2, "log": {"access": "off"}, "services": services}


@gwtest.timeout(90)
def test_reload_latency_with_1000_services():
    with Origin() as a, Origin() as b:
        listen = "127.0.0.1:%d" % gwtest.free_port()
        with Gantry(big_config(a, b, listen, 10, False)) as g:
            times = []
            for gen, odd in ((2, False), (3, True), (4, False)):
                g.write_config(big_config(a, b, listen, 1000, odd))
                t0 = time.monotonic()
                text = hup(g, expect_ok=True)
                seen = (time.monotonic() - t0) * 1000
                m = RELOADED.search(text)
                assert (int(m.group(1)), int(m.group(2))) == (gen, 1000), text
                times.append((float(m.group(3)), seen))
                assert from_origin(g.request("GET", "/s/999/echo"), b if odd else a) is None
                assert from_origin(g.request("GET", "/s/0/echo"), a) is None
                assert gantry_404(g.request("GET", "/s/1000/echo")) is None
            print(
                "  reload latency, 1,000 services: %s ms as logged by gantry "
                "(SIGHUP to log line seen by the test: %s ms)"
                % (
                    ", ".join("%.1f" % t for t, _ in times),
                    ", ".join("%.0f" % s for _, s in times),
                )
            )


# ---- the admin endpoint (when the admin listener exists) --------------------------------------


def _admin_post(g, path, timeout=10):
    return request(g.admin_port, "POST", path, body=b"", timeout=timeout)


def test_admin_reload_endpoint():
    """POST /api/config/reload on the admin listener: the same reload as SIGHUP, with the
    outcome (or every error with its position) in the answer."""
    with Origin() as a:
        cfg = {"workers": 2, "services": [service("stable", "/stable", [a])]}
        with Gantry(cfg) as g:
            if getattr(g, "admin_port", None) is None:
                gwtest.skip("gwtest.Gantry has no admin_port yet")
            try:
                r = _admin_post(g, "/api/config/reload")
            except OSError as e:
                gwtest.skip("admin listener not answering: %r" % e)
            if r.status in (404, 405):
                gwtest.skip("POST /api/config/reload answers %d" % r.status)
            # the same file again: a reload that succeeds
            assert r.status == 200, (r, r.body[:300])
            body = r.json()
            assert body["status"] == "ok" and body["generation"] == 2, body
            assert isinstance(body["reload_ms"], (int, float)), body
            g.wait_log(r"configuration reloaded: generation 2, 1 service", stream="stderr")
            # a valid change
            cfg2 = dict(g.config, services=cfg["services"] + [service("more", "/more", [a])])
            g.write_config(cfg2)
            r = _admin_post(g, "/api/config/reload")
            assert r.status == 200, (r, r.body[:300])
            assert r.json()["generation"] == 3, r.body
            g.wait_log(r"configuration reloaded: generation 3, 2 services", stream="stderr")
            assert from_origin(g.request("GET", "/more/echo"), a) is None
            # an invalid file: 422, every error with its position, nothing changes
            broken = dict(service("x", "/x", [a]), targets=42)
            bad = dict(cfg2, services=cfg2["services"] + [broken])
            text = dump(bad)
            line, col = locate(text, "42", within='"targets": 42')
            g.write_config(text)
            r = _admin_post(g, "/api/config/reload")
            assert r.status == 422, (r, r.body[:300])
            assert r.header("Content-Type", "").startswith("application/json"), r.headers
            body = r.json()
            assert body["status"] == 422 and "unchanged" in body["error"], body
            errors = body["errors"]
            assert len(errors) == 1, errors
            e = errors[0]
            assert (e["path"], e["line"], e["column"]) == ("services[2].targets", line, col), e
            assert e["file"] == g.config_path and e["message"].startswith("expected an array"), e
            g.wait_log(r"reload refused", stream="stderr")
            assert gantry_404(g.request("GET", "/x/echo")) is None
            assert from_origin(g.request("GET", "/more/echo"), a) is None
            # SIGHUP and the endpoint share one generation counter
            g.write_config(cfg2)
            hup(g, expect_ok=True)
            g.wait_log(r"configuration reloaded: generation 4, 2 services", stream="stderr")


if __name__ == "__main__":
    gwtest.main(globals())
