/*
 * p2c_ewma: power of two choices over a peak-sensitive moving average of latency, the
 * algorithm of Finagle and Linkerd (tower's PeakEwma).
 *
 * A pick draws two distinct eligible targets at random and keeps the cheaper, where
 *     cost = (ewma_us + 1) * (inflight + 1) / weight.
 * Two random choices avoid the herding of "always the best" (every worker piling onto the same
 * target between updates) while still steering away from slow or loaded targets.
 *
 * The average is time-weighted: a sample taken dt after the previous one moves the estimate
 * by a fraction 1 - exp(-dt / tau) towards the sample, and a sample above the estimate replaces
 * it at once (peak sensitivity: slowdowns are seen immediately, recoveries over ~tau). Reads
 * decay the estimate towards zero by exp(-dt / tau) since the last sample, so a target that
 * lost every comparison (and so gets no samples) looks cheaper over time and is probed again:
 * a 10x slower target is retried after about tau * ln(10). A failure counts as a sample of at
 * least failure_penalty_us, so a target that fails fast does not attract traffic.
 *
 * Estimate and timestamp share one 64-bit word (see struct gw_balance_target) updated by CAS.
 */
#include <math.h>
#include <string.h>

#include "balance/internal.h"

/* The estimate is a float: integer microseconds lose up to 1 us to truncation at every update,
 * which at one update per ms moves the average faster than the samples do. A target without
 * samples holds the initial estimate negated, so that its first sample replaces it outright. */
static float word_estimate(uint64_t word)
{
    uint32_t bits = (uint32_t)(word >> 32);
    float f;
    memcpy(&f, &bits, sizeof(f));
    return fabsf(f);
}

static bool word_has_sample(uint64_t word)
{
    return (word >> 63) == 0;
}

static uint64_t make_word(float est, uint32_t stamp)
{
    uint32_t bits;
    memcpy(&bits, &est, sizeof(bits));
    return (uint64_t)bits << 32 | stamp;
}

uint64_t gw__balance_ewma_word(uint32_t initial_us)
{
    return make_word(-(float)initial_us, 0);
}

static uint32_t now_ms(const struct gw_balancer *b)
{
    uint64_t now = b->clock_us(b->clock_ctx);
    return (uint32_t)((now - b->epoch_us) / 1000);
}

/* Milliseconds since a stamp; a stamp slightly in the future (another thread's later clock
 * read) counts as now. */
static uint32_t elapsed_ms(uint32_t now, uint32_t stamp)
{
    int32_t d = (int32_t)(now - stamp);
    return d < 0 ? 0 : (uint32_t)d;
}

static double decay_factor(const struct gw_balancer *b, uint32_t dt_ms)
{
    return exp(-(double)dt_ms * 1000.0 / (double)b->decay_us);
}

/* Target i's estimate decayed to `now`; *sampled says whether it has had a sample yet. */
static double estimate_at(const struct gw_balancer *b, size_t i, uint32_t now, bool *sampled)
{
    uint64_t word = atomic_load_explicit(&b->targets[i].ewma, memory_order_relaxed);
    if (sampled != NULL)
        *sampled = word_has_sample(word);
    return word_estimate(word) * decay_factor(b, elapsed_ms(now, (uint32_t)word));
}

uint64_t gw_balancer_ewma_us(const struct gw_balancer *b, size_t i)
{
    return (uint64_t)(estimate_at(b, i, now_ms(b), NULL) + 0.5);
}

static double cost(const struct gw_balancer *b, size_t i, double est)
{
    double inflight = atomic_load_explicit(&b->targets[i].inflight, memory_order_relaxed);
    return (est + 1.0) * (inflight + 1.0) / b->targets[i].weight;
}

/* The cheaper of x and y (x on a tie). A target without samples yet (new, or just after a
 * reload) borrows its partner's estimate, so the pair is decided by in-flight counts: a fixed
 * guess would either starve it (guess too high) or flood it (too low). */
static int cheaper(const struct gw_balancer *b, size_t x, size_t y, uint32_t now)
{
    bool sx, sy;
    double ex = estimate_at(b, x, now, &sx), ey = estimate_at(b, y, now, &sy);
    if (!sx && sy)
        ex = ey;
    else if (sx && !sy)
        ey = ex;
    return (int)(cost(b, y, ey) < cost(b, x, ex) ? y : x);
}

/* Two distinct indexes below m from one random number. */
static void two_of(uint64_t rnd, size_t m, size_t *x, size_t *y)
{
    *x = (size_t)gw__balance_below(rnd, m);
    *y = (size_t)gw__balance_below(gw__balance_mix(rnd), m - 1);
    if (*y >= *x)
        (*y)++;
}

static int p2c_pick(struct gw_balancer *b, const struct gw_balance_key *key,
                    const struct gw__balance_filter *f, uint64_t rnd)
{
    uint16_t elig[GW_BALANCE_MAX_TARGETS];
    size_t x, y, m = 0;

    (void)key;
    if (b->n == 1)
        return gw__balance_eligible(b, f, 0) ? 0 : -1;
    two_of(rnd, b->n, &x, &y);
    bool ex = gw__balance_eligible(b, f, x), ey = gw__balance_eligible(b, f, y);
    if (ex && ey)
        return cheaper(b, x, y, now_ms(b));
    /* Some targets are out: choose two among the eligible ones instead, so the remaining
     * targets still compete in pairs. */
    for (size_t i = 0; i < b->n; i++) {
        if (i == x ? ex : i == y ? ey : gw__balance_eligible(b, f, i))
            elig[m++] = (uint16_t)i;
    }
    if (m == 0)
        return -1;
    if (m == 1)
        return elig[0];
    two_of(gw__balance_mix(rnd ^ UINT64_C(0x5bd1e995)), m, &x, &y);
    return cheaper(b, elig[x], elig[y], now_ms(b));
}

static void p2c_release(struct gw_balancer *b, int i, bool success, uint64_t latency_us)
{
    struct gw_balance_target *t = &b->targets[i];
    double sample = (double)latency_us;
    uint32_t now = now_ms(b);

    if (!success && sample < b->failure_penalty_us)
        sample = b->failure_penalty_us;
    uint64_t old = atomic_load_explicit(&t->ewma, memory_order_relaxed);
    for (;;) {
        double est = word_estimate(old);
        uint32_t stamp = (uint32_t)old;
        double next;
        if (sample >= est || !word_has_sample(old)) {
            next = sample;
        } else {
            double w = decay_factor(b, elapsed_ms(now, stamp));
            next = est * w + sample * (1.0 - w);
        }
        uint32_t new_stamp = (int32_t)(now - stamp) < 0 ? stamp : now;
        uint64_t word = make_word((float)next, new_stamp);
        if (atomic_compare_exchange_weak_explicit(&t->ewma, &old, word, memory_order_relaxed,
                                                  memory_order_relaxed))
            break;
    }
}

const struct gw__balance_ops gw__balance_p2c_ewma = {
    .name = "p2c_ewma",
    .pick = p2c_pick,
    .release = p2c_release,
};
