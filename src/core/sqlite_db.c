/* The shared way to open an embedded SQLite store and migrate its schema (core/sqlite_db.h). */
#include "core/sqlite_db.h"

#include <stdio.h>

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

static int migrate(sqlite3 *db, const char *component, const char *const *migrations, size_t n)
{
    if (gw_sqlite_exec(db, component,
                       "CREATE TABLE IF NOT EXISTS gantry_migrations (component TEXT NOT NULL, "
                       "version INTEGER NOT NULL, applied TEXT NOT NULL, PRIMARY KEY (component, "
                       "version))",
                       "migrations table") < 0)
        return GW_EINVAL;
    int have = schema_version(db, component);
    if (have < 0)
        return GW_EINVAL;
    if ((size_t)have > n) {
        gw_log_error("%s: sqlite: the database has %s schema version %d, newer than this gantry "
                     "knows (%zu)",
                     component, component, have, n);
        return GW_EINVAL;
    }
    for (size_t v = (size_t)have; v < n; v++) {
        if (gw_sqlite_exec(db, component, "BEGIN IMMEDIATE", "begin") < 0)
            return GW_EINVAL;
        if (gw_sqlite_exec(db, component, migrations[v], "migration") < 0 ||
            record(db, component, v + 1) < 0) {
            (void)gw_sqlite_exec(db, component, "ROLLBACK", "rollback");
            return GW_EINVAL;
        }
        if (gw_sqlite_exec(db, component, "COMMIT", "commit") < 0)
            return GW_EINVAL;
        gw_log_info("%s: sqlite: applied %s schema migration %zu", component, component, v + 1);
    }
    return 0;
}

int gw_sqlite_open(const char *path, const char *component, const char *const *migrations, size_t n,
                   bool foreign_keys, sqlite3 **out)
{
    sqlite3 *db = NULL;
    *out = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        gw_log_error("%s: cannot open the SQLite database %s: %s", component, path,
                     db ? sqlite3_errmsg(db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(db, 2000);
    if (gw_sqlite_exec(db, component, "PRAGMA journal_mode=WAL", "journal_mode") < 0 ||
        gw_sqlite_exec(db, component, "PRAGMA synchronous=NORMAL", "synchronous") < 0 ||
        (foreign_keys &&
         gw_sqlite_exec(db, component, "PRAGMA foreign_keys=ON", "foreign_keys") < 0) ||
        migrate(db, component, migrations, n) < 0)
        goto fail;
    *out = db;
    return 0;
fail:
    sqlite3_close(db);
    return GW_EINVAL;
}
