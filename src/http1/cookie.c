#include "http1/cookie.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

const char *gw_http1_find_cookie(const struct gw_http1_message *m, const char *name, size_t *len)
{
    size_t nlen = strlen(name);
    for (uint32_t i = 0; i < m->num_headers; i++) {
        const struct gw_http1_header *h = &m->headers[i];
        if (h->name_len != 6 || strncasecmp(h->name, "cookie", 6) != 0)
            continue;
        const char *p = h->value, *end = h->value + h->value_len;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == ';'))
                p++;
            const char *pair = p;
            while (p < end && *p != ';')
                p++;
            const char *eq = memchr(pair, '=', (size_t)(p - pair));
            if (eq && (size_t)(eq - pair) == nlen && memcmp(pair, name, nlen) == 0) {
                *len = (size_t)(p - eq - 1);
                return eq + 1;
            }
        }
    }
    return NULL;
}
