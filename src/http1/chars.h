/*
 * Character classes of RFC 9110/9112 and the wide scans the parser uses on long runs
 * (request targets, field values). Private to src/http1/.
 */
#ifndef GW_HTTP1_CHARS_H
#define GW_HTTP1_CHARS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__) && !defined(GW_HTTP1_NO_SIMD)
#include <emmintrin.h>
#endif

enum {
    GW__CH_TCHAR = 1,  /* token character (RFC 9110 5.6.2) */
    GW__CH_VCHAR = 2,  /* 0x21-0x7E */
    GW__CH_FVALUE = 4, /* field-vchar / obs-text / SP / HT (RFC 9110 5.5) */
    GW__CH_HEX = 8,
    GW__CH_HOST = 16, /* reg-name, IP-literal brackets, port colon (RFC 3986) */
};

extern const uint8_t gw__http1_chars[256];

static inline int gw__is_tchar(unsigned char c)
{
    return gw__http1_chars[c] & GW__CH_TCHAR;
}

static inline int gw__is_fvalue(unsigned char c)
{
    return gw__http1_chars[c] & GW__CH_FVALUE;
}

static inline char gw__lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
}

/* The 8 bytes at s with 'A'..'Z' made lowercase and every other byte as it is (exact for all
 * 256 values: the high bit of each byte's 7-bit part plus 0x3f says >= 'A', plus 0x25 says
 * > 'Z'; bytes of 0x80 and up are left out). */
static inline uint64_t gw__lower8(const char *s)
{
    uint64_t x;
    memcpy(&x, s, 8);
    const uint64_t highs = 0x8080808080808080ull;
    uint64_t low7 = x & ~highs;
    uint64_t upper = (low7 + 0x3f3f3f3f3f3f3f3full) & ~(low7 + 0x2525252525252525ull) & ~x & highs;
    return x | (upper >> 2);
}

/* Case-insensitive comparison of an ASCII slice with a lowercase literal: 8 bytes at a time
 * (names such as content-length are compared for every header of every message). */
static inline int gw__ieq(const char *s, size_t len, const char *lit, size_t lit_len)
{
    if (len != lit_len)
        return 0;
    if (len >= 8) {
        size_t i = 0;
        for (; i + 8 <= len; i += 8) {
            uint64_t l;
            memcpy(&l, lit + i, 8);
            if (gw__lower8(s + i) != l)
                return 0;
        }
        if (i == len)
            return 1;
        uint64_t l;
        memcpy(&l, lit + len - 8, 8); /* the last 8 bytes, overlapping what was compared */
        return gw__lower8(s + len - 8) == l;
    }
    for (size_t i = 0; i < len; i++)
        if (gw__lower(s[i]) != lit[i])
            return 0;
    return 1;
}

/*
 * Returns the offset of the first byte in [p, end) that cannot be part of a request target,
 * or end - p: a byte that is not VCHAR (0x21-0x7E), or '#'. RFC 9112 3.2: no form of
 * request-target has a fragment, and '#' appears in no other part of one (RFC 3986 3.3,
 * 3.4). Sixteen bytes per step with SSE2 (baseline on x86_64): a byte b is VCHAR when
 * (int8)(b - 0x21) lies in [0, 0x5E) -- one subtraction and two signed compares -- and one
 * more compare takes out '#'.
 */
static inline size_t gw__scan_target(const char *p, const char *end)
{
    const char *s = p;
#if defined(__SSE2__) && !defined(GW_HTTP1_NO_SIMD)
    const __m128i bias = _mm_set1_epi8((char)0x21);
    const __m128i lo = _mm_set1_epi8(-1);
    const __m128i hi = _mm_set1_epi8(0x5E);
    const __m128i hash = _mm_set1_epi8('#');
    while (end - s >= 16) {
        __m128i raw = _mm_loadu_si128((const __m128i *)(const void *)s);
        __m128i v = _mm_sub_epi8(raw, bias);
        __m128i ok = _mm_and_si128(_mm_cmpgt_epi8(v, lo), _mm_cmplt_epi8(v, hi));
        ok = _mm_andnot_si128(_mm_cmpeq_epi8(raw, hash), ok);
        unsigned mask = (unsigned)_mm_movemask_epi8(ok) ^ 0xFFFFu;
        if (mask)
            return (size_t)(s - p) + (size_t)__builtin_ctz(mask);
        s += 16;
    }
#endif
    while (s < end && (unsigned char)(*s - 0x21) < 0x5E && *s != '#')
        s++;
    return (size_t)(s - p);
}

/*
 * Returns the offset of the first byte in [p, end) that is a control character (< 0x20
 * or 0x7F), HT included, or end - p. Field values allow every other byte, so the caller
 * treats a stop on HT as "keep going" and anything else as an error.
 */
static inline size_t gw__scan_ctl(const char *p, const char *end)
{
    const char *s = p;
#if defined(__SSE2__) && !defined(GW_HTTP1_NO_SIMD)
    const __m128i c1f = _mm_set1_epi8(0x1F);
    const __m128i del = _mm_set1_epi8(0x7F);
    while (end - s >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
        /* unsigned v <= 0x1F  <=>  min(v, 0x1F) == v */
        __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, c1f), v);
        ctl = _mm_or_si128(ctl, _mm_cmpeq_epi8(v, del));
        unsigned mask = (unsigned)_mm_movemask_epi8(ctl);
        if (mask)
            return (size_t)(s - p) + (size_t)__builtin_ctz(mask);
        s += 16;
    }
#endif
    while (s < end && (unsigned char)*s >= 0x20 && (unsigned char)*s != 0x7F)
        s++;
    return (size_t)(s - p);
}

#endif
