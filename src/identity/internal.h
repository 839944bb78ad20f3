/*
 * Helpers shared by the files of identity/ (built-in identity), not used outside it.
 */
#ifndef GW_IDENTITY_INTERNAL_H
#define GW_IDENTITY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <sodium.h>

#include "identity/identity.h"
#include "policy/jwt.h"

#define GW__IDP_USERNAME_MAX 64
#define GW__IDP_EMAIL_MAX 254
#define GW__IDP_ROLES_MAX 512
#define GW__IDP_SID_LEN 32     /* hex of 16 random bytes */
#define GW__IDP_TOTP_SECRET 20 /* bytes of a TOTP secret (160 bits, RFC 4226 4 R6) */
/* A sealed TOTP secret as stored: the sealing key's id (8 hex digits), then the box. */
#define GW__IDP_TOTP_BOX (8 + GW__IDP_TOTP_SECRET + 40)

struct gw__idp_user {
    int64_t id;
    char username[GW__IDP_USERNAME_MAX + 1];
    char email[GW__IDP_EMAIL_MAX + 1];
    char hash[crypto_pwhash_STRBYTES];
    char roles[GW__IDP_ROLES_MAX]; /* space-separated */
    char perms[GW__IDP_ROLES_MAX]; /* permissions, space-separated */
    int64_t created;
    bool totp;                                /* TOTP confirmed: logins need a code */
    unsigned char totp_box[GW__IDP_TOTP_BOX]; /* the sealed secret when totp */
    int64_t totp_last_step;                   /* the last time step accepted */
};

/* ---- service.c: the state bound at start, and a call of an endpoint ------------------------ */

/* Revoked ids stay in the set this long after the last token they cover expired: more than any
 * leeway a verifier gives exp. */
#define GW__IDP_REVOKE_MARGIN_S 300

struct gw__idp_state {
    bool started;
    struct gw_identity_conf ic;    /* strings below owned here */
    char roles[GW__IDP_ROLES_MAX]; /* register.roles, space-separated */
    struct gw__idp_store *store;
    struct gw_jwt_policy pol;
    char dummy[crypto_pwhash_STRBYTES]; /* the hash an unknown user is checked against */
    _Atomic bool revocations_loaded;    /* the store's revocations are in the set */
};

struct gw_idp_call {
    uv_work_t work;
    enum gw_idp_endpoint ep;
    char *body;
    size_t len;
    char *bearer;
    size_t bearer_len;
    char client[64];
    struct gw_jwt_keyring *keys; /* the snapshot's signing keys (a reference) */
    gw_idp_cb cb;                /* NULL once cancelled */
    void *arg;
    struct gw_idp_result res;
};

/* The settings and store (service.c); read by the handlers while identity runs. */
extern struct gw__idp_state gw__idp;

/* admin_call.c: answers every admin call still in flight (gw_idp_admin_call), waiting for the
 * work of those that run and cancelling the others (answered GW_EIDSTORE); gw_idp_stop's first
 * step, so the store outlives every use. Control thread. */
void gw__idp_admin_calls_finish(void);

/* A request's bearer token, verified (gw__idp_verify_bearer). */
struct gw__idp_bearer {
    int64_t user;
    char sid[GW__IDP_SID_LEN + 1];
    char roles[GW__IDP_ROLES_MAX];
    uint64_t jti_key;
    char jti[GW__IDP_SID_LEN + 1]; /* the jti claim ("" when it is not a jti of ours) */
    int64_t exp;
};

/* The call fails with err (its HTTP status from the errors table), naming field when not NULL,
 * with why as the reason. */
void gw__idp_fail(struct gw_idp_call *c, int err, const char *field, const char *why);
/* The call answers status with json (its reference taken; NULL: out of memory). */
void gw__idp_answer(struct gw_idp_call *c, int status, json_t *json);
/* The same with the JSON text already written: text[0..len) (malloc'd, taken over). */
void gw__idp_answer_text(struct gw_idp_call *c, int status, char *text, size_t len);
/* An audit entry (event identity) of the call's client, with detail (JSON text) or NULL. */
void gw__idp_audit_detail(const struct gw_idp_call *c, const char *action, const char *object,
                          int status, const char *detail);
void gw__idp_audit(const struct gw_idp_call *c, const char *action, const char *object, int status);
/* Wall-clock milliseconds. */
int64_t gw__idp_now_ms(void);

/* ---- endpoints.c, endpoints_totp.c: the handlers, on the thread pool ---------------------- */

/* The request's bearer token, issued by this gantry, valid and not revoked: 0, GW_EIDTOKEN, or
 * GW_EIDREVOCATIONS while the revoked set is in doubt and refuses (state/revoked.h; with
 * in_doubt_ok, a logout's, the set answers from what it holds instead). */
int gw__idp_verify_bearer(const struct gw_idp_call *c, struct gw__idp_bearer *b, bool in_doubt_ok);
/* The current password of the bearer token's user u checked before a change of its factors
 * (TOTP enrol): 0, or -1 with the failure answered (429 while the account is locked, 401 when
 * wrong, which counts towards the account's lockout; action names the audit entry). */
int gw__idp_reauth(struct gw_idp_call *c, const struct gw_idp_input *in,
                   const struct gw__idp_user *u, const char *action);
/* The user of the request's bearer token into *u: 0, or -1 with the failure answered. */
int gw__idp_bearer_user(struct gw_idp_call *c, struct gw__idp_bearer *b, struct gw__idp_user *u);
/* The second factor of u's login: in's TOTP code (a step later than the last one used) or one
 * of u's unused recovery codes. *ok tells; 0 or GW_EIDSTORE. */
int gw__idp_second_factor(const struct gw_idp_call *c, const struct gw_idp_input *in,
                          const struct gw__idp_user *u, bool *ok);
void gw__idp_do_register(struct gw_idp_call *c, const struct gw_idp_input *in);
void gw__idp_do_login(struct gw_idp_call *c, const struct gw_idp_input *in);
/* A login's account (identity.h GW_IDP_EP_ACCOUNT): answers 200 with the account's key. */
void gw__idp_do_account(struct gw_idp_call *c, const struct gw_idp_input *in);
void gw__idp_do_refresh(struct gw_idp_call *c, const struct gw_idp_input *in);
void gw__idp_do_logout(struct gw_idp_call *c, const struct gw_idp_input *in);
void gw__idp_do_password(struct gw_idp_call *c, const struct gw_idp_input *in);
void gw__idp_do_me(struct gw_idp_call *c);
void gw__idp_do_totp_enrol(struct gw_idp_call *c, const struct gw_idp_input *in);
void gw__idp_do_totp_confirm(struct gw_idp_call *c, const struct gw_idp_input *in);
void gw__idp_do_totp_disable(struct gw_idp_call *c, const struct gw_idp_input *in);

/* The started store and the bound settings (into *ic), or NULL when identity did not start. */
struct gw__idp_store *gw__idp_store_of(const struct gw_identity_conf **ic);

/* identity.register.roles, space-separated, into out[0..cap). */
void gw__idp_default_roles(char *out, size_t cap);

/* A JSON array of the space-separated roles (NULL when out of memory). */
json_t *gw__idp_roles_array(const char *roles);

/* Loads the store's live revocations into the in-process set (state/revoked.h), once: at start,
 * and, when the store was not reachable then (PostgreSQL down), at each identity call until it
 * succeeds. Blocks on the store: the control thread at start, else the thread pool. */
void gw__idp_revocations_load(void);

/* The sessions_revoke callback: session sid's tokens refused from now on (arg: an int counting
 * them). */
void gw__idp_revoke_sid(void *arg, const char *sid);

/* ---- the store: users, session families, refresh tokens, TOTP, recovery codes -------------
 *
 * One interface, two implementations behind a table of functions: SQLite (store_sqlite.c,
 * store_sqlite_admin.c: embedded, one file) and PostgreSQL (store_pg.c, store_pg_ops.c: shared
 * by several gantry instances). The same tables, the same statements (each value a bound
 * parameter), the same answers. Every function may be called from any thread (libuv's thread
 * pool for the endpoints, the control thread for the admin API) and blocks on the disk or the
 * network: never on a loop thread. The PostgreSQL one bounds each wait (identity.postgres.timeout)
 * and answers GW_EIDSTORE while PostgreSQL is unreachable. ---- */

struct gw__idp_store;

/* Opens the store identity.store names: the SQLite file identity.sqlite, or a pool of
 * connections to identity.postgres.dsn (a PostgreSQL down at start is not an error: its
 * connections are made, and the schema migrated, when first needed). 0, or GW_EIDSTORE after
 * logging why. */
int gw__idp_store_open(const struct gw_identity_conf *ic, struct gw__idp_store **out);
/* Opens (creating) the SQLite database file, WAL mode, with the migrations this gantry knows. */
int gw__idp_sqlite_open(const char *path, struct gw__idp_store **out);
/* The same, and with apply false (identity.migrate off) a pending migration refuses the file. */
int gw__idp_sqlite_open_with(const char *path, bool apply, struct gw__idp_store **out);
/* gw_idp_schema of the SQLite file path. */
int gw__idp_sqlite_schema(const char *path, bool apply, struct gw_idp_schema *out);
/* gw_idp_schema of the PostgreSQL database dsn (each wait bounded by timeout_ms). */
int gw__idp_pg_schema(const char *dsn, uint64_t timeout_ms, bool apply, struct gw_idp_schema *out);
/* A pool of at most pool connections to dsn (a libpq connection string or a postgresql:// URI),
 * each wait bounded by timeout_ms. Connects lazily: 0 even when PostgreSQL is down. */
int gw__idp_pg_open(const char *dsn, uint32_t pool, uint64_t timeout_ms,
                    struct gw__idp_store **out);
/* The same, and with apply false (identity.migrate off) the schema is checked, not migrated: a
 * pending migration refuses the store (GW_EIDSTORE, logged) when PostgreSQL is there at open,
 * else each call until it is applied. */
int gw__idp_pg_open_with(const char *dsn, uint32_t pool, uint64_t timeout_ms, bool apply,
                         struct gw__idp_store **out);
void gw__idp_store_close(struct gw__idp_store *s);
/* "sqlite" or "postgres". */
const char *gw__idp_store_name(const struct gw__idp_store *s);

/* Users in the store, into *n. 0 or GW_EIDSTORE. */
int gw__idp_users_count(struct gw__idp_store *s, int64_t *n);

/* Inserts a user (username and email already folded; roles and perms space-separated); its id
 * into u->id. only_first: only into an empty store, atomically (GW_EIDCLOSED when a user is
 * there by then: the first-user-is-admin rule must hold when registrations race, in one
 * process or in several). 0, GW_EIDTAKEN when the username or email exists, or GW_EIDSTORE. */
int gw__idp_user_insert(struct gw__idp_store *s, struct gw__idp_user *u, bool only_first);

/* Finds an enabled user by folded username or email (by_email) or by id (login NULL). 0, 1 when
 * there is none, or GW_EIDSTORE. */
int gw__idp_user_find(struct gw__idp_store *s, const char *login, bool by_email, int64_t id,
                      struct gw__idp_user *u);

/* Replaces a user's password hash. 0 or GW_EIDSTORE. */
int gw__idp_user_set_hash(struct gw__idp_store *s, int64_t id, const char *hash);

/* Deletes a user with its sessions, refresh tokens and recovery codes. 0, 1 when there was no
 * such user, or GW_EIDSTORE. */
int gw__idp_user_delete(struct gw__idp_store *s, int64_t id);

/* A new session family sid for user, with its first refresh token (SHA-256 hex rhash), both
 * expiring at expires. 0 or GW_EIDSTORE. */
int gw__idp_session_new(struct gw__idp_store *s, int64_t user, const char *sid, const char *rhash,
                        int64_t now, int64_t expires);

enum gw__idp_rotate {
    GW__IDP_ROTATED, /* the old token was live: it is used now, the new one is live */
    GW__IDP_UNKNOWN, /* no such token, or its family was revoked, or expired */
    GW__IDP_REUSED,  /* the token had been used: its whole family is revoked now */
};

/* Refresh-token rotation, one transaction: looks up old_hash; if live (family neither revoked,
 * expired, nor unused for idle_s seconds when idle_s > 0), marks it used, adds new_hash to its
 * family and records the use; if already used, revokes the family. Two rotations of one token
 * racing (in one process or two) are serialised: one rotates, the other sees a reuse. *user and
 * sid[GW__IDP_SID_LEN + 1] tell whose. 0 with *out, or GW_EIDSTORE. */
int gw__idp_refresh_rotate(struct gw__idp_store *s, const char *old_hash, const char *new_hash,
                           int64_t now, int64_t idle_s, enum gw__idp_rotate *out, int64_t *user,
                           char *sid);

/* Revokes session sid (of user), or every live session of user when sid is NULL; calls each(arg,
 * sid) for each one it revoked. Each revocation is also recorded in idp_revoked (until now +
 * s->revoke_for_s) in the same transaction: a restarted gantry loads it (gw__idp_revoked_load).
 * 0 or GW_EIDSTORE. */
int gw__idp_sessions_revoke(struct gw__idp_store *s, int64_t user, const char *sid,
                            void (*each)(void *arg, const char *sid), void *arg);

/* Revocations, durable: the store keeps each revoked id (a session's sid, an access token's jti)
 * with the time until which a token it covers may still be accepted, so that a restarted gantry
 * refuses them as before (the in-process set is rebuilt from them at start). put records id
 * until until (a later expiry replaces an earlier one) and drops the expired ones; load drops the
 * ones expired at now and calls each(arg, id, until) for every other. 0 or GW_EIDSTORE. */
int gw__idp_revoked_put(struct gw__idp_store *s, const char *id, int64_t until, int64_t now);
int gw__idp_revoked_load(struct gw__idp_store *s, int64_t now,
                         void (*each)(void *arg, const char *id, int64_t until), void *arg);

/* TOTP (totp.c, service.c). The pending secret of an enrolment not yet confirmed: set
 * (replacing any), read (0, or 1 when none). 0 or GW_EIDSTORE. */
int gw__idp_totp_pending_set(struct gw__idp_store *s, int64_t user, const unsigned char *box);
int gw__idp_totp_pending_get(struct gw__idp_store *s, int64_t user, unsigned char *box);

/* Confirms the pending secret as the user's TOTP secret, with step as the last step used, and
 * replaces the user's recovery codes with the n SHA-256 hex hashes, in one transaction. 0, 1
 * when nothing was pending, or GW_EIDSTORE. */
int gw__idp_totp_enable(struct gw__idp_store *s, int64_t user, int64_t step, char (*hashes)[65],
                        size_t n);

/* Forgets the user's TOTP secret (pending one too) and recovery codes. *was: it had one. */
int gw__idp_totp_disable(struct gw__idp_store *s, int64_t user, bool *was);

/* Records step as used if it is later than the last one used: *ok tells (a code is accepted at
 * most once, even by two concurrent logins). 0 or GW_EIDSTORE. */
int gw__idp_totp_use_step(struct gw__idp_store *s, int64_t user, int64_t step, bool *ok);

/* Uses up the unused recovery code of user with SHA-256 hex hash: *ok tells whether there was
 * one. *left: unused codes left afterwards. 0 or GW_EIDSTORE. */
int gw__idp_recovery_use(struct gw__idp_store *s, int64_t user, const char *hash, bool *ok,
                         int64_t *left);

/* What the admin API reads and changes. */

/* A user, disabled or not, by id (name NULL) or folded username: its columns (not the password
 * hash, nor the TOTP secret: u->totp tells whether there is one) into *u and *disabled. 0, 1
 * when none, or GW_EIDSTORE. */
int gw__idp_admin_find(struct gw__idp_store *s, const char *name, int64_t id,
                       struct gw__idp_user *u, bool *disabled);

/* Up to limit users with id > after whose username or email contains search ("" for all), by
 * id, appended to arr as objects (id, username, email, roles and permissions as stored,
 * created_at, disabled, totp_enabled). 0 or GW_EIDSTORE. */
int gw__idp_admin_list(struct gw__idp_store *s, const char *search, int64_t after, uint32_t limit,
                       json_t *arr);

/* Sets a user's disabled flag; its roles or (perms) its permissions (space-separated). 0 or
 * GW_EIDSTORE. */
int gw__idp_admin_set_disabled(struct gw__idp_store *s, int64_t id, bool disabled);
int gw__idp_admin_set_list(struct gw__idp_store *s, int64_t id, bool perms, const char *list);

/* The user's sessions, newest first (at most 200), appended to arr: sid, created_at,
 * expires_at, last_used_at, revoked, live. 0 or GW_EIDSTORE. */
int gw__idp_admin_sessions(struct gw__idp_store *s, int64_t user, json_t *arr);

/* Whether session sid belongs to user (*found). 0 or GW_EIDSTORE. */
int gw__idp_admin_session_of(struct gw__idp_store *s, int64_t user, const char *sid, bool *found);

/* search as a LIKE pattern matching it anywhere (ESCAPE backslash: '%', '_' and the backslash
 * taken literally), into out[0..cap) (cap at least 3). */
void gw__idp_like_pattern(const char *search, char *out, size_t cap);

/* store_pg.c: the PostgreSQL store's connections, for its operations (store_pg_ops.c). */
struct gw__idp_pgc; /* one connection of the pool, lent to one caller */
struct pg_result;   /* libpq's PGresult */
/* A connection (made and the schema migrated when needed), within identity.postgres.timeout:
 * 0 with *out, or GW_EIDSTORE (logged). Give it back with gw__idp_pg_release. */
int gw__idp_pg_acquire(struct gw__idp_store *s, struct gw__idp_pgc **out);
/* Gives c back (closed when it failed or was left inside a transaction). NULL is ignored. */
void gw__idp_pg_release(struct gw__idp_pgc *c);
/* Runs sql with n text parameters ($1..$n; a NULL value is SQL NULL; n 0: several statements
 * allowed, no parameters), bounded by the timeout. 0 with *res when res (PQclear it),
 * GW_EIDTAKEN on a unique violation, else GW_EIDSTORE, logged with what (a lost connection is
 * also reported as PostgreSQL down, and not used again). */
int gw__idp_pg_exec(struct gw__idp_pgc *c, const char *what, const char *sql, int n,
                    const char *const *values, struct pg_result **res);
void gw__idp_pg_close(struct gw__idp_store *s);
const struct gw__idp_store_ops *gw__idp_pg_ops(void);

/* The table each implementation fills (the functions above, without the prefix). */
struct gw__idp_store_ops {
    const char *name;
    void (*close)(struct gw__idp_store *s);
    int (*users_count)(struct gw__idp_store *s, int64_t *n);
    int (*user_insert)(struct gw__idp_store *s, struct gw__idp_user *u, bool only_first);
    int (*user_find)(struct gw__idp_store *s, const char *login, bool by_email, int64_t id,
                     struct gw__idp_user *u);
    int (*user_set_hash)(struct gw__idp_store *s, int64_t id, const char *hash);
    int (*user_delete)(struct gw__idp_store *s, int64_t id);
    int (*session_new)(struct gw__idp_store *s, int64_t user, const char *sid, const char *rhash,
                       int64_t now, int64_t expires);
    int (*refresh_rotate)(struct gw__idp_store *s, const char *old_hash, const char *new_hash,
                          int64_t now, int64_t idle_s, enum gw__idp_rotate *out, int64_t *user,
                          char *sid);
    int (*sessions_revoke)(struct gw__idp_store *s, int64_t user, const char *sid,
                           void (*each)(void *arg, const char *sid), void *arg);
    int (*totp_pending_set)(struct gw__idp_store *s, int64_t user, const unsigned char *box);
    int (*totp_pending_get)(struct gw__idp_store *s, int64_t user, unsigned char *box);
    int (*totp_enable)(struct gw__idp_store *s, int64_t user, int64_t step, char (*hashes)[65],
                       size_t n);
    int (*totp_disable)(struct gw__idp_store *s, int64_t user, bool *was);
    int (*totp_use_step)(struct gw__idp_store *s, int64_t user, int64_t step, bool *ok);
    int (*recovery_use)(struct gw__idp_store *s, int64_t user, const char *hash, bool *ok,
                        int64_t *left);
    int (*admin_find)(struct gw__idp_store *s, const char *name, int64_t id, struct gw__idp_user *u,
                      bool *disabled);
    int (*admin_list)(struct gw__idp_store *s, const char *search, int64_t after, uint32_t limit,
                      json_t *arr);
    int (*admin_set_disabled)(struct gw__idp_store *s, int64_t id, bool disabled);
    int (*admin_set_list)(struct gw__idp_store *s, int64_t id, bool perms, const char *list);
    int (*admin_sessions)(struct gw__idp_store *s, int64_t user, json_t *arr);
    int (*admin_session_of)(struct gw__idp_store *s, int64_t user, const char *sid, bool *found);
    int (*revoked_put)(struct gw__idp_store *s, const char *id, int64_t until, int64_t now);
    int (*revoked_load)(struct gw__idp_store *s, int64_t now,
                        void (*each)(void *arg, const char *id, int64_t until), void *arg);
    /* The lockout (lockout.c), NULL: in-process. */
    int (*lock_wait)(struct gw__idp_store *s, const char *key, int64_t *wait_s, bool *counted);
    int (*lock_fail)(struct gw__idp_store *s, const char *key, uint32_t max, uint64_t window_ms,
                     uint64_t lockout_ms, bool *started);
    int (*lock_clear)(struct gw__idp_store *s, const char *key, bool only_failures, bool *was);
    int (*lock_reserve)(struct gw__idp_store *s, const char *key, uint32_t max, uint64_t window_ms,
                        uint64_t lockout_ms, int64_t *wait_s, bool *started);
    int (*lock_release)(struct gw__idp_store *s, const char *key, uint32_t max, bool started);
};

/* The head of every implementation's store. */
struct gw__idp_store {
    const struct gw__idp_store_ops *ops;
    /* How long a revoked session's record is kept (seconds from its revocation): the access
     * tokens' lifetime plus GW__IDP_REVOKE_MARGIN_S (gw__idp_store_open sets it). */
    int64_t revoke_for_s;
};

/* store_sqlite_admin.c: the admin functions of the SQLite store, with its connection under its
 * mutex from gw__idp_sq_lock to gw__idp_sq_unlock. */
struct sqlite3 *gw__idp_sq_lock(struct gw__idp_store *s);
void gw__idp_sq_unlock(struct gw__idp_store *s);
int gw__idp_sq_admin_find(struct gw__idp_store *s, const char *name, int64_t id,
                          struct gw__idp_user *u, bool *disabled);
int gw__idp_sq_admin_list(struct gw__idp_store *s, const char *search, int64_t after,
                          uint32_t limit, json_t *arr);
int gw__idp_sq_admin_set_disabled(struct gw__idp_store *s, int64_t id, bool disabled);
int gw__idp_sq_admin_set_list(struct gw__idp_store *s, int64_t id, bool perms, const char *list);
int gw__idp_sq_admin_sessions(struct gw__idp_store *s, int64_t user, json_t *arr);
int gw__idp_sq_admin_session_of(struct gw__idp_store *s, int64_t user, const char *sid,
                                bool *found);

/* ---- totp.c: RFC 4226 / RFC 6238 codes, sealed secrets, recovery codes --------------------- */

/* The HOTP value (RFC 4226 5.3, HMAC-SHA1) of counter with key[0..n), digits long. */
uint32_t gw__idp_hotp(const unsigned char *key, size_t n, uint64_t counter, unsigned digits);

/* Whether code (digits ASCII digits) is the TOTP of key[0..n) for a time step within window
 * steps of now's (period seconds each) that is later than last; the matched step into *step.
 * Every candidate is computed and compared in constant time. */
bool gw__idp_totp_check(const unsigned char *key, size_t n, const char *code, int64_t now,
                        uint32_t period, uint32_t window, unsigned digits, int64_t last,
                        int64_t *step);

/* Seals secret for user with the configured key into box (GW__IDP_TOTP_BOX). 0 or GW_EINVAL. */
int gw__idp_totp_seal(const struct gw_identity_conf *ic, int64_t user, const unsigned char *secret,
                      unsigned char *box);

/* Opens box of user with the configured key or one of the previous ones. 0 or GW_EINVAL. */
int gw__idp_totp_open(const struct gw_identity_conf *ic, int64_t user, const unsigned char *box,
                      unsigned char *secret);

/* A new recovery code (GW_IDP_RECOVERY_LEN lower-case base32 characters) into code[11], shown
 * to the user as "xxxxx-xxxxx", and its SHA-256 hex into hash[65]. */
void gw__idp_recovery_new(char *code, char *hash);

/* The SHA-256 hex of a recovery code as gw_idp_parse normalised it. */
void gw__idp_recovery_hash(const char *code, char *hash);

/* ---- password.c ---------------------------------------------------------------------------- */

/* Why pw is refused as a new password (min_length code points, at most GW_IDP_PASSWORD_MAX
 * bytes, not on the built-in list of common passwords, not the username), or NULL. */
const char *gw__idp_password_weak(const char *pw, size_t len, uint32_t min_length,
                                  const char *username);

/* argon2id hash of pw into out (crypto_pwhash_STRBYTES). 0 or GW_ENOMEM (memlimit refused). */
int gw__idp_password_hash(const char *pw, size_t len, uint64_t ops, uint64_t mem, char *out);

/* Verifies pw against hash (NULL: against a dummy hash of the same cost, so an unknown user
 * takes as long as a wrong password). *rehash is set when the hash's parameters differ from
 * (ops, mem). True when it matches. */
bool gw__idp_password_check(const char *hash, const char *pw, size_t len, uint64_t ops,
                            uint64_t mem, bool *rehash);

/* ---- throttle.c: failed logins per account and per client address ------------------------- */

/* Seconds until key may try again (0: now). key: "u:<username>" or "a:<address>". */
int64_t gw__idp_throttle_wait(const char *key, int64_t now_ms);

/* A failed login for key: true when this failure starts a lockout (max failures within window
 * makes key wait lockout_ms). */
bool gw__idp_throttle_fail(const char *key, uint32_t max, uint64_t window_ms, uint64_t lockout_ms,
                           int64_t now_ms);

/* A successful login: key's failures are forgotten. */
void gw__idp_throttle_ok(const char *key);

/* The admin API's unlock: key's failures and lockout forgotten. True when a lockout was
 * running. */
bool gw__idp_throttle_clear(const char *key, int64_t now_ms);

/* A login attempt for key, counted as a failure before its password is checked (reserved): the
 * seconds to wait when a lockout runs (then nothing is counted), else 0 with *started set when
 * this attempt's count starts a lockout (the attempt is still checked). */
int64_t gw__idp_throttle_reserve(const char *key, uint32_t max, uint64_t window_ms,
                                 uint64_t lockout_ms, int64_t now_ms, bool *started);

/* The reserved attempt was not a failure: its count undone (the lockout it started ended). */
void gw__idp_throttle_release(const char *key, uint32_t max, bool started);

/* Frees the table (gw_idp_stop). */
void gw__idp_throttle_reset(void);

/* ---- lockout.c: the lockout, in-process (throttle.c) with the SQLite store, in the database
 * with the PostgreSQL store (store_pg_lockout.c: shared by every instance). key: "u:<login>" or
 * "a:<address>". Each blocks on the store: the thread pool or the control thread. ---- */

/* Seconds until key may try again into *wait_s (0: now); *counted tells that failures are
 * counted for key (a successful login then calls gw__idp_lock_ok). 0 or GW_EIDSTORE. */
int gw__idp_lock_wait(const char *key, int64_t *wait_s, bool *counted);

/* A failed login for key, max failures (identity.lockout's window and duration) starting a
 * lockout: *started is set for the one failure, among every instance's, that starts it. 0 or
 * GW_EIDSTORE. */
int gw__idp_lock_fail(const char *key, uint32_t max, bool *started);

/* A successful login: key's failures forgotten (a lockout running stays). 0 or GW_EIDSTORE. */
int gw__idp_lock_ok(const char *key);

/* The admin API's unlock: key's failures and lockout forgotten, *was telling whether a lockout
 * was running. 0 or GW_EIDSTORE. */
int gw__idp_lock_clear(const char *key, bool *was);

/* A login attempt for key counted as a failure before its password is checked, so that of many
 * concurrent guesses no more than max are checked: *wait_s > 0 when a lockout runs (nothing
 * counted: refuse), else 0 with *started set for the one attempt, among every instance's, whose
 * count starts a lockout (it is still checked). A wrong password then needs nothing more; a
 * right one calls gw__idp_lock_release. 0 or GW_EIDSTORE. */
int gw__idp_lock_reserve(const char *key, uint32_t max, int64_t *wait_s, bool *started);

/* The reserved attempt was not a failure (a right password, or refused by another key's
 * lockout): its count undone, and the lockout it started (started) ended. 0 or GW_EIDSTORE. */
int gw__idp_lock_release(const char *key, uint32_t max, bool started);

/* store_pg_lockout.c: the PostgreSQL store's lockout (only_failures: a successful login's
 * clearing, which leaves a running lockout alone). */
int gw__idp_pg_lock_wait(struct gw__idp_store *s, const char *key, int64_t *wait_s, bool *counted);
int gw__idp_pg_lock_fail(struct gw__idp_store *s, const char *key, uint32_t max, uint64_t window_ms,
                         uint64_t lockout_ms, bool *started);
int gw__idp_pg_lock_clear(struct gw__idp_store *s, const char *key, bool only_failures, bool *was);
int gw__idp_pg_lock_reserve(struct gw__idp_store *s, const char *key, uint32_t max,
                            uint64_t window_ms, uint64_t lockout_ms, int64_t *wait_s,
                            bool *started);
int gw__idp_pg_lock_release(struct gw__idp_store *s, const char *key, uint32_t max, bool started);

/* ---- gate.c: login throttling's counters, bound at start -------------------------------- */

/* Makes the in-process counters of identity.throttle (none when off). 0 or GW_ENOMEM. Control
 * thread, before the workers start. */
int gw__idp_gate_init(const struct gw_identity_conf *ic);
/* Frees them (after the workers stopped). */
void gw__idp_gate_free(void);

/* ---- token.c ------------------------------------------------------------------------------ */

/* An access token for u in session sid signed with key, into *out (free()), its jti into jti[33]. 0
 * or GW_ENOMEM. */
struct gw_jwt_signer;
int gw__idp_access_token(const struct gw_identity_conf *ic, const struct gw_jwt_signer *key,
                         const struct gw__idp_user *u, const char *sid, int64_t now, char **out,
                         char *jti);

/* A new opaque refresh token (43 base64url characters) into tok[44] and the SHA-256 hex of it
 * into hash[65]. */
void gw__idp_refresh_new(char *tok, char *hash);

/* The SHA-256 hex of a presented refresh token. */
void gw__idp_refresh_hash(const char *tok, size_t len, char *hash);

/* Random hex of n bytes into out[2n + 1]. */
void gw__idp_random_hex(char *out, size_t n);

#endif
