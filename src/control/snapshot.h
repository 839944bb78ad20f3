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

#include "balance/balancer.h"
#include "control/config.h"
#include "policy/breaker.h"
#include "route/router.h"
#include "upstream/retry.h"

struct gw_target_state;
struct gw_target_registry;
struct gw_policy;
struct gw_policy_shared;

struct gw_target {
    const struct gw_target_conf *conf;
    struct gw_target_state *state; /** health and ejection, shared and kept across reloads */
    struct gw_breaker breaker;     /** per-target circuit (when the service configures one) */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char key[300]; /* "host:port": identifies the upstream pool across snapshots */
};

struct gw_service {
    const struct gw_service_conf *conf;
    struct gw_target *targets;
    size_t ntargets;
    struct gw_balancer *balancer;    /** shared by all workers; picks are lock-free */
    struct gw_target_state **states; /** targets[i].state, as an array (ejection counting) */
    bool retries_on;                 /** retries configured (the default) */
    struct gw_retry_conf retry;
    struct gw_retry_budget retry_budget; /** shared by all workers */
    bool breaker_on;                     /** circuit_breaker configured */
    struct gw_breaker breaker;           /** per service; starts closed with each snapshot */
};

struct gw_snapshot {
    atomic_int refs;
    uint64_t generation;
    struct gw_config *cfg;
    struct gw_router *router;
    struct gw_service *services;
    size_t nservices;
    struct gw_policy *policy; /** auth and rate limits (policy/policy.h) */
};

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
