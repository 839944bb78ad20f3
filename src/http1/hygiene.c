#include "http1/hygiene.h"

#include <strings.h>

#include "http1/chars.h"

bool gw_http1_is_hop_by_hop(const char *name, size_t len)
{
    switch (len) {
    case 2:
        return gw__ieq(name, len, "te", 2);
    case 7:
        return gw__ieq(name, len, "upgrade", 7) || gw__ieq(name, len, "trailer", 7);
    case 10:
        return gw__ieq(name, len, "connection", 10) || gw__ieq(name, len, "keep-alive", 10);
    case 14:
        return gw__ieq(name, len, "content-length", 14);
    case 16:
        return gw__ieq(name, len, "proxy-connection", 16);
    case 17:
        return gw__ieq(name, len, "transfer-encoding", 17);
    case 18:
        return gw__ieq(name, len, "proxy-authenticate", 18);
    case 19:
        return gw__ieq(name, len, "proxy-authorization", 19);
    default:
        return false;
    }
}

void gw_http1_connection_tokens(const struct gw_http1_message *m, struct gw_connection_tokens *t)
{
    t->count = 0;
    t->overflow = false;
    for (uint32_t i = 0; i < m->num_headers; i++) {
        const struct gw_http1_header *h = &m->headers[i];
        if (h->name_len != 10 || !gw__ieq(h->name, 10, "connection", 10))
            continue;
        const char *p = h->value;
        const char *end = p + h->value_len;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
                p++;
            const char *s = p;
            while (p < end && *p != ',' && *p != ' ' && *p != '\t')
                p++;
            size_t n = (size_t)(p - s);
            if (n == 0 || gw__ieq(s, n, "close", 5) || gw__ieq(s, n, "keep-alive", 10))
                continue;
            if (t->count == GW_HTTP1_MAX_CONNECTION_TOKENS) {
                t->overflow = true;
                return;
            }
            t->name[t->count] = s;
            t->len[t->count] = n;
            t->count++;
        }
    }
}

bool gw_http1_connection_lists(const struct gw_connection_tokens *t, const char *name, size_t len)
{
    for (size_t i = 0; i < t->count; i++)
        if (t->len[i] == len && strncasecmp(t->name[i], name, len) == 0)
            return true;
    return false;
}
