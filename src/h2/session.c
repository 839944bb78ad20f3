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

/* A kept stream's buffer stays with it up to this capacity (a usual head, a small payload). */
#define SPARE_BUF_MAX 2048

static void spare_buf(struct gw_buf *b, bool keep)
{
    if (keep && b->cap <= SPARE_BUF_MAX)
        b->len = 0;
    else
        gw_buf_free(b);
}

static void stream_free(struct gw_h2_stream *st)
{
    struct gw_bufcache *spares = st->sess->spares;
    gw_list_remove(&st->link);
    gw_list_remove(&st->pending);
    gw_buf_free(&st->cookies);
    if (st->pseudo != st->pseudo_local)
        free(st->pseudo);
    gw_buf_free(&st->trailers);
    free(st->body);
    if (!spares || spares->size != sizeof *st) {
        gw_buf_free(&st->head);
        gw_buf_free(&st->out);
        free(st);
        return;
    }
    /* gw_bufcache_put frees a stream it has no room for: its buffers go first. */
    bool keep = spares->n < GW_BUFCACHE_MAX;
    spare_buf(&st->head, keep);
    spare_buf(&st->out, keep);
    gw_bufcache_put(spares, st);
}

/* A zeroed stream: a spare one (with its buffers, emptied) when the session has spares. */
static struct gw_h2_stream *stream_new(struct gw_h2_session *s)
{
    struct gw_bufcache *spares = s->spares;
    if (!spares)
        return calloc(1, sizeof(struct gw_h2_stream));
    if (spares->size != sizeof(struct gw_h2_stream)) {
        gw_h2_spares_clear(spares);
        gw_bufcache_init(spares, sizeof(struct gw_h2_stream));
    }
    bool kept = spares->n > 0;
    struct gw_h2_stream *st = gw_bufcache_get(spares);
    if (!st)
        return NULL;
    struct gw_buf head = {0}, out = {0};
    if (kept) {
        head = st->head;
        out = st->out;
    }
    memset(st, 0, sizeof *st);
    st->head = head;
    st->out = out;
    return st;
}

void gw_h2_session_use_spares(struct gw_h2_session *s, struct gw_bufcache *spares)
{
    s->spares = spares;
}

void gw_h2_spares_clear(struct gw_bufcache *spares)
{
    while (spares->n > 0) {
        struct gw_h2_stream *st = gw_bufcache_get(spares);
        if (spares->size == sizeof *st) {
            gw_buf_free(&st->head);
            gw_buf_free(&st->out);
        }
        free(st);
    }
}

/* A connection error of ours: GOAWAY with `code`, counted as ev. */
static void fail_session(struct gw_h2_session *s, enum gw_h2_event ev, uint32_t code)
{
    if (s->failed)
        return;
    s->failed = true;
    s->h->event(s->owner, ev);
    nghttp2_session_terminate_session(s->ng, code);
}

static void calm_down(struct gw_h2_session *s, enum gw_h2_event ev)
{
    fail_session(s, ev, NGHTTP2_ENHANCE_YOUR_CALM);
}

/* RFC 9113 5.1.1: new streams' ids only go up, and the ids a client skips are closed for good:
 * a HEADERS for one is a connection error PROTOCOL_ERROR. nghttp2 ignores a HEADERS below its
 * last stream id whatever it was (it cannot tell a skipped id from a stream that closed, whose
 * late trailers must be ignored: RFC 9113 5.4.2); the last few ranges skipped are kept to tell. */
static void check_stream_id(struct gw_h2_session *s, int32_t id)
{
    if (id > s->last_id) {
        if ((int64_t)id - s->last_id > 2) {
            unsigned k = s->ngaps++ % GW_H2_GAPS;
            s->gap_lo[k] = s->last_id + 2;
            s->gap_hi[k] = id - 2;
        }
        s->last_id = id;
        return;
    }
    unsigned n = s->ngaps < GW_H2_GAPS ? s->ngaps : GW_H2_GAPS;
    for (unsigned k = 0; k < n; k++)
        if (id >= s->gap_lo[k] && id <= s->gap_hi[k])
            fail_session(s, GW_H2_EV_PROTOCOL_ERROR, NGHTTP2_PROTOCOL_ERROR);
}

/* Counts one frame of a flood counter in the current one-second window; true past max. */
static bool flood(struct gw_h2_session *s, uint32_t *counter, uint32_t max)
{
    uint64_t now = now_ms();
    if (now - s->window_start >= 1000) {
        s->window_start = now;
        s->resets = s->control = s->empty = 0;
    }
    return ++*counter > max;
}

/* A stream reset because of what the client sent (a window overflow, a malformed request, a
 * header list past the limit: RFC 9113 5.4.2 stream errors). MadeYouReset (CVE-2025-8671) makes
 * the server reset streams whose requests already went upstream, as a rapid reset does with the
 * client's own RST_STREAM: both spend the same budget (Debian 12's nghttp2 1.52 counts only the
 * client's). Counted when the reset is decided, so the connection ends before more go upstream. */
static void provoked_reset(struct gw_h2_session *s)
{
    if (flood(s, &s->resets, s->lim.max_resets))
        calm_down(s, GW_H2_EV_PROVOKED_RESET);
}

/* ---- nghttp2 callbacks: they only record; the owner hears after nghttp2 returned ----------- */

/* A frame that carries no work (CVE-2019-9518 and kin): counted per second. */
static void empty_frame(struct gw_h2_session *s)
{
    if (flood(s, &s->empty, s->lim.max_empty))
        calm_down(s, GW_H2_EV_EMPTY_FLOOD);
}

static int on_begin_frame(nghttp2_session *ng, const nghttp2_frame_hd *hd, void *arg)
{
    struct gw_h2_session *s = arg;
    switch (hd->type) {
    case NGHTTP2_DATA:
        if (hd->length == 0 && !(hd->flags & NGHTTP2_FLAG_END_STREAM))
            empty_frame(s);
        break;
    case NGHTTP2_HEADERS:
        s->continuations = 0;
        /* The stream's bytes_in, once on_begin_headers has the stream. */
        s->headers_len = (uint32_t)hd->length;
        if (hd->stream_id & 1) /* a client's (nghttp2 refuses the others) */
            check_stream_id(s, hd->stream_id);
        break;
    case NGHTTP2_CONTINUATION: {
        if (++s->continuations > s->lim.max_continuations)
            calm_down(s, GW_H2_EV_CONTINUATION);
        struct gw_h2_stream *st = nghttp2_session_get_stream_user_data(ng, hd->stream_id);
        if (st)
            st->bytes_in += hd->length;
        break;
    }
    case NGHTTP2_PRIORITY:
        empty_frame(s); /* nghttp2 keeps a tree of them; gantry schedules by nothing */
        break;
    case NGHTTP2_WINDOW_UPDATE:
        /* For a stream that is gone nghttp2 drops it without a callback. */
        if (hd->stream_id != 0 && !nghttp2_session_get_stream_user_data(ng, hd->stream_id))
            empty_frame(s);
        break;
    default:
        break;
    }
    return 0;
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *arg)
{
    struct gw_h2_session *s = arg;
    if (f->hd.type != NGHTTP2_HEADERS)
        return 0;
    if (f->headers.cat != NGHTTP2_HCAT_REQUEST) { /* trailers */
        struct gw_h2_stream *st = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
        if (st)
            st->bytes_in += s->headers_len;
        return 0;
    }
    struct gw_h2_stream *st = stream_new(s);
    if (!st)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    st->sess = s;
    st->id = f->hd.stream_id;
    st->bytes_in = s->headers_len;
    gw_list_init(&st->pending);
    gw_list_insert_tail(&s->streams, &st->link);
    /* The head is at most the header list plus the request line's words. (gw_buf_init would
     * drop a spare stream's buffer: only the bounds are set.) */
    st->head.max = (size_t)s->lim.max_header_list_size + 512;
    st->out.max = SIZE_MAX;
    if (st->head.cap > st->head.max)
        gw_buf_free(&st->head);
    st->pseudo = st->pseudo_local;
    st->pseudo_cap = sizeof st->pseudo_local;
    gw_buf_init(&st->cookies, s->lim.max_header_list_size);
    gw_buf_init(&st->trailers, 65536);
    nghttp2_session_set_stream_user_data(ng, st->id, st);
    return 0;
}

/* The pseudo-fields a request's head is made of (bits of st->pseudo_seen). */
enum pseudo_kind {
    PS_METHOD = 0,
    PS_PATH,
    PS_AUTHORITY,
    PS_PROTOCOL,
    PS_SCHEME
};

/* Keeps a pseudo-field's value until the head starts. 0 or GW_ENOMEM. */
static int keep_pseudo(struct gw_h2_stream *st, enum pseudo_kind k, const uint8_t *v, size_t n)
{
    if (n > st->pseudo_cap - st->pseudo_len) {
        /* header_bytes bounds the values (max_header_list_size) before they get here. */
        size_t cap =
            2 * st->pseudo_cap > st->pseudo_len + n ? 2 * st->pseudo_cap : st->pseudo_len + n;
        char *p = malloc(cap);
        if (!p)
            return GW_ENOMEM;
        memcpy(p, st->pseudo, st->pseudo_len);
        if (st->pseudo != st->pseudo_local)
            free(st->pseudo);
        st->pseudo = p;
        st->pseudo_cap = cap;
    }
    memcpy(st->pseudo + st->pseudo_len, v, n);
    st->pseudo_at[k] = (uint32_t)st->pseudo_len;
    st->pseudo_n[k] = (uint32_t)n;
    st->pseudo_len += n;
    st->pseudo_seen |= (uint8_t)(1u << k);
    return 0;
}

static const char *pseudo_of(struct gw_h2_stream *st, enum pseudo_kind k, size_t *len)
{
    if (!(st->pseudo_seen & (1u << k))) {
        *len = 0;
        return NULL;
    }
    *len = st->pseudo_n[k];
    return st->pseudo + st->pseudo_at[k];
}

/* The length of an authority without its scheme's default port (RFC 9110 4.2.3: "b.test:80" and
 * "b.test" are one authority for http, so are "b.test:443" and "b.test" for https; RFC 3986
 * 6.2.3: an empty port is the default one). */
static size_t authority_len(const char *a, size_t n, const struct gw_h2_stream *st)
{
    size_t p = n;
    while (p > 0 && a[p - 1] >= '0' && a[p - 1] <= '9')
        p--;
    if (p == 0 || a[p - 1] != ':')
        return n; /* no port (an IPv6 literal ends in ']') */
    const char *port = a + p;
    size_t plen = n - p;
    bool https = st->scheme_len == 5 && strncasecmp(st->scheme, "https", 5) == 0;
    bool http = st->scheme_len == 4 && strncasecmp(st->scheme, "http", 4) == 0;
    if (plen == 0 || (http && plen == 2 && memcmp(port, "80", 2) == 0) ||
        (https && plen == 3 && memcmp(port, "443", 3) == 0))
        return p - 1;
    return n;
}

/* Whether :authority and Host name the same authority (case aside, up to the default port). */
static bool same_authority(const struct gw_h2_stream *st, const char *host, size_t host_len)
{
    size_t a = authority_len(st->authority, st->authority_len, st);
    size_t h = authority_len(host, host_len, st);
    return a == h && strncasecmp(st->authority, host, a) == 0;
}

/* Every pseudo-field came (the first regular field, or the block's end): the head starts with
 * its request line and, from :authority, Host; the fields are appended as they come. 0, or a
 * negative code: no method or no target (malformed), or out of memory. */
static int start_head(struct gw_h2_stream *st)
{
    st->started = true;
    st->method = pseudo_of(st, PS_METHOD, &st->method_len);
    st->path = pseudo_of(st, PS_PATH, &st->path_len);
    st->authority = pseudo_of(st, PS_AUTHORITY, &st->authority_len);
    st->protocol = pseudo_of(st, PS_PROTOCOL, &st->protocol_len);
    st->scheme = pseudo_of(st, PS_SCHEME, &st->scheme_len);
    /* CONNECT (RFC 9113 8.5) has no :path: its authority is the target. */
    const char *target = st->path ? st->path : st->authority;
    size_t target_len = st->path ? st->path_len : st->authority_len;
    if (st->method_len == 0 || !target)
        return GW_EINVAL;
    struct gw_buf *b = &st->head;
    /* An extended CONNECT (checked when the block ends) is an HTTP/1.1 GET handshake. */
    int rc =
        st->protocol ? gw_buf_append(b, "GET", 3) : gw_buf_append(b, st->method, st->method_len);
    rc = rc ? rc : gw_buf_append(b, " ", 1);
    rc = rc ? rc : gw_buf_append(b, target, target_len);
    rc = rc ? rc : gw_buf_append(b, " HTTP/1.1\r\n", 11);
    if (rc == 0 && st->authority) {
        rc = gw_buf_append(b, "host: ", 6);
        rc = rc ? rc : gw_buf_append(b, st->authority, st->authority_len);
        rc = rc ? rc : gw_buf_append(b, "\r\n", 2);
    }
    return rc;
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
        provoked_reset(s);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    int rc = 0;
    if (namelen > 0 && name[0] == ':') {
        /* nghttp2 put the pseudo-fields before the others and refused duplicates. */
        if (namelen == 7 && memcmp(name, ":method", 7) == 0)
            rc = keep_pseudo(st, PS_METHOD, value, valuelen);
        else if (namelen == 5 && memcmp(name, ":path", 5) == 0)
            rc = keep_pseudo(st, PS_PATH, value, valuelen);
        else if (namelen == 10 && memcmp(name, ":authority", 10) == 0)
            rc = keep_pseudo(st, PS_AUTHORITY, value, valuelen);
        else if (namelen == 9 && memcmp(name, ":protocol", 9) == 0)
            /* nghttp2 takes it only after our SETTINGS_ENABLE_CONNECT_PROTOCOL. */
            rc = keep_pseudo(st, PS_PROTOCOL, value, valuelen);
        else if (namelen == 7 && memcmp(name, ":scheme", 7) == 0)
            /* The connection says what it is; kept to check an extended CONNECT. */
            rc = keep_pseudo(st, PS_SCHEME, value, valuelen);
        return rc < 0 ? NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE : 0;
    }
    if (st->malformed)
        return 0; /* refused when the block ends */
    if (!st->started) {
        rc = start_head(st);
        if (rc == GW_ENOMEM)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        if (rc < 0) {
            st->malformed = true;
            return 0;
        }
    }
    struct gw_buf *b = &st->head;
    if (namelen == 4 && memcmp(name, "host", 4) == 0) {
        if (st->has_host) {
            st->bad = true; /* two hosts: what would HTTP/1.1 make of it (RFC 9112 3.2) */
            provoked_reset(s);
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        }
        st->has_host = true;
        if (st->authority) {
            /* RFC 9113 8.3.1: a Host that names another authority than :authority is
             * malformed. The same one is in the head already. */
            if (!same_authority(st, (const char *)value, valuelen))
                st->malformed = true;
            return 0;
        }
    } else if (namelen == 6 && memcmp(name, "cookie", 6) == 0) {
        /* RFC 9113 8.2.3: one field for HTTP/1.1, joined with "; ". */
        if (st->cookies.len)
            rc = gw_buf_append(&st->cookies, "; ", 2);
        rc = rc ? rc : gw_buf_append(&st->cookies, value, valuelen);
        return rc < 0 ? NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE : 0;
    } else if (namelen == 14 && memcmp(name, "content-length", 14) == 0) {
        st->has_cl = true;
    }
    rc = gw_buf_reserve(b, namelen + valuelen + 4);
    if (rc < 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    char *w = b->data + b->len;
    memcpy(w, name, namelen);
    w += namelen;
    *w++ = ':';
    *w++ = ' ';
    memcpy(w, value, valuelen);
    w += valuelen;
    *w++ = '\r';
    *w++ = '\n';
    b->len = (size_t)(w - b->data);
    return 0;
}

/* The header block is complete: the HTTP/1.1 head is the request line, Host, the fields and
 * the joined cookies, and a chunked framing for a body without a length. */
static int finish_head(struct gw_h2_stream *st, bool end_stream)
{
    struct gw_buf *b = &st->head;
    if (!st->started && start_head(st) < 0)
        return -1;
    if (st->malformed)
        return -1;
    int rc = 0;
    if (st->protocol) {
        if (gw__h2_ext_connect_check(st) < 0)
            return -1;
        rc = gw__h2_ext_connect_fields(st, b);
    }
    if (rc == 0 && st->cookies.len) {
        rc = gw_buf_append(b, "cookie: ", 8);
        rc = rc ? rc : gw_buf_append(b, st->cookies.data, st->cookies.len);
        rc = rc ? rc : gw_buf_append(b, "\r\n", 2);
    }
    /* A body without a length is chunked for HTTP/1.1 (a tunnel's bytes are no body). */
    if (rc == 0 && !end_stream && !st->has_cl && !st->tunnel)
        rc = gw_buf_append(b, "transfer-encoding: chunked\r\n", 28);
    rc = rc ? rc : gw_buf_append(b, "\r\n", 2);
    if (rc < 0)
        return rc;
    gw_buf_free(&st->cookies);
    st->ready = true;
    st->ev_ready = true;
    st->body_end = end_stream;
    gw__h2_mark(st);
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
                provoked_reset(s);
            }
        } else if (end && st->ready && !st->body_end) {
            end_body(st); /* trailers end the body */
        }
        break;
    case NGHTTP2_DATA:
        st = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
        if (st)
            st->bytes_in += f->hd.length;
        if (st && end && st->ready && !st->body_end)
            end_body(st);
        break;
    case NGHTTP2_RST_STREAM:
        s->h->event(s->owner, GW_H2_EV_CLIENT_RESET);
        if (flood(s, &s->resets, s->lim.max_resets))
            calm_down(s, GW_H2_EV_RAPID_RESET);
        break;
    case NGHTTP2_WINDOW_UPDATE:
        if (f->window_update.window_size_increment < GW_H2_SMALL_WINDOW_UPDATE &&
            (f->hd.stream_id == 0 || nghttp2_session_get_stream_user_data(ng, f->hd.stream_id)))
            empty_frame(s);
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

/* nghttp2 refused a frame: for a stream error (a stream's id) it resets the stream (RFC 9113
 * 5.4.2), which counts as a reset the client provoked; a connection error ends the connection. */
static int on_invalid_frame(nghttp2_session *ng, const nghttp2_frame *f, int err, void *arg)
{
    struct gw_h2_session *s = arg;
    (void)ng;
    (void)err;
    s->h->event(s->owner, GW_H2_EV_PROTOCOL_ERROR);
    if (f->hd.stream_id != 0)
        provoked_reset(s);
    return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *p, size_t n,
                         void *arg)
{
    (void)flags;
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
        provoked_reset(arg);
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
    gw__h2_mark(st);
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
    gw__h2_mark(st);
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
    gw__h2_mark(st);
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
    s->last_id = -1;
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
