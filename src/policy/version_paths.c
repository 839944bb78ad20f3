/*
 * The path routes of a service's version rules (docs/versioning.md, "Versions of a route"):
 * with "path" among versioning.sources, a rule with prefix "/api/users/export" and version "2"
 * routes "/v2/api/users/export" to its service. Computed from the configuration alone, by the
 * config check (conflicts with other routes), the router's build (control/snapshot.c) and the
 * versioning stage (policy/version.c), so all three see the same routes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "http1/parser.h"
#include "policy/version.h"

#define ALL_METHODS ((1u << (GW_METHOD_PATCH + 1)) - 1)

/* Is p[0..n) prefix q or under it, on a segment boundary? */
static bool falls_under(const char *p, size_t n, const char *q)
{
    size_t ql = strlen(q);
    if (ql == 1)
        return true;
    return n >= ql && memcmp(p, q, ql) == 0 && (n == ql || p[ql] == '/');
}

/* The methods a rule's path route serves: those both the rule and the service allow (GET
 * implies HEAD, as the router compiles services); false when they share none. */
static bool rule_methods(uint32_t svc, uint32_t rule, uint32_t *out)
{
    uint32_t m = svc == 0 ? rule : (rule == 0 ? svc : svc & rule);
    if (m == 0 && svc != 0 && rule != 0)
        return false;
    if (m & (1u << GW_METHOD_GET))
        m |= 1u << GW_METHOD_HEAD;
    *out = m;
    return true;
}

/* Is path one of sc's prefixes, or sc's own version path route? */
static bool service_route(const struct gw_config *cfg, const struct gw_service_conf *sc,
                          const char *path)
{
    const char *pp = cfg->versioning.path_prefix ? cfg->versioning.path_prefix : "";
    size_t pl = strlen(pp);
    size_t vl = sc->version ? strlen(sc->version) : 0;
    for (size_t i = 0; i < sc->nprefixes; i++) {
        if (strcmp(sc->prefixes[i], path) == 0)
            return true;
        if (sc->version && strncmp(path + 1, pp, pl) == 0 &&
            strncmp(path + 1 + pl, sc->version, vl) == 0 &&
            strcmp(path + 1 + pl + vl, strcmp(sc->prefixes[i], "/") == 0 ? "" : sc->prefixes[i]) ==
                0)
            return true;
    }
    return false;
}

/* Adds one path route unless earlier ones already take all its methods. 0 or GW_ENOMEM. */
static int add_path(const struct gw_config *cfg, const struct gw_service_conf *sc,
                    struct gw_version_path *out, size_t *n, struct gw_version_path vp,
                    const char *rule_prefix)
{
    const char *pp = cfg->versioning.path_prefix ? cfg->versioning.path_prefix : "";
    size_t len = 1 + strlen(pp) + strlen(vp.version) + strlen(rule_prefix) + 1;
    char *path = malloc(len);
    if (path == NULL)
        return GW_ENOMEM;
    snprintf(path, len, "/%s%s%s", pp, vp.version,
             strcmp(rule_prefix, "/") == 0 ? "" : rule_prefix);
    uint32_t claimed = 0;
    for (size_t i = 0; i < *n; i++)
        if (strcmp(out[i].path, path) == 0)
            claimed |= out[i].methods == 0 ? ALL_METHODS : out[i].methods;
    if (claimed != 0)
        vp.methods = (vp.methods == 0 ? ALL_METHODS : vp.methods) & ~claimed;
    if ((claimed != 0 && vp.methods == 0) || service_route(cfg, sc, path)) {
        free(path);
        return 0;
    }
    vp.path = path;
    vp.path_len = strlen(path);
    vp.seg_len = 1 + strlen(pp) + strlen(vp.version);
    out[(*n)++] = vp;
    return 0;
}

bool gw_version_has_paths(const struct gw_config *cfg)
{
    for (size_t i = 0; cfg->versioning.path && i < cfg->nservices; i++)
        if (cfg->services[i].nversion_rules > 0)
            return true;
    return false;
}

int gw_version_paths(const struct gw_config *cfg, const struct gw_service_conf *sc,
                     struct gw_version_path **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!cfg->versioning.path || sc->nversion_rules == 0 || sc->nprefixes == 0)
        return 0;
    size_t cap = 0;
    for (size_t k = 0; k < sc->nversion_rules; k++) {
        const struct gw_version_rule_conf *rc = &sc->version_rules[k];
        cap += rc->nversions * (rc->match.nprefixes ? rc->match.nprefixes : sc->nprefixes);
    }
    struct gw_version_path *v = calloc(cap ? cap : 1, sizeof *v);
    if (v == NULL)
        return GW_ENOMEM;
    size_t nv = 0;
    for (size_t k = 0; k < sc->nversion_rules; k++) {
        const struct gw_version_rule_conf *rc = &sc->version_rules[k];
        uint32_t methods;
        if (!rule_methods(sc->methods, rc->match.methods, &methods))
            continue;
        size_t np = rc->match.nprefixes ? rc->match.nprefixes : sc->nprefixes;
        for (size_t j = 0; j < rc->nversions; j++) {
            for (size_t i = 0; i < np; i++) {
                const char *p = rc->match.nprefixes ? rc->match.prefixes[i] : sc->prefixes[i];
                size_t pl = strlen(p);
                size_t best = SIZE_MAX;
                for (size_t s = 0; s < sc->nprefixes; s++) {
                    size_t sl = strlen(sc->prefixes[s]) == 1 ? 0 : strlen(sc->prefixes[s]);
                    if (falls_under(p, pl, sc->prefixes[s]) && (best == SIZE_MAX || sl > best))
                        best = sl;
                }
                if (best == SIZE_MAX)
                    continue; /* the rule's prefix is none of the service's paths */
                struct gw_version_path vp = {
                    .methods = methods,
                    .rule = k,
                    .prefix_index = rc->match.nprefixes ? i : SIZE_MAX,
                    .version = rc->versions[j],
                    .svc_prefix_len = best,
                };
                if (add_path(cfg, sc, v, &nv, vp, p) < 0) {
                    gw_version_paths_free(v, nv);
                    return GW_ENOMEM;
                }
            }
        }
    }
    if (nv == 0) {
        free(v);
        return 0;
    }
    *out = v;
    *n = nv;
    return 0;
}

void gw_version_paths_free(struct gw_version_path *p, size_t n)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(p[i].path);
    free(p);
}
