/*
 * The two messages of the gRPC health checking protocol (grpc.health.v1, "GRPC Health Checking
 * Protocol"), written and read by hand: the only protobuf gantry speaks.
 *
 *     message HealthCheckRequest  { string service = 1; }
 *     message HealthCheckResponse { ServingStatus status = 1; }
 *     enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
 *
 * On the wire each message is a gRPC Length-Prefixed-Message: a compressed flag byte, a 4-byte
 * big-endian length, then the protobuf bytes. Pure functions: no allocation, no I/O; the reader
 * is fuzzed by fuzz/fuzz_grpc_health.c.
 */
#ifndef GW_H2_GRPC_HEALTH_H
#define GW_H2_GRPC_HEALTH_H

#include <stddef.h>
#include <stdint.h>

/* The method a health check calls. */
#define GW_GRPC_HEALTH_PATH "/grpc.health.v1.Health/Check"

/* HealthCheckResponse.status values. */
enum {
    GW_GRPC_HEALTH_UNKNOWN = 0,
    GW_GRPC_HEALTH_SERVING = 1,
    GW_GRPC_HEALTH_NOT_SERVING = 2,
    GW_GRPC_HEALTH_SERVICE_UNKNOWN = 3,
};

/* The longest service name a request carries (the config check holds names to it). */
#define GW_GRPC_HEALTH_SERVICE_MAX 1024

/* Writes the framed HealthCheckRequest for `service` ("" asks about the server as a whole: the
 * field is then left out, as protobuf does for a default value) into out. The length written,
 * or 0 when it does not fit in cap or the name is longer than GW_GRPC_HEALTH_SERVICE_MAX. */
size_t gw_grpc_health_request(const char *service, uint8_t *out, size_t cap);

/* Reads the response payload of a Check call (the DATA of the stream, whole): exactly one
 * uncompressed Length-Prefixed-Message holding a HealthCheckResponse. Unknown fields are
 * skipped as protobuf requires; a repeated status field keeps the last; an absent one is
 * UNKNOWN (0). 0 and *status (any int32, values outside the enum included), or GW_EINVAL:
 * truncated, trailing bytes, compressed, a malformed varint or field, a group. */
int gw_grpc_health_response(const uint8_t *p, size_t n, int32_t *status);

/* "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN", "UNKNOWN", or "status N"'s "other". */
const char *gw_grpc_health_status_name(int32_t status);

#endif
