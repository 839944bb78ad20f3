/*
 * The response cache sections' types (config_cache.c, docs/cache.md).
 */
#ifndef GW_CONFIG_TYPES_CACHE_T_H
#define GW_CONFIG_TYPES_CACHE_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/types/match-t.h"

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

#endif
