/*
 * JWK Set parsing: see jwks.h for which keys are taken. Public keys are built with OpenSSL 3's
 * EVP_PKEY_fromdata and checked with EVP_PKEY_public_check, then written into struct
 * gw_jwt_key the way gw_jwt_key_pem fills it; oct keys go through gw_jwt_key_hmac.
 */
#include "policy/jwks.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "core/base64url.h"
#include "core/error.h"

#define GW_JWKS_RSA_MIN_BITS 2048 /* RFC 7518 section 3.3, as gw_jwt_key_pem */

/* load_jwk's outcome besides 0 (loaded) and a negative code (fatal). */
#define SKIP 1

struct curve {
    const char *crv;  /* JWK name (RFC 7518 section 6.2.1.1, RFC 8037 section 2) */
    const char *ossl; /* OpenSSL group or key type name */
    size_t size;      /* bytes of x (and y) */
    enum gw_jwt_alg alg;
};

static const struct curve EC_CURVES[] = {
    {"P-256", "prime256v1", 32, GW_JWT_ES256},
    {"P-384", "secp384r1", 48, GW_JWT_ES384},
};

static const struct curve OKP_CURVES[] = {
    {"Ed25519", "ED25519", 32, GW_JWT_EDDSA},
    {"Ed448", "ED448", 57, GW_JWT_EDDSA},
};

static const struct curve *find_curve(const struct curve *tab, size_t n, const char *crv)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(tab[i].crv, crv) == 0)
            return &tab[i];
    }
    return NULL;
}

/* Decodes the base64url string member `name` into a fresh buffer. SKIP when absent or bad. */
static int b64_member(json_t *jwk, const char *name, unsigned char **out, size_t *out_len,
                      char *reason, size_t cap)
{
    json_t *j = json_object_get(jwk, name);
    size_t n, bcap;
    unsigned char *buf;

    if (!json_is_string(j)) {
        snprintf(reason, cap, "\"%s\" missing or not a string", name);
        return SKIP;
    }
    n = json_string_length(j);
    bcap = GW_BASE64URL_DECODED_MAX(n);
    buf = malloc(bcap ? bcap : 1);
    if (buf == NULL)
        return GW_ENOMEM;
    if (gw_base64url_decode(json_string_value(j), n, buf, bcap, out_len) < 0 || *out_len == 0) {
        free(buf);
        snprintf(reason, cap, "\"%s\" is not base64url", name);
        return SKIP;
    }
    *out = buf;
    return 0;
}

/* A public key of `type` from params, checked by OpenSSL (RSA: SP 800-56B public key checks,
 * EC: the point is on the curve and in the group), or NULL. */
static EVP_PKEY *build_pkey(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = NULL, *check = NULL;
    EVP_PKEY *pkey = NULL;

    if (params == NULL)
        goto fail;
    ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        goto fail;
    check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (check == NULL || EVP_PKEY_public_check(check) != 1)
        goto fail;
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
fail:
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    EVP_PKEY_free(pkey);
    return NULL;
}

static int load_rsa(json_t *jwk, bool has_alg, enum gw_jwt_alg alg, EVP_PKEY **out,
                    enum gw_jwt_alg *out_alg, char *reason, size_t cap)
{
    unsigned char *n = NULL, *e = NULL;
    size_t nl = 0, el = 0;
    BIGNUM *bn = NULL, *be = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *pkey = NULL;
    int rc;

    if (has_alg && alg != GW_JWT_RS256 && alg != GW_JWT_RS384 && alg != GW_JWT_RS512) {
        snprintf(reason, cap, "alg %s does not fit kty RSA", gw_jwt_alg_name(alg));
        return SKIP;
    }
    rc = b64_member(jwk, "n", &n, &nl, reason, cap);
    if (rc == 0)
        rc = b64_member(jwk, "e", &e, &el, reason, cap);
    if (rc != 0)
        goto fail;
    rc = SKIP;
    snprintf(reason, cap, "OpenSSL refused the RSA key");
    if (nl > 8192 || el > 64) /* far beyond any real key; keeps BN sizes sane */
        goto fail;
    bn = BN_bin2bn(n, (int)nl, NULL);
    be = BN_bin2bn(e, (int)el, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (bn == NULL || be == NULL || bld == NULL)
        goto fail;
    if (BN_num_bits(bn) < GW_JWKS_RSA_MIN_BITS) {
        snprintf(reason, cap, "RSA key of %d bits (at least %d required)", BN_num_bits(bn),
                 GW_JWKS_RSA_MIN_BITS);
        goto fail;
    }
    if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) != 1)
        goto fail;
    pkey = build_pkey("RSA", bld);
    if (pkey == NULL)
        goto fail;
    *out = pkey;
    *out_alg = has_alg ? alg : GW_JWT_RS256;
    rc = 0;
fail:
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    free(n);
    free(e);
    return rc;
}

/* EC and OKP keys: the curve decides the algorithm; "alg", when present, must agree. */
static int load_curve(json_t *jwk, bool ec, bool has_alg, enum gw_jwt_alg alg, EVP_PKEY **out,
                      enum gw_jwt_alg *out_alg, char *reason, size_t cap)
{
    json_t *jcrv = json_object_get(jwk, "crv");
    const struct curve *c;
    unsigned char *x = NULL, *y = NULL, *pt = NULL;
    size_t xl = 0, yl = 0;
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *pkey = NULL;
    int rc;

    if (!json_is_string(jcrv)) {
        snprintf(reason, cap, "\"crv\" missing or not a string");
        return SKIP;
    }
    c = ec ? find_curve(EC_CURVES, sizeof(EC_CURVES) / sizeof(EC_CURVES[0]),
                        json_string_value(jcrv))
           : find_curve(OKP_CURVES, sizeof(OKP_CURVES) / sizeof(OKP_CURVES[0]),
                        json_string_value(jcrv));
    if (c == NULL) {
        snprintf(reason, cap, "unsupported crv \"%.32s\"", json_string_value(jcrv));
        return SKIP;
    }
    if (has_alg && alg != c->alg) {
        snprintf(reason, cap, "alg %s does not fit crv %s", gw_jwt_alg_name(alg), c->crv);
        return SKIP;
    }
    rc = b64_member(jwk, "x", &x, &xl, reason, cap);
    if (rc == 0 && ec)
        rc = b64_member(jwk, "y", &y, &yl, reason, cap);
    if (rc != 0)
        goto fail;
    rc = SKIP;
    /* RFC 7518 section 6.2.1.2: x and y MUST be the full coordinate size. */
    if (xl != c->size || (ec && yl != c->size)) {
        snprintf(reason, cap, "coordinates of the wrong length for %s", c->crv);
        goto fail;
    }
    snprintf(reason, cap, "OpenSSL refused the %s key (point not on the curve?)", c->crv);
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL)
        goto fail;
    if (ec) {
        /* SEC 1 uncompressed point: 0x04 || x || y. */
        pt = malloc(1 + 2 * c->size);
        if (pt == NULL) {
            rc = GW_ENOMEM;
            goto fail;
        }
        pt[0] = 0x04;
        memcpy(pt + 1, x, c->size);
        memcpy(pt + 1 + c->size, y, c->size);
        if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, c->ossl, 0) != 1 ||
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * c->size) !=
                1)
            goto fail;
        pkey = build_pkey("EC", bld);
    } else {
        if (OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, x, xl) != 1)
            goto fail;
        pkey = build_pkey(c->ossl, bld);
    }
    if (pkey == NULL)
        goto fail;
    *out = pkey;
    *out_alg = c->alg;
    rc = 0;
fail:
    OSSL_PARAM_BLD_free(bld);
    free(pt);
    free(x);
    free(y);
    return rc;
}

static int load_oct(json_t *jwk, bool has_alg, enum gw_jwt_alg alg, const char *kid,
                    struct gw_jwt_key *k, char *reason, size_t cap)
{
    unsigned char *secret = NULL;
    size_t len = 0;
    int rc;

    /* A shared secret's algorithm is never guessed: the HS/RS confusion starts that way. */
    if (!has_alg || (alg != GW_JWT_HS256 && alg != GW_JWT_HS384 && alg != GW_JWT_HS512)) {
        snprintf(reason, cap, "kty oct needs an explicit HS256, HS384 or HS512 alg");
        return SKIP;
    }
    rc = b64_member(jwk, "k", &secret, &len, reason, cap);
    if (rc != 0)
        return rc;
    rc = gw_jwt_key_hmac(k, kid, alg, secret, len);
    if (rc == GW_EINVAL) {
        snprintf(reason, cap, "secret of %zu bytes too short for %s", len, gw_jwt_alg_name(alg));
        rc = SKIP;
    }
    OPENSSL_cleanse(secret, len);
    free(secret);
    return rc;
}

/* Whether "use" and "key_ops" (RFC 7517 sections 4.2, 4.3) allow verifying signatures. */
static bool usable_for_verify(json_t *jwk, char *reason, size_t cap)
{
    json_t *use = json_object_get(jwk, "use");
    json_t *ops = json_object_get(jwk, "key_ops");
    size_t i;
    json_t *v;

    if (use != NULL && (!json_is_string(use) || strcmp(json_string_value(use), "sig") != 0)) {
        snprintf(reason, cap, "\"use\" is not \"sig\"");
        return false;
    }
    if (ops == NULL)
        return true;
    if (json_is_array(ops)) {
        json_array_foreach(ops, i, v)
        {
            if (json_is_string(v) && strcmp(json_string_value(v), "verify") == 0)
                return true;
        }
    }
    snprintf(reason, cap, "\"key_ops\" without \"verify\"");
    return false;
}

/* Loads one JWK into *k. 0, SKIP (reason says why) or GW_ENOMEM. */
static int load_jwk(json_t *jwk, const struct gw_jwt_key *loaded, size_t nloaded,
                    struct gw_jwt_key *k, char *reason, size_t cap)
{
    json_t *jkty, *jkid, *jalg;
    const char *kty, *kid = "";
    enum gw_jwt_alg alg = GW_JWT_RS256, key_alg = GW_JWT_RS256;
    bool has_alg = false;
    EVP_PKEY *pkey = NULL;
    int rc;

    if (!json_is_object(jwk)) {
        snprintf(reason, cap, "not a JSON object");
        return SKIP;
    }
    if (!usable_for_verify(jwk, reason, cap))
        return SKIP;
    jkid = json_object_get(jwk, "kid");
    if (jkid != NULL) {
        if (!json_is_string(jkid) || json_string_length(jkid) >= GW_JWT_KID_MAX) {
            snprintf(reason, cap, "\"kid\" not a string of less than %d bytes", GW_JWT_KID_MAX);
            return SKIP;
        }
        kid = json_string_value(jkid);
    }
    /* Key selection by kid takes the first match; a second key could never be chosen. */
    for (size_t i = 0; kid[0] != '\0' && i < nloaded; i++) {
        if (strcmp(loaded[i].kid, kid) == 0) {
            snprintf(reason, cap, "duplicate kid");
            return SKIP;
        }
    }
    jkty = json_object_get(jwk, "kty");
    if (!json_is_string(jkty)) {
        snprintf(reason, cap, "\"kty\" missing or not a string");
        return SKIP;
    }
    kty = json_string_value(jkty);
    jalg = json_object_get(jwk, "alg");
    if (jalg != NULL) {
        if (!json_is_string(jalg) || gw_jwt_alg_parse(json_string_value(jalg), &alg) < 0) {
            snprintf(reason, cap, "unsupported alg \"%.32s\"",
                     json_is_string(jalg) ? json_string_value(jalg) : "?");
            return SKIP;
        }
        has_alg = true;
    }
    if (strcmp(kty, "oct") == 0)
        return load_oct(jwk, has_alg, alg, kid, k, reason, cap);
    if (strcmp(kty, "RSA") == 0) {
        rc = load_rsa(jwk, has_alg, alg, &pkey, &key_alg, reason, cap);
    } else if (strcmp(kty, "EC") == 0 || strcmp(kty, "OKP") == 0) {
        rc = load_curve(jwk, kty[0] == 'E', has_alg, alg, &pkey, &key_alg, reason, cap);
    } else {
        snprintf(reason, cap, "unsupported kty \"%.16s\"", kty);
        return SKIP;
    }
    if (rc != 0)
        return rc;
    memset(k, 0, sizeof(*k));
    memcpy(k->kid, kid, strlen(kid) + 1);
    k->alg = key_alg;
    k->pkey = pkey;
    return 0;
}

static void set_why(char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_why(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;
    if (why == NULL || cap == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
}

int gw_jwks_parse(const char *json, size_t len, struct gw_jwt_key **keys, size_t *nkeys, char *why,
                  size_t why_cap)
{
    json_error_t jerr;
    json_t *doc = NULL, *arr, *v;
    struct gw_jwt_key *out = NULL;
    size_t n = 0, skipped = 0, total, i;
    char first[200] = "";
    int rc = GW_EJWKS;

    set_why(why, why_cap, "%s", "");
    doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        set_why(why, why_cap, "not JSON: %s (line %d)", jerr.text, jerr.line);
        goto fail;
    }
    arr = json_object_get(doc, "keys");
    if (!json_is_object(doc) || !json_is_array(arr)) {
        set_why(why, why_cap, "not a JSON object with a \"keys\" array");
        goto fail;
    }
    total = json_array_size(arr);
    if (total == 0) {
        set_why(why, why_cap, "\"keys\" is empty");
        goto fail;
    }
    out = calloc(total, sizeof(*out));
    if (out == NULL) {
        rc = GW_ENOMEM;
        goto fail;
    }
    json_array_foreach(arr, i, v)
    {
        char reason[128];
        int r = load_jwk(v, out, n, &out[n], reason, sizeof(reason));
        /* A refused key may leave entries on this thread's OpenSSL error queue. */
        ERR_clear_error();
        if (r < 0) {
            rc = r;
            goto fail;
        }
        if (r == SKIP) {
            if (skipped++ == 0)
                snprintf(first, sizeof(first), "keys[%zu]: %s", i, reason);
            continue;
        }
        n++;
    }
    if (n == 0) {
        set_why(why, why_cap, "no usable key (%zu skipped; first %s)", skipped, first);
        goto fail;
    }
    if (skipped > 0)
        set_why(why, why_cap, "%zu key%s skipped; first %s", skipped, skipped == 1 ? "" : "s",
                first);
    json_decref(doc);
    *keys = out;
    *nkeys = n;
    return 0;
fail:
    if (rc == GW_ENOMEM)
        set_why(why, why_cap, "out of memory");
    gw_jwks_free(out, n);
    json_decref(doc);
    return rc;
}

void gw_jwks_free(struct gw_jwt_key *keys, size_t nkeys)
{
    if (keys == NULL)
        return;
    for (size_t i = 0; i < nkeys; i++)
        gw_jwt_key_free(&keys[i]);
    free(keys);
}
