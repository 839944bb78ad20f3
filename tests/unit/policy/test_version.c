/* Unit tests for src/policy/version_extract.c: reading a request's API version. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "policy/version.h"

/* A message with these header lines ("Name", "value", ...). */
struct msg {
    struct gw_http1_message m;
    struct gw_http1_header h[8];
};

static void set_headers(struct msg *x, const char *const *kv, size_t n)
{
    memset(x, 0, sizeof *x);
    for (size_t i = 0; i < n; i++) {
        x->h[i].name = kv[2 * i];
        x->h[i].name_len = (uint32_t)strlen(kv[2 * i]);
        x->h[i].value = kv[2 * i + 1];
        x->h[i].value_len = (uint32_t)strlen(kv[2 * i + 1]);
    }
    x->m.headers = x->h;
    x->m.num_headers = (uint32_t)n;
}

static char *hdr_names[] = {"Accept-Version", "API-Version"};

static struct gw_versioning_conf conf(void)
{
    struct gw_versioning_conf vc = {
        .order = {GW_VSRC_PATH, GW_VSRC_HEADER, GW_VSRC_ACCEPT, GW_VSRC_QUERY},
        .norder = 4,
        .headers = hdr_names,
        .nheaders = 2,
        .query = "version",
        .accept_param = "version",
        .path_prefix = "v",
    };
    return vc;
}

static void expect(const struct gw_versioning_conf *vc, const struct msg *x, const char *query,
                   const char *want)
{
    const char *v = NULL;
    size_t n = 0;
    bool found = gw_version_extract(vc, &x->m, query, query ? strlen(query) : 0, &v, &n);
    if (want == NULL) {
        assert_false(found);
        return;
    }
    assert_true(found);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(v, want, n);
}

static void test_header(void **state)
{
    (void)state;
    struct gw_versioning_conf vc = conf();
    struct msg x;
    const char *a[] = {"Host", "h", "api-version", "3"};
    set_headers(&x, a, 2);
    expect(&vc, &x, NULL, "3");
    const char *b[] = {"API-Version", "3", "Accept-Version", "4"};
    set_headers(&x, b, 2);
    expect(&vc, &x, NULL, "4"); /* headers are tried in the configured order */
    set_headers(&x, NULL, 0);
    expect(&vc, &x, NULL, NULL);
}

static void test_accept(void **state)
{
    (void)state;
    struct gw_versioning_conf vc = conf();
    struct msg x;
    const char *a[] = {"Accept", "application/vnd.acme+json; version=2"};
    set_headers(&x, a, 1);
    expect(&vc, &x, NULL, "2");
    const char *b[] = {"Accept",
                       "text/html;q=0.9, application/json ;charset=utf-8; VERSION = \"1.5\""};
    set_headers(&x, b, 1);
    expect(&vc, &x, NULL, "1.5");
    const char *c[] = {"Accept", "a/b; x=\"v,version=7\", c/d;version=8"};
    set_headers(&x, c, 1);
    expect(&vc, &x, NULL, "8"); /* a comma inside a quoted-string does not end the range */
    const char *d[] = {"Accept", "*/*", "Accept", "a/b;version=9"};
    set_headers(&x, d, 2);
    expect(&vc, &x, NULL, "9"); /* a second Accept line */
    const char *e[] = {"Accept", "a/b; myversion=1; version"};
    set_headers(&x, e, 1);
    expect(&vc, &x, NULL, NULL);
}

static void test_accept_param(void **state)
{
    (void)state;
    const char *v;
    size_t n;
    const char *s = "a/b;version=\"x\\\"y\"";
    assert_false(gw_version_accept_param(s, strlen(s), "version", 7, &v, &n)); /* escapes */
    s = "a/b;version=\"unterminated";
    assert_false(gw_version_accept_param(s, strlen(s), "version", 7, &v, &n));
    s = "a/b;version=";
    assert_true(gw_version_accept_param(s, strlen(s), "version", 7, &v, &n));
    assert_int_equal(n, 0);
    s = ";;;,,,;=;";
    assert_false(gw_version_accept_param(s, strlen(s), "version", 7, &v, &n));
    s = "a/b;v=1";
    assert_true(gw_version_accept_param(s, strlen(s), "V", 1, &v, &n));
    assert_int_equal(n, 1);
    assert_int_equal(v[0], '1');
}

static void test_query_and_order(void **state)
{
    (void)state;
    struct gw_versioning_conf vc = conf();
    struct msg x;
    set_headers(&x, NULL, 0);
    expect(&vc, &x, "?version=5", "5");
    expect(&vc, &x, "?a=1&version=6&version=7", "6");
    expect(&vc, &x, "?myversion=5&versionx=3", NULL);
    expect(&vc, &x, "?", NULL);
    const char *a[] = {"Accept-Version", "1"};
    set_headers(&x, a, 1);
    expect(&vc, &x, "?version=5", "1");
    vc.order[0] = GW_VSRC_QUERY;
    vc.norder = 1;
    expect(&vc, &x, "?version=5", "5");
    expect(&vc, &x, NULL, NULL); /* the header is not a source now */
}

static void test_token(void **state)
{
    (void)state;
    assert_true(gw_version_token("2", 1));
    assert_true(gw_version_token("2024-01-01", 10));
    assert_true(gw_version_token("v1.2_beta", 9));
    assert_false(gw_version_token("", 0));
    assert_false(gw_version_token("1 2", 3));
    assert_false(gw_version_token("1/2", 3));
    char big[GW_VERSION_MAX + 1];
    memset(big, '1', sizeof big);
    assert_true(gw_version_token(big, GW_VERSION_MAX));
    assert_false(gw_version_token(big, GW_VERSION_MAX + 1));
}

static void test_time(void **state)
{
    (void)state;
    int64_t t = 0;
    assert_int_equal(gw_version_parse_time("1970-01-01T00:00:00Z", &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(gw_version_parse_time("2026-01-31T00:00:00Z", &t), 0);
    assert_int_equal(t, 1769817600);
    assert_int_equal(gw_version_parse_time("2024-02-29 12:30:15z", &t), 0);
    assert_int_equal(t, 1709209815);
    assert_int_equal(gw_version_parse_time("2025-02-29T00:00:00Z", &t), GW_EINVAL);
    assert_int_equal(gw_version_parse_time("2025-13-01T00:00:00Z", &t), GW_EINVAL);
    assert_int_equal(gw_version_parse_time("2025-01-01T00:00:00+01:00", &t), GW_EINVAL);
    assert_int_equal(gw_version_parse_time("2025-01-01", &t), GW_EINVAL);
    assert_int_equal(gw_version_parse_time("2025-01-0aT00:00:00Z", &t), GW_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header),       cmocka_unit_test(test_accept),
        cmocka_unit_test(test_accept_param), cmocka_unit_test(test_query_and_order),
        cmocka_unit_test(test_token),        cmocka_unit_test(test_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
