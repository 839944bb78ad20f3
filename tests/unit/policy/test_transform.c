/* Unit tests for the pure editing functions of src/policy/transform.c: query edits, the prefix
 * rewrite on a path and its spelling, regular-expression replacements, JSON body edits, the
 * JSON media types. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <pcre2.h>

#include "core/error.h"
#include "policy/transform.h"

static struct gw_template *tpl(const char *s)
{
    struct gw_template *t = NULL;
    size_t at;
    char why[256];
    assert_int_equal(gw_template_parse(s, strlen(s), &t, &at, why, sizeof why), 0);
    return t;
}

static char *str(struct gw_buf *b)
{
    char *s = malloc(b->len + 1);
    assert_non_null(s);
    if (b->len)
        memcpy(s, b->data, b->len);
    s[b->len] = '\0';
    return s;
}

static void test_query_edit(void **unused)
{
    (void)unused;
    char *remove[] = {"debug"};
    struct gw_tf_rename rename[] = {{"q", "search"}};
    struct gw_tf_value set[] = {{"v", tpl("2")}};
    struct gw_tf_value add[] = {{"via", tpl("a b&c=$service")}};
    struct gw_tf_fields f = {remove, 1, rename, 1, set, 1, add, 1};
    struct gw_tpl_source src = {.service = "svc"};
    struct gw_buf out;
    gw_buf_init(&out, 4096);
    const char *q = "q=cats&debug=1&%64ebug=2&&v=1&keep=a%20b&qq=1&q";
    assert_int_equal(gw_tf_query_edit(q, strlen(q), &f, &src, &out), 0);
    char *s = str(&out);
    assert_string_equal(s, "search=cats&keep=a%20b&qq=1&search&v=2&via=a%20b%26c%3Dsvc");
    free(s);
    gw_buf_reset(&out);
    assert_int_equal(gw_tf_query_edit("", 0, &f, &src, &out), 0);
    s = str(&out);
    assert_string_equal(s, "v=2&via=a%20b%26c%3Dsvc");
    free(s);
    gw_buf_free(&out);
    gw_template_free(set[0].value);
    gw_template_free(add[0].value);
}

static void prefix(const char *norm, const char *spell, const char *from, const char *to, int want,
                   const char *want_norm, const char *want_spell)
{
    struct gw_buf n, s;
    gw_buf_init(&n, 4096);
    gw_buf_init(&s, 4096);
    assert_int_equal(gw_tf_path_prefix(norm, strlen(norm), spell, strlen(spell), from, to, &n, &s),
                     want);
    if (want == 1) {
        char *a = str(&n), *b = str(&s);
        assert_string_equal(a, want_norm);
        assert_string_equal(b, want_spell);
        free(a);
        free(b);
    }
    gw_buf_free(&n);
    gw_buf_free(&s);
}

static void test_path_prefix(void **unused)
{
    (void)unused;
    prefix("/api/v1/~jo", "/api/%76%31/%7Ejo", "/api/v1", "/v2", 1, "/v2/~jo", "/v2/%7Ejo");
    prefix("/api/v1", "/api/v1", "/api/v1", "/v2", 1, "/v2", "/v2");
    prefix("/api/v1/", "/api/v1/", "/api/v1", "/", 1, "/", "/");
    prefix("/api/v1/x", "/api/v1/x", "/api/v1", "/", 1, "/x", "/x");
    prefix("/api/v10", "/api/v10", "/api/v1", "/v2", 0, NULL, NULL); /* segment boundary */
    prefix("/x", "/x", "/", "/root", 1, "/root/x", "/root/x");
}

static void test_expand(void **unused)
{
    (void)unused;
    int err;
    PCRE2_SIZE at;
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR) "^/u/([0-9]+)(/x)?$", PCRE2_ZERO_TERMINATED, 0, &err, &at, NULL);
    assert_non_null(re);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    const char *s = "/u/42";
    assert_true(pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, md, NULL) > 0);
    struct gw_buf out;
    gw_buf_init(&out, 4096);
    assert_int_equal(gw_tf_expand("/users/$1$2?$$=$0$9$", s, pcre2_get_ovector_pointer(md),
                                  pcre2_get_ovector_count(md), &out),
                     0);
    char *got = str(&out);
    assert_string_equal(got, "/users/42?$=/u/42$");
    free(got);
    gw_buf_free(&out);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
}

static void test_json_edit(void **unused)
{
    (void)unused;
    char *remove[] = {"secret", "meta.internal", "no.such"};
    struct gw_tf_rename rename[] = {{"name", "user.name"}};
    char *add_names[] = {"meta.by", "price", "tag"};
    json_t *add[] = {json_string("$service"), json_real(0.1), json_string("x")};
    struct gw_template *tpls[] = {tpl("$service"), NULL, tpl("x")};
    struct gw_tf_body b = {remove, 3, rename, 1, add_names, add, tpls, 3};
    const char *vals[] = {"svc", NULL, "x"};
    struct gw_tf_json_layer jl = {&b, vals};
    struct gw_buf out;
    gw_buf_init(&out, 4096);
    const char *body = "{\"name\":\"Ann\",\"secret\":1,\"meta\":{\"internal\":true,\"n\":2.5}}";
    assert_int_equal(gw_tf_json_edit(body, strlen(body), &jl, 1, &out), 1);
    char *got = str(&out);
    assert_string_equal(got, "{\"meta\":{\"n\":2.5,\"by\":\"svc\"},\"user\":{\"name\":\"Ann\"},"
                             "\"price\":0.1,\"tag\":\"x\"}");
    free(got);
    /* not an object, not JSON, duplicate names: untouched */
    gw_buf_reset(&out);
    assert_int_equal(gw_tf_json_edit("[1]", 3, &jl, 1, &out), 0);
    assert_int_equal(gw_tf_json_edit("{\"a\":", 5, &jl, 1, &out), 0);
    assert_int_equal(gw_tf_json_edit("{\"a\":1,\"a\":2}", 13, &jl, 1, &out), 0);
    assert_int_equal(out.len, 0);
    gw_buf_free(&out);
    for (size_t i = 0; i < 3; i++) {
        json_decref(add[i]);
        gw_template_free(tpls[i]);
    }
}

static void test_is_json(void **unused)
{
    (void)unused;
    assert_true(gw_tf_is_json("application/json", 16));
    assert_true(gw_tf_is_json("Application/JSON; charset=utf-8", 31));
    assert_true(gw_tf_is_json("application/problem+json", 24));
    assert_false(gw_tf_is_json("application/jsonx", 17));
    assert_false(gw_tf_is_json("text/json", 9));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_edit), cmocka_unit_test(test_path_prefix),
        cmocka_unit_test(test_expand),     cmocka_unit_test(test_json_edit),
        cmocka_unit_test(test_is_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
