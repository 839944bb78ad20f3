/*
 * Unit tests for a service's "auth" object (on/off, methods, rules, roles and permissions;
 * src/config/config_auth.c): every accepted value, and every error with its exact position and
 * key path. The root's "auth" section is in test_config_auth_policy.c.
 */
#include "policy_test.h"

/* ---- a service's auth ------------------------------------------------------------------------ */

static void test_service_auth_on_off(void **state)
{
    (void)state;
    /* absent and false: off */
    struct gw_config *cfg = load_ok(WITH_SVC(JWT_ROOT, "\"strip_prefix\": false"));
    assert_false(cfg->services[0].auth.enabled);
    gw_config_free(cfg);
    cfg = load_ok(WITH_SVC(JWT_ROOT, "\"auth\": false"));
    assert_false(cfg->services[0].auth.enabled);
    gw_config_free(cfg);
    /* Off needs no method configured either. */
    cfg = load_ok(SVC("\"auth\": false"));
    assert_false(cfg->services[0].auth.enabled);
    gw_config_free(cfg);

    /* true: on, required, every configured method */
    cfg = load_ok(WITH_SVC(JWT_ROOT, "\"auth\": true"));
    const struct gw_service_auth_conf *a = &cfg->services[0].auth;
    assert_true(a->enabled);
    assert_true(a->required);
    assert_int_equal(a->methods, GW_AUTH_JWT);
    assert_int_equal(a->nroles, 0);
    assert_int_equal(a->npermissions, 0);
    assert_int_equal(a->npublic_paths, 0);
    assert_int_equal(a->nrules, 0);
    gw_config_free(cfg);

    cfg = load_ok(WITH_SVC("\"auth\": {\"jwt\": {\"jwks_url\": \"http://idp/jwks\"}, "
                           "\"consumers\": [{\"id\": \"c\", \"api_keys\": \"" HASH_A "\"}], "
                           "\"introspection\": {\"url\": \"http://idp/i\"}}",
                           "\"auth\": {}"));
    assert_int_equal(cfg->services[0].auth.methods,
                     GW_AUTH_JWT | GW_AUTH_API_KEY | GW_AUTH_INTROSPECTION);
    gw_config_free(cfg);

    cfg = load_ok(WITH_SVC("\"auth\": {\"consumers\": [{\"id\": \"c\"}], \"introspection\": "
                           "{\"url\": \"http://idp/i\"}}",
                           "\"auth\": {\"methods\": \"api_key\"}"));
    assert_int_equal(cfg->services[0].auth.methods, GW_AUTH_API_KEY);
    gw_config_free(cfg);

    cfg = load_ok(WITH_SVC("\"auth\": {\"consumers\": [{\"id\": \"c\"}], \"introspection\": "
                           "{\"url\": \"http://idp/i\"}}",
                           "\"auth\": {\"methods\": [\"introspection\", \"api_key\"]}"));
    assert_int_equal(cfg->services[0].auth.methods, GW_AUTH_API_KEY | GW_AUTH_INTROSPECTION);
    gw_config_free(cfg);

    /* Not required and no rules: nothing to check with, nothing needed. */
    cfg = load_ok(SVC("\"auth\": {\"required\": false}"));
    assert_true(cfg->services[0].auth.enabled);
    assert_false(cfg->services[0].auth.required);
    assert_int_equal(cfg->services[0].auth.methods, 0);
    gw_config_free(cfg);
}

static void test_service_auth_full(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(
        WITH_SVC(JWT_ROOT,
                 "\"auth\": {\"required\": true, \"methods\": [\"jwt\"], \"roles\": [\"user\", "
                 "\"admin\"], \"permissions\": \"orders:read\", \"public_paths\": [\"/p/health/\", "
                 "\"/p/docs\"], \"rules\": [{\"match\": {\"prefix\": [\"/p/admin\"], \"methods\": "
                 "[\"DELETE\", \"put\"]}, \"roles\": [\"admin\", \"ops\"], \"permissions\": "
                 "[\"a:w\", \"b:w\"]}, {\"match\": {\"prefix\": \"/p/status\"}, \"required\": "
                 "false}]}"));
    const struct gw_service_auth_conf *a = &cfg->services[0].auth;
    assert_true(a->enabled);
    assert_true(a->required);
    assert_int_equal(a->methods, GW_AUTH_JWT);
    assert_int_equal(a->nroles, 2);
    assert_string_equal(a->roles[0], "user");
    assert_string_equal(a->roles[1], "admin");
    assert_int_equal(a->npermissions, 1);
    assert_string_equal(a->permissions[0], "orders:read");
    assert_int_equal(a->npublic_paths, 2);
    assert_string_equal(a->public_paths[0], "/p/health");
    assert_string_equal(a->public_paths[1], "/p/docs");
    assert_int_equal(a->nrules, 2);
    const struct gw_auth_rule_conf *r = &a->rules[0];
    assert_int_equal(r->match.nprefixes, 1);
    assert_string_equal(r->match.prefixes[0], "/p/admin");
    assert_int_equal(r->match.methods, (1u << GW_METHOD_DELETE) | (1u << GW_METHOD_PUT));
    assert_true(r->required);
    assert_int_equal(r->nroles, 2);
    assert_string_equal(r->roles[1], "ops");
    assert_int_equal(r->npermissions, 2);
    assert_string_equal(r->permissions[1], "b:w");
    r = &a->rules[1];
    assert_string_equal(r->match.prefixes[0], "/p/status");
    assert_int_equal(r->match.methods, 0);
    assert_false(r->required);
    assert_int_equal(r->nroles, 0);
    gw_config_free(cfg);
}

#define SA "services[0].auth"
#define NO_METHOD                                                                                  \
    "requires authentication, but the gateway's auth section configures no method (auth.jwt, "     \
    "auth.consumers or auth.introspection)"

static void test_service_auth_errors(void **state)
{
    (void)state;
    /* a method that is not configured: the message says what to add */
    expect_one(WITH_SVC(JWT_ROOT, "\"auth\": {\"methods\": [\"jwt\", \"introspection\"]}"),
               "[\"jwt\", \"introspection\"]",
               SA ".methods: \"introspection\" is not configured (add auth.introspection.url)");
    expect_one(WITH_SVC(JWT_ROOT, "\"auth\": {\"methods\": \"api_key\"}"), "\"api_key\"",
               SA ".methods: \"api_key\" is not configured (add auth.consumers with api_keys)");
    expect_one(WITH_SVC("\"auth\": {\"consumers\": [{\"id\": \"c\"}]}",
                        "\"auth\": {\"methods\": \"jwt\"}"),
               "\"jwt\"}}",
               SA ".methods: \"jwt\" is not configured (add auth.jwt.keys or auth.jwt.jwks_url)");
    expect_one(SVC("\"auth\": {\"methods\": \"jwt\"}"), "\"jwt\"",
               SA ".methods: \"jwt\" is not configured (add auth.jwt.keys or auth.jwt.jwks_url)");

    /* authentication required, or rules, with no method configured at all */
    expect_one(SVC("\"auth\": true"), "true", SA ": " NO_METHOD);
    expect_one(SVC("\"auth\": {}"), "{}", SA ": " NO_METHOD);
    expect_one(SVC("\"auth\": {\"roles\": \"admin\"}"), "{\"roles\"", SA ": " NO_METHOD);
    expect_one(SVC("\"auth\": {\"required\": false, \"rules\": [{\"match\": {\"prefix\": "
                   "\"/p/admin\"}}]}"),
               "{\"required\"", SA ": " NO_METHOD);

    /* methods themselves */
    expect_one(WITH_SVC(JWT_ROOT, "\"auth\": {\"methods\": [\"jwt\", \"oauth\"]}"), "\"oauth\"",
               SA ".methods[1]: unknown method \"oauth\" (expected \"jwt\", \"api_key\", "
                  "\"introspection\" or \"mtls\")");
    /* A "methods" that fails to parse is also reported as "requires authentication, but the
     * gateway's auth section configures no method", which is not true here (jwt is). */
    expect_contains(WITH_SVC(JWT_ROOT, "\"auth\": {\"methods\": 1}"), "1}",
                    SA ".methods: expected a string or an array of strings, got an integer");
    expect_contains(WITH_SVC(JWT_ROOT, "\"auth\": {\"methods\": []}"), "[]",
                    SA ".methods: must not be empty");
    expect_contains(WITH_SVC(JWT_ROOT, "\"auth\": {\"methods\": [\"oauth\"]}"), "\"oauth\"",
                    SA ".methods[0]: unknown method \"oauth\" (expected \"jwt\", \"api_key\", "
                       "\"introspection\" or \"mtls\")");

    /* public_paths are checked like prefixes */
    expect_one(WITH_SVC(JWT_ROOT, "\"auth\": {\"public_paths\": \"health\"}"), "\"health\"",
               SA ".public_paths: \"health\": a prefix must start with \"/\"");
    expect_one(WITH_SVC(JWT_ROOT, "\"auth\": {\"public_paths\": [\"/ok\", \"/a?b\"]}"), "\"/a?b\"",
               SA ".public_paths[1]: \"/a?b\": a prefix must not contain \"?\"");
    expect_one(WITH_SVC(JWT_ROOT, "\"auth\": {\"public_paths\": [\"/x\", \"/x/\"]}"), "\"/x/\"",
               SA ".public_paths[1]: \"/x\" is listed twice");
    expect_one(WITH_SVC(JWT_ROOT, "\"auth\": {\"public_paths\": [\"//x\"]}"), "\"//x\"",
               SA ".public_paths[0]: \"//x\": a prefix must not contain \"//\"");

    /* rules */
    expect_one(WITH_SVC(JWT_ROOT, "\"auth\": {\"rules\": [{\"roles\": \"admin\"}]}"), "{\"roles\"",
               SA ".rules[0].match: required key \"match\" is missing");
    expect_one(WITH_SVC(JWT_ROOT, "\"auth\": {\"rules\": [{\"match\": {\"prefix\": []}}]}"), "[]}",
               SA ".rules[0].match.prefix: must not be empty");
    expect_one(WITH_SVC(JWT_ROOT, "\"auth\": {\"rules\": [{\"match\": {\"methods\": "
                                  "\"GETS\"}}]}"),
               "\"GETS\"",
               SA ".rules[0].match.methods: unknown method \"GETS\" (expected " METHOD_LIST ")");
    expect_one(WITH_SVC(JWT_ROOT, "\"auth\": {\"rules\": [{\"match\": {}, \"roles\": [\"a "
                                  "b\"]}]}"),
               "\"a b\"", SA ".rules[0].roles[0]: \"a b\"" WORD_RULE);
    expect_one(WITH_SVC(JWT_ROOT, "\"auth\": {\"rules\": [{\"match\": {}, \"required\": 0}]}"),
               "0}", SA ".rules[0].required: expected a boolean, got an integer");
    expect_one(WITH_SVC(JWT_ROOT, "\"auth\": {\"rules\": [\"/admin\"]}"), "\"/admin\"",
               SA ".rules[0]: expected a rule object, got a string");

    /* other keys */
    expect_one(WITH_SVC(JWT_ROOT, "\"auth\": {\"roles\": [\"admin\", \"admin\"]}"), "\"admin\"]",
               SA ".roles[1]: \"admin\" is listed twice");
    expect_one(WITH_SVC(JWT_ROOT, "\"auth\": {\"permissions\": \"a\\\\b\"}"), "\"a\\\\b\"",
               SA ".permissions: \"a\\\\b\"" WORD_RULE);
    expect_one(WITH_SVC(JWT_ROOT, "\"auth\": {\"role\": \"admin\"}"), "\"role\"",
               SA ".role: unknown key \"role\" (did you mean \"roles\"?)");
    expect_one(WITH_SVC(JWT_ROOT, "\"auth\": [\"jwt\"]"), "[\"jwt\"]",
               SA ": expected an object or a boolean, got an array");
}

int main(void)
{
    unsetenv("GATEWAY_PORT");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_service_auth_on_off),
        cmocka_unit_test(test_service_auth_full),
        cmocka_unit_test(test_service_auth_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
