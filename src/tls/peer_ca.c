/*
 * Per-service CA bundles for client certificates (see peer_ca.h).
 */
#include "tls/peer_ca.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "tls/internal.h"

struct gw_tls_peer_ca {
    X509_STORE *store;
};

int gw_tls_peer_ca_build(const char *path, struct gw_tls_peer_ca **out, char *why, size_t whylen)
{
    *out = NULL;
    struct gw_tls_peer_ca *ca = calloc(1, sizeof(*ca));
    if (!ca)
        return GW_ENOMEM;
    ca->store = X509_STORE_new();
    if (!ca->store) {
        free(ca);
        return GW_ENOMEM;
    }
    if (X509_STORE_load_file(ca->store, path) != 1) {
        char reason[160] = "no detail";
        unsigned long e = ERR_peek_last_error();
        if (e)
            ERR_error_string_n(e, reason, sizeof reason);
        ERR_clear_error();
        snprintf(why, whylen, "%s: %s", path, reason);
        gw_tls_peer_ca_free(ca);
        return GW_EINVAL;
    }
    *out = ca;
    return 0;
}

void gw_tls_peer_ca_free(struct gw_tls_peer_ca *ca)
{
    if (!ca)
        return;
    X509_STORE_free(ca->store);
    free(ca);
}

bool gw_tls_peer_ca_verifies(const struct gw_tls_peer_ca *ca, const struct gw_tls_stream *t)
{
    SSL *ssl = gw__tls_stream_ssl(t);
    X509 *leaf = SSL_get0_peer_certificate(ssl);
    if (!leaf)
        return false;
    /* The server side's chain lists the intermediates the client sent, without the leaf (none
     * after a resumption: a leaf issued by the CA itself still verifies). */
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
    X509_STORE_CTX *vctx = X509_STORE_CTX_new();
    bool ok = vctx && X509_STORE_CTX_init(vctx, ca->store, leaf, chain) == 1 &&
              X509_STORE_CTX_set_purpose(vctx, X509_PURPOSE_SSL_CLIENT) == 1 &&
              X509_verify_cert(vctx) == 1;
    X509_STORE_CTX_free(vctx);
    ERR_clear_error();
    return ok;
}
