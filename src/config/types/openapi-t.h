/*
 * The "openapi" section's types: the aggregated OpenAPI document (config_openapi.c,
 * docs/openapi.md).
 */
#ifndef GW_CONFIG_TYPES_OPENAPI_T_H
#define GW_CONFIG_TYPES_OPENAPI_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gw_openapi_conf {
    bool enabled;        /* the root section's switch: off when absent */
    char *path;          /* "path": where the merged document is served; default "/docs" */
    size_t path_len;     /* strlen(path) when enabled, else 0 (matches no request path) */
    bool viewer;         /* "viewer": the HTML viewer for browsers at the same path; true */
    char *title;         /* "title": info.title, default "gantry" */
    char *version;       /* "version": info.version, default "1.0.0" */
    char *server_url;    /* "server_url": servers[0].url; default "/" */
    uint64_t refresh_ms; /* "refresh": default 5m */
    uint64_t timeout_ms; /* "timeout": one fetch, default 5s */
    uint64_t max_bytes;  /* "max_bytes": largest document fetched, default 4 MiB */
    char *ca_file;       /* "ca_file": CAs trusted for https:// sources besides the system's */
};

#endif
