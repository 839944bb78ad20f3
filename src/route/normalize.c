#include "route/normalize.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/hex.h"

/* Character classes for one pass over the path. */
enum {
    CH_PATH = 1,       /* VCHAR other than '\': may appear raw */
    CH_UNRESERVED = 2, /* ALPHA DIGIT - . _ ~ (RFC 3986 2.3): escapes of these are decoded */
};

/* clang-format off */
static const uint8_t path_chars[256] = {
#define P CH_PATH
#define U (CH_PATH | CH_UNRESERVED)
    /* 0x21-0x2F: ! " # $ % & ' ( ) * + , - . / */
    ['!'] = P, ['"'] = P, ['#'] = P, ['$'] = P, ['%'] = P, ['&'] = P, ['\''] = P, ['('] = P,
    [')'] = P, ['*'] = P, ['+'] = P, [','] = P, ['-'] = U, ['.'] = U, ['/'] = P,
    /* digits */
    ['0'] = U, ['1'] = U, ['2'] = U, ['3'] = U, ['4'] = U, ['5'] = U, ['6'] = U, ['7'] = U,
    ['8'] = U, ['9'] = U,
    /* 0x3A-0x40: : ; < = > ? @ */
    [':'] = P, [';'] = P, ['<'] = P, ['='] = P, ['>'] = P, ['?'] = P, ['@'] = P,
    ['A'] = U, ['B'] = U, ['C'] = U, ['D'] = U, ['E'] = U, ['F'] = U, ['G'] = U, ['H'] = U,
    ['I'] = U, ['J'] = U, ['K'] = U, ['L'] = U, ['M'] = U, ['N'] = U, ['O'] = U, ['P'] = U,
    ['Q'] = U, ['R'] = U, ['S'] = U, ['T'] = U, ['U'] = U, ['V'] = U, ['W'] = U, ['X'] = U,
    ['Y'] = U, ['Z'] = U,
    /* 0x5B-0x60 without '\': [ ] ^ _ ` */
    ['['] = P, [']'] = P, ['^'] = P, ['_'] = U, ['`'] = P,
    ['a'] = U, ['b'] = U, ['c'] = U, ['d'] = U, ['e'] = U, ['f'] = U, ['g'] = U, ['h'] = U,
    ['i'] = U, ['j'] = U, ['k'] = U, ['l'] = U, ['m'] = U, ['n'] = U, ['o'] = U, ['p'] = U,
    ['q'] = U, ['r'] = U, ['s'] = U, ['t'] = U, ['u'] = U, ['v'] = U, ['w'] = U, ['x'] = U,
    ['y'] = U, ['z'] = U,
    /* 0x7B-0x7E: { | } ~ */
    ['{'] = P, ['|'] = P, ['}'] = P, ['~'] = U,
#undef P
#undef U
};
/* clang-format on */

/* Decodes one segment, in[0..n) (no '/' in it), to out. Returns the decoded length or
 * GW_ETARGET; sets *escaped when the segment has a '%' (out then differs from in). out may
 * equal in: the write position never passes the read position. */
static long decode_segment(const char *in, size_t n, char *out, bool *escaped)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t w = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (!(path_chars[c] & CH_PATH))
            return GW_ETARGET;
        if (c != '%') {
            out[w++] = (char)c;
            continue;
        }
        *escaped = true;
        if (n - i < 3)
            return GW_ETARGET;
        int hi = gw_hex_digit((unsigned char)in[i + 1]);
        int lo = gw_hex_digit((unsigned char)in[i + 2]);
        if (hi < 0 || lo < 0)
            return GW_ETARGET;
        unsigned char v = (unsigned char)(hi << 4 | lo);
        /* %00 truncates strings downstream; %2F and %5C turn one segment into two for any
         * backend that decodes before splitting, so the router and the backend would disagree
         * on the path. */
        if (v == 0 || v == '/' || v == '\\')
            return GW_ETARGET;
        if (path_chars[v] & CH_UNRESERVED) {
            out[w++] = (char)v;
        } else {
            out[w++] = '%';
            out[w++] = hex[hi];
            out[w++] = hex[lo];
        }
        i += 2;
    }
    return (long)w;
}

/* "." or ".." followed by ';' or "%3B": a dot segment with a path parameter, which Tomcat and
 * other servlet containers resolve as the bare dot segment ("/public/..;/admin" reaches
 * "/admin" there while the router sees a segment named "..;"). */
static bool is_dot_with_param(const char *s, size_t n)
{
    size_t dots = 0;
    while (dots < n && dots < 2 && s[dots] == '.')
        dots++;
    if (dots == 0 || dots == n)
        return false;
    if (s[dots] == ';')
        return true;
    return n - dots >= 3 && s[dots] == '%' && s[dots + 1] == '3' && s[dots + 2] == 'B';
}

static int pack_spelling(const char *in, size_t in_len, char *buf, size_t *norm_len);

/*
 * One pass over the path, segment by segment. out gets each kept segment decoded; spell (when
 * not NULL) gets the same segments as the client wrote them. A segment is kept or dropped
 * for both at once, and ".." removes the last kept segment from both, so the two always
 * hold the same number of segments with the same '/' structure. Returns 0 or GW_ETARGET.
 *
 * spell == out (which could not work otherwise) asks for gw_path_normalize_packed's layout
 * instead: without a '%' in the path each kept segment is its own spelling, and so is out,
 * which a NUL after out says; with one, pack_spelling does a second pass for the spelling.
 * Doing this at the end of the pass, with six arguments (all in registers), lets every
 * exported entry be a tail call: a request pays for one frame, as plain normalisation did.
 */
static int normalize(const char *in, size_t in_len, char *out, size_t *out_len, char *spell,
                     size_t *spell_len)
{
    bool escaped = false;
    bool pack = spell == out;
    if (pack)
        spell = NULL;

    if (in_len == 0 || in[0] != '/')
        return GW_ETARGET;

    /* out[0..olen) always ends with '/' when a segment starts; olen <= i keeps the writes
     * behind the reads (in-place use) and the output no longer than the input. The same
     * holds for spell[0..slen). */
    size_t olen = 1, slen = 1;
    size_t i = 1;
    out[0] = '/';
    if (spell)
        spell[0] = '/';

    while (i < in_len) {
        size_t start = i;
        while (i < in_len && in[i] != '/')
            i++;
        bool more = i < in_len; /* a '/' follows this segment */

        long d = decode_segment(in + start, i - start, out + olen, &escaped);
        if (d < 0)
            return (int)d;
        const char *seg = out + olen;
        size_t n = (size_t)d;

        if (n == 0 || (n == 1 && seg[0] == '.')) {
            /* empty segment ("//") or ".": dropped; out still ends with '/' */
        } else if (n == 2 && seg[0] == '.' && seg[1] == '.') {
            if (olen > 1) {
                olen--;
                while (out[olen - 1] != '/')
                    olen--;
                /* spell has a kept segment exactly when out has one: no '/' inside either */
                if (spell) {
                    slen--;
                    while (spell[slen - 1] != '/')
                        slen--;
                }
            }
        } else if (is_dot_with_param(seg, n)) {
            return GW_ETARGET;
        } else {
            olen += n;
            if (more)
                out[olen++] = '/';
            if (spell) {
                memcpy(spell + slen, in + start, i - start);
                slen += i - start;
                if (more)
                    spell[slen++] = '/';
            }
        }
        if (more)
            i++;
    }
    *out_len = olen;
    if (spell)
        *spell_len = slen;
    if (pack) {
        if (escaped)
            return pack_spelling(in, in_len, out, out_len);
        out[olen] = '\0';
    }
    return 0;
}

int gw_path_normalize(const char *in, size_t in_len, char *out, size_t *out_len)
{
    return normalize(in, in_len, out, out_len, NULL, NULL);
}

int gw_path_normalize_spelled(const char *in, size_t in_len, char *out, size_t *out_len,
                              char *spell, size_t *spell_len)
{
    return normalize(in, in_len, out, out_len, spell, spell_len);
}

size_t gw_path_spelled_prefix(const char *norm, size_t prefix_len, const char *spell,
                              size_t spell_len)
{
    if (prefix_len <= 1)
        return 0; /* "/" (or nothing) covers no segment */
    if (spell == norm)
        return prefix_len; /* gw_path_packed_spelling found no escape: one string */
    size_t segments = 0;
    for (size_t i = 0; i < prefix_len; i++)
        segments += norm[i] == '/';
    size_t j = 0;
    for (size_t k = 0; k < segments && j < spell_len; k++) {
        j++; /* the '/' before segment k */
        while (j < spell_len && spell[j] != '/')
            j++;
    }
    return j;
}

/* The spelling of a path with escapes, packed after its normalised path (see
 * gw_path_normalize_packed). Out of line: its frame (and the address of spell_len) must not
 * be paid for by every normalisation. */
__attribute__((noinline)) static int pack_spelling(const char *in, size_t in_len, char *buf,
                                                   size_t *norm_len)
{
    /* Written at buf + in_len (the normalised path is never longer than the input, so they
     * cannot meet), then moved down to follow it. It starts with '/', so it cannot be
     * mistaken for the NUL of the common case. */
    size_t spell_len = 0;
    int rc = normalize(in, in_len, buf, norm_len, buf + in_len, &spell_len);
    if (rc < 0)
        return rc;
    memmove(buf + *norm_len, buf + in_len, spell_len);
    buf[*norm_len + spell_len] = '\0';
    return 0;
}

int gw_path_normalize_packed(const char *in, size_t in_len, char *buf, size_t *norm_len)
{
    return normalize(in, in_len, buf, norm_len, buf, NULL); /* spell == out: packed */
}
