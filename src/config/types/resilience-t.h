/*
 * A service's resilience sections' types (config_resilience.c): load_balancer, health_check,
 * outlier_detection, circuit_breaker, retries.
 */
#ifndef GW_CONFIG_TYPES_RESILIENCE_T_H
#define GW_CONFIG_TYPES_RESILIENCE_T_H

#include <stdbool.h>
#include <stdint.h>

/* "load_balancer.strategy": the names and order of the balancer's enum gw_balance_strategy
 * (src/balance/balancer.h; config_resilience.c asserts that the values agree). */
enum gw_lb_strategy {
    GW_LB_ROUND_ROBIN = 0,
    GW_LB_WEIGHTED_ROUND_ROBIN,
    GW_LB_RANDOM,
    GW_LB_LEAST_CONNECTIONS,
    GW_LB_IP_HASH,
    GW_LB_CONSISTENT_HASH,
    GW_LB_P2C_EWMA,
};

/* "load_balancer.hash_key": what consistent_hash hashes. */
enum gw_lb_hash_kind {
    GW_LB_HASH_IP = 0, /* "ip": the client address */
    GW_LB_HASH_HEADER, /* "header:NAME": that request header's value */
    GW_LB_HASH_COOKIE, /* "cookie:NAME": that cookie's value */
};

/* "health_check.type" */
enum gw_health_check_type {
    GW_HEALTH_CHECK_HTTP = 0, /* "http": GET path, judged by the HTTP status */
    GW_HEALTH_CHECK_GRPC,     /* "grpc": grpc.health.v1.Health/Check over h2c */
};

/* "health_check": active checks; absent = disabled (the other fields hold the defaults) */
struct gw_health_check_conf {
    bool enabled;
    char *path;                   /* type http: required when enabled; starts with '/' */
    uint64_t interval_ms;         /* default 10s */
    uint64_t timeout_ms;          /* default 2s, < interval_ms */
    uint32_t healthy_threshold;   /* default 2 */
    uint32_t unhealthy_threshold; /* default 3 */
    uint16_t status_min;          /* "expected_status", default "200-399" */
    uint16_t status_max;
    enum gw_health_check_type type; /* "type": "http" (default) or "grpc" */
    char *grpc_service; /* "service" (type grpc): the name asked about; NULL: the server */
};

/* "outlier_detection": passive checks; enabled by default, false disables */
struct gw_outlier_conf {
    bool enabled;
    uint32_t consecutive_failures; /* default 5 */
    uint64_t base_ejection_ms;     /* "base_ejection_time", default 30s */
    uint64_t max_ejection_ms;      /* "max_ejection_time", default 300s, >= base */
    uint32_t max_ejection_percent; /* default 50 */
};

/* "circuit_breaker": the fields and meanings of struct gw_breaker_conf (upstream/breaker.h), kept
 * apart so that this header pulls in no atomics; gw_config_breaker_conf copies it over. */
struct gw_service_breaker_conf {
    uint32_t failure_threshold;   /* "failure_threshold", default 5; 0 = off */
    uint32_t error_threshold_pct; /* "error_threshold_percentage", default 50; 0 = off */
    uint32_t minimum_requests;    /* "minimum_requests", default 20 */
    uint32_t half_open_requests;  /* "half_open_requests", 1..255, default 3 */
    uint32_t buckets;             /* "buckets", 1..64, default 10 */
    uint64_t window_ms;           /* "window", default 10s; window / buckets >= 1 ms */
    uint64_t open_duration_ms;    /* "open_duration", default 30s */
    uint64_t slow_call_ms;        /* "slow_call_threshold", default 0 = off */
};

/* Most statuses "retries.statuses" may list (GW_RETRY_MAX_STATUSES). */
#define GW_CONFIG_MAX_RETRY_STATUSES 8

/* "retries": the fields and meanings of struct gw_retry_conf (upstream/retry.h), kept apart
 * for the same reason; gw_config_retry_conf copies it over. */
struct gw_service_retry_conf {
    uint32_t attempts;   /* "attempts", 0..10, default 2 */
    uint32_t on;         /* "retry_on": GW_RETRY_* class bits, default all four */
    bool non_idempotent; /* "non_idempotent", default false */
    uint32_t n_statuses; /* "statuses", default [502, 503, 504] */
    uint16_t statuses[GW_CONFIG_MAX_RETRY_STATUSES];
    uint64_t backoff_base_ms;    /* "backoff_base", default 25ms */
    uint64_t backoff_max_ms;     /* "backoff_max", default 250ms, >= backoff_base */
    uint64_t per_try_timeout_ms; /* "per_try_timeout", default 0 = the service's timeouts */
    uint32_t budget_pct;         /* "budget_percent", 0..100, default 20 */
    uint32_t budget_min_per_s;   /* "budget_min_per_second", default 3 */
};

#endif
