/*
 * Framing decisions for a complete message head: where the body ends, whether the
 * connection may carry another message. Every rule that guards against request smuggling
 * (RFC 9112 6.1, 6.3; RFC 9110 8.6) is in this file, so it can be read in one place.
 *
 * Requests are held to the strictest reading: anything a downstream parser could read
 * differently from us is refused rather than repaired, because gantry re-frames what it
 * forwards and a refused request costs one 400 while a misread one costs a smuggled one.
 */
#include <stdbool.h>
#include <stdint.h>

#include "http1/chars.h"
#include "http1/internal.h"

/* Iterator over a #list (RFC 9110 5.6.1): elements separated by commas and optional
 * whitespace. Empty elements are returned with n == 0 so callers can decide. */
struct list_iter {
    const char *p;
    const char *end;
    bool done;
};

static bool list_next(struct list_iter *it, const char **s, size_t *n)
{
    if (it->done)
        return false;
    const char *p = it->p;
    while (p < it->end && (*p == ' ' || *p == '\t'))
        p++;
    const char *e = p;
    while (e < it->end && *e != ',')
        e++;
    const char *t = e;
    while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
        t--;
    *s = p;
    *n = (size_t)(t - p);
    if (e == it->end)
        it->done = true;
    else
        it->p = e + 1;
    return true;
}

/* Content-Length = 1*DIGIT, at most INT64_MAX. */
static int parse_content_length(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0)
        return GW_ECLINVALID;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return GW_ECLINVALID;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (INT64_MAX - d) / 10)
            return GW_ECLOVERFLOW;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int gw__http1_valid_host(const char *s, size_t n)
{
    const char *end = s + n;
    const char *p = s;
    if (n == 0)
        return 0;
    if (*p == '[') {
        /* IP-literal: hex digits, colons and dots of IPv6, or an IPvFuture. */
        p++;
        while (p < end && *p != ']') {
            unsigned char c = (unsigned char)*p;
            if (!(gw__http1_chars[c] & GW__CH_HEX) && c != ':' && c != '.' && c != 'v' && c != 'V')
                return 0;
            p++;
        }
        if (p == end || p == s + 1)
            return 0;
        p++;
    } else {
        while (p < end && *p != ':') {
            unsigned char c = (unsigned char)*p;
            if (!(gw__http1_chars[c] & GW__CH_HOST) || c == '[' || c == ']')
                return 0;
            p++;
        }
        if (p == s)
            return 0;
    }
    if (p == end)
        return 1;
    if (*p != ':')
        return 0;
    /* port = *DIGIT, and it must fit a port number */
    unsigned port = 0;
    for (p++; p < end; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        port = port * 10 + (unsigned)(*p - '0');
        if (port > 65535)
            return 0;
    }
    return 1;
}

/* What the framing headers of one message said. */
struct framing {
    bool cl_seen;
    bool te_seen;
    bool te_invalid; /* an element that is not a token, or an empty field */
    bool te_unknown; /* a coding other than chunked */
    bool te_final_chunked;
    unsigned te_chunked; /* how many times chunked was applied */
    bool conn_close;
    bool conn_keep_alive;
    bool conn_upgrade;
    bool has_upgrade;
    uint64_t cl;
};

static int read_transfer_encoding(struct framing *f, const struct gw_http1_header *h)
{
    struct list_iter it = {h->value, h->value + h->value_len, false};
    const char *s;
    size_t n;
    f->te_seen = true;
    if (h->value_len == 0)
        f->te_invalid = true;
    while (list_next(&it, &s, &n)) {
        if (n == 0) {
            f->te_invalid = true;
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            if (!gw__is_tchar((unsigned char)s[i])) {
                f->te_invalid = true;
                break;
            }
        }
        f->te_final_chunked = gw__ieq(s, n, "chunked", 7);
        if (f->te_final_chunked)
            f->te_chunked++;
        else
            f->te_unknown = true;
    }
    return 0;
}

static void read_connection(struct framing *f, const struct gw_http1_header *h)
{
    struct list_iter it = {h->value, h->value + h->value_len, false};
    const char *s;
    size_t n;
    while (list_next(&it, &s, &n)) {
        if (gw__ieq(s, n, "close", 5))
            f->conn_close = true;
        else if (gw__ieq(s, n, "keep-alive", 10))
            f->conn_keep_alive = true;
        else if (gw__ieq(s, n, "upgrade", 7))
            f->conn_upgrade = true;
    }
}

/* Responses may repeat an identical Content-Length (RFC 9110 8.6); requests may not. */
static int read_content_length(struct framing *f, const struct gw_http1_header *h, bool allow_list)
{
    struct list_iter it = {h->value, h->value + h->value_len, false};
    const char *s;
    size_t n;
    if (!allow_list) {
        if (f->cl_seen)
            return GW_ECLDUP;
        for (uint32_t i = 0; i < h->value_len; i++)
            if (h->value[i] == ',')
                return GW_ECLDUP;
    }
    while (list_next(&it, &s, &n)) {
        uint64_t v;
        int rc = parse_content_length(s, n, &v);
        if (rc < 0)
            return rc;
        if (f->cl_seen && v != f->cl)
            return GW_ECLDUP;
        f->cl = v;
        f->cl_seen = true;
    }
    return 0;
}

/* Decide the transfer-coding outcome once every TE field was read. */
static int check_transfer_coding(const struct framing *f)
{
    if (f->te_invalid || f->te_chunked > 1)
        return GW_ETEINVALID;
    /* RFC 9112 6.3: chunked not final in a request -> MUST answer 400. This outranks the
     * 501 for an unknown coding (6.1, a SHOULD). */
    if (!f->te_final_chunked)
        return GW_ETENOTCHUNKED;
    if (f->te_unknown)
        return GW_ETEUNSUP;
    return 0;
}

/* The 6 bytes at n spell Origin in any case: two loads, not a loop (most requests of browsers
 * have one, among Accept, Cookie and Expect of the same length). Or-ing 0x20 into a token's
 * byte gives a lowercase letter only for that letter in either case. */
static inline bool is_origin(const char *n)
{
    uint32_t a, want_a;
    uint16_t b, want_b;
    memcpy(&a, n, 4);
    memcpy(&b, n + 4, 2);
    memcpy(&want_a, "orig", 4);
    memcpy(&want_b, "in", 2);
    return (a | 0x20202020u) == want_a && (uint16_t)(b | 0x2020u) == want_b;
}

int gw__http1_frame_request(struct gw_http1_message *m)
{
    struct framing f = {0};
    unsigned hosts = 0;
    int rc;

    m->host_index = -1;
    m->origin_index = -1;
    m->expect_continue = false;
    for (uint32_t i = 0; i < m->num_headers; i++) {
        const struct gw_http1_header *h = &m->headers[i];
        switch (h->name_len) {
        case 4:
            if (gw__ieq(h->name, 4, "host", 4)) {
                if (++hosts > 1)
                    return GW_EHOSTDUP;
                m->host_index = (int)i;
                if (h->value_len > 0 && !gw__http1_valid_host(h->value, h->value_len))
                    return GW_EHOSTINVALID;
            }
            break;
        case 6:
            /* Origin: found here, in the pass that happens anyway, for the CORS decision. */
            if (is_origin(h->name)) {
                m->origin_index = m->origin_index == -1 ? (int)i : -2;
                break;
            }
            /* RFC 9110 10.1.1: 100-continue is the only expectation; a 1.0 request's is
             * ignored. */
            if (gw__ieq(h->name, 6, "expect", 6) && m->minor_version == 1) {
                if (!gw__ieq(h->value, h->value_len, "100-continue", 12))
                    return GW_EEXPECT;
                m->expect_continue = true;
            }
            break;
        case 7:
            if (gw__ieq(h->name, 7, "upgrade", 7))
                f.has_upgrade = true;
            break;
        case 10:
            if (gw__ieq(h->name, 10, "connection", 10))
                read_connection(&f, h);
            break;
        case 14:
            if (gw__ieq(h->name, 14, "content-length", 14)) {
                rc = read_content_length(&f, h, false);
                if (rc < 0)
                    return rc;
            }
            break;
        case 17:
            if (gw__ieq(h->name, 17, "transfer-encoding", 17))
                read_transfer_encoding(&f, h);
            break;
        default:
            break;
        }
    }

    if (m->minor_version == 1 && hosts == 0)
        return GW_EHOSTMISSING;

    if (f.te_seen) {
        /* RFC 9112 6.1: TE in a 1.0 message means faulty framing. */
        if (m->minor_version == 0)
            return GW_ETEHTTP10;
        /* RFC 9112 6.1: a server MAY reject CL together with TE; a proxy must, or it
         * forwards the ambiguity. */
        if (f.cl_seen)
            return GW_ECLTE;
        rc = check_transfer_coding(&f);
        if (rc < 0)
            return rc;
        m->body = GW_BODY_CHUNKED;
        m->content_length = 0;
    } else if (f.cl_seen && f.cl > 0) {
        m->body = GW_BODY_LENGTH;
        m->content_length = f.cl;
    } else {
        m->body = GW_BODY_NONE;
        m->content_length = 0;
    }

    if (m->minor_version == 1)
        m->keep_alive = !f.conn_close;
    else
        m->keep_alive = f.conn_keep_alive && !f.conn_close;
    m->upgrade = f.conn_upgrade && f.has_upgrade;
    return 0;
}

int gw_http1_origin_index(const struct gw_http1_message *m)
{
    int at = -1;
    for (uint32_t i = 0; i < m->num_headers; i++) {
        const struct gw_http1_header *h = &m->headers[i];
        if (h->name_len == 6 && is_origin(h->name))
            at = at == -1 ? (int)i : -2;
    }
    return at;
}

int gw__http1_frame_response(const struct gw_http1_parser *p, struct gw_http1_message *m)
{
    struct framing f = {0};
    int rc;

    m->host_index = -1;
    m->origin_index = -1;
    m->expect_continue = false;
    for (uint32_t i = 0; i < m->num_headers; i++) {
        const struct gw_http1_header *h = &m->headers[i];
        if (h->name_len == 10 && gw__ieq(h->name, 10, "connection", 10)) {
            read_connection(&f, h);
        } else if (h->name_len == 14 && gw__ieq(h->name, 14, "content-length", 14)) {
            rc = read_content_length(&f, h, true);
            if (rc < 0)
                return rc;
        } else if (h->name_len == 17 && gw__ieq(h->name, 17, "transfer-encoding", 17)) {
            read_transfer_encoding(&f, h);
        } else if (h->name_len == 7 && gw__ieq(h->name, 7, "upgrade", 7)) {
            f.has_upgrade = true;
        }
    }

    if (m->minor_version == 1)
        m->keep_alive = !f.conn_close;
    else
        m->keep_alive = f.conn_keep_alive && !f.conn_close;
    m->upgrade = m->status == 101 && f.conn_upgrade && f.has_upgrade;
    m->content_length = 0;

    /* RFC 9112 6.3 rules 1 and 2: no body after HEAD, 1xx, 204, 304; a 2xx to CONNECT
     * turns the connection into a tunnel. */
    if (p->request_method == GW_METHOD_HEAD || m->status < 200 || m->status == 204 ||
        m->status == 304) {
        m->body = GW_BODY_NONE;
        return 0;
    }
    if (p->request_method == GW_METHOD_CONNECT && m->status < 300) {
        m->body = GW_BODY_UNTIL_EOF;
        m->keep_alive = false;
        return 0;
    }
    if (f.te_seen) {
        if (m->minor_version == 0)
            return GW_ETEHTTP10;
        if (f.cl_seen)
            return GW_ECLTE;
        if (f.te_invalid || f.te_chunked > 1)
            return GW_ETEINVALID;
        /* RFC 9112 6.3 rule 4: chunked not final in a response: read until close. */
        if (f.te_final_chunked) {
            m->body = GW_BODY_CHUNKED;
        } else {
            m->body = GW_BODY_UNTIL_EOF;
            m->keep_alive = false;
        }
        return 0;
    }
    if (f.cl_seen) {
        m->body = f.cl > 0 ? GW_BODY_LENGTH : GW_BODY_NONE;
        m->content_length = f.cl;
        return 0;
    }
    m->body = GW_BODY_UNTIL_EOF;
    m->keep_alive = false;
    return 0;
}
