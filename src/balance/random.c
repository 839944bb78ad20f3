/* random: a target drawn at random, proportionally to weight (uniform when weights are equal).
 * Also the shared fallback of the other strategies when their first choice is not eligible. */
#include "balance/internal.h"

/* Slow path: one pass that asks `usable` once per target and records the eligible ones, then a
 * draw over that set. */
static int pick_among_eligible(struct gw_balancer *b, const struct gw__balance_filter *f,
                               uint64_t rnd, bool weighted)
{
    uint64_t bits[GW_BALANCE_EXCLUDE_WORDS] = {0};
    uint64_t total = 0;

    for (size_t i = 0; i < b->n; i++) {
        if (gw__balance_eligible(b, f, i)) {
            bits[i / 64] |= UINT64_C(1) << (i % 64);
            total += weighted ? b->targets[i].weight : 1;
        }
    }
    if (total == 0)
        return -1;
    uint64_t r = gw__balance_below(rnd, total);
    for (size_t i = 0; i < b->n; i++) {
        if ((bits[i / 64] >> (i % 64) & 1) == 0)
            continue;
        uint64_t w = weighted ? b->targets[i].weight : 1;
        if (r < w)
            return (int)i;
        r -= w;
    }
    return -1; /* not reached */
}

int gw__balance_pick_random(struct gw_balancer *b, const struct gw__balance_filter *f, uint64_t rnd,
                            bool weighted)
{
    size_t i;

    if (b->n == 0 || b->total_weight == 0)
        return -1;
    /* Fast path: draw over all targets and keep the draw when it is eligible. Redrawing over the
     * eligible ones otherwise keeps every eligible target's probability proportional to its
     * weight: w/W + (W_out/W) * w/W_in = w/W_in. */
    if (weighted)
        i = gw__balance_weight_slot(b, gw__balance_below(rnd, b->total_weight));
    else
        i = (size_t)gw__balance_below(rnd, b->n);
    if (gw__balance_eligible(b, f, i))
        return (int)i;
    return pick_among_eligible(b, f, gw__balance_mix(rnd), weighted);
}

static int random_pick(struct gw_balancer *b, const struct gw_balance_key *key,
                       const struct gw__balance_filter *f, uint64_t rnd)
{
    (void)key;
    return gw__balance_pick_random(b, f, rnd, true);
}

const struct gw__balance_ops gw__balance_random = {
    .name = "random",
    .pick = random_pick,
};
