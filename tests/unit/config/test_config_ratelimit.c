/*
 * Unit tests for the "rate_limit" section as a whole (src/config/config_ratelimit.c): its
 * defaults (an absent or empty section), every value of its enumerations, a section that
 * writes every key, and errors of several sections over several lines with their exact
 * line:column. Its parts have their own files: test_config_limits.c, test_config_redis.c,
 * test_config_trusted_proxies.c.
 */
#include "policy_test.h"

static void test_rate_limit_defaults(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok("{}");
    assert_int_equal(cfg->rate_limit.backend, GW_RL_BACKEND_LOCAL);
    assert_int_equal(cfg->rate_limit.max_keys, 100000);
    assert_int_equal(cfg->rate_limit.headers, GW_RL_HEADERS_ALL);
    assert_null(cfg->rate_limit.trusted);
    assert_int_equal(cfg->rate_limit.ntrusted, 0);
    assert_null(cfg->rate_limit.limits);
    assert_int_equal(cfg->rate_limit.nlimits, 0);
    const struct gw_redis_conf *r = &cfg->rate_limit.redis;
    assert_null(r->url);
    assert_null(r->host);
    assert_null(r->username);
    assert_null(r->password);
    assert_int_equal(r->db, 0);
    assert_string_equal(r->key_prefix, "gantry:rl:");
    assert_int_equal(r->timeout_ms, 50);
    assert_int_equal(r->backoff_min_ms, 100);
    assert_int_equal(r->backoff_max_ms, 5000);
    assert_int_equal(r->on_failure, GW_RL_FAIL_OPEN);
    assert_int_equal(r->local_share, 0);
    gw_config_free(cfg);

    /* An empty section is the same. */
    cfg = load_ok(RL(""));
    assert_int_equal(cfg->rate_limit.backend, GW_RL_BACKEND_LOCAL);
    assert_string_equal(cfg->rate_limit.redis.key_prefix, "gantry:rl:");
    gw_config_free(cfg);
}

static void test_rate_limit_enum_values(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int value;
    } headers[] = {{"all", GW_RL_HEADERS_ALL},
                   {"ietf", GW_RL_HEADERS_IETF},
                   {"legacy", GW_RL_HEADERS_LEGACY},
                   {"off", GW_RL_HEADERS_OFF}},
      policies[] = {{"fail_open", GW_RL_FAIL_OPEN},
                    {"fail_closed", GW_RL_FAIL_CLOSED},
                    {"local", GW_RL_FAIL_LOCAL}},
      algorithms[] = {{"gcra", GW_RL_GCRA},
                      {"token_bucket", GW_RL_TOKEN_BUCKET},
                      {"sliding_window", GW_RL_SLIDING_WINDOW},
                      {"fixed_window", GW_RL_FIXED_WINDOW}};
    char text[512];
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        snprintf(text, sizeof text, RL("\"headers\": \"%s\""), headers[i].name);
        struct gw_config *cfg = load_ok(text);
        assert_int_equal(cfg->rate_limit.headers, headers[i].value);
        gw_config_free(cfg);
    }
    for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++) {
        snprintf(text, sizeof text, REDIS("\"failure_policy\": \"%s\""), policies[i].name);
        struct gw_config *cfg = load_ok(text);
        assert_int_equal(cfg->rate_limit.redis.on_failure, policies[i].value);
        gw_config_free(cfg);
    }
    for (size_t i = 0; i < sizeof algorithms / sizeof algorithms[0]; i++) {
        snprintf(text, sizeof text, LIMIT("\"algorithm\": \"%s\", \"limit\": 5, \"period\": 1"),
                 algorithms[i].name);
        struct gw_config *cfg = load_ok(text);
        assert_int_equal(cfg->rate_limit.nlimits, 1);
        assert_int_equal(cfg->rate_limit.limits[0].algorithm, algorithms[i].value);
        gw_config_free(cfg);
    }

    struct gw_config *cfg = load_ok(RL("\"backend\": \"local\""));
    assert_int_equal(cfg->rate_limit.backend, GW_RL_BACKEND_LOCAL);
    gw_config_free(cfg);
    /* Enum names are case-insensitive, like every other enum of the config. */
    cfg = load_ok(RL("\"backend\": \"Redis\", \"redis\": {\"url\": \"redis://127.0.0.1\"}"));
    assert_int_equal(cfg->rate_limit.backend, GW_RL_BACKEND_REDIS);
    assert_string_equal(cfg->rate_limit.redis.url, "redis://127.0.0.1");
    gw_config_free(cfg);
}

static void test_rate_limit_full_section(void **state)
{
    (void)state;
    setenv("GW_TEST_REDIS_URL", "redis://:s3cr%2Ft@10.0.0.9:6380/4", 1);
    struct gw_config *cfg = load_ok("{\n"
                                    "  \"rate_limit\": {\n"
                                    "    \"backend\": \"redis\",\n"
                                    "    \"max_keys\": 64,\n"
                                    "    \"headers\": \"ietf\",\n"
                                    "    \"trusted_proxies\": \"127.0.0.1\",\n"
                                    "    \"redis\": {\n"
                                    "      \"url\": \"${GW_TEST_REDIS_URL}\",\n"
                                    "      \"key_prefix\": \"prod:rl:\",\n"
                                    "      \"timeout\": \"1m\",\n"
                                    "      \"backoff_min\": \"1s\",\n"
                                    "      \"backoff_max\": \"1s\",\n"
                                    "      \"failure_policy\": \"fail_closed\",\n"
                                    "      \"local_share\": 1000000\n"
                                    "    },\n"
                                    "    \"limits\": [\n"
                                    "      {\"limit\": 100, \"period\": \"1m\"},\n"
                                    "      {\"name\": \"Burst_1.x-y\", \"algorithm\": "
                                    "\"token_bucket\",\n"
                                    "       \"limit\": 10, \"period\": \"1s\", \"burst\": 50, "
                                    "\"key\": \"global\"}\n"
                                    "    ]\n"
                                    "  }\n"
                                    "}\n");
    unsetenv("GW_TEST_REDIS_URL");
    assert_int_equal(cfg->rate_limit.backend, GW_RL_BACKEND_REDIS);
    assert_int_equal(cfg->rate_limit.max_keys, 64);
    assert_int_equal(cfg->rate_limit.headers, GW_RL_HEADERS_IETF);
    assert_int_equal(cfg->rate_limit.ntrusted, 1);
    assert_int_equal(cfg->rate_limit.trusted[0].family, AF_INET);
    assert_int_equal(cfg->rate_limit.trusted[0].bits, 32);

    const struct gw_redis_conf *r = &cfg->rate_limit.redis;
    assert_string_equal(r->url, "redis://:s3cr%2Ft@10.0.0.9:6380/4");
    assert_string_equal(r->host, "10.0.0.9");
    assert_int_equal(r->port, 6380);
    assert_null(r->username);
    assert_string_equal(r->password, "s3cr/t");
    assert_int_equal(r->db, 4);
    assert_string_equal(r->key_prefix, "prod:rl:");
    assert_int_equal(r->timeout_ms, 60000);
    assert_int_equal(r->backoff_min_ms, 1000);
    assert_int_equal(r->backoff_max_ms, 1000); /* equal is allowed */
    assert_int_equal(r->on_failure, GW_RL_FAIL_CLOSED);
    assert_int_equal(r->local_share, 1000000);

    assert_int_equal(cfg->rate_limit.nlimits, 2);
    const struct gw_limit_conf *l = &cfg->rate_limit.limits[0];
    assert_null(l->name); /* named by its index when the policy is built */
    assert_int_equal(l->algorithm, GW_RL_GCRA);
    assert_int_equal(l->limit, 100);
    assert_int_equal(l->period_ms, 60000);
    assert_int_equal(l->burst, 0);
    assert_int_equal(l->buckets, 10);
    assert_int_equal(l->key, GW_LIMIT_KEY_IP);
    assert_null(l->key_header);
    assert_int_equal(l->match.nprefixes, 0);
    assert_null(l->match.prefixes);
    assert_int_equal(l->match.methods, 0);
    l = &cfg->rate_limit.limits[1];
    assert_string_equal(l->name, "Burst_1.x-y");
    assert_int_equal(l->algorithm, GW_RL_TOKEN_BUCKET);
    assert_int_equal(l->limit, 10);
    assert_int_equal(l->period_ms, 1000);
    assert_int_equal(l->burst, 50);
    assert_int_equal(l->key, GW_LIMIT_KEY_GLOBAL);
    gw_config_free(cfg);
}

static void test_errors_across_lines(void **state)
{
    (void)state;
    expect_errors(
        "{\n"
        "  \"rate_limit\": {\n"
        "    \"headers\": \"legacy\",\n"
        "    \"redis\": {\"url\": \"redis://:hunter2@h:0\", \"backoff_min\": \"1m\"},\n"
        "    \"trusted_proxies\": [\"10.0.0.0/8\", \"10.0.0.1/40\"],\n"
        "    \"limits\": [{\"limit\": 2000000, \"period\": \"1s\",\n"
        "                \"buckets\": 4}]\n"
        "  },\n"
        "  \"auth\": {\n"
        "    \"jwt\": {\"keys\": [{\"alg\": \"HS256\", \"secret\": \"short\"}]},\n"
        "    \"consumers\": [{\"id\": \"a\"}, {\"id\": \"a\"}]\n"
        "  },\n"
        "  \"services\": [{\"name\": \"s\", \"prefix\": \"/p\", \"targets\": [\"http://h:1\"],\n"
        "    \"auth\": {\"methods\": \"introspection\"}}]\n"
        "}\n",
        "t.json:4:14: rate_limit.redis.backoff_max: must not be shorter than backoff_min (5000ms "
        "< 60000ms)\n"
        "t.json:4:22: rate_limit.redis.url: \"redis://***@h:0\": the port must be a number between "
        "1 and 65535\n"
        "t.json:5:39: rate_limit.trusted_proxies[1]: \"10.0.0.1/40\" has a prefix length longer "
        "than the address" PROXY_EXAMPLES "\n"
        "t.json:6:26: rate_limit.limits[0].limit: 2000000 per 1000ms is more than 1,000,000 per "
        "second, finer than \"gcra\" can count (one request per microsecond); use a window "
        "algorithm or split the limit\n"
        "t.json:7:28: rate_limit.limits[0].buckets: buckets applies only to algorithm "
        "\"sliding_window\" (algorithm is \"gcra\")\n"
        "t.json:10:49: auth.jwt.keys[0].secret: is 5 bytes; HS256 needs a secret of at least 32 "
        "bytes (RFC 7518 section 3.2)\n"
        "t.json:11:39: auth.consumers[1].id: consumer \"a\" is defined twice (consumers[0])\n"
        "t.json:14:25: services[0].auth.methods: \"introspection\" is not configured (add "
        "auth.introspection.url)\n");
}

int main(void)
{
    unsetenv("GATEWAY_PORT");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_limit_defaults),
        cmocka_unit_test(test_rate_limit_enum_values),
        cmocka_unit_test(test_rate_limit_full_section),
        cmocka_unit_test(test_errors_across_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
