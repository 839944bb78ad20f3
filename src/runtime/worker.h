/*
 * A worker: one thread, one libuv loop, one SO_REUSEPORT listener. Every client
 * connection and every upstream connection it owns stays on it; nothing on the request
 * path takes a lock.
 */
#ifndef GW_RUNTIME_WORKER_H
#define GW_RUNTIME_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <uv.h>

#include "core/buf.h"
#include "core/list.h"
#include "upstream/pool.h"

struct gw_server;
struct gw_snapshot;

struct gw_rl_redis;
struct gw_keyset;

struct gw_worker {
    uv_loop_t loop;
    uv_thread_t thread;
    uv_tcp_t listener;
    uv_async_t wakeup;                   /* the control thread asks the worker to stop */
    uv_async_t publish;                  /* the control thread published a new snapshot */
    struct gw_snapshot *_Atomic pending; /** published, not yet picked up (one reference) */
    uv_timer_t sweep; /* once a second: idle upstream connections past their timeout */
    uv_check_t flush; /* after each loop iteration: write buffered access-log lines */
    struct gw_server *server;
    unsigned id;
    int listen_fd;
    struct gw_snapshot *snap; /** the snapshot new requests start with */
    struct gw_list conns;     /** every client connection */
    size_t nconns;
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
    bool stopping;
    atomic_int stop_level; /** 0 running, 1 drain, 2 close everything (set by control) */
};

/* Starts the worker's thread. 0 or a negative code. */
int gw_worker_start(struct gw_worker *w);

/* Hands the worker a new snapshot (thread-safe; takes a reference of its own). New
 * requests use it from the worker's next loop iteration; requests in flight keep theirs. */
void gw_worker_publish(struct gw_worker *w, struct gw_snapshot *snap);

/* Hands the worker a JWKS key set (thread-safe; takes a reference of its own). */
void gw_worker_publish_keyset(struct gw_worker *w, struct gw_keyset *ks);

/* Asks the worker to stop accepting and finish its requests (thread-safe); with force, to
 * close every connection now. Levels are kept in an atomic, not counted from wake-ups,
 * because libuv merges async sends that arrive before the worker runs. */
void gw_worker_request_stop(struct gw_worker *w, bool force);

/* Joins the thread and frees what the worker owns. */
void gw_worker_join(struct gw_worker *w);

/* Called by connections when they close or finish a request while stopping. */
void gw_worker_maybe_finish(struct gw_worker *w);

#endif
