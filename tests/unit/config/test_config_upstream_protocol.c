/* Unit tests for src/config/config_upstream_protocol.c: services[].upstream_protocol, its
 * default, its values, and the errors (with their positions) when the targets' schemes do not
 * fit it. */
#include "config_test.h"

static void test_default_and_values(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok("{\"services\": [{\"name\": \"s\", \"prefix\": \"/\", "
                                    "\"targets\": [\"http://a:1\"]}]}");
    assert_int_equal(cfg->services[0].upstream_protocol, GW_UPSTREAM_HTTP1);
    gw_config_free(cfg);
    cfg = load_ok("{\"services\": [{\"name\": \"s\", \"prefix\": \"/\", \"upstream_protocol\": "
                  "\"h2c\", \"targets\": [\"http://a:1\", \"http://b:2\"]},"
                  "{\"name\": \"u\", \"prefix\": \"/u\", \"upstream_protocol\": \"http1\", "
                  "\"targets\": [\"https://a\"]}]}");
    assert_int_equal(cfg->services[0].upstream_protocol, GW_UPSTREAM_H2C);
    assert_int_equal(cfg->services[1].upstream_protocol, GW_UPSTREAM_HTTP1);
    gw_config_free(cfg);
    /* HTTP/2 over TLS: https:// targets, with the same upstream_tls as HTTP/1.1. */
    cfg = load_ok("{\"services\": [{\"name\": \"s\", \"prefix\": \"/\", \"upstream_protocol\": "
                  "\"h2\", \"upstream_tls\": {\"server_name\": \"api.test\"}, "
                  "\"targets\": [\"https://a\", \"https://b:8443\"]}]}");
    assert_int_equal(cfg->services[0].upstream_protocol, GW_UPSTREAM_H2);
    assert_true(cfg->services[0].targets[0].tls && cfg->services[0].targets[1].tls);
    gw_config_free(cfg);
}

static void test_errors(void **state)
{
    (void)state;
    expect_errors("{\"services\": [{\"name\": \"s\", \"prefix\": \"/\", \"upstream_protocol\": "
                  "\"h2c\",\n \"targets\": [\"https://a\"]}]}",
                  "t.json:1:44: services[0].upstream_protocol: \"h2c\" is HTTP/2 on plain "
                  "connections: every target must be http:// (use \"h2\" for https:// "
                  "targets)\n");
    expect_errors("{\"services\": [{\"name\": \"s\", \"prefix\": \"/\", \"upstream_protocol\": "
                  "\"h2\",\n \"targets\": [\"https://a\", \"http://b\"]}]}",
                  "t.json:1:44: services[0].upstream_protocol: \"h2\" is HTTP/2 over TLS: every "
                  "target must be https:// (use \"h2c\" for HTTP/2 on plain http:// targets)\n");
    struct gw_config *cfg = NULL;
    struct gw_config_errors errs;
    const char *text = "{\"services\": [{\"name\": \"s\", \"prefix\": \"/\", "
                       "\"upstream_protocol\": \"http2\", \"targets\": [\"http://a\"]}]}";
    assert_int_equal(gw_config_load_string("t.json", text, strlen(text), &cfg, &errs), GW_ECONFIG);
    char *msgs = errors_text(&errs);
    assert_non_null(strstr(msgs, "services[0].upstream_protocol"));
    assert_non_null(strstr(msgs, "h2c"));
    free(msgs);
    gw_config_errors_free(&errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_and_values),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
