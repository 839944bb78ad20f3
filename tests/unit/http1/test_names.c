/* Unit tests for src/http1/names.c: the one reason-phrase table and the one method table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http1/names.h"

static void test_reasons(void **unused)
{
    (void)unused;
    assert_string_equal(gw_http_reason(200), "OK");
    assert_string_equal(gw_http_reason(413), "Content Too Large");
    assert_string_equal(gw_http_reason(429), "Too Many Requests");
    assert_string_equal(gw_http_reason(503), "Service Unavailable");
    assert_string_equal(gw_http_reason(799), "Unknown");
}

static void test_method_names_round_trip(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < 8; i++) {
        enum gw_http_method m = gw_http_listed_methods[i];
        const char *name = gw_http_method_name(m);
        assert_non_null(name);
        assert_int_equal(gw_http_method_id(name, strlen(name)), m);
    }
    assert_null(gw_http_method_name(GW_METHOD_OTHER));
}

static void test_method_list(void **unused)
{
    (void)unused;
    char out[64];
    uint32_t mask = (1u << GW_METHOD_TRACE) | (1u << GW_METHOD_GET) | (1u << GW_METHOD_POST) |
                    (1u << GW_METHOD_CONNECT);
    assert_int_equal(gw_http_method_list(mask, ", ", out, sizeof out), strlen("GET, POST, TRACE"));
    assert_string_equal(out, "GET, POST, TRACE");
    assert_int_equal(gw_http_method_list(0, ", ", out, sizeof out), 0);
    assert_string_equal(out, "");
    /* truncated at a name boundary, never a dangling separator */
    assert_int_equal(gw_http_method_list(mask, ", ", out, 10), 9);
    assert_string_equal(out, "GET, POST");
    assert_int_equal(gw_http_method_list(mask, ", ", out, 4), 3);
    assert_string_equal(out, "GET");
    assert_int_equal(gw_http_method_list(mask, ", ", out, 3), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_method_names_round_trip),
        cmocka_unit_test(test_method_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
