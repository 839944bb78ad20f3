/* Unit tests for src/metrics/hist.h: the bucket layout is a partition of the range (every value
 * lands in the bucket whose bounds hold it, buckets are contiguous and ordered), a bucket's
 * midpoint is within 1/64 of every value in it, and percentiles read from a histogram are within
 * +-1.5625% of the exact percentiles of the same data (nearest rank), on random data spread over
 * eight orders of magnitude. Also the recording side (metrics/metrics.h) and the exported
 * cumulative counts. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics/hist.h"
#include "metrics/metrics.h"

/* The promised accuracy: relative 1/64 at and above 32 units (512 ns), 8 ns (half a unit)
 * below. */
static double allowed_error(double exact)
{
    return exact >= 512.0 ? exact / 64.0 : 8.0;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Log-uniform in [1 ns, 100 s]. */
static uint64_t random_ns(void)
{
    double e = (double)(rng() % 1000000) / 1000000.0 * 11.0; /* 10^0 .. 10^11 */
    return (uint64_t)pow(10.0, e);
}

static void test_layout_is_a_partition(void **state)
{
    (void)state;
    uint64_t prev_hi = 0;
    for (unsigned i = 0; i < GW_HIST_BUCKETS; i++) {
        uint64_t lo, hi;
        gw_hist_bounds(i, &lo, &hi);
        assert_true(lo < hi);
        if (lo != prev_hi)
            fail_msg("bucket %u starts at %llu, the previous ended at %llu", i,
                     (unsigned long long)lo, (unsigned long long)prev_hi);
        prev_hi = hi;
        assert_int_equal(gw_hist_index(lo), i);
        assert_int_equal(gw_hist_index(hi - 1), i);
        /* The midpoint is within 1/64 of every value of the bucket (at and above 512 ns). */
        double mid = gw_hist_value(i);
        if (lo >= 512) {
            assert_true(mid - (double)lo <= (double)lo / 64.0);
            assert_true((double)hi - mid <= (double)lo / 64.0 + 1e-9);
        } else {
            assert_true(mid - (double)lo <= 8.0 && (double)hi - mid <= 8.0);
        }
    }
    /* 2^33 units of 16 ns: about 137 s; everything beyond lands in the last bucket. */
    assert_true(prev_hi >= UINT64_C(137000000000));
    assert_int_equal(gw_hist_index(UINT64_MAX), GW_HIST_BUCKETS - 1);
    assert_int_equal(gw_hist_index(0), 0);
    assert_int_equal(GW_HIST_BUCKETS, 928);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void fill(struct gw_hist_sum *h, const uint64_t *v, size_t n)
{
    memset(h, 0, sizeof *h);
    for (size_t i = 0; i < n; i++) {
        unsigned k = gw_hist_index(v[i]);
        h->b[k]++;
        h->used |= 1u << (k >> GW_HIST_SUB_BITS);
        h->count++;
        h->sum_ns += v[i];
    }
}

/* Exact nearest-rank percentile of sorted v. */
static uint64_t exact_quantile(const uint64_t *v, size_t n, double q)
{
    size_t rank = (size_t)ceil(q * (double)n);
    if (rank == 0)
        rank = 1;
    return v[rank - 1];
}

static void check_quantiles(uint64_t *v, size_t n)
{
    static struct gw_hist_sum h;
    static const double qs[] = {0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0};
    fill(&h, v, n);
    qsort(v, n, sizeof v[0], cmp_u64);
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        double exact = (double)exact_quantile(v, n, qs[i]);
        double got = gw_hist_quantile(&h, qs[i]);
        if (fabs(got - exact) > allowed_error(exact))
            fail_msg("q=%g of %zu values: %f, exact %f (error %.4f%%)", qs[i], n, got, exact,
                     100 * fabs(got - exact) / exact);
    }
}

static void test_percentiles_within_the_bound(void **state)
{
    (void)state;
    static uint64_t v[200000];
    for (int round = 0; round < 20; round++) {
        size_t n = 1 + (size_t)(rng() % (sizeof v / sizeof v[0]));
        for (size_t i = 0; i < n; i++)
            v[i] = random_ns();
        check_quantiles(v, n);
    }
    /* Narrow distributions: every value in one or two buckets (a fixed latency). */
    for (int round = 0; round < 200; round++) {
        uint64_t base = random_ns();
        size_t n = 1000;
        for (size_t i = 0; i < n; i++)
            v[i] = base + rng() % (base / 50 + 1);
        check_quantiles(v, n);
    }
}

static void test_empty_and_cumulative(void **state)
{
    (void)state;
    static struct gw_hist_sum h;
    memset(&h, 0, sizeof h);
    assert_true(gw_hist_quantile(&h, 0.99) == 0);
    uint64_t v[] = {100000, 200000, 900000, 1500000, 3000000, 90000000}; /* ns */
    fill(&h, v, 6);
    const double les[] = {5e5, 1e6, 2.5e6, 1e8};
    uint64_t cum[4];
    gw_hist_cumulative(&h, les, 4, cum);
    assert_int_equal(cum[0], 2);
    assert_int_equal(cum[1], 3);
    assert_int_equal(cum[2], 4);
    assert_int_equal(cum[3], 6);
    assert_int_equal(gw_hist_count_le(&h, 1e6), 3);
    static struct gw_hist_sum twice;
    memset(&twice, 0, sizeof twice);
    gw_hist_sum_add(&twice, &h);
    gw_hist_sum_add(&twice, &h);
    assert_int_equal(twice.count, 12);
    assert_int_equal(twice.sum_ns, 2 * h.sum_ns);
}

/* The worker's recording helper writes the same buckets and the group mask. */
static void test_recording(void **state)
{
    (void)state;
    gw_mx_ctr *rows = calloc(GW_MX_H_WORDS * 2, sizeof *rows);
    assert_non_null(rows);
    struct gw_metrics_area a = {.rows = {[GW_MX_HIST] = rows}};
    gw_mx_hist_record(&a, 1, 1000);
    gw_mx_hist_record(&a, 1, 1000);
    gw_mx_hist_record(&a, 1, 5000000000u);
    gw_mx_ctr *h = rows + GW_MX_H_WORDS;
    assert_int_equal(gw_mx_get(&h[GW_MX_H_SUM]), 5000002000u);
    assert_int_equal(gw_mx_get(&h[GW_MX_H_B + gw_hist_index(1000)]), 2);
    assert_int_equal(gw_mx_get(&h[GW_MX_H_B + gw_hist_index(5000000000u)]), 1);
    uint64_t used = gw_mx_get(&h[GW_MX_H_USED]);
    assert_true(used & (UINT64_C(1) << (gw_hist_index(1000) >> GW_HIST_SUB_BITS)));
    assert_true(used & (UINT64_C(1) << (gw_hist_index(5000000000u) >> GW_HIST_SUB_BITS)));
    assert_int_equal(gw_mx_get(&rows[GW_MX_H_SUM]), 0); /* row 0 untouched */
    free(rows);
}

/* Every status lands in its own row or its class's "other"; methods likewise. */
static void test_label_tables(void **state)
{
    (void)state;
    for (int s = 100; s < 600; s++) {
        unsigned i = gw_mx_code_index(s);
        assert_true(i < GW_MX_CODES);
        char cls[4] = {(char)('0' + s / 100), 'x', 'x', '\0'};
        assert_string_equal(gw_mx_code_class(i), cls);
        if (gw_mx_code_status(i) != 0)
            assert_int_equal(gw_mx_code_status(i), s);
        else
            assert_string_equal(gw_mx_code_name(i), "other");
    }
    assert_int_equal(gw_mx_code_index(0), GW_MX_CODE_NONE);
    assert_int_equal(gw_mx_code_index(999), GW_MX_CODE_NONE);
    assert_string_equal(gw_mx_code_name(gw_mx_code_index(404)), "404");
    assert_string_equal(gw_mx_code_name(gw_mx_code_index(418)), "other");
    /* Every WebSocket handshake (101) and gantry's refusal of a wrong version (426). */
    assert_string_equal(gw_mx_code_name(gw_mx_code_index(101)), "101");
    assert_string_equal(gw_mx_code_name(gw_mx_code_index(426)), "426");
    assert_string_equal(gw_mx_method_name(gw_mx_method_index(1)), "GET");
    assert_string_equal(gw_mx_method_name(gw_mx_method_index(0)), "OTHER");
    assert_string_equal(gw_mx_method_name(gw_mx_method_index(99)), "OTHER");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_is_a_partition),
        cmocka_unit_test(test_percentiles_within_the_bound),
        cmocka_unit_test(test_empty_and_cumulative),
        cmocka_unit_test(test_recording),
        cmocka_unit_test(test_label_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
