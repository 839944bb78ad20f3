/*
 * RFC 9111 decisions for a shared cache, as pure functions: what a response says about its
 * caching (read from its head), whether it may be stored (section 3), its freshness lifetime
 * (4.2.1) and age (4.2.3), and whether a stored response may be used for a request (4, 4.2.4,
 * 5.2.1, RFC 5861).
 *
 * Contract
 * - Nothing here allocates, locks or reads a clock: times are seconds since the epoch passed
 *   in by the caller. Every function is safe on any input (fuzzed through the parsers).
 * - "Shared cache" throughout: private is never stored, s-maxage wins over max-age, and
 *   proxy-revalidate counts like must-revalidate.
 */
#ifndef GW_CACHE_FRESH_H
#define GW_CACHE_FRESH_H

#include <stdbool.h>
#include <stdint.h>

#include "cache/cc.h"
#include "http1/parser.h"

/* What a response's head says about caching it. */
struct gw_cache_resp_info {
    int status;
    struct gw_cc cc;
    int64_t date;          /* Date, -1 when absent or invalid */
    int64_t expires;       /* Expires, valid when has_expires and !expires_bad */
    int64_t last_modified; /* Last-Modified, -1 when absent or invalid */
    int64_t age;           /* Age (first valid value), -1 when absent or invalid */
    bool has_expires;
    bool expires_bad; /* an Expires that is no HTTP-date ("0"): already expired (5.3) */
    bool has_etag;    /* a validator for If-None-Match */
    bool has_set_cookie;
    bool vary_star; /* Vary: * (4.1: such a response never matches a later request) */
};

/* What a request's head says: its directives and the facts storability depends on. */
struct gw_cache_req_info {
    struct gw_cc cc;        /* Cache-Control, and Pragma: no-cache without it */
    bool has_authorization; /* 3.5 */
    bool has_conditional;   /* If-None-Match or If-Modified-Since */
};

/* The gateway's settings for lifetimes the response does not give. */
struct gw_cache_fresh_conf {
    /** heuristic freshness (4.2.2): this percent of the time since Last-Modified; 0 = off */
    unsigned heuristic_percent;
    /** upper bound of a heuristic lifetime, seconds */
    int64_t heuristic_max;
    /** lifetime given to a response with no freshness information at all, seconds; 0 = none
     * (the service's "ttl"; a heuristic freshness of the gateway's choosing, 4.2.2) */
    int64_t default_ttl;
    /** store responses to requests with Set-Cookie (never by default) */
    bool allow_set_cookie;
};

/* Why a response is not stored (0: it may be). Also the Cache-Status "detail". */
enum gw_cache_nostore {
    GW_CACHE_STORE_OK = 0,
    GW_CACHE_NS_METHOD,        /* not a GET */
    GW_CACHE_NS_STATUS,        /* 1xx, 206, 304, or a status this cache does not understand */
    GW_CACHE_NS_NO_STORE,      /* no-store in the request or the response */
    GW_CACHE_NS_PRIVATE,       /* private */
    GW_CACHE_NS_AUTHORIZATION, /* request with Authorization, response not allowing it (3.5) */
    GW_CACHE_NS_SET_COOKIE,    /* Set-Cookie, not allowed by the configuration */
    GW_CACHE_NS_VARY_STAR,     /* Vary: * */
    GW_CACHE_NS_NO_FRESHNESS,  /* no lifetime and nothing to revalidate with */
};

/* How a stored response may be used for a request. */
enum gw_cache_use {
    GW_CACHE_USE_FRESH,    /* fresh: serve it */
    GW_CACHE_USE_STALE,    /* stale, but the client accepts it (max-stale): serve it */
    GW_CACHE_USE_SWR,      /* stale within stale-while-revalidate: serve, refresh behind */
    GW_CACHE_USE_VALIDATE, /* must be validated with the origin first (or is unusable) */
};

/* Fills *info from a parsed response head. now: for RFC 850 dates. */
void gw_cache_resp_info_read(struct gw_cache_resp_info *info, const struct gw_http1_message *m,
                             int64_t now);

/* Fills *info from a parsed request head. */
void gw_cache_req_info_read(struct gw_cache_req_info *info, const struct gw_http1_message *m);

/* The name of a reason (e.g. "no-store"), for Cache-Status and logs. */
const char *gw_cache_nostore_name(enum gw_cache_nostore why);

/*
 * Whether the response to a request with `method` may be stored (RFC 9111 3, 3.5), with the
 * lifetime gw_cache_freshness_lifetime would give. A response with a lifetime of 0 is stored
 * only when it has a validator and says so itself (no-cache, max-age=0): it can then be
 * revalidated instead of fetched.
 */
enum gw_cache_nostore gw_cache_storable(enum gw_http_method method,
                                        const struct gw_cache_req_info *req,
                                        const struct gw_cache_resp_info *resp,
                                        const struct gw_cache_fresh_conf *conf,
                                        int64_t response_time);

/*
 * Freshness lifetime in seconds (4.2.1): s-maxage, else max-age, else Expires - Date (the
 * response time when Date is absent), else heuristics when configured (4.2.2): a percentage
 * of the time since Last-Modified, else default_ttl; only for heuristically cacheable statuses
 * or public responses. 0 for malformed freshness, an invalid Expires, or nothing applicable.
 */
int64_t gw_cache_freshness_lifetime(const struct gw_cache_resp_info *resp,
                                    const struct gw_cache_fresh_conf *conf, int64_t response_time);

/*
 * corrected_initial_age of 4.2.3, from the response's Age and Date and the times the request
 * was sent and the response received. The current age is this plus (now - response_time).
 */
int64_t gw_cache_initial_age(const struct gw_cache_resp_info *resp, int64_t request_time,
                             int64_t response_time);

/*
 * How a stored response (flags and numbers of its Cache-Control in resp_cc, its lifetime and
 * current age) may serve a request with directives req_cc. max_swr bounds the response's
 * stale-while-revalidate (gateway-wide maximum, seconds). Request no-cache, response no-cache,
 * a too old or not fresh enough answer (request max-age, min-fresh) need validation; a stale
 * one is served only where 4.2.4 allows (never with must-revalidate, proxy-revalidate or
 * s-maxage).
 */
enum gw_cache_use gw_cache_usable(const struct gw_cc *resp_cc, int64_t lifetime, int64_t age,
                                  const struct gw_cc *req_cc, int64_t max_swr);

/*
 * Whether the stale response may answer in place of an error (RFC 5861 4: stale-if-error of
 * the response or of the request, bounded by max_sie; never where 4.2.4 forbids stale).
 */
bool gw_cache_stale_if_error(const struct gw_cc *resp_cc, int64_t lifetime, int64_t age,
                             const struct gw_cc *req_cc, int64_t max_sie);

#endif
