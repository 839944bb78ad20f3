/*
 * Unit tests for src/cache/vary.c: Vary lists (case, duplicates, "*", bad members, bounds)
 * and request signatures (RFC 9111 4.1: combined lines, whitespace around commas, absent is
 * not empty), Accept-Encoding normalisation, and a guard-page run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../guard_page.h"
#include "cache/vary.h"
#include "cache_test.h"

static struct gw_vary vary(const char *s)
{
    struct gw_vary v;
    gw_vary_init(&v);
    gw_vary_parse(&v, s, strlen(s));
    return v;
}

static void test_parse(void **state)
{
    (void)state;
    struct gw_vary v = vary("Accept-Encoding, accept-language ,ACCEPT-ENCODING");
    assert_false(v.star);
    assert_false(v.bad);
    assert_int_equal(v.count, 2);
    assert_int_equal(v.len, strlen("accept-encoding,accept-language"));
    assert_memory_equal(v.names, "accept-encoding,accept-language", v.len);
    gw_vary_parse(&v, "X-Device", 8);
    assert_int_equal(v.count, 3);

    v = vary("*");
    assert_true(v.star);
    v = vary("accept, *");
    assert_true(v.star);
    v = vary(" , ,");
    assert_int_equal(v.count, 0);
    assert_false(v.bad);
    v = vary("a b");
    assert_true(v.bad);
    v = vary("a;b");
    assert_true(v.bad);

    char many[400] = "";
    for (int i = 0; i < GW_VARY_MAX_FIELDS + 1; i++) {
        char one[16];
        snprintf(one, sizeof one, "h%d,", i);
        strcat(many, one);
    }
    v = vary(many);
    assert_true(v.bad);
}

static long sig(const char *names, const char *const *pairs, unsigned norm, char *out)
{
    struct test_msg t;
    msg_make(&t, 0, pairs);
    return gw_vary_signature(names, strlen(names), &t.m, norm, out, 256);
}

static void test_signature(void **state)
{
    (void)state;
    char a[256], b[256];
    const char *r1[] = {"Accept-Language", "en, fr", "accept-language", "de", NULL};
    const char *r2[] = {"accept-language", "en ,fr,de", NULL};
    const char *r3[] = {"accept-language", "en,fr", NULL};
    long la = sig("accept-language", r1, 0, a), lb = sig("accept-language", r2, 0, b);
    assert_true(la > 0);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, (size_t)la);
    lb = sig("accept-language", r3, 0, b);
    assert_false(la == lb && memcmp(a, b, (size_t)la) == 0);

    /* absent and empty differ */
    const char *empty[] = {"x-a", "", NULL};
    const char *none[] = {NULL};
    la = sig("x-a", empty, 0, a);
    lb = sig("x-a", none, 0, b);
    assert_false(la == lb && memcmp(a, b, (size_t)la) == 0);

    /* values are compared as sent (case matters) */
    const char *up[] = {"x-a", "A", NULL}, *low[] = {"x-a", "a", NULL};
    la = sig("x-a", up, 0, a);
    lb = sig("x-a", low, 0, b);
    assert_false(la == lb && memcmp(a, b, (size_t)la) == 0);

    /* several names: each one's values in its own place */
    const char *two1[] = {"x-a", "1", "x-b", "2", NULL}, *two2[] = {"x-a", "12", NULL};
    la = sig("x-a,x-b", two1, 0, a);
    lb = sig("x-a,x-b", two2, 0, b);
    assert_false(la == lb && memcmp(a, b, (size_t)la) == 0);

    /* too long for the buffer */
    struct test_msg t;
    msg_make(&t, 0, r1);
    assert_int_equal(gw_vary_signature("accept-language", 15, &t.m, 0, a, 4), -1);
}

static void test_accept_encoding(void **state)
{
    (void)state;
    char a[256], b[256];
    const char *c1[] = {"Accept-Encoding", "gzip, deflate, br", NULL};
    const char *c2[] = {"accept-encoding", "br;q=1, gzip;q=0.5", NULL};
    const char *c3[] = {"accept-encoding", "gzip", NULL};
    long la = sig("accept-encoding", c1, GW_VARY_NORM_ACCEPT_ENCODING, a);
    long lb = sig("accept-encoding", c2, GW_VARY_NORM_ACCEPT_ENCODING, b);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, (size_t)la);
    lb = sig("accept-encoding", c3, GW_VARY_NORM_ACCEPT_ENCODING, b);
    assert_false(la == lb && memcmp(a, b, (size_t)la) == 0);
    /* without normalisation they differ */
    la = sig("accept-encoding", c1, 0, a);
    lb = sig("accept-encoding", c2, 0, b);
    assert_false(la == lb && memcmp(a, b, (size_t)la) == 0);
}

/* The coding pseudo-field: the coding the compression picks among the offered ones. */
static void test_coding(void **state)
{
    (void)state;
    char a[256], b[256];
    struct gw_vary v = vary("Origin");
    gw_vary_add_coding(&v);
    gw_vary_add_coding(&v); /* once */
    assert_int_equal(v.count, 2);
    assert_memory_equal(v.names, "origin," GW_VARY_CODING, v.len);
    const char *gz[] = {"accept-encoding", "gzip, deflate", NULL};
    const char *both[] = {"accept-encoding", "br;q=0.5, gzip", NULL};
    const char *br[] = {"accept-encoding", "br", NULL};
    const char *none[] = {"x", "y", NULL};
    unsigned all = GW_VARY_NORM_CODINGS((1u << 1) | (1u << 2));
    long la = sig(GW_VARY_CODING, gz, all, a);
    long lb = sig(GW_VARY_CODING, both, all, b);
    assert_int_equal(la, lb); /* both pick gzip */
    assert_memory_equal(a, b, (size_t)la);
    assert_memory_equal(a + 1, "gzip", 4);
    lb = sig(GW_VARY_CODING, br, all, b);
    assert_memory_equal(b + 1, "br", 2);
    /* br not offered: identity */
    lb = sig(GW_VARY_CODING, br, GW_VARY_NORM_CODINGS(1u << 1), b);
    assert_int_equal(lb, 9);
    assert_memory_equal(b + 1, "identity", 8);
    la = sig(GW_VARY_CODING, none, all, a);
    assert_memory_equal(a + 1, "identity", 8);
    /* the Accept-Encoding normalisation is independent of it */
    lb = sig(GW_VARY_CODING, gz, GW_VARY_NORM_ACCEPT_ENCODING, b);
    assert_memory_equal(b + 1, "identity", 8);
}

static void test_guard_page(void **state)
{
    (void)state;
    const char *inputs[] = {"Accept-Encoding, x", "*", "a b,c", "x-"};
    struct guard g;
    guard_init(&g, 64);
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        size_t n = strlen(inputs[i]);
        for (size_t k = 0; k <= n; k++) {
            struct gw_vary v;
            gw_vary_init(&v);
            gw_vary_parse(&v, guard_place(&g, inputs[i], k), k);
        }
    }
    guard_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),           cmocka_unit_test(test_signature),
        cmocka_unit_test(test_accept_encoding), cmocka_unit_test(test_coding),
        cmocka_unit_test(test_guard_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
