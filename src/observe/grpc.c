/*
 * gRPC calls by status (metrics/metrics.h GW_MX_GRPC rows: one per route of a service that
 * speaks HTTP/2 upstream): the Prometheus family gantry_grpc_responses_total and the "grpc" part
 * of a service in /metrics/json.
 */
#include "metrics/hub.h"
#include "observe/internal.h"

void gw__prom_grpc(struct gw__prom *o, const struct gw_metrics_total *t)
{
    const struct gw_metrics_layout *l = t->layout;
    struct gw__prom_labels lb;
    gw__prom_family(o, "gantry_grpc_responses_total", "counter",
                    "gRPC calls to services with an HTTP/2 upstream, by service, route and the "
                    "grpc-status the client got (the target's, or gantry's own answer's): the "
                    "17 code names, OTHER for any other value, NONE when no status reached the "
                    "client.");
    for (size_t r = 0; r < l->nrows[GW_MX_GRPC]; r++) {
        const uint64_t *row = gw_metrics_total_row(t, GW_MX_GRPC, r);
        const char *key = l->keys[GW_MX_GRPC][r];
        gw__prom_lbl_reset(&lb);
        gw__prom_lbl_add(&lb, "service", gw__observe_key_part(key, 0));
        gw__prom_lbl_add(&lb, "route", gw__observe_key_part(key, 1));
        for (unsigned g = 0; g < GW_MX_G_WORDS; g++) {
            if (row[g] == 0)
                continue;
            gw__prom_puts(o, "gantry_grpc_responses_total{");
            gw__prom_puts(o, lb.s);
            gw__prom_puts(o, ",grpc_status=\"");
            gw__prom_puts(o, gw_mx_grpc_status_name(g));
            gw__prom_puts(o, "\"} ");
            gw__prom_put_u64(o, row[g]);
            gw__prom_put(o, "\n", 1);
        }
    }
}

json_t *gw__observe_grpc_json(const struct gw_metrics_total *t, size_t service_row)
{
    const struct gw_metrics_layout *l = t->layout;
    const struct gw_mx_service_layout *sl = &l->svc[service_row];
    if (sl->grpc_base == UINT32_MAX)
        return json_null();
    size_t nroutes = (service_row + 1 < l->nservices ? l->svc[service_row + 1].route_base
                                                     : l->nrows[GW_MX_ROUTE]) -
                     sl->route_base;
    uint64_t sum[GW_MX_G_WORDS] = {0}, calls = 0;
    for (size_t p = 0; p < nroutes; p++) {
        const uint64_t *row = gw_metrics_total_row(t, GW_MX_GRPC, sl->grpc_base + p);
        for (unsigned g = 0; g < GW_MX_G_WORDS; g++) {
            sum[g] += row[g];
            calls += row[g];
        }
    }
    json_t *by = json_object();
    for (unsigned g = 0; by && g < GW_MX_G_WORDS; g++)
        if (sum[g])
            json_object_set_new(by, gw_mx_grpc_status_name(g), json_integer((json_int_t)sum[g]));
    return json_pack("{s:I, s:I, s:o}", "calls", (json_int_t)calls, "errors",
                     (json_int_t)(calls - sum[0]), "by_status", by ? by : json_null());
}
