#include "upstream/pool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "control/snapshot-t.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/log.h"
#include "metrics/metrics.h"
#include "net/write.h"
#include "runtime/worker-t.h"
#include "tls/client.h"
#include "upstream/internal.h"
#include "upstream/proxy.h"

#define POOL_BUCKETS 256

void gw_pools_init(struct gw_pools *p)
{
    p->buckets = calloc(POOL_BUCKETS, sizeof(*p->buckets));
    p->nbuckets = p->buckets ? POOL_BUCKETS : 0;
}

void gw_pools_free(struct gw_pools *p)
{
    for (size_t i = 0; i < p->nbuckets; i++) {
        struct gw_pool *pl = p->buckets[i];
        while (pl) {
            struct gw_pool *next = pl->next;
            gw_tls_session_free(pl->tls_session);
            free(pl->h2); /* its connections are closed (a draining worker swept them) */
            free(pl);
            pl = next;
        }
    }
    free(p->buckets);
    p->buckets = NULL;
    p->nbuckets = 0;
}

static struct gw_pool *pool_find(const struct gw_pools *p, const char *key, size_t *bucket)
{
    if (!p->nbuckets)
        return NULL;
    size_t b = (size_t)(gw_fnv1a64_str(key) % p->nbuckets);
    if (bucket)
        *bucket = b;
    for (struct gw_pool *pl = p->buckets[b]; pl; pl = pl->next)
        if (strcmp(pl->key, key) == 0)
            return pl;
    return NULL;
}

static struct gw_pool *pool_get(struct gw_pools *p, const char *key)
{
    size_t b = 0;
    if (!p->nbuckets)
        return NULL;
    struct gw_pool *pl = pool_find(p, key, &b);
    if (pl)
        return pl;
    pl = calloc(1, sizeof(*pl));
    if (!pl)
        return NULL;
    gw_list_init(&pl->idle);
    snprintf(pl->key, sizeof(pl->key), "%s", key);
    pl->next = p->buckets[b];
    p->buckets[b] = pl;
    return pl;
}

static void on_upconn_closed(uv_handle_t *h)
{
    struct gw_upconn *uc = h->data;
    if (--uc->open_handles > 0)
        return;
    gw__upconn_tls_free(uc);
    gw_bufcache_put(&uc->w->upconn_bufs, uc->buf);
    free(uc);
}

void gw_upconn_close(struct gw_upconn *uc)
{
    if (uc->closing)
        return;
    uc->closing = true;
    if (!gw_list_empty(&uc->link)) {
        gw_list_remove(&uc->link);
        uc->pool->nidle--;
    }
    uc->req = NULL;
    gw_mx_inc(&uc->w->mx.up_closed);
    if (uc->tls)
        gw__upconn_tls_close(uc, on_upconn_closed);
    uv_close((uv_handle_t *)&uc->tcp, on_upconn_closed);
    uv_close((uv_handle_t *)&uc->timer, on_upconn_closed);
}

/*
 * One read registration for the connection's whole life: starting and stopping reads costs
 * an epoll_ctl each, so a connection moving between a request and the idle pool keeps
 * reading and the callbacks look at who owns it. Reads stop only for backpressure.
 */
static void on_up_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char sink[64];
    struct gw_upconn *uc = h->data;
    (void)suggested;
    if (!uc->req) {
        *buf = uv_buf_init(sink, sizeof(sink));
        return;
    }
    if (!uc->buf) {
        uc->buf = gw_bufcache_get(&uc->w->upconn_bufs);
        uc->cap = uc->buf ? GW_UPCONN_BUF_SIZE : 0;
        uc->len = uc->off = 0;
    }
    if (uc->len == uc->cap && uc->off > 0) {
        memmove(uc->buf, uc->buf + uc->off, uc->len - uc->off);
        uc->len -= uc->off;
        uc->off = 0;
    }
    buf->base = uc->buf ? uc->buf + uc->len : NULL;
    buf->len = uc->buf ? uc->cap - uc->len : 0;
}

static void on_up_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct gw_upconn *uc = s->data;
    (void)buf;
    if (nread == 0)
        return;
    if (!uc->req) {
        /* An idle connection must stay silent: EOF means the upstream closed it, data
         * means the upstream is confused. Either way it is gone. */
        gw__upconn_idle_gone(uc, nread < 0 ? "closed by upstream" : "sent unexpected data");
        return;
    }
    if (nread > 0)
        uc->len += (size_t)nread;
    gw_proxy_upstream_input(uc->req, nread);
}

void gw__upconn_idle_gone(struct gw_upconn *uc, const char *why)
{
    gw_log_debug("upstream %s: idle pooled connection %s", uc->pool->key, why);
    gw_upconn_close(uc);
}

void gw_upconn_read_start(struct gw_upconn *uc)
{
    if (uc->tls) {
        gw__upconn_tls_read_start(uc);
        return;
    }
    if (uc->reading || uc->closing)
        return;
    if (uv_read_start((uv_stream_t *)&uc->tcp, on_up_alloc, on_up_read) == 0)
        uc->reading = true;
}

void gw_upconn_read_stop(struct gw_upconn *uc)
{
    if (!uc->reading)
        return;
    uv_read_stop((uv_stream_t *)&uc->tcp);
    uc->reading = false;
}

/* The peek that catches a close sitting in the same event batch as our request. */
static bool still_open(struct gw_upconn *uc)
{
    uv_os_fd_t fd;
    char ch;
    if (uv_fileno((uv_handle_t *)&uc->tcp, &fd) != 0)
        return false;
    ssize_t n = recv(fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

struct gw_upconn *gw_pool_acquire(struct gw_worker *w, const struct gw_target *t, bool verify)
{
    struct gw_pool *pl = pool_get(&w->pools, t->pool_key);
    if (!pl)
        return NULL;
    while (!gw_list_empty(&pl->idle)) {
        struct gw_upconn *uc = gw_container_of(pl->idle.next, struct gw_upconn, link);
        gw_list_remove(&uc->link);
        pl->nidle--;
        if (!verify || still_open(uc)) {
            gw_mx_inc(&w->mx.up_reused);
            return uc;
        }
        gw_upconn_close(uc);
    }
    return NULL;
}

void gw_pool_release(struct gw_upconn *uc)
{
    struct gw_worker *w = uc->w;
    const struct gw_config *cfg = w->snap->cfg;
    uc->req = NULL;
    uc->len = uc->off = 0;
    if (uc->closing)
        return;
    if (w->stopping || uc->pool->nidle >= cfg->upstream.max_idle_per_target ||
        cfg->upstream.max_idle_per_target == 0) {
        gw_upconn_close(uc);
        return;
    }
    /* Idle connections keep no read buffer: memory per idle connection is its handle. */
    gw_bufcache_put(&w->upconn_bufs, uc->buf);
    uc->buf = NULL;
    uc->cap = 0;
    uc->idle_since = uv_now(&w->loop);
    gw_list_insert_head(&uc->pool->idle, &uc->link);
    uc->pool->nidle++;
    gw_upconn_read_start(uc);
}

int gw_upconn_connect(struct gw_worker *w, const struct gw_target *t, struct gw_request *req,
                      struct gw_upconn **out, uv_connect_cb cb)
{
    struct gw_pool *pl = pool_get(&w->pools, t->pool_key);
    struct gw_upconn *uc = calloc(1, sizeof(*uc));
    *out = NULL;
    if (!uc || !pl) {
        free(uc);
        return GW_ENOMEM;
    }
    uc->w = w;
    uc->pool = pl;
    uc->req = req;
    gw_list_init(&uc->link);
    int rc = uv_tcp_init(&w->loop, &uc->tcp);
    if (rc < 0) {
        free(uc);
        return rc;
    }
    uc->tcp.data = uc;
    uv_timer_init(&w->loop, &uc->timer);
    uc->timer.data = uc;
    uc->open_handles = 2;
    gw_mx_inc(&w->mx.up_opened);
    uc->connect_req.data = uc;
    uv_tcp_nodelay(&uc->tcp, 1);
    if (t->h2)
        rc = gw__h2up_connect(uc, t, cb);
    else if (t->tls)
        rc = gw__upconn_tls_connect(uc, t, cb);
    else
        rc = uv_tcp_connect(&uc->connect_req, &uc->tcp, (const struct sockaddr *)&t->addr, cb);
    if (rc < 0) {
        gw_upconn_close(uc);
        return rc;
    }
    *out = uc;
    return 0;
}

void gw_pools_sweep(struct gw_worker *w, uint64_t idle_ms)
{
    uint64_t now = uv_now(&w->loop);
    for (size_t i = 0; i < w->pools.nbuckets; i++) {
        for (struct gw_pool *pl = w->pools.buckets[i]; pl; pl = pl->next) {
            gw__h2up_sweep(pl, now, idle_ms);
            /* Oldest at the tail: stop at the first one still fresh. */
            while (!gw_list_empty(&pl->idle)) {
                struct gw_upconn *uc = gw_container_of(pl->idle.prev, struct gw_upconn, link);
                if (idle_ms && now - uc->idle_since < idle_ms)
                    break;
                gw_upconn_close(uc);
            }
        }
    }
}

void gw_pools_drain_gone(struct gw_worker *w, const struct gw_snapshot *s)
{
    struct gw_pools *p = &w->pools;
    for (size_t i = 0; i < p->nbuckets; i++)
        for (struct gw_pool *pl = p->buckets[i]; pl; pl = pl->next)
            pl->in_use = false;
    for (size_t i = 0; i < s->nservices; i++) {
        const struct gw_service *svc = &s->services[i];
        for (size_t k = 0; k < svc->ntargets; k++) {
            struct gw_pool *pl = pool_find(p, svc->targets[k].pool_key, NULL);
            if (pl)
                pl->in_use = true;
        }
    }
    uint64_t now = uv_now(&w->loop);
    for (size_t i = 0; i < p->nbuckets; i++) {
        for (struct gw_pool *pl = p->buckets[i]; pl; pl = pl->next) {
            if (pl->in_use)
                continue;
            gw__h2up_sweep(pl, now, 0);
            while (!gw_list_empty(&pl->idle))
                gw_upconn_close(gw_container_of(pl->idle.next, struct gw_upconn, link));
            /* Nothing resumes the session of a pool no target uses (e.g. one made under a CA
             * bundle a reload replaced). */
            gw_tls_session_free(pl->tls_session);
            pl->tls_session = NULL;
        }
    }
}
