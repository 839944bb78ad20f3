/*
 * Active health checks of targets that speak HTTP/2 (services with upstream_protocol "h2c", or
 * "h2" over TLS; control/health.c): a probe's GET as an HTTP/2 stream, and the status of its
 * answer; or, for health_check.type "grpc", a grpc.health.v1.Health/Check call and the serving
 * status it answers (h2/grpc_health.h). No I/O: bytes out, bytes in (plaintext: health.c does
 * the TLS). Control thread.
 */
#ifndef GW_CONTROL_HEALTH_H2_H
#define GW_CONTROL_HEALTH_H2_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

struct gw_health_h2;

/* A client session with one stream, GET path at authority (:scheme "https" when https), its
 * bytes (connection preface, SETTINGS, HEADERS) appended to out. NULL when out of memory. */
struct gw_health_h2 *gw_health_h2_start(const char *authority, const char *path, bool https,
                                        struct gw_buf *out);

/* A client session with one gRPC call, grpc.health.v1.Health/Check asking about `service`
 * (NULL or "": the server as a whole), its bytes (preface, SETTINGS, HEADERS, the request
 * message) appended to out; https: over TLS (":scheme https"). NULL when out of memory or the
 * name is too long. */
struct gw_health_h2 *gw_health_h2_start_grpc(const char *authority, const char *service, bool https,
                                             struct gw_buf *out);

/* Feeds n bytes from the target. A GET: 0 while the final response head has not come, its
 * status (200..599) once it has. A gRPC call: 0 until the call ended, then 1 (read the outcome
 * with gw_health_h2_grpc_failure). Either: a negative code for a protocol error or a reset
 * stream. */
int gw_health_h2_input(struct gw_health_h2 *h, const char *p, size_t n);

/* After a gRPC call ended: NULL when the target answered grpc-status 0 with a
 * HealthCheckResponse whose status is SERVING; else why the check fails ("serving status
 * NOT_SERVING", "grpc-status 12", "HTTP status 404", "no grpc-status", "malformed
 * HealthCheckResponse", ...), valid while h is. */
const char *gw_health_h2_grpc_failure(const struct gw_health_h2 *h);

/* NULL-safe. */
void gw_health_h2_free(struct gw_health_h2 *h);

#endif
