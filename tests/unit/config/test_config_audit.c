/* The "audit" section: defaults, values, errors with their positions. */
#include "config_test.h"

#define SERVICES                                                                                   \
    "\"services\": [{\"name\": \"s\", \"prefix\": \"/p\", \"targets\": [\"http://h:1\"]}]"

static void test_audit_defaults(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok("{" SERVICES "}");
    assert_false(cfg->audit.enabled);
    assert_null(cfg->audit.file);
    assert_null(cfg->audit.sqlite);
    assert_null(cfg->audit.pg_dsn);
    assert_int_equal(cfg->audit.events, GW_AUDIT_EV_ALL);
    assert_int_equal(cfg->audit.queue, 4096);
    assert_int_equal(cfg->audit.pg_queue, 10000);
    assert_int_equal(cfg->audit.unauthorized_threshold, 5);
    assert_int_equal(cfg->audit.unauthorized_window_ms, 60000);
    gw_config_free(cfg);
}

static void test_audit_values(void **state)
{
    (void)state;
    struct gw_config *cfg =
        load_ok("{\"audit\": {\"file\": \"/tmp/a.log\", \"sqlite\": \"/tmp/a.db\", \"postgres\": "
                "{\"dsn\": \"host=127.0.0.1\", \"queue\": 7}, \"queue\": 64, \"events\": "
                "[\"admin\", \"new_address\"], \"unauthorized\": {\"threshold\": 2, \"window\": "
                "\"5m\"}}, " SERVICES "}");
    assert_true(cfg->audit.enabled);
    assert_string_equal(cfg->audit.file, "/tmp/a.log");
    assert_string_equal(cfg->audit.sqlite, "/tmp/a.db");
    assert_string_equal(cfg->audit.pg_dsn, "host=127.0.0.1");
    assert_int_equal(cfg->audit.pg_queue, 7);
    assert_int_equal(cfg->audit.queue, 64);
    assert_int_equal(cfg->audit.events, GW_AUDIT_EV_ADMIN | GW_AUDIT_EV_NEW_ADDRESS);
    assert_int_equal(cfg->audit.unauthorized_threshold, 2);
    assert_int_equal(cfg->audit.unauthorized_window_ms, 300000);
    gw_config_free(cfg);
    cfg = load_ok(
        "{\"audit\": {\"postgres\": {\"dsn\": \"host=x\"}, \"events\": [\"all\"]}, " SERVICES "}");
    assert_true(cfg->audit.enabled);
    assert_int_equal(cfg->audit.events, GW_AUDIT_EV_ALL);
    gw_config_free(cfg);
    /* An empty file (an unset ${VAR:-}) is none: no sink, no audit log. */
    cfg = load_ok("{\"audit\": {\"file\": \"\"}, " SERVICES "}");
    assert_false(cfg->audit.enabled);
    gw_config_free(cfg);
}

static void test_audit_errors(void **state)
{
    (void)state;
    expect_one("{\"audit\": {\"events\": [\"admin\", \"reloads\"]}, " SERVICES "}", "\"reloads\"",
               "audit.events[1]: unknown audit event \"reloads\": expected admin, reload, "
               "forbidden, unauthorized, new_address, identity or all");
    expect_one("{\"audit\": {\"events\": \"admin\"}, " SERVICES "}", "\"admin\"",
               "audit.events: expected an array of event names, got a string");
    expect_one("{\"audit\": {\"queue\": 1}, " SERVICES "}", "1}",
               "audit.queue: must be between 16 and 1000000");
    expect_one("{\"audit\": {\"unauthorized\": {\"window\": \"10ms\"}}, " SERVICES "}", "\"10ms\"",
               "audit.unauthorized.window: must be between 1s and 24h");
    expect_one("{\"audit\": {\"file\": \"/x\", \"sqlite\": \"/x\"}, " SERVICES "}", "\"/x\"}",
               "audit.sqlite: audit.sqlite names the same file as audit.file");
    expect_one("{\"audit\": {\"fil\": \"/x\"}, " SERVICES "}", "\"fil\"",
               "audit.fil: unknown key \"fil\" (did you mean \"file\"?)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_audit_defaults),
        cmocka_unit_test(test_audit_values),
        cmocka_unit_test(test_audit_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
