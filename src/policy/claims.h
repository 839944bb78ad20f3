/*
 * Reading JWT claims (RFC 7519) out of a JSON object, shared by JWT verification (jwt.c) and
 * token introspection (introspect.c), whose answers use the same claim names and forms.
 *
 * A configured claim name is looked up as a member of that exact name first; when the object
 * has none and the name holds dots, it is read as a path of members ("realm_access.roles" is
 * {"realm_access": {"roles": ...}}, Keycloak's form). The exact name wins so that URL-shaped
 * names ("https://example.com/roles", Auth0's namespaced claims) keep working.
 */
#ifndef GW_POLICY_CLAIMS_H
#define GW_POLICY_CLAIMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* A configured list of claim names (each an exact member name or a dotted path, see above).
 * Borrowed from the configuration; n == 0: none. */
struct gw_claim_names {
    char *const *v;
    size_t n;
};

/* The value of the claim called name in obj (exact member, else dotted path through objects),
 * or NULL when there is none. A borrowed reference, valid while obj is. */
json_t *gw_claim_get(json_t *obj, const char *name);

/* A NumericDate (seconds, may be fractional: truncated) into *v; *has says whether it was
 * there. 0, or GW_EJWTCLAIM for another type or a value out of range. */
int gw_claim_date(json_t *obj, const char *name, int64_t *v, bool *has);

/* A string claim into dst (cap bytes, NUL included; "" when absent). GW_EJWTCLAIM for another
 * type, an embedded NUL, or a value too long (never truncated: two identities could become one). */
int gw_claim_string(json_t *obj, const char *name, char *dst, size_t cap);

/*
 * The union of the roles/permissions claims in names, in order, into dst as a space-separated
 * list, each item once (first occurrence kept). Each claim is a string taken as already
 * space-separated (the OAuth "scope" form, RFC 6749 section 3.3) or an array of strings without
 * whitespace; an absent claim adds nothing. Returns 0, or GW_EJWTCLAIM for a claim of another
 * shape (null included) or a union longer than cap (refused, never truncated); then *bad (may
 * be NULL) is the name of the claim at fault.
 */
int gw_claim_lists(json_t *obj, const struct gw_claim_names *names, char *dst, size_t cap,
                   const char **bad);

/*
 * The first of names that obj lacks, or NULL when it has them all. A claim counts as present
 * unless it is absent, null, "", [] or {}: a required "sub" of "" would let a token through
 * without the user id it was required for.
 */
const char *gw_claim_first_missing(json_t *obj, const struct gw_claim_names *names);

#endif
