/* Unit tests for src/control/admin_api.c: path patterns, query values, the endpoint table's
 * 404 and 405 answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "admin/admin.h"

struct match_case {
    const char *pattern;
    const char *path;
    bool match;
    const char *p0; /* first capture, when matched */
    const char *p1;
};

static const struct match_case match_cases[] = {
    {"/", "/", true, NULL, NULL},
    {"/", "/x", false, NULL, NULL},
    {"/", "", false, NULL, NULL},
    {"/api/services", "/api/services", true, NULL, NULL},
    {"/api/services", "/api/services/", true, NULL, NULL}, /* one trailing '/' is ignored */
    {"/api/services", "/api/services//", false, NULL, NULL},
    {"/api/services", "/api/service", false, NULL, NULL},
    {"/api/services", "/api/servicesX", false, NULL, NULL},
    {"/api/services", "/api", false, NULL, NULL},
    {"/api/services", "/api/services/x", false, NULL, NULL},
    {"/api/services", "api/services", false, NULL, NULL},
    {"/api/services/{name}", "/api/services/users", true, "users", NULL},
    {"/api/services/{name}", "/api/services/users/", true, "users", NULL},
    {"/api/services/{name}", "/api/services/", false, NULL, NULL},
    {"/api/services/{name}", "/api/services//", false, NULL, NULL},
    {"/api/services/{name}", "/api/services", false, NULL, NULL},
    {"/api/services/{name}", "/api/services/a/b", false, NULL, NULL},
    {"/api/services/{name}/targets", "/api/services/a.b-c_d/targets", true, "a.b-c_d", NULL},
    {"/api/services/{name}/targets", "/api/services/a/target", false, NULL, NULL},
    {"/api/services/{name}/targets", "/api/services//targets", false, NULL, NULL},
    {"/{a}/x/{b}", "/one/x/two", true, "one", "two"},
    {"/{a}/x/{b}", "/one/y/two", false, NULL, NULL},
};

static void test_match(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof match_cases / sizeof match_cases[0]; i++) {
        const struct match_case *c = &match_cases[i];
        struct gw__admin_slice params[GW__ADMIN_MAX_PARAMS];
        size_t np = 99;
        bool got = gw__admin_match(c->pattern, c->path, strlen(c->path), params,
                                   GW__ADMIN_MAX_PARAMS, &np);
        if (got != c->match)
            fail_msg("%s against %s: got %d", c->pattern, c->path, got);
        if (!got)
            continue;
        size_t want = (c->p0 != NULL) + (c->p1 != NULL);
        assert_int_equal(np, want);
        if (c->p0) {
            assert_int_equal(params[0].n, strlen(c->p0));
            assert_memory_equal(params[0].p, c->p0, params[0].n);
        }
        if (c->p1) {
            assert_int_equal(params[1].n, strlen(c->p1));
            assert_memory_equal(params[1].p, c->p1, params[1].n);
        }
    }
}

static void test_match_capture_limit(void **state)
{
    (void)state;
    struct gw__admin_slice params[1];
    size_t np = 0;
    assert_false(gw__admin_match("/{a}/{b}", "/x/y", 4, params, 1, &np));
    assert_true(gw__admin_match("/{a}/y", "/x/y", 4, params, 1, &np));
    assert_int_equal(np, 1);
}

static void test_query_get(void **state)
{
    (void)state;
    char out[64];
    const char *q = "a=1&url=http%3A%2F%2F127.0.0.1%3A3001&b=&c&sp=a+b%20c";
    size_t n = strlen(q);
    assert_int_equal(gw__admin_query_get(q, n, "url", out, sizeof out), 21);
    assert_string_equal(out, "http://127.0.0.1:3001");
    assert_int_equal(gw__admin_query_get(q, n, "a", out, sizeof out), 1);
    assert_string_equal(out, "1");
    assert_int_equal(gw__admin_query_get(q, n, "b", out, sizeof out), 0);
    assert_string_equal(out, "");
    assert_int_equal(gw__admin_query_get(q, n, "c", out, sizeof out), 0);
    assert_int_equal(gw__admin_query_get(q, n, "sp", out, sizeof out), 5);
    assert_string_equal(out, "a b c");
    assert_int_equal(gw__admin_query_get(q, n, "missing", out, sizeof out), -1);
    assert_int_equal(gw__admin_query_get(q, n, "ur", out, sizeof out), -1);
    assert_int_equal(gw__admin_query_get("", 0, "a", out, sizeof out), -1);
    /* the query is not NUL-terminated where len ends */
    assert_int_equal(gw__admin_query_get("url=abcdef", 6, "url", out, sizeof out), 2);
    assert_string_equal(out, "ab");
    /* malformed escapes, encoded NUL, too long */
    assert_int_equal(gw__admin_query_get("u=%4", 4, "u", out, sizeof out), -1);
    assert_int_equal(gw__admin_query_get("u=%zz", 5, "u", out, sizeof out), -1);
    assert_int_equal(gw__admin_query_get("u=%00", 5, "u", out, sizeof out), -1);
    assert_int_equal(gw__admin_query_get("u=abcd", 6, "u", out, 4), -1);
    assert_int_equal(gw__admin_query_get("u=abc", 5, "u", out, 4), 3);
}

static struct gw__admin_req make_req(enum gw_http_method m, const char *path)
{
    struct gw__admin_req rq;
    memset(&rq, 0, sizeof rq);
    rq.method = m;
    rq.path.p = path;
    rq.path.n = strlen(path);
    rq.query.p = "";
    rq.body = "";
    return rq;
}

static void test_dispatch_not_found(void **state)
{
    (void)state;
    struct gw__admin_resp rs;
    memset(&rs, 0, sizeof rs);
    struct gw__admin_req rq = make_req(GW_METHOD_GET, "/nope");
    gw__admin_dispatch(NULL, &rq, &rs); /* no handler runs: the server is not needed */
    assert_int_equal(rs.status, 404);
    assert_int_equal(json_integer_value(json_object_get(rs.json, "status")), 404);
    assert_non_null(strstr(json_string_value(json_object_get(rs.json, "error")), "/nope"));
    assert_string_equal(rs.headers, "");
    json_decref(rs.json);
}

static void test_dispatch_method_not_allowed(void **state)
{
    (void)state;
    struct gw__admin_resp rs;
    memset(&rs, 0, sizeof rs);
    struct gw__admin_req rq = make_req(GW_METHOD_POST, "/api/services/users");
    gw__admin_dispatch(NULL, &rq, &rs);
    assert_int_equal(rs.status, 405);
    assert_string_equal(rs.headers, "Allow: GET, HEAD, PUT, DELETE, PATCH\r\n");
    json_decref(rs.json);

    memset(&rs, 0, sizeof rs);
    rq = make_req(GW_METHOD_GET, "/api/config/reload");
    gw__admin_dispatch(NULL, &rq, &rs);
    assert_int_equal(rs.status, 405);
    assert_string_equal(rs.headers, "Allow: POST\r\n");
    json_decref(rs.json);

    memset(&rs, 0, sizeof rs);
    rq = make_req(GW_METHOD_GET, "/api/services/users/targets");
    gw__admin_dispatch(NULL, &rq, &rs);
    assert_int_equal(rs.status, 405);
    assert_string_equal(rs.headers, "Allow: POST, DELETE\r\n");
    json_decref(rs.json);
}

static void test_error_body(void **state)
{
    (void)state;
    struct gw__admin_resp rs;
    memset(&rs, 0, sizeof rs);
    gw__admin_error(&rs, 400, "bad %s", "thing");
    gw__admin_error(&rs, 409, "worse %d", 2); /* replaces the first body */
    char *text = json_dumps(rs.json, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(text, "{\"error\":\"worse 2\",\"status\":409}");
    assert_int_equal(rs.status, 409);
    free(text);
    json_decref(rs.json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_match_capture_limit),
        cmocka_unit_test(test_query_get),
        cmocka_unit_test(test_dispatch_not_found),
        cmocka_unit_test(test_dispatch_method_not_allowed),
        cmocka_unit_test(test_error_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
