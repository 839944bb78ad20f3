/*
 * HTTP/2 server session over nghttp2 (h2/session.h has the contract).
 */
#include "h2/session.h"

#include <nghttp2/nghttp2.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "h2/internal.h"

/* Room for a chunk-size line ("ffffffff\r\n") in front of an open chunk's payload. */
#define CHUNK_HDR 10

static uint64_t now_ms(void)
{
    return gw_h2_clock_ms();
}

static void mark(struct gw_h2_stream *st)
{
    if (gw_list_empty(&st->pending))
        gw_list_insert_tail(&st->sess->pending, &st->pending);
}

static void stream_free(struct gw_h2_stream *st)
{
    gw_list_remove(&st->link);
    gw_list_remove(&st->pending);
    gw_buf_free(&st->head);
    gw_buf_free(&st->fields);
    gw_buf_free(&st->line);
    gw_buf_free(&st->cookies);
    free(st->path);
    gw_buf_free(&st->out);
    gw_buf_free(&st->trailers);
    free(st->authority);
    free(st->protocol);
    free(st->scheme);
    free(st->host);
    free(st->body);
    free(st);
}

/* A connection error of ours: GOAWAY with ENHANCE_YOUR_CALM, counted. */
static void calm_down(struct gw_h2_session *s, enum gw_h2_event ev)
{
    if (s->failed)
        return;
    s->failed = true;
    s->h->event(s->owner, ev);
    nghttp2_session_terminate_session(s->ng, NGHTTP2_ENHANCE_YOUR_CALM);
}

/* Counts one frame of a flood counter in the current one-second window; true past max. */
static bool flood(struct gw_h2_session *s, uint32_t *counter, uint32_t max)
{
    uint64_t now = now_ms();
    if (now - s->window_start >= 1000) {
        s->window_start = now;
        s->resets = s->control = 0;
    }
    return ++*counter > max;
}

/* ---- nghttp2 callbacks: they only record; the owner hears after nghttp2 returned ----------- */

static int on_begin_frame(nghttp2_session *ng, const nghttp2_frame_hd *hd, void *arg)
{
    struct gw_h2_session *s = arg;
    (void)ng;
    if (hd->type == NGHTTP2_HEADERS)
        s->continuations = 0;
    else if (hd->type == NGHTTP2_CONTINUATION && ++s->continuations > s->lim.max_continuations)
        calm_down(s, GW_H2_EV_CONTINUATION);
    return 0;
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *arg)
{
    struct gw_h2_session *s = arg;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct gw_h2_stream *st = calloc(1, sizeof *st);
    if (!st)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    st->sess = s;
    st->id = f->hd.stream_id;
    gw_list_init(&st->pending);
    gw_list_insert_tail(&s->streams, &st->link);
    /* The head is at most the header list plus the request line's words. */
    gw_buf_init(&st->head, (size_t)s->lim.max_header_list_size + 512);
    gw_buf_init(&st->fields, s->lim.max_header_list_size);
    gw_buf_init(&st->line, s->lim.max_header_list_size);
    gw_buf_init(&st->cookies, s->lim.max_header_list_size);
    gw_buf_init(&st->out, SIZE_MAX);
    gw_buf_init(&st->trailers, 65536);
    nghttp2_session_set_stream_user_data(ng, st->id, st);
    return 0;
}

static char *dup_n(const uint8_t *p, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

/* One field of a request's header block. nghttp2 validated it (RFC 9113 8.2, 8.3). */
static int on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *arg)
{
    struct gw_h2_session *s = arg;
    (void)flags;
    struct gw_h2_stream *st = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    if (!st || st->ready || st->bad)
        return 0; /* trailers: validated by nghttp2, not forwarded */
    st->header_bytes += namelen + valuelen + 32;
    if (st->header_bytes > s->lim.max_header_list_size) {
        /* An HPACK bomb, or just too much: reset, before anything grows further. */
        st->bad = true;
        s->h->event(s->owner, GW_H2_EV_HEADER_LIST);
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_ENHANCE_YOUR_CALM);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    struct gw_buf *b = &st->fields;
    int rc = 0;
    if (namelen > 0 && name[0] == ':') {
        /* nghttp2 put the pseudo-fields before the others and refused duplicates. */
        if (namelen == 7 && memcmp(name, ":method", 7) == 0) {
            rc = gw_buf_append(&st->line, value, valuelen);
            st->method_len = valuelen;
        } else if (namelen == 5 && memcmp(name, ":path", 5) == 0) {
            st->path = dup_n(value, valuelen);
            st->path_len = valuelen;
            rc = st->path ? 0 : GW_ENOMEM;
        } else if (namelen == 10 && memcmp(name, ":authority", 10) == 0) {
            st->authority = dup_n(value, valuelen);
            st->authority_len = valuelen;
            rc = st->authority ? 0 : GW_ENOMEM;
        } else if (namelen == 9 && memcmp(name, ":protocol", 9) == 0) {
            /* nghttp2 takes it only after our SETTINGS_ENABLE_CONNECT_PROTOCOL. */
            st->protocol = dup_n(value, valuelen);
            st->protocol_len = valuelen;
            rc = st->protocol ? 0 : GW_ENOMEM;
        } else if (namelen == 7 && memcmp(name, ":scheme", 7) == 0) {
            /* The connection says what it is; kept to check an extended CONNECT. */
            st->scheme = dup_n(value, valuelen);
            st->scheme_len = valuelen;
            rc = st->scheme ? 0 : GW_ENOMEM;
        }
        return rc < 0 ? NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE : 0;
    }
    if (namelen == 4 && memcmp(name, "host", 4) == 0) {
        if (st->host) {
            st->bad = true; /* two hosts: what would HTTP/1.1 make of it (RFC 9112 3.2) */
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        }
        st->host = dup_n(value, valuelen);
        st->host_len = valuelen;
        return st->host ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    if (namelen == 6 && memcmp(name, "cookie", 6) == 0) {
        /* RFC 9113 8.2.3: one field for HTTP/1.1, joined with "; ". */
        if (st->cookies.len)
            rc = gw_buf_append(&st->cookies, "; ", 2);
        rc = rc ? rc : gw_buf_append(&st->cookies, value, valuelen);
        return rc < 0 ? NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE : 0;
    }
    if (namelen == 14 && memcmp(name, "content-length", 14) == 0)
        st->has_cl = true;
    rc = gw_buf_append(b, name, namelen);
    rc = rc ? rc : gw_buf_append(b, ": ", 2);
    rc = rc ? rc : gw_buf_append(b, value, valuelen);
    rc = rc ? rc : gw_buf_append(b, "\r\n", 2);
    return rc < 0 ? NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE : 0;
}

/* The header block is complete: the HTTP/1.1 head is the request line, the fields, Host and
 * the joined cookies, and a chunked framing for a body without a length. */
static int finish_head(struct gw_h2_stream *st, bool end_stream)
{
    struct gw_buf *b = &st->head;
    int rc = 0;
    if (st->method_len == 0)
        return -1;
    /* RFC 9113 8.3.1: a Host that names another authority than :authority is malformed. */
    if (st->authority && st->host &&
        (st->authority_len != st->host_len ||
         strncasecmp(st->authority, st->host, st->host_len) != 0))
        return -1;
    const char *host = st->authority ? st->authority : st->host;
    size_t host_len = st->authority ? st->authority_len : st->host_len;
    /* CONNECT (RFC 9113 8.5) has no :path: its authority is the target. */
    const char *target = st->path ? st->path : host;
    size_t target_len = st->path ? st->path_len : host_len;
    if (!target)
        return -1;
    if (st->protocol) {
        if (gw__h2_ext_connect_check(st) < 0)
            return -1;
        rc = gw_buf_append_str(b, "GET");
    } else {
        rc = gw_buf_append(b, st->line.data, st->method_len);
    }
    rc = rc ? rc : gw_buf_append(b, " ", 1);
    rc = rc ? rc : gw_buf_append(b, target, target_len);
    rc = rc ? rc : gw_buf_append_str(b, " HTTP/1.1\r\n");
    if (rc == 0 && host) {
        rc = gw_buf_append_str(b, "host: ");
        rc = rc ? rc : gw_buf_append(b, host, host_len);
        rc = rc ? rc : gw_buf_append(b, "\r\n", 2);
    }
    if (rc == 0 && st->protocol)
        rc = gw__h2_ext_connect_fields(st, b);
    if (rc == 0 && st->fields.len)
        rc = gw_buf_append(b, st->fields.data, st->fields.len);
    if (rc == 0 && st->cookies.len) {
        rc = gw_buf_append_str(b, "cookie: ");
        rc = rc ? rc : gw_buf_append(b, st->cookies.data, st->cookies.len);
        rc = rc ? rc : gw_buf_append(b, "\r\n", 2);
    }
    /* A body without a length is chunked for HTTP/1.1 (a tunnel's bytes are no body). */
    if (rc == 0 && !end_stream && !st->has_cl && !st->tunnel)
        rc = gw_buf_append_str(b, "transfer-encoding: chunked\r\n");
    rc = rc ? rc : gw_buf_append(b, "\r\n", 2);
    if (rc < 0)
        return rc;
    gw_buf_free(&st->fields);
    gw_buf_free(&st->cookies);
    st->ready = true;
    st->ev_ready = true;
    st->body_end = end_stream;
    mark(st);
    return 0;
}

static int append_body(struct gw_h2_stream *st, const uint8_t *p, size_t n);
static void end_body(struct gw_h2_stream *st);

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *arg)
{
    struct gw_h2_session *s = arg;
    struct gw_h2_stream *st;
    bool end = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    switch (f->hd.type) {
    case NGHTTP2_HEADERS:
        st = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
        if (!st || st->bad)
            return 0;
        if (f->headers.cat == NGHTTP2_HCAT_REQUEST) {
            if (finish_head(st, end) < 0) {
                st->bad = true;
                s->h->event(s->owner, GW_H2_EV_PROTOCOL_ERROR);
                nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_PROTOCOL_ERROR);
            }
        } else if (end && st->ready && !st->body_end) {
            end_body(st); /* trailers end the body */
        }
        break;
    case NGHTTP2_DATA:
        st = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
        if (st && end && st->ready && !st->body_end)
            end_body(st);
        break;
    case NGHTTP2_RST_STREAM:
        s->h->event(s->owner, GW_H2_EV_CLIENT_RESET);
        if (flood(s, &s->resets, s->lim.max_resets))
            calm_down(s, GW_H2_EV_RAPID_RESET);
        break;
    case NGHTTP2_PING:
    case NGHTTP2_SETTINGS:
        if (!(f->hd.flags & NGHTTP2_FLAG_ACK) && flood(s, &s->control, s->lim.max_control))
            calm_down(s, GW_H2_EV_CONTROL_FLOOD);
        break;
    default:
        break;
    }
    return 0;
}

static int on_invalid_frame(nghttp2_session *ng, const nghttp2_frame *f, int err, void *arg)
{
    struct gw_h2_session *s = arg;
    (void)ng;
    (void)f;
    (void)err;
    s->h->event(s->owner, GW_H2_EV_PROTOCOL_ERROR);
    return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *p, size_t n,
                         void *arg)
{
    (void)flags;
    (void)arg;
    struct gw_h2_stream *st = nghttp2_session_get_stream_user_data(ng, id);
    if (!st || !st->ready || st->bad) {
        /* Not ours to forward: give the window back at once. */
        nghttp2_session_consume_connection(ng, n);
        return 0;
    }
    if (st->released) {
        /* Answered already: the rest of the body is read and dropped, its windows given back
         * so the client can finish the stream (and the connection's window stays whole). */
        nghttp2_session_consume(ng, id, n);
        return 0;
    }
    st->uncredited += n;
    if (append_body(st, p, n) < 0) {
        st->bad = true;
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_FLOW_CONTROL_ERROR);
    }
    return 0;
}

/* RFC 9113 8.1: "A server can send a complete response prior to the client sending an entire
 * request if the response does not depend on any portion of the request that has not been sent
 * and received. When this is true, a server MAY request that the client abort transmission of a
 * request without error by sending a RST_STREAM with an error code of NO_ERROR after sending a
 * complete response (i.e., a frame with the END_STREAM flag set)."
 *
 * For a stream whose owner let go (gw_h2_stream_release: the request was answered, by gantry or
 * the upstream) once our END_STREAM went out while the client's body had not ended: nobody reads
 * the rest. Without a reset the stream stayed half-closed until the client ended it, which a
 * client that streams its body (a slow upload, Node's http2 client writing on) may never do:
 * the client waited for the stream's close, and the stream held one of the connection's
 * max_concurrent_streams. Not at once, though: the stream lingers for GW_H2_LINGER_MS first
 * (gw_h2_session_expire resets it), as an HTTP/1 connection does before it closes. curl (7.88,
 * Debian 12's) reads a RST_STREAM that arrives with the response as a failed upload (exit 92,
 * "Stream error in the HTTP/2 framing layer") instead of taking the answer; given the time to
 * read the answer it stops sending and finishes, and the late reset finds the stream done. A
 * stream cut after a body timeout (gw_h2_stream_cut) is reset at once: its client stalled.
 * Meanwhile DATA is dropped with its window given back (on_data_chunk; nghttp2 itself once the
 * stream closed). Whichever of our END_STREAM and the release comes last starts this. */
static void stop_request(struct gw_h2_stream *st)
{
    if (!st->released || !st->end_sent || st->body_end || st->closed || st->stopped || st->linger)
        return;
    if (st->cut) {
        gw__h2_stream_stop(st);
        return;
    }
    st->linger = true;
    st->linger_since = 0; /* stamped by the next sweep: the request path reads no clock */
    st->sess->waiting = true;
}

void gw__h2_stream_stop(struct gw_h2_stream *st)
{
    if (st->stopped || st->closed)
        return;
    st->stopped = true;
    st->linger = false;
    nghttp2_submit_rst_stream(st->sess->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
}

static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *f, void *arg)
{
    (void)arg;
    if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
        !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    struct gw_h2_stream *st = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    if (st) {
        st->end_sent = true;
        stop_request(st);
    }
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t error, void *arg)
{
    (void)arg;
    struct gw_h2_stream *st = nghttp2_session_get_stream_user_data(ng, id);
    if (!st)
        return 0;
    nghttp2_session_set_stream_user_data(ng, id, NULL);
    st->closed = true;
    st->close_error = error;
    st->ev_closed = true;
    mark(st);
    return 0;
}

/* ---- request body ---------------------------------------------------------------------------- */

static int body_room(struct gw_h2_stream *st, size_t n)
{
    if (st->body_len + n <= st->body_cap)
        return 0;
    /* Move what is left to the front unless the owner refers into it. */
    if (!st->body_held && st->body_off > 0) {
        size_t keep = st->body_len - st->body_off;
        memmove(st->body, st->body + st->body_off, keep);
        if (st->chunk_open)
            st->chunk_at -= st->body_off;
        st->body_len = keep;
        st->body_off = 0;
        if (st->body_len + n <= st->body_cap)
            return 0;
    }
    if (st->body_held)
        return GW_ENOMEM; /* the client sent past its window: nghttp2 would have refused it */
    size_t cap = st->body_cap ? st->body_cap : (size_t)st->sess->lim.initial_window_size + 64;
    while (cap < st->body_len + n)
        cap *= 2;
    /* The client can hold at most its window here, plus the framing of one chunk per
     * peek: more is a client past its window. */
    if (cap > 4 * (size_t)st->sess->lim.initial_window_size + 4096)
        return GW_ENOMEM;
    char *nb = realloc(st->body, cap);
    if (!nb)
        return GW_ENOMEM;
    st->body = nb;
    st->body_cap = cap;
    return 0;
}

static int append_body(struct gw_h2_stream *st, const uint8_t *p, size_t n)
{
    st->body_wait = false;
    if (st->has_cl || st->tunnel) {
        int rc = body_room(st, n);
        if (rc < 0)
            return rc;
    } else if (!st->chunk_open) {
        int rc = body_room(st, CHUNK_HDR + n);
        if (rc < 0)
            return rc;
        st->body_len += CHUNK_HDR; /* filled in when the chunk closes */
        st->chunk_at = st->body_len;
        st->chunk_open = true;
    } else {
        int rc = body_room(st, n);
        if (rc < 0)
            return rc;
    }
    memcpy(st->body + st->body_len, p, n);
    st->body_len += n;
    st->ev_body = true;
    mark(st);
    return 0;
}

/* Closes the open chunk: its size line goes right in front of the payload, the unused part
 * of the reserved room before it becomes part of... nothing: the size is padded with leading
 * zeros, which RFC 9112 7.1 allows. */
static int close_chunk(struct gw_h2_stream *st)
{
    if (!st->chunk_open)
        return 0;
    size_t size = st->body_len - st->chunk_at;
    int rc = body_room(st, 2);
    if (rc < 0)
        return rc;
    static const char hex[] = "0123456789abcdef";
    char *h = st->body + st->chunk_at - CHUNK_HDR;
    for (int i = 7; i >= 0; i--) {
        h[i] = hex[size & 15];
        size >>= 4;
    }
    h[8] = '\r';
    h[9] = '\n';
    memcpy(st->body + st->body_len, "\r\n", 2);
    st->body_len += 2;
    st->chunk_open = false;
    return 0;
}

static void end_body(struct gw_h2_stream *st)
{
    st->body_end = true;
    st->body_wait = false;
    if (!st->has_cl && !st->tunnel) {
        if (close_chunk(st) < 0 || body_room(st, 5) < 0) {
            st->bad = true;
            nghttp2_submit_rst_stream(st->sess->ng, NGHTTP2_FLAG_NONE, st->id,
                                      NGHTTP2_INTERNAL_ERROR);
            return;
        }
        memcpy(st->body + st->body_len, "0\r\n\r\n", 5);
        st->body_len += 5;
    }
    st->ev_body = true;
    mark(st);
}

size_t gw_h2_stream_body_peek(struct gw_h2_stream *st, const char **p)
{
    /* An empty open chunk stays open; a chunk with payload closes, so the bytes handed out
     * are whole chunks. While held, nothing new is handed out (the bytes must not move). */
    if (!st->body_held && st->chunk_open && st->body_len > st->chunk_at) {
        if (close_chunk(st) < 0) {
            *p = NULL;
            return 0;
        }
    }
    size_t end = st->chunk_open ? st->chunk_at - CHUNK_HDR : st->body_len;
    *p = st->body ? st->body + st->body_off : NULL;
    return end - st->body_off;
}

void gw_h2_stream_body_consume(struct gw_h2_stream *st, size_t n)
{
    st->body_off += n;
    if (st->body_off == st->body_len) {
        st->body_off = st->body_len = 0;
    }
    /* The window: the client may send as many more bytes, up to what it sent (n counts the
     * chunk lines too: they are credited early, never beyond what arrived). */
    size_t credit = n < st->uncredited ? n : st->uncredited;
    st->uncredited -= credit;
    if (credit == 0)
        return;
    nghttp2_session_consume_connection(st->sess->ng, credit);
    if (!st->closed && !st->body_end)
        nghttp2_session_consume_stream(st->sess->ng, st->id, credit);
}

void gw_h2_stream_release(struct gw_h2_stream *st)
{
    st->owner_data = NULL;
    st->owner_tunnel = false;
    st->released = true;
    st->body_wait = false;
    st->body_held = false;
    st->body_off = st->body_len = 0;
    st->chunk_open = false;
    if (st->uncredited && !st->closed) {
        nghttp2_session_consume(st->sess->ng, st->id, st->uncredited);
    } else if (st->uncredited) {
        nghttp2_session_consume_connection(st->sess->ng, st->uncredited);
    }
    st->uncredited = 0;
    stop_request(st); /* the response went out before the owner let go (a tunnel's) */
}

void gw_h2_stream_body_hold(struct gw_h2_stream *st, bool hold)
{
    st->body_held = hold;
}

/* ---- response ----------------------------------------------------------------------------------
 */

static bool submit_trailers(struct gw_h2_stream *st);

static ssize_t read_payload(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
                            uint32_t *flags, nghttp2_data_source *src, void *arg)
{
    (void)ng;
    (void)id;
    (void)arg;
    struct gw_h2_stream *st = src->ptr;
    size_t avail = st->out.len - st->out_off;
    size_t n = avail < length ? avail : length;
    if (n)
        memcpy(buf, st->out.data + st->out_off, n);
    st->out_off += n;
    if (st->out_off == st->out.len)
        st->out_off = st->out.len = 0;
    st->taken += n;
    if (st->out.len == st->out_off)
        st->send_wait = false; /* all out: no wait (a new one starts fresh) */
    if (st->want_sent && st->out.len - st->out_off < GW_H2_OUT_HIGH) {
        st->want_sent = false;
        st->ev_sent = true;
        mark(st);
    }
    if (st->out_eof && st->out.len == st->out_off) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        /* RFC 9113 8.1: trailers are a HEADERS frame that ends the stream. */
        if (st->trailers.len && submit_trailers(st))
            *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        return (ssize_t)n;
    }
    if (n == 0) {
        st->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

static bool connection_specific(const char *n, size_t len)
{
    return (len == 10 && strncasecmp(n, "connection", 10) == 0) ||
           (len == 10 && strncasecmp(n, "keep-alive", 10) == 0) ||
           (len == 16 && strncasecmp(n, "proxy-connection", 16) == 0) ||
           (len == 17 && strncasecmp(n, "transfer-encoding", 17) == 0) ||
           (len == 7 && strncasecmp(n, "upgrade", 7) == 0);
}

/* Header lines ("Name: value" each ending in CRLF) as nghttp2 fields after `first` free slots:
 * names lowercased in a copy (*copy, which the fields point into), connection-specific fields
 * dropped. *nv and *copy are the caller's to free; *k counts the fields. 0 or GW_ENOMEM. */
static int lines_to_nv(const char *lines, size_t len, size_t first, nghttp2_nv **nvp, char **copyp,
                       size_t *kp)
{
    size_t nf = first;
    for (size_t i = 0; i < len; i++)
        nf += lines[i] == '\n';
    nf++; /* a last line without its CRLF */
    nghttp2_nv *nv = malloc(nf * sizeof *nv);
    char *copy = malloc(len + 1);
    if (!nv || !copy) {
        free(nv);
        free(copy);
        return GW_ENOMEM;
    }
    memcpy(copy, lines, len);
    size_t k = first;
    size_t i = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && copy[e] != '\n')
            e++;
        size_t line_end = e > i && copy[e - 1] == '\r' ? e - 1 : e;
        char *colon = memchr(copy + i, ':', line_end - i);
        if (colon && colon > copy + i) {
            size_t nlen = (size_t)(colon - (copy + i));
            char *v = colon + 1;
            while (v < copy + line_end && (*v == ' ' || *v == '\t'))
                v++;
            size_t vlen = (size_t)(copy + line_end - v);
            while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
                vlen--;
            for (size_t j = i; j < i + nlen; j++)
                if (copy[j] >= 'A' && copy[j] <= 'Z')
                    copy[j] = (char)(copy[j] - 'A' + 'a');
            if (!connection_specific(copy + i, nlen) && k < nf)
                nv[k++] = (nghttp2_nv){(uint8_t *)copy + i, (uint8_t *)v, nlen, vlen,
                                       NGHTTP2_NV_FLAG_NONE};
        }
        i = e + 1;
    }
    *nvp = nv;
    *copyp = copy;
    *kp = k;
    return 0;
}

int gw_h2_stream_respond(struct gw_h2_stream *st, int status, const char *lines, size_t len,
                         bool has_body, bool chunked)
{
    if (st->closed || st->responded)
        return GW_EINVAL;
    nghttp2_nv *nv;
    char *copy;
    size_t k;
    if (lines_to_nv(lines, len, 1, &nv, &copy, &k) < 0)
        return GW_ENOMEM;
    char code[4] = {(char)('0' + status / 100 % 10), (char)('0' + status / 10 % 10),
                    (char)('0' + status % 10), '\0'};
    nv[0] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)code, 7, 3, NGHTTP2_NV_FLAG_NONE};
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = read_payload};
    st->out_chunked = chunked;
    if (chunked)
        gw_chunked_init(&st->dec, 0, 0);
    int rc = nghttp2_submit_response(st->sess->ng, st->id, nv, k, has_body ? &prd : NULL);
    free(nv);
    free(copy);
    if (rc != 0)
        return rc == NGHTTP2_ERR_NOMEM ? GW_ENOMEM : GW_EINVAL;
    st->responded = true;
    if (!has_body)
        st->out_eof = true;
    return 0;
}

int gw_h2_stream_trailers(struct gw_h2_stream *st, const char *lines, size_t len)
{
    gw_buf_reset(&st->trailers);
    return gw_buf_append(&st->trailers, lines, len);
}

/* The payload ended and trailers wait: they end the stream instead of the last DATA. */
static bool submit_trailers(struct gw_h2_stream *st)
{
    nghttp2_nv *nv;
    char *copy;
    size_t k;
    if (lines_to_nv(st->trailers.data, st->trailers.len, 0, &nv, &copy, &k) < 0)
        return false;
    int rc = k ? nghttp2_submit_trailer(st->sess->ng, st->id, nv, k) : -1;
    free(nv);
    free(copy);
    return rc == 0;
}

static void resume(struct gw_h2_stream *st)
{
    if (st->deferred && !st->closed) {
        st->deferred = false;
        nghttp2_session_resume_data(st->sess->ng, st->id);
    }
}

int gw_h2_stream_write(struct gw_h2_stream *st, const char *p, size_t n)
{
    if (st->closed)
        return 1; /* the client went away: its request ends when the owner hears */
    int rc = 0;
    if (!st->out_chunked) {
        rc = gw_buf_append(&st->out, p, n);
    } else {
        while (n > 0 && rc == 0) {
            size_t used = 0, dlen = 0;
            const char *d = NULL;
            int r = gw_chunked_decode(&st->dec, p, n, &used, &d, &dlen);
            if (r < 0)
                return r;
            if (r == GW_CHUNKED_DATA && dlen)
                rc = gw_buf_append(&st->out, d, dlen);
            p += used;
            n -= used;
            if (r == GW_CHUNKED_DONE || (used == 0 && r != GW_CHUNKED_DATA))
                break;
        }
    }
    if (rc < 0)
        return rc;
    resume(st);
    if (!st->send_wait && st->out.len > st->out_off && !st->tunnel) {
        st->send_wait = true;
        st->send_since = 0;
        st->sess->waiting = true;
    }
    if (st->out.len - st->out_off >= GW_H2_OUT_HIGH) {
        st->want_sent = true;
        return 0;
    }
    return 1;
}

void gw_h2_stream_end(struct gw_h2_stream *st)
{
    st->out_eof = true;
    resume(st);
}

void gw_h2_stream_reset(struct gw_h2_stream *st, uint32_t code)
{
    if (!st->closed)
        nghttp2_submit_rst_stream(st->sess->ng, NGHTTP2_FLAG_NONE, st->id, code);
}

/* ---- the session ------------------------------------------------------------------------------
 */

struct gw_h2_session *gw_h2_session_new(const struct gw_h2_limits *lim,
                                        const struct gw_h2_handler *h, void *owner)
{
    struct gw_h2_session *s = calloc(1, sizeof *s);
    nghttp2_session_callbacks *cb = NULL;
    nghttp2_option *opt = NULL;
    if (!s)
        return NULL;
    s->h = h;
    s->owner = owner;
    s->lim = *lim;
    s->window_start = now_ms();
    gw_list_init(&s->streams);
    gw_list_init(&s->pending);
    if (nghttp2_session_callbacks_new(&cb) != 0 || nghttp2_option_new(&opt) != 0)
        goto fail;
    nghttp2_session_callbacks_set_on_begin_frame_callback(cb, on_begin_frame);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb, on_invalid_frame);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    /* Windows are given back as the owner forwards the body: that is the backpressure. */
    nghttp2_option_set_no_auto_window_update(opt, 1);
    /* Our own counters fire first; nghttp2's bounds stay as a backstop. */
    nghttp2_option_set_max_continuations(opt, lim->max_continuations + 1);
    nghttp2_option_set_stream_reset_rate_limit(opt, (uint64_t)lim->max_resets * 4 + 16,
                                               (uint64_t)lim->max_resets * 2 + 16);
    nghttp2_option_set_max_outbound_ack(opt, 1000);
    nghttp2_option_set_max_settings(opt, 32);
    if (nghttp2_session_server_new2(&s->ng, cb, s, opt) != 0)
        goto fail;
    nghttp2_session_callbacks_del(cb);
    nghttp2_option_del(opt);
    cb = NULL;
    opt = NULL;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, lim->max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, lim->initial_window_size},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, lim->max_header_list_size},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1},
    };
    /* The last entry only when extended CONNECT is wanted (RFC 8441 3). */
    size_t niv = sizeof iv / sizeof iv[0] - (lim->connect_protocol ? 0 : 1);
    if (nghttp2_submit_settings(s->ng, NGHTTP2_FLAG_NONE, iv, niv) != 0)
        goto fail;
    return s;
fail:
    if (cb)
        nghttp2_session_callbacks_del(cb);
    if (opt)
        nghttp2_option_del(opt);
    gw_h2_session_free(s);
    return NULL;
}

void gw_h2_session_free(struct gw_h2_session *s)
{
    if (!s)
        return;
    while (!gw_list_empty(&s->streams))
        stream_free(gw_container_of(s->streams.next, struct gw_h2_stream, link));
    if (s->ng)
        nghttp2_session_del(s->ng);
    free(s);
}

/* Runs the owner's callbacks for the streams with news. */
static void deliver(struct gw_h2_session *s)
{
    while (!gw_list_empty(&s->pending)) {
        struct gw_h2_stream *st = gw_container_of(s->pending.next, struct gw_h2_stream, pending);
        gw_list_remove(&st->pending);
        gw_list_init(&st->pending);
        if (st->ev_ready && !st->bad) {
            st->ev_ready = false;
            st->ev_body = false;
            s->h->event(s->owner, GW_H2_EV_STREAM);
            if (!st->closed && s->h->request(s->owner, st) < 0)
                gw_h2_stream_reset(st, NGHTTP2_REFUSED_STREAM);
        }
        if (st->ev_body && st->owner_data) {
            st->ev_body = false;
            s->h->body(s->owner, st);
        }
        if (st->ev_sent && st->owner_data) {
            st->ev_sent = false;
            s->h->sent(s->owner, st);
        }
        if (st->ev_closed) {
            if (st->owner_data)
                s->h->closed(s->owner, st, st->close_error);
            stream_free(st);
        }
    }
}

int gw_h2_session_input(struct gw_h2_session *s, const char *p, size_t n)
{
    ssize_t rc = nghttp2_session_mem_recv(s->ng, (const uint8_t *)p, n);
    if (rc < 0 && !s->failed) {
        s->h->event(s->owner, GW_H2_EV_PROTOCOL_ERROR);
        s->failed = true;
    }
    deliver(s);
    return rc < 0 ? GW_EINVAL : 0;
}

int gw_h2_session_output(struct gw_h2_session *s, struct gw_buf *out, size_t max)
{
    int rc = 0;
    while (out->len < max) {
        const uint8_t *p;
        ssize_t n = nghttp2_session_mem_send(s->ng, &p);
        if (n < 0) {
            rc = GW_EINVAL;
            break;
        }
        if (n == 0)
            break;
        rc = gw_buf_append(out, p, (size_t)n);
        if (rc < 0)
            break;
    }
    deliver(s);
    return rc;
}

bool gw_h2_session_alive(const struct gw_h2_session *s)
{
    return nghttp2_session_want_read(s->ng) || nghttp2_session_want_write(s->ng);
}

bool gw_h2_session_busy(const struct gw_h2_session *s)
{
    return !gw_list_empty(&s->streams);
}

void gw_h2_session_goaway(struct gw_h2_session *s)
{
    nghttp2_submit_shutdown_notice(s->ng);
    nghttp2_submit_goaway(s->ng, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(s->ng),
                          NGHTTP2_NO_ERROR, NULL, 0);
}
