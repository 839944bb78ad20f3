/* The sharded in-process rate-limit store; see state/ratelimit_local.h. */
#include "state/ratelimit_local.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/hash.h"
#include "core/list.h"
#include "core/random.h"

struct rl_entry {
    struct rl_entry *chain; /* next in the hash bucket */
    struct gw_list lru;     /* head of the shard's list = most recently used */
    uint64_t hash;
    size_t len;
    struct gw_rl_state state;
    unsigned char key[];
};

struct rl_shard {
    pthread_mutex_t mu;
    struct rl_entry **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
    size_t cap;
    struct gw_list lru;
    uint64_t evictions;
    uint64_t expired;
};

struct gw_rl_store {
    struct gw_rl_conf conf;
    uint64_t seed;
    struct rl_shard shards[GW_RL_STORE_SHARDS];
};

static size_t bucket_of(const struct rl_shard *sh, uint64_t hash)
{
    return (size_t)(hash >> 6) & (sh->nbuckets - 1);
}

int gw_rl_store_new(struct gw_rl_store **out, const struct gw_rl_conf *conf, size_t max_keys)
{
    int rc = GW_EINVAL;
    unsigned inited = 0;
    struct gw_rl_store *st = NULL;
    if (max_keys < GW_RL_STORE_SHARDS)
        goto fail;
    rc = GW_ENOMEM;
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        goto fail;
    st->conf = *conf;
    rc = gw_rl_conf_prepare(&st->conf);
    if (rc != 0)
        goto fail;
    st->seed = gw_random_u64();
    for (; inited < GW_RL_STORE_SHARDS; inited++) {
        struct rl_shard *sh = &st->shards[inited];
        sh->cap = max_keys / GW_RL_STORE_SHARDS + (inited < max_keys % GW_RL_STORE_SHARDS);
        sh->nbuckets = 1;
        while (sh->nbuckets < sh->cap)
            sh->nbuckets <<= 1;
        rc = GW_ENOMEM;
        sh->buckets = calloc(sh->nbuckets, sizeof(*sh->buckets));
        if (sh->buckets == NULL)
            goto fail;
        if (pthread_mutex_init(&sh->mu, NULL) != 0) {
            free(sh->buckets);
            goto fail;
        }
        gw_list_init(&sh->lru);
    }
    *out = st;
    return 0;
fail:
    for (unsigned i = 0; i < inited; i++) {
        pthread_mutex_destroy(&st->shards[i].mu);
        free(st->shards[i].buckets);
    }
    free(st);
    return rc;
}

void gw_rl_store_free(struct gw_rl_store *st)
{
    if (st == NULL)
        return;
    for (unsigned i = 0; i < GW_RL_STORE_SHARDS; i++) {
        struct rl_shard *sh = &st->shards[i];
        for (size_t b = 0; b < sh->nbuckets; b++) {
            struct rl_entry *e = sh->buckets[b];
            while (e != NULL) {
                struct rl_entry *next = e->chain;
                free(e);
                e = next;
            }
        }
        free(sh->buckets);
        pthread_mutex_destroy(&sh->mu);
    }
    free(st);
}

/* Unlinks e from its bucket and the LRU list and frees it. Shard lock held. */
static void shard_remove(struct rl_shard *sh, struct rl_entry *e)
{
    struct rl_entry **pp = &sh->buckets[bucket_of(sh, e->hash)];
    while (*pp != e)
        pp = &(*pp)->chain;
    *pp = e->chain;
    gw_list_remove(&e->lru);
    sh->count--;
    free(e);
}

/* Forgets the shard's idle keys; returns how many. Shard lock held. */
static size_t shard_expire(const struct gw_rl_conf *c, struct rl_shard *sh, uint64_t now)
{
    /* Walk the keys held (the LRU list), not the buckets: an idle store costs nothing. */
    size_t n = 0;
    struct gw_list *it = sh->lru.next;
    while (it != &sh->lru) {
        struct rl_entry *e = gw_container_of(it, struct rl_entry, lru);
        it = it->next;
        if (gw_rl_state_idle(c, &e->state, now)) {
            shard_remove(sh, e);
            n++;
        }
    }
    sh->expired += n;
    return n;
}

#define RL_IDLE_PROBE 8

/* Makes room for one key in a full shard, in O(1): forgets an idle key among the
 * RL_IDLE_PROBE least recently used if there is one, else evicts the least recently used.
 * Shard lock held. */
static void shard_make_room(const struct gw_rl_conf *c, struct rl_shard *sh, uint64_t now)
{
    if (sh->count < sh->cap)
        return;
    struct gw_list *it = sh->lru.prev;
    for (unsigned i = 0; i < RL_IDLE_PROBE && it != &sh->lru; i++, it = it->prev) {
        struct rl_entry *e = gw_container_of(it, struct rl_entry, lru);
        if (gw_rl_state_idle(c, &e->state, now)) {
            shard_remove(sh, e);
            sh->expired++;
            return;
        }
    }
    shard_remove(sh, gw_container_of(sh->lru.prev, struct rl_entry, lru));
    sh->evictions++;
}

int gw_rl_store_decide(struct gw_rl_store *st, const void *key, size_t len, uint64_t now_us,
                       struct gw_rl_decision *out)
{
    if (key == NULL || len == 0 || len > GW_RL_STORE_MAX_KEY)
        return GW_EINVAL;
    uint64_t h = gw_hash_seeded(st->seed, key, len);
    struct rl_shard *sh = &st->shards[h % GW_RL_STORE_SHARDS];
    pthread_mutex_lock(&sh->mu);
    struct rl_entry *e = sh->buckets[bucket_of(sh, h)];
    while (e != NULL && !(e->hash == h && e->len == len && memcmp(e->key, key, len) == 0))
        e = e->chain;
    if (e == NULL) {
        shard_make_room(&st->conf, sh, now_us);
        e = malloc(sizeof(*e) + len);
        if (e == NULL) {
            pthread_mutex_unlock(&sh->mu);
            return GW_ENOMEM;
        }
        e->hash = h;
        e->len = len;
        memcpy(e->key, key, len);
        gw_rl_state_init(&e->state, &st->conf);
        size_t b = bucket_of(sh, h);
        e->chain = sh->buckets[b];
        sh->buckets[b] = e;
        sh->count++;
    } else {
        gw_list_remove(&e->lru);
    }
    gw_list_insert_head(&sh->lru, &e->lru);
    gw_rl_decide(&st->conf, &e->state, now_us, out);
    pthread_mutex_unlock(&sh->mu);
    return 0;
}

size_t gw_rl_store_sweep(struct gw_rl_store *st, uint64_t now_us)
{
    size_t n = 0;
    for (unsigned i = 0; i < GW_RL_STORE_SHARDS; i++) {
        struct rl_shard *sh = &st->shards[i];
        pthread_mutex_lock(&sh->mu);
        n += shard_expire(&st->conf, sh, now_us);
        pthread_mutex_unlock(&sh->mu);
    }
    return n;
}

void gw_rl_store_stats(struct gw_rl_store *st, struct gw_rl_store_stats *out)
{
    out->keys = 0;
    out->evictions = 0;
    out->expired = 0;
    for (unsigned i = 0; i < GW_RL_STORE_SHARDS; i++) {
        struct rl_shard *sh = &st->shards[i];
        pthread_mutex_lock(&sh->mu);
        out->keys += sh->count;
        out->evictions += sh->evictions;
        out->expired += sh->expired;
        pthread_mutex_unlock(&sh->mu);
    }
}
