/*
 * The store interface's cases (src/identity/internal.h "the store"), run against each
 * implementation: test_store.c (SQLite) and test_store_pg.c (a real PostgreSQL). The including
 * file defines open_store(), which opens its test's store (the same data each time it is called
 * within a case; fresh for each case), before including this.
 */
#ifndef GW_TESTS_IDENTITY_STORE_CASES_H
#define GW_TESTS_IDENTITY_STORE_CASES_H

#include <jansson.h>

static struct gw__idp_store *open_store(void);

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

/* A deleted user's id is never given to a later user (a token of the old one would name the new
 * one), even when it was the highest, and across a reopen. */
static void case_ids_never_reused(void **state)
{
    (void)state;
    struct gw__idp_store *s = open_store();
    struct gw__idp_user a = user("ann", "ann@x.org"), b = user("ben", "ben@x.org");
    struct gw__idp_user c = user("cat", "cat@x.org"), d = user("dan", "dan@x.org");
    assert_int_equal(gw__idp_user_insert(s, &a, false), 0);
    assert_int_equal(gw__idp_user_insert(s, &b, false), 0);
    assert_int_equal(gw__idp_user_delete(s, b.id), 0);
    assert_int_equal(gw__idp_user_insert(s, &c, false), 0);
    assert_true(c.id > b.id);
    assert_int_equal(gw__idp_user_delete(s, c.id), 0);
    gw__idp_store_close(s);
    s = open_store();
    assert_int_equal(gw__idp_user_insert(s, &d, false), 0);
    assert_true(d.id > c.id);
    gw__idp_store_close(s);
}

/* Users: the first-user rule, unique names and emails, lookups, hash and permissions, reopen,
 * delete (with its sessions). */
static void case_users(void **state)
{
    (void)state;
    struct gw__idp_store *s = open_store();
    int64_t n = -1;
    assert_int_equal(gw__idp_users_count(s, &n), 0);
    assert_int_equal(n, 0);
    struct gw__idp_user a = user("alice", "alice@x.org");
    snprintf(a.perms, sizeof a.perms, "orders:read orders:write");
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
    assert_string_equal(got.perms, "orders:read orders:write");
    assert_false(got.totp);
    assert_int_equal(gw__idp_user_find(s, "alice@x.org", true, 0, &got), 0);
    assert_int_equal(gw__idp_user_find(s, NULL, false, a.id, &got), 0);
    assert_int_equal(gw__idp_user_find(s, "bob", false, 0, &got), 1);
    /* Injection-shaped input is only ever a parameter. */
    assert_int_equal(gw__idp_user_find(s, "' OR '1'='1", false, 0, &got), 1);
    assert_int_equal(gw__idp_user_set_hash(s, a.id, "$argon2id$new"), 0);
    gw__idp_store_close(s);
    /* Reopened: the migration is not applied again, the data is there. */
    s = open_store();
    assert_int_equal(gw__idp_user_find(s, "alice", false, 0, &got), 0);
    assert_string_equal(got.hash, "$argon2id$new");
    assert_int_equal(gw__idp_users_count(s, &n), 0);
    assert_int_equal(n, 1);
    /* Delete: the user, its sessions and tokens go; the name is free again. */
    char sid[GW__IDP_SID_LEN + 1];
    int64_t who;
    enum gw__idp_rotate how;
    assert_int_equal(
        gw__idp_session_new(s, a.id, "0123456789abcdef0123456789abcdef", "d1", 100, 4000000000), 0);
    assert_int_equal(gw__idp_user_delete(s, a.id), 0);
    assert_int_equal(gw__idp_user_delete(s, a.id), 1);
    assert_int_equal(gw__idp_user_find(s, "alice", false, 0, &got), 1);
    assert_int_equal(gw__idp_refresh_rotate(s, "d1", "d2", 200, 0, &how, &who, sid), 0);
    assert_int_equal(how, GW__IDP_UNKNOWN);
    struct gw__idp_user again = user("alice", "alice@x.org");
    assert_int_equal(gw__idp_user_insert(s, &again, false), 0);
    assert_int_equal(gw__idp_user_find(s, "alice", false, 0, &got), 0);
    assert_string_equal(got.perms, "");
    gw__idp_store_close(s);
}

/* Sessions: rotation (live, unknown, reused: the family revoked with every token in it,
 * expired, idle), revoking one session or all. */
static void case_sessions(void **state)
{
    (void)state;
    struct gw__idp_store *s = open_store();
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

struct loaded {
    int n;
    char ids[8][GW__IDP_SID_LEN + 1];
    int64_t until[8];
};

static void on_loaded(void *arg, const char *id, int64_t until)
{
    struct loaded *l = arg;
    assert_true(l->n < 8);
    snprintf(l->ids[l->n], sizeof l->ids[0], "%s", id);
    l->until[l->n++] = until;
}

/* The until of id among what was loaded, or -1. */
static int64_t loaded_until(const struct loaded *l, const char *id)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->ids[i], id) == 0)
            return l->until[i];
    return -1;
}

/* Revocations outlive the process: every session revocation (one, all of a user's, a refresh
 * token's reuse) and each token put is recorded, kept after the user is deleted, loaded by a
 * later open until it expires, and the expired ones dropped. */
static void case_revocations_durable(void **state)
{
    (void)state;
    struct gw__idp_store *s = open_store();
    s->revoke_for_s = 1000;
    struct gw__idp_user a = user("rita", "r@x.org");
    assert_int_equal(gw__idp_user_insert(s, &a, false), 0);
    char s1[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", s2[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    char s3[] = "cccccccccccccccccccccccccccccccc", s4[] = "dddddddddddddddddddddddddddddddd";
    char sid[GW__IDP_SID_LEN + 1];
    int64_t who, now = (int64_t)time(NULL);
    enum gw__idp_rotate how;
    assert_int_equal(gw__idp_session_new(s, a.id, s1, "r1", now, now + 100000), 0);
    assert_int_equal(gw__idp_session_new(s, a.id, s2, "r2", now, now + 100000), 0);
    assert_int_equal(gw__idp_session_new(s, a.id, s3, "r3", now, now + 100000), 0);
    assert_int_equal(gw__idp_session_new(s, a.id, s4, "r4", now, now + 100000), 0);
    count_each = 0;
    assert_int_equal(gw__idp_sessions_revoke(s, a.id, s1, each, NULL), 0);
    assert_int_equal(gw__idp_refresh_rotate(s, "r2", "r2b", now, 0, &how, &who, sid), 0);
    assert_int_equal(gw__idp_refresh_rotate(s, "r2", "r2c", now, 0, &how, &who, sid), 0);
    assert_int_equal(how, GW__IDP_REUSED);
    assert_int_equal(gw__idp_revoked_put(s, "jjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjj", now + 50, now), 0);
    assert_int_equal(gw__idp_revoked_put(s, "jjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjj", now + 20, now), 0);
    assert_int_equal(gw__idp_revoked_put(s, "old", now - 1, now), 0); /* expired already */
    assert_int_equal(gw__idp_sessions_revoke(s, a.id, NULL, each, NULL), 0);
    assert_int_equal(count_each, 3); /* s1, then s3 and s4 */
    assert_int_equal(gw__idp_user_delete(s, a.id), 0);
    gw__idp_store_close(s);

    s = open_store();
    struct loaded l = {0};
    assert_int_equal(gw__idp_revoked_load(s, now, on_loaded, &l), 0);
    assert_int_equal(l.n, 5);
    assert_true(loaded_until(&l, s1) >= now + 1000);
    assert_true(loaded_until(&l, s2) >= now + 1000);
    assert_true(loaded_until(&l, s3) >= now + 1000);
    assert_true(loaded_until(&l, s4) >= now + 1000);
    assert_int_equal(loaded_until(&l, "jjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjj"), now + 50);
    assert_int_equal(loaded_until(&l, "old"), -1);
    /* Later, only what has not expired. */
    memset(&l, 0, sizeof l);
    assert_int_equal(gw__idp_revoked_load(s, now + 60, on_loaded, &l), 0);
    assert_int_equal(l.n, 4);
    assert_int_equal(loaded_until(&l, "jjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjj"), -1);
    gw__idp_store_close(s);
}

/* TOTP: a pending secret, its confirmation with recovery codes, steps used once, recovery
 * codes used once, disable. */
static void case_totp(void **state)
{
    (void)state;
    struct gw__idp_store *s = open_store();
    struct gw__idp_user a = user("dan", "d@x.org");
    assert_int_equal(gw__idp_user_insert(s, &a, false), 0);
    unsigned char box[GW__IDP_TOTP_BOX], got[GW__IDP_TOTP_BOX];
    for (size_t i = 0; i < sizeof box; i++)
        box[i] = (unsigned char)(i * 7 + 1); /* a zero byte or two too, inside */
    box[5] = 0;
    char hashes[2][65] = {"aaaa", "bbbb"};
    bool ok = false, was = true;
    int64_t left = -1;
    assert_int_equal(gw__idp_totp_pending_get(s, a.id, got), 1);
    assert_int_equal(gw__idp_totp_enable(s, a.id, 10, hashes, 2), 1); /* nothing pending */
    assert_int_equal(gw__idp_totp_pending_set(s, a.id, box), 0);
    assert_int_equal(gw__idp_totp_pending_get(s, a.id, got), 0);
    assert_memory_equal(got, box, sizeof box);
    assert_int_equal(gw__idp_totp_enable(s, a.id, 10, hashes, 2), 0);
    assert_int_equal(gw__idp_totp_pending_get(s, a.id, got), 1); /* no longer pending */
    struct gw__idp_user u;
    assert_int_equal(gw__idp_user_find(s, "dan", false, 0, &u), 0);
    assert_true(u.totp);
    assert_memory_equal(u.totp_box, box, sizeof box);
    assert_int_equal(u.totp_last_step, 10);
    assert_int_equal(gw__idp_totp_use_step(s, a.id, 10, &ok), 0);
    assert_false(ok); /* not later than the last one */
    assert_int_equal(gw__idp_totp_use_step(s, a.id, 11, &ok), 0);
    assert_true(ok);
    assert_int_equal(gw__idp_recovery_use(s, a.id, "aaaa", &ok, &left), 0);
    assert_true(ok);
    assert_int_equal(left, 1);
    assert_int_equal(gw__idp_recovery_use(s, a.id, "aaaa", &ok, &left), 0);
    assert_false(ok);
    assert_int_equal(gw__idp_recovery_use(s, a.id, "zzzz", &ok, &left), 0);
    assert_false(ok);
    assert_int_equal(gw__idp_totp_disable(s, a.id, &was), 0);
    assert_true(was);
    assert_int_equal(gw__idp_totp_disable(s, a.id, &was), 0);
    assert_false(was);
    assert_int_equal(gw__idp_recovery_use(s, a.id, "bbbb", &ok, &left), 0);
    assert_false(ok); /* the codes went with it */
    assert_int_equal(gw__idp_user_find(s, "dan", false, 0, &u), 0);
    assert_false(u.totp);
    gw__idp_store_close(s);
}

/* The admin API's: find (disabled too), list with search (LIKE characters literal) and paging,
 * disable, roles and permissions, sessions. */
static void case_admin(void **state)
{
    (void)state;
    struct gw__idp_store *s = open_store();
    struct gw__idp_user a = user("erin", "erin@x.org"), b = user("e_n", "en@y.org"),
                        c = user("frank", "f@x.org");
    assert_int_equal(gw__idp_user_insert(s, &a, false), 0);
    assert_int_equal(gw__idp_user_insert(s, &b, false), 0);
    assert_int_equal(gw__idp_user_insert(s, &c, false), 0);
    json_t *arr = json_array();
    assert_int_equal(gw__idp_admin_list(s, "", 0, 10, arr), 0);
    assert_int_equal(json_array_size(arr), 3);
    json_array_clear(arr);
    assert_int_equal(gw__idp_admin_list(s, "e_", 0, 10, arr), 0); /* '_' literal: e_n only */
    assert_int_equal(json_array_size(arr), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "username")),
                        "e_n");
    json_array_clear(arr);
    assert_int_equal(gw__idp_admin_list(s, "x.org", a.id, 10, arr), 0); /* after erin */
    assert_int_equal(json_array_size(arr), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "username")),
                        "frank");
    json_array_clear(arr);
    assert_int_equal(gw__idp_admin_list(s, "", 0, 1, arr), 0);
    assert_int_equal(json_array_size(arr), 1);
    json_decref(arr);

    struct gw__idp_user u;
    bool disabled = true, found = false;
    assert_int_equal(gw__idp_admin_set_disabled(s, a.id, true), 0);
    assert_int_equal(gw__idp_user_find(s, "erin", false, 0, &u), 1); /* disabled: no login */
    assert_int_equal(gw__idp_admin_find(s, "erin", 0, &u, &disabled), 0);
    assert_true(disabled);
    assert_int_equal(gw__idp_admin_set_disabled(s, a.id, false), 0);
    assert_int_equal(gw__idp_admin_find(s, NULL, a.id, &u, &disabled), 0);
    assert_false(disabled);
    assert_int_equal(gw__idp_admin_find(s, "nobody", 0, &u, &disabled), 1);
    assert_int_equal(gw__idp_admin_set_list(s, a.id, false, "user editor"), 0);
    assert_int_equal(gw__idp_admin_set_list(s, a.id, true, "orders:read"), 0);
    assert_int_equal(gw__idp_admin_find(s, "erin", 0, &u, &disabled), 0);
    assert_string_equal(u.roles, "user editor");
    assert_string_equal(u.perms, "orders:read");

    char sid1[] = "0123456789abcdef0123456789abcdef";
    assert_int_equal(gw__idp_session_new(s, a.id, sid1, "s1", 100, 4000000000), 0);
    arr = json_array();
    assert_int_equal(gw__idp_admin_sessions(s, a.id, arr), 0);
    assert_int_equal(json_array_size(arr), 1);
    json_t *o = json_array_get(arr, 0);
    assert_string_equal(json_string_value(json_object_get(o, "sid")), sid1);
    assert_true(json_is_true(json_object_get(o, "live")));
    assert_int_equal(json_integer_value(json_object_get(o, "expires_at")), 4000000000);
    json_decref(arr);
    assert_int_equal(gw__idp_admin_session_of(s, a.id, sid1, &found), 0);
    assert_true(found);
    assert_int_equal(gw__idp_admin_session_of(s, b.id, sid1, &found), 0);
    assert_false(found);
    gw__idp_store_close(s);
}

#endif
