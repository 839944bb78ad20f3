/*
 * Unit tests for the per-use counters of the shared Redis clients (state/redis_stats.c): one
 * set per name for the whole process, "other" for none, a bounded table, and round trips in
 * the bucket of their upper bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "state/redis_stats.h"

static void test_one_set_per_use(void **state)
{
    (void)state;
    struct gw_redis_stats *a = gw_redis_stats_for("registration");
    assert_non_null(a);
    assert_ptr_equal(gw_redis_stats_for("registration"), a);
    assert_string_equal(a->use, "registration");
    struct gw_redis_stats *o = gw_redis_stats_for(NULL);
    assert_string_equal(o->use, "other");
    assert_ptr_equal(gw_redis_stats_for(""), o);
    assert_ptr_not_equal(o, a);
    assert_int_equal(gw_redis_stats_count(), 2);
    assert_ptr_equal(gw_redis_stats_at(0), a);
    assert_null(gw_redis_stats_at(2));
    /* a long name is cut, not overrun */
    struct gw_redis_stats *l = gw_redis_stats_for("a-name-longer-than-the-slot-holds");
    assert_int_equal(strlen(l->use), GW_REDIS_USE_NAME_MAX - 1);
    /* the table is bounded: NULL once full, the sets made stay */
    char name[16];
    size_t made = gw_redis_stats_count();
    for (size_t i = made; i < GW_REDIS_USES_MAX; i++) {
        snprintf(name, sizeof name, "use%zu", i);
        assert_non_null(gw_redis_stats_for(name));
    }
    assert_null(gw_redis_stats_for("one-too-many"));
    assert_ptr_equal(gw_redis_stats_for("registration"), a);
}

static void test_latency_buckets(void **state)
{
    (void)state;
    struct gw_redis_stats *s = gw_redis_stats_for("registration");
    gw_redis_stats_latency(s, 100000);                /* 0.1 ms: the first bucket (<= 0.5 ms) */
    gw_redis_stats_latency(s, 500000);                /* on the bound: still the first */
    gw_redis_stats_latency(s, 500001);                /* just above: the second (<= 1 ms) */
    gw_redis_stats_latency(s, 7000000000);            /* 7 s: <= 10 s, index 13 */
    gw_redis_stats_latency(s, UINT64_C(90000000000)); /* above 60 s: the overflow bucket */
    assert_int_equal(s->lat[0], 2);
    assert_int_equal(s->lat[1], 1);
    assert_int_equal(s->lat[13], 1);
    assert_int_equal(s->lat[GW_REDIS_LAT_BUCKETS], 1);
    assert_int_equal(s->lat_count, 5);
    assert_int_equal(s->lat_sum_ns, UINT64_C(97001100001));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_set_per_use),
        cmocka_unit_test(test_latency_buckets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
