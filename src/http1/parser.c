/*
 * Message-head parser: start line and header fields, line by line.
 *
 * Each call resumes at the first line not yet parsed and searches for LF only in bytes it
 * has not searched before (p->scanned), so feeding a head one byte at a time costs O(n).
 * A line is validated as a whole once its LF arrives; until then only the size limits are
 * checked, which bounds what a client can make us hold. Offsets, not pointers, are kept
 * between calls because the caller's buffer may move; pointers are filled in on DONE.
 */
#include "http1/parser.h"

#include <string.h>
#include <strings.h>

#include "http1/chars.h"
#include "http1/internal.h"

enum {
    S_START_LINE = 0,
    S_HEADERS,
    S_DONE,
};

static void parser_init(struct gw_http1_parser *p, const struct gw_http1_limits *lim)
{
    memset(p, 0, sizeof(*p));
    if (lim) {
        p->limits = *lim;
    }
    if (p->limits.max_request_line == 0)
        p->limits.max_request_line = GW_HTTP1_DEFAULT_MAX_REQUEST_LINE;
    if (p->limits.max_header_bytes == 0)
        p->limits.max_header_bytes = GW_HTTP1_DEFAULT_MAX_HEADER_BYTES;
    if (p->limits.max_headers == 0)
        p->limits.max_headers = GW_HTTP1_DEFAULT_MAX_HEADERS;
}

void gw_http1_parser_init_request(struct gw_http1_parser *p, const struct gw_http1_limits *lim)
{
    parser_init(p, lim);
}

void gw_http1_parser_init_response(struct gw_http1_parser *p, const struct gw_http1_limits *lim,
                                   enum gw_http_method request_method)
{
    parser_init(p, lim);
    p->is_response = true;
    p->request_method = request_method;
}

enum gw_http_method gw_http_method_id(const char *s, size_t len)
{
    /* Methods are case-sensitive (RFC 9110 9.1). */
    switch (len) {
    case 3:
        if (memcmp(s, "GET", 3) == 0)
            return GW_METHOD_GET;
        if (memcmp(s, "PUT", 3) == 0)
            return GW_METHOD_PUT;
        break;
    case 4:
        if (memcmp(s, "POST", 4) == 0)
            return GW_METHOD_POST;
        if (memcmp(s, "HEAD", 4) == 0)
            return GW_METHOD_HEAD;
        break;
    case 5:
        if (memcmp(s, "PATCH", 5) == 0)
            return GW_METHOD_PATCH;
        if (memcmp(s, "TRACE", 5) == 0)
            return GW_METHOD_TRACE;
        break;
    case 6:
        if (memcmp(s, "DELETE", 6) == 0)
            return GW_METHOD_DELETE;
        break;
    case 7:
        if (memcmp(s, "OPTIONS", 7) == 0)
            return GW_METHOD_OPTIONS;
        if (memcmp(s, "CONNECT", 7) == 0)
            return GW_METHOD_CONNECT;
        break;
    default:
        break;
    }
    return GW_METHOD_OTHER;
}

/* "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 2.3). A 1.x with x > 1 is served as
 * 1.1 (RFC 9110 6.2: minor versions only add capabilities); any other major is 505. */
static int parse_version(const char *s, size_t n, int *minor)
{
    if (n != 8 || memcmp(s, "HTTP/", 5) != 0 || s[5] < '0' || s[5] > '9' || s[6] != '.' ||
        s[7] < '0' || s[7] > '9')
        return GW_EVERSION;
    if (s[5] != '1')
        return GW_EVERSIONUNSUP;
    *minor = s[7] == '0' ? 0 : 1;
    return 0;
}

/* authority-form for CONNECT: uri-host ":" port (RFC 9112 3.2.3). */
static int valid_authority_form(const char *s, size_t n)
{
    const char *colon = NULL;
    for (size_t i = n; i > 0; i--) {
        if (s[i - 1] == ':') {
            colon = s + i - 1;
            break;
        }
    }
    if (!colon || colon == s || colon + 1 == s + n)
        return 0;
    return gw__http1_valid_host(s, n);
}

/* absolute-form: scheme "://" authority path-abempty [ "?" query ]. Only http and https. */
static int valid_absolute_form(const char *s, size_t n)
{
    size_t skip;
    if (n > 7 && gw__ieq(s, 7, "http://", 7))
        skip = 7;
    else if (n > 8 && gw__ieq(s, 8, "https://", 8))
        skip = 8;
    else
        return 0;
    const char *auth = s + skip;
    const char *end = s + n;
    const char *q = auth;
    while (q < end && *q != '/' && *q != '?')
        q++;
    return q > auth && gw__http1_valid_host(auth, (size_t)(q - auth));
}

static int check_target_form(enum gw_http_method method, const char *t, size_t n)
{
    if (method == GW_METHOD_CONNECT)
        return valid_authority_form(t, n) ? 0 : GW_ETARGET;
    if (t[0] == '/')
        return 0;
    if (n == 1 && t[0] == '*')
        return method == GW_METHOD_OPTIONS ? 0 : GW_ETARGET;
    return valid_absolute_form(t, n) ? 0 : GW_ETARGET;
}

/* request-line = method SP request-target SP HTTP-version (RFC 9112 3) */
static int parse_request_line(struct gw_http1_parser *p, const char *buf, size_t start, size_t n,
                              struct gw_http1_message *m)
{
    const char *s = buf + start;
    const char *end = s + n;
    const char *q = s;

    while (q < end && gw__is_tchar((unsigned char)*q))
        q++;
    if (q == s)
        return (q < end && *q == ' ') ? GW_EREQLINE : GW_EMETHOD;
    if (q == end)
        return GW_EREQLINE;
    if (*q != ' ')
        return *q == '\r' ? GW_EBARECR : GW_EMETHOD;
    m->method_len = (uint32_t)(q - s);
    m->method_id = gw_http_method_id(s, m->method_len);
    p->method_off = (uint32_t)start;

    const char *t = ++q;
    /* Stops at the first byte that is not VCHAR, or at '#': a fragment is refused. */
    size_t tn = gw__scan_target(t, end);
    if (tn == 0) {
        if (t == end || *t == ' ')
            return GW_EREQLINE;
        return *t == '\r' ? GW_EBARECR : GW_ETARGET;
    }
    q = t + tn;
    if (q == end)
        return GW_EREQLINE;
    if (*q != ' ')
        return *q == '\r' ? GW_EBARECR : GW_ETARGET;
    int rc = check_target_form(m->method_id, t, tn);
    if (rc < 0)
        return rc;
    m->target_len = (uint32_t)tn;
    p->target_off = (uint32_t)(t - buf);

    q++;
    if (memchr(q, ' ', (size_t)(end - q)))
        return GW_EREQLINE;
    if (memchr(q, '\r', (size_t)(end - q)))
        return GW_EBARECR;
    return parse_version(q, (size_t)(end - q), &m->minor_version);
}

/* status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 4) */
static int parse_status_line(struct gw_http1_parser *p, const char *buf, size_t start, size_t n,
                             struct gw_http1_message *m)
{
    const char *s = buf + start;
    if (n < 13 || s[8] != ' ' || s[12] != ' ')
        return GW_ESTATUSLINE;
    if (parse_version(s, 8, &m->minor_version) < 0)
        return GW_ESTATUSLINE;
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (s[i] < '0' || s[i] > '9')
            return GW_ESTATUSLINE;
        status = status * 10 + (s[i] - '0');
    }
    if (status < 100 || status > 599)
        return GW_ESTATUSLINE;
    m->status = status;

    /* reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ) */
    const char *r = s + 13;
    const char *end = s + n;
    const char *q = r;
    while (q < end) {
        q += gw__scan_ctl(q, end);
        if (q == end)
            break;
        if (*q != '\t')
            return *q == '\r' ? GW_EBARECR : GW_ESTATUSLINE;
        q++;
    }
    p->target_off = (uint32_t)(r - buf);
    m->reason_len = (uint32_t)(end - r);
    return 0;
}

/* field-line = field-name ":" OWS field-value OWS (RFC 9112 5) */
static int parse_header_line(struct gw_http1_parser *p, const char *buf, size_t start, size_t n,
                             struct gw_http1_message *m)
{
    const char *s = buf + start;
    const char *end = s + n;

    /* RFC 9112 5.2: a server MUST reject obs-fold (a line starting with whitespace) unless
     * it replaces it; in a proxy, rejecting is the only safe choice. */
    if (*s == ' ' || *s == '\t')
        return GW_EOBSFOLD;

    const char *q = s;
    while (q < end && gw__is_tchar((unsigned char)*q))
        q++;
    if (q == end)
        return GW_EHDRNOCOLON;
    if (*q != ':') {
        if (*q == ' ' || *q == '\t') {
            /* RFC 9112 5.1: no whitespace is allowed between the field name and colon. */
            const char *r = q;
            while (r < end && (*r == ' ' || *r == '\t'))
                r++;
            return (r < end && *r == ':') ? GW_EHDRCOLONWS : GW_EHDRNAME;
        }
        return *q == '\r' ? GW_EBARECR : GW_EHDRNAME;
    }
    if (q == s)
        return GW_EHDRNAME;

    uint32_t cap =
        m->headers_capacity < p->limits.max_headers ? m->headers_capacity : p->limits.max_headers;
    if (m->num_headers >= cap)
        return GW_ETOOMANYHDRS;

    const char *v = q + 1;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    const char *w = v;
    while (w < end) {
        w += gw__scan_ctl(w, end);
        if (w == end)
            break;
        if (*w != '\t')
            return *w == '\r' ? GW_EBARECR : GW_EHDRVALUE;
        w++;
    }
    const char *vend = end;
    while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
        vend--;

    struct gw_http1_header *h = &m->headers[m->num_headers++];
    h->name_off = (uint32_t)start;
    h->name_len = (uint32_t)(q - s);
    h->value_off = (uint32_t)(v - buf);
    h->value_len = (uint32_t)(vend - v);
    return 0;
}

static void fill_pointers(const struct gw_http1_parser *p, const char *buf,
                          struct gw_http1_message *m)
{
    if (p->is_response) {
        m->reason = buf + p->target_off;
    } else {
        m->method = buf + p->method_off;
        m->target = buf + p->target_off;
    }
    for (uint32_t i = 0; i < m->num_headers; i++) {
        struct gw_http1_header *h = &m->headers[i];
        h->name = buf + h->name_off;
        h->value = buf + h->value_off;
    }
}

/* Limits checked while a line is still incomplete, so a peer cannot make us buffer more
 * than the limits by withholding LF. Complete lines are checked in parse_head with the same
 * arithmetic, which keeps the result independent of how the input was split. */
static int check_incomplete(const struct gw_http1_parser *p, size_t len)
{
    if (p->state == S_START_LINE) {
        if (len > p->limits.max_request_line)
            return p->is_response ? GW_ESTATUSLINE : GW_EURITOOLONG;
    } else if (len - p->block_start > p->limits.max_header_bytes) {
        return GW_EHDRTOOLARGE;
    }
    return GW_HTTP1_PARTIAL;
}

static int parse_head(struct gw_http1_parser *p, const char *buf, size_t len,
                      struct gw_http1_message *m)
{
    if (p->state == S_DONE)
        return GW_EINVAL;
    for (;;) {
        size_t start = p->line_start;
        size_t from = p->scanned > start ? p->scanned : start;
        const char *lf = from < len ? memchr(buf + from, '\n', len - from) : NULL;
        if (!lf) {
            p->scanned = (uint32_t)(len < UINT32_MAX ? len : UINT32_MAX);
            return check_incomplete(p, len);
        }
        size_t lf_off = (size_t)(lf - buf);
        /* Limits before syntax: an incomplete line over a limit fails with the limit's
         * code, so the complete line must too, or the result would depend on the split. */
        if (p->state == S_START_LINE) {
            if (lf_off + 1 > p->limits.max_request_line)
                return p->is_response ? GW_ESTATUSLINE : GW_EURITOOLONG;
        } else if (lf_off + 1 - p->block_start > p->limits.max_header_bytes) {
            return GW_EHDRTOOLARGE;
        }
        if (lf_off == start || buf[lf_off - 1] != '\r')
            return GW_EBARELF;
        size_t n = lf_off - 1 - start; /* line without CRLF */
        int rc;

        if (p->state == S_START_LINE) {
            if (n == 0) {
                /* RFC 9112 2.2: a server SHOULD ignore at least one empty line received
                 * before the request-line. Responses get no such grace. */
                if (p->is_response)
                    return GW_ESTATUSLINE;
                p->line_start = p->scanned = (uint32_t)(lf_off + 1);
                continue;
            }
            m->num_headers = 0;
            rc = p->is_response ? parse_status_line(p, buf, start, n, m)
                                : parse_request_line(p, buf, start, n, m);
            if (rc < 0)
                return rc;
            p->state = S_HEADERS;
            p->block_start = (uint32_t)(lf_off + 1);
        } else {
            if (n == 0) {
                m->head_len = lf_off + 1;
                p->state = S_DONE;
                fill_pointers(p, buf, m);
                return p->is_response ? gw__http1_frame_response(p, m) : gw__http1_frame_request(m);
            }
            rc = parse_header_line(p, buf, start, n, m);
            if (rc < 0)
                return rc;
        }
        p->line_start = p->scanned = (uint32_t)(lf_off + 1);
    }
}

int gw_http1_parse_request(struct gw_http1_parser *p, const char *buf, size_t len,
                           struct gw_http1_message *m)
{
    return parse_head(p, buf, len, m);
}

int gw_http1_parse_response(struct gw_http1_parser *p, const char *buf, size_t len,
                            struct gw_http1_message *m)
{
    return parse_head(p, buf, len, m);
}

int gw_http1_find_header(const struct gw_http1_message *m, const char *name, size_t name_len)
{
    for (uint32_t i = 0; i < m->num_headers; i++) {
        const struct gw_http1_header *h = &m->headers[i];
        if (h->name_len == name_len && strncasecmp(h->name, name, name_len) == 0)
            return (int)i;
    }
    return -1;
}
