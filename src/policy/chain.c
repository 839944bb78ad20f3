/*
 * The policy chain runner (policy/chain.h has the stage contract). While a stage is suspended,
 * client bytes wait in the downstream's buffer (the proxy ignores them until the chain lets the
 * request through), so nothing is read past the buffer or lost.
 */
#include "policy/chain.h"

#include <string.h>

#include "control/snapshot-t.h"
#include "core/error.h"
#include "metrics/metrics.h"
#include "policy/stages.h"
#include "trace/trace.h"

/* The table. Order is policy: see enum gw_stage_id. */
static const struct gw_stage stages[GW_STAGE__COUNT] = {
    [GW_STAGE_CORS] = {"cors", GW_STAGE_CORS, gw_cors_applies, gw_cors_on_request,
                       gw_cors_on_response, gw_cors_cancel, NULL, false},
    [GW_STAGE_VERSION] = {"version", GW_STAGE_VERSION, gw_version_applies, gw_version_on_request,
                          gw_version_on_response, NULL, NULL, false},
    [GW_STAGE_IPRULES] = {"ip-rules", GW_STAGE_IPRULES, gw_iprules_applies, gw_iprules_on_request,
                          NULL, NULL, NULL, false},
    [GW_STAGE_RATELIMIT_PRE] = {"ratelimit", GW_STAGE_RATELIMIT_PRE, gw_ratelimit_applies,
                                gw_ratelimit_pre_on_request, gw_ratelimit_on_response,
                                gw_ratelimit_cancel, NULL, true},
    [GW_STAGE_CORS_PREFLIGHT] = {"cors-preflight", GW_STAGE_CORS, gw_cors_preflight_applies,
                                 gw_cors_preflight_on_request, NULL, NULL, NULL, false},
    [GW_STAGE_CSRF] = {"csrf", GW_STAGE_CSRF, gw_csrf_applies, gw_csrf_on_request, NULL, NULL, NULL,
                       false},
    [GW_STAGE_AUTH] = {"auth", GW_STAGE_AUTH, gw_auth_applies, gw_auth_on_request, NULL,
                       gw_auth_cancel, NULL, true},
    /* Its hooks are row 3's (the shared slot's, run once): a service with only limits keyed by
     * consumer runs this row alone. */
    [GW_STAGE_RATELIMIT_CONSUMER] = {"ratelimit-consumer", GW_STAGE_RATELIMIT_PRE,
                                     gw_ratelimit_consumer_applies,
                                     gw_ratelimit_consumer_on_request, gw_ratelimit_on_response,
                                     gw_ratelimit_cancel, NULL, true},
    [GW_STAGE_TRANSFORM] = {"transform", GW_STAGE_TRANSFORM, gw_transform_applies,
                            gw_transform_on_request, gw_transform_on_response, gw_transform_cancel,
                            gw_transform_on_response_head, false},
    [GW_STAGE_VALIDATE] = {"validate", GW_STAGE_VALIDATE, gw_validate_applies,
                           gw_validate_on_request, NULL, gw_validate_cancel, NULL, true},
    [GW_STAGE_CACHE] = {"cache", GW_STAGE_CACHE, gw_cache_applies, gw_cache_on_request,
                        gw_cache_on_response, gw_cache_cancel, gw_cache_on_response_head, true},
    [GW_STAGE_SECHDR] = {"security-headers", GW_STAGE_SECHDR, gw_sechdr_applies,
                         gw_sechdr_on_request, NULL, NULL, NULL, false},
    [GW_STAGE_COMPRESS] = {"compress", GW_STAGE_COMPRESS, gw_compress_applies,
                           gw_compress_on_request, gw_compress_on_response, gw_compress_cancel,
                           gw_compress_on_response_head, false},
};

_Static_assert(GW_STAGE__COUNT <= GW_REQUEST_SLOTS, "a slot per stage");
_Static_assert(GW_STAGE__COUNT <= 32, "a bit per stage in gw_service.stages");

/* The first row of each slot among rows that has the hook (has_hook(k)): stages that share a
 * slot share its hooks, which run once per request. */
static uint32_t first_of_slot(uint32_t rows, bool (*has_hook)(const struct gw_stage *st))
{
    uint32_t out = 0, slots = 0;
    for (uint32_t left = rows; left; left &= left - 1) {
        unsigned k = (unsigned)__builtin_ctz(left);
        if (has_hook(&stages[k]) && !(slots & (1u << stages[k].slot))) {
            slots |= 1u << stages[k].slot;
            out |= 1u << k;
        }
    }
    return out;
}

static bool has_on_response(const struct gw_stage *st)
{
    return st->on_response != NULL;
}

static bool has_on_response_head(const struct gw_stage *st)
{
    return st->on_response_head != NULL;
}

static bool has_cancel(const struct gw_stage *st)
{
    return st->cancel != NULL;
}

void gw_policy_stage_rows(const struct gw_snapshot *s, size_t i, struct gw_service *svc)
{
    uint32_t run = 0, timed = 0;
    for (size_t k = 0; k < GW_STAGE__COUNT; k++) {
        if (stages[k].applies(s, i)) {
            run |= 1u << k;
            if (stages[k].timed)
                timed |= 1u << k;
        }
    }
    svc->stages = run;
    svc->stages_timed = timed;
    svc->stages_on_response = first_of_slot(run, has_on_response);
    svc->stages_on_response_head = first_of_slot(run, has_on_response_head);
    svc->stages_cancel = first_of_slot(run, has_cancel);
}

bool gw_policy_rows_apply(const struct gw_snapshot *s, size_t i, unsigned from, unsigned to)
{
    for (unsigned k = from; k < to && k < GW_STAGE__COUNT; k++) {
        if (stages[k].applies(s, i))
            return true;
    }
    return false;
}

const char *gw_policy_stage_name(size_t k)
{
    return k < GW_STAGE__COUNT ? stages[k].name : NULL;
}

/* The running (timed) stage gave its verdict: its time goes to the service's histogram of that
 * stage, the n-th of the service's timed rows. */
static void stage_time(struct gw_request *r)
{
    const struct gw_mx_service_layout *sl =
        &r->snap->metrics->layout.svc[r->svc - r->snap->services];
    uint32_t row = sl->hist_stage_base;
    for (uint32_t before = r->svc->stages_timed & ((1u << r->stage) - 1u); before;
         before &= before - 1)
        row++; /* a few bits at most: cheaper than libgcc's popcount without -mpopcnt */
    gw_mx_hist_record(r->mx, row, uv_hrtime() - r->t_stage);
    r->t_stage = 0;
}

/* The rows from r->stage on of a request neither timed nor traced (most: header policies,
 * metrics off, no trace): each visit is a call and a test. */
__attribute__((noinline)) static void run_untimed(struct gw_request *r, uint32_t rest)
{
    struct gw_answer a;
    for (; rest; rest &= rest - 1) {
        unsigned k = (unsigned)__builtin_ctz(rest);
        r->stage = (uint8_t)k;
        const struct gw_stage *st = &stages[k];
        enum gw_stage_result res = st->on_request(r, &r->slot[st->slot], &a);
        if (res == GW_STAGE_CONTINUE)
            continue;
        if (res == GW_STAGE_SUSPEND) {
            r->suspended = true;
            return;
        }
        r->ds->respond(r, &a);
        return;
    }
    r->stage = GW_STAGE__COUNT;
    r->passed = true;
    r->pass(r);
}

/* The rows from r->stage on, with their policy time and trace spans. */
__attribute__((noinline)) static void run_timed(struct gw_request *r)
{
    struct gw_answer a;
    uint32_t mask = r->svc->stages;
    uint32_t timed_rows = r->mx ? r->svc->stages_timed : 0;
    while (r->stage < GW_STAGE__COUNT) {
        /* Straight to the next row that applies: rows that do not cost nothing, however many
         * the table has. */
        uint32_t rest = mask >> r->stage;
        if (rest == 0) {
            r->stage = GW_STAGE__COUNT;
            break;
        }
        unsigned k = r->stage + (unsigned)__builtin_ctz(rest);
        r->stage = (uint8_t)k;
        const struct gw_stage *st = &stages[k];
        bool timed = timed_rows & (1u << k);
        if (timed && r->t_stage == 0)
            r->t_stage = uv_hrtime(); /* policy time: from the stage's start to its verdict */
        if (r->trace)
            gw_trace_stage_begin(r, st->name);
        enum gw_stage_result res = st->on_request(r, &r->slot[st->slot], &a);
        if (res == GW_STAGE_SUSPEND) {
            r->suspended = true;
            return;
        }
        if (timed)
            stage_time(r);
        if (r->trace)
            gw_trace_stage_end(r, res == GW_STAGE_RESPOND ? &a : NULL);
        if (res == GW_STAGE_RESPOND) {
            r->ds->respond(r, &a);
            return;
        }
        r->stage++;
    }
    r->passed = true;
    r->pass(r);
}

static void run_from_stage(struct gw_request *r)
{
    uint32_t timed_rows = r->mx ? r->svc->stages_timed : 0;
    uint32_t ahead = r->stage < GW_STAGE__COUNT ? r->svc->stages >> r->stage << r->stage : 0;
    if (!(ahead & timed_rows) && !r->trace)
        run_untimed(r, ahead);
    else
        run_timed(r);
}

void gw_policy_run(struct gw_request *r, void (*pass)(struct gw_request *r))
{
    r->pass = pass;
    r->stage = 0;
    run_from_stage(r);
}

void gw_policy_refuse(struct gw_request *r, const struct gw_answer *a)
{
    struct gw_answer own;
    for (uint32_t rows = r->svc->stages & ((1u << GW_STAGE_IPRULES) - 1u); rows; rows &= rows - 1) {
        unsigned k = (unsigned)__builtin_ctz(rows);
        const struct gw_stage *st = &stages[k];
        r->stage = (uint8_t)k;
        if (st->on_request(r, &r->slot[st->slot], &own) == GW_STAGE_RESPOND) {
            r->ds->respond(r, &own);
            return;
        }
    }
    r->ds->respond(r, a);
}

void gw_policy_resume(struct gw_request *r)
{
    r->suspended = false;
    run_from_stage(r);
}

void gw_policy_respond(struct gw_request *r, const struct gw_answer *a)
{
    r->suspended = false;
    if (r->trace)
        gw_trace_stage_end(r, a);
    r->ds->respond(r, a);
}

/* Stages that share a slot share its hooks: each slot's cancel and on_response run once, from
 * the first row of the slot that has them. The service's masks (gw_policy_stage_rows) hold
 * exactly those rows, so these loops visit the rows with a hook and nothing else. */
void gw__policy_cancel(struct gw_request *r)
{
    for (uint32_t rows = r->svc->stages_cancel; rows; rows &= rows - 1) {
        const struct gw_stage *st = &stages[__builtin_ctz(rows)];
        if (r->slot[st->slot])
            st->cancel(r, r->slot[st->slot]);
    }
}

int gw__policy_response_headers(struct gw_request *r, struct gw_buf *head)
{
    for (uint32_t rows = r->svc->stages_on_response; rows; rows &= rows - 1) {
        const struct gw_stage *st = &stages[__builtin_ctz(rows)];
        if (r->slot[st->slot]) {
            int rc = st->on_response(r, r->slot[st->slot], head);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

int gw__policy_response_head(struct gw_request *r, struct gw_http1_message *m)
{
    for (uint32_t rows = r->svc->stages_on_response_head; rows; rows &= rows - 1) {
        const struct gw_stage *st = &stages[__builtin_ctz(rows)];
        if (r->slot[st->slot]) {
            int rc = st->on_response_head(r, r->slot[st->slot], m);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

void *gw_stage_alloc(struct gw_request *r, size_t n)
{
    size_t at = (r->arena_used + 15) & ~(size_t)15;
    if (n > sizeof r->arena || at > sizeof r->arena - n)
        return NULL;
    r->arena_used = at + n;
    memset(r->arena + at, 0, n);
    return r->arena + at;
}

void gw_answer_init(struct gw_answer *a, int err)
{
    a->err = err;
    a->status = 0;
    a->service = NULL;
    a->reason = NULL;
    a->extra = NULL;
    a->retry_after = 0;
    a->headers = NULL;
    a->close = err == GW_ENOMEM;
    a->empty = false;
    a->raw_headers = NULL;
    a->body = NULL;
    a->body_len = 0;
}
