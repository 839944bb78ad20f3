/*
 * Unit tests for the traffic-policy sections of the config: "ip_rules" (src/config/
 * config_iprules.c) and "security_headers" (src/config/config_sechdr.c), at the gateway, in a
 * service and in a service's rules. Defaults, every form a value takes, and every error with
 * its exact position and key path.
 */
#include "config_test.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#define IPR(fields) "{\"ip_rules\": {" fields "}}"
#define SH(fields) "{\"security_headers\": {" fields "}}"
#define CIDR_EXAMPLES " (expected \"10.0.0.0/8\", \"192.0.2.7\" or \"2001:db8::/32\")"

/* ---- ip_rules -------------------------------------------------------------------------------- */

static void test_ip_rules_defaults(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(SVC("\"strip_prefix\": false"));
    assert_int_equal(cfg->ip_rules.allow.state, GW_IPLIST_INHERIT);
    assert_int_equal(cfg->ip_rules.deny.state, GW_IPLIST_INHERIT);
    const struct gw_iprules_conf *s = &cfg->services[0].ip_rules;
    assert_true(s->enabled);
    assert_int_equal(s->allow.state, GW_IPLIST_INHERIT);
    assert_int_equal(s->deny.state, GW_IPLIST_INHERIT);
    assert_int_equal(s->nrules, 0);
    gw_config_free(cfg);
}

static void test_ip_rules_values(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(
        "{\"ip_rules\": {\"allow\": [\"10.1.2.3/8\", \"::ffff:192.0.2.0/120\"], \"deny\": "
        "\"2001:db8::1\"}, \"services\": [{\"name\": \"s\", \"prefix\": \"/p\", \"targets\": "
        "[\"http://h:1\"], \"ip_rules\": {\"allow\": false, \"rules\": [{\"match\": {\"prefix\": "
        "\"/p/x\", \"methods\": \"POST\"}, \"deny\": [\"0.0.0.0/0\", \"::/0\"]}]}}, "
        "{\"name\": \"t\", \"prefix\": \"/t\", \"targets\": [\"http://h:1\"], \"ip_rules\": "
        "false}]}");
    assert_int_equal(cfg->ip_rules.allow.state, GW_IPLIST_SET);
    assert_int_equal(cfg->ip_rules.allow.n, 2);
    assert_int_equal(cfg->ip_rules.allow.items[0].bits, 8);
    assert_int_equal(cfg->ip_rules.allow.items[0].addr[1], 0);       /* masked */
    assert_int_equal(cfg->ip_rules.allow.items[1].family, AF_INET6); /* unmapped when compiled */
    assert_int_equal(cfg->ip_rules.deny.n, 1);
    assert_int_equal(cfg->ip_rules.deny.items[0].bits, 128);
    const struct gw_iprules_conf *s = &cfg->services[0].ip_rules;
    assert_true(s->enabled);
    assert_int_equal(s->allow.state, GW_IPLIST_OFF);
    assert_int_equal(s->deny.state, GW_IPLIST_INHERIT);
    assert_int_equal(s->nrules, 1);
    assert_int_equal(s->rules[0].match.nprefixes, 1);
    assert_string_equal(s->rules[0].match.prefixes[0], "/p/x");
    assert_int_equal(s->rules[0].match.methods, 1u << GW_METHOD_POST);
    assert_int_equal(s->rules[0].allow.state, GW_IPLIST_INHERIT);
    assert_int_equal(s->rules[0].deny.n, 2);
    assert_false(cfg->services[1].ip_rules.enabled);
    gw_config_free(cfg);
}

static void test_ip_rules_errors(void **state)
{
    (void)state;
    expect_one(IPR("\"allow\": []"), "[]",
               "ip_rules.allow: must not be empty (false drops an inherited list; to refuse "
               "every address, deny \"0.0.0.0/0\" and \"::/0\")");
    expect_one(IPR("\"deny\": true"), "true",
               "ip_rules.deny: expected a string, an array of strings or false, got a boolean");
    expect_one(IPR("\"deny\": [\"10.0.0.0/8\", \"10.0.0.0/33\"]"), "\"10.0.0.0/33\"",
               "ip_rules.deny[1]: \"10.0.0.0/33\" has a prefix length longer than the "
               "address" CIDR_EXAMPLES);
    expect_one(
        IPR("\"deny\": [\"host.example\"]"), "\"host.example\"",
        "ip_rules.deny[0]: \"host.example\" is not an IP address or CIDR block" CIDR_EXAMPLES);
    expect_one(IPR("\"deny\": [7]"), "7", "ip_rules.deny[0]: expected a string, got an integer");
    expect_one(IPR("\"rules\": []"), "\"rules\"", "ip_rules.rules: unknown key \"rules\"");
    expect_one(IPR("\"alow\": \"10.0.0.1\""), "\"alow\"",
               "ip_rules.alow: unknown key \"alow\" (did you mean \"allow\"?)");
    expect_one(SVC("\"ip_rules\": {\"rules\": [{\"match\": {\"prefix\": \"/p\"}}]}"), "{\"match\"",
               "services[0].ip_rules.rules[0]: a rule needs \"allow\" or \"deny\" (or both)");
    expect_one(SVC("\"ip_rules\": {\"rules\": [{\"allow\": \"10.0.0.1\"}]}"), "{\"allow\"",
               "services[0].ip_rules.rules[0].match: required key \"match\" is missing");
    expect_one(SVC("\"ip_rules\": {\"rules\": [{\"match\": {\"prefix\": []}, \"deny\": "
                   "\"::1\"}]}"),
               "[]", "services[0].ip_rules.rules[0].match.prefix: must not be empty");
    expect_one(SVC("\"ip_rules\": 3"), "3",
               "services[0].ip_rules: expected an object or a boolean, got an integer");
}

/* ---- security_headers ------------------------------------------------------------------------ */

static void test_security_headers_defaults(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(SVC("\"strip_prefix\": false"));
    const struct gw_sechdr_conf *g = &cfg->security_headers;
    assert_true(g->enabled);
    assert_int_equal(g->mode, GW_SECHDR_IF_ABSENT);
    assert_int_equal(g->h[GW_SECHDR_HSTS].state, GW_SECHDR_SET);
    assert_string_equal(g->h[GW_SECHDR_HSTS].value, "max-age=31536000; includeSubDomains");
    assert_string_equal(g->h[GW_SECHDR_XCTO].value, "nosniff");
    assert_string_equal(g->h[GW_SECHDR_XFO].value, "SAMEORIGIN");
    assert_string_equal(g->h[GW_SECHDR_REFERRER].value, "no-referrer");
    assert_non_null(strstr(g->h[GW_SECHDR_CSP].value, "frame-ancestors 'self'"));
    assert_null(strstr(g->h[GW_SECHDR_CSP].value, "upgrade-insecure-requests"));
    assert_int_equal(g->h[GW_SECHDR_PERMISSIONS].state, GW_SECHDR_OFF);
    assert_string_equal(g->h[GW_SECHDR_COOP].value, "same-origin");
    assert_string_equal(g->h[GW_SECHDR_CORP].value, "same-origin");
    assert_int_equal(g->h[GW_SECHDR_COEP].state, GW_SECHDR_OFF);
    assert_int_equal(g->h[GW_SECHDR_SERVER].state, GW_SECHDR_HIDE);
    for (size_t k = 0; k < GW_SECHDR__COUNT; k++)
        assert_int_equal(g->h[k].mode, GW_SECHDR_MODE_INHERIT);
    const struct gw_sechdr_conf *s = &cfg->services[0].security_headers;
    assert_true(s->enabled);
    assert_int_equal(s->mode, GW_SECHDR_MODE_INHERIT);
    for (size_t k = 0; k < GW_SECHDR__COUNT; k++)
        assert_int_equal(s->h[k].state, GW_SECHDR_INHERIT);
    gw_config_free(cfg);

    cfg = load_ok("{\"security_headers\": false}");
    assert_false(cfg->security_headers.enabled);
    gw_config_free(cfg);
}

static void test_security_headers_values(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(
        "{\"security_headers\": {\"mode\": \"override\", \"x_frame_options\": \"deny\", "
        "\"referrer_policy\": \"no-referrer, strict-origin-when-cross-origin\", "
        "\"strict_transport_security\": \"includeSubDomains; max-age=\\\"600\\\"; preload\", "
        "\"cross_origin_opener_policy\": \"same-origin; report-to=\\\"coop\\\"\", "
        "\"cross_origin_embedder_policy\": {\"value\": \"require-corp\", \"mode\": "
        "\"if_absent\"}, \"server\": \"keep\", \"permissions_policy\": \"camera=(), "
        "geolocation=(self \\\"https://maps.example\\\")\"},"
        "\"services\": [{\"name\": \"s\", \"prefix\": \"/p\", \"targets\": [\"http://h:1\"], "
        "\"security_headers\": {\"server\": \"gantry/1\", \"content_security_policy\": false, "
        "\"rules\": [{\"match\": {\"prefix\": \"/p/a\"}, \"enabled\": false}, {\"match\": "
        "{\"methods\": \"GET\"}, \"mode\": \"if_absent\", \"server\": {\"value\": \"hide\"}}]}}, "
        "{\"name\": \"t\", \"prefix\": \"/t\", \"targets\": [\"http://h:1\"], "
        "\"security_headers\": false}]}");
    const struct gw_sechdr_conf *g = &cfg->security_headers;
    assert_int_equal(g->mode, GW_SECHDR_OVERRIDE);
    assert_string_equal(g->h[GW_SECHDR_XFO].value, "deny"); /* as written */
    assert_int_equal(g->h[GW_SECHDR_COEP].state, GW_SECHDR_SET);
    assert_int_equal(g->h[GW_SECHDR_COEP].mode, GW_SECHDR_IF_ABSENT);
    assert_int_equal(g->h[GW_SECHDR_SERVER].state, GW_SECHDR_OFF);
    const struct gw_sechdr_conf *s = &cfg->services[0].security_headers;
    assert_int_equal(s->h[GW_SECHDR_SERVER].state, GW_SECHDR_SET);
    assert_string_equal(s->h[GW_SECHDR_SERVER].value, "gantry/1");
    assert_int_equal(s->h[GW_SECHDR_CSP].state, GW_SECHDR_OFF);
    assert_int_equal(s->h[GW_SECHDR_XFO].state, GW_SECHDR_INHERIT);
    assert_int_equal(s->nrules, 2);
    assert_false(s->rules[0].set.enabled);
    assert_true(s->rules[1].set.enabled);
    assert_int_equal(s->rules[1].set.mode, GW_SECHDR_IF_ABSENT);
    assert_int_equal(s->rules[1].set.h[GW_SECHDR_SERVER].state, GW_SECHDR_SET);
    assert_string_equal(s->rules[1].set.h[GW_SECHDR_SERVER].value, "hide");
    assert_false(cfg->services[1].security_headers.enabled);
    gw_config_free(cfg);
}

static void test_security_headers_errors(void **state)
{
    (void)state;
    expect_one(SH("\"x_frame_options\": \"SAMEORGIN\""), "\"SAMEORGIN\"",
               "security_headers.x_frame_options: \"SAMEORGIN\" must be \"DENY\" or "
               "\"SAMEORIGIN\" (for other origins use content_security_policy's frame-ancestors)");
    expect_one(SH("\"x_frame_options\": \"ALLOW-FROM https://a.example\""), "\"ALLOW",
               "security_headers.x_frame_options: \"ALLOW-FROM https://a.example\" must be "
               "\"DENY\" or \"SAMEORIGIN\" (for other origins use content_security_policy's "
               "frame-ancestors)");
    expect_one(SH("\"x_content_type_options\": \"sniff\""), "\"sniff\"",
               "security_headers.x_content_type_options: \"sniff\" must be \"nosniff\" (its only "
               "value)");
    expect_one(SH("\"referrer_policy\": \"no-referrer, nope\""), "\"no-referrer, nope\"",
               "security_headers.referrer_policy: \"no-referrer, nope\" is not a referrer policy "
               "(\"no-referrer\", \"same-origin\", \"strict-origin-when-cross-origin\", ...)");
    expect_one(SH("\"strict_transport_security\": \"includeSubDomains\""), "\"include",
               "security_headers.strict_transport_security: \"includeSubDomains\" needs max-age "
               "(\"max-age=31536000; includeSubDomains\")");
    expect_one(SH("\"strict_transport_security\": \"max-age=forever\""), "\"max-age",
               "security_headers.strict_transport_security: \"max-age=forever\" has a max-age "
               "that is not a number (\"max-age=31536000; includeSubDomains\")");
    expect_one(SH("\"cross_origin_resource_policy\": \"same-origin; x\""), "\"same",
               "security_headers.cross_origin_resource_policy: \"same-origin; x\" must be "
               "\"same-origin\", \"same-site\" or \"cross-origin\"");
    expect_one(SH("\"cross_origin_opener_policy\": \"same\""), "\"same\"",
               "security_headers.cross_origin_opener_policy: \"same\" must be \"same-origin\", "
               "\"same-origin-allow-popups\", \"noopener-allow-popups\" or \"unsafe-none\"");
    expect_one(SH("\"cross_origin_embedder_policy\": \"corp\""), "\"corp\"",
               "security_headers.cross_origin_embedder_policy: \"corp\" must be "
               "\"require-corp\", \"credentialless\" or \"unsafe-none\"");
    expect_one(SH("\"content_security_policy\": \"\""), "\"\"",
               "security_headers.content_security_policy: \"\" must not be empty (false sends no "
               "header)");
    expect_one(SH("\"content_security_policy\": \" default-src 'self'\""), "\" default",
               "security_headers.content_security_policy: \" default-src 'self'\" must not start "
               "or end with white space");
    expect_one(
        SH("\"server\": \"a\\r\\nSet-Cookie: x=1\""), "\"a\\r",
        "security_headers.server: \"a\\x0d\\x0aSet-Cookie: x=1\" may hold only visible ASCII "
        "characters, spaces and tabs");
    expect_one(SH("\"server\": \"caf\\u00e9\""), "\"caf",
               "security_headers.server: \"caf\u00e9\" may hold only visible ASCII "
               "characters, spaces and tabs");
    expect_one(SH("\"server\": true"), "true",
               "security_headers.server: expected the header's value (a string), false (no "
               "header) or {\"value\": ..., \"mode\": ...}, got a boolean");
    expect_one(SH("\"x_frame_options\": {\"mode\": \"override\"}"), "{\"mode\"",
               "security_headers.x_frame_options.value: required key \"value\" is missing");
    expect_one(SH("\"x_frame_options\": {\"value\": \"DENY\", \"mod\": \"override\"}"), "\"mod\"",
               "security_headers.x_frame_options.mod: unknown key \"mod\" (did you mean "
               "\"mode\"?)");
    expect_one(SH("\"x_frame_options\": {\"value\": \"DENIED\"}"), "\"DENIED\"",
               "security_headers.x_frame_options.value: \"DENIED\" must be \"DENY\" or "
               "\"SAMEORIGIN\" (for other origins use content_security_policy's frame-ancestors)");
    expect_one(SH("\"mode\": \"replace\""), "\"replace\"",
               "security_headers.mode: unknown value \"replace\" (expected override or "
               "if_absent)");
    expect_one(SH("\"rules\": []"), "\"rules\"", "security_headers.rules: unknown key \"rules\"");
    expect_one(SVC("\"security_headers\": {\"rules\": [{\"match\": {\"prefix\": \"/p\"}}]}"),
               "{\"match\"",
               "services[0].security_headers.rules[0]: a rule needs a header, \"mode\" or "
               "\"enabled\" besides \"match\"");
    expect_one(SVC("\"security_headers\": {\"rules\": [{\"server\": \"x\"}]}"), "{\"server\"",
               "services[0].security_headers.rules[0].match: required key \"match\" is missing");
    /* a value of 4097 bytes */
    char text[4200];
    int n = snprintf(text, sizeof text, "{\"security_headers\": {\"permissions_policy\": \"");
    memset(text + n, 'a', 4097);
    snprintf(text + n + 4097, sizeof text - (size_t)n - 4097, "\"}}");
    char *got = NULL;
    {
        struct gw_config *cfg = NULL;
        struct gw_config_errors errs;
        assert_int_equal(gw_config_load_string("t.json", text, strlen(text), &cfg, &errs),
                         GW_ECONFIG);
        got = errors_text(&errs);
        gw_config_errors_free(&errs);
    }
    assert_non_null(strstr(got, "is longer than 4096 bytes"));
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ip_rules_defaults),
        cmocka_unit_test(test_ip_rules_values),
        cmocka_unit_test(test_ip_rules_errors),
        cmocka_unit_test(test_security_headers_defaults),
        cmocka_unit_test(test_security_headers_values),
        cmocka_unit_test(test_security_headers_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
