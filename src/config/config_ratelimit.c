/*
 * The rate-limit sections of the config schema: the gateway-wide "rate_limit" object (backend,
 * Redis connection, headers, trusted proxies, limits) and a service's "rate_limit.limits"; the
 * "match" object shared with auth rules; their value types (limit key, CIDR, Redis URL).
 *
 * docs/config.md documents every row; docs/ratelimit.md explains the behaviour.
 */
#include "config/internal.h"

#include "core/url.h"
#include "net/addr.h"
#include "state/ratelimit.h"
#include "state/ratelimit_redis.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])
#define LIM(field) offsetof(struct gw_limit_conf, field)
#define CFG(field) offsetof(struct gw_config, field)

_Static_assert(sizeof(enum gw_rl_algo) == sizeof(int), "enums are stored as int");

/* ---- match ----------------------------------------------------------------------------------- */

static const struct gw__cfg_field limit_match_fields[] = {
    GW__CFG_MATCH_ROWS(struct gw_limit_conf, match)};
static const struct gw__cfg_object limit_match_obj = {.what = "match", ROWS(limit_match_fields)};

static const struct gw__cfg_field rule_match_fields[] = {
    GW__CFG_MATCH_ROWS(struct gw_auth_rule_conf, match)};
const struct gw__cfg_object gw__cfg_rule_match_obj = {.what = "match", ROWS(rule_match_fields)};

/* ---- one limit ------------------------------------------------------------------------------- */

static const struct gw__cfg_enum algorithms[] = {
    {"gcra", GW_RL_GCRA},
    {"token_bucket", GW_RL_TOKEN_BUCKET},
    {"sliding_window", GW_RL_SLIDING_WINDOW},
    {"fixed_window", GW_RL_FIXED_WINDOW},
    {NULL, 0},
};

static bool is_token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* "ip" | "global" | "consumer" | "route" | "header:NAME" */
static void parse_limit_key(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                            const struct gw__cfg_field *f)
{
    (void)f;
    struct gw_limit_conf *l = base;
    static const struct {
        const char *name;
        enum gw_limit_key key;
    } plain[] = {{"ip", GW_LIMIT_KEY_IP},
                 {"global", GW_LIMIT_KEY_GLOBAL},
                 {"consumer", GW_LIMIT_KEY_CONSUMER},
                 {"route", GW_LIMIT_KEY_ROUTE}};
    char *s;
    char q[96];
    if (!gw__cfg_get_string(ctx, v, &s))
        return;
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        if (strcmp(s, plain[i].name) == 0) {
            l->key = plain[i].key;
            free(s);
            return;
        }
    }
    if (strncmp(s, "header:", 7) != 0) {
        gw__cfg_error(ctx,
                      "unknown key %s (expected \"ip\", \"global\", \"consumer\", \"route\" or "
                      "\"header:NAME\")",
                      gw__cfg_quote(s, strlen(s), q, sizeof q));
        free(s);
        return;
    }
    size_t n = strlen(s + 7);
    bool ok = n > 0 && n <= 256;
    for (size_t i = 0; ok && i < n; i++)
        ok = is_token_char(s[7 + i]);
    if (!ok) {
        gw__cfg_error(ctx, "%s is not a valid header name (letters, digits and !#$%%&'*+-.^_`|~)",
                      gw__cfg_quote(s + 7, n, q, sizeof q));
        free(s);
        return;
    }
    char *name = strdup(s + 7);
    free(s);
    if (name == NULL) {
        ctx->oom = true;
        return;
    }
    for (char *p = name; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    }
    free(l->key_header);
    l->key_header = name;
    l->key = GW_LIMIT_KEY_HEADER;
}

static void release_limit_key(void *base, const struct gw__cfg_field *f)
{
    (void)f;
    struct gw_limit_conf *l = base;
    free(l->key_header);
    l->key_header = NULL;
}

static const struct gw__cfg_type limit_key_type = {"string", parse_limit_key, release_limit_key};

/* Limit names become parts of Redis keys and log lines. */
static bool check_limit_name(struct gw__cfg_ctx *ctx, char **s)
{
    size_t n = strlen(*s);
    bool ok = n > 0 && n <= 64;
    for (size_t i = 0; ok && i < n; i++) {
        char c = (*s)[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '-' || c == '.';
    }
    if (ok)
        return true;
    char q[96];
    gw__cfg_error(ctx, "%s is not a valid limit name (1 to 64 of A-Z a-z 0-9 _ - .)",
                  gw__cfg_quote(*s, n, q, sizeof q));
    return false;
}
static const struct gw__cfg_str limit_name_check = {check_limit_name};

static const struct gw__cfg_range limit_range = {1, UINT32_MAX};
static const struct gw__cfg_range burst_range = {1, UINT32_MAX};
static const struct gw__cfg_range buckets_range = {1, GW_RL_SW_MAX_BUCKETS};
/* period_us must stay below 2^40 (state/ratelimit.h): about 12.7 days. */
static const struct gw__cfg_range period_range = {1, (UINT64_C(1) << 40) / 1000 - 1};

/* burst only shapes the buckets, buckets only the sliding window: elsewhere they would silently
 * do nothing. */
static void limit_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    struct gw_limit_conf *l = obj;
    bool bucket = l->algorithm == GW_RL_GCRA || l->algorithm == GW_RL_TOKEN_BUCKET;
    const char *algo = algorithms[l->algorithm].name;
    if (json && json_object_get(json, "burst") && !bucket) {
        gw__cfg_push_key(ctx, "burst");
        gw__cfg_error(ctx,
                      "burst applies only to algorithms \"gcra\" and \"token_bucket\" "
                      "(algorithm is \"%s\")",
                      algo);
        gw__cfg_pop(ctx);
    }
    /* The buckets count in whole microseconds per request: a finer rate would silently become
     * 1 per microsecond. */
    if (bucket && l->limit && l->period_ms && l->period_ms * 1000 < l->limit) {
        gw__cfg_push_key(ctx, "limit");
        gw__cfg_error(ctx,
                      "%u per %llums is more than 1,000,000 per second, finer than \"%s\" can "
                      "count (one request per microsecond); use a window algorithm or split the "
                      "limit",
                      (unsigned)l->limit, (unsigned long long)l->period_ms, algo);
        gw__cfg_pop(ctx);
    }
    if (l->limit && l->period_ms) {
        /* What the engine will be given: refuse here what it would refuse at start or reload. */
        struct gw_rl_conf rc = {.algo = (enum gw_rl_algo)l->algorithm,
                                .limit = l->limit,
                                .period_us = l->period_ms * 1000,
                                .burst = l->burst,
                                .sw_buckets = l->buckets};
        if (gw_rl_conf_prepare(&rc) != 0)
            gw__cfg_error(ctx, "these settings cannot be counted exactly (limit, burst and period "
                               "out of the engine's range)");
        else if (ctx->root->rate_limit.backend == GW_RL_BACKEND_REDIS &&
                 gw_rl_redis_conf_check(&rc) != 0)
            gw__cfg_error(ctx, "too large for the Redis backend's exact arithmetic (burst x "
                               "period / limit must stay below 2^52 microseconds)");
    }
    if (json && json_object_get(json, "buckets") && l->algorithm != GW_RL_SLIDING_WINDOW) {
        gw__cfg_push_key(ctx, "buckets");
        gw__cfg_error(ctx,
                      "buckets applies only to algorithm \"sliding_window\" (algorithm is "
                      "\"%s\")",
                      algo);
        gw__cfg_pop(ctx);
    }
}

static const struct gw__cfg_field limit_fields[] = {
    {.name = "name", .type = &gw__cfg_string_type, .offset = LIM(name), .arg = &limit_name_check},
    {.name = "algorithm",
     .type = &gw__cfg_enum_type,
     .offset = LIM(algorithm),
     .arg = algorithms,
     .def = "gcra"},
    {.name = "limit",
     .type = &gw__cfg_uint32_type,
     .offset = LIM(limit),
     .arg = &limit_range,
     .required = true},
    {.name = "period",
     .type = &gw__cfg_duration_type,
     .offset = LIM(period_ms),
     .arg = &period_range,
     .required = true},
    {.name = "burst", .type = &gw__cfg_uint32_type, .offset = LIM(burst), .arg = &burst_range},
    {.name = "buckets",
     .type = &gw__cfg_uint32_type,
     .offset = LIM(buckets),
     .arg = &buckets_range,
     .def = "10"},
    {.name = "key", .type = &limit_key_type, .def = "ip"},
    {.name = "match", .type = &gw__cfg_object_type, .arg = &limit_match_obj},
};
static const struct gw__cfg_object limit_obj = {
    .what = "limit",
    ROWS(limit_fields),
    .size = sizeof(struct gw_limit_conf),
    .check = limit_check,
};

/* ---- a service's rate_limit ------------------------------------------------------------------ */

/* Limit names name counters (Redis keys): two limits of one list must not share one. */
static void check_unique_names(struct gw__cfg_ctx *ctx, const struct gw_limit_conf *ls, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; ls[i].name && j < i; j++) {
            if (ls[j].name == NULL || strcmp(ls[i].name, ls[j].name) != 0)
                continue;
            gw__cfg_push_key(ctx, "limits");
            gw__cfg_push_index(ctx, i);
            gw__cfg_push_key(ctx, "name");
            gw__cfg_error(ctx, "limit \"%s\" is already the name of limits[%zu]", ls[i].name, j);
            gw__cfg_pop(ctx);
            gw__cfg_pop(ctx);
            gw__cfg_pop(ctx);
            break;
        }
    }
}

static void service_rl_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    (void)json;
    const struct gw_service_conf *svc = obj;
    check_unique_names(ctx, svc->limits, svc->nlimits);
}

static const struct gw__cfg_field service_rl_fields[] = {
    {.name = "limits",
     .type = &gw__cfg_list_type,
     .offset = offsetof(struct gw_service_conf, limits),
     .arg =
         &(const struct gw__cfg_list){.elem = &limit_obj,
                                      .count_offset = offsetof(struct gw_service_conf, nlimits)}},
};
const struct gw__cfg_object gw__cfg_service_rate_limit_obj = {
    .what = "rate_limit", ROWS(service_rl_fields), .check = service_rl_check};

/* ---- trusted_proxies ------------------------------------------------------------------------- */

static void parse_trusted(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                          const struct gw__cfg_field *f)
{
    (void)f;
    struct gw_config *cfg = base;
    bool is_array = json_is_array(v);
    if (!is_array && !json_is_string(v)) {
        gw__cfg_error(ctx, "expected a string or an array of strings, got %s",
                      gw__cfg_json_kind(v));
        return;
    }
    size_t n = is_array ? json_array_size(v) : 1;
    struct gw_cidr *items = calloc(n ? n : 1, sizeof *items);
    if (items == NULL) {
        ctx->oom = true;
        return;
    }
    size_t k = gw__cfg_cidr_items(ctx, v, items);
    free(cfg->rate_limit.trusted);
    cfg->rate_limit.trusted = items;
    cfg->rate_limit.ntrusted = k;
}

static void release_trusted(void *base, const struct gw__cfg_field *f)
{
    (void)f;
    struct gw_config *cfg = base;
    free(cfg->rate_limit.trusted);
    cfg->rate_limit.trusted = NULL;
    cfg->rate_limit.ntrusted = 0;
}

static const struct gw__cfg_type trusted_type = {"string or array of strings", parse_trusted,
                                                 release_trusted};

/* ---- redis ----------------------------------------------------------------------------------- */

/* NULL or what is wrong with s as a Redis URL; *u filled when NULL. */
static const char *check_redis_url(const char *s, struct gw_url *u)
{
    size_t n = strlen(s);
    const char *why = NULL;
    switch (gw_url_scheme_of(s, n)) {
    case GW_URL_REDIS:
        break;
    case GW_URL_REDISS:
        return "TLS (rediss://) is not possible in this build: Debian 12's hiredis 0.14 has no "
               "TLS; reach Redis over loopback or a TLS tunnel (stunnel) and use redis://";
    default:
        return "must start with \"redis://\"";
    }
    if (gw_url_parse(s, n, u, &why) < 0)
        return why;
    if (u->query != NULL || u->fragment != NULL)
        return "a query or fragment is not allowed in a Redis URL";
    if (u->user != NULL && u->password == NULL)
        return "user information without a password (write redis://:PASSWORD@host)";
    return NULL;
}

/* A part of the URL percent-decoded into a new string; NULL for an empty part (or when out of
 * memory: *oom). */
static char *decoded(const char *p, size_t n, bool *oom)
{
    if (n == 0)
        return NULL;
    char *d = gw_url_decode_dup(p, n);
    if (d == NULL)
        *oom = true;
    return d;
}

/* "redis://[[user]:password@]host[:port][/db]" into the redis fields. */
static void parse_redis_url(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                            const struct gw__cfg_field *f)
{
    (void)f;
    struct gw_config *cfg = base;
    struct gw_url u;
    bool oom = false;
    char *s;
    if (!gw__cfg_get_string(ctx, v, &s))
        return;
    const char *why = check_redis_url(s, &u);
    if (why != NULL) {
        /* The message hides the user and password: the URL may hold a secret. */
        gw__cfg_url_error(ctx, s, why);
        free(s);
        return;
    }
    char *host = strndup(u.host.host, u.host.host_len);
    char *user = decoded(u.user, u.user_len, &oom);
    char *pass = decoded(u.password, u.password_len, &oom);
    if (host == NULL || oom) {
        ctx->oom = true;
        free(host);
        free(user);
        free(pass);
        free(s);
        return;
    }
    free(cfg->rate_limit.redis.url);
    free(cfg->rate_limit.redis.host);
    free(cfg->rate_limit.redis.username);
    free(cfg->rate_limit.redis.password);
    cfg->rate_limit.redis.url = s;
    cfg->rate_limit.redis.host = host;
    cfg->rate_limit.redis.port = u.port;
    cfg->rate_limit.redis.username = user;
    cfg->rate_limit.redis.password = pass;
    cfg->rate_limit.redis.db = u.db;
}

static void release_redis_url(void *base, const struct gw__cfg_field *f)
{
    (void)f;
    struct gw_config *cfg = base;
    free(cfg->rate_limit.redis.url);
    free(cfg->rate_limit.redis.host);
    free(cfg->rate_limit.redis.username);
    free(cfg->rate_limit.redis.password);
    cfg->rate_limit.redis.url = NULL;
    cfg->rate_limit.redis.host = NULL;
    cfg->rate_limit.redis.username = NULL;
    cfg->rate_limit.redis.password = NULL;
}

static const struct gw__cfg_type redis_url_type = {"string", parse_redis_url, release_redis_url};

static const struct gw__cfg_enum failure_policies[] = {
    {"fail_open", GW_RL_FAIL_OPEN},
    {"fail_closed", GW_RL_FAIL_CLOSED},
    {"local", GW_RL_FAIL_LOCAL},
    {NULL, 0},
};

/* A key prefix goes into every Redis key: printable ASCII without spaces. */
static bool check_key_prefix(struct gw__cfg_ctx *ctx, char **s)
{
    size_t n = strlen(*s);
    bool ok = n <= 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = (*s)[i] > ' ' && (*s)[i] < 0x7f;
    if (ok)
        return true;
    char q[96];
    gw__cfg_error(ctx, "%s must be at most 64 printable characters without spaces",
                  gw__cfg_quote(*s, n, q, sizeof q));
    return false;
}
static const struct gw__cfg_str key_prefix_check = {check_key_prefix};

static const struct gw__cfg_range redis_timeout_range = {1, 60000};
static const struct gw__cfg_range backoff_range = {1, 3600000};
static const struct gw__cfg_range local_share_range = {0, 1000000};

static void redis_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    (void)json;
    struct gw_config *cfg = obj;
    if (cfg->rate_limit.redis.backoff_min_ms == 0 || cfg->rate_limit.redis.backoff_max_ms == 0 ||
        cfg->rate_limit.redis.backoff_max_ms >= cfg->rate_limit.redis.backoff_min_ms)
        return; /* 0: did not parse, already reported */
    gw__cfg_push_key(ctx, "backoff_max");
    gw__cfg_error(ctx, "must not be shorter than backoff_min (%" PRIu64 "ms < %" PRIu64 "ms)",
                  cfg->rate_limit.redis.backoff_max_ms, cfg->rate_limit.redis.backoff_min_ms);
    gw__cfg_pop(ctx);
}

static const struct gw__cfg_field redis_fields[] = {
    {.name = "url", .type = &redis_url_type},
    {.name = "key_prefix",
     .type = &gw__cfg_string_type,
     .offset = CFG(rate_limit.redis.key_prefix),
     .arg = &key_prefix_check,
     .def = "gantry:rl:"},
    {.name = "timeout",
     .type = &gw__cfg_duration_type,
     .offset = CFG(rate_limit.redis.timeout_ms),
     .arg = &redis_timeout_range,
     .def = "50ms"},
    {.name = "backoff_min",
     .type = &gw__cfg_duration_type,
     .offset = CFG(rate_limit.redis.backoff_min_ms),
     .arg = &backoff_range,
     .def = "100ms"},
    {.name = "backoff_max",
     .type = &gw__cfg_duration_type,
     .offset = CFG(rate_limit.redis.backoff_max_ms),
     .arg = &backoff_range,
     .def = "5s"},
    {.name = "failure_policy",
     .type = &gw__cfg_enum_type,
     .offset = CFG(rate_limit.redis.on_failure),
     .arg = failure_policies,
     .def = "fail_open"},
    {.name = "local_share",
     .type = &gw__cfg_uint32_type,
     .offset = CFG(rate_limit.redis.local_share),
     .arg = &local_share_range,
     .def = "0"},
};
static const struct gw__cfg_object redis_obj = {
    .what = "redis", ROWS(redis_fields), .check = redis_check};

/* ---- the gateway's rate_limit ---------------------------------------------------------------- */

static const struct gw__cfg_enum backends[] = {
    {"local", GW_RL_BACKEND_LOCAL},
    {"redis", GW_RL_BACKEND_REDIS},
    {NULL, 0},
};

static const struct gw__cfg_enum header_modes[] = {
    {"all", GW_RL_HEADERS_ALL},
    {"ietf", GW_RL_HEADERS_IETF},
    {"legacy", GW_RL_HEADERS_LEGACY},
    {"off", GW_RL_HEADERS_OFF},
    {NULL, 0},
};

static const struct gw__cfg_range max_keys_range = {64, 100000000};

static void rate_limit_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    (void)json;
    struct gw_config *cfg = obj;
    check_unique_names(ctx, cfg->rate_limit.limits, cfg->rate_limit.nlimits);
    if (cfg->rate_limit.backend != GW_RL_BACKEND_REDIS || cfg->rate_limit.redis.url != NULL)
        return;
    json_t *redis = json ? json_object_get(json, "redis") : NULL;
    if (redis && json_object_get(redis, "url"))
        return; /* given but invalid: already reported */
    if (redis)
        gw__cfg_push_key(ctx, "redis");
    gw__cfg_error(ctx, "backend \"redis\" needs redis.url (\"redis://host:6379\")");
    if (redis)
        gw__cfg_pop(ctx);
}

static const struct gw__cfg_field rate_limit_fields[] = {
    {.name = "backend",
     .type = &gw__cfg_enum_type,
     .offset = CFG(rate_limit.backend),
     .arg = backends,
     .def = "local"},
    {.name = "max_keys",
     .type = &gw__cfg_uint32_type,
     .offset = CFG(rate_limit.max_keys),
     .arg = &max_keys_range,
     .def = "100000"},
    {.name = "headers",
     .type = &gw__cfg_enum_type,
     .offset = CFG(rate_limit.headers),
     .arg = header_modes,
     .def = "all"},
    {.name = "trusted_proxies", .type = &trusted_type},
    {.name = "redis", .type = &gw__cfg_object_type, .arg = &redis_obj},
    {.name = "limits",
     .type = &gw__cfg_list_type,
     .offset = CFG(rate_limit.limits),
     .arg =
         &(const struct gw__cfg_list){.elem = &limit_obj, .count_offset = CFG(rate_limit.nlimits)}},
};
const struct gw__cfg_object gw__cfg_rate_limit_obj = {
    .what = "rate_limit", ROWS(rate_limit_fields), .check = rate_limit_check};
