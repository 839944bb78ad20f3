/*
 * HTTP-date (RFC 9110 5.6.7): the three formats a recipient must accept, and IMF-fixdate out.
 *
 * Contract
 * - gw_http_date_parse is a pure function over (s, n): no allocation, never reads outside s.
 *   It accepts exactly IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), the obsolete RFC 850
 *   form ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37 1994"); names
 *   are case-sensitive as the grammar says, fields are range-checked (a day that its month
 *   does not have is refused; second 60 is allowed for a leap second and read as 59).
 * - An RFC 850 two-digit year is the year with those last two digits that is not more than 50
 *   years after `now` (seconds since the epoch), as RFC 9110 5.6.7 requires.
 * - The weekday is not checked against the date (the RFC does not ask it, and senders err).
 */
#ifndef GW_CACHE_DATE_H
#define GW_CACHE_DATE_H

#include <stddef.h>
#include <stdint.h>

/* Bytes gw_http_date_format writes, its NUL included. */
#define GW_HTTP_DATE_LEN 30

/* Parses s[0..n): 0 and *out (seconds since the epoch, UTC), or -1 for anything else. */
int gw_http_date_parse(const char *s, size_t n, int64_t now, int64_t *out);

/* Writes t (seconds since the epoch, 0 to year 9999) as IMF-fixdate into out, NUL-terminated;
 * returns 29, the length. */
size_t gw_http_date_format(int64_t t, char out[GW_HTTP_DATE_LEN]);

#endif
