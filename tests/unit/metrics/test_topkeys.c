/* Unit tests for src/metrics/topkeys.h: counts per (limit, key) pair, merged over workers; a full
 * table keeps every pair more frequent than refusals / slots (space-saving), with counts never
 * below the truth and at most error above it; memory stays bounded whatever the number of keys;
 * per_limit and cap bound what is read; long strings are cut, not overrun. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "metrics/topkeys.h"

static void rec(struct gw_topkeys *t, unsigned w, const char *limit, const char *key)
{
    gw_topkeys_record(t, w, limit, strlen(limit), key, strlen(key));
}

static void test_counts_and_merge(void **state)
{
    (void)state;
    struct gw_topkeys *t = NULL;
    assert_int_equal(gw_topkeys_new(2, &t), 0);
    for (int i = 0; i < 5; i++)
        rec(t, 0, "\x1fper-ip", "ip:10.0.0.1");
    for (int i = 0; i < 3; i++)
        rec(t, 1, "\x1fper-ip", "ip:10.0.0.1");
    rec(t, 1, "\x1fper-ip", "ip:10.0.0.2");
    rec(t, 1,
        "users\x1f"
        "burst",
        "ip:10.0.0.2");
    rec(t, 7, "\x1fper-ip", "ip:10.0.0.9"); /* no such worker: ignored */
    struct gw_topkeys_entry e[8];
    size_t n = gw_topkeys_read(t, 10, e, 8);
    assert_int_equal(n, 3);
    assert_string_equal(e[0].limit, "\x1fper-ip");
    assert_string_equal(e[0].key, "ip:10.0.0.1");
    assert_int_equal(e[0].count, 8);
    assert_int_equal(e[0].error, 0);
    assert_string_equal(e[1].key, "ip:10.0.0.2");
    assert_int_equal(e[1].count, 1);
    assert_string_equal(e[2].limit, "users\x1f"
                                    "burst");
    /* per_limit and cap */
    assert_int_equal(gw_topkeys_read(t, 1, e, 8), 2);
    assert_string_equal(e[1].limit, "users\x1f"
                                    "burst");
    assert_int_equal(gw_topkeys_read(t, 10, e, 1), 1);
    gw_topkeys_clear(t);
    assert_int_equal(gw_topkeys_read(t, 10, e, 8), 0);
    gw_topkeys_free(t);
}

/* Ten heavy keys among 10,000 keys seen once each: the heavy ones are the top ten, their counts
 * within their error of the truth. */
static void test_heavy_hitters_survive_a_flood(void **state)
{
    (void)state;
    struct gw_topkeys *t = NULL;
    assert_int_equal(gw_topkeys_new(1, &t), 0);
    char key[32];
    uint64_t truth = 0;
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "ip:192.0.2.%d-%d", i % 250, i);
        rec(t, 0, "\x1fl", key);
        if (i % 20 == 0) {
            for (int h = 0; h < 10; h++) {
                snprintf(key, sizeof key, "ip:heavy-%d", h);
                rec(t, 0, "\x1fl", key);
            }
            truth++;
        }
    }
    struct gw_topkeys_entry e[GW_TOPKEYS_SLOTS];
    size_t n = gw_topkeys_read(t, GW_TOPKEYS_SLOTS, e, GW_TOPKEYS_SLOTS);
    assert_int_equal(n, GW_TOPKEYS_SLOTS); /* bounded: never more pairs than slots */
    for (int i = 0; i < 10; i++) {
        assert_int_equal(strncmp(e[i].key, "ip:heavy-", 9), 0);
        assert_true(e[i].count >= truth);
        assert_true(e[i].count - e[i].error <= truth);
    }
    gw_topkeys_free(t);
}

static void test_long_strings_are_cut(void **state)
{
    (void)state;
    struct gw_topkeys *t = NULL;
    assert_int_equal(gw_topkeys_new(1, &t), 0);
    char big[400];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    rec(t, 0, big, big);
    rec(t, 0, big, big);
    struct gw_topkeys_entry e[2];
    assert_int_equal(gw_topkeys_read(t, 5, e, 2), 1);
    assert_int_equal(strlen(e[0].limit), GW_TOPKEYS_LIMIT_MAX - 1);
    assert_int_equal(strlen(e[0].key), GW_TOPKEYS_KEY_MAX - 1);
    assert_int_equal(e[0].count, 2);
    gw_topkeys_free(t);
    gw_topkeys_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_and_merge),
        cmocka_unit_test(test_heavy_hitters_survive_a_flood),
        cmocka_unit_test(test_long_strings_are_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
