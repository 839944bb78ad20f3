#!/usr/bin/env python3
"""Metrics (README "Observability"): counts are exact across workers and reloads, in /metrics
(Prometheus text) and /metrics/json alike; the exposition passes promtool; the proxy port
serves them only when metrics.expose_on_proxy is set, behind its key or network list."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import gwtest
from gwtest import Gantry, Origin, request
from gwtest.jose import hs_token

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, frozenset(labels)): value} of a Prometheus text exposition; checks that every
    sample's family has HELP and TYPE lines."""
    out, typed, helped = {}, set(), set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("# HELP "):
            helped.add(line.split()[2])
            continue
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        name, labels, value = m.groups()
        fam = re.sub(r"_(bucket|sum|count)$", "", name)
        assert fam in typed or name in typed, "no TYPE for %s" % name
        assert fam in helped or name in helped, "no HELP for %s" % name
        key = (name, frozenset(LABEL.findall(labels or "")))
        assert key not in out, "duplicate sample %s" % line
        out[key] = float(value)
    return out


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples, name, **labels):
    """Sum over every sample of name whose labels include labels."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def scrape(g, path="/metrics"):
    r = g.admin_request("GET", path)
    assert r.status == 200, r
    assert r.header("Content-Type").startswith("text/plain; version=0.0.4"), r
    return r.body.decode()


def exact_config(o, **top):
    return gwtest.simple_config(
        o, workers=2, services=[
            {"name": "api", "prefix": ["/api", "/v2"], "strip_prefix": True, "retries": False,
             "targets": [{"url": "http://127.0.0.1:%d" % o.port}]},
            {"name": "dead", "prefix": "/dead", "retries": False,
             "targets": [{"url": "http://127.0.0.1:%d" % gwtest.free_port()}]},
        ], **top)


# (method, path, expected status, route) and how many of each
PLAN = [
    ("GET", "/api/echo/x", 200, "/api", 30),
    ("POST", "/v2/status/201", 201, "/v2", 10),
    ("GET", "/api/status/503", 503, "/api", 7),
    ("DELETE", "/api/status/404", 404, "/api", 4),
    ("GET", "/dead/x", 502, "/dead", 3),
]
UNROUTED_404 = 5


def send_plan(g, times=1):
    for method, path, status, _route, n in PLAN:
        for _ in range(n * times):
            r = request(g.port, method, path)  # a connection each: both workers serve
            assert r.status == status, (method, path, r)
    for _ in range(UNROUTED_404 * times):
        assert request(g.port, "GET", "/nowhere").status == 404


def expected_counts(times):
    want = {}
    for method, _path, status, route, n in PLAN:
        svc = "dead" if route == "/dead" else "api"
        key = (svc, route, method, str(status))
        want[key] = want.get(key, 0) + n * times
    return want


def check_exact(g, times):
    want = expected_counts(times)
    requests = sum(want.values())

    def all_counted():
        s = parse(scrape(g))
        got = total(s, "gantry_http_requests_total", service="api") + \
            total(s, "gantry_http_requests_total", service="dead")
        return s if got >= requests else None

    # The count is taken where a request ends, just after its last byte is written: poll.
    s = gwtest.wait_until(all_counted, 10, message="every request counted")
    for (svc, route, method, code), n in want.items():
        cls = code[0] + "xx"
        got = value(s, "gantry_http_requests_total", service=svc, route=route, method=method,
                    code=code, **{"class": cls})
        assert got == n, ((svc, route, method, code), got, n)
    assert total(s, "gantry_http_requests_total", service="api") + \
        total(s, "gantry_http_requests_total", service="dead") == requests
    assert value(s, "gantry_http_requests_total", service="", route="", method="GET", code="404",
                 **{"class": "4xx"}) == UNROUTED_404 * times
    # The duration histograms count the same requests.
    for route, svc in (("/api", "api"), ("/v2", "api"), ("/dead", "dead")):
        n = sum(v for (s_, r_, _m, _c), v in want.items() if r_ == route)
        assert value(s, "gantry_http_request_duration_seconds_count", service=svc, route=route) == n
        assert value(s, "gantry_http_request_duration_seconds_bucket", service=svc, route=route,
                     le="+Inf") == n
    # Upstream: one try per proxied request (retries are off); the dead target refused them.
    target = "127.0.0.1:%s" % g.config["services"][0]["targets"][0]["url"].rsplit(":", 1)[1]
    api_tries = 30 * times + 10 * times + 7 * times + 4 * times
    assert value(s, "gantry_upstream_tries_total", service="api", target=target) == api_tries
    assert value(s, "gantry_upstream_try_failures_total", service="api", target=target) == 7 * times
    dead = [v for (n, ls), v in s.items()
            if n == "gantry_upstream_connect_errors_total" and ("service", "dead") in ls]
    assert dead == [3 * times], dead
    assert value(s, "gantry_upstream_try_duration_seconds_count", service="api") == api_tries
    assert total(s, "gantry_client_connections_total") >= requests + UNROUTED_404 * times
    # Both workers served some of it.
    per_worker = [v for (n, _ls), v in s.items() if n == "gantry_client_connections_total"]
    assert len(per_worker) == 2 and all(v > 0 for v in per_worker), per_worker

    # The JSON view: the same numbers.
    r = g.admin_request("GET", "/metrics/json")
    assert r.status == 200, r
    j = r.json()
    again = g.admin_request("GET", "/metrics", headers={"Accept": "application/json"})
    assert again.status == 200 and again.header("Content-Type") == "application/json", again
    assert again.header("Vary") == "Accept", again.headers
    # Accept's q-values decide (RFC 9110 12.5.1): JSON refused, or text preferred, gives text
    for accept in ("application/json;q=0, text/plain", "text/plain, application/json;q=0.5",
                   "*/*;q=0.1, text/*;q=0.2, application/json;q=0"):
        r = g.admin_request("GET", "/metrics", headers={"Accept": accept})
        assert r.header("Content-Type").startswith("text/plain; version=0.0.4"), (accept, r)
    r = g.admin_request("GET", "/metrics", headers={"Accept": "text/plain;q=0.4, application/*"})
    assert r.header("Content-Type") == "application/json", r
    svcs = {x["name"]: x for x in j["services"]}
    assert svcs["api"]["requests"] == 51 * times, svcs["api"]
    assert svcs["api"]["errors"] == 7 * times
    assert svcs["dead"]["requests"] == 3 * times and svcs["dead"]["errors"] == 3 * times
    routes = {x["route"]: x for x in svcs["api"]["routes"]}
    assert routes["/api"]["requests"] == 41 * times
    assert routes["/api"]["by_code"] == {"200": 30 * times, "503": 7 * times, "404": 4 * times}
    assert routes["/api"]["by_method"] == {"GET": 37 * times, "DELETE": 4 * times}
    assert routes["/v2"]["by_code"] == {"201": 10 * times}
    lat = routes["/api"]["latency_ms"]
    assert lat["count"] == 41 * times
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p95"] <= lat["p99"] <= lat["p999"]
    assert set(svcs["api"]["rate_per_second"]) == {"1m", "5m", "15m"}
    assert j["unrouted"]["by_code"]["404"] == UNROUTED_404 * times
    return s


@gwtest.timeout(120)
def test_counts_are_exact_across_workers_and_reloads():
    with Origin() as o, Gantry(exact_config(o)) as g:
        send_plan(g)
        check_exact(g, 1)
        # A reload builds a new metric set: counts carry over, none is lost or doubled.
        r = g.admin_request("POST", "/api/config/reload")
        assert r.status == 200, r
        send_plan(g)
        # The old generation's set is folded into the base once its snapshot is gone (every
        # worker switched, no request left on it): then the counts are still exact.
        gwtest.wait_until(lambda: value(parse(scrape(g)), "gantry_metrics_sets") == 1, 10,
                          message="the old metric set folded")
        s = check_exact(g, 2)
        assert value(s, "gantry_config_reloads_total", result="ok") == 1
        assert value(s, "gantry_config_generation") == 2


def test_promtool_accepts_the_exposition():
    promtool = shutil.which("promtool")
    if promtool is None:
        gwtest.skip("promtool not installed (scripts/deps.sh test installs prometheus)")
    cfg = exact_config_with_everything()
    with Origin() as o, Gantry(cfg(o)) as g:
        send_plan(g)
        request(g.port, "GET", "/api/echo/x", headers={"X-API-Key": "wrong"})
        text = scrape(g)
        parse(text)
        p = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=30)
        assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
        assert scrape(g, "/metrics/prometheus").split("\n")[:3] == text.split("\n")[:3]


def exact_config_with_everything():
    """A config that makes every family appear: auth, a limit, a circuit breaker, health."""
    def make(o):
        cfg = exact_config(o)
        cfg["auth"] = {"consumers": [{"id": "batch", "api_keys": [
            "sha256:" + __import__("hashlib").sha256(b"k1").hexdigest()]}]}
        cfg["rate_limit"] = {"limits": [{"name": "all", "limit": 100000, "period": "1s",
                                         "key": "global"}]}
        svc = cfg["services"][1]
        svc["circuit_breaker"] = {}
        svc["auth"] = {"methods": ["api_key"], "required": False}
        svc["metrics"] = {"consumers": True}
        return cfg
    return make


def test_policy_and_consumer_metrics():
    with Origin() as o:
        cfg = exact_config_with_everything()(o)
        cfg["services"][0]["auth"] = {"methods": ["api_key"]}
        cfg["services"][0]["metrics"] = {"consumers": True}
        with Gantry(cfg) as g:
            for _ in range(3):
                assert request(g.port, "GET", "/api/echo/x",
                               headers={"X-API-Key": "k1"}).status == 200
            for _ in range(2):
                assert request(g.port, "GET", "/api/echo/x",
                               headers={"X-API-Key": "nope"}).status == 401
            assert request(g.port, "GET", "/api/echo/x").status == 401

            def counted():
                s = parse(scrape(g))
                return s if total(s, "gantry_http_requests_total", service="api") >= 6 else None
            s = gwtest.wait_until(counted, 10, message="counted")
            assert value(s, "gantry_auth_requests_total", service="api", method="api_key",
                         result="ok", reason="") == 3
            assert value(s, "gantry_auth_requests_total", service="api", method="api_key",
                         result="unauthorized", reason="invalid_key") == 2
            assert value(s, "gantry_auth_requests_total", service="api", method="none",
                         result="unauthorized", reason="missing") == 1
            assert value(s, "gantry_http_consumer_requests_total", service="api",
                         consumer="batch", **{"class": "2xx"}) == 3
            assert value(s, "gantry_ratelimit_decisions_total", scope="gateway", limit="all",
                         decision="allowed") == 6
            assert value(s, "gantry_policy_duration_seconds_count", service="api",
                         stage="auth") == 6
            assert value(s, "gantry_policy_duration_seconds_count", service="api",
                         stage="ratelimit") == 6
            # Header-only stages (here the default security headers) are not timed: their
            # time is below what two clock reads cost.
            assert not [k for k in s if ("stage", "security-headers") in k[1]]
            assert value(s, "gantry_circuit_state", service="dead", target="") == 0
            assert value(s, "gantry_service_healthy_targets", service="api") == 1


def test_a_policy_stage_runs_only_where_it_has_work():
    """The consumer-keyed rate-limit pass runs only for services with a limit keyed by
    consumer, and the first pass only for those with another limit: a stage that has nothing
    to decide writes no timing series (docs/metrics.md, P in the worst-case count)."""
    with Origin() as o:
        cfg = exact_config(o)
        cfg["auth"] = {"consumers": [{"id": "batch", "api_keys": [
            "sha256:" + __import__("hashlib").sha256(b"k1").hexdigest()]}]}
        cfg["rate_limit"] = {"limits": [{"name": "ip", "limit": 100000, "period": "1s",
                                         "key": "ip"}]}
        cfg["services"].append({"name": "keyed", "prefix": "/k", "strip_prefix": True,
                                "retries": False, "auth": {"methods": ["api_key"]},
                                "targets": [{"url": "http://127.0.0.1:%d" % o.port}],
                                "rate_limit": {"limits": [{"name": "per-consumer", "limit": 2,
                                                           "period": "1h",
                                                           "key": "consumer"}]}})
        with Gantry(cfg) as g:
            for _ in range(3):
                assert request(g.port, "GET", "/api/echo/x").status == 200
            for _ in range(2):
                r = request(g.port, "GET", "/k/echo/x", headers={"X-API-Key": "k1"})
                assert r.status == 200, r
            r = request(g.port, "GET", "/k/echo/x", headers={"X-API-Key": "k1"})
            assert r.status == 429, r

            def counted():
                s = parse(scrape(g))
                n = total(s, "gantry_http_requests_total", service="api") + \
                    total(s, "gantry_http_requests_total", service="keyed")
                return s if n >= 6 else None
            s = gwtest.wait_until(counted, 10, message="counted")
            stages = {(dict(k[1])["service"], dict(k[1])["stage"]): v for k, v in s.items()
                      if k[0] == "gantry_policy_duration_seconds_count"}
            assert not [k for k in stages if k[1] == "ratelimit-consumer" and k[0] != "keyed"], \
                stages
            assert {k: v for k, v in stages.items() if v} == {
                ("api", "ratelimit"): 3, ("keyed", "ratelimit"): 3, ("keyed", "auth"): 3,
                ("keyed", "ratelimit-consumer"): 3}, stages
            assert value(s, "gantry_ratelimit_decisions_total", scope="keyed",
                         limit="per-consumer", decision="limited") == 1


def test_health_score_and_performance():
    with Origin() as o, Gantry(exact_config(o)) as g:
        send_plan(g)
        r = g.admin_request("GET", "/metrics/health-score")
        assert r.status == 200, r
        j = r.json()
        by = {x["service"]: x for x in j["services"]}
        assert by["api"]["inputs"]["healthy_targets"] == 1
        assert by["api"]["inputs"]["latency_p99_objective_ms"] == 1000
        assert 0 <= j["score"] <= 100 and "formula" in j
        # 7 of 51 answers were 5xx, far over the 1% objective: the errors component is 0.
        assert by["api"]["components"]["errors"] == 0, by["api"]
        assert by["api"]["score"] < 100
        p = g.admin_request("GET", "/metrics/performance")
        assert p.status == 200 and p.header("Content-Type").startswith("text/plain"), p
        assert "api" in p.body.decode() and "p99 ms" in p.body.decode()


def test_objectives_are_exported():
    with Origin() as o:
        cfg = exact_config(o)
        cfg["services"][0]["slo"] = {"latency_p99": "250ms", "error_rate": "0.5%"}
        with Gantry(cfg) as g:
            s = parse(scrape(g))
            assert value(s, "gantry_service_slo_latency_p99_seconds", service="api") == 0.25
            assert value(s, "gantry_service_slo_error_rate", service="api") == 0.005
            # The defaults (docs/config.md): 1s and 1%.
            assert value(s, "gantry_service_slo_latency_p99_seconds", service="dead") == 1
            assert value(s, "gantry_service_slo_error_rate", service="dead") == 0.01


def test_failures_retries_health_reloads_and_the_process_are_counted():
    """The families an operator alerts on move with what happens: bytes both ways, the first
    response byte's histogram, upstream resets and timeouts, retries, outlier ejections, the
    active check's verdict, the token cache, Redis fallbacks of a limit, reloads and their
    duration, and the process (CPU, memory, descriptors)."""
    secret = "metrics-test-secret-0123456789abcdef"
    token = hs_token(secret, {"sub": "alice", "exp": int(time.time()) + 600})
    dead = gwtest.free_port()  # nothing listens: the limit's Redis is down
    with Origin() as a, Origin() as b:
        cfg = gwtest.simple_config(a, prefix="/api", name="api",
                                   timeouts={"upstream_response": "1s"})
        api = cfg["services"][0]
        api["targets"] = [a.target(), b.target()]
        api["strip_prefix"] = True
        api["retries"] = {"attempts": 1}
        api["outlier_detection"] = {"consecutive_failures": 2}
        # unhealthy_threshold 100: a check slower than 100 ms on a loaded machine must not take
        # a target down (3 in a row once did: the resets then found no target, and fewer than
        # 4 were counted); only the verdict "up" is under test here.
        api["health_check"] = {"path": "/health", "interval": "200ms", "timeout": "100ms",
                               "unhealthy_threshold": 100}
        api["auth"] = {"methods": ["jwt"], "required": False}
        cfg["services"].append({"name": "slow", "prefix": "/slow", "strip_prefix": True,
                                "targets": [a.target()], "retries": False})
        cfg["auth"] = {"jwt": {"keys": [{"alg": "HS256", "secret": secret}]}}
        cfg["rate_limit"] = {"backend": "redis",
                             "redis": {"url": "redis://127.0.0.1:%d" % dead, "timeout": "50ms"},
                             "limits": [{"name": "all", "limit": 1000, "period": "1s",
                                         "key": "global", "match": {"prefix": "/api"}}]}
        with Gantry(cfg) as g:
            gwtest.wait_until(lambda: total(parse(scrape(g)), "gantry_target_health_check_up",
                                            service="api") == 2, 10,
                              message="both targets checked up")
            for _ in range(2):  # the second is a token cache hit
                r = request(g.port, "GET", "/api/bytes/1000",
                            headers={"Authorization": "Bearer " + token})
                assert r.status == 200 and len(r.body) == 1000, r
            # before the resets: they eject the targets slow shares with api
            assert request(g.port, "GET", "/slow/sleep/3000").status == 504
            for _ in range(4):  # resets, each retried once on the other target
                assert request(g.port, "GET", "/api/reset").status in (502, 503)
            g.signal(signal.SIGHUP)
            g.wait_log("reload", stream="stderr", timeout=10)

            def settled():
                s = parse(scrape(g))
                return s if value(s, "gantry_config_reloads_total", result="ok") >= 1 else None
            s = gwtest.wait_until(settled, 10, message="the reload counted")
            assert total(s, "gantry_http_request_bytes_total", service="api") > 0
            assert total(s, "gantry_http_response_bytes_total", service="api") >= 2000
            assert total(s, "gantry_upstream_first_byte_seconds_count", service="api") >= 2
            assert total(s, "gantry_upstream_resets_total", service="api") >= 4
            assert total(s, "gantry_upstream_retries_total", service="api") >= 4
            assert total(s, "gantry_outlier_ejections_total", service="api") >= 1
            assert total(s, "gantry_upstream_timeouts_total", service="slow") == 1
            assert total(s, "gantry_auth_token_cache_requests_total", service="api",
                         result="hit") >= 1
            assert total(s, "gantry_ratelimit_redis_fallbacks_total", limit="all") >= 1
            assert total(s, "gantry_config_reload_duration_seconds_total") > 0
            assert total(s, "process_cpu_seconds_total") > 0
            assert total(s, "process_resident_memory_bytes") > 1 << 20
            assert total(s, "process_open_fds") > 3


def proxy_metrics(g, headers=None):
    return request(g.port, "GET", "/metrics", headers=headers)


def test_proxy_port_metrics_need_their_key_or_network():
    with Origin() as o:
        base = gwtest.simple_config(o, prefix="/")
        # Off (the default): /metrics is an ordinary path of the service on "/".
        with Gantry(base) as g:
            r = proxy_metrics(g)
            assert r.header("X-Origin-Port") == str(o.port), r
        keyed = dict(base, metrics={"expose_on_proxy": True, "proxy_api_key": "s3cret"})
        with Gantry(keyed) as g:
            assert proxy_metrics(g).status == 401
            assert proxy_metrics(g, {"Authorization": "Bearer nope"}).status == 401
            r = proxy_metrics(g, {"Authorization": "Bearer s3cret"})
            assert r.status == 200 and r.header("X-Origin-Port") is None, r
            assert r.header("Content-Type").startswith("text/plain; version=0.0.4"), r
            assert "gantry_http_requests_total" in r.body.decode()
            r = proxy_metrics(g, {"X-API-Key": "s3cret", "Accept": "application/json"})
            assert r.status == 200 and "services" in r.json(), r
            assert r.header("Vary") == "Accept", r.headers
            r = proxy_metrics(g, {"X-API-Key": "s3cret",
                                  "Accept": "application/json;q=0.5, text/plain"})
            assert r.header("Content-Type").startswith("text/plain; version=0.0.4"), r
            # The admin listener's endpoints under the same path, behind the same key.
            key = [("X-API-Key", "s3cret")]
            for sub, ctype, has in (("/prometheus", "text/plain; version=0.0.4", "# TYPE"),
                                    ("/json", "application/json", '"services"'),
                                    ("/performance", "text/plain; charset=utf-8", "p99"),
                                    ("/health-score", "application/json", '"score"')):
                r = g.request("GET", "/metrics" + sub, headers=key)
                assert r.status == 200 and r.header("X-Origin-Port") is None, (sub, r)
                assert r.header("Content-Type").startswith(ctype), (sub, r)
                assert has in r.body.decode(), (sub, r.body[:200])
                assert g.request("GET", "/metrics" + sub).status == 401, sub
            # Anything else under it is an ordinary path of the service.
            r = g.request("GET", "/metrics/other")
            assert r.header("X-Origin-Port") == str(o.port), r
        allowed = dict(base, metrics={"expose_on_proxy": True, "proxy_allow": ["127.0.0.0/8"]})
        with Gantry(allowed) as g:
            assert proxy_metrics(g).status == 200
        other = dict(base, metrics={"expose_on_proxy": True, "proxy_allow": ["10.0.0.0/8"]})
        with Gantry(other) as g:
            assert proxy_metrics(g).status == 403
        # Behind a trusted proxy the client it reports is judged, as the IP rules do: the
        # proxy's own address (allowed here) does not let every client it forwards scrape.
        behind = dict(base, rate_limit={"trusted_proxies": ["127.0.0.1/32"]},
                      metrics={"expose_on_proxy": True, "proxy_allow": ["127.0.0.1/32",
                                                                        "10.1.0.0/16"]})
        with Gantry(behind) as g:
            assert proxy_metrics(g, {"X-Forwarded-For": "203.0.113.9"}).status == 403
            assert proxy_metrics(g, {"X-Forwarded-For": "10.1.2.3"}).status == 200


def test_expose_on_proxy_without_protection_is_refused():
    cfg = gwtest.simple_config(80, metrics={"expose_on_proxy": True})
    path = os.path.join(gwtest._mkdtemp("metrics"), "gantry.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    r = gwtest.run_gantry(["check", path])
    assert r.returncode != 0 and "proxy_api_key" in r.stdout + r.stderr, r


def test_metrics_off_records_nothing():
    with Origin() as o:
        with Gantry(gwtest.simple_config(o, prefix="/", metrics={"enabled": False})) as g:
            assert request(g.port, "GET", "/echo/x").status == 200
            text = scrape(g)
            assert "gantry_http_requests_total{" not in text
            assert "gantry_build_info" in text
            assert g.admin_request("GET", "/metrics/json").json()["enabled"] is False


def strict_json(text):
    """The JSON of text, refusing NaN and infinities (RFC 8259 has neither)."""
    def refuse(c):
        raise AssertionError("not JSON: %s" % c)
    return json.loads(text, parse_constant=refuse)


def test_metrics_off_gives_no_score_and_keeps_live_states():
    """With metrics.enabled false nothing counts the requests: the health score says so (null,
    with the reason) rather than 100 for a service that answers 502 to everything, and the live
    states (targets, circuits, objectives) stay in /metrics and /metrics/json."""
    with Origin() as o:
        cfg = exact_config(o, metrics={"enabled": False})
        cfg["services"][1]["circuit_breaker"] = {"failure_threshold": 100}
        with Gantry(cfg) as g:
            for _ in range(5):
                assert request(g.port, "GET", "/dead/x").status == 502
            j = strict_json(g.admin_request("GET", "/metrics/health-score").body)
            assert j["score"] is None and "metrics are off" in j["reason"], j
            by = {x["service"]: x for x in j["services"]}
            assert by["dead"]["score"] is None and "metrics are off" in by["dead"]["reason"], by
            assert by["dead"]["inputs"]["error_rate"] is None, by
            assert by["dead"]["inputs"]["targets"] == 1, by
            s = parse(scrape(g))
            assert value(s, "gantry_service_targets", service="dead") == 1
            assert [ls for n, ls in s if n == "gantry_target_up" and ("service", "dead") in ls]
            assert ("gantry_circuit_state", frozenset({("service", "dead"), ("target", "")})) in s
            assert "gantry_http_requests_total" not in {n for n, _ in s}
            mj = strict_json(g.admin_request("GET", "/metrics/json").body)
            svc = {x["name"]: x for x in mj["services"]}
            assert svc["dead"]["target_count"] == 1 and svc["dead"]["circuit"]["state"] in (
                "closed", "open"), svc["dead"]
            assert "requests" not in svc["dead"], svc["dead"]


def test_no_traffic_reads_as_no_data():
    """A service without a request: "-" for its latency columns in /metrics/performance (not
    0.000), null in the JSON; a service quiet for the last 5 minutes has no error share (null)
    and its score is not lowered by errors; floats print short (15 significant digits at most,
    0.036229 rather than 0.036228999999999997)."""
    with Origin() as o, Gantry(exact_config(o)) as g:
        for _ in range(3):
            assert request(g.port, "GET", "/api/echo/x").status == 200
        text = g.admin_request("GET", "/metrics/performance").body.decode()
        row = [line for line in text.splitlines() if line.startswith("dead ")]
        assert row and row[0].split()[1:] == ["0", "0.0", "0.0", "-", "-", "-", "-", "-", "-"], text
        body = g.admin_request("GET", "/metrics/json").body.decode()
        j = strict_json(body)
        svc = {x["name"]: x for x in j["services"]}
        assert svc["dead"]["latency_ms"]["p99"] is None
        assert svc["dead"]["error_rates"] == {"1m": None, "5m": None, "15m": None}, svc["dead"]
        assert svc["api"]["error_rates"]["1m"] == 0, svc["api"]
        for number in re.findall(r"(?<![\w.\"])-?\d+\.\d+(?:[eE][-+]?\d+)?", body):
            digits = re.sub(r"[eE].*$", "", number).replace("-", "").replace(".", "").lstrip("0")
            assert len(digits) <= 15, number
        h = strict_json(g.admin_request("GET", "/metrics/health-score").body)
        by = {x["service"]: x for x in h["services"]}
        assert by["dead"]["inputs"]["error_rate"] is None, by["dead"]
        assert by["dead"]["components"]["errors"] == 100, by["dead"]


def test_a_large_scrape_a_client_does_not_read_holds_nothing_up():
    """An exposition larger than a socket's send buffer can grow (tcp_wmem's maximum) to a
    client that reads nothing (its receive window kept small): what the kernel does not take
    waits in gantry, and the control thread goes on answering other admin requests; the answer
    arrives whole, head and body, once the client reads. On the same connection, a JSON answer
    follows it (keep-alive after a body handed to the socket as it was)."""
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            wmem_max = int(f.read().split()[2])
    except (OSError, IndexError, ValueError):
        wmem_max = 4 << 20
    services = [{"name": "s%04d" % i, "prefix": "/s%d" % i,
                 "targets": ["http://127.0.0.%d:%d" % (t + 1, 9) for t in range(5)]}
                for i in range(1200)]
    with Gantry({"services": services}, ready_timeout=60) as g:
        size = len(request(g.admin_port, "GET", "/metrics", timeout=60).body)
        if size <= wmem_max:
            gwtest.skip("the exposition (%d bytes) fits the send buffer (%d)" % (size, wmem_max))
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(60)
        s.connect(("127.0.0.1", g.admin_port))
        try:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n"
                      b"GET /metrics/json HTTP/1.1\r\nHost: a\r\n\r\n")
            for _ in range(3):  # the scrape's write is pending: others are answered meanwhile
                r = request(g.admin_port, "GET", "/metrics/health-score", timeout=60)
                assert r.status == 200, r
            data = bytearray()
            f = s.makefile("rb")
            for expect_type in (b"text/plain", b"application/json"):
                head = {}
                status = f.readline()
                assert status.startswith(b"HTTP/1.1 200"), status
                while True:
                    line = f.readline()
                    if line == b"\r\n":
                        break
                    k, _, v = line.partition(b":")
                    head[k.strip().lower()] = v.strip()
                assert head[b"content-type"].startswith(expect_type), head
                data = f.read(int(head[b"content-length"]))
                assert len(data) == int(head[b"content-length"])
                if expect_type == b"text/plain":
                    text = data.decode()
                    assert text.endswith("gantry_metrics_scrape_duration_seconds " +
                                         text.rsplit(" ", 1)[1])
                    assert len(data) > wmem_max
                else:
                    assert data.endswith(b"}\n") and json.loads(data)["services"]
        finally:
            s.close()


if __name__ == "__main__":
    gwtest.main(globals())
