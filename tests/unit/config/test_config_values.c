/* Unit tests for src/control/config*.c: value syntaxes (durations, sizes, integers, enums) and
 * per-field checks (listen address, target URLs, prefixes, hosts, methods, names, routes). */
#include "config_test.h"

/* ---- value syntaxes -------------------------------------------------------------------------- */

static void test_duration_syntax(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        uint64_t ms;
    } ok[] = {
        {"250ms", 250},
        {"10s", 10000},
        {"1.5s", 1500},
        {"5m", 300000},
        {"1h", 3600000},
        {"0.001s", 1},
        {"2.25m", 135000},
        {"1H", 3600000},
        {"10S", 10000},
        {"0ms", 0},
        {"1.000000000000s", 1000},
        {"720h", 2592000000ull},
        /* a bare number is seconds, as a JSON number is */
        {"10", 10000},
        {"1.5", 1500},
        {"0.25", 250},
        {"60", 60000},
        {"0", 0},
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
        {"1.", "not a duration"},
        {"-10", "not a duration"},
        {"1.0005", "duration more precise than a millisecond"},
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
    expect_one("{\"timeouts\": {\"client_idle\": \"0.0001\"}}", "\"0.0001",
               "timeouts.client_idle: \"0.0001\": duration more precise than a millisecond");
    expect_one("{\"timeouts\": {\"client_idle\": \"0\"}}", "\"0",
               "timeouts.client_idle: must be between 1ms and 720h");
    expect_one("{\"timeouts\": {\"client_idle\": \"3 days\"}}", "\"3",
               "timeouts.client_idle: \"3 days\": unknown duration unit (expected ms, s, m or h)");
}

/* Numbers may come from strings (docs/config.md, "Environment variables"): a duration written
 * "${W:-60}" is 60 seconds, exactly as the JSON number 60 would be. */
static void test_duration_from_environment(void **state)
{
    (void)state;
    unsetenv("GW_TEST_W");
    struct gw_config *cfg = load_ok("{\"timeouts\": {\"client_idle\": \"${GW_TEST_W:-60}\", "
                                    "\"client_body\": \"10\", \"client_header\": \"1.5\"}}");
    assert_int_equal(cfg->timeouts.client_idle_ms, 60000);
    assert_int_equal(cfg->timeouts.client_body_ms, 10000);
    assert_int_equal(cfg->timeouts.client_header_ms, 1500);
    gw_config_free(cfg);
    setenv("GW_TEST_W", "0.25", 1);
    cfg = load_ok("{\"timeouts\": {\"client_idle\": \"${GW_TEST_W:-60}\"}}");
    assert_int_equal(cfg->timeouts.client_idle_ms, 250);
    gw_config_free(cfg);
    setenv("GW_TEST_W", "2m", 1);
    cfg = load_ok("{\"timeouts\": {\"client_idle\": \"${GW_TEST_W:-60}\"}}");
    assert_int_equal(cfg->timeouts.client_idle_ms, 120000);
    gw_config_free(cfg);
    unsetenv("GW_TEST_W");
}

/* "probes": where the proxy port answers its own probes; "off" or false frees a path. */
static void test_probes(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok("{}");
    assert_string_equal(cfg->probes.health.path, "/health");
    assert_int_equal(cfg->probes.health.len, 7);
    assert_string_equal(cfg->probes.ready.path, "/ready");
    assert_string_equal(cfg->probes.startup.path, "/health/startup");
    assert_int_equal(cfg->probes.startup.len, 15);
    gw_config_free(cfg);

    setenv("GW_TEST_PROBE", "off", 1);
    cfg = load_ok("{\"probes\": {\"health\": \"/_gw/live\", \"ready\": false, "
                  "\"startup\": \"${GW_TEST_PROBE:-/s}\"}}");
    assert_string_equal(cfg->probes.health.path, "/_gw/live");
    assert_int_equal(cfg->probes.health.len, 9);
    assert_null(cfg->probes.ready.path);
    assert_int_equal(cfg->probes.ready.len, 0);
    assert_null(cfg->probes.startup.path);
    assert_int_equal(cfg->probes.startup.len, 0);
    gw_config_free(cfg);
    unsetenv("GW_TEST_PROBE");
    cfg = load_ok("{\"probes\": {\"health\": \"off\", \"ready\": \"off\", \"startup\": \"off\"}}");
    assert_int_equal(cfg->probes.health.len + cfg->probes.ready.len + cfg->probes.startup.len, 0);
    gw_config_free(cfg);

    expect_one("{\"probes\": {\"health\": \"health\"}}", "\"health\"}",
               "probes.health: \"health\": a probe path must start with \"/\" and not end with "
               "one");
    expect_one("{\"probes\": {\"ready\": \"/r/\"}}", "\"/r/\"",
               "probes.ready: \"/r/\": a probe path must start with \"/\" and not end with one");
    expect_one("{\"probes\": {\"ready\": \"/a//b\"}}", "\"/a//b\"",
               "probes.ready: \"/a//b\": a prefix must not contain \"//\"");
    expect_one("{\"probes\": {\"ready\": true}}", "true",
               "probes.ready: expected a path (\"/health\"), or \"off\" or false, got a boolean");
    expect_one("{\"probes\": {\"ready\": \"/health\"}}", "\"/health\"",
               "probes.ready: \"/health\" is also probes.health");
    expect_one("{\"probes\": {\"health\": \"off\", \"ready\": \"/x\", \"startup\": \"/x\"}}",
               "\"/x\"}", "probes.startup: \"/x\" is also probes.ready");
    expect_one("{\"probes\": {\"helth\": \"/h\"}}", "\"helth\"",
               "probes.helth: unknown key \"helth\" (did you mean \"health\"?)");
}

static void test_size_syntax(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        uint64_t bytes;
    } ok[] = {
        {"512", 512},
        {"0", 0},
        {"7b", 7},
        {"7B", 7},
        {"64k", 65536},
        {"64KB", 65536},
        {"64KiB", 65536},
        {"64kib", 65536},
        {"10m", 10485760},
        {"10MB", 10485760},
        {"10MiB", 10485760},
        {"1g", 1073741824},
        {"1GB", 1073741824},
        {"1GiB", 1073741824},
        {"2t", 2199023255552},
        {"18446744073709551615", UINT64_MAX},
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

/* ---- addresses, URLs, routes -------------------------------------------------------------------
 */

static void test_listen_errors(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        const char *message;
    } cases[] = {
        {"\"localhost:8000\"", "\"localhost:8000\": the listen host must be an IP address "
                               "(\"0.0.0.0:8000\", \"[::]:8000\")"},
        {"\"1.2.3.4\"",
         "\"1.2.3.4\": missing port (expected \"host:port\", e.g. \"0.0.0.0:8000\")"},
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
        {"ftp://h", "not a URL (expected http://host:port or https://host:port)"},
        {"h:80", "not a URL (expected http://host:port or https://host:port)"},
        {"https://", "missing host (expected https://host:port)"},
        {"https://h/x", "a path is not allowed in a target URL (the request's path is "
                        "forwarded; see strip_prefix)"},
        {"http://", "missing host (expected http://host:port)"},
        {"http://:80", "missing host (expected http://host:port)"},
        {"http://h:80/api", "a path is not allowed in a target URL (the request's path is "
                            "forwarded; see strip_prefix)"},
        {"http://h?x=1", "a query is not allowed in a target URL"},
        {"http://h#f", "a fragment is not allowed in a target URL"},
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
    /* The user and password never show in a message. */
    expect_one("{\"services\": [{\"name\": \"s\", \"prefix\": \"/\", \"targets\": "
               "[\"http://u:hunter2@h\"]}]}",
               "\"http://u:hunter2@h\"",
               "services[0].targets[0].url: \"http://***@h\": user information (\"user@\") is not "
               "allowed in a target URL");
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
}

static void test_host_pattern_errors(void **state)
{
    (void)state;
    expect_one(SVC("\"hosts\": [\"*\"]"), "\"*\"",
               "services[0].hosts[0]: \"*\": \"*\" would match every host: leave \"hosts\" out "
               "instead");
    expect_one(SVC("\"hosts\": [\"a.*.com\"]"), "\"a.*",
               "services[0].hosts[0]: \"a.*.com\": a wildcard is only allowed as the whole first "
               "label, as in \"*.example.com\"");
    expect_one(SVC("\"hosts\": [\"*.a.*\"]"), "\"*.a",
               "services[0].hosts[0]: \"*.a.*\": a wildcard is only allowed as the first label");
    expect_one(SVC("\"hosts\": \"a.com:80\""), "\"a.com",
               "services[0].hosts: \"a.com:80\": a host pattern must not contain a port");
    expect_one(SVC("\"hosts\": [\"a.com\", \"A.COM\"]"), "\"A.COM",
               "services[0].hosts[1]: \"a.com\" is listed twice");
    expect_one(SVC("\"hosts\": [\"bad!\"]"), "\"bad!",
               "services[0].hosts[0]: \"bad!\": invalid character in host name (letters, digits, "
               "\"-\", \"_\" and \".\")");
}

static void test_method_errors(void **state)
{
    (void)state;
    expect_one(SVC("\"methods\": []"), "[]",
               "services[0].methods: must not be empty (leave \"methods\" out to allow every "
               "method)");
    expect_one(SVC("\"methods\": \"connect\""), "\"connect",
               "services[0].methods: CONNECT is not supported (expected GET, HEAD, POST, PUT, "
               "DELETE, OPTIONS, PATCH or TRACE)");
    expect_one(SVC("\"methods\": [\"GET\", \"FETCH\"]"), "\"FETCH",
               "services[0].methods[1]: unknown method \"FETCH\" (expected GET, HEAD, POST, PUT, "
               "DELETE, OPTIONS, PATCH or TRACE)");
    expect_one(SVC("\"methods\": [\"GET\", \"get\"]"), "\"get",
               "services[0].methods[1]: \"get\" is listed twice");
    expect_one(SVC("\"methods\": 5"), "5}",
               "services[0].methods: expected a string or an array of strings, got an integer");
    struct gw_config *cfg =
        load_ok(SVC("\"methods\": [\"HEAD\", \"put\", \"Delete\", \"OPTIONS\", \"PATCH\", "
                    "\"TRACE\"]"));
    assert_int_equal(cfg->services[0].methods,
                     (1u << GW_METHOD_HEAD) | (1u << GW_METHOD_PUT) | (1u << GW_METHOD_DELETE) |
                         (1u << GW_METHOD_OPTIONS) | (1u << GW_METHOD_PATCH) |
                         (1u << GW_METHOD_TRACE));
    gw_config_free(cfg);
}

static void test_host_header_errors(void **state)
{
    (void)state;
    expect_one(SVC("\"host_header\": \"\""), "\"\"",
               "services[0].host_header: \"\": missing host (expected \"client\", \"target\" or a "
               "fixed host such as \"api.example.com\")");
    expect_one(SVC("\"host_header\": \"a b\""), "\"a b",
               "services[0].host_header: \"a b\": invalid character in host name (letters, "
               "digits, \"-\", \"_\" and \".\") (expected \"client\", \"target\" or a fixed host "
               "such as \"api.example.com\")");
}

static void test_service_names(void **state)
{
    (void)state;
    expect_one(
        "{\"services\": [{\"name\": \"a/b\", \"prefix\": \"/\", \"targets\": [\"http://h\"]}]}",
        "\"a/b",
        "services[0].name: \"a/b\" is not a valid name (1 to 64 letters, digits, "
        "\"_\", \".\" or \"-\")");
    expect_one("{\"services\": [{\"name\": \"\", \"prefix\": \"/\", \"targets\": [\"http://h\"]}]}",
               "\"\"",
               "services[0].name: \"\" is not a valid name (1 to 64 letters, digits, "
               "\"_\", \".\" or \"-\")");
    expect_errors(
        "{\"services\": [\n"
        "  {\"name\": \"a\", \"prefix\": \"/1\", \"targets\": [\"http://h\"]},\n"
        "  {\"name\": \"b\", \"prefix\": \"/2\", \"targets\": [\"http://h\"]},\n"
        "  {\"name\": \"a\", \"prefix\": \"/3\", \"targets\": [\"http://h\"]},\n"
        "  {\"name\": \"a\", \"prefix\": \"/4\", \"targets\": [\"http://h\"]}\n"
        "]}",
        "t.json:4:12: services[2].name: duplicate service name \"a\" (also services[0])\n"
        "t.json:5:12: services[3].name: duplicate service name \"a\" (also services[0])\n");
}

static void test_route_conflicts(void **state)
{
    (void)state;
    expect_errors(
        "{\"services\": [\n"
        "  {\"name\": \"a\", \"prefix\": \"/api\", \"targets\": [\"http://h\"]},\n"
        "  {\"name\": \"b\", \"prefix\": [\"/x\", \"/api/\"], \"targets\": [\"http://h\"]}\n"
        "]}",
        "t.json:3:34: services[1].prefix[1]: \"/api\" (any host, any method) is already "
        "routed to service \"a\" (services[0])\n");
    expect_errors("{\"services\": [\n"
                  "  {\"name\": \"a\", \"prefix\": \"/\", \"methods\": [\"GET\", \"POST\"],"
                  " \"targets\": [\"http://h\"]},\n"
                  "  {\"name\": \"b\", \"prefix\": \"/\", \"methods\": [\"PUT\"],"
                  " \"targets\": [\"http://h\"]},\n"
                  "  {\"name\": \"c\", \"prefix\": \"/\", \"methods\": [\"POST\", \"PUT\"],"
                  " \"targets\": [\"http://h\"]}\n"
                  "]}",
                  "t.json:4:27: services[2].prefix: \"/\" (any host, POST) is already routed to "
                  "service \"a\" (services[0])\n");
    expect_errors("{\"services\": [\n"
                  "  {\"name\": \"a\", \"prefix\": \"/\", \"hosts\": \"x.com\","
                  " \"targets\": [\"http://h\"]},\n"
                  "  {\"name\": \"b\", \"prefix\": \"/\", \"hosts\": [\"y.com\", \"X.com\"],"
                  " \"methods\": \"GET\", \"targets\": [\"http://h\"]}\n"
                  "]}",
                  "t.json:3:27: services[1].prefix: \"/\" (host \"x.com\", GET) is already routed "
                  "to service \"a\" (services[0])\n");
    /* GET brings HEAD with it, as in the router. */
    expect_errors(
        "{\"services\": [\n"
        "  {\"name\": \"a\", \"prefix\": \"/\", \"methods\": \"GET\", \"targets\": "
        "[\"http://h\"]},\n"
        "  {\"name\": \"b\", \"prefix\": \"/\", \"methods\": [\"HEAD\", \"PUT\"], \"targets\": "
        "[\"http://h\"]}\n"
        "]}",
        "t.json:3:27: services[1].prefix: \"/\" (any host, HEAD) is already routed to "
        "service \"a\" (services[0]) (a service that allows GET allows HEAD too)\n");
    /* The first service has no name (reported), its route still counts. */
    expect_errors(
        "{\"services\": [{\"prefix\": \"/\", \"targets\": [\"http://h\"]}, {\"name\": \"b\", "
        "\"prefix\": \"/\", \"targets\": [\"http://h\"]}]}",
        "t.json:1:15: services[0].name: required key \"name\" is missing\n"
        "t.json:1:81: services[1].prefix: \"/\" (any host, any method) is already routed "
        "to services[0]\n");
}

static void test_routes_that_do_not_conflict(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(
        "{\"services\": ["
        "{\"name\": \"a\", \"prefix\": \"/\", \"methods\": \"GET\", \"targets\": [\"http://h\"]},"
        "{\"name\": \"b\", \"prefix\": \"/\", \"methods\": \"POST\", \"targets\": [\"http://h\"]},"
        "{\"name\": \"c\", \"prefix\": \"/\", \"hosts\": \"a.com\", \"targets\": [\"http://h\"]},"
        "{\"name\": \"d\", \"prefix\": \"/\", \"hosts\": \"*.a.com\", \"targets\": [\"http://h\"]},"
        "{\"name\": \"e\", \"prefix\": \"/a\", \"targets\": [\"http://h\"]},"
        "{\"name\": \"f\", \"prefix\": \"/a/b\", \"targets\": [\"http://h\"]}]}");
    assert_int_equal(cfg->nservices, 6);
    gw_config_free(cfg);
    /* A service whose prefixes have errors is left out of the conflict check. */
    expect_one("{\"services\": ["
               "{\"name\": \"a\", \"prefix\": [\"/a\", \"b\"], \"targets\": [\"http://h\"]},"
               "{\"name\": \"b\", \"prefix\": \"/a\", \"targets\": [\"http://h\"]}]}",
               "\"b\"]", "services[0].prefix[1]: \"b\": a prefix must start with \"/\"");
}

int main(void)
{
    /* An override from the caller's shell would skew the expected errors. */
    unsetenv("GATEWAY_PORT");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_syntax),
        cmocka_unit_test(test_duration_syntax_errors),
        cmocka_unit_test(test_durations_in_config),
        cmocka_unit_test(test_duration_from_environment),
        cmocka_unit_test(test_probes),
        cmocka_unit_test(test_size_syntax),
        cmocka_unit_test(test_size_syntax_errors),
        cmocka_unit_test(test_sizes_in_config),
        cmocka_unit_test(test_integer_ranges),
        cmocka_unit_test(test_booleans_and_enums),
        cmocka_unit_test(test_log_destinations),
        cmocka_unit_test(test_listen_errors),
        cmocka_unit_test(test_url_errors),
        cmocka_unit_test(test_prefix_errors),
        cmocka_unit_test(test_host_pattern_errors),
        cmocka_unit_test(test_method_errors),
        cmocka_unit_test(test_host_header_errors),
        cmocka_unit_test(test_service_names),
        cmocka_unit_test(test_route_conflicts),
        cmocka_unit_test(test_routes_that_do_not_conflict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
