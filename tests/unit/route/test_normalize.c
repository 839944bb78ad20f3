/* Unit tests for src/route/normalize.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "route/normalize.h"

struct norm_case {
    const char *in;
    const char *out; /* NULL: refused with GW_ETARGET */
};

static const struct norm_case cases[] = {
    /* plain paths are unchanged */
    {"/", "/"},
    {"/api", "/api"},
    {"/api/users/7", "/api/users/7"},
    {"/a-b_c~d.e", "/a-b_c~d.e"},
    {"/a;b=c/d,e", "/a;b=c/d,e"},
    {"/a:b@c!$&'()*+=", "/a:b@c!$&'()*+="},
    /* trailing slash kept */
    {"/a/", "/a/"},
    {"/api/users/", "/api/users/"},
    /* runs of '/' */
    {"//", "/"},
    {"///", "/"},
    {"//api///users", "/api/users"},
    {"/a//", "/a/"},
    {"/a//b//", "/a/b/"},
    /* single dot */
    {"/.", "/"},
    {"/./", "/"},
    {"/a/./b", "/a/b"},
    {"/a/./b/.", "/a/b/"},
    {"/./././a", "/a"},
    {"/a/.//./b", "/a/b"},
    /* double dot */
    {"/..", "/"},
    {"/../", "/"},
    {"/../..", "/"},
    {"/../../a", "/a"},
    {"/api/admin/../x", "/api/x"},
    {"/a/b/..", "/a/"},
    {"/a/b/../", "/a/"},
    {"/a/b/../..", "/"},
    {"/a/b/../../..", "/"},
    {"/a/b/../../../c", "/c"},
    {"/a/../b/../c", "/c"},
    {"/a//..//b", "/b"},
    {"/a/b/.././c", "/a/c"},
    /* every spelling of traversal */
    {"/api/%2e%2e/admin", "/admin"},
    {"/api/%2E%2E/admin", "/admin"},
    {"/api/%2E./admin", "/admin"},
    {"/api/.%2e/admin", "/admin"},
    {"/api/%2e/admin", "/api/admin"},
    {"/api/x/%2e%2e", "/api/"},
    {"/%2e%2e/%2e%2e/etc", "/etc"},
    {"/api/x/..%2f..", NULL},
    /* segments that look like dots but are not */
    {"/...", "/..."},
    {"/a/.../b", "/a/.../b"},
    {"/.a/..b/a..", "/.a/..b/a.."},
    {"/%2e%2e%2e", "/..."},
    /* unreserved escapes decoded */
    {"/api/%61dmin", "/api/admin"},
    {"/%41%5A%61%7A%30%39", "/AZaz09"},
    {"/%2D%2E%5F%7E", "/-._~"},
    {"/%2d%5f%7e", "/-_~"},
    /* other escapes kept, hex uppercased */
    {"/a%20b", "/a%20b"},
    {"/a%3fb", "/a%3Fb"},
    {"/a%3Fb", "/a%3Fb"},
    {"/%e2%82%ac", "/%E2%82%AC"},
    {"/%25", "/%25"},
    {"/%2561", "/%2561"},
    {"/%7f", "/%7F"},
    {"/%ff", "/%FF"},
    {"/%0a", "/%0A"},
    {"/%3b", "/%3B"},
    {"/%40%2b", "/%40%2B"},
    /* encoded separators and NUL refused */
    {"/a%2Fb", NULL},
    {"/a%2fb", NULL},
    {"/a%5Cb", NULL},
    {"/a%5cb", NULL},
    {"/a%00b", NULL},
    {"/%00", NULL},
    /* raw backslash refused */
    {"/a\\b", NULL},
    {"\\a", NULL},
    {"/..\\..\\", NULL},
    /* bad escapes */
    {"/%", NULL},
    {"/%4", NULL},
    {"/a%", NULL},
    {"/a%g1", NULL},
    {"/a%1g", NULL},
    {"/a%%41", NULL},
    {"/a%-1", NULL},
    {"/a% 1", NULL},
    /* must start with '/' */
    {"a/b", NULL},
    {".", NULL},
    {"%2F", NULL},
    {"*", NULL},
    /* bytes outside VCHAR */
    {"/a b", NULL},
    {"/a\tb", NULL},
    {"/a\rb", NULL},
    {"/a\nb", NULL},
    {"/a\x7f", NULL},
    {"/a\x80", NULL},
    {"/\xc3\xa9", NULL},
    /* dot segments carrying a path parameter (Tomcat's "..;") */
    {"/public/..;/admin", NULL},
    {"/public/.;/admin", NULL},
    {"/public/..;x=1/admin", NULL},
    {"/public/%2e%2e;/admin", NULL},
    {"/public/..%3B/admin", NULL},
    {"/public/..%3b/admin", NULL},
    {"/public/...;/admin", "/public/...;/admin"},
    {"/public/;../admin", "/public/;../admin"},
    {"/a;/b", "/a;/b"},
};

static void check_case(const struct norm_case *c)
{
    size_t n = strlen(c->in);
    char *out = malloc(n + 1);
    assert_non_null(out);
    size_t out_len = (size_t)-1;
    int rc = gw_path_normalize(c->in, n, out, &out_len);
    if (c->out == NULL) {
        if (rc != GW_ETARGET)
            fail_msg("\"%s\": expected GW_ETARGET, got %d", c->in, rc);
    } else {
        if (rc != 0)
            fail_msg("\"%s\": expected \"%s\", got error %d", c->in, c->out, rc);
        if (out_len != strlen(c->out) || memcmp(out, c->out, out_len) != 0)
            fail_msg("\"%s\": expected \"%s\", got \"%.*s\"", c->in, c->out, (int)out_len, out);
        assert_true(out_len <= n);
    }
    free(out);
}

static void test_table(void **state)
{
    (void)state;
    assert_true(sizeof(cases) / sizeof(cases[0]) >= 50);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_case(&cases[i]);
}

/* Every successful output normalises to itself. */
static void test_idempotent(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (cases[i].out == NULL)
            continue;
        const char *p = cases[i].out;
        size_t n = strlen(p);
        char buf[256];
        size_t out_len;
        assert_int_equal(gw_path_normalize(p, n, buf, &out_len), 0);
        assert_int_equal(out_len, n);
        assert_memory_equal(buf, p, n);
    }
}

/* out == in is allowed; the result equals the out-of-place one. */
static void test_in_place(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (cases[i].out == NULL)
            continue;
        char buf[256];
        size_t n = strlen(cases[i].in);
        memcpy(buf, cases[i].in, n);
        size_t out_len;
        assert_int_equal(gw_path_normalize(buf, n, buf, &out_len), 0);
        assert_int_equal(out_len, strlen(cases[i].out));
        assert_memory_equal(buf, cases[i].out, out_len);
    }
}

/* Embedded NUL and empty input; input that is not NUL-terminated is read only to in_len. */
static void test_lengths(void **state)
{
    (void)state;
    char out[16];
    size_t out_len;
    assert_int_equal(gw_path_normalize("", 0, out, &out_len), GW_ETARGET);
    assert_int_equal(gw_path_normalize("/a\0b", 4, out, &out_len), GW_ETARGET);
    /* only the first 4 bytes are the path */
    assert_int_equal(gw_path_normalize("/abc/../x", 4, out, &out_len), 0);
    assert_int_equal(out_len, 4);
    assert_memory_equal(out, "/abc", 4);
    /* a path whose escape runs past in_len is refused, not read past */
    assert_int_equal(gw_path_normalize("/a%41", 4, out, &out_len), GW_ETARGET);

    /* output capacity == input length exactly (heap, so ASan sees any overrun) */
    static const char *const exact[] = {"/%41%42%43", "/a/b/c/d", "//////", "/%e2%82%ac/"};
    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++) {
        size_t n = strlen(exact[i]);
        char *o = malloc(n);
        assert_non_null(o);
        assert_int_equal(gw_path_normalize(exact[i], n, o, &out_len), 0);
        assert_true(out_len <= n);
        free(o);
    }
}

/* A long path with thousands of segments and deep traversal. */
static void test_long(void **state)
{
    (void)state;
    enum {
        SEGS = 5000
    };
    size_t cap = SEGS * 8 + 16;
    char *in = malloc(cap);
    char *out = malloc(cap);
    assert_non_null(in);
    assert_non_null(out);
    size_t n = 0;
    for (int i = 0; i < SEGS; i++)
        n += (size_t)snprintf(in + n, cap - n, "/s%d", i % 10);
    for (int i = 0; i < SEGS + 3; i++)
        n += (size_t)snprintf(in + n, cap - n, "/..");
    n += (size_t)snprintf(in + n, cap - n, "/end");
    size_t out_len;
    assert_int_equal(gw_path_normalize(in, n, out, &out_len), 0);
    assert_int_equal(out_len, 4);
    assert_memory_equal(out, "/end", 4);
    free(in);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),    cmocka_unit_test(test_idempotent),
        cmocka_unit_test(test_in_place), cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
