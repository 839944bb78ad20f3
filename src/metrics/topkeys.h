/*
 * The keys rate limits refuse most: a small space-saving table (Metwally, Agrawal, El Abbadi,
 * "Efficient computation of frequent and top-k elements in data streams", 2005) per worker,
 * written only when a limit refuses a request, merged by the control thread when it is read.
 *
 * Bounded: each worker holds GW_TOPKEYS_SLOTS (limit, key) pairs, whatever the traffic. A pair
 * not in a full table replaces the pair with the smallest count and inherits that count as its
 * possible overcount (error): any pair refused more than (refusals / slots) times on a worker
 * is in its table, and a count is never below the truth minus its error.
 *
 * Threads: gw_topkeys_record on the worker named (one uncontended mutex per worker, taken only
 * for a refused request: an allowed request never comes here); the rest on the control thread.
 */
#ifndef GW_METRICS_TOPKEYS_H
#define GW_METRICS_TOPKEYS_H

#include <stddef.h>
#include <stdint.h>

#define GW_TOPKEYS_SLOTS 64
#define GW_TOPKEYS_LIMIT_MAX 96 /* a limit's label: "scope" 0x1f "name" (the metrics row key) */
#define GW_TOPKEYS_KEY_MAX 96   /* a key as the limit builds it ("ip:10.0.0.7"), cut beyond */

struct gw_topkeys;

/* One merged pair. */
struct gw_topkeys_entry {
    char limit[GW_TOPKEYS_LIMIT_MAX];
    char key[GW_TOPKEYS_KEY_MAX];
    uint64_t count; /* refusals counted (at most error above the truth) */
    uint64_t error; /* the count it inherited when it entered a full table */
};

/* Tables for workers workers. 0 or GW_ENOMEM. */
int gw_topkeys_new(unsigned workers, struct gw_topkeys **out);
/* NULL-safe; no worker may record any more. */
void gw_topkeys_free(struct gw_topkeys *t);

/* Worker `worker` (< workers; others are ignored): limit refused a request of key. Strings
 * longer than the maxima are cut. */
void gw_topkeys_record(struct gw_topkeys *t, unsigned worker, const char *limit, size_t llen,
                       const char *key, size_t klen);

/* Control thread: every worker's pairs merged (the same pair's counts and errors summed),
 * sorted by limit, then count (largest first), then key; at most per_limit pairs per limit.
 * Fills out (at most cap) and returns the number. */
size_t gw_topkeys_read(struct gw_topkeys *t, size_t per_limit, struct gw_topkeys_entry *out,
                       size_t cap);

/* Control thread: forgets every count (the tables start again). */
void gw_topkeys_clear(struct gw_topkeys *t);

#endif
