/*
 * WebSocket over HTTP/2 (RFC 8441): after the upstream's 101, an extended CONNECT stream and
 * the upstream connection that carried the HTTP/1.1 handshake relay bytes both ways: the
 * stream's DATA go to the upstream socket unchanged, the upstream's bytes go out as the stream's
 * DATA (docs/internals.md "Tunnels", "WebSocket over HTTP/2").
 *
 * What it owns: a duplicate of the upstream socket (the proxy closes its own handle, as for an
 * HTTP/1 tunnel), a timer, a label, counters, a frame follower per direction and at most one
 * write in flight towards the upstream; a read buffer only during a read. The stream stays the
 * session's: the tunnel is its owner_data (owner_tunnel) until either ends. No request, no snapshot
 * reference.
 *
 * Backpressure, both ways: the client's bytes are given back as window (gw_h2_stream_body_
 * consume) only once the upstream socket took them, so a slow upstream stops the client at its
 * window; the upstream's bytes go into the stream, and past GW_H2_OUT_HIGH (the client's window
 * holds them) reading from the upstream stops until the stream drained (`sent`).
 *
 * An https:// target: the upstream socket carries TLS records of the session the proxy's
 * connection established (gw_tunnel_info.upstream_tls, the tunnel's): what is read there is
 * decrypted before it goes into the stream, what the client sends is encrypted, our FIN is
 * preceded by a close_notify. Plaintext the session still holds when reading pauses is read on
 * when the stream drained.
 *
 * Ends: the client's END_STREAM becomes a shutdown of our sending half towards the upstream,
 * the upstream's EOF our END_STREAM; the tunnel closes when nghttp2 closed the stream (both
 * ended) or either side failed: RST_STREAM from the client closes the upstream socket, an
 * upstream read or write error resets the stream (CANCEL). Idle timeout and max lifetime come
 * from the service's websocket settings; when one passes, each side that is between two frames
 * gets a close frame 1001 (RFC 6455 7.4.1; masked towards the upstream), then END_STREAM and the
 * shutdown, and the tunnel lingers (discarding) for at most a second.
 */
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn/internal.h"
#include "core/bufcache.h"
#include "core/error.h"
#include "core/list.h"
#include "core/log.h"
#include "core/random.h"
#include "h2/session.h"
#include "metrics/metrics.h"
#include "runtime/worker-t.h"
#include "tls/io.h"
#include "tls/stream.h"
#include "upstream/tunnel.h"
#include "ws/frame_track.h"

#define LINGER_MS 1000

struct gw__h2_tunnel {
    uv_tcp_t tcp;            /** the upstream socket (a duplicate) */
    uv_timer_t timer;        /** idle timeout and max lifetime; the linger while ending */
    struct gw_list link;     /** in the connection's list of tunnels */
    struct gw_conn *c;       /** the client connection; NULL once closed */
    struct gw_h2_stream *st; /** the client side; NULL once the session closed it */
    struct gw_worker *w;
    struct gw_tls_stream *tls; /** an https:// target's session, or NULL */
    struct gw_ws_track to_up;  /** frames from the client */
    struct gw_ws_track to_cli; /** frames from the upstream */
    uint64_t t_open, last_active, idle_ms, deadline;
    uint64_t bytes_in;  /** from the client */
    uint64_t bytes_out; /** from the upstream */
    size_t writing;     /** client bytes the write in flight covers (consumed when it ends) */
    const char *why;
    char *label;
    unsigned open_handles;
    bool paused;  /** upstream reading stopped: the stream holds GW_H2_OUT_HIGH */
    bool up_eof;  /** the upstream ended its sending half */
    bool up_shut; /** our sending half towards the upstream is shut down (or asked to) */
    bool ending;  /** going away: close frames sent, discarding until both ends */
    bool closed;
};

struct up_write {
    uv_write_t req;
    struct gw__h2_tunnel *t; /* NULL once the tunnel closed */
    char data[];
};

static void pump_up(struct gw__h2_tunnel *t);
static void tunnel_close(struct gw__h2_tunnel *t, const char *why, uint32_t reset);

static void on_handle_closed(uv_handle_t *h)
{
    struct gw__h2_tunnel *t = h->data;
    if (--t->open_handles > 0)
        return;
    gw_tls_stream_free(t->tls);
    free(t->label);
    free(t);
}

static void record_close(struct gw__h2_tunnel *t)
{
    struct gw_worker *w = t->w;
    static const uint64_t le[] = GW_MX_TUNNEL_LE;
    uint64_t ms = uv_now(&w->loop) - t->t_open;
    size_t b = 0;
    while (b < sizeof le / sizeof le[0] && ms > le[b] * 1000)
        b++;
    gw_mx_inc(&w->mx.tun_dur[b]);
    gw_mx_add(&w->mx.tun_dur_ms, ms);
    gw_mx_add(&w->mx.tun_open, (uint64_t)-1);
    gw_log_info("websocket over HTTP/2 closed (%s): %s, %llu ms, %llu bytes from the client, "
                "%llu bytes from the upstream",
                t->why ? t->why : "closed", t->label ? t->label : "-", (unsigned long long)ms,
                (unsigned long long)t->bytes_in, (unsigned long long)t->bytes_out);
}

/* Ends the tunnel: the stream is reset with `reset` unless it closed already (or reset is
 * NGHTTP2_NO_ERROR and the stream may finish sending what it holds), the upstream socket
 * closed. */
static void tunnel_close(struct gw__h2_tunnel *t, const char *why, uint32_t reset)
{
    if (t->closed)
        return;
    t->closed = true;
    if (!t->why)
        t->why = why;
    if (t->st) {
        struct gw_h2_stream *st = t->st;
        t->st = NULL;
        gw_h2_stream_release(st);
        if (reset != NGHTTP2_NO_ERROR)
            gw_h2_stream_reset(st, reset);
    }
    gw_list_remove(&t->link);
    if (t->c)
        gw__h2_schedule(t->c);
    t->c = NULL;
    record_close(t);
    uv_close((uv_handle_t *)&t->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&t->timer, on_handle_closed);
}

/* Both ways done: close (the stream finished on its own). */
static void maybe_done(struct gw__h2_tunnel *t)
{
    if (!t->closed && !t->st && t->up_eof)
        tunnel_close(t, t->ending ? t->why : "closed", NGHTTP2_NO_ERROR);
}

/* ---- upstream -> client ---------------------------------------------------------------------- */

/* Reads go into one of the worker's client read buffers, taken back once the bytes were copied
 * into the stream: an idle tunnel holds none. (Not a _Thread_local buffer: thread-local storage
 * comes out of every thread's stack.) */
static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct gw__h2_tunnel *t = h->data;
    (void)hint;
    char *p = gw_bufcache_get(&t->w->conn_bufs);
    *buf = uv_buf_init(p, p ? GW_CONN_BUF_SIZE : 0);
}

static void up_read(struct gw__h2_tunnel *t, uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_up_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct gw__h2_tunnel *t = s->data;
    struct gw_worker *w = t->w; /* t lives until its handles' close callbacks */
    up_read(t, s, nread, buf);
    gw_bufcache_put(&w->conn_bufs, buf->base);
}

/* The upstream ended its sending half: our END_STREAM. */
static void up_eof(struct gw__h2_tunnel *t)
{
    uv_read_stop((uv_stream_t *)&t->tcp);
    t->up_eof = true;
    if (t->st) {
        gw_h2_stream_end(t->st); /* the upstream's FIN: our END_STREAM */
        gw__h2_schedule(t->c);
    }
    maybe_done(t);
}

/* n plaintext bytes from the upstream into the stream; reading pauses when it holds enough. */
static void up_data(struct gw__h2_tunnel *t, const char *p, size_t n)
{
    t->last_active = uv_now(&t->w->loop);
    if (t->ending || !t->st)
        return; /* going away: discarded */
    gw_ws_track(&t->to_cli, (const unsigned char *)p, n, false);
    t->bytes_out += (uint64_t)n;
    gw_mx_add(&t->w->mx.tun_bytes_out, (uint64_t)n);
    int rc = gw_h2_stream_write(t->st, p, n);
    if (rc < 0) {
        tunnel_close(t, "out of memory", NGHTTP2_INTERNAL_ERROR);
        return;
    }
    if (rc == 0) {
        /* The client's window holds GW_H2_OUT_HIGH: read on once it drained. */
        uv_read_stop((uv_stream_t *)&t->tcp);
        t->paused = true;
    }
    gw__h2_schedule(t->c);
}

/* An https:// target: the plaintext its session holds, until it needs input or reading
 * pauses. */
static void up_plain(struct gw__h2_tunnel *t)
{
    while (!t->closed && !t->paused) {
        char *p = gw_bufcache_get(&t->w->conn_bufs);
        if (!p) {
            tunnel_close(t, "out of memory", NGHTTP2_INTERNAL_ERROR);
            return;
        }
        size_t got = 0;
        int rc = gw_tls_stream_read(t->tls, p, GW_CONN_BUF_SIZE, &got);
        if (gw_tls_io_send(t->tls, (uv_stream_t *)&t->tcp, NULL, NULL) < 0 && rc >= 0)
            rc = GW_ETLS;
        if (rc == 0)
            up_data(t, p, got);
        gw_bufcache_put(&t->w->conn_bufs, p);
        if (rc == GW_TLS_WANT_INPUT)
            return;
        if (rc == GW_TLS_CLOSED) {
            if (!t->up_eof)
                up_eof(t);
            return;
        }
        if (rc < 0) {
            tunnel_close(t, "upstream TLS error", NGHTTP2_CANCEL);
            return;
        }
    }
}

static void up_read(struct gw__h2_tunnel *t, uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)s;
    if (t->closed || nread == 0)
        return;
    if (nread == UV_ENOBUFS) {
        tunnel_close(t, "out of memory", NGHTTP2_INTERNAL_ERROR);
        return;
    }
    if (nread < 0) {
        if (nread != UV_EOF) {
            uv_read_stop(s);
            tunnel_close(t, "upstream read failed", NGHTTP2_CANCEL);
            return;
        }
        up_eof(t);
        return;
    }
    if (t->tls) {
        if (gw_tls_stream_feed(t->tls, buf->base, (size_t)nread) < 0) {
            tunnel_close(t, "out of memory", NGHTTP2_INTERNAL_ERROR);
            return;
        }
        up_plain(t);
        return;
    }
    up_data(t, buf->base, (size_t)nread);
}

void gw__h2_tunnel_sent(struct gw__h2_tunnel *t)
{
    if (t->closed || !t->paused)
        return;
    t->paused = false;
    if (t->tls && gw_tls_stream_has_input(t->tls))
        up_plain(t);
    if (t->closed || t->paused || t->up_eof)
        return;
    if (uv_read_start((uv_stream_t *)&t->tcp, on_alloc, on_up_read) != 0)
        tunnel_close(t, "upstream read failed", NGHTTP2_CANCEL);
}

/* ---- client -> upstream ---------------------------------------------------------------------- */

static void on_up_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    free(req);
}

static void shut_up(struct gw__h2_tunnel *t)
{
    if (t->up_shut)
        return;
    t->up_shut = true;
    if (t->tls) {
        gw_tls_stream_shutdown(t->tls); /* close_notify before the FIN */
        (void)gw_tls_io_send(t->tls, (uv_stream_t *)&t->tcp, NULL, NULL);
    }
    uv_shutdown_t *req = malloc(sizeof *req);
    if (!req || uv_shutdown(req, (uv_stream_t *)&t->tcp, on_up_shutdown) != 0) {
        free(req);
        tunnel_close(t, "upstream shutdown failed", NGHTTP2_CANCEL);
    }
}

static void up_written(struct gw__h2_tunnel *t, int status);

static void on_up_written(uv_write_t *req, int status)
{
    struct up_write *wr = (struct up_write *)req;
    struct gw__h2_tunnel *t = wr->t;
    free(wr);
    if (t)
        up_written(t, status);
}

/* gw_tls_io_write's queued write (the tunnel outlives it: its handle closes after). */
static void on_up_tls_written(uv_write_t *req, int status)
{
    struct gw__h2_tunnel *t = req->data;
    free(req);
    up_written(t, status);
}

static void up_written(struct gw__h2_tunnel *t, int status)
{
    if (t->closed)
        return;
    size_t n = t->writing;
    t->writing = 0;
    if (status < 0) {
        tunnel_close(t, "upstream write failed", NGHTTP2_CANCEL);
        return;
    }
    if (t->st) {
        gw_h2_stream_body_consume(t->st, n); /* now the client may send as much again */
        gw__h2_schedule(t->c);
    }
    pump_up(t);
}

/* Writes what the client sent to the upstream: tried at once, the rest copied into one write
 * request; the window is given back for what the socket took. */
static void pump_up(struct gw__h2_tunnel *t)
{
    if (t->closed || !t->st || t->writing || t->up_shut)
        return;
    const char *p;
    size_t n = gw_h2_stream_body_peek(t->st, &p);
    if (n > 0 && t->ending) {
        gw_h2_stream_body_consume(t->st, n); /* going away: discarded */
        gw__h2_schedule(t->c);
        n = 0;
    }
    if (n > 0) {
        t->last_active = uv_now(&t->w->loop);
        gw_ws_track(&t->to_up, (const unsigned char *)p, n, false);
        t->bytes_in += n;
        gw_mx_add(&t->w->mx.tun_bytes_in, n);
        if (t->tls) {
            int rc = gw_tls_io_write(t->tls, (uv_stream_t *)&t->tcp, p, n, on_up_tls_written, t);
            if (rc < 0) {
                tunnel_close(t, "upstream write failed", NGHTTP2_CANCEL);
                return;
            }
            if (rc == 0) {
                t->writing = n;
                return;
            }
            gw_h2_stream_body_consume(t->st, n);
            gw__h2_schedule(t->c);
            n = 0;
        }
    }
    if (n > 0) {
        uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
        int done = uv_try_write((uv_stream_t *)&t->tcp, &b, 1);
        if (done == UV_EAGAIN || done == UV_ENOSYS)
            done = 0;
        if (done < 0) {
            tunnel_close(t, "upstream write failed", NGHTTP2_CANCEL);
            return;
        }
        if ((size_t)done < n) {
            size_t rest = n - (size_t)done;
            struct up_write *wr = malloc(sizeof *wr + rest);
            if (!wr) {
                tunnel_close(t, "out of memory", NGHTTP2_INTERNAL_ERROR);
                return;
            }
            memcpy(wr->data, p + done, rest);
            wr->t = t;
            uv_buf_t wb = uv_buf_init(wr->data, (unsigned)rest);
            if (uv_write(&wr->req, (uv_stream_t *)&t->tcp, &wb, 1, on_up_written) != 0) {
                free(wr);
                tunnel_close(t, "upstream write failed", NGHTTP2_CANCEL);
                return;
            }
            t->writing = n;
            return;
        }
        gw_h2_stream_body_consume(t->st, n);
        gw__h2_schedule(t->c);
    }
    /* The client's END_STREAM, all of it written: our FIN towards the upstream. */
    if (t->st->body_end && gw_h2_stream_body_peek(t->st, &p) == 0)
        shut_up(t);
}

void gw__h2_tunnel_body(struct gw__h2_tunnel *t)
{
    pump_up(t);
}

void gw__h2_tunnel_closed(struct gw__h2_tunnel *t, uint32_t error)
{
    t->st = NULL; /* the session frees it after this returns */
    if (error != NGHTTP2_NO_ERROR) {
        tunnel_close(t, "client reset the stream", NGHTTP2_NO_ERROR);
        return;
    }
    /* Both sides ended the stream: the upstream has had its FIN (or gets it now). */
    shut_up(t);
    if (!t->closed && !t->up_eof && !t->ending) {
        /* Our END_STREAM went out, so the upstream's EOF came already; a stream closed
         * cleanly before it cannot happen. Stay safe: close. */
        tunnel_close(t, "closed", NGHTTP2_NO_ERROR);
        return;
    }
    maybe_done(t);
}

/* ---- timeouts and going away ------------------------------------------------------------------
 */

static void on_timer(uv_timer_t *timer);

static void arm(struct gw__h2_tunnel *t)
{
    uint64_t now = uv_now(&t->w->loop);
    uint64_t at = UINT64_MAX;
    if (t->idle_ms)
        at = t->last_active + t->idle_ms;
    if (t->deadline && t->deadline < at)
        at = t->deadline;
    if (at != UINT64_MAX)
        uv_timer_start(&t->timer, on_timer, at > now ? at - now : 0, 0);
}

/* The idle timeout or the max lifetime passed: a close frame 1001 each way where the byte
 * stream is between two frames, the ends passed on, then at most LINGER_MS to finish. */
static void going_away(struct gw__h2_tunnel *t, const char *why)
{
    t->ending = true;
    t->why = why;
    unsigned char frame[8];
    if (!t->up_shut && !t->writing && gw_ws_track_boundary(&t->to_up)) {
        size_t n = gw_ws_close_frame(frame, 1001, true, (uint32_t)gw_random_u64());
        if (t->tls) {
            (void)gw_tls_io_write(t->tls, (uv_stream_t *)&t->tcp, (const char *)frame, n, NULL,
                                  NULL);
        } else {
            uv_buf_t b = uv_buf_init((char *)frame, (unsigned)n);
            (void)uv_try_write((uv_stream_t *)&t->tcp, &b, 1); /* 8 bytes to an idle socket */
        }
    }
    if (t->st && gw_ws_track_boundary(&t->to_cli)) {
        size_t n = gw_ws_close_frame(frame, 1001, false, 0);
        (void)gw_h2_stream_write(t->st, (const char *)frame, n);
    }
    if (t->st)
        gw_h2_stream_end(t->st);
    if (!t->writing)
        shut_up(t);
    if (t->closed)
        return;
    if (t->paused) {
        t->paused = false;
        (void)uv_read_start((uv_stream_t *)&t->tcp, on_alloc, on_up_read);
    }
    gw__h2_schedule(t->c);
    uv_timer_start(&t->timer, on_timer, LINGER_MS, 0);
}

static void on_timer(uv_timer_t *timer)
{
    struct gw__h2_tunnel *t = timer->data;
    if (t->closed)
        return;
    if (t->ending) {
        tunnel_close(t, t->why, NGHTTP2_CANCEL);
        return;
    }
    uint64_t now = uv_now(&t->w->loop);
    if (t->deadline && now >= t->deadline)
        going_away(t, "max lifetime");
    else if (t->idle_ms && now - t->last_active >= t->idle_ms)
        going_away(t, "idle timeout");
    else
        arm(t);
}

void gw__h2_tunnels_going_away(struct gw_list *tunnels)
{
    struct gw_list *it = tunnels->next;
    while (it != tunnels) {
        struct gw__h2_tunnel *t = gw_container_of(it, struct gw__h2_tunnel, link);
        it = it->next; /* t may close (and leave the list) inside */
        if (!t->ending && !t->closed)
            going_away(t, "gateway going away");
    }
}

void gw__h2_tunnels_close(struct gw_list *tunnels, const char *why)
{
    while (!gw_list_empty(tunnels)) {
        struct gw__h2_tunnel *t = gw_container_of(tunnels->next, struct gw__h2_tunnel, link);
        tunnel_close(t, why, NGHTTP2_CANCEL);
    }
}

/* ---- start --------------------------------------------------------------------------------------
 */

int gw__h2_tunnel_start(struct gw_conn *c, struct gw_list *tunnels, struct gw_h2_stream *st,
                        uv_stream_t *upstream, const char *to_client, size_t n_client,
                        const struct gw_tunnel_info *info)
{
    struct gw_worker *w = c->w;
    struct gw__h2_tunnel *t = calloc(1, sizeof *t);
    if (!t) {
        gw_tls_stream_free(info->upstream_tls);
        return GW_ENOMEM;
    }
    t->tls = info->upstream_tls; /* freed with t, started or not */
    int len = snprintf(NULL, 0, "request %s service %s client %s upstream %s stream %d", info->id,
                       info->service, info->peer, info->target, (int)st->id);
    t->label = malloc((size_t)len + 1);
    if (t->label)
        snprintf(t->label, (size_t)len + 1, "request %s service %s client %s upstream %s stream %d",
                 info->id, info->service, info->peer, info->target, (int)st->id);
    uv_tcp_init(&w->loop, &t->tcp);
    t->tcp.data = t;
    t->open_handles = 1;
    int rc = t->label ? 0 : GW_ENOMEM;
    uv_os_fd_t fd;
    if (rc == 0)
        rc = uv_fileno((uv_handle_t *)upstream, &fd);
    int dup_fd = rc == 0 ? dup(fd) : -1;
    if (rc == 0 && dup_fd < 0)
        rc = GW_ENOMEM;
    if (rc == 0) {
        rc = uv_tcp_open(&t->tcp, dup_fd);
        if (rc < 0)
            close(dup_fd);
    }
    if (rc < 0) {
        uv_close((uv_handle_t *)&t->tcp, on_handle_closed);
        return rc;
    }
    uv_timer_init(&w->loop, &t->timer);
    t->timer.data = t;
    t->open_handles = 2;
    t->c = c;
    t->st = st;
    t->w = w;
    t->t_open = t->last_active = uv_now(&w->loop);
    t->idle_ms = info->idle_ms;
    t->deadline = info->lifetime_ms ? t->t_open + info->lifetime_ms : 0;
    st->owner_data = t;
    st->owner_tunnel = true;
    gw_list_insert_tail(tunnels, &t->link);
    gw_mx_inc(&w->mx.tun_total);
    gw_mx_inc(&w->mx.tun_open);

    /* What the upstream sent past its 101 goes first. */
    if (n_client) {
        gw_ws_track(&t->to_cli, (const unsigned char *)to_client, n_client, false);
        t->bytes_out += n_client;
        gw_mx_add(&w->mx.tun_bytes_out, n_client);
        if (gw_h2_stream_write(st, to_client, n_client) == 0)
            t->paused = true;
    }
    /* ... then what an https:// target's session still holds. */
    if (t->tls && gw_tls_stream_has_input(t->tls))
        up_plain(t);
    if (t->closed)
        return 0; /* taken: closed */
    if (!t->paused && !t->up_eof &&
        uv_read_start((uv_stream_t *)&t->tcp, on_alloc, on_up_read) != 0) {
        tunnel_close(t, "upstream read failed", NGHTTP2_CANCEL);
        return 0; /* taken: closed */
    }
    /* What the client sent before the 200 (optimistic DATA) goes now. */
    pump_up(t);
    if (!t->closed)
        arm(t);
    gw__h2_schedule(c);
    return 0;
}
