/* Unit tests for src/core/random.c: per-thread random numbers and request ids. Statistical
 * checks are chosen so that a correct generator fails them with a probability far below
 * 1e-12; they catch a stuck bit, a constant, a short cycle or two threads sharing a stream. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/random.h"

#define NIDS 20000

static int cmp_ids(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

static void test_request_id_shape(void **state)
{
    (void)state;
    for (int i = 0; i < 1000; i++) {
        char id[33];
        memset(id, 'X', sizeof id);
        gw_random_request_id(id);
        assert_int_equal(id[32], '\0');
        assert_int_equal(strlen(id), 32);
        for (int k = 0; k < 32; k++)
            if (!((id[k] >= '0' && id[k] <= '9') || (id[k] >= 'a' && id[k] <= 'f')))
                fail_msg("request id %s: %c is not a lower-case hex digit", id, id[k]);
    }
}

/* Distinct ids, and every hex digit at every position: all 128 bits vary. */
static void test_request_ids_are_unique_and_use_every_digit(void **state)
{
    (void)state;
    char(*ids)[33] = calloc(NIDS, sizeof *ids);
    unsigned seen[32] = {0}; /* bit d set: digit d seen at that position */
    assert_non_null(ids);
    for (int i = 0; i < NIDS; i++) {
        gw_random_request_id(ids[i]);
        for (int k = 0; k < 32; k++) {
            char c = ids[i][k];
            seen[k] |= 1u << (c <= '9' ? c - '0' : c - 'a' + 10);
        }
    }
    for (int k = 0; k < 32; k++)
        if (seen[k] != 0xFFFF)
            fail_msg("position %d: digits seen 0x%04x", k, seen[k]);
    qsort(ids, NIDS, sizeof *ids, cmp_ids);
    for (int i = 1; i < NIDS; i++)
        if (memcmp(ids[i - 1], ids[i], 32) == 0)
            fail_msg("request id %s twice", ids[i]);
    free(ids);
}

static void test_every_bit_of_u64_varies(void **state)
{
    (void)state;
    uint64_t ones = 0, zeros = 0;
    uint64_t first = gw_random_u64();
    int same = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t v = gw_random_u64();
        ones |= v;
        zeros |= ~v;
        same += v == first;
    }
    assert_true(ones == UINT64_MAX);
    assert_true(zeros == UINT64_MAX);
    assert_int_equal(same, 0);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* gw_random_fill draws from the same stream as gw_random_u64 and advances it: runs of both,
 * interleaved, never repeat a number, and every bit of the filled numbers varies. */
static void test_fill_continues_the_stream(void **state)
{
    (void)state;
    enum {
        ROUNDS = 500,
        PER = 7
    };
    uint64_t *all = calloc(ROUNDS * (PER + 1), sizeof *all);
    assert_non_null(all);
    uint64_t ones = 0, zeros = 0;
    size_t n = 0;
    for (int r = 0; r < ROUNDS; r++) {
        all[n++] = gw_random_u64();
        gw_random_fill(all + n, (size_t)(r % PER) + 1);
        for (int k = 0; k <= r % PER; k++) {
            ones |= all[n + (size_t)k];
            zeros |= ~all[n + (size_t)k];
        }
        n += (size_t)(r % PER) + 1;
    }
    gw_random_fill(all, 0); /* nothing written, nothing drawn */
    assert_true(ones == UINT64_MAX);
    assert_true(zeros == UINT64_MAX);
    qsort(all, n, sizeof *all, cmp_u64);
    for (size_t i = 1; i < n; i++)
        if (all[i - 1] == all[i])
            fail_msg("%llu drawn twice", (unsigned long long)all[i]);
    free(all);
}

struct draw {
    uint64_t v[64];
};

static void *draw_thread(void *arg)
{
    struct draw *d = arg;
    for (int i = 0; i < 64; i++)
        d->v[i] = gw_random_u64();
    return NULL;
}

/* Each thread seeds its own state: two threads never produce the same stream. */
static void test_threads_have_their_own_streams(void **state)
{
    (void)state;
    struct draw d[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, draw_thread, &d[i]), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    for (int a = 0; a < 4; a++)
        for (int b = a + 1; b < 4; b++)
            for (int i = 0; i < 64; i++)
                for (int j = 0; j < 64; j++)
                    if (d[a].v[i] == d[b].v[j])
                        fail_msg("threads %d and %d drew the same value %llx", a, b,
                                 (unsigned long long)d[a].v[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_id_shape),
        cmocka_unit_test(test_request_ids_are_unique_and_use_every_digit),
        cmocka_unit_test(test_every_bit_of_u64_varies),
        cmocka_unit_test(test_fill_continues_the_stream),
        cmocka_unit_test(test_threads_have_their_own_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
