/*
 * A request's trace record: types only (trace/trace.h has the request path's functions,
 * trace/exporter.h the control thread's).
 *
 * One record per traced request: taken by the worker when the request is dispatched (from the few
 * it reuses, trace/ring.h), filled as the request runs (the spans of its policy stages and
 * upstream tries), completed when it ends; when it is sampled, its used part (the fields up to
 * `child`, the children it has, the strings it holds) is copied into the worker's ring to the
 * control thread, which copies it out into a record of its own and encodes that. It holds no
 * pointer into the request or its snapshot once completed: every string it needs is copied into
 * `strs` (a stage's name is the stage table's static text).
 */
#ifndef GW_TRACE_TRACE_T_H
#define GW_TRACE_TRACE_T_H

#include <stdbool.h>
#include <stdint.h>

#include "trace/context.h"

struct gw_target;

/* Child spans kept per request (policy stages and upstream tries); more are counted in `lost`. */
#define GW_TRACE_MAX_CHILDREN 12

/* Bytes of copied strings per record (longer ones are cut): a tracestate (512 at most) first, then
 * host, method, path, ids and names. */
#define GW_TRACE_STRINGS 1536
_Static_assert(GW_TRACE_STRINGS > GW_TRACESTATE_MAX, "a tracestate fits whole");

/* Most bytes of the Host field's host kept as server.address: a tracestate and this leave
 * GW_TRACE_STRINGS - 767 bytes for the rest, the method first. */
#define GW_TRACE_HOST_MAX 255
_Static_assert(GW_TRACE_STRINGS - GW_TRACESTATE_MAX - GW_TRACE_HOST_MAX >= 24 + 256,
               "the method and the path fit after a whole tracestate and host");

/* Bytes after the strings that are never part of one: the encoder copies a short string as a
 * fixed 32 bytes (two moves instead of a call), which may read past its end. */
#define GW_TRACE_STRINGS_PAD 32

/* A string in a record's `strs` (len 0: absent). */
struct gw_trace_str {
    uint16_t off;
    uint16_t len;
};

enum gw_trace_child_kind {
    GW_TRACE_STAGE = 1, /* a policy stage (INTERNAL span) */
    GW_TRACE_TRY,       /* one upstream try (CLIENT span) */
};

/* What ended a try or the request badly (error.type); 0: nothing. */
enum gw_trace_error {
    GW_TRACE_ERR_NONE = 0,
    GW_TRACE_ERR_CONNECT,   /* could not connect (refused, timed out) */
    GW_TRACE_ERR_TIMEOUT,   /* no response in time */
    GW_TRACE_ERR_RESET,     /* closed or reset before the response was complete */
    GW_TRACE_ERR_INVALID,   /* the upstream's response was not valid HTTP */
    GW_TRACE_ERR_STATUS,    /* a 5xx response (error.type is the status code) */
    GW_TRACE_ERR_GATEWAY,   /* gantry answered 5xx itself (no target, circuit open, ...) */
    GW_TRACE_ERR_ABORTED,   /* the exchange ended before the response was complete */
    GW_TRACE_ERR_CANCELLED, /* the client went away while this span was open */
};

struct gw_trace_child {
    uint64_t span_id;
    uint64_t t_start; /** uv_hrtime() */
    uint64_t t_end;   /** 0 while open */
    const char *name; /** a stage's name (static text of the stage table), else NULL */
    const struct gw_target *target; /** a try's target while the request lives (then NULL) */
    struct gw_trace_str addr;       /** a try's target host, copied when the request ends */
    uint16_t port;                  /** a try's target port */
    uint16_t status; /** a try's response status, a stage's answer status (0: none) */
    uint8_t kind;    /** enum gw_trace_child_kind */
    uint8_t error;   /** enum gw_trace_error */
    uint8_t resend;  /** a try: how many tries came before it */
    bool tls;        /** a try to an https:// target */
    bool ipv6;       /** a try's target host is an IPv6 literal (url.full brackets it) */
};

struct gw_trace {
    struct gw_trace_id trace_id;
    uint64_t parent_id; /** the client's span (0: gantry started the trace) */
    uint64_t span_id;   /** gantry's span for the request (SERVER) */
    uint64_t try_span;  /** the parent the upstream is told of: the current try's span */
    uint64_t next_span; /** the first try's span id, drawn with the others (0: draw one) */
    uint64_t t_start;   /** uv_hrtime() at dispatch */
    uint64_t t_end;
    uint32_t tp_off;      /** where the current try's span id sits in r->head (0: not there) */
    uint16_t status;      /** the answer's status (0: none reached the client) */
    uint16_t server_port; /** from the Host header (0: none) */
    uint8_t parent_flags; /** the client's trace-flags */
    int8_t head;          /** the head sampling decision: -1 not made yet, 0 no, 1 yes */
    uint8_t error;        /** enum gw_trace_error of the request */
    uint8_t nchild;
    uint8_t lost;       /** child spans beyond GW_TRACE_MAX_CHILDREN */
    uint8_t open_stage; /** 1 + the child index of the running stage, 0: none */
    uint8_t open_try;   /** 1 + the child index of the current try, 0: none */
    uint8_t rl_outcome; /** the request's enum gw_rl_outcome */
    uint8_t http_minor; /** 0 or 1 */
    bool secure;        /** it came in on the TLS listener (url.scheme https) */
    bool method_other;  /** not one of RFC 9110's methods or PATCH (http.request.method _OTHER) */
    uint32_t retries;
    uint16_t strs_len;  /** bytes of strs in use */
    char trace_hex[32]; /** trace_id as 32 lowercase hex digits (what r->trace_id holds) */
    struct gw_trace_str method, path, route, service, server, client, request_id, consumer;
    struct gw_trace_str query; /** the client's query, without '?' (url.query) */
    struct gw_trace_str upath; /** the target sent upstream, path and query (the tries' url.full) */
    struct gw_trace_str tracestate; /** the client's, cleaned (the first string: it fits whole) */
    struct gw_trace *next_free;     /** the worker's list of records to reuse */
    /* What the ring carries of a record: everything above, then child[0..nchild), then
     * strs[0..strs_len). */
    struct gw_trace_child child[GW_TRACE_MAX_CHILDREN];
    char strs[GW_TRACE_STRINGS + GW_TRACE_STRINGS_PAD];
};

#endif
