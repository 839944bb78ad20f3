/*
 * libFuzzer target for src/trace/context.c. The input is split at its first NUL byte (none: all
 * of it) into a traceparent value and a tracestate list.
 *
 * traceparent: when gw_traceparent_parse accepts it, the input is at least 55 bytes of the
 * version 00 layout, the ids are not zero, the version is not ff, a version 00 value is exactly
 * 55 bytes and anything past 55 bytes starts with '-'; writing the parsed context back
 * (gw_traceparent_format) gives the input's first 55 bytes with the version set to 00, and that
 * parses to the same context. Rejected inputs are checked against an independent reading of
 * the grammar: anything that reading accepts must have been accepted.
 *
 * tracestate: gw_tracestate_clean writes at most 512 bytes of visible ASCII and spaces, never a
 * leading or trailing ',', and cleaning its own output gives it back unchanged (idempotence).
 * Any violation traps.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace/context.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static bool lchex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static bool all(const char *s, size_t n, char c)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != c)
            return false;
    return true;
}

/* The grammar of W3C 3.2, read a second way. */
static bool expected_valid(const char *s, size_t n)
{
    if (n < GW_TRACEPARENT_LEN)
        return false;
    if (!lchex(s, 2) || (s[0] == 'f' && s[1] == 'f'))
        return false;
    if (s[2] != '-' || s[35] != '-' || s[52] != '-')
        return false;
    if (!lchex(s + 3, 32) || !lchex(s + 36, 16) || !lchex(s + 53, 2))
        return false;
    if (all(s + 3, 32, '0') || all(s + 36, 16, '0'))
        return false;
    bool v00 = s[0] == '0' && s[1] == '0';
    if (n > GW_TRACEPARENT_LEN && (v00 || s[GW_TRACEPARENT_LEN] != '-'))
        return false;
    return true;
}

static void check_traceparent(const char *s, size_t n)
{
    struct gw_traceparent p;
    bool ok = gw_traceparent_parse(s, n, &p);
    CHECK(ok == expected_valid(s, n));
    if (!ok)
        return;
    char out[GW_TRACEPARENT_LEN];
    gw_traceparent_format(&p.trace_id, p.parent_id, p.flags, out);
    CHECK(out[0] == '0' && out[1] == '0');
    CHECK(memcmp(out + 2, s + 2, GW_TRACEPARENT_LEN - 2) == 0);
    struct gw_traceparent q;
    CHECK(gw_traceparent_parse(out, sizeof out, &q));
    CHECK(q.trace_id.hi == p.trace_id.hi && q.trace_id.lo == p.trace_id.lo);
    CHECK(q.parent_id == p.parent_id && q.flags == p.flags && q.version == 0);
}

static void check_tracestate(const char *s, size_t n)
{
    char out[GW_TRACESTATE_MAX];
    int k = gw_tracestate_clean(s, n, out);
    CHECK(k >= -1 && k <= GW_TRACESTATE_MAX);
    if (k <= 0)
        return;
    for (int i = 0; i < k; i++)
        CHECK((unsigned char)out[i] >= 0x20 && (unsigned char)out[i] < 0x7f);
    CHECK(out[0] != ',' && out[k - 1] != ',' && out[0] != ' ' && out[k - 1] != ' ');
    /* exact-size copy: a read past the end is caught */
    char *copy = malloc((size_t)k);
    if (copy == NULL)
        return;
    memcpy(copy, out, (size_t)k);
    char again[GW_TRACESTATE_MAX];
    int k2 = gw_tracestate_clean(copy, (size_t)k, again);
    CHECK(k2 == k && memcmp(again, out, (size_t)k) == 0);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t n1 = nul ? (size_t)(nul - data) : size;
    size_t n2 = nul ? size - n1 - 1 : 0;
    /* exact-size copies so ASan catches a read one byte past the end */
    char *a = malloc(n1 ? n1 : 1);
    char *b = malloc(n2 ? n2 : 1);
    if (a != NULL && b != NULL) {
        memcpy(a, data, n1);
        if (n2)
            memcpy(b, nul + 1, n2);
        check_traceparent(a, n1);
        check_tracestate(a, n1);
        check_tracestate(b, n2);
    }
    free(a);
    free(b);
    return 0;
}
