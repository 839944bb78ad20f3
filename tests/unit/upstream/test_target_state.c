/* Unit tests for src/upstream/target_state.c: ejection growth and cap, reset on success, the
 * max-percent rule, usable() combining health and ejection, reference counting across
 * reloads, and a 4-thread stress of record/usable (run under ASan/TSan). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "upstream/target_state.h"

static const struct gw_outlier_params PARAMS = {
    .consecutive_failures = 3,
    .base_ejection_ms = 1000,
    .max_ejection_ms = 5000,
    .max_ejection_percent = 100,
};

/* Fails `n` times at `now`; returns how many of those calls ejected. */
static unsigned fail_n(struct gw_target_state *s, uint64_t now, unsigned n,
                       const struct gw_outlier_params *p)
{
    unsigned ejections = 0;
    for (unsigned i = 0; i < n; i++)
        ejections += gw_target_state_record(s, now, true, p, 0, 10);
    return ejections;
}

static void test_ejection_growth_and_cap(void **state)
{
    (void)state;
    struct gw_target_registry *r = gw_target_registry_new();
    struct gw_target_state *s = gw_target_state_get(r, "a:80", 0);
    struct gw_target_state_info info;
    uint64_t now = 10000;

    assert_true(gw_target_state_usable(s, now));
    assert_int_equal(fail_n(s, now, 2, &PARAMS), 0);
    assert_true(gw_target_state_usable(s, now));
    assert_int_equal(fail_n(s, now, 1, &PARAMS), 1);
    assert_false(gw_target_state_usable(s, now));
    gw_target_state_info(s, &info);
    assert_int_equal(info.ejected_until_ms, now + 1000);
    assert_int_equal(info.times_ejected, 1);
    assert_int_equal(info.consecutive_failures, 0);

    /* outcomes during the ejection are ignored */
    assert_int_equal(fail_n(s, now + 500, 10, &PARAMS), 0);
    gw_target_state_info(s, &info);
    assert_int_equal(info.consecutive_failures, 0);
    assert_int_equal(info.ejected_until_ms, now + 1000);

    /* back after base; the next ejection doubles, then 4x, then capped at max */
    uint64_t expect[] = {2000, 4000, 5000, 5000};
    now += 1000;
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
        assert_true(gw_target_state_usable(s, now));
        assert_int_equal(fail_n(s, now, 3, &PARAMS), 1);
        gw_target_state_info(s, &info);
        assert_int_equal(info.ejected_until_ms - now, expect[i]);
        assert_false(gw_target_state_usable(s, now + expect[i] - 1));
        now += expect[i];
    }

    /* a long quiet spell (>= max since the last ejection ended) forgets the multiplier */
    now += PARAMS.max_ejection_ms;
    assert_int_equal(fail_n(s, now, 3, &PARAMS), 1);
    gw_target_state_info(s, &info);
    assert_int_equal(info.ejected_until_ms - now, 1000);
    assert_int_equal(info.times_ejected, 1);

    gw_target_state_unref(s);
    gw_target_registry_free(r);
}

static void test_success_resets_run(void **state)
{
    (void)state;
    struct gw_target_registry *r = gw_target_registry_new();
    struct gw_target_state *s = gw_target_state_get(r, "a:80", 0);
    for (int round = 0; round < 5; round++) {
        assert_int_equal(fail_n(s, 1, 2, &PARAMS), 0);
        assert_false(gw_target_state_record(s, 1, false, &PARAMS, 0, 10));
    }
    assert_true(gw_target_state_usable(s, 1));
    struct gw_target_state_info info;
    gw_target_state_info(s, &info);
    assert_int_equal(info.consecutive_failures, 0);
    assert_int_equal(info.times_ejected, 0);
    assert_int_equal(fail_n(s, 1, 3, &PARAMS), 1);
    gw_target_state_unref(s);
    gw_target_registry_free(r);
}

static void test_max_percent_rule(void **state)
{
    (void)state;
    /* off, or a single target: never */
    assert_false(gw_target_state_may_eject(0, 10, 0));
    assert_false(gw_target_state_may_eject(0, 1, 100));
    assert_false(gw_target_state_may_eject(0, 0, 100));
    /* 2 targets: one may go (even at 10%), never both */
    assert_true(gw_target_state_may_eject(0, 2, 10));
    assert_true(gw_target_state_may_eject(0, 2, 100));
    assert_false(gw_target_state_may_eject(1, 2, 100));
    /* 10 targets at 50%: up to 5 */
    for (unsigned e = 0; e < 5; e++)
        assert_true(gw_target_state_may_eject(e, 10, 50));
    assert_false(gw_target_state_may_eject(5, 10, 50));
    /* 3 targets at 10%: the first only */
    assert_true(gw_target_state_may_eject(0, 3, 10));
    assert_false(gw_target_state_may_eject(1, 3, 10));
    /* 4 targets at 50%: two */
    assert_true(gw_target_state_may_eject(1, 4, 50));
    assert_false(gw_target_state_may_eject(2, 4, 50));
    /* 100%: all but one */
    assert_true(gw_target_state_may_eject(8, 10, 100));
    assert_false(gw_target_state_may_eject(9, 10, 100));
    /* 7 targets at 30%: 2 (2*100 <= 210), not 3 */
    assert_true(gw_target_state_may_eject(1, 7, 30));
    assert_false(gw_target_state_may_eject(2, 7, 30));

    /* record() applies the rule with the count the caller passes; a refused ejection keeps the
     * run, so the next failure asks again */
    struct gw_target_registry *r = gw_target_registry_new();
    struct gw_target_state *s = gw_target_state_get(r, "a:80", 0);
    struct gw_outlier_params p = PARAMS;
    p.max_ejection_percent = 50;
    for (int i = 0; i < 5; i++)
        assert_false(gw_target_state_record(s, 1, true, &p, 2, 4));
    assert_true(gw_target_state_usable(s, 1));
    assert_true(gw_target_state_record(s, 1, true, &p, 1, 4));
    assert_false(gw_target_state_usable(s, 1));
    gw_target_state_unref(s);
    gw_target_registry_free(r);
}

static void test_ejected_count(void **state)
{
    (void)state;
    struct gw_target_registry *r = gw_target_registry_new();
    struct gw_target_state *st[4];
    char key[16];
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof(key), "t%d:80", i);
        st[i] = gw_target_state_get(r, key, 0);
    }
    assert_int_equal(gw_target_states_ejected(st, 4, 100), 0);
    assert_int_equal(fail_n(st[1], 100, 3, &PARAMS), 1);
    assert_int_equal(fail_n(st[3], 200, 3, &PARAMS), 1);
    struct gw_target_state *with_null[5] = {st[0], NULL, st[1], st[2], st[3]};
    assert_int_equal(gw_target_states_ejected(with_null, 5, 200), 2);
    assert_int_equal(gw_target_states_ejected(st, 4, 1100), 1); /* st[1] is back */
    assert_int_equal(gw_target_states_ejected(st, 4, 1200), 0);
    for (int i = 0; i < 4; i++)
        gw_target_state_unref(st[i]);
    gw_target_registry_free(r);
}

static void test_usable_combines_health(void **state)
{
    (void)state;
    struct gw_target_registry *r = gw_target_registry_new();
    struct gw_target_state *s = gw_target_state_get(r, "a:80", 0);
    assert_int_equal(gw_target_state_health(s), GW_HEALTH_UNKNOWN);
    assert_true(gw_target_state_usable(s, 1));
    gw_target_state_set_health(s, GW_HEALTH_DOWN, 0);
    assert_false(gw_target_state_usable(s, 1));
    gw_target_state_set_health(s, GW_HEALTH_UP, 0);
    assert_true(gw_target_state_usable(s, 1));
    assert_int_equal(fail_n(s, 1, 3, &PARAMS), 1);
    assert_false(gw_target_state_usable(s, 1)); /* UP but ejected */
    assert_true(gw_target_state_usable(s, 1001));
    gw_target_state_set_health(s, GW_HEALTH_DOWN, 0);
    assert_false(gw_target_state_usable(s, 1001)); /* not ejected but DOWN */
    gw_target_state_unref(s);
    gw_target_registry_free(r);
}

/* The status pages report since when a target is in its state: the verdict's last change (or
 * the state's creation) and the start of the last ejection. */
static void test_since(void **state)
{
    (void)state;
    struct gw_target_registry *r = gw_target_registry_new();
    struct gw_target_state *s = gw_target_state_get(r, "a:80", 100);
    struct gw_target_state_info info;
    gw_target_state_info(s, &info);
    assert_int_equal(info.health_since_ms, 100);
    assert_int_equal(info.ejected_at_ms, 0);
    gw_target_state_set_health(s, GW_HEALTH_UNKNOWN, 150); /* no change: since stays */
    gw_target_state_set_health(s, GW_HEALTH_DOWN, 200);
    gw_target_state_set_health(s, GW_HEALTH_DOWN, 300);
    gw_target_state_info(s, &info);
    assert_int_equal(info.health, GW_HEALTH_DOWN);
    assert_int_equal(info.health_since_ms, 200);
    gw_target_state_set_health(s, GW_HEALTH_UP, 400);
    assert_int_equal(fail_n(s, 500, 3, &PARAMS), 1);
    gw_target_state_info(s, &info);
    assert_int_equal(info.health_since_ms, 400);
    assert_int_equal(info.ejected_at_ms, 500);
    assert_int_equal(info.ejected_until_ms, 1500);
    /* let go and asked for again: a fresh state, created now */
    gw_target_state_unref(s);
    s = gw_target_state_get(r, "a:80", 600);
    gw_target_state_info(s, &info);
    assert_int_equal(info.health, GW_HEALTH_UNKNOWN);
    assert_int_equal(info.health_since_ms, 600);
    assert_int_equal(info.ejected_at_ms, 0);
    gw_target_state_unref(s);
    gw_target_registry_free(r);
}

static void test_refcount_and_reload(void **state)
{
    (void)state;
    struct gw_target_registry *r = gw_target_registry_new();
    /* snapshot 1: a and b */
    struct gw_target_state *a1 = gw_target_state_get(r, "a:80", 0);
    struct gw_target_state *b1 = gw_target_state_get(r, "b:80", 0);
    assert_ptr_not_equal(a1, b1);
    assert_string_equal(gw_target_state_key(a1), "a:80");
    gw_target_state_set_health(a1, GW_HEALTH_DOWN, 0);
    gw_target_state_set_health(b1, GW_HEALTH_DOWN, 0);
    assert_int_equal(fail_n(a1, 1, 3, &PARAMS), 1);

    /* reload: snapshot 2 keeps a, drops b, adds c; then snapshot 1 goes */
    struct gw_target_state *a2 = gw_target_state_get(r, "a:80", 0);
    struct gw_target_state *c2 = gw_target_state_get(r, "c:80", 0);
    assert_ptr_equal(a1, a2);
    gw_target_state_unref(a1);
    gw_target_state_unref(b1);
    assert_int_equal(gw_target_state_health(a2), GW_HEALTH_DOWN); /* survived */
    assert_false(gw_target_state_usable(a2, 2));

    /* b is unreferenced: the sweep frees it, and b added later starts fresh */
    assert_int_equal(gw_target_registry_count(r), 3);
    gw_target_registry_sweep(r);
    assert_int_equal(gw_target_registry_count(r), 2);
    struct gw_target_state *b3 = gw_target_state_get(r, "b:80", 0);
    assert_int_equal(gw_target_state_health(b3), GW_HEALTH_UNKNOWN);

    /* an unreferenced, unswept state that is asked for again also starts fresh */
    gw_target_state_set_health(c2, GW_HEALTH_DOWN, 0);
    gw_target_state_unref(c2);
    struct gw_target_state *c4 = gw_target_state_get(r, "c:80", 0);
    assert_int_equal(gw_target_state_health(c4), GW_HEALTH_UNKNOWN);

    /* the registry may go before the last holder: that holder frees the state (ASan checks) */
    gw_target_state_unref(b3);
    gw_target_state_unref(c4);
    gw_target_state_ref(a2);
    gw_target_registry_free(r);
    assert_false(gw_target_state_usable(a2, 2));
    gw_target_state_unref(a2);
    gw_target_state_unref(a2);
    gw_target_state_unref(NULL);
    gw_target_registry_free(NULL);
}

static void test_many_keys(void **state)
{
    (void)state;
    struct gw_target_registry *r = gw_target_registry_new();
    enum {
        N = 1000
    };
    struct gw_target_state **st = calloc(N, sizeof(*st));
    char key[32];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "10.0.%d.%d:8080", i / 256, i % 256);
        st[i] = gw_target_state_get(r, key, 0);
        gw_target_state_set_health(st[i], (i % 2) != 0 ? GW_HEALTH_UP : GW_HEALTH_DOWN, 0);
    }
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "10.0.%d.%d:8080", i / 256, i % 256);
        struct gw_target_state *again = gw_target_state_get(r, key, 0);
        assert_ptr_equal(again, st[i]);
        gw_target_state_unref(again);
    }
    assert_int_equal(gw_target_registry_count(r), N);
    for (int i = 0; i < N; i += 2)
        gw_target_state_unref(st[i]);
    gw_target_registry_sweep(r);
    assert_int_equal(gw_target_registry_count(r), N / 2);
    for (int i = 1; i < N; i += 2) {
        assert_int_equal(gw_target_state_health(st[i]), GW_HEALTH_UP);
        gw_target_state_unref(st[i]);
    }
    free(st);
    gw_target_registry_free(r);
}

/* ---- 4 threads: record and usable on shared states --------------------------------------- */

#define STRESS_THREADS 4
#define STRESS_TARGETS 4
#define STRESS_ITERS 200000

struct stress {
    struct gw_target_state *st[STRESS_TARGETS];
    unsigned seed;
    unsigned ejections;
};

static void *stress_main(void *arg)
{
    struct stress *x = arg;
    struct gw_outlier_params p = {
        .consecutive_failures = 5,
        .base_ejection_ms = 3,
        .max_ejection_ms = 50,
        .max_ejection_percent = 50,
    };
    uint64_t x64 = x->seed;
    for (uint64_t i = 0; i < STRESS_ITERS; i++) {
        x64 ^= x64 << 13;
        x64 ^= x64 >> 7;
        x64 ^= x64 << 17;
        uint64_t now = i / 100; /* a "millisecond" per 100 tries */
        struct gw_target_state *s = x->st[x64 % STRESS_TARGETS];
        (void)gw_target_state_usable(s, now);
        unsigned ejected = gw_target_states_ejected(x->st, STRESS_TARGETS, now);
        bool failure = (x64 >> 8) % 4 != 0; /* mostly failures: ejections happen often */
        if (gw_target_state_record(s, now, failure, &p, ejected, STRESS_TARGETS))
            x->ejections++;
    }
    return NULL;
}

static void test_threads_stress(void **state)
{
    (void)state;
    struct gw_target_registry *r = gw_target_registry_new();
    struct stress x[STRESS_THREADS];
    pthread_t th[STRESS_THREADS];
    char key[16];
    for (int t = 0; t < STRESS_THREADS; t++) {
        for (int i = 0; i < STRESS_TARGETS; i++) {
            snprintf(key, sizeof(key), "s%d:80", i);
            x[t].st[i] = gw_target_state_get(r, key, 0); /* one reference per thread */
        }
        x[t].seed = 0x9e3779b9u * (unsigned)(t + 1);
        x[t].ejections = 0;
    }
    for (int t = 0; t < STRESS_THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, stress_main, &x[t]), 0);
    unsigned total = 0;
    for (int t = 0; t < STRESS_THREADS; t++) {
        pthread_join(th[t], NULL);
        total += x[t].ejections;
    }
    assert_true(total > 0);
    struct gw_target_state_info info;
    unsigned sum_times = 0;
    for (int i = 0; i < STRESS_TARGETS; i++) {
        gw_target_state_info(x[0].st[i], &info);
        sum_times += info.times_ejected;
    }
    assert_true(sum_times > 0);
    /* each thread drops its references, the registry goes */
    for (int t = 0; t < STRESS_THREADS; t++)
        for (int i = 0; i < STRESS_TARGETS; i++)
            gw_target_state_unref(x[t].st[i]);
    gw_target_registry_sweep(r);
    assert_int_equal(gw_target_registry_count(r), 0);
    gw_target_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ejection_growth_and_cap), cmocka_unit_test(test_success_resets_run),
        cmocka_unit_test(test_max_percent_rule),        cmocka_unit_test(test_ejected_count),
        cmocka_unit_test(test_usable_combines_health),  cmocka_unit_test(test_since),
        cmocka_unit_test(test_refcount_and_reload),     cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_threads_stress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
