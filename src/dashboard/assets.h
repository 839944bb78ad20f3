/*
 * The dashboard's static files (src/dashboard/assets/), built into the binary: the build runs
 * scripts/embed_assets.cmake, which writes them as byte arrays into a generated C file of the
 * build directory. Read-only data, any thread.
 */
#ifndef GW_DASHBOARD_ASSETS_H
#define GW_DASHBOARD_ASSETS_H

#include <stddef.h>

struct gw_dashboard_asset {
    const char *name;          /** file name ("index.html") */
    const unsigned char *data; /** its bytes (followed by a NUL that len does not count) */
    size_t len;
    const char *etag; /** "\"<16 hex digits of its SHA-256>\"" */
};

extern const struct gw_dashboard_asset gw_dashboard_assets[];
extern const size_t gw_dashboard_nassets;

/* The asset a request path names under /dashboard: "/dashboard" and "/dashboard/" give
 * index.html, "/dashboard/NAME" the file NAME. NULL when there is none (or the path is not
 * under /dashboard). */
const struct gw_dashboard_asset *gw_dashboard_asset_find(const char *path, size_t len);

/* The Content-Type of an asset, by its extension. */
const char *gw_dashboard_asset_type(const struct gw_dashboard_asset *a);

#endif
