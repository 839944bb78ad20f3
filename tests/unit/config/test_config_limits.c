/*
 * Unit tests for rate limits ("rate_limit.limits" of the gateway and of a service;
 * src/config/config_ratelimit.c): every key, "match" and the bounds, every error with its
 * exact position and key path, unique names.
 */
#include "policy_test.h"

static void test_limit_keys(void **state)
{
    (void)state;
    static const struct {
        const char *written;
        enum gw_limit_key key;
        const char *header;
    } cases[] = {
        {"ip", GW_LIMIT_KEY_IP, NULL},
        {"global", GW_LIMIT_KEY_GLOBAL, NULL},
        {"consumer", GW_LIMIT_KEY_CONSUMER, NULL},
        {"route", GW_LIMIT_KEY_ROUTE, NULL},
        {"header:X-Tenant-ID", GW_LIMIT_KEY_HEADER, "x-tenant-id"},
        {"header:api_key.v2!#$%&'*+-^`|~", GW_LIMIT_KEY_HEADER, "api_key.v2!#$%&'*+-^`|~"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, LIMIT("\"limit\": 1, \"period\": 1, \"key\": \"%s\""),
                 cases[i].written);
        struct gw_config *cfg = load_ok(text);
        const struct gw_limit_conf *l = &cfg->rate_limit.limits[0];
        assert_int_equal(l->key, cases[i].key);
        if (cases[i].header)
            assert_string_equal(l->key_header, cases[i].header);
        else
            assert_null(l->key_header);
        gw_config_free(cfg);
    }
}

static void test_limit_match_and_bounds(void **state)
{
    (void)state;
    struct gw_config *cfg =
        load_ok(LIMIT("\"limit\": 1000000, \"period\": \"1s\", \"match\": {\"prefix\": "
                      "[\"/api/\", \"/v2\"], \"methods\": [\"get\", \"POST\"]}"));
    const struct gw_limit_conf *l = &cfg->rate_limit.limits[0];
    assert_int_equal(l->limit, 1000000); /* exactly one per microsecond: still countable */
    assert_int_equal(l->match.nprefixes, 2);
    assert_string_equal(l->match.prefixes[0], "/api"); /* trailing '/' removed */
    assert_string_equal(l->match.prefixes[1], "/v2");
    assert_int_equal(l->match.methods, (1u << GW_METHOD_GET) | (1u << GW_METHOD_POST));
    gw_config_free(cfg);

    cfg = load_ok(LIMIT("\"limit\": 1, \"period\": 1, \"match\": {\"prefix\": \"/\", "
                        "\"methods\": \"delete\"}"));
    l = &cfg->rate_limit.limits[0];
    assert_int_equal(l->match.nprefixes, 1);
    assert_string_equal(l->match.prefixes[0], "/");
    assert_int_equal(l->match.methods, 1u << GW_METHOD_DELETE);
    gw_config_free(cfg);

    /* Window algorithms count requests, not microseconds: no per-microsecond bound. */
    cfg = load_ok(LIMIT("\"algorithm\": \"fixed_window\", \"limit\": 4294967295, \"period\": "
                        "\"1ms\""));
    assert_int_equal(cfg->rate_limit.limits[0].limit, 4294967295u);
    gw_config_free(cfg);
    cfg = load_ok(LIMIT("\"algorithm\": \"sliding_window\", \"limit\": 2000000, \"period\": "
                        "\"1s\", \"buckets\": 15"));
    assert_int_equal(cfg->rate_limit.limits[0].buckets, 15);
    gw_config_free(cfg);
    cfg = load_ok(LIMIT("\"algorithm\": \"sliding_window\", \"limit\": 1, \"period\": 1, "
                        "\"buckets\": 1"));
    assert_int_equal(cfg->rate_limit.limits[0].buckets, 1);
    gw_config_free(cfg);

    /* period stays below 2^40 microseconds: 305h is 1,098,000,000 ms. */
    cfg = load_ok(LIMIT("\"limit\": 1, \"period\": \"305h\", \"burst\": 4"));
    assert_int_equal(cfg->rate_limit.limits[0].period_ms, 305ull * 3600 * 1000);
    assert_int_equal(cfg->rate_limit.limits[0].burst, 4u);
    gw_config_free(cfg);
    /* ... but burst x emission interval must fit the engine: what start or reload would refuse
     * is refused here, so `gantry check` says so. */
    expect_contains(LIMIT("\"limit\": 1, \"period\": \"305h\", \"burst\": 4294967295"),
                    "{\"limit\": 1",
                    "rate_limit.limits[0]: these settings cannot be counted exactly (limit, burst "
                    "and period out of the engine's range)");

    /* A name of exactly 64 characters. */
    cfg = load_ok(LIMIT("\"name\": \"" S64 "\", \"limit\": 1, \"period\": 1"));
    assert_string_equal(cfg->rate_limit.limits[0].name, S64);
    gw_config_free(cfg);
}

#define LIM0 "rate_limit.limits[0]."

static void test_limit_errors(void **state)
{
    (void)state;
    expect_one(LIMIT("\"period\": \"1s\""), "{\"period\"",
               LIM0 "limit: required key \"limit\" is missing");
    expect_one(LIMIT("\"limit\": 5"), "{\"limit\"",
               LIM0 "period: required key \"period\" is missing");
    expect_list(LIMIT(""),
                (const struct at_msg[]){
                    {"{}", LIM0 "limit: required key \"limit\" is missing"},
                    {"{}", LIM0 "period: required key \"period\" is missing"},
                },
                2);
    expect_one(LIMIT("\"limit\": 0, \"period\": 1"), "0,",
               LIM0 "limit: must be between 1 and 4294967295");
    expect_one(LIMIT("\"limit\": 4294967296, \"period\": 1"), "4294967296",
               LIM0 "limit: must be between 1 and 4294967295");
    expect_one(LIMIT("\"limit\": 1, \"period\": \"0s\""), "\"0s\"",
               LIM0 "period: must be between 1ms and 1099511626ms");
    expect_one(LIMIT("\"limit\": 1, \"period\": \"306h\""), "\"306h\"",
               LIM0 "period: must be between 1ms and 1099511626ms");

    /* name */
    expect_one(LIMIT("\"name\": \"per ip\", \"limit\": 1, \"period\": 1"), "\"per ip\"",
               LIM0 "name: \"per ip\" is not a valid limit name (1 to 64 of A-Z a-z 0-9 _ - .)");
    expect_one(LIMIT("\"name\": \"\", \"limit\": 1, \"period\": 1"), "\"\"",
               LIM0 "name: \"\" is not a valid limit name (1 to 64 of A-Z a-z 0-9 _ - .)");
    expect_one(LIMIT("\"name\": \"a:b\", \"limit\": 1, \"period\": 1"), "\"a:b\"",
               LIM0 "name: \"a:b\" is not a valid limit name (1 to 64 of A-Z a-z 0-9 _ - .)");
    expect_one(LIMIT("\"name\": \"" S64 "x\", \"limit\": 1, \"period\": 1"), "\"" S32,
               LIM0 "name: \"" S32 "0123456789abcdef0123456789ab...\" is not a valid limit name (1 "
                    "to 64 of A-Z a-z 0-9 _ - .)");

    /* algorithm */
    expect_one(LIMIT("\"algorithm\": \"leaky_bucket\", \"limit\": 1, \"period\": 1"),
               "\"leaky_bucket\"",
               LIM0 "algorithm: unknown value \"leaky_bucket\" (expected gcra, token_bucket, "
                    "sliding_window or fixed_window)");

    /* burst: bucket algorithms only */
    expect_one(LIMIT("\"algorithm\": \"sliding_window\", \"limit\": 1, \"period\": 1, "
                     "\"burst\": 5"),
               "5}",
               LIM0 "burst: burst applies only to algorithms \"gcra\" and \"token_bucket\" "
                    "(algorithm is \"sliding_window\")");
    expect_one(LIMIT("\"algorithm\": \"fixed_window\", \"limit\": 1, \"period\": 1, "
                     "\"burst\": 5"),
               "5}",
               LIM0 "burst: burst applies only to algorithms \"gcra\" and \"token_bucket\" "
                    "(algorithm is \"fixed_window\")");
    expect_one(LIMIT("\"limit\": 1, \"period\": 1, \"burst\": 0"), "0}",
               LIM0 "burst: must be between 1 and 4294967295");

    /* buckets: sliding_window only, 1 to 15 */
    expect_one(LIMIT("\"limit\": 1, \"period\": 1, \"buckets\": 4"), "4}",
               LIM0 "buckets: buckets applies only to algorithm \"sliding_window\" (algorithm "
                    "is \"gcra\")");
    expect_one(LIMIT("\"algorithm\": \"token_bucket\", \"limit\": 1, \"period\": 1, "
                     "\"buckets\": 4"),
               "4}",
               LIM0 "buckets: buckets applies only to algorithm \"sliding_window\" (algorithm "
                    "is \"token_bucket\")");
    expect_one(LIMIT("\"algorithm\": \"sliding_window\", \"limit\": 1, \"period\": 1, "
                     "\"buckets\": 16"),
               "16", LIM0 "buckets: must be between 1 and 15");
    expect_one(LIMIT("\"algorithm\": \"sliding_window\", \"limit\": 1, \"period\": 1, "
                     "\"buckets\": 0"),
               "0}", LIM0 "buckets: must be between 1 and 15");

    /* more than one request per microsecond, for the bucket algorithms */
    expect_one(LIMIT("\"limit\": 1000001, \"period\": \"1s\""), "1000001",
               LIM0 "limit: 1000001 per 1000ms is more than 1,000,000 per second, finer than "
                    "\"gcra\" can count (one request per microsecond); use a window algorithm "
                    "or split the limit");
    expect_one(LIMIT("\"algorithm\": \"token_bucket\", \"limit\": 2000, \"period\": \"1ms\""),
               "2000",
               LIM0 "limit: 2000 per 1ms is more than 1,000,000 per second, finer than "
                    "\"token_bucket\" can count (one request per microsecond); use a window "
                    "algorithm or split the limit");

    /* key */
    expect_one(LIMIT("\"limit\": 1, \"period\": 1, \"key\": \"user\""), "\"user\"",
               LIM0 "key: unknown key \"user\" (expected \"ip\", \"global\", \"consumer\", "
                    "\"route\" or \"header:NAME\")");
    expect_one(LIMIT("\"limit\": 1, \"period\": 1, \"key\": \"IP\""), "\"IP\"",
               LIM0 "key: unknown key \"IP\" (expected \"ip\", \"global\", \"consumer\", "
                    "\"route\" or \"header:NAME\")");
    expect_one(LIMIT("\"limit\": 1, \"period\": 1, \"key\": \"header:\""), "\"header:\"",
               LIM0 "key: \"\"" HEADER_RULE);
    expect_one(LIMIT("\"limit\": 1, \"period\": 1, \"key\": \"header:X Tenant\""),
               "\"header:X Tenant\"", LIM0 "key: \"X Tenant\"" HEADER_RULE);
    expect_one(LIMIT("\"limit\": 1, \"period\": 1, \"key\": \"header:a:b\""), "\"header:a:b\"",
               LIM0 "key: \"a:b\"" HEADER_RULE);
    expect_one(LIMIT("\"limit\": 1, \"period\": 1, \"key\": 7"), "7}",
               LIM0 "key: expected a string, got an integer");

    /* match */
    expect_one(LIMIT("\"limit\": 1, \"period\": 1, \"match\": {\"prefix\": []}"), "[]",
               LIM0 "match.prefix: must not be empty");
    expect_one(LIMIT("\"limit\": 1, \"period\": 1, \"match\": {\"prefix\": \"api\"}"), "\"api\"",
               LIM0 "match.prefix: \"api\": a prefix must start with \"/\"");
    expect_one(LIMIT("\"limit\": 1, \"period\": 1, \"match\": {\"prefix\": [\"/a\", \"/a/\"]}"),
               "\"/a/\"", LIM0 "match.prefix[1]: \"/a\" is listed twice");
    expect_one(LIMIT("\"limit\": 1, \"period\": 1, \"match\": {\"prefix\": [\"/a/../b\"]}"),
               "\"/a/../b\"",
               LIM0 "match.prefix[0]: \"/a/../b\": a prefix must not contain \".\" or \"..\" "
                    "segments");
    expect_one(LIMIT("\"limit\": 1, \"period\": 1, \"match\": {\"methods\": [\"GET\", "
                     "\"CONNECT\"]}"),
               "\"CONNECT\"",
               LIM0 "match.methods[1]: CONNECT is not supported (expected " METHOD_LIST ")");
    expect_one(LIMIT("\"limit\": 1, \"period\": 1, \"match\": {\"methods\": \"FETCH\"}"),
               "\"FETCH\"",
               LIM0 "match.methods: unknown method \"FETCH\" (expected " METHOD_LIST ")");
    expect_one(LIMIT("\"limit\": 1, \"period\": 1, \"match\": {\"prefixes\": \"/a\"}"),
               "\"prefixes\"",
               LIM0 "match.prefixes: unknown key \"prefixes\" (did you mean \"prefix\"?)");
    expect_one(LIMIT("\"limit\": 1, \"period\": 1, \"match\": \"/a\""), "\"/a\"",
               LIM0 "match: expected an object, got a string");
    expect_one(LIMIT("\"limit\": 1, \"period\": 1, \"brust\": 3"), "\"brust\"",
               LIM0 "brust: unknown key \"brust\" (did you mean \"burst\"?)");

    /* the list itself */
    expect_one(RL("\"limits\": {}"), "{}",
               "rate_limit.limits: expected an array of limit objects, got an object");
    expect_one(RL("\"limits\": [5]"), "5]",
               "rate_limit.limits[0]: expected a limit object, got an integer");
}

/* Names name counters (Redis keys): a list must not use one twice; exactly one error each, and
 * a service's limit errors alone (no consequential messages). */
static void test_limit_names_unique(void **state)
{
    (void)state;
    const char *g = "{\"rate_limit\": {\"limits\": [{\"name\": \"a\", \"limit\": 1, \"period\": "
                    "\"1s\"}, {\"name\": \"a\", \"limit\": 2, \"period\": \"1s\"}]}}";
    struct at_msg want[] = {
        {"\"a\", \"limit\": 2", "rate_limit.limits[1].name: limit \"a\" is already the name of "
                                "limits[0]"},
    };
    expect_list(g, want, 1);
    /* the same name in two scopes is fine: the scope is part of the counter's name */
    const char *ok = "{\"rate_limit\": {\"limits\": [{\"name\": \"a\", \"limit\": 1, \"period\": "
                     "\"1s\"}]}, \"services\": [{\"name\": \"s\", \"prefix\": \"/\", \"targets\": "
                     "[\"http://127.0.0.1:1\"], \"rate_limit\": {\"limits\": [{\"name\": \"a\", "
                     "\"limit\": 1, \"period\": \"1s\"}]}}]}";
    char *got = load_errors(ok);
    assert_null(got);
}

static void test_service_limits(void **state)
{
    (void)state;
    struct gw_config *cfg =
        load_ok(SVC("\"rate_limit\": {\"limits\": [{\"name\": \"per-tenant\", \"limit\": 5, "
                    "\"period\": \"1m\", \"key\": \"header:X-Tenant\", \"match\": {\"prefix\": "
                    "\"/p/write\", \"methods\": \"POST\"}}, {\"algorithm\": \"sliding_window\", "
                    "\"limit\": 100, \"period\": \"10s\", \"buckets\": 5, \"key\": \"route\"}]}"));
    const struct gw_service_conf *s = &cfg->services[0];
    assert_int_equal(cfg->rate_limit.nlimits, 0);
    assert_int_equal(s->nlimits, 2);
    assert_string_equal(s->limits[0].name, "per-tenant");
    assert_int_equal(s->limits[0].limit, 5);
    assert_int_equal(s->limits[0].period_ms, 60000);
    assert_int_equal(s->limits[0].key, GW_LIMIT_KEY_HEADER);
    assert_string_equal(s->limits[0].key_header, "x-tenant");
    assert_string_equal(s->limits[0].match.prefixes[0], "/p/write");
    assert_int_equal(s->limits[0].match.methods, 1u << GW_METHOD_POST);
    assert_int_equal(s->limits[1].algorithm, GW_RL_SLIDING_WINDOW);
    assert_int_equal(s->limits[1].buckets, 5);
    assert_int_equal(s->limits[1].key, GW_LIMIT_KEY_ROUTE);
    gw_config_free(cfg);

    cfg = load_ok(SVC("\"rate_limit\": {}"));
    assert_int_equal(cfg->services[0].nlimits, 0);
    gw_config_free(cfg);

    expect_one(SVC("\"rate_limit\": {\"limits\": [{\"limit\": 5}]}"), "{\"limit\"",
               "services[0].rate_limit.limits[0].period: required key \"period\" is missing");
    expect_one(SVC("\"rate_limit\": {\"limits\": [{\"limit\": 5, \"period\": 1, \"algorithm\": "
                   "\"fixed_window\", \"burst\": 9}]}"),
               "9}",
               "services[0].rate_limit.limits[0].burst: burst applies only to algorithms "
               "\"gcra\" and \"token_bucket\" (algorithm is \"fixed_window\")");
    expect_one(SVC("\"rate_limit\": {\"limit\": []}"), "\"limit\"",
               "services[0].rate_limit.limit: unknown key \"limit\" (did you mean \"limits\"?)");
    expect_one(SVC("\"rate_limit\": {\"backend\": \"redis\"}"), "\"backend\"",
               "services[0].rate_limit.backend: unknown key \"backend\"");
    expect_one(SVC("\"rate_limit\": [1]"), "[1]",
               "services[0].rate_limit: expected an object, got an array");
}

int main(void)
{
    unsetenv("GATEWAY_PORT");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_keys),     cmocka_unit_test(test_limit_match_and_bounds),
        cmocka_unit_test(test_limit_errors),   cmocka_unit_test(test_limit_names_unique),
        cmocka_unit_test(test_service_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
