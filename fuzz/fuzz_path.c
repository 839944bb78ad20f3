/*
 * libFuzzer target for gw_path_normalize. On success the output must:
 * start with '/', contain no "//" and no "." or ".." segment, be no longer than the input,
 * hold only VCHARs other than '\' with every '%' starting an uppercase escape that is not an
 * unreserved character, %00, %2F or %5C, and normalise to itself (idempotence). In-place
 * normalisation must give the same result.
 *
 * gw_path_normalize_spelled (the client's spelling, what is forwarded) must give the same
 * verdict and the same normalised path; its spelling must be no longer than the input, have
 * the same segment count and trailing '/', normalise to the normalised path, and map every
 * segment boundary of the normalised path (gw_path_spelled_prefix) to one of the spelling
 * whose prefix normalises to the same prefix. gw_path_normalize_packed must agree with both.
 * Any violation traps.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "route/normalize.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static bool is_upper_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static int hexv(char c)
{
    return c <= '9' ? c - '0' : c - 'A' + 10;
}

static void check_output(const char *p, size_t n)
{
    CHECK(n >= 1 && p[0] == '/');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        CHECK(c >= 0x21 && c <= 0x7e && c != '\\');
        if (c == '/' && i + 1 < n)
            CHECK(p[i + 1] != '/');
        if (c == '%') {
            CHECK(i + 2 < n && is_upper_hex(p[i + 1]) && is_upper_hex(p[i + 2]));
            unsigned char v = (unsigned char)(hexv(p[i + 1]) << 4 | hexv(p[i + 2]));
            CHECK(v != 0 && v != '/' && v != '\\' && !is_unreserved(v));
        }
    }
    /* segments: none is "." or ".." */
    size_t s = 1;
    while (s <= n) {
        size_t e = s;
        while (e < n && p[e] != '/')
            e++;
        size_t len = e - s;
        CHECK(!(len == 1 && p[s] == '.'));
        CHECK(!(len == 2 && p[s] == '.' && p[s + 1] == '.'));
        s = e + 1;
    }
}

static size_t count_segments(const char *p, size_t n)
{
    size_t k = 0;
    for (size_t i = 1; i <= n; i++)
        if (i == n || p[i] == '/')
            k += i > 1 && p[i - 1] != '/';
    return k;
}

/* norm[0, norm_len) is in's normalised form (rc 0) or rc is its refusal. */
static void check_spelled(const char *in, size_t size, int rc, const char *norm, size_t norm_len)
{
    char *out = malloc(size + 1);
    char *spell = malloc(size + 1);
    char *again = malloc(size + 1);
    char *packed = malloc(2 * size + 1);
    if (out == NULL || spell == NULL || again == NULL || packed == NULL)
        goto done;
    size_t out_len = 0, spell_len = 0, again_len = 0, packed_len = 0;
    int src = gw_path_normalize_spelled(in, size, out, &out_len, spell, &spell_len);
    CHECK(src == rc);
    CHECK(gw_path_normalize_packed(in, size, packed, &packed_len) == rc);
    if (rc != 0)
        goto done;
    CHECK(out_len == norm_len && memcmp(out, norm, norm_len) == 0);
    CHECK(spell_len >= 1 && spell_len <= size && spell[0] == '/');
    CHECK(count_segments(spell, spell_len) == count_segments(norm, norm_len));
    CHECK((spell[spell_len - 1] == '/') == (norm[norm_len - 1] == '/'));
    CHECK(gw_path_normalize(spell, spell_len, again, &again_len) == 0);
    CHECK(again_len == norm_len && memcmp(again, norm, norm_len) == 0);
    for (size_t p = 2; p <= norm_len; p++) {
        if ((p < norm_len && norm[p] != '/') || norm[p - 1] == '/')
            continue;
        size_t off = gw_path_spelled_prefix(norm, p, spell, spell_len);
        CHECK(off <= spell_len && (off == spell_len || spell[off] == '/'));
        CHECK(gw_path_normalize(spell, off, again, &again_len) == 0);
        CHECK(again_len == p && memcmp(again, norm, p) == 0);
    }
    size_t packed_spell_len = 0;
    const char *ps = gw_path_packed_spelling(packed, packed_len, &packed_spell_len);
    CHECK(packed_len == norm_len && memcmp(packed, norm, norm_len) == 0);
    CHECK(packed_spell_len == spell_len && memcmp(ps, spell, spell_len) == 0);

done:
    free(out);
    free(spell);
    free(again);
    free(packed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exact-size heap buffers so ASan catches a read or write one byte past the end. */
    char *in = malloc(size + 1);
    char *out = malloc(size + 1);
    char *again = malloc(size + 1);
    char *inplace = malloc(size + 1);
    if (in == NULL || out == NULL || again == NULL || inplace == NULL)
        goto done;
    if (size > 0)
        memcpy(in, data, size);
    memcpy(inplace, in, size);

    size_t out_len = 0;
    int rc = gw_path_normalize(in, size, out, &out_len);
    size_t ip_len = 0;
    int ip_rc = gw_path_normalize(inplace, size, inplace, &ip_len);
    CHECK(rc == ip_rc);
    check_spelled(in, size, rc, out, out_len);
    if (rc != 0) {
        CHECK(rc == GW_ETARGET);
        goto done;
    }
    CHECK(out_len <= size);
    CHECK(ip_len == out_len && memcmp(inplace, out, out_len) == 0);
    check_output(out, out_len);

    size_t again_len = 0;
    CHECK(gw_path_normalize(out, out_len, again, &again_len) == 0);
    CHECK(again_len == out_len && memcmp(again, out, out_len) == 0);

done:
    free(in);
    free(out);
    free(again);
    free(inplace);
    return 0;
}
