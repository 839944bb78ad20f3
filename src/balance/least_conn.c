/*
 * least_connections: the eligible target with the fewest requests in flight per unit of weight,
 * counted across all workers (per-target atomic counters that acquire/release maintain).
 *
 * Ties, common at low load where every count is zero, are broken at random in proportion to
 * weight (weighted reservoir sampling in the same pass), so an idle service still spreads load
 * by weight instead of always choosing the first target.
 */
#include "balance/internal.h"

static int lc_pick(struct gw_balancer *b, const struct gw_balance_key *key,
                   const struct gw__balance_filter *f, uint64_t rnd)
{
    int best = -1;
    uint64_t best_load = 0, best_w = 1, tie_w = 0;

    (void)key;
    for (size_t i = 0; i < b->n; i++) {
        if (!gw__balance_eligible(b, f, i))
            continue;
        uint64_t load = atomic_load_explicit(&b->targets[i].inflight, memory_order_relaxed);
        uint64_t w = b->targets[i].weight;
        /* load/w against best_load/best_w without division; both products fit in 64 bits. */
        uint64_t lhs = load * best_w, rhs = best_load * w;
        if (best < 0 || lhs < rhs) {
            best = (int)i;
            best_load = load;
            best_w = w;
            tie_w = w;
        } else if (lhs == rhs) {
            tie_w += w;
            rnd = gw__balance_mix(rnd);
            if (gw__balance_below(rnd, tie_w) < w) {
                best = (int)i;
                best_load = load;
                best_w = w;
            }
        }
    }
    return best;
}

const struct gw__balance_ops gw__balance_least_conn = {
    .name = "least_connections",
    .pick = lc_pick,
};
