/*
 * Built-in identity's handlers of register, login, refresh, logout, password change and me
 * (service.c hands them the calls, on libuv's thread pool), and the bearer tokens they read.
 */
#include "identity/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "audit/audit.h"
#include "core/base64url.h"
#include "core/error.h"
#include "core/log.h"
#include "policy/jwt.h"
#include "policy/jwt_signer.h"
#include "state/revoked.h"

/* ---- bearer tokens ------------------------------------------------------------------------------
 */

int gw__idp_verify_bearer(const struct gw_idp_call *c, struct gw__idp_bearer *b, bool in_doubt_ok)
{
    struct gw_jwt_claims cl;
    int64_t now = (int64_t)time(NULL);
    if (c->bearer == NULL || c->keys == NULL ||
        gw_jwt_verify(c->bearer, c->bearer_len, c->keys->verify, c->keys->nkeys, &gw__idp.pol, now,
                      &cl) != 0)
        return GW_EIDTOKEN;
    int rc = gw_revoked_check(cl.jti_key, cl.sid_key, now);
    if (rc == GW_EIDREVOCATIONS && in_doubt_ok)
        rc =
            gw_revoked_has(cl.jti_key, now) || gw_revoked_has(cl.sid_key, now) ? GW_EJWTREVOKED : 0;
    if (rc != 0)
        return rc == GW_EIDREVOCATIONS ? rc : GW_EIDTOKEN;
    /* The signature is good: read sid and roles from the payload. */
    const char *d1 = memchr(c->bearer, '.', c->bearer_len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', c->bearer_len - (size_t)(d1 + 1 - c->bearer)) : NULL;
    if (d2 == NULL)
        return GW_EIDTOKEN;
    size_t n = (size_t)(d2 - d1 - 1), got = 0;
    unsigned char *raw = malloc(n + 1);
    if (raw == NULL || gw_base64url_decode(d1 + 1, n, raw, n + 1, &got) != 0) {
        free(raw);
        return GW_EIDTOKEN;
    }
    json_t *p = json_loadb((const char *)raw, got, 0, NULL);
    free(raw);
    const char *sid = json_string_value(json_object_get(p, "sid"));
    const char *jti = json_string_value(json_object_get(p, "jti"));
    const char *sub = json_string_value(json_object_get(p, "sub"));
    json_t *roles = json_object_get(p, "roles");
    rc = GW_EIDTOKEN;
    char *end = NULL;
    if (sid && sub && strlen(sid) == GW__IDP_SID_LEN) {
        b->user = strtoll(sub, &end, 10);
        if (end && *end == '\0' && b->user > 0) {
            snprintf(b->sid, sizeof b->sid, "%s", sid);
            b->jti[0] = '\0';
            if (jti && strlen(jti) < sizeof b->jti)
                snprintf(b->jti, sizeof b->jti, "%s", jti);
            b->roles[0] = '\0';
            size_t i;
            json_t *v;
            json_array_foreach(roles, i, v)
            {
                size_t k = strlen(b->roles);
                if (json_is_string(v))
                    snprintf(b->roles + k, sizeof b->roles - k, "%s%s", k ? " " : "",
                             json_string_value(v));
            }
            b->jti_key = cl.jti_key;
            b->exp = cl.exp;
            rc = 0;
        }
    }
    json_decref(p);
    return rc;
}

/* ---- handlers ----------------------------------------------------------------------------------
 */

/* Equal strings, compared on their SHA-256 in constant time (no length or prefix leaks). */
static bool same_secret(const char *a, const char *b)
{
    unsigned char da[crypto_hash_sha256_BYTES], db[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(da, (const unsigned char *)a, strlen(a));
    crypto_hash_sha256(db, (const unsigned char *)b, strlen(b));
    return sodium_memcmp(da, db, sizeof da) == 0;
}

void gw__idp_do_register(struct gw_idp_call *c, const struct gw_idp_input *in)
{
    const struct gw_identity_conf *ic = &gw__idp.ic;
    struct gw__idp_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.roles, sizeof u.roles, "%s", gw__idp.roles);
    if (ic->register_mode == GW_IDP_REGISTER_INVITE) {
        bool ok = false;
        if (in->invite[0] == '\0') {
            gw__idp_fail(c, GW_EIDINPUT, "invite_code", "is required");
            return;
        }
        for (size_t i = 0; i < ic->ninvite_codes; i++)
            ok |= same_secret(in->invite, ic->invite_codes[i]);
        if (!ok) {
            gw__idp_fail(c, GW_EIDCLOSED, NULL, "invalid invite code");
            return;
        }
    }
    bool first = false; /* the first user of an empty admin-only store: its admin */
    if (ic->register_mode == GW_IDP_REGISTER_ADMIN) {
        int64_t n = 0;
        if (gw__idp_users_count(gw__idp.store, &n) < 0) {
            gw__idp_fail(c, GW_EIDSTORE, NULL, NULL);
            return;
        }
        if (n == 0) {
            /* The first user of an empty store becomes the admin who registers the others. */
            first = true;
            size_t k = strlen(u.roles);
            snprintf(u.roles + k, sizeof u.roles - k, "%s%s", k ? " " : "", ic->admin_role);
        } else {
            struct gw__idp_bearer b;
            int brc = gw__idp_verify_bearer(c, &b, false);
            if (brc == GW_EIDREVOCATIONS) {
                gw__idp_fail(c, brc, NULL, NULL);
                return;
            }
            if (brc != 0 || !gw_jwt_list_has(b.roles, ic->admin_role)) {
                gw__idp_fail(c, GW_EIDCLOSED, NULL, "registration needs an admin's bearer token");
                return;
            }
        }
    }
    const char *weak =
        gw__idp_password_weak(in->password, in->password_len, ic->min_length, in->username);
    if (weak) {
        gw__idp_fail(c, GW_EIDINPUT, "password", weak);
        return;
    }
    snprintf(u.username, sizeof u.username, "%s", in->username);
    snprintf(u.email, sizeof u.email, "%s", in->email);
    u.created = (int64_t)time(NULL);
    if (gw__idp_password_hash(in->password, in->password_len, ic->opslimit, ic->memlimit, u.hash) <
        0) {
        gw__idp_fail(c, GW_ENOMEM, NULL, NULL);
        return;
    }
    int rc = gw__idp_user_insert(gw__idp.store, &u, first);
    char object[96];
    snprintf(object, sizeof object, "user:%s", u.username);
    if (rc == GW_EIDCLOSED) { /* another registration became the admin meanwhile */
        gw__idp_fail(c, GW_EIDCLOSED, NULL, "registration needs an admin's bearer token");
        return;
    }
    if (rc < 0) {
        gw__idp_fail(c, rc, NULL, NULL);
        if (rc == GW_EIDTAKEN)
            gw__idp_audit(c, "identity.register", object, 409);
        return;
    }
    gw__idp_audit(c, "identity.register", object, 201);
    gw__idp_answer(c, 201,
                   json_pack("{s:I, s:s, s:s, s:o, s:I}", "id", (json_int_t)u.id, "username",
                             u.username, "email", u.email, "roles", gw__idp_roles_array(u.roles),
                             "created_at", (json_int_t)u.created));
}

/* A new session (or the next token of session sid) for u: the token answer. */
static void issue(struct gw_idp_call *c, const struct gw__idp_user *u, const char *sid,
                  const char *refresh, int status)
{
    char *access = NULL;
    char jti[33];
    if (gw__idp_access_token(&gw__idp.ic, &c->keys->keys[c->keys->active], u, sid,
                             (int64_t)time(NULL), &access, jti) < 0) {
        gw__idp_fail(c, GW_ENOMEM, NULL, NULL);
        return;
    }
    /* Written directly: both tokens are base64url (nothing to escape), and this runs on every
     * login and refresh. */
    size_t cap = strlen(access) + strlen(refresh) + 128;
    char *text = malloc(cap);
    int n = text
                ? snprintf(text, cap,
                           "{\"access_token\":\"%s\",\"token_type\":\"Bearer\",\"expires_in\":%llu,"
                           "\"refresh_token\":\"%s\"}",
                           access, (unsigned long long)(gw__idp.ic.access_ttl_ms / 1000), refresh)
                : -1;
    free(access);
    if (n < 0 || (size_t)n >= cap) {
        free(text);
        gw__idp_fail(c, GW_ENOMEM, NULL, NULL);
        return;
    }
    gw__idp_answer_text(c, status, text, (size_t)n);
}

/* The second factor of u's login: in's TOTP code (a step later than the last one used) or one
 * of u's unused recovery codes. *ok tells; 0 or GW_EIDSTORE. */
int gw__idp_second_factor(const struct gw_idp_call *c, const struct gw_idp_input *in,
                          const struct gw__idp_user *u, bool *ok)
{
    const struct gw_identity_conf *ic = &gw__idp.ic;
    *ok = false;
    if (in->totp[0]) {
        unsigned char secret[GW__IDP_TOTP_SECRET];
        int64_t step = 0;
        if (gw__idp_totp_open(ic, u->id, u->totp_box, secret) != 0) {
            gw_log_error("identity: the TOTP secret of user %lld does not open with "
                         "identity.totp's keys (was the key replaced without previous_keys?)",
                         (long long)u->id);
            return 0;
        }
        bool match = gw__idp_totp_check(secret, sizeof secret, in->totp, (int64_t)time(NULL),
                                        ic->totp_period_s, ic->totp_window, ic->totp_digits,
                                        u->totp_last_step, &step);
        sodium_memzero(secret, sizeof secret);
        return match ? gw__idp_totp_use_step(gw__idp.store, u->id, step, ok) : 0;
    }
    if (in->recovery[0]) {
        char hash[65], object[96], detail[48];
        int64_t left = 0;
        gw__idp_recovery_hash(in->recovery, hash);
        int rc = gw__idp_recovery_use(gw__idp.store, u->id, hash, ok, &left);
        if (rc == 0 && *ok) {
            snprintf(object, sizeof object, "user:%s", u->username);
            snprintf(detail, sizeof detail, "{\"left\":%lld}", (long long)left);
            gw__idp_audit_detail(c, "identity.recovery_code_used", object, 200, detail);
        }
        return rc;
    }
    return 0;
}

/* The key failures and attempts of a login count for: the username of the existing account in
 * names (by username or email: one count per account, however it is spelt), else the login as
 * typed (folded: an unknown login is counted as a known one is). u: the account when found. 0,
 * or GW_EIDSTORE. */
static int account_of(const struct gw_idp_input *in, struct gw__idp_user *u, int *found, char *key,
                      size_t cap)
{
    *found = gw__idp_user_find(gw__idp.store, in->login, in->login_is_email, 0, u);
    if (*found < 0)
        return GW_EIDSTORE;
    snprintf(key, cap, "%s", *found == 0 ? u->username : in->login);
    return 0;
}

void gw__idp_do_account(struct gw_idp_call *c, const struct gw_idp_input *in)
{
    struct gw__idp_user u;
    int found;
    char key[sizeof in->login];
    /* The store down: the typed login (the login's own call answers 503 anyway). */
    if (account_of(in, &u, &found, key, sizeof key) < 0)
        snprintf(key, sizeof key, "%s", in->login);
    sodium_memzero(&u, sizeof u);
    char *text = strdup(key);
    if (text == NULL) {
        gw__idp_fail(c, GW_ENOMEM, NULL, NULL);
        return;
    }
    gw__idp_answer_text(c, 200, text, strlen(text));
}

void gw__idp_do_login(struct gw_idp_call *c, const struct gw_idp_input *in)
{
    const struct gw_identity_conf *ic = &gw__idp.ic;
    struct gw__idp_user u;
    int found;
    char account[sizeof in->login];
    /* Failures count per account (account_of), so a username and an email do not double the
     * guesses, and an unknown login locks as a known one does. */
    if (account_of(in, &u, &found, account, sizeof account) < 0) {
        gw__idp_fail(c, GW_EIDSTORE, NULL, NULL);
        return;
    }
    char ukey[8 + sizeof in->login], akey[8 + sizeof c->client];
    snprintf(ukey, sizeof ukey, "u:%s", account);
    snprintf(akey, sizeof akey, "a:%s", c->client);
    /* The attempt is counted as a failure before its password is checked (reserved), and
     * released if it was not one: of many concurrent guesses, no more than max_failures are
     * checked. A failure that cannot be counted is not answered as a mere failure (503): the
     * lockout must hold. The instance whose count starts a lockout records it, once. */
    int64_t wait = 0, wait_a = 0;
    bool started = false, started_a = false;
    if (gw__idp_lock_reserve(ukey, ic->max_failures, &wait, &started) < 0) {
        gw__idp_fail(c, GW_EIDSTORE, NULL, NULL);
        return;
    }
    if (wait == 0 && gw__idp_lock_reserve(akey, ic->max_addr_failures, &wait_a, &started_a) < 0) {
        (void)gw__idp_lock_release(ukey, ic->max_failures, started);
        gw__idp_fail(c, GW_EIDSTORE, NULL, NULL);
        return;
    }
    if (wait > 0 || wait_a > 0) {
        if (wait == 0) /* the address is locked: the account's count was not a failure */
            (void)gw__idp_lock_release(ukey, ic->max_failures, started);
        gw__idp_fail(c, GW_EIDLOCKED, NULL, "too many failed logins: try again later");
        c->res.retry_after = (uint32_t)(wait > wait_a ? wait : wait_a);
        return;
    }
    bool rehash = false;
    /* An unknown user is checked against the dummy hash: the same answer after the same work. */
    bool ok = gw__idp_password_check(found == 0 ? u.hash : gw__idp.dummy, in->password,
                                     in->password_len, ic->opslimit, ic->memlimit, &rehash);
    ok = ok && found == 0;
    /* With TOTP on, a missing or wrong code gets the answer a wrong password gets: the answer
     * never tells that the password was right. */
    bool factor_failed = false;
    if (ok && u.totp) {
        if (gw__idp_second_factor(c, in, &u, &ok) < 0) {
            gw__idp_fail(c, GW_EIDSTORE, NULL, NULL);
            return;
        }
        factor_failed = !ok;
    }
    if (!ok) {
        char object[300];
        snprintf(object, sizeof object, "user:%s", account);
        gw__idp_audit_detail(c, "identity.login_failed", object, 401,
                             factor_failed ? "{\"factor\":\"totp\"}" : NULL);
        if (started)
            gw__idp_audit(c, "identity.lockout", object, 429);
        if (started_a) {
            snprintf(object, sizeof object, "client:%s", c->client);
            gw__idp_audit(c, "identity.lockout", object, 429);
        }
        gw__idp_fail(c, GW_EIDCREDENTIALS, NULL, NULL);
        return;
    }
    /* A success: the account's failures are forgotten (a lockout this attempt's count started
     * ends), the address's count of it undone. */
    if (started)
        (void)gw__idp_lock_release(ukey, ic->max_failures, true);
    (void)gw__idp_lock_ok(ukey);
    (void)gw__idp_lock_release(akey, ic->max_addr_failures, started_a);
    if (rehash) {
        char h[crypto_pwhash_STRBYTES];
        if (gw__idp_password_hash(in->password, in->password_len, ic->opslimit, ic->memlimit, h) ==
            0)
            (void)gw__idp_user_set_hash(gw__idp.store, u.id, h);
    }
    char sid[GW__IDP_SID_LEN + 1], refresh[44], rhash[65];
    gw__idp_random_hex(sid, GW__IDP_SID_LEN / 2);
    gw__idp_refresh_new(refresh, rhash);
    int64_t t = (int64_t)time(NULL);
    if (gw__idp_session_new(gw__idp.store, u.id, sid, rhash, t,
                            t + (int64_t)(ic->refresh_ttl_ms / 1000)) < 0) {
        gw__idp_fail(c, GW_EIDSTORE, NULL, NULL);
        return;
    }
    char object[96];
    snprintf(object, sizeof object, "user:%s", u.username);
    gw__idp_audit(c, "identity.login", object, 200);
    issue(c, &u, sid, refresh, 200);
}

void gw__idp_do_refresh(struct gw_idp_call *c, const struct gw_idp_input *in)
{
    char old_hash[65], refresh[44], new_hash[65], sid[GW__IDP_SID_LEN + 1];
    enum gw__idp_rotate how;
    int64_t user;
    gw__idp_refresh_hash(in->refresh, strlen(in->refresh), old_hash);
    gw__idp_refresh_new(refresh, new_hash);
    if (gw__idp_refresh_rotate(gw__idp.store, old_hash, new_hash, (int64_t)time(NULL),
                               (int64_t)(gw__idp.ic.refresh_idle_ms / 1000), &how, &user,
                               sid) < 0) {
        gw__idp_fail(c, GW_EIDSTORE, NULL, NULL);
        return;
    }
    if (how == GW__IDP_REUSED) {
        int n = 0;
        gw__idp_revoke_sid(&n, sid);
        char object[64];
        snprintf(object, sizeof object, "session:%s", sid);
        gw__idp_audit(c, "identity.refresh_reuse", object, 401);
        gw__idp_fail(c, GW_EIDTOKEN, NULL, "refresh token reused: the session is revoked");
        return;
    }
    struct gw__idp_user u;
    if (how != GW__IDP_ROTATED || gw__idp_user_find(gw__idp.store, NULL, false, user, &u) != 0) {
        gw__idp_fail(c, GW_EIDTOKEN, NULL, NULL);
        return;
    }
    issue(c, &u, sid, refresh, 200);
}

/* The presented token refused from now on, even when its session was revoked already: recorded
 * in the store (a restart keeps it), then in the set. 0 or GW_EIDSTORE. */
static int revoke_presented(const struct gw__idp_bearer *b)
{
    int64_t until = b->exp + GW__IDP_REVOKE_MARGIN_S;
    if (b->jti[0] != '\0' &&
        gw__idp_revoked_put(gw__idp.store, b->jti, until, (int64_t)time(NULL)) < 0)
        return GW_EIDSTORE;
    (void)gw_revoked_add(b->jti_key, until);
    return 0;
}

void gw__idp_do_logout(struct gw_idp_call *c, const struct gw_idp_input *in)
{
    struct gw__idp_bearer b;
    /* In doubt (Redis unreachable, failure_policy fail_closed), a logout still goes through:
     * it only revokes more, and what it revokes is shared once Redis is back. */
    int rc = gw__idp_verify_bearer(c, &b, true);
    if (rc != 0) {
        gw__idp_fail(c, rc, NULL, NULL);
        return;
    }
    int n = 0;
    if (revoke_presented(&b) < 0 ||
        gw__idp_sessions_revoke(gw__idp.store, b.user, in->all ? NULL : b.sid, gw__idp_revoke_sid,
                                &n) < 0) {
        gw__idp_fail(c, GW_EIDSTORE, NULL, NULL);
        return;
    }
    char object[40];
    snprintf(object, sizeof object, "user:%lld", (long long)b.user);
    gw__idp_audit(c, in->all ? "identity.logout_all" : "identity.logout", object, 200);
    gw__idp_answer(c, 200, json_pack("{s:b, s:i}", "logged_out", 1, "sessions_revoked", n));
}

/* A password change: the current password again, a new one that passes the rules; then every
 * session of the user ends (this one included), so a stolen session does not outlive it. */
void gw__idp_do_password(struct gw_idp_call *c, const struct gw_idp_input *in)
{
    const struct gw_identity_conf *ic = &gw__idp.ic;
    struct gw__idp_bearer b;
    struct gw__idp_user u;
    int rc = gw__idp_verify_bearer(c, &b, false);
    if (rc != 0) {
        gw__idp_fail(c, rc, NULL, NULL);
        return;
    }
    rc = gw__idp_user_find(gw__idp.store, NULL, false, b.user, &u);
    if (rc != 0) {
        gw__idp_fail(c, rc < 0 ? GW_EIDSTORE : GW_EIDTOKEN, NULL, NULL);
        return;
    }
    char ukey[8 + sizeof u.username], object[96];
    snprintf(ukey, sizeof ukey, "u:%s", u.username);
    snprintf(object, sizeof object, "user:%s", u.username);
    int64_t wait = 0;
    bool counted, started = false;
    if (gw__idp_lock_wait(ukey, &wait, &counted) < 0) {
        gw__idp_fail(c, GW_EIDSTORE, NULL, NULL);
        return;
    }
    if (wait > 0) {
        gw__idp_fail(c, GW_EIDLOCKED, NULL, "too many failed logins: try again later");
        c->res.retry_after = (uint32_t)wait;
        return;
    }
    bool rehash;
    if (!gw__idp_password_check(u.hash, in->password, in->password_len, ic->opslimit, ic->memlimit,
                                &rehash)) {
        gw__idp_audit(c, "identity.password_change", object, 401);
        if (gw__idp_lock_fail(ukey, ic->max_failures, &started) < 0) {
            gw__idp_fail(c, GW_EIDSTORE, NULL, NULL);
            return;
        }
        if (started)
            gw__idp_audit(c, "identity.lockout", object, 429);
        gw__idp_fail(c, GW_EIDCREDENTIALS, NULL, "current_password is wrong");
        return;
    }
    const char *weak =
        gw__idp_password_weak(in->new_password, in->new_password_len, ic->min_length, u.username);
    if (weak) {
        gw__idp_fail(c, GW_EIDINPUT, "new_password", weak);
        return;
    }
    char h[crypto_pwhash_STRBYTES];
    if (gw__idp_password_hash(in->new_password, in->new_password_len, ic->opslimit, ic->memlimit,
                              h) < 0) {
        gw__idp_fail(c, GW_ENOMEM, NULL, NULL);
        return;
    }
    int n = 0;
    if (gw__idp_user_set_hash(gw__idp.store, u.id, h) < 0 || revoke_presented(&b) < 0 ||
        gw__idp_sessions_revoke(gw__idp.store, u.id, NULL, gw__idp_revoke_sid, &n) < 0) {
        gw__idp_fail(c, GW_EIDSTORE, NULL, NULL);
        return;
    }
    gw__idp_audit(c, "identity.password_change", object, 200);
    gw__idp_answer(c, 200, json_pack("{s:b, s:i}", "password_changed", 1, "sessions_revoked", n));
}

void gw__idp_do_me(struct gw_idp_call *c)
{
    struct gw__idp_bearer b;
    struct gw__idp_user u;
    int rc = gw__idp_verify_bearer(c, &b, false);
    if (rc != 0) {
        gw__idp_fail(c, rc, NULL, NULL);
        return;
    }
    rc = gw__idp_user_find(gw__idp.store, NULL, false, b.user, &u);
    if (rc != 0) {
        gw__idp_fail(c, rc < 0 ? GW_EIDSTORE : GW_EIDTOKEN, NULL, NULL);
        return;
    }
    gw__idp_answer(c, 200,
                   json_pack("{s:I, s:s, s:s, s:o, s:o, s:I, s:b}", "id", (json_int_t)u.id,
                             "username", u.username, "email", u.email, "roles",
                             gw__idp_roles_array(u.roles), "permissions",
                             gw__idp_roles_array(u.perms), "created_at", (json_int_t)u.created,
                             "totp_enabled", u.totp));
}
