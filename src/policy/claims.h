/*
 * Reading JWT claims (RFC 7519) out of a JSON object, shared by JWT verification (jwt.c) and
 * token introspection (introspect.c), whose answers use the same claim names and forms.
 */
#ifndef GW_POLICY_CLAIMS_H
#define GW_POLICY_CLAIMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* A NumericDate (seconds, may be fractional: truncated) into *v; *has says whether it was
 * there. 0, or GW_EJWTCLAIM for another type or a value out of range. */
int gw_claim_date(json_t *obj, const char *name, int64_t *v, bool *has);

/* A string claim into dst (cap bytes, NUL included; "" when absent). GW_EJWTCLAIM for another
 * type, an embedded NUL, or a value too long (never truncated: two identities could become one). */
int gw_claim_string(json_t *obj, const char *name, char *dst, size_t cap);

/* A roles/permissions claim into a space-separated list: a string is taken as already
 * space-separated (the OAuth "scope" form), an array must hold strings without whitespace.
 * name NULL: not read. GW_EJWTCLAIM for another shape or a list longer than cap. */
int gw_claim_list(json_t *obj, const char *name, char *dst, size_t cap);

#endif
