/*
 * Unit tests for the "rate_limit" section of the config (gateway and service, with limits,
 * trusted proxies and the Redis URL; src/config/config_ratelimit.c): defaults, every accepted
 * value, and every error with its exact position and key path. The "auth" section's are in
 * test_config_auth_policy.c; both share policy_test.h.
 */
#include "policy_test.h"

/* ---- rate_limit: defaults and values --------------------------------------------------------- */

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

/* ---- limits ---------------------------------------------------------------------------------- */

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

/* ---- trusted_proxies ------------------------------------------------------------------------- */

static void assert_cidr(const struct gw_cidr *c, int family, const char *addr, unsigned bits)
{
    uint8_t want[16] = {0};
    assert_int_equal(inet_pton(family, addr, want), 1);
    assert_int_equal(c->family, family);
    assert_int_equal(c->bits, bits);
    assert_memory_equal(c->addr, want, sizeof want);
}

static void test_trusted_proxies(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(
        RL("\"trusted_proxies\": [\"10.1.2.3/8\", \"192.0.2.7\", \"::1\", \"fd12:3456::1/8\", "
           "\"2001:db8:aaaa::1234/32\", \"192.168.1.255/23\", \"0.0.0.0/0\", \"172.16.9.9/12\", "
           "\"10.0.0.1/32\", \"::/0\", \"2001:db8::1/127\"]"));
    const struct gw_cidr *t = cfg->rate_limit.trusted;
    assert_int_equal(cfg->rate_limit.ntrusted, 11);
    assert_cidr(&t[0], AF_INET, "10.0.0.0", 8); /* masks are normalised */
    assert_cidr(&t[1], AF_INET, "192.0.2.7", 32);
    assert_cidr(&t[2], AF_INET6, "::1", 128);
    assert_cidr(&t[3], AF_INET6, "fd00::", 8);
    assert_cidr(&t[4], AF_INET6, "2001:db8::", 32);
    assert_cidr(&t[5], AF_INET, "192.168.0.0", 23);
    assert_cidr(&t[6], AF_INET, "0.0.0.0", 0);
    assert_cidr(&t[7], AF_INET, "172.16.0.0", 12);
    assert_cidr(&t[8], AF_INET, "10.0.0.1", 32);
    assert_cidr(&t[9], AF_INET6, "::", 0);
    assert_cidr(&t[10], AF_INET6, "2001:db8::", 127);
    gw_config_free(cfg);

    cfg = load_ok(RL("\"trusted_proxies\": \"10.9.8.7/16\""));
    assert_int_equal(cfg->rate_limit.ntrusted, 1);
    assert_cidr(&cfg->rate_limit.trusted[0], AF_INET, "10.9.0.0", 16);
    gw_config_free(cfg);

    cfg = load_ok(RL("\"trusted_proxies\": []"));
    assert_int_equal(cfg->rate_limit.ntrusted, 0);
    gw_config_free(cfg);

    expect_list(
        RL("\"trusted_proxies\": [\"10.0.0.0/8\", \"10.0.0.0/33\", \"fe80::1%eth0\", \"1.2.3.4/\", "
           "\"1.2.3.4/x\", 7, \"::/129\", \"/8\", \"1.2.3.4/0008\", \"example.com\", \"\", "
           "\"1.2.3.4/-1\"]"),
        (const struct at_msg[]){
            {"\"10.0.0.0/33\"", "rate_limit.trusted_proxies[1]: \"10.0.0.0/33\" has a prefix "
                                "length longer than the address" PROXY_EXAMPLES},
            {"\"fe80::1%eth0\"", "rate_limit.trusted_proxies[2]: \"fe80::1%eth0\" is not an IP "
                                 "address or CIDR block" PROXY_EXAMPLES},
            {"\"1.2.3.4/\"", "rate_limit.trusted_proxies[3]: \"1.2.3.4/\" has an invalid prefix "
                             "length" PROXY_EXAMPLES},
            {"\"1.2.3.4/x\"", "rate_limit.trusted_proxies[4]: \"1.2.3.4/x\" has an invalid "
                              "prefix length" PROXY_EXAMPLES},
            {"7,", "rate_limit.trusted_proxies[5]: expected a string, got an integer"},
            {"\"::/129\"", "rate_limit.trusted_proxies[6]: \"::/129\" has a prefix length "
                           "longer than the address" PROXY_EXAMPLES},
            {"\"/8\"", "rate_limit.trusted_proxies[7]: \"/8\" is not an IP address or CIDR "
                       "block" PROXY_EXAMPLES},
            {"\"1.2.3.4/0008\"", "rate_limit.trusted_proxies[8]: \"1.2.3.4/0008\" has an "
                                 "invalid prefix length" PROXY_EXAMPLES},
            {"\"example.com\"", "rate_limit.trusted_proxies[9]: \"example.com\" is not an IP "
                                "address or CIDR block" PROXY_EXAMPLES},
            {"\"\",", "rate_limit.trusted_proxies[10]: \"\" is not an IP address or CIDR "
                      "block" PROXY_EXAMPLES},
            {"\"1.2.3.4/-1\"", "rate_limit.trusted_proxies[11]: \"1.2.3.4/-1\" has an invalid "
                               "prefix length" PROXY_EXAMPLES},
        },
        11);
    expect_one(RL("\"trusted_proxies\": \"10.0.0.0/99\""), "\"10.0.0.0/99\"",
               "rate_limit.trusted_proxies: \"10.0.0.0/99\" has a prefix length longer than the "
               "address" PROXY_EXAMPLES);
    expect_one(RL("\"trusted_proxies\": {}"), "{}",
               "rate_limit.trusted_proxies: expected a string or an array of strings, got an "
               "object");
}

/* ---- redis ----------------------------------------------------------------------------------- */

static void test_redis_urls(void **state)
{
    (void)state;
    static const struct {
        const char *url;
        const char *host;
        unsigned port;
        const char *user;
        const char *pass;
        unsigned db;
    } ok[] = {
        {"redis://localhost", "localhost", 6379, NULL, NULL, 0},
        {"redis://10.0.0.7:6380/3", "10.0.0.7", 6380, NULL, NULL, 3},
        {"redis://redis.internal/", "redis.internal", 6379, NULL, NULL, 0},
        {"redis://h:65535/100000", "h", 65535, NULL, NULL, 100000},
        {"redis://h:1", "h", 1, NULL, NULL, 0},
        {"redis://:p%40ss%3Aw0rd@redis.internal:7000/15", "redis.internal", 7000, NULL, "p@ss:w0rd",
         15},
        {"redis://gantry:hunter2@h", "h", 6379, "gantry", "hunter2", 0},
        {"redis://us%65r:p%2fw%2F@h", "h", 6379, "user", "p/w/", 0},
        {"redis://:a@b@h", "h", 6379, NULL, "a@b", 0}, /* the last '@' ends the user info */
        {"redis://[::1]:7001/2", "::1", 7001, NULL, NULL, 2},
        {"redis://[::1]", "::1", 6379, NULL, NULL, 0},
        {"redis://:pw@[fd00::5]:6390", "fd00::5", 6390, NULL, "pw", 0},
        {"REDIS://Redis_1.internal:6379/007", "Redis_1.internal", 6379, NULL, NULL, 7},
        {"redis://:@h", "h", 6379, NULL, NULL, 0}, /* empty user and password: none */
        {"redis://gantry:p%3A%40:w@h", "h", 6379, "gantry", "p:@:w", 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, REDIS("\"url\": \"%s\""), ok[i].url);
        struct gw_config *cfg = load_ok(text);
        const struct gw_redis_conf *r = &cfg->rate_limit.redis;
        assert_string_equal(r->url, ok[i].url);
        assert_string_equal(r->host, ok[i].host);
        assert_int_equal(r->port, ok[i].port);
        if (ok[i].user)
            assert_string_equal(r->username, ok[i].user);
        else
            assert_null(r->username);
        if (ok[i].pass)
            assert_string_equal(r->password, ok[i].pass);
        else
            assert_null(r->password);
        assert_int_equal(r->db, ok[i].db);
        gw_config_free(cfg);
    }
}

#define TLS_WHY                                                                                    \
    "TLS (rediss://) is not possible in this build: Debian 12's hiredis 0.14 has no TLS; reach "   \
    "Redis over loopback or a TLS tunnel (stunnel) and use redis://"
#define PORT_WHY "the port must be a number between 1 and 65535"
#define DB_WHY "invalid database number after \"/\" (0 to 100000)"
#define NO_HOST "missing host (expected redis://host:port)"
#define ESC_WHY "malformed percent-escape in the user or password"

static void test_redis_url_errors(void **state)
{
    (void)state;
    /* The URL is quoted with its user and password replaced by "***". */
    static const struct {
        const char *url;
        const char *msg;
    } bad[] = {
        {"rediss://h:6380", "\"rediss://h:6380\": " TLS_WHY},
        {"rediss://:hunter2@h", "\"rediss://***@h\": " TLS_WHY},
        {"http://h", "\"http://h\": must start with \"redis://\""},
        {"http://:hunter2@h", "\"http://***@h\": must start with \"redis://\""},
        {"redis:/h", "\"redis:/h\": must start with \"redis://\""},
        {"redis://", "\"redis://\": " NO_HOST},
        {"redis://:6379", "\"redis://:6379\": " NO_HOST},
        {"redis://[]:1", "\"redis://[]:1\": invalid IPv6 address"},
        {"redis://:hunter2@", "\"redis://***@\": " NO_HOST},
        {"redis://:hunter2@/1", "\"redis://***@/1\": " NO_HOST},
        {"redis://h:", "\"redis://h:\": missing port after \":\""},
        {"redis://h:x1", "\"redis://h:x1\": " PORT_WHY},
        {"redis://h:0", "\"redis://h:0\": " PORT_WHY},
        {"redis://h:65536", "\"redis://h:65536\": " PORT_WHY},
        {"redis://h:63x", "\"redis://h:63x\": " PORT_WHY},
        {"redis://:hunter2@h:99999", "\"redis://***@h:99999\": " PORT_WHY},
        {"redis://:hunter2@h:-1", "\"redis://***@h:-1\": " PORT_WHY},
        {"redis://[::1", "\"redis://[::1\": unterminated \"[\" in IPv6 address"},
        {"redis://:hunter2@[::1", "\"redis://***@[::1\": unterminated \"[\" in IPv6 address"},
        {"redis://[::1]x", "\"redis://[::1]x\": unexpected characters after \"]\""},
        {"redis://h/x", "\"redis://h/x\": " DB_WHY},
        {"redis://h/100001", "\"redis://h/100001\": " DB_WHY},
        {"redis://h/1/2", "\"redis://h/1/2\": " DB_WHY},
        {"redis://:hunter2@h/db1", "\"redis://***@h/db1\": " DB_WHY},
        {"redis://h?db=1", "\"redis://h?db=1\": a query or fragment is not allowed in a Redis URL"},
        {"redis://h#x", "\"redis://h#x\": a query or fragment is not allowed in a Redis URL"},
        {"redis://admin:hunter2@h?x",
         "\"redis://***@h?x\": a query or fragment is not allowed in a Redis URL"},
        {"redis://hunter2@h", "\"redis://***@h\": user information without a password (write "
                              "redis://:PASSWORD@host)"},
        {"redis://:hunter2%4@h", "\"redis://***@h\": " ESC_WHY},
        {"redis://:hunter2%zz@h", "\"redis://***@h\": " ESC_WHY},
        {"redis://:hunter2%00@h", "\"redis://***@h\": " ESC_WHY},
        {"redis://us%x:hunter2@h", "\"redis://***@h\": " ESC_WHY},
        {"redis://:hunt er2@h",
         "\"redis://***@h\": invalid character in the user or password (percent-encode it)"},
        {"redis://-h", "\"redis://-h\": a host name label must not start with \"-\""},
        {"redis://10.0.0.256", "\"redis://10.0.0.256\": invalid IPv4 address"},
        {"redis://::1", "\"redis://::1\": an IPv6 address must be written in brackets, as in "
                        "\"[::1]:8000\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[512];
        char at[256];
        char msg[512];
        snprintf(text, sizeof text, REDIS("\"url\": \"%s\""), bad[i].url);
        snprintf(at, sizeof at, "\"%s\"", bad[i].url);
        snprintf(msg, sizeof msg, "rate_limit.redis.url: %s", bad[i].msg);
        expect_one(text, at, msg);
        char *got = load_errors(text);
        assert_non_null(got);
        assert_null(strstr(got, "hunter2"));
        free(got);
    }
    expect_one(REDIS("\"url\": 6379"), "6379",
               "rate_limit.redis.url: expected a string, got an integer");

    /* A password from the environment does not show either, whatever else is wrong. */
    setenv("GW_TEST_REDIS_PW", "hunter2", 1);
    char *got = load_errors(RL("\"backend\": \"redis\", \"max_keys\": 1, \"redis\": {\"url\": "
                               "\"redis://:${GW_TEST_REDIS_PW}@h:0\", \"timeout\": 0}"));
    unsetenv("GW_TEST_REDIS_PW");
    assert_non_null(got);
    assert_non_null(
        strstr(got, "\"redis://***@h:0\": the port must be a number between 1 and 65535"));
    assert_null(strstr(got, "hunter2"));
    free(got);
}

static void test_redis_errors(void **state)
{
    (void)state;
    /* backend redis without a URL: at the redis object when there is one, else at rate_limit. */
    expect_one(RL("\"backend\": \"redis\""), "{\"backend\"",
               "rate_limit: backend \"redis\" needs redis.url (\"redis://host:6379\")");
    expect_one(RL("\"backend\": \"redis\", \"redis\": {\"timeout\": \"10ms\"}"), "{\"timeout\"",
               "rate_limit.redis: backend \"redis\" needs redis.url (\"redis://host:6379\")");
    expect_one(RL("\"backend\": \"memcached\""), "\"memcached\"",
               "rate_limit.backend: unknown value \"memcached\" (expected local or redis)");
    expect_one(RL("\"headers\": \"draft\""), "\"draft\"",
               "rate_limit.headers: unknown value \"draft\" (expected all, ietf, legacy or off)");
    expect_one(RL("\"max_keys\": 63"), "63",
               "rate_limit.max_keys: must be between 64 and 100000000");
    expect_one(RL("\"max_keys\": 100000001"), "100000001",
               "rate_limit.max_keys: must be between 64 and 100000000");
    expect_one(RL("\"limit\": []"), "\"limit\"",
               "rate_limit.limit: unknown key \"limit\" (did you mean \"limits\"?)");
    expect_one(RL("\"redis\": \"redis://h\""), "\"redis://h\"",
               "rate_limit.redis: expected an object, got a string");

    /* backoff_max must not be shorter than backoff_min; a defaulted one points at its object. */
    expect_one(REDIS("\"backoff_min\": \"1s\", \"backoff_max\": \"500ms\""), "\"500ms\"",
               "rate_limit.redis.backoff_max: must not be shorter than backoff_min (500ms < "
               "1000ms)");
    expect_one(REDIS("\"backoff_min\": \"10s\""), "{\"backoff_min\"",
               "rate_limit.redis.backoff_max: must not be shorter than backoff_min (5000ms < "
               "10000ms)");
    expect_one(REDIS("\"backoff_max\": \"50ms\""), "\"50ms\"",
               "rate_limit.redis.backoff_max: must not be shorter than backoff_min (50ms < "
               "100ms)");
    expect_one(REDIS("\"backoff_min\": \"2h\""), "\"2h\"",
               "rate_limit.redis.backoff_min: must be between 1ms and 1h");
    /* Also followed by "must not be shorter than backoff_min (0ms < 100ms)": the cross-field
     * check sees the field a failed parse left at 0. */
    expect_contains(REDIS("\"backoff_max\": 0"), "0}",
                    "rate_limit.redis.backoff_max: must be between 1ms and 1h");

    expect_one(REDIS("\"timeout\": \"0ms\""), "\"0ms\"",
               "rate_limit.redis.timeout: must be between 1ms and 1m");
    expect_one(REDIS("\"timeout\": \"61s\""), "\"61s\"",
               "rate_limit.redis.timeout: must be between 1ms and 1m");
    expect_one(REDIS("\"failure_policy\": \"retry\""), "\"retry\"",
               "rate_limit.redis.failure_policy: unknown value \"retry\" (expected fail_open, "
               "fail_closed or local)");
    expect_one(REDIS("\"local_share\": 1000001"), "1000001",
               "rate_limit.redis.local_share: must be between 0 and 1000000");
    expect_one(REDIS("\"key_prefix\": \"a b\""), "\"a b\"",
               "rate_limit.redis.key_prefix: \"a b\" must be at most 64 printable characters "
               "without spaces");
    expect_one(REDIS("\"key_prefix\": \"" S64 "x\""), "\"" S32,
               "rate_limit.redis.key_prefix: \"" S32 "0123456789abcdef0123456789ab...\" must be at "
               "most 64 printable characters without spaces");
    expect_one(REDIS("\"urls\": \"redis://h\""), "\"urls\"",
               "rate_limit.redis.urls: unknown key \"urls\" (did you mean \"url\"?)");

    struct gw_config *cfg = load_ok(REDIS("\"key_prefix\": \"\""));
    assert_string_equal(cfg->rate_limit.redis.key_prefix, "");
    gw_config_free(cfg);
}

/* ---- several errors over several lines: exact line:column ------------------------------------ */

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
        cmocka_unit_test(test_limit_keys),
        cmocka_unit_test(test_limit_match_and_bounds),
        cmocka_unit_test(test_limit_errors),
        cmocka_unit_test(test_limit_names_unique),
        cmocka_unit_test(test_service_limits),
        cmocka_unit_test(test_trusted_proxies),
        cmocka_unit_test(test_redis_urls),
        cmocka_unit_test(test_redis_url_errors),
        cmocka_unit_test(test_redis_errors),
        cmocka_unit_test(test_errors_across_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
