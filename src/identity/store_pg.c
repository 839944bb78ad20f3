/*
 * The PostgreSQL store of built-in identity, its connections: a pool of at most `pool` libpq
 * connections shared by the threads that call the store (libuv's thread pool, the control
 * thread), so several gantry instances on one database see the same users and sessions. The
 * operations themselves are in store_pg_ops.c.
 *
 * Never a hang: every wait is bounded by identity.postgres.timeout. A connection is made with
 * PQconnectStart / PQconnectPoll and each statement sent with PQsendQuery(Params) on a socket in
 * non-blocking mode, the thread waiting in poll() with the time left; a statement that does not
 * finish in time drops its connection (the server notices the closed socket) and the call
 * answers GW_EIDSTORE (503). A thread waiting for a free connection waits as long at most.
 *
 * PostgreSQL down: connections are made when needed, so gantry starts without it, and each call
 * tries again (a refused connection fails at once); one log line per change (down, up). An idle
 * connection the server closed meanwhile (a restart) is seen before use (its socket is readable)
 * and replaced, so the first call after PostgreSQL is back succeeds.
 *
 * The schema is migrated by the first connection of the process, in one transaction under the
 * advisory lock the audit log's sink takes too (two gantry instances starting at once), with
 * its versions in gantry_migrations (component "identity"). Its statements are the SQLite
 * store's, in PostgreSQL's types; a database migrated by a newer gantry is refused.
 *
 * libpq resolves a host name with a blocking getaddrinfo, outside the timeout: that happens on
 * the calling thread, a pool thread for the endpoints, the control thread for the admin API's
 * calls (identity/admin.c), never a worker's loop (docs/internals.md, "PostgreSQL off the
 * loops").
 */
#include "identity/internal.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "core/error.h"
#include "core/log.h"

#define POOL_MAX 64
/* The audit log's PostgreSQL sink takes the same lock around its schema step. */
#define MIGRATION_LOCK "727162"

/* Version v is migrations[v - 1]: the SQLite store's schema at its version 4 (users with roles
 * and permissions, sessions with the idle timeout, refresh tokens, TOTP, recovery codes). Flags
 * are integers as in SQLite, so the statements read alike. */
static const char *const migrations[] = {
    "CREATE TABLE idp_users (id bigserial PRIMARY KEY, username text NOT NULL UNIQUE, email text "
    "NOT NULL UNIQUE, password text NOT NULL, roles text NOT NULL, permissions text NOT NULL "
    "DEFAULT '', created bigint NOT NULL, disabled integer NOT NULL DEFAULT 0, totp_secret bytea, "
    "totp_pending bytea, totp_last_step bigint NOT NULL DEFAULT 0);"
    "CREATE TABLE idp_sessions (sid text PRIMARY KEY, user_id bigint NOT NULL REFERENCES "
    "idp_users(id) ON DELETE CASCADE, created bigint NOT NULL, expires bigint NOT NULL, revoked "
    "integer NOT NULL DEFAULT 0, last_used bigint NOT NULL DEFAULT 0);"
    "CREATE INDEX idp_sessions_user ON idp_sessions(user_id);"
    "CREATE TABLE idp_refresh (hash text PRIMARY KEY, sid text NOT NULL REFERENCES "
    "idp_sessions(sid) ON DELETE CASCADE, used integer NOT NULL DEFAULT 0);"
    "CREATE INDEX idp_refresh_sid ON idp_refresh(sid);"
    "CREATE TABLE idp_recovery (user_id bigint NOT NULL REFERENCES idp_users(id) ON DELETE "
    "CASCADE, hash text NOT NULL, used integer NOT NULL DEFAULT 0, PRIMARY KEY (user_id, hash));",
    /* 2: the lockout shared by every instance (store_pg_lockout.c): failed logins per account
     * or client address (key: SHA-256 hex), times in milliseconds of the database's clock */
    "CREATE TABLE idp_lockout (key text PRIMARY KEY, failures integer NOT NULL, window_start "
    "bigint NOT NULL, locked_until bigint NOT NULL DEFAULT 0);",
    /* 3: revocations kept until the tokens they cover expire (id: a session's sid or an access
     * token's jti; until: Unix seconds), loaded into each instance's set at its start */
    "CREATE TABLE idp_revoked (id text PRIMARY KEY, until bigint NOT NULL);"
    "CREATE INDEX idp_revoked_until ON idp_revoked(until);",
};
#define NMIGRATIONS (sizeof migrations / sizeof migrations[0])

/* What each version does (gantry migrate's listing). */
static const char *const migration_what[] = {
    "users, sessions, refresh tokens, TOTP, recovery codes, permissions",
    "the lockout shared by every instance (idp_lockout)",
    "revocations kept across restarts (idp_revoked)",
};

struct gw__idp_pgc {
    struct pg *pg;
    PGconn *conn; /* NULL: not connected */
    bool busy;    /* lent to a caller */
    bool broken;  /* the connection failed: closed when given back */
};

struct pg {
    struct gw__idp_store base; /* first: the store interface */
    char *dsn;
    uint64_t timeout_ms;
    pthread_mutex_t lock; /* the slots, migrated, reported */
    pthread_cond_t freed; /* a slot was given back */
    size_t n;
    struct gw__idp_pgc slots[POOL_MAX];
    bool apply;      /* identity.migrate auto: the first connection migrates; off: checks */
    bool migrated;   /* the schema is current (migrated or checked) */
    bool schema_bad; /* it is not, and cannot be made so here (logged once) */
    int reported;    /* -1 nothing logged yet, 0 down, 1 up */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libpq's message on one line, without its trailing newline. */
static void one_line(const char *msg, char *out, size_t cap)
{
    snprintf(out, cap, "%s", msg && msg[0] ? msg : "connection lost");
    for (char *c = out; *c; c++)
        if (*c == '\n' || *c == '\t' || *c == '\r')
            *c = ' ';
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == ' ')
        out[--n] = '\0';
}

/* One log line per change of PostgreSQL's state as this process sees it. */
static void report(struct pg *pg, bool up, const char *why)
{
    pthread_mutex_lock(&pg->lock);
    bool changed = pg->reported != (up ? 1 : 0);
    pg->reported = up ? 1 : 0;
    pthread_mutex_unlock(&pg->lock);
    if (!changed)
        return;
    if (up)
        gw_log_info("identity: postgres is up");
    else
        gw_log_warn("identity: postgres is down (%s): identity calls answer 503 until it is back",
                    why);
}

/* Waits until conn's socket is readable (or writable too, when write) or the deadline passes.
 * 0, or UV_ETIMEDOUT / GW_EIDSTORE. */
static int wait_socket(PGconn *conn, bool write, int64_t deadline)
{
    int fd = PQsocket(conn);
    if (fd < 0)
        return GW_EIDSTORE;
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return UV_ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = (short)(POLLIN | (write ? POLLOUT : 0))};
        int r = poll(&p, 1, (int)left);
        if (r > 0)
            return 0;
        if (r == 0)
            return UV_ETIMEDOUT;
        if (errno != EINTR)
            return GW_EIDSTORE;
    }
}

/* PostgreSQL's notices ("relation ... already exists, skipping") are not gantry's to print. */
static void on_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* A new connection to pg->dsn within the timeout, in non-blocking mode: *out, or GW_EIDSTORE
 * with why. */
static int connect_one(struct pg *pg, PGconn **out, char *why, size_t cap)
{
    int64_t deadline = mono_ms() + (int64_t)pg->timeout_ms;
    PGconn *c = PQconnectStart(pg->dsn);
    *out = NULL;
    if (c == NULL) {
        snprintf(why, cap, "out of memory");
        return GW_EIDSTORE;
    }
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (PQstatus(c) != CONNECTION_BAD && st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        int rc = wait_socket(c, st == PGRES_POLLING_WRITING, deadline);
        if (rc < 0) {
            snprintf(why, cap, "%s", rc == UV_ETIMEDOUT ? "connect timed out" : "connect failed");
            PQfinish(c);
            return GW_EIDSTORE;
        }
        st = PQconnectPoll(c);
    }
    if (PQstatus(c) != CONNECTION_OK || PQsetnonblocking(c, 1) != 0) {
        one_line(PQerrorMessage(c), why, cap);
        PQfinish(c);
        return GW_EIDSTORE;
    }
    PQsetNoticeProcessor(c, on_notice, NULL);
    *out = c;
    return 0;
}

static bool result_ok(const PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* Sends sql (with n text parameters; n 0: the simple protocol, several statements allowed) and
 * collects its results within the deadline: the first failed one, else the last. */
static int exec_raw(PGconn *conn, const char *sql, int n, const char *const *values,
                    int64_t deadline, PGresult **out)
{
    *out = NULL;
    int ok = n > 0 ? PQsendQueryParams(conn, sql, n, NULL, values, NULL, NULL, 0)
                   : PQsendQuery(conn, sql);
    if (!ok)
        return GW_EIDSTORE;
    int f;
    while ((f = PQflush(conn)) == 1) {
        int rc = wait_socket(conn, true, deadline);
        if (rc < 0)
            return rc;
        if (!PQconsumeInput(conn))
            return GW_EIDSTORE;
    }
    if (f < 0)
        return GW_EIDSTORE;
    PGresult *keep = NULL;
    for (;;) {
        while (PQisBusy(conn)) {
            int rc = wait_socket(conn, false, deadline);
            if (rc == 0 && !PQconsumeInput(conn))
                rc = GW_EIDSTORE;
            if (rc < 0) {
                PQclear(keep);
                return rc;
            }
        }
        PGresult *r = PQgetResult(conn);
        if (r == NULL)
            break;
        if (keep != NULL && !result_ok(keep)) {
            PQclear(r); /* the first failure is the one that tells */
        } else {
            PQclear(keep);
            keep = r;
        }
    }
    *out = keep;
    return keep ? 0 : GW_EIDSTORE;
}

int gw__idp_pg_exec(struct gw__idp_pgc *c, const char *what, const char *sql, int n,
                    const char *const *values, PGresult **res)
{
    struct pg *pg = c->pg;
    PGresult *r = NULL;
    if (res)
        *res = NULL;
    int rc = exec_raw(c->conn, sql, n, values, mono_ms() + (int64_t)pg->timeout_ms, &r);
    if (rc < 0 || PQstatus(c->conn) != CONNECTION_OK) {
        /* The connection is gone or in an unknown state: it is not used again. */
        char why[256];
        if (rc == UV_ETIMEDOUT)
            snprintf(why, sizeof why, "%s timed out after %llu ms", what,
                     (unsigned long long)pg->timeout_ms);
        else
            one_line(PQerrorMessage(c->conn), why, sizeof why);
        c->broken = true;
        PQclear(r);
        gw_log_error("identity: postgres: %s: %s", what, why);
        report(pg, false, why);
        return GW_EIDSTORE;
    }
    if (!result_ok(r)) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (state && strcmp(state, "23505") == 0) { /* unique_violation */
            PQclear(r);
            return GW_EIDTAKEN;
        }
        char why[256];
        one_line(PQresultErrorMessage(r), why, sizeof why);
        gw_log_error("identity: postgres: %s: %s", what, why);
        PQclear(r);
        return GW_EIDSTORE;
    }
    if (res)
        *res = r;
    else
        PQclear(r);
    return 0;
}

/* Applies the migrations above the version recorded, in one transaction (*applied: how many).
 * 0 or GW_EIDSTORE. */
static int migrate(struct gw__idp_pgc *c, size_t *applied)
{
    PGresult *r = NULL;
    *applied = 0;
    int rc = gw__idp_pg_exec(
        c, "migrating (setup)",
        "BEGIN; SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ");"
        "CREATE TABLE IF NOT EXISTS gantry_migrations (component text NOT NULL, version integer "
        "NOT NULL, applied timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (component, version));"
        "SELECT coalesce(max(version), 0) FROM gantry_migrations WHERE component = 'identity'",
        0, NULL, &r);
    if (rc < 0)
        goto fail;
    long have = PQntuples(r) == 1 ? strtol(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    if (have < 0 || (size_t)have > NMIGRATIONS) {
        gw_log_error("identity: postgres: the database's identity schema is at version %ld, this "
                     "gantry knows %zu: refusing to use it (a newer gantry migrated it?)",
                     have, NMIGRATIONS);
        pthread_mutex_lock(&c->pg->lock);
        c->pg->schema_bad = true;
        pthread_mutex_unlock(&c->pg->lock);
        rc = GW_EIDSTORE;
        goto fail;
    }
    for (size_t v = (size_t)have + 1; v <= NMIGRATIONS; v++) {
        char ver[24];
        snprintf(ver, sizeof ver, "%zu", v);
        const char *const p[] = {ver};
        rc = gw__idp_pg_exec(c, "migrating", migrations[v - 1], 0, NULL, NULL);
        if (rc == 0)
            rc = gw__idp_pg_exec(c, "migrating (version)",
                                 "INSERT INTO gantry_migrations (component, version) VALUES "
                                 "('identity', $1::integer)",
                                 1, p, NULL);
        if (rc < 0)
            goto fail;
        (*applied)++;
        gw_log_info("identity: postgres: schema migrated to version %zu", v);
    }
    rc = gw__idp_pg_exec(c, "migrating (commit)", "COMMIT", 0, NULL, NULL);
    if (rc == 0)
        return 0;
fail:
    if (!c->broken)
        (void)gw__idp_pg_exec(c, "rollback", "ROLLBACK", 0, NULL, NULL);
    return GW_EIDSTORE;
}

/* The identity versions recorded (the table may not be there yet: none), into out (may be NULL)
 * and *have. 0 or GW_EIDSTORE. */
static int read_versions(struct gw__idp_pgc *c, size_t *have, struct gw_idp_schema *out)
{
    PGresult *r = NULL;
    *have = 0;
    int rc = gw__idp_pg_exec(c, "looking for the migrations table",
                             "SELECT to_regclass('gantry_migrations') IS NOT NULL", 0, NULL, &r);
    if (rc < 0)
        return rc;
    bool there = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!there)
        return 0;
    rc = gw__idp_pg_exec(c, "reading the schema versions",
                         "SELECT version, to_char(applied AT TIME ZONE 'UTC', "
                         "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM gantry_migrations WHERE "
                         "component = 'identity' ORDER BY version",
                         0, NULL, &r);
    if (rc < 0)
        return rc;
    for (int i = 0; i < PQntuples(r); i++) {
        long v = strtol(PQgetvalue(r, i, 0), NULL, 10);
        if (v > 0 && (size_t)v > *have)
            *have = (size_t)v;
        if (out && v > 0 && (size_t)v <= GW_IDP_SCHEMA_MAX)
            snprintf(out->applied[v - 1], sizeof out->applied[0], "%s", PQgetvalue(r, i, 1));
    }
    PQclear(r);
    return 0;
}

/* identity.migrate off: the schema must be current already. 0, or GW_EIDSTORE (logged once). */
static int check_current(struct gw__idp_pgc *c)
{
    struct pg *pg = c->pg;
    size_t have;
    int rc = read_versions(c, &have, NULL);
    if (rc < 0 || have == NMIGRATIONS)
        return rc;
    pthread_mutex_lock(&pg->lock);
    bool logged = pg->schema_bad;
    pg->schema_bad = true;
    pthread_mutex_unlock(&pg->lock);
    if (!logged && have > NMIGRATIONS)
        gw_log_error("identity: postgres: the database's identity schema is at version %zu, this "
                     "gantry knows %zu: refusing to use it (a newer gantry migrated it?)",
                     have, NMIGRATIONS);
    else if (!logged)
        gw_log_error("identity: postgres: the database's identity schema is at version %zu, this "
                     "gantry needs %zu (%zu migration%s pending) and identity.migrate is off: run "
                     "`gantry migrate -c <config>` first",
                     have, NMIGRATIONS, NMIGRATIONS - have, NMIGRATIONS - have == 1 ? "" : "s");
    return GW_EIDSTORE;
}

/* An idle connection whose socket is readable was closed by the server (or has a notice we do
 * not need): either way it is replaced rather than risked. */
static bool stale(PGconn *conn)
{
    if (PQstatus(conn) != CONNECTION_OK || PQtransactionStatus(conn) != PQTRANS_IDLE)
        return true;
    struct pollfd p = {.fd = PQsocket(conn), .events = POLLIN};
    return p.fd < 0 || poll(&p, 1, 0) != 0;
}

int gw__idp_pg_acquire(struct gw__idp_store *base, struct gw__idp_pgc **out)
{
    struct pg *pg = (struct pg *)base;
    struct gw__idp_pgc *c = NULL;
    *out = NULL;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(pg->timeout_ms / 1000);
    until.tv_nsec += (long)(pg->timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&pg->lock);
    for (;;) {
        /* A connected slot first, else an empty one. */
        for (size_t i = 0; i < pg->n && (c == NULL || c->conn == NULL); i++)
            if (!pg->slots[i].busy && (c == NULL || pg->slots[i].conn != NULL))
                c = &pg->slots[i];
        if (c != NULL || pthread_cond_timedwait(&pg->freed, &pg->lock, &until) != 0)
            break;
    }
    if (c != NULL)
        c->busy = true;
    bool migrated = pg->migrated;
    pthread_mutex_unlock(&pg->lock);
    if (c == NULL) {
        gw_log_error("identity: postgres: all %zu connections stayed busy for %llu ms", pg->n,
                     (unsigned long long)pg->timeout_ms);
        return GW_EIDSTORE;
    }
    if (c->conn != NULL && stale(c->conn)) {
        PQfinish(c->conn);
        c->conn = NULL;
    }
    if (c->conn == NULL) {
        char why[256];
        if (connect_one(pg, &c->conn, why, sizeof why) < 0) {
            report(pg, false, why);
            gw__idp_pg_release(c);
            return GW_EIDSTORE;
        }
    }
    if (!migrated) {
        size_t applied;
        if ((pg->apply ? migrate(c, &applied) : check_current(c)) < 0) {
            gw__idp_pg_release(c);
            return GW_EIDSTORE;
        }
        pthread_mutex_lock(&pg->lock);
        pg->migrated = true;
        pg->schema_bad = false;
        pthread_mutex_unlock(&pg->lock);
    }
    report(pg, true, NULL);
    *out = c;
    return 0;
}

void gw__idp_pg_release(struct gw__idp_pgc *c)
{
    if (c == NULL)
        return;
    struct pg *pg = c->pg;
    /* A connection left inside a transaction (a failure on the way) is not lent again as is. */
    if (c->conn != NULL && (c->broken || PQtransactionStatus(c->conn) != PQTRANS_IDLE)) {
        PQfinish(c->conn);
        c->conn = NULL;
    }
    c->broken = false;
    pthread_mutex_lock(&pg->lock);
    c->busy = false;
    pthread_cond_signal(&pg->freed);
    pthread_mutex_unlock(&pg->lock);
}

void gw__idp_pg_close(struct gw__idp_store *base)
{
    struct pg *pg = (struct pg *)base;
    for (size_t i = 0; i < pg->n; i++)
        if (pg->slots[i].conn != NULL)
            PQfinish(pg->slots[i].conn);
    pthread_cond_destroy(&pg->freed);
    pthread_mutex_destroy(&pg->lock);
    free(pg->dsn);
    free(pg);
}

int gw__idp_pg_open(const char *dsn, uint32_t pool, uint64_t timeout_ms, struct gw__idp_store **out)
{
    return gw__idp_pg_open_with(dsn, pool, timeout_ms, true, out);
}

/* A store of pool connections, none made yet. NULL when out of memory. */
static struct pg *pg_new(const char *dsn, uint32_t pool, uint64_t timeout_ms, bool apply)
{
    struct pg *pg = calloc(1, sizeof *pg);
    if (pg == NULL || (pg->dsn = strdup(dsn)) == NULL) {
        free(pg);
        return NULL;
    }
    pg->base.ops = gw__idp_pg_ops();
    pg->timeout_ms = timeout_ms;
    pg->apply = apply;
    pg->n = pool > POOL_MAX ? POOL_MAX : pool;
    pg->reported = -1;
    pthread_mutex_init(&pg->lock, NULL);
    pthread_cond_init(&pg->freed, NULL);
    for (size_t i = 0; i < pg->n; i++)
        pg->slots[i].pg = pg;
    return pg;
}

int gw__idp_pg_open_with(const char *dsn, uint32_t pool, uint64_t timeout_ms, bool apply,
                         struct gw__idp_store **out)
{
    *out = NULL;
    if (dsn == NULL || pool == 0 || timeout_ms == 0)
        return GW_EIDSTORE;
    struct pg *pg = pg_new(dsn, pool, timeout_ms, apply);
    if (pg == NULL)
        return GW_ENOMEM;
    /* Connect (and migrate) now when PostgreSQL is there; when it is not, the calls try again. */
    struct gw__idp_pgc *c = NULL;
    if (gw__idp_pg_acquire(&pg->base, &c) == 0)
        gw__idp_pg_release(c);
    /* There, but with a schema this gantry cannot use (newer, or pending with migrate off): the
     * start is refused rather than every call answering 503. */
    if (pg->schema_bad) {
        gw__idp_pg_close(&pg->base);
        return GW_EIDSTORE;
    }
    *out = &pg->base;
    return 0;
}

int gw__idp_pg_schema(const char *dsn, uint64_t timeout_ms, bool apply, struct gw_idp_schema *out)
{
    _Static_assert(NMIGRATIONS <= GW_IDP_SCHEMA_MAX, "GW_IDP_SCHEMA_MAX");
    _Static_assert(NMIGRATIONS == sizeof migration_what / sizeof migration_what[0], "what");
    memset(out, 0, sizeof *out);
    out->store = "postgres";
    out->exists = true;
    out->known = NMIGRATIONS;
    for (size_t v = 0; v < NMIGRATIONS; v++)
        out->what[v] = migration_what[v];
    if (dsn == NULL || timeout_ms == 0)
        return GW_EIDSTORE;
    struct pg *pg = pg_new(dsn, 1, timeout_ms, apply);
    if (pg == NULL)
        return GW_ENOMEM;
    struct gw__idp_pgc *c = &pg->slots[0];
    char why[256];
    size_t applied = 0;
    int rc = GW_EIDSTORE;
    c->busy = true;
    if (connect_one(pg, &c->conn, why, sizeof why) < 0) {
        gw_log_error("identity: postgres: cannot connect: %s", why);
        goto fail;
    }
    if (apply && migrate(c, &applied) < 0)
        goto fail;
    rc = read_versions(c, &out->after, out);
    if (rc < 0)
        goto fail;
    out->before = out->after - applied;
    if (out->after > NMIGRATIONS) {
        gw_log_error("identity: postgres: the database's identity schema is at version %zu, this "
                     "gantry knows %zu (a newer gantry migrated it?)",
                     out->after, NMIGRATIONS);
        rc = GW_EIDSTORE;
    }
fail:
    gw__idp_pg_close(&pg->base);
    return rc;
}
