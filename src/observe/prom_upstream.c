/*
 * The Prometheus families of the upstream side: the retry policy, budget, circuit and
 * no-target refusals per service, try and first-byte latency, and per target the try counters
 * and the live states (health check verdict, ejection, circuits) read beside the snapshot.
 */
#include "control/snapshot-t.h"
#include "metrics/hub.h"
#include "observe/internal.h"
#include "runtime/server-t.h"
#include "upstream/breaker.h"
#include "upstream/target_state.h"

void gw__prom_service_resilience(struct gw__prom *o, const struct gw_metrics_total *t)
{
    const struct gw_metrics_layout *l = t->layout;
    struct gw__prom_labels lb;
    static const struct {
        const char *name, *help;
        unsigned word;
    } svc[] = {
        {"gantry_upstream_retries_total", "Retries made by the retry policy.", GW_MX_S_RETRIES},
        {"gantry_upstream_retry_budget_refusals_total",
         "Retries the retry policy allowed but the retry budget refused.", GW_MX_S_BUDGET_REFUSED},
        {"gantry_circuit_rejections_total", "Requests answered 503 by the service's open circuit.",
         GW_MX_S_CIRCUIT_REFUSED},
        {"gantry_upstream_no_target_total", "Requests answered 503 because no target was usable.",
         GW_MX_S_NO_TARGET},
    };
    for (size_t f = 0; f < sizeof svc / sizeof svc[0]; f++) {
        gw__prom_family(o, svc[f].name, "counter", svc[f].help);
        for (size_t i = 0; i < l->nrows[GW_MX_SERVICE]; i++) {
            gw__prom_lbl_reset(&lb);
            gw__prom_lbl_add(&lb, "service", gw__observe_key_part(l->keys[GW_MX_SERVICE][i], 0));
            gw__prom_sample_u64(o, svc[f].name, lb.s,
                                gw_metrics_total_row(t, GW_MX_SERVICE, i)[svc[f].word]);
        }
    }
}

void gw__prom_upstream_latency(struct gw__prom *o, const struct gw_metrics_total *t)
{
    const struct gw_metrics_layout *l = t->layout;
    struct gw__prom_labels lb;
    static struct gw_hist_sum h;
    gw__prom_family(
        o, "gantry_upstream_try_duration_seconds", "histogram",
        "Duration of one upstream try (connect or reuse to the response's end), by service.");
    for (size_t i = 0; i < l->nservices; i++) {
        gw_metrics_total_hist(t, l->svc[i].hist_try, &h);
        gw__prom_lbl_reset(&lb);
        gw__prom_lbl_add(&lb, "service", gw__observe_key_part(l->keys[GW_MX_SERVICE][i], 0));
        gw__prom_histogram(o, "gantry_upstream_try_duration_seconds", lb.s, &h);
    }
    gw__prom_family(
        o, "gantry_upstream_first_byte_seconds", "histogram",
        "Time from a try's start to the first byte of the upstream's response, by service.");
    for (size_t i = 0; i < l->nservices; i++) {
        gw_metrics_total_hist(t, l->svc[i].hist_ttfb, &h);
        gw__prom_lbl_reset(&lb);
        gw__prom_lbl_add(&lb, "service", gw__observe_key_part(l->keys[GW_MX_SERVICE][i], 0));
        gw__prom_histogram(o, "gantry_upstream_first_byte_seconds", lb.s, &h);
    }
}

/* Per target: counters from the rows, states from the live state beside the snapshot. */
void gw__prom_targets(struct gw__prom *o, struct gw_server *s, const struct gw_metrics_total *t)
{
    const struct gw_metrics_layout *l = t->layout;
    const struct gw_snapshot *snap = s->snap;
    struct gw__prom_labels lb;
    static const struct {
        const char *name, *help;
        unsigned word;
    } tf[] = {
        {"gantry_upstream_tries_total", "Upstream tries (each retry is a try).", GW_MX_T_TRIES},
        {"gantry_upstream_try_failures_total",
         "Tries that failed: connect error, reset, timeout, invalid answer or 5xx.",
         GW_MX_T_FAILURES},
        {"gantry_upstream_connect_errors_total", "Connects refused, failed or timed out.",
         GW_MX_T_CONNECT_ERRORS},
        {"gantry_upstream_resets_total",
         "Upstream connections closed or reset before the response was complete.", GW_MX_T_RESETS},
        {"gantry_upstream_timeouts_total", "Upstream response timeouts (per try or whole).",
         GW_MX_T_TIMEOUTS},
        {"gantry_outlier_ejections_total", "Ejections by outlier detection.", GW_MX_T_EJECTIONS},
    };
    for (size_t f = 0; f < sizeof tf / sizeof tf[0]; f++) {
        gw__prom_family(o, tf[f].name, "counter", tf[f].help);
        for (size_t i = 0; i < l->nrows[GW_MX_TARGET]; i++) {
            const char *key = l->keys[GW_MX_TARGET][i];
            gw__prom_lbl_reset(&lb);
            gw__prom_lbl_add(&lb, "service", gw__observe_key_part(key, 0));
            gw__prom_lbl_add(&lb, "target", gw__observe_key_part(key, 1));
            gw__prom_sample_u64(o, tf[f].name, lb.s,
                                gw_metrics_total_row(t, GW_MX_TARGET, i)[tf[f].word]);
        }
    }
    gw__prom_family(o, "gantry_upstream_try_seconds_total", "counter",
                    "Time spent in upstream tries, per target (divide by tries for the mean).");
    for (size_t i = 0; i < l->nrows[GW_MX_TARGET]; i++) {
        const char *key = l->keys[GW_MX_TARGET][i];
        gw__prom_lbl_reset(&lb);
        gw__prom_lbl_add(&lb, "service", gw__observe_key_part(key, 0));
        gw__prom_lbl_add(&lb, "target", gw__observe_key_part(key, 1));
        gw__prom_puts(o, "gantry_upstream_try_seconds_total{");
        gw__prom_puts(o, lb.s);
        gw__prom_puts(o, "} ");
        gw__prom_put_seconds(o, gw_metrics_total_row(t, GW_MX_TARGET, i)[GW_MX_T_TRY_NS]);
        gw__prom_put(o, "\n", 1);
    }
    /* States: read now from the snapshot's live state (atomics). */
    uint64_t now = uv_hrtime() / 1000000;
    gw__prom_family(
        o, "gantry_target_up", "gauge",
        "1 when the target takes traffic (not down by health checks, not ejected, circuit not "
        "open), else 0.");
    gw__prom_family(o, "gantry_target_health_check_up", "gauge",
                    "Active health check verdict: 1 up, 0 down, -1 not checked (yet).");
    gw__prom_family(o, "gantry_target_ejected", "gauge", "1 while outlier detection keeps it out.");
    gw__prom_family(
        o, "gantry_circuit_state", "gauge",
        "Circuit breaker state: 0 closed, 1 open, 2 half-open (target=\"\": the service's "
        "own circuit). Only for services with a circuit_breaker.");
    gw__prom_family(o, "gantry_circuit_open", "gauge", "1 while the circuit is open or half-open.");
    gw__prom_family(
        o, "gantry_circuit_openings_total", "counter",
        "Transitions to open since the configuration was loaded (a reload starts circuits "
        "afresh).");
    gw__prom_family(o, "gantry_service_targets", "gauge", "Targets of the service.");
    gw__prom_family(o, "gantry_service_healthy_targets", "gauge",
                    "Targets of the service taking traffic.");
    gw__prom_family(o, "gantry_service_slo_latency_p99_seconds", "gauge",
                    "The service's p99 latency objective (slo.latency_p99), seconds.");
    gw__prom_family(o, "gantry_service_slo_error_rate", "gauge",
                    "The share of 5xx answers the service's objective allows (slo.error_rate).");
    for (size_t i = 0; snap && i < snap->nservices; i++) {
        const struct gw_service *svc = &snap->services[i];
        struct gw__observe_targets st;
        gw__observe_service_targets(svc, now, &st);
        gw__prom_lbl_reset(&lb);
        gw__prom_lbl_add(&lb, "service", svc->conf->name);
        gw__prom_sample_u64(o, "gantry_service_targets", lb.s, svc->ntargets);
        gw__prom_sample_u64(o, "gantry_service_healthy_targets", lb.s, st.usable);
        /* Exported so that alert rules can compare a service with its own objective. */
        gw__prom_sample_double(o, "gantry_service_slo_latency_p99_seconds", lb.s,
                               (double)svc->conf->slo_latency_p99_ms / 1e3);
        gw__prom_sample_double(o, "gantry_service_slo_error_rate", lb.s, svc->conf->slo_error_rate);
        if (svc->breaker_on) {
            struct gw_breaker_stats bs;
            gw_breaker_stats(&svc->live->breaker, now, &bs);
            gw__prom_lbl_add(&lb, "target", "");
            gw__prom_sample_u64(o, "gantry_circuit_state", lb.s, (uint64_t)bs.state);
            gw__prom_sample_u64(o, "gantry_circuit_open", lb.s, bs.state != GW_BREAKER_CLOSED);
            gw__prom_sample_u64(o, "gantry_circuit_openings_total", lb.s, bs.times_opened);
        }
        for (size_t k = 0; k < svc->ntargets; k++) {
            const struct gw_target *tg = &svc->targets[k];
            gw__prom_lbl_reset(&lb);
            gw__prom_lbl_add(&lb, "service", svc->conf->name);
            gw__prom_lbl_add(&lb, "target", tg->key);
            gw__prom_sample_u64(o, "gantry_target_up", lb.s,
                                gw__observe_target_usable(svc, k, now));
            if (tg->state) {
                struct gw_target_state_info info;
                gw_target_state_info(tg->state, &info);
                gw__prom_puts(o, "gantry_target_health_check_up{");
                gw__prom_puts(o, lb.s);
                gw__prom_puts(o, info.health == GW_HEALTH_UP     ? "} 1\n"
                                 : info.health == GW_HEALTH_DOWN ? "} 0\n"
                                                                 : "} -1\n");
                gw__prom_sample_u64(o, "gantry_target_ejected", lb.s, info.ejected_until_ms > now);
            }
            if (tg->breaker) {
                struct gw_breaker_stats bs;
                gw_breaker_stats(tg->breaker, now, &bs);
                gw__prom_sample_u64(o, "gantry_circuit_state", lb.s, (uint64_t)bs.state);
                gw__prom_sample_u64(o, "gantry_circuit_open", lb.s, bs.state != GW_BREAKER_CLOSED);
                gw__prom_sample_u64(o, "gantry_circuit_openings_total", lb.s, bs.times_opened);
            }
        }
    }
}
