/*
 * The "identity" section (docs/config.md "Identity", README "Built-in identity"): gantry's own
 * users, passwords and tokens. Its HS256 key is also added to auth.jwt's keys, so services with
 * `auth.methods: ["jwt"]` accept the tokens it issues without more configuration.
 */
#include "config/internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/error.h"
#include "policy/jwt.h"
#include "policy/jwt_signer.h"

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])
#define CFG(f) offsetof(struct gw_config, f)

static const struct gw__cfg_enum register_modes[] = {
    {"off", GW_IDP_REGISTER_OFF},
    {"open", GW_IDP_REGISTER_OPEN},
    {"invite", GW_IDP_REGISTER_INVITE},
    {"admin", GW_IDP_REGISTER_ADMIN},
    {NULL, 0},
};

/* An endpoint path: absolute, no query, no dot segments (it is compared byte for byte with the
 * request's path). */
static bool check_path(struct gw__cfg_ctx *ctx, char **s)
{
    const char *p = *s;
    if (p[0] != '/' || strpbrk(p, "?#% ") != NULL || strstr(p, "/./") || strstr(p, "/../") ||
        strlen(p) > 200) {
        gw__cfg_error(ctx, "expected an absolute path without query, '%%' or dot segments, of at "
                           "most 200 bytes");
        return false;
    }
    return true;
}
static const struct gw__cfg_str path_check = {check_path};

static bool check_nonempty(struct gw__cfg_ctx *ctx, char **s)
{
    if ((*s)[0] == '\0') {
        gw__cfg_error(ctx, "must not be empty");
        return false;
    }
    return true;
}
static const struct gw__cfg_str nonempty_check = {check_nonempty};

static const struct gw__cfg_range ttl_range = {1000, 366ull * 86400000};
static const struct gw__cfg_range idle_range = {0, 366ull * 86400000};
static const struct gw__cfg_range ops_range = {1, 10};
static const struct gw__cfg_range mem_range = {8192, 4ull << 30};
static const struct gw__cfg_range minlen_range = {1, 128};
static const struct gw__cfg_range failures_range = {1, 1000000};
static const struct gw__cfg_range window_range = {1000, 86400000};

#define IKEY(f) offsetof(struct gw_identity_key_conf, f)

static const struct gw__cfg_field key_fields[] = {
    {.name = "kid",
     .type = &gw__cfg_string_type,
     .offset = IKEY(kid),
     .arg = &nonempty_check,
     .required = true},
    {.name = "alg", .type = &gw__cfg_string_type, .offset = IKEY(alg), .required = true},
    {.name = "private_key_file",
     .type = &gw__cfg_string_type,
     .offset = IKEY(private_key_file),
     .arg = &nonempty_check,
     .required = true},
};
static const struct gw__cfg_object key_obj = {
    .what = "key", ROWS(key_fields), .size = sizeof(struct gw_identity_key_conf)};

static const struct gw__cfg_field jwt_fields[] = {
    {.name = "kid",
     .type = &gw__cfg_string_type,
     .offset = CFG(identity.kid),
     .arg = &nonempty_check,
     .def = "gantry-identity"},
    {.name = "secret", .type = &gw__cfg_string_type, .offset = CFG(identity.secret)},
    {.name = "keys",
     .type = &gw__cfg_list_type,
     .offset = CFG(identity.key_confs),
     .arg =
         &(const struct gw__cfg_list){.elem = &key_obj, .count_offset = CFG(identity.nkey_confs)}},
    {.name = "active",
     .type = &gw__cfg_string_type,
     .offset = CFG(identity.active_kid),
     .arg = &nonempty_check},
};
static const struct gw__cfg_object jwt_obj = {.what = "jwt", ROWS(jwt_fields)};

static const struct gw__cfg_range max_age_range = {0, 7ull * 86400000};

static const struct gw__cfg_field jwks_fields[] = {
    {.name = "path",
     .type = &gw__cfg_string_type,
     .offset = CFG(identity.jwks_path),
     .arg = &path_check,
     .def = "/.well-known/jwks.json"},
    {.name = "max_age",
     .type = &gw__cfg_duration_type,
     .offset = CFG(identity.jwks_max_age_ms),
     .arg = &max_age_range,
     .def = "5m"},
};
static const struct gw__cfg_object jwks_obj = {.what = "jwks", ROWS(jwks_fields)};

static const struct gw__cfg_field password_fields[] = {
    {.name = "opslimit",
     .type = &gw__cfg_uint32_type,
     .offset = CFG(identity.opslimit),
     .arg = &ops_range,
     .def = "2"},
    {.name = "memlimit",
     .type = &gw__cfg_size64_type,
     .offset = CFG(identity.memlimit),
     .arg = &mem_range,
     .def = "64MiB"},
    {.name = "min_length",
     .type = &gw__cfg_uint32_type,
     .offset = CFG(identity.min_length),
     .arg = &minlen_range,
     .def = "10"},
};
static const struct gw__cfg_object password_obj = {.what = "password", ROWS(password_fields)};

static const struct gw__cfg_field register_fields[] = {
    {.name = "mode",
     .type = &gw__cfg_enum_type,
     .offset = CFG(identity.register_mode),
     .arg = register_modes,
     .def = "admin"},
    {.name = "invite_codes",
     .type = &gw__cfg_strlist_type,
     .offset = CFG(identity.invite_codes),
     .arg = &(const struct gw__cfg_strlist){.count_offset = CFG(identity.ninvite_codes),
                                            .check = check_nonempty,
                                            .unique = true}},
    {.name = "roles",
     .type = &gw__cfg_strlist_type,
     .offset = CFG(identity.default_roles),
     .arg = &(const struct gw__cfg_strlist){.count_offset = CFG(identity.ndefault_roles),
                                            .check = gw__cfg_check_name,
                                            .unique = true},
     .def = "user"},
};
static const struct gw__cfg_object register_obj = {.what = "register", ROWS(register_fields)};

static const struct gw__cfg_field paths_fields[] = {
    {.name = "register",
     .type = &gw__cfg_string_type,
     .offset = CFG(identity.paths[GW_IDP_EP_REGISTER]),
     .arg = &path_check,
     .def = "/auth/register"},
    {.name = "login",
     .type = &gw__cfg_string_type,
     .offset = CFG(identity.paths[GW_IDP_EP_LOGIN]),
     .arg = &path_check,
     .def = "/auth/login"},
    {.name = "refresh",
     .type = &gw__cfg_string_type,
     .offset = CFG(identity.paths[GW_IDP_EP_REFRESH]),
     .arg = &path_check,
     .def = "/auth/refresh"},
    {.name = "logout",
     .type = &gw__cfg_string_type,
     .offset = CFG(identity.paths[GW_IDP_EP_LOGOUT]),
     .arg = &path_check,
     .def = "/auth/logout"},
    {.name = "me",
     .type = &gw__cfg_string_type,
     .offset = CFG(identity.paths[GW_IDP_EP_ME]),
     .arg = &path_check,
     .def = "/auth/me"},
    {.name = "password",
     .type = &gw__cfg_string_type,
     .offset = CFG(identity.paths[GW_IDP_EP_PASSWORD]),
     .arg = &path_check,
     .def = "/auth/password"},
    {.name = "totp_enrol",
     .type = &gw__cfg_string_type,
     .offset = CFG(identity.paths[GW_IDP_EP_TOTP_ENROL]),
     .arg = &path_check,
     .def = "/auth/totp/enrol"},
    {.name = "totp_confirm",
     .type = &gw__cfg_string_type,
     .offset = CFG(identity.paths[GW_IDP_EP_TOTP_CONFIRM]),
     .arg = &path_check,
     .def = "/auth/totp/confirm"},
    {.name = "totp_disable",
     .type = &gw__cfg_string_type,
     .offset = CFG(identity.paths[GW_IDP_EP_TOTP_DISABLE]),
     .arg = &path_check,
     .def = "/auth/totp/disable"},
};
static const struct gw__cfg_object paths_obj = {.what = "paths", ROWS(paths_fields)};

static const struct gw__cfg_enum store_kinds[] = {
    {"sqlite", GW_IDP_STORE_SQLITE},
    {"postgres", GW_IDP_STORE_POSTGRES},
    {NULL, 0},
};

static const struct gw__cfg_enum migrate_kinds[] = {
    {"auto", GW_IDP_MIGRATE_AUTO},
    {"off", GW_IDP_MIGRATE_OFF},
    {NULL, 0},
};

static const struct gw__cfg_range pool_range = {1, 64};
static const struct gw__cfg_range pg_timeout_range = {100, 60000};

static const struct gw__cfg_field postgres_fields[] = {
    {.name = "dsn",
     .type = &gw__cfg_string_type,
     .offset = CFG(identity.pg_dsn),
     .arg = &nonempty_check},
    {.name = "pool",
     .type = &gw__cfg_uint32_type,
     .offset = CFG(identity.pg_pool),
     .arg = &pool_range,
     .def = "4"},
    {.name = "timeout",
     .type = &gw__cfg_duration_type,
     .offset = CFG(identity.pg_timeout_ms),
     .arg = &pg_timeout_range,
     .def = "5s"},
};
static const struct gw__cfg_object postgres_obj = {.what = "postgres", ROWS(postgres_fields)};

/* identity.store: the SQLite file or the PostgreSQL connection it needs (DATABASE_URL is applied
 * to identity.postgres.dsn by config_env.c when the store is postgres). */
static void store_check(struct gw__cfg_ctx *ctx, struct gw_identity_conf *ic)
{
    if (ic->store == GW_IDP_STORE_SQLITE && ic->sqlite == NULL) {
        gw__cfg_push_key(ctx, "sqlite");
        gw__cfg_error(ctx, "required: the database file of the users (or store \"postgres\" "
                           "with postgres.dsn)");
        gw__cfg_pop(ctx);
    } else if (ic->store == GW_IDP_STORE_POSTGRES && ic->pg_dsn == NULL) {
        gw__cfg_push_key(ctx, "postgres");
        gw__cfg_push_key(ctx, "dsn");
        gw__cfg_error(ctx, "required with store \"postgres\" (or the environment variable "
                           "DATABASE_URL): a libpq connection string or a postgresql:// URI");
        gw__cfg_pop(ctx);
        gw__cfg_pop(ctx);
    }
}

static const struct gw__cfg_enum revoke_backends[] = {
    {"local", GW_IDP_REVOKE_LOCAL},
    {"redis", GW_IDP_REVOKE_REDIS},
    {NULL, 0},
};

/* A Redis key (and channel) name: printable ASCII without spaces, at most 128 bytes. */
static bool check_redis_key(struct gw__cfg_ctx *ctx, char **s)
{
    size_t n = strlen(*s);
    bool ok = n > 0 && n <= 128;
    for (size_t i = 0; ok && i < n; i++)
        ok = (*s)[i] > ' ' && (*s)[i] < 0x7f;
    if (!ok)
        gw__cfg_error(ctx, "must be 1 to 128 printable characters without spaces");
    return ok;
}
static const struct gw__cfg_str redis_key_check = {check_redis_key};

/* What a token check does while Redis is unreachable (the rate limiter's failure_policy
 * vocabulary; "fail_open", ignoring revocations, is not offered). */
static const struct gw__cfg_enum revoke_failure_policies[] = {
    {"local", GW_IDP_REVOKE_FAIL_LOCAL},
    {"fail_closed", GW_IDP_REVOKE_FAIL_CLOSED},
    {NULL, 0},
};

static const struct gw__cfg_field revocation_fields[] = {
    {.name = "backend",
     .type = &gw__cfg_enum_type,
     .offset = CFG(identity.revocation_backend),
     .arg = revoke_backends,
     .def = "local"},
    {.name = "failure_policy",
     .type = &gw__cfg_enum_type,
     .offset = CFG(identity.revocation_failure_policy),
     .arg = revoke_failure_policies,
     .def = "local"},
    {.name = "key",
     .type = &gw__cfg_string_type,
     .offset = CFG(identity.revocation_key),
     .arg = &redis_key_check,
     .def = "gantry:identity:revoked"},
};
static const struct gw__cfg_object revocation_obj = {.what = "revocation", ROWS(revocation_fields)};

static const struct gw__cfg_field lockout_fields[] = {
    {.name = "max_failures",
     .type = &gw__cfg_uint32_type,
     .offset = CFG(identity.max_failures),
     .arg = &failures_range,
     .def = "5"},
    {.name = "max_address_failures",
     .type = &gw__cfg_uint32_type,
     .offset = CFG(identity.max_addr_failures),
     .arg = &failures_range,
     .def = "20"},
    {.name = "window",
     .type = &gw__cfg_duration_type,
     .offset = CFG(identity.lockout_window_ms),
     .arg = &window_range,
     .def = "15m"},
    {.name = "duration",
     .type = &gw__cfg_duration_type,
     .offset = CFG(identity.lockout_ms),
     .arg = &window_range,
     .def = "15m"},
};
static const struct gw__cfg_object lockout_obj = {.what = "lockout", ROWS(lockout_fields)};

static const struct gw__cfg_range attempts_range = {1, 1000000};
static const struct gw__cfg_range attempts_period_range = {1000, 86400000};

static const struct gw__cfg_field throttle_account_fields[] = {
    {.name = "limit",
     .type = &gw__cfg_uint32_type,
     .offset = CFG(identity.throttle_account_limit),
     .arg = &attempts_range,
     .def = "10"},
    {.name = "period",
     .type = &gw__cfg_duration_type,
     .offset = CFG(identity.throttle_account_period_ms),
     .arg = &attempts_period_range,
     .def = "1m"},
};
static const struct gw__cfg_object throttle_account_obj = {.what = "account",
                                                           ROWS(throttle_account_fields)};

static const struct gw__cfg_field throttle_address_fields[] = {
    {.name = "limit",
     .type = &gw__cfg_uint32_type,
     .offset = CFG(identity.throttle_address_limit),
     .arg = &attempts_range,
     .def = "100"},
    {.name = "period",
     .type = &gw__cfg_duration_type,
     .offset = CFG(identity.throttle_address_period_ms),
     .arg = &attempts_period_range,
     .def = "1m"},
};
static const struct gw__cfg_object throttle_address_obj = {.what = "address",
                                                           ROWS(throttle_address_fields)};

static const struct gw__cfg_field throttle_fields[] = {
    {.name = "account", .type = &gw__cfg_object_type, .arg = &throttle_account_obj},
    {.name = "address", .type = &gw__cfg_object_type, .arg = &throttle_address_obj},
};
static const struct gw__cfg_object throttle_obj = {
    .what = "throttle",
    ROWS(throttle_fields),
    .toggle = true,
    .enabled_offset = CFG(identity.throttle_enabled),
};

/* A sealing key: 64 hex digits, as registration.encryption_key. */
static bool is_key(const char *s)
{
    size_t n = strlen(s);
    return n == 64 && strspn(s, "0123456789abcdefABCDEF") == 64;
}

#define KEY_FORMAT "64 hex digits (32 random bytes: openssl rand -hex 32)"

static bool check_key(struct gw__cfg_ctx *ctx, char **s)
{
    if (is_key(*s))
        return true;
    gw__cfg_error(ctx, "expected %s", KEY_FORMAT);
    return false;
}
static const struct gw__cfg_str key_check = {check_key};

static const struct gw__cfg_range digits_range = {6, 8};
static const struct gw__cfg_range period_range = {10, 300};
static const struct gw__cfg_range steps_range = {0, 10};
static const struct gw__cfg_range codes_range = {0, 50};

static const struct gw__cfg_field totp_fields[] = {
    {.name = "encryption_key",
     .type = &gw__cfg_string_type,
     .offset = CFG(identity.totp_key),
     .arg = &key_check},
    {.name = "previous_keys",
     .type = &gw__cfg_strlist_type,
     .offset = CFG(identity.totp_previous_keys),
     .arg = &(const struct gw__cfg_strlist){.count_offset = CFG(identity.ntotp_previous_keys),
                                            .check = check_key,
                                            .unique = true}},
    {.name = "issuer",
     .type = &gw__cfg_string_type,
     .offset = CFG(identity.totp_issuer),
     .arg = &nonempty_check},
    {.name = "digits",
     .type = &gw__cfg_uint32_type,
     .offset = CFG(identity.totp_digits),
     .arg = &digits_range,
     .def = "6"},
    {.name = "period",
     .type = &gw__cfg_uint32_type,
     .offset = CFG(identity.totp_period_s),
     .arg = &period_range,
     .def = "30"},
    {.name = "window",
     .type = &gw__cfg_uint32_type,
     .offset = CFG(identity.totp_window),
     .arg = &steps_range,
     .def = "1"},
    {.name = "recovery_codes",
     .type = &gw__cfg_uint32_type,
     .offset = CFG(identity.totp_recovery_codes),
     .arg = &codes_range,
     .def = "10"},
};
static const struct gw__cfg_object totp_obj = {
    .what = "totp",
    ROWS(totp_fields),
    .toggle = true,
    .enabled_offset = CFG(identity.totp_enabled),
};

/* identity.totp: the key from ENCRYPTION_KEY when the section has none; the issuer's default. */
static void totp_check(struct gw__cfg_ctx *ctx, struct gw_identity_conf *ic, json_t *json)
{
    const char *env = getenv("ENCRYPTION_KEY");
    /* A key written but refused was reported already. */
    bool written = json_object_get(json_object_get(json, "totp"), "encryption_key") != NULL;
    gw__cfg_push_key(ctx, "totp");
    gw__cfg_push_key(ctx, "encryption_key");
    if (!written && ic->totp_key == NULL && env && env[0] && !is_key(env))
        gw__cfg_error(ctx, "absent, and ENCRYPTION_KEY is not %s", KEY_FORMAT);
    else if (!written && ic->totp_key == NULL && (env == NULL || env[0] == '\0'))
        gw__cfg_error(ctx, "required (or the environment variable ENCRYPTION_KEY): TOTP secrets "
                           "are sealed at rest with it");
    else if (!written && ic->totp_key == NULL && (ic->totp_key = strdup(env)) == NULL)
        ctx->oom = true;
    gw__cfg_pop(ctx);
    gw__cfg_pop(ctx);
    if (ic->totp_issuer == NULL && ic->issuer && (ic->totp_issuer = strdup(ic->issuer)) == NULL)
        ctx->oom = true;
}

void gw__cfg_identity_free_keys(struct gw_config *cfg)
{
    gw_jwt_keyring_unref(cfg->identity.keyring);
    cfg->identity.keyring = NULL;
}

/* Reports why at identity.jwt.<key>[.<index>.<sub>]. */
static void jwt_error(struct gw__cfg_ctx *ctx, const char *key, long index, const char *sub,
                      const char *why)
{
    gw__cfg_push_key(ctx, "jwt");
    gw__cfg_push_key(ctx, key);
    if (index >= 0)
        gw__cfg_push_index(ctx, (size_t)index);
    if (sub)
        gw__cfg_push_key(ctx, sub);
    gw__cfg_error(ctx, "%s", why);
    if (sub)
        gw__cfg_pop(ctx);
    if (index >= 0)
        gw__cfg_pop(ctx);
    gw__cfg_pop(ctx);
    gw__cfg_pop(ctx);
}

/* Loads jwt.keys[i] into *s; false after reporting at its path. */
static bool load_signer(struct gw__cfg_ctx *ctx, const struct gw_identity_key_conf *kc, size_t i,
                        struct gw_jwt_signer *s)
{
    char why[320];
    enum gw_jwt_alg alg;
    if (kc->kid == NULL || kc->alg == NULL || kc->private_key_file == NULL)
        return false; /* reported as missing */
    if (strlen(kc->kid) >= GW_JWT_KID_MAX) {
        snprintf(why, sizeof why, "is longer than %d characters", GW_JWT_KID_MAX - 1);
        jwt_error(ctx, "keys", (long)i, "kid", why);
        return false;
    }
    if (gw_jwt_alg_parse(kc->alg, &alg) != 0 || (alg != GW_JWT_EDDSA && alg != GW_JWT_ES256)) {
        snprintf(why, sizeof why,
                 "\"%s\": identity signs with \"EdDSA\" or \"ES256\" (HS256: "
                 "jwt.secret)",
                 kc->alg);
        jwt_error(ctx, "keys", (long)i, "alg", why);
        return false;
    }
    size_t len = 0;
    char *pem = gw__cfg_read_pem(kc->private_key_file, &len, why, sizeof why);
    if (pem == NULL) {
        jwt_error(ctx, "keys", (long)i, "private_key_file", why);
        return false;
    }
    const char *reason = "";
    int rc = gw_jwt_signer_pem(s, kc->kid, alg, pem, len, &reason);
    OPENSSL_cleanse(pem, len);
    free(pem);
    if (rc == GW_ENOMEM) {
        ctx->oom = true;
        return false;
    }
    if (rc < 0) {
        snprintf(why, sizeof why, "\"%s\": %s", kc->private_key_file, reason);
        jwt_error(ctx, "keys", (long)i, "private_key_file", why);
        return false;
    }
    return true;
}

/* Loads the signing keys (jwt.secret, jwt.keys) into a key ring, and adds their verification
 * keys to auth.jwt's (after config_auth.c's jwt_check loaded those: the "auth" row comes
 * first), so that gantry's JWT verification accepts what identity issues. */
static void build_keys(struct gw__cfg_ctx *ctx, struct gw_config *cfg)
{
    struct gw_identity_conf *ic = &cfg->identity;
    gw__cfg_identity_free_keys(cfg);
    size_t n = (ic->secret != NULL) + ic->nkey_confs, got = 0;
    if (n == 0) {
        jwt_error(ctx, "secret", -1, NULL,
                  "is required unless jwt.keys lists private keys (EdDSA, ES256)");
        return;
    }
    struct gw_jwt_signer *keys = calloc(n, sizeof *keys);
    if (keys == NULL) {
        ctx->oom = true;
        return;
    }
    bool ok = true;
    if (ic->secret) {
        if (ic->kid == NULL) { /* refused, and the error said why */
            ok = false;
        } else if (strlen(ic->kid) >= GW_JWT_KID_MAX) {
            jwt_error(ctx, "kid", -1, NULL, "too long");
            ok = false;
        } else if (gw_jwt_signer_hmac(&keys[got], ic->kid, ic->secret, strlen(ic->secret)) != 0) {
            jwt_error(ctx, "secret", -1, NULL,
                      "an HS256 secret must be at least 32 bytes (RFC 7518 3.2)");
            ok = false;
        } else {
            got++;
        }
    }
    for (size_t i = 0; i < ic->nkey_confs; i++) {
        const struct gw_identity_key_conf *kc = &ic->key_confs[i];
        bool dup = false;
        for (size_t j = 0; kc->kid && j < i; j++)
            dup |= ic->key_confs[j].kid && strcmp(ic->key_confs[j].kid, kc->kid) == 0;
        if (kc->kid && (dup || (ic->secret && ic->kid && strcmp(ic->kid, kc->kid) == 0))) {
            jwt_error(ctx, "keys", (long)i, "kid",
                      dup ? "the same kid as an earlier key" : "the same kid as jwt.kid");
            ok = false;
            continue;
        }
        if (load_signer(ctx, kc, i, &keys[got]))
            got++;
        else
            ok = false;
    }
    /* The active key: jwt.active, else the first of jwt.keys, else the secret. */
    size_t active = ic->secret && ic->nkey_confs ? 1 : 0;
    if (ok && ic->active_kid) {
        size_t i = 0;
        while (i < got && strcmp(keys[i].kid, ic->active_kid) != 0)
            i++;
        if (i == got) {
            jwt_error(ctx, "active", -1, NULL, "names no key of jwt.kid or jwt.keys");
            ok = false;
        }
        active = i;
    }
    for (size_t i = 0; ok && i < got; i++) {
        for (size_t k = 0; k < cfg->auth.njwt_keys; k++) {
            if (strcmp(cfg->auth.jwt_keys[k].kid, keys[i].kid) == 0) {
                char why[160];
                snprintf(why, sizeof why, "kid \"%s\" is used by an auth.jwt key too", keys[i].kid);
                /* Everything loaded: keys[] is the secret (when set), then jwt.keys in order. */
                bool hs = keys[i].alg == GW_JWT_HS256;
                jwt_error(ctx, hs ? "kid" : "keys", hs ? -1 : (long)(i - (ic->secret != NULL)),
                          hs ? NULL : "kid", why);
                ok = false;
            }
        }
    }
    if (!ok) {
        for (size_t i = 0; i < got; i++)
            gw_jwt_signer_free(&keys[i]);
        free(keys);
        return;
    }
    struct gw_jwt_keyring *ring = NULL;
    int rc = gw_jwt_keyring_new(keys, got, active, &ring);
    if (rc < 0) {
        if (rc == GW_ENOMEM)
            ctx->oom = true;
        else
            jwt_error(ctx, "keys", -1, NULL, "a key's public half could not be derived");
        return;
    }
    struct gw_jwt_key *vk = realloc(cfg->auth.jwt_keys, (cfg->auth.njwt_keys + got) * sizeof *vk);
    if (vk == NULL) {
        gw_jwt_keyring_unref(ring);
        ctx->oom = true;
        return;
    }
    cfg->auth.jwt_keys = vk;
    for (size_t i = 0; i < got; i++) {
        if (gw_jwt_signer_verify_key(&ring->keys[i], &vk[cfg->auth.njwt_keys]) != 0) {
            ctx->oom = true;
            break;
        }
        /* what gantry signs it signs for its issuer and audience: verified only with them */
        vk[cfg->auth.njwt_keys].bound_iss = ic->issuer;
        vk[cfg->auth.njwt_keys].bound_aud = ic->audience;
        cfg->auth.njwt_keys++;
    }
    cfg->auth.jwt_enabled = true;
    ic->keyring = ring;
    bool public = false;
    for (size_t i = 0; i < got; i++)
    public |= ring->keys[i].alg != GW_JWT_HS256;
    ic->jwks_path_len = public && ic->jwks_path ? strlen(ic->jwks_path) : 0;
    snprintf(ic->jwks_cache_control, sizeof ic->jwks_cache_control,
             "Cache-Control: public, max-age=%llu\r\n",
             (unsigned long long)(ic->jwks_max_age_ms / 1000));
}

void gw__cfg_check_identity_claims(struct gw__cfg_ctx *ctx, const struct gw_config *cfg)
{
    const struct gw_identity_conf *ic = &cfg->identity;
    const struct {
        const char *key, *auth, *ident;
    } pairs[] = {{"issuer", cfg->auth.issuer, ic->issuer},
                 {"audience", cfg->auth.audience, ic->audience}};
    if (!ic->enabled)
        return;
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        if (pairs[i].auth == NULL || pairs[i].ident == NULL ||
            strcmp(pairs[i].auth, pairs[i].ident) == 0)
            continue;
        gw__cfg_push_key(ctx, "auth");
        gw__cfg_push_key(ctx, "jwt");
        gw__cfg_push_key(ctx, pairs[i].key);
        gw__cfg_error(ctx,
                      "\"%s\" is not identity.%s \"%s\": the tokens gantry issues would be "
                      "refused (leave it out or make them equal)",
                      pairs[i].auth, pairs[i].key, pairs[i].ident);
        gw__cfg_pop(ctx);
        gw__cfg_pop(ctx);
        gw__cfg_pop(ctx);
    }
}

static void identity_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    struct gw_config *cfg = obj;
    struct gw_identity_conf *ic = &cfg->identity;
    store_check(ctx, ic);
    if (ic->register_mode == GW_IDP_REGISTER_INVITE && ic->ninvite_codes == 0) {
        gw__cfg_push_key(ctx, "register");
        gw__cfg_push_key(ctx, "invite_codes");
        gw__cfg_error(ctx, "register.mode \"invite\" needs at least one invite code");
        gw__cfg_pop(ctx);
        gw__cfg_pop(ctx);
    }
    for (int i = 0; i < GW_IDP_EP__COUNT; i++) {
        for (int j = 0; j < i; j++) {
            if (ic->paths[i] && ic->paths[j] && strcmp(ic->paths[i], ic->paths[j]) == 0) {
                gw__cfg_push_key(ctx, "paths");
                gw__cfg_push_key(ctx, paths_fields[i].name);
                gw__cfg_error(ctx, "the same path as paths.%s", paths_fields[j].name);
                gw__cfg_pop(ctx);
                gw__cfg_pop(ctx);
            }
        }
    }
    if (ic->totp_enabled)
        totp_check(ctx, ic, json);
    if (ic->revocation_failure_policy == GW_IDP_REVOKE_FAIL_CLOSED &&
        ic->revocation_backend != GW_IDP_REVOKE_REDIS) {
        gw__cfg_push_key(ctx, "revocation");
        gw__cfg_push_key(ctx, "failure_policy");
        gw__cfg_error(ctx, "\"fail_closed\" applies to revocation.backend \"redis\" only (the "
                           "in-process set is never unreachable)");
        gw__cfg_pop(ctx);
        gw__cfg_pop(ctx);
    }
    if (ic->revocation_backend == GW_IDP_REVOKE_REDIS && cfg->rate_limit.redis.url == NULL) {
        gw__cfg_push_key(ctx, "revocation");
        gw__cfg_push_key(ctx, "backend");
        gw__cfg_error(ctx, "\"redis\" needs the gateway's Redis: set rate_limit.redis.url (or "
                           "REDIS_URL)");
        gw__cfg_pop(ctx);
        gw__cfg_pop(ctx);
    }
    build_keys(ctx, cfg);
}

static const struct gw__cfg_field identity_fields[] = {
    {.name = "store",
     .type = &gw__cfg_enum_type,
     .offset = CFG(identity.store),
     .arg = store_kinds,
     .def = "sqlite"},
    {.name = "sqlite",
     .type = &gw__cfg_string_type,
     .offset = CFG(identity.sqlite),
     .arg = &nonempty_check},
    {.name = "postgres", .type = &gw__cfg_object_type, .arg = &postgres_obj},
    {.name = "migrate",
     .type = &gw__cfg_enum_type,
     .offset = CFG(identity.migrate),
     .arg = migrate_kinds,
     .def = "auto"},
    {.name = "issuer",
     .type = &gw__cfg_string_type,
     .offset = CFG(identity.issuer),
     .arg = &nonempty_check,
     .def = "gantry"},
    {.name = "audience",
     .type = &gw__cfg_string_type,
     .offset = CFG(identity.audience),
     .arg = &nonempty_check,
     .def = "gantry"},
    {.name = "jwt", .type = &gw__cfg_object_type, .arg = &jwt_obj},
    {.name = "jwks", .type = &gw__cfg_object_type, .arg = &jwks_obj},
    {.name = "access_ttl",
     .type = &gw__cfg_duration_type,
     .offset = CFG(identity.access_ttl_ms),
     .arg = &ttl_range,
     .def = "15m"},
    {.name = "refresh_ttl",
     .type = &gw__cfg_duration_type,
     .offset = CFG(identity.refresh_ttl_ms),
     .arg = &ttl_range,
     .def = "720h"},
    {.name = "refresh_idle",
     .type = &gw__cfg_duration_type,
     .offset = CFG(identity.refresh_idle_ms),
     .arg = &idle_range,
     .def = "0"},
    {.name = "password", .type = &gw__cfg_object_type, .arg = &password_obj},
    {.name = "register", .type = &gw__cfg_object_type, .arg = &register_obj},
    {.name = "admin_role",
     .type = &gw__cfg_string_type,
     .offset = CFG(identity.admin_role),
     .arg = &nonempty_check,
     .def = "admin"},
    {.name = "paths", .type = &gw__cfg_object_type, .arg = &paths_obj},
    {.name = "lockout", .type = &gw__cfg_object_type, .arg = &lockout_obj},
    {.name = "throttle", .type = &gw__cfg_object_type, .arg = &throttle_obj, .def = "false"},
    {.name = "revocation", .type = &gw__cfg_object_type, .arg = &revocation_obj},
    {.name = "totp", .type = &gw__cfg_object_type, .arg = &totp_obj, .def = "false"},
};
const struct gw__cfg_object gw__cfg_identity_obj = {
    .what = "identity",
    ROWS(identity_fields),
    .check = identity_check,
    .toggle = true,
    .enabled_offset = CFG(identity.enabled),
};
