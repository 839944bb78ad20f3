/*
 * The policy parts of /metrics/json: rate-limit decisions per limit, authentication outcomes
 * per service (the same counters as gantry_ratelimit_decisions_total and
 * gantry_auth_requests_total), for the dashboard and scripts that read JSON; and the response
 * cache's results per service for GET /api/cache (gantry_cache_requests_total's counters).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/snapshot-t.h"
#include "core/error.h"
#include "metrics/hub.h"
#include "metrics/metrics.h"
#include "metrics/topkeys.h"
#include "observe/internal.h"
#include "observe/observe.h"
#include "runtime/server-t.h"

/* Keys shown per limit. */
#define TOP_KEYS 10

json_t *gw__observe_limits_json(const struct gw_metrics_total *t, struct gw_topkeys *top)
{
    const struct gw_metrics_layout *l = t->layout;
    size_t cap = l->nrows[GW_MX_LIMIT] * TOP_KEYS;
    struct gw_topkeys_entry *te = top && cap ? malloc(cap * sizeof *te) : NULL;
    size_t nte = te ? gw_topkeys_read(top, TOP_KEYS, te, cap) : 0;
    json_t *a = json_array();
    for (size_t i = 0; a && i < l->nrows[GW_MX_LIMIT]; i++) {
        const uint64_t *row = gw_metrics_total_row(t, GW_MX_LIMIT, i);
        const char *key = l->keys[GW_MX_LIMIT][i];
        const char *scope = gw__observe_key_part(key, 0);
        const char *limit = gw__observe_key_part(key, 1);
        json_t *keys = json_array();
        for (size_t k = 0; keys && k < nte; k++) {
            if (strcmp(te[k].limit, key) == 0)
                json_array_append_new(keys, json_pack("{s:s, s:I, s:I}", "key", te[k].key, "count",
                                                      (json_int_t)te[k].count, "error",
                                                      (json_int_t)te[k].error));
        }
        json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:I, s:I, s:o*}", "scope",
                                           scope[0] ? scope : "gateway", "limit", limit, "allowed",
                                           (json_int_t)row[GW_MX_L_ALLOWED], "limited",
                                           (json_int_t)row[GW_MX_L_LIMITED], "redis_fallbacks",
                                           (json_int_t)row[GW_MX_L_FALLBACK], "top_keys", keys));
    }
    free(te);
    return a ? a : json_null();
}

json_t *gw__observe_auth_json(const struct gw_metrics_total *t, size_t service_row)
{
    const uint64_t *row = gw_metrics_total_row(t, GW_MX_SERVICE, service_row);
    json_t *o = json_object();
    for (unsigned m = 0; o && m < GW_MX_AUTH_METHODS; m++) {
        json_t *per = NULL;
        json_t *reasons = NULL;
        uint64_t unauthorized = 0;
        for (unsigned c = 0; c < GW_MX_AUTH_OUTCOMES; c++) {
            uint64_t v = row[GW_MX_S_AUTH + m * GW_MX_AUTH_OUTCOMES + c];
            if (v == 0)
                continue;
            if (per == NULL)
                per = json_pack("{s:I, s:I, s:I, s:I, s:o}", "ok", (json_int_t)0, "forbidden",
                                (json_int_t)0, "unauthorized", (json_int_t)0, "error",
                                (json_int_t)0, "reasons", json_object());
            if (per == NULL)
                break;
            reasons = json_object_get(per, "reasons");
            if (!gw_mx_auth_is_401(c)) {
                json_object_set_new(per,
                                    c == GW_MX_AUTH_OK          ? "ok"
                                    : c == GW_MX_AUTH_FORBIDDEN ? "forbidden"
                                                                : "error",
                                    json_integer((json_int_t)v));
            } else {
                unauthorized += v;
                json_object_set_new(reasons, gw_mx_auth_outcome_name(c),
                                    json_integer((json_int_t)v));
            }
        }
        if (per == NULL)
            continue;
        json_object_set_new(per, "unauthorized", json_integer((json_int_t)unauthorized));
        json_object_set_new(o, gw_mx_auth_method_name(m), per);
    }
    return o ? o : json_null();
}

/* Of a service row: hit, miss, stale, expired, bypass, collapsed, stored, revalidated. */
static const struct {
    const char *name;
    unsigned word;
} cache_words[] = {
    {"hit", GW_MX_CACHE_HIT},       {"miss", GW_MX_CACHE_MISS},
    {"stale", GW_MX_CACHE_STALE},   {"expired", GW_MX_CACHE_EXPIRED},
    {"bypass", GW_MX_CACHE_BYPASS}, {"collapsed", GW_MX_CACHE_COLLAPSED},
    {"stored", GW_MX_CACHE_STORED}, {"revalidated", GW_MX_CACHE_REVALIDATED},
};
#define NCACHE_WORDS (sizeof cache_words / sizeof cache_words[0])

/* The share of answers from the store: (hit + stale) / (hit + stale + miss + expired); null
 * before the first of them. */
static json_t *hit_ratio(const uint64_t *v)
{
    uint64_t served = v[GW_MX_CACHE_HIT] + v[GW_MX_CACHE_STALE];
    uint64_t all = served + v[GW_MX_CACHE_MISS] + v[GW_MX_CACHE_EXPIRED];
    return all ? json_real((double)served / (double)all) : json_null();
}

static json_t *cache_counts(json_t *o, const uint64_t *v)
{
    for (size_t w = 0; o && w < NCACHE_WORDS; w++)
        json_object_set_new(o, cache_words[w].name,
                            json_integer((json_int_t)v[cache_words[w].word]));
    if (o)
        json_object_set_new(o, "hit_ratio", hit_ratio(v));
    return o;
}

json_t *gw__observe_service_cache_json(const uint64_t *service_row)
{
    const uint64_t *v = service_row + GW_MX_S_CACHE;
    json_t *o = cache_counts(json_object(), v);
    if (o) {
        json_object_set_new(o, "stored_bytes",
                            json_integer((json_int_t)v[GW_MX_CACHE_STORED_BYTES]));
        json_object_set_new(o, "backend_errors",
                            json_integer((json_int_t)v[GW_MX_CACHE_BACKEND_ERRORS]));
    }
    return o ? o : json_null();
}

int gw_observe_cache_json(struct gw_server *s, json_t *out)
{
    const struct gw_snapshot *snap = s->snap;
    struct gw_metrics_total t;
    bool have = s->metrics != NULL && snap != NULL && snap->metrics != NULL;
    if (have) {
        gw_metrics_hub_collect(s->metrics);
        have = gw_metrics_hub_total(s->metrics, &t) == 0;
    }
    uint64_t sum[GW_MX_CACHE_REVALIDATED + 1] = {0};
    json_t *services = json_array();
    if (services == NULL)
        return GW_ENOMEM;
    for (size_t i = 0; snap && i < snap->nservices; i++) {
        const struct gw_service_conf *sc = snap->services[i].conf;
        if (!sc->cache.enabled)
            continue;
        uint64_t v[GW_MX_CACHE_REVALIDATED + 1] = {0};
        long row =
            have ? gw_metrics_layout_find(t.layout, GW_MX_SERVICE, sc->name, strlen(sc->name) + 1)
                 : -1;
        if (row >= 0) {
            const uint64_t *r = gw_metrics_total_row(&t, GW_MX_SERVICE, (size_t)row);
            for (size_t w = 0; w <= GW_MX_CACHE_REVALIDATED; w++) {
                v[w] = r[GW_MX_S_CACHE + w];
                sum[w] += v[w];
            }
        }
        json_array_append_new(services, cache_counts(json_pack("{s:s}", "service", sc->name), v));
    }
    json_object_set_new(out, "services", services);
    json_object_set_new(out, "requests", cache_counts(json_object(), sum));
    json_object_set_new(out, "counted", json_boolean(have));
    return 0;
}
