/*
 * Certificate files: load a chain and its key, check that they belong together and are in
 * order, and say when the leaf expires. Used by the config loader (a bad file is a config
 * error with its position), "gantry check" and the context builder.
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "config/config-t.h"
#include "core/error.h"
#include "tls/internal.h"

static void openssl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, buf, len);
    else
        snprintf(buf, len, "no detail");
    ERR_clear_error();
}

int gw_tls_cert_check(const char *cert_path, const char *key_path, struct gw_tls_cert_info *info,
                      char *why, size_t whylen)
{
    char reason[160];
    int rc = GW_EINVAL;
    X509 *leaf = NULL;
    STACK_OF(X509) *chain = sk_X509_new_null();
    EVP_PKEY *key = NULL;
    BIO *b = NULL;
    memset(info, 0, sizeof(*info));
    if (!chain) {
        rc = GW_ENOMEM;
        goto fail;
    }
    b = BIO_new_file(cert_path, "r");
    if (!b) {
        snprintf(why, whylen, "%s: cannot open: %s", cert_path, strerror(errno));
        goto fail;
    }
    leaf = PEM_read_bio_X509_AUX(b, NULL, NULL, NULL);
    if (!leaf) {
        openssl_reason(reason, sizeof reason);
        snprintf(why, whylen, "%s: no PEM certificate (%s)", cert_path, reason);
        goto fail;
    }
    for (;;) {
        X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
        if (!x)
            break;
        if (!sk_X509_push(chain, x)) {
            X509_free(x);
            rc = GW_ENOMEM;
            goto fail;
        }
    }
    /* The loop ends on "no start line" at the end of the file: not an error. */
    unsigned long e = ERR_peek_last_error();
    if (e && ERR_GET_REASON(e) != PEM_R_NO_START_LINE) {
        openssl_reason(reason, sizeof reason);
        snprintf(why, whylen, "%s: certificate %d of the chain: %s", cert_path,
                 sk_X509_num(chain) + 2, reason);
        goto fail;
    }
    ERR_clear_error();
    BIO_free(b);
    b = BIO_new_file(key_path, "r");
    if (!b) {
        snprintf(why, whylen, "%s: cannot open: %s", key_path, strerror(errno));
        goto fail;
    }
    key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    if (!key) {
        openssl_reason(reason, sizeof reason);
        snprintf(why, whylen, "%s: no PEM private key, or one protected by a passphrase (%s)",
                 key_path, reason);
        goto fail;
    }
    if (X509_check_private_key(leaf, key) != 1) {
        ERR_clear_error();
        snprintf(why, whylen,
                 "%s: the key does not match the first certificate of %s (the leaf must come "
                 "first)",
                 key_path, cert_path);
        goto fail;
    }
    /* Leaf first, then each certificate's issuer: clients that build the path from the order
     * sent (and some do) fail on anything else. */
    X509 *prev = leaf;
    for (int i = 0; i < sk_X509_num(chain); i++) {
        X509 *x = sk_X509_value(chain, i);
        if (X509_check_issued(x, prev) != X509_V_OK) {
            snprintf(why, whylen,
                     "%s: certificate %d did not issue certificate %d: the chain must be the "
                     "leaf, then each certificate's issuer in order",
                     cert_path, i + 2, i + 1);
            goto fail;
        }
        prev = x;
    }
    int days = 0, secs = 0;
    if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(leaf)) != 1) {
        snprintf(why, whylen, "%s: unreadable notAfter date", cert_path);
        goto fail;
    }
    info->days_left = days < 0 || secs < 0 ? (days < 0 ? days : -1) : days;
    info->nchain = sk_X509_num(chain);
    X509_NAME_oneline(X509_get_subject_name(leaf), info->subject, sizeof info->subject);
    rc = 0;
fail:
    ERR_clear_error();
    BIO_free(b);
    EVP_PKEY_free(key);
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    return rc;
}

int gw_tls_check_list(const char *list, bool tls13, bool curves, char *why, size_t whylen)
{
    SSL_CTX *s = SSL_CTX_new(TLS_server_method());
    int ok;
    if (!s)
        return GW_ENOMEM;
    if (curves)
        ok = SSL_CTX_set1_groups_list(s, list);
    else if (tls13)
        ok = SSL_CTX_set_ciphersuites(s, list);
    else
        ok = SSL_CTX_set_cipher_list(s, list);
    SSL_CTX_free(s);
    if (ok == 1) {
        ERR_clear_error();
        return 0;
    }
    char reason[160];
    openssl_reason(reason, sizeof reason);
    snprintf(why, whylen, "OpenSSL does not accept this list (%s)", reason);
    return GW_EINVAL;
}

int gw_tls_report_expiry(const struct gw_tls_conf *conf, long warn_days, FILE *out)
{
    int n = 0;
    if (!conf->enabled)
        return 0;
    for (size_t i = 0; i < conf->ncerts; i++) {
        struct gw_tls_cert_info info;
        char why[512];
        if (gw_tls_cert_check(conf->certs[i].cert, conf->certs[i].key, &info, why, sizeof why) < 0)
            continue; /* the loader reported it already */
        if (info.days_left < 0) {
            fprintf(out, "warning: tls.certificates[%zu]: %s (%s) expired %ld day(s) ago\n", i,
                    conf->certs[i].cert, info.subject, -info.days_left);
            n++;
        } else if (info.days_left < warn_days) {
            fprintf(out, "warning: tls.certificates[%zu]: %s (%s) expires in %ld day(s)\n", i,
                    conf->certs[i].cert, info.subject, info.days_left);
            n++;
        }
        bool stale = false;
        if (conf->certs[i].ocsp &&
            gw_tls_ocsp_check(conf->certs[i].ocsp, conf->certs[i].cert, NULL, NULL, &stale, why,
                              sizeof why) == 0 &&
            stale) {
            fprintf(out,
                    "warning: tls.certificates[%zu].ocsp_staple: %s is past its nextUpdate "
                    "(clients refuse a stale staple: fetch a new response and reload)\n",
                    i, conf->certs[i].ocsp);
            n++;
        }
    }
    return n;
}

int gw_tls_check_ca(const char *path, char *why, size_t whylen)
{
    char reason[160];
    BIO *b = BIO_new_file(path, "r");
    if (!b) {
        snprintf(why, whylen, "%s: cannot open: %s", path, strerror(errno));
        return GW_EINVAL;
    }
    int n = 0;
    for (;;) {
        X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
        if (!x)
            break;
        X509_free(x);
        n++;
    }
    BIO_free(b);
    unsigned long e = ERR_peek_last_error();
    if (n == 0 || (e && ERR_GET_REASON(e) != PEM_R_NO_START_LINE)) {
        openssl_reason(reason, sizeof reason);
        snprintf(why, whylen, "%s: no PEM CA certificate could be read (%s)", path, reason);
        return GW_EINVAL;
    }
    ERR_clear_error();
    return 0;
}
