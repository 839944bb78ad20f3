/* Unit tests for src/state/ratelimit_redis.c against real redis-server processes (started here
 * on free loopback ports, stopped by pid): the four algorithms against gw_rl_decide, clients on
 * two threads sharing keys, NOSCRIPT, AUTH and SELECT, an absent, a stopped and a restarted
 * Redis (timeouts, fail-fast, reconnect, one log line per change), cancel, close with
 * decisions in flight, and pre-allowance leases. Every loop ends with no live handle. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/log.h"
#include "state/ratelimit_redis.h"

#include "redis_test.h"

#define SEC UINT64_C(1000000)

static uint64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- log capture ---------------------------------------------------------------------------- */

static char log_path[64];
static int log_fd = -1;

static off_t log_mark(void)
{
    return lseek(log_fd, 0, SEEK_END);
}

/* Lines since mark that contain every one of the given strings (NULL-terminated). */
static int log_count(off_t mark, const char *a, const char *b)
{
    static char buf[1 << 16];
    ssize_t n = pread(log_fd, buf, sizeof(buf) - 1, mark);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    int found = 0;
    for (char *line = buf; line != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        if (strstr(line, a) != NULL && (b == NULL || strstr(line, b) != NULL))
            found++;
        line = nl != NULL ? nl + 1 : NULL;
    }
    return found;
}

static bool wait_up(struct tloop *l, struct gw_rl_redis *c, uint64_t ms)
{
    uint64_t end = uv_now(&l->loop) + ms;
    while (!gw_rl_redis_up(c) && uv_now(&l->loop) < end)
        run_for(l, 5);
    return gw_rl_redis_up(c);
}

static bool wait_down(struct tloop *l, struct gw_rl_redis *c, uint64_t ms)
{
    uint64_t end = uv_now(&l->loop) + ms;
    while (gw_rl_redis_up(c) && uv_now(&l->loop) < end)
        run_for(l, 5);
    return !gw_rl_redis_up(c);
}

struct res {
    bool done;
    int calls;
    int status;
    struct gw_rl_decision d;
};

static void on_res(void *arg, int status, const struct gw_rl_decision *d)
{
    struct res *r = arg;
    r->calls++;
    r->done = true;
    r->status = status;
    if (d != NULL)
        r->d = *d;
}

/* One decision, waited for; returns its status (GW_EREDISDOWN when refused at once). */
static int decide_wait(struct tloop *l, struct gw_rl_redis *c, const struct gw_rl_conf *conf,
                       const char *key, struct res *r)
{
    memset(r, 0, sizeof(*r));
    int rc = gw_rl_redis_decide(c, conf, key, strlen(key), &r->d, on_res, r, NULL);
    if (rc == GW_RL_REDIS_DONE) {
        r->done = true;
        return 0;
    }
    if (rc != 0)
        return rc;
    assert_false(r->done); /* never called back from inside decide */
    assert_true(run_until(l, &r->done, 5000));
    assert_int_equal(r->calls, 1);
    return r->status;
}

static struct gw_rl_conf mkconf(enum gw_rl_algo algo, uint64_t limit, uint64_t period_us,
                                uint64_t burst)
{
    struct gw_rl_conf c;
    memset(&c, 0, sizeof(c));
    c.algo = algo;
    c.limit = limit;
    c.period_us = period_us;
    c.burst = burst;
    assert_int_equal(gw_rl_conf_prepare(&c), 0);
    assert_int_equal(gw_rl_redis_conf_check(&c), 0);
    return c;
}

static struct gw_rl_redis_conf rconf(uint16_t port)
{
    struct gw_rl_redis_conf rc;
    memset(&rc, 0, sizeof(rc));
    rc.host = "127.0.0.1";
    rc.port = port;
    rc.timeout_ms = 1000;
    rc.backoff_min_ms = 10;
    rc.backoff_max_ms = 100;
    return rc;
}

static struct gw_rl_redis *mkclient(struct tloop *l, const struct gw_rl_redis_conf *rc,
                                    struct gw_rl_redis_shared *sh)
{
    struct gw_rl_redis *c = NULL;
    assert_int_equal(gw_rl_redis_new(&c, &l->loop, rc, sh), 0);
    assert_non_null(c);
    return c;
}

static struct server srv; /* shared by most tests */
static unsigned key_seq;

static void mkkey(char *out, size_t cap, const char *what)
{
    snprintf(out, cap, "test:%d:%s:%u", (int)getpid(), what, ++key_seq);
}

static uint64_t absdiff(uint64_t a, uint64_t b)
{
    return a > b ? a - b : b - a;
}

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
    gw_rl_redis_close(c);
    tloop_close(&l);
    gw_rl_redis_shared_free(sh);
}

/* A burst against each algorithm: exactly `limit` admitted, the rest refused with a retry,
 * and every field as gw_rl_decide gives for the same arrivals (the Redis clock is this host's
 * wall clock, so each arrival time is known to within the burst's duration). */
static void test_algorithms_match_local(void **unused)
{
    (void)unused;
    struct gw_rl_redis_shared *sh = NULL;
    assert_int_equal(gw_rl_redis_shared_new(&sh, 1), 0);
    struct tloop l;
    tloop_init(&l);
    struct gw_rl_redis_conf rc = rconf(srv.port);
    struct gw_rl_redis *c = mkclient(&l, &rc, sh);
    assert_true(wait_up(&l, c, 3000));
    const struct {
        enum gw_rl_algo algo;
        uint64_t burst;
    } cases[] = {
        {GW_RL_GCRA, 0},         {GW_RL_GCRA, 3},           {GW_RL_TOKEN_BUCKET, 0},
        {GW_RL_TOKEN_BUCKET, 7}, {GW_RL_SLIDING_WINDOW, 0}, {GW_RL_FIXED_WINDOW, 0},
    };
    const uint64_t limit = 5, period = 100 * SEC, n = 8;
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct gw_rl_conf conf = mkconf(cases[k].algo, limit, period, cases[k].burst);
        uint64_t cap = conf.capacity;
        for (int attempt = 0;; attempt++) {
            char key[96];
            mkkey(key, sizeof(key), "algo");
            struct gw_rl_state st;
            gw_rl_state_init(&st, &conf);
            struct res r[8];
            struct gw_rl_decision ld[8];
            uint64_t t0 = wall_us();
            for (uint64_t i = 0; i < n; i++) {
                gw_rl_decide(&conf, &st, wall_us(), &ld[i]);
                assert_int_equal(decide_wait(&l, c, &conf, key, &r[i]), 0);
            }
            uint64_t t1 = wall_us();
            /* A window or sub-bucket edge inside the burst shifts the fields: try again. */
            uint64_t edge = conf.algo == GW_RL_SLIDING_WINDOW ? conf.bucket_us : period;
            if (t0 / edge != t1 / edge && attempt < 3)
                continue;
            uint64_t tol = 2 * (t1 - t0) + 2000;
            for (uint64_t i = 0; i < n; i++) {
                const struct gw_rl_decision *d = &r[i].d;
                assert_int_equal(d->allowed, i < cap);
                assert_int_equal(d->allowed, ld[i].allowed);
                assert_int_equal(d->limit, ld[i].limit);
                assert_int_equal(d->remaining, ld[i].remaining);
                if (absdiff(d->reset_after_us, ld[i].reset_after_us) > tol ||
                    absdiff(d->retry_after_us, ld[i].retry_after_us) > tol)
                    fail_msg("algo %d burst %d #%d: reset %llu/%llu retry %llu/%llu tol %llu",
                             (int)conf.algo, (int)cases[k].burst, (int)i,
                             (unsigned long long)d->reset_after_us,
                             (unsigned long long)ld[i].reset_after_us,
                             (unsigned long long)d->retry_after_us,
                             (unsigned long long)ld[i].retry_after_us, (unsigned long long)tol);
                if (!d->allowed)
                    assert_true(d->retry_after_us > 0);
                else
                    assert_int_equal(d->retry_after_us, 0);
            }
            /* The key expires once back at a full allowance, not before. */
            char cmd[160], out[64];
            snprintf(cmd, sizeof(cmd), "PTTL %s", key);
            assert_true(redis_cmds(srv.port, out, sizeof(out), 1, cmd));
            long long pttl = strtoll(out + 1, NULL, 10);
            assert_true(pttl > 0);
            assert_true((uint64_t)pttl <= (cap * conf.interval_us + period * 2) / 1000 + 1);
            break;
        }
    }
    gw_rl_redis_close(c);
    tloop_close(&l);
    gw_rl_redis_shared_free(sh);
}

/* Runs the script through a plain connection: EVAL with the conf's arguments; v gets the
 * seven integers of the reply. */
static void script_eval(struct rconn *r, const char *key, const struct gw_rl_conf *c, uint64_t want,
                        uint64_t lease_max, uint64_t v[7])
{
    uint64_t nums[9] = {(uint64_t)c->algo,
                        c->limit,
                        c->period_us,
                        c->capacity,
                        c->interval_us,
                        c->bucket_us,
                        c->algo == GW_RL_SLIDING_WINDOW ? c->sw_buckets : 0,
                        want,
                        lease_max};
    const char *argv[13];
    char buf[9][24];
    argv[0] = "EVAL";
    argv[1] = gw_rl_redis_script;
    argv[2] = "1";
    argv[3] = key;
    for (int i = 0; i < 9; i++) {
        snprintf(buf[i], sizeof(buf[i]), "%llu", (unsigned long long)nums[i]);
        argv[4 + i] = buf[i];
    }
    char head[32];
    int n = snprintf(head, sizeof(head), "*13\r\n");
    assert_int_equal(write(r->fd, head, (size_t)n), n);
    for (int i = 0; i < 13; i++) {
        size_t len = strlen(argv[i]);
        n = snprintf(head, sizeof(head), "$%zu\r\n", len);
        assert_int_equal(write(r->fd, head, (size_t)n), n);
        assert_int_equal(write(r->fd, argv[i], len), (ssize_t)len);
        assert_int_equal(write(r->fd, "\r\n", 2), 2);
    }
    char line[256];
    assert_true(rline(r, line, sizeof(line)));
    if (strcmp(line, "*7") != 0)
        fail_msg("script reply: %s", line);
    for (int i = 0; i < 7; i++) {
        assert_true(rline(r, line, sizeof(line)));
        assert_int_equal(line[0], ':');
        v[i] = strtoull(line + 1, NULL, 10);
    }
}

/* The script against gw_rl_decide at the very time Redis decided (the script returns it),
 * over spread arrivals and leases of several units: every field equal. */
static void test_script_matches_local_exactly(void **unused)
{
    (void)unused;
    static struct rconn r;
    r.fd = tcp_connect(srv.port);
    r.len = r.pos = 0;
    assert_true(r.fd >= 0);
    const struct {
        enum gw_rl_algo algo;
        uint64_t limit, period_ms, burst, buckets;
    } cases[] = {
        {GW_RL_GCRA, 5, 200, 3, 0},           {GW_RL_GCRA, 3, 100, 0, 0},
        {GW_RL_TOKEN_BUCKET, 5, 200, 8, 0},   {GW_RL_SLIDING_WINDOW, 6, 300, 0, 3},
        {GW_RL_SLIDING_WINDOW, 4, 250, 0, 7}, {GW_RL_SLIDING_WINDOW, 3, 200, 0, 10},
        {GW_RL_FIXED_WINDOW, 4, 150, 0, 0},
    };
    uint64_t seed = 12345;
    unsigned refused_total = 0;
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct gw_rl_conf conf;
        memset(&conf, 0, sizeof(conf));
        conf.algo = cases[k].algo;
        conf.limit = cases[k].limit;
        conf.period_us = cases[k].period_ms * 1000;
        conf.burst = cases[k].burst;
        conf.sw_buckets = (uint32_t)cases[k].buckets;
        assert_int_equal(gw_rl_conf_prepare(&conf), 0);
        char key[96];
        mkkey(key, sizeof(key), "exact");
        struct gw_rl_state st;
        gw_rl_state_init(&st, &conf);
        unsigned admitted = 0, refused = 0, leased = 0;
        uint64_t base = 0;
        for (int i = 0; i < 25; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            /* the first asks for more than the whole allowance: a short lease */
            uint64_t want = i == 0 ? conf.capacity + 1 : (seed >> 40) % 4 == 0 ? 3 : 1;
            struct timespec gap = {0, (long)((seed >> 20) % 10) * 1000 * 1000};
            nanosleep(&gap, NULL);
            uint64_t v[7];
            script_eval(&r, key, &conf, want, 1000000, v);
            leased += want > 1;
            /* gw_rl_decide runs on a clock shifted by a multiple of the window and of the
             * sub-bucket, which keeps every edge: its fixed window keeps 32 bits of epoch and
             * takes a fresh key's tag 0 for a later window once the low 32 bits of
             * now / period pass 2^31, as they do on the Redis clock. */
            if (base == 0) {
                uint64_t m = conf.period_us * (conf.bucket_us > 0 ? conf.bucket_us : 1);
                base = (v[6] / m - 1) * m;
            }
            uint64_t now = v[6] - base;
            struct gw_rl_decision first, ld;
            uint64_t g = 0;
            memset(&first, 0, sizeof(first));
            for (;;) {
                gw_rl_decide(&conf, &st, now, &ld);
                if (!ld.allowed)
                    break;
                if (g++ == 0)
                    first = ld;
                if (g == want)
                    break;
            }
            if (v[0] != g)
                fail_msg("case %zu #%d: granted %llu, local %llu", k, i, (unsigned long long)v[0],
                         (unsigned long long)g);
            assert_int_equal(v[1], conf.capacity);
            if (g > 0) {
                assert_int_equal(v[2], first.remaining);
                assert_int_equal(v[3], first.reset_after_us);
                /* the refusal of one unit more, when the lease came out short */
                assert_int_equal(v[4], g < want ? ld.retry_after_us : 0);
                admitted += (unsigned)g;
            } else {
                assert_int_equal(v[2], 0);
                assert_int_equal(v[3], ld.reset_after_us);
                assert_int_equal(v[4], ld.retry_after_us);
                refused++;
            }
        }
        if (admitted == 0 || leased == 0)
            fail_msg("case %zu: %u admitted, %u leases", k, admitted, leased);
        refused_total += refused;
    }
    assert_true(refused_total > 0);
    close(r.fd);
}

static void on_wait_timer(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

/* Waiting retry_after_us after a refusal gets the next request admitted (Redis's clock). */
static void test_retry_after_is_true(void **unused)
{
    (void)unused;
    struct gw_rl_redis_shared *sh = NULL;
    assert_int_equal(gw_rl_redis_shared_new(&sh, 1), 0);
    struct tloop l;
    tloop_init(&l);
    struct gw_rl_redis_conf rc = rconf(srv.port);
    struct gw_rl_redis *c = mkclient(&l, &rc, sh);
    assert_true(wait_up(&l, c, 3000));
    uv_timer_t wait;
    uv_timer_init(&l.loop, &wait);
    const enum gw_rl_algo algos[] = {GW_RL_GCRA, GW_RL_TOKEN_BUCKET, GW_RL_SLIDING_WINDOW,
                                     GW_RL_FIXED_WINDOW};
    for (size_t k = 0; k < 4; k++) {
        struct gw_rl_conf conf = mkconf(algos[k], 4, 200 * 1000, 0);
        char key[96];
        mkkey(key, sizeof(key), "retry");
        struct res r;
        uint64_t admitted = 0;
        uint64_t t0 = uv_hrtime();
        do {
            assert_int_equal(decide_wait(&l, c, &conf, key, &r), 0);
            admitted += r.d.allowed;
            /* Never more than the limit for each period begun since the first call, plus one
             * period the first may straddle (every algorithm keeps to that). A fixed 8 held
             * only while the calls were faster than the refill: under load they once were
             * not, and more was admitted, rightly. */
            uint64_t periods = (uv_hrtime() - t0) / (200 * 1000 * 1000) + 2;
            assert_true(admitted <= 4 * periods);
            assert_true(admitted < 1000); /* the loop's guard */
        } while (r.d.allowed);
        assert_true(r.d.retry_after_us > 0);
        assert_true(r.d.retry_after_us <= 220 * 1000);
        bool waited = false;
        wait.data = &waited;
        uv_update_time(&l.loop); /* the wait counts from now, not from the last iteration */
        uv_timer_start(&wait, on_wait_timer, (r.d.retry_after_us + 999) / 1000 + 1, 0);
        assert_true(run_until(&l, &waited, 2000));
        assert_int_equal(decide_wait(&l, c, &conf, key, &r), 0);
        assert_true(r.d.allowed);
    }
    uv_close((uv_handle_t *)&wait, NULL);
    gw_rl_redis_close(c);
    tloop_close(&l);
    gw_rl_redis_shared_free(sh);
}

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
    struct gw_rl_redis_shared *sh = NULL;
    assert_int_equal(gw_rl_redis_shared_new(&sh, 1), 0);
    struct tloop l;
    tloop_init(&l);
    struct gw_rl_redis_conf rc = rconf(srv.port);
    rc.local_share = 8;
    struct gw_rl_redis *c = mkclient(&l, &rc, sh);
    assert_true(wait_up(&l, c, 3000));
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
    gw_rl_redis_close(c);
    tloop_close(&l);
    gw_rl_redis_shared_free(sh);
}

/* The script cache flushed: NOSCRIPT, the call goes again as EVAL, the script is reloaded. */
static void test_noscript(void **unused)
{
    (void)unused;
    struct gw_rl_redis_shared *sh = NULL;
    assert_int_equal(gw_rl_redis_shared_new(&sh, 1), 0);
    struct tloop l;
    tloop_init(&l);
    struct gw_rl_redis_conf rc = rconf(srv.port);
    struct gw_rl_redis *c = mkclient(&l, &rc, sh);
    assert_true(wait_up(&l, c, 3000));
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
    gw_rl_redis_close(c);
    tloop_close(&l);
    gw_rl_redis_shared_free(sh);
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
    gw_rl_redis_close(c);
    tloop_close(&l);
    gw_rl_redis_shared_free(sh);
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
    gw_rl_redis_close(c);
    tloop_close(&l);
    gw_rl_redis_shared_free(sh);
}

static int group_setup(void **unused)
{
    (void)unused;
    snprintf(log_path, sizeof(log_path), "/tmp/gw-test-rl-redis-%d.log", (int)getpid());
    log_fd = open(log_path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0600);
    if (log_fd < 0)
        return -1;
    gw_log_setup(GW_LOG_LEVEL_INFO, log_fd);
    signal(SIGPIPE, SIG_IGN);
    server_start(&srv, NULL);
    return 0;
}

static int group_teardown(void **unused)
{
    (void)unused;
    server_stop(&srv);
    gw_log_setup(GW_LOG_LEVEL_INFO, 2);
    close(log_fd);
    unlink(log_path);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_algorithms_match_local),
        cmocka_unit_test(test_script_matches_local_exactly),
        cmocka_unit_test(test_retry_after_is_true),
        cmocka_unit_test(test_two_threads_share_a_limit),
        cmocka_unit_test(test_pre_allowance_two_threads),
        cmocka_unit_test(test_pre_allowance_lease),
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
