/*
 * IP addresses, CIDR blocks and compiled sets of blocks (net/addr.h).
 *
 * A set keeps, per family, the blocks as closed ranges [lo, hi] sorted by lo, overlapping and
 * adjacent ranges merged, so that ranges are disjoint and both ends increase. A lookup is one
 * bisection: the last range whose lo is <= the address holds it, or none does.
 */
#include "net/addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/error.h"

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Dotted-quad IPv4, exactly as glibc's inet_pton(AF_INET) takes it (four decimal octets of at
 * most 255, no leading zero, nothing else), without the copy and the call: a client address is
 * parsed on every request that an IP list or a rate limit by address judges. */
static bool parse_v4(const char *s, size_t n, uint8_t out[4])
{
    const char *p = s, *e = s + n;
    for (int k = 0; k < 4; k++) {
        if (p == e || (unsigned)(*p - '0') > 9)
            return false;
        unsigned v = (unsigned)(*p++ - '0');
        if (p < e && (unsigned)(*p - '0') <= 9) {
            if (v == 0)
                return false; /* a leading zero */
            v = v * 10 + (unsigned)(*p++ - '0');
            if (p < e && (unsigned)(*p - '0') <= 9) {
                v = v * 10 + (unsigned)(*p++ - '0');
                if (v > 255)
                    return false;
            }
        }
        out[k] = (uint8_t)v;
        if (k < 3) {
            if (p == e || *p != '.')
                return false;
            p++;
        }
    }
    return p == e; /* a fourth digit in an octet, or anything after the last, is not IPv4 */
}

bool gw_addr_parse(const char *s, size_t n, int *family, uint8_t addr[16])
{
    char buf[64];
    if (parse_v4(s, n, addr)) {
        *family = AF_INET;
        return true;
    }
    if (n == 0 || n >= sizeof buf || memchr(s, '\0', n) != NULL)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET6, buf, addr) != 1)
        return false;
    if (memcmp(addr, v4_mapped, 12) == 0) {
        memmove(addr, addr + 12, 4);
        *family = AF_INET;
    } else {
        *family = AF_INET6;
    }
    return true;
}

int gw_cidr_parse(const char *s, size_t n, struct gw_cidr *out, const char **why)
{
    char addr[64];
    const char *slash = memchr(s, '/', n);
    size_t an = slash ? (size_t)(slash - s) : n;
    memset(out, 0, sizeof *out);
    if (an == 0 || an >= sizeof addr || memchr(s, '\0', an) != NULL) {
        *why = "is not an IP address or CIDR block";
        return GW_EINVAL;
    }
    memcpy(addr, s, an);
    addr[an] = '\0';
    unsigned max;
    if (inet_pton(AF_INET, addr, out->addr) == 1) {
        out->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
        out->family = AF_INET6;
        max = 128;
    } else {
        *why = "is not an IP address or CIDR block";
        return GW_EINVAL;
    }
    unsigned bits = max;
    if (slash) {
        const char *p = slash + 1;
        size_t pn = n - an - 1;
        if (pn == 0 || pn > 3) {
            *why = "has an invalid prefix length";
            return GW_EINVAL;
        }
        bits = 0;
        for (size_t i = 0; i < pn; i++) {
            if (p[i] < '0' || p[i] > '9') {
                *why = "has an invalid prefix length";
                return GW_EINVAL;
            }
            bits = bits * 10 + (unsigned)(p[i] - '0');
        }
        if (bits > max) {
            *why = "has a prefix length longer than the address";
            return GW_EINVAL;
        }
    }
    out->bits = (uint8_t)bits;
    /* Keep only the network part, so matching compares whole bytes and one masked byte. */
    for (unsigned i = bits; i < max; i++)
        out->addr[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
    return 0;
}

void gw_cidr_unmap(struct gw_cidr *c)
{
    if (c->family != AF_INET6 || c->bits < 96 || memcmp(c->addr, v4_mapped, 12) != 0)
        return;
    uint8_t v4[4];
    memcpy(v4, c->addr + 12, 4);
    memset(c->addr, 0, sizeof c->addr);
    memcpy(c->addr, v4, 4);
    c->family = AF_INET;
    c->bits = (uint8_t)(c->bits - 96);
}

bool gw_cidr_has(const struct gw_cidr *c, int family, const uint8_t *addr)
{
    if (c->family != family)
        return false;
    unsigned full = c->bits / 8u;
    if (memcmp(c->addr, addr, full) != 0)
        return false;
    unsigned rest = c->bits % 8u;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8u - rest));
    return (addr[full] & mask) == c->addr[full];
}

size_t gw_cidr_format(const struct gw_cidr *c, char *out, size_t cap)
{
    char text[INET6_ADDRSTRLEN];
    if (inet_ntop(c->family, c->addr, text, sizeof text) == NULL)
        return 0;
    int n = snprintf(out, cap, "%s/%u", text, (unsigned)c->bits);
    if (n < 0 || (size_t)n >= cap) {
        if (cap)
            out[0] = '\0';
        return 0;
    }
    return (size_t)n;
}

/* ---- sets ------------------------------------------------------------------------------------ */

struct u128 {
    uint64_t hi, lo;
};

struct range4 {
    uint32_t lo, hi;
};

struct range6 {
    struct u128 lo, hi;
};

struct gw_cidr_set {
    struct range4 *v4;
    size_t n4;
    struct range6 *v6;
    size_t n6;
};

static uint64_t load_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static struct u128 load_u128(const uint8_t *p)
{
    return (struct u128){load_be64(p), load_be64(p + 8)};
}

static int cmp128(struct u128 a, struct u128 b)
{
    if (a.hi != b.hi)
        return a.hi < b.hi ? -1 : 1;
    if (a.lo != b.lo)
        return a.lo < b.lo ? -1 : 1;
    return 0;
}

static int cmp_range4(const void *a, const void *b)
{
    const struct range4 *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int cmp_range6(const void *a, const void *b)
{
    const struct range6 *x = a, *y = b;
    return cmp128(x->lo, y->lo);
}

/* The block's last address: its network address with every host bit set. */
static struct range4 range_of4(const struct gw_cidr *c)
{
    uint32_t lo = load_be32(c->addr);
    uint32_t host = c->bits == 0 ? UINT32_MAX : (c->bits == 32 ? 0 : UINT32_MAX >> c->bits);
    return (struct range4){lo, lo | host};
}

static struct range6 range_of6(const struct gw_cidr *c)
{
    struct u128 lo = load_u128(c->addr);
    struct u128 host;
    if (c->bits <= 64) {
        host.hi = c->bits == 0 ? UINT64_MAX : (c->bits == 64 ? 0 : UINT64_MAX >> c->bits);
        host.lo = UINT64_MAX;
    } else {
        host.hi = 0;
        host.lo = c->bits == 128 ? 0 : UINT64_MAX >> (c->bits - 64);
    }
    return (struct range6){lo, {lo.hi | host.hi, lo.lo | host.lo}};
}

/* x + 1 == y, for ranges that touch. */
static bool next4(uint32_t x, uint32_t y)
{
    return x != UINT32_MAX && x + 1 == y;
}

static bool next6(struct u128 x, struct u128 y)
{
    struct u128 z = {x.hi + (x.lo == UINT64_MAX), x.lo + 1};
    if (x.hi == UINT64_MAX && x.lo == UINT64_MAX)
        return false;
    return cmp128(z, y) == 0;
}

static size_t merge4(struct range4 *r, size_t n)
{
    if (n == 0)
        return 0;
    qsort(r, n, sizeof *r, cmp_range4);
    size_t k = 0;
    for (size_t i = 1; i < n; i++) {
        if (r[i].lo <= r[k].hi || next4(r[k].hi, r[i].lo)) {
            if (r[i].hi > r[k].hi)
                r[k].hi = r[i].hi;
        } else {
            r[++k] = r[i];
        }
    }
    return k + 1;
}

static size_t merge6(struct range6 *r, size_t n)
{
    if (n == 0)
        return 0;
    qsort(r, n, sizeof *r, cmp_range6);
    size_t k = 0;
    for (size_t i = 1; i < n; i++) {
        if (cmp128(r[i].lo, r[k].hi) <= 0 || next6(r[k].hi, r[i].lo)) {
            if (cmp128(r[i].hi, r[k].hi) > 0)
                r[k].hi = r[i].hi;
        } else {
            r[++k] = r[i];
        }
    }
    return k + 1;
}

int gw_cidr_set_new(const struct gw_cidr *items, size_t n, struct gw_cidr_set **out)
{
    struct gw_cidr_set *s = calloc(1, sizeof *s);
    size_t n4 = 0, n6 = 0;
    *out = NULL;
    if (s == NULL)
        return GW_ENOMEM;
    s->v4 = calloc(n ? n : 1, sizeof *s->v4);
    s->v6 = calloc(n ? n : 1, sizeof *s->v6);
    if (s->v4 == NULL || s->v6 == NULL)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        struct gw_cidr c = items[i];
        gw_cidr_unmap(&c);
        if (c.family == AF_INET)
            s->v4[n4++] = range_of4(&c);
        else if (c.family == AF_INET6)
            s->v6[n6++] = range_of6(&c);
    }
    s->n4 = merge4(s->v4, n4);
    s->n6 = merge6(s->v6, n6);
    *out = s;
    return 0;
fail:
    gw_cidr_set_free(s);
    return GW_ENOMEM;
}

/* x <= y, without a branch (the bisection below stays branch-free). */
static bool le128(struct u128 x, struct u128 y)
{
    return (x.hi < y.hi) | ((x.hi == y.hi) & (x.lo <= y.lo));
}

/* A branch-free bisection: each step halves the span with a conditional move, so a lookup in
 * 10,000 ranges is 14 steps without a mispredicted branch. It ends on the last range whose lo
 * is <= the address (or the first range, when none is): only that one can hold it. */
bool gw_cidr_set_has(const struct gw_cidr_set *s, int family, const uint8_t *addr)
{
    if (family == AF_INET) {
        const struct range4 *r = s->v4;
        size_t n = s->n4;
        if (n == 0)
            return false;
        uint32_t a = load_be32(addr);
        while (n > 1) {
            size_t half = n / 2;
            r = r[half].lo <= a ? r + half : r;
            n -= half;
        }
        return r->lo <= a && a <= r->hi;
    }
    if (family == AF_INET6) {
        const struct range6 *r = s->v6;
        size_t n = s->n6;
        if (n == 0)
            return false;
        struct u128 a = load_u128(addr);
        while (n > 1) {
            size_t half = n / 2;
            r = le128(r[half].lo, a) ? r + half : r;
            n -= half;
        }
        return le128(r->lo, a) && le128(a, r->hi);
    }
    return false;
}

size_t gw_cidr_set_ranges(const struct gw_cidr_set *s, int family)
{
    return family == AF_INET ? s->n4 : (family == AF_INET6 ? s->n6 : 0);
}

void gw_cidr_set_free(struct gw_cidr_set *s)
{
    if (s == NULL)
        return;
    free(s->v4);
    free(s->v6);
    free(s);
}
