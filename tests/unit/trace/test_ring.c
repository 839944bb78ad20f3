/* Unit tests for src/trace/ring.c: the worker-to-control-thread ring of trace records. Order,
 * capacity, the drop count when full, and a producer thread racing a consumer thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <cmocka.h>

#include "trace/ring.h"

/* Records are only pointers to the ring: small tagged allocations stand in for them (the ring
 * frees what is left in it with free()). */
static struct gw_trace *rec(uintptr_t tag)
{
    uintptr_t *p = malloc(sizeof *p);
    assert_non_null(p);
    *p = tag;
    return (struct gw_trace *)p;
}

static uintptr_t tag_of(struct gw_trace *t)
{
    return *(uintptr_t *)t;
}

static void test_fifo_and_capacity(void **state)
{
    (void)state;
    struct gw_trace_ring *r = gw_trace_ring_new(5); /* rounded up to 8 */
    assert_non_null(r);
    assert_null(gw_trace_ring_pop(r));
    for (uintptr_t i = 0; i < 8; i++)
        assert_true(gw_trace_ring_push(r, rec(i), 2));
    assert_int_equal(gw_trace_ring_count(r), 8);
    struct gw_trace *extra = rec(99);
    assert_false(gw_trace_ring_push(r, extra, 3)); /* full: not taken, its spans counted */
    assert_false(gw_trace_ring_push(r, extra, 2));
    assert_true(gw_trace_ring_dropped(r) == 5);
    free(extra);
    for (uintptr_t i = 0; i < 3; i++) {
        struct gw_trace *t = gw_trace_ring_pop(r);
        assert_non_null(t);
        assert_int_equal(tag_of(t), i);
        free(t);
    }
    /* room again, and the order survives the wrap */
    for (uintptr_t i = 8; i < 11; i++)
        assert_true(gw_trace_ring_push(r, rec(i), 1));
    for (uintptr_t i = 3; i < 11; i++) {
        struct gw_trace *t = gw_trace_ring_pop(r);
        assert_non_null(t);
        assert_int_equal(tag_of(t), i);
        free(t);
    }
    assert_null(gw_trace_ring_pop(r));
    assert_int_equal(gw_trace_ring_count(r), 0);
    /* what is left is freed with the ring (LeakSanitizer checks) */
    assert_true(gw_trace_ring_push(r, rec(1), 1));
    gw_trace_ring_free(r);
    gw_trace_ring_free(NULL);
}

#define RACE_N 200000

struct race {
    struct gw_trace_ring *ring;
    uint64_t pushed;
};

static void producer(void *arg)
{
    struct race *rc = arg;
    for (uintptr_t i = 0; i < RACE_N; i++) {
        struct gw_trace *t = rec(i);
        if (gw_trace_ring_push(rc->ring, t, 1))
            rc->pushed++;
        else
            free(t);
    }
}

/* One producer, one consumer, a small ring: everything pushed is popped once, in order, and
 * pushed + dropped is everything offered. */
static void test_two_threads(void **state)
{
    (void)state;
    struct race rc = {gw_trace_ring_new(64), 0};
    assert_non_null(rc.ring);
    uv_thread_t th;
    assert_int_equal(uv_thread_create(&th, producer, &rc), 0);
    uint64_t popped = 0;
    uintptr_t last = 0;
    bool any = false;
    for (;;) {
        struct gw_trace *t = gw_trace_ring_pop(rc.ring);
        if (t == NULL) {
            /* done when the producer is: its count is read after the join below */
            if (gw_trace_ring_dropped(rc.ring) + popped == RACE_N)
                break;
            continue;
        }
        uintptr_t v = tag_of(t);
        if (any && v <= last)
            fail_msg("out of order: %lu after %lu", (unsigned long)v, (unsigned long)last);
        last = v;
        any = true;
        popped++;
        free(t);
    }
    uv_thread_join(&th);
    assert_true(popped == rc.pushed);
    assert_true(rc.pushed + gw_trace_ring_dropped(rc.ring) == RACE_N);
    gw_trace_ring_free(rc.ring);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_and_capacity),
        cmocka_unit_test(test_two_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
