/* Unit tests for src/conn/respond.c: every answer gantry gives itself has one JSON shape, its
 * status from the error table (or the answer's own), escaped strings, and Retry-After where a
 * client must wait. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "conn/internal.h"
#include "core/error.h"
#include "policy/chain.h"

static struct gw__answer_text render(const struct gw_answer *a, const char *id)
{
    struct gw__answer_text t;
    memset(&t, 0x5a, sizeof t); /* nothing may depend on the buffers being zeroed */
    gw__answer_render(a, id, &t);
    return t;
}

static void test_error_table_gives_status_and_message(void **unused)
{
    (void)unused;
    struct gw_answer a;
    gw_answer_init(&a, GW_ENOROUTE);
    struct gw__answer_text t = render(&a, "abc");
    assert_int_equal(t.status, 404);
    assert_string_equal(t.body,
                        "{\"error\":\"no route matched\",\"status\":404,\"request_id\":\"abc\"}");
    assert_int_equal(t.body_len, strlen(t.body));
    assert_int_equal(t.headers_len, 0);
    assert_false(a.close);
}

static void test_service_and_reason_are_escaped(void **unused)
{
    (void)unused;
    struct gw_answer a;
    gw_answer_init(&a, GW_ENOTARGET);
    a.service = "ev\"il\\\n";
    a.reason = "tab\there";
    struct gw__answer_text t = render(&a, "id");
    assert_int_equal(t.status, 503);
    assert_string_equal(t.body,
                        "{\"error\":\"no target available for service ev\\\"il\\\\\\u000a\","
                        "\"status\":503,\"request_id\":\"id\",\"reason\":\"tab\\u0009here\"}");
    /* a 503 always says when to come back */
    assert_string_equal(t.headers, "Retry-After: 1\r\n");
}

static void test_retry_after_and_status_override(void **unused)
{
    (void)unused;
    struct gw_answer a;
    gw_answer_init(&a, GW_ERATELIMITED);
    a.retry_after = 7;
    a.headers = "X-Extra: 1\r\n";
    struct gw__answer_text t = render(&a, "r");
    assert_int_equal(t.status, 429);
    assert_string_equal(t.body, "{\"error\":\"rate limit exceeded\",\"status\":429,\"request_id\":"
                                "\"r\",\"retry_after\":7}");
    assert_string_equal(t.headers, "Retry-After: 7\r\nX-Extra: 1\r\n");

    gw_answer_init(&a, GW_EINTROSPECT);
    a.status = 401;
    t = render(&a, "r");
    assert_int_equal(t.status, 401);
    assert_non_null(strstr(t.body, "\"status\":401"));
    assert_int_equal(t.headers_len, 0); /* not a 503, no retry_after: no Retry-After */
}

static void test_long_values_are_cut_not_overflowed(void **unused)
{
    (void)unused;
    char big[4000];
    memset(big, '"', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    struct gw_answer a;
    gw_answer_init(&a, GW_EFORBIDDEN);
    a.reason = big;
    a.headers = big;
    struct gw__answer_text t = render(&a, "r");
    assert_true(t.body_len < sizeof t.body);
    assert_int_equal(t.body_len, strlen(t.body));
    assert_true(t.headers_len < sizeof t.headers);
    assert_int_equal(t.headers_len, strlen(t.headers));
    /* an escape is never cut in half */
    size_t bs = 0;
    for (size_t i = t.body_len; i-- > 0 && t.body[i] == '\\';)
        bs++;
    assert_int_equal(bs % 2, 0);
}

static void test_extra_members_whole_or_not_at_all(void **unused)
{
    (void)unused;
    struct gw_answer a;
    gw_answer_init(&a, GW_EBODYTOOLARGE);
    assert_null(a.extra);
    a.status = 400;
    a.reason = "r";
    a.extra = "\"errors\":[{\"pointer\":\"/a\"}],\"n\":1";
    struct gw__answer_text t = render(&a, "id");
    assert_int_equal(t.status, 400);
    assert_string_equal(t.body, "{\"error\":\"request body too large\",\"status\":400,"
                                "\"request_id\":\"id\",\"reason\":\"r\",\"errors\":"
                                "[{\"pointer\":\"/a\"}],\"n\":1}");
    /* with retry_after: still one JSON object */
    gw_answer_init(&a, GW_ERATELIMITED);
    a.extra = "\"x\":true";
    a.retry_after = 3;
    t = render(&a, "id");
    assert_non_null(strstr(t.body, ",\"x\":true,\"retry_after\":3}"));
    /* too large for the body: left out, the rest intact */
    static char big[sizeof t.body + 100];
    memset(big, 'x', sizeof big - 1);
    memcpy(big, "\"k\":\"", 5);
    big[sizeof big - 2] = '"';
    big[sizeof big - 1] = '\0';
    gw_answer_init(&a, GW_EFORBIDDEN);
    a.extra = big;
    t = render(&a, "id");
    assert_string_equal(t.body, "{\"error\":\"insufficient role or permission\",\"status\":403,"
                                "\"request_id\":\"id\"}");
}

static void test_out_of_memory_closes(void **unused)
{
    (void)unused;
    struct gw_answer a;
    gw_answer_init(&a, GW_ENOMEM);
    assert_true(a.close);
    assert_int_equal(render(&a, "r").status, 500);
}

/* An answer that is not an error (a CORS preflight's 204): its status and headers, no body,
 * and no Retry-After unless asked for. */
static void test_empty_answer_has_no_body(void **unused)
{
    (void)unused;
    struct gw_answer a;
    gw_answer_init(&a, 0);
    assert_false(a.empty);
    a.status = 204;
    a.empty = true;
    a.headers = "Access-Control-Allow-Origin: https://a.example\r\n";
    struct gw__answer_text t = render(&a, "r");
    assert_int_equal(t.status, 204);
    assert_int_equal(t.body_len, 0);
    assert_string_equal(t.body, "");
    assert_string_equal(t.headers, "Access-Control-Allow-Origin: https://a.example\r\n");
    assert_false(a.close);

    /* an error answer may be empty too: its status from the table, no JSON */
    gw_answer_init(&a, GW_ENOTARGET);
    a.empty = true;
    t = render(&a, "r");
    assert_int_equal(t.status, 503);
    assert_int_equal(t.body_len, 0);
    assert_string_equal(t.headers, "Retry-After: 1\r\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_table_gives_status_and_message),
        cmocka_unit_test(test_service_and_reason_are_escaped),
        cmocka_unit_test(test_retry_after_and_status_override),
        cmocka_unit_test(test_long_values_are_cut_not_overflowed),
        cmocka_unit_test(test_extra_members_whole_or_not_at_all),
        cmocka_unit_test(test_out_of_memory_closes),
        cmocka_unit_test(test_empty_answer_has_no_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
