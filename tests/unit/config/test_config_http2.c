/* Unit tests for src/config/config_http2.c: the "http2" section's defaults, values and errors,
 * and what it tells the TLS listener (ALPN h2). */
#include "config_test.h"

static void test_defaults(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok("{}");
    const struct gw_http2_conf *h = &cfg->http2;
    assert_true(h->enabled);
    assert_false(h->cleartext);
    assert_int_equal(h->max_concurrent_streams, 128);
    assert_int_equal(h->max_header_list_size, 32768);
    assert_int_equal(h->initial_window_size, 65535);
    assert_int_equal(h->max_resets, 100);
    assert_int_equal(h->max_control, 100);
    assert_int_equal(h->max_continuations, 8);
    assert_int_equal(h->max_empty, 1000);
    assert_true(cfg->tls.alpn_h2);
    gw_config_free(cfg);
}

static void test_values(void **state)
{
    (void)state;
    struct gw_config *cfg =
        load_ok("{\"http2\": {\"cleartext\": true, \"max_concurrent_streams\": 10, "
                "\"max_header_list_size\": \"16KiB\", \"initial_window_size\": \"1MiB\", "
                "\"max_resets_per_second\": 5, \"max_control_frames_per_second\": 7, "
                "\"max_continuation_frames\": 2, \"max_empty_frames_per_second\": 9}}");
    const struct gw_http2_conf *h = &cfg->http2;
    assert_true(h->enabled);
    assert_true(h->cleartext);
    assert_int_equal(h->max_concurrent_streams, 10);
    assert_int_equal(h->max_header_list_size, 16384);
    assert_int_equal(h->initial_window_size, 1048576);
    assert_int_equal(h->max_resets, 5);
    assert_int_equal(h->max_control, 7);
    assert_int_equal(h->max_continuations, 2);
    assert_int_equal(h->max_empty, 9);
    gw_config_free(cfg);
}

static void test_off(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok("{\"http2\": false}");
    assert_false(cfg->http2.enabled);
    assert_false(cfg->tls.alpn_h2);
    gw_config_free(cfg);
}

static void expect_error(const char *text, const char *want)
{
    struct gw_config *cfg = NULL;
    struct gw_config_errors errs;
    int rc = gw_config_load_string("t.json", text, strlen(text), &cfg, &errs);
    assert_int_equal(rc, GW_ECONFIG);
    char *got = errors_text(&errs);
    if (!strstr(got, want))
        fail_msg("wanted \"%s\" in:\n%s", want, got);
    free(got);
    gw_config_errors_free(&errs);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("{\"http2\": {\"max_concurrent_streams\": 0}}",
                 "t.json:1:38: http2.max_concurrent_streams: ");
    expect_error("{\"http2\": {\"initial_window_size\": 100}}",
                 "t.json:1:35: http2.initial_window_size: ");
    expect_error("{\"http2\": {\"max_header_list_size\": \"2MiB\"}}",
                 "t.json:1:36: http2.max_header_list_size: ");
    expect_error("{\"http2\": {\"cleartext\": 1}}", "t.json:1:25: http2.cleartext: ");
    expect_error("{\"http2\": {\"max_empty_frames_per_second\": 0}}",
                 "t.json:1:43: http2.max_empty_frames_per_second: ");
    expect_error("{\"http2\": {\"max_streams\": 1}}", "http2.max_streams");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_off),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
