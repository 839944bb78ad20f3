/*
 * Web origins and origin patterns (policy/origin.h). The grammar is RFC 6454's serialization
 * (section 6.2): scheme "://" host [ ":" port ], host being a DNS name or an IP literal; what a
 * browser puts in Origin is exactly that, lowercased, without a default port.
 */
#include "policy/origin.h"

#include <string.h>
#include <strings.h>

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A DNS name's characters (and '_', which some internal names carry); punycode is ASCII. */
static bool is_name_char(char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_';
}

static uint32_t default_port(const char *scheme, size_t n)
{
    if ((n == 4 && strncasecmp(scheme, "http", 4) == 0) ||
        (n == 2 && strncasecmp(scheme, "ws", 2) == 0))
        return 80;
    if ((n == 5 && strncasecmp(scheme, "https", 5) == 0) ||
        (n == 3 && strncasecmp(scheme, "wss", 3) == 0))
        return 443;
    return 0;
}

/* scheme "://" at s: the scheme's length, or 0. */
static size_t scan_scheme(const char *s, size_t n)
{
    if (n == 0 || !is_alpha(s[0]))
        return 0;
    size_t i = 1;
    while (i < n && (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
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
        for (i = 1; i < n && (is_hex(s[i]) || s[i] == ':' || s[i] == '.'); i++)
            ;
        if (i < 3 || i >= n || s[i] != ']')
            return 0;
        return i + 1;
    }
    while (i < n && is_name_char(s[i]))
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
        if (!is_digit(s[i]))
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

bool gw_origin_same(const struct gw_origin *a, const struct gw_origin *b)
{
    return !a->opaque && !b->opaque && a->port == b->port && a->scheme_len == b->scheme_len &&
           a->host_len == b->host_len && strncasecmp(a->scheme, b->scheme, a->scheme_len) == 0 &&
           strncasecmp(a->host, b->host, a->host_len) == 0;
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
    return port != 0 && port == o->port && hl == o->host_len &&
           strncasecmp(host, o->host, hl) == 0;
}

int gw_origin_pattern_parse(const char *s, size_t n, struct gw_origin_pattern *p,
                            const char **why)
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
        strncasecmp(o->scheme, w->scheme, w->scheme_len) != 0)
        return false;
    /* strictly under the suffix: at least one label, then '.', then the suffix */
    if (o->host_len < w->host_len + 2)
        return false;
    size_t cut = o->host_len - w->host_len;
    return o->host[cut - 1] == '.' && o->host[0] != '.' &&
           strncasecmp(o->host + cut, w->host, w->host_len) == 0;
}
