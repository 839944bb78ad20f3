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

/* Whether the space-separated dst[0..used) holds s[0..n) as a whole item. */
static bool list_holds(const char *dst, size_t used, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t k = 0; k <= used; k++) {
        if (k < used && dst[k] != ' ')
            continue;
        if (k - start == n && memcmp(dst + start, s, n) == 0)
            return true;
        start = k + 1;
    }
    return false;
}

/* Appends an item unless the list holds it already; GW_EJWTCLAIM when it does not fit. */
static int append_item(char *dst, size_t cap, size_t *used, const char *s, size_t n)
{
    if (!list_item_ok(s, n))
        return GW_EJWTCLAIM;
    if (list_holds(dst, *used, s, n))
        return 0;
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

json_t *gw_claim_get(json_t *obj, const char *name)
{
    json_t *j = json_object_get(obj, name);
    const char *s = name;

    if (j || !strchr(name, '.'))
        return j;
    /* A dotted path: every step but the last must be an object. An empty step ("a..b") names
     * nothing, as no member of that name can be told apart from a typo. */
    j = obj;
    for (;;) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        if (n == 0 || !json_is_object(j))
            return NULL;
        j = json_object_getn(j, s, n);
        if (!j || !dot)
            return j;
        s = dot + 1;
    }
}

/* Adds one claim's items to dst: a space-separated string, or an array of strings without
 * whitespace. */
static int add_claim(json_t *j, char *dst, size_t cap, size_t *used)
{
    size_t i;
    json_t *v;

    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        size_t n = json_string_length(j);
        size_t start = 0;
        for (size_t k = 0; k <= n; k++) {
            if (k < n && s[k] != ' ')
                continue;
            if (k > start && append_item(dst, cap, used, s + start, k - start) < 0)
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
            append_item(dst, cap, used, json_string_value(v), json_string_length(v)) < 0)
            return GW_EJWTCLAIM;
    }
    return 0;
}

int gw_claim_lists(json_t *obj, const struct gw_claim_names *names, char *dst, size_t cap,
                   const char **bad)
{
    size_t used = 0;

    dst[0] = '\0';
    if (bad)
        *bad = NULL;
    for (size_t i = 0; names && i < names->n; i++) {
        json_t *j = gw_claim_get(obj, names->v[i]);
        if (j && add_claim(j, dst, cap, &used) < 0) {
            if (bad)
                *bad = names->v[i];
            dst[0] = '\0';
            return GW_EJWTCLAIM;
        }
    }
    return 0;
}

const char *gw_claim_first_missing(json_t *obj, const struct gw_claim_names *names)
{
    for (size_t i = 0; names && i < names->n; i++) {
        json_t *j = gw_claim_get(obj, names->v[i]);
        bool empty = !j || json_is_null(j) || (json_is_string(j) && json_string_length(j) == 0) ||
                     (json_is_array(j) && json_array_size(j) == 0) ||
                     (json_is_object(j) && json_object_size(j) == 0);
        if (empty)
            return names->v[i];
    }
    return NULL;
}
