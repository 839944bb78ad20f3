/*
 * Routing a request to the service of the API version it names (docs/versioning.md). Only
 * requests for a versioned prefix come here: the router answers GW_ROUTE_VERSION for them and
 * for nothing else, so unversioned services never run this code.
 */
#include <stdio.h>
#include <string.h>

#include "conn/internal.h"
#include "control/snapshot-t.h"
#include "core/error.h"
#include "policy/chain.h"
#include "policy/version.h"
#include "route/router.h"

/* The answer's room for the versions offered ("versions":["1","2",...]). */
#define VERSIONS_TEXT_MAX 1024

enum gw_route_result gw__conn_route_version(struct gw_request *r, const char *query,
                                            size_t query_len, enum gw_http_method method,
                                            struct gw_route_match *m)
{
    const struct gw_versioning_conf *vc = &r->snap->cfg->versioning;
    const char *ver = NULL;
    size_t len = 0;
    if (gw_version_extract(vc, &r->msg, query, query_len, &ver, &len))
        return gw_router_match_version(r->snap->router, ver, len, method, m);
    /* No version named: the prefix's default service (an unversioned service sharing it), else
     * versioning.default. */
    const void *entry = m->entry;
    enum gw_route_result res = gw_router_match_version(r->snap->router, NULL, 0, method, m);
    if (res != GW_ROUTE_VERSION_UNKNOWN || vc->default_version == NULL)
        return res;
    m->entry = entry;
    return gw_router_match_version(r->snap->router, vc->default_version,
                                   strlen(vc->default_version), method, m);
}

enum gw_route_result gw__conn_route_path_version(struct gw_request *r, const char *host,
                                                 size_t host_len, const char *path, size_t path_len,
                                                 struct gw_route_match *m, const char **offered)
{
    const char *pp = r->snap->cfg->versioning.path_prefix;
    size_t pl = strlen(pp);
    if (path_len < 2 + pl || path[0] != '/' || memcmp(path + 1, pp, pl) != 0)
        return GW_ROUTE_NOT_FOUND;
    const char *v = path + 1 + pl;
    const char *end = memchr(v, '/', path_len - 1 - pl);
    size_t vl = end ? (size_t)(end - v) : path_len - 1 - pl;
    if (!gw_version_token(v, vl))
        return GW_ROUTE_NOT_FOUND;
    const char *rest = end ? end : "/";
    size_t rest_len = end ? path_len - (size_t)(end - path) : 1;
    enum gw_route_result res =
        gw_router_match(r->snap->router, host, host_len, rest, rest_len, r->msg.method_id, m);
    if (res == GW_ROUTE_VERSION)
        return GW_ROUTE_VERSION_UNKNOWN;
    if (res == GW_ROUTE_FOUND)
        *offered = gw_version_rule_offered(r->snap, m->data, rest, rest_len, r->msg.method_id);
    return *offered ? GW_ROUTE_VERSION_UNKNOWN : GW_ROUTE_NOT_FOUND;
}

static bool runs_cors(const struct gw_route_match *m)
{
    return (((const struct gw_service *)m->data)->stages & (1u << GW_STAGE_CORS)) != 0;
}

enum gw_route_result gw__conn_route_version_preflight(struct gw_request *r, const char *query,
                                                      size_t query_len, enum gw_http_method method,
                                                      struct gw_route_match *m)
{
    const struct gw_router *router = r->snap->router;
    struct gw_route_match entry = *m;
    if (gw__conn_route_version(r, query, query_len, method, m) == GW_ROUTE_FOUND && runs_cors(m))
        return GW_ROUTE_FOUND;
    for (size_t i = 0;; i++) {
        *m = entry;
        const char *v = gw_router_version(router, &entry, i);
        if (v == NULL)
            return GW_ROUTE_VERSION_UNKNOWN;
        if (gw_router_match_version(router, v, strlen(v), method, m) == GW_ROUTE_FOUND &&
            runs_cors(m))
            return GW_ROUTE_FOUND;
    }
}

void gw__conn_unknown_version(struct gw_request *r, const struct gw_route_match *m,
                              const char *offered)
{
    const struct gw_versioning_conf *vc = &r->snap->cfg->versioning;
    if (offered != NULL) {
        struct gw_answer a;
        gw_answer_init(&a, GW_EAPIVERSION);
        a.status = (int)vc->unknown_status;
        a.extra = offered;
        gw__request_answer(r, &a);
        return;
    }
    char text[VERSIONS_TEXT_MAX];
    size_t n = (size_t)snprintf(text, sizeof text, "\"versions\":[");
    bool fits = true;
    /* Versions are tokens (config_version.c): no JSON escaping needed. */
    for (size_t i = 0;; i++) {
        const char *v = gw_router_version(r->snap->router, m, i);
        if (v == NULL)
            break;
        int w = snprintf(text + n, sizeof text - n, "%s\"%s\"", i ? "," : "", v);
        if (w < 0 || (size_t)w >= sizeof text - n - 2) {
            fits = false;
            break;
        }
        n += (size_t)w;
    }
    text[n++] = ']';
    text[n] = '\0';
    struct gw_answer a;
    gw_answer_init(&a, GW_EAPIVERSION);
    a.status = (int)vc->unknown_status;
    a.extra = fits ? text : NULL;
    gw__request_answer(r, &a);
}
