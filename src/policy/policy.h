/*
 * The request policies that run between routing and the proxy (DESIGN.md "policy chain"):
 * rate limits that need no identity, authentication and authorization (policy/auth.c), then
 * rate limits keyed by the consumer (policy/ratelimit_policy.c).
 * Each is a stage of the chain (policy/chain.h has the contract, policy/chain.c the table).
 *
 * Runtime state comes in two lifetimes:
 *   - struct gw_policy: per snapshot, built from the config (compiled limits, API-key table,
 *     token cache, auth settings), immutable, freed with the snapshot;
 *   - struct gw_policy_shared: per process, outlives reloads: the in-process rate-limit
 *     counters (so a reload does not hand every client a fresh allowance), the Redis backend's
 *     shared state and metrics, the JWKS key set.
 */
#ifndef GW_POLICY_POLICY_H
#define GW_POLICY_POLICY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config/config-t.h"
#include "policy/jwt.h"
#include "state/ratelimit.h"

struct gw_request;
struct gw_snapshot;
struct gw_rl_store;
struct gw_rl_redis_shared;
struct gw_cache_store;
struct gw_apikey_table;
struct gw_token_cache;
struct gw_keyset;
struct gw_tf_plan;
struct gw_cors_service;
struct gw_answer_filter;
struct gw_csrf_service;
struct gw_iprules_policy;
struct gw_sechdr_policy;
struct gw_version_service;
struct gw_topkeys;

/* A compiled limit. */
struct gw_rl_limit {
    const struct gw_limit_conf *conf;
    struct gw_rl_conf rl;          /* prepared */
    struct gw_rl_store_slot *slot; /* the in-process counters, shared across reloads */
    struct gw_rl_store *store;     /* slot's store */
    char *redis_key;               /* "<key_prefix><scope>:<name>:" ; the scope key follows */
    size_t redis_key_len;
};

/* A service's compiled auth rule. */
struct gw_auth_rule {
    const struct gw_match_conf *match;
    bool required;
    char *const *roles;
    size_t nroles;
    char *const *perms;
    size_t nperms;
};

/* Per snapshot. */
struct gw_policy {
    const struct gw_config *cfg;
    struct gw_policy_shared *shared;
    struct gw_rl_limit *limits; /* gateway-wide */
    size_t nlimits;
    struct gw_rl_limit **svc_limits; /* per service index */
    size_t *svc_nlimits;
    bool any_limits;
    /* auth */
    struct gw_jwt_policy jwt_policy;
    struct gw_apikey_table *apikeys; /* digest -> index into cfg->auth.consumers */
    /* Verified JWTs, and introspection answers, apart: a hit must come from a method the
     * service accepts (a token one service introspected is not a JWT another verified). */
    struct gw_token_cache *jwt_tokens;
    struct gw_token_cache *introspected;
    char **consumer_roles; /* per consumer: roles joined by spaces */
    char **consumer_perms;
    struct gw_tf_plan *transforms; /* per service index (policy/transform.h), or NULL */
    /* browser policies (policy/cors.h): per service index, NULL when no service has one */
    struct gw_cors_service *cors;
    struct gw_csrf_service *csrf;
    /* traffic policies */
    struct gw_iprules_policy *iprules;   /* allow and deny lists (policy/iprules.h) */
    struct gw_sechdr_policy *sechdr;     /* security headers (policy/sechdr.h) */
    struct gw_version_service *versions; /* per service index (policy/version.c), or NULL */
    uint32_t answer_hooks;               /* bit i: answer hook i has work (policy/answer.h) */
    /* the upstream fields the answer hooks look for, per security-header set (none first, then
     * sechdr->sets[i]) x TLS x CORS: [(set + 1) * 4 + secure * 2 + cors] (policy/answer.c) */
    struct gw_answer_filter *answer_filters;
};

/* A JWKS key set, refcounted: workers hold the current one, the control thread replaces it. */
struct gw_keyset {
    atomic_int refs;
    uint64_t generation; /* fetch attempts completed when this set was published */
    struct gw_jwt_key *keys;
    size_t nkeys;
};

/* Per process. */
struct gw_policy_shared {
    uv_mutex_t lock; /* the store slots */
    struct gw_rl_store_slot *slots;
    struct gw_rl_redis_shared *redis; /* NULL until a config uses the Redis backend */
    /* the response cache's store (cache/store.h): NULL until a config caches a service; sized
     * by the first such config (a reload does not resize it) */
    struct gw_cache_store *cache_store;
    unsigned workers;
    /* the keys the limits refuse most (metrics/topkeys.h), per worker */
    struct gw_topkeys *topkeys;
    /* metrics */
    _Atomic uint64_t rl_allowed, rl_limited, rl_redis_fallbacks, rl_redis_failed_closed;
    _Atomic uint64_t auth_ok, auth_failed, auth_forbidden;
};

int gw_policy_shared_new(struct gw_policy_shared **out, unsigned workers);
void gw_policy_shared_free(struct gw_policy_shared *ps);

/* Builds s->policy and the per-service parts for snapshot s (whose services are built).
 * 0, or a negative code with why. */
int gw_policy_build(struct gw_snapshot *s, struct gw_policy_shared *ps, char *why, size_t why_cap);
void gw_policy_free(struct gw_policy *p);

/* The traffic policies' parts of gw_policy_build, each compiling s->cfg into p (control thread,
 * while the snapshot is built; 0 or GW_ENOMEM), and of gw_policy_free (NULL-safe):
 * policy/iprules.c (p->iprules) and policy/sechdr.c (p->sechdr, and its answer hook's bit). */
int gw_iprules_build(struct gw_policy *p, const struct gw_snapshot *s);
void gw_iprules_free(struct gw_iprules_policy *ip);
int gw_sechdr_build(struct gw_policy *p, const struct gw_snapshot *s);
void gw_sechdr_free(struct gw_sechdr_policy *sp);
/* API versioning (policy/version.c): each service's deprecation header lines. */
int gw_version_build(struct gw_policy *p, const struct gw_snapshot *s);
void gw_version_free(struct gw_policy *p);

/* Forgets idle rate-limit keys and expired cached tokens; the control thread calls it every
 * second. */
void gw_policy_sweep(struct gw_policy *p, uint64_t now_us);

void gw_keyset_unref(struct gw_keyset *ks);

struct gw_worker;

/* Worker thread: a JWKS refresh completed (or, with only_overdue, the once-a-second sweep):
 * resumes the requests waiting for it (all, or those waiting longer than the fetch timeout). */
void gw_auth_jwks_refreshed(struct gw_worker *w, bool only_overdue);

/* True if path[0..n) is prefix p or lies under it on a segment boundary. */
bool gw_policy_path_under(const char *path, size_t n, const char *p);
/* True if the request matches m (prefix and method). */
bool gw_policy_match(const struct gw_match_conf *m, const char *path, size_t n, int method_id);
/* As gw_policy_match; when it matches, *len is the length of the longest of m's prefixes the
 * path is under (0 when m has no prefix), for rules where the longest match wins. */
bool gw_policy_match_len(const struct gw_match_conf *m, const char *path, size_t n, int method_id,
                         size_t *len);

#endif
