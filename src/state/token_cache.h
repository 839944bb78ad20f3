/*
 * The verified-token cache: what authentication established for a bearer token (a verified
 * JWT, an introspection answer), so the next request with the same token skips the work.
 * Shared by every worker thread.
 *
 * Entries are keyed by the SHA-256 of the token; the token itself is never stored, so a memory
 * dump of the cache yields no usable credential. Each entry holds a copy of the identity (or a
 * negative mark, e.g. for a token introspection called inactive) and an expiry on the caller's
 * monotonic clock, in microseconds; an entry is valid while now < expires_at.
 *
 * The table is a core/shard_table.h table, like the rate-limit store's: split in shards by a
 * seeded hash of the digest, each with a mutex, its own chained hash table, an LRU list and
 * (here) a min-heap of expiries. Memory is bounded: at most max_entries entries in all. Inserting
 * into a full shard removes the entry that expired first if any has expired (by the latest time a
 * lookup passed to that shard), else the least recently used one. gw_token_cache_sweep drops every
 * expired entry; call it periodically (e.g. from the control thread).
 */
#ifndef GW_STATE_TOKEN_CACHE_H
#define GW_STATE_TOKEN_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "policy/identity-t.h"

/* Number of shards: up to GW_TOKEN_CACHE_SHARDS, a power of two, each of at least
 * GW_TOKEN_CACHE_MIN_PER_SHARD entries (so a cache under 32 entries is one shard). */
#define GW_TOKEN_CACHE_SHARDS 32u
#define GW_TOKEN_CACHE_MIN_PER_SHARD 16u

struct gw_token_cache;

struct gw_token_cache_stats {
    uint64_t hits;      /* lookups answered by a live entry (positive or negative) */
    uint64_t misses;    /* lookups that found nothing, or an expired entry */
    uint64_t entries;   /* entries held now */
    uint64_t evictions; /* live entries dropped (least recently used) to stay under the cap */
    uint64_t expired;   /* expired entries dropped (by lookups, inserts and sweeps) */
    uint64_t bytes;     /* memory held by the entries (struct and identity strings) */
};

/* Creates a cache of at most max_entries entries (>= 1). Returns 0, GW_EINVAL or GW_ENOMEM. */
int gw_token_cache_new(struct gw_token_cache **out, size_t max_entries);

/* Frees the cache and every entry. NULL is a no-op. No other call may be running. */
void gw_token_cache_free(struct gw_token_cache *c);

/*
 * Stores a copy of *id for token[0..len) (len >= 1), or a negative entry when id is NULL,
 * valid until expires_at_us; replaces any entry the token had. Thread-safe. Returns 0,
 * GW_EINVAL (empty token) or GW_ENOMEM (then the cache is unchanged).
 */
int gw_token_cache_put(struct gw_token_cache *c, const void *token, size_t len,
                       const struct gw_identity *id, uint64_t expires_at_us);

/*
 * Looks up token[0..len) at now_us. Returns 1 for a positive hit (a copy of the identity in
 * *out, to release with gw_identity_clear), 2 for a negative hit, 0 for a miss (no entry, or an
 * expired one, which is removed), or GW_EINVAL (empty token) / GW_ENOMEM (copying failed).
 * *out (may be NULL) is zeroed unless the result is 1. Thread-safe.
 */
int gw_token_cache_get(struct gw_token_cache *c, const void *token, size_t len, uint64_t now_us,
                       struct gw_identity *out);

/* Removes every entry expired at now_us; returns how many. Thread-safe (one shard at a time). */
size_t gw_token_cache_sweep(struct gw_token_cache *c, uint64_t now_us);

/* Removes every entry (the keys that verified them changed); returns how many. Thread-safe. */
size_t gw_token_cache_clear(struct gw_token_cache *c);

/* Fills *out with counters. Thread-safe; a snapshot. */
void gw_token_cache_stats(struct gw_token_cache *c, struct gw_token_cache_stats *out);

/* Frees the strings of *id and zeroes it. NULL-safe. */
void gw_identity_clear(struct gw_identity *id);

/*
 * Makes *dst a deep copy of *src (dst is overwritten, not freed first). Returns 0, or
 * GW_ENOMEM with *dst zeroed.
 */
int gw_identity_copy(struct gw_identity *dst, const struct gw_identity *src);

#endif
