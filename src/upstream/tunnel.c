/*
 * Tunnels (upstream/tunnel.h): bytes both ways between a client and an upstream after a 101.
 *
 * Memory: an open tunnel is this struct (two TCP handles, a timer, counters, a label) and
 * nothing else. Reads go into one buffer per worker thread and are written on at once
 * (uv_try_write); only the bytes a socket does not take are copied into a write request. So an
 * idle tunnel holds no buffer at all, and a busy one at most about GW_TUNNEL_HIGH_WATER plus
 * one read per direction.
 *
 * Backpressure, both ways: when the write queue towards one side is over GW_TUNNEL_HIGH_WATER,
 * reading from the other side stops, and it starts again when a write completes with the queue
 * back under it (libuv's write_queue_size, read stop/start).
 *
 * Ends: a side's EOF is passed on as a shutdown of our sending half towards the other side (a
 * half-close), and the tunnel closes when both sides ended and both shutdowns completed. A read
 * or write error closes it at once. The idle timeout, the max lifetime and the drain end it
 * "going away": a WebSocket tunnel sends a close frame 1001 each way where the stream is between
 * frames (ws/frame_track.h follows the frames; masked towards the upstream, RFC 6455 5.3), then
 * shuts down both sending halves and reads (discarding) until both sides closed, for at most
 * GW_TUNNEL_LINGER_MS.
 *
 * TLS: a side of the HTTPS listener or of an https:// target brings its session (tls/stream.h).
 * Its socket carries records: what is read there is fed to the session and the plaintext relayed
 * (one record at a time, so backpressure stops between two records and the rest waits in the
 * session), what is sent there is encrypted and goes through tls/io.h (the same try-write, then
 * queue). Its EOF is its close_notify (or the socket's end); our half-close towards it is a
 * close_notify before the FIN. The bounds above hold for the records as they do for bytes.
 */
#include "upstream/tunnel.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/list.h"
#include "core/log.h"
#include "core/random.h"
#include "metrics/metrics.h"
#include "runtime/server-t.h"
#include "runtime/worker-t.h"
#include "tls/io.h"
#include "tls/stream.h"
#include "ws/frame_track.h"

#define GW_TUNNEL_READ_SIZE 65536
#define GW_TUNNEL_HIGH_WATER 65536
#define GW_TUNNEL_LINGER_MS 1000

enum {
    CLIENT = 0,
    UPSTREAM = 1
};

enum tunnel_state {
    T_OPEN = 0, /* relaying */
    T_ENDING,   /* going away: close frames and shutdowns sent, discarding until both close */
    T_CLOSED,   /* handles closing */
};

struct side {
    uv_tcp_t tcp;
    struct gw_tls_stream *tls; /** the side speaks TLS: its session; NULL: plain */
    struct gw_ws_track track;  /** the frames read from this side */
    uint64_t bytes;            /** read from this side */
    bool paused; /** reading stopped: the other side's write queue is over the bound */
    bool eof;    /** this side ended its sending half (or failed) */
    bool shut;   /** our sending half towards this side is shut down (or asked to) */
};

struct gw_tunnel {
    struct side s[2];
    uv_timer_t timer;    /** idle timeout and max lifetime; the linger while going away */
    struct gw_list link; /** in w->tunnels */
    struct gw_worker *w;
    uint64_t t_open;      /** uv_now when it opened */
    uint64_t last_active; /** uv_now of the last read */
    uint64_t idle_ms;
    uint64_t deadline; /** uv_now past which it ends; 0: never */
    const char *why;   /** why it ended, for the log line */
    char *label;       /** "request R service S client C upstream U", for the log line */
    unsigned open_handles;
    unsigned shutdowns; /** shutdowns completed */
    uint8_t state;
    bool websocket;
};

/* The memory budget of an open tunnel (issue 14: at most 4 KiB each, all included). */
_Static_assert(sizeof(struct gw_tunnel) <= 1024, "a tunnel fits in 1 KiB");

/* A write that had to wait, with the bytes the socket did not take. */
struct tunnel_write {
    uv_write_t req;
    struct gw_tunnel *t;
    uint8_t to;
    char data[];
};

/* One read buffer per worker thread: every read is passed on (or copied) before the next one.
 * A TLS side's plaintext comes out into it too: its ciphertext was copied into the session
 * first. (Thread-local storage lives on each worker's stack: no second buffer.) */
static _Thread_local char read_buf[GW_TUNNEL_READ_SIZE];

static void tunnel_close(struct gw_tunnel *t, const char *why);
static void going_away(struct gw_tunnel *t, const char *why);

static int side_of(const struct gw_tunnel *t, const uv_handle_t *h)
{
    return h == (const uv_handle_t *)&t->s[CLIENT].tcp ? CLIENT : UPSTREAM;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct gw_tunnel *t = h->data;
    if (--t->open_handles > 0)
        return;
    gw_tls_stream_free(t->s[CLIENT].tls);
    gw_tls_stream_free(t->s[UPSTREAM].tls);
    free(t->label);
    free(t);
}

static void record_close(struct gw_tunnel *t)
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
    gw_log_info("%s closed (%s): %s, %llu ms, %llu bytes from the client, %llu bytes from the "
                "upstream",
                t->websocket ? "websocket" : "tunnel", t->why ? t->why : "closed", t->label,
                (unsigned long long)ms, (unsigned long long)t->s[CLIENT].bytes,
                (unsigned long long)t->s[UPSTREAM].bytes);
}

static void tunnel_close(struct gw_tunnel *t, const char *why)
{
    if (t->state == T_CLOSED)
        return;
    if (!t->why)
        t->why = why;
    t->state = T_CLOSED;
    record_close(t);
    struct gw_worker *w = t->w;
    gw_list_remove(&t->link);
    w->ntunnels--;
    atomic_fetch_sub(&w->server->nconns, 1);
    uv_close((uv_handle_t *)&t->s[CLIENT].tcp, on_handle_closed);
    uv_close((uv_handle_t *)&t->s[UPSTREAM].tcp, on_handle_closed);
    uv_close((uv_handle_t *)&t->timer, on_handle_closed);
    /* A stopping worker waits for its last connection and tunnel (runtime/worker.c). */
    if (w->stopping && w->nconns == 0 && w->ntunnels == 0 &&
        !uv_is_closing((uv_handle_t *)&w->wakeup))
        uv_async_send(&w->wakeup);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    buf->base = read_buf;
    buf->len = sizeof read_buf;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void drain_tls(struct gw_tunnel *t, int from);
static int send_to(struct gw_tunnel *t, int to, const char *data, size_t n);

/* Reads from side `from` (again); a TLS side first gives what its session still holds. */
static void read_start(struct gw_tunnel *t, int from)
{
    if (uv_read_start((uv_stream_t *)&t->s[from].tcp, on_alloc, on_read) < 0) {
        tunnel_close(t, "read failed");
        return;
    }
    if (t->s[from].tls && gw_tls_stream_has_input(t->s[from].tls))
        drain_tls(t, from);
}

static void maybe_done(struct gw_tunnel *t)
{
    if (t->s[CLIENT].eof && t->s[UPSTREAM].eof && t->shutdowns == 2)
        tunnel_close(t, NULL);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct gw_tunnel *t = req->data;
    free(req);
    if (status == UV_ECANCELED || t->state == T_CLOSED)
        return;
    t->shutdowns++;
    maybe_done(t);
}

/* Shuts our sending half towards side `to` once its queued writes are out. */
static void shut(struct gw_tunnel *t, int to)
{
    if (t->s[to].shut)
        return;
    t->s[to].shut = true;
    if (t->s[to].tls) {
        /* close_notify first; a failure to send it shows in the shutdown. */
        gw_tls_stream_shutdown(t->s[to].tls);
        (void)send_to(t, to, NULL, 0);
    }
    uv_shutdown_t *req = malloc(sizeof(*req));
    if (!req || uv_shutdown(req, (uv_stream_t *)&t->s[to].tcp, on_shutdown) < 0) {
        free(req);
        tunnel_close(t, "shutdown failed");
        return;
    }
    req->data = t;
}

/* A write towards side `to` completed. */
static void written(struct gw_tunnel *t, int to, int status)
{
    int from = 1 - to;
    if (t->state == T_CLOSED)
        return;
    if (status < 0) {
        tunnel_close(t, to == CLIENT ? "write to the client failed" : "write upstream failed");
        return;
    }
    struct side *src = &t->s[from];
    if (src->paused && t->s[to].tcp.write_queue_size <= GW_TUNNEL_HIGH_WATER) {
        src->paused = false;
        read_start(t, from);
    }
}

static void on_written(uv_write_t *req, int status)
{
    struct tunnel_write *wr = (struct tunnel_write *)req;
    struct gw_tunnel *t = wr->t;
    int to = wr->to;
    free(wr);
    written(t, to, status);
}

static void on_tls_written_client(uv_write_t *req, int status)
{
    struct gw_tunnel *t = req->data;
    free(req);
    written(t, CLIENT, status);
}

static void on_tls_written_upstream(uv_write_t *req, int status)
{
    struct gw_tunnel *t = req->data;
    free(req);
    written(t, UPSTREAM, status);
}

/* Sends data[0..n) to side `to` (encrypted for a TLS side; n == 0 sends what its session has
 * to say): inline when the socket takes it, else a copy waits in a write. 0, or a negative code
 * (the caller closes). */
static int send_to(struct gw_tunnel *t, int to, const char *data, size_t n)
{
    uv_stream_t *dst = (uv_stream_t *)&t->s[to].tcp;
    if (t->s[to].tls) {
        int rc = gw_tls_io_write(t->s[to].tls, dst, data, n,
                                 to == CLIENT ? on_tls_written_client : on_tls_written_upstream, t);
        return rc < 0 ? rc : 0;
    }
    if (dst->write_queue_size == 0) {
        uv_buf_t b = uv_buf_init((char *)data, (unsigned)n);
        int w = uv_try_write(dst, &b, 1);
        if (w == (int)n)
            return 0;
        if (w < 0 && w != UV_EAGAIN)
            return w;
        if (w > 0) {
            data += w;
            n -= (size_t)w;
        }
    }
    struct tunnel_write *wr = malloc(sizeof(*wr) + n);
    if (!wr)
        return GW_ENOMEM;
    wr->t = t;
    wr->to = (uint8_t)to;
    memcpy(wr->data, data, n);
    uv_buf_t b = uv_buf_init(wr->data, (unsigned)n);
    int rc = uv_write(&wr->req, dst, &b, 1, on_written);
    if (rc < 0) {
        free(wr);
        return rc;
    }
    return 0;
}

/* Side `from` ended its sending half (status UV_EOF, or its close_notify) or failed. */
static void side_ended(struct gw_tunnel *t, int from, ssize_t status)
{
    struct side *src = &t->s[from];
    uv_read_stop((uv_stream_t *)&src->tcp);
    src->eof = true;
    if (status != UV_EOF) {
        tunnel_close(t, from == CLIENT ? "client connection failed" : "upstream connection failed");
        return;
    }
    if (!t->why)
        t->why = from == CLIENT ? "client closed" : "upstream closed";
    /* Half-close: the other side learns that no more bytes come from this one. */
    shut(t, 1 - from);
    maybe_done(t);
}

/* Passes on n bytes (plaintext) read from side `from`. false when the tunnel closed. */
static bool relay(struct gw_tunnel *t, int from, const char *p, size_t n)
{
    int to = 1 - from;
    struct side *src = &t->s[from];
    if (t->state == T_ENDING)
        return true; /* going away: what comes now is discarded */
    t->last_active = uv_now(&t->w->loop);
    src->bytes += n;
    gw_mx_add(from == CLIENT ? &t->w->mx.tun_bytes_in : &t->w->mx.tun_bytes_out, n);
    if (t->websocket)
        gw_ws_track(&src->track, (const unsigned char *)p, n, false);
    int rc = send_to(t, to, p, n);
    if (rc < 0) {
        tunnel_close(t, to == CLIENT ? "write to the client failed" : "write upstream failed");
        return false;
    }
    if (t->s[to].tcp.write_queue_size > GW_TUNNEL_HIGH_WATER) {
        /* Backpressure: the other side is slower; read on when its queue drains. */
        src->paused = true;
        uv_read_stop((uv_stream_t *)&src->tcp);
    }
    return true;
}

/* Relays the plaintext the session of TLS side `from` holds, a record at a time, until it needs
 * more input, backpressure pauses the side (the rest stays in the session: read_start goes on),
 * or the peer's close_notify. Whatever the session answers (alerts, a key update) goes back. */
static void drain_tls(struct gw_tunnel *t, int from)
{
    struct side *src = &t->s[from];
    while (t->state != T_CLOSED && !src->paused && !src->eof) {
        size_t got = 0;
        int rc = gw_tls_stream_read(src->tls, read_buf, sizeof read_buf, &got);
        if (send_to(t, from, NULL, 0) < 0 && !src->shut) {
            tunnel_close(t,
                         from == CLIENT ? "write to the client failed" : "write upstream failed");
            return;
        }
        if (rc == GW_TLS_WANT_INPUT)
            return;
        if (rc == GW_TLS_CLOSED) {
            side_ended(t, from, UV_EOF);
            return;
        }
        if (rc < 0) {
            gw_log_debug("%s: TLS error from the %s: %s", t->label ? t->label : "tunnel",
                         from == CLIENT ? "client" : "upstream", gw_tls_stream_error(src->tls));
            tunnel_close(t, from == CLIENT ? "client TLS error" : "upstream TLS error");
            return;
        }
        if (!relay(t, from, read_buf, got))
            return;
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct gw_tunnel *t = s->data;
    int from = side_of(t, (uv_handle_t *)s);
    struct side *src = &t->s[from];
    if (nread == 0 || t->state == T_CLOSED)
        return;
    if (nread < 0) {
        side_ended(t, from, nread);
        return;
    }
    if (!src->tls) {
        relay(t, from, buf->base, (size_t)nread);
        return;
    }
    if (gw_tls_stream_feed(src->tls, buf->base, (size_t)nread) < 0) {
        tunnel_close(t, "out of memory");
        return;
    }
    drain_tls(t, from);
}

static void on_timer(uv_timer_t *tm)
{
    struct gw_tunnel *t = tm->data;
    if (t->state == T_ENDING) {
        tunnel_close(t, NULL); /* the linger is over */
        return;
    }
    uint64_t now = uv_now(&t->w->loop);
    if (t->deadline && now >= t->deadline) {
        going_away(t, "max lifetime");
        return;
    }
    if (t->idle_ms && now - t->last_active >= t->idle_ms) {
        going_away(t, "idle timeout");
        return;
    }
    uint64_t next = t->idle_ms ? t->last_active + t->idle_ms - now : UINT64_MAX;
    if (t->deadline && t->deadline - now < next)
        next = t->deadline - now;
    uv_timer_start(&t->timer, on_timer, next, 0);
}

/* Ends the tunnel on gantry's own account (idle, lifetime, drain). */
static void going_away(struct gw_tunnel *t, const char *why)
{
    if (t->state != T_OPEN)
        return;
    t->why = why;
    if (!t->websocket) {
        tunnel_close(t, why);
        return;
    }
    t->state = T_ENDING;
    /* RFC 6455 7.4.1: 1001, "an endpoint is going away, such as a server going down". Each
     * side hears it only between two frames of the stream it receives: the frames it gets
     * come from the other side. */
    for (int to = CLIENT; to <= UPSTREAM; to++) {
        int from = 1 - to;
        unsigned char frame[8];
        if (t->s[to].shut || !gw_ws_track_boundary(&t->s[from].track))
            continue;
        size_t n = gw_ws_close_frame(frame, 1001, to == UPSTREAM, (uint32_t)gw_random_u64());
        if (send_to(t, to, (const char *)frame, n) < 0) {
            tunnel_close(t, why);
            return;
        }
    }
    for (int i = CLIENT; i <= UPSTREAM; i++) {
        shut(t, i);
        if (t->state == T_CLOSED)
            return;
        if (!t->s[i].eof && t->s[i].paused) {
            t->s[i].paused = false;
            read_start(t, i); /* to see its close */
            if (t->state == T_CLOSED)
                return;
        }
    }
    uv_timer_start(&t->timer, on_timer, GW_TUNNEL_LINGER_MS, 0);
    maybe_done(t);
}

void gw_tunnels_going_away(struct gw_worker *w)
{
    struct gw_list *it = w->tunnels.next;
    while (it != &w->tunnels) {
        struct gw_tunnel *t = gw_container_of(it, struct gw_tunnel, link);
        it = it->next;
        going_away(t, "gateway going away");
    }
}

/* Opens a duplicate of the stream's socket in h (initialised). 0 or a negative code. */
static int adopt(uv_tcp_t *h, uv_stream_t *from)
{
    uv_os_fd_t fd;
    int rc = uv_fileno((uv_handle_t *)from, &fd);
    if (rc < 0)
        return rc;
    int dup_fd = dup(fd);
    if (dup_fd < 0)
        return GW_ENOMEM;
    rc = uv_tcp_open(h, dup_fd);
    if (rc < 0)
        close(dup_fd);
    return rc;
}

int gw_tunnel_start(struct gw_worker *w, uv_stream_t *client, const char *to_upstream, size_t n_up,
                    uv_stream_t *upstream, const char *to_client, size_t n_client,
                    const struct gw_tunnel_info *info)
{
    struct gw_tunnel *t = calloc(1, sizeof(*t));
    if (!t) {
        gw_tls_stream_free(info->client_tls);
        gw_tls_stream_free(info->upstream_tls);
        return GW_ENOMEM;
    }
    t->s[CLIENT].tls = info->client_tls;
    t->s[UPSTREAM].tls = info->upstream_tls;
    int len = snprintf(NULL, 0, "request %s service %s client %s upstream %s", info->id,
                       info->service, info->peer, info->target);
    t->label = malloc((size_t)len + 1);
    if (t->label)
        snprintf(t->label, (size_t)len + 1, "request %s service %s client %s upstream %s", info->id,
                 info->service, info->peer, info->target);
    uv_tcp_init(&w->loop, &t->s[CLIENT].tcp);
    uv_tcp_init(&w->loop, &t->s[UPSTREAM].tcp);
    t->s[CLIENT].tcp.data = t;
    t->s[UPSTREAM].tcp.data = t;
    t->open_handles = 2;
    int rc = t->label ? adopt(&t->s[CLIENT].tcp, client) : GW_ENOMEM;
    if (rc == 0)
        rc = adopt(&t->s[UPSTREAM].tcp, upstream);
    if (rc < 0) {
        /* Nothing was taken: the memory goes with the handles' close callbacks. */
        uv_close((uv_handle_t *)&t->s[CLIENT].tcp, on_handle_closed);
        uv_close((uv_handle_t *)&t->s[UPSTREAM].tcp, on_handle_closed);
        return rc;
    }
    t->w = w;
    t->websocket = info->websocket;
    uv_timer_init(&w->loop, &t->timer);
    t->timer.data = t;
    t->open_handles = 3;
    t->t_open = t->last_active = uv_now(&w->loop);
    t->idle_ms = info->idle_ms;
    t->deadline = info->lifetime_ms ? t->t_open + info->lifetime_ms : 0;
    gw_list_insert_tail(&w->tunnels, &t->link);
    w->ntunnels++;
    atomic_fetch_add(&w->server->nconns, 1);
    gw_mx_inc(&w->mx.tun_total);
    gw_mx_inc(&w->mx.tun_open);

    /* What each side sent before the switch took effect goes first. */
    if (n_client) {
        if (t->websocket)
            gw_ws_track(&t->s[UPSTREAM].track, (const unsigned char *)to_client, n_client, false);
        t->s[UPSTREAM].bytes += n_client;
        gw_mx_add(&w->mx.tun_bytes_out, n_client);
        rc = send_to(t, CLIENT, to_client, n_client);
    }
    if (rc == 0 && n_up) {
        if (t->websocket)
            gw_ws_track(&t->s[CLIENT].track, (const unsigned char *)to_upstream, n_up, false);
        t->s[CLIENT].bytes += n_up;
        gw_mx_add(&w->mx.tun_bytes_in, n_up);
        rc = send_to(t, UPSTREAM, to_upstream, n_up);
    }
    if (rc < 0) {
        tunnel_close(t, "write failed");
        return 0; /* the sockets were taken: the tunnel closed them */
    }
    read_start(t, CLIENT);
    if (t->state != T_CLOSED)
        read_start(t, UPSTREAM);
    if (t->state != T_CLOSED && (t->idle_ms || t->deadline)) {
        uint64_t first = t->idle_ms ? t->idle_ms : UINT64_MAX;
        if (info->lifetime_ms && info->lifetime_ms < first)
            first = info->lifetime_ms;
        uv_timer_start(&t->timer, on_timer, first, 0);
    }
    return 0;
}
