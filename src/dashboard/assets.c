/*
 * Finding the dashboard's embedded files by request path (see assets.h).
 */
#include "dashboard/assets.h"

#include <stdbool.h>
#include <string.h>

const struct gw_dashboard_asset *gw_dashboard_asset_find(const char *path, size_t len)
{
    static const char prefix[] = "/dashboard";
    size_t plen = sizeof prefix - 1;
    if (len < plen || memcmp(path, prefix, plen) != 0)
        return NULL;
    const char *name = path + plen;
    size_t n = len - plen;
    if (n == 0 || (n == 1 && name[0] == '/')) {
        name = "/index.html";
        n = strlen(name);
    }
    if (name[0] != '/')
        return NULL;
    name++;
    n--;
    for (size_t i = 0; i < gw_dashboard_nassets; i++) {
        const struct gw_dashboard_asset *a = &gw_dashboard_assets[i];
        if (strlen(a->name) == n && memcmp(a->name, name, n) == 0)
            return a;
    }
    return NULL;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

const char *gw_dashboard_asset_type(const struct gw_dashboard_asset *a)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (ends_with(a->name, types[i].ext))
            return types[i].type;
    return "application/octet-stream";
}
