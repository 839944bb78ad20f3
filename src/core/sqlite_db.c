/* The shared way to open an embedded SQLite store and migrate its schema (core/sqlite_db.h). */
#include "core/sqlite_db.h"

#include <stdio.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"

int gw_sqlite_exec(sqlite3 *db, const char *component, const char *sql, const char *what)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        gw_log_error("%s: sqlite: %s: %s", component, what, msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return GW_EINVAL;
    }
    return 0;
}

/* The highest version of component recorded in gantry_migrations (0: none), or -1. */
static int schema_version(sqlite3 *db, const char *component)
{
    sqlite3_stmt *st = NULL;
    int have = -1;
    if (sqlite3_prepare_v2(db,
                           "SELECT COALESCE(MAX(version), 0) FROM gantry_migrations WHERE "
                           "component = ?1",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, component, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        have = sqlite3_column_int(st, 0);
    else
        gw_log_error("%s: sqlite: reading the schema version: %s", component, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return have;
}

/* Records version v of component, inside the migration's transaction. */
static int record(sqlite3 *db, const char *component, size_t v)
{
    sqlite3_stmt *st = NULL;
    int rc = GW_EINVAL;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO gantry_migrations VALUES (?1, ?2, "
                           "strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, component, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_bind_int64(st, 2, (sqlite3_int64)v) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE)
        rc = 0;
    else
        gw_log_error("%s: sqlite: migration row: %s", component, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

static int ensure_table(sqlite3 *db, const char *component)
{
    return gw_sqlite_exec(db, component,
                          "CREATE TABLE IF NOT EXISTS gantry_migrations (component TEXT NOT NULL, "
                          "version INTEGER NOT NULL, applied TEXT NOT NULL, PRIMARY KEY "
                          "(component, version))",
                          "migrations table");
}

int gw_sqlite_migrate(sqlite3 *db, const char *component, const char *const *migrations, size_t n,
                      size_t *applied)
{
    *applied = 0;
    if (ensure_table(db, component) < 0)
        return GW_EINVAL;
    /* One version per transaction, the version read again inside it: BEGIN IMMEDIATE takes the
     * database's write lock (waiting up to the busy timeout for another process's), so of two
     * processes migrating at once each version is applied by one of them. */
    for (;;) {
        if (gw_sqlite_exec(db, component, "BEGIN IMMEDIATE", "begin") < 0)
            return GW_EINVAL;
        int have = schema_version(db, component);
        if (have < 0 || (size_t)have > n) {
            if (have >= 0)
                gw_log_error("%s: sqlite: the database has %s schema version %d, newer than this "
                             "gantry knows (%zu)",
                             component, component, have, n);
            (void)gw_sqlite_exec(db, component, "ROLLBACK", "rollback");
            return GW_EINVAL;
        }
        if ((size_t)have == n)
            return gw_sqlite_exec(db, component, "COMMIT", "commit");
        if (gw_sqlite_exec(db, component, migrations[have], "migration") < 0 ||
            record(db, component, (size_t)have + 1) < 0) {
            (void)gw_sqlite_exec(db, component, "ROLLBACK", "rollback");
            return GW_EINVAL;
        }
        if (gw_sqlite_exec(db, component, "COMMIT", "commit") < 0)
            return GW_EINVAL;
        (*applied)++;
        gw_log_info("%s: sqlite: applied %s schema migration %d", component, component, have + 1);
    }
}

int gw_sqlite_schema(sqlite3 *db, const char *component, size_t *have, char (*applied)[32],
                     size_t cap)
{
    sqlite3_stmt *st = NULL;
    *have = 0;
    for (size_t i = 0; i < cap; i++)
        applied[i][0] = '\0';
    /* No table yet: nothing applied. */
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE name = 'gantry_migrations'", -1,
                           &st, NULL) != SQLITE_OK)
        goto fail;
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    st = NULL;
    if (step == SQLITE_DONE)
        return 0;
    if (step != SQLITE_ROW ||
        sqlite3_prepare_v2(db,
                           "SELECT version, applied FROM gantry_migrations WHERE component = ?1 "
                           "ORDER BY version",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, component, -1, SQLITE_STATIC) != SQLITE_OK)
        goto fail;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        sqlite3_int64 v = sqlite3_column_int64(st, 0);
        const unsigned char *t = sqlite3_column_text(st, 1);
        if (v > 0 && (size_t)v > *have)
            *have = (size_t)v;
        if (v > 0 && (size_t)v <= cap)
            snprintf(applied[v - 1], sizeof applied[0], "%s", t ? (const char *)t : "");
    }
    if (step != SQLITE_DONE)
        goto fail;
    sqlite3_finalize(st);
    return 0;
fail:
    gw_log_error("%s: sqlite: reading the schema versions: %s", component, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return GW_EINVAL;
}

/* migrate off: a pending migration refuses the database, saying what to run. */
static int check_current(sqlite3 *db, const char *path, const char *component, size_t n)
{
    size_t have = 0;
    char none[1][32];
    if (gw_sqlite_schema(db, component, &have, none, 0) < 0)
        return GW_EINVAL;
    if (have > n) {
        gw_log_error("%s: sqlite: %s has %s schema version %zu, newer than this gantry knows (%zu)",
                     component, path, component, have, n);
        return GW_EINVAL;
    }
    if (have < n) {
        gw_log_error("%s: sqlite: %s is at %s schema version %zu, this gantry needs %zu (%zu "
                     "migration%s pending) and migrations at start are off: run `gantry migrate "
                     "-c <config>` first",
                     component, path, component, have, n, n - have, n - have == 1 ? "" : "s");
        return GW_EINVAL;
    }
    return 0;
}

int gw_sqlite_open(const char *path, const char *component, const char *const *migrations, size_t n,
                   bool foreign_keys, sqlite3 **out)
{
    size_t applied;
    return gw_sqlite_open_with(path, component, migrations, n, foreign_keys, true, &applied, out);
}

int gw_sqlite_open_with(const char *path, const char *component, const char *const *migrations,
                        size_t n, bool foreign_keys, bool apply, size_t *applied, sqlite3 **out)
{
    sqlite3 *db = NULL;
    *applied = 0;
    if (!apply && access(path, F_OK) != 0) {
        /* Not created here: creating is the first migration's work. */
        gw_log_error("%s: sqlite: %s does not exist and migrations at start are off: run `gantry "
                     "migrate -c <config>` first (it creates the database at %s schema version "
                     "%zu)",
                     component, path, component, n);
        return GW_EINVAL;
    }
    *out = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        gw_log_error("%s: cannot open the SQLite database %s: %s", component, path,
                     db ? sqlite3_errmsg(db) : "out of memory");
        goto fail;
    }
    /* Opening waits longer for a lock than a statement does later (2 s): another gantry or
     * `gantry migrate` starting at the same time holds it for its migration, and on a loaded
     * machine that once took longer than 2 s (journal_mode: database is locked). */
    sqlite3_busy_timeout(db, 15000);
    /* Foreign keys are turned on after the migrations: one that rebuilds a table (the SQLite
     * way: create, copy, drop, rename) must not cascade the drop. */
    if (gw_sqlite_exec(db, component, "PRAGMA journal_mode=WAL", "journal_mode") < 0 ||
        gw_sqlite_exec(db, component, "PRAGMA synchronous=NORMAL", "synchronous") < 0 ||
        gw_sqlite_exec(db, component, "PRAGMA foreign_keys=OFF", "foreign_keys") < 0 ||
        (apply ? gw_sqlite_migrate(db, component, migrations, n, applied)
               : check_current(db, path, component, n)) < 0 ||
        (foreign_keys &&
         gw_sqlite_exec(db, component, "PRAGMA foreign_keys=ON", "foreign_keys") < 0))
        goto fail;
    sqlite3_busy_timeout(db, 2000);
    *out = db;
    return 0;
fail:
    sqlite3_close(db);
    return GW_EINVAL;
}
