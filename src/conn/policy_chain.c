/*
 * The policy chain (DESIGN.md "policy chain"): the rate limits that need no identity,
 * authentication and authorization, the limits keyed by the consumer, then the proxy. A policy that
 * suspends (a Redis decision, a token introspection) calls gw_policy_resume when its answer
 * arrives, and the chain carries on from where it stopped. While suspended, client bytes wait in
 * the input buffer (the proxy ignores them until the chain lets the request through), so nothing is
 * read past the buffer or lost.
 */
#include "conn/conn.h"
#include "policy/policy.h"

static void run_from_stage(struct gw_request *r)
{
    while (r->policy_stage < GW_POLICY_STAGE_DONE) {
        enum gw_policy_result res;
        switch (r->policy_stage) {
        case GW_POLICY_STAGE_RATELIMIT_PRE:
            res = gw_ratelimit_check(r, false);
            break;
        case GW_POLICY_STAGE_AUTH:
            res = gw_auth_check(r);
            break;
        case GW_POLICY_STAGE_RATELIMIT_CONSUMER:
        default:
            res = gw_ratelimit_check(r, true);
            break;
        }
        if (res == GW_POLICY_SUSPENDED) {
            r->suspended = true;
            return;
        }
        if (res == GW_POLICY_RESPONDED)
            return;
        r->policy_stage++;
    }
    gw_request_forward(r);
}

void gw_policy_run(struct gw_request *r)
{
    r->policy_stage = GW_POLICY_STAGE_RATELIMIT_PRE;
    run_from_stage(r);
}

void gw_policy_resume(struct gw_request *r)
{
    r->suspended = false;
    run_from_stage(r);
}

void gw_policy_cancel(struct gw_request *r)
{
    gw_ratelimit_cancel(r);
    gw_auth_cancel(r);
}
