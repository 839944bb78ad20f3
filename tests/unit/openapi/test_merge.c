/* Unit tests for src/openapi/merge.c: merging the services' OpenAPI documents. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config-t.h"
#include "openapi/merge.h"

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    if (v == NULL)
        fail_msg("bad test JSON: %s", e.text);
    return v;
}

static const struct gw_openapi_info info = {"gw", "9", "https://gw.test"};

/* The string at a path of object keys. */
static const char *str_at(const json_t *v, int n, ...)
{
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n && v; i++)
        v = json_object_get(v, va_arg(ap, const char *));
    va_end(ap);
    return json_string_value(v);
}

static void test_check(void **state)
{
    (void)state;
    json_t *v = parse("{\"openapi\": \"3.0.1\", \"paths\": {}}");
    assert_null(gw_openapi_check(v));
    json_decref(v);
    v = parse("{\"swagger\": \"2.0\"}");
    assert_non_null(gw_openapi_check(v));
    json_decref(v);
    v = parse("{\"openapi\": \"3.1.0\", \"paths\": []}");
    assert_string_equal(gw_openapi_check(v), "\"paths\" is not an object");
    json_decref(v);
    v = parse("[1]");
    assert_string_equal(gw_openapi_check(v), "not a JSON object");
    json_decref(v);
}

static void test_namespaces_and_mounts(void **state)
{
    (void)state;
    json_t *a = parse(
        "{\"openapi\": \"3.0.3\", \"servers\": [{\"url\": \"http://h:1/base/\"}],"
        " \"paths\": {\"/\": {\"get\": {\"operationId\": \"root\"}},"
        "  \"/x\": {\"$ref\": \"#/components/pathItems/X\"},"
        "  \"/y\": {\"get\": {\"responses\": {\"200\": {\"$ref\": \"#/components/responses/R\"}},"
        "   \"callbacks\": {\"c\": {\"$ref\": \"other.yaml#/components/schemas/S\"}}}}},"
        " \"components\": {\"responses\": {\"R\": {\"description\": \"r\", \"content\": "
        "  {\"a/b\": {\"schema\": {\"$ref\": \"#/components/schemas/S~1T\"}}}}},"
        "  \"schemas\": {\"S/T\": {\"type\": \"string\"}},"
        "  \"pathItems\": {\"X\": {\"get\": {}}},"
        "  \"securitySchemes\": {\"k\": {\"type\": \"http\", \"scheme\": \"basic\"}}}}");
    json_t *b = parse("{\"openapi\": \"3.0.3\", \"servers\": [{\"url\": \"{scheme}://h/v\"}],"
                      " \"paths\": {\"/y\": {\"get\": {}, \"post\": {}}}}");
    struct gw_openapi_service svcs[] = {
        {.name = "a", .mount = "/pub", .doc = a},
        {.name = "nodoc", .mount = "", .doc = NULL},
        {.name = "b", .mount = "/pub/base", .doc = b},
    };
    json_t *m = NULL;
    assert_int_equal(gw_openapi_merge(&info, svcs, 3, &m), 0);
    assert_string_equal(str_at(m, 1, "openapi"), "3.0.3");
    assert_string_equal(str_at(m, 2, "info", "title"), "gw");
    const json_t *paths = json_object_get(m, "paths");
    assert_int_equal(json_object_size(paths), 3);
    assert_string_equal(str_at(paths, 3, "/pub/base", "get", "operationId"), "a.root");
    assert_string_equal(str_at(paths, 2, "/pub/base/x", "$ref"), "#/components/pathItems/a.X");
    assert_string_equal(str_at(paths, 5, "/pub/base/y", "get", "responses", "200", "$ref"),
                        "#/components/responses/a.R");
    /* a reference to another document stays as it is */
    assert_string_equal(str_at(paths, 5, "/pub/base/y", "get", "callbacks", "c", "$ref"),
                        "other.yaml#/components/schemas/S");
    /* b's server URL has a variable (no base path); its /y meets a's: methods joined, a's kept */
    assert_non_null(json_object_get(json_object_get(paths, "/pub/base/y"), "post"));
    const json_t *c = json_object_get(m, "components");
    assert_string_equal(str_at(c, 6, "responses", "a.R", "content", "a/b", "schema", "$ref"),
                        "#/components/schemas/a.S~1T");
    assert_non_null(json_object_get(json_object_get(c, "schemas"), "a.S/T"));
    /* upstream security schemes are not carried; no auth: no security at all */
    assert_null(json_object_get(c, "securitySchemes"));
    json_decref(m);
    /* the inputs were not touched */
    assert_string_equal(str_at(a, 3, "paths", "/x", "$ref"), "#/components/pathItems/X");
    json_decref(a);
    json_decref(b);
}

static void test_security(void **state)
{
    (void)state;
    json_t *a = parse("{\"openapi\": \"3.1.0\", \"paths\": {\"/p\": {\"get\": {\"security\": "
                      "[{\"up\": []}]}, \"put\": {}, \"parameters\": []}}}");
    struct gw_openapi_service svcs[] = {
        {.name = "s",
         .mount = "",
         .doc = a,
         .auth = GW_AUTH_JWT | GW_AUTH_API_KEY,
         .auth_required = true,
         .api_key_header = "x-key"},
    };
    json_t *m = NULL;
    assert_int_equal(gw_openapi_merge(&info, svcs, 1, &m), 0);
    assert_string_equal(str_at(m, 1, "openapi"), "3.1.0");
    json_t *want = parse("[{\"s.bearer\": []}, {\"s.apiKey\": []}]");
    const json_t *p = json_object_get(json_object_get(m, "paths"), "/p");
    assert_true(json_equal(json_object_get(json_object_get(p, "get"), "security"), want));
    assert_true(json_equal(json_object_get(json_object_get(p, "put"), "security"), want));
    json_decref(want);
    const json_t *ss = json_object_get(json_object_get(m, "components"), "securitySchemes");
    assert_string_equal(str_at(ss, 2, "s.apiKey", "name"), "x-key");
    assert_string_equal(str_at(ss, 2, "s.bearer", "bearerFormat"), "JWT");
    json_decref(m);
    /* introspection: bearer without a format; optional auth adds the empty alternative */
    svcs[0].auth = GW_AUTH_INTROSPECTION;
    svcs[0].auth_required = false;
    assert_int_equal(gw_openapi_merge(&info, svcs, 1, &m), 0);
    want = parse("[{\"s.bearer\": []}, {}]");
    p = json_object_get(json_object_get(m, "paths"), "/p");
    assert_true(json_equal(json_object_get(json_object_get(p, "get"), "security"), want));
    json_decref(want);
    ss = json_object_get(json_object_get(m, "components"), "securitySchemes");
    assert_null(json_object_get(json_object_get(ss, "s.bearer"), "bearerFormat"));
    json_decref(m);
    json_decref(a);
}

static void test_empty(void **state)
{
    (void)state;
    json_t *m = NULL;
    assert_int_equal(gw_openapi_merge(&info, NULL, 0, &m), 0);
    assert_int_equal(json_object_size(json_object_get(m, "paths")), 0);
    assert_null(json_object_get(m, "tags"));
    assert_string_equal(str_at(json_array_get(json_object_get(m, "servers"), 0), 1, "url"),
                        "https://gw.test");
    json_decref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_namespaces_and_mounts),
        cmocka_unit_test(test_security),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
