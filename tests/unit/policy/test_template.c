/* Unit tests for src/policy/template.c: the template syntax, every variable, and refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "policy/template.h"

static struct gw_http1_header hs[] = {
    {.name = "Accept", .name_len = 6, .value = "text/html", .value_len = 9},
    {.name = "X-Tenant", .name_len = 8, .value = "acme", .value_len = 4},
    {.name = "x_tenant", .name_len = 8, .value = "two", .value_len = 3},
};
static struct gw_http1_message msg = {.headers = hs, .num_headers = 3, .headers_capacity = 3};
static const char query[] = "?page=2&%70age=3&q=a%20b&empty=&flag";

/* Renders s against a fixed request; the result is static. */
static const char *render(const char *s)
{
    static char out[512];
    struct gw_template *t = NULL;
    size_t at;
    char why[256];
    assert_int_equal(gw_template_parse(s, strlen(s), &t, &at, why, sizeof why), 0);
    struct gw_tpl_source src = {
        .request_id = "rid",
        .client_ip = "192.0.2.1",
        .consumer = "billing",
        .user_id = NULL,
        .service = "users",
        .route = "/api/users/7",
        .route_len = 10,
        .trace_id = "",
        .msg = &msg,
        .query = query,
        .query_len = sizeof query - 1,
    };
    struct gw_buf b;
    gw_buf_init(&b, 4096);
    assert_int_equal(gw_template_render(t, &src, &b), 0);
    assert_true(b.len < sizeof out);
    memcpy(out, b.data ? b.data : "", b.len);
    out[b.len] = '\0';
    gw_buf_free(&b);
    gw_template_free(t);
    return out;
}

static void test_variables(void **unused)
{
    (void)unused;
    assert_string_equal(render("id=$request_id ip=$client_ip"), "id=rid ip=192.0.2.1");
    assert_string_equal(render("$consumer/$user_id/$service"), "billing//users");
    assert_string_equal(render("[$route][$trace_id]"), "[/api/users][]");
    assert_string_equal(render("$http_accept"), "text/html");
    assert_string_equal(render("$http_x_tenant"), "acme, two"); /* every one, '_' is '-' */
    assert_string_equal(render("$http_X_TENANT"), "acme, two");
    assert_string_equal(render("$http_missing."), ".");
    assert_string_equal(render("$arg_page"), "2"); /* the first one */
    assert_string_equal(render("$arg_q|$arg_empty|$arg_flag|$arg_none"), "a%20b|||");
}

static void test_literals(void **unused)
{
    (void)unused;
    assert_string_equal(render("plain"), "plain");
    assert_string_equal(render(""), "");
    assert_string_equal(render("$$request_id"), "$request_id");
    assert_string_equal(render("cost $5, $ alone, end $"), "cost $5, $ alone, end $");
    assert_string_equal(render("$request_id-x"), "rid-x"); /* the name ends at '-' */
    struct gw_template *t = NULL;
    size_t at;
    char why[256];
    assert_int_equal(gw_template_parse("a $$ b", 6, &t, &at, why, sizeof why), 0);
    assert_true(gw_template_is_constant(t));
    assert_int_equal(t->nparts, 1); /* literals merge */
    gw_template_free(t);
}

static void test_refusals(void **unused)
{
    (void)unused;
    struct gw_template *t = (struct gw_template *)&t;
    size_t at = 99;
    char why[256];
    assert_int_equal(gw_template_parse("ab $request $x", 14, &t, &at, why, sizeof why), GW_EINVAL);
    assert_null(t);
    assert_int_equal(at, 3);
    assert_non_null(strstr(why, "unknown variable \"$request\""));
    assert_int_equal(gw_template_parse("$http_", 6, &t, &at, why, sizeof why), GW_EINVAL);
    assert_int_equal(gw_template_parse("$arg_", 5, &t, &at, why, sizeof why), GW_EINVAL);
    char *big = malloc(GW_TEMPLATE_MAX + 2);
    memset(big, 'a', GW_TEMPLATE_MAX + 1);
    assert_int_equal(gw_template_parse(big, GW_TEMPLATE_MAX + 1, &t, &at, why, sizeof why),
                     GW_EINVAL);
    free(big);
}

static void test_query_names_compare_decoded(void **unused)
{
    (void)unused;
    assert_true(gw_template_query_name_is("%64ebug", 7, "debug", 5));
    assert_true(gw_template_query_name_is("debug", 5, "debug", 5));
    assert_false(gw_template_query_name_is("Debug", 5, "debug", 5));
    assert_false(gw_template_query_name_is("debu", 4, "debug", 5));
    const char *v;
    size_t vl;
    assert_true(gw_template_query_value("?a=1&%62=2", 10, "b", 1, &v, &vl));
    assert_int_equal(vl, 1);
    assert_memory_equal(v, "2", 1);
    assert_false(gw_template_query_value(NULL, 0, "b", 1, &v, &vl));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_variables),
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_query_names_compare_decoded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
