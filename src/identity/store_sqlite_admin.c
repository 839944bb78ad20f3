/*
 * The admin API's queries on identity's SQLite store (store_sqlite.c's ops) (internal.h
 * "store_admin.c"): users listed with paging and search, read whether disabled or not, disabled and
 * enabled, their roles set, their sessions listed. Control thread only and rare, so each statement
 * is prepared per call; every value is a bound parameter.
 */
#include "identity/internal.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/log.h"

#define COLS "id, username, email, roles, created, disabled, totp_secret IS NOT NULL, permissions"

static int fail(sqlite3 *db, const char *what)
{
    gw_log_error("identity: sqlite: %s: %s", what, sqlite3_errmsg(db));
    return GW_EIDSTORE;
}

static void copy_col(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

int gw__idp_sq_admin_find(struct gw__idp_store *s, const char *name, int64_t id,
                          struct gw__idp_user *u, bool *disabled)
{
    sqlite3 *db = gw__idp_sq_lock(s);
    sqlite3_stmt *st = NULL;
    int rc = GW_EIDSTORE;
    const char *sql = name ? "SELECT " COLS " FROM idp_users WHERE username = ?1"
                           : "SELECT " COLS " FROM idp_users WHERE id = ?1";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = fail(db, "finding a user");
        goto out;
    }
    if (name)
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        memset(u, 0, sizeof *u);
        u->id = sqlite3_column_int64(st, 0);
        copy_col(st, 1, u->username, sizeof u->username);
        copy_col(st, 2, u->email, sizeof u->email);
        copy_col(st, 3, u->roles, sizeof u->roles);
        u->created = sqlite3_column_int64(st, 4);
        *disabled = sqlite3_column_int(st, 5) != 0;
        u->totp = sqlite3_column_int(st, 6) != 0;
        copy_col(st, 7, u->perms, sizeof u->perms);
        rc = 0;
    } else {
        rc = step == SQLITE_DONE ? 1 : fail(db, "finding a user");
    }
out:
    sqlite3_finalize(st);
    gw__idp_sq_unlock(s);
    return rc;
}

int gw__idp_sq_admin_list(struct gw__idp_store *s, const char *search, int64_t after,
                          uint32_t limit, json_t *arr)
{
    char pat[2 * 256 + 3];
    gw__idp_like_pattern(search, pat, sizeof pat);
    sqlite3 *db = gw__idp_sq_lock(s);
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT " COLS " FROM idp_users WHERE id > ?1 AND (username LIKE ?2 "
                           "ESCAPE '\\' OR email LIKE ?2 ESCAPE '\\') ORDER BY id LIMIT ?3",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = fail(db, "listing users");
        goto out;
    }
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_text(st, 2, pat, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, limit);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:I, s:b, s:b, s:s}", "id",
                              (json_int_t)sqlite3_column_int64(st, 0), "username",
                              (const char *)sqlite3_column_text(st, 1), "email",
                              (const char *)sqlite3_column_text(st, 2), "roles",
                              (const char *)sqlite3_column_text(st, 3), "created_at",
                              (json_int_t)sqlite3_column_int64(st, 4), "disabled",
                              sqlite3_column_int(st, 5) != 0, "totp_enabled",
                              sqlite3_column_int(st, 6) != 0, "permissions",
                              (const char *)sqlite3_column_text(st, 7));
        if (o == NULL || json_array_append_new(arr, o) < 0) {
            rc = GW_ENOMEM;
            goto out;
        }
    }
    if (step != SQLITE_DONE)
        rc = fail(db, "listing users");
out:
    sqlite3_finalize(st);
    gw__idp_sq_unlock(s);
    return rc;
}

/* An UPDATE of one user: ?1 the id, ?2 the value (text when text, else the integer n). */
static int update(struct gw__idp_store *s, const char *sql, int64_t id, const char *text, int64_t n)
{
    sqlite3 *db = gw__idp_sq_lock(s);
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = fail(db, "updating a user");
        goto out;
    }
    sqlite3_bind_int64(st, 1, id);
    if (text)
        sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 2, n);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = fail(db, "updating a user");
out:
    sqlite3_finalize(st);
    gw__idp_sq_unlock(s);
    return rc;
}

int gw__idp_sq_admin_set_disabled(struct gw__idp_store *s, int64_t id, bool disabled)
{
    return update(s, "UPDATE idp_users SET disabled = ?2 WHERE id = ?1", id, NULL, disabled);
}

int gw__idp_sq_admin_set_list(struct gw__idp_store *s, int64_t id, bool perms, const char *list)
{
    return update(s,
                  perms ? "UPDATE idp_users SET permissions = ?2 WHERE id = ?1"
                        : "UPDATE idp_users SET roles = ?2 WHERE id = ?1",
                  id, list, 0);
}

int gw__idp_sq_admin_sessions(struct gw__idp_store *s, int64_t user, json_t *arr)
{
    int64_t now = (int64_t)time(NULL);
    sqlite3 *db = gw__idp_sq_lock(s);
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT sid, created, expires, last_used, revoked FROM idp_sessions "
                           "WHERE user_id = ?1 ORDER BY created DESC, sid LIMIT 200",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = fail(db, "listing sessions");
        goto out;
    }
    sqlite3_bind_int64(st, 1, user);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t expires = sqlite3_column_int64(st, 2);
        bool revoked = sqlite3_column_int(st, 4) != 0;
        json_t *o = json_pack(
            "{s:s, s:I, s:I, s:I, s:b, s:b}", "sid", (const char *)sqlite3_column_text(st, 0),
            "created_at", (json_int_t)sqlite3_column_int64(st, 1), "expires_at",
            (json_int_t)expires, "last_used_at", (json_int_t)sqlite3_column_int64(st, 3), "revoked",
            revoked, "live", !revoked && expires > now);
        if (o == NULL || json_array_append_new(arr, o) < 0) {
            rc = GW_ENOMEM;
            goto out;
        }
    }
    if (step != SQLITE_DONE)
        rc = fail(db, "listing sessions");
out:
    sqlite3_finalize(st);
    gw__idp_sq_unlock(s);
    return rc;
}

int gw__idp_sq_admin_session_of(struct gw__idp_store *s, int64_t user, const char *sid, bool *found)
{
    sqlite3 *db = gw__idp_sq_lock(s);
    sqlite3_stmt *st = NULL;
    int rc = 0;
    *found = false;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM idp_sessions WHERE sid = ?1 AND user_id = ?2", -1,
                           &st, NULL) != SQLITE_OK) {
        rc = fail(db, "finding a session");
        goto out;
    }
    sqlite3_bind_text(st, 1, sid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, user);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        *found = true;
    else if (step != SQLITE_DONE)
        rc = fail(db, "finding a session");
out:
    sqlite3_finalize(st);
    gw__idp_sq_unlock(s);
    return rc;
}
