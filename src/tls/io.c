/*
 * tls/io.h: a TLS session's output on a libuv stream.
 */
#include "tls/io.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tls/stream.h"

/* A write of ciphertext that the socket did not take at once. The uv_write_t comes first: a
 * completion callback that frees the request frees the whole thing. */
struct tls_wreq {
    uv_write_t req;
    uv_write_cb cb;
    char data[];
};

static void on_written(uv_write_t *req, int status)
{
    struct tls_wreq *wr = (struct tls_wreq *)req;
    if (wr->cb)
        wr->cb(req, status);
    else
        free(wr);
}

int gw_tls_io_send(struct gw_tls_stream *t, uv_stream_t *s, uv_write_cb cb, void *data)
{
    const char *p;
    size_t n = gw_tls_stream_out(t, &p);
    if (n == 0)
        return 1;
    int w = 0;
    /* Behind queued bytes, a try-write would overtake them. */
    if (s->write_queue_size == 0) {
        uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
        w = uv_try_write(s, &b, 1);
        if (w == UV_EAGAIN)
            w = 0;
        if (w < 0) {
            gw_tls_stream_out_consume(t, n);
            return w;
        }
        if ((size_t)w == n) {
            gw_tls_stream_out_consume(t, n);
            return 1;
        }
    }
    size_t rest = n - (size_t)w;
    struct tls_wreq *wr = malloc(sizeof(*wr) + rest);
    if (!wr) {
        gw_tls_stream_out_consume(t, n);
        return GW_ENOMEM;
    }
    memcpy(wr->data, p + w, rest);
    gw_tls_stream_out_consume(t, n);
    wr->cb = cb;
    wr->req.data = data;
    uv_buf_t b = uv_buf_init(wr->data, (unsigned)rest);
    int rc = uv_write(&wr->req, s, &b, 1, on_written);
    if (rc < 0) {
        free(wr);
        return rc;
    }
    return 0;
}

/* The most plaintext one TLS record carries (RFC 8446 5.1, RFC 5246 6.2.1: 2^14). */
#define RECORD_MAX 16384

int gw_tls_io_encrypt(struct gw_tls_stream *t, const uv_buf_t *bufs, unsigned n)
{
    if (n == 1)
        return gw_tls_stream_write(t, bufs[0].base, bufs[0].len) < 0 ? GW_ETLS : 0;
    char rec[RECORD_MAX]; /* pieces gathered into the record being filled */
    size_t fill = 0;
    for (unsigned i = 0; i < n; i++) {
        const char *p = bufs[i].base;
        size_t len = bufs[i].len;
        if (len <= RECORD_MAX - fill) {
            if (len)
                memcpy(rec + fill, p, len);
            fill += len;
            continue;
        }
        if (fill) { /* the record fills up with the piece's start */
            size_t take = RECORD_MAX - fill;
            memcpy(rec + fill, p, take);
            if (gw_tls_stream_write(t, rec, RECORD_MAX) < 0)
                return GW_ETLS;
            fill = 0;
            p += take;
            len -= take;
        }
        /* Whole records straight from the piece; its tail waits for what follows. */
        size_t whole = len - len % RECORD_MAX;
        if (whole && gw_tls_stream_write(t, p, whole) < 0)
            return GW_ETLS;
        memcpy(rec, p + whole, len - whole);
        fill = len - whole;
    }
    if (fill && gw_tls_stream_write(t, rec, fill) < 0)
        return GW_ETLS;
    return 0;
}

int gw_tls_io_write(struct gw_tls_stream *t, uv_stream_t *s, const char *p, size_t n,
                    uv_write_cb cb, void *data)
{
    if (n && gw_tls_stream_write(t, p, n) < 0)
        return GW_ETLS;
    return gw_tls_io_send(t, s, cb, data);
}
