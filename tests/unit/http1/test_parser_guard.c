/*
 * Guard-page test for the message-head parser: every row of parser_cases.h is placed so its
 * last byte sits just before a PROT_NONE page, and every prefix is parsed both by one parser
 * fed incrementally (the prefix moved to end at the guard before each call, as a realloc
 * would move it) and by a fresh parser. A read past len faults at once, sanitizers or not.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "http1/parser.h"

#include "../guard_page.h"
#include "parser_check.h"

static unsigned guard_fail(const struct pcase *c, const char *how, size_t k, int rc, int want,
                           const char *why)
{
    char esc[1024];
    escape_bytes(c->in, c->len, esc, sizeof(esc));
    fprintf(stderr, "FAIL guard '%s' [%s, prefix %zu]: got %s, expected %s%s%s\n  input: \"%s\"\n",
            c->name, how, k, rc_name(rc), rc_name(want), why ? ": " : "", why ? why : "", esc);
    return 1;
}

static unsigned guard_case(struct guard *g, const struct pcase *c)
{
    struct gw_http1_parser inc, fresh;
    struct gw_http1_message mi, mf;
    struct gw_http1_header hi[MAX_TEST_HEADERS], hf[MAX_TEST_HEADERS];
    int rc_inc = GW_HTTP1_PARTIAL;
    const char *why;

    pcase_init(c, &inc, &mi, hi);
    for (size_t k = 0; k <= c->len; k++) {
        /* Fresh parser on this prefix alone. */
        pcase_init(c, &fresh, &mf, hf);
        char *buf = guard_place(g, c->in, k);
        int rc_fresh = pcase_parse(c, &fresh, buf, k, &mf);
        if (rc_fresh == GW_HTTP1_DONE) {
            why = check_done(c, &mf, buf, k);
            if (why)
                return guard_fail(c, "fresh", k, rc_fresh, c->rc, why);
        }
        /* The incremental parser sees the same prefix, moved since its last call. */
        if (rc_inc == GW_HTTP1_PARTIAL) {
            buf = guard_place(g, c->in, k);
            rc_inc = pcase_parse(c, &inc, buf, k, &mi);
            if (rc_inc == GW_HTTP1_DONE) {
                why = check_done(c, &mi, buf, k);
                if (why)
                    return guard_fail(c, "incremental", k, rc_inc, c->rc, why);
            }
            if (rc_inc != rc_fresh)
                return guard_fail(c, "incremental vs fresh", k, rc_inc, rc_fresh, NULL);
        } else if (rc_fresh != GW_HTTP1_PARTIAL && rc_fresh != rc_inc) {
            /* A longer prefix may not change a result already reached. */
            return guard_fail(c, "fresh after the end", k, rc_fresh, rc_inc, NULL);
        }
    }
    if (!rc_accepted(c, rc_inc))
        return guard_fail(c, "final", c->len, rc_inc, c->rc, NULL);
    return 0;
}

static void test_guard_page(void **state)
{
    (void)state;
    size_t longest = 0;
    for (size_t i = 0; i < NUM_PARSER_CASES; i++)
        if (parser_cases[i].len > longest)
            longest = parser_cases[i].len;
    struct guard g;
    guard_init(&g, longest);

    unsigned failures = 0;
    for (size_t i = 0; i < NUM_PARSER_CASES; i++)
        failures += guard_case(&g, &parser_cases[i]);
    printf("guard page: %zu cases, every prefix, %u failing\n", NUM_PARSER_CASES, failures);
    guard_free(&g);
    assert_int_equal(failures, 0);
}

/* A head that fills the readable pages exactly, so the last LF is the last readable byte. */
static void test_guard_page_full(void **state)
{
    (void)state;
    struct guard g;
    guard_init(&g, 1);
    static const char start[] = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
    char *buf = g.map;
    size_t n = g.size;
    memcpy(buf, start, sizeof(start) - 1);
    memset(buf + sizeof(start) - 1, 'v', n - (sizeof(start) - 1) - 4);
    memcpy(buf + n - 4, "\r\n\r\n", 4);

    struct gw_http1_parser p;
    struct gw_http1_message m = {0};
    struct gw_http1_header hdrs[4];
    m.headers = hdrs;
    m.headers_capacity = 4;
    gw_http1_parser_init_request(&p, NULL);
    assert_int_equal(gw_http1_parse_request(&p, buf, n, &m), GW_HTTP1_DONE);
    assert_int_equal(m.head_len, n);
    assert_int_equal(m.headers[1].value_len, n - (sizeof(start) - 1) - 4);

    /* The same bytes delivered one at a time in place. */
    gw_http1_parser_init_request(&p, NULL);
    int rc = GW_HTTP1_PARTIAL;
    for (size_t k = 1; k <= n && rc == GW_HTTP1_PARTIAL; k++)
        rc = gw_http1_parse_request(&p, buf, k, &m);
    assert_int_equal(rc, GW_HTTP1_DONE);
    assert_int_equal(m.head_len, n);
    guard_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guard_page),
        cmocka_unit_test(test_guard_page_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
