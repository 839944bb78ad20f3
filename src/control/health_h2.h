/*
 * Active health checks of targets that speak HTTP/2 (services with upstream_protocol "h2c", or
 * "h2" over TLS; control/health.c): a probe's GET as an HTTP/2 stream, and the status of its
 * answer. No I/O: bytes out, bytes in (plaintext: health.c does the TLS). Control thread.
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

/* Feeds n bytes from the target: 0 while the final response head has not come, its status
 * (200..599) once it has, or a negative code (a protocol error, the stream reset). */
int gw_health_h2_input(struct gw_health_h2 *h, const char *p, size_t n);

/* NULL-safe. */
void gw_health_h2_free(struct gw_health_h2 *h);

#endif
