/*
 * The in-process response store: stored responses ("objects") shared by every worker,
 * bounded in bytes, with segmented-LRU eviction.
 *
 * Objects
 * - A struct gw_cache_obj is immutable once created and reference counted: a lookup returns
 *   a reference the caller holds while it sends the object (no lock held meanwhile) and gives
 *   back with gw_cache_obj_release; the store holds one of its own while the object is linked.
 *   An object evicted or purged while being sent lives until its last reference goes.
 * - Identity: the key (cache/key.h) picks the entries; among them the variant (Vary names and
 *   the request's signature, cache/vary.h) picks one. Inserting an object whose key and
 *   signature equal a linked one's replaces it.
 *
 * Bound and eviction
 * - The store is split into shards (a mutex each, picked by the key's hash), each holding at
 *   most its share of conf.max_bytes. An object's size is its bytes plus a fixed overhead
 *   (GW_CACHE_OBJ_OVERHEAD) for the allocator and the links, so the bound holds for memory.
 * - Segmented LRU (SLRU; Karedla, Love, Wherry 1994): a new object enters the probation
 *   segment; a hit on a probation object moves it to the protected segment, which may hold
 *   conf.protected_percent of a shard's bytes (the least recently used protected object is
 *   moved back to probation when it overflows). Room is made from the probation segment's
 *   least recently used end first, so a scan of objects seen once (a crawler, a cold burst)
 *   only churns probation and never pushes out objects that were hit twice.
 *
 * Threads: every call is thread-safe. A lookup holds one shard's lock for a hash probe and
 * the `match` callback; purges by URL, prefix and tag visit every shard, one lock at a time.
 */
#ifndef GW_CACHE_STORE_H
#define GW_CACHE_STORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/cc.h"
#include "core/list.h"

/* Bytes charged per object on top of its strings and body (struct, allocator headers). */
#define GW_CACHE_OBJ_OVERHEAD 256u

/* What an object is made of; gw_cache_obj_new copies everything but the body. */
struct gw_cache_obj_init {
    const char *key;
    size_t key_len;
    const char *vary_names; /* canonical list (struct gw_vary.names), may be empty */
    size_t vary_names_len;
    const char *vary_sig; /* the storing request's signature for vary_names */
    size_t vary_sig_len;
    const char *head; /* the response head as stored (status line and fields, CRLF-ended) */
    size_t head_len;
    const char *tags; /* purge tags, space or comma separated; may be empty */
    size_t tags_len;
    char *body; /* malloc'ed; ownership passes to the object (NULL when body_len is 0) */
    size_t body_len;
    int status;
    struct gw_cc cc;       /* the response's Cache-Control */
    int64_t lifetime;      /* freshness lifetime, seconds */
    int64_t initial_age;   /* corrected initial age, seconds */
    int64_t response_time; /* when the response (or its last validation) arrived */
};

struct gw_cache_obj {
    atomic_uint refs;
    uint64_t hash;
    const char *key;
    uint32_t key_len;
    uint32_t url_len; /* the URL part of key (gw_cache_key_url_len) */
    const char *vary_names;
    uint32_t vary_names_len;
    const char *vary_sig;
    uint32_t vary_sig_len;
    const char *head;
    size_t head_len;
    const char *tags;
    size_t tags_len;
    char *body;
    size_t body_len;
    int status;
    struct gw_cc cc;
    int64_t lifetime;
    int64_t initial_age;
    int64_t response_time;
    size_t size; /* bytes charged against the bound */
    /* the store's links, under the shard lock */
    struct gw_cache_obj *chain;
    struct gw_list lru;
    bool linked;
    bool protected_seg;
};

struct gw_cache_store_conf {
    /** bytes at most, in all (>= 64 KiB) */
    size_t max_bytes;
    /** the largest object the caller will insert: shards are sized to hold several */
    size_t max_object;
    /** share of a shard's bytes the protected segment may hold, 0..100 (default 80) */
    unsigned protected_percent;
};

struct gw_cache_store_stats {
    uint64_t objects;
    uint64_t bytes;
    uint64_t evictions; /* objects dropped to make room */
    uint64_t inserts;
    uint64_t purged;
    uint64_t shards;
    uint64_t fills; /* in flight */
};

struct gw_cache_store;

/* Creates an object (one reference, the caller's). Takes the body even on failure. Returns
 * NULL when out of memory or when the key is longer than 64 KiB. */
struct gw_cache_obj *gw_cache_obj_new(const struct gw_cache_obj_init *in);

/* Takes one more reference. */
void gw_cache_obj_ref(struct gw_cache_obj *o);

/* Gives one reference back; the last frees the object. NULL is a no-op. */
void gw_cache_obj_release(struct gw_cache_obj *o);

/* Creates an empty store. 0 and *out, GW_EINVAL (conf out of range) or GW_ENOMEM. */
int gw_cache_store_new(struct gw_cache_store **out, const struct gw_cache_store_conf *conf);

/* Drops every object and frees the store. NULL is a no-op. No other call may be running. */
void gw_cache_store_free(struct gw_cache_store *s);

/* The bound the store was created with. */
size_t gw_cache_store_max_bytes(const struct gw_cache_store *s);

/* The largest object the store can hold (a shard's share of the bytes). */
size_t gw_cache_store_max_object(const struct gw_cache_store *s);

typedef bool (*gw_cache_match_fn)(const struct gw_cache_obj *o, void *ctx);

/*
 * The object with key[0..len) for which match(o, ctx) says yes (NULL match: the first one),
 * as a new reference for the caller, or NULL. A found object becomes the most recently used
 * and, when it was in probation, moves to the protected segment. match runs under the shard
 * lock: it must be quick and call nothing of the store.
 */
struct gw_cache_obj *gw_cache_store_lookup(struct gw_cache_store *s, const char *key, size_t len,
                                           gw_cache_match_fn match, void *ctx);

/*
 * Links o (the store takes a reference of its own; the caller keeps its own), replacing an
 * object with the same key and variant signature, making room first. GW_EINVAL when o is
 * larger than gw_cache_store_max_object (nothing is linked).
 */
int gw_cache_store_insert(struct gw_cache_store *s, struct gw_cache_obj *o);

/* Unlinks the objects of key[0..len) (every variant); returns how many. */
size_t gw_cache_store_purge_key(struct gw_cache_store *s, const char *key, size_t len);

/* Unlinks the objects whose URL (the key's first part: host, path, query) equals url[0..len)
 * or, with prefix, starts with it; returns how many. Visits every shard. */
size_t gw_cache_store_purge_url(struct gw_cache_store *s, const char *url, size_t len, bool prefix);

/* Unlinks the objects carrying tag[0..len) among their tags; returns how many. */
size_t gw_cache_store_purge_tag(struct gw_cache_store *s, const char *tag, size_t len);

/* Unlinks every object; returns how many. */
size_t gw_cache_store_clear(struct gw_cache_store *s);

/*
 * Collapsed misses: the fills in flight. gw_cache_store_fill_begin records that one request is
 * fetching key[0..len) from the origin: true when it is the first (it fills and must call
 * gw_cache_store_fill_end once, whatever happens), false when another fill of the key is in
 * flight (the caller waits for it: polls gw_cache_store_fill_active, then looks up again).
 * A fill older than max_ms is taken over (the filler is stuck: the wait is bounded anyway).
 * now_ms: any monotonic clock in milliseconds. When out of
 * memory it returns true (the caller fills without collapsing).
 */
bool gw_cache_store_fill_begin(struct gw_cache_store *s, const char *key, size_t len,
                               uint64_t now_ms, uint64_t max_ms);
void gw_cache_store_fill_end(struct gw_cache_store *s, const char *key, size_t len);
bool gw_cache_store_fill_active(struct gw_cache_store *s, const char *key, size_t len);

/* Counters summed over the shards (a snapshot). */
void gw_cache_store_stats(struct gw_cache_store *s, struct gw_cache_store_stats *out);

#endif
