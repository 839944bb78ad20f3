/*
 * The one table of status reason phrases and the one table of method names, for every head
 * gantry writes (proxy answers, admin API) and every list of methods it prints.
 */
#ifndef GW_HTTP1_NAMES_H
#define GW_HTTP1_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "http1/parser.h" /* enum gw_http_method */

/* Reason phrase of status (RFC 9110 15), "Unknown" for codes outside the table. */
const char *gw_http_reason(int status);

/* Name of a known method ("GET"); NULL for GW_METHOD_OTHER. */
const char *gw_http_method_name(enum gw_http_method m);

/* Writes the names of the methods whose bit (1u << id) is set in mask, in the order GET, HEAD,
 * POST, PUT, DELETE, OPTIONS, PATCH, TRACE (CONNECT is never listed), separated by sep, as a
 * NUL-terminated string truncated to cap - 1 bytes. Returns the length written. */
size_t gw_http_method_list(uint32_t mask, const char *sep, char *out, size_t cap);

/* The methods gw_http_method_list lists, in its order (for callers that build other shapes). */
extern const enum gw_http_method gw_http_listed_methods[8];

#endif
