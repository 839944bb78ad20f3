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

/* The buckets of the tunnel duration histogram, seconds (the last one, +Inf, is implied). */
#define GW_MX_TUNNEL_BUCKETS 9
#define GW_MX_TUNNEL_LE                                                                            \
    {                                                                                              \
        1, 10, 60, 300, 1800, 3600, 21600, 86400                                                   \
    }

/* A worker's connection counters (labelled by worker id): written by the worker only. */
struct gw_mx_worker {
    gw_mx_ctr accepted;      /** client connections accepted */
    gw_mx_ctr active;        /** client connections open now (a gauge) */
    gw_mx_ctr up_opened;     /** upstream connections opened */
    gw_mx_ctr up_closed;     /** upstream connections closed */
    gw_mx_ctr up_reused;     /** requests sent on a pooled connection */
    gw_mx_ctr tun_open;      /** tunnels (upgraded connections) open now (a gauge) */
    gw_mx_ctr tun_total;     /** tunnels opened */
    gw_mx_ctr tun_bytes_in;  /** bytes from clients through tunnels */
    gw_mx_ctr tun_bytes_out; /** bytes to clients through tunnels */
    /** tunnels closed, by duration: <= GW_MX_TUNNEL_LE[i] seconds, the last one +Inf */
    gw_mx_ctr tun_dur[GW_MX_TUNNEL_BUCKETS];
    gw_mx_ctr tun_dur_ms;        /** the sum of their durations, milliseconds */
    gw_mx_ctr tls_handshakes;    /** TLS handshakes completed */
    gw_mx_ctr tls_resumed;       /** of those, resumed sessions (ticket or cache) */
    gw_mx_ctr tls_failures;      /** TLS connections that ended before their handshake completed */
    gw_mx_ctr up_tls_handshakes; /** TLS handshakes with https:// targets completed */
    gw_mx_ctr up_tls_resumed;    /** of those, resumed sessions */
    gw_mx_ctr up_tls_failures;   /** TLS handshakes with https:// targets that failed */
    gw_mx_ctr h2_conns; /** connections that spoke HTTP/2 (ALPN h2 or prior-knowledge h2c) */
    /** HTTP/2 events, by kind (enum gw_h2_event of h2/session.h, same order): streams, then
     * the protections: rapid reset, PING/SETTINGS flood, CONTINUATION flood, header list too
     * large, protocol errors, streams reset by the client */
    gw_mx_ctr h2_events[11];
};

struct gw_metrics_area;
struct gw_metrics_set;

#endif
