/*
 * The HTTPS listener's server context: one SSL_CTX per configured certificate (the first is
 * the default), the SNI callback that moves a handshake to the certificate for the name the
 * client asked for, ALPN, OCSP stapling, session cache and tickets.
 */
#include <ctype.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config-t.h"
#include "core/error.h"
#include "tls/internal.h"

struct tls_entry {
    SSL_CTX *ssl;
    char **names; /* borrowed copies (owned here) of the server names, lowercased */
    size_t nnames;
    unsigned char *ocsp; /* DER OCSP response to staple, or NULL */
    size_t ocsp_len;
};

struct gw_tls_ctx {
    atomic_int refs;
    uint64_t ticket_rotation_s;
    /* The digest of the client-auth settings (mode, verify depth, the CA bundle's bytes): the
     * session id context of a session without SNI, and folded into every other one. */
    unsigned char auth_digest[SHA256_DIGEST_LENGTH];
    struct tls_entry *e; /* e[0] is the default */
    size_t n;
};

SSL_CTX *gw__tls_default_ssl_ctx(struct gw_tls_ctx *ctx)
{
    return ctx->e[0].ssl;
}

uint64_t gw__tls_ticket_rotation_s(SSL_CTX *s)
{
    const struct gw_tls_ctx *ctx = SSL_CTX_get_app_data(s);
    return ctx && ctx->ticket_rotation_s ? ctx->ticket_rotation_s : 3600;
}

bool gw__tls_name_matches(const char *pattern, const char *name)
{
    if (pattern[0] == '*' && pattern[1] == '.') {
        const char *dot = strchr(name, '.');
        /* "*.example.com" covers "a.example.com", not "example.com" nor "a.b.example.com" */
        return dot && dot != name && strcmp(dot + 1, pattern + 2) == 0;
    }
    return strcmp(pattern, name) == 0;
}

/* Which entry serves name: an exact name wins over a wildcard; no match is the default. */
static const struct tls_entry *pick(const struct gw_tls_ctx *ctx, const char *name)
{
    const struct tls_entry *wild = NULL;
    for (size_t i = 0; i < ctx->n; i++) {
        for (size_t k = 0; k < ctx->e[i].nnames; k++) {
            const char *p = ctx->e[i].names[k];
            if (p[0] != '*' && strcmp(p, name) == 0)
                return &ctx->e[i];
            if (!wild && p[0] == '*' && gw__tls_name_matches(p, name))
                wild = &ctx->e[i];
        }
    }
    return wild ? wild : &ctx->e[0];
}

/* Switches ssl to the certificate for the server name of the ClientHello (the default when it
 * names none or one no entry lists). Runs in the ClientHello callback, before any other
 * extension is processed: switching later (OpenSSL's servername callback) comes after the TLS
 * 1.3 pre-shared key was looked at, which breaks resumption on any certificate but the
 * default. */
static int on_client_hello(SSL *ssl, int *alert, void *arg)
{
    (void)alert;
    const struct gw_tls_ctx *ctx = arg;
    const unsigned char *ext;
    size_t len;
    char name[256];
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &ext, &len) != 1)
        return SSL_CLIENT_HELLO_SUCCESS;
    if (gw__tls_parse_sni(ext, len, name, sizeof name) < 0)
        return SSL_CLIENT_HELLO_SUCCESS; /* OpenSSL's own parser refuses it next */
    const struct tls_entry *e = ctx->n < 2 ? NULL : pick(ctx, name);
    if (e != NULL && e->ssl != SSL_get_SSL_CTX(ssl) && SSL_set_SSL_CTX(ssl, e->ssl) == NULL)
        return SSL_CLIENT_HELLO_ERROR;
    /* RFC 6066 3: a session is not resumed under another server name. The session id context
     * is the digest of the name and of the client-auth settings: a session (ticket or cache)
     * remembers the context it was made in, and OpenSSL resumes it only in the same one, else
     * it makes a full handshake. So a session whose client certificate was verified against a
     * CA a reload removed, or made without a certificate before a reload made one required,
     * does not resume. Set after SSL_set_SSL_CTX, which would copy the certificate context's
     * own. */
    unsigned char sid[SHA256_DIGEST_LENGTH];
    unsigned int n = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
              EVP_DigestUpdate(md, ctx->auth_digest, sizeof ctx->auth_digest) == 1 &&
              EVP_DigestUpdate(md, name, strlen(name)) == 1 &&
              EVP_DigestFinal_ex(md, sid, &n) == 1 && SSL_set_session_id_context(ssl, sid, n) == 1;
    EVP_MD_CTX_free(md);
    return ok ? SSL_CLIENT_HELLO_SUCCESS : SSL_CLIENT_HELLO_ERROR;
}

int gw__tls_parse_sni(const unsigned char *p, size_t len, char *out, size_t cap)
{
    /* RFC 6066 3: ServerNameList <1..2^16-1> of { NameType (0 = host_name), HostName
     * <1..2^16-1> }. Only one host_name is allowed; a list is taken by its first host_name. */
    if (len < 2 || (size_t)((p[0] << 8) | p[1]) != len - 2)
        return GW_EINVAL;
    size_t i = 2;
    while (i + 3 <= len) {
        unsigned type = p[i];
        size_t n = (size_t)((p[i + 1] << 8) | p[i + 2]);
        i += 3;
        if (n > len - i)
            return GW_EINVAL;
        if (type == 0) {
            if (n == 0 || n >= cap)
                return GW_EINVAL;
            for (size_t k = 0; k < n; k++) {
                unsigned char ch = p[i + k];
                if (ch == 0 || ch > 0x7e || ch <= 0x20)
                    return GW_EINVAL;
                out[k] = (char)tolower(ch);
            }
            if (out[n - 1] == '.')
                n--;
            out[n] = '\0';
            /* no empty label: ".a", "a..b", "a.." */
            if (n == 0 || out[0] == '.' || out[n - 1] == '.' || strstr(out, ".."))
                return GW_EINVAL;
            return 0;
        }
        i += n;
    }
    return GW_EINVAL;
}

/* Acknowledges the server name (the certificate was chosen in on_client_hello): a TLS 1.3 client
 * keeps the name with its ticket only when the server acknowledged it, and offers the ticket
 * again only for that name. */
static int on_servername(SSL *ssl, int *alert, void *arg)
{
    (void)ssl;
    (void)alert;
    (void)arg;
    return SSL_TLSEXT_ERR_OK;
}

/* The ALPN callback's argument when h2 is offered (its address is all that matters). */
static int alpn_h2_marker;

/* ALPN (RFC 7301): h2 when "http2" is on (arg non-NULL), preferred, then HTTP/1.1. OpenSSL calls
 * this only when the client sent the extension (a client without one is served HTTP/1.1).
 * RFC 7301 3.2: "In the event that the server supports no protocols that the client
 * advertises, then the server SHALL respond with a fatal 'no_application_protocol' alert." */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    static const unsigned char both[] = "\x02h2\x08http/1.1";
    const unsigned char *ours = arg ? both : both + 3;
    unsigned int ours_len = arg ? sizeof both - 1 : sizeof both - 4;
    unsigned char *sel = NULL;
    if (SSL_select_next_proto(&sel, outlen, ours, ours_len, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* OCSP stapling: hand the configured response to a client that asked for one. */
static int on_status(SSL *ssl, void *arg)
{
    const struct tls_entry *e = arg;
    /* After SNI moved the session, the callback of the new context runs with its own arg. */
    if (!e || !e->ocsp)
        return SSL_TLSEXT_ERR_NOACK;
    unsigned char *copy = OPENSSL_malloc(e->ocsp_len);
    if (!copy)
        return SSL_TLSEXT_ERR_NOACK;
    memcpy(copy, e->ocsp, e->ocsp_len);
    if (SSL_set_tlsext_status_ocsp_resp(ssl, copy, (long)e->ocsp_len) != 1) {
        OPENSSL_free(copy);
        return SSL_TLSEXT_ERR_NOACK;
    }
    return SSL_TLSEXT_ERR_OK;
}

static void entry_free(struct tls_entry *e)
{
    SSL_CTX_free(e->ssl);
    for (size_t k = 0; k < e->nnames; k++)
        free(e->names[k]);
    free(e->names);
    free(e->ocsp);
}

static void ctx_free(struct gw_tls_ctx *ctx)
{
    for (size_t i = 0; i < ctx->n; i++)
        entry_free(&ctx->e[i]);
    free(ctx->e);
    free(ctx);
}

static int ssl_fail(const char *what, char *why, size_t whylen)
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

static int build_entry(struct gw_tls_ctx *ctx, const struct gw_tls_conf *conf,
                       const struct gw_tls_cert_conf *cc, struct tls_entry *e, char *why,
                       size_t whylen)
{
    SSL_CTX *s = SSL_CTX_new(TLS_server_method());
    e->ssl = s;
    if (!s)
        return GW_ENOMEM;
    SSL_CTX_set_app_data(s, ctx);
    if (SSL_CTX_set_min_proto_version(s, conf->min_version) != 1 ||
        SSL_CTX_set_max_proto_version(s, TLS1_3_VERSION) != 1)
        return ssl_fail("tls.min_version", why, whylen);
    /* Renegotiation is a DoS lever and useless to HTTP/1.1 clients; compression is CRIME. */
    SSL_CTX_set_options(s, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* An idle keep-alive connection gives its read and write buffers back. */
    SSL_CTX_set_mode(s, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_set_cipher_list(s, conf->ciphers) != 1)
        return ssl_fail("tls.ciphers", why, whylen);
    if (SSL_CTX_set_ciphersuites(s, conf->ciphersuites) != 1)
        return ssl_fail("tls.ciphersuites", why, whylen);
    if (SSL_CTX_set1_groups_list(s, conf->curves) != 1)
        return ssl_fail("tls.curves", why, whylen);
    if (SSL_CTX_use_certificate_chain_file(s, cc->cert) != 1)
        return ssl_fail(cc->cert, why, whylen);
    if (SSL_CTX_use_PrivateKey_file(s, cc->key, SSL_FILETYPE_PEM) != 1)
        return ssl_fail(cc->key, why, whylen);
    if (SSL_CTX_check_private_key(s) != 1)
        return ssl_fail(cc->key, why, whylen);
    /* A handshake without SNI keeps this one (on_client_hello sets the others). */
    if (SSL_CTX_set_session_id_context(s, ctx->auth_digest, sizeof ctx->auth_digest) != 1)
        return ssl_fail("session id context", why, whylen);
    SSL_CTX_set_timeout(s, (long)(conf->session_timeout_ms / 1000));
    if (conf->session_cache > 0) {
        SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_SERVER);
        SSL_CTX_sess_set_cache_size(s, (long)conf->session_cache);
    } else {
        SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
    }
    if (conf->session_tickets) {
        SSL_CTX_set_tlsext_ticket_key_evp_cb(s, gw__tls_ticket_cb);
        /* TLS 1.3: one ticket per handshake is what a browser or curl keeps. */
        SSL_CTX_set_num_tickets(s, 1);
    } else {
        SSL_CTX_set_options(s, SSL_OP_NO_TICKET);
        if (conf->session_cache == 0)
            SSL_CTX_set_num_tickets(s, 0);
    }
    SSL_CTX_set_client_hello_cb(s, on_client_hello, ctx);
    SSL_CTX_set_tlsext_servername_callback(s, on_servername);
    SSL_CTX_set_alpn_select_cb(s, on_alpn, conf->alpn_h2 ? &alpn_h2_marker : NULL);
    if (conf->client_auth.enabled) {
        const struct gw_tls_client_auth_conf *ca = &conf->client_auth;
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca->ca);
        if (!names || SSL_CTX_load_verify_locations(s, ca->ca, NULL) != 1) {
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            return ssl_fail(ca->ca, why, whylen);
        }
        /* The CAs a client may chain to are named in the CertificateRequest. */
        SSL_CTX_set_client_CA_list(s, names);
        SSL_CTX_set_verify(
            s, SSL_VERIFY_PEER | (ca->required ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
        SSL_CTX_set_verify_depth(s, (int)ca->verify_depth);
    }
    if (cc->ocsp) {
        bool stale;
        int rc = gw_tls_ocsp_check(cc->ocsp, cc->cert, &e->ocsp, &e->ocsp_len, &stale, why, whylen);
        if (rc < 0)
            return rc;
        SSL_CTX_set_tlsext_status_cb(s, on_status);
        SSL_CTX_set_tlsext_status_arg(s, e);
    }
    if (cc->nnames) {
        e->names = calloc(cc->nnames, sizeof(char *));
        if (!e->names)
            return GW_ENOMEM;
        for (size_t k = 0; k < cc->nnames; k++) {
            e->names[k] = strdup(cc->names[k]);
            if (!e->names[k])
                return GW_ENOMEM;
            e->nnames = k + 1;
            for (char *p = e->names[k]; *p; p++)
                *p = (char)tolower((unsigned char)*p);
        }
    }
    return 0;
}

/* The digest of what decides a client certificate's verdict: whether one is asked for and
 * required, the verify depth and the CA bundle's bytes (a bundle rewritten in place under the
 * same path is another bundle). The bundle is read here and again by OpenSSL when the contexts
 * load it; a file changed between the two reads is seen by the next reload. */
static int auth_digest(const struct gw_tls_client_auth_conf *ca, unsigned char *out, char *why,
                       size_t whylen)
{
    unsigned char head[16] = {'g', 'a', 'n', 't', 'r', 'y', '-', 'c', 'a', '1'};
    head[10] = ca->enabled;
    head[11] = ca->enabled && ca->required;
    head[12] = (unsigned char)(ca->verify_depth >> 24);
    head[13] = (unsigned char)(ca->verify_depth >> 16);
    head[14] = (unsigned char)(ca->verify_depth >> 8);
    head[15] = (unsigned char)ca->verify_depth;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = GW_ENOMEM;
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(md, head, sizeof head) != 1)
        goto fail;
    if (ca->enabled) {
        rc = gw__tls_digest_file(md, ca->ca, why, whylen);
        if (rc < 0)
            goto fail;
        rc = GW_ENOMEM;
    }
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(md, out, &len) != 1)
        goto fail;
    rc = 0;
fail:
    EVP_MD_CTX_free(md);
    return rc;
}

int gw_tls_ctx_build(const struct gw_tls_conf *conf, struct gw_tls_ctx **out, char *why,
                     size_t whylen)
{
    *out = NULL;
    if (conf->ncerts == 0) {
        snprintf(why, whylen, "tls.certificates: none configured");
        return GW_EINVAL;
    }
    struct gw_tls_ctx *ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return GW_ENOMEM;
    atomic_init(&ctx->refs, 1);
    ctx->ticket_rotation_s = conf->ticket_key_rotation_ms / 1000;
    ctx->e = calloc(conf->ncerts, sizeof(*ctx->e));
    int rc = GW_ENOMEM;
    if (!ctx->e)
        goto fail;
    rc = auth_digest(&conf->client_auth, ctx->auth_digest, why, whylen);
    if (rc < 0)
        goto fail;
    for (size_t i = 0; i < conf->ncerts; i++) {
        ctx->n = i + 1;
        rc = build_entry(ctx, conf, &conf->certs[i], &ctx->e[i], why, whylen);
        if (rc < 0)
            goto fail;
    }
    *out = ctx;
    return 0;
fail:
    if (rc == GW_ENOMEM)
        snprintf(why, whylen, "out of memory");
    ERR_clear_error();
    ctx_free(ctx);
    return rc;
}

struct gw_tls_ctx *gw_tls_ctx_ref(struct gw_tls_ctx *ctx)
{
    atomic_fetch_add_explicit(&ctx->refs, 1, memory_order_relaxed);
    return ctx;
}

void gw_tls_ctx_unref(struct gw_tls_ctx *ctx)
{
    if (ctx && atomic_fetch_sub_explicit(&ctx->refs, 1, memory_order_acq_rel) == 1)
        ctx_free(ctx);
}
