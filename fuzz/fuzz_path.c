/*
 * libFuzzer target for gw_path_normalize. On success the output must:
 * start with '/', contain no "//" and no "." or ".." segment, be no longer than the input,
 * hold only VCHARs other than '\' with every '%' starting an uppercase escape that is not an
 * unreserved character, %00, %2F or %5C, and normalise to itself (idempotence). In-place
 * normalisation must give the same result. Any violation traps.
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
