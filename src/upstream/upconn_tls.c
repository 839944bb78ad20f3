/*
 * The TLS side of an upstream connection to an https:// target: the same memory-BIO session
 * the HTTPS listener uses (tls/stream.h), in client mode (tls/client.h).
 *
 *   TCP connect -> handshake (ClientHello out, verify the certificate and host) -> the
 *   proxy's connect callback -> ciphertext from the socket, plaintext into uc->buf as a plain
 *   connection's reads would put it -> the proxy's writes encrypted and sent.
 *
 * A handshake that fails (a certificate that does not verify, a wrong host, a server that
 * wants a client certificate we do not have, a peer that is no TLS server) ends the connect
 * with GW_EUPTLS and one warning line with OpenSSL's reason; a handshake that does not finish
 * is bounded by the proxy's connect timer, which runs until the connect callback. Sessions go
 * to the pool (one per target and worker), so the next new connection resumes instead of
 * doing a full handshake.
 */
#include <stdlib.h>
#include <string.h>

#include "control/snapshot-t.h"
#include "core/error.h"
#include "core/log.h"
#include "metrics/metrics.h"
#include "runtime/worker-t.h"
#include "tls/client.h"
#include "tls/io.h"
#include "tls/stream.h"
#include "upstream/internal.h"
#include "upstream/pool.h"
#include "upstream/proxy.h"

/* Ciphertext is read into one buffer per thread: the read callback follows the allocation at
 * once and the session copies what it is given. */
#define TLS_UP_READ_BUF 32768
static _Thread_local char tls_in[TLS_UP_READ_BUF];

struct gw_upconn_tls {
    /** not NULL: no TLS at all, the connection is a stream of an HTTP/2 connection
     * (upstream/h2_upstream.c), and the functions below hand over to it. It rides on uc->tls
     * so that plain HTTP/1.1 connections pay nothing for it: gw_upconn_write tests uc->tls
     * already. */
    struct gw_h2up *h2;
    struct gw_tls_stream *s;
    uv_connect_cb cb;     /* the proxy's connect callback: runs when the handshake is done */
    uv_write_cb write_cb; /* the proxy's write callback, for a write that had to wait */
    uv_idle_t resume;     /* drains plaintext held in the session once reading restarts */
    bool tcp_connected;
    bool established;
};

bool gw_upconn_tls_connected(const struct gw_upconn *uc)
{
    return uc->tls && uc->tls->tcp_connected;
}

struct gw_upconn_tls *gw__upconn_tls_h2(struct gw_h2up *hs)
{
    struct gw_upconn_tls *t = calloc(1, sizeof *t);
    if (t)
        t->h2 = hs;
    return t;
}

struct gw_h2up *gw__upconn_tls_h2_of(const struct gw_upconn *uc)
{
    return uc->tls ? uc->tls->h2 : NULL;
}

/* A queued write completed: the proxy's callback (which does not free) runs with the request,
 * whose data is the connection, then the request goes. */
static void on_tls_written(uv_write_t *req, int status)
{
    struct gw_upconn *uc = req->data;
    uv_write_cb cb = uc->tls ? uc->tls->write_cb : NULL;
    if (cb)
        cb(req, status);
    free(req);
}

/* Sends what the session has for the peer (tls/io.h): 1 when all of it went out, 0 when queued
 * (cb, when not NULL, runs once it is written), negative on error. */
static int flush_out(struct gw_upconn *uc, uv_write_cb cb)
{
    if (cb)
        uc->tls->write_cb = cb;
    return gw_tls_io_send(uc->tls->s, (uv_stream_t *)&uc->tcp, cb ? on_tls_written : NULL, uc);
}

/* The pool keeps the newest session of its target for the next new connection. */
static void keep_session(struct gw_upconn *uc)
{
    struct gw_tls_session *s = gw_tls_stream_take_session(uc->tls->s);
    if (!s)
        return;
    gw_tls_session_free(uc->pool->tls_session);
    uc->pool->tls_session = s;
}

/* The target's "host:port" for log lines: the request's target while one owns the connection. */
static const char *target_of(const struct gw_upconn *uc)
{
    return uc->req && uc->req->target ? uc->req->target->key : uc->pool->key;
}

/* Ends the connect phase with status for the proxy (at most once). */
static void connect_done(struct gw_upconn *uc, int status)
{
    uv_connect_cb cb = uc->tls->cb;
    uc->tls->cb = NULL;
    if (cb)
        cb(&uc->connect_req, status);
}

static void handshake_failed(struct gw_upconn *uc, const char *why)
{
    struct gw_request *r = uc->req;
    gw_mx_inc(&uc->w->mx.up_tls_failures);
    gw_log_warn("upstream %s: TLS handshake failed: %s (request %s)", target_of(uc), why,
                r ? r->id : "-");
    connect_done(uc, GW_EUPTLS);
}

/* Moves the handshake on after new input (or at the start). */
static void handshake_step(struct gw_upconn *uc)
{
    struct gw_upconn_tls *t = uc->tls;
    int rc = gw_tls_stream_handshake(t->s);
    int f = flush_out(uc, NULL);
    if (rc == GW_TLS_WANT_INPUT && f >= 0)
        return;
    if (rc < 0) {
        handshake_failed(uc, gw_tls_stream_error(t->s));
        return;
    }
    if (f < 0) {
        handshake_failed(uc, uv_strerror(f));
        return;
    }
    t->established = true;
    gw_mx_inc(&uc->w->mx.up_tls_handshakes);
    if (gw_tls_stream_resumed(t->s))
        gw_mx_inc(&uc->w->mx.up_tls_resumed);
    keep_session(uc);
    connect_done(uc, 0);
}

/* Plaintext from the session into uc->buf for the request that owns the connection, as far as
 * there is room and the connection reads; plaintext on an idle connection ends it. */
static void pump(struct gw_upconn *uc)
{
    struct gw_upconn_tls *t = uc->tls;
    while (!uc->closing && uc->reading) {
        struct gw_request *r = uc->req;
        if (!r) {
            char b[64];
            size_t got = 0;
            int rc = gw_tls_stream_read(t->s, b, sizeof b, &got);
            (void)flush_out(uc, NULL);
            keep_session(uc); /* a TLS 1.3 ticket arrives after the handshake */
            if (rc == GW_TLS_WANT_INPUT)
                return;
            gw__upconn_idle_gone(uc, rc == 0               ? "sent unexpected data"
                                     : rc == GW_TLS_CLOSED ? "closed by upstream"
                                                           : gw_tls_stream_error(t->s));
            return;
        }
        if (!uc->buf) {
            uc->buf = gw_bufcache_get(&uc->w->upconn_bufs);
            uc->cap = uc->buf ? GW_UPCONN_BUF_SIZE : 0;
            uc->len = uc->off = 0;
            if (!uc->buf) {
                gw_proxy_upstream_input(r, UV_ENOBUFS);
                return;
            }
        }
        if (uc->len == uc->cap && uc->off > 0) {
            memmove(uc->buf, uc->buf + uc->off, uc->len - uc->off);
            uc->len -= uc->off;
            uc->off = 0;
        }
        if (uc->len == uc->cap)
            return; /* the proxy has not consumed: the rest waits in the session */
        size_t got = 0;
        int rc = gw_tls_stream_read(t->s, uc->buf + uc->len, uc->cap - uc->len, &got);
        (void)flush_out(uc, NULL);
        keep_session(uc);
        if (rc == GW_TLS_WANT_INPUT)
            return;
        if (rc == GW_TLS_CLOSED) {
            gw_proxy_upstream_input(r, UV_EOF);
            return;
        }
        if (rc < 0) {
            gw_log_warn("upstream %s: TLS error: %s (request %s)", target_of(uc),
                        gw_tls_stream_error(t->s), r->id);
            uc->failure_logged = true;
            gw_proxy_upstream_input(r, UV_ECONNRESET);
            return;
        }
        uc->len += got;
        gw_proxy_upstream_input(r, (ssize_t)got);
    }
}

static void on_resume(uv_idle_t *h)
{
    struct gw_upconn *uc = h->data;
    uv_idle_stop(h);
    if (!uc->closing)
        pump(uc);
}

static void on_tls_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(tls_in, sizeof tls_in);
}

static void on_tls_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct gw_upconn *uc = s->data;
    struct gw_upconn_tls *t = uc->tls;
    if (nread == 0 || uc->closing)
        return;
    if (nread < 0) {
        if (!t->established) {
            handshake_failed(uc, nread == UV_EOF ? "connection closed by the upstream"
                                                 : uv_strerror((int)nread));
        } else if (!uc->req) {
            gw__upconn_idle_gone(uc, nread == UV_EOF ? "closed by upstream" : "failed");
        } else {
            gw_proxy_upstream_input(uc->req, nread);
        }
        return;
    }
    if (gw_tls_stream_feed(t->s, buf->base, (size_t)nread) < 0) {
        if (!t->established)
            handshake_failed(uc, "out of memory");
        else if (uc->req)
            gw_proxy_upstream_input(uc->req, UV_ENOBUFS);
        else
            gw__upconn_idle_gone(uc, "out of memory");
        return;
    }
    if (!t->established) {
        handshake_step(uc);
        if (!t->established || uc->closing || !gw_tls_stream_has_input(t->s))
            return;
    }
    pump(uc);
}

void gw__upconn_tls_read_start(struct gw_upconn *uc)
{
    if (uc->closing)
        return;
    if (uc->tls->h2) {
        gw__h2up_read_start(uc);
        return;
    }
    if (!uc->reading && uv_read_start((uv_stream_t *)&uc->tcp, on_tls_alloc, on_tls_read) == 0)
        uc->reading = true;
    if (uc->reading && uc->tls->established && gw_tls_stream_has_input(uc->tls->s))
        uv_idle_start(&uc->tls->resume, on_resume);
}

static void on_tcp_connected(uv_connect_t *creq, int status)
{
    struct gw_upconn *uc = creq->data;
    if (uc->closing) {
        connect_done(uc, status < 0 ? status : UV_ECANCELED);
        return;
    }
    if (status < 0) {
        connect_done(uc, status);
        return;
    }
    uc->tls->tcp_connected = true;
    gw__upconn_tls_read_start(uc);
    handshake_step(uc); /* the ClientHello */
}

int gw__upconn_tls_connect(struct gw_upconn *uc, const struct gw_target *t, uv_connect_cb cb)
{
    struct gw_upconn_tls *tl = calloc(1, sizeof(*tl));
    if (!tl)
        return GW_ENOMEM;
    struct gw_tls_session *resume =
        gw_tls_client_reuses_sessions(t->tls) ? uc->pool->tls_session : NULL;
    tl->s = gw_tls_stream_new_client(t->tls, t->conf->host, resume);
    if (!tl->s) {
        free(tl);
        return GW_ENOMEM;
    }
    tl->cb = cb;
    uv_idle_init(&uc->w->loop, &tl->resume);
    tl->resume.data = uc;
    uc->tls = tl;
    uc->open_handles++;
    return uv_tcp_connect(&uc->connect_req, &uc->tcp, (const struct sockaddr *)&t->addr,
                          on_tcp_connected);
}

int gw_upconn_tls_write(struct gw_upconn *uc, uv_buf_t *bufs, unsigned n, uv_write_cb cb)
{
    if (uc->tls->h2)
        return gw__h2up_write(uc, bufs, n, cb);
    if (gw_tls_io_encrypt(uc->tls->s, bufs, n) < 0) {
        gw_log_warn("upstream %s: TLS write: %s", target_of(uc), gw_tls_stream_error(uc->tls->s));
        return GW_ETLS;
    }
    return flush_out(uc, cb);
}

struct gw_tls_stream *gw__upconn_tls_take(struct gw_upconn *uc)
{
    struct gw_upconn_tls *t = uc->tls;
    if (!t || !t->established || uc->tcp.write_queue_size > 0)
        return NULL;
    struct gw_tls_stream *s = t->s;
    uv_idle_stop(&t->resume);
    uv_read_stop((uv_stream_t *)&uc->tcp);
    uc->reading = false;
    t->s = NULL;
    return s;
}

void gw__upconn_tls_close(struct gw_upconn *uc, uv_close_cb cb)
{
    struct gw_upconn_tls *t = uc->tls;
    if (t->h2) {
        gw__h2up_close(uc, cb);
        return;
    }
    if (t->established && t->s) {
        /* Best effort: a close_notify when the socket takes it now; nothing waits for it. */
        gw_tls_stream_shutdown(t->s);
        const char *p;
        size_t n = gw_tls_stream_out(t->s, &p);
        if (n) {
            uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
            (void)uv_try_write((uv_stream_t *)&uc->tcp, &b, 1);
        }
    }
    uv_close((uv_handle_t *)&t->resume, cb);
}

void gw__upconn_tls_free(struct gw_upconn *uc)
{
    if (!uc->tls)
        return;
    if (uc->tls->h2)
        gw__h2up_free(uc->tls->h2);
    gw_tls_stream_free(uc->tls->s);
    free(uc->tls);
    uc->tls = NULL;
}
