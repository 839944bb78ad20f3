/*
 * The running configuration: an immutable, reference-counted snapshot built from a validated
 * gw_config — compiled router, resolved target addresses, per-service runtime state.
 * A request holds a reference for its whole life, so a reload (publishing a new snapshot)
 * never changes the rules under a request in flight.
 */
#ifndef GW_CONTROL_SNAPSHOT_H
#define GW_CONTROL_SNAPSHOT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "control/snapshot-t.h"

/* Builds a snapshot from cfg (ownership of cfg passes to the snapshot, also on failure).
 * Resolves every target address (blocking DNS: call off the request path). The snapshot
 * starts with one reference. ps (may be NULL: no policies run) holds the per-process policy
 * state (rate-limit counters kept across reloads). 0, or GW_EINVAL with why (if not NULL) naming
 * the target, e.g. "services[0].targets[1].url: cannot resolve host "api.internal"". */
int gw_snapshot_build(struct gw_config *cfg, uint64_t generation, struct gw_target_registry *reg,
                      struct gw_policy_shared *ps, struct gw_snapshot **out, char *why,
                      size_t why_cap);

void gw_snapshot_ref(struct gw_snapshot *s);
void gw_snapshot_unref(struct gw_snapshot *s);

#endif
