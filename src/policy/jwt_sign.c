/* HMAC JWT minting: header, encoding, signature. Verification lives in jwt.c / jwt_keys.c. */
#include "policy/jwt_sign.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/base64url.h"
#include "core/error.h"

static const EVP_MD *hmac_md(enum gw_jwt_alg alg)
{
    switch (alg) {
    case GW_JWT_HS256:
        return EVP_sha256();
    case GW_JWT_HS384:
        return EVP_sha384();
    case GW_JWT_HS512:
        return EVP_sha512();
    default:
        return NULL;
    }
}

int gw_jwt_sign_hmac_input(enum gw_jwt_alg alg, const void *secret, size_t secret_len,
                           const void *input, size_t n, char *sig, size_t cap)
{
    struct gw_jwt_key k;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    const EVP_MD *md = hmac_md(alg);
    int rc;

    if (md == NULL)
        return GW_EINVAL;
    /* gw_jwt_key_hmac is the one place that knows the secret-length rule: sign only with a
     * secret the verifier would accept. */
    rc = gw_jwt_key_hmac(&k, NULL, alg, secret, secret_len);
    if (rc < 0)
        return rc;
    rc = GW_ENOMEM;
    if (k.secret_len > INT32_MAX)
        goto fail;
    if (HMAC(md, k.secret, (int)k.secret_len, input, n, mac, &maclen) == NULL)
        goto fail;
    rc = gw_base64url_encode(mac, maclen, sig, cap, NULL);
fail:
    gw_jwt_key_free(&k);
    return rc;
}

/* The compact JSON of the protected header, in a fresh string. */
static char *header_json(enum gw_jwt_alg alg, const char *kid)
{
    json_t *h = json_object();
    char *s = NULL;

    if (h == NULL)
        return NULL;
    if (json_object_set_new(h, "alg", json_string(gw_jwt_alg_name(alg))) < 0 ||
        json_object_set_new(h, "typ", json_string("JWT")) < 0)
        goto fail;
    if (kid != NULL && kid[0] != '\0' && json_object_set_new(h, "kid", json_string(kid)) < 0)
        goto fail;
    s = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
fail:
    json_decref(h);
    return s;
}

static int payload_ok(const char *payload_json)
{
    json_error_t err;
    json_t *p = json_loads(payload_json, JSON_REJECT_DUPLICATES, &err);
    int ok = json_is_object(p);
    json_decref(p);
    return ok;
}

int gw_jwt_sign_hmac(enum gw_jwt_alg alg, const void *secret, size_t secret_len, const char *kid,
                     const char *payload_json, char **out)
{
    char *hdr = NULL, *tok = NULL;
    size_t hlen, plen, cap, pos, n;
    int rc = GW_EINVAL;

    *out = NULL;
    if (hmac_md(alg) == NULL || payload_json == NULL || !payload_ok(payload_json))
        goto fail;
    if (kid != NULL && strlen(kid) >= GW_JWT_KID_MAX)
        goto fail;
    rc = GW_ENOMEM;
    hdr = header_json(alg, kid);
    if (hdr == NULL)
        goto fail;
    hlen = strlen(hdr);
    plen = strlen(payload_json);
    /* header '.' payload '.' signature (at most 86 characters for HS512) NUL */
    cap = GW_BASE64URL_ENCODED_LEN(hlen) + 1 + GW_BASE64URL_ENCODED_LEN(plen) + 1 + 87;
    tok = malloc(cap);
    if (tok == NULL)
        goto fail;
    rc = gw_base64url_encode(hdr, hlen, tok, cap, &n);
    if (rc < 0)
        goto fail;
    pos = n;
    tok[pos++] = '.';
    rc = gw_base64url_encode(payload_json, plen, tok + pos, cap - pos, &n);
    if (rc < 0)
        goto fail;
    pos += n;
    /* The signature covers the ASCII of the first two segments (RFC 7515 section 5.1). */
    tok[pos] = '.';
    rc = gw_jwt_sign_hmac_input(alg, secret, secret_len, tok, pos, tok + pos + 1, cap - pos - 1);
    if (rc < 0)
        goto fail;
    free(hdr);
    *out = tok;
    return 0;
fail:
    free(hdr);
    free(tok);
    return rc;
}
