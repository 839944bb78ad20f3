/*
 * TLS server contexts (OpenSSL 3): the certificates, protocol versions, ciphers, SNI, ALPN,
 * session resumption and OCSP stapling of the HTTPS listener, built from the "tls" section.
 *
 * A struct gw_tls_ctx is immutable once built and reference counted (any thread): the snapshot
 * holds one, each TLS connection holds one for its whole life, so a reload that swaps the
 * certificates never disturbs a connection that is still handshaking or serving on the old ones.
 * Depends on core/ and OpenSSL only (and config/config-t.h for the settings' types).
 */
#ifndef GW_TLS_TLS_H
#define GW_TLS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct gw_tls_conf;
struct gw_tls_ctx;

/* The documented defaults (docs/config.md "tls"): Mozilla's "intermediate" profile without
 * finite-field DH: forward secrecy and AEAD only. */
#define GW_TLS_DEFAULT_CIPHERS                                                                     \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"     \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define GW_TLS_DEFAULT_CIPHERSUITES                                                                \
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define GW_TLS_DEFAULT_CURVES "X25519:prime256v1:secp384r1"

/* What gw_tls_cert_check learnt about a certificate file. */
struct gw_tls_cert_info {
    long days_left; /** until the leaf's notAfter; negative once expired */
    int nchain;     /** intermediates after the leaf */
    char subject[256];
};

/* Loads the PEM certificate chain at cert_path and the private key at key_path and checks that
 * they belong together: the key matches the leaf, every certificate of the chain is issued by
 * the one after it (leaf first). An expired leaf is not an error (info->days_left says so). Returns
 * 0 (info filled) or GW_EINVAL with the file and reason in why (the OpenSSL reason included). Any
 * thread. */
int gw_tls_cert_check(const char *cert_path, const char *key_path, struct gw_tls_cert_info *info,
                      char *why, size_t whylen);

/* Checks a TLS 1.2 cipher list (tls13 false) or a TLS 1.3 suite list (tls13 true), or a curve
 * list (curves true): 0, or GW_EINVAL with the reason in why. */
int gw_tls_check_list(const char *list, bool tls13, bool curves, char *why, size_t whylen);

/* Checks a PEM CA bundle for client certificates: readable, with at least one certificate.
 * 0, or GW_EINVAL with "file: reason" in why. */
int gw_tls_check_ca(const char *path, char *why, size_t whylen);

/* Reads the DER OCSP response at ocsp_path and checks it for the leaf of the PEM chain at
 * cert_path: a successful basic response with a single response whose CertID names the leaf
 * (serial, issuer name hash, and the issuer key hash when the chain holds the issuer) and does
 * not say "revoked". *stale tells whether its nextUpdate has passed (not an error). 0, with the
 * file's bytes in *der (malloc'd; der may be NULL), or GW_EINVAL with "file: reason" in why, or
 * GW_ENOMEM. The response's signature is not verified (the client does that). Any thread. */
int gw_tls_ocsp_check(const char *ocsp_path, const char *cert_path, unsigned char **der,
                      size_t *der_len, bool *stale, char *why, size_t whylen);

/* Builds the server context for conf (its certificates read from disk now). Returns 0 with
 * *out holding one reference, or GW_EINVAL with "file: reason" in why (nothing built), or
 * GW_ENOMEM. Control thread (it reads files). */
int gw_tls_ctx_build(const struct gw_tls_conf *conf, struct gw_tls_ctx **out, char *why,
                     size_t whylen);

/* Takes and drops references (any thread); the last unref frees. unref(NULL) is a no-op. */
struct gw_tls_ctx *gw_tls_ctx_ref(struct gw_tls_ctx *ctx);
void gw_tls_ctx_unref(struct gw_tls_ctx *ctx);

/* "gantry check" warns about certificates that expire within this many days. */
#define GW_TLS_EXPIRY_WARN_DAYS 30

/* Prints a warning line to out for each certificate of conf that expires within warn_days
 * or has expired, and for each OCSP staple past its nextUpdate (for "gantry check"). Returns
 * how many it printed. */
int gw_tls_report_expiry(const struct gw_tls_conf *conf, long warn_days, FILE *out);

#endif
