/* Unit tests for src/policy/origin.c: serialized origins (RFC 6454) as Origin and Referer carry
 * them, the Host comparison of the CSRF check, and the configured patterns: exact, subdomain
 * wildcards, "null", "*"; with a guard-page test (no read past the input). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy/origin.h"

static int parse(const char *s, struct gw_origin *o)
{
    return gw_origin_parse(s, strlen(s), o);
}

static void test_parse_origins(void **unused)
{
    (void)unused;
    struct gw_origin o;
    assert_int_equal(parse("https://app.example.com", &o), 0);
    assert_false(o.opaque);
    assert_int_equal(o.scheme_len, 5);
    assert_memory_equal(o.host, "app.example.com", 15);
    assert_int_equal(o.host_len, 15);
    assert_int_equal(o.port, 443);
    assert_int_equal(parse("http://localhost:5173", &o), 0);
    assert_int_equal(o.port, 5173);
    assert_int_equal(parse("http://127.0.0.1", &o), 0);
    assert_int_equal(o.port, 80);
    assert_int_equal(parse("http://[::1]:8080", &o), 0);
    assert_int_equal(o.host_len, 5);
    assert_int_equal(o.port, 8080);
    assert_int_equal(parse("HTTPS://App.Example.COM:443", &o), 0);
    assert_int_equal(o.port, 443);
    assert_int_equal(parse("chrome-extension://abcdef:1", &o), 0);
    assert_int_equal(parse("null", &o), 0);
    assert_true(o.opaque);

    static const char *bad[] = {
        "",
        "https://",
        "https://app.example.com/",
        "https://app.example.com/path",
        "https://user@app.example.com",
        "https://app.example.com:",
        "https://app.example.com:0",
        "https://app.example.com:65536",
        "https://app.example.com:12a",
        "https://app.example.com?x",
        "app.example.com",
        "//app.example.com",
        "1http://a.com",
        "https:/a.com",
        "https://a b.com",
        "https://[::1",
        "https://[zz]",
        "Null",
        "null ",
        "https://a.com, https://b.com",
        "chrome-extension://abcdef", /* no default port for that scheme: kept, port 0 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0] - 1; i++) {
        if (parse(bad[i], &o) == 0)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    /* an unknown scheme parses, with no port to compare */
    assert_int_equal(parse(bad[sizeof bad / sizeof bad[0] - 1], &o), 0);
    assert_int_equal(o.port, 0);

    char longest[GW_ORIGIN_MAX + 2];
    memset(longest, 'a', sizeof longest);
    memcpy(longest, "https://", 8);
    assert_int_equal(gw_origin_parse(longest, GW_ORIGIN_MAX + 1, &o), -1);
}

static void test_serialize(void **unused)
{
    (void)unused;
    struct gw_origin o;
    char out[GW_ORIGIN_MAX + 1];
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"https://app.example.com", "https://app.example.com"},
        {"HTTPS://App.Example.COM:443", "https://app.example.com"},
        {"http://a.example:80", "http://a.example"},
        {"http://a.example:443", "http://a.example:443"},
        {"https://a.example:8443", "https://a.example:8443"},
        {"http://[::1]:8080", "http://[::1]:8080"},
        {"WSS://x.example:443", "wss://x.example"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(parse(cases[i].in, &o), 0);
        size_t n = gw_origin_serialize(&o, out, sizeof out);
        assert_int_equal(n, strlen(cases[i].out));
        assert_string_equal(out, cases[i].out);
    }
    assert_int_equal(parse("null", &o), 0);
    assert_int_equal(gw_origin_serialize(&o, out, sizeof out), 0);
    assert_int_equal(parse("https://app.example.com", &o), 0);
    assert_int_equal(gw_origin_serialize(&o, out, 10), 0); /* does not fit */
}

static void test_origin_of_referer(void **unused)
{
    (void)unused;
    struct gw_origin o, want;
    const char *r = "https://app.example.com:8443/page/x?y=1#z";
    assert_int_equal(gw_origin_of_url(r, strlen(r), &o), 0);
    assert_int_equal(parse("https://app.example.com:8443", &want), 0);
    assert_true(gw_origin_same(&o, &want));
    r = "https://app.example.com";
    assert_int_equal(gw_origin_of_url(r, strlen(r), &o), 0);
    r = "https://app.example.com?q";
    assert_int_equal(gw_origin_of_url(r, strlen(r), &o), 0);
    assert_int_equal(o.host_len, 15);
    static const char *bad[] = {"/relative/path", "https://user:pw@app.example.com/", "about:blank",
                                "", "https:///x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(gw_origin_of_url(bad[i], strlen(bad[i]), &o), -1);
}

static void test_same_origin(void **unused)
{
    (void)unused;
    struct gw_origin a, b;
    assert_int_equal(parse("https://a.example.com", &a), 0);
    assert_int_equal(parse("HTTPS://A.EXAMPLE.COM:443", &b), 0);
    assert_true(gw_origin_same(&a, &b));
    assert_int_equal(parse("http://a.example.com", &b), 0);
    assert_false(gw_origin_same(&a, &b)); /* scheme */
    assert_int_equal(parse("https://a.example.com:444", &b), 0);
    assert_false(gw_origin_same(&a, &b)); /* port */
    assert_int_equal(parse("https://b.example.com", &b), 0);
    assert_false(gw_origin_same(&a, &b)); /* host */
    assert_int_equal(parse("null", &b), 0);
    assert_false(gw_origin_same(&b, &b)); /* the opaque origin is never the same */
}

static bool is_host(const char *origin, const char *host)
{
    struct gw_origin o;
    assert_int_equal(parse(origin, &o), 0);
    return gw_origin_is_host(&o, host, strlen(host));
}

static void test_host_header(void **unused)
{
    (void)unused;
    assert_true(is_host("https://shop.example.com", "shop.example.com"));
    assert_true(is_host("https://shop.example.com", "SHOP.example.com"));
    assert_true(is_host("https://shop.example.com", "shop.example.com:443"));
    assert_true(is_host("http://shop.example.com", "shop.example.com"));
    assert_true(is_host("http://127.0.0.1:8000", "127.0.0.1:8000"));
    assert_true(is_host("http://[::1]:8000", "[::1]:8000"));
    assert_false(is_host("http://127.0.0.1:8000", "127.0.0.1"));
    assert_false(is_host("http://127.0.0.1:8000", "127.0.0.1:8001"));
    assert_false(is_host("https://shop.example.com", "shop.example.com:80"));
    assert_false(is_host("https://shop.example.com", "evil.com"));
    assert_false(is_host("https://shop.example.com", "shop.example.com.evil.com"));
    assert_false(is_host("https://shop.example.com", ""));
    assert_false(is_host("https://shop.example.com", "shop.example.com:x"));
    assert_false(is_host("null", "null"));
}

static int pattern(const char *s, struct gw_origin_pattern *p, const char **why)
{
    *why = NULL;
    return gw_origin_pattern_parse(s, strlen(s), p, why);
}

static bool matches(const char *pat, const char *origin)
{
    struct gw_origin_pattern p;
    struct gw_origin o;
    const char *why;
    assert_int_equal(pattern(pat, &p, &why), 0);
    if (parse(origin, &o) != 0)
        fail_msg("test origin \"%s\" does not parse", origin);
    return gw_origin_pattern_match(&p, &o);
}

static void test_patterns(void **unused)
{
    (void)unused;
    assert_true(matches("https://app.example.com", "https://app.example.com"));
    assert_true(matches("https://app.example.com:443", "https://APP.example.com"));
    assert_false(matches("https://app.example.com", "http://app.example.com"));
    assert_false(matches("https://app.example.com", "https://app.example.com:8443"));
    assert_false(matches("https://app.example.com", "https://app.example.com.evil.com"));
    assert_false(matches("https://app.example.com", "null"));

    assert_true(matches("https://*.example.com", "https://a.example.com"));
    assert_true(matches("https://*.example.com", "https://a.b.example.com"));
    assert_true(matches("https://*.Example.com", "https://A.EXAMPLE.com"));
    assert_false(matches("https://*.example.com", "https://example.com"));
    assert_false(matches("https://*.example.com", "https://badexample.com"));
    assert_false(matches("https://*.example.com", "https://a.badexample.com"));
    assert_false(matches("https://*.example.com", "https://example.com.evil.com"));
    assert_false(matches("https://*.example.com", "http://a.example.com"));
    assert_false(matches("https://*.example.com", "https://a.example.com:8443"));
    assert_true(matches("http://*.example.com:8080", "http://a.example.com:8080"));
    assert_false(matches("https://*.example.com", "null"));

    assert_true(matches("null", "null"));
    assert_false(matches("null", "https://a.example.com"));
    assert_true(matches("*", "https://anything.example"));
    assert_true(matches("*", "null"));
}

static void test_pattern_errors(void **unused)
{
    (void)unused;
    struct gw_origin_pattern p;
    const char *why;
    static const struct {
        const char *s;
        const char *why_has;
    } bad[] = {
        {"app.example.com", "is not an origin"},
        {"https://app.example.com/", "has a path"},
        {"https://app.example.com/x", "has a path"},
        {"https://app.*.com", "wildcard only as its whole first label"},
        {"https://a*.example.com", "wildcard only as its whole first label"},
        {"https://*example.com", "wildcard only as its whole first label"},
        {"https://*.com", "top-level domain"},
        {"https://*.[::1]", "before an IP address"},
        {"https://app.example.com:99999", "invalid port"},
        {"ftp://files.example.com", "needs a port"},
        {"**", "is not an origin"},
        {"", "is not an origin"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (pattern(bad[i].s, &p, &why) == 0)
            fail_msg("accepted \"%s\"", bad[i].s);
        assert_non_null(why);
        if (strstr(why, bad[i].why_has) == NULL)
            fail_msg("\"%s\": %s", bad[i].s, why);
    }
    assert_int_equal(pattern("ftp://files.example.com:21", &p, &why), 0);
    assert_int_equal(pattern("*", &p, &why), 0);
    assert_int_equal(p.kind, GW_ORIGIN_ANY);
    assert_int_equal(pattern("null", &p, &why), 0);
    assert_int_equal(p.kind, GW_ORIGIN_NULL);
    assert_int_equal(pattern("https://*.co.uk", &p, &why), 0);
    assert_int_equal(p.kind, GW_ORIGIN_WILDCARD);
}

/* Each input placed at the very end of a readable page, with an unreadable page behind it:
 * any read past the input faults. */
static void test_guard_page(void **unused)
{
    (void)unused;
    long pg = sysconf(_SC_PAGESIZE);
    char *mem =
        mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(mem != MAP_FAILED);
    assert_int_equal(mprotect(mem + pg, (size_t)pg, PROT_NONE), 0);
    static const char *inputs[] = {"https://a.example.com",
                                   "https://a.example.com:",
                                   "https://[",
                                   "https://[::1",
                                   "https",
                                   "null",
                                   "https://*.example.com:80",
                                   "https://a.b/",
                                   "h"};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        size_t n = strlen(inputs[i]);
        char *at = mem + pg - n;
        memcpy(at, inputs[i], n);
        struct gw_origin o;
        struct gw_origin_pattern p;
        const char *why;
        for (size_t k = 0; k <= n; k++) {
            (void)gw_origin_parse(at + n - k, k, &o);
            (void)gw_origin_of_url(at + n - k, k, &o);
            (void)gw_origin_pattern_parse(at + n - k, k, &p, &why);
            if (gw_origin_parse(at + n - k, k, &o) == 0)
                (void)gw_origin_is_host(&o, at + n - k, k);
        }
    }
    munmap(mem, (size_t)pg * 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_origins),     cmocka_unit_test(test_serialize),
        cmocka_unit_test(test_origin_of_referer), cmocka_unit_test(test_same_origin),
        cmocka_unit_test(test_host_header),       cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_pattern_errors),    cmocka_unit_test(test_guard_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
