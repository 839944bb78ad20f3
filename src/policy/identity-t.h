/*
 * Who a request is from, as authentication established it (a verified JWT, an API key, an
 * introspection answer). Type only (HAProxy's `-t.h` convention): struct definitions, no
 * function declarations, so any folder may include it. The functions that copy and clear an
 * identity are declared in state/token_cache.h, which stores identities.
 */
#ifndef GW_POLICY_IDENTITY_T_H
#define GW_POLICY_IDENTITY_T_H

#include <stdint.h>

/* Strings are NUL-terminated and owned by the struct. */
struct gw_identity {
    /** consumer id, or NULL */
    char *consumer;
    /** user id (the JWT "sub"), or NULL */
    char *user;
    /** space-separated roles, or NULL */
    char *roles;
    /** space-separated permissions, or NULL */
    char *perms;
    /** expiry of the credential, Unix seconds; 0 = none */
    int64_t exp;
    /** the JWT's "jti" and "sid" as state/revoked.h keys (0 = none), checked against the
     * revoked set on every request, cached or not */
    uint64_t jti_key, sid_key;
};

#endif
