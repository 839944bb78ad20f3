/*
 * Compiled router: host + longest path prefix on segment boundaries + method.
 *
 * Contract (docs/routing.md has the reasoning)
 * - A prefix matches a path on segment boundaries: "/api/users" matches "/api/users",
 *   "/api/users/" and "/api/users/7", never "/api/usersX"; "/" matches every path.
 * - Host first, then path (virtual hosts, like nginx server blocks and Envoy virtual hosts):
 *   the host groups that fit the request's Host are tried from the most specific (exact host,
 *   then wildcards from the longest suffix, then any host) and the first group with a prefix
 *   matching the path is chosen; within it the longest matching prefix wins.
 * - Method last: if the chosen prefix has no route allowing the method the answer is
 *   GW_ROUTE_METHOD_NOT_ALLOWED with the allowed set; there is no fall back to a shorter
 *   prefix or another host group, so a 405 never turns into a different service's answer.
 * - API versions: routes of one (host, prefix) may each carry a version; a prefix with at least
 *   one such route is versioned, and its routes without a version are its default (for requests
 *   that name no version). gw_router_match then answers GW_ROUTE_VERSION and the caller picks
 *   among the prefix's versions with gw_router_match_version, giving the version it read from
 *   the request (or NULL for the default). A prefix without versions never takes that path: it
 *   costs a lookup nothing.
 * - Cost does not grow with the number of routes: one hash probe per candidate (host group,
 *   path boundary); no allocation in gw_router_match. A built router is immutable, so any
 *   number of threads may match against it concurrently.
 */
#ifndef GW_ROUTE_ROUTER_H
#define GW_ROUTE_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "http1/parser.h" /* enum gw_http_method */

/* Most '/'-separated segments a route prefix may have ("/a/b" has 2). */
#define GW_ROUTE_MAX_DEPTH 64
/* Longest route host accepted (DNS names are at most 253 characters). */
#define GW_ROUTE_MAX_HOST 255

#define GW_ROUTE_METHOD(m) (1u << (m))

struct gw_route_spec {
    const char *prefix;  /* starts with '/', normalised (gw_path_normalize leaves it unchanged),
                            no trailing '/' except "/" itself */
    const char *host;    /* NULL = any host; "api.example.com" exact or "*.example.com"
                            wildcard (one or more labels); compared case-insensitively, a
                            trailing '.' is ignored */
    uint32_t methods;    /* bitmask of GW_ROUTE_METHOD(enum gw_http_method); 0 = any */
    void *data;          /* returned on match (the service) */
    const char *version; /* NULL: none; else an API version ("2"): specs of one host, prefix
                            and version must have disjoint method sets; specs without a
                            version beside versioned ones are the prefix's default */
};

enum gw_route_result {
    GW_ROUTE_FOUND = 0,
    GW_ROUTE_NOT_FOUND,
    GW_ROUTE_METHOD_NOT_ALLOWED,
    GW_ROUTE_VERSION,         /* the prefix is versioned: call gw_router_match_version */
    GW_ROUTE_VERSION_UNKNOWN, /* gw_router_match_version: no route has that version */
};

struct gw_route_match {
    void *data;        /* FOUND: the route's data */
    size_t prefix_len; /* FOUND and METHOD_NOT_ALLOWED: length of the matched prefix without
                          its trailing '/', so 0 for the prefix "/". path + prefix_len is
                          always empty or starts with '/': it is what strip_prefix forwards
                          (an empty rest means "/"). */
    uint32_t allowed;  /* METHOD_NOT_ALLOWED: union of the methods the matched prefix allows
                          (for the Allow header); 0 otherwise */
    const void *entry; /* VERSION and VERSION_UNKNOWN: the versioned prefix (opaque) */
};

struct gw_router;

/* Compiles specs (prefix and host strings are copied; the caller may free them after). n may
 * be 0 (every lookup is then NOT_FOUND). Returns 0 and *out, GW_ENOMEM, or GW_EINVAL for an
 * invalid spec (prefix not normalised, with a trailing '/', deeper than GW_ROUTE_MAX_DEPTH;
 * malformed host) or for two specs with the same host and prefix whose method sets overlap
 * (0, "any", overlaps everything). */
int gw_router_build(const struct gw_route_spec *specs, size_t n, struct gw_router **out);

/* Frees a router built by gw_router_build; NULL is a no-op. No match may be running on it. */
void gw_router_free(struct gw_router *r);

/* Finds the route for a request. host: the request's Host value, may include ":port" (ignored)
 * and be NULL or empty (then only any-host routes apply); compared case-insensitively.
 * path: the normalised path (gw_path_normalize), without query; a path not starting with '/'
 * is NOT_FOUND. Fills *m (data, prefix_len, allowed; see struct gw_route_match). */
enum gw_route_result gw_router_match(const struct gw_router *r, const char *host, size_t host_len,
                                     const char *path, size_t path_len, enum gw_http_method method,
                                     struct gw_route_match *m);

/* After GW_ROUTE_VERSION: picks the route of the prefix in m->entry with version ver (ver_len
 * bytes, compared exactly; NULL: the prefix's default, its routes without a version) that
 * allows method. FOUND (m->data set), METHOD_NOT_ALLOWED (the version exists; m->allowed is
 * its method set) or VERSION_UNKNOWN (also when ver is NULL and the prefix has no default).
 * No allocation. */
enum gw_route_result gw_router_match_version(const struct gw_router *r, const char *ver,
                                             size_t ver_len, enum gw_http_method method,
                                             struct gw_route_match *m);

/* The distinct versions of the versioned prefix m->entry, in the order their specs were given
 * (its default, having none, is not one): version i (0-based) of the prefix, or NULL past the
 * last. */
const char *gw_router_version(const struct gw_router *r, const struct gw_route_match *m, size_t i);

/* Number of routes (specs) the router was built from. */
size_t gw_router_count(const struct gw_router *r);

#endif
