/*
 * The in-process response store: sharded, bounded in bytes, segmented LRU (see store.h).
 */
#include "cache/store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cache/key.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/random.h"

#define MAX_SHARDS 64u
#define MIN_BUCKETS 16u

struct fill {
    struct fill *next;
    uint64_t hash;
    uint64_t started_ms;
    size_t len;
    char key[];
};

struct shard {
    pthread_mutex_t mu;
    struct fill *fills; /* in flight (collapsed misses) */
    size_t nfills;
    struct gw_cache_obj **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
    struct gw_list probation; /* most recently used first */
    struct gw_list protected_seg;
    size_t bytes;
    size_t prot_bytes;
    size_t max_bytes;
    size_t max_prot;
    uint64_t evictions;
    uint64_t inserts;
    uint64_t purged;
} __attribute__((aligned(64)));

struct gw_cache_store {
    uint64_t seed;
    unsigned nshards; /* a power of two */
    size_t shard_bytes;
    struct shard shards[];
};

struct gw_cache_obj *gw_cache_obj_new(const struct gw_cache_obj_init *in)
{
    if (in->key_len > 65536 || in->vary_names_len > 65536 || in->vary_sig_len > 65536 ||
        in->tags_len > 65536) {
        free(in->body);
        return NULL;
    }
    size_t strings =
        in->key_len + in->vary_names_len + in->vary_sig_len + in->head_len + in->tags_len;
    struct gw_cache_obj *o = malloc(sizeof *o + strings);
    if (o == NULL) {
        free(in->body);
        return NULL;
    }
    char *p = (char *)(o + 1);
    *o = (struct gw_cache_obj){
        .key_len = (uint32_t)in->key_len,
        .vary_names_len = (uint32_t)in->vary_names_len,
        .vary_sig_len = (uint32_t)in->vary_sig_len,
        .head_len = in->head_len,
        .tags_len = in->tags_len,
        .body = in->body,
        .body_len = in->body_len,
        .status = in->status,
        .cc = in->cc,
        .lifetime = in->lifetime,
        .initial_age = in->initial_age,
        .response_time = in->response_time,
        .size = sizeof *o + strings + in->body_len + GW_CACHE_OBJ_OVERHEAD,
    };
    atomic_init(&o->refs, 1);
    const struct {
        const char **dst;
        const char *src;
        size_t n;
    } parts[] = {
        {&o->key, in->key, in->key_len},
        {&o->vary_names, in->vary_names, in->vary_names_len},
        {&o->vary_sig, in->vary_sig, in->vary_sig_len},
        {&o->head, in->head, in->head_len},
        {&o->tags, in->tags, in->tags_len},
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (parts[i].n > 0)
            memcpy(p, parts[i].src, parts[i].n);
        *parts[i].dst = p;
        p += parts[i].n;
    }
    o->url_len = (uint32_t)gw_cache_key_url_len(o->key, o->key_len);
    gw_list_init(&o->lru);
    return o;
}

void gw_cache_obj_ref(struct gw_cache_obj *o)
{
    atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
}

void gw_cache_obj_release(struct gw_cache_obj *o)
{
    if (o == NULL)
        return;
    if (atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) != 1)
        return;
    free(o->body);
    free(o);
}

int gw_cache_store_new(struct gw_cache_store **out, const struct gw_cache_store_conf *conf)
{
    *out = NULL;
    if (conf->max_bytes < 65536 || conf->protected_percent > 100)
        return GW_EINVAL;
    size_t want = conf->max_object > 0 ? conf->max_object : 1;
    unsigned n = MAX_SHARDS;
    /* Each shard holds at least four of the largest objects (one would thrash its shard). */
    while (n > 1 && conf->max_bytes / n < 4 * (want + GW_CACHE_OBJ_OVERHEAD))
        n /= 2;
    struct gw_cache_store *s = calloc(1, sizeof *s + n * sizeof(struct shard));
    if (s == NULL)
        return GW_ENOMEM;
    s->seed = gw_random_u64();
    s->nshards = n;
    s->shard_bytes = conf->max_bytes / n;
    unsigned pp = conf->protected_percent ? conf->protected_percent : 80;
    for (unsigned i = 0; i < n; i++) {
        struct shard *sh = &s->shards[i];
        pthread_mutex_init(&sh->mu, NULL);
        gw_list_init(&sh->probation);
        gw_list_init(&sh->protected_seg);
        sh->max_bytes = s->shard_bytes;
        sh->max_prot = s->shard_bytes / 100 * pp;
    }
    *out = s;
    return 0;
}

static struct shard *shard_of(struct gw_cache_store *s, uint64_t h)
{
    return &s->shards[h & (s->nshards - 1)];
}

static uint64_t hash_of(const struct gw_cache_store *s, const char *key, size_t len)
{
    return gw_hash_seeded(s->seed, key, len);
}

/* Buckets use the hash's high bits: the low ones chose the shard. */
static size_t bucket_of(const struct shard *sh, uint64_t h)
{
    return (size_t)(h >> 32) & (sh->nbuckets - 1);
}

static void grow(struct shard *sh)
{
    size_t n = sh->nbuckets ? sh->nbuckets * 2 : MIN_BUCKETS;
    struct gw_cache_obj **b = calloc(n, sizeof *b);
    if (b == NULL)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < sh->nbuckets; i++) {
        struct gw_cache_obj *o = sh->buckets[i];
        while (o != NULL) {
            struct gw_cache_obj *next = o->chain;
            size_t k = (size_t)(o->hash >> 32) & (n - 1);
            o->chain = b[k];
            b[k] = o;
            o = next;
        }
    }
    free(sh->buckets);
    sh->buckets = b;
    sh->nbuckets = n;
}

/* Unlinks o (linked in sh) and drops the store's reference. */
static void unlink_obj(struct shard *sh, struct gw_cache_obj *o)
{
    struct gw_cache_obj **pp = &sh->buckets[bucket_of(sh, o->hash)];
    while (*pp != o)
        pp = &(*pp)->chain;
    *pp = o->chain;
    gw_list_remove(&o->lru);
    sh->bytes -= o->size;
    if (o->protected_seg)
        sh->prot_bytes -= o->size;
    sh->count--;
    o->linked = false;
    gw_cache_obj_release(o);
}

static struct gw_cache_obj *obj_of(struct gw_list *l)
{
    return gw_container_of(l, struct gw_cache_obj, lru);
}

/* Moves protected objects back to probation until the segment fits its share. */
static void balance(struct shard *sh)
{
    while (sh->prot_bytes > sh->max_prot && !gw_list_empty(&sh->protected_seg)) {
        struct gw_cache_obj *o = obj_of(sh->protected_seg.prev);
        gw_list_remove(&o->lru);
        o->protected_seg = false;
        sh->prot_bytes -= o->size;
        gw_list_insert_head(&sh->probation, &o->lru);
    }
}

static void make_room(struct shard *sh, size_t need)
{
    while (sh->bytes + need > sh->max_bytes) {
        struct gw_list *victim = !gw_list_empty(&sh->probation)       ? sh->probation.prev
                                 : !gw_list_empty(&sh->protected_seg) ? sh->protected_seg.prev
                                                                      : NULL;
        if (victim == NULL)
            return;
        unlink_obj(sh, obj_of(victim));
        sh->evictions++;
    }
}

void gw_cache_store_free(struct gw_cache_store *s)
{
    if (s == NULL)
        return;
    gw_cache_store_clear(s);
    for (unsigned i = 0; i < s->nshards; i++) {
        while (s->shards[i].fills) {
            struct fill *f = s->shards[i].fills;
            s->shards[i].fills = f->next;
            free(f);
        }
        free(s->shards[i].buckets);
        pthread_mutex_destroy(&s->shards[i].mu);
    }
    free(s);
}

size_t gw_cache_store_max_bytes(const struct gw_cache_store *s)
{
    return s->shard_bytes * s->nshards;
}

size_t gw_cache_store_max_object(const struct gw_cache_store *s)
{
    return s->shard_bytes;
}

static bool same_key(const struct gw_cache_obj *o, uint64_t h, const char *key, size_t len)
{
    return o->hash == h && o->key_len == len && memcmp(o->key, key, len) == 0;
}

struct gw_cache_obj *gw_cache_store_lookup(struct gw_cache_store *s, const char *key, size_t len,
                                           gw_cache_match_fn match, void *ctx)
{
    uint64_t h = hash_of(s, key, len);
    struct shard *sh = shard_of(s, h);
    struct gw_cache_obj *found = NULL;
    pthread_mutex_lock(&sh->mu);
    if (sh->nbuckets > 0) {
        for (struct gw_cache_obj *o = sh->buckets[bucket_of(sh, h)]; o != NULL; o = o->chain) {
            if (same_key(o, h, key, len) && (match == NULL || match(o, ctx))) {
                found = o;
                break;
            }
        }
    }
    if (found != NULL) {
        gw_list_remove(&found->lru);
        if (!found->protected_seg) {
            found->protected_seg = true;
            sh->prot_bytes += found->size;
        }
        gw_list_insert_head(&sh->protected_seg, &found->lru);
        balance(sh);
        gw_cache_obj_ref(found);
    }
    pthread_mutex_unlock(&sh->mu);
    return found;
}

int gw_cache_store_insert(struct gw_cache_store *s, struct gw_cache_obj *o)
{
    if (o->size > s->shard_bytes || o->linked)
        return GW_EINVAL;
    uint64_t h = hash_of(s, o->key, o->key_len);
    o->hash = h;
    struct shard *sh = shard_of(s, h);
    pthread_mutex_lock(&sh->mu);
    if (sh->nbuckets > 0) {
        struct gw_cache_obj *old = sh->buckets[bucket_of(sh, h)];
        while (old != NULL) {
            struct gw_cache_obj *next = old->chain;
            if (same_key(old, h, o->key, o->key_len) && old->vary_sig_len == o->vary_sig_len &&
                old->vary_names_len == o->vary_names_len &&
                memcmp(old->vary_sig, o->vary_sig, o->vary_sig_len) == 0 &&
                memcmp(old->vary_names, o->vary_names, o->vary_names_len) == 0)
                unlink_obj(sh, old);
            old = next;
        }
    }
    make_room(sh, o->size);
    if (sh->count >= sh->nbuckets)
        grow(sh);
    gw_cache_obj_ref(o);
    size_t b = bucket_of(sh, h);
    o->chain = sh->buckets[b];
    sh->buckets[b] = o;
    o->linked = true;
    o->protected_seg = false;
    gw_list_insert_head(&sh->probation, &o->lru);
    sh->bytes += o->size;
    sh->count++;
    sh->inserts++;
    pthread_mutex_unlock(&sh->mu);
    return 0;
}

size_t gw_cache_store_purge_key(struct gw_cache_store *s, const char *key, size_t len)
{
    uint64_t h = hash_of(s, key, len);
    struct shard *sh = shard_of(s, h);
    size_t n = 0;
    pthread_mutex_lock(&sh->mu);
    if (sh->nbuckets > 0) {
        struct gw_cache_obj *o = sh->buckets[bucket_of(sh, h)];
        while (o != NULL) {
            struct gw_cache_obj *next = o->chain;
            if (same_key(o, h, key, len)) {
                unlink_obj(sh, o);
                n++;
            }
            o = next;
        }
    }
    sh->purged += n;
    pthread_mutex_unlock(&sh->mu);
    return n;
}

/* Whether the tag list holds tag (members separated by spaces, tabs or commas). */
static bool has_tag(const char *tags, size_t n, const char *tag, size_t len)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (tags[i] == ' ' || tags[i] == '\t' || tags[i] == ','))
            i++;
        size_t a = i;
        while (i < n && tags[i] != ' ' && tags[i] != '\t' && tags[i] != ',')
            i++;
        if (i - a == len && len > 0 && memcmp(tags + a, tag, len) == 0)
            return true;
    }
    return false;
}

enum scan_kind {
    SCAN_URL,
    SCAN_PREFIX,
    SCAN_TAG,
    SCAN_ALL
};

static bool scan_match(const struct gw_cache_obj *o, enum scan_kind kind, const char *s, size_t n)
{
    switch (kind) {
    case SCAN_URL:
        return o->url_len == n && memcmp(o->key, s, n) == 0;
    case SCAN_PREFIX:
        return o->url_len >= n && memcmp(o->key, s, n) == 0;
    case SCAN_TAG:
        return has_tag(o->tags, o->tags_len, s, n);
    case SCAN_ALL:
        return true;
    }
    return false;
}

static size_t scan(struct gw_cache_store *s, enum scan_kind kind, const char *str, size_t n)
{
    size_t total = 0;
    for (unsigned i = 0; i < s->nshards; i++) {
        struct shard *sh = &s->shards[i];
        pthread_mutex_lock(&sh->mu);
        size_t here = 0;
        struct gw_list *lists[2] = {&sh->probation, &sh->protected_seg};
        for (int l = 0; l < 2; l++) {
            struct gw_list *it = lists[l]->next;
            while (it != lists[l]) {
                struct gw_list *next = it->next;
                struct gw_cache_obj *o = obj_of(it);
                if (scan_match(o, kind, str, n)) {
                    unlink_obj(sh, o);
                    here++;
                }
                it = next;
            }
        }
        if (kind != SCAN_ALL)
            sh->purged += here;
        pthread_mutex_unlock(&sh->mu);
        total += here;
    }
    return total;
}

size_t gw_cache_store_purge_url(struct gw_cache_store *s, const char *url, size_t len, bool prefix)
{
    return scan(s, prefix ? SCAN_PREFIX : SCAN_URL, url, len);
}

size_t gw_cache_store_purge_tag(struct gw_cache_store *s, const char *tag, size_t len)
{
    return scan(s, SCAN_TAG, tag, len);
}

size_t gw_cache_store_clear(struct gw_cache_store *s)
{
    return scan(s, SCAN_ALL, "", 0);
}

static struct fill **find_fill(struct shard *sh, uint64_t h, const char *key, size_t len)
{
    struct fill **pp = &sh->fills;
    while (*pp && !((*pp)->hash == h && (*pp)->len == len && memcmp((*pp)->key, key, len) == 0))
        pp = &(*pp)->next;
    return pp;
}

bool gw_cache_store_fill_begin(struct gw_cache_store *s, const char *key, size_t len,
                               uint64_t now_ms, uint64_t max_ms)
{
    uint64_t h = hash_of(s, key, len);
    struct shard *sh = shard_of(s, h);
    bool first = true;
    pthread_mutex_lock(&sh->mu);
    struct fill **pp = find_fill(sh, h, key, len);
    if (*pp != NULL && now_ms - (*pp)->started_ms <= max_ms) {
        first = false;
    } else if (*pp != NULL) {
        (*pp)->started_ms = now_ms; /* a stuck fill: this request takes it over */
    } else {
        struct fill *f = malloc(sizeof *f + len);
        if (f != NULL) {
            *f = (struct fill){.next = sh->fills, .hash = h, .started_ms = now_ms, .len = len};
            memcpy(f->key, key, len);
            sh->fills = f;
            sh->nfills++;
        }
    }
    pthread_mutex_unlock(&sh->mu);
    return first;
}

void gw_cache_store_fill_end(struct gw_cache_store *s, const char *key, size_t len)
{
    uint64_t h = hash_of(s, key, len);
    struct shard *sh = shard_of(s, h);
    pthread_mutex_lock(&sh->mu);
    struct fill **pp = find_fill(sh, h, key, len);
    struct fill *f = *pp;
    if (f != NULL) {
        *pp = f->next;
        sh->nfills--;
    }
    pthread_mutex_unlock(&sh->mu);
    free(f);
}

bool gw_cache_store_fill_active(struct gw_cache_store *s, const char *key, size_t len)
{
    uint64_t h = hash_of(s, key, len);
    struct shard *sh = shard_of(s, h);
    pthread_mutex_lock(&sh->mu);
    bool active = *find_fill(sh, h, key, len) != NULL;
    pthread_mutex_unlock(&sh->mu);
    return active;
}

void gw_cache_store_stats(struct gw_cache_store *s, struct gw_cache_store_stats *out)
{
    *out = (struct gw_cache_store_stats){.shards = s->nshards};
    for (unsigned i = 0; i < s->nshards; i++) {
        struct shard *sh = &s->shards[i];
        pthread_mutex_lock(&sh->mu);
        out->objects += sh->count;
        out->bytes += sh->bytes;
        out->evictions += sh->evictions;
        out->inserts += sh->inserts;
        out->purged += sh->purged;
        out->fills += sh->nfills;
        pthread_mutex_unlock(&sh->mu);
    }
}
