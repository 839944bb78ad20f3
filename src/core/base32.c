/* base32 (RFC 4648 section 6) without padding (core/base32.h). */
#include "core/base32.h"

#include <stdint.h>

#include "core/error.h"

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

int gw_base32_encode(const void *in, size_t n, char *out, size_t cap)
{
    const unsigned char *p = in;
    if (cap < GW_BASE32_ENCODED_LEN(n) + 1)
        return GW_ENOMEM;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | p[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[o++] = ALPHABET[(acc >> bits) & 31];
        }
        acc &= (1u << bits) - 1;
    }
    if (bits > 0)
        out[o++] = ALPHABET[(acc << (5 - bits)) & 31];
    out[o] = '\0';
    return 0;
}

static int value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= '2' && c <= '7')
        return c - '2' + 26;
    return -1;
}

int gw_base32_decode(const char *in, size_t n, unsigned char *out, size_t cap, size_t *out_len)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0, chars = 0;
    while (n > 0 && in[n - 1] == '=')
        n--;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == ' ')
            continue;
        int v = value((unsigned char)in[i]);
        if (v < 0)
            return GW_EINVAL;
        chars++;
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                return GW_ENOMEM;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* 1, 3 or 6 characters left over in a group of 8 cannot come from whole bytes. */
    size_t rest = chars % 8;
    if (rest == 1 || rest == 3 || rest == 6 || acc != 0)
        return GW_EINVAL;
    *out_len = o;
    return 0;
}
