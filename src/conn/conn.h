/*
 * A client connection and the request it is serving.
 *
 * One request is served at a time; pipelined requests wait, unread or unparsed, in the
 * input buffer, so responses leave in request order. Reading from the client stops while
 * a request body chunk is being written upstream, and reading from the upstream stops while
 * a response chunk is being written to the client: at most one buffer per direction is in
 * flight, which is the backpressure (and the memory bound) in both directions.
 */
#ifndef GW_CONN_CONN_H
#define GW_CONN_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "balance/balancer.h"
#include "core/buf.h"
#include "core/list.h"
#include "http1/chunked.h"
#include "http1/parser.h"
#include "state/ratelimit.h"
#include "state/token_cache.h"

struct gw_worker;
struct gw_snapshot;
struct gw_service;
struct gw_target;
struct gw_upconn;
struct gw_rl_limit;
struct gw_rl_redis_op;

enum gw_out_framing {
    GW_OUT_NONE = 0, /* no body */
    GW_OUT_LENGTH,   /* Content-Length, bytes forwarded as they come */
    GW_OUT_CHUNKED,  /* re-encoded as chunks */
    GW_OUT_CLOSE,    /* close-delimited (HTTP/1.0 client, unknown length) */
};

struct gw_request {
    struct gw_conn *conn;
    struct gw_snapshot *snap;
    struct gw_http1_parser parser;
    struct gw_http1_message msg;
    uint64_t t_start;    /** uv_hrtime() when the first byte of the head arrived */
    uint64_t t_upstream; /** when the upstream exchange started (0: never) */
    uint64_t t_upstream_done;
    const struct gw_service *svc;
    const struct gw_target *target;
    unsigned tries;      /** targets tried so far */
    unsigned retries;    /** retries by the retry policy (status, reset, timeout) */
    bool breaker_taken;  /** the service's breaker let this request through */
    bool breaker_probe;  /** ... as a half-open probe */
    bool tbreaker_taken; /** the target's breaker let the current try through */
    bool tbreaker_probe;
    int target_index;  /** in the service's balancer */
    bool try_acquired; /** the balancer counts this try as in flight */
    bool try_ok;       /** the try ended with a complete response below 500 */
    bool try_ignore;   /** the try ended for the client's reasons: not the target's fault */
    uint64_t t_try;    /** uv_hrtime() when the current try started */
    uint64_t tried[GW_BALANCE_EXCLUDE_WORDS]; /** targets this request already tried */
    char hash_key[128]; /** balancer key (IP, header or cookie value), copied at dispatch */
    size_t hash_key_len;
    char sticky_cookie[GW_BALANCE_STICKY_LEN + 1]; /** client's sticky value, or "" */
    char sticky_set[GW_BALANCE_STICKY_LEN + 1];    /** value to send in Set-Cookie, or "" */
    char id[129];
    char method[24];
    char path[256];        /** for the access log (truncated) */
    const char *authority; /** absolute-form target's authority (valid until head_built) */
    size_t authority_len;
    char *upath; /** path (+ query) sent upstream */
    size_t upath_len;
    /* policies (policy/policy.h): they see the normalised path the router saw */
    char *npath; /** the normalised path (owned until the upstream path replaces it) */
    size_t npath_len;
    const char *query; /** "?..." in the input buffer (valid until head_built), or NULL */
    size_t query_len;
    size_t prefix_len;    /** of the matched service prefix */
    uint8_t policy_stage; /** next policy to run */
    bool suspended;       /** a policy waits for async work */
    bool authenticated;
    struct gw_identity identity; /** who the request is from (when authenticated) */
    char client_ip[48];          /** client address after trusted_proxies */
    uint16_t rl_next;            /** next limit to decide */
    bool rl_consumer_pass;       /** rl_next counts through the consumer-keyed limits */
    bool rl_has;                 /** rl_best holds the decision the headers report */
    struct gw_rl_decision rl_best;
    const struct gw_rl_limit *rl_pending; /** limit whose Redis decision is awaited */
    struct gw_rl_redis_op *rl_op;
    void *auth_op;            /** introspection in flight (policy/auth.c) */
    struct gw_list jwks_link; /** in the worker's JWKS waiters while waiting for a refresh */
    uint64_t jwks_wait_since; /** uv_now when it started waiting (0: not waiting) */
    bool jwks_retried;        /** already waited once: an unknown kid now is final */
    char rl_headers[256];     /** RateLimit-* headers for the response ("" when none) */

    struct gw_upconn *up;
    bool dispatched; /** the head is complete and being served */
    bool head_built;
    bool head_sent; /** the upstream request head went out */
    /* request body, client -> upstream */
    uint64_t body_left; /** GW_BODY_LENGTH: bytes still to forward */
    uint64_t body_in;   /** payload bytes received */
    struct gw_chunked_decoder req_dec;
    bool body_done; /** the whole body was read from the client (maybe not yet sent) */
    bool body_sent; /** ... and its last byte was written upstream */
    bool body_writing;
    size_t body_consumed; /** client bytes the pending write covers */
    /* response, upstream -> client */
    struct gw_http1_parser rparser;
    struct gw_http1_message rmsg;
    int status;
    bool resp_head_done; /** the upstream response head was parsed */
    bool resp_started;   /** bytes went to the client */
    bool resp_done;      /** the whole response was read from the upstream */
    bool resp_writing;
    size_t resp_consumed; /** upstream bytes the pending client write covers */
    enum gw_out_framing out;
    uint64_t resp_left;
    struct gw_chunked_decoder resp_dec;
    uint64_t bytes_in;  /** from the client: head + body */
    uint64_t bytes_out; /** to the client */
    bool keep_alive;    /** the client connection survives this request */
    bool upstream_reusable;
    struct gw_buf head;   /** the upstream request head */
    struct gw_buf rhead;  /** the client response head */
    char scratch[16][20]; /** chunk-size lines of one write */
    uint32_t headers_capacity;
    struct gw_http1_header headers[]; /** request headers, then response headers */
};

struct gw_conn {
    uv_tcp_t tcp;
    uv_timer_t timer; /** client timeouts: header, idle, body */
    struct gw_worker *w;
    struct gw_list link;
    char *in; /** input buffer; NULL while idle with nothing buffered */
    size_t in_len;
    size_t in_off; /** first byte not consumed */
    size_t in_cap;
    struct gw_request *req;
    struct gw_buf out; /** a response gantry generates itself */
    unsigned open_handles;
    uint8_t timer_kind; /** what c->timer currently measures */
    bool reading;
    bool closing;
    bool writing; /** a client write is pending */
    bool close_after_write;
    bool lingering;     /** closing: write side shut, discarding input briefly */
    bool peer_eof;      /** the client shut its side after a complete request */
    bool processing;    /** inside gw_conn_process */
    bool process_again; /** a request finished inline meanwhile: loop, do not recurse */
    uint64_t requests;
    char peer[48];
};

/* Accepts a connection on the worker's listener. */
void gw_conn_accept(struct gw_worker *w);

/* Serves an already accepted socket (the drain's accept-queue sweep). */
void gw_conn_adopt(struct gw_worker *w, int fd);

/* Closes the client connection (and aborts its request); safe to call twice. */
void gw_conn_close(struct gw_conn *c);

/* Starts or stops reading from the client. */
void gw_conn_read_start(struct gw_conn *c);
void gw_conn_read_stop(struct gw_conn *c);

/* Sends a response gantry generated (error, probe): JSON body {"error","status",
 * "request_id"} for an error code. Closes afterwards when close_after is set or the
 * request cannot continue. Used before any byte of an upstream response went out. */
void gw_conn_respond_error(struct gw_conn *c, int err, bool close_after);
void gw_conn_respond(struct gw_conn *c, int status, const char *extra_headers, const char *body,
                     size_t body_len, bool close_after);

/* The request finished (response fully written): log it, then serve the next one or
 * close. */
void gw_conn_request_done(struct gw_conn *c);

/* Processes buffered input: parse the next head, dispatch it. */
void gw_conn_process(struct gw_conn *c);

/* Writes bufs to the client: inline when the socket takes it all, else with a write
 * request whose completion calls cb. Returns 1 if written inline, 0 if pending, <0 error.
 * The write request is allocated only when a write has to wait (an idle connection carries
 * none); cb receives it with data = the connection and must free it. */
int gw_conn_write(struct gw_conn *c, uv_buf_t *bufs, unsigned nbufs, uv_write_cb cb);

/* Dispatch of a complete request head (conn/request.c). */
void gw_request_dispatch(struct gw_conn *c, struct gw_request *r);
/* The policies let the request through: strip the prefix and hand it to the proxy. */
void gw_request_forward(struct gw_request *r);
void gw_request_free(struct gw_request *r);

/* Access log line for a finished request (conn/access_log.c). */
void gw_access_log(struct gw_conn *c, struct gw_request *r);

/* upstream/proxy.c */
void gw_proxy_start(struct gw_request *r);
/* More client bytes arrived (or the buffer drained) while a body is being forwarded. */
void gw_proxy_client_input(struct gw_request *r);
/* Bytes (nread > 0, already appended to the connection's buffer) or an error / EOF from
 * the request's upstream connection. */
void gw_proxy_upstream_input(struct gw_request *r, ssize_t nread);
/* The retry backoff the proxy asked for (gw__conn_backoff_timer) has passed. */
void gw_proxy_retry_now(struct gw_request *r);
/* The client went away or failed: drop the upstream side. */
void gw_proxy_abort(struct gw_request *r);

#endif
