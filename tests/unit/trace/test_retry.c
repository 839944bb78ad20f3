/*
 * Unit tests for src/trace/retry.c: which export failures are retried (the OTLP/HTTP
 * specification's retryable codes and transport failures, never another 4xx), the backoff's
 * bounds and growth, and the Retry-After parser (delay-seconds, an HTTP-date, the cap, rejects,
 * and a guard-page run).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../guard_page.h"
#include "core/error.h"
#include "trace/retry.h"

/* 2026-12-06 00:00:00 UTC (a Sunday) */
#define NOW INT64_C(1796515200)

static void test_retryable(void **state)
{
    (void)state;
    assert_true(gw_trace_export_retryable(0, 429));
    assert_true(gw_trace_export_retryable(0, 502));
    assert_true(gw_trace_export_retryable(0, 503));
    assert_true(gw_trace_export_retryable(0, 504));
    assert_true(gw_trace_export_retryable(GW_EFETCH, 0));
    assert_true(gw_trace_export_retryable(GW_EFETCHTIMEOUT, 0));
    const int never[] = {400, 401, 403, 404, 405, 408, 413, 415, 500, 501, 505, 301, 200};
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        assert_false(gw_trace_export_retryable(0, never[i]));
    assert_false(gw_trace_export_retryable(GW_ENOMEM, 0));
    assert_false(gw_trace_export_retryable(GW_EINVAL, 0));
}

static void test_backoff(void **state)
{
    (void)state;
    /* the base doubles from 1 s to 30 s; each wait lies in [base / 2, base] */
    const uint64_t base[] = {0, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
    const uint64_t randoms[] = {0, 1, 499, 500, 12345, UINT64_MAX};
    for (unsigned f = 1; f < sizeof base / sizeof base[0]; f++) {
        for (size_t i = 0; i < sizeof randoms / sizeof randoms[0]; i++) {
            uint64_t w = gw_trace_export_backoff_ms(f, randoms[i]);
            assert_true(w >= base[f] / 2);
            assert_true(w <= base[f]);
        }
    }
    assert_int_equal(gw_trace_export_backoff_ms(1, 0), 500);
    assert_int_equal(gw_trace_export_backoff_ms(1, 500), 1000);
    assert_true(gw_trace_export_backoff_ms(1000000, UINT64_MAX) <= GW_TRACE_BACKOFF_MAX_MS);
    /* failures 0 reads as the first */
    assert_true(gw_trace_export_backoff_ms(0, 7) <= GW_TRACE_BACKOFF_MIN_MS);
}

static int64_t ra(const char *s)
{
    uint64_t ms = 0;
    return gw_trace_retry_after_parse(s, strlen(s), NOW, &ms) == 0 ? (int64_t)ms : -1;
}

static void test_retry_after(void **state)
{
    (void)state;
    assert_int_equal(ra("0"), 0);
    assert_int_equal(ra("1"), 1000);
    assert_int_equal(ra(" 5 "), 5000);
    assert_int_equal(ra("\t30"), 30000);
    /* capped at a minute, however many digits */
    assert_int_equal(ra("61"), GW_TRACE_RETRY_AFTER_MAX_MS);
    assert_int_equal(ra("120"), GW_TRACE_RETRY_AFTER_MAX_MS);
    assert_int_equal(ra("99999999999999999999999999999999"), GW_TRACE_RETRY_AFTER_MAX_MS);
    assert_int_equal(ra("0000000000000000000000000000007"), 7000);
    /* an HTTP-date, in each form, against now */
    assert_int_equal(ra("Sun, 06 Dec 2026 00:00:10 GMT"), 10000);
    assert_int_equal(ra("Sunday, 06-Dec-26 00:00:03 GMT"), 3000);
    assert_int_equal(ra("Sun Dec  6 00:00:45 2026"), 45000);
    assert_int_equal(ra("Sun, 06 Dec 2026 01:00:00 GMT"), GW_TRACE_RETRY_AFTER_MAX_MS);
    /* a date already past: at once */
    assert_int_equal(ra("Sat, 05 Dec 2026 23:00:00 GMT"), 0);
    assert_int_equal(ra("Sun, 06 Nov 1994 08:49:37 GMT"), 0);
    /* neither */
    const char *bad[] = {"",
                         " ",
                         "-1",
                         "1.5",
                         "1s",
                         "+3",
                         "0x10",
                         "5 5",
                         "soon",
                         "Sun, 06 Dec 2026 00:00:10 UTC",
                         "Sun, 32 Dec 2026 00:00:10 GMT"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(ra(bad[i]), -1);
}

static void test_guard_page(void **state)
{
    (void)state;
    const char *inputs[] = {"120", " 7 ", "Sun, 06 Dec 2026 00:00:10 GMT",
                            "Sunday, 06-Dec-26 00:00:03 GMT", "Sun Dec  6 00:00:45 2026"};
    struct guard g;
    guard_init(&g, 64);
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        size_t n = strlen(inputs[i]);
        for (size_t k = 0; k <= n; k++) {
            uint64_t ms = 0;
            char *p = guard_place(&g, inputs[i], k);
            int rc = gw_trace_retry_after_parse(p, k, NOW, &ms);
            assert_true(rc == 0 || rc == -1);
            assert_true(rc < 0 || ms <= GW_TRACE_RETRY_AFTER_MAX_MS);
        }
    }
    guard_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retryable),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_guard_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
