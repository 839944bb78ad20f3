/*
 * Unit tests for src/state/token_cache.c: hits and misses, expiry exactly at expires_at,
 * negative entries, replacement, the entry bound with expired-first then LRU eviction, sweeps,
 * that the token itself is never stored, and worker threads hammering put/get.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "state/token_cache.h"

#define T0 UINT64_C(1000000000)
#define SEC UINT64_C(1000000)
#define FOREVER UINT64_MAX

static struct gw_token_cache *mk(size_t max)
{
    struct gw_token_cache *c = NULL;
    assert_int_equal(gw_token_cache_new(&c, max), 0);
    assert_non_null(c);
    return c;
}

static int put(struct gw_token_cache *c, const char *tok, const struct gw_identity *id,
               uint64_t exp)
{
    return gw_token_cache_put(c, tok, strlen(tok), id, exp);
}

static int get(struct gw_token_cache *c, const char *tok, uint64_t now)
{
    struct gw_identity out;
    int rc = gw_token_cache_get(c, tok, strlen(tok), now, &out);
    gw_identity_clear(&out);
    return rc;
}

static struct gw_token_cache_stats stats_of(struct gw_token_cache *c)
{
    struct gw_token_cache_stats s;
    gw_token_cache_stats(c, &s);
    return s;
}

static const struct gw_identity ALICE = {
    .consumer = "mobile-app",
    .user = "alice",
    .roles = "user admin",
    .perms = "orders:read orders:write",
    .exp = 1700003600,
};

static void test_invalid(void **unused)
{
    (void)unused;
    struct gw_token_cache *c = NULL;
    struct gw_identity out;
    assert_int_equal(gw_token_cache_new(&c, 0), GW_EINVAL);
    c = mk(1);
    assert_int_equal(gw_token_cache_put(c, "", 0, &ALICE, FOREVER), GW_EINVAL);
    assert_int_equal(gw_token_cache_put(c, NULL, 0, NULL, FOREVER), GW_EINVAL);
    assert_int_equal(gw_token_cache_get(c, "", 0, T0, &out), GW_EINVAL);
    assert_null(out.user);
    assert_int_equal(stats_of(c).entries, 0);
    gw_token_cache_free(c);
    gw_token_cache_free(NULL);
    gw_identity_clear(NULL);
}

static void test_hit_copies_identity(void **unused)
{
    (void)unused;
    struct gw_token_cache *c = mk(100);
    char user[] = "alice";
    struct gw_identity id = ALICE;
    id.user = user;
    assert_int_equal(put(c, "tok-a", &id, T0 + SEC), 0);
    user[0] = 'X'; /* the cache holds its own copy */

    struct gw_identity out;
    assert_int_equal(gw_token_cache_get(c, "tok-a", 5, T0, &out), 1);
    assert_string_equal(out.consumer, "mobile-app");
    assert_string_equal(out.user, "alice");
    assert_string_equal(out.roles, "user admin");
    assert_string_equal(out.perms, "orders:read orders:write");
    assert_int_equal(out.exp, 1700003600);
    out.user[0] = 'Y'; /* and hands out copies */
    gw_identity_clear(&out);
    assert_null(out.user);
    assert_int_equal(gw_token_cache_get(c, "tok-a", 5, T0, &out), 1);
    assert_string_equal(out.user, "alice");
    gw_identity_clear(&out);

    /* NULL fields stay NULL; *out may be NULL */
    struct gw_identity sparse = {.user = "bob"};
    assert_int_equal(put(c, "tok-b", &sparse, T0 + SEC), 0);
    assert_int_equal(gw_token_cache_get(c, "tok-b", 5, T0, &out), 1);
    assert_null(out.consumer);
    assert_null(out.roles);
    assert_null(out.perms);
    assert_int_equal(out.exp, 0);
    assert_string_equal(out.user, "bob");
    gw_identity_clear(&out);
    assert_int_equal(gw_token_cache_get(c, "tok-b", 5, T0, NULL), 1);

    /* a miss: other token, a prefix, the same bytes plus one */
    assert_int_equal(get(c, "tok-c", T0), 0);
    assert_int_equal(get(c, "tok-", T0), 0);
    assert_int_equal(gw_token_cache_get(c, "tok-a\0", 6, T0, &out), 0);
    assert_null(out.user);

    struct gw_token_cache_stats s = stats_of(c);
    assert_int_equal(s.hits, 4);
    assert_int_equal(s.misses, 3);
    assert_int_equal(s.entries, 2);
    gw_token_cache_free(c);
}

static void test_expiry_edge(void **unused)
{
    (void)unused;
    struct gw_token_cache *c = mk(100);
    assert_int_equal(put(c, "t", &ALICE, T0 + SEC), 0);
    assert_int_equal(get(c, "t", T0), 1);
    assert_int_equal(get(c, "t", T0 + SEC - 1), 1);
    /* valid while now < expires_at: at expires_at it is gone, and removed */
    assert_int_equal(get(c, "t", T0 + SEC), 0);
    assert_int_equal(stats_of(c).entries, 0);
    assert_int_equal(stats_of(c).expired, 1);
    /* removed, not just hidden: an earlier clock does not bring it back */
    assert_int_equal(get(c, "t", T0), 0);

    /* the same for negative entries */
    assert_int_equal(put(c, "n", NULL, T0 + SEC), 0);
    assert_int_equal(get(c, "n", T0 + SEC - 1), 2);
    assert_int_equal(get(c, "n", T0 + SEC), 0);
    assert_int_equal(stats_of(c).entries, 0);
    gw_token_cache_free(c);
}

static void test_negative_and_replace(void **unused)
{
    (void)unused;
    struct gw_token_cache *c = mk(100);
    struct gw_identity out;
    assert_int_equal(put(c, "inactive", NULL, T0 + SEC), 0);
    out.user = (char *)"garbage";
    assert_int_equal(gw_token_cache_get(c, "inactive", 8, T0, &out), 2);
    assert_null(out.user); /* zeroed: nothing to clear, clearing is harmless */
    gw_identity_clear(&out);

    /* a later answer replaces the earlier one, in place */
    assert_int_equal(put(c, "inactive", &ALICE, T0 + 2 * SEC), 0);
    assert_int_equal(gw_token_cache_get(c, "inactive", 8, T0 + SEC, &out), 1);
    assert_string_equal(out.user, "alice");
    gw_identity_clear(&out);
    assert_int_equal(put(c, "inactive", NULL, T0 + SEC), 0);
    assert_int_equal(get(c, "inactive", T0), 2);
    assert_int_equal(stats_of(c).entries, 1);
    assert_int_equal(stats_of(c).evictions, 0);
    gw_token_cache_free(c);
}

static void test_bound(void **unused)
{
    (void)unused;
    char tok[32];
    for (size_t max = 1; max <= 1000; max *= 10) {
        struct gw_token_cache *c = mk(max);
        for (int i = 0; i < 5000; i++) {
            snprintf(tok, sizeof(tok), "token-%d", i);
            assert_int_equal(put(c, tok, i % 2 ? &ALICE : NULL, FOREVER), 0);
            assert_true(stats_of(c).entries <= max);
        }
        struct gw_token_cache_stats s = stats_of(c);
        /* nothing expired: every insert beyond the bound evicted one live entry */
        assert_int_equal(s.entries + s.evictions, 5000);
        assert_int_equal(s.expired, 0);
        assert_true(s.entries >= max / 2); /* shards fill up; the bound is not a tiny fraction */
        /* the newest token survives */
        assert_int_equal(get(c, "token-4999", T0), 1);
        gw_token_cache_free(c);
    }
}

/* A cache under 32 entries is a single shard: its order is exactly LRU. */
static void test_lru_order(void **unused)
{
    (void)unused;
    struct gw_token_cache *c = mk(3);
    assert_int_equal(put(c, "a", &ALICE, FOREVER), 0);
    assert_int_equal(put(c, "b", &ALICE, FOREVER), 0);
    assert_int_equal(put(c, "c", &ALICE, FOREVER), 0);
    assert_int_equal(get(c, "a", T0), 1);              /* order now: a c b */
    assert_int_equal(put(c, "d", &ALICE, FOREVER), 0); /* evicts b */
    assert_int_equal(get(c, "b", T0), 0);
    assert_int_equal(get(c, "c", T0), 1);              /* order: c d a */
    assert_int_equal(put(c, "a", NULL, FOREVER), 0);   /* a replaced, moves to the front */
    assert_int_equal(put(c, "e", &ALICE, FOREVER), 0); /* evicts d */
    assert_int_equal(get(c, "d", T0), 0);
    assert_int_equal(get(c, "a", T0), 2);
    assert_int_equal(get(c, "c", T0), 1);
    assert_int_equal(get(c, "e", T0), 1);
    assert_int_equal(stats_of(c).evictions, 2);
    gw_token_cache_free(c);
}

/* With many shards: a token in use stays while a stream of new tokens passes through. */
static void test_lru_keeps_hot_token(void **unused)
{
    (void)unused;
    char tok[32];
    struct gw_token_cache *c = mk(256);
    assert_int_equal(put(c, "hot", &ALICE, FOREVER), 0);
    for (int i = 0; i < 20000; i++) {
        snprintf(tok, sizeof(tok), "cold-%d", i);
        assert_int_equal(put(c, tok, &ALICE, FOREVER), 0);
        assert_int_equal(get(c, "hot", T0), 1);
    }
    assert_true(stats_of(c).evictions >= 20000 - 256);
    gw_token_cache_free(c);
}

/* A full shard drops an expired entry before a live least recently used one. */
static void test_expired_evicted_first(void **unused)
{
    (void)unused;
    struct gw_token_cache *c = mk(4);
    assert_int_equal(put(c, "short", &ALICE, T0 + SEC), 0);
    assert_int_equal(put(c, "b", &ALICE, T0 + 10 * SEC), 0);
    assert_int_equal(put(c, "c", &ALICE, T0 + 10 * SEC), 0);
    assert_int_equal(put(c, "d", &ALICE, T0 + 10 * SEC), 0);
    assert_int_equal(get(c, "short", T0), 1); /* most recently used; LRU order: short d c b */
    /* the cache learns the time from lookups: this miss tells it "short" has expired */
    assert_int_equal(get(c, "other", T0 + 2 * SEC), 0);
    assert_int_equal(put(c, "e", &ALICE, T0 + 10 * SEC), 0);
    struct gw_token_cache_stats s = stats_of(c);
    assert_int_equal(s.expired, 1);
    assert_int_equal(s.evictions, 0);
    assert_int_equal(s.entries, 4);
    /* b, the least recently used, survived */
    assert_int_equal(get(c, "b", T0 + 2 * SEC), 1);
    /* none expired now: the next insert evicts the LRU one, c */
    assert_int_equal(put(c, "f", &ALICE, T0 + 10 * SEC), 0);
    assert_int_equal(stats_of(c).evictions, 1);
    assert_int_equal(get(c, "c", T0 + 2 * SEC), 0);
    assert_int_equal(get(c, "d", T0 + 2 * SEC), 1);
    assert_int_equal(get(c, "e", T0 + 2 * SEC), 1);
    assert_int_equal(get(c, "f", T0 + 2 * SEC), 1);
    gw_token_cache_free(c);
}

static void test_clear(void **unused)
{
    (void)unused;
    char tok[32];
    struct gw_token_cache *c = mk(1000);
    for (int i = 0; i < 50; i++) {
        snprintf(tok, sizeof(tok), "tok-%d", i);
        assert_int_equal(put(c, tok, &ALICE, T0 + 10 * SEC), 0);
    }
    assert_int_equal(gw_token_cache_clear(c), 50);
    assert_int_equal(get(c, "tok-7", T0), 0);
    assert_int_equal(stats_of(c).entries, 0);
    assert_int_equal(stats_of(c).bytes, 0);
    /* still usable afterwards */
    assert_int_equal(put(c, "again", &ALICE, T0 + SEC), 0);
    assert_int_equal(get(c, "again", T0), 1);
    gw_token_cache_free(c);
}

static void test_sweep(void **unused)
{
    (void)unused;
    char tok[32];
    struct gw_token_cache *c = mk(1000);
    for (int i = 0; i < 300; i++) {
        snprintf(tok, sizeof(tok), "tok-%d", i);
        /* expiries 1..3 s, out of insertion order to exercise the heap */
        uint64_t exp = T0 + (uint64_t)(1 + (i * 7) % 3) * SEC;
        assert_int_equal(put(c, tok, i % 5 ? &ALICE : NULL, exp), 0);
    }
    assert_int_equal(gw_token_cache_sweep(c, T0), 0);
    assert_int_equal(gw_token_cache_sweep(c, T0 + SEC), 100);
    assert_int_equal(stats_of(c).entries, 200);
    assert_int_equal(gw_token_cache_sweep(c, T0 + 2 * SEC), 100);
    for (int i = 0; i < 300; i++) {
        snprintf(tok, sizeof(tok), "tok-%d", i);
        int expect = (i * 7) % 3 == 2 ? (i % 5 ? 1 : 2) : 0;
        assert_int_equal(get(c, tok, T0 + 2 * SEC), expect);
    }
    assert_int_equal(gw_token_cache_sweep(c, T0 + 3 * SEC), 100);
    struct gw_token_cache_stats s = stats_of(c);
    assert_int_equal(s.entries, 0);
    assert_int_equal(s.bytes, 0);
    assert_int_equal(s.expired, 300);
    gw_token_cache_free(c);
}

/*
 * Only the SHA-256 of a token is kept: the memory an entry holds does not grow with the token,
 * and is far smaller than a long token.
 */
static void test_token_not_stored(void **unused)
{
    (void)unused;
    static char longtok[8192];
    memset(longtok, 'Q', sizeof(longtok));
    struct gw_token_cache *a = mk(10), *b = mk(10);
    assert_int_equal(gw_token_cache_put(a, longtok, sizeof(longtok), &ALICE, FOREVER), 0);
    assert_int_equal(gw_token_cache_put(b, "x", 1, &ALICE, FOREVER), 0);
    uint64_t ba = stats_of(a).bytes, bb = stats_of(b).bytes;
    assert_true(ba > 0);
    assert_int_equal(ba, bb);
    assert_true(ba < 512);
    /* negative entries carry no identity either */
    assert_int_equal(gw_token_cache_put(b, longtok, sizeof(longtok), NULL, FOREVER), 0);
    assert_true(stats_of(b).bytes - bb < 256);
    assert_int_equal(gw_token_cache_get(a, longtok, sizeof(longtok), T0, NULL), 1);
    longtok[sizeof(longtok) - 1] = 'R';
    assert_int_equal(gw_token_cache_get(a, longtok, sizeof(longtok), T0, NULL), 0);
    gw_token_cache_free(a);
    gw_token_cache_free(b);
}

static void test_identity_copy(void **unused)
{
    (void)unused;
    struct gw_identity d;
    assert_int_equal(gw_identity_copy(&d, &ALICE), 0);
    assert_ptr_not_equal(d.user, ALICE.user);
    assert_string_equal(d.user, "alice");
    assert_string_equal(d.perms, ALICE.perms);
    assert_int_equal(d.exp, ALICE.exp);
    gw_identity_clear(&d);
    assert_null(d.consumer);
    struct gw_identity empty = {0};
    assert_int_equal(gw_identity_copy(&d, &empty), 0);
    assert_null(d.user);
    gw_identity_clear(&d);
}

/* ---- worker threads ------------------------------------------------------------------- */

#define THREADS 8
#define OPS 20000
#define POOL 600

struct worker {
    struct gw_token_cache *c;
    unsigned seed;
    uint64_t errors; /* cmocka asserts only on the main thread */
    uint64_t hits;
};

static pthread_barrier_t start;

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    char tok[32], consumer[32];
    pthread_barrier_wait(&start);
    for (int i = 0; i < OPS; i++) {
        w->seed = w->seed * 1103515245u + 12345u;
        unsigned k = (w->seed >> 8) % POOL;
        snprintf(tok, sizeof(tok), "bearer-%u", k);
        snprintf(consumer, sizeof(consumer), "c%u", k);
        /* a clock that moves forward, so entries expire and are dropped along the way */
        uint64_t now = T0 + (uint64_t)i * 10;
        if (i % 3 == 0) {
            struct gw_identity id = {.consumer = consumer, .user = tok, .exp = k};
            w->errors += put(w->c, tok, k % 4 ? &id : NULL, now + 1000 + k) != 0;
            continue;
        }
        struct gw_identity out;
        int rc = gw_token_cache_get(w->c, tok, strlen(tok), now, &out);
        if (rc == 1) {
            /* a hit must be this token's identity, whole */
            w->errors += k % 4 == 0 || out.consumer == NULL || strcmp(out.consumer, consumer) ||
                         out.user == NULL || strcmp(out.user, tok) || out.exp != (int64_t)k;
            w->hits++;
        } else if (rc == 2) {
            w->errors += k % 4 != 0 || out.user != NULL;
            w->hits++;
        } else {
            w->errors += rc != 0;
        }
        gw_identity_clear(&out);
        if (i % 1000 == 999)
            gw_token_cache_sweep(w->c, now);
    }
    return NULL;
}

static void test_threads(void **unused)
{
    (void)unused;
    struct gw_token_cache *c = mk(256);
    pthread_t th[THREADS];
    struct worker w[THREADS];
    assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.c = c, .seed = (unsigned)i * 7919u + 1u};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    uint64_t hits = 0;
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].errors, 0);
        hits += w[i].hits;
    }
    assert_int_equal(pthread_barrier_destroy(&start), 0);
    struct gw_token_cache_stats s = stats_of(c);
    assert_true(s.entries <= 256);
    assert_int_equal(s.hits, hits);
    assert_true(hits > 0);
    assert_int_equal(s.hits + s.misses, (uint64_t)THREADS * (OPS - (OPS + 2) / 3));
    gw_token_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_hit_copies_identity),
        cmocka_unit_test(test_expiry_edge),
        cmocka_unit_test(test_negative_and_replace),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_lru_order),
        cmocka_unit_test(test_lru_keeps_hot_token),
        cmocka_unit_test(test_expired_evicted_first),
        cmocka_unit_test(test_sweep),
        cmocka_unit_test(test_clear),
        cmocka_unit_test(test_token_not_stored),
        cmocka_unit_test(test_identity_copy),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
