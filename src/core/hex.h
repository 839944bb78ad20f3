/*
 * Hexadecimal digits (chunk sizes, percent-escapes, key hashes).
 */
#ifndef GW_CORE_HEX_H
#define GW_CORE_HEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The value of hex digit c (either case), or -1. */
static inline int gw_hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (unsigned char)(c | 0x20);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Parses exactly n (1 to 16) hex digits of s, either case, into *out; false (and *out
 * untouched) when n is out of range or a character is not a hex digit. */
static inline bool gw_hex_parse(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 16)
        return false;
    for (size_t i = 0; i < n; i++) {
        int d = gw_hex_digit((unsigned char)s[i]);
        if (d < 0)
            return false;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return true;
}

/* Writes the 8 lowercase hex digits of v, most significant first, to out (no NUL): in a few
 * word operations, no table and no loop (request and trace ids on every request). */
static inline void gw_hex_lower8(uint32_t v, char out[8])
{
    /* One nibble per byte, the least significant nibble in the lowest byte... */
    uint64_t x = v;
    x = ((x & 0xFFFF0000ull) << 16) | (x & 0xFFFFull);
    x = ((x & 0x0000FF000000FF00ull) << 8) | (x & 0x000000FF000000FFull);
    x = ((x & 0x00F000F000F000F0ull) << 4) | (x & 0x000F000F000F000Full);
    /* ...then '0' + n, plus 'a' - '0' - 10 = 39 for the nibbles of 10 and more (+6 carries
     * those into bit 4 of their byte), and the most significant nibble first in memory. */
    uint64_t ge10 = ((x + 0x0606060606060606ull) >> 4) & 0x0101010101010101ull;
    x += 0x3030303030303030ull + ge10 * 39;
    x = __builtin_bswap64(x);
    __builtin_memcpy(out, &x, 8);
}

#endif
