/* Strict unpadded base64url; see base64url.h. */
#include "core/base64url.h"

#include <stdint.h>

#include "core/error.h"

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Value of one base64url character, or -1. */
static int value_of(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int gw_base64url_decode(const char *in, size_t n, unsigned char *out, size_t cap, size_t *out_len)
{
    size_t rem = n % 4;
    size_t need = n / 4 * 3 + (rem ? rem - 1 : 0);
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;

    /* One leftover character carries only 6 bits: no byte can end there. */
    if (rem == 1)
        return GW_EINVAL;
    if (need > cap)
        return GW_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int v = value_of((unsigned char)in[i]);
        if (v < 0)
            return GW_EINVAL;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (UINT32_C(1) << bits) - 1;
        }
    }
    /* RFC 4648 section 3.5: pad bits must be zero; refusing others keeps the encoding unique. */
    if (acc != 0)
        return GW_EINVAL;
    *out_len = o;
    return 0;
}

int gw_base64url_encode(const void *in, size_t n, char *out, size_t cap, size_t *out_len)
{
    const unsigned char *p = in;
    size_t need = GW_BASE64URL_ENCODED_LEN(n);
    size_t o = 0;
    size_t i = 0;

    if (cap < need + 1)
        return GW_ENOMEM;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = ALPHABET[v >> 18];
        out[o++] = ALPHABET[(v >> 12) & 63];
        out[o++] = ALPHABET[(v >> 6) & 63];
        out[o++] = ALPHABET[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = ALPHABET[v >> 18];
        out[o++] = ALPHABET[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = ALPHABET[v >> 18];
        out[o++] = ALPHABET[(v >> 12) & 63];
        out[o++] = ALPHABET[(v >> 6) & 63];
    }
    out[o] = '\0';
    if (out_len)
        *out_len = o;
    return 0;
}
