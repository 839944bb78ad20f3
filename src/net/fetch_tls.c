/*
 * TLS for the one-shot fetch client (net/internal.h): OpenSSL with two memory BIOs, the fetch's
 * TCP handle moving the records. A context per fetch: fetches are rare (an OpenAPI document
 * every few minutes), and a CA file is then read when it is used, so a changed file is seen.
 */
#include "net/internal.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

struct gw__fetch_tls {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *in;  /* records from the peer, read by OpenSSL */
    BIO *out; /* records OpenSSL wrote, for the socket */
};

/* The reason of the last OpenSSL error, with what before it. */
static void reason(const char *what, char *why, size_t cap)
{
    unsigned long e = ERR_get_error();
    char buf[160] = "";
    if (e != 0)
        ERR_error_string_n(e, buf, sizeof buf);
    snprintf(why, cap, "%s%s%s", what, buf[0] ? ": " : "", buf);
    ERR_clear_error();
}

static bool is_ip(const char *host)
{
    unsigned char b[16];
    return inet_pton(AF_INET, host, b) == 1 || inet_pton(AF_INET6, host, b) == 1;
}

int gw__fetch_tls_new(const char *host, const char *ca_file, bool insecure,
                      struct gw__fetch_tls **out, char *why, size_t cap)
{
    int rc = GW_ENOMEM;
    struct gw__fetch_tls *t = calloc(1, sizeof *t);
    if (t == NULL)
        return GW_ENOMEM;
    ERR_clear_error();
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (t->ctx == NULL)
        goto fail;
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(t->ctx, insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_set_default_verify_paths(t->ctx) != 1)
        ERR_clear_error(); /* no system store: only ca_file is trusted */
    if (ca_file != NULL && SSL_CTX_load_verify_locations(t->ctx, ca_file, NULL) != 1) {
        reason(ca_file, why, cap);
        rc = GW_EINVAL;
        goto fail;
    }
    t->ssl = SSL_new(t->ctx);
    t->in = BIO_new(BIO_s_mem());
    t->out = BIO_new(BIO_s_mem());
    if (t->ssl == NULL || t->in == NULL || t->out == NULL)
        goto fail;
    BIO_set_mem_eof_return(t->in, -1); /* empty: "retry", not end of file */
    SSL_set_bio(t->ssl, t->in, t->out);
    t->in = t->out = NULL; /* owned by ssl now */
    SSL_set_connect_state(t->ssl);
    X509_VERIFY_PARAM *vp = SSL_get0_param(t->ssl);
    if (is_ip(host)) {
        if (X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1)
            goto fail;
    } else {
        X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (SSL_set1_host(t->ssl, host) != 1 || SSL_set_tlsext_host_name(t->ssl, host) != 1)
            goto fail;
    }
    *out = t;
    return 0;
fail:
    BIO_free(t->in);
    BIO_free(t->out);
    gw__fetch_tls_free(t);
    return rc;
}

void gw__fetch_tls_free(struct gw__fetch_tls *t)
{
    if (t == NULL)
        return;
    SSL_free(t->ssl);
    SSL_CTX_free(t->ctx);
    free(t);
    ERR_clear_error();
}

int gw__fetch_tls_feed(struct gw__fetch_tls *t, const char *p, size_t n)
{
    while (n > 0) {
        int k = BIO_write(SSL_get_rbio(t->ssl), p, n > INT32_MAX ? INT32_MAX : (int)n);
        if (k <= 0)
            return GW_ENOMEM;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int gw__fetch_tls_handshake(struct gw__fetch_tls *t, char *why, size_t cap)
{
    ERR_clear_error();
    int r = SSL_do_handshake(t->ssl);
    if (r == 1)
        return 1;
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    long v = SSL_get_verify_result(t->ssl);
    if (v != X509_V_OK) {
        snprintf(why, cap, "tls: certificate not verified: %s", X509_verify_cert_error_string(v));
        ERR_clear_error();
    } else {
        reason("tls handshake", why, cap);
    }
    return GW_EFETCH;
}

int gw__fetch_tls_write(struct gw__fetch_tls *t, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        size_t done = 0;
        if (SSL_write_ex(t->ssl, c, n, &done) != 1) {
            ERR_clear_error();
            return GW_EFETCH;
        }
        c += done;
        n -= done;
    }
    return 0;
}

int gw__fetch_tls_read(struct gw__fetch_tls *t, char *out, size_t cap, size_t *got, char *why,
                       size_t whycap)
{
    *got = 0;
    if (cap == 0)
        return 0;
    ERR_clear_error();
    if (SSL_read_ex(t->ssl, out, cap, got) == 1)
        return 1;
    int e = SSL_get_error(t->ssl, 0);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    if (e == SSL_ERROR_ZERO_RETURN)
        return -1;
    reason("tls read", why, whycap);
    return GW_EFETCH;
}

int gw__fetch_tls_take(struct gw__fetch_tls *t, char **p, size_t *n)
{
    BIO *b = SSL_get_wbio(t->ssl);
    size_t len = BIO_ctrl_pending(b);
    *p = NULL;
    *n = 0;
    if (len == 0)
        return 0;
    char *buf = malloc(len);
    if (buf == NULL)
        return GW_ENOMEM;
    int k = BIO_read(b, buf, (int)len);
    if (k <= 0) {
        free(buf);
        return 0;
    }
    *p = buf;
    *n = (size_t)k;
    return 0;
}
