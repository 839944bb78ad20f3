/*
 * Unit tests for the "registration" section of the config (src/config/config_registration.c):
 * off when absent, the boolean form, defaults, and its "defaults" checked as a service with
 * positions and key paths in the file.
 */
#include "config_test.h"

static void test_off_when_absent(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok("{}");
    assert_false(cfg->registration.enabled);
    assert_null(cfg->registration.defaults);
    gw_config_free(cfg);
}

static void test_true_gives_the_defaults(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok("{\"registration\": true}");
    assert_true(cfg->registration.enabled);
    assert_null(cfg->registration.defaults);
    assert_int_equal(cfg->registration.ttl_ms, 30000);
    assert_int_equal(cfg->registration.max_ttl_ms, 24ull * 3600 * 1000);
    assert_int_equal(cfg->registration.max_registrations, 10000);
    assert_int_equal(cfg->registration.publish_interval_ms, 100);
    gw_config_free(cfg);
}

static void test_values(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(
        "{\"registration\": {\"ttl\": \"1m\", \"max_ttl\": \"2h\", \"max_registrations\": 5, "
        "\"publish_interval\": 0, \"defaults\": {\"strip_prefix\": true, \"load_balancer\": "
        "{\"strategy\": \"least_connections\"}}}}");
    assert_true(cfg->registration.enabled);
    assert_int_equal(cfg->registration.ttl_ms, 60000);
    assert_int_equal(cfg->registration.max_ttl_ms, 7200000);
    assert_int_equal(cfg->registration.max_registrations, 5);
    assert_int_equal(cfg->registration.publish_interval_ms, 0);
    assert_non_null(cfg->registration.defaults);
    assert_true(json_is_true(json_object_get(cfg->registration.defaults, "strip_prefix")));
    gw_config_free(cfg);
}

static void test_defaults_are_checked_as_a_service(void **state)
{
    (void)state;
    const char *t = "{\"registration\": {\"defaults\": {\"strip_prefix\": 3}}}";
    expect_one(t, "3", "registration.defaults.strip_prefix: expected a boolean, got an integer");
    t = "{\"registration\": {\"defaults\": {\"load_balancer\": {\"strategy\": \"nope\"}}}}";
    struct gw_config *cfg = NULL;
    struct gw_config_errors errs;
    assert_int_equal(gw_config_load_string("t.json", t, strlen(t), &cfg, &errs), GW_ECONFIG);
    assert_int_equal(errs.count, 1);
    assert_string_equal(errs.items[0].path, "registration.defaults.load_balancer.strategy");
    assert_int_equal(errs.items[0].column, (int)(strstr(t, "\"nope\"") - t) + 1);
    gw_config_errors_free(&errs);
    t = "{\"registration\": {\"defaults\": {\"prefix\": \"/x\"}}}";
    expect_one(t, "\"prefix\"",
               "registration.defaults.prefix: \"prefix\" comes from each registration; leave it "
               "out of the defaults");
    t = "{\"registration\": {\"defaults\": {\"colour\": 1}}}";
    assert_int_equal(gw_config_load_string("t.json", t, strlen(t), &cfg, &errs), GW_ECONFIG);
    assert_string_equal(errs.items[0].path, "registration.defaults.colour");
    gw_config_errors_free(&errs);
    expect_one("{\"registration\": {\"defaults\": []}}", "[]",
               "registration.defaults: expected an object with the keys of a service "
               "(load_balancer, health_check, ...), got an array");
}

static void test_ranges(void **state)
{
    (void)state;
    struct gw_config *cfg = NULL;
    struct gw_config_errors errs;
    const char *t = "{\"registration\": {\"ttl\": \"2h\", \"max_ttl\": \"1h\"}}";
    assert_int_equal(gw_config_load_string("t.json", t, strlen(t), &cfg, &errs), GW_ECONFIG);
    assert_string_equal(errs.items[0].path, "registration.ttl");
    assert_string_equal(errs.items[0].message, "longer than max_ttl");
    gw_config_errors_free(&errs);
    t = "{\"registration\": {\"max_registrations\": 0}}";
    assert_int_equal(gw_config_load_string("t.json", t, strlen(t), &cfg, &errs), GW_ECONFIG);
    assert_string_equal(errs.items[0].path, "registration.max_registrations");
    gw_config_errors_free(&errs);
}

static void test_keys_and_header(void **state)
{
    (void)state;
    expect_one("{\"registration\": {\"encryption_key\": \"abc\"}}", "\"abc\"",
               "registration.encryption_key: expected 64 hex digits (32 random bytes: openssl "
               "rand -hex 32)");
    expect_one("{\"registration\": {\"token_header\": \"a b\"}}", "\"a b\"",
               "registration.token_header: expected a header name such as \"Authorization\"");
    expect_one("{\"registration\": {\"token_prefix\": \"x\\r\\n\"}}", "\"x",
               "registration.token_prefix: only visible ASCII characters and spaces are allowed");
    const char *k = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    setenv("ENCRYPTION_KEY", k, 1);
    struct gw_config *cfg = load_ok("{\"registration\": true}");
    assert_string_equal(cfg->registration.encryption_key, k);
    assert_string_equal(cfg->registration.token_header, "Authorization");
    assert_string_equal(cfg->registration.token_prefix, "Bearer ");
    gw_config_free(cfg);
    cfg = load_ok("{}"); /* off: the variable is not read */
    assert_null(cfg->registration.encryption_key);
    gw_config_free(cfg);
    setenv("ENCRYPTION_KEY", "short", 1);
    expect_one("{\"registration\": true}", "true",
               "registration.encryption_key: absent, and ENCRYPTION_KEY is not 64 hex digits (32 "
               "random bytes: openssl rand -hex 32)");
    unsetenv("ENCRYPTION_KEY");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off_when_absent),
        cmocka_unit_test(test_true_gives_the_defaults),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_defaults_are_checked_as_a_service),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_keys_and_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
