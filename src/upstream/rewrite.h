/* Building the heads gantry sends: the upstream request and the client response. */
#ifndef GW_UPSTREAM_REWRITE_H
#define GW_UPSTREAM_REWRITE_H

#include "conn/request-t.h"

/* Upstream request head for r into r->head: hop-by-hop and Connection-listed fields
 * removed, Host per the service's host_header, X-Forwarded-For appended, X-Forwarded-Proto
 * and X-Forwarded-Host set, X-Request-ID set, framing regenerated. 0 or a GW_E* code. */
int gw_rewrite_request_head(struct gw_request *r);

/* A retry goes to r->target, another target than the head was built for: its token line
 * (a registered backend's, config-t.h secret_header) replaces the previous one's in r->head.
 * 0 or GW_ENOMEM. Costs a comparison when neither target has a token. */
int gw_rewrite_request_target(struct gw_request *r);

/* Client response head from the parsed upstream response into r->rhead; decides r->out
 * (how the body is framed for this client) and may clear r->keep_alive. */
int gw_rewrite_response_head(struct gw_request *r);

/* The client's 101 (Switching Protocols) head from the upstream's into r->rhead: its fields
 * except the hop-by-hop ones, then Connection: Upgrade and the upstream's Upgrade (RFC 9110
 * 7.8), X-Request-ID and the stages' headers; no framing (the connection becomes a tunnel).
 * For a request that asked for an upgrade (r->upgrade) and an answer that names one
 * (r->rmsg.upgrade). 0 or a GW_E* code. */
int gw_rewrite_upgrade_head(struct gw_request *r);

/* With r->req_filter (resp_filter), the heads above stop before their framing: these finish
 * them once the body's final framing is known (a filtered body: GW_BODY_LENGTH and its
 * length; one that overflowed the filter: the message's own). 0 or GW_ENOMEM. */
int gw_rewrite_request_finish(struct gw_request *r, enum gw_http1_body body, uint64_t length);
int gw_rewrite_response_finish(struct gw_request *r, enum gw_http1_body body, uint64_t length);

#endif
