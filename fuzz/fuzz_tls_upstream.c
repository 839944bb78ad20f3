/*
 * libFuzzer target: gantry's client-side TLS glue (tls/client.h over tls/stream.h, what
 * upstream/upconn_tls.c and the health checks run) fed arbitrary bytes as the server's side.
 * The first byte picks the settings (bit 0: verify against a CA, else no verification; bit 1:
 * an IP literal as the target, else a DNS name; bit 2: offer the session the previous input
 * left), the second the size of the pieces the rest is fed in. The handshake runs through
 * OpenSSL's parser with gantry's verification settings and new-session callback; after it
 * (should the input complete one) the rest is read as records. Nothing may crash or leak, and a
 * session handed over must be freed by its taker.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config-t.h"
#include "tls/client.h"
#include "tls/stream.h"

static struct gw_tls_client *verifying, *trusting;
static struct gw_tls_session *kept;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static char dir[] = "/tmp/gw-fuzz-tlsup-XXXXXX";
    char ca[300];
    if (!mkdtemp(dir))
        abort();
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, k);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"fuzz CA", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_sign(x, k, EVP_sha256());
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    FILE *f = fopen(ca, "w");
    PEM_write_X509(f, x);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(k);
    struct gw_upstream_tls_conf conf = {
        .verify = true, .ca = ca, .session_reuse = true, .min_version = 0x0303};
    char why[512];
    if (gw_tls_client_build(&conf, &verifying, why, sizeof why) != 0) {
        fprintf(stderr, "fuzz_tls_upstream: %s\n", why);
        abort();
    }
    conf.verify = false;
    conf.ca = NULL;
    conf.server_name = "api.internal.example";
    if (gw_tls_client_build(&conf, &trusting, why, sizeof why) != 0) {
        fprintf(stderr, "fuzz_tls_upstream: %s\n", why);
        abort();
    }
    unlink(ca);
    rmdir(dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    struct gw_tls_client *cl = (data[0] & 1) ? verifying : trusting;
    const char *host = (data[0] & 2) ? "10.0.0.7" : "api.example.com";
    struct gw_tls_stream *t = gw_tls_stream_new_client(cl, host, (data[0] & 4) ? kept : NULL);
    if (!t)
        return 0;
    size_t piece = (size_t)data[1] + 1, off = 2;
    char buf[4096];
    const char *out;
    /* the ClientHello */
    (void)gw_tls_stream_handshake(t);
    gw_tls_stream_out_consume(t, gw_tls_stream_out(t, &out));
    bool done = false;
    while (off < size) {
        size_t n = size - off < piece ? size - off : piece;
        if (gw_tls_stream_feed(t, data + off, n) != 0)
            break;
        off += n;
        int rc;
        if (!done) {
            rc = gw_tls_stream_handshake(t);
            done = rc == 0;
        } else {
            size_t got = 0;
            rc = gw_tls_stream_read(t, buf, sizeof buf, &got);
        }
        gw_tls_stream_out_consume(t, gw_tls_stream_out(t, &out));
        struct gw_tls_session *s = gw_tls_stream_take_session(t);
        if (s) {
            gw_tls_session_free(kept);
            kept = s;
        }
        if (rc < 0 || rc == GW_TLS_CLOSED)
            break;
    }
    gw_tls_stream_free(t);
    return 0;
}
