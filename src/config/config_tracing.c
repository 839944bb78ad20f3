/*
 * The "tracing" section, services' "tracing" objects, and "log.access_fields" (docs/config.md
 * "Tracing" and "log", docs/tracing.md).
 */
#include "config/internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/fetch.h"

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])
#define CFG(f) offsetof(struct gw_config, f)

/* ---- a share: 0 to 1, or a percentage ---------------------------------------------------------
 */

/* ---- objects of strings: tracing.headers, tracing.resource_attributes ---------------------------
 */

/* arg of kv_type: where the array and its count live, and a check for each pair. */
struct kv_spec {
    size_t count_offset;
    bool (*check)(struct gw__cfg_ctx *ctx, const char *key, const char *value);
};

static void release_kv(void *base, const struct gw__cfg_field *f)
{
    const struct kv_spec *spec = f->arg;
    struct gw_kv **items = (struct gw_kv **)((char *)base + f->offset);
    size_t *n = (size_t *)((char *)base + spec->count_offset);
    for (size_t i = 0; *items && i < *n; i++) {
        free((*items)[i].key);
        free((*items)[i].value);
    }
    free(*items);
    *items = NULL;
    *n = 0;
}

static void parse_kv(struct gw__cfg_ctx *ctx, json_t *v, void *base, const struct gw__cfg_field *f)
{
    const struct kv_spec *spec = f->arg;
    if (!json_is_object(v)) {
        gw__cfg_error(ctx, "expected an object of strings, got %s", gw__cfg_json_kind(v));
        return;
    }
    release_kv(base, f);
    size_t n = json_object_size(v);
    struct gw_kv *items = calloc(n ? n : 1, sizeof *items);
    if (items == NULL) {
        ctx->oom = true;
        return;
    }
    size_t k = 0;
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val)
    {
        char *s = NULL;
        gw__cfg_push_key(ctx, key);
        if (gw__cfg_get_string(ctx, val, &s) && spec->check(ctx, key, s)) {
            items[k].key = strdup(key);
            items[k].value = s;
            s = NULL;
            if (items[k].key == NULL)
                ctx->oom = true;
            k++;
        }
        free(s);
        gw__cfg_pop(ctx);
    }
    *(struct gw_kv **)((char *)base + f->offset) = items;
    *(size_t *)((char *)base + spec->count_offset) = k;
}

static const struct gw__cfg_type kv_type = {"object of strings", parse_kv, release_kv};

static bool token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* An export header: a field name (RFC 9110 token) that is not one gantry sends itself, and a
 * value that cannot end the line. */
static bool check_header(struct gw__cfg_ctx *ctx, const char *key, const char *value)
{
    static const char *const own[] = {"host", "connection", "content-length", "transfer-encoding",
                                      "content-type"};
    size_t n = strlen(key);
    bool ok = n > 0;
    for (size_t i = 0; i < n; i++)
        ok = ok && token_char((unsigned char)key[i]);
    if (!ok) {
        gw__cfg_error_at_key(ctx, "not a header field name");
        return false;
    }
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        if (strcasecmp(key, own[i]) == 0) {
            gw__cfg_error_at_key(ctx, "%s is set by gantry", key);
            return false;
        }
    }
    for (const char *p = value; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            gw__cfg_error(ctx, "a header value may not hold control characters");
            return false;
        }
    }
    return true;
}

/* A resource attribute: the three gantry sets have their own keys. */
static bool check_attribute(struct gw__cfg_ctx *ctx, const char *key, const char *value)
{
    (void)value;
    if (key[0] == '\0') {
        gw__cfg_error_at_key(ctx, "an attribute needs a name");
        return false;
    }
    if (strcmp(key, "service.name") == 0 || strcmp(key, "service.version") == 0 ||
        strcmp(key, "service.instance.id") == 0) {
        gw__cfg_error_at_key(ctx,
                             "%s is set by gantry (tracing.service_name, the version, "
                             "tracing.service_instance_id)",
                             key);
        return false;
    }
    return true;
}

static const struct kv_spec headers_spec = {CFG(tracing.nheaders), check_header};
static const struct kv_spec resource_spec = {CFG(tracing.nresource), check_attribute};

/* ---- tracing -----------------------------------------------------------------------------------
 */

/* The endpoint is fetched by net/fetch.c: judged by its rules. A URL without a path gets the
 * OTLP/HTTP one, as OTEL_EXPORTER_OTLP_ENDPOINT does. An empty string (an unset ${VAR:-}) means
 * no export. */
static bool check_endpoint(struct gw__cfg_ctx *ctx, char **s)
{
    if ((*s)[0] == '\0') {
        free(*s);
        *s = NULL;
        return true;
    }
    const char *why = gw_fetch_check_url(*s);
    if (why != NULL) {
        gw__cfg_url_error(ctx, *s, why);
        return false;
    }
    const char *after = strstr(*s, "://");
    const char *path = after ? strpbrk(after + 3, "/?") : NULL;
    if (path == NULL || strcmp(path, "/") == 0) {
        size_t n = strlen(*s) - (path ? 1 : 0);
        char *full = malloc(n + sizeof "/v1/traces");
        if (full == NULL) {
            ctx->oom = true;
            return false;
        }
        memcpy(full, *s, n);
        memcpy(full + n, "/v1/traces", sizeof "/v1/traces");
        free(*s);
        *s = full;
    }
    return true;
}
static const struct gw__cfg_str endpoint_check = {check_endpoint};

static bool check_nonempty(struct gw__cfg_ctx *ctx, char **s)
{
    if ((*s)[0] == '\0') {
        gw__cfg_error(ctx, "must not be empty");
        return false;
    }
    return true;
}
static const struct gw__cfg_str nonempty_check = {check_nonempty};

/* An empty instance id (an unset ${VAR:-}) means the one gantry makes at start. */
static bool check_instance(struct gw__cfg_ctx *ctx, char **s)
{
    (void)ctx;
    if ((*s)[0] == '\0') {
        free(*s);
        *s = NULL;
    }
    return true;
}
static const struct gw__cfg_str instance_check = {check_instance};

static const struct gw__cfg_range batch_range = {1, 65536};
static const struct gw__cfg_range queue_range = {2, 1u << 20};

static const struct gw__cfg_field tracing_fields[] = {
    {.name = "endpoint",
     .type = &gw__cfg_string_type,
     .offset = CFG(tracing.endpoint),
     .arg = &endpoint_check},
    {.name = "sample_ratio",
     .type = &gw__cfg_share_type,
     .offset = CFG(tracing.sample_ratio),
     .def = "1"},
    {.name = "parent_based",
     .type = &gw__cfg_bool_type,
     .offset = CFG(tracing.parent_based),
     .def = "true"},
    {.name = "always_sample_errors",
     .type = &gw__cfg_bool_type,
     .offset = CFG(tracing.always_sample_errors),
     .def = "true"},
    {.name = "service_name",
     .type = &gw__cfg_string_type,
     .offset = CFG(tracing.service_name),
     .arg = &nonempty_check,
     .def = "gantry"},
    {.name = "service_instance_id",
     .type = &gw__cfg_string_type,
     .offset = CFG(tracing.service_instance_id),
     .arg = &instance_check},
    {.name = "resource_attributes",
     .type = &kv_type,
     .offset = CFG(tracing.resource),
     .arg = &resource_spec},
    {.name = "headers", .type = &kv_type, .offset = CFG(tracing.headers), .arg = &headers_spec},
    {.name = "batch_size",
     .type = &gw__cfg_uint32_type,
     .offset = CFG(tracing.batch_size),
     .arg = &batch_range,
     .def = "512"},
    {.name = "flush_interval",
     .type = &gw__cfg_duration_type,
     .offset = CFG(tracing.flush_interval_ms),
     .def = "5s"},
    {.name = "queue_size",
     .type = &gw__cfg_uint32_type,
     .offset = CFG(tracing.queue_size),
     .arg = &queue_range,
     .def = "8192"},
    {.name = "timeout",
     .type = &gw__cfg_duration_type,
     .offset = CFG(tracing.timeout_ms),
     .def = "10s"},
};
const struct gw__cfg_object gw__cfg_tracing_obj = {
    .what = "tracing",
    ROWS(tracing_fields),
    .toggle = true,
    .enabled_offset = CFG(tracing.enabled),
};

/* ---- services[].tracing ------------------------------------------------------------------------
 */

/* A service samples as the gateway does unless it says otherwise ("tracing" is parsed before
 * "services"). */
static void service_tracing_init(struct gw__cfg_ctx *ctx, void *obj)
{
    struct gw_service_conf *svc = obj;
    svc->trace_sample_ratio = ctx->root->tracing.sample_ratio;
}

static const struct gw__cfg_field service_tracing_fields[] = {
    {.name = "sample_ratio",
     .type = &gw__cfg_share_type,
     .offset = offsetof(struct gw_service_conf, trace_sample_ratio)},
};
const struct gw__cfg_object gw__cfg_service_tracing_obj = {
    .what = "tracing",
    ROWS(service_tracing_fields),
    .init = service_tracing_init,
};

/* ---- log.access_fields -------------------------------------------------------------------------
 */

/* Indexed by enum gw_log_field. */
static const char *const log_field_names[GW_LOG_F__COUNT] = {
    [GW_LOG_F_TIME] = "time",
    [GW_LOG_F_REQUEST_ID] = "request_id",
    [GW_LOG_F_CLIENT] = "client",
    [GW_LOG_F_REQUEST] = "request",
    [GW_LOG_F_METHOD] = "method",
    [GW_LOG_F_PATH] = "path",
    [GW_LOG_F_STATUS] = "status",
    [GW_LOG_F_BYTES_IN] = "bytes_in",
    [GW_LOG_F_BYTES_OUT] = "bytes_out",
    [GW_LOG_F_DURATION_MS] = "duration_ms",
    [GW_LOG_F_UPSTREAM_MS] = "upstream_ms",
    [GW_LOG_F_SERVICE] = "service",
    [GW_LOG_F_TARGET] = "target",
    [GW_LOG_F_TRACE_ID] = "trace_id",
    [GW_LOG_F_SPAN_ID] = "span_id",
    [GW_LOG_F_UPSTREAM_STATUS] = "upstream_status",
    [GW_LOG_F_RETRIES] = "retries",
    [GW_LOG_F_CACHE] = "cache",
    [GW_LOG_F_CONSUMER] = "consumer",
    [GW_LOG_F_RATE_LIMIT] = "rate_limit",
};

const char *gw_config_log_field_name(unsigned field)
{
    return field < GW_LOG_F__COUNT ? log_field_names[field] : NULL;
}

/* One name into out[*k]; false after reporting an unknown name. */
static bool add_field(struct gw__cfg_ctx *ctx, const char *s, size_t len, uint8_t *out, size_t *k)
{
    char q[96];
    size_t id = 0;
    while (id < GW_LOG_F__COUNT &&
           !(strlen(log_field_names[id]) == len && memcmp(s, log_field_names[id], len) == 0))
        id++;
    if (id < GW_LOG_F__COUNT) {
        if (*k == GW_LOG_MAX_FIELDS) {
            gw__cfg_error(ctx, "at most %d fields", GW_LOG_MAX_FIELDS);
            return false;
        }
        out[(*k)++] = (uint8_t)id;
        return true;
    }
    const char *best = gw__cfg_suggest(s, len, log_field_names, GW_LOG_F__COUNT);
    gw__cfg_quote(s, len, q, sizeof q);
    if (best)
        gw__cfg_error(ctx, "unknown access-log field %s (did you mean \"%s\"?)", q, best);
    else
        gw__cfg_error(ctx, "unknown access-log field %s (the fields are listed in docs/config.md)",
                      q);
    return false;
}

/* l->access_fields_json from l->access_fields: "request" as "method" and "path", each key once
 * (a JSON object with a key twice is what RFC 8259 4 calls unpredictable). */
static void json_fields(struct gw_log_conf *l)
{
    bool seen[GW_LOG_F__COUNT] = {false};
    size_t k = 0;
    for (size_t i = 0; i < l->naccess_fields; i++) {
        uint8_t f = l->access_fields[i];
        uint8_t parts[2] = {f, f};
        size_t nparts = 1;
        if (f == GW_LOG_F_REQUEST) {
            parts[0] = GW_LOG_F_METHOD;
            parts[1] = GW_LOG_F_PATH;
            nparts = 2;
        }
        for (size_t j = 0; j < nparts; j++) {
            if (seen[parts[j]])
                continue;
            seen[parts[j]] = true;
            l->access_fields_json[k++] = parts[j];
        }
    }
    l->naccess_fields_json = (uint8_t)k;
}

/* An array of field names, or one string of names separated by spaces. */
static void parse_fields(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                         const struct gw__cfg_field *f)
{
    (void)f;
    struct gw_config *cfg = base;
    bool is_array = json_is_array(v);
    if (!is_array && !json_is_string(v)) {
        gw__cfg_error(ctx, "expected an array of field names, got %s", gw__cfg_json_kind(v));
        return;
    }
    size_t n = is_array ? json_array_size(v) : 1;
    uint8_t out[GW_LOG_MAX_FIELDS];
    size_t k = 0;
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        char *s = NULL;
        if (is_array)
            gw__cfg_push_index(ctx, i);
        if (gw__cfg_get_string(ctx, is_array ? json_array_get(v, i) : v, &s)) {
            for (const char *p = s; *p;) {
                while (*p == ' ')
                    p++;
                const char *e = p;
                while (*e && *e != ' ')
                    e++;
                if (e > p && !add_field(ctx, p, (size_t)(e - p), out, &k))
                    ok = false;
                p = e;
            }
        } else {
            ok = false;
        }
        free(s);
        if (is_array)
            gw__cfg_pop(ctx);
    }
    if (ok && k == 0) {
        gw__cfg_error(ctx, "expected at least one field name");
        ok = false;
    }
    if (!ok)
        return;
    memcpy(cfg->log.access_fields, out, k);
    cfg->log.naccess_fields = (uint8_t)k;
    json_fields(&cfg->log);
}

const struct gw__cfg_type gw__cfg_log_fields_type = {"string or array of strings", parse_fields,
                                                     NULL};
