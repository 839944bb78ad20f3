/*
 * The authentication sections' types (config_auth.c, docs/auth.md): the gateway-wide "auth"
 * object and a service's "auth".
 */
#ifndef GW_CONFIG_TYPES_AUTH_T_H
#define GW_CONFIG_TYPES_AUTH_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/types/match-t.h"

#define GW_AUTH_JWT (1u << 0)
#define GW_AUTH_API_KEY (1u << 1)
#define GW_AUTH_INTROSPECTION (1u << 2)
#define GW_AUTH_MTLS (1u << 3) /* a verified client certificate (tls.client_auth) */

struct gw_jwt_key;

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

/* The gateway-wide "auth" object: JWT, API keys and consumers, introspection, identity headers. */
struct gw_auth_conf {
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
};

#endif
