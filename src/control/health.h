/*
 * Active health checks, run by the control thread on its own loop.
 *
 * For each service whose "health_check" is on, each of its targets is probed every interval:
 * connect, send `GET <path> HTTP/1.1` with `Host: <target authority>` and `Connection: close`,
 * and read the response head with gantry's own parser. A probe passes when a status within
 * [status_min, status_max] arrives before the timeout; a refused or failed connect, a reset,
 * a close before the head, an invalid head or a status outside the range fails it. Targets of
 * an h2c service get the same GET as an HTTP/2 stream; with health_check.type "grpc", a
 * grpc.health.v1.Health/Check call instead, which passes only when it answers SERVING
 * (control/health_h2.h).
 * healthy_threshold passes in a row make the check UP, unhealthy_threshold failures in a row
 * make it DOWN (a new check is UNKNOWN, which counts as usable); each change is logged once.
 *
 * The verdict goes to the target's shared state (upstream/target_state.h), which the workers
 * read. A target checked by several services is DOWN when any of its checks says DOWN, UP
 * when none says DOWN and one says UP, and UNKNOWN when no check of it remains.
 *
 * The first probe of a new check waits a random 0..10% of the interval, so the targets of a
 * service are not probed in lockstep. See docs/health.md.
 */
#ifndef GW_CONTROL_HEALTH_H
#define GW_CONTROL_HEALTH_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "upstream/target_state.h"

struct gw_snapshot;
struct gw_target_registry;
struct gw_health_checker;

/* What one check knows (for status pages and tests). */
struct gw_health_check_info {
    enum gw_health status; /** this check's verdict */
    uint32_t successes;    /** passes in a row */
    uint32_t failures;     /** failures in a row */
    uint64_t probes;       /** probes finished since the check started */
    char last_error[96];   /** why the last failed probe failed; "" before any failure */
};

/* Control thread. Starts checking the targets of snap's services on loop; the states come
 * from reg (each check holds a reference to its target's state). The snapshot is only read
 * during the call: everything needed is copied. NULL when out of memory (no check started).
 * reg must outlive the checker. */
struct gw_health_checker *gw_health_start(uv_loop_t *loop, struct gw_target_registry *reg,
                                          const struct gw_snapshot *snap);

/* Control thread, after a reload. Checks of (service name, target key) pairs that remain keep
 * running with their counters and verdict, taking the new settings (path, interval, ...,
 * address) from their next probe on; new pairs start (jittered), pairs that are gone stop.
 * Returns 0, or GW_ENOMEM when some new check could not be started (the others run). */
int gw_health_update(struct gw_health_checker *h, const struct gw_snapshot *snap);

/* Control thread. Stops every check and probe and frees the checker; the memory of each
 * handle goes in its close callback, so run the loop afterwards: it then holds no handle of
 * the checker. The verdicts already written to the target states stay. NULL is ignored. */
void gw_health_stop(struct gw_health_checker *h);

/* Control thread. The state of the check of `key` in service `service`: 0 and *out filled,
 * or GW_EINVAL when there is no such check. */
int gw_health_check_info(const struct gw_health_checker *h, const char *service, const char *key,
                         struct gw_health_check_info *out);

/* Control thread. Number of running checks. */
size_t gw_health_count(const struct gw_health_checker *h);

#endif
