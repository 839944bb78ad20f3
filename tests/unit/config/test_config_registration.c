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

static void test_store_and_redis(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok("{\"registration\": true}");
    assert_null(cfg->registration.store);
    assert_null(cfg->registration.redis);
    assert_string_equal(cfg->registration.redis_key_prefix, "gantry:reg:");
    gw_config_free(cfg);
    cfg = load_ok("{\"registration\": {\"store\": \"/var/lib/gantry/r.json\", \"redis\": "
                  "\"redis://:pw@10.0.0.9:6380/2\", \"redis_key_prefix\": \"shop:reg:\"}}");
    assert_string_equal(cfg->registration.store, "/var/lib/gantry/r.json");
    assert_string_equal(cfg->registration.redis, "redis://:pw@10.0.0.9:6380/2");
    assert_string_equal(cfg->registration.redis_key_prefix, "shop:reg:");
    gw_config_free(cfg);
    expect_one("{\"registration\": {\"store\": \"\"}}", "\"\"",
               "registration.store: expected a file name such as "
               "\"/var/lib/gantry/registrations.json\"");
    expect_one("{\"registration\": {\"redis_key_prefix\": \"a b\"}}", "\"a b\"",
               "registration.redis_key_prefix: expected at most 64 printable characters without "
               "spaces");
    struct gw_config_errors errs;
    const char *t = "{\"registration\": {\"redis\": \"http://127.0.0.1:6379\"}}";
    assert_int_equal(gw_config_load_string("t.json", t, strlen(t), &cfg, &errs), GW_ECONFIG);
    assert_int_equal(errs.count, 1);
    assert_string_equal(errs.items[0].path, "registration.redis");
    gw_config_errors_free(&errs);
    /* rediss:// is refused with the reason, as for rate_limit.redis.url */
    t = "{\"registration\": {\"redis\": \"rediss://127.0.0.1:6379\"}}";
    assert_int_equal(gw_config_load_string("t.json", t, strlen(t), &cfg, &errs), GW_ECONFIG);
    assert_int_equal(errs.count, 1);
    assert_string_equal(errs.items[0].path, "registration.redis");
    assert_non_null(strstr(errs.items[0].message, "TLS (rediss://) is not possible in this build"));
    gw_config_errors_free(&errs);
}

static void test_discovery(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok("{\"services\": [{\"name\": \"a\", \"prefix\": \"/a\", "
                                    "\"targets\": [\"http://127.0.0.1:1\"]}]}");
    assert_int_equal(cfg->services[0].discovery, GW_DISCOVERY_NONE);
    assert_null(cfg->discovery.resolver);
    assert_int_equal(cfg->discovery.interval_ms, 10000);
    assert_int_equal(cfg->discovery.timeout_ms, 2000);
    gw_config_free(cfg);
    cfg = load_ok("{\"discovery\": {\"resolver\": \"127.0.0.1:5353\", \"interval\": \"30s\"}, "
                  "\"services\": [{\"name\": \"a\", \"prefix\": \"/a\", \"discovery\": "
                  "\"dns_srv\", \"targets\": [\"http://_http._tcp.a.test\"]}, {\"name\": \"b\", "
                  "\"prefix\": \"/b\", \"discovery\": \"dns\", \"targets\": "
                  "[\"http://127.0.0.1:2\"]}]}");
    assert_int_equal(cfg->services[0].discovery, GW_DISCOVERY_DNS_SRV);
    assert_int_equal(cfg->services[1].discovery, GW_DISCOVERY_DNS);
    assert_string_equal(cfg->discovery.resolver, "127.0.0.1:5353");
    assert_int_equal(cfg->discovery.interval_ms, 30000);
    gw_config_free(cfg);
    expect_one("{\"discovery\": {\"resolver\": \"dns.local\"}}", "\"dns.local\"",
               "discovery.resolver: expected the IPv4 address of a DNS server, with an optional "
               "port, such as \"127.0.0.1:53\" (an address, not a name)");
    struct gw_config_errors errs;
    const char *t = "{\"discovery\": {\"interval\": \"10ms\", \"resolver\": \"1.2.3.4:0\"}}";
    assert_int_equal(gw_config_load_string("t.json", t, strlen(t), &cfg, &errs), GW_ECONFIG);
    assert_int_equal(errs.count, 2);
    gw_config_errors_free(&errs);
    t = "{\"services\": [{\"name\": \"a\", \"prefix\": \"/a\", \"discovery\": \"mdns\", "
        "\"targets\": [\"http://127.0.0.1:1\"]}]}";
    assert_int_equal(gw_config_load_string("t.json", t, strlen(t), &cfg, &errs), GW_ECONFIG);
    assert_string_equal(errs.items[0].path, "services[0].discovery");
    gw_config_errors_free(&errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_and_redis),
        cmocka_unit_test(test_discovery),
        cmocka_unit_test(test_off_when_absent),
        cmocka_unit_test(test_true_gives_the_defaults),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_defaults_are_checked_as_a_service),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_keys_and_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
