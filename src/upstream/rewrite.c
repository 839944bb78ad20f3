#include "upstream/rewrite.h"

#include <string.h>
#include <strings.h>

#include "control/snapshot-t.h"
#include "core/error.h"
#include "http1/hygiene.h"
#include "policy/answer.h"
#include "policy/chain.h"
#include "trace/trace.h"

static bool name_is(const struct gw_http1_header *h, const char *lower, size_t n)
{
    return h->name_len == n && strncasecmp(h->name, lower, n) == 0;
}

static int append_header(struct gw_buf *b, const char *name, size_t nlen, const char *value,
                         size_t vlen)
{
    int rc = gw_buf_reserve(b, nlen + vlen + 4);
    if (rc < 0)
        return rc;
    /* through a local pointer: stores through b->data could alias b itself */
    char *p = b->data + b->len;
    memcpy(p, name, nlen);
    p += nlen;
    p[0] = ':';
    p[1] = ' ';
    memcpy(p + 2, value, vlen);
    p += 2 + vlen;
    p[0] = '\r';
    p[1] = '\n';
    b->len = (size_t)(p + 2 - b->data);
    return 0;
}

/* Header names equal when '-' and '_' are taken as the same: a backend behind CGI, WSGI or
 * Rack sees X-User-ID and X_User_ID as the same variable, so a client must not be able to
 * smuggle an identity header in either spelling. */
static bool same_name_loose(const char *a, size_t an, const char *lower)
{
    /* One walk, stopping at the first difference (most names differ at once): no strlen. */
    size_t i = 0;
    for (; i < an && lower[i]; i++) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c == '_')
            c = '-';
        char d = lower[i] == '_' ? '-' : lower[i];
        if (c != d)
            return false;
    }
    return i == an && lower[i] == '\0';
}

/* same_name_loose for a name a[0..an) as long as lower (an > 0): names of one length mostly
 * differ in their last byte (X-Gateway and X-User-ID), which is looked at first. */
static inline bool same_len_name_loose(const char *a, size_t an, const char *lower)
{
    char c = a[an - 1], d = lower[an - 1];
    c = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c == '_' ? '-' : c;
    return c == (d == '_' ? '-' : d) && same_name_loose(a, an, lower);
}

/* An identity header: never taken from the client (gantry sets them after authenticating). */
static bool is_identity_header(const struct gw_config *cfg, const struct gw_http1_header *h)
{
    /* A name of another length cannot match: most headers go after three compares. */
    size_t n = h->name_len;
    return (n == cfg->auth.hdr_consumer_len &&
            same_len_name_loose(h->name, n, cfg->auth.hdr_consumer)) ||
           (n == cfg->auth.hdr_user_len && same_len_name_loose(h->name, n, cfg->auth.hdr_user)) ||
           (n == cfg->auth.hdr_roles_len && same_len_name_loose(h->name, n, cfg->auth.hdr_roles));
}

/* Writes the identity headers of an authenticated request. Values come from verified tokens or
 * the config; anything that is not a visible ASCII character is dropped so a claim cannot
 * inject a header line. */
static int append_identity(struct gw_buf *b, const struct gw_request *r)
{
    const struct gw_config *cfg = r->snap->cfg;
    const struct {
        const char *name;
        const char *value;
    } hs[] = {{cfg->auth.hdr_consumer, r->identity.consumer},
              {cfg->auth.hdr_user, r->identity.user},
              {cfg->auth.hdr_roles, r->identity.roles}};
    int rc = 0;
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
        if (hs[i].value == NULL || hs[i].value[0] == '\0')
            continue;
        rc |= gw_buf_append_str(b, hs[i].name);
        rc |= gw_buf_append(b, ": ", 2);
        for (const char *p = hs[i].value; *p; p++) {
            if ((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f)
                rc |= gw_buf_append(b, p, 1);
        }
        rc |= gw_buf_append(b, "\r\n", 2);
    }
    return rc;
}

/* The client certificate's subject and SANs (mTLS) under the configured names; only visible
 * ASCII goes out, so a certificate field cannot inject a header line. */
static int append_client_cert(struct gw_buf *b, const struct gw_request *r)
{
    const struct gw_tls_client_auth_conf *ca = &r->snap->cfg->tls.client_auth;
    const char *names[] = {ca->subject_header, ca->san_header};
    const char *values[] = {r->client_subject, r->client_san};
    int rc = 0;
    for (size_t i = 0; i < 2; i++) {
        if (!ca->enabled || !names[i] || !values[i] || !values[i][0])
            continue;
        rc |= gw_buf_append_str(b, names[i]);
        rc |= gw_buf_append(b, ": ", 2);
        for (const char *p = values[i]; *p; p++) {
            if ((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f)
                rc |= gw_buf_append(b, p, 1);
        }
        rc |= gw_buf_append(b, "\r\n", 2);
    }
    return rc;
}

/* The request head's framing field for a body of this kind and length, and the empty line. */
__attribute__((always_inline)) static inline int
request_framing(struct gw_request *r, struct gw_buf *b, enum gw_http1_body body, uint64_t length)
{
    int rc = 0;
    int method = r->msg.method_id;
    if (body == GW_BODY_LENGTH) {
        rc |= gw_buf_append_str(b, "Content-Length: ");
        rc |= gw_buf_append_u64(b, length);
        rc |= gw_buf_append(b, "\r\n", 2);
    } else if (body == GW_BODY_CHUNKED) {
        rc |= gw_buf_append_str(b, "Transfer-Encoding: chunked\r\n");
    } else if (method == GW_METHOD_POST || method == GW_METHOD_PUT || method == GW_METHOD_PATCH) {
        /* RFC 9110 8.6: a user agent SHOULD send Content-Length for a request with no body
         * when the method defines a meaning for an enclosed content. */
        rc |= gw_buf_append_str(b, "Content-Length: 0\r\n");
    }
    rc |= gw_buf_append(b, "\r\n", 2);
    return rc;
}

int gw_rewrite_request_head(struct gw_request *r)
{
    const struct gw_http1_message *m = &r->msg;
    const struct gw_service_conf *sc = r->svc->conf;
    struct gw_buf *b = &r->head;
    struct gw_connection_tokens tokens;
    const struct gw_http1_header *xff[8];
    size_t nxff = 0;
    int rc = 0;

    gw_http1_connection_tokens(m, &tokens);
    if (tokens.overflow)
        return GW_EHDRVALUE;
    gw_buf_reset(b);
    rc |= gw_buf_reserve(b, m->head_len + 512);
    rc |= gw_buf_append(b, m->method, m->method_len);
    rc |= gw_buf_append(b, " ", 1);
    rc |= gw_buf_append(b, r->upath, r->upath_len);
    rc |= gw_buf_append(b, " HTTP/1.1\r\n", 11);

    /* RFC 9112 3.2.2: with an absolute-form target, a proxy ignores the received Host and
     * uses the target's authority, which is also what the request was routed on. */
    struct gw_http1_header authority_host = {0};
    const struct gw_http1_header *client_host =
        m->host_index >= 0 ? &m->headers[m->host_index] : NULL;
    if (r->authority_len) {
        authority_host.value = r->authority;
        authority_host.value_len = (uint32_t)r->authority_len;
        client_host = &authority_host;
    }
    switch (sc->host_mode) {
    case GW_HOST_TARGET:
        rc |= append_header(b, "Host", 4, r->target->conf->authority,
                            strlen(r->target->conf->authority));
        break;
    case GW_HOST_FIXED:
        rc |= append_header(b, "Host", 4, sc->host_value, strlen(sc->host_value));
        break;
    case GW_HOST_CLIENT:
    default:
        if (client_host && client_host->value_len)
            rc |= append_header(b, "Host", 4, client_host->value, client_host->value_len);
        else
            rc |= append_header(b, "Host", 4, r->target->conf->authority,
                                strlen(r->target->conf->authority));
        break;
    }

    /* A registered target's token (registration.token_header) replaces the client's header of
     * that name; it is written here and swapped when a retry goes to another target. */
    r->secret_off = (uint32_t)b->len;
    r->secret_len = 0;
    if (r->target->conf->secret_header) {
        rc |= gw_buf_append(b, r->target->conf->secret_header, r->target->conf->secret_header_len);
        r->secret_len = (uint32_t)r->target->conf->secret_header_len;
    }
    size_t secret_name_len = sc->secret_name_len;
    for (uint32_t i = 0; i < m->num_headers; i++) {
        const struct gw_http1_header *h = &m->headers[i];
        if (gw_http1_drop_on_forward(&tokens, h))
            continue;
        if (secret_name_len && h->name_len == secret_name_len &&
            strncasecmp(h->name, sc->secret_name, secret_name_len) == 0)
            continue;
        if (name_is(h, "host", 4) || name_is(h, "expect", 6) || name_is(h, "x-request-id", 12) ||
            name_is(h, "x-forwarded-proto", 17) || name_is(h, "x-forwarded-host", 16))
            continue;
        if (is_identity_header(r->snap->cfg, h))
            continue;
        /* Tracing replaces the caller's context with gantry's (trace/trace.h). */
        if (r->trace && (name_is(h, "traceparent", 11) || name_is(h, "tracestate", 10)))
            continue;
        /* The client certificate headers are gantry's to set: never the client's. */
        if (r->snap->cfg->tls.client_auth.enabled &&
            (same_name_loose(h->name, h->name_len, r->snap->cfg->tls.client_auth.subject_header) ||
             same_name_loose(h->name, h->name_len, r->snap->cfg->tls.client_auth.san_header)))
            continue;
        if (name_is(h, "x-forwarded-for", 15)) {
            if (nxff < sizeof(xff) / sizeof(xff[0]))
                xff[nxff++] = h;
            continue;
        }
        rc |= append_header(b, h->name, h->name_len, h->value, h->value_len);
    }
    /* Fields a stage adds as ready lines (a constant transformation), after the client's. */
    if (r->fwd_lines)
        rc |= gw_buf_append(b, r->fwd_lines, r->fwd_lines_len);

    /* X-Forwarded-For: every value the client sent (it may be a chain of proxies), then
     * the address we saw. Whoever trusts it must only trust the entries its own proxies
     * appended, from the right. */
    rc |= gw_buf_append_str(b, "X-Forwarded-For: ");
    for (size_t i = 0; i < nxff; i++) {
        if (xff[i]->value_len == 0)
            continue;
        rc |= gw_buf_append(b, xff[i]->value, xff[i]->value_len);
        rc |= gw_buf_append(b, ", ", 2);
    }
    rc |= gw_buf_append_str(b, r->peer[0] ? r->peer : "unknown");
    rc |= gw_buf_append_str(b, r->secure ? "\r\nX-Forwarded-Proto: https\r\n"
                                         : "\r\nX-Forwarded-Proto: http\r\n");
    if (client_host && client_host->value_len)
        rc |= append_header(b, "X-Forwarded-Host", 16, client_host->value, client_host->value_len);
    rc |= append_header(b, "X-Request-ID", 12, r->id, strlen(r->id));
    if (r->authenticated)
        rc |= append_identity(b, r);
    if (r->trace)
        rc |= gw_trace_upstream_headers(r, b);
    if (r->client_subject || r->client_san)
        rc |= append_client_cert(b, r);
    if (r->upgrade) {
        /* The switch the client asked for and the service allows (conn/request.c
         * check_upgrade): its Upgrade goes on, with the Connection option that makes it one
         * (RFC 9110 7.8). */
        int u = gw_http1_find_header(m, "upgrade", 7);
        rc |= gw_buf_append_str(b, "Connection: Upgrade\r\n");
        if (u >= 0)
            rc |= append_header(b, "Upgrade", 7, m->headers[u].value, m->headers[u].value_len);
    }
    if (r->req_filter) {
        /* A stage takes the body whole: the framing waits for its final length. */
        r->req_filter->head_mark = b->len;
        return rc ? GW_ENOMEM : 0;
    }
    rc |= request_framing(r, b, m->body, m->content_length);
    return rc ? GW_ENOMEM : 0;
}

int gw_rewrite_request_target(struct gw_request *r)
{
    const struct gw_target_conf *t = r->target->conf;
    struct gw_buf *b = &r->head;
    size_t old = r->secret_len;
    size_t len = t->secret_header ? t->secret_header_len : 0;
    if (old == len && (len == 0 || memcmp(b->data + r->secret_off, t->secret_header, len) == 0))
        return 0;
    if (len > old && gw_buf_reserve(b, len - old) < 0)
        return GW_ENOMEM;
    char *at = b->data + r->secret_off;
    memmove(at + len, at + old, b->len - r->secret_off - old);
    if (len)
        memcpy(at, t->secret_header, len);
    b->len = b->len - old + len;
    if (r->req_filter && r->req_filter->head_mark > r->secret_off)
        r->req_filter->head_mark = r->req_filter->head_mark - old + len;
    r->secret_len = (uint32_t)len;
    return 0;
}

int gw_rewrite_request_finish(struct gw_request *r, enum gw_http1_body body, uint64_t length)
{
    r->head.len = r->req_filter->head_mark;
    return request_framing(r, &r->head, body, length) ? GW_ENOMEM : 0;
}

static bool all_digits(const char *s, size_t n)
{
    if (n == 0 || n > 19)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* The response head's framing (which also decides r->out and may clear r->keep_alive), the
 * fields gantry adds last, and the empty line. */
__attribute__((always_inline)) static inline int
response_framing(struct gw_request *r, struct gw_buf *b, enum gw_http1_body body, uint64_t length)
{
    const struct gw_http1_message *m = &r->rmsg;
    bool client_10 = r->msg.minor_version == 0;
    int rc = 0;
    switch (body) {
    case GW_BODY_NONE:
        r->out = GW_OUT_NONE;
        break;
    case GW_BODY_LENGTH:
        r->out = GW_OUT_LENGTH;
        r->resp_left = length;
        rc |= gw_buf_append_str(b, "Content-Length: ");
        rc |= gw_buf_append_u64(b, length);
        rc |= gw_buf_append(b, "\r\n", 2);
        break;
    case GW_BODY_CHUNKED:
    case GW_BODY_UNTIL_EOF:
    default:
        /* Unknown length: chunked keeps a 1.1 client's connection; a 1.0 client can only
         * learn the end from the close. */
        if (client_10) {
            r->out = GW_OUT_CLOSE;
            r->keep_alive = false;
        } else {
            r->out = GW_OUT_CHUNKED;
            rc |= gw_buf_append_str(b, "Transfer-Encoding: chunked\r\n");
        }
        break;
    }
    if (body == GW_BODY_NONE && m->status >= 200 && m->status != 204 && m->status != 304 &&
        r->msg.method_id != GW_METHOD_HEAD && gw_http1_find_header(m, "content-length", 14) < 0)
        rc |= gw_buf_append_str(b, "Content-Length: 0\r\n");
    if (!r->msg.keep_alive)
        r->keep_alive = false;
    rc |= append_header(b, "X-Request-ID", 12, r->id, strlen(r->id));
    if (r->sticky_set[0])
        rc |= gw_buf_appendf(b, "Set-Cookie: %s=%s; Path=/; HttpOnly\r\n",
                             r->svc->conf->lb_sticky_cookie, r->sticky_set);
    if (!r->keep_alive)
        rc |= gw_buf_append_str(b, "Connection: close\r\n");
    else if (client_10)
        rc |= gw_buf_append_str(b, "Connection: keep-alive\r\n");
    rc |= gw_buf_append(b, "\r\n", 2);
    return rc;
}

/* Copies the upstream's fields into b, but the framing and hop-by-hop ones and X-Request-ID
 * (gantry sets them), and, with a filter f, those the answer hooks hide or replace (each field
 * f lets through is shown to them: gw_policy_answer_field). Inlined with f constant. */
__attribute__((always_inline)) static inline int
copy_response_fields(struct gw_request *r, struct gw_buf *b,
                     const struct gw_connection_tokens *tokens, const struct gw_answer_filter *f)
{
    const struct gw_http1_message *m = &r->rmsg;
    int rc = 0;
    for (uint32_t i = 0; i < m->num_headers; i++) {
        const struct gw_http1_header *h = &m->headers[i];
        if (name_is(h, "content-length", 14) && m->body == GW_BODY_NONE && m->status != 204 &&
            m->status >= 200 && all_digits(h->value, h->value_len)) {
            /* HEAD and 304 answers describe the representation's length: keep it. */
            rc |= append_header(b, h->name, h->name_len, h->value, h->value_len);
            continue;
        }
        if (gw_http1_drop_on_forward(tokens, h))
            continue;
        if (name_is(h, "x-request-id", 12))
            continue;
        if (f && gw_answer_filter_hit(f, h->name, h->name_len) && gw_policy_answer_field(r, h))
            continue;
        rc |= append_header(b, h->name, h->name_len, h->value, h->value_len);
    }
    return rc;
}

int gw_rewrite_response_head(struct gw_request *r)
{
    /* The stages may edit the upstream's head first (status, fields, a body filter). */
    if (gw_policy_response_head(r, &r->rmsg) < 0)
        return GW_ENOMEM;
    /* ... and the answer hooks choose what to look for in its fields (policy/answer.h). */
    gw_policy_answer_prepare(r->snap->policy, r, r->secure);
    const struct gw_http1_message *m = &r->rmsg;
    struct gw_buf *b = &r->rhead;
    struct gw_connection_tokens tokens;
    int rc = 0;

    gw_http1_connection_tokens(m, &tokens);
    if (tokens.overflow)
        return GW_EHDRVALUE; /* cannot honour every Connection token: refuse, do not leak */
    gw_buf_reset(b);
    /* One allocation for the whole head: what came plus what gantry adds. */
    rc |= gw_buf_reserve(b, m->head_len + 512);
    rc |= gw_buf_append_str(b, "HTTP/1.1 ");
    rc |= gw_buf_append_u64(b, (uint64_t)m->status);
    rc |= gw_buf_append(b, " ", 1);
    rc |= gw_buf_append(b, m->reason, m->reason_len);
    rc |= gw_buf_append(b, "\r\n", 2);

    /* The answer hooks' filter (policy/answer.h) is tested in a loop of its own: without one,
     * the copy costs what it did before there were any. */
    if (r->answer_filter)
        rc |= copy_response_fields(r, b, &tokens, r->answer_filter);
    else
        rc |= copy_response_fields(r, b, &tokens, NULL);
    /* The policy stages' headers (rate limits replace the upstream's own), then those of the
     * response policies outside the chain (security headers: policy/answer.h; one test when
     * there are none), which see what the stages set (transformations). */
    if (r->arena_used)
        rc |= gw__policy_response_headers(r, b);
    rc |= gw_policy_answer_upstream_headers(r->snap->policy, r, r->secure);
    if (r->arena_used) {
        if (r->resp_filter) {
            /* A stage takes the body whole: the framing waits for its final length. */
            r->resp_filter->head_mark = b->len;
            r->resp_left = m->content_length; /* what the proxy reads meanwhile */
            return rc ? GW_ENOMEM : 0;
        }
        if (r->resp_stream) {
            /* A stage rewrites the body as it flows: its length is unknown until the end. */
            rc |= response_framing(r, b, GW_BODY_CHUNKED, 0);
            r->resp_left = m->content_length; /* what the proxy reads of the upstream's */
            return rc ? GW_ENOMEM : 0;
        }
    }
    rc |= response_framing(r, b, m->body, m->content_length);
    return rc ? GW_ENOMEM : 0;
}

int gw_rewrite_response_finish(struct gw_request *r, enum gw_http1_body body, uint64_t length)
{
    r->rhead.len = r->resp_filter->head_mark;
    return response_framing(r, &r->rhead, body, length) ? GW_ENOMEM : 0;
}

int gw_rewrite_upgrade_head(struct gw_request *r)
{
    const struct gw_http1_message *m = &r->rmsg;
    struct gw_buf *b = &r->rhead;
    struct gw_connection_tokens tokens;
    int rc = 0;

    gw_http1_connection_tokens(m, &tokens);
    if (tokens.overflow)
        return GW_EHDRVALUE;
    gw_buf_reset(b);
    rc |= gw_buf_reserve(b, m->head_len + 512);
    rc |= gw_buf_append_str(b, "HTTP/1.1 101 ");
    rc |= gw_buf_append(b, m->reason, m->reason_len);
    rc |= gw_buf_append(b, "\r\n", 2);
    for (uint32_t i = 0; i < m->num_headers; i++) {
        const struct gw_http1_header *h = &m->headers[i];
        if (gw_http1_drop_on_forward(&tokens, h) || name_is(h, "x-request-id", 12))
            continue;
        rc |= append_header(b, h->name, h->name_len, h->value, h->value_len);
    }
    int u = gw_http1_find_header(m, "upgrade", 7);
    rc |= gw_buf_append_str(b, "Connection: Upgrade\r\n");
    if (u >= 0)
        rc |= append_header(b, "Upgrade", 7, m->headers[u].value, m->headers[u].value_len);
    rc |= append_header(b, "X-Request-ID", 12, r->id, strlen(r->id));
    if (r->arena_used)
        rc |= gw__policy_response_headers(r, b);
    rc |= gw_policy_answer_headers(r->snap->policy, r, r->secure, b);
    rc |= gw_buf_append(b, "\r\n", 2);
    return rc ? GW_ENOMEM : 0;
}
