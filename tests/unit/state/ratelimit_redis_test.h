/* Helpers shared by the unit tests of src/state/ratelimit_redis.c (test_ratelimit_redis*.c):
 * each test program runs against one redis-server of its own (srv, started by group_setup on a
 * free loopback port, stopped by group_teardown), with gantry's log in a file the tests read
 * back (log_mark, log_count). Clients and decisions: rconf, mkclient, mkconf, decide_wait and
 * wait_up/wait_down, all on a loop of redis_test.h; mkkey gives every test keys of its own. */
#ifndef GW_TEST_STATE_RATELIMIT_REDIS_H
#define GW_TEST_STATE_RATELIMIT_REDIS_H

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "core/error.h"
#include "core/log.h"
#include "state/ratelimit_redis.h"

#include "redis_test.h"

#define SEC UINT64_C(1000000)

/* ---- log capture ---------------------------------------------------------------------------- */

static char log_path[64];
static int log_fd = -1;

static inline off_t log_mark(void)
{
    return lseek(log_fd, 0, SEEK_END);
}

/* Lines since mark that contain every one of the given strings (NULL-terminated). */
static inline int log_count(off_t mark, const char *a, const char *b)
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

static inline bool wait_up(struct tloop *l, struct gw_rl_redis *c, uint64_t ms)
{
    uint64_t end = uv_now(&l->loop) + ms;
    while (!gw_rl_redis_up(c) && uv_now(&l->loop) < end)
        run_for(l, 5);
    return gw_rl_redis_up(c);
}

static inline bool wait_down(struct tloop *l, struct gw_rl_redis *c, uint64_t ms)
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

static inline void on_res(void *arg, int status, const struct gw_rl_decision *d)
{
    struct res *r = arg;
    r->calls++;
    r->done = true;
    r->status = status;
    if (d != NULL)
        r->d = *d;
}

/* One decision, waited for; returns its status (GW_EREDISDOWN when refused at once). */
static inline int decide_wait(struct tloop *l, struct gw_rl_redis *c, const struct gw_rl_conf *conf,
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

static inline struct gw_rl_conf mkconf(enum gw_rl_algo algo, uint64_t limit, uint64_t period_us,
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

static inline struct gw_rl_redis_conf rconf(uint16_t port)
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

static inline struct gw_rl_redis *mkclient(struct tloop *l, const struct gw_rl_redis_conf *rc,
                                           struct gw_rl_redis_shared *sh)
{
    struct gw_rl_redis *c = NULL;
    assert_int_equal(gw_rl_redis_new(&c, &l->loop, rc, sh), 0);
    assert_non_null(c);
    return c;
}

static struct server srv; /* shared by most tests */
static unsigned key_seq;

static inline void mkkey(char *out, size_t cap, const char *what)
{
    snprintf(out, cap, "test:%d:%s:%u", (int)getpid(), what, ++key_seq);
}

/* One client of srv, up within 3 s, on a new loop *l and a new state *sh shared by nclients
 * (local_share 0: no pre-allowance). close_client undoes it. */
static inline struct gw_rl_redis *open_client(struct tloop *l, struct gw_rl_redis_shared **sh,
                                              unsigned nclients, uint32_t local_share)
{
    assert_int_equal(gw_rl_redis_shared_new(sh, nclients), 0);
    tloop_init(l);
    struct gw_rl_redis_conf rc = rconf(srv.port);
    rc.local_share = local_share;
    struct gw_rl_redis *c = mkclient(l, &rc, *sh);
    assert_true(wait_up(l, c, 3000));
    return c;
}

/* Closes c, then the loop (which must hold no live handle then) and the shared state. */
static inline void close_client(struct tloop *l, struct gw_rl_redis_shared *sh,
                                struct gw_rl_redis *c)
{
    gw_rl_redis_close(c);
    tloop_close(l);
    gw_rl_redis_shared_free(sh);
}

/* ---- the group's Redis and log -------------------------------------------------------------- */

static inline int group_setup(void **unused)
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

static inline int group_teardown(void **unused)
{
    (void)unused;
    server_stop(&srv);
    gw_log_setup(GW_LOG_LEVEL_INFO, 2);
    close(log_fd);
    unlink(log_path);
    return 0;
}

#endif
