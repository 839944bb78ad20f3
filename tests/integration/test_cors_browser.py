#!/usr/bin/env python3
"""CORS in a real browser: Debian's chromium, headless, driven by puppeteer-core from the
machine's Node.js (tests/node/run_page.mjs; both installed by scripts/deps.sh test).

A page served from one origin (a small server on its own loopback port, which also sets a
cookie) makes two credentialed cross-origin fetches to gantry, each a PUT with a JSON body and a
custom header, so each needs a preflight:
  - to a service whose CORS allows the page's origin with credentials: the browser's preflight
    is answered by gantry, the PUT goes through with the cookie, and the page reads the answer
    and an exposed header;
  - to a service whose CORS allows another origin only: gantry refuses the preflight and the
    browser blocks the fetch; the PUT never reaches the upstream.
The test reads both outcomes from the page."""

import http.server
import json
import os
import shutil
import subprocess
import threading

import gwtest
from gwtest import Gantry, Origin

NODE_DIR = os.path.join(gwtest.REPO, "tests", "node")
RUN_PAGE = os.path.join(NODE_DIR, "run_page.mjs")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>gantry CORS test</title>
<script>
async function attempt(url) {
  try {
    const r = await fetch(url, {
      method: "PUT",
      credentials: "include",
      headers: {"Content-Type": "application/json", "X-Custom": "from-the-page"},
      body: JSON.stringify({n: 1}),
    });
    return {ok: true, status: r.status, body: await r.json(),
            requestId: r.headers.get("X-Request-ID")};
  } catch (e) {
    return {ok: false, error: String(e)};
  }
}
(async () => {
  const allowed = await attempt("%(gantry)s/app/echo/allowed");
  const blocked = await attempt("%(gantry)s/other/echo/blocked");
  window.testResult = {origin: location.origin, allowed, blocked};
})();
</script>
"""


class PageServer:
    """The page's origin: GET / answers PAGE and sets the session cookie."""

    def __init__(self, gantry_url):
        page = (PAGE % {"gantry": gantry_url}).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.send_header("Set-Cookie", "session=s3cr3t; Path=/; SameSite=Lax")
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.origin = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def require_browser():
    missing = []
    if not os.path.exists(CHROMIUM):
        missing.append(CHROMIUM)
    if shutil.which("node") is None:
        missing.append("node")
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "puppeteer-core")):
        missing.append("tests/node/node_modules/puppeteer-core")
    assert not missing, ("missing %s: run scripts/deps.sh test (make test does)"
                         % ", ".join(missing))


@gwtest.timeout(120)
def test_browser_credentialed_fetch_allowed_and_blocked():
    require_browser()
    port = gwtest.free_port()
    gantry_url = "http://127.0.0.1:%d" % port
    page = PageServer(gantry_url)
    try:
        with Origin() as o:
            cfg = {
                "listen": "127.0.0.1:%d" % port,
                "workers": 1,
                "services": [
                    {"name": "app", "prefix": "/app", "strip_prefix": True,
                     "targets": [o.target()],
                     "cors": {"origins": [page.origin], "credentials": True,
                              "headers": ["Content-Type", "X-Custom"],
                              "expose_headers": ["X-Request-ID"]}},
                    {"name": "other", "prefix": "/other", "strip_prefix": True,
                     "targets": [o.target()],
                     "cors": {"origins": ["https://elsewhere.example.com"],
                              "credentials": True}},
                ],
            }
            with Gantry(cfg) as g:
                o.reset_stats()
                run = subprocess.run(
                    ["node", RUN_PAGE, page.origin + "/", "30000"],
                    cwd=NODE_DIR, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                    timeout=90)
                assert run.returncode == 0, (run.stdout, run.stderr)
                report = json.loads(run.stdout.strip().splitlines()[-1])
                res = report["result"]
                assert res["origin"] == page.origin, report

                allowed = res["allowed"]
                assert allowed["ok"], report
                assert allowed["status"] == 200, report
                echo = allowed["body"]
                assert echo["method"] == "PUT" and echo["path"] == "/echo/allowed", echo
                sent = {n.lower(): v for n, v in echo["headers"]}
                assert sent.get("origin") == page.origin, sent
                assert "session=s3cr3t" in sent.get("cookie", ""), sent  # credentials went
                assert sent.get("x-custom") == "from-the-page", sent
                assert allowed["requestId"], report  # an exposed header the page could read

                blocked = res["blocked"]
                assert not blocked["ok"], report
                assert "TypeError" in blocked["error"], report

                # the upstream saw the allowed PUT only: no preflight, nothing blocked
                stats = o.stats()
                assert stats["requests"] == 1, stats
                assert stats["by_path"] == {"/echo/allowed": 1}, stats
                # gantry answered both preflights itself
                log = g.stdout()
                assert '"OPTIONS /app/echo/allowed" 204' in log, log
                assert '"OPTIONS /other/echo/blocked" 403' in log, log
    finally:
        page.close()


if __name__ == "__main__":
    gwtest.main(globals())
