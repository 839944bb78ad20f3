/*
 * The running configuration's types: snapshot, services, targets. Types only: every room on
 * the request path reads them; control/snapshot.h builds and refcounts them.
 */
#ifndef GW_CONTROL_SNAPSHOT_T_H
#define GW_CONTROL_SNAPSHOT_T_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/config-t.h"
#include "upstream/breaker-t.h"
#include "upstream/retry-t.h"

struct gw_router;
struct gw_balancer;
struct gw_target_state;
struct gw_target_registry;
struct gw_policy;
struct gw_policy_shared;
struct gw_metrics_set;

/*
 * What changes while a snapshot serves: the balancer's statistics, circuit breakers and the
 * retry budget, shared by every worker (atomics inside). It lives beside the snapshot, not in
 * it: the snapshot stays immutable and holds only a pointer, so nothing casts a const away to
 * record an outcome.
 * Built and freed with the snapshot (a reload starts fresh circuits, as before).
 */
struct gw_service_live {
    struct gw_balancer *balancer;        /** picks and per-target statistics (atomics inside) */
    struct gw_breaker breaker;           /** per service (when breaker_on) */
    struct gw_retry_budget retry_budget; /** per service (when retries_on) */
    struct gw_breaker *target_breakers;  /** per target, same settings (when breaker_on) */
};

struct gw_tls_client;
struct gw_tls_peer_ca;

struct gw_target {
    const struct gw_target_conf *conf;
    /** https:// targets: the service's TLS client context (tls/client.h, borrowed from the
     * service); NULL for http:// */
    struct gw_tls_client *tls;
    struct gw_target_state *state; /** health and ejection, shared and kept across reloads */
    struct gw_breaker *breaker;    /** per-target circuit in the service's live state, or NULL */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char key[300]; /* "host:port": the target's identity (health, ejection, balancer) */
    /** the upstream pool's key across snapshots: key, and for https:// targets "|tls:" and a
     * hash of the TLS settings, so connections made with other settings (CA, client
     * certificate, server name) are never shared */
    char pool_key[327]; /* 327: with h2, the struct keeps its size (792: indexing stays cheap) */
    /** the service's upstream_protocol: 0 (HTTP/1.1), else GW_UPSTREAM_H2 or GW_UPSTREAM_H2C:
     * requests go as streams of shared HTTP/2 connections (upstream/h2_upstream.c) */
    uint8_t h2;
};

struct gw_service {
    const struct gw_service_conf *conf;
    struct gw_target *targets;
    size_t ntargets;
    struct gw_target_state **states; /** targets[i].state, as an array (ejection counting) */
    bool retries_on;                 /** retries configured (the default) */
    struct gw_retry_conf retry;
    bool breaker_on; /** circuit_breaker configured */
    uint32_t stages; /** bit i: row i of the policy chain runs (policy/chain.c) */
    /** Of those rows, by what the chain does with them after on_request (gw_policy_stage_rows):
     * the rows timed into a policy-time histogram, and the rows whose on_response,
     * on_response_head or cancel hook runs (the first row of each slot that has one). */
    uint32_t stages_timed, stages_on_response, stages_on_response_head, stages_cancel;
    struct gw_service_live *live; /** breakers and retry budget (mutable, see above) */
    struct gw_tls_client *tls;    /** for the https:// targets (one reference), or NULL */
    /** client_cert.ca: the bundle a client certificate must also chain to (tls/peer_ca.h),
     * owned; NULL when the service has none */
    struct gw_tls_peer_ca *client_ca;
};

struct gw_tls_ctx;

struct gw_snapshot {
    atomic_int refs;
    uint64_t generation;
    struct gw_config *cfg;
    struct gw_router *router;
    struct gw_service *services;
    size_t nservices;
    struct gw_policy *policy; /** auth and rate limits (policy/policy.h) */
    /** request metrics (metrics/metrics.h): one area per worker; NULL when metrics are off.
     * Attached by the server before the snapshot is published; released when it is freed. */
    struct gw_metrics_set *metrics;
    /** the HTTPS listener's certificates and settings (tls/tls.h); NULL when "tls" is off. A
     * TLS connection takes its own reference at accept. */
    struct gw_tls_ctx *tls;
};

#endif
