/* Unit tests for src/balance/round_robin.c and src/balance/weighted.c. */
#include "balance_test.h"

static void test_round_robin_cycles(void **state)
{
    (void)state;
    struct gw_balancer *b = test_build(GW_BALANCE_ROUND_ROBIN, NULL, 5, NULL);
    for (int k = 0; k < 1000; k++)
        assert_int_equal(gw_balancer_pick(b, NULL, NULL, NULL, NULL, 0), k % 5);
    gw_balancer_free(b);
}

/* round_robin ignores weights. */
static void test_round_robin_ignores_weights(void **state)
{
    (void)state;
    const uint32_t w[3] = {1, 2, 7}, eq[3] = {1, 1, 1};
    unsigned count[3];
    struct gw_balancer *b = test_build(GW_BALANCE_ROUND_ROBIN, w, 3, NULL);
    test_count(b, count, 1);
    test_shares("round_robin 1:2:7", count, eq, 3, 0.01);
    gw_balancer_free(b);
}

/* The remaining targets keep equal shares when one is down (nobody inherits its turns). */
static void test_round_robin_down(void **state)
{
    (void)state;
    const uint32_t eq[3] = {1, 1, 1};
    struct gw_balancer *b = test_build(GW_BALANCE_ROUND_ROBIN, NULL, 4, NULL);
    struct test_health h = {0};
    unsigned count[4] = {0}, rest[3];
    uint64_t seed = 11;
    test_down(&h, 1);
    for (int k = 0; k < PICKS; k++)
        count[gw_balancer_pick(b, NULL, test_usable, &h, NULL, test_rnd(&seed))]++;
    assert_int_equal(count[1], 0);
    rest[0] = count[0], rest[1] = count[2], rest[2] = count[3];
    test_shares("round_robin 4 targets, #1 down", rest, eq, 3, 1.0);
    gw_balancer_free(b);
}

static void test_wrr_shares(void **state)
{
    (void)state;
    const uint32_t w[3] = {1, 2, 7};
    unsigned count[3];
    struct gw_balancer *b = test_build(GW_BALANCE_WEIGHTED_ROUND_ROBIN, w, 3, NULL);
    test_count(b, count, 1);
    test_shares("weighted_round_robin 1:2:7", count, w, 3, 1.0);
    gw_balancer_free(b);

    /* weights sharing a divisor, and weights beyond the slot cap (scaled) */
    const uint32_t w2[4] = {100, 300, 200, 400};
    unsigned c2[4];
    b = test_build(GW_BALANCE_WEIGHTED_ROUND_ROBIN, w2, 4, NULL);
    test_count(b, c2, 2);
    test_shares("weighted_round_robin 100:300:200:400", c2, w2, 4, 1.0);
    gw_balancer_free(b);
    const uint32_t w3[3] = {1000003, 2000001, 6999997};
    b = test_build(GW_BALANCE_WEIGHTED_ROUND_ROBIN, w3, 3, NULL);
    test_count(b, count, 3);
    test_shares("weighted_round_robin scaled ~1:2:7", count, w3, 3, 1.0);
    gw_balancer_free(b);
}

/* nginx's reference loop, run here independently. */
static void nginx_sequence(const uint32_t *w, size_t n, int *out, size_t len)
{
    int64_t cur[16] = {0}, total = 0;
    for (size_t i = 0; i < n; i++)
        total += w[i];
    for (size_t k = 0; k < len; k++) {
        size_t best = 0;
        for (size_t i = 0; i < n; i++) {
            cur[i] += w[i];
            if (cur[i] > cur[best])
                best = i;
        }
        cur[best] -= total;
        out[k] = (int)best;
    }
}

static void check_smooth(const uint32_t *w, size_t n)
{
    struct gw_balancer *b = test_build(GW_BALANCE_WEIGHTED_ROUND_ROBIN, w, n, NULL);
    size_t sum = 0, len;
    for (size_t i = 0; i < n; i++)
        sum += w[i];
    len = 4 * sum + 7;
    int *seq = calloc(len, sizeof(*seq)), *ref = calloc(len, sizeof(*ref));
    assert_non_null(seq);
    assert_non_null(ref);
    for (size_t k = 0; k < len; k++)
        seq[k] = gw_balancer_pick(b, NULL, NULL, NULL, NULL, 0);
    nginx_sequence(w, n, ref, len);
    /* identical to nginx's own sequence */
    for (size_t k = 0; k < len; k++)
        assert_int_equal(seq[k], ref[k]);
    /* every window of sum(weights) picks holds each target exactly weight times */
    for (size_t start = 0; start + sum <= len; start++) {
        unsigned c[16] = {0};
        for (size_t k = start; k < start + sum; k++)
            c[seq[k]]++;
        for (size_t i = 0; i < n; i++)
            assert_int_equal(c[i], w[i]);
    }
    /* within one period, the heaviest target never runs longer than ceil(w / (sum - w)) */
    size_t heavy = 0;
    for (size_t i = 1; i < n; i++)
        heavy = w[i] > w[heavy] ? i : heavy;
    size_t bound = (w[heavy] + (sum - w[heavy]) - 1) / (sum - w[heavy]), run = 0, maxrun = 0;
    for (size_t k = 0; k < sum; k++) {
        run = seq[k] == (int)heavy ? run + 1 : 0;
        maxrun = run > maxrun ? run : maxrun;
    }
    printf("  weights");
    for (size_t i = 0; i < n; i++)
        printf(" %u", w[i]);
    printf(": period");
    for (size_t k = 0; k < sum && k < 24; k++)
        printf(" %c", 'a' + seq[k]);
    printf("%s, longest run of the heaviest %zu (bound %zu)\n", sum > 24 ? " ..." : "", maxrun,
           bound);
    assert_true(maxrun <= bound);
    free(seq);
    free(ref);
    gw_balancer_free(b);
}

static void test_wrr_smooth(void **state)
{
    (void)state;
    const uint32_t a[3] = {5, 1, 1}, c[3] = {1, 2, 7}, d[4] = {3, 3, 1, 1}, e[2] = {9, 1};
    check_smooth(a, 3);
    check_smooth(c, 3);
    check_smooth(d, 4);
    check_smooth(e, 2);
    /* 5,1,1 is nginx's documented example */
    struct gw_balancer *b = test_build(GW_BALANCE_WEIGHTED_ROUND_ROBIN, a, 3, NULL);
    const int want[7] = {0, 0, 1, 0, 2, 0, 0};
    for (int k = 0; k < 7; k++)
        assert_int_equal(gw_balancer_pick(b, NULL, NULL, NULL, NULL, 0), want[k]);
    gw_balancer_free(b);
}

/* With the heaviest target down the others keep their relative weights. */
static void test_wrr_down(void **state)
{
    (void)state;
    const uint32_t w[4] = {1, 2, 7, 3}, rest_w[3] = {1, 2, 3};
    struct gw_balancer *b = test_build(GW_BALANCE_WEIGHTED_ROUND_ROBIN, w, 4, NULL);
    struct test_health h = {0};
    unsigned count[4] = {0}, rest[3];
    uint64_t seed = 5;
    test_down(&h, 2);
    for (int k = 0; k < PICKS; k++)
        count[gw_balancer_pick(b, NULL, test_usable, &h, NULL, test_rnd(&seed))]++;
    assert_int_equal(count[2], 0);
    rest[0] = count[0], rest[1] = count[1], rest[2] = count[3];
    test_shares("weighted_round_robin 1:2:(7 down):3", rest, rest_w, 3, 1.0);
    gw_balancer_free(b);
}

/* A retry with the first pick excluded goes elsewhere. */
static void test_exclude_retry(void **state)
{
    (void)state;
    const uint32_t w[3] = {1, 2, 7};
    struct gw_balancer *b = test_build(GW_BALANCE_WEIGHTED_ROUND_ROBIN, w, 3, NULL);
    uint64_t seed = 9;
    for (int k = 0; k < 10000; k++) {
        uint64_t excl[GW_BALANCE_EXCLUDE_WORDS] = {0};
        int first = gw_balancer_pick(b, NULL, NULL, NULL, NULL, test_rnd(&seed));
        gw_balance_exclude_add(excl, first);
        int second = gw_balancer_pick(b, NULL, NULL, NULL, excl, test_rnd(&seed));
        assert_true(second >= 0 && second != first);
        gw_balance_exclude_add(excl, second);
        int third = gw_balancer_pick(b, NULL, NULL, NULL, excl, test_rnd(&seed));
        assert_true(third >= 0 && third != first && third != second);
        gw_balance_exclude_add(excl, third);
        assert_int_equal(gw_balancer_pick(b, NULL, NULL, NULL, excl, test_rnd(&seed)), -1);
    }
    gw_balancer_free(b);
}

/* Many targets: indexes past 64 (exclusion words beyond the first) work. */
static void test_many_targets(void **state)
{
    (void)state;
    size_t n = GW_BALANCE_MAX_TARGETS;
    struct gw_balancer *b = test_build(GW_BALANCE_ROUND_ROBIN, NULL, n, NULL);
    uint64_t excl[GW_BALANCE_EXCLUDE_WORDS] = {0};
    for (size_t i = 0; i < n; i++) {
        if (i != 700)
            gw_balance_exclude_add(excl, (int)i);
    }
    for (int k = 0; k < 100; k++)
        assert_int_equal(gw_balancer_pick(b, NULL, NULL, NULL, excl, (uint64_t)k * 7919), 700);
    gw_balancer_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_robin_cycles),
        cmocka_unit_test(test_round_robin_ignores_weights),
        cmocka_unit_test(test_round_robin_down),
        cmocka_unit_test(test_wrr_shares),
        cmocka_unit_test(test_wrr_smooth),
        cmocka_unit_test(test_wrr_down),
        cmocka_unit_test(test_exclude_retry),
        cmocka_unit_test(test_many_targets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
