/*
 * HTTP/2 to upstreams (upstream/h2_upstream.c): the translation of the HTTP/1.1 request head
 * the proxy builds into the fields of an HTTP/2 request (upstream/h2_translate.c). Pure;
 * exported for the unit tests and fuzz/fuzz_h2_client.c. Worker thread only for the rest
 * (upstream/internal.h).
 */
#ifndef GW_UPSTREAM_H2_UPSTREAM_H
#define GW_UPSTREAM_H2_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "h2/client.h"

#define GW_H2UP_MAX_FIELDS 256

enum gw_h2up_body {
    GW_H2UP_BODY_NONE = 0,
    GW_H2UP_BODY_LENGTH,
    GW_H2UP_BODY_CHUNKED
};

struct gw_h2up_head {
    struct gw_h2c_field f[GW_H2UP_MAX_FIELDS]; /* pseudo-fields first; slices of the head */
    size_t n;
    enum gw_h2up_body body; /* the request body's HTTP/1.1 framing */
    uint64_t length;        /* its Content-Length */
    uint64_t timeout_ms;    /* the deadline for the upstream (grpc-timeout, capped); 0: none */
    bool grpc;              /* content-type application/grpc* */
    bool te_trailers;       /* the client's "te: trailers" is kept */
    bool head_method;       /* a HEAD request: the response has no body */
    char timeout[16];       /* the grpc-timeout value sent upstream */
    char lower[8192];       /* the regular fields' names, lowercased */
};

/*
 * Translates an HTTP/1.1 request head (gantry's own, built by upstream/rewrite.c: request line,
 * fields, empty line) into HTTP/2 fields: :method, :scheme ("https" when https), :authority
 * from Host, :path from the request target, then every field but the connection-specific ones
 * and Host (RFC 9113 8.2.2), names lowercased, "te" only as "trailers". A gRPC request
 * (content-type application/grpc*) gets "te: trailers" when it lacks it, and a grpc-timeout no
 * longer than max_timeout_ms (the service's response timeout; 0: no cap), which is also
 * out->timeout_ms. The fields point into `head` and into out. 0 or a negative code (a head
 * that is not of that shape, too many fields).
 */
int gw_h2up_translate_head(const char *head, size_t len, bool https, uint64_t max_timeout_ms,
                           struct gw_h2up_head *out);

#endif
