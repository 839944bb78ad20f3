/* Unit tests for src/balance/balancer.c: the interface every strategy shares. */
#include "balance_test.h"

#include "core/error.h"

#define NSTRAT 7

static const char *const names[NSTRAT] = {
    "round_robin", "weighted_round_robin", "random",   "least_connections",
    "ip_hash",     "consistent_hash",      "p2c_ewma",
};

static void test_parse(void **state)
{
    (void)state;
    enum gw_balance_strategy s;
    for (int i = 0; i < NSTRAT; i++) {
        assert_int_equal(gw_balance_strategy_parse(names[i], &s), 0);
        assert_int_equal(s, i);
        assert_string_equal(gw_balance_strategy_name(s), names[i]);
    }
    assert_int_equal(gw_balance_strategy_parse("least_conn", &s), GW_EINVAL);
    assert_int_equal(gw_balance_strategy_parse("", &s), GW_EINVAL);
    assert_int_equal(gw_balance_strategy_parse(NULL, &s), GW_EINVAL);
    assert_string_equal(gw_balance_strategy_name((enum gw_balance_strategy)99), "unknown");
}

static void test_new_rejects(void **state)
{
    (void)state;
    struct gw_balancer *b = (void *)1;
    struct gw_balance_target_spec dup[] = {{"a:1", 1}, {"b:1", 1}, {"a:1", 2}};
    struct gw_balance_target_spec noid[] = {{"a:1", 1}, {NULL, 1}};
    struct gw_balance_target_spec empty[] = {{"", 1}};

    assert_int_equal(gw_balancer_new(GW_BALANCE_RANDOM, dup, 3, NULL, &b), GW_EINVAL);
    assert_null(b);
    assert_int_equal(gw_balancer_new(GW_BALANCE_RANDOM, noid, 2, NULL, &b), GW_EINVAL);
    assert_int_equal(gw_balancer_new(GW_BALANCE_RANDOM, empty, 1, NULL, &b), GW_EINVAL);
    assert_int_equal(gw_balancer_new(GW_BALANCE_RANDOM, NULL, 1, NULL, &b), GW_EINVAL);
    assert_int_equal(gw_balancer_new((enum gw_balance_strategy)42, dup, 1, NULL, &b), GW_EINVAL);
    assert_int_equal(gw_balancer_new(GW_BALANCE_RANDOM, dup, GW_BALANCE_MAX_TARGETS + 1, NULL, &b),
                     GW_EINVAL);
    gw_balancer_free(NULL);
}

static void test_empty(void **state)
{
    (void)state;
    for (int s = 0; s < NSTRAT; s++) {
        struct gw_balancer *b = test_build((enum gw_balance_strategy)s, NULL, 0, NULL);
        assert_int_equal(gw_balancer_pick(b, NULL, NULL, NULL, NULL, 1), -1);
        assert_int_equal(
            gw_balancer_pick_sticky(b, "0123456789abcdef", 16, NULL, NULL, NULL, NULL, 1, NULL),
            -1);
        gw_balancer_free(b);
    }
}

/* Every strategy: unusable targets are never picked, excluded ones neither, -1 when nothing is
 * left; with and without a hash key. */
static void test_filters_all_strategies(void **state)
{
    (void)state;
    const uint32_t w[8] = {1, 2, 3, 1, 5, 1, 2, 1};
    for (int s = 0; s < NSTRAT; s++) {
        struct gw_balancer *b = test_build((enum gw_balance_strategy)s, w, 8, NULL);
        struct test_health h = {0};
        uint64_t excl[GW_BALANCE_EXCLUDE_WORDS] = {0};
        uint64_t seed = 7;
        unsigned count[8] = {0};
        char ip[32];

        test_down(&h, 1);
        test_down(&h, 4);
        gw_balance_exclude_add(excl, 0);
        gw_balance_exclude_add(excl, 6);
        for (int k = 0; k < 20000; k++) {
            snprintf(ip, sizeof(ip), "192.168.%d.%d", k / 256, k % 256);
            struct gw_balance_key key = {ip, strlen(ip)};
            int i =
                gw_balancer_pick(b, k % 2 ? &key : NULL, test_usable, &h, excl, test_rnd(&seed));
            assert_true(i >= 0 && i < 8);
            count[i]++;
        }
        printf("  %-20s:", names[s]);
        for (int i = 0; i < 8; i++)
            printf(" %5u", count[i]);
        printf("\n");
        assert_int_equal(count[0] + count[1] + count[4] + count[6], 0);
        /* every remaining target gets some traffic */
        assert_true(count[2] > 0 && count[3] > 0 && count[5] > 0 && count[7] > 0);

        /* all but one out: always that one */
        for (int i = 0; i < 8; i++) {
            if (i != 5)
                test_down(&h, (size_t)i);
        }
        for (int k = 0; k < 200; k++) {
            struct gw_balance_key key = {"10.1.2.3", 8};
            assert_int_equal(gw_balancer_pick(b, &key, test_usable, &h, excl, test_rnd(&seed)), 5);
        }
        /* and none: -1 */
        gw_balance_exclude_add(excl, 5);
        for (int k = 0; k < 50; k++) {
            struct gw_balance_key key = {"10.1.2.3", 8};
            assert_int_equal(gw_balancer_pick(b, &key, test_usable, &h, excl, test_rnd(&seed)), -1);
            assert_int_equal(gw_balancer_pick(b, NULL, NULL, NULL, excl, test_rnd(&seed)) >= 0, 1);
        }
        gw_balancer_free(b);
    }
}

/* Weight 0 drains a target in every strategy. */
static void test_weight_zero(void **state)
{
    (void)state;
    const uint32_t w[3] = {1, 0, 1};
    const uint32_t none[2] = {0, 0};
    for (int s = 0; s < NSTRAT; s++) {
        struct gw_balancer *b = test_build((enum gw_balance_strategy)s, w, 3, NULL);
        uint64_t seed = 3;
        for (int k = 0; k < 5000; k++) {
            char key[16];
            snprintf(key, sizeof(key), "k%d", k);
            struct gw_balance_key hk = {key, strlen(key)};
            int i = gw_balancer_pick(b, &hk, NULL, NULL, NULL, test_rnd(&seed));
            assert_true(i == 0 || i == 2);
        }
        gw_balancer_free(b);
        b = test_build((enum gw_balance_strategy)s, none, 2, NULL);
        assert_int_equal(gw_balancer_pick(b, NULL, NULL, NULL, NULL, 1), -1);
        gw_balancer_free(b);
    }
}

static void test_sticky(void **state)
{
    (void)state;
    const uint32_t w[4] = {1, 1, 1, 1};
    struct gw_balancer *b = test_build(GW_BALANCE_ROUND_ROBIN, w, 4, NULL);
    struct test_health h = {0};
    char v[4][GW_BALANCE_STICKY_LEN + 1];
    bool stuck;

    for (int i = 0; i < 4; i++) {
        gw_balancer_sticky_value(b, i, v[i]);
        assert_int_equal(strlen(v[i]), GW_BALANCE_STICKY_LEN);
        assert_int_equal(strspn(v[i], "0123456789abcdef"), GW_BALANCE_STICKY_LEN);
    }
    for (int k = 0; k < 100; k++) {
        int want = k % 4;
        assert_int_equal(
            gw_balancer_pick_sticky(b, v[want], 16, NULL, NULL, NULL, NULL, (uint64_t)k, &stuck),
            want);
        assert_true(stuck);
    }
    /* upper case hex is accepted too */
    char upper[17];
    for (int k = 0; k < 17; k++)
        upper[k] = (char)(v[2][k] >= 'a' ? v[2][k] - 32 : v[2][k]);
    assert_int_equal(gw_balancer_pick_sticky(b, upper, 16, NULL, NULL, NULL, NULL, 0, &stuck), 2);

    /* down, excluded, garbage, unknown: normal pick and stuck == false */
    test_down(&h, 2);
    for (int k = 0; k < 100; k++) {
        int i =
            gw_balancer_pick_sticky(b, v[2], 16, NULL, test_usable, &h, NULL, (uint64_t)k, &stuck);
        assert_true(i >= 0 && i != 2);
        assert_false(stuck);
    }
    uint64_t excl[GW_BALANCE_EXCLUDE_WORDS] = {0};
    gw_balance_exclude_add(excl, 1);
    assert_int_not_equal(gw_balancer_pick_sticky(b, v[1], 16, NULL, NULL, NULL, excl, 0, &stuck),
                         1);
    assert_false(stuck);
    assert_true(
        gw_balancer_pick_sticky(b, "zz23456789abcdef", 16, NULL, NULL, NULL, NULL, 0, &stuck) >= 0);
    assert_false(stuck);
    assert_true(gw_balancer_pick_sticky(b, v[1], 15, NULL, NULL, NULL, NULL, 0, &stuck) >= 0);
    assert_false(stuck);
    assert_true(
        gw_balancer_pick_sticky(b, "0000000000000000", 16, NULL, NULL, NULL, NULL, 0, NULL) >= 0);
    assert_true(gw_balancer_pick_sticky(b, NULL, 0, NULL, NULL, NULL, NULL, 0, &stuck) >= 0);
    assert_false(stuck);

    /* The value depends on the id only: the same target in another balancer (another order,
     * another strategy) gets the same cookie; another sticky_key changes it. */
    struct gw_balance_target_spec rev[] = {
        {"10.0.0.4:8080", 1}, {"10.0.0.3:8080", 1}, {"10.0.0.2:8080", 1}, {"10.0.0.1:8080", 1}};
    struct gw_balancer *b2 = NULL;
    assert_int_equal(gw_balancer_new(GW_BALANCE_P2C_EWMA, rev, 4, NULL, &b2), 0);
    char v2[17];
    gw_balancer_sticky_value(b2, 3, v2);
    assert_string_equal(v2, v[0]);
    assert_int_equal(gw_balancer_pick_sticky(b2, v[0], 16, NULL, NULL, NULL, NULL, 0, &stuck), 3);
    gw_balancer_free(b2);
    struct gw_balance_options o = {.sticky_key = 12345};
    assert_int_equal(gw_balancer_new(GW_BALANCE_P2C_EWMA, rev, 4, &o, &b2), 0);
    gw_balancer_sticky_value(b2, 3, v2);
    assert_string_not_equal(v2, v[0]);
    gw_balancer_free(b2);
    gw_balancer_free(b);
}

static void test_acquire_release(void **state)
{
    (void)state;
    struct gw_balancer *b = test_build(GW_BALANCE_ROUND_ROBIN, NULL, 3, NULL);
    assert_string_equal(gw_balancer_target_id(b, 1), "10.0.0.2:8080");
    assert_null(gw_balancer_target_id(b, 3));
    assert_int_equal(gw_balancer_strategy(b), GW_BALANCE_ROUND_ROBIN);
    gw_balancer_acquire(b, 1);
    gw_balancer_acquire(b, 1);
    gw_balancer_acquire(b, 2);
    assert_int_equal(gw_balancer_inflight(b, 0), 0);
    assert_int_equal(gw_balancer_inflight(b, 1), 2);
    gw_balancer_release(b, 1, true, 100);
    gw_balancer_release(b, 1, false, 100);
    gw_balancer_release(b, 2, true, 100);
    assert_int_equal(gw_balancer_inflight(b, 1), 0);
    assert_int_equal(gw_balancer_inflight(b, 2), 0);
    gw_balancer_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),           cmocka_unit_test(test_new_rejects),
        cmocka_unit_test(test_empty),           cmocka_unit_test(test_filters_all_strategies),
        cmocka_unit_test(test_weight_zero),     cmocka_unit_test(test_sticky),
        cmocka_unit_test(test_acquire_release),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
