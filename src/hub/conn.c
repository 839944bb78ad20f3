/*
 * One hub connection (hub/hub.h): the WebSocket framing through wslay, the hub protocol
 * (hub/proto.h), subscriptions, delivery with a bounded send queue, keepalive and the close
 * handshake. Worker thread only.
 *
 * wslay does the framing and the RFC 6455 rules: a server context refuses unmasked frames and
 * reserved bits (close 1002), checks the UTF-8 of text messages (1007), reassembles fragments
 * up to max_recv_msg_length (over it: 1009), answers pings, and runs the close handshake. Its
 * I/O callbacks are glue: reading hands wslay the bytes libuv just read (one buffer per worker
 * thread), writing tries the socket at once (uv_try_write) and copies into a write request only
 * what it does not take, so wslay never has to wait for writability.
 *
 * Slow consumers: what waits to go to one client (libuv's write queue plus wslay's queue) is
 * bounded by max_queue; a message that would pass it cuts the client with close 1013 (try
 * again later) instead, so a client that stopped reading costs at most that much memory.
 *
 * Over TLS (the HTTPS listener) the connection keeps the listener's session: what is read is fed
 * to it and its plaintext to wslay, what wslay sends is encrypted and goes through tls/io.h (the
 * same try-write, then queue); the end sends a close_notify before the FIN.
 */
#include "hub/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "hub/proto.h"
#include "runtime/server-t.h"
#include "runtime/worker-t.h"
#include "tls/io.h"
#include "tls/stream.h"

#define HUB_READ_SIZE 65536
#define HUB_LINGER_MS 1000

enum conn_state {
    C_OPEN = 0, /* speaking the protocol */
    C_ENDING,   /* a close frame was queued: waiting for the handshake to finish */
    C_CLOSED,   /* handles closing */
};

struct gw__hub_conn {
    uv_tcp_t tcp;
    struct gw_tls_stream *tls; /** wss://: the session; NULL on the plain listener */
    uv_timer_t timer;          /** keepalive; the linger once ending */
    struct gw_list link;       /** in local->conns */
    struct gw_hub_local *local;
    struct gw__hub_rules *rules; /** the settings it opened with (a reference) */
    struct gw__hub_frames f;     /** the framing (frames.c) */
    uint64_t t_open, last_rx;
    uint64_t msgs_in, msgs_out;
    char **subs; /** subscribed channels */
    uint32_t nsubs, cap;
    char *roles;     /** NULL: none */
    char *label;     /** "request R client C peer P", for the log line */
    const char *why; /** why it ended */
    unsigned open_handles;
    uint8_t state;
    char client_id[GW_HUB_CLIENT_ID_MAX + 1];
};

struct conn_write {
    uv_write_t req;
    char data[];
};

/* One read buffer per worker thread. A wss:// connection's plaintext comes out into it too: its
 * ciphertext was copied into the session first. (Thread-local storage lives on each worker's
 * stack: no second buffer.) */
static _Thread_local uint8_t read_buf[HUB_READ_SIZE];

static void on_timer(uv_timer_t *t);

static const struct gw__hub_rules *rules_of(const struct gw__hub_conn *c)
{
    return c->rules;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct gw__hub_conn *c = h->data;
    if (--c->open_handles > 0)
        return;
    gw__hub_frames_free(&c->f);
    gw_tls_stream_free(c->tls);
    gw__hub_rules_unref(c->rules);
    for (uint32_t i = 0; i < c->nsubs; i++)
        free(c->subs[i]);
    free(c->subs);
    free(c->roles);
    free(c->label);
    free(c);
}

static void conn_close(struct gw__hub_conn *c, const char *why)
{
    if (c->state == C_CLOSED)
        return;
    if (!c->why)
        c->why = why;
    c->state = C_CLOSED;
    struct gw_hub_local *l = c->local;
    struct gw_hub *h = l->hub;
    struct gw_worker *w = l->w;
    for (uint32_t i = 0; i < c->nsubs; i++)
        gw__hub_count_del(h, c->subs[i], strlen(c->subs[i]));
    gw_log_info("hub client %s closed (%s): %s, %llu ms, %llu messages in, %llu out", c->client_id,
                c->why ? c->why : "closed", c->label ? c->label : "-",
                (unsigned long long)(uv_now(&w->loop) - c->t_open), (unsigned long long)c->msgs_in,
                (unsigned long long)c->msgs_out);
    gw_list_remove(&c->link);
    l->nconns--;
    atomic_fetch_sub(&h->nconns, 1);
    atomic_fetch_sub(&w->server->nconns, 1);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    /* A stopping worker waits for its last connection (runtime/worker.c). */
    if (w->stopping && w->nconns == 0 && l->nconns == 0 &&
        !uv_is_closing((uv_handle_t *)&w->wakeup))
        uv_async_send(&w->wakeup);
}

/* ---- wslay glue ---------------------------------------------------------------------------- */

static void on_written(uv_write_t *req, int status)
{
    (void)status; /* a failed write shows as a read error or EOF, which closes */
    free(req);
}

/* Sends data[0..len) on c's socket: what it does not take now is copied and queued. */
static int send_bytes(struct gw__hub_conn *c, const char *data, size_t len)
{
    if (c->tls) {
        int rc = gw_tls_io_write(c->tls, (uv_stream_t *)&c->tcp, data, len, NULL, NULL);
        return rc < 0 ? rc : 0;
    }
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int n = 0;
    if (c->tcp.write_queue_size == 0) {
        n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (n == UV_EAGAIN || n == UV_ENOSYS)
            n = 0;
        if (n < 0)
            return n;
        if ((size_t)n == len)
            return 0;
    }
    struct conn_write *wr = malloc(sizeof(*wr) + len - (size_t)n);
    if (!wr)
        return GW_ENOMEM;
    memcpy(wr->data, data + n, len - (size_t)n);
    b = uv_buf_init(wr->data, (unsigned)(len - (size_t)n));
    int rc = uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (rc < 0)
        free(wr);
    return rc;
}

static int out_cb(void *arg, const char *p, size_t n)
{
    return send_bytes(arg, p, n);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    struct gw__hub_conn *c = req->data;
    free(req);
    conn_close(c, NULL);
}

/* Sends what wslay queued; once the close handshake is over (or the stream failed), ends. */
static void pump(struct gw__hub_conn *c)
{
    if (c->state == C_CLOSED)
        return;
    if (gw__hub_frames_flush(&c->f) < 0) {
        conn_close(c, "write failed");
        return;
    }
    if (!gw__hub_frames_done(&c->f))
        return;
    /* Both close frames went (or reading failed): the queued bytes go, then the FIN. */
    if (!c->why) {
        uint16_t got = wslay_event_get_status_code_received(c->f.ws);
        uint16_t sent = wslay_event_get_status_code_sent(c->f.ws);
        c->why = wslay_event_get_close_received(c->f.ws) && got == 1000 ? "client closed"
                 : sent == 1002 || gw__hub_frames_refused(&c->f)        ? "protocol error (1002)"
                 : sent == 1007                                         ? "invalid UTF-8 (1007)"
                 : sent == 1009                                         ? "message too big (1009)"
                 : wslay_event_get_close_received(c->f.ws)              ? "client closed"
                                                                        : "closed";
    }
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (c->tls) {
        gw_tls_stream_shutdown(c->tls); /* close_notify before the FIN */
        (void)send_bytes(c, NULL, 0);
    }
    uv_shutdown_t *req = malloc(sizeof(*req));
    if (!req || uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        free(req);
        conn_close(c, NULL);
        return;
    }
    req->data = c;
    if (c->state == C_OPEN)
        uv_timer_start(&c->timer, on_timer, HUB_LINGER_MS, 0);
    c->state = C_ENDING; /* on_shutdown closes, or the linger */
}

/* Starts the close handshake with code (RFC 6455 7.1.2), bounded by HUB_LINGER_MS. */
static void going_away(struct gw__hub_conn *c, uint16_t code, const char *why)
{
    if (c->state != C_OPEN)
        return;
    c->state = C_ENDING;
    c->why = why;
    gw__hub_frames_close(&c->f, code, why);
    uv_timer_start(&c->timer, on_timer, HUB_LINGER_MS, 0);
    pump(c);
}

/* ---- the protocol -------------------------------------------------------------------------- */

/* Queues a small event (a reply); fails only when the connection is ending. */
static void reply(struct gw__hub_conn *c, const char *text, size_t n)
{
    if (gw__hub_frames_queue(&c->f, WSLAY_TEXT_FRAME, text, n) == 0)
        c->msgs_out++;
}

static void reply_event(struct gw__hub_conn *c, const char *type, const struct gw_hub_cmd *cmd,
                        const char *extra)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, "{\"type\":\"%s\"%s%s%s%s%s%s%s}", type,
                     cmd && cmd->channel[0] ? ",\"channel\":\"" : "",
                     cmd && cmd->channel[0] ? cmd->channel : "", cmd && cmd->channel[0] ? "\"" : "",
                     cmd && cmd->ref[0] ? ",\"ref\":\"" : "", cmd && cmd->ref[0] ? cmd->ref : "",
                     cmd && cmd->ref[0] ? "\"" : "", extra ? extra : "");
    if (n > 0 && (size_t)n < sizeof buf)
        reply(c, buf, (size_t)n);
}

static void reply_error(struct gw__hub_conn *c, const struct gw_hub_cmd *cmd, const char *code,
                        const char *message)
{
    char extra[256];
    snprintf(extra, sizeof extra, ",\"code\":\"%s\",\"message\":\"%s\"", code, message);
    reply_event(c, "error", cmd, extra);
}

static int find_sub(const struct gw__hub_conn *c, const char *ch)
{
    for (uint32_t i = 0; i < c->nsubs; i++)
        if (strcmp(c->subs[i], ch) == 0)
            return (int)i;
    return -1;
}

static void do_subscribe(struct gw__hub_conn *c, const struct gw_hub_cmd *cmd)
{
    const struct gw__hub_rules *r = rules_of(c);
    if (find_sub(c, cmd->channel) >= 0) {
        reply_event(c, "subscribed", cmd, NULL);
        return;
    }
    if (!gw__hub_allowed(r, cmd->channel, cmd->channel_len, c->client_id, c->roles, false)) {
        reply_error(c, cmd, "forbidden", "not allowed to subscribe to this channel");
        return;
    }
    if (c->nsubs >= r->max_subscriptions) {
        reply_error(c, cmd, "too_many_subscriptions", "subscription limit reached");
        return;
    }
    if (c->nsubs == c->cap) {
        uint32_t cap = c->cap ? 2 * c->cap : 4;
        char **s = realloc(c->subs, cap * sizeof(*s));
        if (!s) {
            reply_error(c, cmd, "internal", "out of memory");
            return;
        }
        c->subs = s;
        c->cap = cap;
    }
    char *name = strdup(cmd->channel);
    if (!name) {
        reply_error(c, cmd, "internal", "out of memory");
        return;
    }
    if (!gw__hub_count_add(c->local->hub, cmd->channel, cmd->channel_len, r->max_subscribers)) {
        free(name);
        reply_error(c, cmd, "channel_full", "the channel has its maximum of subscribers");
        return;
    }
    c->subs[c->nsubs++] = name;
    reply_event(c, "subscribed", cmd, NULL);
}

static void do_unsubscribe(struct gw__hub_conn *c, const struct gw_hub_cmd *cmd)
{
    int i = find_sub(c, cmd->channel);
    if (i < 0) {
        reply_error(c, cmd, "not_subscribed", "not subscribed to this channel");
        return;
    }
    gw__hub_count_del(c->local->hub, cmd->channel, cmd->channel_len);
    free(c->subs[i]);
    c->subs[i] = c->subs[--c->nsubs];
    reply_event(c, "unsubscribed", cmd, NULL);
}

static void do_publish(struct gw__hub_conn *c, const struct gw_hub_cmd *cmd)
{
    if (!gw__hub_allowed(rules_of(c), cmd->channel, cmd->channel_len, c->client_id, c->roles,
                         true)) {
        reply_error(c, cmd, "forbidden", "not allowed to publish to this channel");
        return;
    }
    char id[33], extra[64];
    int rc = gw_hub_publish(c->local->hub, cmd->channel, cmd->channel_len, cmd->to, cmd->data,
                            cmd->data_len, id);
    if (rc < 0) {
        reply_error(c, cmd, "internal", "the message could not be published");
        return;
    }
    snprintf(extra, sizeof extra, ",\"id\":\"%s\"", id);
    reply_event(c, "published", cmd, extra);
}

static void msg_cb(void *arg, bool text, const char *p, size_t n)
{
    struct gw__hub_conn *c = arg;
    c->msgs_in++;
    if (c->state != C_OPEN)
        return;
    if (!text) {
        reply_error(c, NULL, "unsupported", "the hub speaks JSON in text messages");
        return;
    }
    struct gw_hub_cmd cmd;
    int rc = gw_hub_cmd_parse(p, n, &cmd);
    if (rc < 0) {
        reply_error(c, &cmd, gw_hub_perr_code(rc),
                    rc == GW_HUB_ETYPE ? "type must be subscribe, unsubscribe, publish or ping"
                                       : "malformed message");
        return;
    }
    switch (cmd.op) {
    case GW_HUB_SUBSCRIBE:
        do_subscribe(c, &cmd);
        break;
    case GW_HUB_UNSUBSCRIBE:
        do_unsubscribe(c, &cmd);
        break;
    case GW_HUB_PUBLISH:
        do_publish(c, &cmd);
        break;
    case GW_HUB_PING:
        reply_event(c, "pong", &cmd, NULL);
        break;
    }
    gw_hub_cmd_clear(&cmd);
}

/* ---- delivery ------------------------------------------------------------------------------ */

/* The message as one frame, built at the first subscriber that can take it directly. */
struct shared_frame {
    char *p;
    size_t len;
    bool failed; /* out of memory: every connection goes through wslay */
};

static bool shared_frame_make(struct shared_frame *sf, const struct gw__hub_msg *m)
{
    if (sf->p || sf->failed)
        return sf->p != NULL;
    uint8_t head[10];
    size_t hl = gw__hub_frames_head(head, m->len);
    sf->p = malloc(hl + m->len);
    if (!sf->p) {
        sf->failed = true;
        return false;
    }
    memcpy(sf->p, head, hl);
    memcpy(sf->p + hl, m->text, m->len);
    sf->len = hl + m->len;
    return true;
}

/* Hands m to every connection of l it is for. The frame is encoded once and written as it is to
 * each connection with nothing waiting in wslay (the usual case: one try-write, no copy unless
 * the socket does not take it all); a connection with frames queued gets it through wslay, in
 * order behind them. */
void gw__hub_deliver(struct gw_hub_local *l, const struct gw__hub_msg *m)
{
    struct shared_frame sf = {0};
    uint64_t delivered = 0;
    struct gw_list *it = l->conns.next;
    while (it != &l->conns) {
        struct gw__hub_conn *c = gw_container_of(it, struct gw__hub_conn, link);
        it = it->next; /* c may close below */
        if (c->state != C_OPEN)
            continue;
        if (m->to[0] ? strcmp(m->to, c->client_id) != 0 : find_sub(c, m->channel) < 0)
            continue;
        uint64_t max = c->rules->max_queue_bytes;
        size_t queued = c->tcp.write_queue_size + gw__hub_frames_queued(&c->f);
        if (queued + m->len > max) {
            atomic_fetch_add(&l->hub->slow_cut, 1);
            gw_log_warn("hub client %s: %zu bytes wait to be sent, over hub.max_queue: cut as a "
                        "slow consumer",
                        c->client_id, queued);
            going_away(c, 1013, "slow consumer");
            continue;
        }
        if (gw__hub_frames_idle(&c->f) && shared_frame_make(&sf, m)) {
            if (send_bytes(c, sf.p, sf.len) < 0) {
                conn_close(c, "write failed");
                continue;
            }
        } else {
            if (gw__hub_frames_queue(&c->f, WSLAY_TEXT_FRAME, m->text, m->len) < 0)
                continue;
            pump(c);
        }
        c->msgs_out++;
        delivered++;
    }
    atomic_fetch_add(&l->hub->delivered, delivered);
    free(sf.p);
}

/* ---- reading, timers ----------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    buf->base = (char *)read_buf;
    buf->len = sizeof read_buf;
}

/* Bytes (plaintext) from the client: framed by wslay, then what it queued goes out. false when
 * the connection closed. */
static bool input(struct gw__hub_conn *c, const uint8_t *p, size_t n)
{
    c->last_rx = uv_now(&c->local->w->loop);
    if (gw__hub_frames_feed(&c->f, p, n) < 0) {
        conn_close(c, "out of memory");
        return false;
    }
    pump(c);
    return c->state != C_CLOSED;
}

/* wss://: the plaintext the session holds, a record at a time. */
static void drain_tls(struct gw__hub_conn *c)
{
    while (c->state != C_CLOSED) {
        size_t got = 0;
        int rc = gw_tls_stream_read(c->tls, (char *)read_buf, sizeof read_buf, &got);
        if (send_bytes(c, NULL, 0) < 0 && rc == 0)
            rc = GW_ETLS;
        if (rc == GW_TLS_WANT_INPUT)
            return;
        if (rc == GW_TLS_CLOSED) {
            conn_close(c, "client went away");
            return;
        }
        if (rc < 0) {
            gw_log_debug("hub client %s: TLS error: %s", c->client_id, gw_tls_stream_error(c->tls));
            conn_close(c, "TLS error");
            return;
        }
        if (!input(c, read_buf, got))
            return;
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct gw__hub_conn *c = s->data;
    if (nread == 0 || c->state == C_CLOSED)
        return;
    if (nread < 0) {
        if (nread != UV_EOF)
            gw_log_debug("hub client %s: read: %s", c->client_id, uv_strerror((int)nread));
        conn_close(c, nread == UV_EOF ? "client went away" : "read failed");
        return;
    }
    if (!c->tls) {
        input(c, (const uint8_t *)buf->base, (size_t)nread);
        return;
    }
    if (gw_tls_stream_feed(c->tls, buf->base, (size_t)nread) < 0) {
        conn_close(c, "out of memory");
        return;
    }
    drain_tls(c);
}

static void on_timer(uv_timer_t *t)
{
    struct gw__hub_conn *c = t->data;
    if (c->state != C_OPEN) {
        conn_close(c, NULL); /* the close handshake took too long */
        return;
    }
    const struct gw__hub_rules *r = rules_of(c);
    uint64_t now = uv_now(&c->local->w->loop);
    if (r->idle_timeout_ms && now - c->last_rx >= r->idle_timeout_ms) {
        going_away(c, 1001, "idle timeout");
        return;
    }
    if (now - c->last_rx + 10 >= r->ping_interval_ms) {
        gw__hub_frames_queue(&c->f, WSLAY_PING, "", 0);
        pump(c);
    }
}

void gw_hub_worker_going_away(struct gw_worker *w)
{
    struct gw_hub_local *l = w->hub;
    if (!l)
        return;
    struct gw_list *it = l->conns.next;
    while (it != &l->conns) {
        struct gw__hub_conn *c = gw_container_of(it, struct gw__hub_conn, link);
        it = it->next;
        going_away(c, 1001, "going away");
    }
}

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

int gw_hub_accept(struct gw_worker *w, uv_stream_t *client, const char *rest, size_t n,
                  const struct gw_hub_session *s)
{
    struct gw_hub_local *l = w->hub;
    struct gw__hub_conn *c = l && !l->closed ? calloc(1, sizeof(*c)) : NULL;
    if (!c) {
        gw_tls_stream_free(s->tls);
        return l && !l->closed ? GW_ENOMEM : GW_EHUBUNAVAIL;
    }
    c->tls = s->tls; /* freed with c from here on */
    c->rules = gw__hub_rules_get(l->hub);
    int len = snprintf(NULL, 0, "request %s peer %s", s->request_id, s->peer);
    c->label = malloc((size_t)len + 1);
    if (c->label)
        snprintf(c->label, (size_t)len + 1, "request %s peer %s", s->request_id, s->peer);
    c->roles = s->roles ? strdup(s->roles) : NULL;
    snprintf(c->client_id, sizeof c->client_id, "%s", s->client_id);
    c->local = l;
    if (!c->label || (s->roles && !c->roles) ||
        gw__hub_frames_init(&c->f, c->rules->max_message_bytes, out_cb, msg_cb, c) != 0) {
        free(c->label);
        free(c->roles);
        gw_tls_stream_free(c->tls);
        gw__hub_rules_unref(c->rules);
        free(c);
        return GW_ENOMEM;
    }
    uv_tcp_init(&w->loop, &c->tcp);
    c->tcp.data = c;
    c->open_handles = 1;
    int rc = adopt(&c->tcp, client);
    if (rc < 0) {
        c->state = C_CLOSED;
        uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
        return rc;
    }
    uv_timer_init(&w->loop, &c->timer);
    c->timer.data = c;
    c->open_handles = 2;
    c->t_open = c->last_rx = uv_now(&w->loop);
    gw_list_insert_tail(&l->conns, &c->link);
    l->nconns++;
    atomic_fetch_add(&l->hub->nconns, 1);
    atomic_fetch_add(&w->server->nconns, 1);
    if (send_bytes(c, s->head, s->head_len) < 0) {
        conn_close(c, "write failed");
        return 0;
    }
    uint64_t every = c->rules->ping_interval_ms;
    if (every)
        uv_timer_start(&c->timer, on_timer, every, every);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
        conn_close(c, "read start failed");
        return 0;
    }
    if (n) {
        /* Frames the client sent right behind its handshake (plaintext). */
        size_t k = n < sizeof read_buf ? n : sizeof read_buf;
        memcpy(read_buf, rest, k);
        if (!input(c, read_buf, k))
            return 0;
    }
    if (c->tls && gw_tls_stream_has_input(c->tls))
        drain_tls(c); /* records that came with the handshake's */
    return 0;
}
