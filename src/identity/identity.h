/*
 * Built-in identity (README "Built-in identity", issue 17): users with argon2id passwords in a
 * SQLite store, and the endpoints register, login, refresh, logout and me on the proxy port.
 * Access tokens are JWTs (HS256, EdDSA or ES256; policy/jwt_signer.h, key rotation with
 * several keys, one active) that gantry's own JWT authentication accepts (config_identity.c
 * adds the keys to auth.jwt's), whose public keys identity serves as a JWK Set; refresh tokens are
 * opaque, stored as SHA-256, rotated on each use, and the reuse of a used one revokes its whole
 * session family.
 *
 * Threads: gw_idp_start/stop and gw_idp_admin_call on the control thread; gw_idp_endpoint and
 * gw_idp_call_* on a worker's loop thread. The work of a call (argon2id, SQLite, PostgreSQL)
 * runs on libuv's thread pool (uv_queue_work), never on a loop thread.
 */
#ifndef GW_IDENTITY_IDENTITY_H
#define GW_IDENTITY_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "config/config-t.h"

#define GW_IDP_BODY_MAX 8192    /* the largest request body an endpoint reads */
#define GW_IDP_PASSWORD_MAX 256 /* bytes */
#define GW_IDP_TOKEN_MAX 128    /* a refresh token or an invite code, bytes */
#define GW_IDP_RECOVERY_LEN 10  /* characters of a recovery code (base32, 50 bits) */

/* What a request body holds, after gw_idp_parse checked it. Strings NUL-terminated. */
struct gw_idp_input {
    char username[65]; /* folded to lower case (ASCII letters, digits, '.', '_', '-') */
    char email[255];   /* folded to lower case */
    char login[255];   /* login: a username or an email, folded */
    bool login_is_email;
    char password[GW_IDP_PASSWORD_MAX + 1]; /* password change: the current one */
    size_t password_len;
    char new_password[GW_IDP_PASSWORD_MAX + 1]; /* password change */
    size_t new_password_len;
    char invite[GW_IDP_TOKEN_MAX + 1];
    char refresh[GW_IDP_TOKEN_MAX + 1];
    bool all; /* logout: every session of the user */
    /* login (optional), totp confirm and disable: a TOTP code, 6 to 8 ASCII digits */
    char totp[9];
    /* login (optional), totp disable: a recovery code, normalised to its 10 lower-case base32
     * characters (the '-' and spaces people type are dropped) */
    char recovery[32];
};

/*
 * Parses and checks the JSON body of a call to endpoint ep (a pure function: the fuzz target's
 * way in). Returns 0, or GW_EIDINPUT with *field the member at fault ("body" when the body is
 * not a JSON object) and *why a reason (both literals). Password strength is checked later,
 * by register, which knows the configured minimum.
 */
int gw_idp_parse(enum gw_idp_endpoint ep, const char *body, size_t len, struct gw_idp_input *in,
                 const char **field, const char **why);

/* Whether a Content-Type value v[0..n) is application/json (RFC 9110 8.3.1: type and subtype
 * case-insensitive, then parameters "; name=value", value a token or a quoted string; a charset
 * parameter must be utf-8, RFC 8259 8.1). A pure function. */
bool gw_idp_json_media(const char *v, size_t n);

/* The endpoint whose configured path is path[0..n) (register only when registration is on), or
 * -1. One comparison per endpoint; -1 at once when identity is off. Any thread. */
int gw_idp_endpoint(const struct gw_config *cfg, const char *path, size_t n);

/* Opens the store and binds the settings (copied) for the life of the process: a reload does
 * not change them. Control thread, before the workers start; nothing when identity is off.
 * 0, or GW_EIDSTORE / GW_ENOMEM. */
int gw_idp_start(const struct gw_config *cfg);

/* Closes the store; after the workers stopped. The admin calls still in flight are answered
 * first (gw_idp_admin_call): it waits for those that already run. Control thread. */
void gw_idp_stop(void);

/* ---- the store's schema (`gantry migrate`, identity.migrate) ---- */

#define GW_IDP_SCHEMA_MAX 16 /* versions of one store's schema */

struct gw_idp_schema {
    const char *store; /* "sqlite" or "postgres" */
    bool exists;       /* sqlite: the file is there (reading never creates it) */
    size_t known;      /* the versions this gantry knows: 1..known */
    size_t before;     /* the database's version before the call (0: none; above known: newer) */
    size_t after;      /* after it: the versions before..after were applied by this call */
    const char *what[GW_IDP_SCHEMA_MAX]; /* what version v does, what[v - 1] (v <= known) */
    char applied[GW_IDP_SCHEMA_MAX][32]; /* when version v was applied, UTC ISO 8601; "" none */
};

/*
 * The schema of the store ic names (its SQLite file, or its PostgreSQL database with one
 * connection of its own) into *out; with apply, its pending migrations applied first, under the
 * lock a start takes (SQLite: the database's write lock, one version per transaction read again
 * inside it; PostgreSQL: one transaction under the advisory lock the audit log's schema step
 * takes too), so concurrent runs and starts apply each version once. Blocks (the caller's
 * thread: `gantry migrate`). 0; GW_EIDSTORE when the database cannot be opened or reached, a
 * migration failed, or the database is newer than this gantry (out->before > out->known, when
 * read), each logged.
 */
int gw_idp_schema(const struct gw_identity_conf *ic, bool apply, struct gw_idp_schema *out);

/* The outcome of a call, for the loop thread. */
struct gw_idp_result {
    int status; /* HTTP status */
    int err;    /* 0: body is the answer; else the error for gantry's own error answer */
    char *body; /* JSON (err 0), owned by the call */
    size_t body_len;
    char reason[160];     /* err: a reason naming the field, or "" */
    char field[32];       /* err: the member of the body at fault, or "" */
    uint32_t retry_after; /* seconds, with GW_EIDLOCKED */
};

struct gw_idp_call;

/* Called on the loop thread with the result (valid during the call only). */
typedef void (*gw_idp_cb)(void *arg, const struct gw_idp_result *res);

/*
 * Starts a call of endpoint ep, signing and verifying with cfg's identity keys (the request's
 * snapshot; the call holds a reference to them), with a request body (copied), the bearer token of
 * its Authorization header (copied; NULL when none) and the client's address (copied). cb runs
 * later on loop, never before this returns. Returns 0 with *out (for gw_idp_call_cancel until cb
 * ran), or GW_ENOMEM / GW_EIDSTORE (identity was not started).
 */
int gw_idp_call_start(uv_loop_t *loop, const struct gw_config *cfg, enum gw_idp_endpoint ep,
                      const char *body, size_t len, const char *bearer, size_t bearer_len,
                      const char *client, gw_idp_cb cb, void *arg, struct gw_idp_call **out);

/* The caller is gone: cb will not run (the work, once started, still finishes: a login counts).
 * Loop thread; NULL is ignored. */
void gw_idp_call_cancel(struct gw_idp_call *call);

/* ---- login throttling (identity.throttle), on a worker's loop before a login's call ---- */

struct gw_rl_redis;
struct gw_idp_gate;

/* Called on the loop thread: retry_after 0 when the attempt may go on, else the seconds to
 * wait (answer 429 with Retry-After). */
typedef void (*gw_idp_gate_cb)(void *arg, uint32_t retry_after);

#define GW_IDP_GATE_PENDING (-1)

/* Whether identity.throttle is on: a login's call is then preceded by a call of
 * GW_IDP_EP_ACCOUNT (gw_idp_call_start with the login's body), whose answer (status 200, body:
 * the account, not NUL-terminated) is gw_idp_gate_login's account; an error answer (a body that
 * is not a valid login) means nothing to count: the login's call answers it. Any thread. */
bool gw_idp_gate_on(void);

/*
 * Counts a login attempt for its account (account[0..n): the username of the existing account
 * the login names, by username or email, else the login as typed, folded; what the
 * GW_IDP_EP_ACCOUNT call answered) and for the client's address with the gateway's rate
 * limiter: the worker's Redis client redis when rate_limit.backend is redis (NULL or down: the
 * in-process counters), else the in-process counters. Returns 0 (go on), a positive number of
 * seconds to wait (refused), or GW_IDP_GATE_PENDING with *out: cb runs later on the loop (never
 * before this returns) unless gw_idp_gate_cancel(*out). 0 at once when throttling is off. Loop
 * thread.
 */
int gw_idp_gate_login(struct gw_rl_redis *redis, const struct gw_config *cfg, const char *account,
                      size_t n, const char *client, gw_idp_gate_cb cb, void *arg,
                      struct gw_idp_gate **out);

/* The caller is gone: cb will not run. Loop thread; only before cb ran; NULL is ignored. */
void gw_idp_gate_cancel(struct gw_idp_gate *g);

/* ---- the admin API's side (admin/admin_identity.c) ----
 *
 * The admin API runs each call on libuv's thread pool (gw_idp_admin_call, below), so its
 * statements (PostgreSQL waits up to identity.postgres.timeout each) and argon2id never block
 * the control loop. The functions after it are the calls' work: synchronous, any thread while
 * identity runs (the store is shared with the proxy port's calls). who names a user by id
 * (digits) or username. Each returns 0 with *out (the answer's JSON, the caller's), 1 when
 * there is no such user (or session), GW_EIDINPUT, or GW_EIDSTORE (also when identity is not
 * running); *out NULL unless 0. */

enum gw_idp_admin_op {
    GW_IDP_ADMIN_USERS = 0,      /* search, after, limit */
    GW_IDP_ADMIN_USER,           /* who */
    GW_IDP_ADMIN_DISABLE,        /* who */
    GW_IDP_ADMIN_ENABLE,         /* who */
    GW_IDP_ADMIN_LOGOUT,         /* who */
    GW_IDP_ADMIN_UNLOCK,         /* who */
    GW_IDP_ADMIN_TOTP_RESET,     /* who */
    GW_IDP_ADMIN_ROLES,          /* who, body */
    GW_IDP_ADMIN_PERMISSIONS,    /* who, body */
    GW_IDP_ADMIN_CREATE,         /* body */
    GW_IDP_ADMIN_DELETE,         /* who */
    GW_IDP_ADMIN_PASSWORD,       /* who, body */
    GW_IDP_ADMIN_SESSIONS,       /* who */
    GW_IDP_ADMIN_SESSION_REVOKE, /* who, sid */
};

/* What one admin call asks: the members its op names (strings NUL-terminated; NULL is ""). */
struct gw_idp_admin_args {
    enum gw_idp_admin_op op;
    const char *who;
    const char *sid;
    const char *search;
    int64_t after;
    uint32_t limit;
    const char *body; /* body[0..len) */
    size_t len;
};

/* The outcome of an admin call: rc as the functions below return it (GW_EIDTAKEN for create),
 * out the answer's JSON when rc is 0 (the callback takes it: it sets out to NULL, or the call
 * releases it), field and why (literals, or NULL) with GW_EIDINPUT. */
struct gw_idp_admin_result {
    int rc;
    json_t *out;
    const char *field;
    const char *why;
};

/* Called on the loop the call was started on (valid during the call only). */
typedef void (*gw_idp_admin_cb)(void *arg, struct gw_idp_admin_result *res);

/*
 * Runs the admin call a asks (its strings and body copied) on libuv's thread pool. cb runs on
 * loop with the result, never before this returns: normally from the loop once the work ended;
 * when gw_idp_stop comes first, from gw_idp_stop (it waits for the work that already runs, and
 * answers GW_EIDSTORE for the work that had not started), so the callback must not need the
 * caller's connection (the admin API's deferred answers tolerate a closed one). Control thread.
 * 0, or GW_EIDSTORE (identity is not running) / GW_ENOMEM, with cb not called.
 */
int gw_idp_admin_call(uv_loop_t *loop, const struct gw_idp_admin_args *a, gw_idp_admin_cb cb,
                      void *arg);

#define GW_IDP_ROLES_MAX 32 /* roles of one user */

/* Users with id > after whose username or email contains search (may be ""), at most limit
 * (1..1000): {"users": [...], "next_cursor": id or null}. */
int gw_idp_admin_users(const char *search, int64_t after, uint32_t limit, json_t **out);

/* One user: id, username, email, roles, created_at, disabled, totp_enabled, live_sessions,
 * locked_for (seconds until its logins are accepted again: 0 when not locked out). */
int gw_idp_admin_user(const char *who, json_t **out);

/* Disables (every session revoked, logins refused) or enables a user: the user after. */
int gw_idp_admin_set_disabled(const char *who, bool disabled, json_t **out);

/* Revokes every session of the user: {"username", "sessions_revoked"}. */
int gw_idp_admin_logout(const char *who, json_t **out);

/* Ends the user's lockout (identity.lockout) and forgets its failed logins, by username and by
 * email, on every instance when the store is PostgreSQL: {"id", "username", "unlocked": true,
 * "was_locked"}. */
int gw_idp_admin_unlock(const char *who, json_t **out);

/* Turns the user's TOTP off (secret, pending enrolment and recovery codes forgotten):
 * {"username", "totp_enabled": false, "was_enabled"}. */
int gw_idp_admin_totp_reset(const char *who, json_t **out);

/* Replaces the user's roles (perms false) or permissions (perms true) with the body's
 * {"roles": [...]} or {"permissions": [...]} (gw_idp_parse_list) and revokes the user's sessions,
 * so no token carries the old ones: the user after, with "sessions_revoked". GW_EIDINPUT with
 * *why. */
int gw_idp_admin_set_list(const char *who, bool perms, const char *body, size_t len, json_t **out,
                          const char **why);

/* Creates a user from {"username", "email", "password", "roles"?, "permissions"?} (the
 * password rules of registration apply; roles default to identity.register.roles, permissions
 * to none): the user, 0; GW_EIDINPUT with *field and *why; GW_EIDTAKEN when the username or
 * email exists. argon2id runs on the calling thread (the pool's, through gw_idp_admin_call). */
int gw_idp_admin_create(const char *body, size_t len, json_t **out, const char **field,
                        const char **why);

/* Deletes the user, its sessions revoked first (their access tokens refused at once):
 * {"id", "username", "deleted": true, "sessions_revoked"}. */
int gw_idp_admin_delete(const char *who, json_t **out);

/* Sets the user's password from {"password"} (the rules of registration apply) and revokes
 * every session of the user: {"id", "username", "password_reset": true, "sessions_revoked"}.
 * GW_EIDINPUT with *why. */
int gw_idp_admin_set_password(const char *who, const char *body, size_t len, json_t **out,
                              const char **why);

/* The user's sessions, newest first: {"username", "sessions": [...]}. */
int gw_idp_admin_sessions(const char *who, json_t **out);

/* Revokes session sid of the user: {"username", "sid", "revoked"}; 1 when the user has no
 * such session. */
int gw_idp_admin_session_revoke(const char *who, const char *sid, json_t **out);

/* Parses {"<key>": ["name", ...]}, key "roles" or "permissions" (a pure function: fuzzed): at
 * most GW_IDP_ROLES_MAX unique names of 1 to 64 characters of letters, digits, '.', '_', ':' and
 * '-', written space-separated into out[0..cap). 0, or GW_EIDINPUT with *why. */
int gw_idp_parse_list(const char *body, size_t len, const char *key, char *out, size_t cap,
                      const char **why);

/* Parses the admin API's new user (fuzzed): what gw_idp_parse takes for a registration into
 * *in, and the optional "roles" and "permissions" arrays (as gw_idp_parse_list) into
 * roles[0..cap) and perms[0..cap); *has_roles tells whether "roles" was there. 0, or
 * GW_EIDINPUT with *field and *why. */
int gw_idp_parse_new_user(const char *body, size_t len, struct gw_idp_input *in, char *roles,
                          char *perms, size_t cap, bool *has_roles, const char **field,
                          const char **why);

/* Parses {"password": "..."} (fuzzed) into pw[0..GW_IDP_PASSWORD_MAX + 1) and *pw_len. 0, or
 * GW_EIDINPUT with *why. */
int gw_idp_parse_password(const char *body, size_t len, char *pw, size_t *pw_len, const char **why);

struct gw_chunked_decoder;

/*
 * A chunked request body of an endpoint: HTTP/1.1 "Transfer-Encoding: chunked", or an HTTP/2
 * request without content-length, whose DATA frames until END_STREAM the h2 session hands over
 * chunk-framed (h2/session.h). Decodes in[0..n) with d (gw_chunked_init'd for this body) and
 * appends the payload to out[*len..cap); *used gets how many bytes of in were taken (they belong
 * to the body; what follows the body's end does not). Returns 1 when the body ended, 0 when all
 * of in was taken and more is needed, GW_EBODYTOOLARGE when the payload would pass cap (nothing
 * more is appended), or the decoder's negative code for malformed framing. A pure function
 * (fuzzed: any split of the same bytes gives the same payload and outcome).
 */
int gw_idp_body_dechunk(struct gw_chunked_decoder *d, const char *in, size_t n, size_t *used,
                        char *out, size_t *len, size_t cap);

#endif
