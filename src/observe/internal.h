/*
 * Helpers shared by the files of observe/, not used outside it.
 */
#ifndef GW_OBSERVE_INTERNAL_H
#define GW_OBSERVE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"

struct gw_server;
struct gw_service;

/* Part i of a row key ("users\0/api/users\0\0"), "" past the last. */
const char *gw__observe_key_part(const char *key, unsigned i);

/* The policy stage a histogram key's stage part names ("ratelimit", "auth", ...). */
const char *gw__observe_stage_name(const char *part);

/* The process: /proc/self and getrusage. */
struct gw__observe_process {
    double cpu_seconds;
    uint64_t rss_bytes;
    uint64_t vsize_bytes;
    uint64_t open_fds;
    uint64_t max_fds;
};
void gw__observe_process(struct gw__observe_process *p);

/* A service's targets now. */
struct gw__observe_targets {
    size_t usable;        /* taking traffic */
    size_t circuits_open; /* targets whose own circuit is open or half-open */
    bool service_open;    /* the service's circuit is open or half-open */
};
void gw__observe_service_targets(const struct gw_service *svc, uint64_t now_ms,
                                 struct gw__observe_targets *out);
bool gw__observe_target_usable(const struct gw_service *svc, size_t t, uint64_t now_ms);

/* The rate-limit Redis backend's state; false when the backend is not Redis. */
struct gw__observe_redis {
    bool up;
    uint64_t clients_up, calls, errors, timeouts, unavailable;
};
bool gw__observe_redis(struct gw_server *s, struct gw__observe_redis *out);

/* json_policy.c: [{"scope", "limit", "allowed", "limited", "redis_fallbacks"}] of every limit
 * row of t. */
struct gw_metrics_total;
struct gw_topkeys;
json_t *gw__observe_limits_json(const struct gw_metrics_total *t, struct gw_topkeys *top);

/* {method: {"ok", "forbidden", "unauthorized", "reasons": {reason: n}}} of service row i, only
 * the methods that counted something. */
json_t *gw__observe_auth_json(const struct gw_metrics_total *t, size_t service_row);

/* ---- the Prometheus text format (prom_text.c) ----------------------------------------------
 * An exposition appended to b; rc keeps the first error (GW_ENOMEM) and every later write is
 * skipped, so a family function never checks a return. */
struct gw_hist_sum;
struct gw__prom_rows;
struct gw__prom {
    struct gw_buf *b;
    int rc;
    /* The label text of the request metrics' rows (GW_MX_SERVICE, GW_MX_ROUTE, GW_MX_TARGET),
     * escaped once per scrape; NULL when there are no request metrics. */
    const struct gw__prom_rows *rows;
    /* The last double written and its text: a family of doubles repeats few values. */
    bool dset;
    uint8_t dlen;
    uint64_t dbits;
    char dtext[32];
};

/* Label text built in a small buffer: name="value",... (values escaped; too long: cut). */
/* Sized for the longest label set the configuration allows (a route prefix of 1024 characters,
 * a service name, a method, a class and a code; a consumer id of 128; a target's host:port). */
struct gw__prom_labels {
    char s[2048];
    size_t n;
};

/* The exported bucket bounds of every latency histogram, in seconds ("0.0005" ... "60"). */
#define GW__PROM_NLE 16
extern const char *const gw__prom_le_text[GW__PROM_NLE];

/* Room for n (> 0) more bytes at the end of the exposition: where to write them (then
 * gw__prom_commit), or NULL when the buffer cannot grow (o->rc is set). */
char *gw__prom_room_slow(struct gw__prom *o, size_t n);
static inline char *gw__prom_room(struct gw__prom *o, size_t n)
{
    struct gw_buf *b = o->b;
    if (o->rc == 0 && b->cap - b->len >= n)
        return b->data + b->len;
    return gw__prom_room_slow(o, n);
}
/* The exposition now ends at end (inside the room gw__prom_room gave). */
static inline void gw__prom_commit(struct gw__prom *o, char *end)
{
    o->b->len = (size_t)(end - o->b->data);
}
static inline void gw__prom_put(struct gw__prom *o, const char *s, size_t n)
{
    char *p = n ? gw__prom_room(o, n) : NULL;
    if (p != NULL) {
        memcpy(p, s, n);
        gw__prom_commit(o, p + n);
    }
}
void gw__prom_puts(struct gw__prom *o, const char *s);
/* The decimal digits of v at p (at most GW__PROM_U64_MAX bytes); returns their end. */
#define GW__PROM_U64_MAX 20
char *gw__prom_u64_to(char *p, uint64_t v);
/* ns as seconds, exactly ("12.000345678"), at p (at most GW__PROM_SECONDS_MAX bytes); returns
 * its end. */
#define GW__PROM_SECONDS_MAX (GW__PROM_U64_MAX + 1)
char *gw__prom_seconds_to(char *p, uint64_t ns);
void gw__prom_put_u64(struct gw__prom *o, uint64_t v);
/* ns as seconds, exactly: "12.000345678". */
void gw__prom_put_seconds(struct gw__prom *o, uint64_t ns);
/* v as "%.17g" writes it (strtod gives v back, bit for bit). */
void gw__prom_put_double(struct gw__prom *o, double v);
/* "# HELP name help" and "# TYPE name type". */
void gw__prom_family(struct gw__prom *o, const char *name, const char *type, const char *help);
/* "name{labels} value"; labels without braces, may be "". */
void gw__prom_sample_u64(struct gw__prom *o, const char *name, const char *labels, uint64_t v);
void gw__prom_sample_double(struct gw__prom *o, const char *name, const char *labels, double v);
/* "name<suffix>{labels} " (without labels: "name<suffix> ") at p; returns its end. */
char *gw__prom_series_to(char *p, const char *name, size_t nlen, const char *suffix, size_t slen,
                         const char *labels, size_t llen);
/* The same with the lengths known (nlen of name, llen of labels). */
void gw__prom_line_u64(struct gw__prom *o, const char *name, size_t nlen, const char *labels,
                       size_t llen, uint64_t v);
void gw__prom_lbl_reset(struct gw__prom_labels *l);
void gw__prom_lbl_add(struct gw__prom_labels *l, const char *name, const char *value);
/* The same with the value's length (it may hold NULs: they are copied). */
void gw__prom_lbl_add_n(struct gw__prom_labels *l, const char *name, const char *value,
                        size_t vlen);
/* *dst = *src, copying only the text in use. */
void gw__prom_lbl_copy(struct gw__prom_labels *dst, const struct gw__prom_labels *src);
/* A histogram row: buckets (cumulative, at the exported bounds), sum, count. Nothing when
 * empty. */
void gw__prom_histogram(struct gw__prom *o, const char *name, const char *labels,
                        const struct gw_hist_sum *h);
void gw__prom_histogram_n(struct gw__prom *o, const char *name, size_t nlen, const char *labels,
                          size_t llen, const struct gw_hist_sum *h);

/* The label sets of many rows, each escaped once: their text one after the other. */
struct gw__prom_rows {
    struct gw_buf text; /* row i's labels: text.data + at[i], at[i + 1] - at[i] bytes */
    struct gw_buf at;   /* n + 1 offsets (uint32_t) */
    size_t n;
};
void gw__prom_rows_init(struct gw__prom_rows *r);
void gw__prom_rows_free(struct gw__prom_rows *r);
/* Appends lb as the next row's labels. 0 or GW_ENOMEM. */
int gw__prom_rows_push(struct gw__prom_rows *r, const struct gw__prom_labels *lb);
/* Row i's labels (not NUL-terminated), *len their length. i < r->n. */
static inline const char *gw__prom_rows_get(const struct gw__prom_rows *r, size_t i, size_t *len)
{
    const uint32_t *at = (const uint32_t *)(const void *)r->at.data;
    *len = at[i + 1] - at[i];
    return r->text.data + at[i];
}
/* The rows of the request metrics' layout, by kind: service="s" (GW_MX_SERVICE),
 * service="s",route="r" (GW_MX_ROUTE), service="s",target="t" (GW_MX_TARGET). 0 or
 * GW_ENOMEM (rows freed). */
struct gw_metrics_layout;
int gw__prom_rows_of_layout(struct gw__prom_rows *rows, const struct gw_metrics_layout *l,
                            int kind);

/* ---- the metric groups, in the order gw_observe_prometheus writes them ---------------------
 * Each writes its families (HELP and TYPE always, samples for what exists). t: the request
 * metrics summed over the workers. */
/* prom_process.c: build info, process, configuration reloads, workers. */
void gw__prom_process(struct gw__prom *o, struct gw_server *s);
/* prom_http.c: per-worker connections (client, upstream, TLS, HTTP/2), tunnels, requests by
 * service/route/method/code, bytes, request latency, consumers. */
void gw__prom_connections(struct gw__prom *o, struct gw_server *s);
void gw__prom_tunnels(struct gw__prom *o, struct gw_server *s);
void gw__prom_requests(struct gw__prom *o, const struct gw_metrics_total *t);
/* grpc.c: gRPC calls by service, route and grpc-status. */
void gw__prom_grpc(struct gw__prom *o, const struct gw_metrics_total *t);
/* prom_upstream.c: retries, budget, circuit and no-target refusals per service; try and
 * first-byte latency; per-target counters and states (health, ejection, circuits). */
void gw__prom_service_resilience(struct gw__prom *o, const struct gw_metrics_total *t);
void gw__prom_upstream_latency(struct gw__prom *o, const struct gw_metrics_total *t);
void gw__prom_targets(struct gw__prom *o, struct gw_server *s, const struct gw_metrics_total *t);
/* The live states of targets, circuits and services (and the objectives): written with or
 * without request metrics. */
void gw__prom_target_states(struct gw__prom *o, struct gw_server *s);
/* prom_policy.c: auth outcomes, cache results, token caches per service; policy stage
 * latency; rate-limit decisions; the cache's store. */
void gw__prom_policy_counts(struct gw__prom *o, const struct gw_metrics_total *t);
void gw__prom_policy_latency(struct gw__prom *o, const struct gw_metrics_total *t);
void gw__prom_limits(struct gw__prom *o, const struct gw_metrics_total *t);
void gw__prom_cache_store(struct gw__prom *o, struct gw_server *s);
/* prom_state.c: the shared Redis clients by use (t: NULL without request metrics), the hub. */
void gw__prom_redis(struct gw__prom *o, struct gw_server *s);
void gw__prom_redis_latency(struct gw__prom *o, const struct gw_metrics_total *t);
void gw__prom_hub(struct gw__prom *o, struct gw_server *s);
void gw__prom_revocations(struct gw__prom *o, struct gw_server *s);
/* prom_process.c: the trace exporter, the audit log. */
void gw__prom_tracing(struct gw__prom *o, struct gw_server *s);
void gw__prom_audit(struct gw__prom *o);

/* grpc.c: {"calls", "errors" (not OK), "by_status": {name: n}} of service row i's gRPC calls,
 * or JSON null for a service that speaks HTTP/1.1 upstream (no gRPC rows). */
json_t *gw__observe_grpc_json(const struct gw_metrics_total *t, size_t service_row);

/* ---- the JSON view's parts (observe.c, json_live.c, json_policy.c) ------------------------ */

/* A JSON number, or null for NaN and infinities (RFC 8259 has neither). */
json_t *gw__observe_real(double v);
/* {"p50", "p90", "p95", "p99", "p999", "mean" (ms, null when empty), "count"} of h. */
json_t *gw__observe_latency_json(const struct gw_hist_sum *h);
/* Sets on service object o (its "name", its "targets" array of counters or none) the live state
 * of the service of that name: "target_count", "healthy_targets", "circuit", "slo", and on each
 * target "up", "health_check", "ejected", "circuit" (a "targets" array is made when o has none). */
void gw__observe_service_live_json(struct gw_server *s, const char *name, json_t *o);
/* Sets on service object o the counts of service row `row`: "token_cache", "cache",
 * "consumers", "policy_ms". */
void gw__observe_service_counts_json(const struct gw_metrics_total *t, size_t row, json_t *o);
/* Sets on root the process's parts: "workers" (connections, TLS, HTTP/2 by worker),
 * "http2_refused", "tunnels", "redis", "tracing", "audit", "cache_store", "hub", "revocations",
 * "metrics". t: NULL without request metrics. */
void gw__observe_process_json(struct gw_server *s, const struct gw_metrics_total *t, json_t *root);
/* json_policy.c: the response cache's counts of a service row ({"hit", ..., "hit_ratio",
 * "stored_bytes", "backend_errors"}). */
json_t *gw__observe_service_cache_json(const uint64_t *service_row);

#endif
