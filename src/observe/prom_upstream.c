/*
 * The Prometheus families of the upstream side: the retry policy, budget, circuit and
 * no-target refusals per service, try and first-byte latency, and per target the try counters
 * and the live states (health check verdict, ejection, circuits) read beside the snapshot.
 */
#include <stdlib.h>
#include <string.h>

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
        size_t nlen = strlen(svc[f].name), llen;
        for (size_t i = 0; i < l->nrows[GW_MX_SERVICE]; i++) {
            const char *lbl = gw__prom_rows_get(&o->rows[GW_MX_SERVICE], i, &llen);
            gw__prom_line_u64(o, svc[f].name, nlen, lbl, llen,
                              gw_metrics_total_row(t, GW_MX_SERVICE, i)[svc[f].word]);
        }
    }
}

void gw__prom_upstream_latency(struct gw__prom *o, const struct gw_metrics_total *t)
{
    static const struct {
        const char *name, *help;
        bool ttfb;
    } fam[] = {
        {"gantry_upstream_try_duration_seconds",
         "Duration of one upstream try (connect or reuse to the response's end), by service.",
         false},
        {"gantry_upstream_first_byte_seconds",
         "Time from a try's start to the first byte of the upstream's response, by service.", true},
    };
    const struct gw_metrics_layout *l = t->layout;
    static struct gw_hist_sum h;
    for (size_t f = 0; f < 2; f++) {
        gw__prom_family(o, fam[f].name, "histogram", fam[f].help);
        size_t nlen = strlen(fam[f].name), llen;
        for (size_t i = 0; i < l->nservices; i++) {
            gw_metrics_total_hist(t, fam[f].ttfb ? l->svc[i].hist_ttfb : l->svc[i].hist_try, &h);
            const char *lbl = gw__prom_rows_get(&o->rows[GW_MX_SERVICE], i, &llen);
            gw__prom_histogram_n(o, fam[f].name, nlen, lbl, llen, &h);
        }
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
    /* labels: service="s" per service; service="s",target="t" per target, a service's after
     * the previous service's (tgt_at[i] is service i's first) */
    struct gw__prom_rows svc_lbl, tgt_lbl;
    size_t *tgt_at;
};

static void states_free(struct states_now *st)
{
    if (st->tgt != NULL)
        for (size_t i = 0; i < st->snap->nservices; i++)
            free(st->tgt[i]);
    free(st->tgt);
    free(st->svc_circuit);
    free(st->usable);
    free(st->tgt_at);
    gw__prom_rows_free(&st->svc_lbl);
    gw__prom_rows_free(&st->tgt_lbl);
}

/* The label sets of every service and target of st->snap, escaped once. */
static int states_labels(struct states_now *st)
{
    const struct gw_snapshot *snap = st->snap;
    struct gw__prom_labels lb;
    for (size_t i = 0; i < snap->nservices; i++) {
        const struct gw_service *svc = &snap->services[i];
        gw__prom_lbl_reset(&lb);
        gw__prom_lbl_add(&lb, "service", svc->conf->name);
        if (gw__prom_rows_push(&st->svc_lbl, &lb) < 0)
            return GW_ENOMEM;
        st->tgt_at[i] = st->tgt_lbl.n;
        for (size_t k = 0; k < svc->ntargets; k++) {
            struct gw__prom_labels tl;
            gw__prom_lbl_copy(&tl, &lb);
            gw__prom_lbl_add(&tl, "target", svc->targets[k].key);
            if (gw__prom_rows_push(&st->tgt_lbl, &tl) < 0)
                return GW_ENOMEM;
        }
    }
    return 0;
}

static int states_read(struct states_now *st, const struct gw_snapshot *snap, uint64_t now)
{
    size_t n = snap->nservices ? snap->nservices : 1;
    *st = (struct states_now){.snap = snap};
    gw__prom_rows_init(&st->svc_lbl);
    gw__prom_rows_init(&st->tgt_lbl);
    st->usable = calloc(n, sizeof *st->usable);
    st->svc_circuit = calloc(n, sizeof *st->svc_circuit);
    st->tgt = calloc(n, sizeof *st->tgt);
    st->tgt_at = calloc(n, sizeof *st->tgt_at);
    if (st->usable == NULL || st->svc_circuit == NULL || st->tgt == NULL || st->tgt_at == NULL ||
        states_labels(st) < 0)
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

/* "name{labels<extra>} v\n"; labels not empty. */
static void line_extra(struct gw__prom *o, const char *name, size_t nlen, const char *lbl,
                       size_t llen, const char *extra, size_t elen, int64_t v)
{
    char *p = gw__prom_room(o, nlen + llen + elen + 4 + GW__PROM_U64_MAX + 1);
    if (p == NULL)
        return;
    memcpy(p, name, nlen);
    p += nlen;
    *p++ = '{';
    memcpy(p, lbl, llen);
    p += llen;
    memcpy(p, extra, elen);
    p += elen;
    *p++ = '}';
    *p++ = ' ';
    if (v < 0)
        *p++ = '-';
    p = gw__prom_u64_to(p, v < 0 ? (uint64_t)-v : (uint64_t)v);
    *p++ = '\n';
    gw__prom_commit(o, p);
}

#define S_(x) x, sizeof(x) - 1

/* One circuit's line(s) of family f; extra: what follows lbl in its label set. */
static void circuit_sample(struct gw__prom *o, enum circuit_family f, const char *lbl, size_t llen,
                           const char *extra, size_t elen, const struct gw_breaker_stats *bs)
{
    static const struct {
        const char *s;
        size_t n;
    } to[] = {{S_(",to=\"open\"")}, {S_(",to=\"half_open\"")}, {S_(",to=\"closed\"")}};
    char ex[32];
    switch (f) {
    case CF_STATE:
        line_extra(o, S_("gantry_circuit_state"), lbl, llen, extra, elen, (int64_t)bs->state);
        break;
    case CF_OPEN:
        line_extra(o, S_("gantry_circuit_open"), lbl, llen, extra, elen,
                   bs->state != GW_BREAKER_CLOSED);
        break;
    case CF_OPENINGS:
        line_extra(o, S_("gantry_circuit_openings_total"), lbl, llen, extra, elen,
                   (int64_t)bs->times_opened);
        break;
    case CF_TRANSITIONS: {
        const uint64_t n[] = {bs->times_opened, bs->times_half_opened, bs->times_closed};
        for (size_t i = 0; i < 3; i++) {
            memcpy(ex, extra, elen);
            memcpy(ex + elen, to[i].s, to[i].n);
            line_extra(o, S_("gantry_circuit_transitions_total"), lbl, llen, ex, elen + to[i].n,
                       (int64_t)n[i]);
        }
        break;
    }
    }
}

/* One circuit family over every circuit: a service's own (target="") before its targets'. */
static void circuit_family(struct gw__prom *o, const struct states_now *st, enum circuit_family f)
{
    size_t llen;
    for (size_t i = 0; i < st->snap->nservices; i++) {
        const struct gw_service *svc = &st->snap->services[i];
        if (st->svc_circuit[i].on) {
            const char *lbl = gw__prom_rows_get(&st->svc_lbl, i, &llen);
            circuit_sample(o, f, lbl, llen, S_(",target=\"\""), &st->svc_circuit[i].bs);
        }
        for (size_t k = 0; k < svc->ntargets; k++) {
            if (!st->tgt[i][k].circuit.on)
                continue;
            const char *lbl = gw__prom_rows_get(&st->tgt_lbl, st->tgt_at[i] + k, &llen);
            circuit_sample(o, f, lbl, llen, "", 0, &st->tgt[i][k].circuit.bs);
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
    static const struct {
        const char *s;
        size_t n;
    } names[] = {{S_("gantry_target_up")},
                 {S_("gantry_target_health_check_up")},
                 {S_("gantry_target_ejected")}};
    size_t llen;
    for (size_t i = 0; i < st->snap->nservices; i++) {
        const struct gw_service *svc = &st->snap->services[i];
        for (size_t k = 0; k < svc->ntargets; k++) {
            const struct target_now *tn = &st->tgt[i][k];
            if (f != TF_UP && !tn->has_state)
                continue;
            const char *lbl = gw__prom_rows_get(&st->tgt_lbl, st->tgt_at[i] + k, &llen);
            int64_t v = f == TF_UP                     ? tn->usable
                        : f == TF_EJECTED              ? tn->ejected
                        : tn->health == GW_HEALTH_UP   ? 1
                        : tn->health == GW_HEALTH_DOWN ? 0
                                                       : -1;
            line_extra(o, names[f].s, names[f].n, lbl, llen, "", 0, v);
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
    size_t nlen = strlen(names[f]), llen;
    for (size_t i = 0; i < st->snap->nservices; i++) {
        const struct gw_service *svc = &st->snap->services[i];
        const char *lbl = gw__prom_rows_get(&st->svc_lbl, i, &llen);
        char *p;
        switch (f) {
        case SF_TARGETS:
            gw__prom_line_u64(o, names[f], nlen, lbl, llen, svc->ntargets);
            break;
        case SF_HEALTHY:
            gw__prom_line_u64(o, names[f], nlen, lbl, llen, st->usable[i]);
            break;
        /* Exported so that alert rules can compare a service with its own objective. */
        case SF_SLO_LATENCY:
        case SF_SLO_ERRORS:
            p = gw__prom_room(o, nlen + llen + 3);
            if (p == NULL)
                return;
            gw__prom_commit(o, gw__prom_series_to(p, names[f], nlen, "", 0, lbl, llen));
            gw__prom_put_double(o, f == SF_SLO_LATENCY ? (double)svc->conf->slo_latency_p99_ms / 1e3
                                                       : svc->conf->slo_error_rate);
            gw__prom_put(o, "\n", 1);
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
    const struct gw__prom_rows *rows = &o->rows[GW_MX_TARGET];
    size_t llen;
    for (size_t f = 0; f < sizeof tf / sizeof tf[0]; f++) {
        gw__prom_family(o, tf[f].name, "counter", tf[f].help);
        size_t nlen = strlen(tf[f].name);
        for (size_t i = 0; i < l->nrows[GW_MX_TARGET]; i++) {
            const char *lbl = gw__prom_rows_get(rows, i, &llen);
            gw__prom_line_u64(o, tf[f].name, nlen, lbl, llen,
                              gw_metrics_total_row(t, GW_MX_TARGET, i)[tf[f].word]);
        }
    }
    static const char seconds[] = "gantry_upstream_try_seconds_total";
    gw__prom_family(o, seconds, "counter",
                    "Time spent in upstream tries, per target (divide by tries for the mean).");
    for (size_t i = 0; i < l->nrows[GW_MX_TARGET]; i++) {
        const char *lbl = gw__prom_rows_get(rows, i, &llen);
        char *p = gw__prom_room(o, sizeof seconds + llen + 3 + GW__PROM_SECONDS_MAX + 1);
        if (p == NULL)
            break;
        p = gw__prom_series_to(p, seconds, sizeof seconds - 1, "", 0, lbl, llen);
        p = gw__prom_seconds_to(p, gw_metrics_total_row(t, GW_MX_TARGET, i)[GW_MX_T_TRY_NS]);
        *p++ = '\n';
        gw__prom_commit(o, p);
    }
}
