/*
 * HTTP/2 upstreams (upstream/h2_upstream.h): the translation of the proxy's HTTP/1.1 request
 * head into HTTP/2 fields: pseudo-fields, what is dropped (RFC 9113 8.2.2), TE, gRPC's
 * te: trailers and grpc-timeout capped by the service's timeout, the body framing it reports,
 * and the heads it refuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "upstream/h2_upstream.h"

static struct gw_h2up_head head;

static const char *field(const char *name)
{
    static char v[256];
    for (size_t i = 0; i < head.n; i++) {
        if (head.f[i].name_len == strlen(name) &&
            memcmp(head.f[i].name, name, head.f[i].name_len) == 0) {
            size_t n = head.f[i].value_len < sizeof v - 1 ? head.f[i].value_len : sizeof v - 1;
            memcpy(v, head.f[i].value, n);
            v[n] = '\0';
            return v;
        }
    }
    return NULL;
}

static int translate(const char *h, bool https, uint64_t max_ms)
{
    return gw_h2up_translate_head(h, strlen(h), https, max_ms, &head);
}

static void test_plain_request(void **state)
{
    (void)state;
    assert_int_equal(translate("POST /a/b?c=1 HTTP/1.1\r\nHost: api.example\r\nContent-Type: "
                               "text/plain\r\nContent-Length: 5\r\nConnection: keep-alive\r\n"
                               "Keep-Alive: timeout=5\r\nTE: gzip\r\nX-Mixed-Case: V\r\n\r\n",
                               false, 0),
                     0);
    assert_string_equal(head.f[0].name, ":method");
    assert_string_equal(field(":method"), "POST");
    assert_string_equal(field(":scheme"), "http");
    assert_string_equal(field(":authority"), "api.example");
    assert_string_equal(field(":path"), "/a/b?c=1");
    assert_string_equal(field("content-type"), "text/plain");
    assert_string_equal(field("x-mixed-case"), "V");
    assert_string_equal(field("content-length"), "5");
    assert_null(field("connection"));
    assert_null(field("keep-alive"));
    assert_null(field("host"));
    assert_null(field("te"));
    assert_int_equal(head.body, GW_H2UP_BODY_LENGTH);
    assert_true(head.length == 5);
    assert_false(head.grpc);
    assert_true(head.timeout_ms == 0);
}

static void test_https_chunked_and_head(void **state)
{
    (void)state;
    assert_int_equal(
        translate("PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", true, 0), 0);
    assert_string_equal(field(":scheme"), "https");
    assert_null(field("transfer-encoding"));
    assert_int_equal(head.body, GW_H2UP_BODY_CHUNKED);
    assert_int_equal(translate("HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n", false, 0), 0);
    assert_true(head.head_method);
    assert_int_equal(head.body, GW_H2UP_BODY_NONE);
}

static void test_grpc(void **state)
{
    (void)state;
    /* TE: trailers kept; a grpc-timeout longer than the service's timeout is cut to it. */
    assert_int_equal(translate("POST /pkg.Svc/M HTTP/1.1\r\nHost: h\r\nContent-Type: "
                               "application/grpc+proto\r\nTE: trailers\r\ngrpc-timeout: 20S\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n",
                               false, 5000),
                     0);
    assert_true(head.grpc);
    assert_string_equal(field("te"), "trailers");
    assert_true(head.timeout_ms == 5000);
    assert_string_equal(field("grpc-timeout"), "5000m");
    /* A shorter one is kept; te: trailers is added when the client left it out. */
    assert_int_equal(translate("POST /p HTTP/1.1\r\nHost: h\r\ncontent-type: application/grpc\r\n"
                               "grpc-timeout: 1500u\r\n\r\n",
                               false, 5000),
                     0);
    assert_true(head.timeout_ms == 2);
    assert_string_equal(field("te"), "trailers");
    assert_string_equal(field("grpc-timeout"), "2m");
    /* No grpc-timeout: the service's timeout is the deadline the upstream learns. */
    assert_int_equal(translate("POST /p HTTP/1.1\r\nHost: h\r\ncontent-type: application/grpc\r\n"
                               "\r\n",
                               false, 30000),
                     0);
    assert_string_equal(field("grpc-timeout"), "30000m");
    /* A malformed grpc-timeout is dropped, and the cap applies. */
    assert_int_equal(translate("POST /p HTTP/1.1\r\nHost: h\r\ncontent-type: application/grpc\r\n"
                               "grpc-timeout: soon\r\n\r\n",
                               false, 1000),
                     0);
    assert_true(head.timeout_ms == 1000);
}

static void test_refused(void **state)
{
    (void)state;
    assert_true(translate("GET / HTTP/1.1\r\n\r\n", false, 0) < 0);           /* no Host */
    assert_true(translate("GET\r\nHost: h\r\n\r\n", false, 0) < 0);           /* no target */
    assert_true(translate("GET / HTTP/1.1\r\nHost h\r\n\r\n", false, 0) < 0); /* no colon */
    assert_true(translate("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n", false, 0) < 0);
    assert_true(translate("", false, 0) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_request),
        cmocka_unit_test(test_https_chunked_and_head),
        cmocka_unit_test(test_grpc),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
