/*
 * Unit tests for the API versioning keys of the config (src/config/config_version.c): the
 * gateway's "versioning" section and a service's "version", "deprecated_at", "sunset_at",
 * "successor"; and the "openapi" sections (src/config/config_openapi.c). Defaults, values, and
 * every error with its exact position and key path.
 */
#include "config_test.h"
#include "http1/parser.h"
#include "policy/version.h"

#define VER(fields) "{\"versioning\": {" fields "}}"

static void test_versioning_defaults(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(SVC("\"strip_prefix\": false"));
    const struct gw_versioning_conf *v = &cfg->versioning;
    assert_int_equal(v->norder, 4);
    assert_int_equal(v->order[0], GW_VSRC_PATH);
    assert_int_equal(v->order[1], GW_VSRC_HEADER);
    assert_int_equal(v->order[2], GW_VSRC_ACCEPT);
    assert_int_equal(v->order[3], GW_VSRC_QUERY);
    assert_true(v->path);
    assert_int_equal(v->nheaders, 2);
    assert_string_equal(v->headers[0], "Accept-Version");
    assert_string_equal(v->headers[1], "API-Version");
    assert_string_equal(v->query, "version");
    assert_string_equal(v->accept_param, "version");
    assert_string_equal(v->path_prefix, "v");
    assert_true(v->strip_path_version);
    assert_null(v->default_version);
    assert_int_equal(v->unknown_status, 404);
    assert_null(cfg->services[0].version);
    assert_null(cfg->services[0].deprecated_at);
    assert_false(cfg->openapi.enabled);
    gw_config_free(cfg);
}

static void test_versioning_values(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(
        "{\"versioning\": {\"sources\": [\"query\", \"header\"], \"headers\": \"X-V\", "
        "\"query\": \"v\", \"accept_param\": \"api\", \"path_prefix\": \"\", "
        "\"strip_path_version\": false, \"default\": \"2024-01-01\", \"unknown_status\": 400}, "
        "\"services\": [{\"name\": \"s\", \"prefix\": \"/p\", \"targets\": [\"http://h:1\"], "
        "\"version\": \"1.2\", \"deprecated_at\": \"2026-01-31T00:00:00Z\", \"sunset_at\": "
        "\"2027-01-31 00:00:00Z\", \"successor\": \"https://x.example/v2\"}]}");
    const struct gw_versioning_conf *v = &cfg->versioning;
    assert_int_equal(v->norder, 2);
    assert_int_equal(v->order[0], GW_VSRC_QUERY);
    assert_int_equal(v->order[1], GW_VSRC_HEADER);
    assert_false(v->path);
    assert_int_equal(v->nheaders, 1);
    assert_string_equal(v->headers[0], "X-V");
    assert_string_equal(v->query, "v");
    assert_string_equal(v->accept_param, "api");
    assert_string_equal(v->path_prefix, "");
    assert_false(v->strip_path_version);
    assert_string_equal(v->default_version, "2024-01-01");
    assert_int_equal(v->unknown_status, 400);
    const struct gw_service_conf *s = &cfg->services[0];
    assert_string_equal(s->version, "1.2");
    assert_string_equal(s->deprecated_at, "2026-01-31T00:00:00Z");
    assert_string_equal(s->sunset_at, "2027-01-31 00:00:00Z");
    assert_string_equal(s->successor, "https://x.example/v2");
    gw_config_free(cfg);
}

static void test_versioning_errors(void **state)
{
    (void)state;
    expect_one(VER("\"sources\": [\"path\", \"cookie\"]"), "\"cookie\"",
               "versioning.sources[1]: unknown source (expected \"path\", \"header\", "
               "\"accept\" or \"query\")");
    expect_one(VER("\"sources\": []"), "[]", "versioning.sources: must not be empty");
    expect_one(VER("\"headers\": \"Accept Version\""), "\"Accept Version\"",
               "versioning.headers: expected a header field name");
    expect_one(VER("\"query\": \"a=b\""), "\"a=b\"",
               "versioning.query: expected a parameter name (printable, without \"=&;,#?%\")");
    expect_one(VER("\"path_prefix\": \"v/\""), "\"v/\"",
               "versioning.path_prefix: expected letters, digits, \".\", \"_\" or \"-\" (such "
               "as \"v\")");
    expect_one(VER("\"default\": \"\""), "\"\"",
               "versioning.default: \"\" is not a version (1 to 64 letters, digits, \".\", \"_\" "
               "or \"-\")");
    expect_one(VER("\"unknown_status\": 500"), "500",
               "versioning.unknown_status: must be 404 or 400");
    expect_one(SVC("\"version\": \"..\""), "\"..\"",
               "services[0].version: \"..\" is not a version (1 to 64 letters, digits, \".\", "
               "\"_\" or \"-\")");
    expect_one(SVC("\"version\": \"a b\""), "\"a b\"",
               "services[0].version: \"a b\" is not a version (1 to 64 letters, digits, \".\", "
               "\"_\" or \"-\")");
    expect_one(SVC("\"deprecated_at\": \"2026-02-30T00:00:00Z\""), "\"2026-02-30",
               "services[0].deprecated_at: expected an RFC 3339 UTC time such as "
               "\"2027-01-31T00:00:00Z\"");
    expect_one(SVC("\"sunset_at\": 1700000000"), "1700000000",
               "services[0].sunset_at: expected a string, got an integer");
    expect_one(SVC("\"successor\": \"<x>\""), "\"<x>\"",
               "services[0].successor: expected a URI (printable ASCII without spaces, '<', '>' "
               "or '\"')");
}

static void test_versioned_routes(void **state)
{
    (void)state;
    /* the same prefix with different versions is fine; the same version twice is not */
    struct gw_config *cfg = load_ok(
        "{\"services\": [{\"name\": \"a\", \"prefix\": \"/p\", \"targets\": [\"http://h:1\"], "
        "\"version\": \"1\"}, {\"name\": \"b\", \"prefix\": \"/p\", \"targets\": "
        "[\"http://h:1\"], \"version\": \"2\"}]}");
    gw_config_free(cfg);
    const char *dup = "{\"services\": [{\"name\": \"a\", \"prefix\": \"/p\", \"targets\": "
                      "[\"http://h:1\"], \"version\": \"1\"}, {\"name\": \"b\", \"prefix\": "
                      "\"/p\", \"targets\": [\"http://h:1\"], \"version\": \"1\"}]}";
    const char *at = strstr(strstr(dup, "\"b\""), "\"/p\"");
    char want[512];
    snprintf(want, sizeof want,
             "t.json:1:%d: services[1].prefix: \"/p\" (any host, any method, version 1) is "
             "already routed to service \"a\" (services[0])\n",
             (int)(at - dup) + 1);
    expect_errors(dup, want);
    /* an unversioned service beside versioned ones is the prefix's default */
    cfg = load_ok("{\"services\": [{\"name\": \"a\", \"prefix\": \"/p\", \"targets\": "
                  "[\"http://h:1\"], \"version\": \"1\"}, {\"name\": \"b\", \"prefix\": "
                  "\"/p\", \"targets\": [\"http://h:1\"]}, {\"name\": \"c\", \"prefix\": "
                  "\"/p\", \"targets\": [\"http://h:1\"], \"version\": \"2\"}]}");
    gw_config_free(cfg);
    /* two defaults of one versioned prefix (methods overlapping): no version tells them apart */
    const char *mix = "{\"services\": [{\"name\": \"a\", \"prefix\": \"/p\", \"targets\": "
                      "[\"http://h:1\"], \"version\": \"1\"}, {\"name\": \"b\", \"prefix\": "
                      "\"/p\", \"targets\": [\"http://h:1\"], \"methods\": [\"GET\"]}, "
                      "{\"name\": \"c\", \"prefix\": \"/p\", \"targets\": [\"http://h:1\"]}]}";
    at = strstr(strstr(mix, "\"c\""), "\"/p\"");
    snprintf(want, sizeof want,
             "t.json:1:%d: services[2].prefix: \"/p\" (any host, GET) is already the default of "
             "that versioned prefix, routed to service \"b\" (services[1]): services that share a "
             "prefix need distinct versions, and at most one of them (per method) may have none\n",
             (int)(at - mix) + 1);
    expect_errors(mix, want);
    /* defaults with disjoint methods are fine */
    cfg = load_ok("{\"services\": [{\"name\": \"a\", \"prefix\": \"/p\", \"targets\": "
                  "[\"http://h:1\"], \"version\": \"1\"}, {\"name\": \"b\", \"prefix\": "
                  "\"/p\", \"targets\": [\"http://h:1\"], \"methods\": [\"GET\"]}, "
                  "{\"name\": \"c\", \"prefix\": \"/p\", \"targets\": [\"http://h:1\"], "
                  "\"methods\": [\"POST\"]}]}");
    gw_config_free(cfg);
    /* a versioned service's path route "/v2/p" is taken by another service's prefix */
    const char *taken = "{\"services\": [{\"name\": \"a\", \"prefix\": \"/p\", \"targets\": "
                        "[\"http://h:1\"], \"version\": \"2\"}, {\"name\": \"b\", \"prefix\": "
                        "\"/v2/p\", \"targets\": [\"http://h:1\"]}]}";
    at = strstr(taken, "\"/v2/p\"");
    snprintf(want, sizeof want,
             "t.json:1:%d: services[1].prefix: \"/v2/p\" (any host) is already routed to service "
             "\"a\" (services[0]): a versioned service's path route (\"/v<version><prefix>\", "
             "versioning.sources has \"path\") may not be another service's prefix\n",
             (int)(at - taken) + 1);
    expect_errors(taken, want);
    /* without the path source there is no such route */
    cfg = load_ok("{\"versioning\": {\"sources\": \"header\"}, \"services\": [{\"name\": "
                  "\"a\", \"prefix\": \"/p\", \"targets\": [\"http://h:1\"], \"version\": "
                  "\"2\"}, {\"name\": \"b\", \"prefix\": \"/v2/p\", \"targets\": "
                  "[\"http://h:1\"]}]}");
    gw_config_free(cfg);
}

/* The path routes of version rules ("/v2/p/export") are routes too: their clashes are refused
 * with the rule's key path; within one service an earlier rule takes precedence silently. */
static void test_version_rule_paths(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(
        SVC("\"methods\": [\"GET\", \"POST\"], \"versions\": [{\"match\": {\"prefix\": "
            "[\"/p/export\", \"/elsewhere\"], \"methods\": [\"GET\", \"PUT\"]}, \"version\": "
            "[\"2\", \"3\"]}, {\"match\": {\"prefix\": \"/p/export\"}, \"version\": \"2\"}, "
            "{\"match\": {}, \"version\": \"4\"}]"));
    struct gw_version_path *vp = NULL;
    size_t n = 0;
    assert_int_equal(gw_version_paths(cfg, &cfg->services[0], &vp, &n), 0);
    /* "/elsewhere" is none of the service's paths; PUT is not the service's; the second rule
     * only adds POST to "/v2/p/export"; the third covers the service's prefix */
    assert_int_equal(n, 4);
    const uint32_t get = (1u << GW_METHOD_GET) | (1u << GW_METHOD_HEAD);
    assert_string_equal(vp[0].path, "/v2/p/export");
    assert_int_equal(vp[0].methods, get);
    assert_int_equal(vp[0].seg_len, 3);
    assert_int_equal(vp[0].svc_prefix_len, 2);
    assert_int_equal(vp[0].prefix_index, 0);
    assert_string_equal(vp[1].path, "/v3/p/export");
    assert_string_equal(vp[2].path, "/v2/p/export");
    assert_int_equal(vp[2].methods, 1u << GW_METHOD_POST);
    assert_int_equal(vp[2].rule, 1);
    assert_string_equal(vp[3].path, "/v4/p");
    assert_int_equal(vp[3].prefix_index, SIZE_MAX);
    gw_version_paths_free(vp, n);
    gw_config_free(cfg);
    /* without the path source, no path routes */
    cfg = load_ok("{\"versioning\": {\"sources\": [\"header\"]}, \"services\": [{\"name\": "
                  "\"s\", \"prefix\": \"/p\", \"targets\": [\"http://h:1\"], \"versions\": "
                  "[{\"match\": {\"prefix\": \"/p/x\"}, \"version\": \"2\"}]}]}");
    assert_int_equal(gw_version_paths(cfg, &cfg->services[0], &vp, &n), 0);
    assert_int_equal(n, 0);
    assert_null(vp);
    gw_config_free(cfg);
    /* a rule's path route taken by another service's prefix */
    const char *taken =
        "{\"services\": [{\"name\": \"a\", \"prefix\": \"/p\", \"targets\": [\"http://h:1\"], "
        "\"versions\": [{\"match\": {\"prefix\": [\"/p/y\", \"/p/x\"]}, \"version\": \"2\"}]}, "
        "{\"name\": \"b\", \"prefix\": \"/v2/p/x\", \"targets\": [\"http://h:1\"]}]}";
    const char *at = strstr(taken, "\"/p/x\"");
    char want[640];
    snprintf(want, sizeof want,
             "t.json:1:%d: services[0].versions[0].match.prefix[1]: \"/v2/p/x\" (any host, any "
             "method) is already routed to service \"b\" (services[1]): the path route of a "
             "version rule (\"/v<version><rule prefix>\", versioning.sources has \"path\") may "
             "not be another service's prefix or path route\n",
             (int)(at - taken) + 1);
    expect_errors(taken, want);
    /* a rule without a prefix of its own: reported at the rule */
    const char *whole =
        "{\"services\": [{\"name\": \"a\", \"prefix\": \"/p\", \"targets\": [\"http://h:1\"], "
        "\"version\": \"2\"}, {\"name\": \"b\", \"prefix\": \"/q\", \"targets\": "
        "[\"http://h:1\"], \"versions\": [{\"match\": {}, \"version\": \"2\"}]}, "
        "{\"name\": \"c\", \"prefix\": \"/v2/q\", \"targets\": [\"http://h:1\"], "
        "\"version\": \"1\"}]}";
    at = strstr(whole, "{\"match\"");
    snprintf(want, sizeof want,
             "t.json:1:%d: services[1].versions[0]: \"/v2/q\" (any host, any method) is already "
             "routed to service \"c\" (services[2]): the path route of a version rule "
             "(\"/v<version><rule prefix>\", versioning.sources has \"path\") may not be another "
             "service's prefix or path route\n",
             (int)(at - whole) + 1);
    expect_errors(whole, want);
}

static void test_version_rules(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(SVC(
        "\"versions\": [{\"match\": {\"prefix\": \"/p/export\", \"methods\": \"GET\"}, "
        "\"version\": \"2\"}, {\"match\": {\"prefix\": \"/p/old\"}, \"version\": [\"1\", "
        "\"1.1\"], \"deprecated_at\": \"2026-01-31T00:00:00Z\", \"successor\": \"/p/export\"}]"));
    const struct gw_service_conf *sc = &cfg->services[0];
    assert_int_equal(sc->nversion_rules, 2);
    assert_string_equal(sc->version_rules[0].match.prefixes[0], "/p/export");
    assert_int_equal(sc->version_rules[0].nversions, 1);
    assert_string_equal(sc->version_rules[0].versions[0], "2");
    assert_null(sc->version_rules[0].deprecated_at);
    assert_int_equal(sc->version_rules[1].nversions, 2);
    assert_string_equal(sc->version_rules[1].versions[1], "1.1");
    assert_string_equal(sc->version_rules[1].successor, "/p/export");
    gw_config_free(cfg);
    const char *bad =
        SVC("\"versions\": [{\"match\": {\"prefix\": \"/p\"}, \"version\": \"a b\"}]");
    expect_one(bad, "\"a b\"",
               "services[0].versions[0].version: \"a b\" is not a version (1 to 64 letters, "
               "digits, \".\", \"_\" or \"-\")");
}

static void test_openapi(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(
        "{\"openapi\": true, \"services\": [{\"name\": \"s\", \"prefix\": \"/p\", \"targets\": "
        "[\"http://h:1\"], \"openapi\": {\"path\": \"/openapi.json\"}}]}");
    assert_true(cfg->openapi.enabled);
    assert_string_equal(cfg->openapi.path, "/docs");
    assert_string_equal(cfg->openapi.title, "gantry");
    assert_int_equal(cfg->openapi.refresh_ms, 300000);
    assert_int_equal(cfg->openapi.timeout_ms, 5000);
    assert_int_equal(cfg->openapi.max_bytes, 4u << 20);
    assert_string_equal(cfg->services[0].openapi.path, "/openapi.json");
    assert_null(cfg->services[0].openapi.url);
    gw_config_free(cfg);
    cfg = load_ok(
        "{\"openapi\": {\"path\": \"/api/v1/docs\", \"refresh\": \"30s\"}, "
        "\"services\": [{\"name\": \"s\", \"prefix\": \"/p\", \"targets\": "
        "[\"http://h:1\"], \"openapi\": {\"url\": \"http://docs:8080/a/openapi.json?x=1\"}}]}");
    assert_string_equal(cfg->services[0].openapi.url, "http://docs:8080/a/openapi.json?x=1");
    assert_string_equal(cfg->openapi.path, "/api/v1/docs");
    assert_int_equal(cfg->openapi.refresh_ms, 30000);
    gw_config_free(cfg);
    expect_one(SVC("\"openapi\": {\"url\": \"http://h/x\", \"file\": \"a.json\"}"), "\"a.json\"",
               "services[0].openapi.file: \"url\" is named too: name exactly one of \"url\", "
               "\"path\" or \"file\"");
    expect_one(SVC("\"openapi\": {\"url\": \"redis://h\"}"), "\"redis://h\"",
               "services[0].openapi.url: \"redis://h\": not an http:// URL");
    expect_one(SVC("\"openapi\": {}"), "{}",
               "services[0].openapi: name exactly one of \"url\", \"path\" or \"file\"");
    expect_one("{\"openapi\": {\"refresh\": \"10ms\"}}", "\"10ms\"",
               "openapi.refresh: must be at least 1s");
    /* https:// sources (verified; CAs from openapi.ca_file besides the system's) */
    cfg = load_ok("{\"openapi\": true, \"services\": [{\"name\": \"s\", \"prefix\": \"/p\", "
                  "\"targets\": [\"http://h:1\"], \"openapi\": {\"url\": "
                  "\"https://docs.internal/openapi.json\"}}]}");
    assert_string_equal(cfg->services[0].openapi.url, "https://docs.internal/openapi.json");
    assert_null(cfg->openapi.ca_file);
    gw_config_free(cfg);
    expect_one("{\"openapi\": {\"ca_file\": \"/nonexistent/ca.pem\"}}", "\"/nonexistent/ca.pem\"",
               "openapi.ca_file: /nonexistent/ca.pem: cannot open: No such file or directory");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_versioning_defaults),
        cmocka_unit_test(test_versioning_values),
        cmocka_unit_test(test_versioning_errors),
        cmocka_unit_test(test_versioned_routes),
        cmocka_unit_test(test_version_rules),
        cmocka_unit_test(test_version_rule_paths),
        cmocka_unit_test(test_openapi),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
