/*
 * Rate-limit algorithms: GCRA, token bucket, sliding window, fixed window.
 *
 * Every decision takes the time in (`now_us`, any monotonic microsecond clock), so there is no
 * clock read inside and tests are deterministic. A decision reports what the RateLimit-* and
 * Retry-After headers need, and those values are true: a client that sends only while
 * `remaining > 0`, or after `retry_after_us` when refused, is never refused (single key, single
 * client). See docs/ratelimit.md for the semantics of each field per algorithm.
 *
 * Concurrency: gw_rl_decide is thread-safe on a shared state.
 *   - GCRA and fixed window: lock-free, one CAS loop on one 64-bit word.
 *   - token bucket and sliding window: a per-state spinlock around a few arithmetic steps.
 * No update is ever lost: N threads x M requests against a limit admit exactly the limit.
 */
#ifndef GW_STATE_RATELIMIT_H
#define GW_STATE_RATELIMIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum gw_rl_algo {
    GW_RL_GCRA = 0,
    GW_RL_TOKEN_BUCKET = 1,
    GW_RL_SLIDING_WINDOW = 2,
    GW_RL_FIXED_WINDOW = 3,
};

/* Sliding window: sub-buckets per window (the default) and the most allowed. */
#define GW_RL_SW_DEFAULT_BUCKETS 10u
#define GW_RL_SW_MAX_BUCKETS 15u

/*
 * One limit: `limit` requests per `period_us`.
 *   GCRA / token bucket: refill rate limit/period_us, capacity `burst` (0 means burst = limit).
 *   windows: at most `limit` requests per window of `period_us`; `burst` is ignored.
 * Fill the public fields, then call gw_rl_conf_prepare, which checks them and computes the rest.
 */
struct gw_rl_conf {
    enum gw_rl_algo algo;
    uint64_t limit;
    uint64_t period_us;
    uint64_t burst;
    uint32_t sw_buckets; /* sliding window only; 0 means GW_RL_SW_DEFAULT_BUCKETS */
    /* computed by gw_rl_conf_prepare */
    uint64_t interval_us; /* buckets: emission interval ceil(period_us / limit) */
    uint64_t bucket_us;   /* sliding window: ceil(period_us / sw_buckets) */
    uint64_t capacity;    /* the RateLimit-Limit value: burst (buckets) or limit (windows) */
};

/*
 * Per-key state, big enough for every algorithm (160 bytes on LP64). The layout is private to
 * ratelimit_algos.c; callers only init it and pass it to gw_rl_decide / gw_rl_state_idle.
 */
struct gw_rl_state {
    _Atomic uint64_t word; /* GCRA: TAT; fixed window: [epoch:32 | count:32] */
    atomic_flag lock;      /* token bucket, sliding window */
    uint64_t credit_us;    /* token bucket: credit in microseconds (tokens * interval) */
    uint64_t last_us;      /* token bucket: time of the last update */
    uint64_t slot[GW_RL_SW_MAX_BUCKETS + 1]; /* sliding window: [epoch:32 | count:32] */
};

struct gw_rl_decision {
    bool allowed;
    uint64_t limit;          /* RateLimit-Limit */
    uint64_t remaining;      /* RateLimit-Remaining, after this request */
    uint64_t reset_after_us; /* RateLimit-Reset: until remaining next increases (0: at max) */
    uint64_t retry_after_us; /* Retry-After when refused: earliest success; 0 when allowed */
};

/* Checks `c` (limit >= 1, period_us >= 1, limit and burst < 2^32, period_us < 2^40,
 * sw_buckets <= GW_RL_SW_MAX_BUCKETS, a known algo) and fills the computed fields.
 * Returns 0 or GW_EINVAL. */
int gw_rl_conf_prepare(struct gw_rl_conf *c);

/* Puts `s` in its initial, full state for the prepared conf `c`. Not thread-safe. */
void gw_rl_state_init(struct gw_rl_state *s, const struct gw_rl_conf *c);

/* Decides one request at now_us against `s`, counting it when allowed, and fills `out`.
 * Thread-safe. `now_us` should be monotonic; a time earlier than one already seen is treated
 * as that time (never refunds). now_us must stay below 2^62. */
void gw_rl_decide(const struct gw_rl_conf *c, struct gw_rl_state *s, uint64_t now_us,
                  struct gw_rl_decision *out);

/* True when `s` is back at its initial state at now_us (full allowance), so the key holding it
 * can be forgotten without changing any future decision. Thread-safe (a snapshot). */
bool gw_rl_state_idle(const struct gw_rl_conf *c, struct gw_rl_state *s, uint64_t now_us);

#endif
