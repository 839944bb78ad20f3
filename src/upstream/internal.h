/*
 * Helpers shared by the files of upstream/, not used outside it (and its unit tests).
 */
#ifndef GW_UPSTREAM_INTERNAL_H
#define GW_UPSTREAM_INTERNAL_H

#include <stdbool.h>
#include <uv.h>

#include "upstream/pool-t.h"

struct gw_tls_stream;
struct gw_target;

/* upstream/upconn_tls.c: the TLS side of a connection to an https:// target.
 *
 * connect: starts the TCP connect of uc (its tcp handle initialised) to t, then the handshake;
 * cb runs once, with 0 when the handshake completed (the connection is then usable like a plain
 * one), or with a UV_E* code (connect failed) or GW_EUPTLS (the handshake failed: logged with
 * OpenSSL's reason and counted). Never inline. 0 or a negative code (cb will not run). */
int gw__upconn_tls_connect(struct gw_upconn *uc, const struct gw_target *t, uv_connect_cb cb);

/* Reading (replaces pool.c's callbacks for TLS connections): ciphertext in, plaintext into
 * uc->buf for the proxy. read_start also drains plaintext the session still holds (from an idle
 * handle: never inside the caller). */
void gw__upconn_tls_read_start(struct gw_upconn *uc);

/* Writing: gw_upconn_tls_write (pool.h, behind the inline gw_upconn_write) encrypts the
 * caller's buffers (copied: they are free on return) and sends the records: 1 when all went out
 * now, 0 when some wait in a queued write (cb runs when it is written, req->data == uc). */

/* The session of an established connection, handed to a tunnel after a 101 (proxy.c
 * hand_over): reading stops, and the connection closes without a close_notify. NULL when there
 * is none or ciphertext still waits in the handle's queue (it would be lost with the handle).
 * The session may still hold input (gw_tls_stream_has_input). */
struct gw_tls_stream *gw__upconn_tls_take(struct gw_upconn *uc);

/* Closing: a close_notify is sent when the socket takes it at once; the idle handle is closed
 * (counted in uc->open_handles); free releases the session once every handle closed. */
void gw__upconn_tls_close(struct gw_upconn *uc, uv_close_cb cb);
void gw__upconn_tls_free(struct gw_upconn *uc);

/* upstream/h2_upstream.c: HTTP/2 targets. A request's connection to one is "virtual": its tcp
 * handle never connects; uc->tls is a marker (gw__upconn_tls_h2) whose functions route here,
 * and the bytes it sends and reads are one stream of a connection shared in the pool.
 *
 * connect: attaches uc to a connection of its pool that can take a stream (or a new one); cb
 * runs once, never inline: 0 when the connection is up, else its connect error.
 * write: the proxy's HTTP/1.1 request bytes (gw_upconn_write's contract: 1 taken, 0 pending
 * until cb, or a negative code). read_start: response bytes go on into uc->buf. close: the
 * stream is reset unless complete; the extra handle (the deadline timer) closes with cb. */
struct gw_h2up;
int gw__h2up_connect(struct gw_upconn *uc, const struct gw_target *t, uv_connect_cb cb);
int gw__h2up_write(struct gw_upconn *uc, uv_buf_t *bufs, unsigned n, uv_write_cb cb);
void gw__h2up_read_start(struct gw_upconn *uc);
void gw__h2up_close(struct gw_upconn *uc, uv_close_cb cb);
void gw__h2up_free(struct gw_h2up *hs);
/* Closes the pool's HTTP/2 connections without streams idle for idle_ms (0: all of them). */
void gw__h2up_sweep(struct gw_pool *pl, uint64_t now, uint64_t idle_ms);

/* upconn_tls.c: the marker an HTTP/2 stream's connection carries in uc->tls (NULL: out of
 * memory), and the stream it names. */
struct gw_upconn_tls *gw__upconn_tls_h2(struct gw_h2up *hs);
struct gw_h2up *gw__upconn_tls_h2_of(const struct gw_upconn *uc);

/* pool.c: the upstream connection went away while idle, or a TLS error ended it. */
void gw__upconn_idle_gone(struct gw_upconn *uc, const char *why);

#endif
