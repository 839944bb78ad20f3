/*
 * Hexadecimal digits (chunk sizes, percent-escapes, key hashes).
 */
#ifndef GW_CORE_HEX_H
#define GW_CORE_HEX_H

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

#endif
