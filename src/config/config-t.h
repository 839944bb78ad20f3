/*
 * The configuration's types: struct gw_config and everything in it, the error list.
 * Type-only (no functions): any folder may include it; the loader is config/config.h.
 * A loaded config is immutable: readers never write to it. The reference is docs/config.md.
 */
#ifndef GW_CONFIG_CONFIG_T_H
#define GW_CONFIG_CONFIG_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "http1/parser.h" /* struct gw_http1_limits, enum gw_http_method */
#include "net/addr.h"     /* struct gw_cidr: trusted_proxies, ip_rules */

/* One header of types per section (config/types/); this one assembles them. */
#include "config/types/admin-t.h"
#include "config/types/audit-t.h"
#include "config/types/auth-t.h"
#include "config/types/cache-t.h"
#include "config/types/compress-t.h"
#include "config/types/cors-t.h"
#include "config/types/discovery-t.h"
#include "config/types/http2-t.h"
#include "config/types/hub-t.h"
#include "config/types/identity-t.h"
#include "config/types/iprules-t.h"
#include "config/types/log-t.h"
#include "config/types/match-t.h"
#include "config/types/metrics-t.h"
#include "config/types/openapi-t.h"
#include "config/types/ratelimit-t.h"
#include "config/types/registration-t.h"
#include "config/types/resilience-t.h"
#include "config/types/sechdr-t.h"
#include "config/types/service-t.h"
#include "config/types/tls-t.h"
#include "config/types/tracing-t.h"
#include "config/types/transform-t.h"
#include "config/types/upstream-t.h"
#include "config/types/validation-t.h"
#include "config/types/versioning-t.h"
#include "config/types/websocket-t.h"

struct json_t; /* jansson's json_t */

/* One path the proxy port answers itself ("probes"): compared exactly with the request's path
 * as sent (before normalisation, without the query), for GET and HEAD only. len 0: that probe
 * is off, and the path goes to the routes like any other. */
struct gw_probe_path {
    char *path;
    size_t len;
};

struct gw_config {
    /** the file (or name) it came from */
    char *path;
    /** the JSON document it was loaded from, as written (`${ENV}` unexpanded, units and
     * shorthands kept): the admin API shows services in this form. Read-only; only the control
     * thread reads it. services[i] came from source.services[i]. */
    struct json_t *source;
    /** "listen": "0.0.0.0:8000" (default); "[::1]:8000" for IPv6 (stored without brackets) */
    char *listen_host;
    /** GATEWAY_PORT, when set, overrides the port of "listen" */
    uint16_t listen_port;
    /** "workers": 0 or absent = one per online CPU, resolved at load (always >= 1 here) */
    unsigned workers;
    /** "max_connections": per process, default 10000 */
    uint32_t max_connections;
    /** "drain_timeout": how long SIGTERM waits for requests in flight, default 30s */
    uint64_t drain_timeout_ms;
    struct {
        uint64_t client_header_ms;     /* "timeouts.client_header", default 10s */
        uint64_t client_idle_ms;       /* "timeouts.client_idle", default 60s */
        uint64_t client_body_ms;       /* "timeouts.client_body", default 30s (max read gap) */
        uint64_t upstream_connect_ms;  /* "timeouts.upstream_connect", default 5s */
        uint64_t upstream_response_ms; /* "timeouts.upstream_response", default 30s */
    } timeouts;
    /** "limits.max_request_line" (8192), "limits.max_header_bytes" (32768),
     * "limits.max_headers" (100) */
    struct gw_http1_limits http;
    /** "limits.max_body_bytes", default 10 MiB; 0 = unlimited */
    uint64_t max_body_bytes;
    struct {
        uint32_t max_idle_per_target; /* "upstream.keepalive.max_idle", default 64 */
        uint64_t idle_timeout_ms;     /* "upstream.keepalive.idle_timeout", default 60s */
    } upstream;
    /** "log" */
    struct gw_log_conf log;
    /** "probes": the proxy port's own answers to liveness, readiness and startup probes */
    struct {
        struct gw_probe_path health;  /* "probes.health", default "/health" */
        struct gw_probe_path ready;   /* "probes.ready", default "/ready" (503 while draining) */
        struct gw_probe_path startup; /* "probes.startup", default "/health/startup" */
    } probes;
    /** "metrics" (docs/metrics.md) */
    struct gw_metrics_conf metrics;
    /** "admin" */
    struct gw_admin_conf admin;
    /** "audit" (README "Audit log", docs/config.md "Audit"); bound at start */
    struct gw_audit_conf audit;
    /** "rate_limit" (docs/ratelimit.md) */
    struct gw_ratelimit_conf rate_limit;
    /** "auth" (docs/auth.md) */
    struct gw_auth_conf auth;
    /** "identity": built-in identity; off unless the section is there; bound at start */
    struct gw_identity_conf identity;
    /** "transform": the gateway's transformations, inherited by every service */
    struct gw_transform_conf transform;
    /** "validation": the gateway's schemas and limits, inherited by every service */
    struct gw_validation_conf validation;
    /** "compression": the gateway's response compression, inherited by every service */
    struct gw_compress_conf compression;
    /** "cache": the response cache's store and gateway-wide bounds */
    struct gw_cache_conf cache;
    /** "cors", "csrf": the gateway-wide sections (every service's defaults); off when absent */
    struct {
        bool enabled;
        struct gw_cors_conf c;
    } cors;
    struct {
        bool enabled;
        struct gw_csrf_conf c;
    } csrf;
    /** "ip_rules": the gateway's allow and deny lists (services inherit them) */
    struct gw_iprules_conf ip_rules;
    /** "security_headers": the gateway's (gantry's own answers; services inherit them) */
    struct gw_sechdr_conf security_headers;
    /** "tracing" */
    struct gw_tracing_conf tracing;
    /** "tls": the HTTPS listener */
    struct gw_tls_conf tls;
    /** "http2": HTTP/2 to clients */
    struct gw_http2_conf http2;
    /** "versioning": how versioned services read a request's version */
    struct gw_versioning_conf versioning;
    /** "openapi": the aggregated OpenAPI document */
    struct gw_openapi_conf openapi;
    /** "services" */
    struct gw_service_conf *services;
    size_t nservices;
    /** "discovery": the resolver and interval of DNS discovery */
    struct gw_discovery_conf discovery;
    /** "registration": backends that register themselves; off when absent */
    struct gw_registration_conf registration;
    /** "hub": the WebSocket hub (config_hub.c); off when absent */
    struct gw_hub_conf hub;
};

/* One problem. line and column are 1-based; line 0 means the whole file (it could not be read):
 * then column is 0 and path is "". path is "" for the top-level value. */
struct gw_config_error {
    char *file;
    int line;
    int column;
    char *path;
    char *message;
};

struct gw_config_errors {
    struct gw_config_error *items; /* sorted by line, then column */
    size_t count;
};

/* At most this many problems are collected; one more item then says that the rest were dropped. */
#define GW_CONFIG_MAX_ERRORS 100

/* Largest config file accepted, in bytes. */
#define GW_CONFIG_MAX_FILE_BYTES (16u << 20)

#endif
