/*
 * A TLS session (tls/stream.h) on a libuv stream: the one place that sends what a session has
 * for its peer (handshake messages, tickets, records, alerts) the way every writer in gantry
 * writes: try the socket at once, copy into a write request only what it does not take.
 *
 * Shared by every owner of a TLS session on a socket: the HTTPS listener's connections
 * (conn/conn_tls.c), connections to https:// targets (upstream/upconn_tls.c), and what those
 * become after a 101 (upstream/tunnel.c, hub/conn.c). Worker thread of the stream's loop.
 */
#ifndef GW_TLS_IO_H
#define GW_TLS_IO_H

#include <uv.h>

struct gw_tls_stream;

/* Sends what t holds for the peer on s. Returns 1 when all of it went out now (or there was
 * nothing), 0 when some was queued, or a negative code (UV_E*, GW_ENOMEM; what t held is then
 * dropped). A queued write runs cb, when not NULL, once it completed, with req->data = data;
 * cb must free req (one allocation with the bytes). Without cb the request frees itself. */
int gw_tls_io_send(struct gw_tls_stream *t, uv_stream_t *s, uv_write_cb cb, void *data);

/* Encrypts p[0..n) and sends it with gw_tls_io_send (same results and cb contract); GW_ETLS
 * when the session refused to encrypt. */
int gw_tls_io_write(struct gw_tls_stream *t, uv_stream_t *s, const char *p, size_t n,
                    uv_write_cb cb, void *data);

/* Encrypts bufs[0..n) as if they were one piece: pieces that fit share a TLS record (a small
 * response's head and body are one record, not two: each record costs an AEAD seal, 22 bytes of
 * framing and the peer's open; SSL_write makes one record per call at least). Larger ones are
 * cut into whole records. Sends nothing (gw_tls_io_send does). 0 or GW_ETLS. */
int gw_tls_io_encrypt(struct gw_tls_stream *t, const uv_buf_t *bufs, unsigned n);

#endif
