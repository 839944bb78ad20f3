/*
 * Unit tests for src/cache/cc.c: Cache-Control directives (RFC 9111 5.2) in token and quoted
 * forms, case, lists over several lines, malformed and conflicting freshness (4.2.1),
 * delta-seconds overflow (1.2.2), unknown extensions, Pragma (5.4), and a guard-page run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../guard_page.h"
#include "cache/cc.h"

static struct gw_cc parse(const char *s)
{
    struct gw_cc cc;
    gw_cc_init(&cc);
    gw_cc_parse(&cc, s, strlen(s));
    return cc;
}

static void test_empty(void **state)
{
    (void)state;
    struct gw_cc cc = parse("");
    assert_int_equal(cc.flags, GW_CC_PRESENT);
    assert_int_equal(cc.max_age, -1);
    assert_int_equal(cc.s_maxage, -1);
    assert_int_equal(cc.max_stale, -1);
    assert_int_equal(cc.min_fresh, -1);
}

static void test_response_directives(void **state)
{
    (void)state;
    struct gw_cc cc = parse("public, max-age=60, s-maxage=120, must-revalidate");
    assert_true(cc.flags & GW_CC_PUBLIC);
    assert_true(cc.flags & GW_CC_MUST_REVALIDATE);
    assert_int_equal(cc.max_age, 60);
    assert_int_equal(cc.s_maxage, 120);
    assert_false(cc.flags & GW_CC_BAD_FRESHNESS);

    cc = parse("NO-STORE,Private,No-Cache,proxy-revalidate,no-transform,immutable");
    assert_true(cc.flags & GW_CC_NO_STORE);
    assert_true(cc.flags & GW_CC_PRIVATE);
    assert_true(cc.flags & GW_CC_NO_CACHE);
    assert_true(cc.flags & GW_CC_PROXY_REVALIDATE);
    assert_true(cc.flags & GW_CC_NO_TRANSFORM);
    assert_true(cc.flags & GW_CC_IMMUTABLE);

    cc = parse("max-age=10, stale-while-revalidate=30, stale-if-error=600");
    assert_int_equal(cc.stale_while_revalidate, 30);
    assert_int_equal(cc.stale_if_error, 600);
}

static void test_request_directives(void **state)
{
    (void)state;
    struct gw_cc cc = parse("max-stale, min-fresh=5, only-if-cached");
    assert_true(cc.flags & GW_CC_MAX_STALE_ANY);
    assert_int_equal(cc.max_stale, -1);
    assert_int_equal(cc.min_fresh, 5);
    assert_true(cc.flags & GW_CC_ONLY_IF_CACHED);
    cc = parse("max-stale=30");
    assert_false(cc.flags & GW_CC_MAX_STALE_ANY);
    assert_int_equal(cc.max_stale, 30);
    /* duplicated request directives: the most restrictive */
    cc = parse("max-stale=30, max-stale=10, min-fresh=1, min-fresh=9");
    assert_int_equal(cc.max_stale, 10);
    assert_int_equal(cc.min_fresh, 9);
}

static void test_quoted_arguments(void **state)
{
    (void)state;
    /* 5.2: recipients ought to accept both the token and the quoted-string form */
    struct gw_cc cc = parse("max-age=\"60\"");
    assert_int_equal(cc.max_age, 60);
    assert_false(cc.flags & GW_CC_BAD_FRESHNESS);
    cc = parse("s-maxage=\"1\\0\"");
    assert_int_equal(cc.s_maxage, 10);
    /* field-name lists are read as the unqualified directive; commas inside quotes are data */
    cc = parse("no-cache=\"Set-Cookie, X-Foo\", max-age=5");
    assert_true(cc.flags & GW_CC_NO_CACHE);
    assert_int_equal(cc.max_age, 5);
    cc = parse("private=\"X-A\"");
    assert_true(cc.flags & GW_CC_PRIVATE);
}

static void test_malformed_freshness(void **state)
{
    (void)state;
    const char *bad[] = {
        "max-age=abc",
        "max-age=",
        "max-age",
        "max-age=-1",
        "max-age=1.5",
        "max-age=\"x\"",
        "s-maxage=5x",
        "max-age =5",
        "max-age=\"5",
        "max-age=5 6",
        "max-age=99999999999999999999999999",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct gw_cc cc = parse(bad[i]);
        if (!(cc.flags & GW_CC_BAD_FRESHNESS))
            fail_msg("not marked bad: %s", bad[i]);
    }
    /* conflicting duplicates make the response stale; equal ones are fine */
    struct gw_cc cc = parse("max-age=60, max-age=3600");
    assert_true(cc.flags & GW_CC_BAD_FRESHNESS);
    assert_int_equal(cc.max_age, 60);
    cc = parse("max-age=60, max-age=60");
    assert_false(cc.flags & GW_CC_BAD_FRESHNESS);
    /* a bad element does not hide the rest of the list */
    cc = parse("foo=\"a,b\" x, no-store");
    assert_true(cc.flags & GW_CC_NO_STORE);
    assert_false(cc.flags & GW_CC_BAD_FRESHNESS);
}

static void test_overflow(void **state)
{
    (void)state;
    /* 1.2.2: a larger delta-seconds is read as 2147483648 */
    struct gw_cc cc = parse("max-age=2147483648000");
    assert_int_equal(cc.max_age, INT64_C(2147483648));
    assert_false(cc.flags & GW_CC_BAD_FRESHNESS);
    cc = parse("max-age=0000000000000000005");
    assert_int_equal(cc.max_age, 5);
}

static void test_lists_and_extensions(void **state)
{
    (void)state;
    struct gw_cc cc;
    gw_cc_init(&cc);
    gw_cc_parse(&cc, "max-age=5", 9);
    gw_cc_parse(&cc, " , ,community=\"UCI\", public ,", 30);
    assert_int_equal(cc.max_age, 5);
    assert_true(cc.flags & GW_CC_PUBLIC);
    cc = parse("max-agex=5, xmax-age=5");
    assert_int_equal(cc.max_age, -1);
    assert_false(cc.flags & GW_CC_BAD_FRESHNESS);
}

static void test_pragma(void **state)
{
    (void)state;
    struct gw_cc cc;
    gw_cc_init(&cc);
    gw_cc_parse_pragma(&cc, "no-cache", 8);
    assert_true(cc.flags & GW_CC_NO_CACHE);
    gw_cc_init(&cc);
    gw_cc_parse_pragma(&cc, "x, No-Cache", 11);
    assert_true(cc.flags & GW_CC_NO_CACHE);
    gw_cc_init(&cc);
    gw_cc_parse_pragma(&cc, "no-cachex", 9);
    assert_false(cc.flags & GW_CC_NO_CACHE);
    /* a request with Cache-Control ignores Pragma */
    cc = parse("max-age=5");
    gw_cc_parse_pragma(&cc, "no-cache", 8);
    assert_false(cc.flags & GW_CC_NO_CACHE);
}

static void test_guard_page(void **state)
{
    (void)state;
    const char *inputs[] = {"max-age=\"12", "no-cache=\"a\\", "max-age=1,", "public", "s-maxage"};
    struct guard g;
    guard_init(&g, 64);
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        size_t n = strlen(inputs[i]);
        for (size_t k = 0; k <= n; k++) { /* every prefix ends at the guard page */
            char *p = guard_place(&g, inputs[i], k);
            struct gw_cc cc;
            gw_cc_init(&cc);
            gw_cc_parse(&cc, p, k);
            gw_cc_parse_pragma(&cc, p, k);
        }
    }
    guard_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_response_directives),
        cmocka_unit_test(test_request_directives),
        cmocka_unit_test(test_quoted_arguments),
        cmocka_unit_test(test_malformed_freshness),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_lists_and_extensions),
        cmocka_unit_test(test_pragma),
        cmocka_unit_test(test_guard_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
