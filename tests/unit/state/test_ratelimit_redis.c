/* Unit tests for src/state/ratelimit_redis.c, the client's side, against real redis-server
 * processes (started here on free loopback ports, stopped by pid): invalid arguments, NOSCRIPT,
 * AUTH and SELECT, an absent, a stopped and a restarted Redis (timeouts, fail-fast, reconnect,
 * one log line per change), cancel, close with decisions in flight, and a host name. Every loop
 * ends with no live handle. The decisions themselves: test_ratelimit_redis_decisions.c; one
 * limit shared by clients on two threads and pre-allowance leases:
 * test_ratelimit_redis_shared_limit.c. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "ratelimit_redis_test.h"

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_invalid(void **unused)
{
    (void)unused;
    struct gw_rl_conf big = mkconf(GW_RL_GCRA, 1, (UINT64_C(1) << 40) - 1, 0);
    big.burst = big.capacity = UINT64_C(1) << 20; /* span 2^60: beyond the script's range */
    assert_int_equal(gw_rl_redis_conf_check(&big), GW_EINVAL);
    assert_int_equal(gw_rl_redis_conf_check(NULL), GW_EINVAL);

    struct gw_rl_redis_shared *sh = NULL;
    assert_int_equal(gw_rl_redis_shared_new(&sh, 1), 0);
    struct tloop l;
    tloop_init(&l);
    struct gw_rl_redis_conf rc = rconf(srv.port);
    struct gw_rl_redis *c = NULL;
    rc.timeout_ms = 0;
    assert_int_equal(gw_rl_redis_new(&c, &l.loop, &rc, sh), GW_EINVAL);
    rc = rconf(srv.port);
    rc.backoff_max_ms = 1;
    assert_int_equal(gw_rl_redis_new(&c, &l.loop, &rc, sh), GW_EINVAL);
    rc = rconf(srv.port);
    c = mkclient(&l, &rc, sh);
    assert_true(wait_up(&l, c, 3000));
    struct gw_rl_conf conf = mkconf(GW_RL_GCRA, 1, SEC, 0);
    struct gw_rl_decision d;
    static char key[GW_RL_REDIS_MAX_KEY + 1];
    memset(key, 'k', sizeof(key));
    assert_int_equal(gw_rl_redis_decide(c, &conf, key, 0, &d, on_res, NULL, NULL), GW_EINVAL);
    assert_int_equal(gw_rl_redis_decide(c, &conf, key, sizeof(key), &d, on_res, NULL, NULL),
                     GW_EINVAL);
    assert_int_equal(gw_rl_redis_decide(c, &big, "k", 1, &d, on_res, NULL, NULL), GW_EINVAL);
    /* the longest key goes through */
    struct res r;
    memset(&r, 0, sizeof(r));
    assert_int_equal(gw_rl_redis_decide(c, &conf, key, GW_RL_REDIS_MAX_KEY, &d, on_res, &r, NULL),
                     0);
    assert_true(run_until(&l, &r.done, 3000));
    assert_int_equal(r.status, 0);
    close_client(&l, sh, c);
}

/* The script cache flushed: NOSCRIPT, the call goes again as EVAL, the script is reloaded. */
static void test_noscript(void **unused)
{
    (void)unused;
    struct tloop l;
    struct gw_rl_redis_shared *sh = NULL;
    struct gw_rl_redis *c = open_client(&l, &sh, 1, 0);
    struct gw_rl_conf conf = mkconf(GW_RL_FIXED_WINDOW, 3, 1000 * SEC, 0);
    char key[96], out[64];
    mkkey(key, sizeof(key), "noscript");
    struct res r;
    assert_int_equal(decide_wait(&l, c, &conf, key, &r), 0);
    assert_true(r.d.allowed);
    assert_true(redis_cmds(srv.port, out, sizeof(out), 1, "SCRIPT FLUSH"));
    assert_string_equal(out, "+OK");
    assert_int_equal(decide_wait(&l, c, &conf, key, &r), 0);
    assert_true(r.d.allowed);
    assert_int_equal(r.d.remaining, 1);
    assert_int_equal(decide_wait(&l, c, &conf, key, &r), 0);
    assert_int_equal(r.d.remaining, 0);
    struct gw_rl_redis_metrics m;
    gw_rl_redis_shared_metrics(sh, &m);
    assert_int_equal(m.noscript_reloads, 1);
    assert_int_equal(m.calls, 4); /* 3 EVALSHA + 1 EVAL */
    char sha[41], cmd[80];
    gw_rl_redis_script_sha(sha);
    snprintf(cmd, sizeof(cmd), "SCRIPT EXISTS %s", sha);
    assert_true(redis_cmds(srv.port, out, sizeof(out), 1, cmd));
    assert_string_equal(out, ":1\n");
    close_client(&l, sh, c);
}

static void test_auth_and_db(void **unused)
{
    (void)unused;
    struct server s;
    server_start(&s, "s3cret");
    struct gw_rl_redis_shared *sh = NULL;
    assert_int_equal(gw_rl_redis_shared_new(&sh, 3), 0);
    struct tloop l;
    tloop_init(&l);
    struct gw_rl_redis_conf rc = rconf(s.port);
    rc.password = "s3cret";
    rc.db = 3;
    struct gw_rl_redis *c = mkclient(&l, &rc, sh);
    rc.username = "default";
    rc.db = 0;
    struct gw_rl_redis *cu = mkclient(&l, &rc, sh);
    assert_true(wait_up(&l, c, 3000));
    assert_true(wait_up(&l, cu, 3000));
    off_t mark = log_mark();
    rc.username = NULL;
    rc.password = "wrong";
    struct gw_rl_redis *bad = mkclient(&l, &rc, sh);
    struct gw_rl_conf conf = mkconf(GW_RL_GCRA, 3, 1000 * SEC, 0);
    struct res r;
    assert_int_equal(decide_wait(&l, c, &conf, "authkey", &r), 0);
    assert_true(r.d.allowed);
    assert_int_equal(decide_wait(&l, cu, &conf, "authkey0", &r), 0);
    assert_true(r.d.allowed);
    char out[64];
    assert_true(
        redis_cmds(s.port, out, sizeof(out), 3, "AUTH s3cret", "SELECT 3", "EXISTS authkey"));
    assert_string_equal(out, ":1");
    assert_true(redis_cmds(s.port, out, sizeof(out), 2, "AUTH s3cret", "EXISTS authkey"));
    assert_string_equal(out, ":0");
    assert_true(redis_cmds(s.port, out, sizeof(out), 2, "AUTH s3cret", "EXISTS authkey0"));
    assert_string_equal(out, ":1");
    /* A wrong password never makes a client ready; it was never up, so nothing is logged
     * as down (the others are up). */
    run_for(&l, 200);
    assert_false(gw_rl_redis_up(bad));
    assert_int_equal(gw_rl_redis_decide(bad, &conf, "k", 1, &r.d, on_res, &r, NULL), GW_EREDISDOWN);
    assert_int_equal(log_count(mark, "unreachable", NULL), 0);
    gw_rl_redis_close(c);
    gw_rl_redis_close(cu);
    gw_rl_redis_close(bad);
    tloop_close(&l);
    gw_rl_redis_shared_free(sh);

    /* Alone, the wrong password is logged once, with Redis's reason. */
    assert_int_equal(gw_rl_redis_shared_new(&sh, 1), 0);
    tloop_init(&l);
    mark = log_mark();
    bad = mkclient(&l, &rc, sh);
    for (int i = 0; i < 300 && log_count(mark, "unreachable", NULL) == 0; i++)
        run_for(&l, 10);
    run_for(&l, 100); /* retries: no more lines */
    assert_false(gw_rl_redis_up(bad));
    assert_int_equal(log_count(mark, "unreachable (AUTH:", NULL), 1);
    assert_int_equal(log_count(mark, "rate limit: redis", NULL), 1);
    gw_rl_redis_close(bad);
    tloop_close(&l);
    gw_rl_redis_shared_free(sh);
    server_stop(&s);
}

static void test_not_running(void **unused)
{
    (void)unused;
    struct gw_rl_redis_shared *sh = NULL;
    assert_int_equal(gw_rl_redis_shared_new(&sh, 1), 0);
    struct tloop l;
    tloop_init(&l);
    off_t mark = log_mark();
    struct gw_rl_redis_conf rc = rconf(free_port());
    struct gw_rl_redis *c = mkclient(&l, &rc, sh);
    struct gw_rl_conf conf = mkconf(GW_RL_GCRA, 3, SEC, 0);
    struct res r;
    memset(&r, 0, sizeof(r));
    assert_int_equal(gw_rl_redis_decide(c, &conf, "k", 1, &r.d, on_res, &r, NULL), GW_EREDISDOWN);
    for (int i = 0; i < 300 && log_count(mark, "unreachable", NULL) == 0; i++)
        run_for(&l, 10);
    run_for(&l, 200); /* several retries (backoff 10..100 ms): no more lines */
    assert_false(gw_rl_redis_up(c));
    assert_int_equal(gw_rl_redis_decide(c, &conf, "k", 1, &r.d, on_res, &r, NULL), GW_EREDISDOWN);
    assert_int_equal(r.calls, 0);
    /* The refusal is seen as such (not as a timeout), and logged once however often it is
     * retried. */
    assert_int_equal(log_count(mark, "unreachable", "refused"), 1);
    assert_int_equal(log_count(mark, "rate limit: redis", NULL), 1);
    struct gw_rl_redis_metrics m;
    gw_rl_redis_shared_metrics(sh, &m);
    assert_false(m.up);
    assert_int_equal(m.unavailable, 2);
    assert_int_equal(m.connects, 0);
    close_client(&l, sh, c);
}

/* SIGSTOP: the decision in flight times out after about timeout_ms, the client goes down and
 * fails fast; SIGCONT: it comes back. A restart: both clients go down and come back. Each
 * process-wide change is logged once. */
static void test_stopped_and_restarted(void **unused)
{
    (void)unused;
    struct server s;
    server_start(&s, NULL);
    struct gw_rl_redis_shared *sh = NULL;
    assert_int_equal(gw_rl_redis_shared_new(&sh, 2), 0);
    struct tloop l;
    tloop_init(&l);
    struct gw_rl_redis_conf rc = rconf(s.port);
    rc.timeout_ms = 100;
    struct gw_rl_redis *a = mkclient(&l, &rc, sh);
    struct gw_rl_redis *b = mkclient(&l, &rc, sh);
    assert_true(wait_up(&l, a, 3000));
    assert_true(wait_up(&l, b, 3000));
    struct gw_rl_conf conf = mkconf(GW_RL_GCRA, 1000, SEC, 0);
    struct res r;
    assert_int_equal(decide_wait(&l, a, &conf, "stop", &r), 0);

    off_t mark = log_mark();
    assert_int_equal(kill(s.pid, SIGSTOP), 0);
    uint64_t t0 = uv_hrtime();
    assert_int_equal(decide_wait(&l, a, &conf, "stop", &r), GW_EREDISTIMEOUT);
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    assert_true(ms >= 90);
    assert_true(ms < 1500);
    /* down now: refused at once, no callback */
    memset(&r, 0, sizeof(r));
    assert_int_equal(gw_rl_redis_decide(a, &conf, "stop", 4, &r.d, on_res, &r, NULL),
                     GW_EREDISDOWN);
    struct gw_rl_redis_metrics m;
    gw_rl_redis_shared_metrics(sh, &m);
    assert_false(m.up);
    assert_int_equal(m.timeouts, 1);
    run_for(&l, 300); /* reconnect attempts time out in setup: no more lines */
    assert_int_equal(log_count(mark, "unreachable", "timed out"), 1);
    assert_int_equal(log_count(mark, "rate limit: redis", NULL), 1);

    assert_int_equal(kill(s.pid, SIGCONT), 0);
    assert_true(wait_up(&l, a, 5000));
    assert_int_equal(decide_wait(&l, a, &conf, "stop", &r), 0);
    assert_true(r.d.allowed);
    assert_int_equal(log_count(mark, "is back", NULL), 1);
    assert_int_equal(log_count(mark, "rate limit: redis", NULL), 2);

    /* Restart on the same port. */
    assert_true(wait_up(&l, b, 3000));
    mark = log_mark();
    server_stop(&s);
    assert_true(wait_down(&l, a, 3000));
    assert_true(wait_down(&l, b, 3000));
    assert_int_equal(gw_rl_redis_decide(b, &conf, "stop", 4, &r.d, on_res, &r, NULL),
                     GW_EREDISDOWN);
    server_start_on(&s, s.port, NULL);
    assert_true(wait_up(&l, a, 5000));
    assert_true(wait_up(&l, b, 5000));
    assert_int_equal(decide_wait(&l, b, &conf, "stop", &r), 0); /* script loaded on connect */
    assert_true(r.d.allowed);
    assert_int_equal(log_count(mark, "unreachable", NULL), 1);
    assert_int_equal(log_count(mark, "is back", NULL), 1);
    gw_rl_redis_shared_metrics(sh, &m);
    assert_true(m.up);
    assert_int_equal(m.clients_up, 2);
    assert_int_equal(m.noscript_reloads, 0);
    assert_int_equal(m.state_changes, 5); /* connected, down, back, down, back */

    gw_rl_redis_close(a);
    gw_rl_redis_close(b);
    tloop_close(&l);
    gw_rl_redis_shared_free(sh);
    server_stop(&s);
}

static void test_cancel(void **unused)
{
    (void)unused;
    struct gw_rl_redis_shared *sh = NULL;
    assert_int_equal(gw_rl_redis_shared_new(&sh, 2), 0);
    struct tloop l;
    tloop_init(&l);
    struct gw_rl_redis_conf rc = rconf(srv.port);
    struct gw_rl_redis *c = mkclient(&l, &rc, sh);
    rc.local_share = 4;
    struct gw_rl_redis *cl = mkclient(&l, &rc, sh);
    assert_true(wait_up(&l, c, 3000));
    assert_true(wait_up(&l, cl, 3000));
    struct gw_rl_conf conf = mkconf(GW_RL_SLIDING_WINDOW, 10, 1000 * SEC, 0);
    char key[96];
    mkkey(key, sizeof(key), "cancel");
    struct res r1, r2, r3;
    memset(&r1, 0, sizeof(r1));
    memset(&r2, 0, sizeof(r2));
    memset(&r3, 0, sizeof(r3));
    struct gw_rl_redis_op *op = NULL;
    assert_int_equal(gw_rl_redis_decide(c, &conf, key, strlen(key), &r1.d, on_res, &r1, &op), 0);
    assert_non_null(op);
    gw_rl_redis_cancel(op);
    assert_int_equal(gw_rl_redis_decide(c, &conf, key, strlen(key), &r2.d, on_res, &r2, NULL), 0);
    assert_true(run_until(&l, &r2.done, 3000));
    assert_int_equal(r1.calls, 0);
    assert_int_equal(r2.d.remaining, 8); /* the cancelled one was still counted */

    /* A waiter on a lease call, cancelled; the caller of the call itself cancelled too: the
     * lease still arrives for the next request. */
    char key2[96];
    mkkey(key2, sizeof(key2), "cancel-lease");
    memset(&r1, 0, sizeof(r1));
    memset(&r2, 0, sizeof(r2));
    struct gw_rl_redis_op *op1 = NULL, *op2 = NULL;
    assert_int_equal(gw_rl_redis_decide(cl, &conf, key2, strlen(key2), &r1.d, on_res, &r1, &op1),
                     0);
    assert_int_equal(gw_rl_redis_decide(cl, &conf, key2, strlen(key2), &r2.d, on_res, &r2, &op2),
                     0);
    assert_int_equal(gw_rl_redis_decide(cl, &conf, key2, strlen(key2), &r3.d, on_res, &r3, NULL),
                     0);
    gw_rl_redis_cancel(op2);
    gw_rl_redis_cancel(op1);
    assert_true(run_until(&l, &r3.done, 3000));
    assert_int_equal(r1.calls, 0);
    assert_int_equal(r2.calls, 0);
    assert_int_equal(r3.status, 0);
    assert_int_equal(r3.d.remaining, 9); /* the first unit of the lease */
    struct gw_rl_decision d;
    assert_int_equal(gw_rl_redis_decide(cl, &conf, key2, strlen(key2), &d, on_res, &r1, NULL),
                     GW_RL_REDIS_DONE);
    assert_int_equal(d.remaining, 8);
    gw_rl_redis_close(c);
    gw_rl_redis_close(cl);
    tloop_close(&l);
    gw_rl_redis_shared_free(sh);
}

struct closer {
    struct gw_rl_redis *c;
    int calls;
    int down;
};

static void on_close_res(void *arg, int status, const struct gw_rl_decision *d)
{
    (void)d;
    struct closer *k = arg;
    k->calls++;
    k->down += status == GW_EREDISDOWN;
    if (k->calls == 1)
        gw_rl_redis_close(k->c); /* from inside a callback */
}

/* Close with decisions in flight, while connecting, resolving, backing off, and from inside a
 * callback: every op answered once, nothing left on the loop, no leak (ASan). */
static void test_close(void **unused)
{
    (void)unused;
    struct gw_rl_redis_shared *sh = NULL;
    assert_int_equal(gw_rl_redis_shared_new(&sh, 5), 0);
    struct tloop l;
    tloop_init(&l);
    struct gw_rl_redis_conf rc = rconf(srv.port);
    struct gw_rl_redis *c = mkclient(&l, &rc, sh);
    rc.local_share = 3;
    struct gw_rl_redis *cl = mkclient(&l, &rc, sh);
    assert_true(wait_up(&l, c, 3000));
    assert_true(wait_up(&l, cl, 3000));
    struct gw_rl_conf conf = mkconf(GW_RL_GCRA, 100, SEC, 0);
    struct res r[10];
    memset(r, 0, sizeof(r));
    for (int i = 0; i < 10; i++) {
        struct gw_rl_redis *t = i % 2 ? c : cl;
        assert_int_equal(gw_rl_redis_decide(t, &conf, "close", 5, &r[i].d, on_res, &r[i], NULL), 0);
    }
    gw_rl_redis_close(c);
    gw_rl_redis_close(cl);
    gw_rl_redis_close(c); /* a no-op */
    for (int i = 0; i < 10; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].status, GW_EREDISDOWN);
    }

    /* Closed from the first callback: the others are answered too, once. */
    rc = rconf(srv.port);
    struct closer k = {mkclient(&l, &rc, sh), 0, 0};
    assert_true(wait_up(&l, k.c, 3000));
    struct gw_rl_decision d;
    for (int i = 0; i < 5; i++)
        assert_int_equal(gw_rl_redis_decide(k.c, &conf, "close", 5, &d, on_close_res, &k, NULL), 0);
    bool five = false;
    uint64_t end = uv_now(&l.loop) + 3000;
    while (k.calls < 5 && uv_now(&l.loop) < end)
        run_until(&l, &five, 5);
    assert_int_equal(k.calls, 5);
    assert_int_equal(k.down, 4);

    /* Connecting, resolving a name, backing off. */
    struct gw_rl_redis *connecting = mkclient(&l, &rc, sh);
    rc.host = "localhost";
    struct gw_rl_redis *resolving = mkclient(&l, &rc, sh);
    rc = rconf(free_port());
    struct gw_rl_redis *backoff = mkclient(&l, &rc, sh);
    run_for(&l, 30);
    gw_rl_redis_close(connecting);
    gw_rl_redis_close(resolving);
    gw_rl_redis_close(backoff);
    tloop_close(&l);
    struct gw_rl_redis_metrics m;
    gw_rl_redis_shared_metrics(sh, &m);
    assert_int_equal(m.clients_up, 0);
    gw_rl_redis_shared_free(sh);
}

/* A host name goes through uv_getaddrinfo. */
static void test_hostname(void **unused)
{
    (void)unused;
    struct gw_rl_redis_shared *sh = NULL;
    assert_int_equal(gw_rl_redis_shared_new(&sh, 1), 0);
    struct tloop l;
    tloop_init(&l);
    struct gw_rl_redis_conf rc = rconf(srv.port);
    rc.host = "localhost";
    struct gw_rl_redis *c = mkclient(&l, &rc, sh);
    if (wait_up(&l, c, 3000)) {
        struct res r;
        struct gw_rl_conf conf = mkconf(GW_RL_FIXED_WINDOW, 3, SEC, 0);
        assert_int_equal(decide_wait(&l, c, &conf, "hostname", &r), 0);
    } else {
        /* "localhost" may resolve to ::1 first where Redis listens on 127.0.0.1 only. */
        struct gw_rl_redis_metrics m;
        gw_rl_redis_shared_metrics(sh, &m);
        assert_int_equal(m.connects, 0);
    }
    close_client(&l, sh, c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_noscript),
        cmocka_unit_test(test_auth_and_db),
        cmocka_unit_test(test_not_running),
        cmocka_unit_test(test_stopped_and_restarted),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_close),
        cmocka_unit_test(test_hostname),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
