/*
 * Growable byte buffer with a declared maximum (curl's dynbuf idea): every append either
 * fits under the cap or fails with GW_ENOMEM, so no peer input can grow it without bound.
 */
#ifndef GW_CORE_BUF_H
#define GW_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

struct gw_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};

void gw_buf_init(struct gw_buf *b, size_t max);
void gw_buf_free(struct gw_buf *b);
/* Makes room for n more bytes. 0 or GW_ENOMEM. */
int gw_buf_reserve(struct gw_buf *b, size_t n);
int gw_buf_append(struct gw_buf *b, const void *p, size_t n);
int gw_buf_append_str(struct gw_buf *b, const char *s);
/* Appends printf-formatted text. */
int gw_buf_appendf(struct gw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends the decimal form of v. */
int gw_buf_append_u64(struct gw_buf *b, uint64_t v);
/* Appends s as a JSON string body (without quotes), escaping as RFC 8259 requires. */
int gw_buf_append_json_escaped(struct gw_buf *b, const char *s, size_t n);

static inline void gw_buf_reset(struct gw_buf *b)
{
    b->len = 0;
}

#endif
