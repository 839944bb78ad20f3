/*
 * What the files of h2/ share (docs/internals.md "internal.h per folder"): the session's struct
 * and the extended CONNECT helpers. Only h2/ and tests/unit/h2/ include it.
 */
#ifndef GW_H2_INTERNAL_H
#define GW_H2_INTERNAL_H

#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stdint.h>
#include <strings.h>

#include "core/buf.h"
#include "core/bufcache.h"
#include "core/list.h"
#include "h2/session.h"

/* Skipped stream id ranges a session remembers (gw_h2_session.gap_lo). */
#define GW_H2_GAPS 4

struct gw_h2_session {
    nghttp2_session *ng;
    const struct gw_h2_handler *h;
    void *owner;
    struct gw_h2_limits lim;
    struct gw_list streams; /* every gw_h2_stream */
    struct gw_list pending; /* streams with news for the owner */
    uint64_t window_start;  /* ms: the current one-second window of the flood counters */
    uint32_t resets;        /* RST_STREAM from the client, or provoked by it */
    uint32_t control;       /* PING and SETTINGS from the client in the window */
    uint32_t empty;         /* frames without work from the client in the window */
    uint32_t continuations; /* CONTINUATION frames in the current header block */
    int32_t last_id;        /* the highest stream id a client HEADERS named (-1: none yet) */
    uint32_t headers_len;   /* the payload length of the HEADERS frame being read */
    /* The last GW_H2_GAPS ranges of stream ids the client skipped (closed for good, RFC 9113
     * 5.1.1), [lo, hi] each, oldest overwritten: a HEADERS for one is a connection error. */
    int32_t gap_lo[GW_H2_GAPS], gap_hi[GW_H2_GAPS];
    unsigned ngaps;             /* ranges recorded, ever (the next goes to ngaps % GW_H2_GAPS) */
    struct gw_bufcache *spares; /* freed streams kept for new ones (the worker's), or NULL */
    bool failed;                /* a connection error: GOAWAY queued */
    bool waiting;               /* some stream may have a timeout running (or lingers) */
};

/* h2/session.c: an answered stream's request body is not wanted (RFC 9113 8.1): RST_STREAM
 * NO_ERROR, once. */
void gw__h2_stream_stop(struct gw_h2_stream *st);

/* h2/ext_connect.c: whether a stream's header block is a well-formed extended CONNECT (RFC 8441
 * 4: CONNECT with :protocol, :scheme http or https, a :path, an :authority, no content-length,
 * a token as :protocol); sets st->ext_connect and st->tunnel. 0, or -1: malformed. */
int gw__h2_ext_connect_check(struct gw_h2_stream *st);

/* h2/ext_connect.c: the HTTP/1.1 handshake fields of a checked extended CONNECT, appended to b:
 * Connection, Upgrade, and for websocket a fresh Sec-WebSocket-Key (RFC 8441 5: the key and the
 * accept are not used on HTTP/2; the upstream's HTTP/1.1 handshake needs one, and its accept
 * goes no further). 0 or a negative code. */
int gw__h2_ext_connect_fields(struct gw_h2_stream *st, struct gw_buf *b);

/* The nghttp2 flags of a field sent (name in any case): X-Request-ID, whose value is new in each
 * message, goes as a literal never indexed (RFC 7541 6.2.3). Indexed, each one only evicted
 * entries that repeat (the 4 KiB table holds ~50 of them), and nghttp2's encoder, whose table
 * index keys on the name, compared the field with every one of them per message: 105 memcmp
 * and about 4,000 instructions per response. */
static inline uint8_t gw__h2_nv_flags(const char *name, size_t len)
{
    return len == 12 && strncasecmp(name, "x-request-id", 12) == 0 ? NGHTTP2_NV_FLAG_NO_INDEX
                                                                   : NGHTTP2_NV_FLAG_NONE;
}

/* The stream has news for its owner: queued on the session's pending list once (the owner
 * hears of it when the session delivers). Both halves of a stream use it (session.c, respond.c). */
static inline void gw__h2_mark(struct gw_h2_stream *st)
{
    if (gw_list_empty(&st->pending))
        gw_list_insert_tail(&st->sess->pending, &st->pending);
}

#endif
