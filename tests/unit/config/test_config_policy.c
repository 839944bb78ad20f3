/*
 * Unit tests for the policy sections of the config: "rate_limit" (gateway and service, with
 * limits, trusted proxies and the Redis URL; src/control/config_ratelimit.c) and "auth"
 * (JWT keys, JWKS, API keys, consumers, introspection, identity headers, a service's auth;
 * src/control/config_auth.c). Defaults, every accepted value, and every error with its exact
 * position and key path. The JWT key tests make their RSA and EC keys with OpenSSL.
 */
#include "config_test.h"

#include "policy/jwt.h"
#include "state/ratelimit.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/socket.h>
#include <unistd.h>

/* One-line configs around a section. */
#define RL(fields) "{\"rate_limit\": {" fields "}}"
#define LIMIT(fields) "{\"rate_limit\": {\"limits\": [{" fields "}]}}"
#define REDIS(fields) "{\"rate_limit\": {\"redis\": {" fields "}}}"
#define AUTH(fields) "{\"auth\": {" fields "}}"
#define JWT(fields) "{\"auth\": {\"jwt\": {" fields "}}}"
#define KEYS(items) "{\"auth\": {\"jwt\": {\"keys\": [" items "]}}}"
/* A root section followed by one service with more keys. */
#define WITH_SVC(root, fields)                                                                     \
    "{" root ", \"services\": [{\"name\": \"s\", \"prefix\": \"/p\", \"targets\": "                \
    "[\"http://h:1\"], " fields "}]}"

#define S32 "0123456789abcdef0123456789abcdef" /* an HS256 secret of exactly 32 bytes */
#define S48 S32 "0123456789abcdef"
#define S64 S32 S32
#define HASH_A "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HASH_A_UPPER "sha256:0123456789ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef"
#define HASH_B "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

#define JWT_ROOT "\"auth\": {\"jwt\": {\"keys\": [{\"alg\": \"HS256\", \"secret\": \"" S32 "\"}]}}"

#define PROXY_EXAMPLES " (expected \"10.0.0.0/8\", \"192.0.2.7\" or \"2001:db8::/32\")"
#define PEM_RULES                                                                                  \
    " (RS*: RSA of 2048 bits or more, ES256: P-256, ES384: P-384, EdDSA: Ed25519 or Ed448)"
#define ALG_LIST                                                                                   \
    " (HS256, HS384, HS512, RS256, RS384, RS512, ES256, ES384, EdDSA; \"none\" is never "          \
    "accepted)"
#define HASH_RULE                                                                                  \
    "must be \"sha256:\" and 64 hex digits, as printed by `gantry hash-key KEY` (keys are never "  \
    "stored in clear)"
#define WORD_RULE                                                                                  \
    " must be 1 to 128 visible ASCII characters without spaces, commas, quotes or backslashes"
#define HEADER_RULE " is not a valid header name (letters, digits and !#$%&'*+-.^_`|~)"
#define METHOD_LIST "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH or TRACE"

/* Several errors in a one-line text: each located at the first occurrence of its `at`, given in
 * the order of their positions. */
struct at_msg {
    const char *at;
    const char *msg;
};

static void expect_list(const char *text, const struct at_msg *want, size_t n)
{
    char expected[8192];
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = strstr(text, want[i].at);
        assert_non_null(p);
        int k = snprintf(expected + o, sizeof expected - o, "t.json:1:%d: %s\n",
                         (int)(p - text) + 1, want[i].msg);
        assert_true(k > 0 && (size_t)k < sizeof expected - o);
        o += (size_t)k;
    }
    expect_errors(text, expected);
}

/* Loads text and returns its printed errors (NULL when it loaded). */
static char *load_errors(const char *text);

/* For one-line texts: expects the load to fail with, among its errors, this one at the first
 * occurrence of `at`. For the cases where the code also adds a consequential error (see the
 * comments at the calls). */
static void expect_contains(const char *text, const char *at, const char *path_and_message)
{
    const char *p = strstr(text, at);
    assert_non_null(p);
    char line[1024];
    snprintf(line, sizeof line, "t.json:1:%d: %s\n", (int)(p - text) + 1, path_and_message);
    char *got = load_errors(text);
    assert_non_null(got);
    if (strstr(got, line) == NULL)
        fail_msg("missing error:\n%sgot:\n%s", line, got);
    free(got);
}

static char *load_errors(const char *text)
{
    struct gw_config *cfg = NULL;
    struct gw_config_errors errs;
    int rc = gw_config_load_string("t.json", text, strlen(text), &cfg, &errs);
    char *got = NULL;
    if (rc == 0) {
        gw_config_free(cfg);
    } else {
        assert_int_equal(rc, GW_ECONFIG);
        got = errors_text(&errs);
    }
    gw_config_errors_free(&errs);
    return got;
}

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

/* ---- auth: JWT ------------------------------------------------------------------------------- */

static void test_auth_defaults(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok("{}");
    assert_false(cfg->auth.jwt_enabled);
    assert_int_equal(cfg->auth.njwt_key_confs, 0);
    assert_int_equal(cfg->auth.njwt_keys, 0);
    assert_null(cfg->auth.jwks_url);
    assert_int_equal(cfg->auth.jwks_refresh_ms, 300000);
    assert_int_equal(cfg->auth.jwks_min_refresh_ms, 10000);
    assert_int_equal(cfg->auth.jwks_timeout_ms, 5000);
    assert_null(cfg->auth.issuer);
    assert_null(cfg->auth.audience);
    assert_int_equal(cfg->auth.leeway_ms, 30000);
    assert_true(cfg->auth.require_exp);
    assert_int_equal(cfg->auth.nrequired_claims, 0);
    assert_int_equal(cfg->auth.nroles_claims, 1);
    assert_string_equal(cfg->auth.roles_claims[0], "roles");
    assert_int_equal(cfg->auth.npermissions_claims, 1);
    assert_string_equal(cfg->auth.permissions_claims[0], "permissions");
    assert_int_equal(cfg->auth.cache_entries, 10000);
    assert_int_equal(cfg->auth.cache_ttl_ms, 300000);
    assert_string_equal(cfg->auth.api_key_header, "x-api-key");
    assert_null(cfg->auth.api_key_query);
    assert_int_equal(cfg->auth.nconsumers, 0);
    assert_false(cfg->auth.introspection_enabled);
    assert_null(cfg->auth.introspection_url);
    assert_null(cfg->auth.introspection_client_id);
    assert_null(cfg->auth.introspection_client_secret);
    assert_int_equal(cfg->auth.introspection_timeout_ms, 2000);
    assert_int_equal(cfg->auth.introspection_ttl_ms, 60000);
    assert_int_equal(cfg->auth.introspection_neg_ttl_ms, 10000);
    assert_int_equal(cfg->auth.introspection_failure_status, 503);
    assert_string_equal(cfg->auth.hdr_consumer, "x-consumer-id");
    assert_string_equal(cfg->auth.hdr_user, "x-user-id");
    assert_string_equal(cfg->auth.hdr_roles, "x-user-roles");
    /* The lengths the upstream rewrite filters client headers by. */
    assert_int_equal(cfg->auth.hdr_consumer_len, 13);
    assert_int_equal(cfg->auth.hdr_user_len, 9);
    assert_int_equal(cfg->auth.hdr_roles_len, 12);
    gw_config_free(cfg);

    /* "introspection": false is the same as absent. */
    cfg = load_ok(AUTH("\"introspection\": false, \"jwt\": {}"));
    assert_false(cfg->auth.introspection_enabled);
    assert_false(cfg->auth.jwt_enabled);
    assert_int_equal(cfg->auth.introspection_failure_status, 503);
    gw_config_free(cfg);
}

static void test_auth_full_section(void **state)
{
    (void)state;
    setenv("GW_TEST_JWT_SECRET", S48, 1);
    struct gw_config *cfg = load_ok(
        "{\"auth\": {\n"
        "  \"jwt\": {\n"
        "    \"keys\": [{\"kid\": \"k1\", \"alg\": \"HS256\", \"secret\": \"" S32 "\"},\n"
        "             {\"kid\": \"k2\", \"alg\": \"HS384\", \"secret\": "
        "\"${GW_TEST_JWT_SECRET}\"},\n"
        "             {\"alg\": \"HS512\", \"secret\": \"" S64 "\"}],\n"
        "    \"jwks_url\": \"http://127.0.0.1:8080/.well-known/jwks.json\",\n"
        "    \"jwks_refresh\": \"1m\", \"jwks_min_refresh\": \"1m\", \"jwks_timeout\": \"1s\",\n"
        "    \"issuer\": \"https://idp.example.com/\", \"audience\": \"gantry\",\n"
        "    \"leeway\": 0, \"require_exp\": false,\n"
        "    \"required_claims\": [\"sub\", \"tenant\"],\n"
        "    \"roles_claim\": \"groups\", \"permissions_claim\": [\"permissions\", \"scope\"],\n"
        "    \"cache\": {\"max_entries\": 0, \"max_ttl\": \"30s\"}\n"
        "  },\n"
        "  \"api_keys\": {\"header\": \"X-Gateway-Key\", \"query\": \"api_key.v2~x-y\"},\n"
        "  \"consumers\": [\n"
        "    {\"id\": \"mobile-app\", \"roles\": [\"reader\", \"writer\"], \"permissions\": "
        "\"users:read\",\n"
        "     \"api_keys\": [\"" HASH_A_UPPER "\", \"" HASH_B "\"]},\n"
        "    {\"id\": \"batch@jobs\"}\n"
        "  ],\n"
        "  \"introspection\": {\"url\": \"http://idp:9000/introspect\", \"client_id\": \"gw\",\n"
        "    \"client_secret\": \"s\", \"timeout\": \"500ms\", \"cache_ttl\": \"2m\",\n"
        "    \"negative_cache_ttl\": \"1s\", \"failure_status\": 401},\n"
        "  \"identity_headers\": {\"consumer\": \"X-Client\", \"user\": \"X-Sub\", \"roles\": "
        "\"X-Groups\"}\n"
        "}}\n");
    unsetenv("GW_TEST_JWT_SECRET");
    assert_true(cfg->auth.jwt_enabled);
    assert_int_equal(cfg->auth.njwt_key_confs, 3);
    assert_int_equal(cfg->auth.njwt_keys, 3);
    assert_string_equal(cfg->auth.jwt_keys[0].kid, "k1");
    assert_int_equal(cfg->auth.jwt_keys[0].alg, GW_JWT_HS256);
    assert_int_equal(cfg->auth.jwt_keys[0].secret_len, 32);
    assert_string_equal(cfg->auth.jwt_keys[1].kid, "k2");
    assert_int_equal(cfg->auth.jwt_keys[1].alg, GW_JWT_HS384);
    assert_int_equal(cfg->auth.jwt_keys[1].secret_len, 48);
    assert_string_equal(cfg->auth.jwt_keys[2].kid, "");
    assert_int_equal(cfg->auth.jwt_keys[2].alg, GW_JWT_HS512);
    assert_int_equal(cfg->auth.jwt_keys[2].secret_len, 64);
    assert_string_equal(cfg->auth.jwks_url, "http://127.0.0.1:8080/.well-known/jwks.json");
    assert_int_equal(cfg->auth.jwks_refresh_ms, 60000);
    assert_int_equal(cfg->auth.jwks_min_refresh_ms, 60000);
    assert_int_equal(cfg->auth.jwks_timeout_ms, 1000);
    assert_string_equal(cfg->auth.issuer, "https://idp.example.com/");
    assert_string_equal(cfg->auth.audience, "gantry");
    assert_int_equal(cfg->auth.leeway_ms, 0);
    assert_false(cfg->auth.require_exp);
    assert_int_equal(cfg->auth.nrequired_claims, 2);
    assert_string_equal(cfg->auth.required_claims[0], "sub");
    assert_string_equal(cfg->auth.required_claims[1], "tenant");
    assert_int_equal(cfg->auth.nroles_claims, 1);
    assert_string_equal(cfg->auth.roles_claims[0], "groups");
    assert_int_equal(cfg->auth.npermissions_claims, 2);
    assert_string_equal(cfg->auth.permissions_claims[0], "permissions");
    assert_string_equal(cfg->auth.permissions_claims[1], "scope");
    assert_int_equal(cfg->auth.cache_entries, 0);
    assert_int_equal(cfg->auth.cache_ttl_ms, 30000);

    assert_string_equal(cfg->auth.api_key_header, "x-gateway-key");
    assert_string_equal(cfg->auth.api_key_query, "api_key.v2~x-y"); /* case kept */
    assert_int_equal(cfg->auth.nconsumers, 2);
    const struct gw_consumer_conf *c = &cfg->auth.consumers[0];
    assert_string_equal(c->id, "mobile-app");
    assert_int_equal(c->nroles, 2);
    assert_string_equal(c->roles[1], "writer");
    assert_int_equal(c->npermissions, 1);
    assert_string_equal(c->permissions[0], "users:read");
    assert_int_equal(c->napi_keys, 2);
    assert_string_equal(c->api_keys[0], HASH_A); /* uppercase hex normalised */
    assert_string_equal(c->api_keys[1], HASH_B);
    c = &cfg->auth.consumers[1];
    assert_string_equal(c->id, "batch@jobs");
    assert_int_equal(c->nroles, 0);
    assert_int_equal(c->napi_keys, 0);

    assert_true(cfg->auth.introspection_enabled);
    assert_string_equal(cfg->auth.introspection_url, "http://idp:9000/introspect");
    assert_string_equal(cfg->auth.introspection_client_id, "gw");
    assert_string_equal(cfg->auth.introspection_client_secret, "s");
    assert_int_equal(cfg->auth.introspection_timeout_ms, 500);
    assert_int_equal(cfg->auth.introspection_ttl_ms, 120000);
    assert_int_equal(cfg->auth.introspection_neg_ttl_ms, 1000);
    assert_int_equal(cfg->auth.introspection_failure_status, 401);
    assert_string_equal(cfg->auth.hdr_consumer, "x-client");
    assert_string_equal(cfg->auth.hdr_user, "x-sub");
    assert_string_equal(cfg->auth.hdr_roles, "x-groups");
    assert_int_equal(cfg->auth.hdr_consumer_len, 8);
    assert_int_equal(cfg->auth.hdr_user_len, 5);
    assert_int_equal(cfg->auth.hdr_roles_len, 8);
    gw_config_free(cfg);

    /* A JWKS URL alone turns JWT on; keys without a kid may repeat. */
    cfg = load_ok(JWT("\"jwks_url\": \"http://idp/jwks\""));
    assert_true(cfg->auth.jwt_enabled);
    assert_int_equal(cfg->auth.njwt_keys, 0);
    gw_config_free(cfg);
    cfg = load_ok(KEYS("{\"alg\": \"HS256\", \"secret\": \"" S32 "\"}, {\"alg\": \"HS256\", "
                       "\"secret\": \"" S32 "x\"}"));
    assert_true(cfg->auth.jwt_enabled);
    assert_int_equal(cfg->auth.njwt_keys, 2);
    gw_config_free(cfg);
    /* jwks_min_refresh longer than jwks_refresh means nothing without a JWKS URL. */
    cfg = load_ok(JWT("\"jwks_min_refresh\": \"10m\""));
    assert_false(cfg->auth.jwt_enabled);
    gw_config_free(cfg);
}

#define KEY0 "auth.jwt.keys[0]"

static void test_jwt_key_errors(void **state)
{
    (void)state;
    expect_one(KEYS("{\"alg\": \"HS256\", \"secret\": \"0123456789abcdef0123456789abcde\"}"),
               "\"0123456789abcdef0123456789abcde\"",
               KEY0 ".secret: is 31 bytes; HS256 needs a secret of at least 32 bytes (RFC 7518 "
                    "section 3.2)");
    expect_one(KEYS("{\"alg\": \"HS384\", \"secret\": \"" S32 "0123456789abcde\"}"), "\"" S32,
               KEY0 ".secret: is 47 bytes; HS384 needs a secret of at least 48 bytes (RFC 7518 "
                    "section 3.2)");
    expect_one(KEYS("{\"alg\": \"HS512\", \"secret\": \"" S48 "\"}"), "\"" S32,
               KEY0 ".secret: is 48 bytes; HS512 needs a secret of at least 64 bytes (RFC 7518 "
                    "section 3.2)");
    expect_one(KEYS("{\"alg\": \"HS257\", \"secret\": \"" S32 "\"}"), "\"HS257\"",
               KEY0 ".alg: unknown or refused algorithm \"HS257\"" ALG_LIST);
    expect_one(KEYS("{\"alg\": \"none\"}"), "\"none\"",
               KEY0 ".alg: unknown or refused algorithm \"none\"" ALG_LIST);
    /* alg names are case-sensitive (RFC 7515 section 4.1.1). */
    expect_one(KEYS("{\"alg\": \"hs256\", \"secret\": \"" S32 "\"}"), "\"hs256\"",
               KEY0 ".alg: unknown or refused algorithm \"hs256\"" ALG_LIST);
    expect_one(KEYS("{\"secret\": \"" S32 "\"}"), "{\"secret\"",
               KEY0 ".alg: required key \"alg\" is missing");
    expect_one(KEYS("{\"alg\": \"HS256\"}"), "{\"alg\"",
               KEY0 ": HS256 needs exactly one of \"secret\"");
    expect_one(KEYS("{\"alg\": \"HS256\", \"secret\": \"" S32 "\", \"pem\": \"x\"}"), "{\"alg\"",
               KEY0 ": HS256 needs exactly one of \"secret\"");
    expect_one(KEYS("{\"alg\": \"HS256\", \"pem_file\": \"/k.pem\"}"), "{\"alg\"",
               KEY0 ": HS256 needs exactly one of \"secret\"");
    expect_one(KEYS("{\"alg\": \"RS256\", \"secret\": \"" S32 "\"}"), "{\"alg\"",
               KEY0 ": RS256 needs exactly one of \"pem\" or \"pem_file\" (a public key)");
    expect_one(KEYS("{\"alg\": \"ES256\"}"), "{\"alg\"",
               KEY0 ": ES256 needs exactly one of \"pem\" or \"pem_file\" (a public key)");
    expect_one(KEYS("{\"alg\": \"RS256\", \"pem\": \"x\", \"pem_file\": \"/k.pem\"}"), "{\"alg\"",
               KEY0 ": RS256 needs exactly one of \"pem\" or \"pem_file\" (a public key)");
    expect_one(KEYS("{\"alg\": \"RS256\", \"pem_file\": \"/nonexistent/gantry-test.pem\"}"),
               "\"/nonexistent/gantry-test.pem\"",
               KEY0 ".pem_file: cannot read \"/nonexistent/gantry-test.pem\": No such file or "
                    "directory");
    expect_one(KEYS("{\"alg\": \"RS256\", \"pem\": \"-----BEGIN PUBLIC KEY-----\"}"),
               "\"-----BEGIN", KEY0 ".pem: is not a PEM public key usable for RS256" PEM_RULES);
    expect_one(KEYS("{\"kid\": \"" S64 "\", \"alg\": \"HS256\", \"secret\": \"" S64 "\"}"),
               "\"" S64, KEY0 ".kid: is longer than 63 characters");
    expect_one(
        KEYS("{\"kid\": \"a\", \"alg\": \"HS256\", \"secret\": \"" S32 "\"}, {\"kid\": "
             "\"b\", \"alg\": \"HS256\", \"secret\": \"" S32 "\"}, {\"kid\": \"a\", \"alg\": "
             "\"HS512\", \"secret\": \"" S64 "\"}"),
        "\"a\", \"alg\": \"HS512\"", "auth.jwt.keys[2].kid: kid \"a\" is used by keys[0] too");
    expect_one(JWT("\"keys\": {}"), "{}",
               "auth.jwt.keys: expected an array of key objects, got an object");
    expect_one(KEYS("{\"alg\": \"HS256\", \"secret\": \"" S32 "\", \"pme\": \"x\"}"), "\"pme\"",
               KEY0 ".pme: unknown key \"pme\" (did you mean \"pem\"?)");
}

static void test_jwt_section_errors(void **state)
{
    (void)state;
    expect_one(JWT("\"jwks_url\": \"https://idp.example.com/.well-known/jwks.json\""), "\"https:",
               "auth.jwt.jwks_url: \"https://idp.example.com/.well-known/jwks.json\": https is "
               "not supported for URLs gantry fetches yet; serve it on a loopback or internal "
               "http:// address");
    expect_one(JWT("\"jwks_url\": \"ftp://idp/jwks\""),
               "\"ftp:", "auth.jwt.jwks_url: \"ftp://idp/jwks\": not an http:// URL");
    expect_one(JWT("\"jwks_url\": \"http://\""), "\"http://\"",
               "auth.jwt.jwks_url: \"http://\": missing host (expected http://host:port)");
    expect_one(JWT("\"jwks_url\": \"http:///jwks\""), "\"http:///jwks\"",
               "auth.jwt.jwks_url: \"http:///jwks\": missing host (expected http://host:port)");
    expect_one(JWT("\"jwks_url\": \"http://idp/a b\""), "\"http://idp/a b\"",
               "auth.jwt.jwks_url: \"http://idp/a b\": invalid character in the path "
               "(percent-encode it)");
    /* What the fetch client would refuse is refused here, in the same words. */
    expect_one(JWT("\"jwks_url\": \"http://idp:99999/jwks\""), "\"http://idp:99999/jwks\"",
               "auth.jwt.jwks_url: \"http://idp:99999/jwks\": the port must be a number between "
               "1 and 65535");
    expect_one(JWT("\"jwks_url\": \"http://gw:hunter2@idp/jwks\""), "\"http://gw:",
               "auth.jwt.jwks_url: \"http://***@idp/jwks\": user information (\"user@\") is "
               "not allowed in a URL gantry fetches");
    expect_one(JWT("\"jwks_url\": \"http://idp/jwks\", \"jwks_min_refresh\": \"10m\""), "\"10m\"",
               "auth.jwt.jwks_min_refresh: must not be longer than jwks_refresh");
    /* jwks_min_refresh defaulted (10s): the error points at the object that lacks it. */
    expect_one(JWT("\"jwks_url\": \"http://idp/jwks\", \"jwks_refresh\": \"5s\""), "{\"jwks_url\"",
               "auth.jwt.jwks_min_refresh: must not be longer than jwks_refresh");
    expect_one(JWT("\"leeway\": \"2h\""), "\"2h\"", "auth.jwt.leeway: must be between 0 and 1h");
    expect_one(JWT("\"cache\": {\"max_entries\": 10000001}"), "10000001",
               "auth.jwt.cache.max_entries: must be between 0 and 10000000");
    expect_one(JWT("\"require_exp\": \"no\""), "\"no\"",
               "auth.jwt.require_exp: expected a boolean (true or false)");
    expect_one(JWT("\"issuers\": \"x\""), "\"issuers\"",
               "auth.jwt.issuers: unknown key \"issuers\" (did you mean \"issuer\"?)");
    expect_one(AUTH("\"jwt\": true"), "true", "auth.jwt: expected an object, got a boolean");
}

/* required_claims, roles_claim and permissions_claim: one name or a list of names and dotted
 * paths (read by policy/claims.c). */
static void test_jwt_claim_lists(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(
        JWT("\"required_claims\": \"sub\", \"roles_claim\": [\"roles\", \"role\", \"scope\", "
            "\"realm_access.roles\", \"https://example.com/roles\"], \"permissions_claim\": []"));
    assert_int_equal(cfg->auth.nrequired_claims, 1);
    assert_string_equal(cfg->auth.required_claims[0], "sub");
    assert_int_equal(cfg->auth.nroles_claims, 5);
    assert_string_equal(cfg->auth.roles_claims[0], "roles");
    assert_string_equal(cfg->auth.roles_claims[3], "realm_access.roles");
    assert_string_equal(cfg->auth.roles_claims[4], "https://example.com/roles");
    assert_int_equal(cfg->auth.npermissions_claims, 0); /* []: permissions are not read */
    gw_config_free(cfg);
    cfg = load_ok(JWT("\"required_claims\": [\"sub\", \"org.id\", \"a.b.c\"], \"roles_claim\": "
                      "\"${GW_TEST_UNSET_CLAIM:-groups}\""));
    assert_int_equal(cfg->auth.nrequired_claims, 3);
    assert_string_equal(cfg->auth.required_claims[2], "a.b.c");
    assert_string_equal(cfg->auth.roles_claims[0], "groups");
    gw_config_free(cfg);

#define CLAIM_PATH " is not a claim name or a dotted path (a name on both sides of each dot)"
    expect_one(JWT("\"roles_claim\": \"my roles\""), "\"my roles\"",
               "auth.jwt.roles_claim: \"my roles\"" WORD_RULE);
    expect_one(JWT("\"roles_claim\": [\"roles\", \"my roles\"]"), "\"my roles\"",
               "auth.jwt.roles_claim[1]: \"my roles\"" WORD_RULE);
    expect_one(JWT("\"permissions_claim\": [\"scope\", \"scope\"]"), "\"scope\"]",
               "auth.jwt.permissions_claim[1]: \"scope\" is listed twice");
    expect_one(JWT("\"required_claims\": [\"\"]"), "\"\"]",
               "auth.jwt.required_claims[0]: \"\"" WORD_RULE);
    expect_one(JWT("\"required_claims\": [\"sub\", \"a\\\"b\"]"), "\"a\\",
               "auth.jwt.required_claims[1]: \"a\\\"b\"" WORD_RULE);
    expect_one(JWT("\"required_claims\": \".sub\""), "\".sub\"",
               "auth.jwt.required_claims: \".sub\"" CLAIM_PATH);
    expect_one(JWT("\"required_claims\": \"org.\""), "\"org.\"",
               "auth.jwt.required_claims: \"org.\"" CLAIM_PATH);
    expect_one(JWT("\"roles_claim\": [\"realm_access..roles\"]"), "\"realm_access..roles\"",
               "auth.jwt.roles_claim[0]: \"realm_access..roles\"" CLAIM_PATH);
    expect_one(JWT("\"required_claims\": 5"), "5",
               "auth.jwt.required_claims: expected a string or an array of strings, got an "
               "integer");
    expect_one(JWT("\"required_claims\": [\"sub\", null]"), "null",
               "auth.jwt.required_claims[1]: expected a string, got null");
    expect_one(JWT("\"roles_claim\": {\"name\": \"roles\"}"), "{\"name\"",
               "auth.jwt.roles_claim: expected a string or an array of strings, got an object");
    expect_one(JWT("\"required_claim\": [\"sub\"]"), "\"required_claim\"",
               "auth.jwt.required_claim: unknown key \"required_claim\" (did you mean "
               "\"required_claims\"?)");
#undef CLAIM_PATH
}

/* ---- auth: JWT keys from PEM ----------------------------------------------------------------- */

static char *public_pem(EVP_PKEY *k, bool private_key)
{
    BIO *b = BIO_new(BIO_s_mem());
    assert_non_null(b);
    int ok = private_key ? PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)
                         : PEM_write_bio_PUBKEY(b, k);
    assert_int_equal(ok, 1);
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    assert_true(n > 0);
    char *s = malloc((size_t)n + 1); /* the BIO's data is not NUL-terminated */
    assert_non_null(s);
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    BIO_free(b);
    return s;
}

/* Writes text to a new temporary file; returns its path. */
static char *temp_file(const char *text)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/gantry-cfgtest-XXXXXX", dir && dir[0] ? dir : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    assert_int_equal(close(fd), 0);
    char *s = strdup(path);
    assert_non_null(s);
    return s;
}

/* A config with one key {kid, alg, field: value}, written by jansson (it escapes the PEM). */
static char *key_config(const char *alg, const char *field, const char *value)
{
    json_t *root = json_pack("{s:{s:{s:[{s:s, s:s, s:s}]}}}", "auth", "jwt", "keys", "kid", "k",
                             "alg", alg, field, value);
    assert_non_null(root);
    char *text = json_dumps(root, 0);
    assert_non_null(text);
    json_decref(root);
    return text;
}

static void expect_key_error(const char *text, const char *field, const char *alg)
{
    char at[16];
    char msg[512];
    snprintf(at, sizeof at, "\"%s\": \"", field);
    snprintf(msg, sizeof msg, KEY0 ".%s: is not a PEM public key usable for %s" PEM_RULES, field,
             alg);
    /* The error is at the value, just after `"field": `. */
    const char *p = strstr(text, at);
    assert_non_null(p);
    char expected[768];
    snprintf(expected, sizeof expected, "t.json:1:%d: %s\n", (int)(p - text) + (int)strlen(at),
             msg);
    expect_errors(text, expected);
}

static void test_jwt_pem_keys(void **state)
{
    (void)state;
    EVP_PKEY *rsa = EVP_RSA_gen(2048);
    EVP_PKEY *rsa_small = EVP_RSA_gen(1024);
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    assert_non_null(rsa);
    assert_non_null(rsa_small);
    assert_non_null(ec);
    char *rsa_pem = public_pem(rsa, false);
    char *rsa_private = public_pem(rsa, true);
    char *small_pem = public_pem(rsa_small, false);
    char *ec_pem = public_pem(ec, false);
    char *rsa_file = temp_file(rsa_pem);

    /* pem_file */
    char text[8192];
    snprintf(text, sizeof text,
             KEYS("{\"kid\": \"rsa1\", \"alg\": \"RS256\", \"pem_file\": \"%s\"}, {\"kid\": "
                  "\"rsa2\", \"alg\": \"RS512\", \"pem_file\": \"%s\"}"),
             rsa_file, rsa_file);
    struct gw_config *cfg = load_ok(text);
    assert_true(cfg->auth.jwt_enabled);
    assert_int_equal(cfg->auth.njwt_keys, 2);
    assert_string_equal(cfg->auth.jwt_keys[0].kid, "rsa1");
    assert_int_equal(cfg->auth.jwt_keys[0].alg, GW_JWT_RS256);
    assert_non_null(cfg->auth.jwt_keys[0].pkey);
    assert_null(cfg->auth.jwt_keys[0].secret);
    assert_int_equal(cfg->auth.jwt_keys[1].alg, GW_JWT_RS512);
    assert_string_equal(cfg->auth.jwt_key_confs[0].pem_file, rsa_file);
    gw_config_free(cfg);

    /* pem, inline */
    char *json = key_config("RS384", "pem", rsa_pem);
    cfg = load_ok(json);
    assert_int_equal(cfg->auth.njwt_keys, 1);
    assert_int_equal(cfg->auth.jwt_keys[0].alg, GW_JWT_RS384);
    assert_non_null(cfg->auth.jwt_keys[0].pkey);
    gw_config_free(cfg);
    free(json);
    json = key_config("ES256", "pem", ec_pem);
    cfg = load_ok(json);
    assert_int_equal(cfg->auth.jwt_keys[0].alg, GW_JWT_ES256);
    gw_config_free(cfg);
    free(json);

    /* keys that do not fit their algorithm, or are not public keys */
    json = key_config("RS256", "pem", small_pem);
    expect_key_error(json, "pem", "RS256");
    free(json);
    json = key_config("ES256", "pem", rsa_pem);
    expect_key_error(json, "pem", "ES256");
    free(json);
    json = key_config("ES384", "pem", ec_pem);
    expect_key_error(json, "pem", "ES384");
    free(json);
    json = key_config("RS256", "pem", ec_pem);
    expect_key_error(json, "pem", "RS256");
    free(json);
    json = key_config("RS256", "pem", rsa_private);
    expect_key_error(json, "pem", "RS256");
    free(json);
    char *small_file = temp_file(small_pem);
    json = key_config("RS256", "pem_file", small_file);
    expect_key_error(json, "pem_file", "RS256");
    free(json);
    assert_int_equal(unlink(small_file), 0);
    free(small_file);

    assert_int_equal(unlink(rsa_file), 0);
    free(rsa_file);
    free(rsa_pem);
    free(rsa_private);
    free(small_pem);
    free(ec_pem);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(rsa_small);
    EVP_PKEY_free(ec);
}

/* ---- auth: API keys, consumers, introspection, identity headers ------------------------------ */

static void test_api_key_and_consumer_errors(void **state)
{
    (void)state;
    expect_one(AUTH("\"api_keys\": {\"header\": \"X Key\"}"), "\"X Key\"",
               "auth.api_keys.header: \"X Key\"" HEADER_RULE);
    expect_one(AUTH("\"api_keys\": {\"header\": \"\"}"), "\"\"",
               "auth.api_keys.header: \"\"" HEADER_RULE);
    expect_one(AUTH("\"api_keys\": {\"query\": \"api key\"}"), "\"api key\"",
               "auth.api_keys.query: \"api key\" is not a valid query parameter name (1 to 64 of "
               "A-Z a-z 0-9 - _ . ~)");
    expect_one(AUTH("\"api_keys\": {\"query\": \"k=v\"}"), "\"k=v\"",
               "auth.api_keys.query: \"k=v\" is not a valid query parameter name (1 to 64 of "
               "A-Z a-z 0-9 - _ . ~)");
    expect_one(AUTH("\"api_keys\": {\"query\": \"\"}"), "\"\"",
               "auth.api_keys.query: \"\" is not a valid query parameter name (1 to 64 of A-Z "
               "a-z 0-9 - _ . ~)");

    /* consumers */
    expect_one(AUTH("\"consumers\": [{\"id\": \"a\", \"roles\": \"r\"}, {\"id\": \"a\"}]"),
               "\"a\"}]", "auth.consumers[1].id: consumer \"a\" is defined twice (consumers[0])");
    expect_one(AUTH("\"consumers\": [{\"id\": \"a\", \"api_keys\": [\"" HASH_A "\"]}, {\"id\": "
                    "\"b\", \"api_keys\": [\"" HASH_B "\", \"" HASH_A_UPPER "\"]}]"),
               "\"" HASH_A_UPPER,
               "auth.consumers[1].api_keys[1]: this key also belongs to "
               "consumers[0]");
    expect_one(AUTH("\"consumers\": [{\"id\": \"a\", \"api_keys\": \"sha256:abc\"}]"),
               "\"sha256:abc\"", "auth.consumers[0].api_keys: " HASH_RULE);
    expect_one(AUTH("\"consumers\": [{\"id\": \"a\", \"api_keys\": [\"my-secret-key\"]}]"),
               "\"my-secret-key\"", "auth.consumers[0].api_keys[0]: " HASH_RULE);
    expect_one(AUTH("\"consumers\": [{\"id\": \"a\", \"api_keys\": [\"SHA256:" S64 "\"]}]"),
               "\"SHA256:", "auth.consumers[0].api_keys[0]: " HASH_RULE);
    expect_one(AUTH("\"consumers\": [{\"id\": \"a\", \"api_keys\": [\"sha256:" S32
                    "0123456789abcdef0123456789abcdeg\"]}]"),
               "\"sha256:", "auth.consumers[0].api_keys[0]: " HASH_RULE);
    expect_one(AUTH("\"consumers\": [{\"id\": \"a\", \"api_keys\": [\"" HASH_A "0\"]}]"),
               "\"sha256:", "auth.consumers[0].api_keys[0]: " HASH_RULE);
    /* One consumer listing a key twice (after normalisation): the strlist's own check. */
    expect_one(AUTH("\"consumers\": [{\"id\": \"a\", \"api_keys\": [\"" HASH_A "\", \"" HASH_A_UPPER
                    "\"]}]"),
               "\"" HASH_A_UPPER,
               "auth.consumers[0].api_keys[1]: \"sha256:0123456789abcdef0123456789abcdef0123456789"
               "abcdef01234...\" is listed twice");
    expect_one(AUTH("\"consumers\": [{\"roles\": \"r\"}]"), "{\"roles\"",
               "auth.consumers[0].id: required key \"id\" is missing");
    expect_one(AUTH("\"consumers\": [{\"id\": \"a b\"}]"), "\"a b\"",
               "auth.consumers[0].id: \"a b\"" WORD_RULE);
    expect_one(AUTH("\"consumers\": [{\"id\": \"a\", \"roles\": [\"admin\", \"x,y\"]}]"), "\"x,y\"",
               "auth.consumers[0].roles[1]: \"x,y\"" WORD_RULE);
    expect_one(AUTH("\"consumers\": [{\"id\": \"a\", \"permissions\": [\"p\", \"p\"]}]"), "\"p\"]",
               "auth.consumers[0].permissions[1]: \"p\" is listed twice");
    expect_one(AUTH("\"consumers\": {\"id\": \"a\"}"), "{\"id\"",
               "auth.consumers: expected an array of consumer objects, got an object");

    /* introspection */
    expect_one(AUTH("\"introspection\": {}"), "{}",
               "auth.introspection.url: required key \"url\" is missing");
    expect_one(AUTH("\"introspection\": true"), "true",
               "auth.introspection.url: required key \"url\" is missing");
    expect_one(AUTH("\"introspection\": \"yes\""), "\"yes\"",
               "auth.introspection: expected a boolean (true or false)");
    expect_one(AUTH("\"introspection\": {\"url\": \"https://idp/introspect\"}"), "\"https:",
               "auth.introspection.url: \"https://idp/introspect\": https is not supported for "
               "URLs gantry fetches yet; serve it on a loopback or internal http:// address");
    expect_one(AUTH("\"introspection\": {\"url\": \"http://idp/i\", \"failure_status\": 399}"),
               "399", "auth.introspection.failure_status: must be between 400 and 599");
    expect_one(AUTH("\"introspection\": {\"url\": \"http://idp/i\", \"failure_status\": 600}"),
               "600", "auth.introspection.failure_status: must be between 400 and 599");
    struct gw_config *cfg =
        load_ok(AUTH("\"introspection\": {\"url\": \"http://idp/i\", \"failure_status\": 599}"));
    assert_true(cfg->auth.introspection_enabled);
    assert_int_equal(cfg->auth.introspection_failure_status, 599);
    gw_config_free(cfg);

    /* identity_headers */
    expect_one(AUTH("\"identity_headers\": {\"roles\": \"X User Roles\"}"), "\"X User Roles\"",
               "auth.identity_headers.roles: \"X User Roles\"" HEADER_RULE);
    expect_one(AUTH("\"identity_headers\": {\"consumer\": \"\"}"), "\"\"",
               "auth.identity_headers.consumer: \"\"" HEADER_RULE);
    cfg = load_ok(AUTH("\"identity_headers\": {\"user\": \"X-Authenticated-User\"}"));
    assert_string_equal(cfg->auth.hdr_consumer, "x-consumer-id");
    assert_string_equal(cfg->auth.hdr_user, "x-authenticated-user");
    assert_string_equal(cfg->auth.hdr_roles, "x-user-roles");
    gw_config_free(cfg);

    expect_one(AUTH("\"consumer\": []"), "\"consumer\"",
               "auth.consumer: unknown key \"consumer\" (did you mean \"consumers\"?)");
}

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
        cmocka_unit_test(test_auth_defaults),
        cmocka_unit_test(test_auth_full_section),
        cmocka_unit_test(test_jwt_key_errors),
        cmocka_unit_test(test_jwt_section_errors),
        cmocka_unit_test(test_jwt_claim_lists),
        cmocka_unit_test(test_jwt_pem_keys),
        cmocka_unit_test(test_api_key_and_consumer_errors),
        cmocka_unit_test(test_service_auth_on_off),
        cmocka_unit_test(test_service_auth_full),
        cmocka_unit_test(test_service_auth_errors),
        cmocka_unit_test(test_errors_across_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
