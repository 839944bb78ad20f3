/* The shared Redis client; see state/redis_client.h.
 *
 * Lifetimes. A command (struct gw_redis_cmd) belongs to hiredis from the moment it is queued
 * until hiredis runs its reply callback, which it always does: with the reply, or with NULL
 * when the context is freed (a disconnect, a drop, or the close). Only that callback frees the
 * command. Its caller may be answered earlier (a timeout, the close, a cancel): cb turns NULL,
 * and the reply that arrives later is dropped. A NOSCRIPT reply queues the same command again,
 * so hiredis calls back twice for it; it is freed on the second.
 *
 * hiredis 0.14 rules followed here: a context is never freed from onConnect (hiredis still uses
 * it after that callback returns: a failure found there is acted on from a zero timer) nor
 * from onDisconnect (hiredis is freeing it); redisAsyncFree from a reply callback is deferred
 * by hiredis until the callback returns. A link's ac is cleared as soon as its context is
 * known to be going away, and every callback checks that the context it gets is still the
 * link's.
 *
 * Subscriptions. Each subscription sends its own SUBSCRIBE (again after each reconnect); Redis
 * confirms each channel of one command in a row, so the confirmations are counted against
 * c->sub_waiting in the order the commands went out. A subscription ended while the client is
 * delivering events, or while its confirmations are due, is only marked (cb NULL) and freed
 * once neither holds.
 */
#include "state/redis_client.h"
#include "state/redis_stats.h"

#include <arpa/inet.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "core/error.h"
#include "core/log.h"
#include "core/random.h"
#include "state/redis_uv.h"

enum link_state {
    LINK_OFF,        /* not started (the subscription link before the first subscription) */
    LINK_BACKOFF,    /* waiting for the timer to try again */
    LINK_RESOLVING,  /* uv_getaddrinfo in flight */
    LINK_CONNECTING, /* TCP connect in flight */
    LINK_SETUP,      /* AUTH / SELECT / SCRIPT LOAD / PING in flight */
    LINK_READY,
};

/* One connection to Redis, made again after each failure. */
struct link {
    struct gw_redis *c;
    bool sub;     /* the subscription connection */
    bool started; /* timer initialised */
    enum link_state state;
    redisAsyncContext *ac; /* the live context, NULL once it is known to be going away */
    struct resolve *resolve;
    uv_timer_t timer;      /* connect step timeout, zero-delay failure, backoff */
    unsigned setup_left;   /* setup replies still expected */
    unsigned setup_script; /* SCRIPT LOAD replies of this setup seen so far */
    unsigned failures;     /* attempts failed in a row: the backoff exponent */
    char fail_reason[160]; /* a failure found in onConnect, acted on from the timer */
};

/* A name resolution; it outlives its link when orphaned (l NULL) by a timeout or close. */
struct resolve {
    uv_getaddrinfo_t req;
    struct link *l;
};

enum report {
    REPORT_NONE, /* nothing reported yet: the first failure is a change too */
    REPORT_UP,
    REPORT_DOWN,
};

struct gw_redis {
    uv_loop_t *loop;
    char *host, *username, *password;
    char *addr; /* "host:port" */
    uint16_t port;
    uint32_t db;
    uint64_t connect_timeout_ms, backoff_min_ms, backoff_max_ms;

    struct link cmd, sub;
    enum report reported;
    uv_timer_t deadline_timer;  /* the earliest pending command's deadline */
    uint64_t armed_ms;          /* the deadline the timer is armed for; 0 = stopped */
    struct gw_list pending;     /* struct gw_redis_cmd not answered yet, by deadline */
    struct gw_list watchers;    /* struct gw_redis_watch */
    struct gw_list subs;        /* struct gw_redis_sub, oldest first */
    struct gw_list sub_waiting; /* subscriptions whose confirmations are due, in send order */
    struct gw_redis_script **scripts;
    size_t nscripts, scripts_cap;
    unsigned open_handles;
    unsigned delivering; /* depth of subscription event loops: frees wait until 0 */
    bool closing;
    gw_redis_closed_cb on_closed;
    void *closed_arg;
    struct gw_redis_stats *stats; /* this use's counters (/metrics); NULL when the table is full */
};

struct gw_redis_cmd {
    struct gw_list link; /* in c->pending while cb is set */
    struct gw_redis *c;
    gw_redis_reply_cb cb; /* NULL once answered or cancelled */
    void *arg;
    uint64_t deadline_ms;
    uint64_t sent_ns;               /* uv_hrtime() when it went out: its round trip's start */
    struct gw_redis_script *script; /* an EVALSHA: reloaded and sent again on NOSCRIPT */
    bool retried;
    size_t len;
    char buf[]; /* the command in RESP */
};

struct gw_redis_sub {
    struct gw_list link; /* in c->subs */
    struct gw_list wait; /* in c->sub_waiting while confirmations are due; else self-linked */
    struct gw_redis *c;
    gw_redis_msg_cb cb; /* NULL once unsubscribed */
    void *arg;
    size_t left; /* confirmations due */
    bool active;
    int argc;          /* 1 + channels */
    const char **argv; /* "SUBSCRIBE", then the channel names (in this allocation) */
    size_t *lens;
};

static void link_start(struct link *l);
static void link_down(struct link *l, const char *why);
static void on_link_timer(uv_timer_t *t);
static void subs_ready(struct gw_redis *c);
static void subs_lost(struct gw_redis *c);

/* Deadlines use a fresh clock rather than uv_now, which is as old as the loop iteration: a
 * worker busy for 30 ms would otherwise give its commands 30 ms less than their timeout. */
static uint64_t mono_ms(void)
{
    return uv_hrtime() / 1000000;
}

/* ---- scripts ------------------------------------------------------------------------------ */

/* Adds d to a counter of the client's use (state/redis_stats.h), when it has one. */
#define COUNT(c, field, d)                                                                         \
    do {                                                                                           \
        if ((c)->stats != NULL)                                                                    \
            atomic_fetch_add_explicit(&(c)->stats->field, (uint64_t)(d), memory_order_relaxed);    \
    } while (0)

int gw_redis_script_init(struct gw_redis_script *s, const char *text)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    memset(s, 0, sizeof(*s));
    atomic_init(&s->reloads, 0);
    if (text == NULL)
        return GW_EINVAL;
    s->text = text;
    s->len = strlen(text);
    if (EVP_Digest(text, s->len, md, &n, EVP_sha1(), NULL) != 1 || n != 20)
        return GW_EINVAL;
    for (unsigned i = 0; i < 20; i++) {
        s->sha[2 * i] = hex[md[i] >> 4];
        s->sha[2 * i + 1] = hex[md[i] & 15];
    }
    s->sha[40] = '\0';
    return 0;
}

static void on_load_reply(redisAsyncContext *ac, void *r, void *privdata);

/* SCRIPT LOAD on the command link's live context, outside the setup. */
static int script_load(struct gw_redis *c, const struct gw_redis_script *s)
{
    if (c->cmd.ac == NULL || redisAsyncCommand(c->cmd.ac, on_load_reply, &c->cmd, "SCRIPT LOAD %b",
                                               s->text, s->len) != REDIS_OK)
        return GW_EREDISDOWN;
    return 0;
}

int gw_redis_script_add(struct gw_redis *c, struct gw_redis_script *s)
{
    if (c->nscripts == c->scripts_cap) {
        size_t cap = c->scripts_cap ? 2 * c->scripts_cap : 4;
        struct gw_redis_script **p = realloc(c->scripts, cap * sizeof(*p));
        if (p == NULL)
            return GW_ENOMEM;
        c->scripts = p;
        c->scripts_cap = cap;
    }
    c->scripts[c->nscripts++] = s;
    /* Connected: load it now, as one more setup step while setting up. */
    if (c->cmd.state == LINK_SETUP && script_load(c, s) == 0)
        c->cmd.setup_left++;
    else if (c->cmd.state == LINK_READY)
        script_load(c, s);
    return 0;
}

/* ---- state reports ------------------------------------------------------------------------ */

/* Tells the watchers of a change of the command link. A watcher may unwatch itself or another
 * one, watch a new one (it hears the next change), or close the client. */
static void report(struct gw_redis *c, int status, const char *why)
{
    enum report now = status == 0 ? REPORT_UP : REPORT_DOWN;
    if (now == c->reported)
        return;
    if (now == REPORT_UP) {
        COUNT(c, connects, 1);
        COUNT(c, clients_up, 1);
    } else if (c->reported == REPORT_UP) {
        COUNT(c, disconnects, 1);
        COUNT(c, clients_up, -1);
    }
    c->reported = now;
    struct gw_list todo;
    gw_list_take(&todo, &c->watchers);
    while (!gw_list_empty(&todo)) {
        struct gw_redis_watch *w = gw_container_of(todo.next, struct gw_redis_watch, link);
        gw_list_remove(&w->link);
        gw_list_insert_tail(&c->watchers, &w->link);
        if (!c->closing)
            w->cb(w->arg, status, why);
    }
}

void gw_redis_watch(struct gw_redis *c, struct gw_redis_watch *w, gw_redis_state_cb cb, void *arg)
{
    w->cb = cb;
    w->arg = arg;
    gw_list_insert_tail(&c->watchers, &w->link);
}

void gw_redis_unwatch(struct gw_redis_watch *w)
{
    gw_list_remove(&w->link);
}

/* ---- commands ----------------------------------------------------------------------------- */

static size_t dec_len(size_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

static const char *arg_at(const char *const *head, size_t nhead, const char *const *argv, size_t i)
{
    return i < nhead ? head[i] : argv[i - nhead];
}

static size_t arg_len(const char *const *head, size_t nhead, const char *const *argv,
                      const size_t *lens, size_t i)
{
    if (i < nhead)
        return strlen(head[i]);
    return lens != NULL ? lens[i - nhead] : strlen(argv[i - nhead]);
}

/* A command of head[0..nhead) then argv[0..argc), formatted in RESP into the command's own
 * allocation (kept for a NOSCRIPT retry). */
static struct gw_redis_cmd *cmd_new(struct gw_redis *c, const char *const *head, size_t nhead,
                                    size_t argc, const char *const *argv, const size_t *lens)
{
    size_t n = nhead + argc;
    size_t len = 3 + dec_len(n);
    for (size_t i = 0; i < n; i++) {
        size_t a = arg_len(head, nhead, argv, lens, i);
        len += 1 + dec_len(a) + 2 + a + 2;
    }
    struct gw_redis_cmd *cmd = malloc(sizeof(*cmd) + len + 1);
    if (cmd == NULL)
        return NULL;
    memset(cmd, 0, sizeof(*cmd));
    cmd->c = c;
    gw_list_init(&cmd->link);
    char *p = cmd->buf;
    size_t room = len + 1;
    int w = snprintf(p, room, "*%zu\r\n", n);
    p += w;
    room -= (size_t)w;
    for (size_t i = 0; i < n; i++) {
        size_t a = arg_len(head, nhead, argv, lens, i);
        w = snprintf(p, room, "$%zu\r\n", a);
        p += w;
        room -= (size_t)w;
        if (a > 0)
            memcpy(p, arg_at(head, nhead, argv, i), a);
        memcpy(p + a, "\r\n", 2);
        p += a + 2;
        room -= a + 2;
    }
    *p = '\0'; /* hiredis scans the command with strchr */
    cmd->len = len;
    return cmd;
}

static void on_deadline(uv_timer_t *t);

/* Arms deadline_timer for the earliest pending deadline. */
static void deadline_arm(struct gw_redis *c)
{
    if (c->closing)
        return;
    if (gw_list_empty(&c->pending)) {
        if (c->armed_ms != 0) {
            uv_timer_stop(&c->deadline_timer);
            c->armed_ms = 0;
        }
        return;
    }
    struct gw_redis_cmd *head = gw_container_of(c->pending.next, struct gw_redis_cmd, link);
    if (head->deadline_ms == c->armed_ms)
        return;
    uint64_t now = mono_ms();
    uv_timer_start(&c->deadline_timer, on_deadline,
                   head->deadline_ms > now ? head->deadline_ms - now : 0, 0);
    c->armed_ms = head->deadline_ms;
}

/* Inserts by deadline, from the back: commands mostly share one timeout. */
static void pending_insert(struct gw_redis *c, struct gw_redis_cmd *cmd)
{
    struct gw_list *at = c->pending.prev;
    while (at != &c->pending &&
           gw_container_of(at, struct gw_redis_cmd, link)->deadline_ms > cmd->deadline_ms)
        at = at->prev;
    gw_list_insert_head(at, &cmd->link);
    deadline_arm(c);
}

/* Answers the command's caller (once); the memory stays with hiredis. */
static void cmd_answer(struct gw_redis_cmd *cmd, int status, const redisReply *reply)
{
    gw_redis_reply_cb cb = cmd->cb;
    if (cb == NULL)
        return;
    cmd->cb = NULL;
    gw_list_remove(&cmd->link);
    deadline_arm(cmd->c);
    cb(cmd->arg, status, reply);
}

static void link_gone(struct link *l, const redisAsyncContext *ac);

static bool is_noscript(const redisReply *r)
{
    return r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

static void on_cmd_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct gw_redis_cmd *cmd = privdata;
    struct gw_redis *c = cmd->c;
    const redisReply *reply = r;
    if (cmd->cb == NULL) {
        free(cmd); /* answered already */
        return;
    }
    if (reply == NULL) {
        link_gone(&c->cmd, ac);
        cmd_answer(cmd, GW_EREDISDOWN, NULL);
        free(cmd);
        return;
    }
    if (cmd->script != NULL && !cmd->retried && is_noscript(reply)) {
        /* The script cache was flushed (SCRIPT FLUSH, or a restart the connection survived):
         * load the script and send the call again behind the load, keeping its deadline. */
        cmd->retried = true;
        atomic_fetch_add_explicit(&cmd->script->reloads, 1, memory_order_relaxed);
        if (ac == c->cmd.ac && script_load(c, cmd->script) == 0 &&
            redisAsyncFormattedCommand(ac, on_cmd_reply, cmd, cmd->buf, cmd->len) == REDIS_OK)
            return;
        cmd_answer(cmd, GW_EREDISDOWN, NULL);
        free(cmd);
        return;
    }
    if (c->stats != NULL)
        gw_redis_stats_latency(c->stats, uv_hrtime() - cmd->sent_ns);
    if (reply->type == REDIS_REPLY_ERROR)
        COUNT(c, errors, 1);
    cmd_answer(cmd, reply->type == REDIS_REPLY_ERROR ? GW_EREDISREPLY : 0, reply);
    free(cmd);
}

static void link_drop(struct link *l, const char *why);

/* Commands past their deadline get GW_EREDISTIMEOUT now, and the connection goes: the
 * commands sent after them are behind them, and the next ones fail at once instead of piling
 * up behind a Redis that slow. */
static void on_deadline(uv_timer_t *t)
{
    struct gw_redis *c = t->data;
    uint64_t now = mono_ms(); /* the timer may fire early: it counts from an older uv_now */
    bool late = false;
    c->armed_ms = 0;
    while (!gw_list_empty(&c->pending)) {
        struct gw_redis_cmd *head = gw_container_of(c->pending.next, struct gw_redis_cmd, link);
        if (head->deadline_ms > now)
            break;
        COUNT(c, timeouts, 1);
        cmd_answer(head, GW_EREDISTIMEOUT, NULL);
        late = true;
        if (c->closing)
            return;
    }
    if (late && c->cmd.ac != NULL)
        link_drop(&c->cmd, "timed out");
    else
        deadline_arm(c);
}

/* Queues cmd on the live command context. Returns 0 or an error (cmd freed). */
static int cmd_send(struct gw_redis *c, struct gw_redis_cmd *cmd, uint64_t timeout_ms,
                    gw_redis_reply_cb cb, void *arg, struct gw_redis_cmd **out)
{
    if (redisAsyncFormattedCommand(c->cmd.ac, on_cmd_reply, cmd, cmd->buf, cmd->len) != REDIS_OK) {
        free(cmd);
        return GW_EREDISDOWN;
    }
    cmd->cb = cb;
    cmd->arg = arg;
    cmd->deadline_ms = mono_ms() + timeout_ms;
    cmd->sent_ns = uv_hrtime();
    COUNT(c, commands, 1);
    pending_insert(c, cmd);
    if (out != NULL)
        *out = cmd;
    return 0;
}

int gw_redis_command(struct gw_redis *c, int argc, const char *const *argv, const size_t *lens,
                     uint64_t timeout_ms, gw_redis_reply_cb cb, void *arg,
                     struct gw_redis_cmd **out)
{
    if (argc < 1 || argv == NULL || timeout_ms == 0 || cb == NULL)
        return GW_EINVAL;
    if (!gw_redis_up(c)) {
        COUNT(c, unavailable, 1);
        return GW_EREDISDOWN;
    }
    struct gw_redis_cmd *cmd = cmd_new(c, NULL, 0, (size_t)argc, argv, lens);
    if (cmd == NULL)
        return GW_ENOMEM;
    return cmd_send(c, cmd, timeout_ms, cb, arg, out);
}

int gw_redis_script_run(struct gw_redis *c, struct gw_redis_script *s, int nkeys, int argc,
                        const char *const *argv, const size_t *lens, uint64_t timeout_ms,
                        gw_redis_reply_cb cb, void *arg, struct gw_redis_cmd **out)
{
    char keys[24];
    if (s == NULL || nkeys < 0 || argc < nkeys || (argc > 0 && argv == NULL) || timeout_ms == 0 ||
        cb == NULL)
        return GW_EINVAL;
    if (!gw_redis_up(c)) {
        COUNT(c, unavailable, 1);
        return GW_EREDISDOWN;
    }
    snprintf(keys, sizeof(keys), "%d", nkeys);
    const char *head[3] = {"EVALSHA", s->sha, keys};
    struct gw_redis_cmd *cmd = cmd_new(c, head, 3, (size_t)argc, argv, lens);
    if (cmd == NULL)
        return GW_ENOMEM;
    cmd->script = s;
    return cmd_send(c, cmd, timeout_ms, cb, arg, out);
}

void gw_redis_cancel(struct gw_redis_cmd *cmd)
{
    if (cmd->cb == NULL)
        return;
    cmd->cb = NULL;
    gw_list_remove(&cmd->link);
    deadline_arm(cmd->c);
}

/* ---- connections -------------------------------------------------------------------------- */

/* The next delay: uniform between backoff_min and a bound doubling with each failure in a
 * row. */
static uint64_t backoff_ms(const struct gw_redis *c, unsigned failures)
{
    uint64_t bound = c->backoff_min_ms > 0 ? c->backoff_min_ms : 1;
    for (unsigned i = 0; i < failures && bound < c->backoff_max_ms; i++)
        bound *= 2;
    if (bound > c->backoff_max_ms)
        bound = c->backoff_max_ms;
    if (bound <= c->backoff_min_ms)
        return c->backoff_min_ms;
    return c->backoff_min_ms + gw_random_u64() % (bound - c->backoff_min_ms + 1);
}

/* The connection is gone (its context is no longer l->ac): retry after a backoff, then tell
 * the users. The commands of the old context get their NULL replies from hiredis, which
 * answers them. */
static void link_down(struct link *l, const char *why)
{
    struct gw_redis *c = l->c;
    if (c->closing)
        return;
    bool was_ready = l->state == LINK_READY;
    l->state = LINK_BACKOFF;
    l->setup_left = 0;
    uint64_t delay = backoff_ms(c, l->failures);
    gw_log_debug("redis %s%s: %s; next attempt in %llu ms", c->addr,
                 l->sub ? " (subscriptions)" : "", why, (unsigned long long)delay);
    if (l->failures < 64)
        l->failures++;
    uv_timer_start(&l->timer, on_link_timer, delay, 0);
    if (!l->sub)
        report(c, GW_EREDISDOWN, why);
    else if (was_ready)
        subs_lost(c);
}

/* Drops the live context ourselves. Never from onConnect or onDisconnect (see the top). */
static void link_drop(struct link *l, const char *why)
{
    redisAsyncContext *ac = l->ac;
    l->ac = NULL;
    link_down(l, why);
    if (ac != NULL)
        redisAsyncFree(ac);
}

/* hiredis is freeing ac (a NULL reply, onDisconnect, a failed connect). */
static void link_gone(struct link *l, const redisAsyncContext *ac)
{
    char why[160];
    if (ac != l->ac)
        return;
    l->ac = NULL;
    snprintf(why, sizeof(why), "%s", ac->c.err != 0 ? ac->c.errstr : "connection closed");
    link_down(l, why);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    link_gone(ac->data, ac);
}

static void setup_step_done(struct link *l)
{
    struct gw_redis *c = l->c;
    if (--l->setup_left > 0) {
        uv_timer_start(&l->timer, on_link_timer, c->connect_timeout_ms, 0);
        return;
    }
    uv_timer_stop(&l->timer);
    l->state = LINK_READY;
    l->failures = 0;
    if (l->sub)
        subs_ready(c);
    else
        report(c, 0, NULL);
}

/* True when r is a reply on l's live context. NULL there means hiredis is freeing it. */
static bool reply_live(struct link *l, redisAsyncContext *ac, const redisReply *r)
{
    if (ac != l->ac)
        return false;
    if (r == NULL) {
        link_gone(l, ac);
        return false;
    }
    return true;
}

/* True when r is a good setup reply on the live context; else deals with it. */
static bool setup_reply_ok(struct link *l, redisAsyncContext *ac, const redisReply *r,
                           const char *step)
{
    char why[160];
    if (!reply_live(l, ac, r) || l->state != LINK_SETUP)
        return false;
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(why, sizeof(why), "%s: %s", step, r->str);
        link_drop(l, why);
        return false;
    }
    return true;
}

static void on_auth_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    if (setup_reply_ok(privdata, ac, r, "AUTH"))
        setup_step_done(privdata);
}

static void on_select_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    if (setup_reply_ok(privdata, ac, r, "SELECT"))
        setup_step_done(privdata);
}

static void on_ping_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    if (setup_reply_ok(privdata, ac, r, "PING"))
        setup_step_done(privdata);
}

/* A SCRIPT LOAD reply: a setup step (the scripts load in the order of c->scripts), or a load
 * sent while up (a new script, a NOSCRIPT), whose failure the retried call reports. */
static void on_load_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct link *l = privdata;
    struct gw_redis *c = l->c;
    const redisReply *reply = r;
    if (!reply_live(l, ac, reply))
        return;
    if (l->state != LINK_SETUP) {
        if (reply->type == REDIS_REPLY_ERROR)
            gw_log_warn("redis %s: SCRIPT LOAD: %s", c->addr, reply->str);
        return;
    }
    if (!setup_reply_ok(l, ac, reply, "SCRIPT LOAD"))
        return;
    const struct gw_redis_script *s =
        l->setup_script < c->nscripts ? c->scripts[l->setup_script] : NULL;
    l->setup_script++;
    if (s == NULL || reply->type != REDIS_REPLY_STRING || strcmp(reply->str, s->sha) != 0) {
        link_drop(l, "SCRIPT LOAD: unexpected reply");
        return;
    }
    setup_step_done(l);
}

/* AUTH, SELECT, the scripts (command link), or a PING when there is nothing else, pipelined:
 * the connection is up once Redis has answered them all. */
static int setup_send(struct link *l, redisAsyncContext *ac)
{
    struct gw_redis *c = l->c;
    int rc = REDIS_OK;
    if (c->password != NULL) {
        if (c->username != NULL)
            rc = redisAsyncCommand(ac, on_auth_reply, l, "AUTH %s %s", c->username, c->password);
        else
            rc = redisAsyncCommand(ac, on_auth_reply, l, "AUTH %s", c->password);
        l->setup_left++;
    }
    if (rc == REDIS_OK && c->db != 0) {
        rc = redisAsyncCommand(ac, on_select_reply, l, "SELECT %u", (unsigned)c->db);
        l->setup_left++;
    }
    for (size_t i = 0; !l->sub && rc == REDIS_OK && i < c->nscripts; i++) {
        rc = redisAsyncCommand(ac, on_load_reply, l, "SCRIPT LOAD %b", c->scripts[i]->text,
                               c->scripts[i]->len);
        l->setup_left++;
    }
    if (rc == REDIS_OK && l->setup_left == 0) {
        rc = redisAsyncCommand(ac, on_ping_reply, l, "PING");
        l->setup_left++;
    }
    return rc;
}

/* Connected: the setup goes out; each reply restarts the step timer. A failure to queue is
 * acted on from a zero timer: hiredis still uses ac after this callback. */
static void on_connect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    struct link *l = ac->data;
    if (ac != l->ac)
        return;
    if (status != REDIS_OK) {
        link_gone(l, ac);
        return;
    }
    l->state = LINK_SETUP;
    l->setup_left = 0;
    l->setup_script = 0;
    if (setup_send(l, ac) != REDIS_OK) {
        snprintf(l->fail_reason, sizeof(l->fail_reason), "could not send the setup commands");
        uv_timer_start(&l->timer, on_link_timer, 0, 0);
        return;
    }
    uv_timer_start(&l->timer, on_link_timer, l->c->connect_timeout_ms, 0);
}

static void link_connect(struct link *l, const char *ip)
{
    struct gw_redis *c = l->c;
    char why[160];
    redisAsyncContext *ac = redisAsyncConnect(ip, c->port);
    if (ac == NULL) {
        link_down(l, "out of memory");
        return;
    }
    if (ac->err != 0) {
        snprintf(why, sizeof(why), "%s", ac->errstr);
        redisAsyncFree(ac);
        link_down(l, why);
        return;
    }
    int rc = gw_redis_uv_attach(ac, c->loop);
    if (rc != 0) {
        redisAsyncFree(ac);
        link_down(l, gw_strerror(rc));
        return;
    }
    ac->data = l;
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    redisAsyncSetConnectCallback(ac, on_connect); /* starts watching for writability */
    l->ac = ac;
    l->state = LINK_CONNECTING;
    uv_timer_start(&l->timer, on_link_timer, c->connect_timeout_ms, 0);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct resolve *r = gw_container_of(req, struct resolve, req);
    struct link *l = r->l;
    char ip[INET6_ADDRSTRLEN] = "";
    for (struct addrinfo *ai = res; status == 0 && ai != NULL && ip[0] == '\0'; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET)
            uv_ip4_name((const struct sockaddr_in *)(const void *)ai->ai_addr, ip, sizeof(ip));
        else if (ai->ai_family == AF_INET6)
            uv_ip6_name((const struct sockaddr_in6 *)(const void *)ai->ai_addr, ip, sizeof(ip));
    }
    uv_freeaddrinfo(res);
    free(r);
    if (l == NULL)
        return; /* orphaned */
    l->resolve = NULL;
    uv_timer_stop(&l->timer);
    if (status != 0)
        link_down(l, uv_strerror(status));
    else if (ip[0] == '\0')
        link_down(l, "no address for the host");
    else
        link_connect(l, ip);
}

static void link_connect_start(struct link *l)
{
    struct gw_redis *c = l->c;
    unsigned char buf[sizeof(struct in6_addr)];
    l->fail_reason[0] = '\0';
    if (inet_pton(AF_INET, c->host, buf) == 1 || inet_pton(AF_INET6, c->host, buf) == 1) {
        link_connect(l, c->host);
        return;
    }
    /* hiredis would resolve a name with a blocking getaddrinfo: resolve it off the loop. */
    struct resolve *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        link_down(l, "out of memory");
        return;
    }
    r->l = l;
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = uv_getaddrinfo(c->loop, &r->req, on_resolved, c->host, NULL, &hints);
    if (rc != 0) {
        free(r);
        link_down(l, uv_strerror(rc));
        return;
    }
    l->resolve = r;
    l->state = LINK_RESOLVING;
    uv_timer_start(&l->timer, on_link_timer, c->connect_timeout_ms, 0);
}

static void resolve_orphan(struct link *l)
{
    if (l->resolve == NULL)
        return;
    l->resolve->l = NULL;
    uv_cancel((uv_req_t *)&l->resolve->req);
    l->resolve = NULL;
}

static void on_link_timer(uv_timer_t *t)
{
    struct link *l = t->data;
    switch (l->state) {
    case LINK_BACKOFF:
        link_connect_start(l);
        return;
    case LINK_RESOLVING:
        resolve_orphan(l);
        link_down(l, "name resolution timed out");
        return;
    case LINK_CONNECTING:
        link_drop(l, "connect timed out");
        return;
    case LINK_SETUP:
        link_drop(l, l->fail_reason[0] != '\0' ? l->fail_reason : "setup timed out");
        return;
    case LINK_OFF:
    case LINK_READY:
        return;
    }
}

static void on_link_closed(uv_handle_t *h);

/* Starts the link from the loop: nothing runs during the caller's call. */
static void link_start(struct link *l)
{
    struct gw_redis *c = l->c;
    uv_timer_init(c->loop, &l->timer);
    l->timer.data = l;
    c->open_handles++;
    l->started = true;
    l->state = LINK_BACKOFF;
    uv_timer_start(&l->timer, on_link_timer, 0, 0);
}

static void link_close(struct link *l)
{
    if (!l->started)
        return;
    resolve_orphan(l);
    redisAsyncContext *ac = l->ac;
    l->ac = NULL;
    l->state = LINK_OFF;
    if (ac != NULL)
        redisAsyncFree(ac);
    uv_close((uv_handle_t *)&l->timer, on_link_closed);
}

/* ---- subscriptions ------------------------------------------------------------------------ */

static void sub_free_if_done(struct gw_redis_sub *sub)
{
    if (sub->cb != NULL || !gw_list_empty(&sub->wait) || sub->c->delivering > 0)
        return;
    gw_list_remove(&sub->link);
    free(sub);
}

/* After an event loop over the subscriptions: frees those ended during it. */
static void subs_sweep(struct gw_redis *c)
{
    struct gw_list *it = c->subs.next;
    while (it != &c->subs) {
        struct gw_redis_sub *sub = gw_container_of(it, struct gw_redis_sub, link);
        it = it->next;
        sub_free_if_done(sub);
    }
}

static void on_sub_reply(redisAsyncContext *ac, void *r, void *privdata);

static void sub_send(struct gw_redis_sub *sub)
{
    struct link *l = &sub->c->sub;
    if (l->state != LINK_READY || l->ac == NULL)
        return; /* sent when the link is up */
    if (redisAsyncCommandArgv(l->ac, on_sub_reply, l, sub->argc, sub->argv, sub->lens) != REDIS_OK)
        return; /* the link is going down: sent again when it is back */
    sub->left = (size_t)sub->argc - 1;
    gw_list_insert_tail(&sub->c->sub_waiting, &sub->wait);
}

/* Tells every live, active subscription of an event: a message (status 0) to those that have
 * channel ch; a loss (GW_EREDISDOWN, ch NULL) to all of them, which are no longer active. A
 * callback may subscribe, unsubscribe or close the client. */
static void subs_deliver(struct gw_redis *c, int status, const char *ch, size_t chlen,
                         const char *msg, size_t len)
{
    c->delivering++;
    for (struct gw_list *it = c->subs.next; it != &c->subs && !c->closing; it = it->next) {
        struct gw_redis_sub *sub = gw_container_of(it, struct gw_redis_sub, link);
        if (sub->cb == NULL || !sub->active)
            continue;
        bool match = ch == NULL;
        for (int i = 1; !match && i < sub->argc; i++)
            match = sub->lens[i] == chlen && memcmp(sub->argv[i], ch, chlen) == 0;
        if (!match)
            continue;
        if (status != 0)
            sub->active = false;
        sub->cb(sub->arg, status, ch, chlen, msg, len);
    }
    c->delivering--;
    if (c->delivering == 0 && !c->closing)
        subs_sweep(c);
}

/* One subscribe confirmation: the oldest SUBSCRIBE still due counts it down, and its
 * subscription becomes active with its last one. */
static void sub_confirmed(struct gw_redis *c)
{
    if (gw_list_empty(&c->sub_waiting))
        return;
    struct gw_redis_sub *sub = gw_container_of(c->sub_waiting.next, struct gw_redis_sub, wait);
    if (--sub->left > 0)
        return;
    gw_list_remove(&sub->wait);
    if (sub->cb == NULL) {
        sub_free_if_done(sub);
        return;
    }
    sub->active = true;
    c->delivering++;
    sub->cb(sub->arg, 0, NULL, 0, NULL, 0);
    c->delivering--;
    if (c->delivering == 0 && !c->closing)
        subs_sweep(c);
}

static bool reply_is(const redisReply *e, const char *s)
{
    return e->type == REDIS_REPLY_STRING && e->len == strlen(s) && strcasecmp(e->str, s) == 0;
}

/* Every reply on a subscribed channel: messages, and (un)subscribe confirmations. */
static void on_sub_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct link *l = privdata;
    const redisReply *reply = r;
    if (!reply_live(l, ac, reply))
        return;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
        reply->element[1]->type != REDIS_REPLY_STRING)
        return;
    const redisReply *kind = reply->element[0];
    if (reply_is(kind, "message") && reply->element[2]->type == REDIS_REPLY_STRING)
        subs_deliver(l->c, 0, reply->element[1]->str, reply->element[1]->len,
                     reply->element[2]->str, reply->element[2]->len);
    else if (reply_is(kind, "subscribe"))
        sub_confirmed(l->c);
}

/* The subscription link is up: every subscription is made (again). */
static void subs_ready(struct gw_redis *c)
{
    for (struct gw_list *it = c->subs.next; it != &c->subs; it = it->next) {
        struct gw_redis_sub *sub = gw_container_of(it, struct gw_redis_sub, link);
        if (sub->cb != NULL)
            sub_send(sub);
    }
}

/* The subscription link went down: no confirmation of the old connection will come, and the
 * active subscriptions hear of the loss. */
static void subs_lost(struct gw_redis *c)
{
    while (!gw_list_empty(&c->sub_waiting))
        gw_list_remove(c->sub_waiting.next);
    subs_deliver(c, GW_EREDISDOWN, NULL, 0, NULL, 0);
}

int gw_redis_subscribe(struct gw_redis *c, const char *const *channels, size_t n,
                       gw_redis_msg_cb cb, void *arg, struct gw_redis_sub **out)
{
    if (channels == NULL || n == 0 || n >= (size_t)INT32_MAX || cb == NULL)
        return GW_EINVAL;
    size_t names = 0;
    for (size_t i = 0; i < n; i++) {
        if (channels[i] == NULL)
            return GW_EINVAL;
        names += strlen(channels[i]) + 1;
    }
    if (c->closing)
        return GW_EREDISDOWN;
    struct gw_redis_sub *sub =
        malloc(sizeof(*sub) + (n + 1) * (sizeof(char *) + sizeof(size_t)) + names);
    if (sub == NULL)
        return GW_ENOMEM;
    memset(sub, 0, sizeof(*sub));
    sub->c = c;
    sub->cb = cb;
    sub->arg = arg;
    sub->argc = (int)n + 1;
    sub->argv = (const char **)(void *)(sub + 1);
    sub->lens = (size_t *)(void *)(sub->argv + n + 1);
    char *p = (char *)(sub->lens + n + 1);
    sub->argv[0] = "SUBSCRIBE";
    sub->lens[0] = 9;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(channels[i]);
        memcpy(p, channels[i], len + 1);
        sub->argv[i + 1] = p;
        sub->lens[i + 1] = len;
        p += len + 1;
    }
    gw_list_init(&sub->wait);
    gw_list_insert_tail(&c->subs, &sub->link);
    if (!c->sub.started)
        link_start(&c->sub);
    else
        sub_send(sub);
    *out = sub;
    return 0;
}

void gw_redis_unsubscribe(struct gw_redis_sub *sub)
{
    struct gw_redis *c = sub->c;
    if (sub->cb == NULL)
        return;
    sub->cb = NULL;
    sub->active = false;
    for (int i = 1; i < sub->argc && c->sub.state == LINK_READY && c->sub.ac != NULL; i++) {
        bool used = false;
        for (struct gw_list *it = c->subs.next; it != &c->subs && !used; it = it->next) {
            const struct gw_redis_sub *o = gw_container_of(it, struct gw_redis_sub, link);
            for (int j = 1; o->cb != NULL && !used && j < o->argc; j++)
                used = o->lens[j] == sub->lens[i] &&
                       memcmp(o->argv[j], sub->argv[i], sub->lens[i]) == 0;
        }
        const char *argv[2] = {"UNSUBSCRIBE", sub->argv[i]};
        size_t lens[2] = {11, sub->lens[i]};
        if (!used)
            redisAsyncCommandArgv(c->sub.ac, on_sub_reply, &c->sub, 2, argv, lens);
    }
    sub_free_if_done(sub);
}

/* ---- client ------------------------------------------------------------------------------- */

static char *dup_or_null(const char *s, bool *ok)
{
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    if (d == NULL)
        *ok = false;
    return d;
}

static void client_free(struct gw_redis *c)
{
    while (!gw_list_empty(&c->subs)) {
        struct gw_list *n = c->subs.next;
        gw_list_remove(n);
        free(gw_container_of(n, struct gw_redis_sub, link));
    }
    free(c->scripts);
    free(c->host);
    free(c->username);
    free(c->password);
    free(c->addr);
    free(c);
}

/* One of the client's timers has closed; the last one frees the client. */
static void handle_closed(struct gw_redis *c)
{
    if (--c->open_handles > 0)
        return;
    gw_redis_closed_cb cb = c->on_closed;
    void *arg = c->closed_arg;
    client_free(c);
    if (cb != NULL)
        cb(arg);
}

static void on_deadline_closed(uv_handle_t *h)
{
    handle_closed(h->data);
}

static void on_link_closed(uv_handle_t *h)
{
    handle_closed(((struct link *)h->data)->c);
}

static void link_init(struct link *l, struct gw_redis *c, bool sub)
{
    l->c = c;
    l->sub = sub;
    l->state = LINK_OFF;
}

int gw_redis_new(struct gw_redis **out, uv_loop_t *loop, const struct gw_redis_opts *o)
{
    int rc = GW_EINVAL;
    struct gw_redis *c = NULL;
    bool ok = true;
    if (o->host == NULL || o->host[0] == '\0' || o->connect_timeout_ms == 0 ||
        o->backoff_max_ms == 0 || o->backoff_max_ms < o->backoff_min_ms)
        goto fail;
    rc = GW_ENOMEM;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        goto fail;
    c->host = dup_or_null(o->host, &ok);
    c->username = dup_or_null(o->username, &ok);
    c->password = dup_or_null(o->password, &ok);
    size_t addr_cap = strlen(o->host) + 8;
    c->addr = malloc(addr_cap);
    if (!ok || c->addr == NULL)
        goto fail;
    snprintf(c->addr, addr_cap, "%s:%u", o->host, (unsigned)o->port);
    c->loop = loop;
    c->port = o->port;
    c->db = o->db;
    c->connect_timeout_ms = o->connect_timeout_ms;
    c->backoff_min_ms = o->backoff_min_ms;
    c->backoff_max_ms = o->backoff_max_ms;
    c->stats = gw_redis_stats_for(o->use);
    COUNT(c, clients, 1);
    gw_list_init(&c->pending);
    gw_list_init(&c->watchers);
    gw_list_init(&c->subs);
    gw_list_init(&c->sub_waiting);
    link_init(&c->cmd, c, false);
    link_init(&c->sub, c, true);
    uv_timer_init(loop, &c->deadline_timer);
    c->deadline_timer.data = c;
    c->open_handles = 1;
    link_start(&c->cmd);
    *out = c;
    return 0;
fail:
    if (c != NULL)
        client_free(c);
    return rc;
}

void gw_redis_close(struct gw_redis *c, gw_redis_closed_cb on_closed, void *arg)
{
    if (c->closing)
        return;
    c->closing = true;
    c->on_closed = on_closed;
    c->closed_arg = arg;
    COUNT(c, clients, -1);
    if (c->reported == REPORT_UP)
        COUNT(c, clients_up, -1);
    /* Answer here: freeing a context from inside its reply callback is deferred by hiredis
     * until that callback returns. */
    while (!gw_list_empty(&c->pending))
        cmd_answer(gw_container_of(c->pending.next, struct gw_redis_cmd, link), GW_EREDISDOWN,
                   NULL);
    link_close(&c->cmd);
    link_close(&c->sub);
    uv_close((uv_handle_t *)&c->deadline_timer, on_deadline_closed);
}

bool gw_redis_up(const struct gw_redis *c)
{
    return !c->closing && c->cmd.state == LINK_READY;
}

const char *gw_redis_addr(const struct gw_redis *c)
{
    return c->addr;
}
