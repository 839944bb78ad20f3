/*
 * Unit tests for src/cache/key.c: the default key (host lower-cased, path, query, method with
 * HEAD sharing GET's), parts left out, sorted queries, ignored parameters, named headers, the
 * URL part, and a buffer too small.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cache/key.h"
#include "cache_test.h"

static char out[GW_CACHE_KEY_MAX];

static const char *build(const struct gw_cache_key_conf *conf, enum gw_http_method m,
                         const char *host, const char *path, const char *query,
                         const struct gw_http1_message *msg, long *len)
{
    struct gw_cache_key_req r = {
        .method = m,
        .host = host,
        .host_len = strlen(host),
        .path = path,
        .path_len = strlen(path),
        .query = query,
        .query_len = query ? strlen(query) : 0,
        .msg = msg,
    };
    *len = gw_cache_key_build(conf, &r, out, sizeof out);
    return out;
}

static const struct gw_cache_key_conf dflt = {.method = true, .host = true, .query = true};

static void test_default(void **state)
{
    (void)state;
    long n;
    build(&dflt, GW_METHOD_GET, "Example.COM:8000", "/a/b", "x=1&y=2", NULL, &n);
    assert_int_equal(n, (long)strlen("example.com:8000/a/b?x=1&y=2") + 4);
    assert_memory_equal(out, "example.com:8000/a/b?x=1&y=2\0GET", (size_t)n);
    assert_int_equal(gw_cache_key_url_len(out, (size_t)n), strlen("example.com:8000/a/b?x=1&y=2"));

    char get[64];
    memcpy(get, out, (size_t)n);
    long nh;
    build(&dflt, GW_METHOD_HEAD, "example.com:8000", "/a/b", "x=1&y=2", NULL, &nh);
    assert_int_equal(n, nh);
    assert_memory_equal(get, out, (size_t)n);

    build(&dflt, GW_METHOD_GET, "h", "/p", "", NULL, &n);
    assert_memory_equal(out, "h/p\0GET", (size_t)n);
}

static void test_parts(void **state)
{
    (void)state;
    long n;
    struct gw_cache_key_conf c = {.method = false, .host = false, .query = false};
    build(&c, GW_METHOD_GET, "h", "/p", "a=1", NULL, &n);
    assert_int_equal(n, 2);
    assert_memory_equal(out, "/p", 2);
}

static void test_query(void **state)
{
    (void)state;
    long n;
    static const char *const ignore[] = {"utm_source", "fbclid"};
    struct gw_cache_key_conf c = {.host = true, .query = true, .sort_query = true};
    build(&c, GW_METHOD_GET, "h", "/p", "b=2&a=1&a=0&c", NULL, &n);
    assert_memory_equal(out, "h/p?a=0&a=1&b=2&c", (size_t)n);
    c.ignore_params = ignore;
    c.n_ignore = 2;
    build(&c, GW_METHOD_GET, "h", "/p", "utm_source=x&b=2&fbclid&utm_sourcex=1", NULL, &n);
    assert_memory_equal(out, "h/p?b=2&utm_sourcex=1", (size_t)n);
    build(&c, GW_METHOD_GET, "h", "/p", "utm_source=x", NULL, &n);
    assert_int_equal(n, 3);
    /* ignoring without sorting keeps the order */
    c.sort_query = false;
    build(&c, GW_METHOD_GET, "h", "/p", "z=1&utm_source=2&a=3", NULL, &n);
    assert_memory_equal(out, "h/p?z=1&a=3", (size_t)n);
}

static void test_headers(void **state)
{
    (void)state;
    static const char *const names[] = {"x-tenant", "accept-language"};
    struct gw_cache_key_conf c = {.host = true, .headers = names, .n_headers = 2};
    struct test_msg t;
    const char *pairs[] = {"X-Tenant", "acme", "x-tenant", "b", NULL};
    msg_make(&t, 0, pairs);
    long n;
    build(&c, GW_METHOD_GET, "h", "/", NULL, &t.m, &n);
    assert_memory_equal(out, "h/\0x-tenant:acme,b\0accept-language:", (size_t)n);
}

/* Two services (two API versions) on one prefix answer one URL differently: the key names the
 * service and the version after every other part, so they never share an entry, and purging the
 * URL still finds both (the URL part is the same). */
static void test_service_and_version(void **state)
{
    (void)state;
    struct gw_cache_key_req r = {.method = GW_METHOD_GET,
                                 .host = "h",
                                 .host_len = 1,
                                 .path = "/users/7",
                                 .path_len = 8,
                                 .service = "users-v2",
                                 .service_len = 8,
                                 .version = "2",
                                 .version_len = 1};
    long n = gw_cache_key_build(&dflt, &r, out, sizeof out);
    assert_memory_equal(out, "h/users/7\0GET\0@users-v2\0v=2", (size_t)n);
    assert_int_equal(n, (long)sizeof "h/users/7\0GET\0@users-v2\0v=2" - 1);
    assert_int_equal(gw_cache_key_url_len(out, (size_t)n), 9);
    char v2[64];
    memcpy(v2, out, (size_t)n);
    r.service = "users-v1";
    r.version = "1";
    long n1 = gw_cache_key_build(&dflt, &r, out, sizeof out);
    assert_int_equal(n1, n);
    assert_memory_not_equal(out, v2, (size_t)n);
    assert_memory_equal(out, v2, 9); /* the same URL part */
    r.version = NULL;                /* an unversioned service: its name only */
    n = gw_cache_key_build(&dflt, &r, out, sizeof out);
    assert_memory_equal(out, "h/users/7\0GET\0@users-v1", (size_t)n);
}

static void test_too_long(void **state)
{
    (void)state;
    char small[8];
    struct gw_cache_key_req r = {.host = "example", .host_len = 7, .path = "/abc", .path_len = 4};
    assert_int_equal(gw_cache_key_build(&dflt, &r, small, sizeof small), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default),  cmocka_unit_test(test_parts),
        cmocka_unit_test(test_query),    cmocka_unit_test(test_headers),
        cmocka_unit_test(test_too_long), cmocka_unit_test(test_service_and_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
