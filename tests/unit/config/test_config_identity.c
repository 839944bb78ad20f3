/* The "identity" section: off by default, defaults, values, the key it adds to auth.jwt, and
 * errors with their positions. */
#include "config_test.h"

#include <openssl/pem.h>
#include <unistd.h>

#include "policy/jwt.h"
#include "policy/jwt_signer.h"

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
    assert_int_equal(ic->migrate, GW_IDP_MIGRATE_AUTO);
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
        "\"" SECRET "\"}]}}, \"identity\": {\"sqlite\": \"/var/lib/g/id.db\", \"migrate\": "
        "\"off\", \"issuer\": "
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
    assert_int_equal(ic->migrate, GW_IDP_MIGRATE_OFF);
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

/* identity.store postgres: the pool's defaults, and DATABASE_URL giving the dsn only when the
 * store is postgres (a sqlite store ignores it). */
static void test_identity_postgres(void **state)
{
    (void)state;
    const char *pg =
        "{\"identity\": {\"store\": \"postgres\", \"postgres\": {\"dsn\": "
        "\"host=127.0.0.1 dbname=a\"}, \"jwt\": {\"secret\": \"" SECRET "\"}}, " SERVICES "}";
    unsetenv("DATABASE_URL");
    struct gw_config *cfg = load_ok(pg);
    assert_int_equal(cfg->identity.store, GW_IDP_STORE_POSTGRES);
    assert_string_equal(cfg->identity.pg_dsn, "host=127.0.0.1 dbname=a");
    assert_int_equal(cfg->identity.pg_pool, 4);
    assert_int_equal(cfg->identity.pg_timeout_ms, 5000);
    assert_null(cfg->identity.sqlite);
    gw_config_free(cfg);
    setenv("DATABASE_URL", "postgresql://u@10.0.0.1:5433/ids", 1);
    cfg = load_ok(pg);
    assert_string_equal(cfg->identity.pg_dsn, "postgresql://u@10.0.0.1:5433/ids");
    gw_config_free(cfg);
    cfg = load_ok("{\"identity\": {\"store\": \"postgres\", \"jwt\": {\"secret\": \"" SECRET
                  "\"}}, " SERVICES "}");
    assert_string_equal(cfg->identity.pg_dsn, "postgresql://u@10.0.0.1:5433/ids");
    gw_config_free(cfg);
    cfg = load_ok("{\"identity\": {" MIN "}, " SERVICES "}");
    assert_int_equal(cfg->identity.store, GW_IDP_STORE_SQLITE);
    assert_null(cfg->identity.pg_dsn);
    gw_config_free(cfg);
    unsetenv("DATABASE_URL");
}

/* identity.throttle: off when absent; true gives the defaults; a bad limit is reported. */
static void test_identity_throttle(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok("{\"identity\": {" MIN "}, " SERVICES "}");
    assert_false(cfg->identity.throttle_enabled);
    gw_config_free(cfg);
    cfg = load_ok("{\"identity\": {" MIN ", \"throttle\": true}, " SERVICES "}");
    assert_true(cfg->identity.throttle_enabled);
    assert_int_equal(cfg->identity.throttle_account_limit, 10);
    assert_int_equal(cfg->identity.throttle_account_period_ms, 60000);
    assert_int_equal(cfg->identity.throttle_address_limit, 100);
    assert_int_equal(cfg->identity.throttle_address_period_ms, 60000);
    gw_config_free(cfg);
    cfg = load_ok("{\"identity\": {" MIN ", \"throttle\": {\"account\": {\"limit\": 3, "
                  "\"period\": \"10m\"}}}, " SERVICES "}");
    assert_true(cfg->identity.throttle_enabled);
    assert_int_equal(cfg->identity.throttle_account_limit, 3);
    assert_int_equal(cfg->identity.throttle_account_period_ms, 600000);
    assert_int_equal(cfg->identity.throttle_address_limit, 100);
    gw_config_free(cfg);
    expect_one("{\"identity\": {" MIN
               ", \"throttle\": {\"address\": {\"limit\": 0}}}, " PLAIN_SERVICES "}",
               "0}", "identity.throttle.address.limit: must be between 1 and 1000000");
}

static void test_identity_errors(void **state)
{
    (void)state;
    expect_one("{\"identity\": {\"jwt\": {\"secret\": \"" SECRET "\"}}, " PLAIN_SERVICES "}",
               "{\"jwt\"",
               "identity.sqlite: required: the database file of the users (or store "
               "\"postgres\" with postgres.dsn)");
    expect_one("{\"identity\": {\"store\": \"postgres\", \"jwt\": {\"secret\": \"" SECRET
               "\"}}, " PLAIN_SERVICES "}",
               "{\"store\"",
               "identity.postgres.dsn: required with store \"postgres\" (or the environment "
               "variable DATABASE_URL): a libpq connection string or a postgresql:// URI");
    expect_one("{\"identity\": {\"store\": \"mysql\", \"sqlite\": \"/x\", \"jwt\": {\"secret\": "
               "\"" SECRET "\"}}, " PLAIN_SERVICES "}",
               "\"mysql\"",
               "identity.store: unknown value \"mysql\" (expected sqlite or postgres)");
    expect_one("{\"identity\": {\"migrate\": \"later\", \"sqlite\": \"/x\", \"jwt\": {\"secret\": "
               "\"" SECRET "\"}}, " PLAIN_SERVICES "}",
               "\"later\"", "identity.migrate: unknown value \"later\" (expected auto or off)");
    expect_one("{\"identity\": {\"store\": \"postgres\", \"postgres\": {\"dsn\": \"host=h\", "
               "\"pool\": 0}, \"jwt\": {\"secret\": \"" SECRET "\"}}, " PLAIN_SERVICES "}",
               "0}", "identity.postgres.pool: must be between 1 and 64");
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
    /* auth.jwt's issuer and audience, when set, must be identity's: else gantry would refuse its
     * own tokens on every service. */
    expect_one("{\"auth\": {\"jwt\": {\"issuer\": \"https://idp\"}}, \"identity\": {" MIN
               ", \"issuer\": \"https://gw\"}, " PLAIN_SERVICES "}",
               "\"https://idp\"",
               "auth.jwt.issuer: \"https://idp\" is not identity.issuer \"https://gw\": the "
               "tokens gantry issues would be refused (leave it out or make them equal)");
    expect_one("{\"auth\": {\"jwt\": {\"audience\": \"web\"}}, \"identity\": {" MIN
               ", \"audience\": \"api\"}, " PLAIN_SERVICES "}",
               "\"web\"",
               "auth.jwt.audience: \"web\" is not identity.audience \"api\": the tokens gantry "
               "issues would be refused (leave it out or make them equal)");
    struct gw_config *cfg =
        load_ok("{\"auth\": {\"jwt\": {\"issuer\": \"https://gw\", \"audience\": \"api\"}}, "
                "\"identity\": {" MIN
                ", \"issuer\": \"https://gw\", \"audience\": \"api\"}, " PLAIN_SERVICES "}");
    gw_config_free(cfg);
}

/* Private key files for the tests below, in a temporary directory. */
static char keydir[64];
static char ed_path[128], es_path[128], junk_path[128];

static void write_key(const char *path, const char *type, const char *group)
{
    EVP_PKEY *k =
        group ? EVP_PKEY_Q_keygen(NULL, NULL, type, group) : EVP_PKEY_Q_keygen(NULL, NULL, type);
    assert_non_null(k);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    EVP_PKEY_free(k);
}

static int keys_setup(void **state)
{
    (void)state;
    snprintf(keydir, sizeof keydir, "/tmp/gw-idkeys-XXXXXX");
    if (mkdtemp(keydir) == NULL)
        return -1;
    snprintf(ed_path, sizeof ed_path, "%s/ed.pem", keydir);
    snprintf(es_path, sizeof es_path, "%s/es.pem", keydir);
    snprintf(junk_path, sizeof junk_path, "%s/junk.pem", keydir);
    write_key(ed_path, "ED25519", NULL);
    write_key(es_path, "EC", "P-256");
    FILE *f = fopen(junk_path, "w");
    if (f == NULL)
        return -1;
    fputs("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n", f);
    fclose(f);
    return 0;
}

static int keys_teardown(void **state)
{
    (void)state;
    unlink(ed_path);
    unlink(es_path);
    unlink(junk_path);
    rmdir(keydir);
    return 0;
}

/* An identity section whose jwt object is jwt (a JSON text), in a whole config. */
static char *with_jwt(const char *jwt, const char *more)
{
    char *text = NULL;
    assert_true(
        asprintf(&text,
                 "{\"identity\": {\"sqlite\": \"/tmp/id.db\", \"jwt\": %s%s}, " PLAIN_SERVICES "}",
                 jwt, more) > 0);
    return text;
}

static char *keys_jwt(const char *extra)
{
    char *text = NULL;
    assert_true(asprintf(&text,
                         "{\"keys\": [{\"kid\": \"ed1\", \"alg\": \"EdDSA\", \"private_key_file\": "
                         "\"%s\"}, {\"kid\": \"es1\", \"alg\": \"ES256\", \"private_key_file\": "
                         "\"%s\"}]%s}",
                         ed_path, es_path, extra) > 0);
    return text;
}

static void test_identity_private_keys(void **state)
{
    (void)state;
    char *jwt = keys_jwt("");
    char *text = with_jwt(jwt, "");
    struct gw_config *cfg = load_ok(text);
    const struct gw_identity_conf *ic = &cfg->identity;
    const struct gw_jwt_keyring *r = ic->keyring;
    assert_non_null(r);
    assert_int_equal(r->nkeys, 2);
    assert_int_equal(r->active, 0);
    assert_string_equal(r->keys[0].kid, "ed1");
    assert_int_equal(r->keys[0].alg, GW_JWT_EDDSA);
    assert_int_equal(r->keys[1].alg, GW_JWT_ES256);
    assert_non_null(strstr(r->jwks, "\"kid\":\"es1\""));
    /* Both verify through auth.jwt. */
    assert_true(cfg->auth.jwt_enabled);
    assert_int_equal(cfg->auth.njwt_keys, 2);
    assert_string_equal(cfg->auth.jwt_keys[0].kid, "ed1");
    assert_int_equal(cfg->auth.jwt_keys[1].alg, GW_JWT_ES256);
    assert_non_null(cfg->auth.jwt_keys[1].pkey);
    assert_string_equal(ic->jwks_path, "/.well-known/jwks.json");
    assert_int_equal(ic->jwks_path_len, strlen("/.well-known/jwks.json"));
    assert_int_equal(ic->jwks_max_age_ms, 300000);
    assert_string_equal(ic->jwks_cache_control, "Cache-Control: public, max-age=300\r\n");
    gw_config_free(cfg);
    free(text);
    free(jwt);

    /* active, jwks settings */
    jwt = keys_jwt(", \"active\": \"es1\"");
    text = with_jwt(jwt, ", \"jwks\": {\"path\": \"/keys\", \"max_age\": \"1h\"}");
    cfg = load_ok(text);
    assert_int_equal(cfg->identity.keyring->active, 1);
    assert_string_equal(cfg->identity.jwks_path, "/keys");
    assert_string_equal(cfg->identity.jwks_cache_control,
                        "Cache-Control: public, max-age=3600\r\n");
    gw_config_free(cfg);
    free(text);
    free(jwt);

    /* A secret and keys: the first of keys signs unless active names the secret's kid. */
    jwt = keys_jwt(", \"kid\": \"hs\", \"secret\": \"" SECRET "\"");
    text = with_jwt(jwt, "");
    cfg = load_ok(text);
    r = cfg->identity.keyring;
    assert_int_equal(r->nkeys, 3);
    assert_string_equal(r->keys[r->active].kid, "ed1");
    assert_int_equal(cfg->auth.njwt_keys, 3);
    assert_null(strstr(r->jwks, "\"hs\""));
    gw_config_free(cfg);
    free(text);
    free(jwt);
    jwt = keys_jwt(", \"kid\": \"hs\", \"secret\": \"" SECRET "\", \"active\": \"hs\"");
    text = with_jwt(jwt, "");
    cfg = load_ok(text);
    r = cfg->identity.keyring;
    assert_string_equal(r->keys[r->active].kid, "hs");
    assert_int_equal(r->keys[r->active].alg, GW_JWT_HS256);
    gw_config_free(cfg);
    free(text);
    free(jwt);

    /* HS256 only: nothing to publish. */
    cfg = load_ok("{\"identity\": {" MIN "}, " SERVICES "}");
    assert_int_equal(cfg->identity.keyring->nkeys, 1);
    assert_int_equal(cfg->identity.jwks_path_len, 0);
    gw_config_free(cfg);
}

/* Loads text and expects one error whose printed form contains want. */
static void expect_containing(const char *text, const char *want)
{
    struct gw_config *cfg = NULL;
    struct gw_config_errors errs;
    int rc = gw_config_load_string("t.json", text, strlen(text), &cfg, &errs);
    char *got = errors_text(&errs);
    if (strstr(got, want) == NULL)
        fail_msg("expected an error containing '%s', got '%s'", want, got);
    assert_int_equal(rc, GW_ECONFIG);
    if (errs.count != 1)
        fail_msg("expected one error, got '%s'", got);
    free(got);
    gw_config_errors_free(&errs);
}

static void test_identity_key_errors(void **state)
{
    (void)state;
    char jwt[1024], *text;
    snprintf(
        jwt, sizeof jwt,
        "{\"keys\": [{\"kid\": \"a\", \"alg\": \"EdDSA\", \"private_key_file\": \"%s/none\"}]}",
        keydir);
    text = with_jwt(jwt, "");
    expect_containing(text, "identity.jwt.keys[0].private_key_file: cannot read");
    expect_containing(text, "/none\": No such file or directory");
    free(text);
    snprintf(jwt, sizeof jwt,
             "{\"keys\": [{\"kid\": \"a\", \"alg\": \"EdDSA\", \"private_key_file\": \"%s\"}]}",
             junk_path);
    text = with_jwt(jwt, "");
    expect_containing(text, "identity.jwt.keys[0].private_key_file: \"");
    expect_containing(text, "junk.pem\": not an unencrypted PEM private key");
    free(text);
    snprintf(jwt, sizeof jwt,
             "{\"keys\": [{\"kid\": \"a\", \"alg\": \"ES256\", \"private_key_file\": \"%s\"}]}",
             ed_path);
    text = with_jwt(jwt, "");
    expect_containing(text, "ed.pem\": ES256 needs an EC P-256 private key");
    free(text);
    snprintf(jwt, sizeof jwt,
             "{\"keys\": [{\"kid\": \"a\", \"alg\": \"RS256\", \"private_key_file\": \"%s\"}]}",
             ed_path);
    text = with_jwt(jwt, "");
    expect_containing(text, "identity.jwt.keys[0].alg: \"RS256\": identity signs with \"EdDSA\" "
                            "or \"ES256\" (HS256: jwt.secret)");
    free(text);
    snprintf(jwt, sizeof jwt,
             "{\"keys\": [{\"kid\": \"a\", \"alg\": \"EdDSA\", \"private_key_file\": \"%s\"}, "
             "{\"kid\": \"a\", \"alg\": \"ES256\", \"private_key_file\": \"%s\"}]}",
             ed_path, es_path);
    text = with_jwt(jwt, "");
    expect_containing(text, "identity.jwt.keys[1].kid: the same kid as an earlier key");
    free(text);
    snprintf(jwt, sizeof jwt,
             "{\"keys\": [{\"kid\": \"a\", \"alg\": \"EdDSA\", \"private_key_file\": \"%s\"}], "
             "\"active\": \"b\"}",
             ed_path);
    text = with_jwt(jwt, "");
    expect_containing(text, "identity.jwt.active: names no key of jwt.kid or jwt.keys");
    free(text);
    snprintf(jwt, sizeof jwt, "{\"keys\": [{\"kid\": \"a\", \"alg\": \"EdDSA\"}]}");
    text = with_jwt(jwt, "");
    expect_containing(text, "identity.jwt.keys[0].private_key_file: required key");
    free(text);
    text = with_jwt("{\"kid\": \"x\"}", "");
    expect_containing(text, "identity.jwt.secret: is required unless jwt.keys lists private keys");
    free(text);
    /* The kid of an auth.jwt key, reported at the identity key. */
    char *full = NULL;
    assert_true(asprintf(&full,
                         "{\"auth\": {\"jwt\": {\"keys\": [{\"kid\": \"a\", \"alg\": \"HS256\", "
                         "\"secret\": \"" SECRET "\"}]}}, \"identity\": {\"sqlite\": \"/x\", "
                         "\"jwt\": {\"keys\": [{\"kid\": \"a\", \"alg\": \"EdDSA\", "
                         "\"private_key_file\": \"%s\"}]}}, " PLAIN_SERVICES "}",
                         ed_path) > 0);
    expect_containing(full, "identity.jwt.keys[0].kid: kid \"a\" is used by an auth.jwt key too");
    free(full);
}

static void test_identity_revocation(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok("{\"identity\": {" MIN "}, " SERVICES "}");
    assert_int_equal(cfg->identity.revocation_backend, GW_IDP_REVOKE_LOCAL);
    assert_string_equal(cfg->identity.revocation_key, "gantry:identity:revoked");
    gw_config_free(cfg);
    cfg = load_ok("{\"rate_limit\": {\"redis\": {\"url\": \"redis://127.0.0.1:6380/2\"}}, "
                  "\"identity\": {" MIN ", \"revocation\": {\"backend\": \"redis\", \"key\": "
                  "\"app:revoked\"}}, " SERVICES "}");
    assert_int_equal(cfg->identity.revocation_backend, GW_IDP_REVOKE_REDIS);
    assert_string_equal(cfg->identity.revocation_key, "app:revoked");
    assert_int_equal(cfg->rate_limit.redis.port, 6380);
    gw_config_free(cfg);
    expect_one("{\"identity\": {" MIN ", \"revocation\": {\"backend\": \"redis\"}}, " PLAIN_SERVICES
               "}",
               "\"redis\"",
               "identity.revocation.backend: \"redis\" needs the gateway's Redis: set "
               "rate_limit.redis.url (or REDIS_URL)");
    expect_one("{\"identity\": {" MIN ", \"revocation\": {\"key\": \"a b\"}}, " PLAIN_SERVICES "}",
               "\"a b\"",
               "identity.revocation.key: must be 1 to 128 printable characters without spaces");
    expect_one("{\"identity\": {" MIN
               ", \"revocation\": {\"backend\": \"memcached\"}}, " PLAIN_SERVICES "}",
               "\"memcached\"",
               "identity.revocation.backend: unknown value \"memcached\" (expected local or "
               "redis)");
    /* failure_policy: local by default, fail_closed with backend redis only */
    cfg = load_ok("{\"identity\": {" MIN "}, " SERVICES "}");
    assert_int_equal(cfg->identity.revocation_failure_policy, GW_IDP_REVOKE_FAIL_LOCAL);
    gw_config_free(cfg);
    cfg = load_ok("{\"rate_limit\": {\"redis\": {\"url\": \"redis://127.0.0.1:6380/2\"}}, "
                  "\"identity\": {" MIN ", \"revocation\": {\"backend\": \"redis\", "
                  "\"failure_policy\": \"fail_closed\"}}, " SERVICES "}");
    assert_int_equal(cfg->identity.revocation_failure_policy, GW_IDP_REVOKE_FAIL_CLOSED);
    gw_config_free(cfg);
    expect_one("{\"identity\": {" MIN
               ", \"revocation\": {\"failure_policy\": \"fail_closed\"}}, " PLAIN_SERVICES "}",
               "\"fail_closed\"",
               "identity.revocation.failure_policy: \"fail_closed\" applies to revocation.backend "
               "\"redis\" only (the in-process set is never unreachable)");
    expect_one("{\"identity\": {" MIN
               ", \"revocation\": {\"failure_policy\": \"fail_open\"}}, " PLAIN_SERVICES "}",
               "\"fail_open\"",
               "identity.revocation.failure_policy: unknown value \"fail_open\" (expected local or "
               "fail_closed)");
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
        cmocka_unit_test(test_identity_off_by_default),
        cmocka_unit_test(test_identity_defaults),
        cmocka_unit_test(test_identity_values),
        cmocka_unit_test(test_identity_postgres),
        cmocka_unit_test(test_identity_throttle),
        cmocka_unit_test(test_identity_errors),
        cmocka_unit_test(test_identity_revocation),
        cmocka_unit_test_setup_teardown(test_identity_private_keys, keys_setup, keys_teardown),
        cmocka_unit_test_setup_teardown(test_identity_key_errors, keys_setup, keys_teardown),
        cmocka_unit_test(test_identity_totp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
