/*
 * Token revocations shared through Redis (identity.revocation.backend "redis", README "Built-in
 * identity", "Scaled out"): every revocation this instance makes (state/revoked.h's
 * gw_revoked_add: logout, logout-all, refresh-token reuse, password change, ...) is written to
 * one Redis sorted set (member: the 16-hex-digit revoked key, score: its expiry in Unix seconds)
 * and published on a channel of the same name, by one Lua script, atomically; every instance
 * subscribes to that channel and learns what it hears into its own in-process set, so a
 * token revoked on one instance is refused by all of them as soon as the message arrives, and
 * verification stays a local lookup. An instance whose subscription comes up (at start, and
 * after each reconnect) reads the live part of the set (ZRANGEBYSCORE now +inf), so one that
 * started later or lost Redis for a while still knows every revocation that has not expired.
 * Entries expire with the tokens they cover: the script drops expired members and keeps the
 * key's TTL at the latest expiry.
 *
 * Redis down: nothing waits for it. Revocations made meanwhile apply here at once and are
 * queued (at most GW_REVOKED_REDIS_QUEUE; beyond that the oldest are dropped, with a log line)
 * and written when Redis is back. One log line per change of state.
 *
 * In sync: the command connection up, the subscription active, and the set read since it
 * became so. Otherwise (at start until then, Redis unreachable, the subscription lost, the
 * read not yet answered) revocations published elsewhere may be missing here, and
 * state/revoked.h is told to doubt (gw_revoked_set_doubt): with failure_policy "local" each
 * instance keeps refusing what it knows (its own revocations, what it heard before); with
 * "fail_closed" the tokens of built-in identity are answered 503 until the set is read again.
 *
 * Thread: start and stop on the control thread, whose loop runs the Redis client; the sink
 * (gw_revoked_add) may run on any thread (it queues and wakes the loop).
 */
#ifndef GW_STATE_REVOKED_REDIS_H
#define GW_STATE_REVOKED_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define GW_REVOKED_REDIS_QUEUE 100000

struct gw_revoked_redis_conf {
    const char *host;
    uint16_t port;
    const char *username, *password; /* NULL: none */
    uint32_t db;
    uint64_t timeout_ms; /* each command, and each connect step */
    uint64_t backoff_min_ms, backoff_max_ms;
    const char *key;  /* the sorted set and the channel */
    bool fail_closed; /* identity.revocation.failure_policy "fail_closed" (else "local") */
};

/* Connects (from the loop, later) and installs the sink. Strings are copied. 0, GW_EINVAL or
 * GW_ENOMEM. Control thread; once. */
int gw_revoked_redis_start(uv_loop_t *loop, const struct gw_revoked_redis_conf *conf);

/* Removes the sink and closes the client (the loop must run afterwards to release it).
 * Nothing when not started. Control thread. */
void gw_revoked_redis_stop(void);

/* Parses a message of the channel ("<16 lowercase hex digits> <decimal Unix seconds>") into
 * *key (not 0) and *until. 0 or GW_EINVAL. Pure: the fuzz target's way in. */
int gw_revoked_redis_parse(const char *msg, size_t len, uint64_t *key, int64_t *until);

#endif
