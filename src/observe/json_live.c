/*
 * The parts of the JSON view (gw_observe_json) beyond requests and latency, so that it holds
 * what the Prometheus exposition holds: per service its targets' live states (taking traffic,
 * health check verdict, ejection, circuits), its own circuit and objectives, consumers, token
 * caches, response cache and policy stage latency; and for the process its connections by
 * worker (TLS, HTTP/2), HTTP/2 protections, tunnels, the shared Redis clients, the trace
 * exporter, the audit log, the cache's store, the hub, revocations and the metrics' own memory.
 * README "Observability" has the table of keys.
 */
#include <math.h>
#include <string.h>

#include "audit/audit.h"
#include "cache/store.h"
#include "control/snapshot-t.h"
#include "hub/hub.h"
#include "metrics/hub.h"
#include "observe/internal.h"
#include "policy/cache_redis.h"
#include "policy/chain.h"
#include "policy/policy.h"
#include "runtime/server-t.h"
#include "runtime/worker-t.h"
#include "state/redis_stats.h"
#include "state/revoked.h"
#include "trace/exporter.h"
#include "upstream/breaker.h"
#include "upstream/target_state.h"

json_t *gw__observe_real(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *u64(uint64_t v)
{
    return json_integer((json_int_t)v);
}

/* {"state", "open", "openings", "transitions": {"open", "half_open", "closed"}} of a circuit. */
static json_t *circuit_json(const struct gw_breaker *b, uint64_t now)
{
    static const char *const names[] = {"closed", "open", "half_open"};
    struct gw_breaker_stats st;
    gw_breaker_stats(b, now, &st);
    unsigned k = (unsigned)st.state;
    return json_pack("{s:s, s:b, s:o, s:{s:o, s:o, s:o}}", "state", k < 3 ? names[k] : "unknown",
                     "open", st.state != GW_BREAKER_CLOSED, "openings", u64(st.times_opened),
                     "transitions", "open", u64(st.times_opened), "half_open",
                     u64(st.times_half_opened), "closed", u64(st.times_closed));
}

static const struct gw_service *service_named(const struct gw_snapshot *snap, const char *name)
{
    for (size_t i = 0; snap && i < snap->nservices; i++)
        if (strcmp(snap->services[i].conf->name, name) == 0)
            return &snap->services[i];
    return NULL;
}

/* The live state of target k of svc set on o. */
static void target_state_json(const struct gw_service *svc, size_t k, uint64_t now, json_t *o)
{
    const struct gw_target *tg = &svc->targets[k];
    json_object_set_new(o, "up", json_boolean(gw__observe_target_usable(svc, k, now)));
    json_t *health = json_null(), *ejected = json_null();
    if (tg->state) {
        struct gw_target_state_info info;
        gw_target_state_info(tg->state, &info);
        health = json_string(info.health == GW_HEALTH_UP     ? "up"
                             : info.health == GW_HEALTH_DOWN ? "down"
                                                             : "unknown");
        ejected = json_boolean(info.ejected_until_ms > now);
    }
    json_object_set_new(o, "health_check", health);
    json_object_set_new(o, "ejected", ejected);
    json_object_set_new(o, "circuit", tg->breaker ? circuit_json(tg->breaker, now) : json_null());
}

void gw__observe_service_live_json(struct gw_server *s, const char *name, json_t *o)
{
    const struct gw_service *svc = service_named(s->snap, name);
    if (svc == NULL || o == NULL)
        return;
    uint64_t now = uv_hrtime() / 1000000;
    struct gw__observe_targets st;
    gw__observe_service_targets(svc, now, &st);
    json_object_set_new(o, "target_count", u64(svc->ntargets));
    json_object_set_new(o, "healthy_targets", u64(st.usable));
    json_object_set_new(o, "circuit",
                        svc->breaker_on ? circuit_json(&svc->live->breaker, now) : json_null());
    json_object_set_new(o, "slo",
                        json_pack("{s:o, s:o}", "latency_p99_ms",
                                  u64(svc->conf->slo_latency_p99_ms), "error_rate",
                                  gw__observe_real(svc->conf->slo_error_rate)));
    json_t *targets = json_object_get(o, "targets"), *e;
    size_t i;
    if (!json_is_array(targets)) {
        /* metrics are off: the live states alone */
        targets = json_array();
        for (size_t k = 0; targets && k < svc->ntargets; k++)
            json_array_append_new(targets, json_pack("{s:s}", "target", svc->targets[k].key));
        json_object_set_new(o, "targets", targets);
    }
    json_array_foreach(targets, i, e)
    {
        const char *key = json_string_value(json_object_get(e, "target"));
        for (size_t k = 0; key && k < svc->ntargets; k++)
            if (strcmp(svc->targets[k].key, key) == 0)
                target_state_json(svc, k, now, e);
    }
}

void gw__observe_service_counts_json(const struct gw_metrics_total *t, size_t row, json_t *o)
{
    const struct gw_metrics_layout *l = t->layout;
    const struct gw_mx_service_layout *sl = &l->svc[row];
    const uint64_t *srow = gw_metrics_total_row(t, GW_MX_SERVICE, row);
    json_object_set_new(o, "token_cache",
                        json_pack("{s:{s:o, s:o}, s:{s:o, s:o}}", "jwt", "hit",
                                  u64(srow[GW_MX_S_TCACHE]), "miss", u64(srow[GW_MX_S_TCACHE + 1]),
                                  "introspection", "hit", u64(srow[GW_MX_S_TCACHE + 2]), "miss",
                                  u64(srow[GW_MX_S_TCACHE + 3])));
    json_object_set_new(o, "cache", gw__observe_service_cache_json(srow));
    /* consumers: {id: {class: n}}, the overflow row last as "other" (a consumer whose id is
     * "other" is counted with it, as in the exposition) */
    static const char *const cls[GW_MX_C_WORDS] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
    json_t *consumers = sl->consumer_base == UINT32_MAX ? json_null() : json_object();
    for (uint32_t r = 0; json_is_object(consumers) && r < sl->nconsumers; r++) {
        const char *id = gw__observe_key_part(l->keys[GW_MX_CONSUMER][sl->consumer_base + r], 1);
        if (id[0] == '\x01')
            id++;
        json_t *c = json_object_get(consumers, id);
        if (c == NULL) {
            c = json_object();
            json_object_set_new(consumers, id, c);
        }
        const uint64_t *crow = gw_metrics_total_row(t, GW_MX_CONSUMER, sl->consumer_base + r);
        for (unsigned k = 0; c && k < GW_MX_C_WORDS; k++) {
            json_t *was = json_object_get(c, cls[k]);
            uint64_t v = crow[k] + (was ? (uint64_t)json_integer_value(was) : 0);
            if (v)
                json_object_set_new(c, cls[k], u64(v));
        }
    }
    json_object_set_new(o, "consumers", consumers ? consumers : json_null());
    /* policy stages: {stage: latency}, the stages that ran */
    json_t *stages = json_object();
    static struct gw_hist_sum h;
    for (unsigned k = 0; stages && k < 32; k++) {
        if (!(sl->stages & (1u << k)))
            continue;
        uint32_t hrow =
            sl->hist_stage_base + (uint32_t)__builtin_popcount(sl->stages & ((1u << k) - 1));
        gw_metrics_total_hist(t, hrow, &h);
        const char *name = gw_policy_stage_name(k);
        if (h.count && name)
            json_object_set_new(stages, name, gw__observe_latency_json(&h));
    }
    json_object_set_new(o, "policy_ms", stages ? stages : json_null());
}

/* ---- the process ---------------------------------------------------------------------------- */

static json_t *worker_json(const struct gw_mx_worker *m, unsigned i)
{
    uint64_t opened = gw_mx_get(&m->up_opened), closed = gw_mx_get(&m->up_closed);
    json_t *o = json_pack("{s:i, s:o, s:o, s:o, s:o, s:o}", "worker", (int)i, "client_connections",
                          u64(gw_mx_get(&m->active)), "client_connections_total",
                          u64(gw_mx_get(&m->accepted)), "upstream_connections",
                          u64(opened >= closed ? opened - closed : 0), "upstream_connections_total",
                          u64(opened), "upstream_connection_reuses", u64(gw_mx_get(&m->up_reused)));
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "tls",
                        json_pack("{s:o, s:o, s:o}", "handshakes",
                                  u64(gw_mx_get(&m->tls_handshakes)), "resumed",
                                  u64(gw_mx_get(&m->tls_resumed)), "handshake_failures",
                                  u64(gw_mx_get(&m->tls_failures))));
    json_object_set_new(o, "upstream_tls",
                        json_pack("{s:o, s:o, s:o}", "handshakes",
                                  u64(gw_mx_get(&m->up_tls_handshakes)), "resumed",
                                  u64(gw_mx_get(&m->up_tls_resumed)), "handshake_failures",
                                  u64(gw_mx_get(&m->up_tls_failures))));
    json_object_set_new(o, "http2",
                        json_pack("{s:o, s:o}", "connections", u64(gw_mx_get(&m->h2_conns)),
                                  "streams", u64(gw_mx_get(&m->h2_events[0]))));
    return o;
}

static json_t *workers_json(struct gw_server *s)
{
    static const char *const kinds[] = {"rapid_reset",      "control_flood",  "continuation_flood",
                                        "header_list",      "protocol_error", "client_reset",
                                        "body_timeout",     "send_timeout",   "provoked_reset",
                                        "empty_frame_flood"};
    json_t *workers = json_array(), *refused = json_object();
    uint64_t ref[sizeof kinds / sizeof kinds[0]] = {0};
    for (unsigned i = 0; workers && i < s->nworkers; i++) {
        json_array_append_new(workers, worker_json(&s->workers[i].mx, i));
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
            ref[k] += gw_mx_get(&s->workers[i].mx.h2_events[k + 1]);
    }
    for (size_t k = 0; refused && k < sizeof kinds / sizeof kinds[0]; k++)
        json_object_set_new(refused, kinds[k], u64(ref[k]));
    return json_pack("{s:o, s:o}", "workers", workers ? workers : json_null(), "http2_refused",
                     refused ? refused : json_null());
}

static json_t *tunnels_json(struct gw_server *s)
{
    uint64_t v[6] = {0};
    for (unsigned i = 0; i < s->nworkers; i++) {
        const struct gw_mx_worker *m = &s->workers[i].mx;
        v[0] += gw_mx_get(&m->tun_open);
        v[1] += gw_mx_get(&m->tun_total);
        v[2] += gw_mx_get(&m->tun_bytes_in);
        v[3] += gw_mx_get(&m->tun_bytes_out);
        v[4] += gw_mx_get(&m->tun_dur_ms);
        for (size_t b = 0; b < GW_MX_TUNNEL_BUCKETS; b++)
            v[5] += gw_mx_get(&m->tun_dur[b]);
    }
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "open", u64(v[0]), "total", u64(v[1]),
                     "bytes_in", u64(v[2]), "bytes_out", u64(v[3]), "closed", u64(v[5]),
                     "mean_duration_ms",
                     v[5] ? gw__observe_real((double)v[4] / (double)v[5]) : json_null());
}

static uint64_t ld(_Atomic uint64_t *p)
{
    return atomic_load_explicit(p, memory_order_relaxed);
}

/* [{"use", "up", "clients_up", "connects", "disconnects", "commands", "errors": {kind: n},
 * "latency_ms"}] of every configured use of Redis. */
static json_t *redis_json(struct gw_server *s, const struct gw_metrics_total *t)
{
    struct gw__observe_redis rl;
    bool rl_on = gw__observe_redis(s, &rl);
    json_t *uses = json_array();
    for (size_t i = 0; uses && i < gw_redis_stats_count(); i++) {
        struct gw_redis_stats *st = gw_redis_stats_at(i);
        bool is_rl = strcmp(st->use, "ratelimit") == 0;
        uint64_t clients = ld(&st->clients), up = ld(&st->clients_up);
        if (is_rl ? !rl_on : clients == 0)
            continue;
        json_t *lat;
        if (is_rl) {
            static struct gw_hist_sum h;
            memset(&h, 0, sizeof h);
            if (t)
                gw_metrics_total_hist(t, t->layout->hist_redis, &h);
            lat = gw__observe_latency_json(&h);
        } else {
            uint64_t n = ld(&st->lat_count);
            lat = json_pack("{s:o, s:o}", "count", u64(n), "mean",
                            n ? gw__observe_real((double)ld(&st->lat_sum_ns) / 1e6 / (double)n)
                              : json_null());
        }
        json_array_append_new(
            uses, json_pack("{s:s, s:b, s:o, s:o, s:o, s:o, s:{s:o, s:o, s:o}, s:o}", "use",
                            st->use, "up", is_rl ? rl.up : up == clients, "clients_up",
                            u64(is_rl ? rl.clients_up : up), "connects", u64(ld(&st->connects)),
                            "disconnects", u64(ld(&st->disconnects)), "commands",
                            u64(is_rl ? rl.calls : ld(&st->commands)), "errors", "error",
                            u64(is_rl ? rl.errors : ld(&st->errors)), "timeout",
                            u64(is_rl ? rl.timeouts : ld(&st->timeouts)), "unavailable",
                            u64(is_rl ? rl.unavailable : ld(&st->unavailable)), "latency_ms", lat));
    }
    return uses ? uses : json_null();
}

static json_t *tracing_json(struct gw_server *s)
{
    if (s->snap == NULL || !s->snap->cfg->tracing.enabled || s->tracer == NULL)
        return json_null();
    struct gw_tracer_stats st;
    gw_tracer_stats(s->tracer, &st);
    return json_pack("{s:{s:o, s:o, s:o}, s:o, s:{s:o, s:o}, s:o}", "spans", "exported",
                     u64(st.exported), "failed", u64(st.failed), "dropped", u64(st.dropped),
                     "queued_traces", u64(st.queued), "exports", "ok", u64(st.exports_ok), "failed",
                     u64(st.exports_failed), "export_retries", u64(st.exports_retried));
}

static json_t *audit_json(void)
{
    struct gw_audit_stats st;
    gw_audit_get_stats(&st);
    if (!st.enabled)
        return json_null();
    json_t *o = json_pack("{s:o, s:o}", "entries", u64(st.entries), "dropped", u64(st.dropped));
    if (o && st.pg_configured)
        json_object_set_new(o, "postgres",
                            json_pack("{s:b, s:o, s:o, s:o}", "up", st.pg_up, "pending",
                                      u64(st.pg_pending), "written", u64(st.pg_written), "dropped",
                                      u64(st.pg_dropped)));
    return o;
}

static json_t *cache_store_json(struct gw_server *s)
{
    struct gw_cache_store *store = s->policy ? s->policy->cache_store : NULL;
    if (store == NULL)
        return json_null();
    struct gw_cache_store_stats st;
    gw_cache_store_stats(store, &st);
    json_t *o = json_pack("{s:o, s:o, s:o, s:o, s:o}", "objects", u64(st.objects), "bytes",
                          u64(st.bytes), "max_bytes", u64(gw_cache_store_max_bytes(store)),
                          "evictions", u64(st.evictions), "purged", u64(st.purged));
    if (o && s->cache_redis) {
        struct gw_cache_redis_stats rs;
        gw_cache_redis_stats(&rs);
        json_object_set_new(o, "redis",
                            json_pack("{s:b, s:o, s:{s:o, s:o}, s:o}", "up", rs.up == rs.clients,
                                      "errors", u64(rs.errors), "lookups", "found", u64(rs.found),
                                      "not_found",
                                      u64(rs.lookups > rs.found ? rs.lookups - rs.found : 0),
                                      "stores", u64(rs.stores)));
    }
    return o;
}

static json_t *hub_json(struct gw_server *s)
{
    if (s->hub == NULL)
        return json_null();
    struct gw_hub_stats st;
    gw_hub_get_stats(s->hub, &st);
    return json_pack("{s:o, s:o, s:o, s:o, s:o}", "connections", u64(st.connections), "published",
                     u64(st.published), "delivered", u64(st.delivered), "slow_consumers",
                     u64(st.slow_cut), "redis_local_deliveries",
                     st.redis_backend ? u64(st.redis_local) : json_null());
}

static json_t *revocations_json(struct gw_server *s)
{
    if (s->snap == NULL || !s->snap->cfg->identity.enabled)
        return json_null();
    struct gw_revoked_stats st;
    gw_revoked_stats(&st);
    json_t *o = json_pack("{s:o}", "entries", u64(st.entries));
    if (o && s->snap->cfg->identity.revocation_backend == GW_IDP_REVOKE_REDIS)
        json_object_set_new(o, "redis",
                            json_pack("{s:b, s:{s:o, s:o}}", "synced", st.doubt == GW_REVOKED_SURE,
                                      "fallbacks", "local", u64(st.doubt_local), "refused",
                                      u64(st.doubt_refused)));
    return o;
}

void gw__observe_process_json(struct gw_server *s, const struct gw_metrics_total *t, json_t *root)
{
    json_t *w = workers_json(s);
    json_object_set(root, "workers", json_object_get(w, "workers"));
    json_object_set(root, "http2_refused", json_object_get(w, "http2_refused"));
    json_decref(w);
    json_object_set_new(root, "tunnels", tunnels_json(s));
    json_object_set_new(root, "redis", redis_json(s, t));
    json_object_set_new(root, "tracing", tracing_json(s));
    json_object_set_new(root, "audit", audit_json());
    json_object_set_new(root, "cache_store", cache_store_json(s));
    json_object_set_new(root, "hub", hub_json(s));
    json_object_set_new(root, "revocations", revocations_json(s));
    size_t sets = 0, bytes = 0;
    if (s->metrics)
        gw_metrics_hub_usage(s->metrics, &sets, &bytes);
    json_object_set_new(root, "metrics",
                        json_pack("{s:o, s:o}", "memory_bytes", u64(bytes), "sets", u64(sets)));
}
