/*
 * Reading a request's API version from its headers, its Accept media-type parameters and its
 * query (policy/version.h). Everything here reads client bytes: bounded, no allocation.
 */
#include "policy/version.h"

#include <string.h>
#include <time.h>

#include "core/error.h"

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

static bool ieq(const char *a, size_t an, const char *b, size_t bn)
{
    if (an != bn)
        return false;
    for (size_t i = 0; i < an; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
    return true;
}

bool gw_version_token(const char *s, size_t n)
{
    if (n == 0 || n > GW_VERSION_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = (c >= '0' && c <= '9') || (lower(c) >= 'a' && lower(c) <= 'z') || c == '.' ||
                  c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static bool ows(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 9110 5.6.6: parameters = *( OWS ";" OWS [ parameter ] ), parameter = name "=" value,
 * value = token / quoted-string. Scans one media range [p, end) for name. */
static bool range_param(const char *p, const char *end, const char *name, size_t name_len,
                        const char **val, size_t *val_len)
{
    const char *semi = memchr(p, ';', (size_t)(end - p));
    while (semi != NULL) {
        p = semi + 1;
        while (p < end && ows(*p))
            p++;
        const char *eq = p;
        while (eq < end && *eq != '=' && *eq != ';')
            eq++;
        if (eq == end || *eq == ';') {
            semi = eq < end ? eq : NULL;
            continue;
        }
        const char *ne = eq;
        while (ne > p && ows(ne[-1]))
            ne--;
        const char *v = eq + 1;
        while (v < end && ows(*v))
            v++;
        const char *ve;
        bool match = ieq(p, (size_t)(ne - p), name, name_len);
        if (v < end && *v == '"') {
            ve = v + 1;
            bool escaped = false;
            while (ve < end && *ve != '"') {
                escaped |= *ve == '\\';
                ve += *ve == '\\' && ve + 1 < end ? 2 : 1;
            }
            if (ve >= end)
                return false; /* unterminated quoted-string: the field is malformed */
            if (match) {
                if (escaped)
                    return false;
                *val = v + 1;
                *val_len = (size_t)(ve - v - 1);
                return true;
            }
            ve++;
        } else {
            ve = v;
            while (ve < end && *ve != ';' && *ve != ',' && *ve != '"' && !ows(*ve))
                ve++;
            if (match) {
                *val = v;
                *val_len = (size_t)(ve - v);
                return true;
            }
        }
        semi = memchr(ve, ';', (size_t)(end - ve));
    }
    return false;
}

/* The end of the media range starting at p: the next ',' outside a quoted-string. */
static const char *range_end(const char *p, const char *end)
{
    bool quoted = false;
    for (; p < end; p++) {
        if (quoted && *p == '\\' && p + 1 < end)
            p++;
        else if (*p == '"')
            quoted = !quoted;
        else if (*p == ',' && !quoted)
            return p;
    }
    return end;
}

bool gw_version_accept_param(const char *v, size_t n, const char *name, size_t name_len,
                             const char **val, size_t *val_len)
{
    const char *p = v, *end = v + n;
    while (p < end) {
        const char *re = range_end(p, end);
        if (range_param(p, re, name, name_len, val, val_len))
            return true;
        p = re + 1;
    }
    return false;
}

/* The value of parameter name in query "?a=1&b=2" (raw, not percent-decoded). */
static bool query_param(const char *q, size_t n, const char *name, const char **val,
                        size_t *val_len)
{
    size_t name_len = strlen(name);
    size_t i = (n > 0 && q[0] == '?') ? 1 : 0;
    while (i < n) {
        size_t e = i;
        while (e < n && q[e] != '&')
            e++;
        if (e - i > name_len && q[i + name_len] == '=' && memcmp(q + i, name, name_len) == 0) {
            *val = q + i + name_len + 1;
            *val_len = e - i - name_len - 1;
            return true;
        }
        i = e + 1;
    }
    return false;
}

static bool from_header(const struct gw_versioning_conf *vc, const struct gw_http1_message *m,
                        const char **ver, size_t *ver_len)
{
    for (size_t k = 0; k < vc->nheaders; k++) {
        int i = gw_http1_find_header(m, vc->headers[k], strlen(vc->headers[k]));
        if (i >= 0) {
            *ver = m->headers[i].value;
            *ver_len = m->headers[i].value_len;
            return true;
        }
    }
    return false;
}

static bool from_accept(const struct gw_versioning_conf *vc, const struct gw_http1_message *m,
                        const char **ver, size_t *ver_len)
{
    size_t pl = strlen(vc->accept_param);
    for (uint32_t i = 0; i < m->num_headers; i++) {
        const struct gw_http1_header *h = &m->headers[i];
        if (ieq(h->name, h->name_len, "accept", 6) &&
            gw_version_accept_param(h->value, h->value_len, vc->accept_param, pl, ver, ver_len))
            return true;
    }
    return false;
}

bool gw_version_extract(const struct gw_versioning_conf *vc, const struct gw_http1_message *m,
                        const char *query, size_t query_len, const char **ver, size_t *ver_len)
{
    for (size_t k = 0; k < vc->norder; k++) {
        bool found = false;
        switch (vc->order[k]) {
        case GW_VSRC_HEADER:
            found = from_header(vc, m, ver, ver_len);
            break;
        case GW_VSRC_ACCEPT:
            found = from_accept(vc, m, ver, ver_len);
            break;
        case GW_VSRC_QUERY:
            found = query != NULL && query_param(query, query_len, vc->query, ver, ver_len);
            break;
        default: /* GW_VSRC_PATH: the router's */
            break;
        }
        if (found)
            return true;
    }
    return false;
}

static bool digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

int gw_version_parse_time(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, sec;
    if (strlen(s) != 20 || s[4] != '-' || s[7] != '-' ||
        (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':' ||
        (s[19] != 'Z' && s[19] != 'z'))
        return GW_EINVAL;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &sec))
        return GW_EINVAL;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return GW_EINVAL;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || tm.tm_mday != d) /* 2026-02-30 rolls over: refused */
        return GW_EINVAL;
    *out = (int64_t)t;
    return 0;
}
