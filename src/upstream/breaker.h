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
#ifndef GW_POLICY_BREAKER_H
#define GW_POLICY_BREAKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* ---- rolling window: two counters per bucket, lock-free ---------------------------------- */

#define GW_BREAKER_MAX_BUCKETS 64

/*
 * A window of `buckets` buckets of `bucket_ms` each. A bucket is keyed by its epoch
 * (now_ms / bucket_ms); each of its two counters is one 64-bit word [epoch tag:32 | count:32]
 * so a reused bucket is reset by the same CAS that counts into it: no update is ever lost.
 */
struct gw_breaker_window {
    uint64_t bucket_ms;
    uint32_t buckets;
    /** epoch of the last reset: older buckets are ignored by gw_breaker_window_sum */
    _Atomic uint64_t floor_epoch;
    _Atomic uint64_t words[GW_BREAKER_MAX_BUCKETS][2];
};

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

enum {
    GW_BREAKER_CLOSED = 0,
    GW_BREAKER_OPEN = 1,
    GW_BREAKER_HALF_OPEN = 2,
};

/* gw_breaker_acquire results */
enum {
    GW_BREAKER_ALLOW = 0,       /* closed: send, then record with probe = false */
    GW_BREAKER_ALLOW_PROBE = 1, /* half-open permit taken: send, then record with probe = true */
    GW_BREAKER_REJECT = 2,      /* open: answer 503 with Retry-After, do not touch the upstream */
};

/* gw_breaker_record outcomes */
enum {
    GW_BREAKER_SUCCESS = 0,
    GW_BREAKER_FAILURE = 1,
    /* No verdict on the upstream (the client went away, the request was refused locally):
     * nothing is counted and a probe's permit is given back. */
    GW_BREAKER_IGNORE = 2,
};

#define GW_BREAKER_MAX_HALF_OPEN 255
/* Retry-After for a request refused while all half-open probes are in flight. */
#define GW_BREAKER_PROBE_WAIT_MS 1000

struct gw_breaker_conf {
    uint32_t failure_threshold;   /* consecutive failures that open it; 0 = off */
    uint32_t error_threshold_pct; /* failure % over the window that opens it; 0 = off */
    uint32_t minimum_requests;    /* the percentage is judged only from this many requests */
    uint32_t half_open_requests;  /* probes let through when half-open, 1..255 */
    uint32_t buckets;             /* the window is split in this many buckets */
    uint64_t window_ms;
    uint64_t open_duration_ms; /* open → half-open after this long, >= 1 */
    uint64_t slow_call_ms;     /* a call slower than this counts as a failure; 0 = off */
};

struct gw_breaker {
    struct gw_breaker_conf conf;
    /** [ts:46 | successes:8 | taken:8 | state:2]; ts is when the current state began */
    _Atomic uint64_t state;
    _Atomic uint32_t consecutive_failures;
    _Atomic uint64_t opened_at_ms; /* last closed/half-open → open transition; 0 = never */
    _Atomic uint64_t times_opened;
    struct gw_breaker_window window; /* counter 0: requests, 1: failures (closed state only) */
};

struct gw_breaker_stats {
    int state;
    uint64_t since_ms;      /* when the current state began; 0: closed since it was made */
    uint64_t opened_at_ms;  /* 0 if it never opened */
    uint64_t next_probe_ms; /* open: when the next request becomes a probe; 0 when closed */
    uint64_t window_requests;
    uint64_t window_failures;
    uint32_t consecutive_failures;
    uint32_t probes_in_flight; /* half-open: permits taken and not yet resolved */
    uint64_t times_opened;
};

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
