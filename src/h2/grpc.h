/*
 * gRPC over HTTP/2, the parts gantry reads or writes itself (the gRPC protocol document,
 * "PROTOCOL-HTTP2"): the content type that marks a gRPC request, the grpc-timeout header, the
 * status a gateway answer maps to, and grpc-message's percent-encoding. Pure functions: no
 * allocation, no I/O; fuzzed by fuzz/fuzz_grpc_timeout.c.
 */
#ifndef GW_H2_GRPC_H
#define GW_H2_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* gRPC status codes gantry answers with (the gRPC "Status codes and their use"). */
enum gw_grpc_status {
    GW_GRPC_OK = 0,
    GW_GRPC_CANCELLED = 1,
    GW_GRPC_UNKNOWN = 2,
    GW_GRPC_INVALID_ARGUMENT = 3,
    GW_GRPC_DEADLINE_EXCEEDED = 4,
    GW_GRPC_NOT_FOUND = 5,
    GW_GRPC_PERMISSION_DENIED = 7,
    GW_GRPC_RESOURCE_EXHAUSTED = 8,
    GW_GRPC_UNIMPLEMENTED = 12,
    GW_GRPC_INTERNAL = 13,
    GW_GRPC_UNAVAILABLE = 14,
    GW_GRPC_UNAUTHENTICATED = 16,
};

/* Whether a content-type value names gRPC: "application/grpc", alone or followed by "+codec"
 * or ";parameters" (case-insensitive, as media types are). */
bool gw_grpc_is_content_type(const char *v, size_t n);

/* Parses a grpc-timeout value: TimeoutValue (1 to 8 ASCII digits) then one TimeoutUnit
 * (H hours, M minutes, S seconds, m milliseconds, u microseconds, n nanoseconds), nothing
 * else. *ms gets the timeout in milliseconds, rounded up (so "1n" is 1 ms, never 0).
 * 0, or GW_EINVAL for anything else. */
int gw_grpc_timeout_parse(const char *v, size_t n, uint64_t *ms);

/* Writes a grpc-timeout value for ms milliseconds into out (at least 12 bytes): "<ms>m", or
 * in seconds ("S", rounded up) or hours when the milliseconds need more than 8 digits. The
 * length written. */
size_t gw_grpc_timeout_format(uint64_t ms, char *out, size_t cap);

/* The gRPC status for an answer with HTTP status `http` (gRPC's "HTTP to gRPC Status Code
 * Mapping", with the gateway's own cases: 429 is RESOURCE_EXHAUSTED, 504 and 408
 * DEADLINE_EXCEEDED, 501 UNIMPLEMENTED). */
enum gw_grpc_status gw_grpc_status_of_http(int http);

/* The grpc-status field among header or trailer lines ("name: value\r\n", as
 * h2/client.h keeps them; the name case-insensitive, spaces around the value ignored): -1 when
 * there is none, else its value, a decimal of 1 to 9 digits, or INT_MAX when the value is
 * anything else (the first grpc-status counts). */
int gw_grpc_status_field(const char *lines, size_t len);

/* Percent-encodes a grpc-message value: bytes outside 0x20..0x7e and '%' become "%XX".
 * Writes at most cap - 1 bytes and a NUL (a value that does not fit is cut at a whole
 * character); returns the length written. */
size_t gw_grpc_message_encode(const char *in, char *out, size_t cap);

#endif
