/*
 * The lockout of the PostgreSQL store (internal.h "lockout.c"): failed logins per account and
 * per client address in the table idp_lockout, shared by every gantry instance on the database,
 * so N - 1 failures on one instance and one on another lock the account on both.
 *
 * A key is stored as the SHA-256 hex of "u:<login>" or "a:<address>" (a password typed into the
 * login field is not kept in clear). Times are the database's clock (clock_timestamp(), in
 * milliseconds), never the instances': hosts whose clocks differ still agree on when a lockout
 * ends. A failure is one INSERT ... ON CONFLICT DO UPDATE: the row lock serialises the failures
 * of every instance, and exactly one statement sees the count reach the maximum while no lockout
 * runs; it answers "started" (its row's failures back to 0), so the audit entry of a lockout is
 * written once, by that instance.
 */
#include "identity/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "core/error.h"

/* The database's clock in milliseconds, as SQL. */
#define DB_NOW_MS "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

/* The key's failures counted within the window (the window ended: none) plus this one. The
 * ON CONFLICT branch's "now" is the row it tried to insert: EXCLUDED.window_start. */
#define COUNTED                                                                                    \
    "(CASE WHEN EXCLUDED.window_start - l.window_start > $3::bigint THEN 0 ELSE l.failures END "   \
    "+ 1)"
#define STARTS "(l.locked_until <= EXCLUDED.window_start AND " COUNTED " >= $2::integer)"

static const char fail_sql[] =
    "INSERT INTO idp_lockout AS l (key, failures, window_start, locked_until) "
    "SELECT $1, CASE WHEN $2::integer <= 1 THEN 0 ELSE 1 END, t.now, "
    "CASE WHEN $2::integer <= 1 THEN t.now + $4::bigint ELSE 0 END "
    "FROM (SELECT " DB_NOW_MS " AS now) t "
    "ON CONFLICT (key) DO UPDATE SET "
    "failures = CASE WHEN " STARTS " THEN 0 ELSE " COUNTED " END, "
    "window_start = CASE WHEN " STARTS " OR EXCLUDED.window_start - l.window_start > $3::bigint "
    "THEN EXCLUDED.window_start ELSE l.window_start END, "
    "locked_until = CASE WHEN " STARTS " THEN EXCLUDED.window_start + $4::bigint "
    "ELSE l.locked_until END "
    "RETURNING failures";

/* The SHA-256 hex of key into out[65]. */
static void key_hash(const char *key, char *out)
{
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, (const unsigned char *)key, strlen(key));
    sodium_bin2hex(out, 65, d, sizeof d);
}

static int one(struct gw__idp_store *s, const char *what, const char *sql, int n,
               const char *const *v, PGresult **res)
{
    struct gw__idp_pgc *c;
    int rc = gw__idp_pg_acquire(s, &c);
    if (rc < 0)
        return rc;
    rc = gw__idp_pg_exec(c, what, sql, n, v, res);
    gw__idp_pg_release(c);
    return rc;
}

int gw__idp_pg_lock_wait(struct gw__idp_store *s, const char *key, int64_t *wait_s, bool *counted)
{
    char h[65];
    PGresult *r = NULL;
    *wait_s = 0;
    *counted = false;
    key_hash(key, h);
    const char *const v[] = {h};
    int rc = one(s, "reading a lockout",
                 "SELECT locked_until - " DB_NOW_MS ", failures FROM idp_lockout WHERE key = $1", 1,
                 v, &r);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 1) {
        long long left = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        *wait_s = left > 0 ? (int64_t)((left + 999) / 1000) : 0;
        *counted = strtoll(PQgetvalue(r, 0, 1), NULL, 10) > 0;
    }
    PQclear(r);
    return 0;
}

int gw__idp_pg_lock_fail(struct gw__idp_store *s, const char *key, uint32_t max, uint64_t window_ms,
                         uint64_t lockout_ms, bool *started)
{
    char h[65], m[24], w[24], l[24];
    PGresult *r = NULL;
    *started = false;
    key_hash(key, h);
    snprintf(m, sizeof m, "%u", max);
    snprintf(w, sizeof w, "%llu", (unsigned long long)window_ms);
    snprintf(l, sizeof l, "%llu", (unsigned long long)lockout_ms);
    const char *const v[] = {h, m, w, l};
    struct gw__idp_pgc *c;
    int rc = gw__idp_pg_acquire(s, &c);
    if (rc < 0)
        return rc;
    rc = gw__idp_pg_exec(c, "counting a failed login", fail_sql, 4, v, &r);
    if (rc == 0) {
        *started = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "0") == 0;
        PQclear(r);
        /* Keys that count nothing any more (no lockout running, their window over: mostly
         * logins nobody has) go now and then, so the table stays the size of recent failures. */
        if (randombytes_uniform(64) == 0)
            (void)gw__idp_pg_exec(c, "pruning lockouts",
                                  "DELETE FROM idp_lockout WHERE locked_until <= " DB_NOW_MS
                                  " AND window_start < " DB_NOW_MS " - $1::bigint",
                                  1, (const char *const[]){w}, NULL);
    }
    gw__idp_pg_release(c);
    return rc;
}

int gw__idp_pg_lock_clear(struct gw__idp_store *s, const char *key, bool only_failures, bool *was)
{
    char h[65];
    PGresult *r = NULL;
    *was = false;
    key_hash(key, h);
    const char *const v[] = {h};
    int rc = one(s, "clearing a lockout",
                 only_failures
                     ? "DELETE FROM idp_lockout WHERE key = $1 AND locked_until <= " DB_NOW_MS
                     : "DELETE FROM idp_lockout WHERE key = $1 RETURNING locked_until > " DB_NOW_MS,
                 1, v, &r);
    if (rc < 0)
        return rc;
    for (int i = 0; i < PQntuples(r); i++)
        *was = *was || strcmp(PQgetvalue(r, i, 0), "t") == 0;
    PQclear(r);
    return 0;
}

/* The reservation: the key's row locked (created when absent) in one transaction, the decision
 * made here on what it holds and the database's clock, the row written back. Two instances
 * reserving for one key at once are serialised by the row lock. */
int gw__idp_pg_lock_reserve(struct gw__idp_store *s, const char *key, uint32_t max,
                            uint64_t window_ms, uint64_t lockout_ms, int64_t *wait_s, bool *started)
{
    char h[65];
    PGresult *r = NULL;
    *wait_s = 0;
    *started = false;
    key_hash(key, h);
    const char *const v[] = {h};
    struct gw__idp_pgc *c;
    int rc = gw__idp_pg_acquire(s, &c);
    if (rc < 0)
        return rc;
    rc = gw__idp_pg_exec(c, "begin", "BEGIN", 0, NULL, NULL);
    if (rc == 0)
        rc = gw__idp_pg_exec(c, "reserving a login attempt",
                             "INSERT INTO idp_lockout (key, failures, window_start, locked_until) "
                             "VALUES ($1, 0, " DB_NOW_MS ", 0) ON CONFLICT (key) DO NOTHING",
                             1, v, NULL);
    if (rc == 0)
        rc = gw__idp_pg_exec(c, "reserving a login attempt",
                             "SELECT failures, window_start, locked_until, " DB_NOW_MS
                             " FROM idp_lockout WHERE key = $1 FOR UPDATE",
                             1, v, &r);
    if (rc == 0 && PQntuples(r) == 1) {
        long long failures = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        long long start = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        long long until = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
        long long now = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
        if (until > now) {
            *wait_s = (int64_t)((until - now + 999) / 1000);
        } else {
            if (now - start > (long long)window_ms) {
                start = now;
                failures = 0;
            }
            if (++failures >= (long long)max) {
                until = now + (long long)lockout_ms;
                failures = 0;
                start = now;
                *started = true;
            }
            char fb[24], sb[24], ub[24];
            snprintf(fb, sizeof fb, "%lld", failures);
            snprintf(sb, sizeof sb, "%lld", start);
            snprintf(ub, sizeof ub, "%lld", until);
            const char *const u[] = {h, fb, sb, ub};
            rc = gw__idp_pg_exec(c, "reserving a login attempt",
                                 "UPDATE idp_lockout SET failures = $2::integer, window_start = "
                                 "$3::bigint, locked_until = $4::bigint WHERE key = $1",
                                 4, u, NULL);
        }
    }
    PQclear(r);
    if (rc == 0)
        rc = gw__idp_pg_exec(c, "commit", "COMMIT", 0, NULL, NULL);
    else
        (void)gw__idp_pg_exec(c, "rollback", "ROLLBACK", 0, NULL, NULL);
    if (rc < 0) {
        *started = false;
        *wait_s = 0;
    } else if (randombytes_uniform(64) == 0) {
        /* As lock_fail does: keys that count nothing any more go now and then. */
        char w[24];
        snprintf(w, sizeof w, "%llu", (unsigned long long)window_ms);
        (void)gw__idp_pg_exec(c, "pruning lockouts",
                              "DELETE FROM idp_lockout WHERE locked_until <= " DB_NOW_MS
                              " AND window_start < " DB_NOW_MS " - $1::bigint",
                              1, (const char *const[]){w}, NULL);
    }
    gw__idp_pg_release(c);
    return rc;
}

int gw__idp_pg_lock_release(struct gw__idp_store *s, const char *key, uint32_t max, bool started)
{
    char h[65], m[24];
    key_hash(key, h);
    snprintf(m, sizeof m, "%u", max > 0 ? max - 1 : 0);
    const char *const v[] = {h, m};
    return one(s, "releasing a login attempt",
               started ? "UPDATE idp_lockout SET locked_until = 0, failures = $2::integer WHERE "
                         "key = $1"
                       : "UPDATE idp_lockout SET failures = GREATEST(failures - 1, 0) WHERE key = "
                         "$1 AND $2::integer >= 0",
               2, v, NULL);
}
