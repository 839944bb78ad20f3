/*
 * Unit tests for src/cache/store.c: objects and references, lookup with variants, replacing a
 * variant, the byte bound, scan resistance of the segmented LRU (objects hit twice survive a
 * scan of objects seen once), purges by key, URL, prefix, tag and all, an object evicted
 * while referenced, and threads sharing the store (the bound holds, every object freed once:
 * LeakSanitizer checks the latter).
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

#include "cache/store.h"
#include "core/error.h"

static struct gw_cache_obj *mk(const char *url, const char *sig, const char *tags, size_t body)
{
    char key[256];
    int kl = snprintf(key, sizeof key, "%s%cGET", url, '\0');
    char *b = body ? malloc(body) : NULL;
    if (body)
        memset(b, 'x', body);
    struct gw_cache_obj_init in = {
        .key = key,
        .key_len = (size_t)kl,
        .vary_names = sig ? "x-v" : "",
        .vary_names_len = sig ? 3 : 0,
        .vary_sig = sig ? sig : "",
        .vary_sig_len = sig ? strlen(sig) : 0,
        .head = "HTTP/1.1 200 OK\r\n",
        .head_len = 17,
        .tags = tags ? tags : "",
        .tags_len = tags ? strlen(tags) : 0,
        .body = b,
        .body_len = body,
        .status = 200,
    };
    gw_cc_init(&in.cc);
    struct gw_cache_obj *o = gw_cache_obj_new(&in);
    assert_non_null(o);
    return o;
}

static void put(struct gw_cache_store *s, const char *url, const char *sig, const char *tags,
                size_t body)
{
    struct gw_cache_obj *o = mk(url, sig, tags, body);
    assert_int_equal(gw_cache_store_insert(s, o), 0);
    gw_cache_obj_release(o);
}

static bool sig_is(const struct gw_cache_obj *o, void *ctx)
{
    const char *want = ctx;
    return o->vary_sig_len == strlen(want) && memcmp(o->vary_sig, want, o->vary_sig_len) == 0;
}

static struct gw_cache_obj *get(struct gw_cache_store *s, const char *url, const char *sig)
{
    char key[256];
    int kl = snprintf(key, sizeof key, "%s%cGET", url, '\0');
    return gw_cache_store_lookup(s, key, (size_t)kl, sig ? sig_is : NULL, (void *)sig);
}

static bool has(struct gw_cache_store *s, const char *url)
{
    struct gw_cache_obj *o = get(s, url, NULL);
    gw_cache_obj_release(o);
    return o != NULL;
}

static struct gw_cache_store *store(size_t max_bytes, size_t max_object)
{
    struct gw_cache_store *s = NULL;
    struct gw_cache_store_conf c = {.max_bytes = max_bytes, .max_object = max_object};
    assert_int_equal(gw_cache_store_new(&s, &c), 0);
    return s;
}

static struct gw_cache_store_stats stats(struct gw_cache_store *s)
{
    struct gw_cache_store_stats st;
    gw_cache_store_stats(s, &st);
    return st;
}

static void test_conf(void **state)
{
    (void)state;
    struct gw_cache_store *s = NULL;
    struct gw_cache_store_conf c = {.max_bytes = 1000};
    assert_int_equal(gw_cache_store_new(&s, &c), GW_EINVAL);
    c = (struct gw_cache_store_conf){.max_bytes = 1 << 20, .protected_percent = 101};
    assert_int_equal(gw_cache_store_new(&s, &c), GW_EINVAL);
    /* shards hold at least four of the largest objects */
    s = store(64u << 20, 1u << 20);
    assert_int_equal(stats(s).shards, 8);
    assert_true(gw_cache_store_max_object(s) >= 4u << 20);
    gw_cache_store_free(s);
    s = store(1u << 20, 1u << 20);
    assert_int_equal(stats(s).shards, 1);
    gw_cache_store_free(s);
    gw_cache_store_free(NULL);
}

static void test_lookup_variants(void **state)
{
    (void)state;
    struct gw_cache_store *s = store(1u << 20, 1024);
    put(s, "h/a", "gzip", NULL, 10);
    put(s, "h/a", "br", NULL, 20);
    struct gw_cache_obj *o = get(s, "h/a", "br");
    assert_non_null(o);
    assert_int_equal(o->body_len, 20);
    assert_int_equal(o->url_len, 3);
    gw_cache_obj_release(o);
    o = get(s, "h/a", "gzip");
    assert_non_null(o);
    assert_int_equal(o->body_len, 10);
    gw_cache_obj_release(o);
    assert_null(get(s, "h/a", "identity"));
    assert_null(get(s, "h/b", NULL));
    /* the same variant again replaces it */
    put(s, "h/a", "br", NULL, 30);
    o = get(s, "h/a", "br");
    assert_int_equal(o->body_len, 30);
    gw_cache_obj_release(o);
    assert_int_equal(stats(s).objects, 2);
    /* too large */
    o = mk("h/big", NULL, NULL, 2u << 20);
    assert_int_equal(gw_cache_store_insert(s, o), GW_EINVAL);
    gw_cache_obj_release(o);
    gw_cache_store_free(s);
}

static void test_bound(void **state)
{
    (void)state;
    size_t max = 1u << 20;
    struct gw_cache_store *s = store(max, 4096);
    char url[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(url, sizeof url, "h/%d", i);
        put(s, url, NULL, NULL, 1000 + (size_t)(i % 3000));
        assert_true(stats(s).bytes <= max);
    }
    struct gw_cache_store_stats st = stats(s);
    assert_true(st.evictions > 0);
    assert_int_equal(st.inserts, 2000);
    assert_int_equal(st.objects + st.evictions, 2000);
    assert_true(st.bytes > max / 2);
    gw_cache_store_free(s);
}

static void test_scan_resistance(void **state)
{
    (void)state;
    /* one shard, so the test sees one SLRU */
    size_t max = 256u << 10;
    struct gw_cache_store *s = store(max, max / 4);
    assert_int_equal(stats(s).shards, 1);
    char url[32];
    /* 50 hot objects of ~2 KiB (about 40% of the store), each hit once after its insert */
    for (int i = 0; i < 50; i++) {
        snprintf(url, sizeof url, "h/hot%d", i);
        put(s, url, NULL, NULL, 1700);
        assert_true(has(s, url));
    }
    /* a scan of 1,000 objects seen once, four times the store */
    for (int i = 0; i < 1000; i++) {
        snprintf(url, sizeof url, "h/scan%d", i);
        put(s, url, NULL, NULL, 1700);
    }
    for (int i = 0; i < 50; i++) {
        snprintf(url, sizeof url, "h/hot%d", i);
        if (!has(s, url))
            fail_msg("hot object %d evicted by the scan", i);
    }
    assert_true(stats(s).bytes <= max);
    gw_cache_store_free(s);
}

static void test_purge(void **state)
{
    (void)state;
    struct gw_cache_store *s = store(1u << 20, 1024);
    put(s, "h/a", "1", "blog post-1", 1);
    put(s, "h/a", "2", "blog", 1);
    put(s, "h/a?x=1", NULL, "post-1,news", 1);
    put(s, "h/ab", NULL, NULL, 1);
    put(s, "h/b/c", NULL, "blogs", 1);
    put(s, "g/a", NULL, NULL, 1);
    assert_int_equal(stats(s).objects, 6);
    /* exact URL: every variant, nothing else */
    assert_int_equal(gw_cache_store_purge_url(s, "h/a", 3, false), 2);
    assert_true(has(s, "h/a?x=1") && has(s, "h/ab"));
    /* tag: whole members only */
    assert_int_equal(gw_cache_store_purge_tag(s, "post-1", 6), 1);
    assert_false(has(s, "h/a?x=1"));
    assert_int_equal(gw_cache_store_purge_tag(s, "blog", 4), 0);
    /* prefix */
    assert_int_equal(gw_cache_store_purge_url(s, "h/", 2, true), 2);
    assert_true(has(s, "g/a"));
    /* key */
    put(s, "g/b", "1", NULL, 1);
    put(s, "g/b", "2", NULL, 1);
    char key[] = "g/b\0GET";
    assert_int_equal(gw_cache_store_purge_key(s, key, sizeof key - 1), 2);
    assert_int_equal(stats(s).purged, 7);
    assert_int_equal(gw_cache_store_clear(s), 1);
    assert_int_equal(stats(s).objects, 0);
    assert_int_equal(stats(s).bytes, 0);
    gw_cache_store_free(s);
}

static void test_reference_outlives_eviction(void **state)
{
    (void)state;
    struct gw_cache_store *s = store(1u << 20, 1024);
    put(s, "h/a", NULL, NULL, 100);
    struct gw_cache_obj *o = get(s, "h/a", NULL);
    assert_non_null(o);
    assert_int_equal(gw_cache_store_clear(s), 1);
    assert_int_equal(o->body_len, 100);
    assert_int_equal(o->body[99], 'x');
    gw_cache_obj_release(o);
    gw_cache_store_free(s);
}

static void test_fills(void **state)
{
    (void)state;
    struct gw_cache_store *s = store(1u << 20, 1024);
    const char k[] = "h/a\0GET";
    size_t n = sizeof k - 1;
    assert_false(gw_cache_store_fill_active(s, k, n));
    assert_true(gw_cache_store_fill_begin(s, k, n, 1000, 5000));
    assert_true(gw_cache_store_fill_active(s, k, n));
    /* a second request waits */
    assert_false(gw_cache_store_fill_begin(s, k, n, 2000, 5000));
    assert_false(gw_cache_store_fill_begin(s, "h/b", 3, 2000, 5000) == false);
    assert_int_equal(stats(s).fills, 2);
    /* a fill older than the bound is taken over */
    assert_true(gw_cache_store_fill_begin(s, k, n, 7000, 5000));
    assert_false(gw_cache_store_fill_begin(s, k, n, 7001, 5000));
    gw_cache_store_fill_end(s, k, n);
    assert_false(gw_cache_store_fill_active(s, k, n));
    gw_cache_store_fill_end(s, k, n); /* twice is harmless */
    assert_int_equal(stats(s).fills, 1);
    gw_cache_store_free(s); /* frees the fill left ("h/b") */
}

struct worker_arg {
    struct gw_cache_store *s;
    int id;
};

static void *worker(void *p)
{
    struct worker_arg *a = p;
    char url[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(url, sizeof url, "h/%d", (i * 7 + a->id) % 500);
        struct gw_cache_obj *o = get(a->s, url, NULL);
        if (o == NULL) {
            o = mk(url, NULL, NULL, 500 + (size_t)(i % 1500));
            gw_cache_store_insert(a->s, o);
        } else if (i % 97 == 0) {
            gw_cache_store_purge_key(a->s, o->key, o->key_len);
        }
        gw_cache_obj_release(o);
        if (i % 1000 == 999)
            gw_cache_store_purge_url(a->s, "h/1", 3, true);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    size_t max = 256u << 10;
    struct gw_cache_store *s = store(max, 2048);
    pthread_t t[4];
    struct worker_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct worker_arg){s, i};
        assert_int_equal(pthread_create(&t[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    struct gw_cache_store_stats st = stats(s);
    assert_true(st.bytes <= max);
    assert_true(st.evictions > 0);
    gw_cache_store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conf),  cmocka_unit_test(test_lookup_variants),
        cmocka_unit_test(test_bound), cmocka_unit_test(test_scan_resistance),
        cmocka_unit_test(test_purge), cmocka_unit_test(test_reference_outlives_eviction),
        cmocka_unit_test(test_fills), cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
