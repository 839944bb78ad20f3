/*
 * Retry settings and the per-service retry budget: types only (upstream/retry.h has the
 * functions and the contract).
 */
#ifndef GW_UPSTREAM_RETRY_T_H
#define GW_UPSTREAM_RETRY_T_H

#include <stdbool.h>
#include <stdint.h>

#include "upstream/breaker-t.h" /* struct gw_breaker_window */

/* Failure classes of one try (a bitmask in gw_retry_conf.on; one bit per gw_retry_should). */
enum {
    GW_RETRY_CONNECT_FAILED = 1 << 0,        /* connect/TLS failed: the upstream saw nothing */
    GW_RETRY_RESET_BEFORE_RESPONSE = 1 << 1, /* closed or reset before any response byte */
    GW_RETRY_TIMEOUT = 1 << 2,               /* per-try timeout before the response head */
    GW_RETRY_STATUS = 1 << 3,                /* a response head with a status in `statuses` */
};

#define GW_RETRY_MAX_STATUSES 8

struct gw_retry_conf {
    uint32_t attempts;   /* retries after the first try (2: at most 3 tries); 0 = none */
    uint32_t on;         /* GW_RETRY_* classes that are retried */
    bool non_idempotent; /* also retry POST, PATCH, ... (connect failures always are) */
    uint32_t n_statuses;
    uint16_t statuses[GW_RETRY_MAX_STATUSES];
    uint64_t backoff_base_ms; /* full jitter: uniform in [0, min(max, base * 2^retries_done)] */
    uint64_t backoff_max_ms;
    uint64_t per_try_timeout_ms; /* 0: a try is bounded only by the service's timeouts */
    uint32_t budget_pct;         /* retries at most this % of the requests in the window ... */
    uint32_t budget_min_per_s;   /* ... plus this many per second, so low traffic can retry */
};

#define GW_RETRY_BUDGET_WINDOW_MS 10000
#define GW_RETRY_BUDGET_BUCKETS 10

/* Per-service budget shared by all workers: counter 0 counts requests, 1 retries. */
struct gw_retry_budget {
    uint32_t pct;
    uint32_t min_per_s;
    struct gw_breaker_window window;
};

#endif
