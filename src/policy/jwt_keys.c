/* JWT keys: algorithm table, loading with the key-type check, signature verification. */
#include "policy/jwt.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "core/error.h"

enum key_family {
    FAM_HMAC,
    FAM_RSA,
    FAM_EC,
    FAM_EDDSA
};

static const struct {
    const char *name;
    enum key_family fam;
    const char *md;    /* digest name; NULL for EdDSA (the hash is part of the scheme) */
    size_t size;       /* HS*: minimum secret length; ES*: length of r and of s */
    const char *curve; /* ES*: group name as OpenSSL reports it */
} ALGS[GW_JWT__ALG_COUNT] = {
    [GW_JWT_HS256] = {"HS256", FAM_HMAC, "SHA256", 32, NULL},
    [GW_JWT_HS384] = {"HS384", FAM_HMAC, "SHA384", 48, NULL},
    [GW_JWT_HS512] = {"HS512", FAM_HMAC, "SHA512", 64, NULL},
    [GW_JWT_RS256] = {"RS256", FAM_RSA, "SHA256", 0, NULL},
    [GW_JWT_RS384] = {"RS384", FAM_RSA, "SHA384", 0, NULL},
    [GW_JWT_RS512] = {"RS512", FAM_RSA, "SHA512", 0, NULL},
    [GW_JWT_ES256] = {"ES256", FAM_EC, "SHA256", 32, "prime256v1"},
    [GW_JWT_ES384] = {"ES384", FAM_EC, "SHA384", 48, "secp384r1"},
    [GW_JWT_EDDSA] = {"EdDSA", FAM_EDDSA, NULL, 0, NULL},
};

#define GW_JWT_RSA_MIN_BITS 2048

/* The digests, fetched once: looking an algorithm up by name on every verification costs more
 * than an HMAC over a token. Process-lifetime (OpenSSL keeps them until exit anyway). */
static EVP_MD *digests[GW_JWT__ALG_COUNT];
static pthread_once_t digests_once = PTHREAD_ONCE_INIT;

static void fetch_digests(void)
{
    for (int i = 0; i < GW_JWT__ALG_COUNT; i++) {
        if (ALGS[i].md)
            digests[i] = EVP_MD_fetch(NULL, ALGS[i].md, NULL);
    }
}

static const EVP_MD *digest_of(enum gw_jwt_alg alg)
{
    pthread_once(&digests_once, fetch_digests);
    return digests[alg];
}

/* RFC 2104: absorbs (key ^ pad) into a fresh state for md. NULL on failure. */
static EVP_MD_CTX *hmac_pad_state(const EVP_MD *md, const unsigned char *secret, size_t len,
                                  unsigned char pad)
{
    unsigned char block[144]; /* the largest block size of SHA-256/384/512 is 128 */
    unsigned char hashed[EVP_MAX_MD_SIZE];
    size_t bs = (size_t)EVP_MD_get_block_size(md);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int hl = 0;
    if (ctx == NULL || bs == 0 || bs > sizeof block)
        goto fail;
    memset(block, 0, sizeof block);
    if (len > bs) {
        if (EVP_Digest(secret, len, hashed, &hl, md, NULL) != 1)
            goto fail;
        memcpy(block, hashed, hl);
    } else {
        memcpy(block, secret, len);
    }
    for (size_t i = 0; i < bs; i++)
        block[i] ^= pad;
    if (EVP_DigestInit_ex(ctx, md, NULL) != 1 || EVP_DigestUpdate(ctx, block, bs) != 1)
        goto fail;
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(hashed, sizeof hashed);
    return ctx;
fail:
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(hashed, sizeof hashed);
    EVP_MD_CTX_free(ctx);
    return NULL;
}

static bool alg_valid(enum gw_jwt_alg alg)
{
    return (unsigned)alg < GW_JWT__ALG_COUNT;
}

const char *gw_jwt_alg_name(enum gw_jwt_alg alg)
{
    return alg_valid(alg) ? ALGS[alg].name : "unknown";
}

int gw_jwt_alg_parse(const char *name, enum gw_jwt_alg *alg)
{
    for (int i = 0; i < GW_JWT__ALG_COUNT; i++) {
        if (strcmp(name, ALGS[i].name) == 0) {
            *alg = (enum gw_jwt_alg)i;
            return 0;
        }
    }
    return GW_EJWTALG;
}

static int set_kid(struct gw_jwt_key *k, const char *kid)
{
    size_t n = kid ? strlen(kid) : 0;
    if (n >= sizeof(k->kid))
        return GW_EINVAL;
    if (n)
        memcpy(k->kid, kid, n);
    k->kid[n] = '\0';
    return 0;
}

int gw_jwt_key_hmac(struct gw_jwt_key *k, const char *kid, enum gw_jwt_alg alg, const void *secret,
                    size_t len)
{
    memset(k, 0, sizeof(*k));
    if (!alg_valid(alg) || ALGS[alg].fam != FAM_HMAC || len < ALGS[alg].size)
        return GW_EINVAL;
    if (set_kid(k, kid) < 0)
        return GW_EINVAL;
    k->secret = malloc(len);
    if (!k->secret)
        return GW_ENOMEM;
    memcpy(k->secret, secret, len);
    k->secret_len = len;
    k->alg = alg;
    const EVP_MD *md = digest_of(alg);
    if (md) {
        k->hmac_inner = hmac_pad_state(md, k->secret, len, 0x36);
        k->hmac_outer = hmac_pad_state(md, k->secret, len, 0x5c);
    }
    if (!k->hmac_inner || !k->hmac_outer) {
        gw_jwt_key_free(k);
        return GW_ENOMEM;
    }
    return 0;
}

/* Whether pkey's type (and curve or size) is the one alg needs. */
static bool key_matches(EVP_PKEY *pkey, enum gw_jwt_alg alg)
{
    char group[64];
    size_t glen = 0;

    switch (ALGS[alg].fam) {
    case FAM_RSA:
        /* Plain RSA only: an RSA-PSS key would sign PS*, not RS*. */
        return EVP_PKEY_is_a(pkey, "RSA") && EVP_PKEY_get_bits(pkey) >= GW_JWT_RSA_MIN_BITS;
    case FAM_EC:
        if (!EVP_PKEY_is_a(pkey, "EC"))
            return false;
        if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) != 1)
            return false;
        return strcmp(group, ALGS[alg].curve) == 0;
    case FAM_EDDSA:
        return EVP_PKEY_is_a(pkey, "ED25519") || EVP_PKEY_is_a(pkey, "ED448");
    case FAM_HMAC:
        break;
    }
    return false;
}

int gw_jwt_key_pem(struct gw_jwt_key *k, const char *kid, enum gw_jwt_alg alg, const char *pem,
                   size_t len)
{
    BIO *bio = NULL;
    EVP_PKEY *pkey = NULL;
    int rc = GW_EINVAL;

    memset(k, 0, sizeof(*k));
    if (!alg_valid(alg) || ALGS[alg].fam == FAM_HMAC || len > INT32_MAX)
        goto fail;
    if (set_kid(k, kid) < 0)
        goto fail;
    bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio) {
        rc = GW_ENOMEM;
        goto fail;
    }
    pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    if (!pkey || !key_matches(pkey, alg))
        goto fail;
    k->pkey = pkey;
    k->alg = alg;
    BIO_free(bio);
    return 0;
fail:
    ERR_clear_error();
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    memset(k, 0, sizeof(*k));
    return rc;
}

void gw_jwt_key_free(struct gw_jwt_key *k)
{
    if (!k)
        return;
    if (k->secret) {
        OPENSSL_cleanse(k->secret, k->secret_len);
        free(k->secret);
    }
    EVP_PKEY_free(k->pkey);
    EVP_MD_CTX_free(k->hmac_inner);
    EVP_MD_CTX_free(k->hmac_outer);
    memset(k, 0, sizeof(*k));
}

int gw_jwt_key_mac(const struct gw_jwt_key *k, const void *input, size_t n, unsigned char *mac,
                   unsigned int *maclen)
{
    unsigned char inner[EVP_MAX_MD_SIZE];
    unsigned int ilen = 0;
    int rc = GW_ENOMEM;
    *maclen = 0;
    if (!k->hmac_inner || !k->hmac_outer)
        return GW_EINVAL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return GW_ENOMEM;
    /* HMAC = H((K ^ opad) || H((K ^ ipad) || m)), from the states absorbed at load. */
    if (EVP_MD_CTX_copy_ex(ctx, k->hmac_inner) != 1 || EVP_DigestUpdate(ctx, input, n) != 1 ||
        EVP_DigestFinal_ex(ctx, inner, &ilen) != 1 || EVP_MD_CTX_copy_ex(ctx, k->hmac_outer) != 1 ||
        EVP_DigestUpdate(ctx, inner, ilen) != 1 || EVP_DigestFinal_ex(ctx, mac, maclen) != 1)
        goto out;
    rc = 0;
out:
    OPENSSL_cleanse(inner, sizeof inner);
    EVP_MD_CTX_free(ctx);
    return rc;
}

static int verify_hmac(const struct gw_jwt_key *k, const void *input, size_t n,
                       const unsigned char *sig, size_t siglen)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    int rc = gw_jwt_key_mac(k, input, n, mac, &maclen);
    if (rc == GW_ENOMEM)
        return rc;
    /* Constant time: a byte-by-byte early exit would leak how much of a forged MAC matched. */
    if (rc == 0 && siglen == maclen && CRYPTO_memcmp(mac, sig, maclen) == 0)
        return 0;
    return GW_EJWTSIG;
}

/*
 * RFC 7518 section 3.4: an ECDSA JWS signature is R and S as fixed-size big-endian octet
 * strings, concatenated; OpenSSL verifies the DER SEQUENCE of two INTEGERs. Converts the
 * former into the latter; returns the DER length or 0.
 */
static int ecdsa_raw_to_der(const unsigned char *sig, size_t half, unsigned char **der)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)half, NULL);
    BIGNUM *s = BN_bin2bn(sig + half, (int)half, NULL);
    int n = 0;

    if (!es || !r || !s)
        goto fail;
    if (ECDSA_SIG_set0(es, r, s) != 1)
        goto fail;
    r = NULL; /* owned by es now */
    s = NULL;
    n = i2d_ECDSA_SIG(es, der);
    if (n < 0)
        n = 0;
fail:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return n;
}

static int verify_pkey(const struct gw_jwt_key *k, const void *input, size_t n,
                       const unsigned char *sig, size_t siglen)
{
    EVP_MD_CTX *ctx = NULL;
    unsigned char *der = NULL;
    const unsigned char *s = sig;
    size_t slen = siglen;
    int rc = GW_EJWTSIG;

    if (ALGS[k->alg].fam == FAM_EC) {
        int dlen;
        if (siglen != 2 * ALGS[k->alg].size)
            goto fail;
        dlen = ecdsa_raw_to_der(sig, ALGS[k->alg].size, &der);
        if (dlen <= 0)
            goto fail;
        s = der;
        slen = (size_t)dlen;
    }
    ctx = EVP_MD_CTX_new();
    if (!ctx) {
        rc = GW_ENOMEM;
        goto fail;
    }
    if (EVP_DigestVerifyInit(ctx, NULL, ALGS[k->alg].md ? digest_of(k->alg) : NULL, NULL,
                             k->pkey) != 1)
        goto fail;
    if (EVP_DigestVerify(ctx, s, slen, input, n) == 1)
        rc = 0;
fail:
    /* A failed verification leaves entries on this thread's error queue; drop them. */
    ERR_clear_error();
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    return rc;
}

int gw_jwt_key_verify(const struct gw_jwt_key *k, const void *input, size_t n,
                      const unsigned char *sig, size_t siglen)
{
    if (!alg_valid(k->alg))
        return GW_EJWTSIG;
    if (ALGS[k->alg].fam == FAM_HMAC)
        return k->secret ? verify_hmac(k, input, n, sig, siglen) : GW_EJWTSIG;
    return k->pkey ? verify_pkey(k, input, n, sig, siglen) : GW_EJWTSIG;
}
