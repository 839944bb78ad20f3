/*
 * CA bundles a service checks a client certificate against (mTLS per service,
 * "services[].client_cert.ca"), on top of the listener's own verification.
 *
 * A struct gw_tls_peer_ca is immutable once built (any thread may verify against it); the
 * snapshot owns one per service that has a bundle and frees it with the snapshot.
 */
#ifndef GW_TLS_PEER_CA_H
#define GW_TLS_PEER_CA_H

#include <stdbool.h>
#include <stddef.h>

struct gw_tls_peer_ca;
struct gw_tls_stream;

/* Reads the PEM bundle at path. 0 with *out, or GW_EINVAL with "path: reason" in why, or
 * GW_ENOMEM. Control thread (it reads the file). */
int gw_tls_peer_ca_build(const char *path, struct gw_tls_peer_ca **out, char *why, size_t whylen);
void gw_tls_peer_ca_free(struct gw_tls_peer_ca *ca);

/* Whether the client certificate of the server-side session t (with the intermediates the
 * client sent) chains to one of ca's certificates and is valid now. false when t has no
 * client certificate. The thread of t's connection. */
bool gw_tls_peer_ca_verifies(const struct gw_tls_peer_ca *ca, const struct gw_tls_stream *t);

#endif
