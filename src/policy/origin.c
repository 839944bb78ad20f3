/*
 * Web origins and origin patterns (policy/origin.h). The grammar is RFC 6454's serialization
 * (section 6.2): scheme "://" host [ ":" port ], host being a DNS name or an IP literal; what a
 * browser puts in Origin is exactly that, lowercased, without a default port.
 */
#include "policy/origin.h"

#include <stdio.h>
#include <string.h>

/* Character classes (one table lookup per byte: an Origin is parsed on every request of a
 * service with CORS). */
enum {
    C_SCHEME = 1, /* letters, digits, '+', '-', '.' (the first must be a letter) */
    C_NAME = 2,   /* a DNS name's characters, and '_', which some internal names carry */
    C_HEX = 4,    /* inside an IP literal: hex digits, ':', '.' */
    C_ALPHA = 8,
    C_DIGIT = 16,
};

#define RANGE(from, to, c) [from... to] = (c) /* GNU C range designator */
static const uint8_t cls[256] = {
    RANGE('a', 'f', C_SCHEME | C_NAME | C_HEX | C_ALPHA),
    RANGE('g', 'z', C_SCHEME | C_NAME | C_ALPHA),
    RANGE('A', 'F', C_SCHEME | C_NAME | C_HEX | C_ALPHA),
    RANGE('G', 'Z', C_SCHEME | C_NAME | C_ALPHA),
    RANGE('0', '9', C_SCHEME | C_NAME | C_HEX | C_DIGIT),
    ['+'] = C_SCHEME,
    ['-'] = C_SCHEME | C_NAME,
    ['.'] = C_SCHEME | C_NAME | C_HEX,
    ['_'] = C_NAME,
    [':'] = C_HEX,
};

static bool is(char c, uint8_t mask)
{
    return (cls[(unsigned char)c] & mask) != 0;
}

/* Case-insensitive equality of n bytes of the classes above (letters, digits, "+-._:" and
 * brackets): within them, setting bit 0x20 folds case and maps no two bytes to one. Eight
 * bytes at a time: an origin is compared on every request of a service with CORS. */
static bool eq_nocase(const char *a, const char *b, size_t n)
{
    if (n >= 8) {
        const uint64_t fold = 0x2020202020202020u;
        uint64_t x, y;
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);
            if ((x | fold) != (y | fold))
                return false;
        }
        memcpy(&x, a + n - 8, 8); /* the last 8, overlapping what was compared */
        memcpy(&y, b + n - 8, 8);
        return (x | fold) == (y | fold);
    }
    if (n >= 4) {
        const uint32_t fold = 0x20202020u;
        uint32_t x, y, x2, y2;
        memcpy(&x, a, 4);
        memcpy(&y, b, 4);
        memcpy(&x2, a + n - 4, 4);
        memcpy(&y2, b + n - 4, 4);
        return (x | fold) == (y | fold) && (x2 | fold) == (y2 | fold);
    }
    for (size_t i = 0; i < n; i++) {
        if ((a[i] | 0x20) != (b[i] | 0x20))
            return false;
    }
    return true;
}

/* The port a scheme implies (case-insensitive, as eq_nocase). */
static uint32_t default_port(const char *scheme, size_t n)
{
    bool secure = (scheme[n - 1] | 0x20) == 's';
    size_t base = n - secure; /* "http" or "ws" before the 's' */
    if (base == 4 && eq_nocase(scheme, "http", 4))
        return secure ? 443 : 80;
    if (base == 2 && eq_nocase(scheme, "ws", 2))
        return secure ? 443 : 80;
    return 0;
}

/* scheme "://" at s: the scheme's length, or 0. */
static size_t scan_scheme(const char *s, size_t n)
{
    if (n == 0 || !is(s[0], C_ALPHA))
        return 0;
    size_t i = 1;
    while (i < n && is(s[i], C_SCHEME))
        i++;
    if (i > 32 || n - i < 3 || memcmp(s + i, "://", 3) != 0)
        return 0;
    return i;
}

/* host at s[0..n): its length (brackets included for an IP literal), or 0. */
static size_t scan_host(const char *s, size_t n)
{
    size_t i = 0;
    if (n > 0 && s[0] == '[') {
        for (i = 1; i < n && is(s[i], C_HEX); i++)
            ;
        if (i < 3 || i >= n || s[i] != ']')
            return 0;
        return i + 1;
    }
    while (i < n && is(s[i], C_NAME))
        i++;
    return i <= 253 ? i : 0;
}

/* ":port" at s[0..n) (n > 0, s[0] == ':'): the port, or 0 when not 1..65535. */
static uint32_t scan_port(const char *s, size_t n)
{
    if (n < 2 || n > 6)
        return 0;
    uint32_t port = 0;
    for (size_t i = 1; i < n; i++) {
        if (!is(s[i], C_DIGIT))
            return 0;
        port = port * 10 + (uint32_t)(s[i] - '0');
    }
    return port <= 65535 ? port : 0;
}

/* Parses scheme://host[:port] where the authority ends at s + end. */
static int parse_authority(const char *s, size_t end, size_t scheme_len, struct gw_origin *o)
{
    size_t at = scheme_len + 3;
    size_t hl = scan_host(s + at, end - at);
    if (hl == 0)
        return -1;
    memset(o, 0, sizeof *o);
    o->scheme = s;
    o->scheme_len = scheme_len;
    o->host = s + at;
    o->host_len = hl;
    at += hl;
    if (at == end) {
        o->port = default_port(s, scheme_len);
        return 0;
    }
    if (s[at] != ':')
        return -1;
    o->port = scan_port(s + at, end - at);
    return o->port ? 0 : -1;
}

int gw_origin_parse(const char *s, size_t n, struct gw_origin *o)
{
    if (n == 4 && memcmp(s, "null", 4) == 0) {
        memset(o, 0, sizeof *o);
        o->opaque = true;
        return 0;
    }
    if (n > GW_ORIGIN_MAX)
        return -1;
    size_t sl = scan_scheme(s, n);
    if (sl == 0)
        return -1;
    return parse_authority(s, n, sl, o);
}

int gw_origin_of_url(const char *s, size_t n, struct gw_origin *o)
{
    size_t sl = scan_scheme(s, n);
    if (sl == 0)
        return -1;
    size_t end = sl + 3;
    while (end < n && s[end] != '/' && s[end] != '?' && s[end] != '#') {
        if (s[end] == '@')
            return -1;
        end++;
    }
    if (end > GW_ORIGIN_MAX)
        return -1;
    return parse_authority(s, end, sl, o);
}

size_t gw_origin_serialize(const struct gw_origin *o, char *out, size_t cap)
{
    char port[8] = "";
    if (o->opaque)
        return 0;
    if (o->port != default_port(o->scheme, o->scheme_len))
        snprintf(port, sizeof port, ":%u", (unsigned)o->port);
    int n = snprintf(out, cap, "%.*s://%.*s%s", (int)o->scheme_len, o->scheme, (int)o->host_len,
                     o->host, port);
    if (n < 0 || (size_t)n >= cap)
        return 0;
    for (int i = 0; i < n; i++) {
        if (out[i] >= 'A' && out[i] <= 'Z')
            out[i] = (char)(out[i] - 'A' + 'a');
    }
    return (size_t)n;
}

bool gw_origin_same(const struct gw_origin *a, const struct gw_origin *b)
{
    return !a->opaque && !b->opaque && a->port == b->port && a->scheme_len == b->scheme_len &&
           a->host_len == b->host_len && eq_nocase(a->scheme, b->scheme, a->scheme_len) &&
           eq_nocase(a->host, b->host, a->host_len);
}

bool gw_origin_is_host(const struct gw_origin *o, const char *host, size_t n)
{
    if (o->opaque || n == 0)
        return false;
    size_t hl = scan_host(host, n);
    if (hl == 0)
        return false;
    uint32_t port;
    if (hl == n)
        port = default_port(o->scheme, o->scheme_len);
    else if (host[hl] == ':')
        port = scan_port(host + hl, n - hl);
    else
        return false;
    return port != 0 && port == o->port && hl == o->host_len && eq_nocase(host, o->host, hl);
}

int gw_origin_pattern_parse(const char *s, size_t n, struct gw_origin_pattern *p, const char **why)
{
    memset(p, 0, sizeof *p);
    if (n == 1 && s[0] == '*') {
        p->kind = GW_ORIGIN_ANY;
        return 0;
    }
    if (n == 4 && memcmp(s, "null", 4) == 0) {
        p->kind = GW_ORIGIN_NULL;
        p->o.opaque = true;
        return 0;
    }
    *why = "is not an origin: write scheme://host[:port], as \"https://app.example.com\" or "
           "\"https://*.example.com\" (or \"*\", or \"null\")";
    if (n > GW_ORIGIN_MAX)
        return -1;
    size_t sl = scan_scheme(s, n);
    if (sl == 0)
        return -1;
    size_t at = sl + 3;
    bool wild = n - at >= 2 && s[at] == '*' && s[at + 1] == '.';
    if (wild)
        at += 2;
    /* parse the rest as if the wildcard label were not there */
    size_t hl = scan_host(s + at, n - at);
    if (hl == 0) {
        if (memchr(s + at, '*', n - at) != NULL)
            *why = "may have a wildcard only as its whole first label: \"https://*.example.com\"";
        return -1;
    }
    size_t end = at + hl;
    if (end < n && s[end] != ':') {
        if (s[end] == '/')
            *why = "has a path: an origin is scheme://host[:port], with no \"/\" after it";
        else if (s[end] == '*')
            *why = "may have a wildcard only as its whole first label: \"https://*.example.com\"";
        return -1;
    }
    p->o.scheme = s;
    p->o.scheme_len = sl;
    p->o.host = s + at;
    p->o.host_len = hl;
    if (end == n) {
        p->o.port = default_port(s, sl);
    } else {
        p->o.port = scan_port(s + end, n - end);
        if (p->o.port == 0) {
            *why = "has an invalid port (1 to 65535)";
            return -1;
        }
    }
    if (p->o.port == 0) {
        *why = "needs a port: only http, https, ws and wss have a default one";
        return -1;
    }
    if (wild) {
        if (p->o.host[0] == '[') {
            *why = "has a wildcard before an IP address: a wildcard stands for DNS labels";
            return -1;
        }
        if (memchr(p->o.host, '.', hl) == NULL) {
            *why = "would match every site under a top-level domain: a wildcard needs a domain "
                   "of two labels or more after it (\"https://*.example.com\")";
            return -1;
        }
        p->kind = GW_ORIGIN_WILDCARD;
    }
    return 0;
}

bool gw_origin_pattern_match(const struct gw_origin_pattern *p, const struct gw_origin *o)
{
    switch (p->kind) {
    case GW_ORIGIN_ANY:
        return true;
    case GW_ORIGIN_NULL:
        return o->opaque;
    case GW_ORIGIN_EXACT:
        return gw_origin_same(&p->o, o);
    case GW_ORIGIN_WILDCARD:
    default:
        break;
    }
    const struct gw_origin *w = &p->o;
    if (o->opaque || o->port != w->port || o->scheme_len != w->scheme_len ||
        !eq_nocase(o->scheme, w->scheme, w->scheme_len))
        return false;
    /* strictly under the suffix: at least one label, then '.', then the suffix */
    if (o->host_len < w->host_len + 2)
        return false;
    size_t cut = o->host_len - w->host_len;
    return o->host[cut - 1] == '.' && o->host[0] != '.' &&
           eq_nocase(o->host + cut, w->host, w->host_len);
}
