/*
 * The Prometheus families of the policy stages: authentication outcomes, response cache results
 * and token caches per service, the time each stage takes to decide, rate-limit decisions, and
 * the cache's store.
 */
#include <string.h>

#include "cache/store.h"
#include "metrics/hub.h"
#include "observe/internal.h"
#include "policy/cache_redis.h"
#include "policy/policy.h"
#include "runtime/server-t.h"

void gw__prom_policy_counts(struct gw__prom *o, const struct gw_metrics_total *t)
{
    const struct gw_metrics_layout *l = t->layout;
    struct gw__prom_labels lb;
    gw__prom_family(
        o, "gantry_auth_requests_total", "counter",
        "Authentication outcomes by service and credential method: result ok, forbidden "
        "(403), unauthorized (401, with its reason) or error (no verdict: reason "
        "introspection_failed, the introspection endpoint failed).");
    for (size_t i = 0; i < l->nrows[GW_MX_SERVICE]; i++) {
        const uint64_t *row = gw_metrics_total_row(t, GW_MX_SERVICE, i);
        for (unsigned m = 0; m < GW_MX_AUTH_METHODS; m++) {
            for (unsigned c = 0; c < GW_MX_AUTH_OUTCOMES; c++) {
                uint64_t v = row[GW_MX_S_AUTH + m * GW_MX_AUTH_OUTCOMES + c];
                if (v == 0)
                    continue;
                gw__prom_lbl_reset(&lb);
                gw__prom_lbl_add(&lb, "service",
                                 gw__observe_key_part(l->keys[GW_MX_SERVICE][i], 0));
                gw__prom_lbl_add(&lb, "method", gw_mx_auth_method_name(m));
                gw__prom_lbl_add(&lb, "result",
                                 c == GW_MX_AUTH_OK          ? "ok"
                                 : c == GW_MX_AUTH_FORBIDDEN ? "forbidden"
                                 : gw_mx_auth_is_401(c)      ? "unauthorized"
                                                             : "error");
                gw__prom_lbl_add(&lb, "reason",
                                 c <= GW_MX_AUTH_FORBIDDEN ? "" : gw_mx_auth_outcome_name(c));
                gw__prom_sample_u64(o, "gantry_auth_requests_total", lb.s, v);
            }
        }
    }
    static const char *const cache_result[] = {"hit", "miss", "stale", "expired", "bypass"};
    gw__prom_family(
        o, "gantry_cache_requests_total", "counter",
        "Requests to services with the response cache, by result: hit (fresh, 304 included), "
        "miss, stale (max-stale, stale-if-error), expired (stored but refetched), bypass.");
    for (size_t i = 0; i < l->nrows[GW_MX_SERVICE]; i++) {
        const uint64_t *row = gw_metrics_total_row(t, GW_MX_SERVICE, i);
        for (unsigned c = 0; c < 5; c++) {
            if (row[GW_MX_S_CACHE + c] == 0)
                continue;
            gw__prom_lbl_reset(&lb);
            gw__prom_lbl_add(&lb, "service", gw__observe_key_part(l->keys[GW_MX_SERVICE][i], 0));
            gw__prom_lbl_add(&lb, "result", cache_result[c]);
            gw__prom_sample_u64(o, "gantry_cache_requests_total", lb.s, row[GW_MX_S_CACHE + c]);
        }
    }
    static const struct {
        const char *name, *help;
        unsigned word;
    } cache_svc[] = {
        {"gantry_cache_collapsed_total",
         "Requests that waited for another request's fill of the same key.", GW_MX_CACHE_COLLAPSED},
        {"gantry_cache_stored_total", "Responses stored.", GW_MX_CACHE_STORED},
        {"gantry_cache_revalidations_total",
         "Stale stored responses the origin validated with a 304 (and refreshed).",
         GW_MX_CACHE_REVALIDATED},
        {"gantry_cache_stored_bytes_total", "Body bytes of the responses stored.",
         GW_MX_CACHE_STORED_BYTES},
        {"gantry_cache_backend_errors_total",
         "Look-ups and purges the Redis backend did not answer (down, timed out, an error): "
         "the request went on as a miss.",
         GW_MX_CACHE_BACKEND_ERRORS},
    };
    for (size_t f = 0; f < sizeof cache_svc / sizeof cache_svc[0]; f++) {
        gw__prom_family(o, cache_svc[f].name, "counter", cache_svc[f].help);
        size_t nlen = strlen(cache_svc[f].name), llen;
        for (size_t i = 0; i < l->nrows[GW_MX_SERVICE]; i++) {
            const char *lbl = gw__prom_rows_get(&o->rows[GW_MX_SERVICE], i, &llen);
            gw__prom_line_u64(
                o, cache_svc[f].name, nlen, lbl, llen,
                gw_metrics_total_row(t, GW_MX_SERVICE, i)[GW_MX_S_CACHE + cache_svc[f].word]);
        }
    }
    gw__prom_family(
        o, "gantry_auth_token_cache_requests_total", "counter",
        "Look-ups in the verified-token caches, by cache (jwt, introspection) and result.");
    for (size_t i = 0; i < l->nrows[GW_MX_SERVICE]; i++) {
        const uint64_t *row = gw_metrics_total_row(t, GW_MX_SERVICE, i);
        for (unsigned c = 0; c < 4; c++) {
            uint64_t v = row[GW_MX_S_TCACHE + c];
            if (v == 0)
                continue;
            gw__prom_lbl_reset(&lb);
            gw__prom_lbl_add(&lb, "service", gw__observe_key_part(l->keys[GW_MX_SERVICE][i], 0));
            gw__prom_lbl_add(&lb, "cache", c < 2 ? "jwt" : "introspection");
            gw__prom_lbl_add(&lb, "result", c % 2 == 0 ? "hit" : "miss");
            gw__prom_sample_u64(o, "gantry_auth_token_cache_requests_total", lb.s, v);
        }
    }
}

void gw__prom_policy_latency(struct gw__prom *o, const struct gw_metrics_total *t)
{
    const struct gw_metrics_layout *l = t->layout;
    struct gw__prom_labels lb;
    static struct gw_hist_sum h;
    gw__prom_family(
        o, "gantry_policy_duration_seconds", "histogram",
        "Time a policy stage took to decide (rate limit, auth, ...), by service and stage.");
    for (size_t r = 0; r < l->nrows[GW_MX_HIST]; r++) {
        const char *key = l->keys[GW_MX_HIST][r];
        if (strcmp(gw__observe_key_part(key, 0), "stage") != 0)
            continue;
        gw_metrics_total_hist(t, r, &h);
        const char *stage = gw__observe_stage_name(gw__observe_key_part(key, 2));
        gw__prom_lbl_reset(&lb);
        gw__prom_lbl_add(&lb, "service", gw__observe_key_part(key, 1));
        gw__prom_lbl_add(&lb, "stage", stage);
        gw__prom_histogram(o, "gantry_policy_duration_seconds", lb.s, &h);
    }
}

void gw__prom_limits(struct gw__prom *o, const struct gw_metrics_total *t)
{
    const struct gw_metrics_layout *l = t->layout;
    struct gw__prom_labels lb;
    gw__prom_family(
        o, "gantry_ratelimit_decisions_total", "counter",
        "Rate-limit decisions per limit (scope: \"gateway\" or the service), allowed or "
        "limited.");
    for (size_t i = 0; i < l->nrows[GW_MX_LIMIT]; i++) {
        const uint64_t *row = gw_metrics_total_row(t, GW_MX_LIMIT, i);
        const char *key = l->keys[GW_MX_LIMIT][i];
        const char *scope = gw__observe_key_part(key, 0);
        for (int d = 0; d < 2; d++) {
            gw__prom_lbl_reset(&lb);
            gw__prom_lbl_add(&lb, "scope", scope[0] ? scope : "gateway");
            gw__prom_lbl_add(&lb, "limit", gw__observe_key_part(key, 1));
            gw__prom_lbl_add(&lb, "decision", d == 0 ? "allowed" : "limited");
            gw__prom_sample_u64(o, "gantry_ratelimit_decisions_total", lb.s,
                                row[d == 0 ? GW_MX_L_ALLOWED : GW_MX_L_LIMITED]);
        }
    }
    gw__prom_family(
        o, "gantry_ratelimit_redis_fallbacks_total", "counter",
        "Decisions Redis could not make, left to rate_limit.redis.failure_policy, per limit.");
    for (size_t i = 0; i < l->nrows[GW_MX_LIMIT]; i++) {
        const char *key = l->keys[GW_MX_LIMIT][i];
        const char *scope = gw__observe_key_part(key, 0);
        gw__prom_lbl_reset(&lb);
        gw__prom_lbl_add(&lb, "scope", scope[0] ? scope : "gateway");
        gw__prom_lbl_add(&lb, "limit", gw__observe_key_part(key, 1));
        gw__prom_sample_u64(o, "gantry_ratelimit_redis_fallbacks_total", lb.s,
                            gw_metrics_total_row(t, GW_MX_LIMIT, i)[GW_MX_L_FALLBACK]);
    }
}
/* The response cache's store, shared by every service (cache/store.h). */
void gw__prom_cache_store(struct gw__prom *o, struct gw_server *s)
{
    struct gw_cache_store *store = s->policy ? s->policy->cache_store : NULL;
    if (store == NULL)
        return;
    struct gw_cache_store_stats st;
    gw_cache_store_stats(store, &st);
    gw__prom_family(o, "gantry_cache_objects", "gauge", "Responses held by the cache's store.");
    gw__prom_sample_u64(o, "gantry_cache_objects", "", st.objects);
    gw__prom_family(
        o, "gantry_cache_bytes", "gauge",
        "Memory charged to the stored responses (bodies, heads, keys, a fixed overhead each).");
    gw__prom_sample_u64(o, "gantry_cache_bytes", "", st.bytes);
    gw__prom_family(o, "gantry_cache_max_bytes", "gauge",
                    "The store's bound (cache.memory.max_bytes).");
    gw__prom_sample_u64(o, "gantry_cache_max_bytes", "", gw_cache_store_max_bytes(store));
    gw__prom_family(o, "gantry_cache_evictions_total", "counter",
                    "Stored responses dropped to make room (segmented LRU).");
    gw__prom_sample_u64(o, "gantry_cache_evictions_total", "", st.evictions);
    gw__prom_family(o, "gantry_cache_purged_total", "counter",
                    "Stored responses purged or invalidated.");
    gw__prom_sample_u64(o, "gantry_cache_purged_total", "", st.purged);
    if (s->cache_redis == NULL)
        return;
    struct gw_cache_redis_stats rs;
    gw_cache_redis_stats(&rs);
    gw__prom_family(
        o, "gantry_cache_redis_up", "gauge",
        "1 when every Redis client of the cache's Redis backend (workers', control's) is "
        "connected, else 0.");
    gw__prom_sample_u64(o, "gantry_cache_redis_up", "", rs.up == rs.clients);
    gw__prom_family(o, "gantry_cache_redis_errors_total", "counter",
                    "Commands of the cache's Redis backend that failed (look-ups, stores, purges, "
                    "malformed entries), over every service.");
    gw__prom_sample_u64(o, "gantry_cache_redis_errors_total", "", rs.errors);
    gw__prom_family(o, "gantry_cache_redis_lookups_total", "counter",
                    "Look-ups sent to the cache's Redis backend, by result.");
    gw__prom_sample_u64(o, "gantry_cache_redis_lookups_total", "result=\"found\"", rs.found);
    gw__prom_sample_u64(o, "gantry_cache_redis_lookups_total", "result=\"not_found\"",
                        rs.lookups > rs.found ? rs.lookups - rs.found : 0);
    gw__prom_family(o, "gantry_cache_redis_stores_total", "counter",
                    "Entries the cache's Redis backend wrote.");
    gw__prom_sample_u64(o, "gantry_cache_redis_stores_total", "", rs.stores);
}
