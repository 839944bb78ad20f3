/*
 * TLS client contexts (OpenSSL 3) for gantry's connections to https:// targets and their health
 * checks: certificate verification (a configured CA bundle or the system's), a client
 * certificate for upstreams that require one, and the session callback that lets a pooled
 * connection's session resume the next one.
 *
 * A struct gw_tls_client is immutable once built and reference counted (any thread): the
 * snapshot holds one per service with https:// targets, each upstream session and each health
 * check holds its own. Sessions themselves (struct gw_tls_session) are OpenSSL's SSL_SESSION,
 * kept by the caller (a worker's pool, one per target) and used on one thread at a time.
 */
#ifndef GW_TLS_CLIENT_H
#define GW_TLS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gw_upstream_tls_conf;
struct gw_tls_client;
struct gw_tls_session;
struct gw_tls_stream;

/* Builds the client context for conf (its CA bundle and client certificate read now). Returns
 * 0 with *out holding one reference, or GW_EINVAL with "file: reason" in why, or GW_ENOMEM.
 * Control thread (it reads files). */
int gw_tls_client_build(const struct gw_upstream_tls_conf *conf, struct gw_tls_client **out,
                        char *why, size_t whylen);

/* Takes and drops references (any thread); the last unref frees. unref(NULL) is a no-op. */
struct gw_tls_client *gw_tls_client_ref(struct gw_tls_client *cl);
void gw_tls_client_unref(struct gw_tls_client *cl);

/* Whether sessions of this context may be resumed (upstream_tls.session_reuse). */
bool gw_tls_client_reuses_sessions(const struct gw_tls_client *cl);

/* A digest of the bytes of the files cl was built from (CA bundle, client certificate, key):
 * pools and the sessions they keep are keyed by it, so a file rewritten in place and reloaded
 * makes new connections, never resumes a session verified under the old file. */
uint64_t gw_tls_client_files_digest(const struct gw_tls_client *cl);

/* A new client session on cl (a reference to cl is taken, released with the stream) for the
 * target host (a DNS name or an IP literal, IPv6 without brackets): the SNI sent and the name
 * verified are cl's server_name when configured, else host (an IP address is verified as an
 * address and sends no SNI). resume, when not NULL, is offered for resumption (not taken over).
 * The handshake starts with the first gw_tls_stream_handshake. NULL when out of memory. */
struct gw_tls_stream *gw_tls_stream_new_client(struct gw_tls_client *cl, const char *host,
                                               struct gw_tls_session *resume);

/* Client side, before the first handshake call: offers only "h2" in ALPN (HTTP/2 over TLS),
 * replacing the context's "http/1.1"; whether the server chose it is gw_tls_stream_alpn_h2
 * once the handshake completed (a server without HTTP/2 chooses nothing, or refuses the
 * handshake). 0 or GW_ENOMEM. */
int gw_tls_stream_offer_h2(struct gw_tls_stream *t);

/* The protocol ALPN chose (not NUL-terminated, *len bytes), or NULL (*len 0) when none. */
const char *gw_tls_stream_alpn(const struct gw_tls_stream *t, size_t *len);

/* Client side: runs the handshake as far as the input allows. 0 when it completed,
 * GW_TLS_WANT_INPUT, or GW_ETLS (gw_tls_stream_error says why: the certificate's verification
 * result among it). Send gw_tls_stream_out afterwards in every case (an alert on failure). */
int gw_tls_stream_handshake(struct gw_tls_stream *t);

/* The newest session the server gave this client stream (at the handshake, or a TLS 1.3
 * ticket after it), handed over to the caller (free it with gw_tls_session_free), or NULL when
 * none arrived since the last call. */
struct gw_tls_session *gw_tls_stream_take_session(struct gw_tls_stream *t);
void gw_tls_session_free(struct gw_tls_session *s);

#endif
