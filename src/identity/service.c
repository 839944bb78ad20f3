/*
 * Built-in identity's endpoints (identity.h): settings bound at start, the calls handed to
 * libuv's thread pool and their answers. The handlers run there (argon2id and the store block; a
 * loop thread never waits for them): endpoints.c (register, login, refresh, logout, password,
 * me) and endpoints_totp.c (TOTP enrol, confirm, disable).
 */
#include "identity/internal.h"

#include <pthread.h>
#include <stdatomic.h>
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

struct gw__idp_state gw__idp;

/* ---- start and stop ---------------------------------------------------------------------------
 */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void free_settings(void)
{
    struct gw_identity_conf *ic = &gw__idp.ic;
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
    if (!c->enabled || gw__idp.started)
        return 0;
    if (sodium_init() < 0)
        return GW_ENOMEM;
    struct gw_identity_conf *ic = &gw__idp.ic;
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
    if ((c->sqlite && !ic->sqlite) || (c->pg_dsn && !ic->pg_dsn) || !ic->issuer || !ic->audience ||
        !ic->admin_role || (c->ninvite_codes && !ic->invite_codes)) {
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
    gw__idp.roles[0] = '\0';
    for (size_t i = 0; i < c->ndefault_roles; i++) {
        size_t n = strlen(gw__idp.roles);
        snprintf(gw__idp.roles + n, sizeof gw__idp.roles - n, "%s%s", n ? " " : "",
                 c->default_roles[i]);
    }
    /* The leeway the services give (auth.jwt.leeway): a token they accept, me accepts too. */
    gw__idp.pol = (struct gw_jwt_policy){.leeway_s = (int64_t)(cfg->auth.leeway_ms / 1000),
                                         .iss = ic->issuer,
                                         .aud = ic->audience,
                                         .require_exp = true};
    /* The dummy hash has the configured cost: an unknown user costs what a wrong password does. */
    char pw[33];
    gw__idp_random_hex(pw, 16);
    if (gw__idp_password_hash(pw, strlen(pw), ic->opslimit, ic->memlimit, gw__idp.dummy) < 0) {
        gw_log_error("identity: argon2id with memlimit %llu failed (out of memory?)",
                     (unsigned long long)ic->memlimit);
        goto fail;
    }
    rc = gw__idp_gate_init(ic);
    if (rc < 0)
        goto fail;
    rc = gw__idp_store_open(ic, &gw__idp.store);
    if (rc < 0) {
        gw__idp_gate_free();
        goto fail;
    }
    gw__idp.started = true;
    atomic_store(&gw__idp.revocations_loaded, false);
    gw__idp_revocations_load();
    const struct gw_jwt_keyring *ring = c->keyring;
    gw_log_info("identity: store %s%s%s, issuer \"%s\", signing key \"%s\" (%s)",
                gw__idp_store_name(gw__idp.store), ic->store == GW_IDP_STORE_SQLITE ? " " : "",
                ic->store == GW_IDP_STORE_SQLITE ? ic->sqlite : "", ic->issuer,
                ring ? ring->keys[ring->active].kid : "",
                ring ? gw_jwt_alg_name(ring->keys[ring->active].alg) : "");
    return 0;
fail:
    free_settings();
    return rc;
}

void gw_idp_stop(void)
{
    if (!gw__idp.started)
        return;
    gw__idp_admin_calls_finish(); /* the admin API's work uses the store: it ends first */
    gw__idp_store_close(gw__idp.store);
    gw__idp.store = NULL;
    free_settings();
    gw__idp_throttle_reset();
    gw__idp_gate_free();
    gw__idp.started = false;
}

struct gw__idp_store *gw__idp_store_of(const struct gw_identity_conf **ic)
{
    *ic = &gw__idp.ic;
    return gw__idp.started ? gw__idp.store : NULL;
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

void gw__idp_fail(struct gw_idp_call *c, int err, const char *field, const char *why)
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
void gw__idp_answer(struct gw_idp_call *c, int status, json_t *json)
{
    char *text = json ? json_dumps(json, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(json);
    if (text == NULL) {
        gw__idp_fail(c, GW_ENOMEM, NULL, NULL);
        return;
    }
    c->res.status = status;
    c->res.err = 0;
    c->res.body = text;
    c->res.body_len = strlen(text);
}

void gw__idp_answer_text(struct gw_idp_call *c, int status, char *text, size_t len)
{
    c->res.status = status;
    c->res.err = 0;
    c->res.body = text;
    c->res.body_len = len;
}

void gw__idp_default_roles(char *out, size_t cap)
{
    snprintf(out, cap, "%s", gw__idp.roles);
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

void gw__idp_audit_detail(const struct gw_idp_call *c, const char *action, const char *object,
                          int status, const char *detail)
{
    if (!gw_audit_wants(GW_AUDIT_EV_IDENTITY))
        return;
    struct gw_audit_actor actor = {.key = NULL, .addr = c->client, .via = "proxy"};
    struct gw_audit_record r = {
        .actor = &actor, .action = action, .object = object, .status = status, .detail = detail};
    gw_audit_record(&r);
}

void gw__idp_audit(const struct gw_idp_call *c, const char *action, const char *object, int status)
{
    gw__idp_audit_detail(c, action, object, status, NULL);
}

int64_t gw__idp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void learn_revoked(void *arg, const char *id, int64_t until)
{
    size_t *n = arg;
    if (gw_revoked_learn(gw_revoked_key(id), until) == 0)
        (*n)++;
}

void gw__idp_revocations_load(void)
{
    static pthread_mutex_t once = PTHREAD_MUTEX_INITIALIZER;
    if (atomic_load(&gw__idp.revocations_loaded))
        return;
    pthread_mutex_lock(&once);
    if (!atomic_load(&gw__idp.revocations_loaded)) {
        size_t n = 0;
        /* Learnt, not added: with the Redis backend each instance loads them itself, and the
         * instances running hold them already. */
        if (gw__idp_revoked_load(gw__idp.store, (int64_t)time(NULL), learn_revoked, &n) == 0) {
            atomic_store(&gw__idp.revocations_loaded, true);
            gw_log_info("identity: %zu live revocation(s) loaded from the store", n);
        } else {
            gw_log_warn("identity: the revocations could not be loaded from the store: tried "
                        "again with each identity call");
        }
    }
    pthread_mutex_unlock(&once);
}

void gw__idp_revoke_sid(void *arg, const char *sid)
{
    int *n = arg;
    (*n)++;
    (void)gw_revoked_add(gw_revoked_key(sid), (int64_t)time(NULL) +
                                                  (int64_t)(gw__idp.ic.access_ttl_ms / 1000) +
                                                  GW__IDP_REVOKE_MARGIN_S);
}

/* ---- the thread pool ------------------------------------------------------------------------- */

static void on_work(uv_work_t *w)
{
    struct gw_idp_call *c = w->data;
    struct gw_idp_input *in = malloc(sizeof *in);
    const char *field, *why;
    if (in == NULL) {
        gw__idp_fail(c, GW_ENOMEM, NULL, NULL);
        return;
    }
    gw__idp_revocations_load(); /* when the store was not there at start */
    enum gw_idp_endpoint ep = c->ep == GW_IDP_EP_ACCOUNT ? GW_IDP_EP_LOGIN : c->ep;
    if (gw_idp_parse(ep, c->body, c->len, in, &field, &why) != 0) {
        gw__idp_fail(c, GW_EIDINPUT, field, why);
    } else {
        switch (c->ep) {
        case GW_IDP_EP_REGISTER:
            gw__idp_do_register(c, in);
            break;
        case GW_IDP_EP_LOGIN:
            gw__idp_do_login(c, in);
            break;
        case GW_IDP_EP_ACCOUNT:
            gw__idp_do_account(c, in);
            break;
        case GW_IDP_EP_REFRESH:
            gw__idp_do_refresh(c, in);
            break;
        case GW_IDP_EP_LOGOUT:
            gw__idp_do_logout(c, in);
            break;
        case GW_IDP_EP_PASSWORD:
            gw__idp_do_password(c, in);
            break;
        case GW_IDP_EP_TOTP_ENROL:
            gw__idp_do_totp_enrol(c, in);
            break;
        case GW_IDP_EP_TOTP_CONFIRM:
            gw__idp_do_totp_confirm(c, in);
            break;
        case GW_IDP_EP_TOTP_DISABLE:
            gw__idp_do_totp_disable(c, in);
            break;
        default:
            gw__idp_do_me(c);
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
        gw__idp_fail(c, GW_ENOMEM, NULL, NULL);
    if (c->cb)
        c->cb(c->arg, &c->res);
    call_free(c);
}

int gw_idp_call_start(uv_loop_t *loop, const struct gw_config *cfg, enum gw_idp_endpoint ep,
                      const char *body, size_t len, const char *bearer, size_t bearer_len,
                      const char *client, gw_idp_cb cb, void *arg, struct gw_idp_call **out)
{
    *out = NULL;
    if (!gw__idp.started || cfg->identity.keyring == NULL)
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
