/*
 * The browser policies' types: CORS and the CSRF Origin check (config_cors.c, docs/cors.md).
 *
 * Each is set at three levels: the gateway's section (the defaults of every service), a
 * service's section (inherits the gateway's keys it does not write; false turns it off) and a
 * service's rules (a "match" plus the keys that differ for the requests it matches; the first
 * matching rule applies). "set" records which keys one level wrote; policy/cors.h
 * gw_cors_conf_overlay and gw_csrf_conf_overlay merge the levels.
 */
#ifndef GW_CONFIG_TYPES_CORS_T_H
#define GW_CONFIG_TYPES_CORS_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/types/match-t.h"

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

#endif
