/* Tokens: the access JWT (HS256, EdDSA or ES256, signed with policy/jwt_signer.c) and the opaque
 * refresh token (32 random bytes, base64url; only its SHA-256 is stored). */
#include "identity/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/base64url.h"
#include "core/error.h"
#include "policy/jwt_signer.h"

void gw__idp_random_hex(char *out, size_t n)
{
    unsigned char b[32];
    if (n > sizeof b)
        n = sizeof b;
    randombytes_buf(b, n);
    sodium_bin2hex(out, 2 * n + 1, b, n);
}

int gw__idp_access_token(const struct gw_identity_conf *ic, const struct gw_jwt_signer *key,
                         const struct gw__idp_user *u, const char *sid, int64_t now, char **out,
                         char *jti)
{
    int rc = GW_ENOMEM;
    char sub[24];
    char *payload = NULL;
    json_t *roles = gw__idp_roles_array(u->roles);
    json_t *perms = gw__idp_roles_array(u->perms);
    json_t *claims = NULL;
    gw__idp_random_hex(jti, 16);
    snprintf(sub, sizeof sub, "%lld", (long long)u->id);
    if (roles == NULL || perms == NULL)
        goto fail;
    int64_t exp = now + (int64_t)(ic->access_ttl_ms / 1000);
    claims = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:O, s:O}", "iss", ic->issuer,
                       "aud", ic->audience, "sub", sub, "name", u->username, "iat", (json_int_t)now,
                       "nbf", (json_int_t)now, "exp", (json_int_t)exp, "jti", jti, "sid", sid,
                       "roles", roles, "permissions", perms);
    if (claims == NULL)
        goto fail;
    payload = json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (payload == NULL)
        goto fail;
    rc = gw_jwt_signer_sign(key, payload, out);
fail:
    free(payload);
    json_decref(claims);
    json_decref(roles);
    json_decref(perms);
    return rc;
}

void gw__idp_refresh_hash(const char *tok, size_t len, char *hash)
{
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, (const unsigned char *)tok, len);
    sodium_bin2hex(hash, 65, d, sizeof d);
}

void gw__idp_refresh_new(char *tok, char *hash)
{
    unsigned char b[32];
    size_t n = 0;
    randombytes_buf(b, sizeof b);
    (void)gw_base64url_encode(b, sizeof b, tok, 44, &n);
    tok[n] = '\0';
    gw__idp_refresh_hash(tok, n, hash);
}
