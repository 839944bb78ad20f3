/* Unit tests for src/config/config_upstream_tls.c and the https:// target URLs: the
 * "upstream_tls" and "client_cert" sections' defaults, values and errors, with certificates written
 * by the test (the loader reads and checks them). */
#include "config_test.h"

#include "../tls/tls_test.h"

static char *dir, *cert, *key, *other_key;

static int setup(void **state)
{
    (void)state;
    dir = tmpdir_make();
    EVP_PKEY *k = key_new(), *o = key_new();
    X509 *c = cert_new("gateway.test", k, NULL, NULL, 0, 30, 0);
    cert = write_certs(dir, "c.pem", &c, 1);
    key = write_key(dir, "k.pem", k);
    other_key = write_key(dir, "o.pem", o);
    X509_free(c);
    EVP_PKEY_free(k);
    EVP_PKEY_free(o);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(cert);
    free(key);
    free(other_key);
    tmpdir_remove(dir);
    return 0;
}

/* One service with the given target URL and, when not empty, "upstream_tls": {extra}. */
static char *svc_config(const char *url, const char *extra)
{
    char *s = malloc(4096);
    snprintf(s, 4096,
             "{\"services\": [{\"name\": \"s\", \"prefix\": \"/\", \"targets\": [\"%s\"]%s%s%s}]}",
             url, extra ? ", \"upstream_tls\": {" : "", extra ? extra : "", extra ? "}" : "");
    return s;
}

static void expect_message(const char *text, const char *want)
{
    struct gw_config *cfg = NULL;
    struct gw_config_errors errs;
    int rc = gw_config_load_string("t.json", text, strlen(text), &cfg, &errs);
    assert_int_equal(rc, GW_ECONFIG);
    assert_null(cfg);
    char *msgs = errors_text(&errs);
    gw_config_errors_free(&errs);
    if (!strstr(msgs, want))
        fail_msg("expected \"%s\" in:\n%s", want, msgs);
    free(msgs);
}

static void test_https_target_and_defaults(void **state)
{
    (void)state;
    char *text = svc_config("https://api.internal", NULL);
    struct gw_config *cfg = load_ok(text);
    const struct gw_target_conf *t = &cfg->services[0].targets[0];
    assert_true(t->tls);
    assert_string_equal(t->host, "api.internal");
    assert_int_equal(t->port, 443);
    const struct gw_upstream_tls_conf *ut = &cfg->services[0].upstream_tls;
    assert_true(ut->verify);
    assert_null(ut->ca);
    assert_null(ut->server_name);
    assert_null(ut->cert);
    assert_null(ut->key);
    assert_true(ut->session_reuse);
    assert_int_equal(ut->min_version, 0x0303);
    gw_config_free(cfg);
    free(text);

    text = svc_config("http://10.0.0.1:8080", NULL);
    cfg = load_ok(text);
    assert_false(cfg->services[0].targets[0].tls);
    gw_config_free(cfg);
    free(text);
}

static void test_values(void **state)
{
    (void)state;
    char extra[1024];
    snprintf(
        extra, sizeof extra,
        "\"verify\": false, \"ca\": \"%s\", \"server_name\": \"API.Internal.Example\", "
        "\"cert\": \"%s\", \"key\": \"%s\", \"session_reuse\": false, \"min_version\": \"1.3\"",
        cert, cert, key);
    char *text = svc_config("https://10.0.0.1:8443", extra);
    struct gw_config *cfg = load_ok(text);
    const struct gw_upstream_tls_conf *ut = &cfg->services[0].upstream_tls;
    assert_false(ut->verify);
    assert_string_equal(ut->ca, cert);
    assert_string_equal(ut->server_name, "api.internal.example");
    assert_string_equal(ut->cert, cert);
    assert_string_equal(ut->key, key);
    assert_false(ut->session_reuse);
    assert_int_equal(ut->min_version, 0x0304);
    assert_int_equal(cfg->services[0].targets[0].port, 8443);
    gw_config_free(cfg);
    free(text);
}

static void test_errors(void **state)
{
    (void)state;
    char extra[1024];
    char *text = svc_config("https://h", "\"ca\": \"/nonexistent/ca.pem\"");
    expect_message(text, "services[0].upstream_tls.ca: /nonexistent/ca.pem");
    free(text);
    snprintf(extra, sizeof extra, "\"cert\": \"%s\"", cert);
    text = svc_config("https://h", extra);
    expect_message(text, "services[0].upstream_tls.cert: a client certificate needs both");
    free(text);
    snprintf(extra, sizeof extra, "\"key\": \"%s\"", key);
    text = svc_config("https://h", extra);
    expect_message(text, "services[0].upstream_tls.key: a client certificate needs both");
    free(text);
    snprintf(extra, sizeof extra, "\"cert\": \"%s\", \"key\": \"%s\"", cert, other_key);
    text = svc_config("https://h", extra);
    expect_message(text, "services[0].upstream_tls.cert: ");
    expect_message(text, "does not match");
    free(text);
    text = svc_config("https://h", "\"server_name\": \"a b\"");
    expect_message(text, "services[0].upstream_tls.server_name: expected a host name");
    free(text);
    text = svc_config("https://h", "\"server_name\": \"a..b\"");
    expect_message(text, "services[0].upstream_tls.server_name: expected a host name");
    free(text);
    text = svc_config("https://h", "\"min_version\": \"1.1\"");
    expect_message(text, "services[0].upstream_tls.min_version");
    free(text);
    text = svc_config("https://h", "\"verfy\": false");
    expect_message(text, "unknown key \"verfy\" (did you mean \"verify\"?)");
    free(text);
    text = svc_config("https://h", "\"verify\": 3");
    expect_message(text, "services[0].upstream_tls.verify");
    free(text);
}

/* "client_cert" of a service: on, with the listener asking for certificates. */
static void test_client_cert(void **state)
{
    (void)state;
    char text[2048];
    snprintf(text, sizeof text,
             "{\"tls\": {\"certificates\": [{\"cert\": \"%s\", \"key\": \"%s\"}], "
             "\"client_auth\": {\"ca\": \"%s\", \"required\": false}}, "
             "\"services\": [{\"name\": \"a\", \"prefix\": \"/a\", \"targets\": [\"http://h\"], "
             "\"client_cert\": true}, {\"name\": \"b\", \"prefix\": \"/b\", \"targets\": "
             "[\"http://h\"], \"client_cert\": {\"ca\": \"%s\"}}, {\"name\": \"c\", "
             "\"prefix\": \"/c\", \"targets\": [\"http://h\"]}]}",
             cert, key, cert, cert);
    struct gw_config *cfg = load_ok(text);
    assert_true(cfg->services[0].client_cert.enabled);
    assert_null(cfg->services[0].client_cert.ca);
    assert_true(cfg->services[1].client_cert.enabled);
    assert_string_equal(cfg->services[1].client_cert.ca, cert);
    assert_false(cfg->services[2].client_cert.enabled);
    gw_config_free(cfg);

    snprintf(text, sizeof text,
             "{\"services\": [{\"name\": \"a\", \"prefix\": \"/\", \"targets\": [\"http://h\"], "
             "\"client_cert\": true}]}");
    expect_message(text, "services[0].client_cert: needs tls.client_auth");
    snprintf(text, sizeof text,
             "{\"tls\": {\"certificates\": [{\"cert\": \"%s\", \"key\": \"%s\"}], "
             "\"client_auth\": {\"ca\": \"%s\", \"required\": false}}, "
             "\"services\": [{\"name\": \"a\", \"prefix\": \"/\", \"targets\": [\"http://h\"], "
             "\"client_cert\": {\"ca\": \"/nonexistent/ca.pem\"}}]}",
             cert, key, cert);
    expect_message(text, "services[0].client_cert.ca: /nonexistent/ca.pem");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_https_target_and_defaults),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_client_cert),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
