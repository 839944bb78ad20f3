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
 * lines' prefix), turns foreign keys on when foreign_keys, and applies migrations[v] for each
 * version v + 1 above the one recorded, up to n. A database recorded at a version above n (a
 * newer gantry wrote it) is refused. Returns 0 with *out (sqlite3_close it), or GW_EINVAL
 * after logging why (*out NULL).
 */
int gw_sqlite_open(const char *path, const char *component, const char *const *migrations, size_t n,
                   bool foreign_keys, sqlite3 **out);

/* Runs sql (no rows) on db; on failure logs "<component>: sqlite: <what>: <message>". 0 or
 * GW_EINVAL. */
int gw_sqlite_exec(sqlite3 *db, const char *component, const char *sql, const char *what);

#endif
