/*
 * Circuit breaker and its rolling window: types only (upstream/breaker.h has the functions and
 * the contract), so the snapshot can hold breakers without depending on their code.
 */
#ifndef GW_UPSTREAM_BREAKER_T_H
#define GW_UPSTREAM_BREAKER_T_H

#include <stdatomic.h>
#include <stdint.h>

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
    _Atomic uint64_t times_half_opened; /* open → half-open (a probe round began) */
    _Atomic uint64_t times_closed;      /* half-open → closed (the probes succeeded) */
    struct gw_breaker_window window;    /* counter 0: requests, 1: failures (closed state only) */
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
    uint64_t times_half_opened;
    uint64_t times_closed;
};

#endif
