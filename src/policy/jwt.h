/*
 * JWT (RFC 7519) verification of JWS compact tokens (RFC 7515) with OpenSSL's EVP.
 *
 * Each key is bound to exactly one algorithm when it is loaded; a token is only ever checked
 * with the algorithm of the key that checks it, never with the one its header asks for. That
 * one rule defeats the HS/RS confusion attack (an RSA public key replayed as an HMAC secret)
 * and "alg":"none". Keys are immutable after loading and may be shared by worker threads.
 * See docs/jwt.md.
 */
#ifndef GW_POLICY_JWT_H
#define GW_POLICY_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "policy/claims.h"

/* Longest token accepted, in bytes, before any decoding. */
#define GW_JWT_MAX_TOKEN 16384

/* Capacities of the fixed claim buffers (NUL included). Longer values are refused. */
#define GW_JWT_KID_MAX 64
#define GW_JWT_SUB_MAX 128
#define GW_JWT_ISS_MAX 256
#define GW_JWT_LIST_MAX 512

enum gw_jwt_alg {
    GW_JWT_HS256,
    GW_JWT_HS384,
    GW_JWT_HS512,
    GW_JWT_RS256,
    GW_JWT_RS384,
    GW_JWT_RS512,
    GW_JWT_ES256,
    GW_JWT_ES384,
    GW_JWT_EDDSA,
    GW_JWT__ALG_COUNT
};

struct gw_jwt_key {
    /** key id matched against the header's "kid"; "" = no kid */
    char kid[GW_JWT_KID_MAX];
    /** the ONLY algorithm this key verifies */
    enum gw_jwt_alg alg;
    /** HS*: owned copy of the secret */
    unsigned char *secret;
    size_t secret_len;
    /** RS*, ES*, EdDSA: owned public key */
    EVP_PKEY *pkey;
    /** HS*: digest states with (secret ^ ipad) and (secret ^ opad) absorbed (RFC 2104), so a
     * verification is two state copies and two short hashes; read-only once loaded */
    EVP_MD_CTX *hmac_inner, *hmac_outer;
    /** a key of gantry's built-in identity (config_identity.c): a token it verifies must also
     * carry this "iss" and this "aud", whatever the policy asks (RFC 8725 3.8, 3.9), so that a
     * token made with the key for another issuer or audience is refused; borrowed from the
     * configuration that holds the key; NULL: the policy's checks only */
    const char *bound_iss, *bound_aud;
    /** a key of built-in identity (made by gw_jwt_signer_verify_key): the tokens it verifies
     * get jti_key and sid_key, which its revocations name; other keys' tokens keep 0 */
    bool revocable;
};

struct gw_jwt_claims {
    int64_t exp, nbf, iat;
    bool has_exp, has_nbf, has_iat;
    /** "sub", "" when absent */
    char sub[GW_JWT_SUB_MAX];
    /** "iss", "" when absent */
    char iss[GW_JWT_ISS_MAX];
    /** keys (state/revoked.h gw_revoked_key) of the "jti" and "sid" strings of a token that a
     * revocable key (built-in identity's) verified; 0 when absent, not strings, or another
     * key's token */
    uint64_t jti_key, sid_key;
    /** values of the policy's roles claims, space-separated, each once ("" when absent or not
     * configured) */
    char roles[GW_JWT_LIST_MAX];
    /** values of the policy's permissions claims, the same way */
    char perms[GW_JWT_LIST_MAX];
    /** after GW_EJWTCLAIM: the claim at fault (a literal or one of the policy's names; NULL
     * when not known), and whether it was missing rather than malformed; see gw_jwt_reason */
    const char *bad_claim;
    bool claim_missing;
};

struct gw_jwt_policy {
    /** clock skew tolerated on exp, nbf and iat, in seconds (>= 0) */
    int64_t leeway_s;
    /** required "iss" (exact match), NULL = not checked */
    const char *iss;
    /** required member of "aud" (string or array of strings), NULL = not checked */
    const char *aud;
    /** refuse tokens without "exp" */
    bool require_exp;
    /** claims that must be present and not empty (gw_claim_first_missing); none: no check */
    struct gw_claim_names required;
    /** claims holding roles ("role", "roles", "realm_access.roles", ...), read as their union;
     * none: not read */
    struct gw_claim_names roles;
    /** claims holding permissions ("permissions", "scope", ...), the same way */
    struct gw_claim_names perms;
};

/* Name of an algorithm as in JWA ("HS256", "EdDSA"). */
const char *gw_jwt_alg_name(enum gw_jwt_alg alg);

/*
 * Parses a JWA algorithm name (exact, case-sensitive) into *alg. Returns 0, or GW_EJWTALG for
 * "none" and every name this module does not implement.
 */
int gw_jwt_alg_parse(const char *name, enum gw_jwt_alg *alg);

/*
 * Loads an HMAC key bound to alg (an HS* algorithm). kid may be NULL or "" for no kid, and
 * must be shorter than GW_JWT_KID_MAX. RFC 7518 section 3.2 requires a secret at least as long
 * as the hash output (32/48/64 bytes); shorter ones are refused. The secret is copied.
 * Returns 0, GW_EINVAL or GW_ENOMEM; on error *k needs no gw_jwt_key_free.
 */
int gw_jwt_key_hmac(struct gw_jwt_key *k, const char *kid, enum gw_jwt_alg alg, const void *secret,
                    size_t len);

/*
 * Loads a public key from PEM ("BEGIN PUBLIC KEY", SubjectPublicKeyInfo) bound to alg. The key
 * type must match alg: RSA of at least 2048 bits for RS* (RFC 7518 section 3.3), EC P-256 for
 * ES256, EC P-384 for ES384, Ed25519 or Ed448 for EdDSA. Returns 0, GW_EINVAL (bad PEM, wrong
 * type, HS* alg, kid too long) or GW_ENOMEM; on error *k needs no gw_jwt_key_free.
 */
int gw_jwt_key_pem(struct gw_jwt_key *k, const char *kid, enum gw_jwt_alg alg, const char *pem,
                   size_t len);

/* Releases what a successful gw_jwt_key_* call acquired and zeroes *k. NULL-safe. */
void gw_jwt_key_free(struct gw_jwt_key *k);

/*
 * Checks a JWS signature sig[0..siglen) over input[0..n) with k, using k's algorithm (ES*
 * signatures in the raw r||s form of RFC 7518 section 3.4). Returns 0 or GW_EJWTSIG.
 */
int gw_jwt_key_verify(const struct gw_jwt_key *k, const void *input, size_t n,
                      const unsigned char *sig, size_t siglen);

/*
 * The MAC of input[0..n) with an HS* key k (gw_jwt_key_hmac: from the pad states absorbed at
 * load, two short hashes) into mac[0..EVP_MAX_MD_SIZE), its length in *maclen. Returns 0,
 * GW_EINVAL (not an HMAC key) or GW_ENOMEM. Thread-safe (k is only read).
 */
int gw_jwt_key_mac(const struct gw_jwt_key *k, const void *input, size_t n, unsigned char *mac,
                   unsigned int *maclen);

/*
 * Verifies token[0..len) (header.payload.signature) against keys[0..nkeys) and the policy at
 * time now_s (Unix seconds).
 *
 * Key choice: a header "kid" selects the key with that kid (none: GW_EJWTKID; keys loaded
 * without a kid are never selected by one); without a kid every key whose alg equals the
 * header's alg is tried. "alg":"none", unknown algorithms and an
 * alg different from the selected key's are refused with GW_EJWTALG, as is a header with
 * "crit" (no extension is understood). Claims are then checked: exp (now < exp + leeway, else
 * GW_EJWTEXPIRED), nbf and iat (not after now + leeway, else GW_EJWTNOTYET), iss and aud when
 * the policy sets them (GW_EJWTISS, GW_EJWTAUD), then the policy's required claims
 * (GW_EJWTCLAIM for the first one missing).
 *
 * Returns 0 and fills *out (may be NULL), or a negative code: GW_EJWTMALFORMED (shape,
 * base64url, JSON incl. duplicate member names, length over GW_JWT_MAX_TOKEN), GW_EJWTALG,
 * GW_EJWTKID, GW_EJWTSIG, GW_EJWTEXPIRED, GW_EJWTNOTYET, GW_EJWTISS, GW_EJWTAUD, GW_EJWTCLAIM
 * (a registered claim of the wrong type, a value too long for *out, exp missing while
 * required, a required claim missing, a roles or permissions claim of another shape) or
 * GW_ENOMEM. On GW_EJWTCLAIM, out->bad_claim and out->claim_missing say which claim and why;
 * the rest of *out is unspecified on error. Thread-safe for shared keys.
 */
int gw_jwt_verify(const char *token, size_t len, const struct gw_jwt_key *keys, size_t nkeys,
                  const struct gw_jwt_policy *p, int64_t now_s, struct gw_jwt_claims *out);

/*
 * The reason for a gw_jwt_verify failure rc, for the client (WWW-Authenticate
 * error_description, the JSON body) and the log: a fixed text, or for GW_EJWTCLAIM with
 * c->bad_claim set, one naming the claim, written into buf (cap bytes). The claim names come
 * from gantry or its configuration (no quotes or backslashes), never from the token.
 */
const char *gw_jwt_reason(int rc, const struct gw_jwt_claims *c, char *buf, size_t cap);

/* True if the space-separated list holds item as a whole word. */
bool gw_jwt_list_has(const char *list, const char *item);

#endif
