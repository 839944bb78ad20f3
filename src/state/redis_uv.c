/* hiredis on libuv; see state/redis_uv.h. */
#include "state/redis_uv.h"

#include <stdlib.h>

#include "core/error.h"

struct redis_poll {
    uv_poll_t handle;
    redisAsyncContext *ac; /* NULL once hiredis let go of the context */
    int events;            /* what hiredis waits for: UV_READABLE | UV_WRITABLE */
};

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct redis_poll *p = h->data;
    /* An error (POLLERR: a refused connect, a reset) stopped the watcher: let hiredis try
     * what it was waiting for, so it meets the socket error itself. */
    if (status < 0)
        events = p->events;
    if (p->ac != NULL && (events & UV_READABLE))
        redisAsyncHandleRead(p->ac);
    if (p->ac != NULL && (events & UV_WRITABLE))
        redisAsyncHandleWrite(p->ac);
    if (status < 0 && p->ac != NULL && p->events != 0)
        uv_poll_start(&p->handle, p->events, on_poll);
}

static void poll_update(struct redis_poll *p, int add, int del)
{
    p->events = (p->events | add) & ~del;
    if (p->events != 0)
        uv_poll_start(&p->handle, p->events, on_poll);
    else
        uv_poll_stop(&p->handle);
}

static void on_add_read(void *privdata)
{
    poll_update(privdata, UV_READABLE, 0);
}

static void on_del_read(void *privdata)
{
    poll_update(privdata, 0, UV_READABLE);
}

static void on_add_write(void *privdata)
{
    poll_update(privdata, UV_WRITABLE, 0);
}

static void on_del_write(void *privdata)
{
    poll_update(privdata, 0, UV_WRITABLE);
}

static void on_poll_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_cleanup(void *privdata)
{
    struct redis_poll *p = privdata;
    if (p->ac == NULL)
        return;
    p->ac = NULL;
    uv_close((uv_handle_t *)&p->handle, on_poll_closed);
}

int gw_redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    struct redis_poll *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return GW_ENOMEM;
    int rc = uv_poll_init(loop, &p->handle, ac->c.fd);
    if (rc != 0) {
        free(p);
        return rc;
    }
    p->handle.data = p;
    p->ac = ac;
    ac->ev.data = p;
    ac->ev.addRead = on_add_read;
    ac->ev.delRead = on_del_read;
    ac->ev.addWrite = on_add_write;
    ac->ev.delWrite = on_del_write;
    ac->ev.cleanup = on_cleanup;
    return 0;
}
