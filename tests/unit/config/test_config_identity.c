/* The "identity" section: off by default, defaults, values, the key it adds to auth.jwt, and
 * errors with their positions. */
#include "config_test.h"

#include "policy/jwt.h"

#define SERVICES                                                                                   \
    "\"services\": [{\"name\": \"s\", \"prefix\": \"/p\", \"targets\": [\"http://h:1\"], "         \
    "\"auth\": {\"methods\": [\"jwt\"]}}]"
#define PLAIN_SERVICES                                                                             \
    "\"services\": [{\"name\": \"s\", \"prefix\": \"/p\", \"targets\": [\"http://h:1\"]}]"
#define SECRET "0123456789abcdef0123456789abcdef"
#define MIN "\"sqlite\": \"/tmp/id.db\", \"jwt\": {\"secret\": \"" SECRET "\"}"

static void test_identity_off_by_default(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok("{" PLAIN_SERVICES "}");
    assert_false(cfg->identity.enabled);
    assert_false(cfg->auth.jwt_enabled);
    assert_int_equal(cfg->auth.njwt_keys, 0);
    gw_config_free(cfg);
    cfg = load_ok("{\"identity\": false, " PLAIN_SERVICES "}");
    assert_false(cfg->identity.enabled);
    gw_config_free(cfg);
}

static void test_identity_defaults(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok("{\"identity\": {" MIN "}, " SERVICES "}");
    const struct gw_identity_conf *ic = &cfg->identity;
    assert_true(ic->enabled);
    assert_string_equal(ic->sqlite, "/tmp/id.db");
    assert_string_equal(ic->issuer, "gantry");
    assert_string_equal(ic->audience, "gantry");
    assert_string_equal(ic->kid, "gantry-identity");
    assert_int_equal(ic->access_ttl_ms, 15 * 60000);
    assert_int_equal(ic->refresh_ttl_ms, 720ull * 3600000);
    assert_int_equal(ic->refresh_idle_ms, 0);
    assert_int_equal(ic->opslimit, 2);
    assert_int_equal(ic->memlimit, 64ull << 20);
    assert_int_equal(ic->min_length, 10);
    assert_int_equal(ic->register_mode, GW_IDP_REGISTER_ADMIN);
    assert_int_equal(ic->ndefault_roles, 1);
    assert_string_equal(ic->default_roles[0], "user");
    assert_string_equal(ic->admin_role, "admin");
    assert_string_equal(ic->paths[GW_IDP_EP_REGISTER], "/auth/register");
    assert_string_equal(ic->paths[GW_IDP_EP_LOGIN], "/auth/login");
    assert_string_equal(ic->paths[GW_IDP_EP_REFRESH], "/auth/refresh");
    assert_string_equal(ic->paths[GW_IDP_EP_LOGOUT], "/auth/logout");
    assert_string_equal(ic->paths[GW_IDP_EP_ME], "/auth/me");
    assert_string_equal(ic->paths[GW_IDP_EP_PASSWORD], "/auth/password");
    assert_int_equal(ic->max_failures, 5);
    assert_int_equal(ic->max_addr_failures, 20);
    assert_int_equal(ic->lockout_window_ms, 15 * 60000);
    assert_int_equal(ic->lockout_ms, 15 * 60000);
    /* The signing key is one of auth.jwt's keys: services with methods ["jwt"] load. */
    assert_true(cfg->auth.jwt_enabled);
    assert_int_equal(cfg->auth.njwt_keys, 1);
    assert_string_equal(cfg->auth.jwt_keys[0].kid, "gantry-identity");
    assert_int_equal(cfg->auth.jwt_keys[0].alg, GW_JWT_HS256);
    gw_config_free(cfg);
}

static void test_identity_values(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(
        "{\"auth\": {\"jwt\": {\"keys\": [{\"kid\": \"other\", \"alg\": \"HS256\", \"secret\": "
        "\"" SECRET "\"}]}}, \"identity\": {\"sqlite\": \"/var/lib/g/id.db\", \"issuer\": "
        "\"https://id\", \"audience\": \"api\", \"jwt\": {\"kid\": \"k2\", \"secret\": \"" SECRET
        "\"}, \"access_ttl\": \"5m\", \"refresh_ttl\": \"24h\", \"refresh_idle\": \"1h\", "
        "\"password\": {\"opslimit\": 3, "
        "\"memlimit\": \"32MiB\", \"min_length\": 12}, \"register\": {\"mode\": \"invite\", "
        "\"invite_codes\": [\"a\", \"b\"], \"roles\": [\"reader\", \"writer\"]}, \"admin_role\": "
        "\"root\", \"paths\": {\"login\": \"/api/auth/login\", \"register\": "
        "\"/api/auth/register\"}, \"lockout\": {\"max_failures\": 3, \"max_address_failures\": 9, "
        "\"window\": \"1m\", \"duration\": \"2m\"}}, " SERVICES "}");
    const struct gw_identity_conf *ic = &cfg->identity;
    assert_string_equal(ic->issuer, "https://id");
    assert_string_equal(ic->audience, "api");
    assert_string_equal(ic->kid, "k2");
    assert_int_equal(ic->access_ttl_ms, 300000);
    assert_int_equal(ic->refresh_ttl_ms, 86400000);
    assert_int_equal(ic->refresh_idle_ms, 3600000);
    assert_int_equal(ic->opslimit, 3);
    assert_int_equal(ic->memlimit, 32ull << 20);
    assert_int_equal(ic->min_length, 12);
    assert_int_equal(ic->register_mode, GW_IDP_REGISTER_INVITE);
    assert_int_equal(ic->ninvite_codes, 2);
    assert_int_equal(ic->ndefault_roles, 2);
    assert_string_equal(ic->admin_role, "root");
    assert_string_equal(ic->paths[GW_IDP_EP_LOGIN], "/api/auth/login");
    assert_string_equal(ic->paths[GW_IDP_EP_REGISTER], "/api/auth/register");
    assert_string_equal(ic->paths[GW_IDP_EP_ME], "/auth/me");
    assert_int_equal(ic->max_failures, 3);
    assert_int_equal(ic->max_addr_failures, 9);
    assert_int_equal(ic->lockout_ms, 120000);
    assert_int_equal(cfg->auth.njwt_keys, 2);
    assert_string_equal(cfg->auth.jwt_keys[1].kid, "k2");
    gw_config_free(cfg);
}

static void test_identity_errors(void **state)
{
    (void)state;
    expect_one("{\"identity\": {\"jwt\": {\"secret\": \"" SECRET "\"}}, " PLAIN_SERVICES "}",
               "{\"jwt\"", "identity.sqlite: required key \"sqlite\" is missing");
    expect_one(
        "{\"identity\": {\"sqlite\": \"/x\", \"jwt\": {\"secret\": \"short\"}}, " PLAIN_SERVICES
        "}",
        "\"short\"",
        "identity.jwt.secret: an HS256 secret must be at least 32 bytes (RFC 7518 3.2)");
    expect_one("{\"identity\": {" MIN ", \"register\": {\"mode\": \"invite\"}}, " PLAIN_SERVICES
               "}",
               "{\"mode\"",
               "identity.register.invite_codes: register.mode \"invite\" needs at least one "
               "invite code");
    expect_one(
        "{\"identity\": {" MIN ", \"register\": {\"mode\": \"closed\"}}, " PLAIN_SERVICES "}",
        "\"closed\"",
        "identity.register.mode: unknown value \"closed\" (expected off, open, invite or admin)");
    expect_one("{\"identity\": {" MIN ", \"paths\": {\"me\": \"/auth/login\"}}, " PLAIN_SERVICES
               "}",
               "\"/auth/login\"", "identity.paths.me: the same path as paths.login");
    expect_one("{\"identity\": {" MIN ", \"paths\": {\"me\": \"auth/me\"}}, " PLAIN_SERVICES "}",
               "\"auth/me\"",
               "identity.paths.me: expected an absolute path without query, '%' or dot "
               "segments, of at most 200 bytes");
    expect_one("{\"identity\": {" MIN ", \"password\": {\"memlimit\": \"1KiB\"}}, " PLAIN_SERVICES
               "}",
               "\"1KiB\"", "identity.password.memlimit: must be between 8KiB and 4GiB");
    expect_one("{\"identity\": {" MIN ", \"password\": {\"opslimit\": 0}}, " PLAIN_SERVICES "}",
               "0}", "identity.password.opslimit: must be between 1 and 10");
    expect_one("{\"auth\": {\"jwt\": {\"keys\": [{\"kid\": \"gantry-identity\", \"alg\": "
               "\"HS256\", \"secret\": \"" SECRET "\"}]}}, \"identity\": {" MIN "}, " PLAIN_SERVICES
               "}",
               "{\"secret\": \"" SECRET "\"}}, " PLAIN_SERVICES,
               "identity.jwt.kid: kid \"gantry-identity\" is used by an auth.jwt key too");
    expect_one("{\"identity\": {" MIN ", \"sqlit\": \"/x\"}, " PLAIN_SERVICES "}", "\"sqlit\"",
               "identity.sqlit: unknown key \"sqlit\" (did you mean \"sqlite\"?)");
}

#define HEX1 "1111111111111111111111111111111111111111111111111111111111111111"
#define HEX2 "2222222222222222222222222222222222222222222222222222222222222222"

static void test_identity_totp(void **state)
{
    (void)state;
    unsetenv("ENCRYPTION_KEY");
    struct gw_config *cfg = load_ok("{\"identity\": {" MIN "}, " SERVICES "}");
    assert_false(cfg->identity.totp_enabled);
    assert_string_equal(cfg->identity.paths[GW_IDP_EP_TOTP_ENROL], "/auth/totp/enrol");
    assert_string_equal(cfg->identity.paths[GW_IDP_EP_TOTP_CONFIRM], "/auth/totp/confirm");
    assert_string_equal(cfg->identity.paths[GW_IDP_EP_TOTP_DISABLE], "/auth/totp/disable");
    gw_config_free(cfg);
    cfg = load_ok("{\"identity\": {" MIN ", \"issuer\": \"Acme\", \"totp\": {\"encryption_key\": "
                  "\"" HEX1 "\"}}, " SERVICES "}");
    const struct gw_identity_conf *ic = &cfg->identity;
    assert_true(ic->totp_enabled);
    assert_string_equal(ic->totp_key, HEX1);
    assert_string_equal(ic->totp_issuer, "Acme"); /* the identity issuer by default */
    assert_int_equal(ic->totp_digits, 6);
    assert_int_equal(ic->totp_period_s, 30);
    assert_int_equal(ic->totp_window, 1);
    assert_int_equal(ic->totp_recovery_codes, 10);
    assert_int_equal(ic->ntotp_previous_keys, 0);
    gw_config_free(cfg);
    cfg = load_ok("{\"identity\": {" MIN ", \"totp\": {\"encryption_key\": \"" HEX1
                  "\", \"previous_keys\": \"" HEX2 "\", \"issuer\": \"X Y\", \"digits\": 8, "
                  "\"period\": 60, \"window\": 0, \"recovery_codes\": 0}}, " SERVICES "}");
    assert_string_equal(cfg->identity.totp_previous_keys[0], HEX2);
    assert_string_equal(cfg->identity.totp_issuer, "X Y");
    assert_int_equal(cfg->identity.totp_digits, 8);
    assert_int_equal(cfg->identity.totp_period_s, 60);
    assert_int_equal(cfg->identity.totp_window, 0);
    assert_int_equal(cfg->identity.totp_recovery_codes, 0);
    gw_config_free(cfg);
    cfg = NULL;
    /* ENCRYPTION_KEY stands in for a missing key, as for registration tokens. */
    setenv("ENCRYPTION_KEY", HEX2, 1);
    cfg = load_ok("{\"identity\": {" MIN ", \"totp\": true}, " SERVICES "}");
    assert_true(cfg->identity.totp_enabled);
    assert_string_equal(cfg->identity.totp_key, HEX2);
    assert_string_equal(cfg->identity.totp_issuer, "gantry");
    gw_config_free(cfg);
    setenv("ENCRYPTION_KEY", "nothex", 1);
    expect_one("{\"identity\": {" MIN ", \"totp\": {}}, " SERVICES "}", "{}}",
               "identity.totp.encryption_key: absent, and ENCRYPTION_KEY is not 64 hex digits "
               "(32 random bytes: openssl rand -hex 32)");
    unsetenv("ENCRYPTION_KEY");
    expect_one("{\"identity\": {" MIN ", \"totp\": {}}, " SERVICES "}", "{}}",
               "identity.totp.encryption_key: required (or the environment variable "
               "ENCRYPTION_KEY): TOTP secrets are sealed at rest with it");
    expect_one("{\"identity\": {" MIN ", \"totp\": {\"encryption_key\": \"abc\"}}, " SERVICES "}",
               "\"abc\"",
               "identity.totp.encryption_key: expected 64 hex digits (32 random bytes: openssl "
               "rand -hex 32)");
    expect_one("{\"identity\": {" MIN ", \"totp\": {\"encryption_key\": \"" HEX1
               "\", \"digits\": 9}}, " SERVICES "}",
               "9}", "identity.totp.digits: must be between 6 and 8");
    expect_one("{\"identity\": {" MIN ", \"totp\": {\"encryption_key\": \"" HEX1
               "\", \"window\": 11}}, " SERVICES "}",
               "11}", "identity.totp.window: must be between 0 and 10");
    expect_one("{\"identity\": {" MIN ", \"paths\": {\"totp_enrol\": \"/auth/me\"}}, " SERVICES "}",
               "\"/auth/me\"", "identity.paths.totp_enrol: the same path as paths.me");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity_off_by_default), cmocka_unit_test(test_identity_defaults),
        cmocka_unit_test(test_identity_values),         cmocka_unit_test(test_identity_errors),
        cmocka_unit_test(test_identity_totp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
