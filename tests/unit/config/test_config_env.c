/* Unit tests for the environment overrides (src/config/config_env.c): each variable writes its
 * key, wins over the file, is checked like the file's value and named in its errors; unset or
 * empty variables change nothing. GATEWAY_PORT is tested in test_config.c. */
#include "config_test.h"

static void clear_env(void)
{
    unsetenv("LOG_LEVEL");
    unsetenv("REDIS_URL");
    unsetenv("JWT_SECRET");
    unsetenv("ADMIN_API_KEY");
    unsetenv("DATABASE_URL");
    unsetenv("GATEWAY_PORT");
}

static int setup(void **state)
{
    (void)state;
    clear_env();
    return 0;
}

static void test_log_level_wins_over_the_file(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok("{\"log\": {\"level\": \"info\"}}");
    assert_int_equal(cfg->log.level, GW_LOG_INFO);
    gw_config_free(cfg);
    setenv("LOG_LEVEL", "debug", 1);
    cfg = load_ok("{\"log\": {\"level\": \"info\"}}");
    assert_int_equal(cfg->log.level, GW_LOG_DEBUG);
    gw_config_free(cfg);
    cfg = load_ok("{}"); /* the section is created when the file has none */
    assert_int_equal(cfg->log.level, GW_LOG_DEBUG);
    gw_config_free(cfg);
    setenv("LOG_LEVEL", "", 1); /* empty counts as unset */
    cfg = load_ok("{\"log\": {\"level\": \"error\"}}");
    assert_int_equal(cfg->log.level, GW_LOG_ERROR);
    gw_config_free(cfg);
    clear_env();
}

static void test_bad_value_names_the_variable(void **state)
{
    (void)state;
    setenv("LOG_LEVEL", "loud", 1);
    expect_one("{\"log\": {\"level\": \"info\"}}", "\"info",
               "log.level: unknown value \"loud\" (expected debug, info, warn or error) (from "
               "environment variable LOG_LEVEL)");
    clear_env();
}

static void test_redis_url(void **state)
{
    (void)state;
    setenv("REDIS_URL", "redis://10.0.0.7:6380/2", 1);
    struct gw_config *cfg = load_ok("{\"rate_limit\": {\"backend\": \"redis\", \"redis\": "
                                    "{\"url\": \"redis://127.0.0.1:6379\"}}}");
    assert_string_equal(cfg->rate_limit.redis.url, "redis://10.0.0.7:6380/2");
    gw_config_free(cfg);
    /* The variable alone satisfies backend "redis"'s required url. */
    cfg = load_ok("{\"rate_limit\": {\"backend\": \"redis\"}}");
    assert_string_equal(cfg->rate_limit.redis.url, "redis://10.0.0.7:6380/2");
    gw_config_free(cfg);
    setenv("REDIS_URL", "http://x", 1);
    expect_one("{\"rate_limit\": {\"backend\": \"redis\"}}", "{\"backend",
               "rate_limit.redis.url: \"http://x\": must start with \"redis://\" (from environment "
               "variable REDIS_URL)");
    clear_env();
}

static void test_jwt_secret(void **state)
{
    (void)state;
    const char *secret = "0123456789abcdef0123456789abcdef-env";
    setenv("JWT_SECRET", secret, 1);
    struct gw_config *cfg =
        load_ok("{\"auth\": {\"jwt\": {\"keys\": [{\"kid\": \"k1\", \"alg\": "
                "\"HS256\", \"secret\": \"file-secret-file-secret-file-secret\"}]}}}");
    assert_int_equal(cfg->auth.njwt_key_confs, 1);
    assert_string_equal(cfg->auth.jwt_key_confs[0].secret, secret);
    assert_string_equal(cfg->auth.jwt_key_confs[0].kid, "k1");
    gw_config_free(cfg);
    /* No key in the file: one HS256 key with the secret. */
    cfg = load_ok("{}");
    assert_int_equal(cfg->auth.njwt_key_confs, 1);
    assert_string_equal(cfg->auth.jwt_key_confs[0].alg, "HS256");
    assert_string_equal(cfg->auth.jwt_key_confs[0].secret, secret);
    gw_config_free(cfg);
    setenv("JWT_SECRET", "short", 1);
    expect_one("{\"workers\": 1}", "{",
               "auth.jwt.keys[0].secret: is 5 bytes; HS256 needs a secret of at least 32 bytes "
               "(RFC 7518 section 3.2) (from environment variable JWT_SECRET)");
    clear_env();
}

static void test_admin_api_key(void **state)
{
    (void)state;
    setenv("ADMIN_API_KEY", "k-0123456789abcdef", 1);
    struct gw_config *cfg = load_ok("{\"admin\": {\"listen\": \"0.0.0.0:9000\"}}");
    assert_string_equal(cfg->admin.api_key, "k-0123456789abcdef");
    gw_config_free(cfg);
    /* Where the file has no object on the way, the variable does not apply. */
    expect_one("{\"admin\": 5}", "5", "admin: expected an object, got an integer");
    clear_env();
}

static void test_database_url_only_with_an_audit_section(void **state)
{
    (void)state;
    setenv("DATABASE_URL", "postgresql://gantry@10.0.0.5/gantry", 1);
    /* No audit section: the variable switches nothing on. */
    struct gw_config *cfg = load_ok("{}");
    assert_false(cfg->audit.enabled);
    assert_null(cfg->audit.pg_dsn);
    gw_config_free(cfg);
    /* An audit section: its PostgreSQL sink is the variable (over the file's dsn too). */
    cfg = load_ok("{\"audit\": {\"queue\": 100, \"postgres\": {\"dsn\": \"host=10.0.0.9\"}}}");
    assert_true(cfg->audit.enabled);
    assert_string_equal(cfg->audit.pg_dsn, "postgresql://gantry@10.0.0.5/gantry");
    gw_config_free(cfg);
    cfg = load_ok("{\"audit\": {}}");
    assert_true(cfg->audit.enabled);
    assert_string_equal(cfg->audit.pg_dsn, "postgresql://gantry@10.0.0.5/gantry");
    gw_config_free(cfg);
    clear_env();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_log_level_wins_over_the_file, setup),
        cmocka_unit_test_setup(test_bad_value_names_the_variable, setup),
        cmocka_unit_test_setup(test_redis_url, setup),
        cmocka_unit_test_setup(test_jwt_secret, setup),
        cmocka_unit_test_setup(test_admin_api_key, setup),
        cmocka_unit_test_setup(test_database_url_only_with_an_audit_section, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
