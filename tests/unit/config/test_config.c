/* Unit tests for src/control/config*.c: loading, defaults, structure errors with their exact
 * positions and paths, ${ENV} substitution, files, and docs/config.md against the schema.
 * Value syntaxes and per-field checks are in test_config_values.c. */
#include "config_test.h"

#include <unistd.h>

/* ---- valid configs --------------------------------------------------------------------------- */

static void test_empty_object_gives_all_defaults(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok("{}");
    assert_string_equal(cfg->path, "t.json");
    assert_string_equal(cfg->listen_host, "0.0.0.0");
    assert_int_equal(cfg->listen_port, 8000);
    assert_true(cfg->workers >= 1 && cfg->workers <= 256);
    assert_int_equal(cfg->max_connections, 10000);
    assert_int_equal(cfg->timeouts.client_header_ms, 10000);
    assert_int_equal(cfg->timeouts.client_idle_ms, 60000);
    assert_int_equal(cfg->timeouts.client_body_ms, 30000);
    assert_int_equal(cfg->timeouts.upstream_connect_ms, 5000);
    assert_int_equal(cfg->timeouts.upstream_response_ms, 30000);
    assert_int_equal(cfg->http.max_request_line, GW_HTTP1_DEFAULT_MAX_REQUEST_LINE);
    assert_int_equal(cfg->http.max_header_bytes, GW_HTTP1_DEFAULT_MAX_HEADER_BYTES);
    assert_int_equal(cfg->http.max_headers, GW_HTTP1_DEFAULT_MAX_HEADERS);
    assert_int_equal(cfg->max_body_bytes, 10 * 1024 * 1024);
    assert_int_equal(cfg->upstream.max_idle_per_target, 64);
    assert_int_equal(cfg->upstream.idle_timeout_ms, 60000);
    assert_int_equal(cfg->log.level, GW_LOG_INFO);
    assert_int_equal(cfg->log.access_format, GW_LOG_TEXT);
    assert_string_equal(cfg->log.access_log, "stdout");
    assert_string_equal(cfg->log.error_log, "stderr");
    assert_int_equal(cfg->nservices, 0);
    assert_null(cfg->services);
    gw_config_free(cfg);
}

static void test_example_file_loads(void **state)
{
    (void)state;
    char *path = source_path("examples/gantry.json");
    struct gw_config *cfg = NULL;
    struct gw_config_errors errs;
    int rc = gw_config_load(path, &cfg, &errs);
    if (rc != 0)
        gw_config_errors_print(&errs, stderr);
    assert_int_equal(rc, 0);
    assert_string_equal(cfg->path, path);
    assert_string_equal(cfg->listen_host, "0.0.0.0");
    assert_int_equal(cfg->listen_port, 8000);
    assert_string_equal(cfg->log.access_log, "stdout");
    assert_int_equal(cfg->log.access_format, GW_LOG_TEXT);
    assert_int_equal(cfg->nservices, 2);
    assert_string_equal(cfg->services[0].name, "users");
    assert_string_equal(cfg->services[0].prefixes[0], "/api/users");
    assert_string_equal(cfg->services[0].targets[0].url, "http://127.0.0.1:3001");
    assert_int_equal(cfg->services[0].targets[0].port, 3001);
    assert_string_equal(cfg->services[1].name, "orders");
    assert_string_equal(cfg->services[1].prefixes[0], "/api/orders");
    assert_string_equal(cfg->services[1].targets[0].host, "127.0.0.1");
    assert_int_equal(cfg->services[1].targets[0].port, 3002);
    gw_config_free(cfg);
    gw_config_errors_free(&errs);
    free(path);
}

static void test_full_service(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(
        "{\"services\": [{\"name\": \"Orders-v2.x_1\", \"prefix\": [\"/api/orders/\", \"/carts\"],"
        " \"hosts\": [\"API.Example.com\", \"*.shop.example.com\"], \"methods\": [\"get\", "
        "\"POST\"],"
        " \"strip_prefix\": true, \"host_header\": \"target\","
        " \"timeouts\": {\"upstream_connect\": \"250ms\", \"upstream_response\": \"2m\"},"
        " \"limits\": {\"max_body_bytes\": \"1g\"},"
        " \"targets\": [{\"url\": \"http://10.0.0.1:81\", \"weight\": 1000}, {\"url\": "
        "\"http://10.0.0.2:82\"}]}]}");
    const struct gw_service_conf *s = &cfg->services[0];
    assert_string_equal(s->name, "Orders-v2.x_1");
    assert_int_equal(s->nprefixes, 2);
    assert_string_equal(s->prefixes[0], "/api/orders");
    assert_string_equal(s->prefixes[1], "/carts");
    assert_int_equal(s->nhosts, 2);
    assert_string_equal(s->hosts[0], "api.example.com");
    assert_string_equal(s->hosts[1], "*.shop.example.com");
    assert_int_equal(s->methods, (1u << GW_METHOD_GET) | (1u << GW_METHOD_POST));
    assert_true(s->strip_prefix);
    assert_int_equal(s->host_mode, GW_HOST_TARGET);
    assert_null(s->host_value);
    assert_int_equal(s->connect_timeout_ms, 250);
    assert_int_equal(s->response_timeout_ms, 120000);
    assert_int_equal(s->max_body_bytes, 1ull << 30);
    assert_int_equal(s->ntargets, 2);
    assert_int_equal(s->targets[0].weight, 1000);
    assert_int_equal(s->targets[1].weight, 1);
    assert_string_equal(s->targets[1].authority, "10.0.0.2:82");
    gw_config_free(cfg);
}

static void test_service_inherits_globals(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(
        "{\"services\": [{\"name\": \"a\", \"prefix\": \"/a\", \"targets\": [\"http://h:1\"]}],"
        " \"timeouts\": {\"upstream_connect\": 2, \"upstream_response\": \"45s\"},"
        " \"limits\": {\"max_body_bytes\": 0}}");
    const struct gw_service_conf *s = &cfg->services[0];
    assert_int_equal(s->connect_timeout_ms, 2000);
    assert_int_equal(s->response_timeout_ms, 45000);
    assert_int_equal(s->max_body_bytes, 0);
    assert_int_equal(s->methods, 0);
    assert_false(s->strip_prefix);
    assert_int_equal(s->host_mode, GW_HOST_CLIENT);
    assert_int_equal(s->nhosts, 0);
    gw_config_free(cfg);
}

static void test_target_forms(void **state)
{
    (void)state;
    struct gw_config *cfg =
        load_ok("{\"services\": [{\"name\": \"t\", \"prefix\": \"/\", \"targets\": "
                "[\"http://Backend_1.Local\", \"HTTP://[::1]:8080/\","
                " {\"url\": \"http://example.com:80\", \"weight\": \"3\"}]}]}");
    const struct gw_target_conf *t = cfg->services[0].targets;
    assert_int_equal(cfg->services[0].ntargets, 3);
    assert_string_equal(t[0].url, "http://Backend_1.Local");
    assert_string_equal(t[0].host, "backend_1.local");
    assert_int_equal(t[0].port, 80);
    assert_string_equal(t[0].authority, "Backend_1.Local");
    assert_false(t[0].ipv6);
    assert_string_equal(t[1].host, "::1");
    assert_int_equal(t[1].port, 8080);
    assert_string_equal(t[1].authority, "[::1]:8080");
    assert_true(t[1].ipv6);
    assert_string_equal(t[2].authority, "example.com:80");
    assert_int_equal(t[2].weight, 3);
    gw_config_free(cfg);
}

static void test_listen_forms(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *host;
        int port;
    } cases[] = {
        {"{\"listen\": \"127.0.0.1:9000\"}", "127.0.0.1", 9000},
        {"{\"listen\": \"[::1]:8443\"}", "::1", 8443},
        {"{\"listen\": \"[::]:80\"}", "::", 80},
        {"{\"listen\": \":8080\"}", "0.0.0.0", 8080},
        {"{\"listen\": 65535}", "0.0.0.0", 65535},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct gw_config *cfg = load_ok(cases[i].text);
        assert_string_equal(cfg->listen_host, cases[i].host);
        assert_int_equal(cfg->listen_port, cases[i].port);
        gw_config_free(cfg);
    }
}

static void test_workers(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok("{\"workers\": 3}");
    assert_int_equal(cfg->workers, 3);
    gw_config_free(cfg);
    cfg = load_ok("{\"workers\": 0}");
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    assert_int_equal(cfg->workers, n < 1 ? 1 : (n > 256 ? 256 : n));
    gw_config_free(cfg);
}

static void test_log_settings(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok("{\"log\": {\"level\": \"DEBUG\", \"access_format\": \"json\","
                                    " \"access\": \"off\", \"error\": \"/var/log/gantry.log\"}}");
    assert_int_equal(cfg->log.level, GW_LOG_DEBUG);
    assert_int_equal(cfg->log.access_format, GW_LOG_JSON);
    assert_string_equal(cfg->log.access_log, "off");
    assert_string_equal(cfg->log.error_log, "/var/log/gantry.log");
    gw_config_free(cfg);
}

static void test_scalars_as_strings(void **state)
{
    (void)state;
    struct gw_config *cfg =
        load_ok("{\"workers\": \"4\", \"max_connections\": \"20\", \"limits\": {\"max_headers\": "
                "\"50\", \"max_body_bytes\": \"123\"}, \"upstream\": {\"keepalive\": "
                "{\"max_idle\": \"0\"}}, \"services\": [{\"name\": \"s\", \"prefix\": \"/p\", "
                "\"targets\": [\"http://h:1\"], \"strip_prefix\": \"true\"}]}");
    assert_int_equal(cfg->workers, 4);
    assert_int_equal(cfg->max_connections, 20);
    assert_int_equal(cfg->http.max_headers, 50);
    assert_int_equal(cfg->max_body_bytes, 123);
    assert_int_equal(cfg->upstream.max_idle_per_target, 0);
    assert_true(cfg->services[0].strip_prefix);
    gw_config_free(cfg);
}

static void test_prefix_normalization(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(
        "{\"services\": [{\"name\": \"root\", \"prefix\": \"/\", \"targets\": [\"http://h:1\"]},"
        " {\"name\": \"b\", \"prefix\": [\"/api/v1/\", \"/a-b_c.d~e!$&'()*+,;=:@x\"], "
        "\"targets\": [\"http://h:1\"]}]}");
    assert_string_equal(cfg->services[0].prefixes[0], "/");
    assert_string_equal(cfg->services[1].prefixes[0], "/api/v1");
    assert_string_equal(cfg->services[1].prefixes[1], "/a-b_c.d~e!$&'()*+,;=:@x");
    gw_config_free(cfg);
}

static void test_host_header_fixed(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(SVC("\"host_header\": \"internal.example.com:8080\""));
    assert_int_equal(cfg->services[0].host_mode, GW_HOST_FIXED);
    assert_string_equal(cfg->services[0].host_value, "internal.example.com:8080");
    gw_config_free(cfg);
    cfg = load_ok(SVC("\"host_header\": \"client\", \"hosts\": \"Single.Example.COM\""));
    assert_int_equal(cfg->services[0].host_mode, GW_HOST_CLIENT);
    assert_null(cfg->services[0].host_value);
    assert_int_equal(cfg->services[0].nhosts, 1);
    assert_string_equal(cfg->services[0].hosts[0], "single.example.com");
    gw_config_free(cfg);
}

/* ---- syntax and structure -------------------------------------------------------------------- */

static void test_syntax_error_position_from_jansson(void **state)
{
    (void)state;
    expect_errors("{\n"
                  "    \"listen\": \"0.0.0.0:8000\"\n"
                  "    \"workers\": 2\n"
                  "}\n",
                  "t.json:3:13: '}' expected near '\"workers\"'\n");
    expect_errors("{\"a\": [1, 2,]}", "t.json:1:13: unexpected token near ']'\n");
}

static void test_duplicate_key_is_rejected(void **state)
{
    (void)state;
    expect_errors("{\"workers\": 1,\n \"workers\": 2}",
                  "t.json:2:10: workers: duplicate object key near '\"workers\"'\n");
}

/* A value jansson refuses is named by its key path, as the values the config checks refuse. */
static void test_values_the_json_parser_refuses_name_their_key(void **state)
{
    (void)state;
    expect_errors("{\"limits\": {\n \"max_headers\": 18446744073709551617}}",
                  "t.json:2:36: limits.max_headers: too big integer near "
                  "'18446744073709551617'\n");
    expect_errors("{\"services\": [{\"name\": \"a\", \"prefix\": [\"/b\", \"/x\\u0000\"]}]}",
                  "t.json:1:55: services[0].prefix[1]: \\u0000 (a NUL character) is not "
                  "allowed in a string\n");
    expect_errors("{\"services\": [{\"name\": \"a\",\n \"name\": \"b\"}]}",
                  "t.json:2:7: services[0].name: duplicate object key near '\"name\"'\n");
}

static void test_empty_and_non_object_input(void **state)
{
    (void)state;
    expect_errors("", "t.json:1:1: '[' or '{' expected near end of file\n");
    expect_errors("  [1]", "t.json:1:3: the top-level value must be an object, got an array\n");
}

static void test_wrong_types_multiline(void **state)
{
    (void)state;
    expect_errors(
        "{\n"
        "    \"listen\": \"0.0.0.0:8000\",\n"
        "    \"timeouts\": {\n"
        "        \"client_header\": [10]\n"
        "    },\n"
        "    \"services\": [\n"
        "        {\n"
        "            \"name\": \"users\",\n"
        "            \"prefix\": \"/api/users\",\n"
        "            \"strip_prefix\": \"yes\",\n"
        "            \"targets\": [{\"url\": \"http://127.0.0.1:3001\", \"weight\": 1.5}]\n"
        "        }\n"
        "    ]\n"
        "}\n",
        "t.json:4:26: timeouts.client_header: expected a duration (a string such as \"10s\", or "
        "seconds), got an array\n"
        "t.json:10:29: services[0].strip_prefix: expected a boolean (true or false)\n"
        "t.json:11:68: services[0].targets[0].weight: expected an integer, got a number\n");
}

static void test_type_errors_name_what_was_found(void **state)
{
    (void)state;
    expect_one("{\"log\": {\"access\": null}}", "null", "log.access: expected a string, got null");
    expect_one("{\"timeouts\": 5}", "5", "timeouts: expected an object, got an integer");
    expect_one("{\"services\": {}}", "{}",
               "services: expected an array of service objects, got an object");
    expect_one("{\"services\": [\"x\"]}", "\"x\"",
               "services[0]: expected a service object, got a string");
    expect_one(SVC("\"hosts\": {\"a\": 1}"), "{\"a\"",
               "services[0].hosts: expected a string or an array of strings, got an object");
    expect_one(SVC("\"hosts\": [\"a.com\", 7]"), "7]",
               "services[0].hosts[1]: expected a string, got an integer");
    expect_one(
        "{\"services\": [{\"name\": false, \"prefix\": \"/\", \"targets\": [\"http://h\"]}]}",
        "false", "services[0].name: expected a string, got a boolean");
}

static void test_unknown_keys_and_suggestions(void **state)
{
    (void)state;
    expect_errors("{\n  \"tiemouts\": {},\n  \"log\": {\"levle\": \"info\", \"colour\": true}\n}",
                  "t.json:2:3: tiemouts: unknown key \"tiemouts\" (did you mean \"timeouts\"?)\n"
                  "t.json:3:11: log.levle: unknown key \"levle\" (did you mean \"level\"?)\n"
                  "t.json:3:28: log.colour: unknown key \"colour\"\n");
    expect_one(SVC("\"prefx\": \"/a\""), "\"prefx\"",
               "services[0].prefx: unknown key \"prefx\" (did you mean \"prefix\"?)");
    expect_one("{\"services\": [{\"name\": \"s\", \"prefix\": \"/\", \"targets\": [{\"url\": "
               "\"http://h\", \"wieght\": 2}]}]}",
               "\"wieght\"",
               "services[0].targets[0].wieght: unknown key \"wieght\" (did you mean \"weight\"?)");
    /* (a key with no near neighbour: "a.b" would get "did you mean \"hub\"?") */
    expect_one("{\"a.b.c\": 1}", "\"a.b.c\"", "[\"a.b.c\"]: unknown key \"a.b.c\"");
    expect_one("{\"x\": 1}", "\"x\"", "x: unknown key \"x\"");
}

static void test_missing_required_keys_point_at_the_object(void **state)
{
    (void)state;
    expect_errors("{\n"
                  "  \"services\": [\n"
                  "    {\"prefix\": \"/a\"},\n"
                  "    {\"name\": \"b\", \"prefix\": \"/b\", \"targets\": [{\"weight\": 2}]}\n"
                  "  ]\n"
                  "}\n",
                  "t.json:3:5: services[0].name: required key \"name\" is missing\n"
                  "t.json:3:5: services[0].targets: required key \"targets\" is missing\n"
                  "t.json:4:47: services[1].targets[0].url: required key \"url\" is missing\n");
}

/* The same target (host and port: what the balancer and the target's state go by) twice in
 * one service: refused at its second place, whichever way each is written. */
static void test_a_target_twice_points_at_the_second(void **state)
{
    (void)state;
    const char *two = "{\"services\": [{\"name\": \"s\", \"prefix\": \"/\", \"targets\": "
                      "[\"http://h:1\", \"http://h:1\"]}]}";
    expect_one(two, "\"http://h:1\"]",
               "services[0].targets[1]: \"http://h:1\" is the same target as "
               "targets[0] (host h, port 1); list each target once (\"weight\" sets "
               "its share)");
    /* objects, and a default port written out */
    expect_one(
        "{\"services\": [{\"name\": \"s\", \"prefix\": \"/\", \"targets\": [{\"url\": "
        "\"http://H\"}, \"http://10.0.0.1:80\", {\"url\": \"http://h:80\", \"weight\": 2}]}]}",
        "\"http://h:80\"",
        "services[0].targets[2].url: \"http://h:80\" is the same target as "
        "targets[0] (host h, port 80); list each target once (\"weight\" sets "
        "its share)");
    /* on other lines, in the second service */
    expect_errors("{\n"
                  "  \"services\": [\n"
                  "    {\"name\": \"a\", \"prefix\": \"/a\", \"targets\": [\"http://h:1\"]},\n"
                  "    {\"name\": \"b\", \"prefix\": \"/b\", \"targets\": [\n"
                  "      \"http://h:1\", \"https://h:2\",\n"
                  "      \"http://h:2\"]}\n"
                  "  ]\n"
                  "}\n",
                  "t.json:6:7: services[1].targets[2]: \"http://h:2\" is the same target as "
                  "targets[1] (host h, port 2); list each target once (\"weight\" "
                  "sets its share)\n");
    /* the same host on other ports, or in another service, is another target */
    struct gw_config *cfg =
        load_ok("{\"services\": [{\"name\": \"a\", \"prefix\": \"/a\", \"targets\": "
                "[\"http://h:1\", \"http://h:2\", \"http://g:1\"]}, {\"name\": \"b\", "
                "\"prefix\": \"/b\", \"targets\": [\"http://h:1\"]}]}");
    assert_int_equal(cfg->services[0].ntargets, 3);
    gw_config_free(cfg);
}

static void test_empty_required_lists(void **state)
{
    (void)state;
    expect_one("{\"services\": [{\"name\": \"s\", \"prefix\": [], \"targets\": [\"http://h\"]}]}",
               "[]", "services[0].prefix: must not be empty");
    expect_one("{\"services\": [{\"name\": \"s\", \"prefix\": \"/\", \"targets\": []}]}", "[]",
               "services[0].targets: must have at least 1 target");
}

static void test_errors_are_sorted_by_position(void **state)
{
    (void)state;
    /* The schema parses "workers" before "log", and looks for unknown keys after every known
     * one; the report is still in text order. */
    expect_errors("{\"zzz\": 1, \"log\": {\"level\": 3}, \"workers\": -1}",
                  "t.json:1:2: zzz: unknown key \"zzz\"\n"
                  "t.json:1:29: log.level: expected a string, got an integer\n"
                  "t.json:1:44: workers: must be between 0 and 256\n");
}

static void test_too_many_errors_are_capped(void **state)
{
    (void)state;
    size_t cap = 200 * 16 + 16;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t o = (size_t)snprintf(text, cap, "{");
    for (int i = 0; i < 150; i++)
        o += (size_t)snprintf(text + o, cap - o, "%s\"k%d\": %d", i ? "," : "", i, i);
    snprintf(text + o, cap - o, "}");
    struct gw_config *cfg;
    struct gw_config_errors errs;
    assert_int_equal(gw_config_load_string("t.json", text, strlen(text), &cfg, &errs), GW_ECONFIG);
    assert_int_equal(errs.count, GW_CONFIG_MAX_ERRORS + 1);
    struct gw_config_error *last = &errs.items[GW_CONFIG_MAX_ERRORS];
    assert_int_equal(last->line, 0);
    assert_string_equal(last->message, "50 more errors not shown");
    for (size_t i = 1; i < GW_CONFIG_MAX_ERRORS; i++)
        assert_true(errs.items[i - 1].column < errs.items[i].column);
    gw_config_errors_free(&errs);
    free(text);
}

/* ---- environment ----------------------------------------------------------------------------- */

static void test_env_substitution(void **state)
{
    (void)state;
    setenv("GWT_HOST", "10.1.2.3", 1);
    setenv("GWT_PORT", "4567", 1);
    struct gw_config *cfg = load_ok(
        "{\"services\": [{\"name\": \"${GWT_NAME:-svc}\", \"prefix\": \"/${GWT_EMPTY:-v1}\","
        " \"targets\": [\"http://${GWT_HOST}:${GWT_PORT}\"]}], \"log\": {\"access\": "
        "\"/tmp/a$$b$c${GWT_PORT}\"}}");
    assert_string_equal(cfg->services[0].name, "svc");
    assert_string_equal(cfg->services[0].prefixes[0], "/v1");
    assert_string_equal(cfg->services[0].targets[0].url, "http://10.1.2.3:4567");
    assert_int_equal(cfg->services[0].targets[0].port, 4567);
    assert_string_equal(cfg->log.access_log, "/tmp/a$b$c4567");
    gw_config_free(cfg);
    unsetenv("GWT_HOST");
    unsetenv("GWT_PORT");
}

static void test_env_default_when_unset_or_empty(void **state)
{
    (void)state;
    setenv("GWT_EMPTY", "", 1);
    struct gw_config *cfg = load_ok("{\"log\": {\"access\": \"${GWT_EMPTY:-stderr}\","
                                    " \"error\": \"x${GWT_EMPTY}y\"}}");
    assert_string_equal(cfg->log.access_log, "stderr");
    assert_string_equal(cfg->log.error_log, "xy");
    gw_config_free(cfg);
    unsetenv("GWT_EMPTY");
}

static void test_env_missing_variable_is_an_error(void **state)
{
    (void)state;
    unsetenv("GWT_UNSET");
    expect_errors("{\n  \"log\": {\n    \"error\": \"/var/${GWT_UNSET}/e.log\"\n  }\n}",
                  "t.json:3:14: log.error: environment variable GWT_UNSET is not set (use "
                  "${GWT_UNSET:-default} for a default)\n");
}

static void test_env_bad_references(void **state)
{
    (void)state;
    expect_one("{\"log\": {\"error\": \"${OOPS\"}}", "\"${",
               "log.error: unterminated \"${\" (write \"$$\" for a literal \"$\")");
    expect_one("{\"log\": {\"error\": \"${1X}\"}}", "\"${",
               "log.error: invalid variable reference \"${1X}\" (expected ${NAME} or "
               "${NAME:-default}, NAME made of letters, digits and \"_\")");
    expect_one("{\"log\": {\"error\": \"${A B}\"}}", "\"${",
               "log.error: invalid variable reference \"${A B}\" (expected ${NAME} or "
               "${NAME:-default}, NAME made of letters, digits and \"_\")");
    expect_one("{\"log\": {\"error\": \"${}\"}}", "\"${",
               "log.error: invalid variable reference \"${}\" (expected ${NAME} or "
               "${NAME:-default}, NAME made of letters, digits and \"_\")");
}

static void test_env_in_numbers_and_once_only(void **state)
{
    (void)state;
    setenv("GWT_WORKERS", "7", 1);
    setenv("GWT_NESTED", "${GWT_WORKERS}", 1);
    struct gw_config *cfg =
        load_ok("{\"workers\": \"${GWT_WORKERS}\", \"timeouts\": {\"client_idle\": "
                "\"${GWT_IDLE:-90s}\"}, \"log\": {\"access\": \"${GWT_NESTED}\"}}");
    assert_int_equal(cfg->workers, 7);
    assert_int_equal(cfg->timeouts.client_idle_ms, 90000);
    assert_string_equal(cfg->log.access_log, "${GWT_WORKERS}");
    gw_config_free(cfg);
    setenv("GWT_WORKERS", "many", 1);
    expect_one("{\"workers\": \"${GWT_WORKERS}\"}", "\"${",
               "workers: expected an integer, got \"many\"");
    unsetenv("GWT_WORKERS");
    unsetenv("GWT_NESTED");
}

static void test_gateway_port_overrides_listen(void **state)
{
    (void)state;
    setenv("GATEWAY_PORT", "9123", 1);
    struct gw_config *cfg = load_ok("{\"listen\": \"127.0.0.1:8000\"}");
    assert_string_equal(cfg->listen_host, "127.0.0.1");
    assert_int_equal(cfg->listen_port, 9123);
    gw_config_free(cfg);
    cfg = load_ok("{}");
    assert_int_equal(cfg->listen_port, 9123);
    gw_config_free(cfg);
    setenv("GATEWAY_PORT", "", 1);
    cfg = load_ok("{\"listen\": 81}");
    assert_int_equal(cfg->listen_port, 81);
    gw_config_free(cfg);
    unsetenv("GATEWAY_PORT");
}

static void test_gateway_port_invalid(void **state)
{
    (void)state;
    setenv("GATEWAY_PORT", "80x", 1);
    expect_one("{\"workers\": 1, \"listen\": \"127.0.0.1:8000\"}", "\"127",
               "listen: environment variable GATEWAY_PORT=\"80x\" is not a port number (1 to "
               "65535)");
    setenv("GATEWAY_PORT", "65536", 1);
    expect_one("{}", "{",
               "listen: environment variable GATEWAY_PORT=\"65536\" is not a port number (1 to "
               "65535)");
    unsetenv("GATEWAY_PORT");
}

/* ---- files, printing, arguments -------------------------------------------------------------- */

static void test_load_from_file(void **state)
{
    (void)state;
    char path[] = "/tmp/gantry_test_config_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "{\n  \"workers\": 2,\n  \"listen\": \"127.0.0.1:7000\"\n}\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct gw_config *cfg;
    struct gw_config_errors errs;
    assert_int_equal(gw_config_load(path, &cfg, &errs), 0);
    assert_int_equal(errs.count, 0);
    assert_string_equal(cfg->path, path);
    assert_int_equal(cfg->workers, 2);
    assert_int_equal(cfg->listen_port, 7000);
    gw_config_free(cfg);

    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\n  \"workers\": 999\n}\n", f);
    fclose(f);
    assert_int_equal(gw_config_load(path, &cfg, &errs), GW_ECONFIG);
    assert_null(cfg);
    assert_int_equal(errs.count, 1);
    assert_string_equal(errs.items[0].file, path);
    assert_int_equal(errs.items[0].line, 2);
    assert_int_equal(errs.items[0].column, 14);
    assert_string_equal(errs.items[0].path, "workers");
    assert_string_equal(errs.items[0].message, "must be between 0 and 256");
    gw_config_errors_free(&errs);
    unlink(path);
}

static void test_unreadable_files(void **state)
{
    (void)state;
    struct gw_config *cfg;
    struct gw_config_errors errs;
    assert_int_equal(gw_config_load("/nonexistent/gantry.json", &cfg, &errs), GW_ECONFIG);
    assert_null(cfg);
    char *got = errors_text(&errs);
    assert_string_equal(got, "/nonexistent/gantry.json: cannot open: No such file or directory\n");
    free(got);
    gw_config_errors_free(&errs);

    assert_int_equal(gw_config_load("/", &cfg, &errs), GW_ECONFIG);
    got = errors_text(&errs);
    assert_string_equal(got, "/: cannot read: Is a directory\n");
    free(got);
    gw_config_errors_free(&errs);
}

static void test_print_format(void **state)
{
    (void)state;
    struct gw_config_error items[] = {
        {.file = "f.json", .line = 3, .column = 7, .path = "a.b[1]", .message = "bad"},
        {.file = "f.json", .line = 1, .column = 1, .path = "", .message = "top"},
        {.file = "f.json", .line = 0, .column = 0, .path = "", .message = "gone"},
    };
    struct gw_config_errors errs = {.items = items, .count = 3};
    char *got = errors_text(&errs);
    assert_string_equal(got, "f.json:3:7: a.b[1]: bad\nf.json:1:1: top\nf.json: gone\n");
    free(got);
    gw_config_errors_print(NULL, stdout);
    gw_config_errors_free(NULL);
    gw_config_free(NULL);
}

static void test_invalid_arguments_and_lengths(void **state)
{
    (void)state;
    struct gw_config *cfg = (struct gw_config *)&cfg;
    struct gw_config_errors errs;
    assert_int_equal(gw_config_load_string(NULL, "{}", 2, &cfg, &errs), GW_EINVAL);
    assert_null(cfg);
    assert_int_equal(errs.count, 0);
    assert_int_equal(gw_config_load_string("x", "{}", 2, NULL, &errs), GW_EINVAL);
    assert_int_equal(gw_config_load_string("x", "{}", 2, &cfg, NULL), GW_EINVAL);
    assert_int_equal(gw_config_load_string("x", NULL, 3, &cfg, &errs), GW_EINVAL);
    assert_int_equal(gw_config_load(NULL, &cfg, &errs), GW_EINVAL);

    /* The text need not be NUL-terminated: only len bytes are read. */
    assert_int_equal(gw_config_load_string("x", "{}garbage", 2, &cfg, &errs), 0);
    gw_config_free(cfg);
    assert_int_equal(gw_config_load_string("x", "{\"a\":\0}", 7, &cfg, &errs), GW_ECONFIG);
    assert_int_equal(errs.count, 1);
    assert_int_equal(errs.items[0].line, 1);
    gw_config_errors_free(&errs);
}

/* ---- docs/config.md matches the schema ------------------------------------------------------- */

struct doc_row {
    char key[128];
    char type[64];
    char def[512]; /* a Content-Security-Policy default is long */
    bool seen_in_schema;
};

struct doc_rows {
    struct doc_row rows[1024];
    size_t n;
    size_t schema_keys;
    char missing[4096]; /* schema keys not documented */
    char wrong[2048];   /* documented with another type or default */
};

static void trim_cell(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n'))
        s[--n] = '\0';
    size_t k = 0;
    while (s[k] == ' ')
        k++;
    memmove(s, s + k, n - k + 1);
}

/* Splits "| a | b | c | d |" into cells (no '|' inside cells). */
static size_t split_row(char *line, char **cells, size_t max)
{
    size_t n = 0;
    char *p = strchr(line, '|');
    while (p && n < max) {
        char *next = strchr(p + 1, '|');
        if (next == NULL)
            break;
        *next = '\0';
        cells[n] = p + 1;
        trim_cell(cells[n]);
        n++;
        p = next;
    }
    return n;
}

static void strip_backticks(char *s)
{
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '`' && s[n - 1] == '`') {
        memmove(s, s + 1, n - 2);
        s[n - 2] = '\0';
    }
}

static int check_schema_key(const char *path, const struct gw__cfg_field *f, void *ud)
{
    struct doc_rows *d = ud;
    d->schema_keys++;
    for (size_t i = 0; i < d->n; i++) {
        struct doc_row *r = &d->rows[i];
        if (strcmp(r->key, path) != 0)
            continue;
        r->seen_in_schema = true;
        size_t o = strlen(d->wrong);
        if (strcmp(r->type, f->type->doc) != 0)
            snprintf(d->wrong + o, sizeof d->wrong - o,
                     " %s: type \"%s\" in docs, \"%s\" in "
                     "schema;",
                     path, r->type, f->type->doc);
        else if (f->def && strstr(r->def, f->def) == NULL)
            snprintf(d->wrong + o, sizeof d->wrong - o,
                     " %s: default \"%s\" in docs, \"%s\" in "
                     "schema;",
                     path, r->def, f->def);
        else if (f->required && strcmp(r->def, "required") != 0)
            snprintf(d->wrong + o, sizeof d->wrong - o, " %s: required in schema;", path);
        else if (!f->required && strcmp(r->def, "required") == 0)
            snprintf(d->wrong + o, sizeof d->wrong - o, " %s: optional in schema;", path);
        return 0;
    }
    size_t o = strlen(d->missing);
    snprintf(d->missing + o, sizeof d->missing - o, " %s", path);
    return 0;
}

static void test_docs_match_schema(void **state)
{
    (void)state;
    char *path = source_path("docs/config.md");
    FILE *f = fopen(path, "r");
    if (f == NULL)
        fail_msg("cannot open %s (set GW_SOURCE_DIR)", path);
    struct doc_rows *d = calloc(1, sizeof *d);
    assert_non_null(d);
    char line[4096];
    bool in_key_table = false;
    while (fgets(line, sizeof line, f)) {
        if (line[0] != '|') {
            in_key_table = false;
            continue;
        }
        char *cells[8];
        size_t n = split_row(line, cells, 8);
        if (n >= 4 && strcmp(cells[0], "key") == 0 && strcmp(cells[1], "type") == 0) {
            in_key_table = true;
            continue;
        }
        if (!in_key_table || n < 4 || cells[0][0] != '`')
            continue;
        assert_true(d->n < sizeof d->rows / sizeof d->rows[0]);
        struct doc_row *r = &d->rows[d->n++];
        strip_backticks(cells[0]);
        snprintf(r->key, sizeof r->key, "%s", cells[0]);
        snprintf(r->type, sizeof r->type, "%s", cells[1]);
        snprintf(r->def, sizeof r->def, "%s", cells[2]);
    }
    fclose(f);
    free(path);
    assert_true(d->n >= 20);
    assert_int_equal(gw__cfg_each_key(check_schema_key, d), 0);
    char unknown[4096] = "";
    for (size_t i = 0; i < d->n; i++) {
        if (!d->rows[i].seen_in_schema) {
            size_t o = strlen(unknown);
            snprintf(unknown + o, sizeof unknown - o, " %s", d->rows[i].key);
        }
    }
    bool agree = !d->missing[0] && !d->wrong[0] && !unknown[0] && d->schema_keys == d->n;
    if (!agree)
        print_error("docs/config.md and the schema disagree. Undocumented:%s. Documented but not "
                    "in the schema:%s. Different:%s\n",
                    d->missing, unknown, d->wrong);
    free(d);
    assert_true(agree);
}

/* Every ```json block of docs/config.md that is a whole object loads without errors. */
static void test_docs_examples_load(void **state)
{
    (void)state;
    char *path = source_path("docs/config.md");
    FILE *f = fopen(path, "r");
    if (f == NULL)
        fail_msg("cannot open %s (set GW_SOURCE_DIR)", path);
    char line[4096];
    char *block = NULL;
    size_t len = 0;
    bool in_json = false;
    int loaded = 0;
    unsetenv("ORDERS_HOST");
    while (fgets(line, sizeof line, f)) {
        if (!in_json) {
            in_json = strncmp(line, "```json", 7) == 0;
            len = 0;
            continue;
        }
        if (strncmp(line, "```", 3) != 0) {
            size_t n = strlen(line);
            char *grown = realloc(block, len + n + 1);
            assert_non_null(grown);
            block = grown;
            memcpy(block + len, line, n + 1);
            len += n;
            continue;
        }
        in_json = false;
        if (len == 0 || block[0] != '{')
            continue; /* a fragment, not a whole file */
        struct gw_config *cfg = load_ok(block);
        gw_config_free(cfg);
        loaded++;
    }
    fclose(f);
    free(block);
    free(path);
    assert_true(loaded >= 1);
}

/* admin.dashboard: on by default, a boolean, its errors positioned. */
static void test_admin_dashboard(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok("{}");
    assert_true(cfg->admin.dashboard);
    gw_config_free(cfg);
    cfg = load_ok("{\"admin\": {\"dashboard\": false}}");
    assert_false(cfg->admin.dashboard);
    gw_config_free(cfg);
    expect_errors("{\"admin\": {\"dashboard\": 1}}",
                  "t.json:1:25: admin.dashboard: expected a boolean, got an integer\n");
}

int main(void)
{
    /* The tests set the variables they need; an override from the caller's shell would skew
     * every expected listen port. */
    unsetenv("GATEWAY_PORT");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_object_gives_all_defaults),
        cmocka_unit_test(test_admin_dashboard),
        cmocka_unit_test(test_example_file_loads),
        cmocka_unit_test(test_full_service),
        cmocka_unit_test(test_service_inherits_globals),
        cmocka_unit_test(test_target_forms),
        cmocka_unit_test(test_listen_forms),
        cmocka_unit_test(test_workers),
        cmocka_unit_test(test_log_settings),
        cmocka_unit_test(test_scalars_as_strings),
        cmocka_unit_test(test_prefix_normalization),
        cmocka_unit_test(test_host_header_fixed),
        cmocka_unit_test(test_syntax_error_position_from_jansson),
        cmocka_unit_test(test_duplicate_key_is_rejected),
        cmocka_unit_test(test_values_the_json_parser_refuses_name_their_key),
        cmocka_unit_test(test_empty_and_non_object_input),
        cmocka_unit_test(test_wrong_types_multiline),
        cmocka_unit_test(test_type_errors_name_what_was_found),
        cmocka_unit_test(test_unknown_keys_and_suggestions),
        cmocka_unit_test(test_missing_required_keys_point_at_the_object),
        cmocka_unit_test(test_empty_required_lists),
        cmocka_unit_test(test_errors_are_sorted_by_position),
        cmocka_unit_test(test_too_many_errors_are_capped),
        cmocka_unit_test(test_env_substitution),
        cmocka_unit_test(test_env_default_when_unset_or_empty),
        cmocka_unit_test(test_env_missing_variable_is_an_error),
        cmocka_unit_test(test_env_bad_references),
        cmocka_unit_test(test_env_in_numbers_and_once_only),
        cmocka_unit_test(test_gateway_port_overrides_listen),
        cmocka_unit_test(test_gateway_port_invalid),
        cmocka_unit_test(test_load_from_file),
        cmocka_unit_test(test_a_target_twice_points_at_the_second),
        cmocka_unit_test(test_unreadable_files),
        cmocka_unit_test(test_print_format),
        cmocka_unit_test(test_invalid_arguments_and_lengths),
        cmocka_unit_test(test_docs_match_schema),
        cmocka_unit_test(test_docs_examples_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
