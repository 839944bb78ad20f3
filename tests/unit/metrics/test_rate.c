/* Unit tests for src/metrics/rate.h, ticked by hand (one call is GW_METRICS_TICK_MS): the error
 * shares over 1, 5 and 15 minutes are windows, so a route quiet after a burst of 5xx answers has
 * no error share once the burst left the window (a ratio of two moving averages decaying at the
 * same speed kept the burst's share for ever); the request rates stay moving averages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "metrics/rate.h"

#define TICKS_PER_MINUTE (60 * 1000 / GW_METRICS_TICK_MS)

static struct gw_metrics_rate rt;
static uint64_t req_total, err_total;

/* n ticks, each with req requests of which err answered 5xx. */
static void run(unsigned n, uint64_t req, uint64_t err)
{
    for (unsigned i = 0; i < n; i++) {
        req_total += req;
        err_total += err;
        gw_metrics_rate_tick(&rt, req_total, err_total);
    }
}

static int setup(void **state)
{
    (void)state;
    memset(&rt, 0, sizeof rt);
    req_total = err_total = 0;
    run(1, 0, 0); /* primed */
    return 0;
}

static void test_a_burst_leaves_the_windows(void **state)
{
    (void)state;
    double share = -1;
    assert_false(gw_metrics_rate_error_share(&rt, 0, req_total, err_total, &share));
    run(TICKS_PER_MINUTE, 100, 20); /* one minute at 20 req/s, 20% 5xx */
    for (unsigned w = 0; w < 3; w++) {
        assert_true(gw_metrics_rate_error_share(&rt, w, req_total, err_total, &share));
        assert_true(share > 0.1999 && share < 0.2001);
    }
    run(6 * TICKS_PER_MINUTE, 0, 0); /* six quiet minutes */
    share = -1;
    assert_false(gw_metrics_rate_error_share(&rt, 0, req_total, err_total,
                                             &share)); /* no request: no share */
    assert_false(gw_metrics_rate_error_share(&rt, 1, req_total, err_total, &share));
    assert_true(share == -1);
    assert_true(gw_metrics_rate_error_share(&rt, 2, req_total, err_total,
                                            &share)); /* still in the 15 minutes */
    assert_true(share > 0.1999 && share < 0.2001);
    run(9 * TICKS_PER_MINUTE, 0, 0); /* 15 minutes after the burst's last tick */
    assert_false(gw_metrics_rate_error_share(&rt, 2, req_total, err_total, &share));
    assert_true(rt.req[0] < 0.01); /* the moving averages decay as before */
}

static void test_clean_traffic_after_a_burst(void **state)
{
    (void)state;
    double share;
    run(TICKS_PER_MINUTE, 100, 50);
    run(TICKS_PER_MINUTE, 100, 0); /* a clean minute: the 1-minute share is 0 */
    assert_true(gw_metrics_rate_error_share(&rt, 0, req_total, err_total, &share));
    assert_true(share == 0);
    assert_true(gw_metrics_rate_error_share(&rt, 1, req_total, err_total,
                                            &share)); /* 5 minutes: both minutes */
    assert_true(share > 0.2499 && share < 0.2501);
    uint64_t req = 0, err = 0;
    gw_metrics_rate_window(&rt, 1, req_total, err_total, &req, &err);
    assert_true(req == 2 * TICKS_PER_MINUTE * 100 && err == TICKS_PER_MINUTE * 50);
    assert_true(rt.req[0] > 10 && rt.req[0] < 20); /* ~20 req/s, averaged over 1 minute */
}

static void test_requests_since_the_last_tick_count(void **state)
{
    (void)state;
    double share;
    run(6 * TICKS_PER_MINUTE, 0, 0);
    /* 10 requests, 3 of them 5xx, before the next tick */
    assert_true(gw_metrics_rate_error_share(&rt, 1, req_total + 10, err_total + 3, &share));
    assert_true(share > 0.2999 && share < 0.3001);
}

static void test_totals_going_backwards_count_nothing(void **state)
{
    (void)state;
    double share;
    run(3, 10, 10);
    gw_metrics_rate_tick(&rt, 5, 5); /* never happens (totals carry over reloads) */
    uint64_t req = 0, err = 0;
    gw_metrics_rate_window(&rt, 0, 5, 5, &req, &err);
    assert_true(req == 30 && err == 30);
    assert_true(gw_metrics_rate_error_share(&rt, 0, 5, 5, &share) && share == 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_a_burst_leaves_the_windows, setup),
        cmocka_unit_test_setup(test_clean_traffic_after_a_burst, setup),
        cmocka_unit_test_setup(test_requests_since_the_last_tick_count, setup),
        cmocka_unit_test_setup(test_totals_going_backwards_count_nothing, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
