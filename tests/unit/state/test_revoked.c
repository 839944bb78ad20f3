/*
 * Unit tests for src/state/revoked.c: empty set answers no at once, entries live until their
 * expiry (exclusive), a later expiry replaces an earlier one, growth past the first table keeps
 * every live entry and drops expired ones, the sweep, threads adding and asking at once, and
 * the doubt (identity.revocation.failure_policy): local answers from the set, refuse answers
 * GW_EIDREVOCATIONS, each check in doubt counted, a token without keys never affected.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <cmocka.h>

#include "core/error.h"
#include "state/revoked.h"

static int reset(void **state)
{
    (void)state;
    gw_revoked_reset();
    return 0;
}

static void test_empty(void **state)
{
    (void)state;
    assert_false(gw_revoked_any());
    assert_false(gw_revoked_has(gw_revoked_key("x"), 0));
    assert_false(gw_revoked_has(0, 0));
    assert_int_equal(gw_revoked_add(0, 10), GW_EINVAL);
    assert_int_not_equal(gw_revoked_key(""), 0);
}

static void test_expiry_and_replacement(void **state)
{
    (void)state;
    int64_t now = (int64_t)time(NULL);
    uint64_t k = gw_revoked_key("jti-1");
    assert_int_equal(gw_revoked_add(k, now + 100), 0);
    assert_true(gw_revoked_any());
    assert_true(gw_revoked_has(k, now));
    assert_true(gw_revoked_has(k, now + 99));
    assert_false(gw_revoked_has(k, now + 100));
    assert_false(gw_revoked_has(gw_revoked_key("jti-2"), now));
    assert_int_equal(gw_revoked_add(k, now + 50), 0); /* earlier: ignored */
    assert_true(gw_revoked_has(k, now + 99));
    assert_int_equal(gw_revoked_add(k, now + 200), 0);
    assert_true(gw_revoked_has(k, now + 150));
}

static void test_growth_and_sweep(void **state)
{
    (void)state;
    int64_t now = (int64_t)time(NULL);
    char name[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "sid-%d", i);
        /* Odd ones expired already: dropped when the table is rebuilt. */
        assert_int_equal(gw_revoked_add(gw_revoked_key(name), i % 2 ? now - 1 : now + 1000), 0);
    }
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "sid-%d", i);
        assert_int_equal(gw_revoked_has(gw_revoked_key(name), now), i % 2 == 0);
    }
    assert_true(gw_revoked_sweep(now) >= 500);
    assert_int_equal(gw_revoked_sweep(now + 2000), 0);
    assert_false(gw_revoked_any());
}

static void *hammer(void *arg)
{
    int base = *(int *)arg;
    int64_t now = (int64_t)time(NULL);
    char name[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(name, sizeof name, "t%d-%d", base, i);
        uint64_t k = gw_revoked_key(name);
        if (gw_revoked_add(k, now + 100) != 0 || !gw_revoked_has(k, now))
            return (void *)1;
    }
    return NULL;
}

static void test_doubt(void **state)
{
    (void)state;
    int64_t now = (int64_t)time(NULL);
    uint64_t jti = gw_revoked_key("jti-1"), sid = gw_revoked_key("sid-1");
    uint64_t other = gw_revoked_key("jti-2");
    struct gw_revoked_stats st;
    assert_int_equal(gw_revoked_check(jti, sid, now), 0);
    assert_int_equal(gw_revoked_add(sid, now + 60), 0);
    assert_int_equal(gw_revoked_check(jti, sid, now), GW_EJWTREVOKED);
    assert_int_equal(gw_revoked_check(jti, 0, now), 0);
    gw_revoked_stats(&st);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.doubt, GW_REVOKED_SURE);
    assert_int_equal(st.doubt_local + st.doubt_refused, 0);

    /* local: the set decides, each check counted */
    gw_revoked_set_doubt(GW_REVOKED_DOUBT_LOCAL);
    assert_int_equal(gw_revoked_doubt(), GW_REVOKED_DOUBT_LOCAL);
    assert_int_equal(gw_revoked_check(jti, sid, now), GW_EJWTREVOKED);
    assert_int_equal(gw_revoked_check(other, 0, now), 0);
    /* refuse: every identity token, revoked or not; none without keys */
    gw_revoked_set_doubt(GW_REVOKED_DOUBT_REFUSE);
    assert_int_equal(gw_revoked_check(other, 0, now), GW_EIDREVOCATIONS);
    assert_int_equal(gw_revoked_check(0, sid, now), GW_EIDREVOCATIONS);
    assert_int_equal(gw_revoked_check(0, 0, now), 0);
    assert_true(gw_revoked_has(sid, now)); /* the set itself still answers */
    gw_revoked_stats(&st);
    assert_int_equal(st.doubt, GW_REVOKED_DOUBT_REFUSE);
    assert_int_equal(st.doubt_local, 2);
    assert_int_equal(st.doubt_refused, 2);

    /* in doubt, an empty set is not skipped by the one-load test */
    gw_revoked_reset();
    assert_false(gw_revoked_any());
    gw_revoked_set_doubt(GW_REVOKED_DOUBT_REFUSE);
    assert_true(gw_revoked_any());
    assert_int_equal(gw_revoked_check(jti, 0, now), GW_EIDREVOCATIONS);
    gw_revoked_set_doubt(GW_REVOKED_SURE);
    assert_false(gw_revoked_any());
    assert_int_equal(gw_revoked_check(jti, 0, now), 0);
    /* entries and doubt share one word: adding keeps the doubt */
    gw_revoked_set_doubt(GW_REVOKED_DOUBT_LOCAL);
    for (int i = 1; i <= 100; i++)
        assert_int_equal(gw_revoked_add(jti + (uint64_t)i, now + 60), 0);
    assert_int_equal(gw_revoked_doubt(), GW_REVOKED_DOUBT_LOCAL);
    gw_revoked_stats(&st);
    assert_int_equal(st.entries, 100);
}

static void test_threads(void **state)
{
    (void)state;
    pthread_t t[4];
    int ids[4] = {0, 1, 2, 3};
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &ids[i]), 0);
    for (int i = 0; i < 4; i++) {
        void *rv = NULL;
        pthread_join(t[i], &rv);
        assert_null(rv);
    }
    assert_int_equal(gw_revoked_sweep((int64_t)time(NULL)), 8000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_empty, reset),
        cmocka_unit_test_setup(test_expiry_and_replacement, reset),
        cmocka_unit_test_setup(test_growth_and_sweep, reset),
        cmocka_unit_test_setup_teardown(test_doubt, reset, reset),
        cmocka_unit_test_setup_teardown(test_threads, reset, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
