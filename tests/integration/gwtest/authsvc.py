#!/usr/bin/env python3
"""A test authorization server for gantry's auth integration tests (stdlib only).

Run it as a program:  python3 gwtest/authsvc.py --dir DIR [--port N]   (prints READY <port>)
or start it from a test: gwtest.AuthService() (on a free port, state in its temp dir).

Endpoints:
  POST /introspect   RFC 7662: reads the form body (token=..., token_type_hint=...) and answers
                     the JSON object DIR/tokens.json holds for that token, or {"active": false}
                     for a token it does not know. The table is read on every call, so a test
                     changes it by rewriting the file (AuthService.set_tokens).
  GET  /jwks.json    the bytes of DIR/jwks.json as they are now (404 when the file is absent);
                     rewrite the file to rotate keys (AuthService.set_jwks).
  GET  /__stats      {"introspect": calls, "jwks": fetches, "last": the last introspection
                     request: {"form": {...}, "authorization": ..., "content_type": ...}}
  POST /__mode       JSON {"delay_ms": N, "status": S}: from now on /introspect and /jwks.json
                     wait N ms before answering and answer status S (with a JSON error body)
                     instead of their normal answer when S is not 0. {} resets.
  POST /__reset      zeroes the counters.
Calls are counted when they arrive (before any delay). Stopping the process is the "down"
mode: connections are refused. The tokens the tests send are minted by gwtest.jose.
"""

import argparse
import http.server
import json
import os
import signal
import sys
import threading
import time
import urllib.parse


class State:
    def __init__(self, directory):
        self.dir = directory
        self.lock = threading.Lock()
        self.delay_ms = 0
        self.status = 0
        self.reset()

    def reset(self):
        with self.lock:
            self.introspect = 0
            self.jwks = 0
            self.last = None


def _read_json_file(path, default):
    try:
        with open(path, "rb") as f:
            return json.loads(f.read() or b"null")
    except FileNotFoundError:
        return default


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None  # set by serve()

    def log_message(self, fmt, *args):
        sys.stderr.write("authsvc: " + (fmt % args) + "\n")

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status, body, ctype="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _degrade(self):
        """Applies the configured delay; True when the configured status was answered."""
        st = self.state
        if st.delay_ms:
            time.sleep(st.delay_ms / 1000.0)
        if st.status:
            self._send(st.status, {"error": "configured failure"})
            return True
        return False

    def do_GET(self):
        st = self.state
        path = self.path.split("?", 1)[0]
        if path == "/__stats":
            with st.lock:
                stats = {"introspect": st.introspect, "jwks": st.jwks, "last": st.last}
            return self._send(200, stats)
        if path == "/jwks.json":
            with st.lock:
                st.jwks += 1
            if self._degrade():
                return
            try:
                with open(os.path.join(st.dir, "jwks.json"), "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                return self._send(404, {"error": "no jwks.json"})
            return self._send(200, data)
        return self._send(404, {"error": "not found"})

    def do_POST(self):
        st = self.state
        path = self.path.split("?", 1)[0]
        body = self._body()
        if path == "/introspect":
            form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode("latin-1")).items()}
            with st.lock:
                st.introspect += 1
                st.last = {
                    "form": form,
                    "authorization": self.headers.get("Authorization"),
                    "content_type": self.headers.get("Content-Type"),
                }
            if self._degrade():
                return
            table = _read_json_file(os.path.join(st.dir, "tokens.json"), {})
            answer = table.get(form.get("token", ""), {"active": False})
            return self._send(200, answer)
        if path == "/__mode":
            mode = json.loads(body or b"{}")
            st.delay_ms = int(mode.get("delay_ms", 0))
            st.status = int(mode.get("status", 0))
            return self._send(200, {"delay_ms": st.delay_ms, "status": st.status})
        if path == "/__reset":
            st.reset()
            return self._send(200, {"reset": True})
        return self._send(404, {"error": "not found"})


def serve(directory, port=0, host="127.0.0.1"):
    Handler.state = State(directory)
    server = http.server.ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv=None):
    ap = argparse.ArgumentParser(description="gantry integration-test authorization server")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args(argv)
    server = serve(args.dir, args.port)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    sys.stdout.write("READY %d\n" % server.server_address[1])
    sys.stdout.flush()
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
