/*
 * A cache of equal-size buffers for one thread.
 *
 * Connections give their read buffers back when they go idle (an idle keep-alive connection
 * costs only its handles) and take one again for the next request. Buffers of 16 and 64 KiB
 * are past glibc's per-thread cache, so each round trip through malloc and free costs several
 * hundred instructions per request; a few kept here make it a pointer move. At most
 * GW_BUFCACHE_MAX are kept, so what the cache holds beyond the connections' own use is bounded
 * (GW_BUFCACHE_MAX x size per worker). Not thread-safe: one per worker and size.
 *
 * Under AddressSanitizer a kept buffer is poisoned until it is taken again, so a use after it
 * was given back is still reported.
 */
#ifndef GW_CORE_BUFCACHE_H
#define GW_CORE_BUFCACHE_H

#include <stddef.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define GW_BUFCACHE_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define GW_BUFCACHE_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define GW_BUFCACHE_POISON(p, n) ((void)(p), (void)(n))
#define GW_BUFCACHE_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define GW_BUFCACHE_MAX 16

struct gw_bufcache {
    size_t size; /* of every buffer */
    unsigned n;  /* kept: kept[0 .. n) */
    void *kept[GW_BUFCACHE_MAX];
};

/* An empty cache of buffers of size bytes. */
static inline void gw_bufcache_init(struct gw_bufcache *bc, size_t size)
{
    bc->size = size;
    bc->n = 0;
}

/* A buffer of bc->size bytes (uninitialised): a kept one, else malloc's. NULL when out of
 * memory. */
static inline void *gw_bufcache_get(struct gw_bufcache *bc)
{
    if (bc->n == 0)
        return malloc(bc->size);
    void *p = bc->kept[--bc->n];
    GW_BUFCACHE_UNPOISON(p, bc->size);
    return p;
}

/* Gives back a buffer taken with gw_bufcache_get (NULL: nothing): kept when there is room,
 * else freed. */
static inline void gw_bufcache_put(struct gw_bufcache *bc, void *p)
{
    if (p == NULL)
        return;
    if (bc->n == GW_BUFCACHE_MAX) {
        free(p);
        return;
    }
    GW_BUFCACHE_POISON(p, bc->size);
    bc->kept[bc->n++] = p;
}

/* Frees every kept buffer; the cache stays usable (empty). */
static inline void gw_bufcache_clear(struct gw_bufcache *bc)
{
    while (bc->n > 0) {
        void *p = bc->kept[--bc->n];
        GW_BUFCACHE_UNPOISON(p, bc->size);
        free(p);
    }
}

#endif
