/*
 * Unit tests for src/core/url.c: URLs taken apart (schemes, userinfo, the three kinds of host,
 * default and explicit ports, path, query, fragment, Redis database numbers), URLs refused with
 * the reason, authorities on their own, host names, percent-decoding, redaction for messages,
 * and every case again at the end of a guard page (no byte past the given length is read).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../guard_page.h"
#include "core/error.h"
#include "core/url.h"

/* ---- URLs taken apart --------------------------------------------------------------------- */

struct good {
    const char *in;
    enum gw_url_scheme scheme;
    const char *user; /* NULL: none */
    const char *password;
    const char *authority;
    const char *host;
    enum gw_url_host_kind kind;
    unsigned port;
    int has_port;
    const char *path;
    const char *query; /* NULL: none */
    const char *fragment;
    unsigned db;
};

#define NAME GW_URL_HOST_NAME
#define V4 GW_URL_HOST_IPV4
#define V6 GW_URL_HOST_IPV6

static const char label63[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

static const struct good goods[] = {
    {"http://example.com", GW_URL_HTTP, NULL, NULL, "example.com", "example.com", NAME, 80, 0, "",
     NULL, NULL, 0},
    {"HTTP://Example.COM:8080/", GW_URL_HTTP, NULL, NULL, "Example.COM:8080", "Example.COM", NAME,
     8080, 1, "/", NULL, NULL, 0},
    {"https://h", GW_URL_HTTPS, NULL, NULL, "h", "h", NAME, 443, 0, "", NULL, NULL, 0},
    {"http://10.0.0.5:8080/a/b?x=1&y=%20#frag", GW_URL_HTTP, NULL, NULL, "10.0.0.5:8080",
     "10.0.0.5", V4, 8080, 1, "/a/b", "x=1&y=%20", "frag", 0},
    {"http://[::1]:8080/six?q", GW_URL_HTTP, NULL, NULL, "[::1]:8080", "::1", V6, 8080, 1, "/six",
     "q", NULL, 0},
    {"http://[fd00::5]", GW_URL_HTTP, NULL, NULL, "[fd00::5]", "fd00::5", V6, 80, 0, "", NULL, NULL,
     0},
    {"http://[::ffff:10.0.0.1]:1", GW_URL_HTTP, NULL, NULL, "[::ffff:10.0.0.1]:1",
     "::ffff:10.0.0.1", V6, 1, 1, "", NULL, NULL, 0},
    {"http://user:p%40ss@h:81/p", GW_URL_HTTP, "user", "p%40ss", "h:81", "h", NAME, 81, 1, "/p",
     NULL, NULL, 0},
    {"redis://:pw@h", GW_URL_REDIS, "", "pw", "h", "h", NAME, 6379, 0, "", NULL, NULL, 0},
    {"redis://u@h", GW_URL_REDIS, "u", NULL, "h", "h", NAME, 6379, 0, "", NULL, NULL, 0},
    {"redis://@h", GW_URL_REDIS, "", NULL, "h", "h", NAME, 6379, 0, "", NULL, NULL, 0},
    {"redis://:a@b@h", GW_URL_REDIS, "", "a@b", "h", "h", NAME, 6379, 0, "", NULL, NULL, 0},
    {"redis://u:p:q@h", GW_URL_REDIS, "u", "p:q", "h", "h", NAME, 6379, 0, "", NULL, NULL, 0},
    {"redis://h/15", GW_URL_REDIS, NULL, NULL, "h", "h", NAME, 6379, 0, "/15", NULL, NULL, 15},
    {"redis://h:7000/", GW_URL_REDIS, NULL, NULL, "h:7000", "h", NAME, 7000, 1, "/", NULL, NULL, 0},
    {"redis://h/100000", GW_URL_REDIS, NULL, NULL, "h", "h", NAME, 6379, 0, "/100000", NULL, NULL,
     100000},
    {"redis://h/0007", GW_URL_REDIS, NULL, NULL, "h", "h", NAME, 6379, 0, "/0007", NULL, NULL, 7},
    {"rediss://[::1]/2", GW_URL_REDISS, NULL, NULL, "[::1]", "::1", V6, 6379, 0, "/2", NULL, NULL,
     2},
    {"http://h?", GW_URL_HTTP, NULL, NULL, "h", "h", NAME, 80, 0, "", "", NULL, 0},
    {"http://h#", GW_URL_HTTP, NULL, NULL, "h", "h", NAME, 80, 0, "", NULL, "", 0},
    {"http://h?#", GW_URL_HTTP, NULL, NULL, "h", "h", NAME, 80, 0, "", "", "", 0},
    {"http://h/a:b@c!$&'()*+,;=-._~%7E", GW_URL_HTTP, NULL, NULL, "h", "h", NAME, 80, 0,
     "/a:b@c!$&'()*+,;=-._~%7E", NULL, NULL, 0},
    {"http://h//a/./../b", GW_URL_HTTP, NULL, NULL, "h", "h", NAME, 80, 0, "//a/./../b", NULL, NULL,
     0},
    {"http://h/?a/b?c#d/e?f", GW_URL_HTTP, NULL, NULL, "h", "h", NAME, 80, 0, "/", "a/b?c", "d/e?f",
     0},
    {"http://my_container:3000", GW_URL_HTTP, NULL, NULL, "my_container:3000", "my_container", NAME,
     3000, 1, "", NULL, NULL, 0},
    {"http://a-b.c-d.e1", GW_URL_HTTP, NULL, NULL, "a-b.c-d.e1", "a-b.c-d.e1", NAME, 80, 0, "",
     NULL, NULL, 0},
    {"http://1a.2b", GW_URL_HTTP, NULL, NULL, "1a.2b", "1a.2b", NAME, 80, 0, "", NULL, NULL, 0},
    {"http://h:00080", GW_URL_HTTP, NULL, NULL, "h:00080", "h", NAME, 80, 1, "", NULL, NULL, 0},
    {"http://h:65535", GW_URL_HTTP, NULL, NULL, "h:65535", "h", NAME, 65535, 1, "", NULL, NULL, 0},
    {"hTtPs://H:1/", GW_URL_HTTPS, NULL, NULL, "H:1", "H", NAME, 1, 1, "/", NULL, NULL, 0},
};

/* A part of the parse against the expected string (NULL: absent). */
static void check_part(const char *what, const char *in, const char *got, size_t got_len,
                       const char *want)
{
    if (want == NULL) {
        if (got != NULL)
            fail_msg("%s: %s: got \"%.*s\", want none", in, what, (int)got_len, got);
        return;
    }
    if (got == NULL)
        fail_msg("%s: %s: got none, want \"%s\"", in, what, want);
    if (got_len != strlen(want) || memcmp(got, want, got_len) != 0)
        fail_msg("%s: %s: got \"%.*s\", want \"%s\"", in, what, (int)got_len, got, want);
}

static void check_good(const struct good *g, const char *in, size_t n)
{
    struct gw_url u;
    const char *why = NULL;
    if (gw_url_parse(in, n, &u, &why) != 0)
        fail_msg("%s: refused: %s", g->in, why);
    assert_int_equal(u.scheme, g->scheme);
    assert_int_equal(gw_url_scheme_of(in, n), g->scheme);
    check_part("user", g->in, u.user, u.user_len, g->user);
    check_part("password", g->in, u.password, u.password_len, g->password);
    check_part("authority", g->in, u.authority, u.authority_len, g->authority);
    check_part("host", g->in, u.host.host, u.host.host_len, g->host);
    check_part("path", g->in, u.path, u.path_len, g->path);
    check_part("query", g->in, u.query, u.query_len, g->query);
    check_part("fragment", g->in, u.fragment, u.fragment_len, g->fragment);
    assert_int_equal(u.host.kind, g->kind);
    assert_int_equal(u.port, g->port);
    assert_int_equal(u.host.has_port, g->has_port);
    assert_int_equal(u.db, g->db);
    /* The parts point into the input. */
    assert_true(u.authority >= in && u.authority + u.authority_len <= in + n);
    assert_true(u.path >= in && u.path + u.path_len <= in + n);
}

static void test_good(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++)
        check_good(&goods[i], goods[i].in, strlen(goods[i].in));
}

/* Longest labels and names. */
static void test_host_limits(void **state)
{
    (void)state;
    char url[400];
    struct gw_url u;
    const char *why = NULL;

    snprintf(url, sizeof(url), "http://%s.com", label63);
    assert_int_equal(gw_url_parse(url, strlen(url), &u, &why), 0);
    snprintf(url, sizeof(url), "http://%sa.com", label63);
    assert_int_equal(gw_url_parse(url, strlen(url), &u, &why), GW_EINVAL);
    assert_string_equal(why, "host name label longer than 63 characters");

    /* 253 bytes: three labels of 63, one of 61, and the dots */
    snprintf(url, sizeof(url), "http://%s.%s.%s.%.61s", label63, label63, label63, label63);
    assert_int_equal(strlen(url) - 7, 253);
    assert_int_equal(gw_url_parse(url, strlen(url), &u, &why), 0);
    snprintf(url, sizeof(url), "http://%s.%s.%s.%.62s", label63, label63, label63, label63);
    assert_int_equal(gw_url_parse(url, strlen(url), &u, &why), GW_EINVAL);
    assert_string_equal(why, "host name longer than 253 characters");
}

/* ---- URLs refused ------------------------------------------------------------------------- */

#define NOT_A_URL "not a URL (expected scheme://host, e.g. \"http://10.0.0.5:8080\")"
#define NO_HOST "missing host (expected http://host:port)"
#define PORT "the port must be a number between 1 and 65535"
#define HOST_CHAR "invalid character in host name (letters, digits, \"-\", \"_\" and \".\")"
#define PATH_CHAR "invalid character in the path (percent-encode it)"
#define PATH_ESC "malformed percent-escape in the path"
#define USER_CHAR "invalid character in the user or password (percent-encode it)"
#define USER_ESC "malformed percent-escape in the user or password"
#define DB "invalid database number after \"/\" (0 to 100000)"

static const struct {
    const char *in;
    size_t len; /* 0: strlen */
    enum gw_url_scheme scheme;
    const char *why;
} bads[] = {
    {"", 0, GW_URL_NONE, NOT_A_URL},
    {"example.com", 0, GW_URL_NONE, NOT_A_URL},
    {"example.com:80", 0, GW_URL_NONE, NOT_A_URL},
    {"http:/h", 0, GW_URL_NONE, NOT_A_URL},
    {"http:h", 0, GW_URL_NONE, NOT_A_URL},
    {"1http://h", 0, GW_URL_NONE, NOT_A_URL},
    {"ht tp://h", 0, GW_URL_NONE, NOT_A_URL},
    {"://h", 0, GW_URL_NONE, NOT_A_URL},
    {"ftp://h", 0, GW_URL_OTHER, "unsupported scheme (http, https, redis or rediss)"},
    {"http+unix://h", 0, GW_URL_OTHER, "unsupported scheme (http, https, redis or rediss)"},
    {"httpss://h", 0, GW_URL_OTHER, "unsupported scheme (http, https, redis or rediss)"},
    {"http://", 0, GW_URL_HTTP, NO_HOST},
    {"http:///x", 0, GW_URL_HTTP, NO_HOST},
    {"http://:80", 0, GW_URL_HTTP, NO_HOST},
    {"http://u@", 0, GW_URL_HTTP, NO_HOST},
    {"http://?q", 0, GW_URL_HTTP, NO_HOST},
    {"redis://", 0, GW_URL_REDIS, "missing host (expected redis://host:port)"},
    {"http://h:", 0, GW_URL_HTTP, "missing port after \":\""},
    {"http://h:/", 0, GW_URL_HTTP, "missing port after \":\""},
    {"http://h:0", 0, GW_URL_HTTP, PORT},
    {"http://h:65536", 0, GW_URL_HTTP, PORT},
    {"http://h:99999999999999999999", 0, GW_URL_HTTP, PORT},
    {"http://h:8a", 0, GW_URL_HTTP, PORT},
    {"http://h:000080", 0, GW_URL_HTTP, PORT},
    {"http://h:-1", 0, GW_URL_HTTP, PORT},
    {"http://h:+80", 0, GW_URL_HTTP, PORT},
    {"http://h: 80", 0, GW_URL_HTTP, PORT},
    {"http://[::1", 0, GW_URL_HTTP, "unterminated \"[\" in IPv6 address"},
    {"http://[::1]x", 0, GW_URL_HTTP, "unexpected characters after \"]\""},
    {"http://[::1]:", 0, GW_URL_HTTP, "missing port after \":\""},
    {"http://[zz::1]", 0, GW_URL_HTTP, "invalid IPv6 address"},
    {"http://[]", 0, GW_URL_HTTP, "invalid IPv6 address"},
    {"http://[::1%25lo]", 0, GW_URL_HTTP, "invalid IPv6 address"},
    {"http://[v1.x]", 0, GW_URL_HTTP, "invalid IPv6 address"},
    {"http://[10.0.0.1]", 0, GW_URL_HTTP, "invalid IPv6 address"},
    {"http://[::\0\0001]", 14, GW_URL_HTTP, "invalid IPv6 address"}, /* inet_pton stops at NUL */
    {"http://::1", 0, GW_URL_HTTP,
     "an IPv6 address must be written in brackets, as in \"[::1]:8000\""},
    {"http://1.2.3.400", 0, GW_URL_HTTP, "invalid IPv4 address"},
    {"http://1.2.3", 0, GW_URL_HTTP, "invalid IPv4 address"},
    {"http://1.2.3.4.", 0, GW_URL_HTTP, "invalid IPv4 address"},
    {"http://ho st", 0, GW_URL_HTTP, HOST_CHAR},
    {"http://h%41", 0, GW_URL_HTTP, HOST_CHAR},
    {"http://h\xc3\xa9.com", 0, GW_URL_HTTP, HOST_CHAR},
    {"http://h;x", 0, GW_URL_HTTP, HOST_CHAR},
    {"http://-a", 0, GW_URL_HTTP, "a host name label must not start with \"-\""},
    {"http://a.-b", 0, GW_URL_HTTP, "a host name label must not start with \"-\""},
    {"http://a-", 0, GW_URL_HTTP, "a host name label must not end with \"-\""},
    {"http://a-.b", 0, GW_URL_HTTP, "a host name label must not end with \"-\""},
    {"http://a..b", 0, GW_URL_HTTP, "empty label in host name"},
    {"http://.a", 0, GW_URL_HTTP, "empty label in host name"},
    {"http://a.", 0, GW_URL_HTTP, "a host name must not end with \".\""},
    {"http://h/a b", 0, GW_URL_HTTP, PATH_CHAR},
    {"http://h/a\r\nX-Injected: 1", 0, GW_URL_HTTP, PATH_CHAR},
    {"http://h/\x7f", 0, GW_URL_HTTP, PATH_CHAR},
    {"http://h/\xc3\xa9", 0, GW_URL_HTTP, PATH_CHAR},
    {"http://h/a\"b", 0, GW_URL_HTTP, PATH_CHAR},
    {"http://h/a<b>", 0, GW_URL_HTTP, PATH_CHAR},
    {"http://h/a{b}", 0, GW_URL_HTTP, PATH_CHAR},
    {"http://h/a|b", 0, GW_URL_HTTP, PATH_CHAR},
    {"http://h/a\\b", 0, GW_URL_HTTP, PATH_CHAR},
    {"http://h/a^b", 0, GW_URL_HTTP, PATH_CHAR},
    {"http://h/a`b", 0, GW_URL_HTTP, PATH_CHAR},
    {"http://h/[x]", 0, GW_URL_HTTP, PATH_CHAR},
    {"http://h/a\0b", 12, GW_URL_HTTP, PATH_CHAR},
    {"http://h/a%2", 0, GW_URL_HTTP, PATH_ESC},
    {"http://h/a%", 0, GW_URL_HTTP, PATH_ESC},
    {"http://h/a%zz", 0, GW_URL_HTTP, PATH_ESC},
    {"http://h/a%00", 0, GW_URL_HTTP, PATH_ESC},
    {"http://h?a b", 0, GW_URL_HTTP, "invalid character in the query (percent-encode it)"},
    {"http://h?a%g0", 0, GW_URL_HTTP, "malformed percent-escape in the query"},
    {"http://h#a b", 0, GW_URL_HTTP, "invalid character in the fragment (percent-encode it)"},
    {"http://h#a#b", 0, GW_URL_HTTP, "invalid character in the fragment (percent-encode it)"},
    {"http://h#%", 0, GW_URL_HTTP, "malformed percent-escape in the fragment"},
    {"http://u ser@h", 0, GW_URL_HTTP, USER_CHAR},
    {"http://u\"@h", 0, GW_URL_HTTP, USER_CHAR},
    {"http://u%2@h", 0, GW_URL_HTTP, USER_ESC},
    {"http://u:%00@h", 0, GW_URL_HTTP, USER_ESC},
    {"http://u:p%@h", 0, GW_URL_HTTP, USER_ESC},
    {"redis://h/x", 0, GW_URL_REDIS, DB},
    {"redis://h/100001", 0, GW_URL_REDIS, DB},
    {"redis://h/99999999999999999999999", 0, GW_URL_REDIS, DB},
    {"redis://h/1/2", 0, GW_URL_REDIS, DB},
    {"redis://h//", 0, GW_URL_REDIS, DB},
    {"redis://h/-1", 0, GW_URL_REDIS, DB},
    {"rediss://h/%31", 0, GW_URL_REDISS, DB},
};

static void check_bad(size_t i, const char *in, size_t n)
{
    struct gw_url u;
    const char *why = NULL;
    if (gw_url_parse(in, n, &u, &why) != GW_EINVAL)
        fail_msg("bad %zu (%s) accepted", i, bads[i].in);
    if (why == NULL || strcmp(why, bads[i].why) != 0)
        fail_msg("bad %zu (%s): got \"%s\", want \"%s\"", i, bads[i].in, why ? why : "(null)",
                 bads[i].why);
    assert_int_equal(gw_url_scheme_of(in, n), bads[i].scheme);
}

static size_t bad_len(size_t i)
{
    return bads[i].len ? bads[i].len : strlen(bads[i].in);
}

static void test_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++)
        check_bad(i, bads[i].in, bad_len(i));
}

/* The length given is the URL: what follows is never looked at. */
static void test_length_bounds(void **state)
{
    (void)state;
    struct gw_url u;
    const char *why = NULL;
    const char *s = "http://h:80/p?q#f";
    assert_int_equal(gw_url_parse(s, 8, &u, &why), 0);
    assert_int_equal(u.port, 80);
    assert_int_equal(u.host.has_port, 0);
    assert_int_equal(gw_url_parse(s, 9, &u, &why), GW_EINVAL);
    assert_string_equal(why, "missing port after \":\"");
    assert_int_equal(gw_url_parse(s, 12, &u, &why), 0);
    check_part("path", s, u.path, u.path_len, "/");
    assert_null(u.query);
    assert_int_equal(gw_url_parse(s, 15, &u, &why), 0);
    check_part("query", s, u.query, u.query_len, "q");
    assert_null(u.fragment);
}

/* ---- authorities, host names -------------------------------------------------------------- */

static void test_authority(void **state)
{
    (void)state;
    struct gw_url_authority a;
    const char *why = NULL;

    assert_int_equal(gw_url_parse_authority(":8000", 5, &a, &why), 0);
    assert_int_equal(a.host_len, 0);
    assert_true(a.has_port && a.port == 8000);
    assert_int_equal(gw_url_parse_authority("0.0.0.0:8000", 12, &a, &why), 0);
    assert_int_equal(a.kind, GW_URL_HOST_IPV4);
    assert_int_equal(gw_url_parse_authority("[::]:8000", 9, &a, &why), 0);
    assert_int_equal(a.kind, GW_URL_HOST_IPV6);
    assert_int_equal(a.host_len, 2);
    assert_int_equal(gw_url_parse_authority("api.example.com", 15, &a, &why), 0);
    assert_int_equal(a.kind, GW_URL_HOST_NAME);
    assert_false(a.has_port);
    assert_int_equal(gw_url_parse_authority("", 0, &a, &why), 0);
    assert_int_equal(a.host_len, 0);
    assert_int_equal(gw_url_parse_authority("h:", 2, &a, &why), GW_EINVAL);
    assert_string_equal(why, "missing port after \":\"");
    assert_int_equal(gw_url_parse_authority("h:1:2", 5, &a, &why), GW_EINVAL);
    assert_string_equal(why, "an IPv6 address must be written in brackets, as in \"[::1]:8000\"");
}

static void test_host_name(void **state)
{
    (void)state;
    assert_null(gw_url_check_host_name("example.com", 11));
    assert_null(gw_url_check_host_name("10.1.2.3", 8));
    assert_null(gw_url_check_host_name("a_b", 3));
    assert_string_equal(gw_url_check_host_name("", 0), "missing host");
    assert_string_equal(gw_url_check_host_name("10.1.2", 6), "invalid IPv4 address");
    assert_string_equal(gw_url_check_host_name("a b", 3), HOST_CHAR);
    assert_string_equal(gw_url_check_host_name("a:b", 3), HOST_CHAR);
}

/* ---- helpers ------------------------------------------------------------------------------ */

static void test_decode(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", ""},
        {"plain", "plain"},
        {"p%40ss%3Aw0rd", "p@ss:w0rd"},
        {"%2f%2F", "//"},
        {"%e2%82%ac", "\xe2\x82\xac"},
        {"%zz%4", "%zz%4"}, /* not escapes: copied */
        {"100%", "100%"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *d = gw_url_decode_dup(cases[i].in, strlen(cases[i].in));
        assert_non_null(d);
        assert_string_equal(d, cases[i].out);
        free(d);
    }
    /* only the first n bytes: an escape cut short is copied as it is */
    char *d = gw_url_decode_dup("ab%41cd", 5);
    assert_non_null(d);
    assert_string_equal(d, "abA");
    free(d);
    d = gw_url_decode_dup("ab%41cd", 4);
    assert_non_null(d);
    assert_string_equal(d, "ab%4");
    free(d);
}

static void test_redact(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"redis://:hunter2@h:0", "redis://***@h:0"},
        {"redis://gantry:hunter2@h", "redis://***@h"},
        {"redis://hunter2@h", "redis://***@h"},
        {"redis://@h", "redis://***@h"},
        {"http://h/x", "http://h/x"},
        {"", ""},
        {"a:b@c", "***@c"},
        {"redis://:a@b@h/1", "redis://***@h/1"},
        {"redis://:pa/ss@h", "redis://***@h"}, /* the "@" is after the path begins: all the same */
        {"x@y://u:p@h", "***@h"},              /* an "@" before the "://": keep nothing */
        {"http://h/p?u=a@b", "http://***@b"},  /* conservative: any "@" hides what precedes */
        {"@", "***@"},
    };
    char out[64];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        gw_url_redact(cases[i].in, strlen(cases[i].in), out, sizeof(out));
        assert_string_equal(out, cases[i].out);
    }
    gw_url_redact("redis://:hunter2@h", 18, out, 5);
    assert_string_equal(out, "redi");
    gw_url_redact("redis://:hunter2@h", 18, out, 11);
    assert_string_equal(out, "redis://**");
    gw_url_redact("redis://:hunter2@h", 18, out, 1);
    assert_string_equal(out, "");
}

/* ---- guard page ----------------------------------------------------------------------------- */

/* Each case placed so that its last byte is the last readable one. */
static void test_guard_page(void **state)
{
    (void)state;
    struct guard g;
    char out[600];
    guard_init(&g, 512);
    for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
        size_t n = strlen(goods[i].in);
        const char *p = guard_place(&g, goods[i].in, n);
        check_good(&goods[i], p, n);
        gw_url_redact(p, n, out, sizeof(out));
        char *d = gw_url_decode_dup(p, n);
        assert_non_null(d);
        free(d);
    }
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        size_t n = bad_len(i);
        const char *p = guard_place(&g, bads[i].in, n);
        check_bad(i, p, n);
        gw_url_redact(p, n, out, sizeof(out));
        char *d = gw_url_decode_dup(p, n);
        assert_non_null(d);
        free(d);
        /* every prefix too: truncated escapes, ports and brackets end at the guard */
        for (size_t k = 0; k < n; k++) {
            struct gw_url u;
            const char *why;
            struct gw_url_authority a;
            p = guard_place(&g, bads[i].in, k);
            (void)gw_url_parse(p, k, &u, &why);
            (void)gw_url_parse_authority(p, k, &a, &why);
            (void)gw_url_scheme_of(p, k);
            d = gw_url_decode_dup(p, k);
            assert_non_null(d);
            free(d);
        }
    }
    guard_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),       cmocka_unit_test(test_host_limits),
        cmocka_unit_test(test_bad),        cmocka_unit_test(test_length_bounds),
        cmocka_unit_test(test_authority),  cmocka_unit_test(test_host_name),
        cmocka_unit_test(test_decode),     cmocka_unit_test(test_redact),
        cmocka_unit_test(test_guard_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
