/* Unit tests for src/control/config*.c: loading, defaults, every kind of error with its exact
 * position and path, ${ENV} substitution, value syntaxes, and docs/config.md against the schema. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/config.h"
#include "control/internal.h"
#include "core/error.h"

/* ---- helpers --------------------------------------------------------------------------------- */

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

static struct gw_config *load_ok(const char *text)
{
    struct gw_config *cfg = NULL;
    struct gw_config_errors errs;
    int rc = gw_config_load_string("t.json", text, strlen(text), &cfg, &errs);
    if (rc != 0) {
        char *got = errors_text(&errs);
        fprintf(stderr, "unexpected errors:\n%s", got);
        free(got);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(errs.count, 0);
    assert_non_null(cfg);
    gw_config_errors_free(&errs);
    return cfg;
}

/* Loads text, expects it to fail with exactly these printed errors. */
static void expect_errors(const char *text, const char *expected)
{
    struct gw_config *cfg = (struct gw_config *)&cfg;
    struct gw_config_errors errs;
    int rc = gw_config_load_string("t.json", text, strlen(text), &cfg, &errs);
    char *got = errors_text(&errs);
    assert_string_equal(got, expected);
    assert_int_equal(rc, GW_ECONFIG);
    assert_null(cfg);
    free(got);
    gw_config_errors_free(&errs);
}

/* For one-line texts: expects one error located at the first occurrence of `at` in text. */
static void expect_one(const char *text, const char *at, const char *path_and_message)
{
    const char *p = strstr(text, at);
    assert_non_null(p);
    char expected[1024];
    snprintf(expected, sizeof expected, "t.json:1:%d: %s\n", (int)(p - text) + 1,
             path_and_message);
    expect_errors(text, expected);
}

/* A service wrapped in a config, to test service keys in one line. */
#define SVC(fields)                                                                                \
    "{\"services\": [{\"name\": \"s\", \"prefix\": \"/p\", \"targets\": [\"http://h:1\"], " fields \
    "}]}"

/* A path under the source tree: $GW_SOURCE_DIR/rel, or found from this file's path. */
static char *source_path(const char *rel)
{
    const char *root = getenv("GW_SOURCE_DIR");
    char buf[4096];
    if (root && root[0]) {
        snprintf(buf, sizeof buf, "%s/%s", root, rel);
    } else {
        const char *me = __FILE__;
        const char *tail = strstr(me, "tests/unit/control/test_config.c");
        int n = tail ? (int)(tail - me) : 0;
        snprintf(buf, sizeof buf, "%.*s%s", n, me, rel);
    }
    char *s = strdup(buf);
    assert_non_null(s);
    return s;
}

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
        " \"hosts\": [\"API.Example.com\", \"*.shop.example.com\"], \"methods\": [\"get\", \"POST\"],"
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
    struct gw_config *cfg = load_ok(
        "{\"services\": [{\"name\": \"t\", \"prefix\": \"/\", \"targets\": "
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
                  "t.json:2:10: duplicate object key near '\"workers\"'\n");
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
    expect_one("{\"log\": {\"access\": null}}", "null",
               "log.access: expected a string, got null");
    expect_one("{\"timeouts\": 5}", "5", "timeouts: expected an object, got an integer");
    expect_one("{\"services\": {}}", "{}",
               "services: expected an array of service objects, got an object");
    expect_one("{\"services\": [\"x\"]}", "\"x\"",
               "services[0]: expected a service object, got a string");
    expect_one(SVC("\"hosts\": {\"a\": 1}"), "{\"a\"",
               "services[0].hosts: expected a string or an array of strings, got an object");
    expect_one(SVC("\"hosts\": [\"a.com\", 7]"), "7]",
               "services[0].hosts[1]: expected a string, got an integer");
    expect_one("{\"services\": [{\"name\": false, \"prefix\": \"/\", \"targets\": [\"http://h\"]}]}",
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
    expect_one("{\"a.b\": 1}", "\"a.b\"", "[\"a.b\"]: unknown key \"a.b\"");
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
    assert_int_equal(gw_config_load_string("t.json", text, strlen(text), &cfg, &errs),
                     GW_ECONFIG);
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

/* ---- value syntaxes -------------------------------------------------------------------------- */

static void test_duration_syntax(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        uint64_t ms;
    } ok[] = {
        {"250ms", 250},    {"10s", 10000},     {"1.5s", 1500},       {"5m", 300000},
        {"1h", 3600000},   {"0.001s", 1},      {"2.25m", 135000},    {"1H", 3600000},
        {"10S", 10000},    {"0ms", 0},         {"1.000000000000s", 1000}, {"720h", 2592000000ull},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t ms = 12345;
        const char *why = NULL;
        assert_true(gw__cfg_parse_duration_ms(ok[i].s, &ms, &why));
        assert_int_equal(ms, ok[i].ms);
    }
}

static void test_duration_syntax_errors(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        const char *why;
    } bad[] = {
        {"", "not a duration"},
        {"s", "not a duration"},
        {".5s", "not a duration"},
        {"1.s", "not a duration"},
        {"-1s", "not a duration"},
        {"10", "duration without a unit"},
        {"5x", "unknown duration unit"},
        {"10 s", "unknown duration unit"},
        {"1e3s", "unknown duration unit"},
        {"1msx", "unknown duration unit"},
        {"1.0005s", "duration more precise than a millisecond"},
        {"0.5ms", "duration more precise than a millisecond"},
        {"99999999999999999999999s", "duration too large"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t ms;
        const char *why = NULL;
        assert_false(gw__cfg_parse_duration_ms(bad[i].s, &ms, &why));
        assert_non_null(why);
        if (strncmp(why, bad[i].why, strlen(bad[i].why)) != 0)
            fail_msg("%s: got \"%s\", expected \"%s...\"", bad[i].s, why, bad[i].why);
    }
}

static void test_durations_in_config(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok("{\"timeouts\": {\"client_header\": 30, \"client_idle\": 0.25,"
                                    " \"client_body\": \"1.5s\", \"upstream_connect\": \"100ms\","
                                    " \"upstream_response\": 1.5}}");
    assert_int_equal(cfg->timeouts.client_header_ms, 30000);
    assert_int_equal(cfg->timeouts.client_idle_ms, 250);
    assert_int_equal(cfg->timeouts.client_body_ms, 1500);
    assert_int_equal(cfg->timeouts.upstream_connect_ms, 100);
    assert_int_equal(cfg->timeouts.upstream_response_ms, 1500);
    gw_config_free(cfg);

    expect_one("{\"timeouts\": {\"client_idle\": 0}}", "0}",
               "timeouts.client_idle: must be between 1ms and 720h");
    expect_one("{\"timeouts\": {\"client_idle\": \"0s\"}}", "\"0s",
               "timeouts.client_idle: must be between 1ms and 720h");
    expect_one("{\"timeouts\": {\"client_idle\": \"721h\"}}", "\"721h",
               "timeouts.client_idle: must be between 1ms and 720h");
    expect_one("{\"timeouts\": {\"client_idle\": -1}}", "-1",
               "timeouts.client_idle: a duration must not be negative");
    expect_one("{\"timeouts\": {\"client_idle\": -0.5}}", "-0.5",
               "timeouts.client_idle: a duration must not be negative");
    expect_one("{\"timeouts\": {\"client_idle\": 0.0001}}", "0.0001",
               "timeouts.client_idle: duration more precise than a millisecond");
    expect_one("{\"timeouts\": {\"client_idle\": 1e300}}", "1e300",
               "timeouts.client_idle: must be between 1ms and 720h");
    expect_one("{\"timeouts\": {\"client_idle\": \"10\"}}", "\"10",
               "timeouts.client_idle: \"10\": duration without a unit (expected ms, s, m or h: "
               "\"10s\"; a JSON number means seconds)");
    expect_one("{\"timeouts\": {\"client_idle\": \"3 days\"}}", "\"3",
               "timeouts.client_idle: \"3 days\": unknown duration unit (expected ms, s, m or h)");
}

static void test_size_syntax(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        uint64_t bytes;
    } ok[] = {
        {"512", 512},          {"0", 0},
        {"7b", 7},             {"7B", 7},
        {"64k", 65536},        {"64KB", 65536},
        {"64KiB", 65536},      {"64kib", 65536},
        {"10m", 10485760},     {"10MB", 10485760},
        {"10MiB", 10485760},   {"1g", 1073741824},
        {"1GB", 1073741824},   {"1GiB", 1073741824},
        {"2t", 2199023255552}, {"18446744073709551615", UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t n = 12345;
        const char *why = NULL;
        assert_true(gw__cfg_parse_size(ok[i].s, &n, &why));
        assert_true(n == ok[i].bytes);
    }
}

static void test_size_syntax_errors(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        const char *why;
    } bad[] = {
        {"", "not a size"},
        {"k", "not a size"},
        {"-1", "not a size"},
        {"1.5m", "sizes are whole numbers"},
        {"64 k", "unknown size unit"},
        {"10x", "unknown size unit"},
        {"1kk", "unknown size unit"},
        {"1kbi", "unknown size unit"},
        {"18446744073709551616", "size too large"},
        {"17179869184g", "size too large"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t n;
        const char *why = NULL;
        assert_false(gw__cfg_parse_size(bad[i].s, &n, &why));
        assert_non_null(why);
        if (strncmp(why, bad[i].why, strlen(bad[i].why)) != 0)
            fail_msg("%s: got \"%s\", expected \"%s...\"", bad[i].s, why, bad[i].why);
    }
}

static void test_sizes_in_config(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok("{\"limits\": {\"max_request_line\": \"1MiB\", "
                                    "\"max_header_bytes\": \"1k\", \"max_body_bytes\": 12345}}");
    assert_int_equal(cfg->http.max_request_line, 1048576);
    assert_int_equal(cfg->http.max_header_bytes, 1024);
    assert_int_equal(cfg->max_body_bytes, 12345);
    gw_config_free(cfg);

    expect_one("{\"limits\": {\"max_request_line\": 100}}", "100",
               "limits.max_request_line: must be between 256 and 1MiB");
    expect_one("{\"limits\": {\"max_request_line\": \"2m\"}}", "\"2m",
               "limits.max_request_line: must be between 256 and 1MiB");
    expect_one("{\"limits\": {\"max_header_bytes\": 512}}", "512",
               "limits.max_header_bytes: must be between 1KiB and 1MiB");
    expect_one("{\"limits\": {\"max_body_bytes\": -1}}", "-1",
               "limits.max_body_bytes: a size must not be negative");
    expect_one("{\"limits\": {\"max_body_bytes\": 1.5}}", "1.5",
               "limits.max_body_bytes: expected a size (bytes, or a string such as \"64k\"), got "
               "a number");
    expect_one("{\"limits\": {\"max_body_bytes\": \"10 MB\"}}", "\"10",
               "limits.max_body_bytes: \"10 MB\": unknown size unit (expected k, m, g or t, "
               "optionally followed by B or iB; all are powers of 1024)");
}

static void test_integer_ranges(void **state)
{
    (void)state;
    expect_one("{\"workers\": 257}", "257", "workers: must be between 0 and 256");
    expect_one("{\"workers\": 2.0}", "2.0", "workers: expected an integer, got a number");
    expect_one("{\"workers\": \"+3\"}", "\"+3", "workers: expected an integer, got \"+3\"");
    expect_one("{\"max_connections\": 0}", "0}", "max_connections: must be between 1 and 1000000");
    expect_one("{\"max_connections\": 1000001}", "1000001",
               "max_connections: must be between 1 and 1000000");
    expect_one("{\"limits\": {\"max_headers\": 1001}}", "1001",
               "limits.max_headers: must be between 1 and 1000");
    expect_one("{\"upstream\": {\"keepalive\": {\"max_idle\": 10001}}}", "10001",
               "upstream.keepalive.max_idle: must be between 0 and 10000");
    expect_one("{\"upstream\": {\"keepalive\": {\"idle_timeout\": \"0ms\"}}}", "\"0ms",
               "upstream.keepalive.idle_timeout: must be between 1ms and 720h");
    expect_one("{\"services\": [{\"name\": \"s\", \"prefix\": \"/\", \"targets\": [{\"url\": "
               "\"http://h\", \"weight\": 0}]}]}",
               "0}", "services[0].targets[0].weight: must be between 1 and 1000");
    expect_one("{\"services\": [{\"name\": \"s\", \"prefix\": \"/\", \"targets\": [{\"url\": "
               "\"http://h\", \"weight\": 1001}]}]}",
               "1001", "services[0].targets[0].weight: must be between 1 and 1000");
}

static void test_booleans_and_enums(void **state)
{
    (void)state;
    expect_one(SVC("\"strip_prefix\": 1"), "1}",
               "services[0].strip_prefix: expected a boolean, got an integer");
    expect_one("{\"log\": {\"level\": \"verbose\"}}", "\"verbose",
               "log.level: unknown value \"verbose\" (expected debug, info, warn or error)");
    expect_one("{\"log\": {\"access_format\": \"xml\"}}", "\"xml",
               "log.access_format: unknown value \"xml\" (expected text or json)");
}

static void test_log_destinations(void **state)
{
    (void)state;
    expect_one("{\"log\": {\"error\": \"off\"}}", "\"off",
               "log.error: the error log cannot be turned off (\"stderr\", \"stdout\" or a file "
               "path)");
    expect_one("{\"log\": {\"access\": \"\"}}", "\"\"",
               "log.access: must not be empty (\"stdout\", \"stderr\", \"off\" or a file path)");
    expect_one("{\"log\": {\"error\": \"\"}}", "\"\"",
               "log.error: must not be empty (\"stderr\", \"stdout\" or a file path)");
}

/* ---- addresses, URLs, routes ------------------------------------------------------------------- */

static void test_listen_errors(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        const char *message;
    } cases[] = {
        {"\"localhost:8000\"", "\"localhost:8000\": the listen host must be an IP address "
                               "(\"0.0.0.0:8000\", \"[::]:8000\")"},
        {"\"1.2.3.4\"", "\"1.2.3.4\": missing port (expected \"host:port\", e.g. \"0.0.0.0:8000\")"},
        {"\"1.2.3.4:\"", "\"1.2.3.4:\": missing port after \":\""},
        {"\"1.2.3.4:0\"", "\"1.2.3.4:0\": the port must be a number between 1 and 65535"},
        {"\"1.2.3.4:99999\"", "\"1.2.3.4:99999\": the port must be a number between 1 and 65535"},
        {"\"1.2.3:80\"", "\"1.2.3:80\": invalid IPv4 address"},
        {"\"::1:80\"", "\"::1:80\": an IPv6 address must be written in brackets, as in "
                       "\"[::1]:8000\""},
        {"\"[::1\"", "\"[::1\": unterminated \"[\" in IPv6 address"},
        {"\"[zz]:1\"", "\"[zz]:1\": invalid IPv6 address"},
        {"\"[::1]x\"", "\"[::1]x\": unexpected characters after \"]\""},
        {"0", "the port must be a number between 1 and 65535"},
        {"true", "expected a string such as \"0.0.0.0:8000\", got a boolean"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256];
        char msg[512];
        snprintf(text, sizeof text, "{\"listen\": %s}", cases[i].value);
        snprintf(msg, sizeof msg, "listen: %s", cases[i].message);
        expect_one(text, cases[i].value, msg);
    }
}

static void test_url_errors(void **state)
{
    (void)state;
    static const struct {
        const char *url;
        const char *message;
    } cases[] = {
        {"ftp://h", "not a URL (expected http://host:port)"},
        {"h:80", "not a URL (expected http://host:port)"},
        {"https://h", "https targets are not supported yet (expected http://host:port)"},
        {"http://", "missing host (expected http://host:port)"},
        {"http://:80", "missing host (expected http://host:port)"},
        {"http://h:80/api", "a path is not allowed in a target URL (the request's path is "
                            "forwarded; see strip_prefix)"},
        {"http://h?x=1", "a query is not allowed in a target URL"},
        {"http://h#f", "a fragment is not allowed in a target URL"},
        {"http://u:p@h", "user information (\"user@\") is not allowed in a target URL"},
        {"http://h:", "missing port after \":\""},
        {"http://h:8o", "the port must be a number between 1 and 65535"},
        {"http://::1:80", "an IPv6 address must be written in brackets, as in \"[::1]:8000\""},
        {"http://-bad.com", "a host name label must not start with \"-\""},
        {"http://bad-.com", "a host name label must not end with \"-\""},
        {"http://a..b", "empty label in host name"},
        {"http://a.b.", "a host name must not end with \".\""},
        {"http://1.2.3.400", "invalid IPv4 address"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256];
        char msg[512];
        char at[64];
        snprintf(text, sizeof text,
                 "{\"services\": [{\"name\": \"s\", \"prefix\": \"/\", \"targets\": [\"%s\"]}]}",
                 cases[i].url);
        snprintf(at, sizeof at, "\"%s\"", cases[i].url);
        snprintf(msg, sizeof msg, "services[0].targets[0].url: \"%s\": %s", cases[i].url,
                 cases[i].message);
        expect_one(text, at, msg);
    }
    /* The message quotes the URL as decoded from JSON. */
    expect_one("{\"services\": [{\"name\": \"s\", \"prefix\": \"/\", \"targets\": "
               "[{\"url\": \"http://h\\u00e9.com\"}]}]}",
               "\"http",
               "services[0].targets[0].url: \"http://h\xc3\xa9.com\": invalid character in host "
               "name (letters, digits, \"-\", \"_\" and \".\")");
}

static void test_prefix_errors(void **state)
{
    (void)state;
    static const struct {
        const char *prefix;
        const char *message;
    } cases[] = {
        {"api", "a prefix must start with \"/\""},
        {"", "a prefix must start with \"/\""},
        {"/a//b", "a prefix must not contain \"//\""},
        {"/a/./b", "a prefix must not contain \".\" or \"..\" segments"},
        {"/a/..", "a prefix must not contain \".\" or \"..\" segments"},
        {"/a?x", "a prefix must not contain \"?\""},
        {"/a#x", "a prefix must not contain \"#\""},
        {"/a%20", "a prefix must not contain \"%\""},
        {"/a b", "a prefix may only contain letters, digits, \"/\" and -._~!$&'()*+,;=:@"},
        {"/a\\\"", "a prefix may only contain letters, digits, \"/\" and -._~!$&'()*+,;=:@"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256];
        char msg[512];
        char at[64];
        char shown[64];
        snprintf(text, sizeof text,
                 "{\"services\": [{\"name\": \"s\", \"prefix\": [\"%s\"], \"targets\": "
                 "[\"http://h\"]}]}",
                 cases[i].prefix);
        snprintf(at, sizeof at, "[\"%s\"]", cases[i].prefix);
        snprintf(shown, sizeof shown, "%s", cases[i].prefix);
        snprintf(msg, sizeof msg, "services[0].prefix[0]: \"%s\": %s", shown, cases[i].message);
        /* Located at the string, one past the '['. */
        const char *p = strstr(text, at);
        assert_non_null(p);
        char expected[700];
        snprintf(expected, sizeof expected, "t.json:1:%d: %s\n", (int)(p - text) + 2, msg);
        expect_errors(text, expected);
    }
    expect_one(SVC("\"prefix\": \"/x\"") + 0, "\"/x", "x");
}
