/*
 * The "cache" sections of the config schema: the gateway's (the store all services share and
 * gateway-wide bounds) and a service's (off by default; "cache": true is the defaults).
 *
 * docs/config.md documents every row; docs/cache.md explains the behaviour.
 */
#include "config/internal.h"

#include <ctype.h>
#include <string.h>

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])
#define GC(field) offsetof(struct gw_cache_conf, field)
#define SC(field) offsetof(struct gw_cache_svc_conf, field)

/* A request field name (an RFC 9110 token), lower-cased. */
static bool check_field_name(struct gw__cfg_ctx *ctx, char **s)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~";
    char *v = *s;
    if (v[0] == '\0') {
        gw__cfg_error(ctx, "expected a header field name");
        return false;
    }
    for (size_t i = 0; v[i]; i++) {
        unsigned char c = (unsigned char)v[i];
        if (!isalnum(c) && !strchr(tchar, c)) {
            gw__cfg_error(ctx, "expected a header field name");
            return false;
        }
        v[i] = (char)tolower(c);
    }
    return true;
}

static bool check_param(struct gw__cfg_ctx *ctx, char **s)
{
    if ((*s)[0] == '\0' || strpbrk(*s, "&=#") != NULL) {
        gw__cfg_error(ctx, "expected a query parameter name (no \"&\", \"=\" or \"#\")");
        return false;
    }
    return true;
}

static bool check_normalize(struct gw__cfg_ctx *ctx, char **s)
{
    for (char *p = *s; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (strcmp(*s, "accept-encoding") == 0)
        return true;
    gw__cfg_error(ctx, "unknown normalisation (expected \"accept-encoding\")");
    return false;
}

/* A field name as the operator spells it (not lower-cased: it is sent), or "" for none. */
static bool check_status_header(struct gw__cfg_ctx *ctx, char **s)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~";
    for (const char *p = *s; *p; p++) {
        if (!isalnum((unsigned char)*p) && !strchr(tchar, *p)) {
            gw__cfg_error(ctx, "expected a header field name, or \"\" for none");
            return false;
        }
    }
    return true;
}

/* "methods": GET, HEAD or both (a HEAD is answered from a stored GET, so GET is needed). */
static void parse_cache_methods(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                                const struct gw__cfg_field *f)
{
    uint32_t *out = (uint32_t *)(void *)((char *)base + f->offset);
    gw__cfg_methods_type.parse(ctx, v, base, f);
    uint32_t get = 1u << GW_METHOD_GET, head = 1u << GW_METHOD_HEAD;
    if (*out & ~(get | head)) {
        gw__cfg_error(ctx, "the cache answers GET and HEAD only (expected \"GET\", \"HEAD\")");
        *out = 0;
    } else if (*out && !(*out & get)) {
        gw__cfg_error(ctx, "a HEAD is answered from a stored GET: list \"GET\" too");
        *out = 0;
    }
}

static const struct gw__cfg_type cache_methods_type = {"string or array of strings",
                                                       parse_cache_methods, NULL};

/* ---- the gateway's ------------------------------------------------------------------------ */

static const struct gw__cfg_range collapse_range = {0, 600000};
static const struct gw__cfg_range max_bytes_range = {UINT64_C(1) << 20, UINT64_C(1) << 40};

static const struct gw__cfg_field memory_fields[] = {
    {.name = "max_bytes",
     .type = &gw__cfg_size64_type,
     .offset = GC(max_bytes),
     .arg = &max_bytes_range,
     .def = "64MiB"},
};
static const struct gw__cfg_object memory_obj = {.what = "memory", ROWS(memory_fields)};

/* A key prefix goes into every Redis key: printable ASCII without spaces. */
static bool check_redis_prefix(struct gw__cfg_ctx *ctx, char **s)
{
    size_t n = strlen(*s);
    bool ok = n >= 1 && n <= 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = (*s)[i] > ' ' && (*s)[i] < 0x7f;
    if (!ok)
        gw__cfg_error(ctx, "must be 1-64 printable characters without spaces");
    return ok;
}

static const struct gw__cfg_range redis_timeout_range = {1, 60000};
static const struct gw__cfg_range redis_ttl_range = {1000, UINT64_C(2147483648000)};

static const struct gw__cfg_field redis_fields[] = {
    {.name = "key_prefix",
     .type = &gw__cfg_string_type,
     .offset = GC(redis_prefix),
     .arg = &(const struct gw__cfg_str){.check = check_redis_prefix},
     .def = "gantry:cache:"},
    {.name = "timeout",
     .type = &gw__cfg_duration_type,
     .offset = GC(redis_timeout_ms),
     .arg = &redis_timeout_range,
     .def = "50ms"},
    {.name = "max_ttl",
     .type = &gw__cfg_duration_type,
     .offset = GC(redis_max_ttl_ms),
     .arg = &redis_ttl_range,
     .def = "24h"},
};
static const struct gw__cfg_object redis_obj = {.what = "redis", ROWS(redis_fields)};

static const struct gw__cfg_enum backends[] = {
    {"memory", GW_CACHE_BACKEND_MEMORY},
    {"redis", GW_CACHE_BACKEND_REDIS},
    {NULL, 0},
};

/* The Redis backend uses the Redis of rate_limit.redis (as the hub and revocations do). */
static void need_redis_url(struct gw__cfg_ctx *ctx, enum gw_cache_backend b)
{
    if (b != GW_CACHE_BACKEND_REDIS || ctx->root->rate_limit.redis.url != NULL)
        return;
    gw__cfg_push_key(ctx, "backend");
    gw__cfg_error(ctx, "backend redis uses the Redis of rate_limit.redis: set "
                       "rate_limit.redis.url (or REDIS_URL)");
    gw__cfg_pop(ctx);
}

static void cache_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    struct gw_cache_conf *c = obj;
    (void)json;
    need_redis_url(ctx, c->backend);
}

static const struct gw__cfg_field cache_fields[] = {
    {.name = "memory", .type = &gw__cfg_object_type, .arg = &memory_obj},
    {.name = "backend",
     .type = &gw__cfg_enum_type,
     .offset = GC(backend),
     .arg = backends,
     .def = "memory"},
    {.name = "redis", .type = &gw__cfg_object_type, .arg = &redis_obj},
    {.name = "status_header",
     .type = &gw__cfg_string_type,
     .offset = GC(status_header),
     .arg = &(const struct gw__cfg_str){.check = check_status_header},
     .def = "X-Cache"},
    {.name = "tag_header",
     .type = &gw__cfg_string_type,
     .offset = GC(tag_header),
     .arg = &(const struct gw__cfg_str){.check = check_field_name},
     .def = "Surrogate-Key"},
    {.name = "max_stale_while_revalidate",
     .type = &gw__cfg_duration_type,
     .offset = GC(max_swr_ms),
     .def = "1h"},
    {.name = "max_stale_if_error",
     .type = &gw__cfg_duration_type,
     .offset = GC(max_sie_ms),
     .def = "24h"},
    {.name = "heuristic_max",
     .type = &gw__cfg_duration_type,
     .offset = GC(heuristic_max_ms),
     .def = "24h"},
    {.name = "collapse_timeout",
     .type = &gw__cfg_duration_type,
     .offset = GC(collapse_ms),
     .arg = &collapse_range,
     .def = "5s"},
};
const struct gw__cfg_object gw__cfg_cache_obj = {
    .what = "cache", ROWS(cache_fields), .check = cache_check};

/* ---- a service's ---------------------------------------------------------------------------- */

static const struct gw__cfg_range ttl_seconds_range = {0, UINT64_C(1) << 31};
static const struct gw__cfg_range object_range = {1, UINT64_C(1) << 30};
static const struct gw__cfg_range percent_range = {0, 100};
static const struct gw__cfg_range ttl_range = {0, UINT64_C(2147483648000)};

static const struct gw__cfg_field key_fields[] = {
    {.name = "host", .type = &gw__cfg_bool_type, .offset = SC(key_host), .def = "true"},
    {.name = "query", .type = &gw__cfg_bool_type, .offset = SC(key_query), .def = "true"},
    {.name = "sort_query", .type = &gw__cfg_bool_type, .offset = SC(sort_query), .def = "false"},
    {.name = "ignore_params",
     .type = &gw__cfg_strlist_type,
     .offset = SC(ignore_params),
     .arg = &(const struct gw__cfg_strlist){.count_offset = SC(nignore_params),
                                            .check = check_param,
                                            .unique = true}},
    {.name = "headers",
     .type = &gw__cfg_strlist_type,
     .offset = SC(key_headers),
     .arg = &(const struct gw__cfg_strlist){.count_offset = SC(nkey_headers),
                                            .check = check_field_name,
                                            .unique = true}},
};
static const struct gw__cfg_object key_obj = {.what = "key", ROWS(key_fields)};

#define RC(field) offsetof(struct gw_cache_rule_conf, field)

/* A rule's absent keys are the service's: marked here, resolved per request. */
static void rule_init(struct gw__cfg_ctx *ctx, void *obj)
{
    struct gw_cache_rule_conf *rl = obj;
    (void)ctx;
    rl->ttl_ms = UINT64_MAX;
}

static const struct gw__cfg_field rule_fields[] = {
    {.name = "match",
     .type = &gw__cfg_object_type,
     .arg = &gw__cfg_rule_match_obj,
     .required = true},
    {.name = "enabled", .type = &gw__cfg_bool_type, .offset = RC(enabled), .def = "true"},
    {.name = "ttl", .type = &gw__cfg_duration_type, .offset = RC(ttl_ms), .arg = &ttl_range},
    {.name = "max_object_size",
     .type = &gw__cfg_size64_type,
     .offset = RC(max_object_size),
     .arg = &object_range},
    {.name = "methods", .type = &cache_methods_type, .offset = RC(methods)},
};
static const struct gw__cfg_object rule_obj = {
    .what = "rule",
    ROWS(rule_fields),
    .size = sizeof(struct gw_cache_rule_conf),
    .init = rule_init,
};

static void service_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    struct gw_cache_svc_conf *c = obj;
    c->vary_normalize = c->nvary_normalize_names ? GW_CACHE_NORM_ACCEPT_ENCODING : 0;
    if (c->backend == GW_CACHE_BACKEND_INHERIT)
        c->backend = ctx->root->cache.backend ? ctx->root->cache.backend : GW_CACHE_BACKEND_MEMORY;
    else if (c->enabled)
        need_redis_url(ctx, c->backend);
    if (json == NULL || !json_is_object(json) || !json_object_get(json, "ttl_seconds"))
        return;
    if (json_object_get(json, "ttl")) {
        gw__cfg_push_key(ctx, "ttl_seconds");
        gw__cfg_error_at_key(ctx, "give \"ttl\" or \"ttl_seconds\", not both");
        gw__cfg_pop(ctx);
        return;
    }
    c->ttl_ms = (uint64_t)c->ttl_seconds * 1000;
}

static const struct gw__cfg_field service_fields[] = {
    /* "cache": {...} is on; "enabled" inside may say otherwise (the seeds write it) */
    {.name = "enabled", .type = &gw__cfg_bool_type, .offset = SC(enabled)},
    {.name = "ttl",
     .type = &gw__cfg_duration_type,
     .offset = SC(ttl_ms),
     .arg = &ttl_range,
     .def = "0"},
    {.name = "ttl_seconds",
     .type = &gw__cfg_uint32_type,
     .offset = SC(ttl_seconds),
     .arg = &ttl_seconds_range},
    {.name = "max_object_size",
     .type = &gw__cfg_size64_type,
     .offset = SC(max_object_size),
     .arg = &object_range,
     .def = "1MiB"},
    {.name = "key", .type = &gw__cfg_object_type, .arg = &key_obj},
    {.name = "vary_normalize",
     .type = &gw__cfg_strlist_type,
     .offset = SC(vary_normalize_names),
     .arg = &(const struct gw__cfg_strlist){.count_offset = SC(nvary_normalize_names),
                                            .check = check_normalize,
                                            .unique = true}},
    {.name = "store_set_cookie",
     .type = &gw__cfg_bool_type,
     .offset = SC(store_set_cookie),
     .def = "false"},
    {.name = "purge_method",
     .type = &gw__cfg_bool_type,
     .offset = SC(purge_method),
     .def = "false"},
    {.name = "heuristic_percent",
     .type = &gw__cfg_uint32_type,
     .offset = SC(heuristic_percent),
     .arg = &percent_range,
     .def = "0"},
    {.name = "methods", .type = &cache_methods_type, .offset = SC(methods)},
    {.name = "backend", .type = &gw__cfg_enum_type, .offset = SC(backend), .arg = backends},
    {.name = "rules",
     .type = &gw__cfg_list_type,
     .offset = SC(rules),
     .arg = &(const struct gw__cfg_list){.elem = &rule_obj, .count_offset = SC(nrules)}},
};
const struct gw__cfg_object gw__cfg_service_cache_obj = {
    .what = "cache",
    ROWS(service_fields),
    .check = service_check,
    .toggle = true,
    .enabled_offset = SC(enabled),
};
