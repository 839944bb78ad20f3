/*
 * HTTP/2 connections: the downstream of HTTP/2 streams (docs/internals.md "Downstream
 * interface"). The connection (gw_conn: socket, TLS, timers, close) stays what it is; once it
 * speaks HTTP/2 its bytes go to an h2 session (h2/session.h) instead of the HTTP/1 parser, and
 * every stream whose head is complete becomes a gw_request that runs the same dispatch, router,
 * policy chain and proxy as an HTTP/1 request (its head is the HTTP/1.1 text the session built,
 * parsed by the same parser).
 *
 * Backpressure: the proxy's response bytes are copied into the stream (de-chunked) and go out
 * as the client's flow control allows; past GW_H2_OUT_HIGH a send is "pending" until the stream
 * drained, so the proxy stops reading its upstream. The connection writes one buffer at a time
 * and reads nothing while a write waits. Request bodies: the session gives the client window
 * back only as the proxy forwards the bytes.
 *
 * Re-entrancy: the proxy calls the downstream from inside its own work on a request; writing
 * the session out there could run `sent` for that same request before `send` returned. So the
 * operations only schedule a flush (an idle handle), which runs from the loop.
 */
#include <nghttp2/nghttp2.h>
#include <stdlib.h>
#include <string.h>

#include "conn/access_log.h"
#include "conn/internal.h"
#include "conn/request_metrics.h"
#include "control/snapshot-t.h"
#include "core/error.h"
#include "core/log.h"
#include "core/random.h"
#include "h2/grpc.h"
#include "h2/session.h"
#include "http1/names.h"
#include "metrics/metrics.h"
#include "policy/answer.h"
#include "policy/chain.h"
#include "runtime/server-t.h"
#include "runtime/worker-t.h"
#include "tls/stream.h"
#include "trace/trace.h"
#include "upstream/proxy.h"
#include "upstream/tunnel.h"

#define H2_OUT_MAX 65536

struct gw__h2_conn {
    struct gw_conn *c;
    struct gw_h2_session *sess;
    struct gw_buf out;      /* frames being written */
    uv_idle_t flush;        /* a flush asked for from inside the proxy */
    uv_timer_t deadline;    /* the per-stream timeouts' sweep (body, send) */
    struct gw_list reqs;    /* live requests (struct h2_req) */
    struct gw_list tunnels; /* WebSocket tunnels on streams (conn/h2_tunnel.c) */
    bool in_flush;
    bool going_away;
};

/* A stream's request: r->downstream. */
struct h2_req {
    struct gw_request *r;
    struct gw_conn *c;
    struct gw_h2_stream *st; /* NULL once the stream closed */
    struct gw_list link;
    struct backoff *backoff;
    bool head_gone; /* the proxy dropped the head (its first body_consume) */
};

struct backoff {
    uv_timer_t t;
    struct gw_request *r; /* NULL once the request is gone */
};

static const struct gw_downstream_ops h2_downstream;

static struct h2_req *hreq(const struct gw_request *r)
{
    return r->downstream;
}

static void flush(struct gw_conn *c);
static void on_flush_idle(uv_idle_t *i);

static void schedule(struct gw_conn *c)
{
    if (c->h2 && !c->closing && !uv_is_active((uv_handle_t *)&c->h2->flush))
        uv_idle_start(&c->h2->flush, on_flush_idle);
}

void gw__h2_schedule(struct gw_conn *c)
{
    schedule(c);
}

/* ---- requests -------------------------------------------------------------------------------- */

static void on_backoff_closed(uv_handle_t *h)
{
    free(h->data);
}

/* The request ends: access log, metrics, trace; then it is freed. */
static void request_end(struct gw_request *r, bool aborted)
{
    struct h2_req *hr = hreq(r);
    if (hr->st)
        r->bytes_in = hr->st->bytes_in; /* h2/session.h: its frames' payloads so far */
    if (r->dispatched) {
        gw_request_metrics(r);
        gw_access_log(r);
    }
    if (r->trace)
        gw_trace_end(r, aborted);
    if (hr->st)
        gw_h2_stream_release(hr->st);
    if (hr->backoff) {
        hr->backoff->r = NULL;
        uv_close((uv_handle_t *)&hr->backoff->t, on_backoff_closed);
    }
    gw_list_remove(&hr->link);
    struct gw_conn *c = hr->c;
    free(hr);
    gw__request_free(r);
    schedule(c);
}

static int on_request(void *owner, struct gw_h2_stream *st)
{
    struct gw_conn *c = owner;
    struct gw__h2_conn *h = c->h2;
    struct h2_req *hr = calloc(1, sizeof *hr);
    struct gw_request *r = hr ? gw__request_new(c) : NULL;
    if (!r) {
        free(hr);
        return GW_ENOMEM;
    }
    hr->r = r;
    hr->c = c;
    hr->st = st;
    gw_list_insert_tail(&h->reqs, &hr->link);
    r->ds = &h2_downstream;
    r->downstream = hr;
    st->owner_data = r;
    c->requests++;
    r->dispatched = true;
    r->ext_connect = st->ext_connect;
    int rc = gw_http1_parse_request(&r->parser, st->head.data, st->head.len, &r->msg);
    r->bytes_in = st->bytes_in;
    if (rc == GW_HTTP1_PARTIAL)
        rc = GW_EREQLINE; /* the session wrote a whole head: cannot happen */
    if (rc < 0) {
        gw_log_info("client %s: rejected HTTP/2 request: %s (%s)", c->peer, gw_strerror(rc),
                    gw_err_name(rc));
        gw__request_error(r, rc, false);
        return 0;
    }
    int ct = gw_http1_find_header(&r->msg, "content-type", 12);
    if (ct >= 0 &&
        gw_grpc_is_content_type(r->msg.headers[ct].value, r->msg.headers[ct].value_len)) {
        r->grpc = true;
        r->msg.upgrade = true; /* dispatch's protocol check (conn/request.c) */
    }
    gw__request_dispatch(r);
    return 0;
}

static void on_body(void *owner, struct gw_h2_stream *st)
{
    (void)owner;
    if (st->owner_tunnel) {
        gw__h2_tunnel_body(st->owner_data);
        return;
    }
    struct gw_request *r = st->owner_data;
    if (r->idp) {
        gw__idp_serve_input(r);
        return;
    }
    if (r->hubpub) {
        if (r->passed)
            gw__hub_publish_input(r);
        return;
    }
    if (r->passed && !r->body_done)
        gw_proxy_client_input(r);
}

static void on_sent(void *owner, struct gw_h2_stream *st)
{
    (void)owner;
    if (st->owner_tunnel) {
        gw__h2_tunnel_sent(st->owner_data);
        return;
    }
    gw_proxy_sent(st->owner_data, 0);
}

static void on_closed(void *owner, struct gw_h2_stream *st, uint32_t error)
{
    struct gw_conn *c = owner;
    if (st->owner_tunnel) {
        struct gw__h2_tunnel *t = st->owner_data;
        st->owner_data = NULL;
        st->owner_tunnel = false;
        gw__h2_tunnel_closed(t, error);
        return;
    }
    struct gw_request *r = st->owner_data;
    struct h2_req *hr = hreq(r);
    r->bytes_in = st->bytes_in;
    hr->st = NULL;
    st->owner_data = NULL;
    gw_log_debug("client %s: HTTP/2 stream %d closed (error %u) before its response ended "
                 "(request %s)",
                 c->peer, (int)st->id, error, r->id);
    gw_proxy_abort(r);
    request_end(r, true);
}

_Static_assert(sizeof(((struct gw_mx_worker *)0)->h2_events) / sizeof(gw_mx_ctr) == GW_H2_EV__COUNT,
               "metrics-t.h h2_events has a counter per enum gw_h2_event");

static void on_event(void *owner, enum gw_h2_event ev)
{
    struct gw_conn *c = owner;
    gw_mx_inc(&c->w->mx.h2_events[ev]);
    if (ev != GW_H2_EV_STREAM && ev != GW_H2_EV_CLIENT_RESET) {
        /* One limit per kind: a flood of one kind does not hide (nor count as suppressed) the
         * lines of another. */
        static struct gw_log_limit lim[] = {
            {.interval_ms = 1000}, {.interval_ms = 1000}, {.interval_ms = 1000},
            {.interval_ms = 1000}, {.interval_ms = 1000}, {.interval_ms = 1000},
            {.interval_ms = 1000}, {.interval_ms = 1000}, {.interval_ms = 1000},
            {.interval_ms = 1000}, {.interval_ms = 1000}};
        _Static_assert(sizeof lim / sizeof lim[0] == GW_H2_EV__COUNT, "a limit per event");
        static const char *const what[] = {"",
                                           "rapid reset",
                                           "PING/SETTINGS flood",
                                           "CONTINUATION flood",
                                           "header list too large",
                                           "protocol error",
                                           "",
                                           "",
                                           "",
                                           "provoked reset flood",
                                           "flood of frames without work"};
        gw_log_limited(&lim[ev], GW_LOG_LEVEL_INFO, "client %s: HTTP/2 %s", c->peer, what[ev]);
    }
}

/* A stream's own timeout (gw_h2_session_expire): the request body stalled past
 * timeouts.client_body (408 while nothing was answered, else RST_STREAM CANCEL), or the client
 * left the response in its window past timeouts.client_idle (RST_STREAM CANCEL). Only this
 * stream ends; the connection and its other streams go on. */
static void on_timeout(void *owner, struct gw_h2_stream *st, enum gw_h2_timeout which)
{
    struct gw_conn *c = owner;
    struct gw_request *r = st->owner_data;
    gw_mx_inc(&c->w->mx.h2_events[which == GW_H2_TIMEOUT_BODY ? GW_H2_EV_BODY_TIMEOUT
                                                              : GW_H2_EV_SEND_TIMEOUT]);
    if (which == GW_H2_TIMEOUT_BODY) {
        gw_log_info("client %s: body timeout on HTTP/2 stream %d (request %s)", c->peer,
                    (int)st->id, r->id);
        gw_proxy_abort(r);
        if (!r->resp_started && !r->resp_writing) {
            struct gw_answer a;
            gw_answer_init(&a, GW_EBODYTIMEOUT);
            gw_h2_stream_cut(st);
            gw__h2_answer(r, &a);
            return;
        }
    } else {
        gw_log_info("client %s: not reading HTTP/2 stream %d; resetting it (request %s)", c->peer,
                    (int)st->id, r->id);
        gw_proxy_abort(r);
    }
    gw_h2_stream_reset(st, NGHTTP2_CANCEL);
    request_end(r, true);
}

static const struct gw_h2_handler handler = {
    .request = on_request,
    .body = on_body,
    .sent = on_sent,
    .closed = on_closed,
    .event = on_event,
    .timeout = on_timeout,
};

/* ---- the connection -------------------------------------------------------------------------- */

int gw__h2_preface(const char *buf, size_t len)
{
    static const char pri[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    size_t n = len < sizeof pri - 1 ? len : sizeof pri - 1;
    if (memcmp(buf, pri, n) != 0)
        return -1;
    return n == sizeof pri - 1 ? 1 : 0;
}

static void on_flush_idle(uv_idle_t *i)
{
    struct gw_conn *c = i->data;
    uv_idle_stop(i);
    flush(c);
}

static void on_written(uv_write_t *req, int status)
{
    struct gw_conn *c = req->data;
    free(req);
    c->writing = false;
    if (c->closing)
        return;
    if (status < 0) {
        gw_conn_close(c);
        return;
    }
    flush(c);
}

/* How often the per-stream timeouts are checked while some stream waits: a quarter of the
 * shorter bound, between 10 ms and 1 s (a stream ends at most that much past its bound). */
static uint64_t sweep_ms(const struct gw_conn *c)
{
    const struct gw_config *cfg = c->w->snap->cfg;
    uint64_t b = cfg->timeouts.client_body_ms, s = cfg->timeouts.client_idle_ms;
    uint64_t m = b && (!s || b < s) ? b : s;
    m /= 4;
    return m < 10 ? 10 : m > 1000 ? 1000 : m;
}

static void on_deadline(uv_timer_t *t)
{
    struct gw_conn *c = t->data;
    if (!c->h2 || c->closing)
        return;
    const struct gw_config *cfg = c->w->snap->cfg;
    gw_h2_session_expire(c->h2->sess, gw_h2_clock_ms(), cfg->timeouts.client_body_ms,
                         cfg->timeouts.client_idle_ms);
    flush(c); /* re-arms while some stream still waits, unless it returned early */
    if (!c->closing && c->h2 && gw_h2_session_waiting(c->h2->sess) &&
        !uv_is_active((uv_handle_t *)t))
        uv_timer_start(t, on_deadline, sweep_ms(c), 0);
}

/* Writes what the session has to say, one buffer at a time; then decides about the timer,
 * reading and closing. */
static void flush(struct gw_conn *c)
{
    struct gw__h2_conn *h = c->h2;
    if (!h || c->closing || c->lingering || h->in_flush || c->writing)
        return;
    h->in_flush = true;
    for (;;) {
        gw_buf_reset(&h->out);
        int rc = gw_h2_session_output(h->sess, &h->out, H2_OUT_MAX);
        if (c->closing)
            break;
        if (rc < 0) {
            gw_conn_close(c);
            break;
        }
        if (h->out.len == 0)
            break;
        uv_buf_t b = uv_buf_init(h->out.data, (unsigned)h->out.len);
        int w = gw__conn_write(c, &b, 1, on_written);
        if (w < 0) {
            gw_conn_close(c);
            break;
        }
        if (w == 0)
            break;
    }
    h->in_flush = false;
    if (c->closing)
        return;
    if (c->writing) {
        /* The client does not take what we write: read nothing more, and give it the idle
         * timeout to catch up. */
        gw_conn_read_stop(c);
        gw__conn_timer_send(c);
        return;
    }
    bool idle = gw_list_empty(&h->reqs) && gw_list_empty(&h->tunnels);
    if (!gw_h2_session_alive(h->sess) || (h->going_away && idle)) {
        gw__conn_close_gracefully(c);
        return;
    }
    if (idle)
        gw__conn_timer_idle(c);
    else
        gw__conn_timer_stop(c);
    if (gw_h2_session_waiting(h->sess) && !uv_is_active((uv_handle_t *)&h->deadline))
        uv_timer_start(&h->deadline, on_deadline, sweep_ms(c), 0);
    gw_conn_read_start(c);
}

/* Whether some service lets a WebSocket through (websocket on, or a websocket.routes entry that
 * turns it on): then the connection offers extended CONNECT (RFC 8441 3). */
static bool websocket_anywhere(const struct gw_config *cfg)
{
    for (size_t i = 0; i < cfg->nservices; i++) {
        const struct gw_websocket_conf *wc = &cfg->services[i].websocket;
        if (wc->enabled)
            return true;
        for (size_t k = 0; k < wc->nroutes; k++)
            if (wc->routes[k].enabled)
                return true;
    }
    return false;
}

void gw__h2_start(struct gw_conn *c)
{
    const struct gw_http2_conf *hc = &c->w->snap->cfg->http2;
    struct gw_h2_limits lim = {
        .max_concurrent_streams = hc->max_concurrent_streams,
        .max_header_list_size = hc->max_header_list_size,
        .initial_window_size = hc->initial_window_size,
        .max_resets = hc->max_resets,
        .max_control = hc->max_control,
        .max_continuations = hc->max_continuations,
        .max_empty = hc->max_empty,
        .connect_protocol = websocket_anywhere(c->w->snap->cfg),
    };
    struct gw__h2_conn *h = calloc(1, sizeof *h);
    if (!h) {
        gw_conn_close(c);
        return;
    }
    h->c = c;
    gw_list_init(&h->reqs);
    gw_list_init(&h->tunnels);
    gw_buf_init(&h->out, 4 * H2_OUT_MAX);
    h->sess = gw_h2_session_new(&lim, &handler, c);
    if (!h->sess) {
        free(h);
        gw_conn_close(c);
        return;
    }
    gw_h2_session_use_spares(h->sess, &c->w->h2_streams);
    uv_idle_init(&c->w->loop, &h->flush);
    h->flush.data = c;
    uv_timer_init(&c->w->loop, &h->deadline);
    h->deadline.data = c;
    c->open_handles += 2;
    c->h2 = h;
    gw_mx_inc(&c->w->mx.h2_conns);
    gw__conn_timer_stop(c);
    /* What was read already (the preface, maybe more) is the session's first input. */
    size_t n = c->in ? c->in_len - c->in_off : 0;
    const char *p = c->in ? c->in + c->in_off : NULL;
    c->in_off = c->in_len = 0;
    if (n > 0 && gw_h2_session_input(h->sess, p, n) < 0)
        gw_log_debug("client %s: HTTP/2 connection error", c->peer);
    if (c->w->stopping)
        gw__h2_going_away(c);
    flush(c);
}

void gw__h2_input(struct gw_conn *c, ssize_t nread)
{
    struct gw__h2_conn *h = c->h2;
    if (nread == UV_ENOBUFS) {
        gw_conn_read_stop(c);
        return;
    }
    if (nread < 0) {
        if (nread != UV_EOF)
            gw_log_debug("client %s: read error %s", c->peer, uv_strerror((int)nread));
        gw_conn_close(c);
        return;
    }
    /* The bytes are at the free end of the input buffer (gw__conn_room); the session takes
     * them whole, so the buffer stays empty. */
    const char *p = c->in + c->in_len;
    if (gw_h2_session_input(h->sess, p, (size_t)nread) < 0)
        gw_log_debug("client %s: HTTP/2 connection error", c->peer);
    c->in_off = c->in_len = 0;
    if (c->closing)
        return;
    flush(c);
}

bool gw__h2_busy(const struct gw_conn *c)
{
    return c->h2 && !(gw_list_empty(&c->h2->reqs) && gw_list_empty(&c->h2->tunnels));
}

void gw__h2_abort_all(struct gw_conn *c)
{
    struct gw__h2_conn *h = c->h2;
    while (!gw_list_empty(&h->reqs)) {
        struct h2_req *hr = gw_container_of(h->reqs.next, struct h2_req, link);
        struct gw_request *r = hr->r;
        gw_proxy_abort(r);
        request_end(r, true);
    }
    gw__h2_tunnels_close(&h->tunnels, "client connection closed");
}

void gw__h2_close_handles(struct gw_conn *c, uv_close_cb cb)
{
    uv_close((uv_handle_t *)&c->h2->flush, cb);
    uv_close((uv_handle_t *)&c->h2->deadline, cb);
}

void gw__h2_free(struct gw_conn *c)
{
    if (!c->h2)
        return;
    gw_h2_session_free(c->h2->sess);
    gw_buf_free(&c->h2->out);
    free(c->h2);
    c->h2 = NULL;
}

void gw__h2_going_away(struct gw_conn *c)
{
    struct gw__h2_conn *h = c->h2;
    if (h->going_away || c->closing)
        return;
    h->going_away = true;
    gw_h2_session_goaway(h->sess);
    flush(c);
}

bool gw__h2_force_stop(struct gw_conn *c)
{
    struct gw__h2_conn *h = c->h2;
    if (gw_list_empty(&h->tunnels))
        return false;
    while (!gw_list_empty(&h->reqs)) {
        struct h2_req *hr = gw_container_of(h->reqs.next, struct h2_req, link);
        struct gw_request *r = hr->r;
        gw_proxy_abort(r);
        if (hr->st)
            gw_h2_stream_reset(hr->st, NGHTTP2_CANCEL);
        request_end(r, true);
    }
    gw__h2_tunnels_going_away(&h->tunnels);
    gw__h2_going_away(c); /* GOAWAY; closes once the tunnels ended */
    schedule(c);
    return true;
}

/* ---- gantry's own answers ------------------------------------------------------------------- */

void gw__h2_reply(struct gw_request *r, int status, const char *extra_headers, const char *body,
                  size_t body_len, bool json)
{
    struct h2_req *hr = hreq(r);
    struct gw_buf b;
    gw_buf_init(&b, 65536);
    int rc = 0;
    if (json && body_len && !(extra_headers && strncmp(extra_headers, "Content-Type:", 13) == 0))
        rc = gw_buf_append_str(&b, "content-type: application/json\r\n");
    bool grpc = r->grpc && body_len == 0 && !json;
    if (rc == 0 && status != 204 && status != 304 && !grpc)
        rc = gw_buf_appendf(&b, "content-length: %zu\r\n", body_len);
    if (rc == 0 && r->id[0])
        rc = gw_buf_appendf(&b, "x-request-id: %s\r\n", r->id);
    if (rc == 0 && extra_headers)
        rc = gw_buf_append_str(&b, extra_headers);
    if (rc == 0 && r->dispatched)
        rc = gw_policy_response_headers(r, &b);
    if (rc == 0)
        rc = gw_policy_answer_headers(r->snap->policy, r, r->secure, &b);
    bool has_body = body_len > 0 && r->msg.method_id != GW_METHOD_HEAD;
    r->status = status;
    r->resp_started = true;
    if (rc == 0 && hr->st) {
        /* gRPC's status is in grpc-status; HTTP says 200 (r->status keeps the gateway's). */
        rc = gw_h2_stream_respond(hr->st, grpc ? 200 : status, b.data ? b.data : "", b.len,
                                  has_body, false);
        if (rc == 0 && has_body)
            rc = gw_h2_stream_write(hr->st, body, body_len) < 0 ? GW_ENOMEM : 0;
        if (rc == 0)
            gw_h2_stream_end(hr->st);
        else
            gw_h2_stream_reset(hr->st, NGHTTP2_INTERNAL_ERROR);
        r->bytes_out += b.len + (has_body ? body_len : 0);
    }
    gw_buf_free(&b);
    request_end(r, rc < 0);
}

void gw__h2_answer(struct gw_request *r, const struct gw_answer *a)
{
    struct gw__answer_text t;
    if (!r->id[0])
        gw_random_request_id(r->id);
    if (r->grpc) {
        /* A gRPC client reads a status, not a JSON body: a Trailers-Only response. */
        gw__answer_render_grpc(a, r->id, &t);
        r->grpc_status = (uint8_t)(1 + gw_mx_grpc_index(gw_grpc_status_of_http(t.status)));
        gw__h2_reply(r, t.status, t.headers, NULL, 0, false);
        return;
    }
    if (a->raw_headers) {
        gw__h2_reply(r, a->status, a->raw_headers, a->body, a->body_len, false);
        return;
    }
    gw__answer_render(a, r->id, &t);
    gw__h2_reply(r, t.status, t.headers_len ? t.headers : NULL, t.body, t.body_len, true);
}

/* ---- the downstream interface --------------------------------------------------------------- */

static void ds_respond(struct gw_request *r, const struct gw_answer *a)
{
    gw__conn_audit_answer(r, a);
    gw__h2_answer(r, a);
}

/* A response head with payload to follow, without the field `name` (lowercase). */
static int respond_without(struct gw_h2_stream *st, int status, const char *lines, size_t len,
                           const char *name)
{
    struct gw_buf b;
    gw_buf_init(&b, len + 1);
    size_t nl = strlen(name);
    int rc = 0;
    size_t i = 0;
    while (i < len && rc == 0) {
        const char *e = memchr(lines + i, '\n', len - i);
        size_t end = e ? (size_t)(e - lines) + 1 : len;
        if (!(end - i > nl && lines[i + nl] == ':' && strncasecmp(lines + i, name, nl) == 0))
            rc = gw_buf_append(&b, lines + i, end - i);
        i = end;
    }
    if (rc == 0)
        rc = gw_h2_stream_respond(st, status, b.data ? b.data : "", b.len, true, false);
    gw_buf_free(&b);
    return rc;
}

/* The response head the proxy built (HTTP/1.1 text in r->rhead): its status and fields. */
static int submit_head(struct gw_request *r, const char *p, size_t n)
{
    struct h2_req *hr = hreq(r);
    if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0)
        return GW_EINVAL;
    int status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    const char *eol = memchr(p, '\n', n);
    if (!eol)
        return GW_EINVAL;
    const char *lines = eol + 1;
    size_t len = n - (size_t)(lines - p);
    /* Without the empty line that ends the head. */
    if (len >= 2 && lines[len - 2] == '\r' && lines[len - 1] == '\n')
        len -= 2;
    bool has_body = r->out != GW_OUT_NONE;
    bool chunked = r->out == GW_OUT_CHUNKED;
    if (r->ext_connect) {
        if (r->upgraded) {
            /* RFC 8441 5: the upstream's 101 is a 200 on the stream, which then carries the
             * WebSocket's bytes; the accept belongs to the HTTP/1.1 handshake only. */
            status = 200;
            r->status = 200;
            has_body = true;
            chunked = false;
            return respond_without(hr->st, status, lines, len, "sec-websocket-accept");
        }
        if (status >= 200 && status < 300) {
            /* A 2xx to an extended CONNECT opens the tunnel in the client's eyes: from an
             * upstream that did not switch protocols it would be a lie. */
            gw_log_warn("HTTP/2 extended CONNECT answered %d without switching protocols "
                        "(request %s): stream reset",
                        status, r->id);
            return GW_EUPGARBAGE;
        }
    }
    return gw_h2_stream_respond(hr->st, status, lines, len, has_body, chunked);
}

static int ds_send(struct gw_request *r, uv_buf_t *bufs, unsigned n)
{
    struct h2_req *hr = hreq(r);
    if (!hr->st)
        return GW_EUPRESET; /* the stream is gone: the proxy aborts */
    int result = 1;
    for (unsigned i = 0; i < n; i++) {
        r->bytes_out += bufs[i].len;
        if (!hr->st->responded) {
            /* The first buffer is the head (r->rhead). */
            int rc = submit_head(r, bufs[i].base, bufs[i].len);
            if (rc < 0)
                return rc;
            continue;
        }
        if (bufs[i].len == 0)
            continue;
        int rc = gw_h2_stream_write(hr->st, bufs[i].base, bufs[i].len);
        if (rc < 0)
            return rc;
        if (rc == 0)
            result = 0;
    }
    schedule(hr->c);
    return result;
}

static void ds_finish(struct gw_request *r)
{
    struct h2_req *hr = hreq(r);
    if (hr->st)
        gw_h2_stream_end(hr->st);
    request_end(r, false);
}

static void ds_abort(struct gw_request *r)
{
    struct h2_req *hr = hreq(r);
    gw_proxy_abort(r);
    if (hr->st)
        gw_h2_stream_reset(hr->st, NGHTTP2_INTERNAL_ERROR);
    request_end(r, true);
}

static size_t ds_body_peek(struct gw_request *r, const char **p)
{
    struct h2_req *hr = hreq(r);
    if (!hr->st) {
        *p = NULL;
        return 0;
    }
    return gw_h2_stream_body_peek(hr->st, p);
}

static void ds_body_consume(struct gw_request *r, size_t n)
{
    struct h2_req *hr = hreq(r);
    if (!hr->head_gone) {
        /* The proxy's first consume is the head's bytes (in the HTTP/1 downstream they
         * precede the body in one buffer); here the head lives in the stream. */
        hr->head_gone = true;
        return;
    }
    if (!hr->st)
        return;
    gw_h2_stream_body_hold(hr->st, false);
    gw_h2_stream_body_consume(hr->st, n);
    schedule(hr->c);
}

static int ds_body_want(struct gw_request *r)
{
    struct h2_req *hr = hreq(r);
    if (!hr->st)
        return GW_EBODYTIMEOUT;
    gw_h2_stream_body_hold(hr->st, false);
    gw_h2_stream_body_wait(hr->st); /* timeouts.client_body, per stream (on_timeout) */
    schedule(hr->c);
    return 0;
}

static void ds_body_hold(struct gw_request *r)
{
    struct h2_req *hr = hreq(r);
    if (hr->st)
        gw_h2_stream_body_hold(hr->st, true);
}

static int ds_send_continue(struct gw_request *r)
{
    /* An HTTP/2 client sends its body without waiting for a 100 (RFC 9113 8.1). */
    (void)r;
    return 0;
}

static void on_backoff(uv_timer_t *t)
{
    struct backoff *b = t->data;
    if (b->r)
        gw_proxy_retry_now(b->r);
}

static void ds_defer(struct gw_request *r, uint64_t ms)
{
    struct h2_req *hr = hreq(r);
    if (!hr->backoff) {
        hr->backoff = calloc(1, sizeof *hr->backoff);
        if (!hr->backoff) {
            gw_proxy_retry_now(r); /* no timer: retry at once */
            return;
        }
        uv_timer_init(&r->w->loop, &hr->backoff->t);
        hr->backoff->t.data = hr->backoff;
        hr->backoff->r = r;
    }
    uv_timer_start(&hr->backoff->t, on_backoff, ms, 0);
}

static void ds_trailers(struct gw_request *r, const char *lines, size_t len)
{
    struct h2_req *hr = hreq(r);
    if (hr->st && gw_h2_stream_trailers(hr->st, lines, len) < 0)
        gw_log_info("client %s: trailers dropped: out of memory (request %s)", hr->c->peer, r->id);
}

static int ds_detach(struct gw_request *r, uv_stream_t **s, const char **rest, size_t *rest_len,
                     struct gw_tls_stream **tls)
{
    (void)tls;
    /* No protocol switch inside a stream (RFC 9113 8.6). */
    (void)r;
    (void)s;
    (void)rest;
    (void)rest_len;
    return GW_EINVAL;
}

/* RFC 8441: the upstream switched to WebSocket for an extended CONNECT; the 200 went out. The
 * stream becomes the client side of a tunnel (conn/h2_tunnel.c) and the request ends. */
static int ds_tunnel(struct gw_request *r, uv_stream_t *up, const char *to_client, size_t n,
                     const struct gw_tunnel_info *info)
{
    struct h2_req *hr = hreq(r);
    if (!hr->st || r->ext_connect != GW_H2_EXT_WEBSOCKET) {
        gw_tls_stream_free(info->upstream_tls);
        return GW_EINVAL;
    }
    int rc = gw__h2_tunnel_start(hr->c, &hr->c->h2->tunnels, hr->st, up, to_client, n, info);
    if (rc < 0)
        return rc;
    /* The handshake's bytes: the tunnel counts its own. */
    r->bytes_in = hr->st->bytes_in;
    hr->st = NULL; /* the tunnel's now: finish neither ends nor releases it */
    return 0;
}

static const struct gw_downstream_ops h2_downstream = {
    .respond = ds_respond,
    .send = ds_send,
    .finish = ds_finish,
    .abort = ds_abort,
    .body_peek = ds_body_peek,
    .body_consume = ds_body_consume,
    .body_want = ds_body_want,
    .body_hold = ds_body_hold,
    .send_continue = ds_send_continue,
    .defer = ds_defer,
    .detach = ds_detach,
    .trailers = ds_trailers,
    .tunnel = ds_tunnel,
};
