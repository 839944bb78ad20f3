/*
 * The "identity" section (docs/config.md "Identity", README "Built-in identity"): gantry's own
 * users, passwords and tokens. Its HS256 key is also added to auth.jwt's keys, so services with
 * `auth.methods: ["jwt"]` accept the tokens it issues without more configuration.
 */
#include "config/internal.h"

#include <stdlib.h>
#include <string.h>

#include "policy/jwt.h"

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

static const struct gw__cfg_field jwt_fields[] = {
    {.name = "kid",
     .type = &gw__cfg_string_type,
     .offset = CFG(identity.kid),
     .arg = &nonempty_check,
     .def = "gantry-identity"},
    {.name = "secret",
     .type = &gw__cfg_string_type,
     .offset = CFG(identity.secret),
     .required = true},
};
static const struct gw__cfg_object jwt_obj = {.what = "jwt", ROWS(jwt_fields)};

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

/* Adds the signing key to auth.jwt's keys (after config_auth.c's jwt_check loaded them: the
 * "auth" row comes first), so that gantry's JWT verification accepts what identity issues. */
static void add_key(struct gw__cfg_ctx *ctx, struct gw_config *cfg)
{
    const struct gw_identity_conf *ic = &cfg->identity;
    for (size_t i = 0; i < cfg->auth.njwt_keys; i++) {
        if (strcmp(cfg->auth.jwt_keys[i].kid, ic->kid) == 0) {
            gw__cfg_push_key(ctx, "jwt");
            gw__cfg_push_key(ctx, "kid");
            gw__cfg_error(ctx, "kid \"%s\" is used by an auth.jwt key too", ic->kid);
            gw__cfg_pop(ctx);
            gw__cfg_pop(ctx);
            return;
        }
    }
    struct gw_jwt_key k;
    if (gw_jwt_key_hmac(&k, ic->kid, GW_JWT_HS256, ic->secret, strlen(ic->secret)) != 0) {
        gw__cfg_push_key(ctx, "jwt");
        gw__cfg_push_key(ctx, strlen(ic->kid) >= GW_JWT_KID_MAX ? "kid" : "secret");
        gw__cfg_error(ctx, strlen(ic->kid) >= GW_JWT_KID_MAX
                               ? "too long"
                               : "an HS256 secret must be at least 32 bytes (RFC 7518 3.2)");
        gw__cfg_pop(ctx);
        gw__cfg_pop(ctx);
        return;
    }
    struct gw_jwt_key *keys = realloc(cfg->auth.jwt_keys, (cfg->auth.njwt_keys + 1) * sizeof *keys);
    if (keys == NULL) {
        gw_jwt_key_free(&k);
        ctx->oom = true;
        return;
    }
    keys[cfg->auth.njwt_keys++] = k;
    cfg->auth.jwt_keys = keys;
    cfg->auth.jwt_enabled = true;
}

static void identity_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    struct gw_config *cfg = obj;
    struct gw_identity_conf *ic = &cfg->identity;
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
    if (ic->secret)
        add_key(ctx, cfg);
}

static const struct gw__cfg_field identity_fields[] = {
    {.name = "sqlite",
     .type = &gw__cfg_string_type,
     .offset = CFG(identity.sqlite),
     .arg = &nonempty_check,
     .required = true},
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
    {.name = "totp", .type = &gw__cfg_object_type, .arg = &totp_obj, .def = "false"},
};
const struct gw__cfg_object gw__cfg_identity_obj = {
    .what = "identity",
    ROWS(identity_fields),
    .check = identity_check,
    .toggle = true,
    .enabled_offset = CFG(identity.enabled),
};
