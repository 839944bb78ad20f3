/*
 * The last 15 minutes of the gateway's totals, for the dashboard's live charts: every metrics
 * tick (GW_METRICS_TICK_MS) the control thread sums the request counters and latency
 * histograms of every route and keeps, for the interval since the previous tick, the request
 * rate, the 5xx share and p50/p95/p99 (from the difference of the two histograms, so they are
 * the interval's percentiles, not the whole run's), plus the open client connections.
 *
 * Control thread only. What it costs: one sum of the workers' counters (as a /metrics/json
 * scrape makes) and one pass over the route rows every tick, nothing on the request path;
 * nothing at all with admin.dashboard false (the history then stays empty).
 */
#ifndef GW_OBSERVE_HISTORY_H
#define GW_OBSERVE_HISTORY_H

#include <jansson.h>

struct gw_server;
struct gw_observe_history;

/* Samples kept: 15 minutes of ticks. */
#define GW_OBSERVE_HISTORY_SAMPLES 180

/* A history, empty. NULL when out of memory. */
struct gw_observe_history *gw_observe_history_new(void);

/* NULL is a no-op. */
void gw_observe_history_free(struct gw_observe_history *h);

/* Every metrics tick: adds the sample of the interval since the previous call (the first call
 * only primes). No-op when metrics are off, admin.dashboard is false or s->history is NULL. */
void gw_observe_history_tick(struct gw_server *s);

/* {"interval_seconds": 5, "samples": [{"time_ms", "requests", "rate_per_second",
 * "error_rate", "p50_ms", "p95_ms", "p99_ms", "connections"}, ...]} oldest first (the
 * percentiles null for an interval without requests). NULL when out of memory. */
json_t *gw_observe_history_json(struct gw_server *s);

#endif
