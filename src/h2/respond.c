/*
 * The response side of a client's HTTP/2 stream (see h2/session.h): the head and trailers
 * handed to nghttp2 as header blocks built from the HTTP/1-style field lines gantry writes
 * (connection-specific fields dropped, X-Request-ID never indexed), the payload the stream's
 * owner writes, given to nghttp2's data provider as it asks, and the stream's reset. The
 * request side and the session are h2/session.c's.
 */
#include <nghttp2/nghttp2.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "h2/internal.h"
#include "h2/session.h"

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
        gw__h2_mark(st);
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

static bool connection_specific(const uint8_t *n, size_t len)
{
    const char *c = (const char *)n;
    switch (len) {
    case 7:
        return strncasecmp(c, "upgrade", 7) == 0;
    case 10:
        return strncasecmp(c, "connection", 10) == 0 || strncasecmp(c, "keep-alive", 10) == 0;
    case 16:
        return strncasecmp(c, "proxy-connection", 16) == 0;
    case 17:
        return strncasecmp(c, "transfer-encoding", 17) == 0;
    default:
        return false;
    }
}

/* Fields on the stack up to this many (a proxied response has a handful); more are malloc'ed. */
#define NV_LOCAL 32

/* A header block for nghttp2_submit_*: fields pointing into the caller's lines. */
struct nv_block {
    nghttp2_nv *nv;
    size_t k; /* fields in nv */
    nghttp2_nv nv_local[NV_LOCAL];
};

static void nv_block_free(struct nv_block *nb)
{
    if (nb->nv != nb->nv_local)
        free(nb->nv);
}

/* Header lines ("Name: value" each ending in CRLF) as nghttp2 fields after `first` free slots,
 * pointing into the lines (which must outlive the nghttp2_submit_* call: nghttp2 copies the
 * fields, and lowercases the names as it does: nghttp2_nv_array_copy), connection-specific
 * fields dropped, a field whose value is new in each message (gw__h2_nv_flags) never indexed.
 * 0 or GW_ENOMEM; nv_block_free after either. */
static int lines_to_nv(struct nv_block *nb, const char *lines, size_t len, size_t first)
{
    const uint8_t *p = (const uint8_t *)lines, *end = p + len;
    size_t cap = NV_LOCAL;
    nb->nv = nb->nv_local;
    nb->k = first;
    while (p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *e = nl ? nl : end;
        const uint8_t *line_end = e > p && e[-1] == '\r' ? e - 1 : e;
        const uint8_t *colon = memchr(p, ':', (size_t)(line_end - p));
        if (colon && colon > p && !connection_specific(p, (size_t)(colon - p))) {
            if (nb->k == cap) {
                /* More fields than the stack holds: room for every line left (this one, one
                 * per line end after it, and a last one without its CRLF). */
                size_t left = 2;
                const uint8_t *q = e < end ? e + 1 : end;
                while (q < end) {
                    q = memchr(q, '\n', (size_t)(end - q));
                    if (!q)
                        break;
                    left++;
                    q++;
                }
                nghttp2_nv *nv = malloc((nb->k + left) * sizeof *nv);
                if (!nv)
                    return GW_ENOMEM;
                memcpy(nv, nb->nv, nb->k * sizeof *nv);
                nv_block_free(nb);
                nb->nv = nv;
                cap = nb->k + left;
            }
            size_t nlen = (size_t)(colon - p);
            const uint8_t *v = colon + 1;
            while (v < line_end && (*v == ' ' || *v == '\t'))
                v++;
            size_t vlen = (size_t)(line_end - v);
            while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
                vlen--;
            nb->nv[nb->k++] = (nghttp2_nv){(uint8_t *)(uintptr_t)p, (uint8_t *)(uintptr_t)v, nlen,
                                           vlen, gw__h2_nv_flags((const char *)p, nlen)};
        }
        p = e + 1;
    }
    return 0;
}

int gw_h2_stream_respond(struct gw_h2_stream *st, int status, const char *lines, size_t len,
                         bool has_body, bool chunked)
{
    if (st->closed || st->responded)
        return GW_EINVAL;
    struct nv_block nb;
    if (lines_to_nv(&nb, lines, len, 1) < 0) {
        nv_block_free(&nb);
        return GW_ENOMEM;
    }
    char code[4] = {(char)('0' + status / 100 % 10), (char)('0' + status / 10 % 10),
                    (char)('0' + status % 10), '\0'};
    nb.nv[0] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)code, 7, 3, NGHTTP2_NV_FLAG_NONE};
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = read_payload};
    st->out_chunked = chunked;
    if (chunked)
        gw_chunked_init(&st->dec, 0, 0);
    int rc = nghttp2_submit_response(st->sess->ng, st->id, nb.nv, nb.k, has_body ? &prd : NULL);
    nv_block_free(&nb);
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
    struct nv_block nb;
    int rc = lines_to_nv(&nb, st->trailers.data, st->trailers.len, 0);
    if (rc == 0)
        rc = nb.k ? nghttp2_submit_trailer(st->sess->ng, st->id, nb.nv, nb.k) : -1;
    nv_block_free(&nb);
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
