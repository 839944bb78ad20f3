/*
 * libFuzzer target for the JWKS parser (policy/jwks.c) and the token-introspection response
 * parser (policy/introspect.c). The first byte picks the parser; the rest is the document. Must
 * never crash or leak; every key a JWKS yields must be usable (bound to a known algorithm, with a
 * secret or a public key), and introspection claims must be NUL-terminated in their buffers.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy/introspect.h"
#include "policy/jwks.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *doc = (const char *)data + 1;
    size_t len = size - 1;
    if (data[0] & 1) {
        static char *const roles_names[] = {"roles", "realm_access.roles"};
        static char *const perms_names[] = {"scope", "permissions"};
        static const struct gw_claim_names roles = {roles_names, 2}, perms = {perms_names, 2};
        struct gw_jwt_claims cl;
        if (gw_introspect_parse(doc, len, &roles, &perms, &cl) == 0) {
            CHECK(memchr(cl.sub, '\0', sizeof cl.sub) != NULL);
            CHECK(memchr(cl.roles, '\0', sizeof cl.roles) != NULL);
            CHECK(memchr(cl.perms, '\0', sizeof cl.perms) != NULL);
        }
        return 0;
    }
    struct gw_jwt_key *keys = NULL;
    size_t n = 0;
    char why[256];
    if (gw_jwks_parse(doc, len, &keys, &n, why, sizeof why) == 0) {
        CHECK(n > 0);
        for (size_t i = 0; i < n; i++) {
            CHECK(keys[i].alg < GW_JWT__ALG_COUNT);
            CHECK(keys[i].pkey != NULL || keys[i].secret != NULL);
            CHECK(memchr(keys[i].kid, '\0', sizeof keys[i].kid) != NULL);
        }
        gw_jwks_free(keys, n);
    }
    return 0;
}
