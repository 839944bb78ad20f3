/*
 * The authentication sections of the config schema: the gateway-wide "auth" object (JWT keys
 * and JWKS, API-key sources, consumers, token introspection, identity header names) and a
 * service's "auth" (required, accepted methods, roles, permissions, public paths, rules).
 * JWT keys are loaded here, at load time, so that a bad secret or PEM is reported with its
 * position like any other config error.
 *
 * docs/config.md documents every row; docs/auth.md explains the behaviour.
 */
#include "config/internal.h"

#include "net/fetch.h"
#include "policy/jwt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])
#define CFG(field) offsetof(struct gw_config, field)
#define SVC(field) offsetof(struct gw_service_conf, field)
#define KEY(field) offsetof(struct gw_jwt_key_conf, field)
#define CON(field) offsetof(struct gw_consumer_conf, field)
#define RULE(field) offsetof(struct gw_auth_rule_conf, field)

/* ---- value checks ---------------------------------------------------------------------------- */

/* Roles, permissions and consumer ids travel space-separated in X-User-Roles and are compared
 * as words: 1 to 128 visible ASCII characters, no spaces or commas. */
static bool check_word(struct gw__cfg_ctx *ctx, char **s)
{
    size_t n = strlen(*s);
    bool ok = n > 0 && n <= 128;
    for (size_t i = 0; ok && i < n; i++)
        ok = (*s)[i] > ' ' && (*s)[i] < 0x7f && (*s)[i] != ',' && (*s)[i] != '"' && (*s)[i] != '\\';
    if (ok)
        return true;
    char q[96];
    gw__cfg_error(ctx,
                  "%s must be 1 to 128 visible ASCII characters without spaces, commas, quotes "
                  "or backslashes",
                  gw__cfg_quote(*s, n, q, sizeof q));
    return false;
}

static bool check_header_name(struct gw__cfg_ctx *ctx, char **s)
{
    size_t n = strlen(*s);
    bool ok = n > 0 && n <= 128;
    for (size_t i = 0; ok && i < n; i++) {
        char c = (*s)[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             strchr("!#$%&'*+-.^_`|~", c) != NULL;
    }
    if (!ok) {
        char q[96];
        gw__cfg_error(ctx, "%s is not a valid header name (letters, digits and !#$%%&'*+-.^_`|~)",
                      gw__cfg_quote(*s, n, q, sizeof q));
        return false;
    }
    for (char *p = *s; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    }
    return true;
}

/* A query parameter name: unreserved characters only, so it can be compared undecoded. */
static bool check_query_name(struct gw__cfg_ctx *ctx, char **s)
{
    size_t n = strlen(*s);
    bool ok = n > 0 && n <= 64;
    for (size_t i = 0; ok && i < n; i++) {
        char c = (*s)[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '-' || c == '_' || c == '.' || c == '~';
    }
    if (ok)
        return true;
    char q[96];
    gw__cfg_error(ctx, "%s is not a valid query parameter name (1 to 64 of A-Z a-z 0-9 - _ . ~)",
                  gw__cfg_quote(*s, n, q, sizeof q));
    return false;
}

/* "sha256:<64 hex>" (what `gantry hash-key` prints), normalised to lowercase. */
static bool check_key_hash(struct gw__cfg_ctx *ctx, char **s)
{
    char *p = *s;
    bool ok = strncmp(p, "sha256:", 7) == 0 && strlen(p) == 7 + 64;
    for (size_t i = 7; ok && p[i]; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'F')
            p[i] = (char)(c - 'A' + 'a');
        ok = (p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f');
    }
    if (ok)
        return true;
    gw__cfg_error(ctx, "must be \"sha256:\" and 64 hex digits, as printed by `gantry hash-key "
                       "KEY` (keys are never stored in clear)");
    return false;
}

/* A URL gantry fetches itself, judged by the fetch client's own rules (net/fetch.h). */
static bool check_fetch_url(struct gw__cfg_ctx *ctx, char **s)
{
    const char *why =
        strlen(*s) > 2048 ? "URL longer than 2048 characters" : gw_fetch_check_url(*s);
    if (why != NULL)
        gw__cfg_url_error(ctx, *s, why);
    return why == NULL;
}

/* A claim name: a word as above (it is quoted in WWW-Authenticate and JSON answers without
 * escaping), and, when it holds dots, a name on both sides of each (policy/claims.h reads a
 * missing member with dots as a path: "realm_access.roles"). */
static bool check_claim_name(struct gw__cfg_ctx *ctx, char **s)
{
    if (!check_word(ctx, s))
        return false;
    size_t n = strlen(*s);
    if ((*s)[0] != '.' && (*s)[n - 1] != '.' && strstr(*s, "..") == NULL)
        return true;
    char q[96];
    gw__cfg_error(ctx, "%s is not a claim name or a dotted path (a name on both sides of each dot)",
                  gw__cfg_quote(*s, n, q, sizeof q));
    return false;
}

static const struct gw__cfg_str header_check = {check_header_name};
static const struct gw__cfg_str query_check = {check_query_name};
static const struct gw__cfg_str url_check = {check_fetch_url};
static const struct gw__cfg_str word_check = {check_word};

#define WORDS(owner, field, count)                                                                 \
    (&(const struct gw__cfg_strlist){                                                              \
        .count_offset = offsetof(owner, count), .check = check_word, .unique = true})

#define CLAIMS(count)                                                                              \
    (&(const struct gw__cfg_strlist){                                                              \
        .count_offset = CFG(count), .check = check_claim_name, .unique = true})

/* ---- auth.jwt -------------------------------------------------------------------------------- */

static const struct gw__cfg_field jwt_key_fields[] = {
    {.name = "kid", .type = &gw__cfg_string_type, .offset = KEY(kid)},
    {.name = "alg", .type = &gw__cfg_string_type, .offset = KEY(alg), .required = true},
    {.name = "secret", .type = &gw__cfg_string_type, .offset = KEY(secret)},
    {.name = "pem", .type = &gw__cfg_string_type, .offset = KEY(pem)},
    {.name = "pem_file", .type = &gw__cfg_string_type, .offset = KEY(pem_file)},
};
static const struct gw__cfg_object jwt_key_obj = {
    .what = "key", ROWS(jwt_key_fields), .size = sizeof(struct gw_jwt_key_conf)};

char *gw__cfg_read_pem(const char *path, size_t *len, char *why, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(why, cap, "cannot read \"%s\": %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(65537);
    size_t n = buf ? fread(buf, 1, 65537, f) : 0;
    fclose(f);
    if (buf == NULL) {
        snprintf(why, cap, "out of memory");
        return NULL;
    }
    if (n > 65536) {
        free(buf);
        snprintf(why, cap, "\"%s\" is larger than 64 KiB", path);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Loads one configured key into *k; false after reporting at the key's path. */
static bool load_key(struct gw__cfg_ctx *ctx, const struct gw_jwt_key_conf *kc,
                     struct gw_jwt_key *k)
{
    enum gw_jwt_alg alg;
    char why[256];
    const char *kid = kc->kid ? kc->kid : "";
    if (kc->alg == NULL)
        return false; /* reported as missing */
    if (gw_jwt_alg_parse(kc->alg, &alg) != 0) {
        gw__cfg_push_key(ctx, "alg");
        gw__cfg_error(ctx,
                      "unknown or refused algorithm \"%s\" (HS256, HS384, HS512, RS256, RS384, "
                      "RS512, ES256, ES384, EdDSA; \"none\" is never accepted)",
                      kc->alg);
        gw__cfg_pop(ctx);
        return false;
    }
    if (strlen(kid) >= GW_JWT_KID_MAX) {
        gw__cfg_push_key(ctx, "kid");
        gw__cfg_error(ctx, "is longer than %d characters", GW_JWT_KID_MAX - 1);
        gw__cfg_pop(ctx);
        return false;
    }
    bool hmac = alg <= GW_JWT_HS512;
    const char *sources = hmac ? "\"secret\"" : "\"pem\" or \"pem_file\" (a public key)";
    /* a key source too many is named where it is written; none, at the key's object */
    const char *extra = hmac ? (kc->pem        ? "pem"
                                : kc->pem_file ? "pem_file"
                                               : NULL)
                             : (kc->secret                ? "secret"
                                : kc->pem && kc->pem_file ? "pem_file"
                                                          : NULL);
    if (extra) {
        gw__cfg_push_key(ctx, extra);
        gw__cfg_error(ctx, "%s needs exactly one of %s: leave this key out", kc->alg, sources);
        gw__cfg_pop(ctx);
        return false;
    }
    if (hmac ? kc->secret == NULL : kc->pem == NULL && kc->pem_file == NULL) {
        gw__cfg_error(ctx, "%s needs exactly one of %s", kc->alg, sources);
        return false;
    }
    if (hmac) {
        size_t need = alg == GW_JWT_HS256 ? 32 : alg == GW_JWT_HS384 ? 48 : 64;
        if (gw_jwt_key_hmac(k, kid, alg, kc->secret, strlen(kc->secret)) != 0) {
            gw__cfg_push_key(ctx, "secret");
            gw__cfg_error(ctx,
                          "is %zu bytes; %s needs a secret of at least %zu bytes (RFC 7518 "
                          "section 3.2)",
                          strlen(kc->secret), kc->alg, need);
            gw__cfg_pop(ctx);
            return false;
        }
        return true;
    }
    size_t len = 0;
    char *pem = kc->pem;
    char *owned = NULL;
    if (kc->pem_file) {
        owned = gw__cfg_read_pem(kc->pem_file, &len, why, sizeof why);
        if (owned == NULL) {
            gw__cfg_push_key(ctx, "pem_file");
            gw__cfg_error(ctx, "%s", why);
            gw__cfg_pop(ctx);
            return false;
        }
        pem = owned;
    } else {
        len = strlen(pem);
    }
    int rc = gw_jwt_key_pem(k, kid, alg, pem, len);
    free(owned);
    if (rc != 0) {
        gw__cfg_push_key(ctx, kc->pem_file ? "pem_file" : "pem");
        gw__cfg_error(ctx,
                      "is not a PEM public key usable for %s (RS*: RSA of 2048 bits or more, "
                      "ES256: P-256, ES384: P-384, EdDSA: Ed25519 or Ed448)",
                      kc->alg);
        gw__cfg_pop(ctx);
        return false;
    }
    return true;
}

void gw__cfg_auth_free_keys(struct gw_config *cfg)
{
    for (size_t i = 0; i < cfg->auth.njwt_keys; i++)
        gw_jwt_key_free(&cfg->auth.jwt_keys[i]);
    free(cfg->auth.jwt_keys);
    cfg->auth.jwt_keys = NULL;
    cfg->auth.njwt_keys = 0;
}

static void jwt_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    (void)json;
    struct gw_config *cfg = obj;
    gw__cfg_auth_free_keys(cfg);
    size_t n = cfg->auth.njwt_key_confs;
    if (n) {
        cfg->auth.jwt_keys = calloc(n, sizeof *cfg->auth.jwt_keys);
        if (cfg->auth.jwt_keys == NULL) {
            ctx->oom = true;
            return;
        }
    }
    gw__cfg_push_key(ctx, "keys");
    for (size_t i = 0; i < n; i++) {
        gw__cfg_push_index(ctx, i);
        const struct gw_jwt_key_conf *kc = &cfg->auth.jwt_key_confs[i];
        for (size_t j = 0; j < i && kc->kid; j++) {
            const char *other = cfg->auth.jwt_key_confs[j].kid;
            if (other && strcmp(other, kc->kid) == 0) {
                gw__cfg_push_key(ctx, "kid");
                gw__cfg_error(ctx, "kid \"%s\" is used by keys[%zu] too", kc->kid, j);
                gw__cfg_pop(ctx);
            }
        }
        if (load_key(ctx, kc, &cfg->auth.jwt_keys[cfg->auth.njwt_keys]))
            cfg->auth.njwt_keys++;
        gw__cfg_pop(ctx);
    }
    gw__cfg_pop(ctx);
    cfg->auth.jwt_enabled = n > 0 || cfg->auth.jwks_url != NULL;
    if (cfg->auth.jwks_url && cfg->auth.jwks_min_refresh_ms > cfg->auth.jwks_refresh_ms) {
        gw__cfg_push_key(ctx, "jwks_min_refresh");
        gw__cfg_error(ctx, "must not be longer than jwks_refresh");
        gw__cfg_pop(ctx);
    }
}

static const struct gw__cfg_range cache_entries_range = {0, 10000000};
static const struct gw__cfg_range leeway_range = {0, 3600000};

static const struct gw__cfg_field jwt_cache_fields[] = {
    {.name = "max_entries",
     .type = &gw__cfg_uint32_type,
     .offset = CFG(auth.cache_entries),
     .arg = &cache_entries_range,
     .def = "10000"},
    {.name = "max_ttl",
     .type = &gw__cfg_duration_type,
     .offset = CFG(auth.cache_ttl_ms),
     .def = "5m"},
};
static const struct gw__cfg_object jwt_cache_obj = {.what = "cache", ROWS(jwt_cache_fields)};

static const struct gw__cfg_field jwt_fields[] = {
    {.name = "keys",
     .type = &gw__cfg_list_type,
     .offset = CFG(auth.jwt_key_confs),
     .arg = &(const struct gw__cfg_list){.elem = &jwt_key_obj,
                                         .count_offset = CFG(auth.njwt_key_confs)}},
    {.name = "jwks_url",
     .type = &gw__cfg_string_type,
     .offset = CFG(auth.jwks_url),
     .arg = &url_check},
    {.name = "jwks_refresh",
     .type = &gw__cfg_duration_type,
     .offset = CFG(auth.jwks_refresh_ms),
     .def = "5m"},
    {.name = "jwks_min_refresh",
     .type = &gw__cfg_duration_type,
     .offset = CFG(auth.jwks_min_refresh_ms),
     .def = "10s"},
    {.name = "jwks_timeout",
     .type = &gw__cfg_duration_type,
     .offset = CFG(auth.jwks_timeout_ms),
     .def = "5s"},
    {.name = "issuer", .type = &gw__cfg_string_type, .offset = CFG(auth.issuer)},
    {.name = "audience", .type = &gw__cfg_string_type, .offset = CFG(auth.audience)},
    {.name = "leeway",
     .type = &gw__cfg_duration_type,
     .offset = CFG(auth.leeway_ms),
     .arg = &leeway_range,
     .def = "30s"},
    {.name = "require_exp",
     .type = &gw__cfg_bool_type,
     .offset = CFG(auth.require_exp),
     .def = "true"},
    {.name = "required_claims",
     .type = &gw__cfg_strlist_type,
     .offset = CFG(auth.required_claims),
     .arg = CLAIMS(auth.nrequired_claims)},
    {.name = "roles_claim",
     .type = &gw__cfg_strlist_type,
     .offset = CFG(auth.roles_claims),
     .arg = CLAIMS(auth.nroles_claims),
     .def = "roles"},
    {.name = "permissions_claim",
     .type = &gw__cfg_strlist_type,
     .offset = CFG(auth.permissions_claims),
     .arg = CLAIMS(auth.npermissions_claims),
     .def = "permissions"},
    {.name = "cache", .type = &gw__cfg_object_type, .arg = &jwt_cache_obj},
};
static const struct gw__cfg_object jwt_obj = {.what = "jwt", ROWS(jwt_fields), .check = jwt_check};

/* ---- auth.api_keys, auth.consumers ----------------------------------------------------------- */

static const struct gw__cfg_field api_keys_fields[] = {
    {.name = "header",
     .type = &gw__cfg_string_type,
     .offset = CFG(auth.api_key_header),
     .arg = &header_check,
     .def = "X-API-Key"},
    {.name = "query",
     .type = &gw__cfg_string_type,
     .offset = CFG(auth.api_key_query),
     .arg = &query_check},
};
static const struct gw__cfg_object api_keys_obj = {.what = "api_keys", ROWS(api_keys_fields)};

static const struct gw__cfg_field consumer_fields[] = {
    {.name = "id",
     .type = &gw__cfg_string_type,
     .offset = CON(id),
     .arg = &word_check,
     .required = true},
    {.name = "roles",
     .type = &gw__cfg_strlist_type,
     .offset = CON(roles),
     .arg = WORDS(struct gw_consumer_conf, roles, nroles)},
    {.name = "permissions",
     .type = &gw__cfg_strlist_type,
     .offset = CON(permissions),
     .arg = WORDS(struct gw_consumer_conf, permissions, npermissions)},
    {.name = "api_keys",
     .type = &gw__cfg_strlist_type,
     .offset = CON(api_keys),
     .arg = &(const struct gw__cfg_strlist){.count_offset = CON(napi_keys),
                                            .check = check_key_hash,
                                            .unique = true}},
    {.name = "certificates",
     .type = &gw__cfg_strlist_type,
     .offset = CON(certificates),
     .arg = &(const struct gw__cfg_strlist){.count_offset = CON(ncertificates), .unique = true}},
};
static const struct gw__cfg_object consumer_obj = {
    .what = "consumer", ROWS(consumer_fields), .size = sizeof(struct gw_consumer_conf)};

/* ---- auth.introspection ---------------------------------------------------------------------- */

static const struct gw__cfg_range status_range = {400, 599};

static const struct gw__cfg_field introspection_fields[] = {
    {.name = "url",
     .type = &gw__cfg_string_type,
     .offset = CFG(auth.introspection_url),
     .arg = &url_check,
     .required = true},
    {.name = "client_id",
     .type = &gw__cfg_string_type,
     .offset = CFG(auth.introspection_client_id)},
    {.name = "client_secret",
     .type = &gw__cfg_string_type,
     .offset = CFG(auth.introspection_client_secret)},
    {.name = "timeout",
     .type = &gw__cfg_duration_type,
     .offset = CFG(auth.introspection_timeout_ms),
     .def = "2s"},
    {.name = "cache_ttl",
     .type = &gw__cfg_duration_type,
     .offset = CFG(auth.introspection_ttl_ms),
     .def = "60s"},
    {.name = "negative_cache_ttl",
     .type = &gw__cfg_duration_type,
     .offset = CFG(auth.introspection_neg_ttl_ms),
     .def = "10s"},
    {.name = "failure_status",
     .type = &gw__cfg_uint32_type,
     .offset = CFG(auth.introspection_failure_status),
     .arg = &status_range,
     .def = "503"},
};
static const struct gw__cfg_object introspection_obj = {
    .what = "introspection",
    ROWS(introspection_fields),
    .toggle = true,
    .enabled_offset = CFG(auth.introspection_enabled),
};

/* ---- auth.identity_headers ------------------------------------------------------------------- */

static const struct gw__cfg_field identity_fields[] = {
    {.name = "consumer",
     .type = &gw__cfg_string_type,
     .offset = CFG(auth.hdr_consumer),
     .arg = &header_check,
     .def = "X-Consumer-ID"},
    {.name = "user",
     .type = &gw__cfg_string_type,
     .offset = CFG(auth.hdr_user),
     .arg = &header_check,
     .def = "X-User-ID"},
    {.name = "roles",
     .type = &gw__cfg_string_type,
     .offset = CFG(auth.hdr_roles),
     .arg = &header_check,
     .def = "X-User-Roles"},
};
static void identity_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    (void)ctx;
    (void)json;
    struct gw_config *cfg = obj;
    cfg->auth.hdr_consumer_len = cfg->auth.hdr_consumer ? strlen(cfg->auth.hdr_consumer) : 0;
    cfg->auth.hdr_user_len = cfg->auth.hdr_user ? strlen(cfg->auth.hdr_user) : 0;
    cfg->auth.hdr_roles_len = cfg->auth.hdr_roles ? strlen(cfg->auth.hdr_roles) : 0;
}
static const struct gw__cfg_object identity_obj = {
    .what = "identity_headers", ROWS(identity_fields), .check = identity_check};

/* ---- auth (root) ----------------------------------------------------------------------------- */

/* Consumer ids are unique, and one API key belongs to one consumer. */
static void auth_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    (void)json;
    struct gw_config *cfg = obj;
    gw__cfg_push_key(ctx, "consumers");
    for (size_t i = 0; i < cfg->auth.nconsumers; i++) {
        const struct gw_consumer_conf *c = &cfg->auth.consumers[i];
        gw__cfg_push_index(ctx, i);
        for (size_t j = 0; c->id && j < i; j++) {
            if (cfg->auth.consumers[j].id && strcmp(cfg->auth.consumers[j].id, c->id) == 0) {
                gw__cfg_push_key(ctx, "id");
                gw__cfg_error(ctx, "consumer \"%s\" is defined twice (consumers[%zu])", c->id, j);
                gw__cfg_pop(ctx);
            }
        }
        for (size_t k = 0; k < c->napi_keys; k++) {
            for (size_t j = 0; j < i; j++) {
                const struct gw_consumer_conf *o = &cfg->auth.consumers[j];
                for (size_t m = 0; m < o->napi_keys; m++) {
                    if (strcmp(o->api_keys[m], c->api_keys[k]) != 0)
                        continue;
                    gw__cfg_push_key(ctx, "api_keys");
                    gw__cfg_push_index(ctx, k);
                    gw__cfg_error(ctx, "this key also belongs to consumers[%zu]", j);
                    gw__cfg_pop(ctx);
                    gw__cfg_pop(ctx);
                }
            }
        }
        gw__cfg_pop(ctx);
    }
    gw__cfg_pop(ctx);
}

static const struct gw__cfg_field auth_fields[] = {
    {.name = "jwt", .type = &gw__cfg_object_type, .arg = &jwt_obj},
    {.name = "api_keys", .type = &gw__cfg_object_type, .arg = &api_keys_obj},
    {.name = "consumers",
     .type = &gw__cfg_list_type,
     .offset = CFG(auth.consumers),
     .arg =
         &(const struct gw__cfg_list){.elem = &consumer_obj, .count_offset = CFG(auth.nconsumers)}},
    {.name = "introspection",
     .type = &gw__cfg_object_type,
     .arg = &introspection_obj,
     .def = "false"},
    {.name = "identity_headers", .type = &gw__cfg_object_type, .arg = &identity_obj},
};
const struct gw__cfg_object gw__cfg_auth_obj = {
    .what = "auth", ROWS(auth_fields), .check = auth_check};

/* ---- a service's auth ------------------------------------------------------------------------ */

static void parse_auth_methods(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                               const struct gw__cfg_field *f)
{
    uint32_t *dst = (uint32_t *)((char *)base + f->offset);
    static const struct {
        const char *name;
        uint32_t bit;
    } names[] = {{"jwt", GW_AUTH_JWT},
                 {"api_key", GW_AUTH_API_KEY},
                 {"introspection", GW_AUTH_INTROSPECTION},
                 {"mtls", GW_AUTH_MTLS}};
    bool is_array = json_is_array(v);
    if (!is_array && !json_is_string(v)) {
        gw__cfg_error(ctx, "expected a string or an array of strings, got %s",
                      gw__cfg_json_kind(v));
        return;
    }
    size_t n = is_array ? json_array_size(v) : 1;
    if (n == 0) {
        gw__cfg_error(ctx, "must not be empty");
        return;
    }
    uint32_t mask = 0;
    for (size_t i = 0; i < n; i++) {
        char *s;
        if (is_array)
            gw__cfg_push_index(ctx, i);
        if (gw__cfg_get_string(ctx, is_array ? json_array_get(v, i) : v, &s)) {
            size_t k = 0;
            while (k < sizeof names / sizeof names[0] && strcmp(names[k].name, s) != 0)
                k++;
            if (k == sizeof names / sizeof names[0]) {
                char q[96];
                gw__cfg_error(ctx,
                              "unknown method %s (expected \"jwt\", \"api_key\", "
                              "\"introspection\" or \"mtls\")",
                              gw__cfg_quote(s, strlen(s), q, sizeof q));
            } else {
                mask |= names[k].bit;
            }
            free(s);
        }
        if (is_array)
            gw__cfg_pop(ctx);
    }
    *dst = mask;
}

static const struct gw__cfg_type auth_methods_type = {"string or array of strings",
                                                      parse_auth_methods, NULL};

static const struct gw__cfg_field rule_fields[] = {
    {.name = "match",
     .type = &gw__cfg_object_type,
     .arg = &gw__cfg_rule_match_obj,
     .required = true},
    {.name = "required", .type = &gw__cfg_bool_type, .offset = RULE(required), .def = "true"},
    {.name = "roles",
     .type = &gw__cfg_strlist_type,
     .offset = RULE(roles),
     .arg = WORDS(struct gw_auth_rule_conf, roles, nroles)},
    {.name = "permissions",
     .type = &gw__cfg_strlist_type,
     .offset = RULE(permissions),
     .arg = WORDS(struct gw_auth_rule_conf, permissions, npermissions)},
};
static const struct gw__cfg_object rule_obj = {
    .what = "rule", ROWS(rule_fields), .size = sizeof(struct gw_auth_rule_conf)};

/* What the gateway can check: the methods the auth section configures. */
static uint32_t configured_methods(const struct gw_config *cfg)
{
    uint32_t m = 0;
    if (cfg->auth.jwt_enabled)
        m |= GW_AUTH_JWT;
    if (cfg->auth.nconsumers)
        m |= GW_AUTH_API_KEY;
    if (cfg->auth.introspection_enabled)
        m |= GW_AUTH_INTROSPECTION;
    /* tls is parsed before services, after auth: known here (a service's check) */
    for (size_t i = 0; cfg->tls.client_auth.enabled && i < cfg->auth.nconsumers; i++)
        if (cfg->auth.consumers[i].ncertificates)
            m |= GW_AUTH_MTLS;
    return m;
}

static void service_auth_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    struct gw_service_conf *svc = obj;
    /* Optional auth with roles would let an anonymous request in where a valid identity
     * without the role is refused (403): anonymous must never get more than a token. */
    if (!svc->auth.required && (svc->auth.nroles || svc->auth.npermissions)) {
        gw__cfg_push_key(ctx, "required");
        gw__cfg_error(ctx, "is false while roles or permissions are required: an anonymous request "
                           "would get more than an authenticated one without them");
        gw__cfg_pop(ctx);
    }
    gw__cfg_push_key(ctx, "rules");
    for (size_t i = 0; i < svc->auth.nrules; i++) {
        const struct gw_auth_rule_conf *rule = &svc->auth.rules[i];
        if (rule->required || (rule->nroles == 0 && rule->npermissions == 0))
            continue;
        gw__cfg_push_index(ctx, i);
        gw__cfg_push_key(ctx, "required");
        gw__cfg_error(ctx, "is false while roles or permissions are required: an anonymous request "
                           "would get more than an authenticated one without them");
        gw__cfg_pop(ctx);
        gw__cfg_pop(ctx);
    }
    gw__cfg_pop(ctx);
    uint32_t have = configured_methods(ctx->root);
    bool explicit_methods = json && json_object_get(json, "methods") != NULL;
    if (!explicit_methods)
        svc->auth.methods = have;
    uint32_t missing = svc->auth.methods & ~have;
    if (explicit_methods && missing) {
        gw__cfg_push_key(ctx, "methods");
        gw__cfg_error(ctx, "%s is not configured (%s)",
                      missing & GW_AUTH_JWT             ? "\"jwt\""
                      : missing & GW_AUTH_API_KEY       ? "\"api_key\""
                      : missing & GW_AUTH_INTROSPECTION ? "\"introspection\""
                                                        : "\"mtls\"",
                      missing & GW_AUTH_JWT       ? "add auth.jwt.keys or auth.jwt.jwks_url"
                      : missing & GW_AUTH_API_KEY ? "add auth.consumers with api_keys"
                      : missing & GW_AUTH_INTROSPECTION
                          ? "add auth.introspection.url"
                          : "add tls.client_auth and auth.consumers with certificates");
        gw__cfg_pop(ctx);
    } else if (svc->auth.methods == 0 && !explicit_methods &&
               (svc->auth.required || svc->auth.nrules)) {
        gw__cfg_error(ctx, "requires authentication, but the gateway's auth section configures "
                           "no method (auth.jwt, auth.consumers or auth.introspection)");
    }
}

static const struct gw__cfg_field service_auth_fields[] = {
    {.name = "required", .type = &gw__cfg_bool_type, .offset = SVC(auth.required), .def = "true"},
    {.name = "methods", .type = &auth_methods_type, .offset = SVC(auth.methods)},
    {.name = "roles",
     .type = &gw__cfg_strlist_type,
     .offset = SVC(auth.roles),
     .arg = WORDS(struct gw_service_conf, auth.roles, auth.nroles)},
    {.name = "permissions",
     .type = &gw__cfg_strlist_type,
     .offset = SVC(auth.permissions),
     .arg = WORDS(struct gw_service_conf, auth.permissions, auth.npermissions)},
    {.name = "public_paths",
     .type = &gw__cfg_strlist_type,
     .offset = SVC(auth.public_paths),
     .arg = &(const struct gw__cfg_strlist){.count_offset = SVC(auth.npublic_paths),
                                            .check = gw__cfg_check_prefix,
                                            .unique = true}},
    {.name = "rules",
     .type = &gw__cfg_list_type,
     .offset = SVC(auth.rules),
     .arg = &(const struct gw__cfg_list){.elem = &rule_obj, .count_offset = SVC(auth.nrules)}},
};
const struct gw__cfg_object gw__cfg_service_auth_obj = {
    .what = "auth",
    ROWS(service_auth_fields),
    .check = service_auth_check,
    .toggle = true,
    .enabled_offset = SVC(auth.enabled),
};
