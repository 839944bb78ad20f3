/*
 * The answer hooks (policy/answer.h): response policies on gantry's own answers.
 */
#include "policy/answer.h"

static const gw_answer_hook_fn hooks[GW_ANSWER__COUNT] = {
    [GW_ANSWER_CORS] = gw_cors_answer_headers,
    [GW_ANSWER_SECHDR] = gw_sechdr_answer_headers,
};

_Static_assert(GW_ANSWER__COUNT <= 32, "a bit per hook in gw_policy.answer_hooks");

int gw__policy_answer_headers(const struct gw_policy *p, struct gw_request *r, bool secure,
                              struct gw_buf *head)
{
    for (uint32_t m = p->answer_hooks; m; m &= m - 1) {
        int rc = hooks[__builtin_ctz(m)](p, r, secure, head);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void gw__policy_answer_prepare(const struct gw_policy *p, struct gw_request *r, bool secure)
{
    if (p->answer_hooks & (1u << GW_ANSWER_SECHDR))
        gw_sechdr_answer_prepare(p, r, secure);
}
