/*
 * Upstream connections and the per-worker pools that keep the idle ones. Types only: the
 * worker embeds its pools; upstream/pool.h has the functions.
 */
#ifndef GW_UPSTREAM_POOL_T_H
#define GW_UPSTREAM_POOL_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/list.h"

struct gw_worker;
struct gw_request;
struct gw_target;
struct gw_tls_session;
struct gw_upconn_tls;
struct gw_h2up_conns;

struct gw_pool {
    struct gw_pool *next; /* hash chain */
    struct gw_list idle;  /* most recently used first */
    unsigned nidle;
    /** https:// targets: the newest TLS session a connection of this pool received, offered
     * by the next new connection (upstream/upconn_tls.c); NULL when none */
    struct gw_tls_session *tls_session;
    /** HTTP/2 targets: the connections to it, each shared by many requests
     * (upstream/h2_upstream.c, made on first use; NULL until then); the idle list stays empty.
     * A pointer, not the list itself: the pool keeps its allocation size */
    struct gw_h2up_conns *h2;
    bool in_use; /** gw_pools_drain_gone: a target of the current snapshot uses it */
    char key[328];
};

struct gw_pools {
    struct gw_pool **buckets;
    size_t nbuckets;
};

struct gw_upconn {
    uv_tcp_t tcp;
    uv_timer_t timer; /** connect timeout, then response / send timeouts of its request */
    uv_connect_t connect_req;
    uv_write_t write_req;
    struct gw_worker *w;
    struct gw_pool *pool;
    struct gw_request *req; /** owner while a request uses it; NULL when idle */
    struct gw_list link;    /** in pool->idle while idle */
    uint64_t idle_since;
    char *buf; /** response bytes read and not yet consumed */
    size_t len;
    size_t off;
    size_t cap;
    uint64_t requests; /** requests served on this connection */
    /** the TLS side of a connection to an https:// target (upstream/upconn_tls.c), or NULL */
    struct gw_upconn_tls *tls;
    unsigned open_handles;
    bool reading;
    bool connected;
    bool closing;
    /** the failure that ends the connection was logged already (a TLS error with its reason):
     * the proxy counts it without a second line */
    bool failure_logged;
};

#endif
