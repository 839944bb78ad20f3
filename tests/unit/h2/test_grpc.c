/*
 * gRPC helpers (h2/grpc.h): the grpc-timeout parser (every unit, rounding up, what the spec
 * refuses, each value placed against a PROT_NONE page), its writer (round trip), the HTTP to
 * gRPC status mapping of gantry's answers, grpc-message's percent-encoding, the content type,
 * and the grpc-status field found among header or trailer lines (for metrics by status).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "h2/grpc.h"
#include "metrics/metrics.h"

#include "../guard_page.h"

static int parse(const char *s, uint64_t *ms)
{
    struct guard g;
    size_t n = strlen(s);
    guard_init(&g, n + 1);
    const char *p = guard_place(&g, s, n);
    int rc = gw_grpc_timeout_parse(p, n, ms);
    guard_free(&g);
    return rc;
}

static void test_timeout_units(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        uint64_t ms;
    } ok[] = {
        {"1H", 3600000},
        {"2M", 120000},
        {"3S", 3000},
        {"250m", 250},
        {"1500u", 2},
        {"1000u", 1},
        {"1u", 1},
        {"1n", 1},
        {"1000000n", 1},
        {"1000001n", 2},
        {"0m", 0},
        {"99999999m", 99999999},
        {"99999999H", 99999999ULL * 3600000},
        {"00000010S", 10000},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t ms = 12345;
        assert_int_equal(parse(ok[i].in, &ms), 0);
        assert_true(ms == ok[i].ms);
    }
}

static void test_timeout_refused(void **state)
{
    (void)state;
    /* TimeoutValue is 1 to 8 digits; one unit; nothing else (no sign, space, decimal). */
    static const char *const bad[] = {"",     "m",    "10",  "10x",   "123456789m",
                                      " 10m", "10m ", "-1m", "1.5S",  "10mm",
                                      "10 m", "+1S",  "1h",  "0x10m", "１m"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t ms = 7;
        assert_int_equal(parse(bad[i], &ms), GW_EINVAL);
        assert_true(ms == 7);
    }
}

static void test_timeout_format_round_trip(void **state)
{
    (void)state;
    static const uint64_t v[] = {
        0, 1, 999, 99999999, 100000000, 100000001, 99999999000ULL, 99999999001ULL, UINT64_MAX / 4};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char buf[16];
        size_t n = gw_grpc_timeout_format(v[i], buf, sizeof buf);
        assert_true(n > 1 && n <= 9);
        uint64_t back = 0;
        assert_int_equal(gw_grpc_timeout_parse(buf, n, &back), 0);
        /* Never shorter than asked (rounded up to the unit), and exact in milliseconds. */
        assert_true(back >= v[i] || v[i] > 99999999ULL * 3600000);
        if (v[i] <= 99999999)
            assert_true(back == v[i]);
    }
}

static void test_status_mapping(void **state)
{
    (void)state;
    assert_int_equal(gw_grpc_status_of_http(401), GW_GRPC_UNAUTHENTICATED);
    assert_int_equal(gw_grpc_status_of_http(403), GW_GRPC_PERMISSION_DENIED);
    assert_int_equal(gw_grpc_status_of_http(404), GW_GRPC_UNIMPLEMENTED);
    assert_int_equal(gw_grpc_status_of_http(429), GW_GRPC_RESOURCE_EXHAUSTED);
    assert_int_equal(gw_grpc_status_of_http(413), GW_GRPC_RESOURCE_EXHAUSTED);
    assert_int_equal(gw_grpc_status_of_http(502), GW_GRPC_UNAVAILABLE);
    assert_int_equal(gw_grpc_status_of_http(503), GW_GRPC_UNAVAILABLE);
    assert_int_equal(gw_grpc_status_of_http(504), GW_GRPC_DEADLINE_EXCEEDED);
    assert_int_equal(gw_grpc_status_of_http(408), GW_GRPC_DEADLINE_EXCEEDED);
    assert_int_equal(gw_grpc_status_of_http(501), GW_GRPC_UNIMPLEMENTED);
    assert_int_equal(gw_grpc_status_of_http(400), GW_GRPC_INTERNAL);
    assert_int_equal(gw_grpc_status_of_http(500), GW_GRPC_INTERNAL);
    assert_int_equal(gw_grpc_status_of_http(418), GW_GRPC_UNKNOWN);
    /* The gateway's own error that names the missing HTTP/2 upstream. */
    assert_int_equal(gw_grpc_status_of_http(gw_err_http_status(GW_EGRPCHTTP1)),
                     GW_GRPC_UNIMPLEMENTED);
}

static void test_message_encode(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(gw_grpc_message_encode("plain text", out, sizeof out), 10);
    assert_string_equal(out, "plain text");
    gw_grpc_message_encode("100% \"ok\"\r\n\xc3\xa9", out, sizeof out);
    assert_string_equal(out, "100%25 \"ok\"%0D%0A%C3%A9");
    /* Cut at a whole character, never inside a %XX. */
    char small[6];
    gw_grpc_message_encode("ab%cd", small, sizeof small);
    assert_string_equal(small, "ab%25");
    gw_grpc_message_encode("abc%d", small, sizeof small);
    assert_string_equal(small, "abc");
}

static void test_content_type(void **state)
{
    (void)state;
    static const char *const yes[] = {"application/grpc", "application/grpc+proto",
                                      "application/grpc+json", "Application/GRPC",
                                      "application/grpc;charset=utf-8"};
    static const char *const no[] = {"application/grpc-web", "application/grpcx",
                                     "application/json", "application/grp", ""};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_true(gw_grpc_is_content_type(yes[i], strlen(yes[i])));
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_false(gw_grpc_is_content_type(no[i], strlen(no[i])));
}

static int status_of(const char *lines)
{
    struct guard g;
    size_t n = strlen(lines);
    guard_init(&g, n + 1);
    const char *p = guard_place(&g, lines, n);
    int v = gw_grpc_status_field(p, n);
    guard_free(&g);
    return v;
}

static void test_status_field(void **state)
{
    (void)state;
    assert_int_equal(status_of("grpc-status: 0\r\n"), 0);
    assert_int_equal(status_of("content-type: application/grpc\r\ngrpc-status: 14\r\n"
                               "grpc-message: down\r\n"),
                     14);
    assert_int_equal(status_of("Grpc-Status:5"), 5); /* no line end, no space */
    assert_int_equal(status_of("grpc-status: \t16 \r\n"), 16);
    assert_int_equal(status_of("grpc-status: 7\r\ngrpc-status: 8\r\n"), 7); /* the first */
    assert_int_equal(status_of("grpc-status: 99\r\n"), 99);
    assert_int_equal(status_of("grpc-status: 123456789\r\n"), 123456789);
    /* absent */
    assert_int_equal(status_of(""), -1);
    assert_int_equal(status_of("grpc-message: grpc-status: 3\r\n"), -1);
    assert_int_equal(status_of("x-grpc-status: 3\r\n"), -1);
    assert_int_equal(status_of("grpc-statu"), -1);
    /* not a number: a value that is no code */
    assert_int_equal(status_of("grpc-status: 1x\r\n"), INT_MAX);
    assert_int_equal(status_of("grpc-status: -1\r\n"), INT_MAX);
    assert_int_equal(status_of("grpc-status:\r\n"), INT_MAX);
    assert_int_equal(status_of("grpc-status: 1234567890\r\n"), INT_MAX);
}

/* The metrics' words: the 17 codes by name, then OTHER and NONE. */
static void test_status_words(void **state)
{
    (void)state;
    assert_int_equal(gw_mx_grpc_index(0), 0);
    assert_int_equal(gw_mx_grpc_index(16), 16);
    assert_int_equal(gw_mx_grpc_index(17), GW_MX_GRPC_OTHER);
    assert_int_equal(gw_mx_grpc_index(-1), GW_MX_GRPC_OTHER);
    assert_int_equal(gw_mx_grpc_index(INT_MAX), GW_MX_GRPC_OTHER);
    assert_string_equal(gw_mx_grpc_status_name(0), "OK");
    assert_string_equal(gw_mx_grpc_status_name(4), "DEADLINE_EXCEEDED");
    assert_string_equal(gw_mx_grpc_status_name(14), "UNAVAILABLE");
    assert_string_equal(gw_mx_grpc_status_name(16), "UNAUTHENTICATED");
    assert_string_equal(gw_mx_grpc_status_name(GW_MX_GRPC_OTHER), "OTHER");
    assert_string_equal(gw_mx_grpc_status_name(GW_MX_GRPC_NONE), "NONE");
    /* Every status gantry answers with has its own word. */
    for (int http = 400; http < 600; http++)
        assert_true(gw_mx_grpc_index(gw_grpc_status_of_http(http)) < GW_MX_GRPC_CODES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeout_units),
        cmocka_unit_test(test_timeout_refused),
        cmocka_unit_test(test_timeout_format_round_trip),
        cmocka_unit_test(test_status_mapping),
        cmocka_unit_test(test_message_encode),
        cmocka_unit_test(test_content_type),
        cmocka_unit_test(test_status_field),
        cmocka_unit_test(test_status_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
