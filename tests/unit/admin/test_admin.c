/* Unit tests for src/control/admin.c (the API key a request carries, constant-time comparison)
 * and the admin settings of the config (admin.listen, admin.api_key, drain_timeout). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "admin/admin.h"
#include "config/config.h"

/* ---- the key of a request ------------------------------------------------------------------- */

struct parsed {
    struct gw_http1_parser p;
    struct gw_http1_message m;
    struct gw_http1_header h[16];
};

static void parse(struct parsed *x, const char *text)
{
    memset(x, 0, sizeof *x);
    x->m.headers = x->h;
    x->m.headers_capacity = 16;
    gw_http1_parser_init_request(&x->p, NULL);
    assert_int_equal(gw_http1_parse_request(&x->p, text, strlen(text), &x->m), GW_HTTP1_DONE);
}

static void expect_key(const char *head, const char *want)
{
    struct parsed x;
    struct gw__admin_slice key = {0};
    parse(&x, head);
    bool got = gw__admin_request_key(&x.m, &key);
    if (want == NULL) {
        if (got)
            fail_msg("%s: unexpected key %.*s", head, (int)key.n, key.p);
        return;
    }
    if (!got)
        fail_msg("%s: no key found", head);
    assert_int_equal(key.n, strlen(want));
    assert_memory_equal(key.p, want, key.n);
}

static void test_request_key(void **state)
{
    (void)state;
    expect_key("GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer s3cret\r\n\r\n", "s3cret");
    expect_key("GET / HTTP/1.1\r\nHost: a\r\nauthorization: bearer   s3cret\r\n\r\n", "s3cret");
    expect_key("GET / HTTP/1.1\r\nHost: a\r\nX-API-Key: k-1\r\n\r\n", "k-1");
    expect_key("GET / HTTP/1.1\r\nHost: a\r\nx-api-key: k-1 \r\n\r\n", "k-1");
    /* another scheme is not a key; X-API-Key is still looked at */
    expect_key("GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Basic dTpw\r\n\r\n", NULL);
    expect_key("GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Basic dTpw\r\nX-API-Key: k\r\n\r\n",
               "k");
    expect_key("GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer\r\n\r\n", NULL);
    expect_key("GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer \r\n\r\n", NULL);
    expect_key("GET / HTTP/1.1\r\nHost: a\r\nX-API-Key:\r\n\r\n", NULL);
    expect_key("GET / HTTP/1.1\r\nHost: a\r\n\r\n", NULL);
}

static void test_key_equal(void **state)
{
    (void)state;
    assert_true(gw__admin_key_equal("s3cret", "s3cret", 6));
    assert_true(gw__admin_key_equal("", "", 0));
    assert_false(gw__admin_key_equal("s3cret", "s3cre", 5));
    assert_false(gw__admin_key_equal("s3cret", "s3cret!", 7));
    assert_false(gw__admin_key_equal("s3cret", "s3crex", 6));
    assert_false(gw__admin_key_equal("s3cret", "S3CRET", 6));
    /* the length given counts, not a NUL */
    assert_true(gw__admin_key_equal("ab", "abc", 2));
    assert_false(gw__admin_key_equal("s3cret", NULL, 0));
    assert_false(gw__admin_key_equal(NULL, "x", 1));
    char big[4096];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_true(gw__admin_key_equal(big, big, sizeof big - 1));
    assert_false(gw__admin_key_equal(big, big, sizeof big - 2));
}

/* ---- admin settings of the config --------------------------------------------------------------
 */

static struct gw_config *load(const char *text, struct gw_config_errors *errs)
{
    struct gw_config *cfg = NULL;
    int rc = gw_config_load_string("t.json", text, strlen(text), &cfg, errs);
    assert_true(rc == 0 || rc == GW_ECONFIG);
    return cfg;
}

static char *errors_text(const struct gw_config_errors *errs)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    assert_non_null(f);
    gw_config_errors_print(errs, f);
    fclose(f);
    return buf;
}

static void test_admin_defaults(void **state)
{
    (void)state;
    struct gw_config_errors errs;
    struct gw_config *cfg = load("{}", &errs);
    assert_non_null(cfg);
    assert_true(cfg->admin.enabled);
    assert_true(cfg->admin.loopback);
    assert_string_equal(cfg->admin.listen_host, "127.0.0.1");
    assert_int_equal(cfg->admin.listen_port, 9000);
    assert_null(cfg->admin.api_key);
    assert_int_equal(cfg->drain_timeout_ms, 30000);
    gw_config_free(cfg);
}

static void test_admin_listen_forms(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        const char *host;
        unsigned port;
        bool loopback;
    } cases[] = {
        {"{\"admin\": {\"listen\": \"127.0.0.1:9100\"}}", "127.0.0.1", 9100, true},
        {"{\"admin\": {\"listen\": \"127.1.2.3:1\"}}", "127.1.2.3", 1, true},
        {"{\"admin\": {\"listen\": \"[::1]:9000\"}}", "::1", 9000, true},
        {"{\"admin\": {\"listen\": \"[::ffff:127.0.0.1]:9000\"}}", "::ffff:127.0.0.1", 9000, true},
        {"{\"admin\": {\"listen\": \"10.0.0.1:9000\", \"api_key\": \"k\"}}", "10.0.0.1", 9000,
         false},
        {"{\"admin\": {\"listen\": \"[::]:9000\", \"api_key\": \"k\"}}", "::", 9000, false},
        {"{\"admin\": {\"listen\": 9001, \"api_key\": \"k\"}}", "0.0.0.0", 9001, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct gw_config_errors errs;
        struct gw_config *cfg = load(cases[i].json, &errs);
        if (cfg == NULL) {
            char *t = errors_text(&errs);
            fail_msg("%s: %s", cases[i].json, t);
        }
        assert_true(cfg->admin.enabled);
        assert_string_equal(cfg->admin.listen_host, cases[i].host);
        assert_int_equal(cfg->admin.listen_port, cases[i].port);
        assert_int_equal(cfg->admin.loopback, cases[i].loopback);
        gw_config_free(cfg);
    }
}

static void test_admin_off(void **state)
{
    (void)state;
    struct gw_config_errors errs;
    struct gw_config *cfg = load("{\"admin\": {\"listen\": \"off\"}}", &errs);
    assert_non_null(cfg);
    assert_false(cfg->admin.enabled);
    assert_null(cfg->admin.listen_host);
    gw_config_free(cfg);

    setenv("GW_TEST_ADMIN_LISTEN", "off", 1);
    cfg = load("{\"admin\": {\"listen\": \"${GW_TEST_ADMIN_LISTEN:-127.0.0.1:9000}\"}}", &errs);
    assert_non_null(cfg);
    assert_false(cfg->admin.enabled);
    gw_config_free(cfg);
    unsetenv("GW_TEST_ADMIN_LISTEN");
    cfg = load("{\"admin\": {\"listen\": \"${GW_TEST_ADMIN_LISTEN:-127.0.0.1:9002}\"}}", &errs);
    assert_non_null(cfg);
    assert_true(cfg->admin.enabled);
    assert_int_equal(cfg->admin.listen_port, 9002);
    gw_config_free(cfg);
}

static void test_admin_api_key(void **state)
{
    (void)state;
    struct gw_config_errors errs;
    setenv("GW_TEST_ADMIN_KEY", "from-env", 1);
    struct gw_config *cfg = load("{\"admin\": {\"api_key\": \"${GW_TEST_ADMIN_KEY}\"}}", &errs);
    assert_non_null(cfg);
    assert_string_equal(cfg->admin.api_key, "from-env");
    gw_config_free(cfg);
    unsetenv("GW_TEST_ADMIN_KEY");
    /* empty means none */
    cfg = load("{\"admin\": {\"api_key\": \"${GW_TEST_ADMIN_KEY:-}\"}}", &errs);
    assert_non_null(cfg);
    assert_null(cfg->admin.api_key);
    gw_config_free(cfg);
}

static void expect_error(const char *json, const char *want)
{
    struct gw_config_errors errs;
    struct gw_config *cfg = load(json, &errs);
    assert_null(cfg);
    char *t = errors_text(&errs);
    if (strcmp(t, want) != 0)
        fail_msg("%s\ngot:  %swant: %s", json, t, want);
    free(t);
    gw_config_errors_free(&errs);
}

static void test_admin_errors(void **state)
{
    (void)state;
    /* off loopback without a key: refused, at the listen value */
    expect_error("{\n  \"admin\": {\"listen\": \"0.0.0.0:9000\"}\n}",
                 "t.json:2:23: admin.listen: the admin API listens on 0.0.0.0, which is not a "
                 "loopback address: set admin.api_key (e.g. \"${ADMIN_API_KEY}\") or listen on "
                 "127.0.0.1\n");
    expect_error("{\"admin\": {\"listen\": \"0.0.0.0:9000\", \"api_key\": \"\"}}",
                 "t.json:1:22: admin.listen: the admin API listens on 0.0.0.0, which is not a "
                 "loopback address: set admin.api_key (e.g. \"${ADMIN_API_KEY}\") or listen on "
                 "127.0.0.1\n");
    expect_error("{\"admin\": {\"listen\": \"localhost:9000\"}}",
                 "t.json:1:22: admin.listen: \"localhost:9000\": the listen host must be an IP "
                 "address (\"0.0.0.0:8000\", \"[::]:8000\")\n");
    expect_error("{\"admin\": {\"listen\": true}}",
                 "t.json:1:22: admin.listen: expected a string such as \"0.0.0.0:8000\", got a "
                 "boolean\n");
    expect_error("{\"admin\": {\"api_key\": 5}}",
                 "t.json:1:23: admin.api_key: expected a string, got an integer\n");
    expect_error("{\"admin\": {\"lisen\": \"off\"}}",
                 "t.json:1:12: admin.lisen: unknown key \"lisen\" (did you mean \"listen\"?)\n");
    expect_error("{\"drain_timeout\": \"0s\"}",
                 "t.json:1:19: drain_timeout: must be between 1ms and 720h\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_key),    cmocka_unit_test(test_key_equal),
        cmocka_unit_test(test_admin_defaults), cmocka_unit_test(test_admin_listen_forms),
        cmocka_unit_test(test_admin_off),      cmocka_unit_test(test_admin_api_key),
        cmocka_unit_test(test_admin_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
