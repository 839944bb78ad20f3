/*
 * libFuzzer target for policy/origin.c: the Origin and Referer parsers, the Host comparison and
 * the configured origin patterns. Invariants (any violation traps):
 *   - a parsed origin's slices lie inside the input, its scheme is followed by "://", its port
 *     is 0..65535 and its host is non-empty; an opaque origin came from exactly "null";
 *   - gw_origin_parse accepts only what gw_origin_of_url accepts too, with the same tuple
 *     (an origin is a URL without a path);
 *   - an origin is the same as itself (unless opaque), and matches itself as an exact pattern;
 *   - the input split at its first 0 byte is a (pattern, origin) pair: the pattern's verdict is
 *     deterministic, "*" matches everything, a wildcard never matches the opaque origin nor a
 *     host that is not strictly longer than its suffix;
 *   - the Host comparison holds for the origin's own "host[:port]";
 *   - a serialized origin parses back to the same origin and serializes to itself.
 * Inputs are copied to exact-size heap buffers, so ASan catches any read past the end.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/origin.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static char *dup_exact(const uint8_t *p, size_t n)
{
    char *s = malloc(n ? n : 1);
    if (s && n)
        memcpy(s, p, n);
    return s;
}

static void check_origin(const char *in, size_t n, const struct gw_origin *o)
{
    if (o->opaque) {
        CHECK(n == 4 && memcmp(in, "null", 4) == 0);
        return;
    }
    CHECK(o->scheme == in && o->scheme_len > 0 && o->scheme_len + 3 <= n);
    CHECK(memcmp(in + o->scheme_len, "://", 3) == 0);
    CHECK(o->host == in + o->scheme_len + 3 && o->host_len > 0);
    CHECK(o->host + o->host_len <= in + n);
    CHECK(o->port <= 65535);
}

static void one_origin(const char *in, size_t n)
{
    struct gw_origin o, u;
    if (gw_origin_parse(in, n, &o) != 0) {
        (void)gw_origin_of_url(in, n, &u);
        return;
    }
    check_origin(in, n, &o);
    if (o.opaque)
        return;
    CHECK(gw_origin_of_url(in, n, &u) == 0);
    CHECK(gw_origin_same(&o, &u));
    CHECK(gw_origin_same(&o, &o));
    struct gw_origin_pattern p;
    const char *why;
    if (o.port != 0 && gw_origin_pattern_parse(in, n, &p, &why) == 0 && p.kind == GW_ORIGIN_EXACT)
        CHECK(gw_origin_pattern_match(&p, &o));
    /* its serialization is an origin, the same one, and serializes to itself */
    char ser[GW_ORIGIN_MAX + 1], again[GW_ORIGIN_MAX + 1];
    size_t sn = gw_origin_serialize(&o, ser, sizeof ser);
    if (sn > 0) {
        struct gw_origin back;
        CHECK(gw_origin_parse(ser, sn, &back) == 0);
        CHECK(gw_origin_same(&o, &back) || o.port == 0);
        CHECK(gw_origin_serialize(&back, again, sizeof again) == sn);
        CHECK(memcmp(ser, again, sn) == 0);
    }
    /* its own host[:port] is its Host */
    char host[GW_ORIGIN_MAX + 16];
    int k = snprintf(host, sizeof host, "%.*s:%u", (int)o.host_len, o.host, (unsigned)o.port);
    if (o.port != 0 && k > 0 && (size_t)k < sizeof host)
        CHECK(gw_origin_is_host(&o, host, (size_t)k));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = dup_exact(data, size);
    if (in == NULL)
        return 0;
    one_origin(in, size);

    const uint8_t *zero = memchr(data, 0, size);
    size_t pn = zero ? (size_t)(zero - data) : size;
    size_t on = zero ? size - pn - 1 : 0;
    char *pat = dup_exact(data, pn);
    char *org = dup_exact(zero ? zero + 1 : data, on);
    struct gw_origin_pattern p;
    struct gw_origin o;
    const char *why = NULL;
    if (pat && org && gw_origin_pattern_parse(pat, pn, &p, &why) == 0 &&
        gw_origin_parse(org, on, &o) == 0) {
        bool m = gw_origin_pattern_match(&p, &o);
        CHECK(m == gw_origin_pattern_match(&p, &o));
        if (p.kind == GW_ORIGIN_ANY)
            CHECK(m);
        if (p.kind == GW_ORIGIN_WILDCARD && m)
            CHECK(!o.opaque && o.host_len > p.o.host_len + 1);
        (void)gw_origin_is_host(&o, pat, pn);
    } else if (pat) {
        CHECK(why != NULL || gw_origin_pattern_parse(pat, pn, &p, &why) == 0);
    }
    free(pat);
    free(org);
    free(in);
    return 0;
}
