/* Unit tests for src/openapi/viewer.c: which clients get the page, and the page's promises. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "openapi/viewer.h"

static bool html(const char *accept)
{
    return gw_openapi_wants_html(accept, strlen(accept));
}

static void test_wants_html(void **state)
{
    (void)state;
    assert_true(html("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"));
    assert_true(html("TEXT/HTML"));
    assert_false(html("*/*"));
    assert_false(html("application/json"));
    assert_false(html(""));
    assert_false(html("text/htm"));
}

static void test_assets(void **state)
{
    (void)state;
    size_t n;
    const char *page = gw_openapi_viewer_html(&n);
    assert_int_equal(strlen(page), n);
    assert_non_null(strstr(page, "<script src=\"?viewer.js\"></script>"));
    assert_null(strstr(page, "http")); /* nothing from elsewhere */
    const char *js = gw_openapi_viewer_script(&n);
    assert_int_equal(strlen(js), n);
    assert_null(strstr(js, "innerHTML"));
    assert_null(strstr(js, "http"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wants_html),
        cmocka_unit_test(test_assets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
