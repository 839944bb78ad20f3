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
#include <stddef.h>
#include <stdint.h>

#include "conn/request-t.h"
#include "core/buf.h"
#include "http1/parser.h"
#include "policy/fieldname.h"
#include "policy/policy.h"

struct gw_request;
struct gw_sechdr_set;

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

/*
 * The upstream response's fields the hooks hide, replace or must know of (Server, an if_absent
 * security header, Access-Control-*, Vary) are found while upstream/rewrite.c copies r->rmsg's
 * fields into r->rhead, not in a pass of their own: the prepare step picks the request's filter
 * (struct gw_answer_filter, built with the snapshot) and the copy tests each field's name
 * against it by length and first byte, which lets almost every field go at once; a field that
 * passes is shown to gw_policy_answer_field, which notes what the hooks found in
 * r->answer_prepared and says whether the field stays out of the copy.
 *
 * The prepare step also picks the request's joined block when there is one: every line the
 * hooks add when the upstream sent none of those fields (CORS's for an exact origin, "*" or a
 * request without an allowed origin, then the security headers), prepared with the snapshot,
 * so that the common answer gets them with one copy (gw__policy_answer_headers).
 */

/* A set of field names the hooks look for, by length and first byte, and what each means: bit
 * (c & 31) of first[min(len, 63)] is set when a name of len bytes starting with c (either case)
 * may be one of names; by_len[min(len, 63)] says which; bit len of lens, when one may have
 * len (< 63) bytes (bit 63: longer). Immutable. */
#define GW_ANSWER_NAMES_MAX 16
struct gw_answer_filter {
    uint64_t lens;
    uint32_t first[64];
    uint16_t by_len[64];
    uint32_t nnames;
    struct gw_answer_name {
        const char *lower; /* the name, lowercase (a prefix when prefix) */
        uint32_t len;      /* >= 4 */
        bool prefix;       /* any longer name that starts with it */
        bool drop;         /* the field stays out of the client's head */
        uint32_t note;     /* bits for r->answer_prepared when the field is there */
    } names[GW_ANSWER_NAMES_MAX];
};

/* r->answer_prepared: the prepare step ran for this head (bit 31); the upstream's head has a
 * Vary field (bit 30, CORS merges Origin into it); the bits below are the security headers'
 * if_absent fields the upstream sent (policy/sechdr.c, bit per enum gw_sechdr_id). */
#define GW_ANSWER_PREPARED (1u << 31)
#define GW_ANSWER_UPSTREAM_VARY (1u << 30)

/* Adds a name to f (at most GW_ANSWER_NAMES_MAX; the build checks). */
static inline void gw_answer_filter_add(struct gw_answer_filter *f, const char *lower, size_t len,
                                        bool prefix, bool drop, uint32_t note)
{
    if (f->nnames == GW_ANSWER_NAMES_MAX)
        return;
    uint32_t k = f->nnames++;
    f->names[k] = (struct gw_answer_name){lower, (uint32_t)len, prefix, drop, note};
    for (size_t n = prefix ? len + 1 : len; n < 64; n++) {
        f->lens |= UINT64_C(1) << n;
        f->first[n] |= 1u << (lower[0] & 31);
        f->by_len[n] |= (uint16_t)(1u << k);
        if (!prefix)
            break;
    }
}

/* Whether a field named name[0..len) (len > 0) may be in f. */
static inline bool gw_answer_filter_hit(const struct gw_answer_filter *f, const char *name,
                                        uint32_t len)
{
    if (len < 63 && !((f->lens >> len) & 1u))
        return false; /* most fields: one test */
    return (f->first[len < 63 ? len : 63] >> (name[0] & 31)) & 1u;
}

/* The filter of an answer whose security-header set is set (NULL: none), over TLS or not, with
 * CORS or not: one of p->answer_filters (built by gw_policy_answer_build). */
static inline const struct gw_answer_filter *gw_answer_filter_of(const struct gw_policy *p,
                                                                 const struct gw_sechdr_set *set,
                                                                 uint32_t set_index, bool secure,
                                                                 bool cors)
{
    size_t i = (set ? (size_t)set_index + 1 : 0) * 4 + (secure ? 2u : 0u) + (cors ? 1u : 0u);
    return &p->answer_filters[i];
}

/* Builds p->answer_filters and the joined blocks, once the hooks' policies are built (called
 * from gw_policy_build). 0 or GW_ENOMEM. */
int gw_policy_answer_build(struct gw_policy *p);
void gw_policy_answer_free(struct gw_policy *p);

/* Before the upstream's response head r->rmsg is copied into r->rhead (upstream/rewrite.c):
 * sets r->answer_filter (NULL: no field to look for), r->answer_block (NULL: none) and
 * r->answer_prepared. secure: as for the answer. Worker thread. */
void gw__policy_answer_prepare(const struct gw_policy *p, struct gw_request *r, bool secure);

/* A field of the upstream's head that passed r->answer_filter: what it means to the hooks (the
 * filter's entry for its name) goes into r->answer_prepared; true when it stays out of the
 * client's head (a field gantry hides or replaces). Worker thread, between the prepare step and
 * the answer hooks. Inline: rewrite.c's copy runs it for a Server field in most answers. */
static inline bool gw_policy_answer_field(struct gw_request *r, const struct gw_http1_header *h)
{
    const struct gw_answer_filter *f = r->answer_filter;
    uint32_t n = h->name_len;
    for (uint32_t m = f->by_len[n < 63 ? n : 63]; m; m &= m - 1) {
        const struct gw_answer_name *e = &f->names[__builtin_ctz(m)];
        if ((e->prefix ? n > e->len : n == e->len) && gw_fieldname_eq(h->name, e->lower, e->len)) {
            r->answer_prepared |= e->note;
            return e->drop;
        }
    }
    return false;
}

/* What the hooks look for (policy/sechdr.c, policy/cors.c): their names, added to f. */
void gw_cors_filter_add(struct gw_answer_filter *f); /* Access-Control-*, Vary */

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

/* gw_policy_answer_headers for the upstream's answer (head is r->rhead; r->snap's policy): the
 * common case, the prepared joined block when the upstream sent none of the fields the hooks
 * look for, inline. */
static inline int gw_policy_answer_upstream_headers(const struct gw_policy *p, struct gw_request *r,
                                                    bool secure)
{
    if (r->answer_block && r->answer_prepared == GW_ANSWER_PREPARED) {
        r->answer_prepared = 0;
        const char *block = r->answer_block;
        r->answer_block = NULL;
        return gw_buf_append(&r->rhead, block, r->answer_block_len);
    }
    return gw_policy_answer_headers(p, r, secure, &r->rhead);
}

#endif
