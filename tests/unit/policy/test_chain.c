/* Unit tests for src/policy/chain.c's per-request state: the arena hands out zeroed, aligned
 * pieces and refuses what does not fit; response headers come only from stages with state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/chain.h"

static struct gw_request *new_request(void)
{
    struct gw_request *r = malloc(sizeof *r);
    assert_non_null(r);
    memset(r, 0, offsetof(struct gw_request, arena));
    memset(r->arena, 0xa5, sizeof r->arena); /* the arena is not zeroed by its owner */
    return r;
}

static void test_alloc_is_zeroed_aligned_and_bounded(void **unused)
{
    (void)unused;
    struct gw_request *r = new_request();
    unsigned char *a = gw_stage_alloc(r, 3);
    unsigned char *b = gw_stage_alloc(r, 100);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal((uintptr_t)a % 16, 0);
    assert_int_equal((uintptr_t)b % 16, 0);
    assert_true(b >= a + 3);
    for (size_t i = 0; i < 100; i++)
        assert_int_equal(b[i], 0);
    assert_null(gw_stage_alloc(r, sizeof r->arena)); /* no longer fits */
    assert_null(gw_stage_alloc(r, SIZE_MAX));        /* no overflow */
    size_t left = sizeof r->arena - ((r->arena_used + 15) & ~(size_t)15);
    assert_non_null(gw_stage_alloc(r, left)); /* exactly what is left */
    assert_null(gw_stage_alloc(r, 1));
    free(r);
}

static void test_stages_without_state_add_no_headers(void **unused)
{
    (void)unused;
    struct gw_request *r = new_request();
    struct gw_buf b;
    gw_buf_init(&b, 4096);
    assert_int_equal(gw_buf_append_str(&b, "HTTP/1.1 200 OK\r\n"), 0);
    assert_int_equal(gw_policy_response_headers(r, &b), 0);
    assert_int_equal(b.len, strlen("HTTP/1.1 200 OK\r\n"));
    gw_policy_cancel(r); /* no state: nothing to cancel, nothing touched */
    gw_buf_free(&b);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_is_zeroed_aligned_and_bounded),
        cmocka_unit_test(test_stages_without_state_add_no_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
