/*
 * Retry decisions for the upstream proxy: whether a failed try may be retried (nginx's
 * proxy_next_upstream shape: a failure-class bitmask), how long to back off, and a per-service
 * retry budget that stops retry storms.
 *
 * Pure functions and lock-free counters; the caller passes the time in (now_ms) and the random
 * bits (gw_random_u64()), so tests are deterministic. Picking a different target for the retry
 * is the balancer's job (exclude the targets already tried). See docs/resilience.md.
 */
#ifndef GW_UPSTREAM_RETRY_H
#define GW_UPSTREAM_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "http1/parser.h" /* enum gw_http_method */
#include "upstream/retry-t.h"

/* Fills c with the documented defaults (docs/resilience.md). */
void gw_retry_conf_default(struct gw_retry_conf *c);

/* Checks c: GW_EINVAL for n_statuses > GW_RETRY_MAX_STATUSES, a status outside 100..599,
 * backoff_max_ms < backoff_base_ms, or an unknown class bit in `on`; else 0. */
int gw_retry_conf_check(const struct gw_retry_conf *c);

/* True for the methods RFC 9110 section 9.2.2 calls idempotent (GET, HEAD, PUT, DELETE,
 * OPTIONS, TRACE). */
bool gw_retry_idempotent(enum gw_http_method m);

/*
 * May the try that just failed with `failure_class` (one GW_RETRY_* bit; `status` is the
 * response status for GW_RETRY_STATUS) be retried, given that retries_done retries were made
 * already? Never once a byte went to the client, never past c->attempts, only for the classes
 * in c->on; a non-idempotent method only for a connect failure or with c->non_idempotent.
 * Does not consult the budget: call gw_retry_budget_allow after this says yes.
 */
bool gw_retry_should(const struct gw_retry_conf *c, enum gw_http_method m, int failure_class,
                     int status, bool bytes_sent_to_client, unsigned retries_done);

/* Delay before retry number retries_done + 1: rnd mapped into [0, min(max, base *
 * 2^retries_done)] ("full jitter"). rnd is any uniform 64-bit value. */
uint64_t gw_retry_backoff_ms(const struct gw_retry_conf *c, unsigned retries_done, uint64_t rnd);

/* Prepares an unshared budget from c->budget_pct and c->budget_min_per_s over a window of
 * GW_RETRY_BUDGET_WINDOW_MS. Returns 0 or GW_EINVAL. Nothing to free. */
int gw_retry_budget_init(struct gw_retry_budget *b, const struct gw_retry_conf *c);

/* Counts one client request (not a retry) toward the budget. Thread-safe, lock-free. */
void gw_retry_budget_on_request(struct gw_retry_budget *b, uint64_t now_ms);

/*
 * Takes a retry token if retries in the window stay within pct% of the requests plus
 * min_per_s for each second of the window; returns false (do not retry) otherwise.
 * Thread-safe, lock-free; workers racing for the last token may overshoot by one each.
 */
bool gw_retry_budget_allow(struct gw_retry_budget *b, uint64_t now_ms);

/* Requests and retries counted in the window ending at now_ms (admin API, metrics). */
void gw_retry_budget_stats(const struct gw_retry_budget *b, uint64_t now_ms, uint64_t *requests,
                           uint64_t *retries);

#endif
