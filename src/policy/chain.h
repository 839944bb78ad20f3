/*
 * The policy chain: one static const table of stages that a routed request runs through, in
 * order, before it goes upstream (DESIGN.md "policy stages"). Today: the CORS decision, IP
 * rules, limits that need no identity, CORS preflights, the CSRF check, authentication and
 * authorization, limits keyed by the consumer, transformations, validation, security headers
 * (a response policy: its on_request only chooses the route's headers; the answer hook of
 * policy/answer.h adds them), compression.
 *
 * The stage contract (docs/internals.md "Policy stages"):
 *   - on_request decides: CONTINUE (next stage), RESPOND (the answer it filled in goes to the
 *     client; the stage never writes to the socket), or SUSPEND (async work: a Redis call, an
 *     introspection, a key refresh). A suspended stage finishes later, on the same worker, with
 *     exactly one of gw_policy_resume (run the same stage again: it keeps its progress in its
 *     state) or gw_policy_respond. It never does so before on_request returned.
 *   - state: *slot starts NULL; a stage that needs per-request state takes it from the request
 *     with gw_stage_alloc (zeroed, freed with the request). Stages of one module share a slot.
 *   - on_response adds header lines to every answer of a request whose slot holds state: the
 *     upstream's response and gantry's own (rate-limit headers, later CORS and security headers).
 *   - on_response_head (optional) edits an upstream response's head before gantry builds the
 *     client's from it: its status, its header list, and it may install a body filter
 *     (r->resp_filter). It runs for upstream responses only, before on_response.
 *   - cancel runs when the request goes away with state in the slot: stop async work, unlink.
 * A new policy is one file with its stage functions plus one row in the table (policy/chain.c),
 * its name in enum gw_stage_id (the row's index) and its functions declared in policy/stages.h.
 */
#ifndef GW_POLICY_CHAIN_H
#define GW_POLICY_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn/request-t.h"
#include "core/buf.h"

enum gw_stage_result {
    GW_STAGE_CONTINUE = 0,
    GW_STAGE_RESPOND,
    GW_STAGE_SUSPEND,
};

/* The rows of the table, in the order they run. */
enum gw_stage_id {
    /* the CORS decision (origin allowed?) takes its state before any stage can answer, so
     * every answer, a 429 included, gets its CORS headers; it never answers itself */
    GW_STAGE_CORS = 0,
    /* API versioning: marks deprecated versions (Deprecation, Sunset, Link on every answer,
     * so it takes its state before any stage can answer) and strips a path version segment;
     * the version itself was chosen by the router. Never answers. */
    GW_STAGE_VERSION,
    /* allow and deny lists by client address: the first row that can answer, before anything
     * spends work on the request (after the CORS decision, which never answers, so that a
     * refusal carries the CORS headers an allowed origin needs to read it) */
    GW_STAGE_IPRULES,
    /* limits that need no identity (ip, global, header, route) come first, so that failed
     * logins are limited too and a flood of bad tokens costs at most the limit in verifications
     * and introspection calls */
    GW_STAGE_RATELIMIT_PRE,
    GW_STAGE_CORS_PREFLIGHT,     /* answers CORS preflights (they carry no credentials) */
    GW_STAGE_CSRF,               /* refuses unsafe requests from untrusted origins */
    GW_STAGE_AUTH,               /* authentication, then authorization */
    GW_STAGE_RATELIMIT_CONSUMER, /* the limits keyed by the consumer */
    GW_STAGE_TRANSFORM,          /* request transformations (they may use $consumer) */
    GW_STAGE_VALIDATE,           /* JSON Schema of request bodies (after their transformation) */
    GW_STAGE_CACHE,              /* answers from the response cache; stores what may be stored */
    /* response policies: on_request picks the route's set; the answer hook adds it */
    GW_STAGE_SECHDR,   /* security headers (services with rules only) */
    GW_STAGE_COMPRESS, /* response compression (reads Accept-Encoding) */
    GW_STAGE__COUNT,
};

struct gw_snapshot;

struct gw_stage {
    const char *name;
    uint8_t slot; /* index into r->slot: stages of one module share their state */
    /* Whether the stage has anything to do for service i of snapshot s: asked once per service
     * when the snapshot is built; a stage that does not apply costs a request nothing. */
    bool (*applies)(const struct gw_snapshot *s, size_t i);
    enum gw_stage_result (*on_request)(struct gw_request *r, void **slot, struct gw_answer *a);
    /* Appends header lines (each ending in CRLF) to an answer's head. 0 or GW_ENOMEM. */
    int (*on_response)(struct gw_request *r, void *slot, struct gw_buf *head);
    void (*cancel)(struct gw_request *r, void *slot);
    /* Edits the upstream response head m (r->rmsg) before the client's head is built from it:
     * status and reason, the header list (entries removed, names replaced; new strings must
     * live as long as the request), a body filter. 0 or a negative code (the answer is 502). */
    int (*on_response_head)(struct gw_request *r, void *slot, struct gw_http1_message *m);
    /* Its time from first run to verdict goes to the service's policy-time histogram of the
     * stage (gantry_policy_duration_seconds). For stages whose time varies with what they wait
     * for or compute (rate limits, authentication, body validation); a stage that only edits
     * headers takes less time than the two clock reads that would measure it. */
    bool timed;
};

/* Sets svc->stages (the rows that apply to service i of s; bit k: row k of the table) and the
 * masks derived from it (stages_timed, stages_on_response, stages_on_response_head,
 * stages_cancel), so that a request visits only the rows with work for it. Called while the
 * snapshot is built; svc is &s->services[i]. */
void gw_policy_stage_rows(const struct gw_snapshot *s, size_t i, struct gw_service *svc);

/* True when a row in [from, to) of the table applies to service i of s (asked by an applies
 * function that depends on its neighbours, while the snapshot is built). */
bool gw_policy_rows_apply(const struct gw_snapshot *s, size_t i, unsigned from, unsigned to);

/* The name of row k of the table ("ratelimit", "auth", ...), or NULL past the last row. */
const char *gw_policy_stage_name(size_t k);

/* Runs the chain for a routed request; when every stage lets it through, calls pass(r). */
void gw_policy_run(struct gw_request *r, void (*pass)(struct gw_request *r));

/* A suspended stage's async work completed: run that stage again, then the rest. */
void gw_policy_resume(struct gw_request *r);

/* Refuses a routed request before its chain with answer a (a body too large for the service):
 * the rows before the first that may answer (CORS, versioning) take their state first, so that
 * the refusal carries their headers as any answer of the service does; should one of them
 * answer itself, its answer goes instead. */
void gw_policy_refuse(struct gw_request *r, const struct gw_answer *a);

/* A suspended stage's async work ended with an answer for the client. */
void gw_policy_respond(struct gw_request *r, const struct gw_answer *a);

void gw__policy_cancel(struct gw_request *r);
int gw__policy_response_headers(struct gw_request *r, struct gw_buf *head);
int gw__policy_response_head(struct gw_request *r, struct gw_http1_message *m);

/* The request is going away: cancel every stage's async work. */
static inline void gw_policy_cancel(struct gw_request *r)
{
    if (r->arena_used) /* no stage took state: nothing to cancel (the common case, inline) */
        gw__policy_cancel(r);
}

/* Appends the stages' response headers to head (an upstream response's or gantry's own).
 * 0 or GW_ENOMEM. */
static inline int gw_policy_response_headers(struct gw_request *r, struct gw_buf *head)
{
    return r->arena_used ? gw__policy_response_headers(r, head) : 0;
}

/* Lets the stages edit an upstream response's head (on_response_head) before the client's head
 * is built from it. 0 or a negative code. */
static inline int gw_policy_response_head(struct gw_request *r, struct gw_http1_message *m)
{
    return r->arena_used ? gw__policy_response_head(r, m) : 0;
}

/* n zeroed bytes of per-request memory for a stage's state, freed with the request; NULL when
 * the request's arena is used up (the stage answers GW_ENOMEM). */
void *gw_stage_alloc(struct gw_request *r, size_t n);

/* Fills a with an answer for err (no extras): stages start every answer with it. */
void gw_answer_init(struct gw_answer *a, int err);

#endif
