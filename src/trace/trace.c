/*
 * Tracing on the request path: see trace.h. The record is one allocation per traced request;
 * everything it needs at the end is copied into it, so the control thread that encodes it never
 * touches a request or a snapshot.
 */
#include "trace/trace.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "control/snapshot-t.h"
#include "core/error.h"
#include "core/random.h"
#include "runtime/worker-t.h"
#include "trace/ring.h"
#include "upstream/pool-t.h"
#include "upstream/retry-t.h"

/* Longest tracestate list read from a request (all its tracestate fields together): past it the
 * list is dropped rather than parsed (the spec asks vendors to keep 512 characters). */
#define TRACESTATE_READ_MAX 4096

/* W3C 3.2.2.3/3.2.2.4: all-zero ids are invalid. A zero draw (one in 2^64) becomes 1. */
static inline uint64_t nonzero(uint64_t v)
{
    return v | (v == 0);
}

static uint64_t nonzero_random(void)
{
    return nonzero(gw_random_u64());
}

/* Copies s[0..n) into the record's strings (cut when they are full). */
static struct gw_trace_str put_str(struct gw_trace *t, const char *s, size_t n)
{
    size_t room = GW_TRACE_STRINGS - t->strs_len;
    if (n > room)
        n = room;
    struct gw_trace_str out = {(uint16_t)t->strs_len, (uint16_t)n};
    if (n)
        memcpy(t->strs + t->strs_len, s, n);
    t->strs_len = (uint16_t)(t->strs_len + n);
    return out;
}

static bool name_is(const struct gw_http1_header *h, const char *lower, size_t n)
{
    if (h->name_len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = h->name[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c | 0x20);
        if (c != lower[i])
            return false;
    }
    return true;
}

/* The caller's trace context: exactly one valid traceparent field (a repeated one is invalid:
 * which would be the parent?), then its tracestate fields joined as one list. */
static void take_client_context(struct gw_trace *t, const struct gw_http1_message *m)
{
    int tp = -1;
    for (uint32_t i = 0; i < m->num_headers; i++) {
        if (name_is(&m->headers[i], "traceparent", 11)) {
            if (tp >= 0)
                return;
            tp = (int)i;
        }
    }
    struct gw_traceparent parent;
    if (tp < 0 || !gw_traceparent_parse(m->headers[tp].value, m->headers[tp].value_len, &parent))
        return;
    t->trace_id = parent.trace_id;
    t->parent_id = parent.parent_id;
    t->parent_flags = parent.flags;

    char list[TRACESTATE_READ_MAX];
    size_t n = 0;
    for (uint32_t i = 0; i < m->num_headers; i++) {
        const struct gw_http1_header *h = &m->headers[i];
        if (!name_is(h, "tracestate", 10))
            continue;
        if (n + 1 + h->value_len > sizeof list)
            return; /* absurdly long: dropped, the traceparent still holds */
        if (n)
            list[n++] = ',';
        memcpy(list + n, h->value, h->value_len);
        n += h->value_len;
    }
    /* The first string of the record: the whole of GW_TRACESTATE_MAX is free. */
    int k = gw_tracestate_clean(list, n, t->strs + t->strs_len);
    if (k > 0) {
        t->tracestate = (struct gw_trace_str){t->strs_len, (uint16_t)k};
        t->strs_len = (uint16_t)(t->strs_len + k);
    }
}

/* server.address and server.port from the Host field ("host", "host:port", "[v6]:port"). */
static void take_server(struct gw_trace *t, const struct gw_http1_message *m)
{
    if (m->host_index < 0)
        return;
    const char *v = m->headers[m->host_index].value;
    size_t n = m->headers[m->host_index].value_len;
    size_t host_end = n;
    const char *colon = NULL;
    if (n && v[0] == '[') {
        const char *close = memchr(v, ']', n);
        if (close && close + 1 < v + n && close[1] == ':')
            colon = close + 1;
        host_end = close ? (size_t)(close - v) + 1 : n;
    } else {
        colon = memchr(v, ':', n);
        if (colon)
            host_end = (size_t)(colon - v);
    }
    if (colon) {
        unsigned port = 0;
        const char *p = colon + 1;
        while (p < v + n && *p >= '0' && *p <= '9' && port <= 65535)
            port = port * 10 + (unsigned)(*p++ - '0');
        if (p == v + n && port > 0 && port <= 65535)
            t->server_port = (uint16_t)port;
    }
    /* A host name has at most 253 characters (RFC 1035 2.3.4; an IPv6 literal far fewer): a
     * longer Host value is cut there, so that it cannot take the room of the strings that come
     * after it (the method, which names the span, the path, the route, the targets). */
    if (host_end > GW_TRACE_HOST_MAX)
        host_end = GW_TRACE_HOST_MAX;
    t->server = put_str(t, v, host_end);
}

/* A record for a new request: the last one the worker released (still in its cache), or a new
 * one. */
static struct gw_trace *record_get(struct gw_trace_queue *q)
{
    if (q != NULL && q->free != NULL) {
        struct gw_trace *t = q->free;
        q->free = t->next_free;
        q->nfree--;
        return t;
    }
    return malloc(sizeof(struct gw_trace));
}

/* A record the worker is done with: kept for the next request (up to GW_TRACE_FREE_MAX). */
static void record_put(struct gw_trace_queue *q, struct gw_trace *t)
{
    if (q != NULL && q->nfree < GW_TRACE_FREE_MAX) {
        t->next_free = q->free;
        q->free = t;
        q->nfree++;
    } else {
        free(t);
    }
}

void gw_trace_begin(struct gw_request *r)
{
    struct gw_trace_queue *q = r->w->trace_queue;
    struct gw_trace *t = record_get(q);
    if (t == NULL)
        return;
    /* The child array and the strings are written before they are read (strs_len is 0). */
    memset(t, 0, offsetof(struct gw_trace, child));
    t->head = -1;
    t->t_start = r->t_start;
    t->http_minor = (uint8_t)r->msg.minor_version;
    t->secure = r->secure;
    take_client_context(t, &r->msg);
    /* The ids a proxied request needs, drawn at once: [trace id,] its span, the first try's. */
    uint64_t ids[4];
    if (t->parent_id == 0) {
        gw_random_fill(ids, 4);
        t->trace_id.hi = ids[2];
        t->trace_id.lo = nonzero(ids[3]);
    } else {
        gw_random_fill(ids, 2);
    }
    t->span_id = nonzero(ids[0]);
    t->next_span = nonzero(ids[1]);
    t->try_span = t->span_id; /* the parent upstream until a try starts */
    take_server(t, &r->msg);
    gw_trace_id_hex(&t->trace_id, t->trace_hex);
    memcpy(r->trace_id, t->trace_hex, 32);
    r->trace_id[32] = '\0';
    /* A request id gantry made (32 random hex digits) becomes the trace id gantry started (as
     * random, the same form): one id finds the request in the logs and in the traces, and the
     * span need not carry it. A caller's trace is shared by its other requests: not then. */
    if (r->id_made && t->parent_id == 0)
        memcpy(r->id, r->trace_id, sizeof r->trace_id);
    r->trace = t;
}

/* A child span with id span_id starting at t_start (uv_hrtime()). */
static struct gw_trace_child *new_child(struct gw_trace *t, uint8_t kind, uint64_t span_id,
                                        uint64_t t_start)
{
    if (t->nchild == GW_TRACE_MAX_CHILDREN) {
        if (t->lost < UINT8_MAX)
            t->lost++;
        return NULL;
    }
    struct gw_trace_child *c = &t->child[t->nchild++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->span_id = span_id;
    c->t_start = t_start;
    return c;
}

void gw_trace_stage_begin(struct gw_request *r, const char *name)
{
    struct gw_trace *t = r->trace;
    if (t->open_stage)
        return;
    struct gw_trace_child *c = new_child(t, GW_TRACE_STAGE, nonzero_random(), uv_hrtime());
    if (c == NULL)
        return;
    c->name = name;
    t->open_stage = (uint8_t)(c - t->child + 1);
}

void gw_trace_stage_end(struct gw_request *r, const struct gw_answer *a)
{
    struct gw_trace *t = r->trace;
    if (!t->open_stage)
        return;
    struct gw_trace_child *c = &t->child[t->open_stage - 1];
    t->open_stage = 0;
    c->t_end = uv_hrtime();
    if (a != NULL) {
        c->status = (uint16_t)(a->status ? a->status : gw_err_http_status(a->err));
        if (c->status >= 500)
            c->error = GW_TRACE_ERR_GATEWAY;
    }
}

void gw_trace_try_begin(struct gw_request *r)
{
    struct gw_trace *t = r->trace;
    if (t->open_try)
        gw_trace_try_end(r, uv_hrtime());
    t->try_span = t->next_span ? t->next_span : nonzero_random();
    t->next_span = 0;
    struct gw_trace_child *c =
        new_child(t, GW_TRACE_TRY, t->try_span, r->t_try); /* the try's own clock */
    if (c != NULL) {
        c->target = r->target;
        c->port = r->target->conf->port;
        c->tls = r->target->conf->tls;
        c->ipv6 = r->target->conf->ipv6;
        c->resend = (uint8_t)(r->tries > 1 ? (r->tries - 1 > 255 ? 255 : r->tries - 1) : 0);
        t->open_try = (uint8_t)(c - t->child + 1);
    }
    /* A retry resends the head built for the first try: its traceparent names this try now. */
    if (t->tp_off && r->head_built && t->tp_off + 16 <= r->head.len)
        gw_span_id_hex(t->try_span, r->head.data + t->tp_off);
}

void gw_trace_try_failed(struct gw_request *r, int cls)
{
    struct gw_trace *t = r->trace;
    if (!t->open_try)
        return;
    struct gw_trace_child *c = &t->child[t->open_try - 1];
    switch (cls) {
    case GW_RETRY_CONNECT_FAILED:
        c->error = GW_TRACE_ERR_CONNECT;
        break;
    case GW_RETRY_TIMEOUT:
        c->error = GW_TRACE_ERR_TIMEOUT;
        break;
    case GW_RETRY_STATUS:
        c->error = GW_TRACE_ERR_STATUS;
        c->status = (uint16_t)r->rmsg.status;
        break;
    case GW_RETRY_RESET_BEFORE_RESPONSE:
    default:
        c->error = GW_TRACE_ERR_RESET;
        break;
    }
}

void gw_trace_failed(struct gw_request *r, int err)
{
    struct gw_trace *t = r->trace;
    if (!t->open_try)
        return;
    struct gw_trace_child *c = &t->child[t->open_try - 1];
    if (c->error)
        return;
    switch (err) {
    case GW_EUPCONNECT:
        c->error = GW_TRACE_ERR_CONNECT;
        break;
    case GW_EUPTIMEOUT:
        c->error = GW_TRACE_ERR_TIMEOUT;
        break;
    case GW_EUPRESET:
        c->error = GW_TRACE_ERR_RESET;
        break;
    case GW_EUPGARBAGE:
    case GW_ESTATUSLINE:
        c->error = GW_TRACE_ERR_INVALID;
        break;
    default:
        break; /* the client's fault (a bad body): gw_trace_try_end sees try_ignore */
    }
}

void gw_trace_try_end(struct gw_request *r, uint64_t now)
{
    struct gw_trace *t = r->trace;
    if (!t->open_try)
        return;
    struct gw_trace_child *c = &t->child[t->open_try - 1];
    t->open_try = 0;
    c->t_end = now;
    if (r->resp_head_done && c->status == 0)
        c->status = (uint16_t)r->rmsg.status;
    if (c->error)
        return;
    if (r->try_ok)
        c->error = GW_TRACE_ERR_NONE;
    else if (r->try_ignore)
        c->error = GW_TRACE_ERR_CANCELLED;
    else if (r->up == NULL || !r->up->connected)
        c->error = GW_TRACE_ERR_CONNECT;
    else if (c->status >= 500)
        c->error = GW_TRACE_ERR_STATUS;
    else
        c->error = GW_TRACE_ERR_RESET;
}

const char *gw_trace_rl_outcome_name(unsigned outcome)
{
    switch (outcome) {
    case GW_RL_OUTCOME_ALLOWED:
        return "allowed";
    case GW_RL_OUTCOME_LIMITED:
        return "limited";
    case GW_RL_OUTCOME_FALLBACK:
        return "fallback";
    case GW_RL_OUTCOME_FAILED:
        return "failed";
    default:
        return NULL;
    }
}

bool gw_trace_ratio_sampled(const struct gw_trace_id *id, double ratio)
{
    if (ratio >= 1.0)
        return true;
    if (ratio <= 0.0)
        return false;
    /* The low 64 bits are uniformly random for ids gantry makes and for any W3C-conformant
     * caller's: compare them with the ratio's share of 2^64. */
    return (double)id->lo < ratio * 18446744073709551616.0;
}

static bool head_sampled(struct gw_request *r, struct gw_trace *t)
{
    if (t->head < 0) {
        const struct gw_tracing_conf *tc = &r->snap->cfg->tracing;
        bool yes;
        if (t->parent_id != 0 && tc->parent_based)
            yes = (t->parent_flags & GW_TRACE_FLAG_SAMPLED) != 0;
        else
            yes = gw_trace_ratio_sampled(&t->trace_id, r->svc ? r->svc->conf->trace_sample_ratio
                                                              : tc->sample_ratio);
        t->head = yes ? 1 : 0;
    }
    return t->head == 1;
}

int gw_trace_upstream_headers(struct gw_request *r, struct gw_buf *b)
{
    struct gw_trace *t = r->trace;
    static const char name[] = "traceparent: ";
    int rc = gw_buf_reserve(b, sizeof name - 1 + GW_TRACEPARENT_LEN + 2);
    if (rc < 0)
        return rc;
    memcpy(b->data + b->len, name, sizeof name - 1);
    b->len += sizeof name - 1;
    /* gw_traceparent_format's layout, with the trace id's digits taken from r->trace_id */
    char *p = b->data + b->len;
    memcpy(p, "00-", 3);
    memcpy(p + 3, r->trace_id, 32);
    p[35] = '-';
    gw_span_id_hex(t->try_span, p + GW_TRACEPARENT_SPAN_AT);
    memcpy(p + 52, head_sampled(r, t) ? "-01" : "-00", 3);
    t->tp_off = (uint32_t)(b->len + GW_TRACEPARENT_SPAN_AT);
    b->len += GW_TRACEPARENT_LEN;
    b->data[b->len++] = '\r';
    b->data[b->len++] = '\n';
    if (t->tracestate.len) {
        rc |= gw_buf_append_str(b, "tracestate: ");
        rc |= gw_buf_append(b, t->strs + t->tracestate.off, t->tracestate.len);
        rc |= gw_buf_append(b, "\r\n", 2);
    }
    return rc ? GW_ENOMEM : 0;
}

/* The matched prefix: the service's prefix of r->prefix_len bytes (0 for "/", as the router
 * reports it) that starts the path, else the first of that length. */
static const char *route_of(const struct gw_request *r)
{
    const struct gw_service_conf *sc = r->svc->conf;
    size_t want = r->prefix_len ? r->prefix_len : 1;
    const char *first = NULL;
    for (size_t i = 0; i < sc->nprefixes; i++) {
        if (strlen(sc->prefixes[i]) != want)
            continue;
        if (strncmp(r->path, sc->prefixes[i], want) == 0)
            return sc->prefixes[i];
        if (first == NULL)
            first = sc->prefixes[i];
    }
    return first;
}

/* Query parameters whose values are credentials: replaced by REDACTED in url.query and
 * url.full (OpenTelemetry's HTTP conventions name the first four; the others are the usual
 * bearer credentials put in URLs). Compared without regard to case. */
static const char *const secret_params[] = {
    "awsaccesskeyid", "signature", "sig",     "x-goog-signature", "access_token", "id_token",
    "refresh_token",  "token",     "api_key", "apikey",           "password",     "secret",
    "client_secret",  "code",      NULL};

static bool secret_param(const char *k, size_t n)
{
    for (size_t i = 0; secret_params[i] != NULL; i++)
        if (strlen(secret_params[i]) == n && strncasecmp(secret_params[i], k, n) == 0)
            return true;
    return false;
}

/* Copies the query q[0..n) (no '?') into the record's strings with the values of secret
 * parameters replaced by REDACTED; the whole of it or nothing (a cut query would be another).
 * Returns false when it does not fit. */
static bool put_query(struct gw_trace *t, const char *q, size_t n)
{
    size_t at = t->strs_len, end = GW_TRACE_STRINGS;
    const char *p = q, *qend = q + n;
    while (p < qend) {
        const char *amp = memchr(p, '&', (size_t)(qend - p));
        const char *pend = amp ? amp : qend;
        const char *eq = memchr(p, '=', (size_t)(pend - p));
        bool redact = eq != NULL && secret_param(p, (size_t)(eq - p));
        /* the parameter as it is, or its key and '=' followed by REDACTED */
        size_t keep = redact ? (size_t)(eq + 1 - p) : (size_t)(pend - p);
        if (keep + (redact ? 8 : 0) + (amp ? 1 : 0) > end - at)
            return false;
        memcpy(t->strs + at, p, keep);
        at += keep;
        if (redact) {
            memcpy(t->strs + at, "REDACTED", 8);
            at += 8;
        }
        if (amp)
            t->strs[at++] = '&';
        p = amp ? amp + 1 : qend;
    }
    t->strs_len = (uint16_t)at;
    return true;
}

static void put_cstr(struct gw_trace *t, struct gw_trace_str *dst, const char *s)
{
    if (s != NULL && s[0] != '\0')
        *dst = put_str(t, s, strlen(s));
}

/* A short string (a service name) copied byte by byte: cheaper than measuring it first. */
static void put_short_cstr(struct gw_trace *t, struct gw_trace_str *dst, const char *s)
{
    size_t at = t->strs_len, end = GW_TRACE_STRINGS;
    while (at < end && *s)
        t->strs[at++] = *s++;
    *dst = (struct gw_trace_str){t->strs_len, (uint16_t)(at - t->strs_len)};
    t->strs_len = (uint16_t)at;
}

/* Copies what the control thread needs; after this the record points into nothing. */
static void complete(struct gw_request *r, struct gw_trace *t)
{
    /* r->method is the parser's method cut to the array (conn/request.c) */
    size_t ml = r->msg.method_len < sizeof r->method - 1 ? r->msg.method_len : sizeof r->method - 1;
    if (ml == 0 || r->method[ml] != '\0')
        ml = strlen(r->method);
    if (ml)
        t->method = put_str(t, r->method, ml);
    const char *q = strchrnul(r->path, '?');
    t->path = put_str(t, r->path, (size_t)(q - r->path));
    if (*q == '?' && q[1] != '\0') {
        uint16_t at = t->strs_len;
        if (put_query(t, q + 1, strlen(q + 1)))
            t->query = (struct gw_trace_str){at, (uint16_t)(t->strs_len - at)};
    }
    /* OpenTelemetry's HTTP conventions: a method outside RFC 9110's and PATCH (or in another
     * case) is reported as _OTHER, with the method as sent in http.request.method_original. */
    t->method_other = r->msg.method_id == GW_METHOD_OTHER;
    /* gantry.request_id only when it says more than the trace id (gw_trace_begin) */
    if (memcmp(r->id, r->trace_id, sizeof r->trace_id) != 0)
        put_cstr(t, &t->request_id, r->id);
    put_cstr(t, &t->client, r->peer);
    if (r->svc != NULL) {
        const struct gw_service_conf *sc = r->svc->conf;
        put_short_cstr(t, &t->service, sc->name);
        /* the route: the prefix the router matched (r->prefix_index, as the metrics' label) */
        size_t want = r->prefix_len ? r->prefix_len : 1;
        const char *p = r->prefix_index < sc->nprefixes ? sc->prefixes[r->prefix_index] : NULL;
        if (p != NULL && strnlen(p, want + 1) == want)
            t->route = put_str(t, p, want);
        else
            put_cstr(t, &t->route, route_of(r));
    }
    if (r->authenticated)
        put_cstr(t, &t->consumer, r->identity.consumer);
    bool tried = false;
    for (unsigned i = 0; i < t->nchild; i++) {
        struct gw_trace_child *c = &t->child[i];
        if (c->target != NULL) {
            c->addr = put_str(t, c->target->conf->host, strlen(c->target->conf->host));
            c->target = NULL;
            tried = true;
        }
    }
    /* The tries' url.full: only whole (a cut URL would name another resource), its query's
     * secrets redacted as in url.query. */
    if (tried && r->upath != NULL) {
        const char *uq = memchr(r->upath, '?', r->upath_len);
        size_t plen = uq ? (size_t)(uq - r->upath) : r->upath_len;
        uint16_t at = t->strs_len;
        if (plen + 1 <= (size_t)(GW_TRACE_STRINGS - t->strs_len)) {
            memcpy(t->strs + at, r->upath, plen);
            t->strs_len = (uint16_t)(at + plen);
            bool whole = true;
            if (uq != NULL) {
                t->strs[t->strs_len++] = '?';
                whole = put_query(t, uq + 1, r->upath_len - plen - 1);
            }
            if (whole)
                t->upath = (struct gw_trace_str){at, (uint16_t)(t->strs_len - at)};
            else
                t->strs_len = at;
        }
    }
}

void gw_trace_end(struct gw_request *r, bool aborted)
{
    struct gw_trace *t = r->trace;
    r->trace = NULL;
    uint64_t now = uv_hrtime();
    /* The client went away while a stage or a try was running. */
    if (t->open_stage) {
        t->child[t->open_stage - 1].t_end = now;
        t->child[t->open_stage - 1].error = GW_TRACE_ERR_CANCELLED;
        t->open_stage = 0;
    }
    if (t->open_try) {
        t->child[t->open_try - 1].t_end = now;
        t->child[t->open_try - 1].error = GW_TRACE_ERR_CANCELLED;
        t->open_try = 0;
    }
    t->t_end = now;
    t->status = (uint16_t)r->status;
    t->retries = r->retries;
    t->rl_outcome = r->rl_outcome;
    if (aborted)
        t->error = GW_TRACE_ERR_ABORTED;
    else if (r->status >= 500)
        t->error = GW_TRACE_ERR_STATUS;
    bool error = t->error != GW_TRACE_ERR_NONE;
    for (unsigned i = 0; i < t->nchild && !error; i++)
        error =
            t->child[i].error != GW_TRACE_ERR_NONE && t->child[i].error != GW_TRACE_ERR_CANCELLED;
    const struct gw_tracing_conf *tc = &r->snap->cfg->tracing;
    struct gw_trace_queue *q = r->w->trace_queue;
    bool sampled = head_sampled(r, t) || (error && tc->always_sample_errors);
    if (!sampled || tc->endpoint == NULL || q == NULL) {
        record_put(q, t);
        return;
    }
    complete(r, t);
    gw_trace_ring_push(q->out, t); /* full: dropped and counted by the ring */
    record_put(q, t);
}
