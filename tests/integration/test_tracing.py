#!/usr/bin/env python3
"""Tracing (docs/tracing.md): W3C Trace Context taken from the client or started, propagated
upstream with gantry's span as the parent, spans for the request, its policy stages and each
upstream try exported as OTLP/HTTP JSON to a real receiver (gwtest.OtlpReceiver checks every
export against the OTLP JSON encoding), sampling, and a collector that is down, never answers
or is slow: requests never wait for it, and what is lost is counted."""

import hashlib
import json
import re

import gwtest
from gwtest import Gantry, OtlpReceiver, Origin, RecordingServer, free_port, request

TP_RE = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$")
T = "4bf92f3577b34da6a3ce929d0e0e4736"
P = "00f067aa0ba902b7"
ALICE_KEY = "alice-key-0123456789"


def tracing_config(backend, rx, prefix="/api", **tracing):
    t = {"endpoint": rx.endpoint(), "flush_interval": "20ms"}
    t.update(tracing)
    cfg = gwtest.simple_config(backend, prefix=prefix, tracing=t)
    cfg["services"][0]["strip_prefix"] = True
    return cfg


def header_values(headers, name):
    return [v for k, v in headers if k.lower() == name.lower()]


def upstream_context(r):
    """(trace id, parent span id, flags, [tracestate values]) the origin saw (/echo answers)."""
    hs = r.json()["headers"]
    tps = header_values(hs, "traceparent")
    assert len(tps) == 1, hs
    m = TP_RE.match(tps[0])
    assert m, tps
    return m.group(1), m.group(2), m.group(3), header_values(hs, "tracestate")


def trace_spans(rx, trace_id, n, timeout=10):
    """The spans of one trace once there are at least n of them."""
    got = []

    def enough():
        got[:] = [s for s in rx.spans() if s["traceId"] == trace_id]
        return len(got) >= n

    gwtest.wait_until(enough, timeout, message="%d spans of trace %s" % (n, trace_id))
    return got


def server_span(spans):
    s = [x for x in spans if x["kind"] == 2]
    assert len(s) == 1, spans
    return s[0]


def client_spans(spans):
    return sorted((x for x in spans if x["kind"] == 3), key=lambda x: int(x["startTimeUnixNano"]))


def is_error(span):
    return span["status"].get("code") == 2


def barrier(g, rx, path):
    """Sends a request that is sampled and waits for its spans. With one worker, records leave
    its ring in order and one export is in flight at a time, so every request answered before
    this one has been exported by then, if it was going to be."""
    r = request(g.port, "GET", path)
    assert r.status == 200, r
    tid = upstream_context(r)[0]
    trace_spans(rx, tid, 2)
    return tid


def status(g):
    return g.admin_request("GET", "/gateway/status").json()["tracing"]


# ---- context in and out, spans, export -------------------------------------------------------


def test_a_new_trace_is_started_propagated_exported_and_logged():
    with Origin() as o, OtlpReceiver() as rx, Gantry(tracing_config(o, rx)) as g:
        r = request(g.port, "GET", "/api/echo/a?x=1", headers=[("X-Request-ID", "first-1")])
        assert r.status == 200, r
        tid, parent, flags, states = upstream_context(r)
        assert flags == "01" and states == [], (flags, states)
        # the access log line ends with the trace id
        g.wait_log(r"(?m)^\S+ first-1 .* %s$" % tid)

        spans = trace_spans(rx, tid, 2)
        assert len(spans) == 2, spans
        srv = server_span(spans)
        cli = client_spans(spans)[0]
        assert "parentSpanId" not in srv, srv
        assert srv["name"] == "GET /api", srv["name"]
        a = srv["attributes"]
        assert a["http.request.method"] == "GET", a
        assert a["url.path"] == "/api/echo/a", a
        assert a["url.scheme"] == "http", a
        assert a["http.route"] == "/api", a
        assert a["http.response.status_code"] == 200, a
        assert a["server.address"] == "127.0.0.1" and a["server.port"] == g.port, a
        assert a["client.address"] == "127.0.0.1", a
        assert a["gantry.request_id"] == "first-1" and a["gantry.service"] == "svc", a
        assert not is_error(srv) and "error.type" not in a, srv
        # the upstream's parent is gantry's try span, itself a child of the request's span
        assert cli["spanId"] == parent, (cli, parent)
        assert cli["parentSpanId"] == srv["spanId"], (cli, srv)
        assert cli["name"] == "GET", cli
        c = cli["attributes"]
        assert c["server.address"] == "127.0.0.1" and c["server.port"] == o.port, c
        assert c["http.response.status_code"] == 200, c
        assert "http.request.resend_count" not in c, c
        s0, s1 = int(srv["startTimeUnixNano"]), int(srv["endTimeUnixNano"])
        c0, c1 = int(cli["startTimeUnixNano"]), int(cli["endTimeUnixNano"])
        assert s0 <= c0 <= c1 <= s1, (s0, c0, c1, s1)
        res = srv["resource"]
        assert res["service.name"] == "gantry", res
        assert re.match(r"^\d+\.\d+\.\d+", res["service.version"]), res
        assert re.match(r"^[0-9a-f-]{36}$", res["service.instance.id"]), res
        assert srv["scope"]["name"] == "gantry", srv["scope"]
        got = rx.received()
        ctype = [v for k, v in got["headers"] if k.lower() == "content-type"]
        assert ctype == ["application/json"], got["headers"]

        # every request gets its own trace
        r2 = request(g.port, "GET", "/api/echo/b")
        tid2 = upstream_context(r2)[0]
        assert tid2 != tid
        # without an X-Request-ID, the request id gantry makes is the trace it started: the
        # client, the upstream and the log see one id, and the span does not repeat it
        assert header_values(r2.headers, "X-Request-ID") == [tid2], r2.headers
        assert header_values(r2.json()["headers"], "X-Request-ID") == [tid2], r2.json()
        g.wait_log(r"(?m)^\S+ %s .* %s$" % (tid2, tid2))
        a2 = server_span(trace_spans(rx, tid2, 2))["attributes"]
        assert "gantry.request_id" not in a2 and a2["url.path"] == "/api/echo/b", a2


def test_the_callers_context_is_continued():
    with Origin() as o, OtlpReceiver() as rx, Gantry(tracing_config(o, rx)) as g:
        hs = [("traceparent", "00-%s-%s-01" % (T, P)), ("tracestate", "congo=t61rcWkgMzE"),
              ("tracestate", " rojo=00f067aa0ba902b7 ")]
        r = request(g.port, "GET", "/api/echo/c", headers=hs + [("X-Request-ID", "cont-1")])
        assert r.status == 200, r
        tid, parent, flags, states = upstream_context(r)
        assert tid == T and parent != P and flags == "01", (tid, parent, flags)
        # one tracestate list, as received (whitespace dropped)
        assert states == ["congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"], states
        g.wait_log(r"(?m)^\S+ cont-1 .* %s$" % T)
        spans = trace_spans(rx, T, 2)
        srv = server_span(spans)
        assert srv["parentSpanId"] == P, srv
        assert srv["traceState"] == "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7", srv
        assert client_spans(spans)[0]["spanId"] == parent
        assert srv["attributes"]["gantry.request_id"] == "cont-1", srv

        # a caller's trace without an X-Request-ID: the trace is shared with the caller's other
        # requests, so the request id gantry makes stays its own, and the span carries it
        hs2 = [("traceparent", "00-%s-%s-01" % (T, "1111111111111111"))]
        r = request(g.port, "GET", "/api/echo/c2", headers=hs2)
        rid = header_values(r.headers, "X-Request-ID")[0]
        assert re.match(r"^[0-9a-f]{32}$", rid) and rid != T, rid
        c2 = [s for s in trace_spans(rx, T, 4) if s.get("parentSpanId") == "1111111111111111"]
        assert len(c2) == 1 and c2[0]["attributes"]["gantry.request_id"] == rid, c2

        # a caller that did not sample: gantry follows it (parent_based) and exports nothing
        nt = "0af7651916cd43dd8448eb211c80319c"
        r = request(g.port, "GET", "/api/echo/d",
                    headers=[("traceparent", "00-%s-b7ad6b7169203331-00" % nt)])
        assert upstream_context(r)[:1] == (nt,) and upstream_context(r)[2] == "00"
        barrier(g, rx, "/api/echo/barrier")
        assert not [s for s in rx.spans() if s["traceId"] == nt]


def test_an_invalid_traceparent_starts_a_new_trace():
    bad = [
        "00-%s-%s-1" % (T, P),                          # too short
        "00-%s-%s-01-extra" % (T, P),                   # version 00 with more
        "ff-%s-%s-01" % (T, P),                         # version ff
        "00-%s-%s-01" % (T.upper(), P),                 # uppercase
        "00-%s-%s-01" % ("0" * 32, P),                  # all-zero trace id
        "00-%s-%s-01" % (T, "0" * 16),                  # all-zero parent id
        "00-%s-%s-0x" % (T, P),                         # flags not hex
        "00_%s-%s-01" % (T, P),                         # separator
        "cc-%s-%s-01.what" % (T, P),                    # future version without a dash
    ]
    with Origin() as o, OtlpReceiver() as rx, Gantry(tracing_config(o, rx)) as g:
        for value in bad:
            r = request(g.port, "GET", "/api/echo/bad",
                        headers=[("traceparent", value), ("tracestate", "rojo=1")])
            assert r.status == 200, (value, r)
            tid, parent, flags, states = upstream_context(r)
            assert tid != T and flags == "01", (value, tid)
            # "MUST NOT parse tracestate" when traceparent was invalid: it is not forwarded
            assert states == [], (value, states)
            srv = server_span(trace_spans(rx, tid, 2))
            assert "parentSpanId" not in srv and "traceState" not in srv, (value, srv)
        # two traceparent fields: which would be the parent? A new trace.
        r = request(g.port, "GET", "/api/echo/two",
                    headers=[("traceparent", "00-%s-%s-01" % (T, P)),
                             ("traceparent", "00-%s-%s-01" % (T, P))])
        assert upstream_context(r)[0] != T
        # a later version is read as far as version 00 goes (W3C 3.2.4)
        r = request(g.port, "GET", "/api/echo/future",
                    headers=[("traceparent", "cc-%s-%s-01-what-the-future-will-be-like" % (T, P))])
        tid, parent, flags, _ = upstream_context(r)
        assert tid == T and flags == "01", (tid, flags)
        assert server_span(trace_spans(rx, T, 2))["parentSpanId"] == P


def test_policy_stages_have_spans():
    def key_hash(k):
        return "sha256:" + hashlib.sha256(k.encode()).hexdigest()

    with Origin() as o, OtlpReceiver() as rx:
        cfg = tracing_config(o, rx)
        cfg["auth"] = {"consumers": [{"id": "alice", "api_keys": [key_hash(ALICE_KEY)]}]}
        cfg["services"][0]["auth"] = {"public_paths": ["/api/echo/public"]}
        cfg["services"][0]["rate_limit"] = {"limits": [
            {"limit": 3, "period": "1h", "key": "ip"},
            {"limit": 100, "period": "1h", "key": "consumer"}]}
        with Gantry(cfg) as g:
            key = [("X-API-Key", ALICE_KEY)]
            r = request(g.port, "GET", "/api/echo/ok", headers=key)
            assert r.status == 200, r
            tid = upstream_context(r)[0]
            spans = trace_spans(rx, tid, 5)
            srv = server_span(spans)
            stages = {s["name"]: s for s in spans if s["kind"] == 1}
            # the rows of the policy table that ran, in order (the consumer-keyed limits too)
            assert set(stages) == {"ratelimit", "auth", "ratelimit-consumer"}, [
                s["name"] for s in spans]
            for s in stages.values():
                assert s["parentSpanId"] == srv["spanId"], s
                assert s["attributes"]["gantry.outcome"] == "passed", s
                assert not is_error(s)
            assert int(stages["ratelimit"]["endTimeUnixNano"]) <= int(
                stages["auth"]["startTimeUnixNano"])
            assert int(stages["auth"]["endTimeUnixNano"]) <= int(
                stages["ratelimit-consumer"]["startTimeUnixNano"])
            assert srv["attributes"]["gantry.consumer"] == "alice", srv
            assert srv["attributes"]["gantry.rate_limit"] == "allowed", srv

            # refused by auth: its span says so; nothing went upstream
            r = request(g.port, "GET", "/api/echo/nokey", headers=[("X-Request-ID", "nokey-1")])
            assert r.status == 401, r
            tid = re.search(r"(?m)^\S+ nokey-1 .* ([0-9a-f]{32})$", g.wait_log(
                r"(?m)^\S+ nokey-1 .*$").group(0)).group(1)
            spans = trace_spans(rx, tid, 3)
            auth = [s for s in spans if s["name"] == "auth"][0]
            assert auth["attributes"]["gantry.outcome"] == "answered", auth
            assert auth["attributes"]["http.response.status_code"] == 401, auth
            assert not is_error(auth) and not client_spans(spans)
            assert server_span(spans)["attributes"]["http.response.status_code"] == 401

            # the limit (3 per hour, the refused one counted too) refuses the fourth
            r = request(g.port, "GET", "/api/echo/third", headers=key)
            assert r.status == 200, r
            r = request(g.port, "GET", "/api/echo/limited", headers=key + [("X-Request-ID", "lim-1")])
            assert r.status == 429, r
            line = g.wait_log(r"(?m)^\S+ lim-1 .*$").group(0)
            tid = line.rsplit(" ", 1)[1]
            spans = trace_spans(rx, tid, 2)
            rl = [s for s in spans if s["name"] == "ratelimit"][0]
            assert rl["attributes"]["http.response.status_code"] == 429, rl
            assert server_span(spans)["attributes"]["gantry.rate_limit"] == "limited"
            assert not [s for s in spans if s["name"] == "auth"], spans


def test_a_stage_with_nothing_to_do_has_no_span():
    """Limits keyed by IP only: the consumer-keyed pass has nothing to decide, so it does not
    run (no span); with a consumer-keyed limit alone, the first pass does not."""
    def key_hash(k):
        return "sha256:" + hashlib.sha256(k.encode()).hexdigest()

    with Origin() as o, OtlpReceiver() as rx:
        cfg = tracing_config(o, rx)
        cfg["auth"] = {"consumers": [{"id": "alice", "api_keys": [key_hash(ALICE_KEY)]}]}
        cfg["services"][0]["auth"] = {}
        cfg["services"][0]["rate_limit"] = {"limits": [{"limit": 50, "period": "1h",
                                                        "key": "ip"}]}
        second = dict(cfg["services"][0], name="by-consumer", prefix="/c")
        second["rate_limit"] = {"limits": [{"limit": 50, "period": "1h", "key": "consumer"}]}
        cfg["services"].append(second)
        key = [("X-API-Key", ALICE_KEY)]
        with Gantry(cfg) as g:
            for path, want in (("/api/echo/ip", {"ratelimit", "auth"}),
                               ("/c/echo/consumer", {"auth", "ratelimit-consumer"})):
                r = request(g.port, "GET", path, headers=key)
                assert r.status == 200, r
                assert r.header("RateLimit-Limit") is not None or \
                    r.header("X-RateLimit-Limit") is not None, r.headers
                spans = trace_spans(rx, upstream_context(r)[0], 4)
                stages = {s["name"] for s in spans if s["kind"] == 1}
                assert stages == want, (path, sorted(stages))


def test_each_upstream_try_is_a_span_and_names_itself_upstream():
    dead = free_port()
    with Origin() as o, OtlpReceiver() as rx:
        cfg = tracing_config(o, rx)
        cfg["services"][0]["targets"] = [{"url": "http://127.0.0.1:%d" % dead}, o.target()]
        with Gantry(cfg) as g:
            # round robin: one of two requests tries the dead target first
            two = None
            for i in range(4):
                r = request(g.port, "GET", "/api/echo/try%d" % i)
                assert r.status == 200, r
                tid, parent, _, _ = upstream_context(r)
                spans = trace_spans(rx, tid, 2)
                if len(client_spans(trace_spans(rx, tid, 2))) == 2 or len(spans) == 3:
                    two = (tid, parent, trace_spans(rx, tid, 3))
                    break
            assert two, "no request tried the dead target first"
            tid, parent, spans = two
            srv = server_span(spans)
            first, second = client_spans(spans)
            assert first["attributes"]["error.type"] == "connect_error", first
            assert first["attributes"]["server.port"] == dead and is_error(first), first
            assert "http.response.status_code" not in first["attributes"], first
            assert second["attributes"]["server.port"] == o.port, second
            assert second["attributes"]["http.response.status_code"] == 200, second
            assert second["attributes"]["http.request.resend_count"] == 1, second
            assert not is_error(second) and not is_error(srv)
            assert second["spanId"] == parent, (second, parent)  # the try that reached it
            for c in (first, second):
                assert c["parentSpanId"] == srv["spanId"], c

    # retries on a status: each try's upstream request names that try as its parent (the head
    # built once is patched for each try)
    with Origin() as a, Origin() as b, OtlpReceiver() as rx:
        cfg = tracing_config(a, rx)
        cfg["services"][0]["targets"] = [a.target(), b.target()]
        cfg["services"][0]["retries"] = {"attempts": 1, "statuses": [503],
                                         "backoff_base": "1ms", "backoff_max": "1ms"}
        with Gantry(cfg) as g:
            r = request(g.port, "GET", "/api/status/503", headers=[("X-Request-ID", "st-1")])
            assert r.status == 503, r
            tid = g.wait_log(r"(?m)^\S+ st-1 .*$").group(0).rsplit(" ", 1)[1]
            spans = trace_spans(rx, tid, 3)
            tries = client_spans(spans)
            assert len(tries) == 2, spans
            sent = []
            for origin in (a, b):
                for req in origin.last_requests():
                    for v in header_values(req["headers"], "traceparent"):
                        m = TP_RE.match(v)
                        if m and m.group(1) == tid:
                            sent.append(m.group(2))
            assert sorted(sent) == sorted(t["spanId"] for t in tries), (sent, tries)
            for t in tries:
                assert t["attributes"]["http.response.status_code"] == 503, t
                assert t["attributes"]["error.type"] == "503" and is_error(t), t
            assert tries[1]["attributes"]["http.request.resend_count"] == 1
            srv = server_span(spans)
            assert is_error(srv) and srv["attributes"]["error.type"] == "503", srv
            assert srv["attributes"]["gantry.retries"] == 1, srv


# ---- sampling --------------------------------------------------------------------------------


def test_sampling_ratio_per_service_and_errors():
    with Origin() as o, OtlpReceiver() as rx:
        cfg = tracing_config(o, rx, prefix="/never", sample_ratio=0)
        cfg["services"].append({"name": "always", "prefix": "/always", "targets": [o.target()],
                                "strip_prefix": True, "tracing": {"sample_ratio": 1}})
        with Gantry(cfg) as g:
            ok = request(g.port, "GET", "/never/echo/ok")
            tid_ok, _, flags, _ = upstream_context(ok)
            assert flags == "00", flags
            # an error is exported whatever the head decision (the upstream was told "00")
            r = request(g.port, "GET", "/never/status/500", headers=[("X-Request-ID", "err-1")])
            assert r.status == 500
            tid_err = g.wait_log(r"(?m)^\S+ err-1 .*$").group(0).rsplit(" ", 1)[1]
            spans = trace_spans(rx, tid_err, 2)
            assert is_error(server_span(spans)), spans
            assert server_span(spans)["attributes"]["error.type"] == "500"
            assert is_error(client_spans(spans)[0])
            # a request no service took (404) samples with the gateway's ratio: not at all
            r = request(g.port, "GET", "/nowhere", headers=[("X-Request-ID", "nf-1")])
            assert r.status == 404
            tid_nf = g.wait_log(r"(?m)^\S+ nf-1 .*$").group(0).rsplit(" ", 1)[1]
            assert re.match(r"^[0-9a-f]{32}$", tid_nf)
            tid_always = barrier(g, rx, "/always/echo/yes")
            got = {s["traceId"] for s in rx.spans()}
            assert tid_ok not in got and tid_nf not in got, got
            assert tid_err in got and tid_always in got

            # a reload turns always_sample_errors off: the next error is not exported
            cfg["tracing"]["always_sample_errors"] = False
            g.write_config(cfg)
            rr = g.admin_request("POST", "/api/config/reload")
            assert rr.status == 200, rr
            r = request(g.port, "GET", "/never/status/500", headers=[("X-Request-ID", "err-2")])
            tid_err2 = g.wait_log(r"(?m)^\S+ err-2 .*$").group(0).rsplit(" ", 1)[1]
            barrier(g, rx, "/always/echo/yes2")
            assert tid_err2 not in {s["traceId"] for s in rx.spans()}


# ---- the collector down, silent or slow ------------------------------------------------------


@gwtest.timeout(120)
def test_a_collector_that_never_answers_costs_requests_nothing():
    n = 60
    with Origin() as o, RecordingServer() as never:
        cfg = gwtest.simple_config(o, tracing={
            "endpoint": "http://127.0.0.1:%d/v1/traces" % never.port, "timeout": "120s",
            "queue_size": 4, "batch_size": 2, "flush_interval": "10ms"})
        with Gantry(cfg) as g:
            r = request(g.port, "GET", "/echo/first")
            assert r.status == 200
            # the first export is sent and never answered
            gwtest.wait_until(lambda: never.snapshot() and never.snapshot()[0]["data"].startswith(
                b"POST /v1/traces HTTP/1.1"), 10, message="the export reached the collector")
            for i in range(n):
                r = request(g.port, "GET", "/echo/%d" % i)
                assert r.status == 200, (i, r)
            # still hanging: every request above was answered while the export waited
            snap = never.snapshot()
            assert len(snap) == 1 and not snap[0]["closed"], snap
            # every span is somewhere: in flight, batched, queued (2 spans a request) or dropped
            total = 2 * (n + 1)

            def accounted():
                st = status(g)
                return st["pending"] + 2 * st["queued"] + st["dropped"] == total

            gwtest.wait_until(accounted, 10, message="every span accounted for")
            st = status(g)
            # at most 4 queued, 1 batched and 1 in flight (1 trace each at batch_size 2)
            assert st["dropped"] >= total - 2 * 6, st
            assert st["exported"] == 0 and st["exports_ok"] == 0, st
            # the same count in the Prometheus metrics
            text = g.admin_request("GET", "/metrics").body.decode()
            m = re.search(r'(?m)^gantry_tracing_spans_total\{outcome="dropped"\} (\d+)$', text)
            assert m and int(m.group(1)) == st["dropped"], text[-3000:]


def test_a_collector_that_is_down_costs_requests_nothing():
    dead = free_port()
    with Origin() as o:
        cfg = gwtest.simple_config(o, tracing={
            "endpoint": "http://127.0.0.1:%d" % dead, "flush_interval": "10ms"})
        with Gantry(cfg) as g:
            for i in range(20):
                assert request(g.port, "GET", "/echo/%d" % i).status == 200
            gwtest.wait_until(lambda: status(g)["exports_failed"] >= 1, 10,
                              message="a failed export")
            st = status(g)
            # the refused batch is kept for another try (test_tracing_retry.py), not yet dropped
            assert st["pending"] >= 2 and st["failed"] == 0 and st["exported"] == 0, st
            assert "refused" in st["last_error"] or "connect" in st["last_error"], st
            g.wait_log(r"tracing: export to http://127\.0\.0\.1:%d/v1/traces failed" % dead,
                       stream="stderr")
            # one line for the change of state, not one per export
            for i in range(5):
                assert request(g.port, "GET", "/echo/more%d" % i).status == 200
            gwtest.wait_until(lambda: status(g)["exports_failed"] >= 2, 10,
                              message="a second failed export (the retry, after the backoff)")
            assert status(g)["exports_retried"] >= 1
            assert g.stderr().count("tracing: export to") == 1, g.stderr()


def test_a_slow_collector_gets_everything_later():
    with Origin() as o, OtlpReceiver() as rx:
        rx.set_mode(delay_ms=1500)
        with Gantry(tracing_config(o, rx, batch_size=4)) as g:
            tids = []
            for i in range(10):
                r = request(g.port, "GET", "/api/echo/%d" % i)
                assert r.status == 200
                tids.append(upstream_context(r)[0])
            gwtest.wait_until(lambda: status(g)["exported"] == 20, 60,
                              message="every span exported")
            got = {s["traceId"] for s in rx.spans()}
            assert set(tids) <= got
            assert status(g)["dropped"] == 0


# ---- the kept connection to the collector -----------------------------------------------------


def _exports_one_by_one(g, rx, tag, n):
    """n requests, each waited for at the collector (batch_size 2: one request per export)."""
    for i in range(n):
        r = request(g.port, "GET", "/api/echo/%s%d" % (tag, i))
        assert r.status == 200, r
        trace_spans(rx, upstream_context(r)[0], 2)


def _exported(g, n):
    """Waits until gantry has counted n spans exported (the collector has them a moment before
    gantry has read its answer)."""
    gwtest.wait_until(lambda: status(g)["exported"] >= n, 10, message="%d spans exported" % n)
    return status(g)


def _counts(rx):
    got = rx.received()
    assert not got["errors"], got["errors"][:10]
    return got["posts"], got["connections"]


def test_exports_share_one_connection_and_reconnect_after_the_collector_restarts():
    with Origin() as o:
        rx = OtlpReceiver()
        port = rx.port
        try:
            with Gantry(tracing_config(o, rx, batch_size=2)) as g:
                _exports_one_by_one(g, rx, "a", 6)
                assert _counts(rx) == (6, 1)
                # the collector restarts on the same port: the kept connection is gone, the next
                # export opens a new one, and nothing is lost or fails on the way
                rx.stop()
                rx = OtlpReceiver(port=port)
                _exports_one_by_one(g, rx, "b", 6)
                assert _counts(rx) == (6, 1)
                st = _exported(g, 24)
                assert st["exported"] == 24 and st["exports_ok"] == 12, st
                assert st["exports_failed"] == 0 and st["failed"] == 0 and st["dropped"] == 0, st
        finally:
            rx.stop()


def test_a_collector_that_closes_each_connection_gets_a_new_one_per_export():
    with Origin() as o, OtlpReceiver() as rx:
        rx.set_mode(close=True)
        with Gantry(tracing_config(o, rx, batch_size=2)) as g:
            _exports_one_by_one(g, rx, "c", 4)
            assert _counts(rx) == (4, 4)
            rx.set_mode()  # keep-alive again: the next connection stays
            _exports_one_by_one(g, rx, "d", 3)
            assert _counts(rx) == (7, 5)
            st = _exported(g, 14)
            assert st["exports_failed"] == 0 and st["exported"] == 14, st


# ---- off, on by reload, and $trace_id ---------------------------------------------------------


def test_a_huge_host_leaves_room_for_the_rest_of_the_span():
    """server.address is cut at 255 bytes (no host name is longer): a Host field of kilobytes
    (within limits.max_header_bytes) does not take the room of the method, which names the span,
    nor of the path, route, service and the try's target."""
    with Origin() as o, OtlpReceiver() as rx:
        with Gantry(tracing_config(o, rx)) as g:
            host = "h" * 3000
            r = request(g.port, "GET", "/api/echo/x",
                        headers=[("Host", host + ":81"), ("tracestate", "a=" + "v" * 250)])
            assert r.status == 200, r
            spans = trace_spans(rx, upstream_context(r)[0], 2)
            s = server_span(spans)
            assert s["name"] == "GET /api", s["name"]
            a = s["attributes"]
            assert a["server.address"] == host[:255] and a["server.port"] == 81, a
            assert (a["http.request.method"], a["url.path"], a["http.route"],
                    a["gantry.service"]) == ("GET", "/api/echo/x", "/api", "svc"), a
            (c,) = client_spans(spans)
            assert c["attributes"]["server.address"] == "127.0.0.1", c


def test_unknown_methods_are_other_and_tries_say_their_url():
    """OpenTelemetry's HTTP conventions: PROPFIND (not one of RFC 9110's methods or PATCH) is
    http.request.method _OTHER with the method as sent in http.request.method_original, and the
    spans are named "HTTP ..."; the query is url.query; a try's url.full is what gantry asked
    the target for (the prefix stripped, the query kept); the values of credential parameters
    are REDACTED in both (OpenTelemetry's conventions)."""
    with Origin() as o, OtlpReceiver() as rx:
        with Gantry(tracing_config(o, rx)) as g:
            r = request(g.port, "PROPFIND", "/api/echo/x?q=1&r=2&Access_Token=s3cret&sig=x")
            assert r.status == 200, r
            spans = trace_spans(rx, upstream_context(r)[0], 2)
            s = server_span(spans)
            assert s["name"] == "HTTP /api", s["name"]
            a = s["attributes"]
            assert (a["http.request.method"], a["http.request.method_original"]) == \
                ("_OTHER", "PROPFIND"), a
            assert (a["url.path"], a["url.query"]) == \
                ("/api/echo/x", "q=1&r=2&Access_Token=REDACTED&sig=REDACTED"), a
            (c,) = client_spans(spans)
            assert c["name"] == "HTTP", c["name"]
            ca = c["attributes"]
            assert (ca["http.request.method"], ca["http.request.method_original"]) == \
                ("_OTHER", "PROPFIND"), ca
            assert ca["url.full"] == "http://127.0.0.1:%d/echo/x?q=1&r=2&Access_Token=REDACTED" \
                "&sig=REDACTED" % o.port, ca
            assert "s3cret" not in json.dumps(spans)

            r = request(g.port, "GET", "/api/echo/y")
            spans = trace_spans(rx, upstream_context(r)[0], 2)
            s = server_span(spans)
            assert s["name"] == "GET /api" and "http.request.method_original" not in \
                s["attributes"] and "url.query" not in s["attributes"], s
            (c,) = client_spans(spans)
            assert c["attributes"]["url.full"] == "http://127.0.0.1:%d/echo/y" % o.port, c


def test_off_by_default_and_on_by_reload():
    with Origin() as o, OtlpReceiver() as rx:
        cfg = gwtest.simple_config(o)
        with Gantry(cfg) as g:
            theirs = "00-%s-%s-01" % (T, P)
            r = request(g.port, "GET", "/echo/off",
                        headers=[("traceparent", theirs), ("X-Request-ID", "off-1")])
            # off: the caller's context goes upstream untouched, the log has "-"
            assert header_values(r.json()["headers"], "traceparent") == [theirs]
            g.wait_log(r"(?m)^\S+ off-1 .* -$")
            assert g.admin_request("GET", "/gateway/status").json()["tracing"] is None

            cfg["tracing"] = {"endpoint": rx.endpoint(), "flush_interval": "20ms"}
            g.write_config(cfg)
            assert g.admin_request("POST", "/api/config/reload").status == 200
            r = request(g.port, "GET", "/echo/on", headers=[("traceparent", theirs)])
            tid, parent, _, _ = upstream_context(r)
            assert tid == T and parent != P
            assert server_span(trace_spans(rx, T, 2))["parentSpanId"] == P


def test_trace_id_variable_of_transformations():
    with Origin() as o, OtlpReceiver() as rx:
        cfg = tracing_config(o, rx)
        cfg["services"][0]["transform"] = {
            "request": {"headers": {"set": {"X-Trace": "$trace_id"}}}}
        with Gantry(cfg) as g:
            r = request(g.port, "GET", "/api/echo/t")
            tid = upstream_context(r)[0]
            assert header_values(r.json()["headers"], "X-Trace") == [tid], r.json()["headers"]


if __name__ == "__main__":
    gwtest.main(globals())
