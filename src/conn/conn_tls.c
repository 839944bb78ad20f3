/*
 * The TLS transport of an HTTP/1 connection: ciphertext read from the socket goes into the
 * session's memory BIO (tls/stream.h), the plaintext it yields goes where plain TCP bytes
 * would (gw__conn_room, gw__conn_input), and everything the session has to say (handshake,
 * tickets, records, alerts) is written to the socket the way conn_write writes: try the socket
 * first, queue only what it did not take.
 *
 * Backpressure: when the request leaves no room for plaintext, reading stops with the rest
 * still inside the session (at most one read's worth of ciphertext); gw_conn_read_start then
 * resumes it from an idle handle on the next loop iteration (never inside the caller, which
 * may be the proxy asking for more body).
 */
#include <stdlib.h>
#include <string.h>

#include "conn/internal.h"
#include "control/snapshot-t.h"
#include "core/error.h"
#include "core/log.h"
#include "metrics/hub.h"
#include "runtime/worker-t.h"
#include "tls/io.h"
#include "tls/stream.h"

/* Ciphertext is read into one buffer per worker (w->tls_rbuf, made with the worker's first TLS
 * connection): the read callback follows the allocation at once, and the session copies what
 * it is given. An idle TLS connection holds no buffer. */
#define TLS_READ_BUF 65536

struct gw_conn_tls {
    struct gw_tls_stream *s;
    uv_idle_t resume; /* drains plaintext held in the session once reading restarts */
    bool counted;     /* the handshake's outcome was counted */
    char *subject;    /* the client certificate's subject and SANs (mTLS), or NULL */
    char *san;
};

/* Sends what the session has for the peer (tls/io.h). 1: all of it went out now; 0: queued (cb,
 * if not NULL, runs when it is written, with the request's data = c, and frees it); negative on
 * error. */
static int flush_out(struct gw_conn *c, uv_write_cb cb)
{
    return gw_tls_io_send(c->tls->s, (uv_stream_t *)&c->tcp, cb, c);
}

static void count_handshake(struct gw_conn *c, bool ok, const char *why)
{
    struct gw_conn_tls *t = c->tls;
    if (t->counted)
        return;
    t->counted = true;
    if (ok) {
        gw_tls_stream_peer(t->s, &t->subject, &t->san);
        gw_mx_inc(&c->w->mx.tls_handshakes);
        if (gw_tls_stream_resumed(t->s))
            gw_mx_inc(&c->w->mx.tls_resumed);
        /* ALPN chose HTTP/2: the plaintext from here on is the session's. */
        if (gw_tls_stream_alpn_h2(t->s))
            gw__h2_start(c);
        return;
    }
    gw_mx_inc(&c->w->mx.tls_failures);
    gw_log_debug("client %s: TLS handshake failed: %s", c->peer, why);
}

/* Moves plaintext out of the session into the connection's input, as far as there is room and
 * the connection reads. */
static void pump(struct gw_conn *c)
{
    struct gw_conn_tls *t = c->tls;
    while (!c->closing && c->reading) {
        uv_buf_t room;
        gw__conn_room(c, &room);
        if (room.len == 0) {
            gw__conn_input(c, UV_ENOBUFS); /* stops reading; resumed by read_start */
            break;
        }
        size_t got = 0;
        int rc = gw_tls_stream_read(t->s, room.base, room.len, &got);
        bool established = gw_tls_stream_established(t->s);
        if (established && !t->counted)
            count_handshake(c, true, NULL);
        if (flush_out(c, NULL) < 0 && rc == 0)
            rc = GW_EUPRESET;
        if (rc == GW_TLS_WANT_INPUT)
            break;
        if (rc == GW_TLS_CLOSED) {
            gw__conn_input(c, UV_EOF);
            break;
        }
        if (rc < 0) {
            if (!established)
                count_handshake(c, false, gw_tls_stream_error(t->s));
            else
                gw_log_debug("client %s: TLS error: %s", c->peer, gw_tls_stream_error(t->s));
            gw_conn_close(c);
            break;
        }
        gw__conn_input(c, (ssize_t)got);
        /* Nothing held: another SSL_read would only say "want input" (a call that costs about
         * as much as the one that decrypted). */
        if (c->tls && c->tls->s && !gw_tls_stream_has_input(t->s))
            break;
    }
}

static void on_resume(uv_idle_t *h)
{
    struct gw_conn *c = h->data;
    uv_idle_stop(h);
    pump(c);
}

static void on_raw_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    const struct gw_conn *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->w->tls_rbuf, TLS_READ_BUF);
}

static void on_raw_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct gw_conn *c = s->data;
    if (nread == 0 || c->closing)
        return;
    if (nread < 0) {
        if (!gw_tls_stream_established(c->tls->s))
            count_handshake(c, false,
                            nread == UV_EOF ? "closed by the client" : uv_strerror((int)nread));
        gw__conn_input(c, nread);
        return;
    }
    if (gw_tls_stream_feed(c->tls->s, buf->base, (size_t)nread) < 0) {
        gw_conn_close(c);
        return;
    }
    pump(c);
}

int gw__conn_tls_init(struct gw_conn *c)
{
    struct gw_tls_ctx *ctx = c->w->snap->tls;
    if (!ctx)
        return GW_EINVAL;
    if (!c->w->tls_rbuf) {
        c->w->tls_rbuf = malloc(TLS_READ_BUF);
        if (!c->w->tls_rbuf)
            return GW_ENOMEM;
    }
    struct gw_conn_tls *t = calloc(1, sizeof(*t));
    if (!t)
        return GW_ENOMEM;
    t->s = gw_tls_stream_new(ctx);
    if (!t->s) {
        free(t);
        return GW_ENOMEM;
    }
    uv_idle_init(&c->w->loop, &t->resume);
    t->resume.data = c;
    c->tls = t;
    c->open_handles++;
    return 0;
}

int gw__conn_tls_read_start(struct gw_conn *c)
{
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_raw_alloc, on_raw_read);
    if (rc == 0 && gw_tls_stream_has_input(c->tls->s))
        uv_idle_start(&c->tls->resume, on_resume);
    return rc;
}

int gw__conn_tls_write(struct gw_conn *c, uv_buf_t *bufs, unsigned nbufs, uv_write_cb cb)
{
    int rc = gw_tls_io_encrypt(c->tls->s, bufs, nbufs);
    if (rc < 0) {
        gw_log_debug("client %s: TLS write: %s", c->peer, gw_tls_stream_error(c->tls->s));
        return rc;
    }
    return flush_out(c, cb);
}

int gw__conn_tls_send_raw(struct gw_conn *c, const char *p, size_t n)
{
    int rc = gw_tls_stream_write(c->tls->s, p, n);
    if (rc == 0)
        rc = flush_out(c, NULL);
    return rc < 0 ? rc : 0;
}

struct gw_tls_stream *gw__conn_tls_take(struct gw_conn *c)
{
    struct gw_tls_stream *s = c->tls->s;
    uv_idle_stop(&c->tls->resume);
    c->tls->s = NULL;
    return s;
}

void gw__conn_tls_shutdown(struct gw_conn *c)
{
    if (!c->tls->s)
        return;
    gw_tls_stream_shutdown(c->tls->s);
    (void)flush_out(c, NULL);
}

void gw__conn_tls_close(struct gw_conn *c, uv_close_cb cb)
{
    if (c->tls->s && !c->tls->counted && !gw_tls_stream_established(c->tls->s))
        count_handshake(c, false, "connection closed during the handshake");
    uv_close((uv_handle_t *)&c->tls->resume, cb);
}

void gw__conn_tls_free(struct gw_conn *c)
{
    if (!c->tls)
        return;
    gw_tls_stream_free(c->tls->s);
    free(c->tls->subject);
    free(c->tls->san);
    free(c->tls);
    c->tls = NULL;
}

const struct gw_tls_stream *gw__conn_tls_client_cert(const struct gw_conn *c, const char **subject,
                                                     const char **san)
{
    *subject = c->tls->subject;
    *san = c->tls->san;
    return c->tls->subject ? c->tls->s : NULL;
}
