#!/usr/bin/env python3
"""Tracing exports that fail (docs/tracing.md, "When the collector fails"): as the OTLP/HTTP
specification asks, a batch refused with 429, 502, 503 or 504, or lost to a connection
failure, is sent again after a backoff (or after the collector's Retry-After); another 4xx is
not, and its spans are dropped and counted. A real gantry exports to a real receiver
(gwtest.OtlpReceiver, answering as each test scripts it); every assertion on time is a lower
bound (the retry did not come before Retry-After said), never an upper one."""

import re

import gwtest
from gwtest import Gantry, OtlpReceiver, Origin, free_port, request

# Long enough for the first retries (1 s, then 2 s at most) on a loaded machine.
EXPORT_WAIT = 30


def tracing_config(backend, endpoint, **tracing):
    t = {"endpoint": endpoint, "flush_interval": "20ms", "batch_size": 2}
    t.update(tracing)
    return gwtest.simple_config(backend, tracing=t)


def status(g):
    return g.admin_request("GET", "/gateway/status").json()["tracing"]


def traced(g, path):
    """One request (2 spans: gantry's and its try's); its trace id."""
    r = request(g.port, "GET", path)
    assert r.status == 200, r
    tps = [v for k, v in r.json()["headers"] if k.lower() == "traceparent"]
    assert len(tps) == 1, r.json()
    return tps[0].split("-")[1]


def spans_of(rx, tid):
    return [s for s in rx.spans() if s["traceId"] == tid]


def wait_exported(g, n):
    gwtest.wait_until(lambda: status(g)["exported"] >= n, EXPORT_WAIT,
                      message="%d spans exported" % n)
    return status(g)


def metric(g, name, labels):
    text = g.admin_request("GET", "/metrics").body.decode()
    sel = "%s{%s}" % (name, labels) if labels else name
    m = re.search(r"(?m)^%s (\d+)$" % re.escape(sel), text)
    assert m, (name, labels, text[-3000:])
    return int(m.group(1))


def test_a_batch_refused_with_503_is_sent_again_and_arrives_once():
    with Origin() as o, OtlpReceiver() as rx:
        rx.set_mode(script=[{"status": 503}])
        with Gantry(tracing_config(o, rx.endpoint())) as g:
            tid = traced(g, "/echo/a")
            st = wait_exported(g, 2)
            got = rx.received()
            assert [p["status"] for p in got["log"]] == [503, 200], got["log"]
            assert len(spans_of(rx, tid)) == 2, rx.spans()
            assert st["exported"] == 2 and st["failed"] == 0 and st["dropped"] == 0, st
            assert st["exports_failed"] == 1 and st["exports_ok"] == 1, st
            assert st["exports_retried"] == 1 and st["pending"] == 0, st
            assert metric(g, "gantry_tracing_spans_total", 'outcome="failed"') == 0
            assert metric(g, "gantry_tracing_export_retries_total", "") == 1
            g.wait_log(r"tracing: export to http://127\.0\.0\.1:%d/v1/traces failed: the "
                       r"collector answered 503; retrying" % rx.port, stream="stderr")
            g.wait_log(r"tracing: exports to .* succeed again", stream="stderr")


def test_retry_after_is_honoured_in_seconds_and_as_a_date():
    with Origin() as o, OtlpReceiver() as rx:
        # 429 with delay-seconds, then 503 with an HTTP-date at least 3 s ahead, then 200
        rx.set_mode(script=[{"status": 429, "retry_after": "2"},
                            {"status": 503, "retry_after_in": 3}])
        with Gantry(tracing_config(o, rx.endpoint())) as g:
            tid = traced(g, "/echo/b")
            wait_exported(g, 2)
            log = rx.received()["log"]
            assert [p["status"] for p in log] == [429, 503, 200], log
            # lower bounds only: the backoff alone would have retried within 1 s, then 2 s
            assert log[1]["t"] - log[0]["t"] >= 1.9, log
            assert log[2]["t"] - log[1]["t"] >= 2.5, log
            assert len(spans_of(rx, tid)) == 2
            st = status(g)
            assert st["failed"] == 0 and st["exports_retried"] == 2, st


def test_a_400_is_not_sent_again_its_spans_are_dropped_and_counted():
    with Origin() as o, OtlpReceiver() as rx:
        rx.set_mode(script=[{"status": 400}, {"status": 502}])
        with Gantry(tracing_config(o, rx.endpoint())) as g:
            refused = traced(g, "/echo/refused")
            gwtest.wait_until(lambda: status(g)["failed"] == 2, EXPORT_WAIT,
                              message="the refused batch counted as failed")
            # the next batch meets a 502, which is retried: it arrives, the 400's never does
            later = traced(g, "/echo/later")
            st = wait_exported(g, 2)
            log = rx.received()["log"]
            assert [p["status"] for p in log] == [400, 502, 200], log
            assert spans_of(rx, refused) == [] and len(spans_of(rx, later)) == 2
            assert st["failed"] == 2 and st["exported"] == 2 and st["dropped"] == 0, st
            assert st["exports_failed"] == 2 and st["exports_retried"] == 1, st
            assert metric(g, "gantry_tracing_spans_total", 'outcome="failed"') == 2
            assert "400" in g.stderr() and "not retried" in g.stderr(), g.stderr()


def test_spans_wait_for_a_collector_that_is_down_and_arrive_when_it_comes_up():
    port = free_port()
    with Origin() as o:
        endpoint = "http://127.0.0.1:%d/v1/traces" % port
        with Gantry(tracing_config(o, endpoint)) as g:
            tid = traced(g, "/echo/early")
            gwtest.wait_until(lambda: status(g)["exports_failed"] >= 1, EXPORT_WAIT,
                              message="an export refused by the closed port")
            st = status(g)
            assert st["failed"] == 0 and st["pending"] == 2, st
            with OtlpReceiver(port=port) as rx:
                st = wait_exported(g, 2)
                assert len(spans_of(rx, tid)) == 2, rx.spans()
                assert st["failed"] == 0 and st["dropped"] == 0, st
                assert st["exports_retried"] >= 1, st


def test_a_held_batch_gets_one_last_try_at_shutdown():
    with Origin() as o, OtlpReceiver() as rx:
        # the first answer asks for a minute's wait: only the stop sends the batch again
        rx.set_mode(script=[{"status": 503, "retry_after": "60"}])
        g = Gantry(tracing_config(o, rx.endpoint()))
        try:
            tid = traced(g, "/echo/last")
            gwtest.wait_until(lambda: status(g)["exports_failed"] == 1, EXPORT_WAIT,
                              message="the refused export")
            assert status(g)["pending"] == 2
        finally:
            g.stop()  # fails when gantry takes more than the harness's 10 s to exit
        log = rx.received()["log"]
        assert [p["status"] for p in log] == [503, 200], log
        assert len(spans_of(rx, tid)) == 2


if __name__ == "__main__":
    gwtest.main(globals())
