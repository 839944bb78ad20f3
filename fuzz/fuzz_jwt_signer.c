/*
 * libFuzzer target for the private-key loading of built-in identity's signing keys
 * (policy/jwt_signer.c, gw_jwt_signer_pem: our glue around OpenSSL's PEM parser). The first
 * byte picks the algorithm (EdDSA or ES256); the rest is the PEM text. Must never crash or
 * leak; a key that loads must sign a token that its own verification key accepts, and must
 * yield a JWK Set that gw_jwks_parse reads back into one key of the same kid and algorithm.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/jwks.h"
#include "policy/jwt.h"
#include "policy/jwt_signer.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum gw_jwt_alg alg = (data[0] & 1) ? GW_JWT_ES256 : GW_JWT_EDDSA;
    struct gw_jwt_signer s;
    const char *why = NULL;
    if (gw_jwt_signer_pem(&s, "fz", alg, (const char *)data + 1, size - 1, &why) != 0) {
        CHECK(why != NULL);
        return 0;
    }
    static const char payload[] = "{\"sub\":\"1\",\"exp\":4102444800}";
    static const struct gw_jwt_policy pol = {.require_exp = true};
    char *tok = NULL, *jwks = NULL;
    struct gw_jwt_key k;
    struct gw_jwt_key *keys = NULL;
    size_t nkeys = 0, jlen = 0;
    CHECK(gw_jwt_signer_sign(&s, payload, &tok) == 0);
    CHECK(gw_jwt_signer_verify_key(&s, &k) == 0);
    CHECK(gw_jwt_verify(tok, strlen(tok), &k, 1, &pol, 1700000000, NULL) == 0);
    CHECK(gw_jwks_write(&s, 1, &jwks, &jlen) == 0);
    CHECK(gw_jwks_parse(jwks, jlen, &keys, &nkeys, NULL, 0) == 0 && nkeys == 1);
    CHECK(keys[0].alg == alg && strcmp(keys[0].kid, "fz") == 0);
    CHECK(gw_jwt_verify(tok, strlen(tok), keys, 1, &pol, 1700000000, NULL) == 0);
    gw_jwks_free(keys, nkeys);
    gw_jwt_key_free(&k);
    free(jwks);
    free(tok);
    gw_jwt_signer_free(&s);
    return 0;
}
