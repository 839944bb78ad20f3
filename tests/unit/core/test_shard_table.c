/*
 * Unit tests for src/core/shard_table.c: configuration checks, the number of shards, find,
 * lookup and remove, the entry bound with LRU eviction, the expiry heap (lookups, expired-first
 * room making, sweeps, removal from the middle), idle entries, clear, and threads sharing one
 * table (mutual exclusion per shard, the bound under churn, every entry freed exactly once).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/shard_table.h"

struct item {
    struct gw_shard_entry link;
    uint64_t key;
    uint64_t value;
    bool idle;
};

struct counters {
    atomic_ulong freed;
};

static struct item *item_of(const struct gw_shard_entry *e)
{
    return gw_container_of(e, struct item, link);
}

static bool key_eq(const struct gw_shard_entry *e, const void *key, size_t len)
{
    return len == sizeof(uint64_t) && memcmp(&item_of(e)->key, key, len) == 0;
}

static bool is_idle(const struct gw_shard_entry *e, uint64_t now, void *ctx)
{
    (void)now;
    (void)ctx;
    return item_of(e)->idle;
}

static void free_item(struct gw_shard_entry *e, void *ctx)
{
    struct counters *c = ctx;
    atomic_fetch_add(&c->freed, 1);
    free(item_of(e));
}

static struct gw_shard_table_conf conf_of(size_t max, unsigned shards, struct counters *c)
{
    return (struct gw_shard_table_conf){
        .max_entries = max,
        .max_shards = shards,
        .key_eq = key_eq,
        .free_entry = free_item,
        .ctx = c,
    };
}

static struct gw_shard_table *mk(const struct gw_shard_table_conf *conf)
{
    struct gw_shard_table *t = NULL;
    assert_int_equal(gw_shard_table_new(&t, conf), 0);
    assert_non_null(t);
    return t;
}

static struct gw_shard_table_stats stats_of(struct gw_shard_table *t)
{
    struct gw_shard_table_stats s;
    gw_shard_table_stats(t, &s);
    return s;
}

static uint64_t hash_of(struct gw_shard_table *t, uint64_t key)
{
    return gw_shard_table_hash(t, &key, sizeof(key));
}

/* A new item for key (absent from sh, locked) linked into sh, or NULL when out of memory.
 * Callable from any thread (no cmocka assertion). */
static struct item *insert_locked(struct gw_shard *sh, uint64_t key, uint64_t hash,
                                  uint64_t expires_at, size_t size, uint64_t now)
{
    struct item *it = calloc(1, sizeof(*it));
    if (it == NULL)
        return NULL;
    it->key = key;
    it->link.hash = hash;
    it->link.expires_at = expires_at;
    it->link.size = size;
    gw_shard_insert(sh, &it->link, now);
    return it;
}

/* Inserts key (replacing nothing: the caller knows it is absent). */
static struct item *put(struct gw_shard_table *t, uint64_t key, uint64_t expires_at, uint64_t now)
{
    uint64_t h = hash_of(t, key);
    struct gw_shard *sh = gw_shard_table_lock(t, h);
    struct item *it = insert_locked(sh, key, h, expires_at, 10, now);
    gw_shard_unlock(sh);
    assert_non_null(it);
    return it;
}

/* The item of key after a lookup at now, or NULL. */
static struct item *get(struct gw_shard_table *t, uint64_t key, uint64_t now)
{
    uint64_t h = hash_of(t, key);
    struct gw_shard *sh = gw_shard_table_lock(t, h);
    struct gw_shard_entry *e = gw_shard_lookup(sh, h, &key, sizeof(key), now);
    gw_shard_unlock(sh);
    return e != NULL ? item_of(e) : NULL;
}

/* Whether key is held, without touching anything. */
static bool has(struct gw_shard_table *t, uint64_t key)
{
    uint64_t h = hash_of(t, key);
    struct gw_shard *sh = gw_shard_table_lock(t, h);
    bool found = gw_shard_find(sh, h, &key, sizeof(key)) != NULL;
    gw_shard_unlock(sh);
    return found;
}

static bool drop(struct gw_shard_table *t, uint64_t key)
{
    uint64_t h = hash_of(t, key);
    struct gw_shard *sh = gw_shard_table_lock(t, h);
    struct gw_shard_entry *e = gw_shard_find(sh, h, &key, sizeof(key));
    if (e != NULL)
        gw_shard_remove(sh, e);
    gw_shard_unlock(sh);
    return e != NULL;
}

/* ---- configuration ---------------------------------------------------------------------- */

static void test_invalid_conf(void **unused)
{
    (void)unused;
    struct counters c = {0};
    struct gw_shard_table *t = NULL;
    struct gw_shard_table_conf conf = conf_of(0, 4, &c);
    assert_int_equal(gw_shard_table_new(&t, &conf), GW_EINVAL);
    conf = conf_of(100, 0, &c);
    assert_int_equal(gw_shard_table_new(&t, &conf), GW_EINVAL);
    conf = conf_of(100, 3, &c);
    assert_int_equal(gw_shard_table_new(&t, &conf), GW_EINVAL);
    conf = conf_of(100, GW_SHARD_TABLE_MAX_SHARDS * 2, &c);
    assert_int_equal(gw_shard_table_new(&t, &conf), GW_EINVAL);
    conf = conf_of(SIZE_MAX, 4, &c);
    assert_int_equal(gw_shard_table_new(&t, &conf), GW_EINVAL);
    conf = conf_of(100, 4, &c);
    conf.key_eq = NULL;
    assert_int_equal(gw_shard_table_new(&t, &conf), GW_EINVAL);
    conf = conf_of(100, 4, &c);
    conf.free_entry = NULL;
    assert_int_equal(gw_shard_table_new(&t, &conf), GW_EINVAL);
    assert_null(t);
    gw_shard_table_free(NULL);
}

static void test_shard_count(void **unused)
{
    (void)unused;
    static const struct {
        size_t max;
        unsigned max_shards, min_per_shard, want;
    } cases[] = {
        {1, 32, 16, 1},  {31, 32, 16, 1},   {32, 32, 16, 2},      {63, 32, 16, 2},
        {64, 32, 16, 4}, {512, 32, 16, 32}, {100000, 32, 16, 32}, {5, 64, 0, 4},
        {64, 64, 1, 64}, {1000, 64, 1, 64}, {1, 1, 0, 1},         {7, 1024, 1, 4},
    };
    struct counters c = {0};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct gw_shard_table_conf conf = conf_of(cases[i].max, cases[i].max_shards, &c);
        conf.min_per_shard = cases[i].min_per_shard;
        struct gw_shard_table *t = mk(&conf);
        assert_int_equal(stats_of(t).shards, cases[i].want);
        /* Every shard holds its share: enough keys fill them all (each shard expects 64
         * times its share; the chance one gets less than its share is negligible). */
        if (cases[i].max <= 1000) {
            for (uint64_t k = 0; k < cases[i].max * 64; k++)
                put(t, k, 0, 0);
            assert_int_equal(stats_of(t).entries, cases[i].max);
        }
        gw_shard_table_free(t);
    }
}

/* Hashes are stable within a table and seeded per table. */
static void test_hashes(void **unused)
{
    (void)unused;
    struct counters c = {0};
    struct gw_shard_table_conf conf = conf_of(100, 4, &c);
    struct gw_shard_table *t1 = mk(&conf);
    struct gw_shard_table *t2 = mk(&conf);
    assert_true(gw_shard_table_hash(t1, "k", 1) == gw_shard_table_hash(t1, "k", 1));
    assert_true(gw_shard_table_hash(t1, "k", 1) != gw_shard_table_hash(t1, "j", 1));
    assert_true(gw_shard_table_mix(t1, 42) == gw_shard_table_mix(t1, 42));
    assert_true(gw_shard_table_mix(t1, 42) != gw_shard_table_mix(t1, 43));
    /* two random 64-bit seeds (a collision is a 2^-64 event) */
    assert_true(gw_shard_table_hash(t1, "k", 1) != gw_shard_table_hash(t2, "k", 1));
    assert_true(gw_shard_table_mix(t1, 42) != gw_shard_table_mix(t2, 42));
    gw_shard_table_free(t1);
    gw_shard_table_free(t2);
}

/* ---- entries ---------------------------------------------------------------------------- */

static void test_find_lookup_remove(void **unused)
{
    (void)unused;
    struct counters c = {0};
    struct gw_shard_table_conf conf = conf_of(100, 4, &c);
    struct gw_shard_table *t = mk(&conf);

    for (uint64_t k = 0; k < 50; k++)
        put(t, k, 0, 0)->value = k * 7;
    assert_int_equal(stats_of(t).entries, 50);
    assert_int_equal(stats_of(t).bytes, 500);
    for (uint64_t k = 0; k < 50; k++) {
        struct item *it = get(t, k, 1);
        assert_non_null(it);
        assert_true(it->key == k && it->value == k * 7);
    }
    assert_null(get(t, 50, 1));
    assert_null(get(t, UINT64_MAX, 1));
    struct gw_shard_table_stats s = stats_of(t);
    assert_int_equal(s.hits, 50);
    assert_int_equal(s.misses, 2);
    assert_int_equal(s.evictions + s.expired, 0);

    assert_true(drop(t, 7));
    assert_false(drop(t, 7));
    assert_false(has(t, 7));
    assert_true(has(t, 8));
    assert_int_equal(atomic_load(&c.freed), 1);
    assert_int_equal(stats_of(t).entries, 49);
    assert_int_equal(stats_of(t).bytes, 490);
    assert_int_equal(stats_of(t).evictions, 0); /* a removal is the caller's, not counted */

    gw_shard_table_free(t);
    assert_int_equal(atomic_load(&c.freed), 50);
}

/* A full shard evicts its least recently used entry; lookups make an entry recent. */
static void test_lru_eviction(void **unused)
{
    (void)unused;
    struct counters c = {0};
    struct gw_shard_table_conf conf = conf_of(4, 1, &c);
    struct gw_shard_table *t = mk(&conf);

    for (uint64_t k = 1; k <= 4; k++)
        put(t, k, 0, 0);
    assert_non_null(get(t, 1, 0)); /* order now, oldest first: 2 3 4 1 */
    assert_false(has(t, 5));
    put(t, 5, 0, 0);
    assert_false(has(t, 2));
    put(t, 6, 0, 0);
    assert_false(has(t, 3));
    assert_true(has(t, 1) && has(t, 4) && has(t, 5) && has(t, 6));
    /* find does not make an entry recent */
    assert_true(has(t, 4));
    put(t, 7, 0, 0);
    assert_false(has(t, 4));
    struct gw_shard_table_stats s = stats_of(t);
    assert_int_equal(s.entries, 4);
    assert_int_equal(s.evictions, 3);
    assert_int_equal(s.expired, 0);
    assert_int_equal(atomic_load(&c.freed), 3);
    gw_shard_table_free(t);
}

/* The bound holds over many shards: every insert beyond it evicts one entry. */
static void test_bound(void **unused)
{
    (void)unused;
    struct counters c = {0};
    struct gw_shard_table_conf conf = conf_of(1000, 32, &c);
    conf.min_per_shard = 16;
    struct gw_shard_table *t = mk(&conf);

    for (uint64_t k = 0; k < 10000; k++) {
        put(t, k, 0, 0);
        if (k % 1000 == 999)
            assert_true(stats_of(t).entries <= 1000);
    }
    struct gw_shard_table_stats s = stats_of(t);
    assert_int_equal(s.entries, 1000);
    assert_int_equal(s.entries + s.evictions, 10000);
    assert_int_equal(atomic_load(&c.freed), s.evictions);
    /* A key hammered between inserts stays. */
    put(t, 424242, 0, 0);
    for (uint64_t k = 20000; k < 40000; k++) {
        put(t, k, 0, 0);
        assert_non_null(get(t, 424242, 0));
    }
    gw_shard_table_free(t);
    assert_int_equal(atomic_load(&c.freed), 10000 + 1 + 20000);
}

/* ---- expiry ----------------------------------------------------------------------------- */

static void test_heap_lookup_expiry(void **unused)
{
    (void)unused;
    struct counters c = {0};
    struct gw_shard_table_conf conf = conf_of(10, 1, &c);
    conf.expiry_heap = true;
    struct gw_shard_table *t = mk(&conf);

    put(t, 1, 100, 0);
    assert_non_null(get(t, 1, 99));
    assert_null(get(t, 1, 100)); /* live while now < expires_at */
    assert_false(has(t, 1));     /* and dropped by the lookup */
    struct gw_shard_table_stats s = stats_of(t);
    assert_int_equal(s.expired, 1);
    assert_int_equal(s.hits, 1);
    assert_int_equal(s.misses, 1);
    assert_int_equal(s.entries, 0);
    gw_shard_table_free(t);
    assert_int_equal(atomic_load(&c.freed), 1);
}

/* A full shard drops an entry that expired (by the latest time it saw) before a live LRU one. */
static void test_heap_expired_first(void **unused)
{
    (void)unused;
    struct counters c = {0};
    struct gw_shard_table_conf conf = conf_of(3, 1, &c);
    conf.expiry_heap = true;
    struct gw_shard_table *t = mk(&conf);

    put(t, 1, 1000, 0); /* least recently used */
    put(t, 2, 200, 0);  /* expires first */
    put(t, 3, 3000, 0);
    put(t, 4, 4000, 0); /* full, nothing known to be expired: LRU 1 goes */
    assert_false(has(t, 1));
    assert_int_equal(stats_of(t).evictions, 1);
    assert_null(get(t, 99, 250)); /* a miss that tells the shard the time */
    put(t, 5, 5000, 0);
    assert_false(has(t, 2));
    assert_true(has(t, 3) && has(t, 4) && has(t, 5));
    assert_int_equal(stats_of(t).expired, 1);
    assert_int_equal(stats_of(t).evictions, 1);
    put(t, 6, 6000, 2999); /* an insert's own time counts too: still nothing expired */
    assert_false(has(t, 3));
    assert_int_equal(stats_of(t).evictions, 2);
    put(t, 7, 7000, 4000); /* 4 expired at 4000 */
    assert_false(has(t, 4));
    assert_int_equal(stats_of(t).expired, 2);
    gw_shard_table_free(t);
}

/* Removing entries from the middle keeps the heap in order: sweeps drop exactly what expired. */
static void test_heap_remove_and_sweep(void **unused)
{
    (void)unused;
    enum {
        N = 600
    };
    struct counters c = {0};
    struct gw_shard_table_conf conf = conf_of(N * 4, 4, &c); /* room for all in any shard */
    conf.expiry_heap = true;
    struct gw_shard_table *t = mk(&conf);
    static uint64_t exp[N];
    static bool held[N];
    uint64_t x = 88172645463325252ull;

    for (uint64_t k = 0; k < N; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        exp[k] = 1 + x % 10000;
        held[k] = true;
        put(t, k, exp[k], 0);
    }
    for (uint64_t k = 0; k < N; k += 3) {
        assert_true(drop(t, k));
        held[k] = false;
    }
    for (uint64_t now = 0; now <= 10000; now += 250) {
        size_t want = 0;
        for (uint64_t k = 0; k < N; k++) {
            if (held[k] && exp[k] <= now) {
                held[k] = false;
                want++;
            }
        }
        assert_int_equal(gw_shard_table_sweep(t, now), want);
        for (uint64_t k = 0; k < N; k++)
            assert_int_equal(has(t, k), held[k]);
    }
    assert_int_equal(stats_of(t).entries, 0);
    assert_int_equal(stats_of(t).bytes, 0);
    gw_shard_table_free(t);
    assert_int_equal(atomic_load(&c.freed), N);
}

/* Without the heap, a full shard forgets an idle entry among the probed LRU ones; sweeps drop
 * every idle entry. */
static void test_idle(void **unused)
{
    (void)unused;
    struct counters c = {0};
    struct gw_shard_table_conf conf = conf_of(10, 1, &c);
    conf.idle = is_idle;
    conf.idle_probe = 3;
    struct gw_shard_table *t = mk(&conf);
    struct item *it[10];

    for (uint64_t k = 0; k < 10; k++)
        it[k] = put(t, k, 0, 0);
    it[2]->idle = true; /* third least recently used: probed */
    it[6]->idle = true; /* beyond the probe */
    put(t, 10, 0, 0);
    assert_false(has(t, 2));
    assert_true(has(t, 0));
    assert_int_equal(stats_of(t).expired, 1);
    assert_int_equal(stats_of(t).evictions, 0);
    put(t, 11, 0, 0); /* 6 is idle but not among the 3 oldest: 0 is evicted */
    assert_false(has(t, 0));
    assert_true(has(t, 6));
    assert_int_equal(stats_of(t).evictions, 1);
    it[8]->idle = true;
    assert_int_equal(gw_shard_table_sweep(t, 5), 2);
    assert_false(has(t, 6) || has(t, 8));
    assert_int_equal(stats_of(t).expired, 3);
    assert_int_equal(stats_of(t).entries, 8);
    gw_shard_table_free(t);
    assert_int_equal(atomic_load(&c.freed), 12);
}

static void test_clear(void **unused)
{
    (void)unused;
    struct counters c = {0};
    struct gw_shard_table_conf conf = conf_of(4096, 8, &c);
    conf.expiry_heap = true;
    struct gw_shard_table *t = mk(&conf);

    for (uint64_t k = 0; k < 200; k++)
        put(t, k, 1000 + k, 0);
    assert_int_equal(gw_shard_table_clear(t), 200);
    struct gw_shard_table_stats s = stats_of(t);
    assert_int_equal(s.entries, 0);
    assert_int_equal(s.bytes, 0);
    assert_int_equal(s.evictions + s.expired, 0);
    assert_int_equal(atomic_load(&c.freed), 200);
    for (uint64_t k = 0; k < 200; k++)
        assert_false(has(t, k));
    /* usable again, heap included */
    for (uint64_t k = 0; k < 300; k++)
        put(t, k, 5000 - k, 0);
    assert_int_equal(stats_of(t).entries, 300);
    assert_int_equal(gw_shard_table_sweep(t, 4800), 100); /* 5000 - k <= 4800: k >= 200 */
    assert_int_equal(stats_of(t).entries, 200);
    gw_shard_table_free(t);
}

/* ---- threads ---------------------------------------------------------------------------- */

enum {
    THREADS = 4,
    OPS = 40000,
    KEYS = 500
};

struct worker {
    struct gw_shard_table *t;
    unsigned seed;
    atomic_uint *clock;
    unsigned long inserts, wrong;
    int alloc_failed;
};

static unsigned next_rand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* Lookup-or-insert, then a read-modify-write of the value under the shard lock. */
static void *count_worker(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < OPS; i++) {
        uint64_t key = next_rand(&w->seed) % KEYS;
        uint64_t h = gw_shard_table_hash(w->t, &key, sizeof(key));
        struct gw_shard *sh = gw_shard_table_lock(w->t, h);
        struct gw_shard_entry *e = gw_shard_lookup(sh, h, &key, sizeof(key), 0);
        struct item *it = e != NULL ? item_of(e) : NULL;
        if (it == NULL) {
            it = insert_locked(sh, key, h, 0, 0, 0);
            if (it == NULL) {
                w->alloc_failed = 1;
                gw_shard_unlock(sh);
                break;
            }
            w->inserts++;
        }
        if (it->key != key)
            w->wrong++;
        uint64_t v = it->value;
        it->value = v + 1;
        gw_shard_unlock(sh);
    }
    return NULL;
}

static void test_threads_count(void **unused)
{
    (void)unused;
    struct counters c = {0};
    struct gw_shard_table_conf conf = conf_of(8192, 16, &c);
    struct gw_shard_table *t = mk(&conf);
    pthread_t th[THREADS];
    struct worker w[THREADS];

    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.t = t, .seed = 7u + (unsigned)i * 7919u};
        assert_int_equal(pthread_create(&th[i], NULL, count_worker, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    unsigned long inserts = 0;
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(w[i].alloc_failed, 0);
        assert_int_equal(w[i].wrong, 0);
        inserts += w[i].inserts;
    }
    /* No increment was lost: each went through one shard's lock. */
    uint64_t sum = 0;
    for (uint64_t k = 0; k < KEYS; k++) {
        uint64_t h = gw_shard_table_hash(t, &k, sizeof(k));
        struct gw_shard *sh = gw_shard_table_lock(t, h);
        struct gw_shard_entry *e = gw_shard_find(sh, h, &k, sizeof(k));
        if (e != NULL)
            sum += item_of(e)->value;
        gw_shard_unlock(sh);
    }
    assert_int_equal(sum, (uint64_t)THREADS * OPS);
    struct gw_shard_table_stats s = stats_of(t);
    assert_int_equal(s.entries, inserts);
    assert_true(s.entries <= KEYS);
    assert_int_equal(s.evictions, 0);
    assert_int_equal(s.hits + s.misses, (uint64_t)THREADS * OPS);
    gw_shard_table_free(t);
    assert_int_equal(atomic_load(&c.freed), inserts);
}

/* Inserts, lookups, removals and a sweeper on a small table with expiries and idle entries. */
static void *churn_worker(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < OPS; i++) {
        uint64_t key = next_rand(&w->seed) % (KEYS * 10);
        uint64_t now = atomic_fetch_add(w->clock, 1);
        uint64_t h = gw_shard_table_hash(w->t, &key, sizeof(key));
        struct gw_shard *sh = gw_shard_table_lock(w->t, h);
        unsigned op = next_rand(&w->seed) % 8;
        struct gw_shard_entry *e = gw_shard_lookup(sh, h, &key, sizeof(key), now);
        if (e != NULL && item_of(e)->key != key)
            w->wrong++;
        if (e != NULL && op == 0) {
            gw_shard_remove(sh, e);
        } else if (e != NULL && op == 1) {
            item_of(e)->idle = true;
        } else if (e == NULL) {
            uint64_t exp = now + 1 + next_rand(&w->seed) % 5000;
            if (insert_locked(sh, key, h, exp, 1, now) == NULL) {
                w->alloc_failed = 1;
                gw_shard_unlock(sh);
                break;
            }
            w->inserts++;
        }
        gw_shard_unlock(sh);
    }
    return NULL;
}

struct sweeper {
    struct gw_shard_table *t;
    atomic_uint *clock;
    atomic_int *stop;
    unsigned long sweeps, over_bound;
};

static void *sweep_worker(void *arg)
{
    struct sweeper *s = arg;
    while (!atomic_load(s->stop)) {
        gw_shard_table_sweep(s->t, atomic_load(s->clock));
        struct gw_shard_table_stats st;
        gw_shard_table_stats(s->t, &st);
        if (st.entries > 256 || st.bytes != st.entries)
            s->over_bound++;
        s->sweeps++;
    }
    return NULL;
}

static void test_threads_churn(void **unused)
{
    (void)unused;
    struct counters c = {0};
    struct gw_shard_table_conf conf = conf_of(256, 8, &c);
    conf.min_per_shard = 16;
    conf.expiry_heap = true;
    conf.idle = is_idle;
    conf.idle_probe = 4;
    struct gw_shard_table *t = mk(&conf);
    atomic_uint clock = 1;
    atomic_int stop = 0;
    pthread_t th[THREADS], sw;
    struct worker w[THREADS];
    struct sweeper s = {.t = t, .clock = &clock, .stop = &stop};

    assert_int_equal(pthread_create(&sw, NULL, sweep_worker, &s), 0);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.t = t, .seed = 11u + (unsigned)i * 104729u, .clock = &clock};
        assert_int_equal(pthread_create(&th[i], NULL, churn_worker, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    atomic_store(&stop, 1);
    assert_int_equal(pthread_join(sw, NULL), 0);

    unsigned long inserts = 0;
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(w[i].alloc_failed, 0);
        assert_int_equal(w[i].wrong, 0);
        inserts += w[i].inserts;
    }
    assert_int_equal(s.over_bound, 0);
    assert_true(s.sweeps > 0);
    struct gw_shard_table_stats st = stats_of(t);
    assert_true(st.entries <= 256);
    assert_true(st.evictions > 0 && st.expired > 0);
    assert_int_equal(atomic_load(&c.freed) + st.entries, inserts);
    gw_shard_table_free(t);
    assert_int_equal(atomic_load(&c.freed), inserts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalid_conf),
        cmocka_unit_test(test_shard_count),
        cmocka_unit_test(test_hashes),
        cmocka_unit_test(test_find_lookup_remove),
        cmocka_unit_test(test_lru_eviction),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_heap_lookup_expiry),
        cmocka_unit_test(test_heap_expired_first),
        cmocka_unit_test(test_heap_remove_and_sweep),
        cmocka_unit_test(test_idle),
        cmocka_unit_test(test_clear),
        cmocka_unit_test(test_threads_count),
        cmocka_unit_test(test_threads_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
