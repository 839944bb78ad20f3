/* Helpers for the TLS unit tests: certificates made with OpenSSL in a temporary directory. */
#ifndef GW_TEST_TLS_TEST_H
#define GW_TEST_TLS_TEST_H

#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A temporary directory, removed (with the files the tests wrote) by tmpdir_remove. */
static inline char *tmpdir_make(void)
{
    char *d = strdup("/tmp/gw-tls-unit-XXXXXX");
    if (!d || !mkdtemp(d))
        abort();
    return d;
}

static inline void tmpdir_remove(char *d)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", d);
    free(d);
}

static inline EVP_PKEY *key_new(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    if (!k)
        abort();
    return k;
}

/* A certificate for cn (also its DNS SAN) with key, signed by issuer_key under issuer (NULL:
 * self-signed), valid from now + from_days to now + to_days. */
static inline X509 *cert_new(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
                             long from_days, long to_days, int ca)
{
    X509 *x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)rand());
    X509_set_version(x, 2);
    X509_gmtime_adj(X509_getm_notBefore(x), from_days * 86400);
    X509_gmtime_adj(X509_getm_notAfter(x), to_days * 86400);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
    char san[300];
    snprintf(san, sizeof san, "DNS:%s", cn);
    X509_EXTENSION *ext =
        X509V3_EXT_conf_nid(NULL, &v3, ca ? NID_basic_constraints : NID_subject_alt_name,
                            ca ? "critical,CA:TRUE" : san);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    if (X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) == 0)
        abort();
    return x;
}

/* Writes dir/name: the certificates in order (PEM). */
static inline char *write_certs(const char *dir, const char *name, X509 **certs, int n)
{
    char *path = malloc(512);
    snprintf(path, 512, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    for (int i = 0; i < n; i++)
        PEM_write_X509(f, certs[i]);
    fclose(f);
    return path;
}

static inline char *write_key(const char *dir, const char *name, EVP_PKEY *k)
{
    char *path = malloc(512);
    snprintf(path, 512, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    return path;
}

/* Writes dir/name: a DER OCSP response signed by issuer (issuer_key) saying leaf is good, made
 * ten days ago, with its nextUpdate next_days from now (negative: already passed). */
static inline char *write_ocsp(const char *dir, const char *name, X509 *leaf, X509 *issuer,
                               EVP_PKEY *issuer_key, long next_days)
{
    OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), leaf, issuer);
    OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
    ASN1_TIME *thisupd = X509_gmtime_adj(NULL, -10L * 86400);
    ASN1_TIME *nextupd = X509_gmtime_adj(NULL, next_days * 86400);
    if (!id || !bs || !thisupd || !nextupd ||
        !OCSP_basic_add1_status(bs, id, V_OCSP_CERTSTATUS_GOOD, 0, NULL, thisupd, nextupd) ||
        OCSP_basic_sign(bs, issuer, issuer_key, EVP_sha256(), NULL, 0) != 1)
        abort();
    OCSP_RESPONSE *r = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
    unsigned char *der = NULL;
    int n = r ? i2d_OCSP_RESPONSE(r, &der) : -1;
    if (n <= 0)
        abort();
    char *path = malloc(512);
    snprintf(path, 512, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    fwrite(der, 1, (size_t)n, f);
    fclose(f);
    OPENSSL_free(der);
    OCSP_RESPONSE_free(r);
    OCSP_BASICRESP_free(bs);
    OCSP_CERTID_free(id);
    ASN1_TIME_free(thisupd);
    ASN1_TIME_free(nextupd);
    return path;
}

#endif
