/*
 * The config schema: one table per JSON object (see the comment at the top of config.c), and
 * the few rules that span several fields: inherited service defaults, the worker count,
 * environment overrides, unique service names and routes.
 *
 * docs/config.md documents every row; tests/unit/control/test_config.c checks that the keys,
 * types and defaults there match these tables.
 */
#include "config/internal.h"
#include "http1/names.h"
#include "policy/version.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])
#define KIB 1024ull
#define MIB (1024ull * 1024)

/* ---- global sections ----------------------------------------------------------------------- */

static const struct gw__cfg_field timeouts_fields[] = {
    {.name = "client_header",
     .type = &gw__cfg_duration_type,
     .offset = offsetof(struct gw_config, timeouts.client_header_ms),
     .def = "10s"},
    {.name = "client_idle",
     .type = &gw__cfg_duration_type,
     .offset = offsetof(struct gw_config, timeouts.client_idle_ms),
     .def = "60s"},
    {.name = "client_body",
     .type = &gw__cfg_duration_type,
     .offset = offsetof(struct gw_config, timeouts.client_body_ms),
     .def = "30s"},
    {.name = "upstream_connect",
     .type = &gw__cfg_duration_type,
     .offset = offsetof(struct gw_config, timeouts.upstream_connect_ms),
     .def = "5s"},
    {.name = "upstream_response",
     .type = &gw__cfg_duration_type,
     .offset = offsetof(struct gw_config, timeouts.upstream_response_ms),
     .def = "30s"},
};
static const struct gw__cfg_object timeouts_obj = {.what = "timeouts", ROWS(timeouts_fields)};

static const struct gw__cfg_range request_line_range = {256, 1 * MIB};
static const struct gw__cfg_range header_bytes_range = {1 * KIB, 1 * MIB};
static const struct gw__cfg_range max_headers_range = {1, 1000};

static const struct gw__cfg_field limits_fields[] = {
    {.name = "max_request_line",
     .type = &gw__cfg_size32_type,
     .offset = offsetof(struct gw_config, http.max_request_line),
     .arg = &request_line_range,
     .def = "8192"},
    {.name = "max_header_bytes",
     .type = &gw__cfg_size32_type,
     .offset = offsetof(struct gw_config, http.max_header_bytes),
     .arg = &header_bytes_range,
     .def = "32768"},
    {.name = "max_headers",
     .type = &gw__cfg_uint32_type,
     .offset = offsetof(struct gw_config, http.max_headers),
     .arg = &max_headers_range,
     .def = "100"},
    {.name = "max_body_bytes",
     .type = &gw__cfg_size64_type,
     .offset = offsetof(struct gw_config, max_body_bytes),
     .def = "10MiB"},
};
static const struct gw__cfg_object limits_obj = {.what = "limits", ROWS(limits_fields)};

static const struct gw__cfg_range max_idle_range = {0, 10000};

static const struct gw__cfg_field keepalive_fields[] = {
    {.name = "max_idle",
     .type = &gw__cfg_uint32_type,
     .offset = offsetof(struct gw_config, upstream.max_idle_per_target),
     .arg = &max_idle_range,
     .def = "64"},
    {.name = "idle_timeout",
     .type = &gw__cfg_duration_type,
     .offset = offsetof(struct gw_config, upstream.idle_timeout_ms),
     .def = "60s"},
};
static const struct gw__cfg_object keepalive_obj = {.what = "keepalive", ROWS(keepalive_fields)};

static const struct gw__cfg_field upstream_fields[] = {
    {.name = "keepalive", .type = &gw__cfg_object_type, .arg = &keepalive_obj},
};
static const struct gw__cfg_object upstream_obj = {.what = "upstream", ROWS(upstream_fields)};

static const struct gw__cfg_enum log_levels[] = {
    {"debug", GW_LOG_DEBUG},
    {"info", GW_LOG_INFO},
    {"warn", GW_LOG_WARN},
    {"error", GW_LOG_ERROR},
    {NULL, 0},
};
static const struct gw__cfg_enum log_formats[] = {
    {"text", GW_LOG_TEXT},
    {"json", GW_LOG_JSON},
    {NULL, 0},
};
static const struct gw__cfg_str access_log_check = {gw__cfg_check_access_log};
static const struct gw__cfg_str error_log_check = {gw__cfg_check_error_log};

static const struct gw__cfg_field log_fields[] = {
    {.name = "level",
     .type = &gw__cfg_enum_type,
     .offset = offsetof(struct gw_config, log.level),
     .arg = log_levels,
     .def = "info"},
    {.name = "access_format",
     .type = &gw__cfg_enum_type,
     .offset = offsetof(struct gw_config, log.access_format),
     .arg = log_formats,
     .def = "text"},
    {.name = "access",
     .type = &gw__cfg_string_type,
     .offset = offsetof(struct gw_config, log.access_log),
     .arg = &access_log_check,
     .def = "stdout"},
    {.name = "error",
     .type = &gw__cfg_string_type,
     .offset = offsetof(struct gw_config, log.error_log),
     .arg = &error_log_check,
     .def = "stderr"},
    {.name = "access_fields",
     .type = &gw__cfg_log_fields_type,
     .def = "time request_id client request status bytes_in bytes_out duration_ms upstream_ms "
            "service target trace_id"},
};
static const struct gw__cfg_object log_obj = {.what = "log", ROWS(log_fields)};

/* ---- admin --------------------------------------------------------------------------------- */

/* An IP literal in 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104. */
static bool is_loopback(const char *host)
{
    unsigned char a[16];
    if (inet_pton(AF_INET, host, a) == 1)
        return a[0] == 127;
    if (inet_pton(AF_INET6, host, a) != 1)
        return false;
    static const unsigned char v6_loopback[16] = {[15] = 1};
    static const unsigned char v4_mapped[12] = {[10] = 0xff, [11] = 0xff};
    return memcmp(a, v6_loopback, 16) == 0 || (memcmp(a, v4_mapped, 12) == 0 && a[12] == 127);
}

/* "admin.listen": an address as for "listen", or "off" (also after ${ENV} substitution, so
 * "${ADMIN_LISTEN:-127.0.0.1:9000}" can turn it off). */
static void parse_admin_listen(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                               const struct gw__cfg_field *f)
{
    struct gw_config *cfg = base;
    if (json_is_string(v)) {
        char *s = NULL;
        if (!gw__cfg_get_string(ctx, v, &s))
            return;
        bool off = strcmp(s, "off") == 0;
        free(s);
        if (off) {
            free(cfg->admin.listen_host);
            cfg->admin.listen_host = NULL;
            cfg->admin.listen_port = 0;
            cfg->admin.enabled = false;
            cfg->admin.loopback = false;
            return;
        }
    }
    /* The proxy listener's parser fills listen_host/listen_port of the struct it is given. */
    struct gw_config tmp;
    memset(&tmp, 0, sizeof tmp);
    gw__cfg_listen_type.parse(ctx, v, &tmp, f);
    if (tmp.listen_host == NULL)
        return;
    free(cfg->admin.listen_host);
    cfg->admin.listen_host = tmp.listen_host;
    cfg->admin.listen_port = tmp.listen_port;
    cfg->admin.enabled = true;
    cfg->admin.loopback = is_loopback(tmp.listen_host);
}

static void release_admin_listen(void *base, const struct gw__cfg_field *f)
{
    (void)f;
    struct gw_config *cfg = base;
    free(cfg->admin.listen_host);
    cfg->admin.listen_host = NULL;
}

static const struct gw__cfg_type admin_listen_type = {"address", parse_admin_listen,
                                                      release_admin_listen};

/* An empty key (e.g. "${ADMIN_API_KEY:-}" with the variable unset) means no key. */
static bool check_api_key(struct gw__cfg_ctx *ctx, char **s)
{
    (void)ctx;
    if ((*s)[0] == '\0') {
        free(*s);
        *s = NULL;
    }
    return true;
}
static const struct gw__cfg_str api_key_check = {check_api_key};

/* Anyone who can reach the admin API can reconfigure the gateway: off loopback, a key is
 * mandatory. */
static void admin_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    (void)json;
    struct gw_config *cfg = obj;
    if (!cfg->admin.enabled || cfg->admin.loopback || cfg->admin.api_key != NULL)
        return;
    gw__cfg_push_key(ctx, "listen");
    gw__cfg_error(ctx,
                  "the admin API listens on %s, which is not a loopback address: set "
                  "admin.api_key (e.g. \"${ADMIN_API_KEY}\") or listen on 127.0.0.1",
                  cfg->admin.listen_host);
    gw__cfg_pop(ctx);
}

static const struct gw__cfg_field admin_fields[] = {
    {.name = "listen", .type = &admin_listen_type, .def = "127.0.0.1:9000"},
    {.name = "api_key",
     .type = &gw__cfg_string_type,
     .offset = offsetof(struct gw_config, admin.api_key),
     .arg = &api_key_check},
    {.name = "dashboard",
     .type = &gw__cfg_bool_type,
     .offset = offsetof(struct gw_config, admin.dashboard),
     .def = "true"},
};
static const struct gw__cfg_object admin_obj = {
    .what = "admin", ROWS(admin_fields), .check = admin_check};

/* ---- probes -------------------------------------------------------------------------------- */

#define PROBE(name) offsetof(struct gw_config, probes.name)

/* A probe path is compared byte for byte with the path a client sends, so it must be one that
 * is sent as written: the rules of a service prefix, and no trailing "/". */
static bool check_probe_path(struct gw__cfg_ctx *ctx, char **s)
{
    size_t n = strlen(*s);
    char q[96];
    if ((*s)[0] != '/' || (n > 1 && (*s)[n - 1] == '/')) {
        gw__cfg_error(ctx, "%s: a probe path must start with \"/\" and not end with one",
                      gw__cfg_quote(*s, n, q, sizeof q));
        return false;
    }
    return gw__cfg_check_prefix(ctx, s);
}

/* "probes.*": a path, or "off" (also from ${ENV}) or false for no such probe. */
static void parse_probe(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                        const struct gw__cfg_field *f)
{
    struct gw_probe_path *dst = (struct gw_probe_path *)((char *)base + f->offset);
    char *s = NULL;
    free(dst->path);
    dst->path = NULL;
    dst->len = 0;
    if (json_is_false(v))
        return;
    if (!json_is_string(v)) {
        gw__cfg_error(ctx, "expected a path (\"/health\"), or \"off\" or false, got %s",
                      gw__cfg_json_kind(v));
        return;
    }
    if (!gw__cfg_get_string(ctx, v, &s))
        return;
    if (strcmp(s, "off") == 0 || !check_probe_path(ctx, &s)) {
        free(s);
        return;
    }
    dst->path = s;
    dst->len = strlen(s);
}

static void release_probe(void *base, const struct gw__cfg_field *f)
{
    struct gw_probe_path *dst = (struct gw_probe_path *)((char *)base + f->offset);
    free(dst->path);
    dst->path = NULL;
    dst->len = 0;
}

static const struct gw__cfg_type probe_type = {"path or off", parse_probe, release_probe};

static const struct gw__cfg_field probes_fields[] = {
    {.name = "health", .type = &probe_type, .offset = PROBE(health), .def = "/health"},
    {.name = "ready", .type = &probe_type, .offset = PROBE(ready), .def = "/ready"},
    {.name = "startup", .type = &probe_type, .offset = PROBE(startup), .def = "/health/startup"},
};

/* Two probes on one path: only the first would ever answer. */
static void probes_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    (void)json;
    struct gw_config *cfg = obj;
    const struct gw_probe_path *p[] = {&cfg->probes.health, &cfg->probes.ready,
                                       &cfg->probes.startup};
    for (size_t i = 1; i < sizeof p / sizeof p[0]; i++) {
        for (size_t j = 0; j < i; j++) {
            if (p[i]->len == 0 || p[j]->len == 0 || strcmp(p[i]->path, p[j]->path) != 0)
                continue;
            char q[96];
            gw__cfg_push_key(ctx, probes_fields[i].name);
            gw__cfg_error(ctx, "%s is also probes.%s",
                          gw__cfg_quote(p[i]->path, p[i]->len, q, sizeof q), probes_fields[j].name);
            gw__cfg_pop(ctx);
            break;
        }
    }
}

static const struct gw__cfg_object probes_obj = {
    .what = "probes", ROWS(probes_fields), .check = probes_check};

/* ---- services ------------------------------------------------------------------------------ */

static const struct gw__cfg_range weight_range = {1, 1000};

static const struct gw__cfg_field target_fields[] = {
    {.name = "url", .type = &gw__cfg_url_type, .required = true},
    {.name = "weight",
     .type = &gw__cfg_uint32_type,
     .offset = offsetof(struct gw_target_conf, weight),
     .arg = &weight_range,
     .def = "1"},
};
static const struct gw__cfg_object target_obj = {
    .what = "target", ROWS(target_fields), .size = sizeof(struct gw_target_conf)};

static const struct gw__cfg_field service_timeouts_fields[] = {
    {.name = "upstream_connect",
     .type = &gw__cfg_duration_type,
     .offset = offsetof(struct gw_service_conf, connect_timeout_ms)},
    {.name = "upstream_response",
     .type = &gw__cfg_duration_type,
     .offset = offsetof(struct gw_service_conf, response_timeout_ms)},
};
static const struct gw__cfg_object service_timeouts_obj = {.what = "timeouts",
                                                           ROWS(service_timeouts_fields)};

static const struct gw__cfg_field service_limits_fields[] = {
    {.name = "max_body_bytes",
     .type = &gw__cfg_size64_type,
     .offset = offsetof(struct gw_service_conf, max_body_bytes)},
};
static const struct gw__cfg_object service_limits_obj = {.what = "limits",
                                                         ROWS(service_limits_fields)};

static const struct gw__cfg_str name_check = {gw__cfg_check_name};
static const struct gw__cfg_strlist prefix_list = {
    .count_offset = offsetof(struct gw_service_conf, nprefixes),
    .min = 1,
    .check = gw__cfg_check_prefix,
    .unique = true,
};
static const struct gw__cfg_strlist host_list = {
    .count_offset = offsetof(struct gw_service_conf, nhosts),
    .check = gw__cfg_check_host_pattern,
    .unique = true,
};
static const struct gw__cfg_list target_list = {
    .elem = &target_obj,
    .count_offset = offsetof(struct gw_service_conf, ntargets),
    .min = 1,
    .shorthand = "url",
};

/* A service's limits and upstream timeouts default to the global ones (parsed above it). */
static void service_init(struct gw__cfg_ctx *ctx, void *obj)
{
    struct gw_service_conf *svc = obj;
    svc->max_body_bytes = ctx->root->max_body_bytes;
    svc->connect_timeout_ms = ctx->root->timeouts.upstream_connect_ms;
    svc->response_timeout_ms = ctx->root->timeouts.upstream_response_ms;
    /* An absent "compression" is the gateway's (its section sets it when written). */
    svc->compression.enabled = ctx->root->compression.enabled;
}

static const struct gw__cfg_field service_fields[] = {
    {.name = "name",
     .type = &gw__cfg_string_type,
     .offset = offsetof(struct gw_service_conf, name),
     .arg = &name_check,
     .required = true},
    {.name = "prefix",
     .type = &gw__cfg_strlist_type,
     .offset = offsetof(struct gw_service_conf, prefixes),
     .arg = &prefix_list,
     .required = true},
    {.name = "hosts",
     .type = &gw__cfg_strlist_type,
     .offset = offsetof(struct gw_service_conf, hosts),
     .arg = &host_list},
    {.name = "methods",
     .type = &gw__cfg_methods_type,
     .offset = offsetof(struct gw_service_conf, methods)},
    {.name = "strip_prefix",
     .type = &gw__cfg_bool_type,
     .offset = offsetof(struct gw_service_conf, strip_prefix),
     .def = "false"},
    {.name = "host_header", .type = &gw__cfg_host_header_type, .def = "client"},
    {.name = "timeouts", .type = &gw__cfg_object_type, .arg = &service_timeouts_obj},
    {.name = "limits", .type = &gw__cfg_object_type, .arg = &service_limits_obj},
    {.name = "targets",
     .type = &gw__cfg_list_type,
     .offset = offsetof(struct gw_service_conf, targets),
     .arg = &target_list,
     .required = true},
    {.name = "discovery",
     .type = &gw__cfg_enum_type,
     .offset = offsetof(struct gw_service_conf, discovery),
     .arg = gw__cfg_discovery_kinds,
     .def = "none"},
    {.name = "load_balancer", .type = &gw__cfg_object_type, .arg = &gw__cfg_load_balancer_obj},
    {.name = "health_check",
     .type = &gw__cfg_object_type,
     .arg = &gw__cfg_health_check_obj,
     .def = "false"},
    {.name = "outlier_detection",
     .type = &gw__cfg_object_type,
     .arg = &gw__cfg_outlier_obj,
     .def = "true"},
    {.name = "circuit_breaker",
     .type = &gw__cfg_object_type,
     .arg = &gw__cfg_breaker_obj,
     .def = "false"},
    {.name = "retries", .type = &gw__cfg_object_type, .arg = &gw__cfg_retries_obj, .def = "true"},
    {.name = "rate_limit", .type = &gw__cfg_object_type, .arg = &gw__cfg_service_rate_limit_obj},
    {.name = "auth",
     .type = &gw__cfg_object_type,
     .arg = &gw__cfg_service_auth_obj,
     .def = "false"},
    {.name = "transform",
     .type = &gw__cfg_object_type,
     .offset = offsetof(struct gw_service_conf, transform),
     .arg = &gw__cfg_service_transform_obj,
     .def = "true"},
    {.name = "validation",
     .type = &gw__cfg_object_type,
     .offset = offsetof(struct gw_service_conf, validation),
     .arg = &gw__cfg_service_validation_obj,
     .def = "true"},
    {.name = "compression",
     .type = &gw__cfg_object_type,
     .offset = offsetof(struct gw_service_conf, compression),
     .arg = &gw__cfg_service_compression_obj},
    {.name = "cache",
     .type = &gw__cfg_object_type,
     .offset = offsetof(struct gw_service_conf, cache),
     .arg = &gw__cfg_service_cache_obj,
     .def = "false"},
    {.name = "metrics", .type = &gw__cfg_object_type, .arg = &gw__cfg_service_metrics_obj},
    {.name = "slo", .type = &gw__cfg_object_type, .arg = &gw__cfg_slo_obj},
    /* absent: the gateway's section applies (config_cors.c) */
    {.name = "cors", .type = &gw__cfg_object_type, .arg = &gw__cfg_service_cors_obj},
    {.name = "csrf", .type = &gw__cfg_object_type, .arg = &gw__cfg_service_csrf_obj},
    {.name = "ip_rules",
     .type = &gw__cfg_object_type,
     .offset = offsetof(struct gw_service_conf, ip_rules),
     .arg = &gw__cfg_service_ip_rules_obj,
     .def = "true"},
    {.name = "security_headers",
     .type = &gw__cfg_object_type,
     .offset = offsetof(struct gw_service_conf, security_headers),
     .arg = &gw__cfg_service_security_headers_obj,
     .def = "true"},
    {.name = "tracing", .type = &gw__cfg_object_type, .arg = &gw__cfg_service_tracing_obj},
    {.name = "websocket",
     .type = &gw__cfg_object_type,
     .arg = &gw__cfg_service_websocket_obj,
     .def = "true"},
    {.name = "upstream_tls",
     .type = &gw__cfg_object_type,
     .arg = &gw__cfg_service_upstream_tls_obj},
    {.name = "upstream_protocol",
     .type = &gw__cfg_enum_type,
     .offset = offsetof(struct gw_service_conf, upstream_protocol),
     .arg = gw__cfg_upstream_protocols,
     .def = "http1"},
    {.name = "client_cert",
     .type = &gw__cfg_object_type,
     .arg = &gw__cfg_service_client_cert_obj,
     .def = "false"},
    {.name = "version",
     .type = &gw__cfg_string_type,
     .offset = offsetof(struct gw_service_conf, version),
     .arg = &(const struct gw__cfg_str){gw__cfg_check_version}},
    {.name = "deprecated_at",
     .type = &gw__cfg_string_type,
     .offset = offsetof(struct gw_service_conf, deprecated_at),
     .arg = &(const struct gw__cfg_str){gw__cfg_check_time}},
    {.name = "sunset_at",
     .type = &gw__cfg_string_type,
     .offset = offsetof(struct gw_service_conf, sunset_at),
     .arg = &(const struct gw__cfg_str){gw__cfg_check_time}},
    {.name = "successor",
     .type = &gw__cfg_string_type,
     .offset = offsetof(struct gw_service_conf, successor),
     .arg = &(const struct gw__cfg_str){gw__cfg_check_link_uri}},
    {.name = "versions",
     .type = &gw__cfg_list_type,
     .offset = offsetof(struct gw_service_conf, version_rules),
     .arg = &(const struct gw__cfg_list){.elem = &gw__cfg_version_rule_obj,
                                         .count_offset =
                                             offsetof(struct gw_service_conf, nversion_rules)}},
    {.name = "openapi", .type = &gw__cfg_object_type, .arg = &gw__cfg_service_openapi_obj},
};
const struct gw__cfg_object gw__cfg_service_obj = {
    .what = "service",
    ROWS(service_fields),
    .size = sizeof(struct gw_service_conf),
    .init = service_init,
    .check = gw__cfg_service_check,
};

static const struct gw__cfg_list service_list = {
    .elem = &gw__cfg_service_obj,
    .count_offset = offsetof(struct gw_config, nservices),
};

/* ---- root ---------------------------------------------------------------------------------- */

static const struct gw__cfg_range workers_range = {0, 256};
static const struct gw__cfg_range max_connections_range = {1, 1000000};

static void root_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json);

/* Order matters: services come after the sections whose values they inherit. */
static const struct gw__cfg_field root_fields[] = {
    {.name = "listen", .type = &gw__cfg_listen_type, .def = "0.0.0.0:8000"},
    {.name = "workers",
     .type = &gw__cfg_uint32_type,
     .offset = offsetof(struct gw_config, workers),
     .arg = &workers_range,
     .def = "0"},
    {.name = "max_connections",
     .type = &gw__cfg_uint32_type,
     .offset = offsetof(struct gw_config, max_connections),
     .arg = &max_connections_range,
     .def = "10000"},
    {.name = "drain_timeout",
     .type = &gw__cfg_duration_type,
     .offset = offsetof(struct gw_config, drain_timeout_ms),
     .def = "30s"},
    {.name = "timeouts", .type = &gw__cfg_object_type, .arg = &timeouts_obj},
    {.name = "limits", .type = &gw__cfg_object_type, .arg = &limits_obj},
    {.name = "upstream", .type = &gw__cfg_object_type, .arg = &upstream_obj},
    {.name = "log", .type = &gw__cfg_object_type, .arg = &log_obj},
    {.name = "admin", .type = &gw__cfg_object_type, .arg = &admin_obj},
    {.name = "probes", .type = &gw__cfg_object_type, .arg = &probes_obj},
    {.name = "metrics", .type = &gw__cfg_object_type, .arg = &gw__cfg_metrics_obj},
    {.name = "rate_limit", .type = &gw__cfg_object_type, .arg = &gw__cfg_rate_limit_obj},
    {.name = "auth", .type = &gw__cfg_object_type, .arg = &gw__cfg_auth_obj},
    {.name = "identity",
     .type = &gw__cfg_object_type,
     .arg = &gw__cfg_identity_obj,
     .def = "false"},
    {.name = "transform",
     .type = &gw__cfg_object_type,
     .offset = offsetof(struct gw_config, transform),
     .arg = &gw__cfg_transform_obj},
    {.name = "validation",
     .type = &gw__cfg_object_type,
     .offset = offsetof(struct gw_config, validation),
     .arg = &gw__cfg_validation_obj},
    {.name = "compression",
     .type = &gw__cfg_object_type,
     .offset = offsetof(struct gw_config, compression),
     .arg = &gw__cfg_compression_obj,
     .def = "false"},
    {.name = "cache",
     .type = &gw__cfg_object_type,
     .offset = offsetof(struct gw_config, cache),
     .arg = &gw__cfg_cache_obj},
    {.name = "cors", .type = &gw__cfg_object_type, .arg = &gw__cfg_cors_obj},
    {.name = "csrf", .type = &gw__cfg_object_type, .arg = &gw__cfg_csrf_obj},
    {.name = "audit", .type = &gw__cfg_object_type, .arg = &gw__cfg_audit_obj},
    {.name = "ip_rules",
     .type = &gw__cfg_object_type,
     .offset = offsetof(struct gw_config, ip_rules),
     .arg = &gw__cfg_ip_rules_obj},
    {.name = "security_headers",
     .type = &gw__cfg_object_type,
     .offset = offsetof(struct gw_config, security_headers),
     .arg = &gw__cfg_security_headers_obj,
     .def = "true"},
    {.name = "tracing", .type = &gw__cfg_object_type, .arg = &gw__cfg_tracing_obj, .def = "false"},
    {.name = "tls",
     .type = &gw__cfg_object_type,
     .offset = offsetof(struct gw_config, tls),
     .arg = &gw__cfg_tls_obj,
     .def = "false"},
    /* after tls: its check tells the TLS listener whether to offer h2 */
    {.name = "http2", .type = &gw__cfg_object_type, .arg = &gw__cfg_http2_obj, .def = "true"},
    {.name = "versioning",
     .type = &gw__cfg_object_type,
     .offset = offsetof(struct gw_config, versioning),
     .arg = &gw__cfg_versioning_obj},
    {.name = "openapi",
     .type = &gw__cfg_object_type,
     .offset = offsetof(struct gw_config, openapi),
     .arg = &gw__cfg_openapi_obj,
     .def = "false"},
    {.name = "services",
     .type = &gw__cfg_list_type,
     .offset = offsetof(struct gw_config, services),
     .arg = &service_list},
    {.name = "discovery",
     .type = &gw__cfg_object_type,
     .offset = offsetof(struct gw_config, discovery),
     .arg = &gw__cfg_discovery_obj},
    /* after services: its defaults are checked as a service, which inherits the sections above */
    {.name = "registration",
     .type = &gw__cfg_object_type,
     .offset = offsetof(struct gw_config, registration),
     .arg = &gw__cfg_registration_obj,
     .def = "false"},
    /* after services: "hub.service" names one */
    {.name = "hub",
     .type = &gw__cfg_object_type,
     .offset = offsetof(struct gw_config, hub),
     .arg = &gw__cfg_hub_obj,
     .def = "false"},
};
const struct gw__cfg_object gw__cfg_root = {
    .what = "config",
    ROWS(root_fields),
    .size = sizeof(struct gw_config),
    .check = root_check,
};

/* ---- rules across fields ------------------------------------------------------------------- */

static void resolve_workers(struct gw_config *cfg)
{
    if (cfg->workers != 0)
        return;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    if (n > (long)workers_range.max)
        n = (long)workers_range.max;
    cfg->workers = (unsigned)n;
}

static void override_port(struct gw__cfg_ctx *ctx, struct gw_config *cfg, const char *var,
                          const char *value)
{
    unsigned long port = 0;
    bool ok = value[0] != '\0' && strlen(value) <= 5;
    for (const char *p = value; ok && *p; p++) {
        ok = *p >= '0' && *p <= '9';
        port = port * 10 + (unsigned long)(*p - '0');
    }
    if (!ok || port < 1 || port > 65535) {
        char q[96];
        gw__cfg_push_key(ctx, "listen");
        gw__cfg_error(ctx, "environment variable %s=%s is not a port number (1 to 65535)", var,
                      gw__cfg_quote(value, strlen(value), q, sizeof q));
        gw__cfg_pop(ctx);
        return;
    }
    cfg->listen_port = (uint16_t)port;
}

/* Environment variables that override a setting, whatever the file says. An empty value counts
 * as unset. */
static const struct {
    const char *var;
    void (*apply)(struct gw__cfg_ctx *ctx, struct gw_config *cfg, const char *var,
                  const char *value);
} env_overrides[] = {
    {"GATEWAY_PORT", override_port},
};

static void apply_env_overrides(struct gw__cfg_ctx *ctx, struct gw_config *cfg)
{
    for (size_t i = 0; i < sizeof env_overrides / sizeof env_overrides[0]; i++) {
        const char *value = getenv(env_overrides[i].var);
        if (value != NULL && value[0] != '\0')
            env_overrides[i].apply(ctx, cfg, env_overrides[i].var, value);
    }
}

/* One (host, prefix) pair of a service, for finding routes served twice. */
struct route_key {
    const char *host; /* "" = any host */
    const char *prefix;
    uint32_t methods;
    size_t service;
    size_t prefix_index;
    const char *version;   /* the service's API version; NULL for its path-version route */
    bool path_route;       /* "/v2/api", routed for the versioned service of prefix "/api" */
    bool versioned_prefix; /* another service has a version on this (host, prefix) */
    const struct gw_version_path *rule_path; /* a path route of a version rule, or NULL */
};

/* The methods a service is routed for: allowing GET allows HEAD too (RFC 9110 9.3.2; the
 * router compiles services the same way, see control/snapshot.c). */
static uint32_t route_methods(uint32_t methods)
{
    if (methods & (1u << GW_METHOD_GET))
        methods |= 1u << GW_METHOD_HEAD;
    return methods;
}

static int route_cmp(const void *a, const void *b)
{
    const struct route_key *x = a;
    const struct route_key *y = b;
    int c = strcmp(x->host, y->host);
    if (c == 0)
        c = strcmp(x->prefix, y->prefix);
    if (c == 0)
        c = x->service < y->service ? -1 : x->service > y->service;
    if (c == 0)
        c = x->prefix_index < y->prefix_index ? -1 : x->prefix_index > y->prefix_index;
    return c;
}

static size_t json_count(json_t *v)
{
    return json_is_array(v) ? json_array_size(v) : (json_is_string(v) ? 1 : 0);
}

static void describe_methods(uint32_t mask, char *buf, size_t cap)
{
    if (mask == 0)
        snprintf(buf, cap, "any method");
    else
        gw_http_method_list(mask, " ", buf, cap);
}

static uint32_t common_methods(uint32_t a, uint32_t b)
{
    return a == 0 ? b : (b == 0 ? a : a & b);
}

static void route_conflict(struct gw__cfg_ctx *ctx, json_t *services, const struct gw_config *cfg,
                           const struct route_key *r, const struct route_key *prev)
{
    if (prev->rule_path && !r->rule_path) { /* reported at the version rule */
        const struct route_key *t = r;
        r = prev;
        prev = t;
    }
    json_t *prefix = json_object_get(json_array_get(services, r->service), "prefix");
    /* Name the methods as written; when they do not overlap, the clash is on a HEAD that one
     * side only gets through GET, and the message says so. */
    uint32_t written_r = cfg->services[r->service].methods;
    uint32_t written_p = cfg->services[prev->service].methods;
    uint32_t both = common_methods(written_r, written_p);
    bool implied = (written_r != 0 || written_p != 0) && both == 0;
    if (implied)
        both = common_methods(r->methods, prev->methods);
    char methods[96];
    char q[96];
    char h[96];
    describe_methods(both, methods, sizeof methods);
    if (r->host[0] != '\0')
        gw__cfg_quote(r->host, strlen(r->host), h, sizeof h);
    gw__cfg_push_key(ctx, "services");
    gw__cfg_push_index(ctx, r->service);
    size_t depth = 3;
    if (r->rule_path) {
        /* services[i].versions[k].match.prefix[j], or services[i].versions[k] when the rule
         * has no prefix of its own */
        json_t *rule = json_array_get(
            json_object_get(json_array_get(services, r->service), "versions"), r->rule_path->rule);
        gw__cfg_push_key(ctx, "versions");
        gw__cfg_push_index(ctx, r->rule_path->rule);
        depth = 4;
        if (r->rule_path->prefix_index != SIZE_MAX) {
            json_t *rp = json_object_get(json_object_get(rule, "match"), "prefix");
            gw__cfg_push_key(ctx, "match");
            gw__cfg_push_key(ctx, "prefix");
            depth = 6;
            if (json_is_array(rp)) {
                gw__cfg_push_index(ctx, r->rule_path->prefix_index);
                depth = 7;
            }
        }
    } else {
        gw__cfg_push_key(ctx, "prefix");
        if (json_is_array(prefix)) {
            gw__cfg_push_index(ctx, r->prefix_index);
            depth = 4;
        }
    }
    /* The other service's name may be missing or invalid (already reported). */
    const char *other = cfg->services[prev->service].name;
    char by[128];
    if (other)
        snprintf(by, sizeof by, "service \"%s\" (services[%zu])", other, prev->service);
    else
        snprintf(by, sizeof by, "services[%zu]", prev->service);
    const char *vr = r->version;
    const char *vp = prev->version;
    if (r->rule_path || prev->rule_path)
        gw__cfg_error(ctx,
                      "%s (%s%s, %s) is already routed to %s: the path route of a version rule "
                      "(\"/%s<version><rule prefix>\", versioning.sources has \"path\") may not "
                      "be another service's prefix or path route",
                      gw__cfg_quote(r->prefix, strlen(r->prefix), q, sizeof q),
                      r->host[0] ? "host " : "any host", r->host[0] ? h : "", methods, by,
                      cfg->versioning.path_prefix ? cfg->versioning.path_prefix : "");
    else if (r->path_route || prev->path_route)
        gw__cfg_error(ctx,
                      "%s (%s%s) is already routed to %s: a versioned service's path route "
                      "(\"/%s<version><prefix>\", versioning.sources has \"path\") may not be "
                      "another service's prefix",
                      gw__cfg_quote(r->prefix, strlen(r->prefix), q, sizeof q),
                      r->host[0] ? "host " : "any host", r->host[0] ? h : "", by,
                      cfg->versioning.path_prefix ? cfg->versioning.path_prefix : "");
    else if (vr == NULL && vp == NULL && r->versioned_prefix)
        gw__cfg_error(ctx,
                      "%s (%s%s, %s) is already the default of that versioned prefix, routed to "
                      "%s: services that share a prefix need distinct versions, and at most one "
                      "of them (per method) may have none%s",
                      gw__cfg_quote(r->prefix, strlen(r->prefix), q, sizeof q),
                      r->host[0] ? "host " : "any host", r->host[0] ? h : "", methods, by,
                      implied ? " (a service that allows GET allows HEAD too)" : "");
    else
        gw__cfg_error(ctx, "%s (%s%s, %s%s%s) is already routed to %s%s",
                      gw__cfg_quote(r->prefix, strlen(r->prefix), q, sizeof q),
                      r->host[0] ? "host " : "any host", r->host[0] ? h : "", methods,
                      vr ? ", version " : "", vr ? vr : "", by,
                      implied ? " (a service that allows GET allows HEAD too)" : "");
    while (depth-- > 0)
        gw__cfg_pop(ctx);
}

/* Two services must not serve the same (host, prefix) for a common method: the router could not
 * choose. Services whose prefixes or hosts had errors are left out (their lists are partial). */
/* The path-version route of a versioned service's prefix ("/v2/api"), to free(); as
 * control/snapshot.c compiles it. */
static char *path_route(const struct gw_config *cfg, const struct gw_service_conf *s,
                        const char *prefix)
{
    const char *pp = cfg->versioning.path_prefix ? cfg->versioning.path_prefix : "";
    size_t n = 1 + strlen(pp) + strlen(s->version) + strlen(prefix) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "/%s%s%s", pp, s->version, strcmp(prefix, "/") == 0 ? "" : prefix);
    return p;
}

static void check_routes(struct gw__cfg_ctx *ctx, struct gw_config *cfg, json_t *services)
{
    size_t n = 0;
    /* the path routes of each service's version rules; none without rules */
    bool rules = gw_version_has_paths(cfg);
    struct gw_version_path **rp = rules ? calloc(cfg->nservices + 1, sizeof *rp) : NULL;
    size_t *nrp = rules ? calloc(cfg->nservices + 1, sizeof *nrp) : NULL;
    if (rules && (rp == NULL || nrp == NULL)) {
        free(rp);
        free(nrp);
        ctx->oom = true;
        return;
    }
    for (size_t i = 0; i < cfg->nservices; i++) {
        const struct gw_service_conf *s = &cfg->services[i];
        size_t per = s->version && cfg->versioning.path ? 2 : 1;
        if (rules && gw_version_paths(cfg, s, &rp[i], &nrp[i]) < 0)
            ctx->oom = true;
        n += (per * s->nprefixes + (rules ? nrp[i] : 0)) * (s->nhosts ? s->nhosts : 1);
    }
    struct route_key *keys = n < 2 ? NULL : calloc(n, sizeof *keys);
    char **owned = n < 2 ? NULL : calloc(n, sizeof *owned);
    size_t nowned = 0;
    if (keys == NULL || owned == NULL) {
        ctx->oom |= n >= 2;
        goto done;
    }
    size_t k = 0;
    for (size_t i = 0; i < cfg->nservices; i++) {
        const struct gw_service_conf *s = &cfg->services[i];
        json_t *js = json_array_get(services, i);
        if (s->nprefixes != json_count(json_object_get(js, "prefix")) ||
            s->nhosts != json_count(json_object_get(js, "hosts")))
            continue;
        for (size_t p = 0; p < s->nprefixes; p++) {
            char *vpath = NULL;
            if (s->version && cfg->versioning.path) {
                vpath = owned[nowned++] = path_route(cfg, s, s->prefixes[p]);
                if (vpath == NULL)
                    ctx->oom = true;
            }
            for (size_t h = 0; h < (s->nhosts ? s->nhosts : 1); h++) {
                keys[k].host = s->nhosts ? s->hosts[h] : "";
                keys[k].prefix = s->prefixes[p];
                keys[k].methods = route_methods(s->methods);
                keys[k].service = i;
                keys[k].prefix_index = p;
                keys[k].version = s->version;
                k++;
                if (vpath) {
                    keys[k] = keys[k - 1];
                    keys[k].prefix = vpath;
                    keys[k].version = NULL;
                    keys[k].path_route = true;
                    k++;
                }
            }
        }
        for (size_t p = 0; rules && p < nrp[i]; p++) {
            for (size_t h = 0; h < (s->nhosts ? s->nhosts : 1); h++) {
                keys[k] = (struct route_key){
                    .host = s->nhosts ? s->hosts[h] : "",
                    .prefix = rp[i][p].path,
                    .methods = rp[i][p].methods,
                    .service = i,
                    .prefix_index = s->nprefixes + p,
                    .path_route = true,
                    .rule_path = &rp[i][p],
                };
                k++;
            }
        }
    }
    qsort(keys, k, sizeof *keys, route_cmp);
    for (size_t g = 0; g < k;) {
        size_t end = g + 1;
        while (end < k && strcmp(keys[end].host, keys[g].host) == 0 &&
               strcmp(keys[end].prefix, keys[g].prefix) == 0)
            end++;
        /* Within a group, compare each key with the earlier keys that did not conflict: their
         * method sets are disjoint, so there are at most 8 of them. */
        size_t accepted[65];
        size_t na = 0;
        bool versioned = false;
        for (size_t i = g; i < end; i++)
            versioned |= keys[i].version != NULL;
        for (size_t i = g; i < end; i++) {
            keys[i].versioned_prefix = versioned;
            const struct route_key *clash = NULL;
            for (size_t a = 0; a < na && clash == NULL; a++) {
                const struct route_key *prev = &keys[accepted[a]];
                const char *va = prev->version;
                const char *vb = keys[i].version;
                bool vmix = (va == NULL) != (vb == NULL);
                bool same = !vmix && (va == NULL || strcmp(va, vb) == 0);
                /* An unversioned service beside versioned ones is the prefix's default (its
                 * routes are the version NULL): no clash, unless a path route is one of the
                 * two (an ordinary prefix, which may not be versioned). Two path routes clash
                 * only when their services' own routes do: reported there. */
                bool path = prev->path_route || keys[i].path_route;
                bool both_service_paths = prev->path_route && keys[i].path_route &&
                                          !prev->rule_path && !keys[i].rule_path;
                if (prev->service != keys[i].service && !both_service_paths &&
                    ((vmix && path) || (same && (prev->methods == 0 || keys[i].methods == 0 ||
                                                 (prev->methods & keys[i].methods)))))
                    clash = prev;
            }
            if (clash)
                route_conflict(ctx, services, cfg, &keys[i], clash);
            else if (na < sizeof accepted / sizeof accepted[0])
                accepted[na++] = i;
        }
        g = end;
    }
done:
    for (size_t i = 0; i < nowned; i++)
        free(owned[i]);
    for (size_t i = 0; i < cfg->nservices; i++)
        if (rules)
            gw_version_paths_free(rp[i], nrp[i]);
    free(rp);
    free(nrp);
    free(owned);
    free(keys);
}

struct name_key {
    const char *name;
    size_t service;
};

static int name_cmp(const void *a, const void *b)
{
    const struct name_key *x = a;
    const struct name_key *y = b;
    int c = strcmp(x->name, y->name);
    if (c == 0)
        c = x->service < y->service ? -1 : x->service > y->service;
    return c;
}

static void check_names(struct gw__cfg_ctx *ctx, struct gw_config *cfg)
{
    if (cfg->nservices < 2)
        return;
    struct name_key *keys = calloc(cfg->nservices, sizeof *keys);
    size_t k = 0;
    if (keys == NULL) {
        ctx->oom = true;
        return;
    }
    for (size_t i = 0; i < cfg->nservices; i++) {
        if (cfg->services[i].name) {
            keys[k].name = cfg->services[i].name;
            keys[k].service = i;
            k++;
        }
    }
    qsort(keys, k, sizeof *keys, name_cmp);
    for (size_t i = 1; i < k; i++) {
        size_t first = i - 1;
        while (i < k && strcmp(keys[i].name, keys[first].name) == 0) {
            gw__cfg_push_key(ctx, "services");
            gw__cfg_push_index(ctx, keys[i].service);
            gw__cfg_push_key(ctx, "name");
            gw__cfg_error(ctx, "duplicate service name \"%s\" (also services[%zu])", keys[i].name,
                          keys[first].service);
            gw__cfg_pop(ctx);
            gw__cfg_pop(ctx);
            gw__cfg_pop(ctx);
            i++;
        }
    }
    free(keys);
}

static void root_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    struct gw_config *cfg = obj;
    resolve_workers(cfg);
    apply_env_overrides(ctx, cfg);
    check_names(ctx, cfg);
    check_routes(ctx, cfg, json ? json_object_get(json, "services") : NULL);
}
