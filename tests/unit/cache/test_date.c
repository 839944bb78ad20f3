/*
 * Unit tests for src/cache/date.c: the three HTTP-date formats of RFC 9110 5.6.7 (its own
 * example, 784111777), the RFC 850 two-digit year rule, range checks, rejects, the formatter's
 * round trip, and a guard-page run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../guard_page.h"
#include "cache/date.h"

/* 2026-12-06 00:00:00 UTC */
#define NOW INT64_C(1796515200)

static int64_t parse(const char *s)
{
    int64_t t = 0;
    return gw_http_date_parse(s, strlen(s), NOW, &t) == 0 ? t : -1;
}

static void test_rfc_example(void **state)
{
    (void)state;
    assert_int_equal(parse("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
    assert_int_equal(parse("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
    assert_int_equal(parse("Sun Nov  6 08:49:37 1994"), 784111777);
    assert_int_equal(parse("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
    assert_int_equal(parse("Tue, 29 Feb 2000 23:59:59 GMT"), 951868799);
    /* a leap second reads as :59 */
    assert_int_equal(parse("Sat, 31 Dec 2016 23:59:60 GMT"), 1483228799);
}

static void test_two_digit_year(void **state)
{
    (void)state;
    /* now is 2026: 76 is 2076 (50 years ahead), 77 is 1977 */
    assert_int_equal(parse("Tuesday, 01-Jan-30 00:00:00 GMT"), 1893456000);
    assert_int_equal(parse("Saturday, 01-Jan-77 00:00:00 GMT"), 220924800);
    assert_int_equal(parse("Wednesday, 01-Jan-76 00:00:00 GMT"), 3345062400);
}

static void test_rejects(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "0",
        "-1",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "Sun, 31 Nov 1994 08:49:37 GMT",
        "Sun, 29 Feb 1900 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        "Sun, 06 Nov 1994 08-49-37 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sunny, 06-Nov-94 08:49:37 GMT",
        "Sun, 06-Nov-94 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sun Nov 06 08:49:37 94",
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov  6 08:49:37 1994 ",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse(bad[i]) != -1)
            fail_msg("accepted: \"%s\"", bad[i]);
    }
    /* "Sun Nov 06" is the two-digit form of asctime's day: accepted */
    assert_int_equal(parse("Sun Nov 06 08:49:37 1994"), 784111777);
}

static void test_format(void **state)
{
    (void)state;
    char out[GW_HTTP_DATE_LEN];
    assert_int_equal(gw_http_date_format(784111777, out), 29);
    assert_string_equal(out, "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_int_equal(gw_http_date_format(0, out), 29);
    assert_string_equal(out, "Thu, 01 Jan 1970 00:00:00 GMT");
    for (int64_t t = 0; t < INT64_C(253402300799); t += INT64_C(86399) * 97 + 13) {
        int64_t back = -1;
        gw_http_date_format(t, out);
        assert_int_equal(gw_http_date_parse(out, 29, NOW, &back), 0);
        assert_int_equal(back, t);
    }
}

static void test_guard_page(void **state)
{
    (void)state;
    const char *inputs[] = {"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
                            "Sun Nov  6 08:49:37 1994", "Wednesday,"};
    struct guard g;
    guard_init(&g, 64);
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        size_t n = strlen(inputs[i]);
        for (size_t k = 0; k <= n; k++) {
            int64_t t;
            char *p = guard_place(&g, inputs[i], k);
            int rc = gw_http_date_parse(p, k, NOW, &t);
            assert_true(rc == 0 || rc == -1);
        }
    }
    guard_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_example), cmocka_unit_test(test_two_digit_year),
        cmocka_unit_test(test_rejects),     cmocka_unit_test(test_format),
        cmocka_unit_test(test_guard_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
