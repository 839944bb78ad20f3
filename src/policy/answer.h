/*
 * Response policies on gantry's own answers that the stage chain does not cover.
 *
 * A stage's on_response puts its headers on every answer of a request that went through it
 * (policy/chain.h). Some answers never meet a stage: those given before a service is chosen
 * (404 no route, 400 bad request, 408, 503 too many connections, the probes) and those given
 * to a routed request before the stage's row ran (a 403 from the IP rules, a 413). A response
 * policy that must be on those too (security headers; later any gateway-wide response header)
 * registers an answer hook: one row in the table of policy/answer.c and one bit in
 * gw_policy.answer_hooks, set when the snapshot is built if the policy has anything to add.
 *
 * The downstream (conn/conn.c gw__conn_respond) calls gw_policy_answer_headers for every answer
 * it writes itself, after the stages' headers. With no hook in use it costs one load and a
 * test, and only on gantry's own answers: the proxied path never calls it.
 */
#ifndef GW_POLICY_ANSWER_H
#define GW_POLICY_ANSWER_H

#include <stdbool.h>

#include "core/buf.h"
#include "policy/policy.h"

struct gw_request;

/* The rows of policy/answer.c's table (bit i of gw_policy.answer_hooks). */
enum gw_answer_hook_id {
    GW_ANSWER_SECHDR = 0, /* security headers (policy/sechdr.c gw_sechdr_answer_headers) */
    GW_ANSWER__COUNT,
};

/* A hook appends header lines (each ending in CRLF) for an answer gantry writes itself. r is
 * NULL when there is no request (a connection refused at accept); otherwise r->svc is NULL
 * until routing chose a service. A hook must add nothing a stage already added to this
 * answer (it can tell from r's slots). secure: the answer goes over TLS. 0 or GW_ENOMEM. */
typedef int (*gw_answer_hook_fn)(const struct gw_policy *p, struct gw_request *r, bool secure,
                                 struct gw_buf *head);

int gw__policy_answer_headers(const struct gw_policy *p, struct gw_request *r, bool secure,
                              struct gw_buf *head);

/* Appends the answer hooks' headers to the head of an answer gantry writes itself, with the
 * policy of the request's snapshot (or the worker's, without a request). 0 or GW_ENOMEM. */
static inline int gw_policy_answer_headers(const struct gw_policy *p, struct gw_request *r,
                                           bool secure, struct gw_buf *head)
{
    return p && p->answer_hooks ? gw__policy_answer_headers(p, r, secure, head) : 0;
}

#endif
