/*
 * libFuzzer target: gantry's TLS glue fed arbitrary ClientHello bytes. The first byte picks
 * the way in:
 *   even: the rest is the server_name extension's body for gw__tls_parse_sni (the parser the
 *         ClientHello callback runs before OpenSSL parses the extension itself);
 *   odd:  the rest is what a client sent, fed to a server session (tls/stream.h) in pieces
 *         whose sizes come from the second byte: the handshake runs through OpenSSL's parser
 *         and gantry's ClientHello (SNI, certificate switch), ALPN and ticket callbacks, over
 *         a context with two certificates (a default and "*.example.com").
 * Neither may crash, leak or read outside the input; a parsed name must be a lowercase host
 * name without a trailing dot.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config-t.h"
#include "tls/internal.h"
#include "tls/stream.h"

static struct gw_tls_ctx *ctx;

/* A self-signed certificate for cn in dir/<tag>.pem and dir/<tag>.key. */
static void make_cert(const char *dir, const char *tag, const char *cn, char *cert, char *key)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, k);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_sign(x, k, EVP_sha256());
    snprintf(cert, 256, "%s/%s.pem", dir, tag);
    snprintf(key, 256, "%s/%s.key", dir, tag);
    FILE *f = fopen(cert, "w");
    PEM_write_X509(f, x);
    fclose(f);
    f = fopen(key, "w");
    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(k);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static char dir[] = "/tmp/gw-fuzz-tls-XXXXXX";
    static char c0[256], k0[256], c1[256], k1[256];
    static char *names[] = {"*.example.com"};
    static struct gw_tls_cert_conf certs[2];
    static struct gw_tls_conf conf;
    if (!mkdtemp(dir))
        abort();
    make_cert(dir, "default", "default.test", c0, k0);
    make_cert(dir, "wild", "*.example.com", c1, k1);
    certs[0] = (struct gw_tls_cert_conf){.cert = c0, .key = k0};
    certs[1] = (struct gw_tls_cert_conf){.cert = c1, .key = k1, .names = names, .nnames = 1};
    conf = (struct gw_tls_conf){
        .enabled = true,
        .certs = certs,
        .ncerts = 2,
        .min_version = 0x0303,
        .ciphers = GW_TLS_DEFAULT_CIPHERS,
        .ciphersuites = GW_TLS_DEFAULT_CIPHERSUITES,
        .curves = GW_TLS_DEFAULT_CURVES,
        .session_tickets = true,
        .ticket_key_rotation_ms = 3600 * 1000,
        .session_cache = 100,
        .session_timeout_ms = 3600 * 1000,
    };
    char why[512];
    if (gw_tls_ctx_build(&conf, &ctx, why, sizeof why) != 0) {
        fprintf(stderr, "fuzz_tls_hello: %s\n", why);
        abort();
    }
    /* The files were read; the context keeps what it needs. */
    unlink(c0);
    unlink(k0);
    unlink(c1);
    unlink(k1);
    rmdir(dir);
    return 0;
}

static void check_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || name[n - 1] == '.')
        abort();
    for (size_t i = 0; i < n; i++)
        if ((name[i] >= 'A' && name[i] <= 'Z') || (unsigned char)name[i] <= 0x20)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    if ((data[0] & 1) == 0) {
        /* an exact-size copy, so ASan sees any read past the end */
        size_t n = size - 1;
        unsigned char *p = malloc(n ? n : 1);
        memcpy(p, data + 1, n);
        char name[256];
        if (gw__tls_parse_sni(p, n, name, sizeof name) == 0)
            check_name(name);
        free(p);
        return 0;
    }
    struct gw_tls_stream *t = gw_tls_stream_new(ctx);
    if (!t)
        return 0;
    size_t piece = (size_t)data[1] + 1, off = 2;
    char buf[4096];
    while (off < size) {
        size_t n = size - off < piece ? size - off : piece;
        if (gw_tls_stream_feed(t, data + off, n) != 0)
            break;
        off += n;
        size_t got = 0;
        int rc = gw_tls_stream_read(t, buf, sizeof buf, &got);
        const char *out;
        size_t outn = gw_tls_stream_out(t, &out);
        gw_tls_stream_out_consume(t, outn);
        if (rc < 0 || rc == GW_TLS_CLOSED)
            break;
    }
    const char *sn = gw_tls_stream_server_name(t);
    (void)sn;
    gw_tls_stream_free(t);
    return 0;
}
