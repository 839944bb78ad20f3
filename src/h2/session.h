/*
 * HTTP/2 server session: gantry's glue around nghttp2 (the frame parser, HPACK and flow control
 * are nghttp2's). No I/O and no requests: bytes in (gw_h2_session_input), bytes out
 * (gw_h2_session_output), and per stream an HTTP/1.1 view of the request that the HTTP/1 code
 * after it (router, policy chain, proxy) already understands:
 *
 *   - a stream's request head becomes HTTP/1.1 text in s->head ("GET /p HTTP/1.1", Host from
 *     :authority, the fields as sent, cookies joined), parsed by the owner with the HTTP/1
 *     parser. nghttp2 has refused what RFC 9113 8.2 calls malformed before (connection-specific
 *     fields, CR/LF/NUL, uppercase names, pseudo-header rules, content-length against DATA);
 *     this file refuses a Host that disagrees with :authority (up to the scheme's default port,
 *     RFC 9110 4.2.3), and ends the connection (PROTOCOL_ERROR) at a HEADERS for a stream id
 *     the client skipped (RFC 9113 5.1.1: closed for good; nghttp2 ignores it);
 *   - its body becomes the body of that message in s->body: as sent when the request has a
 *     content-length, else chunked (one chunk per gw_h2_stream_body_peek), ended when the
 *     client ends the stream. The window the client may fill is given back only as the owner
 *     consumes (gw_h2_stream_body_consume): the body held per stream is bounded by the window;
 *   - an extended CONNECT (RFC 8441, when limits.connect_protocol advertised it) with
 *     :protocol websocket becomes the HTTP/1.1 handshake the rest of gantry knows ("GET :path",
 *     Connection: upgrade, Upgrade: websocket, a fresh Sec-WebSocket-Key: RFC 8441 5 drops the
 *     key and the accept); its DATA are tunnel bytes, handed out raw (s->tunnel). One that lacks
 *     :scheme, :path or :authority, or has a content-length, is malformed (RFC 8441 4, RFC 9113
 *     8.1.1: the stream is reset with PROTOCOL_ERROR); another :protocol is passed on as its
 *     Upgrade with s->ext_connect GW_H2_EXT_OTHER, for the owner to refuse;
 *   - the response is a status and header lines (gw_h2_stream_respond; connection-specific
 *     fields dropped, names lowercased), then payload (gw_h2_stream_write, de-chunked when the
 *     caller says the bytes are chunked), sent as the client's flow control allows; a stream
 *     holds at most GW_H2_OUT_HIGH bytes before gw_h2_stream_write says "pending" and the
 *     owner's `sent` runs when it drained.
 *
 * A response that is complete before the request (an early answer: gantry's own 401, 413, 429,
 * a gRPC Trailers-Only status, or an upstream's) ends the stream with RST_STREAM NO_ERROR
 * (RFC 9113 8.1) GW_H2_LINGER_MS after its END_STREAM went out and the owner let go, unless the
 * client ended its body meanwhile: the client stops sending a body nobody reads, and the stream
 * ties up nothing; bytes still in flight are dropped, their window given back. A stream whose
 * body timed out is reset at once after its 408 (gw_h2_stream_cut).
 *
 * Per-stream timeouts (gw_h2_session_expire, driven by the owner's timer): the request body
 * the owner waits for, and response payload the client's window holds back.
 *
 * Limits with counters (enum gw_h2_event): concurrent streams (SETTINGS, refused past it),
 * header list size (SETTINGS, and a stream whose decoded fields pass it is reset: HPACK bombs),
 * RST_STREAM from the client per second (rapid reset, CVE-2023-44487; the streams gantry resets
 * for the client's stream errors count too: MadeYouReset, CVE-2025-8671), PING and SETTINGS per
 * second, CONTINUATION frames per header block, frames that carry no work per second (DATA without
 * payload or END_STREAM, CVE-2019-9518; PRIORITY, which gantry does not act on; WINDOW_UPDATE
 * below GW_H2_SMALL_WINDOW_UPDATE or for a stream that is gone): past a bound the connection
 * ends with GOAWAY ENHANCE_YOUR_CALM.
 *
 * Callbacks to the owner never run inside nghttp2's: input and output only mark streams, and
 * gw_h2_session_input / gw_h2_session_output run the owner's callbacks after nghttp2 returned.
 * All of it runs on one thread.
 */
#ifndef GW_H2_SESSION_H
#define GW_H2_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/list.h"
#include "http1/chunked.h"

/* Response payload a stream buffers before gw_h2_stream_write reports "pending". */
#define GW_H2_OUT_HIGH 65536

/* How long an answered stream whose request body still comes is read (and dropped) before it is
 * reset with NO_ERROR: the HTTP/1 connection's lingering close, per stream. A client needs the
 * time to read the answer before the reset (see session.c stop_request). */
#define GW_H2_LINGER_MS 2000

/* A WINDOW_UPDATE increment below this is a frame without work (max_empty). */
#define GW_H2_SMALL_WINDOW_UPDATE 1024

struct gw_h2_limits {
    uint32_t max_concurrent_streams;
    uint32_t max_header_list_size; /* bytes, as RFC 9113 6.5.2 counts them */
    uint32_t initial_window_size;  /* per stream, for request bodies */
    uint32_t max_resets;           /* RST_STREAM from the client, or provoked by it, per second */
    uint32_t max_control;          /* PING and SETTINGS from the client per second */
    uint32_t max_continuations;    /* CONTINUATION frames in one header block */
    uint32_t max_empty;            /* frames without work per second (GW_H2_SMALL_WINDOW_UPDATE) */
    bool connect_protocol; /* SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441): extended CONNECT */
};

/* An extended CONNECT (RFC 8441 4) that this file accepted: s->ext_connect. */
enum gw_h2_ext_connect {
    GW_H2_EXT_NONE = 0,
    GW_H2_EXT_WEBSOCKET, /* :protocol websocket: the head is an HTTP/1.1 WebSocket handshake */
    GW_H2_EXT_OTHER,     /* another :protocol: the head carries it as Upgrade, for a 501 */
};

/* Which per-stream timeout expired (gw_h2_session_expire). */
enum gw_h2_timeout {
    GW_H2_TIMEOUT_BODY = 0, /* the owner waited for request body bytes for body_ms */
    GW_H2_TIMEOUT_SEND,     /* response payload waited for the client's window for send_ms */
};

enum gw_h2_event {
    GW_H2_EV_STREAM = 0,     /* a stream's request was complete */
    GW_H2_EV_RAPID_RESET,    /* too many RST_STREAM: GOAWAY */
    GW_H2_EV_CONTROL_FLOOD,  /* too many PING / SETTINGS: GOAWAY */
    GW_H2_EV_CONTINUATION,   /* too many CONTINUATION frames: GOAWAY */
    GW_H2_EV_HEADER_LIST,    /* a header list past max_header_list_size: stream reset */
    GW_H2_EV_PROTOCOL_ERROR, /* a malformed frame or request (nghttp2 or ours) */
    GW_H2_EV_CLIENT_RESET,   /* the client reset a stream */
    GW_H2_EV_BODY_TIMEOUT,   /* a stream's request body stalled (counted by the owner) */
    GW_H2_EV_SEND_TIMEOUT,   /* a stream's client left its response unread (by the owner) */
    GW_H2_EV_PROVOKED_RESET, /* too many streams reset for the client's errors: GOAWAY */
    GW_H2_EV_EMPTY_FLOOD,    /* too many frames that carry no work: GOAWAY */
    GW_H2_EV__COUNT,
};

struct gw_h2_session;

struct gw_h2_stream {
    struct gw_h2_session *sess;
    struct gw_list link;    /** the session's list of streams */
    struct gw_list pending; /** the session's list of streams with news for the owner */
    int32_t id;
    void *owner_data; /** the owner's (its request) */
    /* request */
    struct gw_buf head; /** HTTP/1.1 request head text, complete once `ready` */
    /* The pseudo-fields' values, copied while the header block arrives (pseudo_local, or
     * malloc'ed when they pass it); the pointers below point into it once the first regular
     * field (or the block's end) came: RFC 9113 8.3 puts every pseudo-field before them. */
    char *pseudo;
    size_t pseudo_len, pseudo_cap;
    uint32_t pseudo_at[5]; /** where each kind (session.c enum pseudo_kind) starts in pseudo */
    uint32_t pseudo_n[5];  /** its length */
    uint8_t pseudo_seen;   /** bit per kind present */
    bool started;          /** the request line (and Host from :authority) is in head */
    bool has_host;         /** a host field came */
    bool malformed;        /** refused when the block ends (RFC 9113 8.3.1 Host, no target) */
    const char *method;    /** :method, once started */
    size_t method_len;
    const char *path; /** :path, or NULL (once started) */
    size_t path_len;
    size_t header_bytes;   /** RFC 9113 6.5.2 size of the fields so far */
    const char *authority; /** :authority, or NULL (once started) */
    size_t authority_len;
    struct gw_buf cookies; /** cookie fields, joined with "; " */
    const char *protocol;  /** :protocol, or NULL (once started) */
    size_t protocol_len;
    const char *scheme; /** :scheme, or NULL (once started) */
    size_t scheme_len;
    uint8_t ext_connect; /** enum gw_h2_ext_connect */
    bool tunnel;         /** DATA is tunnel bytes (extended CONNECT): no body framing */
    bool has_cl;         /** the request has a content-length */
    bool bad;            /** a field this file refuses (the stream is reset) */
    bool ready;          /** the head is complete: the owner has (or will get) it */
    bool body_end;       /** the client ended the stream: the body is complete */
    /* The request's bytes as the client sent them: the payloads of its HEADERS and CONTINUATION
     * frames (the compressed header block, trailers too, with any padding and priority fields)
     * and of its DATA frames (padding included); not the 9-byte frame headers. */
    uint64_t bytes_in;
    /* request body, framed (see above) */
    char *body;
    size_t body_off, body_len, body_cap;
    size_t chunk_at; /** where the open chunk's payload starts (chunked), or 0 */
    bool chunk_open;
    bool body_held;    /** the owner refers into body[body_off..): do not move it */
    size_t uncredited; /** payload received and not yet given back as window */
    bool released;     /** the owner let go (its request ended): body bytes are dropped */
    bool cut;          /** reset with NO_ERROR right after the response (gw_h2_stream_cut) */
    bool end_sent;     /** our END_STREAM went out: the response is complete */
    bool linger;       /** answered and released, body still coming: reset after the linger */
    bool stopped;      /** RST_STREAM NO_ERROR submitted: the rest of the body is not wanted */
    /* response */
    struct gw_buf out; /** payload not yet taken by nghttp2 */
    size_t out_off;
    bool out_chunked; /** gw_h2_stream_write gets chunked bytes */
    struct gw_chunked_decoder dec;
    bool responded;         /** the head was submitted */
    bool out_eof;           /** the payload is complete */
    bool deferred;          /** nghttp2 waits for payload (resume it) */
    bool want_sent;         /** a write reported pending: run `sent` once out drains */
    struct gw_buf trailers; /** trailer lines sent after the payload (gw_h2_stream_trailers) */
    /* news for the owner (set inside nghttp2's callbacks, delivered after) */
    bool ev_ready, ev_body, ev_sent, ev_closed;
    bool closed;          /** nghttp2 closed the stream */
    uint32_t close_error; /** its error code (0: NO_ERROR) */
    /* per-stream timeouts (gw_h2_session_expire). The request path only raises the flags; the
     * sweep stamps the times (ms of gw_h2_clock_ms) when it first sees a wait or progress. */
    bool body_wait;        /** the owner waits for body bytes (gw_h2_stream_body_wait) */
    bool send_wait;        /** payload waits for the client's window */
    uint64_t body_since;   /** the sweep first saw the body wait; 0: not yet */
    uint64_t send_since;   /** the sweep first saw the payload stand still; 0: not yet */
    uint64_t taken;        /** payload bytes nghttp2 took, ever */
    uint64_t taken_seen;   /** taken at the last sweep */
    uint64_t linger_since; /** the sweep first saw the linger; 0: not yet */
    /* the owner's own: the session never reads them */
    bool owner_tunnel; /** owner_data is the owner's tunnel, not a request */
    char pseudo_local[128];
};

struct gw_h2_handler {
    /* A stream's request head is complete (s->head); s->body_end tells whether a body
     * follows. The owner sets s->owner_data; a negative return resets the stream. */
    int (*request)(void *owner, struct gw_h2_stream *s);
    /* Body bytes arrived for a stream, or its end (s->body_end). */
    void (*body)(void *owner, struct gw_h2_stream *s);
    /* A write that reported pending drained. */
    void (*sent)(void *owner, struct gw_h2_stream *s);
    /* The stream is closed (reset by either side, or done): the owner lets go of it;
     * the session frees it after this returns. error: the RST_STREAM code (0: a clean end). */
    void (*closed)(void *owner, struct gw_h2_stream *s, uint32_t error);
    /* Counted by the owner (metrics). */
    void (*event)(void *owner, enum gw_h2_event ev);
    /* A per-stream timeout expired (gw_h2_session_expire) for a stream with owner_data. */
    void (*timeout)(void *owner, struct gw_h2_stream *s, enum gw_h2_timeout which);
};

/* A server session with our SETTINGS queued. NULL when out of memory. */
struct gw_h2_session *gw_h2_session_new(const struct gw_h2_limits *lim,
                                        const struct gw_h2_handler *h, void *owner);

/* Streams of s come from and go back to spares (a cache of the worker's, which outlives s; one
 * thread): a freed stream keeps its small request-head and payload buffers there, so that a
 * busy connection's next stream allocates nothing. Without it, malloc and free. Call before
 * the first input. */
struct gw_bufcache;
void gw_h2_session_use_spares(struct gw_h2_session *s, struct gw_bufcache *spares);

/* Frees the streams kept in spares and empties it (the worker's end). */
void gw_h2_spares_clear(struct gw_bufcache *spares);

/* Frees the session and every stream left (no callbacks); NULL-safe. */
void gw_h2_session_free(struct gw_h2_session *s);

/* Feeds n bytes from the client (after TLS), then runs the owner's callbacks for what they
 * brought. 0, or a negative code when the connection must close (a connection error: the
 * GOAWAY is queued, send it before closing). */
int gw_h2_session_input(struct gw_h2_session *s, const char *p, size_t n);

/* Appends the frames ready to go to `out` (up to about max bytes), then runs the owner's
 * callbacks for streams that drained. 0 or a negative code (the connection must close). */
int gw_h2_session_output(struct gw_h2_session *s, struct gw_buf *out, size_t max);

/* Whether the session has more to send or wants more input; false: close the connection
 * (GOAWAY sent and answered, or both sides done). */
bool gw_h2_session_alive(const struct gw_h2_session *s);

/* Whether any stream is open. */
bool gw_h2_session_busy(const struct gw_h2_session *s);

/* The clock of the per-stream timeouts: monotonic milliseconds. */
uint64_t gw_h2_clock_ms(void);

/* Whether some stream may have a timeout running (then call gw_h2_session_expire until it is
 * false again). */
bool gw_h2_session_waiting(const struct gw_h2_session *s);

/* Per-stream timeouts at `now` (gw_h2_clock_ms): a stream whose owner waited for body bytes for
 * body_ms, or whose payload waited for the client's window for send_ms (0: no such bound), gets
 * the owner's `timeout` (once per wait). A stream whose owner let go (its request ended, the
 * stream still sends what it holds) and whose payload waits past send_ms is reset (CANCEL): a
 * client that stops reading one stream ties up nothing. An answered stream that lingered
 * GW_H2_LINGER_MS with its request body unfinished is reset (NO_ERROR). Tunnel streams
 * (s->tunnel) have their owner's own body and send bounds. Runs callbacks; call it from the
 * loop, outside any other callback. */
void gw_h2_session_expire(struct gw_h2_session *s, uint64_t now, uint64_t body_ms,
                          uint64_t send_ms);

/* Queues GOAWAY (graceful: NO_ERROR, streams in flight finish). */
void gw_h2_session_goaway(struct gw_h2_session *s);

/* Submits the response head: status and header lines (each ending in CRLF; connection-specific
 * fields dropped, names lowercased). has_body false ends the stream with the head; else the
 * payload follows (gw_h2_stream_write; chunked: the bytes written are chunked framing).
 * 0 or a negative code. */
int gw_h2_stream_respond(struct gw_h2_stream *s, int status, const char *lines, size_t len,
                         bool has_body, bool chunked);

/* Queues payload bytes (copied; de-chunked when the stream's body is chunked). 1: taken, write
 * more; 0: taken, but the stream holds GW_H2_OUT_HIGH or more: `sent` runs when it drained;
 * negative: a code (the framing was bad, or out of memory). */
int gw_h2_stream_write(struct gw_h2_stream *s, const char *p, size_t n);

/* Trailer fields ("name: value" lines, each ending in CRLF; copied) to send after the payload:
 * the stream then ends with their HEADERS frame. Before gw_h2_stream_end; a response submitted
 * without a body sends none. 0 or GW_ENOMEM. */
int gw_h2_stream_trailers(struct gw_h2_stream *st, const char *lines, size_t len);

/* The payload is complete. */
void gw_h2_stream_end(struct gw_h2_stream *s);

/* Resets the stream (RST_STREAM with code). */
void gw_h2_stream_reset(struct gw_h2_stream *s, uint32_t code);

/* The request body bytes not yet consumed, with their framing: how many, *p their start.
 * A chunked body's open chunk is closed first, so the bytes are a whole number of chunks. */
size_t gw_h2_stream_body_peek(struct gw_h2_stream *s, const char **p);

/* n bytes of the body were forwarded: the client may send as many more. */
void gw_h2_stream_body_consume(struct gw_h2_stream *s, size_t n);

/* The owner's request ended (answered, or aborted): the stream finishes sending what it holds,
 * and request body bytes still to come are dropped, their window given back at once. Once the
 * response's END_STREAM is out (now or later) while the client has not ended its body, the
 * stream lingers GW_H2_LINGER_MS, then is reset with NO_ERROR (RFC 9113 8.1), so that the client
 * stops sending. */
void gw_h2_stream_release(struct gw_h2_stream *st);

/* The owner waits for more request body bytes: the body timeout of gw_h2_session_expire runs
 * from now until bytes arrive (the owner's `body` callback) or the body ended. */
void gw_h2_stream_body_wait(struct gw_h2_stream *s);

/* The rest of the request body is not wanted (a body timeout): once the response went out with
 * END_STREAM, the stream is reset with NO_ERROR at once if the client has not ended it (RFC 9113
 * 8.1), without the linger: the client stalled. Before gw_h2_stream_release. */
void gw_h2_stream_cut(struct gw_h2_stream *s);

/* The owner refers into the peeked bytes (a write in flight): they must not move. */
void gw_h2_stream_body_hold(struct gw_h2_stream *s, bool hold);

#endif
