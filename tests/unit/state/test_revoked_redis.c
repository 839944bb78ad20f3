/*
 * Unit tests for the pure parts of state/revoked_redis.c and state/revoked.c's sink: the
 * channel's message syntax (exact: 16 lowercase hex digits, one space, decimal seconds), and
 * gw_revoked_add telling the sink while gw_revoked_learn does not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "state/revoked.h"
#include "state/revoked_redis.h"

static void test_parse(void **state)
{
    (void)state;
    uint64_t key = 0;
    int64_t until = 0;
    const char ok[] = "00000000deadbeef 1700000300";
    assert_int_equal(gw_revoked_redis_parse(ok, strlen(ok), &key, &until), 0);
    assert_int_equal(key, 0xdeadbeefu);
    assert_int_equal(until, 1700000300);
    const char big[] = "ffffffffffffffff 999999999999999999";
    assert_int_equal(gw_revoked_redis_parse(big, strlen(big), &key, &until), 0);
    assert_true(key == UINT64_MAX);
    assert_true(until == INT64_C(999999999999999999));
    static const char *const bad[] = {
        "",
        "00000000deadbeef",
        "00000000deadbeef ",
        "00000000DEADBEEF 1",                   /* upper case */
        "0000000deadbeef 17",                   /* 15 digits */
        "000000000deadbeef 17",                 /* 17 digits */
        "00000000deadbeef  17",                 /* two spaces */
        "00000000deadbeef -17",                 /* a sign */
        "00000000deadbeef 0",                   /* no expiry */
        "0000000000000000 17",                  /* key 0 means "none" */
        "00000000deadbeef 17 ",                 /* trailing space */
        "00000000deadbeef 1x",                  /* not a number */
        "00000000deadbeef 9999999999999999999", /* 19 digits */
        "00000000deadbeef\t17",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (gw_revoked_redis_parse(bad[i], strlen(bad[i]), &key, &until) != GW_EINVAL)
            fail_msg("accepted '%s'", bad[i]);
    }
    /* Length is what counts, not a NUL. */
    assert_int_equal(gw_revoked_redis_parse(ok, strlen(ok) - 1, &key, &until), 0);
    assert_int_equal(until, 170000030);
}

static uint64_t sunk_key;
static int64_t sunk_until;
static int sunk;

static void sink(uint64_t key, int64_t until)
{
    sunk_key = key;
    sunk_until = until;
    sunk++;
}

static void test_sink(void **state)
{
    (void)state;
    gw_revoked_reset();
    gw_revoked_set_sink(sink);
    assert_int_equal(gw_revoked_add(42, 2000), 0);
    assert_int_equal(sunk, 1);
    assert_int_equal(sunk_key, 42);
    assert_int_equal(sunk_until, 2000);
    /* What another instance revoked is learnt, not told again. */
    assert_int_equal(gw_revoked_learn(43, 2000), 0);
    assert_int_equal(sunk, 1);
    assert_true(gw_revoked_has(43, 1000));
    assert_true(gw_revoked_has(42, 1000));
    assert_false(gw_revoked_has(42, 2000));
    /* Key 0 is refused, and not told. */
    assert_int_equal(gw_revoked_add(0, 2000), GW_EINVAL);
    assert_int_equal(sunk, 1);
    gw_revoked_set_sink(NULL);
    assert_int_equal(gw_revoked_add(44, 2000), 0);
    assert_int_equal(sunk, 1);
    gw_revoked_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_sink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
