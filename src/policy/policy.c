/*
 * Building the per-snapshot policy state from the config, and the per-process state that
 * outlives reloads (policy.h): in-process rate-limit counters live in "slots" keyed by the
 * limit's identity (scope, name and every setting that changes decisions), so a reload that
 * keeps a limit keeps its counters, and a reload that changes it starts afresh.
 */
#include "policy/policy.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/store.h"
#include "control/snapshot-t.h"
#include "core/error.h"
#include "core/log.h"
#include "metrics/topkeys.h"
#include "policy/answer.h"
#include "policy/apikey.h"
#include "policy/chain.h"
#include "policy/cors.h"
#include "policy/transform.h"
#include "state/ratelimit_local.h"
#include "state/ratelimit_redis.h"
#include "state/token_cache.h"

struct gw_rl_store_slot {
    struct gw_rl_store_slot *next;
    char *id;
    struct gw_rl_store *store;
    size_t refs; /* snapshots using it; under ps->lock */
};

int gw_policy_shared_new(struct gw_policy_shared **out, unsigned workers)
{
    struct gw_policy_shared *ps = calloc(1, sizeof *ps);
    if (ps == NULL)
        return GW_ENOMEM;
    if (uv_mutex_init(&ps->lock) != 0) {
        free(ps);
        return GW_ENOMEM;
    }
    ps->workers = workers;
    if (gw_topkeys_new(workers, &ps->topkeys) < 0) {
        uv_mutex_destroy(&ps->lock);
        free(ps);
        return GW_ENOMEM;
    }
    *out = ps;
    return 0;
}

void gw_policy_shared_free(struct gw_policy_shared *ps)
{
    if (ps == NULL)
        return;
    /* Every snapshot is gone by now, so every slot was released. */
    while (ps->slots) {
        struct gw_rl_store_slot *s = ps->slots;
        ps->slots = s->next;
        gw_rl_store_free(s->store);
        free(s->id);
        free(s);
    }
    gw_rl_redis_shared_free(ps->redis);
    gw_cache_store_free(ps->cache_store);
    gw_topkeys_free(ps->topkeys);
    uv_mutex_destroy(&ps->lock);
    free(ps);
}

static struct gw_rl_store_slot *slot_get(struct gw_policy_shared *ps, const char *id,
                                         const struct gw_rl_conf *rc, size_t max_keys)
{
    struct gw_rl_store_slot *s;
    uv_mutex_lock(&ps->lock);
    for (s = ps->slots; s; s = s->next) {
        if (strcmp(s->id, id) == 0) {
            s->refs++;
            goto out;
        }
    }
    s = calloc(1, sizeof *s);
    if (s == NULL)
        goto out;
    s->id = strdup(id);
    if (s->id == NULL || gw_rl_store_new(&s->store, rc, max_keys) != 0) {
        free(s->id);
        free(s);
        s = NULL;
        goto out;
    }
    s->refs = 1;
    s->next = ps->slots;
    ps->slots = s;
out:
    uv_mutex_unlock(&ps->lock);
    return s;
}

static void slot_put(struct gw_policy_shared *ps, struct gw_rl_store_slot *slot)
{
    if (slot == NULL)
        return;
    uv_mutex_lock(&ps->lock);
    if (--slot->refs == 0) {
        struct gw_rl_store_slot **pp = &ps->slots;
        while (*pp != slot)
            pp = &(*pp)->next;
        *pp = slot->next;
        gw_rl_store_free(slot->store);
        free(slot->id);
        free(slot);
    }
    uv_mutex_unlock(&ps->lock);
}

/* ---- limits -----------------------------------------------------------------------------------
 */

static int build_limit(struct gw_policy *p, struct gw_rl_limit *l, const struct gw_limit_conf *lc,
                       const char *scope, size_t index, char *why, size_t why_cap)
{
    const struct gw_config *cfg = p->cfg;
    char name[96];
    char id[512];
    l->conf = lc;
    memset(&l->rl, 0, sizeof l->rl);
    l->rl.algo = (enum gw_rl_algo)lc->algorithm;
    l->rl.limit = lc->limit;
    l->rl.period_us = lc->period_ms * 1000;
    l->rl.burst = lc->burst;
    l->rl.sw_buckets = lc->buckets;
    if (gw_rl_conf_prepare(&l->rl) != 0) {
        snprintf(why, why_cap, "%s rate limit %zu: invalid settings", scope, index);
        return GW_EINVAL;
    }
    if (cfg->rate_limit.backend == GW_RL_BACKEND_REDIS && gw_rl_redis_conf_check(&l->rl) != 0) {
        snprintf(why, why_cap,
                 "%s rate limit %zu: too large for the Redis backend's exact arithmetic "
                 "(burst x period / limit must stay below 2^52 microseconds)",
                 scope, index);
        return GW_EINVAL;
    }
    if (lc->name)
        snprintf(name, sizeof name, "%s", lc->name);
    else
        snprintf(name, sizeof name, "#%zu", index); /* '#' is not allowed in names */
    /* Everything that changes decisions is part of the identity: change one and the counters
     * start afresh rather than being read with another meaning. */
    snprintf(id, sizeof id, "%s|%s|%d|%" PRIu64 "|%" PRIu64 "|%" PRIu64 "|%u|%d|%s", scope, name,
             (int)l->rl.algo, l->rl.limit, l->rl.period_us, l->rl.burst, l->rl.sw_buckets,
             (int)lc->key, lc->key_header ? lc->key_header : "");
    l->slot = slot_get(p->shared, id, &l->rl, cfg->rate_limit.max_keys);
    if (l->slot == NULL)
        return GW_ENOMEM;
    l->store = l->slot->store;
    size_t cap = strlen(cfg->rate_limit.redis.key_prefix ? cfg->rate_limit.redis.key_prefix : "") +
                 strlen(scope) + strlen(name) + 4;
    l->redis_key = malloc(cap);
    if (l->redis_key == NULL)
        return GW_ENOMEM;
    int n = snprintf(l->redis_key, cap, "%s%s:%s:",
                     cfg->rate_limit.redis.key_prefix ? cfg->rate_limit.redis.key_prefix : "",
                     scope, name);
    l->redis_key_len = (size_t)n;
    return 0;
}

static void free_limits(struct gw_policy *p, struct gw_rl_limit *ls, size_t n)
{
    for (size_t i = 0; ls && i < n; i++) {
        slot_put(p->shared, ls[i].slot);
        free(ls[i].redis_key);
    }
    free(ls);
}

static int build_limit_list(struct gw_policy *p, const struct gw_limit_conf *confs, size_t n,
                            const char *scope, struct gw_rl_limit **out, size_t *built, char *why,
                            size_t why_cap)
{
    *out = NULL;
    *built = 0;
    if (n == 0)
        return 0;
    struct gw_rl_limit *ls = calloc(n, sizeof *ls);
    if (ls == NULL)
        return GW_ENOMEM;
    *out = ls;
    *built = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = build_limit(p, &ls[i], &confs[i], scope, i, why, why_cap);
        /* what build_limit took (slot, key) is released by free_limits, so count it either way */
        *built = i + 1;
        if (rc < 0)
            return rc;
    }
    p->any_limits = true;
    return 0;
}

/* ---- auth -------------------------------------------------------------------------------------
 */

static char *join_words(char *const *items, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(items[i]) + 1;
    char *s = malloc(len);
    if (s == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(items[i]);
        if (k)
            s[k++] = ' ';
        memcpy(s + k, items[i], l);
        k += l;
    }
    s[k] = '\0';
    return s;
}

static int build_auth(struct gw_policy *p, char *why, size_t why_cap)
{
    const struct gw_config *cfg = p->cfg;
    p->jwt_policy.leeway_s = (int64_t)(cfg->auth.leeway_ms / 1000);
    p->jwt_policy.iss = cfg->auth.issuer;
    p->jwt_policy.aud = cfg->auth.audience;
    p->jwt_policy.require_exp = cfg->auth.require_exp;
    p->jwt_policy.required =
        (struct gw_claim_names){cfg->auth.required_claims, cfg->auth.nrequired_claims};
    p->jwt_policy.roles = (struct gw_claim_names){cfg->auth.roles_claims, cfg->auth.nroles_claims};
    p->jwt_policy.perms =
        (struct gw_claim_names){cfg->auth.permissions_claims, cfg->auth.npermissions_claims};
    size_t nc = cfg->auth.nconsumers;
    if (nc) {
        p->consumer_roles = calloc(nc, sizeof *p->consumer_roles);
        p->consumer_perms = calloc(nc, sizeof *p->consumer_perms);
        if (p->consumer_roles == NULL || p->consumer_perms == NULL)
            return GW_ENOMEM;
    }
    size_t nkeys = 0;
    for (size_t i = 0; i < nc; i++) {
        const struct gw_consumer_conf *c = &cfg->auth.consumers[i];
        p->consumer_roles[i] = join_words(c->roles, c->nroles);
        p->consumer_perms[i] = join_words(c->permissions, c->npermissions);
        if (p->consumer_roles[i] == NULL || p->consumer_perms[i] == NULL)
            return GW_ENOMEM;
        nkeys += c->napi_keys;
    }
    if (nkeys) {
        int rc = gw_apikey_table_new(&p->apikeys, nkeys);
        if (rc < 0)
            return rc;
        for (size_t i = 0; i < nc; i++) {
            const struct gw_consumer_conf *c = &cfg->auth.consumers[i];
            for (size_t k = 0; k < c->napi_keys; k++) {
                uint8_t digest[GW_APIKEY_DIGEST_LEN];
                rc = gw_apikey_parse_hash(c->api_keys[k], digest);
                if (rc == 0)
                    rc = gw_apikey_table_add(p->apikeys, digest, (uint32_t)i);
                if (rc < 0) {
                    snprintf(why, why_cap, "auth.consumers[%zu].api_keys[%zu]: cannot be used", i,
                             k);
                    return rc;
                }
            }
        }
    }
    if (cfg->auth.cache_entries && cfg->auth.jwt_enabled) {
        int rc = gw_token_cache_new(&p->jwt_tokens, cfg->auth.cache_entries);
        if (rc < 0)
            return rc;
    }
    if (cfg->auth.cache_entries && cfg->auth.introspection_enabled) {
        int rc = gw_token_cache_new(&p->introspected, cfg->auth.cache_entries);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- the policy -------------------------------------------------------------------------------
 */

/* The response cache's store, made by the first config that caches a service (control
 * thread; workers only read ps->cache_store through snapshots built after it is set). */
static int build_cache_store(struct gw_policy_shared *ps, const struct gw_config *cfg)
{
    if (ps->cache_store != NULL)
        return 0;
    uint64_t max_object = 0;
    for (size_t i = 0; i < cfg->nservices; i++) {
        const struct gw_cache_svc_conf *c = &cfg->services[i].cache;
        if (c->enabled && c->max_object_size > max_object)
            max_object = c->max_object_size;
    }
    if (max_object == 0)
        return 0;
    struct gw_cache_store_conf sc = {.max_bytes = (size_t)cfg->cache.max_bytes,
                                     .max_object = (size_t)max_object};
    return gw_cache_store_new(&ps->cache_store, &sc);
}

int gw_policy_build(struct gw_snapshot *s, struct gw_policy_shared *ps, char *why, size_t why_cap)
{
    char scratch[256];
    if (why == NULL || why_cap == 0) {
        why = scratch;
        why_cap = sizeof scratch;
    }
    why[0] = '\0';
    struct gw_policy *p = calloc(1, sizeof *p);
    if (p == NULL)
        return GW_ENOMEM;
    s->policy = p;
    p->cfg = s->cfg;
    p->shared = ps;
    const struct gw_config *cfg = s->cfg;
    int rc = 0;
    if (ps == NULL) /* tools that build a snapshot without running it */
        return 0;
    if (cfg->rate_limit.backend == GW_RL_BACKEND_REDIS && ps->redis == NULL) {
        rc = gw_rl_redis_shared_new(&ps->redis, ps->workers);
        if (rc < 0)
            return rc;
    }
    rc = build_cache_store(ps, cfg);
    if (rc < 0)
        return rc;
    rc = build_limit_list(p, cfg->rate_limit.limits, cfg->rate_limit.nlimits, "@gateway",
                          &p->limits, &p->nlimits, why, why_cap);
    if (rc < 0)
        return rc;
    if (s->nservices) {
        p->svc_limits = calloc(s->nservices, sizeof *p->svc_limits);
        p->svc_nlimits = calloc(s->nservices, sizeof *p->svc_nlimits);
        if (p->svc_limits == NULL || p->svc_nlimits == NULL)
            return GW_ENOMEM;
    }
    for (size_t i = 0; i < s->nservices; i++) {
        const struct gw_service_conf *sc = &cfg->services[i];
        rc = build_limit_list(p, sc->limits, sc->nlimits, sc->name, &p->svc_limits[i],
                              &p->svc_nlimits[i], why, why_cap);
        if (rc < 0)
            return rc;
    }
    rc = build_auth(p, why, why_cap);
    if (rc < 0)
        return rc;
    rc = gw_transform_build(p, s, why, why_cap);
    if (rc < 0)
        return rc;
    rc = gw_cors_build(p, cfg, why, why_cap);
    if (rc < 0)
        return rc;
    rc = gw_iprules_build(p, s);
    if (rc == 0)
        rc = gw_sechdr_build(p, s);
    if (rc == 0)
        rc = gw_version_build(p, s);
    if (rc == 0)
        rc = gw_policy_answer_build(p);
    if (rc < 0)
        return rc;
    /* Which stages of the chain each service runs: the others cost its requests nothing. */
    for (size_t i = 0; i < s->nservices; i++)
        gw_policy_stage_rows(s, i, &s->services[i]);
    return 0;
}

void gw_policy_free(struct gw_policy *p)
{
    if (p == NULL)
        return;
    const struct gw_config *cfg = p->cfg;
    free_limits(p, p->limits, p->nlimits);
    for (size_t i = 0; p->svc_limits && i < cfg->nservices; i++)
        free_limits(p, p->svc_limits[i], p->svc_nlimits[i]);
    free(p->svc_limits);
    free(p->svc_nlimits);
    for (size_t i = 0; i < cfg->auth.nconsumers; i++) {
        if (p->consumer_roles)
            free(p->consumer_roles[i]);
        if (p->consumer_perms)
            free(p->consumer_perms[i]);
    }
    free(p->consumer_roles);
    free(p->consumer_perms);
    gw_apikey_table_free(p->apikeys);
    gw_token_cache_free(p->jwt_tokens);
    gw_token_cache_free(p->introspected);
    gw_transform_free(p);
    gw_cors_free(p);
    gw_iprules_free(p->iprules);
    gw_sechdr_free(p->sechdr);
    gw_policy_answer_free(p);
    gw_version_free(p);
    free(p);
}

void gw_policy_sweep(struct gw_policy *p, uint64_t now_us)
{
    for (size_t i = 0; i < p->nlimits; i++)
        gw_rl_store_sweep(p->limits[i].store, now_us);
    for (size_t s = 0; p->svc_limits && s < p->cfg->nservices; s++) {
        for (size_t i = 0; i < p->svc_nlimits[s]; i++)
            gw_rl_store_sweep(p->svc_limits[s][i].store, now_us);
    }
    if (p->jwt_tokens)
        gw_token_cache_sweep(p->jwt_tokens, now_us);
    if (p->introspected)
        gw_token_cache_sweep(p->introspected, now_us);
}

void gw_keyset_unref(struct gw_keyset *ks)
{
    if (ks == NULL || atomic_fetch_sub_explicit(&ks->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < ks->nkeys; i++)
        gw_jwt_key_free(&ks->keys[i]);
    free(ks->keys);
    free(ks);
}

bool gw_policy_path_under(const char *path, size_t n, const char *p)
{
    size_t pl = strlen(p);
    if (pl == 1 && p[0] == '/')
        return true;
    if (n < pl || memcmp(path, p, pl) != 0)
        return false;
    if (n == pl || path[pl] == '/')
        return true;
    /* A path parameter ("/login;jsessionid=1", also escaped as %3B) ends the segment for
     * Tomcat, Jetty and Spring, which then serve "/login": it must match what "/login" matches,
     * or a limit or a stricter auth rule is one ';' away from being skipped. */
    return path[pl] == ';' ||
           (n - pl >= 3 && path[pl] == '%' && path[pl + 1] == '3' && (path[pl + 2] | 0x20) == 'b');
}

bool gw_policy_match(const struct gw_match_conf *m, const char *path, size_t n, int method_id)
{
    if (m->methods) {
        uint32_t methods = m->methods;
        if (methods & (1u << GW_METHOD_GET))
            methods |= 1u << GW_METHOD_HEAD;
        if (method_id < 0 || method_id >= 32 || !(methods & (1u << method_id)))
            return false;
    }
    if (m->nprefixes == 0)
        return true;
    for (size_t i = 0; i < m->nprefixes; i++) {
        if (gw_policy_path_under(path, n, m->prefixes[i]))
            return true;
    }
    return false;
}

bool gw_policy_match_len(const struct gw_match_conf *m, const char *path, size_t n, int method_id,
                         size_t *len)
{
    *len = 0;
    if (!gw_policy_match(m, path, n, method_id))
        return false;
    for (size_t i = 0; i < m->nprefixes; i++) {
        size_t pl = strlen(m->prefixes[i]);
        if (pl > *len && gw_policy_path_under(path, n, m->prefixes[i]))
            *len = pl;
    }
    return true;
}
