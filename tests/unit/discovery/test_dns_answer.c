/*
 * Unit tests for discovery/dns_answer.c: A, AAAA and SRV records of real answers (built here
 * byte by byte, with name compression), other types and classes skipped, the least TTL, room
 * for fewer records than the answer holds, and malformed records refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/nameser.h>
#include <cmocka.h>

#include "core/error.h"
#include "discovery/dns_answer.h"

struct msg {
    unsigned char b[512];
    size_t n;
};

static void put(struct msg *m, const void *p, size_t n)
{
    memcpy(m->b + m->n, p, n);
    m->n += n;
}

static void put16(struct msg *m, unsigned v)
{
    unsigned char x[2] = {(unsigned char)(v >> 8), (unsigned char)v};
    put(m, x, 2);
}

static void put32(struct msg *m, unsigned long v)
{
    put16(m, (unsigned)(v >> 16));
    put16(m, (unsigned)(v & 0xffff));
}

/* Header and question for "orders.test" with nan answers. */
static void start(struct msg *m, unsigned qtype, unsigned nan)
{
    m->n = 0;
    put16(m, 0x1234);
    put16(m, 0x8180);
    put16(m, 1);
    put16(m, nan);
    put16(m, 0);
    put16(m, 0);
    put(m, "\6orders\4test\0", 13);
    put16(m, qtype);
    put16(m, 1);
}

/* An answer record for the question's name (compressed pointer to offset 12). */
static void rr(struct msg *m, unsigned type, unsigned cls, unsigned long ttl, const void *d,
               size_t dl)
{
    put16(m, 0xc00c);
    put16(m, type);
    put16(m, cls);
    put32(m, ttl);
    put16(m, (unsigned)dl);
    put(m, d, dl);
}

static void test_a_records(void **state)
{
    (void)state;
    struct msg m;
    struct gw_dns_rr out[4];
    size_t n = 0;
    uint32_t ttl = 0;
    start(&m, ns_t_a, 3);
    rr(&m, ns_t_a, ns_c_in, 30, "\x7f\0\0\2", 4);
    rr(&m, ns_t_a, 3 /* CH */, 5, "\x7f\0\0\x09", 4);
    rr(&m, ns_t_a, ns_c_in, 10, "\x0a\0\0\x0c", 4);
    assert_int_equal(gw_dns_answer_parse(m.b, m.n, ns_t_a, out, 4, &n, &ttl), 0);
    assert_int_equal(n, 2);
    assert_string_equal(out[0].text, "127.0.0.2");
    assert_string_equal(out[1].text, "10.0.0.12");
    assert_int_equal(ttl, 10);
    /* room for one: the others are dropped, the TTL still counts them */
    assert_int_equal(gw_dns_answer_parse(m.b, m.n, ns_t_a, out, 1, &n, &ttl), 0);
    assert_int_equal(n, 1);
    /* AAAA asked: none here */
    assert_int_equal(gw_dns_answer_parse(m.b, m.n, ns_t_aaaa, out, 4, &n, &ttl), 0);
    assert_int_equal(n, 0);
    assert_int_equal(ttl, UINT32_MAX);
}

static void test_aaaa_and_malformed(void **state)
{
    (void)state;
    struct msg m;
    struct gw_dns_rr out[4];
    size_t n = 0;
    uint32_t ttl = 0;
    static const unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    start(&m, ns_t_aaaa, 1);
    rr(&m, ns_t_aaaa, ns_c_in, 60, v6, 16);
    assert_int_equal(gw_dns_answer_parse(m.b, m.n, ns_t_aaaa, out, 4, &n, &ttl), 0);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].text, "2001:db8::1");
    start(&m, ns_t_a, 1);
    rr(&m, ns_t_a, ns_c_in, 60, "\1\2\3", 3); /* 3 bytes for an IPv4 address */
    assert_int_equal(gw_dns_answer_parse(m.b, m.n, ns_t_a, out, 4, &n, &ttl), GW_EINVAL);
    assert_int_equal(gw_dns_answer_parse(m.b, 5, ns_t_a, out, 4, &n, &ttl), GW_EINVAL);
}

static void test_srv(void **state)
{
    (void)state;
    struct msg m;
    struct gw_dns_rr out[4];
    size_t n = 0;
    uint32_t ttl = 0;
    start(&m, ns_t_srv, 2);
    unsigned char d[64];
    size_t dl = 0;
    static const unsigned char head[] = {0, 1, 0, 5, 0x1f, 0x90}; /* prio 1, weight 5, 8080 */
    memcpy(d, head, 6);
    memcpy(d + 6, "\1a\xc0\x0c", 4); /* "a." + pointer to "orders.test" */
    dl = 10;
    rr(&m, ns_t_srv, ns_c_in, 20, d, dl);
    memcpy(d + 6, "\1b\xc0\x0c\0", 5); /* one byte too many */
    rr(&m, ns_t_srv, ns_c_in, 20, d, 11);
    assert_int_equal(gw_dns_answer_parse(m.b, m.n, ns_t_srv, out, 4, &n, &ttl), GW_EINVAL);
    start(&m, ns_t_srv, 1);
    memcpy(d + 6, "\1a\xc0\x0c", 4);
    rr(&m, ns_t_srv, ns_c_in, 20, d, dl);
    assert_int_equal(gw_dns_answer_parse(m.b, m.n, ns_t_srv, out, 4, &n, &ttl), 0);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].text, "a.orders.test");
    assert_int_equal(out[0].port, 8080);
    assert_int_equal(out[0].weight, 5);
    assert_int_equal(out[0].priority, 1);
    assert_int_equal(ttl, 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_records),
        cmocka_unit_test(test_aaaa_and_malformed),
        cmocka_unit_test(test_srv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
