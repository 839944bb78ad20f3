/*
 * libFuzzer target for gw_jwt_verify against a fixed key set (HS256 "hs", ES256 "ec", RS256
 * and EdDSA without kid). The first byte picks the mode: even, the rest is a token as a client
 * would send it; odd, the rest is a payload the target signs with the HS256 key first, so the
 * claim checks behind the signature are reached too. Its second bit picks the policy: roles
 * and permissions each from two claims (one a dotted path, policy/claims.h), and with bit 2
 * set also required claims (a plain one and a dotted path). Must never crash or leak; on
 * success the claim strings must be NUL-terminated within their buffers, and a raw token can
 * only verify if its header names HS256 with the right MAC (the fuzzer cannot forge the
 * others); on GW_EJWTCLAIM the reason must name a claim of the policy or a registered one.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "core/base64url.h"
#include "core/error.h"
#include "policy/jwt.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static const unsigned char SECRET[32] = "fuzz-secret-0123456789abcdefghij";
static struct gw_jwt_key keys[4];
static int nkeys;

static void load_generated(const char *kid, enum gw_jwt_alg alg, EVP_PKEY *pkey)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n;

    CHECK(pkey && bio && PEM_write_bio_PUBKEY(bio, pkey) == 1);
    n = BIO_get_mem_data(bio, &data);
    CHECK(gw_jwt_key_pem(&keys[nkeys++], kid, alg, data, (size_t)n) == 0);
    BIO_free(bio);
    EVP_PKEY_free(pkey);
}

static void init_keys(void)
{
    CHECK(gw_jwt_key_hmac(&keys[nkeys++], "hs", GW_JWT_HS256, SECRET, sizeof(SECRET)) == 0);
    load_generated("ec", GW_JWT_ES256, EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"));
    load_generated(NULL, GW_JWT_RS256, EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048));
    load_generated(NULL, GW_JWT_EDDSA, EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"));
}

static void check_claims(const struct gw_jwt_claims *c)
{
    CHECK(memchr(c->sub, '\0', sizeof(c->sub)));
    CHECK(memchr(c->iss, '\0', sizeof(c->iss)));
    CHECK(memchr(c->roles, '\0', sizeof(c->roles)));
    CHECK(memchr(c->perms, '\0', sizeof(c->perms)));
}

/* Builds HS256-signed b64(header).b64(payload).b64(mac) in a fresh buffer. */
static char *sign_payload(const uint8_t *p, size_t n, size_t *out_len)
{
    static const char hdr[] =
        "eyJhbGciOiJIUzI1NiIsImtpZCI6ImhzIn0"; /* {"alg":"HS256","kid":"hs"} */
    size_t cap = sizeof(hdr) + GW_BASE64URL_ENCODED_LEN(n) + 2 + 64;
    char *tok = malloc(cap);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    size_t len = sizeof(hdr) - 1, el = 0;

    CHECK(tok);
    memcpy(tok, hdr, len);
    tok[len++] = '.';
    CHECK(gw_base64url_encode(p, n, tok + len, cap - len, &el) == 0);
    len += el;
    CHECK(HMAC(EVP_sha256(), SECRET, sizeof(SECRET), (const unsigned char *)tok, len, mac, &ml));
    tok[len++] = '.';
    CHECK(gw_base64url_encode(mac, ml, tok + len, cap - len, &el) == 0);
    *out_len = len + el;
    return tok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *const roles[] = {"roles", "realm_access.roles"};
    static char *const perms[] = {"scope", "permissions"};
    static char *const required[] = {"sub", "resource_access.gantry.roles"};
    static const struct gw_jwt_policy policies[2] = {
        {
            .leeway_s = 30,
            .iss = "https://idp",
            .aud = "gantry",
            .roles = {roles, 2},
            .perms = {perms, 2},
        },
        {
            .leeway_s = 30,
            .iss = "https://idp",
            .aud = "gantry",
            .required = {required, 2},
            .roles = {roles, 2},
            .perms = {perms, 2},
        },
    };
    const struct gw_jwt_policy *policy;
    struct gw_jwt_claims c;
    char why[160];
    int rc;

    if (nkeys == 0)
        init_keys();
    if (size == 0)
        return 0;
    policy = &policies[(data[0] >> 1) & 1];
    if (data[0] & 1) {
        size_t len;
        char *tok = sign_payload(data + 1, size - 1, &len);
        rc = gw_jwt_verify(tok, len, keys, (size_t)nkeys, policy, 1700000000, &c);
        free(tok);
    } else {
        /* An unterminated copy so ASan sees any read past the end. */
        char *tok = malloc(size - 1 ? size - 1 : 1);
        CHECK(tok);
        memcpy(tok, data + 1, size - 1);
        rc = gw_jwt_verify(tok, size - 1, keys, (size_t)nkeys, policy, 1700000000, &c);
        free(tok);
    }
    CHECK(rc <= 0);
    if (rc == 0)
        check_claims(&c);
    if (rc == GW_EJWTCLAIM) {
        CHECK(c.bad_claim != NULL);
        CHECK(strchr(c.bad_claim, '"') == NULL && strchr(c.bad_claim, '\\') == NULL);
        CHECK(strlen(gw_jwt_reason(rc, &c, why, sizeof why)) < sizeof why);
    }
    return 0;
}
