#!/usr/bin/env python3
"""A test OTLP/HTTP trace receiver for gantry's tracing tests (stdlib only).

Run it as a program:  python3 gwtest/otlp_receiver.py [--port N]   (prints READY <port>)
or start it from a test: gwtest.OtlpReceiver() (on a free port).

Endpoints:
  POST /v1/traces   an OTLP ExportTraceServiceRequest in JSON. Every body is checked against
                    the OTLP JSON encoding (check_export below: the message structure, trace and
                    span ids as lowercase hex, enums as integers, times and 64-bit integers as
                    decimal strings, attribute values, unknown keys); the spans are kept with
                    their resource attributes, and each problem found is recorded. Answers 200
                    "{}" (OTLP's empty ExportTraceServiceResponse), or what /__mode says. The
                    spans of a POST answered with another status than 2xx are not kept (a
                    collector that refuses an export has not taken its spans).
  GET  /__spans     {"spans": [span + {"resource": {key: value}}], "errors": [...],
                     "posts": N, "connections": how many TCP connections the POSTs came on,
                     "headers": [the request headers of the last POST],
                     "log": [{"t": time.monotonic() at the POST's arrival, "status": the
                              status answered, "spans": how many it held}, ...]}
  POST /__mode      JSON {"delay_ms": N, "status": S, "close": B, "script": [answer, ...]}:
                    later POSTs wait N ms, then answer S (when not 0) instead of 200, with
                    "Connection: close" and closing the connection when B is true. {} resets.
                    Each answer of "script" is used by one POST, in order, before the mode
                    applies again: {"status": S, "retry_after": "value of Retry-After",
                    "retry_after_in": seconds (an HTTP-date that many seconds after the
                    next whole second), "body": {...} (answered instead of {})}.
  POST /__reset     forgets every span, error and count.
"""

import argparse
import email.utils
import http.server
import json
import re
import sys
import threading
import time

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
DIGITS = re.compile(r"^(0|[1-9][0-9]*)$")
INT = re.compile(r"^-?(0|[1-9][0-9]*)$")


def _keys(obj, allowed, where, errors):
    if not isinstance(obj, dict):
        errors.append("%s: expected an object, got %r" % (where, type(obj).__name__))
        return False
    extra = set(obj) - set(allowed)
    if extra:
        errors.append("%s: unknown keys %s" % (where, sorted(extra)))
    return True


def _attr_value(v, where, errors):
    """An AnyValue: exactly one of its members (only the scalar ones gantry may send)."""
    if not _keys(v, ("stringValue", "intValue", "boolValue", "doubleValue"), where, errors):
        return None
    if len(v) != 1:
        errors.append("%s: an AnyValue holds exactly one value, got %s" % (where, sorted(v)))
        return None
    (kind, val), = v.items()
    if kind == "stringValue" and not isinstance(val, str):
        errors.append("%s: stringValue is not a string" % where)
    if kind == "intValue":
        # int64 is a decimal string in the protobuf JSON mapping (a number is tolerated there,
        # but gantry promises strings)
        if not (isinstance(val, str) and INT.match(val)):
            errors.append("%s: intValue %r is not a decimal string" % (where, val))
            return None
        return int(val)
    if kind == "boolValue" and not isinstance(val, bool):
        errors.append("%s: boolValue is not a boolean" % where)
    return val


def _attributes(lst, where, errors):
    out = {}
    if not isinstance(lst, list):
        errors.append("%s: attributes is not an array" % where)
        return out
    for i, kv in enumerate(lst):
        w = "%s[%d]" % (where, i)
        if not _keys(kv, ("key", "value"), w, errors):
            continue
        key = kv.get("key")
        if not isinstance(key, str) or not key:
            errors.append("%s: key is not a non-empty string" % w)
            continue
        if key in out:
            errors.append("%s: attribute %r twice" % (w, key))
        out[key] = _attr_value(kv.get("value"), w + ".value", errors)
    return out


def _span(sp, where, errors):
    allowed = ("traceId", "spanId", "parentSpanId", "traceState", "name", "kind",
               "startTimeUnixNano", "endTimeUnixNano", "attributes", "status", "flags",
               "droppedAttributesCount", "events", "links")
    if not _keys(sp, allowed, where, errors):
        return None
    if not (isinstance(sp.get("traceId"), str) and HEX32.match(sp["traceId"])
            and sp["traceId"] != "0" * 32):
        errors.append("%s: traceId %r is not 32 lowercase hex digits (not all zero)"
                      % (where, sp.get("traceId")))
    if not (isinstance(sp.get("spanId"), str) and HEX16.match(sp["spanId"])
            and sp["spanId"] != "0" * 16):
        errors.append("%s: spanId %r is not 16 lowercase hex digits (not all zero)"
                      % (where, sp.get("spanId")))
    if "parentSpanId" in sp and not (isinstance(sp["parentSpanId"], str)
                                     and HEX16.match(sp["parentSpanId"])):
        errors.append("%s: parentSpanId %r is not 16 lowercase hex digits"
                      % (where, sp["parentSpanId"]))
    if not isinstance(sp.get("name"), str) or not sp["name"]:
        errors.append("%s: name is not a non-empty string" % where)
    if not (isinstance(sp.get("kind"), int) and not isinstance(sp.get("kind"), bool)
            and 0 <= sp["kind"] <= 5):
        errors.append("%s: kind %r is not an integer SpanKind" % (where, sp.get("kind")))
    times = []
    for k in ("startTimeUnixNano", "endTimeUnixNano"):
        v = sp.get(k)
        if not (isinstance(v, str) and DIGITS.match(v)):
            errors.append("%s: %s %r is not a decimal string" % (where, k, v))
            continue
        ns = int(v)
        if abs(ns / 1e9 - time.time()) > 3600:
            errors.append("%s: %s %s is not within an hour of now" % (where, k, v))
        times.append(ns)
    if len(times) == 2 and times[0] > times[1]:
        errors.append("%s: ends before it starts" % where)
    if "traceState" in sp and not isinstance(sp["traceState"], str):
        errors.append("%s: traceState is not a string" % where)
    attrs = _attributes(sp.get("attributes", []), where + ".attributes", errors)
    st = sp.get("status", {})
    if _keys(st, ("code", "message"), where + ".status", errors):
        if "code" in st and st["code"] not in (0, 1, 2):
            errors.append("%s: status.code %r is not 0, 1 or 2" % (where, st["code"]))
    out = dict(sp)
    out["attributes"] = attrs
    out["status"] = st if isinstance(st, dict) else {}
    return out


def check_export(body):
    """(spans, errors) of one ExportTraceServiceRequest in OTLP JSON: each span gets its
    attributes as a dict and its resource's attributes under "resource"."""
    errors = []
    spans = []
    if not _keys(body, ("resourceSpans",), "request", errors):
        return spans, errors
    rss = body.get("resourceSpans")
    if not isinstance(rss, list) or not rss:
        errors.append("request: resourceSpans is not a non-empty array")
        return spans, errors
    for i, rs in enumerate(rss):
        w = "resourceSpans[%d]" % i
        if not _keys(rs, ("resource", "scopeSpans", "schemaUrl"), w, errors):
            continue
        res = rs.get("resource")
        resource = {}
        if _keys(res, ("attributes", "droppedAttributesCount"), w + ".resource", errors):
            resource = _attributes(res.get("attributes", []), w + ".resource.attributes", errors)
        sss = rs.get("scopeSpans")
        if not isinstance(sss, list) or not sss:
            errors.append("%s: scopeSpans is not a non-empty array" % w)
            continue
        for j, ss in enumerate(sss):
            ws = "%s.scopeSpans[%d]" % (w, j)
            if not _keys(ss, ("scope", "spans", "schemaUrl"), ws, errors):
                continue
            scope = ss.get("scope")
            if _keys(scope, ("name", "version", "attributes"), ws + ".scope", errors):
                if not isinstance(scope.get("name"), str) or not scope.get("name"):
                    errors.append("%s.scope: name is not a non-empty string" % ws)
            lst = ss.get("spans")
            if not isinstance(lst, list) or not lst:
                errors.append("%s: spans is not a non-empty array" % ws)
                continue
            for k, sp in enumerate(lst):
                out = _span(sp, "%s.spans[%d]" % (ws, k), errors)
                if out is not None:
                    out["resource"] = resource
                    out["scope"] = scope
                    spans.append(out)
    return spans, errors


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.delay_ms = 0
        self.status = 0
        self.close = False
        self.script = []
        self.reset()

    def reset(self):
        with self.lock:
            self.spans = []
            self.errors = []
            self.posts = 0
            self.peers = set()  # (address, port) of each connection that sent a POST
            self.headers = []
            self.log = []


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None  # set by serve()

    def log_message(self, fmt, *args):
        sys.stderr.write("otlp: " + (fmt % args) + "\n")

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status, obj, close=False, extra=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        for k, v in extra:
            self.send_header(k, v)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        st = self.state
        if self.path == "/__spans":
            with st.lock:
                self._send(200, {"spans": st.spans, "errors": st.errors, "posts": st.posts,
                                 "connections": len(st.peers), "headers": st.headers,
                                 "log": st.log})
            return
        self._send(404, {"error": "not found"})

    def do_POST(self):
        st = self.state
        body = self._body()
        if self.path == "/__mode":
            m = json.loads(body or b"{}")
            with st.lock:
                st.delay_ms = int(m.get("delay_ms", 0))
                st.status = int(m.get("status", 0))
                st.close = bool(m.get("close", False))
                st.script = list(m.get("script", []))
            self._send(200, {})
            return
        if self.path == "/__reset":
            st.reset()
            self._send(200, {})
            return
        if self.path != "/v1/traces":
            self._send(404, {"error": "not found"})
            return
        errors = []
        ctype = self.headers.get("Content-Type", "")
        if ctype.split(";")[0].strip() != "application/json":
            errors.append("Content-Type is %r, not application/json" % ctype)
        try:
            doc = json.loads(body)
        except ValueError as e:
            doc = None
            errors.append("body is not JSON: %s" % e)
        spans = []
        if doc is not None:
            spans, errs = check_export(doc)
            errors += errs
        arrived = time.monotonic()
        with st.lock:
            delay, status, close = st.delay_ms, st.status, st.close
            answer = st.script.pop(0) if st.script else {}
            status = answer.get("status", status) or 200
            st.posts += 1
            st.peers.add(self.client_address)
            if 200 <= status < 300:
                st.spans += spans
            st.errors += errors
            st.headers = [[k, v] for k, v in self.headers.items()]
            st.log.append({"t": arrived, "status": status, "spans": len(spans)})
        extra = []
        if "retry_after" in answer:
            extra.append(("Retry-After", answer["retry_after"]))
        if "retry_after_in" in answer:
            when = int(time.time()) + 1 + answer["retry_after_in"]
            extra.append(("Retry-After", email.utils.formatdate(when, usegmt=True)))
        if delay:
            time.sleep(delay / 1000.0)  # the scenario: a slow collector (delay_ms), not a wait
        if "body" in answer:
            self._send(status, answer["body"], close, extra)
        elif status != 200:
            self._send(status, {"code": 14, "message": "test receiver told to fail"}, close,
                       extra)
        else:
            self._send(200, {}, close, extra)


def serve(port):
    Handler.state = State()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    print("READY %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    serve(args.port)


if __name__ == "__main__":
    main()
