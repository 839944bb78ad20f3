/*
 * Unit tests for src/identity/store.c against a real SQLite file: migrations applied once (a
 * reopen keeps the data), users unique by username and email, lookups, refresh rotation (live,
 * unknown, reused: the family revoked with every token in it), revoking one session or all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static struct gw__idp_user user(const char *name, const char *email)
{
    struct gw__idp_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.username, sizeof u.username, "%s", name);
    snprintf(u.email, sizeof u.email, "%s", email);
    snprintf(u.hash, sizeof u.hash, "$argon2id$fake");
    snprintf(u.roles, sizeof u.roles, "user");
    u.created = 1000;
    return u;
}

static int count_each;
static void each(void *arg, const char *sid)
{
    (void)arg;
    assert_int_equal(strlen(sid), GW__IDP_SID_LEN);
    count_each++;
}

static void test_users(void **state)
{
    (void)state;
    struct gw__idp_store *s = NULL;
    assert_int_equal(gw__idp_sqlite_open(path, &s), 0);
    int64_t n = -1;
    assert_int_equal(gw__idp_users_count(s, &n), 0);
    assert_int_equal(n, 0);
    struct gw__idp_user a = user("alice", "alice@x.org");
    assert_int_equal(gw__idp_user_insert(s, &a, true), 0); /* the first, into an empty store */
    assert_true(a.id > 0);
    struct gw__idp_user late = user("zoe", "zoe@x.org");
    assert_int_equal(gw__idp_user_insert(s, &late, true), GW_EIDCLOSED); /* no longer first */
    struct gw__idp_user dup = user("alice", "other@x.org");
    assert_int_equal(gw__idp_user_insert(s, &dup, false), GW_EIDTAKEN);
    dup = user("alice2", "alice@x.org");
    assert_int_equal(gw__idp_user_insert(s, &dup, false), GW_EIDTAKEN);
    struct gw__idp_user got;
    assert_int_equal(gw__idp_user_find(s, "alice", false, 0, &got), 0);
    assert_int_equal(got.id, a.id);
    assert_string_equal(got.roles, "user");
    assert_int_equal(gw__idp_user_find(s, "alice@x.org", true, 0, &got), 0);
    assert_int_equal(gw__idp_user_find(s, NULL, false, a.id, &got), 0);
    assert_int_equal(gw__idp_user_find(s, "bob", false, 0, &got), 1);
    /* Injection-shaped input is only ever a parameter. */
    assert_int_equal(gw__idp_user_find(s, "' OR '1'='1", false, 0, &got), 1);
    assert_int_equal(gw__idp_user_set_hash(s, a.id, "$argon2id$new"), 0);
    gw__idp_store_close(s);
    /* Reopened: the migration is not applied again, the data is there. */
    assert_int_equal(gw__idp_sqlite_open(path, &s), 0);
    assert_int_equal(gw__idp_user_find(s, "alice", false, 0, &got), 0);
    assert_string_equal(got.hash, "$argon2id$new");
    gw__idp_store_close(s);
}

static void test_sessions(void **state)
{
    (void)state;
    struct gw__idp_store *s = NULL;
    assert_int_equal(gw__idp_sqlite_open(path, &s), 0);
    struct gw__idp_user a = user("carol", "c@x.org");
    assert_int_equal(gw__idp_user_insert(s, &a, false), 0);
    char sid1[] = "0123456789abcdef0123456789abcdef", sid2[] = "fedcba9876543210fedcba9876543210";
    char sid[GW__IDP_SID_LEN + 1];
    int64_t who;
    enum gw__idp_rotate how;
    assert_int_equal(gw__idp_session_new(s, a.id, sid1, "h1", 100, 4000000000), 0);
    assert_int_equal(gw__idp_session_new(s, a.id, sid2, "k1", 100, 4000000000), 0);
    /* Live: rotated into h2. */
    assert_int_equal(gw__idp_refresh_rotate(s, "h1", "h2", 200, 0, &how, &who, sid), 0);
    assert_int_equal(how, GW__IDP_ROTATED);
    assert_int_equal(who, a.id);
    assert_string_equal(sid, sid1);
    assert_int_equal(gw__idp_refresh_rotate(s, "nope", "x", 200, 0, &how, &who, sid), 0);
    assert_int_equal(how, GW__IDP_UNKNOWN);
    /* h1 again: reuse; the family goes, h2 with it. */
    assert_int_equal(gw__idp_refresh_rotate(s, "h1", "h3", 200, 0, &how, &who, sid), 0);
    assert_int_equal(how, GW__IDP_REUSED);
    assert_string_equal(sid, sid1);
    assert_int_equal(gw__idp_refresh_rotate(s, "h2", "h4", 200, 0, &how, &who, sid), 0);
    assert_int_equal(how, GW__IDP_UNKNOWN);
    /* Expired family: unknown. */
    assert_int_equal(gw__idp_refresh_rotate(s, "k1", "k2", 5000000000, 0, &how, &who, sid), 0);
    assert_int_equal(how, GW__IDP_UNKNOWN);
    /* Idle timeout: k1 was last used at 100 (its creation). */
    assert_int_equal(gw__idp_refresh_rotate(s, "k1", "k2", 200, 50, &how, &who, sid), 0);
    assert_int_equal(how, GW__IDP_UNKNOWN);
    /* Revoke all: sid2 is the only live one left. */
    count_each = 0;
    assert_int_equal(gw__idp_sessions_revoke(s, a.id, NULL, each, NULL), 0);
    assert_int_equal(count_each, 1);
    assert_int_equal(gw__idp_refresh_rotate(s, "k1", "k2", 200, 0, &how, &who, sid), 0);
    assert_int_equal(how, GW__IDP_UNKNOWN);
    /* One session by sid; a second revoke finds nothing to do. */
    char sid3[] = "11111111111111111111111111111111";
    assert_int_equal(gw__idp_session_new(s, a.id, sid3, "m1", 100, 4000000000), 0);
    count_each = 0;
    assert_int_equal(gw__idp_sessions_revoke(s, a.id, sid3, each, NULL), 0);
    assert_int_equal(gw__idp_sessions_revoke(s, a.id, sid3, each, NULL), 0);
    assert_int_equal(count_each, 1);
    gw__idp_store_close(s);
}

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
        cmocka_unit_test_setup_teardown(test_users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
        cmocka_unit_test(test_open_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
