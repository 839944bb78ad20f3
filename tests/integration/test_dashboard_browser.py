#!/usr/bin/env python3
"""The dashboard in a real browser (issue 19): Debian's chromium, headless, driven step by step
by puppeteer-core (tests/node/dashboard.mjs; both installed by scripts/deps.sh test) against
the real gantry binary with an admin key, two origins and a dead target.

One scenario, in the order an operator would meet it:
  - without the key the page shows only its login form and every data request is refused
    (401), a wrong key is refused on the form;
  - with the key: the overview's request count equals /metrics/json's after a known number of
    requests, and the services view shows the same per service;
  - an origin stopped shows as "down" in the services view within its health-check interval;
  - a circuit opened by 500s shows "open"; "Reset circuit" (confirmed in the dialog) closes it;
  - a config file broken on purpose: "Reload config" shows the failure with the error's
    file:line:column, and so does the overview;
  - the live log shows the requests sent while it is open, filtered by service;
  - the rate-limit view shows a limit's decisions as /metrics/json counts them;
  - the page logged no console error and no page error.
Screenshots of each view (light, dark, phone width) go to GWTEST_SCREENSHOTS (default: the
test's temp dir); docs/img/ holds the ones the README shows."""

import json
import os
import select
import shutil
import subprocess
import tempfile
import urllib.parse

import gwtest
from gwtest import Gantry, Origin, request

NODE_DIR = os.path.join(gwtest.REPO, "tests", "node")
DRIVER = os.path.join(NODE_DIR, "dashboard.mjs")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
KEY = "dashboard-test-key-0123456789"
AUTH = {"Authorization": "Bearer " + KEY}


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


class Page:
    """tests/node/dashboard.mjs: one command line in, one answer line out."""

    def __init__(self):
        self.proc = subprocess.Popen(["node", DRIVER], cwd=NODE_DIR, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def do(self, op, timeout=30, **kw):
        kw["op"] = op
        self.proc.stdin.write(json.dumps(kw) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert ready, "the browser did not answer %r within %ss" % (kw, timeout)
        line = self.proc.stdout.readline()
        assert line, "the browser driver ended: %s" % self.proc.stderr.read()
        reply = json.loads(line)
        assert reply["ok"], "%r failed: %s" % (kw, reply["error"])
        return reply.get("value")

    def wait(self, js, timeout_s=10):
        """The value of js once it is truthy (polled in the page every 100 ms)."""
        self.proc.stdin.write(json.dumps({"op": "wait", "js": js,
                                          "timeout": int(timeout_s * 1000)}) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout_s + 15)
        assert ready, "the browser did not answer the wait for %s" % js
        reply = json.loads(self.proc.stdout.readline())
        assert reply["ok"], "waiting for %s: %s" % (js, reply["error"])
        return reply.get("value")

    def text(self, selector):
        return self.do("eval", js="(document.querySelector(%s) || {}).textContent"
                       % json.dumps(selector))

    def close(self):
        if self.proc.poll() is None:
            try:
                self.do("close", timeout=15)
            except AssertionError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def admin_json(g, path, headers=AUTH):
    r = request(g.admin_port, "GET", path, headers=headers)
    assert r.status == 200, (path, r.status, r.body[:300])
    return r.json()


def config(users1, users2, guarded):
    return {
        "workers": 2,
        "log": {"access": "off"},
        "rate_limit": {"limits": [{"name": "all", "limit": 100000, "period": "1s",
                                   "key": "global"}]},
        "services": [
            {"name": "users", "prefix": "/users", "strip_prefix": True,
             "targets": [users1.target(), users2.target()],
             "health_check": {"path": "/health", "interval": "300ms", "timeout": "200ms",
                              "healthy_threshold": 1, "unhealthy_threshold": 1}},
            {"name": "guarded", "prefix": "/guarded", "strip_prefix": True,
             "targets": [guarded.target()],
             "circuit_breaker": {"failure_threshold": 3, "open_duration": "60s",
                                 "half_open_requests": 1, "minimum_requests": 100}},
        ],
    }


def shot(page, shots, name):
    page.do("screenshot", path=os.path.join(shots, name + ".png"))


def view(page, name):
    page.do("click", selector="#tab-" + name)
    page.wait("!document.getElementById('view-%s').hidden" % name)


@gwtest.timeout(240)
def test_dashboard_in_a_browser():
    require_browser()
    shots = os.environ.get("GWTEST_SCREENSHOTS") or tempfile.mkdtemp(prefix="gw-dashboard-")
    os.makedirs(shots, exist_ok=True)
    with Origin() as u1, Origin() as u2, Origin() as og:
        cfg = config(u1, u2, og)
        with Gantry(dict(cfg, admin={"listen": "127.0.0.1:%d" % gwtest.free_port(),
                                     "api_key": KEY})) as g:
            base = "http://127.0.0.1:%d" % g.admin_port
            # The page's files load without the key; data does not.
            assert request(g.admin_port, "GET", "/dashboard").status == 200
            assert request(g.admin_port, "GET", "/metrics/json").status == 401
            assert request(g.admin_port, "GET", "/api/access-log/stream").status == 401

            page = Page()
            try:
                page.do("goto", url=base + "/dashboard")
                page.wait("!document.getElementById('login').hidden")
                assert page.do("eval", js="document.getElementById('tabs').hidden") is True
                shot(page, shots, "login")

                # the right key
                page.do("type", selector="#key", text=KEY)
                page.do("click", selector="#login-form button[type=submit]")
                page.wait("!document.getElementById('view-overview').hidden")
                page.wait("document.getElementById('live-state').textContent === 'live'")

                # a known number of requests, then the page and /metrics/json agree
                n = 37
                for i in range(n):
                    assert request(g.port, "GET", "/users/echo/%d" % i).status == 200
                # a request is counted when its worker finishes it, just after the client
                # read the answer
                def users_requests():
                    mx = admin_json(g, "/metrics/json")
                    return {s["name"]: s["requests"] for s in mx["services"]}["users"]
                gwtest.wait_until(lambda: users_requests() == n, timeout=5)
                # the total also counts the harness's GET /ready (unrouted)
                want = admin_json(g, "/metrics/json")["total"]["requests"]
                assert want >= n, want
                page.wait("document.getElementById('ov-requests').textContent === %s"
                          % json.dumps("%d" % want))
                view(page, "services")
                page.wait("(document.querySelector('[data-service=users] .svc-requests') || {})"
                          ".textContent === '%d'" % n)
                svc = {s["name"]: s for s in admin_json(g, "/metrics/json")["services"]}
                assert svc["users"]["requests"] == n, svc["users"]

                # charts need two history samples (5 s apart); the overview then draws them
                gwtest.wait_until(lambda: len(admin_json(g, "/metrics/history")["samples"]) >= 1,
                                  timeout=15)
                view(page, "overview")
                page.wait("document.getElementById('ov-latency').textContent !== '–'")
                shot(page, shots, "overview")

                # a target stopped shows as down within the health interval (300 ms, one
                # failed check; the page polls every 2 s)
                u2.stop()
                view(page, "services")
                down_url = u2.target() if isinstance(u2.target(), str) else u2.target()["url"]
                page.wait("(document.querySelector('[data-target=\"%s\"] .target-state') || {})"
                          ".textContent === 'down'" % down_url, timeout_s=8)
                st = admin_json(g, "/gateway/status")
                states = {t["url"]: t["state"] for s in st["services"] for t in s["targets"]}
                assert states[down_url] == "down", states

                # a circuit opened by three 500s, reset from the page
                for _ in range(3):
                    assert request(g.port, "GET", "/guarded/status/500").status == 500
                page.wait("(document.querySelector('[data-service=guarded] .circuit-state') "
                          "|| {}).textContent === 'open'", timeout_s=8)
                shot(page, shots, "services")
                page.do("click", selector="[data-service=guarded] .reset-circuit")
                page.wait("document.getElementById('confirm').open")
                page.do("click", selector="#confirm-ok")
                page.wait("(document.querySelector('[data-service=guarded] .circuit-state') "
                          "|| {}).textContent === 'closed'", timeout_s=8)
                c = admin_json(g, "/api/circuits/guarded")
                assert c["circuit"]["state"] == "closed", c

                # so far, not one console error or warning and no page error
                log = page.do("log")
                bad = [c for c in log["console"] if c["type"] in ("error", "warning")]
                assert not bad and not log["errors"], log
                seen = len(log["console"])

                # a failed reload shows its error position
                broken = json.dumps(dict(cfg, admin=g.config["admin"]), indent=2)
                broken = broken.replace('"interval": "300ms"', '"interval": "soon"')
                line = next(i + 1 for i, l in enumerate(broken.splitlines()) if '"soon"' in l)
                with open(g.config_path, "w") as f:
                    f.write(broken)
                view(page, "actions")
                page.do("click", selector="#act-reload")
                page.wait("document.getElementById('confirm').open")
                page.do("click", selector="#confirm-ok")
                where = page.wait("(document.querySelector('#act-errors li code') || {})"
                                  ".textContent")
                assert where.startswith(g.config_path + ":%d:" % line), where
                assert "services[0].health_check.interval" in page.text("#act-errors"), \
                    page.text("#act-errors")
                shot(page, shots, "actions")
                view(page, "overview")
                page.wait("(document.querySelector('#ov-reload-errors li code') || {})"
                          ".textContent === %s" % json.dumps(where))
                assert "failed" in page.text("#ov-reload")
                g.write_config(dict(cfg, admin=g.config["admin"]))

                # the live log, filtered by service
                view(page, "log")
                page.wait("document.getElementById('log-state').textContent.startsWith('live')")
                page.do("eval", js="document.getElementById('log-service').value = 'users'")
                page.do("click", selector="#log-filter button[type=submit]")
                page.wait("document.getElementById('log-state').textContent.includes('service=users')")

                assert request(g.port, "GET", "/guarded/echo/not-shown").status == 200
                rid = request(g.port, "GET", "/users/echo/tail-me").header("X-Request-ID")
                page.wait("!!document.querySelector('#log-rows tr[data-request-id=\"%s\"]')"
                          % rid, timeout_s=10)
                services = page.do("eval", js="[...document.querySelectorAll("
                                   "'#log-rows tr td:nth-child(5)')].map(td => td.textContent)")
                assert services and set(services) == {"users"}, services
                shot(page, shots, "log")

                # rate-limit decisions as /metrics/json counts them (no traffic now)
                view(page, "policies")
                rl = {l["limit"]: l for l in admin_json(g, "/metrics/json")["rate_limits"]}
                assert rl["all"]["allowed"] > n, rl
                page.wait("(document.querySelector('[data-limit=\"gateway/all\"] .rl-allowed')"
                          " || {}).textContent === %s" % json.dumps("{:,}".format(
                              rl["all"]["allowed"])))
                shot(page, shots, "policies")

                # dark and phone width
                page.do("scheme", value="dark")
                view(page, "overview")
                shot(page, shots, "overview-dark")
                view(page, "services")
                shot(page, shots, "services-dark")
                page.do("viewport", width=390, height=844)
                view(page, "overview")
                shot(page, shots, "overview-phone")
                page.do("scheme", value="light")
                page.do("viewport", width=1280, height=900)

                # keyboard: arrows move between tabs
                page.do("eval", js="document.getElementById('tab-overview').focus()")
                page.do("press", key="ArrowRight")
                page.wait("document.activeElement.id === 'tab-services' && "
                          "!document.getElementById('view-services').hidden")

                # since then, only the browser's own note of the reload's 422
                log = page.do("log")
                bad = [c for c in log["console"][seen:] if c["type"] in ("error", "warning")
                       and "status of 422" not in c["text"]]
                assert not bad and not log["errors"], log

                # last: a wrong key is refused (the browser logs the 401 it got)
                page.do("click", selector="#logout")
                page.wait("!document.getElementById('login').hidden")
                page.do("type", selector="#key", text="wrong-key")
                page.do("click", selector="#login-form button[type=submit]")
                msg = page.wait("document.getElementById('login-error').textContent"
                                ".includes('refused') && "
                                "document.getElementById('login-error').textContent")
                assert msg == "The admin API refused this key.", msg
                assert page.do("eval", js="document.getElementById('tabs').hidden") is True
            finally:
                page.close()


@gwtest.timeout(240)
def test_cache_registrations_and_top_limited_keys_in_a_browser():
    """The cache panel's hit ratio follows the requests and its purge form purges (after the
    confirmation) and lands in the audit log; a registration shows with its TTL left and goes
    when removed; the rate-limit panel lists the key a limit refused, as /metrics/json does."""
    require_browser()
    shots = os.environ.get("GWTEST_SCREENSHOTS") or tempfile.mkdtemp(prefix="gw-dashboard-")
    os.makedirs(shots, exist_ok=True)
    audit = os.path.join(tempfile.mkdtemp(prefix="gw-dashboard-audit-"), "audit.log")
    with Origin() as o:
        cfg = {
            "workers": 2,
            "log": {"access": "off"},
            "admin": {"listen": "127.0.0.1:%d" % gwtest.free_port(), "api_key": KEY},
            "audit": {"file": audit},
            "registration": {"encryption_key": "11" * 32},
            "services": [
                {"name": "cached", "prefix": "/cached", "strip_prefix": True,
                 "targets": [o.target()], "cache": True},
                {"name": "limited", "prefix": "/limited", "strip_prefix": True,
                 "targets": [o.target()],
                 "rate_limit": {"limits": [{"name": "per-ip", "limit": 2, "period": "60s",
                                            "key": "ip"}]}},
            ],
        }
        with Gantry(cfg) as g:
            base = "http://127.0.0.1:%d" % g.admin_port
            page = Page()
            try:
                page.do("goto", url=base + "/dashboard")
                page.wait("!document.getElementById('login').hidden")
                page.do("type", selector="#key", text=KEY)
                page.do("click", selector="#login-form button[type=submit]")
                page.wait("document.getElementById('live-state').textContent === 'live'")

                # the cache: one miss, then hits; the ratio on the page moves with them
                view(page, "cache")
                path = "/cached/bytes/64?h=" + urllib.parse.quote("Cache-Control:max-age=600",
                                                                  safe="")
                assert request(g.port, "GET", path).header("X-Cache") == "MISS"
                assert request(g.port, "GET", path).header("X-Cache") == "HIT"

                def ratio():
                    return admin_json(g, "/api/cache")["requests"]["hit_ratio"]
                gwtest.wait_until(lambda: ratio() == 0.5, timeout=5)
                page.wait("document.getElementById('cache-ratio').textContent === '50%'")
                page.wait("(document.querySelector('[data-cache-service=cached] "
                          ".cache-svc-hits') || {}).textContent === '1'")
                assert request(g.port, "GET", path).header("X-Cache") == "HIT"
                gwtest.wait_until(lambda: ratio() > 0.66, timeout=5)
                page.wait("document.getElementById('cache-ratio').textContent === '66.67%'")
                c = admin_json(g, "/api/cache")
                assert c["objects"] == 1 and c["bytes"] > 0, c
                svc = {x["service"]: x for x in c["services"]}["cached"]
                assert (svc["hit"], svc["miss"]) == (2, 1), svc
                assert page.text("#cache-evictions") == "%d" % c["evictions"]
                shot(page, shots, "cache")

                # purge everything from the form: asked first, then done, then audited
                page.do("click", selector="#purge-form button[type=submit]")
                page.wait("document.getElementById('confirm').open")
                assert "Every cached response" in page.text("#confirm-text")
                page.do("click", selector="#confirm-ok")
                page.wait("document.getElementById('act-result').textContent"
                          ".startsWith('Purge: done')")
                gwtest.wait_until(lambda: admin_json(g, "/api/cache")["objects"] == 0,
                                  timeout=5)
                assert request(g.port, "GET", path).header("X-Cache") == "MISS"

                def purges():
                    if not os.path.exists(audit):
                        return []
                    with open(audit) as f:
                        return [e for e in map(json.loads, f) if e["action"] == "cache.purge"]
                gwtest.wait_until(lambda: purges(), timeout=5, message="a cache.purge entry")
                entry = purges()[0]
                assert entry["object"] == "cache:all" and entry["actor"]["via"] == "admin", entry

                # a registration appears with its TTL left, and goes when removed
                r = request(g.admin_port, "POST", "/api/registrations",
                            headers=dict(AUTH, **{"Content-Type": "application/json"}),
                            body=json.dumps({"name": "reg", "url": o.target()["url"],
                                             "prefix": "/reg", "ttl": "90s"}))
                assert r.status == 201, r
                rid = r.json()["id"]
                view(page, "registrations")
                row = "document.querySelector('[data-registration=\"%s\"]')" % rid
                left = page.wait("(%s || {}).textContent" % row)
                assert "reg" in left and "/reg" in left and "of 90 s" in left, left
                shot(page, shots, "registrations")
                r = request(g.admin_port, "DELETE", "/api/registrations/" + rid, headers=AUTH)
                assert r.status == 200, r
                page.wait("!%s" % row)

                # the key a limit refused, as /metrics/json counts it
                for i in range(5):
                    request(g.port, "GET", "/limited/echo/%d" % i)

                def top():
                    rl = {l["limit"]: l for l in admin_json(g, "/metrics/json")["rate_limits"]}
                    return rl["per-ip"]["top_keys"]
                gwtest.wait_until(lambda: top() and top()[0]["count"] == 3, timeout=5)
                assert top() == [{"key": "ip:127.0.0.1", "count": 3, "error": 0}], top()
                view(page, "policies")
                page.wait("(document.querySelector('[data-top-key=\"limited/per-ip/"
                          "ip:127.0.0.1\"] .rl-top-count') || {}).textContent === '3'")
                shot(page, shots, "policies-top-keys")

                log = page.do("log")
                bad = [c for c in log["console"] if c["type"] in ("error", "warning")
                       and "status of 429" not in c["text"]]
                assert not bad and not log["errors"], log
            finally:
                page.close()


if __name__ == "__main__":
    gwtest.main(globals())
