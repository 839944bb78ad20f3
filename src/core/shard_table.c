/* The sharded lock-per-shard table; see core/shard_table.h. */
#include "core/shard_table.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/hash.h"
#include "core/random.h"

struct gw_shard {
    pthread_mutex_t mu;
    const struct gw_shard_table *t;
    struct gw_shard_entry **buckets;
    size_t nbuckets;              /* a power of two */
    struct gw_shard_entry **heap; /* min-heap on expires_at, cap slots; NULL without the heap */
    size_t count;
    size_t cap;
    struct gw_list lru; /* head = most recently used */
    uint64_t now;       /* the latest time a call gave this shard */
    uint64_t hits, misses, evictions, expired, bytes;
};

struct gw_shard_table {
    struct gw_shard_table_conf conf;
    uint64_t seed;
    unsigned nshards;    /* a power of two */
    unsigned shard_bits; /* log2(nshards): shards use the hash's low bits, buckets the next */
    struct gw_shard *shards;
};

static struct gw_shard_entry *entry_of(struct gw_list *l)
{
    return gw_container_of(l, struct gw_shard_entry, lru);
}

static struct gw_shard_entry **bucket_of(struct gw_shard *sh, uint64_t hash)
{
    return &sh->buckets[(size_t)(hash >> sh->t->shard_bits) & (sh->nbuckets - 1)];
}

/* ---- the expiry heap -------------------------------------------------------------------- */

static void heap_set(struct gw_shard *sh, size_t i, struct gw_shard_entry *e)
{
    sh->heap[i] = e;
    e->heap_idx = i;
}

static void heap_up(struct gw_shard *sh, size_t i)
{
    struct gw_shard_entry *e = sh->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (sh->heap[parent]->expires_at <= e->expires_at)
            break;
        heap_set(sh, i, sh->heap[parent]);
        i = parent;
    }
    heap_set(sh, i, e);
}

static void heap_down(struct gw_shard *sh, size_t i)
{
    struct gw_shard_entry *e = sh->heap[i];
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

/* ---- one shard (its lock held) ---------------------------------------------------------- */

struct gw_shard_entry *gw_shard_find(struct gw_shard *sh, uint64_t hash, const void *key,
                                     size_t len)
{
    struct gw_shard_entry *e = *bucket_of(sh, hash);
    while (e != NULL && !(e->hash == hash && sh->t->conf.key_eq(e, key, len)))
        e = e->chain;
    return e;
}

void gw_shard_remove(struct gw_shard *sh, struct gw_shard_entry *e)
{
    const struct gw_shard_table_conf *c = &sh->t->conf;
    struct gw_shard_entry **pp = bucket_of(sh, e->hash);

    while (*pp != e)
        pp = &(*pp)->chain;
    *pp = e->chain;
    gw_list_remove(&e->lru);
    sh->count--;
    if (sh->heap != NULL) {
        size_t i = e->heap_idx;
        if (i != sh->count) {
            /* Move the last element into the hole, then restore the order either way. */
            heap_set(sh, i, sh->heap[sh->count]);
            heap_up(sh, i);
            heap_down(sh, i);
        }
        sh->heap[sh->count] = NULL;
    }
    sh->bytes -= e->size;
    c->free_entry(e, c->ctx);
}

struct gw_shard_entry *gw_shard_lookup(struct gw_shard *sh, uint64_t hash, const void *key,
                                       size_t len, uint64_t now)
{
    if (now > sh->now)
        sh->now = now;
    struct gw_shard_entry *e = gw_shard_find(sh, hash, key, len);
    if (e != NULL && sh->heap != NULL && now >= e->expires_at) {
        gw_shard_remove(sh, e);
        sh->expired++;
        e = NULL;
    }
    if (e == NULL) {
        sh->misses++;
        return NULL;
    }
    sh->hits++;
    gw_list_remove(&e->lru);
    gw_list_insert_head(&sh->lru, &e->lru);
    return e;
}

/* Makes room for one entry in a full shard: see the top of core/shard_table.h. */
static void make_room(struct gw_shard *sh, uint64_t now)
{
    const struct gw_shard_table_conf *c = &sh->t->conf;

    if (sh->count < sh->cap)
        return;
    if (sh->heap != NULL && sh->heap[0]->expires_at <= sh->now) {
        gw_shard_remove(sh, sh->heap[0]);
        sh->expired++;
        return;
    }
    if (c->idle != NULL) {
        struct gw_list *it = sh->lru.prev;
        for (unsigned i = 0; i < c->idle_probe && it != &sh->lru; i++, it = it->prev) {
            if (c->idle(entry_of(it), now, c->ctx)) {
                gw_shard_remove(sh, entry_of(it));
                sh->expired++;
                return;
            }
        }
    }
    gw_shard_remove(sh, entry_of(sh->lru.prev));
    sh->evictions++;
}

void gw_shard_insert(struct gw_shard *sh, struct gw_shard_entry *e, uint64_t now)
{
    if (now > sh->now)
        sh->now = now;
    make_room(sh, now);
    struct gw_shard_entry **b = bucket_of(sh, e->hash);
    e->chain = *b;
    *b = e;
    gw_list_insert_head(&sh->lru, &e->lru);
    if (sh->heap != NULL) {
        heap_set(sh, sh->count, e);
        heap_up(sh, sh->count);
    }
    sh->count++;
    sh->bytes += e->size;
}

/* Drops what is expired or idle at now; returns how many. */
static size_t shard_sweep(struct gw_shard *sh, uint64_t now)
{
    const struct gw_shard_table_conf *c = &sh->t->conf;
    size_t n = 0;

    if (now > sh->now)
        sh->now = now;
    if (sh->heap != NULL) {
        while (sh->count > 0 && sh->heap[0]->expires_at <= now) {
            gw_shard_remove(sh, sh->heap[0]);
            n++;
        }
    }
    if (c->idle != NULL) {
        /* Walk the entries held (the LRU list), not the buckets: an idle table costs nothing. */
        struct gw_list *it = sh->lru.next;
        while (it != &sh->lru) {
            struct gw_shard_entry *e = entry_of(it);
            it = it->next;
            if (c->idle(e, now, c->ctx)) {
                gw_shard_remove(sh, e);
                n++;
            }
        }
    }
    sh->expired += n;
    return n;
}

/* Gives every entry to free_entry and empties the shard; returns how many. */
static size_t shard_drop_all(struct gw_shard *sh)
{
    const struct gw_shard_table_conf *c = &sh->t->conf;
    size_t n = sh->count;
    struct gw_list *it = sh->lru.next;

    while (it != &sh->lru) {
        struct gw_shard_entry *e = entry_of(it);
        it = it->next;
        c->free_entry(e, c->ctx);
    }
    gw_list_init(&sh->lru);
    memset(sh->buckets, 0, sh->nbuckets * sizeof(*sh->buckets));
    if (sh->heap != NULL)
        memset(sh->heap, 0, sh->cap * sizeof(*sh->heap));
    sh->count = 0;
    sh->bytes = 0;
    return n;
}

/* ---- the table -------------------------------------------------------------------------- */

static bool conf_ok(const struct gw_shard_table_conf *c)
{
    return c->max_entries >= 1 && c->max_entries <= SIZE_MAX / 2 / sizeof(void *) &&
           c->max_shards >= 1 && c->max_shards <= GW_SHARD_TABLE_MAX_SHARDS &&
           (c->max_shards & (c->max_shards - 1)) == 0 && c->key_eq != NULL && c->free_entry != NULL;
}

int gw_shard_table_new(struct gw_shard_table **out, const struct gw_shard_table_conf *conf)
{
    struct gw_shard_table *t = NULL;
    unsigned inited = 0;
    int rc = GW_EINVAL;

    if (!conf_ok(conf))
        goto fail;
    rc = GW_ENOMEM;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        goto fail;
    t->conf = *conf;
    size_t min = conf->min_per_shard > 0 ? conf->min_per_shard : 1;
    t->nshards = 1;
    /* A shard of a handful of entries would make a poor LRU: small tables get fewer shards. */
    while (t->nshards < conf->max_shards && (size_t)t->nshards * 2 * min <= conf->max_entries) {
        t->nshards <<= 1;
        t->shard_bits++;
    }
    t->seed = gw_random_u64();
    t->shards = calloc(t->nshards, sizeof(*t->shards));
    if (t->shards == NULL)
        goto fail;
    for (; inited < t->nshards; inited++) {
        struct gw_shard *sh = &t->shards[inited];
        sh->t = t;
        sh->cap = conf->max_entries / t->nshards + (inited < conf->max_entries % t->nshards);
        sh->nbuckets = 1;
        while (sh->nbuckets < sh->cap)
            sh->nbuckets <<= 1;
        sh->buckets = calloc(sh->nbuckets, sizeof(*sh->buckets));
        if (conf->expiry_heap)
            sh->heap = calloc(sh->cap, sizeof(*sh->heap));
        if (sh->buckets == NULL || (conf->expiry_heap && sh->heap == NULL) ||
            pthread_mutex_init(&sh->mu, NULL) != 0) {
            free(sh->buckets);
            free(sh->heap);
            goto fail;
        }
        gw_list_init(&sh->lru);
    }
    *out = t;
    return 0;
fail:
    for (unsigned i = 0; i < inited; i++) {
        pthread_mutex_destroy(&t->shards[i].mu);
        free(t->shards[i].buckets);
        free(t->shards[i].heap);
    }
    if (t != NULL)
        free(t->shards);
    free(t);
    return rc;
}

void gw_shard_table_free(struct gw_shard_table *t)
{
    if (t == NULL)
        return;
    for (unsigned i = 0; i < t->nshards; i++) {
        struct gw_shard *sh = &t->shards[i];
        shard_drop_all(sh);
        free(sh->buckets);
        free(sh->heap);
        pthread_mutex_destroy(&sh->mu);
    }
    free(t->shards);
    free(t);
}

uint64_t gw_shard_table_hash(const struct gw_shard_table *t, const void *key, size_t len)
{
    return gw_hash_seeded(t->seed, key, len);
}

uint64_t gw_shard_table_mix(const struct gw_shard_table *t, uint64_t x)
{
    return gw_hash_mix64(x ^ t->seed);
}

struct gw_shard *gw_shard_table_lock(struct gw_shard_table *t, uint64_t hash)
{
    struct gw_shard *sh = &t->shards[hash & (t->nshards - 1)];
    pthread_mutex_lock(&sh->mu);
    return sh;
}

void gw_shard_unlock(struct gw_shard *sh)
{
    pthread_mutex_unlock(&sh->mu);
}

size_t gw_shard_table_sweep(struct gw_shard_table *t, uint64_t now)
{
    size_t n = 0;
    for (unsigned i = 0; i < t->nshards; i++) {
        struct gw_shard *sh = &t->shards[i];
        pthread_mutex_lock(&sh->mu);
        n += shard_sweep(sh, now);
        pthread_mutex_unlock(&sh->mu);
    }
    return n;
}

size_t gw_shard_table_clear(struct gw_shard_table *t)
{
    size_t n = 0;
    for (unsigned i = 0; i < t->nshards; i++) {
        struct gw_shard *sh = &t->shards[i];
        pthread_mutex_lock(&sh->mu);
        n += shard_drop_all(sh);
        pthread_mutex_unlock(&sh->mu);
    }
    return n;
}

void gw_shard_table_stats(struct gw_shard_table *t, struct gw_shard_table_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->shards = t->nshards;
    for (unsigned i = 0; i < t->nshards; i++) {
        struct gw_shard *sh = &t->shards[i];
        pthread_mutex_lock(&sh->mu);
        out->entries += sh->count;
        out->hits += sh->hits;
        out->misses += sh->misses;
        out->evictions += sh->evictions;
        out->expired += sh->expired;
        out->bytes += sh->bytes;
        pthread_mutex_unlock(&sh->mu);
    }
}
