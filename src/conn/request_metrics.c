/*
 * A finished request's metrics (conn/request_metrics.h). Plain increments into the worker's own
 * area: a handful of loads and stores, no lock, no formatting, no string look-up (the rows were
 * laid out when the snapshot was built; see metrics/metrics.h).
 */
#include "conn/request_metrics.h"

#include <uv.h>

#include "conn/request-t.h"
#include "control/snapshot-t.h"
#include "metrics/metrics.h"

void gw_request_metrics(const struct gw_request *r)
{
    struct gw_metrics_area *a = r->mx;
    if (a == NULL)
        return;
    const struct gw_metrics_layout *l = &r->snap->metrics->layout;
    size_t route = 0;
    const struct gw_mx_service_layout *sl = NULL;
    if (r->svc) {
        sl = &l->svc[r->svc - r->snap->services];
        route = sl->route_base + r->prefix_index;
    }
    unsigned code = gw_mx_code_index(r->status);
    unsigned method = gw_mx_method_index((unsigned)r->msg.method_id);
    gw_mx_ctr *row = a->rows[GW_MX_ROUTE] + route * GW_MX_R_WORDS;
    gw_mx_inc(&row[GW_MX_R_REQ_AT(method, code)]);
    gw_mx_add(&row[GW_MX_R_BYTES_IN], r->bytes_in);
    gw_mx_add(&row[GW_MX_R_BYTES_OUT], r->bytes_out);
    /* The request histograms' rows are the route rows (metrics.c layout_build). */
    gw_mx_hist_record(a, (uint32_t)route, uv_hrtime() - r->t_start);
    if (sl && sl->consumer_base != UINT32_MAX && r->consumer != 0) {
        uint32_t c = r->consumer - 1;
        if (c >= sl->nconsumers - 1)
            c = sl->nconsumers - 1; /* "other": past the cap */
        unsigned cls = r->status >= 100 && r->status < 600 ? (unsigned)r->status / 100 : 0;
        gw_mx_inc(&a->rows[GW_MX_CONSUMER][(sl->consumer_base + c) * GW_MX_C_WORDS + cls]);
    }
    if (r->grpc && sl && sl->grpc_base != UINT32_MAX) {
        unsigned g = r->grpc_status ? r->grpc_status - 1u : GW_MX_GRPC_NONE;
        gw_mx_inc(&a->rows[GW_MX_GRPC][(sl->grpc_base + r->prefix_index) * GW_MX_G_WORDS + g]);
    }
}
