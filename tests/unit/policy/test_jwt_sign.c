/*
 * Unit tests for src/policy/jwt_sign.c: RFC 7515 appendix A.1 reproduced, minted tokens
 * verified by gw_jwt_verify for each HS* algorithm, the exact header, kid handling, the
 * secret-length rule and the refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/base64url.h"
#include "core/error.h"
#include "policy/jwt.h"
#include "policy/jwt_sign.h"

#define NOW INT64_C(1700000000)

/* RFC 7515 appendix A.1: the example HS256 token and its key (the JWK's "k"). */
static const char RFC_A1[] =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl"
    "fQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
static const char RFC_A1_K[] =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";

/* 64 bytes: long enough for every HS* algorithm; prefixes are used for the shorter rules. */
static const char SECRET[] = "0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789ABCDEF";

static const char PAYLOAD[] = "{\"sub\":\"user123\",\"exp\":1700003600,\"iat\":1700000000,"
                              "\"roles\":[\"user\",\"admin\"],\"permissions\":[\"orders:read\"]}";

/* Decodes segment `which` (0 header, 1 payload) of a token into a NUL-terminated buffer. */
static void segment(const char *tok, int which, char *out, size_t cap)
{
    const char *s = tok;
    for (int i = 0; i < which; i++)
        s = strchr(s, '.') + 1;
    const char *e = strchr(s, '.');
    assert_non_null(e);
    size_t n = 0;
    assert_int_equal(gw_base64url_decode(s, (size_t)(e - s), (unsigned char *)out, cap - 1, &n), 0);
    out[n] = '\0';
}

static void test_rfc7515_a1(void **unused)
{
    (void)unused;
    unsigned char key[128];
    size_t klen = 0;
    char sig[96];
    assert_int_equal(gw_base64url_decode(RFC_A1_K, strlen(RFC_A1_K), key, sizeof(key), &klen), 0);
    assert_int_equal(klen, 64);
    const char *dot2 = strrchr(RFC_A1, '.');
    assert_int_equal(gw_jwt_sign_hmac_input(GW_JWT_HS256, key, klen, RFC_A1,
                                            (size_t)(dot2 - RFC_A1), sig, sizeof(sig)),
                     0);
    assert_string_equal(sig, dot2 + 1);
    /* one byte of the input changed: another signature */
    char input[256];
    memcpy(input, RFC_A1, (size_t)(dot2 - RFC_A1));
    input[0] ^= 1;
    assert_int_equal(gw_jwt_sign_hmac_input(GW_JWT_HS256, key, klen, input, (size_t)(dot2 - RFC_A1),
                                            sig, sizeof(sig)),
                     0);
    assert_string_not_equal(sig, dot2 + 1);
    /* the output buffer must hold the 43 characters and a NUL */
    assert_int_equal(
        gw_jwt_sign_hmac_input(GW_JWT_HS256, key, klen, RFC_A1, (size_t)(dot2 - RFC_A1), sig, 43),
        GW_ENOMEM);
    assert_int_equal(
        gw_jwt_sign_hmac_input(GW_JWT_HS256, key, klen, RFC_A1, (size_t)(dot2 - RFC_A1), sig, 44),
        0);
}

static void test_minted_tokens_verify(void **unused)
{
    (void)unused;
    static const struct {
        enum gw_jwt_alg alg;
        size_t min;
        size_t siglen; /* base64url characters */
    } cases[] = {{GW_JWT_HS256, 32, 43}, {GW_JWT_HS384, 48, 64}, {GW_JWT_HS512, 64, 86}};
    static char *const roles[] = {"roles"}, *const perms[] = {"permissions"};
    const struct gw_jwt_policy pol = {
        .require_exp = true, .roles = {roles, 1}, .perms = {perms, 1}};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *tok = NULL;
        struct gw_jwt_key k;
        struct gw_jwt_claims cl;
        char hdr[128], pay[512], want[64];

        assert_int_equal(gw_jwt_sign_hmac(cases[i].alg, SECRET, cases[i].min, NULL, PAYLOAD, &tok),
                         0);
        assert_non_null(tok);
        segment(tok, 0, hdr, sizeof(hdr));
        snprintf(want, sizeof(want), "{\"alg\":\"%s\",\"typ\":\"JWT\"}",
                 gw_jwt_alg_name(cases[i].alg));
        assert_string_equal(hdr, want);
        segment(tok, 1, pay, sizeof(pay));
        assert_string_equal(pay, PAYLOAD); /* the payload text is signed as given */
        assert_int_equal(strlen(strrchr(tok, '.') + 1), cases[i].siglen);

        assert_int_equal(gw_jwt_key_hmac(&k, NULL, cases[i].alg, SECRET, cases[i].min), 0);
        assert_int_equal(gw_jwt_verify(tok, strlen(tok), &k, 1, &pol, NOW, &cl), 0);
        assert_string_equal(cl.sub, "user123");
        assert_string_equal(cl.roles, "user admin");
        assert_string_equal(cl.perms, "orders:read");
        assert_int_equal(cl.exp, 1700003600);
        gw_jwt_key_free(&k);

        /* the secret with its last byte changed: not verified */
        char other[sizeof(SECRET)];
        memcpy(other, SECRET, sizeof(SECRET));
        other[cases[i].min - 1] ^= 1;
        assert_int_equal(gw_jwt_key_hmac(&k, NULL, cases[i].alg, other, cases[i].min), 0);
        assert_int_equal(gw_jwt_verify(tok, strlen(tok), &k, 1, &pol, NOW, NULL), GW_EJWTSIG);
        gw_jwt_key_free(&k);
        free(tok);
    }
}

static void test_kid(void **unused)
{
    (void)unused;
    char *tok = NULL;
    char hdr[256];
    struct gw_jwt_key keys[2];

    assert_int_equal(gw_jwt_sign_hmac(GW_JWT_HS256, SECRET, 32, "k1", PAYLOAD, &tok), 0);
    segment(tok, 0, hdr, sizeof(hdr));
    assert_string_equal(hdr, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}");
    /* the kid selects the key */
    assert_int_equal(gw_jwt_key_hmac(&keys[0], "k0", GW_JWT_HS256, SECRET + 32, 32), 0);
    assert_int_equal(gw_jwt_key_hmac(&keys[1], "k1", GW_JWT_HS256, SECRET, 32), 0);
    assert_int_equal(gw_jwt_verify(tok, strlen(tok), keys, 2, NULL, NOW, NULL), 0);
    assert_int_equal(gw_jwt_verify(tok, strlen(tok), keys, 1, NULL, NOW, NULL), GW_EJWTKID);
    free(tok);

    /* "" is no kid */
    assert_int_equal(gw_jwt_sign_hmac(GW_JWT_HS256, SECRET, 32, "", PAYLOAD, &tok), 0);
    segment(tok, 0, hdr, sizeof(hdr));
    assert_string_equal(hdr, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
    free(tok);

    /* a kid needing JSON escapes still makes a header the verifier reads back */
    gw_jwt_key_free(&keys[1]);
    assert_int_equal(gw_jwt_key_hmac(&keys[1], "a\"b\\c", GW_JWT_HS256, SECRET, 32), 0);
    assert_int_equal(gw_jwt_sign_hmac(GW_JWT_HS256, SECRET, 32, "a\"b\\c", PAYLOAD, &tok), 0);
    segment(tok, 0, hdr, sizeof(hdr));
    assert_string_equal(hdr, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"a\\\"b\\\\c\"}");
    assert_int_equal(gw_jwt_verify(tok, strlen(tok), keys, 2, NULL, NOW, NULL), 0);
    free(tok);
    gw_jwt_key_free(&keys[0]);
    gw_jwt_key_free(&keys[1]);

    /* the longest kid a key can hold, and one byte more */
    char kid[GW_JWT_KID_MAX + 1];
    memset(kid, 'k', sizeof(kid));
    kid[GW_JWT_KID_MAX - 1] = '\0';
    assert_int_equal(gw_jwt_sign_hmac(GW_JWT_HS256, SECRET, 32, kid, PAYLOAD, &tok), 0);
    free(tok);
    kid[GW_JWT_KID_MAX - 1] = 'k';
    kid[GW_JWT_KID_MAX] = '\0';
    assert_int_equal(gw_jwt_sign_hmac(GW_JWT_HS256, SECRET, 32, kid, PAYLOAD, &tok), GW_EINVAL);
    assert_null(tok);
}

/* RFC 7518 section 3.2: a key of the same size as the hash output or larger. */
static void test_secret_length_rule(void **unused)
{
    (void)unused;
    static const struct {
        enum gw_jwt_alg alg;
        size_t min;
    } cases[] = {{GW_JWT_HS256, 32}, {GW_JWT_HS384, 48}, {GW_JWT_HS512, 64}};
    char sig[96];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *tok = (char *)"not touched";
        assert_int_equal(
            gw_jwt_sign_hmac(cases[i].alg, SECRET, cases[i].min - 1, NULL, PAYLOAD, &tok),
            GW_EINVAL);
        assert_null(tok);
        assert_int_equal(gw_jwt_sign_hmac_input(cases[i].alg, SECRET, cases[i].min - 1, "a.b", 3,
                                                sig, sizeof(sig)),
                         GW_EINVAL);
        assert_int_equal(gw_jwt_sign_hmac(cases[i].alg, SECRET, cases[i].min, NULL, PAYLOAD, &tok),
                         0);
        free(tok);
    }
    /* an empty secret, and no secret */
    char *tok = NULL;
    assert_int_equal(gw_jwt_sign_hmac(GW_JWT_HS256, "", 0, NULL, PAYLOAD, &tok), GW_EINVAL);
}

static void test_refusals(void **unused)
{
    (void)unused;
    char *tok = NULL;
    char sig[96];
    /* only HMAC algorithms */
    static const enum gw_jwt_alg others[] = {GW_JWT_RS256, GW_JWT_ES256, GW_JWT_EDDSA,
                                             GW_JWT__ALG_COUNT};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        assert_int_equal(gw_jwt_sign_hmac(others[i], SECRET, 64, NULL, PAYLOAD, &tok), GW_EINVAL);
        assert_int_equal(gw_jwt_sign_hmac_input(others[i], SECRET, 64, "a.b", 3, sig, sizeof(sig)),
                         GW_EINVAL);
    }
    /* the payload must be one JSON object, without duplicate members */
    static const char *const bad[] = {
        "", "[]", "\"sub\"", "42", "{", "{\"a\":1}x", "{\"a\":1,\"a\":2}", "{\"a\":1} {}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (gw_jwt_sign_hmac(GW_JWT_HS256, SECRET, 32, NULL, bad[i], &tok) != GW_EINVAL)
            fail_msg("accepted payload '%s'", bad[i]);
        assert_null(tok);
    }
    assert_int_equal(gw_jwt_sign_hmac(GW_JWT_HS256, SECRET, 32, NULL, NULL, &tok), GW_EINVAL);
    /* an empty object is a payload */
    assert_int_equal(gw_jwt_sign_hmac(GW_JWT_HS256, SECRET, 32, NULL, "{}", &tok), 0);
    assert_int_equal(strncmp(tok, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.", 41), 0);
    free(tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7515_a1), cmocka_unit_test(test_minted_tokens_verify),
        cmocka_unit_test(test_kid),        cmocka_unit_test(test_secret_length_rule),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
