/* Unit tests for src/trace/ring.c: the worker-to-control-thread ring of trace records (bytes).
 * A record comes out as it went in (fields, children, strings), in order, across the ring's
 * wrap; the drop count when full; and a producer thread racing a consumer thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <cmocka.h>

#include "trace/ring.h"
#include "trace/trace-t.h"

/* A record tagged `tag`, with `nchild` children and `nstr` bytes of strings derived from it. */
static void make(struct gw_trace *t, uint64_t tag, unsigned nchild, unsigned nstr)
{
    memset(t, 0xa5, sizeof *t); /* what the ring must not carry stays different */
    memset(t, 0, offsetof(struct gw_trace, child));
    t->span_id = tag;
    t->t_start = tag * 3;
    t->status = (uint16_t)(tag % 600);
    t->nchild = (uint8_t)nchild;
    t->strs_len = (uint16_t)nstr;
    for (unsigned i = 0; i < nchild; i++) {
        memset(&t->child[i], 0, sizeof t->child[i]);
        t->child[i].span_id = tag * 100 + i;
        t->child[i].port = (uint16_t)(i + 1);
        t->child[i].kind = GW_TRACE_TRY;
    }
    for (unsigned i = 0; i < nstr; i++)
        t->strs[i] = (char)('a' + (tag + i) % 26);
    t->path = (struct gw_trace_str){0, (uint16_t)nstr};
}

/* out holds what make(tag, nchild, nstr) made, in the part the ring carries. */
static void check(const struct gw_trace *out, uint64_t tag, unsigned nchild, unsigned nstr)
{
    struct gw_trace *want = malloc(sizeof *want);
    assert_non_null(want);
    make(want, tag, nchild, nstr);
    assert_memory_equal(out, want, offsetof(struct gw_trace, child));
    assert_memory_equal(out->child, want->child, nchild * sizeof want->child[0]);
    assert_memory_equal(out->strs, want->strs, nstr);
    free(want);
}

static void test_records_in_order_across_the_wrap(void **state)
{
    (void)state;
    struct gw_trace_ring *r = gw_trace_ring_new(10); /* 5,120 bytes: rounded up to 64 KiB */
    assert_non_null(r);
    assert_int_equal(r->mask + 1, 64 * 1024);
    assert_int_equal(gw_trace_ring_bytes(10), 64 * 1024);
    assert_int_equal(gw_trace_ring_bytes(8192), 4 * 1024 * 1024);
    assert_int_equal(gw_trace_ring_bytes(8193), 8 * 1024 * 1024);
    struct gw_trace *in = malloc(sizeof *in), *out = malloc(sizeof *out);
    assert_non_null(in);
    assert_non_null(out);
    assert_false(gw_trace_ring_pop(r, out));
    /* Records of many sizes, a few in the ring at a time, so that frames meet the end of the
     * data at every offset; the largest record (12 children, full strings) among them. */
    uint64_t next_in = 0, next_out = 0;
    while (next_out < 3000) {
        for (int k = 0; k < 3 && next_in < 3000; k++, next_in++) {
            unsigned nchild = (unsigned)(next_in % (GW_TRACE_MAX_CHILDREN + 1));
            unsigned nstr = next_in % 97 == 0 ? GW_TRACE_STRINGS : (unsigned)(next_in * 37 % 700);
            make(in, next_in, nchild, nstr);
            assert_true(gw_trace_ring_push(r, in));
        }
        assert_int_equal(gw_trace_ring_count(r), next_in - next_out);
        for (int k = 0; k < (next_in % 2 ? 2 : 4) && next_out < next_in; k++, next_out++) {
            assert_true(gw_trace_ring_pop(r, out));
            unsigned nchild = (unsigned)(next_out % (GW_TRACE_MAX_CHILDREN + 1));
            unsigned nstr = next_out % 97 == 0 ? GW_TRACE_STRINGS : (unsigned)(next_out * 37 % 700);
            check(out, next_out, nchild, nstr);
        }
    }
    assert_false(gw_trace_ring_pop(r, out));
    assert_int_equal(gw_trace_ring_count(r), 0);
    assert_true(gw_trace_ring_dropped(r) == 0);
    free(in);
    free(out);
    gw_trace_ring_free(r);
    gw_trace_ring_free(NULL);
}

static void test_full_drops_and_counts(void **state)
{
    (void)state;
    struct gw_trace *in = malloc(sizeof *in), *out = malloc(sizeof *out);
    assert_non_null(in);
    assert_non_null(out);
    /* the bytes run out first: 100 records of 788 bytes do not fit in 64 KiB */
    struct gw_trace_ring *r = gw_trace_ring_new(100);
    assert_non_null(r);
    make(in, 1, 2, 500);
    size_t n = 0;
    while (gw_trace_ring_push(r, in))
        n++;
    assert_true(n > 10 && n < 100);
    assert_int_equal(gw_trace_ring_count(r), n);
    assert_true(gw_trace_ring_dropped(r) ==
                3); /* the refused record's SERVER span and 2 children */
    assert_false(gw_trace_ring_push(r, in));
    assert_true(gw_trace_ring_dropped(r) == 6);
    /* room again once one is taken */
    assert_true(gw_trace_ring_pop(r, out));
    check(out, 1, 2, 500);
    assert_true(gw_trace_ring_push(r, in));
    gw_trace_ring_free(r); /* what is left is lost with it */

    /* the count runs out first: 4 small records */
    r = gw_trace_ring_new(4);
    assert_non_null(r);
    make(in, 2, 0, 10);
    for (int i = 0; i < 4; i++)
        assert_true(gw_trace_ring_push(r, in));
    assert_false(gw_trace_ring_push(r, in));
    assert_true(gw_trace_ring_dropped(r) == 1);
    assert_int_equal(gw_trace_ring_count(r), 4);
    assert_true(gw_trace_ring_pop(r, out));
    check(out, 2, 0, 10);
    assert_true(gw_trace_ring_push(r, in));
    assert_false(gw_trace_ring_push(r, in));
    gw_trace_ring_free(r);
    free(in);
    free(out);
}

#define RACE_N 200000

struct race {
    struct gw_trace_ring *ring;
    uint64_t pushed;  /* records taken (the producer's count) */
    uint64_t offered; /* spans offered */
    atomic_bool done; /* the producer has pushed its last */
};

static void producer(void *arg)
{
    struct race *rc = arg;
    struct gw_trace *in = malloc(sizeof *in);
    assert_non_null(in);
    for (uint64_t i = 0; i < RACE_N; i++) {
        make(in, i, (unsigned)(i % 3), (unsigned)(i % 200));
        rc->offered += 1 + i % 3;
        if (gw_trace_ring_push(rc->ring, in))
            rc->pushed++;
    }
    free(in);
    atomic_store_explicit(&rc->done, true, memory_order_release);
}

/* One producer, one consumer, a small ring: everything pushed is popped once, whole and in
 * order, and the spans popped plus those dropped are all that was offered. */
static void test_two_threads(void **state)
{
    (void)state;
    struct race rc = {.ring = gw_trace_ring_new(64)};
    atomic_init(&rc.done, false);
    assert_non_null(rc.ring);
    struct gw_trace *out = malloc(sizeof *out);
    assert_non_null(out);
    uv_thread_t th;
    assert_int_equal(uv_thread_create(&th, producer, &rc), 0);
    uint64_t popped = 0, spans = 0, last = 0;
    bool any = false;
    for (;;) {
        if (!gw_trace_ring_pop(rc.ring, out)) {
            /* the producer's last push happened before done: one more look, then stop */
            if (!atomic_load_explicit(&rc.done, memory_order_acquire))
                continue;
            if (!gw_trace_ring_pop(rc.ring, out))
                break;
        }
        uint64_t v = out->span_id;
        if (any && v <= last)
            fail_msg("out of order: %lu after %lu", (unsigned long)v, (unsigned long)last);
        check(out, v, (unsigned)(v % 3), (unsigned)(v % 200));
        last = v;
        any = true;
        popped++;
        spans += 1 + out->nchild;
    }
    uv_thread_join(&th);
    assert_true(popped == rc.pushed);
    assert_true(popped > 0);
    assert_true(spans + gw_trace_ring_dropped(rc.ring) == rc.offered);
    free(out);
    gw_trace_ring_free(rc.ring);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_in_order_across_the_wrap),
        cmocka_unit_test(test_full_drops_and_counts),
        cmocka_unit_test(test_two_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
