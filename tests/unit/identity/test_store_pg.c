/*
 * Unit tests for the PostgreSQL store (src/identity/store_pg.c, store_pg_ops.c) against a real
 * PostgreSQL: a cluster made with initdb in a temp dir, the server on a free loopback port
 * (run as the "postgres" user when the test runs as root, as PostgreSQL refuses root), stopped by
 * pid at the end. Each case starts on an empty schema. The store interface's cases of
 * store_cases.h, plus: the schema recorded once in gantry_migrations; a server that is not there
 * answers GW_EIDSTORE at once (the store opens anyway), and works once it is. Skipped when
 * PostgreSQL is not installed.
 */
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "../free_port.h"
#include "core/error.h"
#include "identity/internal.h"

static char bindir[256];
static char tmpdir[64];
static char dsn[128];
static pid_t server = -1;
static int port;
static struct passwd *pg_user; /* when running as root */

/* Runs argv (as the postgres user when root), output to log; returns the child's pid. */
static pid_t spawn(char *const argv[], const char *log)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    FILE *f = fopen(log, "a");
    if (f) {
        dup2(fileno(f), 1);
        dup2(fileno(f), 2);
    }
    if (pg_user &&
        (setgid(pg_user->pw_gid) != 0 || setgroups(0, NULL) != 0 || setuid(pg_user->pw_uid) != 0))
        _exit(126);
    /* After setuid, which clears it: the server dies with this test, even when it is killed. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execv(argv[0], argv);
    _exit(127);
}

static bool server_up(void)
{
    char conn[160];
    snprintf(conn, sizeof conn, "%s connect_timeout=2", dsn);
    return PQping(conn) == PQPING_OK;
}

static void start_server(void)
{
    char exe[300], log[128], p[16];
    snprintf(exe, sizeof exe, "%s/postgres", bindir);
    snprintf(log, sizeof log, "%s/postgres.log", tmpdir);
    snprintf(p, sizeof p, "%d", port);
    char data[96];
    snprintf(data, sizeof data, "%s/data", tmpdir);
    char *argv[] = {exe,  "-D", data, "-p", p,           "-h", "127.0.0.1",
                    "-k", "",   "-F", "-c", "fsync=off", NULL};
    server = spawn(argv, log);
    for (int i = 0; i < 600 && !server_up(); i++) {
        int st;
        if (waitpid(server, &st, WNOHANG) == server) {
            server = -1;
            fail_msg("postgres exited (see %s)", log);
        }
        struct timespec ts = {0, 50 * 1000000};
        nanosleep(&ts, NULL);
    }
    assert_true(server_up());
}

static void stop_server(void)
{
    if (server > 0) {
        kill(server, SIGINT); /* fast shutdown: the pooled connections are closed */
        waitpid(server, NULL, 0);
        server = -1;
    }
}

static int group_setup(void **state)
{
    (void)state;
    glob_t g;
    bindir[0] = '\0';
    if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) == 0) {
        if (g.gl_pathc > 0) {
            snprintf(bindir, sizeof bindir, "%s", g.gl_pathv[g.gl_pathc - 1]);
            *strrchr(bindir, '/') = '\0';
        }
        globfree(&g);
    }
    if (bindir[0] == '\0')
        return 0; /* not installed: the cases skip */
    if (geteuid() == 0 && (pg_user = getpwnam("postgres")) == NULL) {
        bindir[0] = '\0';
        return 0;
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/gw-idp-pg-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    if (pg_user) {
        assert_int_equal(chmod(tmpdir, 0755), 0);
        assert_int_equal(chown(tmpdir, pg_user->pw_uid, pg_user->pw_gid), 0);
    }
    char exe[300], data[96], log[128];
    snprintf(exe, sizeof exe, "%s/initdb", bindir);
    snprintf(data, sizeof data, "%s/data", tmpdir);
    snprintf(log, sizeof log, "%s/initdb.log", tmpdir);
    char *argv[] = {exe,     "-D", data,   "-U",        "postgres", "-A",
                    "trust", "-E", "UTF8", "--no-sync", NULL};
    int st = 0;
    pid_t pid = spawn(argv, log);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    port = gw_test_free_port();
    assert_true(port > 0);
    snprintf(dsn, sizeof dsn, "host=127.0.0.1 port=%d user=postgres dbname=postgres", port);
    start_server();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    stop_server();
    if (tmpdir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    return 0;
}

/* Each case on an empty database. */
static int setup(void **state)
{
    (void)state;
    if (bindir[0] == '\0')
        return 0;
    PGconn *c = PQconnectdb(dsn);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
    return 0;
}

static struct gw__idp_store *open_store(void)
{
    if (bindir[0] == '\0')
        skip();
    struct gw__idp_store *s = NULL;
    assert_int_equal(gw__idp_pg_open(dsn, 2, 2000, &s), 0);
    assert_string_equal(gw__idp_store_name(s), "postgres");
    return s;
}

#include "store_cases.h"

/* One row per schema version, however many stores opened it. */
static void test_migrations(void **state)
{
    (void)state;
    struct gw__idp_store *a = open_store(), *b = open_store();
    gw__idp_store_close(a);
    gw__idp_store_close(b);
    PGconn *c = PQconnectdb(dsn);
    PGresult *r = PQexec(c, "SELECT version FROM gantry_migrations WHERE component = 'identity' "
                            "ORDER BY version");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), 3);
    assert_string_equal(PQgetvalue(r, 0, 0), "1");
    assert_string_equal(PQgetvalue(r, 1, 0), "2");
    assert_string_equal(PQgetvalue(r, 2, 0), "3");
    PQclear(r);
    PQfinish(c);
}

/* Runs sql on a connection of the test's own. */
static void sql_exec(const char *sql)
{
    PGconn *c = PQconnectdb(dsn);
    PGresult *r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
}

/* The shared lockout (store_pg_lockout.c): the failure that reaches the maximum, and only it,
 * starts the lockout; the wait; failures while locked start nothing; a window that ended counts
 * from nothing; a successful login's clearing leaves a lockout alone, the admin's ends it; two
 * stores (two instances) count together. */
static void test_lockout(void **state)
{
    (void)state;
    struct gw__idp_store *a = open_store(), *b = open_store();
    bool started = true, counted = true, was = true;
    int64_t wait = -1;
    assert_int_equal(gw__idp_pg_lock_wait(a, "u:kim", &wait, &counted), 0);
    assert_true(wait == 0 && !counted);
    assert_int_equal(gw__idp_pg_lock_fail(a, "u:kim", 3, 60000, 30000, &started), 0);
    assert_false(started);
    assert_int_equal(gw__idp_pg_lock_fail(b, "u:kim", 3, 60000, 30000, &started), 0);
    assert_false(started);
    assert_int_equal(gw__idp_pg_lock_wait(b, "u:kim", &wait, &counted), 0);
    assert_true(wait == 0 && counted);
    assert_int_equal(gw__idp_pg_lock_fail(a, "u:kim", 3, 60000, 30000, &started), 0);
    assert_true(started);
    assert_int_equal(gw__idp_pg_lock_wait(b, "u:kim", &wait, &counted), 0);
    assert_true(wait >= 29 && wait <= 30);
    for (int i = 0; i < 4; i++) { /* locked: more failures start nothing */
        assert_int_equal(gw__idp_pg_lock_fail(b, "u:kim", 3, 60000, 30000, &started), 0);
        assert_false(started);
    }
    assert_int_equal(gw__idp_pg_lock_clear(a, "u:kim", true, &was), 0); /* a login's clearing */
    assert_int_equal(gw__idp_pg_lock_wait(a, "u:kim", &wait, &counted), 0);
    assert_true(wait >= 29);
    assert_int_equal(gw__idp_pg_lock_clear(b, "u:kim", false, &was), 0); /* the admin's */
    assert_true(was);
    assert_int_equal(gw__idp_pg_lock_wait(a, "u:kim", &wait, &counted), 0);
    assert_true(wait == 0 && !counted);
    assert_int_equal(gw__idp_pg_lock_clear(b, "u:kim", false, &was), 0);
    assert_false(was);

    /* Two failures, then the window ends (moved back in time): the next one counts as the
     * first. */
    assert_int_equal(gw__idp_pg_lock_fail(a, "u:lee", 3, 60000, 30000, &started), 0);
    assert_int_equal(gw__idp_pg_lock_fail(a, "u:lee", 3, 60000, 30000, &started), 0);
    sql_exec("UPDATE idp_lockout SET window_start = window_start - 61000");
    assert_int_equal(gw__idp_pg_lock_fail(b, "u:lee", 3, 60000, 30000, &started), 0);
    assert_false(started);
    assert_int_equal(gw__idp_pg_lock_fail(b, "u:lee", 3, 60000, 30000, &started), 0);
    assert_false(started);
    assert_int_equal(gw__idp_pg_lock_fail(b, "u:lee", 3, 60000, 30000, &started), 0);
    assert_true(started);
    /* The lockout over (moved back in time): the next failures count from nothing. */
    sql_exec("UPDATE idp_lockout SET locked_until = locked_until - 31000, window_start = "
             "window_start - 31000");
    assert_int_equal(gw__idp_pg_lock_wait(a, "u:lee", &wait, &counted), 0);
    assert_int_equal(wait, 0);
    assert_int_equal(gw__idp_pg_lock_fail(a, "u:lee", 3, 60000, 30000, &started), 0);
    assert_false(started);

    /* max 1: the first failure locks. Another key is not touched. */
    assert_int_equal(gw__idp_pg_lock_fail(a, "a:127.0.0.1", 1, 60000, 30000, &started), 0);
    assert_true(started);
    assert_int_equal(gw__idp_pg_lock_wait(a, "u:other", &wait, &counted), 0);
    assert_int_equal(wait, 0);
    gw__idp_store_close(a);
    gw__idp_store_close(b);
}

/* PostgreSQL stopped: the store opens, every call answers GW_EIDSTORE at once; started again:
 * the same store works (its pooled connections replaced). */
static void test_down_and_back(void **state)
{
    (void)state;
    struct gw__idp_store *s = open_store();
    struct gw__idp_user a = user("gina", "g@x.org"), got;
    assert_int_equal(gw__idp_user_insert(s, &a, false), 0);
    stop_server();
    int64_t n = 0;
    assert_int_equal(gw__idp_users_count(s, &n), GW_EIDSTORE);
    assert_int_equal(gw__idp_user_find(s, "gina", false, 0, &got), GW_EIDSTORE);
    struct gw__idp_store *cold = NULL;
    assert_int_equal(gw__idp_pg_open(dsn, 1, 2000, &cold), 0); /* opens while it is down */
    assert_int_equal(gw__idp_users_count(cold, &n), GW_EIDSTORE);
    start_server();
    assert_int_equal(gw__idp_user_find(s, "gina", false, 0, &got), 0);
    assert_int_equal(gw__idp_users_count(cold, &n), 0);
    assert_int_equal(n, 1);
    gw__idp_store_close(cold);
    gw__idp_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(case_users, setup),
        cmocka_unit_test_setup(case_sessions, setup),
        cmocka_unit_test_setup(case_totp, setup),
        cmocka_unit_test_setup(case_admin, setup),
        cmocka_unit_test_setup(case_ids_never_reused, setup),
        cmocka_unit_test_setup(case_revocations_durable, setup),
        cmocka_unit_test_setup(test_migrations, setup),
        cmocka_unit_test_setup(test_lockout, setup),
        cmocka_unit_test_setup(test_down_and_back, setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
