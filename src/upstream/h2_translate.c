/*
 * The translation of the HTTP/1.1 request head the proxy builds into the fields of an HTTP/2
 * request (upstream/h2_upstream.h): pure, for HTTP/2 upstreams over h2c and TLS alike
 * (upstream/h2_upstream.c), the unit tests and fuzz/fuzz_h2_client.c.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "h2/grpc.h"
#include "upstream/h2_upstream.h"

/* Connection-specific fields are not forwarded (RFC 9113 8.2.2), nor Host (:authority). */
static bool skip_field(const char *n, size_t len)
{
    return (len == 10 && strncasecmp(n, "connection", 10) == 0) ||
           (len == 10 && strncasecmp(n, "keep-alive", 10) == 0) ||
           (len == 16 && strncasecmp(n, "proxy-connection", 16) == 0) ||
           (len == 17 && strncasecmp(n, "transfer-encoding", 17) == 0) ||
           (len == 7 && strncasecmp(n, "upgrade", 7) == 0) ||
           (len == 4 && strncasecmp(n, "host", 4) == 0);
}

int gw_h2up_translate_head(const char *head, size_t len, bool https, uint64_t max_timeout_ms,
                           struct gw_h2up_head *out)
{
    memset(out, 0, sizeof *out);
    const char *end = head + len;
    const char *sp1 = memchr(head, ' ', len);
    const char *eol = memchr(head, '\n', len);
    if (!sp1 || !eol || sp1 > eol)
        return GW_EREQLINE;
    const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
    if (!sp2 || sp1 == head || sp2 == sp1 + 1)
        return GW_EREQLINE;
    size_t n = 0;
    out->f[n++] = (struct gw_h2c_field){":method", 7, head, (size_t)(sp1 - head)};
    out->f[n++] = (struct gw_h2c_field){":scheme", 7, https ? "https" : "http", https ? 5u : 4u};
    size_t authority_at = n++;
    out->f[n++] = (struct gw_h2c_field){":path", 5, sp1 + 1, (size_t)(sp2 - sp1 - 1)};
    out->head_method = sp1 - head == 4 && memcmp(head, "HEAD", 4) == 0;
    bool have_authority = false;
    char *lw = out->lower;
    size_t lw_used = 0;
    for (const char *p = eol + 1; p < end;) {
        const char *le = memchr(p, '\n', (size_t)(end - p));
        if (!le)
            return GW_EHDRNOCOLON;
        const char *line_end = le > p && le[-1] == '\r' ? le - 1 : le;
        if (line_end == p)
            break; /* the empty line */
        const char *colon = memchr(p, ':', (size_t)(line_end - p));
        if (!colon || colon == p)
            return GW_EHDRNOCOLON;
        size_t nlen = (size_t)(colon - p);
        const char *v = colon + 1;
        while (v < line_end && (*v == ' ' || *v == '\t'))
            v++;
        size_t vlen = (size_t)(line_end - v);
        while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
            vlen--;
        if (nlen == 4 && strncasecmp(p, "host", 4) == 0 && !have_authority) {
            out->f[authority_at] = (struct gw_h2c_field){":authority", 10, v, vlen};
            have_authority = true;
        }
        if (nlen == 14 && strncasecmp(p, "content-length", 14) == 0) {
            uint64_t cl = 0;
            for (size_t i = 0; i < vlen; i++) {
                if (v[i] < '0' || v[i] > '9' || cl > UINT64_MAX / 10 - 10)
                    return GW_ECLINVALID;
                cl = cl * 10 + (uint64_t)(v[i] - '0');
            }
            out->body = GW_H2UP_BODY_LENGTH;
            out->length = cl;
        } else if (nlen == 17 && strncasecmp(p, "transfer-encoding", 17) == 0) {
            out->body = GW_H2UP_BODY_CHUNKED;
        } else if (nlen == 12 && strncasecmp(p, "content-type", 12) == 0 &&
                   gw_grpc_is_content_type(v, vlen)) {
            out->grpc = true;
        }
        bool keep = !skip_field(p, nlen);
        /* TE: only "trailers" may cross into HTTP/2 (RFC 9113 8.2.2); gRPC needs it. */
        if (nlen == 2 && strncasecmp(p, "te", 2) == 0)
            keep = vlen == 8 && strncasecmp(v, "trailers", 8) == 0;
        if (nlen == 12 && strncasecmp(p, "grpc-timeout", 12) == 0) {
            uint64_t ms;
            keep = false;
            if (gw_grpc_timeout_parse(v, vlen, &ms) == 0)
                out->timeout_ms = ms;
        }
        if (keep) {
            if (n >= GW_H2UP_MAX_FIELDS || lw_used + nlen > sizeof out->lower)
                return GW_ETOOMANYHDRS;
            for (size_t i = 0; i < nlen; i++)
                lw[lw_used + i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] - 'A' + 'a' : p[i]);
            out->f[n++] = (struct gw_h2c_field){lw + lw_used, nlen, v, vlen};
            lw_used += nlen;
            out->te_trailers |= nlen == 2 && memcmp(lw + lw_used - 2, "te", 2) == 0;
        }
        p = le + 1;
    }
    if (!have_authority)
        return GW_EHDRVALUE;
    if (out->grpc && !out->te_trailers) {
        if (n >= GW_H2UP_MAX_FIELDS)
            return GW_ETOOMANYHDRS;
        out->f[n++] = (struct gw_h2c_field){"te", 2, "trailers", 8};
    }
    /* grpc-timeout: a deadline no longer than the service's upstream response timeout. */
    if (out->timeout_ms || (out->grpc && max_timeout_ms)) {
        if (!out->timeout_ms || (max_timeout_ms && out->timeout_ms > max_timeout_ms))
            out->timeout_ms = max_timeout_ms;
        if (n >= GW_H2UP_MAX_FIELDS)
            return GW_ETOOMANYHDRS;
        size_t k = gw_grpc_timeout_format(out->timeout_ms, out->timeout, sizeof out->timeout);
        if (out->grpc)
            out->f[n++] = (struct gw_h2c_field){"grpc-timeout", 12, out->timeout, k};
    }
    out->n = n;
    return 0;
}
