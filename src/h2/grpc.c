#include "h2/grpc.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"

bool gw_grpc_is_content_type(const char *v, size_t n)
{
    static const char base[] = "application/grpc";
    const size_t bl = sizeof base - 1;
    if (n < bl || strncasecmp(v, base, bl) != 0)
        return false;
    return n == bl || v[bl] == '+' || v[bl] == ';';
}

int gw_grpc_timeout_parse(const char *v, size_t n, uint64_t *ms)
{
    /* TimeoutValue is at most 8 digits; with the unit, 9 bytes at most. */
    if (n < 2 || n > 9)
        return GW_EINVAL;
    uint64_t x = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return GW_EINVAL;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    switch (v[n - 1]) {
    case 'H':
        *ms = x * 3600000;
        break;
    case 'M':
        *ms = x * 60000;
        break;
    case 'S':
        *ms = x * 1000;
        break;
    case 'm':
        *ms = x;
        break;
    case 'u':
        *ms = (x + 999) / 1000;
        break;
    case 'n':
        *ms = (x + 999999) / 1000000;
        break;
    default:
        return GW_EINVAL;
    }
    return 0;
}

size_t gw_grpc_timeout_format(uint64_t ms, char *out, size_t cap)
{
    int k;
    if (ms <= 99999999)
        k = snprintf(out, cap, "%llum", (unsigned long long)ms);
    else if ((ms + 999) / 1000 <= 99999999)
        k = snprintf(out, cap, "%lluS", (unsigned long long)((ms + 999) / 1000));
    else
        k = snprintf(out, cap, "%lluH",
                     (unsigned long long)((ms + 3599999) / 3600000 > 99999999
                                              ? 99999999
                                              : (ms + 3599999) / 3600000));
    if (k < 0)
        return 0;
    return (size_t)k < cap ? (size_t)k : cap - 1;
}

enum gw_grpc_status gw_grpc_status_of_http(int http)
{
    switch (http) {
    case 200:
        return GW_GRPC_OK;
    case 400:
        return GW_GRPC_INTERNAL;
    case 401:
        return GW_GRPC_UNAUTHENTICATED;
    case 403:
        return GW_GRPC_PERMISSION_DENIED;
    case 404:
        return GW_GRPC_UNIMPLEMENTED;
    case 408:
    case 504:
        return GW_GRPC_DEADLINE_EXCEEDED;
    case 413:
    case 429:
        return GW_GRPC_RESOURCE_EXHAUSTED;
    case 501:
        return GW_GRPC_UNIMPLEMENTED;
    case 502:
    case 503:
        return GW_GRPC_UNAVAILABLE;
    default:
        return http >= 500 ? GW_GRPC_INTERNAL : GW_GRPC_UNKNOWN;
    }
}

size_t gw_grpc_message_encode(const char *in, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t at = 0;
    if (cap == 0)
        return 0;
    for (; *in; in++) {
        unsigned char ch = (unsigned char)*in;
        bool plain = ch >= 0x20 && ch <= 0x7e && ch != '%';
        size_t need = plain ? 1 : 3;
        if (at + need >= cap)
            break;
        if (plain) {
            out[at++] = (char)ch;
        } else {
            out[at++] = '%';
            out[at++] = hex[ch >> 4];
            out[at++] = hex[ch & 15];
        }
    }
    out[at] = '\0';
    return at;
}

int gw_grpc_status_field(const char *lines, size_t len)
{
    static const char name[] = "grpc-status:";
    const size_t nl = sizeof name - 1;
    const char *p = lines, *end = lines + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol ? eol + 1 : end;
        if (eol == NULL)
            eol = end;
        if ((size_t)(eol - p) >= nl && strncasecmp(p, name, nl) == 0) {
            const char *v = p + nl, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            if (ve == v || ve - v > 9)
                return INT_MAX;
            int x = 0;
            for (const char *q = v; q < ve; q++) {
                if (*q < '0' || *q > '9')
                    return INT_MAX;
                x = x * 10 + (*q - '0');
            }
            return x;
        }
        p = next;
    }
    return -1;
}
