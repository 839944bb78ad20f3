/*
 * JWK Set (RFC 7517) documents into JWT verification keys (policy/jwt.h), one algorithm per
 * key, like every other key gantry loads.
 *
 * Which keys are used
 * - kty "RSA" (n, e; at least 2048 bits) verifies RS256, RS384 or RS512. Without an "alg"
 *   member an RSA key is bound to RS256, the algorithm nearly every issuer uses; a key meant
 *   for RS384/RS512 must say so with "alg".
 * - kty "EC": crv "P-256" verifies ES256, "P-384" ES384 (x and y full length, the point on the
 *   curve). kty "OKP": crv "Ed25519" or "Ed448" verifies EdDSA. Their alg follows from crv.
 * - kty "oct" (k) is only taken with an explicit HS256/HS384/HS512 "alg" and a secret at
 *   least as long as the hash (RFC 7518 section 3.2).
 * - An "alg" member must name an implemented algorithm that fits kty and crv.
 *
 * A key that cannot be used is skipped, not fatal, so that one key of an unknown type (or
 * meant for encryption) does not take the issuer's other keys down: "use" other than "sig",
 * "key_ops" without "verify", unknown kty, crv or alg, an alg that does not fit the key, bad
 * base64url, a key that OpenSSL refuses, a kid of GW_JWT_KID_MAX bytes or more, or a kid
 * already taken by an earlier key. Private members ("d", ...) are ignored.
 */
#ifndef GW_POLICY_JWKS_H
#define GW_POLICY_JWKS_H

#include <stddef.h>

#include "policy/jwt.h"

/*
 * Parses the JWK Set json[0..len) into a new array *keys of *nkeys keys (free with
 * gw_jwks_free). Returns 0, GW_EJWKS when the document is not a JSON object with a "keys"
 * array or no usable key remains, or GW_ENOMEM; *keys and *nkeys are only written on success.
 * why[0..why_cap) (may be NULL) receives a NUL-terminated explanation: on failure the reason,
 * on success "" or how many keys were skipped and why the first one was.
 */
int gw_jwks_parse(const char *json, size_t len, struct gw_jwt_key **keys, size_t *nkeys, char *why,
                  size_t why_cap);

/* Frees an array from gw_jwks_parse. NULL-safe. */
void gw_jwks_free(struct gw_jwt_key *keys, size_t nkeys);

#endif
