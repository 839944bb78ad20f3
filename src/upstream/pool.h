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

#include "net/write.h"
#include "upstream/pool-t.h"

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

/* Starts a new connection to the target; cb runs on completion with 0 or a UV_E* code (for
 * an https:// target: once the TLS handshake completed, or GW_EUPTLS when it failed). */
int gw_upconn_connect(struct gw_worker *w, const struct gw_target *t, struct gw_request *req,
                      struct gw_upconn **out, uv_connect_cb cb);

/* The TLS side of gw_upconn_write (upstream/upconn_tls.c). */
int gw_upconn_tls_write(struct gw_upconn *uc, uv_buf_t *bufs, unsigned n, uv_write_cb cb);

/* Sends bufs[0..n) on the connection (encrypted for an https:// target): 1 when all went out
 * now, 0 when the rest is queued (cb(req, status) runs when it is written, req->data == uc;
 * the caller's buffers must stay valid until then on a plain connection; a TLS connection
 * copies them), or a negative code. One queued write at a time. Inline: it is on every
 * request's path, and a plain connection pays one test for TLS. */
static inline int gw_upconn_write(struct gw_upconn *uc, uv_buf_t *bufs, unsigned n, uv_write_cb cb)
{
    if (uc->tls)
        return gw_upconn_tls_write(uc, bufs, n, cb);
    unsigned rest;
    int rc = gw_net_try_write((uv_stream_t *)&uc->tcp, bufs, n, &rest);
    if (rc != 0)
        return rc;
    uc->write_req.data = uc;
    rc = uv_write(&uc->write_req, (uv_stream_t *)&uc->tcp, bufs + rest, n - rest, cb);
    return rc < 0 ? rc : 0;
}

/* An https:// target's connection whose TCP connect completed (its handshake may not have). */
bool gw_upconn_tls_connected(const struct gw_upconn *uc);

/* Closes (and later frees) the connection; safe to call twice. */
void gw_upconn_close(struct gw_upconn *uc);

/* Closes idle connections older than idle_ms; and with idle_ms == 0, every idle one. */
void gw_pools_sweep(struct gw_worker *w, uint64_t idle_ms);

/* After w switched to snapshot s: closes the idle connections of every pool no target of s
 * uses any more (a target removed by a reload, a registration or DNS discovery), so that they
 * do not linger until the idle timeout. Connections in use finish their request; the pools
 * stay (a target may come back). Worker thread. */
struct gw_snapshot;
void gw_pools_drain_gone(struct gw_worker *w, const struct gw_snapshot *s);

#endif
