/*
 * Built-in identity's endpoints on the proxy port (identity/identity.h): the request's body is
 * read whole (at most GW_IDP_BODY_MAX: with a Content-Length, or chunked, which is also how an
 * HTTP/2 request without content-length arrives: DATA frames until END_STREAM, 413 beyond the
 * cap), handed with the bearer token and the client's address to gw_idp_call_start, whose work
 * runs on libuv's thread pool; the result comes back on this loop and is answered here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn/internal.h"
#include "conn/request-t.h"
#include "control/snapshot-t.h"
#include "core/error.h"
#include "http1/parser.h"
#include "identity/identity.h"
#include "policy/chain.h"
#include "policy/client_addr.h"
#include "policy/jwt_signer.h"
#include "runtime/worker-t.h"

struct gw_idp_serve {
    enum gw_idp_endpoint ep;
    char *body;
    size_t len, want;
    char *bearer; /* the Authorization header's bearer token, or NULL */
    size_t bearer_len;
    struct gw_idp_call *call; /* in flight, or NULL */
    struct gw_idp_gate *gate; /* a login's throttle decision in flight, or NULL */
    char field[48];           /* an error answer's "field" member */
    bool chunked;             /* the body is chunked (dec decodes it) */
    bool continued;           /* "100 Continue" was sent */
    struct gw_chunked_decoder dec;
};

void gw__idp_serve_free(struct gw_request *r)
{
    struct gw_idp_serve *st = r->idp;
    if (st == NULL)
        return;
    gw_idp_call_cancel(st->call);
    gw_idp_gate_cancel(st->gate);
    free(st->body);
    free(st->bearer);
    free(st);
    r->idp = NULL;
}

/* The header lines of an error answer: no caching, and for a 401 the challenge RFC 9110 15.5.2
 * requires (RFC 6750 3.1: invalid_token when a token was sent). */
static const char *challenge(const struct gw_answer *a, bool bearer_sent)
{
    if (a->status != 401)
        return "Cache-Control: no-store\r\n";
    return bearer_sent ? "Cache-Control: no-store\r\nWWW-Authenticate: Bearer realm=\"gantry\", "
                         "error=\"invalid_token\"\r\n"
                       : "Cache-Control: no-store\r\nWWW-Authenticate: Bearer realm=\"gantry\"\r\n";
}

static void on_result(void *arg, const struct gw_idp_result *res)
{
    struct gw_request *r = arg;
    struct gw_idp_serve *st = r->idp;
    st->call = NULL;
    if (res->err == 0) {
        gw__request_reply(r, res->status, "Cache-Control: no-store\r\n", res->body, res->body_len,
                          false);
        return;
    }
    struct gw_answer a;
    gw_answer_init(&a, res->err);
    a.status = res->status;
    a.reason = res->reason[0] ? res->reason : NULL;
    a.retry_after = res->retry_after;
    a.headers = challenge(&a, st->bearer != NULL);
    if (res->field[0]) {
        /* The field names are the endpoints' member names: plain ASCII, no escaping needed. */
        snprintf(st->field, sizeof st->field, "\"field\":\"%s\"", res->field);
        a.extra = st->field;
    }
    r->ds->respond(r, &a);
}

static void answer_err(struct gw_request *r, int err, const char *reason, bool close)
{
    struct gw_answer a;
    gw_answer_init(&a, err);
    a.reason = reason;
    a.close = close;
    a.headers = challenge(&a, r->idp != NULL && r->idp->bearer != NULL);
    r->ds->respond(r, &a);
}

static const char *client_of(const struct gw_request *r)
{
    return r->client_ip[0] ? r->client_ip : r->peer;
}

static void start_call(struct gw_request *r)
{
    struct gw_idp_serve *st = r->idp;
    int rc = gw_idp_call_start(&r->w->loop, r->snap->cfg, st->ep, st->body, st->len, st->bearer,
                               st->bearer_len, client_of(r), on_result, r, &st->call);
    if (rc < 0)
        answer_err(r, rc, NULL, false);
}

/* A login refused by identity.throttle before any password work: 429 with Retry-After. */
static void throttled(struct gw_request *r, uint32_t retry_after)
{
    struct gw_answer a;
    gw_answer_init(&a, GW_ERATELIMITED);
    a.reason = "too many login attempts for this account or address: try again later";
    a.retry_after = retry_after;
    a.headers = "Cache-Control: no-store\r\n";
    r->ds->respond(r, &a);
}

static void on_gate(void *arg, uint32_t retry_after)
{
    struct gw_request *r = arg;
    r->idp->gate = NULL;
    if (retry_after > 0)
        throttled(r, retry_after);
    else
        start_call(r);
}

/* Decodes what chunked body bytes have come. True once the body is whole; false when more is
 * asked for, or after answering (413 past GW_IDP_BODY_MAX, 400 for broken framing). */
static bool take_chunked(struct gw_request *r)
{
    struct gw_idp_serve *st = r->idp;
    const char *p;
    size_t n = r->ds->body_peek(r, &p);
    size_t used = 0;
    int rc =
        n ? gw_idp_body_dechunk(&st->dec, p, n, &used, st->body, &st->len, GW_IDP_BODY_MAX) : 0;
    r->ds->body_consume(r, used);
    if (rc < 0) {
        answer_err(r, rc, rc == GW_EBODYTOOLARGE ? NULL : "body: malformed chunked framing", true);
        return false;
    }
    if (rc == 1) {
        r->body_done = true;
        return true;
    }
    if (!st->continued && r->msg.expect_continue) {
        st->continued = true;
        if (r->ds->send_continue(r) < 0) {
            r->ds->abort(r);
            return false;
        }
    }
    if (r->ds->body_want(r) < 0)
        r->ds->abort(r);
    return false;
}

/* A login's account is known (identity.throttle): its throttle decision, then the login. */
static void on_account(void *arg, const struct gw_idp_result *res)
{
    struct gw_request *r = arg;
    struct gw_idp_serve *st = r->idp;
    st->call = NULL;
    int rc = 0;
    if (res->err == 0)
        rc = gw_idp_gate_login(r->w->rl_redis, r->snap->cfg, res->body, res->body_len, client_of(r),
                               on_gate, r, &st->gate);
    if (rc == GW_IDP_GATE_PENDING)
        return;
    if (rc > 0)
        throttled(r, (uint32_t)rc);
    else
        start_call(r);
}

/* Takes what body bytes have come; starts the call once they are all there (a login after its
 * throttle's decision). */
void gw__idp_serve_input(struct gw_request *r)
{
    struct gw_idp_serve *st = r->idp;
    if (st->call != NULL || r->body_done)
        return;
    if (st->chunked ? !take_chunked(r) : !gw__request_take_body(r, st->body, &st->len, st->want))
        return;
    if (st->ep == GW_IDP_EP_LOGIN && gw_idp_gate_on()) {
        /* The account first (the store, on the thread pool), so that a username and an email
         * count for one account; then the throttle (on_account), then the login. */
        int rc = gw_idp_call_start(&r->w->loop, r->snap->cfg, GW_IDP_EP_ACCOUNT, st->body, st->len,
                                   NULL, 0, client_of(r), on_account, r, &st->call);
        if (rc < 0)
            answer_err(r, rc, NULL, false);
        return;
    }
    start_call(r);
}

void gw__idp_serve(struct gw_request *r, int ep)
{
    const struct gw_http1_message *m = &r->msg;
    bool get = ep == GW_IDP_EP_ME;
    /* HEAD is GET without the body (RFC 9110 9.3.2): the writer leaves the body out. */
    if (get ? (m->method_id != GW_METHOD_GET && m->method_id != GW_METHOD_HEAD)
            : (m->method_id != GW_METHOD_POST)) {
        struct gw_answer a;
        gw_answer_init(&a, GW_EMETHODNOTALLOWED);
        a.headers = get ? "Allow: GET, HEAD\r\n" : "Allow: POST\r\n";
        r->ds->respond(r, &a);
        return;
    }
    /* A body must say it is JSON: text/plain, a form or a multipart body is what a cross-site
     * page can send without a CORS preflight. A POST without a body (a logout) needs none. */
    if (!get &&
        (m->body == GW_BODY_CHUNKED || (m->body == GW_BODY_LENGTH && m->content_length > 0))) {
        int ct = gw_http1_find_header(m, "content-type", 12);
        if (ct < 0 || !gw_idp_json_media(m->headers[ct].value, m->headers[ct].value_len)) {
            answer_err(r, GW_EIDMEDIA, "the body must be application/json (charset utf-8)", true);
            return;
        }
    }
    if (m->body == GW_BODY_LENGTH && m->content_length > GW_IDP_BODY_MAX) {
        answer_err(r, GW_EBODYTOOLARGE, NULL, true);
        return;
    }
    struct gw_idp_serve *st = calloc(1, sizeof *st);
    bool chunked = m->body == GW_BODY_CHUNKED;
    size_t want = chunked                     ? GW_IDP_BODY_MAX
                  : m->body == GW_BODY_LENGTH ? (size_t)m->content_length
                                              : 0;
    if (st == NULL || (st->body = malloc(want + 1)) == NULL) {
        free(st);
        answer_err(r, GW_ENOMEM, NULL, true);
        return;
    }
    r->idp = st;
    st->ep = (enum gw_idp_endpoint)ep;
    st->want = want;
    st->chunked = chunked;
    if (chunked)
        gw_chunked_init(&st->dec, 0, 0);
    int i = gw_http1_find_header(m, "authorization", 13);
    if (i >= 0 && m->headers[i].value_len > 7 && m->headers[i].value_len < 8192 &&
        strncasecmp(m->headers[i].value, "Bearer ", 7) == 0) {
        st->bearer_len = m->headers[i].value_len - 7;
        st->bearer = malloc(st->bearer_len + 1);
        if (st->bearer == NULL) {
            answer_err(r, GW_ENOMEM, NULL, true);
            return;
        }
        memcpy(st->bearer, m->headers[i].value + 7, st->bearer_len);
        st->bearer[st->bearer_len] = '\0';
    }
    gw_policy_client_ip(r);
    /* Everything needed from the head is copied: its bytes in the input buffer can go, as the
     * proxy lets them go once it built the upstream head. */
    r->head_built = true;
    r->ds->body_consume(r, m->head_len);
    r->body_done = false;
    gw__idp_serve_input(r);
}

void gw__idp_serve_jwks(struct gw_request *r)
{
    const struct gw_identity_conf *ic = &r->snap->cfg->identity;
    const struct gw_jwt_keyring *ring = ic->keyring;
    char headers[128];
    /* RFC 7517 section 8.5's media type; verifiers cache it for jwks.max_age. */
    snprintf(headers, sizeof headers, "Content-Type: application/jwk-set+json\r\n%s",
             ic->jwks_cache_control);
    gw__request_reply(r, 200, headers, ring->jwks, ring->jwks_len, false); /* h1 or h2 */
}
