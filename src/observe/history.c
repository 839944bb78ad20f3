/*
 * 15 minutes of totals for the dashboard's charts (see history.h).
 */
#include "observe/history.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config-t.h"
#include "control/snapshot-t.h"
#include "metrics/hub.h"
#include "metrics/metrics.h"
#include "runtime/server-t.h"

struct sample {
    uint64_t time_ms;
    uint64_t requests;
    double rate, error_rate;
    double p50, p95, p99; /* ms; < 0 when the interval had no request */
    uint64_t connections;
};

struct gw_observe_history {
    bool primed;
    uint64_t prev_ms; /* monotonic */
    uint64_t prev_req, prev_err;
    struct gw_hist_sum prev; /* every route's histogram at the previous tick */
    struct gw_hist_sum cur, row;
    struct sample ring[GW_OBSERVE_HISTORY_SAMPLES];
    size_t head, count;
};

struct gw_observe_history *gw_observe_history_new(void)
{
    return calloc(1, sizeof(struct gw_observe_history));
}

void gw_observe_history_free(struct gw_observe_history *h)
{
    free(h);
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void gw_observe_history_tick(struct gw_server *s)
{
    struct gw_observe_history *h = s->history;
    struct gw_metrics_total t;
    if (h == NULL || s->metrics == NULL || s->snap == NULL || s->snap->metrics == NULL ||
        !s->snap->cfg->admin.dashboard || gw_metrics_hub_total(s->metrics, &t) != 0)
        return;
    uint64_t req = 0, err = 0;
    memset(&h->cur, 0, sizeof h->cur);
    for (size_t r = 0; r < t.layout->nrows[GW_MX_ROUTE]; r++) {
        const uint64_t *row = gw_metrics_total_row(&t, GW_MX_ROUTE, r);
        for (unsigned m = 0; m < GW_MX_METHODS; m++) {
            for (unsigned k = 0; k < GW_MX_CODES; k++) {
                uint64_t v = row[GW_MX_R_REQ_AT(m, k)];
                req += v;
                if (gw_mx_code_class(k)[0] == '5')
                    err += v;
            }
        }
        gw_metrics_total_hist(&t, r, &h->row);
        gw_hist_sum_add(&h->cur, &h->row);
    }
    uint64_t now = uv_hrtime() / 1000000;
    if (h->primed && now > h->prev_ms) {
        /* Counters never go backwards, but the rows of a service removed by a reload leave the
         * total: such an interval counts from zero rather than below it. */
        uint64_t dreq = req >= h->prev_req ? req - h->prev_req : 0;
        uint64_t derr = err >= h->prev_err ? err - h->prev_err : 0;
        struct gw_hist_sum *d = &h->row; /* reused as the interval's histogram */
        memset(d, 0, sizeof *d);
        for (unsigned i = 0; i < GW_HIST_BUCKETS; i++) {
            d->b[i] = h->cur.b[i] >= h->prev.b[i] ? h->cur.b[i] - h->prev.b[i] : 0;
            d->count += d->b[i];
        }
        d->used = h->cur.used | h->prev.used;
        struct sample *sm = &h->ring[h->head];
        sm->time_ms = wall_ms();
        sm->requests = dreq;
        sm->rate = (double)dreq * 1000.0 / (double)(now - h->prev_ms);
        sm->error_rate = dreq ? (double)derr / (double)dreq : 0;
        sm->p50 = d->count ? gw_hist_quantile(d, 0.50) / 1e6 : -1;
        sm->p95 = d->count ? gw_hist_quantile(d, 0.95) / 1e6 : -1;
        sm->p99 = d->count ? gw_hist_quantile(d, 0.99) / 1e6 : -1;
        sm->connections = atomic_load(&s->nconns);
        h->head = (h->head + 1) % GW_OBSERVE_HISTORY_SAMPLES;
        if (h->count < GW_OBSERVE_HISTORY_SAMPLES)
            h->count++;
    }
    h->primed = true;
    h->prev_ms = now;
    h->prev_req = req;
    h->prev_err = err;
    memcpy(&h->prev, &h->cur, sizeof h->prev);
}

static json_t *ms_or_null(double v)
{
    return v < 0 ? json_null() : json_real(v);
}

json_t *gw_observe_history_json(struct gw_server *s)
{
    struct gw_observe_history *h = s->history;
    json_t *a = json_array();
    size_t n = h ? h->count : 0;
    size_t start = h ? (h->head + GW_OBSERVE_HISTORY_SAMPLES - n) % GW_OBSERVE_HISTORY_SAMPLES : 0;
    for (size_t i = 0; a && i < n; i++) {
        const struct sample *sm = &h->ring[(start + i) % GW_OBSERVE_HISTORY_SAMPLES];
        json_array_append_new(
            a, json_pack("{s:I, s:I, s:f, s:f, s:o, s:o, s:o, s:I}", "time_ms",
                         (json_int_t)sm->time_ms, "requests", (json_int_t)sm->requests,
                         "rate_per_second", sm->rate, "error_rate", sm->error_rate, "p50_ms",
                         ms_or_null(sm->p50), "p95_ms", ms_or_null(sm->p95), "p99_ms",
                         ms_or_null(sm->p99), "connections", (json_int_t)sm->connections));
    }
    if (a == NULL)
        return NULL;
    return json_pack("{s:i, s:o}", "interval_seconds", GW_METRICS_TICK_MS / 1000, "samples", a);
}
