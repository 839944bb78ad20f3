/* Unit tests for src/policy/jschema.c: every supported keyword passes and fails where draft
 * 2020-12 says, errors carry the instance's JSON pointer and the failing keyword, and the
 * compiler refuses what it does not enforce with the key path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "policy/jschema.h"

static char last_err[1024];
static size_t nerrs;

static void on_err(void *ud, const struct gw_jschema_where *at, bool at_key, const char *msg)
{
    (void)ud;
    char path[512] = "";
    /* the chain runs from the error up to the root: build it backwards */
    const char *steps[32];
    size_t idx[32], n = 0;
    for (const struct gw_jschema_where *w = at; w && n < 32; w = w->up, n++) {
        steps[n] = w->key;
        idx[n] = w->index;
    }
    size_t len = 0;
    while (n-- > 0) {
        if (steps[n])
            len += (size_t)snprintf(path + len, sizeof path - len, ".%s", steps[n]);
        else
            len += (size_t)snprintf(path + len, sizeof path - len, "[%zu]", idx[n]);
    }
    snprintf(last_err, sizeof last_err, "%s%s: %s", path, at_key ? " (key)" : "", msg);
    nerrs++;
}

static struct gw_jschema *compile(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    assert_non_null(j);
    struct gw_jschema *s = NULL;
    last_err[0] = '\0';
    nerrs = 0;
    int rc = gw_jschema_compile(j, on_err, NULL, &s);
    json_decref(j);
    if (rc != 0)
        assert_null(s);
    return s;
}

/* Validates text against s; returns the errors as "pointer keyword" lines. */
static const char *run(const struct gw_jschema *s, const char *text, size_t max)
{
    static char out[2048];
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    assert_non_null(j);
    struct gw_jschema_result res = {.max = max};
    bool ok = gw_jschema_validate(s, j, &res);
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < res.count; i++)
        len += (size_t)snprintf(out + len, sizeof out - len, "%s%s %s", i ? "; " : "",
                                res.items[i].pointer, res.items[i].keyword);
    if (res.more)
        snprintf(out + len, sizeof out - len, "; ...");
    assert_true(ok == (res.count == 0));
    gw_jschema_result_free(&res);
    json_decref(j);
    return out;
}

static void test_types(void **unused)
{
    (void)unused;
    struct gw_jschema *s = compile("{\"type\": \"integer\"}");
    assert_non_null(s);
    assert_string_equal(run(s, "3", 10), "");
    assert_string_equal(run(s, "3.0", 10), ""); /* a number with no fraction is an integer */
    assert_string_equal(run(s, "3.5", 10), " type");
    assert_string_equal(run(s, "\"3\"", 10), " type");
    gw_jschema_free(s);

    s = compile("{\"type\": [\"string\", \"null\"]}");
    assert_string_equal(run(s, "null", 10), "");
    assert_string_equal(run(s, "\"x\"", 10), "");
    assert_string_equal(run(s, "true", 10), " type");
    gw_jschema_free(s);

    s = compile("{\"type\": \"number\"}");
    assert_string_equal(run(s, "7", 10), "");
    assert_string_equal(run(s, "[]", 10), " type");
    gw_jschema_free(s);

    s = compile("false");
    assert_string_equal(run(s, "1", 10), " false");
    gw_jschema_free(s);
    s = compile("true");
    assert_string_equal(run(s, "{\"a\": [1]}", 10), "");
    gw_jschema_free(s);
}

static void test_objects_and_pointers(void **unused)
{
    (void)unused;
    struct gw_jschema *s = compile(
        "{\"type\": \"object\", \"required\": [\"id\", \"items\"],"
        " \"properties\": {\"id\": {\"type\": \"string\", \"minLength\": 2},"
        "   \"items\": {\"type\": \"array\", \"minItems\": 1, \"maxItems\": 3,"
        "     \"items\": {\"type\": \"object\", \"properties\": {\"qty\": {\"type\": \"integer\","
        "        \"minimum\": 1, \"maximum\": 99}}, \"additionalProperties\": false}},"
        "   \"a/b~c\": {\"const\": 1}},"
        " \"additionalProperties\": {\"type\": \"string\"}}");
    assert_non_null(s);
    assert_string_equal(run(s, "{\"id\": \"ab\", \"items\": [{\"qty\": 2}], \"note\": \"x\"}", 10),
                        "");
    assert_string_equal(run(s, "{}", 10), " required;  required");
    assert_string_equal(run(s, "{\"id\": \"é\", \"items\": []}", 10),
                        "/id minLength; /items minItems");
    assert_string_equal(run(s,
                            "{\"id\": \"éé\", \"items\": [{\"qty\": 0}, {\"qty\": 100},"
                            " {\"qty\": 1, \"x\": 1}, {}]}",
                            10),
                        "/items maxItems; /items/0/qty minimum; /items/1/qty maximum;"
                        " /items/2/x additionalProperties");
    assert_string_equal(run(s, "{\"id\": \"ab\", \"items\": [{}], \"note\": 5, \"a/b~c\": 2}", 10),
                        "/note type; /a~1b~0c const");
    /* at most max errors, and it says there were more */
    assert_string_equal(run(s, "{\"id\": 1, \"items\": 1, \"n\": 1}", 2),
                        "/id type; /items type; ...");
    gw_jschema_free(s);
}

static void test_numbers_enum_const_pattern(void **unused)
{
    (void)unused;
    struct gw_jschema *s = compile("{\"exclusiveMinimum\": 0, \"exclusiveMaximum\": 1.5}");
    assert_string_equal(run(s, "1", 10), "");
    assert_string_equal(run(s, "0", 10), " exclusiveMinimum");
    assert_string_equal(run(s, "1.5", 10), " exclusiveMaximum");
    assert_string_equal(run(s, "\"text\"", 10), ""); /* numeric keywords ignore strings */
    gw_jschema_free(s);

    s = compile("{\"minimum\": 9007199254740993}"); /* exact for integers beyond 2^53 */
    assert_string_equal(run(s, "9007199254740992", 10), " minimum");
    assert_string_equal(run(s, "9007199254740993", 10), "");
    gw_jschema_free(s);

    s = compile("{\"enum\": [\"a\", 1, {\"k\": [null]}]}");
    assert_string_equal(run(s, "\"a\"", 10), "");
    assert_string_equal(run(s, "1.0", 10), ""); /* numbers compare by value */
    assert_string_equal(run(s, "{\"k\": [null]}", 10), "");
    assert_string_equal(run(s, "\"b\"", 10), " enum");
    gw_jschema_free(s);

    s = compile("{\"const\": null}");
    assert_string_equal(run(s, "null", 10), "");
    assert_string_equal(run(s, "0", 10), " const");
    gw_jschema_free(s);

    s = compile("{\"pattern\": \"^[A-Z]{2}-[0-9]+$\", \"maxLength\": 6}");
    assert_string_equal(run(s, "\"AB-12\"", 10), "");
    assert_string_equal(run(s, "\"ab-12\"", 10), " pattern");
    assert_string_equal(run(s, "\"AB-1234\"", 10), " maxLength");
    gw_jschema_free(s);

    s = compile("{\"pattern\": \"b\"}"); /* unanchored, as ECMA-262's search */
    assert_string_equal(run(s, "\"abc\"", 10), "");
    gw_jschema_free(s);
}

static void test_arrays_and_refs(void **unused)
{
    (void)unused;
    struct gw_jschema *s =
        compile("{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\", \"title\": \"t\","
                " \"$defs\": {\"node\": {\"type\": \"object\", \"properties\": {\"v\": {\"$ref\": "
                "\"#/$defs/val\"}, \"kids\": {\"type\": \"array\", \"items\": {\"$ref\": "
                "\"#/$defs/node\"}}}}, \"val\": {\"type\": \"integer\"}},"
                " \"type\": \"array\", \"prefixItems\": [{\"type\": \"string\"}],"
                " \"items\": {\"$ref\": \"#/$defs/node\"}}");
    assert_non_null(s);
    assert_string_equal(run(s, "[\"head\", {\"v\": 1, \"kids\": [{\"v\": 2}]}]", 10), "");
    assert_string_equal(run(s, "[1, {\"v\": 1, \"kids\": [{\"v\": \"x\"}]}]", 10),
                        "/0 type; /1/kids/0/v type");
    gw_jschema_free(s);

    /* recursion through "#" */
    s = compile("{\"type\": \"array\", \"items\": {\"$ref\": \"#\"}}");
    assert_string_equal(run(s, "[[], [[]]]", 10), "");
    assert_string_equal(run(s, "[[1]]", 10), "/0/0 type");
    /* deep nesting is refused, not a stack overflow */
    char deep[2 * 300 + 1];
    memset(deep, '[', 300);
    memset(deep + 300, ']', 300);
    deep[600] = '\0';
    assert_string_not_equal(run(s, deep, 1), "");
    gw_jschema_free(s);
}

static void test_compile_refusals(void **unused)
{
    (void)unused;
    assert_null(
        compile("{\"type\": \"object\", \"properties\": {\"a\": {\"format\": \"email\"}}}"));
    assert_non_null(strstr(last_err, ".properties.a.format (key): unknown or unsupported keyword"));
    assert_null(compile("{\"items\": [{}]}"));
    assert_non_null(strstr(last_err, ".items: items must be a schema"));
    assert_null(compile("{\"type\": [\"string\", \"strin\"]}"));
    assert_non_null(strstr(last_err, ".type[1]: unknown type"));
    assert_null(compile("{\"pattern\": \"(\"}"));
    assert_non_null(strstr(last_err, ".pattern: invalid pattern at offset 1"));
    assert_null(compile("{\"$ref\": \"http://x/y\"}"));
    assert_null(compile("{\"$ref\": \"#/$defs/missing\"}"));
    assert_non_null(strstr(last_err, "no \"missing\""));
    assert_null(compile(
        "{\"$defs\": {\"a\": {\"$ref\": \"#/$defs/b\"}, \"b\": {\"$ref\": \"#/$defs/a\"}}}"));
    assert_non_null(strstr(last_err, "$ref cycle"));
    assert_null(compile("{\"$ref\": \"#\"}"));
    assert_null(compile("{\"properties\": {\"a\": {\"$defs\": {}}}}"));
    assert_null(compile("{\"minLength\": -1}"));
    assert_null(compile("{\"minItems\": 3, \"maxItems\": 2}"));
    assert_null(compile("{\"required\": [\"a\", \"a\"]}"));
    assert_null(compile("[]"));
    /* every problem is reported, not only the first */
    assert_null(compile("{\"foo\": 1, \"bar\": 2, \"minimum\": \"x\"}"));
    assert_int_equal(nerrs, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_objects_and_pointers),
        cmocka_unit_test(test_numbers_enum_const_pattern),
        cmocka_unit_test(test_arrays_and_refs),
        cmocka_unit_test(test_compile_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
