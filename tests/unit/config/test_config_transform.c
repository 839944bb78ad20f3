/* Unit tests for the "transform" sections (src/config/config_transform.c): what they load into,
 * inheritance of max_body_bytes, and errors that point inside strings (templates, patterns). */
#include "config_test.h"

#include "policy/template.h"

static void test_loads_every_part(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(
        "{\"transform\": {\"max_body_bytes\": \"1KiB\", \"request\": {\"headers\": "
        "{\"set\": {\"X-Gw\": \"1\"}}}},"
        " \"services\": [{\"name\": \"s\", \"prefix\": \"/p\", \"targets\": [\"http://h:1\"],"
        " \"transform\": {\"request\": {\"headers\": {\"remove\": [\"X-A\"], \"rename\": "
        "{\"X-B\": \"X-C\"}, \"add\": {\"X-D\": [\"1\", \"$request_id\"]}},"
        "   \"query\": {\"remove\": \"debug\", \"add\": {\"via\": \"$service\"}},"
        "   \"path\": {\"regex\": \"^/p/(\\\\d+)$\", \"replace\": \"/q/$1\"},"
        "   \"body\": {\"remove\": [\"a.b\"], \"rename\": {\"x\": \"y\"}, \"add\": {\"z\": "
        "{\"k\": [1]}, \"w\": \"$consumer\"}}},"
        "  \"response\": {\"status\": {\"502\": 503}, \"headers\": {\"set\": {\"X-S\": \"v\"}}},"
        "  \"rules\": [{\"match\": {\"prefix\": \"/p/a\"}, \"request\": {\"path\": "
        "{\"prefix\": {\"from\": \"/p/a\", \"to\": \"/b\"}}}}]}}]}");
    assert_int_equal(cfg->transform.max_body_bytes, 1024);
    const struct gw_transform_conf *t = &cfg->services[0].transform;
    assert_true(t->enabled);
    assert_true(t->inherit);
    assert_int_equal(t->max_body_bytes, 1024); /* inherited */
    const struct gw_tf_request_conf *rq = &t->set.request;
    assert_int_equal(rq->headers.nremove, 1);
    assert_string_equal(rq->headers.rename[0].from, "X-B");
    assert_string_equal(rq->headers.rename[0].to, "X-C");
    assert_int_equal(rq->headers.nadd, 2);
    assert_string_equal(rq->headers.add[1].name, "X-D");
    assert_true(gw_template_is_constant(rq->headers.add[0].value));
    assert_false(gw_template_is_constant(rq->headers.add[1].value));
    assert_int_equal(rq->query.nremove, 1);
    assert_int_equal(rq->path_kind, GW_TF_PATH_REGEX);
    assert_string_equal(rq->path_replace, "/q/$1");
    assert_int_equal(rq->body.nadd, 2);
    assert_null(rq->body.add_tpl[0]);
    assert_non_null(rq->body.add_tpl[1]);
    assert_int_equal(t->set.response.nstatus, 1);
    assert_int_equal(t->set.response.status[0].from, 502);
    assert_int_equal(t->set.response.status[0].to, 503);
    assert_int_equal(t->nrules, 1);
    assert_int_equal(t->rules[0].set.request.path_kind, GW_TF_PATH_PREFIX);
    assert_string_equal(t->rules[0].set.request.path_to, "/b");
    gw_config_free(cfg);

    cfg = load_ok(SVC("\"transform\": false"));
    assert_false(cfg->services[0].transform.enabled);
    gw_config_free(cfg);
}

static void test_unknown_variable_points_at_it(void **state)
{
    (void)state;
    const char *text = SVC("\"transform\": {\"request\": {\"headers\": {\"set\": {\"X-A\": "
                           "\"a $request_id $bogus_var b\"}}}}");
    expect_one(text, "$bogus_var",
               "services[0].transform.request.headers.set.X-A: unknown variable "
               "\"$bogus_var\" (known: $request_id, $client_ip, $consumer, $user_id, $service, "
               "$route, $trace_id, $http_<header>, $arg_<parameter>; \"$$\" is a literal \"$\")");
    /* escapes before it count as written in the file */
    text = SVC("\"transform\": {\"request\": {\"query\": {\"add\": {\"a\": "
               "\"\\u00e9\\t$nope\"}}}}");
    const char *at = strstr(text, "$nope");
    char expected[512];
    snprintf(expected, sizeof expected,
             "t.json:1:%d: services[0].transform.request.query.add.a: unknown variable \"$nope\" "
             "(known: $request_id, $client_ip, $consumer, $user_id, $service, $route, $trace_id, "
             "$http_<header>, $arg_<parameter>; \"$$\" is a literal \"$\")\n",
             (int)(at - text) + 1);
    expect_errors(text, expected);
}

static void test_regex_errors(void **state)
{
    (void)state;
    const char *text = SVC(
        "\"transform\": {\"request\": {\"path\": {\"regex\": \"^/a(b\", \"replace\": \"/$1\"}}}");
    const char *at = strstr(text, "^/a(b") + 5; /* PCRE2 reports the end of the pattern */
    char expected[512];
    snprintf(expected, sizeof expected,
             "t.json:1:%d: services[0].transform.request.path.regex: invalid regular expression: "
             "missing closing parenthesis (at offset 5)\n",
             (int)(at - text) + 1);
    expect_errors(text, expected);
    text = SVC("\"transform\": {\"request\": {\"path\": {\"regex\": \"^/a/(b)\", \"replace\": "
               "\"/x/$2\"}}}");
    expect_one(text, "$2\"",
               "services[0].transform.request.path.replace: \"$2\" is not a group of the "
               "expression (it has 1; $0 is the whole match, $$ a literal \"$\")");
    expect_one(SVC("\"transform\": {\"request\": {\"path\": {\"regex\": \"^/a\"}}}"), "{\"regex\"",
               "services[0].transform.request.path: \"regex\" needs \"replace\" (the new path; "
               "$1..$9 are its groups)");
}

static void test_refused_names_and_statuses(void **state)
{
    (void)state;
    expect_one(SVC("\"transform\": {\"request\": {\"headers\": {\"remove\": [\"Host\"]}}}"),
               "\"Host\"",
               "services[0].transform.request.headers.remove[0]: \"Host\" is a header gantry "
               "sets itself (see host_header for Host): transformations cannot change it");
    expect_one(SVC("\"transform\": {\"request\": {\"headers\": {\"set\": {\"X-User-ID\": "
                   "\"x\"}}}}"),
               "\"x\"",
               "services[0].transform.request.headers.set.X-User-ID: \"X-User-ID\" is an "
               "identity header, which only authentication sets: transformations cannot change it");
    expect_one(SVC("\"transform\": {\"response\": {\"headers\": {\"rename\": {\"X-A\": "
                   "\"Transfer-Encoding\"}}}}"),
               "\"Transfer-Encoding\"",
               "services[0].transform.response.headers.rename.X-A: \"Transfer-Encoding\" is a "
               "hop-by-hop or framing header, which gantry manages itself: transformations "
               "cannot change it");
    expect_one(SVC("\"transform\": {\"response\": {\"status\": {\"304\": 200}}}"), "\"304\"",
               "services[0].transform.response.status.304: \"304\" is not a status that can be "
               "mapped (200 to 599, not 204 or 304)");
    expect_one(SVC("\"transform\": {\"request\": {\"query\": {\"remove\": [\"a b\"]}}}"), "\"a b\"",
               "services[0].transform.request.query.remove[0]: \"a b\" is not a valid query "
               "parameter name (1 to 128 of A-Z a-z 0-9 - _ . ~)");
    expect_one(SVC("\"transform\": {\"request\": {\"path\": {\"prefix\": {\"from\": \"/a\"}}}}"),
               "{\"from\"", "services[0].transform.request.path.prefix: needs \"from\" and \"to\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loads_every_part),
        cmocka_unit_test(test_unknown_variable_points_at_it),
        cmocka_unit_test(test_regex_errors),
        cmocka_unit_test(test_refused_names_and_statuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
