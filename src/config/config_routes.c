/*
 * The rules across services: unique service names, and no (host, prefix, method) routed to
 * two services (counting API versions and their path routes).
 */
#include "config/internal.h"
#include "http1/names.h"
#include "policy/version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One (host, prefix) pair of a service, for finding routes served twice. */
struct route_key {
    const char *host; /* "" = any host */
    const char *prefix;
    uint32_t methods;
    size_t service;
    size_t prefix_index;
    const char *version;   /* the service's API version; NULL for its path-version route */
    bool path_route;       /* "/v2/api", routed for the versioned service of prefix "/api" */
    bool versioned_prefix; /* another service has a version on this (host, prefix) */
    const struct gw_version_path *rule_path; /* a path route of a version rule, or NULL */
};

/* The methods a service is routed for: allowing GET allows HEAD too (RFC 9110 9.3.2; the
 * router compiles services the same way, see control/snapshot.c). */
static uint32_t route_methods(uint32_t methods)
{
    if (methods & (1u << GW_METHOD_GET))
        methods |= 1u << GW_METHOD_HEAD;
    return methods;
}

static int route_cmp(const void *a, const void *b)
{
    const struct route_key *x = a;
    const struct route_key *y = b;
    int c = strcmp(x->host, y->host);
    if (c == 0)
        c = strcmp(x->prefix, y->prefix);
    if (c == 0)
        c = x->service < y->service ? -1 : x->service > y->service;
    if (c == 0)
        c = x->prefix_index < y->prefix_index ? -1 : x->prefix_index > y->prefix_index;
    return c;
}

static size_t json_count(json_t *v)
{
    return json_is_array(v) ? json_array_size(v) : (json_is_string(v) ? 1 : 0);
}

static void describe_methods(uint32_t mask, char *buf, size_t cap)
{
    if (mask == 0)
        snprintf(buf, cap, "any method");
    else
        gw_http_method_list(mask, " ", buf, cap);
}

static uint32_t common_methods(uint32_t a, uint32_t b)
{
    return a == 0 ? b : (b == 0 ? a : a & b);
}

static void route_conflict(struct gw__cfg_ctx *ctx, json_t *services, const struct gw_config *cfg,
                           const struct route_key *r, const struct route_key *prev)
{
    if (prev->rule_path && !r->rule_path) { /* reported at the version rule */
        const struct route_key *t = r;
        r = prev;
        prev = t;
    }
    json_t *prefix = json_object_get(json_array_get(services, r->service), "prefix");
    /* Name the methods as written; when they do not overlap, the clash is on a HEAD that one
     * side only gets through GET, and the message says so. */
    uint32_t written_r = cfg->services[r->service].methods;
    uint32_t written_p = cfg->services[prev->service].methods;
    uint32_t both = common_methods(written_r, written_p);
    bool implied = (written_r != 0 || written_p != 0) && both == 0;
    if (implied)
        both = common_methods(r->methods, prev->methods);
    char methods[96];
    char q[96];
    char h[96];
    describe_methods(both, methods, sizeof methods);
    if (r->host[0] != '\0')
        gw__cfg_quote(r->host, strlen(r->host), h, sizeof h);
    gw__cfg_push_key(ctx, "services");
    gw__cfg_push_index(ctx, r->service);
    size_t depth = 3;
    if (r->rule_path) {
        /* services[i].versions[k].match.prefix[j], or services[i].versions[k] when the rule
         * has no prefix of its own */
        json_t *rule = json_array_get(
            json_object_get(json_array_get(services, r->service), "versions"), r->rule_path->rule);
        gw__cfg_push_key(ctx, "versions");
        gw__cfg_push_index(ctx, r->rule_path->rule);
        depth = 4;
        if (r->rule_path->prefix_index != SIZE_MAX) {
            json_t *rp = json_object_get(json_object_get(rule, "match"), "prefix");
            gw__cfg_push_key(ctx, "match");
            gw__cfg_push_key(ctx, "prefix");
            depth = 6;
            if (json_is_array(rp)) {
                gw__cfg_push_index(ctx, r->rule_path->prefix_index);
                depth = 7;
            }
        }
    } else {
        gw__cfg_push_key(ctx, "prefix");
        if (json_is_array(prefix)) {
            gw__cfg_push_index(ctx, r->prefix_index);
            depth = 4;
        }
    }
    /* The other service's name may be missing or invalid (already reported). */
    const char *other = cfg->services[prev->service].name;
    char by[128];
    if (other)
        snprintf(by, sizeof by, "service \"%s\" (services[%zu])", other, prev->service);
    else
        snprintf(by, sizeof by, "services[%zu]", prev->service);
    const char *vr = r->version;
    const char *vp = prev->version;
    if (r->rule_path || prev->rule_path)
        gw__cfg_error(ctx,
                      "%s (%s%s, %s) is already routed to %s: the path route of a version rule "
                      "(\"/%s<version><rule prefix>\", versioning.sources has \"path\") may not "
                      "be another service's prefix or path route",
                      gw__cfg_quote(r->prefix, strlen(r->prefix), q, sizeof q),
                      r->host[0] ? "host " : "any host", r->host[0] ? h : "", methods, by,
                      cfg->versioning.path_prefix ? cfg->versioning.path_prefix : "");
    else if (r->path_route || prev->path_route)
        gw__cfg_error(ctx,
                      "%s (%s%s) is already routed to %s: a versioned service's path route "
                      "(\"/%s<version><prefix>\", versioning.sources has \"path\") may not be "
                      "another service's prefix",
                      gw__cfg_quote(r->prefix, strlen(r->prefix), q, sizeof q),
                      r->host[0] ? "host " : "any host", r->host[0] ? h : "", by,
                      cfg->versioning.path_prefix ? cfg->versioning.path_prefix : "");
    else if (vr == NULL && vp == NULL && r->versioned_prefix)
        gw__cfg_error(ctx,
                      "%s (%s%s, %s) is already the default of that versioned prefix, routed to "
                      "%s: services that share a prefix need distinct versions, and at most one "
                      "of them (per method) may have none%s",
                      gw__cfg_quote(r->prefix, strlen(r->prefix), q, sizeof q),
                      r->host[0] ? "host " : "any host", r->host[0] ? h : "", methods, by,
                      implied ? " (a service that allows GET allows HEAD too)" : "");
    else
        gw__cfg_error(ctx, "%s (%s%s, %s%s%s) is already routed to %s%s",
                      gw__cfg_quote(r->prefix, strlen(r->prefix), q, sizeof q),
                      r->host[0] ? "host " : "any host", r->host[0] ? h : "", methods,
                      vr ? ", version " : "", vr ? vr : "", by,
                      implied ? " (a service that allows GET allows HEAD too)" : "");
    while (depth-- > 0)
        gw__cfg_pop(ctx);
}

/* Two services must not serve the same (host, prefix) for a common method: the router could not
 * choose. Services whose prefixes or hosts had errors are left out (their lists are partial). */
/* The path-version route of a versioned service's prefix ("/v2/api"), to free(); as
 * control/snapshot.c compiles it. */
static char *path_route(const struct gw_config *cfg, const struct gw_service_conf *s,
                        const char *prefix)
{
    const char *pp = cfg->versioning.path_prefix ? cfg->versioning.path_prefix : "";
    size_t n = 1 + strlen(pp) + strlen(s->version) + strlen(prefix) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "/%s%s%s", pp, s->version, strcmp(prefix, "/") == 0 ? "" : prefix);
    return p;
}

void gw__cfg_check_routes(struct gw__cfg_ctx *ctx, struct gw_config *cfg, json_t *services)
{
    size_t n = 0;
    /* the path routes of each service's version rules; none without rules */
    bool rules = gw_version_has_paths(cfg);
    struct gw_version_path **rp = rules ? calloc(cfg->nservices + 1, sizeof *rp) : NULL;
    size_t *nrp = rules ? calloc(cfg->nservices + 1, sizeof *nrp) : NULL;
    if (rules && (rp == NULL || nrp == NULL)) {
        free(rp);
        free(nrp);
        ctx->oom = true;
        return;
    }
    for (size_t i = 0; i < cfg->nservices; i++) {
        const struct gw_service_conf *s = &cfg->services[i];
        size_t per = s->version && cfg->versioning.path ? 2 : 1;
        if (rules && gw_version_paths(cfg, s, &rp[i], &nrp[i]) < 0)
            ctx->oom = true;
        n += (per * s->nprefixes + (rules ? nrp[i] : 0)) * (s->nhosts ? s->nhosts : 1);
    }
    struct route_key *keys = n < 2 ? NULL : calloc(n, sizeof *keys);
    char **owned = n < 2 ? NULL : calloc(n, sizeof *owned);
    size_t nowned = 0;
    if (keys == NULL || owned == NULL) {
        ctx->oom |= n >= 2;
        goto done;
    }
    size_t k = 0;
    for (size_t i = 0; i < cfg->nservices; i++) {
        const struct gw_service_conf *s = &cfg->services[i];
        json_t *js = json_array_get(services, i);
        if (s->nprefixes != json_count(json_object_get(js, "prefix")) ||
            s->nhosts != json_count(json_object_get(js, "hosts")))
            continue;
        for (size_t p = 0; p < s->nprefixes; p++) {
            char *vpath = NULL;
            if (s->version && cfg->versioning.path) {
                vpath = owned[nowned++] = path_route(cfg, s, s->prefixes[p]);
                if (vpath == NULL)
                    ctx->oom = true;
            }
            for (size_t h = 0; h < (s->nhosts ? s->nhosts : 1); h++) {
                keys[k].host = s->nhosts ? s->hosts[h] : "";
                keys[k].prefix = s->prefixes[p];
                keys[k].methods = route_methods(s->methods);
                keys[k].service = i;
                keys[k].prefix_index = p;
                keys[k].version = s->version;
                k++;
                if (vpath) {
                    keys[k] = keys[k - 1];
                    keys[k].prefix = vpath;
                    keys[k].version = NULL;
                    keys[k].path_route = true;
                    k++;
                }
            }
        }
        for (size_t p = 0; rules && p < nrp[i]; p++) {
            for (size_t h = 0; h < (s->nhosts ? s->nhosts : 1); h++) {
                keys[k] = (struct route_key){
                    .host = s->nhosts ? s->hosts[h] : "",
                    .prefix = rp[i][p].path,
                    .methods = rp[i][p].methods,
                    .service = i,
                    .prefix_index = s->nprefixes + p,
                    .path_route = true,
                    .rule_path = &rp[i][p],
                };
                k++;
            }
        }
    }
    qsort(keys, k, sizeof *keys, route_cmp);
    for (size_t g = 0; g < k;) {
        size_t end = g + 1;
        while (end < k && strcmp(keys[end].host, keys[g].host) == 0 &&
               strcmp(keys[end].prefix, keys[g].prefix) == 0)
            end++;
        /* Within a group, compare each key with the earlier keys that did not conflict: their
         * method sets are disjoint, so there are at most 8 of them. */
        size_t accepted[65];
        size_t na = 0;
        bool versioned = false;
        for (size_t i = g; i < end; i++)
            versioned |= keys[i].version != NULL;
        for (size_t i = g; i < end; i++) {
            keys[i].versioned_prefix = versioned;
            const struct route_key *clash = NULL;
            for (size_t a = 0; a < na && clash == NULL; a++) {
                const struct route_key *prev = &keys[accepted[a]];
                const char *va = prev->version;
                const char *vb = keys[i].version;
                bool vmix = (va == NULL) != (vb == NULL);
                bool same = !vmix && (va == NULL || strcmp(va, vb) == 0);
                /* An unversioned service beside versioned ones is the prefix's default (its
                 * routes are the version NULL): no clash, unless a path route is one of the
                 * two (an ordinary prefix, which may not be versioned). Two path routes clash
                 * only when their services' own routes do: reported there. */
                bool path = prev->path_route || keys[i].path_route;
                bool both_service_paths = prev->path_route && keys[i].path_route &&
                                          !prev->rule_path && !keys[i].rule_path;
                if (prev->service != keys[i].service && !both_service_paths &&
                    ((vmix && path) || (same && (prev->methods == 0 || keys[i].methods == 0 ||
                                                 (prev->methods & keys[i].methods)))))
                    clash = prev;
            }
            if (clash)
                route_conflict(ctx, services, cfg, &keys[i], clash);
            else if (na < sizeof accepted / sizeof accepted[0])
                accepted[na++] = i;
        }
        g = end;
    }
done:
    for (size_t i = 0; i < nowned; i++)
        free(owned[i]);
    for (size_t i = 0; i < cfg->nservices; i++)
        if (rules)
            gw_version_paths_free(rp[i], nrp[i]);
    free(rp);
    free(nrp);
    free(owned);
    free(keys);
}

struct name_key {
    const char *name;
    size_t service;
};

static int name_cmp(const void *a, const void *b)
{
    const struct name_key *x = a;
    const struct name_key *y = b;
    int c = strcmp(x->name, y->name);
    if (c == 0)
        c = x->service < y->service ? -1 : x->service > y->service;
    return c;
}

void gw__cfg_check_names(struct gw__cfg_ctx *ctx, struct gw_config *cfg)
{
    if (cfg->nservices < 2)
        return;
    struct name_key *keys = calloc(cfg->nservices, sizeof *keys);
    size_t k = 0;
    if (keys == NULL) {
        ctx->oom = true;
        return;
    }
    for (size_t i = 0; i < cfg->nservices; i++) {
        if (cfg->services[i].name) {
            keys[k].name = cfg->services[i].name;
            keys[k].service = i;
            k++;
        }
    }
    qsort(keys, k, sizeof *keys, name_cmp);
    for (size_t i = 1; i < k; i++) {
        size_t first = i - 1;
        while (i < k && strcmp(keys[i].name, keys[first].name) == 0) {
            gw__cfg_push_key(ctx, "services");
            gw__cfg_push_index(ctx, keys[i].service);
            gw__cfg_push_key(ctx, "name");
            gw__cfg_error(ctx, "duplicate service name \"%s\" (also services[%zu])", keys[i].name,
                          keys[first].service);
            gw__cfg_pop(ctx);
            gw__cfg_pop(ctx);
            gw__cfg_pop(ctx);
            i++;
        }
    }
    free(keys);
}
