/*
 * The admin listener and its connections, on the control thread's loop.
 *
 * A connection serves one request at a time: the head is parsed in place in a fixed input
 * buffer (so the parser's slices stay valid until the response is written), the body (Content-
 * Length or chunked, at most GW__ADMIN_MAX_BODY bytes) is decoded into its own buffer, the
 * endpoint runs synchronously, and reading stays stopped until the response is written.
 * Pipelined requests wait in the input buffer. Timeouts: 10 s for a head from its first byte
 * and between two reads of a body (408), 60 s idle between keep-alive requests (closed quietly).
 */
#include "admin/admin.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "audit/audit.h"
#include "control/snapshot.h"
#include "core/error.h"
#include "core/list.h"
#include "core/log.h"
#include "http1/chunked.h"
#include "http1/names.h"
#include "net/acceptor.h"
#include "net/listen.h"
#include "observe/observe.h"
#include "registry/registry.h"
#include "runtime/server.h"

#define ADMIN_IN_CAP (64u * 1024)    /* a head is at most ~40 KiB with the default limits */
#define ADMIN_HEAD_TIMEOUT_MS 10000  /* first byte of a head to its end; gap between body reads */
#define ADMIN_IDLE_TIMEOUT_MS 60000  /* keep-alive wait for the next request */
#define ADMIN_WRITE_TIMEOUT_MS 30000 /* a response the client does not read */
#define ADMIN_MAX_CONNS 64
#define ADMIN_LINGER_MS 2000         /* reading and dropping input after an error answer */
#define ADMIN_MAX_OUT (64u << 20)    /* largest response (the route table of a huge config) */
#define ADMIN_MAX_STREAMS 16         /* live access-log streams at once */
#define STREAM_TICK_MS 1000          /* the live log is sent once a second */
#define STREAM_KEEPALIVE_TICKS 15    /* a comment line after this many quiet ticks */
#define STREAM_MAX_QUEUED (1u << 20) /* a stream whose client reads slower loses records */

enum phase {
    PHASE_HEAD = 0, /* waiting for (the rest of) a head */
    PHASE_BODY,     /* reading a body */
    PHASE_WRITE,    /* a response is being written */
    PHASE_IDLE,     /* keep-alive, nothing buffered */
    PHASE_LINGER,   /* answered and shut down for writing: input is dropped until EOF */
    PHASE_STREAM,   /* a live access-log stream: written to once a second until EOF */
    PHASE_WAIT,     /* a handler answers later (gw__admin_defer): not reading */
};

/* A peer that sent KEY_FAILURE_MAX wrong keys within KEY_FAILURE_WINDOW_MS gets 429 until
 * the window ends; KEY_FAILURE_SLOTS peers are tracked (the oldest entry is reused). */
#define KEY_FAILURE_SLOTS 64
#define KEY_FAILURE_MAX 30
#define KEY_FAILURE_WINDOW_MS 60000

struct gw_admin {
    struct gw_server *server;
    struct gw_acceptor acceptor; /** the listening socket */
    struct gw_list conns;
    size_t nconns;
    bool loopback;   /** the listener is bound to a loopback address */
    char *start_key; /** admin.api_key when the listener was bound (see effective_key) */
    struct gw_registry *registry; /** backend registrations (admin_registry.c) */
    /** registrations shared through Redis (registration.redis), or NULL */
    struct gw_registry_share *share;
    /** peers whose recent requests carried a wrong key (see key_refused) */
    struct key_failures {
        char peer[48];
        uint32_t count;
        uint64_t since_ms;
    } failures[KEY_FAILURE_SLOTS];
    struct gw_list streams; /** connections in PHASE_STREAM */
    size_t nstreams;
    uv_timer_t tail_timer; /** runs while a stream is open */
    unsigned open_handles; /** the acceptor and tail_timer: a is freed after both closed */
    unsigned ticks;
    struct gw_tail_record *recs; /** the records of one tick (allocated by the first stream) */
    size_t recs_cap;
};

struct admin_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wreq;
    uv_write_t creq; /** "100 Continue" */
    uv_shutdown_t sreq;
    struct gw_admin *a;
    struct gw_list link;
    struct gw_http1_parser parser;
    struct gw_http1_message msg;
    struct gw_http1_header headers[GW_HTTP1_DEFAULT_MAX_HEADERS];
    struct gw_chunked_decoder dec;
    struct gw_buf body;
    struct gw_buf out;
    /** the body of the answer being written, sent after out's head without being copied
     *  into it (a scrape of a large configuration is megabytes) */
    struct gw_buf out_body;
    uint64_t body_left; /** Content-Length bytes still to read */
    unsigned open_handles;
    enum phase phase;
    bool head_done;
    bool closing;
    bool close_after;             /** close once the response is written */
    struct gw_list slink;         /** in a->streams while streaming */
    struct gw_tail_filter filter; /** what a stream sends */
    uint64_t stream_dropped;      /** records this stream lost and has not been told of */
    unsigned quiet_ticks;
    struct gw__admin_later *later; /** the deferred answer awaited, or NULL */
    char peer[48];
    size_t in_len;
    char in[ADMIN_IN_CAP];
};

static void process(struct admin_conn *c);
static void stream_start(struct admin_conn *c, struct gw__admin_resp *rs);

/* ---- helpers --------------------------------------------------------------------------------- */

void gw__admin_json(struct gw__admin_resp *rs, int status, json_t *json)
{
    json_decref(rs->json);
    rs->status = status;
    rs->json = json;
}

void gw__admin_error(struct gw__admin_resp *rs, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    gw__admin_json(rs, status, json_pack("{s:s, s:i}", "error", msg, "status", status));
}

/* The key requests must carry: the running config's; when it has none but the listener is off
 * loopback (a reload dropped the key), the key the listener was bound with, so a reload can
 * rotate the key but never open a non-loopback listener. NULL: no key required. */
static const char *effective_key(struct gw_admin *a)
{
    struct gw_snapshot *snap = gw_server_snapshot(a->server);
    const char *key = snap && snap->cfg ? snap->cfg->admin.api_key : NULL;
    if (key == NULL && !a->loopback)
        key = a->start_key;
    return key;
}

/* ---- connection lifecycle -------------------------------------------------------------------- */

static void on_conn_handle_closed(uv_handle_t *h)
{
    struct admin_conn *c = h->data;
    if (--c->open_handles > 0)
        return;
    gw_buf_free(&c->body);
    gw_buf_free(&c->out);
    gw_buf_free(&c->out_body);
    free(c);
}

static void conn_close(struct admin_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    if (c->phase == PHASE_STREAM) {
        gw_list_remove(&c->slink);
        gw_tail_unwatch(c->a->server->tail);
        if (--c->a->nstreams == 0)
            uv_timer_stop(&c->a->tail_timer);
    }
    if (c->later != NULL) { /* its answer is dropped when it comes */
        c->later->c = NULL;
        c->later = NULL;
    }
    gw_list_remove(&c->link);
    c->a->nconns--;
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

static void on_timeout(uv_timer_t *t);

static void set_phase(struct admin_conn *c, enum phase p)
{
    static const uint64_t timeout_ms[] = {
        [PHASE_HEAD] = ADMIN_HEAD_TIMEOUT_MS,   [PHASE_BODY] = ADMIN_HEAD_TIMEOUT_MS,
        [PHASE_WRITE] = ADMIN_WRITE_TIMEOUT_MS, [PHASE_IDLE] = ADMIN_IDLE_TIMEOUT_MS,
        [PHASE_LINGER] = ADMIN_LINGER_MS,       [PHASE_STREAM] = 0,
        [PHASE_WAIT] = ADMIN_WRITE_TIMEOUT_MS,
    };
    c->phase = p;
    if (p == PHASE_STREAM) /* a stream ends when its client goes or a write fails */
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timeout, timeout_ms[p], 0);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct admin_conn *c = h->data;
    buf->base = c->in + c->in_len;
    buf->len = ADMIN_IN_CAP - c->in_len;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static void read_start(struct admin_conn *c)
{
    if (!c->closing && c->in_len < ADMIN_IN_CAP)
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* ---- responses ------------------------------------------------------------------------------- */

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)req;
    (void)status;
}

/* Closing a socket with unread input makes the kernel send RST, which can destroy the answer
 * before the client reads it (RFC 9112 9.6). So after an answer that ends the connection, shut
 * down the write side and drop what still arrives, until EOF or a short timeout. */
static void linger(struct admin_conn *c)
{
    c->in_len = 0;
    set_phase(c, PHASE_LINGER);
    if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        conn_close(c);
        return;
    }
    read_start(c);
}

static void on_written(uv_write_t *req, int status)
{
    struct admin_conn *c = req->data;
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (c->close_after) {
        linger(c);
        return;
    }
    /* The request's head (its body was already taken out of the buffer) leaves; a pipelined
     * request may follow it. */
    size_t used = c->msg.head_len;
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
    c->head_done = false;
    gw_http1_parser_init_request(&c->parser, NULL);
    gw_buf_reset(&c->body);
    gw_buf_reset(&c->out);
    gw_buf_free(&c->out_body);
    set_phase(c, c->in_len > 0 ? PHASE_HEAD : PHASE_IDLE);
    read_start(c);
    process(c);
}

/* Writes rs (and frees its JSON). close_after: the connection ends with this response. The head
 * is formatted into c->out; the body (rs->text, or the JSON's text) is handed to the write as it
 * is and freed once written. libuv writes what the socket takes now and the rest as the client
 * reads, so a large answer to a slow client never holds the control thread. */
static void respond(struct admin_conn *c, struct gw__admin_resp *rs, bool close_after)
{
    char *body = NULL;
    const char *ctype = "application/json";
    size_t blen = 0;
    bool text = rs->json == NULL && rs->content_type != NULL;
    if (text) {
        body = rs->text.data; /* owned by rs->text until handed to c->out_body below */
        blen = rs->text.len;
        ctype = rs->content_type;
    } else if (rs->json) {
        body = json_dumps(rs->json, JSON_INDENT(2) | JSON_REAL_PRECISION(GW_OBSERVE_REAL_DIGITS));
    }
    json_decref(rs->json);
    rs->json = NULL;
    if (body == NULL && !text) {
        rs->status = 500;
        body = strdup("{\"error\": \"out of memory\", \"status\": 500}");
    }
    if (c->head_done && !c->msg.keep_alive)
        close_after = true;
    c->close_after = close_after;
    if (!text)
        blen = body ? strlen(body) : 0;
    size_t nl = body && !text ? 1 : 0; /* JSON bodies end with a line feed */
    bool head_only = (c->head_done && c->msg.method_id == GW_METHOD_HEAD) || rs->status == 304;
    char clen[48] = "";
    if (rs->status != 304) /* a 304 has no body, and its length would be the 200's */
        snprintf(clen, sizeof clen, "Content-Length: %zu\r\n", blen + nl);
    gw_buf_reset(&c->out);
    gw_buf_free(&c->out_body);
    int rc = gw_buf_appendf(&c->out,
                            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                            "%sCache-Control: %s\r\n%s%s\r\n",
                            rs->status, gw_http_reason(rs->status), ctype, clen,
                            rs->cache_control ? rs->cache_control : "no-store", rs->headers,
                            close_after ? "Connection: close\r\n" : "");
    if (text) {
        c->out_body = rs->text;
        gw_buf_init(&rs->text, 0);
    } else {
        gw_buf_init(&c->out_body, 0);
        c->out_body.data = body; /* json_dumps's, freed with free() as gw_buf_free does */
        c->out_body.len = c->out_body.cap = blen;
    }
    if (head_only)
        c->out_body.len = 0;
    static char line_feed[] = "\n";
    uv_buf_t b[3] = {uv_buf_init(c->out.data, (unsigned)c->out.len),
                     uv_buf_init(c->out_body.data, (unsigned)c->out_body.len),
                     uv_buf_init(line_feed, 1)};
    unsigned nb = c->out_body.len > 0 ? (nl ? 3 : 2) : 1;
    if (rc < 0 || c->out_body.len + nl > ADMIN_MAX_OUT - c->out.len) {
        conn_close(c);
        return;
    }
    uv_read_stop((uv_stream_t *)&c->tcp);
    set_phase(c, PHASE_WRITE);
    c->wreq.data = c;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, b, nb, on_written) < 0)
        conn_close(c);
}

static void respond_error(struct admin_conn *c, int status, const char *msg, bool close_after)
{
    struct gw__admin_resp rs = {0};
    gw__admin_error(&rs, status, "%s", msg);
    respond(c, &rs, close_after);
}

static void on_timeout(uv_timer_t *t)
{
    struct admin_conn *c = t->data;
    if (c->phase == PHASE_IDLE || c->phase == PHASE_WRITE || c->phase == PHASE_LINGER ||
        c->phase == PHASE_WAIT || (c->phase == PHASE_HEAD && c->in_len == 0)) {
        conn_close(c);
        return;
    }
    const char *what = c->phase == PHASE_BODY ? "timed out reading request body"
                                              : "timed out reading request header";
    respond_error(c, 408, what, true);
}

/* ---- live access-log streams (Server-Sent Events) ---------------------------------------------
 */

struct stream_write {
    uv_write_t req;
    struct admin_conn *c;
    char data[];
};

static void on_stream_written(uv_write_t *req, int status)
{
    struct stream_write *w = req->data;
    struct admin_conn *c = w->c;
    free(w);
    if (status < 0)
        conn_close(c);
}

/* Queues b's bytes on a stream (copied: each write owns its buffer until it completes). */
static void stream_send(struct admin_conn *c, const struct gw_buf *b)
{
    if (b->len == 0 || c->closing)
        return;
    struct stream_write *w = malloc(sizeof *w + b->len);
    if (w == NULL) {
        conn_close(c);
        return;
    }
    memcpy(w->data, b->data, b->len);
    w->c = c;
    w->req.data = w;
    uv_buf_t ub = uv_buf_init(w->data, (unsigned)b->len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &ub, 1, on_stream_written) < 0) {
        free(w);
        conn_close(c);
    }
}

/* Once a second while a stream is open: the records of every worker since the last tick, each
 * stream's share (its filter) as one "log" event holding a JSON array; a "dropped" event when
 * records were lost (a full ring, or a client too slow to keep up); a comment line now and
 * then so that proxies and the browser see the connection alive. */
static void on_tail_tick(uv_timer_t *t)
{
    struct gw_admin *a = t->data;
    uint64_t dropped = 0;
    size_t n = gw_tail_take(a->server->tail, a->recs, a->recs_cap, &dropped);
    struct gw_buf b;
    gw_buf_init(&b, 16u << 20);
    for (struct gw_list *it = a->streams.next; it != &a->streams;) {
        struct admin_conn *c = gw_container_of(it, struct admin_conn, slink);
        it = it->next; /* stream_send may close c */
        gw_buf_reset(&b);
        c->stream_dropped += dropped;
        size_t sent = 0;
        int rc = 0;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            if (!gw_tail_filter_match(&c->filter, &a->recs[i]))
                continue;
            rc = gw_buf_append_str(&b, sent++ ? "," : "event: log\ndata: [");
            if (rc == 0)
                rc = gw_tail_record_json(&a->recs[i], &b);
        }
        if (rc == 0 && sent)
            rc = gw_buf_append_str(&b, "]\n\n");
        if (rc < 0 || uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > STREAM_MAX_QUEUED) {
            c->stream_dropped += sent;
            continue;
        }
        if (c->stream_dropped)
            gw_buf_appendf(&b, "event: dropped\ndata: {\"dropped\": %llu}\n\n",
                           (unsigned long long)c->stream_dropped);
        c->stream_dropped = 0;
        if (b.len == 0 && ++c->quiet_ticks >= STREAM_KEEPALIVE_TICKS)
            gw_buf_append_str(&b, ": keep-alive\n\n");
        if (b.len > 0)
            c->quiet_ticks = 0;
        stream_send(c, &b);
    }
    gw_buf_free(&b);
}

/* Turns c into a stream: the head, then events from on_tail_tick until the client leaves.
 * The response is delimited by the connection's end (no Content-Length, Connection: close). */
static void stream_start(struct admin_conn *c, struct gw__admin_resp *rs)
{
    struct gw_admin *a = c->a;
    struct gw_tail *tail = a->server->tail;
    json_decref(rs->json);
    rs->json = NULL;
    if (tail == NULL || a->nstreams >= ADMIN_MAX_STREAMS) {
        gw__admin_error(rs, 503, "too many live log streams (at most %d)", ADMIN_MAX_STREAMS);
        respond(c, rs, false);
        return;
    }
    if (a->recs == NULL) {
        a->recs_cap = (size_t)tail->nrings * GW_TAIL_RING;
        a->recs = calloc(a->recs_cap ? a->recs_cap : 1, sizeof *a->recs);
    }
    if (a->recs == NULL || gw_tail_watch(tail) < 0) {
        gw__admin_error(rs, 500, "out of memory");
        respond(c, rs, false);
        return;
    }
    c->filter = rs->filter;
    c->stream_dropped = 0;
    c->quiet_ticks = 0;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->in_len = 0;
    set_phase(c, PHASE_STREAM);
    gw_list_insert_tail(&a->streams, &c->slink);
    if (a->nstreams++ == 0)
        uv_timer_start(&a->tail_timer, on_tail_tick, STREAM_TICK_MS, STREAM_TICK_MS);
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                               "Cache-Control: no-store\r\nX-Accel-Buffering: no\r\n"
                               "Connection: close\r\n\r\nretry: 3000\n: streaming\n\n";
    struct gw_buf b;
    gw_buf_init(&b, sizeof head);
    if (gw_buf_append(&b, head, sizeof head - 1) < 0) {
        conn_close(c);
        return;
    }
    stream_send(c, &b);
    gw_buf_free(&b);
    /* Reading goes on only to notice the client leaving (EOF); input is dropped. */
    read_start(c);
}

/* ---- requests -------------------------------------------------------------------------------- */

static void log_request(struct admin_conn *c, int status)
{
    int level = c->msg.method_id == GW_METHOD_GET || c->msg.method_id == GW_METHOD_HEAD
                    ? GW_LOG_LEVEL_DEBUG
                    : GW_LOG_LEVEL_INFO;
    if (!gw_log_enabled(level))
        return;
    int tlen = (int)(c->msg.target_len > 200 ? 200 : c->msg.target_len);
    gw_log(level, "admin: %s %.*s %.*s %d", c->peer, (int)c->msg.method_len, c->msg.method, tlen,
           c->msg.target, status);
}

static struct key_failures *failures_of(struct gw_admin *a, const char *peer, bool add)
{
    struct key_failures *oldest = &a->failures[0];
    for (size_t i = 0; i < KEY_FAILURE_SLOTS; i++) {
        struct key_failures *f = &a->failures[i];
        if (f->count > 0 && strcmp(f->peer, peer) == 0)
            return f;
        if (f->since_ms < oldest->since_ms)
            oldest = f;
    }
    if (!add)
        return NULL;
    memset(oldest, 0, sizeof *oldest);
    snprintf(oldest->peer, sizeof oldest->peer, "%s", peer);
    return oldest;
}

/* Seconds until peer may try a key again (0: now). */
static uint64_t key_blocked(struct admin_conn *c)
{
    uint64_t now = uv_now(c->tcp.loop);
    struct key_failures *f = failures_of(c->a, c->peer, false);
    if (f == NULL || f->count < KEY_FAILURE_MAX)
        return 0;
    if (now - f->since_ms >= KEY_FAILURE_WINDOW_MS) {
        f->count = 0;
        return 0;
    }
    return (KEY_FAILURE_WINDOW_MS - (now - f->since_ms) + 999) / 1000;
}

static void key_refused(struct admin_conn *c)
{
    uint64_t now = uv_now(c->tcp.loop);
    struct key_failures *f = failures_of(c->a, c->peer, true);
    if (f->count == 0 || now - f->since_ms >= KEY_FAILURE_WINDOW_MS) {
        f->count = 0;
        f->since_ms = now;
    }
    if (++f->count == KEY_FAILURE_MAX)
        gw_log_warn("admin: %s sent %u wrong API keys within %u s: refused for the rest of the "
                    "window",
                    c->peer, (unsigned)KEY_FAILURE_MAX, (unsigned)(KEY_FAILURE_WINDOW_MS / 1000));
}

static void serve(struct admin_conn *c)
{
    struct gw__admin_resp rs = {0};
    struct gw__admin_req rq = {0};
    const char *t = c->msg.target;
    size_t tlen = c->msg.target_len;
    const char *q = memchr(t, '?', tlen);

    const char *key = effective_key(c->a);
    struct gw__admin_slice given = {0};
    uint64_t wait_s = key != NULL ? key_blocked(c) : 0;
    if (wait_s > 0) {
        gw__admin_error(&rs, 429, "too many wrong API keys from this address; try again later");
        snprintf(rs.headers, sizeof rs.headers, "Retry-After: %llu\r\n",
                 (unsigned long long)wait_s);
        goto out;
    }
    if (key != NULL && !gw__admin_public_path(c->a->server, c->msg.method_id, t, tlen) &&
        (!gw__admin_request_key(&c->msg, &given) || !gw__admin_key_equal(key, given.p, given.n))) {
        key_refused(c);
        gw__admin_error(&rs, 401,
                        "missing or invalid admin API key (send \"Authorization: "
                        "Bearer KEY\" or \"X-API-Key: KEY\")");
        snprintf(rs.headers, sizeof rs.headers,
                 "WWW-Authenticate: Bearer realm=\"gantry admin\"\r\n");
        gw_audit_unauthorized(c->peer, "admin");
        goto out;
    }
    if (tlen == 0 || t[0] != '/') {
        gw__admin_error(&rs, 400, "the request target must be a path starting with '/'");
        goto out;
    }
    rq.method = c->msg.method_id == GW_METHOD_HEAD ? GW_METHOD_GET : c->msg.method_id;
    rq.path.p = t;
    rq.path.n = q ? (size_t)(q - t) : tlen;
    rq.query.p = q ? q + 1 : "";
    rq.query.n = q ? tlen - rq.path.n - 1 : 0;
    if (gw_buf_append(&c->body, "", 1) < 0) {
        gw__admin_error(&rs, 500, "out of memory");
        goto out;
    }
    rq.body = c->body.data;
    rq.msg = &c->msg;
    rq.body_len = c->body.len - 1;
    rq.conn = c;
    char kid[20];
    if (key != NULL)
        gw__admin_key_id(&given, kid);
    struct gw_audit_actor actor = {.key = key ? kid : NULL, .addr = c->peer, .via = "admin"};
    rq.actor = &actor;
    gw_audit_set_actor(&actor); /* what the handler records (and the reloads it causes) */
    gw__admin_dispatch(c->a->server, &rq, &rs);
    gw_audit_set_actor(NULL);
    if (rs.deferred && c->later != NULL) {
        struct gw__admin_later *l = c->later;
        l->in_serve = false;
        if (!l->done) {
            uv_read_stop((uv_stream_t *)&c->tcp);
            set_phase(c, PHASE_WAIT);
            return;
        }
        c->later = NULL; /* answered while the handler ran */
        rs = l->rs;
        free(l);
    }
    if (rs.stream && c->msg.method_id == GW_METHOD_GET) {
        log_request(c, rs.status);
        stream_start(c, &rs);
        return;
    }
out:
    log_request(c, rs.status);
    respond(c, &rs, false);
}

struct gw__admin_later *gw__admin_defer(const struct gw__admin_req *rq, struct gw__admin_resp *rs)
{
    struct admin_conn *c = rq->conn;
    if (c == NULL || c->later != NULL)
        return NULL;
    struct gw__admin_later *l = calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    l->c = c;
    l->in_serve = true;
    c->later = l;
    rs->deferred = true;
    return l;
}

void gw__admin_later_answer(struct gw__admin_later *l, struct gw__admin_resp *rs)
{
    if (l->in_serve) { /* the handler has not returned yet: serve() sends it */
        l->rs = *rs;
        l->done = true;
        return;
    }
    struct admin_conn *c = l->c;
    free(l);
    if (c == NULL) { /* the client left */
        json_decref(rs->json);
        gw_buf_free(&rs->text);
        return;
    }
    c->later = NULL;
    log_request(c, rs->status);
    respond(c, rs, false);
}

/* Moves body bytes from the input buffer (after the head) into c->body. Returns 1 when the
 * body is complete, 0 when more is needed, or a negative error. */
static int take_body(struct admin_conn *c)
{
    size_t start = c->msg.head_len;
    size_t avail = c->in_len - start;
    size_t used = 0;
    int done = 0;
    int rc = 0;
    if (c->msg.body == GW_BODY_LENGTH) {
        size_t k = avail < c->body_left ? avail : (size_t)c->body_left;
        rc = gw_buf_append(&c->body, c->in + start, k);
        used = k;
        c->body_left -= k;
        done = c->body_left == 0;
    } else {
        while (used < avail) {
            size_t consumed = 0;
            const char *data = NULL;
            size_t dlen = 0;
            int r = gw_chunked_decode(&c->dec, c->in + start + used, avail - used, &consumed, &data,
                                      &dlen);
            used += consumed;
            if (r < 0) {
                rc = r;
                break;
            }
            if (r == GW_CHUNKED_DATA) {
                if (dlen > GW__ADMIN_MAX_BODY - c->body.len) {
                    rc = GW_EBODYTOOLARGE;
                    break;
                }
                rc = gw_buf_append(&c->body, data, dlen);
                if (rc < 0)
                    break;
            } else if (r == GW_CHUNKED_DONE) {
                done = 1;
                break;
            }
        }
    }
    memmove(c->in + start, c->in + start + used, avail - used);
    c->in_len -= used;
    return rc < 0 ? rc : done;
}

static void process(struct admin_conn *c)
{
    if (c->closing || c->phase == PHASE_WRITE || c->phase == PHASE_LINGER ||
        c->phase == PHASE_STREAM)
        return;
    if (!c->head_done) {
        if (c->in_len == 0)
            return;
        int rc = gw_http1_parse_request(&c->parser, c->in, c->in_len, &c->msg);
        if (rc == GW_HTTP1_PARTIAL) {
            if (c->in_len == ADMIN_IN_CAP)
                respond_error(c, 431, gw_strerror(GW_EHDRTOOLARGE), true);
            return;
        }
        if (rc < 0) {
            respond_error(c, gw_err_http_status(rc), gw_strerror(rc), true);
            return;
        }
        c->head_done = true;
        gw_buf_reset(&c->body);
        if (c->msg.body == GW_BODY_NONE) {
            serve(c);
            return;
        }
        if (c->msg.body == GW_BODY_LENGTH && c->msg.content_length > GW__ADMIN_MAX_BODY) {
            respond_error(c, 413, "request body too large (the admin API takes at most 1 MiB)",
                          true);
            return;
        }
        c->body_left = c->msg.content_length;
        gw_chunked_init(&c->dec, 0, 0);
        set_phase(c, PHASE_BODY);
        if (c->msg.expect_continue && c->in_len == c->msg.head_len) {
            static char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            uv_buf_t b = uv_buf_init(cont, sizeof cont - 1);
            c->creq.data = c;
            uv_write(&c->creq, (uv_stream_t *)&c->tcp, &b, 1, NULL);
        }
    }
    int rc = take_body(c);
    if (rc < 0) {
        if (rc == GW_EBODYTOOLARGE)
            respond_error(c, 413, "request body too large (the admin API takes at most 1 MiB)",
                          true);
        else
            respond_error(c, gw_err_http_status(rc), gw_strerror(rc), true);
        return;
    }
    if (rc == 1)
        serve(c);
    else
        set_phase(c, PHASE_BODY); /* the body timeout is a gap between reads */
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    struct admin_conn *c = stream->data;
    if (nread == 0)
        return;
    if (nread < 0) {
        /* EOF or error: nothing is written back mid-request (the client is gone). */
        conn_close(c);
        return;
    }
    if (c->phase == PHASE_LINGER || c->phase == PHASE_STREAM) {
        c->in_len = 0;
        return;
    }
    if (c->phase == PHASE_IDLE)
        set_phase(c, PHASE_HEAD);
    c->in_len += (size_t)nread;
    /* A full buffer is only possible with pipelined input behind a request being served; the
     * next on_alloc would offer no room, so stop reading until the response is written. */
    if (c->in_len == ADMIN_IN_CAP)
        uv_read_stop(stream);
    process(c);
    if (c->phase != PHASE_WRITE)
        read_start(c);
}

static void on_accept(struct gw_acceptor *acc, int fd)
{
    struct gw_admin *a = acc->conf.data;
    struct admin_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        close(fd);
        return;
    }
    uv_tcp_init(acc->poll.loop, &c->tcp);
    uv_timer_init(acc->poll.loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->open_handles = 2;
    c->a = a;
    gw_list_insert_tail(&a->conns, &c->link);
    a->nconns++;
    if (uv_tcp_open(&c->tcp, fd) < 0) {
        close(fd);
        conn_close(c);
        return;
    }
    if (a->nconns > ADMIN_MAX_CONNS) {
        gw_log_warn("admin: more than %d connections, closing a new one", ADMIN_MAX_CONNS);
        conn_close(c);
        return;
    }
    if (gw_net_peer_ip(fd, c->peer, sizeof c->peer) < 0)
        snprintf(c->peer, sizeof c->peer, "-");
    uv_tcp_nodelay(&c->tcp, 1);
    gw_buf_init(&c->body, GW__ADMIN_MAX_BODY + 1);
    gw_buf_init(&c->out, ADMIN_MAX_OUT);
    c->msg.headers = c->headers;
    c->msg.headers_capacity = GW_HTTP1_DEFAULT_MAX_HEADERS;
    gw_http1_parser_init_request(&c->parser, NULL);
    set_phase(c, PHASE_HEAD);
    read_start(c);
}

/* ---- listener -------------------------------------------------------------------------------- */

/* The listening socket, bound before any handle exists so that a failure leaves nothing to
 * close. SO_REUSEPORT, as for the proxy listeners: during a deploy (start the new gantry, then
 * SIGTERM the old one; README "Deploys") both instances share the admin port until the old one
 * exits. The kernel allows that only between sockets of the same user that all set it, so a
 * port held by anything else still fails the start. Returns the fd or a negative errno. */
static int listen_socket(const struct sockaddr_storage *addr, socklen_t addrlen)
{
    int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    int rc = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
        bind(fd, (const struct sockaddr *)addr, addrlen) != 0 || listen(fd, 64) != 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

static void admin_release(struct gw_admin *a)
{
    if (--a->open_handles > 0)
        return;
    free(a->recs);
    free(a->start_key);
    free(a);
}

static void on_listener_closed(struct gw_acceptor *acc)
{
    admin_release(acc->conf.data);
}

static void on_tail_timer_closed(uv_handle_t *h)
{
    admin_release(h->data);
}

struct gw_registry *gw__admin_registry(struct gw_server *s)
{
    struct gw_admin *a = s->admin;
    return a ? a->registry : NULL;
}

struct gw_registry_share *gw__admin_share(struct gw_server *s)
{
    struct gw_admin *a = s->admin;
    return a ? a->share : NULL;
}

/* The running configuration, for registrations that come from other instances. */
static const struct gw_config *current_config(void *arg)
{
    struct gw_admin *a = arg;
    struct gw_snapshot *snap = gw_server_snapshot(a->server);
    return snap ? snap->cfg : NULL;
}

/* The server's extend hook: the registrations into every reload's document. */
static int extend_with_registrations(void *arg, const struct gw_config *file, json_t *doc)
{
    struct gw_admin *a = arg;
    gw_registry_set_file_doc(a->registry, file->source);
    if (!file->registration.enabled || gw_registry_count(a->registry) == 0)
        return 0;
    int rc = gw_registry_extend(a->registry, file, doc);
    return rc < 0 ? rc : 1;
}

static int finish_with_registrations(void *arg, struct gw_config *merged)
{
    struct gw_admin *a = arg;
    return gw_registry_decorate(a->registry, merged);
}

/* Registrations changed (registered, removed, expired): publish them all at once. */
static void on_registrations_changed(void *arg)
{
    struct gw_admin *a = arg;
    if (gw_server_reload(a->server, NULL) < 0)
        gw_log_error("registrations: the changes could not be published (see above); the next "
                     "change or reload tries again");
}

struct gw_admin *gw_admin_start(struct gw_server *s, uv_loop_t *loop, int *err)
{
    struct gw_admin *a = NULL;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int rc = 0;
    int fd = -1;
    struct gw_snapshot *snap = gw_server_snapshot(s);
    const struct gw_config *cfg = snap ? snap->cfg : NULL;
    if (cfg == NULL || loop == NULL) {
        rc = GW_EINVAL;
        goto fail;
    }
    if (!cfg->admin.enabled) {
        gw_log_info("admin API disabled (admin.listen is \"off\")");
        goto fail;
    }
    const char *host = cfg->admin.listen_host;
    unsigned port = cfg->admin.listen_port;
    bool loopback = cfg->admin.loopback;
    if (!loopback && cfg->admin.api_key == NULL) {
        gw_log_error("admin API on %s:%u is not on loopback: refusing to start without "
                     "admin.api_key",
                     host, port);
        rc = GW_EINVAL;
        goto fail;
    }
    rc = gw_net_resolve(host, (uint16_t)port, &addr, &addrlen);
    if (rc < 0) {
        gw_log_error("admin listen %s:%u: cannot resolve the address", host, port);
        goto fail;
    }
    fd = listen_socket(&addr, addrlen);
    if (fd < 0) {
        rc = fd;
        gw_log_error("admin listen on %s:%u: %s", host, port, strerror(-rc));
        goto fail;
    }
    a = calloc(1, sizeof *a);
    if (a == NULL) {
        rc = GW_ENOMEM;
        goto fail;
    }
    if (cfg->admin.api_key) {
        a->start_key = strdup(cfg->admin.api_key);
        if (a->start_key == NULL) {
            rc = GW_ENOMEM;
            goto fail;
        }
    }
    a->server = s;
    a->loopback = loopback;
    rc = gw_registry_new(loop, on_registrations_changed, a, &a->registry);
    if (rc < 0)
        goto fail;
    gw_registry_set_file_doc(a->registry, cfg->source);
    if (cfg->registration.enabled && cfg->registration.store) {
        rc = gw_registry_set_store(a->registry, cfg->registration.store);
        if (rc < 0)
            goto fail;
        /* Published like any registration, right after the start. */
        if (gw_registry_restore(a->registry, cfg, cfg->registration.store, gw_registry_now_ms()) >
            0)
            gw_registry_changed(a->registry, 0);
    }
    if (cfg->registration.enabled && cfg->registration.redis) {
        rc = gw_registry_share_start(a->registry, loop, cfg, current_config, a, &a->share);
        if (rc < 0)
            goto fail;
    }
    gw_list_init(&a->conns);
    gw_list_init(&a->streams);
    /* Once started, the acceptor owns fd, and only its close callback frees a. A connection
     * taken on the acceptor's reserve descriptor (the process is out of them) is served like
     * any other: an operator can still read /gateway/status then. */
    struct gw_acceptor_conf ac = {
        .name = "admin listener", .on_accept = on_accept, .on_reserve = on_accept, .data = a};
    rc = gw_acceptor_start(&a->acceptor, loop, fd, &ac);
    if (rc < 0) {
        gw_log_error("admin listen on %s:%u: %s", host, port, uv_strerror(rc));
        goto fail;
    }
    s->extend = extend_with_registrations;
    s->extend_finish = finish_with_registrations;
    s->extend_arg = a;
    uv_timer_init(loop, &a->tail_timer);
    a->tail_timer.data = a;
    a->open_handles = 2;
    gw_log_info("admin API listening on %s%s%s:%u%s", strchr(host, ':') ? "[" : "", host,
                strchr(host, ':') ? "]" : "", port,
                cfg->admin.api_key ? " (API key required)" : "");
    *err = 0;
    return a;
fail:
    if (a) {
        free(a->start_key);
        gw_registry_share_close(a->share);
        gw_registry_close(a->registry); /* its timer is freed when the loop runs */
    }
    free(a);
    if (fd >= 0)
        close(fd);
    *err = rc;
    return NULL;
}

void gw_admin_close(struct gw_admin *a)
{
    if (a == NULL)
        return;
    if (a->server->extend_arg == a) {
        a->server->extend = NULL;
        a->server->extend_finish = NULL;
        a->server->extend_arg = NULL;
    }
    gw_registry_share_close(a->share);
    a->share = NULL;
    gw_registry_close(a->registry);
    a->registry = NULL;
    while (!gw_list_empty(&a->conns)) {
        struct admin_conn *c = gw_container_of(a->conns.next, struct admin_conn, link);
        conn_close(c);
    }
    uv_close((uv_handle_t *)&a->tail_timer, on_tail_timer_closed);
    gw_acceptor_close(&a->acceptor, on_listener_closed);
}

static int admin_service_start(struct gw_server *s, uv_loop_t *loop, void **state)
{
    int err = 0;
    *state = gw_admin_start(s, loop, &err);
    return *state == NULL && err < 0 ? err : 0;
}

static void admin_service_stop(void *state)
{
    gw_admin_close(state);
}

const struct gw_control_service gw_admin_service = {
    .name = "admin",
    .start = admin_service_start,
    .stop = admin_service_stop,
};
