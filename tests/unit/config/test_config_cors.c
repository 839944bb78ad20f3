/*
 * Unit tests for the browser policies' config sections (src/config/config_cors.c): "cors" and
 * "csrf" at the gateway, in a service and in a service's rules; defaults, inheritance (what a
 * level writes replaces, the rest comes from above), and every error with its position and key
 * path, including the combinations browsers refuse, reported where they are made.
 */
#include "config_test.h"

#include "policy/cors.h"

#define WITH_SVC(root, fields)                                                                     \
    "{" root ", \"services\": [{\"name\": \"s\", \"prefix\": \"/p\", \"targets\": "                \
    "[\"http://h:1\"], " fields "}]}"
#define TWO_SVC(root, a, b)                                                                        \
    "{" root ", \"services\": [{\"name\": \"a\", \"prefix\": \"/a\", \"targets\": "                \
    "[\"http://h:1\"]" a "}, {\"name\": \"b\", \"prefix\": \"/b\", \"targets\": "                  \
    "[\"http://h:1\"]" b "}]}"

#define ALL_METHODS                                                                                \
    ((1u << GW_METHOD_GET) | (1u << GW_METHOD_HEAD) | (1u << GW_METHOD_POST) |                     \
     (1u << GW_METHOD_PUT) | (1u << GW_METHOD_PATCH) | (1u << GW_METHOD_DELETE))

#define STAR_CRED                                                                                  \
    "origins \"*\" with credentials true: browsers refuse credentialed answers for any origin; "   \
    "list the origins (wildcards such as \"https://*.example.com\" are allowed) or turn "          \
    "credentials off"

static void test_off_unless_configured(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(SVC("\"strip_prefix\": false"));
    assert_false(cfg->cors.enabled);
    assert_false(cfg->csrf.enabled);
    assert_false(cfg->services[0].cors.enabled);
    assert_false(cfg->services[0].cors.written);
    assert_false(cfg->services[0].csrf.enabled);
    /* the defaults are there all the same */
    assert_int_equal(cfg->cors.c.methods, ALL_METHODS);
    assert_int_equal(cfg->cors.c.nheaders, 1);
    assert_string_equal(cfg->cors.c.headers[0], "*");
    assert_int_equal(cfg->cors.c.denied_status, 403);
    assert_false(cfg->cors.c.credentials);
    assert_int_equal(cfg->csrf.c.no_origin, GW_CSRF_NO_ORIGIN_ALLOW);
    gw_config_free(cfg);
}

static void test_gateway_section(void **state)
{
    (void)state;
    struct gw_config *cfg =
        load_ok("{\"cors\": {\"origins\": [\"HTTPS://App.Example.com\", \"https://*.example.org\", "
                "\"null\"], \"methods\": [\"get\", \"PUT\"], \"headers\": [\"Content-Type\", "
                "\"X-Custom\"], \"expose_headers\": [\"X-Request-ID\"], \"credentials\": true, "
                "\"max_age\": \"10m\", \"denied_status\": 204}, \"csrf\": {\"origins\": "
                "\"https://partner.example\", \"no_origin\": \"refuse\"}}");
    assert_true(cfg->cors.enabled);
    const struct gw_cors_conf *c = &cfg->cors.c;
    assert_int_equal(c->norigins, 3);
    assert_string_equal(c->origins[0], "https://app.example.com"); /* lowercased */
    assert_int_equal(c->methods, (1u << GW_METHOD_GET) | (1u << GW_METHOD_PUT));
    assert_int_equal(c->nheaders, 2);
    assert_string_equal(c->headers[0], "Content-Type");        /* sent as written */
    assert_string_equal(c->expose_headers[0], "X-Request-ID"); /* sent as written */
    assert_true(c->credentials);
    assert_int_equal(c->max_age_ms, 600000);
    assert_int_equal(c->denied_status, 204);
    assert_int_equal(c->set, GW_CORS_SET_ORIGINS | GW_CORS_SET_METHODS | GW_CORS_SET_HEADERS |
                                 GW_CORS_SET_EXPOSE | GW_CORS_SET_CREDENTIALS |
                                 GW_CORS_SET_MAX_AGE | GW_CORS_SET_DENIED_STATUS);
    assert_true(cfg->csrf.enabled);
    assert_int_equal(cfg->csrf.c.norigins, 1);
    assert_int_equal(cfg->csrf.c.no_origin, GW_CSRF_NO_ORIGIN_REFUSE);
    gw_config_free(cfg);

    cfg = load_ok("{\"cors\": true, \"csrf\": true}");
    assert_true(cfg->cors.enabled);
    assert_int_equal(cfg->cors.c.set, 0); /* max_age not set: no header */
    assert_int_equal(cfg->cors.c.norigins, 0);
    assert_true(cfg->csrf.enabled);
    gw_config_free(cfg);

    cfg = load_ok("{\"cors\": {\"methods\": \"*\", \"origins\": \"*\"}}");
    assert_int_equal(cfg->cors.c.methods, GW_CORS_ANY_METHOD);
    gw_config_free(cfg);
    cfg = load_ok("{\"cors\": {\"methods\": [\"*\"]}}");
    assert_int_equal(cfg->cors.c.methods, GW_CORS_ANY_METHOD);
    gw_config_free(cfg);
}

/* A service inherits the gateway's section, turns it off, or replaces the keys it writes. */
static void test_service_inherits(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(
        "{\"cors\": {\"origins\": [\"https://a.example\"], \"credentials\": true, \"max_age\": 60},"
        " \"csrf\": true, \"services\": ["
        "{\"name\": \"inherits\", \"prefix\": \"/i\", \"targets\": [\"http://h:1\"]},"
        "{\"name\": \"off\", \"prefix\": \"/o\", \"targets\": [\"http://h:1\"], \"cors\": false,"
        " \"csrf\": false},"
        "{\"name\": \"on\", \"prefix\": \"/t\", \"targets\": [\"http://h:1\"], \"cors\": true},"
        "{\"name\": \"own\", \"prefix\": \"/w\", \"targets\": [\"http://h:1\"], \"cors\": "
        "{\"origins\": [\"https://b.example\"], \"rules\": [{\"match\": {\"prefix\": \"/w/pub\"},"
        " \"origins\": \"*\", \"credentials\": false}, {\"match\": {\"prefix\": \"/w/x\", "
        "\"methods\": \"POST\"}, \"enabled\": false}]}, \"csrf\": {\"no_origin\": \"refuse\"}}]}");
    const struct gw_service_conf *s = cfg->services;
    assert_true(s[0].cors.enabled);
    assert_false(s[0].cors.written);
    assert_true(s[0].csrf.enabled);
    assert_false(s[1].cors.enabled);
    assert_true(s[1].cors.written);
    assert_false(s[1].csrf.enabled);
    assert_true(s[2].cors.enabled);
    assert_true(s[2].cors.written);
    assert_int_equal(s[2].cors.cors.set, 0);
    assert_true(s[3].cors.enabled);
    assert_int_equal(s[3].cors.cors.set, GW_CORS_SET_ORIGINS);
    assert_int_equal(s[3].cors.nrules, 2);
    assert_true(s[3].cors.rules[0].enabled);
    assert_int_equal(s[3].cors.rules[0].cors.set, GW_CORS_SET_ORIGINS | GW_CORS_SET_CREDENTIALS);
    assert_false(s[3].cors.rules[1].enabled);
    assert_int_equal(s[3].cors.rules[1].match.methods, 1u << GW_METHOD_POST);
    assert_int_equal(s[3].csrf.csrf.set, GW_CSRF_SET_NO_ORIGIN);

    /* what the policy compiles: the levels merged */
    struct gw_cors_conf eff = cfg->cors.c;
    gw_cors_conf_overlay(&eff, &s[3].cors.cors);
    assert_string_equal(eff.origins[0], "https://b.example");
    assert_true(eff.credentials);
    assert_int_equal(eff.max_age_ms, 60000);
    assert_true(eff.set & GW_CORS_SET_MAX_AGE);
    gw_cors_conf_overlay(&eff, &s[3].cors.rules[0].cors);
    assert_string_equal(eff.origins[0], "*");
    assert_false(eff.credentials);
    struct gw_csrf_conf xeff = cfg->csrf.c;
    gw_csrf_conf_overlay(&xeff, &s[3].csrf.csrf);
    assert_int_equal(xeff.no_origin, GW_CSRF_NO_ORIGIN_REFUSE);
    gw_config_free(cfg);

    /* a service may turn on what the gateway does not have */
    cfg = load_ok(SVC("\"cors\": {\"origins\": \"https://a.example\"}, \"csrf\": true"));
    assert_false(cfg->cors.enabled);
    assert_true(cfg->services[0].cors.enabled);
    assert_true(cfg->services[0].csrf.enabled);
    gw_config_free(cfg);
}

static void test_value_errors(void **state)
{
    (void)state;
    expect_one("{\"cors\": {\"origins\": [\"https://a.example.com/\"]}}", "\"https://a.",
               "cors.origins[0]: \"https://a.example.com/\" has a path: an origin is "
               "scheme://host[:port], with no \"/\" after it");
    expect_one("{\"cors\": {\"origins\": \"a.example.com\"}}", "\"a.example",
               "cors.origins: \"a.example.com\" is not an origin: write scheme://host[:port], as "
               "\"https://app.example.com\" or \"https://*.example.com\" (or \"*\", or \"null\")");
    expect_one(SVC("\"cors\": {\"origins\": [\"https://*.com\"]}"), "\"https://*.com",
               "services[0].cors.origins[0]: \"https://*.com\" would match every site under a "
               "top-level domain: a wildcard needs a domain of two labels or more after it "
               "(\"https://*.example.com\")");
    expect_one("{\"cors\": {\"origins\": [\"*\", \"https://a.example\"]}}", "[\"*\"",
               "cors.origins: \"*\" allows every origin: list nothing else with it");
    expect_one("{\"cors\": {\"headers\": [\"X-A\", \"*\"]}}", "[\"X-A\"",
               "cors.headers: \"*\" allows every header: list nothing else with it");
    expect_one("{\"cors\": {\"headers\": [\"X A\"]}}", "\"X A\"",
               "cors.headers[0]: \"X A\" is not a header name (letters, digits and "
               "!#$%&'*+-.^_`|~), nor \"*\"");
    expect_one("{\"cors\": {\"headers\": [\"x-a\", \"X-A\"]}}", "\"X-A\"",
               "cors.headers[1]: \"X-A\" is listed twice (header names ignore case)");
    expect_one("{\"cors\": {\"methods\": [\"GET\", \"FETCH\"]}}", "\"FETCH\"",
               "cors.methods[1]: unknown method \"FETCH\" (expected GET, HEAD, POST, PUT, "
               "DELETE, OPTIONS, PATCH or TRACE)");
    expect_one("{\"cors\": {\"denied_status\": 199}}", "199",
               "cors.denied_status: must be between 200 and 599");
    expect_one("{\"cors\": {\"max_age\": \"2d\"}}", "\"2d\"",
               "cors.max_age: \"2d\": unknown duration unit (expected ms, s, m or h)");
    expect_one("{\"cors\": {\"origin\": []}}", "\"origin\"",
               "cors.origin: unknown key \"origin\" (did you mean \"origins\"?)");
    expect_one("{\"cors\": 3}", "3", "cors: expected an object or a boolean, got an integer");
    expect_one("{\"csrf\": {\"origins\": [\"*\"]}}", "\"*\"",
               "csrf.origins[0]: \"*\" would trust every origin and check nothing: list the "
               "origins allowed to send requests (or turn csrf off)");
    expect_one("{\"csrf\": {\"no_origin\": \"deny\"}}", "\"deny\"",
               "csrf.no_origin: unknown value \"deny\" (expected allow or refuse)");
    expect_one(SVC("\"cors\": {\"rules\": [{\"origins\": \"*\"}]}"), "{\"origins\": \"*\"",
               "services[0].cors.rules[0].match: required key \"match\" is missing");
    expect_one(SVC("\"csrf\": {\"rules\": [{\"match\": {\"prefix\": []}}]}"), "[]}",
               "services[0].csrf.rules[0].match.prefix: must not be empty");
}

/* "*" with credentials is refused where it is made: at the level that wrote one of the two. */
static void test_star_with_credentials(void **state)
{
    (void)state;
    expect_one("{\"cors\": {\"origins\": \"*\", \"credentials\": true}}", "true",
               "cors.credentials: " STAR_CRED);
    /* the service turns credentials on under the gateway's "*" */
    expect_one(WITH_SVC("\"cors\": {\"origins\": \"*\"}", "\"cors\": {\"credentials\": true}"),
               "true", "services[0].cors.credentials: " STAR_CRED);
    /* a rule writes "*" under the service's credentials */
    expect_one(WITH_SVC("\"cors\": {\"credentials\": true}",
                        "\"cors\": {\"rules\": [{\"match\": {\"prefix\": \"/p/x\"}, "
                        "\"origins\": [\"*\"]}]}"),
               "[\"*\"]", "services[0].cors.rules[0].origins: " STAR_CRED);
    /* inherited whole from a level that is fine: no error; a disabled rule is not checked */
    struct gw_config *cfg =
        load_ok(WITH_SVC("\"cors\": {\"credentials\": true, \"origins\": \"https://a.example\"}",
                         "\"cors\": {\"rules\": [{\"match\": {\"prefix\": \"/p/x\"}, \"origins\": "
                         "\"*\", \"credentials\": false}, {\"match\": {\"prefix\": \"/p/y\"}, "
                         "\"enabled\": false, \"origins\": \"*\"}]}"));
    gw_config_free(cfg);
    expect_one("{\"cors\": {\"expose_headers\": \"*\", \"credentials\": true}}", "true",
               "cors.credentials: expose_headers \"*\" with credentials true: browsers take "
               "\"*\" literally in a credentialed answer; name the headers");
    /* each service is judged on its own */
    expect_one(TWO_SVC("\"cors\": {\"origins\": \"*\"}", "", ", \"cors\": {\"credentials\": true}"),
               "true", "services[1].cors.credentials: " STAR_CRED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off_unless_configured), cmocka_unit_test(test_gateway_section),
        cmocka_unit_test(test_service_inherits),      cmocka_unit_test(test_value_errors),
        cmocka_unit_test(test_star_with_credentials),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
