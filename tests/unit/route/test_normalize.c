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

/* ---- the client's spelling (gw_path_normalize_spelled) ---- */

struct spell_case {
    const char *in;
    const char *norm;  /* NULL: refused with GW_ETARGET */
    const char *spell; /* what is forwarded */
};

static const struct spell_case spell_cases[] = {
    {"/", "/", "/"},
    {"/api/users/7", "/api/users/7", "/api/users/7"},
    /* escapes kept as sent, in their case: the example */
    {"/a/%7Efoo/%41b", "/a/~foo/Ab", "/a/%7Efoo/%41b"},
    {"/a/%7efoo/%41B", "/a/~foo/AB", "/a/%7efoo/%41B"},
    {"/api/%61dmin", "/api/admin", "/api/%61dmin"},
    {"/a%3fb", "/a%3Fb", "/a%3fb"},
    {"/%e2%82%ac", "/%E2%82%AC", "/%e2%82%ac"},
    {"/a;b=%7E/c", "/a;b=~/c", "/a;b=%7E/c"},
    /* %25 is kept encoded, the escapes after it decoded: "%257E" both ways, no double decoding */
    {"/%25%37%45", "/%257E", "/%25%37%45"},
    /* dot segments and "//" resolved in both, whatever their spelling */
    {"/api/%61dmin/../x", "/api/x", "/api/x"},
    {"/api/%61dmin/%2e%2E/%7E", "/api/~", "/api/%7E"},
    {"/%61/%62/..", "/a/", "/%61/"},
    {"/%61/%62/../", "/a/", "/%61/"},
    {"/%61/./%2e/%62/.", "/a/b/", "/%61/%62/"},
    {"//a///%62//", "/a/b/", "/a/%62/"},
    {"/../%7E", "/~", "/%7E"},
    {"/%2e%2e/%2E%2E/x", "/x", "/x"},
    {"/a/b/../../..", "/", "/"},
    {"/x/%2e%2e", "/", "/"},
    /* segments that decode to more than two dots are ordinary segments, spelled as sent */
    {"/%2e%2e%2e", "/...", "/%2e%2e%2e"},
    {"/a/.%2E./b", "/a/.../b", "/a/.%2E./b"},
    /* "%2F" stays refused (as today): not a separator for routing, not a character either, so
     * a path can never mean one thing to the router and another to a backend that decodes
     * before splitting. nginx keeps it as part of the segment; gantry answers 400. */
    {"/a%2Fb", NULL, NULL},
    {"/a/%2f/b", NULL, NULL},
    {"/a/%2F../b", NULL, NULL},
    {"/a%2Fb/../c", NULL, NULL},
    {"/a%5Cb", NULL, NULL},
    {"/a%00", NULL, NULL},
    {"/public/%2e%2e%3B/admin", NULL, NULL},
    {"/a%zz", NULL, NULL},
};

#define NUM_SPELL (sizeof(spell_cases) / sizeof(spell_cases[0]))

static size_t count_segments(const char *p, size_t n)
{
    size_t k = 0;
    for (size_t i = 1; i <= n; i++)
        if (i == n || p[i] == '/')
            k += i > 1 && p[i - 1] != '/';
    return k;
}

/*
 * The promises of gw_path_normalize_spelled for any input: same result and same normalised
 * path as gw_path_normalize; the spelling is no longer than the input, normalises to the
 * normalised path, has the same number of segments, and every segment boundary of the
 * normalised path maps (gw_path_spelled_prefix) to a boundary of the spelling whose prefix
 * normalises to the same prefix.
 */
static void check_spelled(const char *in, size_t n)
{
    char *norm = malloc(n + 1), *spell = malloc(n + 1), *plain = malloc(n + 1);
    char *again = malloc(n + 1);
    assert_non_null(norm);
    assert_non_null(spell);
    assert_non_null(plain);
    assert_non_null(again);
    size_t norm_len = 0, spell_len = 0, plain_len = 0, again_len = 0;
    int rc = gw_path_normalize_spelled(in, n, norm, &norm_len, spell, &spell_len);
    int prc = gw_path_normalize(in, n, plain, &plain_len);
    if (rc != prc)
        fail_msg("\"%.*s\": spelled %d, plain %d", (int)n, in, rc, prc);
    if (rc == 0) {
        if (norm_len != plain_len || memcmp(norm, plain, norm_len) != 0)
            fail_msg("\"%.*s\": normalised forms differ", (int)n, in);
        assert_true(spell_len <= n);
        assert_int_equal(gw_path_normalize(spell, spell_len, again, &again_len), 0);
        if (again_len != norm_len || memcmp(again, norm, norm_len) != 0)
            fail_msg("\"%.*s\": spelling \"%.*s\" normalises to \"%.*s\", not \"%.*s\"", (int)n, in,
                     (int)spell_len, spell, (int)again_len, again, (int)norm_len, norm);
        assert_int_equal(count_segments(spell, spell_len), count_segments(norm, norm_len));
        assert_int_equal(spell[spell_len - 1] == '/', norm[norm_len - 1] == '/');
        for (size_t p = 2; p <= norm_len; p++) {
            if (p < norm_len && norm[p] != '/')
                continue; /* not a segment boundary */
            if (norm[p - 1] == '/')
                continue; /* the trailing '/': a prefix never ends with one */
            size_t off = gw_path_spelled_prefix(norm, p, spell, spell_len);
            assert_true(off <= spell_len);
            assert_true(off == spell_len || spell[off] == '/');
            assert_int_equal(gw_path_normalize(spell, off, again, &again_len), 0);
            if (again_len != p || memcmp(again, norm, p) != 0)
                fail_msg("\"%.*s\": prefix \"%.*s\" maps to \"%.*s\"", (int)n, in, (int)p, norm,
                         (int)off, spell);
        }
    } else {
        assert_int_equal(rc, GW_ETARGET);
    }
    free(norm);
    free(spell);
    free(plain);
    free(again);
}

static void test_spelled_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < NUM_SPELL; i++) {
        const struct spell_case *c = &spell_cases[i];
        size_t n = strlen(c->in);
        char *norm = malloc(n), *spell = malloc(n); /* exact capacity: ASan sees overruns */
        assert_non_null(norm);
        assert_non_null(spell);
        size_t norm_len = (size_t)-1, spell_len = (size_t)-1;
        int rc = gw_path_normalize_spelled(c->in, n, norm, &norm_len, spell, &spell_len);
        if (c->norm == NULL) {
            if (rc != GW_ETARGET)
                fail_msg("\"%s\": expected GW_ETARGET, got %d", c->in, rc);
        } else {
            if (rc != 0)
                fail_msg("\"%s\": expected \"%s\", got error %d", c->in, c->norm, rc);
            if (norm_len != strlen(c->norm) || memcmp(norm, c->norm, norm_len) != 0)
                fail_msg("\"%s\": normalised \"%.*s\", expected \"%s\"", c->in, (int)norm_len, norm,
                         c->norm);
            if (spell_len != strlen(c->spell) || memcmp(spell, c->spell, spell_len) != 0)
                fail_msg("\"%s\": spelled \"%.*s\", expected \"%s\"", c->in, (int)spell_len, spell,
                         c->spell);
        }
        free(norm);
        free(spell);
        check_spelled(c->in, n);
    }
    /* and the promises hold over the whole normalisation table */
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_spelled(cases[i].in, strlen(cases[i].in));
}

/* Random paths built from segments that normalisation treats differently. */
static void test_spelled_random(void **state)
{
    (void)state;
    static const char *const parts[] = {
        "a",   "%61", "%7e",  "%7E", "~",   ".",         "..",    "%2e", "%2E%2e", ".%2E", "",
        "x;y", "%25", "%41b", "%3f", "...", "%2e%2e%2e", "b%20c", "%2F", "..;",    "%zz",
    };
    uint64_t x = 0x243F6A8885A308D3u;
    char path[512];
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = 0;
        int segs = 1 + (int)((x >> 33) % 9);
        for (int k = 0; k < segs; k++) {
            x = x * 6364136223846793005u + 1442695040888963407u;
            const char *p = parts[(x >> 33) % (sizeof(parts) / sizeof(parts[0]))];
            /* the refused parts are rarer, so most paths get through */
            if ((p[0] == '%' && (p[1] == '2' && p[2] == 'F')) || !strcmp(p, "..;") ||
                !strcmp(p, "%zz"))
                if ((x >> 20) % 8)
                    p = "z";
            path[n++] = '/';
            size_t l = strlen(p);
            memcpy(path + n, p, l);
            n += l;
        }
        if ((x >> 40) % 4 == 0)
            path[n++] = '/';
        check_spelled(path, n);
    }
}

/* strip_prefix's mapping, on the request's examples. */
static void test_spelled_prefix(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t prefix_len; /* of the normalised path */
        const char *rest;  /* spell + offset */
    } rows[] = {
        {"/api/users/7", 10, "/7"},
        {"/api/%75sers/%7E7", 10, "/%7E7"},
        {"/%61pi/users", 4, "/users"},
        {"/%61pi/users", 10, ""},
        {"/x/../api//%75sers/./%41b/", 10, "/%41b/"},
        {"/api/users/", 10, "/"},
        {"/a", 0, "/a"},
        {"/a", 1, "/a"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char norm[64], spell[64];
        size_t norm_len, spell_len, n = strlen(rows[i].in);
        assert_int_equal(
            gw_path_normalize_spelled(rows[i].in, n, norm, &norm_len, spell, &spell_len), 0);
        size_t off = gw_path_spelled_prefix(norm, rows[i].prefix_len, spell, spell_len);
        if (spell_len - off != strlen(rows[i].rest) ||
            memcmp(spell + off, rows[i].rest, spell_len - off) != 0)
            fail_msg("\"%s\" prefix %zu: rest \"%.*s\", expected \"%s\"", rows[i].in,
                     rows[i].prefix_len, (int)(spell_len - off), spell + off, rows[i].rest);
    }
}

/* The packed layout the request keeps, in 2n + 1 bytes: the normalised path, then a NUL
 * (the path has no escape, so it is its own spelling) or the spelling and a NUL. */
static void test_packed(void **state)
{
    (void)state;
    for (size_t i = 0; i < NUM_SPELL; i++) {
        const struct spell_case *c = &spell_cases[i];
        size_t n = strlen(c->in);
        char *buf = malloc(2 * n + 1); /* exact capacity: ASan sees overruns */
        assert_non_null(buf);
        size_t norm_len = 0, spell_len = 0;
        int rc = gw_path_normalize_packed(c->in, n, buf, &norm_len);
        if (c->norm == NULL) {
            assert_int_equal(rc, GW_ETARGET);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(norm_len, strlen(c->norm));
            assert_memory_equal(buf, c->norm, norm_len);
            const char *sp = gw_path_packed_spelling(buf, norm_len, &spell_len);
            /* without an escape the spelling is the normalised path itself: no copy */
            assert_ptr_equal(sp, strchr(c->in, '%') ? buf + norm_len : buf);
            assert_int_equal(spell_len, strlen(c->spell));
            assert_memory_equal(sp, c->spell, spell_len);
        }
        free(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),          cmocka_unit_test(test_idempotent),
        cmocka_unit_test(test_in_place),       cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_long),           cmocka_unit_test(test_spelled_table),
        cmocka_unit_test(test_spelled_random), cmocka_unit_test(test_spelled_prefix),
        cmocka_unit_test(test_packed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
