/*
 * API versioning: reading a request's version (pure functions, fuzzed by fuzz/fuzz_version.c),
 * and the stage that marks deprecated versions and strips a path version segment
 * (policy/version.c). Routing by version is the router's (route/router.h: a versioned prefix
 * answers GW_ROUTE_VERSION and conn/request.c picks the version read here); docs/versioning.md
 * explains the whole.
 */
#ifndef GW_POLICY_VERSION_H
#define GW_POLICY_VERSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config-t.h"
#include "http1/parser.h"

struct gw_snapshot;
struct gw_service;

/* Longest version accepted from a request (longer values are not a version). */
#define GW_VERSION_MAX 64

/* True if s[0..n) is a version token: 1 to GW_VERSION_MAX letters, digits, '.', '_', '-'. */
bool gw_version_token(const char *s, size_t n);

/* Reads the version of a request from the sources of vc other than the path (the router reads
 * that one), in vc->order: the first of vc->headers present, the accept_param parameter of an
 * Accept media range, the query parameter. query: "?..." or NULL. A value that is not a version
 * token counts as given: *ver points at it so that the answer says it is unknown. Returns true
 * with *ver, *ver_len (pointing into the message or the query), false when no source names a
 * version. Pure: no allocation. */
bool gw_version_extract(const struct gw_versioning_conf *vc, const struct gw_http1_message *m,
                        const char *query, size_t query_len, const char **ver, size_t *ver_len);

/* The value of parameter name (case-insensitive) in the first media range of an Accept field
 * value that has it: "application/vnd.x+json; version=2, text/html" gives "2". A quoted value
 * is given without its quotes; one with a backslash escape is not accepted. Returns true with
 * *val, *val_len (pointing into v), false when none. */
bool gw_version_accept_param(const char *v, size_t n, const char *name, size_t name_len,
                             const char **val, size_t *val_len);

/* For a request that came with a version segment no route has ("/v9/api/users/export") and
 * whose path without it (path, n) is routed to svc: the "versions" member of the unknown-version
 * answer of svc's first version rule that covers path and method (its path routes would have
 * matched a version it has), or NULL when none does (or versioning has no path source). */
const char *gw_version_rule_offered(const struct gw_snapshot *s, const struct gw_service *svc,
                                    const char *path, size_t n, int method);

/* Parses an RFC 3339 UTC time "YYYY-MM-DDTHH:MM:SSZ" (a 'T' or a space; 'z' too) into seconds
 * since the epoch. 0 or GW_EINVAL. */
int gw_version_parse_time(const char *s, int64_t *out);

/* A path route of a service's version rules ("versions"), when versioning.sources has "path":
 * "/v2/api/users/export" for a rule with prefix "/api/users/export" and version "2", routed to
 * the service like a prefix of its own (docs/versioning.md, "Versions of a route"). */
struct gw_version_path {
    char *path; /* "/<path_prefix><version><rule prefix>" ("/v2" for the prefix "/") */
    size_t path_len;
    uint32_t methods;      /* routed methods (GET implies HEAD); 0 = any */
    size_t rule;           /* index in the service's version_rules */
    size_t prefix_index;   /* index in the rule's match.prefix; SIZE_MAX: the rule has none and
                              this is the service's prefix */
    const char *version;   /* the version (points into the rule) */
    size_t seg_len;        /* length of the version segment "/v2" */
    size_t svc_prefix_len; /* the service prefix the rule's prefix falls under (0 for "/") */
};

/* The path routes of sc's version rules: one per rule, version and rule prefix (the service's
 * prefixes for a rule without one) that falls under one of sc's prefixes, for the methods both
 * the rule and the service allow. A path that an earlier rule already routes for a method is
 * not routed again for it (the first rule wins, as for requests), nor one that is a prefix or
 * the version path route of sc itself. none (n == 0, *out NULL) when cfg->versioning.path is
 * off or sc has no rules. Returns 0 or GW_ENOMEM; free with gw_version_paths_free. */
int gw_version_paths(const struct gw_config *cfg, const struct gw_service_conf *sc,
                     struct gw_version_path **out, size_t *n);

/* Does any service of cfg have version rules with path routes to compute (versioning.sources
 * has "path")? When not, gw_version_paths gives none for every service. */
bool gw_version_has_paths(const struct gw_config *cfg);

/* Frees what gw_version_paths returned; NULL is a no-op. */
void gw_version_paths_free(struct gw_version_path *p, size_t n);

#endif
