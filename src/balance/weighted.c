/*
 * weighted_round_robin: nginx's smooth weighted round robin, run once at build time.
 *
 * nginx keeps a `current` counter per target and on each pick adds every target's weight to its
 * counter, takes the largest, and subtracts the total from it. That state would need a lock to
 * share between workers. The sequence it produces is periodic with period sum(weights) (every
 * counter is back to zero after that many picks), so we run the algorithm offline over one
 * period and let workers index the sequence with one shared atomic counter. Weights {5,1,1}
 * give a a b a c a a: heavy targets interleave with the light ones instead of bursting.
 *
 * Weights are first divided by their greatest common divisor; if the period still exceeds
 * GW__BALANCE_WRR_MAX_SLOTS they are scaled down to fit (each kept >= 1), which changes the
 * shares by at most one slot in GW__BALANCE_WRR_MAX_SLOTS per target.
 */
#include <stdlib.h>

#include "balance/internal.h"
#include "core/error.h"

static uint64_t gcd64(uint64_t a, uint64_t b)
{
    while (b != 0) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static int wrr_build(struct gw_balancer *b)
{
    size_t n = b->n;
    uint64_t g = 0, sum = 0;
    uint64_t *w = NULL;
    int64_t *cur = NULL;
    int rc = GW_ENOMEM;

    if (n == 0 || b->total_weight == 0)
        return 0; /* pick() returns -1 before looking at the sequence */
    w = calloc(n, sizeof(*w));
    cur = calloc(n, sizeof(*cur));
    if (w == NULL || cur == NULL)
        goto fail;
    for (size_t i = 0; i < n; i++)
        g = gcd64(g, b->targets[i].weight);
    for (size_t i = 0; i < n; i++) {
        w[i] = b->targets[i].weight / g;
        sum += w[i];
    }
    if (sum > GW__BALANCE_WRR_MAX_SLOTS) {
        uint64_t scaled = 0;
        for (size_t i = 0; i < n; i++) {
            if (w[i] == 0)
                continue;
            /* w * MAX fits: w <= 2^32 and MAX = 2^12. */
            w[i] = w[i] * GW__BALANCE_WRR_MAX_SLOTS / sum;
            if (w[i] == 0)
                w[i] = 1;
            scaled += w[i];
        }
        sum = scaled;
    }
    b->seq = malloc(sum * sizeof(*b->seq));
    if (b->seq == NULL)
        goto fail;
    for (uint64_t k = 0; k < sum; k++) {
        size_t best = n;
        for (size_t i = 0; i < n; i++) {
            if (w[i] == 0)
                continue;
            cur[i] += (int64_t)w[i];
            if (best == n || cur[i] > cur[best])
                best = i;
        }
        cur[best] -= (int64_t)sum;
        b->seq[k] = (uint16_t)best;
    }
    b->seq_len = (size_t)sum;
    rc = 0;
fail:
    free(w);
    free(cur);
    return rc;
}

/* A slot whose target is not eligible goes to a weighted random eligible target, which keeps
 * the remaining targets' shares proportional to their weights. */
static int wrr_pick(struct gw_balancer *b, const struct gw_balance_key *key,
                    const struct gw__balance_filter *f, uint64_t rnd)
{
    (void)key;
    if (b->seq_len == 0)
        return -1;
    uint64_t c = atomic_fetch_add_explicit(&b->counter, 1, memory_order_relaxed);
    size_t i = b->seq[c % b->seq_len];

    if (gw__balance_eligible(b, f, i))
        return (int)i;
    return gw__balance_pick_random(b, f, rnd, true);
}

const struct gw__balance_ops gw__balance_weighted = {
    .name = "weighted_round_robin",
    .build = wrr_build,
    .pick = wrr_pick,
};
