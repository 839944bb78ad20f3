/* Unit tests for the Prometheus text writer (src/observe/prom_text.c): label values are escaped
 * as text format 0.0.4 asks (backslash, double quote, line feed), and a value longer than the
 * buffer is cut inside its quotes, so the label set stays well formed whatever it holds; the
 * number writers are exact (integers digit for digit as printf writes them, seconds to the
 * nanosecond, doubles as "%.17g" whatever the last one written was); a histogram row's lines
 * are the ones the format asks for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

#include "core/buf.h"
#include "metrics/hist.h"
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

/* A deterministic 64-bit generator (splitmix64). */
static uint64_t next_random(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static void check_u64(uint64_t v)
{
    char got[GW__PROM_U64_MAX + 8], want[32];
    memset(got, 'x', sizeof got);
    char *end = gw__prom_u64_to(got, v);
    snprintf(want, sizeof want, "%" PRIu64, v);
    assert_int_equal((size_t)(end - got), strlen(want));
    assert_true((size_t)(end - got) <= GW__PROM_U64_MAX);
    assert_memory_equal(got, want, strlen(want));
    assert_int_equal(*end, 'x'); /* nothing written past the end it returned */
}

static void test_integers_are_exact(void **state)
{
    (void)state;
    for (uint64_t v = 0; v < 100000; v++)
        check_u64(v);
    /* Every digit count's edges: 10^k - 1, 10^k, 10^k + 1; and the largest value. */
    uint64_t p = 1;
    for (int k = 0; k < 20; k++) {
        check_u64(p - 1);
        check_u64(p);
        check_u64(p + 1);
        if (k < 19)
            p *= 10;
    }
    check_u64(UINT64_MAX);
    check_u64(UINT64_MAX - 1);
    check_u64((uint64_t)1 << 63);
    uint64_t x = 42;
    for (int i = 0; i < 200000; i++) {
        uint64_t v = next_random(&x);
        check_u64(v >> (v & 63)); /* every magnitude */
    }
}

static void test_seconds_are_exact(void **state)
{
    (void)state;
    const uint64_t edges[] = {0, 1, 999999999, 1000000000, 1000000001, 12000345678u, UINT64_MAX};
    uint64_t x = 7;
    for (int i = 0; i < 100000; i++) {
        uint64_t ns = i < 7 ? edges[i] : next_random(&x) >> (i % 64);
        char got[GW__PROM_SECONDS_MAX + 1], want[48];
        char *end = gw__prom_seconds_to(got, ns);
        *end = '\0';
        snprintf(want, sizeof want, "%" PRIu64 ".%09" PRIu64, ns / 1000000000u, ns % 1000000000u);
        assert_string_equal(got, want);
        assert_true((size_t)(end - got) <= GW__PROM_SECONDS_MAX);
    }
}

/* put_double of v, after whatever o wrote before: "%.17g" of v, which reads back to v's bits. */
static void check_double(struct gw__prom *o, double v)
{
    char want[48];
    snprintf(want, sizeof want, "%.17g", v);
    size_t at = o->b->len;
    gw__prom_put_double(o, v);
    assert_int_equal(o->rc, 0);
    assert_int_equal(o->b->len - at, strlen(want));
    assert_memory_equal(o->b->data + at, want, strlen(want));
    if (!isnan(v)) {
        double back = strtod(want, NULL);
        assert_memory_equal(&back, &v, sizeof v);
    }
}

static void test_doubles_are_exact_whatever_came_before(void **state)
{
    (void)state;
    struct gw_buf b;
    gw_buf_init(&b, SIZE_MAX);
    struct gw__prom o = {.b = &b};
    /* Repeats (the text kept is reused), values that compare equal but are not the same
     * (-0 and 0), values that never compare equal (NaN), the extremes. */
    const double some[] = {0.25,     0.25,     0.001,
                           0.25,     0.0,      -0.0,
                           -0.0,     0.0,      NAN,
                           NAN,      INFINITY, -INFINITY,
                           0.1,      0.1,      1e-300,
                           4.9e-324, 1e308,    1.7976931348623157e308,
                           2.5,      2.5,      0.30000000000000004,
                           0.3,      1.0 / 3,  123456789012345678.0};
    for (size_t i = 0; i < sizeof some / sizeof some[0]; i++)
        check_double(&o, some[i]);
    uint64_t x = 99;
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = next_random(&x);
        double v;
        memcpy(&v, &bits, sizeof v);
        check_double(&o, v);
        if (i % 3 == 0)
            check_double(&o, v);                          /* the same again */
        check_double(&o, (double)(bits % 100000) / 1000); /* short decimals, repeating */
    }
    gw_buf_free(&b);
}

/* A histogram row against the same lines written with printf. */
static void check_histogram(const char *labels)
{
    static struct gw_hist_sum h;
    memset(&h, 0, sizeof h);
    const uint64_t values_ns[] = {100, 700000, 700000, 2000000, 9000000, 300000000, 70000000000u};
    for (size_t i = 0; i < sizeof values_ns / sizeof values_ns[0]; i++) {
        unsigned at = gw_hist_index(values_ns[i]);
        h.b[at]++;
        h.used |= 1u << (at >> GW_HIST_SUB_BITS);
        h.count++;
        h.sum_ns += values_ns[i];
    }
    struct gw_buf b, want;
    gw_buf_init(&b, SIZE_MAX);
    gw_buf_init(&want, SIZE_MAX);
    struct gw__prom o = {.b = &b};
    gw__prom_histogram(&o, "x_seconds", labels, &h);
    assert_int_equal(o.rc, 0);
    static const double le_s[GW__PROM_NLE] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                              0.25,   0.5,   1,      2.5,   5,    10,    30,   60};
    const char *comma = labels[0] ? "," : "";
    for (size_t i = 0; i <= GW__PROM_NLE; i++) {
        uint64_t n = i < GW__PROM_NLE ? gw_hist_count_le(&h, le_s[i] * 1e9) : h.count;
        assert_int_equal(gw_buf_appendf(&want, "x_seconds_bucket{%s%sle=\"%s\"} %" PRIu64 "\n",
                                        labels, comma,
                                        i < GW__PROM_NLE ? gw__prom_le_text[i] : "+Inf", n),
                         0);
    }
    const char *open = labels[0] ? "{" : "", *close = labels[0] ? "}" : "";
    assert_int_equal(gw_buf_appendf(&want, "x_seconds_sum%s%s%s %" PRIu64 ".%09" PRIu64 "\n", open,
                                    labels, close, h.sum_ns / 1000000000u, h.sum_ns % 1000000000u),
                     0);
    assert_int_equal(
        gw_buf_appendf(&want, "x_seconds_count%s%s%s %" PRIu64 "\n", open, labels, close, h.count),
        0);
    assert_int_equal(b.len, want.len);
    assert_memory_equal(b.data, want.data, want.len);
    /* An empty histogram writes nothing. */
    memset(&h, 0, sizeof h);
    size_t before = b.len;
    gw__prom_histogram(&o, "x_seconds", labels, &h);
    assert_int_equal(b.len, before);
    gw_buf_free(&b);
    gw_buf_free(&want);
}

static void test_histogram_lines(void **state)
{
    (void)state;
    check_histogram("service=\"users\",route=\"/api/users\"");
    check_histogram("");
}

static void test_rows_keep_each_label_set(void **state)
{
    (void)state;
    struct gw__prom_rows rows;
    struct gw__prom_labels lb;
    gw__prom_rows_init(&rows);
    for (int i = 0; i < 1000; i++) {
        char name[32];
        snprintf(name, sizeof name, "svc%d\"%s", i, i % 2 ? "\n" : "");
        gw__prom_lbl_reset(&lb);
        gw__prom_lbl_add(&lb, "service", name);
        assert_int_equal(gw__prom_rows_push(&rows, &lb), 0);
    }
    assert_int_equal(rows.n, 1000);
    for (int i = 0; i < 1000; i++) {
        char want[64];
        size_t len;
        snprintf(want, sizeof want, "service=\"svc%d\\\"%s\"", i, i % 2 ? "\\n" : "");
        const char *got = gw__prom_rows_get(&rows, (size_t)i, &len);
        assert_int_equal(len, strlen(want));
        assert_memory_equal(got, want, len);
    }
    gw__prom_rows_free(&rows);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_long_values_are_cut_inside_their_quotes),
        cmocka_unit_test(test_integers_are_exact),
        cmocka_unit_test(test_seconds_are_exact),
        cmocka_unit_test(test_doubles_are_exact_whatever_came_before),
        cmocka_unit_test(test_histogram_lines),
        cmocka_unit_test(test_rows_keep_each_label_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
