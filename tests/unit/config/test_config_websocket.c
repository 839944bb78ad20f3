/*
 * Unit tests for a service's "websocket" section (src/config/config_websocket.c): defaults,
 * the boolean form, every key, and every error with its exact position and key path.
 */
#include "config_test.h"

#define WS(fields) SVC("\"websocket\": {" fields "}")

static void test_websocket_defaults(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(SVC("\"strip_prefix\": false"));
    const struct gw_websocket_conf *w = &cfg->services[0].websocket;
    assert_true(w->enabled);
    assert_int_equal(w->idle_timeout_ms, 3600 * 1000);
    assert_int_equal(w->max_lifetime_ms, 24 * 3600 * 1000);
    assert_int_equal(w->norigins, 0);
    assert_int_equal(w->nprotocols, 0);
    assert_null(w->token_query);
    assert_null(w->token_protocol);
    gw_config_free(cfg);
}

static void test_websocket_values(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(WS(
        "\"idle_timeout\": \"90s\", \"max_lifetime\": 0, \"origins\": [\"https://App.example.com\","
        " \"https://*.example.org\", \"null\"], \"protocols\": \"MQTT\", \"token_query\": "
        "\"access_token\", \"token_protocol\": \"access_token.\""));
    const struct gw_websocket_conf *w = &cfg->services[0].websocket;
    assert_true(w->enabled);
    assert_int_equal(w->idle_timeout_ms, 90 * 1000);
    assert_int_equal(w->max_lifetime_ms, 0);
    assert_int_equal(w->norigins, 3);
    assert_string_equal(w->origins[0], "https://app.example.com");
    assert_int_equal(w->nprotocols, 1);
    assert_string_equal(w->protocols[0], "mqtt");
    assert_string_equal(w->token_query, "access_token");
    assert_string_equal(w->token_protocol, "access_token.");
    gw_config_free(cfg);

    cfg = load_ok(SVC("\"websocket\": false"));
    assert_false(cfg->services[0].websocket.enabled);
    gw_config_free(cfg);
    cfg = load_ok(SVC("\"websocket\": true"));
    assert_true(cfg->services[0].websocket.enabled);
    assert_int_equal(cfg->services[0].websocket.idle_timeout_ms, 3600 * 1000);
    gw_config_free(cfg);
}

static void test_websocket_routes(void **state)
{
    (void)state;
    struct gw_config *cfg =
        load_ok(WS("\"enabled\": false, \"routes\": [{\"match\": {\"prefix\": \"/p/live\", "
                   "\"methods\": [\"GET\"]}}, {\"match\": {\"prefix\": \"/p/live/admin\"}, "
                   "\"enabled\": false}]"));
    const struct gw_websocket_conf *w = &cfg->services[0].websocket;
    assert_false(w->enabled);
    assert_int_equal(w->nroutes, 2);
    assert_string_equal(w->routes[0].match.prefixes[0], "/p/live");
    assert_true(w->routes[0].enabled);
    assert_false(w->routes[1].enabled);
    gw_config_free(cfg);
    cfg = load_ok(WS("\"routes\": []"));
    assert_true(cfg->services[0].websocket.enabled);
    gw_config_free(cfg);
    expect_one(WS("\"routes\": [{\"enabled\": false}]"), "{\"enabled\"",
               "services[0].websocket.routes[0].match: required key \"match\" is missing");
    expect_one(
        WS("\"routes\": [{\"match\": {\"prefix\": \"live\"}}]"), "\"live\"",
        "services[0].websocket.routes[0].match.prefix: \"live\": a prefix must start with \"/\"");
}

static void test_websocket_errors(void **state)
{
    (void)state;
    expect_one(SVC("\"websocket\": 3"), "3",
               "services[0].websocket: expected an object or a boolean, got an integer");
    expect_one(WS("\"origins\": [\"app.example.com\"]"), "\"app.example.com\"",
               "services[0].websocket.origins[0]: \"app.example.com\" is not an origin: write "
               "scheme://host[:port], as \"https://app.example.com\" or "
               "\"https://*.example.com\" (or \"*\", or \"null\")");
    expect_one(WS("\"protocols\": \"h2c\""), "\"h2c\"",
               "services[0].websocket.protocols: \"h2c\": h2c upgrades are always refused");
    expect_one(WS("\"protocols\": [\"websocket\"]"), "\"websocket\"]",
               "services[0].websocket.protocols[0]: \"websocket\": websocket is always tunnelled "
               "when enabled");
    expect_one(WS("\"protocols\": [\"a b\"]"), "\"a b\"",
               "services[0].websocket.protocols[0]: \"a b\" is not a protocol name (a token such "
               "as \"mqtt\")");
    expect_one(WS("\"token_query\": \"a&b\""), "\"a&b\"",
               "services[0].websocket.token_query: \"a&b\" is not a query parameter name (1-64 of "
               "A-Z a-z 0-9 - . _ ~)");
    expect_one(WS("\"token_protocol\": \"a,b\""), "\"a,b\"",
               "services[0].websocket.token_protocol: \"a,b\" is not a subprotocol prefix (1-64 "
               "token characters, such as \"access_token.\")");
    expect_one(WS("\"idle_timeout\": -1"), "-1",
               "services[0].websocket.idle_timeout: a duration must not be negative");
    expect_one(WS("\"idle_timout\": \"1s\""), "\"idle_timout\"",
               "services[0].websocket.idle_timout: unknown key \"idle_timout\" (did you mean "
               "\"idle_timeout\"?)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_websocket_defaults),
        cmocka_unit_test(test_websocket_values),
        cmocka_unit_test(test_websocket_routes),
        cmocka_unit_test(test_websocket_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
