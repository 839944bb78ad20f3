/* Unit tests for src/state/redis_client.c against real redis-server processes (started here on
 * free loopback ports, stopped by pid): commands and their callbacks, errors, cancel, per-command
 * timeouts (CLIENT PAUSE), scripts by SHA through SCRIPT FLUSH (NOSCRIPT), pub/sub delivery and
 * re-subscription after a restart, state changes when Redis is killed and comes back, a closed
 * port failing with a callback, and close in every state. No callback ever runs during the call
 * that started it, and every loop ends with no live handle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "core/error.h"
#include "state/redis_client.h"

#include "redis_test.h"

static struct server srv; /* shared by the tests that neither stop nor pause it */

/* ---- what the callbacks saw ----------------------------------------------------------------- */

struct watch_log {
    int ups, downs;
    int calls;
    char why[160];
};

static void on_state(void *arg, int status, const char *why)
{
    struct watch_log *w = arg;
    w->calls++;
    if (status == 0) {
        assert_null(why);
        w->ups++;
    } else {
        assert_int_equal(status, GW_EREDISDOWN);
        assert_non_null(why);
        w->downs++;
        snprintf(w->why, sizeof(w->why), "%s", why);
    }
}

struct reply {
    bool done;
    int calls;
    int status;
    int type;
    long long integer;
    char str[256];
    size_t len;
};

static void on_reply(void *arg, int status, const struct redisReply *r)
{
    struct reply *out = arg;
    out->calls++;
    out->done = true;
    out->status = status;
    out->type = r != NULL ? r->type : -1;
    if (status == 0 || status == GW_EREDISREPLY)
        assert_non_null(r);
    else
        assert_null(r);
    if (r != NULL && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
                      r->type == REDIS_REPLY_ERROR)) {
        out->len = r->len < sizeof(out->str) - 1 ? r->len : sizeof(out->str) - 1;
        memcpy(out->str, r->str, out->len);
        out->str[out->len] = '\0';
    }
    if (r != NULL && r->type == REDIS_REPLY_INTEGER)
        out->integer = r->integer;
}

struct events {
    int active, lost, msgs;
    char ch[64];
    char msg[256];
};

static void on_event(void *arg, int status, const char *ch, size_t chlen, const char *msg,
                     size_t len)
{
    struct events *e = arg;
    if (status != 0) {
        assert_int_equal(status, GW_EREDISDOWN);
        assert_null(ch);
        assert_null(msg);
        e->lost++;
        return;
    }
    if (msg == NULL) {
        assert_null(ch);
        e->active++;
        return;
    }
    e->msgs++;
    assert_true(chlen < sizeof(e->ch) && len < sizeof(e->msg));
    memcpy(e->ch, ch, chlen);
    e->ch[chlen] = '\0';
    memcpy(e->msg, msg, len);
    e->msg[len] = '\0';
}

static void on_closed(void *arg)
{
    (*(int *)arg)++;
}

/* ---- helpers -------------------------------------------------------------------------------- */

static struct gw_redis_opts opts(uint16_t port)
{
    struct gw_redis_opts o;
    memset(&o, 0, sizeof(o));
    o.host = "127.0.0.1";
    o.port = port;
    o.connect_timeout_ms = 1000;
    o.backoff_min_ms = 10;
    o.backoff_max_ms = 100;
    return o;
}

static struct gw_redis *mkclient(struct tloop *l, const struct gw_redis_opts *o,
                                 struct gw_redis_watch *w, struct watch_log *log)
{
    struct gw_redis *c = NULL;
    assert_int_equal(gw_redis_new(&c, &l->loop, o), 0);
    assert_non_null(c);
    memset(log, 0, sizeof(*log));
    gw_redis_watch(c, w, on_state, log);
    assert_int_equal(log->calls, 0);
    assert_false(gw_redis_up(c)); /* connecting starts from the loop */
    return c;
}

/* Runs the loop until *count reaches want or ms pass; returns whether it did. */
static bool wait_count(struct tloop *l, const int *count, int want, uint64_t ms)
{
    uint64_t end = uv_now(&l->loop) + ms;
    while (*count < want && uv_now(&l->loop) < end)
        run_for(l, 5);
    return *count >= want;
}

/* Closes c, runs the loop out (no live handle), and checks on_closed ran once. */
static void close_all(struct tloop *l, struct gw_redis *c)
{
    int closed = 0;
    gw_redis_close(c, on_closed, &closed);
    gw_redis_close(c, on_closed, &closed); /* a no-op */
    assert_int_equal(closed, 0);
    tloop_close(l);
    assert_int_equal(closed, 1);
}

/* Sends argv and waits for the answer; returns its status (or the call's error). */
static int cmd_wait(struct tloop *l, struct gw_redis *c, uint64_t timeout_ms, int argc,
                    const char *const *argv, const size_t *lens, struct reply *r)
{
    memset(r, 0, sizeof(*r));
    int rc = gw_redis_command(c, argc, argv, lens, timeout_ms, on_reply, r, NULL);
    if (rc != 0)
        return rc;
    assert_false(r->done); /* never during the call */
    assert_true(run_until(l, &r->done, 5000));
    assert_int_equal(r->calls, 1);
    return r->status;
}

static int script_wait(struct tloop *l, struct gw_redis *c, struct gw_redis_script *s, int nkeys,
                       int argc, const char *const *argv, struct reply *r)
{
    memset(r, 0, sizeof(*r));
    int rc = gw_redis_script_run(c, s, nkeys, argc, argv, NULL, 1000, on_reply, r, NULL);
    if (rc != 0)
        return rc;
    assert_false(r->done);
    assert_true(run_until(l, &r->done, 5000));
    assert_int_equal(r->calls, 1);
    return r->status;
}

static unsigned key_seq;

static void mkkey(char *out, size_t cap, const char *what)
{
    snprintf(out, cap, "test:%d:%s:%u", (int)getpid(), what, ++key_seq);
}

/* ---- tests ---------------------------------------------------------------------------------- */

/* The loop helpers on a loop whose cached clock is stale (the process was not scheduled for
 * longer than the wait: a loaded machine): run_for still returns when its time is up, even
 * with nothing but an idle connection on the loop. uv_run(UV_RUN_ONCE) runs due timers before
 * it polls and then polls for as long as the next timer asks, for ever when none is left: a
 * one-shot guard that fired in that first pass left the poll waiting for Redis, which had
 * nothing to say (the unit test timed out under load). */
static void test_loop_helpers_after_a_stall(void **unused)
{
    (void)unused;
    struct tloop l;
    tloop_init(&l);
    struct gw_redis_opts o = opts(srv.port);
    struct gw_redis_watch w;
    struct watch_log log;
    struct gw_redis *c = mkclient(&l, &o, &w, &log);
    assert_true(wait_count(&l, &log.ups, 1, 3000)); /* up and idle: no timer of its own */
    for (int i = 0; i < 3; i++) {
        /* The stall is the scenario (no condition to wait for): 50 ms off the loop. */
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
        run_for(&l, 20);
    }
    assert_int_equal(log.calls, 1);
    close_all(&l, c);
}

static void test_invalid(void **unused)
{
    (void)unused;
    struct tloop l;
    tloop_init(&l);
    struct gw_redis *c = NULL;
    struct gw_redis_opts o = opts(srv.port);
    o.host = "";
    assert_int_equal(gw_redis_new(&c, &l.loop, &o), GW_EINVAL);
    o = opts(srv.port);
    o.connect_timeout_ms = 0;
    assert_int_equal(gw_redis_new(&c, &l.loop, &o), GW_EINVAL);
    o = opts(srv.port);
    o.backoff_min_ms = 200;
    assert_int_equal(gw_redis_new(&c, &l.loop, &o), GW_EINVAL);
    assert_null(c);

    o = opts(srv.port);
    struct gw_redis_watch w;
    struct watch_log log;
    c = mkclient(&l, &o, &w, &log);
    struct reply r;
    memset(&r, 0, sizeof(r));
    const char *ping[] = {"PING"};
    /* Not up yet: refused at once, and the callback never runs. */
    assert_int_equal(gw_redis_command(c, 1, ping, NULL, 100, on_reply, &r, NULL), GW_EREDISDOWN);
    assert_true(wait_count(&l, &log.ups, 1, 3000));
    assert_true(gw_redis_up(c));
    assert_int_equal(gw_redis_command(c, 0, ping, NULL, 100, on_reply, &r, NULL), GW_EINVAL);
    assert_int_equal(gw_redis_command(c, 1, ping, NULL, 0, on_reply, &r, NULL), GW_EINVAL);
    assert_int_equal(gw_redis_command(c, 1, ping, NULL, 100, NULL, &r, NULL), GW_EINVAL);
    struct gw_redis_script s;
    assert_int_equal(gw_redis_script_init(&s, "return 1"), 0);
    assert_int_equal(gw_redis_script_run(c, &s, 2, 1, ping, NULL, 100, on_reply, &r, NULL),
                     GW_EINVAL);
    struct gw_redis_sub *sub = NULL;
    assert_int_equal(gw_redis_subscribe(c, ping, 0, on_event, NULL, &sub), GW_EINVAL);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)srv.port);
    assert_string_equal(gw_redis_addr(c), addr);
    run_for(&l, 20);
    assert_int_equal(r.calls, 0);
    close_all(&l, c);
    assert_int_equal(log.downs, 0); /* a close is not a state change */
}

static void test_commands(void **unused)
{
    (void)unused;
    struct tloop l;
    tloop_init(&l);
    struct gw_redis_opts o = opts(srv.port);
    struct gw_redis_watch w;
    struct watch_log log;
    struct gw_redis *c = mkclient(&l, &o, &w, &log);
    assert_true(wait_count(&l, &log.ups, 1, 3000));
    assert_int_equal(log.calls, 1);

    char key[96];
    mkkey(key, sizeof(key), "cmd");
    /* A value with a NUL and CRLF inside goes through as bytes. */
    static const char value[] = "a\0b\r\nc";
    const char *set[] = {"SET", key, value};
    size_t set_lens[] = {3, strlen(key), sizeof(value) - 1};
    struct reply r;
    assert_int_equal(cmd_wait(&l, c, 1000, 3, set, set_lens, &r), 0);
    assert_int_equal(r.type, REDIS_REPLY_STATUS);
    assert_string_equal(r.str, "OK");
    const char *get[] = {"GET", key};
    assert_int_equal(cmd_wait(&l, c, 1000, 2, get, NULL, &r), 0);
    assert_int_equal(r.type, REDIS_REPLY_STRING);
    assert_int_equal(r.len, sizeof(value) - 1);
    assert_memory_equal(r.str, value, sizeof(value) - 1);

    /* An error reply: GW_EREDISREPLY with the reply. */
    const char *bad[] = {"INCR", key};
    assert_int_equal(cmd_wait(&l, c, 1000, 2, bad, NULL, &r), GW_EREDISREPLY);
    assert_int_equal(r.type, REDIS_REPLY_ERROR);
    assert_non_null(strstr(r.str, "not an integer"));

    /* Pipelined: answered in order, each once. */
    char ckey[96];
    mkkey(ckey, sizeof(ckey), "counter");
    const char *incr[] = {"INCR", ckey};
    struct reply many[50];
    memset(many, 0, sizeof(many));
    for (int i = 0; i < 50; i++)
        assert_int_equal(gw_redis_command(c, 2, incr, NULL, 1000, on_reply, &many[i], NULL), 0);
    assert_true(run_until(&l, &many[49].done, 5000));
    for (int i = 0; i < 50; i++) {
        assert_int_equal(many[i].calls, 1);
        assert_int_equal(many[i].status, 0);
        assert_int_equal(many[i].integer, i + 1);
    }

    /* Cancelled: never called back, though Redis ran it. */
    struct reply cancelled, after;
    memset(&cancelled, 0, sizeof(cancelled));
    struct gw_redis_cmd *cmd = NULL;
    assert_int_equal(gw_redis_command(c, 2, incr, NULL, 1000, on_reply, &cancelled, &cmd), 0);
    assert_non_null(cmd);
    gw_redis_cancel(cmd);
    assert_int_equal(cmd_wait(&l, c, 1000, 2, incr, NULL, &after), 0);
    assert_int_equal(after.integer, 52);
    assert_int_equal(cancelled.calls, 0);
    assert_int_equal(log.calls, 1);
    close_all(&l, c);
}

/* A Redis slower than a command's timeout (CLIENT PAUSE): that command gets GW_EREDISTIMEOUT,
 * the ones sent before it with a longer timeout GW_EREDISDOWN (the connection is dropped), the
 * watcher hears "timed out" once, and the client comes back by itself once Redis answers. */
static void test_command_timeout(void **unused)
{
    (void)unused;
    struct server s;
    server_start(&s, NULL);
    struct tloop l;
    tloop_init(&l);
    struct gw_redis_opts o = opts(s.port);
    o.connect_timeout_ms = 100;
    struct gw_redis_watch w;
    struct watch_log log;
    struct gw_redis *c = mkclient(&l, &o, &w, &log);
    assert_true(wait_count(&l, &log.ups, 1, 3000));

    char out[64];
    assert_true(redis_cmds(s.port, out, sizeof(out), 1, "CLIENT PAUSE 700"));
    assert_string_equal(out, "+OK");
    const char *ping[] = {"PING"};
    struct reply slow, fast;
    memset(&slow, 0, sizeof(slow));
    memset(&fast, 0, sizeof(fast));
    assert_int_equal(gw_redis_command(c, 1, ping, NULL, 60000, on_reply, &slow, NULL), 0);
    assert_int_equal(gw_redis_command(c, 1, ping, NULL, 100, on_reply, &fast, NULL), 0);
    assert_true(run_until(&l, &fast.done, 5000));
    assert_int_equal(fast.status, GW_EREDISTIMEOUT);
    assert_int_equal(slow.calls, 1);
    assert_int_equal(slow.status, GW_EREDISDOWN);
    assert_int_equal(log.downs, 1);
    assert_string_equal(log.why, "timed out");
    assert_false(gw_redis_up(c));
    assert_int_equal(gw_redis_command(c, 1, ping, NULL, 100, on_reply, &fast, NULL), GW_EREDISDOWN);

    /* Reconnect attempts time out in their setup while Redis is paused: no more changes. */
    assert_true(wait_count(&l, &log.ups, 2, 5000));
    assert_int_equal(log.downs, 1);
    struct reply r;
    assert_int_equal(cmd_wait(&l, c, 1000, 1, ping, NULL, &r), 0);
    assert_string_equal(r.str, "PONG");
    close_all(&l, c);
    server_stop(&s);
}

/* A script by SHA: loaded at connect (up only then), run with keys and arguments, and still
 * run after SCRIPT FLUSH (NOSCRIPT: loaded again and retried, unseen by the caller). A script
 * never added is loaded on its first NOSCRIPT too. */
static void test_script_noscript(void **unused)
{
    (void)unused;
    static struct gw_redis_script echo, sum;
    assert_int_equal(gw_redis_script_init(&echo, "return {KEYS[1], ARGV[1]}"), 0);
    assert_int_equal(gw_redis_script_init(&sum, "return tonumber(ARGV[1]) + tonumber(ARGV[2])"), 0);
    assert_int_equal(strlen(echo.sha), 40);
    char out[128], cmd[96];
    assert_true(redis_cmds(srv.port, out, sizeof(out), 1, "SCRIPT FLUSH"));

    struct tloop l;
    tloop_init(&l);
    struct gw_redis_opts o = opts(srv.port);
    struct gw_redis_watch w;
    struct watch_log log;
    struct gw_redis *c = mkclient(&l, &o, &w, &log);
    assert_int_equal(gw_redis_script_add(c, &echo), 0);
    assert_true(wait_count(&l, &log.ups, 1, 3000));
    snprintf(cmd, sizeof(cmd), "SCRIPT EXISTS %s %s", echo.sha, sum.sha);
    assert_true(redis_cmds(srv.port, out, sizeof(out), 1, cmd));
    assert_string_equal(out, ":1\n:0\n"); /* loaded at connect */

    const char *args[] = {"k", "v"};
    struct reply r;
    assert_int_equal(script_wait(&l, c, &echo, 1, 2, args, &r), 0);
    assert_int_equal(r.type, REDIS_REPLY_ARRAY);
    assert_int_equal(atomic_load(&echo.reloads), 0);

    assert_true(redis_cmds(srv.port, out, sizeof(out), 1, "SCRIPT FLUSH"));
    assert_int_equal(script_wait(&l, c, &echo, 1, 2, args, &r), 0);
    assert_int_equal(r.type, REDIS_REPLY_ARRAY);
    assert_int_equal(atomic_load(&echo.reloads), 1);
    assert_true(redis_cmds(srv.port, out, sizeof(out), 1, cmd));
    assert_string_equal(out, ":1\n:0\n");

    /* Never added: its first run meets NOSCRIPT, transparently. */
    const char *nums[] = {"40", "2"};
    assert_int_equal(script_wait(&l, c, &sum, 0, 2, nums, &r), 0);
    assert_int_equal(r.type, REDIS_REPLY_INTEGER);
    assert_int_equal(r.integer, 42);
    assert_int_equal(atomic_load(&sum.reloads), 1);
    assert_int_equal(script_wait(&l, c, &sum, 0, 2, nums, &r), 0);
    assert_int_equal(atomic_load(&sum.reloads), 1);

    /* A script error is an error reply. */
    const char *words[] = {"x", "y"};
    assert_int_equal(script_wait(&l, c, &sum, 0, 2, words, &r), GW_EREDISREPLY);
    assert_int_equal(r.type, REDIS_REPLY_ERROR);

    /* Added while up: loaded now. */
    static struct gw_redis_script late;
    assert_int_equal(gw_redis_script_init(&late, "return 'late'"), 0);
    assert_int_equal(gw_redis_script_add(c, &late), 0);
    assert_int_equal(script_wait(&l, c, &late, 0, 0, NULL, &r), 0);
    assert_string_equal(r.str, "late");
    assert_int_equal(atomic_load(&late.reloads), 0);
    assert_int_equal(log.calls, 1);
    close_all(&l, c);
}

/* Subscriptions: messages on their channels only, two subscriptions sharing a channel, an
 * unsubscribe (Redis no longer counts a channel nobody wants), and after a restart of Redis:
 * lost, active again by itself, and messages flow again. The state watcher hears the
 * command connection's down and up. */
static void test_pubsub(void **unused)
{
    (void)unused;
    struct server s;
    server_start(&s, NULL);
    struct tloop l;
    tloop_init(&l);
    struct gw_redis_opts o = opts(s.port);
    struct gw_redis_watch w;
    struct watch_log log;
    struct gw_redis *c = mkclient(&l, &o, &w, &log);
    const char *ab[] = {"chan-a", "chan-b"};
    const char *b[] = {"chan-b"};
    struct events e1, e2;
    memset(&e1, 0, sizeof(e1));
    memset(&e2, 0, sizeof(e2));
    struct gw_redis_sub *s1 = NULL, *s2 = NULL;
    assert_int_equal(gw_redis_subscribe(c, ab, 2, on_event, &e1, &s1), 0);
    assert_int_equal(e1.active, 0); /* never during the call */
    assert_true(wait_count(&l, &e1.active, 1, 3000));

    char out[64];
    assert_true(redis_cmds(s.port, out, sizeof(out), 1, "PUBLISH chan-a hello"));
    assert_string_equal(out, ":1");
    assert_true(wait_count(&l, &e1.msgs, 1, 3000));
    assert_string_equal(e1.ch, "chan-a");
    assert_string_equal(e1.msg, "hello");
    assert_true(redis_cmds(s.port, out, sizeof(out), 1, "PUBLISH chan-c nobody"));
    assert_string_equal(out, ":0");

    assert_int_equal(gw_redis_subscribe(c, b, 1, on_event, &e2, &s2), 0);
    assert_true(wait_count(&l, &e2.active, 1, 3000));
    assert_true(redis_cmds(s.port, out, sizeof(out), 1, "PUBLISH chan-b both"));
    assert_true(wait_count(&l, &e1.msgs, 2, 3000));
    assert_true(wait_count(&l, &e2.msgs, 1, 3000));
    assert_string_equal(e2.msg, "both");

    gw_redis_unsubscribe(s1);
    run_for(&l, 50);
    for (int i = 0; i < 100; i++) {
        assert_true(redis_cmds(s.port, out, sizeof(out), 1, "PUBSUB NUMSUB chan-a chan-b"));
        if (strcmp(out, "chan-a\n:0\nchan-b\n:1\n") == 0)
            break;
        run_for(&l, 10);
    }
    assert_string_equal(out, "chan-a\n:0\nchan-b\n:1\n");
    assert_true(redis_cmds(s.port, out, sizeof(out), 1, "PUBLISH chan-b second"));
    assert_true(wait_count(&l, &e2.msgs, 2, 3000));
    assert_int_equal(e1.msgs, 2);

    /* Redis restarts: the subscription is lost, made again, and delivers again. */
    assert_true(wait_count(&l, &log.ups, 1, 3000));
    server_stop(&s);
    assert_true(wait_count(&l, &e2.lost, 1, 3000));
    assert_true(wait_count(&l, &log.downs, 1, 3000));
    server_start_on(&s, s.port, NULL);
    assert_true(wait_count(&l, &e2.active, 2, 5000));
    assert_true(wait_count(&l, &log.ups, 2, 5000));
    assert_true(redis_cmds(s.port, out, sizeof(out), 1, "PUBLISH chan-b again"));
    assert_string_equal(out, ":1");
    assert_true(wait_count(&l, &e2.msgs, 3, 3000));
    assert_string_equal(e2.msg, "again");
    assert_int_equal(e2.lost, 1);
    assert_int_equal(e1.active, 1); /* unsubscribed: hears nothing more */
    assert_int_equal(e1.lost, 0);
    assert_int_equal(log.downs, 1);
    close_all(&l, c); /* frees s2 */
    server_stop(&s);
}

struct unsub_in_cb {
    struct gw_redis_sub *self, *other;
    struct gw_redis *close;
    int msgs, lost;
};

static void on_event_unsub(void *arg, int status, const char *ch, size_t chlen, const char *msg,
                           size_t len)
{
    (void)ch;
    (void)chlen;
    (void)len;
    struct unsub_in_cb *u = arg;
    if (status != 0) {
        u->lost++;
        return;
    }
    if (msg == NULL)
        return;
    u->msgs++;
    if (u->other != NULL)
        gw_redis_unsubscribe(u->other);
    if (u->self != NULL)
        gw_redis_unsubscribe(u->self);
    if (u->close != NULL)
        gw_redis_close(u->close, NULL, NULL);
}

/* Callbacks that end their own subscription or another one, and one that closes the client,
 * while a message is being delivered: each hears nothing more, nothing leaks. */
static void test_pubsub_from_callbacks(void **unused)
{
    (void)unused;
    struct tloop l;
    tloop_init(&l);
    struct gw_redis_opts o = opts(srv.port);
    struct gw_redis_watch w;
    struct watch_log log;
    struct gw_redis *c = mkclient(&l, &o, &w, &log);
    const char *ch[] = {"cb-chan"};
    struct unsub_in_cb u1, u2, u3;
    memset(&u1, 0, sizeof(u1));
    memset(&u2, 0, sizeof(u2));
    memset(&u3, 0, sizeof(u3));
    struct events e;
    memset(&e, 0, sizeof(e));
    struct gw_redis_sub *s1, *s2, *s3, *watcher;
    assert_int_equal(gw_redis_subscribe(c, ch, 1, on_event_unsub, &u1, &s1), 0);
    assert_int_equal(gw_redis_subscribe(c, ch, 1, on_event_unsub, &u2, &s2), 0);
    assert_int_equal(gw_redis_subscribe(c, ch, 1, on_event_unsub, &u3, &s3), 0);
    assert_int_equal(gw_redis_subscribe(c, ch, 1, on_event, &e, &watcher), 0);
    assert_true(wait_count(&l, &e.active, 1, 3000));
    u1.self = s1;  /* ends itself */
    u1.other = s2; /* and the next one, before its turn */
    char out[64];
    assert_true(redis_cmds(srv.port, out, sizeof(out), 1, "PUBLISH cb-chan one"));
    assert_true(wait_count(&l, &e.msgs, 1, 3000));
    assert_int_equal(u1.msgs, 1);
    assert_int_equal(u2.msgs, 0);
    assert_int_equal(u3.msgs, 1);
    u3.close = c; /* closes the client from inside the delivery */
    assert_true(redis_cmds(srv.port, out, sizeof(out), 1, "PUBLISH cb-chan two"));
    assert_true(wait_count(&l, &u3.msgs, 2, 3000));
    assert_int_equal(e.msgs, 1); /* after the close: nothing more */
    assert_int_equal(u3.lost, 0);
    tloop_close(&l);
}

/* Redis killed and started again: commands in flight fail with GW_EREDISDOWN, the watcher
 * hears one down however many retries fail, then one up; a second watcher, removed, hears
 * nothing. */
static void test_state_changes(void **unused)
{
    (void)unused;
    struct server s;
    server_start(&s, NULL);
    struct tloop l;
    tloop_init(&l);
    struct gw_redis_opts o = opts(s.port);
    struct gw_redis_watch w, w2;
    struct watch_log log, log2;
    struct gw_redis *c = mkclient(&l, &o, &w, &log);
    memset(&log2, 0, sizeof(log2));
    gw_redis_watch(c, &w2, on_state, &log2);
    assert_true(wait_count(&l, &log.ups, 1, 3000));
    assert_int_equal(log2.ups, 1);
    gw_redis_unwatch(&w2);

    /* BLPOP holds its reply until the key gets a value: in flight when Redis dies. */
    char key[96];
    mkkey(key, sizeof(key), "blpop");
    const char *blpop[] = {"BLPOP", key, "0"};
    struct reply r;
    memset(&r, 0, sizeof(r));
    assert_int_equal(gw_redis_command(c, 3, blpop, NULL, 60000, on_reply, &r, NULL), 0);
    run_for(&l, 20);
    assert_int_equal(kill(s.pid, SIGKILL), 0);
    int st;
    waitpid(s.pid, &st, 0);
    s.pid = 0;
    assert_true(run_until(&l, &r.done, 3000));
    assert_int_equal(r.status, GW_EREDISDOWN);
    assert_true(wait_count(&l, &log.downs, 1, 3000));
    assert_false(gw_redis_up(c));
    run_for(&l, 300); /* several refused retries: no more changes */
    assert_int_equal(log.downs, 1);
    assert_int_equal(log.ups, 1);

    server_start_on(&s, s.port, NULL);
    assert_true(wait_count(&l, &log.ups, 2, 5000));
    assert_true(gw_redis_up(c));
    const char *ping[] = {"PING"};
    assert_int_equal(cmd_wait(&l, c, 1000, 1, ping, NULL, &r), 0);
    assert_int_equal(log.calls, 3);
    assert_int_equal(log2.calls, 1);
    close_all(&l, c);
    server_stop(&s);
}

/* Nothing listens on the port: the first attempt fails with a callback (refused, not a
 * timeout: the connect timeout is far longer than the wait), once however often it is
 * retried. */
static void test_closed_port(void **unused)
{
    (void)unused;
    struct tloop l;
    tloop_init(&l);
    struct gw_redis_opts o = opts(free_port());
    o.connect_timeout_ms = 600000;
    struct gw_redis_watch w;
    struct watch_log log;
    struct gw_redis *c = mkclient(&l, &o, &w, &log);
    assert_true(wait_count(&l, &log.downs, 1, 5000));
    assert_non_null(strstr(log.why, "refused"));
    run_for(&l, 200);
    assert_int_equal(log.calls, 1);
    const char *ping[] = {"PING"};
    struct reply r;
    memset(&r, 0, sizeof(r));
    assert_int_equal(gw_redis_command(c, 1, ping, NULL, 100, on_reply, &r, NULL), GW_EREDISDOWN);
    /* A subscription on a closed port only waits. */
    struct events e;
    memset(&e, 0, sizeof(e));
    struct gw_redis_sub *sub;
    assert_int_equal(gw_redis_subscribe(c, ping, 1, on_event, &e, &sub), 0);
    run_for(&l, 100);
    assert_int_equal(e.active + e.lost + e.msgs, 0);
    close_all(&l, c);
}

struct closer {
    struct gw_redis *c;
    int calls, down;
};

static void on_reply_close(void *arg, int status, const struct redisReply *r)
{
    (void)r;
    struct closer *k = arg;
    k->calls++;
    k->down += status == GW_EREDISDOWN;
    if (k->calls == 1)
        gw_redis_close(k->c, NULL, NULL); /* from inside a callback */
}

static void on_state_close(void *arg, int status, const char *why)
{
    (void)why;
    if (status != 0)
        gw_redis_close(arg, NULL, NULL);
}

/* Close with commands in flight (answered during the close), from a reply callback, from a
 * state callback, and while resolving, connecting, backing off and subscribing: every command
 * answered once, nothing left on the loop, nothing leaked (ASan). */
static void test_close(void **unused)
{
    (void)unused;
    struct tloop l;
    tloop_init(&l);
    struct gw_redis_opts o = opts(srv.port);
    struct gw_redis_watch w;
    struct watch_log log;
    struct gw_redis *c = mkclient(&l, &o, &w, &log);
    assert_true(wait_count(&l, &log.ups, 1, 3000));
    const char *ping[] = {"PING"};
    struct reply r[10];
    memset(r, 0, sizeof(r));
    for (int i = 0; i < 10; i++)
        assert_int_equal(gw_redis_command(c, 1, ping, NULL, 1000, on_reply, &r[i], NULL), 0);
    struct events e;
    memset(&e, 0, sizeof(e));
    struct gw_redis_sub *sub;
    assert_int_equal(gw_redis_subscribe(c, ping, 1, on_event, &e, &sub), 0);
    int closed = 0;
    gw_redis_close(c, on_closed, &closed);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].status, GW_EREDISDOWN);
    }
    assert_int_equal(gw_redis_command(c, 1, ping, NULL, 1000, on_reply, &r[0], NULL),
                     GW_EREDISDOWN);
    assert_int_equal(closed, 0);
    run_for(&l, 20);
    assert_int_equal(closed, 1);
    assert_int_equal(e.active + e.lost, 0);

    /* Closed from the first reply: the others are answered too, once. */
    struct closer k;
    memset(&k, 0, sizeof(k));
    k.c = mkclient(&l, &o, &w, &log);
    assert_true(wait_count(&l, &log.ups, 1, 3000));
    for (int i = 0; i < 5; i++)
        assert_int_equal(gw_redis_command(k.c, 1, ping, NULL, 1000, on_reply_close, &k, NULL), 0);
    assert_true(wait_count(&l, &k.calls, 5, 3000));
    assert_int_equal(k.down, 4);

    /* Closed by its own state callback, on its first failure. */
    struct gw_redis_opts dead = opts(free_port());
    struct gw_redis *c2 = NULL;
    assert_int_equal(gw_redis_new(&c2, &l.loop, &dead), 0);
    struct gw_redis_watch w2;
    gw_redis_watch(c2, &w2, on_state_close, c2);

    /* Resolving a name, connecting, backing off, subscribing. */
    struct gw_redis *connecting = NULL, *resolving = NULL, *backoff = NULL;
    assert_int_equal(gw_redis_new(&connecting, &l.loop, &o), 0);
    struct gw_redis_opts named = opts(srv.port);
    named.host = "localhost";
    assert_int_equal(gw_redis_new(&resolving, &l.loop, &named), 0);
    assert_int_equal(gw_redis_new(&backoff, &l.loop, &dead), 0);
    assert_int_equal(gw_redis_subscribe(backoff, ping, 1, on_event, &e, &sub), 0);
    run_for(&l, 30);
    gw_redis_close(connecting, NULL, NULL);
    gw_redis_close(resolving, NULL, NULL);
    gw_redis_close(backoff, NULL, NULL);
    tloop_close(&l);
}

/* A host name goes through uv_getaddrinfo. */
static void test_hostname(void **unused)
{
    (void)unused;
    struct tloop l;
    tloop_init(&l);
    struct gw_redis_opts o = opts(srv.port);
    o.host = "localhost";
    struct gw_redis_watch w;
    struct watch_log log;
    struct gw_redis *c = mkclient(&l, &o, &w, &log);
    assert_true(wait_count(&l, &log.calls, 1, 3000));
    /* "localhost" may resolve to ::1 first where Redis listens on 127.0.0.1 only. */
    if (log.ups == 1) {
        const char *ping[] = {"PING"};
        struct reply r;
        assert_int_equal(cmd_wait(&l, c, 1000, 1, ping, NULL, &r), 0);
    }
    close_all(&l, c);
}

/* AUTH and SELECT on every connection, the subscription's too; a wrong password is a
 * failure with Redis's reason. */
static void test_auth_and_db(void **unused)
{
    (void)unused;
    struct server s;
    server_start(&s, "s3cret");
    struct tloop l;
    tloop_init(&l);
    struct gw_redis_opts o = opts(s.port);
    o.password = "s3cret";
    o.db = 2;
    struct gw_redis_watch w;
    struct watch_log log;
    struct gw_redis *c = mkclient(&l, &o, &w, &log);
    struct events e;
    memset(&e, 0, sizeof(e));
    struct gw_redis_sub *sub;
    const char *ch[] = {"auth-chan"};
    assert_int_equal(gw_redis_subscribe(c, ch, 1, on_event, &e, &sub), 0);
    assert_true(wait_count(&l, &log.ups, 1, 3000));
    assert_true(wait_count(&l, &e.active, 1, 3000));
    const char *set[] = {"SET", "authkey", "1"};
    struct reply r;
    assert_int_equal(cmd_wait(&l, c, 1000, 3, set, NULL, &r), 0);
    char out[64];
    assert_true(
        redis_cmds(s.port, out, sizeof(out), 3, "AUTH s3cret", "SELECT 2", "EXISTS authkey"));
    assert_string_equal(out, ":1");
    assert_true(redis_cmds(s.port, out, sizeof(out), 2, "AUTH s3cret", "PUBLISH auth-chan x"));
    assert_string_equal(out, ":1");
    assert_true(wait_count(&l, &e.msgs, 1, 3000));

    struct gw_redis_opts bad = o;
    bad.username = "default";
    bad.password = "wrong";
    struct gw_redis_watch wb;
    struct watch_log logb;
    struct gw_redis *cb = mkclient(&l, &bad, &wb, &logb);
    assert_true(wait_count(&l, &logb.downs, 1, 3000));
    assert_non_null(strstr(logb.why, "AUTH: "));
    run_for(&l, 100);
    assert_int_equal(logb.calls, 1);
    gw_redis_close(cb, NULL, NULL);
    close_all(&l, c);
    server_stop(&s);
}

static int group_setup(void **unused)
{
    (void)unused;
    signal(SIGPIPE, SIG_IGN);
    server_start(&srv, NULL);
    return 0;
}

static int group_teardown(void **unused)
{
    (void)unused;
    server_stop(&srv);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loop_helpers_after_a_stall),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_command_timeout),
        cmocka_unit_test(test_script_noscript),
        cmocka_unit_test(test_pubsub),
        cmocka_unit_test(test_pubsub_from_callbacks),
        cmocka_unit_test(test_state_changes),
        cmocka_unit_test(test_closed_port),
        cmocka_unit_test(test_close),
        cmocka_unit_test(test_hostname),
        cmocka_unit_test(test_auth_and_db),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
