/* Unit tests for src/route/router.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "route/router.h"

#define M(x) GW_ROUTE_METHOD(GW_METHOD_##x)

/* Distinct data pointers: &svc[i]. */
static int svc[64];
#define D(i) ((void *)&svc[i])

static struct gw_router *build(const struct gw_route_spec *specs, size_t n)
{
    struct gw_router *r = NULL;
    assert_int_equal(gw_router_build(specs, n, &r), 0);
    assert_non_null(r);
    assert_int_equal(gw_router_count(r), n);
    return r;
}

static enum gw_route_result match(const struct gw_router *r, const char *host, const char *path,
                                  enum gw_http_method method, struct gw_route_match *m)
{
    return gw_router_match(r, host, host ? strlen(host) : 0, path, strlen(path), method, m);
}

/* Expects FOUND with data and prefix_len. */
static void expect(const struct gw_router *r, const char *host, const char *path,
                   enum gw_http_method method, void *data, size_t prefix_len)
{
    struct gw_route_match m;
    enum gw_route_result res = match(r, host, path, method, &m);
    if (res != GW_ROUTE_FOUND)
        fail_msg("%s %s: expected FOUND, got %d", host ? host : "(null)", path, (int)res);
    if (m.data != data)
        fail_msg("%s %s: matched svc[%d], expected svc[%d]", host ? host : "(null)", path,
                 (int)((int *)m.data - svc), (int)((int *)data - svc));
    assert_int_equal(m.prefix_len, prefix_len);
    assert_int_equal(m.allowed, 0);
}

static void expect_404(const struct gw_router *r, const char *host, const char *path)
{
    struct gw_route_match m;
    enum gw_route_result res = match(r, host, path, GW_METHOD_GET, &m);
    if (res != GW_ROUTE_NOT_FOUND)
        fail_msg("%s %s: expected NOT_FOUND, got %d", host ? host : "(null)", path, (int)res);
    assert_null(m.data);
}

static void expect_405(const struct gw_router *r, const char *host, const char *path,
                       enum gw_http_method method, uint32_t allowed, size_t prefix_len)
{
    struct gw_route_match m;
    enum gw_route_result res = match(r, host, path, method, &m);
    if (res != GW_ROUTE_METHOD_NOT_ALLOWED)
        fail_msg("%s %s: expected 405, got %d", host ? host : "(null)", path, (int)res);
    assert_null(m.data);
    assert_int_equal(m.allowed, allowed);
    assert_int_equal(m.prefix_len, prefix_len);
}

static void test_longest_prefix(void **state)
{
    (void)state;
    const struct gw_route_spec specs[] = {
        {.prefix = "/api", .data = D(1)},
        {.prefix = "/api/users", .data = D(2)},
        {.prefix = "/api/users/admin", .data = D(3)},
        {.prefix = "/static", .data = D(4)},
        {.prefix = "/a/b/c/d/e", .data = D(5)},
    };
    struct gw_router *r = build(specs, sizeof(specs) / sizeof(specs[0]));

    expect(r, NULL, "/api", GW_METHOD_GET, D(1), 4);
    expect(r, NULL, "/api/", GW_METHOD_GET, D(1), 4);
    expect(r, NULL, "/api/orders", GW_METHOD_GET, D(1), 4);
    expect(r, NULL, "/api/users", GW_METHOD_GET, D(2), 10);
    expect(r, NULL, "/api/users/", GW_METHOD_GET, D(2), 10);
    expect(r, NULL, "/api/users/7", GW_METHOD_GET, D(2), 10);
    expect(r, NULL, "/api/users/7/orders/9", GW_METHOD_GET, D(2), 10);
    expect(r, NULL, "/api/users/admin", GW_METHOD_GET, D(3), 16);
    expect(r, NULL, "/api/users/admin/x/y", GW_METHOD_GET, D(3), 16);
    expect(r, NULL, "/api/users/administrator", GW_METHOD_GET, D(2), 10);
    expect(r, NULL, "/a/b/c/d/e/f/g/h", GW_METHOD_GET, D(5), 10);
    expect(r, NULL, "/static/css/site.css", GW_METHOD_GET, D(4), 7);
    expect_404(r, NULL, "/");
    expect_404(r, NULL, "/a/b/c/d");
    expect_404(r, NULL, "/other");
    expect_404(r, NULL, "/ap");
    gw_router_free(r);
}

/* Prefixes longer than the head an entry keeps inline, alike in their first 24 bytes. */
static void test_long_prefixes(void **state)
{
    (void)state;
    const struct gw_route_spec specs[] = {
        {.prefix = "/tenants/acme/projects/alpha", .data = D(1)},
        {.prefix = "/tenants/acme/projects/alphb", .data = D(2)},
        {.prefix = "/tenants/acme/projects/alpha/builds/nightly", .data = D(3)},
        {.prefix = "/tenants/acme/projects", .data = D(4)},
    };
    struct gw_router *r = build(specs, sizeof(specs) / sizeof(specs[0]));
    expect(r, NULL, "/tenants/acme/projects/alpha/x", GW_METHOD_GET, D(1), 28);
    expect(r, NULL, "/tenants/acme/projects/alphb", GW_METHOD_GET, D(2), 28);
    expect(r, NULL, "/tenants/acme/projects/alpha/builds/nightly/42", GW_METHOD_GET, D(3), 43);
    expect(r, NULL, "/tenants/acme/projects/alpha/builds/weekly", GW_METHOD_GET, D(1), 28);
    expect(r, NULL, "/tenants/acme/projects/alphc", GW_METHOD_GET, D(4), 22);
    expect_404(r, NULL, "/tenants/acme/project");
    gw_router_free(r);
}

static void test_segment_boundaries(void **state)
{
    (void)state;
    const struct gw_route_spec specs[] = {
        {.prefix = "/api/users", .data = D(1)},
        {.prefix = "/api", .data = D(2)},
    };
    struct gw_router *r = build(specs, 2);
    expect(r, NULL, "/api/usersX", GW_METHOD_GET, D(2), 4);
    expect(r, NULL, "/api/users.json", GW_METHOD_GET, D(2), 4);
    expect(r, NULL, "/api/users;x", GW_METHOD_GET, D(2), 4);
    expect_404(r, NULL, "/apis");
    expect_404(r, NULL, "/apiusers");
    expect_404(r, NULL, "/API");
    expect_404(r, NULL, "");
    expect_404(r, NULL, "api");
    gw_router_free(r);
}

static void test_catch_all(void **state)
{
    (void)state;
    const struct gw_route_spec specs[] = {
        {.prefix = "/", .data = D(1)},
        {.prefix = "/api", .data = D(2)},
    };
    struct gw_router *r = build(specs, 2);
    expect(r, NULL, "/", GW_METHOD_GET, D(1), 0);
    expect(r, NULL, "/x", GW_METHOD_GET, D(1), 0);
    expect(r, NULL, "/x/y/z/", GW_METHOD_GET, D(1), 0);
    expect(r, NULL, "/apis", GW_METHOD_GET, D(1), 0);
    expect(r, NULL, "/api", GW_METHOD_POST, D(2), 4);
    expect(r, "any.host", "/api/v1", GW_METHOD_GET, D(2), 4);
    gw_router_free(r);

    /* "/" alone */
    const struct gw_route_spec root[] = {{.prefix = "/", .data = D(3)}};
    r = build(root, 1);
    expect(r, NULL, "/", GW_METHOD_GET, D(3), 0);
    expect(r, "h", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p", GW_METHOD_GET, D(3), 0);
    expect_404(r, NULL, "x");
    gw_router_free(r);
}

static void test_host_precedence(void **state)
{
    (void)state;
    const struct gw_route_spec specs[] = {
        {.prefix = "/x", .host = "api.example.com", .data = D(1)},
        {.prefix = "/x", .host = "*.example.com", .data = D(2)},
        {.prefix = "/x", .data = D(3)},
        {.prefix = "/x", .host = "*.b.example.com", .data = D(4)},
        {.prefix = "/x", .host = "[::1]", .data = D(5)},
        {.prefix = "/x", .host = "Upper.Example.ORG.", .data = D(6)},
    };
    struct gw_router *r = build(specs, sizeof(specs) / sizeof(specs[0]));

    expect(r, "api.example.com", "/x", GW_METHOD_GET, D(1), 2);
    expect(r, "API.Example.COM", "/x/1", GW_METHOD_GET, D(1), 2);
    expect(r, "api.example.com:8443", "/x", GW_METHOD_GET, D(1), 2);
    expect(r, "api.example.com.", "/x", GW_METHOD_GET, D(1), 2);
    expect(r, "api.example.com.:80", "/x", GW_METHOD_GET, D(1), 2);
    expect(r, "web.example.com", "/x", GW_METHOD_GET, D(2), 2);
    expect(r, "a.web.example.com", "/x", GW_METHOD_GET, D(2), 2);
    expect(r, "b.example.com", "/x", GW_METHOD_GET, D(2), 2);
    expect(r, "a.b.example.com", "/x", GW_METHOD_GET, D(4), 2);
    expect(r, "z.a.b.example.com:1", "/x", GW_METHOD_GET, D(4), 2);
    expect(r, "example.com", "/x", GW_METHOD_GET, D(3), 2);
    expect(r, "xexample.com", "/x", GW_METHOD_GET, D(3), 2);
    expect(r, ".example.com", "/x", GW_METHOD_GET, D(3), 2);
    expect(r, "api.example.co", "/x", GW_METHOD_GET, D(3), 2);
    expect(r, "api.example.com.evil", "/x", GW_METHOD_GET, D(3), 2);
    expect(r, NULL, "/x", GW_METHOD_GET, D(3), 2);
    expect(r, "", "/x", GW_METHOD_GET, D(3), 2);
    expect(r, ":8080", "/x", GW_METHOD_GET, D(3), 2);
    expect(r, "[::1]:8080", "/x", GW_METHOD_GET, D(5), 2);
    expect(r, "[::1]", "/x", GW_METHOD_GET, D(5), 2);
    expect(r, "[::2]", "/x", GW_METHOD_GET, D(3), 2);
    expect(r, "upper.example.org", "/x", GW_METHOD_GET, D(6), 2);
    gw_router_free(r);
}

/* Host first: the most specific host group with any matching prefix is chosen, then the
 * longest prefix inside it; a group with no prefix for the path is skipped. */
static void test_host_then_path(void **state)
{
    (void)state;
    const struct gw_route_spec specs[] = {
        {.prefix = "/", .host = "api.example.com", .data = D(1)},
        {.prefix = "/only", .host = "web.example.com", .data = D(2)},
        {.prefix = "/api/long/prefix", .data = D(3)},
        {.prefix = "/", .data = D(4)},
        {.prefix = "/w", .host = "*.example.com", .data = D(5)},
    };
    struct gw_router *r = build(specs, sizeof(specs) / sizeof(specs[0]));

    /* exact host's "/" beats the any-host's longer prefix */
    expect(r, "api.example.com", "/api/long/prefix/x", GW_METHOD_GET, D(1), 0);
    /* web.example.com has only /only; other paths fall to the wildcard, then any host */
    expect(r, "web.example.com", "/only/x", GW_METHOD_GET, D(2), 5);
    expect(r, "web.example.com", "/w/x", GW_METHOD_GET, D(5), 2);
    expect(r, "web.example.com", "/api/long/prefix", GW_METHOD_GET, D(3), 16);
    expect(r, "web.example.com", "/onlyx", GW_METHOD_GET, D(4), 0);
    expect(r, "other.example.com", "/w", GW_METHOD_GET, D(5), 2);
    expect(r, "other.example.com", "/only", GW_METHOD_GET, D(4), 0);
    expect(r, "other.org", "/api/long/prefix/1", GW_METHOD_GET, D(3), 16);
    gw_router_free(r);

    /* without any-host routes, an unknown host is NOT_FOUND */
    const struct gw_route_spec hosted[] = {
        {.prefix = "/", .host = "a.test", .data = D(1)},
        {.prefix = "/", .host = "*.b.test", .data = D(2)},
    };
    r = build(hosted, 2);
    expect(r, "a.test", "/x", GW_METHOD_GET, D(1), 0);
    expect(r, "x.b.test", "/x", GW_METHOD_GET, D(2), 0);
    expect_404(r, "b.test", "/x");
    expect_404(r, "c.test", "/x");
    expect_404(r, NULL, "/x");
    gw_router_free(r);
}

static void test_methods(void **state)
{
    (void)state;
    const struct gw_route_spec specs[] = {
        {.prefix = "/m", .methods = M(GET) | M(HEAD), .data = D(1)},
        {.prefix = "/m", .methods = M(POST), .data = D(2)},
        {.prefix = "/", .data = D(3)},
        {.prefix = "/m/any", .data = D(4)},
        {.prefix = "/m", .host = "h.test", .methods = M(DELETE), .data = D(5)},
        {.prefix = "/other", .methods = M(OTHER), .data = D(6)},
    };
    struct gw_router *r = build(specs, sizeof(specs) / sizeof(specs[0]));
    uint32_t allowed = M(GET) | M(HEAD) | M(POST);

    expect(r, NULL, "/m", GW_METHOD_GET, D(1), 2);
    expect(r, NULL, "/m/x", GW_METHOD_HEAD, D(1), 2);
    expect(r, NULL, "/m/x", GW_METHOD_POST, D(2), 2);
    /* no fall back to "/" for a method mismatch */
    expect_405(r, NULL, "/m", GW_METHOD_PUT, allowed, 2);
    expect_405(r, NULL, "/m/x/y", GW_METHOD_DELETE, allowed, 2);
    expect_405(r, NULL, "/m", GW_METHOD_OTHER, allowed, 2);
    /* a longer any-method prefix */
    expect(r, NULL, "/m/any/1", GW_METHOD_PATCH, D(4), 6);
    /* the host group's /m allows only DELETE: 405 there, no fall back to any-host's /m */
    expect(r, "h.test", "/m", GW_METHOD_DELETE, D(5), 2);
    expect_405(r, "h.test", "/m", GW_METHOD_GET, M(DELETE), 2);
    /* h.test has no route for /x: the any-host group answers */
    expect(r, "h.test", "/x", GW_METHOD_PUT, D(3), 0);
    /* method OTHER as a bit of its own */
    expect(r, NULL, "/other", GW_METHOD_OTHER, D(6), 6);
    expect_405(r, NULL, "/other", GW_METHOD_GET, M(OTHER), 6);
    gw_router_free(r);
}

static void test_duplicates(void **state)
{
    (void)state;
    struct gw_router *r = (struct gw_router *)&svc[0];
    const struct gw_route_spec any_twice[] = {
        {.prefix = "/a", .data = D(1)},
        {.prefix = "/a", .data = D(2)},
    };
    assert_int_equal(gw_router_build(any_twice, 2, &r), GW_EINVAL);
    assert_null(r);

    const struct gw_route_spec any_and_get[] = {
        {.prefix = "/a", .methods = M(GET), .data = D(1)},
        {.prefix = "/a", .data = D(2)},
    };
    assert_int_equal(gw_router_build(any_and_get, 2, &r), GW_EINVAL);

    const struct gw_route_spec overlap[] = {
        {.prefix = "/a", .methods = M(GET) | M(POST), .data = D(1)},
        {.prefix = "/a", .methods = M(PUT), .data = D(2)},
        {.prefix = "/a", .methods = M(POST) | M(DELETE), .data = D(3)},
    };
    assert_int_equal(gw_router_build(overlap, 3, &r), GW_EINVAL);

    const struct gw_route_spec same_host[] = {
        {.prefix = "/a", .host = "API.example.com", .data = D(1)},
        {.prefix = "/a", .host = "api.example.com.", .data = D(2)},
    };
    assert_int_equal(gw_router_build(same_host, 2, &r), GW_EINVAL);

    const struct gw_route_spec same_wild[] = {
        {.prefix = "/a", .host = "*.example.com", .methods = M(GET), .data = D(1)},
        {.prefix = "/a", .host = "*.EXAMPLE.com", .methods = M(GET), .data = D(2)},
    };
    assert_int_equal(gw_router_build(same_wild, 2, &r), GW_EINVAL);

    /* the same prefix with disjoint methods, or under different hosts, is fine */
    const struct gw_route_spec ok[] = {
        {.prefix = "/a", .methods = M(GET), .data = D(1)},
        {.prefix = "/a", .methods = M(POST), .data = D(2)},
        {.prefix = "/a", .host = "example.com", .data = D(3)},
        {.prefix = "/a", .host = "*.example.com", .data = D(4)},
        {.prefix = "/a/b", .data = D(5)},
    };
    r = build(ok, 5);
    expect(r, NULL, "/a", GW_METHOD_POST, D(2), 2);
    expect(r, "example.com", "/a", GW_METHOD_POST, D(3), 2);
    expect(r, "x.example.com", "/a", GW_METHOD_POST, D(4), 2);
    gw_router_free(r);
}

static void test_invalid_specs(void **state)
{
    (void)state;
    static const char *const bad_prefixes[] = {
        "",    "api",  "/api/",  "//",   "/a//b", "/a/./b", "/a/../b",
        "/..", "/%61", "/a%2fb", "/a b", "/a\\b", "/a%2",   "/api/users/",
    };
    for (size_t i = 0; i < sizeof(bad_prefixes) / sizeof(bad_prefixes[0]); i++) {
        struct gw_router *r = NULL;
        const struct gw_route_spec s = {.prefix = bad_prefixes[i], .data = D(1)};
        if (gw_router_build(&s, 1, &r) != GW_EINVAL)
            fail_msg("prefix \"%s\" accepted", bad_prefixes[i]);
        assert_null(r);
    }
    static const char *const bad_hosts[] = {
        "",
        "*",
        "*.",
        ".",
        "..",
        "*.*.example.com",
        "a.*.com",
        "a..b",
        "ex ample.com",
        "a.com:80",
        "*example.com",
        ".example.com",
        "example.com..",
        "[::1",
        "*.[::1]",
        "a/b",
        "a\\b",
    };
    for (size_t i = 0; i < sizeof(bad_hosts) / sizeof(bad_hosts[0]); i++) {
        struct gw_router *r = NULL;
        const struct gw_route_spec s = {.prefix = "/", .host = bad_hosts[i], .data = D(1)};
        if (gw_router_build(&s, 1, &r) != GW_EINVAL)
            fail_msg("host \"%s\" accepted", bad_hosts[i]);
        assert_null(r);
    }
    struct gw_router *r = NULL;
    const struct gw_route_spec null_prefix = {.prefix = NULL};
    assert_int_equal(gw_router_build(&null_prefix, 1, &r), GW_EINVAL);
    assert_int_equal(gw_router_build(NULL, 1, &r), GW_EINVAL);
}

static void test_depth_limit(void **state)
{
    (void)state;
    char deep[GW_ROUTE_MAX_DEPTH * 2 + 8];
    char path[sizeof(deep) + 16];
    size_t n = 0;
    for (int i = 0; i < GW_ROUTE_MAX_DEPTH; i++)
        n += (size_t)snprintf(deep + n, sizeof(deep) - n, "/%c", 'a' + i % 26);
    const struct gw_route_spec s[] = {
        {.prefix = deep, .data = D(1)},
        {.prefix = "/a", .data = D(2)},
    };
    struct gw_router *r = build(s, 2);
    expect(r, NULL, deep, GW_METHOD_GET, D(1), n);
    snprintf(path, sizeof(path), "%s/x/y", deep);
    expect(r, NULL, path, GW_METHOD_GET, D(1), n);
    /* a path deeper than any prefix still finds the short one */
    snprintf(path, sizeof(path), "/a%s", deep);
    expect(r, NULL, path, GW_METHOD_GET, D(2), 2);
    gw_router_free(r);

    snprintf(deep + n, sizeof(deep) - n, "/z");
    assert_int_equal(gw_router_build(s, 1, &r), GW_EINVAL);
}

static void test_empty(void **state)
{
    (void)state;
    struct gw_router *r = build(NULL, 0);
    expect_404(r, NULL, "/");
    expect_404(r, "a.b", "/x");
    gw_router_free(r);
    gw_router_free(NULL);
}

/* Copies are made: the specs' strings may be freed right after the build. */
static void test_copies(void **state)
{
    (void)state;
    char *prefix = strdup("/copied");
    char *host = strdup("*.copy.test");
    assert_non_null(prefix);
    assert_non_null(host);
    const struct gw_route_spec s = {.prefix = prefix, .host = host, .data = D(1)};
    struct gw_router *r = build(&s, 1);
    free(prefix);
    free(host);
    expect(r, "x.copy.test", "/copied/1", GW_METHOD_GET, D(1), 7);
    gw_router_free(r);
}

/* 10,000 services, some with exact and wildcard hosts: every one is found. */
static void test_many(void **state)
{
    (void)state;
    enum {
        N = 10000,
        HOSTED = N / 10,
        WILD = N / 100
    };
    size_t total = N + HOSTED + WILD;
    struct gw_route_spec *specs = calloc(total, sizeof(*specs));
    char(*prefixes)[24] = calloc(N, sizeof(*prefixes));
    char(*hosts)[40] = calloc(HOSTED + WILD, sizeof(*hosts));
    int *data = calloc(total, sizeof(*data));
    assert_non_null(specs);
    assert_non_null(prefixes);
    assert_non_null(hosts);
    assert_non_null(data);

    size_t k = 0;
    for (int i = 0; i < N; i++) {
        snprintf(prefixes[i], sizeof(prefixes[i]), "/svc/%d", i);
        specs[k] = (struct gw_route_spec){.prefix = prefixes[i], .data = &data[k]};
        k++;
    }
    for (int i = 0; i < HOSTED; i++) {
        snprintf(hosts[i], sizeof(hosts[i]), "h%d.example.com", i * 10);
        specs[k] =
            (struct gw_route_spec){.prefix = prefixes[i * 10], .host = hosts[i], .data = &data[k]};
        k++;
    }
    for (int i = 0; i < WILD; i++) {
        snprintf(hosts[HOSTED + i], sizeof(hosts[0]), "*.w%d.test", i * 100);
        specs[k] = (struct gw_route_spec){
            .prefix = prefixes[i * 100 + 1], .host = hosts[HOSTED + i], .data = &data[k]};
        k++;
    }
    assert_int_equal(k, total);
    struct gw_router *r = NULL;
    assert_int_equal(gw_router_build(specs, total, &r), 0);
    assert_int_equal(gw_router_count(r), total);

    char path[64], host[64];
    struct gw_route_match m;
    for (int i = 0; i < N; i++) {
        size_t plen = strlen(prefixes[i]);
        /* any host */
        assert_int_equal(match(r, NULL, prefixes[i], GW_METHOD_GET, &m), GW_ROUTE_FOUND);
        assert_ptr_equal(m.data, &data[i]);
        assert_int_equal(m.prefix_len, plen);
        snprintf(path, sizeof(path), "%s/items/%d", prefixes[i], i);
        assert_int_equal(match(r, "unknown.test", path, GW_METHOD_POST, &m), GW_ROUTE_FOUND);
        assert_ptr_equal(m.data, &data[i]);
        assert_int_equal(m.prefix_len, plen);
        /* not a segment boundary: no route */
        snprintf(path, sizeof(path), "%sx", prefixes[i]);
        assert_int_equal(match(r, NULL, path, GW_METHOD_GET, &m), GW_ROUTE_NOT_FOUND);
    }
    for (int i = 0; i < HOSTED; i++) {
        snprintf(host, sizeof(host), "H%d.Example.com:443", i * 10);
        assert_int_equal(match(r, host, prefixes[i * 10], GW_METHOD_GET, &m), GW_ROUTE_FOUND);
        assert_ptr_equal(m.data, &data[N + i]);
        /* that host's group has no other prefix: other services come from any host */
        assert_int_equal(match(r, host, prefixes[i * 10 + 1], GW_METHOD_GET, &m), GW_ROUTE_FOUND);
        assert_ptr_equal(m.data, &data[i * 10 + 1]);
    }
    for (int i = 0; i < WILD; i++) {
        snprintf(host, sizeof(host), "a.b.w%d.test", i * 100);
        assert_int_equal(match(r, host, prefixes[i * 100 + 1], GW_METHOD_GET, &m), GW_ROUTE_FOUND);
        assert_ptr_equal(m.data, &data[N + HOSTED + i]);
        snprintf(host, sizeof(host), "w%d.test", i * 100);
        assert_int_equal(match(r, host, prefixes[i * 100 + 1], GW_METHOD_GET, &m), GW_ROUTE_FOUND);
        assert_ptr_equal(m.data, &data[i * 100 + 1]);
    }
    static const char *const missing[] = {
        "/svc/10000", "/svc/-1", "/svc/00", "/svc/abc",     "/svc",
        "/svc/",      "/svcx/1", "/",       "/svc/99999/1", "/other/svc/1",
    };
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++)
        expect_404(r, "h0.example.com", missing[i]);
    for (int i = N; i < 2 * N; i++) {
        snprintf(path, sizeof(path), "/svc/%d", i);
        assert_int_equal(match(r, NULL, path, GW_METHOD_GET, &m), GW_ROUTE_NOT_FOUND);
    }

    gw_router_free(r);
    free(specs);
    free(prefixes);
    free(hosts);
    free(data);
}

/* ---- randomized comparison with a direct reading of the rules --------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static const char *const seg_words[] = {"a", "b", "ab", "a.b"};
static const char *const spec_hosts[] = {NULL,       "x.test", "*.test",
                                         "*.y.test", "y.test", "a.y.test"};
static const char *const req_hosts[] = {
    NULL,       "",           "x.test", "X.TEST:80", "y.test", "a.y.test",
    "b.y.test", "c.a.y.test", "test",   "z.test.",   "other",
};

/* How well a spec host fits the request host (lowercase, no port): -1 no, 0 any, then
 * wildcards by suffix length, exact above all. */
static int host_rank(const char *spec, const char *req)
{
    if (spec == NULL)
        return 0;
    if (req == NULL)
        return -1;
    if (spec[0] == '*') {
        size_t sl = strlen(spec + 1), rl = strlen(req);
        return rl > sl && strcmp(req + rl - sl, spec + 1) == 0 ? (int)sl : -1;
    }
    return strcmp(spec, req) == 0 ? 1000 : -1;
}

static bool prefix_fits(const char *prefix, const char *path)
{
    size_t n = strlen(prefix);
    if (n == 1)
        return true;
    return strncmp(prefix, path, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static enum gw_route_result ref_match(const struct gw_route_spec *specs, size_t n,
                                      const char *req_host, const char *path,
                                      enum gw_http_method method, struct gw_route_match *m)
{
    char h[64] = "";
    const char *req = NULL;
    if (req_host != NULL && req_host[0] != '\0') {
        size_t k = 0;
        while (req_host[k] != '\0' && req_host[k] != ':' && k < sizeof(h) - 1) {
            h[k] = (char)((req_host[k] >= 'A' && req_host[k] <= 'Z') ? req_host[k] | 0x20
                                                                     : req_host[k]);
            k++;
        }
        h[k] = '\0';
        if (k > 1 && h[k - 1] == '.')
            h[k - 1] = '\0';
        req = h[0] != '\0' ? h : NULL;
    }
    int best_rank = -1;
    size_t best_len = 0;
    for (size_t i = 0; i < n; i++) {
        int rank = host_rank(specs[i].host, req);
        if (rank < 0 || !prefix_fits(specs[i].prefix, path))
            continue;
        size_t len = strlen(specs[i].prefix);
        if (rank > best_rank || (rank == best_rank && len > best_len)) {
            best_rank = rank;
            best_len = len;
        }
    }
    memset(m, 0, sizeof(*m));
    if (best_rank < 0)
        return GW_ROUTE_NOT_FOUND;
    m->prefix_len = best_len == 1 ? 0 : best_len;
    for (size_t i = 0; i < n; i++) {
        if (host_rank(specs[i].host, req) != best_rank || !prefix_fits(specs[i].prefix, path) ||
            strlen(specs[i].prefix) != best_len)
            continue;
        if (specs[i].methods == 0 || (specs[i].methods & GW_ROUTE_METHOD(method)) != 0) {
            m->data = specs[i].data;
            m->allowed = 0;
            return GW_ROUTE_FOUND;
        }
        m->allowed |= specs[i].methods;
    }
    return GW_ROUTE_METHOD_NOT_ALLOWED;
}

static void random_path(char *buf, size_t cap, int max_segs)
{
    int segs = (int)rnd((uint32_t)max_segs + 1);
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < segs; i++)
        n += (size_t)snprintf(buf + n, cap - n, "/%s", seg_words[rnd(4)]);
    if (n == 0 || rnd(4) == 0)
        snprintf(buf + n, cap - n, "/");
}

static void test_against_reference(void **state)
{
    (void)state;
    enum {
        SPECS = 40,
        ROUNDS = 200,
        LOOKUPS = 300
    };
    static const uint32_t method_sets[] = {0, M(GET), M(POST), M(GET) | M(HEAD), M(PUT)};
    char prefixes[SPECS][32];
    struct gw_route_spec specs[SPECS];

    for (int round = 0; round < ROUNDS; round++) {
        size_t n = 0;
        for (int i = 0; i < SPECS; i++) {
            random_path(prefixes[n], sizeof(prefixes[n]), 3);
            size_t len = strlen(prefixes[n]);
            if (len > 1 && prefixes[n][len - 1] == '/')
                prefixes[n][len - 1] = '\0';
            struct gw_route_spec s = {
                .prefix = prefixes[n],
                .host = spec_hosts[rnd(6)],
                .methods = method_sets[rnd(5)],
                .data = D(i),
            };
            bool clash = false;
            for (size_t j = 0; j < n; j++) {
                bool same_host =
                    (s.host == NULL && specs[j].host == NULL) ||
                    (s.host != NULL && specs[j].host != NULL && strcmp(s.host, specs[j].host) == 0);
                if (same_host && strcmp(s.prefix, specs[j].prefix) == 0 &&
                    (s.methods == 0 || specs[j].methods == 0 ||
                     (s.methods & specs[j].methods) != 0))
                    clash = true;
            }
            if (!clash)
                specs[n++] = s;
        }
        struct gw_router *r = build(specs, n);
        for (int q = 0; q < LOOKUPS; q++) {
            char path[64];
            random_path(path, sizeof(path), 5);
            const char *host = req_hosts[rnd(11)];
            enum gw_http_method method = (enum gw_http_method)rnd(GW_METHOD_PATCH + 1);
            struct gw_route_match got, want;
            enum gw_route_result rg = match(r, host, path, method, &got);
            enum gw_route_result rw = ref_match(specs, n, host, path, method, &want);
            if (rg != rw || got.data != want.data || got.prefix_len != want.prefix_len ||
                got.allowed != want.allowed)
                fail_msg("round %d: %s %s method %d: got %d/%zu/%#x, want %d/%zu/%#x", round,
                         host ? host : "(null)", path, (int)method, (int)rg, got.prefix_len,
                         got.allowed, (int)rw, want.prefix_len, want.allowed);
        }
        gw_router_free(r);
    }
}

/* API versions: a versioned prefix answers VERSION, then the version picks the route. */
static void test_versions(void **state)
{
    (void)state;
    char v1[] = "1", v2[] = "2";
    struct gw_route_spec specs[] = {
        {.prefix = "/api", .data = D(1), .version = v1, .methods = M(GET)},
        {.prefix = "/api", .data = D(2), .version = v2},
        {.prefix = "/api", .data = D(3), .version = v1, .methods = M(POST)},
        {.prefix = "/api/x", .data = D(4)},
        {.prefix = "/v2/api", .data = D(2)},
    };
    struct gw_router *r = build(specs, 5);
    v1[0] = '9'; /* the router keeps its own copies */
    struct gw_route_match m;
    assert_int_equal(match(r, NULL, "/api/users", GW_METHOD_GET, &m), GW_ROUTE_VERSION);
    assert_int_equal(m.prefix_len, 4);
    assert_int_equal(gw_router_match_version(r, "1", 1, GW_METHOD_GET, &m), GW_ROUTE_FOUND);
    assert_ptr_equal(m.data, D(1));
    assert_int_equal(gw_router_match_version(r, "1", 1, GW_METHOD_POST, &m), GW_ROUTE_FOUND);
    assert_ptr_equal(m.data, D(3));
    assert_int_equal(gw_router_match_version(r, "1", 1, GW_METHOD_DELETE, &m),
                     GW_ROUTE_METHOD_NOT_ALLOWED);
    assert_int_equal(m.allowed, M(GET) | M(POST));
    assert_int_equal(gw_router_match_version(r, "2", 1, GW_METHOD_DELETE, &m), GW_ROUTE_FOUND);
    assert_ptr_equal(m.data, D(2));
    assert_int_equal(gw_router_match_version(r, "3", 1, GW_METHOD_GET, &m),
                     GW_ROUTE_VERSION_UNKNOWN);
    assert_int_equal(gw_router_match_version(r, "12", 1, GW_METHOD_GET, &m), GW_ROUTE_FOUND);
    assert_int_equal(gw_router_match_version(r, "12", 2, GW_METHOD_GET, &m),
                     GW_ROUTE_VERSION_UNKNOWN);
    assert_string_equal(gw_router_version(r, &m, 0), "1");
    assert_string_equal(gw_router_version(r, &m, 1), "2");
    assert_null(gw_router_version(r, &m, 2));
    /* unversioned prefixes, longer or shorter, are plain matches */
    expect(r, NULL, "/api/x/1", GW_METHOD_GET, D(4), 6);
    expect(r, NULL, "/v2/api/users", GW_METHOD_DELETE, D(2), 7);
    expect_404(r, NULL, "/apix");
    gw_router_free(r);
}

/* Unversioned routes beside versioned ones on one prefix are its default: a request that names
 * no version (NULL) gets them; a named version never does. */
static void test_version_default(void **state)
{
    (void)state;
    struct gw_route_spec specs[] = {
        {.prefix = "/orders", .data = D(1), .version = "1"},
        {.prefix = "/orders", .data = D(9), .methods = M(GET)}, /* the default, GET only */
        {.prefix = "/orders", .data = D(2), .version = "2"},
        {.prefix = "/v2/orders", .data = D(2)},
        {.prefix = "/other", .data = D(5)},
    };
    struct gw_router *r = build(specs, 5);
    struct gw_route_match m, entry;
    /* the default takes no part in the plain match: the prefix is versioned */
    assert_int_equal(match(r, NULL, "/orders/7", GW_METHOD_GET, &m), GW_ROUTE_VERSION);
    assert_int_equal(m.prefix_len, 7);
    entry = m;
    assert_int_equal(gw_router_match_version(r, NULL, 0, GW_METHOD_GET, &m), GW_ROUTE_FOUND);
    assert_ptr_equal(m.data, D(9));
    m = entry;
    assert_int_equal(gw_router_match_version(r, NULL, 0, GW_METHOD_POST, &m),
                     GW_ROUTE_METHOD_NOT_ALLOWED);
    assert_int_equal(m.allowed, M(GET));
    m = entry;
    assert_int_equal(gw_router_match_version(r, "2", 1, GW_METHOD_POST, &m), GW_ROUTE_FOUND);
    assert_ptr_equal(m.data, D(2));
    m = entry;
    assert_int_equal(gw_router_match_version(r, "3", 1, GW_METHOD_GET, &m),
                     GW_ROUTE_VERSION_UNKNOWN);
    /* the versions offered leave the default out */
    assert_string_equal(gw_router_version(r, &entry, 0), "1");
    assert_string_equal(gw_router_version(r, &entry, 1), "2");
    assert_null(gw_router_version(r, &entry, 2));
    expect(r, NULL, "/v2/orders/1", GW_METHOD_PUT, D(2), 10);
    expect(r, NULL, "/other", GW_METHOD_PUT, D(5), 6);
    gw_router_free(r);
    /* without a default, NULL is an unknown version */
    struct gw_route_spec nodef[] = {{.prefix = "/orders", .data = D(1), .version = "1"}};
    r = build(nodef, 1);
    assert_int_equal(match(r, NULL, "/orders", GW_METHOD_GET, &m), GW_ROUTE_VERSION);
    assert_int_equal(gw_router_match_version(r, NULL, 0, GW_METHOD_GET, &m),
                     GW_ROUTE_VERSION_UNKNOWN);
    gw_router_free(r);
}

static void test_version_specs_refused(void **state)
{
    (void)state;
    struct gw_router *r = NULL;
    /* two defaults (unversioned routes of a versioned prefix) with overlapping methods */
    struct gw_route_spec two_defaults[] = {
        {.prefix = "/api", .data = D(1), .version = "1"},
        {.prefix = "/api", .data = D(2), .methods = M(POST)},
        {.prefix = "/api", .data = D(3)},
    };
    assert_int_equal(gw_router_build(two_defaults, 3, &r), GW_EINVAL);
    /* the same version twice with overlapping methods */
    struct gw_route_spec dup[] = {
        {.prefix = "/api", .data = D(1), .version = "1", .methods = M(GET)},
        {.prefix = "/api", .data = D(2), .version = "1", .methods = M(GET) | M(PUT)},
    };
    assert_int_equal(gw_router_build(dup, 2, &r), GW_EINVAL);
    struct gw_route_spec empty[] = {{.prefix = "/api", .data = D(1), .version = ""}};
    assert_int_equal(gw_router_build(empty, 1, &r), GW_EINVAL);
    /* versions on different hosts are different prefixes */
    struct gw_route_spec hosts[] = {
        {.prefix = "/api", .host = "a.example", .data = D(1), .version = "1"},
        {.prefix = "/api", .data = D(2)},
    };
    r = build(hosts, 2);
    struct gw_route_match m;
    assert_int_equal(match(r, "a.example", "/api", GW_METHOD_GET, &m), GW_ROUTE_VERSION);
    expect(r, "b.example", "/api", GW_METHOD_GET, D(2), 4);
    gw_router_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_longest_prefix),
        cmocka_unit_test(test_long_prefixes),
        cmocka_unit_test(test_segment_boundaries),
        cmocka_unit_test(test_catch_all),
        cmocka_unit_test(test_host_precedence),
        cmocka_unit_test(test_host_then_path),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_invalid_specs),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_copies),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_against_reference),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_version_default),
        cmocka_unit_test(test_version_specs_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
