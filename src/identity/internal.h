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
    int64_t created;
    bool totp;                                /* TOTP confirmed: logins need a code */
    unsigned char totp_box[GW__IDP_TOTP_BOX]; /* the sealed secret when totp */
    int64_t totp_last_step;                   /* the last time step accepted */
};

/* ---- service.c ------------------------------------------------------------------------------ */

/* The started store and the bound settings (into *ic), or NULL when identity did not start. */
struct gw__idp_store *gw__idp_store_of(const struct gw_identity_conf **ic);

/* A JSON array of the space-separated roles (NULL when out of memory). */
json_t *gw__idp_roles_array(const char *roles);

/* The sessions_revoke callback: session sid's tokens refused from now on (arg: an int counting
 * them). */
void gw__idp_revoke_sid(void *arg, const char *sid);

/* ---- store.c: the SQLite store. Every function takes the store's own mutex, so any thread
 * (the libuv thread pool) may call them; they block on the disk: never on a loop thread. ---- */

struct gw__idp_store;

/* Opens (creating) the database file, WAL mode, and applies the migrations this gantry knows.
 * 0, or GW_EIDSTORE after logging why. */
int gw__idp_store_open(const char *path, struct gw__idp_store **out);
void gw__idp_store_close(struct gw__idp_store *s);

/* The store's connection with its mutex held, until gw__idp_store_unlock: for the admin queries
 * of store_admin.c, which prepare their statements per call (they are rare). */
struct sqlite3 *gw__idp_store_lock(struct gw__idp_store *s);
void gw__idp_store_unlock(struct gw__idp_store *s);

/* Users in the store, into *n. 0 or GW_EIDSTORE. */
int gw__idp_users_count(struct gw__idp_store *s, int64_t *n);

/* Inserts a user (username and email already folded); its id into u->id. only_first: only
 * into an empty store, in one statement (GW_EIDCLOSED when a user is there by then: the
 * first-user-is-admin rule must hold when registrations race). 0, GW_EIDTAKEN when the
 * username or email exists, or GW_EIDSTORE. */
int gw__idp_user_insert(struct gw__idp_store *s, struct gw__idp_user *u, bool only_first);

/* Finds a user by folded username or email (by_email) or by id (login NULL). 0, 1 when there
 * is none, or GW_EIDSTORE. */
int gw__idp_user_find(struct gw__idp_store *s, const char *login, bool by_email, int64_t id,
                      struct gw__idp_user *u);

/* Replaces a user's password hash (a rehash with the current parameters). 0 or GW_EIDSTORE. */
int gw__idp_user_set_hash(struct gw__idp_store *s, int64_t id, const char *hash);

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
 * family and records the use; if already used, revokes the family. *user and
 * sid[GW__IDP_SID_LEN + 1] tell whose. 0 with *out, or GW_EIDSTORE. */
int gw__idp_refresh_rotate(struct gw__idp_store *s, const char *old_hash, const char *new_hash,
                           int64_t now, int64_t idle_s, enum gw__idp_rotate *out, int64_t *user,
                           char *sid);

/* Revokes session sid (of user), or every live session of user when sid is NULL; calls each(arg,
 * sid, expires) for each one it revoked. 0 or GW_EIDSTORE. */
int gw__idp_sessions_revoke(struct gw__idp_store *s, int64_t user, const char *sid,
                            void (*each)(void *arg, const char *sid), void *arg);

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

/* ---- store_admin.c: what the admin API reads and changes (control thread) ----------------- */

/* A user, disabled or not, by id (name NULL) or folded username: its columns into *u and
 * *disabled. 0, 1 when none, or GW_EIDSTORE. */
int gw__idp_admin_find(struct gw__idp_store *s, const char *name, int64_t id,
                       struct gw__idp_user *u, bool *disabled);

/* Up to limit users with id > after whose username or email contains search ("" for all), by
 * id, appended to arr as objects. 0 or GW_EIDSTORE. */
int gw__idp_admin_list(struct gw__idp_store *s, const char *search, int64_t after, uint32_t limit,
                       json_t *arr);

/* Sets a user's disabled flag / roles (space-separated). 0 or GW_EIDSTORE. */
int gw__idp_admin_set_disabled(struct gw__idp_store *s, int64_t id, bool disabled);
int gw__idp_admin_set_roles(struct gw__idp_store *s, int64_t id, const char *roles);

/* The user's sessions, newest first (at most 200), appended to arr: sid, created_at,
 * expires_at, last_used_at, live. 0 or GW_EIDSTORE. */
int gw__idp_admin_sessions(struct gw__idp_store *s, int64_t user, json_t *arr);

/* Whether session sid belongs to user (*found). 0 or GW_EIDSTORE. */
int gw__idp_admin_session_of(struct gw__idp_store *s, int64_t user, const char *sid, bool *found);

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

/* Frees the table (gw_idp_stop). */
void gw__idp_throttle_reset(void);

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
