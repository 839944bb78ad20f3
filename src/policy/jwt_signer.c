/* JWT signers (HS256, ES256, EdDSA) and key rings; the JWK Set writer is in jwks_write.c. */
#include "policy/jwt_signer.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/pem.h>

#include "core/base64url.h"
#include "core/error.h"

/* The protected header {"alg":...,"typ":"JWT","kid":...} in base64url and the '.' after it,
 * into s->head. 0 or GW_ENOMEM. */
static int make_head(struct gw_jwt_signer *s)
{
    json_t *h = json_pack("{s:s, s:s}", "alg", gw_jwt_alg_name(s->alg), "typ", "JWT");
    if (h != NULL && s->kid[0] != '\0' && json_object_set_new(h, "kid", json_string(s->kid)) < 0) {
        json_decref(h);
        h = NULL;
    }
    char *hdr = h ? json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(h);
    if (hdr == NULL)
        return GW_ENOMEM;
    size_t hlen = strlen(hdr), cap = GW_BASE64URL_ENCODED_LEN(hlen) + 2, n = 0;
    s->head = malloc(cap);
    int rc = s->head ? gw_base64url_encode(hdr, hlen, s->head, cap, &n) : GW_ENOMEM;
    free(hdr);
    if (rc < 0)
        return GW_ENOMEM;
    s->head[n++] = '.';
    s->head[n] = '\0';
    s->head_len = n;
    return 0;
}

int gw_jwt_signer_hmac(struct gw_jwt_signer *s, const char *kid, const void *secret, size_t len)
{
    memset(s, 0, sizeof *s);
    if (kid == NULL || strlen(kid) >= GW_JWT_KID_MAX || len < 32)
        return GW_EINVAL;
    int rc = GW_ENOMEM;
    s->secret = malloc(len);
    s->mac = calloc(1, sizeof *s->mac);
    if (s->secret == NULL || s->mac == NULL)
        goto fail;
    memcpy(s->secret, secret, len);
    s->secret_len = len;
    s->alg = GW_JWT_HS256;
    memcpy(s->kid, kid, strlen(kid) + 1);
    rc = gw_jwt_key_hmac(s->mac, NULL, GW_JWT_HS256, secret, len);
    if (rc < 0) {
        free(s->mac);
        s->mac = NULL;
        goto fail;
    }
    rc = make_head(s);
    if (rc < 0)
        goto fail;
    return 0;
fail:
    gw_jwt_signer_free(s);
    return rc;
}

/* An encrypted key is refused rather than prompted for on the terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

static bool key_fits(EVP_PKEY *pkey, enum gw_jwt_alg alg)
{
    char group[64];
    size_t glen = 0;
    if (alg == GW_JWT_EDDSA)
        return EVP_PKEY_is_a(pkey, "ED25519") || EVP_PKEY_is_a(pkey, "ED448");
    if (alg != GW_JWT_ES256 || !EVP_PKEY_is_a(pkey, "EC"))
        return false;
    if (EVP_PKEY_get_group_name(pkey, group, sizeof group, &glen) != 1)
        return false;
    return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

static int sign_pkey(const struct gw_jwt_signer *s, const char *input, size_t n, char *sig,
                     size_t cap);
static int verify_key(const struct gw_jwt_signer *s, struct gw_jwt_key *k);

/* A key file may hold a public point that does not belong to its private scalar (SEC 1 and
 * PKCS#8 v2 carry both): tokens signed with it would fail everywhere they are verified with
 * the published key. One signature checked with the public half finds out at load. */
static int self_test(const struct gw_jwt_signer *s)
{
    static const char msg[] = "gantry key self-test";
    char sig[GW_BASE64URL_ENCODED_LEN(132) + 1];
    unsigned char raw[132];
    size_t n = 0;
    struct gw_jwt_key k;
    int rc = sign_pkey(s, msg, sizeof msg - 1, sig, sizeof sig);
    if (rc < 0)
        return rc == GW_ENOMEM ? GW_EINVAL : rc;
    rc = gw_jwt_signer_verify_key(s, &k);
    if (rc < 0)
        return rc == GW_ENOMEM ? GW_ENOMEM : GW_EINVAL;
    if (gw_base64url_decode(sig, strlen(sig), raw, sizeof raw, &n) != 0 ||
        gw_jwt_key_verify(&k, msg, sizeof msg - 1, raw, n) != 0)
        rc = GW_EINVAL;
    gw_jwt_key_free(&k);
    return rc;
}

int gw_jwt_signer_pem(struct gw_jwt_signer *s, const char *kid, enum gw_jwt_alg alg,
                      const char *pem, size_t len, const char **why)
{
    memset(s, 0, sizeof *s);
    *why = "";
    if (alg != GW_JWT_ES256 && alg != GW_JWT_EDDSA) {
        *why = "only EdDSA and ES256 sign with a private key";
        return GW_EINVAL;
    }
    if (kid == NULL || strlen(kid) >= GW_JWT_KID_MAX) {
        *why = "kid too long";
        return GW_EINVAL;
    }
    if (len > INT32_MAX) {
        *why = "too large";
        return GW_EINVAL;
    }
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL)
        return GW_ENOMEM;
    EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    if (pkey == NULL) {
        *why = "not an unencrypted PEM private key";
        return GW_EINVAL;
    }
    if (!key_fits(pkey, alg)) {
        EVP_PKEY_free(pkey);
        *why = alg == GW_JWT_ES256 ? "ES256 needs an EC P-256 private key"
                                   : "EdDSA needs an Ed25519 or Ed448 private key";
        return GW_EINVAL;
    }
    s->pkey = pkey;
    s->alg = alg;
    memcpy(s->kid, kid, strlen(kid) + 1);
    int rc = make_head(s);
    if (rc < 0) {
        gw_jwt_signer_free(s);
        return rc;
    }
    rc = self_test(s);
    if (rc < 0) {
        gw_jwt_signer_free(s);
        *why = "its public half does not verify what its private half signs (a damaged key)";
    }
    return rc;
}

void gw_jwt_signer_free(struct gw_jwt_signer *s)
{
    if (s == NULL)
        return;
    if (s->secret) {
        OPENSSL_cleanse(s->secret, s->secret_len);
        free(s->secret);
    }
    EVP_PKEY_free(s->pkey);
    free(s->head);
    if (s->mac) {
        gw_jwt_key_free(s->mac);
        free(s->mac);
    }
    memset(s, 0, sizeof *s);
}

/* The JWS signature of input[0..n) with a private key, base64url into sig[0..cap). */
static int sign_pkey(const struct gw_jwt_signer *s, const char *input, size_t n, char *sig,
                     size_t cap)
{
    int rc = GW_ENOMEM;
    unsigned char der[160], raw[132];
    size_t dlen = sizeof der, rlen = 0;
    ECDSA_SIG *es = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL)
        return GW_ENOMEM;
    const EVP_MD *h = s->alg == GW_JWT_ES256 ? EVP_sha256() : NULL;
    if (EVP_DigestSignInit(md, NULL, h, NULL, s->pkey) != 1 ||
        EVP_DigestSign(md, der, &dlen, (const unsigned char *)input, n) != 1)
        goto fail;
    if (s->alg == GW_JWT_ES256) {
        /* OpenSSL gives DER (SEQUENCE of r, s); JWS wants r||s, 32 bytes each. */
        const unsigned char *p = der;
        const BIGNUM *r, *sv;
        es = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
        if (es == NULL)
            goto fail;
        ECDSA_SIG_get0(es, &r, &sv);
        if (BN_bn2binpad(r, raw, 32) != 32 || BN_bn2binpad(sv, raw + 32, 32) != 32)
            goto fail;
        rlen = 64;
    } else {
        memcpy(raw, der, dlen);
        rlen = dlen;
    }
    rc = gw_base64url_encode(raw, rlen, sig, cap, NULL);
fail:
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(md);
    return rc;
}

int gw_jwt_signer_sign_object(const struct gw_jwt_signer *s, const char *payload, size_t len,
                              char **out)
{
    *out = NULL;
    if (s->head == NULL || (s->alg == GW_JWT_HS256 ? s->mac == NULL : s->pkey == NULL))
        return GW_EINVAL;
    /* head payload '.' signature (at most 152 characters, Ed448) NUL */
    size_t cap = s->head_len + GW_BASE64URL_ENCODED_LEN(len) + 1 + 160, pos = s->head_len, n = 0;
    char *tok = malloc(cap);
    if (tok == NULL)
        return GW_ENOMEM;
    memcpy(tok, s->head, s->head_len);
    int rc = gw_base64url_encode(payload, len, tok + pos, cap - pos, &n);
    if (rc < 0)
        goto fail;
    pos += n;
    /* The signature covers the ASCII of the first two segments (RFC 7515 section 5.1). */
    tok[pos] = '.';
    if (s->alg == GW_JWT_HS256) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int maclen = 0;
        rc = gw_jwt_key_mac(s->mac, tok, pos, mac, &maclen);
        if (rc == 0)
            rc = gw_base64url_encode(mac, maclen, tok + pos + 1, cap - pos - 1, NULL);
    } else {
        rc = sign_pkey(s, tok, pos, tok + pos + 1, cap - pos - 1);
    }
    if (rc < 0)
        goto fail;
    *out = tok;
    return 0;
fail:
    free(tok);
    return rc;
}

int gw_jwt_signer_sign(const struct gw_jwt_signer *s, const char *payload_json, char **out)
{
    *out = NULL;
    if (payload_json == NULL)
        return GW_EINVAL;
    json_t *pj = json_loads(payload_json, JSON_REJECT_DUPLICATES, NULL);
    bool object = json_is_object(pj);
    json_decref(pj);
    if (!object)
        return GW_EINVAL;
    return gw_jwt_signer_sign_object(s, payload_json, strlen(payload_json), out);
}

int gw_jwt_signer_verify_key(const struct gw_jwt_signer *s, struct gw_jwt_key *k)
{
    int rc = verify_key(s, k);
    if (rc == 0)
        k->revocable = true;
    return rc;
}

static int verify_key(const struct gw_jwt_signer *s, struct gw_jwt_key *k)
{
    if (s->alg == GW_JWT_HS256)
        return gw_jwt_key_hmac(k, s->kid, GW_JWT_HS256, s->secret, s->secret_len);
    /* The public half through PEM: the verifier applies its own rules to it. */
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL;
    int rc = GW_ENOMEM;
    if (bio == NULL)
        return GW_ENOMEM;
    if (PEM_write_bio_PUBKEY(bio, s->pkey) != 1)
        goto fail;
    long n = BIO_get_mem_data(bio, &pem);
    if (n <= 0)
        goto fail;
    rc = gw_jwt_key_pem(k, s->kid, s->alg, pem, (size_t)n);
fail:
    BIO_free(bio);
    return rc;
}

int gw_jwt_keyring_new(struct gw_jwt_signer *keys, size_t n, size_t active,
                       struct gw_jwt_keyring **out)
{
    *out = NULL;
    int rc = GW_ENOMEM;
    struct gw_jwt_keyring *r = calloc(1, sizeof *r);
    if (r == NULL)
        goto fail;
    atomic_init(&r->refs, 1);
    r->keys = keys;
    r->nkeys = n;
    keys = NULL;
    if (n == 0 || active >= n) {
        rc = GW_EINVAL;
        goto fail;
    }
    r->active = active;
    r->verify = calloc(n, sizeof *r->verify);
    if (r->verify == NULL)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        rc = gw_jwt_signer_verify_key(&r->keys[i], &r->verify[i]);
        if (rc < 0)
            goto fail;
    }
    rc = gw_jwks_write(r->keys, n, &r->jwks, &r->jwks_len);
    if (rc < 0)
        goto fail;
    *out = r;
    return 0;
fail:
    if (r == NULL) {
        for (size_t i = 0; i < n; i++)
            gw_jwt_signer_free(&keys[i]);
        free(keys);
    }
    gw_jwt_keyring_unref(r);
    return rc;
}

struct gw_jwt_keyring *gw_jwt_keyring_ref(struct gw_jwt_keyring *r)
{
    if (r)
        atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
    return r;
}

void gw_jwt_keyring_unref(struct gw_jwt_keyring *r)
{
    if (r == NULL || atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < r->nkeys; i++) {
        gw_jwt_signer_free(&r->keys[i]);
        if (r->verify)
            gw_jwt_key_free(&r->verify[i]);
    }
    free(r->keys);
    free(r->verify);
    free(r->jwks);
    free(r);
}
