/*
 * Tracing on the request path (docs/tracing.md): W3C Trace Context in and out, and the spans of
 * one request — gantry's SERVER span, an INTERNAL span per policy stage that ran, a CLIENT span
 * per upstream try — recorded into a struct gw_trace (trace/trace-t.h).
 *
 * Contract
 * - Worker thread only; nothing here blocks, locks or does I/O. The finished record goes to the
 *   control thread through the worker's ring (trace/ring.h); when the ring is full it is
 *   dropped and counted.
 * - gw_trace_begin runs at dispatch when tracing is on in the request's snapshot; it sets
 *   r->trace (NULL when out of memory: the request goes on untraced) and r->trace_id. Every
 *   other function requires r->trace != NULL: callers test it inline, so that a request with
 *   tracing off pays one test per hook and nothing else.
 * - Sampling: the head decision (ParentBased(TraceIdRatioBased): the caller's sampled flag when
 *   it sent a valid traceparent and parent_based is on, else the service's sample_ratio applied
 *   to the trace id) is made when it is first needed: for the traceparent sent upstream, or at
 *   the end. Every traced request records its spans whatever the decision; at the end, the
 *   record is kept when the head said yes, or when always_sample_errors is on and the request
 *   had an error (a 5xx answer, an aborted exchange, or a failed upstream try). A request
 *   sampled only for its error sent "-00" (not sampled) upstream: its upstreams may not have
 *   recorded their part.
 */
#ifndef GW_TRACE_TRACE_H
#define GW_TRACE_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#include "conn/request-t.h"
#include "core/buf.h"
#include "trace/trace-t.h"

/* A dispatched request on a snapshot with tracing on: starts its trace (see above). */
void gw_trace_begin(struct gw_request *r);

/* A policy stage starts (name: the stage table's static text). A resumed stage keeps the span it
 * opened: a second call before gw_trace_stage_end is a no-op. */
void gw_trace_stage_begin(struct gw_request *r, const char *name);

/* The running stage gave its verdict: let through (a NULL) or answered with a. */
void gw_trace_stage_end(struct gw_request *r, const struct gw_answer *a);

/* An upstream try starts (r->target, r->tries and r->t_try are this try's). When the upstream head
 * is already built (a retry), the traceparent in it gets this try's span id. */
void gw_trace_try_begin(struct gw_request *r);

/* The current try failed in a way the proxy retries: cls is its GW_RETRY_* class
 * (upstream/retry-t.h); for GW_RETRY_STATUS the status is r->rmsg.status. */
void gw_trace_try_failed(struct gw_request *r, int cls);

/* The exchange fails with err (GW_E*): the current try, if any, failed with it. */
void gw_trace_failed(struct gw_request *r, int err);

/* The current try ended at now (uv_hrtime(); the balancer's end_try, which reads the clock for
 * its own latency too): closes its span, classifying an outcome no hook above reported from the
 * request's state. No-op when no try is open. */
void gw_trace_try_end(struct gw_request *r, uint64_t now);

/* Appends "traceparent" (gantry's try span as the parent, the head decision as the flag) and the
 * client's "tracestate" to the upstream request head b (r->head). 0 or GW_ENOMEM. */
int gw_trace_upstream_headers(struct gw_request *r, struct gw_buf *b);

/* The request ended (aborted: the exchange did not complete). Completes the record, decides, and
 * hands it to the control thread or frees it; r->trace is NULL afterwards. */
void gw_trace_end(struct gw_request *r, bool aborted);

/* The name of an enum gw_rl_outcome for logs and spans ("allowed", "limited", "fallback",
 * "failed"), or NULL for GW_RL_OUTCOME_NONE. Any thread. */
const char *gw_trace_rl_outcome_name(unsigned outcome);

/* The sampling decision for a trace id under a ratio (TraceIdRatioBased): true for a share
 * `ratio` of uniformly random ids, the same answer for the same id everywhere. Pure. */
bool gw_trace_ratio_sampled(const struct gw_trace_id *id, double ratio);

#endif
