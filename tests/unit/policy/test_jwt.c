/*
 * Unit tests for src/policy/jwt.c, jwt_keys.c and src/core/base64url.c: the RFC 7515 example
 * tokens, every algorithm with freshly generated keys, claim checks with their leeway edges,
 * and the attacks (alg none, HS/RS confusion, unknown kid, malformed input).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "core/base64url.h"
#include "core/error.h"
#include "policy/jwt.h"

#define RFC_NOW INT64_C(1300819000) /* before the RFC examples' exp, 1300819380 */
#define NOW INT64_C(1700000000)

/* RFC 7515 appendix A: the shared payload and the three example tokens. */
#define RFC_PAYLOAD                                                                                \
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl" \
    "fQ"
static const char RFC_A1[] = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." RFC_PAYLOAD
                             ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
static const char RFC_A1_K[] =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
static const char RFC_A2[] =
    "eyJhbGciOiJSUzI1NiJ9." RFC_PAYLOAD
    ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2"
    "Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQ"
    "BMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6Ie"
    "YI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
static const char RFC_A2_N[] =
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4"
    "QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexM"
    "dbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFv"
    "UK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
static const char RFC_A3[] = "eyJhbGciOiJFUzI1NiJ9." RFC_PAYLOAD
                             ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApm"
                             "WQxfKTUJqPP3-Kg6NU1Q";
static const char RFC_A3_X[] = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
static const char RFC_A3_Y[] = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

/* ---- helpers --------------------------------------------------------------------------- */

static size_t b64d(const char *s, unsigned char *out, size_t cap)
{
    size_t n = 0;
    assert_int_equal(gw_base64url_decode(s, strlen(s), out, cap, &n), 0);
    return n;
}

static void b64e(const void *in, size_t n, char *out, size_t cap)
{
    assert_int_equal(gw_base64url_encode(in, n, out, cap, NULL), 0);
}

/* PEM (SubjectPublicKeyInfo) of pkey's public half, malloc'ed. */
static char *pubkey_pem(EVP_PKEY *pkey)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    char *pem;
    long n;

    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_PUBKEY(bio, pkey), 1);
    n = BIO_get_mem_data(bio, &data);
    assert_true(n > 0);
    pem = malloc((size_t)n + 1);
    assert_non_null(pem);
    memcpy(pem, data, (size_t)n);
    pem[n] = '\0';
    BIO_free(bio);
    return pem;
}

static void load_pem_key(struct gw_jwt_key *k, const char *kid, enum gw_jwt_alg alg, EVP_PKEY *pkey)
{
    char *pem = pubkey_pem(pkey);
    assert_int_equal(gw_jwt_key_pem(k, kid, alg, pem, strlen(pem)), 0);
    free(pem);
}

static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;

    assert_non_null(params);
    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params), 1);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

static EVP_PKEY *rfc_rsa_key(void)
{
    unsigned char n[512], e[8];
    size_t nl = b64d(RFC_A2_N, n, sizeof(n));
    size_t el = b64d("AQAB", e, sizeof(e));
    BIGNUM *bn = BN_bin2bn(n, (int)nl, NULL);
    BIGNUM *be = BN_bin2bn(e, (int)el, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey;

    assert_non_null(bld);
    assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn), 1);
    assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be), 1);
    pkey = pkey_fromdata("RSA", bld);
    BN_free(bn);
    BN_free(be);
    return pkey;
}

static EVP_PKEY *rfc_ec_key(void)
{
    unsigned char pt[65];
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();

    pt[0] = 0x04; /* uncompressed point */
    assert_int_equal(b64d(RFC_A3_X, pt + 1, 32), 32);
    assert_int_equal(b64d(RFC_A3_Y, pt + 33, 32), 32);
    assert_non_null(bld);
    assert_int_equal(
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0), 1);
    assert_int_equal(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 65), 1);
    return pkey_fromdata("EC", bld);
}

/* How a test token is signed. */
struct signer {
    enum gw_jwt_alg alg;
    const void *secret; /* HS* */
    size_t secret_len;
    EVP_PKEY *pkey; /* private key otherwise */
};

static const char *md_name(enum gw_jwt_alg alg)
{
    switch (alg) {
    case GW_JWT_HS256:
    case GW_JWT_RS256:
    case GW_JWT_ES256:
        return "SHA256";
    case GW_JWT_HS384:
    case GW_JWT_RS384:
    case GW_JWT_ES384:
        return "SHA384";
    case GW_JWT_HS512:
    case GW_JWT_RS512:
        return "SHA512";
    default:
        return NULL;
    }
}

/* Signs input into sig (JWS form) and returns the signature length. */
static size_t sign(const struct signer *s, const char *input, unsigned char *sig, size_t cap)
{
    size_t n = cap;
    EVP_MD_CTX *ctx;

    if (s->alg <= GW_JWT_HS512) {
        unsigned int ml = 0;
        assert_non_null(HMAC(EVP_get_digestbyname(md_name(s->alg)), s->secret, (int)s->secret_len,
                             (const unsigned char *)input, strlen(input), sig, &ml));
        return ml;
    }
    ctx = EVP_MD_CTX_new();
    assert_non_null(ctx);
    assert_int_equal(EVP_DigestSignInit_ex(ctx, NULL, md_name(s->alg), NULL, NULL, s->pkey, NULL),
                     1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &n, (const unsigned char *)input, strlen(input)), 1);
    EVP_MD_CTX_free(ctx);
    if (s->alg == GW_JWT_ES256 || s->alg == GW_JWT_ES384) {
        /* DER -> raw r||s, each left-padded to the curve size. */
        size_t half = s->alg == GW_JWT_ES256 ? 32 : 48;
        const unsigned char *p = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
        assert_non_null(es);
        assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, (int)half), (int)half);
        assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + half, (int)half), (int)half);
        ECDSA_SIG_free(es);
        n = 2 * half;
    }
    return n;
}

/* Builds b64(header).b64(payload).b64(sign(...)) into out (s NULL: empty signature). */
static void mint(char *out, size_t cap, const char *header, const char *payload,
                 const struct signer *s)
{
    char h[1024], p[2048], sigb[1024];
    unsigned char sig[1024];
    size_t sl = 0;

    b64e(header, strlen(header), h, sizeof(h));
    b64e(payload, strlen(payload), p, sizeof(p));
    assert_true(snprintf(out, cap, "%s.%s", h, p) < (int)cap);
    if (s)
        sl = sign(s, out, sig, sizeof(sig));
    b64e(sig, sl, sigb, sizeof(sigb));
    assert_true(strlen(out) + 1 + strlen(sigb) < cap);
    strcat(out, ".");
    strcat(out, sigb);
}

static int verify(const char *tok, const struct gw_jwt_key *keys, size_t n,
                  const struct gw_jwt_policy *p, int64_t now, struct gw_jwt_claims *c)
{
    return gw_jwt_verify(tok, strlen(tok), keys, n, p, now, c);
}

/* An HS256 test key and signer, the default fixture of the claim tests. */
static const unsigned char SECRET[32] = "0123456789abcdef0123456789abcdef";

static void hs_key(struct gw_jwt_key *k)
{
    assert_int_equal(gw_jwt_key_hmac(k, NULL, GW_JWT_HS256, SECRET, sizeof(SECRET)), 0);
}

static const struct signer HS = {GW_JWT_HS256, SECRET, sizeof(SECRET), NULL};
#define HDR_HS256 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

/* Verifies an HS256 token with payload under policy p at now. */
static int hs_payload(const char *payload, const struct gw_jwt_policy *p, int64_t now,
                      struct gw_jwt_claims *c)
{
    struct gw_jwt_key k;
    char tok[4096];
    int rc;

    hs_key(&k);
    mint(tok, sizeof(tok), HDR_HS256, payload, &HS);
    rc = verify(tok, &k, 1, p, now, c);
    gw_jwt_key_free(&k);
    return rc;
}

/* ---- base64url ------------------------------------------------------------------------- */

static void test_base64url_vectors(void **state)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    unsigned char out[16];
    char e[16];
    size_t n;
    (void)state;

    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        b64e(plain[i], strlen(plain[i]), e, sizeof(e));
        assert_string_equal(e, enc[i]);
        assert_int_equal(gw_base64url_decode(enc[i], strlen(enc[i]), out, sizeof(out), &n), 0);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(out, plain[i], n);
    }
    /* The URL-safe characters. */
    assert_int_equal(gw_base64url_decode("-_8", 3, out, sizeof(out), &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(out[0], 0xfb);
    assert_int_equal(out[1], 0xff);
}

static void test_base64url_rejects(void **state)
{
    static const char *const bad[] = {"Zg==",  "Zm8=", "Z",
                                      "Zm9vY", "+/8",  "Zm 9",
                                      "Zm\n9", "Zh",   /* non-zero trailing bits */ "Zm9",
                                      "Zm\0v"};
    unsigned char out[16];
    size_t n;
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t len = i == 9 ? 4 : strlen(bad[i]);
        assert_int_equal(gw_base64url_decode(bad[i], len, out, sizeof(out), &n), GW_EINVAL);
    }
    assert_int_equal(gw_base64url_decode("Zm9vYmFy", 8, out, 5, &n), GW_ENOMEM);
    assert_int_equal(gw_base64url_encode("foo", 3, (char *)out, 4, NULL), GW_ENOMEM);
}

/* ---- RFC 7515 examples ----------------------------------------------------------------- */

static void test_rfc_a1_hs256(void **state)
{
    unsigned char secret[128];
    size_t sl = b64d(RFC_A1_K, secret, sizeof(secret));
    struct gw_jwt_key k;
    struct gw_jwt_claims c;
    struct gw_jwt_policy p = {.iss = "joe", .require_exp = true};
    (void)state;

    assert_int_equal(gw_jwt_key_hmac(&k, NULL, GW_JWT_HS256, secret, sl), 0);
    assert_int_equal(verify(RFC_A1, &k, 1, &p, RFC_NOW, &c), 0);
    assert_string_equal(c.iss, "joe");
    assert_true(c.has_exp);
    assert_int_equal(c.exp, 1300819380);
    assert_false(c.has_nbf);
    assert_int_equal(verify(RFC_A1, &k, 1, &p, 1300819380, &c), GW_EJWTEXPIRED);
    /* The same secret bound to HS384 does not verify an HS256 token. */
    gw_jwt_key_free(&k);
    assert_int_equal(gw_jwt_key_hmac(&k, NULL, GW_JWT_HS384, secret, sl), 0);
    assert_int_equal(verify(RFC_A1, &k, 1, &p, RFC_NOW, &c), GW_EJWTALG);
    gw_jwt_key_free(&k);
}

static void test_rfc_a2_rs256(void **state)
{
    EVP_PKEY *pkey = rfc_rsa_key();
    struct gw_jwt_key k;
    struct gw_jwt_claims c;
    char tampered[sizeof(RFC_A2)];
    (void)state;

    load_pem_key(&k, "2010-12-29", GW_JWT_RS256, pkey);
    assert_int_equal(verify(RFC_A2, &k, 1, NULL, RFC_NOW, &c), 0);
    assert_string_equal(c.iss, "joe");
    memcpy(tampered, RFC_A2, sizeof(RFC_A2));
    tampered[sizeof(RFC_A2) - 3] = tampered[sizeof(RFC_A2) - 3] == 'A' ? 'B' : 'A';
    assert_int_equal(verify(tampered, &k, 1, NULL, RFC_NOW, &c), GW_EJWTSIG);
    gw_jwt_key_free(&k);
    EVP_PKEY_free(pkey);
}

static void test_rfc_a3_es256(void **state)
{
    EVP_PKEY *pkey = rfc_ec_key();
    struct gw_jwt_key k;
    struct gw_jwt_claims c;
    char tampered[sizeof(RFC_A3)];
    (void)state;

    load_pem_key(&k, NULL, GW_JWT_ES256, pkey);
    assert_int_equal(verify(RFC_A3, &k, 1, NULL, RFC_NOW, &c), 0);
    assert_int_equal(c.exp, 1300819380);
    memcpy(tampered, RFC_A3, sizeof(RFC_A3));
    tampered[sizeof(RFC_A3) - 2] = 'A'; /* ...NU1Q -> ...NU1A */
    assert_int_equal(verify(tampered, &k, 1, NULL, RFC_NOW, &c), GW_EJWTSIG);
    gw_jwt_key_free(&k);
    EVP_PKEY_free(pkey);
}

/* ---- every algorithm with generated keys ----------------------------------------------- */

struct keyset {
    EVP_PKEY *rsa, *p256, *p384, *ed25519;
};

static int setup_keys(void **state)
{
    struct keyset *ks = calloc(1, sizeof(*ks));
    if (!ks)
        return -1;
    ks->rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    ks->p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ks->p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    ks->ed25519 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    *state = ks;
    return ks->rsa && ks->p256 && ks->p384 && ks->ed25519 ? 0 : -1;
}

static int teardown_keys(void **state)
{
    struct keyset *ks = *state;
    EVP_PKEY_free(ks->rsa);
    EVP_PKEY_free(ks->p256);
    EVP_PKEY_free(ks->p384);
    EVP_PKEY_free(ks->ed25519);
    free(ks);
    return 0;
}

static EVP_PKEY *pkey_for(const struct keyset *ks, enum gw_jwt_alg alg)
{
    switch (alg) {
    case GW_JWT_RS256:
    case GW_JWT_RS384:
    case GW_JWT_RS512:
        return ks->rsa;
    case GW_JWT_ES256:
        return ks->p256;
    case GW_JWT_ES384:
        return ks->p384;
    case GW_JWT_EDDSA:
        return ks->ed25519;
    default:
        return NULL;
    }
}

static void test_all_algorithms(void **state)
{
    const struct keyset *ks = *state;
    unsigned char secret[64];
    (void)state;

    assert_int_equal(RAND_bytes(secret, sizeof(secret)), 1);
    for (int a = 0; a < GW_JWT__ALG_COUNT; a++) {
        enum gw_jwt_alg alg = (enum gw_jwt_alg)a;
        struct signer s = {alg, secret, sizeof(secret), pkey_for(ks, alg)};
        struct gw_jwt_key k;
        struct gw_jwt_claims c;
        char hdr[128], tok[4096];
        enum gw_jwt_alg parsed;
        size_t n;

        if (s.pkey)
            load_pem_key(&k, "k1", alg, s.pkey);
        else
            assert_int_equal(gw_jwt_key_hmac(&k, "k1", alg, secret, sizeof(secret)), 0);
        assert_int_equal(gw_jwt_alg_parse(gw_jwt_alg_name(alg), &parsed), 0);
        assert_int_equal(parsed, alg);
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"k1\"}", gw_jwt_alg_name(alg));
        mint(tok, sizeof(tok), hdr, "{\"sub\":\"user1\",\"exp\":1700000100}", &s);
        assert_int_equal(verify(tok, &k, 1, NULL, NOW, &c), 0);
        assert_string_equal(c.sub, "user1");
        /* Flip one bit in the middle of the signature. */
        n = strlen(tok);
        tok[n - 10] = tok[n - 10] == 'A' ? 'B' : 'A';
        assert_int_equal(verify(tok, &k, 1, NULL, NOW, &c), GW_EJWTSIG);
        gw_jwt_key_free(&k);
    }
}

/* Several keys: without kid the header alg picks the candidates; kid picks exactly one. */
static void test_key_selection(void **state)
{
    const struct keyset *ks = *state;
    struct gw_jwt_key keys[3];
    struct signer es = {GW_JWT_ES256, NULL, 0, ks->p256};
    struct signer rs = {GW_JWT_RS256, NULL, 0, ks->rsa};
    char tok[4096];

    (void)state;
    hs_key(&keys[0]);
    load_pem_key(&keys[1], "ec", GW_JWT_ES256, ks->p256);
    load_pem_key(&keys[2], "rsa", GW_JWT_RS256, ks->rsa);
    mint(tok, sizeof(tok), "{\"alg\":\"ES256\"}", "{}", &es);
    assert_int_equal(verify(tok, keys, 3, NULL, NOW, NULL), 0);
    mint(tok, sizeof(tok), "{\"alg\":\"RS256\",\"kid\":\"rsa\"}", "{}", &rs);
    assert_int_equal(verify(tok, keys, 3, NULL, NOW, NULL), 0);
    /* kid names the EC key but the header says RS256. */
    mint(tok, sizeof(tok), "{\"alg\":\"RS256\",\"kid\":\"ec\"}", "{}", &rs);
    assert_int_equal(verify(tok, keys, 3, NULL, NOW, NULL), GW_EJWTALG);
    mint(tok, sizeof(tok), "{\"alg\":\"RS256\",\"kid\":\"nope\"}", "{}", &rs);
    assert_int_equal(verify(tok, keys, 3, NULL, NOW, NULL), GW_EJWTKID);
    /* An empty kid does not select the HS256 key loaded without one. */
    mint(tok, sizeof(tok), "{\"alg\":\"HS256\",\"kid\":\"\"}", "{}", &HS);
    assert_int_equal(verify(tok, keys, 3, NULL, NOW, NULL), GW_EJWTKID);
    mint(tok, sizeof(tok), "{\"alg\":\"HS256\"}", "{}", &HS);
    assert_int_equal(verify(tok, keys, 3, NULL, NOW, NULL), 0);
    mint(tok, sizeof(tok), "{\"alg\":\"RS256\",\"kid\":7}", "{}", &rs);
    assert_int_equal(verify(tok, keys, 3, NULL, NOW, NULL), GW_EJWTMALFORMED);
    /* No key for ES384 at all. */
    mint(tok, sizeof(tok), "{\"alg\":\"ES384\"}", "{}", NULL);
    assert_int_equal(verify(tok, keys, 3, NULL, NOW, NULL), GW_EJWTALG);
    for (int i = 0; i < 3; i++)
        gw_jwt_key_free(&keys[i]);
}

/*
 * The classic confusion: the attacker knows the RS256 public key and HMACs a token with the
 * PEM bytes as the secret, hoping the verifier feeds "the key" to the algorithm the header
 * names. The key is bound to RS256, so HS256 is refused whether or not kid points at it.
 */
static void test_alg_confusion(void **state)
{
    const struct keyset *ks = *state;
    char *pem = pubkey_pem(ks->rsa);
    struct signer forged = {GW_JWT_HS256, pem, strlen(pem), NULL};
    struct gw_jwt_key k;
    char tok[4096];

    (void)state;
    assert_int_equal(gw_jwt_key_pem(&k, "rsa", GW_JWT_RS256, pem, strlen(pem)), 0);
    mint(tok, sizeof(tok), "{\"alg\":\"HS256\"}", "{\"sub\":\"admin\"}", &forged);
    assert_int_equal(verify(tok, &k, 1, NULL, NOW, NULL), GW_EJWTALG);
    mint(tok, sizeof(tok), "{\"alg\":\"HS256\",\"kid\":\"rsa\"}", "{\"sub\":\"admin\"}", &forged);
    assert_int_equal(verify(tok, &k, 1, NULL, NOW, NULL), GW_EJWTALG);
    gw_jwt_key_free(&k);
    free(pem);
}

static void test_alg_none(void **state)
{
    struct gw_jwt_key k;
    char tok[4096];
    static const char *const hdrs[] = {"{\"alg\":\"none\"}",   "{\"alg\":\"None\"}",
                                       "{\"alg\":\"NONE\"}",   "{\"alg\":\"\"}",
                                       "{\"alg\":\"HS256 \"}", "{\"alg\":\"PS256\"}"};
    (void)state;

    hs_key(&k);
    for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
        mint(tok, sizeof(tok), hdrs[i], "{\"sub\":\"admin\"}", NULL);
        assert_int_equal(verify(tok, &k, 1, NULL, NOW, NULL), GW_EJWTALG);
        mint(tok, sizeof(tok), hdrs[i], "{\"sub\":\"admin\"}", &HS);
        assert_int_equal(verify(tok, &k, 1, NULL, NOW, NULL), GW_EJWTALG);
    }
    /* No alg, or a non-string alg: malformed. */
    mint(tok, sizeof(tok), "{\"typ\":\"JWT\"}", "{}", &HS);
    assert_int_equal(verify(tok, &k, 1, NULL, NOW, NULL), GW_EJWTMALFORMED);
    mint(tok, sizeof(tok), "{\"alg\":null}", "{}", &HS);
    assert_int_equal(verify(tok, &k, 1, NULL, NOW, NULL), GW_EJWTMALFORMED);
    /* An extension we do not understand must be refused (RFC 7515 4.1.11). */
    mint(tok, sizeof(tok), "{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}", "{}", &HS);
    assert_int_equal(verify(tok, &k, 1, NULL, NOW, NULL), GW_EJWTALG);
    gw_jwt_key_free(&k);
}

/* ---- claims ---------------------------------------------------------------------------- */

static void test_exp_nbf_iat_leeway(void **state)
{
    struct gw_jwt_policy p = {0};
    struct gw_jwt_policy lw = {.leeway_s = 10};
    (void)state;

    assert_int_equal(hs_payload("{\"exp\":1000}", &p, 999, NULL), 0);
    assert_int_equal(hs_payload("{\"exp\":1000}", &p, 1000, NULL), GW_EJWTEXPIRED);
    assert_int_equal(hs_payload("{\"exp\":1000}", &lw, 1009, NULL), 0);
    assert_int_equal(hs_payload("{\"exp\":1000}", &lw, 1010, NULL), GW_EJWTEXPIRED);
    assert_int_equal(hs_payload("{\"exp\":1000.9}", &p, 1000, NULL), GW_EJWTEXPIRED);
    assert_int_equal(hs_payload("{\"nbf\":1000}", &p, 999, NULL), GW_EJWTNOTYET);
    assert_int_equal(hs_payload("{\"nbf\":1000}", &p, 1000, NULL), 0);
    assert_int_equal(hs_payload("{\"nbf\":1000}", &lw, 990, NULL), 0);
    assert_int_equal(hs_payload("{\"nbf\":1000}", &lw, 989, NULL), GW_EJWTNOTYET);
    assert_int_equal(hs_payload("{\"iat\":1000}", &p, 999, NULL), GW_EJWTNOTYET);
    assert_int_equal(hs_payload("{\"iat\":1000}", &lw, 990, NULL), 0);
    /* Extreme values saturate instead of overflowing. */
    assert_int_equal(hs_payload("{\"exp\":9223372036854775807}", &lw, NOW, NULL), 0);
    assert_int_equal(hs_payload("{\"nbf\":-9223372036854775807}", &lw, NOW, NULL), 0);
    assert_int_equal(hs_payload("{\"exp\":1e300}", &p, NOW, NULL), GW_EJWTCLAIM);
    /* Wrong types and a required exp. */
    assert_int_equal(hs_payload("{\"exp\":\"2000\"}", &p, NOW, NULL), GW_EJWTCLAIM);
    assert_int_equal(hs_payload("{\"nbf\":true}", &p, NOW, NULL), GW_EJWTCLAIM);
    p.require_exp = true;
    assert_int_equal(hs_payload("{\"sub\":\"x\"}", &p, NOW, NULL), GW_EJWTCLAIM);
}

static void test_iss_aud(void **state)
{
    struct gw_jwt_policy p = {.iss = "https://idp", .aud = "gantry"};
    struct gw_jwt_claims c;
    (void)state;

    assert_int_equal(hs_payload("{\"iss\":\"https://idp\",\"aud\":\"gantry\"}", &p, NOW, &c), 0);
    assert_string_equal(c.iss, "https://idp");
    assert_int_equal(
        hs_payload("{\"iss\":\"https://idp\",\"aud\":[\"a\",\"gantry\"]}", &p, NOW, &c), 0);
    assert_int_equal(hs_payload("{\"iss\":\"https://evil\",\"aud\":\"gantry\"}", &p, NOW, &c),
                     GW_EJWTISS);
    assert_int_equal(hs_payload("{\"aud\":\"gantry\"}", &p, NOW, &c), GW_EJWTISS);
    assert_int_equal(hs_payload("{\"iss\":\"https://idp/\",\"aud\":\"gantry\"}", &p, NOW, &c),
                     GW_EJWTISS);
    assert_int_equal(hs_payload("{\"iss\":\"https://idp\",\"aud\":\"other\"}", &p, NOW, &c),
                     GW_EJWTAUD);
    assert_int_equal(hs_payload("{\"iss\":\"https://idp\",\"aud\":[\"a\",\"b\"]}", &p, NOW, &c),
                     GW_EJWTAUD);
    assert_int_equal(hs_payload("{\"iss\":\"https://idp\",\"aud\":[]}", &p, NOW, &c), GW_EJWTAUD);
    assert_int_equal(hs_payload("{\"iss\":\"https://idp\"}", &p, NOW, &c), GW_EJWTAUD);
    assert_int_equal(hs_payload("{\"iss\":\"https://idp\",\"aud\":[\"gantryx\"]}", &p, NOW, &c),
                     GW_EJWTAUD);
    assert_int_equal(hs_payload("{\"iss\":7,\"aud\":\"gantry\"}", &p, NOW, &c), GW_EJWTCLAIM);
}

/* A key bound to an issuer and audience (built-in identity's keys) refuses a token made with it
 * for another, or for none, even when the policy asks for neither. */
static int bound_payload(const char *payload)
{
    struct gw_jwt_key k;
    struct gw_jwt_claims c;
    char tok[4096];
    hs_key(&k);
    k.bound_iss = "https://gantry.test";
    k.bound_aud = "api";
    mint(tok, sizeof(tok), HDR_HS256, payload, &HS);
    int rc = verify(tok, &k, 1, NULL, NOW, &c);
    gw_jwt_key_free(&k);
    return rc;
}

static void test_bound_key_iss_aud(void **state)
{
    (void)state;
    assert_int_equal(bound_payload("{\"iss\":\"https://gantry.test\",\"aud\":\"api\"}"), 0);
    assert_int_equal(bound_payload("{\"iss\":\"https://gantry.test\",\"aud\":[\"x\",\"api\"]}"), 0);
    assert_int_equal(bound_payload("{\"iss\":\"https://evil\",\"aud\":\"api\"}"), GW_EJWTISS);
    assert_int_equal(bound_payload("{\"aud\":\"api\"}"), GW_EJWTISS);
    assert_int_equal(bound_payload("{\"iss\":\"https://gantry.test\",\"aud\":\"other\"}"),
                     GW_EJWTAUD);
    assert_int_equal(bound_payload("{\"iss\":\"https://gantry.test\"}"), GW_EJWTAUD);
}

static void test_roles_and_identity(void **state)
{
    static char *const roles[] = {"roles"}, *const perms[] = {"scope"};
    struct gw_jwt_policy p = {.roles = {roles, 1}, .perms = {perms, 1}};
    struct gw_jwt_claims c;
    char big[1024];
    (void)state;

    assert_int_equal(
        hs_payload("{\"sub\":\"u1\",\"roles\":[\"admin\",\"user\"],\"scope\":\"read  write\"}", &p,
                   NOW, &c),
        0);
    assert_string_equal(c.sub, "u1");
    assert_string_equal(c.roles, "admin user");
    assert_string_equal(c.perms, "read write");
    assert_true(gw_jwt_list_has(c.roles, "admin"));
    assert_true(gw_jwt_list_has(c.roles, "user"));
    assert_false(gw_jwt_list_has(c.roles, "adm"));
    assert_false(gw_jwt_list_has(c.roles, ""));
    assert_true(gw_jwt_list_has(c.perms, "write"));
    /* Absent claims, and claims not configured, give empty lists. */
    assert_int_equal(hs_payload("{\"roles\":[\"x\"]}", &(struct gw_jwt_policy){0}, NOW, &c), 0);
    assert_string_equal(c.roles, "");
    /* An array element cannot smuggle a second role through a space. */
    assert_int_equal(hs_payload("{\"roles\":[\"user admin\"]}", &p, NOW, &c), GW_EJWTCLAIM);
    assert_int_equal(hs_payload("{\"roles\":[1]}", &p, NOW, &c), GW_EJWTCLAIM);
    assert_int_equal(hs_payload("{\"roles\":{}}", &p, NOW, &c), GW_EJWTCLAIM);
    /* Too long for the buffers: refused, never truncated. */
    memset(big, 'a', 600);
    memcpy(big, "{\"sub\":\"", 8);
    memcpy(big + 600, "\"}", 3);
    assert_int_equal(hs_payload(big, &p, NOW, &c), GW_EJWTCLAIM);
    memcpy(big, "{\"scope\":\"", 10);
    assert_int_equal(hs_payload(big, &p, NOW, &c), GW_EJWTCLAIM);
}

/* Required claims (after the signature, dates, iss and aud), several roles and permissions
 * claims, and the claim a GW_EJWTCLAIM names. */
static void test_required_claims_and_claim_lists(void **state)
{
    static char *const required[] = {"sub", "org.id"};
    static char *const roles[] = {"roles", "role", "scope", "realm_access.roles"};
    static char *const perms[] = {"permissions", "scope"};
    struct gw_jwt_policy p = {.required = {required, 2}, .roles = {roles, 4}, .perms = {perms, 2}};
    struct gw_jwt_claims c;
    char why[160];
    (void)state;

    assert_int_equal(hs_payload("{\"sub\":\"u\",\"org\":{\"id\":\"acme\"},\"role\":\"admin\","
                                "\"scope\":\"read admin\",\"realm_access\":{\"roles\":[\"ops\"]},"
                                "\"permissions\":[\"write\",\"read\"]}",
                                &p, NOW, &c),
                     0);
    assert_string_equal(c.sub, "u");
    assert_string_equal(c.roles, "admin read ops");
    assert_string_equal(c.perms, "write read admin"); /* scope is in both lists */
    assert_null(c.bad_claim);

    /* Missing: absent, null, "" or an empty object/array, named in the reason. */
    static const struct {
        const char *payload, *claim;
    } missing[] = {
        {"{\"org\":{\"id\":\"a\"}}", "sub"},
        {"{\"sub\":null,\"org\":{\"id\":\"a\"}}", "sub"},
        {"{\"sub\":\"\",\"org\":{\"id\":\"a\"}}", "sub"},
        {"{\"sub\":\"u\"}", "org.id"},
        {"{\"sub\":\"u\",\"org\":\"acme\"}", "org.id"},
        {"{\"sub\":\"u\",\"org\":{\"id\":[]}}", "org.id"},
        {"{\"sub\":\"u\",\"org\":{\"id\":{}}}", "org.id"},
        {"{}", "sub"},
    };
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        char want[64];
        assert_int_equal(hs_payload(missing[i].payload, &p, NOW, &c), GW_EJWTCLAIM);
        assert_non_null(c.bad_claim);
        assert_string_equal(c.bad_claim, missing[i].claim);
        assert_true(c.claim_missing);
        snprintf(want, sizeof want, "missing required claim '%s'", missing[i].claim);
        assert_string_equal(gw_jwt_reason(GW_EJWTCLAIM, &c, why, sizeof why), want);
    }
    /* Present: any other value, even 0 or false. */
    assert_int_equal(hs_payload("{\"sub\":\"u\",\"org\":{\"id\":0}}", &p, NOW, &c), 0);
    assert_int_equal(hs_payload("{\"sub\":\"u\",\"org\":{\"id\":false}}", &p, NOW, &c), 0);
    /* The exact member wins over a path. */
    assert_int_equal(hs_payload("{\"sub\":\"u\",\"org.id\":\"a\",\"org\":{}}", &p, NOW, &c), 0);

    /* Present but of the wrong type: invalid, not missing. */
    assert_int_equal(hs_payload("{\"sub\":7,\"org\":{\"id\":1}}", &p, NOW, &c), GW_EJWTCLAIM);
    assert_string_equal(c.bad_claim, "sub");
    assert_false(c.claim_missing);
    assert_string_equal(gw_jwt_reason(GW_EJWTCLAIM, &c, why, sizeof why), "invalid claim 'sub'");
    assert_int_equal(
        hs_payload("{\"sub\":\"u\",\"org\":{\"id\":1},\"realm_access\":{\"roles\":\"a\\tb\"}}", &p,
                   NOW, &c),
        GW_EJWTCLAIM);
    assert_string_equal(c.bad_claim, "realm_access.roles");
    assert_int_equal(hs_payload("{\"sub\":\"u\",\"org\":{\"id\":1},\"scope\":null}", &p, NOW, &c),
                     GW_EJWTCLAIM);
    assert_string_equal(c.bad_claim, "scope");
    assert_int_equal(hs_payload("{\"sub\":\"u\",\"org\":{\"id\":1},\"exp\":\"soon\"}", &p, NOW, &c),
                     GW_EJWTCLAIM);
    assert_string_equal(c.bad_claim, "exp");
    assert_false(c.claim_missing);

    /* exp required and missing names exp. */
    p.require_exp = true;
    assert_int_equal(hs_payload("{\"sub\":\"u\",\"org\":{\"id\":1}}", &p, NOW, &c), GW_EJWTCLAIM);
    assert_string_equal(c.bad_claim, "exp");
    assert_true(c.claim_missing);
    p.require_exp = false;

    /* Earlier checks answer first: a token refused for its issuer is not about claims. */
    p.iss = "https://idp";
    assert_int_equal(hs_payload("{\"iss\":\"https://evil\"}", &p, NOW, &c), GW_EJWTISS);
    assert_int_equal(hs_payload("{\"iss\":\"https://idp\",\"exp\":1}", &p, NOW, &c),
                     GW_EJWTEXPIRED);
    p.iss = NULL;

    /* Nothing required, nothing read: no check. */
    assert_int_equal(hs_payload("{\"roles\":{}}", &(struct gw_jwt_policy){0}, NOW, &c), 0);
}

/* The reasons answered with a 401, one per code. */
static void test_reasons(void **state)
{
    struct gw_jwt_claims c = {.bad_claim = "realm_access.roles", .claim_missing = true};
    char why[160], small[16];
    (void)state;

    assert_string_equal(gw_jwt_reason(GW_EJWTEXPIRED, NULL, NULL, 0), "token expired");
    assert_string_equal(gw_jwt_reason(GW_EJWTNOTYET, NULL, NULL, 0), "token not yet valid");
    assert_string_equal(gw_jwt_reason(GW_EJWTSIG, NULL, NULL, 0), "invalid signature");
    assert_string_equal(gw_jwt_reason(GW_EJWTALG, NULL, NULL, 0), "algorithm not accepted");
    assert_string_equal(gw_jwt_reason(GW_EJWTKID, NULL, NULL, 0), "unknown key id");
    assert_string_equal(gw_jwt_reason(GW_EJWTISS, NULL, NULL, 0), "issuer not accepted");
    assert_string_equal(gw_jwt_reason(GW_EJWTAUD, NULL, NULL, 0), "audience not accepted");
    assert_string_equal(gw_jwt_reason(GW_EJWTMALFORMED, NULL, NULL, 0), "malformed token");
    assert_string_equal(gw_jwt_reason(GW_EJWTCLAIM, NULL, why, sizeof why),
                        "invalid or missing claim");
    assert_string_equal(gw_jwt_reason(GW_EJWTCLAIM, &c, NULL, 0), "invalid or missing claim");
    assert_string_equal(gw_jwt_reason(GW_EJWTCLAIM, &c, why, sizeof why),
                        "missing required claim 'realm_access.roles'");
    /* A short buffer truncates, still terminated. */
    assert_string_equal(gw_jwt_reason(GW_EJWTCLAIM, &c, small, sizeof small), "missing require");
    c.claim_missing = false;
    assert_string_equal(gw_jwt_reason(GW_EJWTCLAIM, &c, why, sizeof why),
                        "invalid claim 'realm_access.roles'");
}

/* ---- malformed tokens ------------------------------------------------------------------ */

static void test_malformed(void **state)
{
    struct gw_jwt_key k;
    char tok[4096], bad[4200];
    size_t n;
    char *big;
    (void)state;

    hs_key(&k);
    mint(tok, sizeof(tok), HDR_HS256, "{\"sub\":\"u\"}", &HS);
    n = strlen(tok);
    assert_int_equal(verify(tok, &k, 1, NULL, NOW, NULL), 0);
    /* Truncated: by one character, at the last dot, at the first dot. */
    assert_int_not_equal(gw_jwt_verify(tok, n - 1, &k, 1, NULL, NOW, NULL), 0);
    assert_int_equal(gw_jwt_verify(tok, (size_t)(strrchr(tok, '.') - tok), &k, 1, NULL, NOW, NULL),
                     GW_EJWTMALFORMED);
    assert_int_equal(gw_jwt_verify(tok, (size_t)(strchr(tok, '.') - tok), &k, 1, NULL, NOW, NULL),
                     GW_EJWTMALFORMED);
    assert_int_equal(gw_jwt_verify(tok, 0, &k, 1, NULL, NOW, NULL), GW_EJWTMALFORMED);
    assert_int_equal(gw_jwt_verify(NULL, 5, &k, 1, NULL, NOW, NULL), GW_EJWTMALFORMED);
    /* Empty signature on an HS256 token. */
    memcpy(bad, tok, (size_t)(strrchr(tok, '.') - tok) + 1);
    bad[strrchr(tok, '.') - tok + 1] = '\0';
    assert_int_equal(verify(bad, &k, 1, NULL, NOW, NULL), GW_EJWTSIG);
    /* Extra segment (a JWE has five). */
    snprintf(bad, sizeof(bad), "%s.", tok);
    assert_int_equal(verify(bad, &k, 1, NULL, NOW, NULL), GW_EJWTMALFORMED);
    snprintf(bad, sizeof(bad), "%s.AAAA", tok);
    assert_int_equal(verify(bad, &k, 1, NULL, NOW, NULL), GW_EJWTMALFORMED);
    /* Padding, plain base64 characters, whitespace. */
    snprintf(bad, sizeof(bad), "%s=", tok);
    assert_int_equal(verify(bad, &k, 1, NULL, NOW, NULL), GW_EJWTMALFORMED);
    snprintf(bad, sizeof(bad), "%s", tok);
    bad[3] = '+';
    assert_int_equal(verify(bad, &k, 1, NULL, NOW, NULL), GW_EJWTMALFORMED);
    snprintf(bad, sizeof(bad), " %s", tok);
    assert_int_equal(verify(bad, &k, 1, NULL, NOW, NULL), GW_EJWTMALFORMED);
    snprintf(bad, sizeof(bad), "%s", tok);
    bad[n - 4] = '\0';
    assert_int_equal(gw_jwt_verify(bad, n, &k, 1, NULL, NOW, NULL), GW_EJWTMALFORMED);
    /* Header and payload that are not JSON objects, or repeat a member. */
    mint(tok, sizeof(tok), "{\"alg\":\"HS256\"", "{}", &HS);
    assert_int_equal(verify(tok, &k, 1, NULL, NOW, NULL), GW_EJWTMALFORMED);
    mint(tok, sizeof(tok), "[\"HS256\"]", "{}", &HS);
    assert_int_equal(verify(tok, &k, 1, NULL, NOW, NULL), GW_EJWTMALFORMED);
    mint(tok, sizeof(tok), "{\"alg\":\"none\",\"alg\":\"HS256\"}", "{}", &HS);
    assert_int_equal(verify(tok, &k, 1, NULL, NOW, NULL), GW_EJWTMALFORMED);
    mint(tok, sizeof(tok), HDR_HS256, "{\"sub\":\"u\"", &HS);
    assert_int_equal(verify(tok, &k, 1, NULL, NOW, NULL), GW_EJWTMALFORMED);
    mint(tok, sizeof(tok), HDR_HS256, "\"just a string\"", &HS);
    assert_int_equal(verify(tok, &k, 1, NULL, NOW, NULL), GW_EJWTMALFORMED);
    mint(tok, sizeof(tok), HDR_HS256, "{\"sub\":\"user\",\"sub\":\"admin\"}", &HS);
    assert_int_equal(verify(tok, &k, 1, NULL, NOW, NULL), GW_EJWTMALFORMED);
    mint(tok, sizeof(tok), HDR_HS256, "{\"sub\":\"a\\u0000b\"}", &HS);
    assert_int_equal(verify(tok, &k, 1, NULL, NOW, NULL), GW_EJWTMALFORMED);
    /* Over the size bound, even if otherwise plausible. */
    big = malloc(GW_JWT_MAX_TOKEN + 2);
    assert_non_null(big);
    memset(big, 'A', GW_JWT_MAX_TOKEN + 1);
    big[10] = '.';
    big[20] = '.';
    assert_int_equal(gw_jwt_verify(big, GW_JWT_MAX_TOKEN + 1, &k, 1, NULL, NOW, NULL),
                     GW_EJWTMALFORMED);
    free(big);
    /* No keys at all. */
    mint(tok, sizeof(tok), HDR_HS256, "{}", &HS);
    assert_int_equal(verify(tok, NULL, 0, NULL, NOW, NULL), GW_EJWTALG);
    gw_jwt_key_free(&k);
}

/* ---- key loading ----------------------------------------------------------------------- */

static void test_key_loading(void **state)
{
    const struct keyset *ks = *state;
    struct gw_jwt_key k;
    char *pem;
    char longkid[80];
    EVP_PKEY *small;
    (void)state;

    /* HMAC: secret at least the hash size; only HS* algorithms. */
    assert_int_equal(gw_jwt_key_hmac(&k, NULL, GW_JWT_HS256, SECRET, 31), GW_EINVAL);
    assert_int_equal(gw_jwt_key_hmac(&k, NULL, GW_JWT_HS384, SECRET, 32), GW_EINVAL);
    assert_int_equal(gw_jwt_key_hmac(&k, NULL, GW_JWT_RS256, SECRET, 32), GW_EINVAL);
    memset(longkid, 'k', sizeof(longkid) - 1);
    longkid[sizeof(longkid) - 1] = '\0';
    assert_int_equal(gw_jwt_key_hmac(&k, longkid, GW_JWT_HS256, SECRET, 32), GW_EINVAL);
    gw_jwt_key_free(NULL);

    /* PEM: key type must match the algorithm. */
    pem = pubkey_pem(ks->rsa);
    assert_int_equal(gw_jwt_key_pem(&k, NULL, GW_JWT_ES256, pem, strlen(pem)), GW_EINVAL);
    assert_int_equal(gw_jwt_key_pem(&k, NULL, GW_JWT_HS256, pem, strlen(pem)), GW_EINVAL);
    assert_int_equal(gw_jwt_key_pem(&k, NULL, GW_JWT_RS512, pem, strlen(pem)), 0);
    gw_jwt_key_free(&k);
    assert_int_equal(gw_jwt_key_pem(&k, NULL, GW_JWT_RS256, pem, strlen(pem) / 2), GW_EINVAL);
    free(pem);
    pem = pubkey_pem(ks->p384);
    assert_int_equal(gw_jwt_key_pem(&k, NULL, GW_JWT_ES256, pem, strlen(pem)), GW_EINVAL);
    assert_int_equal(gw_jwt_key_pem(&k, NULL, GW_JWT_EDDSA, pem, strlen(pem)), GW_EINVAL);
    assert_int_equal(gw_jwt_key_pem(&k, NULL, GW_JWT_ES384, pem, strlen(pem)), 0);
    gw_jwt_key_free(&k);
    free(pem);
    pem = pubkey_pem(ks->ed25519);
    assert_int_equal(gw_jwt_key_pem(&k, NULL, GW_JWT_RS256, pem, strlen(pem)), GW_EINVAL);
    free(pem);
    assert_int_equal(gw_jwt_key_pem(&k, NULL, GW_JWT_RS256, "garbage", 7), GW_EINVAL);
    /* RSA below 2048 bits (RFC 7518 3.3). */
    small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    assert_non_null(small);
    pem = pubkey_pem(small);
    assert_int_equal(gw_jwt_key_pem(&k, NULL, GW_JWT_RS256, pem, strlen(pem)), GW_EINVAL);
    free(pem);
    EVP_PKEY_free(small);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64url_vectors),
        cmocka_unit_test(test_base64url_rejects),
        cmocka_unit_test(test_rfc_a1_hs256),
        cmocka_unit_test(test_bound_key_iss_aud),
        cmocka_unit_test(test_rfc_a2_rs256),
        cmocka_unit_test(test_rfc_a3_es256),
        cmocka_unit_test(test_all_algorithms),
        cmocka_unit_test(test_key_selection),
        cmocka_unit_test(test_alg_confusion),
        cmocka_unit_test(test_alg_none),
        cmocka_unit_test(test_exp_nbf_iat_leeway),
        cmocka_unit_test(test_iss_aud),
        cmocka_unit_test(test_roles_and_identity),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_key_loading),
        cmocka_unit_test(test_required_claims_and_claim_lists),
        cmocka_unit_test(test_reasons),
    };
    return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
