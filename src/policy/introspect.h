/*
 * OAuth 2.0 Token Introspection (RFC 7662): the request body and the parsing of the answer.
 * No I/O here; the request itself goes through net/fetch.h.
 */
#ifndef GW_POLICY_INTROSPECT_H
#define GW_POLICY_INTROSPECT_H

#include <stddef.h>

#include "policy/jwt.h"

/*
 * Builds the form body "token=<token>&token_type_hint=access_token" (RFC 7662 section 2.1,
 * application/x-www-form-urlencoded) into a new NUL-terminated buffer *out of *out_len bytes
 * (free with free()). Every byte of token other than ALPHA, DIGIT, "-", ".", "_" and "~" is
 * percent-encoded. Returns 0, GW_EINVAL for an empty token or GW_ENOMEM.
 */
int gw_introspect_body(const char *token, size_t len, char **out, size_t *out_len);

/*
 * Parses an introspection response json[0..len) (RFC 7662 section 2.2) into *out, which is
 * all zeros on any error. Returns
 * - GW_EFETCH when the text is not a JSON object (duplicate member names included) or
 *   "active" is present but not a boolean;
 * - GW_ETOKENINACTIVE when "active" is false or absent;
 * - GW_EJWTCLAIM when a claim read below has the wrong type or does not fit *out (values are
 *   refused, never truncated);
 * - 0 with *out filled: sub and iss ("" when absent); exp, nbf and iat with their
 *   has_* flags (NumericDate, fractions truncated); roles as the union of the claims named in
 *   roles and perms of those in perms (either NULL or empty: not read), read as
 *   gw_claim_lists does (claims.h): a string member is taken as a space-separated list (the
 *   form of "scope", RFC 7662 section 2.2), an array must hold strings without whitespace;
 *   repeated spaces collapse and each item is kept once. Nothing is checked against the
 *   clock: "active" is the server's verdict. Required claims (struct gw_jwt_policy.required)
 *   are a JWT check only and are not applied here.
 */
int gw_introspect_parse(const char *json, size_t len, const struct gw_claim_names *roles,
                        const struct gw_claim_names *perms, struct gw_jwt_claims *out);

#endif
