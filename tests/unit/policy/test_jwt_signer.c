/*
 * Unit tests for src/policy/jwt_signer.c and jwks_write.c: EdDSA and ES256 tokens minted from
 * PEM private keys verify with gw_jwt_verify (through the signer's own verification key and
 * through the JWK Set parsed back by gw_jwks_parse), the exact header, tampering refused, HS256
 * signers kept out of the JWK Set, the key-type rules for private keys, key rings, and the
 * fast path built-in identity signs with (gw_jwt_signer_sign_object: the same token as
 * gw_jwt_signer_sign, HS256 from the precomputed pad states) and the revocable mark of the
 * verification keys it makes (jti/sid keys only for tokens such a key verified).
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
#include <openssl/pem.h>

#include "core/base64url.h"
#include "core/error.h"
#include "policy/jwks.h"
#include "policy/jwt.h"
#include "policy/jwt_signer.h"
#include "state/revoked.h"

#define NOW INT64_C(1700000000)
static const char PAYLOAD[] = "{\"sub\":\"7\",\"exp\":1700003600,\"iat\":1700000000,\"jti\":\"j\"}";
static const char SECRET[] = "0123456789abcdef0123456789ABCDEF";

/* A new private key of type (and group) as PEM in a fresh string; *len its length. */
static char *private_pem(const char *type, const char *group, size_t *len, const char *cipher)
{
    EVP_PKEY *k =
        group ? EVP_PKEY_Q_keygen(NULL, NULL, type, group) : EVP_PKEY_Q_keygen(NULL, NULL, type);
    assert_non_null(k);
    BIO *bio = BIO_new(BIO_s_mem());
    assert_non_null(bio);
    const EVP_CIPHER *c = cipher ? EVP_aes_128_cbc() : NULL;
    assert_int_equal(PEM_write_bio_PrivateKey(bio, k, c, (unsigned char *)cipher,
                                              cipher ? (int)strlen(cipher) : 0, NULL, NULL),
                     1);
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    char *out = malloc((size_t)n + 1);
    assert_non_null(out);
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    *len = (size_t)n;
    BIO_free(bio);
    EVP_PKEY_free(k);
    return out;
}

static void load(struct gw_jwt_signer *s, const char *kid, enum gw_jwt_alg alg, const char *type,
                 const char *group)
{
    size_t len;
    const char *why;
    char *pem = private_pem(type, group, &len, NULL);
    assert_int_equal(gw_jwt_signer_pem(s, kid, alg, pem, len, &why), 0);
    free(pem);
}

static void header_of(const char *tok, char *out, size_t cap)
{
    const char *dot = strchr(tok, '.');
    size_t n = 0;
    assert_non_null(dot);
    assert_int_equal(
        gw_base64url_decode(tok, (size_t)(dot - tok), (unsigned char *)out, cap - 1, &n), 0);
    out[n] = '\0';
}

static const struct gw_jwt_policy POLICY = {.require_exp = true};

static void check_sign_verify(enum gw_jwt_alg alg, const char *type, const char *group,
                              const char *want_header, size_t sig_len)
{
    struct gw_jwt_signer s;
    struct gw_jwt_key k;
    struct gw_jwt_claims cl;
    char *tok = NULL, hdr[128];
    load(&s, "k1", alg, type, group);
    assert_int_equal(gw_jwt_signer_sign(&s, PAYLOAD, &tok), 0);
    header_of(tok, hdr, sizeof hdr);
    assert_string_equal(hdr, want_header);
    const char *sig = strrchr(tok, '.') + 1;
    assert_int_equal(strlen(sig), GW_BASE64URL_ENCODED_LEN(sig_len));
    assert_int_equal(gw_jwt_signer_verify_key(&s, &k), 0);
    assert_int_equal(k.alg, alg);
    assert_string_equal(k.kid, "k1");
    assert_int_equal(gw_jwt_verify(tok, strlen(tok), &k, 1, &POLICY, NOW, &cl), 0);
    assert_string_equal(cl.sub, "7");
    /* One changed payload character, one changed signature character. */
    char *bad = strdup(tok);
    assert_non_null(bad);
    char *p = strchr(bad, '.') + 3;
    *p = *p == 'A' ? 'B' : 'A';
    assert_int_equal(gw_jwt_verify(bad, strlen(bad), &k, 1, &POLICY, NOW, &cl), GW_EJWTSIG);
    memcpy(bad, tok, strlen(tok) + 1);
    p = strrchr(bad, '.') + 4;
    *p = *p == 'A' ? 'B' : 'A';
    assert_int_equal(gw_jwt_verify(bad, strlen(bad), &k, 1, &POLICY, NOW, &cl), GW_EJWTSIG);
    free(bad);

    /* The JWK Set parses back into a key that verifies the same token. */
    char *jwks = NULL;
    size_t jlen = 0, nkeys = 0;
    struct gw_jwt_key *keys = NULL;
    char why[128];
    assert_int_equal(gw_jwks_write(&s, 1, &jwks, &jlen), 0);
    assert_int_equal(strlen(jwks), jlen);
    assert_null(strstr(jwks, "\"d\""));
    assert_int_equal(gw_jwks_parse(jwks, jlen, &keys, &nkeys, why, sizeof why), 0);
    assert_int_equal(nkeys, 1);
    assert_string_equal(keys[0].kid, "k1");
    assert_int_equal(keys[0].alg, alg);
    assert_int_equal(gw_jwt_verify(tok, strlen(tok), keys, 1, &POLICY, NOW, &cl), 0);
    gw_jwks_free(keys, nkeys);
    free(jwks);
    free(tok);
    gw_jwt_key_free(&k);
    gw_jwt_signer_free(&s);
}

static void test_eddsa(void **state)
{
    (void)state;
    check_sign_verify(GW_JWT_EDDSA, "ED25519", NULL,
                      "{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"k1\"}", 64);
    check_sign_verify(GW_JWT_EDDSA, "ED448", NULL,
                      "{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"k1\"}", 114);
}

static void test_es256(void **state)
{
    (void)state;
    /* Many signatures: r or s with a leading zero byte must still be 32 bytes each. */
    for (int i = 0; i < 8; i++)
        check_sign_verify(GW_JWT_ES256, "EC", "P-256",
                          "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"k1\"}", 64);
}

static void test_jwks_document(void **state)
{
    (void)state;
    struct gw_jwt_signer s[3];
    assert_int_equal(gw_jwt_signer_hmac(&s[0], "h", SECRET, 32), 0);
    load(&s[1], "e", GW_JWT_EDDSA, "ED25519", NULL);
    load(&s[2], "p", GW_JWT_ES256, "EC", "P-256");
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(gw_jwks_write(s, 3, &text, &len), 0);
    json_t *doc = json_loads(text, 0, NULL);
    assert_non_null(doc);
    json_t *keys = json_object_get(doc, "keys");
    assert_int_equal(json_object_size(doc), 1);
    /* The HS256 secret is never published. */
    assert_int_equal(json_array_size(keys), 2);
    assert_null(strstr(text, "\"h\""));
    json_t *ed = json_array_get(keys, 0), *ec = json_array_get(keys, 1);
    assert_string_equal(json_string_value(json_object_get(ed, "kty")), "OKP");
    assert_string_equal(json_string_value(json_object_get(ed, "crv")), "Ed25519");
    assert_int_equal(strlen(json_string_value(json_object_get(ed, "x"))), 43);
    assert_string_equal(json_string_value(json_object_get(ed, "kid")), "e");
    assert_string_equal(json_string_value(json_object_get(ed, "alg")), "EdDSA");
    assert_string_equal(json_string_value(json_object_get(ed, "use")), "sig");
    assert_int_equal(json_object_size(ed), 6);
    assert_string_equal(json_string_value(json_object_get(ec, "kty")), "EC");
    assert_string_equal(json_string_value(json_object_get(ec, "crv")), "P-256");
    assert_int_equal(strlen(json_string_value(json_object_get(ec, "x"))), 43);
    assert_int_equal(strlen(json_string_value(json_object_get(ec, "y"))), 43);
    assert_string_equal(json_string_value(json_object_get(ec, "alg")), "ES256");
    assert_int_equal(json_object_size(ec), 7);
    json_decref(doc);
    free(text);
    /* Only HS256: an empty set. */
    assert_int_equal(gw_jwks_write(s, 1, &text, &len), 0);
    assert_string_equal(text, "{\"keys\":[]}");
    free(text);
    for (int i = 0; i < 3; i++)
        gw_jwt_signer_free(&s[i]);
}

/* A P-256 key whose public point is not its private scalar's (found by fuzz_jwt_signer). */
static const char MISMATCHED[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIFNY92LZU3LaJFN+bUaVpbZdEshmiV8CS1a0aJ5SkwC+oAoGCCqGSM49\n"
    "AwEHoUQDQgAE17nY5jUyqGIWMBcN1U1fX8EzN7H3e0Tg2Md9vEBWmxPLuXpBOrDY\n"
    "NR/shBcPoSpgJdQ+r+yXBtf8EdhFOyZgbA==\n"
    "-----END EC PRIVATE KEY-----\n";

static void test_private_key_rules(void **state)
{
    (void)state;
    struct gw_jwt_signer s;
    const char *why = NULL;
    size_t len;
    char *p384 = private_pem("EC", "P-384", &len, NULL);
    assert_int_equal(gw_jwt_signer_pem(&s, "k", GW_JWT_ES256, p384, len, &why), GW_EINVAL);
    assert_string_equal(why, "ES256 needs an EC P-256 private key");
    assert_int_equal(gw_jwt_signer_pem(&s, "k", GW_JWT_EDDSA, p384, len, &why), GW_EINVAL);
    assert_string_equal(why, "EdDSA needs an Ed25519 or Ed448 private key");
    free(p384);
    char *ed = private_pem("ED25519", NULL, &len, NULL);
    assert_int_equal(gw_jwt_signer_pem(&s, "k", GW_JWT_ES256, ed, len, &why), GW_EINVAL);
    assert_int_equal(gw_jwt_signer_pem(&s, "k", GW_JWT_RS256, ed, len, &why), GW_EINVAL);
    assert_int_equal(gw_jwt_signer_pem(&s, "k", GW_JWT_HS256, ed, len, &why), GW_EINVAL);
    char kid[GW_JWT_KID_MAX + 1];
    memset(kid, 'k', sizeof kid - 1);
    kid[sizeof kid - 1] = '\0';
    assert_int_equal(gw_jwt_signer_pem(&s, kid, GW_JWT_EDDSA, ed, len, &why), GW_EINVAL);
    /* A public key, garbage, a truncated key. */
    assert_int_equal(gw_jwt_signer_pem(&s, "k", GW_JWT_EDDSA, ed, len / 2, &why), GW_EINVAL);
    assert_string_equal(why, "not an unencrypted PEM private key");
    assert_int_equal(gw_jwt_signer_pem(&s, "k", GW_JWT_EDDSA, "hello", 5, &why), GW_EINVAL);
    free(ed);
    /* An encrypted key is refused (never prompted for). */
    char *enc = private_pem("ED25519", NULL, &len, "passphrase");
    assert_non_null(strstr(enc, "ENCRYPTED"));
    assert_int_equal(gw_jwt_signer_pem(&s, "k", GW_JWT_EDDSA, enc, len, &why), GW_EINVAL);
    free(enc);
    /* Halves that do not belong together. */
    assert_int_equal(
        gw_jwt_signer_pem(&s, "k", GW_JWT_ES256, MISMATCHED, sizeof MISMATCHED - 1, &why),
        GW_EINVAL);
    assert_non_null(strstr(why, "does not verify what its private half signs"));
    /* HS256 secrets: at least 32 bytes. */
    assert_int_equal(gw_jwt_signer_hmac(&s, "h", SECRET, 31), GW_EINVAL);
    /* A payload that is not one JSON object is refused. */
    load(&s, "k", GW_JWT_EDDSA, "ED25519", NULL);
    char *tok = NULL;
    assert_int_equal(gw_jwt_signer_sign(&s, "[1]", &tok), GW_EINVAL);
    assert_int_equal(gw_jwt_signer_sign(&s, "{\"a\":1,\"a\":2}", &tok), GW_EINVAL);
    assert_null(tok);
    gw_jwt_signer_free(&s);
}

static void test_keyring(void **state)
{
    (void)state;
    struct gw_jwt_signer *keys = calloc(2, sizeof *keys);
    assert_non_null(keys);
    load(&keys[0], "old", GW_JWT_ES256, "EC", "P-256");
    load(&keys[1], "new", GW_JWT_EDDSA, "ED25519", NULL);
    struct gw_jwt_keyring *r = NULL;
    assert_int_equal(gw_jwt_keyring_new(keys, 2, 1, &r), 0);
    assert_int_equal(r->active, 1);
    assert_int_equal(r->nkeys, 2);
    assert_string_equal(r->verify[0].kid, "old");
    assert_string_equal(r->verify[1].kid, "new");
    assert_non_null(strstr(r->jwks, "\"old\""));
    /* Each key's tokens verify with the ring's keys; a token of one key under the other's kid
     * does not. */
    struct gw_jwt_claims cl;
    char *a = NULL, *b = NULL;
    assert_int_equal(gw_jwt_signer_sign(&r->keys[0], PAYLOAD, &a), 0);
    assert_int_equal(gw_jwt_signer_sign(&r->keys[r->active], PAYLOAD, &b), 0);
    assert_int_equal(gw_jwt_verify(a, strlen(a), r->verify, r->nkeys, &POLICY, NOW, &cl), 0);
    assert_int_equal(gw_jwt_verify(b, strlen(b), r->verify, r->nkeys, &POLICY, NOW, &cl), 0);
    /* (The header is made with the signer: another Ed25519 key under the kid "old".) */
    struct gw_jwt_signer other;
    load(&other, "old", GW_JWT_EDDSA, "ED25519", NULL);
    char *c = NULL;
    assert_int_equal(gw_jwt_signer_sign(&other, PAYLOAD, &c), 0);
    assert_int_equal(gw_jwt_verify(c, strlen(c), r->verify, r->nkeys, &POLICY, NOW, &cl),
                     GW_EJWTALG);
    gw_jwt_signer_free(&other);
    free(a);
    free(b);
    free(c);
    assert_ptr_equal(gw_jwt_keyring_ref(r), r);
    gw_jwt_keyring_unref(r);
    gw_jwt_keyring_unref(r);
    /* An active index out of range: the keys are taken over and freed. */
    keys = calloc(1, sizeof *keys);
    assert_non_null(keys);
    load(&keys[0], "x", GW_JWT_EDDSA, "ED25519", NULL);
    assert_int_equal(gw_jwt_keyring_new(keys, 1, 1, &r), GW_EINVAL);
    assert_null(r);
    gw_jwt_keyring_unref(NULL);
    assert_null(gw_jwt_keyring_ref(NULL));
}

static void test_sign_object_and_revocable(void **state)
{
    (void)state;
    static const char payload[] = "{\"sub\":\"7\",\"exp\":1700003600,\"jti\":\"j\",\"sid\":\"s\"}";
    struct gw_jwt_signer hs, ed;
    assert_int_equal(gw_jwt_signer_hmac(&hs, "h\"1", SECRET, sizeof SECRET - 1), 0);
    load(&ed, "e1", GW_JWT_EDDSA, "ED25519", NULL);
    struct gw_jwt_signer *both[] = {&hs, &ed};
    for (size_t i = 0; i < 2; i++) {
        char *a = NULL, *b = NULL;
        /* deterministic algorithms: the fast path mints the very same token */
        assert_int_equal(gw_jwt_signer_sign(both[i], payload, &a), 0);
        assert_int_equal(gw_jwt_signer_sign_object(both[i], payload, sizeof payload - 1, &b), 0);
        assert_string_equal(a, b);
        struct gw_jwt_key k;
        struct gw_jwt_claims cl;
        assert_int_equal(gw_jwt_signer_verify_key(both[i], &k), 0);
        assert_true(k.revocable);
        assert_int_equal(gw_jwt_verify(b, strlen(b), &k, 1, &POLICY, NOW, &cl), 0);
        assert_int_equal(cl.jti_key, gw_revoked_key("j"));
        assert_int_equal(cl.sid_key, gw_revoked_key("s"));
        gw_jwt_key_free(&k);
        free(a);
        free(b);
    }
    /* The same token through a key not made by a signer (auth.jwt's): no revocation keys. */
    char *t = NULL;
    struct gw_jwt_key plain;
    struct gw_jwt_claims cl;
    assert_int_equal(gw_jwt_signer_sign_object(&hs, payload, sizeof payload - 1, &t), 0);
    assert_int_equal(gw_jwt_key_hmac(&plain, "h\"1", GW_JWT_HS256, SECRET, sizeof SECRET - 1), 0);
    assert_false(plain.revocable);
    assert_int_equal(gw_jwt_verify(t, strlen(t), &plain, 1, &POLICY, NOW, &cl), 0);
    assert_int_equal(cl.jti_key, 0);
    assert_int_equal(cl.sid_key, 0);
    /* The header carries the kid escaped. */
    size_t hl = (size_t)(strchr(t, '.') - t), n = 0;
    char hdr[128];
    assert_int_equal(gw_base64url_decode(t, hl, (unsigned char *)hdr, sizeof hdr - 1, &n), 0);
    hdr[n] = '\0';
    assert_string_equal(hdr, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"h\\\"1\"}");
    gw_jwt_key_free(&plain);
    free(t);
    gw_jwt_signer_free(&hs);
    gw_jwt_signer_free(&ed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eddsa),         cmocka_unit_test(test_es256),
        cmocka_unit_test(test_jwks_document), cmocka_unit_test(test_private_key_rules),
        cmocka_unit_test(test_keyring),       cmocka_unit_test(test_sign_object_and_revocable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
