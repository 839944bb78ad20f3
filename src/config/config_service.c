/*
 * The service table: one row per key of a "services" item (each section's own table lives in
 * its config_<section>.c), a target, and a service's "timeouts" and "limits".
 */
#include <string.h>

#include "config/internal.h"

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])

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
/* A target is its host and port (what the balancer, the target's state and its metrics go by):
 * the same one twice in a service is refused at its second place, which says where the first
 * is. */
static void check_targets_once(struct gw__cfg_ctx *ctx, const struct gw_service_conf *sc,
                               json_t *json)
{
    json_t *list = json_object_get(json, "targets");
    for (size_t i = 1; json_is_array(list) && i < sc->ntargets; i++) {
        const struct gw_target_conf *t = &sc->targets[i];
        for (size_t j = 0; t->host && j < i; j++) {
            const struct gw_target_conf *o = &sc->targets[j];
            if (o->host == NULL || o->port != t->port || strcmp(o->host, t->host) != 0)
                continue;
            char q[96];
            bool object = json_is_object(json_array_get(list, i));
            gw__cfg_push_key(ctx, "targets");
            gw__cfg_push_index(ctx, i);
            if (object)
                gw__cfg_push_key(ctx, "url");
            gw__cfg_error(ctx,
                          "%s is the same target as targets[%zu] (host %s, port %u); list each "
                          "target once (\"weight\" sets its share)",
                          gw__cfg_quote(t->url, strlen(t->url), q, sizeof q), j, t->host,
                          (unsigned)t->port);
            if (object)
                gw__cfg_pop(ctx);
            gw__cfg_pop(ctx);
            gw__cfg_pop(ctx);
            break;
        }
    }
}

static void service_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    if (json_is_object(json))
        check_targets_once(ctx, obj, json);
    gw__cfg_service_check(ctx, obj, json);
}

const struct gw__cfg_object gw__cfg_service_obj = {
    .what = "service",
    ROWS(service_fields),
    .size = sizeof(struct gw_service_conf),
    .init = service_init,
    .check = service_check,
};

const struct gw__cfg_list gw__cfg_service_list = {
    .elem = &gw__cfg_service_obj,
    .count_offset = offsetof(struct gw_config, nservices),
};
