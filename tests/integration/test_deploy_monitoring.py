#!/usr/bin/env python3
"""The monitoring files under deploy/ (README "Monitoring") work against a real gantry:

- promtool accepts deploy/prometheus/alerts.yml and the example prometheus.yml;
- the dashboard is importable JSON: one data source input, every query on it;
- every expression of deploy/grafana/gantry-dashboard.json (panels, template variables,
  annotations) and of the alert rules names only metric families a real gantry's /metrics
  declares;
- a real Prometheus, configured from the example prometheus.yml and scraping a real gantry
  (four services: healthy, target down, circuits opened, cached; auth, rate limits through a real
  Redis), loads the alert rules and reports every one healthy (/api/v1/rules);
- each alert rule is driven to firing with the labels it should carry (/api/v1/alerts; the
  `for:` of the test's copy of the rules is 1s), and the healthy service raises none;
- every dashboard query is valid PromQL (/api/v1/query answers status success; promtool has
  no query checker) and selects at least one series, so a misspelt label is caught too.

Readiness and alert state are polled, never slept on."""

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import gwtest
from gwtest import Gantry, Origin, PrometheusServer, RedisServer, request
from gwtest.jose import hs_token

DEPLOY = os.path.join(gwtest.REPO, "deploy")
ALERTS = os.path.join(DEPLOY, "prometheus", "alerts.yml")
PROM_CONFIG = os.path.join(DEPLOY, "prometheus", "prometheus.yml")
DASHBOARD = os.path.join(DEPLOY, "grafana", "gantry-dashboard.json")

JWT_SECRET = "a-test-secret-of-at-least-32-bytes!!"

# Grafana's variables and interval macros at plausible values. "All" sends allValue ".*";
# the test sends ".+", which needs the label to be there, so that a selector with a misspelt
# label name selects nothing instead of everything.
VARIABLES = {"job": ".+", "instance": ".+", "service": ".+", "__rate_interval": "1m",
             "__interval": "15s", "__range": "1h"}

# What the dashboard must show (issue 12): requests, latency, upstream health, circuits,
# rate-limit decisions, auth outcomes, connections, reloads.
DASHBOARD_MUST_USE = {
    "gantry_http_requests_total", "gantry_http_request_duration_seconds", "gantry_target_up",
    "gantry_service_healthy_targets", "gantry_circuit_state",
    "gantry_ratelimit_decisions_total", "gantry_auth_requests_total",
    "gantry_client_connections", "gantry_upstream_connections", "gantry_config_reloads_total",
}

METRIC = re.compile(r"\b((?:gantry|process)_[a-z0-9_]+)\b")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def promtool(*args):
    p = subprocess.run([shutil.which("promtool")] + list(args), capture_output=True,
                       timeout=60)
    assert p.returncode == 0, (args, p.stdout.decode() + p.stderr.decode())
    return p.stdout.decode()


def families(exposition):
    """{family: type} from the # TYPE lines of a Prometheus text exposition."""
    out = {}
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            out[name] = kind
    return out


def referenced(expr, exported):
    """The metric families expr names (a histogram's _bucket/_sum/_count give its family);
    asserts that each is exported and that there is at least one."""
    names = set(METRIC.findall(STRING.sub('""', expr)))
    assert names, "no gantry metric in %r" % expr
    out = set()
    for n in names:
        fam = re.sub(r"_(bucket|sum|count)$", "", n)
        if n in exported:
            out.add(n)
        elif fam != n and exported.get(fam) == "histogram":
            out.add(fam)
        else:
            raise AssertionError("%s (in %r) is not a family gantry exports" % (n, expr))
    return out


def substitute(expr):
    """Grafana's $var / ${var} / [[var]] replaced as Grafana would; an unknown variable fails."""
    def one(m):
        name = m.group(1) or m.group(2) or m.group(3)
        assert name in VARIABLES, "unknown variable %r in %r" % (name, expr)
        return VARIABLES[name]
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]", one, expr)


def dashboard_expressions(dash):
    """[(where, expr)] of every query of the dashboard: panels (rows' nested panels too),
    template variables (label_values(SELECTOR, label) gives SELECTOR), annotations."""
    out = []

    def walk(panels):
        for p in panels:
            walk(p.get("panels", []))
            for t in p.get("targets", []):
                assert t.get("expr"), "panel %r has a target without expr" % p.get("title")
                out.append(("panel %r" % p["title"], t["expr"]))
    walk(dash["panels"])
    for v in dash["templating"]["list"]:
        if v["type"] != "query":
            continue
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", q.strip())
        assert m, "variable %s: not label_values(selector, label): %r" % (v["name"], q)
        out.append(("variable %s" % v["name"], m.group(1)))
    for a in dash["annotations"]["list"]:
        if a.get("expr"):
            out.append(("annotation %r" % a["name"], a["expr"]))
    return out


def alert_rules(text):
    """[(name, expr)] of alerts.yml, read without a YAML library: each rule's `expr:` is a
    one-line value or a `|` block."""
    rules, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = re.match(r"\s*- alert: (\S+)", lines[i])
        if not m:
            i += 1
            continue
        name = m.group(1)
        i += 1
        while not re.match(r"\s*expr:", lines[i]):
            i += 1
        head = lines[i].split("expr:", 1)[1].strip()
        if head == "|":
            indent = len(lines[i]) - len(lines[i].lstrip()) + 1
            body = []
            i += 1
            while i < len(lines) and (not lines[i].strip() or
                                      len(lines[i]) - len(lines[i].lstrip()) >= indent):
                body.append(lines[i].strip())
                i += 1
            head = "\n".join(body).strip()
        rules.append((name, head))
    return rules


def test_promtool_accepts_rules_and_example_config():
    if shutil.which("promtool") is None:
        gwtest.skip("promtool not installed (scripts/deps.sh test installs it)")
    out = promtool("check", "rules", ALERTS)
    assert "SUCCESS: %d rules found" % len(alert_rules(open(ALERTS).read())) in out, out
    promtool("check", "config", PROM_CONFIG)


def test_dashboard_is_importable_json():
    with open(DASHBOARD) as f:
        dash = json.load(f)
    # An import asks for the Prometheus data source; every query uses it.
    inputs = dash["__inputs"]
    assert [(i["name"], i["type"], i["pluginId"]) for i in inputs] == \
        [("DS_PROMETHEUS", "datasource", "prometheus")], inputs
    assert dash["id"] is None and dash["uid"], "an exported dashboard has no id, a fixed uid"
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert "service" in variables, variables.keys()
    # Panels use the data source variable, which the import input sets (and which falls back
    # to the default Prometheus when the file is provisioned without an import).
    ds = variables["datasource"]
    assert (ds["type"], ds["query"], ds["current"]["value"]) == \
        ("datasource", "prometheus", "${DS_PROMETHEUS}"), ds

    def walk(panels):
        for p in panels:
            yield p
            yield from walk(p.get("panels", []))
    ids = set()
    for p in walk(dash["panels"]):
        assert p["id"] not in ids, "duplicate panel id %s" % p["id"]
        ids.add(p["id"])
        if p["type"] == "row":
            continue
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        for t in p["targets"]:
            assert t["datasource"] == p["datasource"], p["title"]


def refusing_port():
    """A socket bound to a loopback port, not listening: connects to the port are refused, and
    no other process on the machine can start listening there while it is open (a port that
    was merely free when the test began could be taken by another test)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s


def config(origin, redis, dead_port):
    key = "sha256:" + hashlib.sha256(b"k1").hexdigest()
    return {
        "workers": 2,
        "log": {"access": "off"},
        "auth": {"jwt": {"keys": [{"alg": "HS256", "secret": JWT_SECRET}]},
                 "consumers": [{"id": "batch", "api_keys": [key]}]},
        "rate_limit": {"backend": "redis", "redis": {"url": redis.url(), "timeout": "1s"},
                       "limits": [{"name": "all", "limit": 100000, "period": "1s",
                                   "key": "global"}]},
        "services": [
            {"name": "api", "prefix": "/api", "strip_prefix": True, "retries": False,
             "targets": [origin.target()], "circuit_breaker": {},
             "slo": {"latency_p99": "250ms"},
             "auth": {"methods": ["jwt", "api_key"], "required": False}},
            # Its only target listens nowhere: the health check takes it out.
            {"name": "down", "prefix": "/down", "retries": False,
             "targets": [{"url": "http://127.0.0.1:%d" % dead_port}],
             "health_check": {"path": "/health", "interval": "200ms", "timeout": "100ms",
                              "unhealthy_threshold": 1}},
            # Two failures in a row open its circuits (the service's and the target's).
            {"name": "flaky", "prefix": "/flaky", "strip_prefix": True, "retries": False,
             "targets": [origin.target()],
             "circuit_breaker": {"failure_threshold": 2, "open_duration": "10m"}},
            # The response cache's panels.
            {"name": "pages", "prefix": "/pages", "strip_prefix": True,
             "targets": [origin.target()], "cache": {"ttl": "1h"}},
        ],
    }


def prometheus_config(admin_port):
    """The example deploy/prometheus/prometheus.yml, aimed at this gantry and made fast."""
    text = open(PROM_CONFIG).read()
    for old, new in (("scrape_interval: 15s", "scrape_interval: 1s"),
                     ("scrape_timeout: 10s", "scrape_timeout: 1s"),
                     ("evaluation_interval: 15s", "evaluation_interval: 1s"),
                     ("'127.0.0.1:9000'", "'127.0.0.1:%d'" % admin_port)):
        assert text.count(old) == 1, "the example prometheus.yml changed: %r" % old
        text = text.replace(old, new)
    return text


def send_traffic(g):
    """Something in every family the dashboard shows: auth outcomes, a token cache hit, rate
    limit decisions through Redis, a 5xx, a 503 for no target, a response cache miss and hit."""
    token = hs_token(JWT_SECRET, {"sub": "alice", "exp": int(time.time()) + 3600})
    for _ in range(2):  # the second one is a token cache hit
        r = request(g.port, "GET", "/api/echo/x", headers={"Authorization": "Bearer " + token})
        assert r.status == 200, r
    for key in ("k1", "k1", "nope"):
        r = request(g.port, "GET", "/api/echo/x", headers={"X-API-Key": key})
        assert r.status == (200 if key == "k1" else 401), r
    assert request(g.port, "GET", "/api/status/500").status == 500
    assert request(g.port, "GET", "/flaky/echo/x").status == 200
    assert request(g.port, "GET", "/down/x").status in (502, 503)
    for want in ("MISS", "HIT"):  # the second one is a cache hit
        r = request(g.port, "GET", "/pages/bytes/10?h=Cache-Control:max-age%3D3600")
        assert r.status == 200 and r.header("X-Cache") == want, r


def metric_line(g, line):
    return line + "\n" in g.admin_request("GET", "/metrics").body.decode()


def must_fire(origin):
    """Every rule, and the labels of the alert this test makes it fire with."""
    return [
        ("GantryHighErrorRate", {"service": "down", "severity": "critical"}),
        ("GantryErrorRateOverObjective", {"service": "down", "severity": "warning"}),
        ("GantryLatencyP99OverObjective", {"service": "api", "severity": "warning"}),
        ("GantryServiceCircuitOpen", {"service": "flaky", "target": "", "severity": "critical"}),
        ("GantryTargetCircuitOpen", {"service": "flaky", "target": "127.0.0.1:%d" % origin.port,
                                     "severity": "warning"}),
        ("GantryNoHealthyTarget", {"service": "down", "severity": "critical"}),
        ("GantryRedisDown", {"use": "ratelimit", "severity": "critical"}),
        ("GantryReloadFailed", {"severity": "warning"}),
    ]


@gwtest.timeout(240)
def test_dashboard_and_alerts_against_a_real_prometheus():
    gwtest.require_prometheus()
    gwtest.require_redis()
    with refusing_port() as dead, Origin() as o, RedisServer() as rs, \
            Gantry(config(o, rs, dead.getsockname()[1])) as g:
        send_traffic(g)
        r = g.admin_request("GET", "/metrics")
        assert r.status == 200, r
        exported = families(r.body.decode())

        rules_text = open(ALERTS).read()
        rules = alert_rules(rules_text)
        assert len(rules) == len(re.findall(r"^\s*- alert:", rules_text, re.M)), rules
        expected = must_fire(o)
        assert sorted(n for n, _ in rules) == sorted(n for n, _ in expected)
        # The test's copy: every `for:` 1s, so that alerts fire within a few evaluations.
        fast_rules = re.sub(r"(?m)^(\s*for:\s*)\S+$", r"\g<1>1s", rules_text)
        assert fast_rules.count("for: 1s") == len(rules), "every rule has a for:"

        with open(DASHBOARD) as f:
            dash = json.load(f)
        board = dashboard_expressions(dash)
        used = set()
        for where, e in board:
            used |= referenced(e, exported)
        for where, e in rules:
            referenced(e, exported)
        assert DASHBOARD_MUST_USE <= used, DASHBOARD_MUST_USE - used

        with PrometheusServer(prometheus_config(g.admin_port),
                              files={"alerts.yml": fast_rules}) as p:
            p.wait_ready()
            p.wait_scraped()

            # The rules are loaded and healthy once evaluated.
            def rules_evaluated():
                groups = p.api("/api/v1/rules")["data"]["groups"]
                got = [r for gr in groups for r in gr["rules"]]
                if len(got) != len(rules) or any(r["health"] == "unknown" for r in got):
                    return None
                return got
            got = gwtest.wait_until(rules_evaluated, 30, interval=0.2,
                                    message="rules evaluated")
            assert sorted(r["name"] for r in got) == sorted(n for n, _ in rules)
            bad = [(r["name"], r["health"], r.get("lastError")) for r in got
                   if r["health"] != "ok"]
            assert not bad, bad

            # Now, between scrapes, what each rule watches for: a reload that works and one
            # that fails, 5xx from the service without a target, slow answers (over api's
            # 250ms objective), failures that open flaky's circuits, Redis gone.
            # Reloads first: a reload starts circuits closed again.
            g.signal(signal.SIGHUP)
            gwtest.wait_until(lambda: metric_line(g, 'gantry_config_reloads_total{result="ok"} 1'),
                              10, message="reload counted")
            with open(g.config_path, "w") as f:
                f.write("{ not json")
            g.signal(signal.SIGHUP)
            gwtest.wait_until(
                lambda: metric_line(g, 'gantry_config_reloads_total{result="failed"} 1'),
                10, message="failed reload counted")
            for _ in range(3):
                assert request(g.port, "GET", "/down/x").status == 503
                assert request(g.port, "GET", "/api/sleep/300").status == 200
            for _ in range(2):
                assert request(g.port, "GET", "/flaky/status/500").status == 500
            r = request(g.port, "GET", "/flaky/echo/x")
            assert r.status == 503 and b"circuit open" in r.body, r
            rs.kill()
            gwtest.wait_until(lambda: metric_line(g, 'gantry_redis_up{use="ratelimit"} 0'), 10,
                              message="gantry sees Redis down")

            def firing(name, **labels):
                for a in p.api("/api/v1/alerts")["data"]["alerts"]:
                    if (a["labels"].get("alertname") == name and a["state"] == "firing"
                            # Prometheus drops empty labels: target="" is no target.
                            and all(a["labels"].get(k, "") == v for k, v in labels.items())):
                        return a
                return None

            def traffic():
                # rate() counts only increases between two scrapes: a series whose first sample
                # already holds every error (all sent between two scrapes) has a rate of 0. So
                # the errors and slow answers keep coming while the alerts are awaited.
                request(g.port, "GET", "/down/x")
                request(g.port, "GET", "/api/sleep/300")

            # Every rule fires, with its labels, and its annotations name what it is about.
            for name, labels in expected:
                a = gwtest.wait_until(lambda: traffic() or firing(name, **labels), 60,
                                      interval=0.05,
                                      message="%s firing with %s" % (name, labels))
                for text in a["annotations"].values():
                    assert "{{" not in text and "<no value>" not in text, a
                    if "service" in labels:
                        assert labels["service"] in text, a
            assert firing("GantryNoHealthyTarget", service="api") is None
            assert firing("GantryServiceCircuitOpen", service="api") is None

            # Every dashboard query is valid PromQL (status success) and selects something,
            # now that every family has moved (a misspelt label would select nothing).
            p.wait_scraped()
            empty = []
            for where, e in board:
                res = p.api("/api/v1/query", query=substitute(e))
                assert res["status"] == "success", (where, e, res)
                if not res["data"]["result"]:
                    empty.append((where, e))
            assert not empty, "queries with no series:\n" + "\n".join(
                "%s: %s" % x for x in empty)


if __name__ == "__main__":
    gwtest.main(globals())
