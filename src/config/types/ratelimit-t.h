/*
 * The rate-limit sections' types (config_ratelimit.c, docs/ratelimit.md): the gateway-wide
 * "rate_limit" object, its Redis connection (shared by every Redis user), and one limit.
 */
#ifndef GW_CONFIG_TYPES_RATELIMIT_T_H
#define GW_CONFIG_TYPES_RATELIMIT_T_H

#include <stddef.h>
#include <stdint.h>

#include "config/types/match-t.h"

/* "key" of a limit: what one counter is shared by. */
enum gw_limit_key {
    GW_LIMIT_KEY_IP = 0,   /* "ip": the client address (trusted_proxies honoured) */
    GW_LIMIT_KEY_GLOBAL,   /* "global": one counter for everyone */
    GW_LIMIT_KEY_HEADER,   /* "header:NAME": that header's value (absent: the client address) */
    GW_LIMIT_KEY_CONSUMER, /* "consumer": the authenticated consumer (none: the client address) */
    GW_LIMIT_KEY_ROUTE,    /* "route": method + the matched prefix */
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

struct gw_cidr; /* net/addr.h */

/* "rate_limit.redis": the Redis connection (the response cache, the hub and identity's
 * revocations use it too). */
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
};

/* The gateway-wide "rate_limit" object. */
struct gw_ratelimit_conf {
    enum gw_rl_backend backend; /* "rate_limit.backend", default local */
    uint32_t max_keys;          /* "max_keys": per limit, default 100000 */
    enum gw_rl_headers headers; /* "headers", default all */
    struct gw_cidr *trusted;    /* "trusted_proxies": addresses or CIDR blocks */
    size_t ntrusted;
    struct gw_limit_conf *limits; /* "limits": gateway-wide */
    size_t nlimits;
    struct gw_redis_conf redis;
};

#endif
