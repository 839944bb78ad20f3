/*
 * JWT minting with HMAC (HS256/384/512), for `gantry token` and for tests: the counterpart of
 * gw_jwt_verify for shared secrets. Not used by the gateway's request path.
 */
#ifndef GW_POLICY_JWT_SIGN_H
#define GW_POLICY_JWT_SIGN_H

#include <stddef.h>

#include "policy/jwt.h"

/*
 * Mints a JWS compact token: base64url(header).base64url(payload).base64url(HMAC) with the
 * header {"alg":"HS256","typ":"JWT"} (the alg's name; "kid" added after "typ" when kid is
 * neither NULL nor ""). payload_json must be a JSON object without duplicate member names; its
 * text is encoded as given. The secret follows gw_jwt_key_hmac's rule (RFC 7518 section 3.2: at
 * least 32/48/64 bytes for HS256/384/512), and kid must be shorter than GW_JWT_KID_MAX.
 * Returns 0 and a NUL-terminated token in *out (release with free()), or GW_EINVAL (not an HS*
 * alg, short secret, long kid, payload not an object) or GW_ENOMEM.
 */
int gw_jwt_sign_hmac(enum gw_jwt_alg alg, const void *secret, size_t secret_len, const char *kid,
                     const char *payload_json, char **out);

/*
 * Computes the JWS signature of a signing input (the ASCII "header.payload") with an HS* alg
 * and writes it base64url-encoded and NUL-terminated into sig[0..cap) (cap 87 suffices for
 * every HS* alg). Same secret rule as gw_jwt_sign_hmac. Returns 0, GW_EINVAL or GW_ENOMEM (cap
 * too small, or OpenSSL failed).
 */
int gw_jwt_sign_hmac_input(enum gw_jwt_alg alg, const void *secret, size_t secret_len,
                           const void *input, size_t n, char *sig, size_t cap);

#endif
