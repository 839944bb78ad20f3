/* Unit tests for the pure editing functions of src/policy/transform.c: query edits, the prefix
 * rewrite on a path and its spelling, regular-expression replacements, JSON body edits, the
 * JSON media types; and the constant request-header plans (their ready lines, and a request
 * through the stage with them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <pcre2.h>

#include "config/config.h"
#include "conn/request-t.h"
#include "control/snapshot-t.h"
#include "core/error.h"
#include "policy/chain.h"
#include "policy/policy.h"
#include "policy/stages.h"
#include "policy/transform.h"

static struct gw_template *tpl(const char *s)
{
    struct gw_template *t = NULL;
    size_t at;
    char why[256];
    assert_int_equal(gw_template_parse(s, strlen(s), &t, &at, why, sizeof why), 0);
    return t;
}

static char *str(struct gw_buf *b)
{
    char *s = malloc(b->len + 1);
    assert_non_null(s);
    if (b->len)
        memcpy(s, b->data, b->len);
    s[b->len] = '\0';
    return s;
}

static void test_query_edit(void **unused)
{
    (void)unused;
    char *remove[] = {"debug"};
    struct gw_tf_rename rename[] = {{"q", "search"}};
    struct gw_tf_value set[] = {{"v", tpl("2")}};
    struct gw_tf_value add[] = {{"via", tpl("a b&c=$service")}};
    struct gw_tf_fields f = {remove, 1, rename, 1, set, 1, add, 1};
    struct gw_tpl_source src = {.service = "svc"};
    struct gw_buf out;
    gw_buf_init(&out, 4096);
    const char *q = "q=cats&debug=1&%64ebug=2&&v=1&keep=a%20b&qq=1&q";
    assert_int_equal(gw_tf_query_edit(q, strlen(q), &f, &src, &out), 0);
    char *s = str(&out);
    assert_string_equal(s, "search=cats&keep=a%20b&qq=1&search&v=2&via=a%20b%26c%3Dsvc");
    free(s);
    gw_buf_reset(&out);
    assert_int_equal(gw_tf_query_edit("", 0, &f, &src, &out), 0);
    s = str(&out);
    assert_string_equal(s, "v=2&via=a%20b%26c%3Dsvc");
    free(s);
    gw_buf_free(&out);
    gw_template_free(set[0].value);
    gw_template_free(add[0].value);
}

static void prefix(const char *norm, const char *spell, const char *from, const char *to, int want,
                   const char *want_norm, const char *want_spell)
{
    struct gw_buf n, s;
    gw_buf_init(&n, 4096);
    gw_buf_init(&s, 4096);
    assert_int_equal(gw_tf_path_prefix(norm, strlen(norm), spell, strlen(spell), from, to, &n, &s),
                     want);
    if (want == 1) {
        char *a = str(&n), *b = str(&s);
        assert_string_equal(a, want_norm);
        assert_string_equal(b, want_spell);
        free(a);
        free(b);
    }
    gw_buf_free(&n);
    gw_buf_free(&s);
}

static void test_path_prefix(void **unused)
{
    (void)unused;
    prefix("/api/v1/~jo", "/api/%76%31/%7Ejo", "/api/v1", "/v2", 1, "/v2/~jo", "/v2/%7Ejo");
    prefix("/api/v1", "/api/v1", "/api/v1", "/v2", 1, "/v2", "/v2");
    prefix("/api/v1/", "/api/v1/", "/api/v1", "/", 1, "/", "/");
    prefix("/api/v1/x", "/api/v1/x", "/api/v1", "/", 1, "/x", "/x");
    prefix("/api/v10", "/api/v10", "/api/v1", "/v2", 0, NULL, NULL); /* segment boundary */
    prefix("/x", "/x", "/", "/root", 1, "/root/x", "/root/x");
}

static void test_expand(void **unused)
{
    (void)unused;
    int err;
    PCRE2_SIZE at;
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR) "^/u/([0-9]+)(/x)?$", PCRE2_ZERO_TERMINATED, 0, &err, &at, NULL);
    assert_non_null(re);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    const char *s = "/u/42";
    assert_true(pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, md, NULL) > 0);
    struct gw_buf out;
    gw_buf_init(&out, 4096);
    assert_int_equal(gw_tf_expand("/users/$1$2?$$=$0$9$", s, pcre2_get_ovector_pointer(md),
                                  pcre2_get_ovector_count(md), &out),
                     0);
    char *got = str(&out);
    assert_string_equal(got, "/users/42?$=/u/42$");
    free(got);
    gw_buf_free(&out);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
}

static void test_json_edit(void **unused)
{
    (void)unused;
    char *remove[] = {"secret", "meta.internal", "no.such"};
    struct gw_tf_rename rename[] = {{"name", "user.name"}};
    char *add_names[] = {"meta.by", "price", "tag"};
    json_t *add[] = {json_string("$service"), json_real(0.1), json_string("x")};
    struct gw_template *tpls[] = {tpl("$service"), NULL, tpl("x")};
    struct gw_tf_body b = {remove, 3, rename, 1, add_names, add, tpls, 3};
    const char *vals[] = {"svc", NULL, "x"};
    struct gw_tf_json_layer jl = {&b, vals};
    struct gw_buf out;
    gw_buf_init(&out, 4096);
    const char *body = "{\"name\":\"Ann\",\"secret\":1,\"meta\":{\"internal\":true,\"n\":2.5}}";
    assert_int_equal(gw_tf_json_edit(body, strlen(body), &jl, 1, &out), 1);
    char *got = str(&out);
    assert_string_equal(got, "{\"meta\":{\"n\":2.5,\"by\":\"svc\"},\"user\":{\"name\":\"Ann\"},"
                             "\"price\":0.1,\"tag\":\"x\"}");
    free(got);
    /* not an object, not JSON, duplicate names: untouched */
    gw_buf_reset(&out);
    assert_int_equal(gw_tf_json_edit("[1]", 3, &jl, 1, &out), 0);
    assert_int_equal(gw_tf_json_edit("{\"a\":", 5, &jl, 1, &out), 0);
    assert_int_equal(gw_tf_json_edit("{\"a\":1,\"a\":2}", 13, &jl, 1, &out), 0);
    assert_int_equal(out.len, 0);
    gw_buf_free(&out);
    for (size_t i = 0; i < 3; i++) {
        json_decref(add[i]);
        gw_template_free(tpls[i]);
    }
}

static void test_is_json(void **unused)
{
    (void)unused;
    assert_true(gw_tf_is_json("application/json", 16));
    assert_true(gw_tf_is_json("Application/JSON; charset=utf-8", 31));
    assert_true(gw_tf_is_json("application/problem+json", 24));
    assert_false(gw_tf_is_json("application/jsonx", 17));
    assert_false(gw_tf_is_json("text/json", 9));
}

/* ---- constant request-header plans ---------------------------------------------------------- */

/* Services a, trace, origin, cert, state (constant edits) and var (a variable). */
static const char PLANS[] =
    "{\"services\": ["
    "{\"name\": \"a\", \"prefix\": \"/a\", \"targets\": [\"http://h:1\"], \"transform\": "
    "{\"request\": {\"headers\": {\"set\": {\"X-Gateway\": \"gantry\"}, \"add\": {\"X-Two\": "
    "\"2\"}, \"remove\": [\"X-Debug\"]}}}},"
    "{\"name\": \"trace\", \"prefix\": \"/t\", \"targets\": [\"http://h:1\"], \"transform\": "
    "{\"request\": {\"headers\": {\"set\": {\"traceparent\": \"00-1-2-01\"}}}}},"
    "{\"name\": \"origin\", \"prefix\": \"/o\", \"targets\": [\"http://h:1\"], \"transform\": "
    "{\"request\": {\"headers\": {\"set\": {\"Origin\": \"https://b.example\"}}}}},"
    "{\"name\": \"cert\", \"prefix\": \"/c\", \"targets\": [\"http://h:1\"], \"transform\": "
    "{\"request\": {\"headers\": {\"add\": {\"X-Client-Cert-Subject\": \"CN=me\"}}}}},"
    "{\"name\": \"state\", \"prefix\": \"/s\", \"targets\": [\"http://h:1\"], \"transform\": "
    "{\"request\": {\"headers\": {\"set\": {\"TraceState\": \"a=1\"}}}}},"
    "{\"name\": \"var\", \"prefix\": \"/v\", \"targets\": [\"http://h:1\"], \"transform\": "
    "{\"request\": {\"headers\": {\"set\": {\"X-Id\": \"$request_id\"}}}}}]}";

struct plans {
    struct gw_config *cfg;
    struct gw_snapshot snap;
    struct gw_policy policy;
    struct gw_service services[6];
};

static struct plans *plans_build(void)
{
    struct plans *b = calloc(1, sizeof *b);
    struct gw_config_errors errs;
    char why[256];
    assert_non_null(b);
    if (gw_config_load_string("t.json", PLANS, strlen(PLANS), &b->cfg, &errs) != 0) {
        gw_config_errors_print(&errs, stderr);
        fail_msg("config does not load");
    }
    gw_config_errors_free(&errs);
    assert_int_equal(b->cfg->nservices, 6);
    for (size_t i = 0; i < 6; i++)
        b->services[i].conf = &b->cfg->services[i];
    b->snap.cfg = b->cfg;
    b->snap.nservices = 6;
    b->snap.services = b->services;
    b->snap.policy = &b->policy;
    b->policy.cfg = b->cfg;
    assert_int_equal(gw_transform_build(&b->policy, &b->snap, why, sizeof why), 0);
    return b;
}

static void test_const_plan_lines(void **unused)
{
    (void)unused;
    struct plans *b = plans_build();
    const struct gw_tf_plan *p = b->policy.transforms;
    /* the fields a set adds go as ready lines, in order */
    assert_true(p[0].const_headers);
    assert_string_equal(p[0].fwd_block, "X-Gateway: gantry\r\nX-Two: 2\r\n");
    assert_int_equal(p[0].fwd_block_len, strlen(p[0].fwd_block));
    /* ... unless gantry writes or drops a field of that name itself (the config refuses most:
     * Host, X-Forwarded-*, identity, hop-by-hop), or it is the Origin: then in the field list */
    for (size_t i = 1; i <= 4; i++) {
        assert_true(p[i].const_headers);
        assert_null(p[i].fwd_block);
    }
    /* variables are rendered per request: no plan of constants */
    assert_false(p[5].const_headers);
    assert_null(p[5].fwd_block);
    gw_transform_free(&b->policy);
    gw_config_free(b->cfg);
    free(b);
}

/* A request of service 0 with fields fields[0..n): the stage's verdict, its field list after. */
static void through_stage(struct plans *b, uint32_t later_rows, const char *const *fields, size_t n,
                          const char *want_fields, const char *want_lines)
{
    struct gw_request *r = calloc(1, sizeof *r);
    struct gw_http1_header h[8];
    struct gw_answer a;
    assert_non_null(r);
    r->snap = &b->snap;
    r->svc = &b->services[0];
    b->services[0].stages = later_rows;
    r->msg.headers = h;
    r->msg.headers_capacity = 8;
    r->msg.num_headers = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        const char *colon = strchr(fields[i], ':');
        h[i] = (struct gw_http1_header){.name = fields[i],
                                        .name_len = (uint32_t)(colon - fields[i]),
                                        .value = colon + 2,
                                        .value_len = (uint32_t)strlen(colon + 2)};
    }
    r->msg.host_index = 0;
    r->msg.origin_index = -1;
    assert_int_equal(gw_transform_on_request(r, &r->slot[GW_STAGE_TRANSFORM], &a),
                     GW_STAGE_CONTINUE);
    assert_null(r->slot[GW_STAGE_TRANSFORM]); /* no state */
    char got[256] = "";
    for (uint32_t i = 0; i < r->msg.num_headers; i++) {
        size_t at = strlen(got);
        snprintf(got + at, sizeof got - at, "%.*s;", (int)r->msg.headers[i].name_len,
                 r->msg.headers[i].name);
    }
    assert_string_equal(got, want_fields);
    if (want_lines) {
        assert_non_null(r->fwd_lines);
        assert_int_equal(r->fwd_lines_len, strlen(want_lines));
        assert_memory_equal(r->fwd_lines, want_lines, r->fwd_lines_len);
    } else {
        assert_null(r->fwd_lines);
    }
    assert_int_equal(r->msg.host_index, 0);
    free(r);
}

static void test_const_plan_requests(void **unused)
{
    (void)unused;
    struct plans *b = plans_build();
    static const char lines[] = "X-Gateway: gantry\r\nX-Two: 2\r\n";
    static const char *const plain[] = {"Host: a", "Accept: */*"};
    static const char *const theirs[] = {"Host: a", "x-gateway: client", "X-Debug: 1",
                                         "Origin: https://a.example", "X_Gateway: 2"};
    /* nothing of theirs to drop: the fields stay, the lines go after them */
    through_stage(b, 0, plain, 2, "Host;Accept;", lines);
    /* their X-Gateway (any spelling) and X-Debug go; Origin's index follows its move */
    through_stage(b, 0, theirs, 5, "Host;Origin;", lines);
    /* a later row reads the fields (the cache): the added ones go into the list */
    through_stage(b, 1u << GW_STAGE_CACHE, plain, 2, "Host;Accept;X-Gateway;X-Two;", NULL);
    through_stage(b, 1u << GW_STAGE_CACHE, theirs, 5, "Host;Origin;X-Gateway;X-Two;", NULL);
    /* security headers read only the path: lines again */
    through_stage(b, 1u << GW_STAGE_SECHDR, theirs, 5, "Host;Origin;", lines);
    gw_transform_free(&b->policy);
    gw_config_free(b->cfg);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_edit),
        cmocka_unit_test(test_path_prefix),
        cmocka_unit_test(test_expand),
        cmocka_unit_test(test_json_edit),
        cmocka_unit_test(test_is_json),
        cmocka_unit_test(test_const_plan_lines),
        cmocka_unit_test(test_const_plan_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
