/*
 * One entry of "services": a service's routes, targets and every per-service section (the
 * rows of the service table in config_service.c).
 */
#ifndef GW_CONFIG_TYPES_SERVICE_T_H
#define GW_CONFIG_TYPES_SERVICE_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/types/auth-t.h"
#include "config/types/cache-t.h"
#include "config/types/compress-t.h"
#include "config/types/cors-t.h"
#include "config/types/discovery-t.h"
#include "config/types/iprules-t.h"
#include "config/types/match-t.h"
#include "config/types/ratelimit-t.h"
#include "config/types/resilience-t.h"
#include "config/types/sechdr-t.h"
#include "config/types/transform-t.h"
#include "config/types/upstream-t.h"
#include "config/types/validation-t.h"
#include "config/types/versioning-t.h"
#include "config/types/websocket-t.h"

struct gw_service_conf {
    /** unique, [A-Za-z0-9_.-]+ */
    char *name;
    /** >= 1; each starts with '/', no "//", no "." or ".." segments, no '?' '#' '%'; a trailing
     * '/' is removed unless the prefix is "/" */
    char **prefixes;
    size_t nprefixes;
    /** "api.example.com" or "*.example.com", lowercased; none = any host */
    char **hosts;
    size_t nhosts;
    /** bitmask of (1u << enum gw_http_method); 0 = any method */
    uint32_t methods;
    /** remove the matched prefix from the path sent upstream; default false */
    bool strip_prefix;
    /** "host_header": "client" (default) | "target" | any other string = fixed value */
    enum gw_host_mode host_mode;
    /** for GW_HOST_FIXED */
    char *host_value;
    /** "limits.max_body_bytes"; default: the global limits.max_body_bytes; 0 = unlimited */
    uint64_t max_body_bytes;
    /** "timeouts.upstream_connect"; default: the global timeouts.upstream_connect */
    uint64_t connect_timeout_ms;
    /** "timeouts.upstream_response"; default: the global timeouts.upstream_response */
    uint64_t response_timeout_ms;
    /** >= 1 */
    struct gw_target_conf *targets;
    size_t ntargets;
    /** "discovery": "none" (default), "dns", "dns_srv" */
    enum gw_discovery_kind discovery;
    /** "load_balancer.strategy", default round_robin */
    enum gw_lb_strategy lb_strategy;
    /** "load_balancer.hash_key": "ip" (default) | "header:NAME" | "cookie:NAME" */
    enum gw_lb_hash_kind lb_hash_kind;
    /** NAME of a header (lowercased) or cookie hash key; NULL for GW_LB_HASH_IP */
    char *lb_hash_name;
    /** "load_balancer.sticky_cookie": cookie name for sticky sessions; NULL = none */
    char *lb_sticky_cookie;
    /** "health_check": active checks; absent = disabled (the other fields hold the defaults) */
    struct gw_health_check_conf health_check;
    /** "outlier_detection": passive checks; enabled by default, false disables */
    struct gw_outlier_conf outlier;
    /** "circuit_breaker": absent = disabled; {} = enabled with the defaults */
    bool breaker_enabled;
    struct gw_service_breaker_conf breaker;
    /** "retries": enabled by default; false disables */
    bool retries_enabled;
    struct gw_service_retry_conf retries;
    /** "rate_limit.limits" */
    struct gw_limit_conf *limits;
    size_t nlimits;
    /** "auth" */
    struct gw_service_auth_conf auth;
    /** "transform" */
    struct gw_transform_conf transform;
    /** "validation": JSON Schemas for request bodies, per route */
    struct gw_validation_conf validation;
    /** "compression" (inherits the gateway's) */
    struct gw_compress_conf compression;
    /** "cache": the response cache; off by default */
    struct gw_cache_svc_conf cache;
    /** "metrics.consumers": a consumer label on this service's metrics; default false */
    bool metrics_consumers;
    /** "slo.latency_p99": the objective the health score judges p99 by; default 1s */
    uint64_t slo_latency_p99_ms;
    /** "slo.error_rate": the share of 5xx answers the objective allows, 0..1; default 0.01 */
    double slo_error_rate;
    /** "cors", "csrf" */
    struct gw_service_cors_conf cors;
    struct gw_service_csrf_conf csrf;
    /** "ip_rules": lists inherited from the gateway's key by key; false: none */
    struct gw_iprules_conf ip_rules;
    /** "security_headers": inherited from the gateway's key by key; false: none */
    struct gw_sechdr_conf security_headers;
    /** "tracing.sample_ratio"; default: the gateway's tracing.sample_ratio */
    double trace_sample_ratio;
    /** "websocket": protocol upgrades through this service (config_websocket.c); on by default */
    struct gw_websocket_conf websocket;
    /** "upstream_tls": TLS settings for the https:// targets */
    struct gw_upstream_tls_conf upstream_tls;
    /** "upstream_protocol": "http1" (default), "h2" (https:// targets), "h2c" (http://) */
    enum gw_upstream_protocol upstream_protocol;
    /** "client_cert": requests need a verified client certificate (mTLS per service; the
     * listener asks for one with tls.client_auth); off when absent */
    struct {
        bool enabled;
        /** "ca": PEM bundle the certificate must also chain to; NULL = the listener's CA */
        char *ca;
    } client_cert;
    /** Some target has a secret_header: the client's header of that name (secret_name,
     * secret_name_len, borrowed from registration.token_header) is never forwarded. */
    const char *secret_name;
    size_t secret_name_len;
    /** "version": the API version this service serves (with others on the same prefix); NULL */
    char *version;
    /** "deprecated_at", "sunset_at": RFC 3339 UTC times (Deprecation, Sunset headers); NULL */
    char *deprecated_at;
    char *sunset_at;
    /** "successor": URI of the successor version (Link rel="successor-version"); NULL */
    char *successor;
    /** "versions": routes of this service that require an API version (first match wins) */
    struct gw_version_rule_conf *version_rules;
    size_t nversion_rules;
    /** "openapi": where the service's OpenAPI 3.x document is (at most one of the three) */
    struct {
        char *url;  /* "url": fetched with GET (http://) */
        char *path; /* "path": a path on the service's first target ("/openapi.json") */
        char *file; /* "file": read from the file system */
    } openapi;
};

#endif
