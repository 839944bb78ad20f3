/*
 * Review check of the precomputed-pad HMAC verification (policy/jwt_keys.c): tokens minted
 * with OpenSSL's one-shot HMAC (policy/jwt_sign.c) verify for every HS* alg and secret
 * lengths around the digest block size (64 for SHA-256, 128 for SHA-384/512, where RFC 2104
 * hashes the key first); a flipped signature bit is refused; and several threads verifying
 * with one shared key agree (the pad states are copied, never written, after load).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "core/error.h"
#include "policy/jwt.h"
#include "policy/jwt_sign.h"

#define NOW INT64_C(1700000000)
#define PAYLOAD "{\"sub\":\"u\",\"exp\":1800000000}"

static void fill(unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        s[i] = (unsigned char)(i * 37u + 11u);
}

static void test_block_size_boundaries(void **state)
{
    static const enum gw_jwt_alg algs[] = {GW_JWT_HS256, GW_JWT_HS384, GW_JWT_HS512};
    static const size_t lens[] = {64, 65, 127, 128, 129, 200, 1000};
    unsigned char secret[1000];
    struct gw_jwt_policy p = {.require_exp = true};
    (void)state;
    fill(secret, sizeof secret);
    for (size_t a = 0; a < 3; a++) {
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            char *tok = NULL;
            struct gw_jwt_key k;
            struct gw_jwt_claims c;
            assert_int_equal(gw_jwt_sign_hmac(algs[a], secret, lens[i], NULL, PAYLOAD, &tok), 0);
            assert_int_equal(gw_jwt_key_hmac(&k, NULL, algs[a], secret, lens[i]), 0);
            assert_int_equal(gw_jwt_verify(tok, strlen(tok), &k, 1, &p, NOW, &c), 0);
            size_t n = strlen(tok);
            tok[n - 2] = tok[n - 2] == 'A' ? 'B' : 'A';
            assert_int_equal(gw_jwt_verify(tok, n, &k, 1, &p, NOW, &c), GW_EJWTSIG);
            gw_jwt_key_free(&k);
            free(tok);
        }
    }
}

struct shared {
    const struct gw_jwt_key *k;
    const char *tok;
    int bad;
};

static void *verify_many(void *arg)
{
    struct shared *s = arg;
    struct gw_jwt_policy p = {.require_exp = true};
    for (int i = 0; i < 2000; i++) {
        struct gw_jwt_claims c;
        if (gw_jwt_verify(s->tok, strlen(s->tok), s->k, 1, &p, NOW, &c) != 0)
            __atomic_add_fetch(&s->bad, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_threads_share_one_key(void **state)
{
    unsigned char secret[48];
    char *tok = NULL;
    struct gw_jwt_key k;
    pthread_t th[4];
    (void)state;
    fill(secret, sizeof secret);
    assert_int_equal(gw_jwt_sign_hmac(GW_JWT_HS256, secret, sizeof secret, NULL, PAYLOAD, &tok), 0);
    assert_int_equal(gw_jwt_key_hmac(&k, NULL, GW_JWT_HS256, secret, sizeof secret), 0);
    struct shared s = {&k, tok, 0};
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, verify_many, &s), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(s.bad, 0);
    gw_jwt_key_free(&k);
    free(tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_size_boundaries),
        cmocka_unit_test(test_threads_share_one_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
