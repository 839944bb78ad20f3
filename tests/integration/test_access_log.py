#!/usr/bin/env python3
"""The access log (docs/config.md "log"): the default line (today's fields plus the trace id),
log.access_fields in text and JSON with the trace id, upstream status, retries, cache status,
consumer and rate-limit outcome, and SIGUSR1 reopening the log files (logrotate)."""

import hashlib
import json
import os
import re
import signal
import socket

import gwtest
from gwtest import Gantry, Origin, free_port, request

KEY = "log-test-key-0123456789"
FIELDS = ["request_id", "status", "upstream_status", "retries", "cache", "consumer", "rate_limit",
          "trace_id", "span_id", "request"]


def line_of(g, rid):
    return g.wait_log(r"(?m)^.*%s.*$" % re.escape(rid)).group(0)


def test_default_line_keeps_its_shape_and_ends_with_the_trace_id():
    with Origin() as o:
        with Gantry(gwtest.simple_config(o)) as g:
            request(g.port, "GET", "/echo/x?q=1", headers=[("X-Request-ID", "plain-1")])
            line = line_of(g, "plain-1")
            # time id client "method target" status in out total_ms upstream_ms service target
            # trace_id ("-": tracing is off)
            m = re.match(r'^\S+Z plain-1 127\.0\.0\.1 "GET /echo/x\?q=1" 200 \d+ \d+ [\d.]+ [\d.]+ '
                         r'svc 127\.0\.0\.1:%d -$' % o.port, line)
            assert m, line
        cfg = gwtest.simple_config(o, tracing=True)
        with Gantry(cfg) as g:
            r = request(g.port, "GET", "/echo/y", headers=[("X-Request-ID", "traced-1")])
            tp = [v for k, v in r.json()["headers"] if k.lower() == "traceparent"][0]
            line = line_of(g, "traced-1")
            assert line.endswith(" svc 127.0.0.1:%d %s" % (o.port, tp.split("-")[1])), line
        # JSON gains the trace id as the last key, null when tracing is off
        cfg = gwtest.simple_config(o, log={"access": "stdout", "access_format": "json"})
        with Gantry(cfg) as g:
            request(g.port, "GET", "/echo/z", headers=[("X-Request-ID", "json-1")])
            e = json.loads(line_of(g, "json-1"))
            assert list(e) == ["time", "request_id", "client", "method", "path", "status",
                               "bytes_in", "bytes_out", "duration_ms", "upstream_ms", "service",
                               "target", "trace_id"], e
            assert e["trace_id"] is None and e["method"] == "GET" and e["path"] == "/echo/z", e


def _config(o, fmt):
    key_hash = "sha256:" + hashlib.sha256(KEY.encode()).hexdigest()
    dead = free_port()
    cfg = gwtest.simple_config(o, prefix="/api", tracing=True,
                               log={"access": "stdout", "access_format": fmt,
                                    "access_fields": FIELDS})
    cfg["auth"] = {"consumers": [{"id": "alice", "api_keys": [key_hash]}]}
    cfg["services"][0].update({
        "strip_prefix": True,
        "auth": {"required": False},
        "rate_limit": {"limits": [{"limit": 3, "period": "1h", "key": "consumer"}]},
    })
    cfg["services"].append({"name": "dead", "prefix": "/dead", "strip_prefix": True,
                            "targets": ["http://127.0.0.1:%d" % dead]})
    cfg["services"].append({"name": "cached", "prefix": "/cached", "strip_prefix": True,
                            "targets": [o.target()], "cache": {"enabled": True, "ttl": "1h"}})
    cfg["services"].append({"name": "flaky", "prefix": "/flaky", "strip_prefix": True,
                            "targets": [o.target()],
                            "retries": {"attempts": 1, "statuses": [503], "backoff_base": "1ms",
                                        "backoff_max": "1ms"}})
    return cfg


def _scenarios(g):
    """Sends one request per case; returns {case: request id}."""
    key = [("X-API-Key", KEY)]
    cases = {
        "ok": ("/api/echo/ok", key),
        "anon": ("/api/echo/anon", []),
        "ok2": ("/api/echo/ok2", key),
        "ok3": ("/api/echo/ok3", key),
        "limited": ("/api/echo/limited", key),
        "dead": ("/dead/x", []),
        "retried": ("/flaky/status/503", []),
        "cache-miss": ("/cached/bytes/10", []),
        "cache-hit": ("/cached/bytes/10", []),
    }
    want = {"ok": 200, "anon": 200, "ok2": 200, "ok3": 200, "limited": 429, "dead": 502,
            "retried": 503, "cache-miss": 200, "cache-hit": 200}
    ids = {}
    for name, (path, hs) in cases.items():
        rid = "case-%s" % name
        r = request(g.port, "GET", path, headers=hs + [("X-Request-ID", rid)])
        assert r.status == want[name], (name, r, r.body[:200])
        ids[name] = rid
    return ids


def test_access_fields_in_text():
    with Origin() as o, Gantry(_config(o, "text")) as g:
        ids = _scenarios(g)
        rows = {}
        for name, rid in ids.items():
            line = line_of(g, rid)
            # request_id status upstream_status retries cache consumer rate_limit trace_id span_id
            # "method path"
            m = re.match(r'^(\S+) (\d+) (\S+) (\d+) (\S+) (\S+) (\S+) ([0-9a-f]{32}) '
                         r'([0-9a-f]{16}) "(\S+) (\S+)"$', line)
            assert m, (name, line)
            rows[name] = m.groups()
        assert rows["ok"][:7] == ("case-ok", "200", "200", "0", "-", "alice", "allowed"), rows
        assert rows["anon"][:7] == ("case-anon", "200", "200", "0", "-", "-", "allowed"), rows
        assert rows["limited"][:7] == ("case-limited", "429", "-", "0", "-", "alice", "limited")
        assert rows["dead"][:7] == ("case-dead", "502", "-", "0", "-", "-", "-"), rows
        assert rows["retried"][:7] == ("case-retried", "503", "503", "1", "-", "-", "-"), rows
        assert rows["ok"][9:] == ("GET", "/api/echo/ok"), rows
        assert len({r[7] for r in rows.values()}) == len(rows)  # a trace per request


def test_access_fields_in_json():
    with Origin() as o, Gantry(_config(o, "json")) as g:
        ids = _scenarios(g)
        got = {name: json.loads(line_of(g, rid)) for name, rid in ids.items()}
        for e in got.values():
            assert list(e) == ["request_id", "status", "upstream_status", "retries", "cache",
                               "consumer", "rate_limit", "trace_id", "span_id", "method",
                               "path"], e
            assert e["cache"] in (None, "MISS", "HIT"), e
            assert re.match(r"^[0-9a-f]{32}$", e["trace_id"]) and re.match(
                r"^[0-9a-f]{16}$", e["span_id"]), e
        e = got["ok"]
        assert (e["status"], e["upstream_status"], e["retries"], e["consumer"],
                e["rate_limit"]) == (200, 200, 0, "alice", "allowed"), e
        assert (e["method"], e["path"]) == ("GET", "/api/echo/ok"), e
        e = got["limited"]
        assert (e["status"], e["upstream_status"], e["consumer"], e["rate_limit"]) == (
            429, None, "alice", "limited"), e
        e = got["dead"]
        assert (e["status"], e["upstream_status"], e["rate_limit"], e["consumer"]) == (
            502, None, None, None), e
        e = got["retried"]
        assert (e["status"], e["upstream_status"], e["retries"]) == (503, 503, 1), e
        assert (got["ok"]["cache"], got["cache-miss"]["cache"], got["cache-hit"]["cache"]) == (
            None, "MISS", "HIT"), got


def test_a_json_line_has_each_key_once():
    """"request" writes "method" and "path" in a JSON line: listed beside them (or a field
    listed twice), each key is still written once, where it first appears."""
    with Origin() as o:
        cfg = gwtest.simple_config(o, log={
            "access": "stdout", "access_format": "json",
            "access_fields": ["request_id", "method", "request", "status", "path", "status"]})
        with Gantry(cfg) as g:
            assert request(g.port, "GET", "/echo/x?q=1",
                           headers=[("X-Request-ID", "json-once-1")]).status == 200
            pairs = json.loads(line_of(g, "json-once-1"), object_pairs_hook=list)
            assert pairs == [("request_id", "json-once-1"), ("method", "GET"),
                             ("path", "/echo/x?q=1"), ("status", 200)], pairs


def test_a_bad_request_has_null_method_and_path_in_json():
    """A request gantry could not parse (400) has no method and no path: null in a JSON line,
    as every absent value is (it once wrote "-"); "-" in a text line."""
    with Origin() as o:
        for fmt in ("json", "text"):
            cfg = gwtest.simple_config(o, log={
                "access": "stdout", "access_format": fmt,
                "access_fields": ["status", "method", "path", "request"]})
            with Gantry(cfg) as g:
                out = gwtest.raw_exchange(g.port, b"\x01\x02 garbage\r\n\r\n")
                assert out.startswith(b"HTTP/1.1 400"), out
                if fmt == "json":
                    line = g.wait_log(r'(?m)^\{"status":400.*$').group(0)
                    assert json.loads(line) == {"status": 400, "method": None, "path": None}, line
                else:
                    g.wait_log(r'(?m)^400 - "-" "- -"$')


def test_sigusr1_reopens_the_log_files():
    with Origin() as o:
        cfg = gwtest.simple_config(o, log={"access": "access.log", "error": "error.log"})
        with Gantry(cfg) as g:
            access = os.path.join(g.tmpdir, "access.log")
            error = os.path.join(g.tmpdir, "error.log")
            request(g.port, "GET", "/echo/before", headers=[("X-Request-ID", "before-1")])
            gwtest.wait_until(lambda: "before-1" in gwtest._read_text(access), 5,
                              message="the first line")
            # logrotate: rename, then tell gantry
            os.rename(access, access + ".1")
            os.rename(error, error + ".1")
            g.signal(signal.SIGUSR1)
            gwtest.wait_until(lambda: "access log access.log reopened" in gwtest._read_text(error),
                              5, message="the reopen logged in the new error log")
            request(g.port, "GET", "/echo/after", headers=[("X-Request-ID", "after-1")])
            gwtest.wait_until(lambda: "after-1" in gwtest._read_text(access), 5,
                              message="the next line in the new file")
            old = gwtest._read_text(access + ".1")
            new = gwtest._read_text(access)
            assert "before-1" in old and "after-1" not in old, old
            assert "after-1" in new and "before-1" not in new, new
            assert "reopened" not in gwtest._read_text(error + ".1")
            g.signal(signal.SIGUSR1)  # again, with nothing renamed: same files, still appended
            gwtest.wait_until(lambda: gwtest._read_text(error).count("reopened") == 4, 5,
                              message="a second reopen")
            request(g.port, "GET", "/echo/again", headers=[("X-Request-ID", "again-1")])
            gwtest.wait_until(lambda: "again-1" in gwtest._read_text(access), 5,
                              message="appended to the same file")
            assert "after-1" in gwtest._read_text(access)


def test_a_half_closed_client_gets_its_answer_and_the_log_says_so():
    """A client that sends FIN after its request (HTTP/1.1 half-close) while the request
    waits on the upstream still reads: gantry writes the whole answer, and the 200 in the
    access log and in gantry_http_requests_total is what the client got."""
    with Origin() as o:
        cfg = gwtest.simple_config(o, log={"access": "stdout", "access_format": "json"})
        with Gantry(cfg) as g:
            s = socket.create_connection(("127.0.0.1", g.port), timeout=10)
            s.sendall(b"GET /sleep/300 HTTP/1.1\r\nHost: x\r\nX-Request-ID: half-1\r\n\r\n")
            s.shutdown(socket.SHUT_WR)
            out = gwtest.read_until_eof(s, 10)[0]
            s.close()
            assert out.startswith(b"HTTP/1.1 200 ") and out.endswith(b'{"slept_ms": 300}'), out
            e = json.loads(line_of(g, "half-1"))
            assert e["status"] == 200 and e["bytes_out"] == len(out), (e, len(out))
            text = g.admin_request("GET", "/metrics").body.decode()
            assert 'gantry_http_requests_total{service="svc",route="/",method="GET",' \
                   'class="2xx",code="200"} 1' in text, text


def test_upstream_ms_spans_every_try():
    """upstream_ms runs from the first try to the end of the last (docs/config.md): with two
    tries that each time out after per_try_timeout, it is at least twice that (a lower bound:
    a slow machine only makes it longer), and never more than the request's duration."""
    with Origin() as o:
        cfg = gwtest.simple_config(o, log={"access": "stdout", "access_format": "json"})
        cfg["services"][0]["retries"] = {"attempts": 1, "retry_on": "timeout",
                                         "per_try_timeout": "150ms", "backoff_base": "1ms",
                                         "backoff_max": "1ms"}
        with Gantry(cfg) as g:
            r = request(g.port, "GET", "/sleep/400", headers=[("X-Request-ID", "two-tries")])
            assert r.status == 504, r
            e = json.loads(line_of(g, "two-tries"))
            assert e["upstream_ms"] >= 2 * 150, e
            assert e["upstream_ms"] <= e["duration_ms"], e


if __name__ == "__main__":
    gwtest.main(globals())
