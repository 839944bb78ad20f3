/* Unit tests for src/core/sqlite_db.c: the shared opening and migration runner of the embedded
 * SQLite stores. Migrations apply in order, once each, per component; a failing step leaves
 * nothing behind; a database recorded at a newer version is refused; with migrations off a
 * pending one refuses the database; the versions read without a change; a process that waited
 * for another's migration does not apply it again. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
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

/* apply false: a pending migration refuses the database, and nothing is applied; once
 * applied, it opens. gw_sqlite_schema reads the versions with their times. */
static void test_migrate_off_and_schema(void **state)
{
    (void)state;
    sqlite3 *db = NULL;
    size_t applied = 9, have = 9;
    char when[4][32];
    assert_int_equal(gw_sqlite_open_with(path, "alpha", v2, 2, true, false, &applied, &db),
                     GW_EINVAL);
    assert_null(db);
    assert_int_equal(gw_sqlite_open_with(path, "alpha", v2, 1, true, true, &applied, &db), 0);
    assert_int_equal(applied, 1);
    assert_int_equal(gw_sqlite_schema(db, "alpha", &have, when, 4), 0);
    assert_int_equal(have, 1);
    assert_true(strlen(when[0]) == 24 && when[0][10] == 'T'); /* 2026-12-07T03:37:57.436Z */
    assert_string_equal(when[1], "");
    assert_int_equal(gw_sqlite_schema(db, "beta", &have, when, 4), 0);
    assert_int_equal(have, 0);
    sqlite3_close(db);
    assert_int_equal(gw_sqlite_open_with(path, "alpha", v2, 2, true, false, &applied, &db),
                     GW_EINVAL); /* one pending */
    assert_int_equal(gw_sqlite_open_with(path, "alpha", v2, 2, true, true, &applied, &db), 0);
    assert_int_equal(applied, 1);
    sqlite3_close(db);
    assert_int_equal(gw_sqlite_open_with(path, "alpha", v2, 2, true, false, &applied, &db), 0);
    assert_int_equal(applied, 0);
    assert_int_equal(one_int(db, "PRAGMA foreign_keys"), 1);
    sqlite3_close(db);
}

struct opener {
    int rc;
    size_t applied;
    atomic_int tid; /* the thread's id once it runs */
};

static void *open_in_thread(void *arg)
{
    struct opener *o = arg;
    atomic_store(&o->tid, (int)syscall(SYS_gettid));
    sqlite3 *db = NULL;
    o->rc = gw_sqlite_open_with(path, "alpha", v2, 2, false, true, &o->applied, &db);
    sqlite3_close(db);
    return NULL;
}

/* True while thread tid of this process sleeps in (clock_)nanosleep: SQLite's busy handler
 * between two tries of a lock (Linux: /proc/self/task/TID/syscall starts with the number of
 * the system call it is blocked in). */
static bool thread_sleeping(int tid)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/self/task/%d/syscall", tid);
    FILE *f = fopen(p, "r");
    if (f == NULL)
        return false;
    long nr = -1;
    int n = fscanf(f, "%ld", &nr); /* "running" when it is in no system call */
    fclose(f);
    return n == 1 && (nr == SYS_nanosleep || nr == SYS_clock_nanosleep);
}

/* Another process migrates while this one waits for the write lock: the version is read again
 * under the lock, so what the other applied is not applied twice (a second CREATE TABLE t would
 * fail). The other process here is a connection of the test holding BEGIN IMMEDIATE. */
static void test_waiting_for_another_migration(void **state)
{
    (void)state;
    sqlite3 *other = NULL;
    size_t applied;
    /* The migrations table exists, at version 0 ("beta" only). */
    static const char *const beta[] = {"CREATE TABLE u (x INTEGER)"};
    assert_int_equal(gw_sqlite_open_with(path, "beta", beta, 1, false, true, &applied, &other), 0);
    assert_int_equal(gw_sqlite_exec(other, "test", "BEGIN IMMEDIATE", "begin"), 0);
    struct opener o = {.rc = 1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, open_in_thread, &o), 0);
    /* Until the opener waits for the lock (its busy handler sleeping): a fixed pause let a
     * late opener (a loaded machine) find the work done, and the wait went untested. */
    bool waiting = false;
    for (int i = 0; i < 10000 && !waiting; i++) {
        int tid = atomic_load(&o.tid);
        waiting = tid != 0 && thread_sleeping(tid);
        if (!waiting)
            usleep(1000); /* the poll's interval */
    }
    assert_true(waiting);
    assert_int_equal(gw_sqlite_exec(other, "test",
                                    "CREATE TABLE t (a INTEGER); ALTER TABLE t ADD COLUMN b "
                                    "INTEGER; INSERT INTO t VALUES (1, 2); INSERT INTO "
                                    "gantry_migrations VALUES ('alpha', 1, 'x'), ('alpha', 2, "
                                    "'x'); COMMIT",
                                    "the other's migration"),
                     0);
    pthread_join(t, NULL);
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.applied, 0);
    assert_int_equal(one_int(other, "SELECT COUNT(*) FROM t"), 1);
    sqlite3_close(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrations_apply_once_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_components_are_counted_apart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_off_and_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_waiting_for_another_migration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_database_and_failing_step_are_refused, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
