/*
 * One TLS session over in-memory ciphertext queues (tls/bio.c: one BIO, freed buffers when
 * drained): the caller moves ciphertext between the socket and the session, the session turns
 * it into plaintext and back. No I/O and no event loop here (conn/ does the libuv side), which
 * is what lets the fuzz target drive a handshake with arbitrary bytes.
 *
 *   socket bytes --gw_tls_stream_feed--> [in] SSL [out] --gw_tls_stream_out--> socket
 *   plaintext   <--gw_tls_stream_read--       SSL       <--gw_tls_stream_write-- plaintext
 *
 * The handshake runs inside gw_tls_stream_read. After every feed, read or write the caller
 * sends whatever gw_tls_stream_out holds (handshake messages, tickets, alerts, records).
 * One thread at a time (the connection's worker).
 */
#ifndef GW_TLS_STREAM_H
#define GW_TLS_STREAM_H

#include <stdbool.h>
#include <stddef.h>

struct gw_tls_ctx;
struct gw_tls_stream;

/* gw_tls_stream_read results (besides 0 = *got bytes of plaintext, *got > 0). */
enum {
    GW_TLS_WANT_INPUT = 1, /* nothing to return until more ciphertext is fed */
    GW_TLS_CLOSED = 2,     /* the peer sent close_notify */
};

/* A new session on ctx (takes a reference to it, released by free). NULL when out of memory. */
struct gw_tls_stream *gw_tls_stream_new(struct gw_tls_ctx *ctx);
void gw_tls_stream_free(struct gw_tls_stream *t);

/* Appends n bytes received from the peer. 0 or GW_ENOMEM. */
int gw_tls_stream_feed(struct gw_tls_stream *t, const void *p, size_t n);

/* Runs the handshake when it is not complete, then decrypts up to cap bytes into buf.
 * Returns 0 (*got > 0), GW_TLS_WANT_INPUT, GW_TLS_CLOSED, or a negative code (GW_ETLS: the
 * handshake or a record failed; the reason is in gw_tls_stream_error). */
int gw_tls_stream_read(struct gw_tls_stream *t, char *buf, size_t cap, size_t *got);

/* Whether plaintext or unprocessed ciphertext is still held (a read would make progress
 * without new input). */
bool gw_tls_stream_has_input(const struct gw_tls_stream *t);

/* Encrypts n plaintext bytes (all of them: the output side grows). 0 or GW_ETLS. */
int gw_tls_stream_write(struct gw_tls_stream *t, const void *p, size_t n);

/* Queues a close_notify alert (nothing when the handshake never completed). */
void gw_tls_stream_shutdown(struct gw_tls_stream *t);

/* The ciphertext waiting to be sent: a pointer to it (valid until the next call on t) and its
 * length; gw_tls_stream_out_consume drops the first n bytes once they are sent or copied. */
size_t gw_tls_stream_out(struct gw_tls_stream *t, const char **p);
void gw_tls_stream_out_consume(struct gw_tls_stream *t, size_t n);

/* The handshake completed; whether it resumed a session; the negotiated version ("TLSv1.3")
 * and the server name the client asked for (NULL when none). */
bool gw_tls_stream_established(const struct gw_tls_stream *t);
bool gw_tls_stream_resumed(const struct gw_tls_stream *t);
/* Whether ALPN chose "h2" (HTTP/2) for the established session. */
bool gw_tls_stream_alpn_h2(const struct gw_tls_stream *t);
const char *gw_tls_stream_version(const struct gw_tls_stream *t);
const char *gw_tls_stream_server_name(const struct gw_tls_stream *t);

/* The verified client certificate of the session (mTLS), as text for upstream headers: its
 * subject (RFC 2253, "CN=alice,O=Example") and its subject alternative names ("DNS:a.example,
 * email:alice@example.com, URI:spiffe://x, IP:10.0.0.1", escaped as tls/peer_name.h says:
 * match it with gw_tls_san_has), each malloc'd and at most
 * GW_TLS_PEER_MAX bytes, or NULL. Returns 1 when the client presented a certificate (verified:
 * the handshake fails otherwise), 0 when it did not. */
#define GW_TLS_PEER_MAX 1024
int gw_tls_stream_peer(const struct gw_tls_stream *t, char **subject, char **san);

/* Why the last GW_ETLS happened (OpenSSL's reason), for a debug log line. */
const char *gw_tls_stream_error(const struct gw_tls_stream *t);

#endif
