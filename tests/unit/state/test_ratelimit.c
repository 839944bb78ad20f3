/* Unit tests for src/state/ratelimit_algos.c: arithmetic, header truth, the sliding-window
 * bound, GCRA / token-bucket equivalence, and concurrency (no lost updates). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "state/ratelimit.h"

#define T0 UINT64_C(1000000000) /* a "now" far from 0 */
#define SEC UINT64_C(1000000)

static struct gw_rl_conf mk(enum gw_rl_algo algo, uint64_t limit, uint64_t period, uint64_t burst)
{
    struct gw_rl_conf c;
    memset(&c, 0, sizeof(c));
    c.algo = algo;
    c.limit = limit;
    c.period_us = period;
    c.burst = burst;
    assert_int_equal(gw_rl_conf_prepare(&c), 0);
    return c;
}

static struct gw_rl_decision dec(const struct gw_rl_conf *c, struct gw_rl_state *s, uint64_t now)
{
    struct gw_rl_decision d;
    gw_rl_decide(c, s, now, &d);
    assert_int_equal(d.limit, c->capacity);
    if (d.allowed)
        assert_int_equal(d.retry_after_us, 0);
    else
        assert_int_equal(d.remaining, 0);
    return d;
}

static uint64_t rng_state = 88172645463325252u;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_conf_invalid(void **unused)
{
    (void)unused;
    struct gw_rl_conf c;
    memset(&c, 0, sizeof(c));
    c.algo = GW_RL_GCRA;
    c.period_us = SEC;
    assert_int_equal(gw_rl_conf_prepare(&c), GW_EINVAL); /* limit 0 */
    c.limit = 10;
    c.period_us = 0;
    assert_int_equal(gw_rl_conf_prepare(&c), GW_EINVAL);
    c.period_us = SEC;
    c.algo = (enum gw_rl_algo)42;
    assert_int_equal(gw_rl_conf_prepare(&c), GW_EINVAL);
    c.algo = GW_RL_SLIDING_WINDOW;
    c.sw_buckets = GW_RL_SW_MAX_BUCKETS + 1;
    assert_int_equal(gw_rl_conf_prepare(&c), GW_EINVAL);
    c.sw_buckets = 0;
    assert_int_equal(gw_rl_conf_prepare(&c), 0);
    assert_int_equal(c.sw_buckets, GW_RL_SW_DEFAULT_BUCKETS);
    assert_int_equal(c.bucket_us, SEC / 10);
    c.algo = GW_RL_GCRA;
    c.limit = 3;
    assert_int_equal(gw_rl_conf_prepare(&c), 0);
    assert_int_equal(c.interval_us, 333334); /* rounded up: never faster than the rate */
    assert_int_equal(c.capacity, 3);
}

static void check_bucket_arith(enum gw_rl_algo algo)
{
    /* 10/s, burst 5: T = 100 ms */
    struct gw_rl_conf c = mk(algo, 10, SEC, 5);
    struct gw_rl_state s;
    gw_rl_state_init(&s, &c);
    for (uint64_t i = 0; i < 5; i++) {
        struct gw_rl_decision d = dec(&c, &s, T0);
        assert_true(d.allowed);
        assert_int_equal(d.remaining, 4 - i);
        assert_int_equal(d.reset_after_us, 100000);
    }
    struct gw_rl_decision d = dec(&c, &s, T0);
    assert_false(d.allowed);
    assert_int_equal(d.retry_after_us, 100000);
    d = dec(&c, &s, T0 + 99999);
    assert_false(d.allowed);
    assert_int_equal(d.retry_after_us, 1);
    d = dec(&c, &s, T0 + 100000);
    assert_true(d.allowed);
    assert_int_equal(d.remaining, 0);
    /* steady rate: one per interval forever */
    for (uint64_t i = 2; i < 1000; i++)
        assert_true(dec(&c, &s, T0 + i * 100000).allowed);
    /* partial refill: 250 ms after the last => 2 tokens, the next comes 50 ms later */
    uint64_t t = T0 + 999 * 100000 + 250000;
    d = dec(&c, &s, t);
    assert_true(d.allowed);
    assert_int_equal(d.remaining, 1);
    assert_int_equal(d.reset_after_us, 50000);
    /* long idle: full again, never more than burst */
    assert_true(gw_rl_state_idle(&c, &s, t + 10 * SEC));
    for (int i = 0; i < 5; i++)
        assert_true(dec(&c, &s, t + 10 * SEC).allowed);
    assert_false(dec(&c, &s, t + 10 * SEC).allowed);
    assert_false(gw_rl_state_idle(&c, &s, t + 10 * SEC));
}

static void test_gcra_arith(void **unused)
{
    (void)unused;
    check_bucket_arith(GW_RL_GCRA);
}

static void test_token_bucket_arith(void **unused)
{
    (void)unused;
    check_bucket_arith(GW_RL_TOKEN_BUCKET);
}

/* Same rate and burst, same arrival times: identical decisions, field by field. */
static void test_token_bucket_equals_gcra(void **unused)
{
    (void)unused;
    static const uint64_t confs[][3] = {{10, SEC, 5}, {7, SEC, 1}, {1000, SEC, 50}, {3, 1000, 0}};
    for (size_t k = 0; k < sizeof(confs) / sizeof(confs[0]); k++) {
        struct gw_rl_conf g = mk(GW_RL_GCRA, confs[k][0], confs[k][1], confs[k][2]);
        struct gw_rl_conf tb = mk(GW_RL_TOKEN_BUCKET, confs[k][0], confs[k][1], confs[k][2]);
        struct gw_rl_state sg;
        struct gw_rl_state st;
        gw_rl_state_init(&sg, &g);
        gw_rl_state_init(&st, &tb);
        uint64_t now = T0;
        for (int i = 0; i < 200000; i++) {
            now += rng() % (2 * g.interval_us + 1) / (1 + rng() % 4);
            struct gw_rl_decision a = dec(&g, &sg, now);
            struct gw_rl_decision b = dec(&tb, &st, now);
            assert_int_equal(a.allowed, b.allowed);
            assert_int_equal(a.remaining, b.remaining);
            assert_int_equal(a.reset_after_us, b.reset_after_us);
            assert_int_equal(a.retry_after_us, b.retry_after_us);
        }
    }
}

/* A fresh key once the window number's low 32 bits pass 2^31 (a 1 ms window after ~25 days of
 * uptime): its empty tag must not read as a later window. */
static void test_fixed_window_fresh_key_late_epoch(void **unused)
{
    (void)unused;
    struct gw_rl_conf c = mk(GW_RL_FIXED_WINDOW, 2, 1000, 0);
    struct gw_rl_state s;
    gw_rl_state_init(&s, &c);
    uint64_t now = (UINT64_C(0x80000000) + 5) * 1000 + 100;
    struct gw_rl_decision d = dec(&c, &s, now);
    assert_true(d.allowed);
    assert_int_equal(d.remaining, 1);
    assert_int_equal(d.reset_after_us, 900);
    assert_true(dec(&c, &s, now + 1).allowed);
    assert_false(dec(&c, &s, now + 2).allowed);
    d = dec(&c, &s, now + 900);
    assert_true(d.allowed);
    assert_int_equal(d.reset_after_us, 1000);
}

static void test_fixed_window_edges(void **unused)
{
    (void)unused;
    struct gw_rl_conf c = mk(GW_RL_FIXED_WINDOW, 3, 1000, 0);
    struct gw_rl_state s;
    gw_rl_state_init(&s, &c);
    uint64_t w0 = T0; /* a window start (T0 is a multiple of 1000) */
    struct gw_rl_decision d = dec(&c, &s, w0 + 10);
    assert_true(d.allowed);
    assert_int_equal(d.remaining, 2);
    assert_int_equal(d.reset_after_us, 990);
    assert_true(dec(&c, &s, w0 + 500).allowed);
    d = dec(&c, &s, w0 + 999);
    assert_true(d.allowed);
    assert_int_equal(d.remaining, 0);
    assert_int_equal(d.reset_after_us, 1);
    d = dec(&c, &s, w0 + 999);
    assert_false(d.allowed);
    assert_int_equal(d.retry_after_us, 1);
    assert_false(gw_rl_state_idle(&c, &s, w0 + 999));
    assert_true(gw_rl_state_idle(&c, &s, w0 + 1000));
    /* the next window starts fresh: a fixed window allows up to 2x limit across an edge */
    for (uint64_t i = 0; i < 3; i++) {
        d = dec(&c, &s, w0 + 1000);
        assert_true(d.allowed);
        assert_int_equal(d.remaining, 2 - i);
        assert_int_equal(d.reset_after_us, 1000);
    }
    assert_false(dec(&c, &s, w0 + 1999).allowed);
    /* time going back inside the state's window never refunds */
    assert_false(dec(&c, &s, w0 + 1500).allowed);
    /* far later: a stale epoch is a fresh window */
    assert_true(dec(&c, &s, w0 + 1000 * 1000).allowed);
}

static void test_sliding_window_arith(void **unused)
{
    (void)unused;
    /* 5 per 1000 us, 10 sub-buckets of 100 us */
    struct gw_rl_conf c = mk(GW_RL_SLIDING_WINDOW, 5, 1000, 0);
    struct gw_rl_state s;
    gw_rl_state_init(&s, &c);
    uint64_t w0 = T0;
    for (uint64_t i = 0; i < 3; i++)
        assert_true(dec(&c, &s, w0 + 950).allowed);   /* bucket 9 */
    struct gw_rl_decision d = dec(&c, &s, w0 + 1250); /* bucket 12 */
    assert_true(d.allowed);
    assert_int_equal(d.remaining, 1);
    /* bucket 9 stops counting at (9 + 11) * 100 = 2000 */
    assert_int_equal(d.reset_after_us, 2000 - 1250);
    d = dec(&c, &s, w0 + 1999); /* the window edge does not double the allowance */
    assert_true(d.allowed);
    assert_int_equal(d.remaining, 0);
    d = dec(&c, &s, w0 + 1999);
    assert_false(d.allowed);
    assert_int_equal(d.retry_after_us, 1);
    d = dec(&c, &s, w0 + 2000); /* bucket 9 (3 requests) left: 3 available */
    assert_true(d.allowed);
    assert_int_equal(d.remaining, 2);
    /* bucket 12 leaves at 2300: 1 more; bucket 19 (2 requests) at 3000 */
    assert_int_equal(d.reset_after_us, 300);
    assert_true(dec(&c, &s, w0 + 2000).allowed);
    assert_true(dec(&c, &s, w0 + 2000).allowed);
    d = dec(&c, &s, w0 + 2000);
    assert_false(d.allowed);
    assert_int_equal(d.retry_after_us, 300);
    assert_false(gw_rl_state_idle(&c, &s, w0 + 3000));
    assert_true(gw_rl_state_idle(&c, &s, w0 + 3100));
}

/* The documented bound: in ANY closed interval of length period_us, at most limit requests are
 * admitted. Checked over random arrival patterns, bursts included. */
static void test_sliding_window_bound(void **unused)
{
    (void)unused;
    static const uint64_t confs[][3] = {{5, 1000, 10}, {10, 1000, 3}, {1, 777, 15}, {50, 999, 1}};
    enum {
        N = 20000
    };
    uint64_t *admitted = malloc(N * sizeof(*admitted));
    assert_non_null(admitted);
    for (size_t k = 0; k < sizeof(confs) / sizeof(confs[0]); k++) {
        struct gw_rl_conf c;
        memset(&c, 0, sizeof(c));
        c.algo = GW_RL_SLIDING_WINDOW;
        c.limit = confs[k][0];
        c.period_us = confs[k][1];
        c.sw_buckets = (uint32_t)confs[k][2];
        assert_int_equal(gw_rl_conf_prepare(&c), 0);
        struct gw_rl_state s;
        gw_rl_state_init(&s, &c);
        size_t n = 0;
        uint64_t now = T0;
        for (int i = 0; i < N; i++) {
            now += (rng() % 8 == 0) ? rng() % (2 * c.period_us) : rng() % 30;
            if (dec(&c, &s, now).allowed)
                admitted[n++] = now;
        }
        assert_true(n > c.limit);
        size_t j = 0;
        for (size_t i = 0; i < n; i++) { /* window [admitted[i], admitted[i] + period] */
            if (j < i)
                j = i;
            while (j + 1 < n && admitted[j + 1] <= admitted[i] + c.period_us)
                j++;
            assert_true(j - i + 1 <= c.limit);
        }
    }
    free(admitted);
}

/* A client that follows the headers — sends while remaining > 0, else waits RateLimit-Reset;
 * when refused waits Retry-After — is never refused. */
static void check_truth(enum gw_rl_algo algo, uint64_t limit, uint64_t period, uint64_t burst)
{
    struct gw_rl_conf c = mk(algo, limit, period, burst);
    struct gw_rl_state s;
    gw_rl_state_init(&s, &c);
    uint64_t now = T0 + rng() % period;
    uint64_t not_before = now;
    uint64_t sent = 0;
    for (int i = 0; i < 50000; i++) {
        if (now >= not_before) {
            struct gw_rl_decision d = dec(&c, &s, now);
            assert_true(d.allowed);
            sent++;
            if (d.remaining == 0) {
                assert_true(d.reset_after_us > 0);
                not_before = now + d.reset_after_us;
            }
            /* now and then, a probe when out of quota: refused, Retry-After is exact */
            if (d.remaining == 0 && rng() % 4 == 0) {
                uint64_t probe = now + rng() % d.reset_after_us;
                struct gw_rl_decision r = dec(&c, &s, probe);
                assert_false(r.allowed);
                if (r.retry_after_us > 1) {
                    assert_false(dec(&c, &s, probe + r.retry_after_us - 1).allowed);
                }
                now = probe + r.retry_after_us;
                not_before = now;
                continue;
            }
        }
        now += rng() % 4 == 0 ? rng() % (period / 2 + 1) : rng() % 3;
    }
    assert_true(sent > limit);
}

static void test_headers_truth(void **unused)
{
    (void)unused;
    for (int a = GW_RL_GCRA; a <= GW_RL_FIXED_WINDOW; a++) {
        check_truth((enum gw_rl_algo)a, 5, 1000, 0);
        check_truth((enum gw_rl_algo)a, 10, SEC, 3);
        check_truth((enum gw_rl_algo)a, 1, 333, 0);
        check_truth((enum gw_rl_algo)a, 100, 997, 7);
    }
}

/* ---- concurrency --------------------------------------------------------------------------- */

#define THREADS 4
#define PER_THREAD 100000

struct race {
    const struct gw_rl_conf *c;
    struct gw_rl_state *s;
    uint64_t admitted;
};

static pthread_barrier_t race_start;

static void *race_main(void *arg)
{
    struct race *r = arg;
    pthread_barrier_wait(&race_start); /* all threads contend from the first request */
    for (int i = 0; i < PER_THREAD; i++) {
        struct gw_rl_decision d;
        gw_rl_decide(r->c, r->s, T0 + (uint64_t)i % 7, &d); /* all inside one window */
        r->admitted += d.allowed;
    }
    return NULL;
}

static void check_race(enum gw_rl_algo algo)
{
    /* no refill during the test: rate 1 per ~12 days, burst L; windows of ~12 days */
    const uint64_t limit = 100000; /* contended for its whole length */
    struct gw_rl_conf c;
    memset(&c, 0, sizeof(c));
    c.algo = algo;
    c.limit = algo == GW_RL_GCRA || algo == GW_RL_TOKEN_BUCKET ? 1 : limit;
    c.burst = limit;
    c.period_us = UINT64_C(1) << 30;
    assert_int_equal(gw_rl_conf_prepare(&c), 0);
    struct gw_rl_state s;
    gw_rl_state_init(&s, &c);
    if (algo == GW_RL_FIXED_WINDOW || algo == GW_RL_SLIDING_WINDOW) {
        /* T0 must not straddle a window edge */
        assert_int_equal(T0 / c.period_us, (T0 + 7) / c.period_us);
    }
    pthread_t th[THREADS];
    struct race r[THREADS];
    assert_int_equal(pthread_barrier_init(&race_start, NULL, THREADS), 0);
    for (int i = 0; i < THREADS; i++) {
        r[i] = (struct race){.c = &c, .s = &s, .admitted = 0};
        assert_int_equal(pthread_create(&th[i], NULL, race_main, &r[i]), 0);
    }
    uint64_t total = 0;
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        total += r[i].admitted;
    }
    assert_int_equal(pthread_barrier_destroy(&race_start), 0);
    assert_int_equal(total, limit);
}

static void test_race_gcra(void **unused)
{
    (void)unused;
    check_race(GW_RL_GCRA);
}

static void test_race_token_bucket(void **unused)
{
    (void)unused;
    check_race(GW_RL_TOKEN_BUCKET);
}

static void test_race_fixed_window(void **unused)
{
    (void)unused;
    check_race(GW_RL_FIXED_WINDOW);
}

static void test_race_sliding_window(void **unused)
{
    (void)unused;
    check_race(GW_RL_SLIDING_WINDOW);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conf_invalid),
        cmocka_unit_test(test_gcra_arith),
        cmocka_unit_test(test_fixed_window_fresh_key_late_epoch),
        cmocka_unit_test(test_token_bucket_arith),
        cmocka_unit_test(test_token_bucket_equals_gcra),
        cmocka_unit_test(test_fixed_window_edges),
        cmocka_unit_test(test_sliding_window_arith),
        cmocka_unit_test(test_sliding_window_bound),
        cmocka_unit_test(test_headers_truth),
        cmocka_unit_test(test_race_gcra),
        cmocka_unit_test(test_race_token_bucket),
        cmocka_unit_test(test_race_fixed_window),
        cmocka_unit_test(test_race_sliding_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
