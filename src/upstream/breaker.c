/*
 * Circuit breaker and its lock-free rolling window. Contracts in breaker.h; the states and
 * parameters are described in docs/resilience.md.
 */
#include "upstream/breaker.h"

#include <stddef.h>

#include "core/error.h"

/* ---- rolling window ----------------------------------------------------------------------- */

#define WORD(tag, count) (((uint64_t)(tag) << 32) | (uint64_t)(count))
#define WORD_TAG(w) ((uint32_t)((w) >> 32))
#define WORD_COUNT(w) ((uint32_t)(w))

int gw_breaker_window_init(struct gw_breaker_window *w, uint64_t window_ms, uint32_t buckets)
{
    if (buckets == 0 || buckets > GW_BREAKER_MAX_BUCKETS || window_ms / buckets == 0)
        return GW_EINVAL;
    w->bucket_ms = window_ms / buckets;
    w->buckets = buckets;
    atomic_init(&w->floor_epoch, 0);
    for (size_t i = 0; i < GW_BREAKER_MAX_BUCKETS; i++) {
        atomic_init(&w->words[i][0], 0);
        atomic_init(&w->words[i][1], 0);
    }
    return 0;
}

void gw_breaker_window_add(struct gw_breaker_window *w, uint64_t now_ms, unsigned which, uint32_t n)
{
    uint64_t epoch = now_ms / w->bucket_ms;
    uint32_t tag = (uint32_t)epoch;
    _Atomic uint64_t *word = &w->words[epoch % w->buckets][which & 1];
    uint64_t old = atomic_load_explicit(word, memory_order_relaxed);
    for (;;) {
        uint32_t old_tag = WORD_TAG(old);
        uint64_t next;
        /*
         * Tags compare modulo 2^32. A bucket holding an older epoch is restarted at n by this
         * very CAS, which is why a reset never races with an increment. A bucket already
         * holding a newer epoch (another worker's clock is a little ahead) takes the count
         * rather than losing it.
         */
        if (old_tag == tag || (uint32_t)(old_tag - tag) < 0x80000000u) {
            uint32_t count = WORD_COUNT(old);
            count = count > UINT32_MAX - n ? UINT32_MAX : count + n;
            next = WORD(old_tag, count);
        } else {
            next = WORD(tag, n);
        }
        if (atomic_compare_exchange_weak_explicit(word, &old, next, memory_order_relaxed,
                                                  memory_order_relaxed))
            return;
    }
}

void gw_breaker_window_sum(const struct gw_breaker_window *w, uint64_t now_ms, uint64_t out[2])
{
    uint64_t epoch = now_ms / w->bucket_ms;
    uint64_t floor = atomic_load_explicit(&w->floor_epoch, memory_order_relaxed);
    uint64_t floor_age = epoch >= floor ? epoch - floor : 0;
    out[0] = 0;
    out[1] = 0;
    for (uint32_t i = 0; i < w->buckets; i++) {
        for (unsigned k = 0; k < 2; k++) {
            uint64_t v = atomic_load_explicit(&w->words[i][k], memory_order_relaxed);
            uint32_t age = (uint32_t)epoch - WORD_TAG(v);
            if (age < w->buckets && age <= floor_age)
                out[k] += WORD_COUNT(v);
        }
    }
}

void gw_breaker_window_reset(struct gw_breaker_window *w, uint64_t now_ms)
{
    uint64_t epoch = now_ms / w->bucket_ms;
    /* Older buckets are hidden by the floor; the current one must be emptied. */
    atomic_store_explicit(&w->floor_epoch, epoch, memory_order_relaxed);
    atomic_store_explicit(&w->words[epoch % w->buckets][0], WORD((uint32_t)epoch, 0),
                          memory_order_relaxed);
    atomic_store_explicit(&w->words[epoch % w->buckets][1], WORD((uint32_t)epoch, 0),
                          memory_order_relaxed);
}

/* ---- packed state word -------------------------------------------------------------------- */

/*
 * [ts:46 | successes:8 | taken:8 | state:2]. ts is when the current state began (opened_at
 * while open, the start of the probe round while half-open); taken and successes count the
 * half-open permits handed out and the probes that succeeded in this round.
 */
#define TS_MASK ((UINT64_C(1) << 46) - 1)

static uint64_t pack(int state, uint32_t taken, uint32_t successes, uint64_t ts)
{
    return ((ts & TS_MASK) << 18) | ((uint64_t)(successes & 0xff) << 10) |
           ((uint64_t)(taken & 0xff) << 2) | (uint64_t)(state & 3);
}

static int st_state(uint64_t s)
{
    return (int)(s & 3);
}

static uint32_t st_taken(uint64_t s)
{
    return (uint32_t)((s >> 2) & 0xff);
}

static uint32_t st_successes(uint64_t s)
{
    return (uint32_t)((s >> 10) & 0xff);
}

static uint64_t st_ts(uint64_t s)
{
    return s >> 18;
}

/* Milliseconds from now until ts + d; 0 if already past. Worker clocks differ a little, so
 * now may be slightly before ts. */
static uint64_t remaining(uint64_t now, uint64_t ts, uint64_t d)
{
    uint64_t end = ts + d;
    return now >= end ? 0 : end - now;
}

static bool cas_state(struct gw_breaker *b, uint64_t *expected, uint64_t next)
{
    return atomic_compare_exchange_weak_explicit(&b->state, expected, next, memory_order_acq_rel,
                                                 memory_order_acquire);
}

/* ---- breaker ------------------------------------------------------------------------------ */

void gw_breaker_conf_default(struct gw_breaker_conf *c)
{
    *c = (struct gw_breaker_conf){
        .failure_threshold = 5,
        .error_threshold_pct = 50,
        .minimum_requests = 20,
        .half_open_requests = 3,
        .buckets = 10,
        .window_ms = 10000,
        .open_duration_ms = 30000,
        .slow_call_ms = 0,
    };
}

int gw_breaker_conf_check(const struct gw_breaker_conf *c)
{
    if (c->error_threshold_pct > 100 || c->half_open_requests == 0 ||
        c->half_open_requests > GW_BREAKER_MAX_HALF_OPEN || c->open_duration_ms == 0 ||
        c->open_duration_ms > TS_MASK || c->buckets == 0 || c->buckets > GW_BREAKER_MAX_BUCKETS ||
        c->window_ms / c->buckets == 0)
        return GW_EINVAL;
    return 0;
}

int gw_breaker_init(struct gw_breaker *b, const struct gw_breaker_conf *c)
{
    int rc = gw_breaker_conf_check(c);
    if (rc < 0)
        return rc;
    b->conf = *c;
    atomic_init(&b->state, pack(GW_BREAKER_CLOSED, 0, 0, 0));
    atomic_init(&b->consecutive_failures, 0);
    atomic_init(&b->opened_at_ms, 0);
    atomic_init(&b->times_opened, 0);
    atomic_init(&b->times_half_opened, 0);
    atomic_init(&b->times_closed, 0);
    return gw_breaker_window_init(&b->window, c->window_ms, c->buckets);
}

/* Clears what a closed breaker judges by, so the failures that opened it do not reopen it at
 * once. Called before the state word says closed: in the other states nothing is counted. */
static void clear_counts(struct gw_breaker *b, uint64_t now_ms)
{
    atomic_store_explicit(&b->consecutive_failures, 0, memory_order_relaxed);
    gw_breaker_window_reset(&b->window, now_ms);
}

/* Opens the breaker from `from` (closed or half-open) unless another thread moved it first. */
static void trip(struct gw_breaker *b, uint64_t now_ms, int from)
{
    uint64_t s = atomic_load_explicit(&b->state, memory_order_acquire);
    while (st_state(s) == from) {
        if (cas_state(b, &s, pack(GW_BREAKER_OPEN, 0, 0, now_ms))) {
            atomic_store_explicit(&b->opened_at_ms, now_ms, memory_order_relaxed);
            atomic_fetch_add_explicit(&b->times_opened, 1, memory_order_relaxed);
            return;
        }
    }
}

int gw_breaker_acquire(struct gw_breaker *b, uint64_t now_ms, uint64_t *retry_after_ms)
{
    uint64_t open_ms = b->conf.open_duration_ms;
    uint64_t s = atomic_load_explicit(&b->state, memory_order_acquire);
    uint64_t wait = 0;
    while (wait == 0) {
        switch (st_state(s)) {
        case GW_BREAKER_CLOSED:
            return GW_BREAKER_ALLOW;
        case GW_BREAKER_OPEN:
            wait = remaining(now_ms, st_ts(s), open_ms);
            /* The first request after open_duration starts a probe round. */
            if (wait == 0 && cas_state(b, &s, pack(GW_BREAKER_HALF_OPEN, 1, 0, now_ms))) {
                atomic_fetch_add_explicit(&b->times_half_opened, 1, memory_order_relaxed);
                return GW_BREAKER_ALLOW_PROBE;
            }
            break;
        default: /* half-open */
            if (st_taken(s) < b->conf.half_open_requests) {
                if (cas_state(b, &s, s + (1u << 2)))
                    return GW_BREAKER_ALLOW_PROBE;
                break;
            }
            /* All permits are out. If none came back within open_duration the probes were
             * lost (a caller that never recorded): start a new round rather than stay stuck. */
            wait = remaining(now_ms, st_ts(s), open_ms);
            if (wait == 0 && cas_state(b, &s, pack(GW_BREAKER_HALF_OPEN, 1, 0, now_ms)))
                return GW_BREAKER_ALLOW_PROBE;
            if (wait > GW_BREAKER_PROBE_WAIT_MS)
                wait = GW_BREAKER_PROBE_WAIT_MS;
            break;
        }
        /* wait == 0 here means a CAS lost to another thread: s was reloaded, decide again. */
    }
    if (retry_after_ms)
        *retry_after_ms = wait;
    return GW_BREAKER_REJECT;
}

/* A probe finished: success counts toward closing, failure reopens, ignore gives the permit
 * back. Returns false when the probe round is over (not half-open any more). */
static bool record_probe(struct gw_breaker *b, uint64_t now_ms, bool failed, int outcome)
{
    uint64_t s = atomic_load_explicit(&b->state, memory_order_acquire);
    while (st_state(s) == GW_BREAKER_HALF_OPEN) {
        if (outcome == GW_BREAKER_IGNORE) {
            if (st_taken(s) == 0 || st_taken(s) <= st_successes(s))
                return true;
            if (cas_state(b, &s, s - (1u << 2)))
                return true;
            continue;
        }
        if (failed) {
            trip(b, now_ms, GW_BREAKER_HALF_OPEN);
            return true;
        }
        uint32_t ok = st_successes(s) + 1;
        if (ok < b->conf.half_open_requests) {
            if (cas_state(b, &s, s + (1u << 10)))
                return true;
            continue;
        }
        clear_counts(b, now_ms);
        if (cas_state(b, &s, pack(GW_BREAKER_CLOSED, 0, 0, now_ms))) {
            atomic_fetch_add_explicit(&b->times_closed, 1, memory_order_relaxed);
            return true;
        }
    }
    return false;
}

void gw_breaker_record(struct gw_breaker *b, uint64_t now_ms, int outcome, uint64_t latency_ms,
                       bool probe)
{
    bool failed = outcome == GW_BREAKER_FAILURE ||
                  (outcome == GW_BREAKER_SUCCESS && b->conf.slow_call_ms != 0 &&
                   latency_ms > b->conf.slow_call_ms);
    if (probe && record_probe(b, now_ms, failed, outcome))
        return;
    if (outcome == GW_BREAKER_IGNORE)
        return;

    /* Only a closed breaker counts: a request that started before it opened says nothing
     * about the next probe round, and a late probe after the round ended is stale. A probe
     * whose round was closed by the others counts as an ordinary closed-state request. */
    uint64_t s = atomic_load_explicit(&b->state, memory_order_acquire);
    if (st_state(s) != GW_BREAKER_CLOSED)
        return;

    gw_breaker_window_add(&b->window, now_ms, 0, 1);
    if (!failed) {
        /* Load first: the common case (already 0) then never writes the shared line. */
        if (atomic_load_explicit(&b->consecutive_failures, memory_order_relaxed) != 0)
            atomic_store_explicit(&b->consecutive_failures, 0, memory_order_relaxed);
        return;
    }
    gw_breaker_window_add(&b->window, now_ms, 1, 1);
    uint32_t consecutive =
        atomic_fetch_add_explicit(&b->consecutive_failures, 1, memory_order_relaxed) + 1;
    bool open = b->conf.failure_threshold != 0 && consecutive >= b->conf.failure_threshold;
    if (!open && b->conf.error_threshold_pct != 0) {
        uint64_t sum[2];
        gw_breaker_window_sum(&b->window, now_ms, sum);
        open = sum[0] >= b->conf.minimum_requests && sum[0] > 0 &&
               sum[1] * 100 >= (uint64_t)b->conf.error_threshold_pct * sum[0];
    }
    if (open)
        trip(b, now_ms, GW_BREAKER_CLOSED);
}

void gw_breaker_reset(struct gw_breaker *b, uint64_t now_ms)
{
    clear_counts(b, now_ms);
    atomic_store_explicit(&b->state, pack(GW_BREAKER_CLOSED, 0, 0, now_ms), memory_order_release);
}

void gw_breaker_stats(const struct gw_breaker *b, uint64_t now_ms, struct gw_breaker_stats *out)
{
    uint64_t s = atomic_load_explicit(&b->state, memory_order_acquire);
    uint64_t sum[2];
    gw_breaker_window_sum(&b->window, now_ms, sum);
    out->state = st_state(s);
    out->since_ms = st_ts(s);
    out->opened_at_ms = atomic_load_explicit(&b->opened_at_ms, memory_order_relaxed);
    out->next_probe_ms = 0;
    out->probes_in_flight = 0;
    if (out->state == GW_BREAKER_OPEN) {
        out->next_probe_ms = st_ts(s) + b->conf.open_duration_ms;
    } else if (out->state == GW_BREAKER_HALF_OPEN) {
        bool permits_left = st_taken(s) < b->conf.half_open_requests;
        out->next_probe_ms = permits_left ? now_ms : st_ts(s) + b->conf.open_duration_ms;
        /* A late success from an earlier round may leave successes above taken. */
        out->probes_in_flight = st_taken(s) > st_successes(s) ? st_taken(s) - st_successes(s) : 0;
    }
    out->window_requests = sum[0];
    out->window_failures = sum[1] < sum[0] ? sum[1] : sum[0];
    out->consecutive_failures =
        atomic_load_explicit(&b->consecutive_failures, memory_order_relaxed);
    out->times_opened = atomic_load_explicit(&b->times_opened, memory_order_relaxed);
    out->times_half_opened = atomic_load_explicit(&b->times_half_opened, memory_order_relaxed);
    out->times_closed = atomic_load_explicit(&b->times_closed, memory_order_relaxed);
}

const char *gw_breaker_state_name(int state)
{
    switch (state) {
    case GW_BREAKER_CLOSED:
        return "closed";
    case GW_BREAKER_OPEN:
        return "open";
    case GW_BREAKER_HALF_OPEN:
        return "half_open";
    default:
        return "unknown";
    }
}
