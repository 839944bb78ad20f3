/*
 * Helpers shared by the files of src/cache/ (and their unit tests): character classes of
 * RFC 9110 5.6 and the delta-seconds reader of RFC 9111 1.2.2. Nothing here allocates.
 */
#ifndef GW_CACHE_INTERNAL_H
#define GW_CACHE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 9111 1.2.2: a delta-seconds larger than the largest integer a cache can represent is
 * read as 2147483648 (2^31). */
#define GW__CACHE_DELTA_MAX INT64_C(2147483648)

/* tchar of RFC 9110 5.6.2. */
bool gw__cache_is_tchar(unsigned char c);

/* Lower-case ASCII letter of c, other bytes unchanged. */
static inline char gw__cache_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
}

/* Whether s[0..n) equals the lower-case literal lit, ignoring ASCII case. */
bool gw__cache_ieq(const char *s, size_t n, const char *lit);

/*
 * delta-seconds (1*DIGIT) in s[0..n): the value, capped at GW__CACHE_DELTA_MAX, or -1 when s is
 * empty or holds anything but digits.
 */
int64_t gw__cache_delta(const char *s, size_t n);

#endif
