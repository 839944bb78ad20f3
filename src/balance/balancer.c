/* The balancer interface: strategy table, construction, dispatch, in-flight accounting and
 * sticky sessions. Each strategy lives in its own file. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "balance/internal.h"
#include "core/error.h"
#include "core/hex.h"

#define DEFAULT_DECAY_MS 10000
#define DEFAULT_INITIAL_US 10000
#define DEFAULT_FAILURE_PENALTY_US 1000000
#define DEFAULT_VNODES 160
#define DEFAULT_STICKY_KEY UINT64_C(0x67616e7472792d73) /* "gantry-s" */

static const struct gw__balance_ops *const strategies[] = {
    [GW_BALANCE_ROUND_ROBIN] = &gw__balance_round_robin,
    [GW_BALANCE_WEIGHTED_ROUND_ROBIN] = &gw__balance_weighted,
    [GW_BALANCE_RANDOM] = &gw__balance_random,
    [GW_BALANCE_LEAST_CONNECTIONS] = &gw__balance_least_conn,
    [GW_BALANCE_IP_HASH] = &gw__balance_ip_hash,
    [GW_BALANCE_CONSISTENT_HASH] = &gw__balance_consistent_hash,
    [GW_BALANCE_P2C_EWMA] = &gw__balance_p2c_ewma,
};
#define NSTRATEGIES (sizeof(strategies) / sizeof(strategies[0]))

int gw_balance_strategy_parse(const char *name, enum gw_balance_strategy *out)
{
    if (name == NULL)
        return GW_EINVAL;
    for (size_t i = 0; i < NSTRATEGIES; i++) {
        if (strcmp(name, strategies[i]->name) == 0) {
            *out = (enum gw_balance_strategy)i;
            return 0;
        }
    }
    return GW_EINVAL;
}

const char *gw_balance_strategy_name(enum gw_balance_strategy s)
{
    if ((size_t)s >= NSTRATEGIES)
        return "unknown";
    return strategies[s]->name;
}

static uint64_t monotonic_us(void *ctx)
{
    struct timespec ts;
    (void)ctx;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int cmp_sticky(const void *pa, const void *pb)
{
    const struct gw_balance_sticky *a = pa, *b = pb;
    if (a->hash != b->hash)
        return a->hash < b->hash ? -1 : 1;
    return 0;
}

/* Copies the targets and builds what every strategy shares: cumulative weights and the sticky
 * lookup table (which doubles as the duplicate-id check). */
static int copy_targets(struct gw_balancer *b, const struct gw_balance_target_spec *specs)
{
    size_t n = b->n;
    size_t bytes = n * sizeof(*b->targets);

    b->targets = aligned_alloc(GW__BALANCE_CACHELINE, bytes);
    b->cum_weight = malloc(n * sizeof(*b->cum_weight));
    b->sticky = malloc(n * sizeof(*b->sticky));
    if (b->targets == NULL || b->cum_weight == NULL || b->sticky == NULL)
        return GW_ENOMEM;
    memset(b->targets, 0, bytes);
    uint64_t ewma0 = gw__balance_ewma_word(b->initial_us);
    for (size_t i = 0; i < n; i++) {
        struct gw_balance_target *t = &b->targets[i];
        atomic_init(&t->inflight, 0);
        atomic_init(&t->ewma, ewma0);
        if (specs[i].id == NULL || specs[i].id[0] == '\0')
            return GW_EINVAL;
        t->id = strdup(specs[i].id);
        if (t->id == NULL)
            return GW_ENOMEM;
        t->weight = specs[i].weight;
        b->total_weight += t->weight;
        b->cum_weight[i] = b->total_weight;
        t->sticky_hash = gw__balance_hash(t->id, strlen(t->id), b->sticky_key);
        b->sticky[i].hash = t->sticky_hash;
        b->sticky[i].target = (uint32_t)i;
    }
    qsort(b->sticky, n, sizeof(*b->sticky), cmp_sticky);
    /* Equal ids hash alike; a collision of distinct ids is refused too (odds ~n^2 / 2^65). */
    for (size_t i = 1; i < n; i++) {
        if (b->sticky[i].hash == b->sticky[i - 1].hash)
            return GW_EINVAL;
    }
    return 0;
}

int gw_balancer_new(enum gw_balance_strategy s, const struct gw_balance_target_spec *targets,
                    size_t n, const struct gw_balance_options *opts, struct gw_balancer **out)
{
    static const struct gw_balance_options defaults;
    struct gw_balancer *b = NULL;
    int rc = GW_EINVAL;

    *out = NULL;
    if ((size_t)s >= NSTRATEGIES || n > GW_BALANCE_MAX_TARGETS || (n > 0 && targets == NULL))
        return GW_EINVAL;
    if (opts == NULL)
        opts = &defaults;
    b = aligned_alloc(GW__BALANCE_CACHELINE, sizeof(*b));
    if (b == NULL)
        return GW_ENOMEM;
    memset(b, 0, sizeof(*b));
    atomic_init(&b->counter, 0);
    b->ops = strategies[s];
    b->strategy = s;
    b->n = n;
    b->decay_us = (uint64_t)(opts->ewma_decay_ms ? opts->ewma_decay_ms : DEFAULT_DECAY_MS) * 1000;
    b->initial_us = opts->ewma_initial_us ? opts->ewma_initial_us : DEFAULT_INITIAL_US;
    b->failure_penalty_us =
        opts->failure_penalty_us ? opts->failure_penalty_us : DEFAULT_FAILURE_PENALTY_US;
    b->vnodes_per_weight = opts->vnodes_per_weight ? opts->vnodes_per_weight : DEFAULT_VNODES;
    b->sticky_key = opts->sticky_key ? opts->sticky_key : DEFAULT_STICKY_KEY;
    b->clock_us = opts->clock_us ? opts->clock_us : monotonic_us;
    b->clock_ctx = opts->clock_us ? opts->clock_ctx : NULL;
    b->epoch_us = b->clock_us(b->clock_ctx);
    if (n > 0) {
        rc = copy_targets(b, targets);
        if (rc < 0)
            goto fail;
    }
    if (b->ops->build != NULL) {
        rc = b->ops->build(b);
        if (rc < 0)
            goto fail;
    }
    *out = b;
    return 0;
fail:
    gw_balancer_free(b);
    return rc;
}

void gw_balancer_free(struct gw_balancer *b)
{
    if (b == NULL)
        return;
    if (b->targets != NULL) {
        for (size_t i = 0; i < b->n; i++)
            free(b->targets[i].id);
    }
    free(b->targets);
    free(b->cum_weight);
    free(b->sticky);
    free(b->seq);
    free(b->ring);
    free(b);
}

int gw_balancer_pick(struct gw_balancer *b, const struct gw_balance_key *key,
                     gw_balance_usable_fn usable, void *ctx, const uint64_t *exclude_bits,
                     uint64_t rnd)
{
    const struct gw__balance_filter f = {.usable = usable, .ctx = ctx, .exclude = exclude_bits};

    if (b->n == 0)
        return -1;
    return b->ops->pick(b, key, &f, rnd);
}

static int sticky_find(const struct gw_balancer *b, uint64_t h)
{
    size_t lo = 0, hi = b->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b->sticky[mid].hash < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < b->n && b->sticky[lo].hash == h)
        return (int)b->sticky[lo].target;
    return -1;
}

int gw_balancer_pick_sticky(struct gw_balancer *b, const char *cookie, size_t cookie_len,
                            const struct gw_balance_key *key, gw_balance_usable_fn usable,
                            void *ctx, const uint64_t *exclude_bits, uint64_t rnd, bool *stuck)
{
    const struct gw__balance_filter f = {.usable = usable, .ctx = ctx, .exclude = exclude_bits};
    uint64_t h;

    if (stuck != NULL)
        *stuck = false;
    if (b->n == 0)
        return -1;
    /* The cookie is the target's sticky hash in 16 hex digits, either case. */
    if (cookie != NULL && cookie_len == GW_BALANCE_STICKY_LEN &&
        gw_hex_parse(cookie, cookie_len, &h)) {
        int i = sticky_find(b, h);
        if (i >= 0 && gw__balance_eligible(b, &f, (size_t)i)) {
            if (stuck != NULL)
                *stuck = true;
            return i;
        }
    }
    return b->ops->pick(b, key, &f, rnd);
}

void gw_balancer_sticky_value(const struct gw_balancer *b, int i,
                              char out[GW_BALANCE_STICKY_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t h;

    assert(i >= 0 && (size_t)i < b->n);
    h = b->targets[i].sticky_hash;
    for (int k = GW_BALANCE_STICKY_LEN - 1; k >= 0; k--) {
        out[k] = hex[h & 15];
        h >>= 4;
    }
    out[GW_BALANCE_STICKY_LEN] = '\0';
}

void gw_balancer_acquire(struct gw_balancer *b, int i)
{
    assert(i >= 0 && (size_t)i < b->n);
    atomic_fetch_add_explicit(&b->targets[i].inflight, 1, memory_order_relaxed);
}

void gw_balancer_release(struct gw_balancer *b, int i, bool success, uint64_t latency_us)
{
    assert(i >= 0 && (size_t)i < b->n);
    unsigned prev = atomic_fetch_sub_explicit(&b->targets[i].inflight, 1, memory_order_relaxed);
    assert(prev > 0 && "release without acquire");
    (void)prev;
    if (b->ops->release != NULL)
        b->ops->release(b, i, success, latency_us);
}

size_t gw_balancer_size(const struct gw_balancer *b)
{
    return b->n;
}

enum gw_balance_strategy gw_balancer_strategy(const struct gw_balancer *b)
{
    return b->strategy;
}

const char *gw_balancer_target_id(const struct gw_balancer *b, size_t i)
{
    return i < b->n ? b->targets[i].id : NULL;
}

unsigned gw_balancer_inflight(const struct gw_balancer *b, size_t i)
{
    assert(i < b->n);
    return atomic_load_explicit(&b->targets[i].inflight, memory_order_relaxed);
}

size_t gw__balance_weight_slot(const struct gw_balancer *b, uint64_t r)
{
    size_t lo = 0, hi = b->n - 1;

    /* First i with cum_weight[i] > r. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b->cum_weight[mid] > r)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}
