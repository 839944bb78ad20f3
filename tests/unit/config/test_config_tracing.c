/* Unit tests for the "tracing" section, services' "tracing" objects and "log.access_fields"
 * (src/config/config_tracing.c): defaults, what they load into, inheritance of the sample ratio,
 * and errors with their positions. */
#include "config_test.h"

static void test_off_by_default(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(SVC("\"strip_prefix\": false"));
    assert_false(cfg->tracing.enabled);
    assert_null(cfg->tracing.endpoint);
    /* the defaults are there all the same */
    assert_true(cfg->tracing.sample_ratio == 1.0);
    assert_int_equal(cfg->tracing.batch_size, 512);
    assert_int_equal(cfg->tracing.queue_size, 8192);
    assert_true(cfg->tracing.flush_interval_ms == 5000);
    assert_true(cfg->tracing.timeout_ms == 10000);
    assert_true(cfg->tracing.parent_based);
    assert_true(cfg->tracing.always_sample_errors);
    assert_string_equal(cfg->tracing.service_name, "gantry");
    assert_true(cfg->services[0].trace_sample_ratio == 1.0);
    /* the access-log line of old, plus the trace id */
    static const uint8_t want[] = {GW_LOG_F_TIME,      GW_LOG_F_REQUEST_ID,  GW_LOG_F_CLIENT,
                                   GW_LOG_F_REQUEST,   GW_LOG_F_STATUS,      GW_LOG_F_BYTES_IN,
                                   GW_LOG_F_BYTES_OUT, GW_LOG_F_DURATION_MS, GW_LOG_F_UPSTREAM_MS,
                                   GW_LOG_F_SERVICE,   GW_LOG_F_TARGET,      GW_LOG_F_TRACE_ID};
    assert_int_equal(cfg->log.naccess_fields, sizeof want);
    assert_memory_equal(cfg->log.access_fields, want, sizeof want);
    gw_config_free(cfg);

    cfg = load_ok("{\"tracing\": true}");
    assert_true(cfg->tracing.enabled);
    assert_null(cfg->tracing.endpoint); /* propagation and log ids, no export */
    gw_config_free(cfg);
    cfg = load_ok("{\"tracing\": false}");
    assert_false(cfg->tracing.enabled);
    gw_config_free(cfg);
}

static void test_loads_every_key(void **state)
{
    (void)state;
    setenv("GW_TEST_OTLP_TOKEN", "s3cret", 1);
    struct gw_config *cfg = load_ok(
        "{\"tracing\": {\"endpoint\": \"http://collector:4318/v1/traces\", \"sample_ratio\": "
        "\"10%\", \"parent_based\": false, \"always_sample_errors\": false, \"service_name\": "
        "\"edge\", \"service_instance_id\": \"edge-1\", \"resource_attributes\": "
        "{\"deployment.environment\": \"prod\"}, \"headers\": {\"Authorization\": \"Bearer "
        "${GW_TEST_OTLP_TOKEN}\"}, \"batch_size\": 100, \"flush_interval\": \"250ms\", "
        "\"queue_size\": 64, \"timeout\": \"2s\"},"
        " \"services\": [{\"name\": \"a\", \"prefix\": \"/a\", \"targets\": [\"http://h:1\"]},"
        "  {\"name\": \"b\", \"prefix\": \"/b\", \"targets\": [\"http://h:1\"], \"tracing\": "
        "{\"sample_ratio\": 1}}]}");
    const struct gw_tracing_conf *t = &cfg->tracing;
    assert_true(t->enabled);
    assert_string_equal(t->endpoint, "http://collector:4318/v1/traces");
    assert_true(t->sample_ratio > 0.0999 && t->sample_ratio < 0.1001);
    assert_false(t->parent_based);
    assert_false(t->always_sample_errors);
    assert_string_equal(t->service_name, "edge");
    assert_string_equal(t->service_instance_id, "edge-1");
    assert_int_equal(t->nresource, 1);
    assert_string_equal(t->resource[0].key, "deployment.environment");
    assert_string_equal(t->resource[0].value, "prod");
    assert_int_equal(t->nheaders, 1);
    assert_string_equal(t->headers[0].key, "Authorization");
    assert_string_equal(t->headers[0].value, "Bearer s3cret");
    assert_int_equal(t->batch_size, 100);
    assert_true(t->flush_interval_ms == 250);
    assert_int_equal(t->queue_size, 64);
    assert_true(t->timeout_ms == 2000);
    /* a service samples as the gateway does unless it says otherwise */
    assert_true(cfg->services[0].trace_sample_ratio == t->sample_ratio);
    assert_true(cfg->services[1].trace_sample_ratio == 1.0);
    gw_config_free(cfg);
    unsetenv("GW_TEST_OTLP_TOKEN");
}

/* An endpoint without a path gets OTLP/HTTP's; an empty one (an unset ${VAR:-}) exports
 * nothing. */
static void test_endpoint_forms(void **state)
{
    (void)state;
    const char *in[] = {"http://c:4318", "http://c:4318/", "http://c:4318/custom/path", ""};
    const char *want[] = {"http://c:4318/v1/traces", "http://c:4318/v1/traces",
                          "http://c:4318/custom/path", NULL};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "{\"tracing\": {\"endpoint\": \"%s\"}}", in[i]);
        struct gw_config *cfg = load_ok(text);
        if (want[i] == NULL)
            assert_null(cfg->tracing.endpoint);
        else
            assert_string_equal(cfg->tracing.endpoint, want[i]);
        gw_config_free(cfg);
    }
}

static void test_errors(void **state)
{
    (void)state;
    const char *t1 = "{\"tracing\": {\"endpoint\": \"https://c:4318\"}}";
    expect_one(t1, "\"https",
               "tracing.endpoint: \"https://c:4318\": https is not supported for URLs gantry "
               "fetches yet; serve it on a loopback or internal http:// address");
    const char *t2 = "{\"tracing\": {\"sample_ratio\": 1.5}}";
    expect_one(t2, "1.5", "tracing.sample_ratio: a share must be between 0 and 1 (0% and 100%)");
    const char *t3 = "{\"tracing\": {\"sample_ratio\": \"half\"}}";
    expect_one(t3, "\"half\"", "tracing.sample_ratio: expected a share such as 0.1 or \"10%\"");
    const char *t4 = "{\"tracing\": {\"headers\": {\"Bad Name\": \"x\"}}}";
    expect_one(t4, "\"Bad Name\"", "tracing.headers[\"Bad Name\"]: not a header field name");
    const char *t5 = "{\"tracing\": {\"headers\": {\"Content-Type\": \"text/plain\"}}}";
    expect_one(t5, "\"Content-Type\"",
               "tracing.headers.Content-Type: Content-Type is set by gantry");
    const char *t6 = "{\"tracing\": {\"headers\": {\"X-A\": \"a\\r\\nInjected: 1\"}}}";
    expect_one(t6, "\"a\\r", "tracing.headers.X-A: a header value may not hold control characters");
    const char *t7 = "{\"tracing\": {\"resource_attributes\": {\"service.name\": \"x\"}}}";
    expect_one(t7, "\"service.name\"",
               "tracing.resource_attributes[\"service.name\"]: service.name is set by gantry "
               "(tracing.service_name, the version, tracing.service_instance_id)");
    const char *t8 = "{\"tracing\": {\"batch_size\": 0}}";
    expect_one(t8, "0}", "tracing.batch_size: must be between 1 and 65536");
    const char *t9 = "{\"tracing\": {\"sampel_ratio\": 1}}";
    expect_one(t9, "\"sampel_ratio\"",
               "tracing.sampel_ratio: unknown key \"sampel_ratio\" (did you mean "
               "\"sample_ratio\"?)");
    const char *t10 = SVC("\"tracing\": {\"sample_ratio\": -1}");
    expect_one(t10, "-1",
               "services[0].tracing.sample_ratio: a share must be between 0 and 1 (0% "
               "and 100%)");
    const char *t11 = "{\"tracing\": {\"service_name\": \"\"}}";
    expect_one(t11, "\"\"", "tracing.service_name: must not be empty");
}

static void test_access_fields(void **state)
{
    (void)state;
    struct gw_config *cfg =
        load_ok("{\"log\": {\"access_fields\": [\"trace_id\", \"status\", \"upstream_status\", "
                "\"retries\", \"cache\", \"consumer\", \"rate_limit\", \"span_id\"]}}");
    static const uint8_t want[] = {GW_LOG_F_TRACE_ID,   GW_LOG_F_STATUS, GW_LOG_F_UPSTREAM_STATUS,
                                   GW_LOG_F_RETRIES,    GW_LOG_F_CACHE,  GW_LOG_F_CONSUMER,
                                   GW_LOG_F_RATE_LIMIT, GW_LOG_F_SPAN_ID};
    assert_int_equal(cfg->log.naccess_fields, sizeof want);
    assert_memory_equal(cfg->log.access_fields, want, sizeof want);
    gw_config_free(cfg);
    /* one string, names separated by spaces */
    cfg = load_ok("{\"log\": {\"access_fields\": \"time  request method path\"}}");
    assert_int_equal(cfg->log.naccess_fields, 4);
    assert_int_equal(cfg->log.access_fields[3], GW_LOG_F_PATH);
    /* a JSON line writes "request" as "method" and "path", and no key twice */
    static const uint8_t want_json[] = {GW_LOG_F_TIME, GW_LOG_F_METHOD, GW_LOG_F_PATH};
    assert_int_equal(cfg->log.naccess_fields_json, sizeof want_json);
    assert_memory_equal(cfg->log.access_fields_json, want_json, sizeof want_json);
    gw_config_free(cfg);
    cfg = load_ok("{\"log\": {\"access_fields\": \"path status request status\"}}");
    assert_int_equal(cfg->log.naccess_fields, 4); /* a text line keeps what it was given */
    static const uint8_t want_json2[] = {GW_LOG_F_PATH, GW_LOG_F_STATUS, GW_LOG_F_METHOD};
    assert_int_equal(cfg->log.naccess_fields_json, sizeof want_json2);
    assert_memory_equal(cfg->log.access_fields_json, want_json2, sizeof want_json2);
    gw_config_free(cfg);
    /* every name has a row, and the names are the JSON keys */
    for (unsigned f = 0; f < GW_LOG_F__COUNT; f++)
        assert_non_null(gw_config_log_field_name(f));
    assert_null(gw_config_log_field_name(GW_LOG_F__COUNT));

    const char *t1 = "{\"log\": {\"access_fields\": [\"status\", \"trace_di\"]}}";
    expect_one(t1, "\"trace_di\"",
               "log.access_fields[1]: unknown access-log field \"trace_di\" "
               "(did you mean \"trace_id\"?)");
    const char *t4 = "{\"log\": {\"access_fields\": \"status bogus\"}}";
    expect_one(t4, "\"status",
               "log.access_fields: unknown access-log field \"bogus\" (the fields "
               "are listed in docs/config.md)");
    const char *t2 = "{\"log\": {\"access_fields\": []}}";
    expect_one(t2, "[]", "log.access_fields: expected at least one field name");
    const char *t3 = "{\"log\": {\"access_fields\": 3}}";
    expect_one(t3, "3}", "log.access_fields: expected an array of field names, got an integer");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off_by_default), cmocka_unit_test(test_loads_every_key),
        cmocka_unit_test(test_endpoint_forms), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_access_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
