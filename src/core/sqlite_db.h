/*
 * Opening a SQLite database the way every embedded store of gantry does (the audit log's
 * SQLite sink, built-in identity's store): created when missing, WAL mode, synchronous=NORMAL,
 * a 2 s busy timeout, and the component's numbered schema migrations applied in order, each in
 * its own transaction together with its row in the shared table gantry_migrations
 * (component, version, applied).
 */
#ifndef GW_CORE_SQLITE_DB_H
#define GW_CORE_SQLITE_DB_H

#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

/*
 * Opens path for component (a short lowercase name: the migrations' component and the log
 * lines' prefix), applies migrations[v] for each version v + 1 above the one recorded, up to n
 * (gw_sqlite_migrate: with foreign keys off, so a migration may rebuild a table), then turns
 * foreign keys on when foreign_keys. A database recorded at a version above n (a newer gantry
 * wrote it) is refused. Returns 0 with *out (sqlite3_close it), or GW_EINVAL
 * after logging why (*out NULL).
 */
int gw_sqlite_open(const char *path, const char *component, const char *const *migrations, size_t n,
                   bool foreign_keys, sqlite3 **out);

/* gw_sqlite_open, telling how many migrations it applied (*applied); with apply false none is
 * applied: a database whose component is at a lower version than n is refused (GW_EINVAL),
 * logging the versions and that `gantry migrate` applies them. */
int gw_sqlite_open_with(const char *path, const char *component, const char *const *migrations,
                        size_t n, bool foreign_keys, bool apply, size_t *applied, sqlite3 **out);

/* Applies component's pending migrations to db (up to n), each in its own transaction begun with
 * BEGIN IMMEDIATE, the version read again inside it: of several processes migrating one file at
 * once, each version is applied once. *applied: how many this call applied. 0, or GW_EINVAL
 * (logged; also when db is at a version above n). */
int gw_sqlite_migrate(sqlite3 *db, const char *component, const char *const *migrations, size_t n,
                      size_t *applied);

/* The versions of component recorded in db, without changing it (no table: none): the highest
 * into *have (0: none), and when version v (v <= cap) was applied into applied[v - 1] ("" when
 * not recorded). 0 or GW_EINVAL. */
int gw_sqlite_schema(sqlite3 *db, const char *component, size_t *have, char (*applied)[32],
                     size_t cap);

/* Runs sql (no rows) on db; on failure logs "<component>: sqlite: <what>: <message>". 0 or
 * GW_EINVAL. */
int gw_sqlite_exec(sqlite3 *db, const char *component, const char *sql, const char *what);

#endif
