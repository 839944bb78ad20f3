/*
 * hiredis on libuv: the event hooks of one redisAsyncContext as a uv_poll_t on its socket.
 *
 * Why not hiredis's own header-only adapters/libuv.h: in hiredis 0.14 (Debian 12) its poll
 * callback returns at once when libuv reports an error status, and libuv reports a refused
 * connect or a reset exactly that way (POLLERR) and stops the watcher. hiredis would never
 * learn of the error: a refused connect would look like a connect timeout and a reset like a
 * hang. Here an error hands hiredis the events it was waiting for, so its own read or write
 * meets the socket error and it fails the context the usual way. (That adapter also leaks its
 * state when uv_poll_init fails.)
 *
 * Loop thread only. The poll handle and its memory belong to the context: hiredis calls the
 * cleanup hook when it frees the context, which closes the handle; the memory goes in the
 * handle's close callback, so the loop must run once more before uv_loop_close.
 */
#ifndef GW_STATE_REDIS_UV_H
#define GW_STATE_REDIS_UV_H

#include <hiredis/async.h>
#include <uv.h>

/* Attaches ac (fresh from redisAsyncConnect, nothing attached yet) to loop. Returns 0,
 * GW_ENOMEM or a libuv code (then nothing is attached and the caller frees ac). */
int gw_redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop);

#endif
