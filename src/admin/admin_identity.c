/*
 * /api/identity/users: built-in identity's users and sessions on the admin listener (README
 * "Built-in identity", identity/identity.h "the admin API's side"). {user} is an id or a
 * username. Every change (create, delete, disable, enable, logout, unlock, password reset, TOTP
 * reset, roles, permissions, a session revoked) is an entry of the audit log (never with a
 * password), with the admin key and address admin.c set as its actor; a refused change (no such
 * user) is one too.
 */
#include "admin/admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "identity/identity.h"

/* Param i of rq, NUL-terminated into out (false when it does not fit or holds a NUL). */
static bool param(const struct gw__admin_req *rq, size_t i, char *out, size_t cap)
{
    const struct gw__admin_slice *p = &rq->params[i];
    if (i >= rq->nparams || p->n >= cap || memchr(p->p, '\0', p->n) != NULL)
        return false;
    memcpy(out, p->p, p->n);
    out[p->n] = '\0';
    return true;
}

/* Answers a failed call: 404 (rc 1 or GW_EIDSTORE while identity is off), 400, 503. */
static void answer_error(struct gw__admin_resp *rs, int rc, const char *who, const char *why)
{
    if (rc == 1)
        gw__admin_error(rs, 404, "no identity user %s (or no such session of it)", who);
    else if (rc == GW_EIDINPUT)
        gw__admin_error(rs, 400, "%s", why ? why : "invalid request");
    else if (rc == GW_ENOMEM)
        gw__admin_error(rs, 500, "out of memory");
    else
        gw__admin_error(rs, 503, "identity store unavailable (is the identity section on?)");
}

/* The status a failed call answers (answer_error's). */
static int status_of(int rc)
{
    return rc == 1             ? 404
           : rc == GW_EIDINPUT ? 400
           : rc == GW_EIDTAKEN ? 409
           : rc == GW_ENOMEM   ? 500
                               : 503;
}

/* The audit entry of a change of user: object "user:<username>" (or the name asked for). */
static void audit(const char *action, const char *who, json_t *out, json_t *detail, int status)
{
    char object[120];
    const char *name = json_string_value(json_object_get(out, "username"));
    snprintf(object, sizeof object, "user:%s", name ? name : who);
    gw__admin_audit_event(action, object, detail, status);
}

/* Runs a change of the user named by param 0 and answers it. */
static void change(const struct gw__admin_req *rq, struct gw__admin_resp *rs, const char *action,
                   int (*fn)(const char *who, json_t **out))
{
    char who[80];
    json_t *out = NULL;
    if (!param(rq, 0, who, sizeof who)) {
        gw__admin_error(rs, 404, "no such identity user");
        return;
    }
    int rc = fn(who, &out);
    if (rc != 0) {
        audit(action, who, NULL, NULL, rc == 1 ? 404 : 503);
        answer_error(rs, rc, who, NULL);
        return;
    }
    audit(action, who, out, NULL, 200);
    gw__admin_json(rs, 200, out);
}

void gw__admin_idp_users(struct gw_server *s, const struct gw__admin_req *rq,
                         struct gw__admin_resp *rs)
{
    (void)s;
    char search[256] = "", num[24];
    long long after = 0, limit = 100;
    char *end = NULL;
    if (gw__admin_query_get(rq->query.p, rq->query.n, "search", search, sizeof search) < 0)
        search[0] = '\0'; /* absent */
    if (gw__admin_query_get(rq->query.p, rq->query.n, "limit", num, sizeof num) >= 0) {
        limit = strtoll(num, &end, 10);
        if (end == num || *end || limit < 1 || limit > 1000) {
            gw__admin_error(rs, 400, "limit: expected 1 to 1000");
            return;
        }
    }
    if (gw__admin_query_get(rq->query.p, rq->query.n, "cursor", num, sizeof num) >= 0) {
        after = strtoll(num, &end, 10);
        if (end == num || *end || after < 0) {
            gw__admin_error(rs, 400, "cursor: expected the next_cursor of the previous page");
            return;
        }
    }
    json_t *out = NULL;
    int rc = gw_idp_admin_users(search, after, (uint32_t)limit, &out);
    if (rc != 0) {
        answer_error(rs, rc == 1 ? GW_EIDSTORE : rc, "", "search: at most 254 bytes");
        return;
    }
    gw__admin_json(rs, 200, out);
}

void gw__admin_idp_user(struct gw_server *s, const struct gw__admin_req *rq,
                        struct gw__admin_resp *rs)
{
    (void)s;
    char who[80] = "?";
    json_t *out = NULL;
    int rc = param(rq, 0, who, sizeof who) ? gw_idp_admin_user(who, &out) : 1;
    if (rc != 0) {
        answer_error(rs, rc, who, NULL);
        return;
    }
    gw__admin_json(rs, 200, out);
}

static int disable(const char *who, json_t **out)
{
    return gw_idp_admin_set_disabled(who, true, out);
}

static int enable(const char *who, json_t **out)
{
    return gw_idp_admin_set_disabled(who, false, out);
}

void gw__admin_idp_disable(struct gw_server *s, const struct gw__admin_req *rq,
                           struct gw__admin_resp *rs)
{
    (void)s;
    change(rq, rs, "identity.user_disable", disable);
}

void gw__admin_idp_enable(struct gw_server *s, const struct gw__admin_req *rq,
                          struct gw__admin_resp *rs)
{
    (void)s;
    change(rq, rs, "identity.user_enable", enable);
}

void gw__admin_idp_logout(struct gw_server *s, const struct gw__admin_req *rq,
                          struct gw__admin_resp *rs)
{
    (void)s;
    change(rq, rs, "identity.user_logout", gw_idp_admin_logout);
}

void gw__admin_idp_unlock(struct gw_server *s, const struct gw__admin_req *rq,
                          struct gw__admin_resp *rs)
{
    (void)s;
    change(rq, rs, "identity.user_unlock", gw_idp_admin_unlock);
}

void gw__admin_idp_totp_reset(struct gw_server *s, const struct gw__admin_req *rq,
                              struct gw__admin_resp *rs)
{
    (void)s;
    change(rq, rs, "identity.totp_reset", gw_idp_admin_totp_reset);
}

/* PUT roles or permissions: the list replaced, the user's sessions revoked. */
static void set_list(const struct gw__admin_req *rq, struct gw__admin_resp *rs, bool perms)
{
    const char *action = perms ? "identity.user_permissions" : "identity.user_roles";
    const char *key = perms ? "permissions" : "roles";
    char who[80];
    json_t *out = NULL;
    const char *why = NULL;
    if (!param(rq, 0, who, sizeof who)) {
        gw__admin_error(rs, 404, "no such identity user");
        return;
    }
    int rc = gw_idp_admin_set_list(who, perms, rq->body, rq->body_len, &out, &why);
    if (rc != 0) {
        audit(action, who, NULL, NULL, status_of(rc));
        answer_error(rs, rc, who, why);
        return;
    }
    audit(action, who, out, json_pack("{s:O}", key, json_object_get(out, key)), 200);
    gw__admin_json(rs, 200, out);
}

void gw__admin_idp_roles(struct gw_server *s, const struct gw__admin_req *rq,
                         struct gw__admin_resp *rs)
{
    (void)s;
    set_list(rq, rs, false);
}

void gw__admin_idp_permissions(struct gw_server *s, const struct gw__admin_req *rq,
                               struct gw__admin_resp *rs)
{
    (void)s;
    set_list(rq, rs, true);
}

void gw__admin_idp_create(struct gw_server *s, const struct gw__admin_req *rq,
                          struct gw__admin_resp *rs)
{
    (void)s;
    json_t *out = NULL;
    const char *field = NULL, *why = NULL;
    int rc = gw_idp_admin_create(rq->body, rq->body_len, &out, &field, &why);
    if (rc != 0) {
        char reason[200];
        snprintf(reason, sizeof reason, "%s%s%s", field ? field : "", field ? " " : "",
                 why ? why : "invalid request");
        gw__admin_audit_event("identity.user_create", "user:?", NULL, status_of(rc));
        if (rc == GW_EIDTAKEN)
            gw__admin_error(rs, 409, "username or email already registered");
        else
            answer_error(rs, rc, "", reason);
        return;
    }
    audit("identity.user_create", "", out,
          json_pack("{s:O, s:O}", "roles", json_object_get(out, "roles"), "permissions",
                    json_object_get(out, "permissions")),
          201);
    gw__admin_json(rs, 201, out);
}

void gw__admin_idp_delete(struct gw_server *s, const struct gw__admin_req *rq,
                          struct gw__admin_resp *rs)
{
    (void)s;
    change(rq, rs, "identity.user_delete", gw_idp_admin_delete);
}

void gw__admin_idp_password(struct gw_server *s, const struct gw__admin_req *rq,
                            struct gw__admin_resp *rs)
{
    (void)s;
    char who[80];
    json_t *out = NULL;
    const char *why = NULL;
    if (!param(rq, 0, who, sizeof who)) {
        gw__admin_error(rs, 404, "no such identity user");
        return;
    }
    int rc = gw_idp_admin_set_password(who, rq->body, rq->body_len, &out, &why);
    if (rc != 0) {
        audit("identity.password_reset", who, NULL, NULL, status_of(rc));
        answer_error(rs, rc, who, why);
        return;
    }
    audit("identity.password_reset", who, out, NULL, 200);
    gw__admin_json(rs, 200, out);
}

void gw__admin_idp_sessions(struct gw_server *s, const struct gw__admin_req *rq,
                            struct gw__admin_resp *rs)
{
    (void)s;
    char who[80] = "?";
    json_t *out = NULL;
    int rc = param(rq, 0, who, sizeof who) ? gw_idp_admin_sessions(who, &out) : 1;
    if (rc != 0) {
        answer_error(rs, rc, who, NULL);
        return;
    }
    gw__admin_json(rs, 200, out);
}

void gw__admin_idp_session_revoke(struct gw_server *s, const struct gw__admin_req *rq,
                                  struct gw__admin_resp *rs)
{
    (void)s;
    char who[80], sid[40];
    json_t *out = NULL;
    int rc = 1;
    if (param(rq, 0, who, sizeof who) && param(rq, 1, sid, sizeof sid))
        rc = gw_idp_admin_session_revoke(who, sid, &out);
    else
        snprintf(who, sizeof who, "?");
    if (rc != 0) {
        audit("identity.session_revoke", who, NULL, NULL, rc == 1 ? 404 : 503);
        answer_error(rs, rc, who, NULL);
        return;
    }
    char object[64];
    snprintf(object, sizeof object, "session:%s", sid);
    gw__admin_audit_event("identity.session_revoke", object,
                          json_pack("{s:O}", "user", json_object_get(out, "username")), 200);
    gw__admin_json(rs, 200, out);
}
