/*
 * The config schema's top-level table, where every section's table is assembled (one row per
 * root key; each section's own table lives in its config_<section>.c, see internal.h), and the
 * rules that span the whole document: the worker count, environment overrides, and (in
 * config_routes.c) unique service names and routes.
 *
 * docs/config.md documents every row; tests/unit/config/test_config.c checks that the keys,
 * types and defaults there match these tables.
 */
#include "config/internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])

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
    {.name = "timeouts", .type = &gw__cfg_object_type, .arg = &gw__cfg_timeouts_obj},
    {.name = "limits", .type = &gw__cfg_object_type, .arg = &gw__cfg_limits_obj},
    {.name = "upstream", .type = &gw__cfg_object_type, .arg = &gw__cfg_upstream_obj},
    {.name = "log", .type = &gw__cfg_object_type, .arg = &gw__cfg_log_obj},
    {.name = "admin", .type = &gw__cfg_object_type, .arg = &gw__cfg_admin_obj},
    {.name = "probes", .type = &gw__cfg_object_type, .arg = &gw__cfg_probes_obj},
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
     .arg = &gw__cfg_service_list},
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

static void root_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    struct gw_config *cfg = obj;
    resolve_workers(cfg);
    apply_env_overrides(ctx, cfg);
    gw__cfg_check_names(ctx, cfg);
    gw__cfg_check_identity_claims(ctx, cfg);
    gw__cfg_check_metrics_paths(ctx, cfg);
    gw__cfg_check_routes(ctx, cfg, json ? json_object_get(json, "services") : NULL);
}
