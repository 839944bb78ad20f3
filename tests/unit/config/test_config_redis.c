/*
 * Unit tests for "rate_limit.redis" (src/config/config_ratelimit.c), the Redis connection
 * every Redis user shares: the URL's forms (user, password, database, IPv6) and each of its
 * errors (the password never printed), "backend": "redis" without a URL, the bounds of the
 * other keys of "redis" (and of the section's backend, headers and max_keys).
 */
#include "policy_test.h"

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

int main(void)
{
    unsetenv("GATEWAY_PORT");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_urls),
        cmocka_unit_test(test_redis_url_errors),
        cmocka_unit_test(test_redis_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
