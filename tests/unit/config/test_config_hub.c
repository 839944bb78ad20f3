/*
 * Unit tests for the "hub" section (src/config/config_hub.c): off by default, defaults, every
 * key, and every error with its exact position and key path.
 */
#include "config_test.h"

#define HUB(fields)                                                                                \
    "{\"services\": [{\"name\": \"s\", \"prefix\": \"/p\", \"targets\": [\"http://h:1\"]}], "      \
    "\"hub\": {" fields "}}"

static void test_hub_off_by_default(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(SVC("\"strip_prefix\": false"));
    assert_false(cfg->hub.enabled);
    gw_config_free(cfg);
    cfg = load_ok(HUB(""));
    const struct gw_hub_conf *h = &cfg->hub;
    assert_true(h->enabled);
    assert_string_equal(h->path, "/ws");
    assert_null(h->service);
    assert_int_equal(h->backend, GW_HUB_BACKEND_LOCAL);
    assert_string_equal(h->redis_channel, "gantry:hub");
    assert_int_equal(h->nrules, 0);
    assert_int_equal(h->max_message_bytes, 64 * 1024);
    assert_int_equal(h->max_queue_bytes, 1024 * 1024);
    assert_int_equal(h->max_subscriptions, 64);
    assert_int_equal(h->max_subscribers, 100000);
    assert_int_equal(h->ping_interval_ms, 30000);
    assert_int_equal(h->idle_timeout_ms, 75000);
    gw_config_free(cfg);
}

static void test_hub_values(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(
        "{\"services\": [{\"name\": \"chat\", \"prefix\": \"/p\", \"targets\": [\"http://h:1\"]}],"
        " \"rate_limit\": {\"redis\": {\"url\": \"redis://r:6379\"}},"
        " \"hub\": {\"path\": \"/live/\", \"service\": \"chat\", \"backend\": \"redis\","
        " \"redis_channel\": \"app:hub\", \"channels\": [{\"channels\": [\"news\", "
        "\"user.{client_id}\","
        " \"room.*\"], \"subscribe\": \"*\", \"publish\": [\"editor\", \"admin\"]}],"
        " \"max_message_size\": \"1KiB\", \"max_queue\": \"64KiB\", \"max_subscriptions\": 5,"
        " \"max_subscribers\": 7, \"ping_interval\": \"10s\", \"idle_timeout\": 0,"
        " \"origins\": [\"https://App.example\"]}}");
    const struct gw_hub_conf *h = &cfg->hub;
    assert_string_equal(h->path, "/live");
    assert_string_equal(h->service, "chat");
    assert_int_equal(h->backend, GW_HUB_BACKEND_REDIS);
    assert_string_equal(h->redis_channel, "app:hub");
    assert_int_equal(h->nrules, 1);
    assert_int_equal(h->rules[0].nchannels, 3);
    assert_string_equal(h->rules[0].channels[1], "user.{client_id}");
    assert_int_equal(h->rules[0].nsubscribe, 1);
    assert_string_equal(h->rules[0].subscribe[0], "*");
    assert_int_equal(h->rules[0].npublish, 2);
    assert_int_equal(h->max_message_bytes, 1024);
    assert_int_equal(h->max_queue_bytes, 64 * 1024);
    assert_int_equal(h->max_subscriptions, 5);
    assert_int_equal(h->max_subscribers, 7);
    assert_int_equal(h->ping_interval_ms, 10000);
    assert_int_equal(h->idle_timeout_ms, 0);
    assert_string_equal(h->origins[0], "https://app.example");
    gw_config_free(cfg);
}

static void test_hub_errors(void **state)
{
    (void)state;
    expect_one(HUB("\"service\": \"nope\""), "\"nope\"", "hub.service: no service named \"nope\"");
    expect_one(HUB("\"backend\": \"redis\""), "\"redis\"",
               "hub.backend: backend redis uses the Redis of rate_limit.redis: set "
               "rate_limit.redis.url (or REDIS_URL)");
    expect_one(HUB("\"channels\": [{\"channels\": [\"a b\"]}]"), "\"a b\"",
               "hub.channels[0].channels[0]: \"a b\" may hold only A-Z a-z 0-9 . _ : / @ -, '*' "
               "and \"{client_id}\"");
    expect_one(HUB("\"channels\": [{\"channels\": [\"x.{id}\"]}]"), "\"x.{id}\"",
               "hub.channels[0].channels[0]: \"x.{id}\" has a '{' that does not start "
               "\"{client_id}\"");
    expect_one(HUB("\"channels\": [{\"subscribe\": \"*\"}]"), "{\"subscribe\"",
               "hub.channels[0].channels: required key \"channels\" is missing");
    expect_one(HUB("\"channels\": [{\"channels\": \"a\", \"publish\": [\"a b\"]}]"), "\"a b\"",
               "hub.channels[0].publish[0]: \"a b\" is not a role name (1-128 characters, no "
               "space; \"*\" for anyone)");
    expect_one(HUB("\"ping_interval\": \"10s\", \"idle_timeout\": \"5s\""), "\"5s\"",
               "hub.idle_timeout: must be longer than ping_interval (or 0 for never)");
    expect_one(HUB("\"max_subscriptions\": 0"), "0",
               "hub.max_subscriptions: must be between 1 and 10000");
    expect_one(HUB("\"backend\": \"memcached\""), "\"memcached\"",
               "hub.backend: unknown value \"memcached\" (expected local or redis)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hub_off_by_default),
        cmocka_unit_test(test_hub_values),
        cmocka_unit_test(test_hub_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
