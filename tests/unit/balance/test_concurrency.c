/* Concurrency smoke test: every strategy shared by 4 threads, with acquire/release. */
#include <pthread.h>

#include "balance_test.h"

#define THREADS 4

struct worker {
    struct gw_balancer *b;
    struct test_health *health;
    uint64_t seed;
    unsigned count[3];
    int failed;
};

static void *run(void *arg)
{
    struct worker *w = arg;
    int held[8];
    int nheld = 0;
    for (int k = 0; k < PICKS; k++) {
        int i = gw_balancer_pick(w->b, NULL, test_usable, w->health, NULL, test_rnd(&w->seed));
        if (i < 0 || i > 2) {
            w->failed = 1;
            break;
        }
        w->count[i]++;
        gw_balancer_acquire(w->b, i);
        held[nheld++] = i;
        /* keep a few requests in flight so the counters really move */
        if (nheld == 8) {
            while (nheld > 0)
                gw_balancer_release(w->b, held[--nheld], k % 3 != 0, 1000 + (uint64_t)k % 500);
        }
    }
    while (nheld > 0)
        gw_balancer_release(w->b, held[--nheld], true, 1000);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    const uint32_t w[3] = {1, 2, 7};
    const enum gw_balance_strategy strategies[] = {
        GW_BALANCE_ROUND_ROBIN, GW_BALANCE_WEIGHTED_ROUND_ROBIN,
        GW_BALANCE_RANDOM,      GW_BALANCE_LEAST_CONNECTIONS,
        GW_BALANCE_IP_HASH,     GW_BALANCE_CONSISTENT_HASH,
        GW_BALANCE_P2C_EWMA,
    };
    for (size_t s = 0; s < sizeof(strategies) / sizeof(strategies[0]); s++) {
        struct gw_balancer *b = test_build(strategies[s], w, 3, NULL);
        struct test_health h = {0};
        struct worker workers[THREADS];
        pthread_t tid[THREADS];
        unsigned total[3] = {0};
        for (int t = 0; t < THREADS; t++) {
            workers[t] = (struct worker){.b = b, .health = &h, .seed = (uint64_t)t * 1000 + s};
            assert_int_equal(pthread_create(&tid[t], NULL, run, &workers[t]), 0);
        }
        for (int t = 0; t < THREADS; t++) {
            assert_int_equal(pthread_join(tid[t], NULL), 0);
            assert_int_equal(workers[t].failed, 0);
            for (int i = 0; i < 3; i++)
                total[i] += workers[t].count[i];
        }
        for (size_t i = 0; i < 3; i++)
            assert_int_equal(gw_balancer_inflight(b, i), 0);
        char what[64];
        snprintf(what, sizeof(what), "%s, 4 threads x 100k",
                 gw_balance_strategy_name(strategies[s]));
        /* weight-following strategies must hold 2 pp; the load-aware ones are only printed */
        if (strategies[s] == GW_BALANCE_WEIGHTED_ROUND_ROBIN ||
            strategies[s] == GW_BALANCE_RANDOM || strategies[s] == GW_BALANCE_IP_HASH ||
            strategies[s] == GW_BALANCE_CONSISTENT_HASH)
            test_shares(what, total, w, 3, 2.0);
        else
            test_shares(what, total, w, 3, 100.0);
        gw_balancer_free(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
