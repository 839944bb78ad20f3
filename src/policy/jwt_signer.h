/*
 * JWT signing keys and key rings: what built-in identity (src/identity/) signs its access tokens
 * with. A signer is an HS256 secret or a private key (EdDSA: Ed25519 or Ed448; ES256: P-256),
 * bound to one algorithm and one kid like a verification key (policy/jwt.h). A key ring holds
 * every configured signer, the one that signs (the active one), their verification keys (the
 * public halves, which gantry's JWT authentication also gets) and the JWK Set (RFC 7517) of the
 * public keys that identity serves. Rings are immutable and reference-counted: a configuration
 * snapshot owns one, and each identity call holds one for its life, so a reload swaps keys
 * without stopping a call that signs with the old ones.
 */
#ifndef GW_POLICY_JWT_SIGNER_H
#define GW_POLICY_JWT_SIGNER_H

#include <stdatomic.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "policy/jwt.h"

struct gw_jwt_signer {
    char kid[GW_JWT_KID_MAX];
    enum gw_jwt_alg alg;   /* GW_JWT_HS256, GW_JWT_ES256 or GW_JWT_EDDSA */
    unsigned char *secret; /* HS256: owned copy */
    size_t secret_len;
    EVP_PKEY *pkey; /* ES256, EdDSA: the private key (owned reference) */
    /* made once when the signer is: every token starts with head[0..head_len), the base64url
     * of the protected header and the '.' after it; HS256 signs with mac's pad states */
    char *head;
    size_t head_len;
    struct gw_jwt_key *mac;
};

/* An HS256 signer (the secret copied; RFC 7518 3.2: at least 32 bytes). kid shorter than
 * GW_JWT_KID_MAX. 0, GW_EINVAL or GW_ENOMEM; on error *s needs no gw_jwt_signer_free. */
int gw_jwt_signer_hmac(struct gw_jwt_signer *s, const char *kid, const void *secret, size_t len);

/*
 * A signer from a PEM private key pem[0..len) ("BEGIN PRIVATE KEY" PKCS#8, or "BEGIN EC PRIVATE
 * KEY"; an encrypted key is refused, never prompted for): alg GW_JWT_EDDSA needs an Ed25519 or
 * Ed448 key, GW_JWT_ES256 a P-256 key. Returns 0, or GW_EINVAL with *why a literal reason, or
 * GW_ENOMEM; on error *s needs no gw_jwt_signer_free.
 */
int gw_jwt_signer_pem(struct gw_jwt_signer *s, const char *kid, enum gw_jwt_alg alg,
                      const char *pem, size_t len, const char **why);

/* Releases what a successful gw_jwt_signer_* call acquired (the secret wiped). NULL-safe. */
void gw_jwt_signer_free(struct gw_jwt_signer *s);

/*
 * Mints a JWS compact token with header {"alg":...,"typ":"JWT","kid":...} over payload_json (a
 * JSON object, encoded as given). ES256 signatures are raw r||s (RFC 7518 3.4). Returns 0 and
 * the NUL-terminated token in *out (free()), or GW_EINVAL / GW_ENOMEM. Thread-safe.
 */
int gw_jwt_signer_sign(const struct gw_jwt_signer *s, const char *payload_json, char **out);

/*
 * The same over payload[0..len), a JSON object the caller built itself (built-in identity's
 * claims), which is not parsed again: the header is the one made with the signer, and HS256
 * hashes from its precomputed states. Returns 0 and *out (free()), or GW_EINVAL / GW_ENOMEM.
 * Thread-safe.
 */
int gw_jwt_signer_sign_object(const struct gw_jwt_signer *s, const char *payload, size_t len,
                              char **out);

/* The verification key of s (same kid and alg; the public half for ES256/EdDSA) into *k,
 * marked revocable (the tokens it verifies carry the jti and sid keys that built-in
 * identity's revocations name). 0, GW_EINVAL or GW_ENOMEM; free with gw_jwt_key_free. */
int gw_jwt_signer_verify_key(const struct gw_jwt_signer *s, struct gw_jwt_key *k);

struct gw_jwt_keyring {
    atomic_uint refs;
    struct gw_jwt_signer *keys; /* every configured signer */
    size_t nkeys;
    size_t active;             /* the index of the one that signs */
    struct gw_jwt_key *verify; /* keys[i]'s verification key at verify[i] */
    char *jwks;                /* {"keys":[...]} of the public keys (HS256 ones left out) */
    size_t jwks_len;
};

/*
 * A ring of keys[0..n) (n >= 1; the array and what it holds are taken over, also on error)
 * that signs with keys[active]. 0 and *out with one reference, or GW_ENOMEM / GW_EINVAL.
 */
int gw_jwt_keyring_new(struct gw_jwt_signer *keys, size_t n, size_t active,
                       struct gw_jwt_keyring **out);

/* Another reference; returns r. NULL-safe. Any thread. */
struct gw_jwt_keyring *gw_jwt_keyring_ref(struct gw_jwt_keyring *r);

/* Drops a reference; the last one frees the ring. NULL-safe. Any thread. */
void gw_jwt_keyring_unref(struct gw_jwt_keyring *r);

/*
 * The JWK Set of keys[0..n)'s public keys (HS256 signers are skipped: a secret is never
 * published), compact JSON, each {"kty","crv","x"[,"y"],"kid","alg","use":"sig"}. 0 and *out
 * (free()) with *len, or GW_ENOMEM / GW_EINVAL.
 */
int gw_jwks_write(const struct gw_jwt_signer *keys, size_t n, char **out, size_t *len);

#endif
