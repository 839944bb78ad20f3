#include "runtime/worker.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn/access_log.h"
#include "conn/background.h"
#include "conn/conn.h"
#include "control/snapshot.h"
#include "core/error.h"
#include "core/log.h"
#include "h2/session.h"
#include "hub/hub.h"
#include "net/acceptor.h"
#include "policy/cache_redis.h"
#include "policy/policy.h"
#include "runtime/server-t.h"
#include "state/ratelimit_redis.h"
#include "state/token_cache.h"
#include "upstream/pool.h"
#include "upstream/tunnel.h"

static void close_retired_redis(struct gw_worker *w, bool force);

static void on_accept(struct gw_acceptor *a, int fd)
{
    gw_conn_adopt(a->conf.data, fd);
}

static void on_accept_tls(struct gw_acceptor *a, int fd)
{
    gw_conn_adopt_tls(a->conf.data, fd);
}

/* Out of descriptors: the connection got the acceptor's spare one; answer 503 and close. */
static void on_reserve(struct gw_acceptor *a, int fd)
{
    gw_conn_refuse(a->conf.data, fd);
}

static void on_sweep(uv_timer_t *t)
{
    struct gw_worker *w = t->data;
    gw_auth_jwks_refreshed(w, true);
    close_retired_redis(w, false);
    gw_pools_sweep(w, w->snap->cfg->upstream.idle_timeout_ms);
}

static void on_flush(uv_check_t *h)
{
    struct gw_worker *w = h->data;
    if (w->access.len)
        gw_access_flush(w);
}

static void on_closed_noop(uv_handle_t *h)
{
    (void)h;
}

/* Closes the retired Redis clients that are idle (all of them with force). */
static void close_retired_redis(struct gw_worker *w, bool force)
{
    unsigned k = 0;
    for (unsigned i = 0; i < w->rl_redis_nretired; i++) {
        struct gw_rl_redis *c = w->rl_redis_retired[i];
        if (force || !gw_rl_redis_busy(c))
            gw_rl_redis_close(c);
        else
            w->rl_redis_retired[k++] = c;
    }
    w->rl_redis_nretired = k;
}

/* Makes the worker's Redis rate-limit client match the snapshot: created when the backend is
 * redis, replaced when its settings change, closed when the backend is local. */
static void sync_redis(struct gw_worker *w)
{
    const struct gw_config *cfg = w->snap->cfg;
    char id[sizeof w->rl_redis_id] = "";
    if (cfg->rate_limit.backend == GW_RL_BACKEND_REDIS && !w->stopping) {
        const struct gw_redis_conf *rc = &cfg->rate_limit.redis;
        snprintf(id, sizeof id, "%s|%u|%s|%s|%u|%llu|%llu|%llu|%u", rc->host, (unsigned)rc->port,
                 rc->username ? rc->username : "", rc->password ? rc->password : "", rc->db,
                 (unsigned long long)rc->timeout_ms, (unsigned long long)rc->backoff_min_ms,
                 (unsigned long long)rc->backoff_max_ms, rc->local_share);
    }
    if (strcmp(id, w->rl_redis_id) == 0)
        return;
    if (w->rl_redis) {
        /* Decisions in flight on the old client finish there (a reload must not fail them);
         * the sweep closes it once idle. */
        if (!w->stopping && gw_rl_redis_busy(w->rl_redis) &&
            w->rl_redis_nretired < sizeof w->rl_redis_retired / sizeof w->rl_redis_retired[0])
            w->rl_redis_retired[w->rl_redis_nretired++] = w->rl_redis;
        else
            gw_rl_redis_close(w->rl_redis);
        w->rl_redis = NULL;
    }
    snprintf(w->rl_redis_id, sizeof w->rl_redis_id, "%s", id);
    if (id[0] == '\0' || w->snap->policy == NULL || w->snap->policy->shared->redis == NULL)
        return;
    const struct gw_redis_conf *rc = &cfg->rate_limit.redis;
    struct gw_rl_redis_conf conf = {
        .host = rc->host,
        .port = rc->port,
        .username = rc->username,
        .password = rc->password,
        .db = rc->db,
        .timeout_ms = rc->timeout_ms,
        .backoff_min_ms = rc->backoff_min_ms,
        .backoff_max_ms = rc->backoff_max_ms,
        .local_share = rc->local_share,
    };
    if (gw_rl_redis_new(&w->rl_redis, &w->loop, &conf, w->snap->policy->shared->redis) < 0) {
        gw_log_error("worker %u: cannot create the Redis rate-limit client", w->id);
        w->rl_redis = NULL;
        w->rl_redis_id[0] = '\0';
    }
}

/* The response cache's Redis client (policy/cache_redis.h), in step with the snapshot. */
static void sync_cache_redis(struct gw_worker *w)
{
    if (gw_cache_redis_sync(&w->cache_redis, &w->loop, w->snap->cfg, w->stopping) < 0)
        gw_log_error("worker %u: cannot create the cache's Redis client: cached services with "
                     "backend redis go upstream",
                     w->id);
}

static void on_publish(uv_async_t *a)
{
    struct gw_worker *w = a->data;
    struct gw_keyset *ks = atomic_exchange(&w->pending_jwks, NULL);
    if (ks) {
        /* New keys (not the same set published again to answer waiting requests): tokens
         * verified with a key that is gone must not live on in the cache. Each worker flushes
         * when it switches, so an entry another worker added with the old set just before its
         * own switch is flushed by that switch. */
        bool changed = w->jwks == NULL || w->jwks->generation != ks->generation;
        gw_keyset_unref(w->jwks);
        w->jwks = ks;
        if (changed && w->snap->policy && w->snap->policy->jwt_tokens)
            gw_token_cache_clear(w->snap->policy->jwt_tokens);
        gw_auth_jwks_refreshed(w, false);
    }
    struct gw_snapshot *s = atomic_exchange(&w->pending, NULL);
    if (!s)
        return;
    struct gw_snapshot *old = w->snap;
    w->snap = s;
    gw_snapshot_unref(old);
    gw_pools_drain_gone(w, s);
    sync_redis(w);
    sync_cache_redis(w);
}

void gw_worker_publish(struct gw_worker *w, struct gw_snapshot *snap)
{
    gw_snapshot_ref(snap);
    struct gw_snapshot *stale = atomic_exchange(&w->pending, snap);
    if (stale)
        gw_snapshot_unref(stale); /* published and superseded before the worker woke */
    uv_async_send(&w->publish);
}

void gw_worker_publish_keyset(struct gw_worker *w, struct gw_keyset *ks)
{
    atomic_fetch_add_explicit(&ks->refs, 1, memory_order_relaxed);
    struct gw_keyset *stale = atomic_exchange(&w->pending_jwks, ks);
    gw_keyset_unref(stale);
    uv_async_send(&w->publish);
}

/* A stopping worker with no connection left closes its own handles, which ends its loop. Runs
 * on every wakeup of a stopping worker (the last connection to close sends one). */
static void maybe_finish(struct gw_worker *w)
{
    if (!w->stopping || w->nconns > 0 || w->ntunnels > 0 || gw_hub_worker_conns(w) > 0 ||
        w->nbackground > 0 || uv_is_closing((uv_handle_t *)&w->wakeup))
        return;
    gw_hub_worker_close(w);
    gw_pools_sweep(w, 0);
    if (w->access.len)
        gw_access_flush(w);
    sync_redis(w); /* stopping: closes the client */
    sync_cache_redis(w);
    close_retired_redis(w, true);
    uv_close((uv_handle_t *)&w->sweep, on_closed_noop);
    uv_close((uv_handle_t *)&w->flush, on_closed_noop);
    uv_close((uv_handle_t *)&w->wakeup, on_closed_noop);
    uv_close((uv_handle_t *)&w->publish, on_closed_noop);
}

/* First wake-up: stop accepting, let requests in flight finish, close idle connections.
 * A second one (the drain timeout passed): close everything. */
static void on_wakeup(uv_async_t *a)
{
    struct gw_worker *w = a->data;
    bool force = atomic_load(&w->stop_level) >= 2;
    if (!w->stopping) {
        w->stopping = true;
        /* Closing a listening socket resets the connections in its accept queue: clients that
         * connected a moment ago would see a reset instead of an answer. So first accept
         * everything queued; those connections get their request answered with
         * Connection: close like every other one during the drain. */
        gw_acceptor_drain(&w->acceptor, 4096);
        gw_acceptor_close(&w->acceptor, NULL);
        if (w->has_tls) {
            gw_acceptor_drain(&w->tls_acceptor, 4096);
            gw_acceptor_close(&w->tls_acceptor, NULL);
        }
    }
    struct gw_list *it = w->conns.next;
    while (it != &w->conns) {
        struct gw_conn *c = gw_container_of(it, struct gw_conn, link);
        it = it->next;
        /* Idle keep-alive connections go now; one that has not sent its first request yet
         * (just accepted, maybe from the accept-queue sweep) gets to send it. */
        if (force)
            gw_conn_force_stop(c); /* an HTTP/2 one with tunnels: close frames 1001 first */
        else if (!c->h2 && !c->req && c->requests > 0)
            gw_conn_close(c);
        else if (c->h2)
            gw_conn_going_away(c); /* GOAWAY; closes once its streams are done */
    }
    /* Tunnels live through the drain until its timeout, then hear a close frame 1001. */
    if (force) {
        gw_tunnels_going_away(w);
        gw_hub_worker_going_away(w);
        gw_background_abort_all(w);
    }
    gw_pools_sweep(w, 0);
    maybe_finish(w);
}

static void worker_main(void *arg)
{
    struct gw_worker *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    atomic_fetch_add(&w->server->exited, 1);
    uv_async_send(w->server->exit_async);
}

int gw_worker_start(struct gw_worker *w)
{
    int rc = uv_loop_init(&w->loop);
    if (rc < 0)
        return rc;
    gw_list_init(&w->conns);
    gw_list_init(&w->tunnels);
    gw_list_init(&w->background);
    gw_list_init(&w->jwks_waiters);
    gw_pools_init(&w->pools);
    gw_buf_init(&w->access, 1u << 20);
    gw_bufcache_init(&w->conn_bufs, GW_CONN_BUF_SIZE);
    gw_bufcache_init(&w->upconn_bufs, GW_UPCONN_BUF_SIZE);
    gw_bufcache_init(&w->request_bufs, 0); /* sized by the first request (conn/conn.c) */
    gw_bufcache_init(&w->h2_streams, 0);   /* sized by the first stream (h2/session.c) */
    struct gw_acceptor_conf ac = {.name = "proxy listener",
                                  .on_accept = on_accept,
                                  .on_reserve = on_reserve,
                                  .stats = &w->server->accept,
                                  .data = w};
    rc = gw_acceptor_start(&w->acceptor, &w->loop, w->listen_fd, &ac);
    if (rc < 0) {
        gw_log_error("worker %u: listen: %s", w->id, uv_strerror(rc));
        return rc;
    }
    if (w->has_tls) {
        struct gw_acceptor_conf tc = ac;
        tc.name = "HTTPS listener";
        tc.on_accept = on_accept_tls;
        rc = gw_acceptor_start(&w->tls_acceptor, &w->loop, w->tls_fd, &tc);
        if (rc < 0) {
            gw_log_error("worker %u: listen (tls): %s", w->id, uv_strerror(rc));
            return rc;
        }
    }
    uv_async_init(&w->loop, &w->wakeup, on_wakeup);
    w->wakeup.data = w;
    uv_async_init(&w->loop, &w->publish, on_publish);
    w->publish.data = w;
    uv_timer_init(&w->loop, &w->sweep);
    w->sweep.data = w;
    uv_timer_start(&w->sweep, on_sweep, 1000, 1000);
    uv_unref((uv_handle_t *)&w->sweep);
    uv_check_init(&w->loop, &w->flush);
    w->flush.data = w;
    uv_check_start(&w->flush, on_flush);
    uv_unref((uv_handle_t *)&w->flush);
    sync_redis(w);
    sync_cache_redis(w);
    if (w->server->hub && gw_hub_worker_start(w->server->hub, w) < 0)
        return GW_ENOMEM;
    return uv_thread_create(&w->thread, worker_main, w);
}

void gw_worker_request_stop(struct gw_worker *w, bool force)
{
    int level = force ? 2 : 1;
    int cur = atomic_load(&w->stop_level);
    while (cur < level && !atomic_compare_exchange_weak(&w->stop_level, &cur, level))
        ;
    uv_async_send(&w->wakeup);
}

void gw_worker_join(struct gw_worker *w)
{
    uv_thread_join(&w->thread);
    int rc = uv_loop_close(&w->loop);
    if (rc != 0)
        gw_log_warn("worker %u: loop closed with live handles", w->id);
    gw_pools_free(&w->pools);
    gw_buf_free(&w->access);
    gw_bufcache_clear(&w->conn_bufs);
    gw_bufcache_clear(&w->upconn_bufs);
    gw_conn_requests_clear(w);
    gw_h2_spares_clear(&w->h2_streams);
    free(w->tls_rbuf);
    w->tls_rbuf = NULL;
    gw_snapshot_unref(atomic_exchange(&w->pending, NULL));
    gw_keyset_unref(atomic_exchange(&w->pending_jwks, NULL));
    gw_keyset_unref(w->jwks);
    w->jwks = NULL;
    gw_snapshot_unref(w->snap);
    w->snap = NULL;
}
