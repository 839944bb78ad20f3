/*
 * Helpers shared by the files of observe/, not used outside it.
 */
#ifndef GW_OBSERVE_INTERNAL_H
#define GW_OBSERVE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

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

#endif
