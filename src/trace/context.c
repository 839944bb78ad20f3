/*
 * W3C Trace Context: see context.h. The grammar quoted below is the spec's (section 3.2 for
 * traceparent, 3.3 for tracestate).
 */
#include "trace/context.h"

#if defined(__SSE2__) && defined(__x86_64__)
#define HEX_SSE2 1
#include <emmintrin.h>
#endif

#include <string.h>

static const char hexdig[] = "0123456789abcdef";

/* HEXDIGLC = DIGIT / "a" / "b" / "c" / "d" / "e" / "f": uppercase is not a hex digit here. */
static int lc_hex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* n (at most 16) lowercase hex digits; false on any other character. */
static bool parse_lc_hex(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        int d = lc_hex((unsigned char)s[i]);
        if (d < 0)
            return false;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return true;
}

bool gw_traceparent_parse(const char *s, size_t n, struct gw_traceparent *out)
{
    uint64_t version, hi, lo, parent, flags;
    /* version "-" trace-id "-" parent-id "-" trace-flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 */
    if (n < GW_TRACEPARENT_LEN)
        return false;
    if (!parse_lc_hex(s, 2, &version) || version == 0xff || s[2] != '-')
        return false;
    if (!parse_lc_hex(s + 3, 16, &hi) || !parse_lc_hex(s + 19, 16, &lo) || s[35] != '-')
        return false;
    if (!parse_lc_hex(s + 36, 16, &parent) || s[52] != '-')
        return false;
    if (!parse_lc_hex(s + 53, 2, &flags))
        return false;
    /* "All bytes as zero is considered an invalid value" (trace-id and parent-id). */
    if ((hi | lo) == 0 || parent == 0)
        return false;
    /* Version 00 is exactly this long; a later version may append fields after a dash. */
    if (n > GW_TRACEPARENT_LEN && (version == 0 || s[GW_TRACEPARENT_LEN] != '-'))
        return false;
    out->trace_id.hi = hi;
    out->trace_id.lo = lo;
    out->parent_id = parent;
    out->version = (uint8_t)version;
    out->flags = (uint8_t)flags;
    return true;
}

#if !defined(HEX_SSE2)
/* "000102...feff": two digits per byte value, so a span id is 8 lookups (ids are written for
 * every request and every exported span). */
#define HEX_ROW(h)                                                                                 \
    h "0" h "1" h "2" h "3" h "4" h "5" h "6" h "7" h "8" h "9" h "a" h "b" h "c" h "d" h "e" h "f"
static const char hex_pairs[] = HEX_ROW("0") HEX_ROW("1") HEX_ROW("2") HEX_ROW("3") HEX_ROW("4")
    HEX_ROW("5") HEX_ROW("6") HEX_ROW("7") HEX_ROW("8") HEX_ROW("9") HEX_ROW("a") HEX_ROW("b")
        HEX_ROW("c") HEX_ROW("d") HEX_ROW("e") HEX_ROW("f");
_Static_assert(sizeof hex_pairs == 513, "two digits for each of 256 byte values");
#endif

void gw_span_id_hex(uint64_t id, char out[16])
{
#if defined(HEX_SSE2)
    /* The 8 bytes most significant first, each split into its two nibbles (high, low) and
     * the 16 nibbles made digits at once: about ten instructions instead of 8 lookups. */
    const __m128i nib = _mm_set1_epi8(0x0f);
    __m128i v = _mm_cvtsi64_si128((long long)__builtin_bswap64(id));
    __m128i lo = _mm_and_si128(v, nib);
    __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), nib);
    __m128i n = _mm_unpacklo_epi8(hi, lo);
    __m128i letter =
        _mm_and_si128(_mm_cmpgt_epi8(n, _mm_set1_epi8(9)), _mm_set1_epi8('a' - '0' - 10));
    _mm_storeu_si128((__m128i *)(void *)out,
                     _mm_add_epi8(n, _mm_add_epi8(_mm_set1_epi8('0'), letter)));
#else
    for (int i = 7; i >= 0; i--) {
        memcpy(out + 2 * i, hex_pairs + 2 * (id & 0xff), 2);
        id >>= 8;
    }
#endif
}

void gw_trace_id_hex(const struct gw_trace_id *id, char out[32])
{
    gw_span_id_hex(id->hi, out);
    gw_span_id_hex(id->lo, out + 16);
}

void gw_traceparent_format(const struct gw_trace_id *trace_id, uint64_t span_id, uint8_t flags,
                           char out[GW_TRACEPARENT_LEN])
{
    out[0] = '0';
    out[1] = '0';
    out[2] = '-';
    gw_trace_id_hex(trace_id, out + 3);
    out[35] = '-';
    gw_span_id_hex(span_id, out + GW_TRACEPARENT_SPAN_AT);
    out[52] = '-';
    out[53] = hexdig[flags >> 4];
    out[54] = hexdig[flags & 15];
}

/* ---- tracestate ------------------------------------------------------------------------------ */

struct member {
    const char *p;
    size_t len; /* the whole "key=value" */
    size_t key_len;
};

static bool lcalpha(unsigned char c)
{
    return c >= 'a' && c <= 'z';
}

static bool key_char(unsigned char c)
{
    return lcalpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' || c == '/';
}

/*
 * key = simple-key / multi-tenant-key
 * simple-key = lcalpha 0*255( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
 * multi-tenant-key = tenant-id "@" system-id
 * tenant-id = ( lcalpha / DIGIT ) 0*240( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
 * system-id = lcalpha 0*13( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
 */
static bool valid_key(const char *k, size_t n)
{
    const char *at = memchr(k, '@', n);
    if (at == NULL) {
        if (n < 1 || n > 256 || !lcalpha((unsigned char)k[0]))
            return false;
        for (size_t i = 1; i < n; i++)
            if (!key_char((unsigned char)k[i]))
                return false;
        return true;
    }
    size_t tn = (size_t)(at - k);
    size_t sn = n - tn - 1;
    if (tn < 1 || tn > 241 || sn < 1 || sn > 14)
        return false;
    if (!(lcalpha((unsigned char)k[0]) || (k[0] >= '0' && k[0] <= '9')))
        return false;
    for (size_t i = 1; i < tn; i++)
        if (!key_char((unsigned char)k[i]))
            return false;
    if (!lcalpha((unsigned char)at[1]))
        return false;
    for (size_t i = 1; i < sn; i++)
        if (!key_char((unsigned char)at[1 + i]))
            return false;
    return true;
}

/*
 * value = 0*255(chr) nblk-chr
 * nblk-chr = %x21-2B / %x2D-3C / %x3E-7E
 * chr = %x20 / nblk-chr
 */
static bool valid_value(const char *v, size_t n)
{
    if (n < 1 || n > 256 || v[n - 1] == ' ')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c > 0x7e || c == ',' || c == '=')
            return false;
    }
    return true;
}

static bool ows(char c)
{
    return c == ' ' || c == '\t';
}

int gw_tracestate_clean(const char *s, size_t n, char out[GW_TRACESTATE_MAX])
{
    struct member m[GW_TRACESTATE_MAX_MEMBERS];
    size_t count = 0;
    size_t i = 0;
    while (i <= n) {
        /* list = list-member 0*31( OWS "," OWS list-member ), empty members allowed */
        size_t start = i;
        while (i < n && s[i] != ',')
            i++;
        size_t a = start, b = i;
        while (a < b && ows(s[a]))
            a++;
        while (b > a && ows(s[b - 1]))
            b--;
        i++; /* past the ',' (or the end) */
        if (a == b)
            continue;
        const char *eq = memchr(s + a, '=', b - a);
        if (eq == NULL || count == GW_TRACESTATE_MAX_MEMBERS)
            return -1;
        size_t kn = (size_t)(eq - (s + a));
        if (!valid_key(s + a, kn) || !valid_value(eq + 1, b - a - kn - 1))
            return -1;
        /* "duplicated keys" make the header invalid: a vendor could not tell which one holds. */
        for (size_t k = 0; k < count; k++)
            if (m[k].key_len == kn && memcmp(m[k].p, s + a, kn) == 0)
                return -1;
        m[count++] = (struct member){s + a, b - a, kn};
    }
    /* Everything, or what fits: long members go first, then members from the end. */
    bool keep[GW_TRACESTATE_MAX_MEMBERS];
    size_t kept = count, chars = 0;
    for (size_t k = 0; k < count; k++) {
        keep[k] = true;
        chars += m[k].len;
    }
    for (int pass = 0; pass < 2; pass++) {
        for (size_t k = count; k-- > 0 && chars + (kept ? kept - 1 : 0) > GW_TRACESTATE_MAX;) {
            if (keep[k] && (pass == 1 || m[k].len > 128)) {
                keep[k] = false;
                kept--;
                chars -= m[k].len;
            }
        }
    }
    size_t o = 0;
    for (size_t k = 0; k < count; k++) {
        if (!keep[k])
            continue;
        if (o)
            out[o++] = ',';
        memcpy(out + o, m[k].p, m[k].len);
        o += m[k].len;
    }
    return (int)o;
}
