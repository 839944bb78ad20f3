#!/usr/bin/env python3
"""/metrics/json holds what /metrics holds (issue 12: "the same data as JSON"): one gantry with
every optional subsystem that has families on (gwtest.Everything), both views scraped, and every
sample of every text family found in the JSON through the table below. A family without a row
in the table fails the test, so a family added later without its JSON fails here. Counters that
may move between the scrapes (spans still being exported) are read as text, JSON, text: the
JSON's value lies between the two texts'. The process's own figures (CPU, memory, fds, the
scrape's duration and buffer) change with every scrape: only their presence is checked."""

import json
import math
import os
import re

import gwtest
from test_metrics_exposition import check_exposition

HEALTH = {"up": 1, "down": 0, "unknown": -1}
CIRCUIT = {"closed": 0, "open": 1, "half_open": 2}


def service(j, name):
    found = [s for s in j["services"] if s["name"] == name]
    return found[0] if found else None


def route(j, L):
    if L["service"] == "":
        return j["unrouted"]
    s = service(j, L["service"])
    found = [r for r in s["routes"] if r["route"] == L["route"]]
    return found[0] if found else None


def target(j, L):
    s = service(j, L["service"])
    found = [t for t in s["targets"] if t["target"] == L["target"]]
    return found[0] if found else None


def circuit(j, L):
    return service(j, L["service"])["circuit"] if L["target"] == "" else target(j, L)["circuit"]


def worker(j, L):
    return j["workers"][int(L["worker"])]


def redis(j, L):
    found = [u for u in j["redis"] if u["use"] == L["use"]]
    return found[0] if found else None


def limit(j, L):
    found = [x for x in j["rate_limits"] if x["scope"] == L["scope"] and x["limit"] == L["limit"]]
    return found[0] if found else None


def by_code(j, L):
    code = L["code"] if L["code"] in ("none",) or L["code"].isdigit() else "other " + L["class"]
    return route(j, L)["by_code"].get(code, 0)


def auth(j, L):
    per = service(j, L["service"])["auth"].get(L["method"], {})
    if L["result"] != "unauthorized":
        return per.get(L["result"], 0)
    return per.get("reasons", {}).get(L["reason"], 0)


def grpc(j, L):
    g = service(j, L["service"])["grpc"]
    return (g or {}).get("by_status", {}).get(L["grpc_status"], 0)


def seconds(ms, count):
    """A histogram's _sum from the JSON's mean (ms) and count."""
    return 0 if not count else ms * count / 1000


def hist_sum(latency):
    """A histogram's _sum from a JSON latency object ({"mean", "count", ...})."""
    return seconds(latency["mean"], latency["count"])


def upstream(j, L, which):
    return service(j, L["service"])["upstream"][which]


# sample name -> where the JSON has it: a path of keys ("$label": the sample's value of that
# label), a function of the JSON and the sample's labels, or ("sum", labels, function) where the
# JSON has the sum of the text samples that share those labels. Histograms: _count and _sum.
MAP = {
    "gantry_build_info": lambda j, L: 1 if j["build"]["version"] == L["version"] else None,
    "gantry_config_generation": ("generation",),
    "gantry_config_reloads_total": ("reloads", "$result"),
    "gantry_config_reload_duration_seconds_total": lambda j, L: j["reloads"]["total_ms"] / 1e3,
    "gantry_config_last_reload_duration_seconds": lambda j, L: j["reloads"]["last_ms"] / 1e3,
    "gantry_workers": lambda j, L: len(j["workers"]),
    "process_max_fds": ("process", "max_fds"),
    "process_start_time_seconds": ("process", "start_time_seconds"),
    "gantry_client_connections": lambda j, L: worker(j, L)["client_connections"],
    "gantry_client_connections_total": lambda j, L: worker(j, L)["client_connections_total"],
    "gantry_upstream_connections": lambda j, L: worker(j, L)["upstream_connections"],
    "gantry_upstream_connections_total": lambda j, L: worker(j, L)["upstream_connections_total"],
    "gantry_upstream_connection_reuses_total":
        lambda j, L: worker(j, L)["upstream_connection_reuses"],
    "gantry_tls_handshakes_total": lambda j, L: worker(j, L)["tls"]["handshakes"],
    "gantry_tls_resumed_total": lambda j, L: worker(j, L)["tls"]["resumed"],
    "gantry_tls_handshake_failures_total":
        lambda j, L: worker(j, L)["tls"]["handshake_failures"],
    "gantry_upstream_tls_handshakes_total":
        lambda j, L: worker(j, L)["upstream_tls"]["handshakes"],
    "gantry_upstream_tls_resumed_total": lambda j, L: worker(j, L)["upstream_tls"]["resumed"],
    "gantry_upstream_tls_handshake_failures_total":
        lambda j, L: worker(j, L)["upstream_tls"]["handshake_failures"],
    "gantry_http2_connections_total": lambda j, L: worker(j, L)["http2"]["connections"],
    "gantry_http2_streams_total": lambda j, L: worker(j, L)["http2"]["streams"],
    "gantry_http2_refused_total": ("http2_refused", "$kind"),
    "gantry_tunnels": ("tunnels", "open"),
    "gantry_tunnels_total": ("tunnels", "total"),
    "gantry_tunnel_bytes_total": lambda j, L: j["tunnels"]["bytes_" + L["direction"]],
    "gantry_tunnel_duration_seconds_count": ("tunnels", "closed"),
    "gantry_tunnel_duration_seconds_sum":
        lambda j, L: seconds(j["tunnels"]["mean_duration_ms"], j["tunnels"]["closed"]),
    "gantry_http_requests_total": ("sum", ("service", "route", "code", "class"), by_code),
    "gantry_http_request_bytes_total": lambda j, L: route(j, L)["bytes_in"],
    "gantry_http_response_bytes_total": lambda j, L: route(j, L)["bytes_out"],
    "gantry_http_request_duration_seconds_count":
        lambda j, L: route(j, L)["latency_ms"]["count"],
    "gantry_http_request_duration_seconds_sum":
        lambda j, L: hist_sum(route(j, L)["latency_ms"]),
    "gantry_http_consumer_requests_total":
        lambda j, L: service(j, L["service"])["consumers"][L["consumer"]].get(L["class"], 0),
    "gantry_grpc_responses_total": ("sum", ("service", "grpc_status"), grpc),
    "gantry_upstream_retries_total": lambda j, L: upstream(j, L, "retries"),
    "gantry_upstream_retry_budget_refusals_total":
        lambda j, L: upstream(j, L, "retry_budget_refusals"),
    "gantry_circuit_rejections_total": lambda j, L: upstream(j, L, "circuit_rejections"),
    "gantry_upstream_no_target_total": lambda j, L: upstream(j, L, "no_target"),
    "gantry_auth_requests_total": auth,
    "gantry_auth_token_cache_requests_total":
        lambda j, L: service(j, L["service"])["token_cache"][L["cache"]][L["result"]],
    "gantry_cache_requests_total":
        lambda j, L: service(j, L["service"])["cache"][L["result"]],
    "gantry_cache_collapsed_total": lambda j, L: service(j, L["service"])["cache"]["collapsed"],
    "gantry_cache_stored_total": lambda j, L: service(j, L["service"])["cache"]["stored"],
    "gantry_cache_revalidations_total":
        lambda j, L: service(j, L["service"])["cache"]["revalidated"],
    "gantry_cache_stored_bytes_total":
        lambda j, L: service(j, L["service"])["cache"]["stored_bytes"],
    "gantry_cache_backend_errors_total":
        lambda j, L: service(j, L["service"])["cache"]["backend_errors"],
    "gantry_upstream_try_duration_seconds_count": lambda j, L: upstream(j, L, "try_ms")["count"],
    "gantry_upstream_try_duration_seconds_sum": lambda j, L: hist_sum(upstream(j, L, "try_ms")),
    "gantry_upstream_first_byte_seconds_count":
        lambda j, L: upstream(j, L, "first_byte_ms")["count"],
    "gantry_upstream_first_byte_seconds_sum":
        lambda j, L: hist_sum(upstream(j, L, "first_byte_ms")),
    "gantry_policy_duration_seconds_count":
        lambda j, L: service(j, L["service"])["policy_ms"][L["stage"]]["count"],
    "gantry_policy_duration_seconds_sum":
        lambda j, L: hist_sum(service(j, L["service"])["policy_ms"][L["stage"]]),
    "gantry_ratelimit_decisions_total": lambda j, L: limit(j, L)[L["decision"]],
    "gantry_ratelimit_redis_fallbacks_total": lambda j, L: limit(j, L)["redis_fallbacks"],
    "gantry_upstream_tries_total": lambda j, L: target(j, L)["tries"],
    "gantry_upstream_try_failures_total": lambda j, L: target(j, L)["failures"],
    "gantry_upstream_connect_errors_total": lambda j, L: target(j, L)["connect_errors"],
    "gantry_upstream_resets_total": lambda j, L: target(j, L)["resets"],
    "gantry_upstream_timeouts_total": lambda j, L: target(j, L)["timeouts"],
    "gantry_outlier_ejections_total": lambda j, L: target(j, L)["ejections"],
    "gantry_upstream_try_seconds_total":
        lambda j, L: seconds(target(j, L)["mean_try_ms"], target(j, L)["tries"]),
    "gantry_target_up": lambda j, L: target(j, L)["up"],
    "gantry_target_health_check_up": lambda j, L: HEALTH[target(j, L)["health_check"]],
    "gantry_target_ejected": lambda j, L: target(j, L)["ejected"],
    "gantry_circuit_state": lambda j, L: CIRCUIT[circuit(j, L)["state"]],
    "gantry_circuit_open": lambda j, L: circuit(j, L)["open"],
    "gantry_circuit_openings_total": lambda j, L: circuit(j, L)["openings"],
    "gantry_circuit_transitions_total": lambda j, L: circuit(j, L)["transitions"][L["to"]],
    "gantry_service_targets": lambda j, L: service(j, L["service"])["target_count"],
    "gantry_service_healthy_targets": lambda j, L: service(j, L["service"])["healthy_targets"],
    "gantry_service_slo_latency_p99_seconds":
        lambda j, L: service(j, L["service"])["slo"]["latency_p99_ms"] / 1e3,
    "gantry_service_slo_error_rate": lambda j, L: service(j, L["service"])["slo"]["error_rate"],
    "gantry_redis_up": lambda j, L: redis(j, L)["up"],
    "gantry_redis_clients_up": lambda j, L: redis(j, L)["clients_up"],
    "gantry_redis_connects_total": lambda j, L: redis(j, L)["connects"],
    "gantry_redis_disconnects_total": lambda j, L: redis(j, L)["disconnects"],
    "gantry_redis_commands_total": lambda j, L: redis(j, L)["commands"],
    "gantry_redis_command_errors_total": lambda j, L: redis(j, L)["errors"][L["kind"]],
    "gantry_redis_command_duration_seconds_count":
        lambda j, L: redis(j, L)["latency_ms"]["count"],
    "gantry_redis_command_duration_seconds_sum": lambda j, L: hist_sum(redis(j, L)["latency_ms"]),
    "gantry_tracing_spans_total": ("tracing", "spans", "$outcome"),
    "gantry_tracing_queued_traces": ("tracing", "queued_traces"),
    "gantry_tracing_exports_total": ("tracing", "exports", "$result"),
    "gantry_tracing_export_retries_total": ("tracing", "export_retries"),
    "gantry_audit_entries_total": ("audit", "entries"),
    "gantry_audit_dropped_total": ("audit", "dropped"),
    "gantry_audit_postgres_up": ("audit", "postgres", "up"),
    "gantry_audit_postgres_pending": ("audit", "postgres", "pending"),
    "gantry_audit_postgres_written_total": ("audit", "postgres", "written"),
    "gantry_audit_postgres_dropped_total": ("audit", "postgres", "dropped"),
    "gantry_cache_objects": ("cache_store", "objects"),
    "gantry_cache_bytes": ("cache_store", "bytes"),
    "gantry_cache_max_bytes": ("cache_store", "max_bytes"),
    "gantry_cache_evictions_total": ("cache_store", "evictions"),
    "gantry_cache_purged_total": ("cache_store", "purged"),
    "gantry_cache_redis_up": ("cache_store", "redis", "up"),
    "gantry_cache_redis_errors_total": ("cache_store", "redis", "errors"),
    "gantry_cache_redis_lookups_total":
        ("cache_store", "redis", "lookups", "$result"),
    "gantry_cache_redis_stores_total": ("cache_store", "redis", "stores"),
    "gantry_hub_connections": ("hub", "connections"),
    "gantry_hub_messages_published_total": ("hub", "published"),
    "gantry_hub_messages_delivered_total": ("hub", "delivered"),
    "gantry_hub_slow_consumers_total": ("hub", "slow_consumers"),
    "gantry_hub_redis_local_deliveries_total": ("hub", "redis_local_deliveries"),
    "gantry_revocations": ("revocations", "entries"),
    "gantry_revocations_redis_synced": ("revocations", "redis", "synced"),
    "gantry_revocations_redis_fallbacks_total":
        ("revocations", "redis", "fallbacks", "$outcome"),
    "gantry_metrics_sets": ("metrics", "sets"),
}

# Figures that change with each scrape: in the JSON, under these keys, checked for presence.
PRESENT = {
    "process_cpu_seconds_total": lambda j: j["process"]["cpu_seconds"],
    "process_resident_memory_bytes": lambda j: j["process"]["resident_memory_bytes"],
    "process_virtual_memory_bytes": lambda j: j["process"]["virtual_memory_bytes"],
    "process_open_fds": lambda j: j["process"]["open_fds"],
    "gantry_metrics_memory_bytes": lambda j: j["metrics"]["memory_bytes"],
    # the scrape's own duration: the JSON view is not a scrape of itself
    "gantry_metrics_scrape_duration_seconds": lambda j: 0,
}


def number(v):
    assert v is not None and not isinstance(v, str), v
    return float(v)  # True/False as 1/0


def close(a, b):
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=2e-9)


def families(series):
    """{sample name: [(labels dict, value)]} with a histogram's buckets left out."""
    out = {}
    for (name, labels), v in series.items():
        if name.endswith("_bucket"):
            continue
        out.setdefault(name, []).append((dict(labels), v))
    return out


def at(j, path, L):
    """The JSON's value at path: keys, "$label" for a label's value."""
    for key in path:
        j = j[L[key[1:]]] if key.startswith("$") else j[key]
    return j


def compare(before, j, after):
    problems = []
    b, a = families(before), families(after)
    for name, samples in sorted(b.items()):
        if name in PRESENT:
            try:
                ok = isinstance(PRESENT[name](j), (int, float))
            except (KeyError, TypeError):
                ok = False
            if not ok:
                problems.append("%s: not in the JSON" % name)
            continue
        rule = MAP.get(name)
        if isinstance(rule, tuple) and rule[0] != "sum":
            rule = (lambda path: lambda j, L: at(j, path, L))(rule)
        if rule is None:
            problems.append("%s: no JSON for this family (add it, and a row here)" % name)
            continue
        later = {frozenset(L.items()): v for L, v in a.get(name, [])}
        if isinstance(rule, tuple):  # text samples summed to the JSON's grain
            _, grain, fn = rule
            sums = {}
            for L, v in samples:
                key = tuple(L[k] for k in grain)
                lo, hi = sums.get(key, (0, 0))
                v2 = later.get(frozenset(L.items()), v)
                sums[key] = (lo + min(v, v2), hi + max(v, v2))
            for key, (lo, hi) in sums.items():
                L = dict(zip(grain, key))
                try:
                    got = number(fn(j, L))
                except Exception as e:  # noqa: BLE001 - reported below
                    problems.append("%s%s: %r" % (name, L, e))
                    continue
                if not (lo - 1e-9 <= got <= hi + 1e-9):
                    problems.append("%s%s: text %s..%s, JSON %s" % (name, L, lo, hi, got))
            continue
        for L, v in samples:
            v2 = later.get(frozenset(L.items()), v)
            try:
                got = number(rule(j, L))
            except Exception as e:  # noqa: BLE001 - reported below
                problems.append("%s%s: %r" % (name, L, e))
                continue
            lo, hi = min(v, v2), max(v, v2)
            if not (lo - 1e-9 <= got <= hi + 1e-9 or close(got, lo) or close(got, hi)):
                problems.append("%s%s: text %s..%s, JSON %s" % (name, L, lo, hi, got))
    return problems


def scrape_text(g):
    r = g.admin_request("GET", "/metrics")
    assert r.status == 200, r
    return check_exposition(r.body.decode())


def strict_json(body):
    def refuse(c):
        raise AssertionError("not JSON: %s" % c)
    return json.loads(body, parse_constant=refuse)


def test_every_text_family_is_in_the_json():
    with gwtest.Everything() as e:
        e.traffic()
        g = e.g

        def settled():
            s = scrape_text(g)
            spans = s.get(("gantry_tracing_spans_total", frozenset({("outcome", "exported")})))
            queued = s.get(("gantry_tracing_queued_traces", frozenset()))
            return s if spans and queued == 0 else None
        gwtest.wait_until(settled, 10, message="spans exported")
        before = scrape_text(g)
        r = g.admin_request("GET", "/metrics/json")
        body = r.body.decode()
        j = strict_json(body)
        after = scrape_text(g)
        problems = compare(before, j, after)
        assert not problems, "\n".join(problems)
        # the same answer for /metrics with Accept: application/json
        r = g.admin_request("GET", "/metrics", headers={"Accept": "application/json"})
        assert set(strict_json(r.body)) == set(j), r


def test_the_table_covers_every_documented_family():
    """Every family README's table lists has a row in MAP or PRESENT (families of subsystems
    Everything cannot run, such as the audit log's PostgreSQL sink, are checked here by name)."""
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                           "README.md")) as f:
        readme = f.read()
    section = readme[readme.index("## Observability"):readme.index("### Monitoring")]
    names = set(re.findall(r"`((?:gantry|process)_[a-z0-9_]+)`", section))
    hist = {n for n in names if n.endswith(("_seconds", "_duration_seconds")) and
            n + "_count" in MAP}
    missing = sorted(n for n in names - hist if n not in MAP and n not in PRESENT)
    assert not missing, missing


if __name__ == "__main__":
    gwtest.main(globals())
