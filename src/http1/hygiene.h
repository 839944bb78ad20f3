/*
 * Header hygiene for a proxy (RFC 9110 7.6.1): which fields are hop-by-hop and must not be
 * forwarded, and which extra fields a Connection header declared hop-by-hop.
 */
#ifndef GW_HTTP1_HYGIENE_H
#define GW_HTTP1_HYGIENE_H

#include <stdbool.h>
#include <stddef.h>

#include "http1/parser.h"

#define GW_HTTP1_MAX_CONNECTION_TOKENS 16

struct gw_connection_tokens {
    const char *name[GW_HTTP1_MAX_CONNECTION_TOKENS];
    size_t len[GW_HTTP1_MAX_CONNECTION_TOKENS];
    size_t count;
    bool overflow; /* more tokens than fit: the caller should refuse the message */
};

/* True for the fields that never cross a proxy: Connection, Keep-Alive, Proxy-Connection,
 * TE, Trailer, Transfer-Encoding, Upgrade, Proxy-Authenticate, Proxy-Authorization, and
 * Content-Length (gantry re-frames every body it forwards). */
bool gw_http1_is_hop_by_hop(const char *name, size_t len);

/* Collects the field names listed in the message's Connection headers ("close" and
 * "keep-alive" are options, not field names, and are skipped). */
void gw_http1_connection_tokens(const struct gw_http1_message *m, struct gw_connection_tokens *t);

/* True when name (any case) is one of the tokens. */
bool gw_http1_connection_lists(const struct gw_connection_tokens *t, const char *name, size_t len);

/* A header that must not be forwarded, for either reason above. */
static inline bool gw_http1_drop_on_forward(const struct gw_connection_tokens *t,
                                            const struct gw_http1_header *h)
{
    return gw_http1_is_hop_by_hop(h->name, h->name_len) ||
           (t->count && gw_http1_connection_lists(t, h->name, h->name_len));
}

#endif
