#include "http1/upgrade.h"

#include <string.h>

#include "core/error.h"
#include "http1/chars.h"

/* The comma-separated field value (RFC 9110 5.6.1) has the element lit, without regard to case. */
static bool list_has(const char *v, size_t n, const char *lit, size_t lit_len)
{
    const char *p = v, *end = v + n;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        const char *s = p;
        while (p < end && *p != ',')
            p++;
        const char *e = p;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == lit_len && gw__ieq(s, lit_len, lit, lit_len))
            return true;
    }
    return false;
}

enum gw_upgrade gw_http1_upgrade_kind(const struct gw_http1_message *m)
{
    if (!m->upgrade)
        return GW_UPGRADE_NONE;
    bool h2c = false;
    for (uint32_t i = 0; i < m->num_headers; i++) {
        const struct gw_http1_header *h = &m->headers[i];
        if (h->name_len != 7 || !gw__ieq(h->name, 7, "upgrade", 7))
            continue;
        if (list_has(h->value, h->value_len, "websocket", 9))
            return GW_UPGRADE_WEBSOCKET;
        if (list_has(h->value, h->value_len, "h2c", 3))
            h2c = true;
    }
    return h2c ? GW_UPGRADE_H2C : GW_UPGRADE_OTHER;
}

static bool is_b64(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* RFC 6455 4.1: "a base64-encoded value that, when decoded, is 16 bytes in length": 22
 * characters, the last of which carries 2 bits (so A, Q, g or w), then "==". */
static bool valid_key(const char *v, size_t n)
{
    if (n != 24 || v[22] != '=' || v[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++)
        if (!is_b64(v[i]))
            return false;
    return strchr("AQgw", v[21]) != NULL;
}

int gw_http1_ws_check(const struct gw_http1_message *m)
{
    const struct gw_http1_header *key = NULL, *version = NULL;
    if (m->method_id != GW_METHOD_GET || m->minor_version != 1 || m->body != GW_BODY_NONE)
        return GW_EWSHANDSHAKE;
    for (uint32_t i = 0; i < m->num_headers; i++) {
        const struct gw_http1_header *h = &m->headers[i];
        if (h->name_len == 17 && gw__ieq(h->name, 17, "sec-websocket-key", 17)) {
            if (key)
                return GW_EWSHANDSHAKE;
            key = h;
        } else if (h->name_len == 21 && gw__ieq(h->name, 21, "sec-websocket-version", 21)) {
            if (version)
                return GW_EWSHANDSHAKE;
            version = h;
        }
    }
    if (!key || !valid_key(key->value, key->value_len) || !version || version->value_len == 0)
        return GW_EWSHANDSHAKE;
    if (version->value_len != 2 || memcmp(version->value, "13", 2) != 0)
        return GW_EWSVERSION;
    return 0;
}

int gw_http1_query_param(const char *query, size_t query_len, const char *name, const char **val,
                         size_t *len)
{
    size_t nl = strlen(name);
    const char *p = query, *end = query + query_len;
    if (p < end && *p == '?')
        p++;
    while (p < end) {
        const char *s = p;
        while (p < end && *p != '&')
            p++;
        if ((size_t)(p - s) > nl + 1 && memcmp(s, name, nl) == 0 && s[nl] == '=') {
            *val = s + nl + 1;
            *len = (size_t)(p - s) - nl - 1;
            return 1;
        }
        if (p < end)
            p++;
    }
    return 0;
}
