/*
 * The client context of the https:// targets (see client.h).
 */
#include "tls/client.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config-t.h"
#include "core/error.h"
#include "tls/internal.h"

struct gw_tls_client {
    atomic_int refs;
    SSL_CTX *ssl;
    char *server_name; /* configured SNI and verified name, or NULL */
    bool verify;
    bool reuse;
    uint64_t files_digest; /* of the CA bundle's, certificate's and key's bytes */
};

SSL_CTX *gw__tls_client_ssl_ctx(struct gw_tls_client *cl)
{
    return cl->ssl;
}

const char *gw__tls_client_server_name(const struct gw_tls_client *cl)
{
    return cl->server_name;
}

bool gw__tls_client_verifies(const struct gw_tls_client *cl)
{
    return cl->verify;
}

bool gw_tls_client_reuses_sessions(const struct gw_tls_client *cl)
{
    return cl->reuse;
}

uint64_t gw_tls_client_files_digest(const struct gw_tls_client *cl)
{
    return cl->files_digest;
}

/* The first 64 bits of the SHA-256 of the files conf names (CA bundle, certificate, key, each
 * after a marker of which it is). */
static int files_digest(const struct gw_upstream_tls_conf *conf, uint64_t *out, char *why,
                        size_t whylen)
{
    const char *files[] = {conf->ca, conf->cert, conf->key};
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    int rc = GW_ENOMEM;
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        goto fail;
    for (unsigned char i = 0; i < 3; i++) {
        if (EVP_DigestUpdate(md, &i, 1) != 1)
            goto fail;
        if (files[i] && (rc = gw__tls_digest_file(md, files[i], why, whylen)) < 0)
            goto fail;
        rc = GW_ENOMEM;
    }
    if (EVP_DigestFinal_ex(md, h, &n) != 1 || n < 8)
        goto fail;
    *out = 0;
    for (int i = 0; i < 8; i++)
        *out = *out << 8 | h[i];
    rc = 0;
fail:
    EVP_MD_CTX_free(md);
    return rc;
}

static int client_fail(const char *what, char *why, size_t whylen)
{
    char reason[160];
    unsigned long e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, reason, sizeof reason);
    else
        snprintf(reason, sizeof reason, "no detail");
    ERR_clear_error();
    snprintf(why, whylen, "%s: %s", what, reason);
    return GW_EINVAL;
}

int gw_tls_client_build(const struct gw_upstream_tls_conf *conf, struct gw_tls_client **out,
                        char *why, size_t whylen)
{
    *out = NULL;
    struct gw_tls_client *cl = calloc(1, sizeof(*cl));
    if (!cl)
        return GW_ENOMEM;
    atomic_init(&cl->refs, 1);
    cl->verify = conf->verify;
    cl->reuse = conf->session_reuse;
    int rc = files_digest(conf, &cl->files_digest, why, whylen);
    if (rc < 0)
        goto fail;
    rc = GW_ENOMEM;
    if (conf->server_name && !(cl->server_name = strdup(conf->server_name)))
        goto fail;
    SSL_CTX *s = cl->ssl = SSL_CTX_new(TLS_client_method());
    if (!s)
        goto fail;
    rc = GW_EINVAL;
    if (SSL_CTX_set_min_proto_version(s, conf->min_version ? conf->min_version : TLS1_2_VERSION) !=
        1) {
        rc = client_fail("upstream_tls.min_version", why, whylen);
        goto fail;
    }
    SSL_CTX_set_options(s, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    /* An idle pooled connection gives its record buffers back (up to upstream.keepalive.max_idle
     * of them per target and worker). */
    SSL_CTX_set_mode(s, SSL_MODE_RELEASE_BUFFERS);
    /* The upstream speaks HTTP/1.1 to us; a server that insists on ALPN finds it offered. */
    static const unsigned char alpn[] = "\x08http/1.1";
    if (SSL_CTX_set_alpn_protos(s, alpn, sizeof alpn - 1) != 0) {
        rc = client_fail("upstream_tls", why, whylen);
        goto fail;
    }
    if (conf->ca) {
        if (SSL_CTX_load_verify_locations(s, conf->ca, NULL) != 1) {
            rc = client_fail(conf->ca, why, whylen);
            goto fail;
        }
    } else if (SSL_CTX_set_default_verify_paths(s) != 1) {
        rc = client_fail("the system CA bundle", why, whylen);
        goto fail;
    }
    SSL_CTX_set_verify(s, conf->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    if (conf->cert) {
        if (SSL_CTX_use_certificate_chain_file(s, conf->cert) != 1) {
            rc = client_fail(conf->cert, why, whylen);
            goto fail;
        }
        if (SSL_CTX_use_PrivateKey_file(s, conf->key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(s) != 1) {
            rc = client_fail(conf->key, why, whylen);
            goto fail;
        }
    }
    /* Sessions go to the caller through the stream (gw_tls_stream_take_session), never into
     * OpenSSL's own client cache: a worker keeps one per target, without locks. */
    SSL_CTX_set_session_cache_mode(s, conf->session_reuse
                                          ? SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE
                                          : SSL_SESS_CACHE_OFF);
    if (conf->session_reuse)
        SSL_CTX_sess_set_new_cb(s, gw__tls_on_new_session);
    else
        SSL_CTX_set_options(s, SSL_OP_NO_TICKET);
    *out = cl;
    return 0;
fail:
    if (rc == GW_ENOMEM)
        snprintf(why, whylen, "out of memory");
    ERR_clear_error();
    SSL_CTX_free(cl->ssl);
    free(cl->server_name);
    free(cl);
    return rc;
}

struct gw_tls_client *gw_tls_client_ref(struct gw_tls_client *cl)
{
    atomic_fetch_add_explicit(&cl->refs, 1, memory_order_relaxed);
    return cl;
}

void gw_tls_client_unref(struct gw_tls_client *cl)
{
    if (cl && atomic_fetch_sub_explicit(&cl->refs, 1, memory_order_acq_rel) == 1) {
        SSL_CTX_free(cl->ssl);
        free(cl->server_name);
        free(cl);
    }
}

void gw_tls_session_free(struct gw_tls_session *s)
{
    SSL_SESSION_free((SSL_SESSION *)s);
}
