/*
 * A server-side TLS session over two memory BIOs (see stream.h).
 */
#include "tls/stream.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tls/client.h"
#include "tls/internal.h"

/* Room for a failure's reason: OpenSSL's error string and the certificate's verify result. */
#define GW_TLS_ERR_MAX 256

struct gw_tls_stream {
    SSL *ssl;
    struct gw__tls_io io;         /* ciphertext both ways, behind the SSL's one BIO */
    struct gw_tls_ctx *ctx;       /* server side */
    struct gw_tls_client *client; /* client side (upstreams) */
    SSL_SESSION *session;         /* client side: the newest session, not yet taken */
    char *err;                    /* why the last GW_ETLS happened (malloc'd), or NULL */
};

/* SSL_new on s with the stream's BIO attached (the SSL owns it); false when out of memory. */
static bool attach(struct gw_tls_stream *t, SSL_CTX *s)
{
    t->ssl = SSL_new(s);
    BIO *b = t->ssl ? gw__tls_bio_new(&t->io) : NULL;
    if (!b)
        return false;
    SSL_set_bio(t->ssl, b, b);
    return true;
}

struct gw_tls_stream *gw_tls_stream_new(struct gw_tls_ctx *ctx)
{
    struct gw_tls_stream *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    if (!attach(t, gw__tls_default_ssl_ctx(ctx))) {
        SSL_free(t->ssl);
        free(t);
        return NULL;
    }
    SSL_set_accept_state(t->ssl);
    t->ctx = gw_tls_ctx_ref(ctx);
    return t;
}

/* A literal IPv4 or IPv6 address (verified as an address, never sent as SNI). */
static bool is_ip_literal(const char *host)
{
    ASN1_OCTET_STRING *ip = a2i_IPADDRESS(host);
    if (!ip)
        return false;
    ASN1_OCTET_STRING_free(ip);
    return true;
}

struct gw_tls_stream *gw_tls_stream_new_client(struct gw_tls_client *cl, const char *host,
                                               struct gw_tls_session *resume)
{
    struct gw_tls_stream *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    if (!attach(t, gw__tls_client_ssl_ctx(cl)))
        goto fail;
    SSL_set_app_data(t->ssl, t);
    SSL_set_connect_state(t->ssl);
    const char *name = gw__tls_client_server_name(cl);
    if (!name)
        name = host;
    if (is_ip_literal(name)) {
        if (gw__tls_client_verifies(cl) &&
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), name) != 1)
            goto fail;
    } else {
        /* RFC 6125: the DNS name in the certificate; "*.example.com" covers one label only. */
        if (SSL_set_tlsext_host_name(t->ssl, name) != 1)
            goto fail;
        if (gw__tls_client_verifies(cl)) {
            SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            if (SSL_set1_host(t->ssl, name) != 1)
                goto fail;
        }
    }
    if (resume && SSL_set_session(t->ssl, (SSL_SESSION *)resume) != 1)
        ERR_clear_error(); /* not resumable here: a full handshake */
    t->client = gw_tls_client_ref(cl);
    return t;
fail:
    ERR_clear_error();
    SSL_free(t->ssl);
    free(t);
    return NULL;
}

int gw__tls_on_new_session(SSL *ssl, SSL_SESSION *sess)
{
    struct gw_tls_stream *t = SSL_get_app_data(ssl);
    if (!t)
        return 0;
    SSL_SESSION_free(t->session);
    t->session = sess;
    return 1; /* the reference is ours */
}

struct gw_tls_session *gw_tls_stream_take_session(struct gw_tls_stream *t)
{
    SSL_SESSION *s = t->session;
    t->session = NULL;
    return (struct gw_tls_session *)s;
}

void gw_tls_stream_free(struct gw_tls_stream *t)
{
    if (!t)
        return;
    SSL_free(t->ssl); /* frees the BIO */
    gw__tls_queue_free(&t->io.in);
    gw__tls_queue_free(&t->io.out);
    free(t->err);
    SSL_SESSION_free(t->session);
    gw_tls_ctx_unref(t->ctx);
    gw_tls_client_unref(t->client);
    free(t);
}

int gw_tls_stream_feed(struct gw_tls_stream *t, const void *p, size_t n)
{
    return gw__tls_queue_push(&t->io.in, p, n);
}

/* Records OpenSSL's reason for the failure (and clears its per-thread error queue, which must
 * not leak into the next connection served by this thread). */
static int fail(struct gw_tls_stream *t, int sslerr)
{
    /* Held only after a failure: an idle connection does not carry room for a reason. */
    if (!t->err)
        t->err = malloc(GW_TLS_ERR_MAX);
    if (t->err) {
        unsigned long e = ERR_peek_last_error();
        if (e)
            ERR_error_string_n(e, t->err, GW_TLS_ERR_MAX);
        else
            snprintf(t->err, GW_TLS_ERR_MAX, "SSL error %d", sslerr);
        /* A peer certificate that did not verify: say why (expired, unknown CA, wrong host...). */
        long v = SSL_get_verify_result(t->ssl);
        if (v != X509_V_OK) {
            size_t n = strlen(t->err);
            snprintf(t->err + n, GW_TLS_ERR_MAX - n, " (%s certificate: %s)",
                     t->client ? "upstream" : "client", X509_verify_cert_error_string(v));
        }
    }
    ERR_clear_error();
    return GW_ETLS;
}

int gw_tls_stream_handshake(struct gw_tls_stream *t)
{
    int rc = SSL_do_handshake(t->ssl);
    if (rc == 1)
        return 0;
    int e = SSL_get_error(t->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return GW_TLS_WANT_INPUT;
    return fail(t, e);
}

int gw_tls_stream_read(struct gw_tls_stream *t, char *buf, size_t cap, size_t *got)
{
    *got = 0;
    int rc = SSL_read_ex(t->ssl, buf, cap, got);
    if (rc == 1)
        return 0;
    int e = SSL_get_error(t->ssl, rc);
    switch (e) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: /* the wbio grows: never really full */
        return GW_TLS_WANT_INPUT;
    case SSL_ERROR_ZERO_RETURN:
        return GW_TLS_CLOSED;
    default:
        return fail(t, e);
    }
}

bool gw_tls_stream_has_input(const struct gw_tls_stream *t)
{
    return SSL_pending(t->ssl) > 0 || t->io.in.len > t->io.in.off;
}

int gw_tls_stream_write(struct gw_tls_stream *t, const void *p, size_t n)
{
    size_t done = 0;
    if (n == 0)
        return 0;
    int rc = SSL_write_ex(t->ssl, p, n, &done);
    if (rc != 1 || done != n)
        return fail(t, SSL_get_error(t->ssl, rc));
    return 0;
}

void gw_tls_stream_shutdown(struct gw_tls_stream *t)
{
    if (SSL_is_init_finished(t->ssl))
        (void)SSL_shutdown(t->ssl);
    ERR_clear_error();
}

size_t gw_tls_stream_out(struct gw_tls_stream *t, const char **p)
{
    if (!t->io.out.data) {
        *p = NULL;
        return 0;
    }
    *p = t->io.out.data + t->io.out.off;
    return t->io.out.len - t->io.out.off;
}

void gw_tls_stream_out_consume(struct gw_tls_stream *t, size_t n)
{
    gw__tls_queue_drop(&t->io.out, n);
}

bool gw_tls_stream_established(const struct gw_tls_stream *t)
{
    return SSL_is_init_finished(t->ssl) == 1;
}

bool gw_tls_stream_resumed(const struct gw_tls_stream *t)
{
    return SSL_session_reused(t->ssl) == 1;
}

const char *gw_tls_stream_version(const struct gw_tls_stream *t)
{
    return SSL_get_version(t->ssl);
}

const char *gw_tls_stream_server_name(const struct gw_tls_stream *t)
{
    return SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name);
}

const char *gw_tls_stream_error(const struct gw_tls_stream *t)
{
    return t->err && t->err[0] ? t->err : "unknown";
}

int gw_tls_stream_peer(const struct gw_tls_stream *t, char **subject, char **san)
{
    *subject = *san = NULL;
    X509 *x = SSL_get0_peer_certificate(t->ssl);
    if (!x)
        return 0;
    BIO *b = BIO_new(BIO_s_mem());
    if (b && X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
        char *data = NULL;
        long n = BIO_get_mem_data(b, &data);
        if (n > 0) {
            size_t k = (size_t)n < GW_TLS_PEER_MAX - 1 ? (size_t)n : GW_TLS_PEER_MAX - 1;
            *subject = malloc(k + 1);
            if (*subject) {
                memcpy(*subject, data, k);
                (*subject)[k] = '\0';
            }
        }
    }
    BIO_free(b);
    *san = gw__tls_san_text(x, GW_TLS_PEER_MAX);
    ERR_clear_error();
    return 1;
}

int gw_tls_stream_offer_h2(struct gw_tls_stream *t)
{
    static const unsigned char h2[] = "\x02h2";
    return SSL_set_alpn_protos(t->ssl, h2, sizeof h2 - 1) == 0 ? 0 : GW_ENOMEM;
}

const char *gw_tls_stream_alpn(const struct gw_tls_stream *t, size_t *len)
{
    const unsigned char *p = NULL;
    unsigned int n = 0;
    SSL_get0_alpn_selected(t->ssl, &p, &n);
    *len = n;
    return (const char *)p;
}

bool gw_tls_stream_alpn_h2(const struct gw_tls_stream *t)
{
    const unsigned char *p = NULL;
    unsigned int n = 0;
    SSL_get0_alpn_selected(t->ssl, &p, &n);
    return n == 2 && p[0] == 'h' && p[1] == '2';
}

size_t gw__tls_stream_held(const struct gw_tls_stream *t)
{
    return t->io.in.cap + t->io.out.cap + (t->err ? GW_TLS_ERR_MAX : 0);
}

SSL *gw__tls_stream_ssl(const struct gw_tls_stream *t)
{
    return t->ssl;
}
