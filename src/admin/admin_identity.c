/*
 * /api/identity/users: built-in identity's users and sessions on the admin listener (README
 * "Built-in identity", identity/identity.h "the admin API's side"). {user} is an id or a
 * username. Every change (create, delete, disable, enable, logout, unlock, password reset, TOTP
 * reset, roles, permissions, a session revoked) is an entry of the audit log (never with a
 * password), with the admin key and address admin.c set as its actor; a refused change (no such
 * user) is one too.
 *
 * Each call's work (the store's statements, argon2id) runs on libuv's thread pool
 * (gw_idp_admin_call): the handler defers its answer (gw__admin_defer), and on_result, on the
 * control loop, answers it and writes the audit entry with the actor copied from the request.
 * Meanwhile the control loop serves everything else, this listener's other requests included.
 */
#include "admin/admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/error.h"
#include "identity/identity.h"
#include "runtime/server-t.h"

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

/* A call on the thread pool: what its answer and its audit entry need once it ends. */
struct pending {
    struct gw__admin_later *later;
    enum gw_idp_admin_op op;
    const char *action; /* the audit entry's action; NULL: a read, not audited */
    char who[80];
    char sid[40];
    struct gw_audit_actor actor; /* the request's, pointing to the copies below */
    char key[24];
    char addr[64];
    char via[16];
};

/* The audit entry of a change of user: object "user:<username>" (or the name asked for). */
static void audit(const struct pending *p, json_t *out, json_t *detail, int status)
{
    char object[120];
    const char *name = json_string_value(json_object_get(out, "username"));
    snprintf(object, sizeof object, "user:%s", name ? name : p->who);
    gw__admin_audit_event_as(&p->actor, p->action, object, detail, status);
}

/* The answer (and audit entry) of an ended call; rs gets it. */
static void answer(struct pending *p, int rc, json_t *out, const char *field, const char *why,
                   struct gw__admin_resp *rs)
{
    bool perms = p->op == GW_IDP_ADMIN_PERMISSIONS;
    switch (p->op) {
    case GW_IDP_ADMIN_USERS:
        if (rc != 0)
            answer_error(rs, rc == 1 ? GW_EIDSTORE : rc, "", "search: at most 254 bytes");
        break;
    case GW_IDP_ADMIN_USER:
    case GW_IDP_ADMIN_SESSIONS:
        if (rc != 0)
            answer_error(rs, rc, p->who, NULL);
        break;
    case GW_IDP_ADMIN_ROLES:
    case GW_IDP_ADMIN_PERMISSIONS:
        if (rc != 0) {
            audit(p, NULL, NULL, status_of(rc));
            answer_error(rs, rc, p->who, why);
        } else {
            const char *key = perms ? "permissions" : "roles";
            audit(p, out, json_pack("{s:O}", key, json_object_get(out, key)), 200);
        }
        break;
    case GW_IDP_ADMIN_CREATE:
        if (rc != 0) {
            char reason[200];
            snprintf(reason, sizeof reason, "%s%s%s", field ? field : "", field ? " " : "",
                     why ? why : "invalid request");
            gw__admin_audit_event_as(&p->actor, p->action, "user:?", NULL, status_of(rc));
            if (rc == GW_EIDTAKEN)
                gw__admin_error(rs, 409, "username or email already registered");
            else
                answer_error(rs, rc, "", reason);
        } else {
            audit(p, out,
                  json_pack("{s:O, s:O}", "roles", json_object_get(out, "roles"), "permissions",
                            json_object_get(out, "permissions")),
                  201);
        }
        break;
    case GW_IDP_ADMIN_PASSWORD:
        if (rc != 0) {
            audit(p, NULL, NULL, status_of(rc));
            answer_error(rs, rc, p->who, why);
        } else {
            audit(p, out, NULL, 200);
        }
        break;
    case GW_IDP_ADMIN_SESSION_REVOKE:
        if (rc != 0) {
            audit(p, NULL, NULL, rc == 1 ? 404 : 503);
            answer_error(rs, rc, p->who, NULL);
        } else {
            char object[64];
            snprintf(object, sizeof object, "session:%s", p->sid);
            gw__admin_audit_event_as(&p->actor, p->action, object,
                                     json_pack("{s:O}", "user", json_object_get(out, "username")),
                                     200);
        }
        break;
    default: /* a change of the user: disable, enable, logout, unlock, TOTP reset, delete */
        if (rc != 0) {
            audit(p, NULL, NULL, rc == 1 ? 404 : 503);
            answer_error(rs, rc, p->who, NULL);
        } else {
            audit(p, out, NULL, 200);
        }
        break;
    }
    if (rc == 0) {
        gw__admin_json(rs, p->op == GW_IDP_ADMIN_CREATE ? 201 : 200, out);
        return;
    }
    json_decref(out);
}

static void on_result(void *arg, struct gw_idp_admin_result *res)
{
    struct pending *p = arg;
    struct gw__admin_resp rs = {0};
    json_t *out = res->out;
    res->out = NULL;
    answer(p, res->rc, out, res->field, res->why, &rs);
    gw__admin_later_answer(p->later, &rs);
    free(p);
}

static void copy_actor(struct pending *p, const struct gw_audit_actor *a)
{
    if (a == NULL)
        return;
    if (a->key) {
        snprintf(p->key, sizeof p->key, "%s", a->key);
        p->actor.key = p->key;
    }
    if (a->addr) {
        snprintf(p->addr, sizeof p->addr, "%s", a->addr);
        p->actor.addr = p->addr;
    }
    if (a->via) {
        snprintf(p->via, sizeof p->via, "%s", a->via);
        p->actor.via = p->via;
    }
}

/* Runs the call args asks on the thread pool; its answer comes later (on_result). action: the
 * audit entry's (NULL: a read). */
static void start(struct gw_server *s, const struct gw__admin_req *rq, struct gw__admin_resp *rs,
                  struct gw_idp_admin_args *args, const char *action)
{
    struct pending *p = calloc(1, sizeof *p);
    if (p == NULL) {
        gw__admin_error(rs, 500, "out of memory");
        return;
    }
    p->op = args->op;
    p->action = action;
    snprintf(p->who, sizeof p->who, "%s", args->who ? args->who : "");
    snprintf(p->sid, sizeof p->sid, "%s", args->sid ? args->sid : "");
    copy_actor(p, rq->actor);
    p->later = gw__admin_defer(rq, rs);
    if (p->later == NULL) {
        free(p);
        gw__admin_error(rs, 500, "out of memory");
        return;
    }
    int rc = gw_idp_admin_call(s->control_loop, args, on_result, p);
    if (rc < 0) {
        struct gw_idp_admin_result res = {.rc = rc};
        on_result(p, &res);
    }
}

/* A call on the user named by param 0 (404 at once when there is none). */
static void on_user(struct gw_server *s, const struct gw__admin_req *rq, struct gw__admin_resp *rs,
                    enum gw_idp_admin_op op, const char *action)
{
    char who[80];
    if (!param(rq, 0, who, sizeof who)) {
        gw__admin_error(rs, 404, "no such identity user");
        return;
    }
    struct gw_idp_admin_args a = {.op = op, .who = who, .body = rq->body, .len = rq->body_len};
    start(s, rq, rs, &a, action);
}

/* Whether the query string names key (with or without a value). */
static bool query_has(const char *q, size_t n, const char *key)
{
    size_t k = strlen(key);
    for (size_t i = 0; i < n;) {
        const char *amp = memchr(q + i, '&', n - i);
        size_t end = amp ? (size_t)(amp - q) : n;
        if (end - i >= k && memcmp(q + i, key, k) == 0 && (end - i == k || q[i + k] == '='))
            return true;
        i = end + 1;
    }
    return false;
}

void gw__admin_idp_users(struct gw_server *s, const struct gw__admin_req *rq,
                         struct gw__admin_resp *rs)
{
    char search[256] = "", num[24];
    long long after = 0, limit = 100;
    char *end = NULL;
    if (gw__admin_query_get(rq->query.p, rq->query.n, "search", search, sizeof search) < 0) {
        /* Absent, or present but malformed or too long for the buffer: the latter refused, never
         * ignored (an ignored search would list every user). */
        if (query_has(rq->query.p, rq->query.n, "search")) {
            gw__admin_error(rs, 400, "search: at most 254 bytes, percent-encoded correctly");
            return;
        }
        search[0] = '\0';
    }
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
    struct gw_idp_admin_args a = {
        .op = GW_IDP_ADMIN_USERS, .search = search, .after = after, .limit = (uint32_t)limit};
    start(s, rq, rs, &a, NULL);
}

void gw__admin_idp_user(struct gw_server *s, const struct gw__admin_req *rq,
                        struct gw__admin_resp *rs)
{
    char who[80];
    if (!param(rq, 0, who, sizeof who)) {
        answer_error(rs, 1, "?", NULL);
        return;
    }
    on_user(s, rq, rs, GW_IDP_ADMIN_USER, NULL);
}

void gw__admin_idp_disable(struct gw_server *s, const struct gw__admin_req *rq,
                           struct gw__admin_resp *rs)
{
    on_user(s, rq, rs, GW_IDP_ADMIN_DISABLE, "identity.user_disable");
}

void gw__admin_idp_enable(struct gw_server *s, const struct gw__admin_req *rq,
                          struct gw__admin_resp *rs)
{
    on_user(s, rq, rs, GW_IDP_ADMIN_ENABLE, "identity.user_enable");
}

void gw__admin_idp_logout(struct gw_server *s, const struct gw__admin_req *rq,
                          struct gw__admin_resp *rs)
{
    on_user(s, rq, rs, GW_IDP_ADMIN_LOGOUT, "identity.user_logout");
}

void gw__admin_idp_unlock(struct gw_server *s, const struct gw__admin_req *rq,
                          struct gw__admin_resp *rs)
{
    on_user(s, rq, rs, GW_IDP_ADMIN_UNLOCK, "identity.user_unlock");
}

void gw__admin_idp_totp_reset(struct gw_server *s, const struct gw__admin_req *rq,
                              struct gw__admin_resp *rs)
{
    on_user(s, rq, rs, GW_IDP_ADMIN_TOTP_RESET, "identity.totp_reset");
}

void gw__admin_idp_roles(struct gw_server *s, const struct gw__admin_req *rq,
                         struct gw__admin_resp *rs)
{
    on_user(s, rq, rs, GW_IDP_ADMIN_ROLES, "identity.user_roles");
}

void gw__admin_idp_permissions(struct gw_server *s, const struct gw__admin_req *rq,
                               struct gw__admin_resp *rs)
{
    on_user(s, rq, rs, GW_IDP_ADMIN_PERMISSIONS, "identity.user_permissions");
}

void gw__admin_idp_create(struct gw_server *s, const struct gw__admin_req *rq,
                          struct gw__admin_resp *rs)
{
    struct gw_idp_admin_args a = {.op = GW_IDP_ADMIN_CREATE, .body = rq->body, .len = rq->body_len};
    start(s, rq, rs, &a, "identity.user_create");
}

void gw__admin_idp_delete(struct gw_server *s, const struct gw__admin_req *rq,
                          struct gw__admin_resp *rs)
{
    on_user(s, rq, rs, GW_IDP_ADMIN_DELETE, "identity.user_delete");
}

void gw__admin_idp_password(struct gw_server *s, const struct gw__admin_req *rq,
                            struct gw__admin_resp *rs)
{
    on_user(s, rq, rs, GW_IDP_ADMIN_PASSWORD, "identity.password_reset");
}

void gw__admin_idp_sessions(struct gw_server *s, const struct gw__admin_req *rq,
                            struct gw__admin_resp *rs)
{
    char who[80];
    if (!param(rq, 0, who, sizeof who)) {
        answer_error(rs, 1, "?", NULL);
        return;
    }
    on_user(s, rq, rs, GW_IDP_ADMIN_SESSIONS, NULL);
}

void gw__admin_idp_session_revoke(struct gw_server *s, const struct gw__admin_req *rq,
                                  struct gw__admin_resp *rs)
{
    char who[80], sid[40];
    if (!param(rq, 0, who, sizeof who) || !param(rq, 1, sid, sizeof sid)) {
        gw__admin_audit_event("identity.session_revoke", "user:?", NULL, 404);
        answer_error(rs, 1, "?", NULL);
        return;
    }
    struct gw_idp_admin_args a = {.op = GW_IDP_ADMIN_SESSION_REVOKE, .who = who, .sid = sid};
    start(s, rq, rs, &a, "identity.session_revoke");
}
