/*
 * Unit tests for the SQLite store (src/identity/store_sqlite.c) against a real SQLite file: the
 * store interface's cases of store_cases.h (test_store_pg.c runs them against PostgreSQL), and a
 * file that cannot be opened.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/error.h"
#include "identity/internal.h"

static char path[64];

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "/tmp/gw-idp-test-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char p[80];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
    return 0;
}

static struct gw__idp_store *open_store(void)
{
    struct gw__idp_store *s = NULL;
    assert_int_equal(gw__idp_sqlite_open(path, &s), 0);
    assert_string_equal(gw__idp_store_name(s), "sqlite");
    return s;
}

#include "store_cases.h"

static void test_open_fails(void **state)
{
    (void)state;
    struct gw__idp_store *s = (struct gw__idp_store *)1;
    assert_int_equal(gw__idp_sqlite_open("/nonexistent-dir/x/identity.db", &s), GW_EIDSTORE);
    assert_null(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(case_users, setup, teardown),
        cmocka_unit_test_setup_teardown(case_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(case_totp, setup, teardown),
        cmocka_unit_test_setup_teardown(case_admin, setup, teardown),
        cmocka_unit_test_setup_teardown(case_ids_never_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(case_revocations_durable, setup, teardown),
        cmocka_unit_test(test_open_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
