/*
 * The policy parts of /metrics/json: rate-limit decisions per limit, authentication outcomes
 * per service (the same counters as gantry_ratelimit_decisions_total and
 * gantry_auth_requests_total), for the dashboard and scripts that read JSON.
 */
#include <stdint.h>

#include "metrics/hub.h"
#include "metrics/metrics.h"
#include "observe/internal.h"

json_t *gw__observe_limits_json(const struct gw_metrics_total *t)
{
    const struct gw_metrics_layout *l = t->layout;
    json_t *a = json_array();
    for (size_t i = 0; a && i < l->nrows[GW_MX_LIMIT]; i++) {
        const uint64_t *row = gw_metrics_total_row(t, GW_MX_LIMIT, i);
        const char *key = l->keys[GW_MX_LIMIT][i];
        const char *scope = gw__observe_key_part(key, 0);
        const char *limit = gw__observe_key_part(key, 1);
        json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:I, s:I}", "scope",
                                           scope[0] ? scope : "gateway", "limit", limit, "allowed",
                                           (json_int_t)row[GW_MX_L_ALLOWED], "limited",
                                           (json_int_t)row[GW_MX_L_LIMITED], "redis_fallbacks",
                                           (json_int_t)row[GW_MX_L_FALLBACK]));
    }
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
                per = json_pack("{s:I, s:I, s:I, s:o}", "ok", (json_int_t)0, "forbidden",
                                (json_int_t)0, "unauthorized", (json_int_t)0, "reasons",
                                json_object());
            if (per == NULL)
                break;
            reasons = json_object_get(per, "reasons");
            if (c == GW_MX_AUTH_OK || c == GW_MX_AUTH_FORBIDDEN) {
                json_object_set_new(per, c == GW_MX_AUTH_OK ? "ok" : "forbidden",
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
