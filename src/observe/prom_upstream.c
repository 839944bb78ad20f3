/*
 * The Prometheus families of the upstream side: the retry policy, budget, circuit and
 * no-target refusals per service, try and first-byte latency, and per target the try counters
 * and the live states (health check verdict, ejection, circuits) read beside the snapshot.
 */
#include <stdlib.h>

#include "control/snapshot-t.h"
#include "core/error.h"
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
/* gantry_circuit_transitions_total of one circuit, lb its labels (service, target). */
static void circuit_transitions(struct gw__prom *o, const struct gw__prom_labels *lb,
                                const struct gw_breaker_stats *bs)
{
    static const char *const to[] = {"open", "half_open", "closed"};
    const uint64_t n[] = {bs->times_opened, bs->times_half_opened, bs->times_closed};
    for (size_t i = 0; i < 3; i++) {
        struct gw__prom_labels l = *lb;
        gw__prom_lbl_add(&l, "to", to[i]);
        gw__prom_sample_u64(o, "gantry_circuit_transitions_total", l.s, n[i]);
    }
}

/* The live state of one circuit (a service's, target=""; or a target's), read once per scrape. */
struct circuit_now {
    bool on;
    struct gw_breaker_stats bs;
};

/* The live state of one target, read once per scrape. */
struct target_now {
    bool usable;
    bool has_state; /* health check verdict and ejection are known */
    enum gw_health health;
    bool ejected;
    struct circuit_now circuit;
};

/* The states of every service and target of snap, read once so that every family of one scrape
 * tells the same story (gantry_service_healthy_targets is the sum of gantry_target_up). */
struct states_now {
    const struct gw_snapshot *snap;
    size_t *usable;                  /* per service: its targets taking traffic */
    struct circuit_now *svc_circuit; /* per service */
    struct target_now **tgt;         /* per service, per target */
};

static void states_free(struct states_now *st)
{
    if (st->tgt != NULL)
        for (size_t i = 0; i < st->snap->nservices; i++)
            free(st->tgt[i]);
    free(st->tgt);
    free(st->svc_circuit);
    free(st->usable);
}

static int states_read(struct states_now *st, const struct gw_snapshot *snap, uint64_t now)
{
    size_t n = snap->nservices ? snap->nservices : 1;
    *st = (struct states_now){.snap = snap};
    st->usable = calloc(n, sizeof *st->usable);
    st->svc_circuit = calloc(n, sizeof *st->svc_circuit);
    st->tgt = calloc(n, sizeof *st->tgt);
    if (st->usable == NULL || st->svc_circuit == NULL || st->tgt == NULL)
        goto fail;
    for (size_t i = 0; i < snap->nservices; i++) {
        const struct gw_service *svc = &snap->services[i];
        if (svc->breaker_on) {
            st->svc_circuit[i].on = true;
            gw_breaker_stats(&svc->live->breaker, now, &st->svc_circuit[i].bs);
        }
        st->tgt[i] = calloc(svc->ntargets ? svc->ntargets : 1, sizeof **st->tgt);
        if (st->tgt[i] == NULL)
            goto fail;
        for (size_t k = 0; k < svc->ntargets; k++) {
            const struct gw_target *tg = &svc->targets[k];
            struct target_now *tn = &st->tgt[i][k];
            tn->usable = gw__observe_target_usable(svc, k, now);
            st->usable[i] += tn->usable;
            if (tg->state) {
                struct gw_target_state_info info;
                gw_target_state_info(tg->state, &info);
                tn->has_state = true;
                tn->health = info.health;
                tn->ejected = info.ejected_until_ms > now;
            }
            if (tg->breaker) {
                tn->circuit.on = true;
                gw_breaker_stats(tg->breaker, now, &tn->circuit.bs);
            }
        }
    }
    return 0;
fail:
    states_free(st);
    return GW_ENOMEM;
}

/* What one family writes of a circuit: its state, open or not, openings, transitions. */
enum circuit_family {
    CF_STATE,
    CF_OPEN,
    CF_OPENINGS,
    CF_TRANSITIONS
};

static void circuit_sample(struct gw__prom *o, enum circuit_family f,
                           const struct gw__prom_labels *lb, const struct gw_breaker_stats *bs)
{
    switch (f) {
    case CF_STATE:
        gw__prom_sample_u64(o, "gantry_circuit_state", lb->s, (uint64_t)bs->state);
        break;
    case CF_OPEN:
        gw__prom_sample_u64(o, "gantry_circuit_open", lb->s, bs->state != GW_BREAKER_CLOSED);
        break;
    case CF_OPENINGS:
        gw__prom_sample_u64(o, "gantry_circuit_openings_total", lb->s, bs->times_opened);
        break;
    case CF_TRANSITIONS:
        circuit_transitions(o, lb, bs);
        break;
    }
}

/* One circuit family over every circuit: a service's own (target="") before its targets'. */
static void circuit_family(struct gw__prom *o, const struct states_now *st, enum circuit_family f)
{
    struct gw__prom_labels lb;
    for (size_t i = 0; i < st->snap->nservices; i++) {
        const struct gw_service *svc = &st->snap->services[i];
        if (st->svc_circuit[i].on) {
            gw__prom_lbl_reset(&lb);
            gw__prom_lbl_add(&lb, "service", svc->conf->name);
            gw__prom_lbl_add(&lb, "target", "");
            circuit_sample(o, f, &lb, &st->svc_circuit[i].bs);
        }
        for (size_t k = 0; k < svc->ntargets; k++) {
            if (!st->tgt[i][k].circuit.on)
                continue;
            gw__prom_lbl_reset(&lb);
            gw__prom_lbl_add(&lb, "service", svc->conf->name);
            gw__prom_lbl_add(&lb, "target", svc->targets[k].key);
            circuit_sample(o, f, &lb, &st->tgt[i][k].circuit.bs);
        }
    }
}

/* What one family writes of a target. */
enum target_family {
    TF_UP,
    TF_HEALTH,
    TF_EJECTED
};

static void target_family(struct gw__prom *o, const struct states_now *st, enum target_family f)
{
    static const char *const names[] = {"gantry_target_up", "gantry_target_health_check_up",
                                        "gantry_target_ejected"};
    struct gw__prom_labels lb;
    for (size_t i = 0; i < st->snap->nservices; i++) {
        const struct gw_service *svc = &st->snap->services[i];
        for (size_t k = 0; k < svc->ntargets; k++) {
            const struct target_now *tn = &st->tgt[i][k];
            if (f != TF_UP && !tn->has_state)
                continue;
            gw__prom_lbl_reset(&lb);
            gw__prom_lbl_add(&lb, "service", svc->conf->name);
            gw__prom_lbl_add(&lb, "target", svc->targets[k].key);
            if (f == TF_HEALTH) {
                gw__prom_puts(o, "gantry_target_health_check_up{");
                gw__prom_puts(o, lb.s);
                gw__prom_puts(o, tn->health == GW_HEALTH_UP     ? "} 1\n"
                                 : tn->health == GW_HEALTH_DOWN ? "} 0\n"
                                                                : "} -1\n");
            } else {
                gw__prom_sample_u64(o, names[f], lb.s, f == TF_UP ? tn->usable : tn->ejected);
            }
        }
    }
}

/* What one family writes of a service. */
enum service_family {
    SF_TARGETS,
    SF_HEALTHY,
    SF_SLO_LATENCY,
    SF_SLO_ERRORS
};

static void service_family(struct gw__prom *o, const struct states_now *st, enum service_family f)
{
    static const char *const names[] = {"gantry_service_targets", "gantry_service_healthy_targets",
                                        "gantry_service_slo_latency_p99_seconds",
                                        "gantry_service_slo_error_rate"};
    struct gw__prom_labels lb;
    for (size_t i = 0; i < st->snap->nservices; i++) {
        const struct gw_service *svc = &st->snap->services[i];
        gw__prom_lbl_reset(&lb);
        gw__prom_lbl_add(&lb, "service", svc->conf->name);
        switch (f) {
        case SF_TARGETS:
            gw__prom_sample_u64(o, names[f], lb.s, svc->ntargets);
            break;
        case SF_HEALTHY:
            gw__prom_sample_u64(o, names[f], lb.s, st->usable[i]);
            break;
        /* Exported so that alert rules can compare a service with its own objective. */
        case SF_SLO_LATENCY:
            gw__prom_sample_double(o, names[f], lb.s, (double)svc->conf->slo_latency_p99_ms / 1e3);
            break;
        case SF_SLO_ERRORS:
            gw__prom_sample_double(o, names[f], lb.s, svc->conf->slo_error_rate);
            break;
        }
    }
}

/* The live states, read from the snapshot's state (atomics) once; every family is one group of
 * lines, its HELP and TYPE first (text format 0.0.4: "all lines for a given metric must be
 * provided as one single group"). */
void gw__prom_target_states(struct gw__prom *o, struct gw_server *s)
{
    const struct gw_snapshot *snap = s->snap;
    struct states_now st = {0};
    bool have = snap != NULL && states_read(&st, snap, uv_hrtime() / 1000000) == 0;
    if (snap != NULL && !have && o->rc == 0)
        o->rc = GW_ENOMEM;
    gw__prom_family(
        o, "gantry_target_up", "gauge",
        "1 when the target takes traffic (not down by health checks, not ejected, circuit not "
        "open), else 0.");
    if (have)
        target_family(o, &st, TF_UP);
    gw__prom_family(o, "gantry_target_health_check_up", "gauge",
                    "Active health check verdict: 1 up, 0 down, -1 not checked (yet).");
    if (have)
        target_family(o, &st, TF_HEALTH);
    gw__prom_family(o, "gantry_target_ejected", "gauge", "1 while outlier detection keeps it out.");
    if (have)
        target_family(o, &st, TF_EJECTED);
    gw__prom_family(
        o, "gantry_circuit_state", "gauge",
        "Circuit breaker state: 0 closed, 1 open, 2 half-open (target=\"\": the service's "
        "own circuit). Only for services with a circuit_breaker.");
    if (have)
        circuit_family(o, &st, CF_STATE);
    gw__prom_family(o, "gantry_circuit_open", "gauge", "1 while the circuit is open or half-open.");
    if (have)
        circuit_family(o, &st, CF_OPEN);
    gw__prom_family(
        o, "gantry_circuit_openings_total", "counter",
        "Transitions to open since the configuration was loaded (a reload starts circuits "
        "afresh).");
    if (have)
        circuit_family(o, &st, CF_OPENINGS);
    gw__prom_family(o, "gantry_circuit_transitions_total", "counter",
                    "Circuit state changes since the configuration was loaded, by the state "
                    "entered: open (failures), half_open (a probe round began), closed (the "
                    "probes succeeded).");
    if (have)
        circuit_family(o, &st, CF_TRANSITIONS);
    gw__prom_family(o, "gantry_service_targets", "gauge", "Targets of the service.");
    if (have)
        service_family(o, &st, SF_TARGETS);
    gw__prom_family(o, "gantry_service_healthy_targets", "gauge",
                    "Targets of the service taking traffic.");
    if (have)
        service_family(o, &st, SF_HEALTHY);
    gw__prom_family(o, "gantry_service_slo_latency_p99_seconds", "gauge",
                    "The service's p99 latency objective (slo.latency_p99), seconds.");
    if (have)
        service_family(o, &st, SF_SLO_LATENCY);
    gw__prom_family(o, "gantry_service_slo_error_rate", "gauge",
                    "The share of 5xx answers the service's objective allows (slo.error_rate).");
    if (have) {
        service_family(o, &st, SF_SLO_ERRORS);
        states_free(&st);
    }
}

void gw__prom_targets(struct gw__prom *o, struct gw_server *s, const struct gw_metrics_total *t)
{
    (void)s;
    const struct gw_metrics_layout *l = t->layout;
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
}
