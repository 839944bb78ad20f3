/* Unit tests for src/balance/random.c. */
#include "balance_test.h"

static void test_uniform(void **state)
{
    (void)state;
    const uint32_t eq[5] = {1, 1, 1, 1, 1};
    unsigned count[5];
    struct gw_balancer *b = test_build(GW_BALANCE_RANDOM, eq, 5, NULL);
    test_count(b, count, 42);
    test_shares("random uniform x5", count, eq, 5, 1.5);
    gw_balancer_free(b);
}

static void test_weighted(void **state)
{
    (void)state;
    const uint32_t w[3] = {1, 2, 7};
    unsigned count[3];
    struct gw_balancer *b = test_build(GW_BALANCE_RANDOM, w, 3, NULL);
    test_count(b, count, 43);
    test_shares("random 1:2:7", count, w, 3, 1.0);
    gw_balancer_free(b);
}

/* With targets down, the rest keep shares proportional to their weights. */
static void test_down_keeps_proportions(void **state)
{
    (void)state;
    const uint32_t w[5] = {1, 2, 7, 3, 4}, rest_w[3] = {1, 7, 4};
    struct gw_balancer *b = test_build(GW_BALANCE_RANDOM, w, 5, NULL);
    struct test_health h = {0};
    unsigned count[5] = {0}, rest[3];
    uint64_t seed = 44;
    test_down(&h, 1);
    test_down(&h, 3);
    for (int k = 0; k < PICKS; k++)
        count[gw_balancer_pick(b, NULL, test_usable, &h, NULL, test_rnd(&seed))]++;
    assert_int_equal(count[1] + count[3], 0);
    rest[0] = count[0], rest[1] = count[2], rest[2] = count[4];
    test_shares("random 1:(2):7:(3):4", rest, rest_w, 3, 1.0);
    gw_balancer_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uniform),
        cmocka_unit_test(test_weighted),
        cmocka_unit_test(test_down_keeps_proportions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
