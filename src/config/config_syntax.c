/*
 * The config's value syntaxes that do not depend on JSON: ${ENV} substitution, durations,
 * sizes. Pure functions over strings; the value types in config_values.c call them.
 */
#include "config/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- ${ENV} substitution -----------------------------------------------------------------------
 */

struct sbuf {
    char *p;
    size_t len;
    size_t cap;
};

static bool sbuf_add(struct sbuf *b, const char *s, size_t n)
{
    if (n >= b->cap - b->len) {
        size_t cap = b->cap * 2 > b->len + n + 1 ? b->cap * 2 : b->len + n + 1;
        char *p = realloc(b->p, cap);
        if (p == NULL)
            return false;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return true;
}

static bool is_name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

/* Variable names are bounded so that the message and the getenv() buffer are too. */
#define MAX_VAR_NAME 128

char *gw_config_expand_env(const char *s, size_t len, char *why, size_t why_cap)
{
    struct sbuf b = {.p = malloc(len + 1), .len = 0, .cap = len + 1};
    why[0] = '\0';
    if (b.p == NULL)
        return NULL;
    b.p[0] = '\0';
    size_t i = 0;
    while (i < len) {
        const char *dollar = memchr(s + i, '$', len - i);
        size_t plain = dollar ? (size_t)(dollar - (s + i)) : len - i;
        if (!sbuf_add(&b, s + i, plain))
            goto fail;
        i += plain;
        if (i >= len)
            break;
        /* s[i] == '$' */
        if (i + 1 < len && s[i + 1] == '$') {
            if (!sbuf_add(&b, "$", 1))
                goto fail;
            i += 2;
            continue;
        }
        if (i + 1 >= len || s[i + 1] != '{') {
            /* A lone '$' is kept: only "${" and "$$" are special. */
            if (!sbuf_add(&b, "$", 1))
                goto fail;
            i++;
            continue;
        }
        const char *open = s + i + 2;
        const char *close = memchr(open, '}', len - i - 2);
        if (close == NULL) {
            snprintf(why, why_cap, "unterminated \"${\" (write \"$$\" for a literal \"$\")");
            goto fail;
        }
        size_t inner = (size_t)(close - open);
        size_t name_len = 0;
        while (name_len < inner && is_name_char(open[name_len]))
            name_len++;
        bool has_default = false;
        if (name_len < inner) {
            if (inner - name_len >= 2 && open[name_len] == ':' && open[name_len + 1] == '-')
                has_default = true;
            else
                name_len = 0; /* not NAME, not NAME:-default */
        }
        if (name_len == 0 || !is_name_start(open[0]) || name_len > MAX_VAR_NAME) {
            char q[96];
            snprintf(why, why_cap,
                     "invalid variable reference %s (expected ${NAME} or ${NAME:-default}, "
                     "NAME made of letters, digits and \"_\")",
                     gw__cfg_quote(s + i, inner + 3, q, sizeof q));
            goto fail;
        }
        char name[MAX_VAR_NAME + 1];
        memcpy(name, open, name_len);
        name[name_len] = '\0';
        const char *val = getenv(name);
        if (has_default && (val == NULL || val[0] == '\0')) {
            const char *def = open + name_len + 2;
            if (!sbuf_add(&b, def, (size_t)(close - def)))
                goto fail;
        } else if (val != NULL) {
            if (!sbuf_add(&b, val, strlen(val)))
                goto fail;
        } else {
            snprintf(why, why_cap,
                     "environment variable %s is not set (use ${%s:-default} for a default)", name,
                     name);
            goto fail;
        }
        i = (size_t)(close - s) + 1;
    }
    return b.p;
fail:
    free(b.p);
    return NULL;
}

/* ---- numbers with units ---------------------------------------------------------------------- */

/* Decimal digits into *v, advancing *p: 1, or 0 when there is no digit, or -1 on overflow. */
static int take_digits(const char **p, uint64_t *v)
{
    const char *s = *p;
    uint64_t n = 0;
    while (*s >= '0' && *s <= '9') {
        unsigned d = (unsigned)(*s - '0');
        if (n > (UINT64_MAX - d) / 10)
            return -1;
        n = n * 10 + d;
        s++;
    }
    if (s == *p)
        return 0;
    *p = s;
    *v = n;
    return 1;
}

static bool unit_is(const char *u, const char *name)
{
    for (; *u && *name; u++, name++) {
        char c = *u;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != *name)
            return false;
    }
    return *u == '\0' && *name == '\0';
}

bool gw__cfg_parse_duration_ms(const char *s, uint64_t *ms, const char **why)
{
    static const struct {
        const char *name;
        uint64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    const uint64_t max_int = 1000000000000ull; /* keeps int * 3600000 far from overflow */
    const char *p = s;
    uint64_t ip;
    uint64_t frac = 0;
    uint64_t scale = 1;
    int rc = take_digits(&p, &ip);
    *why = "not a duration (expected a number with a unit: \"250ms\", \"10s\", \"5m\", \"1h\"; "
           "without one, seconds)";
    if (rc == 0)
        return false;
    if (rc < 0 || ip > max_int) {
        *why = "duration too large";
        return false;
    }
    if (*p == '.') {
        p++;
        const char *f = p;
        while (*p >= '0' && *p <= '9') {
            if (p - f < 9) {
                frac = frac * 10 + (uint64_t)(*p - '0');
                scale *= 10;
            } else if (*p != '0') {
                *why = "duration more precise than a millisecond";
                return false;
            }
            p++;
        }
        if (p == f)
            return false;
    }
    /* A bare number is seconds, as a JSON number is: "${TIMEOUT:-60}" means 60 s. */
    const char *unit = *p == '\0' ? "s" : p;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (!unit_is(unit, units[i].name))
            continue;
        uint64_t part = frac * units[i].ms;
        if (part % scale != 0) {
            *why = "duration more precise than a millisecond";
            return false;
        }
        *ms = ip * units[i].ms + part / scale;
        return true;
    }
    *why = "unknown duration unit (expected ms, s, m or h)";
    return false;
}

bool gw__cfg_parse_size(const char *s, uint64_t *bytes, const char **why)
{
    static const struct {
        const char *name;
        unsigned shift;
    } units[] = {
        {"", 0},     {"b", 0},  {"k", 10},  {"kb", 10},  {"kib", 10}, {"m", 20},  {"mb", 20},
        {"mib", 20}, {"g", 30}, {"gb", 30}, {"gib", 30}, {"t", 40},   {"tb", 40}, {"tib", 40},
    };
    const char *p = s;
    uint64_t n;
    int rc = take_digits(&p, &n);
    *why = "not a size (expected bytes, or a number with a unit: \"512\", \"64k\", \"10MiB\", "
           "\"1g\")";
    if (rc == 0)
        return false;
    if (rc < 0) {
        *why = "size too large";
        return false;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (!unit_is(p, units[i].name))
            continue;
        if (n > (UINT64_MAX >> units[i].shift)) {
            *why = "size too large";
            return false;
        }
        *bytes = n << units[i].shift;
        return true;
    }
    if (*p == '.')
        *why = "sizes are whole numbers (write \"1536k\", not \"1.5m\")";
    else
        *why = "unknown size unit (expected k, m, g or t, optionally followed by B or iB; all "
               "are powers of 1024)";
    return false;
}
