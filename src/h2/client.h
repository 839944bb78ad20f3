/*
 * HTTP/2 client session: gantry's glue around nghttp2 for connections to HTTP/2 upstreams
 * (upstream/h2_upstream.c). Like the server session (h2/session.h) it does no I/O: bytes from
 * the upstream in (gw_h2c_session_input), frames out (gw_h2c_session_output), and per stream:
 *
 *   - the request: fields given whole when the stream opens (gw_h2c_stream_open), payload
 *     copied in (gw_h2c_stream_write) and sent as the upstream's flow control allows; the
 *     payload a stream holds unsent is what its owner's backpressure watches
 *     (gw_h2c_stream_unsent), and `ev_drained` tells when it fell below GW_H2C_BODY_LOW;
 *   - the response: the final status and its fields as HTTP/1.1 header lines (interim 1xx
 *     answers dropped), payload bytes, then trailer fields as lines. Window is given back only
 *     as the owner takes payload (gw_h2c_stream_data_consume): what a stream holds is bounded
 *     by the window it advertised (GW_H2C_STREAM_WINDOW).
 *
 * Streams the upstream refused (RST_STREAM REFUSED_STREAM, or above the last stream id of its
 * GOAWAY) end with `refused`: it processed nothing, so a retry is safe for any method.
 * Callbacks to the owner never run inside nghttp2's: input and output mark streams, and run the
 * owner's callback after nghttp2 returned. One thread. Fuzzed: fuzz/fuzz_h2_client.c.
 */
#ifndef GW_H2_CLIENT_H
#define GW_H2_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/list.h"

#define GW_H2C_STREAM_WINDOW (256 * 1024) /* per stream, for response payload */
#define GW_H2C_CONN_WINDOW (16 * 1024 * 1024)
#define GW_H2C_BODY_HIGH 65536 /* request payload held unsent before the owner waits */
#define GW_H2C_BODY_LOW 16384
#define GW_H2C_DEFAULT_MAX_STREAMS 100 /* until the upstream's SETTINGS say */

struct gw_h2c_session;

struct gw_h2c_field {
    const char *name; /* lowercase */
    size_t name_len;
    const char *value;
    size_t value_len;
};

struct gw_h2c_stream {
    struct gw_h2c_session *sess;
    struct gw_list link;    /** the session's streams */
    struct gw_list pending; /** streams with news for the owner */
    int32_t id;
    void *owner_data; /** NULL once the owner released it */
    /* request payload */
    struct gw_buf body; /** payload not yet taken by nghttp2 (from body_off) */
    size_t body_off;
    bool body_end; /** the owner ended the payload */
    bool deferred; /** nghttp2 waits for payload (resume it) */
    bool want_drained;
    /* response */
    int status;             /** the final status, 0 until its head */
    struct gw_buf fields;   /** its fields as "name: value\r\n" lines */
    struct gw_buf trailers; /** trailer fields, same form */
    struct gw_buf data;     /** payload not yet taken by the owner (from data_off) */
    size_t data_off;
    bool head_done;       /** the final head arrived */
    bool in_trailers;     /** the header block being read is the trailers */
    bool end;             /** the upstream ended the stream: the response is complete */
    bool bad;             /** a field this file refuses (the stream is reset) */
    bool closed;          /** nghttp2 closed the stream */
    bool refused;         /** closed unprocessed (REFUSED_STREAM or GOAWAY): safe to retry */
    uint32_t close_error; /** RST_STREAM code (0: a clean end) */
    /* news (set inside nghttp2's callbacks, delivered after) */
    bool ev_head, ev_data, ev_end, ev_closed, ev_drained;
};

struct gw_h2c_handler {
    /* News for a stream: look at its ev_* flags (the owner clears none: the session does after
     * the call). After ev_closed the session frees the stream once this returns. */
    void (*stream)(void *owner, struct gw_h2c_stream *st);
};

/* A client session with the connection preface and our SETTINGS queued. NULL when out of
 * memory. */
struct gw_h2c_session *gw_h2c_session_new(const struct gw_h2c_handler *h, void *owner);

/* Frees the session and every stream left (no callbacks); NULL-safe. */
void gw_h2c_session_free(struct gw_h2c_session *s);

/* Feeds n bytes from the upstream, then runs the owner's callbacks. 0, or a negative code when
 * the connection must close (GOAWAY queued: send it first). */
int gw_h2c_session_input(struct gw_h2c_session *s, const char *p, size_t n);

/* Appends frames ready to go to out (up to about max bytes), then runs the owner's callbacks.
 * 0 or a negative code. */
int gw_h2c_session_output(struct gw_h2c_session *s, struct gw_buf *out, size_t max);

/* Whether a new stream may open: no GOAWAY either way, fewer open streams than the upstream's
 * SETTINGS_MAX_CONCURRENT_STREAMS (GW_H2C_DEFAULT_MAX_STREAMS before its SETTINGS). */
bool gw_h2c_session_can_open(const struct gw_h2c_session *s);

/* The upstream's SETTINGS_MAX_CONCURRENT_STREAMS (GW_H2C_DEFAULT_MAX_STREAMS before its
 * SETTINGS arrived). */
uint32_t gw_h2c_session_max_streams(const struct gw_h2c_session *s);

/* Whether the session has anything left to do (streams open or frames to send) and no
 * connection error ended it. */
bool gw_h2c_session_alive(const struct gw_h2c_session *s);

/* Whether the upstream sent GOAWAY. */
bool gw_h2c_session_goaway_received(const struct gw_h2c_session *s);

/* Number of streams open (opened and not yet freed). */
size_t gw_h2c_session_streams(const struct gw_h2c_session *s);

/* Queues GOAWAY (NO_ERROR: streams in flight finish). */
void gw_h2c_session_goaway(struct gw_h2c_session *s);

/* Queues a PING (health of an idle connection). */
int gw_h2c_session_ping(struct gw_h2c_session *s);

/* Opens a stream: :method, :scheme, :authority, :path first in fields, then the regular fields
 * (lowercase names, no connection-specific ones). has_body: payload follows
 * (gw_h2c_stream_write, gw_h2c_stream_end); else the HEADERS end the stream. The stream, or
 * NULL (*err: GW_ENOMEM, or GW_EINVAL when the session takes no new stream). */
struct gw_h2c_stream *gw_h2c_stream_open(struct gw_h2c_session *s,
                                         const struct gw_h2c_field *fields, size_t n, bool has_body,
                                         void *owner_data, int *err);

/* Queues request payload (copied). 0 or GW_ENOMEM. */
int gw_h2c_stream_write(struct gw_h2c_stream *st, const char *p, size_t n);

/* Request payload held and not yet sent. */
size_t gw_h2c_stream_unsent(const struct gw_h2c_stream *st);

/* Asks for ev_drained once the unsent payload is below GW_H2C_BODY_LOW. */
void gw_h2c_stream_want_drained(struct gw_h2c_stream *st);

/* The request payload is complete (END_STREAM after what is queued). */
void gw_h2c_stream_end(struct gw_h2c_stream *st);

/* Response payload not yet taken: how many bytes, *p their start. */
size_t gw_h2c_stream_data(const struct gw_h2c_stream *st, const char **p);

/* n bytes of response payload were taken: the upstream may send as many more. */
void gw_h2c_stream_data_consume(struct gw_h2c_stream *st, size_t n);

/* The owner lets go: a stream still open is reset (CANCEL); it is freed when closed, with no
 * more callbacks. */
void gw_h2c_stream_release(struct gw_h2c_stream *st);

#endif
