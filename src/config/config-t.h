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

enum gw_log_format {
    GW_LOG_TEXT = 0,
    GW_LOG_JSON,
};

/* "log.access_fields": what an access-log line holds, in order (docs/config.md). */
enum gw_log_field {
    GW_LOG_F_TIME = 0,
    GW_LOG_F_REQUEST_ID,
    GW_LOG_F_CLIENT,
    GW_LOG_F_REQUEST, /* text: "METHOD path" (quoted); JSON: "method" and "path" */
    GW_LOG_F_METHOD,
    GW_LOG_F_PATH,
    GW_LOG_F_STATUS,
    GW_LOG_F_BYTES_IN,
    GW_LOG_F_BYTES_OUT,
    GW_LOG_F_DURATION_MS,
    GW_LOG_F_UPSTREAM_MS,
    GW_LOG_F_SERVICE,
    GW_LOG_F_TARGET,
    GW_LOG_F_TRACE_ID,
    GW_LOG_F_SPAN_ID,
    GW_LOG_F_UPSTREAM_STATUS,
    GW_LOG_F_RETRIES,
    GW_LOG_F_CACHE,
    GW_LOG_F_CONSUMER,
    GW_LOG_F_RATE_LIMIT,
    GW_LOG_F__COUNT,
};

/* Most fields "log.access_fields" may list. */
#define GW_LOG_MAX_FIELDS 32

/* What the audit log records ("audit.events"). */
enum gw_audit_event {
    GW_AUDIT_EV_ADMIN = 1u << 0,        /* "admin": changes made through the admin API */
    GW_AUDIT_EV_RELOAD = 1u << 1,       /* "reload": every reload, whoever asked */
    GW_AUDIT_EV_FORBIDDEN = 1u << 2,    /* "forbidden": every 403 gantry answers */
    GW_AUDIT_EV_UNAUTHORIZED = 1u << 3, /* "unauthorized": repeated 401s from one client */
    GW_AUDIT_EV_NEW_ADDRESS = 1u << 4,  /* "new_address": an API key from a new address */
    GW_AUDIT_EV_IDENTITY = 1u << 5,     /* "identity": registrations, logins, lockouts, ... */
    GW_AUDIT_EV_ALL = (1u << 6) - 1,
};

enum gw_log_level {
    GW_LOG_DEBUG = 0,
    GW_LOG_INFO,
    GW_LOG_WARN,
    GW_LOG_ERROR,
};

enum gw_host_mode {
    GW_HOST_CLIENT = 0, /* forward the client's Host header */
    GW_HOST_TARGET,     /* Host: the target's authority */
    GW_HOST_FIXED,      /* Host: host_value */
};

/* "load_balancer.strategy": the names and order of the balancer's enum gw_balance_strategy
 * (src/balance/balancer.h; config_resilience.c asserts that the values agree). */
enum gw_lb_strategy {
    GW_LB_ROUND_ROBIN = 0,
    GW_LB_WEIGHTED_ROUND_ROBIN,
    GW_LB_RANDOM,
    GW_LB_LEAST_CONNECTIONS,
    GW_LB_IP_HASH,
    GW_LB_CONSISTENT_HASH,
    GW_LB_P2C_EWMA,
};

/* "load_balancer.hash_key": what consistent_hash hashes. */
enum gw_lb_hash_kind {
    GW_LB_HASH_IP = 0, /* "ip": the client address */
    GW_LB_HASH_HEADER, /* "header:NAME": that request header's value */
    GW_LB_HASH_COOKIE, /* "cookie:NAME": that cookie's value */
};

/* "circuit_breaker": the fields and meanings of struct gw_breaker_conf (upstream/breaker.h), kept
 * apart so that this header pulls in no atomics; gw_config_breaker_conf copies it over. */
struct gw_service_breaker_conf {
    uint32_t failure_threshold;   /* "failure_threshold", default 5; 0 = off */
    uint32_t error_threshold_pct; /* "error_threshold_percentage", default 50; 0 = off */
    uint32_t minimum_requests;    /* "minimum_requests", default 20 */
    uint32_t half_open_requests;  /* "half_open_requests", 1..255, default 3 */
    uint32_t buckets;             /* "buckets", 1..64, default 10 */
    uint64_t window_ms;           /* "window", default 10s; window / buckets >= 1 ms */
    uint64_t open_duration_ms;    /* "open_duration", default 30s */
    uint64_t slow_call_ms;        /* "slow_call_threshold", default 0 = off */
};

/* Most statuses "retries.statuses" may list (GW_RETRY_MAX_STATUSES). */
#define GW_CONFIG_MAX_RETRY_STATUSES 8

/* "retries": the fields and meanings of struct gw_retry_conf (upstream/retry.h), kept apart
 * for the same reason; gw_config_retry_conf copies it over. */
struct gw_service_retry_conf {
    uint32_t attempts;   /* "attempts", 0..10, default 2 */
    uint32_t on;         /* "retry_on": GW_RETRY_* class bits, default all four */
    bool non_idempotent; /* "non_idempotent", default false */
    uint32_t n_statuses; /* "statuses", default [502, 503, 504] */
    uint16_t statuses[GW_CONFIG_MAX_RETRY_STATUSES];
    uint64_t backoff_base_ms;    /* "backoff_base", default 25ms */
    uint64_t backoff_max_ms;     /* "backoff_max", default 250ms, >= backoff_base */
    uint64_t per_try_timeout_ms; /* "per_try_timeout", default 0 = the service's timeouts */
    uint32_t budget_pct;         /* "budget_percent", 0..100, default 20 */
    uint32_t budget_min_per_s;   /* "budget_min_per_second", default 3 */
};

/* ---- rate limiting (config_ratelimit.c, docs/ratelimit.md) ----------------------------------- */

/* "key" of a limit: what one counter is shared by. */
enum gw_limit_key {
    GW_LIMIT_KEY_IP = 0,   /* "ip": the client address (trusted_proxies honoured) */
    GW_LIMIT_KEY_GLOBAL,   /* "global": one counter for everyone */
    GW_LIMIT_KEY_HEADER,   /* "header:NAME": that header's value (absent: the client address) */
    GW_LIMIT_KEY_CONSUMER, /* "consumer": the authenticated consumer (none: the client address) */
    GW_LIMIT_KEY_ROUTE,    /* "route": method + the matched prefix */
};

/* "match" of a limit or an auth rule: which requests of its scope it applies to. */
struct gw_match_conf {
    char **prefixes; /* "prefix": path prefixes on segment boundaries; none = every path */
    size_t nprefixes;
    uint32_t methods; /* "methods": bitmask of (1u << enum gw_http_method); 0 = any */
};

/* One limit: "limit" requests per "period". */
struct gw_limit_conf {
    char *name;         /* "name": default its index in the list; names counters (Redis keys) */
    int algorithm;      /* "algorithm": enum gw_rl_algo (state/ratelimit.h), default gcra */
    uint32_t limit;     /* "limit", required, 1..2^32-1 */
    uint64_t period_ms; /* "period", required */
    uint32_t burst;     /* "burst": buckets only; default 0 = limit */
    uint32_t buckets;   /* "buckets": sliding_window sub-buckets, default 10 */
    enum gw_limit_key key;
    char *key_header; /* NAME of "header:NAME", lowercased */
    struct gw_match_conf match;
};

enum gw_rl_backend {
    GW_RL_BACKEND_LOCAL = 0,
    GW_RL_BACKEND_REDIS,
};

/* What a decision does when Redis cannot answer (unreachable, timed out). */
enum gw_rl_failure_policy {
    GW_RL_FAIL_OPEN = 0, /* "fail_open": admit */
    GW_RL_FAIL_CLOSED,   /* "fail_closed": 503 */
    GW_RL_FAIL_LOCAL,    /* "local": decide with this instance's in-process counters */
};

/* Which rate-limit headers responses carry. */
enum gw_rl_headers {
    GW_RL_HEADERS_ALL = 0, /* "all": RateLimit-* and X-RateLimit-* */
    GW_RL_HEADERS_IETF,    /* "ietf": RateLimit-* */
    GW_RL_HEADERS_LEGACY,  /* "legacy": X-RateLimit-* */
    GW_RL_HEADERS_OFF,     /* "off" */
};

/* ---- authentication (config_auth.c, docs/auth.md) ---------------------------------------------
 */

#define GW_AUTH_JWT (1u << 0)
#define GW_AUTH_API_KEY (1u << 1)
#define GW_AUTH_INTROSPECTION (1u << 2)
#define GW_AUTH_MTLS (1u << 3) /* a verified client certificate (tls.client_auth) */

/* "identity.register.mode" */
enum gw_idp_register_mode {
    GW_IDP_REGISTER_OFF,    /* no registration endpoint */
    GW_IDP_REGISTER_OPEN,   /* anyone */
    GW_IDP_REGISTER_INVITE, /* with one of register.invite_codes */
    GW_IDP_REGISTER_ADMIN,  /* a bearer token with admin_role (the first user: anyone) */
};

/* "identity.store" */
enum gw_idp_store_kind {
    GW_IDP_STORE_SQLITE,   /* identity.sqlite: one file, this host */
    GW_IDP_STORE_POSTGRES, /* identity.postgres.dsn: shared by several gantry instances */
};

/* "identity.revocation.backend" */
enum gw_idp_revoke_backend {
    GW_IDP_REVOKE_LOCAL, /* this process only */
    GW_IDP_REVOKE_REDIS, /* shared through rate_limit.redis's Redis (state/revoked_redis.h) */
};

/* The endpoints of built-in identity, indexes of gw_identity_conf.paths. */
enum gw_idp_endpoint {
    GW_IDP_EP_REGISTER,
    GW_IDP_EP_LOGIN,
    GW_IDP_EP_REFRESH,
    GW_IDP_EP_LOGOUT,
    GW_IDP_EP_ME,
    GW_IDP_EP_PASSWORD,
    GW_IDP_EP_TOTP_ENROL,   /* only while identity.totp is on */
    GW_IDP_EP_TOTP_CONFIRM, /* " */
    GW_IDP_EP_TOTP_DISABLE, /* " */
    GW_IDP_EP__COUNT,
};

struct gw_jwt_key;
struct gw_jwt_keyring;

/* "identity.jwt.keys[]": a private key identity signs with (EdDSA or ES256). */
struct gw_identity_key_conf {
    char *kid;              /* "kid", required, unique */
    char *alg;              /* "alg", required: "EdDSA" or "ES256" */
    char *private_key_file; /* "private_key_file", required: PEM (PKCS#8 or SEC 1) */
};

struct gw_consumer_conf {
    char *id; /* "id", required, unique */
    char **roles;
    size_t nroles;
    char **permissions;
    size_t npermissions;
    char **api_keys; /* "api_keys": "sha256:<hex>" hashes (gantry hash-key) */
    size_t napi_keys;
    /* "certificates": client certificate subjects ("CN=alice,O=Example") or SAN entries
     * ("email:alice@example.com", "URI:spiffe://example/alice") that identify it (mTLS) */
    char **certificates;
    size_t ncertificates;
};

/* A configured JWT key: "secret" (HS*), "pem" or "pem_file" (RS*, ES*, EdDSA). */
struct gw_jwt_key_conf {
    char *kid;
    char *alg;
    char *secret;
    char *pem;
    char *pem_file;
};

/* A service's auth rule ("auth.rules[]"): stricter (or looser) requirements for some paths. */
struct gw_auth_rule_conf {
    struct gw_match_conf match;
    bool required;
    char **roles; /* any one of them */
    size_t nroles;
    char **permissions; /* all of them */
    size_t npermissions;
};

struct gw_service_auth_conf {
    bool enabled;     /* the service has an "auth" section */
    bool required;    /* "required", default true */
    uint32_t methods; /* "methods": GW_AUTH_* bits, default every configured one */
    char **roles;
    size_t nroles;
    char **permissions;
    size_t npermissions;
    char **public_paths; /* "public_paths": prefixes that skip auth */
    size_t npublic_paths;
    struct gw_auth_rule_conf *rules;
    size_t nrules;
};

/* ---- transformations (config_transform.c, docs/transform.md) --------------------------------- */

struct gw_template; /* policy/template.h: a compiled value template */
struct json_t;      /* jansson's json_t */

/* A header or query parameter to set or add: its name as written and its value. */
struct gw_tf_value {
    char *name;
    struct gw_template *value;
};

/* A header or query parameter (or a JSON field path) renamed. */
struct gw_tf_rename {
    char *from;
    char *to;
};

/* The edits of one list of headers or query parameters, applied in this order: remove,
 * rename, set (remove, then add), add. Header names are lowercased in remove, rename.from and
 * set (they are compared); the names written keep their case. */
struct gw_tf_fields {
    char **remove;
    size_t nremove;
    struct gw_tf_rename *rename;
    size_t nrename;
    struct gw_tf_value *set;
    size_t nset;
    struct gw_tf_value *add;
    size_t nadd;
};

/* JSON body edits on "application/json" bodies up to max_body_bytes, in this order: remove,
 * rename, add. Fields are dotted paths into nested objects ("meta.internal"). */
struct gw_tf_body {
    char **remove;
    size_t nremove;
    struct gw_tf_rename *rename;
    size_t nrename;
    char **add_names;    /* "add": field paths ... */
    struct json_t **add; /* ... and their values (string values are templates, see add_tpl) */
    struct gw_template **add_tpl; /* for string values: the template, else NULL */
    size_t nadd;
};

enum gw_tf_path_kind {
    GW_TF_PATH_NONE = 0,
    GW_TF_PATH_PREFIX, /* "prefix": {"from", "to"} */
    GW_TF_PATH_REGEX,  /* "regex" + "replace" */
};

/* One status mapped to another ("status": {"502": 503}). */
struct gw_tf_status {
    uint16_t from;
    uint16_t to;
};

/* The request side of a transformation. */
struct gw_tf_request_conf {
    struct gw_tf_fields headers;
    struct gw_tf_fields query;
    enum gw_tf_path_kind path_kind;
    char *path_from;    /* prefix: the normalised prefix replaced (segment boundaries) */
    char *path_to;      /* prefix: what replaces it */
    char *path_regex;   /* regex: PCRE2 pattern matched against the normalised path */
    char *path_replace; /* regex: the replacement, $0..$9 are captures */
    struct gw_tf_body body;
};

/* The response side. */
struct gw_tf_response_conf {
    struct gw_tf_fields headers;
    struct gw_tf_status *status;
    size_t nstatus;
    struct gw_tf_body body;
};

/* One set of transformations: the gateway's, a service's, or a route rule's. */
struct gw_tf_set {
    struct gw_tf_request_conf request;
    struct gw_tf_response_conf response;
};

/* A service's route rule: its transformations apply after the service's to matching requests
 * (the rule with the longest matching prefix, the first one on a tie). */
struct gw_tf_rule_conf {
    struct gw_match_conf match;
    struct gw_tf_set set;
};

struct gw_transform_conf {
    bool enabled;            /* services: false turns every transformation off */
    bool inherit;            /* services: apply the gateway's transformations first (true) */
    uint64_t max_body_bytes; /* "max_body_bytes": JSON bodies edited up to this size, 64 KiB */
    struct gw_tf_set set;
    struct gw_tf_rule_conf *rules; /* services: "rules" */
    size_t nrules;
};

/* ---- request validation (config_validation.c, docs/config.md "Request validation") -------- */

struct gw_jschema; /* policy/jschema.h: a compiled JSON Schema */

/* A route's schema: JSON request bodies of requests that match are checked against it. */
struct gw_val_rule_conf {
    struct gw_match_conf match;
    struct gw_jschema *schema; /* "schema" (inline) or "schema_file", compiled at load */
    char *schema_file;         /* as written, or NULL */
};

struct gw_validation_conf {
    bool enabled;            /* services: false turns validation off (the gateway's rules too) */
    bool inherit;            /* services: the gateway's rules apply too (true) */
    uint64_t max_body_bytes; /* "max_body_bytes": larger JSON bodies are refused 413; 64 KiB */
    uint32_t max_errors;     /* "max_errors": violations listed in a 400; default 10 */
    struct gw_val_rule_conf *rules;
    size_t nrules;
};

/* ---- response cache (config_cache.c, docs/cache.md) ------------------------------------------ */

/* Bits of gw_cache_svc_conf.vary_normalize (cache/vary.h's GW_VARY_NORM_*). */
#define GW_CACHE_NORM_ACCEPT_ENCODING 1u

/* Where stored responses live ("cache.backend", "services[].cache.backend"). */
enum gw_cache_backend {
    GW_CACHE_BACKEND_INHERIT = 0, /* a service's default: the gateway's */
    GW_CACHE_BACKEND_MEMORY,      /* the in-process store (cache/store.h) */
    GW_CACHE_BACKEND_REDIS,       /* Redis, shared by every instance (policy/cache_redis.h) */
};

/* A route rule of a service's cache ("rules"): the rule whose match has the longest matching
 * prefix (the first on a tie) overrides the service's settings for its requests. */
struct gw_cache_rule_conf {
    struct gw_match_conf match; /* first: the shared "match" table's offsets start at 0 */
    bool enabled;               /* "enabled": false turns the cache off for the rule's requests */
    uint64_t ttl_ms;            /* "ttl"; UINT64_MAX: the service's */
    uint64_t max_object_size;   /* "max_object_size"; 0: the service's */
    uint32_t methods;           /* "methods" (GET, HEAD); 0: the service's */
};

struct gw_cache_svc_conf {
    bool enabled;             /* the section's switch; "cache": true is the defaults */
    uint64_t ttl_ms;          /* "ttl": lifetime of a response without freshness information;
                               * 0 = such responses are not stored */
    uint32_t ttl_seconds;     /* "ttl_seconds": the same in seconds (the seeds' spelling) */
    uint64_t max_object_size; /* "max_object_size": larger bodies are not stored; 1 MiB */
    bool key_host;            /* "key.host": default true */
    bool key_query;           /* "key.query": default true */
    bool sort_query;          /* "key.sort_query": default false */
    char **ignore_params;     /* "key.ignore_params" */
    size_t nignore_params;
    char **key_headers; /* "key.headers": request fields in the key (lower-cased) */
    size_t nkey_headers;
    char **vary_normalize_names; /* "vary_normalize": "accept-encoding" */
    size_t nvary_normalize_names;
    unsigned vary_normalize;    /* GW_CACHE_NORM_* from the names */
    bool store_set_cookie;      /* "store_set_cookie": default false */
    uint32_t heuristic_percent; /* "heuristic_percent": 0 (off) to 100 */
    bool purge_method;          /* "purge_method": PURGE on the proxy port; default false */
    uint32_t methods;           /* "methods": bits of enum gw_http_method, GET and HEAD; 0: both */
    struct gw_cache_rule_conf *rules; /* "rules" */
    size_t nrules;
    enum gw_cache_backend backend; /* "backend"; resolved: never INHERIT after loading */
};

/* The gateway's "cache": the store every service shares and gateway-wide bounds. */
struct gw_cache_conf {
    uint64_t max_bytes;            /* "memory.max_bytes": default 64 MiB */
    char *status_header;           /* "status_header": default "X-Cache" */
    char *tag_header;              /* "tag_header": purge tags; default "surrogate-key" (lower) */
    uint64_t max_swr_ms;           /* "max_stale_while_revalidate": default 1h */
    uint64_t max_sie_ms;           /* "max_stale_if_error": default 1d */
    uint64_t heuristic_max_ms;     /* "heuristic_max": default 1d */
    uint64_t collapse_ms;          /* "collapse_timeout": longest wait for another request's fill;
                                    * default 5s; 0 = misses are not collapsed */
    enum gw_cache_backend backend; /* "backend": default memory */
    /* "redis": the Redis backend, on the Redis of rate_limit.redis */
    char *redis_prefix;        /* "redis.key_prefix": default "gantry:cache:" */
    uint64_t redis_timeout_ms; /* "redis.timeout": longest wait for a reply; default 50ms */
    uint64_t redis_max_ttl_ms; /* "redis.max_ttl": bound on an entry's Redis TTL; default 1d */
};

/* ---- compression (config_compress.c, docs/compression.md) ----------------------------------- */

/* Bits of gw_compress_conf.algorithms (1u << enum gw_coding, http1/accept_encoding.h). */
#define GW_COMPRESS_GZIP 2u
#define GW_COMPRESS_BR 4u

/* A service's route rule: overrides the service's settings for the requests it matches (the
 * rule with the longest matching prefix, the first one on a tie). */
struct gw_compress_rule_conf {
    struct gw_match_conf match; /* first: the shared "match" table's offsets start at 0 */
    bool enabled;               /* "enabled": default true */
    uint32_t gzip_level;        /* "gzip_level": 0 = the service's */
    uint32_t brotli_level;      /* "brotli_level": UINT32_MAX = the service's */
    uint64_t min_length;        /* "min_length": UINT64_MAX = the service's */
};

struct gw_compress_conf {
    bool enabled;          /* the section's switch: gateway default off; a service inherits */
    uint32_t gzip_level;   /* "gzip_level": 1..9, default 6 */
    uint32_t brotli_level; /* "brotli_level": 0..11, default 4 */
    uint64_t min_length;   /* "min_length": smaller known lengths are not compressed; 256 B */
    char **types;          /* "types": media types (a subtype may be "*"); none: the gateway's or
                            * the built-in list */
    size_t ntypes;
    char **algorithm_names; /* "algorithms": "br", "gzip" */
    size_t nalgorithm_names;
    unsigned algorithms;                 /* GW_COMPRESS_* bits, from algorithm_names */
    struct gw_compress_rule_conf *rules; /* services: "rules" */
    size_t nrules;
};

/* ---- API versioning (config_version.c, docs/versioning.md) ---------------------------------- */

/* Where a request's API version is read, in gw_versioning_conf.order. */
enum gw_version_source {
    GW_VSRC_PATH = 0, /* a leading path segment "/v2/...": compiled into the router */
    GW_VSRC_HEADER,   /* a header (Accept-Version, API-Version) */
    GW_VSRC_ACCEPT,   /* a media-type parameter: Accept: application/vnd.x+json; version=2 */
    GW_VSRC_QUERY,    /* a query parameter: ?version=2 */
    GW_VSRC__COUNT,
};

struct gw_versioning_conf {
    char **source_names; /* "sources": default path, header, accept, query */
    size_t nsource_names;
    uint8_t order[GW_VSRC__COUNT]; /* the sources in order (from source_names) */
    uint8_t norder;
    bool path;          /* "path" is a source: services get a "/<path_prefix><version>" route */
    char **headers;     /* "headers": default Accept-Version, API-Version */
    size_t nheaders;    /* (the defaults are written here by the check) */
    char *query;        /* "query": the query parameter, default "version" */
    char *accept_param; /* "accept_param": the media-type parameter, default "version" */
    char *path_prefix;  /* "path_prefix": the segment before the version, default "v" */
    bool strip_path_version; /* "strip_path_version": default true */
    char *default_version;   /* "default": the version of a request that names none; NULL */
    uint32_t unknown_status; /* "unknown_status": 404 (default) or 400 */
};

/* ---- aggregated OpenAPI (config_openapi.c, docs/openapi.md) ---------------------------------- */

struct gw_openapi_conf {
    bool enabled;        /* the root section's switch: off when absent */
    char *path;          /* "path": where the merged document is served; default "/docs" */
    size_t path_len;     /* strlen(path) when enabled, else 0 (matches no request path) */
    bool viewer;         /* "viewer": the HTML viewer for browsers at the same path; true */
    char *title;         /* "title": info.title, default "gantry" */
    char *version;       /* "version": info.version, default "1.0.0" */
    char *server_url;    /* "server_url": servers[0].url; default "/" */
    uint64_t refresh_ms; /* "refresh": default 5m */
    uint64_t timeout_ms; /* "timeout": one fetch, default 5s */
    uint64_t max_bytes;  /* "max_bytes": largest document fetched, default 4 MiB */
    char *ca_file;       /* "ca_file": CAs trusted for https:// sources besides the system's */
};

/* ---- browser policies: CORS and the CSRF Origin check (config_cors.c, docs/cors.md) ---------
 *
 * Each is set at three levels: the gateway's section (the defaults of every service), a
 * service's section (inherits the gateway's keys it does not write; false turns it off) and a
 * service's rules (a "match" plus the keys that differ for the requests it matches; the first
 * matching rule applies). "set" records which keys one level wrote; policy/cors.h
 * gw_cors_conf_overlay and gw_csrf_conf_overlay merge the levels.
 */

#define GW_CORS_SET_ORIGINS (1u << 0)
#define GW_CORS_SET_METHODS (1u << 1)
#define GW_CORS_SET_HEADERS (1u << 2)
#define GW_CORS_SET_EXPOSE (1u << 3)
#define GW_CORS_SET_CREDENTIALS (1u << 4)
#define GW_CORS_SET_MAX_AGE (1u << 5)
#define GW_CORS_SET_DENIED_STATUS (1u << 6)

/* "methods": "*" (any method: the preflight's requested one is allowed and echoed) */
#define GW_CORS_ANY_METHOD (1u << 31)

/* One level of "cors" settings. */
struct gw_cors_conf {
    uint32_t set;   /* GW_CORS_SET_* bits: the keys written at this level */
    char **origins; /* "origins": exact, wildcard subdomains, "null" or "*" (alone); lowercased */
    size_t norigins;
    uint32_t methods; /* "methods": (1u << enum gw_http_method) bits, or GW_CORS_ANY_METHOD */
    char **headers;   /* "headers": allowed request header names (any case); ["*"]: any */
    size_t nheaders;
    char **expose_headers; /* "expose_headers": as written; ["*"]: all (not with credentials) */
    size_t nexpose_headers;
    bool credentials;       /* "credentials": Access-Control-Allow-Credentials: true */
    uint64_t max_age_ms;    /* "max_age": Access-Control-Max-Age (only when set at some level) */
    uint32_t denied_status; /* "denied_status": a refused preflight's status, default 403 */
};

struct gw_cors_rule_conf {
    struct gw_match_conf match; /* "match"; a preflight matches by the method it asks for */
    bool enabled;               /* "enabled", default true; false: no CORS for these requests */
    struct gw_cors_conf cors;   /* the keys that differ */
};

struct gw_service_cors_conf {
    bool enabled; /* on for this service: written on, or inherited from the gateway's */
    bool written; /* the service has a "cors" key (else it inherits the gateway's section) */
    struct gw_cors_conf cors;
    struct gw_cors_rule_conf *rules; /* "rules" */
    size_t nrules;
};

#define GW_CSRF_SET_ORIGINS (1u << 0)
#define GW_CSRF_SET_NO_ORIGIN (1u << 1)

/* "no_origin": what a request with neither Origin nor Referer gets. */
enum gw_csrf_no_origin {
    GW_CSRF_NO_ORIGIN_ALLOW = 0, /* "allow": not from a browser page, so not a CSRF vector */
    GW_CSRF_NO_ORIGIN_REFUSE,    /* "refuse": 403 */
};

/* One level of "csrf" settings. */
struct gw_csrf_conf {
    uint32_t set;   /* GW_CSRF_SET_* bits */
    char **origins; /* "origins": trusted origins besides the request's own host and the CORS
                       origins; exact, wildcard or "null"; lowercased */
    size_t norigins;
    enum gw_csrf_no_origin no_origin; /* "no_origin", default allow */
};

struct gw_csrf_rule_conf {
    struct gw_match_conf match;
    bool enabled; /* "enabled", default true; false: no check for these requests */
    struct gw_csrf_conf csrf;
};

struct gw_service_csrf_conf {
    bool enabled;
    bool written;
    struct gw_csrf_conf csrf;
    struct gw_csrf_rule_conf *rules;
    size_t nrules;
};

/* ---- traffic policies: IP rules (config_iprules.c), security headers (config_sechdr.c) ---- */

/* Where a setting of a level (gateway, service, rule) comes from. */
enum gw_iplist_state {
    GW_IPLIST_INHERIT = 0, /* absent: the enclosing level's list applies */
    GW_IPLIST_OFF,         /* false: no list at this level (an inherited one is dropped) */
    GW_IPLIST_SET,         /* a list of addresses and CIDR blocks */
};

struct gw_iplist_conf {
    int state; /* enum gw_iplist_state */
    struct gw_cidr *items;
    size_t n;
};

/* A service's IP rule ("ip_rules.rules[]"): other lists for the requests it matches. */
struct gw_iprule_conf {
    struct gw_match_conf match;
    struct gw_iplist_conf allow;
    struct gw_iplist_conf deny;
};

/* "ip_rules" of the gateway (rules unused) or of a service. */
struct gw_iprules_conf {
    bool enabled; /* a service's "ip_rules": false: no list applies to it */
    struct gw_iplist_conf allow;
    struct gw_iplist_conf deny;
    struct gw_iprule_conf *rules; /* services only; the longest matching prefix wins */
    size_t nrules;
};

/* The security headers, in the order they are written (policy/sechdr.c has their names). */
enum gw_sechdr_id {
    GW_SECHDR_HSTS = 0,    /* Strict-Transport-Security (sent only over TLS) */
    GW_SECHDR_XCTO,        /* X-Content-Type-Options */
    GW_SECHDR_XFO,         /* X-Frame-Options */
    GW_SECHDR_REFERRER,    /* Referrer-Policy */
    GW_SECHDR_CSP,         /* Content-Security-Policy */
    GW_SECHDR_PERMISSIONS, /* Permissions-Policy */
    GW_SECHDR_COOP,        /* Cross-Origin-Opener-Policy */
    GW_SECHDR_CORP,        /* Cross-Origin-Resource-Policy */
    GW_SECHDR_COEP,        /* Cross-Origin-Embedder-Policy */
    GW_SECHDR_SERVER,      /* Server */
    GW_SECHDR__COUNT,
};

/* How a header gantry sets meets the same header in an upstream response. */
enum gw_sechdr_mode {
    GW_SECHDR_MODE_INHERIT = 0, /* absent: the enclosing level's mode */
    GW_SECHDR_OVERRIDE,         /* "override": gantry's value replaces the upstream's */
    GW_SECHDR_IF_ABSENT,        /* "if_absent": the upstream's value stays; gantry's fills in */
};

enum gw_sechdr_state {
    GW_SECHDR_INHERIT = 0, /* absent: the enclosing level's setting */
    GW_SECHDR_OFF,         /* false: not set by gantry (Server: "keep") */
    GW_SECHDR_SET,         /* a value to send */
    GW_SECHDR_HIDE,        /* Server only: "hide", the upstream's Server header is removed */
};

struct gw_sechdr_value {
    int state;   /* enum gw_sechdr_state */
    int mode;    /* enum gw_sechdr_mode: the header's own ({"value", "mode"}), or INHERIT */
    char *value; /* GW_SECHDR_SET: the field value (visible ASCII, spaces, tabs) */
};

struct gw_sechdr_rule_conf;

/* "security_headers" of the gateway, of a service, or of a rule (rules: services only). */
struct gw_sechdr_conf {
    bool enabled; /* false: no header at this level */
    int mode;     /* "mode": enum gw_sechdr_mode (the gateway's default "if_absent") */
    struct gw_sechdr_value h[GW_SECHDR__COUNT];
    struct gw_sechdr_rule_conf *rules; /* services only; the longest matching prefix wins */
    size_t nrules;
};

struct gw_sechdr_rule_conf {
    struct gw_match_conf match;
    struct gw_sechdr_conf set;
};

struct gw_target_conf {
    /** as written, e.g. "http://127.0.0.1:3001" (after ${ENV} substitution) */
    char *url;
    /** host part, lowercased: a DNS name or an IP literal (IPv6 without brackets) */
    char *host;
    /** default 80 */
    uint16_t port;
    /** "host[:port]" exactly as it appears in the URL (the Host header for host_header=target) */
    char *authority;
    /** 1..1000, default 1 */
    uint32_t weight;
    /** host is an IPv6 literal (authority has brackets) */
    bool ipv6;
    /** "https://": TLS to the target (the service's upstream_tls settings); default port 443 */
    bool tls;
    /** A registered backend's token as a whole header line ("Authorization: Bearer T\r\n"),
     * sent on every request to this target; set by the registry after loading (never from the
     * file, never in source), wiped and freed with the config. NULL: none. */
    char *secret_header;
    size_t secret_header_len;
};

/* One entry of "websocket.routes": upgrades on the requests it matches are allowed or not. */
struct gw_ws_route_conf {
    struct gw_match_conf match; /** "match": prefix and methods */
    bool enabled;               /** "enabled", default true */
};

/* "upstream_tls" of a service: how its https:// targets are reached (config_upstream_tls.c,
 * tls/client.c). Always parsed (defaults when absent); used only for https:// targets. */
struct gw_upstream_tls_conf {
    /** "verify", default true: the target's certificate must chain to ca (or the system bundle)
     * and name the target's host (or server_name) */
    bool verify;
    /** "ca": PEM bundle of the CAs the targets' certificates chain to; NULL = the system's */
    char *ca;
    /** "server_name": the name sent as SNI and verified in the certificate; NULL = the target
     * URL's host (an IP address is verified as an address and sends no SNI) */
    char *server_name;
    /** "cert", "key": a client certificate (PEM chain, leaf first) and its key, for upstreams
     * that require one (mTLS); NULL = none */
    char *cert;
    char *key;
    /** "session_reuse", default true: new connections resume the worker's last session with
     * the target (tickets or session ids) */
    bool session_reuse;
    /** "min_version": 0x0303 (TLS 1.2, default) or 0x0304 */
    int min_version;
};

/* "websocket" of a service: WebSocket (and, when listed, other) upgrades proxied as tunnels. */
struct gw_websocket_conf {
    /** false: an Upgrade is ignored (the request goes upstream as a plain request) */
    bool enabled;
    /** "idle_timeout": a tunnel with no byte either way for this long is closed; 0 = never;
     * default 1h */
    uint64_t idle_timeout_ms;
    /** "max_lifetime": a tunnel is closed after this long whatever it does; 0 = never; default 24h
     */
    uint64_t max_lifetime_ms;
    /** "origins": origin patterns (policy/origin.h) a handshake's Origin must match; none = any */
    char **origins;
    size_t norigins;
    /** "protocols": other Upgrade protocols to tunnel (lowercased tokens); "h2c" never */
    char **protocols;
    size_t nprotocols;
    /** "token_query": a query parameter that carries the bearer token of a handshake (for
     * browsers, which cannot set Authorization); NULL = none. Redacted from the logs. */
    char *token_query;
    /** "token_protocol": a prefix; a Sec-WebSocket-Protocol entry that starts with it carries
     * the bearer token of a handshake after it ("access_token.eyJ..."); NULL = none */
    char *token_protocol;
    /** "routes": the first whose match covers a handshake decides whether it may upgrade;
     * none matching: enabled decides */
    struct gw_ws_route_conf *routes;
    size_t nroutes;
};

/* "hub": the gateway-terminated WebSocket endpoint (src/hub/, README "The WebSocket hub"). */
enum gw_hub_backend {
    GW_HUB_BACKEND_LOCAL = 0, /** messages reach this instance's clients only */
    GW_HUB_BACKEND_REDIS,     /** messages go through Redis pub/sub to every instance */
};

/* One entry of "hub.channels": who may subscribe and publish to the channels it names. */
struct gw_hub_rule_conf {
    /** "channels": patterns; '*' matches any run of characters, "{client_id}" the client's id */
    char **channels;
    size_t nchannels;
    /** "subscribe": roles allowed to subscribe; "*" = any client that passed the handshake */
    char **subscribe;
    size_t nsubscribe;
    /** "publish": roles allowed to publish; none = nobody (backends publish via the admin API) */
    char **publish;
    size_t npublish;
};

struct gw_hub_conf {
    /** off by default */
    bool enabled;
    /** "path": clients connect to PATH/{client_id}; default "/ws" */
    char *path;
    /** "service": the service whose policy chain (IP rules, rate limits, auth) runs on the
     * handshake; NULL = none (anyone may connect) */
    char *service;
    /** "backend": local (default) or redis (the connection settings of rate_limit.redis) */
    enum gw_hub_backend backend;
    /** "redis_channel": the Redis pub/sub channel the instances share; default "gantry:hub" */
    char *redis_channel;
    /** "channels": the access rules; a channel no rule names can be used by nobody */
    struct gw_hub_rule_conf *rules;
    size_t nrules;
    /** "max_message_size": largest message a client may send; default 64KiB */
    uint32_t max_message_bytes;
    /** "max_queue": bytes waiting to be sent to one client before it is cut (1013); 1MiB */
    uint64_t max_queue_bytes;
    /** "max_subscriptions": channels one client may subscribe to; default 64 */
    uint32_t max_subscriptions;
    /** "max_subscribers": clients one channel may have on this instance; default 100000 */
    uint32_t max_subscribers;
    /** "ping_interval": the server pings an idle client this often; default 30s */
    uint64_t ping_interval_ms;
    /** "idle_timeout": a client silent this long (no pong either) is closed; default 75s */
    uint64_t idle_timeout_ms;
    /** "origins": origin patterns a browser's Origin must match; none = any */
    char **origins;
    size_t norigins;
};

/* "services[].upstream_protocol" (config_upstream_protocol.c) */
enum gw_upstream_protocol {
    GW_UPSTREAM_HTTP1 = 0, /* "http1": HTTP/1.1, a request per pooled connection */
    GW_UPSTREAM_H2,        /* "h2": HTTP/2 over TLS (https:// targets, ALPN h2) */
    GW_UPSTREAM_H2C,       /* "h2c": HTTP/2 with prior knowledge (http:// targets) */
};

/* "services[].discovery" (config_discovery.c) */
enum gw_discovery_kind {
    GW_DISCOVERY_NONE = 0,
    GW_DISCOVERY_DNS,     /* "dns": every A/AAAA address of a target's host is a target */
    GW_DISCOVERY_DNS_SRV, /* "dns_srv": the SRV records of a target's host give the targets */
};

/* "discovery": how names of services with discovery are resolved (src/discovery/) */
struct gw_discovery_conf {
    char *resolver;       /* "resolver": "ADDR[:PORT]"; NULL: the system's (/etc/resolv.conf) */
    uint64_t interval_ms; /* "interval": resolve again this often (sooner when TTLs say), 10s */
    uint64_t timeout_ms;  /* "timeout": per query, 2s */
};

/* A route of a service (a "match") that requires an API version ("versions" of a service). */
struct gw_version_rule_conf {
    struct gw_match_conf match; /* first: parsed with the auth rules' match table */
    char **versions;            /* "version": one or several version tokens; required */
    size_t nversions;
    char *deprecated_at; /* "deprecated_at", "sunset_at": RFC 3339 UTC times; NULL */
    char *sunset_at;
    char *successor; /* "successor": URI (Link rel="successor-version"); NULL */
};

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
    struct {
        bool enabled;
        char *path;                   /* required when enabled; starts with '/' */
        uint64_t interval_ms;         /* default 10s */
        uint64_t timeout_ms;          /* default 2s, < interval_ms */
        uint32_t healthy_threshold;   /* default 2 */
        uint32_t unhealthy_threshold; /* default 3 */
        uint16_t status_min;          /* "expected_status", default "200-399" */
        uint16_t status_max;
    } health_check;
    /** "outlier_detection": passive checks; enabled by default, false disables */
    struct {
        bool enabled;
        uint32_t consecutive_failures; /* default 5 */
        uint64_t base_ejection_ms;     /* "base_ejection_time", default 30s */
        uint64_t max_ejection_ms;      /* "max_ejection_time", default 300s, >= base */
        uint32_t max_ejection_percent; /* default 50 */
    } outlier;
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

/* A name and a string value ("tracing.headers", "tracing.resource_attributes"). */
struct gw_kv {
    char *key;
    char *value;
};

/* "tracing" (config_tracing.c, docs/tracing.md). Off unless the section is there. */
struct gw_tracing_conf {
    bool enabled;              /* "tracing": an object or true; absent or false = off */
    char *endpoint;            /* "endpoint": OTLP/HTTP traces URL; NULL = export nothing */
    double sample_ratio;       /* "sample_ratio": head sampling of new traces, default 1 */
    bool parent_based;         /* "parent_based": follow the caller's sampled flag, default true */
    bool always_sample_errors; /* "always_sample_errors", default true */
    char *service_name;        /* "service_name", default "gantry" */
    char *service_instance_id; /* "service_instance_id"; NULL = one made at start */
    struct gw_kv *resource;    /* "resource_attributes" */
    size_t nresource;
    struct gw_kv *headers; /* "headers": sent with every export */
    size_t nheaders;
    uint32_t batch_size;        /* "batch_size": spans per export, default 512 */
    uint64_t flush_interval_ms; /* "flush_interval": a partial batch waits at most this, 5s */
    uint32_t queue_size;        /* "queue_size": finished traces per worker, default 8192 */
    uint64_t timeout_ms;        /* "timeout": one export, default 10s */
};

/* One path the proxy port answers itself ("probes"): compared exactly with the request's path
 * as sent (before normalisation, without the query), for GET and HEAD only. len 0: that probe
 * is off, and the path goes to the routes like any other. */
struct gw_probe_path {
    char *path;
    size_t len;
};

/* ---- TLS (config_tls.c, tls/) -------------------------------------------------------------- */

/* One certificate of the TLS listener: "tls.certificates[]". */
struct gw_tls_cert_conf {
    char *cert;   /* "cert": PEM file, the leaf first, then its intermediates in order */
    char *key;    /* "key": PEM private key of the leaf */
    char **names; /* "server_names": exact names or "*.example.com"; none = default only */
    size_t nnames;
    char *ocsp; /* "ocsp_staple": a DER OCSP response file to staple; NULL = none */
};

/* "tls": the HTTPS listener (off when absent). */
struct gw_tls_conf {
    bool enabled;
    char *listen_host; /* "listen", default "0.0.0.0:8443" */
    uint16_t listen_port;
    struct gw_tls_cert_conf *certs; /* "certificates": the first is the default */
    size_t ncerts;
    int min_version;      /* "min_version": 0x0303 (TLS 1.2, default) or 0x0304 (TLS 1.3) */
    char *ciphers;        /* "ciphers": TLS 1.2 cipher list (OpenSSL syntax) */
    char *ciphersuites;   /* "ciphersuites": TLS 1.3 suites */
    char *curves;         /* "curves": key-exchange groups */
    bool session_tickets; /* "session_tickets", default true */
    uint64_t ticket_key_rotation_ms; /* "ticket_key_rotation", default 1h */
    uint32_t session_cache;          /* "session_cache": entries, default 20000; 0 = off */
    uint64_t session_timeout_ms;     /* "session_timeout", default 1h */
    char **redirect_hosts; /* "redirect_http": hosts whose plain-HTTP requests get a 308 */
    size_t nredirect_hosts;
    bool redirect_all; /* "redirect_http" is true or contains "*" */
    bool alpn_h2;      /* offer "h2" in ALPN (set from "http2.enabled", not a key of its own) */
    /* "client_auth": client certificates (mTLS), off when absent */
    struct gw_tls_client_auth_conf {
        bool enabled;
        char *ca;              /* "ca": PEM bundle of the CAs client certificates chain to */
        bool required;         /* "required", default true: no certificate, no handshake */
        uint32_t verify_depth; /* "verify_depth", default 4 */
        char *subject_header;  /* "subject_header", default "x-client-cert-subject" */
        char *san_header;      /* "san_header", default "x-client-cert-san" */
    } client_auth;
};

/* "http2": HTTP/2 to clients (h2/, conn/h2_conn.c); on by default for the TLS listener. */
struct gw_http2_conf {
    bool enabled;                    /* ALPN "h2" on the TLS listener (default true) */
    bool cleartext;                  /* "cleartext": prior-knowledge h2c on "listen" (false) */
    uint32_t max_concurrent_streams; /* "max_concurrent_streams", default 128 */
    uint32_t max_header_list_size;   /* "max_header_list_size", default 64 KiB */
    uint32_t initial_window_size;    /* "initial_window_size", default 64 KiB - 1 */
    uint32_t max_resets;             /* "max_resets_per_second", default 100 */
    uint32_t max_control;            /* "max_control_frames_per_second", default 100 */
    uint32_t max_continuations;      /* "max_continuation_frames", default 8 */
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
    struct {
        enum gw_log_level level;          /* "log.level": debug|info|warn|error, default info */
        enum gw_log_format access_format; /* "log.access_format": text|json, default text */
        char *access_log; /* "log.access": "stdout" (default) | "stderr" | "off" | file path */
        char *error_log;  /* "log.error": "stderr" (default) | "stdout" | file path */
        /* "log.access_fields": enum gw_log_field values, in order; default: time request_id
         * client request status bytes_in bytes_out duration_ms upstream_ms service target
         * trace_id */
        uint8_t access_fields[GW_LOG_MAX_FIELDS];
        uint8_t naccess_fields;
    } log;
    /** "probes": the proxy port's own answers to liveness, readiness and startup probes */
    struct {
        struct gw_probe_path health;  /* "probes.health", default "/health" */
        struct gw_probe_path ready;   /* "probes.ready", default "/ready" (503 while draining) */
        struct gw_probe_path startup; /* "probes.startup", default "/health/startup" */
    } probes;
    /** "metrics" (docs/metrics.md) */
    struct {
        bool enabled;                /* "metrics.enabled", default true: request metrics recorded */
        bool expose_on_proxy;        /* "expose_on_proxy", default false */
        char *proxy_path;            /* "proxy_path", default "/metrics" */
        size_t proxy_path_len;       /* 0 unless expose_on_proxy */
        char *proxy_api_key;         /* "proxy_api_key", NULL = none */
        struct gw_cidr *proxy_allow; /* "proxy_allow": networks allowed to scrape */
        size_t nproxy_allow;
        uint32_t max_consumers; /* "max_consumers", default 100: consumer label values */
    } metrics;
    struct {
        bool enabled;      /* false when "admin.listen" is "off" */
        char *listen_host; /* "admin.listen", default "127.0.0.1:9000" (NULL when off) */
        uint16_t listen_port;
        bool loopback; /* listen_host is in 127.0.0.0/8 or ::1 */
        /* "admin.api_key", ${ENV} expanded; NULL when absent or empty. Required (a load error)
         * when listen_host is not loopback. */
        char *api_key;
        bool dashboard; /* "admin.dashboard", default true: the web dashboard at /dashboard */
    } admin;
    /** "audit" (README "Audit log", docs/config.md "Audit"); bound at start */
    struct {
        bool enabled;      /* a sink is configured: file, sqlite or postgres.dsn */
        char *file;        /* "audit.file": JSON lines, append-only; NULL = none */
        char *sqlite;      /* "audit.sqlite": database file; NULL = none */
        char *pg_dsn;      /* "audit.postgres.dsn": libpq connection string; NULL = none */
        uint32_t pg_queue; /* "audit.postgres.queue", default 10000: entries held while down */
        uint32_t queue;    /* "audit.queue", default 4096: records on their way to the writer */
        uint32_t events;   /* GW_AUDIT_EV_* bits ("audit.events"), default all */
        uint32_t unauthorized_threshold; /* "unauthorized.threshold", default 5 */
        uint64_t unauthorized_window_ms; /* "unauthorized.window", default 60s */
    } audit;
    struct {
        enum gw_rl_backend backend; /* "rate_limit.backend", default local */
        uint32_t max_keys;          /* "max_keys": per limit, default 100000 */
        enum gw_rl_headers headers; /* "headers", default all */
        struct gw_cidr *trusted;    /* "trusted_proxies": addresses or CIDR blocks */
        size_t ntrusted;
        struct gw_limit_conf *limits; /* "limits": gateway-wide */
        size_t nlimits;
        struct gw_redis_conf {
            char *url; /* "redis.url", required with backend redis */
            char *host;
            uint16_t port;
            char *username; /* from the URL; NULL = none */
            char *password;
            uint32_t db;
            char *key_prefix;                     /* "key_prefix", default "gantry:rl:" */
            uint64_t timeout_ms;                  /* "timeout", default 50ms */
            uint64_t backoff_min_ms;              /* "backoff_min", default 100ms */
            uint64_t backoff_max_ms;              /* "backoff_max", default 5s */
            enum gw_rl_failure_policy on_failure; /* "failure_policy", default fail_open */
            uint32_t local_share;                 /* "local_share", default 0 = off */
        } redis;
    } rate_limit;
    struct {
        /* "auth.jwt" */
        bool jwt_enabled; /* keys or a JWKS URL configured */
        struct gw_jwt_key_conf *jwt_key_confs;
        size_t njwt_key_confs;
        struct gw_jwt_key *jwt_keys; /* loaded from jwt_key_confs at load time */
        size_t njwt_keys;
        char *jwks_url;
        uint64_t jwks_refresh_ms;     /* "jwks_refresh", default 5m */
        uint64_t jwks_min_refresh_ms; /* "jwks_min_refresh": unknown-kid refetch spacing, 10s */
        uint64_t jwks_timeout_ms;     /* "jwks_timeout", default 5s */
        char *issuer;
        char *audience;
        uint64_t leeway_ms;     /* "leeway", default 30s */
        bool require_exp;       /* default true */
        char **required_claims; /* claim names or dotted paths; none by default */
        size_t nrequired_claims;
        char **roles_claims; /* "roles_claim", default ["roles"] */
        size_t nroles_claims;
        char **permissions_claims; /* "permissions_claim", default ["permissions"] */
        size_t npermissions_claims;
        uint32_t cache_entries; /* "cache.max_entries", default 10000; 0 = no cache */
        uint64_t cache_ttl_ms;  /* "cache.max_ttl", default 5m */
        /* "auth.api_keys" */
        char *api_key_header; /* default "x-api-key" (lowercased) */
        char *api_key_query;  /* NULL = not accepted from the query */
        struct gw_consumer_conf *consumers;
        size_t nconsumers;
        /* "auth.introspection" */
        bool introspection_enabled;
        char *introspection_url;
        char *introspection_client_id;
        char *introspection_client_secret;
        uint64_t introspection_timeout_ms;     /* default 2s */
        uint64_t introspection_ttl_ms;         /* "cache_ttl", default 60s */
        uint64_t introspection_neg_ttl_ms;     /* "negative_cache_ttl", default 10s */
        uint32_t introspection_failure_status; /* "failure_status", default 503 */
        /* "auth.identity_headers" (lowercased) */
        char *hdr_consumer; /* default "x-consumer-id" */
        char *hdr_user;     /* default "x-user-id" */
        char *hdr_roles;    /* default "x-user-roles" */
        /* Computed: the three names' lengths, so the upstream rewrite compares a client header
         * only with a name of its length. */
        size_t hdr_consumer_len, hdr_user_len, hdr_roles_len;
    } auth;
    /** "identity" (config_identity.c, README "Built-in identity", docs/config.md "Identity"):
     * register, login, refresh, logout and me on the proxy port. Off unless the section is
     * there; bound at start (a reload keeps the store and key that started). */
    struct gw_identity_conf {
        bool enabled;
        int store;                              /* "store": GW_IDP_STORE_*, default sqlite */
        char *sqlite;                           /* "sqlite": the database file (store sqlite) */
        char *pg_dsn;                           /* "postgres.dsn" (else DATABASE_URL) */
        uint32_t pg_pool;                       /* "postgres.pool", default 4 connections */
        uint64_t pg_timeout_ms;                 /* "postgres.timeout", default 5s */
        char *issuer;                           /* "issuer", default "gantry" */
        char *audience;                         /* "audience", default "gantry" */
        char *kid;                              /* "jwt.kid", default "gantry-identity" */
        char *secret;                           /* "jwt.secret": HS256, at least 32 bytes */
        struct gw_identity_key_conf *key_confs; /* "jwt.keys" */
        size_t nkey_confs;
        char *active_kid; /* "jwt.active": the kid that signs, default the first key's */
        /* the signing keys loaded from jwt.secret and jwt.keys (config_identity.c), and the
         * JWK Set of their public halves; owned by the config (a reference) */
        struct gw_jwt_keyring *keyring;
        char *jwks_path;             /* "jwks.path", default "/.well-known/jwks.json" */
        size_t jwks_path_len;        /* 0 when no asymmetric key: nothing is served */
        uint64_t jwks_max_age_ms;    /* "jwks.max_age", default 5m: its Cache-Control */
        char jwks_cache_control[64]; /* "Cache-Control: public, max-age=N\r\n" */
        uint64_t access_ttl_ms;      /* "access_ttl", default 15m */
        uint64_t refresh_idle_ms;    /* "refresh_idle", default 0 = none */
        uint64_t refresh_ttl_ms;     /* "refresh_ttl", default 720h (30 days) */
        uint32_t opslimit;           /* "password.opslimit", default 2 (argon2id passes) */
        uint64_t memlimit;           /* "password.memlimit", default 64MiB */
        uint32_t min_length;         /* "password.min_length", default 10 (code points) */
        int register_mode;           /* "register.mode": GW_IDP_REGISTER_*, default admin */
        char **invite_codes;         /* "register.invite_codes" */
        size_t ninvite_codes;
        char **default_roles; /* "register.roles", default ["user"] */
        size_t ndefault_roles;
        char *admin_role;              /* "admin_role", default "admin" */
        char *paths[GW_IDP_EP__COUNT]; /* "paths.register|login|...|password" (GW_IDP_EP_*) */
        uint32_t max_failures;         /* "lockout.max_failures", default 5: per account */
        uint32_t max_addr_failures;    /* "lockout.max_address_failures", default 20 */
        uint64_t lockout_window_ms;    /* "lockout.window", default 15m */
        uint64_t lockout_ms;           /* "lockout.duration", default 15m */
        /* "throttle": login attempts per account and per client address, counted by the
         * gateway's rate limiter (rate_limit.backend: in-process or Redis); off when absent */
        bool throttle_enabled;
        uint32_t throttle_account_limit;     /* "throttle.account.limit", default 10 */
        uint64_t throttle_account_period_ms; /* "throttle.account.period", default 1m */
        uint32_t throttle_address_limit;     /* "throttle.address.limit", default 100 */
        uint64_t throttle_address_period_ms; /* "throttle.address.period", default 1m */
        int revocation_backend; /* "revocation.backend": GW_IDP_REVOKE_*, default local */
        char *revocation_key;   /* "revocation.key", default "gantry:identity:revoked" */
        /* "totp": second factor (RFC 6238, HMAC-SHA1), off unless the section is there */
        bool totp_enabled;
        char *totp_key;            /* "totp.encryption_key" (else ENCRYPTION_KEY): 64 hex */
        char **totp_previous_keys; /* "totp.previous_keys" */
        size_t ntotp_previous_keys;
        char *totp_issuer;            /* "totp.issuer" (otpauth URI), default: "issuer" */
        uint32_t totp_digits;         /* "totp.digits", default 6 */
        uint32_t totp_period_s;       /* "totp.period", default 30 (seconds) */
        uint32_t totp_window;         /* "totp.window", default 1 (steps either side) */
        uint32_t totp_recovery_codes; /* "totp.recovery_codes", default 10 */
    } identity;
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
    struct gw_service_conf *services;
    size_t nservices;
    /** "discovery": the resolver and interval of DNS discovery */
    struct gw_discovery_conf discovery;
    /** "registration": backends that register themselves through the admin API
     * (config_registration.c, README "Registering backends"); off when absent */
    struct gw_registration_conf {
        bool enabled;
        /** "defaults": keys of the service made for a new registration prefix (a service
         * object without name, prefix and targets), as written; NULL when absent. A reference
         * into source: read-only, control thread. */
        struct json_t *defaults;
        uint64_t ttl_ms;            /* "ttl": when a registration gives none, default 30s */
        uint64_t max_ttl_ms;        /* "max_ttl": longest TTL accepted, default 24h */
        uint32_t max_registrations; /* "max_registrations", default 10000 */
        uint32_t failures; /* "failures": in a row that make a registered target inactive, 3 */
        uint64_t publish_interval_ms; /* "publish_interval": least time between, default 100ms */
        /* "encryption_key": 64 hex digits, ${ENV} expanded; ENCRYPTION_KEY when absent. NULL:
         * none (registrations cannot carry tokens). */
        char *encryption_key;
        char **previous_keys; /* "previous_keys": older keys, to read tokens stored with them */
        size_t nprevious_keys;
        char *token_header; /* "token_header", default "Authorization" */
        char *token_prefix; /* "token_prefix", default "Bearer " */
        /* "store": file the registrations are kept in across restarts (read at start);
         * NULL: in memory only */
        char *store;
        /* "redis": redis://[[user]:password@]host[:port][/db] shared by the instances that
         * serve the same registrations; NULL: this instance's own */
        char *redis;
        char *redis_key_prefix; /* "redis_key_prefix", default "gantry:reg:" */
    } registration;
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
