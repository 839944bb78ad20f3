/*
 * The revoked-token set: the 64-bit keys of access tokens (their "jti") and sessions (their
 * "sid") that must no longer be accepted, each until its own expiry (the latest time a token
 * it covers can still be valid). One set per process, shared by every thread; built-in
 * identity (src/identity/) adds to it on logout, refresh-token reuse and when sessions are
 * revoked, and JWT authentication (policy/auth.c) asks it about every verified token.
 *
 * Scaled out (identity.revocation.backend "redis"), state/revoked_redis.c carries each addition
 * to every other instance, which learns it into its own set: the check stays a local lookup.
 *
 * Asking costs one relaxed atomic load while the set is empty and not in doubt (always, without
 * built-in identity), else a mutex and an open-addressing probe. Entries are dropped when they
 * expire (by gw_revoked_sweep and when the table grows).
 *
 * In doubt: while the set may be missing revocations made by other instances (Redis
 * unreachable, or the set not yet read again after a reconnect), state/revoked_redis.c says so
 * with gw_revoked_set_doubt, and gw_revoked_check answers as identity.revocation.failure_policy
 * chose: from this set alone (local), or "cannot tell" (fail_closed).
 */
#ifndef GW_STATE_REVOKED_H
#define GW_STATE_REVOKED_H

#include <stdbool.h>
#include <stdint.h>

/* The key of a jti or sid string: FNV-1a 64, never 0 (0 means "no such claim"). */
uint64_t gw_revoked_key(const char *s);

/* Adds key (not 0) until until_s (Unix seconds); a later expiry replaces an earlier one; then
 * hands it to the sink, when one is set (the Redis fan-out, state/revoked_redis.h, tells the
 * other gantry instances). Returns 0, GW_EINVAL (key 0) or GW_ENOMEM. Any thread. */
int gw_revoked_add(uint64_t key, int64_t until_s);

/* The same without the sink: what another instance revoked (heard from Redis). Any thread. */
int gw_revoked_learn(uint64_t key, int64_t until_s);

/* Where gw_revoked_add tells each new revocation (called on the adding thread, after the set
 * holds it; must not block). NULL: nowhere (the default). Any thread. */
typedef void (*gw_revoked_sink)(uint64_t key, int64_t until_s);
void gw_revoked_set_sink(gw_revoked_sink fn);

/* True when key (0: false) is in the set and its expiry is after now_s. Any thread. */
bool gw_revoked_has(uint64_t key, int64_t now_s);

/* True when the set may hold something or is in doubt (one relaxed load): callers test it
 * first. */
bool gw_revoked_any(void);

/* How the set answers while it is in doubt. */
enum gw_revoked_doubt {
    GW_REVOKED_SURE = 0,         /* it holds every revocation it should */
    GW_REVOKED_DOUBT_LOCAL = 1,  /* it may miss some: answer from what it holds */
    GW_REVOKED_DOUBT_REFUSE = 2, /* it may miss some: refuse to answer */
};

/* Sets the doubt (state/revoked_redis.c, on each change of its state). Any thread. */
void gw_revoked_set_doubt(enum gw_revoked_doubt d);

/* The doubt now. Any thread. */
enum gw_revoked_doubt gw_revoked_doubt(void);

/* A verified token's check (policy/auth.c, identity's own bearer tokens): its jti and sid keys
 * (0: none; both 0: not a token of built-in identity, always 0). Returns 0 (not revoked),
 * GW_EJWTREVOKED, or GW_EIDREVOCATIONS while the set is in doubt and refuses (503). Each check
 * made in doubt is counted (gw_revoked_stats). Any thread. */
int gw_revoked_check(uint64_t jti_key, uint64_t sid_key, int64_t now_s);

struct gw_revoked_stats {
    unsigned long entries;       /* in the set (expired ones not yet swept included) */
    enum gw_revoked_doubt doubt; /* now */
    uint64_t doubt_local;        /* checks answered from the set alone while in doubt */
    uint64_t doubt_refused;      /* checks refused while in doubt */
};

/* The counters since start (gw_revoked_reset zeroes them). Any thread. */
void gw_revoked_stats(struct gw_revoked_stats *st);

/* Drops entries expired at now_s; returns how many remain. Any thread. */
unsigned long gw_revoked_sweep(int64_t now_s);

/* Empties the set, frees its memory, ends the doubt and zeroes the counters (at exit, and
 * between unit tests). */
void gw_revoked_reset(void);

#endif
