/* The URL parser; see core/url.h. */
#include "core/url.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/hex.h"

static const struct {
    const char *name;
    size_t len;
    enum gw_url_scheme scheme;
    uint16_t port;
    const char *no_host;
} schemes[] = {
    {"http", 4, GW_URL_HTTP, 80, "missing host (expected http://host:port)"},
    {"https", 5, GW_URL_HTTPS, 443, "missing host (expected https://host:port)"},
    {"redis", 5, GW_URL_REDIS, 6379, "missing host (expected redis://host:port)"},
    {"rediss", 6, GW_URL_REDISS, 6379, "missing host (expected rediss://host:port)"},
};

#define NSCHEMES (sizeof(schemes) / sizeof(schemes[0]))

/* ---- characters (RFC 3986 section 2) --------------------------------------------------- */

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(unsigned char c)
{
    return is_alpha(c) || is_digit(c);
}

/* unreserved / sub-delims / ":" / "@": pchar without pct-encoded. */
static bool is_pchar(unsigned char c)
{
    return is_alnum(c) || (c != '\0' && strchr("-._~!$&'()*+,;=:@", c) != NULL);
}

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

/* Whether s[i] starts a well-formed escape other than %00. */
static bool escape_at(const char *s, size_t n, size_t i)
{
    if (i + 2 >= n)
        return false;
    int hi = gw_hex_digit((unsigned char)s[i + 1]);
    int lo = gw_hex_digit((unsigned char)s[i + 2]);
    return hi >= 0 && lo >= 0 && (hi | lo) != 0;
}

/*
 * Checks s[0..n) holds only pchar, the characters of `extra` and escapes. Returns NULL or
 * `bad_char` / `bad_escape`.
 */
static const char *check_part(const char *s, size_t n, const char *extra, const char *bad_char,
                              const char *bad_escape)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (!escape_at(s, n, i))
                return bad_escape;
            i += 2;
        } else if (!is_pchar(c) && (c == '\0' || strchr(extra, c) == NULL)) {
            return bad_char;
        }
    }
    return NULL;
}

/* ---- host and port ----------------------------------------------------------------------- */

static bool ip_literal(int af, const char *s, size_t n)
{
    char buf[64];
    unsigned char addr[16];
    /* inet_pton reads up to a NUL: one inside would hide what follows it. */
    if (n == 0 || n >= sizeof(buf) || memchr(s, '\0', n) != NULL)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return inet_pton(af, buf, addr) == 1;
}

static bool only_digits_and_dots(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!(is_digit((unsigned char)s[i]) || s[i] == '.'))
            return false;
    }
    return true;
}

const char *gw_url_check_host_name(const char *s, size_t n)
{
    if (n == 0)
        return "missing host";
    if (only_digits_and_dots(s, n))
        return ip_literal(AF_INET, s, n) ? NULL : "invalid IPv4 address";
    if (n > 253)
        return "host name longer than 253 characters";
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (label == 0)
                return "empty label in host name";
            if (s[i - 1] == '-')
                return "a host name label must not end with \"-\"";
            label = 0;
            continue;
        }
        if (!is_alnum(c) && c != '-' && c != '_')
            return "invalid character in host name (letters, digits, \"-\", \"_\" and \".\")";
        if (c == '-' && label == 0)
            return "a host name label must not start with \"-\"";
        if (++label > 63)
            return "host name label longer than 63 characters";
    }
    if (label == 0)
        return "a host name must not end with \".\"";
    if (s[n - 1] == '-')
        return "a host name label must not end with \"-\"";
    return NULL;
}

static const char *parse_port(const char *p, const char *end, uint16_t *port)
{
    unsigned long v = 0;
    if (p == end)
        return "missing port after \":\"";
    if (end - p > 5)
        return "the port must be a number between 1 and 65535";
    for (const char *q = p; q < end; q++) {
        if (!is_digit((unsigned char)*q))
            return "the port must be a number between 1 and 65535";
        v = v * 10 + (unsigned long)(*q - '0');
        if (v > 65535)
            return "the port must be a number between 1 and 65535";
    }
    if (v == 0)
        return "the port must be a number between 1 and 65535";
    *port = (uint16_t)v;
    return NULL;
}

/* gw_url_parse_authority with the reason as the result (NULL: fine). */
static const char *parse_authority(const char *a, size_t n, struct gw_url_authority *out)
{
    const char *end = a + n;
    const char *rest;
    memset(out, 0, sizeof(*out));
    if (n > 0 && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (close == NULL)
            return "unterminated \"[\" in IPv6 address";
        out->host = a + 1;
        out->host_len = (size_t)(close - a - 1);
        out->kind = GW_URL_HOST_IPV6;
        if (!ip_literal(AF_INET6, out->host, out->host_len))
            return "invalid IPv6 address";
        rest = close + 1;
        if (rest < end && *rest != ':')
            return "unexpected characters after \"]\"";
    } else {
        const char *colon = memchr(a, ':', n);
        if (colon != NULL && memchr(colon + 1, ':', (size_t)(end - colon - 1)) != NULL)
            return "an IPv6 address must be written in brackets, as in \"[::1]:8000\"";
        out->host = a;
        out->host_len = colon != NULL ? (size_t)(colon - a) : n;
        rest = colon != NULL ? colon : end;
        if (out->host_len > 0) {
            const char *why = gw_url_check_host_name(out->host, out->host_len);
            if (why != NULL)
                return why;
            if (only_digits_and_dots(out->host, out->host_len))
                out->kind = GW_URL_HOST_IPV4;
        }
    }
    if (rest < end) {
        out->has_port = true;
        return parse_port(rest + 1, end, &out->port);
    }
    return NULL;
}

int gw_url_parse_authority(const char *s, size_t n, struct gw_url_authority *a, const char **why)
{
    *why = parse_authority(s, n, a);
    return *why == NULL ? 0 : GW_EINVAL;
}

/* ---- the URL ----------------------------------------------------------------------------- */

/* Length of a syntactically valid "scheme" followed by "://" at s, or 0. */
static size_t scheme_len(const char *s, size_t n)
{
    size_t i = 0;
    if (n == 0 || !is_alpha((unsigned char)s[0]))
        return 0;
    while (i < n && (is_alnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
        i++;
    if (n - i < 3 || memcmp(s + i, "://", 3) != 0)
        return 0;
    return i;
}

static size_t scheme_index(const char *s, size_t len)
{
    for (size_t k = 0; k < NSCHEMES; k++) {
        if (schemes[k].len != len)
            continue;
        size_t i = 0;
        while (i < len && lower((unsigned char)s[i]) == (unsigned char)schemes[k].name[i])
            i++;
        if (i == len)
            return k;
    }
    return NSCHEMES;
}

enum gw_url_scheme gw_url_scheme_of(const char *s, size_t n)
{
    size_t len = scheme_len(s, n);
    if (len == 0)
        return GW_URL_NONE;
    size_t k = scheme_index(s, len);
    return k < NSCHEMES ? schemes[k].scheme : GW_URL_OTHER;
}

/* The first of the characters of `stop` in s[from..n), or n. */
static size_t find_any(const char *s, size_t n, size_t from, const char *stop)
{
    while (from < n && (s[from] == '\0' || strchr(stop, s[from]) == NULL))
        from++;
    return from;
}

/* What may follow the authority: each part runs to one of `stop` and may hold pchar, the
 * characters of `extra` and escapes (RFC 3986 sections 3.3 to 3.5). */
struct part_rule {
    const char *stop;
    const char *extra;
    const char *bad_char;
    const char *bad_escape;
};

static const struct part_rule path_rule = {"?#", "/",
                                           "invalid character in the path (percent-encode it)",
                                           "malformed percent-escape in the path"};
static const struct part_rule query_rule = {"#", "/?",
                                            "invalid character in the query (percent-encode it)",
                                            "malformed percent-escape in the query"};
static const struct part_rule fragment_rule = {
    "", "/?", "invalid character in the fragment (percent-encode it)",
    "malformed percent-escape in the fragment"};

/* Takes the part at s[*pos] up to r->stop into *part and *len, moves *pos past it and returns
 * NULL or what is wrong with it. */
static const char *take_part(const char *s, size_t n, size_t *pos, const struct part_rule *r,
                             const char **part, size_t *len)
{
    size_t end = find_any(s, n, *pos, r->stop);
    *part = s + *pos;
    *len = end - *pos;
    *pos = end;
    return check_part(*part, *len, r->extra, r->bad_char, r->bad_escape);
}

/* The database number of a Redis URL's path ("", "/" or "/DB"); NULL or what is wrong. */
static const char *parse_db(const char *p, size_t n, uint32_t *db)
{
    unsigned long v = 0;
    *db = 0;
    if (n <= 1)
        return NULL;
    for (size_t i = 1; i < n; i++) {
        if (!is_digit((unsigned char)p[i]))
            return "invalid database number after \"/\" (0 to 100000)";
        v = v * 10 + (unsigned long)(p[i] - '0');
        if (v > GW_URL_REDIS_MAX_DB)
            return "invalid database number after \"/\" (0 to 100000)";
    }
    *db = (uint32_t)v;
    return NULL;
}

static const char *parse_url(const char *s, size_t n, struct gw_url *u)
{
    const char *why;
    memset(u, 0, sizeof(*u));

    size_t slen = scheme_len(s, n);
    if (slen == 0)
        return "not a URL (expected scheme://host, e.g. \"http://10.0.0.5:8080\")";
    size_t k = scheme_index(s, slen);
    if (k == NSCHEMES) {
        u->scheme = GW_URL_OTHER;
        return "unsupported scheme (http, https, redis or rediss)";
    }
    u->scheme = schemes[k].scheme;

    /* authority: up to the first "/", "?" or "#"; userinfo: up to its last "@" */
    size_t a = slen + 3;
    size_t a_end = find_any(s, n, a, "/?#");
    size_t at = a_end;
    while (at > a && s[at - 1] != '@')
        at--;
    if (at > a) {
        size_t ui_end = at - 1;
        size_t colon = find_any(s, ui_end, a, ":");
        u->user = s + a;
        u->user_len = colon - a;
        if (colon < ui_end) {
            u->password = s + colon + 1;
            u->password_len = ui_end - colon - 1;
        }
        why = check_part(s + a, ui_end - a, "",
                         "invalid character in the user or password (percent-encode it)",
                         "malformed percent-escape in the user or password");
        if (why != NULL)
            return why;
        a = at;
    }
    u->authority = s + a;
    u->authority_len = a_end - a;
    why = parse_authority(s + a, a_end - a, &u->host);
    if (why != NULL)
        return why;
    if (u->host.host_len == 0)
        return schemes[k].no_host;
    u->port = u->host.has_port ? u->host.port : schemes[k].port;

    size_t pos = a_end;
    why = take_part(s, n, &pos, &path_rule, &u->path, &u->path_len);
    if (why == NULL && pos < n && s[pos] == '?') {
        pos++;
        why = take_part(s, n, &pos, &query_rule, &u->query, &u->query_len);
    }
    if (why == NULL && pos < n) {
        pos++; /* the "#" */
        why = take_part(s, n, &pos, &fragment_rule, &u->fragment, &u->fragment_len);
    }
    if (why != NULL)
        return why;
    if (u->scheme == GW_URL_REDIS || u->scheme == GW_URL_REDISS)
        return parse_db(u->path, u->path_len, &u->db);
    return NULL;
}

int gw_url_parse(const char *s, size_t n, struct gw_url *u, const char **why)
{
    *why = parse_url(s, n, u);
    return *why == NULL ? 0 : GW_EINVAL;
}

/* ---- helpers ----------------------------------------------------------------------------- */

char *gw_url_decode_dup(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    size_t k = 0;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && escape_at(s, n, i)) {
            out[k++] = (char)(gw_hex_digit((unsigned char)s[i + 1]) * 16 +
                              gw_hex_digit((unsigned char)s[i + 2]));
            i += 2;
        } else {
            out[k++] = s[i];
        }
    }
    out[k] = '\0';
    return out;
}

/* Appends s[0..n) to out[0..cap) at *o, keeping room for the NUL. */
static void put(char *out, size_t cap, size_t *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n && *o + 1 < cap; i++)
        out[(*o)++] = s[i];
}

void gw_url_redact(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0, from = 0, at = n;

    while (at > 0 && s[at - 1] != '@')
        at--;
    if (at == 0) {
        put(out, cap, &o, s, n);
    } else {
        /* A "://" before the first "@" ends what is kept; without one, all of it goes. */
        const char *first = memchr(s, '@', n);
        size_t first_at = (size_t)(first - s);
        for (size_t i = 0; i + 3 <= first_at; i++) {
            if (memcmp(s + i, "://", 3) == 0) {
                from = i + 3;
                break;
            }
        }
        put(out, cap, &o, s, from);
        put(out, cap, &o, "***", 3);
        put(out, cap, &o, s + at - 1, n - (at - 1));
    }
    out[o] = '\0';
}
