/*
 * Helpers shared by the files of upstream/, not used outside it (and its unit tests).
 */
#ifndef GW_UPSTREAM_INTERNAL_H
#define GW_UPSTREAM_INTERNAL_H

#include <stdbool.h>
#include <uv.h>

#include "upstream/pool-t.h"

struct gw_tls_stream;

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

/* pool.c: the upstream connection went away while idle, or a TLS error ended it. */
void gw__upconn_idle_gone(struct gw_upconn *uc, const char *why);

#endif
