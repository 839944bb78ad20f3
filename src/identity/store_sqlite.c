/*
 * The SQLite store of built-in identity (one of the two implementations of internal.h's store
 * interface; store_pg.c is the other): users, session families and refresh tokens in one
 * database file, WAL mode, migrations numbered in gantry_migrations (component "identity", the
 * audit log's table). Every statement is prepared once at open and bound with parameters. One
 * connection under a mutex: callers are libuv's thread-pool threads (identity/service.c).
 */
#include "identity/internal.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "core/sqlite_db.h"

static const char *const migrations[] = {
    "CREATE TABLE idp_users (id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, email TEXT "
    "NOT NULL UNIQUE, password TEXT NOT NULL, roles TEXT NOT NULL, created INTEGER NOT NULL, "
    "disabled INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE idp_sessions (sid TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES "
    "idp_users(id) ON DELETE CASCADE, created INTEGER NOT NULL, expires INTEGER NOT NULL, "
    "revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX idp_sessions_user ON idp_sessions(user_id);"
    "CREATE TABLE idp_refresh (hash TEXT PRIMARY KEY, sid TEXT NOT NULL REFERENCES "
    "idp_sessions(sid) ON DELETE CASCADE, used INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX idp_refresh_sid ON idp_refresh(sid);",
    /* 2: the idle timeout of sessions (identity.refresh_idle) */
    "ALTER TABLE idp_sessions ADD COLUMN last_used INTEGER NOT NULL DEFAULT 0;"
    "UPDATE idp_sessions SET last_used = created;",
    /* 3: TOTP (identity.totp): sealed secrets (the key's id, then the box), the last step used,
     * and recovery codes stored as SHA-256 */
    "ALTER TABLE idp_users ADD COLUMN totp_secret BLOB;"
    "ALTER TABLE idp_users ADD COLUMN totp_pending BLOB;"
    "ALTER TABLE idp_users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE idp_recovery (user_id INTEGER NOT NULL REFERENCES idp_users(id) ON DELETE "
    "CASCADE, hash TEXT NOT NULL, used INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (user_id, hash));",
    /* 4: permissions (space-separated, as roles), set by the admin API */
    "ALTER TABLE idp_users ADD COLUMN permissions TEXT NOT NULL DEFAULT '';",
    /* 5: user ids never reused (AUTOINCREMENT: a deleted user's id is not given to the next
     * one, whose tokens would otherwise carry the old user's sub). SQLite adds it only by
     * rebuilding the table: create, copy, drop, rename, with foreign keys off (gw_sqlite_open
     * turns them on after the migrations) so the drop cascades nothing. Ids counted from the
     * highest one left. */
    "CREATE TABLE idp_users_v5 (id INTEGER PRIMARY KEY AUTOINCREMENT, username TEXT NOT NULL "
    "UNIQUE, email TEXT NOT NULL UNIQUE, password TEXT NOT NULL, roles TEXT NOT NULL, created "
    "INTEGER NOT NULL, disabled INTEGER NOT NULL DEFAULT 0, totp_secret BLOB, totp_pending BLOB, "
    "totp_last_step INTEGER NOT NULL DEFAULT 0, permissions TEXT NOT NULL DEFAULT '');"
    "INSERT INTO idp_users_v5 (id, username, email, password, roles, created, disabled, "
    "totp_secret, totp_pending, totp_last_step, permissions) SELECT id, username, email, "
    "password, roles, created, disabled, totp_secret, totp_pending, totp_last_step, permissions "
    "FROM idp_users;"
    "DROP TABLE idp_users;"
    "ALTER TABLE idp_users_v5 RENAME TO idp_users;",
    /* 6: revocations kept until the tokens they cover expire (id: a session's sid or an access
     * token's jti; until: Unix seconds), loaded into the in-process set at start */
    "CREATE TABLE idp_revoked (id TEXT PRIMARY KEY, until INTEGER NOT NULL);"
    "CREATE INDEX idp_revoked_until ON idp_revoked(until);",
};

/* What each version does (gantry migrate's listing). */
static const char *const migration_what[] = {
    "users, sessions, refresh tokens",
    "sessions' idle timeout (identity.refresh_idle)",
    "TOTP secrets and recovery codes",
    "users' permissions",
    "user ids never reused (AUTOINCREMENT; the users table rebuilt)",
    "revocations kept across restarts (idp_revoked)",
};
#define NMIGRATIONS (sizeof migrations / sizeof migrations[0])

enum {
    Q_COUNT,
    Q_USER_INSERT,
    Q_USER_INSERT_FIRST,
    Q_USER_BY_NAME,
    Q_USER_BY_EMAIL,
    Q_USER_BY_ID,
    Q_USER_SET_HASH,
    Q_USER_DELETE,
    Q_SESSION_INSERT,
    Q_REFRESH_INSERT,
    Q_REFRESH_LOOKUP,
    Q_REFRESH_USE,
    Q_SESSION_REVOKE,
    Q_SESSION_TOUCH,
    Q_SESSIONS_LIVE,
    Q_TOTP_PENDING_SET,
    Q_TOTP_PENDING_GET,
    Q_TOTP_ENABLE,
    Q_TOTP_DISABLE,
    Q_TOTP_STEP,
    Q_RECOVERY_CLEAR,
    Q_RECOVERY_INSERT,
    Q_RECOVERY_USE,
    Q_RECOVERY_LEFT,
    Q_REVOKED_PUT,
    Q_REVOKED_PRUNE,
    Q_REVOKED_LOAD,
    Q_BEGIN,
    Q_COMMIT,
    Q_ROLLBACK,
    Q__COUNT,
};

#define USER_COLS                                                                                  \
    "id, username, email, password, roles, created, totp_secret, totp_last_step, permissions"
static const char *const sql[Q__COUNT] = {
    [Q_COUNT] = "SELECT COUNT(*) FROM idp_users",
    [Q_USER_INSERT] =
        "INSERT INTO idp_users (username, email, password, roles, created, permissions) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    /* One statement, so that of two registrations racing on an empty store one inserts (in
     * this process or in another on the same file). */
    [Q_USER_INSERT_FIRST] =
        "INSERT INTO idp_users (username, email, password, roles, created, permissions) "
        "SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE NOT EXISTS (SELECT 1 FROM "
        "idp_users)",
    [Q_USER_BY_NAME] = "SELECT " USER_COLS " FROM idp_users WHERE username = ?1 AND disabled = 0",
    [Q_USER_BY_EMAIL] = "SELECT " USER_COLS " FROM idp_users WHERE email = ?1 AND disabled = 0",
    [Q_USER_BY_ID] = "SELECT " USER_COLS " FROM idp_users WHERE id = ?1 AND disabled = 0",
    [Q_USER_SET_HASH] = "UPDATE idp_users SET password = ?2 WHERE id = ?1",
    /* Its sessions, refresh tokens and recovery codes go with it (ON DELETE CASCADE). */
    [Q_USER_DELETE] = "DELETE FROM idp_users WHERE id = ?1",
    [Q_SESSION_INSERT] =
        "INSERT INTO idp_sessions (sid, user_id, created, expires, last_used) VALUES (?1, ?2, ?3, "
        "?4, ?3)",
    [Q_REFRESH_INSERT] = "INSERT INTO idp_refresh (hash, sid) VALUES (?1, ?2)",
    [Q_REFRESH_LOOKUP] = "SELECT r.used, s.sid, s.user_id, s.expires, s.revoked, s.last_used FROM "
                         "idp_refresh r JOIN idp_sessions s ON s.sid = r.sid WHERE r.hash = ?1",
    [Q_REFRESH_USE] = "UPDATE idp_refresh SET used = 1 WHERE hash = ?1 AND used = 0",
    [Q_SESSION_REVOKE] = "UPDATE idp_sessions SET revoked = 1 WHERE sid = ?1 AND revoked = 0",
    [Q_SESSION_TOUCH] = "UPDATE idp_sessions SET last_used = ?2 WHERE sid = ?1",
    [Q_SESSIONS_LIVE] = "SELECT sid FROM idp_sessions WHERE user_id = ?1 AND revoked = 0 AND "
                        "expires > ?2",
    [Q_TOTP_PENDING_SET] = "UPDATE idp_users SET totp_pending = ?2 WHERE id = ?1",
    [Q_TOTP_PENDING_GET] =
        "SELECT totp_pending FROM idp_users WHERE id = ?1 AND totp_pending IS NOT NULL",
    [Q_TOTP_ENABLE] = "UPDATE idp_users SET totp_secret = totp_pending, totp_pending = NULL, "
                      "totp_last_step = ?2 WHERE id = ?1 AND totp_pending IS NOT NULL",
    [Q_TOTP_DISABLE] = "UPDATE idp_users SET totp_secret = NULL, totp_pending = NULL, "
                       "totp_last_step = 0 WHERE id = ?1 AND totp_secret IS NOT NULL",
    [Q_TOTP_STEP] =
        "UPDATE idp_users SET totp_last_step = ?2 WHERE id = ?1 AND totp_last_step < ?2",
    [Q_RECOVERY_CLEAR] = "DELETE FROM idp_recovery WHERE user_id = ?1",
    [Q_RECOVERY_INSERT] = "INSERT OR IGNORE INTO idp_recovery (user_id, hash) VALUES (?1, ?2)",
    [Q_RECOVERY_USE] =
        "UPDATE idp_recovery SET used = 1 WHERE user_id = ?1 AND hash = ?2 AND used = 0",
    [Q_RECOVERY_LEFT] = "SELECT COUNT(*) FROM idp_recovery WHERE user_id = ?1 AND used = 0",
    [Q_REVOKED_PUT] = "INSERT INTO idp_revoked (id, until) VALUES (?1, ?2) ON CONFLICT (id) DO "
                      "UPDATE SET until = max(until, excluded.until)",
    [Q_REVOKED_PRUNE] = "DELETE FROM idp_revoked WHERE until <= ?1",
    [Q_REVOKED_LOAD] = "SELECT id, until FROM idp_revoked WHERE until > ?1",
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
};

struct sq {
    struct gw__idp_store base; /* first: the store interface */
    pthread_mutex_t lock;
    sqlite3 *db;
    sqlite3_stmt *q[Q__COUNT];
};

static const struct gw__idp_store_ops sq_ops;
static void sq_store_close(struct gw__idp_store *base);

int gw__idp_sqlite_open(const char *path, struct gw__idp_store **out)
{
    return gw__idp_sqlite_open_with(path, true, out);
}

int gw__idp_sqlite_schema(const char *path, bool apply, struct gw_idp_schema *out)
{
    sqlite3 *db = NULL;
    size_t applied = 0;
    int rc = GW_EIDSTORE;
    _Static_assert(NMIGRATIONS <= GW_IDP_SCHEMA_MAX, "GW_IDP_SCHEMA_MAX");
    _Static_assert(NMIGRATIONS == sizeof migration_what / sizeof migration_what[0], "what");
    memset(out, 0, sizeof *out);
    out->store = "sqlite";
    out->known = NMIGRATIONS;
    for (size_t v = 0; v < NMIGRATIONS; v++)
        out->what[v] = migration_what[v];
    if (!apply) {
        /* Reading never creates the file. */
        if (access(path, F_OK) != 0)
            return 0;
        out->exists = true;
        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
            gw_log_error("identity: cannot open the SQLite database %s: %s", path,
                         db ? sqlite3_errmsg(db) : "out of memory");
            goto fail;
        }
        sqlite3_busy_timeout(db, 15000); /* a status read waits out a migration (sqlite_db.c) */
    } else {
        out->exists = true;
        if (gw_sqlite_open_with(path, "identity", migrations, NMIGRATIONS, true, true, &applied,
                                &db) < 0)
            goto fail;
    }
    if (gw_sqlite_schema(db, "identity", &out->after, out->applied, GW_IDP_SCHEMA_MAX) < 0)
        goto fail;
    out->before = out->after - applied;
    rc = 0;
fail:
    sqlite3_close(db);
    return rc;
}

int gw__idp_sqlite_open_with(const char *path, bool apply, struct gw__idp_store **out)
{
    struct sq *s = calloc(1, sizeof *s);
    *out = NULL;
    if (s == NULL)
        return GW_ENOMEM;
    s->base.ops = &sq_ops;
    pthread_mutex_init(&s->lock, NULL);
    size_t applied;
    if (gw_sqlite_open_with(path, "identity", migrations, NMIGRATIONS, true, apply, &applied,
                            &s->db) < 0)
        goto fail;
    for (int i = 0; i < Q__COUNT; i++) {
        if (sqlite3_prepare_v2(s->db, sql[i], -1, &s->q[i], NULL) != SQLITE_OK) {
            gw_log_error("identity: sqlite: preparing \"%s\": %s", sql[i], sqlite3_errmsg(s->db));
            goto fail;
        }
    }
    *out = &s->base;
    return 0;
fail:
    sq_store_close(&s->base);
    return GW_EIDSTORE;
}

static void sq_store_close(struct gw__idp_store *base)
{
    struct sq *s = (struct sq *)base;
    if (s == NULL)
        return;
    for (int i = 0; i < Q__COUNT; i++)
        sqlite3_finalize(s->q[i]);
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

struct sqlite3 *gw__idp_sq_lock(struct gw__idp_store *base)
{
    struct sq *s = (struct sq *)base;
    pthread_mutex_lock(&s->lock);
    return s->db;
}

void gw__idp_sq_unlock(struct gw__idp_store *base)
{
    struct sq *s = (struct sq *)base;
    pthread_mutex_unlock(&s->lock);
}

/* A statement ready to bind: reset, bindings cleared. */
static sqlite3_stmt *stmt(struct sq *s, int i)
{
    sqlite3_reset(s->q[i]);
    sqlite3_clear_bindings(s->q[i]);
    return s->q[i];
}

static int fail_sql(struct sq *s, const char *what)
{
    gw_log_error("identity: sqlite: %s: %s", what, sqlite3_errmsg(s->db));
    return GW_EIDSTORE;
}

/* Runs a statement without rows. */
static int run(struct sq *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : fail_sql(s, what);
}

static void copy_col(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

static int sq_users_count(struct gw__idp_store *base, int64_t *n)
{
    struct sq *s = (struct sq *)base;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = stmt(s, Q_COUNT);
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : fail_sql(s, "counting users");
    *n = rc == 0 ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int sq_user_insert(struct gw__idp_store *base, struct gw__idp_user *u, bool only_first)
{
    struct sq *s = (struct sq *)base;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = stmt(s, only_first ? Q_USER_INSERT_FIRST : Q_USER_INSERT);
    sqlite3_bind_text(st, 1, u->username, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, u->email, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, u->hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, u->roles, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, u->created);
    sqlite3_bind_text(st, 6, u->perms, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    int rc = 0;
    if (step == SQLITE_DONE && only_first && sqlite3_changes(s->db) == 0)
        rc = GW_EIDCLOSED; /* another registration was first */
    else if (step == SQLITE_DONE)
        u->id = sqlite3_last_insert_rowid(s->db);
    else if (sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE)
        rc = GW_EIDTAKEN;
    else
        rc = fail_sql(s, "inserting a user");
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int sq_user_find(struct gw__idp_store *base, const char *login, bool by_email, int64_t id,
                        struct gw__idp_user *u)
{
    struct sq *s = (struct sq *)base;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st;
    if (login == NULL) {
        st = stmt(s, Q_USER_BY_ID);
        sqlite3_bind_int64(st, 1, id);
    } else {
        st = stmt(s, by_email ? Q_USER_BY_EMAIL : Q_USER_BY_NAME);
        sqlite3_bind_text(st, 1, login, -1, SQLITE_STATIC);
    }
    int step = sqlite3_step(st);
    int rc = 1;
    if (step == SQLITE_ROW) {
        u->id = sqlite3_column_int64(st, 0);
        copy_col(st, 1, u->username, sizeof u->username);
        copy_col(st, 2, u->email, sizeof u->email);
        copy_col(st, 3, u->hash, sizeof u->hash);
        copy_col(st, 4, u->roles, sizeof u->roles);
        u->created = sqlite3_column_int64(st, 5);
        u->totp = sqlite3_column_bytes(st, 6) == GW__IDP_TOTP_BOX;
        if (u->totp)
            memcpy(u->totp_box, sqlite3_column_blob(st, 6), GW__IDP_TOTP_BOX);
        u->totp_last_step = sqlite3_column_int64(st, 7);
        copy_col(st, 8, u->perms, sizeof u->perms);
        rc = 0;
    } else if (step != SQLITE_DONE) {
        rc = fail_sql(s, "finding a user");
    }
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int sq_user_set_hash(struct gw__idp_store *base, int64_t id, const char *hash)
{
    struct sq *s = (struct sq *)base;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = stmt(s, Q_USER_SET_HASH);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
    int rc = run(s, st, "updating a password hash");
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int insert_refresh(struct sq *s, const char *hash, const char *sid)
{
    sqlite3_stmt *st = stmt(s, Q_REFRESH_INSERT);
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, sid, -1, SQLITE_STATIC);
    return run(s, st, "inserting a refresh token");
}

static int revoked_put(struct sq *s, const char *id, int64_t until)
{
    sqlite3_stmt *st = stmt(s, Q_REVOKED_PUT);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, until);
    return run(s, st, "recording a revocation");
}

/* Revokes session sid, recording the revocation (the caller's transaction): *n counts it when
 * the session was live. */
static int revoke_one(struct sq *s, const char *sid, int *n)
{
    sqlite3_stmt *st = stmt(s, Q_SESSION_REVOKE);
    sqlite3_bind_text(st, 1, sid, -1, SQLITE_STATIC);
    int rc = run(s, st, "revoking a session");
    if (rc == 0 && sqlite3_changes(s->db) > 0) {
        rc = revoked_put(s, sid, (int64_t)time(NULL) + s->base.revoke_for_s);
        if (rc == 0 && n)
            (*n)++;
    }
    return rc;
}

static int sq_session_new(struct gw__idp_store *base, int64_t user, const char *sid,
                          const char *rhash, int64_t now, int64_t expires)
{
    struct sq *s = (struct sq *)base;
    pthread_mutex_lock(&s->lock);
    int rc = run(s, stmt(s, Q_BEGIN), "begin");
    if (rc < 0)
        goto out;
    sqlite3_stmt *st = stmt(s, Q_SESSION_INSERT);
    sqlite3_bind_text(st, 1, sid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, user);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, expires);
    rc = run(s, st, "inserting a session");
    if (rc == 0)
        rc = insert_refresh(s, rhash, sid);
    if (rc == 0)
        rc = run(s, stmt(s, Q_COMMIT), "commit");
    if (rc < 0)
        (void)run(s, stmt(s, Q_ROLLBACK), "rollback");
out:
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int sq_refresh_rotate(struct gw__idp_store *base, const char *old_hash, const char *new_hash,
                             int64_t now, int64_t idle_s, enum gw__idp_rotate *out, int64_t *user,
                             char *sid)
{
    struct sq *s = (struct sq *)base;
    *out = GW__IDP_UNKNOWN;
    *user = 0;
    sid[0] = '\0';
    pthread_mutex_lock(&s->lock);
    int rc = run(s, stmt(s, Q_BEGIN), "begin");
    if (rc < 0)
        goto out;
    sqlite3_stmt *st = stmt(s, Q_REFRESH_LOOKUP);
    sqlite3_bind_text(st, 1, old_hash, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        bool used = sqlite3_column_int(st, 0) != 0;
        copy_col(st, 1, sid, GW__IDP_SID_LEN + 1);
        *user = sqlite3_column_int64(st, 2);
        bool live = sqlite3_column_int64(st, 3) > now && sqlite3_column_int(st, 4) == 0 &&
                    (idle_s == 0 || sqlite3_column_int64(st, 5) + idle_s > now);
        sqlite3_reset(st);
        if (used) {
            /* RFC 9700 4.14.2: a refresh token used twice was stolen by one of the two users;
             * which one is unknown, so the whole family goes. */
            rc = revoke_one(s, sid, NULL);
            *out = GW__IDP_REUSED;
        } else if (live) {
            sqlite3_stmt *use = stmt(s, Q_REFRESH_USE);
            sqlite3_bind_text(use, 1, old_hash, -1, SQLITE_STATIC);
            rc = run(s, use, "using a refresh token");
            if (rc == 0)
                rc = insert_refresh(s, new_hash, sid);
            if (rc == 0) {
                sqlite3_stmt *touch = stmt(s, Q_SESSION_TOUCH);
                sqlite3_bind_text(touch, 1, sid, -1, SQLITE_STATIC);
                sqlite3_bind_int64(touch, 2, now);
                rc = run(s, touch, "touching a session");
            }
            if (rc == 0)
                *out = GW__IDP_ROTATED;
        }
    } else {
        sqlite3_reset(st);
        if (step != SQLITE_DONE)
            rc = fail_sql(s, "looking up a refresh token");
    }
    if (rc == 0)
        rc = run(s, stmt(s, Q_COMMIT), "commit");
    if (rc < 0) {
        (void)run(s, stmt(s, Q_ROLLBACK), "rollback");
        *out = GW__IDP_UNKNOWN;
    }
out:
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int sq_sessions_revoke(struct gw__idp_store *base, int64_t user, const char *sid,
                              void (*each)(void *arg, const char *sid), void *arg)
{
    struct sq *s = (struct sq *)base;
    pthread_mutex_lock(&s->lock);
    int rc = run(s, stmt(s, Q_BEGIN), "begin");
    if (rc < 0)
        goto out;
    if (sid != NULL) {
        int n = 0;
        rc = revoke_one(s, sid, &n);
        if (rc == 0 && n > 0)
            each(arg, sid);
    } else {
        sqlite3_stmt *st = stmt(s, Q_SESSIONS_LIVE);
        sqlite3_bind_int64(st, 1, user);
        sqlite3_bind_int64(st, 2, (int64_t)time(NULL));
        char sids[64][GW__IDP_SID_LEN + 1];
        for (;;) {
            /* In rounds of up to 64: a statement's rows are read before the updates run. */
            size_t n = 0;
            while (n < 64 && sqlite3_step(st) == SQLITE_ROW)
                copy_col(st, 0, sids[n++], sizeof sids[0]);
            sqlite3_reset(st);
            for (size_t i = 0; rc == 0 && i < n; i++) {
                rc = revoke_one(s, sids[i], NULL);
                if (rc == 0)
                    each(arg, sids[i]);
            }
            if (rc < 0 || n < 64)
                break;
        }
    }
    /* A failed commit leaves the in-process set holding more than the store: it refuses more,
     * never less. */
    if (rc == 0)
        rc = run(s, stmt(s, Q_COMMIT), "commit");
    if (rc < 0)
        (void)run(s, stmt(s, Q_ROLLBACK), "rollback");
out:
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int sq_revoked_put(struct gw__idp_store *base, const char *id, int64_t until, int64_t now)
{
    struct sq *s = (struct sq *)base;
    pthread_mutex_lock(&s->lock);
    int rc = revoked_put(s, id, until);
    if (rc == 0) {
        sqlite3_stmt *st = stmt(s, Q_REVOKED_PRUNE);
        sqlite3_bind_int64(st, 1, now);
        rc = run(s, st, "dropping expired revocations");
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int sq_revoked_load(struct gw__idp_store *base, int64_t now,
                           void (*each)(void *arg, const char *id, int64_t until), void *arg)
{
    struct sq *s = (struct sq *)base;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = stmt(s, Q_REVOKED_PRUNE);
    sqlite3_bind_int64(st, 1, now);
    int rc = run(s, st, "dropping expired revocations");
    if (rc == 0) {
        st = stmt(s, Q_REVOKED_LOAD);
        sqlite3_bind_int64(st, 1, now);
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            const unsigned char *id = sqlite3_column_text(st, 0);
            if (id)
                each(arg, (const char *)id, sqlite3_column_int64(st, 1));
        }
        if (step != SQLITE_DONE)
            rc = fail_sql(s, "reading revocations");
        sqlite3_reset(st);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---- TOTP ------------------------------------------------------------------------------------ */

static int sq_totp_pending_set(struct gw__idp_store *base, int64_t user, const unsigned char *box)
{
    struct sq *s = (struct sq *)base;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = stmt(s, Q_TOTP_PENDING_SET);
    sqlite3_bind_int64(st, 1, user);
    sqlite3_bind_blob(st, 2, box, GW__IDP_TOTP_BOX, SQLITE_STATIC);
    int rc = run(s, st, "storing a TOTP enrolment");
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int sq_totp_pending_get(struct gw__idp_store *base, int64_t user, unsigned char *box)
{
    struct sq *s = (struct sq *)base;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = stmt(s, Q_TOTP_PENDING_GET);
    sqlite3_bind_int64(st, 1, user);
    int step = sqlite3_step(st), rc = 1;
    if (step == SQLITE_ROW && sqlite3_column_bytes(st, 0) == GW__IDP_TOTP_BOX) {
        memcpy(box, sqlite3_column_blob(st, 0), GW__IDP_TOTP_BOX);
        rc = 0;
    } else if (step != SQLITE_ROW && step != SQLITE_DONE) {
        rc = fail_sql(s, "reading a TOTP enrolment");
    }
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int recovery_clear(struct sq *s, int64_t user)
{
    sqlite3_stmt *st = stmt(s, Q_RECOVERY_CLEAR);
    sqlite3_bind_int64(st, 1, user);
    return run(s, st, "clearing recovery codes");
}

static int sq_totp_enable(struct gw__idp_store *base, int64_t user, int64_t step,
                          char (*hashes)[65], size_t n)
{
    struct sq *s = (struct sq *)base;
    pthread_mutex_lock(&s->lock);
    int rc = run(s, stmt(s, Q_BEGIN), "begin");
    if (rc < 0)
        goto out;
    sqlite3_stmt *st = stmt(s, Q_TOTP_ENABLE);
    sqlite3_bind_int64(st, 1, user);
    sqlite3_bind_int64(st, 2, step);
    rc = run(s, st, "enabling TOTP");
    if (rc == 0 && sqlite3_changes(s->db) == 0)
        rc = 1;
    if (rc == 0)
        rc = recovery_clear(s, user);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        st = stmt(s, Q_RECOVERY_INSERT);
        sqlite3_bind_int64(st, 1, user);
        sqlite3_bind_text(st, 2, hashes[i], -1, SQLITE_STATIC);
        rc = run(s, st, "storing a recovery code");
    }
    if (rc == 0)
        rc = run(s, stmt(s, Q_COMMIT), "commit");
    if (rc != 0)
        (void)run(s, stmt(s, Q_ROLLBACK), "rollback");
out:
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int sq_totp_disable(struct gw__idp_store *base, int64_t user, bool *was)
{
    struct sq *s = (struct sq *)base;
    *was = false;
    pthread_mutex_lock(&s->lock);
    int rc = run(s, stmt(s, Q_BEGIN), "begin");
    if (rc < 0)
        goto out;
    sqlite3_stmt *st = stmt(s, Q_TOTP_DISABLE);
    sqlite3_bind_int64(st, 1, user);
    rc = run(s, st, "disabling TOTP");
    *was = rc == 0 && sqlite3_changes(s->db) > 0;
    if (rc == 0) {
        /* A pending enrolment goes too, whether or not a secret was confirmed. */
        st = stmt(s, Q_TOTP_PENDING_SET);
        sqlite3_bind_int64(st, 1, user);
        sqlite3_bind_null(st, 2);
        rc = run(s, st, "dropping a TOTP enrolment");
    }
    if (rc == 0)
        rc = recovery_clear(s, user);
    if (rc == 0)
        rc = run(s, stmt(s, Q_COMMIT), "commit");
    if (rc < 0) {
        (void)run(s, stmt(s, Q_ROLLBACK), "rollback");
        *was = false;
    }
out:
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int sq_totp_use_step(struct gw__idp_store *base, int64_t user, int64_t step, bool *ok)
{
    struct sq *s = (struct sq *)base;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = stmt(s, Q_TOTP_STEP);
    sqlite3_bind_int64(st, 1, user);
    sqlite3_bind_int64(st, 2, step);
    int rc = run(s, st, "recording a TOTP step");
    *ok = rc == 0 && sqlite3_changes(s->db) > 0;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int sq_recovery_use(struct gw__idp_store *base, int64_t user, const char *hash, bool *ok,
                           int64_t *left)
{
    struct sq *s = (struct sq *)base;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = stmt(s, Q_RECOVERY_USE);
    sqlite3_bind_int64(st, 1, user);
    sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
    int rc = run(s, st, "using a recovery code");
    *ok = rc == 0 && sqlite3_changes(s->db) > 0;
    *left = 0;
    if (rc == 0) {
        st = stmt(s, Q_RECOVERY_LEFT);
        sqlite3_bind_int64(st, 1, user);
        if (sqlite3_step(st) == SQLITE_ROW)
            *left = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int sq_user_delete(struct gw__idp_store *base, int64_t id)
{
    struct sq *s = (struct sq *)base;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = stmt(s, Q_USER_DELETE);
    sqlite3_bind_int64(st, 1, id);
    int rc = run(s, st, "deleting a user");
    if (rc == 0 && sqlite3_changes(s->db) == 0)
        rc = 1;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static const struct gw__idp_store_ops sq_ops = {
    .name = "sqlite",
    .close = sq_store_close,
    .users_count = sq_users_count,
    .user_insert = sq_user_insert,
    .user_find = sq_user_find,
    .user_set_hash = sq_user_set_hash,
    .user_delete = sq_user_delete,
    .session_new = sq_session_new,
    .refresh_rotate = sq_refresh_rotate,
    .sessions_revoke = sq_sessions_revoke,
    .revoked_put = sq_revoked_put,
    .revoked_load = sq_revoked_load,
    .totp_pending_set = sq_totp_pending_set,
    .totp_pending_get = sq_totp_pending_get,
    .totp_enable = sq_totp_enable,
    .totp_disable = sq_totp_disable,
    .totp_use_step = sq_totp_use_step,
    .recovery_use = sq_recovery_use,
    .admin_find = gw__idp_sq_admin_find,
    .admin_list = gw__idp_sq_admin_list,
    .admin_set_disabled = gw__idp_sq_admin_set_disabled,
    .admin_set_list = gw__idp_sq_admin_set_list,
    .admin_sessions = gw__idp_sq_admin_sessions,
    .admin_session_of = gw__idp_sq_admin_session_of,
};
