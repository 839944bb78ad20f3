/*
 * When a failed OTLP/HTTP export is sent again (opentelemetry-proto's OTLP/HTTP specification:
 * "Failures", "Retryable Response Codes", "Throttling"): which failures are retried, how long
 * the exporter waits before the next try, and the collector's Retry-After field. The exporter
 * (trace/exporter.c) keeps one failed batch at a time and applies these; docs/tracing.md says
 * what follows for the spans.
 *
 * Contract: pure functions of their arguments; any thread. gw_trace_retry_after_parse never
 * reads outside s[0..n) (fuzz/fuzz_retry_after.c).
 */
#ifndef GW_TRACE_RETRY_H
#define GW_TRACE_RETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The backoff after the first failure in a row, doubled after each one up to the cap. */
#define GW_TRACE_BACKOFF_MIN_MS 1000u
#define GW_TRACE_BACKOFF_MAX_MS 30000u
/* A collector's Retry-After is honoured up to this; a longer one waits this long. */
#define GW_TRACE_RETRY_AFTER_MAX_MS 60000u
/* A batch is given up (its spans dropped and counted) when its next try would start later
 * than this after its first failure. */
#define GW_TRACE_RETRY_WINDOW_MS 60000u

/* Whether an export that ended with err (a GW_E* code; 0: a response came, with status) is
 * worth another try: a failure to connect, send or read, an invalid response or a timeout
 * (GW_EFETCH, GW_EFETCHTIMEOUT), or the statuses the specification names as retryable (429,
 * 502, 503, 504). Not any other status: "The client MUST NOT retry the request when it receives
 * HTTP 400 Bad Request" (nor another 4xx). */
bool gw_trace_export_retryable(int err, int status);

/* The wait after `failures` failures in a row (1: the first): GW_TRACE_BACKOFF_MIN_MS doubling
 * up to GW_TRACE_BACKOFF_MAX_MS, and of that base a uniformly drawn point of its upper half
 * ([base / 2, base], from `random`), so that many gateways that lost the same collector do not
 * come back in step. */
uint64_t gw_trace_export_backoff_ms(unsigned failures, uint64_t random);

/* Parses a Retry-After field value (RFC 9110 10.2.3: delay-seconds, or an HTTP-date, read
 * against now_s, seconds since the epoch; optional whitespace around it): 0 and *delay_ms
 * (0 for a date already past; at most GW_TRACE_RETRY_AFTER_MAX_MS), or -1 when it is neither. */
int gw_trace_retry_after_parse(const char *s, size_t n, int64_t now_s, uint64_t *delay_ms);

#endif
