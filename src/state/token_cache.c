/* The sharded verified-token cache; see state/token_cache.h. */
#include "state/token_cache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/error.h"
#include "core/hash.h"
#include "core/list.h"
#include "core/random.h"

#define TC_DIGEST_LEN 32

struct tc_entry {
    struct tc_entry *chain; /* next in the hash bucket */
    struct gw_list lru;     /* head of the shard's list = most recently used */
    size_t heap_idx;        /* position in the shard's expiry heap */
    uint64_t hash;
    uint64_t expires_at;
    size_t size; /* bytes accounted for this entry */
    bool negative;
    uint8_t digest[TC_DIGEST_LEN]; /* SHA-256 of the token: the token itself is never kept */
    struct gw_identity id;         /* strings point into data[] */
    char data[];
};

struct tc_shard {
    pthread_mutex_t mu;
    struct tc_entry **buckets;
    size_t nbuckets;        /* a power of two */
    struct tc_entry **heap; /* min-heap on expires_at, cap slots */
    size_t count;
    size_t cap;
    struct gw_list lru;
    uint64_t now; /* latest now_us a lookup passed to this shard */
    uint64_t hits, misses, evictions, expired, bytes;
};

struct gw_token_cache {
    uint64_t seed;
    unsigned nshards; /* a power of two */
    struct tc_shard shards[];
};

/*
 * Digest bytes are uniform, but a client choosing tokens could still aim them at one bucket by
 * trying a few million; the per-process seed makes the bucket of a digest unpredictable.
 */
static uint64_t hash_digest(uint64_t seed, const uint8_t *d)
{
    uint64_t h;
    memcpy(&h, d, sizeof(h));
    return gw_hash_mix64(h ^ seed);
}

static size_t bucket_of(const struct tc_shard *sh, uint64_t hash)
{
    return (size_t)(hash >> 8) & (sh->nbuckets - 1);
}

static struct tc_shard *shard_of(struct gw_token_cache *c, uint64_t hash)
{
    return &c->shards[hash & (c->nshards - 1)];
}

static int digest_token(const void *token, size_t len, uint8_t d[TC_DIGEST_LEN])
{
    unsigned int n = 0;
    if (token == NULL || len == 0)
        return GW_EINVAL;
    if (EVP_Digest(token, len, d, &n, EVP_sha256(), NULL) != 1 || n != TC_DIGEST_LEN)
        return GW_ENOMEM;
    return 0;
}

/* ---- identities ------------------------------------------------------------------------- */

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

void gw_identity_clear(struct gw_identity *id)
{
    if (id == NULL)
        return;
    free(id->consumer);
    free(id->user);
    free(id->roles);
    free(id->perms);
    memset(id, 0, sizeof(*id));
}

int gw_identity_copy(struct gw_identity *dst, const struct gw_identity *src)
{
    const char *from[4] = {src->consumer, src->user, src->roles, src->perms};
    char *to[4] = {NULL, NULL, NULL, NULL};

    for (int i = 0; i < 4; i++) {
        if (from[i] == NULL)
            continue;
        to[i] = dup_str(from[i]);
        if (to[i] == NULL)
            goto fail;
    }
    dst->consumer = to[0];
    dst->user = to[1];
    dst->roles = to[2];
    dst->perms = to[3];
    dst->exp = src->exp;
    return 0;
fail:
    for (int i = 0; i < 4; i++)
        free(to[i]);
    memset(dst, 0, sizeof(*dst));
    return GW_ENOMEM;
}

/* ---- the expiry heap (shard lock held) ------------------------------------------------- */

static void heap_set(struct tc_shard *sh, size_t i, struct tc_entry *e)
{
    sh->heap[i] = e;
    e->heap_idx = i;
}

static void heap_up(struct tc_shard *sh, size_t i)
{
    struct tc_entry *e = sh->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (sh->heap[parent]->expires_at <= e->expires_at)
            break;
        heap_set(sh, i, sh->heap[parent]);
        i = parent;
    }
    heap_set(sh, i, e);
}

static void heap_down(struct tc_shard *sh, size_t i)
{
    struct tc_entry *e = sh->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= sh->count)
            break;
        if (child + 1 < sh->count && sh->heap[child + 1]->expires_at < sh->heap[child]->expires_at)
            child++;
        if (e->expires_at <= sh->heap[child]->expires_at)
            break;
        heap_set(sh, i, sh->heap[child]);
        i = child;
    }
    heap_set(sh, i, e);
}

/* ---- shards ------------------------------------------------------------------------------ */

static struct tc_entry *shard_find(struct tc_shard *sh, uint64_t hash, const uint8_t *digest)
{
    struct tc_entry *e = sh->buckets[bucket_of(sh, hash)];
    while (e != NULL && !(e->hash == hash && CRYPTO_memcmp(e->digest, digest, TC_DIGEST_LEN) == 0))
        e = e->chain;
    return e;
}

static void shard_insert(struct tc_shard *sh, struct tc_entry *e)
{
    size_t b = bucket_of(sh, e->hash);
    e->chain = sh->buckets[b];
    sh->buckets[b] = e;
    gw_list_insert_head(&sh->lru, &e->lru);
    heap_set(sh, sh->count, e);
    sh->count++;
    heap_up(sh, e->heap_idx);
    sh->bytes += e->size;
}

/* Unlinks e from its bucket, the LRU list and the heap, and frees it. */
static void shard_remove(struct tc_shard *sh, struct tc_entry *e)
{
    struct tc_entry **pp = &sh->buckets[bucket_of(sh, e->hash)];
    size_t i = e->heap_idx;

    while (*pp != e)
        pp = &(*pp)->chain;
    *pp = e->chain;
    gw_list_remove(&e->lru);
    sh->count--;
    if (i != sh->count) {
        /* Move the last heap element into the hole, then restore the order either way. */
        heap_set(sh, i, sh->heap[sh->count]);
        heap_up(sh, i);
        heap_down(sh, i);
    }
    sh->heap[sh->count] = NULL;
    sh->bytes -= e->size;
    /* The identity is a credential's worth of authority: do not leave it in freed memory. */
    OPENSSL_cleanse(e, e->size);
    free(e);
}

/* Removes every entry expired at now; returns how many. */
static size_t shard_expire(struct tc_shard *sh, uint64_t now)
{
    size_t n = 0;
    while (sh->count > 0 && sh->heap[0]->expires_at <= now) {
        shard_remove(sh, sh->heap[0]);
        n++;
    }
    sh->expired += n;
    return n;
}

/*
 * Makes room for one entry in a full shard, in O(log n): the entry that expired first if it has
 * expired by the shard's latest lookup time, else the least recently used one.
 */
static void shard_make_room(struct tc_shard *sh)
{
    if (sh->count < sh->cap)
        return;
    if (sh->heap[0]->expires_at <= sh->now) {
        shard_remove(sh, sh->heap[0]);
        sh->expired++;
        return;
    }
    shard_remove(sh, gw_container_of(sh->lru.prev, struct tc_entry, lru));
    sh->evictions++;
}

/* ---- the cache -------------------------------------------------------------------------- */

int gw_token_cache_new(struct gw_token_cache **out, size_t max_entries)
{
    struct gw_token_cache *c = NULL;
    unsigned nshards = 1, inited = 0;
    int rc = GW_EINVAL;

    if (max_entries == 0 || max_entries > SIZE_MAX / 2 / sizeof(void *))
        goto fail;
    /* A shard of a handful of entries would make a poor LRU: small caches get fewer shards. */
    while (nshards < GW_TOKEN_CACHE_SHARDS &&
           (size_t)nshards * 2 * GW_TOKEN_CACHE_MIN_PER_SHARD <= max_entries)
        nshards <<= 1;
    rc = GW_ENOMEM;
    c = calloc(1, sizeof(*c) + nshards * sizeof(struct tc_shard));
    if (c == NULL)
        goto fail;
    c->seed = gw_random_u64();
    c->nshards = nshards;
    for (; inited < nshards; inited++) {
        struct tc_shard *sh = &c->shards[inited];
        sh->cap = max_entries / nshards + (inited < max_entries % nshards);
        sh->nbuckets = 1;
        while (sh->nbuckets < sh->cap)
            sh->nbuckets <<= 1;
        sh->buckets = calloc(sh->nbuckets, sizeof(*sh->buckets));
        sh->heap = calloc(sh->cap, sizeof(*sh->heap));
        if (sh->buckets == NULL || sh->heap == NULL || pthread_mutex_init(&sh->mu, NULL) != 0) {
            free(sh->buckets);
            free(sh->heap);
            goto fail;
        }
        gw_list_init(&sh->lru);
    }
    *out = c;
    return 0;
fail:
    for (unsigned i = 0; i < inited; i++) {
        pthread_mutex_destroy(&c->shards[i].mu);
        free(c->shards[i].buckets);
        free(c->shards[i].heap);
    }
    free(c);
    return rc;
}

void gw_token_cache_free(struct gw_token_cache *c)
{
    if (c == NULL)
        return;
    for (unsigned i = 0; i < c->nshards; i++) {
        struct tc_shard *sh = &c->shards[i];
        while (sh->count > 0)
            shard_remove(sh, sh->heap[sh->count - 1]);
        free(sh->buckets);
        free(sh->heap);
        pthread_mutex_destroy(&sh->mu);
    }
    free(c);
}

/* Copies s into the entry's data area at *pos; returns the copy (NULL for NULL). */
static char *place(struct tc_entry *e, size_t *pos, const char *s)
{
    char *p;
    size_t n;
    if (s == NULL)
        return NULL;
    n = strlen(s) + 1;
    p = e->data + *pos;
    memcpy(p, s, n);
    *pos += n;
    return p;
}

/* One allocation for the entry and its identity's strings. Called without a lock. */
static struct tc_entry *entry_new(const uint8_t *digest, uint64_t hash,
                                  const struct gw_identity *id, uint64_t expires_at)
{
    size_t extra = 0, pos = 0;
    struct tc_entry *e;

    if (id != NULL) {
        const char *s[4] = {id->consumer, id->user, id->roles, id->perms};
        for (int i = 0; i < 4; i++)
            extra += s[i] != NULL ? strlen(s[i]) + 1 : 0;
    }
    e = calloc(1, sizeof(*e) + extra);
    if (e == NULL)
        return NULL;
    e->hash = hash;
    e->expires_at = expires_at;
    e->size = sizeof(*e) + extra;
    memcpy(e->digest, digest, TC_DIGEST_LEN);
    e->negative = id == NULL;
    if (id != NULL) {
        e->id.consumer = place(e, &pos, id->consumer);
        e->id.user = place(e, &pos, id->user);
        e->id.roles = place(e, &pos, id->roles);
        e->id.perms = place(e, &pos, id->perms);
        e->id.exp = id->exp;
    }
    return e;
}

int gw_token_cache_put(struct gw_token_cache *c, const void *token, size_t len,
                       const struct gw_identity *id, uint64_t expires_at_us)
{
    uint8_t d[TC_DIGEST_LEN];
    int rc = digest_token(token, len, d);
    if (rc < 0)
        return rc;
    uint64_t h = hash_digest(c->seed, d);
    struct tc_entry *e = entry_new(d, h, id, expires_at_us);
    if (e == NULL)
        return GW_ENOMEM;
    struct tc_shard *sh = shard_of(c, h);
    pthread_mutex_lock(&sh->mu);
    struct tc_entry *old = shard_find(sh, h, d);
    if (old != NULL)
        shard_remove(sh, old);
    else
        shard_make_room(sh);
    shard_insert(sh, e);
    pthread_mutex_unlock(&sh->mu);
    return 0;
}

int gw_token_cache_get(struct gw_token_cache *c, const void *token, size_t len, uint64_t now_us,
                       struct gw_identity *out)
{
    uint8_t d[TC_DIGEST_LEN];
    int rc;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    rc = digest_token(token, len, d);
    if (rc < 0)
        return rc;
    uint64_t h = hash_digest(c->seed, d);
    struct tc_shard *sh = shard_of(c, h);
    pthread_mutex_lock(&sh->mu);
    if (now_us > sh->now)
        sh->now = now_us;
    struct tc_entry *e = shard_find(sh, h, d);
    if (e == NULL) {
        sh->misses++;
        rc = 0;
    } else if (now_us >= e->expires_at) {
        shard_remove(sh, e);
        sh->expired++;
        sh->misses++;
        rc = 0;
    } else {
        sh->hits++;
        gw_list_remove(&e->lru);
        gw_list_insert_head(&sh->lru, &e->lru);
        rc = 2;
        if (!e->negative)
            rc = out == NULL ? 1 : (gw_identity_copy(out, &e->id) == 0 ? 1 : GW_ENOMEM);
    }
    pthread_mutex_unlock(&sh->mu);
    return rc;
}

size_t gw_token_cache_sweep(struct gw_token_cache *c, uint64_t now_us)
{
    size_t n = 0;
    for (unsigned i = 0; i < c->nshards; i++) {
        struct tc_shard *sh = &c->shards[i];
        pthread_mutex_lock(&sh->mu);
        if (now_us > sh->now)
            sh->now = now_us;
        n += shard_expire(sh, now_us);
        pthread_mutex_unlock(&sh->mu);
    }
    return n;
}

size_t gw_token_cache_clear(struct gw_token_cache *c)
{
    size_t n = 0;
    for (unsigned i = 0; i < c->nshards; i++) {
        struct tc_shard *sh = &c->shards[i];
        pthread_mutex_lock(&sh->mu);
        while (sh->count > 0) {
            shard_remove(sh, sh->heap[0]);
            n++;
        }
        pthread_mutex_unlock(&sh->mu);
    }
    return n;
}

void gw_token_cache_stats(struct gw_token_cache *c, struct gw_token_cache_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; i < c->nshards; i++) {
        struct tc_shard *sh = &c->shards[i];
        pthread_mutex_lock(&sh->mu);
        out->hits += sh->hits;
        out->misses += sh->misses;
        out->entries += sh->count;
        out->evictions += sh->evictions;
        out->expired += sh->expired;
        out->bytes += sh->bytes;
        pthread_mutex_unlock(&sh->mu);
    }
}
