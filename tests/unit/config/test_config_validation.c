/* Unit tests for src/config/config_validation.c: the "validation" sections load with their
 * defaults and inheritance, schemas compile at load, and every problem in a schema is reported
 * at its position and key path (inline, or in its schema file). */
#include "config_test.h"

#include <fcntl.h>
#include <unistd.h>

#include "config/config-t.h"
#include "policy/jschema.h"

static void test_loads_and_inherits(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(
        "{\"validation\": {\"max_body_bytes\": \"1KiB\", \"max_errors\": 3,"
        " \"rules\": [{\"match\": {\"prefix\": \"/p/a\"}, \"schema\": true}]},"
        " \"services\": [{\"name\": \"s\", \"prefix\": \"/p\", \"targets\": [\"http://h:1\"],"
        "  \"validation\": {\"rules\": [{\"match\": {\"prefix\": \"/p\", \"methods\": \"POST\"},"
        "   \"schema\": {\"type\": \"object\", \"pattern\": \"^${NOT_AN_ENV}$\"}}]}},"
        " {\"name\": \"t\", \"prefix\": \"/t\", \"targets\": [\"http://h:1\"],"
        "  \"validation\": false},"
        " {\"name\": \"u\", \"prefix\": \"/u\", \"targets\": [\"http://h:1\"],"
        "  \"validation\": {\"inherit\": false, \"max_errors\": 50}}]}");
    assert_int_equal(cfg->validation.max_body_bytes, 1024);
    assert_int_equal(cfg->validation.nrules, 1);
    assert_non_null(cfg->validation.rules[0].schema);
    const struct gw_validation_conf *v = &cfg->services[0].validation;
    assert_true(v->enabled && v->inherit);
    assert_int_equal(v->max_body_bytes, 1024); /* inherited */
    assert_int_equal(v->max_errors, 3);
    assert_int_equal(v->nrules, 1);
    assert_non_null(v->rules[0].schema);
    assert_int_equal(v->rules[0].match.nprefixes, 1);
    assert_false(cfg->services[1].validation.enabled);
    assert_false(cfg->services[2].validation.inherit);
    assert_int_equal(cfg->services[2].validation.max_errors, 50);
    gw_config_free(cfg);

    cfg = load_ok(SVC("\"validation\": {}"));
    assert_int_equal(cfg->services[0].validation.max_body_bytes, 65536);
    assert_int_equal(cfg->services[0].validation.max_errors, 10);
    gw_config_free(cfg);
}

static void test_schema_errors_point_at_the_keyword(void **state)
{
    (void)state;
    expect_one(SVC("\"validation\": {\"rules\": [{\"match\": {}, \"schema\": {\"properties\": "
                   "{\"a\": {\"format\": \"email\"}}}}]}"),
               "\"format\"",
               "services[0].validation.rules[0].schema.properties.a.format: unknown or "
               "unsupported keyword \"format\" (gantry enforces type, enum, const, minimum, "
               "maximum, exclusiveMinimum, exclusiveMaximum, minLength, maxLength, pattern, "
               "required, properties, additionalProperties, items, prefixItems, minItems, "
               "maxItems, $ref, $defs)");
    expect_one(SVC("\"validation\": {\"rules\": [{\"match\": {}, \"schema\": {\"type\": "
                   "[\"string\", 3]}}]}"),
               "3]",
               "services[0].validation.rules[0].schema.type[1]: unknown type (one of null, "
               "boolean, object, array, number, string, integer)");
    expect_one(SVC("\"validation\": {\"rules\": [{\"match\": {}, \"schema\": 7}]}"), "7}",
               "services[0].validation.rules[0].schema: a schema must be an object or a boolean");
    expect_one(SVC("\"validation\": {\"rules\": [{\"match\": {}}]}"), "{\"match",
               "services[0].validation.rules[0]: a rule needs \"schema\" (inline) or "
               "\"schema_file\"");
    expect_one(SVC("\"validation\": {\"max_errors\": 0}"), "0}",
               "services[0].validation.max_errors: must be between 1 and 50");
}

static void test_schema_file(void **state)
{
    (void)state;
    char path[] = "/tmp/gw-schema-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *schema = "{\n  \"type\": \"object\",\n  \"maxItems\": -1\n}\n";
    assert_int_equal(write(fd, schema, strlen(schema)), (ssize_t)strlen(schema));
    close(fd);
    char text[512], expected[512];
    snprintf(text, sizeof text,
             SVC("\"validation\": {\"rules\": [{\"match\": {}, \"schema_file\": \"%s\"}]}"), path);
    snprintf(expected, sizeof expected,
             "%s:3:15: maxItems: maxItems must be a non-negative integer\n", path);
    expect_errors(text, expected);

    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    schema = "{\"type\": \"object\"}";
    assert_int_equal(write(fd, schema, strlen(schema)), (ssize_t)strlen(schema));
    close(fd);
    struct gw_config *cfg = load_ok(text);
    assert_non_null(cfg->services[0].validation.rules[0].schema);
    gw_config_free(cfg);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loads_and_inherits),
        cmocka_unit_test(test_schema_errors_point_at_the_keyword),
        cmocka_unit_test(test_schema_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
