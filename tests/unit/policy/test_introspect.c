/*
 * Unit tests for src/policy/introspect.c: the RFC 7662 request body (percent-encoding of every
 * reserved byte) and the response parser (active, claims, lists, limits, invalid JSON).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "policy/introspect.h"

/* ---- request body ---------------------------------------------------------------------- */

static void check_body(const char *token, size_t len, const char *want)
{
    char *out = NULL;
    size_t n = 0;
    assert_int_equal(gw_introspect_body(token, len, &out, &n), 0);
    assert_non_null(out);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
    free(out);
}

static void test_body_plain_token(void **state)
{
    (void)state;
    /* A JWT is base64url and dots: nothing to encode. */
    check_body("eyJhbGciOiJIUzI1NiJ9.e30.abc-_~9", strlen("eyJhbGciOiJIUzI1NiJ9.e30.abc-_~9"),
               "token=eyJhbGciOiJIUzI1NiJ9.e30.abc-_~9&token_type_hint=access_token");
    check_body("x", 1, "token=x&token_type_hint=access_token");
}

static void test_body_reserved_bytes(void **state)
{
    static const char raw[] = "a b+c/d=e&f%g?h#i\"j\r\nk";
    (void)state;
    check_body(raw, sizeof(raw) - 1,
               "token=a%20b%2Bc%2Fd%3De%26f%25g%3Fh%23i%22j%0D%0Ak&token_type_hint=access_token");
    /* Binary bytes, NUL included (len is explicit). */
    check_body("\x00\x7f\x80\xff", 4, "token=%00%7F%80%FF&token_type_hint=access_token");
    /* Only the first len bytes count. */
    check_body("abc&def", 3, "token=abc&token_type_hint=access_token");
}

static void test_body_every_byte(void **state)
{
    char tok[256];
    char *out = NULL;
    size_t n = 0;
    (void)state;
    for (int i = 0; i < 256; i++)
        tok[i] = (char)i;
    assert_int_equal(gw_introspect_body(tok, sizeof(tok), &out, &n), 0);
    assert_int_equal(n, strlen(out));
    /* 66 unreserved bytes as is, the other 190 as %XX. */
    assert_int_equal(n, strlen("token=") + 66 + 190 * 3 + strlen("&token_type_hint=access_token"));
    /* Each '%' is followed by two uppercase hex digits; no raw separator survives. */
    for (size_t i = strlen("token="); i < n - strlen("&token_type_hint=access_token"); i++) {
        char c = out[i];
        assert_true(c != '&' && c != '=' && c != '+' && c != ' ');
        if (c == '%') {
            assert_true(strchr("0123456789ABCDEF", out[i + 1]) && out[i + 1] != '\0');
            assert_true(strchr("0123456789ABCDEF", out[i + 2]) && out[i + 2] != '\0');
        }
    }
    free(out);
}

static void test_body_invalid(void **state)
{
    char *out = (char *)"untouched";
    size_t n = 7;
    (void)state;
    assert_int_equal(gw_introspect_body("", 0, &out, &n), GW_EINVAL);
    assert_int_equal(gw_introspect_body(NULL, 3, &out, &n), GW_EINVAL);
    assert_string_equal(out, "untouched");
    assert_int_equal(n, 7);
}

/* ---- response -------------------------------------------------------------------------- */

/* One roles claim and one permissions claim (NULL: none); several: test_claims.c. */
static int parse(const char *json, const char *roles, const char *perms, struct gw_jwt_claims *c)
{
    char *r[1] = {(char *)roles}, *p[1] = {(char *)perms};
    const struct gw_claim_names rn = {r, roles != NULL}, pn = {p, perms != NULL};
    return gw_introspect_parse(json, strlen(json), &rn, &pn, c);
}

static void test_parse_active(void **state)
{
    struct gw_jwt_claims c;
    (void)state;

    assert_int_equal(parse("{\"active\":true,\"sub\":\"u1\",\"iss\":\"https://idp\","
                           "\"exp\":1700000100,\"iat\":1700000000,\"nbf\":1699999999,"
                           "\"client_id\":\"app\",\"scope\":\"read  write\","
                           "\"roles\":[\"admin\",\"user\"]}",
                           "roles", "scope", &c),
                     0);
    assert_string_equal(c.sub, "u1");
    assert_string_equal(c.iss, "https://idp");
    assert_true(c.has_exp);
    assert_int_equal(c.exp, 1700000100);
    assert_true(c.has_iat);
    assert_int_equal(c.iat, 1700000000);
    assert_true(c.has_nbf);
    assert_int_equal(c.nbf, 1699999999);
    assert_string_equal(c.roles, "admin user");
    assert_string_equal(c.perms, "read write");
    assert_true(gw_jwt_list_has(c.perms, "write"));
    assert_true(gw_jwt_list_has(c.roles, "admin"));

    /* Only "active": every claim empty. */
    assert_int_equal(parse("{\"active\":true}", "roles", "scope", &c), 0);
    assert_string_equal(c.sub, "");
    assert_string_equal(c.iss, "");
    assert_false(c.has_exp);
    assert_string_equal(c.roles, "");
    assert_string_equal(c.perms, "");

    /* Fractional NumericDate is truncated; an array of permissions is joined. */
    assert_int_equal(
        parse("{\"active\":true,\"exp\":1700000100.9,\"permissions\":[\"a:r\",\"b:w\"]}", NULL,
              "permissions", &c),
        0);
    assert_int_equal(c.exp, 1700000100);
    assert_string_equal(c.perms, "a:r b:w");
}

static void test_parse_inactive(void **state)
{
    struct gw_jwt_claims c;
    (void)state;

    assert_int_equal(parse("{\"active\":false}", NULL, NULL, &c), GW_ETOKENINACTIVE);
    /* RFC 7662 2.2: "active" is required; without it nothing is vouched for. */
    assert_int_equal(parse("{\"sub\":\"u1\",\"scope\":\"admin\"}", "roles", "scope", &c),
                     GW_ETOKENINACTIVE);
    assert_string_equal(c.sub, "");
    assert_int_equal(parse("{\"active\":false,\"sub\":\"u1\"}", NULL, NULL, &c), GW_ETOKENINACTIVE);
    assert_string_equal(c.sub, "");
    /* An inactive answer wins over malformed claims. */
    assert_int_equal(parse("{\"active\":false,\"sub\":7}", NULL, NULL, &c), GW_ETOKENINACTIVE);
}

static void test_parse_active_not_boolean(void **state)
{
    static const char *const docs[] = {
        "{\"active\":\"true\"}", "{\"active\":1}",  "{\"active\":null}",
        "{\"active\":[true]}",   "{\"active\":{}}",
    };
    struct gw_jwt_claims c;
    (void)state;
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
        assert_int_equal(parse(docs[i], NULL, NULL, &c), GW_EFETCH);
}

static void test_parse_invalid_json(void **state)
{
    static const char *const docs[] = {
        "",
        "{",
        "not json",
        "[]",
        "\"active\"",
        "true",
        "{\"active\":true,}",
        "{\"active\":true} trailing",
        "{\"active\":true,\"active\":false}", /* duplicate member */
        "{\"active\":true,\"sub\":\"a\\u0000b\"}",
        "<html>502 Bad Gateway</html>",
    };
    struct gw_jwt_claims c;
    (void)state;
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
        assert_int_equal(parse(docs[i], "roles", "scope", &c), GW_EFETCH);
    /* Length is honoured: the valid prefix alone parses, a cut document does not. */
    assert_int_equal(gw_introspect_parse("{\"active\":true}xyz", 15, NULL, NULL, &c), 0);
    assert_int_equal(gw_introspect_parse("{\"active\":true}", 10, NULL, NULL, &c), GW_EFETCH);
    /* Invalid UTF-8. */
    assert_int_equal(parse("{\"active\":true,\"sub\":\"\xff\"}", NULL, NULL, &c), GW_EFETCH);
}

static void test_parse_claim_types(void **state)
{
    struct gw_jwt_claims c;
    (void)state;

    assert_int_equal(parse("{\"active\":true,\"sub\":7}", NULL, NULL, &c), GW_EJWTCLAIM);
    assert_string_equal(c.sub, "");
    assert_int_equal(parse("{\"active\":true,\"iss\":[\"x\"]}", NULL, NULL, &c), GW_EJWTCLAIM);
    assert_int_equal(parse("{\"active\":true,\"exp\":\"1700000000\"}", NULL, NULL, &c),
                     GW_EJWTCLAIM);
    assert_int_equal(parse("{\"active\":true,\"exp\":1e300}", NULL, NULL, &c), GW_EJWTCLAIM);
    assert_int_equal(parse("{\"active\":true,\"nbf\":true}", NULL, NULL, &c), GW_EJWTCLAIM);
    assert_int_equal(parse("{\"active\":true,\"iat\":null}", NULL, NULL, &c), GW_EJWTCLAIM);
    /* Lists: objects, numbers, elements hiding a second item behind whitespace. */
    assert_int_equal(parse("{\"active\":true,\"roles\":{}}", "roles", NULL, &c), GW_EJWTCLAIM);
    assert_int_equal(parse("{\"active\":true,\"roles\":5}", "roles", NULL, &c), GW_EJWTCLAIM);
    assert_int_equal(parse("{\"active\":true,\"roles\":[\"a\",1]}", "roles", NULL, &c),
                     GW_EJWTCLAIM);
    assert_int_equal(parse("{\"active\":true,\"roles\":[\"user admin\"]}", "roles", NULL, &c),
                     GW_EJWTCLAIM);
    assert_int_equal(parse("{\"active\":true,\"roles\":[\"\"]}", "roles", NULL, &c), GW_EJWTCLAIM);
    assert_int_equal(parse("{\"active\":true,\"scope\":\"read\\twrite\"}", NULL, "scope", &c),
                     GW_EJWTCLAIM);
    /* A claim that is not configured is not read, whatever it holds. */
    assert_int_equal(parse("{\"active\":true,\"roles\":{}}", NULL, "scope", &c), 0);
    assert_string_equal(c.roles, "");
    /* Empty list forms. */
    assert_int_equal(parse("{\"active\":true,\"roles\":[],\"scope\":\"  \"}", "roles", "scope", &c),
                     0);
    assert_string_equal(c.roles, "");
    assert_string_equal(c.perms, "");
}

/* Builds {"active":true,"<name>":"<n times 'a'>"} into buf. */
static void long_member(char *buf, size_t cap, const char *name, size_t n)
{
    int k = snprintf(buf, cap, "{\"active\":true,\"%s\":\"", name);
    assert_true(k > 0 && (size_t)k + n + 3 <= cap);
    memset(buf + k, 'a', n);
    memcpy(buf + k + n, "\"}", 3);
}

/* {"active":true,"roles":["000", "001", ... "126", last]}: joined, 127 * 4 + strlen(last)
 * bytes (the items differ: a repeated one is kept once). */
static void roles_array(char *buf, size_t cap, const char *last)
{
    size_t k = (size_t)snprintf(buf, cap, "{\"active\":true,\"roles\":[");
    for (int i = 0; i < 127; i++)
        k += (size_t)snprintf(buf + k, cap - k, "\"%03d\",", i);
    k += (size_t)snprintf(buf + k, cap - k, "\"%s\"]}", last);
    assert_true(k < cap);
}

static void test_parse_lengths(void **state)
{
    char doc[2048];
    struct gw_jwt_claims c;
    (void)state;

    long_member(doc, sizeof(doc), "sub", GW_JWT_SUB_MAX - 1);
    assert_int_equal(parse(doc, NULL, NULL, &c), 0);
    assert_int_equal(strlen(c.sub), GW_JWT_SUB_MAX - 1);
    long_member(doc, sizeof(doc), "sub", GW_JWT_SUB_MAX);
    assert_int_equal(parse(doc, NULL, NULL, &c), GW_EJWTCLAIM);
    long_member(doc, sizeof(doc), "iss", GW_JWT_ISS_MAX - 1);
    assert_int_equal(parse(doc, NULL, NULL, &c), 0);
    long_member(doc, sizeof(doc), "iss", GW_JWT_ISS_MAX);
    assert_int_equal(parse(doc, NULL, NULL, &c), GW_EJWTCLAIM);
    long_member(doc, sizeof(doc), "scope", GW_JWT_LIST_MAX - 1);
    assert_int_equal(parse(doc, NULL, "scope", &c), 0);
    assert_int_equal(strlen(c.perms), GW_JWT_LIST_MAX - 1);
    long_member(doc, sizeof(doc), "scope", GW_JWT_LIST_MAX);
    assert_int_equal(parse(doc, NULL, "scope", &c), GW_EJWTCLAIM);
    assert_string_equal(c.perms, "");
    /* Many short items: joined with spaces they must fit too. */
    roles_array(doc, sizeof(doc), "abc");
    assert_int_equal(parse(doc, "roles", NULL, &c), 0);
    assert_int_equal(strlen(c.roles), GW_JWT_LIST_MAX - 1);
    roles_array(doc, sizeof(doc), "abcd");
    assert_int_equal(parse(doc, "roles", NULL, &c), GW_EJWTCLAIM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_plain_token),
        cmocka_unit_test(test_body_reserved_bytes),
        cmocka_unit_test(test_body_every_byte),
        cmocka_unit_test(test_body_invalid),
        cmocka_unit_test(test_parse_active),
        cmocka_unit_test(test_parse_inactive),
        cmocka_unit_test(test_parse_active_not_boolean),
        cmocka_unit_test(test_parse_invalid_json),
        cmocka_unit_test(test_parse_claim_types),
        cmocka_unit_test(test_parse_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
