/*
 * Upstream connections and the per-worker keep-alive pools that hold the idle ones.
 *
 * An idle pooled connection keeps reading: if the upstream closes it (or sends anything,
 * which is a protocol error when no request is outstanding) it is closed and dropped at
 * once. On reuse it is checked again with a non-blocking peek, because a close can be in
 * the same event batch as the request that wants the connection.
 */
#ifndef GW_UPSTREAM_POOL_H
#define GW_UPSTREAM_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "core/list.h"

struct gw_worker;
struct gw_request;
struct gw_target;

struct gw_pool {
    struct gw_pool *next; /* hash chain */
    struct gw_list idle;  /* most recently used first */
    unsigned nidle;
    char key[300];
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
    unsigned open_handles;
    bool reading;
    bool connected;
    bool closing;
};

void gw_pools_init(struct gw_pools *p);
void gw_pools_free(struct gw_pools *p);

#define GW_UPCONN_BUF_SIZE 65536

/* Takes an idle connection to the target, or NULL. With verify, a non-blocking peek first
 * proves the upstream has not closed it: for requests that cannot be retried. Requests that
 * can be retried skip the syscall and are retried on a fresh connection if it was dead. */
struct gw_upconn *gw_pool_acquire(struct gw_worker *w, const struct gw_target *t, bool verify);

/* Reading from the upstream: started once when connected, stopped only for backpressure. */
void gw_upconn_read_start(struct gw_upconn *uc);
void gw_upconn_read_stop(struct gw_upconn *uc);

/* Returns a connection whose exchange completed cleanly to its pool (or closes it when the
 * pool is full). */
void gw_pool_release(struct gw_upconn *uc);

/* Starts a new connection to the target; cb runs on completion with 0 or a UV_E* code. */
int gw_upconn_connect(struct gw_worker *w, const struct gw_target *t, struct gw_request *req,
                      struct gw_upconn **out, uv_connect_cb cb);

/* Closes (and later frees) the connection; safe to call twice. */
void gw_upconn_close(struct gw_upconn *uc);

/* Closes idle connections older than idle_ms; and with idle_ms == 0, every idle one. */
void gw_pools_sweep(struct gw_worker *w, uint64_t idle_ms);

#endif
