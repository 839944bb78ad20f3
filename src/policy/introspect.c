/*
 * RFC 7662 token introspection pieces: the form-encoded request body and the response parser.
 * The claim rules mirror gw_jwt_verify's (jwt.c), so an introspected token and a JWT with the
 * same claims give the same struct gw_jwt_claims.
 */
#include "policy/introspect.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/error.h"
#include "policy/claims.h"

static const char BODY_PREFIX[] = "token=";
static const char BODY_SUFFIX[] = "&token_type_hint=access_token";

static bool unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

int gw_introspect_body(const char *token, size_t len, char **out, size_t *out_len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t cap, n = 0;
    char *buf;

    if (token == NULL || len == 0)
        return GW_EINVAL;
    if (len > (SIZE_MAX - sizeof(BODY_PREFIX) - sizeof(BODY_SUFFIX)) / 3)
        return GW_ENOMEM;
    cap = sizeof(BODY_PREFIX) - 1 + 3 * len + sizeof(BODY_SUFFIX); /* suffix's NUL included */
    buf = malloc(cap);
    if (buf == NULL)
        return GW_ENOMEM;
    memcpy(buf, BODY_PREFIX, sizeof(BODY_PREFIX) - 1);
    n = sizeof(BODY_PREFIX) - 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)token[i];
        if (unreserved(c)) {
            buf[n++] = (char)c;
        } else {
            buf[n++] = '%';
            buf[n++] = hex[c >> 4];
            buf[n++] = hex[c & 15];
        }
    }
    memcpy(buf + n, BODY_SUFFIX, sizeof(BODY_SUFFIX));
    n += sizeof(BODY_SUFFIX) - 1;
    *out = buf;
    *out_len = n;
    return 0;
}

int gw_introspect_parse(const char *json, size_t len, const struct gw_claim_names *roles,
                        const struct gw_claim_names *perms, struct gw_jwt_claims *out)
{
    json_error_t jerr;
    json_t *doc, *active;
    int rc = GW_EFETCH;

    memset(out, 0, sizeof(*out));
    doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL || !json_is_object(doc))
        goto fail;
    active = json_object_get(doc, "active");
    /* RFC 7662 section 2.2: "active" is REQUIRED; a response without it vouches for nothing. */
    if (active != NULL && !json_is_boolean(active))
        goto fail;
    if (!json_is_true(active)) {
        rc = GW_ETOKENINACTIVE;
        goto fail;
    }
    rc = gw_claim_string(doc, "sub", out->sub, sizeof(out->sub));
    if (rc == 0)
        rc = gw_claim_string(doc, "iss", out->iss, sizeof(out->iss));
    if (rc == 0)
        rc = gw_claim_date(doc, "exp", &out->exp, &out->has_exp);
    if (rc == 0)
        rc = gw_claim_date(doc, "nbf", &out->nbf, &out->has_nbf);
    if (rc == 0)
        rc = gw_claim_date(doc, "iat", &out->iat, &out->has_iat);
    if (rc == 0)
        rc = gw_claim_lists(doc, roles, out->roles, sizeof(out->roles), NULL);
    if (rc == 0)
        rc = gw_claim_lists(doc, perms, out->perms, sizeof(out->perms), NULL);
fail:
    if (rc != 0)
        memset(out, 0, sizeof(*out));
    json_decref(doc);
    return rc;
}
