/* Unit tests for src/core/bufcache.h: a bounded cache of equal-size buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/bufcache.h"

/* A buffer given back is the next one taken (last in, first out), whole and writable. */
static void test_reuses_what_was_given_back(void **state)
{
    (void)state;
    struct gw_bufcache bc;
    gw_bufcache_init(&bc, 4096);
    char *a = gw_bufcache_get(&bc), *b = gw_bufcache_get(&bc);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    memset(a, 'a', 4096);
    gw_bufcache_put(&bc, a);
    gw_bufcache_put(&bc, b);
    assert_int_equal(bc.n, 2);
    assert_ptr_equal(gw_bufcache_get(&bc), b);
    char *again = gw_bufcache_get(&bc);
    assert_ptr_equal(again, a);
    memset(again, 'b', 4096); /* whole and writable again (AddressSanitizer checks) */
    assert_int_equal(bc.n, 0);
    gw_bufcache_put(&bc, NULL); /* nothing */
    assert_int_equal(bc.n, 0);
    gw_bufcache_put(&bc, again);
    gw_bufcache_put(&bc, b);
    gw_bufcache_clear(&bc);
    assert_int_equal(bc.n, 0);
}

/* At most GW_BUFCACHE_MAX are kept: the rest are freed (LeakSanitizer checks), and a cleared
 * cache hands out fresh ones. */
static void test_keeps_at_most_the_bound(void **state)
{
    (void)state;
    struct gw_bufcache bc;
    gw_bufcache_init(&bc, 256);
    void *p[GW_BUFCACHE_MAX + 5];
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) {
        p[i] = gw_bufcache_get(&bc);
        assert_non_null(p[i]);
    }
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        gw_bufcache_put(&bc, p[i]);
    assert_int_equal(bc.n, GW_BUFCACHE_MAX);
    gw_bufcache_clear(&bc);
    assert_int_equal(bc.n, 0);
    void *fresh = gw_bufcache_get(&bc);
    assert_non_null(fresh);
    gw_bufcache_put(&bc, fresh);
    gw_bufcache_clear(&bc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuses_what_was_given_back),
        cmocka_unit_test(test_keeps_at_most_the_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
