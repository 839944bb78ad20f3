/*
 * Cookie values in a parsed request head (RFC 6265 5.4): for the balancer's cookie hash key and
 * sticky sessions (upstream/try.c). Pure.
 */
#ifndef GW_HTTP1_COOKIE_H
#define GW_HTTP1_COOKIE_H

#include <stddef.h>

#include "http1/parser.h"

/* The value of cookie `name` in m's Cookie fields ("name=value" pairs separated by "; "), *len
 * its length, pointing into m's buffer; NULL when absent. */
const char *gw_http1_find_cookie(const struct gw_http1_message *m, const char *name, size_t *len);

#endif
