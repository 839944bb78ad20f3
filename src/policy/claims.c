/*
 * Reading JWT claims out of a JSON object (claims.h).
 */
#include "policy/claims.h"

#include <math.h>
#include <string.h>

#include "core/error.h"

/* Reads a NumericDate (RFC 7519 section 2: seconds, may be fractional); truncates fractions. */
int gw_claim_date(json_t *obj, const char *name, int64_t *v, bool *has)
{
    json_t *j = json_object_get(obj, name);
    double d;

    *has = false;
    if (!j)
        return 0;
    if (json_is_integer(j)) {
        *v = (int64_t)json_integer_value(j);
    } else if (json_is_real(j)) {
        d = floor(json_real_value(j));
        /* Out of int64 range (or NaN) cannot be a meaningful date. */
        if (!(d > -9.2e18 && d < 9.2e18))
            return GW_EJWTCLAIM;
        *v = (int64_t)d;
    } else {
        return GW_EJWTCLAIM;
    }
    *has = true;
    return 0;
}

int gw_claim_string(json_t *obj, const char *name, char *dst, size_t cap)
{
    json_t *j = json_object_get(obj, name);
    size_t n;

    dst[0] = '\0';
    if (!j)
        return 0;
    if (!json_is_string(j))
        return GW_EJWTCLAIM;
    n = json_string_length(j);
    /* Truncating an identity could make two subjects equal: refuse instead. */
    if (n >= cap || memchr(json_string_value(j), '\0', n))
        return GW_EJWTCLAIM;
    memcpy(dst, json_string_value(j), n + 1);
    return 0;
}

static bool list_item_ok(const char *s, size_t n)
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
    if (*used + need >= cap)
        return GW_EJWTCLAIM;
    if (*used)
        dst[(*used)++] = ' ';
    memcpy(dst + *used, s, n);
    *used += n;
    dst[*used] = '\0';
    return 0;
}

/*
 * Reads a roles/permissions claim into a space-separated list: a string is taken as already
 * space-separated (the OAuth "scope" form), an array must hold strings without whitespace.
 */
int gw_claim_list(json_t *obj, const char *name, char *dst, size_t cap)
{
    json_t *j;
    size_t used = 0;
    size_t i;
    json_t *v;

    dst[0] = '\0';
    if (!name)
        return 0;
    j = json_object_get(obj, name);
    if (!j)
        return 0;
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        size_t n = json_string_length(j);
        size_t start = 0;
        for (size_t k = 0; k <= n; k++) {
            if (k < n && s[k] != ' ')
                continue;
            if (k > start) {
                if (!list_item_ok(s + start, k - start) ||
                    append_item(dst, cap, &used, s + start, k - start) < 0)
                    return GW_EJWTCLAIM;
            }
            start = k + 1;
        }
        return 0;
    }
    if (!json_is_array(j))
        return GW_EJWTCLAIM;
    json_array_foreach(j, i, v)
    {
        if (!json_is_string(v) || !list_item_ok(json_string_value(v), json_string_length(v)) ||
            append_item(dst, cap, &used, json_string_value(v), json_string_length(v)) < 0)
            return GW_EJWTCLAIM;
    }
    return 0;
}
