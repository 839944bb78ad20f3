/*
 * API versioning's types (config_version.c, docs/versioning.md): the "versioning" section and
 * a service's "versions" routes.
 */
#ifndef GW_CONFIG_TYPES_VERSIONING_T_H
#define GW_CONFIG_TYPES_VERSIONING_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/types/match-t.h"

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

/* A route of a service (a "match") that requires an API version ("versions" of a service). */
struct gw_version_rule_conf {
    struct gw_match_conf match; /* first: parsed with the auth rules' match table */
    char **versions;            /* "version": one or several version tokens; required */
    size_t nversions;
    char *deprecated_at; /* "deprecated_at", "sunset_at": RFC 3339 UTC times; NULL */
    char *sunset_at;
    char *successor; /* "successor": URI (Link rel="successor-version"); NULL */
};

#endif
