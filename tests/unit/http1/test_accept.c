/* Unit tests for src/http1/accept.c: media-type negotiation by Accept (RFC 9110 12.5.1), with
 * every value read at the end of a guard page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../guard_page.h"
#include "http1/accept.h"

static const char *const METRICS[] = {"text/plain", "application/json"};

/* The index chosen among offered for one field value (read ending at a guard page). */
static int choose(const char *v, const char *const *offered, size_t n)
{
    struct guard g;
    guard_init(&g, strlen(v) + 1);
    const char *p = guard_place(&g, v, strlen(v));
    int c = gw_accept_choose_value(p, strlen(v), offered, n);
    guard_free(&g);
    return c;
}

static void test_exact_and_order(void **unused)
{
    (void)unused;
    assert_int_equal(choose("application/json", METRICS, 2), 1);
    assert_int_equal(choose("text/plain", METRICS, 2), 0);
    assert_int_equal(choose("APPLICATION/JSON", METRICS, 2), 1);
    /* equal q: the server's order */
    assert_int_equal(choose("application/json, text/plain", METRICS, 2), 0);
    assert_int_equal(choose("text/html", METRICS, 2), -1);
    assert_int_equal(choose("", METRICS, 2), -1);
    assert_int_equal(choose(" , ,application/json , ", METRICS, 2), 1);
}

static void test_q_values(void **unused)
{
    (void)unused;
    /* what the audit sent: the client refuses JSON, or prefers text */
    assert_int_equal(choose("application/json;q=0, text/plain", METRICS, 2), 0);
    assert_int_equal(choose("text/plain, application/json;q=0.5", METRICS, 2), 0);
    assert_int_equal(choose("text/plain;q=0.4, application/json;q=0.5", METRICS, 2), 1);
    assert_int_equal(choose("application/json ; q=0.9 , text/plain;Q=0.91", METRICS, 2), 0);
    assert_int_equal(choose("application/json;q=0, text/plain;q=0", METRICS, 2), -1);
    /* an unreadable weight skips its element */
    assert_int_equal(choose("application/json;q=2, text/plain;q=0.1", METRICS, 2), 0);
    assert_int_equal(choose("application/json;q=0.5x", METRICS, 2), -1);
    /* parameters before the weight are not compared; accept-ext after it is ignored */
    assert_int_equal(
        choose("text/plain;version=0.0.4;q=0.3, application/json;q=0.2;x=y", METRICS, 2), 0);
}

static void test_ranges(void **unused)
{
    (void)unused;
    assert_int_equal(choose("*/*", METRICS, 2), 0);
    assert_int_equal(choose("application/*", METRICS, 2), 1);
    assert_int_equal(choose("text/*;q=0.1, */*;q=0.5", METRICS, 2), 1);
    /* the most specific range decides a type's q, whatever their order */
    assert_int_equal(choose("application/json;q=0, */*", METRICS, 2), 0);
    assert_int_equal(choose("*/*, application/json;q=0", METRICS, 2), 0);
    assert_int_equal(choose("text/plain;q=0, application/*;q=0.2", METRICS, 2), 1);
    /* Prometheus' own Accept: the exposition format wins */
    assert_int_equal(choose("application/openmetrics-text;version=1.0.0;q=0.5,text/plain;"
                            "version=0.0.4;q=0.4,*/*;q=0.1",
                            METRICS, 2),
                     0);
    /* not media ranges */
    assert_int_equal(choose("json, *, text", METRICS, 2), -1);
    assert_int_equal(choose("*/json", METRICS, 2), -1);
    assert_int_equal(choose("text/plainx", METRICS, 2), -1);
    assert_int_equal(choose("text/", METRICS, 2), -1);
}

static void test_field_lines(void **unused)
{
    (void)unused;
    struct gw_http1_header h[2] = {
        {.name = "Accept", .name_len = 6, .value = "text/plain;q=0.1", .value_len = 16},
        {.name = "accept", .name_len = 6, .value = "application/json", .value_len = 16},
    };
    struct gw_http1_message m = {.headers = h, .num_headers = 2};
    assert_int_equal(gw_accept_choose(&m, METRICS, 2), 1); /* two lines are one list */
    m.num_headers = 0;
    assert_int_equal(gw_accept_choose(&m, METRICS, 2), 0); /* no Accept: anything goes */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_and_order),
        cmocka_unit_test(test_q_values),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_field_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
