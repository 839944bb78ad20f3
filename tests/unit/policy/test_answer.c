/*
 * Unit tests for src/policy/answer.c: what the snapshot prepares for the answer hooks (the
 * filters of the upstream fields they look for, by length and first byte; the joined blocks of
 * CORS's shared picks with their service's security headers) and an upstream answer's head
 * built the way upstream/rewrite.c builds it: the fields copied through the filter, then the
 * hooks' lines — one joined block when the upstream sent none of their fields, else each
 * hook's own (Access-Control-* replaced, Origin merged into the upstream's Vary, an if_absent
 * header kept, Server hidden).
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
#include "conn/request-t.h"
#include "control/snapshot-t.h"
#include "core/buf.h"
#include "policy/answer.h"
#include "policy/chain.h"
#include "policy/cors.h"
#include "policy/policy.h"
#include "policy/sechdr.h"
#include "policy/stages.h"

#define APP "https://app.example.com"
#define CSP_DEFAULT                                                                                \
    "Content-Security-Policy: default-src 'self'; base-uri 'self'; font-src 'self' https: data:; " \
    "form-action 'self'; frame-ancestors 'self'; img-src 'self' data:; object-src 'none'; "        \
    "script-src 'self'; script-src-attr 'none'; style-src 'self' https: 'unsafe-inline'\r\n"
#define XFO_LINE "X-Frame-Options: SAMEORIGIN\r\n"
#define DEFAULT_BLOCK                                                                              \
    "X-Content-Type-Options: nosniff\r\n" XFO_LINE "Referrer-Policy: no-referrer\r\n" CSP_DEFAULT  \
    "Cross-Origin-Opener-Policy: same-origin\r\n"                                                  \
    "Cross-Origin-Resource-Policy: same-origin\r\n"
#define HSTS_LINE "Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n"
#define CORS_TAIL                                                                                  \
    "Access-Control-Allow-Credentials: true\r\n"                                                   \
    "Access-Control-Expose-Headers: X-Request-ID\r\n"                                              \
    "Vary: Origin\r\n"
#define CORS_LINES "Access-Control-Allow-Origin: " APP "\r\n" CORS_TAIL

/* Services: "a" (CORS from the gateway, default security headers), "b" (security headers off),
 * "c" (security headers with a rule), "d" (no CORS). */
static const char CONFIG[] =
    "{\"cors\": {\"origins\": [\"" APP "\"], \"credentials\": true, "
    "\"expose_headers\": [\"X-Request-ID\"]},"
    " \"services\": ["
    "{\"name\": \"a\", \"prefix\": \"/a\", \"targets\": [\"http://h:1\"]},"
    "{\"name\": \"b\", \"prefix\": \"/b\", \"targets\": [\"http://h:1\"], "
    "\"security_headers\": false},"
    "{\"name\": \"c\", \"prefix\": \"/c\", \"targets\": [\"http://h:1\"], "
    "\"security_headers\": {\"rules\": [{\"match\": {\"prefix\": \"/c/x\"}, "
    "\"x_frame_options\": \"DENY\"}]}},"
    "{\"name\": \"d\", \"prefix\": \"/d\", \"targets\": [\"http://h:1\"], \"cors\": false}]}";

struct built {
    struct gw_config *cfg;
    struct gw_snapshot snap;
    struct gw_policy policy;
    struct gw_service services[4];
};

static struct built *build(void)
{
    struct built *b = calloc(1, sizeof *b);
    struct gw_config_errors errs;
    char why[256];
    assert_non_null(b);
    int rc = gw_config_load_string("t.json", CONFIG, strlen(CONFIG), &b->cfg, &errs);
    if (rc != 0) {
        gw_config_errors_print(&errs, stderr);
        fail_msg("config does not load");
    }
    gw_config_errors_free(&errs);
    assert_int_equal(b->cfg->nservices, 4);
    for (size_t i = 0; i < 4; i++)
        b->services[i].conf = &b->cfg->services[i];
    b->snap.cfg = b->cfg;
    b->snap.nservices = b->cfg->nservices;
    b->snap.services = b->services;
    b->snap.policy = &b->policy;
    b->policy.cfg = b->cfg;
    assert_int_equal(gw_cors_build(&b->policy, b->cfg, why, sizeof why), 0);
    assert_int_equal(gw_sechdr_build(&b->policy, &b->snap), 0);
    assert_int_equal(gw_policy_answer_build(&b->policy), 0);
    return b;
}

static void built_free(struct built *b)
{
    gw_policy_answer_free(&b->policy);
    gw_cors_free(&b->policy);
    gw_sechdr_free(b->policy.sechdr);
    gw_config_free(b->cfg);
    free(b);
}

static const struct gw_answer_filter *filter(const struct built *b, const struct gw_sechdr_set *set,
                                             bool secure, bool cors)
{
    size_t i = (set ? set->index + 1 : 0) * 4 + (secure ? 2 : 0) + (cors ? 1 : 0);
    return &b->policy.answer_filters[i];
}

static bool hit(const struct gw_answer_filter *f, const char *name)
{
    return gw_answer_filter_hit(f, name, (uint32_t)strlen(name));
}

static void test_filters(void **state)
{
    (void)state;
    struct built *b = build();
    const struct gw_sechdr_set *set = b->policy.sechdr->svc[0].base;
    assert_non_null(set);
    /* security headers only: the names they replace, hide or keep, in any case */
    const struct gw_answer_filter *f = filter(b, set, false, false);
    assert_true(hit(f, "Server"));
    assert_true(hit(f, "server"));
    assert_true(hit(f, "X-Frame-Options"));
    assert_true(hit(f, "referrer-policy"));
    assert_true(hit(f, "Content-Security-Policy"));
    assert_false(hit(f, "Strict-Transport-Security")); /* over plain HTTP: not ours */
    assert_false(hit(f, "Date"));
    assert_false(hit(f, "Content-Type"));
    assert_false(hit(f, "Content-Length"));
    assert_false(hit(f, "ETag"));
    assert_false(hit(f, "Vary"));
    assert_false(hit(f, "Access-Control-Allow-Origin"));
    assert_true(hit(filter(b, set, true, false), "Strict-Transport-Security"));
    /* with CORS: Vary and Access-Control-* (any length) too */
    f = filter(b, set, false, true);
    assert_true(hit(f, "Server"));
    assert_true(hit(f, "vary"));
    assert_true(hit(f, "Access-Control-Allow-Origin"));
    assert_true(hit(f, "access-control-max-age"));
    assert_true(hit(f, "Access-Control-Allow-Headers-And-A-Very-Long-Name-Beyond-Sixty-Four"));
    assert_false(hit(f, "Date"));
    assert_false(hit(f, "ETag"));
    assert_false(hit(f, "Last-Modified"));
    assert_false(hit(f, "Transfer-Encoding"));
    /* CORS alone (no security-header set) */
    f = filter(b, NULL, false, true);
    assert_true(hit(f, "Vary"));
    assert_false(hit(f, "Server"));
    built_free(b);
}

static void test_joined_blocks(void **state)
{
    (void)state;
    struct built *b = build();
    const struct gw_cors_service *cs = b->policy.cors;
    /* a: the exact origin's lines, then the service's security headers (HSTS over TLS only) */
    assert_true(cs[0].plain);
    assert_int_equal(cs[0].base.nexact, 1);
    const struct gw_cors_pick *pick = &cs[0].base.exact[0].pick;
    assert_ptr_equal(pick->joined_set, b->policy.sechdr->svc[0].base);
    assert_string_equal(pick->joined[0], CORS_LINES DEFAULT_BLOCK);
    assert_string_equal(pick->joined[1], CORS_LINES HSTS_LINE DEFAULT_BLOCK);
    assert_int_equal(pick->joined_len[1], strlen(CORS_LINES HSTS_LINE DEFAULT_BLOCK));
    /* ... and without an allowed origin only Vary */
    assert_string_equal(cs[0].base.disallow.joined[0], "Vary: Origin\r\n" DEFAULT_BLOCK);
    /* b: no security headers: CORS's lines alone */
    pick = &cs[1].base.exact[0].pick;
    assert_null(pick->joined_set);
    assert_string_equal(pick->joined[0], CORS_LINES);
    assert_string_equal(pick->joined[1], CORS_LINES);
    /* c: the set depends on the path (a rule): nothing joined */
    assert_null(cs[2].base.exact[0].pick.joined[0]);
    assert_null(cs[2].base.disallow.joined[0]);
    /* d: no CORS */
    assert_false(cs[3].base.enabled);
    assert_false(cs[3].plain);
    built_free(b);
}

/* ---- an upstream answer's head, as upstream/rewrite.c builds it ---------------------------- */

struct exchange {
    struct gw_request *r;
    struct gw_http1_header req[2];
    struct gw_http1_header resp[8];
};

/* A GET to service svc with Origin origin (NULL: none), through the CORS row. */
static struct exchange *request(struct built *b, size_t svc, const char *origin)
{
    struct exchange *x = calloc(1, sizeof *x);
    assert_non_null(x);
    x->r = calloc(1, sizeof *x->r);
    assert_non_null(x->r);
    struct gw_request *r = x->r;
    r->snap = &b->snap;
    r->svc = &b->services[svc];
    r->msg.method_id = GW_METHOD_GET;
    r->msg.headers = x->req;
    r->msg.headers_capacity = 2;
    r->msg.origin_index = -1;
    if (origin) {
        x->req[0] = (struct gw_http1_header){.name = "Origin",
                                             .name_len = 6,
                                             .value = origin,
                                             .value_len = (uint32_t)strlen(origin)};
        r->msg.num_headers = 1;
        r->msg.origin_index = 0;
    }
    gw_buf_init(&r->rhead, 1 << 16);
    if (b->policy.cors[svc].base.enabled) {
        struct gw_answer a;
        assert_int_equal(gw_cors_on_request(r, &r->slot[GW_STAGE_CORS], &a), GW_STAGE_CONTINUE);
        assert_non_null(r->slot[GW_STAGE_CORS]);
    }
    return x;
}

/* The upstream's fields ("Name: value"), copied through the filter, then the hooks' lines: the
 * head that results (status line included, no final CRLF). */
static char *answer(struct built *b, struct exchange *x, bool secure, const char *const *lines,
                    size_t n)
{
    struct gw_request *r = x->r;
    r->secure = secure;
    r->rmsg.headers = x->resp;
    r->rmsg.num_headers = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        const char *colon = strchr(lines[i], ':');
        x->resp[i] = (struct gw_http1_header){.name = lines[i],
                                              .name_len = (uint32_t)(colon - lines[i]),
                                              .value = colon + 2,
                                              .value_len = (uint32_t)strlen(colon + 2)};
    }
    gw_buf_reset(&r->rhead);
    assert_int_equal(gw_buf_append_str(&r->rhead, "HTTP/1.1 200 OK\r\n"), 0);
    gw_policy_answer_prepare(&b->policy, r, secure);
    for (size_t i = 0; i < n; i++) {
        const struct gw_http1_header *h = &x->resp[i];
        if (r->answer_filter && gw_answer_filter_hit(r->answer_filter, h->name, h->name_len) &&
            gw_policy_answer_field(r, h))
            continue;
        assert_int_equal(gw_buf_append_str(&r->rhead, lines[i]), 0);
        assert_int_equal(gw_buf_append_str(&r->rhead, "\r\n"), 0);
    }
    bool joined = r->answer_block != NULL && r->answer_prepared == GW_ANSWER_PREPARED;
    assert_int_equal(gw_policy_answer_headers(&b->policy, r, secure, &r->rhead), 0);
    assert_int_equal(r->answer_prepared, 0);
    assert_null(r->answer_block);
    char *out = calloc(1, r->rhead.len + 8);
    assert_non_null(out);
    memcpy(out, r->rhead.data, r->rhead.len);
    strcat(out, joined ? "|J" : "|H"); /* how: the joined block or the hooks one by one */
    return out;
}

static void exchange_free(struct exchange *x)
{
    gw_buf_free(&x->r->rhead);
    free(x->r);
    free(x);
}

static void expect(char *got, const char *want)
{
    assert_string_equal(got, want);
    free(got);
}

static void test_upstream_answers(void **state)
{
    (void)state;
    struct built *b = build();
    struct exchange *x = request(b, 0, APP);
    static const char *const plain[] = {"Server: nginx", "Date: today", "ETag: \"1\""};
    /* the common answer: Server hidden, every line of the hooks in one copy */
    expect(answer(b, x, false, plain, 3),
           "HTTP/1.1 200 OK\r\nDate: today\r\nETag: \"1\"\r\n" CORS_LINES DEFAULT_BLOCK "|J");
    expect(answer(b, x, true, plain, 3),
           "HTTP/1.1 200 OK\r\nDate: today\r\nETag: \"1\"\r\n" CORS_LINES HSTS_LINE DEFAULT_BLOCK
           "|J");
    /* the upstream's own CORS headers go, Origin joins its Vary */
    static const char *const cors[] = {"Access-Control-Allow-Origin: *", "Vary: Accept-Encoding",
                                       "access-control-max-age: 5"};
    expect(answer(b, x, false, cors, 3),
           "HTTP/1.1 200 OK\r\nVary: Accept-Encoding, Origin\r\n"
           "Access-Control-Allow-Origin: " APP "\r\n"
           "Access-Control-Allow-Credentials: true\r\n"
           "Access-Control-Expose-Headers: X-Request-ID\r\n" DEFAULT_BLOCK "|H");
    /* an if_absent header the upstream set stays, once; an HSTS over plain HTTP is its own */
    static const char *const xfo[] = {"X-Frame-Options: DENY",
                                      "Strict-Transport-Security: max-age=1"};
    expect(answer(b, x, false, xfo, 2),
           "HTTP/1.1 200 OK\r\nX-Frame-Options: DENY\r\nStrict-Transport-Security: "
           "max-age=1\r\n" CORS_LINES
           "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n" CSP_DEFAULT
           "Cross-Origin-Opener-Policy: same-origin\r\nCross-Origin-Resource-Policy: "
           "same-origin\r\n|H");
    expect(answer(b, x, true, xfo, 2),
           "HTTP/1.1 200 OK\r\nX-Frame-Options: DENY\r\nStrict-Transport-Security: "
           "max-age=1\r\n" CORS_LINES
           "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n" CSP_DEFAULT
           "Cross-Origin-Opener-Policy: same-origin\r\nCross-Origin-Resource-Policy: "
           "same-origin\r\n|H");
    exchange_free(x);

    /* no Origin, and a disallowed one: Vary only (joined) */
    x = request(b, 0, NULL);
    expect(answer(b, x, false, plain, 3),
           "HTTP/1.1 200 OK\r\nDate: today\r\nETag: \"1\"\r\nVary: Origin\r\n" DEFAULT_BLOCK "|J");
    exchange_free(x);
    x = request(b, 0, "https://evil.example");
    expect(answer(b, x, false, plain, 3),
           "HTTP/1.1 200 OK\r\nDate: today\r\nETag: \"1\"\r\nVary: Origin\r\n" DEFAULT_BLOCK "|J");
    exchange_free(x);

    /* security headers off: CORS's lines alone; the upstream's Server stays */
    x = request(b, 1, APP);
    expect(answer(b, x, false, plain, 3),
           "HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: today\r\nETag: \"1\"\r\n" CORS_LINES "|J");
    exchange_free(x);

    /* security headers with a rule: each hook adds its own */
    x = request(b, 2, APP);
    expect(answer(b, x, false, plain, 3),
           "HTTP/1.1 200 OK\r\nDate: today\r\nETag: \"1\"\r\n" CORS_LINES DEFAULT_BLOCK "|H");
    exchange_free(x);

    /* no CORS: the security headers alone, through their hook */
    x = request(b, 3, APP);
    static const char *const vary[] = {"Server: nginx", "Vary: Accept"};
    expect(answer(b, x, false, vary, 2), "HTTP/1.1 200 OK\r\nVary: Accept\r\n" DEFAULT_BLOCK "|H");
    exchange_free(x);
    built_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_joined_blocks),
        cmocka_unit_test(test_upstream_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
