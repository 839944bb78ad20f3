/* Unit tests for src/control/json_locate.c: positions of values along a key path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/internal.h"

#define K(s)                                                                                       \
    {                                                                                              \
        .key = (s), .key_len = sizeof(s) - 1                                                       \
    }
#define I(n)                                                                                       \
    {                                                                                              \
        .key = NULL, .index = (n)                                                                  \
    }

struct pos {
    size_t resolved;
    int line;
    int column;
};

static struct pos locate(const char *text, const struct gw__json_seg *path, size_t depth,
                         bool want_key)
{
    struct pos p;
    p.resolved = gw__json_locate(text, strlen(text), path, depth, want_key, &p.line, &p.column);
    return p;
}

static const char doc[] = "{\n"                                       /* 1 */
                          "  \"a\": 1,\n"                             /* 2 */
                          "  \"s\": \"x{[\\\"]}\",\n"                 /* 3 */
                          "  \"list\": [10, {\"k\": [true, null]},\n" /* 4 */
                          "           \"z\"],\n"                      /* 5 */
                          "  \"o\": {\"in\": {\"deep\": -1.5e3}}\n"   /* 6 */
                          "}\n";

static void test_root_is_first_value(void **state)
{
    (void)state;
    struct pos p = locate("  \n {\"a\":1}", NULL, 0, false);
    assert_int_equal(p.resolved, 0);
    assert_int_equal(p.line, 2);
    assert_int_equal(p.column, 2);
}

static void test_object_keys_and_nesting(void **state)
{
    (void)state;
    const struct gw__json_seg a[] = {K("a")};
    struct pos p = locate(doc, a, 1, false);
    assert_int_equal(p.resolved, 1);
    assert_int_equal(p.line, 2);
    assert_int_equal(p.column, 8);

    const struct gw__json_seg deep[] = {K("o"), K("in"), K("deep")};
    p = locate(doc, deep, 3, false);
    assert_int_equal(p.resolved, 3);
    assert_int_equal(p.line, 6);
    assert_int_equal(p.column, 24);
}

static void test_strings_with_brackets_are_skipped(void **state)
{
    (void)state;
    const struct gw__json_seg path[] = {K("list")};
    struct pos p = locate(doc, path, 1, false);
    assert_int_equal(p.line, 4);
    assert_int_equal(p.column, 11);
}

static void test_array_indexes(void **state)
{
    (void)state;
    const struct gw__json_seg second[] = {K("list"), I(1), K("k"), I(1)};
    struct pos p = locate(doc, second, 4, false);
    assert_int_equal(p.resolved, 4);
    assert_int_equal(p.line, 4);
    assert_int_equal(p.column, 29);

    const struct gw__json_seg third[] = {K("list"), I(2)};
    p = locate(doc, third, 2, false);
    assert_int_equal(p.line, 5);
    assert_int_equal(p.column, 12);
}

static void test_missing_key_gives_enclosing_object(void **state)
{
    (void)state;
    const struct gw__json_seg path[] = {K("o"), K("in"), K("nope")};
    struct pos p = locate(doc, path, 3, false);
    assert_int_equal(p.resolved, 2);
    assert_int_equal(p.line, 6);
    assert_int_equal(p.column, 15); /* the '{' of "in" */

    const struct gw__json_seg top[] = {K("absent"), K("x")};
    p = locate(doc, top, 2, false);
    assert_int_equal(p.resolved, 0);
    assert_int_equal(p.line, 1);
    assert_int_equal(p.column, 1);
}

static void test_index_out_of_range_and_scalar_step(void **state)
{
    (void)state;
    const struct gw__json_seg far[] = {K("list"), I(3)};
    struct pos p = locate(doc, far, 2, false);
    assert_int_equal(p.resolved, 1);
    assert_int_equal(p.line, 4);
    assert_int_equal(p.column, 11);

    const struct gw__json_seg into_scalar[] = {K("a"), K("b")};
    p = locate(doc, into_scalar, 2, false);
    assert_int_equal(p.resolved, 1);
    assert_int_equal(p.column, 8);

    const struct gw__json_seg key_on_array[] = {K("list"), K("k")};
    p = locate(doc, key_on_array, 2, false);
    assert_int_equal(p.resolved, 1);
}

static void test_want_key_points_at_the_key(void **state)
{
    (void)state;
    const struct gw__json_seg path[] = {K("o"), K("in")};
    struct pos p = locate(doc, path, 2, true);
    assert_int_equal(p.line, 6);
    assert_int_equal(p.column, 9);
}

static void test_escaped_keys_match_decoded(void **state)
{
    (void)state;
    const char *text = "{\"x\": 0, \"\\u0061\\/b\": 1, \"\\ud83d\\ude00\": 2, \"\\u00e9\": 3}";
    const struct gw__json_seg slash[] = {K("a/b")};
    struct pos p = locate(text, slash, 1, false);
    assert_int_equal(p.resolved, 1);
    assert_int_equal(p.column, 23);

    const struct gw__json_seg emoji[] = {K("\xF0\x9F\x98\x80")};
    p = locate(text, emoji, 1, false);
    assert_int_equal(p.resolved, 1);
    assert_int_equal(p.column, 42);

    const struct gw__json_seg e_acute[] = {K("\xC3\xA9")};
    p = locate(text, e_acute, 1, false);
    assert_int_equal(p.resolved, 1);

    const struct gw__json_seg prefix_only[] = {K("a")};
    p = locate(text, prefix_only, 1, false);
    assert_int_equal(p.resolved, 0);
}

static void test_columns_count_characters(void **state)
{
    (void)state;
    /* "é" is two bytes but one column, as in jansson's error positions. */
    const char *text = "{\"k\u00e9y\": \"\u00e9\u00e9\", \"n\": 5}";
    const struct gw__json_seg path[] = {K("n")};
    struct pos p = locate(text, path, 1, false);
    assert_int_equal(p.line, 1);
    assert_int_equal(p.column, 20);
    int line;
    int col;
    gw__json_line_col("ab\ncd", 5, 100, &line, &col);
    assert_int_equal(line, 2);
    assert_int_equal(col, 3);
}

static void test_invalid_text_never_overreads(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "{",
        "{\"a\"",
        "{\"a\":",
        "{\"a\": [1, ",
        "{\"a\": \"\\",
        "[[[[[",
        "]]]]",
        "{\"a\" 1}",
        "{\"a\": 1 \"b\"}",
        "{\"\\u12\": 1}",
        "{\"\\q\": 1}",
        "\"str",
        "{,}",
        "{\"a\": tru",
        "[1,]",
        "{\"b\":{}, ",
        "nul",
    };
    const struct gw__json_seg path[] = {K("a"), I(2), K("b")};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = strlen(bad[i]);
        /* An exact-size heap copy lets ASan catch any read past the end. */
        char *copy = malloc(n ? n : 1);
        assert_non_null(copy);
        memcpy(copy, bad[i], n);
        int line = 0;
        int col = 0;
        size_t r = gw__json_locate(copy, n, path, 3, false, &line, &col);
        assert_true(r <= 3);
        assert_true(line >= 1);
        assert_true(col >= 1);
        free(copy);
    }
}

/* The path at an offset: "@" marks it (removed before the call). */
static size_t path_at(const char *marked, struct gw__json_seg *path, size_t cap)
{
    const char *x = strchr(marked, '@');
    assert_non_null(x);
    size_t off = (size_t)(x - marked);
    char *copy = malloc(strlen(marked));
    assert_non_null(copy);
    memcpy(copy, marked, off);
    memcpy(copy + off, x + 1, strlen(x + 1));
    size_t n = gw__json_path_at(copy, strlen(marked) - 1, off, path, cap);
    /* keys point into the copy: compare while it lives, through static storage */
    static char keys[8][32];
    for (size_t i = 0; i < n && i < 8; i++) {
        snprintf(keys[i], sizeof keys[i], "%.*s", path[i].key ? (int)path[i].key_len : 0,
                 path[i].key ? path[i].key : "");
        if (path[i].key)
            path[i].key = keys[i];
    }
    free(copy);
    return n;
}

static void test_path_at_an_offset(void **state)
{
    (void)state;
    struct gw__json_seg p[8];
    assert_int_equal(path_at("@{\"a\": 1}", p, 8), 0);
    assert_int_equal(path_at("{\"a\": 1@}", p, 8), 1);
    assert_string_equal(p[0].key, "a");
    assert_int_equal(path_at("{\"a\": 1, @\"b\": 2}", p, 8), 0); /* between members */
    assert_int_equal(path_at("{\"a\": {\"b\": [1, \"x,]}\", {\"c\": 9@", p, 8), 4);
    assert_string_equal(p[0].key, "a");
    assert_string_equal(p[1].key, "b");
    assert_null(p[2].key);
    assert_int_equal(p[2].index, 2);
    assert_string_equal(p[3].key, "c");
    assert_int_equal(path_at("{\"a\": {\"b\": 1}, \"c\": \"x@", p, 8), 1); /* in a string */
    assert_string_equal(p[0].key, "c");
    assert_int_equal(path_at("[[[[1@", p, 2), 2); /* deeper than cap */
    assert_int_equal(p[1].index, 0);
    assert_int_equal(path_at("{\"k\\\"q\": @", p, 8), 1); /* escapes as written */
    assert_string_equal(p[0].key, "k\\\"q");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_root_is_first_value),
        cmocka_unit_test(test_object_keys_and_nesting),
        cmocka_unit_test(test_strings_with_brackets_are_skipped),
        cmocka_unit_test(test_array_indexes),
        cmocka_unit_test(test_missing_key_gives_enclosing_object),
        cmocka_unit_test(test_index_out_of_range_and_scalar_step),
        cmocka_unit_test(test_want_key_points_at_the_key),
        cmocka_unit_test(test_escaped_keys_match_decoded),
        cmocka_unit_test(test_columns_count_characters),
        cmocka_unit_test(test_invalid_text_never_overreads),
        cmocka_unit_test(test_path_at_an_offset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
