/* Unit tests for src/balance/hash.c: ip_hash, consistent_hash and the hash itself. */
#include "balance_test.h"

#define KEYS 100000

static int pick_key(struct gw_balancer *b, int k, gw_balance_usable_fn usable, void *ctx)
{
    char key[32];
    snprintf(key, sizeof(key), "client-%d", k);
    struct gw_balance_key hk = {key, strlen(key)};
    return gw_balancer_pick(b, &hk, usable, ctx, NULL, (uint64_t)k * 31);
}

static struct gw_balancer *build_ids(enum gw_balance_strategy s, const char *const *ids, size_t n)
{
    struct gw_balance_target_spec specs[16];
    struct gw_balancer *b = NULL;
    for (size_t i = 0; i < n; i++) {
        specs[i].id = ids[i];
        specs[i].weight = 1;
    }
    assert_int_equal(gw_balancer_new(s, specs, n, NULL, &b), 0);
    return b;
}

static void test_ip_hash_stable_and_spread(void **state)
{
    (void)state;
    const uint32_t w[4] = {1, 1, 1, 1};
    struct gw_balancer *b = test_build(GW_BALANCE_IP_HASH, w, 4, NULL);
    struct gw_balancer *b2 = test_build(GW_BALANCE_IP_HASH, w, 4, NULL);
    unsigned count[4] = {0};
    char ip[32];
    for (int k = 0; k < KEYS; k++) {
        snprintf(ip, sizeof(ip), "10.%d.%d.%d", k >> 16, (k >> 8) & 255, k & 255);
        struct gw_balance_key key = {ip, strlen(ip)};
        int i = gw_balancer_pick(b, &key, NULL, NULL, NULL, (uint64_t)k);
        /* same client, another random number, another balancer over the same set: same target */
        assert_int_equal(gw_balancer_pick(b, &key, NULL, NULL, NULL, (uint64_t)k * 7 + 1), i);
        assert_int_equal(gw_balancer_pick(b2, &key, NULL, NULL, NULL, 99), i);
        count[i]++;
    }
    test_shares("ip_hash x4 over 100k IPs", count, w, 4, 1.5);
    gw_balancer_free(b);
    gw_balancer_free(b2);
}

/* A target going down moves only its own clients, and they come back when it recovers. */
static void test_ip_hash_down(void **state)
{
    (void)state;
    const uint32_t w[5] = {1, 2, 1, 3, 1};
    struct gw_balancer *b = test_build(GW_BALANCE_IP_HASH, w, 5, NULL);
    struct test_health h = {0};
    int *before = calloc(KEYS, sizeof(*before));
    assert_non_null(before);
    unsigned count[5] = {0};
    for (int k = 0; k < KEYS; k++) {
        before[k] = pick_key(b, k, NULL, NULL);
        count[before[k]]++;
    }
    test_shares("ip_hash 1:2:1:3:1", count, w, 5, 1.5);
    test_down(&h, 3);
    int moved = 0;
    for (int k = 0; k < KEYS; k++) {
        int i = pick_key(b, k, test_usable, &h);
        assert_int_not_equal(i, 3);
        if (before[k] != 3)
            assert_int_equal(i, before[k]);
        else
            moved++;
        /* deterministic while the set is fixed */
        assert_int_equal(pick_key(b, k, test_usable, &h), i);
    }
    assert_int_equal((unsigned)moved, count[3]);
    for (int k = 0; k < KEYS; k++)
        assert_int_equal(pick_key(b, k, NULL, NULL), before[k]);
    free(before);
    gw_balancer_free(b);
}

static const char *const ids6[6] = {"10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080",
                                    "10.0.0.4:8080", "10.0.0.5:8080", "10.0.0.6:8080"};

static void test_ring_balance(void **state)
{
    (void)state;
    const uint32_t eq[5] = {1, 1, 1, 1, 1};
    struct gw_balancer *b = build_ids(GW_BALANCE_CONSISTENT_HASH, ids6, 5);
    unsigned count[5] = {0};
    for (int k = 0; k < KEYS; k++)
        count[pick_key(b, k, NULL, NULL)]++;
    test_shares("consistent_hash x5 (160 vnodes)", count, eq, 5, 4.0);
    gw_balancer_free(b);

    const uint32_t w[3] = {1, 2, 7};
    b = test_build(GW_BALANCE_CONSISTENT_HASH, w, 3, NULL);
    unsigned c3[3] = {0};
    for (int k = 0; k < KEYS; k++)
        c3[pick_key(b, k, NULL, NULL)]++;
    test_shares("consistent_hash 1:2:7", c3, w, 3, 4.0);
    gw_balancer_free(b);
}

/* Adding a 6th target to 5 remaps about 1/6 of the keys, all of them to the new target. */
static void test_ring_add(void **state)
{
    (void)state;
    struct gw_balancer *b5 = build_ids(GW_BALANCE_CONSISTENT_HASH, ids6, 5);
    struct gw_balancer *b6 = build_ids(GW_BALANCE_CONSISTENT_HASH, ids6, 6);
    int moved = 0;
    for (int k = 0; k < KEYS; k++) {
        int a = pick_key(b5, k, NULL, NULL), c = pick_key(b6, k, NULL, NULL);
        if (a != c) {
            assert_int_equal(c, 5);
            moved++;
        }
    }
    double pct = 100.0 * moved / KEYS;
    printf("  consistent_hash 5 -> 6 targets: %.2f%% of keys remapped (ideal %.2f%%)\n", pct,
           100.0 / 6);
    assert_true(pct <= 100.0 / 6 + 3.0);
    assert_true(pct > 5.0);
    gw_balancer_free(b5);
    gw_balancer_free(b6);
}

/* Removing one target (from the config, or by marking it down) moves only its own keys, and
 * both ways give the same answer. */
static void test_ring_remove(void **state)
{
    (void)state;
    const char *const four[4] = {ids6[0], ids6[1], ids6[3], ids6[4]}; /* without ids6[2] */
    struct gw_balancer *b5 = build_ids(GW_BALANCE_CONSISTENT_HASH, ids6, 5);
    struct gw_balancer *b4 = build_ids(GW_BALANCE_CONSISTENT_HASH, four, 4);
    struct test_health h = {0};
    int moved = 0;
    test_down(&h, 2);
    for (int k = 0; k < KEYS; k++) {
        int a = pick_key(b5, k, NULL, NULL);
        const char *before = gw_balancer_target_id(b5, (size_t)a);
        const char *after = gw_balancer_target_id(b4, (size_t)pick_key(b4, k, NULL, NULL));
        const char *down = gw_balancer_target_id(b5, (size_t)pick_key(b5, k, test_usable, &h));
        if (a != 2)
            assert_string_equal(before, after);
        else
            moved++;
        assert_string_equal(after, down);
    }
    printf("  consistent_hash 5 -> 4 targets: %.2f%% of keys remapped (the removed target's)\n",
           100.0 * moved / KEYS);
    gw_balancer_free(b5);
    gw_balancer_free(b4);
}

/* Unusable targets are walked past until the next distinct usable one; none: -1. */
static void test_ring_walk(void **state)
{
    (void)state;
    struct gw_balancer *b = build_ids(GW_BALANCE_CONSISTENT_HASH, ids6, 6);
    struct test_health h = {0};
    for (int i = 0; i < 5; i++)
        test_down(&h, (size_t)i);
    for (int k = 0; k < 1000; k++)
        assert_int_equal(pick_key(b, k, test_usable, &h), 5);
    test_down(&h, 5);
    for (int k = 0; k < 1000; k++)
        assert_int_equal(pick_key(b, k, test_usable, &h), -1);
    gw_balancer_free(b);
}

/* Without a key (header or cookie absent) the hash strategies spread at random by weight. */
static void test_no_key(void **state)
{
    (void)state;
    const uint32_t w[3] = {1, 2, 7};
    unsigned count[3];
    struct gw_balancer *b = test_build(GW_BALANCE_CONSISTENT_HASH, w, 3, NULL);
    test_count(b, count, 17);
    test_shares("consistent_hash without key", count, w, 3, 1.0);
    gw_balancer_free(b);
    b = test_build(GW_BALANCE_IP_HASH, w, 3, NULL);
    test_count(b, count, 18);
    test_shares("ip_hash without key", count, w, 3, 1.0);
    gw_balancer_free(b);
}

/* Many weights: the ring is scaled under its point cap and still roughly proportional. */
static void test_ring_scaled(void **state)
{
    (void)state;
    uint32_t w[8];
    for (int i = 0; i < 8; i++)
        w[i] = (uint32_t)(100 * (i + 1));
    struct gw_balancer *b = test_build(GW_BALANCE_CONSISTENT_HASH, w, 8, NULL);
    unsigned count[8] = {0};
    for (int k = 0; k < KEYS; k++)
        count[pick_key(b, k, NULL, NULL)]++;
    test_shares("consistent_hash scaled 100..800", count, w, 8, 2.0);
    gw_balancer_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ip_hash_stable_and_spread),
        cmocka_unit_test(test_ip_hash_down),
        cmocka_unit_test(test_ring_balance),
        cmocka_unit_test(test_ring_add),
        cmocka_unit_test(test_ring_remove),
        cmocka_unit_test(test_ring_walk),
        cmocka_unit_test(test_no_key),
        cmocka_unit_test(test_ring_scaled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
