/*
 * The response cache's Redis backend (cache.backend "redis", docs/cache.md): stored responses
 * kept in Redis, so that every gantry instance using the same Redis and key prefix shares one
 * cache. One client per event loop: each worker's (lookups, stores, invalidations, PURGE on the
 * proxy port) and the control thread's (purges from the admin API). Built on the shared client
 * (state/redis_client.h) with the Redis settings of rate_limit.redis and the cache's own
 * key_prefix and timeout.
 *
 * Redis layout (P = cache.redis.key_prefix, K = the cache key, cache/key.h):
 *   P o:K     a hash: one field per variant (the Vary names, a NUL, the storing request's
 *             signature) holding the entry (cache/entry.h); its TTL is the longest of its
 *             variants' (freshness left + stale allowances, capped by max_ttl)
 *   P i       a sorted set of the keys K, scored by when their hash expires: purges by URL,
 *             prefix and all walk it (pruned of expired members as entries are written)
 *   P t:TAG   a set of the keys K whose responses carried TAG (tag_header), with the same TTL
 *
 * Threads: every call on the loop's thread the client was made on, except the stats (any).
 * Nothing ever blocks: a lookup that Redis does not answer within cache.redis.timeout is a miss.
 */
#ifndef GW_POLICY_CACHE_REDIS_H
#define GW_POLICY_CACHE_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct gw_config;
struct gw_cache_redis;

/* Whether cfg stores any service's responses in Redis. */
bool gw_cache_redis_wanted(const struct gw_config *cfg);

/* Loop thread. Makes *slot match cfg: a client when cfg wants the Redis backend (made from
 * cfg's settings; who names the loop in logs), replaced when the settings changed, closed
 * (commands in flight answered as failures, during the call) when it is no longer wanted or
 * when stop. 0, or GW_ENOMEM (then *slot is NULL: the backend's requests go upstream). */
int gw_cache_redis_sync(struct gw_cache_redis **slot, uv_loop_t *loop, const struct gw_config *cfg,
                        bool stop);

/* How an admin purge selects (as cache/store.h's purges). */
enum gw_cache_purge_mode {
    GW_CACHE_PURGE_URL = 0,
    GW_CACHE_PURGE_PREFIX,
    GW_CACHE_PURGE_TAG,
    GW_CACHE_PURGE_ALL,
};

/* Called once with 0 and the number of stored variants removed, or a negative code (Redis down,
 * timed out, refused). */
typedef void (*gw_cache_redis_purge_cb)(void *arg, int status, uint64_t purged);

/* Loop thread (the control thread's client). Removes the matching entries from Redis, in one
 * script (atomic; linear in the number of keys for URL, prefix and all). 0: cb runs once,
 * later, never during this call; or a negative code (down: GW_EREDISDOWN) and cb never runs. */
int gw_cache_redis_purge(struct gw_cache_redis *cr, enum gw_cache_purge_mode mode,
                         const char *value, size_t len, gw_cache_redis_purge_cb cb, void *arg);

/* Process-wide counters of the Redis backend (any thread). */
struct gw_cache_redis_stats {
    uint64_t clients; /* clients open (workers' and control's) */
    uint64_t up;      /* of them, connected */
    uint64_t down;    /* of them, down (failed, reconnecting); neither: connecting */
    uint64_t errors;  /* commands Redis did not answer (down, timeout, error, bad entry) */
    uint64_t lookups; /* lookups sent */
    uint64_t found;   /* lookups that found a matching variant */
    uint64_t stores;  /* entries written */
};
void gw_cache_redis_stats(struct gw_cache_redis_stats *out);

#endif
