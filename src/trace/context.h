/*
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): the traceparent and tracestate
 * header values, parsed and written. Pure functions over (buf, len): no allocation, no I/O, any
 * thread. Fuzzed (fuzz/fuzz_traceparent.c); the request path's use is trace/trace.h.
 */
#ifndef GW_TRACE_CONTEXT_H
#define GW_TRACE_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "00-" 32 hex "-" 16 hex "-" 2 hex: the length of a version 00 traceparent. */
#define GW_TRACEPARENT_LEN 55

/* Offset of the parent-id in a traceparent ("00-<trace-id>-"). */
#define GW_TRACEPARENT_SPAN_AT 36

/* trace-flags bit 0: the caller may have recorded its part of the trace. */
#define GW_TRACE_FLAG_SAMPLED 0x01

/* What gantry keeps of a tracestate: "Vendors SHOULD propagate at least 512 characters of a
 * combined header" (W3C 3.3.1.5); the spec also caps the list at 32 members. */
#define GW_TRACESTATE_MAX 512
#define GW_TRACESTATE_MAX_MEMBERS 32

/* A 16-byte trace id as two big-endian halves: hi is the first 16 hex digits. */
struct gw_trace_id {
    uint64_t hi;
    uint64_t lo;
};

struct gw_traceparent {
    struct gw_trace_id trace_id; /** never all zero */
    uint64_t parent_id;          /** the caller's span; never zero */
    uint8_t version;             /** 0x00 to 0xfe */
    uint8_t flags;               /** as received; only GW_TRACE_FLAG_SAMPLED means something */
};

/*
 * Parses one traceparent field value of n bytes (no surrounding whitespace: the HTTP/1 parser
 * trims it). Returns true and fills *out for a value the spec accepts:
 *   - version 00: exactly "00-" 32HEXDIGLC "-" 16HEXDIGLC "-" 2HEXDIGLC, nothing after;
 *   - a later version (01..fe): at least 55 characters, the same layout, and then either the end
 *     or a '-' (W3C 3.2.4 "Versioning of traceparent": parse what version 00 defines, ignore
 *     the rest);
 * and false otherwise: shorter, uppercase or non-hex digits, version ff, an all-zero trace-id
 * or parent-id, misplaced dashes. A caller that gets false starts a new trace and drops the
 * tracestate too (W3C 3.3: "If the vendor failed to parse traceparent, it MUST NOT attempt to
 * parse tracestate").
 */
bool gw_traceparent_parse(const char *s, size_t n, struct gw_traceparent *out);

/* Writes "00-<trace-id>-<span-id>-<flags>" (GW_TRACEPARENT_LEN bytes, no NUL) into out. */
void gw_traceparent_format(const struct gw_trace_id *trace_id, uint64_t span_id, uint8_t flags,
                           char out[GW_TRACEPARENT_LEN]);

/* Writes the 32 lowercase hex digits of id into out (no NUL). */
void gw_trace_id_hex(const struct gw_trace_id *id, char out[32]);

/* Writes the 16 lowercase hex digits of a span id into out (no NUL). */
void gw_span_id_hex(uint64_t id, char out[16]);

/*
 * Validates a tracestate list of n bytes (the values of every tracestate field of the request,
 * joined with ','; W3C 3.3.1: list-members separated by ',' with optional spaces and tabs, empty
 * members allowed) and writes it cleaned into out: the members in order, joined by ',' without
 * whitespace. Returns the length written (0 for an empty list), or -1 when the list is invalid
 * and must be dropped whole: a member that is not key=value as the grammar defines (simple or
 * multi-tenant key, value of 1 to 256 printable characters without ',' or '=' and not ending in a
 * space), a key that appears twice, more than 32 members. When the members would not fit in
 * GW_TRACESTATE_MAX characters, members longer than 128 characters are dropped first, then
 * members from the end (W3C 3.3.1.5). out must hold GW_TRACESTATE_MAX bytes; no NUL is written.
 */
int gw_tracestate_clean(const char *s, size_t n, char out[GW_TRACESTATE_MAX]);

#endif
