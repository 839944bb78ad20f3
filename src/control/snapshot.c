#include "control/snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "balance/balancer.h"
#include "config/config.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/log.h"
#include "metrics/metrics.h"
#include "net/listen.h"
#include "policy/policy.h"
#include "policy/version.h"
#include "route/router.h"
#include "tls/client.h"
#include "tls/peer_ca.h"
#include "tls/tls.h"
#include "upstream/breaker.h"
#include "upstream/retry.h"
#include "upstream/target_state.h"

static void snapshot_free(struct gw_snapshot *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nservices; i++) {
        struct gw_service *svc = &s->services[i];
        if (svc->live)
            gw_balancer_free(svc->live->balancer);
        for (size_t t = 0; svc->targets && t < svc->ntargets; t++)
            if (svc->targets[t].state)
                gw_target_state_unref(svc->targets[t].state);
        free(svc->states);
        free(svc->targets);
        gw_tls_client_unref(svc->tls);
        gw_tls_peer_ca_free(svc->client_ca);
        if (svc->live)
            free(svc->live->target_breakers);
        free(svc->live);
    }
    gw_policy_free(s->policy);
    gw_tls_ctx_unref(s->tls);
    /* The control thread folds the set's counts and frees it (metrics/hub.h). */
    gw_metrics_set_release(s->metrics);
    free(s->services);
    if (s->router)
        gw_router_free(s->router);
    gw_config_free(s->cfg);
    free(s);
}

static int build_balancer(struct gw_service *svc, size_t index, char *why, size_t why_cap)
{
    struct gw_balance_target_spec specs[GW_BALANCE_MAX_TARGETS];
    if (svc->ntargets > GW_BALANCE_MAX_TARGETS) {
        if (why)
            snprintf(why, why_cap, "services[%zu].targets: more than %d targets", index,
                     GW_BALANCE_MAX_TARGETS);
        return GW_EINVAL;
    }
    for (size_t t = 0; t < svc->ntargets; t++) {
        specs[t].id = svc->targets[t].key;
        specs[t].weight = svc->targets[t].conf->weight;
    }
    /* config.h mirrors the balancer's strategy order (checked where the config defines it). */
    enum gw_balance_strategy strategy = (enum gw_balance_strategy)svc->conf->lb_strategy;
    int rc = gw_balancer_new(strategy, specs, svc->ntargets, NULL, &svc->live->balancer);
    if (rc < 0 && why)
        snprintf(why, why_cap, "services[%zu].targets: cannot build the balancer (%s)", index,
                 gw_strerror(rc));
    return rc;
}

/* The TLS settings that make a connection what it is, hashed: pools are keyed by it. The
 * files count by their bytes (a CA bundle rewritten in place is another trust: the pooled
 * connections and the session verified under the old one are not used again). */
static uint64_t upstream_tls_hash(const struct gw_upstream_tls_conf *ut,
                                  const struct gw_tls_client *cl)
{
    char buf[2048];
    snprintf(buf, sizeof buf, "%d|%d|%d|%s|%s|%s|%s|%016llx", ut->verify, ut->session_reuse,
             ut->min_version, ut->ca ? ut->ca : "", ut->server_name ? ut->server_name : "",
             ut->cert ? ut->cert : "", ut->key ? ut->key : "",
             (unsigned long long)gw_tls_client_files_digest(cl));
    return gw_fnv1a64_str(buf);
}

/* The TLS client context of a service with https:// targets (read from disk on every reload,
 * as the listener's certificates are). */
static int build_upstream_tls(struct gw_service *svc, size_t index, char *why, size_t why_cap)
{
    const struct gw_service_conf *sc = svc->conf;
    bool any = false;
    for (size_t t = 0; t < sc->ntargets; t++)
        any = any || sc->targets[t].tls;
    char tls_why[512] = "";
    if (sc->client_cert.enabled && sc->client_cert.ca) {
        int rc = gw_tls_peer_ca_build(sc->client_cert.ca, &svc->client_ca, tls_why, sizeof tls_why);
        if (rc < 0) {
            if (why)
                snprintf(why, why_cap, "services[%zu].client_cert.ca: %s", index, tls_why);
            gw_log_error("services[%zu].client_cert.ca: %s", index, tls_why);
            return rc;
        }
    }
    if (!any)
        return 0;
    int rc = gw_tls_client_build(&sc->upstream_tls, &svc->tls, tls_why, sizeof tls_why);
    if (rc < 0) {
        if (why)
            snprintf(why, why_cap, "services[%zu].upstream_tls: %s", index, tls_why);
        gw_log_error("services[%zu].upstream_tls: %s", index, tls_why);
    }
    return rc;
}

static int build_services(struct gw_snapshot *s, struct gw_target_registry *reg, char *why,
                          size_t why_cap)
{
    const struct gw_config *cfg = s->cfg;
    s->services = calloc(cfg->nservices ? cfg->nservices : 1, sizeof(*s->services));
    if (!s->services)
        return GW_ENOMEM;
    s->nservices = cfg->nservices;
    for (size_t i = 0; i < cfg->nservices; i++) {
        const struct gw_service_conf *sc = &cfg->services[i];
        struct gw_service *svc = &s->services[i];
        svc->conf = sc;
        svc->targets = calloc(sc->ntargets, sizeof(*svc->targets));
        if (!svc->targets)
            return GW_ENOMEM;
        svc->ntargets = sc->ntargets;
        svc->states = calloc(sc->ntargets ? sc->ntargets : 1, sizeof(*svc->states));
        svc->live = calloc(1, sizeof(*svc->live));
        if (!svc->states || !svc->live)
            return GW_ENOMEM;
        int rc = build_upstream_tls(svc, i, why, why_cap);
        if (rc < 0)
            return rc;
        for (size_t t = 0; t < sc->ntargets; t++) {
            struct gw_target *tg = &svc->targets[t];
            tg->conf = &sc->targets[t];
            snprintf(tg->key, sizeof(tg->key), "%s:%u", tg->conf->host, (unsigned)tg->conf->port);
            if (tg->conf->tls) {
                tg->tls = svc->tls;
                snprintf(tg->pool_key, sizeof(tg->pool_key), "%s|tls:%016llx", tg->key,
                         (unsigned long long)upstream_tls_hash(&sc->upstream_tls, svc->tls));
            } else {
                memcpy(tg->pool_key, tg->key, sizeof(tg->key));
            }
            tg->h2 = (uint8_t)sc->upstream_protocol;
            if (tg->h2) {
                /* Never shared with HTTP/1.1 connections to the same address. */
                size_t k = strlen(tg->pool_key);
                snprintf(tg->pool_key + k, sizeof(tg->pool_key) - k, "|h2");
            }
            if (reg) {
                /* uv_hrtime() is the clock every loop's uv_now() reads. */
                tg->state = gw_target_state_get(reg, tg->key, uv_hrtime() / 1000000);
                if (!tg->state)
                    return GW_ENOMEM;
                svc->states[t] = tg->state;
            }
            int resolved = gw_net_resolve(tg->conf->host, tg->conf->port, &tg->addr, &tg->addrlen);
            if (resolved < 0 && sc->discovery != GW_DISCOVERY_NONE) {
                /* DNS discovery resolves it (discovery/dns.h); until its first answer the
                 * target has no address, and a connection to it fails at once. */
                memset(&tg->addr, 0, sizeof tg->addr);
                tg->addrlen = 0;
                gw_log_info("services[%zu].targets[%zu].url: host \"%s\" is left to DNS "
                            "discovery",
                            i, t, tg->conf->host);
            } else if (resolved < 0) {
                if (why)
                    snprintf(why, why_cap,
                             "services[%zu].targets[%zu].url: cannot resolve host \"%s\"", i, t,
                             tg->conf->host);
                gw_log_error("services[%zu].targets[%zu].url: cannot resolve host \"%s\"", i, t,
                             tg->conf->host);
                return GW_EINVAL;
            }
        }
        rc = build_balancer(svc, i, why, why_cap);
        if (rc < 0)
            return rc;
        if (sc->retries_enabled) {
            gw_config_retry_conf(sc, &svc->retry);
            rc = gw_retry_budget_init(&svc->live->retry_budget, &svc->retry);
            if (rc < 0) {
                if (why)
                    snprintf(why, why_cap, "services[%zu].retries: invalid settings", i);
                return rc;
            }
            svc->retries_on = true;
        }
        if (sc->breaker_enabled) {
            struct gw_breaker_conf bc;
            gw_config_breaker_conf(sc, &bc);
            rc = gw_breaker_init(&svc->live->breaker, &bc);
            if (rc < 0) {
                if (why)
                    snprintf(why, why_cap, "services[%zu].circuit_breaker: invalid settings", i);
                return rc;
            }
            svc->breaker_on = true;
            /* The same settings guard every target on its own, so one failing target is
             * cut off while the others keep serving. */
            svc->live->target_breakers =
                calloc(svc->ntargets ? svc->ntargets : 1, sizeof(*svc->live->target_breakers));
            if (!svc->live->target_breakers)
                return GW_ENOMEM;
            for (size_t t = 0; t < svc->ntargets; t++) {
                gw_breaker_init(&svc->live->target_breakers[t], &bc);
                svc->targets[t].breaker = &svc->live->target_breakers[t];
            }
        }
    }
    return 0;
}

/* The path route of a versioned service's prefix: "/v2/api" for prefix "/api" (with
 * versioning.path_prefix "v"), "/v2" for "/". To free(). */
static char *version_path(const struct gw_config *cfg, const struct gw_service_conf *sc,
                          const char *prefix)
{
    size_t n = 1 + strlen(cfg->versioning.path_prefix) + strlen(sc->version) + strlen(prefix) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "/%s%s%s", cfg->versioning.path_prefix, sc->version,
                 strcmp(prefix, "/") == 0 ? "" : prefix);
    return p;
}

static int build_router(struct gw_snapshot *s)
{
    const struct gw_config *cfg = s->cfg;
    size_t n = 0;
    /* the path routes of each service's version rules ("/v2/api/users/export"); none (and
     * nothing allocated) without version rules */
    bool rules = gw_version_has_paths(cfg);
    struct gw_version_path **rp = rules ? calloc(s->nservices + 1, sizeof(*rp)) : NULL;
    size_t *nrp = rules ? calloc(s->nservices + 1, sizeof(*nrp)) : NULL;
    struct gw_route_spec *specs = NULL;
    char **paths = NULL;
    size_t npaths = 0;
    int rc = GW_ENOMEM;
    if (rules && (!rp || !nrp))
        goto done;
    for (size_t i = 0; i < s->nservices; i++) {
        const struct gw_service_conf *sc = s->services[i].conf;
        size_t per = sc->version && cfg->versioning.path ? 2 : 1;
        if (rules && gw_version_paths(cfg, sc, &rp[i], &nrp[i]) < 0)
            goto done;
        n += (per * sc->nprefixes + (rules ? nrp[i] : 0)) * (sc->nhosts ? sc->nhosts : 1);
    }
    specs = calloc(n ? n : 1, sizeof(*specs));
    paths = calloc(n ? n : 1, sizeof(*paths));
    if (!specs || !paths)
        goto done;
    size_t k = 0;
    for (size_t i = 0; i < s->nservices; i++) {
        const struct gw_service_conf *sc = s->services[i].conf;
        for (size_t p = 0; p < sc->nprefixes; p++) {
            /* A versioned service is routed by its prefix and the version the request names
             * (header, Accept, query), and, when the path is a source, by its own path route
             * "/v2/prefix": an ordinary prefix, so the router finds it at no extra cost. */
            char *vpath = NULL;
            if (sc->version && cfg->versioning.path) {
                vpath = paths[npaths++] = version_path(cfg, sc, sc->prefixes[p]);
                if (!vpath)
                    goto done;
            }
            size_t nh = sc->nhosts ? sc->nhosts : 1;
            for (size_t h = 0; h < nh; h++) {
                /* A service that allows GET allows HEAD too (RFC 9110 9.3.2: HEAD is GET
                 * without the body), as nginx's limit_except does. */
                uint32_t methods = sc->methods;
                if (methods & (1u << GW_METHOD_GET))
                    methods |= 1u << GW_METHOD_HEAD;
                specs[k] = (struct gw_route_spec){
                    .prefix = sc->prefixes[p],
                    .host = sc->nhosts ? sc->hosts[h] : NULL,
                    .methods = methods,
                    .data = &s->services[i],
                    .version = sc->version,
                };
                k++;
                if (vpath) {
                    specs[k] = specs[k - 1];
                    specs[k].prefix = vpath;
                    specs[k].version = NULL;
                    k++;
                }
            }
        }
        /* A version rule's path route: an ordinary prefix too; the versioning stage reads the
         * version from it and strips the segment (policy/version.c). */
        for (size_t p = 0; rules && p < nrp[i]; p++) {
            size_t nh = sc->nhosts ? sc->nhosts : 1;
            for (size_t h = 0; h < nh; h++)
                specs[k++] = (struct gw_route_spec){
                    .prefix = rp[i][p].path,
                    .host = sc->nhosts ? sc->hosts[h] : NULL,
                    .methods = rp[i][p].methods,
                    .data = &s->services[i],
                };
        }
    }
    rc = gw_router_build(specs, k, &s->router);
done:
    for (size_t i = 0; i < npaths; i++)
        free(paths[i]);
    for (size_t i = 0; rp && nrp && i < s->nservices; i++)
        gw_version_paths_free(rp[i], nrp[i]);
    free(rp);
    free(nrp);
    free(paths);
    free(specs);
    if (rc < 0)
        gw_log_error("cannot compile the route table: %s", gw_strerror(rc));
    return rc;
}

int gw_snapshot_build(struct gw_config *cfg, uint64_t generation, struct gw_target_registry *reg,
                      struct gw_policy_shared *ps, struct gw_snapshot **out, char *why,
                      size_t why_cap)
{
    struct gw_snapshot *s = calloc(1, sizeof(*s));
    int rc = GW_ENOMEM;
    *out = NULL;
    if (!s) {
        gw_config_free(cfg);
        return rc;
    }
    s->cfg = cfg;
    s->generation = generation;
    atomic_init(&s->refs, 1);
    if (why && why_cap)
        why[0] = '\0';
    rc = build_services(s, reg, why, why_cap);
    if (rc < 0)
        goto fail;
    rc = build_router(s);
    if (rc < 0) {
        if (why)
            snprintf(why, why_cap, "services: the route table cannot be compiled");
        goto fail;
    }
    rc = gw_policy_build(s, ps, why, why_cap);
    if (rc < 0)
        goto fail;
    /* Certificates are read again on every reload: a SIGHUP picks up renewed files. */
    if (cfg->tls.enabled) {
        char tls_why[512] = "";
        rc = gw_tls_ctx_build(&cfg->tls, &s->tls, tls_why, sizeof tls_why);
        if (rc < 0) {
            if (why && why_cap)
                snprintf(why, why_cap, "tls: %s", tls_why);
            goto fail;
        }
    }
    *out = s;
    return 0;
fail:
    if (rc == GW_ENOMEM && why && why_cap && why[0] == '\0')
        snprintf(why, why_cap, "out of memory");
    snapshot_free(s);
    return rc;
}

void gw_snapshot_ref(struct gw_snapshot *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void gw_snapshot_unref(struct gw_snapshot *s)
{
    if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
        snapshot_free(s);
}
