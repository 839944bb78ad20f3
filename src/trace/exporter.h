/*
 * The trace exporter: the control thread's half of tracing (docs/tracing.md). It owns one ring
 * per worker (trace/ring.h), drains them on a timer, encodes each record as OTLP JSON
 * (trace/otlp.h) into the next batch's body as it arrives, and POSTs each batch to
 * tracing.endpoint over one kept-alive connection (net/keepalive.h). The request path never
 * waits for any of it.
 *
 * Contract
 * - Control thread only (the loop given to gw_tracer_new), except gw_tracer_ring's rings, which
 *   their workers push into.
 * - One export in flight at a time. While it is, the next batch fills up to batch_size and then
 *   draining stops: the workers' rings fill and further traces are dropped there and counted.
 * - A failed export holds exports back for a backoff (1 s doubling to 30 s, jittered, reset by a
 *   success; trace/retry.h) or the collector's Retry-After (up to 60 s). When the failure is
 *   one the OTLP/HTTP specification retries (no connection, a timeout, 429, 502, 503, 504), its
 *   batch is kept, one batch at most, and sent again first when the wait is over (while it
 *   waits, the next batch fills as above); a batch whose next try would start more than 60 s
 *   after its first failure, or that failed otherwise (another status), is dropped and its
 *   spans count as failed. Logging: one line when exports start failing, one when they work
 *   again, and at most one a minute about batches dropped in between.
 * - Memory is bounded: per worker a ring of queue_size * 512 bytes (trace/ring.h) and at most
 *   1024 records kept for reuse; here one record and two encoded bodies of at most batch_size
 *   spans.
 */
#ifndef GW_TRACE_EXPORTER_H
#define GW_TRACE_EXPORTER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config/config-t.h"

struct gw_tracer;
struct gw_trace_queue;

/* Counters since start, for /gateway/status (all in spans). */
struct gw_tracer_stats {
    bool exporting;           /** an endpoint is configured */
    uint64_t exported;        /** accepted by the collector (2xx) */
    uint64_t failed;          /** in batches dropped after their export failed (see above) */
    uint64_t dropped;         /** lost because a worker's queue was full */
    uint64_t queued;          /** waiting in the workers' queues (traces) */
    uint64_t pending;         /** in the batch being built, the export in flight, the held one */
    uint64_t exports_ok;      /** requests to the collector that succeeded */
    uint64_t exports_failed;  /** ... and that failed (retried afterwards or not) */
    uint64_t exports_retried; /** requests that sent a batch again after it failed */
    const char *last_error;   /** why the last failed export failed ("" when none) */
};

/* Creates the exporter on the control thread's loop with one ring per worker (cfg's
 * tracing.queue_size each, bound at start) and cfg's settings. 0, or GW_ENOMEM. */
int gw_tracer_new(struct gw_tracer **out, uv_loop_t *loop, unsigned nworkers,
                  const struct gw_config *cfg);

/* Worker i's queue (trace/ring.h): set into the worker before it starts. */
struct gw_trace_queue *gw_tracer_queue(struct gw_tracer *t, unsigned i);

/* A reload: takes cfg's tracing settings (a changed queue_size waits for the next start).
 * 0, or GW_ENOMEM (the old settings stay). */
int gw_tracer_update(struct gw_tracer *t, const struct gw_config *cfg);

/* The workers have stopped: sends what is left (a held batch once more, whatever wait the
 * collector asked for, then what the workers left), all of it bounded by 2 s, then closes the
 * exporter's handles. NULL-safe. */
void gw_tracer_stop(struct gw_tracer *t);

/* Frees everything, once the loop has run the close callbacks (after gw_tracer_stop) or never
 * ran. NULL-safe. */
void gw_tracer_free(struct gw_tracer *t);

void gw_tracer_stats(struct gw_tracer *t, struct gw_tracer_stats *out);

#endif
