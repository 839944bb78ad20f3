/*
 * OTLP/HTTP JSON encoding of trace records (https://opentelemetry.io/docs/specs/otlp/): one
 * ExportTraceServiceRequest with one resourceSpans (gantry's resource), one scopeSpans (scope
 * "gantry") and the spans of every record. Ids are lowercase hex strings, enums integers,
 * 64-bit integers decimal strings, as the OTLP JSON mapping requires.
 *
 * Pure functions over a struct gw_buf: any thread (the exporter uses them on the control
 * thread). Each returns 0 or GW_ENOMEM (the buffer's cap).
 */
#ifndef GW_TRACE_OTLP_H
#define GW_TRACE_OTLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config-t.h" /* struct gw_kv */
#include "core/buf.h"
#include "trace/trace-t.h"

/* Who sends: the resource attributes (service.name, service.version, service.instance.id, then
 * extra in order). */
struct gw_otlp_resource {
    const char *service_name;
    const char *service_version;
    const char *instance_id;
    const struct gw_kv *extra;
    size_t nextra;
};

/* Starts a request body: everything up to the first span. */
int gw_otlp_begin(struct gw_buf *b, const struct gw_otlp_resource *res);

/* Appends the spans of t: gantry's SERVER span, then one span per child (INTERNAL for a stage,
 * CLIENT for an upstream try), each a child of the SERVER span. first: no comma before it.
 * Times: t's uv_hrtime() values plus mono_to_unix_ns give Unix nanoseconds. */
int gw_otlp_append(struct gw_buf *b, const struct gw_trace *t, int64_t mono_to_unix_ns, bool first);

/* Ends the body. */
int gw_otlp_end(struct gw_buf *b);

/* How many spans gw_otlp_append writes for t. */
static inline size_t gw_otlp_span_count(const struct gw_trace *t)
{
    return 1u + t->nchild;
}

#endif
