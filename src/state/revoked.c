/* The revoked-token set (state/revoked.h): one open-addressing table of (key, expiry) under a
 * mutex, linear probing, grown at half full; expired entries are left out when it is rebuilt. */
#include "state/revoked.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/hash.h"

struct slot {
    uint64_t key; /* 0: empty */
    int64_t until;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot *table;
static size_t cap; /* a power of two, or 0 */
static size_t used;
static atomic_size_t count;

uint64_t gw_revoked_key(const char *s)
{
    uint64_t h = gw_fnv1a64_str(s);
    return h ? h : 1;
}

bool gw_revoked_any(void)
{
    return atomic_load_explicit(&count, memory_order_relaxed) != 0;
}

static struct slot *find(struct slot *t, size_t n, uint64_t key)
{
    size_t i = (size_t)gw_hash_mix64(key) & (n - 1);
    while (t[i].key != 0 && t[i].key != key)
        i = (i + 1) & (n - 1);
    return &t[i];
}

/* Rebuilds into a table of ncap slots, leaving out what expired at now_s. */
static int rebuild(size_t ncap, int64_t now_s)
{
    struct slot *t = calloc(ncap, sizeof *t);
    if (t == NULL)
        return GW_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < cap; i++) {
        if (table[i].key != 0 && table[i].until > now_s) {
            *find(t, ncap, table[i].key) = table[i];
            n++;
        }
    }
    free(table);
    table = t;
    cap = ncap;
    used = n;
    atomic_store_explicit(&count, n, memory_order_relaxed);
    return 0;
}

static _Atomic(gw_revoked_sink) sink;

void gw_revoked_set_sink(gw_revoked_sink fn)
{
    atomic_store_explicit(&sink, fn, memory_order_release);
}

int gw_revoked_add(uint64_t key, int64_t until_s)
{
    int rc = gw_revoked_learn(key, until_s);
    gw_revoked_sink fn = atomic_load_explicit(&sink, memory_order_acquire);
    if (rc == 0 && fn != NULL)
        fn(key, until_s);
    return rc;
}

int gw_revoked_learn(uint64_t key, int64_t until_s)
{
    int rc = 0;
    if (key == 0)
        return GW_EINVAL;
    pthread_mutex_lock(&lock);
    if (2 * (used + 1) > cap) {
        /* Rebuilt twice the size, without the entries that have expired. */
        size_t ncap = cap ? 2 * cap : 64;
        rc = rebuild(ncap, (int64_t)time(NULL));
        if (rc < 0)
            goto out;
    }
    struct slot *s = find(table, cap, key);
    if (s->key == 0) {
        s->key = key;
        s->until = until_s;
        used++;
        atomic_store_explicit(&count, used, memory_order_relaxed);
    } else if (until_s > s->until) {
        s->until = until_s;
    }
out:
    pthread_mutex_unlock(&lock);
    return rc;
}

bool gw_revoked_has(uint64_t key, int64_t now_s)
{
    if (key == 0 || !gw_revoked_any())
        return false;
    pthread_mutex_lock(&lock);
    bool hit = false;
    if (cap) {
        const struct slot *s = find(table, cap, key);
        hit = s->key == key && s->until > now_s;
    }
    pthread_mutex_unlock(&lock);
    return hit;
}

unsigned long gw_revoked_sweep(int64_t now_s)
{
    pthread_mutex_lock(&lock);
    if (cap)
        (void)rebuild(cap, now_s); /* on ENOMEM the old table stays */
    unsigned long n = (unsigned long)used;
    pthread_mutex_unlock(&lock);
    return n;
}

void gw_revoked_reset(void)
{
    pthread_mutex_lock(&lock);
    free(table);
    table = NULL;
    cap = used = 0;
    atomic_store_explicit(&count, 0, memory_order_relaxed);
    pthread_mutex_unlock(&lock);
}
