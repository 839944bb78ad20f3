/* Helpers shared by the balancer unit tests. */
#ifndef GW_TEST_BALANCE_H
#define GW_TEST_BALANCE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "balance/balancer.h"

#define PICKS 100000

/* Deterministic random numbers (splitmix64 over a counter). */
static inline uint64_t test_rnd(uint64_t *state)
{
    uint64_t x = (*state += UINT64_C(0x9e3779b97f4a7c15));
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

/* usable() context: a set bit means "down". */
struct test_health {
    uint64_t down[GW_BALANCE_EXCLUDE_WORDS];
};

static inline bool test_usable(void *ctx, size_t i)
{
    const struct test_health *h = ctx;
    return (h->down[i / 64] >> (i % 64) & 1) == 0;
}

static inline void test_down(struct test_health *h, size_t i)
{
    h->down[i / 64] |= UINT64_C(1) << (i % 64);
}

/* Builds a balancer over targets "10.0.0.<k>:8080" with the given weights. ids must outlive
 * nothing: the balancer copies them. */
static inline struct gw_balancer *test_build(enum gw_balance_strategy s, const uint32_t *weights,
                                             size_t n, const struct gw_balance_options *opts)
{
    struct gw_balance_target_spec *specs = calloc(n ? n : 1, sizeof(*specs));
    char(*ids)[32] = calloc(n ? n : 1, sizeof(*ids));
    struct gw_balancer *b = NULL;

    assert_non_null(specs);
    assert_non_null(ids);
    for (size_t i = 0; i < n; i++) {
        snprintf(ids[i], sizeof(ids[i]), "10.0.%zu.%zu:8080", i / 250, i % 250 + 1);
        specs[i].id = ids[i];
        specs[i].weight = weights ? weights[i] : 1;
    }
    assert_int_equal(gw_balancer_new(s, specs, n, opts, &b), 0);
    assert_non_null(b);
    free(specs);
    free(ids);
    return b;
}

/* Picks PICKS times (no key, no filter) and counts per target. */
static inline void test_count(struct gw_balancer *b, unsigned *count, uint64_t seed)
{
    size_t n = gw_balancer_size(b);
    memset(count, 0, n * sizeof(*count));
    for (int k = 0; k < PICKS; k++) {
        int i = gw_balancer_pick(b, NULL, NULL, NULL, NULL, test_rnd(&seed));
        assert_true(i >= 0 && (size_t)i < n);
        count[i]++;
    }
}

/* Asserts each target's share is within tol percentage points of weight/sum, printing them. */
static inline void test_shares(const char *what, const unsigned *count, const uint32_t *weights,
                               size_t n, double tol_pp)
{
    unsigned total = 0;
    uint64_t wsum = 0;
    for (size_t i = 0; i < n; i++) {
        total += count[i];
        wsum += weights[i];
    }
    printf("  %s:", what);
    for (size_t i = 0; i < n; i++) {
        double got = 100.0 * count[i] / total, want = 100.0 * weights[i] / (double)wsum;
        printf(" %.2f%% (want %.2f%%)", got, want);
        if (got - want > tol_pp || want - got > tol_pp) {
            printf("\n");
            fail_msg("%s: target %zu got %.3f%%, want %.3f%% +- %.1f pp", what, i, got, want,
                     tol_pp);
        }
    }
    printf("\n");
}

#endif
