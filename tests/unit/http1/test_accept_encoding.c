/* Unit tests for src/http1/accept_encoding.c: Accept-Encoding parsing and the choice of coding
 * (RFC 9110 12.5.3), with every value read at the end of a guard page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../guard_page.h"
#include "http1/accept_encoding.h"

#define BOTH (GW_CODING_BIT(GW_CODING_GZIP) | GW_CODING_BIT(GW_CODING_BR))

/* The coding chosen for one field value (read ending at a guard page). */
static enum gw_coding choose(const char *v, unsigned offered)
{
    struct guard g;
    guard_init(&g, strlen(v) + 1);
    const char *p = guard_place(&g, v, strlen(v));
    struct gw_accept_encoding ae;
    gw_accept_encoding_init(&ae);
    gw_accept_encoding_parse(&ae, p, strlen(v));
    enum gw_coding c = gw_accept_encoding_choose(&ae, offered);
    guard_free(&g);
    return c;
}

static void test_plain_lists(void **unused)
{
    (void)unused;
    assert_int_equal(choose("gzip", BOTH), GW_CODING_GZIP);
    assert_int_equal(choose("br", BOTH), GW_CODING_BR);
    assert_int_equal(choose("gzip, deflate, br", BOTH), GW_CODING_BR); /* equal q: br */
    assert_int_equal(choose("deflate, compress", BOTH), GW_CODING_IDENTITY);
    assert_int_equal(choose("", BOTH), GW_CODING_IDENTITY);
    assert_int_equal(choose(" , ,gzip , ", BOTH), GW_CODING_GZIP);
    assert_int_equal(choose("x-gzip", BOTH), GW_CODING_GZIP);
    assert_int_equal(choose("GZip", BOTH), GW_CODING_GZIP);
    assert_int_equal(choose("gzipx, brr", BOTH), GW_CODING_IDENTITY);
}

static void test_q_values(void **unused)
{
    (void)unused;
    assert_int_equal(choose("gzip;q=1.0, br;q=0.5", BOTH), GW_CODING_GZIP);
    assert_int_equal(choose("gzip;q=0.5, br;q=0.500", BOTH), GW_CODING_BR);
    assert_int_equal(choose("gzip ; q=0.9 , br;Q=0.91", BOTH), GW_CODING_BR);
    assert_int_equal(choose("gzip;q=0, br;q=0", BOTH), GW_CODING_IDENTITY);
    assert_int_equal(choose("gzip;q=0.001", BOTH), GW_CODING_GZIP);
    assert_int_equal(choose("br;q=0.0", BOTH), GW_CODING_IDENTITY);
    /* not qvalues: the element is skipped */
    assert_int_equal(choose("gzip;q=2", BOTH), GW_CODING_IDENTITY);
    assert_int_equal(choose("gzip;q=1.001", BOTH), GW_CODING_IDENTITY);
    assert_int_equal(choose("gzip;q=0.1234", BOTH), GW_CODING_IDENTITY);
    assert_int_equal(choose("gzip;q=", BOTH), GW_CODING_IDENTITY);
    assert_int_equal(choose("gzip;q=.5", BOTH), GW_CODING_IDENTITY);
    assert_int_equal(choose("gzip;q=0.5x, br;q=0.1", BOTH), GW_CODING_BR);
    /* other parameters are ignored; junk after the coding skips the element */
    assert_int_equal(choose("gzip;level=3;q=0.4, br;q=0.3", BOTH), GW_CODING_GZIP);
    assert_int_equal(choose("gzip junk, br;q=0.1", BOTH), GW_CODING_BR);
    /* the last q of a coding named twice counts */
    assert_int_equal(choose("gzip;q=0.9, gzip;q=0, br;q=0.1", BOTH), GW_CODING_BR);
}

static void test_identity_and_star(void **unused)
{
    (void)unused;
    assert_int_equal(choose("*", BOTH), GW_CODING_BR);
    assert_int_equal(choose("*", GW_CODING_BIT(GW_CODING_GZIP)), GW_CODING_GZIP);
    assert_int_equal(choose("*;q=0.5, br;q=0", BOTH), GW_CODING_GZIP);
    assert_int_equal(choose("*;q=0", BOTH), GW_CODING_IDENTITY);
    assert_int_equal(choose("gzip;q=0.5, identity", BOTH), GW_CODING_IDENTITY);
    assert_int_equal(choose("gzip, identity;q=0.5", BOTH), GW_CODING_GZIP);
    assert_int_equal(choose("gzip;q=0.5, identity;q=0.5", BOTH), GW_CODING_GZIP);
    assert_int_equal(choose("identity;q=0", BOTH), GW_CODING_IDENTITY); /* nothing else fits */
    /* only what is offered */
    assert_int_equal(choose("br", GW_CODING_BIT(GW_CODING_GZIP)), GW_CODING_IDENTITY);
    assert_int_equal(choose("br, gzip;q=0.1", GW_CODING_BIT(GW_CODING_GZIP)), GW_CODING_GZIP);
    assert_int_equal(choose("gzip, br", 0), GW_CODING_IDENTITY);
}

static void test_several_lines_are_one_list(void **unused)
{
    (void)unused;
    struct gw_accept_encoding ae;
    gw_accept_encoding_init(&ae);
    assert_int_equal(gw_accept_encoding_choose(&ae, BOTH), GW_CODING_IDENTITY); /* no field */
    gw_accept_encoding_parse(&ae, "br;q=0", 6);
    gw_accept_encoding_parse(&ae, "gzip", 4);
    assert_int_equal(gw_accept_encoding_choose(&ae, BOTH), GW_CODING_GZIP);
    assert_int_equal(ae.br, 0);
    assert_int_equal(ae.gzip, 1000);
    assert_int_equal(ae.identity, GW_QVALUE_UNSET);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_lists),
        cmocka_unit_test(test_q_values),
        cmocka_unit_test(test_identity_and_star),
        cmocka_unit_test(test_several_lines_are_one_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
