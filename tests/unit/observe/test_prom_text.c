/* Unit tests for the Prometheus text writer's label sets (src/observe/prom_text.c): values are
 * escaped as text format 0.0.4 asks (backslash, double quote, line feed), and a value longer than
 * the buffer is cut inside its quotes, so the label set stays well formed whatever it holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "observe/internal.h"

static void test_escapes(void **state)
{
    (void)state;
    struct gw__prom_labels lb;
    gw__prom_lbl_reset(&lb);
    assert_string_equal(lb.s, "");
    gw__prom_lbl_add(&lb, "service", "users");
    gw__prom_lbl_add(&lb, "route", "a\"b\\c\nd");
    gw__prom_lbl_add(&lb, "target", "");
    assert_string_equal(lb.s, "service=\"users\",route=\"a\\\"b\\\\c\\nd\",target=\"\"");
    assert_int_equal(lb.n, strlen(lb.s));
}

/* Every label of a set is name="value" with its quotes closed: true when s is a well-formed
 * label list (the escapes counted as the writer makes them). */
static int well_formed(const char *s)
{
    int labels = 0;
    while (*s) {
        while (*s && *s != '=')
            s++;
        if (s[0] != '=' || s[1] != '"')
            return -1;
        s += 2;
        while (*s && *s != '"') {
            if (*s == '\\') {
                if (s[1] != '\\' && s[1] != '"' && s[1] != 'n')
                    return -1;
                s++;
            }
            s++;
        }
        if (*s != '"')
            return -1;
        s++;
        labels++;
        if (*s == ',')
            s++;
        else if (*s)
            return -1;
    }
    return labels;
}

static void test_long_values_are_cut_inside_their_quotes(void **state)
{
    (void)state;
    static char route[1025], quotes[1500];
    memset(route, 'a', 1024);
    route[1024] = '\0';
    struct gw__prom_labels lb;
    /* The longest route prefix the configuration allows, with a service name of 64 and the
     * request row's other labels: all of it fits. */
    gw__prom_lbl_reset(&lb);
    gw__prom_lbl_add(&lb, "service",
                     "ssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss");
    gw__prom_lbl_add(&lb, "route", route);
    gw__prom_lbl_add(&lb, "method", "OPTIONS");
    gw__prom_lbl_add(&lb, "class", "2xx");
    gw__prom_lbl_add(&lb, "code", "200");
    assert_int_equal(well_formed(lb.s), 5);
    assert_non_null(strstr(lb.s, route));
    assert_non_null(strstr(lb.s, ",code=\"200\""));
    /* Far more than fits, every character escaped: cut, never left open, never overrun. */
    memset(quotes, '"', sizeof quotes - 1);
    quotes[sizeof quotes - 1] = '\0';
    for (int round = 0; round < 4; round++)
        gw__prom_lbl_add(&lb, "q", quotes);
    assert_true(lb.n < sizeof lb.s);
    assert_int_equal(lb.n, strlen(lb.s));
    /* the first "q" was cut to the room left; the others did not fit at all */
    assert_int_equal(well_formed(lb.s), 6);
    assert_true(lb.n > sizeof lb.s - 4);

    /* When not even name="" fits, the label is left out and the set stays as it was. */
    gw__prom_lbl_reset(&lb);
    while (lb.n + 8 < sizeof lb.s)
        gw__prom_lbl_add(&lb, "x", "");
    size_t before = lb.n;
    gw__prom_lbl_add(&lb, "longer_name", "v");
    assert_int_equal(lb.n, before);
    assert_int_equal(well_formed(lb.s), (int)(before + 1) / 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_long_values_are_cut_inside_their_quotes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
