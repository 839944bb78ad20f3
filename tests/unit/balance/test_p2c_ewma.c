/* Unit tests for src/balance/p2c_ewma.c. */
#include "balance_test.h"

static uint64_t fake_now(void *ctx)
{
    return *(const uint64_t *)ctx;
}

static struct gw_balancer *build_p2c(size_t n, uint64_t *clock)
{
    struct gw_balance_options o = {.clock_us = fake_now, .clock_ctx = clock};
    return test_build(GW_BALANCE_P2C_EWMA, NULL, n, &o);
}

/* One sample per target: a sample above the estimate replaces it (peak sensitivity). */
static void prime(struct gw_balancer *b, size_t i, uint64_t latency_us)
{
    gw_balancer_acquire(b, (int)i);
    gw_balancer_release(b, (int)i, true, latency_us);
}

/* A target whose average is 10x the others gets (almost) nothing: < 10% required. */
static void test_avoids_slow(void **state)
{
    (void)state;
    uint64_t clock = 1000000000;
    struct gw_balancer *b = build_p2c(5, &clock);
    unsigned count[5] = {0};
    uint64_t seed = 1;
    for (size_t i = 0; i < 5; i++)
        prime(b, i, i == 4 ? 200000 : 20000);
    assert_int_equal(gw_balancer_ewma_us(b, 4), 200000);
    for (int k = 0; k < PICKS; k++) {
        int i = gw_balancer_pick(b, NULL, NULL, NULL, NULL, test_rnd(&seed));
        gw_balancer_acquire(b, i);
        clock += 10; /* 100k requests per second */
        gw_balancer_release(b, i, true, i == 4 ? 200000 : 20000);
        count[i]++;
    }
    printf("  p2c_ewma, target 4 at 10x latency:");
    for (int i = 0; i < 5; i++)
        printf(" %.2f%%", 100.0 * count[i] / PICKS);
    printf("\n");
    assert_true(count[4] < PICKS / 10);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(gw_balancer_inflight(b, i), 0);
    gw_balancer_free(b);
}

/* With equal latencies load goes evenly; in-flight requests count (cost * (inflight + 1)). */
static void test_equal_and_inflight(void **state)
{
    (void)state;
    uint64_t clock = 5000000;
    const uint32_t eq[4] = {1, 1, 1, 1};
    struct gw_balancer *b = build_p2c(4, &clock);
    unsigned count[4] = {0};
    uint64_t seed = 2;
    for (int k = 0; k < PICKS; k++) {
        int i = gw_balancer_pick(b, NULL, NULL, NULL, NULL, test_rnd(&seed));
        gw_balancer_acquire(b, i);
        clock += 10;
        gw_balancer_release(b, i, true, 5000);
        count[i]++;
    }
    test_shares("p2c_ewma equal latency x4", count, eq, 4, 1.5);

    /* target 0 holds 10 requests: it loses every comparison */
    for (int k = 0; k < 10; k++)
        gw_balancer_acquire(b, 0);
    for (int k = 0; k < 1000; k++)
        assert_int_not_equal(gw_balancer_pick(b, NULL, NULL, NULL, NULL, test_rnd(&seed)), 0);
    for (int k = 0; k < 10; k++)
        gw_balancer_release(b, 0, true, 5000);
    gw_balancer_free(b);
}

/* The estimate decays with time: a slow target is probed again after ~tau * ln(10), and a
 * fast sample pulls the average down by 1 - exp(-dt / tau). */
static void test_decay(void **state)
{
    (void)state;
    uint64_t clock = 0;
    struct gw_balancer *b = build_p2c(2, &clock);
    assert_int_equal(gw_balancer_ewma_us(b, 0), 10000); /* the initial estimate */
    prime(b, 0, 100000);
    prime(b, 1, 1000); /* a first sample replaces the initial estimate, even when lower */
    assert_int_equal(gw_balancer_ewma_us(b, 0), 100000);
    assert_int_equal(gw_balancer_ewma_us(b, 1), 1000);
    clock += 10000000; /* one tau (10 s) later */
    uint64_t e = gw_balancer_ewma_us(b, 0);
    printf("  p2c_ewma: 100000 us after one tau reads %llu us (100000/e = 36788)\n",
           (unsigned long long)e);
    assert_true(e > 36700 && e < 36900);
    /* a 10 ms sample one tau after the last: est * 1/e + 10000 * (1 - 1/e) */
    prime(b, 0, 10000);
    e = gw_balancer_ewma_us(b, 0);
    printf("  p2c_ewma: then a 10000 us sample gives %llu us (expected 43109)\n",
           (unsigned long long)e);
    assert_true(e > 43000 && e < 43200);
    /* a slower sample replaces the estimate at once */
    prime(b, 0, 500000);
    assert_int_equal(gw_balancer_ewma_us(b, 0), 500000);
    /* a sample at the same instant below the estimate does not move it */
    prime(b, 0, 1000);
    assert_int_equal(gw_balancer_ewma_us(b, 0), 500000);
    gw_balancer_free(b);
}

/* A target that loses every comparison gets no samples, so its estimate decays until it is
 * probed again: about tau * ln(10) = 23 s after it was 10x slower than the others. */
static void test_probe_after_decay(void **state)
{
    (void)state;
    uint64_t clock = 0, seed = 6;
    struct gw_balancer *b = build_p2c(2, &clock);
    prime(b, 0, 1000);
    prime(b, 1, 10000);
    uint64_t probed_at = 0;
    bool probed = false;
    for (int k = 0; k < 100000 && !probed; k++) {
        int i = gw_balancer_pick(b, NULL, NULL, NULL, NULL, test_rnd(&seed));
        if (i == 1) {
            probed = true;
            probed_at = clock;
        }
        gw_balancer_acquire(b, i);
        gw_balancer_release(b, i, true, i == 1 ? 10000 : 1000);
        clock += 1000; /* 1000 requests per second */
    }
    printf("  p2c_ewma: 10x slower target probed again after %.1f s\n", probed_at / 1e6);
    assert_true(probed_at > 20000000 && probed_at < 30000000);
    /* the probe's slow sample puts it back at 10 ms at once (read 1 ms later) */
    uint64_t e = gw_balancer_ewma_us(b, 1);
    assert_true(e >= 9990 && e <= 10000);
    gw_balancer_free(b);
}

/* A failure counts as at least the penalty (1 s by default), however fast it failed. */
static void test_failure_penalty(void **state)
{
    (void)state;
    uint64_t clock = 0;
    struct gw_balancer *b = build_p2c(3, &clock);
    uint64_t seed = 3;
    prime(b, 0, 20000);
    prime(b, 2, 20000);
    gw_balancer_acquire(b, 1);
    gw_balancer_release(b, 1, false, 50);
    assert_int_equal(gw_balancer_ewma_us(b, 1), 1000000);
    for (int k = 0; k < 1000; k++)
        assert_int_not_equal(gw_balancer_pick(b, NULL, NULL, NULL, NULL, test_rnd(&seed)), 1);
    gw_balancer_free(b);
}

/* A target without samples competes on in-flight counts (it borrows its partner's estimate):
 * a new target neither starves nor floods. */
static void test_new_target(void **state)
{
    (void)state;
    uint64_t clock = 0, seed = 8;
    struct gw_balancer *b = build_p2c(3, &clock);
    unsigned count[3] = {0};
    prime(b, 0, 50000);
    prime(b, 1, 50000);
    int held[300];
    for (int k = 0; k < 300; k++) {
        held[k] = gw_balancer_pick(b, NULL, NULL, NULL, NULL, test_rnd(&seed));
        gw_balancer_acquire(b, held[k]);
        count[held[k]]++;
    }
    printf("  p2c_ewma: 300 concurrent requests, target 2 without samples: %u %u %u\n", count[0],
           count[1], count[2]);
    assert_true(count[2] > 60 && count[2] < 140);
    for (int k = 0; k < 300; k++)
        gw_balancer_release(b, held[k], true, 50000);
    gw_balancer_free(b);
}

/* Down targets are never picked; the others still compete in pairs. */
static void test_skips_down(void **state)
{
    (void)state;
    uint64_t clock = 0;
    struct gw_balancer *b = build_p2c(4, &clock);
    struct test_health h = {0};
    uint64_t seed = 4;
    unsigned count[4] = {0};
    prime(b, 0, 1000);
    prime(b, 1, 1000);
    prime(b, 2, 50000);
    prime(b, 3, 1000);
    test_down(&h, 0);
    test_down(&h, 1);
    for (int k = 0; k < 10000; k++)
        count[gw_balancer_pick(b, NULL, test_usable, &h, NULL, test_rnd(&seed))]++;
    assert_int_equal(count[0] + count[1] + count[2], 0); /* 3 always beats 2 */
    assert_int_equal(count[3], 10000);
    gw_balancer_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_avoids_slow),     cmocka_unit_test(test_equal_and_inflight),
        cmocka_unit_test(test_decay),           cmocka_unit_test(test_probe_after_decay),
        cmocka_unit_test(test_failure_penalty), cmocka_unit_test(test_new_target),
        cmocka_unit_test(test_skips_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
