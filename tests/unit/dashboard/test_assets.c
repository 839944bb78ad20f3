/* Unit tests for src/dashboard/assets.c: the embedded files are found by their /dashboard
 * paths (index.html for the bare path), with their content types and ETags, and nothing
 * outside /dashboard or not embedded is found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dashboard/assets.h"

static const struct gw_dashboard_asset *find(const char *path)
{
    return gw_dashboard_asset_find(path, strlen(path));
}

static void test_find(void **state)
{
    (void)state;
    const struct gw_dashboard_asset *index = find("/dashboard");
    assert_non_null(index);
    assert_string_equal(index->name, "index.html");
    assert_ptr_equal(find("/dashboard/"), index);
    assert_ptr_equal(find("/dashboard/index.html"), index);
    assert_string_equal(gw_dashboard_asset_type(index), "text/html; charset=utf-8");
    /* the page's script tag names app.js, and CSP allows only files of this origin */
    assert_non_null(strstr((const char *)index->data, "<script src=\"/dashboard/app.js\""));
    assert_null(strstr((const char *)index->data, "<script>"));
    assert_int_equal(index->data[index->len], '\0');
    const struct gw_dashboard_asset *js = find("/dashboard/app.js");
    assert_non_null(js);
    assert_string_equal(gw_dashboard_asset_type(js), "text/javascript; charset=utf-8");
    assert_string_equal(gw_dashboard_asset_type(find("/dashboard/app.css")),
                        "text/css; charset=utf-8");
    assert_string_equal(gw_dashboard_asset_type(find("/dashboard/favicon.svg")), "image/svg+xml");
    /* ETags: quoted, 16 hex digits, one per content */
    assert_int_equal(strlen(js->etag), 18);
    assert_true(js->etag[0] == '"' && js->etag[17] == '"');
    assert_string_not_equal(js->etag, index->etag);

    assert_null(find("/dashboardx"));
    assert_null(find("/dashboard/nope.js"));
    assert_null(find("/dashboard/app.js/"));
    assert_null(find("/dashboard/../gateway/status"));
    assert_null(find("/api/dashboard"));
    assert_null(find(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
