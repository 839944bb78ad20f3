/*
 * Answer hooks: response policies that put headers on every answer gantry sends, outside the
 * stage chain.
 *
 * A stage's on_response puts its headers on the answers of a request whose slot holds state
 * (policy/chain.h). Some answers never meet a stage: those given before a service is chosen
 * (404 no route, 400 bad request, 408, 503 too many connections, the probes) and those given
 * to a routed request before the stage's row ran (a 403 from the IP rules, a 413). And a
 * response policy that depends on the service alone (security headers) should not pay for a
 * stage's state on every request. Such a policy registers an answer hook: one row in the table
 * of policy/answer.c and one bit in gw_policy.answer_hooks, set when the snapshot is built if
 * the policy has anything to add.
 *
 * Callers: the upstream response's rewrite (upstream/rewrite.c, head == &r->rhead) and the
 * downstream's own answers (conn/conn.c gw__conn_respond), each after the stages' headers.
 * With no bit set the call is one load and a test.
 */
#ifndef GW_POLICY_ANSWER_H
#define GW_POLICY_ANSWER_H

#include <stdbool.h>

#include "core/buf.h"
#include "policy/policy.h"

struct gw_request;

/* The rows of policy/answer.c's table (bit i of gw_policy.answer_hooks). */
enum gw_answer_hook_id {
    /* CORS lines of a request whose CORS stage took no arena state (policy/cors.c
     * gw_cors_answer_headers): first, where the stage's on_response would have put them */
    GW_ANSWER_CORS = 0,
    GW_ANSWER_SECHDR, /* security headers (policy/sechdr.c gw_sechdr_answer_headers) */
    GW_ANSWER__COUNT,
};

/* A hook appends header lines (each ending in CRLF) to the head of an answer: the upstream's
 * response when r and head == &r->rhead (its parsed head is r->rmsg), else gantry's own. r is
 * NULL when there is no request (a connection refused at accept); r->svc is NULL until routing
 * chose a service. secure: the answer goes over TLS. Worker thread. 0 or GW_ENOMEM. */
typedef int (*gw_answer_hook_fn)(const struct gw_policy *p, struct gw_request *r, bool secure,
                                 struct gw_buf *head);

int gw__policy_answer_headers(const struct gw_policy *p, struct gw_request *r, bool secure,
                              struct gw_buf *head);

/* ---- the hooks (rows of policy/answer.c's table) ---- */

/* policy/sechdr.c: the request's security headers — the gateway's set before a service was
 * chosen (r NULL, or r->svc NULL), else the service's or its rule's (the stage's choice, or
 * chosen here when the answer comes before the stage ran) — on the upstream's response (its
 * own headers kept, replaced or hidden as the set says) or on gantry's own answer. */
int gw_sechdr_answer_headers(const struct gw_policy *p, struct gw_request *r, bool secure,
                             struct gw_buf *head);

/* policy/cors.c: the CORS lines of a request whose CORS stage chose a shared pick (struct
 * gw_cors_pick) while no stage took arena state (r->arena_used 0: the chain's on_response
 * loop does not run); nothing otherwise. */
int gw_cors_answer_headers(const struct gw_policy *p, struct gw_request *r, bool secure,
                           struct gw_buf *head);

/* Before the upstream's response head r->rmsg is copied into r->rhead (upstream/rewrite.c): the
 * hooks that hide or replace some of its headers take them out of rmsg's header list, so that
 * the copy leaves them out, and note in r->answer_prepared what they found (their
 * answer_headers then skip that work). secure: as for the answer. Worker thread. */
void gw__policy_answer_prepare(const struct gw_policy *p, struct gw_request *r, bool secure);

/* policy/sechdr.c: the prepare step of gw_sechdr_answer_headers (see above). */
void gw_sechdr_answer_prepare(const struct gw_policy *p, struct gw_request *r, bool secure);

static inline void gw_policy_answer_prepare(const struct gw_policy *p, struct gw_request *r,
                                            bool secure)
{
    if (p && p->answer_hooks)
        gw__policy_answer_prepare(p, r, secure);
}

/* Appends the answer hooks' headers to the head of an answer, with the policy of the request's
 * snapshot (or the worker's, without a request). 0 or GW_ENOMEM. */
static inline int gw_policy_answer_headers(const struct gw_policy *p, struct gw_request *r,
                                           bool secure, struct gw_buf *head)
{
    return p && p->answer_hooks ? gw__policy_answer_headers(p, r, secure, head) : 0;
}

#endif
