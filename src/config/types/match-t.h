/*
 * "match": which requests of a scope a rule applies to; shared by the rules of rate limits,
 * auth, transformations, validation, cache, compression, CORS, IP rules, security headers,
 * versions and WebSocket routes (config_ratelimit.c parses it).
 */
#ifndef GW_CONFIG_TYPES_MATCH_T_H
#define GW_CONFIG_TYPES_MATCH_T_H

#include <stddef.h>
#include <stdint.h>

/* "match" of a limit or an auth rule: which requests of its scope it applies to. */
struct gw_match_conf {
    char **prefixes; /* "prefix": path prefixes on segment boundaries; none = every path */
    size_t nprefixes;
    uint32_t methods; /* "methods": bitmask of (1u << enum gw_http_method); 0 = any */
};

#endif
