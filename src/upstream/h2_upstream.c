/*
 * HTTP/2 to upstreams (services with upstream_protocol "h2c", or "h2" over TLS through
 * upstream/h2_tls.c; docs/internals.md "HTTP/2 upstreams"). The proxy (upstream/proxy.c) keeps
 * speaking HTTP/1.1 to a `struct gw_upconn`; for an HTTP/2 target that connection is a stream of a
 * shared HTTP/2 connection, and this file translates both ways:
 *
 *   - the request the proxy writes (its head text, then the body framed by Content-Length or
 *     chunked) becomes a stream's HEADERS (:method, :scheme, :authority from Host, :path, the
 *     fields without the connection-specific ones; "te: trailers" kept) and DATA;
 *   - the response becomes HTTP/1.1 bytes in uc->buf, where a plain connection's reads would
 *     land: the status line and fields, the payload chunked unless the upstream gave a
 *     content-length, and "Connection: close" so the proxy never pools the stream. Trailer
 *     fields (gRPC's grpc-status and grpc-message) go to the client through the downstream's
 *     `trailers` operation.
 *
 * Connections (struct h2conn) belong to the worker's pool of the target (pool->h2): a
 * request takes a stream on the first connection that can open one (fewer streams than the
 * upstream's SETTINGS_MAX_CONCURRENT_STREAMS, no GOAWAY), else a new connection is made.
 * Backpressure: the proxy's write is "pending" while the stream holds more than
 * GW_H2C_BODY_HIGH unsent bytes; response payload moves into uc->buf only while the proxy
 * reads, and the stream's window is given back only as it moves.
 *
 * Nothing here calls the proxy from inside the proxy's own calls or from inside nghttp2: the
 * connection's idle handle (`kick`) runs the connect callbacks, the deliveries and the writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn/request-t.h"
#include "control/snapshot-t.h"
#include "core/error.h"
#include "core/log.h"
#include "h2/client.h"
#include "h2/grpc.h"
#include "http1/chunked.h"
#include "http1/names.h"
#include "metrics/metrics.h"
#include "runtime/worker-t.h"
#include "tls/stream.h"
#include "upstream/h2_upstream.h"
#include "upstream/internal.h"
#include "upstream/pool.h"
#include "upstream/proxy.h"

#define H2UP_READ_BUF 65536
#define H2UP_OUT_MAX 65536
#define H2UP_IN_HIGH 65536 /* HTTP/1.1 bytes held for the proxy before payload waits */
#define H2UP_HEAD_MAX 65536
#define H2UP_REPLAY_MAX 65536 /* request payload kept for a replay after REFUSED_STREAM */

/* The HTTP/2 connections of a pool (pool->h2). */
struct gw_h2up_conns {
    struct gw_list list;
};

struct h2conn {
    struct gw_list link; /* pool->h2->list */
    struct gw_worker *w;
    struct gw_pool *pool; /* NULL once closing */
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    uv_idle_t kick;
    struct gw_h2c_session *sess;
    struct gw__h2tls *tls; /* https:// targets (upstream_protocol "h2"), else NULL */
    struct gw_buf out;     /* frames being written */
    /* bytes read from the socket, H2UP_READ_BUF of them: the connection's own (a thread-local
     * buffer this size would sit on every worker's stack) */
    char *rbuf;
    struct gw_list users; /* streams of this connection (struct gw_h2up) */
    struct gw_list dirty; /* users with work for the kick */
    size_t nusers;
    uint64_t idle_since;
    int error; /* the connection failed (connect or later): its users hear it */
    unsigned open_handles;
    bool connected;
    bool writing;
    bool closing;
};

/* One request's stream: what uc->tls->h2 of its virtual connection points to. */
struct gw_h2up {
    struct gw_upconn *uc;
    struct h2conn *conn; /* NULL once detached from it */
    struct gw_h2c_stream *st;
    struct gw_list link;  /* conn->users */
    struct gw_list dirty; /* conn->dirty */
    uv_connect_cb connect_cb;
    uv_write_cb write_cb;
    uv_timer_t deadline; /* grpc-timeout */
    /* request: the head the proxy writes, then its body framing */
    struct gw_buf head;
    struct gw_chunked_decoder dec;
    uint64_t left;
    enum {
        BODY_NONE,
        BODY_LENGTH,
        BODY_CHUNKED
    } body;
    bool head_done;
    bool req_end;
    bool write_pending;
    bool https;
    bool head_method; /* HEAD: the response has no body */
    /* response: HTTP/1.1 bytes for the proxy */
    struct gw_buf in;
    size_t in_off;
    bool resp_chunked;
    bool resp_head;    /* the head is in `in` */
    bool resp_end;     /* the end (last chunk) is in `in` */
    bool fail_pending; /* tell the proxy of `error` once `in` is delivered */
    int error;
    bool connect_pending;
    /* replay after REFUSED_STREAM or GOAWAY (RFC 9113 8.7: not processed, safe for any
     * method): the payload sent so far, while it is small */
    const struct gw_target *target;
    struct gw_buf replay;
    struct gw_h2up_head *fields; /* the translated head, kept for a replay */
    bool replay_ok;
    bool reopen_pending;
    bool moved;     /* ... and has its new connection */
    bool conn_full; /* ... because its connection was full, not because the stream was refused */
    unsigned replays;
    bool deadline_armed; /* the timer runs for grpc-timeout (else: a 0 ms hand-off) */
    bool released;
    /* The stream ended cleanly: the response is whole and the upstream wants no more of the
     * body (all of it went out, or the upstream answered early and closed with NO_ERROR, RFC
     * 9113 8.1). A write still pending then succeeds, and body bytes after it are dropped. */
    bool body_not_wanted;
};

static void conn_schedule(struct h2conn *c);
static void conn_close(struct h2conn *c, int error);
static void on_deadline(uv_timer_t *t);

/* ---- connections ----------------------------------------------------------------------------- */

static void on_conn_closed(uv_handle_t *h)
{
    struct h2conn *c = h->data;
    if (--c->open_handles > 0)
        return;
    gw_h2c_session_free(c->sess);
    gw__h2tls_free(c->tls);
    gw_buf_free(&c->out);
    free(c->rbuf);
    free(c);
}

static void mark_dirty(struct gw_h2up *hs)
{
    if (hs->conn && gw_list_empty(&hs->dirty)) {
        gw_list_insert_tail(&hs->conn->dirty, &hs->dirty);
        conn_schedule(hs->conn);
    }
}

static void detach_user(struct gw_h2up *hs)
{
    struct h2conn *c = hs->conn;
    if (!c)
        return;
    gw_list_remove(&hs->link);
    if (!gw_list_empty(&hs->dirty))
        gw_list_remove(&hs->dirty);
    if (hs->st) {
        hs->st->owner_data = NULL;
        gw_h2c_stream_release(hs->st);
        hs->st = NULL;
    }
    hs->conn = NULL;
    if (--c->nusers == 0)
        c->idle_since = uv_now(&c->w->loop);
    if (!c->closing)
        conn_schedule(c);
}

/* The connection is gone (error) or going (no users left after GOAWAY): every user left learns
 * `error` through its connect callback or its reads. */
static void conn_close(struct h2conn *c, int error)
{
    if (c->closing)
        return;
    c->closing = true;
    c->error = error ? error : UV_ECONNRESET;
    if (c->pool) {
        gw_list_remove(&c->link);
        c->pool = NULL;
    }
    while (!gw_list_empty(&c->users)) {
        struct gw_h2up *hs = gw_container_of(c->users.next, struct gw_h2up, link);
        detach_user(hs);
        if (hs->resp_end)
            continue; /* its response is complete: the proxy is taking the rest */
        hs->error = c->error;
        hs->fail_pending = !hs->connect_pending;
        hs->deadline_armed = false;
        /* Told from the user's own timer at 0 ms: never inside our caller. */
        uv_timer_stop(&hs->deadline);
        uv_timer_start(&hs->deadline, on_deadline, 0, 0);
    }
    /* A TLS session ended without close_notify is one OpenSSL will not resume (the pool
     * holds it for the next connection). */
    if (c->tls)
        gw__h2tls_shutdown(c->tls, (uv_stream_t *)&c->tcp);
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    uv_close((uv_handle_t *)&c->kick, on_conn_closed);
}

static void on_conn_written(uv_write_t *req, int status);
static void conn_flush(struct h2conn *c);

/* A TLS connection's queued records went out (the request is gw_tls_io_send's). */
static void on_tls_conn_written(uv_write_t *req, int status)
{
    struct h2conn *c = req->data;
    free(req);
    c->writing = false;
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c, status);
        return;
    }
    conn_flush(c);
}

/* Writes the frames the session has, one write at a time (over TLS: encrypted, as long as the
 * socket takes them at once, then one queued write at a time). */
static void conn_flush(struct h2conn *c)
{
    while (!c->closing && c->connected && !c->writing) {
        gw_buf_reset(&c->out);
        int rc = gw_h2c_session_output(c->sess, &c->out, H2UP_OUT_MAX);
        if (c->closing)
            return;
        if (rc < 0) {
            conn_close(c, GW_EUPH2);
            return;
        }
        if (c->out.len == 0) {
            if (!gw_h2c_session_alive(c->sess))
                conn_close(c, UV_EOF);
            return;
        }
        if (c->tls) {
            rc = gw__h2tls_write(c->tls, (uv_stream_t *)&c->tcp, c->out.data, c->out.len,
                                 on_tls_conn_written, c);
            if (rc < 0) {
                conn_close(c, rc);
                return;
            }
            c->writing = rc == 0;
            continue;
        }
        uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
        c->writing = true;
        rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_conn_written);
        if (rc < 0) {
            c->writing = false;
            conn_close(c, rc);
        }
        return;
    }
}

static void on_conn_written(uv_write_t *req, int status)
{
    struct h2conn *c = req->data;
    c->writing = false;
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c, status);
        return;
    }
    conn_flush(c);
}

static void deliver(struct gw_h2up *hs);

static void on_kick(uv_idle_t *i)
{
    struct h2conn *c = i->data;
    uv_idle_stop(i);
    /* Users with work: taken off the list first, since delivering may end them. */
    struct gw_list work;
    gw_list_take(&work, &c->dirty);
    while (!gw_list_empty(&work) && !c->closing) {
        struct gw_h2up *hs = gw_container_of(work.next, struct gw_h2up, dirty);
        gw_list_remove(&hs->dirty);
        deliver(hs);
    }
    /* Nodes left when the connection closed meanwhile: their users were told by conn_close. */
    while (!gw_list_empty(&work))
        gw_list_remove(work.next);
    conn_flush(c);
    if (!c->closing && c->nusers == 0 && gw_h2c_session_goaway_received(c->sess))
        conn_close(c, UV_EOF);
}

static void conn_schedule(struct h2conn *c)
{
    if (!c->closing && !uv_is_active((uv_handle_t *)&c->kick))
        uv_idle_start(&c->kick, on_kick);
}

/* The connection can carry streams: its users hear it from the kick. */
static void conn_ready(struct h2conn *c)
{
    c->connected = true;
    for (struct gw_list *l = c->users.next; l != &c->users; l = l->next)
        mark_dirty(gw_container_of(l, struct gw_h2up, link));
    conn_schedule(c);
}

/* Ciphertext from an https:// target (none at the start: the ClientHello goes out): the
 * handshake until the server chose h2, then the plaintext into the HTTP/2 session. The
 * ciphertext was copied into the TLS session first, so rbuf takes the plaintext. */
static void conn_tls_input(struct h2conn *c, const char *p, size_t n)
{
    uv_stream_t *s = (uv_stream_t *)&c->tcp;
    int rc = gw__h2tls_input(c->tls, s, c->pool, p, n);
    if (rc < 0) {
        conn_close(c, rc);
        return;
    }
    if (rc == GW__H2TLS_READY)
        conn_ready(c);
    while (c->connected && !c->closing) {
        size_t got = 0;
        rc = gw__h2tls_read(c->tls, s, c->pool, c->rbuf, H2UP_READ_BUF, &got);
        if (rc == GW_TLS_WANT_INPUT)
            break;
        if (rc != 0) {
            gw_log_debug("upstream %s: HTTP/2 connection closed by upstream",
                         c->pool ? c->pool->key : "-");
            conn_close(c, rc == GW_TLS_CLOSED ? UV_EOF : UV_ECONNRESET);
            return;
        }
        if (gw_h2c_session_input(c->sess, c->rbuf, got) < 0) {
            gw_log_warn("upstream %s: HTTP/2 protocol error from the upstream",
                        c->pool ? c->pool->key : "-");
            conn_flush(c); /* the GOAWAY, if the socket takes it */
            conn_close(c, GW_EUPH2);
            return;
        }
    }
    conn_schedule(c);
}

static void on_conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct h2conn *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->rbuf, H2UP_READ_BUF);
}

static void on_conn_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct h2conn *c = s->data;
    if (nread == 0 || c->closing)
        return;
    if (nread < 0) {
        if (c->tls && !c->connected) {
            /* During the handshake: a TLS failure for the users (logged once, here). */
            conn_close(c,
                       gw__h2tls_fail(c->tls, nread == UV_EOF ? "connection closed by the upstream"
                                                              : uv_strerror((int)nread)));
            return;
        }
        gw_log_debug("upstream %s: HTTP/2 connection %s", c->pool ? c->pool->key : "-",
                     nread == UV_EOF ? "closed by upstream" : uv_strerror((int)nread));
        conn_close(c, (int)nread);
        return;
    }
    if (c->tls) {
        conn_tls_input(c, buf->base, (size_t)nread);
        return;
    }
    if (gw_h2c_session_input(c->sess, buf->base, (size_t)nread) < 0) {
        gw_log_warn("upstream %s: HTTP/2 protocol error from the upstream",
                    c->pool ? c->pool->key : "-");
        conn_flush(c); /* the GOAWAY, if the socket takes it */
        conn_close(c, GW_EUPH2);
        return;
    }
    conn_schedule(c);
}

static void on_conn_connected(uv_connect_t *creq, int status)
{
    struct h2conn *c = creq->data;
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c, status);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_conn_alloc, on_conn_read);
    if (c->tls)
        conn_tls_input(c, NULL, 0); /* connected once the server chose h2 */
    else
        conn_ready(c);
}

static void pull(struct gw_h2up *hs, struct gw_h2c_stream *st, bool all);

static void on_stream(void *owner, struct gw_h2c_stream *st)
{
    (void)owner;
    struct gw_h2up *hs = st->owner_data;
    if (st->ev_closed) {
        /* The session frees the stream after this returns: translate what it holds now. */
        pull(hs, st, true);
        hs->st = NULL;
        hs->body_not_wanted = st->end && st->close_error == 0; /* NO_ERROR */
        if (!st->end && st->refused && !hs->resp_head && hs->replay_ok && hs->replays < 2) {
            /* Not processed: again on another connection (deliver() does it). */
            hs->reopen_pending = true;
            hs->replays++;
        } else if (!st->end) {
            gw_log_info("upstream %s: HTTP/2 stream %d closed before the response ended (%s, "
                        "code %u)",
                        hs->conn && hs->conn->pool ? hs->conn->pool->key : "-", (int)st->id,
                        st->refused ? "refused" : "reset", (unsigned)st->close_error);
            hs->error = st->refused ? GW_EUPRESET : UV_ECONNRESET;
            hs->fail_pending = true;
        }
    }
    mark_dirty(hs);
}

static const struct gw_h2c_handler stream_handler = {.stream = on_stream};

static struct h2conn *conn_new(struct gw_worker *w, struct gw_pool *pl, const struct gw_target *t)
{
    struct h2conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->sess = gw_h2c_session_new(&stream_handler, c);
    c->rbuf = malloc(H2UP_READ_BUF);
    if (t->tls)
        c->tls = gw__h2tls_new(w, pl, t);
    if (!c->sess || !c->rbuf || (t->tls && !c->tls) || uv_tcp_init(&w->loop, &c->tcp) < 0) {
        gw__h2tls_free(c->tls);
        gw_h2c_session_free(c->sess);
        free(c->rbuf);
        free(c);
        return NULL;
    }
    c->w = w;
    c->pool = pl;
    gw_list_init(&c->users);
    gw_list_init(&c->dirty);
    gw_buf_init(&c->out, (size_t)H2UP_OUT_MAX * 2);
    c->tcp.data = c;
    c->wreq.data = c;
    c->creq.data = c;
    uv_idle_init(&w->loop, &c->kick);
    c->kick.data = c;
    c->open_handles = 2;
    gw_list_insert_tail(&pl->h2->list, &c->link);
    int rc =
        uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&t->addr, on_conn_connected);
    if (rc < 0) {
        gw_log_warn("upstream %s: cannot connect: %s", t->key, uv_strerror(rc));
        conn_close(c, rc);
    }
    return c;
}

/* ---- the stream behind a virtual connection ------------------------------------------------- */

/* A connection of the pool that can take one more stream: fewer users (streams open or about
 * to open) than the upstream's SETTINGS_MAX_CONCURRENT_STREAMS, no GOAWAY; else a new one. */
static struct h2conn *pick_conn(struct gw_worker *w, struct gw_pool *pl, const struct gw_target *t,
                                struct h2conn *avoid)
{
    if (!pl->h2) {
        pl->h2 = calloc(1, sizeof *pl->h2);
        if (!pl->h2)
            return NULL;
        gw_list_init(&pl->h2->list);
    }
    for (struct gw_list *l = pl->h2->list.next; l != &pl->h2->list; l = l->next) {
        struct h2conn *k = gw_container_of(l, struct h2conn, link);
        if (k == avoid || k->closing)
            continue;
        uint32_t max =
            k->connected ? gw_h2c_session_max_streams(k->sess) : GW_H2C_DEFAULT_MAX_STREAMS;
        if (k->nusers < max && (!k->connected || gw_h2c_session_can_open(k->sess)))
            return k;
    }
    return conn_new(w, pl, t);
}

static void attach(struct gw_h2up *hs, struct h2conn *c)
{
    hs->conn = c;
    c->nusers++;
    gw_list_insert_tail(&c->users, &hs->link);
    if (c->connected)
        mark_dirty(hs);
}

int gw__h2up_connect(struct gw_upconn *uc, const struct gw_target *t, uv_connect_cb cb)
{
    struct gw_pool *pl = uc->pool;
    struct gw_h2up *hs = calloc(1, sizeof *hs);
    if (!hs)
        return GW_ENOMEM;
    uc->tls = gw__upconn_tls_h2(hs);
    if (!uc->tls) {
        free(hs);
        return GW_ENOMEM;
    }
    hs->uc = uc;
    hs->connect_cb = cb;
    hs->connect_pending = true;
    hs->https = t->tls != NULL;
    gw_list_init(&hs->dirty);
    gw_list_init(&hs->link);
    gw_buf_init(&hs->head, H2UP_HEAD_MAX);
    gw_buf_init(&hs->in, (size_t)H2UP_IN_HIGH + GW_H2C_STREAM_WINDOW + 2 * H2UP_HEAD_MAX);
    uv_timer_init(&uc->w->loop, &hs->deadline);
    hs->deadline.data = hs;
    uc->open_handles++;
    uc->connect_req.data = uc;
    hs->target = t;
    hs->replay_ok = true;
    gw_buf_init(&hs->replay, H2UP_REPLAY_MAX);
    struct h2conn *c = pick_conn(uc->w, pl, t, NULL);
    if (!c || c->closing) {
        /* Told through the callback like any connect failure: never inline. */
        hs->error = c ? c->error : GW_ENOMEM;
        uv_timer_start(&hs->deadline, on_deadline, 0, 0);
        return 0;
    }
    attach(hs, c);
    return 0;
}

/* The timer: the grpc-timeout deadline, or a hand-off at 0 ms of what happened outside the
 * proxy's calls once the stream has no connection to kick it. */
static void on_deadline(uv_timer_t *t)
{
    struct gw_h2up *hs = t->data;
    struct gw_upconn *uc = hs->uc;
    if (hs->released)
        return;
    if (hs->deadline_armed) {
        hs->deadline_armed = false;
        /* grpc-timeout passed: the proxy's own timeout handling answers (504, which a gRPC
         * client reads as DEADLINE_EXCEEDED, or a reset once the response started). */
        if (uc->req)
            gw_proxy_upstream_deadline(uc->req);
        return;
    }
    if (hs->connect_pending) {
        hs->connect_pending = false;
        hs->connect_cb(&uc->connect_req, hs->error ? hs->error : UV_ECONNREFUSED);
        return;
    }
    deliver(hs);
}

/* Opens the stream on hs->conn with the translated head, and the payload kept for a replay. */
static int open_on_conn(struct gw_h2up *hs)
{
    int rc;
    if (!gw_h2c_session_can_open(hs->conn->sess)) {
        /* Full since it was picked (a stream whose user left is freed a little later, and a
         * target's SETTINGS may lower the limit) or going away: the stream goes to another
         * connection, as a refused one does. */
        hs->reopen_pending = true;
        hs->conn_full = true;
        mark_dirty(hs);
        return 0;
    }
    hs->st = gw_h2c_stream_open(hs->conn->sess, hs->fields->f, hs->fields->n, hs->body != BODY_NONE,
                                hs, &rc);
    if (!hs->st)
        return rc < 0 ? rc : GW_EUPH2;
    if (hs->replay.len && gw_h2c_stream_write(hs->st, hs->replay.data, hs->replay.len) < 0)
        return GW_ENOMEM;
    if (hs->req_end && hs->body != BODY_NONE)
        gw_h2c_stream_end(hs->st);
    conn_schedule(hs->conn);
    return 0;
}

/* The head is complete: translate it, then open the stream. */
static int open_stream(struct gw_h2up *hs)
{
    struct gw_request *r = hs->uc->req;
    struct gw_h2up_head *h = malloc(sizeof *h);
    if (!h)
        return GW_ENOMEM;
    uint64_t max = r ? r->svc->conf->response_timeout_ms : 0;
    int rc = gw_h2up_translate_head(hs->head.data, hs->head.len, hs->https, max, h);
    if (rc < 0) {
        free(h);
        return rc;
    }
    hs->fields = h;
    hs->head_method = h->head_method;
    hs->body = h->body == GW_H2UP_BODY_LENGTH    ? BODY_LENGTH
               : h->body == GW_H2UP_BODY_CHUNKED ? BODY_CHUNKED
                                                 : BODY_NONE;
    hs->left = h->length;
    if (hs->body == BODY_LENGTH && hs->left == 0)
        hs->body = BODY_NONE;
    if (hs->body == BODY_CHUNKED)
        gw_chunked_init(&hs->dec, 0, 0);
    hs->req_end = hs->body == BODY_NONE;
    if (h->grpc && h->timeout_ms) {
        hs->deadline_armed = true;
        uv_timer_start(&hs->deadline, on_deadline, h->timeout_ms, 0);
    }
    return open_on_conn(hs);
}

/* Payload for the upstream: kept for a replay while small, and written to the stream (none
 * while a replay waits for its connection). */
static int body_out(struct gw_h2up *hs, const char *p, size_t n)
{
    if (hs->replay_ok && gw_buf_append(&hs->replay, p, n) < 0) {
        hs->replay_ok = false;
        gw_buf_free(&hs->replay);
    }
    if (!hs->st)
        return (hs->reopen_pending && hs->replay_ok) || hs->body_not_wanted ? 0 : UV_ECONNRESET;
    return gw_h2c_stream_write(hs->st, p, n);
}

/* Body bytes from the proxy, in the request's HTTP/1.1 framing. */
static int feed_body(struct gw_h2up *hs, const char *p, size_t n)
{
    while (n && !hs->req_end) {
        if (hs->body == BODY_LENGTH) {
            size_t take = hs->left < n ? (size_t)hs->left : n;
            int rc = body_out(hs, p, take);
            if (rc < 0)
                return rc;
            hs->left -= take;
            p += take;
            n -= take;
            if (hs->left == 0)
                hs->req_end = true;
        } else {
            size_t used;
            const char *d;
            size_t dlen;
            int rc = gw_chunked_decode(&hs->dec, p, n, &used, &d, &dlen);
            if (rc < 0)
                return rc;
            p += used;
            n -= used;
            if (rc == GW_CHUNKED_DATA && (rc = body_out(hs, d, dlen)) < 0)
                return rc;
            if (rc == GW_CHUNKED_DONE)
                hs->req_end = true;
        }
    }
    if (hs->req_end && hs->st)
        gw_h2c_stream_end(hs->st);
    return 0;
}

int gw__h2up_write(struct gw_upconn *uc, uv_buf_t *bufs, unsigned n, uv_write_cb cb)
{
    struct gw_h2up *hs = gw__upconn_tls_h2_of(uc);
    if ((!hs->conn && !hs->reopen_pending) || hs->error)
        return hs->error ? hs->error : UV_ECONNRESET;
    for (unsigned i = 0; i < n; i++) {
        const char *p = bufs[i].base;
        size_t len = bufs[i].len;
        if (!hs->head_done) {
            /* The proxy writes its head (r->head) as one buffer of its own. */
            if (gw_buf_append(&hs->head, p, len) < 0)
                return GW_EHDRTOOLARGE;
            if (hs->head.len < 4 || memcmp(hs->head.data + hs->head.len - 4, "\r\n\r\n", 4) != 0)
                continue;
            hs->head_done = true;
            int rc = open_stream(hs);
            if (rc < 0)
                return rc;
            continue;
        }
        if (!hs->st && !hs->reopen_pending)
            return hs->body_not_wanted ? 1 : UV_ECONNRESET;
        int rc = feed_body(hs, p, len);
        if (rc < 0)
            return rc;
    }
    if (hs->st)
        conn_schedule(hs->conn);
    if (hs->st && gw_h2c_stream_unsent(hs->st) > GW_H2C_BODY_HIGH) {
        /* Backpressure: the proxy waits (and stops reading its client) until it drained. */
        gw_h2c_stream_want_drained(hs->st);
        hs->write_cb = cb;
        hs->write_pending = true;
        uc->write_req.data = uc;
        return 0;
    }
    return 1;
}

/* Response head: HTTP/1.1 text for the proxy's parser. */
static int put_head(struct gw_h2up *hs, const struct gw_h2c_stream *st)
{
    struct gw_buf *b = &hs->in;
    const char *reason = gw_http_reason(st->status);
    int rc = gw_buf_appendf(b, "HTTP/1.1 %d %s\r\n", st->status, reason ? reason : "Status");
    rc |= gw_buf_append(b, st->fields.data ? st->fields.data : "", st->fields.len);
    bool has_cl = false;
    for (size_t i = 0; i + 15 <= st->fields.len; i++) {
        if ((i == 0 || st->fields.data[i - 1] == '\n') &&
            strncasecmp(st->fields.data + i, "content-length:", 15) == 0)
            has_cl = true;
    }
    bool bodiless = hs->head_method || st->status == 204 || st->status == 304 || st->status < 200;
    if (!bodiless && !has_cl) {
        if (st->end && st->data.len == st->data_off) {
            /* HEADERS with END_STREAM: no body (gRPC's trailers-only responses). */
            rc |= gw_buf_append_str(b, "content-length: 0\r\n");
        } else {
            rc |= gw_buf_append_str(b, "transfer-encoding: chunked\r\n");
            hs->resp_chunked = true;
        }
    }
    /* The stream is never pooled by the proxy: the connection is ours. */
    rc |= gw_buf_append_str(b, "connection: close\r\n\r\n");
    hs->resp_head = true;
    return rc < 0 ? GW_ENOMEM : 0;
}

/* Drops the bytes of `in` the proxy took already, when n more would not fit otherwise. */
static void in_compact(struct gw_h2up *hs, size_t n)
{
    if (hs->in_off > 0 && hs->in.len + n > hs->in.max) {
        memmove(hs->in.data, hs->in.data + hs->in_off, hs->in.len - hs->in_off);
        hs->in.len -= hs->in_off;
        hs->in_off = 0;
    }
}

/* The grpc-status among a gRPC call's response lines, for its metrics
 * (gantry_grpc_responses_total). */
static void note_grpc_status(struct gw_request *r, const char *lines, size_t len)
{
    if (r == NULL || !r->grpc || len == 0)
        return;
    int v = gw_grpc_status_field(lines, len);
    if (v >= 0)
        r->grpc_status = (uint8_t)(1 + gw_mx_grpc_index(v));
}

/* Translates what the stream received into `in`: the head once, payload (while `in` holds less
 * than H2UP_IN_HIGH, unless all), the end and the trailers. */
static void pull(struct gw_h2up *hs, struct gw_h2c_stream *st, bool all)
{
    struct gw_upconn *uc = hs->uc;
    if (!hs->resp_head && st->head_done) {
        if (put_head(hs, st) < 0) {
            hs->error = GW_ENOMEM;
            hs->fail_pending = true;
            return;
        }
        /* A Trailers-Only response carries grpc-status in its only head. */
        note_grpc_status(uc->req, st->fields.data, st->fields.len);
    }
    while (hs->resp_head && !hs->resp_end && (all || hs->in.len - hs->in_off < H2UP_IN_HIGH)) {
        const char *p;
        size_t n = gw_h2c_stream_data(st, &p);
        if (n > H2UP_IN_HIGH)
            n = H2UP_IN_HIGH;
        if (n) {
            int rc = 0;
            in_compact(hs, n + 32);
            if (hs->resp_chunked)
                rc = gw_buf_appendf(&hs->in, "%zx\r\n", n);
            rc |= gw_buf_append(&hs->in, p, n);
            if (hs->resp_chunked)
                rc |= gw_buf_append(&hs->in, "\r\n", 2);
            if (rc < 0) {
                hs->error = GW_ENOMEM;
                hs->fail_pending = true;
                return;
            }
            gw_h2c_stream_data_consume(st, n);
            continue;
        }
        if (st->end) {
            in_compact(hs, 8);
            if (hs->resp_chunked && gw_buf_append(&hs->in, "0\r\n\r\n", 5) < 0) {
                hs->error = GW_ENOMEM;
                hs->fail_pending = true;
                return;
            }
            note_grpc_status(uc->req, st->trailers.data, st->trailers.len);
            if (st->trailers.len && uc->req && uc->req->ds->trailers)
                uc->req->ds->trailers(uc->req, st->trailers.data, st->trailers.len);
            hs->resp_end = true;
        }
        break;
    }
}

/* A refused stream goes again, on another connection than the one that refused it (a new one
 * when none can take it). 0 once reopened (or failed: the proxy was told); 1 while it waits for
 * that connection. */
static int reopen(struct gw_h2up *hs)
{
    if (!hs->moved) {
        struct h2conn *old = hs->conn;
        struct gw_pool *pl = old ? old->pool : NULL;
        detach_user(hs);
        struct h2conn *c = pl ? pick_conn(hs->uc->w, pl, hs->target, old) : NULL;
        if (!c || c->closing)
            goto fail;
        hs->moved = true;
        attach(hs, c);
        if (hs->conn_full)
            gw_log_debug("upstream %s: connection full, stream opened on %s connection",
                         hs->target->key, c->connected ? "another" : "a new");
        else
            gw_log_info("upstream %s: stream refused, sent again on %s connection", hs->target->key,
                        c->connected ? "another" : "a new");
        hs->conn_full = false;
    }
    if (!hs->conn)
        goto fail;
    if (!hs->conn->connected)
        return 1; /* attach() or the connect marks us once it is up */
    hs->reopen_pending = false;
    hs->moved = false;
    if (open_on_conn(hs) < 0)
        goto fail;
    return hs->reopen_pending ? 1 : 0; /* full here too: once more, from deliver() */
fail:
    hs->reopen_pending = false;
    hs->moved = false;
    hs->error = UV_ECONNRESET;
    hs->fail_pending = true;
    return 0;
}

/* Moves what the stream received into `in` (bounded), then into uc->buf while the proxy reads,
 * and tells it. May end the request (and release hs): the caller touches nothing after. */
static void deliver(struct gw_h2up *hs)
{
    struct gw_upconn *uc = hs->uc;
    if (hs->released)
        return;
    if (hs->connect_pending) {
        if (!hs->conn || !hs->conn->connected)
            return;
        hs->connect_pending = false;
        hs->connect_cb(&uc->connect_req, 0);
        return;
    }
    if (hs->reopen_pending && reopen(hs) != 0)
        return;
    struct gw_h2c_stream *st = hs->st;
    if (hs->write_pending && (!st || gw_h2c_stream_unsent(st) < GW_H2C_BODY_LOW)) {
        hs->write_pending = false;
        hs->write_cb(&uc->write_req, st || hs->body_not_wanted ? 0 : UV_ECONNRESET);
        if (hs->released || (!st && !hs->body_not_wanted))
            return;
        st = hs->st;
    }
    if (st)
        pull(hs, st, false);
    while (uc->req && uc->reading && hs->in.len > hs->in_off) {
        if (!uc->buf) {
            uc->buf = gw_bufcache_get(&uc->w->upconn_bufs);
            uc->cap = uc->buf ? GW_UPCONN_BUF_SIZE : 0;
            uc->len = uc->off = 0;
            if (!uc->buf)
                return;
        }
        if (uc->off > 0 && uc->len == uc->cap) {
            memmove(uc->buf, uc->buf + uc->off, uc->len - uc->off);
            uc->len -= uc->off;
            uc->off = 0;
        }
        size_t room = uc->cap - uc->len;
        if (room == 0)
            return; /* the proxy must consume first; it calls read_start after */
        size_t k = hs->in.len - hs->in_off;
        if (k > room)
            k = room;
        memcpy(uc->buf + uc->len, hs->in.data + hs->in_off, k);
        uc->len += k;
        hs->in_off += k;
        if (hs->in_off == hs->in.len)
            hs->in_off = hs->in.len = 0;
        gw_proxy_upstream_input(uc->req, (ssize_t)k);
        if (hs->released)
            return;
        /* More payload may fit into `in` now. */
        if (hs->st && !hs->resp_end && hs->in.len - hs->in_off < H2UP_IN_HIGH &&
            gw_h2c_stream_data(hs->st, &(const char *){NULL}))
            mark_dirty(hs);
    }
    if (hs->fail_pending && hs->in.len == hs->in_off && uc->req && uc->reading) {
        hs->fail_pending = false;
        gw_proxy_upstream_input(uc->req, UV_ECONNRESET);
    }
}

void gw__h2up_read_start(struct gw_upconn *uc)
{
    struct gw_h2up *hs = gw__upconn_tls_h2_of(uc);
    uc->reading = true;
    if (hs->conn) {
        mark_dirty(hs);
    } else if (hs->fail_pending || hs->in.len > hs->in_off) {
        hs->deadline_armed = false;
        uv_timer_stop(&hs->deadline);
        uv_timer_start(&hs->deadline, on_deadline, 0, 0);
    }
}

void gw__h2up_close(struct gw_upconn *uc, uv_close_cb cb)
{
    struct gw_h2up *hs = gw__upconn_tls_h2_of(uc);
    hs->released = true;
    detach_user(hs);
    /* cb is pool.c's: it finds the connection in the handle's data. */
    hs->deadline.data = uc;
    uv_close((uv_handle_t *)&hs->deadline, cb);
}

void gw__h2up_free(struct gw_h2up *hs)
{
    gw_buf_free(&hs->head);
    gw_buf_free(&hs->in);
    gw_buf_free(&hs->replay);
    free(hs->fields);
    free(hs);
}

void gw__h2up_sweep(struct gw_pool *pl, uint64_t now, uint64_t idle_ms)
{
    if (!pl->h2)
        return;
    struct gw_list *l = pl->h2->list.next;
    while (l != &pl->h2->list) {
        struct h2conn *c = gw_container_of(l, struct h2conn, link);
        l = l->next;
        if (c->nusers == 0 && (idle_ms == 0 || now - c->idle_since >= idle_ms)) {
            if (c->connected)
                gw_h2c_session_goaway(c->sess);
            conn_flush(c);
            conn_close(c, UV_EOF);
        }
    }
}
