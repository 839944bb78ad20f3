/*
 * Helpers shared by the files of tls/, not used outside it (and its unit tests).
 */
#ifndef GW_TLS_INTERNAL_H
#define GW_TLS_INTERNAL_H

#include <openssl/ssl.h>
#include <stdint.h>

#include "tls/tls.h"

/* tls/ctx.c: the SSL_CTX a new session starts on (the default certificate's; SNI may switch
 * the session to another one during the handshake). */
SSL_CTX *gw__tls_default_ssl_ctx(struct gw_tls_ctx *ctx);

/* tls/ctx.c: how often the ticket keys rotate, in seconds, for the context an SSL_CTX belongs
 * to. */
uint64_t gw__tls_ticket_rotation_s(SSL_CTX *s);

/* tls/ticket.c: the session ticket key callback (SSL_CTX_set_tlsext_ticket_key_evp_cb). The
 * keys are process-wide, so every worker (and every context a reload builds) encrypts and
 * decrypts tickets with the same ones: a ticket issued by one worker resumes on another and
 * survives a reload. A key encrypts new tickets for one rotation period and still decrypts
 * them for one more (such tickets are renewed). */
int gw__tls_ticket_cb(SSL *ssl, unsigned char key_name[16], unsigned char iv[16],
                      EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc);

/* tls/ctx.c: the host name of a ClientHello's server_name extension (its bytes p, len), lowercased
 * without a trailing dot, into out (cap bytes with the NUL). 0, or GW_EINVAL when the extension
 * is malformed, names no host, or the name has bytes a host name cannot have or an empty label. */
int gw__tls_parse_sni(const unsigned char *p, size_t len, char *out, size_t cap);

/* tls/ctx.c: the name matching of SNI: true when the server name (lowercased, no trailing dot)
 * matches pattern, an exact name or "*.example.com" (one label, never the bare domain). */
bool gw__tls_name_matches(const char *pattern, const char *name);

/* tls/digest.c: feeds the bytes of the file at path to md (a digest in progress). 0, GW_EINVAL
 * with "path: reason" in why when it cannot be read, or GW_ENOMEM. Control thread. */
int gw__tls_digest_file(EVP_MD_CTX *md, const char *path, char *why, size_t whylen);

/* tls/peer_name.c: the SAN text of certificate x (the encoding peer_name.h describes), malloc'd
 * and at most cap bytes with the NUL (entries that do not fit whole are left out), or NULL when
 * x has no SAN extension or out of memory. */
char *gw__tls_san_text(X509 *x, size_t cap);

/* tls/client.c: the client context's SSL_CTX, its configured server name (or NULL) and
 * whether it verifies the peer. */
struct gw_tls_client;
SSL_CTX *gw__tls_client_ssl_ctx(struct gw_tls_client *cl);
const char *gw__tls_client_server_name(const struct gw_tls_client *cl);
bool gw__tls_client_verifies(const struct gw_tls_client *cl);

/* tls/bio.c: a queue of ciphertext bytes, data[off..len) of cap, that holds memory only while
 * it holds bytes: the drop that drains it frees its buffer (an idle connection keeps none). */
struct gw__tls_queue {
    char *data;
    size_t off, len, cap;
};

/* Appends n bytes (0 or GW_ENOMEM); drops the first n (all of them, and the buffer, when n is at
 * least what is held); frees the buffer. */
int gw__tls_queue_push(struct gw__tls_queue *q, const void *p, size_t n);
void gw__tls_queue_drop(struct gw__tls_queue *q, size_t n);
void gw__tls_queue_free(struct gw__tls_queue *q);

/* tls/bio.c: a session's two directions: in, the peer's ciphertext not yet read by OpenSSL; out,
 * what OpenSSL wrote for the peer and the caller has not sent yet. */
struct gw__tls_io {
    struct gw__tls_queue in, out;
};

/* tls/bio.c: one non-blocking BIO for both directions of io (SSL_set_bio(ssl, b, b)): reads
 * take from io->in (retry when empty: never EOF), writes append to io->out (always whole),
 * BIO_pending and BIO_wpending count them. io must outlive the BIO, which does not free it.
 * NULL when out of memory. */
BIO *gw__tls_bio_new(struct gw__tls_io *io);

struct gw_tls_stream;

/* tls/stream.c: bytes of buffer the stream holds besides OpenSSL's objects (its ciphertext
 * queues, a failure's reason): 0 for an idle session. */
size_t gw__tls_stream_held(const struct gw_tls_stream *t);

/* tls/stream.c: the session's SSL (for the other files of tls/). */
SSL *gw__tls_stream_ssl(const struct gw_tls_stream *t);

/* tls/stream.c: the new-session callback of client contexts (SSL_CTX_sess_set_new_cb): keeps
 * the newest session in the stream the SSL belongs to. */
int gw__tls_on_new_session(SSL *ssl, SSL_SESSION *sess);

#endif
