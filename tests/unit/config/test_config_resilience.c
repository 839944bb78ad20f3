/*
 * Unit tests for the per-service resilience keys of the config (src/control/config_resilience.c):
 * load_balancer, health_check, outlier_detection, circuit_breaker, retries. Defaults, the
 * on/off forms of the sections, a full example, and every error with its position and path.
 */
#include "config_test.h"

#include "balance/balancer.h"
#include "upstream/breaker.h"
#include "upstream/retry.h"

/* ---- defaults and on/off ------------------------------------------------------------------- */

static void assert_breaker_defaults(const struct gw_service_conf *s)
{
    struct gw_breaker_conf want;
    struct gw_breaker_conf got;
    gw_breaker_conf_default(&want);
    gw_config_breaker_conf(s, &got);
    assert_int_equal(got.failure_threshold, want.failure_threshold);
    assert_int_equal(got.error_threshold_pct, want.error_threshold_pct);
    assert_int_equal(got.minimum_requests, want.minimum_requests);
    assert_int_equal(got.half_open_requests, want.half_open_requests);
    assert_int_equal(got.buckets, want.buckets);
    assert_int_equal(got.window_ms, want.window_ms);
    assert_int_equal(got.open_duration_ms, want.open_duration_ms);
    assert_int_equal(got.slow_call_ms, want.slow_call_ms);
    assert_int_equal(gw_breaker_conf_check(&got), 0);
}

static void assert_retry_defaults(const struct gw_service_conf *s)
{
    struct gw_retry_conf want;
    struct gw_retry_conf got;
    gw_retry_conf_default(&want);
    gw_config_retry_conf(s, &got);
    assert_int_equal(got.attempts, want.attempts);
    assert_int_equal(got.on, want.on);
    assert_int_equal(got.non_idempotent, want.non_idempotent);
    assert_int_equal(got.n_statuses, want.n_statuses);
    for (uint32_t i = 0; i < want.n_statuses; i++)
        assert_int_equal(got.statuses[i], want.statuses[i]);
    assert_int_equal(got.backoff_base_ms, want.backoff_base_ms);
    assert_int_equal(got.backoff_max_ms, want.backoff_max_ms);
    assert_int_equal(got.per_try_timeout_ms, want.per_try_timeout_ms);
    assert_int_equal(got.budget_pct, want.budget_pct);
    assert_int_equal(got.budget_min_per_s, want.budget_min_per_s);
    assert_int_equal(gw_retry_conf_check(&got), 0);
}

static void test_defaults(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(SVC("\"strip_prefix\": false"));
    const struct gw_service_conf *s = &cfg->services[0];
    assert_int_equal(s->lb_strategy, GW_LB_ROUND_ROBIN);
    assert_int_equal(s->lb_hash_kind, GW_LB_HASH_IP);
    assert_null(s->lb_hash_name);
    assert_null(s->lb_sticky_cookie);

    assert_false(s->health_check.enabled);
    assert_null(s->health_check.path);
    assert_int_equal(s->health_check.interval_ms, 10000);
    assert_int_equal(s->health_check.timeout_ms, 2000);
    assert_int_equal(s->health_check.healthy_threshold, 2);
    assert_int_equal(s->health_check.unhealthy_threshold, 3);
    assert_int_equal(s->health_check.status_min, 200);
    assert_int_equal(s->health_check.status_max, 399);
    assert_int_equal(s->health_check.type, GW_HEALTH_CHECK_HTTP);
    assert_null(s->health_check.grpc_service);

    assert_true(s->outlier.enabled);
    assert_int_equal(s->outlier.consecutive_failures, 5);
    assert_int_equal(s->outlier.base_ejection_ms, 30000);
    assert_int_equal(s->outlier.max_ejection_ms, 300000);
    assert_int_equal(s->outlier.max_ejection_percent, 50);

    assert_false(s->breaker_enabled);
    assert_breaker_defaults(s);
    assert_true(s->retries_enabled);
    assert_retry_defaults(s);
    gw_config_free(cfg);
}

static void test_sections_on_and_off(void **state)
{
    (void)state;
    struct gw_config *cfg =
        load_ok(SVC("\"circuit_breaker\": {}, \"retries\": false, \"outlier_detection\": "
                    "\"false\", \"health_check\": false"));
    const struct gw_service_conf *s = &cfg->services[0];
    assert_true(s->breaker_enabled);
    assert_breaker_defaults(s);
    assert_false(s->retries_enabled);
    assert_retry_defaults(s); /* an off section still holds its defaults */
    assert_false(s->outlier.enabled);
    assert_int_equal(s->outlier.consecutive_failures, 5);
    assert_false(s->health_check.enabled);
    gw_config_free(cfg);

    setenv("GW_TEST_BREAKER", "true", 1);
    cfg = load_ok(SVC("\"circuit_breaker\": \"${GW_TEST_BREAKER}\", \"retries\": true, "
                      "\"outlier_detection\": {}, \"health_check\": {\"path\": \"/h\"}"));
    s = &cfg->services[0];
    assert_true(s->breaker_enabled);
    assert_true(s->retries_enabled);
    assert_true(s->outlier.enabled);
    assert_true(s->health_check.enabled);
    assert_string_equal(s->health_check.path, "/h");
    gw_config_free(cfg);
    unsetenv("GW_TEST_BREAKER");

    /* An off section is not checked for required keys or cross-key rules. */
    cfg = load_ok(SVC("\"circuit_breaker\": false, \"health_check\": false"));
    assert_false(cfg->services[0].breaker_enabled);
    gw_config_free(cfg);
}

/* Every strategy name of the config is the balancer's name for the same value. */
static void test_strategy_names_match_the_balancer(void **state)
{
    (void)state;
    static const char *const names[] = {
        "round_robin", "weighted_round_robin", "random",  "least_connections",
        "ip_hash",     "consistent_hash",      "p2c_ewma"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, SVC("\"load_balancer\": {\"strategy\": \"%s\"}"), names[i]);
        struct gw_config *cfg = load_ok(text);
        enum gw_balance_strategy b;
        assert_int_equal(gw_balance_strategy_parse(names[i], &b), 0);
        assert_int_equal((int)cfg->services[0].lb_strategy, (int)b);
        gw_config_free(cfg);
    }
}

static const char full_example[] =
    "{\n"
    "  \"services\": [{\n"
    "    \"name\": \"users\",\n"
    "    \"prefix\": \"/api/users\",\n"
    "    \"targets\": [\"http://10.0.0.5:8080\", \"http://10.0.0.6:8080\"],\n"
    "    \"load_balancer\": {\n"
    "      \"strategy\": \"consistent_hash\",\n"
    "      \"hash_key\": \"header:X-User-Id\",\n"
    "      \"sticky_cookie\": \"gantry_sticky\"\n"
    "    },\n"
    "    \"health_check\": {\n"
    "      \"path\": \"/health?deep=1\",\n"
    "      \"interval\": \"5s\",\n"
    "      \"timeout\": \"1500ms\",\n"
    "      \"healthy_threshold\": 4,\n"
    "      \"unhealthy_threshold\": \"6\",\n"
    "      \"expected_status\": 204\n"
    "    },\n"
    "    \"outlier_detection\": {\n"
    "      \"consecutive_failures\": 3,\n"
    "      \"base_ejection_time\": \"10s\",\n"
    "      \"max_ejection_time\": \"2m\",\n"
    "      \"max_ejection_percent\": 34\n"
    "    },\n"
    "    \"circuit_breaker\": {\n"
    "      \"failure_threshold\": 0,\n"
    "      \"error_threshold_percentage\": 25,\n"
    "      \"window\": \"30s\",\n"
    "      \"buckets\": 30,\n"
    "      \"minimum_requests\": 50,\n"
    "      \"slow_call_threshold\": \"800ms\",\n"
    "      \"open_duration\": \"1m\",\n"
    "      \"half_open_requests\": 1\n"
    "    },\n"
    "    \"retries\": {\n"
    "      \"attempts\": 1,\n"
    "      \"retry_on\": [\"connect_failed\", \"status\"],\n"
    "      \"statuses\": [503, \"429\"],\n"
    "      \"per_try_timeout\": \"2s\",\n"
    "      \"backoff_base\": \"10ms\",\n"
    "      \"backoff_max\": \"1s\",\n"
    "      \"non_idempotent\": true,\n"
    "      \"budget_percent\": 10,\n"
    "      \"budget_min_per_second\": 0\n"
    "    }\n"
    "  }]\n"
    "}\n";

static void test_full_example(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(full_example);
    const struct gw_service_conf *s = &cfg->services[0];
    assert_int_equal(s->lb_strategy, GW_LB_CONSISTENT_HASH);
    assert_int_equal(s->lb_hash_kind, GW_LB_HASH_HEADER);
    assert_string_equal(s->lb_hash_name, "x-user-id"); /* header names are lowercased */
    assert_string_equal(s->lb_sticky_cookie, "gantry_sticky");

    assert_true(s->health_check.enabled);
    assert_string_equal(s->health_check.path, "/health?deep=1");
    assert_int_equal(s->health_check.interval_ms, 5000);
    assert_int_equal(s->health_check.timeout_ms, 1500);
    assert_int_equal(s->health_check.healthy_threshold, 4);
    assert_int_equal(s->health_check.unhealthy_threshold, 6);
    assert_int_equal(s->health_check.status_min, 204);
    assert_int_equal(s->health_check.status_max, 204);

    assert_true(s->outlier.enabled);
    assert_int_equal(s->outlier.consecutive_failures, 3);
    assert_int_equal(s->outlier.base_ejection_ms, 10000);
    assert_int_equal(s->outlier.max_ejection_ms, 120000);
    assert_int_equal(s->outlier.max_ejection_percent, 34);

    assert_true(s->breaker_enabled);
    struct gw_breaker_conf b;
    gw_config_breaker_conf(s, &b);
    assert_int_equal(b.failure_threshold, 0);
    assert_int_equal(b.error_threshold_pct, 25);
    assert_int_equal(b.window_ms, 30000);
    assert_int_equal(b.buckets, 30);
    assert_int_equal(b.minimum_requests, 50);
    assert_int_equal(b.slow_call_ms, 800);
    assert_int_equal(b.open_duration_ms, 60000);
    assert_int_equal(b.half_open_requests, 1);
    assert_int_equal(gw_breaker_conf_check(&b), 0);

    assert_true(s->retries_enabled);
    struct gw_retry_conf r;
    gw_config_retry_conf(s, &r);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(r.on, GW_RETRY_CONNECT_FAILED | GW_RETRY_STATUS);
    assert_int_equal(r.n_statuses, 2);
    assert_int_equal(r.statuses[0], 503);
    assert_int_equal(r.statuses[1], 429);
    assert_int_equal(r.statuses[2], 0);
    assert_int_equal(r.per_try_timeout_ms, 2000);
    assert_int_equal(r.backoff_base_ms, 10);
    assert_int_equal(r.backoff_max_ms, 1000);
    assert_true(r.non_idempotent);
    assert_int_equal(r.budget_pct, 10);
    assert_int_equal(r.budget_min_per_s, 0);
    assert_int_equal(gw_retry_conf_check(&r), 0);
    gw_config_free(cfg);
}

static void test_other_value_forms(void **state)
{
    (void)state;
    setenv("GW_TEST_STATUSES", "502, 503,429", 1);
    struct gw_config *cfg = load_ok(
        SVC("\"load_balancer\": {\"strategy\": \"consistent_hash\", \"hash_key\": "
            "\"cookie:Session_ID\"}, \"health_check\": {\"path\": \"/\", \"expected_status\": "
            "\"200-299\"}, \"retries\": {\"statuses\": \"${GW_TEST_STATUSES}\", \"retry_on\": "
            "\"reset,timeout\", \"backoff_base\": \"0ms\", \"backoff_max\": 0}"));
    const struct gw_service_conf *s = &cfg->services[0];
    assert_int_equal(s->lb_hash_kind, GW_LB_HASH_COOKIE);
    assert_string_equal(s->lb_hash_name, "Session_ID"); /* cookie names keep their case */
    assert_int_equal(s->health_check.status_min, 200);
    assert_int_equal(s->health_check.status_max, 299);
    assert_int_equal(s->retries.n_statuses, 3);
    assert_int_equal(s->retries.statuses[2], 429);
    assert_int_equal(s->retries.on, GW_RETRY_RESET_BEFORE_RESPONSE | GW_RETRY_TIMEOUT);
    assert_int_equal(s->retries.backoff_max_ms, 0);
    gw_config_free(cfg);
    unsetenv("GW_TEST_STATUSES");

    cfg = load_ok(SVC("\"load_balancer\": {\"strategy\": \"consistent_hash\", \"hash_key\": "
                      "\"ip\"}, \"retries\": {\"statuses\": [], \"attempts\": 0}"));
    assert_int_equal(cfg->services[0].lb_hash_kind, GW_LB_HASH_IP);
    assert_null(cfg->services[0].lb_hash_name);
    assert_int_equal(cfg->services[0].retries.n_statuses, 0);
    gw_config_free(cfg);

    cfg = load_ok(SVC("\"retries\": {\"statuses\": 503}"));
    assert_int_equal(cfg->services[0].retries.n_statuses, 1);
    assert_int_equal(cfg->services[0].retries.statuses[0], 503);
    gw_config_free(cfg);
}

/* ---- errors, one per line ------------------------------------------------------------------ */

#define LB "services[0].load_balancer."
#define HC "services[0].health_check."
#define OD "services[0].outlier_detection."
#define CB "services[0].circuit_breaker."
#define RT "services[0].retries."

static void test_load_balancer_errors(void **state)
{
    (void)state;
    expect_one(SVC("\"load_balancer\": {\"strategy\": \"fastest\"}"), "\"fastest\"",
               LB "strategy: unknown value \"fastest\" (expected round_robin, "
                  "weighted_round_robin, random, least_connections, ip_hash, consistent_hash or "
                  "p2c_ewma)");
    expect_one(SVC("\"load_balancer\": {\"strategy\": \"consistent_hash\", \"hash_key\": "
                   "\"url\"}"),
               "\"url\"",
               LB "hash_key: unknown hash key \"url\" (expected \"ip\", \"header:NAME\" or "
                  "\"cookie:NAME\")");
    expect_one(SVC("\"load_balancer\": {\"strategy\": \"consistent_hash\", \"hash_key\": "
                   "\"header:\"}"),
               "\"header:\"",
               LB "hash_key: \"header:\" needs a header name after the colon (\"header:NAME\")");
    expect_one(SVC("\"load_balancer\": {\"strategy\": \"consistent_hash\", \"hash_key\": "
                   "\"cookie:\"}"),
               "\"cookie:\"",
               LB "hash_key: \"cookie:\" needs a cookie name after the colon (\"cookie:NAME\")");
    expect_one(SVC("\"load_balancer\": {\"strategy\": \"consistent_hash\", \"hash_key\": "
                   "\"cookie:a b\"}"),
               "\"cookie:a b\"",
               LB "hash_key: \"a b\" is not a valid cookie name (letters, digits and "
                  "!#$%&'*+-.^_`|~)");
    expect_one(SVC("\"load_balancer\": {\"strategy\": \"consistent_hash\", \"hash_key\": "
                   "\"header:X:Y\"}"),
               "\"header:X:Y\"",
               LB "hash_key: \"X:Y\" is not a valid header name (letters, digits and "
                  "!#$%&'*+-.^_`|~)");
    /* hash_key only means something for consistent_hash; also when strategy is defaulted. */
    expect_one(SVC("\"load_balancer\": {\"strategy\": \"ip_hash\", \"hash_key\": \"ip\"}"),
               "\"ip\"}",
               LB "hash_key: hash_key applies only to strategy \"consistent_hash\" (strategy is "
                  "\"ip_hash\")");
    expect_one(SVC("\"load_balancer\": {\"hash_key\": \"header:x\"}"), "\"header:x\"",
               LB "hash_key: hash_key applies only to strategy \"consistent_hash\" (strategy is "
                  "\"round_robin\")");
    expect_one(SVC("\"load_balancer\": {\"sticky_cookie\": \"a;b\"}"), "\"a;b\"",
               LB "sticky_cookie: \"a;b\" is not a valid cookie name (1 to 256 letters, digits "
                  "and !#$%&'*+-.^_`|~)");
    expect_one(SVC("\"load_balancer\": {\"sticky_cookie\": \"\"}"), "\"\"}",
               LB "sticky_cookie: \"\" is not a valid cookie name (1 to 256 letters, digits "
                  "and !#$%&'*+-.^_`|~)");
    expect_one(SVC("\"load_balancer\": {\"stratgey\": \"random\"}"), "\"stratgey\"",
               LB "stratgey: unknown key \"stratgey\" (did you mean \"strategy\"?)");
    expect_one(SVC("\"load_balancer\": \"random\""), "\"random\"",
               "services[0].load_balancer: expected an object, got a string");
}

/* health_check.type "grpc": a grpc.health.v1 Check call, on services with upstream_protocol h2c.
 */
#define H2C "\"upstream_protocol\": \"h2c\", "

static void test_grpc_health_check(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(SVC(H2C "\"health_check\": {\"type\": \"grpc\"}"));
    const struct gw_service_conf *s = &cfg->services[0];
    assert_true(s->health_check.enabled);
    assert_int_equal(s->health_check.type, GW_HEALTH_CHECK_GRPC);
    assert_null(s->health_check.grpc_service);
    assert_null(s->health_check.path);
    gw_config_free(cfg);
    cfg = load_ok(SVC(H2C "\"health_check\": {\"type\": \"grpc\", \"service\": "
                          "\"orders.v1.OrderService\", \"interval\": \"3s\"}"));
    s = &cfg->services[0];
    assert_string_equal(s->health_check.grpc_service, "orders.v1.OrderService");
    assert_int_equal(s->health_check.interval_ms, 3000);
    gw_config_free(cfg);
    cfg = load_ok(SVC("\"health_check\": {\"type\": \"http\", \"path\": \"/h\"}"));
    assert_int_equal(cfg->services[0].health_check.type, GW_HEALTH_CHECK_HTTP);
    gw_config_free(cfg);
    /* Off: the type and service of a section that is off do not matter. */
    cfg = load_ok(SVC("\"health_check\": false"));
    assert_false(cfg->services[0].health_check.enabled);
    gw_config_free(cfg);
}

static void test_grpc_health_check_errors(void **state)
{
    (void)state;
    expect_one(SVC(H2C "\"health_check\": {\"type\": \"grpcc\"}"), "\"grpcc\"",
               HC "type: unknown value \"grpcc\" (expected http or grpc)");
    expect_one(SVC("\"health_check\": {\"type\": \"grpc\"}"), "\"grpc\"}",
               HC "type: \"grpc\" needs HTTP/2 to the targets: \"upstream_protocol\": \"h2c\" "
                  "(http://) or \"h2\" (https://)");
    expect_one(SVC(H2C "\"health_check\": {\"type\": \"grpc\", \"path\": \"/h\"}"), "\"path\"",
               HC "path: not used by \"type\": \"grpc\" (the check calls "
                  "/grpc.health.v1.Health/Check and reads the status it answers)");
    expect_one(SVC(H2C "\"health_check\": {\"type\": \"grpc\", \"expected_status\": 200}"),
               "\"expected_status\"",
               HC "expected_status: not used by \"type\": \"grpc\" (the check calls "
                  "/grpc.health.v1.Health/Check and reads the status it answers)");
    expect_one(SVC("\"health_check\": {\"path\": \"/h\", \"service\": \"a.B\"}"), "\"service\"",
               HC "service: only for \"type\": \"grpc\" (the gRPC service whose health is "
                  "asked)");
    expect_one(SVC(H2C "\"health_check\": {\"type\": \"grpc\", \"service\": \"a b\"}"), "\"a b\"",
               HC "service: \"a b\" must not contain spaces, control characters or non-ASCII "
                  "characters");
    expect_one(SVC(H2C "\"health_check\": {\"type\": \"grpc\", \"service\": 7}"), "7}",
               HC "service: expected a string, got an integer");
}

static void test_health_check_errors(void **state)
{
    (void)state;
    expect_one(SVC("\"health_check\": {\"interval\": \"5s\"}"), "{\"interval\"",
               HC "path: required key \"path\" is missing");
    expect_one(SVC("\"health_check\": true"), "true", HC "path: required key \"path\" is missing");
    expect_one(SVC("\"health_check\": {\"path\": \"health\"}"), "\"health\"",
               HC "path: \"health\" must start with \"/\"");
    expect_one(SVC("\"health_check\": {\"path\": \"/a b\"}"), "\"/a b\"",
               HC "path: \"/a b\" must not contain spaces, control characters, non-ASCII "
                  "characters or \"#\"");
    expect_one(SVC("\"health_check\": {\"path\": \"/h\", \"interval\": \"1s\", \"timeout\": "
                   "\"1s\"}"),
               "\"1s\"}", HC "timeout: must be shorter than interval (1000ms >= 1000ms)");
    /* timeout defaulted (2s): the error points at the object that lacks it. */
    expect_one(SVC("\"health_check\": {\"path\": \"/h\", \"interval\": \"1s\"}"), "{\"path\"",
               HC "timeout: must be shorter than interval (2000ms >= 1000ms)");
    expect_one(SVC("\"health_check\": {\"path\": \"/h\", \"healthy_threshold\": 0}"), "0}",
               HC "healthy_threshold: must be between 1 and 100");
    expect_one(SVC("\"health_check\": {\"path\": \"/h\", \"unhealthy_threshold\": 101}"), "101",
               HC "unhealthy_threshold: must be between 1 and 100");
    expect_one(SVC("\"health_check\": {\"path\": \"/h\", \"expected_status\": \"600\"}"), "\"600\"",
               HC "expected_status: \"600\" is not a status or a range of statuses (\"200\" or "
                  "\"200-399\", statuses 100 to 599)");
    expect_one(SVC("\"health_check\": {\"path\": \"/h\", \"expected_status\": \"2xx\"}"), "\"2xx\"",
               HC "expected_status: \"2xx\" is not a status or a range of statuses (\"200\" or "
                  "\"200-399\", statuses 100 to 599)");
    expect_one(SVC("\"health_check\": {\"path\": \"/h\", \"expected_status\": 99}"), "99",
               HC "expected_status: \"99\" is not a status or a range of statuses (\"200\" or "
                  "\"200-399\", statuses 100 to 599)");
    expect_one(SVC("\"health_check\": {\"path\": \"/h\", \"expected_status\": \"399-200\"}"),
               "\"399-200\"", HC "expected_status: \"399-200\": the range is empty (399 > 200)");
    expect_one(SVC("\"health_check\": {\"path\": \"/h\", \"expected_status\": [200]}"), "[200]",
               HC "expected_status: expected a status or a range of statuses (\"200-399\"), got "
                  "an array");
    expect_one(SVC("\"health_check\": 1"), "1}",
               "services[0].health_check: expected an object or a boolean, got an integer");
    expect_one(SVC("\"health_check\": \"maybe\""), "\"maybe\"",
               "services[0].health_check: expected a boolean (true or false)");
}

static void test_outlier_errors(void **state)
{
    (void)state;
    expect_one(SVC("\"outlier_detection\": {\"base_ejection_time\": \"60s\", "
                   "\"max_ejection_time\": \"30s\"}"),
               "\"30s\"",
               OD "max_ejection_time: must be at least base_ejection_time (30000ms < "
                  "60000ms)");
    expect_one(SVC("\"outlier_detection\": {\"base_ejection_time\": \"10m\"}"), "{\"base",
               OD "max_ejection_time: must be at least base_ejection_time (300000ms < "
                  "600000ms)");
    expect_one(SVC("\"outlier_detection\": {\"consecutive_failures\": 0}"), "0}",
               OD "consecutive_failures: must be between 1 and 1000");
    expect_one(SVC("\"outlier_detection\": {\"max_ejection_percent\": 101}"), "101",
               OD "max_ejection_percent: must be between 0 and 100");
    expect_one(SVC("\"outlier_detection\": {\"base_ejection_time\": \"-1s\"}"), "\"-1s\"",
               OD "base_ejection_time: \"-1s\": not a duration (expected a number with a unit: "
                  "\"250ms\", \"10s\", \"5m\", \"1h\"; without one, seconds)");
    expect_one(SVC("\"outlier_detection\": [1]"), "[1]",
               "services[0].outlier_detection: expected an object or a boolean, got an array");
    expect_one(SVC("\"outlier_detection\": null"), "null",
               "services[0].outlier_detection: expected an object or a boolean, got null");
}

static void test_circuit_breaker_errors(void **state)
{
    (void)state;
    expect_one(SVC("\"circuit_breaker\": {\"buckets\": 0}"), "0}",
               CB "buckets: must be between 1 and 64");
    expect_one(SVC("\"circuit_breaker\": {\"buckets\": 65}"), "65",
               CB "buckets: must be between 1 and 64");
    expect_one(SVC("\"circuit_breaker\": {\"half_open_requests\": 0}"), "0}",
               CB "half_open_requests: must be between 1 and 255");
    expect_one(SVC("\"circuit_breaker\": {\"half_open_requests\": 256}"), "256",
               CB "half_open_requests: must be between 1 and 255");
    expect_one(SVC("\"circuit_breaker\": {\"error_threshold_percentage\": 101}"), "101",
               CB "error_threshold_percentage: must be between 0 and 100");
    expect_one(SVC("\"circuit_breaker\": {\"failure_threshold\": -1}"), "-1",
               CB "failure_threshold: must be between 0 and 1000000");
    expect_one(SVC("\"circuit_breaker\": {\"window\": \"5ms\"}"), "\"5ms\"",
               CB "window: must be at least 1ms per bucket (5ms in 10 buckets)");
    expect_one(SVC("\"circuit_breaker\": {\"open_duration\": \"0s\"}"), "\"0s\"",
               CB "open_duration: must be between 1ms and 720h");
    expect_one(SVC("\"circuit_breaker\": {\"slow_call_threshold\": true}"), "true",
               CB "slow_call_threshold: expected a duration (a string such as \"10s\", or "
                  "seconds), got a boolean");
    expect_one(SVC("\"circuit_breaker\": {\"failure_treshold\": 3}"), "\"failure_treshold\"",
               CB "failure_treshold: unknown key \"failure_treshold\" (did you mean "
                  "\"failure_threshold\"?)");
}

static void test_retries_errors(void **state)
{
    (void)state;
    expect_one(SVC("\"retries\": {\"attempts\": 11}"), "11",
               RT "attempts: must be between 0 and 10");
    expect_one(SVC("\"retries\": {\"statuses\": [502, 502]}"), "502]",
               RT "statuses[1]: 502 is listed twice");
    expect_one(SVC("\"retries\": {\"statuses\": [99]}"), "99",
               RT "statuses[0]: \"99\" is not an HTTP status (100 to 599)");
    expect_one(SVC("\"retries\": {\"statuses\": [502, true]}"), "true",
               RT "statuses[1]: expected an integer, got a boolean");
    expect_one(SVC("\"retries\": {\"statuses\": [500, 501, 502, 503, 504, 505, 506, 507, 508]}"),
               "508", RT "statuses[8]: at most 8 statuses");
    expect_one(SVC("\"retries\": {\"statuses\": \"502,5xx\"}"), "\"502,5xx\"",
               RT "statuses: \"5xx\" is not an HTTP status (100 to 599)");
    expect_one(SVC("\"retries\": {\"statuses\": {}}"), "{}",
               RT "statuses: expected an array of statuses, got an object");
    expect_one(SVC("\"retries\": {\"retry_on\": [\"reset\", \"5xx\"]}"), "\"5xx\"",
               RT "retry_on[1]: unknown failure class \"5xx\" (expected connect_failed, reset, "
                  "timeout or status)");
    expect_one(SVC("\"retries\": {\"retry_on\": \"reset,reset\"}"), "\"reset,reset\"",
               RT "retry_on: \"reset\" is listed twice");
    expect_one(SVC("\"retries\": {\"retry_on\": 3}"), "3}",
               RT "retry_on: expected a string or an array of strings, got an integer");
    expect_one(SVC("\"retries\": {\"backoff_base\": \"100ms\", \"backoff_max\": \"50ms\"}"),
               "\"50ms\"", RT "backoff_max: must be at least backoff_base (50ms < 100ms)");
    expect_one(SVC("\"retries\": {\"backoff_base\": \"1s\"}"), "{\"backoff_base\"",
               RT "backoff_max: must be at least backoff_base (250ms < 1000ms)");
    expect_one(SVC("\"retries\": {\"backoff_max\": \"2m\"}"), "\"2m\"",
               RT "backoff_max: must be between 0 and 1m");
    expect_one(SVC("\"retries\": {\"budget_percent\": 150}"), "150",
               RT "budget_percent: must be between 0 and 100");
    expect_one(SVC("\"retries\": {\"non_idempotent\": 1}"), "1}",
               RT "non_idempotent: expected a boolean, got an integer");
    expect_one(SVC("\"retries\": {\"per_try_timeout\": \"0ms\"}"), "\"0ms\"",
               RT "per_try_timeout: must be between 1ms and 720h");
    expect_one(SVC("\"retries\": {\"attempt\": 1}"), "\"attempt\"",
               RT "attempt: unknown key \"attempt\" (did you mean \"attempts\"?)");
}

/* ---- several errors over several lines: exact line:column ---------------------------------- */

static void test_errors_across_lines(void **state)
{
    (void)state;
    expect_errors("{\n"
                  "  \"services\": [{\n"
                  "    \"name\": \"s\", \"prefix\": \"/p\", \"targets\": [\"http://h:1\"],\n"
                  "    \"load_balancer\": {\"strategy\": \"consistent_hash\",\n"
                  "                      \"hash_key\": \"header:\"},\n"
                  "    \"health_check\": {\n"
                  "      \"interval\": \"1s\"\n"
                  "    },\n"
                  "    \"circuit_breaker\": {\"buckets\": 64, \"window\": \"50ms\"},\n"
                  "    \"retries\": {\n"
                  "      \"statuses\": [502,\n"
                  "                   700]\n"
                  "    }\n"
                  "  }]\n"
                  "}\n",
                  "t.json:5:35: " LB "hash_key: \"header:\" needs a header name after the colon "
                  "(\"header:NAME\")\n"
                  "t.json:6:21: " HC "path: required key \"path\" is missing\n"
                  "t.json:6:21: " HC "timeout: must be shorter than interval (2000ms >= 1000ms)\n"
                  "t.json:9:50: " CB "window: must be at least 1ms per bucket (50ms in 64 "
                  "buckets)\n"
                  "t.json:12:20: " RT "statuses[1]: \"700\" is not an HTTP status (100 to 599)\n");
}

int main(void)
{
    unsetenv("GATEWAY_PORT");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_sections_on_and_off),
        cmocka_unit_test(test_strategy_names_match_the_balancer),
        cmocka_unit_test(test_full_example),
        cmocka_unit_test(test_other_value_forms),
        cmocka_unit_test(test_load_balancer_errors),
        cmocka_unit_test(test_health_check_errors),
        cmocka_unit_test(test_grpc_health_check),
        cmocka_unit_test(test_grpc_health_check_errors),
        cmocka_unit_test(test_outlier_errors),
        cmocka_unit_test(test_circuit_breaker_errors),
        cmocka_unit_test(test_retries_errors),
        cmocka_unit_test(test_errors_across_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
