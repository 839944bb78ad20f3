/* Unit tests for src/balance/least_conn.c. */
#include "balance_test.h"

static void test_prefers_fewer_inflight(void **state)
{
    (void)state;
    struct gw_balancer *b = test_build(GW_BALANCE_LEAST_CONNECTIONS, NULL, 3, NULL);
    uint64_t seed = 1;
    const unsigned load[3] = {5, 2, 7};
    for (int i = 0; i < 3; i++) {
        for (unsigned k = 0; k < load[i]; k++)
            gw_balancer_acquire(b, i);
    }
    for (int k = 0; k < 1000; k++)
        assert_int_equal(gw_balancer_pick(b, NULL, NULL, NULL, NULL, test_rnd(&seed)), 1);
    /* the least loaded one down: next least loaded */
    struct test_health h = {0};
    test_down(&h, 1);
    for (int k = 0; k < 1000; k++)
        assert_int_equal(gw_balancer_pick(b, NULL, test_usable, &h, NULL, test_rnd(&seed)), 0);
    for (int i = 0; i < 3; i++) {
        for (unsigned k = 0; k < load[i]; k++)
            gw_balancer_release(b, i, true, 1000);
    }
    gw_balancer_free(b);
}

/* Requests that stay in flight spread evenly: each pick goes to the least loaded target. */
static void test_fills_evenly(void **state)
{
    (void)state;
    struct gw_balancer *b = test_build(GW_BALANCE_LEAST_CONNECTIONS, NULL, 4, NULL);
    uint64_t seed = 2;
    int picked[400];
    for (int k = 0; k < 400; k++) {
        picked[k] = gw_balancer_pick(b, NULL, NULL, NULL, NULL, test_rnd(&seed));
        gw_balancer_acquire(b, picked[k]);
        unsigned lo = UINT32_MAX, hi = 0;
        for (size_t i = 0; i < 4; i++) {
            unsigned v = gw_balancer_inflight(b, i);
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        assert_true(hi - lo <= 1);
    }
    for (int k = 0; k < 400; k++)
        gw_balancer_release(b, picked[k], true, 10);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(gw_balancer_inflight(b, i), 0);
    gw_balancer_free(b);
}

/* In-flight counts are compared per unit of weight; ties (idle) go by weight. */
static void test_weights(void **state)
{
    (void)state;
    const uint32_t w[3] = {1, 2, 7};
    unsigned count[3];
    struct gw_balancer *b = test_build(GW_BALANCE_LEAST_CONNECTIONS, w, 3, NULL);
    test_count(b, count, 3);
    test_shares("least_connections idle 1:2:7", count, w, 3, 1.0);
    /* 3 in flight on the weight-7 target (3/7) is less than 1 on the weight-1 one (1/1) */
    for (int k = 0; k < 3; k++)
        gw_balancer_acquire(b, 2);
    gw_balancer_acquire(b, 0);
    gw_balancer_acquire(b, 1);
    gw_balancer_acquire(b, 1);
    for (int k = 0; k < 100; k++)
        assert_int_equal(gw_balancer_pick(b, NULL, NULL, NULL, NULL, (uint64_t)k), 2);
    gw_balancer_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefers_fewer_inflight),
        cmocka_unit_test(test_fills_evenly),
        cmocka_unit_test(test_weights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
