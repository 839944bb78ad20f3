/*
 * Metric types only (HAProxy's -t.h convention), for the structs that embed counters: the
 * worker's own connection counters. Functions are in metrics/metrics.h.
 */
#ifndef GW_METRICS_METRICS_T_H
#define GW_METRICS_METRICS_T_H

#include <stdatomic.h>
#include <stdint.h>

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");

/* One counter with a single writer (metrics/metrics.h gw_mx_add): relaxed atomic load and store,
 * never a read-modify-write, so readers on other threads see whole values. */
typedef _Atomic uint64_t gw_mx_ctr;

/* A worker's connection counters (labelled by worker id): written by the worker only. */
struct gw_mx_worker {
    gw_mx_ctr accepted;  /** client connections accepted */
    gw_mx_ctr active;    /** client connections open now (a gauge) */
    gw_mx_ctr up_opened; /** upstream connections opened */
    gw_mx_ctr up_closed; /** upstream connections closed */
    gw_mx_ctr up_reused; /** requests sent on a pooled connection */
};

struct gw_metrics_area;
struct gw_metrics_set;

#endif
