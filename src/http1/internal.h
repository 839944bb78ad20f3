/* Helpers shared inside src/http1/. */
#ifndef GW_HTTP1_INTERNAL_H
#define GW_HTTP1_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "http1/parser.h"

/* uri-host [ ":" port ] per RFC 3986 (reg-name or IP-literal); empty is not valid here. */
int gw__http1_valid_host(const char *s, size_t n);

/* Decide the framing of a complete request / response head (framing.c). 0 or GW_E*. */
int gw__http1_frame_request(struct gw_http1_message *m);
int gw__http1_frame_response(const struct gw_http1_parser *p, struct gw_http1_message *m);

/* The next element of a comma-separated list v[0..n) (RFC 9110 5.6.1) from *at: its bounds,
 * without the whitespace around it, in [*s, *e); false at the end. Empty elements are skipped. */
static inline bool gw__http1_list_next(const char *v, size_t n, size_t *at, size_t *s, size_t *e)
{
    size_t i = *at;
    for (;;) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        if (i == n) {
            *at = i;
            return false;
        }
        size_t b = i;
        while (i < n && v[i] != ',')
            i++;
        size_t end = i;
        while (end > b && (v[end - 1] == ' ' || v[end - 1] == '\t'))
            end--;
        if (end > b) {
            *at = i;
            *s = b;
            *e = end;
            return true;
        }
    }
}

/* A qvalue (RFC 9110 12.4.2) in s[0..n): its value in thousandths, or -1 when it is not one. */
int gw__http1_qvalue(const char *s, size_t n);

#endif
