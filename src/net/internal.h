/*
 * Shared by the files of net/ and their unit tests only.
 */
#ifndef GW_NET_INTERNAL_H
#define GW_NET_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

/* fetch_tls.c: the TLS client side of a one-shot fetch (net/fetch.h, https:// URLs), OpenSSL on
 * memory BIOs so that the fetch's own libuv TCP handle carries the records. Certificates are
 * verified (chain against the system's trust store plus an optional CA file, and the host
 * name or IP address of the URL); TLS 1.2 at least; SNI for host names. */
struct gw__fetch_tls;

/* A client for host (a name, or an IPv4 / IPv6 literal without brackets), trusting ca_file
 * (PEM, may be NULL) on top of the system's store; insecure: the certificate is not verified
 * (SNI is still sent). 0, or GW_EINVAL with why (the CA file), or GW_ENOMEM. */
int gw__fetch_tls_new(const char *host, const char *ca_file, bool insecure,
                      struct gw__fetch_tls **out, char *why, size_t cap);
void gw__fetch_tls_free(struct gw__fetch_tls *t);

/* Records received from the peer. 0 or GW_ENOMEM. */
int gw__fetch_tls_feed(struct gw__fetch_tls *t, const char *p, size_t n);

/* Drives the handshake: 1 when it is complete, 0 when it needs more records from the peer,
 * GW_EFETCH with why when it failed (a certificate not verified included). */
int gw__fetch_tls_handshake(struct gw__fetch_tls *t, char *why, size_t cap);

/* Encrypts n bytes (after the handshake). 0 or GW_EFETCH. */
int gw__fetch_tls_write(struct gw__fetch_tls *t, const void *p, size_t n);

/* Plaintext received: up to cap bytes into out, *got of them. 1 when bytes were read, 0 when
 * more records are needed, -1 at the peer's close_notify, GW_EFETCH with why on an error. */
int gw__fetch_tls_read(struct gw__fetch_tls *t, char *out, size_t cap, size_t *got, char *why,
                       size_t whycap);

/* Records to send: the bytes waiting, moved into a malloc'd buffer (*p, owned by the caller)
 * of *n bytes; *p is NULL when there are none. 0 or GW_ENOMEM. */
int gw__fetch_tls_take(struct gw__fetch_tls *t, char **p, size_t *n);

#endif
