/*
 * Client connections: accept, buffers, timeouts, writes, close.
 *
 * Timeouts use one timer per connection whose meaning follows the state: until the first
 * request's head is complete it is the header timeout (counted from accept or from the
 * first byte, never reset by later bytes, which is what cuts a slowloris client); between
 * requests it is the idle timeout; while a request body is awaited it is the body timeout,
 * reset whenever body bytes arrive.
 */
#include "conn/conn.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control/snapshot.h"
#include "core/error.h"
#include "core/log.h"
#include "core/random.h"
#include "net/listen.h"
#include "policy/policy.h"
#include "runtime/server.h"
#include "runtime/worker.h"

#define CONN_BUF_SIZE 16384
#define LINGER_MS 2000

enum {
    TIMER_HEADER = 1,
    TIMER_IDLE,
    TIMER_BODY,
    TIMER_LINGER,
    TIMER_SEND,
    TIMER_BACKOFF
};

static const struct gw_config *conn_cfg(const struct gw_conn *c)
{
    return c->w->snap->cfg;
}

static void conn_free(struct gw_conn *c)
{
    free(c->in);
    gw_buf_free(&c->out);
    free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct gw_conn *c = h->data;
    if (--c->open_handles == 0) {
        struct gw_worker *w = c->w;
        conn_free(c);
        gw_worker_maybe_finish(w);
    }
}

void gw_request_free(struct gw_request *r)
{
    if (!r)
        return;
    gw_policy_cancel(r);
    gw_identity_clear(&r->identity);
    gw_buf_free(&r->head);
    gw_buf_free(&r->rhead);
    free(r->upath);
    free(r->npath);
    if (r->snap)
        gw_snapshot_unref(r->snap);
    r->conn->w->active--;
    free(r);
}

static void close_now(struct gw_conn *c)
{
    struct gw_worker *w = c->w;
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    gw_list_remove(&c->link);
    w->nconns--;
    atomic_fetch_sub(&w->server->nconns, 1);
}

void gw_conn_close(struct gw_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    if (c->req) {
        struct gw_request *r = c->req;
        gw_proxy_abort(r);
        if (r->dispatched)
            gw_access_log(c, r);
        c->req = NULL;
        gw_request_free(r);
    }
    close_now(c);
}

static void timer_start(struct gw_conn *c, int kind, uint64_t ms);

static void on_linger_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct gw_conn *c = s->data;
    (void)buf;
    c->in_len = c->in_off = 0; /* discard */
    if (nread < 0 && !c->closing) {
        c->closing = true;
        uv_timer_stop(&c->timer);
        close_now(c);
    }
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct gw_conn *c = req->data;
    free(req);
    if (c->closing)
        return;
    if (status < 0) {
        c->closing = true;
        close_now(c);
    }
}

/*
 * Closing right after the last response while the client may still be sending (pipelined
 * requests we will not serve, an unread body) would make the kernel answer with RST, which
 * can destroy the response in the client's receive buffer. So: shut down our side, read and
 * discard for a short while, then close (nginx's lingering close).
 */
static void close_gracefully(struct gw_conn *c)
{
    if (c->closing || c->lingering)
        return;
    if (c->req) {
        gw_conn_close(c);
        return;
    }
    uv_shutdown_t *sreq = malloc(sizeof(*sreq));
    if (!sreq || uv_shutdown(sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        free(sreq);
        gw_conn_close(c);
        return;
    }
    sreq->data = c;
    c->lingering = true;
    c->in_len = c->in_off = 0;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
    timer_start(c, TIMER_LINGER, LINGER_MS);
    gw_conn_read_start(c);
}

static void on_timer(uv_timer_t *t)
{
    struct gw_conn *c = t->data;
    struct gw_request *r = c->req;
    switch (c->timer_kind) {
    case TIMER_HEADER:
        /* Nothing received at all: close silently. A partial head gets its 408. */
        if (r && c->in_len > c->in_off) {
            gw_log_info("client %s: header timeout, %zu bytes of an incomplete head", c->peer,
                        c->in_len - c->in_off);
            r->keep_alive = false;
            gw_conn_respond_error(c, GW_EHDRTIMEOUT, true);
        } else {
            gw_conn_close(c);
        }
        break;
    case TIMER_BODY:
        gw_log_info("client %s: body timeout (request %s)", c->peer, r ? r->id : "-");
        if (r && !r->resp_started) {
            gw_proxy_abort(r);
            r->keep_alive = false;
            gw_conn_respond_error(c, GW_EBODYTIMEOUT, true);
        } else {
            gw_conn_close(c);
        }
        break;
    case TIMER_BACKOFF:
        if (r)
            gw_proxy_retry_now(r);
        break;
    case TIMER_SEND:
        gw_log_info("client %s: not reading our response; closing", c->peer);
        gw_conn_close(c);
        break;
    case TIMER_IDLE:
    case TIMER_LINGER:
    default:
        if (c->lingering) {
            c->closing = true;
            close_now(c);
        } else {
            gw_conn_close(c);
        }
        break;
    }
}

static void timer_start(struct gw_conn *c, int kind, uint64_t ms)
{
    c->timer_kind = (uint8_t)kind;
    uv_timer_start(&c->timer, on_timer, ms, 0);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct gw_conn *c = h->data;
    (void)suggested;
    if (!c->in) {
        c->in = malloc(CONN_BUF_SIZE);
        c->in_cap = c->in ? CONN_BUF_SIZE : 0;
        c->in_len = c->in_off = 0;
    }
    struct gw_request *r = c->req;
    if (r && r->dispatched && (!r->head_built || r->body_writing)) {
        /* The head's slices (until the upstream head is built) or a pending write point
         * into the buffer: it must not move. What is left of it is all we can offer; when
         * nothing is left, reading pauses (UV_ENOBUFS in on_read). */
        buf->base = c->in + c->in_len;
        buf->len = c->in_cap - c->in_len;
        return;
    }
    if (c->in_len == c->in_cap && c->in_off > 0) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    if (c->in_len == c->in_cap && c->in) {
        /* Only a message head grows the buffer, up to the limits the parser enforces. */
        const struct gw_config *cfg = conn_cfg(c);
        size_t max = (size_t)cfg->http.max_request_line + cfg->http.max_header_bytes + 1024;
        if (c->in_cap < max) {
            size_t ncap = c->in_cap * 2 < max ? c->in_cap * 2 : max;
            char *p = realloc(c->in, ncap);
            if (p) {
                c->in = p;
                c->in_cap = ncap;
            }
        }
    }
    buf->base = c->in ? c->in + c->in_len : NULL;
    buf->len = c->in ? c->in_cap - c->in_len : 0;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct gw_conn *c = s->data;
    struct gw_request *r = c->req;
    (void)buf;
    if (nread == 0 || c->closing)
        return;
    if (nread == UV_ENOBUFS) {
        gw_conn_read_stop(c); /* resumed when the request frees buffer space */
        return;
    }
    if (nread == UV_EOF && r && r->dispatched) {
        /* A client may shut its side after sending its request: answer it. If body bytes
         * are still missing, the proxy notices when it needs them (peer_eof). */
        c->peer_eof = true;
        gw_conn_read_stop(c);
        if (!r->body_done)
            gw_proxy_client_input(r);
        return;
    }
    if (nread < 0) {
        if (r && r->dispatched && nread != UV_EOF)
            gw_log_info("client %s: read error %s (request %s)", c->peer, uv_strerror((int)nread),
                        r->id);
        gw_conn_close(c);
        return;
    }
    c->in_len += (size_t)nread;
    if (r && r->dispatched) {
        r->bytes_in += (uint64_t)nread;
        gw_proxy_client_input(r);
    } else {
        gw_conn_process(c);
    }
}

void gw_conn_read_start(struct gw_conn *c)
{
    if (c->reading || c->closing || c->peer_eof)
        return;
    int rc =
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, c->lingering ? on_linger_read : on_read);
    if (rc == 0)
        c->reading = true;
}

void gw_conn_read_stop(struct gw_conn *c)
{
    if (!c->reading)
        return;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
}

static struct gw_request *request_new(struct gw_conn *c)
{
    const struct gw_config *cfg = conn_cfg(c);
    uint32_t cap = cfg->http.max_headers;
    /* The header arrays are written by the parser before they are read: only the fixed
     * part needs zeroing. */
    struct gw_request *r = malloc(sizeof(*r) + 2 * (size_t)cap * sizeof(r->headers[0]));
    if (!r)
        return NULL;
    memset(r, 0, sizeof(*r));
    r->conn = c;
    r->snap = c->w->snap;
    gw_snapshot_ref(r->snap);
    r->headers_capacity = cap;
    r->msg.headers = r->headers;
    r->msg.headers_capacity = cap;
    r->rmsg.headers = r->headers + cap;
    r->rmsg.headers_capacity = cap;
    r->t_start = uv_hrtime();
    gw_http1_parser_init_request(&r->parser, &cfg->http);
    gw_buf_init(&r->head, (size_t)cfg->http.max_header_bytes * 2 + 4096);
    gw_buf_init(&r->rhead, (size_t)cfg->http.max_header_bytes * 2 + 4096);
    c->w->active++;
    return r;
}

static void process_once(struct gw_conn *c)
{
    if (c->closing || c->lingering || (c->req && c->req->dispatched))
        return;
    if (c->in_off == c->in_len) {
        c->in_off = c->in_len = 0;
        if (!c->req) {
            /* Idle: give the buffer back; an idle connection costs only its handles. */
            free(c->in);
            c->in = NULL;
            c->in_cap = 0;
            if (c->w->stopping || c->peer_eof) {
                close_gracefully(c);
                return;
            }
            if (c->requests > 0)
                timer_start(c, TIMER_IDLE, conn_cfg(c)->timeouts.client_idle_ms);
        }
        gw_conn_read_start(c);
        return;
    }
    struct gw_request *r = c->req;
    if (!r) {
        r = request_new(c);
        if (!r) {
            gw_conn_close(c);
            return;
        }
        c->req = r;
        if (c->requests > 0 || c->timer_kind != TIMER_HEADER)
            timer_start(c, TIMER_HEADER, conn_cfg(c)->timeouts.client_header_ms);
    }
    int rc = gw_http1_parse_request(&r->parser, c->in + c->in_off, c->in_len - c->in_off, &r->msg);
    if (rc == GW_HTTP1_PARTIAL) {
        if (c->peer_eof) {
            gw_conn_close(c);
            return;
        }
        gw_conn_read_start(c);
        return;
    }
    uv_timer_stop(&c->timer);
    r->dispatched = true;
    r->bytes_in = r->msg.head_len;
    if (rc < 0) {
        r->keep_alive = false;
        gw_log_info("client %s: rejected request: %s (%s)", c->peer, gw_strerror(rc),
                    gw_err_name(rc));
        gw_conn_respond_error(c, rc, true);
        return;
    }
    gw_request_dispatch(c, r);
}

void gw_conn_process(struct gw_conn *c)
{
    /* A request answered inline (say a pipelined burst of probes) finishes inside this call:
     * request_done -> process -> dispatch -> respond -> request_done would recurse once per
     * buffered request. Loop instead. */
    if (c->processing) {
        c->process_again = true;
        return;
    }
    c->processing = true;
    do {
        c->process_again = false;
        process_once(c);
    } while (c->process_again && !c->closing);
    c->processing = false;
}

int gw_conn_write(struct gw_conn *c, uv_buf_t *bufs, unsigned nbufs, uv_write_cb cb)
{
    int n = uv_try_write((uv_stream_t *)&c->tcp, bufs, nbufs);
    if (n == UV_EAGAIN)
        n = 0;
    if (n < 0)
        return n;
    size_t left = (size_t)n;
    unsigned i = 0;
    while (i < nbufs && left >= bufs[i].len) {
        left -= bufs[i].len;
        i++;
    }
    if (i == nbufs)
        return 1;
    bufs[i].base += left;
    bufs[i].len -= left;
    uv_write_t *wr = malloc(sizeof(*wr));
    if (!wr)
        return GW_ENOMEM;
    wr->data = c;
    int rc = uv_write(wr, (uv_stream_t *)&c->tcp, bufs + i, nbufs - i, cb);
    if (rc < 0) {
        free(wr);
        return rc;
    }
    c->writing = true;
    return 0;
}

void gw_conn_request_done(struct gw_conn *c)
{
    struct gw_request *r = c->req;
    if (!r)
        return;
    gw_access_log(c, r);
    /* A request answered by gantry itself still owns its head bytes; a proxied one gave
     * them up when the upstream head was built. */
    if (!r->head_built && r->msg.head_len && c->in_off + r->msg.head_len <= c->in_len)
        c->in_off += r->msg.head_len;
    bool keep = r->keep_alive && !c->w->stopping;
    c->req = NULL;
    gw_request_free(r);
    c->requests++;
    if (!keep) {
        close_gracefully(c);
        return;
    }
    gw_conn_process(c);
}

static void respond_done(struct gw_conn *c, int status)
{
    c->writing = false;
    if (c->closing)
        return;
    if (status < 0) {
        gw_conn_close(c);
        return;
    }
    if (c->req) {
        gw_conn_request_done(c);
    } else {
        close_gracefully(c);
    }
}

static void on_respond_written(uv_write_t *req, int status)
{
    struct gw_conn *c = req->data;
    free(req);
    respond_done(c, status);
}

static const char *status_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 417:
        return "Expectation Failed";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

void gw_conn_respond(struct gw_conn *c, int status, const char *extra_headers, const char *body,
                     size_t body_len, bool close_after)
{
    struct gw_request *r = c->req;
    struct gw_buf *b = &c->out;
    if (c->closing)
        return;
    if (r) {
        /* A body we did not read would be parsed as the next request: close instead. */
        if (r->dispatched && !r->body_done && r->msg.body != GW_BODY_NONE)
            close_after = true;
        if (!r->dispatched || !r->msg.keep_alive)
            close_after = true;
        r->status = status;
        r->resp_started = true;
        r->keep_alive = !close_after;
    }
    if (c->w->stopping)
        close_after = true;
    gw_buf_free(b);
    gw_buf_init(b, 65536 + body_len);
    int rc = gw_buf_appendf(b, "HTTP/1.1 %d %s\r\n", status, status_reason(status));
    if (rc == 0 && body_len)
        rc = gw_buf_append_str(b, "Content-Type: application/json\r\n");
    if (rc == 0)
        rc = gw_buf_appendf(b, "Content-Length: %zu\r\n", body_len);
    if (rc == 0 && r && r->id[0])
        rc = gw_buf_appendf(b, "X-Request-ID: %s\r\n", r->id);
    if (rc == 0 && close_after)
        rc = gw_buf_append_str(b, "Connection: close\r\n");
    else if (rc == 0 && r && r->msg.minor_version == 0)
        rc = gw_buf_append_str(b, "Connection: keep-alive\r\n");
    if (rc == 0 && extra_headers)
        rc = gw_buf_append_str(b, extra_headers);
    /* A request a rate limit counted carries its headers on every answer, gantry's own too. */
    if (rc == 0 && r && r->rl_headers[0])
        rc = gw_buf_append_str(b, r->rl_headers);
    if (rc == 0)
        rc = gw_buf_append(b, "\r\n", 2);
    bool head_only = r && r->dispatched && r->msg.method_id == GW_METHOD_HEAD;
    if (rc == 0 && body_len && !head_only)
        rc = gw_buf_append(b, body, body_len);
    if (rc < 0) {
        gw_conn_close(c);
        return;
    }
    if (r)
        r->bytes_out += b->len;
    uv_buf_t ub = uv_buf_init(b->data, (unsigned)b->len);
    rc = gw_conn_write(c, &ub, 1, on_respond_written);
    if (rc < 0)
        gw_conn_close(c);
    else if (rc == 1)
        respond_done(c, 0);
    else /* a client that does not read gets the idle timeout to take our answer */
        timer_start(c, TIMER_SEND, conn_cfg(c)->timeouts.client_idle_ms);
}

void gw_conn_respond_error(struct gw_conn *c, int err, bool close_after)
{
    struct gw_request *r = c->req;
    char body[512];
    char id[33];
    int status = gw_err_http_status(err);
    if (r && !r->id[0])
        gw_random_request_id(r->id);
    if (!r)
        gw_random_request_id(id); /* refused before any request: still traceable in logs */
    int n = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"status\":%d,\"request_id\":\"%s\"}",
                     gw_strerror(err), status, r ? r->id : id);
    const char *extra = NULL;
    if (status == 503)
        extra = "Retry-After: 1\r\n";
    gw_conn_respond(c, status, extra, body, (size_t)n, close_after);
}

static void conn_start(struct gw_worker *w, struct gw_conn *c)
{
    uv_timer_init(&w->loop, &c->timer);
    c->timer.data = c;
    c->open_handles = 2;
    gw_list_insert_tail(&w->conns, &c->link);
    w->nconns++;
    unsigned total = atomic_fetch_add(&w->server->nconns, 1) + 1;
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0 &&
        gw_net_peer_ip(fd, c->peer, sizeof(c->peer)) < 0)
        c->peer[0] = '\0';
    uv_tcp_nodelay(&c->tcp, 1);
    if (total > conn_cfg(c)->max_connections) {
        gw_log_warn("client %s: refused, %u connections open (max_connections %u)", c->peer,
                    total - 1, conn_cfg(c)->max_connections);
        gw_conn_respond_error(c, GW_ECONNLIMIT, true);
        return;
    }
    timer_start(c, TIMER_HEADER, conn_cfg(c)->timeouts.client_header_ms);
    gw_conn_read_start(c);
}

static struct gw_conn *conn_new(struct gw_worker *w)
{
    struct gw_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->w = w;
    uv_tcp_init(&w->loop, &c->tcp);
    c->tcp.data = c;
    c->open_handles = 1;
    gw_list_init(&c->link);
    return c;
}

void gw_conn_accept(struct gw_worker *w)
{
    struct gw_conn *c = conn_new(w);
    if (!c)
        return;
    if (uv_accept((uv_stream_t *)&w->listener, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
        return;
    }
    conn_start(w, c);
}

void gw_conn_adopt(struct gw_worker *w, int fd)
{
    struct gw_conn *c = conn_new(w);
    if (!c) {
        close(fd);
        return;
    }
    if (uv_tcp_open(&c->tcp, fd) != 0) {
        close(fd);
        uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
        return;
    }
    conn_start(w, c);
}

/* Timer used by the proxy between a failed try and its retry. The client timer is free
 * then: retries only happen once the request (which has no body) was read whole. */
void gw__conn_backoff_timer(struct gw_conn *c, uint64_t ms);
void gw__conn_backoff_timer(struct gw_conn *c, uint64_t ms)
{
    timer_start(c, TIMER_BACKOFF, ms);
}

/* Timer used by the proxy while it waits for the client's request body. */
void gw__conn_body_timer(struct gw_conn *c, bool on);
void gw__conn_body_timer(struct gw_conn *c, bool on)
{
    if (on)
        timer_start(c, TIMER_BODY, conn_cfg(c)->timeouts.client_body_ms);
    else if (c->timer_kind == TIMER_BODY)
        uv_timer_stop(&c->timer);
}
