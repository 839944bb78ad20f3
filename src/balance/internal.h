/* Shared inside src/balance/: the balancer's layout and the strategy table. */
#ifndef GW_BALANCE_INTERNAL_H
#define GW_BALANCE_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "balance/balancer.h"

#define GW__BALANCE_CACHELINE 64
/* Smooth WRR: the precomputed sequence has at most this many slots (plus one per target). */
#define GW__BALANCE_WRR_MAX_SLOTS 4096
/* consistent_hash: upper bound on ring points; weights are scaled down beyond it. */
#define GW__BALANCE_RING_MAX_POINTS 65536

/* Per-target shared state, one cache line each so that workers updating different targets do
 * not invalidate each other's lines. */
struct gw_balance_target {
    _Alignas(GW__BALANCE_CACHELINE) atomic_uint inflight; /**< least_connections, p2c_ewma */
    /** p2c_ewma: high 32 bits the latency average in us as a float, low 32 bits the time of
     * the last sample in ms since the balancer was built (mod 2^32). One word so a CAS updates
     * both together. */
    _Atomic uint64_t ewma;
    uint32_t weight;
    char *id; /**< owned copy */
    uint64_t sticky_hash;
};

struct gw_balance_point {
    uint64_t hash;
    uint32_t target;
};

struct gw_balance_sticky {
    uint64_t hash;
    uint32_t target;
};

/* What a pick must respect besides the strategy: the caller's predicate and exclusion set. */
struct gw__balance_filter {
    gw_balance_usable_fn usable;
    void *ctx;
    const uint64_t *exclude;
};

struct gw__balance_ops {
    const char *name;
    /* Precomputes the strategy's tables; NULL if none. 0 or a negative code. */
    int (*build)(struct gw_balancer *b);
    /* Returns an eligible index or -1. */
    int (*pick)(struct gw_balancer *b, const struct gw_balance_key *key,
                const struct gw__balance_filter *f, uint64_t rnd);
    /* Extra bookkeeping at release; NULL if none. */
    void (*release)(struct gw_balancer *b, int i, bool success, uint64_t latency_us);
};

struct gw_balancer {
    /** Round-robin position shared by all workers; alone on its line (it is written on every
     * pick). */
    _Alignas(GW__BALANCE_CACHELINE) _Atomic uint64_t counter;
    _Alignas(GW__BALANCE_CACHELINE) const struct gw__balance_ops *ops;
    enum gw_balance_strategy strategy;
    size_t n;
    struct gw_balance_target *targets; /**< n entries, cache-line aligned */
    uint64_t total_weight;
    uint64_t *cum_weight;             /**< n entries: cum_weight[i] = weight[0] + ... + weight[i] */
    struct gw_balance_sticky *sticky; /**< n entries sorted by hash */
    /* weighted_round_robin */
    uint16_t *seq;
    size_t seq_len;
    /* consistent_hash */
    struct gw_balance_point *ring;
    size_t ring_len;
    size_t ring_targets; /**< targets with points on the ring (weight > 0) */
    /* p2c_ewma */
    uint64_t epoch_us;
    uint64_t decay_us;
    uint32_t initial_us;
    uint32_t failure_penalty_us;
    uint64_t (*clock_us)(void *ctx);
    void *clock_ctx;
    /* options kept for build() */
    uint32_t vnodes_per_weight;
    uint64_t sticky_key;
};

extern const struct gw__balance_ops gw__balance_round_robin;
extern const struct gw__balance_ops gw__balance_weighted;
extern const struct gw__balance_ops gw__balance_random;
extern const struct gw__balance_ops gw__balance_least_conn;
extern const struct gw__balance_ops gw__balance_ip_hash;
extern const struct gw__balance_ops gw__balance_consistent_hash;
extern const struct gw__balance_ops gw__balance_p2c_ewma;

/* 64-bit keyed hash of a byte string (wyhash-style multiply-fold mixing). */
uint64_t gw__balance_hash(const void *data, size_t n, uint64_t seed);

/* Bijective 64-bit finalizer (splitmix64): derives further random numbers from one. */
static inline uint64_t gw__balance_mix(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

/* Uniform in [0, n) for n > 0; the multiply-shift keeps the bias below n / 2^64. */
static inline uint64_t gw__balance_below(uint64_t rnd, uint64_t n)
{
#if defined(__SIZEOF_INT128__)
    return (uint64_t)(((unsigned __int128)rnd * n) >> 64);
#else
    return rnd % n;
#endif
}

static inline bool gw__balance_excluded(const uint64_t *bits, size_t i)
{
    return bits != NULL && (bits[i / 64] >> (i % 64) & 1) != 0;
}

/* A target may be picked: has weight, not excluded, and the caller says it is usable. */
static inline bool gw__balance_eligible(const struct gw_balancer *b,
                                        const struct gw__balance_filter *f, size_t i)
{
    if (b->targets[i].weight == 0 || gw__balance_excluded(f->exclude, i))
        return false;
    return f->usable == NULL || f->usable(f->ctx, i);
}

/* p2c_ewma: the packed average of a target without samples. */
uint64_t gw__balance_ewma_word(uint32_t initial_us);

/* Index of the target owning position r in [0, total_weight) of the cumulative weights. */
size_t gw__balance_weight_slot(const struct gw_balancer *b, uint64_t r);

/* Random pick among the eligible targets, proportional to weight (weighted) or uniform.
 * The fallback of every strategy whose first choice is not eligible. Returns -1 if none. */
int gw__balance_pick_random(struct gw_balancer *b, const struct gw__balance_filter *f, uint64_t rnd,
                            bool weighted);

#endif
