/*
 * The in-process rate-limit store: per-key state for one limit, shared by every worker thread.
 *
 * Keys are byte strings ("ip:1.2.3.4"). The table (core/shard_table.h) is split in
 * GW_RL_STORE_SHARDS shards by a seeded hash of the key; each shard has a mutex, its own chained
 * hash table and an LRU list.
 * A decision locks the key's shard for the lookup (or insert) and the algorithm's update, which
 * is a CAS (GCRA, fixed window) or a few arithmetic steps under the state's spinlock: holding the
 * shard mutex across it keeps the entry's lifetime trivial (no reference counts, no deferred
 * free). Contention is only between keys hashing to the same shard.
 *
 * Memory is bounded: at most `max_keys` keys (each shard holds max_keys / shards, the remainder
 * spread over the first shards). Inserting into a full shard forgets an idle key (state back at
 * full allowance, so forgetting changes no decision) among its 8 least recently used, or if none
 * is idle evicts the shard's least recently used key — whose next request starts from a full
 * allowance again (the cost of the bound; counted in gw_rl_store_stats). gw_rl_store_sweep forgets
 * idle keys everywhere; call it periodically (e.g. every period from the control thread).
 */
#ifndef GW_STATE_RATELIMIT_LOCAL_H
#define GW_STATE_RATELIMIT_LOCAL_H

#include <stddef.h>
#include <stdint.h>

#include "state/ratelimit.h"

#define GW_RL_STORE_SHARDS 64u
#define GW_RL_STORE_MAX_KEY 512u

struct gw_rl_store;

struct gw_rl_store_stats {
    uint64_t keys;      /* keys held now */
    uint64_t evictions; /* non-idle keys dropped to stay under the cap */
    uint64_t expired;   /* idle keys forgotten (by inserts into full shards and by sweeps) */
};

/* Creates a store for the limit `conf` (copied, then prepared: see gw_rl_conf_prepare) holding at
 * most max_keys keys (>= GW_RL_STORE_SHARDS). Returns 0 and *out, or GW_EINVAL / GW_ENOMEM. */
int gw_rl_store_new(struct gw_rl_store **out, const struct gw_rl_conf *conf, size_t max_keys);

/* Frees the store and every key. NULL is a no-op. No decision may be running. */
void gw_rl_store_free(struct gw_rl_store *st);

/* Decides one request for `key` (len 1..GW_RL_STORE_MAX_KEY bytes) at now_us and fills *out.
 * Thread-safe. Returns 0, GW_EINVAL (bad key) or GW_ENOMEM (then *out is unset: the caller's
 * policy decides, e.g. fail open). */
int gw_rl_store_decide(struct gw_rl_store *st, const void *key, size_t len, uint64_t now_us,
                       struct gw_rl_decision *out);

/* Forgets every key idle at now_us; returns how many. Thread-safe (locks one shard at a time). */
size_t gw_rl_store_sweep(struct gw_rl_store *st, uint64_t now_us);

/* Fills *out with counters. Thread-safe; a snapshot. */
void gw_rl_store_stats(struct gw_rl_store *st, struct gw_rl_store_stats *out);

#endif
