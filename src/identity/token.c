/* Tokens: the access JWT (HS256, EdDSA or ES256, signed with policy/jwt_signer.c) and the opaque
 * refresh token (32 random bytes, base64url; only its SHA-256 is stored). */
#include "identity/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64url.h"
#include "core/buf.h"
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

/* ,"name":[...] of a space-separated list, each non-empty item a JSON string. */
static int append_list(struct gw_buf *b, const char *name, const char *list)
{
    int rc = gw_buf_appendf(b, ",\"%s\":[", name);
    bool first = true;
    for (const char *p = list; rc == 0 && *p;) {
        size_t n = strcspn(p, " ");
        if (n) {
            rc |= gw_buf_append(b, first ? "\"" : ",\"", first ? 1 : 2);
            rc |= gw_buf_append_json_escaped(b, p, n);
            rc |= gw_buf_append(b, "\"", 1);
            first = false;
        }
        p += n + (p[n] == ' ');
    }
    return rc | gw_buf_append(b, "]", 1);
}

/* ,"name":"value" with value escaped. */
static int append_str(struct gw_buf *b, const char *name, const char *value)
{
    int rc = gw_buf_appendf(b, ",\"%s\":\"", name);
    rc |= gw_buf_append_json_escaped(b, value, strlen(value));
    return rc | gw_buf_append(b, "\"", 1);
}

int gw__idp_access_token(const struct gw_identity_conf *ic, const struct gw_jwt_signer *key,
                         const struct gw__idp_user *u, const char *sid, int64_t now, char **out,
                         char *jti)
{
    /* The claims written directly (the strings escaped as RFC 8259 says), in the order that
     * jansson's JSON_PRESERVE_ORDER gave before: this runs on every login and refresh. */
    struct gw_buf b;
    gw_buf_init(&b, 64 * 1024);
    gw__idp_random_hex(jti, 16);
    int64_t exp = now + (int64_t)(ic->access_ttl_ms / 1000);
    int rc = gw_buf_reserve(&b, 512);
    rc |= gw_buf_append(&b, "{\"iss\":\"", 8);
    rc |= gw_buf_append_json_escaped(&b, ic->issuer, strlen(ic->issuer));
    rc |= gw_buf_append(&b, "\"", 1);
    rc |= append_str(&b, "aud", ic->audience);
    rc |= gw_buf_appendf(&b, ",\"sub\":\"%lld\"", (long long)u->id);
    rc |= append_str(&b, "name", u->username);
    rc |= gw_buf_appendf(&b, ",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld", (long long)now,
                         (long long)now, (long long)exp);
    rc |= append_str(&b, "jti", jti);
    rc |= append_str(&b, "sid", sid);
    rc |= append_list(&b, "roles", u->roles);
    rc |= append_list(&b, "permissions", u->perms);
    rc |= gw_buf_append(&b, "}", 1);
    rc = rc ? GW_ENOMEM : gw_jwt_signer_sign_object(key, b.data, b.len, out);
    gw_buf_free(&b);
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
