/*
 * The answer hooks (policy/answer.h): response policies on gantry's own answers, and on the
 * upstream's without a pass of their own over its head.
 */
#include "policy/answer.h"

#include <stdlib.h>

#include "conn/request-t.h"
#include "control/snapshot-t.h"
#include "core/error.h"
#include "policy/chain.h"
#include "policy/cors.h"
#include "policy/sechdr.h"

static const gw_answer_hook_fn hooks[GW_ANSWER__COUNT] = {
    [GW_ANSWER_CORS] = gw_cors_answer_headers,
    [GW_ANSWER_SECHDR] = gw_sechdr_answer_headers,
};

_Static_assert(GW_ANSWER__COUNT <= 32, "a bit per hook in gw_policy.answer_hooks");

#define HOOK(id) (1u << (id))

static const struct gw_answer_filter *
filter_of(const struct gw_policy *p, const struct gw_sechdr_set *set, bool secure, bool cors)
{
    return gw_answer_filter_of(p, set, set ? set->index : 0, secure, cors);
}

int gw_policy_answer_build(struct gw_policy *p)
{
    const struct gw_sechdr_policy *sp = p->sechdr;
    size_t nsets = sp ? sp->nsets : 0;
    if (p->answer_hooks == 0)
        return 0;
    p->answer_filters = calloc((nsets + 1) * 4, sizeof *p->answer_filters);
    if (p->answer_filters == NULL)
        return GW_ENOMEM;
    for (size_t i = 0; i <= nsets; i++) {
        const struct gw_sechdr_set *set = i ? sp->sets[i - 1] : NULL;
        for (int secure = 0; secure < 2; secure++) {
            for (int cors = 0; cors < 2; cors++) {
                struct gw_answer_filter *f =
                    (struct gw_answer_filter *)filter_of(p, set, secure, cors);
                if (set)
                    gw_sechdr_filter_add(set, secure, f);
                if (cors)
                    gw_cors_filter_add(f);
                if (f->nnames == GW_ANSWER_NAMES_MAX)
                    return GW_EINVAL; /* cannot be: the hooks look for 12 names at most */
            }
        }
    }
    return p->cors ? gw_cors_join(p) : 0;
}

void gw_policy_answer_free(struct gw_policy *p)
{
    free(p->answer_filters);
    p->answer_filters = NULL;
}

void gw__policy_answer_prepare(const struct gw_policy *p, struct gw_request *r, bool secure)
{
    const struct gw_cors_pick *pick = r->svc ? r->slot[GW_STAGE_CORS] : NULL;
    r->answer_prepared = GW_ANSWER_PREPARED;
    if (pick && pick->joined[0]) {
        /* a shared pick joined with its service's set, which is then the request's (a service
         * without security-header rules); the block serves when no stage adds lines of its
         * own (no arena state: the chain's on_response does not run) */
        r->answer_filter = pick->joined_filter[secure];
        r->answer_block = r->arena_used ? NULL : pick->joined[secure];
        r->answer_block_len = pick->joined_len[secure];
        return;
    }
    const struct gw_sechdr_set *set =
        p->answer_hooks & HOOK(GW_ANSWER_SECHDR) ? gw_sechdr_request_set(p, r) : NULL;
    r->answer_block = NULL;
    r->answer_filter = set || pick ? filter_of(p, set, secure, pick) : NULL;
}

int gw__policy_answer_headers(const struct gw_policy *p, struct gw_request *r, bool secure,
                              struct gw_buf *head)
{
    int rc = 0;
    if (r && head == &r->rhead && r->answer_block && r->answer_prepared == GW_ANSWER_PREPARED) {
        /* the upstream sent none of the fields the hooks look for: their lines, as one copy */
        rc = gw_buf_append(head, r->answer_block, r->answer_block_len);
    } else {
        for (uint32_t m = p->answer_hooks; m && rc == 0; m &= m - 1)
            rc = hooks[__builtin_ctz(m)](p, r, secure, head);
    }
    if (r) { /* what the prepare step found was for this head only */
        r->answer_prepared = 0;
        r->answer_block = NULL;
    }
    return rc;
}
