/*
 * A worker: one thread, one libuv loop, one SO_REUSEPORT listener. Types only: the request
 * path (conn, policy, upstream) reads the worker it runs on without depending on runtime/.
 */
#ifndef GW_RUNTIME_WORKER_T_H
#define GW_RUNTIME_WORKER_T_H

#include <stdatomic.h>
#include <stdbool.h>
#include <uv.h>

#include "core/buf.h"
#include "core/bufcache.h"
#include "core/list.h"
#include "metrics/metrics-t.h"
#include "net/acceptor-t.h"
#include "upstream/pool-t.h"

struct gw_server;
struct gw_snapshot;

struct gw_rl_redis;
struct gw_cache_redis;
struct gw_keyset;
struct gw_trace_queue;
struct gw_hub_local;

struct gw_worker {
    uv_loop_t loop;
    uv_thread_t thread;
    /* the listening socket (listen_fd once started) */
    struct gw_acceptor acceptor;
    /* the HTTPS listener (tls_fd once started), when has_tls (set with tls_fd by the server) */
    struct gw_acceptor tls_acceptor;
    int tls_fd;
    bool has_tls;
    uv_async_t wakeup;  /* the control thread asks the worker to stop; the last connection of a
                         * stopping worker pokes it when it closes (conn/conn.c) */
    uv_async_t publish; /* the control thread published a new snapshot */
    struct gw_snapshot *_Atomic pending; /** published, not yet picked up (one reference) */
    uv_timer_t sweep; /* once a second: idle upstream connections past their timeout */
    uv_check_t flush; /* after each loop iteration: write buffered access-log lines */
    struct gw_server *server;
    unsigned id;
    int listen_fd;
    struct gw_snapshot *snap; /** the snapshot new requests start with */
    struct gw_list conns;     /** every client connection */
    size_t nconns;
    struct gw_list tunnels; /** every tunnel (upstream/tunnel.h) */
    size_t ntunnels;
    struct gw_hub_local *hub;  /** this worker's part of the WebSocket hub (hub/hub.h), or NULL */
    struct gw_list background; /** background requests (conn/background.h) */
    size_t nbackground;
    size_t active;                /** requests in flight */
    struct gw_pools pools;        /** upstream keep-alive pools, per target */
    struct gw_buf access;         /** access-log lines not yet written */
    struct gw_rl_redis *rl_redis; /** Redis rate-limit client (backend redis), or NULL */
    struct gw_keyset *jwks;       /** the JWKS key set this worker verifies with, or NULL */
    struct gw_keyset *_Atomic pending_jwks;  /** published, not yet picked up */
    struct gw_list jwks_waiters;             /** requests holding a token with an unknown kid */
    char rl_redis_id[640];                   /** the settings rl_redis was made with */
    struct gw_rl_redis *rl_redis_retired[4]; /** replaced by a reload, closed once idle */
    unsigned rl_redis_nretired;
    /** the response cache's Redis backend client (policy/cache_redis.h), or NULL */
    struct gw_cache_redis *cache_redis;
    struct gw_mx_worker mx;             /** connection counters (written by this worker only) */
    struct gw_trace_queue *trace_queue; /** traces to and from the control thread (trace/ring.h) */
    char *tls_rbuf; /** ciphertext read buffer of the TLS connections (conn/conn_tls.c), or NULL */
    struct gw_bufcache conn_bufs;    /** client read buffers given back by idle connections */
    struct gw_bufcache upconn_bufs;  /** upstream read buffers given back by idle connections */
    struct gw_bufcache request_bufs; /** finished requests' memory (sized for max_headers) */
    struct gw_bufcache h2_streams;   /** closed HTTP/2 streams with their small buffers (h2/) */
    bool stopping;
    atomic_int stop_level; /** 0 running, 1 drain, 2 close everything (set by control) */
};

#endif
