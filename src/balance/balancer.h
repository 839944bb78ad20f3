/*
 * Load balancing: choose one target of a service for a request.
 *
 * A balancer belongs to a service in an immutable config snapshot and is shared by every worker
 * thread. It follows nginx's shape: get (gw_balancer_pick), then release with the outcome
 * (gw_balancer_release). All three calls on the hot path (pick, acquire, release) are lock-free
 * and safe to call concurrently from any thread; building and freeing are not.
 *
 * Health, outlier ejection and open circuits are not the balancer's business: the caller passes
 * a predicate (gw_balance_usable_fn) and every strategy skips targets for which it says false.
 * Targets already tried by this request (retries) are passed as an exclusion bitmask.
 *
 * Randomness comes from the caller (`rnd`, e.g. gw_random_u64()) so tests are deterministic.
 */
#ifndef GW_BALANCE_BALANCER_H
#define GW_BALANCE_BALANCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Upper bound on the number of targets of one balancer. */
#define GW_BALANCE_MAX_TARGETS 1024
/* Words in an exclusion bitmask able to hold any target index. */
#define GW_BALANCE_EXCLUDE_WORDS (GW_BALANCE_MAX_TARGETS / 64)
/* Length of a sticky-session cookie value, without the NUL. */
#define GW_BALANCE_STICKY_LEN 16

enum gw_balance_strategy {
    GW_BALANCE_ROUND_ROBIN,
    GW_BALANCE_WEIGHTED_ROUND_ROBIN,
    GW_BALANCE_RANDOM,
    GW_BALANCE_LEAST_CONNECTIONS,
    GW_BALANCE_IP_HASH,
    GW_BALANCE_CONSISTENT_HASH,
    GW_BALANCE_P2C_EWMA,
};

/* One target as configured. The balancer copies `id`. */
struct gw_balance_target_spec {
    /** Stable identity used for hashing and sticky cookies, e.g. "10.0.0.5:8080". Unique. */
    const char *id;
    /** Relative share; 0 means "drained": the target is never picked. */
    uint32_t weight;
};

/* Tuning knobs; a zero field takes its default. Pass NULL for all defaults. */
struct gw_balance_options {
    /** p2c_ewma: time constant of the latency average's decay, in ms (default 10000). */
    uint32_t ewma_decay_ms;
    /** p2c_ewma: estimate reported for a target before its first sample, in us (default
     * 10000). Picks do not use it: such a target borrows its partner's estimate. */
    uint32_t ewma_initial_us;
    /** p2c_ewma: a failed request counts as at least this latency, in us (default 1000000). */
    uint32_t failure_penalty_us;
    /** consistent_hash: ring points per unit of weight (default 160). */
    uint32_t vnodes_per_weight;
    /** Key of the sticky cookie hash; instances sharing cookies must share it (default fixed). */
    uint64_t sticky_key;
    /** Monotonic clock in us for the EWMA (default CLOCK_MONOTONIC); tests inject their own. */
    uint64_t (*clock_us)(void *ctx);
    void *clock_ctx;
};

/* Hash key of a request (client IP, a header or a cookie value); n == 0 when absent. */
struct gw_balance_key {
    const char *p;
    size_t n;
};

/* Whether target `target_index` may receive a request now (health, ejection, circuit). Called
 * on the picking thread, possibly several times per pick; must be cheap and thread-safe. */
typedef bool (*gw_balance_usable_fn)(void *ctx, size_t target_index);

struct gw_balancer;

/* Parses a strategy name as written in the config ("round_robin", "weighted_round_robin",
 * "random", "least_connections", "ip_hash", "consistent_hash", "p2c_ewma"). 0 or GW_EINVAL. */
int gw_balance_strategy_parse(const char *name, enum gw_balance_strategy *out);

/* Config name of a strategy; "unknown" for values outside the enum. */
const char *gw_balance_strategy_name(enum gw_balance_strategy s);

/* Builds a balancer over targets[0..n) (n <= GW_BALANCE_MAX_TARGETS, ids unique and non-empty).
 * opts may be NULL. Returns 0 and sets *out, GW_EINVAL for a bad argument, GW_ENOMEM. */
int gw_balancer_new(enum gw_balance_strategy s, const struct gw_balance_target_spec *targets,
                    size_t n, const struct gw_balance_options *opts, struct gw_balancer **out);

/* Frees a balancer; NULL is fine. No other thread may still use it. */
void gw_balancer_free(struct gw_balancer *b);

/* Picks a target for a request and returns its index, or -1 when no target is usable.
 * key: hash key for ip_hash / consistent_hash (NULL or n == 0: those fall back to a weighted
 * random pick). usable: NULL means every target is usable. exclude_bits: NULL or a bitmask of
 * at least ceil(n / 64) words; a set bit i means "already tried, pick another". rnd: a fresh
 * random number. Picking does not count the request: call gw_balancer_acquire() when the pick
 * is used, then gw_balancer_release() exactly once when the request to it ends. */
int gw_balancer_pick(struct gw_balancer *b, const struct gw_balance_key *key,
                     gw_balance_usable_fn usable, void *ctx, const uint64_t *exclude_bits,
                     uint64_t rnd);

/* Sticky sessions: returns the target named by a cookie value from gw_balancer_sticky_value()
 * when it is still usable and not excluded (*stuck = true), else a normal pick (*stuck = false;
 * the caller should then set the cookie to the new target's value). stuck may be NULL. */
int gw_balancer_pick_sticky(struct gw_balancer *b, const char *cookie, size_t cookie_len,
                            const struct gw_balance_key *key, gw_balance_usable_fn usable,
                            void *ctx, const uint64_t *exclude_bits, uint64_t rnd, bool *stuck);

/* Writes target i's sticky cookie value: 16 lowercase hex digits of a keyed 64-bit hash of its
 * id, and a NUL. The value is stable across reloads and instances with the same sticky_key. */
void gw_balancer_sticky_value(const struct gw_balancer *b, int i,
                              char out[GW_BALANCE_STICKY_LEN + 1]);

/* Counts one more request in flight on target i (the pick is being used). */
void gw_balancer_acquire(struct gw_balancer *b, int i);

/* Ends a request acquired on target i: in-flight count down, and for p2c_ewma the latency (a
 * failure counts as at least the failure penalty) feeds the target's moving average. */
void gw_balancer_release(struct gw_balancer *b, int i, bool success, uint64_t latency_us);

/* Introspection, for metrics, the admin API and tests. */
size_t gw_balancer_size(const struct gw_balancer *b);
enum gw_balance_strategy gw_balancer_strategy(const struct gw_balancer *b);
const char *gw_balancer_target_id(const struct gw_balancer *b, size_t i);
unsigned gw_balancer_inflight(const struct gw_balancer *b, size_t i);
/* Target i's latency average as p2c_ewma sees it now (decayed to the present), in us. */
uint64_t gw_balancer_ewma_us(const struct gw_balancer *b, size_t i);

/* Marks index i in an exclusion bitmask of GW_BALANCE_EXCLUDE_WORDS words. */
static inline void gw_balance_exclude_add(uint64_t *bits, int i)
{
    bits[(unsigned)i / 64] |= UINT64_C(1) << ((unsigned)i % 64);
}

#endif
