/*
 * The Redis client every kind of state kept in Redis uses (rate limits, the response cache,
 * token revocations, registrations, WebSocket fan-out): one client per use and event loop (a
 * worker's, or the control thread's), so one use's slow command or timeout never stalls or
 * drops another's connection (docs/internals.md, Redis client). hiredis's async API on libuv
 * (state/redis_uv.h), host names resolved with uv_getaddrinfo: nothing here ever blocks.
 *
 * Thread: every call, and every callback, on the loop's thread. Nothing is locked; the only
 * thing meant to be shared between threads is a struct gw_redis_script (immutable text and
 * SHA, an atomic counter).
 *
 * Connection. Two TCP connections at most: one for commands, and one for subscriptions
 * (RESP2 allows nothing but (UN)SUBSCRIBE on a subscribed connection), made when the first
 * subscription is. Each connects (resolve, TCP connect), then sets up: AUTH (when a password is
 * set), SELECT (when db != 0), and on the command connection a SCRIPT LOAD of every script
 * given to gw_redis_script_add (a PING when there is no step at all), each step bounded by
 * connect_timeout_ms. A failure, a disconnect, or a command timing out drops the connection,
 * and it is made again after a backoff, forever: uniform between backoff_min_ms and a bound
 * doubling from backoff_min_ms up to backoff_max_ms with each failure in a row.
 *
 * Commands. gw_redis_command and gw_redis_script_run return at once: either an error and no
 * callback ever, or 0 and the callback runs exactly once, later, from the loop (never during
 * the call), unless cancelled. While the command connection is not up they fail at once with
 * GW_EREDISDOWN, so a caller applies its failure policy without waiting. Each command has its
 * own timeout; when one passes, that command gets GW_EREDISTIMEOUT and the connection is
 * dropped: Redis answers in order, so everything sent after it is late too, and a Redis that
 * slow is treated as down rather than let work pile up behind it. Commands issued during one
 * loop iteration leave in one write (hiredis appends them to its output buffer and writes it
 * all when the socket is writable), so concurrent callers are pipelined with no batching here.
 * hiredis writes with write(2): the process must ignore SIGPIPE (runtime/server.c does).
 *
 * State. gw_redis_up() says whether the command connection is up. A watcher
 * (gw_redis_watch) is called on each change: status 0 when it comes up, GW_EREDISDOWN with a
 * reason when it goes down; a client's first failed attempt counts as a change (so a wrong
 * address or password is seen at start), the retries after it do not. Each user applies its
 * own failure policy there (and logs its own line).
 *
 * Ownership. The client copies the options' strings. Replies (struct redisReply, from
 * <hiredis/hiredis.h>) and message strings are valid during the callback only. Scripts,
 * watchers and subscription channel names are the caller's: scripts and watchers must stay
 * valid while the client is open; a subscription's channels are copied.
 */
#ifndef GW_STATE_REDIS_CLIENT_H
#define GW_STATE_REDIS_CLIENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/list.h"

struct redisReply;
struct gw_redis;
struct gw_redis_cmd;
struct gw_redis_sub;

struct gw_redis_opts {
    const char *host; /* a name or an address; TCP only */
    uint16_t port;
    const char *username, *password; /* NULL = none; AUTH [username] password on each connect */
    uint32_t db;                     /* SELECT db on each connect when != 0 */
    uint64_t connect_timeout_ms;     /* per connect step (>= 1) */
    uint64_t backoff_min_ms, backoff_max_ms; /* reconnect delays; 1 <= max, min <= max */
    const char *use; /* what the client serves, for its metrics (state/redis_stats.h): "ratelimit",
                        "registration", ...; NULL: "other" */
};

/* A command's answer: status 0 and the reply; GW_EREDISREPLY and the error reply
 * (REDIS_REPLY_ERROR); or GW_EREDISTIMEOUT / GW_EREDISDOWN and reply NULL. */
typedef void (*gw_redis_reply_cb)(void *arg, int status, const struct redisReply *reply);

/* The command connection came up (status 0, why NULL) or went down (GW_EREDISDOWN, why a
 * short reason for logs: "Connection refused", "AUTH: WRONGPASS ...", "timed out"). */
typedef void (*gw_redis_state_cb)(void *arg, int status, const char *why);

/* One event of a subscription:
 *   status 0, msg != NULL     a message published on `channel`;
 *   status 0, msg NULL        the subscription is active: first, and again after each
 *                             reconnect (what was published while it was not is lost: a
 *                             user resynchronises here);
 *   GW_EREDISDOWN, msg NULL   the subscription connection was lost (reconnecting);
 * channel is NULL unless msg is set. */
typedef void (*gw_redis_msg_cb)(void *arg, int status, const char *channel, size_t channel_len,
                                const char *msg, size_t msg_len);

/* Called once, from the loop, when a closed client has released everything. */
typedef void (*gw_redis_closed_cb)(void *arg);

/* A state watcher: caller-owned memory, registered with gw_redis_watch. */
struct gw_redis_watch {
    struct gw_list link;
    gw_redis_state_cb cb;
    void *arg;
};

/* A Lua script, run by SHA. Fill it with gw_redis_script_init; one may serve every client of
 * a process (the text is immutable, the counter atomic). */
struct gw_redis_script {
    const char *text; /* NUL-terminated, not copied: must outlive every client using it */
    size_t len;
    char sha[41]; /* SHA-1 of text, lowercase hex */
    /** NOSCRIPT replies met, over all clients; each was followed by SCRIPT LOAD and a retry */
    _Atomic uint64_t reloads;
};

/* Any thread. Computes text's SHA-1 into s and zeroes the counter. Returns 0 or GW_EINVAL
 * (text NULL, or the digest failed). */
int gw_redis_script_init(struct gw_redis_script *s, const char *text);

/* Loop thread. Creates a client on loop; it starts connecting from the loop (nothing runs
 * during this call). Returns 0, GW_EINVAL (no host, connect_timeout_ms 0, backoff_max_ms 0 or
 * below backoff_min_ms) or GW_ENOMEM. */
int gw_redis_new(struct gw_redis **out, uv_loop_t *loop, const struct gw_redis_opts *o);

/* Loop thread. Closes the client: every command still pending gets its callback with
 * GW_EREDISDOWN during this call (cancelled ones do not); watchers and subscriptions hear
 * nothing more and subscriptions are freed; later calls fail with GW_EREDISDOWN. The
 * connections are dropped and the handles closed; on_closed (may be NULL) runs from the loop
 * once the memory is gone, so run the loop before uv_loop_close. May be called from any
 * callback of this client. A second call is a no-op. */
void gw_redis_close(struct gw_redis *c, gw_redis_closed_cb on_closed, void *arg);

/* Loop thread. True when the command connection is up and set up. */
bool gw_redis_up(const struct gw_redis *c);

/* Loop thread. "host:port", for log lines; valid while the client is. */
const char *gw_redis_addr(const struct gw_redis *c);

/* Loop thread. Registers w (caller memory, left untouched before) to hear every later state
 * change; nothing is called during this call (gw_redis_up tells the state now). */
void gw_redis_watch(struct gw_redis *c, struct gw_redis_watch *w, gw_redis_state_cb cb, void *arg);

/* Loop thread. w hears nothing more. May be called from a state callback; not needed after
 * gw_redis_close, which forgets every watcher (and not allowed once on_closed has run). */
void gw_redis_unwatch(struct gw_redis_watch *w);

/* Loop thread. Loads s (SCRIPT LOAD) as a setup step of every later connect, so the client is
 * up only once s is in Redis's script cache; when connected already, loads it now. s must
 * stay valid while the client is open. Returns 0 or GW_ENOMEM. */
int gw_redis_script_add(struct gw_redis *c, struct gw_redis_script *s);

/* Loop thread. Sends the command argv[0..argc) (lens[i] bytes each; lens NULL: C strings).
 * Returns 0 (cb runs once, later; *cmd, when cmd is not NULL, is the handle for
 * gw_redis_cancel, valid until cb runs), GW_EREDISDOWN (not up, or closed), GW_EINVAL (argc
 * < 1, timeout_ms 0, cb NULL) or GW_ENOMEM; on an error nothing is sent and cb never runs. */
int gw_redis_command(struct gw_redis *c, int argc, const char *const *argv, const size_t *lens,
                     uint64_t timeout_ms, gw_redis_reply_cb cb, void *arg,
                     struct gw_redis_cmd **cmd);

/* Loop thread. EVALSHA s->sha nkeys argv...: argv holds the nkeys keys, then the arguments
 * (argc in all, lens as for gw_redis_command). A NOSCRIPT reply (the script cache was
 * flushed) is never seen: the script is loaded again and the call sent again, once, keeping
 * its deadline. Returns as gw_redis_command (GW_EINVAL also for nkeys > argc). */
int gw_redis_script_run(struct gw_redis *c, struct gw_redis_script *s, int nkeys, int argc,
                        const char *const *argv, const size_t *lens, uint64_t timeout_ms,
                        gw_redis_reply_cb cb, void *arg, struct gw_redis_cmd **cmd);

/* Loop thread. cmd's callback will not run (its caller went away); Redis may still run the
 * command. Only for a command whose callback has not run yet. */
void gw_redis_cancel(struct gw_redis_cmd *cmd);

/* Loop thread. Subscribes to channels[0..n) (n >= 1, NUL-terminated names, copied): cb hears
 * the subscription's events (gw_redis_msg_cb), the first one later, never during this call;
 * after a reconnect the subscription is made again by itself. Meant for a few subscriptions of
 * a few channels each (a message is matched against each subscription's names). Returns 0
 * (*out is the handle, valid until gw_redis_unsubscribe or gw_redis_close), GW_EINVAL,
 * GW_ENOMEM or GW_EREDISDOWN (the client is closed). */
int gw_redis_subscribe(struct gw_redis *c, const char *const *channels, size_t n,
                       gw_redis_msg_cb cb, void *arg, struct gw_redis_sub **out);

/* Loop thread. Ends the subscription: cb hears nothing more (also when called from cb), and
 * the channels no other subscription uses are unsubscribed. */
void gw_redis_unsubscribe(struct gw_redis_sub *sub);

#endif
