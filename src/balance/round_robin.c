/* round_robin: targets in turn, weights ignored (weight 0 still drains a target). One atomic
 * counter shared by every worker gives the order; a turn that lands on a target that is not
 * eligible is given to a uniformly random eligible target, so the others keep equal shares
 * instead of the next one in line inheriting the unusable target's turns. */
#include "balance/internal.h"

static int rr_pick(struct gw_balancer *b, const struct gw_balance_key *key,
                   const struct gw__balance_filter *f, uint64_t rnd)
{
    (void)key;
    uint64_t c = atomic_fetch_add_explicit(&b->counter, 1, memory_order_relaxed);
    size_t i = (size_t)(c % b->n);

    if (gw__balance_eligible(b, f, i))
        return (int)i;
    return gw__balance_pick_random(b, f, rnd, false);
}

const struct gw__balance_ops gw__balance_round_robin = {
    .name = "round_robin",
    .pick = rr_pick,
};
