/*
 * The PostgreSQL store's operations (internal.h "the store"): the SQLite store's statements
 * (store_sqlite.c, store_sqlite_admin.c) with $n parameters, each value bound, never spliced.
 * Integers travel as decimal text, the sealed TOTP boxes as hex (decode/encode in SQL).
 *
 * Where two gantry instances may race, the database decides: a first registration on an empty
 * store inserts under a table lock; a refresh token's row is locked (SELECT ... FOR UPDATE)
 * for the rotation, so of two rotations of one token the second waits and then sees it used
 * (a reuse, revoking the family); a TOTP step and a recovery code are used by conditional
 * UPDATEs.
 */
#include "identity/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "core/error.h"
#include "core/log.h"

#define USER_COLS                                                                                  \
    "id, username, email, password, roles, created, encode(totp_secret, 'hex'), totp_last_step, "  \
    "permissions"
#define ADMIN_COLS                                                                                 \
    "id, username, email, roles, created, disabled, totp_secret IS NOT NULL, permissions"

/* Decimal text of v into buf[24]. */
static const char *num(char *buf, int64_t v)
{
    snprintf(buf, 24, "%lld", (long long)v);
    return buf;
}

static int64_t col_i64(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static void col_copy(const PGresult *r, int row, int col, char *dst, size_t cap)
{
    snprintf(dst, cap, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

/* The number of rows a command changed. */
static long changed(const PGresult *r)
{
    return strtol(PQcmdTuples((PGresult *)r), NULL, 10);
}

/* Runs one statement on its own connection (acquired and given back). */
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

/* Ends a transaction: COMMIT when rc is 0, else ROLLBACK (whose failure changes nothing: the
 * connection is dropped on release when it stays in the transaction). */
static int finish(struct gw__idp_pgc *c, int rc)
{
    if (rc == 0)
        rc = gw__idp_pg_exec(c, "commit", "COMMIT", 0, NULL, NULL);
    else
        (void)gw__idp_pg_exec(c, "rollback", "ROLLBACK", 0, NULL, NULL);
    return rc;
}

static int pg_users_count(struct gw__idp_store *s, int64_t *n)
{
    PGresult *r;
    *n = 0;
    int rc = one(s, "counting users", "SELECT count(*) FROM idp_users", 0, NULL, &r);
    if (rc < 0)
        return rc;
    *n = PQntuples(r) == 1 ? col_i64(r, 0, 0) : 0;
    PQclear(r);
    return 0;
}

static int pg_user_insert(struct gw__idp_store *s, struct gw__idp_user *u, bool only_first)
{
    char created[24];
    const char *v[] = {u->username, u->email, u->hash, u->roles, num(created, u->created),
                       u->perms};
    struct gw__idp_pgc *c;
    PGresult *r = NULL;
    int rc = gw__idp_pg_acquire(s, &c);
    if (rc < 0)
        return rc;
    if (!only_first) {
        rc = gw__idp_pg_exec(c, "inserting a user",
                             "INSERT INTO idp_users (username, email, password, roles, created, "
                             "permissions) VALUES ($1, $2, $3, $4, $5::bigint, $6) RETURNING id",
                             6, v, &r);
    } else {
        /* The lock makes "the store is empty" and the insert one step for every instance: a
         * second first registration waits, then finds a user. */
        rc = gw__idp_pg_exec(c, "begin", "BEGIN", 0, NULL, NULL);
        if (rc == 0)
            rc = gw__idp_pg_exec(c, "locking users",
                                 "LOCK TABLE idp_users IN SHARE ROW EXCLUSIVE MODE", 0, NULL, NULL);
        if (rc == 0)
            rc = gw__idp_pg_exec(c, "inserting the first user",
                                 "INSERT INTO idp_users (username, email, password, roles, "
                                 "created, permissions) SELECT $1, $2, $3, $4, $5::bigint, $6 "
                                 "WHERE NOT EXISTS (SELECT 1 FROM idp_users) RETURNING id",
                                 6, v, &r);
        rc = finish(c, rc);
    }
    if (rc == 0 && PQntuples(r) == 1)
        u->id = col_i64(r, 0, 0);
    else if (rc == 0)
        rc = GW_EIDCLOSED; /* another registration was first */
    PQclear(r);
    gw__idp_pg_release(c);
    return rc;
}

static int pg_user_find(struct gw__idp_store *s, const char *login, bool by_email, int64_t id,
                        struct gw__idp_user *u)
{
    char idbuf[24];
    const char *v[] = {login ? login : num(idbuf, id)};
    const char *sql =
        login == NULL ? "SELECT " USER_COLS " FROM idp_users WHERE id = $1::bigint AND disabled = 0"
        : by_email    ? "SELECT " USER_COLS " FROM idp_users WHERE email = $1 AND disabled = 0"
                      : "SELECT " USER_COLS " FROM idp_users WHERE username = $1 AND disabled = 0";
    PGresult *r;
    int rc = one(s, "finding a user", sql, 1, v, &r);
    if (rc < 0)
        return rc;
    rc = 1;
    if (PQntuples(r) == 1) {
        u->id = col_i64(r, 0, 0);
        col_copy(r, 0, 1, u->username, sizeof u->username);
        col_copy(r, 0, 2, u->email, sizeof u->email);
        col_copy(r, 0, 3, u->hash, sizeof u->hash);
        col_copy(r, 0, 4, u->roles, sizeof u->roles);
        u->created = col_i64(r, 0, 5);
        size_t got = 0;
        const char *hex = PQgetvalue(r, 0, 6);
        u->totp = !PQgetisnull(r, 0, 6) && strlen(hex) == 2 * GW__IDP_TOTP_BOX &&
                  sodium_hex2bin(u->totp_box, sizeof u->totp_box, hex, strlen(hex), NULL, &got,
                                 NULL) == 0 &&
                  got == GW__IDP_TOTP_BOX;
        u->totp_last_step = col_i64(r, 0, 7);
        col_copy(r, 0, 8, u->perms, sizeof u->perms);
        rc = 0;
    }
    PQclear(r);
    return rc;
}

static int pg_user_set_hash(struct gw__idp_store *s, int64_t id, const char *hash)
{
    char idbuf[24];
    const char *v[] = {num(idbuf, id), hash};
    return one(s, "updating a password hash",
               "UPDATE idp_users SET password = $2 WHERE id = $1::bigint", 2, v, NULL);
}

static int pg_user_delete(struct gw__idp_store *s, int64_t id)
{
    char idbuf[24];
    const char *v[] = {num(idbuf, id)};
    PGresult *r;
    int rc = one(s, "deleting a user", "DELETE FROM idp_users WHERE id = $1::bigint", 1, v, &r);
    if (rc < 0)
        return rc;
    rc = changed(r) > 0 ? 0 : 1;
    PQclear(r);
    return rc;
}

static int pg_session_new(struct gw__idp_store *s, int64_t user, const char *sid, const char *rhash,
                          int64_t now, int64_t expires)
{
    char ub[24], nb[24], eb[24];
    const char *v[] = {sid, num(ub, user), num(nb, now), num(eb, expires), rhash};
    /* One statement: the session and its first token, or neither. */
    return one(s, "inserting a session",
               "WITH s AS (INSERT INTO idp_sessions (sid, user_id, created, expires, last_used) "
               "VALUES ($1, $2::bigint, $3::bigint, $4::bigint, $3::bigint) RETURNING sid) "
               "INSERT INTO idp_refresh (hash, sid) SELECT $5, sid FROM s",
               5, v, NULL);
}

/* Records a session's revocation with it, in one statement: the sessions the UPDATE revoked are
 * its rows (sid), each recorded in idp_revoked until $until. */
#define REVOKE_SQL(where, until)                                                                   \
    "WITH s AS (UPDATE idp_sessions SET revoked = 1 WHERE " where " AND revoked = 0 RETURNING "    \
    "sid), r AS (INSERT INTO idp_revoked (id, until) SELECT sid, " until "::bigint FROM s ON "     \
    "CONFLICT (id) DO UPDATE SET until = GREATEST(idp_revoked.until, EXCLUDED.until)) SELECT sid " \
    "FROM s"

static int revoke_one(struct gw__idp_store *s, struct gw__idp_pgc *c, const char *sid)
{
    char tb[24];
    const char *v[] = {sid, num(tb, (int64_t)time(NULL) + s->revoke_for_s)};
    return gw__idp_pg_exec(c, "revoking a session", REVOKE_SQL("sid = $1", "$2"), 2, v, NULL);
}

static int pg_refresh_rotate(struct gw__idp_store *s, const char *old_hash, const char *new_hash,
                             int64_t now, int64_t idle_s, enum gw__idp_rotate *out, int64_t *user,
                             char *sid)
{
    *out = GW__IDP_UNKNOWN;
    *user = 0;
    sid[0] = '\0';
    struct gw__idp_pgc *c;
    PGresult *r = NULL;
    int rc = gw__idp_pg_acquire(s, &c);
    if (rc < 0)
        return rc;
    const char *v[] = {old_hash};
    rc = gw__idp_pg_exec(c, "begin", "BEGIN", 0, NULL, NULL);
    if (rc == 0)
        rc = gw__idp_pg_exec(c, "looking up a refresh token",
                             "SELECT r.used, s.sid, s.user_id, s.expires, s.revoked, s.last_used "
                             "FROM idp_refresh r JOIN idp_sessions s ON s.sid = r.sid WHERE "
                             "r.hash = $1 FOR UPDATE OF r",
                             1, v, &r);
    if (rc == 0 && PQntuples(r) == 1) {
        bool used = col_i64(r, 0, 0) != 0;
        col_copy(r, 0, 1, sid, GW__IDP_SID_LEN + 1);
        *user = col_i64(r, 0, 2);
        bool live = col_i64(r, 0, 3) > now && col_i64(r, 0, 4) == 0 &&
                    (idle_s == 0 || col_i64(r, 0, 5) + idle_s > now);
        if (used) {
            /* RFC 9700 4.14.2: a refresh token used twice was stolen by one of the two users;
             * which one is unknown, so the whole family goes. */
            rc = revoke_one(s, c, sid);
            *out = GW__IDP_REUSED;
        } else if (live) {
            char nb[24];
            const char *use[] = {old_hash};
            const char *ins[] = {new_hash, sid};
            const char *touch[] = {sid, num(nb, now)};
            rc = gw__idp_pg_exec(c, "using a refresh token",
                                 "UPDATE idp_refresh SET used = 1 WHERE hash = $1 AND used = 0", 1,
                                 use, NULL);
            if (rc == 0)
                rc = gw__idp_pg_exec(c, "inserting a refresh token",
                                     "INSERT INTO idp_refresh (hash, sid) VALUES ($1, $2)", 2, ins,
                                     NULL);
            if (rc == 0)
                rc =
                    gw__idp_pg_exec(c, "touching a session",
                                    "UPDATE idp_sessions SET last_used = $2::bigint WHERE sid = $1",
                                    2, touch, NULL);
            if (rc == 0)
                *out = GW__IDP_ROTATED;
        }
    }
    PQclear(r);
    rc = finish(c, rc < 0 ? GW_EIDSTORE : 0);
    if (rc < 0)
        *out = GW__IDP_UNKNOWN;
    gw__idp_pg_release(c);
    return rc;
}

static int pg_sessions_revoke(struct gw__idp_store *s, int64_t user, const char *sid,
                              void (*each)(void *arg, const char *sid), void *arg)
{
    char ub[24], nb[24], tb[24];
    int64_t now = (int64_t)time(NULL);
    PGresult *r;
    int rc;
    if (sid != NULL) {
        const char *v[] = {sid, num(tb, now + s->revoke_for_s)};
        rc = one(s, "revoking a session", REVOKE_SQL("sid = $1", "$2"), 2, v, &r);
    } else {
        const char *v[] = {num(ub, user), num(nb, now), num(tb, now + s->revoke_for_s)};
        rc = one(s, "revoking sessions",
                 REVOKE_SQL("user_id = $1::bigint AND expires > $2::bigint", "$3"), 3, v, &r);
    }
    if (rc < 0)
        return rc;
    for (int i = 0; i < PQntuples(r); i++)
        each(arg, PQgetvalue(r, i, 0));
    PQclear(r);
    return 0;
}

static int pg_revoked_put(struct gw__idp_store *s, const char *id, int64_t until, int64_t now)
{
    char ub[24], nb[24];
    const char *v[] = {id, num(ub, until), num(nb, now)};
    return one(s, "recording a revocation",
               "WITH p AS (DELETE FROM idp_revoked WHERE until <= $3::bigint AND id <> $1) "
               "INSERT INTO idp_revoked (id, until) VALUES ($1, $2::bigint) ON CONFLICT (id) DO "
               "UPDATE SET until = GREATEST(idp_revoked.until, EXCLUDED.until)",
               3, v, NULL);
}

static int pg_revoked_load(struct gw__idp_store *s, int64_t now,
                           void (*each)(void *arg, const char *id, int64_t until), void *arg)
{
    char nb[24];
    const char *v[] = {num(nb, now)};
    PGresult *r;
    int rc = one(s, "dropping expired revocations",
                 "DELETE FROM idp_revoked WHERE until <= $1::bigint", 1, v, NULL);
    if (rc == 0)
        rc = one(s, "reading revocations",
                 "SELECT id, until FROM idp_revoked WHERE until > $1::bigint", 1, v, &r);
    if (rc < 0)
        return rc;
    for (int i = 0; i < PQntuples(r); i++)
        each(arg, PQgetvalue(r, i, 0), col_i64(r, i, 1));
    PQclear(r);
    return 0;
}

/* ---- TOTP ------------------------------------------------------------------------------------ */

static int pg_totp_pending_set(struct gw__idp_store *s, int64_t user, const unsigned char *box)
{
    char ub[24], hex[2 * GW__IDP_TOTP_BOX + 1];
    sodium_bin2hex(hex, sizeof hex, box, GW__IDP_TOTP_BOX);
    const char *v[] = {num(ub, user), hex};
    int rc = one(s, "storing a TOTP enrolment",
                 "UPDATE idp_users SET totp_pending = decode($2, 'hex') WHERE id = $1::bigint", 2,
                 v, NULL);
    sodium_memzero(hex, sizeof hex);
    return rc;
}

static int pg_totp_pending_get(struct gw__idp_store *s, int64_t user, unsigned char *box)
{
    char ub[24];
    const char *v[] = {num(ub, user)};
    PGresult *r;
    int rc = one(s, "reading a TOTP enrolment",
                 "SELECT encode(totp_pending, 'hex') FROM idp_users WHERE id = $1::bigint AND "
                 "totp_pending IS NOT NULL",
                 1, v, &r);
    if (rc < 0)
        return rc;
    rc = 1;
    size_t got = 0;
    if (PQntuples(r) == 1) {
        const char *hex = PQgetvalue(r, 0, 0);
        if (strlen(hex) == 2 * GW__IDP_TOTP_BOX &&
            sodium_hex2bin(box, GW__IDP_TOTP_BOX, hex, strlen(hex), NULL, &got, NULL) == 0 &&
            got == GW__IDP_TOTP_BOX)
            rc = 0;
    }
    PQclear(r);
    return rc;
}

static int pg_totp_enable(struct gw__idp_store *s, int64_t user, int64_t step, char (*hashes)[65],
                          size_t n)
{
    char ub[24], sb[24];
    const char *v[] = {num(ub, user), num(sb, step)};
    struct gw__idp_pgc *c;
    PGresult *r = NULL;
    int rc = gw__idp_pg_acquire(s, &c);
    if (rc < 0)
        return rc;
    rc = gw__idp_pg_exec(c, "begin", "BEGIN", 0, NULL, NULL);
    if (rc == 0)
        rc = gw__idp_pg_exec(c, "enabling TOTP",
                             "UPDATE idp_users SET totp_secret = totp_pending, totp_pending = "
                             "NULL, totp_last_step = $2::bigint WHERE id = $1::bigint AND "
                             "totp_pending IS NOT NULL",
                             2, v, &r);
    if (rc == 0 && changed(r) == 0)
        rc = 1;
    PQclear(r);
    if (rc == 0)
        rc = gw__idp_pg_exec(c, "clearing recovery codes",
                             "DELETE FROM idp_recovery WHERE user_id = $1::bigint", 1, v, NULL);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *h[] = {ub, hashes[i]};
        rc = gw__idp_pg_exec(c, "storing a recovery code",
                             "INSERT INTO idp_recovery (user_id, hash) VALUES ($1::bigint, $2) ON "
                             "CONFLICT DO NOTHING",
                             2, h, NULL);
    }
    if (rc == 0) {
        rc = finish(c, 0);
    } else {
        (void)finish(c, rc);
        rc = rc < 0 ? GW_EIDSTORE : rc;
    }
    gw__idp_pg_release(c);
    return rc;
}

static int pg_totp_disable(struct gw__idp_store *s, int64_t user, bool *was)
{
    char ub[24];
    const char *v[] = {num(ub, user)};
    struct gw__idp_pgc *c;
    PGresult *r = NULL;
    *was = false;
    int rc = gw__idp_pg_acquire(s, &c);
    if (rc < 0)
        return rc;
    rc = gw__idp_pg_exec(c, "begin", "BEGIN", 0, NULL, NULL);
    if (rc == 0)
        rc = gw__idp_pg_exec(c, "disabling TOTP",
                             "UPDATE idp_users SET totp_secret = NULL, totp_pending = NULL, "
                             "totp_last_step = 0 WHERE id = $1::bigint AND totp_secret IS NOT NULL",
                             1, v, &r);
    *was = rc == 0 && changed(r) > 0;
    PQclear(r);
    /* A pending enrolment goes too, whether or not a secret was confirmed. */
    if (rc == 0)
        rc = gw__idp_pg_exec(c, "dropping a TOTP enrolment",
                             "UPDATE idp_users SET totp_pending = NULL WHERE id = $1::bigint", 1, v,
                             NULL);
    if (rc == 0)
        rc = gw__idp_pg_exec(c, "clearing recovery codes",
                             "DELETE FROM idp_recovery WHERE user_id = $1::bigint", 1, v, NULL);
    rc = finish(c, rc < 0 ? GW_EIDSTORE : 0);
    if (rc < 0)
        *was = false;
    gw__idp_pg_release(c);
    return rc;
}

static int pg_totp_use_step(struct gw__idp_store *s, int64_t user, int64_t step, bool *ok)
{
    char ub[24], sb[24];
    const char *v[] = {num(ub, user), num(sb, step)};
    PGresult *r;
    *ok = false;
    int rc = one(s, "recording a TOTP step",
                 "UPDATE idp_users SET totp_last_step = $2::bigint WHERE id = $1::bigint AND "
                 "totp_last_step < $2::bigint",
                 2, v, &r);
    if (rc < 0)
        return rc;
    *ok = changed(r) > 0;
    PQclear(r);
    return 0;
}

static int pg_recovery_use(struct gw__idp_store *s, int64_t user, const char *hash, bool *ok,
                           int64_t *left)
{
    char ub[24];
    const char *v[] = {num(ub, user), hash};
    struct gw__idp_pgc *c;
    PGresult *r = NULL;
    *ok = false;
    *left = 0;
    int rc = gw__idp_pg_acquire(s, &c);
    if (rc < 0)
        return rc;
    rc = gw__idp_pg_exec(c, "using a recovery code",
                         "UPDATE idp_recovery SET used = 1 WHERE user_id = $1::bigint AND hash = "
                         "$2 AND used = 0",
                         2, v, &r);
    if (rc == 0) {
        *ok = changed(r) > 0;
        PQclear(r);
        r = NULL;
        if (gw__idp_pg_exec(c, "counting recovery codes",
                            "SELECT count(*) FROM idp_recovery WHERE user_id = $1::bigint AND "
                            "used = 0",
                            1, v, &r) == 0 &&
            PQntuples(r) == 1)
            *left = col_i64(r, 0, 0);
        PQclear(r);
    }
    gw__idp_pg_release(c);
    return rc;
}

/* ---- the admin API's --------------------------------------------------------------------------
 */

static int pg_admin_find(struct gw__idp_store *s, const char *name, int64_t id,
                         struct gw__idp_user *u, bool *disabled)
{
    char idbuf[24];
    const char *v[] = {name ? name : num(idbuf, id)};
    PGresult *r;
    int rc = one(s, "finding a user",
                 name ? "SELECT " ADMIN_COLS " FROM idp_users WHERE username = $1"
                      : "SELECT " ADMIN_COLS " FROM idp_users WHERE id = $1::bigint",
                 1, v, &r);
    if (rc < 0)
        return rc;
    rc = 1;
    if (PQntuples(r) == 1) {
        memset(u, 0, sizeof *u);
        u->id = col_i64(r, 0, 0);
        col_copy(r, 0, 1, u->username, sizeof u->username);
        col_copy(r, 0, 2, u->email, sizeof u->email);
        col_copy(r, 0, 3, u->roles, sizeof u->roles);
        u->created = col_i64(r, 0, 4);
        *disabled = col_i64(r, 0, 5) != 0;
        u->totp = PQgetvalue(r, 0, 6)[0] == 't';
        col_copy(r, 0, 7, u->perms, sizeof u->perms);
        rc = 0;
    }
    PQclear(r);
    return rc;
}

static int pg_admin_list(struct gw__idp_store *s, const char *search, int64_t after, uint32_t limit,
                         json_t *arr)
{
    char pat[2 * 256 + 3], ab[24], lb[24];
    gw__idp_like_pattern(search, pat, sizeof pat);
    const char *v[] = {num(ab, after), pat, num(lb, limit)};
    PGresult *r;
    int rc = one(s, "listing users",
                 "SELECT " ADMIN_COLS " FROM idp_users WHERE id > $1::bigint AND (username LIKE "
                 "$2 ESCAPE '\\' OR email LIKE $2 ESCAPE '\\') ORDER BY id LIMIT $3::bigint",
                 3, v, &r);
    if (rc < 0)
        return rc;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:I, s:b, s:b, s:s}", "id",
                              (json_int_t)col_i64(r, i, 0), "username", PQgetvalue(r, i, 1),
                              "email", PQgetvalue(r, i, 2), "roles", PQgetvalue(r, i, 3),
                              "created_at", (json_int_t)col_i64(r, i, 4), "disabled",
                              col_i64(r, i, 5) != 0, "totp_enabled", PQgetvalue(r, i, 6)[0] == 't',
                              "permissions", PQgetvalue(r, i, 7));
        if (o == NULL || json_array_append_new(arr, o) < 0)
            rc = GW_ENOMEM;
    }
    PQclear(r);
    return rc;
}

static int pg_admin_set_disabled(struct gw__idp_store *s, int64_t id, bool disabled)
{
    char idbuf[24];
    const char *v[] = {num(idbuf, id), disabled ? "1" : "0"};
    return one(s, "updating a user",
               "UPDATE idp_users SET disabled = $2::integer WHERE id = $1::bigint", 2, v, NULL);
}

static int pg_admin_set_list(struct gw__idp_store *s, int64_t id, bool perms, const char *list)
{
    char idbuf[24];
    const char *v[] = {num(idbuf, id), list};
    return one(s, "updating a user",
               perms ? "UPDATE idp_users SET permissions = $2 WHERE id = $1::bigint"
                     : "UPDATE idp_users SET roles = $2 WHERE id = $1::bigint",
               2, v, NULL);
}

static int pg_admin_sessions(struct gw__idp_store *s, int64_t user, json_t *arr)
{
    int64_t now = (int64_t)time(NULL);
    char ub[24];
    const char *v[] = {num(ub, user)};
    PGresult *r;
    int rc = one(s, "listing sessions",
                 "SELECT sid, created, expires, last_used, revoked FROM idp_sessions WHERE "
                 "user_id = $1::bigint ORDER BY created DESC, sid LIMIT 200",
                 1, v, &r);
    if (rc < 0)
        return rc;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        int64_t expires = col_i64(r, i, 2);
        bool revoked = col_i64(r, i, 4) != 0;
        json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:b, s:b}", "sid", PQgetvalue(r, i, 0),
                              "created_at", (json_int_t)col_i64(r, i, 1), "expires_at",
                              (json_int_t)expires, "last_used_at", (json_int_t)col_i64(r, i, 3),
                              "revoked", revoked, "live", !revoked && expires > now);
        if (o == NULL || json_array_append_new(arr, o) < 0)
            rc = GW_ENOMEM;
    }
    PQclear(r);
    return rc;
}

static int pg_admin_session_of(struct gw__idp_store *s, int64_t user, const char *sid, bool *found)
{
    char ub[24];
    const char *v[] = {sid, num(ub, user)};
    PGresult *r;
    *found = false;
    int rc = one(s, "finding a session",
                 "SELECT 1 FROM idp_sessions WHERE sid = $1 AND user_id = $2::bigint", 2, v, &r);
    if (rc < 0)
        return rc;
    *found = PQntuples(r) > 0;
    PQclear(r);
    return 0;
}

static const struct gw__idp_store_ops pg_ops = {
    .name = "postgres",
    .close = gw__idp_pg_close,
    .users_count = pg_users_count,
    .user_insert = pg_user_insert,
    .user_find = pg_user_find,
    .user_set_hash = pg_user_set_hash,
    .user_delete = pg_user_delete,
    .session_new = pg_session_new,
    .refresh_rotate = pg_refresh_rotate,
    .sessions_revoke = pg_sessions_revoke,
    .revoked_put = pg_revoked_put,
    .revoked_load = pg_revoked_load,
    .totp_pending_set = pg_totp_pending_set,
    .totp_pending_get = pg_totp_pending_get,
    .totp_enable = pg_totp_enable,
    .totp_disable = pg_totp_disable,
    .totp_use_step = pg_totp_use_step,
    .recovery_use = pg_recovery_use,
    .admin_find = pg_admin_find,
    .admin_list = pg_admin_list,
    .admin_set_disabled = pg_admin_set_disabled,
    .admin_set_list = pg_admin_set_list,
    .admin_sessions = pg_admin_sessions,
    .admin_session_of = pg_admin_session_of,
    .lock_wait = gw__idp_pg_lock_wait,
    .lock_fail = gw__idp_pg_lock_fail,
    .lock_clear = gw__idp_pg_lock_clear,
    .lock_reserve = gw__idp_pg_lock_reserve,
    .lock_release = gw__idp_pg_lock_release,
};

const struct gw__idp_store_ops *gw__idp_pg_ops(void)
{
    return &pg_ops;
}
