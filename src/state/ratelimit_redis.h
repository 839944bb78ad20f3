/*
 * The Redis rate-limit backend: the counters of state/ratelimit.h kept in Redis, so several
 * gantry processes share one limit. Built on the shared Redis client (state/redis_client.h),
 * which owns the connection: connect, AUTH, SELECT, backoff, timeouts, NOSCRIPT, pipelining.
 *
 * One decision is one atomic Lua script call (EVALSHA; after a NOSCRIPT reply the client loads
 * the script again and retries). The script implements the four algorithms of
 * state/ratelimit_algos.c with the same integer arithmetic in microseconds, on the time of the
 * Redis server (TIME), so every instance sees one clock; it returns the same struct
 * gw_rl_decision fields as gw_rl_decide would for that state and time. Lua numbers are doubles:
 * integers are exact below 2^53, and a Redis time in microseconds is about 2^50.6 (in 2025), so the
 * spans involved must stay below 2^52 (gw_rl_redis_conf_check). Each key gets a PEXPIRE of the time
 * until it is back at a full allowance, so idle keys vanish by themselves. Differences with the
 * local algorithms: a refusal writes nothing (the state a refusal would store gives the same later
 * decisions), so a clock stepping back after a refusal is clamped to the last admission's time
 * (sliding window) rather than the refusal's; a key holding another type (a limit that changed
 * algorithm) starts afresh. Needs Redis 4.0 or later, a single instance (no Cluster
 * redirections; a primary, since the script writes).
 *
 * Clients: one gw_rl_redis per worker loop, used only on that loop's thread, never blocking.
 * Each has its own Redis client, whose setup loads the script (so a client is up only once
 * the script is in Redis) and whose timeout_ms bounds each connect step and each decision. A
 * failure, a disconnect or one decision timing out takes the client down, fails its decisions
 * in flight with GW_EREDISDOWN, and reconnects after a backoff (doubling from backoff_min_ms
 * up to backoff_max_ms, drawn uniformly between backoff_min_ms and that bound), forever.
 * While down, gw_rl_redis_decide returns GW_EREDISDOWN at once so the caller applies its
 * failure policy without waiting. Concurrent decisions are pipelined by the client.
 *
 * Clients of one process share a gw_rl_redis_shared: the process-wide state (up when a client
 * is ready, down when a ready client fails) is logged once per change, not once per client,
 * and the counters are summed.
 *
 * Pre-allowance (local_share > 0). A client leases up to local_share units of a key in one
 * script call: the script consumes g = min(local_share, what the algorithm admits now) units
 * at once and the client admits the key's next g - 1 requests itself, without a Redis call.
 * Requests for a key whose lease call is in flight wait for it (one call for all of them).
 * A refusal is remembered too, until its retry time (at most 1 s). Leases are per client, in
 * a table of at most GW_RL_REDIS_LEASE_KEYS keys (least recently used out first). What this
 * trades, exactly:
 *   - Count: never more admissions than Redis counted, since every unit admitted locally was
 *     consumed in Redis first. Units of a lease not used before it ends are lost: the shared
 *     limit under-admits by up to local_share - 1 units per key, client and lease.
 *   - Timing: a unit is counted when its lease is taken and used up to the lease's lifetime
 *     later. A lease lives min(period / limit * local_share, 1 s) for gcra and token_bucket;
 *     for fixed_window until its window ends and for sliding_window until its sub-bucket
 *     ends (at most 1 s), measured from when the call was sent, so the windows keep their
 *     exact bounds (at most `limit` per window, resp. in any interval of `period`). gcra and
 *     token_bucket may let through, within a short interval, up to local_share more than
 *     their `burst` (units leased up to one lifetime earlier, over all clients together);
 *     over any longer interval they stay within what Redis admitted.
 *   - Headers: a request admitted from a lease gets the lease's first decision less the units
 *     handed out since, its reset aged by the time elapsed; remaining may under-report
 *     (tokens that arrived since the lease are not seen). A remembered refusal ends no later
 *     than Redis's retry time, so it refuses nothing Redis would admit (but a key deleted in
 *     Redis by hand is noticed up to 1 s late).
 */
#ifndef GW_STATE_RATELIMIT_REDIS_H
#define GW_STATE_RATELIMIT_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "state/ratelimit.h"

#define GW_RL_REDIS_MAX_KEY 512u
#define GW_RL_REDIS_LEASE_KEYS 4096u
/* gw_rl_redis_decide answered at once from a lease: *out is filled, no callback. */
#define GW_RL_REDIS_DONE 1

/* The Lua script (NUL-terminated) and its SHA-1 in hex, for tests and `redis-cli --eval`. */
extern const char gw_rl_redis_script[];
void gw_rl_redis_script_sha(char out[41]);

/* ---- process-wide state, shared by the per-worker clients ------------------------------- */

struct gw_rl_redis_shared;

struct gw_rl_redis_metrics {
    uint64_t decisions;        /* answered with a decision (from Redis or a lease) */
    uint64_t local;            /* of which without a script call of their own (leases) */
    uint64_t calls;            /* script calls sent (EVALSHA, retries after NOSCRIPT included) */
    uint64_t errors;           /* answered GW_EREDISREPLY (an error or malformed reply) */
    uint64_t timeouts;         /* answered GW_EREDISTIMEOUT */
    uint64_t unavailable;      /* answered or returned GW_EREDISDOWN */
    uint64_t state_changes;    /* process-wide up/down changes (each logged once) */
    uint64_t noscript_reloads; /* NOSCRIPT replies (script cache flushed): each one more call */
    uint64_t connects;         /* connections that became ready */
    uint64_t clients;          /* clients the shared state was made for */
    uint64_t clients_up;       /* clients ready now */
    bool up;                   /* process-wide state: up since the last change */
};

/* Creates the shared state for nclients clients (informational). Returns 0 or GW_ENOMEM. */
int gw_rl_redis_shared_new(struct gw_rl_redis_shared **out, size_t nclients);

/* Frees it; every client using it must be closed and its loop run to the end. NULL is a
 * no-op. */
void gw_rl_redis_shared_free(struct gw_rl_redis_shared *s);

/* Any thread: a snapshot of the counters. */
void gw_rl_redis_shared_metrics(struct gw_rl_redis_shared *s, struct gw_rl_redis_metrics *out);

/* ---- one client per worker loop ------------------------------------------------------------ */

struct gw_rl_redis_conf {
    const char *host; /* a name or an address; TCP only */
    uint16_t port;
    const char *username, *password; /* NULL = none; AUTH [username] password on each connect */
    uint32_t db;                     /* SELECT db on each connect when != 0 */
    uint64_t timeout_ms;             /* per decision and per connect step (>= 1) */
    uint64_t backoff_min_ms, backoff_max_ms; /* reconnect delays */
    uint32_t local_share;                    /* pre-allowance units per lease; 0 = off */
};

struct gw_rl_redis;
struct gw_rl_redis_op;

/* status 0 and *d, or GW_EREDISTIMEOUT / GW_EREDISREPLY / GW_EREDISDOWN (d NULL). */
typedef void (*gw_rl_redis_cb)(void *arg, int status, const struct gw_rl_decision *d);

/* Checks that a prepared conf (gw_rl_conf_prepare) fits the script's exact range: the bucket
 * span capacity * interval_us below 2^52. Returns 0 or GW_EINVAL. */
int gw_rl_redis_conf_check(const struct gw_rl_conf *conf);

/* Loop thread. Creates a client on loop and starts connecting; the strings of c are copied.
 * Returns 0, GW_EINVAL (no host or shared, timeout_ms 0, backoff_max_ms 0 or below
 * backoff_min_ms) or GW_ENOMEM. */
int gw_rl_redis_new(struct gw_rl_redis **out, uv_loop_t *loop, const struct gw_rl_redis_conf *c,
                    struct gw_rl_redis_shared *shared);

/* Loop thread. Closes the client: every decision in flight gets its callback with
 * GW_EREDISDOWN during this call (ops cancelled before are not called), later decides return
 * GW_EREDISDOWN, the connection is dropped and the handles are closed; the memory goes when
 * the last handle has closed, so run the loop afterwards. May be called from a callback of
 * this client. A second call is a no-op. */
void gw_rl_redis_close(struct gw_rl_redis *c);

/* Loop thread. True when connected and set up (decisions go to Redis). */
bool gw_rl_redis_up(const struct gw_rl_redis *c);

/* Loop thread. True while script calls are in flight (their decisions not yet answered). */
bool gw_rl_redis_busy(const struct gw_rl_redis *c);

/* Loop thread. Decides one request for `key` (the full Redis key, built by the caller, e.g.
 * "prefix:limit:scope"; 1..GW_RL_REDIS_MAX_KEY bytes, copied) under `conf` (prepared and
 * accepted by gw_rl_redis_conf_check; copied). Returns:
 *   0                 the callback will be called exactly once, later (never during this
 *                     call), unless cancelled; *op (op may be NULL) is the handle to cancel,
 *                     valid until the callback runs;
 *   GW_RL_REDIS_DONE  answered at once from a lease or a remembered refusal: *out is filled,
 *                     no callback;
 *   GW_EREDISDOWN     the client is not ready: no callback, apply the failure policy now;
 *   GW_EINVAL         bad key or conf; GW_ENOMEM. */
int gw_rl_redis_decide(struct gw_rl_redis *c, const struct gw_rl_conf *conf, const char *key,
                       size_t len, struct gw_rl_decision *out, gw_rl_redis_cb cb, void *arg,
                       struct gw_rl_redis_op **op);

/* Loop thread. The callback of op will not be called (the request went away). Only for an op
 * whose callback has not run yet. */
void gw_rl_redis_cancel(struct gw_rl_redis_op *op);

#endif
