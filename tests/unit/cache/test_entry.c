/*
 * Unit tests for src/cache/entry.c, the byte form of a stored response kept by the Redis
 * backend: a round trip keeps every part (with and without body, Vary and tags), every
 * truncation of a valid entry is refused, each field's bounds are checked (magic, version,
 * status, times, Cache-Control numbers and flags, lengths, the head's framing), and every
 * prefix of an entry is decoded from a buffer that ends at a guard page.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../guard_page.h"
#include "cache/entry.h"
#include "core/error.h"

static const char HEAD[] =
    "Content-Type: text/plain\r\nCache-Control: max-age=60\r\nETag: \"v1\"\r\n";

static struct gw_cache_obj *mk(const char *body, const char *sig, const char *tags)
{
    char key[64];
    int kl = snprintf(key, sizeof key, "example.com/a?x=1%cGET", '\0');
    size_t bl = body ? strlen(body) : 0;
    char *b = bl ? malloc(bl) : NULL;
    if (bl)
        memcpy(b, body, bl);
    struct gw_cache_obj_init in = {
        .key = key,
        .key_len = (size_t)kl,
        .vary_names = sig ? "accept-encoding" : "",
        .vary_names_len = sig ? 15 : 0,
        .vary_sig = sig ? sig : "",
        .vary_sig_len = sig ? strlen(sig) : 0,
        .head = HEAD,
        .head_len = sizeof HEAD, /* with its NUL */
        .tags = tags ? tags : "",
        .tags_len = tags ? strlen(tags) : 0,
        .body = b,
        .body_len = bl,
        .status = 200,
        .lifetime = 60,
        .initial_age = 3,
        .response_time = 1700000000,
    };
    gw_cc_init(&in.cc);
    gw_cc_parse(&in.cc, "max-age=60, stale-while-revalidate=30", 37);
    struct gw_cache_obj *o = gw_cache_obj_new(&in);
    assert_non_null(o);
    return o;
}

static char *encode(const struct gw_cache_obj *o, size_t *len)
{
    *len = gw_cache_entry_size(o);
    char *buf = malloc(*len);
    assert_non_null(buf);
    assert_int_equal(gw_cache_entry_encode(o, buf, *len), *len);
    return buf;
}

static void same(const struct gw_cache_obj *a, const struct gw_cache_obj *b)
{
    assert_int_equal(a->key_len, b->key_len);
    assert_memory_equal(a->key, b->key, a->key_len);
    assert_int_equal(a->url_len, b->url_len);
    assert_int_equal(a->vary_names_len, b->vary_names_len);
    assert_memory_equal(a->vary_names, b->vary_names, a->vary_names_len);
    assert_int_equal(a->vary_sig_len, b->vary_sig_len);
    assert_memory_equal(a->vary_sig, b->vary_sig, a->vary_sig_len);
    assert_int_equal(a->head_len, b->head_len);
    assert_string_equal(a->head, b->head);
    assert_int_equal(a->tags_len, b->tags_len);
    assert_memory_equal(a->tags, b->tags, a->tags_len);
    assert_int_equal(a->body_len, b->body_len);
    if (a->body_len)
        assert_memory_equal(a->body, b->body, a->body_len);
    assert_int_equal(a->status, b->status);
    assert_memory_equal(&a->cc, &b->cc, sizeof a->cc);
    assert_int_equal(a->lifetime, b->lifetime);
    assert_int_equal(a->initial_age, b->initial_age);
    assert_int_equal(a->response_time, b->response_time);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct gw_cache_obj *objs[] = {mk("hello", "gzip", "t1 t2"), mk(NULL, NULL, NULL),
                                   mk("x", NULL, "a,b")};
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++) {
        size_t len;
        char *buf = encode(objs[i], &len);
        assert_int_equal(gw_cache_entry_encode(objs[i], buf, len - 1), 0); /* too small */
        struct gw_cache_entry e;
        assert_int_equal(gw_cache_entry_decode(buf, len, &e), 0);
        assert_int_equal(e.cc.stale_while_revalidate, 30);
        struct gw_cache_obj *back = gw_cache_entry_obj(&e);
        assert_non_null(back);
        same(objs[i], back);
        gw_cache_obj_release(back);
        /* every truncation, and a trailing byte, are refused */
        for (size_t k = 0; k < len; k++)
            assert_int_equal(gw_cache_entry_decode(buf, k, &e), GW_EINVAL);
        char *longer = malloc(len + 1);
        memcpy(longer, buf, len);
        longer[len] = 'x';
        assert_int_equal(gw_cache_entry_decode(longer, len + 1, &e), GW_EINVAL);
        free(longer);
        free(buf);
        gw_cache_obj_release(objs[i]);
    }
}

static void put32(char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (char)(v >> (8 * i));
}

static void put64(char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (char)(v >> (8 * i));
}

/* One field changed in a valid entry must make it refused. */
static void test_bounds(void **state)
{
    (void)state;
    struct gw_cache_obj *o = mk("body", "br", "tag");
    size_t len;
    char *good = encode(o, &len);
    char *b = malloc(len);
    struct gw_cache_entry e;
    struct {
        size_t at;
        int width; /* 1, 4 or 8 */
        uint64_t value;
    } bad[] = {
        {0, 1, 'X'},                 /* magic */
        {3, 1, 2},                   /* version */
        {4, 4, 99},                  /* status */
        {4, 4, 600},                 /* status */
        {8, 4, 1u << 20},            /* an unknown Cache-Control flag */
        {12, 8, (uint64_t)-2},       /* max-age below -1 */
        {12, 8, (uint64_t)1 << 40},  /* max-age above 2^31 */
        {60, 8, (uint64_t)-1},       /* lifetime < 0 */
        {68, 8, (uint64_t)-1},       /* initial age < 0 */
        {76, 8, (uint64_t)-1},       /* response time < 0 */
        {84, 4, 0},                  /* empty key */
        {84, 4, 5000},               /* key longer than GW_CACHE_KEY_MAX */
        {88, 4, 2000},               /* Vary names too long */
        {92, 4, 0xffffffffu},        /* signature past the end */
        {104, 8, (uint64_t)1 << 62}, /* body past the end */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(b, good, len);
        if (bad[i].width == 1)
            b[bad[i].at] = (char)bad[i].value;
        else if (bad[i].width == 4)
            put32(b + bad[i].at, (uint32_t)bad[i].value);
        else
            put64(b + bad[i].at, bad[i].value);
        assert_int_equal(gw_cache_entry_decode(b, len, &e), GW_EINVAL);
    }
    /* the head: a NUL inside, a bare LF, a missing final CRLF, a missing NUL */
    memcpy(b, good, len);
    assert_int_equal(gw_cache_entry_decode(b, len, &e), 0);
    size_t head_at = (size_t)(e.head - b);
    size_t head_len = e.head_len;
    const size_t spots[] = {0, 5, head_len - 2, head_len - 3, head_len - 1};
    const char with[] = {'\0', '\n', 'x', 'x', 'x'};
    for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
        memcpy(b, good, len);
        b[head_at + spots[i]] = with[i];
        assert_int_equal(gw_cache_entry_decode(b, len, &e), GW_EINVAL);
    }
    free(b);
    free(good);
    gw_cache_obj_release(o);
}

static void test_guard_page(void **state)
{
    (void)state;
    struct gw_cache_obj *o = mk("0123456789", "gzip", "t");
    size_t len;
    char *buf = encode(o, &len);
    struct guard g;
    guard_init(&g, len);
    for (size_t k = 0; k <= len; k++) {
        struct gw_cache_entry e;
        int rc = gw_cache_entry_decode(guard_place(&g, buf, k), k, &e);
        assert_int_equal(rc, k == len ? 0 : GW_EINVAL);
    }
    guard_free(&g);
    free(buf);
    gw_cache_obj_release(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_guard_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
