/*
 * Built-in identity's endpoints (identity.h): settings bound at start, the calls handed to
 * libuv's thread pool, and the handlers of register, login, refresh, logout and me, which run
 * there (argon2id and SQLite block; a loop thread never waits for them).
 */
#include "identity/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "audit/audit.h"
#include "core/base32.h"
#include "core/base64url.h"
#include "core/error.h"
#include "core/log.h"
#include "policy/jwt.h"
#include "policy/jwt_signer.h"
#include "state/revoked.h"

/* Revoked ids stay in the set this long after the last token they cover expired: more than any
 * leeway a verifier gives exp. */
#define REVOKE_MARGIN_S 300

static struct {
    bool started;
    struct gw_identity_conf ic;    /* strings below owned here */
    char roles[GW__IDP_ROLES_MAX]; /* register.roles, space-separated */
    struct gw__idp_store *store;
    struct gw_jwt_policy pol;
    char dummy[crypto_pwhash_STRBYTES]; /* the hash an unknown user is checked against */
} idp;

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

/* ---- start and stop ---------------------------------------------------------------------------
 */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void free_settings(void)
{
    struct gw_identity_conf *ic = &idp.ic;
    free(ic->sqlite);
    free(ic->pg_dsn);
    free(ic->issuer);
    free(ic->audience);
    free(ic->admin_role);
    free(ic->totp_issuer);
    if (ic->totp_key)
        sodium_memzero(ic->totp_key, strlen(ic->totp_key));
    free(ic->totp_key);
    for (size_t i = 0; i < ic->ntotp_previous_keys; i++) {
        sodium_memzero(ic->totp_previous_keys[i], strlen(ic->totp_previous_keys[i]));
        free(ic->totp_previous_keys[i]);
    }
    free(ic->totp_previous_keys);
    for (size_t i = 0; i < ic->ninvite_codes; i++)
        free(ic->invite_codes[i]);
    free(ic->invite_codes);
    memset(ic, 0, sizeof *ic);
}

int gw_idp_start(const struct gw_config *cfg)
{
    const struct gw_identity_conf *c = &cfg->identity;
    if (!c->enabled || idp.started)
        return 0;
    if (sodium_init() < 0)
        return GW_ENOMEM;
    struct gw_identity_conf *ic = &idp.ic;
    *ic = *c;
    ic->sqlite = dup_or_null(c->sqlite);
    ic->pg_dsn = dup_or_null(c->pg_dsn);
    ic->issuer = dup_or_null(c->issuer);
    ic->audience = dup_or_null(c->audience);
    /* The keys come with each call's snapshot (a reload changes them). */
    ic->kid = NULL;
    ic->secret = NULL;
    ic->key_confs = NULL;
    ic->nkey_confs = 0;
    ic->active_kid = NULL;
    ic->keyring = NULL;
    ic->jwks_path = NULL;
    ic->revocation_key = NULL;
    ic->admin_role = dup_or_null(c->admin_role);
    ic->totp_issuer = dup_or_null(c->totp_issuer);
    ic->totp_key = dup_or_null(c->totp_key);
    ic->totp_previous_keys = NULL;
    ic->ntotp_previous_keys = 0;
    ic->invite_codes = c->ninvite_codes ? calloc(c->ninvite_codes, sizeof(char *)) : NULL;
    ic->default_roles = NULL;
    ic->ndefault_roles = 0;
    memset(ic->paths, 0, sizeof ic->paths);
    int rc = GW_ENOMEM;
    if ((c->sqlite && !ic->sqlite) || (c->pg_dsn && !ic->pg_dsn) || !ic->issuer || !ic->audience || !ic->admin_role ||
        (c->ninvite_codes && !ic->invite_codes)) {
        ic->ninvite_codes = 0;
        goto fail;
    }
    for (size_t i = 0; i < c->ninvite_codes; i++) {
        ic->invite_codes[i] = strdup(c->invite_codes[i]);
        if (ic->invite_codes[i] == NULL) {
            ic->ninvite_codes = i;
            goto fail;
        }
    }
    if ((c->totp_issuer && !ic->totp_issuer) || (c->totp_key && !ic->totp_key))
        goto fail;
    if (c->ntotp_previous_keys) {
        ic->totp_previous_keys = calloc(c->ntotp_previous_keys, sizeof(char *));
        if (ic->totp_previous_keys == NULL)
            goto fail;
        for (size_t i = 0; i < c->ntotp_previous_keys; i++) {
            ic->totp_previous_keys[i] = strdup(c->totp_previous_keys[i]);
            if (ic->totp_previous_keys[i] == NULL)
                goto fail;
            ic->ntotp_previous_keys = i + 1;
        }
    }
    idp.roles[0] = '\0';
    for (size_t i = 0; i < c->ndefault_roles; i++) {
        size_t n = strlen(idp.roles);
        snprintf(idp.roles + n, sizeof idp.roles - n, "%s%s", n ? " " : "", c->default_roles[i]);
    }
    idp.pol = (struct gw_jwt_policy){
        .leeway_s = 0, .iss = ic->issuer, .aud = ic->audience, .require_exp = true};
    /* The dummy hash has the configured cost: an unknown user costs what a wrong password does. */
    char pw[33];
    gw__idp_random_hex(pw, 16);
    if (gw__idp_password_hash(pw, strlen(pw), ic->opslimit, ic->memlimit, idp.dummy) < 0) {
        gw_log_error("identity: argon2id with memlimit %llu failed (out of memory?)",
                     (unsigned long long)ic->memlimit);
        goto fail;
    }
    rc = gw__idp_gate_init(ic);
    if (rc < 0)
        goto fail;
    rc = gw__idp_store_open(ic, &idp.store);
    if (rc < 0) {
        gw__idp_gate_free();
        goto fail;
    }
    idp.started = true;
    const struct gw_jwt_keyring *ring = c->keyring;
    gw_log_info("identity: store %s%s%s, issuer \"%s\", signing key \"%s\" (%s)",
                gw__idp_store_name(idp.store), ic->store == GW_IDP_STORE_SQLITE ? " " : "",
                ic->store == GW_IDP_STORE_SQLITE ? ic->sqlite : "", ic->issuer, ring ? ring->keys[ring->active].kid : "",
                ring ? gw_jwt_alg_name(ring->keys[ring->active].alg) : "");
    return 0;
fail:
    free_settings();
    return rc;
}

void gw_idp_stop(void)
{
    if (!idp.started)
        return;
    gw__idp_store_close(idp.store);
    idp.store = NULL;
    free_settings();
    gw__idp_throttle_reset();
    gw__idp_gate_free();
    idp.started = false;
}

struct gw__idp_store *gw__idp_store_of(const struct gw_identity_conf **ic)
{
    *ic = &idp.ic;
    return idp.started ? idp.store : NULL;
}

int gw_idp_endpoint(const struct gw_config *cfg, const char *path, size_t n)
{
    if (!cfg->identity.enabled)
        return -1;
    for (int i = 0; i < GW_IDP_EP__COUNT; i++) {
        const char *p = cfg->identity.paths[i];
        if (i == GW_IDP_EP_REGISTER && cfg->identity.register_mode == GW_IDP_REGISTER_OFF)
            continue;
        if (i >= GW_IDP_EP_TOTP_ENROL && i <= GW_IDP_EP_TOTP_DISABLE && !cfg->identity.totp_enabled)
            continue;
        if (p && strlen(p) == n && memcmp(p, path, n) == 0)
            return i;
    }
    return -1;
}

/* ---- answers ----------------------------------------------------------------------------------
 */

static void fail(struct gw_idp_call *c, int err, const char *field, const char *why)
{
    struct gw_idp_result *res = &c->res;
    res->err = err;
    res->status = gw_err_http_status(err);
    if (field) {
        snprintf(res->field, sizeof res->field, "%s", field);
        snprintf(res->reason, sizeof res->reason, "%s %s", field, why ? why : "is invalid");
    } else if (why) {
        snprintf(res->reason, sizeof res->reason, "%s", why);
    }
}

/* The answer is json (its reference taken). */
static void answer(struct gw_idp_call *c, int status, json_t *json)
{
    char *text = json ? json_dumps(json, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(json);
    if (text == NULL) {
        fail(c, GW_ENOMEM, NULL, NULL);
        return;
    }
    c->res.status = status;
    c->res.err = 0;
    c->res.body = text;
    c->res.body_len = strlen(text);
}

void gw__idp_default_roles(char *out, size_t cap)
{
    snprintf(out, cap, "%s", idp.roles);
}

json_t *gw__idp_roles_array(const char *roles)
{
    json_t *a = json_array();
    char buf[GW__IDP_ROLES_MAX];
    snprintf(buf, sizeof buf, "%s", roles);
    for (char *p = buf, *e; a && *p; p = e) {
        e = strchr(p, ' ');
        if (e)
            *e++ = '\0';
        else
            e = p + strlen(p);
        if (*p)
            json_array_append_new(a, json_string(p));
    }
    return a;
}

static void audit_detail(const struct gw_idp_call *c, const char *action, const char *object,
                         int status, const char *detail)
{
    if (!gw_audit_wants(GW_AUDIT_EV_IDENTITY))
        return;
    struct gw_audit_actor actor = {.key = NULL, .addr = c->client, .via = "proxy"};
    struct gw_audit_record r = {
        .actor = &actor, .action = action, .object = object, .status = status, .detail = detail};
    gw_audit_record(&r);
}

static void audit(const struct gw_idp_call *c, const char *action, const char *object, int status)
{
    audit_detail(c, action, object, status, NULL);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- bearer tokens ------------------------------------------------------------------------------
 */

struct bearer {
    int64_t user;
    char sid[GW__IDP_SID_LEN + 1];
    char roles[GW__IDP_ROLES_MAX];
    uint64_t jti_key;
    int64_t exp;
};

/* The request's bearer token, issued by this gantry, valid and not revoked: 0, or
 * GW_EIDTOKEN. */
static int verify_bearer(const struct gw_idp_call *c, struct bearer *b)
{
    struct gw_jwt_claims cl;
    int64_t now = (int64_t)time(NULL);
    if (c->bearer == NULL || c->keys == NULL ||
        gw_jwt_verify(c->bearer, c->bearer_len, c->keys->verify, c->keys->nkeys, &idp.pol, now,
                      &cl) != 0)
        return GW_EIDTOKEN;
    if (gw_revoked_has(cl.jti_key, now) || gw_revoked_has(cl.sid_key, now))
        return GW_EIDTOKEN;
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
    const char *sub = json_string_value(json_object_get(p, "sub"));
    json_t *roles = json_object_get(p, "roles");
    int rc = GW_EIDTOKEN;
    char *end = NULL;
    if (sid && sub && strlen(sid) == GW__IDP_SID_LEN) {
        b->user = strtoll(sub, &end, 10);
        if (end && *end == '\0' && b->user > 0) {
            snprintf(b->sid, sizeof b->sid, "%s", sid);
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

static void do_register(struct gw_idp_call *c, const struct gw_idp_input *in)
{
    const struct gw_identity_conf *ic = &idp.ic;
    struct gw__idp_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.roles, sizeof u.roles, "%s", idp.roles);
    if (ic->register_mode == GW_IDP_REGISTER_INVITE) {
        bool ok = false;
        if (in->invite[0] == '\0') {
            fail(c, GW_EIDINPUT, "invite_code", "is required");
            return;
        }
        for (size_t i = 0; i < ic->ninvite_codes; i++)
            ok |= same_secret(in->invite, ic->invite_codes[i]);
        if (!ok) {
            fail(c, GW_EIDCLOSED, NULL, "invalid invite code");
            return;
        }
    }
    bool first = false; /* the first user of an empty admin-only store: its admin */
    if (ic->register_mode == GW_IDP_REGISTER_ADMIN) {
        int64_t n = 0;
        if (gw__idp_users_count(idp.store, &n) < 0) {
            fail(c, GW_EIDSTORE, NULL, NULL);
            return;
        }
        if (n == 0) {
            /* The first user of an empty store becomes the admin who registers the others. */
            first = true;
            size_t k = strlen(u.roles);
            snprintf(u.roles + k, sizeof u.roles - k, "%s%s", k ? " " : "", ic->admin_role);
        } else {
            struct bearer b;
            if (verify_bearer(c, &b) != 0 || !gw_jwt_list_has(b.roles, ic->admin_role)) {
                fail(c, GW_EIDCLOSED, NULL, "registration needs an admin's bearer token");
                return;
            }
        }
    }
    const char *weak =
        gw__idp_password_weak(in->password, in->password_len, ic->min_length, in->username);
    if (weak) {
        fail(c, GW_EIDINPUT, "password", weak);
        return;
    }
    snprintf(u.username, sizeof u.username, "%s", in->username);
    snprintf(u.email, sizeof u.email, "%s", in->email);
    u.created = (int64_t)time(NULL);
    if (gw__idp_password_hash(in->password, in->password_len, ic->opslimit, ic->memlimit, u.hash) <
        0) {
        fail(c, GW_ENOMEM, NULL, NULL);
        return;
    }
    int rc = gw__idp_user_insert(idp.store, &u, first);
    char object[96];
    snprintf(object, sizeof object, "user:%s", u.username);
    if (rc == GW_EIDCLOSED) { /* another registration became the admin meanwhile */
        fail(c, GW_EIDCLOSED, NULL, "registration needs an admin's bearer token");
        return;
    }
    if (rc < 0) {
        fail(c, rc, NULL, NULL);
        if (rc == GW_EIDTAKEN)
            audit(c, "identity.register", object, 409);
        return;
    }
    audit(c, "identity.register", object, 201);
    answer(c, 201,
           json_pack("{s:I, s:s, s:s, s:o, s:I}", "id", (json_int_t)u.id, "username", u.username,
                     "email", u.email, "roles", gw__idp_roles_array(u.roles), "created_at",
                     (json_int_t)u.created));
}

/* A new session (or the next token of session sid) for u: the token answer. */
static void issue(struct gw_idp_call *c, const struct gw__idp_user *u, const char *sid,
                  const char *refresh, int status)
{
    char *access = NULL;
    char jti[33];
    if (gw__idp_access_token(&idp.ic, &c->keys->keys[c->keys->active], u, sid, (int64_t)time(NULL),
                             &access, jti) < 0) {
        fail(c, GW_ENOMEM, NULL, NULL);
        return;
    }
    answer(c, status,
           json_pack("{s:s, s:s, s:I, s:s}", "access_token", access, "token_type", "Bearer",
                     "expires_in", (json_int_t)(idp.ic.access_ttl_ms / 1000), "refresh_token",
                     refresh));
    free(access);
}

/* The second factor of u's login: in's TOTP code (a step later than the last one used) or one
 * of u's unused recovery codes. *ok tells; 0 or GW_EIDSTORE. */
static int second_factor(const struct gw_idp_call *c, const struct gw_idp_input *in,
                         const struct gw__idp_user *u, bool *ok)
{
    const struct gw_identity_conf *ic = &idp.ic;
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
        return match ? gw__idp_totp_use_step(idp.store, u->id, step, ok) : 0;
    }
    if (in->recovery[0]) {
        char hash[65], object[96], detail[48];
        int64_t left = 0;
        gw__idp_recovery_hash(in->recovery, hash);
        int rc = gw__idp_recovery_use(idp.store, u->id, hash, ok, &left);
        if (rc == 0 && *ok) {
            snprintf(object, sizeof object, "user:%s", u->username);
            snprintf(detail, sizeof detail, "{\"left\":%lld}", (long long)left);
            audit_detail(c, "identity.recovery_code_used", object, 200, detail);
        }
        return rc;
    }
    return 0;
}

static void do_login(struct gw_idp_call *c, const struct gw_idp_input *in)
{
    const struct gw_identity_conf *ic = &idp.ic;
    char ukey[8 + sizeof in->login], akey[8 + sizeof c->client];
    snprintf(ukey, sizeof ukey, "u:%s", in->login);
    snprintf(akey, sizeof akey, "a:%s", c->client);
    int64_t now = now_ms();
    int64_t wait = gw__idp_throttle_wait(ukey, now);
    int64_t wait_a = gw__idp_throttle_wait(akey, now);
    if (wait_a > wait)
        wait = wait_a;
    if (wait > 0) {
        fail(c, GW_EIDLOCKED, NULL, "too many failed logins: try again later");
        c->res.retry_after = (uint32_t)wait;
        return;
    }
    struct gw__idp_user u;
    int found = gw__idp_user_find(idp.store, in->login, in->login_is_email, 0, &u);
    if (found < 0) {
        fail(c, GW_EIDSTORE, NULL, NULL);
        return;
    }
    bool rehash = false;
    /* An unknown user is checked against the dummy hash: the same answer after the same work. */
    bool ok = gw__idp_password_check(found == 0 ? u.hash : idp.dummy, in->password,
                                     in->password_len, ic->opslimit, ic->memlimit, &rehash);
    ok = ok && found == 0;
    /* With TOTP on, a missing or wrong code gets the answer a wrong password gets: the answer
     * never tells that the password was right. */
    bool factor_failed = false;
    if (ok && u.totp) {
        if (second_factor(c, in, &u, &ok) < 0) {
            fail(c, GW_EIDSTORE, NULL, NULL);
            return;
        }
        factor_failed = !ok;
    }
    if (!ok) {
        char object[300];
        snprintf(object, sizeof object, "user:%s", in->login);
        audit_detail(c, "identity.login_failed", object, 401,
                     factor_failed ? "{\"factor\":\"totp\"}" : NULL);
        if (gw__idp_throttle_fail(ukey, ic->max_failures, ic->lockout_window_ms, ic->lockout_ms,
                                  now))
            audit(c, "identity.lockout", object, 429);
        if (gw__idp_throttle_fail(akey, ic->max_addr_failures, ic->lockout_window_ms,
                                  ic->lockout_ms, now)) {
            snprintf(object, sizeof object, "client:%s", c->client);
            audit(c, "identity.lockout", object, 429);
        }
        fail(c, GW_EIDCREDENTIALS, NULL, NULL);
        return;
    }
    gw__idp_throttle_ok(ukey);
    if (rehash) {
        char h[crypto_pwhash_STRBYTES];
        if (gw__idp_password_hash(in->password, in->password_len, ic->opslimit, ic->memlimit, h) ==
            0)
            (void)gw__idp_user_set_hash(idp.store, u.id, h);
    }
    char sid[GW__IDP_SID_LEN + 1], refresh[44], rhash[65];
    gw__idp_random_hex(sid, GW__IDP_SID_LEN / 2);
    gw__idp_refresh_new(refresh, rhash);
    int64_t t = (int64_t)time(NULL);
    if (gw__idp_session_new(idp.store, u.id, sid, rhash, t,
                            t + (int64_t)(ic->refresh_ttl_ms / 1000)) < 0) {
        fail(c, GW_EIDSTORE, NULL, NULL);
        return;
    }
    char object[96];
    snprintf(object, sizeof object, "user:%s", u.username);
    audit(c, "identity.login", object, 200);
    issue(c, &u, sid, refresh, 200);
}

void gw__idp_revoke_sid(void *arg, const char *sid)
{
    int *n = arg;
    (*n)++;
    (void)gw_revoked_add(gw_revoked_key(sid), (int64_t)time(NULL) +
                                                  (int64_t)(idp.ic.access_ttl_ms / 1000) +
                                                  REVOKE_MARGIN_S);
}

static void do_refresh(struct gw_idp_call *c, const struct gw_idp_input *in)
{
    char old_hash[65], refresh[44], new_hash[65], sid[GW__IDP_SID_LEN + 1];
    enum gw__idp_rotate how;
    int64_t user;
    gw__idp_refresh_hash(in->refresh, strlen(in->refresh), old_hash);
    gw__idp_refresh_new(refresh, new_hash);
    if (gw__idp_refresh_rotate(idp.store, old_hash, new_hash, (int64_t)time(NULL),
                               (int64_t)(idp.ic.refresh_idle_ms / 1000), &how, &user, sid) < 0) {
        fail(c, GW_EIDSTORE, NULL, NULL);
        return;
    }
    if (how == GW__IDP_REUSED) {
        int n = 0;
        gw__idp_revoke_sid(&n, sid);
        char object[64];
        snprintf(object, sizeof object, "session:%s", sid);
        audit(c, "identity.refresh_reuse", object, 401);
        fail(c, GW_EIDTOKEN, NULL, "refresh token reused: the session is revoked");
        return;
    }
    struct gw__idp_user u;
    if (how != GW__IDP_ROTATED || gw__idp_user_find(idp.store, NULL, false, user, &u) != 0) {
        fail(c, GW_EIDTOKEN, NULL, NULL);
        return;
    }
    issue(c, &u, sid, refresh, 200);
}

static void do_logout(struct gw_idp_call *c, const struct gw_idp_input *in)
{
    struct bearer b;
    if (verify_bearer(c, &b) != 0) {
        fail(c, GW_EIDTOKEN, NULL, NULL);
        return;
    }
    int n = 0;
    if (gw__idp_sessions_revoke(idp.store, b.user, in->all ? NULL : b.sid, gw__idp_revoke_sid, &n) <
        0) {
        fail(c, GW_EIDSTORE, NULL, NULL);
        return;
    }
    /* The presented token goes too, even when its session was revoked already. */
    (void)gw_revoked_add(b.jti_key, b.exp + REVOKE_MARGIN_S);
    char object[40];
    snprintf(object, sizeof object, "user:%lld", (long long)b.user);
    audit(c, in->all ? "identity.logout_all" : "identity.logout", object, 200);
    answer(c, 200, json_pack("{s:b, s:i}", "logged_out", 1, "sessions_revoked", n));
}

/* A password change: the current password again, a new one that passes the rules; then every
 * session of the user ends (this one included), so a stolen session does not outlive it. */
static void do_password(struct gw_idp_call *c, const struct gw_idp_input *in)
{
    const struct gw_identity_conf *ic = &idp.ic;
    struct bearer b;
    struct gw__idp_user u;
    if (verify_bearer(c, &b) != 0) {
        fail(c, GW_EIDTOKEN, NULL, NULL);
        return;
    }
    int rc = gw__idp_user_find(idp.store, NULL, false, b.user, &u);
    if (rc != 0) {
        fail(c, rc < 0 ? GW_EIDSTORE : GW_EIDTOKEN, NULL, NULL);
        return;
    }
    char ukey[8 + sizeof u.username], object[96];
    snprintf(ukey, sizeof ukey, "u:%s", u.username);
    snprintf(object, sizeof object, "user:%s", u.username);
    int64_t now = now_ms();
    int64_t wait = gw__idp_throttle_wait(ukey, now);
    if (wait > 0) {
        fail(c, GW_EIDLOCKED, NULL, "too many failed logins: try again later");
        c->res.retry_after = (uint32_t)wait;
        return;
    }
    bool rehash;
    if (!gw__idp_password_check(u.hash, in->password, in->password_len, ic->opslimit, ic->memlimit,
                                &rehash)) {
        audit(c, "identity.password_change", object, 401);
        if (gw__idp_throttle_fail(ukey, ic->max_failures, ic->lockout_window_ms, ic->lockout_ms,
                                  now))
            audit(c, "identity.lockout", object, 429);
        fail(c, GW_EIDCREDENTIALS, NULL, "current_password is wrong");
        return;
    }
    const char *weak =
        gw__idp_password_weak(in->new_password, in->new_password_len, ic->min_length, u.username);
    if (weak) {
        fail(c, GW_EIDINPUT, "new_password", weak);
        return;
    }
    char h[crypto_pwhash_STRBYTES];
    if (gw__idp_password_hash(in->new_password, in->new_password_len, ic->opslimit, ic->memlimit,
                              h) < 0) {
        fail(c, GW_ENOMEM, NULL, NULL);
        return;
    }
    int n = 0;
    if (gw__idp_user_set_hash(idp.store, u.id, h) < 0 ||
        gw__idp_sessions_revoke(idp.store, u.id, NULL, gw__idp_revoke_sid, &n) < 0) {
        fail(c, GW_EIDSTORE, NULL, NULL);
        return;
    }
    (void)gw_revoked_add(b.jti_key, b.exp + REVOKE_MARGIN_S);
    audit(c, "identity.password_change", object, 200);
    answer(c, 200, json_pack("{s:b, s:i}", "password_changed", 1, "sessions_revoked", n));
}

static void do_me(struct gw_idp_call *c)
{
    struct bearer b;
    struct gw__idp_user u;
    if (verify_bearer(c, &b) != 0) {
        fail(c, GW_EIDTOKEN, NULL, NULL);
        return;
    }
    int rc = gw__idp_user_find(idp.store, NULL, false, b.user, &u);
    if (rc != 0) {
        fail(c, rc < 0 ? GW_EIDSTORE : GW_EIDTOKEN, NULL, NULL);
        return;
    }
    answer(c, 200,
           json_pack("{s:I, s:s, s:s, s:o, s:o, s:I, s:b}", "id", (json_int_t)u.id, "username",
                     u.username, "email", u.email, "roles", gw__idp_roles_array(u.roles),
                     "permissions", gw__idp_roles_array(u.perms), "created_at",
                     (json_int_t)u.created, "totp_enabled", u.totp));
}

/* ---- TOTP -------------------------------------------------------------------------------------
 */

/* The user of the request's bearer token into *u: 0, or the failure answered. */
static int bearer_user(struct gw_idp_call *c, struct bearer *b, struct gw__idp_user *u)
{
    if (verify_bearer(c, b) != 0) {
        fail(c, GW_EIDTOKEN, NULL, NULL);
        return -1;
    }
    int rc = gw__idp_user_find(idp.store, NULL, false, b->user, u);
    if (rc != 0) {
        fail(c, rc < 0 ? GW_EIDSTORE : GW_EIDTOKEN, NULL, NULL);
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

/* Enrolment: a new secret, pending until a code confirms it; shown once, as base32 and as the
 * otpauth:// URI authenticator apps read from a QR code (Key Uri Format). */
static void do_totp_enrol(struct gw_idp_call *c)
{
    const struct gw_identity_conf *ic = &idp.ic;
    struct bearer b;
    struct gw__idp_user u;
    if (bearer_user(c, &b, &u) < 0)
        return;
    if (u.totp) {
        fail(c, GW_EIDSTATE, NULL, "TOTP is already enabled: disable it first");
        return;
    }
    unsigned char secret[GW__IDP_TOTP_SECRET], box[GW__IDP_TOTP_BOX];
    char b32[GW_BASE32_ENCODED_LEN(GW__IDP_TOTP_SECRET) + 1], uri[1024], object[96];
    randombytes_buf(secret, sizeof secret);
    (void)gw_base32_encode(secret, sizeof secret, b32, sizeof b32);
    int rc = gw__idp_totp_seal(ic, u.id, secret, box);
    sodium_memzero(secret, sizeof secret);
    if (rc < 0 || gw__idp_totp_pending_set(idp.store, u.id, box) < 0) {
        sodium_memzero(b32, sizeof b32);
        fail(c, GW_EIDSTORE, NULL, NULL);
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
    audit(c, "identity.totp_enrol", object, 200);
    answer(c, 200,
           json_pack("{s:s, s:s, s:s, s:i, s:i}", "secret", b32, "otpauth_uri", uri, "algorithm",
                     "SHA1", "digits", (int)ic->totp_digits, "period", (int)ic->totp_period_s));
    sodium_memzero(b32, sizeof b32);
    sodium_memzero(uri, sizeof uri);
}

/* Confirmation: a code of the pending secret makes it the user's; the recovery codes are made
 * now and shown this once (only their hashes are kept). */
static void do_totp_confirm(struct gw_idp_call *c, const struct gw_idp_input *in)
{
    const struct gw_identity_conf *ic = &idp.ic;
    struct bearer b;
    struct gw__idp_user u;
    if (bearer_user(c, &b, &u) < 0)
        return;
    if (u.totp) {
        fail(c, GW_EIDSTATE, NULL, "TOTP is already enabled");
        return;
    }
    unsigned char secret[GW__IDP_TOTP_SECRET], box[GW__IDP_TOTP_BOX];
    int rc = gw__idp_totp_pending_get(idp.store, u.id, box);
    if (rc != 0) {
        fail(c, rc < 0 ? GW_EIDSTORE : GW_EIDSTATE, NULL,
             rc < 0 ? NULL : "no TOTP enrolment to confirm: enrol first");
        return;
    }
    if (gw__idp_totp_open(ic, u.id, box, secret) != 0) {
        fail(c, GW_EIDSTATE, NULL, "the TOTP enrolment cannot be read: enrol again");
        return;
    }
    int64_t step = 0;
    bool ok = gw__idp_totp_check(secret, sizeof secret, in->totp, (int64_t)time(NULL),
                                 ic->totp_period_s, ic->totp_window, ic->totp_digits, -1, &step);
    sodium_memzero(secret, sizeof secret);
    char object[96];
    snprintf(object, sizeof object, "user:%s", u.username);
    if (!ok) {
        audit(c, "identity.totp_confirm", object, 400);
        fail(c, GW_EIDINPUT, "code", "is wrong (is the device's clock right?)");
        return;
    }
    size_t n = ic->totp_recovery_codes;
    char(*hashes)[65] = calloc(n ? n : 1, sizeof *hashes);
    char(*codes)[12] = calloc(n ? n : 1, sizeof *codes);
    json_t *list = json_array();
    if (hashes == NULL || codes == NULL || list == NULL) {
        fail(c, GW_ENOMEM, NULL, NULL);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char raw[GW_IDP_RECOVERY_LEN + 1];
        gw__idp_recovery_new(raw, hashes[i]);
        snprintf(codes[i], sizeof codes[i], "%.5s-%.5s", raw, raw + 5);
        json_array_append_new(list, json_string(codes[i]));
        sodium_memzero(raw, sizeof raw);
    }
    rc = gw__idp_totp_enable(idp.store, u.id, step, hashes, n);
    if (rc != 0) {
        fail(c, rc < 0 ? GW_EIDSTORE : GW_EIDSTATE, NULL,
             rc < 0 ? NULL : "no TOTP enrolment to confirm: enrol first");
        goto out;
    }
    audit(c, "identity.totp_enable", object, 200);
    answer(c, 200, json_pack("{s:b, s:O}", "totp_enabled", 1, "recovery_codes", list));
out:
    json_decref(list);
    if (codes)
        sodium_memzero(codes, (n ? n : 1) * sizeof *codes);
    free(codes);
    free(hashes);
}

/* Turning TOTP off takes the password or a code (TOTP or recovery), so a stolen access token
 * alone cannot remove the second factor; failures count towards the account's lockout. */
static void do_totp_disable(struct gw_idp_call *c, const struct gw_idp_input *in)
{
    const struct gw_identity_conf *ic = &idp.ic;
    struct bearer b;
    struct gw__idp_user u;
    if (bearer_user(c, &b, &u) < 0)
        return;
    char ukey[8 + sizeof u.username], object[96];
    snprintf(ukey, sizeof ukey, "u:%s", u.username);
    snprintf(object, sizeof object, "user:%s", u.username);
    int64_t now = now_ms();
    int64_t wait = gw__idp_throttle_wait(ukey, now);
    if (wait > 0) {
        fail(c, GW_EIDLOCKED, NULL, "too many failed logins: try again later");
        c->res.retry_after = (uint32_t)wait;
        return;
    }
    if (!u.totp) {
        fail(c, GW_EIDSTATE, NULL, "TOTP is not enabled");
        return;
    }
    bool ok = false, rehash;
    int rc = 0;
    if (in->password[0])
        ok = gw__idp_password_check(u.hash, in->password, in->password_len, ic->opslimit,
                                    ic->memlimit, &rehash);
    else
        rc = second_factor(c, in, &u, &ok);
    if (rc < 0) {
        fail(c, GW_EIDSTORE, NULL, NULL);
        return;
    }
    if (!ok) {
        audit(c, "identity.totp_disable", object, 401);
        if (gw__idp_throttle_fail(ukey, ic->max_failures, ic->lockout_window_ms, ic->lockout_ms,
                                  now))
            audit(c, "identity.lockout", object, 429);
        fail(c, GW_EIDCREDENTIALS, NULL, "the password or code is wrong");
        return;
    }
    bool was = false;
    if (gw__idp_totp_disable(idp.store, u.id, &was) < 0) {
        fail(c, GW_EIDSTORE, NULL, NULL);
        return;
    }
    audit(c, "identity.totp_disable", object, 200);
    answer(c, 200, json_pack("{s:b}", "totp_enabled", 0));
}

/* ---- the thread pool ------------------------------------------------------------------------- */

static void on_work(uv_work_t *w)
{
    struct gw_idp_call *c = w->data;
    struct gw_idp_input *in = malloc(sizeof *in);
    const char *field, *why;
    if (in == NULL) {
        fail(c, GW_ENOMEM, NULL, NULL);
        return;
    }
    if (gw_idp_parse(c->ep, c->body, c->len, in, &field, &why) != 0) {
        fail(c, GW_EIDINPUT, field, why);
    } else {
        switch (c->ep) {
        case GW_IDP_EP_REGISTER:
            do_register(c, in);
            break;
        case GW_IDP_EP_LOGIN:
            do_login(c, in);
            break;
        case GW_IDP_EP_REFRESH:
            do_refresh(c, in);
            break;
        case GW_IDP_EP_LOGOUT:
            do_logout(c, in);
            break;
        case GW_IDP_EP_PASSWORD:
            do_password(c, in);
            break;
        case GW_IDP_EP_TOTP_ENROL:
            do_totp_enrol(c);
            break;
        case GW_IDP_EP_TOTP_CONFIRM:
            do_totp_confirm(c, in);
            break;
        case GW_IDP_EP_TOTP_DISABLE:
            do_totp_disable(c, in);
            break;
        default:
            do_me(c);
            break;
        }
    }
    sodium_memzero(in, sizeof *in);
    free(in);
}

static void call_free(struct gw_idp_call *c)
{
    if (c->body)
        sodium_memzero(c->body, c->len);
    free(c->body);
    free(c->bearer);
    free(c->res.body);
    gw_jwt_keyring_unref(c->keys);
    free(c);
}

static void on_done(uv_work_t *w, int status)
{
    struct gw_idp_call *c = w->data;
    if (status < 0 && c->res.status == 0)
        fail(c, GW_ENOMEM, NULL, NULL);
    if (c->cb)
        c->cb(c->arg, &c->res);
    call_free(c);
}

int gw_idp_call_start(uv_loop_t *loop, const struct gw_config *cfg, enum gw_idp_endpoint ep,
                      const char *body, size_t len, const char *bearer, size_t bearer_len,
                      const char *client, gw_idp_cb cb, void *arg, struct gw_idp_call **out)
{
    *out = NULL;
    if (!idp.started || cfg->identity.keyring == NULL)
        return GW_EIDSTORE;
    struct gw_idp_call *c = calloc(1, sizeof *c);
    if (c == NULL)
        return GW_ENOMEM;
    c->ep = ep;
    c->keys = gw_jwt_keyring_ref(cfg->identity.keyring);
    c->cb = cb;
    c->arg = arg;
    snprintf(c->client, sizeof c->client, "%s", client ? client : "");
    c->body = malloc(len + 1);
    c->bearer = bearer ? malloc(bearer_len + 1) : NULL;
    if (c->body == NULL || (bearer && c->bearer == NULL))
        goto fail;
    memcpy(c->body, body, len);
    c->body[len] = '\0';
    c->len = len;
    if (bearer) {
        memcpy(c->bearer, bearer, bearer_len);
        c->bearer[bearer_len] = '\0';
        c->bearer_len = bearer_len;
    }
    c->work.data = c;
    if (uv_queue_work(loop, &c->work, on_work, on_done) != 0)
        goto fail;
    *out = c;
    return 0;
fail:
    call_free(c);
    return GW_ENOMEM;
}

void gw_idp_call_cancel(struct gw_idp_call *call)
{
    if (call != NULL)
        call->cb = NULL;
}
