/*
 * Built-in identity's side of the admin API (identity.h "the admin API's side"): users created,
 * read, listed, disabled and enabled, deleted, their password reset, their sessions listed and
 * revoked, their TOTP reset, their roles and permissions set. Synchronous, run on libuv's thread
 * pool by admin_call.c (gw_idp_admin_call), never on the control loop: each is a few short
 * statements (SQLite under the store's mutex; PostgreSQL bounded by identity.postgres.timeout,
 * at once when it is down), plus one argon2id hash for a created user or a password reset.
 * Revoking a session also refuses its access tokens at once (state/revoked.h, as logout does).
 */
#include "identity/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"

/* The user who names (digits: an id; else a username, folded to lower case). 0, 1, or
 * GW_EIDSTORE. */
static int find(const char *who, struct gw__idp_store **st, struct gw__idp_user *u, bool *disabled)
{
    const struct gw_identity_conf *ic;
    *st = gw__idp_store_of(&ic);
    if (*st == NULL)
        return GW_EIDSTORE;
    size_t n = strlen(who);
    if (n == 0 || n > GW__IDP_USERNAME_MAX)
        return 1;
    if (strspn(who, "0123456789") == n) {
        char *end = NULL;
        long long id = strtoll(who, &end, 10);
        return id > 0 ? gw__idp_admin_find(*st, NULL, id, u, disabled) : 1;
    }
    char name[GW__IDP_USERNAME_MAX + 1];
    for (size_t i = 0; i <= n; i++)
        name[i] = (char)(who[i] >= 'A' && who[i] <= 'Z' ? who[i] - 'A' + 'a' : who[i]);
    return gw__idp_admin_find(*st, name, 0, u, disabled);
}

static json_t *user_json(const struct gw__idp_user *u, bool disabled)
{
    return json_pack("{s:I, s:s, s:s, s:o, s:o, s:I, s:b, s:b}", "id", (json_int_t)u->id,
                     "username", u->username, "email", u->email, "roles",
                     gw__idp_roles_array(u->roles), "permissions", gw__idp_roles_array(u->perms),
                     "created_at", (json_int_t)u->created, "disabled", disabled, "totp_enabled",
                     u->totp);
}

/* *out = json, or GW_ENOMEM when it is NULL. */
static int give(json_t *json, json_t **out)
{
    *out = json;
    return json ? 0 : GW_ENOMEM;
}

int gw_idp_admin_users(const char *search, int64_t after, uint32_t limit, json_t **out)
{
    const struct gw_identity_conf *ic;
    struct gw__idp_store *st = gw__idp_store_of(&ic);
    *out = NULL;
    if (st == NULL)
        return GW_EIDSTORE;
    if (limit == 0 || limit > 1000 || strlen(search) > 254)
        return GW_EIDINPUT;
    json_t *arr = json_array();
    if (arr == NULL)
        return GW_ENOMEM;
    /* One more than asked tells whether a next page follows. */
    int rc = gw__idp_admin_list(st, search, after, limit + 1, arr);
    if (rc < 0) {
        json_decref(arr);
        return rc;
    }
    json_t *next = json_null();
    if (json_array_size(arr) > limit) {
        json_array_remove(arr, limit);
        next = json_object_get(json_array_get(arr, limit - 1), "id");
        json_incref(next);
    }
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        /* roles and permissions as stored (space-separated) to arrays */
        json_t *r = gw__idp_roles_array(json_string_value(json_object_get(v, "roles")));
        json_t *p = gw__idp_roles_array(json_string_value(json_object_get(v, "permissions")));
        if (r == NULL || p == NULL || json_object_set_new(v, "roles", r) < 0 ||
            json_object_set_new(v, "permissions", p) < 0) {
            if (p == NULL || json_object_get(v, "permissions") != p)
                json_decref(p);
            json_decref(arr);
            json_decref(next);
            return GW_ENOMEM;
        }
    }
    return give(json_pack("{s:o, s:o}", "users", arr, "next_cursor", next), out);
}

int gw_idp_admin_user(const char *who, json_t **out)
{
    struct gw__idp_store *st;
    struct gw__idp_user u;
    bool disabled;
    *out = NULL;
    int rc = find(who, &st, &u, &disabled);
    if (rc != 0)
        return rc;
    json_t *sessions = json_array();
    if (sessions == NULL)
        return GW_ENOMEM;
    rc = gw__idp_admin_sessions(st, u.id, sessions);
    if (rc < 0) {
        json_decref(sessions);
        return rc;
    }
    json_int_t live = 0;
    size_t i;
    json_t *v;
    json_array_foreach(sessions, i, v) live += json_is_true(json_object_get(v, "live"));
    json_decref(sessions);
    /* The lockout of its logins by username and by email: the longer wait. */
    char key[8 + GW__IDP_EMAIL_MAX + 1];
    int64_t wait = 0, wait_e = 0;
    bool counted;
    snprintf(key, sizeof key, "u:%s", u.username);
    rc = gw__idp_lock_wait(key, &wait, &counted);
    snprintf(key, sizeof key, "u:%s", u.email);
    if (rc == 0)
        rc = gw__idp_lock_wait(key, &wait_e, &counted);
    if (rc < 0)
        return rc;
    json_t *j = user_json(&u, disabled);
    if (j) {
        json_object_set_new(j, "live_sessions", json_integer(live));
        json_object_set_new(j, "locked_for", json_integer(wait > wait_e ? wait : wait_e));
    }
    return give(j, out);
}

int gw_idp_admin_set_disabled(const char *who, bool disable, json_t **out)
{
    struct gw__idp_store *st;
    struct gw__idp_user u;
    bool disabled;
    int n = 0;
    *out = NULL;
    int rc = find(who, &st, &u, &disabled);
    if (rc != 0)
        return rc;
    rc = gw__idp_admin_set_disabled(st, u.id, disable);
    /* A disabled user's sessions end: its refresh tokens and access tokens are refused now. */
    if (rc == 0 && disable)
        rc = gw__idp_sessions_revoke(st, u.id, NULL, gw__idp_revoke_sid, &n);
    if (rc < 0)
        return rc;
    json_t *j = user_json(&u, disable);
    if (j)
        json_object_set_new(j, "sessions_revoked", json_integer(n));
    return give(j, out);
}

int gw_idp_admin_logout(const char *who, json_t **out)
{
    struct gw__idp_store *st;
    struct gw__idp_user u;
    bool disabled;
    int n = 0;
    *out = NULL;
    int rc = find(who, &st, &u, &disabled);
    if (rc != 0)
        return rc;
    rc = gw__idp_sessions_revoke(st, u.id, NULL, gw__idp_revoke_sid, &n);
    if (rc < 0)
        return rc;
    return give(json_pack("{s:I, s:s, s:i}", "id", (json_int_t)u.id, "username", u.username,
                          "sessions_revoked", n),
                out);
}

int gw_idp_admin_unlock(const char *who, json_t **out)
{
    struct gw__idp_store *st;
    struct gw__idp_user u;
    bool disabled, was = false, was_e = false;
    *out = NULL;
    int rc = find(who, &st, &u, &disabled);
    if (rc != 0)
        return rc;
    /* A login counts by what was typed: the username's key and the email's both go. */
    char key[8 + GW__IDP_EMAIL_MAX + 1];
    snprintf(key, sizeof key, "u:%s", u.username);
    rc = gw__idp_lock_clear(key, &was);
    snprintf(key, sizeof key, "u:%s", u.email);
    if (rc == 0)
        rc = gw__idp_lock_clear(key, &was_e);
    if (rc < 0)
        return rc;
    return give(json_pack("{s:I, s:s, s:b, s:b}", "id", (json_int_t)u.id, "username", u.username,
                          "unlocked", 1, "was_locked", was || was_e),
                out);
}

int gw_idp_admin_totp_reset(const char *who, json_t **out)
{
    struct gw__idp_store *st;
    struct gw__idp_user u;
    bool disabled, was = false;
    *out = NULL;
    int rc = find(who, &st, &u, &disabled);
    if (rc != 0)
        return rc;
    rc = gw__idp_totp_disable(st, u.id, &was);
    if (rc < 0)
        return rc;
    return give(json_pack("{s:I, s:s, s:b, s:b}", "id", (json_int_t)u.id, "username", u.username,
                          "totp_enabled", 0, "was_enabled", was),
                out);
}

int gw_idp_admin_set_list(const char *who, bool perms, const char *body, size_t len, json_t **out,
                          const char **why)
{
    struct gw__idp_store *st;
    struct gw__idp_user u;
    bool disabled;
    char list[GW__IDP_ROLES_MAX];
    int n = 0;
    *out = NULL;
    *why = NULL;
    if (gw_idp_parse_list(body, len, perms ? "permissions" : "roles", list, sizeof list, why) != 0)
        return GW_EIDINPUT;
    int rc = find(who, &st, &u, &disabled);
    if (rc != 0)
        return rc;
    rc = gw__idp_admin_set_list(st, u.id, perms, list);
    if (rc == 0)
        rc = gw__idp_sessions_revoke(st, u.id, NULL, gw__idp_revoke_sid, &n);
    if (rc < 0)
        return rc;
    snprintf(perms ? u.perms : u.roles, sizeof u.roles, "%s", list);
    json_t *j = user_json(&u, disabled);
    if (j)
        json_object_set_new(j, "sessions_revoked", json_integer(n));
    return give(j, out);
}

int gw_idp_admin_create(const char *body, size_t len, json_t **out, const char **field,
                        const char **why)
{
    const struct gw_identity_conf *ic;
    struct gw__idp_store *st = gw__idp_store_of(&ic);
    struct gw_idp_input *in = NULL;
    struct gw__idp_user *u = NULL;
    bool has_roles = false;
    int rc = GW_ENOMEM;
    *out = NULL;
    *field = *why = NULL;
    if (st == NULL)
        return GW_EIDSTORE;
    in = malloc(sizeof *in);
    u = calloc(1, sizeof *u);
    if (in == NULL || u == NULL)
        goto fail;
    rc = gw_idp_parse_new_user(body, len, in, u->roles, u->perms, sizeof u->roles, &has_roles,
                               field, why);
    if (rc != 0)
        goto fail;
    const char *weak =
        gw__idp_password_weak(in->password, in->password_len, ic->min_length, in->username);
    if (weak) {
        *field = "password";
        *why = weak;
        rc = GW_EIDINPUT;
        goto fail;
    }
    if (!has_roles)
        gw__idp_default_roles(u->roles, sizeof u->roles);
    snprintf(u->username, sizeof u->username, "%s", in->username);
    snprintf(u->email, sizeof u->email, "%s", in->email);
    u->created = (int64_t)time(NULL);
    rc = gw__idp_password_hash(in->password, in->password_len, ic->opslimit, ic->memlimit, u->hash);
    if (rc == 0)
        rc = gw__idp_user_insert(st, u, false);
    if (rc == 0)
        rc = give(user_json(u, false), out);
fail:
    if (in)
        sodium_memzero(in, sizeof *in);
    free(in);
    if (u)
        sodium_memzero(u->hash, sizeof u->hash);
    free(u);
    return rc;
}

int gw_idp_admin_delete(const char *who, json_t **out)
{
    struct gw__idp_store *st;
    struct gw__idp_user u;
    bool disabled;
    int n = 0;
    *out = NULL;
    int rc = find(who, &st, &u, &disabled);
    if (rc != 0)
        return rc;
    /* The sessions are revoked first, so that their access tokens are refused from now on (the
     * revocation set holds their sids; the rows go with the user). */
    rc = gw__idp_sessions_revoke(st, u.id, NULL, gw__idp_revoke_sid, &n);
    if (rc == 0)
        rc = gw__idp_user_delete(st, u.id);
    if (rc != 0)
        return rc;
    return give(json_pack("{s:I, s:s, s:b, s:i}", "id", (json_int_t)u.id, "username", u.username,
                          "deleted", 1, "sessions_revoked", n),
                out);
}

int gw_idp_admin_set_password(const char *who, const char *body, size_t len, json_t **out,
                              const char **why)
{
    const struct gw_identity_conf *ic;
    struct gw__idp_store *st;
    struct gw__idp_user u;
    bool disabled;
    char pw[GW_IDP_PASSWORD_MAX + 1], hash[crypto_pwhash_STRBYTES];
    size_t pw_len = 0;
    int n = 0;
    *out = NULL;
    *why = NULL;
    if (gw_idp_parse_password(body, len, pw, &pw_len, why) != 0)
        return GW_EIDINPUT;
    int rc = find(who, &st, &u, &disabled);
    if (rc != 0)
        goto out;
    (void)gw__idp_store_of(&ic);
    *why = gw__idp_password_weak(pw, pw_len, ic->min_length, u.username);
    if (*why) {
        rc = GW_EIDINPUT;
        goto out;
    }
    rc = gw__idp_password_hash(pw, pw_len, ic->opslimit, ic->memlimit, hash);
    /* The old sessions end: whoever knew the old password is out. */
    if (rc == 0)
        rc = gw__idp_user_set_hash(st, u.id, hash);
    if (rc == 0)
        rc = gw__idp_sessions_revoke(st, u.id, NULL, gw__idp_revoke_sid, &n);
    if (rc == 0)
        rc = give(json_pack("{s:I, s:s, s:b, s:i}", "id", (json_int_t)u.id, "username", u.username,
                            "password_reset", 1, "sessions_revoked", n),
                  out);
out:
    sodium_memzero(pw, sizeof pw);
    sodium_memzero(hash, sizeof hash);
    return rc;
}

int gw_idp_admin_sessions(const char *who, json_t **out)
{
    struct gw__idp_store *st;
    struct gw__idp_user u;
    bool disabled;
    *out = NULL;
    int rc = find(who, &st, &u, &disabled);
    if (rc != 0)
        return rc;
    json_t *arr = json_array();
    if (arr == NULL)
        return GW_ENOMEM;
    rc = gw__idp_admin_sessions(st, u.id, arr);
    if (rc < 0) {
        json_decref(arr);
        return rc;
    }
    return give(json_pack("{s:I, s:s, s:o}", "id", (json_int_t)u.id, "username", u.username,
                          "sessions", arr),
                out);
}

int gw_idp_admin_session_revoke(const char *who, const char *sid, json_t **out)
{
    struct gw__idp_store *st;
    struct gw__idp_user u;
    bool disabled, found = false;
    int n = 0;
    *out = NULL;
    int rc = find(who, &st, &u, &disabled);
    if (rc != 0)
        return rc;
    if (strlen(sid) != GW__IDP_SID_LEN)
        return 1;
    rc = gw__idp_admin_session_of(st, u.id, sid, &found);
    if (rc == 0 && !found)
        return 1;
    if (rc == 0)
        rc = gw__idp_sessions_revoke(st, u.id, sid, gw__idp_revoke_sid, &n);
    if (rc < 0)
        return rc;
    return give(json_pack("{s:I, s:s, s:s, s:b}", "id", (json_int_t)u.id, "username", u.username,
                          "sid", sid, "revoked", n > 0),
                out);
}
