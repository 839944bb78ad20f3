/*
 * Vary lists and request signatures (see vary.h).
 */
#include "cache/vary.h"

#include <string.h>

#include "cache/internal.h"
#include "http1/accept_encoding.h"

/* Byte that stands for an absent field, and the separator between fields: neither can be in
 * a field value (RFC 9110 5.5 excludes controls). */
#define ABSENT '\x01'
#define SEP '\0'

void gw_vary_init(struct gw_vary *v)
{
    v->star = false;
    v->bad = false;
    v->count = 0;
    v->len = 0;
}

static bool has_name(const struct gw_vary *v, const char *s, size_t n)
{
    size_t i = 0;
    while (i < v->len) {
        const char *comma = memchr(v->names + i, ',', v->len - i);
        size_t e = comma ? (size_t)(comma - v->names) : v->len;
        if (e - i == n && memcmp(v->names + i, s, n) == 0)
            return true;
        i = e + 1;
    }
    return false;
}

static void add_name(struct gw_vary *v, const char *s, size_t n)
{
    char low[GW_VARY_NAMES_MAX];
    if (n >= sizeof low) {
        v->bad = true;
        return;
    }
    for (size_t i = 0; i < n; i++)
        low[i] = gw__cache_lower(s[i]);
    if (has_name(v, low, n))
        return;
    size_t need = n + (v->len ? 1 : 0);
    if (v->count == GW_VARY_MAX_FIELDS || v->len + need > GW_VARY_NAMES_MAX) {
        v->bad = true;
        return;
    }
    if (v->len)
        v->names[v->len++] = ',';
    memcpy(v->names + v->len, low, n);
    v->len += (uint32_t)n;
    v->count++;
}

void gw_vary_parse(struct gw_vary *v, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
            i++;
        if (i == n)
            break;
        size_t a = i;
        while (i < n && gw__cache_is_tchar((unsigned char)s[i]))
            i++;
        size_t b = i;
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (a == b || (i < n && s[i] != ',')) {
            v->bad = true;
            while (i < n && s[i] != ',')
                i++;
            continue;
        }
        if (b - a == 1 && s[a] == '*')
            v->star = true;
        else
            add_name(v, s + a, b - a);
    }
}

void gw_vary_add_coding(struct gw_vary *v)
{
    add_name(v, GW_VARY_CODING, sizeof GW_VARY_CODING - 1);
}

struct out {
    char *p;
    size_t len, cap;
    bool over;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->over || n > o->cap - o->len) {
        o->over = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

/* Appends a field value with the whitespace around its commas removed. */
static void put_value(struct out *o, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (s[i] == ',') {
            while (o->len > 0 && !o->over && (o->p[o->len - 1] == ' ' || o->p[o->len - 1] == '\t'))
                o->len--;
            put(o, ",", 1);
            i++;
            while (i < n && (s[i] == ' ' || s[i] == '\t'))
                i++;
            continue;
        }
        put(o, s + i, 1);
        i++;
    }
}

static void put_accept_encoding(struct out *o, const struct gw_http1_message *m, unsigned offered)
{
    struct gw_accept_encoding ae;
    gw_accept_encoding_init(&ae);
    for (uint32_t i = 0; i < m->num_headers; i++) {
        const struct gw_http1_header *h = &m->headers[i];
        if (gw__cache_ieq(h->name, h->name_len, "accept-encoding"))
            gw_accept_encoding_parse(&ae, h->value, h->value_len);
    }
    enum gw_coding c = gw_accept_encoding_choose(&ae, offered);
    static const char *const tok[] = {"identity", "gzip", "br"};
    put(o, tok[c], strlen(tok[c]));
}

long gw_vary_signature(const char *names, size_t names_len, const struct gw_http1_message *m,
                       unsigned normalize, char *out, size_t cap)
{
    struct out o = {.p = out, .cap = cap};
    size_t i = 0;
    while (i < names_len) {
        const char *comma = memchr(names + i, ',', names_len - i);
        size_t e = comma ? (size_t)(comma - names) : names_len;
        const char *name = names + i;
        size_t nl = e - i;
        char sep = SEP;
        put(&o, &sep, 1);
        if ((normalize & GW_VARY_NORM_ACCEPT_ENCODING) &&
            gw__cache_ieq(name, nl, "accept-encoding")) {
            put_accept_encoding(&o, m, GW_CODING_BIT(GW_CODING_GZIP) | GW_CODING_BIT(GW_CODING_BR));
        } else if (nl == sizeof GW_VARY_CODING - 1 && memcmp(name, GW_VARY_CODING, nl) == 0) {
            put_accept_encoding(&o, m, (normalize >> 8) & 0xffu);
        } else {
            bool seen = false;
            for (uint32_t k = 0; k < m->num_headers; k++) {
                const struct gw_http1_header *h = &m->headers[k];
                if (h->name_len != nl)
                    continue;
                bool eq = true;
                for (size_t c = 0; c < nl && eq; c++)
                    eq = gw__cache_lower(h->name[c]) == name[c];
                if (!eq)
                    continue;
                if (seen)
                    put(&o, ",", 1);
                put_value(&o, h->value, h->value_len);
                seen = true;
            }
            if (!seen) {
                char absent = ABSENT;
                put(&o, &absent, 1);
            }
        }
        i = e + 1;
    }
    return o.over ? -1 : (long)o.len;
}
