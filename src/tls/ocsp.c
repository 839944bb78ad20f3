/*
 * OCSP responses to staple ("tls.certificates[].ocsp_staple"): read one from its file and
 * check that it is a successful response about the certificate it is stapled to, for the
 * config loader ("gantry check", reload) and the context builder alike.
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tls/tls.h"

/* Largest OCSP response file accepted (they are a few KiB). */
#define OCSP_MAX_BYTES (64u * 1024)

/* The leaf of the PEM chain at path and, when the file has one, the certificate after it (its
 * issuer, as gw_tls_cert_check makes sure). 0, or GW_EINVAL with why. */
static int read_leaf(const char *path, X509 **leaf, X509 **issuer, char *why, size_t whylen)
{
    BIO *b = BIO_new_file(path, "r");
    if (!b) {
        snprintf(why, whylen, "%s: cannot open: %s", path, strerror(errno));
        return GW_EINVAL;
    }
    *leaf = PEM_read_bio_X509(b, NULL, NULL, NULL);
    *issuer = *leaf ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    ERR_clear_error();
    if (!*leaf) {
        snprintf(why, whylen, "%s: no PEM certificate", path);
        return GW_EINVAL;
    }
    return 0;
}

static bool same_bytes(const ASN1_OCTET_STRING *s, const unsigned char *p, unsigned int n)
{
    return s && (unsigned int)ASN1_STRING_length(s) == n &&
           memcmp(ASN1_STRING_get0_data(s), p, n) == 0;
}

/* Whether the CertID cid names leaf (RFC 6960 4.1.1): its serial number, the hash of its
 * issuer's name and, when the issuer is known, the hash of the issuer's public key, each hash
 * with the algorithm the response chose. */
static bool id_names(OCSP_CERTID *cid, X509 *leaf, X509 *issuer)
{
    ASN1_OCTET_STRING *name_hash = NULL, *key_hash = NULL;
    ASN1_OBJECT *alg = NULL;
    ASN1_INTEGER *serial = NULL;
    if (OCSP_id_get0_info(&name_hash, &alg, &key_hash, &serial, cid) != 1 || !serial ||
        ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(leaf)) != 0)
        return false;
    const EVP_MD *md = EVP_get_digestbyobj(alg);
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!md || X509_NAME_digest(X509_get_issuer_name(leaf), md, h, &n) != 1 ||
        !same_bytes(name_hash, h, n))
        return false;
    if (issuer && (X509_pubkey_digest(issuer, md, h, &n) != 1 || !same_bytes(key_hash, h, n)))
        return false;
    return true;
}

int gw_tls_ocsp_check(const char *ocsp_path, const char *cert_path, unsigned char **der,
                      size_t *der_len, bool *stale, char *why, size_t whylen)
{
    int rc = GW_EINVAL;
    unsigned char *buf = NULL;
    OCSP_RESPONSE *resp = NULL;
    OCSP_BASICRESP *bs = NULL;
    X509 *leaf = NULL, *issuer = NULL;
    *stale = false;
    FILE *f = fopen(ocsp_path, "rb");
    if (!f) {
        snprintf(why, whylen, "%s: cannot open: %s", ocsp_path, strerror(errno));
        goto fail;
    }
    buf = malloc(OCSP_MAX_BYTES);
    size_t n = buf ? fread(buf, 1, OCSP_MAX_BYTES, f) : 0;
    fclose(f);
    if (!buf) {
        rc = GW_ENOMEM;
        goto fail;
    }
    const unsigned char *p = buf;
    resp = n > 0 && n < OCSP_MAX_BYTES ? d2i_OCSP_RESPONSE(NULL, &p, (long)n) : NULL;
    if (!resp || (size_t)(p - buf) != n) {
        snprintf(why, whylen, "%s: not a DER OCSP response (as written by openssl ocsp -respout)",
                 ocsp_path);
        goto fail;
    }
    int status = OCSP_response_status(resp);
    if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        snprintf(why, whylen, "%s: the OCSP response's status is %s, not successful", ocsp_path,
                 OCSP_response_status_str(status));
        goto fail;
    }
    bs = OCSP_response_get1_basic(resp);
    if (!bs) {
        snprintf(why, whylen, "%s: not a basic OCSP response", ocsp_path);
        goto fail;
    }
    rc = read_leaf(cert_path, &leaf, &issuer, why, whylen);
    if (rc < 0)
        goto fail;
    rc = GW_EINVAL;
    OCSP_SINGLERESP *single = NULL;
    for (int i = 0; !single && i < OCSP_resp_count(bs); i++) {
        OCSP_SINGLERESP *s = OCSP_resp_get0(bs, i);
        if (id_names((OCSP_CERTID *)OCSP_SINGLERESP_get0_id(s), leaf, issuer))
            single = s;
    }
    if (!single) {
        char *serial = i2s_ASN1_INTEGER(NULL, X509_get0_serialNumber(leaf));
        snprintf(why, whylen, "%s: the OCSP response is not for the certificate of %s (serial %s)",
                 ocsp_path, cert_path, serial ? serial : "?");
        OPENSSL_free(serial);
        goto fail;
    }
    int reason = 0;
    ASN1_GENERALIZEDTIME *revoked = NULL, *thisupd = NULL, *nextupd = NULL;
    int cs = OCSP_single_get0_status(single, &reason, &revoked, &thisupd, &nextupd);
    if (cs == V_OCSP_CERTSTATUS_REVOKED) {
        snprintf(why, whylen, "%s: the OCSP response says the certificate of %s is revoked",
                 ocsp_path, cert_path);
        goto fail;
    }
    /* RFC 6960 4.2.2.1: a response past its nextUpdate is stale; clients refuse it, but a
     * staple being renewed late is an operator's warning, not a reason to stop serving. */
    *stale = nextupd && X509_cmp_current_time(nextupd) < 0;
    if (der) {
        *der = buf;
        *der_len = n;
        buf = NULL;
    }
    rc = 0;
fail:
    ERR_clear_error();
    X509_free(leaf);
    X509_free(issuer);
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(resp);
    free(buf);
    return rc;
}
