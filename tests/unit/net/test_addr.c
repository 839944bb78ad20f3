/*
 * Unit tests for src/net/addr.c: parsing addresses and CIDR blocks (every error and its reason,
 * host bits, IPv4-mapped IPv6), matching one block, formatting, and compiled sets: merging,
 * the edges of every range, both families kept apart, and thousands of random blocks checked
 * against a linear scan with gw_cidr_has.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "core/error.h"
#include "net/addr.h"

/* ---- helpers --------------------------------------------------------------------------------- */

static struct gw_cidr cidr(const char *s)
{
    struct gw_cidr c;
    const char *why = NULL;
    if (gw_cidr_parse(s, strlen(s), &c, &why) != 0)
        fail_msg("%s: %s", s, why);
    return c;
}

static void parse_fails(const char *s, size_t n, const char *why_expected)
{
    struct gw_cidr c;
    const char *why = NULL;
    assert_int_equal(gw_cidr_parse(s, n, &c, &why), GW_EINVAL);
    assert_non_null(why);
    assert_string_equal(why, why_expected);
}

static char *fmt(const struct gw_cidr *c, char *buf, size_t cap)
{
    assert_true(gw_cidr_format(c, buf, cap) > 0);
    return buf;
}

/* An address as gw_addr_parse gives it; fails the test when s is not one. */
struct addr {
    int family;
    uint8_t a[16];
};

static struct addr addr(const char *s)
{
    struct addr x;
    if (!gw_addr_parse(s, strlen(s), &x.family, x.a))
        fail_msg("not an address: %s", s);
    return x;
}

static bool set_has(const struct gw_cidr_set *s, const char *a)
{
    struct addr x = addr(a);
    return gw_cidr_set_has(s, x.family, x.a);
}

static struct gw_cidr_set *set_of(const char *const *items, size_t n)
{
    struct gw_cidr *cs = calloc(n ? n : 1, sizeof *cs);
    assert_non_null(cs);
    for (size_t i = 0; i < n; i++)
        cs[i] = cidr(items[i]);
    struct gw_cidr_set *s = NULL;
    assert_int_equal(gw_cidr_set_new(cs, n, &s), 0);
    assert_non_null(s);
    free(cs);
    return s;
}

/* ---- addresses ------------------------------------------------------------------------------- */

static void test_addr_parse(void **state)
{
    (void)state;
    struct addr x = addr("192.0.2.7");
    assert_int_equal(x.family, AF_INET);
    assert_memory_equal(x.a, "\xc0\x00\x02\x07", 4);
    x = addr("2001:db8::1");
    assert_int_equal(x.family, AF_INET6);
    assert_int_equal(x.a[0], 0x20);
    assert_int_equal(x.a[15], 1);
    /* IPv4-mapped IPv6 is IPv4 */
    x = addr("::ffff:192.0.2.7");
    assert_int_equal(x.family, AF_INET);
    assert_memory_equal(x.a, "\xc0\x00\x02\x07", 4);
    x = addr("::ffff:c000:207");
    assert_int_equal(x.family, AF_INET);
    /* but not IPv4-compatible (::a.b.c.d) or other IPv6 */
    x = addr("::192.0.2.7");
    assert_int_equal(x.family, AF_INET6);

    int family;
    uint8_t a[16];
    const char *bad[] = {"",      " 1.2.3.4", "1.2.3.4 ",   "1.2.3",     "1.2.3.4.5", "256.0.0.1",
                         "[::1]", "::1%lo",   "1.2.3.4/32", "localhost", "01.2.3.4",  ":::"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (gw_addr_parse(bad[i], strlen(bad[i]), &family, a))
            fail_msg("accepted %s", bad[i]);
    }
    /* a NUL inside the length never reaches inet_pton */
    assert_false(gw_addr_parse("1.2.3.4\0junk", 12, &family, a));
    /* only n bytes are read */
    assert_true(gw_addr_parse("1.2.3.4, 5.6.7.8", 7, &family, a));
    char longer[100];
    memset(longer, '1', sizeof longer);
    assert_false(gw_addr_parse(longer, sizeof longer, &family, a));
}

/* ---- blocks ---------------------------------------------------------------------------------- */

static void test_cidr_parse(void **state)
{
    (void)state;
    char buf[64];
    struct gw_cidr c = cidr("10.1.2.3/8");
    assert_int_equal(c.family, AF_INET);
    assert_int_equal(c.bits, 8);
    assert_string_equal(fmt(&c, buf, sizeof buf), "10.0.0.0/8"); /* host bits cleared */
    c = cidr("192.0.2.7");
    assert_int_equal(c.bits, 32);
    c = cidr("0.0.0.0/0");
    assert_int_equal(c.bits, 0);
    assert_string_equal(fmt(&c, buf, sizeof buf), "0.0.0.0/0");
    c = cidr("fd12:3456::1/8");
    assert_int_equal(c.family, AF_INET6);
    assert_string_equal(fmt(&c, buf, sizeof buf), "fd00::/8");
    c = cidr("::1");
    assert_int_equal(c.bits, 128);
    c = cidr("2001:db8::/33");
    assert_string_equal(fmt(&c, buf, sizeof buf), "2001:db8::/33");
    c = cidr("10.0.0.1/31");
    assert_string_equal(fmt(&c, buf, sizeof buf), "10.0.0.0/31");
    c = cidr("10.0.0.0/007");
    assert_int_equal(c.bits, 7);
    /* mapped blocks stay IPv6 until unmapped */
    c = cidr("::ffff:10.0.0.0/104");
    assert_int_equal(c.family, AF_INET6);

    parse_fails("", 0, "is not an IP address or CIDR block");
    parse_fails("/8", 2, "is not an IP address or CIDR block");
    parse_fails("10.0.0.0/", 9, "has an invalid prefix length");
    parse_fails("10.0.0.0/1000", 13, "has an invalid prefix length");
    parse_fails("10.0.0.0/-1", 11, "has an invalid prefix length");
    parse_fails("10.0.0.0/8/8", 12, "has an invalid prefix length");
    parse_fails("10.0.0.0/ 8", 11, "has an invalid prefix length");
    parse_fails("10.0.0.0/33", 11, "has a prefix length longer than the address");
    parse_fails("::/129", 6, "has a prefix length longer than the address");
    parse_fails("10.0.0/8", 8, "is not an IP address or CIDR block");
    parse_fails("example.com/8", 13, "is not an IP address or CIDR block");
    parse_fails("10.0.0.0\0/8", 11, "is not an IP address or CIDR block");
    parse_fails("10.0.0.0/8\0", 11, "has an invalid prefix length");
    /* the length bounds the text: "10.0.0.0/8" read as its first 9 bytes */
    parse_fails("10.0.0.0/8", 9, "has an invalid prefix length");
}

static void test_cidr_unmap_and_has(void **state)
{
    (void)state;
    char buf[64];
    struct gw_cidr c = cidr("::ffff:10.0.0.0/104");
    gw_cidr_unmap(&c);
    assert_int_equal(c.family, AF_INET);
    assert_string_equal(fmt(&c, buf, sizeof buf), "10.0.0.0/8");
    c = cidr("::ffff:192.0.2.7");
    gw_cidr_unmap(&c);
    assert_string_equal(fmt(&c, buf, sizeof buf), "192.0.2.7/32");
    c = cidr("::ffff:0:0/96");
    gw_cidr_unmap(&c);
    assert_string_equal(fmt(&c, buf, sizeof buf), "0.0.0.0/0");
    /* shorter than /96, or outside the mapped block: left alone */
    c = cidr("::/0");
    gw_cidr_unmap(&c);
    assert_int_equal(c.family, AF_INET6);
    c = cidr("::ffff:0:0/95");
    gw_cidr_unmap(&c);
    assert_int_equal(c.family, AF_INET6);
    c = cidr("10.0.0.0/8");
    gw_cidr_unmap(&c);
    assert_string_equal(fmt(&c, buf, sizeof buf), "10.0.0.0/8");

    c = cidr("10.0.0.0/9");
    struct addr x = addr("10.127.255.255");
    assert_true(gw_cidr_has(&c, x.family, x.a));
    x = addr("10.128.0.0");
    assert_false(gw_cidr_has(&c, x.family, x.a));
    x = addr("::ffff:10.1.2.3");
    assert_true(gw_cidr_has(&c, x.family, x.a));
    c = cidr("::/0");
    assert_false(gw_cidr_has(&c, x.family, x.a)); /* IPv6 blocks never hold IPv4 */
    x = addr("2001:db8::1");
    assert_true(gw_cidr_has(&c, x.family, x.a));

    assert_int_equal(gw_cidr_format(&c, buf, 3), 0);
    assert_string_equal(buf, "");
}

/* ---- sets ------------------------------------------------------------------------------------ */

static void test_set_edges(void **state)
{
    (void)state;
    const char *items[] = {
        "10.0.0.0/8", "192.0.2.0/24",           "192.0.2.7", "203.0.113.8/29", "2001:db8::/32",
        "::1",        "::ffff:198.51.100.0/120"};
    struct gw_cidr_set *s = set_of(items, sizeof items / sizeof items[0]);
    assert_int_equal(gw_cidr_set_ranges(s, AF_INET), 4); /* 192.0.2.7 is inside 192.0.2.0/24 */
    assert_int_equal(gw_cidr_set_ranges(s, AF_INET6), 2);
    assert_true(set_has(s, "10.0.0.0"));
    assert_true(set_has(s, "10.255.255.255"));
    assert_false(set_has(s, "9.255.255.255"));
    assert_false(set_has(s, "11.0.0.0"));
    assert_true(set_has(s, "192.0.2.0"));
    assert_true(set_has(s, "192.0.2.255"));
    assert_false(set_has(s, "192.0.3.0"));
    assert_true(set_has(s, "203.0.113.8"));
    assert_true(set_has(s, "203.0.113.15"));
    assert_false(set_has(s, "203.0.113.7"));
    assert_false(set_has(s, "203.0.113.16"));
    assert_true(set_has(s, "198.51.100.200"));  /* the mapped entry is IPv4 */
    assert_true(set_has(s, "::ffff:10.9.9.9")); /* a mapped client is IPv4 */
    assert_true(set_has(s, "2001:db8::"));
    assert_true(set_has(s, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
    assert_false(set_has(s, "2001:db9::"));
    assert_false(set_has(s, "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff"));
    assert_true(set_has(s, "::1"));
    assert_false(set_has(s, "::2"));
    assert_false(set_has(s, "::"));
    assert_false(set_has(s, "0.0.0.0"));
    assert_false(set_has(s, "255.255.255.255"));
    assert_false(gw_cidr_set_has(s, AF_UNIX, (const uint8_t *)"\0\0\0\0"));
    gw_cidr_set_free(s);

    /* overlapping, nested and adjacent blocks merge; the ends of the address space hold */
    const char *merge[] = {
        "10.0.0.0/25",  "10.0.0.128/25",   "10.0.1.0/24",
        "10.0.0.64/26", "255.255.255.255", "0.0.0.0",
        "::/1",         "8000::/1",        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"};
    s = set_of(merge, sizeof merge / sizeof merge[0]);
    assert_int_equal(gw_cidr_set_ranges(s, AF_INET), 3);
    assert_int_equal(gw_cidr_set_ranges(s, AF_INET6), 1);
    assert_true(set_has(s, "10.0.1.255"));
    assert_false(set_has(s, "10.0.2.0"));
    assert_true(set_has(s, "255.255.255.255"));
    assert_true(set_has(s, "0.0.0.0"));
    assert_false(set_has(s, "0.0.0.1"));
    assert_true(set_has(s, "ffff::"));
    gw_cidr_set_free(s);

    const char *all[] = {"0.0.0.0/0", "::/0"};
    s = set_of(all, 2);
    assert_true(set_has(s, "255.255.255.255"));
    assert_true(set_has(s, "::"));
    assert_true(set_has(s, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
    gw_cidr_set_free(s);

    s = set_of(NULL, 0);
    assert_false(set_has(s, "10.0.0.1"));
    assert_false(set_has(s, "::1"));
    gw_cidr_set_free(s);
    gw_cidr_set_free(NULL);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* Random blocks in a small corner of the space (so they overlap and touch), random addresses
 * near them: the set agrees with a linear scan every time. */
static void test_set_matches_linear_scan(void **state)
{
    (void)state;
    enum {
        N = 3000,
        PROBES = 20000
    };
    struct gw_cidr *cs = calloc(N, sizeof *cs);
    assert_non_null(cs);
    for (size_t i = 0; i < N; i++) {
        struct gw_cidr *c = &cs[i];
        memset(c, 0, sizeof *c);
        if (i % 3 == 0) {
            c->family = AF_INET6;
            c->addr[0] = 0x20;
            c->addr[1] = 0x01;
            c->addr[14] = (uint8_t)rnd();
            c->addr[15] = (uint8_t)rnd();
            c->bits = (uint8_t)(112 + rnd() % 17);
        } else {
            c->family = AF_INET;
            c->addr[0] = 10;
            c->addr[2] = (uint8_t)(rnd() % 64);
            c->addr[3] = (uint8_t)rnd();
            c->bits = (uint8_t)(18 + rnd() % 15);
        }
        char text[64];
        assert_true(gw_cidr_format(c, text, sizeof text) > 0);
        *c = cidr(text); /* through the parser: host bits cleared */
    }
    struct gw_cidr_set *s = NULL;
    assert_int_equal(gw_cidr_set_new(cs, N, &s), 0);
    for (size_t p = 0; p < PROBES; p++) {
        int family = p % 3 == 0 ? AF_INET6 : AF_INET;
        uint8_t a[16] = {0};
        if (family == AF_INET6) {
            a[0] = 0x20;
            a[1] = 0x01;
            a[14] = (uint8_t)rnd();
            a[15] = (uint8_t)rnd();
        } else {
            a[0] = 10;
            a[2] = (uint8_t)(rnd() % 70);
            a[3] = (uint8_t)rnd();
        }
        bool linear = false;
        for (size_t i = 0; i < N && !linear; i++)
            linear = gw_cidr_has(&cs[i], family, a);
        assert_int_equal(gw_cidr_set_has(s, family, a), linear);
    }
    gw_cidr_set_free(s);
    free(cs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_parse),
        cmocka_unit_test(test_cidr_parse),
        cmocka_unit_test(test_cidr_unmap_and_has),
        cmocka_unit_test(test_set_edges),
        cmocka_unit_test(test_set_matches_linear_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
