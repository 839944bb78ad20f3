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

static int copy_string(json_t *obj, const char *name, char *dst, size_t cap)
{
    json_t *j = json_object_get(obj, name);
    size_t n;

    dst[0] = '\0';
    if (j == NULL)
        return 0;
    if (!json_is_string(j))
        return GW_EJWTCLAIM;
    n = json_string_length(j);
    /* Truncating an identity could make two subjects equal: refuse instead. */
    if (n >= cap || memchr(json_string_value(j), '\0', n) != NULL)
        return GW_EJWTCLAIM;
    memcpy(dst, json_string_value(j), n + 1);
    return 0;
}

/* NumericDate (RFC 7519 section 2), as jwt.c reads it. */
static int numeric_date(json_t *obj, const char *name, int64_t *v, bool *has)
{
    json_t *j = json_object_get(obj, name);
    double d;

    *has = false;
    if (j == NULL)
        return 0;
    if (json_is_integer(j)) {
        *v = (int64_t)json_integer_value(j);
    } else if (json_is_real(j)) {
        d = floor(json_real_value(j));
        if (!(d > -9.2e18 && d < 9.2e18))
            return GW_EJWTCLAIM;
        *v = (int64_t)d;
    } else {
        return GW_EJWTCLAIM;
    }
    *has = true;
    return 0;
}

/* A list item: no whitespace or control characters, not empty. */
static bool item_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f)
            return false;
    }
    return n > 0;
}

static int append_item(char *dst, size_t cap, size_t *used, const char *s, size_t n)
{
    size_t need = n + (*used ? 1 : 0);
    if (!item_ok(s, n) || need >= cap - *used)
        return GW_EJWTCLAIM;
    if (*used)
        dst[(*used)++] = ' ';
    memcpy(dst + *used, s, n);
    *used += n;
    dst[*used] = '\0';
    return 0;
}

/* Roles or permissions: a space-separated string, or an array of single items. */
static int copy_list(json_t *obj, const char *name, char *dst, size_t cap)
{
    json_t *j, *v;
    size_t used = 0, i;

    dst[0] = '\0';
    if (name == NULL)
        return 0;
    j = json_object_get(obj, name);
    if (j == NULL)
        return 0;
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        size_t n = json_string_length(j), start = 0;
        for (size_t k = 0; k <= n; k++) {
            if (k < n && s[k] != ' ')
                continue;
            if (k > start && append_item(dst, cap, &used, s + start, k - start) < 0)
                return GW_EJWTCLAIM;
            start = k + 1;
        }
        return 0;
    }
    if (!json_is_array(j))
        return GW_EJWTCLAIM;
    json_array_foreach(j, i, v)
    {
        if (!json_is_string(v) ||
            append_item(dst, cap, &used, json_string_value(v), json_string_length(v)) < 0)
            return GW_EJWTCLAIM;
    }
    return 0;
}

int gw_introspect_parse(const char *json, size_t len, const char *roles_claim,
                        const char *perms_claim, struct gw_jwt_claims *out)
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
    rc = copy_string(doc, "sub", out->sub, sizeof(out->sub));
    if (rc == 0)
        rc = copy_string(doc, "iss", out->iss, sizeof(out->iss));
    if (rc == 0)
        rc = numeric_date(doc, "exp", &out->exp, &out->has_exp);
    if (rc == 0)
        rc = numeric_date(doc, "nbf", &out->nbf, &out->has_nbf);
    if (rc == 0)
        rc = numeric_date(doc, "iat", &out->iat, &out->has_iat);
    if (rc == 0)
        rc = copy_list(doc, roles_claim, out->roles, sizeof(out->roles));
    if (rc == 0)
        rc = copy_list(doc, perms_claim, out->perms, sizeof(out->perms));
fail:
    if (rc != 0)
        memset(out, 0, sizeof(*out));
    json_decref(doc);
    return rc;
}
