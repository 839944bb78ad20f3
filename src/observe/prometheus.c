/*
 * The Prometheus text exposition (format 0.0.4): every family with HELP and TYPE, base units,
 * counters ending in _total, histograms with _bucket / _sum / _count. The groups live in the
 * prom_*.c files (observe/internal.h lists them); this file only sets their order, which is the
 * exposition's. No printf per sample, so a scrape of 1,000 services with 5 targets each stays
 * within a few milliseconds.
 */
#include "control/snapshot-t.h"
#include "core/error.h"
#include "metrics/hub.h"
#include "observe/internal.h"
#include "observe/observe.h"
#include "runtime/server-t.h"

/* The size of the last exposition (control thread): the next one is about as long, so its
 * buffer is reserved at once instead of grown by doubling. */
static size_t last_len;

int gw_observe_prometheus(struct gw_server *s, struct gw_buf *b)
{
    struct gw__prom o = {.b = b};
    struct gw__prom_rows rows[GW_MX_KINDS];
    uint64_t t0 = uv_hrtime();
    if (last_len > 0 && b->len == 0)
        o.rc =
            gw_buf_reserve(b, last_len + last_len / 8 < b->max ? last_len + last_len / 8 : b->max);
    gw__prom_process(&o, s);
    gw__prom_connections(&o, s);
    gw__prom_tunnels(&o, s);
    struct gw_metrics_total t;
    bool have = s->metrics && s->snap && s->snap->metrics &&
                (gw_metrics_hub_collect(s->metrics), gw_metrics_hub_total(s->metrics, &t) == 0);
    for (int k = 0; k < GW_MX_KINDS; k++)
        gw__prom_rows_init(&rows[k]);
    if (have && (gw__prom_rows_of_layout(&rows[GW_MX_SERVICE], t.layout, GW_MX_SERVICE) < 0 ||
                 gw__prom_rows_of_layout(&rows[GW_MX_ROUTE], t.layout, GW_MX_ROUTE) < 0 ||
                 gw__prom_rows_of_layout(&rows[GW_MX_TARGET], t.layout, GW_MX_TARGET) < 0)) {
        have = false;
        o.rc = GW_ENOMEM;
    }
    o.rows = have ? rows : NULL;
    if (have) {
        gw__prom_requests(&o, &t);
        gw__prom_grpc(&o, &t);
        gw__prom_service_resilience(&o, &t);
        gw__prom_policy_counts(&o, &t);
        gw__prom_upstream_latency(&o, &t);
        gw__prom_policy_latency(&o, &t);
        gw__prom_limits(&o, &t);
        gw__prom_targets(&o, s, &t);
    }
    gw__prom_target_states(&o, s); /* live state: also with request metrics off */
    gw__prom_redis(&o, s);
    gw__prom_redis_latency(&o, have ? &t : NULL);
    gw__prom_tracing(&o, s);
    gw__prom_audit(&o);
    gw__prom_cache_store(&o, s);
    gw__prom_hub(&o, s);
    gw__prom_revocations(&o, s);
    size_t sets = 0, bytes = 0;
    if (s->metrics)
        gw_metrics_hub_usage(s->metrics, &sets, &bytes);
    gw__prom_family(
        &o, "gantry_metrics_memory_bytes", "gauge",
        "Memory held by request metrics: every worker's counters, the base, the scrape copy.");
    gw__prom_sample_u64(&o, "gantry_metrics_memory_bytes", "", bytes);
    gw__prom_family(&o, "gantry_metrics_sets", "gauge",
                    "Metric sets alive (one per configuration generation still serving requests).");
    gw__prom_sample_u64(&o, "gantry_metrics_sets", "", sets);
    gw__prom_family(&o, "gantry_metrics_scrape_duration_seconds", "gauge",
                    "Time this exposition took to build, seconds.");
    gw__prom_sample_double(&o, "gantry_metrics_scrape_duration_seconds", "",
                           (double)(uv_hrtime() - t0) / 1e9);
    for (int k = 0; k < GW_MX_KINDS; k++)
        gw__prom_rows_free(&rows[k]);
    if (o.rc == 0)
        last_len = b->len;
    return o.rc;
}
