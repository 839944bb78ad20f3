/*
 * Cache-Control parser (RFC 9111 5.2): a list of cache-directive = token [ "=" ( token /
 * quoted-string ) ], elements separated by commas with optional whitespace (RFC 9110 5.6.1).
 */
#include "cache/cc.h"

#include <stdbool.h>
#include <string.h>

#include "cache/internal.h"

/* An argument longer than this is not a number anyone means; it is read as malformed. */
#define ARG_MAX 24

enum dir {
    D_OTHER,
    D_MAX_AGE,
    D_S_MAXAGE,
    D_MAX_STALE,
    D_MIN_FRESH,
    D_SWR,
    D_SIE,
    D_FLAG,
};

struct name_row {
    const char *name;
    enum dir dir;
    uint32_t flag;
};

static const struct name_row names[] = {
    {"max-age", D_MAX_AGE, 0},
    {"s-maxage", D_S_MAXAGE, 0},
    {"max-stale", D_MAX_STALE, 0},
    {"min-fresh", D_MIN_FRESH, 0},
    {"stale-while-revalidate", D_SWR, 0},
    {"stale-if-error", D_SIE, 0},
    {"no-store", D_FLAG, GW_CC_NO_STORE},
    {"no-cache", D_FLAG, GW_CC_NO_CACHE},
    {"private", D_FLAG, GW_CC_PRIVATE},
    {"public", D_FLAG, GW_CC_PUBLIC},
    {"must-revalidate", D_FLAG, GW_CC_MUST_REVALIDATE},
    {"proxy-revalidate", D_FLAG, GW_CC_PROXY_REVALIDATE},
    {"only-if-cached", D_FLAG, GW_CC_ONLY_IF_CACHED},
    {"no-transform", D_FLAG, GW_CC_NO_TRANSFORM},
    {"immutable", D_FLAG, GW_CC_IMMUTABLE},
    {"must-understand", D_FLAG, GW_CC_MUST_UNDERSTAND},
};

void gw_cc_init(struct gw_cc *cc)
{
    cc->flags = 0;
    cc->max_age = -1;
    cc->s_maxage = -1;
    cc->max_stale = -1;
    cc->min_fresh = -1;
    cc->stale_while_revalidate = -1;
    cc->stale_if_error = -1;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static const struct name_row *lookup(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (gw__cache_ieq(s, n, names[i].name))
            return &names[i];
    }
    return NULL;
}

/* Skips to just past the next comma outside a quoted string, or to the end. */
static size_t skip_element(const char *v, size_t n, size_t i)
{
    bool quoted = false;
    for (; i < n; i++) {
        if (quoted && v[i] == '\\') {
            i++;
            continue;
        }
        if (v[i] == '"')
            quoted = !quoted;
        else if (!quoted && v[i] == ',')
            return i + 1;
    }
    return n;
}

/* Keeps the smallest value; a second, different value of a freshness directive is a conflict. */
static void set_num(struct gw_cc *cc, int64_t *field, int64_t val, bool freshness)
{
    if (val < 0) {
        if (freshness)
            cc->flags |= GW_CC_BAD_FRESHNESS;
        return;
    }
    if (*field >= 0 && *field != val && freshness)
        cc->flags |= GW_CC_BAD_FRESHNESS;
    if (*field < 0 || val < *field)
        *field = val;
}

/* min-fresh asks for more freshness, so its most restrictive value is the largest. */
static void set_max(int64_t *field, int64_t val)
{
    if (val >= 0 && val > *field)
        *field = val;
}

static void apply(struct gw_cc *cc, const struct name_row *row, bool has_arg, int64_t num)
{
    switch (row->dir) {
    case D_MAX_AGE:
        set_num(cc, &cc->max_age, has_arg ? num : -1, true);
        break;
    case D_S_MAXAGE:
        set_num(cc, &cc->s_maxage, has_arg ? num : -1, true);
        break;
    case D_MAX_STALE:
        if (!has_arg)
            cc->flags |= GW_CC_MAX_STALE_ANY;
        else
            set_num(cc, &cc->max_stale, num, false);
        break;
    case D_MIN_FRESH:
        if (has_arg)
            set_max(&cc->min_fresh, num);
        break;
    case D_SWR:
        if (has_arg)
            set_num(cc, &cc->stale_while_revalidate, num, false);
        break;
    case D_SIE:
        if (has_arg)
            set_num(cc, &cc->stale_if_error, num, false);
        break;
    case D_FLAG:
        cc->flags |= row->flag;
        break;
    case D_OTHER:
        break;
    }
}

/* A malformed element whose name is known still tells something: a freshness directive there
 * makes the response stale. */
static void malformed(struct gw_cc *cc, const struct name_row *row)
{
    if (row != NULL && (row->dir == D_MAX_AGE || row->dir == D_S_MAXAGE))
        cc->flags |= GW_CC_BAD_FRESHNESS;
}

void gw_cc_parse(struct gw_cc *cc, const char *v, size_t n)
{
    cc->flags |= GW_CC_PRESENT;
    size_t i = 0;
    while (i < n) {
        while (i < n && (is_ows(v[i]) || v[i] == ','))
            i++;
        if (i == n)
            break;
        size_t name = i;
        while (i < n && gw__cache_is_tchar((unsigned char)v[i]))
            i++;
        const struct name_row *row = lookup(v + name, i - name);
        if (i == name) {
            i = skip_element(v, n, i);
            continue;
        }
        bool has_arg = false;
        char arg[ARG_MAX];
        size_t alen = 0;
        bool arg_long = false;
        if (i < n && v[i] == '=') {
            i++;
            has_arg = true;
            if (i < n && v[i] == '"') {
                bool closed = false;
                for (i++; i < n; i++) {
                    char c = v[i];
                    if (c == '"') {
                        closed = true;
                        i++;
                        break;
                    }
                    if (c == '\\') {
                        if (++i == n)
                            break;
                        c = v[i];
                    }
                    if (alen < ARG_MAX)
                        arg[alen++] = c;
                    else
                        arg_long = true;
                }
                if (!closed) {
                    malformed(cc, row);
                    break; /* an open quote swallows the rest of the value */
                }
            } else {
                size_t a = i;
                while (i < n && gw__cache_is_tchar((unsigned char)v[i]))
                    i++;
                alen = i - a < ARG_MAX ? i - a : ARG_MAX;
                arg_long = i - a > ARG_MAX;
                memcpy(arg, v + a, alen);
            }
        }
        size_t end = i;
        while (i < n && is_ows(v[i]))
            i++;
        if (i < n && v[i] != ',') {
            malformed(cc, row);
            i = skip_element(v, n, end);
            continue;
        }
        if (row == NULL)
            continue;
        int64_t num = arg_long ? -1 : gw__cache_delta(arg, alen);
        apply(cc, row, has_arg, num);
    }
}

void gw_cc_parse_pragma(struct gw_cc *cc, const char *v, size_t n)
{
    if (cc->flags & GW_CC_PRESENT)
        return;
    size_t i = 0;
    while (i < n) {
        while (i < n && (is_ows(v[i]) || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && gw__cache_is_tchar((unsigned char)v[i]))
            i++;
        if (gw__cache_ieq(v + s, i - s, "no-cache") && (i == n || v[i] == ',' || is_ows(v[i])))
            cc->flags |= GW_CC_NO_CACHE;
        i = skip_element(v, n, i);
    }
}
