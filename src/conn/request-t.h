/*
 * The request: types only (HAProxy's -t.h convention), so that every room on the request's
 * path — policy stages, the proxy, the balancer glue — can read it without depending on the
 * connection code that owns it.
 *
 * Who owns what (docs/internals.md "Request lifecycle"):
 *   - the downstream (conn/conn.c for HTTP/1; later an HTTP/2 stream) creates the request,
 *     parses its head, and is the only code that touches the client socket. Everything else
 *     reaches the client through r->ds (struct gw_downstream_ops);
 *   - the policy stages (policy/chain.c and one file per stage) own r->slot[i], their state;
 *   - the proxy (upstream/proxy.c) owns the upstream half (r->up and the response fields).
 * All of it lives on one worker thread.
 */
#ifndef GW_CONN_REQUEST_T_H
#define GW_CONN_REQUEST_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <uv.h>

#include "balance/balancer.h" /* GW_BALANCE_EXCLUDE_WORDS, GW_BALANCE_STICKY_LEN */
#include "core/buf.h"
#include "http1/chunked.h"
#include "http1/parser.h"
#include "policy/identity-t.h"

struct gw_tls_stream;
struct gw_request;
struct gw_worker;
struct gw_snapshot;
struct gw_service;
struct gw_target;
struct gw_upconn;
struct gw_metrics_area;
struct gw_metrics_scrape;
struct gw_idp_serve;
struct gw_answer_filter;
struct gw_hub_publish_serve;
struct gw_tunnel_info;
struct gw_trace;

/*
 * An answer gantry gives itself: an error code (its status and message come from the error
 * table, core/error.h) and what the answer adds. conn/respond.c turns it into the one JSON
 * body shape: {"error": "<message>[ for service <service>]", "status": N, "request_id": "...",
 * ["reason": "..."], [extra members], ["retry_after": N]}. An answer that is not an error (a
 * CORS preflight's 204) has err 0, its status, and empty set: status and header lines, no body.
 */
struct gw_answer {
    int err;             /** GW_E* code */
    int status;          /** HTTP status when not the error table's (0: the table's) */
    const char *service; /** appended to the message: " for service <name>" (escaped), or NULL */
    const char *reason;  /** "reason" member (escaped), or NULL */
    /** More members, as JSON text the producer vouches for ("\"errors\":[...]", several
     * separated by commas, no leading comma), or NULL. Included whole or not at all: text that
     * would not fit the answer's body (conn/internal.h) is left out. */
    const char *extra;
    uint64_t retry_after; /** seconds: Retry-After header and "retry_after" member; 0: none */
    const char *headers;  /** extra header lines, each ending in CRLF, or NULL */
    bool close;           /** close the connection after the answer */
    bool empty;           /** no body (no JSON, no Content-Type); status must be set */
    /** A stored response sent as it is (the response cache's answers): its header lines
     * (each ending in CRLF, without Content-Length, Transfer-Encoding or Connection) and its
     * body[0..body_len) (not sent to a HEAD). No JSON body and no Content-Type of gantry's;
     * status must be set; headers and the message members are ignored. NULL: gantry's own. */
    const char *raw_headers;
    const char *body;
    size_t body_len;
};

/*
 * How a request talks to its client. One table per protocol (HTTP/1 today); the router,
 * policy stages and upstream code never see the protocol. Every function is called on the
 * request's worker thread.
 */
struct gw_downstream_ops {
    /* Gantry's own answer (an error, a probe, a preflight): one place builds them all
     * (conn/respond.c). Used only before any byte of an upstream response went out. The
     * request is finished (or the connection closed) by the time it returns or later: the
     * caller must not touch r afterwards. */
    void (*respond)(struct gw_request *r, const struct gw_answer *a);
    /* Response bytes (the head in r->rhead first, then body bytes already framed for the
     * client, see r->out). Returns 1 when written inline, 0 when the write is pending (the
     * downstream then calls gw_proxy_sent(r, status) when it completes; the buffers must stay
     * valid until then), or a negative code. */
    int (*send)(struct gw_request *r, uv_buf_t *bufs, unsigned n);
    /* The response is complete: log it, then serve the next request or close. r is freed. */
    void (*finish)(struct gw_request *r);
    /* The exchange failed after the client may have seen bytes: drop the client so a
     * truncated body can never look complete. r is freed. */
    void (*abort)(struct gw_request *r);
    /* The request body bytes received and not yet consumed: returns how many, *p their start.
     * They stay put until consumed. */
    size_t (*body_peek)(struct gw_request *r, const char **p);
    /* n bytes of the body (with their framing) were forwarded and can go. */
    void (*body_consume)(struct gw_request *r, size_t n);
    /* More body bytes are needed: read, with the body timeout running. A negative code when
     * the client can no longer send them (it shut its side): the caller then aborts. */
    int (*body_want)(struct gw_request *r);
    /* A write refers into the body bytes: read no more until it completes. */
    void (*body_hold)(struct gw_request *r);
    /* Answers "Expect: 100-continue" (RFC 9110 10.1.1). 0, or a negative code when the
     * stream is no longer sane (the caller aborts). */
    int (*send_continue)(struct gw_request *r);
    /* Calls gw_proxy_retry_now(r) after ms (the retry backoff). */
    void (*defer)(struct gw_request *r, uint64_t ms);
    /* The protocol switches (the 101 went out): *s is the client's socket, for the caller to
     * duplicate (upstream/tunnel.h), and *rest the client's bytes read past the request
     * (plaintext), valid until the request ends. Over TLS, *tls is the connection's session,
     * now the caller's (it may still hold input: gw_tls_stream_has_input), else NULL. The
     * request must then end with finish (or abort): the downstream closes its own handle
     * without shutting the socket down. 0, or a negative code when the downstream cannot hand
     * over (then abort). */
    int (*detach)(struct gw_request *r, uv_stream_t **s, const char **rest, size_t *rest_len,
                  struct gw_tls_stream **tls);
    /* After a 101 went out (r->upgraded) to a downstream that cannot hand over a socket (an
     * HTTP/2 stream: RFC 8441): the downstream joins the upstream connection `up` (it takes a
     * duplicate of the socket; the caller closes its own) to its client side, with to_client[0..n)
     * the upstream's bytes past the 101 (plaintext), and info->upstream_tls an https://
     * target's session (the downstream's in every case: freed even on failure); then the
     * caller ends the request with `finish`. 0, or a negative code (nothing else taken:
     * abort). NULL: the proxy uses `detach`. */
    int (*tunnel)(struct gw_request *r, uv_stream_t *up, const char *to_client, size_t n,
                  const struct gw_tunnel_info *info);
    /* Starts a background copy of r, a GET or HEAD without a body, from a stage's on_request
     * (the response cache's stale-while-revalidate refresh): a request of its own with a copy
     * of r's head as the chain has made it so far, its path, query, service, identity and
     * client address, marked `background`, that resumes the chain at r->stage (the calling
     * stage runs again for it) on the next loop iteration and goes upstream like any other;
     * its response is read and dropped, it writes no access-log line, and a stopping worker
     * waits for it (a forced stop ends it). r itself is not touched. 0, or a negative code
     * (nothing started). NULL for a downstream that cannot (a background request itself). */
    int (*background)(struct gw_request *r);
    /* The response's trailer fields ("name: value\r\n" lines, copied), from an HTTP/2
     * upstream (upstream/h2_upstream.c), before the last body bytes go through `send`: sent
     * after the payload when the client speaks HTTP/2 (gRPC's grpc-status lives there). NULL
     * for a downstream that drops them (HTTP/1.1: the chunked trailer section is not sent). */
    void (*trailers)(struct gw_request *r, const char *lines, size_t len);
};

/*
 * A body filter: how a stage takes a whole body, request or response, up to a cap (a JSON body
 * to transform or validate; later a response to cache). The stage installs one in its own
 * state: r->req_filter in on_request, r->resp_filter in on_response_head. The proxy then
 * collects the body's payload (de-chunked) in `body` instead of relaying it, and holds the
 * head back; when the whole body is in, it calls done, which may rewrite `body`, and sends the
 * head with a Content-Length and the body. A body larger than max (a chunked or
 * close-delimited one: a stage does not install a filter for a Content-Length above max) is
 * sent on untouched as soon as that is known (head, what was collected, then the rest as it
 * streams): at most max plus one read buffer is ever held. The stage frees `body` in its
 * cancel. No filter installed costs the proxy one pointer test where a body starts.
 * (A body that must flow, such as a compressed one, uses struct gw_stream_filter instead.)
 */
struct gw_body_filter {
    size_t max;         /** largest body taken whole */
    struct gw_buf body; /** the payload so far (the proxy sets its cap on first use) */
    size_t head_mark;   /** where the head's framing goes (the proxy's) */
    /** A body larger than max is refused (413, GW_EBODYTOOLARGE) instead of sent on untouched:
     * for a stage that must see every body it applies to (validation). */
    bool refuse_larger;
    /** The whole body is in `body`: may replace its contents. 0, or a negative code that
     * ends the exchange with that error (nothing was sent to the client yet); a filled in
     * (gw_answer_init'ed with 0 by the proxy) then describes the answer: a reason, extra
     * members, a status of its own (a.err 0 takes the returned code). Strings it points to
     * must live until the request is freed (the stage's state). */
    int (*done)(struct gw_request *r, struct gw_body_filter *f, struct gw_answer *a);
};

/*
 * A streaming body filter: how a stage rewrites a response body as it flows (compression). The
 * stage installs one in its own state, r->resp_stream, in on_response_head. The client's body is
 * then framed as chunks (close-delimited for an HTTP/1.0 client) whatever the upstream's framing,
 * and for each upstream read the proxy hands the payload bytes it brought (de-chunked) to piece,
 * in order, then sends what piece appended to `out` as one chunk. The last piece of a read has
 * GW_STREAM_FLUSH (everything so far must be in out: latency does not grow with the filter), the
 * last of the body GW_STREAM_END (it may have no bytes: the filter writes its trailer). The proxy
 * empties `out` before each read's first piece (the previous write is complete by then), so
 * `out` holds at most one read's worth. With a whole-body filter also installed (resp_filter),
 * the collected body goes through this one when it is done. The stage frees `out` in its
 * cancel. No filter installed costs the proxy one pointer test per upstream read.
 */
enum gw_stream_mode {
    GW_STREAM_MORE = 0, /* more of this read follows */
    GW_STREAM_FLUSH,    /* the read's last piece: flush */
    GW_STREAM_END,      /* the body's last piece: finish */
};

struct gw_stream_filter {
    struct gw_buf out; /** the filtered bytes of the current read (the stage's) */
    /** Filters in[0..len), appending to out. 0, or a negative code that ends the exchange
     * (a 502 before the first byte went out, a dropped connection after). */
    int (*piece)(struct gw_request *r, struct gw_stream_filter *f, const char *in, size_t len,
                 enum gw_stream_mode mode);
};

/*
 * A body tee: how a stage sees a response body as it flows to the client, unchanged (the
 * response cache stores it). Installed in the stage's state, r->resp_tee, in on_response_head.
 * The proxy hands each upstream read's payload (de-chunked; with a streaming filter, the
 * filter's output: what the client gets, encoded) to piece, in order, and calls end
 * once the whole body arrived; a body that does not arrive whole (reset, timeout, client gone)
 * never sees end. Output framing is not changed. No tee installed costs the proxy one pointer
 * test per upstream read.
 */
struct gw_body_tee {
    void (*piece)(struct gw_request *r, struct gw_body_tee *t, const char *data, size_t len);
    void (*end)(struct gw_request *r, struct gw_body_tee *t);
};

enum gw_out_framing {
    GW_OUT_NONE = 0, /* no body */
    GW_OUT_LENGTH,   /* Content-Length, bytes forwarded as they come */
    GW_OUT_CHUNKED,  /* re-encoded as chunks */
    GW_OUT_CLOSE,    /* close-delimited (HTTP/1.0 client, unknown length) */
};

/* The rate-limit stages' verdict on a request (access log "rate_limit", traces). */
enum gw_rl_outcome {
    GW_RL_OUTCOME_NONE = 0, /* no limit applied */
    GW_RL_OUTCOME_ALLOWED,  /* every limit that applied let it through */
    GW_RL_OUTCOME_LIMITED,  /* a limit refused it (429) */
    GW_RL_OUTCOME_FALLBACK, /* Redis could not decide; the failure policy let it through */
    GW_RL_OUTCOME_FAILED,   /* Redis could not decide; fail_closed refused it (503) */
};

/* How many policy stages can keep state in a request: a slot per row of policy/chain.c's table
 * (it checks), with room for the rows still to come. */
#define GW_REQUEST_SLOTS 13

/* Most state one stage may keep per request (each stage file asserts its own fits). */
#define GW_STAGE_STATE_MAX 512

/* Stage state lives in the request itself (no allocation per request): room for every slot at
 * its maximum, so gw_stage_alloc cannot fail for a stage within GW_STAGE_STATE_MAX. Not zeroed
 * with the request: policy/chain.c hands it out zeroed piece by piece. */
#define GW_REQUEST_ARENA (GW_REQUEST_SLOTS * GW_STAGE_STATE_MAX)
#define GW_REQUEST_PATH_INLINE 256

struct gw_request {
    const struct gw_downstream_ops *ds; /** the client side (see above) */
    void *downstream;                   /** the downstream's own object (HTTP/1: its gw_conn) */
    struct gw_worker *w;                /** the worker thread serving it */
    struct gw_snapshot *snap;           /** the config it started with (a reference) */
    const char *peer;                   /** the peer's address as text ("" when unknown) */
    /** the request came over TLS (set by the downstream: an HTTP/1 connection of the HTTPS
     * listener): Strict-Transport-Security and X-Forwarded-Proto: https follow it */
    bool secure;
    /** a gRPC call (an HTTP/2 request with content-type application/grpc*): gantry's own
     * answers are gRPC statuses (conn/respond.c), and it needs an HTTP/2 upstream */
    bool grpc;
    /** 1 + the word (metrics/metrics.h GW_MX_GRPC_*) of the grpc-status the client got: from
     * the target's trailers or Trailers-Only head (upstream/h2_upstream.c), or gantry's own
     * answer (conn/h2_conn.c); 0 while none. Counted by conn/request_metrics.c. */
    uint8_t grpc_status;
    /** the verified client certificate's subject and subject alternative names (mTLS,
     * "tls.client_auth"), owned by the downstream and valid for the request's life; NULL when
     * none */
    const char *client_subject;
    const char *client_san;
    /** the TLS session that verified that certificate (tls/stream.h, the downstream's), for a
     * service's own CA check (tls/peer_ca.h); NULL when client_subject is */
    const struct gw_tls_stream *client_tls;
    struct gw_http1_parser parser;
    struct gw_http1_message msg;
    uint64_t t_start;    /** uv_hrtime() when the first byte of the head arrived */
    uint64_t t_upstream; /** when the upstream exchange started (0: never) */
    uint64_t t_upstream_done;
    const struct gw_service *svc;
    /** the API version a version rule of svc admitted the request by (policy/version.c), for
     * the cache key; NULL when no rule applied (a versioned service has svc->conf->version) */
    const char *api_version;
    size_t api_version_len;
    struct gw_metrics_area *mx; /** the worker's area of r->snap's metric set; NULL: metrics off */
    uint64_t t_stage;           /** when the running policy stage started (0: none running) */
    uint32_t prefix_index;      /** which of svc's prefixes matched (the "route" label) */
    uint32_t consumer;          /** for metrics: 0 none, i + 1 configured consumer i,
                                 * UINT32_MAX an identity without a configured consumer */
    bool ttfb_done;             /** the current try's first response byte was timed */
    struct gw_metrics_scrape *scrape; /** metrics asked for on the proxy port, in flight */
    uint8_t scrape_format;            /** its format (GW_OBSERVE_*) */
    struct gw_idp_serve *idp; /** a built-in identity endpoint's call (conn/identity_serve.c) */
    struct gw_hub_publish_serve *hubpub; /** a publish on hub.publish_path (conn/hub_publish.c) */
    const struct gw_target *target;
    unsigned tries;      /** targets tried so far */
    unsigned retries;    /** retries by the retry policy (connect failed, reset, timeout, status) */
    bool connect_retry;  /** a failed connect's retry looks for its target (none left: 502) */
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
    bool id_made; /** gantry made id (no valid X-Request-ID came); tracing may replace it */
    char method[24];
    char path[256];        /** for the access log (truncated) */
    const char *authority; /** absolute-form target's authority (valid until head_built) */
    size_t authority_len;
    char *upath; /** path (+ query) sent upstream */
    size_t upath_len;
    /* what the router and the policies see */
    char *npath; /** the normalised path (owned until the upstream path replaces it) */
    size_t npath_len;
    const char *query; /** "?..." in the input buffer (valid until head_built), or NULL */
    size_t query_len;
    size_t prefix_len;      /** of the matched service prefix */
    char client_ip[48];     /** client address after trusted_proxies ("" until resolved) */
    struct gw_trace *trace; /** the request's spans while tracing is on (trace/trace.h), or NULL */
    uint8_t rl_outcome;     /** enum gw_rl_outcome, written by the rate-limit stages */
    bool authenticated;
    /** a background copy (gw_downstream_ops.background): no client waits for its answer */
    bool background;
    struct gw_identity identity; /** who the request is from (when authenticated) */

    /* the policy chain (policy/chain.c) */
    void (*pass)(struct gw_request *r); /** where the chain hands the request when all pass */
    uint8_t stage;  /** next stage to run; the table's length once let through */
    bool suspended; /** a stage waits for async work */
    bool passed;    /** every stage let it through: the proxy owns the body now */
    struct gw_body_filter *req_filter; /** a stage takes the request body whole, or NULL */
    /** header lines ("Name: value\r\n"...) a stage adds to the upstream request as they are,
     * after the client's fields (constant transformations), or NULL; they live as long as the
     * request's snapshot */
    const char *fwd_lines;
    size_t fwd_lines_len;
    struct gw_body_filter *resp_filter;   /** a stage takes the response body whole, or NULL */
    struct gw_stream_filter *resp_stream; /** a stage rewrites the response body, or NULL */
    struct gw_body_tee *resp_tee;         /** a stage sees the response body, or NULL */
    /** An answer a stage offers in place of an upstream failure (unreachable, reset, invalid,
     * timed out, no target, circuit open) given before any response byte: the response
     * cache's stale response (stale-if-error). Its strings live in the stage's state. */
    struct gw_answer *fallback;
    bool fallback_used;           /** the proxy answered with the fallback */
    void *slot[GW_REQUEST_SLOTS]; /** per-stage state (policy/chain.h gw_stage_slot) */
    size_t arena_used;

    struct gw_upconn *up;
    bool dispatched; /** the head is complete and being served */
    /** the protocol switch the request asks for and the service allows (enum gw_upgrade of
     * http1/upgrade.h, validated at dispatch): forwarded with its Upgrade; 0 none */
    uint8_t upgrade;
    bool upgraded; /** the upstream answered 101: the exchange ends in a tunnel */
    /** an HTTP/2 extended CONNECT (RFC 8441; enum gw_h2_ext_connect of h2/session.h): its head
     * is the HTTP/1.1 handshake the session made of it; 0 for every other request */
    uint8_t ext_connect;
    bool head_built;
    bool head_sent; /** the upstream request head went out */
    /** where the target's token line is in head, and its length (0: none; rewrite.c) */
    uint32_t secret_off;
    uint32_t secret_len;
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
    /** what the answer hooks' prepare step found in rmsg (policy/answer.h; 0: it did not run) */
    uint32_t answer_prepared;
    /** the upstream fields the answer hooks look for while rmsg is copied, or NULL; and the
     * lines they add when it has none of them, or NULL (policy/answer.h, prepare step) */
    const struct gw_answer_filter *answer_filter;
    const char *answer_block;
    size_t answer_block_len;
    bool resp_started; /** bytes went to the client */
    bool resp_done;    /** the whole response was read from the upstream */
    bool resp_writing;
    size_t resp_consumed; /** upstream bytes the pending client write covers */
    enum gw_out_framing out;
    uint64_t resp_left;
    struct gw_chunked_decoder resp_dec;
    uint64_t bytes_in;  /** from the client: head + body */
    uint64_t bytes_out; /** to the client */
    bool keep_alive;    /** the client connection survives this request */
    bool upstream_reusable;
    struct gw_buf head;                                 /** the upstream request head */
    struct gw_buf rhead;                                /** the client response head */
    char scratch[16][20];                               /** chunk-size lines of one write */
    _Alignas(16) unsigned char arena[GW_REQUEST_ARENA]; /** stage state (not zeroed) */
    /** room for npath (then upath) when they fit, so that most requests allocate neither:
     * free them with gw_request_path_free. Not zeroed. */
    char path_inline[GW_REQUEST_PATH_INLINE];
    /** The W3C trace id, 32 lowercase hex digits, set at dispatch when tracing is on ("" when
     * off): the access log's trace_id and the transformations' $trace_id. Past the zeroed part:
     * the downstream that creates the request sets trace_id[0] = '\0'. */
    char trace_id[33];
    /** A finished request's head buffers (r->head, r->rhead: their memory, emptied), kept with
     * it in the worker's cache of requests for the next one (conn/conn.c), or NULL. Read only
     * when the request came from that cache. Not zeroed. */
    char *spare_head, *spare_rhead;
    size_t spare_head_cap, spare_rhead_cap;
    uint32_t headers_capacity;
    struct gw_http1_header headers[]; /** request headers, then response headers */
};

/* Frees p, one of r's paths (r->npath, r->upath), unless it lives in r->path_inline. */
static inline void gw_request_path_free(struct gw_request *r, char *p)
{
    if (p != r->path_inline)
        free(p);
}

#endif
