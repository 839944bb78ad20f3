/* Unit tests for src/trace/context.c: traceparent parsing and writing (W3C Trace Context 3.2,
 * with cases from the W3C test suite's traceparent tests), tracestate validation and cleaning
 * (3.3), every value read against a guard page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../guard_page.h"
#include "trace/context.h"

#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static struct guard g;

static bool parse(const char *s, struct gw_traceparent *out)
{
    size_t n = strlen(s);
    return gw_traceparent_parse(guard_place(&g, s, n), n, out);
}

static void test_valid_version_00(void **state)
{
    (void)state;
    struct gw_traceparent p;
    assert_true(parse(TP, &p));
    assert_true(p.trace_id.hi == 0x4bf92f3577b34da6ull);
    assert_true(p.trace_id.lo == 0xa3ce929d0e0e4736ull);
    assert_true(p.parent_id == 0x00f067aa0ba902b7ull);
    assert_int_equal(p.version, 0);
    assert_int_equal(p.flags, 1);
    assert_true(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", &p));
    assert_int_equal(p.flags, 0);
    /* Unknown flags are kept as received (only bit 0 means something). */
    assert_true(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff", &p));
    assert_int_equal(p.flags, 0xff);
    /* Half of the trace id may be zero; the whole may not. */
    assert_true(parse("00-00000000000000000000000000000001-0000000000000001-01", &p));
    assert_true(p.trace_id.hi == 0 && p.trace_id.lo == 1 && p.parent_id == 1);
}

static void test_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "00",
        /* too short, too long for version 00, something after it */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-010",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like",
        /* all zero ids */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        /* version ff is invalid; versions are lowercase hex */
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "0G-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "CC-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        /* uppercase or non-hex digits anywhere */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
        "00-4bf92f3577b34da6a3ce929d0e0e473x-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-.1",
        /* misplaced or missing dashes, wrong lengths that keep the total */
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
        "00-4bf92f3577b34da6a3ce929d0e0e47360-0f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
        "000-bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        /* whitespace is the HTTP parser's to trim, never accepted here */
        " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",
        "00-4bf92f3577b34da6a3ce929d0e0e4736 -00f067aa0ba902b7-01",
        /* a later version must still have the 00 layout, then the end or a dash */
        "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what-the-future-will-be-like",
        "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "cc-00000000000000000000000000000000-00f067aa0ba902b7-01-x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct gw_traceparent p;
        if (parse(bad[i], &p))
            fail_msg("accepted \"%s\"", bad[i]);
    }
}

/* W3C 3.2.4: a later version is parsed as far as version 00 goes. */
static void test_future_versions(void **state)
{
    (void)state;
    struct gw_traceparent p;
    assert_true(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", &p));
    assert_int_equal(p.version, 1);
    assert_true(parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-"
                      "will-be-like",
                      &p));
    assert_int_equal(p.version, 0xcc);
    assert_true(p.parent_id == 0x00f067aa0ba902b7ull && p.flags == 1);
    assert_true(parse("fe-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-", &p));
    assert_int_equal(p.flags, 0);
}

static void test_format_round_trip(void **state)
{
    (void)state;
    struct gw_traceparent p;
    char out[GW_TRACEPARENT_LEN + 1];
    assert_true(parse(TP, &p));
    gw_traceparent_format(&p.trace_id, p.parent_id, p.flags, out);
    out[GW_TRACEPARENT_LEN] = '\0';
    assert_string_equal(out, TP);
    gw_traceparent_format(&p.trace_id, 0xfedcba9876543210ull, 0, out);
    assert_string_equal(out, "00-4bf92f3577b34da6a3ce929d0e0e4736-fedcba9876543210-00");
    assert_int_equal(memcmp(out + GW_TRACEPARENT_SPAN_AT, "fedcba9876543210", 16), 0);
    char hex[33] = "";
    struct gw_trace_id id = {1, 0xabcdef};
    gw_trace_id_hex(&id, hex);
    assert_string_equal(hex, "00000000000000010000000000abcdef");
}

/* Every digit value in every position, and pseudo-random ids, agree with printf's %016llx. */
static void test_span_id_hex_matches_printf(void **state)
{
    (void)state;
    char want[17], got[17] = "";
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 16 * 16 + 1000; i++) {
        uint64_t id;
        if (i < 256)
            id = (uint64_t)(i & 15) << (4 * (i >> 4));
        else
            id = x = x * 6364136223846793005ull + 1;
        snprintf(want, sizeof want, "%016llx", (unsigned long long)id);
        gw_span_id_hex(id, got);
        assert_string_equal(got, want);
    }
}

/* ---- tracestate ---------------------------------------------------------------------------- */

static int clean(const char *s, char out[GW_TRACESTATE_MAX + 1])
{
    size_t n = strlen(s);
    char *p = g.map; /* a fresh guard per call: the list may be long */
    if (n <= g.size)
        p = guard_place(&g, s, n);
    else
        fail_msg("test list too long");
    int k = gw_tracestate_clean(p, n, out);
    out[k > 0 ? k : 0] = '\0';
    return k;
}

static void test_tracestate_valid(void **state)
{
    (void)state;
    char out[GW_TRACESTATE_MAX + 1];
    assert_int_equal(clean("", out), 0);
    assert_int_equal(clean("rojo=00f067aa0ba902b7", out), 21);
    assert_string_equal(out, "rojo=00f067aa0ba902b7");
    /* OWS around members, empty members, the joined form of two fields */
    assert_true(clean(" congo=t61rcWkgMzE ,\t, rojo=00f067aa0ba902b7,", out) > 0);
    assert_string_equal(out, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
    /* multi-tenant keys, every key and value character class */
    assert_true(clean("fw529a3039@dt=abc, t_-*/9=x y!~, 0a@b-_*/=v", out) > 0);
    assert_string_equal(out, "fw529a3039@dt=abc,t_-*/9=x y!~,0a@b-_*/=v");
    /* 32 members are allowed */
    char list[1024] = "";
    for (int i = 0; i < 32; i++) {
        char m[16];
        snprintf(m, sizeof m, "%sk%d=v", i ? "," : "", i);
        strcat(list, m);
    }
    assert_int_equal(clean(list, out), (int)strlen(list));
}

static void test_tracestate_invalid(void **state)
{
    (void)state;
    char out[GW_TRACESTATE_MAX + 1];
    static const char *const bad[] = {
        "novalue",
        "=v",
        "k=",
        "K=v",     /* keys are lowercase */
        "1k=v",    /* a simple key starts with a letter */
        "k=v=w",   /* no '=' in a value */
        "k=v ",    /* nor a trailing space... (trimmed as OWS: valid) */
        "k=a\x01", /* control characters */
        "k=\x7f",
        "k=é",
        "a@=v",                /* empty system id */
        "@b=v",                /* empty tenant */
        "a@B=v",               /* system id starts with a letter */
        "a@bcdefghijklmnop=v", /* system id of 15 characters */
        "k=v,k=w",             /* duplicate keys */
        "k=v;x=y",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int k = clean(bad[i], out);
        if (i == 6) {
            /* "k=v " : the space is OWS around the member, not part of the value */
            assert_int_equal(k, 3);
            continue;
        }
        if (k != -1)
            fail_msg("accepted \"%s\" as \"%s\"", bad[i], out);
    }
    /* a value may not end with a space, but may hold one */
    assert_int_equal(clean("k=a b", out), 5);
    /* 33 members */
    char list[1024] = "";
    for (int i = 0; i < 33; i++) {
        char m[16];
        snprintf(m, sizeof m, "%sk%d=v", i ? "," : "", i);
        strcat(list, m);
    }
    assert_int_equal(clean(list, out), -1);
    /* key and value length limits: 256 and 256 */
    char kv[600];
    memset(kv, 'a', 256);
    kv[256] = '=';
    memset(kv + 257, 'b', 256);
    kv[513] = '\0';
    assert_int_equal(clean(kv, out), 513 <= GW_TRACESTATE_MAX ? 513 : 0);
    kv[0] = 'a';
    memset(kv, 'a', 257);
    kv[257] = '=';
    kv[258] = 'b';
    kv[259] = '\0';
    assert_int_equal(clean(kv, out), -1);
}

/* Past 512 characters: members over 128 characters go first, then members from the end. */
static void test_tracestate_truncation(void **state)
{
    (void)state;
    char out[GW_TRACESTATE_MAX + 1];
    char list[2048];
    char big[200];
    memset(big, 'x', 150);
    big[150] = '\0';
    /* a=<150>, b=<150>, then 6 short members of 39: 2 * 152 + 6 * 39 + 7 commas = 545 */
    int n = snprintf(list, sizeof list, "a=%s,b=%s", big, big);
    char shortv[40];
    memset(shortv, 's', 36);
    shortv[36] = '\0';
    for (int i = 0; i < 6; i++)
        n += snprintf(list + n, sizeof list - (size_t)n, ",k%d=%s", i, shortv);
    int k = clean(list, out);
    assert_true(k > 0 && k <= GW_TRACESTATE_MAX);
    /* b went first (the long member last in the list), and that was enough */
    assert_true(strncmp(out, "a=xxx", 5) == 0);
    assert_null(strstr(out, "b=x"));
    assert_non_null(strstr(out, "k5="));
    assert_int_equal(k, 545 - 153);
    /* only short members: drop from the end */
    n = 0;
    for (int i = 0; i < 20; i++)
        n += snprintf(list + n, sizeof list - (size_t)n, "%sk%d=%s", i ? "," : "", i, shortv);
    k = clean(list, out);
    assert_true(k > 0 && k <= GW_TRACESTATE_MAX);
    assert_true(strncmp(out, "k0=", 3) == 0);
    assert_null(strstr(out, "k19="));
    /* whole members only */
    assert_true(out[k - 1] == 's');
}

static int setup(void **state)
{
    (void)state;
    guard_init(&g, 4096);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    guard_free(&g);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_version_00),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_future_versions),
        cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_span_id_hex_matches_printf),
        cmocka_unit_test(test_tracestate_valid),
        cmocka_unit_test(test_tracestate_invalid),
        cmocka_unit_test(test_tracestate_truncation),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
