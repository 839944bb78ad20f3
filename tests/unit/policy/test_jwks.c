/*
 * Unit tests for src/policy/jwks.c: the RFC 7517 A.1 example set, the RFC 7515 A.2/A.3 tokens
 * verified with keys from JWKs, freshly generated RSA/EC/EdDSA keys exported to JWKs and used to
 * verify tokens signed with their private halves (and to refuse tokens of other keys), oct keys,
 * and every reason a document fails or a key is skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>

#include "core/base64url.h"
#include "core/error.h"
#include "policy/jwks.h"
#include "policy/jwt.h"

#define RFC_NOW INT64_C(1300819000) /* before the RFC 7515 examples' exp */
#define NOW INT64_C(1700000000)

/* RFC 7517 appendix A.1: example public keys (the EC one is marked for encryption). */
static const char RFC7517_A1[] =
    "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
    "\"x\":\"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4\","
    "\"y\":\"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM\",\"use\":\"enc\",\"kid\":\"1\"},"
    "{\"kty\":\"RSA\",\"n\":"
    "\"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7"
    "aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ"
    "5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt"
    "-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw\","
    "\"e\":\"AQAB\",\"alg\":\"RS256\",\"kid\":\"2011-04-29\"}]}";
#define A1_EC_X "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4"
#define A1_EC_Y "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"
/* RFC 7517 appendix A.2: the private part of that EC key. */
#define A2_EC_D "870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE"

/* RFC 7515 appendix A.2 (RS256) and A.3 (ES256): tokens and their public keys. */
#define RFC_PAYLOAD                                                                                \
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl" \
    "fQ"
static const char RFC7515_A2[] =
    "eyJhbGciOiJSUzI1NiJ9." RFC_PAYLOAD
    ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2"
    "Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQ"
    "BMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6Ie"
    "YI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
#define A2_RSA_N                                                                                   \
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-"                        \
    "4qPCJrcS2mJPMEzP1Pt0Bm4d4"                                                                    \
    "QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexM" \
    "dbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFv" \
    "UK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
static const char RFC7515_A3[] = "eyJhbGciOiJFUzI1NiJ9." RFC_PAYLOAD
                                 ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISl"
                                 "SApmWQxfKTUJqPP3-Kg6NU1Q";
#define A3_EC_X "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
#define A3_EC_Y "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"

/* ---- helpers --------------------------------------------------------------------------- */

struct parsed {
    struct gw_jwt_key *keys;
    size_t n;
    char why[256];
};

static int parse_str(const char *doc, struct parsed *p)
{
    memset(p, 0, sizeof(*p));
    return gw_jwks_parse(doc, strlen(doc), &p->keys, &p->n, p->why, sizeof(p->why));
}

static void parsed_free(struct parsed *p)
{
    gw_jwks_free(p->keys, p->n);
    memset(p, 0, sizeof(*p));
}

/* {"keys":[jwk]} for one JWK written as JSON text. */
static int parse_one(const char *jwk, struct parsed *p)
{
    char doc[8192];
    assert_true(snprintf(doc, sizeof(doc), "{\"keys\":[%s]}", jwk) < (int)sizeof(doc));
    return parse_str(doc, p);
}

static json_t *b64_json(const unsigned char *b, size_t n)
{
    char out[2048];
    assert_int_equal(gw_base64url_encode(b, n, out, sizeof(out), NULL), 0);
    return json_string(out);
}

static json_t *bn_json(const BIGNUM *bn, int pad)
{
    unsigned char buf[1024];
    int n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
    assert_true(n > 0);
    return b64_json(buf, (size_t)n);
}

/* The public JWK of a generated key; kid and alg may be NULL (member left out). */
static json_t *jwk_of(EVP_PKEY *pkey, const char *kid, const char *alg)
{
    json_t *j = json_object();
    assert_non_null(j);
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        BIGNUM *n = NULL, *e = NULL;
        assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n), 1);
        assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e), 1);
        json_object_set_new(j, "kty", json_string("RSA"));
        json_object_set_new(j, "n", bn_json(n, 0));
        json_object_set_new(j, "e", bn_json(e, 0));
        BN_free(n);
        BN_free(e);
    } else if (EVP_PKEY_is_a(pkey, "EC")) {
        BIGNUM *x = NULL, *y = NULL;
        char group[64];
        size_t glen = 0;
        int size;
        assert_int_equal(EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen), 1);
        size = strcmp(group, "prime256v1") == 0 ? 32 : 48;
        assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x), 1);
        assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y), 1);
        json_object_set_new(j, "kty", json_string("EC"));
        json_object_set_new(j, "crv", json_string(size == 32 ? "P-256" : "P-384"));
        json_object_set_new(j, "x", bn_json(x, size));
        json_object_set_new(j, "y", bn_json(y, size));
        BN_free(x);
        BN_free(y);
    } else {
        unsigned char raw[64];
        size_t n = sizeof(raw);
        assert_int_equal(EVP_PKEY_get_raw_public_key(pkey, raw, &n), 1);
        json_object_set_new(j, "kty", json_string("OKP"));
        json_object_set_new(j, "crv",
                            json_string(EVP_PKEY_is_a(pkey, "ED448") ? "Ed448" : "Ed25519"));
        json_object_set_new(j, "x", b64_json(raw, n));
    }
    if (kid)
        json_object_set_new(j, "kid", json_string(kid));
    if (alg)
        json_object_set_new(j, "alg", json_string(alg));
    return j;
}

/* {"keys":[...]} from JWK objects (references stolen), as malloc'ed text. */
static char *doc_of(json_t **jwks, size_t n)
{
    json_t *arr = json_array();
    json_t *doc;
    char *s;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(json_array_append_new(arr, jwks[i]), 0);
    doc = json_pack("{s:o}", "keys", arr);
    assert_non_null(doc);
    s = json_dumps(doc, JSON_COMPACT);
    assert_non_null(s);
    json_decref(doc);
    return s;
}

static const char *md_of(enum gw_jwt_alg alg)
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

/* Signs input with a private key into the JWS form (ES*: raw r||s). */
static size_t sign_pkey(EVP_PKEY *pkey, enum gw_jwt_alg alg, const char *input, unsigned char *sig,
                        size_t cap)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t n = cap;
    assert_non_null(ctx);
    assert_int_equal(EVP_DigestSignInit_ex(ctx, NULL, md_of(alg), NULL, NULL, pkey, NULL), 1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &n, (const unsigned char *)input, strlen(input)), 1);
    EVP_MD_CTX_free(ctx);
    if (alg == GW_JWT_ES256 || alg == GW_JWT_ES384) {
        /* RFC 7518 section 3.4: DER SEQUENCE { r, s } -> r || s, each left-padded. */
        int half = alg == GW_JWT_ES256 ? 32 : 48;
        const unsigned char *p = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
        assert_non_null(es);
        assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, half), half);
        assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + half, half), half);
        ECDSA_SIG_free(es);
        n = (size_t)(2 * half);
    }
    return n;
}

/* A token header.payload.signature for alg, kid (NULL: none), signed with pkey or secret. */
static void mint(char *out, size_t cap, enum gw_jwt_alg alg, const char *kid, EVP_PKEY *pkey,
                 const unsigned char *secret, size_t secret_len)
{
    char hdr[128], h[256], p[256], sb[1024];
    unsigned char sig[1024];
    size_t sl;
    static const char payload[] = "{\"sub\":\"alice\",\"exp\":1700000100}";

    if (kid)
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"%s\"}", gw_jwt_alg_name(alg), kid);
    else
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\"}", gw_jwt_alg_name(alg));
    assert_int_equal(gw_base64url_encode(hdr, strlen(hdr), h, sizeof(h), NULL), 0);
    assert_int_equal(gw_base64url_encode(payload, strlen(payload), p, sizeof(p), NULL), 0);
    assert_true(snprintf(out, cap, "%s.%s", h, p) < (int)cap);
    if (pkey) {
        sl = sign_pkey(pkey, alg, out, sig, sizeof(sig));
    } else {
        unsigned int ml = 0;
        assert_non_null(HMAC(EVP_get_digestbyname(md_of(alg)), secret, (int)secret_len,
                             (const unsigned char *)out, strlen(out), sig, &ml));
        sl = ml;
    }
    assert_int_equal(gw_base64url_encode(sig, sl, sb, sizeof(sb), NULL), 0);
    assert_true(strlen(out) + 1 + strlen(sb) < cap);
    memcpy(out + strlen(out), ".", 2);
    memcpy(out + strlen(out), sb, strlen(sb) + 1);
}

static int verify(const char *tok, const struct parsed *p, int64_t now)
{
    struct gw_jwt_claims c;
    return gw_jwt_verify(tok, strlen(tok), p->keys, p->n, NULL, now, &c);
}

/* ---- generated keys (group state) ------------------------------------------------------ */

struct keyset {
    EVP_PKEY *rsa, *p256, *p384, *ed25519, *ed448;
};

struct fixture {
    struct keyset a, b; /* b: same types, other keys */
};

static int gen(struct keyset *ks)
{
    ks->rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    ks->p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ks->p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    ks->ed25519 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    ks->ed448 = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
    return ks->rsa && ks->p256 && ks->p384 && ks->ed25519 && ks->ed448 ? 0 : -1;
}

static void ungen(struct keyset *ks)
{
    EVP_PKEY_free(ks->rsa);
    EVP_PKEY_free(ks->p256);
    EVP_PKEY_free(ks->p384);
    EVP_PKEY_free(ks->ed25519);
    EVP_PKEY_free(ks->ed448);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    *state = f;
    return gen(&f->a) == 0 && gen(&f->b) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    ungen(&f->a);
    ungen(&f->b);
    free(f);
    return 0;
}

/* ---- RFC examples ---------------------------------------------------------------------- */

static EVP_PKEY *a2_private_ec_key(void)
{
    unsigned char pt[65], d[32];
    size_t n = 0;
    BIGNUM *bd;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *pkey = NULL;

    pt[0] = 0x04;
    assert_int_equal(gw_base64url_decode(A1_EC_X, strlen(A1_EC_X), pt + 1, 32, &n), 0);
    assert_int_equal(gw_base64url_decode(A1_EC_Y, strlen(A1_EC_Y), pt + 33, 32, &n), 0);
    assert_int_equal(gw_base64url_decode(A2_EC_D, strlen(A2_EC_D), d, sizeof(d), &n), 0);
    bd = BN_bin2bn(d, (int)n, NULL);
    assert_non_null(bld);
    assert_non_null(bd);
    assert_int_equal(
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0), 1);
    assert_int_equal(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 65), 1);
    assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bd), 1);
    params = OSSL_PARAM_BLD_to_param(bld);
    assert_non_null(params);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params), 1);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_free(bd);
    return pkey;
}

static void test_rfc7517_a1(void **state)
{
    struct parsed p;
    EVP_PKEY *priv;
    char tok[2048];
    (void)state;

    /* The EC key is for encryption: skipped, and said so. */
    assert_int_equal(parse_str(RFC7517_A1, &p), 0);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.keys[0].kid, "2011-04-29");
    assert_int_equal(p.keys[0].alg, GW_JWT_RS256);
    assert_non_null(p.keys[0].pkey);
    assert_int_equal(EVP_PKEY_get_bits(p.keys[0].pkey), 2048);
    assert_non_null(strstr(p.why, "1 key skipped"));
    assert_non_null(strstr(p.why, "keys[0]"));
    assert_non_null(strstr(p.why, "use"));
    parsed_free(&p);

    /* The same EC key for signatures: ES256 from its crv; a token signed with the private key
     * of RFC 7517 A.2 verifies. The private member "d" is ignored. */
    assert_int_equal(parse_one("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A1_EC_X
                               "\",\"y\":\"" A1_EC_Y "\",\"d\":\"" A2_EC_D
                               "\",\"use\":\"sig\",\"kid\":\"1\"}",
                               &p),
                     0);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.why, "");
    assert_string_equal(p.keys[0].kid, "1");
    assert_int_equal(p.keys[0].alg, GW_JWT_ES256);
    priv = a2_private_ec_key();
    mint(tok, sizeof(tok), GW_JWT_ES256, "1", priv, NULL, 0);
    assert_int_equal(verify(tok, &p, NOW), 0);
    mint(tok, sizeof(tok), GW_JWT_ES256, "2", priv, NULL, 0);
    assert_int_equal(verify(tok, &p, NOW), GW_EJWTKID);
    EVP_PKEY_free(priv);
    parsed_free(&p);
}

static void test_rfc7515_examples(void **state)
{
    struct fixture *f = *state;
    struct parsed p;
    json_t *other[1];
    char *doc;

    /* A.2: RS256 token, the key without alg (RSA defaults to RS256) and without kid. */
    assert_int_equal(parse_one("{\"kty\":\"RSA\",\"n\":\"" A2_RSA_N "\",\"e\":\"AQAB\"}", &p), 0);
    assert_int_equal(p.keys[0].alg, GW_JWT_RS256);
    assert_string_equal(p.keys[0].kid, "");
    assert_int_equal(verify(RFC7515_A2, &p, RFC_NOW), 0);
    assert_int_equal(verify(RFC7515_A2, &p, RFC_NOW + 1000), GW_EJWTEXPIRED);
    parsed_free(&p);
    /* With an alg other than the token's, the key is not even a candidate. */
    assert_int_equal(
        parse_one("{\"kty\":\"RSA\",\"n\":\"" A2_RSA_N "\",\"e\":\"AQAB\",\"alg\":\"RS384\"}", &p),
        0);
    assert_int_equal(verify(RFC7515_A2, &p, RFC_NOW), GW_EJWTALG);
    parsed_free(&p);
    /* Another RSA key refuses it. */
    other[0] = jwk_of(f->a.rsa, NULL, NULL);
    doc = doc_of(other, 1);
    assert_int_equal(parse_str(doc, &p), 0);
    assert_int_equal(verify(RFC7515_A2, &p, RFC_NOW), GW_EJWTSIG);
    parsed_free(&p);
    free(doc);

    /* A.3: ES256. */
    assert_int_equal(parse_one("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_EC_X
                               "\",\"y\":\"" A3_EC_Y "\"}",
                               &p),
                     0);
    assert_int_equal(verify(RFC7515_A3, &p, RFC_NOW), 0);
    parsed_free(&p);
    assert_int_equal(parse_one("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A1_EC_X
                               "\",\"y\":\"" A1_EC_Y "\"}",
                               &p),
                     0);
    assert_int_equal(verify(RFC7515_A3, &p, RFC_NOW), GW_EJWTSIG);
    parsed_free(&p);
}

/* ---- generated keys -------------------------------------------------------------------- */

struct case_ {
    const char *name;
    enum gw_jwt_alg alg;
    const char *alg_member; /* "alg" written into the JWK, NULL: left out */
};

static const struct case_ CASES[] = {
    {"rsa", GW_JWT_RS256, NULL},        {"rsa", GW_JWT_RS256, "RS256"},
    {"rsa", GW_JWT_RS384, "RS384"},     {"rsa", GW_JWT_RS512, "RS512"},
    {"p256", GW_JWT_ES256, NULL},       {"p256", GW_JWT_ES256, "ES256"},
    {"p384", GW_JWT_ES384, NULL},       {"ed25519", GW_JWT_EDDSA, NULL},
    {"ed25519", GW_JWT_EDDSA, "EdDSA"}, {"ed448", GW_JWT_EDDSA, NULL},
};

static EVP_PKEY *key_named(const struct keyset *ks, const char *name)
{
    if (strcmp(name, "rsa") == 0)
        return ks->rsa;
    if (strcmp(name, "p256") == 0)
        return ks->p256;
    if (strcmp(name, "p384") == 0)
        return ks->p384;
    if (strcmp(name, "ed25519") == 0)
        return ks->ed25519;
    return ks->ed448;
}

static void test_generated_keys(void **state)
{
    struct fixture *f = *state;

    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        const struct case_ *c = &CASES[i];
        json_t *jwk[1];
        struct parsed mine, other;
        char *doc, tok[4096];

        jwk[0] = jwk_of(key_named(&f->a, c->name), "k1", c->alg_member);
        doc = doc_of(jwk, 1);
        assert_int_equal(parse_str(doc, &mine), 0);
        free(doc);
        assert_int_equal(mine.n, 1);
        assert_int_equal(mine.keys[0].alg, c->alg);
        assert_string_equal(mine.keys[0].kid, "k1");
        assert_string_equal(mine.why, "");

        jwk[0] = jwk_of(key_named(&f->b, c->name), "k1", c->alg_member);
        doc = doc_of(jwk, 1);
        assert_int_equal(parse_str(doc, &other), 0);
        free(doc);

        mint(tok, sizeof(tok), c->alg, "k1", key_named(&f->a, c->name), NULL, 0);
        assert_int_equal(verify(tok, &mine, NOW), 0);
        assert_int_equal(verify(tok, &other, NOW), GW_EJWTSIG);
        /* Signed by the other key: refused by mine. */
        mint(tok, sizeof(tok), c->alg, "k1", key_named(&f->b, c->name), NULL, 0);
        assert_int_equal(verify(tok, &mine, NOW), GW_EJWTSIG);
        assert_int_equal(verify(tok, &other, NOW), 0);
        parsed_free(&mine);
        parsed_free(&other);
    }
}

/* One set with every kind of key, as an issuer rotating keys publishes it. */
static void test_mixed_set(void **state)
{
    struct fixture *f = *state;
    json_t *jwks[6];
    struct parsed p;
    char *doc, tok[4096];
    static const unsigned char secret[32] = "0123456789abcdef0123456789abcdef";
    char k[64], oct[160];

    jwks[0] = jwk_of(f->a.rsa, "rsa", NULL);
    jwks[1] = jwk_of(f->a.p256, "p256", NULL);
    jwks[2] = jwk_of(f->a.p384, "p384", NULL);
    jwks[3] = jwk_of(f->a.ed25519, "ed", NULL);
    assert_int_equal(gw_base64url_encode(secret, sizeof(secret), k, sizeof(k), NULL), 0);
    snprintf(oct, sizeof(oct), "{\"kty\":\"oct\",\"k\":\"%s\",\"alg\":\"HS256\",\"kid\":\"hs\"}",
             k);
    jwks[4] = json_loads(oct, 0, NULL);
    jwks[5] = json_pack("{s:s,s:s,s:s}", "kty", "RSA", "use", "enc", "n", "AQAB");
    assert_non_null(jwks[4]);
    doc = doc_of(jwks, 6);
    assert_int_equal(parse_str(doc, &p), 0);
    free(doc);
    assert_int_equal(p.n, 5);
    assert_non_null(strstr(p.why, "1 key skipped; first keys[5]"));

    mint(tok, sizeof(tok), GW_JWT_RS256, "rsa", f->a.rsa, NULL, 0);
    assert_int_equal(verify(tok, &p, NOW), 0);
    mint(tok, sizeof(tok), GW_JWT_RS256, NULL, f->a.rsa, NULL, 0);
    assert_int_equal(verify(tok, &p, NOW), 0);
    mint(tok, sizeof(tok), GW_JWT_ES384, "p384", f->a.p384, NULL, 0);
    assert_int_equal(verify(tok, &p, NOW), 0);
    mint(tok, sizeof(tok), GW_JWT_EDDSA, "ed", f->a.ed25519, NULL, 0);
    assert_int_equal(verify(tok, &p, NOW), 0);
    mint(tok, sizeof(tok), GW_JWT_HS256, "hs", NULL, secret, sizeof(secret));
    assert_int_equal(verify(tok, &p, NOW), 0);
    /* kid of one key, signature of another. */
    mint(tok, sizeof(tok), GW_JWT_ES256, "p384", f->a.p256, NULL, 0);
    assert_int_equal(verify(tok, &p, NOW), GW_EJWTALG);
    mint(tok, sizeof(tok), GW_JWT_ES256, "p256", f->b.p256, NULL, 0);
    assert_int_equal(verify(tok, &p, NOW), GW_EJWTSIG);
    parsed_free(&p);
}

static void test_oct_keys(void **state)
{
    static const unsigned char secret[64] =
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char k[128], jwk[256], tok[2048];
    struct parsed p;
    (void)state;

    assert_int_equal(gw_base64url_encode(secret, sizeof(secret), k, sizeof(k), NULL), 0);
    snprintf(jwk, sizeof(jwk), "{\"kty\":\"oct\",\"k\":\"%s\",\"alg\":\"HS512\"}", k);
    assert_int_equal(parse_one(jwk, &p), 0);
    assert_int_equal(p.keys[0].alg, GW_JWT_HS512);
    assert_int_equal(p.keys[0].secret_len, 64);
    mint(tok, sizeof(tok), GW_JWT_HS512, NULL, NULL, secret, sizeof(secret));
    assert_int_equal(verify(tok, &p, NOW), 0);
    mint(tok, sizeof(tok), GW_JWT_HS512, NULL, NULL, (const unsigned char *)"x", 1);
    assert_int_equal(verify(tok, &p, NOW), GW_EJWTSIG);
    parsed_free(&p);

    /* Never without an explicit HS* alg. */
    snprintf(jwk, sizeof(jwk), "{\"kty\":\"oct\",\"k\":\"%s\"}", k);
    assert_int_equal(parse_one(jwk, &p), GW_EJWKS);
    assert_non_null(strstr(p.why, "explicit"));
    snprintf(jwk, sizeof(jwk), "{\"kty\":\"oct\",\"k\":\"%s\",\"alg\":\"RS256\"}", k);
    assert_int_equal(parse_one(jwk, &p), GW_EJWKS);
    /* 32 bytes are too few for HS384 (RFC 7518 3.2). */
    assert_int_equal(gw_base64url_encode(secret, 32, k, sizeof(k), NULL), 0);
    snprintf(jwk, sizeof(jwk), "{\"kty\":\"oct\",\"k\":\"%s\",\"alg\":\"HS384\"}", k);
    assert_int_equal(parse_one(jwk, &p), GW_EJWKS);
    assert_non_null(strstr(p.why, "too short"));
}

/* ---- refused documents and skipped keys ------------------------------------------------ */

static void test_bad_documents(void **state)
{
    static const char *const docs[] = {
        "",
        "not json",
        "{\"keys\":[",
        "[]",
        "[{\"kty\":\"RSA\"}]",
        "\"keys\"",
        "{}",
        "{\"keys\":null}",
        "{\"keys\":{}}",
        "{\"keys\":\"x\"}",
        "{\"keys\":[]}",
        "{\"keys\":[1,\"x\",null,[],true]}",
        "{\"Keys\":[]}",
        "{\"keys\":[],\"keys\":[]}",
    };
    struct parsed p;
    struct gw_jwt_key *keys = (struct gw_jwt_key *)&p; /* must stay untouched */
    size_t n = 77;
    char why[128];
    (void)state;

    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        why[0] = '\0';
        assert_int_equal(gw_jwks_parse(docs[i], strlen(docs[i]), &keys, &n, why, sizeof(why)),
                         GW_EJWKS);
        assert_true(why[0] != '\0');
        assert_ptr_equal(keys, (struct gw_jwt_key *)&p);
        assert_int_equal(n, 77);
    }
    /* why is optional, and truncated to its capacity. */
    assert_int_equal(gw_jwks_parse("{}", 2, &keys, &n, NULL, 0), GW_EJWKS);
    memset(why, 'x', sizeof(why));
    assert_int_equal(gw_jwks_parse("{}", 2, &keys, &n, why, 5), GW_EJWKS);
    assert_int_equal(strlen(why), 4);
    gw_jwks_free(NULL, 0);
}

/* Each of these single keys is skipped, which leaves no usable key; why names the reason. */
static void test_skipped_keys(void **state)
{
    static const struct {
        const char *jwk;
        const char *why;
    } bad[] = {
        {"{\"kty\":\"RSA\",\"n\":\"" A2_RSA_N "\",\"e\":\"AQAB\",\"use\":\"enc\"}", "use"},
        {"{\"kty\":\"RSA\",\"n\":\"" A2_RSA_N "\",\"e\":\"AQAB\",\"use\":7}", "use"},
        {"{\"kty\":\"RSA\",\"n\":\"" A2_RSA_N "\",\"e\":\"AQAB\",\"key_ops\":[\"encrypt\"]}",
         "key_ops"},
        {"{\"kty\":\"RSA\",\"n\":\"" A2_RSA_N "\",\"e\":\"AQAB\",\"key_ops\":\"verify\"}",
         "key_ops"},
        {"{\"kty\":\"RSA\",\"n\":\"" A2_RSA_N "\",\"e\":\"AQAB\",\"alg\":\"ES256\"}",
         "does not fit"},
        {"{\"kty\":\"RSA\",\"n\":\"" A2_RSA_N "\",\"e\":\"AQAB\",\"alg\":\"PS256\"}",
         "unsupported alg"},
        {"{\"kty\":\"RSA\",\"n\":\"" A2_RSA_N "\",\"e\":\"AQAB\",\"alg\":\"none\"}",
         "unsupported alg"},
        {"{\"kty\":\"RSA\",\"n\":\"" A2_RSA_N "\",\"e\":\"AQAB\",\"alg\":256}", "unsupported alg"},
        {"{\"kty\":\"RSA\",\"n\":\"" A2_RSA_N "\"}", "\"e\""},
        {"{\"kty\":\"RSA\",\"n\":\"" A2_RSA_N "\",\"e\":\"AQAB=\"}", "base64url"},
        {"{\"kty\":\"RSA\",\"n\":\"" A2_RSA_N "+\",\"e\":\"AQAB\"}", "base64url"},
        {"{\"kty\":\"RSA\",\"n\":\"\",\"e\":\"AQAB\"}", "base64url"},
        {"{\"kty\":\"RSA\",\"n\":\"" A2_RSA_N "\",\"e\":\"AQAB\",\"kid\":5}", "kid"},
        {"{\"n\":\"" A2_RSA_N "\",\"e\":\"AQAB\"}", "kty"},
        {"{\"kty\":\"rsa\",\"n\":\"" A2_RSA_N "\",\"e\":\"AQAB\"}", "unsupported kty"},
        {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A1_EC_X "\",\"y\":\"" A1_EC_Y
         "\",\"alg\":\"ES384\"}",
         "does not fit"},
        {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A1_EC_X "\",\"y\":\"" A1_EC_Y
         "\",\"alg\":\"RS256\"}",
         "does not fit"},
        {"{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"" A1_EC_X "\",\"y\":\"" A1_EC_Y "\"}",
         "unsupported crv"},
        {"{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"x\":\"" A1_EC_X "\",\"y\":\"" A1_EC_Y "\"}",
         "unsupported crv"},
        {"{\"kty\":\"EC\",\"x\":\"" A1_EC_X "\",\"y\":\"" A1_EC_Y "\"}", "crv"},
        {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A1_EC_X "\"}", "\"y\""},
        /* y of the A.3 key with x of the A.1 key: not a point of P-256. */
        {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A1_EC_X "\",\"y\":\"" A3_EC_Y "\"}",
         "refused"},
        /* x one byte short (RFC 7518 6.2.1.2 wants the full size). */
        {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7A\","
         "\"y\":\"" A1_EC_Y "\"}",
         "wrong length"},
        {"{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"" A1_EC_X "\",\"y\":\"" A1_EC_Y "\"}",
         "wrong length"},
        {"{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"" A1_EC_X "\"}", "unsupported crv"},
        {"{\"kty\":\"OKP\",\"crv\":\"P-256\",\"x\":\"" A1_EC_X "\"}", "unsupported crv"},
        {"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" A1_EC_X "\",\"alg\":\"ES256\"}",
         "does not fit"},
        {"{\"kty\":\"OKP\",\"crv\":\"Ed448\",\"x\":\"" A1_EC_X "\"}", "wrong length"},
        {"{\"kty\":\"OKP\",\"crv\":\"Ed25519\"}", "\"x\""},
        {"\"a string\"", "not a JSON object"},
    };
    struct parsed p;
    char doc[8192];
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = parse_one(bad[i].jwk, &p);
        if (rc != GW_EJWKS || strstr(p.why, bad[i].why) == NULL)
            fail_msg("case %zu: rc %d, why \"%s\", expected \"%s\"", i, rc, p.why, bad[i].why);
        assert_non_null(strstr(p.why, "no usable key (1 skipped"));
        /* Next to a good key the bad one is only skipped. */
        snprintf(doc, sizeof(doc),
                 "{\"keys\":[%s,{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_EC_X
                 "\",\"y\":\"" A3_EC_Y "\"}]}",
                 bad[i].jwk);
        assert_int_equal(parse_str(doc, &p), 0);
        assert_int_equal(p.n, 1);
        assert_int_equal(p.keys[0].alg, GW_JWT_ES256);
        assert_non_null(strstr(p.why, "1 key skipped; first keys[0]"));
        assert_int_equal(verify(RFC7515_A3, &p, RFC_NOW), 0);
        parsed_free(&p);
    }
}

static void test_rsa_limits(void **state)
{
    EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    json_t *jwk[1];
    struct parsed p;
    char *doc;
    (void)state;

    assert_non_null(small);
    jwk[0] = jwk_of(small, NULL, "RS256");
    doc = doc_of(jwk, 1);
    assert_int_equal(parse_str(doc, &p), GW_EJWKS);
    assert_non_null(strstr(p.why, "1024 bits"));
    free(doc);
    EVP_PKEY_free(small);
    /* An exponent of 1 would make every "signature" its own message: refused by OpenSSL's
     * public key check, as is an even modulus. */
    assert_int_equal(parse_one("{\"kty\":\"RSA\",\"n\":\"" A2_RSA_N "\",\"e\":\"AQ\"}", &p),
                     GW_EJWKS);
    assert_int_equal(parse_one("{\"kty\":\"RSA\",\"n\":\"" A2_RSA_N "\",\"e\":\"Ag\"}", &p),
                     GW_EJWKS);
    /* A leading zero octet on n (which RFC 7518 forbids but some libraries emit) is harmless. */
    {
        unsigned char n[300];
        size_t nl = 0;
        char enc[512], jwk_text[700];
        n[0] = 0;
        assert_int_equal(gw_base64url_decode(A2_RSA_N, strlen(A2_RSA_N), n + 1, sizeof(n) - 1, &nl),
                         0);
        assert_int_equal(gw_base64url_encode(n, nl + 1, enc, sizeof(enc), NULL), 0);
        snprintf(jwk_text, sizeof(jwk_text), "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"}", enc);
        assert_int_equal(parse_one(jwk_text, &p), 0);
        assert_int_equal(verify(RFC7515_A2, &p, RFC_NOW), 0);
        parsed_free(&p);
    }
}

static void test_kid_rules(void **state)
{
    char kid[80], jwk[1024], doc[2048];
    struct parsed p;
    (void)state;

    memset(kid, 'k', sizeof(kid));
    kid[GW_JWT_KID_MAX - 1] = '\0';
    snprintf(jwk, sizeof(jwk),
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_EC_X "\",\"y\":\"" A3_EC_Y
             "\",\"kid\":\"%s\"}",
             kid);
    assert_int_equal(parse_one(jwk, &p), 0);
    assert_string_equal(p.keys[0].kid, kid);
    parsed_free(&p);
    kid[GW_JWT_KID_MAX - 1] = 'k';
    kid[GW_JWT_KID_MAX] = '\0';
    snprintf(jwk, sizeof(jwk),
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_EC_X "\",\"y\":\"" A3_EC_Y
             "\",\"kid\":\"%s\"}",
             kid);
    assert_int_equal(parse_one(jwk, &p), GW_EJWKS);
    assert_non_null(strstr(p.why, "kid"));

    /* A repeated kid: the first key keeps it, the second is skipped. */
    snprintf(doc, sizeof(doc),
             "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_EC_X "\",\"y\":\"" A3_EC_Y
             "\",\"kid\":\"a\"},{\"kty\":\"RSA\",\"n\":\"" A2_RSA_N
             "\",\"e\":\"AQAB\",\"kid\":\"a\"},{\"kty\":\"RSA\",\"n\":\"" A2_RSA_N
             "\",\"e\":\"AQAB\",\"kid\":\"b\"}]}");
    assert_int_equal(parse_str(doc, &p), 0);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.keys[0].kid, "a");
    assert_int_equal(p.keys[0].alg, GW_JWT_ES256);
    assert_string_equal(p.keys[1].kid, "b");
    assert_non_null(strstr(p.why, "1 key skipped; first keys[1]: duplicate kid"));
    parsed_free(&p);
    /* key_ops that include "verify" are fine. */
    assert_int_equal(
        parse_one("{\"kty\":\"RSA\",\"n\":\"" A2_RSA_N
                  "\",\"e\":\"AQAB\",\"key_ops\":[\"sign\",\"verify\"],\"use\":\"sig\"}",
                  &p),
        0);
    parsed_free(&p);
    /* Keys without kid may repeat. */
    assert_int_equal(parse_str("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"" A2_RSA_N
                               "\",\"e\":\"AQAB\"},{\"kty\":\"RSA\",\"n\":\"" A2_RSA_N
                               "\",\"e\":\"AQAB\",\"alg\":\"RS512\"}]}",
                               &p),
                     0);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.keys[1].alg, GW_JWT_RS512);
    parsed_free(&p);
}

/* Several skipped keys are counted; the first one is named. */
static void test_skip_count(void **state)
{
    struct parsed p;
    (void)state;
    assert_int_equal(parse_str("{\"keys\":[7,{\"kty\":\"oct\"},{\"kty\":\"EC\",\"crv\":\"P-256\","
                               "\"x\":\"" A3_EC_X "\",\"y\":\"" A3_EC_Y
                               "\"},{\"kty\":\"RSA\",\"use\":\"enc\"}],\"other\":1}",
                               &p),
                     0);
    assert_int_equal(p.n, 1);
    assert_non_null(strstr(p.why, "3 keys skipped; first keys[0]: not a JSON object"));
    parsed_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7517_a1),     cmocka_unit_test(test_rfc7515_examples),
        cmocka_unit_test(test_generated_keys), cmocka_unit_test(test_mixed_set),
        cmocka_unit_test(test_oct_keys),       cmocka_unit_test(test_bad_documents),
        cmocka_unit_test(test_skipped_keys),   cmocka_unit_test(test_rsa_limits),
        cmocka_unit_test(test_kid_rules),      cmocka_unit_test(test_skip_count),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
