/*
 * Unit tests for the "auth" section of the config (JWT keys, JWKS, API keys, consumers,
 * introspection, identity headers; src/config/config_auth.c): defaults,
 * every accepted value, and every error with its exact position and key path. The JWT key
 * tests make their RSA and EC keys with OpenSSL. A service's own "auth" object is in
 * test_config_service_auth.c.
 */
#include "policy_test.h"

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
    /* a source too many is named where it is written */
    expect_one(KEYS("{\"alg\": \"HS256\", \"secret\": \"" S32 "\", \"pem\": \"x\"}"), "\"x\"",
               KEY0 ".pem: HS256 needs exactly one of \"secret\": leave this key out");
    expect_one(KEYS("{\"alg\": \"HS256\", \"secret\": \"" S32 "\", \"pem\": \"\"}"), "\"\"}",
               KEY0 ".pem: HS256 needs exactly one of \"secret\": leave this key out");
    expect_one(KEYS("{\"alg\": \"HS256\", \"pem_file\": \"/k.pem\"}"), "\"/k.pem\"",
               KEY0 ".pem_file: HS256 needs exactly one of \"secret\": leave this key out");
    expect_one(KEYS("{\"alg\": \"RS256\", \"secret\": \"" S32 "\"}"), "\"" S32,
               KEY0 ".secret: RS256 needs exactly one of \"pem\" or \"pem_file\" (a public key): "
                    "leave this key out");
    expect_one(KEYS("{\"alg\": \"ES256\"}"), "{\"alg\"",
               KEY0 ": ES256 needs exactly one of \"pem\" or \"pem_file\" (a public key)");
    expect_one(KEYS("{\"alg\": \"RS256\", \"pem\": \"x\", \"pem_file\": \"/k.pem\"}"), "\"/k.pem\"",
               KEY0 ".pem_file: RS256 needs exactly one of \"pem\" or \"pem_file\" (a public key): "
                    "leave this key out");
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

int main(void)
{
    unsetenv("GATEWAY_PORT");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_defaults),
        cmocka_unit_test(test_auth_full_section),
        cmocka_unit_test(test_jwt_key_errors),
        cmocka_unit_test(test_jwt_section_errors),
        cmocka_unit_test(test_jwt_claim_lists),
        cmocka_unit_test(test_jwt_pem_keys),
        cmocka_unit_test(test_api_key_and_consumer_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
