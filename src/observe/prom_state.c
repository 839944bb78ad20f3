/*
 * The Prometheus families of shared state: every shared Redis client by use (state, commands,
 * errors, round trips), built-in identity's revocations and the WebSocket hub.
 */
#include <string.h>

#include "control/snapshot-t.h"
#include "hub/hub.h"
#include "metrics/hub.h"
#include "observe/internal.h"
#include "runtime/server-t.h"
#include "state/redis_stats.h"
#include "state/revoked.h"

static uint64_t ld(_Atomic uint64_t *p)
{
    return atomic_load_explicit(p, memory_order_relaxed);
}

/* The families of gw__prom_redis: five with one sample per use, then the errors by kind. */
#define GW__REDIS_FAMILIES 6

_Static_assert(GW_REDIS_LAT_BUCKETS == GW__PROM_NLE,
               "a Redis client's buckets are the exported bounds");

/* The round trips of one use's clients, from their fixed buckets (state/redis_stats.h). */
static void redis_latency(struct gw__prom *o, const char *labels, struct gw_redis_stats *st)
{
    uint64_t n = ld(&st->lat_count), cum = 0;
    if (n == 0)
        return;
    for (size_t i = 0; i <= GW__PROM_NLE; i++) {
        cum += ld(&st->lat[i]);
        gw__prom_puts(o, "gantry_redis_command_duration_seconds_bucket{");
        gw__prom_puts(o, labels);
        gw__prom_puts(o, ",le=\"");
        gw__prom_puts(o, i < GW__PROM_NLE ? gw__prom_le_text[i] : "+Inf");
        gw__prom_puts(o, "\"} ");
        gw__prom_put_u64(o, i < GW__PROM_NLE ? cum : n);
        gw__prom_put(o, "\n", 1);
    }
    gw__prom_puts(o, "gantry_redis_command_duration_seconds_sum{");
    gw__prom_puts(o, labels);
    gw__prom_puts(o, "} ");
    gw__prom_put_seconds(o, ld(&st->lat_sum_ns));
    gw__prom_puts(o, "\ngantry_redis_command_duration_seconds_count{");
    gw__prom_puts(o, labels);
    gw__prom_puts(o, "} ");
    gw__prom_put_u64(o, n);
    gw__prom_put(o, "\n", 1);
}

/* One use's values, read once per scrape. */
struct redis_use_now {
    const char *use;
    uint64_t v[GW__REDIS_FAMILIES + 2]; /* up, clients up, connects, disconnects, commands, the
                                           three kinds of errors */
};

/* Every shared Redis client by use (ratelimit, registration, revocations, hub, ...): samples
 * for the uses that have a client now. The rate limits' up and counts are their backend's own
 * (a decision, not a command), the others' their clients'. Each use is read once, then each
 * family written as one group (text format 0.0.4). */
void gw__prom_redis(struct gw__prom *o, struct gw_server *s)
{
    static const struct {
        const char *name, *type, *help;
    } fam[GW__REDIS_FAMILIES] = {
        {"gantry_redis_up", "gauge",
         "1 when every Redis client of a use (ratelimit, registration, revocations, hub) is "
         "connected, else 0; only for the uses configured with Redis."},
        {"gantry_redis_clients_up", "gauge",
         "Redis clients of a use that are connected (ratelimit: one per worker)."},
        {"gantry_redis_connects_total", "counter",
         "Redis connections made by a use's clients: the first and every reconnect."},
        {"gantry_redis_disconnects_total", "counter",
         "Redis connections a use's clients lost after they were up."},
        {"gantry_redis_commands_total", "counter",
         "Commands sent to Redis by use (ratelimit: script calls)."},
        {"gantry_redis_command_errors_total", "counter",
         "Redis commands that failed, by use and kind (error, timeout, unavailable)."},
    };
    static const char *const kinds[] = {"error", "timeout", "unavailable"};
    struct redis_use_now now[GW_REDIS_USES_MAX];
    struct gw__observe_redis r;
    bool rl = gw__observe_redis(s, &r);
    size_t n = 0;
    for (size_t i = 0; i < gw_redis_stats_count() && n < GW_REDIS_USES_MAX; i++) {
        struct gw_redis_stats *st = gw_redis_stats_at(i);
        bool is_rl = strcmp(st->use, "ratelimit") == 0;
        uint64_t clients = ld(&st->clients), up = ld(&st->clients_up);
        if (is_rl ? !rl : clients == 0)
            continue;
        struct redis_use_now *u = &now[n++];
        u->use = st->use;
        uint64_t v[] = {is_rl ? r.up : up == clients,
                        is_rl ? r.clients_up : up,
                        ld(&st->connects),
                        ld(&st->disconnects),
                        is_rl ? r.calls : ld(&st->commands),
                        is_rl ? r.errors : ld(&st->errors),
                        is_rl ? r.timeouts : ld(&st->timeouts),
                        is_rl ? r.unavailable : ld(&st->unavailable)};
        _Static_assert(sizeof v == sizeof u->v, "one value per sample");
        memcpy(u->v, v, sizeof v);
    }
    for (size_t f = 0; f < GW__REDIS_FAMILIES; f++) {
        gw__prom_family(o, fam[f].name, fam[f].type, fam[f].help);
        for (size_t i = 0; i < n; i++) {
            struct gw__prom_labels lb;
            gw__prom_lbl_reset(&lb);
            gw__prom_lbl_add(&lb, "use", now[i].use);
            if (f + 1 < GW__REDIS_FAMILIES) {
                gw__prom_sample_u64(o, fam[f].name, lb.s, now[i].v[f]);
                continue;
            }
            for (size_t k = 0; k < 3; k++) {
                struct gw__prom_labels kl = lb;
                gw__prom_lbl_add(&kl, "kind", kinds[k]);
                gw__prom_sample_u64(o, fam[f].name, kl.s, now[i].v[f + k]);
            }
        }
    }
}

/* Command round trips by use: the rate limits' from the workers' histograms (a decision's
 * round trip, t: NULL when there are no request metrics), the other uses' from their clients'
 * buckets. */
void gw__prom_redis_latency(struct gw__prom *o, const struct gw_metrics_total *t)
{
    struct gw__prom_labels lb;
    gw__prom_family(o, "gantry_redis_command_duration_seconds", "histogram",
                    "Round trip of a command sent to Redis, by use (for ratelimit: a decision's).");
    if (t != NULL) {
        struct gw_hist_sum h;
        gw_metrics_total_hist(t, t->layout->hist_redis, &h);
        gw__prom_histogram(o, "gantry_redis_command_duration_seconds", "use=\"ratelimit\"", &h);
    }
    for (size_t i = 0; i < gw_redis_stats_count(); i++) {
        struct gw_redis_stats *st = gw_redis_stats_at(i);
        if (strcmp(st->use, "ratelimit") == 0 || ld(&st->clients) == 0)
            continue;
        gw__prom_lbl_reset(&lb);
        gw__prom_lbl_add(&lb, "use", st->use);
        redis_latency(o, lb.s, st);
    }
}
/* Built-in identity's revoked set (state/revoked.h), when identity runs. */
void gw__prom_revocations(struct gw__prom *o, struct gw_server *s)
{
    if (s->snap == NULL || !s->snap->cfg->identity.enabled)
        return;
    struct gw_revoked_stats st;
    gw_revoked_stats(&st);
    gw__prom_family(o, "gantry_revocations", "gauge",
                    "Revoked access tokens and sessions this instance holds (until they expire).");
    gw__prom_sample_u64(o, "gantry_revocations", "", st.entries);
    if (s->snap->cfg->identity.revocation_backend != GW_IDP_REVOKE_REDIS)
        return;
    gw__prom_family(o, "gantry_revocations_redis_synced", "gauge",
                    "1 when the set holds what Redis holds (connected, subscribed, read).");
    gw__prom_sample_u64(o, "gantry_revocations_redis_synced", "", st.doubt == GW_REVOKED_SURE);
    gw__prom_family(o, "gantry_revocations_redis_fallbacks_total", "counter",
                    "Token checks made while the set was not in sync with Redis, by what "
                    "identity.revocation.failure_policy did: local (the set decided) or refused "
                    "(503).");
    gw__prom_sample_u64(o, "gantry_revocations_redis_fallbacks_total", "outcome=\"local\"",
                        st.doubt_local);
    gw__prom_sample_u64(o, "gantry_revocations_redis_fallbacks_total", "outcome=\"refused\"",
                        st.doubt_refused);
}

/* The WebSocket hub (hub/hub.h), when it runs; its Redis backend's state with backend redis. */
void gw__prom_hub(struct gw__prom *o, struct gw_server *s)
{
    if (s->hub == NULL)
        return;
    struct gw_hub_stats st;
    gw_hub_get_stats(s->hub, &st);
    gw__prom_family(o, "gantry_hub_connections", "gauge", "Open WebSocket hub connections.");
    gw__prom_sample_u64(o, "gantry_hub_connections", "", st.connections);
    gw__prom_family(o, "gantry_hub_messages_published_total", "counter",
                    "Messages published through this instance (admin API and clients).");
    gw__prom_sample_u64(o, "gantry_hub_messages_published_total", "", st.published);
    gw__prom_family(o, "gantry_hub_messages_delivered_total", "counter",
                    "Messages handed to a client of this instance.");
    gw__prom_sample_u64(o, "gantry_hub_messages_delivered_total", "", st.delivered);
    gw__prom_family(o, "gantry_hub_slow_consumers_total", "counter",
                    "Clients cut (close 1013) because their send queue passed hub.max_queue.");
    gw__prom_sample_u64(o, "gantry_hub_slow_consumers_total", "", st.slow_cut);
    if (!st.redis_backend)
        return;
    /* Its state and reconnects: gantry_redis_up and gantry_redis_connects_total, use="hub". */
    gw__prom_family(
        o, "gantry_hub_redis_local_deliveries_total", "counter",
        "Messages delivered to this instance's clients only, because Redis could not take "
        "them.");
    gw__prom_sample_u64(o, "gantry_hub_redis_local_deliveries_total", "", st.redis_local);
}
