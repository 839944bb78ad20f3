/*
 * Authentication and authorization of a routed request (the first policy of the chain).
 *
 * Order: a public path skips everything; the service's rule with the longest matching prefix
 * (or the service itself) says what is required; the credentials are read — an API key (header,
 * or query parameter when enabled) or a bearer token (a JWT verified with the configured keys and
 * the JWKS key set, or an opaque token checked by RFC 7662 introspection); then roles (any one)
 * and permissions (all). The outcome is r->identity, sent upstream as identity headers by
 * upstream/rewrite.c, which also strips any the client sent.
 *
 * Everything happens on the request path without blocking: a verified token is cached (keyed by
 * its SHA-256, never outliving its exp), and an introspection runs asynchronously on the
 * worker's loop (the request is suspended until the answer or the timeout). Reasons are logged
 * with the request id; a token never is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "audit/audit.h"
#include "control/snapshot-t.h"
#include "core/base64url.h"
#include "core/error.h"
#include "core/log.h"
#include "http1/upgrade.h"
#include "metrics/metrics.h"
#include "net/fetch.h"
#include "policy/apikey.h"
#include "policy/chain.h"
#include "policy/client_addr.h"
#include "policy/introspect.h"
#include "policy/jwks_fetch.h"
#include "policy/policy.h"
#include "policy/stages.h"
#include "runtime/server-t.h"
#include "runtime/worker-t.h"
#include "state/revoked.h"
#include "state/token_cache.h"
#include "tls/peer_name.h"

/* ---- state and answers ------------------------------------------------------------------------
 */

struct introspection;

/* Per-request state (the chain's slot). */
struct auth_state {
    struct gw_request *r;
    struct introspection *op; /* introspection in flight */
    struct gw_list jwks_link; /* in the worker's JWKS waiters while waiting for a refresh */
    uint64_t jwks_wait_since; /* uv_now when it started waiting (0: not waiting) */
    bool jwks_retried;        /* already waited once: an unknown kid now is final */
    bool passed;              /* an async check let the request through: the stage is done */
    uint8_t mx_method;        /* the credential presented (metrics: GW_MX_AUTH_*) */
    char reason[160];         /* why a 401: the answer's "reason" */
    char challenge[288];      /* the WWW-Authenticate line of a 401 (why is at most 159) */
};
_Static_assert(sizeof(struct auth_state) <= GW_STAGE_STATE_MAX, "auth state too large");

/* The outcome of the auth stage in the service's row of the metrics. */
static void mx_auth(struct gw_request *r, unsigned outcome)
{
    if (r->mx == NULL)
        return;
    const struct auth_state *st = r->slot[GW_STAGE_AUTH];
    unsigned method = st ? st->mx_method : GW_MX_AUTH_NONE;
    gw_mx_service_inc(r->mx, (size_t)(r->svc - r->snap->services),
                      GW_MX_S_AUTH + method * GW_MX_AUTH_OUTCOMES + outcome);
}

/* Why a 401, as a metrics label. */
static unsigned mx_401_reason(int err)
{
    switch (err) {
    case GW_EAUTHMISSING:
        return GW_MX_AUTH_401_MISSING;
    case GW_EJWTMALFORMED:
        return GW_MX_AUTH_401_MALFORMED;
    case GW_EAPIKEY:
        return GW_MX_AUTH_401_INVALID_KEY;
    case GW_EJWTSIG:
    case GW_EJWTALG:
    case GW_EJWTKID:
        return GW_MX_AUTH_401_SIGNATURE;
    case GW_EJWTEXPIRED:
    case GW_EJWTNOTYET:
        return GW_MX_AUTH_401_EXPIRED;
    case GW_EJWTISS:
    case GW_EJWTAUD:
    case GW_EJWTCLAIM:
        return GW_MX_AUTH_401_CLAIMS;
    case GW_ETOKENINACTIVE:
        return GW_MX_AUTH_401_INACTIVE;
    default:
        return GW_MX_AUTH_401_OTHER;
    }
}

static void answer_401(struct gw_request *r, struct auth_state *st, int err, const char *why,
                       struct gw_answer *a)
{
    mx_auth(r, mx_401_reason(err));
    const struct gw_service_auth_conf *ac = &r->svc->conf->auth;
    /* RFC 6750 3: the challenge of the Bearer scheme; API keys have no registered scheme, so
     * a service that takes only API keys names the header to use instead. */
    if ((ac->methods & (GW_AUTH_JWT | GW_AUTH_INTROSPECTION)) && err == GW_EAUTHMISSING)
        /* RFC 6750 3.1: "If the request lacks any authentication information ..., the
         * resource server SHOULD NOT include an error code or other error information." */
        snprintf(st->challenge, sizeof st->challenge,
                 "WWW-Authenticate: Bearer realm=\"gantry\"\r\n");
    else if (ac->methods & (GW_AUTH_JWT | GW_AUTH_INTROSPECTION))
        snprintf(st->challenge, sizeof st->challenge,
                 "WWW-Authenticate: Bearer realm=\"gantry\", error=\"invalid_token\", "
                 "error_description=\"%s\"\r\n",
                 why);
    else
        snprintf(st->challenge, sizeof st->challenge,
                 "WWW-Authenticate: ApiKey realm=\"gantry\", header=\"%s\"\r\n",
                 r->snap->cfg->auth.api_key_header);
    atomic_fetch_add_explicit(&r->snap->policy->shared->auth_failed, 1, memory_order_relaxed);
    gw_log_info("request %s: %s %s: authentication failed: %s", r->id, r->method, r->path, why);
    snprintf(st->reason, sizeof st->reason, "%s", why); /* why may live on the caller's stack */
    gw_answer_init(a, err);
    a->status = 401; /* whatever err is: the credentials did not authenticate */
    a->reason = st->reason;
    a->headers = st->challenge;
}

static void answer_403(struct gw_request *r, const char *why, struct gw_answer *a)
{
    atomic_fetch_add_explicit(&r->snap->policy->shared->auth_forbidden, 1, memory_order_relaxed);
    mx_auth(r, GW_MX_AUTH_FORBIDDEN);
    gw_log_info("request %s: %s %s: forbidden for %s: %s", r->id, r->method, r->path,
                r->identity.user ? r->identity.user : "?", why);
    gw_answer_init(a, GW_EFORBIDDEN);
    a->reason = why;
    a->headers = "WWW-Authenticate: Bearer realm=\"gantry\", error=\"insufficient_scope\"\r\n";
}

/* ---- requirements ------------------------------------------------------------------------------
 */

struct needs {
    bool required;
    char *const *roles;
    size_t nroles;
    char *const *perms;
    size_t nperms;
};

static bool is_public(const struct gw_request *r, const struct gw_service_auth_conf *ac)
{
    for (size_t i = 0; i < ac->npublic_paths; i++) {
        if (gw_policy_path_under(r->npath, r->npath_len, ac->public_paths[i]))
            return true;
    }
    return false;
}

/* The service's requirements, or those of its rule with the longest matching prefix. */
static void requirements(const struct gw_request *r, const struct gw_service_auth_conf *ac,
                         struct needs *n)
{
    n->required = ac->required;
    n->roles = ac->roles;
    n->nroles = ac->nroles;
    n->perms = ac->permissions;
    n->nperms = ac->npermissions;
    size_t best = 0;
    bool found = false;
    for (size_t i = 0; i < ac->nrules; i++) {
        const struct gw_auth_rule_conf *rule = &ac->rules[i];
        if (!gw_policy_match(&rule->match, r->npath, r->npath_len, r->msg.method_id))
            continue;
        size_t len = 0;
        for (size_t k = 0; k < rule->match.nprefixes; k++) {
            if (gw_policy_path_under(r->npath, r->npath_len, rule->match.prefixes[k]) &&
                strlen(rule->match.prefixes[k]) > len)
                len = strlen(rule->match.prefixes[k]);
        }
        if (found && len <= best)
            continue;
        found = true;
        best = len;
        n->required = rule->required;
        n->roles = rule->roles;
        n->nroles = rule->nroles;
        n->perms = rule->permissions;
        n->nperms = rule->npermissions;
    }
}

/* Roles: any one of them; permissions: all of them. NULL when allowed, else why not. */
static const char *authorize(const struct gw_identity *id, const struct needs *n)
{
    if (n->nroles) {
        bool any = false;
        for (size_t i = 0; i < n->nroles && !any; i++)
            any = id->roles && gw_jwt_list_has(id->roles, n->roles[i]);
        if (!any)
            return "missing a required role";
    }
    for (size_t i = 0; i < n->nperms; i++) {
        if (!id->perms || !gw_jwt_list_has(id->perms, n->perms[i]))
            return "missing a required permission";
    }
    return NULL;
}

/* ---- credentials -------------------------------------------------------------------------------
 */

/* A WebSocket handshake's token from where the service's websocket section says: the
 * token_query parameter, else the first Sec-WebSocket-Protocol entry starting with
 * token_protocol. 1 with the token, else 0. */
static int handshake_token(const struct gw_request *r, const char **tok, size_t *len)
{
    const struct gw_websocket_conf *wc = &r->svc->conf->websocket;
    if (wc->token_query && gw_http1_query_param(r->query, r->query_len, wc->token_query, tok, len))
        return 1;
    if (!wc->token_protocol)
        return 0;
    const struct gw_http1_message *m = &r->msg;
    size_t pl = strlen(wc->token_protocol);
    for (uint32_t i = 0; i < m->num_headers; i++) {
        const struct gw_http1_header *h = &m->headers[i];
        if (h->name_len != 22 || strncasecmp(h->name, "sec-websocket-protocol", 22) != 0)
            continue;
        const char *p = h->value, *end = h->value + h->value_len;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
                p++;
            const char *s = p;
            while (p < end && *p != ',' && *p != ' ' && *p != '\t')
                p++;
            if ((size_t)(p - s) > pl && memcmp(s, wc->token_protocol, pl) == 0) {
                *tok = s + pl;
                *len = (size_t)(p - s) - pl;
                return 1;
            }
        }
    }
    return 0;
}

/* The bearer token of the Authorization header: 0 and the token, 1 when there is none (or it
 * uses another scheme), or a negative code when the header is malformed or repeated. */
static int bearer_token(const struct gw_request *r, const char **tok, size_t *len)
{
    const struct gw_http1_message *m = &r->msg;
    int found = -1;
    for (uint32_t i = 0; i < m->num_headers; i++) {
        if (m->headers[i].name_len == 13 &&
            strncasecmp(m->headers[i].name, "authorization", 13) == 0) {
            if (found >= 0)
                return GW_EJWTMALFORMED;
            found = (int)i;
        }
    }
    const char *v;
    size_t n, a = 7;
    if (found >= 0) {
        v = m->headers[found].value;
        n = m->headers[found].value_len;
        if (n < 7 || strncasecmp(v, "bearer ", 7) != 0)
            return 1;
    } else if (r->upgrade == GW_UPGRADE_WEBSOCKET && handshake_token(r, &v, &n)) {
        /* A browser cannot set Authorization on a WebSocket handshake: the token may come in
         * the service's websocket.token_query parameter or a Sec-WebSocket-Protocol entry
         * instead, on handshakes only. */
        a = 0;
    } else {
        return 1;
    }
    while (a < n && v[a] == ' ')
        a++;
    if (a == n)
        return GW_EJWTMALFORMED;
    /* RFC 6750 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
    for (size_t i = a; i < n; i++) {
        char c = v[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  strchr("-._~+/=", c) != NULL;
        if (!ok)
            return GW_EJWTMALFORMED;
    }
    *tok = v + a;
    *len = n - a;
    return 0;
}

/* The API key from the configured header, or the query parameter when enabled. 0 / 1 (none). */
static int api_key(const struct gw_request *r, const char **key, size_t *len)
{
    const struct gw_config *cfg = r->snap->cfg;
    int i =
        gw_http1_find_header(&r->msg, cfg->auth.api_key_header, strlen(cfg->auth.api_key_header));
    if (i >= 0) {
        *key = r->msg.headers[i].value;
        *len = r->msg.headers[i].value_len;
        return 0;
    }
    if (cfg->auth.api_key_query == NULL || r->query_len < 2)
        return 1;
    size_t nl = strlen(cfg->auth.api_key_query);
    const char *q = r->query + 1; /* past '?' */
    const char *end = r->query + r->query_len;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *pe = amp ? amp : end;
        if ((size_t)(pe - q) > nl && memcmp(q, cfg->auth.api_key_query, nl) == 0 && q[nl] == '=') {
            *key = q + nl + 1;
            *len = (size_t)(pe - q - (ptrdiff_t)nl - 1);
            return 0;
        }
        q = pe + 1;
    }
    return 1;
}

static int set_string(char **dst, const char *s)
{
    free(*dst);
    *dst = NULL;
    if (s == NULL || s[0] == '\0')
        return 0;
    *dst = strdup(s);
    return *dst ? 0 : GW_ENOMEM;
}

/* A consumer's identity: consumer and user are its id. */
static int consumer_identity(const struct gw_request *r, size_t idx, struct gw_identity *id)
{
    const struct gw_policy *p = r->snap->policy;
    const struct gw_consumer_conf *c = &r->snap->cfg->auth.consumers[idx];
    int rc = set_string(&id->consumer, c->id);
    rc |= set_string(&id->user, c->id);
    rc |= set_string(&id->roles, p->consumer_roles[idx]);
    rc |= set_string(&id->perms, p->consumer_perms[idx]);
    id->exp = 0;
    return rc ? GW_ENOMEM : 0;
}

/* Whether the request's verified client certificate is want: its subject exactly, or one of its
 * subject alternative names ("email:alice@example.com"), matched by type and exact bytes. */
static bool cert_is(const struct gw_request *r, const char *want)
{
    if (r->client_subject && strcmp(r->client_subject, want) == 0)
        return true;
    return gw_tls_san_has(r->client_san, want);
}

/* The consumer whose "certificates" name the request's client certificate (the first one). */
static bool cert_consumer(const struct gw_request *r, size_t *idx)
{
    const struct gw_config *cfg = r->snap->cfg;
    for (size_t i = 0; i < cfg->auth.nconsumers; i++) {
        const struct gw_consumer_conf *c = &cfg->auth.consumers[i];
        for (size_t k = 0; k < c->ncertificates; k++) {
            if (cert_is(r, c->certificates[k])) {
                *idx = i;
                return true;
            }
        }
    }
    return false;
}

/* The identity a verified token's claims establish: the user is "sub"; the consumer is the
 * configured consumer of that id, when there is one. */
static int claims_identity(const struct gw_request *r, const struct gw_jwt_claims *cl,
                           struct gw_identity *id)
{
    const struct gw_config *cfg = r->snap->cfg;
    int rc = set_string(&id->user, cl->sub);
    rc |= set_string(&id->roles, cl->roles);
    rc |= set_string(&id->perms, cl->perms);
    for (size_t i = 0; cl->sub[0] && i < cfg->auth.nconsumers; i++) {
        if (strcmp(cfg->auth.consumers[i].id, cl->sub) == 0) {
            rc |= set_string(&id->consumer, cl->sub);
            break;
        }
    }
    id->exp = cl->has_exp ? cl->exp : 0;
    id->jti_key = cl->jti_key;
    id->sid_key = cl->sid_key;
    return rc ? GW_ENOMEM : 0;
}

/* How long a verified identity may be cached: never past exp, never longer than max_ttl. */
static uint64_t cache_until(int64_t exp, uint64_t ttl_ms)
{
    uint64_t now = uv_hrtime() / 1000;
    uint64_t until = now + ttl_ms * 1000;
    if (exp > 0) {
        int64_t left = exp - (int64_t)time(NULL);
        if (left <= 0)
            return 0;
        uint64_t e = now + (uint64_t)left * 1000000;
        if (e < until)
            until = e;
    }
    return until;
}

static bool looks_like_jwt(const char *t, size_t n)
{
    const char *d1 = memchr(t, '.', n);
    return d1 && memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - t)) != NULL;
}

/* verify_jwt's answer when the token's kid is unknown and a JWKS refresh may bring it. */
#define WAIT_FOR_JWKS 1

static int verify_jwt(struct gw_request *r, struct auth_state *st, const char *tok, size_t len,
                      struct gw_jwt_claims *cl)
{
    const struct gw_policy *p = r->snap->policy;
    const struct gw_config *cfg = r->snap->cfg;
    int64_t now = (int64_t)time(NULL);
    int rc = GW_EJWTKID;
    if (cfg->auth.njwt_keys)
        rc = gw_jwt_verify(tok, len, cfg->auth.jwt_keys, cfg->auth.njwt_keys, &p->jwt_policy, now,
                           cl);
    struct gw_keyset *ks = r->w->jwks;
    if (rc != 0 && rc != GW_EJWTEXPIRED && rc != GW_EJWTNOTYET && ks && ks->nkeys &&
        cfg->auth.jwks_url)
        rc = gw_jwt_verify(tok, len, ks->keys, ks->nkeys, &p->jwt_policy, now, cl);
    if (rc == GW_EJWTKID && cfg->auth.jwks_url && !st->jwks_retried &&
        gw_jwks_want_refresh(r->w->server->jwks))
        return WAIT_FOR_JWKS;
    if (rc != 0)
        return rc;
    rc = claims_identity(r, cl, &r->identity);
    if (rc == 0 && p->jwt_tokens) {
        uint64_t until = cache_until(r->identity.exp, cfg->auth.cache_ttl_ms);
        if (until)
            gw_token_cache_put(p->jwt_tokens, tok, len, &r->identity, until);
    }
    return rc;
}

/* Authenticated: authorize. CONTINUE, or RESPOND with a 403 in *a. */
static enum gw_stage_result authorized(struct gw_request *r, struct gw_answer *a)
{
    struct needs n;
    requirements(r, &r->svc->conf->auth, &n);
    const char *why = authorize(&r->identity, &n);
    if (why) {
        answer_403(r, why, a);
        return GW_STAGE_RESPOND;
    }
    r->authenticated = true;
    atomic_fetch_add_explicit(&r->snap->policy->shared->auth_ok, 1, memory_order_relaxed);
    mx_auth(r, GW_MX_AUTH_OK);
    if (r->consumer == 0 && r->mx && r->svc->conf->metrics_consumers) {
        /* The consumer label (only on services that ask for it): the configured consumer. */
        const struct gw_config *cfg = r->snap->cfg;
        r->consumer = UINT32_MAX;
        for (size_t i = 0; r->identity.consumer && i < cfg->auth.nconsumers; i++) {
            if (strcmp(cfg->auth.consumers[i].id, r->identity.consumer) == 0) {
                r->consumer = (uint32_t)i + 1;
                break;
            }
        }
    }
    return GW_STAGE_CONTINUE;
}

/* ---- introspection -----------------------------------------------------------------------------
 */

struct introspection {
    struct gw_request *r; /* the request (cancel frees this before the request goes) */
    struct gw_fetch *fetch;
    char *token; /* for the cache key; freed with this */
    size_t len;
};

/* The introspection's verdict for r: RESPOND with *a, or CONTINUE. */
static enum gw_stage_result introspected(struct gw_request *r, struct auth_state *st,
                                         struct introspection *in, int err,
                                         const struct gw_fetch_resp *resp, struct gw_answer *a)
{
    const struct gw_config *cfg = r->snap->cfg;
    const struct gw_policy *p = r->snap->policy;
    if (err != 0 || resp->status != 200) {
        gw_log_warn("request %s: token introspection at %s failed: %s", r->id,
                    cfg->auth.introspection_url,
                    err != 0 ? (resp && resp->why && resp->why[0] ? resp->why : gw_strerror(err))
                             : "unexpected status");
        mx_auth(r, GW_MX_AUTH_INTROSPECTION_FAILED);
        gw_answer_init(a, GW_EINTROSPECT);
        a->status = (int)cfg->auth.introspection_failure_status;
        a->retry_after = 1;
        return GW_STAGE_RESPOND;
    }
    struct gw_jwt_claims cl;
    int rc = gw_introspect_parse(resp->body, resp->body_len, &p->jwt_policy.roles,
                                 &p->jwt_policy.perms, &cl);
    if (rc == GW_ETOKENINACTIVE) {
        if (p->introspected)
            gw_token_cache_put(p->introspected, in->token, in->len, NULL,
                               uv_hrtime() / 1000 + cfg->auth.introspection_neg_ttl_ms * 1000);
        answer_401(r, st, GW_ETOKENINACTIVE, "token is not active", a);
        return GW_STAGE_RESPOND;
    }
    if (rc != 0) {
        answer_401(r, st, rc, "the authentication service gave an unusable answer", a);
        return GW_STAGE_RESPOND;
    }
    if (cl.has_exp && cl.exp <= (int64_t)time(NULL)) {
        answer_401(r, st, GW_EJWTEXPIRED, "token expired", a);
        return GW_STAGE_RESPOND;
    }
    if (claims_identity(r, &cl, &r->identity) != 0) {
        gw_answer_init(a, GW_ENOMEM);
        return GW_STAGE_RESPOND;
    }
    if (p->introspected) {
        uint64_t until = cache_until(r->identity.exp, cfg->auth.introspection_ttl_ms);
        if (until)
            gw_token_cache_put(p->introspected, in->token, in->len, &r->identity, until);
    }
    return authorized(r, a);
}

static void on_introspected(void *arg, int err, const struct gw_fetch_resp *resp)
{
    struct introspection *in = arg;
    struct gw_request *r = in->r;
    if (r != NULL) {
        struct auth_state *st = r->slot[GW_STAGE_AUTH];
        struct gw_answer a;
        st->op = NULL;
        if (introspected(r, st, in, err, resp, &a) == GW_STAGE_RESPOND) {
            gw_policy_respond(r, &a);
        } else {
            st->passed = true;
            gw_policy_resume(r);
        }
    }
    free(in->token);
    free(in);
}

static enum gw_stage_result introspect(struct gw_request *r, struct auth_state *st, const char *tok,
                                       size_t len, struct gw_answer *a)
{
    const struct gw_config *cfg = r->snap->cfg;
    char *body = NULL;
    size_t body_len = 0;
    char headers[1024];
    struct introspection *in = calloc(1, sizeof *in);
    if (in == NULL || gw_introspect_body(tok, len, &body, &body_len) != 0)
        goto fail;
    in->token = malloc(len);
    if (in->token == NULL)
        goto fail;
    memcpy(in->token, tok, len);
    in->len = len;
    int hn = snprintf(headers, sizeof headers,
                      "Content-Type: application/x-www-form-urlencoded\r\nAccept: "
                      "application/json\r\nX-Request-ID: %s\r\n",
                      r->id);
    if (cfg->auth.introspection_client_id) {
        /* RFC 7662 2.1 + RFC 6749 2.3.1: HTTP Basic with the client's credentials. */
        char cred[512], b64[700];
        int cn = snprintf(
            cred, sizeof cred, "%s:%s", cfg->auth.introspection_client_id,
            cfg->auth.introspection_client_secret ? cfg->auth.introspection_client_secret : "");
        static const char tbl[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t k = 0;
        for (int i = 0; i < cn && (size_t)cn < sizeof cred; i += 3) {
            unsigned v = (unsigned char)cred[i] << 16;
            if (i + 1 < cn)
                v |= (unsigned char)cred[i + 1] << 8;
            if (i + 2 < cn)
                v |= (unsigned char)cred[i + 2];
            b64[k++] = tbl[(v >> 18) & 63];
            b64[k++] = tbl[(v >> 12) & 63];
            b64[k++] = i + 1 < cn ? tbl[(v >> 6) & 63] : '=';
            b64[k++] = i + 2 < cn ? tbl[v & 63] : '=';
        }
        b64[k] = '\0';
        snprintf(headers + hn, sizeof headers - (size_t)hn, "Authorization: Basic %s\r\n", b64);
    }
    struct gw_fetch_req req = {
        .url = cfg->auth.introspection_url,
        .method = "POST",
        .headers = headers,
        .body = body,
        .body_len = body_len,
        .timeout_ms = cfg->auth.introspection_timeout_ms,
        .max_body = 65536,
    };
    in->r = r;
    if (gw_fetch_start(&r->w->loop, &req, on_introspected, in, &in->fetch) != 0)
        goto fail;
    free(body);
    st->op = in;
    return GW_STAGE_SUSPEND;
fail:
    free(body);
    if (in)
        free(in->token);
    free(in);
    mx_auth(r, GW_MX_AUTH_INTROSPECTION_FAILED);
    gw_answer_init(a, GW_EINTROSPECT);
    return GW_STAGE_RESPOND;
}

/* ---- JWKS waits --------------------------------------------------------------------------------
 */

void gw_auth_jwks_refreshed(struct gw_worker *w, bool only_overdue)
{
    struct gw_list ready;
    gw_list_init(&ready);
    uint64_t now = uv_now(&w->loop);
    struct gw_list *it = w->jwks_waiters.next;
    while (it != &w->jwks_waiters) {
        struct auth_state *st = gw_container_of(it, struct auth_state, jwks_link);
        it = it->next;
        /* The fetch has its own timeout, so a refresh always answers; the sweep only catches
         * a request that asked just as a refresh finished. */
        if (only_overdue &&
            now - st->jwks_wait_since < st->r->snap->cfg->auth.jwks_timeout_ms + 1000)
            continue;
        gw_list_remove(&st->jwks_link);
        gw_list_insert_tail(&ready, &st->jwks_link);
    }
    while (!gw_list_empty(&ready)) {
        struct auth_state *st = gw_container_of(ready.next, struct auth_state, jwks_link);
        gw_list_remove(&st->jwks_link);
        gw_list_init(&st->jwks_link);
        st->jwks_wait_since = 0;
        gw_policy_resume(st->r); /* the auth stage again: an unknown kid is final now */
    }
}

void gw_auth_cancel(struct gw_request *r, void *slot)
{
    struct auth_state *st = slot;
    (void)r;
    if (st->jwks_wait_since) {
        gw_list_remove(&st->jwks_link);
        gw_list_init(&st->jwks_link);
        st->jwks_wait_since = 0;
    }
    struct introspection *in = st->op;
    if (in == NULL)
        return;
    st->op = NULL;
    gw_fetch_cancel(in->fetch);
    free(in->token);
    free(in);
}

/* ---- the stage ---------------------------------------------------------------------------------
 */

/* A logout or a revoked session (built-in identity) named the token's jti or sid: 0,
 * GW_EJWTREVOKED, or GW_EIDREVOCATIONS (the set is in doubt and identity.revocation's
 * failure_policy is fail_closed). While the set is empty and not in doubt (always without
 * built-in identity) this is one relaxed atomic load. */
static int revoked(const struct gw_identity *id)
{
    if (!gw_revoked_any() || (id->jti_key == 0 && id->sid_key == 0))
        return 0;
    return gw_revoked_check(id->jti_key, id->sid_key, (int64_t)time(NULL));
}

/* The answer to a token whose revocation check failed (rc from revoked()). */
static void answer_revoked(struct gw_request *r, struct auth_state *st, int rc, struct gw_answer *a)
{
    if (rc == GW_EJWTREVOKED) {
        answer_401(r, st, GW_EJWTREVOKED, "token revoked", a);
        return;
    }
    /* Not the client's fault: its token may be good, but whether another instance revoked it
     * cannot be known until Redis is back (counted in state/revoked.h's stats). */
    gw_log_info("request %s: %s %s: token revocations cannot be checked (Redis unreachable, "
                "identity.revocation.failure_policy fail_closed)",
                r->id, r->method, r->path);
    gw_answer_init(a, rc);
    a->reason = "whether the token was revoked cannot be checked now";
    a->retry_after = 1;
}

/* A cache hit decides the request: true with *res (CONTINUE after authorization, or RESPOND). */
static bool cached(struct gw_request *r, struct auth_state *st, struct gw_token_cache *c,
                   const char *tok, size_t len, enum gw_stage_result *res, struct gw_answer *a)
{
    if (c == NULL)
        return false;
    int hit = gw_token_cache_get(c, tok, len, uv_hrtime() / 1000, &r->identity);
    if (r->mx) {
        unsigned which = c == r->snap->policy->jwt_tokens ? 0 : 2;
        gw_mx_service_inc(r->mx, (size_t)(r->svc - r->snap->services),
                          GW_MX_S_TCACHE + which + (hit == 1 || hit == 2 ? 0 : 1));
    }
    int rc;
    if (hit == 1) {
        if (r->identity.exp > 0 && r->identity.exp <= (int64_t)time(NULL)) {
            answer_401(r, st, GW_EJWTEXPIRED, "token expired", a);
            *res = GW_STAGE_RESPOND;
        } else if ((rc = revoked(&r->identity)) != 0) {
            answer_revoked(r, st, rc, a);
            *res = GW_STAGE_RESPOND;
        } else {
            *res = authorized(r, a);
        }
        return true;
    }
    if (hit == 2) {
        answer_401(r, st, GW_ETOKENINACTIVE, "token is not active", a);
        *res = GW_STAGE_RESPOND;
        return true;
    }
    return false;
}

static enum gw_stage_result introspect_cached(struct gw_request *r, struct auth_state *st,
                                              const char *tok, size_t len, struct gw_answer *a)
{
    enum gw_stage_result res;
    if (cached(r, st, r->snap->policy->introspected, tok, len, &res, a))
        return res;
    return introspect(r, st, tok, len, a);
}

bool gw_auth_applies(const struct gw_snapshot *s, size_t i)
{
    return (s->policy && s->policy->shared && s->services[i].conf->auth.enabled) ||
           s->services[i].conf->client_cert.enabled;
}

enum gw_stage_result gw_auth_on_request(struct gw_request *r, void **slot, struct gw_answer *a)
{
    const struct gw_service_auth_conf *ac = &r->svc->conf->auth;
    const struct gw_policy *p = r->snap->policy;
    if (r->svc->conf->client_cert.enabled && *slot == NULL) {
        /* Before any credential: the certificate comes with the connection. (With state taken,
         * this is a resumption after an introspection: checked already.) */
        enum gw_stage_result res = gw_client_cert_on_request(r, a);
        if (res != GW_STAGE_CONTINUE)
            return res;
    }
    if (!ac->enabled || p == NULL || is_public(r, ac))
        return GW_STAGE_CONTINUE;
    struct auth_state *st = *slot;
    if (st == NULL) {
        st = *slot = gw_stage_alloc(r, sizeof *st);
        if (st == NULL) {
            gw_answer_init(a, GW_ENOMEM);
            return GW_STAGE_RESPOND;
        }
        st->r = r;
        gw_list_init(&st->jwks_link);
    }
    if (st->passed)
        return GW_STAGE_CONTINUE; /* an introspection let it through */
    struct needs n;
    requirements(r, ac, &n);
    const char *tok = NULL, *key = NULL;
    size_t tok_len = 0, key_len = 0;
    if ((ac->methods & GW_AUTH_MTLS) && r->client_subject) {
        /* A verified client certificate that names a consumer identifies the request before
         * any header is looked at. One that names none leaves the other methods to decide. */
        size_t idx;
        if (cert_consumer(r, &idx)) {
            st->mx_method = GW_MX_AUTH_MTLS;
            r->consumer = (uint32_t)idx + 1;
            if (consumer_identity(r, idx, &r->identity) != 0) {
                gw_answer_init(a, GW_ENOMEM);
                return GW_STAGE_RESPOND;
            }
            return authorized(r, a);
        }
        if (ac->methods == GW_AUTH_MTLS) {
            answer_401(r, st, GW_EAUTHMISSING, "the client certificate names no consumer", a);
            return GW_STAGE_RESPOND;
        }
    }
    int has_key = (ac->methods & GW_AUTH_API_KEY) ? api_key(r, &key, &key_len) : 1;
    int has_tok =
        (ac->methods & (GW_AUTH_JWT | GW_AUTH_INTROSPECTION)) ? bearer_token(r, &tok, &tok_len) : 1;
    if (has_tok < 0) {
        answer_401(r, st, has_tok, "malformed Authorization header", a);
        return GW_STAGE_RESPOND;
    }
    if (has_key == 0) {
        uint32_t idx;
        st->mx_method = GW_MX_AUTH_APIKEY;
        if (p->apikeys == NULL || gw_apikey_table_lookup(p->apikeys, key, key_len, &idx) != 0) {
            answer_401(r, st, GW_EAPIKEY, "invalid API key", a);
            return GW_STAGE_RESPOND;
        }
        r->consumer = idx + 1;
        if (consumer_identity(r, idx, &r->identity) != 0) {
            gw_answer_init(a, GW_ENOMEM);
            return GW_STAGE_RESPOND;
        }
        if (gw_audit_wants(GW_AUDIT_EV_NEW_ADDRESS)) {
            gw_policy_client_ip(r);
            gw_audit_key_used(r->identity.consumer, r->client_ip);
        }
        return authorized(r, a);
    }
    if (has_tok != 0) {
        if (!n.required)
            return GW_STAGE_CONTINUE;
        answer_401(r, st, GW_EAUTHMISSING,
                   ac->methods & (GW_AUTH_JWT | GW_AUTH_INTROSPECTION) ? "missing bearer token"
                                                                       : "missing API key",
                   a);
        return GW_STAGE_RESPOND;
    }
    bool jwt = (ac->methods & GW_AUTH_JWT) && looks_like_jwt(tok, tok_len);
    st->mx_method = jwt ? GW_MX_AUTH_JWT : GW_MX_AUTH_INTROSPECTION;
    if (jwt) {
        enum gw_stage_result res;
        if (cached(r, st, p->jwt_tokens, tok, tok_len, &res, a))
            return res;
    } else if (ac->methods & GW_AUTH_INTROSPECTION) {
        return introspect_cached(r, st, tok, tok_len, a);
    }
    struct gw_jwt_claims cl;
    int rc = verify_jwt(r, st, tok, tok_len, &cl);
    if (rc == WAIT_FOR_JWKS) {
        /* Held (not refused) until the control thread's refresh answers: a key rotation is
         * invisible to clients. The worker resumes it (the chain runs this stage again). */
        struct gw_worker *w = r->w;
        st->jwks_retried = true;
        st->jwks_wait_since = uv_now(&w->loop);
        gw_list_insert_tail(&w->jwks_waiters, &st->jwks_link);
        return GW_STAGE_SUSPEND;
    }
    if (rc == GW_ENOMEM) {
        gw_answer_init(a, GW_ENOMEM);
        return GW_STAGE_RESPOND;
    }
    if (rc != 0 && (ac->methods & GW_AUTH_INTROSPECTION) && rc == GW_EJWTMALFORMED) {
        st->mx_method = GW_MX_AUTH_INTROSPECTION;
        return introspect_cached(r, st, tok, tok_len, a);
    }
    if (rc != 0) {
        char why[160];
        answer_401(r, st, rc, gw_jwt_reason(rc, &cl, why, sizeof why), a);
        return GW_STAGE_RESPOND;
    }
    rc = revoked(&r->identity);
    if (rc != 0) {
        answer_revoked(r, st, rc, a);
        return GW_STAGE_RESPOND;
    }
    return authorized(r, a);
}
