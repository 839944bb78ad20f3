/*
 * A bounded hash table shared by threads: split in shards, each with its own mutex, chained
 * buckets and an LRU list, optionally a min-heap of expiry times. It knows nothing of what the
 * entries hold; the rate-limit store (state/ratelimit_local.c) and the verified-token cache
 * (state/token_cache.c) are built on it.
 *
 * Entries are the caller's structs with a struct gw_shard_entry embedded; the caller allocates
 * them, the table links them and gives them back to conf.free_entry when it drops them. A
 * shard is picked by the low bits of an entry's 64-bit hash, so hashes must be well spread
 * (gw_shard_table_hash gives a seeded one).
 *
 * Memory is bounded: at most conf.max_entries entries in all, each shard holding its share
 * (max_entries / shards, the remainder spread over the first shards). Inserting into a full
 * shard makes room first, in this order:
 *   1. with the expiry heap, the entry that expires first, if it has expired by the latest time
 *      the shard has been given (counted as expired);
 *   2. with conf.idle, the first idle entry among the conf.idle_probe least recently used
 *      (counted as expired);
 *   3. else the least recently used entry (counted as an eviction).
 *
 * Locking: gw_shard_table_lock returns the shard of a hash, locked; every gw_shard_* call needs
 * that lock, and the caller may read and change its entries' own fields while holding it. The
 * gw_shard_table_* calls take the shard locks themselves, one at a time. conf's callbacks run
 * with a shard lock held and must not call back into the table.
 */
#ifndef GW_CORE_SHARD_TABLE_H
#define GW_CORE_SHARD_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/list.h"

#define GW_SHARD_TABLE_MAX_SHARDS 1024u

/* The table's part of an entry; embed it in the caller's entry. */
struct gw_shard_entry {
    /** set by the caller before gw_shard_insert; never changed while linked */
    uint64_t hash;
    /** tables with the expiry heap: set by the caller before gw_shard_insert; the entry is live
     * while now < expires_at */
    uint64_t expires_at;
    /** bytes the entry holds, for the stats; set by the caller (0 when nobody asks) */
    size_t size;
    /* the table's links */
    struct gw_shard_entry *chain;
    struct gw_list lru;
    size_t heap_idx;
};

struct gw_shard_table_conf {
    /** entries at most, in all (>= 1) */
    size_t max_entries;
    /** shards: the largest power of two up to max_shards (1 to GW_SHARD_TABLE_MAX_SHARDS, a
     * power of two) that leaves each at least min_per_shard entries (0 counts as 1) */
    unsigned max_shards;
    unsigned min_per_shard;
    /** keep each shard's entries in a min-heap on expires_at (see the top of this file) */
    bool expiry_heap;
    /** how many least recently used entries a full shard asks idle about before evicting */
    unsigned idle_probe;
    /** whether e (whose hash matched) holds key[0..len). Required */
    bool (*key_eq)(const struct gw_shard_entry *e, const void *key, size_t len);
    /** whether dropping e at `now` changes nothing anyone could see (NULL: never) */
    bool (*idle)(const struct gw_shard_entry *e, uint64_t now, void *ctx);
    /** frees an entry the table dropped. Required */
    void (*free_entry)(struct gw_shard_entry *e, void *ctx);
    /** passed to idle and free_entry */
    void *ctx;
};

struct gw_shard_table_stats {
    uint64_t shards;    /* how many the table has */
    uint64_t entries;   /* held now */
    uint64_t hits;      /* gw_shard_lookup calls that found a live entry */
    uint64_t misses;    /* gw_shard_lookup calls that found nothing, or an expired entry */
    uint64_t evictions; /* live entries dropped to stay under the bound */
    uint64_t expired;   /* expired or idle entries dropped (by lookups, inserts and sweeps) */
    uint64_t bytes;     /* sum of the held entries' size */
};

struct gw_shard_table;
struct gw_shard;

/* Creates an empty table. Returns 0 and *out, GW_EINVAL (conf out of range, a required
 * callback missing) or GW_ENOMEM. */
int gw_shard_table_new(struct gw_shard_table **out, const struct gw_shard_table_conf *conf);

/* Gives every entry to free_entry and frees the table. NULL is a no-op. No other call on the
 * table may be running. */
void gw_shard_table_free(struct gw_shard_table *t);

/* A hash of key[0..len) under the table's per-process random seed (see core/hash.h), fit to
 * pick shards and buckets: clients cannot aim keys they choose at one shard. */
uint64_t gw_shard_table_hash(const struct gw_shard_table *t, const void *key, size_t len);

/* The same for a key that is already uniformly random (the first 8 bytes of a digest): x
 * mixed with the seed, without reading any more bytes. */
uint64_t gw_shard_table_mix(const struct gw_shard_table *t, uint64_t x);

/* Locks and returns the shard that holds the entries of `hash`. */
struct gw_shard *gw_shard_table_lock(struct gw_shard_table *t, uint64_t hash);

/* Unlocks a shard returned by gw_shard_table_lock. */
void gw_shard_unlock(struct gw_shard *sh);

/* The entry of hash holding key[0..len), or NULL. Changes nothing. Shard lock held. */
struct gw_shard_entry *gw_shard_find(struct gw_shard *sh, uint64_t hash, const void *key,
                                     size_t len);

/*
 * Like gw_shard_find, for a use of the entry at `now`: a found entry becomes the most recently
 * used; with the expiry heap, a found entry with now >= expires_at is dropped instead (NULL).
 * Counts a hit or a miss. The shard remembers the latest `now` it was given. Shard lock held.
 */
struct gw_shard_entry *gw_shard_lookup(struct gw_shard *sh, uint64_t hash, const void *key,
                                       size_t len, uint64_t now);

/*
 * Links e (hash, and with the heap expires_at, set) as the most recently used entry, making
 * room first when the shard is full (see the top of this file; idle is asked at `now`, the heap
 * judged at the latest time the shard was given). No entry with e's key may be linked: find
 * and remove it first. `now` may be 0 when the caller has no clock. Shard lock held.
 */
void gw_shard_insert(struct gw_shard *sh, struct gw_shard_entry *e, uint64_t now);

/* Unlinks e (linked in this shard) and gives it to free_entry. Counts nothing. Lock held. */
void gw_shard_remove(struct gw_shard *sh, struct gw_shard_entry *e);

/*
 * Drops every entry expired at now (heap tables: now >= expires_at) or idle at now (tables
 * with idle); returns how many. Thread-safe, one shard at a time.
 */
size_t gw_shard_table_sweep(struct gw_shard_table *t, uint64_t now);

/* Drops every entry; returns how many. Counts nothing. Thread-safe, one shard at a time. */
size_t gw_shard_table_clear(struct gw_shard_table *t);

/* Fills *out with the counters summed over the shards. Thread-safe; a snapshot. */
void gw_shard_table_stats(struct gw_shard_table *t, struct gw_shard_table_stats *out);

#endif
