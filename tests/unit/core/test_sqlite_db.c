/* Unit tests for src/core/sqlite_db.c: the shared opening and migration runner of the embedded
 * SQLite stores. Migrations apply in order, once each, per component; a failing step leaves
 * nothing behind; a database recorded at a newer version is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/sqlite_db.h"

static char path[64];

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "/tmp/gw-test-sqlite-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    unlink(path);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char p[96];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
    return 0;
}

static int64_t one_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static const char *const v2[] = {
    "CREATE TABLE t (a INTEGER)",
    "ALTER TABLE t ADD COLUMN b INTEGER; INSERT INTO t VALUES (1, 2)",
};

static void test_migrations_apply_once_in_order(void **state)
{
    (void)state;
    sqlite3 *db = NULL;
    assert_int_equal(gw_sqlite_open(path, "alpha", v2, 1, false, &db), 0);
    assert_int_equal(one_int(db, "SELECT COUNT(*) FROM t"), 0);
    sqlite3_close(db);
    /* Reopened with one more step: only that one runs. */
    assert_int_equal(gw_sqlite_open(path, "alpha", v2, 2, true, &db), 0);
    assert_int_equal(one_int(db, "SELECT b FROM t"), 2);
    assert_int_equal(one_int(db, "SELECT MAX(version) FROM gantry_migrations WHERE component = "
                                 "'alpha'"),
                     2);
    assert_int_equal(one_int(db, "PRAGMA foreign_keys"), 1);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
    assert_int_equal(gw_sqlite_open(path, "alpha", v2, 2, false, &db), 0);
    assert_int_equal(one_int(db, "SELECT COUNT(*) FROM t"), 1); /* not inserted twice */
    sqlite3_close(db);
}

static void test_components_are_counted_apart(void **state)
{
    (void)state;
    static const char *const other[] = {"CREATE TABLE u (x INTEGER)"};
    sqlite3 *db = NULL;
    assert_int_equal(gw_sqlite_open(path, "alpha", v2, 2, false, &db), 0);
    sqlite3_close(db);
    assert_int_equal(gw_sqlite_open(path, "beta", other, 1, false, &db), 0);
    assert_int_equal(one_int(db, "SELECT COUNT(*) FROM gantry_migrations"), 3);
    assert_int_equal(one_int(db, "SELECT COUNT(*) FROM u"), 0);
    sqlite3_close(db);
}

static void test_newer_database_and_failing_step_are_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {"CREATE TABLE t (a INTEGER)", "CREATE TABLE t (a INTEGER)"};
    sqlite3 *db = NULL;
    assert_int_equal(gw_sqlite_open(path, "alpha", v2, 2, false, &db), 0);
    sqlite3_close(db);
    /* An older gantry (one step) refuses what a newer one (two) wrote. */
    assert_int_equal(gw_sqlite_open(path, "alpha", v2, 1, false, &db), GW_EINVAL);
    assert_null(db);
    /* A step that fails rolls back with its row: the version stays. */
    teardown(NULL);
    assert_int_equal(gw_sqlite_open(path, "alpha", bad, 2, false, &db), GW_EINVAL);
    assert_null(db);
    assert_int_equal(gw_sqlite_open(path, "alpha", bad, 1, false, &db), 0);
    assert_int_equal(one_int(db, "SELECT MAX(version) FROM gantry_migrations"), 1);
    sqlite3_close(db);
    assert_int_equal(gw_sqlite_open("/nonexistent-dir/x.db", "alpha", v2, 2, false, &db),
                     GW_EINVAL);
    assert_null(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrations_apply_once_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_components_are_counted_apart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_database_and_failing_step_are_refused, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
