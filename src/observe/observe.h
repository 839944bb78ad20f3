/*
 * What the metrics endpoints answer (README "Observability", docs/metrics.md): the Prometheus
 * text exposition (format 0.0.4), the same data as JSON with percentiles and rates, a summary
 * for people, and the health score. Everything is read from the metrics hub (metrics/hub.h) and
 * the live state beside the snapshot (circuits, target health), never from a worker's hands:
 * rendering takes no lock a worker could wait for.
 *
 * Threads: the control thread only (the admin API, and the hub's renderer for scrapes on the
 * proxy port).
 */
#ifndef GW_OBSERVE_OBSERVE_H
#define GW_OBSERVE_OBSERVE_H

#include <jansson.h>

#include "core/buf.h"

struct gw_server;

/* Formats of gw_observe_render. */
enum {
    GW_OBSERVE_PROMETHEUS = 0,
    GW_OBSERVE_JSON = 1,
    GW_OBSERVE_PERFORMANCE = 2, /** gw_observe_performance's text */
    GW_OBSERVE_HEALTH = 3       /** gw_observe_health_score's JSON */
};

/* The Prometheus text exposition of everything gantry counts, appended to out. 0 or GW_ENOMEM. */
int gw_observe_prometheus(struct gw_server *s, struct gw_buf *out);

/* The same data as JSON, with p50/p90/p95/p99/p999 per service and route, request rates over
 * 1, 5 and 15 minutes and error rates. NULL when out of memory. */
json_t *gw_observe_json(struct gw_server *s);

/* The latency and throughput summary a person reads (plain text), appended to out. */
int gw_observe_performance(struct gw_server *s, struct gw_buf *out);

/* The health score (0-100) per service and overall, with its inputs. NULL when out of memory. */
json_t *gw_observe_health_score(struct gw_server *s);

/* The response cache's results per service with the cache on (hit, miss, stale, expired,
 * bypass, collapsed, stored, revalidated and hit_ratio: (hit + stale) over hit, stale, miss and
 * expired, null before any), summed in "requests", set on out (GET /api/cache adds the
 * store's bytes and evictions). The counters are the metrics' (gantry_cache_requests_total):
 * "counted" is false when metrics are off (then every count is 0). 0 or GW_ENOMEM. */
int gw_observe_cache_json(struct gw_server *s, json_t *out);

/* gw_metrics_render_fn for the hub (arg: the server): format (GW_OBSERVE_*) into out. */
int gw_observe_render(void *server, int format, struct gw_buf *out);

/* Significant digits of the floats in the JSON answers: what a double holds exactly in decimal,
 * so 0.036229 prints as 0.036229, not 0.036228999999999997. */
#define GW_OBSERVE_REAL_DIGITS 15

/* The Prometheus content type of gw_observe_prometheus's text. */
#define GW_OBSERVE_PROMETHEUS_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
