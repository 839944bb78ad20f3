/*
 * The per-service resilience sections of the config schema (rows of the service table in
 * config_service.c): load_balancer, health_check, outlier_detection, circuit_breaker, retries.
 * Their value types (hash key, status range, status list, retry classes), the rules across
 * their keys, and the copies into the breaker's and the retry module's own settings.
 *
 * docs/config.md documents every row ("Load balancing and resilience").
 */
#include "config/internal.h"

#include "balance/balancer.h"
#include "upstream/breaker.h"
#include "upstream/retry.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])
#define SVC(field) offsetof(struct gw_service_conf, field)

/* The config's names must mean what the modules' names mean. */
_Static_assert((int)GW_LB_ROUND_ROBIN == (int)GW_BALANCE_ROUND_ROBIN, "lb enum");
_Static_assert((int)GW_LB_WEIGHTED_ROUND_ROBIN == (int)GW_BALANCE_WEIGHTED_ROUND_ROBIN, "lb enum");
_Static_assert((int)GW_LB_RANDOM == (int)GW_BALANCE_RANDOM, "lb enum");
_Static_assert((int)GW_LB_LEAST_CONNECTIONS == (int)GW_BALANCE_LEAST_CONNECTIONS, "lb enum");
_Static_assert((int)GW_LB_IP_HASH == (int)GW_BALANCE_IP_HASH, "lb enum");
_Static_assert((int)GW_LB_CONSISTENT_HASH == (int)GW_BALANCE_CONSISTENT_HASH, "lb enum");
_Static_assert((int)GW_LB_P2C_EWMA == (int)GW_BALANCE_P2C_EWMA, "lb enum");
_Static_assert(sizeof(enum gw_lb_strategy) == sizeof(int), "enums are stored as int");
_Static_assert(GW_CONFIG_MAX_RETRY_STATUSES == GW_RETRY_MAX_STATUSES, "retry statuses");

static bool is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* An RFC 9110 token (header field names, RFC 6265 cookie names) of 1 to 256 characters. */
static bool is_token(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        if (!is_tchar(s[i]))
            return false;
    }
    return n > 0 && n <= 256;
}

/* Splits a comma-separated string item by item (spaces around items ignored): the next item
 * is [*start, *end); returns false when there is none left. */
static bool next_item(const char **p, const char **start, const char **end)
{
    const char *s = *p;
    while (*s == ' ' || *s == ',')
        s++;
    if (*s == '\0')
        return false;
    const char *e = s;
    while (*e != '\0' && *e != ',')
        e++;
    *p = e;
    while (e > s && e[-1] == ' ')
        e--;
    *start = s;
    *end = e;
    return true;
}

/* ---- load_balancer --------------------------------------------------------------------------- */

static const struct gw__cfg_enum lb_strategies[] = {
    {"round_robin", GW_LB_ROUND_ROBIN}, {"weighted_round_robin", GW_LB_WEIGHTED_ROUND_ROBIN},
    {"random", GW_LB_RANDOM},           {"least_connections", GW_LB_LEAST_CONNECTIONS},
    {"ip_hash", GW_LB_IP_HASH},         {"consistent_hash", GW_LB_CONSISTENT_HASH},
    {"p2c_ewma", GW_LB_P2C_EWMA},       {NULL, 0},
};

/* "ip" | "header:NAME" | "cookie:NAME" into lb_hash_kind and lb_hash_name. */
static void parse_hash_key(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                           const struct gw__cfg_field *f)
{
    (void)f;
    struct gw_service_conf *svc = base;
    char *s;
    if (!gw__cfg_get_string(ctx, v, &s))
        return;
    enum gw_lb_hash_kind kind;
    const char *name = NULL;
    char q[96];
    if (strcmp(s, "ip") == 0) {
        kind = GW_LB_HASH_IP;
    } else if (strncmp(s, "header:", 7) == 0) {
        kind = GW_LB_HASH_HEADER;
        name = s + 7;
    } else if (strncmp(s, "cookie:", 7) == 0) {
        kind = GW_LB_HASH_COOKIE;
        name = s + 7;
    } else {
        gw__cfg_error(ctx,
                      "unknown hash key %s (expected \"ip\", \"header:NAME\" or \"cookie:NAME\")",
                      gw__cfg_quote(s, strlen(s), q, sizeof q));
        free(s);
        return;
    }
    if (name && name[0] == '\0') {
        gw__cfg_error(ctx, "%s needs a %s name after the colon (\"%sNAME\")",
                      gw__cfg_quote(s, strlen(s), q, sizeof q),
                      kind == GW_LB_HASH_HEADER ? "header" : "cookie",
                      kind == GW_LB_HASH_HEADER ? "header:" : "cookie:");
        free(s);
        return;
    }
    if (name && !is_token(name)) {
        gw__cfg_error(ctx, "%s is not a valid %s name (letters, digits and !#$%%&'*+-.^_`|~)",
                      gw__cfg_quote(name, strlen(name), q, sizeof q),
                      kind == GW_LB_HASH_HEADER ? "header" : "cookie");
        free(s);
        return;
    }
    char *copy = NULL;
    if (name) {
        copy = strdup(name);
        if (copy == NULL) {
            ctx->oom = true;
            free(s);
            return;
        }
        /* Header names are case-insensitive; cookie names are not. */
        for (char *p = copy; kind == GW_LB_HASH_HEADER && *p; p++) {
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        }
    }
    free(s);
    free(svc->lb_hash_name);
    svc->lb_hash_kind = kind;
    svc->lb_hash_name = copy;
}

static void release_hash_key(void *base, const struct gw__cfg_field *f)
{
    (void)f;
    struct gw_service_conf *svc = base;
    free(svc->lb_hash_name);
    svc->lb_hash_name = NULL;
}

static const struct gw__cfg_type hash_key_type = {"string", parse_hash_key, release_hash_key};

static bool check_cookie_name(struct gw__cfg_ctx *ctx, char **s)
{
    if (is_token(*s))
        return true;
    char q[96];
    gw__cfg_error(ctx,
                  "%s is not a valid cookie name (1 to 256 letters, digits and "
                  "!#$%%&'*+-.^_`|~)",
                  gw__cfg_quote(*s, strlen(*s), q, sizeof q));
    return false;
}
static const struct gw__cfg_str cookie_name_check = {check_cookie_name};

/* hash_key says what consistent_hash hashes: with another strategy it would silently do
 * nothing. */
static void load_balancer_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    struct gw_service_conf *svc = obj;
    if (json == NULL || json_object_get(json, "hash_key") == NULL ||
        svc->lb_strategy == GW_LB_CONSISTENT_HASH)
        return;
    gw__cfg_push_key(ctx, "hash_key");
    gw__cfg_error(ctx, "hash_key applies only to strategy \"consistent_hash\" (strategy is \"%s\")",
                  gw_balance_strategy_name((enum gw_balance_strategy)svc->lb_strategy));
    gw__cfg_pop(ctx);
}

static const struct gw__cfg_field load_balancer_fields[] = {
    {.name = "strategy",
     .type = &gw__cfg_enum_type,
     .offset = SVC(lb_strategy),
     .arg = lb_strategies,
     .def = "round_robin"},
    {.name = "hash_key", .type = &hash_key_type, .def = "ip"},
    {.name = "sticky_cookie",
     .type = &gw__cfg_string_type,
     .offset = SVC(lb_sticky_cookie),
     .arg = &cookie_name_check},
};
const struct gw__cfg_object gw__cfg_load_balancer_obj = {
    .what = "load_balancer", ROWS(load_balancer_fields), .check = load_balancer_check};

/* ---- health_check ---------------------------------------------------------------------------- */

/* An origin-form request target: '/' then visible ASCII, no fragment. */
static bool check_health_path(struct gw__cfg_ctx *ctx, char **s)
{
    const char *p = *s;
    size_t n = strlen(p);
    const char *why = NULL;
    if (p[0] != '/')
        why = "must start with \"/\"";
    else if (n > 1024)
        why = "is longer than 1024 characters";
    for (size_t i = 0; why == NULL && i < n; i++) {
        if (p[i] <= ' ' || p[i] >= 0x7f || p[i] == '#')
            why = "must not contain spaces, control characters, non-ASCII characters or \"#\"";
    }
    if (why == NULL)
        return true;
    char q[96];
    gw__cfg_error(ctx, "%s %s", gw__cfg_quote(p, n, q, sizeof q), why);
    return false;
}
static const struct gw__cfg_str health_path_check = {check_health_path};

/* A status code 100..599 at [s, e); false when it is not one. */
static bool parse_status(const char *s, const char *e, uint16_t *out)
{
    unsigned n = 0;
    if (e - s != 3)
        return false;
    for (const char *p = s; p < e; p++) {
        if (*p < '0' || *p > '9')
            return false;
        n = n * 10 + (unsigned)(*p - '0');
    }
    if (n < 100 || n > 599)
        return false;
    *out = (uint16_t)n;
    return true;
}

/* "200-399", "200" or 200 into health_check.status_min/_max. */
static void parse_status_range(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                               const struct gw__cfg_field *f)
{
    (void)f;
    struct gw_service_conf *svc = base;
    char buf[32];
    char *s = NULL;
    if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_string(v)) {
        if (!gw__cfg_get_string(ctx, v, &s))
            return;
    } else {
        gw__cfg_error(ctx, "expected a status or a range of statuses (\"200-399\"), got %s",
                      gw__cfg_json_kind(v));
        return;
    }
    const char *text = s ? s : buf;
    const char *dash = strchr(text, '-');
    const char *end = text + strlen(text);
    uint16_t lo = 0;
    uint16_t hi = 0;
    bool ok = dash ? parse_status(text, dash, &lo) && parse_status(dash + 1, end, &hi)
                   : parse_status(text, end, &lo);
    if (!dash)
        hi = lo;
    char q[96];
    if (!ok)
        gw__cfg_error(ctx,
                      "%s is not a status or a range of statuses (\"200\" or \"200-399\", "
                      "statuses 100 to 599)",
                      gw__cfg_quote(text, strlen(text), q, sizeof q));
    else if (lo > hi)
        gw__cfg_error(ctx, "%s: the range is empty (%u > %u)",
                      gw__cfg_quote(text, strlen(text), q, sizeof q), lo, hi);
    free(s);
    if (!ok || lo > hi)
        return;
    svc->health_check.status_min = lo;
    svc->health_check.status_max = hi;
}

static const struct gw__cfg_type status_range_type = {"status range", parse_status_range, NULL};

static const struct gw__cfg_range threshold_range = {1, 100};

static const struct gw__cfg_enum health_check_types[] = {
    {"http", GW_HEALTH_CHECK_HTTP},
    {"grpc", GW_HEALTH_CHECK_GRPC},
    {NULL, 0},
};

/* A gRPC service name as the health protocol takes it ("package.Service"): visible ASCII, at
 * most 1024 bytes (h2/grpc_health.h GW_GRPC_HEALTH_SERVICE_MAX). */
static bool check_grpc_service(struct gw__cfg_ctx *ctx, char **s)
{
    const char *p = *s;
    size_t n = strlen(p);
    const char *why = n > 1024 ? "is longer than 1024 characters" : NULL;
    for (size_t i = 0; why == NULL && i < n; i++) {
        if (p[i] <= ' ' || p[i] >= 0x7f)
            why = "must not contain spaces, control characters or non-ASCII characters";
    }
    if (why == NULL)
        return true;
    char q[96];
    gw__cfg_error(ctx, "%s %s", gw__cfg_quote(p, n, q, sizeof q), why);
    return false;
}
static const struct gw__cfg_str grpc_service_check = {check_grpc_service};

static bool has_key(json_t *json, const char *key)
{
    return json_is_object(json) && json_object_get(json, key) != NULL;
}

/* The keys that belong to one type of check only. */
static void health_check_type_check(struct gw__cfg_ctx *ctx, struct gw_service_conf *svc,
                                    json_t *json)
{
    bool grpc = svc->health_check.type == GW_HEALTH_CHECK_GRPC;
    /* A type that did not parse has its own error: no guess about the path then. */
    const char *type =
        has_key(json, "type") ? json_string_value(json_object_get(json, "type")) : "http";
    bool bad_type = type == NULL || (strcmp(type, "http") != 0 && strcmp(type, "grpc") != 0);
    static const char *const http_only[] = {"path", "expected_status"};
    if (!grpc) {
        if (has_key(json, "service")) {
            gw__cfg_push_key(ctx, "service");
            gw__cfg_error_at_key(ctx, "only for \"type\": \"grpc\" (the gRPC service whose "
                                      "health is asked)");
            gw__cfg_pop(ctx);
        } else if (svc->health_check.enabled && !has_key(json, "path") && !bad_type) {
            gw__cfg_push_key(ctx, "path");
            gw__cfg_error(ctx, "required key \"path\" is missing");
            gw__cfg_pop(ctx);
        }
        return;
    }
    for (size_t i = 0; i < 2; i++) {
        if (!has_key(json, http_only[i]))
            continue;
        gw__cfg_push_key(ctx, http_only[i]);
        gw__cfg_error_at_key(ctx, "not used by \"type\": \"grpc\" (the check calls "
                                  "/grpc.health.v1.Health/Check and reads the status it answers)");
        gw__cfg_pop(ctx);
    }
}

static void health_check_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    struct gw_service_conf *svc = obj;
    health_check_type_check(ctx, svc, json);
    /* 0: a value that did not parse (durations are >= 1ms), already reported. */
    if (svc->health_check.timeout_ms == 0 || svc->health_check.interval_ms == 0 ||
        svc->health_check.timeout_ms < svc->health_check.interval_ms)
        return;
    gw__cfg_push_key(ctx, "timeout");
    gw__cfg_error(ctx, "must be shorter than interval (%" PRIu64 "ms >= %" PRIu64 "ms)",
                  svc->health_check.timeout_ms, svc->health_check.interval_ms);
    gw__cfg_pop(ctx);
}

static const struct gw__cfg_field health_check_fields[] = {
    {.name = "path",
     .type = &gw__cfg_string_type,
     .offset = SVC(health_check.path),
     .arg = &health_path_check},
    {.name = "interval",
     .type = &gw__cfg_duration_type,
     .offset = SVC(health_check.interval_ms),
     .def = "10s"},
    {.name = "timeout",
     .type = &gw__cfg_duration_type,
     .offset = SVC(health_check.timeout_ms),
     .def = "2s"},
    {.name = "healthy_threshold",
     .type = &gw__cfg_uint32_type,
     .offset = SVC(health_check.healthy_threshold),
     .arg = &threshold_range,
     .def = "2"},
    {.name = "unhealthy_threshold",
     .type = &gw__cfg_uint32_type,
     .offset = SVC(health_check.unhealthy_threshold),
     .arg = &threshold_range,
     .def = "3"},
    {.name = "expected_status", .type = &status_range_type, .def = "200-399"},
    {.name = "type",
     .type = &gw__cfg_enum_type,
     .offset = SVC(health_check.type),
     .arg = health_check_types,
     .def = "http"},
    {.name = "service",
     .type = &gw__cfg_string_type,
     .offset = SVC(health_check.grpc_service),
     .arg = &grpc_service_check},
};
const struct gw__cfg_object gw__cfg_health_check_obj = {
    .what = "health_check",
    ROWS(health_check_fields),
    .check = health_check_check,
    .toggle = true,
    .enabled_offset = SVC(health_check.enabled),
};

/* ---- outlier_detection ----------------------------------------------------------------------- */

static const struct gw__cfg_range consecutive_range = {1, 1000};
static const struct gw__cfg_range percent_range = {0, 100};

static void outlier_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    (void)json;
    struct gw_service_conf *svc = obj;
    /* 0: a value that did not parse (durations are >= 1ms), already reported. */
    if (svc->outlier.max_ejection_ms == 0 || svc->outlier.base_ejection_ms == 0 ||
        svc->outlier.max_ejection_ms >= svc->outlier.base_ejection_ms)
        return;
    gw__cfg_push_key(ctx, "max_ejection_time");
    gw__cfg_error(ctx, "must be at least base_ejection_time (%" PRIu64 "ms < %" PRIu64 "ms)",
                  svc->outlier.max_ejection_ms, svc->outlier.base_ejection_ms);
    gw__cfg_pop(ctx);
}

static const struct gw__cfg_field outlier_fields[] = {
    {.name = "consecutive_failures",
     .type = &gw__cfg_uint32_type,
     .offset = SVC(outlier.consecutive_failures),
     .arg = &consecutive_range,
     .def = "5"},
    {.name = "base_ejection_time",
     .type = &gw__cfg_duration_type,
     .offset = SVC(outlier.base_ejection_ms),
     .def = "30s"},
    {.name = "max_ejection_time",
     .type = &gw__cfg_duration_type,
     .offset = SVC(outlier.max_ejection_ms),
     .def = "300s"},
    {.name = "max_ejection_percent",
     .type = &gw__cfg_uint32_type,
     .offset = SVC(outlier.max_ejection_percent),
     .arg = &percent_range,
     .def = "50"},
};
const struct gw__cfg_object gw__cfg_outlier_obj = {
    .what = "outlier_detection",
    ROWS(outlier_fields),
    .check = outlier_check,
    .toggle = true,
    .enabled_offset = SVC(outlier.enabled),
};

/* ---- circuit_breaker ------------------------------------------------------------------------- */

static const struct gw__cfg_range count_range = {0, 1000000};
static const struct gw__cfg_range buckets_range = {1, GW_BREAKER_MAX_BUCKETS};
static const struct gw__cfg_range half_open_range = {1, GW_BREAKER_MAX_HALF_OPEN};

void gw_config_breaker_conf(const struct gw_service_conf *svc, struct gw_breaker_conf *out)
{
    const struct gw_service_breaker_conf *c = &svc->breaker;
    *out = (struct gw_breaker_conf){
        .failure_threshold = c->failure_threshold,
        .error_threshold_pct = c->error_threshold_pct,
        .minimum_requests = c->minimum_requests,
        .half_open_requests = c->half_open_requests,
        .buckets = c->buckets,
        .window_ms = c->window_ms,
        .open_duration_ms = c->open_duration_ms,
        .slow_call_ms = c->slow_call_ms,
    };
}

static void breaker_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    (void)json;
    struct gw_service_conf *svc = obj;
    const struct gw_service_breaker_conf *c = &svc->breaker;
    /* 0: a value that did not parse (both are >= 1), already reported. */
    if (c->buckets == 0 || c->window_ms == 0)
        return;
    if (c->window_ms / c->buckets == 0) {
        gw__cfg_push_key(ctx, "window");
        gw__cfg_error(ctx, "must be at least 1ms per bucket (%" PRIu64 "ms in %" PRIu32 " buckets)",
                      c->window_ms, c->buckets);
        gw__cfg_pop(ctx);
        return;
    }
    /* The rows above already keep every value in range: this only catches a module rule that
     * the table missed, and is only meaningful when nothing failed to parse. */
    struct gw_breaker_conf bc;
    gw_config_breaker_conf(svc, &bc);
    if (ctx->errs->count == 0 && ctx->dropped == 0 && gw_breaker_conf_check(&bc) < 0)
        gw__cfg_error(ctx, "these circuit breaker settings are not valid");
}

static const struct gw__cfg_field breaker_fields[] = {
    {.name = "failure_threshold",
     .type = &gw__cfg_uint32_type,
     .offset = SVC(breaker.failure_threshold),
     .arg = &count_range,
     .def = "5"},
    {.name = "error_threshold_percentage",
     .type = &gw__cfg_uint32_type,
     .offset = SVC(breaker.error_threshold_pct),
     .arg = &percent_range,
     .def = "50"},
    {.name = "window",
     .type = &gw__cfg_duration_type,
     .offset = SVC(breaker.window_ms),
     .def = "10s"},
    {.name = "buckets",
     .type = &gw__cfg_uint32_type,
     .offset = SVC(breaker.buckets),
     .arg = &buckets_range,
     .def = "10"},
    {.name = "minimum_requests",
     .type = &gw__cfg_uint32_type,
     .offset = SVC(breaker.minimum_requests),
     .arg = &count_range,
     .def = "20"},
    {.name = "slow_call_threshold",
     .type = &gw__cfg_duration_type,
     .offset = SVC(breaker.slow_call_ms)},
    {.name = "open_duration",
     .type = &gw__cfg_duration_type,
     .offset = SVC(breaker.open_duration_ms),
     .def = "30s"},
    {.name = "half_open_requests",
     .type = &gw__cfg_uint32_type,
     .offset = SVC(breaker.half_open_requests),
     .arg = &half_open_range,
     .def = "3"},
};
const struct gw__cfg_object gw__cfg_breaker_obj = {
    .what = "circuit_breaker",
    ROWS(breaker_fields),
    .check = breaker_check,
    .toggle = true,
    .enabled_offset = SVC(breaker_enabled),
};

/* ---- retries --------------------------------------------------------------------------------- */

void gw_config_retry_conf(const struct gw_service_conf *svc, struct gw_retry_conf *out)
{
    const struct gw_service_retry_conf *c = &svc->retries;
    *out = (struct gw_retry_conf){
        .attempts = c->attempts,
        .on = c->on,
        .non_idempotent = c->non_idempotent,
        .n_statuses = c->n_statuses,
        .backoff_base_ms = c->backoff_base_ms,
        .backoff_max_ms = c->backoff_max_ms,
        .per_try_timeout_ms = c->per_try_timeout_ms,
        .budget_pct = c->budget_pct,
        .budget_min_per_s = c->budget_min_per_s,
    };
    memcpy(out->statuses, c->statuses, sizeof out->statuses);
}

/* The items of a list value: a JSON array, one scalar, or a string of comma-separated items
 * (so that a list can come from one environment variable). Calls item() for each with the
 * item's text; array items are reported at their own position. False when v is none of these
 * (reported). */
static bool each_item(struct gw__cfg_ctx *ctx, json_t *v, bool numbers, const char *what,
                      void (*item)(struct gw__cfg_ctx *ctx, const char *s, size_t n, void *ud),
                      void *ud)
{
    char buf[32];
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *e = json_array_get(v, i);
            gw__cfg_push_index(ctx, i);
            if (numbers && json_is_integer(e)) {
                snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(e));
                item(ctx, buf, strlen(buf), ud);
            } else if (json_is_string(e)) {
                char *s;
                if (gw__cfg_get_string(ctx, e, &s)) {
                    item(ctx, s, strlen(s), ud);
                    free(s);
                }
            } else {
                gw__cfg_error(ctx, "expected %s, got %s", numbers ? "an integer" : "a string",
                              gw__cfg_json_kind(e));
            }
            gw__cfg_pop(ctx);
        }
        return true;
    }
    if (numbers && json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        item(ctx, buf, strlen(buf), ud);
        return true;
    }
    if (!json_is_string(v)) {
        gw__cfg_error(ctx, "expected %s, got %s", what, gw__cfg_json_kind(v));
        return false;
    }
    char *s;
    if (!gw__cfg_get_string(ctx, v, &s))
        return false;
    const char *p = s;
    const char *start;
    const char *end;
    while (next_item(&p, &start, &end))
        item(ctx, start, (size_t)(end - start), ud);
    free(s);
    return true;
}

struct status_list {
    uint16_t items[GW_CONFIG_MAX_RETRY_STATUSES];
    uint32_t n;
    bool failed;
};

static void status_item(struct gw__cfg_ctx *ctx, const char *s, size_t n, void *ud)
{
    struct status_list *l = ud;
    uint16_t code;
    char q[96];
    if (!parse_status(s, s + n, &code)) {
        gw__cfg_error(ctx, "%s is not an HTTP status (100 to 599)",
                      gw__cfg_quote(s, n, q, sizeof q));
        l->failed = true;
        return;
    }
    for (uint32_t i = 0; i < l->n; i++) {
        if (l->items[i] == code) {
            gw__cfg_error(ctx, "%u is listed twice", code);
            l->failed = true;
            return;
        }
    }
    if (l->n == GW_CONFIG_MAX_RETRY_STATUSES) {
        if (!l->failed)
            gw__cfg_error(ctx, "at most %d statuses", GW_CONFIG_MAX_RETRY_STATUSES);
        l->failed = true;
        return;
    }
    l->items[l->n++] = code;
}

static void parse_statuses(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                           const struct gw__cfg_field *f)
{
    (void)f;
    struct gw_service_conf *svc = base;
    struct status_list l;
    memset(&l, 0, sizeof l);
    if (!each_item(ctx, v, true, "an array of statuses", status_item, &l) || l.failed)
        return;
    memset(svc->retries.statuses, 0, sizeof svc->retries.statuses);
    memcpy(svc->retries.statuses, l.items, l.n * sizeof l.items[0]);
    svc->retries.n_statuses = l.n;
}

static const struct gw__cfg_type statuses_type = {"array of integers", parse_statuses, NULL};

static const struct {
    const char *name;
    uint32_t bit;
} retry_classes[] = {
    {"connect_failed", GW_RETRY_CONNECT_FAILED},
    {"reset", GW_RETRY_RESET_BEFORE_RESPONSE},
    {"timeout", GW_RETRY_TIMEOUT},
    {"status", GW_RETRY_STATUS},
};

struct class_set {
    uint32_t on;
    bool failed;
};

static void class_item(struct gw__cfg_ctx *ctx, const char *s, size_t n, void *ud)
{
    struct class_set *set = ud;
    char q[96];
    for (size_t i = 0; i < sizeof retry_classes / sizeof retry_classes[0]; i++) {
        if (strlen(retry_classes[i].name) != n || memcmp(retry_classes[i].name, s, n) != 0)
            continue;
        if (set->on & retry_classes[i].bit) {
            gw__cfg_error(ctx, "%s is listed twice", gw__cfg_quote(s, n, q, sizeof q));
            set->failed = true;
        }
        set->on |= retry_classes[i].bit;
        return;
    }
    gw__cfg_error(ctx,
                  "unknown failure class %s (expected connect_failed, reset, timeout or status)",
                  gw__cfg_quote(s, n, q, sizeof q));
    set->failed = true;
}

static void parse_retry_on(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                           const struct gw__cfg_field *f)
{
    (void)f;
    struct gw_service_conf *svc = base;
    struct class_set set = {0, false};
    if (!each_item(ctx, v, false, "a string or an array of strings", class_item, &set) ||
        set.failed)
        return;
    svc->retries.on = set.on;
}

static const struct gw__cfg_type retry_on_type = {"string or array of strings", parse_retry_on,
                                                  NULL};

static const struct gw__cfg_range attempts_range = {0, 10};
static const struct gw__cfg_range backoff_range = {0, 60000};
static const struct gw__cfg_range min_per_s_range = {0, 1000000};

/* Backoffs may be 0: a value that did not parse is told apart by this mark (set by the init
 * hook, replaced by a default or a parsed value). */
#define UNPARSED UINT64_MAX

static void retries_init(struct gw__cfg_ctx *ctx, void *obj)
{
    (void)ctx;
    struct gw_service_conf *svc = obj;
    svc->retries.backoff_base_ms = UNPARSED;
    svc->retries.backoff_max_ms = UNPARSED;
}

static void retries_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    (void)json;
    struct gw_service_conf *svc = obj;
    const struct gw_service_retry_conf *c = &svc->retries;
    if (c->backoff_base_ms == UNPARSED || c->backoff_max_ms == UNPARSED)
        return; /* already reported */
    if (c->backoff_max_ms < c->backoff_base_ms) {
        gw__cfg_push_key(ctx, "backoff_max");
        gw__cfg_error(ctx, "must be at least backoff_base (%" PRIu64 "ms < %" PRIu64 "ms)",
                      c->backoff_max_ms, c->backoff_base_ms);
        gw__cfg_pop(ctx);
        return;
    }
    struct gw_retry_conf rc;
    gw_config_retry_conf(svc, &rc);
    if (ctx->errs->count == 0 && ctx->dropped == 0 && gw_retry_conf_check(&rc) < 0)
        gw__cfg_error(ctx, "these retry settings are not valid");
}

static const struct gw__cfg_field retries_fields[] = {
    {.name = "attempts",
     .type = &gw__cfg_uint32_type,
     .offset = SVC(retries.attempts),
     .arg = &attempts_range,
     .def = "2"},
    {.name = "retry_on", .type = &retry_on_type, .def = "connect_failed, reset, timeout, status"},
    {.name = "statuses", .type = &statuses_type, .def = "502, 503, 504"},
    {.name = "per_try_timeout",
     .type = &gw__cfg_duration_type,
     .offset = SVC(retries.per_try_timeout_ms)},
    {.name = "backoff_base",
     .type = &gw__cfg_duration_type,
     .offset = SVC(retries.backoff_base_ms),
     .arg = &backoff_range,
     .def = "25ms"},
    {.name = "backoff_max",
     .type = &gw__cfg_duration_type,
     .offset = SVC(retries.backoff_max_ms),
     .arg = &backoff_range,
     .def = "250ms"},
    {.name = "non_idempotent",
     .type = &gw__cfg_bool_type,
     .offset = SVC(retries.non_idempotent),
     .def = "false"},
    {.name = "budget_percent",
     .type = &gw__cfg_uint32_type,
     .offset = SVC(retries.budget_pct),
     .arg = &percent_range,
     .def = "20"},
    {.name = "budget_min_per_second",
     .type = &gw__cfg_uint32_type,
     .offset = SVC(retries.budget_min_per_s),
     .arg = &min_per_s_range,
     .def = "3"},
};
const struct gw__cfg_object gw__cfg_retries_obj = {
    .what = "retries",
    ROWS(retries_fields),
    .init = retries_init,
    .check = retries_check,
    .toggle = true,
    .enabled_offset = SVC(retries_enabled),
};
