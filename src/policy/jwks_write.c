/* The JWK Set (RFC 7517, RFC 8037 for OKP) of signers' public keys (policy/jwt_signer.h). */
#include "policy/jwt_signer.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>

#include "core/base64url.h"
#include "core/error.h"

/* Sets obj[name] to the base64url of b[0..n). */
static int set_b64(json_t *obj, const char *name, const unsigned char *b, size_t n)
{
    char text[GW_BASE64URL_ENCODED_LEN(132) + 1];
    size_t len = 0;
    if (gw_base64url_encode(b, n, text, sizeof text, &len) < 0)
        return GW_EINVAL;
    text[len] = '\0';
    return json_object_set_new(obj, name, json_string(text)) < 0 ? GW_ENOMEM : 0;
}

/* An EC point coordinate, 32 bytes big-endian (P-256). */
static int set_coord(json_t *obj, const char *name, EVP_PKEY *pkey, const char *param)
{
    BIGNUM *bn = NULL;
    unsigned char b[32];
    if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1)
        return GW_EINVAL;
    int ok = BN_bn2binpad(bn, b, sizeof b) == (int)sizeof b;
    BN_free(bn);
    return ok ? set_b64(obj, name, b, sizeof b) : GW_EINVAL;
}

static int jwk(const struct gw_jwt_signer *s, json_t **out)
{
    int rc = GW_ENOMEM;
    json_t *k = json_object();
    *out = NULL;
    if (k == NULL)
        return GW_ENOMEM;
    if (s->alg == GW_JWT_EDDSA) {
        unsigned char raw[57];
        size_t n = sizeof raw;
        bool ed448 = EVP_PKEY_is_a(s->pkey, "ED448");
        if (json_object_set_new(k, "kty", json_string("OKP")) < 0 ||
            json_object_set_new(k, "crv", json_string(ed448 ? "Ed448" : "Ed25519")) < 0)
            goto fail;
        rc = GW_EINVAL;
        if (EVP_PKEY_get_raw_public_key(s->pkey, raw, &n) != 1)
            goto fail;
        rc = set_b64(k, "x", raw, n);
    } else if (s->alg == GW_JWT_ES256) {
        if (json_object_set_new(k, "kty", json_string("EC")) < 0 ||
            json_object_set_new(k, "crv", json_string("P-256")) < 0)
            goto fail;
        rc = set_coord(k, "x", s->pkey, OSSL_PKEY_PARAM_EC_PUB_X);
        if (rc == 0)
            rc = set_coord(k, "y", s->pkey, OSSL_PKEY_PARAM_EC_PUB_Y);
    } else {
        rc = GW_EINVAL;
    }
    if (rc < 0)
        goto fail;
    rc = GW_ENOMEM;
    if (json_object_set_new(k, "kid", json_string(s->kid)) < 0 ||
        json_object_set_new(k, "alg", json_string(gw_jwt_alg_name(s->alg))) < 0 ||
        json_object_set_new(k, "use", json_string("sig")) < 0)
        goto fail;
    *out = k;
    return 0;
fail:
    json_decref(k);
    return rc;
}

int gw_jwks_write(const struct gw_jwt_signer *keys, size_t n, char **out, size_t *len)
{
    int rc = GW_ENOMEM;
    json_t *arr = json_array();
    json_t *doc = json_object();
    *out = NULL;
    *len = 0;
    if (arr == NULL || doc == NULL)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        json_t *k;
        if (keys[i].alg == GW_JWT_HS256)
            continue;
        rc = jwk(&keys[i], &k);
        if (rc < 0)
            goto fail;
        rc = GW_ENOMEM;
        if (json_array_append_new(arr, k) < 0)
            goto fail;
    }
    rc = GW_ENOMEM;
    if (json_object_set(doc, "keys", arr) < 0)
        goto fail;
    *out = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (*out == NULL)
        goto fail;
    *len = strlen(*out);
    rc = 0;
fail:
    json_decref(arr);
    json_decref(doc);
    return rc;
}
