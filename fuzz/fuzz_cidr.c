/*
 * libFuzzer target for net/addr.c: the CIDR parser behind ip_rules and trusted_proxies, the
 * address parser behind X-Forwarded-For, and compiled sets. The input is a list of entries
 * separated by '\n'; each is parsed from an exact-size copy (ASan sees a read past its end).
 * On every entry: gw_cidr_parse answers 0, or GW_EINVAL with a reason. On success the block's
 * length fits its family, its host bits are zero, it holds its own network address, it formats
 * and parses back to itself, and an entry without '/' is the same address gw_addr_parse reads
 * (an IPv4-mapped one once unmapped); gw_addr_parse, which parses IPv4 itself, accepts exactly
 * the entries without '/' that the parser (inet_pton) accepts. Then every parsed block goes into
 * one set, and the set must agree with a linear scan of gw_cidr_has over the unmapped blocks for
 * each block's first and last address, their neighbours, and addresses taken from the input bytes.
 * Any violation traps.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/error.h"
#include "net/addr.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

#define MAX_ENTRIES 64

static struct gw_cidr blocks[MAX_ENTRIES];
static size_t nblocks;

static unsigned max_bits(int family)
{
    return family == AF_INET ? 32 : 128;
}

static bool host_bits_zero(const struct gw_cidr *c)
{
    for (unsigned i = c->bits; i < max_bits(c->family); i++) {
        if (c->addr[i / 8] & (0x80u >> (i % 8)))
            return false;
    }
    for (unsigned i = max_bits(c->family) / 8; i < 16; i++) {
        if (c->addr[i] != 0)
            return false;
    }
    return true;
}

static void check_entry(const char *in, size_t n)
{
    struct gw_cidr c;
    const char *why = NULL;
    int rc = gw_cidr_parse(in, n, &c, &why);
    int family;
    uint8_t a[16];
    /* gw_addr_parse (its own IPv4 parser) takes exactly what inet_pton takes */
    if (memchr(in, '/', n) == NULL)
        CHECK(gw_addr_parse(in, n, &family, a) == (rc == 0));
    if (rc != 0) {
        CHECK(rc == GW_EINVAL && why != NULL && why[0] != '\0');
        return;
    }
    CHECK(c.family == AF_INET || c.family == AF_INET6);
    CHECK(c.bits <= max_bits(c.family));
    CHECK(host_bits_zero(&c));
    CHECK(gw_cidr_has(&c, c.family, c.addr));

    char text[64];
    size_t tn = gw_cidr_format(&c, text, sizeof text);
    CHECK(tn > 0 && tn < sizeof text && strlen(text) == tn);
    struct gw_cidr back;
    CHECK(gw_cidr_parse(text, tn, &back, &why) == 0);
    CHECK(back.family == c.family && back.bits == c.bits &&
          memcmp(back.addr, c.addr, sizeof c.addr) == 0);

    struct gw_cidr u = c;
    gw_cidr_unmap(&u);
    CHECK(u.bits <= max_bits(u.family) && host_bits_zero(&u));
    if (memchr(in, '/', n) == NULL) {
        CHECK(gw_addr_parse(in, n, &family, a));
        CHECK(family == u.family && u.bits == max_bits(family));
        CHECK(memcmp(a, u.addr, family == AF_INET ? 4 : 16) == 0);
    }
    if (nblocks < MAX_ENTRIES)
        blocks[nblocks++] = u;
}

/* The set and a linear scan agree on (family, a). */
static void agree(const struct gw_cidr_set *s, int family, const uint8_t *a)
{
    bool linear = false;
    for (size_t i = 0; i < nblocks && !linear; i++)
        linear = gw_cidr_has(&blocks[i], family, a);
    CHECK(gw_cidr_set_has(s, family, a) == linear);
}

/* a +/- 1 (with wrap-around) over the family's bytes. */
static void step(uint8_t *a, size_t len, int delta)
{
    for (size_t i = len; i-- > 0;) {
        uint8_t old = a[i];
        a[i] = (uint8_t)(a[i] + delta);
        if ((delta > 0 && old != 0xff) || (delta < 0 && old != 0))
            return;
    }
}

static void probe_block(const struct gw_cidr_set *s, const struct gw_cidr *c)
{
    size_t len = c->family == AF_INET ? 4 : 16;
    uint8_t first[16] = {0}, last[16] = {0};
    memcpy(first, c->addr, len);
    memcpy(last, c->addr, len);
    for (unsigned i = c->bits; i < len * 8; i++)
        last[i / 8] |= (uint8_t)(0x80u >> (i % 8));
    CHECK(gw_cidr_set_has(s, c->family, first));
    CHECK(gw_cidr_set_has(s, c->family, last));
    agree(s, c->family, first);
    agree(s, c->family, last);
    step(first, len, -1);
    agree(s, c->family, first);
    step(last, len, +1);
    agree(s, c->family, last);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nblocks = 0;
    size_t at = 0;
    for (size_t e = 0; e < MAX_ENTRIES && at <= size; e++) {
        const uint8_t *nl = memchr(data + at, '\n', size - at);
        size_t n = nl ? (size_t)(nl - (data + at)) : size - at;
        char *in = malloc(n > 0 ? n : 1);
        if (in == NULL)
            return 0;
        if (n > 0)
            memcpy(in, data + at, n);
        check_entry(in, n);
        free(in);
        at += n + 1;
        if (nl == NULL)
            break;
    }

    struct gw_cidr_set *s = NULL;
    if (gw_cidr_set_new(blocks, nblocks, &s) != 0)
        return 0;
    CHECK(gw_cidr_set_ranges(s, AF_INET) + gw_cidr_set_ranges(s, AF_INET6) <= nblocks);
    for (size_t i = 0; i < nblocks; i++)
        probe_block(s, &blocks[i]);
    /* addresses from the input bytes themselves */
    for (size_t off = 0; off + 16 <= size && off < 256; off += 7) {
        agree(s, AF_INET, data + off);
        agree(s, AF_INET6, data + off);
    }
    gw_cidr_set_free(s);
    return 0;
}
