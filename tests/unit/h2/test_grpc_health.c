/*
 * The grpc.health.v1 messages (h2/grpc_health.h): HealthCheckRequest as gantry writes it (empty
 * and named services, a name long enough for a two-byte length, a buffer too small), and
 * HealthCheckResponse as targets may send it: every serving status, the default when the field
 * is absent, unknown fields of every wire type skipped, a repeated field, a negative enum, and
 * what is refused (short or trailing bytes, compression, bad varints, field 0, groups, field 1
 * with another wire type). Each response is placed against a PROT_NONE page.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

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
#include "h2/grpc_health.h"

#include "../guard_page.h"

static void test_request(void **state)
{
    (void)state;
    uint8_t out[2048];
    size_t n = gw_grpc_health_request("", out, sizeof out);
    assert_int_equal(n, 5);
    assert_memory_equal(out, "\0\0\0\0\0", 5);
    n = gw_grpc_health_request("gwtest.Echo", out, sizeof out);
    assert_int_equal(n, 5 + 2 + 11);
    assert_memory_equal(out, "\0\0\0\0\x0d\x0a\x0bgwtest.Echo", n);
    /* 200 bytes: the length is a two-byte varint (0xc8 0x01). */
    char name[201];
    memset(name, 'a', 200);
    name[200] = '\0';
    n = gw_grpc_health_request(name, out, sizeof out);
    assert_int_equal(n, 5 + 3 + 200);
    assert_memory_equal(out, "\0\0\0\0\xcb\x0a\xc8\x01", 8);
    assert_int_equal(gw_grpc_health_request(name, out, 207), 0); /* one byte short */
    assert_int_equal(gw_grpc_health_request(name, out, 208), 208);
    char big[GW_GRPC_HEALTH_SERVICE_MAX + 2];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(gw_grpc_health_request(big, out, sizeof out), 0);
}

static int parse(const char *bytes, size_t n, int32_t *status)
{
    struct guard g;
    guard_init(&g, n + 1);
    const uint8_t *p = (const uint8_t *)guard_place(&g, bytes, n);
    int rc = gw_grpc_health_response(p, n, status);
    guard_free(&g);
    return rc;
}

#define PARSE(lit, st) parse(lit, sizeof lit - 1, st)

static void test_response(void **state)
{
    (void)state;
    int32_t st = -99;
    assert_int_equal(PARSE("\0\0\0\0\x02\x08\x01", &st), 0);
    assert_int_equal(st, GW_GRPC_HEALTH_SERVING);
    assert_int_equal(PARSE("\0\0\0\0\x02\x08\x02", &st), 0);
    assert_int_equal(st, GW_GRPC_HEALTH_NOT_SERVING);
    assert_int_equal(PARSE("\0\0\0\0\x02\x08\x03", &st), 0);
    assert_int_equal(st, GW_GRPC_HEALTH_SERVICE_UNKNOWN);
    /* An empty message: status has its default, UNKNOWN (proto3 leaves it out). */
    st = -99;
    assert_int_equal(PARSE("\0\0\0\0\0", &st), 0);
    assert_int_equal(st, GW_GRPC_HEALTH_UNKNOWN);
    /* Unknown fields of each wire type around the status, and the last status wins. */
    assert_int_equal(PARSE("\0\0\0\0\x1a"
                           "\x10\x96\x01"                         /* 2: varint 150 */
                           "\x1a\x03xyz"                          /* 3: 3 bytes */
                           "\x25\x01\x02\x03\x04"                 /* 4: fixed32 */
                           "\x29\x01\x02\x03\x04\x05\x06\x07\x08" /* 5: fixed64 */
                           "\x08\x02"                             /* status NOT_SERVING */
                           "\x08\x01",                            /* then SERVING */
                           &st),
                     0);
    assert_int_equal(st, GW_GRPC_HEALTH_SERVING);
    /* A large field number (two-byte tag) is skipped too. */
    assert_int_equal(PARSE("\0\0\0\0\x05\x80\x01\x05\x08\x01", &st), 0);
    assert_int_equal(st, GW_GRPC_HEALTH_SERVING);
    /* A negative enum value comes as ten bytes. */
    assert_int_equal(PARSE("\0\0\0\0\x0b\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", &st), 0);
    assert_int_equal(st, -1);
    assert_string_equal(gw_grpc_health_status_name(1), "SERVING");
    assert_string_equal(gw_grpc_health_status_name(2), "NOT_SERVING");
    assert_string_equal(gw_grpc_health_status_name(7), "other");
}

static void test_response_refused(void **state)
{
    (void)state;
    int32_t st = 42;
    static const struct {
        const char *bytes;
        size_t n;
    } bad[] = {
#define B(lit) {lit, sizeof lit - 1}
        B(""),
        B("\0\0\0\0"),               /* short header */
        B("\0\0\0\0\x02\x08"),       /* truncated message */
        B("\0\0\0\0\x01\x08\x01"),   /* a byte after the message */
        B("\x01\0\0\0\x02\x08\x01"), /* compressed */
        B("\0\0\0\0\x02\x08\x80"),   /* varint without its end */
        B("\0\0\0\0\x0c\x08\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01"), /* 11-byte varint */
        B("\0\0\0\0\x0b\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02"),     /* 65th bit */
        B("\0\0\0\0\x02\x00\x01"),                                         /* field 0 */
        B("\0\0\0\0\x02\x0b\x0c"),                         /* a group (wire type 3) */
        B("\0\0\0\0\x01\x0c"),                             /* end group */
        B("\0\0\0\0\x02\x0e\x01"),                         /* wire type 6 */
        B("\0\0\0\0\x02\x0f\x01"),                         /* wire type 7 */
        B("\0\0\0\0\x03\x0a\x01\x01"),                     /* status as bytes */
        B("\0\0\0\0\x05\x0d\x01\x00\x00\x00"),             /* status as fixed32 */
        B("\0\0\0\0\x03\x1a\x05x"),                        /* a length past the end */
        B("\0\0\0\0\x04\x25\x01\x02\x03"),                 /* fixed32 cut */
        B("\0\0\0\0\x08\x29\x01\x02\x03\x04\x05\x06\x07"), /* fixed64 cut */
        B("\0\0\0\0\x06\x80\x80\x80\x80\x80\x01"),         /* field number past 2^29 - 1 */
#undef B
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse(bad[i].bytes, bad[i].n, &st) != GW_EINVAL)
            fail_msg("case %zu accepted", i);
        assert_int_equal(st, 42);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_response),
        cmocka_unit_test(test_response_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
