/* Unit tests for src/state/ratelimit_local.c: per-key isolation, expiry, the key cap and
 * eviction, concurrency through the store. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "state/ratelimit_local.h"

#define T0 UINT64_C(1000000000)
#define SEC UINT64_C(1000000)

static struct gw_rl_store *mk(enum gw_rl_algo algo, uint64_t limit, uint64_t period,
                              size_t max_keys)
{
    struct gw_rl_conf c;
    memset(&c, 0, sizeof(c));
    c.algo = algo;
    c.limit = limit;
    c.period_us = period;
    struct gw_rl_store *st = NULL;
    assert_int_equal(gw_rl_store_new(&st, &c, max_keys), 0);
    assert_non_null(st);
    return st;
}

static bool allow(struct gw_rl_store *st, const char *key, uint64_t now)
{
    struct gw_rl_decision d;
    assert_int_equal(gw_rl_store_decide(st, key, strlen(key), now, &d), 0);
    return d.allowed;
}

static uint64_t keys_of(struct gw_rl_store *st)
{
    struct gw_rl_store_stats s;
    gw_rl_store_stats(st, &s);
    return s.keys;
}

static void test_invalid(void **unused)
{
    (void)unused;
    struct gw_rl_conf c;
    memset(&c, 0, sizeof(c));
    c.algo = GW_RL_GCRA;
    c.limit = 1;
    c.period_us = SEC;
    struct gw_rl_store *st = NULL;
    assert_int_equal(gw_rl_store_new(&st, &c, GW_RL_STORE_SHARDS - 1), GW_EINVAL);
    c.limit = 0;
    assert_int_equal(gw_rl_store_new(&st, &c, 1000), GW_EINVAL);
    st = mk(GW_RL_GCRA, 1, SEC, 1000);
    struct gw_rl_decision d;
    assert_int_equal(gw_rl_store_decide(st, "", 0, T0, &d), GW_EINVAL);
    static char big[GW_RL_STORE_MAX_KEY + 1];
    assert_int_equal(gw_rl_store_decide(st, big, sizeof(big), T0, &d), GW_EINVAL);
    assert_int_equal(gw_rl_store_decide(st, big, sizeof(big) - 1, T0, &d), 0);
    gw_rl_store_free(st);
    gw_rl_store_free(NULL);
}

static void test_keys_isolated(void **unused)
{
    (void)unused;
    struct gw_rl_store *st = mk(GW_RL_FIXED_WINDOW, 2, SEC, 1000);
    assert_true(allow(st, "ip:1.2.3.4", T0));
    assert_true(allow(st, "ip:1.2.3.4", T0));
    assert_false(allow(st, "ip:1.2.3.4", T0));
    assert_true(allow(st, "ip:1.2.3.5", T0));
    /* binary keys: a prefix is another key */
    struct gw_rl_decision d;
    assert_int_equal(gw_rl_store_decide(st, "ip:1.2.3.4\0x", 12, T0, &d), 0);
    assert_true(d.allowed);
    assert_int_equal(keys_of(st), 3);
    gw_rl_store_free(st);
}

static void test_expiry(void **unused)
{
    (void)unused;
    struct gw_rl_store *st = mk(GW_RL_GCRA, 10, SEC, 1000); /* T = 100 ms, burst 10 */
    char key[32];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_true(allow(st, key, T0));
    }
    assert_int_equal(keys_of(st), 100);
    assert_int_equal(gw_rl_store_sweep(st, T0 + 99999), 0); /* not yet full again */
    assert_int_equal(gw_rl_store_sweep(st, T0 + 100000), 100);
    assert_int_equal(keys_of(st), 0);
    /* a forgotten key comes back with a full allowance, as it would have had */
    for (int i = 0; i < 10; i++)
        assert_true(allow(st, "k0", T0 + 100000));
    assert_false(allow(st, "k0", T0 + 100000));
    struct gw_rl_store_stats s;
    gw_rl_store_stats(st, &s);
    assert_int_equal(s.expired, 100);
    assert_int_equal(s.evictions, 0);
    gw_rl_store_free(st);
}

/* Many more keys than the cap: never more than the cap, idle keys go first. */
static void test_cap_and_eviction(void **unused)
{
    (void)unused;
    const size_t cap = 256;
    struct gw_rl_store *st = mk(GW_RL_SLIDING_WINDOW, 3, SEC, cap);
    char key[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof(key), "ip:%d", i);
        assert_true(allow(st, key, T0 + (uint64_t)i)); /* every key new and busy */
        assert_true(keys_of(st) <= cap);
    }
    struct gw_rl_store_stats s;
    gw_rl_store_stats(st, &s);
    assert_true(s.keys <= cap);
    assert_true(s.keys >= cap / 2); /* shards fill up: the cap is used */
    assert_true(s.evictions >= 20000 - cap);
    assert_int_equal(s.expired, 0);
    /* later, every held key is idle: inserts forget idle keys instead of evicting */
    uint64_t later = T0 + 10 * SEC;
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "new:%d", i);
        assert_true(allow(st, key, later));
        assert_true(keys_of(st) <= cap);
    }
    struct gw_rl_store_stats s2;
    gw_rl_store_stats(st, &s2);
    assert_true(s2.expired > 0);
    assert_true(s2.evictions - s.evictions < 1000); /* the new keys are busy, so some */
    gw_rl_store_free(st);
}

/* A hot key survives a flood of one-shot keys when it is recently used (LRU). */
static void test_lru_keeps_hot_key(void **unused)
{
    (void)unused;
    struct gw_rl_store *st = mk(GW_RL_FIXED_WINDOW, 5, 1000 * SEC, GW_RL_STORE_SHARDS * 4);
    for (int i = 0; i < 5; i++)
        assert_true(allow(st, "hot", T0));
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "flood:%d", i);
        allow(st, key, T0);
        assert_false(allow(st, "hot", T0)); /* still limited: never evicted */
    }
    gw_rl_store_free(st);
}

#define THREADS 4
#define PER_THREAD 100000
#define RACE_LIMIT 100000 /* contended for its whole length */

struct race {
    struct gw_rl_store *st;
    uint64_t admitted;
    uint64_t errors; /* cmocka asserts only on the main thread */
    int id;
};

static pthread_barrier_t race_start;

static void *race_main(void *arg)
{
    struct race *r = arg;
    pthread_barrier_wait(&race_start); /* all threads contend from the first request */
    char key[32];
    for (int i = 0; i < PER_THREAD; i++) {
        struct gw_rl_decision d;
        r->errors += gw_rl_store_decide(r->st, "shared", 6, T0, &d) != 0;
        r->admitted += d.allowed;
        if (i % 16 == 0) { /* churn other keys to exercise inserts and evictions */
            snprintf(key, sizeof(key), "t%d:%d", r->id, i);
            r->errors += gw_rl_store_decide(r->st, key, strlen(key), T0, &d) != 0;
        }
    }
    return NULL;
}

static void test_race(void **unused)
{
    (void)unused;
    for (int a = GW_RL_GCRA; a <= GW_RL_FIXED_WINDOW; a++) {
        /* no refill during the test; the shared key stays hot so it is never evicted */
        struct gw_rl_conf c;
        memset(&c, 0, sizeof(c));
        c.algo = (enum gw_rl_algo)a;
        c.limit = a == GW_RL_GCRA || a == GW_RL_TOKEN_BUCKET ? 1 : RACE_LIMIT;
        c.burst = RACE_LIMIT;
        c.period_us = UINT64_C(1) << 30;
        struct gw_rl_store *st = NULL;
        assert_int_equal(gw_rl_store_new(&st, &c, 4096), 0);
        pthread_t th[THREADS];
        struct race r[THREADS];
        assert_int_equal(pthread_barrier_init(&race_start, NULL, THREADS), 0);
        for (int i = 0; i < THREADS; i++) {
            r[i] = (struct race){.st = st, .admitted = 0, .errors = 0, .id = i};
            assert_int_equal(pthread_create(&th[i], NULL, race_main, &r[i]), 0);
        }
        uint64_t total = 0;
        for (int i = 0; i < THREADS; i++) {
            assert_int_equal(pthread_join(th[i], NULL), 0);
            total += r[i].admitted;
            assert_int_equal(r[i].errors, 0);
        }
        assert_int_equal(pthread_barrier_destroy(&race_start), 0);
        assert_int_equal(total, RACE_LIMIT);
        assert_true(keys_of(st) <= 4096);
        gw_rl_store_free(st);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_keys_isolated),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_cap_and_eviction),
        cmocka_unit_test(test_lru_keeps_hot_key),
        cmocka_unit_test(test_race),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
