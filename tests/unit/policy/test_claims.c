/*
 * Unit tests for src/policy/claims.c: finding a claim by exact name or dotted path, the union
 * of several roles/permissions claims, and which required claim is missing. (The same readers
 * seen through gw_jwt_verify: test_jwt.c; through gw_introspect_parse: test_introspect.c.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/error.h"
#include "policy/claims.h"

static json_t *doc(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    if (j == NULL)
        fail_msg("bad test JSON %s: %s", text, err.text);
    return j;
}

/* The union of the claims names[0..n) of text; returns the code, the list in dst. */
static int lists(const char *text, char *const *names, size_t n, char *dst, size_t cap,
                 const char **bad)
{
    const struct gw_claim_names cn = {names, n};
    json_t *j = doc(text);
    int rc = gw_claim_lists(j, &cn, dst, cap, bad);
    json_decref(j);
    return rc;
}

static const char *missing(const char *text, char *const *names, size_t n)
{
    static char out[64];
    const struct gw_claim_names cn = {names, n};
    json_t *j = doc(text);
    const char *m = gw_claim_first_missing(j, &cn);
    snprintf(out, sizeof out, "%s", m ? m : "(none)");
    json_decref(j);
    return out;
}

static void test_get_exact_and_dotted(void **state)
{
    (void)state;
    json_t *j = doc("{\"roles\":[\"a\"],\"realm_access\":{\"roles\":[\"b\"],\"n\":{\"x\":1}},"
                    "\"https://example.com/roles\":\"c\",\"a.b\":1,\"a\":{\"b\":2},"
                    "\"list\":[{\"x\":1}],\"s\":\"str\"}");

    assert_true(json_is_array(gw_claim_get(j, "roles")));
    assert_string_equal(json_string_value(json_array_get(gw_claim_get(j, "realm_access.roles"), 0)),
                        "b");
    assert_int_equal(json_integer_value(gw_claim_get(j, "realm_access.n.x")), 1);
    /* A URL-shaped name is a member of that exact name, though it holds dots. */
    assert_string_equal(json_string_value(gw_claim_get(j, "https://example.com/roles")), "c");
    /* The exact member wins over the path. */
    assert_int_equal(json_integer_value(gw_claim_get(j, "a.b")), 1);
    /* Paths lead nowhere through arrays, strings or missing members, nor with empty steps. */
    assert_null(gw_claim_get(j, "list.0.x"));
    assert_null(gw_claim_get(j, "s.x"));
    assert_null(gw_claim_get(j, "realm_access.nope"));
    assert_null(gw_claim_get(j, "realm_access.roles.x"));
    assert_null(gw_claim_get(j, "realm_access..roles"));
    assert_null(gw_claim_get(j, ".roles"));
    assert_null(gw_claim_get(j, "realm_access."));
    assert_null(gw_claim_get(j, "."));
    assert_null(gw_claim_get(j, "nope"));
    assert_null(gw_claim_get(j, ""));
    json_decref(j);
}

static void test_lists_union(void **state)
{
    static char *const names[] = {"roles", "role", "scope", "realm_access.roles"};
    char out[512];
    const char *bad = "untouched";
    (void)state;

    /* In claim order, each item once, spaces collapsed. */
    assert_int_equal(lists("{\"roles\":[\"admin\",\"ops\"],\"role\":\"ops\",\"scope\":\"  openid  "
                           "admin read \",\"realm_access\":{\"roles\":[\"ops\",\"kc\"]}}",
                           names, 4, out, sizeof out, &bad),
                     0);
    assert_string_equal(out, "admin ops openid read kc");
    assert_null(bad);
    /* Only some claims present; none present; a repeated item inside one claim. */
    assert_int_equal(lists("{\"scope\":\"read read\"}", names, 4, out, sizeof out, NULL), 0);
    assert_string_equal(out, "read");
    assert_int_equal(lists("{\"groups\":[\"x\"]}", names, 4, out, sizeof out, NULL), 0);
    assert_string_equal(out, "");
    /* No names, or no list of names: nothing read. */
    assert_int_equal(lists("{\"roles\":{}}", names, 0, out, sizeof out, NULL), 0);
    assert_string_equal(out, "");
    json_t *j = doc("{\"roles\":[\"a\"]}");
    assert_int_equal(gw_claim_lists(j, NULL, out, sizeof out, NULL), 0);
    assert_string_equal(out, "");
    json_decref(j);
    /* Items that are prefixes of each other are distinct. */
    assert_int_equal(lists("{\"roles\":[\"ad\",\"admin\"],\"scope\":\"adm admin ad\"}", names, 4,
                           out, sizeof out, NULL),
                     0);
    assert_string_equal(out, "ad admin adm");
}

static void test_lists_refused(void **state)
{
    static char *const names[] = {"roles", "scope", "realm_access.roles"};
    static const struct {
        const char *text, *bad;
    } cases[] = {
        {"{\"roles\":{}}", "roles"},
        {"{\"roles\":null}", "roles"},
        {"{\"roles\":5}", "roles"},
        {"{\"roles\":[\"a\",1]}", "roles"},
        {"{\"roles\":[\"user admin\"]}", "roles"},
        {"{\"roles\":[\"\"]}", "roles"},
        {"{\"roles\":[\"a\"],\"scope\":\"read\\twrite\"}", "scope"},
        {"{\"roles\":[\"a\"],\"realm_access\":{\"roles\":true}}", "realm_access.roles"},
        {"{\"realm_access\":{\"roles\":[\"a\\u007fb\"]}}", "realm_access.roles"},
    };
    char out[512];
    const char *bad;
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bad = NULL;
        assert_int_equal(lists(cases[i].text, names, 3, out, sizeof out, &bad), GW_EJWTCLAIM);
        assert_non_null(bad);
        assert_string_equal(bad, cases[i].bad);
        assert_string_equal(out, "");
    }
    /* A path that does not lead to a value adds nothing, whatever is on the way. */
    assert_int_equal(lists("{\"realm_access\":[1,2]}", names, 3, out, sizeof out, NULL), 0);
    assert_string_equal(out, "");
}

static void test_lists_capacity(void **state)
{
    static char *const names[] = {"roles", "scope"};
    char out[12];
    const char *bad = NULL;
    (void)state;

    /* "aaa bbb ccc" is 11 bytes: it fits 12 with its NUL, across two claims. */
    assert_int_equal(
        lists("{\"roles\":[\"aaa\",\"bbb\"],\"scope\":\"ccc\"}", names, 2, out, sizeof out, &bad),
        0);
    assert_string_equal(out, "aaa bbb ccc");
    /* A repeated item costs nothing. */
    assert_int_equal(lists("{\"roles\":[\"aaa\",\"bbb\"],\"scope\":\"ccc aaa bbb\"}", names, 2, out,
                           sizeof out, &bad),
                     0);
    assert_string_equal(out, "aaa bbb ccc");
    /* One more byte: refused (never truncated), the claim that overflowed named. */
    assert_int_equal(
        lists("{\"roles\":[\"aaa\",\"bbb\"],\"scope\":\"cccc\"}", names, 2, out, sizeof out, &bad),
        GW_EJWTCLAIM);
    assert_string_equal(bad, "scope");
    assert_string_equal(out, "");
}

static void test_first_missing(void **state)
{
    static char *const names[] = {"sub", "org.id", "tenant"};
    static char *const one[] = {"sub"};
    (void)state;

    assert_string_equal(
        missing("{\"sub\":\"u\",\"org\":{\"id\":\"a\"},\"tenant\":\"t\"}", names, 3), "(none)");
    /* Empty values count as missing. */
    assert_string_equal(missing("{\"sub\":null}", one, 1), "sub");
    assert_string_equal(missing("{\"sub\":\"\"}", one, 1), "sub");
    assert_string_equal(missing("{\"sub\":[]}", one, 1), "sub");
    assert_string_equal(missing("{\"sub\":{}}", one, 1), "sub");
    assert_string_equal(missing("{}", one, 1), "sub");
    /* Any other value counts as present. */
    assert_string_equal(missing("{\"sub\":0}", one, 1), "(none)");
    assert_string_equal(missing("{\"sub\":false}", one, 1), "(none)");
    assert_string_equal(missing("{\"sub\":\" \"}", one, 1), "(none)");
    assert_string_equal(missing("{\"sub\":[null]}", one, 1), "(none)");
    assert_string_equal(missing("{\"sub\":{\"a\":null}}", one, 1), "(none)");
    /* The first missing one in the configured order; dotted paths. */
    assert_string_equal(missing("{}", names, 3), "sub");
    assert_string_equal(missing("{\"sub\":\"u\",\"tenant\":\"t\"}", names, 3), "org.id");
    assert_string_equal(missing("{\"sub\":\"u\",\"org\":{\"name\":\"a\"}}", names, 3), "org.id");
    assert_string_equal(missing("{\"sub\":\"u\",\"org\":{\"id\":\"a\"}}", names, 3), "tenant");
    assert_string_equal(missing("{\"sub\":\"u\",\"org.id\":7,\"tenant\":\"t\"}", names, 3),
                        "(none)");
    /* Nothing required. */
    assert_string_equal(missing("{}", names, 0), "(none)");
    json_t *j = doc("{}");
    assert_null(gw_claim_first_missing(j, NULL));
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_exact_and_dotted), cmocka_unit_test(test_lists_union),
        cmocka_unit_test(test_lists_refused),        cmocka_unit_test(test_lists_capacity),
        cmocka_unit_test(test_first_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
