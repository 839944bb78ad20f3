/*
 * Built-in identity's TOTP handlers (enrol, confirm, disable; RFC 6238 with recovery codes), on
 * libuv's thread pool as the other endpoints.
 */
#include "identity/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/base32.h"
#include "core/error.h"
#include "core/log.h"

/* ---- TOTP -------------------------------------------------------------------------------------
 */

/* The user of the request's bearer token into *u: 0, or the failure answered. */
int gw__idp_bearer_user(struct gw_idp_call *c, struct gw__idp_bearer *b, struct gw__idp_user *u)
{
    int rc = gw__idp_verify_bearer(c, b, false);
    if (rc != 0) {
        gw__idp_fail(c, rc, NULL, NULL);
        return -1;
    }
    rc = gw__idp_user_find(gw__idp.store, NULL, false, b->user, u);
    if (rc != 0) {
        gw__idp_fail(c, rc < 0 ? GW_EIDSTORE : GW_EIDTOKEN, NULL, NULL);
        return -1;
    }
    return 0;
}

/* s percent-encoded (RFC 3986 unreserved characters kept) onto out[0..cap). */
static void pct_append(char *out, size_t cap, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(out);
    for (; *s && n + 4 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            out[n++] = (char)ch;
        } else {
            out[n++] = '%';
            out[n++] = hex[ch >> 4];
            out[n++] = hex[ch & 15];
        }
    }
    out[n] = '\0';
}

int gw__idp_reauth(struct gw_idp_call *c, const struct gw_idp_input *in,
                   const struct gw__idp_user *u, const char *action)
{
    const struct gw_identity_conf *ic = &gw__idp.ic;
    char ukey[8 + sizeof u->username], object[96];
    snprintf(ukey, sizeof ukey, "u:%s", u->username);
    snprintf(object, sizeof object, "user:%s", u->username);
    int64_t wait = 0;
    bool counted, started = false, rehash;
    if (gw__idp_lock_wait(ukey, &wait, &counted) < 0) {
        gw__idp_fail(c, GW_EIDSTORE, NULL, NULL);
        return -1;
    }
    if (wait > 0) {
        gw__idp_fail(c, GW_EIDLOCKED, NULL, "too many failed logins: try again later");
        c->res.retry_after = (uint32_t)wait;
        return -1;
    }
    if (gw__idp_password_check(u->hash, in->password, in->password_len, ic->opslimit, ic->memlimit,
                               &rehash))
        return 0;
    gw__idp_audit(c, action, object, 401);
    if (gw__idp_lock_fail(ukey, ic->max_failures, &started) < 0) {
        gw__idp_fail(c, GW_EIDSTORE, NULL, NULL);
        return -1;
    }
    if (started)
        gw__idp_audit(c, "identity.lockout", object, 429);
    gw__idp_fail(c, GW_EIDCREDENTIALS, NULL, "password is wrong");
    return -1;
}

/* Enrolment: a new secret, pending until a code confirms it; shown once, as base32 and as the
 * otpauth:// URI authenticator apps read from a QR code (Key Uri Format). The current password
 * first: a stolen access token alone must not put a second factor on the account, which would
 * lock its owner out. */
void gw__idp_do_totp_enrol(struct gw_idp_call *c, const struct gw_idp_input *in)
{
    const struct gw_identity_conf *ic = &gw__idp.ic;
    struct gw__idp_bearer b;
    struct gw__idp_user u;
    if (gw__idp_bearer_user(c, &b, &u) < 0 || gw__idp_reauth(c, in, &u, "identity.totp_enrol") < 0)
        return;
    if (u.totp) {
        gw__idp_fail(c, GW_EIDSTATE, NULL, "TOTP is already enabled: disable it first");
        return;
    }
    unsigned char secret[GW__IDP_TOTP_SECRET], box[GW__IDP_TOTP_BOX];
    char b32[GW_BASE32_ENCODED_LEN(GW__IDP_TOTP_SECRET) + 1], uri[1024], object[96];
    randombytes_buf(secret, sizeof secret);
    (void)gw_base32_encode(secret, sizeof secret, b32, sizeof b32);
    int rc = gw__idp_totp_seal(ic, u.id, secret, box);
    sodium_memzero(secret, sizeof secret);
    if (rc < 0 || gw__idp_totp_pending_set(gw__idp.store, u.id, box) < 0) {
        sodium_memzero(b32, sizeof b32);
        gw__idp_fail(c, GW_EIDSTORE, NULL, NULL);
        return;
    }
    snprintf(uri, sizeof uri, "otpauth://totp/");
    pct_append(uri, sizeof uri, ic->totp_issuer);
    pct_append(uri, sizeof uri, ":");
    pct_append(uri, sizeof uri, u.username);
    size_t n = strlen(uri);
    snprintf(uri + n, sizeof uri - n, "?secret=%s&issuer=", b32);
    pct_append(uri, sizeof uri, ic->totp_issuer);
    n = strlen(uri);
    snprintf(uri + n, sizeof uri - n, "&algorithm=SHA1&digits=%u&period=%u", ic->totp_digits,
             ic->totp_period_s);
    snprintf(object, sizeof object, "user:%s", u.username);
    gw__idp_audit(c, "identity.totp_enrol", object, 200);
    gw__idp_answer(c, 200,
                   json_pack("{s:s, s:s, s:s, s:i, s:i}", "secret", b32, "otpauth_uri", uri,
                             "algorithm", "SHA1", "digits", (int)ic->totp_digits, "period",
                             (int)ic->totp_period_s));
    sodium_memzero(b32, sizeof b32);
    sodium_memzero(uri, sizeof uri);
}

/* Confirmation: a code of the pending secret makes it the user's; the recovery codes are made
 * now and shown this once (only their hashes are kept). */
void gw__idp_do_totp_confirm(struct gw_idp_call *c, const struct gw_idp_input *in)
{
    const struct gw_identity_conf *ic = &gw__idp.ic;
    struct gw__idp_bearer b;
    struct gw__idp_user u;
    if (gw__idp_bearer_user(c, &b, &u) < 0)
        return;
    if (u.totp) {
        gw__idp_fail(c, GW_EIDSTATE, NULL, "TOTP is already enabled");
        return;
    }
    unsigned char secret[GW__IDP_TOTP_SECRET], box[GW__IDP_TOTP_BOX];
    int rc = gw__idp_totp_pending_get(gw__idp.store, u.id, box);
    if (rc != 0) {
        gw__idp_fail(c, rc < 0 ? GW_EIDSTORE : GW_EIDSTATE, NULL,
                     rc < 0 ? NULL : "no TOTP enrolment to confirm: enrol first");
        return;
    }
    if (gw__idp_totp_open(ic, u.id, box, secret) != 0) {
        gw__idp_fail(c, GW_EIDSTATE, NULL, "the TOTP enrolment cannot be read: enrol again");
        return;
    }
    int64_t step = 0;
    bool ok = gw__idp_totp_check(secret, sizeof secret, in->totp, (int64_t)time(NULL),
                                 ic->totp_period_s, ic->totp_window, ic->totp_digits, -1, &step);
    sodium_memzero(secret, sizeof secret);
    char object[96];
    snprintf(object, sizeof object, "user:%s", u.username);
    if (!ok) {
        gw__idp_audit(c, "identity.totp_confirm", object, 400);
        gw__idp_fail(c, GW_EIDINPUT, "code", "is wrong (is the device's clock right?)");
        return;
    }
    size_t n = ic->totp_recovery_codes;
    char(*hashes)[65] = calloc(n ? n : 1, sizeof *hashes);
    char(*codes)[12] = calloc(n ? n : 1, sizeof *codes);
    json_t *list = json_array();
    if (hashes == NULL || codes == NULL || list == NULL) {
        gw__idp_fail(c, GW_ENOMEM, NULL, NULL);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char raw[GW_IDP_RECOVERY_LEN + 1];
        gw__idp_recovery_new(raw, hashes[i]);
        snprintf(codes[i], sizeof codes[i], "%.5s-%.5s", raw, raw + 5);
        json_array_append_new(list, json_string(codes[i]));
        sodium_memzero(raw, sizeof raw);
    }
    rc = gw__idp_totp_enable(gw__idp.store, u.id, step, hashes, n);
    if (rc != 0) {
        gw__idp_fail(c, rc < 0 ? GW_EIDSTORE : GW_EIDSTATE, NULL,
                     rc < 0 ? NULL : "no TOTP enrolment to confirm: enrol first");
        goto out;
    }
    gw__idp_audit(c, "identity.totp_enable", object, 200);
    gw__idp_answer(c, 200, json_pack("{s:b, s:O}", "totp_enabled", 1, "recovery_codes", list));
out:
    json_decref(list);
    if (codes)
        sodium_memzero(codes, (n ? n : 1) * sizeof *codes);
    free(codes);
    free(hashes);
}

/* Turning TOTP off takes the password or a code (TOTP or recovery), so a stolen access token
 * alone cannot remove the second factor; failures count towards the account's lockout. */
void gw__idp_do_totp_disable(struct gw_idp_call *c, const struct gw_idp_input *in)
{
    const struct gw_identity_conf *ic = &gw__idp.ic;
    struct gw__idp_bearer b;
    struct gw__idp_user u;
    if (gw__idp_bearer_user(c, &b, &u) < 0)
        return;
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
    if (!u.totp) {
        gw__idp_fail(c, GW_EIDSTATE, NULL, "TOTP is not enabled");
        return;
    }
    bool ok = false, rehash;
    int rc = 0;
    if (in->password[0])
        ok = gw__idp_password_check(u.hash, in->password, in->password_len, ic->opslimit,
                                    ic->memlimit, &rehash);
    else
        rc = gw__idp_second_factor(c, in, &u, &ok);
    if (rc < 0) {
        gw__idp_fail(c, GW_EIDSTORE, NULL, NULL);
        return;
    }
    if (!ok) {
        gw__idp_audit(c, "identity.totp_disable", object, 401);
        if (gw__idp_lock_fail(ukey, ic->max_failures, &started) < 0) {
            gw__idp_fail(c, GW_EIDSTORE, NULL, NULL);
            return;
        }
        if (started)
            gw__idp_audit(c, "identity.lockout", object, 429);
        gw__idp_fail(c, GW_EIDCREDENTIALS, NULL, "the password or code is wrong");
        return;
    }
    bool was = false;
    if (gw__idp_totp_disable(gw__idp.store, u.id, &was) < 0) {
        gw__idp_fail(c, GW_EIDSTORE, NULL, NULL);
        return;
    }
    gw__idp_audit(c, "identity.totp_disable", object, 200);
    gw__idp_answer(c, 200, json_pack("{s:b}", "totp_enabled", 0));
}
