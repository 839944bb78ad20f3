#include "core/buf.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

void gw_buf_init(struct gw_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void gw_buf_free(struct gw_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int gw_buf_reserve(struct gw_buf *b, size_t n)
{
    if (b->cap - b->len >= n)
        return 0;
    if (n > b->max - b->len)
        return GW_ENOMEM;
    size_t cap = b->cap ? b->cap : 256;
    /* Doubling past max / 2 could wrap cap around to 0 (then realloc(data, 0) frees data). */
    while (cap - b->len < n && cap <= b->max / 2)
        cap *= 2;
    if (cap > b->max || cap - b->len < n)
        cap = b->max;
    if (cap > PTRDIFF_MAX) /* no object is that large: realloc could only fail */
        return GW_ENOMEM;
    char *p = realloc(b->data, cap);
    if (!p)
        return GW_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int gw_buf_append(struct gw_buf *b, const void *p, size_t n)
{
    int rc = gw_buf_reserve(b, n);
    if (rc < 0)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int gw_buf_append_str(struct gw_buf *b, const char *s)
{
    return gw_buf_append(b, s, strlen(s));
}

int gw_buf_appendf(struct gw_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return GW_EINVAL;
    int rc = gw_buf_reserve(b, (size_t)n);
    if (rc < 0)
        return rc;
    /* vsnprintf writes a NUL after the text; when the text ends exactly at max there is no byte
     * for it in the buffer, so the text is formatted into a copy first. */
    bool room_for_nul = gw_buf_reserve(b, (size_t)n + 1) == 0;
    char *dst = room_for_nul ? b->data + b->len : malloc((size_t)n + 1);
    if (dst == NULL)
        return GW_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(dst, (size_t)n + 1, fmt, ap);
    va_end(ap);
    if (!room_for_nul) {
        memcpy(b->data + b->len, dst, (size_t)n);
        free(dst);
    }
    b->len += (size_t)n;
    return 0;
}

int gw_buf_append_u64(struct gw_buf *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return gw_buf_append(b, tmp + i, sizeof(tmp) - i);
}

int gw_buf_append_json_escaped(struct gw_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0; /* s[run..i) needs no escape: appended in one piece */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c != '"' && c != '\\' && c >= 0x20 && c != 0x7F)
            continue;
        int rc = gw_buf_append(b, s + run, i - run);
        if (rc == 0 && (c == '"' || c == '\\')) {
            char e[2] = {'\\', (char)c};
            rc = gw_buf_append(b, e, 2);
        } else if (rc == 0) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            rc = gw_buf_append(b, e, 6);
        }
        if (rc < 0)
            return rc;
        run = i + 1;
    }
    return gw_buf_append(b, s + run, n - run);
}
