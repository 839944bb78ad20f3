/* Helpers shared inside src/http1/. */
#ifndef GW_HTTP1_INTERNAL_H
#define GW_HTTP1_INTERNAL_H

#include <stddef.h>

#include "http1/parser.h"

/* uri-host [ ":" port ] per RFC 3986 (reg-name or IP-literal); empty is not valid here. */
int gw__http1_valid_host(const char *s, size_t n);

/* Decide the framing of a complete request / response head (framing.c). 0 or GW_E*. */
int gw__http1_frame_request(struct gw_http1_message *m);
int gw__http1_frame_response(const struct gw_http1_parser *p, struct gw_http1_message *m);

#endif
