/*
 * The cache key of a request (RFC 9111 2: "the request method and target URI"), with the
 * parts a service chooses.
 *
 * Layout (what purge relies on): the URL first, "<host><path>[?<query>]", then for each
 * further part a NUL and the part: "GET" (when the method is a key part; HEAD reads and
 * writes GET's entries, as a HEAD is answered from a stored GET), then "<name>:<value>" for
 * each named request header (all its lines joined by ","; absent fields write nothing after
 * the colon), then "@<service>" when the request names its service, then "v=<version>" when
 * it names an API version. The service and version make a key of what answers the URL, not
 * only of the URL: two services (two API versions) on one prefix never share an entry, even
 * when the version segment was stripped from the path. gw_cache_key_url_len gives the URL
 * part's length.
 *
 * Contract: pure, no allocation; host is lower-cased; the query is kept as sent, or with its
 * parameters sorted (byte order, stable) and the ignored ones dropped (compared by name, the
 * part before "=", as sent: no percent-decoding). A key longer than the caller's buffer is an
 * error: such requests are not cached.
 */
#ifndef GW_CACHE_KEY_H
#define GW_CACHE_KEY_H

#include <stdbool.h>
#include <stddef.h>

#include "http1/parser.h"

#define GW_CACHE_KEY_MAX 4096
#define GW_CACHE_KEY_MAX_PARAMS 64 /* a longer query is kept unsorted */

struct gw_cache_key_conf {
    bool method;     /* the method is a key part (default) */
    bool host;       /* the Host is a key part (default) */
    bool query;      /* the query is a key part (default) */
    bool sort_query; /* parameters sorted, so ?a=1&b=2 and ?b=2&a=1 share an entry */
    const char *const *ignore_params; /* parameter names left out (utm_source, ...) */
    size_t n_ignore;
    const char *const *headers; /* request fields that are part of the key (lower case) */
    size_t n_headers;
};

/* The parts of the request the key is built from. */
struct gw_cache_key_req {
    enum gw_http_method method;
    const char *host;
    size_t host_len;
    const char *path;
    size_t path_len;
    const char *query; /* without "?"; NULL or empty when there is none */
    size_t query_len;
    const struct gw_http1_message *msg; /* for the named headers; may be NULL without any */
    const char *service;                /* the service that answers; NULL: no such part */
    size_t service_len;
    const char *version; /* the API version the request was routed by; NULL: none */
    size_t version_len;
};

/* Writes the key into out[0..cap): its length, or -1 when it does not fit. */
long gw_cache_key_build(const struct gw_cache_key_conf *conf, const struct gw_cache_key_req *req,
                        char *out, size_t cap);

/* Length of the URL part of a key built by gw_cache_key_build. */
size_t gw_cache_key_url_len(const char *key, size_t len);

#endif
