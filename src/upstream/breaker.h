/*
 * Circuit breaker: one per service and one per target, shared by every worker thread.
 *
 * States: closed (requests flow, outcomes are counted) → open (requests fail fast) →
 * half-open (a few probes go through) → closed on all-success, back to open on any failure.
 * The caller passes the time in (`now_ms`, any millisecond clock below 2^46, e.g. uv_now()),
 * so there is no clock read inside and tests are deterministic.
 *
 * Concurrency: lock-free. The common case (closed: acquire, record a success) is one atomic
 * load of the state word plus one CAS loop on a rolling-window counter; no mutex anywhere.
 * Transitions are a CAS on one packed 64-bit state word. The rolling window is also exported
 * (gw_breaker_window_*) so the retry budget can count with the same structure.
 *
 * See docs/resilience.md for the parameters and their defaults.
 */
#ifndef GW_UPSTREAM_BREAKER_H
#define GW_UPSTREAM_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

#include "upstream/breaker-t.h"

/* ---- rolling window: two counters per bucket, lock-free ---------------------------------- */

/* Prepares an unshared window of window_ms split in buckets (1..GW_BREAKER_MAX_BUCKETS;
 * window_ms / buckets >= 1 ms). Returns 0 or GW_EINVAL. */
int gw_breaker_window_init(struct gw_breaker_window *w, uint64_t window_ms, uint32_t buckets);

/* Adds n to counter `which` (0 or 1) of the bucket holding now_ms. Thread-safe, lock-free.
 * A count saturates at UINT32_MAX per bucket. */
void gw_breaker_window_add(struct gw_breaker_window *w, uint64_t now_ms, unsigned which,
                           uint32_t n);

/* Sums both counters over the buckets inside the window ending at now_ms (and not older than
 * the last reset) into out[0], out[1]. Thread-safe; a snapshot, not a consistent cut. */
void gw_breaker_window_sum(const struct gw_breaker_window *w, uint64_t now_ms, uint64_t out[2]);

/* Forgets everything counted up to now_ms. Counts added concurrently with the reset, in the
 * current bucket, may be lost; callers reset only on state transitions. */
void gw_breaker_window_reset(struct gw_breaker_window *w, uint64_t now_ms);

/* ---- breaker ------------------------------------------------------------------------------ */

/* Fills c with the documented defaults (docs/resilience.md). */
void gw_breaker_conf_default(struct gw_breaker_conf *c);

/* Checks c: GW_EINVAL when a value is out of range (see struct gw_breaker_conf), else 0. */
int gw_breaker_conf_check(const struct gw_breaker_conf *c);

/* Initialises an unshared breaker, closed, from a copy of c. Returns 0 or GW_EINVAL.
 * Nothing to free. Publish the breaker to other threads only after this returns. */
int gw_breaker_init(struct gw_breaker *b, const struct gw_breaker_conf *c);

/*
 * Before sending a request: may it go? Returns GW_BREAKER_ALLOW, GW_BREAKER_ALLOW_PROBE (a
 * half-open permit was taken: the caller must record the outcome with probe = true, or
 * GW_BREAKER_IGNORE it) or GW_BREAKER_REJECT with *retry_after_ms (>= 1) set when
 * retry_after_ms is not NULL. Thread-safe, lock-free.
 *
 * The first call after open_duration turns the breaker half-open and takes a permit. Permits
 * never given back (a lost probe) are forgotten open_duration after half-open began.
 */
int gw_breaker_acquire(struct gw_breaker *b, uint64_t now_ms, uint64_t *retry_after_ms);

/*
 * After a request acquired with gw_breaker_acquire: its outcome (GW_BREAKER_SUCCESS,
 * _FAILURE, _IGNORE), its latency (a success slower than slow_call_ms is a failure) and
 * whether it was a probe. Closed: counts it and opens the breaker when a threshold is crossed
 * (the thresholds are checked when a failure is recorded). Half-open probe: a failure reopens,
 * the half_open_requests-th success closes. Outcomes of requests sent before the breaker
 * opened are not counted. Thread-safe; lock-free on success.
 */
void gw_breaker_record(struct gw_breaker *b, uint64_t now_ms, int outcome, uint64_t latency_ms,
                       bool probe);

/* Closes the breaker and forgets the window and the consecutive failures (admin reset).
 * times_opened and opened_at are kept. Thread-safe. */
void gw_breaker_reset(struct gw_breaker *b, uint64_t now_ms);

/* A snapshot of the breaker for the admin API and metrics. Thread-safe. */
void gw_breaker_stats(const struct gw_breaker *b, uint64_t now_ms, struct gw_breaker_stats *out);

/* "closed", "open", "half_open"; "unknown" for anything else. */
const char *gw_breaker_state_name(int state);

#endif
