/* Unit tests for src/state/ratelimit_redis.c: one limit shared by several clients, against a
 * real redis-server (started here on a free loopback port). Two clients on two threads with
 * their own loops admit exactly the limit between them; with pre-allowance leases
 * (local_share) never more than the limit, little under it, and far fewer calls to Redis; one
 * client hands a lease's units out without Redis, remaining counting down as the local
 * algorithm's would. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "ratelimit_redis_test.h"

static uint64_t commandstat(uint16_t port, const char *cmd)
{
    char out[8192];
    assert_true(redis_cmds(port, out, sizeof(out), 1, "INFO commandstats"));
    char pat[64];
    snprintf(pat, sizeof(pat), "cmdstat_%s:calls=", cmd);
    const char *p = strstr(out, pat);
    return p != NULL ? strtoull(p + strlen(pat), NULL, 10) : 0;
}

/* ---- tests ---------------------------------------------------------------------------------- */

/* ---- two clients on two threads ---- */

struct worker {
    pthread_t tid;
    pthread_barrier_t *barrier;
    struct gw_rl_redis_shared *sh;
    uint16_t port;
    uint32_t local_share;
    const struct gw_rl_conf *confs;
    const char (*keys)[96];
    size_t nkeys;
    int per_key;
    int allowed[4];
    int answered;
    int failed;
};

struct wres {
    struct worker *w;
    size_t k;
    bool done;
};

static void on_wres(void *arg, int status, const struct gw_rl_decision *d)
{
    struct wres *r = arg;
    r->done = true;
    r->w->answered++;
    if (status != 0)
        r->w->failed++;
    else if (d->allowed)
        r->w->allowed[r->k]++;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct tloop l;
    uv_loop_init(&l.loop);
    uv_timer_init(&l.loop, &l.guard);
    l.guard.data = &l.fired;
    struct gw_rl_redis_conf rc = rconf(w->port);
    rc.local_share = w->local_share;
    struct gw_rl_redis *c = NULL;
    if (gw_rl_redis_new(&c, &l.loop, &rc, w->sh) != 0) {
        w->failed = -1;
        return NULL;
    }
    uint64_t end = uv_now(&l.loop) + 3000;
    while (!gw_rl_redis_up(c) && uv_now(&l.loop) < end)
        run_for(&l, 5);
    pthread_barrier_wait(w->barrier);
    size_t total = w->nkeys * (size_t)w->per_key;
    struct wres *rs = calloc(total, sizeof(*rs));
    int expected = 0;
    /* All at once: they are pipelined (and coalesced per key with leases). */
    for (int i = 0; i < w->per_key; i++) {
        for (size_t k = 0; k < w->nkeys; k++) {
            struct wres *r = &rs[(size_t)i * w->nkeys + k];
            struct gw_rl_decision d;
            r->w = w;
            r->k = k;
            int rc2 = gw_rl_redis_decide(c, &w->confs[k], w->keys[k], strlen(w->keys[k]), &d,
                                         on_wres, r, NULL);
            if (rc2 == GW_RL_REDIS_DONE) {
                w->answered++;
                w->allowed[k] += d.allowed;
            } else if (rc2 == 0) {
                expected++;
            } else {
                w->failed++;
            }
        }
    }
    end = uv_now(&l.loop) + 10000;
    while (w->answered < (int)total && uv_now(&l.loop) < end)
        run_for(&l, 5);
    free(rs);
    gw_rl_redis_close(c);
    uv_close((uv_handle_t *)&l.guard, NULL);
    uv_run(&l.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&l.loop) != 0)
        w->failed = -2;
    return NULL;
}

static void run_workers(uint32_t local_share, int per_key, int *allowed_total,
                        struct gw_rl_redis_metrics *m)
{
    const enum gw_rl_algo algos[] = {GW_RL_GCRA, GW_RL_TOKEN_BUCKET, GW_RL_SLIDING_WINDOW,
                                     GW_RL_FIXED_WINDOW};
    struct gw_rl_conf confs[4];
    char keys[4][96];
    for (size_t k = 0; k < 4; k++) {
        confs[k] = mkconf(algos[k], 25, 1000 * SEC, 0);
        mkkey(keys[k], sizeof(keys[k]), "shared");
    }
    struct gw_rl_redis_shared *sh = NULL;
    assert_int_equal(gw_rl_redis_shared_new(&sh, 2), 0);
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 2);
    struct worker w[2];
    memset(w, 0, sizeof(w));
    for (int i = 0; i < 2; i++) {
        w[i].barrier = &barrier;
        w[i].sh = sh;
        w[i].port = srv.port;
        w[i].local_share = local_share;
        w[i].confs = confs;
        w[i].keys = keys;
        w[i].nkeys = 4;
        w[i].per_key = per_key;
        assert_int_equal(pthread_create(&w[i].tid, NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(w[i].tid, NULL);
    pthread_barrier_destroy(&barrier);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(w[i].failed, 0);
        assert_int_equal(w[i].answered, 4 * per_key);
    }
    for (size_t k = 0; k < 4; k++)
        allowed_total[k] = w[0].allowed[k] + w[1].allowed[k];
    gw_rl_redis_shared_metrics(sh, m);
    assert_int_equal(m->clients, 2);
    assert_int_equal(m->clients_up, 0); /* both closed */
    gw_rl_redis_shared_free(sh);
}

static void test_two_threads_share_a_limit(void **unused)
{
    (void)unused;
    int allowed[4];
    struct gw_rl_redis_metrics m;
    run_workers(0, 40, allowed, &m);
    for (size_t k = 0; k < 4; k++)
        assert_int_equal(allowed[k], 25);
    assert_int_equal(m.decisions, 2 * 4 * 40);
    assert_int_equal(m.calls, 2 * 4 * 40);
    assert_int_equal(m.local, 0);
}

/* Leases: never more than the limit in total, little under it, and far fewer calls. */
static void test_pre_allowance_two_threads(void **unused)
{
    (void)unused;
    int allowed[4];
    struct gw_rl_redis_metrics m;
    uint64_t before = commandstat(srv.port, "evalsha");
    run_workers(8, 100, allowed, &m);
    uint64_t after = commandstat(srv.port, "evalsha");
    for (size_t k = 0; k < 4; k++) {
        assert_true(allowed[k] <= 25);
        assert_true(allowed[k] >= 25 - 2 * 7);
    }
    assert_int_equal(m.decisions, 2 * 4 * 100);
    assert_true(m.calls <= 2 * 4 * 100 / 8);
    assert_true(after - before <= m.calls);
    assert_true(m.local > 0);
}

/* One client, one key: a lease's units are handed out without Redis, remaining counting down
 * as the local algorithm's would. */
static void test_pre_allowance_lease(void **unused)
{
    (void)unused;
    struct tloop l;
    struct gw_rl_redis_shared *sh = NULL;
    struct gw_rl_redis *c = open_client(&l, &sh, 1, 8);
    const enum gw_rl_algo algos[] = {GW_RL_GCRA, GW_RL_TOKEN_BUCKET, GW_RL_SLIDING_WINDOW,
                                     GW_RL_FIXED_WINDOW};
    for (size_t k = 0; k < 4; k++) {
        struct gw_rl_conf conf = mkconf(algos[k], 20, 1000 * SEC, 0);
        char key[96];
        mkkey(key, sizeof(key), "lease");
        struct gw_rl_redis_metrics m0, m1;
        gw_rl_redis_shared_metrics(sh, &m0);
        for (uint64_t i = 0; i < 20; i++) {
            struct res r;
            memset(&r, 0, sizeof(r));
            int rc2 = gw_rl_redis_decide(c, &conf, key, strlen(key), &r.d, on_res, &r, NULL);
            assert_int_equal(rc2, i % 8 == 0 ? 0 : GW_RL_REDIS_DONE);
            if (rc2 == 0)
                assert_true(run_until(&l, &r.done, 3000));
            assert_int_equal(r.status, 0);
            assert_true(r.d.allowed);
            assert_int_equal(r.d.remaining, 20 - 1 - i);
            assert_true(r.d.reset_after_us > 0);
        }
        /* Exhausted: the last lease was partial (4 units), so the refusal is remembered. */
        struct res r;
        assert_int_equal(decide_wait(&l, c, &conf, key, &r), 0);
        assert_false(r.d.allowed);
        assert_true(r.d.retry_after_us > 0);
        memset(&r, 0, sizeof(r));
        assert_int_equal(gw_rl_redis_decide(c, &conf, key, strlen(key), &r.d, on_res, &r, NULL),
                         GW_RL_REDIS_DONE);
        assert_false(r.d.allowed);
        gw_rl_redis_shared_metrics(sh, &m1);
        assert_int_equal(m1.calls - m0.calls, 3);
        assert_int_equal(m1.decisions - m0.decisions, 22);
    }
    close_client(&l, sh, c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_threads_share_a_limit),
        cmocka_unit_test(test_pre_allowance_two_threads),
        cmocka_unit_test(test_pre_allowance_lease),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
