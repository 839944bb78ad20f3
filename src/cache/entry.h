/*
 * A stored response as bytes: the form the Redis backend keeps (policy/cache_redis.c), one
 * Redis hash field per variant. Data read back from Redis is input like any other: the decoder
 * checks every length and value and never reads outside the buffer.
 *
 * Layout (integers little-endian; version 1):
 *   "GWC" 0x01                         magic and version
 *   u32 status                         100..599
 *   u32 cc flags, i64 max_age, s_maxage, max_stale, min_fresh, stale_while_revalidate,
 *       stale_if_error                 the response's Cache-Control (struct gw_cc)
 *   i64 lifetime, initial_age, response_time     >= 0
 *   u32 key_len, vary_names_len, vary_sig_len, head_len, tags_len
 *   u64 body_len
 *   key, vary names, vary signature, head (its last byte a NUL, no other NUL), tags, body
 *
 * Contract: pure functions, no allocation except gw_cache_entry_obj; thread-safe.
 */
#ifndef GW_CACHE_ENTRY_H
#define GW_CACHE_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "cache/cc.h"
#include "cache/store.h"

/* Bytes before the strings. */
#define GW_CACHE_ENTRY_FIXED 112u

/* A decoded entry: pointers into the decoded buffer (valid while it is). */
struct gw_cache_entry {
    int status;
    struct gw_cc cc;
    int64_t lifetime, initial_age, response_time;
    const char *key;
    size_t key_len;
    const char *vary_names;
    size_t vary_names_len;
    const char *vary_sig;
    size_t vary_sig_len;
    const char *head; /* NUL-terminated; head_len counts the NUL */
    size_t head_len;
    const char *tags;
    size_t tags_len;
    const char *body;
    size_t body_len;
};

/* The encoded size of o (what gw_cache_entry_encode writes). */
size_t gw_cache_entry_size(const struct gw_cache_obj *o);

/* Writes o into out[0..cap); returns the bytes written, or 0 when cap is too small or o's head
 * is not NUL-terminated. */
size_t gw_cache_entry_encode(const struct gw_cache_obj *o, char *out, size_t cap);

/* Reads an entry from buf[0..len) (exactly: trailing bytes are an error). 0 and *e, or
 * GW_EINVAL for anything malformed: wrong magic or version, a length past the end, a status
 * outside 100..599, negative times, Cache-Control numbers outside -1..2^31, unknown flags, a key
 * longer than GW_CACHE_KEY_MAX, a Vary part longer than 1024 bytes, a head that is not
 * NUL-terminated or holds a NUL or a bare CR or LF before it. */
int gw_cache_entry_decode(const char *buf, size_t len, struct gw_cache_entry *e);

/* A new object (one reference, the caller's) holding copies of e's parts, or NULL when out of
 * memory. */
struct gw_cache_obj *gw_cache_entry_obj(const struct gw_cache_entry *e);

#endif
