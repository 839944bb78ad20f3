/*
 * Strict, incremental, zero-copy HTTP/1.1 message-head parser (RFC 9112, RFC 9110).
 *
 * Contract
 * - The caller accumulates a message's bytes in one buffer and calls the parse function with
 *   the buffer's start (the first byte of the message) and its current length. Between calls
 *   the buffer may move (realloc) but the bytes already passed must not change.
 * - Return values: GW_HTTP1_DONE (0) when the head is complete and valid; GW_HTTP1_PARTIAL (1)
 *   when more bytes are needed; a negative GW_E* code (core/error.h) when the input is
 *   invalid or over a limit. After an error the connection must not be reused.
 * - Any split of the input, one byte at a time included, gives the same result as the whole
 *   input at once. Work per byte is constant: each call resumes where the last one stopped.
 * - On DONE, method, target, reason and every header name and value are slices of the buffer
 *   last passed in; head_len bytes belong to the head and the body (if any) follows.
 * - No allocation: the caller provides the header array; its capacity is the header-count
 *   limit.
 * - Framing is decided on DONE (see framing.c): body kind, Content-Length, keep-alive,
 *   Expect: 100-continue. Every rule that matters for request smuggling lives there.
 */
#ifndef GW_HTTP1_PARSER_H
#define GW_HTTP1_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

enum {
    GW_HTTP1_DONE = 0,
    GW_HTTP1_PARTIAL = 1,
};

enum gw_http_method {
    GW_METHOD_OTHER = 0, /* any other valid token: forwarded as is */
    GW_METHOD_GET,
    GW_METHOD_HEAD,
    GW_METHOD_POST,
    GW_METHOD_PUT,
    GW_METHOD_DELETE,
    GW_METHOD_CONNECT,
    GW_METHOD_OPTIONS,
    GW_METHOD_TRACE,
    GW_METHOD_PATCH,
};

enum gw_http1_body {
    GW_BODY_NONE = 0,  /* no body follows the head */
    GW_BODY_LENGTH,    /* exactly content_length bytes follow */
    GW_BODY_CHUNKED,   /* chunked transfer coding: feed the bytes to gw_chunked_decode */
    GW_BODY_UNTIL_EOF, /* responses only: the body ends when the server closes */
};

struct gw_http1_header {
    const char *name;  /* valid after DONE */
    const char *value; /* valid after DONE; OWS trimmed; may be empty */
    uint32_t name_len;
    uint32_t value_len;
    uint32_t name_off; /* offsets from the message start, valid at any time */
    uint32_t value_off;
};

struct gw_http1_limits {
    uint32_t max_request_line; /* bytes including CRLF; over it: GW_EURITOOLONG (414) */
    uint32_t max_header_bytes; /* header block after the start line; over it: 431 */
    uint32_t max_headers;      /* count; over it: GW_ETOOMANYHDRS (431) */
};

#define GW_HTTP1_DEFAULT_MAX_REQUEST_LINE 8192u
#define GW_HTTP1_DEFAULT_MAX_HEADER_BYTES 32768u
#define GW_HTTP1_DEFAULT_MAX_HEADERS 100u

/* Message head, filled by the parse functions. The caller sets headers and
 * headers_capacity before the first call (gw_http1_parser_init does not touch them). */
struct gw_http1_message {
    /* request line (requests) */
    const char *method;
    uint32_t method_len;
    enum gw_http_method method_id;
    const char *target;
    uint32_t target_len;
    /* status line (responses) */
    int status;
    const char *reason;
    uint32_t reason_len;

    int minor_version; /* HTTP/1.<minor>: 0 or 1 */

    struct gw_http1_header *headers;
    uint32_t headers_capacity;
    uint32_t num_headers;

    size_t head_len; /* bytes of the head, start line through the empty line */

    /* framing, decided from the head */
    enum gw_http1_body body;
    /* request: index of the Origin header (CORS), -1 when absent, -2 when it came more than
     * once; whoever reorders the header list sets it again (gw_http1_origin_index). Here, not
     * with host_index: it fills the padding before content_length. */
    int origin_index;
    uint64_t content_length; /* for GW_BODY_LENGTH */
    bool keep_alive;         /* the connection may carry another message after this one */
    bool expect_continue;    /* request: "Expect: 100-continue" */
    bool upgrade;            /* Connection: upgrade with an Upgrade header */
    int host_index;          /* request: index of the Host header, -1 when absent (1.0) */
};

struct gw_http1_parser {
    struct gw_http1_limits limits;
    bool is_response;
    enum gw_http_method request_method; /* responses: the request's method (HEAD, CONNECT) */
    /* resumable progress; private */
    uint8_t state;
    uint32_t line_start;  /* offset of the first unparsed line */
    uint32_t scanned;     /* bytes of the current line already searched for LF */
    uint32_t block_start; /* offset where the header block begins */
    uint32_t method_off;
    uint32_t target_off; /* request target, or reason phrase of a response */
};

/* Sets the limits (NULL: defaults) and resets progress. Call once per message. */
void gw_http1_parser_init_request(struct gw_http1_parser *p, const struct gw_http1_limits *lim);

/* For an upstream response; request_method decides HEAD and CONNECT framing. */
void gw_http1_parser_init_response(struct gw_http1_parser *p, const struct gw_http1_limits *lim,
                                   enum gw_http_method request_method);

/* Parses a request head. See the contract above. */
int gw_http1_parse_request(struct gw_http1_parser *p, const char *buf, size_t len,
                           struct gw_http1_message *m);

/* Parses a response head. A 1xx response (other than 101) is DONE with body NONE; the caller
 * forwards or drops it and parses the next head with a fresh init. */
int gw_http1_parse_response(struct gw_http1_parser *p, const char *buf, size_t len,
                            struct gw_http1_message *m);

/* Case-insensitive header lookup after DONE: index of the first match or -1. */
int gw_http1_find_header(const struct gw_http1_message *m, const char *name, size_t name_len);

/* The index of m's Origin header as the parser sets m->origin_index: -1 none, -2 more than one
 * (for a header list edited after the parse). */
int gw_http1_origin_index(const struct gw_http1_message *m);

/* Method token to id (GW_METHOD_OTHER for any other token). */
enum gw_http_method gw_http_method_id(const char *s, size_t len);

#endif
