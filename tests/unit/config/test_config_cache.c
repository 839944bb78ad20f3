/*
 * Unit tests for src/config/config_cache.c: the gateway's and a service's "cache" sections,
 * their defaults, the seeds' {"enabled": true, "ttl_seconds": 300}, booleans, and errors with
 * their positions (ttl with ttl_seconds, bad field names, unknown normalisations, ranges);
 * "methods" and the per-route "rules".
 */
#include "config_test.h"

static void test_defaults(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(SVC("\"timeouts\": {}"));
    assert_int_equal(cfg->cache.max_bytes, 64u << 20);
    assert_string_equal(cfg->cache.status_header, "X-Cache");
    assert_int_equal(cfg->cache.max_swr_ms, 3600000);
    assert_int_equal(cfg->cache.max_sie_ms, 86400000);
    const struct gw_cache_svc_conf *c = &cfg->services[0].cache;
    assert_false(c->enabled);
    assert_true(c->key_host);
    assert_true(c->key_query);
    assert_false(c->sort_query);
    assert_int_equal(c->max_object_size, 1u << 20);
    assert_int_equal(c->ttl_ms, 0);
    gw_config_free(cfg);
}

static void test_seed_form(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(SVC("\"cache\": {\"enabled\": true, \"ttl_seconds\": 300}"));
    assert_true(cfg->services[0].cache.enabled);
    assert_int_equal(cfg->services[0].cache.ttl_ms, 300000);
    gw_config_free(cfg);
    cfg = load_ok(SVC("\"cache\": true"));
    assert_true(cfg->services[0].cache.enabled);
    gw_config_free(cfg);
    cfg = load_ok(SVC("\"cache\": {\"enabled\": false, \"ttl\": \"5m\"}"));
    assert_false(cfg->services[0].cache.enabled);
    gw_config_free(cfg);
}

static void test_full(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(
        "{\"cache\": {\"memory\": {\"max_bytes\": \"16MiB\"}, \"status_header\": "
        "\"X-Gantry-Cache\","
        " \"max_stale_if_error\": \"10m\"},"
        " \"services\": [{\"name\": \"s\", \"prefix\": \"/p\", \"targets\": [\"http://h:1\"],"
        " \"cache\": {\"ttl\": \"5m\", \"max_object_size\": \"64k\", \"key\": {\"sort_query\": "
        "true,"
        " \"ignore_params\": [\"utm_source\", \"fbclid\"], \"headers\": \"X-Tenant\", \"host\": "
        "false},"
        " \"vary_normalize\": \"Accept-Encoding\", \"store_set_cookie\": true,"
        " \"heuristic_percent\": 10}}]}");
    assert_int_equal(cfg->cache.max_bytes, 16u << 20);
    assert_string_equal(cfg->cache.status_header, "X-Gantry-Cache");
    assert_int_equal(cfg->cache.max_sie_ms, 600000);
    const struct gw_cache_svc_conf *c = &cfg->services[0].cache;
    assert_true(c->enabled);
    assert_int_equal(c->ttl_ms, 300000);
    assert_int_equal(c->max_object_size, 65536);
    assert_true(c->sort_query);
    assert_false(c->key_host);
    assert_int_equal(c->nignore_params, 2);
    assert_int_equal(c->nkey_headers, 1);
    assert_string_equal(c->key_headers[0], "x-tenant");
    assert_int_equal(c->vary_normalize, GW_CACHE_NORM_ACCEPT_ENCODING);
    assert_true(c->store_set_cookie);
    assert_int_equal(c->heuristic_percent, 10);
    gw_config_free(cfg);
}

static void test_methods_and_rules(void **state)
{
    (void)state;
    struct gw_config *cfg =
        load_ok(SVC("\"cache\": {\"methods\": \"get\", \"ttl\": \"1m\", \"rules\": ["
                    "{\"match\": {\"prefix\": \"/p/live\"}, \"enabled\": false},"
                    "{\"match\": {\"prefix\": [\"/p/img\"], \"methods\": \"GET\"}, \"ttl\": \"1h\","
                    " \"max_object_size\": \"8MiB\", \"methods\": [\"GET\", \"HEAD\"]}]}"));
    const struct gw_cache_svc_conf *c = &cfg->services[0].cache;
    assert_int_equal(c->methods, 1u << GW_METHOD_GET);
    assert_int_equal(c->nrules, 2);
    assert_false(c->rules[0].enabled);
    assert_int_equal(c->rules[0].ttl_ms, UINT64_MAX); /* the service's */
    assert_int_equal(c->rules[0].max_object_size, 0);
    assert_int_equal(c->rules[0].methods, 0);
    assert_string_equal(c->rules[0].match.prefixes[0], "/p/live");
    assert_true(c->rules[1].enabled);
    assert_int_equal(c->rules[1].ttl_ms, 3600000);
    assert_int_equal(c->rules[1].max_object_size, 8u << 20);
    assert_int_equal(c->rules[1].methods, (1u << GW_METHOD_GET) | (1u << GW_METHOD_HEAD));
    gw_config_free(cfg);
    cfg = load_ok(SVC("\"cache\": true"));
    assert_int_equal(cfg->services[0].cache.methods, 0); /* GET and HEAD */
    assert_int_equal(cfg->services[0].cache.nrules, 0);
    gw_config_free(cfg);
}

static void test_errors(void **state)
{
    (void)state;
    expect_one(SVC("\"cache\": {\"ttl\": \"5m\", \"ttl_seconds\": 300}"), "\"ttl_seconds\"",
               "services[0].cache.ttl_seconds: give \"ttl\" or \"ttl_seconds\", not both");
    expect_one(SVC("\"cache\": {\"key\": {\"headers\": [\"X Bad\"]}}"), "\"X Bad\"",
               "services[0].cache.key.headers[0]: expected a header field name");
    expect_one(SVC("\"cache\": {\"vary_normalize\": \"accept-language\"}"), "\"accept-language\"",
               "services[0].cache.vary_normalize: unknown normalisation (expected "
               "\"accept-encoding\")");
    expect_one(SVC("\"cache\": {\"heuristic_percent\": 101}"), "101",
               "services[0].cache.heuristic_percent: must be between 0 and 100");
    expect_one(SVC("\"cache\": {\"key\": {\"ignore_params\": \"a=b\"}}"), "\"a=b\"",
               "services[0].cache.key.ignore_params: expected a query parameter name (no \"&\", "
               "\"=\" or \"#\")");
    expect_one("{\"cache\": {\"status_header\": \"X Cache\"}}", "\"X Cache\"",
               "cache.status_header: expected a header field name, or \"\" for none");
    expect_one(SVC("\"cache\": {\"methods\": [\"GET\", \"POST\"]}"), "[\"GET\", \"POST\"]",
               "services[0].cache.methods: the cache answers GET and HEAD only (expected "
               "\"GET\", \"HEAD\")");
    expect_one(SVC("\"cache\": {\"methods\": \"HEAD\"}"), "\"HEAD\"",
               "services[0].cache.methods: a HEAD is answered from a stored GET: list \"GET\" too");
    expect_one(SVC("\"cache\": {\"rules\": [{\"ttl\": \"1m\"}]}"), "{\"ttl\"",
               "services[0].cache.rules[0].match: required key \"match\" is missing");
    expect_one(SVC("\"cache\": {\"rules\": [{\"match\": {}, \"max_object_size\": 0}]}"), "0}]",
               "services[0].cache.rules[0].max_object_size: must be between 1 and 1GiB");
    expect_one(SVC("\"cache\": {\"tll\": 5}"), "\"tll\"",
               "services[0].cache.tll: unknown key \"tll\" (did you mean \"ttl\"?)");
}

static void test_backend(void **state)
{
    (void)state;
    /* memory by default */
    struct gw_config *cfg = load_ok(SVC("\"cache\": true"));
    assert_int_equal(cfg->cache.backend, GW_CACHE_BACKEND_MEMORY);
    assert_int_equal(cfg->services[0].cache.backend, GW_CACHE_BACKEND_MEMORY);
    assert_string_equal(cfg->cache.redis_prefix, "gantry:cache:");
    assert_int_equal(cfg->cache.redis_timeout_ms, 50);
    assert_int_equal(cfg->cache.redis_max_ttl_ms, 86400000);
    gw_config_free(cfg);
    /* gateway-wide, inherited; a service may keep its cache in memory */
    cfg = load_ok("{\"rate_limit\": {\"redis\": {\"url\": \"redis://127.0.0.1:6379\"}},"
                  " \"cache\": {\"backend\": \"redis\", \"redis\": {\"key_prefix\": \"c:\","
                  " \"timeout\": \"20ms\", \"max_ttl\": \"1h\"}},"
                  " \"services\": [{\"name\": \"a\", \"prefix\": \"/a\", \"targets\": "
                  "[\"http://h:1\"], \"cache\": {\"enabled\": true, \"ttl_seconds\": 300}},"
                  " {\"name\": \"b\", \"prefix\": \"/b\", \"targets\": [\"http://h:1\"],"
                  " \"cache\": {\"backend\": \"memory\"}}]}");
    assert_int_equal(cfg->cache.backend, GW_CACHE_BACKEND_REDIS);
    assert_int_equal(cfg->services[0].cache.backend, GW_CACHE_BACKEND_REDIS);
    assert_int_equal(cfg->services[1].cache.backend, GW_CACHE_BACKEND_MEMORY);
    assert_string_equal(cfg->cache.redis_prefix, "c:");
    assert_int_equal(cfg->cache.redis_timeout_ms, 20);
    assert_int_equal(cfg->cache.redis_max_ttl_ms, 3600000);
    gw_config_free(cfg);
    /* per service */
    cfg = load_ok("{\"rate_limit\": {\"redis\": {\"url\": \"redis://h\"}}, \"services\": "
                  "[{\"name\": \"a\", \"prefix\": \"/a\", \"targets\": [\"http://h:1\"],"
                  " \"cache\": {\"backend\": \"redis\"}}]}");
    assert_int_equal(cfg->cache.backend, GW_CACHE_BACKEND_MEMORY);
    assert_int_equal(cfg->services[0].cache.backend, GW_CACHE_BACKEND_REDIS);
    gw_config_free(cfg);
    /* errors */
    expect_one("{\"cache\": {\"backend\": \"redis\"}}", "\"redis\"",
               "cache.backend: backend redis uses the Redis of rate_limit.redis: set "
               "rate_limit.redis.url (or REDIS_URL)");
    expect_one(SVC("\"cache\": {\"backend\": \"redis\"}"), "\"redis\"",
               "services[0].cache.backend: backend redis uses the Redis of rate_limit.redis: set "
               "rate_limit.redis.url (or REDIS_URL)");
    expect_one("{\"cache\": {\"backend\": \"disk\"}}", "\"disk\"",
               "cache.backend: unknown value \"disk\" (expected memory or redis)");
    expect_one("{\"cache\": {\"redis\": {\"key_prefix\": \"a b\"}}}", "\"a b\"",
               "cache.redis.key_prefix: must be 1-64 printable characters without spaces");
    expect_one("{\"cache\": {\"redis\": {\"timeout\": \"0ms\"}}}", "\"0ms\"",
               "cache.redis.timeout: must be between 1ms and 1m");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults), cmocka_unit_test(test_seed_form),
        cmocka_unit_test(test_full),     cmocka_unit_test(test_methods_and_rules),
        cmocka_unit_test(test_errors),   cmocka_unit_test(test_backend),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
