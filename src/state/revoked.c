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
static enum gw_revoked_doubt doubt;
/* used << 2 | doubt, stored under the lock: what gw_revoked_any reads in one load */
static atomic_size_t word;
static _Atomic uint64_t doubt_local, doubt_refused;

/* Publishes used and doubt (lock held). */
static void publish(void)
{
    atomic_store_explicit(&word, used << 2 | (size_t)doubt, memory_order_relaxed);
}

uint64_t gw_revoked_key(const char *s)
{
    uint64_t h = gw_fnv1a64_str(s);
    return h ? h : 1;
}

bool gw_revoked_any(void)
{
    return atomic_load_explicit(&word, memory_order_relaxed) != 0;
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
    publish();
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
        publish();
    } else if (until_s > s->until) {
        s->until = until_s;
    }
out:
    pthread_mutex_unlock(&lock);
    return rc;
}

/* Whether key (0: no) is in the set and live at now_s (lock held). */
static bool has_locked(uint64_t key, int64_t now_s)
{
    if (key == 0 || cap == 0)
        return false;
    const struct slot *s = find(table, cap, key);
    return s->key == key && s->until > now_s;
}

bool gw_revoked_has(uint64_t key, int64_t now_s)
{
    if (key == 0 || !gw_revoked_any())
        return false;
    pthread_mutex_lock(&lock);
    bool hit = has_locked(key, now_s);
    pthread_mutex_unlock(&lock);
    return hit;
}

int gw_revoked_check(uint64_t jti_key, uint64_t sid_key, int64_t now_s)
{
    if ((jti_key == 0 && sid_key == 0) || !gw_revoked_any())
        return 0;
    pthread_mutex_lock(&lock);
    enum gw_revoked_doubt d = doubt;
    bool hit =
        d != GW_REVOKED_DOUBT_REFUSE && (has_locked(jti_key, now_s) || has_locked(sid_key, now_s));
    pthread_mutex_unlock(&lock);
    if (d == GW_REVOKED_DOUBT_REFUSE) {
        atomic_fetch_add_explicit(&doubt_refused, 1, memory_order_relaxed);
        return GW_EIDREVOCATIONS;
    }
    if (d == GW_REVOKED_DOUBT_LOCAL)
        atomic_fetch_add_explicit(&doubt_local, 1, memory_order_relaxed);
    return hit ? GW_EJWTREVOKED : 0;
}

void gw_revoked_set_doubt(enum gw_revoked_doubt d)
{
    pthread_mutex_lock(&lock);
    doubt = d;
    publish();
    pthread_mutex_unlock(&lock);
}

enum gw_revoked_doubt gw_revoked_doubt(void)
{
    return (enum gw_revoked_doubt)(atomic_load_explicit(&word, memory_order_relaxed) & 3);
}

void gw_revoked_stats(struct gw_revoked_stats *st)
{
    st->entries = atomic_load_explicit(&word, memory_order_relaxed) >> 2;
    st->doubt = gw_revoked_doubt();
    st->doubt_local = atomic_load_explicit(&doubt_local, memory_order_relaxed);
    st->doubt_refused = atomic_load_explicit(&doubt_refused, memory_order_relaxed);
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
    doubt = GW_REVOKED_SURE;
    publish();
    atomic_store_explicit(&doubt_local, 0, memory_order_relaxed);
    atomic_store_explicit(&doubt_refused, 0, memory_order_relaxed);
    pthread_mutex_unlock(&lock);
}
