/* Rate-limit algorithms; see state/ratelimit.h for the contracts, docs/ratelimit.md for the
 * semantics of each decision field. */
#include "state/ratelimit.h"

#include "core/error.h"

#define GW_RL_TAG_MASK UINT64_C(0xffffffff)
#define GW_RL_MAX_SPAN (UINT64_C(1) << 61)

static uint64_t ceil_div(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}

int gw_rl_conf_prepare(struct gw_rl_conf *c)
{
    if (c->limit == 0 || c->limit > GW_RL_TAG_MASK || c->period_us == 0 ||
        c->period_us >= (UINT64_C(1) << 40) || c->burst > GW_RL_TAG_MASK)
        return GW_EINVAL;
    c->interval_us = 0;
    c->bucket_us = 0;
    switch (c->algo) {
    case GW_RL_GCRA:
    case GW_RL_TOKEN_BUCKET:
        c->capacity = c->burst ? c->burst : c->limit;
        c->interval_us = ceil_div(c->period_us, c->limit);
        if (c->capacity > GW_RL_MAX_SPAN / c->interval_us)
            return GW_EINVAL;
        return 0;
    case GW_RL_SLIDING_WINDOW:
        if (c->sw_buckets == 0)
            c->sw_buckets = GW_RL_SW_DEFAULT_BUCKETS;
        if (c->sw_buckets > GW_RL_SW_MAX_BUCKETS)
            return GW_EINVAL;
        c->bucket_us = ceil_div(c->period_us, c->sw_buckets);
        c->capacity = c->limit;
        return 0;
    case GW_RL_FIXED_WINDOW:
        c->capacity = c->limit;
        return 0;
    }
    return GW_EINVAL;
}

void gw_rl_state_init(struct gw_rl_state *s, const struct gw_rl_conf *c)
{
    atomic_init(&s->word, 0);
    atomic_flag_clear(&s->lock);
    s->credit_us = c->capacity * c->interval_us;
    s->last_us = 0;
    for (unsigned i = 0; i <= GW_RL_SW_MAX_BUCKETS; i++)
        s->slot[i] = 0;
}

static void spin_lock(struct gw_rl_state *s)
{
    while (atomic_flag_test_and_set_explicit(&s->lock, memory_order_acquire)) {
    }
}

static void spin_unlock(struct gw_rl_state *s)
{
    atomic_flag_clear_explicit(&s->lock, memory_order_release);
}

/* ---- GCRA: one TAT word, CAS loop ----------------------------------------------------------- */

static void decide_gcra(const struct gw_rl_conf *c, struct gw_rl_state *s, uint64_t now,
                        struct gw_rl_decision *out)
{
    uint64_t t = c->interval_us;
    uint64_t span = c->capacity * t; /* the tolerance: a full bucket */
    uint64_t tat = atomic_load_explicit(&s->word, memory_order_relaxed);
    for (;;) {
        uint64_t base = tat > now ? tat : now;
        uint64_t next = base + t;
        if (next - now > span) {
            /* refused: the request fits once next - now == span */
            out->allowed = false;
            out->remaining = 0;
            out->retry_after_us = next - now - span;
            out->reset_after_us = out->retry_after_us;
            return;
        }
        if (atomic_compare_exchange_weak_explicit(&s->word, &tat, next, memory_order_acq_rel,
                                                  memory_order_relaxed)) {
            uint64_t slack = span - (next - now); /* unused credit, in microseconds */
            out->allowed = true;
            out->remaining = slack / t;
            out->reset_after_us = (out->remaining + 1) * t - slack;
            out->retry_after_us = 0;
            return;
        }
    }
}

/* ---- token bucket: credit + last time under the spinlock, same arithmetic as GCRA ----------- */

static uint64_t tb_refill(const struct gw_rl_conf *c, struct gw_rl_state *s, uint64_t now)
{
    uint64_t span = c->capacity * c->interval_us;
    uint64_t credit = s->credit_us;
    if (now > s->last_us) {
        uint64_t elapsed = now - s->last_us;
        credit = elapsed >= span - credit ? span : credit + elapsed;
        s->last_us = now;
    }
    s->credit_us = credit;
    return credit;
}

static void decide_token_bucket(const struct gw_rl_conf *c, struct gw_rl_state *s, uint64_t now,
                                struct gw_rl_decision *out)
{
    uint64_t t = c->interval_us;
    spin_lock(s);
    uint64_t credit = tb_refill(c, s, now);
    if (credit < t) {
        out->allowed = false;
        out->remaining = 0;
        out->retry_after_us = t - credit;
        out->reset_after_us = out->retry_after_us;
    } else {
        credit -= t;
        s->credit_us = credit;
        out->allowed = true;
        out->remaining = credit / t;
        out->reset_after_us = t - credit % t;
        out->retry_after_us = 0;
    }
    spin_unlock(s);
}

/* ---- fixed window: [epoch:32 | count:32], CAS loop ------------------------------------------ */

/* The full epoch of `word` given the current epoch (a word from a later window, seen when the
 * clock went back, counts as that later window). */
static uint64_t fw_epoch_of(uint64_t word, uint64_t cur)
{
    uint32_t tag = (uint32_t)(word >> 32);
    uint32_t ahead = tag - (uint32_t)cur;
    if (ahead != 0 && ahead < UINT32_C(0x80000000))
        return cur + ahead;
    return cur - (uint32_t)((uint32_t)cur - tag);
}

static void decide_fixed_window(const struct gw_rl_conf *c, struct gw_rl_state *s, uint64_t now,
                                struct gw_rl_decision *out)
{
    uint64_t cur = now / c->period_us;
    uint64_t word = atomic_load_explicit(&s->word, memory_order_relaxed);
    for (;;) {
        uint64_t epoch = fw_epoch_of(word, cur);
        uint64_t count = word & GW_RL_TAG_MASK;
        /* A count of 0 is a fresh key (tag 0 means nothing): without this, once the epoch's low
         * 32 bits pass 2^31 the fresh tag would read as a later window. */
        if (count == 0 || epoch < cur) {
            epoch = cur;
            count = 0;
        }
        uint64_t reset = (epoch + 1) * c->period_us - now;
        if (count >= c->limit) {
            out->allowed = false;
            out->remaining = 0;
            out->reset_after_us = reset;
            out->retry_after_us = reset;
            return;
        }
        uint64_t next = ((epoch & GW_RL_TAG_MASK) << 32) | (count + 1);
        if (atomic_compare_exchange_weak_explicit(&s->word, &word, next, memory_order_acq_rel,
                                                  memory_order_relaxed)) {
            out->allowed = true;
            out->remaining = c->limit - count - 1;
            out->reset_after_us = reset;
            out->retry_after_us = 0;
            return;
        }
    }
}

/* ---- sliding window: N + 1 sub-bucket counters under the spinlock --------------------------- */

/* Count of epoch e held in the slots, 0 when its slot holds another epoch. */
static uint64_t sw_count(const struct gw_rl_conf *c, const struct gw_rl_state *s, uint64_t e)
{
    uint64_t w = s->slot[e % (c->sw_buckets + 1)];
    return (w >> 32) == (e & GW_RL_TAG_MASK) ? (w & GW_RL_TAG_MASK) : 0;
}

static void decide_sliding_window(const struct gw_rl_conf *c, struct gw_rl_state *s, uint64_t now,
                                  struct gw_rl_decision *out)
{
    uint64_t n = c->sw_buckets;
    uint64_t b = c->bucket_us;
    spin_lock(s);
    if (now < s->last_us)
        now = s->last_us;
    s->last_us = now;
    uint64_t cur = now / b;
    uint64_t first = cur >= n ? cur - n : 0;
    uint64_t count = 0;
    for (uint64_t e = first; e <= cur; e++)
        count += sw_count(c, s, e);
    out->allowed = count < c->limit;
    if (out->allowed) {
        uint64_t here = sw_count(c, s, cur) + 1;
        s->slot[cur % (n + 1)] = ((cur & GW_RL_TAG_MASK) << 32) | here;
        count++;
    }
    /* Epoch e stops counting at (e + n + 1) * b. reset: the oldest counted request leaves;
     * retry: enough have left that count < limit. */
    uint64_t need = out->allowed ? 1 : count - c->limit + 1;
    uint64_t gone = 0;
    uint64_t reset = 0;
    for (uint64_t e = first; e <= cur; e++) {
        gone += sw_count(c, s, e);
        if (gone > 0 && reset == 0)
            reset = (e + n + 1) * b - now;
        if (gone >= need) {
            out->retry_after_us = out->allowed ? 0 : (e + n + 1) * b - now;
            break;
        }
    }
    spin_unlock(s);
    out->remaining = out->allowed ? c->limit - count : 0;
    out->reset_after_us = reset;
}

void gw_rl_decide(const struct gw_rl_conf *c, struct gw_rl_state *s, uint64_t now_us,
                  struct gw_rl_decision *out)
{
    out->limit = c->capacity;
    switch (c->algo) {
    case GW_RL_GCRA:
        decide_gcra(c, s, now_us, out);
        return;
    case GW_RL_TOKEN_BUCKET:
        decide_token_bucket(c, s, now_us, out);
        return;
    case GW_RL_SLIDING_WINDOW:
        decide_sliding_window(c, s, now_us, out);
        return;
    case GW_RL_FIXED_WINDOW:
        decide_fixed_window(c, s, now_us, out);
        return;
    }
    out->allowed = false;
    out->remaining = 0;
    out->reset_after_us = 0;
    out->retry_after_us = 0;
}

bool gw_rl_state_idle(const struct gw_rl_conf *c, struct gw_rl_state *s, uint64_t now_us)
{
    bool idle = true;
    switch (c->algo) {
    case GW_RL_GCRA:
        return atomic_load_explicit(&s->word, memory_order_acquire) <= now_us;
    case GW_RL_TOKEN_BUCKET:
        spin_lock(s);
        idle = tb_refill(c, s, now_us) == c->capacity * c->interval_us;
        spin_unlock(s);
        return idle;
    case GW_RL_FIXED_WINDOW: {
        uint64_t word = atomic_load_explicit(&s->word, memory_order_acquire);
        uint64_t cur = now_us / c->period_us;
        return (word & GW_RL_TAG_MASK) == 0 || fw_epoch_of(word, cur) < cur;
    }
    case GW_RL_SLIDING_WINDOW: {
        spin_lock(s);
        uint64_t now = now_us < s->last_us ? s->last_us : now_us;
        uint64_t cur = now / c->bucket_us;
        uint64_t first = cur >= c->sw_buckets ? cur - c->sw_buckets : 0;
        for (uint64_t e = first; e <= cur && idle; e++)
            idle = sw_count(c, s, e) == 0;
        spin_unlock(s);
        return idle;
    }
    }
    return idle;
}
