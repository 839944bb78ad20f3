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
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "audit/audit.h"
#include "conn/access_log.h"
#include "conn/background.h"
#include "conn/internal.h"
#include "conn/request_metrics.h"
#include "control/snapshot.h"
#include "core/error.h"
#include "core/log.h"
#include "http1/names.h"
#include "metrics/hub.h"
#include "net/listen.h"
#include "net/unsent.h"
#include "net/write.h"
#include "policy/answer.h"
#include "policy/chain.h"
#include "policy/client_addr.h"
#include "runtime/server-t.h"
#include "runtime/worker-t.h"
#include "state/token_cache.h"
#include "trace/trace.h"
#include "upstream/proxy.h"

#define LINGER_MS 2000

enum {
    TIMER_HEADER = 1,
    TIMER_IDLE,
    TIMER_BODY,
    TIMER_LINGER,
    TIMER_SEND,
    TIMER_UNSENT,
    TIMER_BACKOFF
};

static void conn_process(struct gw_conn *c);

static const struct gw_config *conn_cfg(const struct gw_conn *c)
{
    return c->w->snap->cfg;
}

/* Gives the read buffer back: to the worker's cache when it has the size the cache holds
 * (a message head may have grown it). */
static void release_in(struct gw_conn *c)
{
    if (c->in_cap == GW_CONN_BUF_SIZE)
        gw_bufcache_put(&c->w->conn_bufs, c->in);
    else
        free(c->in);
    c->in = NULL;
    c->in_cap = 0;
}

/* Writers of an answer's fixed fields into room reserved beforehand: each returns the end. */
#define put_lit(p, lit) (memcpy((p), (lit), sizeof(lit) - 1), (p) + sizeof(lit) - 1)

static inline char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static inline char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(p, tmp + i, sizeof tmp - i);
    return p + sizeof tmp - i;
}

/* Gives the buffer of gantry's last answer back: a client-buffer-sized one to the worker's
 * kept buffers (whichever allocator made it), any other to free. */
static void release_out(struct gw_conn *c)
{
    if (c->out.data && c->out.cap == GW_CONN_BUF_SIZE) {
        gw_bufcache_put(&c->w->conn_bufs, c->out.data);
        c->out.data = NULL;
        c->out.len = c->out.cap = 0;
        return;
    }
    gw_buf_free(&c->out);
}

static void conn_free(struct gw_conn *c)
{
    gw__h2_free(c);
    gw__conn_tls_free(c);
    release_in(c);
    release_out(c);
    free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct gw_conn *c = h->data;
    if (--c->open_handles == 0)
        conn_free(c);
}

/* A request with room for cap header fields in each of its two messages. */
static size_t request_size(uint32_t cap)
{
    return sizeof(struct gw_request) + 2 * (size_t)cap * sizeof(struct gw_http1_header);
}

void gw__request_release(struct gw_request *r)
{
    gw_identity_clear(&r->identity);
    gw_buf_free(&r->head);
    gw_buf_free(&r->rhead);
    gw_request_path_free(r, r->upath);
    gw_request_path_free(r, r->npath);
    if (r->snap)
        gw_snapshot_unref(r->snap);
    r->w->active--;
}

/* A head buffer stays with a cached request up to this capacity (the usual heads are far
 * smaller; one grown by large headers is given back). */
#define SPARE_HEAD_MAX 4096

/* Moves b's memory to *p (poisoned while kept) when keep allows and it is small, else *p is
 * NULL and b keeps it (gw__request_release frees it). */
static void spare_head(struct gw_buf *b, char **p, size_t *cap, bool keep)
{
    *p = NULL;
    *cap = 0;
    if (!keep || !b->data || b->cap > SPARE_HEAD_MAX)
        return;
    *p = b->data;
    *cap = b->cap;
    GW_BUFCACHE_POISON(b->data, b->cap);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* Gives b the kept memory p (NULL: none), emptied. */
static void reuse_head(struct gw_buf *b, char *p, size_t cap)
{
    if (!p)
        return;
    GW_BUFCACHE_UNPOISON(p, cap);
    if (cap > b->max) { /* a reload lowered the bound */
        free(p);
        return;
    }
    b->data = p;
    b->cap = cap;
}

/* Frees every request kept in the cache, with its head buffers. */
static void requests_clear(struct gw_bufcache *kept)
{
    while (kept->n > 0) {
        struct gw_request *r = gw_bufcache_get(kept);
        if (r->spare_head)
            GW_BUFCACHE_UNPOISON(r->spare_head, r->spare_head_cap);
        if (r->spare_rhead)
            GW_BUFCACHE_UNPOISON(r->spare_rhead, r->spare_rhead_cap);
        free(r->spare_head);
        free(r->spare_rhead);
        free(r);
    }
}

void gw_conn_requests_clear(struct gw_worker *w)
{
    requests_clear(&w->request_bufs);
}

void gw__request_free(struct gw_request *r)
{
    if (!r)
        return;
    gw_policy_cancel(r);
    if (r->scrape)
        gw_metrics_scrape_cancel(r->scrape);
    if (r->idp)
        gw__idp_serve_free(r);
    if (r->hubpub)
        gw__hub_publish_free(r);
    /* The worker keeps the request's memory, and its head buffers with it, for the next one
     * (two reallocs and two frees less per request); a request the cache has no room for
     * frees them. */
    struct gw_bufcache *kept = &r->w->request_bufs;
    bool cache = request_size(r->headers_capacity) == kept->size;
    bool keep = cache && kept->n < GW_BUFCACHE_MAX;
    spare_head(&r->head, &r->spare_head, &r->spare_head_cap, keep);
    spare_head(&r->rhead, &r->spare_rhead, &r->spare_rhead_cap, keep);
    gw__request_release(r);
    if (cache)
        gw_bufcache_put(kept, r);
    else
        free(r);
}

static void close_now(struct gw_conn *c)
{
    struct gw_worker *w = c->w;
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    if (c->tls)
        gw__conn_tls_close(c, on_handle_closed);
    if (c->h2)
        gw__h2_close_handles(c, on_handle_closed);
    gw_list_remove(&c->link);
    w->nconns--;
    gw_mx_add(&w->mx.active, (uint64_t)-1);
    atomic_fetch_sub(&w->server->nconns, 1);
    /* The drain waits for the last connection: the worker finishes on its next wakeup. */
    if (w->stopping && w->nconns == 0 && !uv_is_closing((uv_handle_t *)&w->wakeup))
        uv_async_send(&w->wakeup);
}

/*
 * A request's bytes from the client (bytes_in, docs/config.md), before it is logged: what it took
 * from the input buffer (ds_body_consume: its head once the proxy or an endpoint copied it, then
 * its body as it came, chunk framing included), plus what was read for it and left there: a head
 * gantry answered without giving it up, and the part of an unread body that had arrived (the
 * answer did not wait for it, so the connection closes and those bytes are dropped with it; a
 * body with a length counts up to its length, the rest would be the next request's).
 */
static void settle_bytes_in(const struct gw_conn *c, struct gw_request *r)
{
    size_t left = c->in ? c->in_len - c->in_off : 0;
    size_t head = r->head_built ? 0 : r->msg.head_len;
    if (head) {
        r->bytes_in += head;
        left = left > head ? left - head : 0;
    }
    if (r->body_done || r->msg.body == GW_BODY_NONE || left == 0)
        return;
    if (r->msg.body == GW_BODY_LENGTH) {
        /* body bytes consumed so far */
        uint64_t read = r->bytes_in > r->msg.head_len ? r->bytes_in - r->msg.head_len : 0;
        uint64_t rest = r->msg.content_length > read ? r->msg.content_length - read : 0;
        if (left > rest)
            left = (size_t)rest;
    }
    r->bytes_in += left;
}

void gw_conn_close(struct gw_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    if (c->req) {
        struct gw_request *r = c->req;
        gw_proxy_abort(r);
        if (r->dispatched) {
            settle_bytes_in(c, r);
            gw_request_metrics(r);
            gw_access_log(r);
        }
        if (r->trace)
            gw_trace_end(r, true);
        c->req = NULL;
        gw__request_free(r);
    }
    if (c->h2)
        gw__h2_abort_all(c);
    close_now(c);
}

static void timer_start(struct gw_conn *c, int kind, uint64_t ms);
static void send_timer_start(struct gw_conn *c);

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
void gw__conn_close_gracefully(struct gw_conn *c)
{
    if (c->closing || c->lingering)
        return;
    if (c->req || c->detached || (c->h2 && gw__h2_busy(c))) {
        /* A detached socket lives on in its tunnel: a shutdown would end the tunnel too. */
        gw_conn_close(c);
        return;
    }
    if (c->tls)
        gw__conn_tls_shutdown(c); /* close_notify, queued before the FIN */
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

/* The client did not take our answer within a client_idle period: reset rather than close,
 * so that what is left of the answer does not pin kernel memory behind its zero window, and
 * the client learns of the close (net/unsent.h). */
static void close_not_reading(struct gw_conn *c)
{
    uv_os_fd_t fd;
    gw_log_info("client %s: not reading our response; closing", c->peer);
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
        (void)gw_net_reset_on_close(fd);
    gw_conn_close(c);
}

/* An idle connection times out, or a lingering close ends. Our last answers may still sit
 * unread in the kernel (a client that pipelined and then stopped both sending and reading):
 * then a FIN would queue behind them unseen (after a lingering close's shutdown it already
 * does, and the close would leave the socket orphaned with them). Wait another client_idle
 * period while the client takes them (TIMER_UNSENT measures its progress; a lingering
 * connection goes on discarding what it reads), and reset if it takes nothing. */
static void close_idle(struct gw_conn *c)
{
    uv_os_fd_t fd;
    size_t unsent = uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0 ? gw_net_unsent(fd) : 0;
    /* A drain does not wait for a slow reader's last answers: the kernel delivers them. */
    if (unsent == 0 || (c->lingering && c->w->stopping)) {
        if (c->lingering) {
            c->closing = true;
            close_now(c);
        } else {
            gw_conn_close(c);
        }
        return;
    }
    if (c->timer_kind == TIMER_UNSENT && unsent >= c->unsent) {
        close_not_reading(c);
        return;
    }
    c->unsent = unsent;
    timer_start(c, TIMER_UNSENT, conn_cfg(c)->timeouts.client_idle_ms);
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
            gw__conn_error(c, GW_EHDRTIMEOUT, true);
        } else {
            close_idle(c);
        }
        break;
    case TIMER_BODY:
        gw_log_info("client %s: body timeout (request %s)", c->peer, r ? r->id : "-");
        if (r && !r->resp_started) {
            gw_proxy_abort(r);
            r->keep_alive = false;
            gw__conn_error(c, GW_EBODYTIMEOUT, true);
        } else {
            gw_conn_close(c);
        }
        break;
    case TIMER_BACKOFF:
        if (r)
            gw_proxy_retry_now(r);
        break;
    case TIMER_SEND:
        /* A slow but steady reader of one long write (a large cache HIT) is not dropped:
         * client_idle bounds a client that took nothing of it since the timer was armed. */
        if (c->tcp.write_queue_size < c->unsent) {
            send_timer_start(c);
            break;
        }
        close_not_reading(c);
        break;
    case TIMER_IDLE:
        /* Left running through the requests since it was armed (idle_start): busy now, or
         * idle for less than client_idle since the last request, it is not due yet. */
        if (c->req)
            break;
        if (!c->lingering) {
            uint64_t idle_ms = conn_cfg(c)->timeouts.client_idle_ms;
            uint64_t since = uv_now(&c->w->loop) - c->idle_at;
            if (since < idle_ms) {
                gw_log_debug("client %s: idle timer early (%llu of %llu ms idle), re-armed",
                             c->peer, (unsigned long long)since, (unsigned long long)idle_ms);
                uv_timer_start(&c->timer, on_timer, idle_ms - since, 0);
                break;
            }
        }
        close_idle(c);
        break;
    case TIMER_UNSENT:
    case TIMER_LINGER:
    default:
        close_idle(c);
        break;
    }
}

static void timer_start(struct gw_conn *c, int kind, uint64_t ms)
{
    c->timer_kind = (uint8_t)kind;
    uv_timer_start(&c->timer, on_timer, ms, 0);
}

/* A write of ours waits for the client: TIMER_SEND for client_idle, with what libuv still
 * queues for the socket, to see progress when it fires. */
static void send_timer_start(struct gw_conn *c)
{
    c->unsent = c->tcp.write_queue_size;
    timer_start(c, TIMER_SEND, conn_cfg(c)->timeouts.client_idle_ms);
}

/* The connection goes idle. A TIMER_IDLE still running from an earlier idle period is left
 * as it is (on_timer re-arms it from idle_at when it comes early): keep-alive requests do not
 * restart the timer, two heap operations each. */
static void idle_start(struct gw_conn *c)
{
    c->idle_at = uv_now(&c->w->loop);
    if (c->timer_kind != TIMER_IDLE || !uv_is_active((uv_handle_t *)&c->timer))
        timer_start(c, TIMER_IDLE, conn_cfg(c)->timeouts.client_idle_ms);
}

void gw__conn_timer_idle(struct gw_conn *c)
{
    idle_start(c);
}

void gw__conn_timer_send(struct gw_conn *c)
{
    send_timer_start(c);
}

void gw__conn_timer_stop(struct gw_conn *c)
{
    uv_timer_stop(&c->timer);
    c->timer_kind = 0;
}

void gw__conn_room(struct gw_conn *c, uv_buf_t *buf)
{
    if (!c->in) {
        c->in = gw_bufcache_get(&c->w->conn_bufs);
        c->in_cap = c->in ? GW_CONN_BUF_SIZE : 0;
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

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    gw__conn_room(h->data, buf);
}

/* Body bytes (or the client's EOF) for a dispatched request: the proxy takes them once the
 * policy chain let the request through; until then they wait in the buffer. */
static void client_input(struct gw_conn *c, struct gw_request *r)
{
    if (r->idp || (r->hubpub && r->passed)) {
        if (c->timer_kind == TIMER_BODY)
            uv_timer_stop(&c->timer);
        if (r->idp)
            gw__idp_serve_input(r);
        else
            gw__hub_publish_input(r);
        return;
    }
    if (!r->passed)
        return;
    if (c->timer_kind == TIMER_BODY)
        uv_timer_stop(&c->timer);
    if (!r->body_done)
        gw_proxy_client_input(r);
}

void gw__conn_input(struct gw_conn *c, ssize_t nread)
{
    struct gw_request *r = c->req;
    if (nread == 0 || c->closing)
        return;
    if (c->h2) {
        gw__h2_input(c, nread);
        return;
    }
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
            client_input(c, r);
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
        client_input(c, r);
    } else {
        conn_process(c);
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    gw__conn_input(s->data, nread);
}

void gw_conn_read_start(struct gw_conn *c)
{
    if (c->reading || c->closing || c->peer_eof)
        return;
    int rc;
    if (c->lingering)
        rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_linger_read);
    else if (c->tls)
        rc = gw__conn_tls_read_start(c);
    else
        rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
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

struct gw_request *gw__request_new(struct gw_conn *c)
{
    const struct gw_config *cfg = conn_cfg(c);
    uint32_t cap = cfg->http.max_headers;
    /* The header arrays are written by the parser before they are read: only the fixed
     * part needs zeroing. */
    size_t size = request_size(cap);
    struct gw_bufcache *kept = &c->w->request_bufs;
    if (kept->size != size) { /* max_headers changed with a reload: the kept ones do not fit */
        requests_clear(kept);
        gw_bufcache_init(kept, size);
    }
    bool reused = kept->n > 0;
    struct gw_request *r = gw_bufcache_get(kept);
    if (!r)
        return NULL;
    /* The stage arena is handed out zeroed piece by piece: no need to clear it here. */
    memset(r, 0, offsetof(struct gw_request, arena));
    r->trace_id[0] = '\0';
    r->ds = &gw_conn_downstream;
    r->downstream = c;
    r->w = c->w;
    r->peer = c->peer;
    r->secure = c->tls != NULL;
    if (c->tls)
        r->client_tls = gw__conn_tls_client_cert(c, &r->client_subject, &r->client_san);
    r->snap = c->w->snap;
    gw_snapshot_ref(r->snap);
    r->mx = gw_metrics_area_of(r->snap->metrics, c->w->id);
    r->headers_capacity = cap;
    r->msg.headers = r->headers;
    r->msg.headers_capacity = cap;
    r->rmsg.headers = r->headers + cap;
    r->rmsg.headers_capacity = cap;
    r->t_start = uv_hrtime();
    gw_http1_parser_init_request(&r->parser, &cfg->http);
    gw_buf_init(&r->head, (size_t)cfg->http.max_header_bytes * 2 + 4096);
    gw_buf_init(&r->rhead, (size_t)cfg->http.max_header_bytes * 2 + 4096);
    if (reused) {
        reuse_head(&r->head, r->spare_head, r->spare_head_cap);
        reuse_head(&r->rhead, r->spare_rhead, r->spare_rhead_cap);
    }
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
            release_in(c);
            if (c->w->stopping || c->peer_eof) {
                gw__conn_close_gracefully(c);
                return;
            }
            if (c->requests > 0)
                idle_start(c);
        }
        gw_conn_read_start(c);
        return;
    }
    struct gw_request *r = c->req;
    /* Prior-knowledge HTTP/2 on the plain listener ("http2.cleartext"): the client's first
     * bytes are the connection preface (RFC 9113 3.4). Only a new connection is looked at. */
    if (c->requests == 0 && !r && conn_cfg(c)->http2.cleartext && !c->tls) {
        int pk = gw__h2_preface(c->in + c->in_off, c->in_len - c->in_off);
        if (pk > 0) {
            gw__h2_start(c);
            return;
        }
        if (pk == 0) { /* a prefix of it: wait for more */
            gw_conn_read_start(c);
            return;
        }
    }
    if (!r) {
        r = gw__request_new(c);
        if (!r) {
            gw_conn_close(c);
            return;
        }
        c->req = r;
    }
    int rc = gw_http1_parse_request(&r->parser, c->in + c->in_off, c->in_len - c->in_off, &r->msg);
    if (rc == GW_HTTP1_PARTIAL) {
        if (c->peer_eof) {
            gw_conn_close(c);
            return;
        }
        /* The header timeout runs from the head's first bytes, which are here now: armed
         * only when the head is not whole at once (a head that is costs no timer restart),
         * and not again for its later pieces (nor for a connection's first request, whose
         * timer runs since the accept). */
        if (c->timer_kind != TIMER_HEADER || !uv_is_active((uv_handle_t *)&c->timer))
            timer_start(c, TIMER_HEADER, conn_cfg(c)->timeouts.client_header_ms);
        gw_conn_read_start(c);
        return;
    }
    /* The head is whole: its header timer stops; an idle timer may run on (it ignores a busy
     * connection, idle_start). */
    if (c->timer_kind != TIMER_IDLE)
        uv_timer_stop(&c->timer);
    r->dispatched = true;
    if (rc < 0) {
        r->keep_alive = false;
        gw_log_info("client %s: rejected request: %s (%s)", c->peer, gw_strerror(rc),
                    gw_err_name(rc));
        gw__conn_error(c, rc, true);
        return;
    }
    gw__request_dispatch(r);
}

static void conn_process(struct gw_conn *c)
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

/* Writes bufs to the client: inline when the socket takes it all, else with a write request
 * whose completion calls cb. Returns 1 if written inline, 0 if pending, <0 error. The write
 * request is allocated only when a write has to wait (an idle connection carries none); cb
 * receives it with data = the connection and must free it. */
int gw__conn_write(struct gw_conn *c, uv_buf_t *bufs, unsigned nbufs, uv_write_cb cb)
{
    unsigned i;
    if (c->tls) {
        int rc = gw__conn_tls_write(c, bufs, nbufs, cb);
        if (rc == 0)
            c->writing = true;
        return rc;
    }
    int n = gw_net_try_write((uv_stream_t *)&c->tcp, bufs, nbufs, &i);
    if (n != 0)
        return n;
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

/* The request finished (response fully written): log it, then serve the next one or close. */
static void request_done(struct gw_conn *c)
{
    struct gw_request *r = c->req;
    if (!r)
        return;
    settle_bytes_in(c, r);
    gw_request_metrics(r);
    gw_access_log(r);
    if (r->trace)
        gw_trace_end(r, false);
    /* A request answered by gantry itself still owns its head bytes; a proxied one gave
     * them up when the upstream head was built. */
    if (!r->head_built && r->msg.head_len && c->in_off + r->msg.head_len <= c->in_len)
        c->in_off += r->msg.head_len;
    bool keep = r->keep_alive && !c->w->stopping;
    c->req = NULL;
    gw__request_free(r);
    c->requests++;
    if (!keep) {
        gw__conn_close_gracefully(c);
        return;
    }
    conn_process(c);
}

static void respond_done(struct gw_conn *c, int status)
{
    c->writing = false;
    release_out(c);
    if (c->closing)
        return;
    if (status < 0) {
        gw_conn_close(c);
        return;
    }
    if (c->req) {
        request_done(c);
    } else {
        gw__conn_close_gracefully(c);
    }
}

static void on_respond_written(uv_write_t *req, int status)
{
    struct gw_conn *c = req->data;
    free(req);
    respond_done(c, status);
}

static void respond(struct gw_conn *c, int status, const char *extra_headers, const char *body,
                    size_t body_len, bool close_after, bool json);

void gw__conn_respond(struct gw_conn *c, int status, const char *extra_headers, const char *body,
                      size_t body_len, bool close_after)
{
    respond(c, status, extra_headers, body, body_len, close_after, true);
}

void gw__conn_respond_raw(struct gw_conn *c, int status, const char *headers, const char *body,
                          size_t body_len, bool close_after)
{
    respond(c, status, headers, body, body_len, close_after, false);
}

static void respond(struct gw_conn *c, int status, const char *extra_headers, const char *body,
                    size_t body_len, bool close_after, bool json)
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
    /* One buffer for the whole answer (the fixed fields below take well under 1 KiB; a
     * policy's longer head grows the buffer as usual): the worker's kept client buffers serve
     * every answer that fits one, so a HIT or a 429 costs no allocation. */
    size_t extra_len = extra_headers ? strlen(extra_headers) : 0;
    size_t need = 1024 + extra_len + body_len;
    release_out(c);
    gw_buf_init(b, 65536 + body_len);
    if (need <= GW_CONN_BUF_SIZE) {
        b->data = gw_bufcache_get(&c->w->conn_bufs);
        b->cap = b->data ? GW_CONN_BUF_SIZE : 0;
    }
    int rc = gw_buf_reserve(b, need);
    if (rc < 0) {
        gw_conn_close(c);
        return;
    }
    char *p = b->data;
    const char *reason = gw_http_reason(status);
    p = put_lit(p, "HTTP/1.1 ");
    p = put_u64(p, (uint64_t)status);
    *p++ = ' ';
    p = put_str(p, reason ? reason : "");
    p = put_lit(p, "\r\n");
    /* Gantry's answers are JSON, unless the caller names its own type (the metrics). */
    if (json && body_len && !(extra_headers && strncmp(extra_headers, "Content-Type:", 13) == 0))
        p = put_lit(p, "Content-Type: application/json\r\n");
    /* RFC 9110 8.6: no Content-Length in a 204 (a preflight's answer); in a 304 (the cache's
     * answer to a conditional request) only the 200's length could be sent: none is. */
    if (status != 204 && status != 304) {
        p = put_lit(p, "Content-Length: ");
        p = put_u64(p, body_len);
        p = put_lit(p, "\r\n");
    }
    if (r && r->id[0]) {
        p = put_lit(p, "X-Request-ID: ");
        p = put_str(p, r->id);
        p = put_lit(p, "\r\n");
    }
    if (close_after)
        p = put_lit(p, "Connection: close\r\n");
    else if (r && r->msg.minor_version == 0)
        p = put_lit(p, "Connection: keep-alive\r\n");
    b->len = (size_t)(p - b->data);
    if (rc == 0 && extra_headers)
        rc = gw_buf_append(b, extra_headers, extra_len);
    /* The stages' headers (rate limits) go on every answer, gantry's own too. */
    if (rc == 0 && r && r->dispatched)
        rc = gw_policy_response_headers(r, b);
    /* Response policies that cover gantry's answers outside the stages (security headers on
     * a 404, a 400, a refused connection): policy/answer.h. */
    if (rc == 0)
        rc = gw_policy_answer_headers(r ? r->snap->policy : c->w->snap->policy, r,
                                      r ? r->secure : false, b);
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
    rc = gw__conn_write(c, &ub, 1, on_respond_written);
    if (rc < 0)
        gw_conn_close(c);
    else if (rc == 1)
        respond_done(c, 0);
    else /* a client that does not read gets the idle timeout to take our answer */
        send_timer_start(c);
}

/* refuse: 0, or the error to answer with and close (no request is read). */
static void conn_start(struct gw_worker *w, struct gw_conn *c, int refuse)
{
    uv_timer_init(&w->loop, &c->timer);
    c->timer.data = c;
    c->open_handles++; /* the timer */
    gw_list_insert_tail(&w->conns, &c->link);
    w->nconns++;
    gw_mx_inc(&w->mx.accepted);
    gw_mx_inc(&w->mx.active);
    unsigned total = atomic_fetch_add(&w->server->nconns, 1) + 1;
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0 &&
        gw_net_peer_ip(fd, c->peer, sizeof(c->peer)) < 0)
        c->peer[0] = '\0';
    uv_tcp_nodelay(&c->tcp, 1);
    if (refuse == 0 && total > conn_cfg(c)->max_connections) {
        /* A flood past the limit must not flood the log too: one line a second. */
        static struct gw_log_limit lim = {.interval_ms = 1000};
        gw_log_limited(&lim, GW_LOG_LEVEL_WARN,
                       "client %s: refused, %u connections open (max_connections %u)", c->peer,
                       total - 1, conn_cfg(c)->max_connections);
        refuse = GW_ECONNLIMIT;
    }
    if (refuse < 0) {
        gw__conn_error(c, refuse, true);
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

static void adopt(struct gw_worker *w, int fd, int refuse, bool tls)
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
    /* A TLS connection that cannot get its session (out of memory, or a reload switched TLS
     * off) is closed unanswered: there is no channel to answer on. */
    if (tls && gw__conn_tls_init(c) < 0) {
        uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
        return;
    }
    conn_start(w, c, refuse);
}

void gw_conn_adopt(struct gw_worker *w, int fd)
{
    adopt(w, fd, 0, false);
}

void gw_conn_adopt_tls(struct gw_worker *w, int fd)
{
    adopt(w, fd, 0, true);
}

void gw_conn_refuse(struct gw_worker *w, int fd)
{
    adopt(w, fd, GW_ECONNLIMIT, false);
}

/* ---- the downstream interface (conn/request-t.h) of HTTP/1 requests -----------------------------
 */

/* The audit log's authentication events (audit/audit.h): every 403 gantry answers is an entry;
 * a 401 counts toward the repeated-401 entry of its client. Off: one load and a test. */
void gw__conn_audit_answer(struct gw_request *r, const struct gw_answer *a)
{
    int status = a->status ? a->status : gw_err_http_status(a->err);
    if (status != 401 && status != 403)
        return;
    if (!gw_audit_wants(status == 403 ? GW_AUDIT_EV_FORBIDDEN : GW_AUDIT_EV_UNAUTHORIZED))
        return;
    if (r->client_ip[0] == '\0' && !r->head_built)
        gw_policy_client_ip(r);
    const char *client = r->client_ip[0] ? r->client_ip : r->peer && r->peer[0] ? r->peer : "-";
    if (status == 401) {
        gw_audit_unauthorized(client, r->path);
        return;
    }
    char object[300];
    snprintf(object, sizeof object, "route:%s %s", r->method, r->path);
    json_t *d = json_pack("{s:s, s:s*, s:s*, s:s}", "error", gw_err_name(a->err), "service",
                          r->svc && r->svc->conf ? r->svc->conf->name : NULL, "reason", a->reason,
                          "request_id", r->id);
    char *detail = d ? json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    struct gw_audit_actor actor = {.key = r->identity.consumer, .addr = client, .via = "proxy"};
    struct gw_audit_record rec = {.actor = &actor,
                                  .action = "auth.forbidden",
                                  .object = object,
                                  .detail = detail,
                                  .status = 403};
    gw_audit_record(&rec);
    free(detail);
    json_decref(d);
}

static void ds_respond(struct gw_request *r, const struct gw_answer *a)
{
    gw__conn_audit_answer(r, a);
    gw__conn_answer(gw_conn_of(r), a);
}

static void on_client_written(uv_write_t *req, int status)
{
    struct gw_conn *c = req->data;
    free(req);
    struct gw_request *r = c->req;
    c->writing = false;
    if (c->closing || !r)
        return;
    if (c->timer_kind == TIMER_SEND)
        uv_timer_stop(&c->timer);
    if (status < 0)
        gw_log_info("client %s: write failed: %s (request %s)", c->peer, uv_strerror(status),
                    r->id);
    gw_proxy_sent(r, status);
}

static int ds_send(struct gw_request *r, uv_buf_t *bufs, unsigned n)
{
    struct gw_conn *c = gw_conn_of(r);
    int rc = gw__conn_write(c, bufs, n, on_client_written);
    /* A client that does not take the answer gets the idle timeout to do so (unless it is
     * still sending its body: the body timeout then covers it). */
    if (rc == 0 && !(c->timer_kind == TIMER_BODY && uv_is_active((uv_handle_t *)&c->timer)))
        send_timer_start(c);
    return rc;
}

static void ds_finish(struct gw_request *r)
{
    request_done(gw_conn_of(r));
}

static void ds_abort(struct gw_request *r)
{
    gw_conn_close(gw_conn_of(r));
}

static size_t ds_body_peek(struct gw_request *r, const char **p)
{
    struct gw_conn *c = gw_conn_of(r);
    *p = c->in + c->in_off;
    return c->in_len - c->in_off;
}

static void ds_body_consume(struct gw_request *r, size_t n)
{
    struct gw_conn *c = gw_conn_of(r);
    r->bytes_in += n; /* the head (its first consume), then body bytes with their framing */
    c->in_off += n;
    if (c->in_off == c->in_len)
        c->in_off = c->in_len = 0;
}

static int ds_body_want(struct gw_request *r)
{
    struct gw_conn *c = gw_conn_of(r);
    if (c->peer_eof) {
        gw_log_info("client %s: closed before its request body was complete (request %s)", c->peer,
                    r->id);
        return GW_EBODYTIMEOUT;
    }
    if (c->in_off == c->in_len)
        c->in_off = c->in_len = 0;
    timer_start(c, TIMER_BODY, conn_cfg(c)->timeouts.client_body_ms);
    gw_conn_read_start(c);
    return 0;
}

static void ds_body_hold(struct gw_request *r)
{
    gw_conn_read_stop(gw_conn_of(r));
}

static int ds_send_continue(struct gw_request *r)
{
    /* A 25-byte write to an idle socket completes inline; if it did not, the client sends
     * anyway after its own short wait. Part of it going out would break the stream. */
    uv_buf_t cont = uv_buf_init("HTTP/1.1 100 Continue\r\n\r\n", 25);
    if (gw_conn_of(r)->tls)
        return gw__conn_tls_send_raw(gw_conn_of(r), cont.base, cont.len);
    int w = uv_try_write((uv_stream_t *)&gw_conn_of(r)->tcp, &cont, 1);
    return w == 25 || w == UV_EAGAIN ? 0 : GW_EUPRESET;
}

/* The retry backoff. The client timer is free then: retries only happen once the request
 * (which has no body) was read whole. */
static void ds_defer(struct gw_request *r, uint64_t ms)
{
    timer_start(gw_conn_of(r), TIMER_BACKOFF, ms);
}

static int ds_detach(struct gw_request *r, uv_stream_t **s, const char **rest, size_t *rest_len,
                     struct gw_tls_stream **tls)
{
    struct gw_conn *c = gw_conn_of(r);
    /* Over TLS the session goes with the socket: ciphertext still queued on our handle would
     * be lost with it (and the records after it undecryptable), so nothing may be. */
    if (c->closing || c->detached || (c->tls && c->tcp.write_queue_size > 0))
        return GW_EINVAL;
    *tls = c->tls ? gw__conn_tls_take(c) : NULL;
    c->detached = true;
    r->keep_alive = false;
    gw_conn_read_stop(c);
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_timer_stop(&c->timer);
    *s = (uv_stream_t *)&c->tcp;
    *rest = c->in ? c->in + c->in_off : NULL;
    *rest_len = c->in ? c->in_len - c->in_off : 0;
    return 0;
}

const struct gw_downstream_ops gw_conn_downstream = {
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
    .background = gw_background_start,
};

void gw_conn_force_stop(struct gw_conn *c)
{
    if (c->h2 && !c->closing && gw__h2_force_stop(c))
        return;
    gw_conn_close(c);
}

void gw_conn_going_away(struct gw_conn *c)
{
    if (c->h2)
        gw__h2_going_away(c);
}
