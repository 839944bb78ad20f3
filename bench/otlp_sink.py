#!/usr/bin/env python3
"""A minimal OTLP/HTTP trace sink for benchmarks: POST /v1/traces reads the body, counts the
spans in it (occurrences of "spanId") and answers 200 "{}"; GET /stats gives the counts. It does
no validation (tests/integration/gwtest/otlp_receiver.py checks the encoding); it is only as
slow as reading the bytes, so that a benchmark measures gantry and not the collector.

    python3 bench/otlp_sink.py --port 4318      (prints READY <port>)
"""

import argparse
import http.server
import json
import threading

LOCK = threading.Lock()
STATS = {"posts": 0, "spans": 0, "bytes": 0}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _send(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        spans = body.count(b'"spanId"')
        with LOCK:
            STATS["posts"] += 1
            STATS["spans"] += spans
            STATS["bytes"] += n
        self._send(b"{}")

    def do_GET(self):
        with LOCK:
            self._send(json.dumps(STATS).encode())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=4318)
    args = ap.parse_args()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    print("READY %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
