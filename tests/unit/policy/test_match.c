/* Unit tests for src/policy/policy.c's path and request matching, shared by limits, auth rules
 * and public paths: segment boundaries, path parameters, methods (GET implies HEAD). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy.h"

static bool under(const char *path, const char *prefix)
{
    return gw_policy_path_under(path, strlen(path), prefix);
}

static void test_segment_boundaries(void **unused)
{
    (void)unused;
    assert_true(under("/login", "/login"));
    assert_true(under("/login/x", "/login"));
    assert_false(under("/loginx", "/login"));
    assert_false(under("/logi", "/login"));
    assert_false(under("/", "/login"));
    assert_true(under("/anything", "/"));
    assert_true(under("/", "/"));
    assert_true(under("/api/users/7", "/api/users"));
    assert_false(under("/api/usersx/7", "/api/users"));
}

/* A path parameter ends the segment for Tomcat, Jetty and Spring: "/login;jsessionid=1" is
 * served as "/login", so it must match what "/login" matches. */
static void test_path_parameters_end_a_segment(void **unused)
{
    (void)unused;
    assert_true(under("/login;jsessionid=1", "/login"));
    assert_true(under("/login%3Bx", "/login"));
    assert_true(under("/login%3bx", "/login"));
    assert_false(under("/login%3", "/login"));
    assert_false(under("/login%3c", "/login"));
    assert_false(under("/loginx;a", "/login"));
}

static void test_methods_and_prefixes(void **unused)
{
    (void)unused;
    char p0[] = "/a", p1[] = "/b/c";
    char *prefixes[] = {p0, p1};
    struct gw_match_conf m = {.prefixes = prefixes, .nprefixes = 2, .methods = 1u << GW_METHOD_GET};
    assert_true(gw_policy_match(&m, "/a/1", 4, GW_METHOD_GET));
    assert_true(gw_policy_match(&m, "/a/1", 4, GW_METHOD_HEAD)); /* GET implies HEAD */
    assert_false(gw_policy_match(&m, "/a/1", 4, GW_METHOD_POST));
    assert_true(gw_policy_match(&m, "/b/c", 4, GW_METHOD_GET));
    assert_false(gw_policy_match(&m, "/b", 2, GW_METHOD_GET));
    struct gw_match_conf any = {0};
    assert_true(gw_policy_match(&any, "/x", 2, GW_METHOD_DELETE));
    struct gw_match_conf post = {.methods = 1u << GW_METHOD_POST};
    assert_false(gw_policy_match(&post, "/x", 2, GW_METHOD_HEAD));
    assert_true(gw_policy_match(&post, "/x", 2, GW_METHOD_POST));
}

/* The length of the longest prefix that matched, for rules where the longest match wins. */
static void test_match_len(void **unused)
{
    (void)unused;
    char p0[] = "/a", p1[] = "/a/b", p2[] = "/c";
    char *prefixes[] = {p0, p1, p2};
    struct gw_match_conf m = {.prefixes = prefixes, .nprefixes = 3};
    size_t len = 99;
    assert_true(gw_policy_match_len(&m, "/a/b/c", 6, GW_METHOD_GET, &len));
    assert_int_equal(len, 4);
    assert_true(gw_policy_match_len(&m, "/a/bc", 5, GW_METHOD_GET, &len));
    assert_int_equal(len, 2);
    assert_false(gw_policy_match_len(&m, "/d", 2, GW_METHOD_GET, &len));
    assert_int_equal(len, 0);
    struct gw_match_conf any = {.methods = 1u << GW_METHOD_POST};
    assert_true(gw_policy_match_len(&any, "/x", 2, GW_METHOD_POST, &len));
    assert_int_equal(len, 0);
    assert_false(gw_policy_match_len(&any, "/x", 2, GW_METHOD_GET, &len));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_segment_boundaries),
        cmocka_unit_test(test_path_parameters_end_a_segment),
        cmocka_unit_test(test_methods_and_prefixes),
        cmocka_unit_test(test_match_len),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
