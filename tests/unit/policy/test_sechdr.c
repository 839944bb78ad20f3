/*
 * Unit tests for src/policy/sechdr.c: compiling "security_headers" (defaults, inheritance key by
 * key from the gateway to a service to a rule, modes, false, Server hidden, kept or set, sets
 * shared between services) and applying a set to an upstream response head (if_absent keeps
 * the upstream's header, override replaces it, HSTS only over TLS, Server removed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "control/snapshot-t.h"
#include "core/buf.h"
#include "policy/policy.h"
#include "policy/sechdr.h"

#define CSP_DEFAULT                                                                                \
    "Content-Security-Policy: default-src 'self'; base-uri 'self'; font-src 'self' https: data:; " \
    "form-action 'self'; frame-ancestors 'self'; img-src 'self' data:; object-src 'none'; "        \
    "script-src 'self'; script-src-attr 'none'; style-src 'self' https: 'unsafe-inline'\r\n"
#define DEFAULT_BLOCK                                                                              \
    "X-Content-Type-Options: nosniff\r\n"                                                          \
    "X-Frame-Options: SAMEORIGIN\r\n"                                                              \
    "Referrer-Policy: no-referrer\r\n" CSP_DEFAULT "Cross-Origin-Opener-Policy: same-origin\r\n"   \
    "Cross-Origin-Resource-Policy: same-origin\r\n"
#define HSTS_LINE "Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n"

struct built {
    struct gw_config *cfg;
    struct gw_snapshot snap;
    struct gw_policy policy;
};

static struct built *build(const char *text)
{
    struct built *b = calloc(1, sizeof *b);
    struct gw_config_errors errs;
    assert_non_null(b);
    int rc = gw_config_load_string("t.json", text, strlen(text), &b->cfg, &errs);
    if (rc != 0) {
        gw_config_errors_print(&errs, stderr);
        fail_msg("config does not load");
    }
    gw_config_errors_free(&errs);
    b->snap.cfg = b->cfg;
    b->snap.nservices = b->cfg->nservices;
    b->policy.cfg = b->cfg;
    assert_int_equal(gw_sechdr_build(&b->policy, &b->snap), 0);
    return b;
}

static void built_free(struct built *b)
{
    gw_sechdr_free(b->policy.sechdr);
    gw_config_free(b->cfg);
    free(b);
}

static const struct gw_sechdr_svc *svc(const struct built *b, size_t i)
{
    assert_true(i < b->policy.sechdr->nsvc);
    return &b->policy.sechdr->svc[i];
}

static void assert_block(const struct gw_sechdr_set *set, bool tls, const char *expected)
{
    assert_non_null(set);
    assert_int_equal(set->block_len[tls], strlen(expected));
    assert_string_equal(set->block[tls], expected);
}

/* ---- compiling ------------------------------------------------------------------------------- */

static void test_defaults(void **state)
{
    (void)state;
    struct built *b = build("{\"services\": [{\"name\": \"a\", \"prefix\": \"/a\", "
                            "\"targets\": [\"http://h:1\"]}]}");
    const struct gw_sechdr_set *g = b->policy.sechdr->gateway;
    assert_block(g, false, DEFAULT_BLOCK);
    assert_block(g, true, HSTS_LINE DEFAULT_BLOCK);
    assert_int_equal(g->drop, 1u << GW_SECHDR_SERVER); /* hidden */
    assert_int_equal(g->keep, (1u << GW_SECHDR_HSTS) | (1u << GW_SECHDR_XCTO) |
                                  (1u << GW_SECHDR_XFO) | (1u << GW_SECHDR_REFERRER) |
                                  (1u << GW_SECHDR_CSP) | (1u << GW_SECHDR_COOP) |
                                  (1u << GW_SECHDR_CORP)); /* if_absent */
    /* the service inherits the gateway's set itself */
    assert_ptr_equal(svc(b, 0)->base, g);
    assert_true(svc(b, 0)->any);
    assert_int_equal(b->policy.sechdr->nsets, 1);
    assert_string_equal(gw_sechdr_name(GW_SECHDR_COEP), "Cross-Origin-Embedder-Policy");
    built_free(b);
}

static void test_off_at_each_level(void **state)
{
    (void)state;
    struct built *b = build("{\"security_headers\": false, \"services\": ["
                            "{\"name\": \"a\", \"prefix\": \"/a\", \"targets\": [\"http://h:1\"]},"
                            "{\"name\": \"b\", \"prefix\": \"/b\", \"targets\": [\"http://h:1\"], "
                            " \"security_headers\": {\"x_frame_options\": \"DENY\"}}]}");
    assert_null(b->policy.sechdr->gateway);
    assert_null(svc(b, 0)->base); /* inherits "nothing" */
    assert_false(svc(b, 0)->any);
    assert_block(svc(b, 1)->base, false, "X-Frame-Options: DENY\r\n");
    assert_int_equal(svc(b, 1)->base->keep, 1u << GW_SECHDR_XFO);
    assert_int_equal(svc(b, 1)->base->drop, 0);
    built_free(b);

    b = build(
        "{\"services\": [{\"name\": \"a\", \"prefix\": \"/a\", \"targets\": [\"http://h:1\"], "
        "\"security_headers\": false}]}");
    assert_non_null(b->policy.sechdr->gateway);
    assert_null(svc(b, 0)->base);
    assert_false(svc(b, 0)->any);
    built_free(b);
}

static void test_inheritance_and_modes(void **state)
{
    (void)state;
    struct built *b = build(
        "{\"security_headers\": {\"mode\": \"override\", \"content_security_policy\": false, "
        "  \"cross_origin_opener_policy\": false, \"cross_origin_resource_policy\": false, "
        "  \"referrer_policy\": {\"value\": \"same-origin\", \"mode\": \"if_absent\"}, "
        "  \"server\": \"keep\"},"
        " \"services\": [{\"name\": \"a\", \"prefix\": \"/a\", \"targets\": [\"http://h:1\"], "
        "   \"security_headers\": {\"mode\": \"if_absent\", \"x_frame_options\": \"DENY\", "
        "     \"server\": \"gantry\", \"permissions_policy\": \"camera=()\","
        "     \"rules\": [{\"match\": {\"prefix\": \"/a/embed\"}, \"x_frame_options\": false, "
        "                  \"server\": {\"value\": \"hide\", \"mode\": \"override\"}},"
        "                 {\"match\": {\"prefix\": \"/a/raw\"}, \"enabled\": false},"
        "                 {\"match\": {\"prefix\": \"/a/x\"}, \"mode\": \"override\"}]}}]}");
    const struct gw_sechdr_set *g = b->policy.sechdr->gateway;
    assert_block(g, false,
                 "X-Content-Type-Options: nosniff\r\n"
                 "X-Frame-Options: SAMEORIGIN\r\n"
                 "Referrer-Policy: same-origin\r\n");
    assert_int_equal(g->drop, (1u << GW_SECHDR_HSTS) | (1u << GW_SECHDR_XCTO) |
                                  (1u << GW_SECHDR_XFO)); /* override, "keep": Server not touched */
    assert_int_equal(g->keep, 1u << GW_SECHDR_REFERRER);

    const struct gw_sechdr_svc *s = svc(b, 0);
    assert_int_equal(s->nrules, 3);
    assert_block(s->base, false,
                 "X-Content-Type-Options: nosniff\r\n"
                 "X-Frame-Options: DENY\r\n"
                 "Referrer-Policy: same-origin\r\n"
                 "Permissions-Policy: camera=()\r\n"
                 "Server: gantry\r\n");
    /* the service's mode applies to what it inherits too */
    assert_int_equal(s->base->drop, 0);
    assert_int_equal(s->base->keep, (1u << GW_SECHDR_HSTS) | (1u << GW_SECHDR_XCTO) |
                                        (1u << GW_SECHDR_XFO) | (1u << GW_SECHDR_REFERRER) |
                                        (1u << GW_SECHDR_PERMISSIONS) | (1u << GW_SECHDR_SERVER));
    /* rule 0: no XFO, Server literally "hide" replacing the upstream's */
    assert_block(s->rules[0].set, false,
                 "X-Content-Type-Options: nosniff\r\n"
                 "Referrer-Policy: same-origin\r\n"
                 "Permissions-Policy: camera=()\r\n"
                 "Server: hide\r\n");
    assert_int_equal(s->rules[0].set->drop, 1u << GW_SECHDR_SERVER);
    assert_null(s->rules[1].set);
    /* rule 2: the same headers in override mode, except Referrer-Policy's own if_absent */
    assert_int_equal(s->rules[2].set->keep, 1u << GW_SECHDR_REFERRER);
    assert_true(s->rules[2].set->drop & (1u << GW_SECHDR_SERVER));
    assert_int_equal(b->policy.sechdr->nsets, 4);
    built_free(b);
}

static void test_hide_only(void **state)
{
    (void)state;
    /* A set that sends nothing but still hides Server is not empty. */
    struct built *b =
        build("{\"security_headers\": {\"strict_transport_security\": false, "
              "\"x_content_type_options\": false, \"x_frame_options\": false, \"referrer_policy\": "
              "false, "
              "\"content_security_policy\": false, \"cross_origin_opener_policy\": false, "
              "\"cross_origin_resource_policy\": false}}");
    const struct gw_sechdr_set *g = b->policy.sechdr->gateway;
    assert_non_null(g);
    assert_block(g, false, "");
    assert_block(g, true, "");
    assert_int_equal(g->drop, 1u << GW_SECHDR_SERVER);
    built_free(b);

    b = build("{\"security_headers\": {\"strict_transport_security\": false, "
              "\"x_content_type_options\": false, \"x_frame_options\": false, "
              "\"referrer_policy\": false, \"content_security_policy\": false, "
              "\"cross_origin_opener_policy\": false, \"cross_origin_resource_policy\": false, "
              "\"server\": \"keep\"}}");
    assert_null(b->policy.sechdr->gateway);
    built_free(b);
}

/* ---- applying -------------------------------------------------------------------------------- */

/* An upstream response: its head as rewrite.c leaves it (status line and the upstream's lines,
 * no final CRLF) and the parsed header names the stage scans. */
struct upstream {
    struct gw_buf head;
    struct gw_http1_header hs[16];
    struct gw_http1_message m;
};

static void upstream_init(struct upstream *u, const char *const *lines, size_t n)
{
    memset(u, 0, sizeof *u);
    gw_buf_init(&u->head, 1 << 16);
    assert_int_equal(gw_buf_append_str(&u->head, "HTTP/1.1 200 OK\r\n"), 0);
    u->m.headers = u->hs;
    u->m.headers_capacity = 16;
    for (size_t i = 0; i < n; i++) {
        const char *colon = strchr(lines[i], ':');
        assert_non_null(colon);
        u->hs[i].name = lines[i];
        u->hs[i].name_len = (uint32_t)(colon - lines[i]);
        assert_int_equal(gw_buf_append_str(&u->head, lines[i]), 0);
        assert_int_equal(gw_buf_append_str(&u->head, "\r\n"), 0);
    }
    u->m.num_headers = (uint32_t)n;
}

static void expect_head(struct upstream *u, const char *expected)
{
    assert_int_equal(gw_buf_append(&u->head, "", 1), 0);
    assert_string_equal(u->head.data, expected);
    gw_buf_free(&u->head);
}

static void test_apply_defaults(void **state)
{
    (void)state;
    struct built *b = build("{}");
    const struct gw_sechdr_set *g = b->policy.sechdr->gateway;
    struct upstream u;
    /* nothing of ours upstream but a Server header: it goes, the block is appended */
    const char *plain[] = {"Server: nginx/1.22.1", "Content-Type: text/plain",
                           "Date: Sun, 06 Dec 2026 10:00:00 GMT"};
    upstream_init(&u, plain, 3);
    assert_int_equal(gw_sechdr_apply(g, &u.m, false, &u.head), 0);
    expect_head(&u, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                    "Date: Sun, 06 Dec 2026 10:00:00 GMT\r\n" DEFAULT_BLOCK);
    /* if_absent: the upstream's own values stay, ours fill in the rest; any spelling */
    const char *own[] = {"x-frame-options: DENY", "SERVER: x", "Content-Security-Policy: a",
                         "content-security-policy: b", "Strict-Transport-Security: max-age=1"};
    upstream_init(&u, own, 5);
    assert_int_equal(gw_sechdr_apply(g, &u.m, false, &u.head), 0);
    expect_head(&u, "HTTP/1.1 200 OK\r\nx-frame-options: DENY\r\nContent-Security-Policy: a\r\n"
                    "content-security-policy: b\r\nStrict-Transport-Security: max-age=1\r\n"
                    "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n"
                    "Cross-Origin-Opener-Policy: same-origin\r\n"
                    "Cross-Origin-Resource-Policy: same-origin\r\n");
    /* over TLS: HSTS is ours to add, unless the upstream has its own */
    upstream_init(&u, NULL, 0);
    assert_int_equal(gw_sechdr_apply(g, &u.m, true, &u.head), 0);
    expect_head(&u, "HTTP/1.1 200 OK\r\n" HSTS_LINE DEFAULT_BLOCK);
    const char *hsts[] = {"Strict-Transport-Security: max-age=5"};
    upstream_init(&u, hsts, 1);
    assert_int_equal(gw_sechdr_apply(g, &u.m, true, &u.head), 0);
    expect_head(&u, "HTTP/1.1 200 OK\r\nStrict-Transport-Security: max-age=5\r\n" DEFAULT_BLOCK);
    /* names of the same length that are not ours pass the filter and stay */
    const char *lookalikes[] = {"X-Frame-Optionz: 1", "Servet: 2", "Referrer-Polica: 3"};
    upstream_init(&u, lookalikes, 3);
    assert_int_equal(gw_sechdr_apply(g, &u.m, false, &u.head), 0);
    expect_head(&u, "HTTP/1.1 200 OK\r\nX-Frame-Optionz: 1\r\nServet: 2\r\n"
                    "Referrer-Polica: 3\r\n" DEFAULT_BLOCK);
    built_free(b);
}

static void test_apply_override(void **state)
{
    (void)state;
    struct built *b = build(
        "{\"security_headers\": {\"mode\": \"override\", \"server\": \"gantry\", "
        "\"content_security_policy\": \"default-src 'none'\", \"cross_origin_opener_policy\": "
        "false, \"cross_origin_resource_policy\": false, \"referrer_policy\": false}}");
    const struct gw_sechdr_set *g = b->policy.sechdr->gateway;
    struct upstream u;
    const char *theirs[] = {"Server: Apache",
                            "X-Frame-Options: ALLOWALL",
                            "Content-Type: a/b",
                            "Content-Security-Policy: x",
                            "Strict-Transport-Security: max-age=9",
                            "Cross-Origin-Opener-Policy: unsafe-none"};
    upstream_init(&u, theirs, 6);
    assert_int_equal(gw_sechdr_apply(g, &u.m, false, &u.head), 0);
    /* replaced: Server, XFO, CSP; not ours: COOP; HSTS over plain HTTP is left alone */
    expect_head(&u, "HTTP/1.1 200 OK\r\nContent-Type: a/b\r\n"
                    "Strict-Transport-Security: max-age=9\r\n"
                    "Cross-Origin-Opener-Policy: unsafe-none\r\n"
                    "X-Content-Type-Options: nosniff\r\nX-Frame-Options: SAMEORIGIN\r\n"
                    "Content-Security-Policy: default-src 'none'\r\nServer: gantry\r\n");
    upstream_init(&u, theirs, 6);
    assert_int_equal(gw_sechdr_apply(g, &u.m, true, &u.head), 0);
    expect_head(&u, "HTTP/1.1 200 OK\r\nContent-Type: a/b\r\n"
                    "Cross-Origin-Opener-Policy: unsafe-none\r\n" HSTS_LINE
                    "X-Content-Type-Options: nosniff\r\nX-Frame-Options: SAMEORIGIN\r\n"
                    "Content-Security-Policy: default-src 'none'\r\nServer: gantry\r\n");
    built_free(b);
}

/* Without the upstream's parsed head (a transformation wrote to the head too, or gantry's own
 * answer), every line of the head is looked at. */
static void test_apply_scanning_the_head(void **state)
{
    (void)state;
    struct built *b = build("{}");
    struct upstream u;
    const char *lines[] = {"Server: a",
                           "Content-Type: text/plain",
                           "x-frame-options: DENY",
                           "Content-Security-Policy: x",
                           "X-Added: 1",
                           "SERVER: b"};
    upstream_init(&u, lines, 6);
    assert_int_equal(gw_sechdr_apply(b->policy.sechdr->gateway, NULL, false, &u.head), 0);
    expect_head(&u, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nx-frame-options: DENY\r\n"
                    "Content-Security-Policy: x\r\nX-Added: 1\r\n"
                    "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n"
                    "Cross-Origin-Opener-Policy: same-origin\r\n"
                    "Cross-Origin-Resource-Policy: same-origin\r\n");
    upstream_init(&u, NULL, 0);
    assert_int_equal(gw_sechdr_apply(b->policy.sechdr->gateway, NULL, false, &u.head), 0);
    expect_head(&u, "HTTP/1.1 200 OK\r\n" DEFAULT_BLOCK);
    built_free(b);

    b = build("{\"security_headers\": {\"mode\": \"override\"}}");
    upstream_init(&u, lines, 6);
    assert_int_equal(gw_sechdr_apply(b->policy.sechdr->gateway, NULL, false, &u.head), 0);
    expect_head(&u, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Added: 1\r\n" DEFAULT_BLOCK);
    built_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_off_at_each_level),
        cmocka_unit_test(test_inheritance_and_modes),
        cmocka_unit_test(test_hide_only),
        cmocka_unit_test(test_apply_defaults),
        cmocka_unit_test(test_apply_override),
        cmocka_unit_test(test_apply_scanning_the_head),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
