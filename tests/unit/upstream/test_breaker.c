/* Unit tests for src/policy/breaker.c: states, thresholds, the rolling window, concurrency. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "upstream/breaker.h"

#define T0 UINT64_C(1000000) /* a "now" far from 0, like uv_now() after a while */

/* Only the threshold under test is on. */
static struct gw_breaker_conf conf_base(void)
{
    struct gw_breaker_conf c;
    gw_breaker_conf_default(&c);
    c.failure_threshold = 0;
    c.error_threshold_pct = 0;
    return c;
}

static void init_ok(struct gw_breaker *b, const struct gw_breaker_conf *c)
{
    assert_int_equal(gw_breaker_init(b, c), 0);
}

static int state_of(const struct gw_breaker *b, uint64_t now)
{
    struct gw_breaker_stats st;
    gw_breaker_stats(b, now, &st);
    return st.state;
}

/* acquire + record, as the proxy will do it. */
static void call(struct gw_breaker *b, uint64_t now, int outcome)
{
    int a = gw_breaker_acquire(b, now, NULL);
    assert_int_equal(a, GW_BREAKER_ALLOW);
    gw_breaker_record(b, now, outcome, 1, false);
}

static void test_defaults_and_check(void **state)
{
    (void)state;
    struct gw_breaker_conf c;
    gw_breaker_conf_default(&c);
    assert_int_equal(c.failure_threshold, 5);
    assert_int_equal(c.error_threshold_pct, 50);
    assert_int_equal(c.window_ms, 10000);
    assert_int_equal(c.buckets, 10);
    assert_int_equal(c.minimum_requests, 20);
    assert_int_equal(c.slow_call_ms, 0);
    assert_int_equal(c.open_duration_ms, 30000);
    assert_int_equal(c.half_open_requests, 3);
    assert_int_equal(gw_breaker_conf_check(&c), 0);

    struct gw_breaker_conf bad = c;
    bad.buckets = 0;
    assert_int_equal(gw_breaker_conf_check(&bad), GW_EINVAL);
    bad = c;
    bad.buckets = GW_BREAKER_MAX_BUCKETS + 1;
    assert_int_equal(gw_breaker_conf_check(&bad), GW_EINVAL);
    bad = c;
    bad.window_ms = 5; /* 10 buckets of 0 ms */
    assert_int_equal(gw_breaker_conf_check(&bad), GW_EINVAL);
    bad = c;
    bad.half_open_requests = 0;
    assert_int_equal(gw_breaker_conf_check(&bad), GW_EINVAL);
    bad = c;
    bad.half_open_requests = 256;
    assert_int_equal(gw_breaker_conf_check(&bad), GW_EINVAL);
    bad = c;
    bad.error_threshold_pct = 101;
    assert_int_equal(gw_breaker_conf_check(&bad), GW_EINVAL);
    bad = c;
    bad.open_duration_ms = 0;
    assert_int_equal(gw_breaker_conf_check(&bad), GW_EINVAL);

    struct gw_breaker b;
    assert_int_equal(gw_breaker_init(&b, &bad), GW_EINVAL);

    assert_string_equal(gw_breaker_state_name(GW_BREAKER_CLOSED), "closed");
    assert_string_equal(gw_breaker_state_name(GW_BREAKER_OPEN), "open");
    assert_string_equal(gw_breaker_state_name(GW_BREAKER_HALF_OPEN), "half_open");
    assert_string_equal(gw_breaker_state_name(7), "unknown");
}

static void test_consecutive_failures_open(void **state)
{
    (void)state;
    struct gw_breaker_conf c = conf_base();
    c.failure_threshold = 5;
    struct gw_breaker b;
    init_ok(&b, &c);

    /* A success in between restarts the count. */
    for (int i = 0; i < 4; i++)
        call(&b, T0, GW_BREAKER_FAILURE);
    call(&b, T0, GW_BREAKER_SUCCESS);
    for (int i = 0; i < 4; i++)
        call(&b, T0, GW_BREAKER_FAILURE);
    assert_int_equal(state_of(&b, T0), GW_BREAKER_CLOSED);

    struct gw_breaker_stats st;
    gw_breaker_stats(&b, T0, &st);
    assert_int_equal(st.consecutive_failures, 4);
    assert_int_equal(st.window_requests, 9);
    assert_int_equal(st.window_failures, 8);
    assert_int_equal(st.times_opened, 0);
    assert_int_equal(st.opened_at_ms, 0);
    assert_int_equal(st.next_probe_ms, 0);

    call(&b, T0 + 5, GW_BREAKER_FAILURE);
    gw_breaker_stats(&b, T0 + 5, &st);
    assert_int_equal(st.state, GW_BREAKER_OPEN);
    assert_int_equal(st.times_opened, 1);
    assert_int_equal(st.opened_at_ms, T0 + 5);
    assert_int_equal(st.next_probe_ms, T0 + 5 + 30000);
}

static void test_error_pct_needs_minimum_requests(void **state)
{
    (void)state;
    struct gw_breaker_conf c = conf_base();
    c.error_threshold_pct = 50;
    c.minimum_requests = 20;
    struct gw_breaker b;
    init_ok(&b, &c);

    /* 100% failures, but only 19 requests: judged too few. */
    for (int i = 0; i < 19; i++)
        call(&b, T0 + (uint64_t)i * 100, GW_BREAKER_FAILURE);
    assert_int_equal(state_of(&b, T0 + 1900), GW_BREAKER_CLOSED);
    call(&b, T0 + 1900, GW_BREAKER_FAILURE); /* the 20th */
    assert_int_equal(state_of(&b, T0 + 1900), GW_BREAKER_OPEN);

    /* 50% exactly opens, 45% does not. */
    init_ok(&b, &c);
    for (int i = 0; i < 11; i++)
        call(&b, T0, GW_BREAKER_SUCCESS);
    for (int i = 0; i < 9; i++)
        call(&b, T0, GW_BREAKER_FAILURE);
    assert_int_equal(state_of(&b, T0), GW_BREAKER_CLOSED); /* 9/20 */
    call(&b, T0, GW_BREAKER_FAILURE);                      /* 10/21 = 47.6% */
    assert_int_equal(state_of(&b, T0), GW_BREAKER_CLOSED);
    call(&b, T0, GW_BREAKER_SUCCESS);
    call(&b, T0, GW_BREAKER_FAILURE); /* 11/23 = 47.8% */
    assert_int_equal(state_of(&b, T0), GW_BREAKER_CLOSED);
    call(&b, T0, GW_BREAKER_FAILURE); /* 12/24 = 50% */
    assert_int_equal(state_of(&b, T0), GW_BREAKER_OPEN);
}

static void test_old_buckets_age_out(void **state)
{
    (void)state;
    struct gw_breaker_conf c = conf_base();
    c.error_threshold_pct = 50;
    c.minimum_requests = 20;
    struct gw_breaker b;
    init_ok(&b, &c);

    /* 15 failures, then 11 s later 10 more: the first 15 are out of the 10 s window. */
    for (int i = 0; i < 15; i++)
        call(&b, T0, GW_BREAKER_FAILURE);
    struct gw_breaker_stats st;
    gw_breaker_stats(&b, T0 + 9999, &st);
    assert_int_equal(st.window_requests, 15);
    gw_breaker_stats(&b, T0 + 11000, &st);
    assert_int_equal(st.window_requests, 0);
    assert_int_equal(st.window_failures, 0);

    for (int i = 0; i < 10; i++)
        call(&b, T0 + 11000, GW_BREAKER_FAILURE);
    assert_int_equal(state_of(&b, T0 + 11000), GW_BREAKER_CLOSED);
    gw_breaker_stats(&b, T0 + 11000, &st);
    assert_int_equal(st.window_requests, 10);
    assert_int_equal(st.window_failures, 10);

    /* Buckets slide one at a time: each second drops the oldest second. */
    init_ok(&b, &c);
    for (uint64_t s = 0; s < 10; s++)
        call(&b, T0 + s * 1000, GW_BREAKER_SUCCESS);
    gw_breaker_stats(&b, T0 + 9000, &st);
    assert_int_equal(st.window_requests, 10);
    gw_breaker_stats(&b, T0 + 10000, &st);
    assert_int_equal(st.window_requests, 9);
    gw_breaker_stats(&b, T0 + 15500, &st);
    assert_int_equal(st.window_requests, 4);

    /* A reused bucket starts from zero (the same slot, one window later). */
    call(&b, T0 + 10000, GW_BREAKER_FAILURE);
    gw_breaker_stats(&b, T0 + 10000, &st);
    assert_int_equal(st.window_requests, 10);
    assert_int_equal(st.window_failures, 1);
}

static void test_slow_calls(void **state)
{
    (void)state;
    struct gw_breaker_conf c = conf_base();
    c.failure_threshold = 3;
    struct gw_breaker b;
    init_ok(&b, &c);

    /* Off by default: slow successes are successes. */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(gw_breaker_acquire(&b, T0, NULL), GW_BREAKER_ALLOW);
        gw_breaker_record(&b, T0, GW_BREAKER_SUCCESS, 60000, false);
    }
    assert_int_equal(state_of(&b, T0), GW_BREAKER_CLOSED);

    c.slow_call_ms = 500;
    init_ok(&b, &c);
    gw_breaker_record(&b, T0, GW_BREAKER_SUCCESS, 500, false); /* not over */
    gw_breaker_record(&b, T0, GW_BREAKER_SUCCESS, 501, false);
    gw_breaker_record(&b, T0, GW_BREAKER_SUCCESS, 2000, false);
    struct gw_breaker_stats st;
    gw_breaker_stats(&b, T0, &st);
    assert_int_equal(st.state, GW_BREAKER_CLOSED);
    assert_int_equal(st.window_failures, 2);
    assert_int_equal(st.consecutive_failures, 2);
    gw_breaker_record(&b, T0, GW_BREAKER_SUCCESS, 9999, false);
    assert_int_equal(state_of(&b, T0), GW_BREAKER_OPEN);
}

static void open_it(struct gw_breaker *b, uint64_t now)
{
    for (uint32_t i = 0; i < b->conf.failure_threshold; i++)
        call(b, now, GW_BREAKER_FAILURE);
    assert_int_equal(state_of(b, now), GW_BREAKER_OPEN);
}

static void test_open_rejects_with_retry_after(void **state)
{
    (void)state;
    struct gw_breaker_conf c = conf_base();
    c.failure_threshold = 5;
    struct gw_breaker b;
    init_ok(&b, &c);
    open_it(&b, T0);

    uint64_t ra = 0;
    assert_int_equal(gw_breaker_acquire(&b, T0, &ra), GW_BREAKER_REJECT);
    assert_int_equal(ra, 30000);
    assert_int_equal(gw_breaker_acquire(&b, T0 + 12345, &ra), GW_BREAKER_REJECT);
    assert_int_equal(ra, 30000 - 12345);
    assert_int_equal(gw_breaker_acquire(&b, T0 + 29999, &ra), GW_BREAKER_REJECT);
    assert_int_equal(ra, 1);
    /* A worker whose clock lags the one that opened it. */
    assert_int_equal(gw_breaker_acquire(&b, T0 - 3, &ra), GW_BREAKER_REJECT);
    assert_int_equal(ra, 30003);
    /* NULL is allowed. */
    assert_int_equal(gw_breaker_acquire(&b, T0 + 1, NULL), GW_BREAKER_REJECT);

    /* Outcomes of requests sent before it opened do not count (or close it). */
    for (int i = 0; i < 10; i++)
        gw_breaker_record(&b, T0 + 10, GW_BREAKER_SUCCESS, 1, false);
    struct gw_breaker_stats st;
    gw_breaker_stats(&b, T0 + 10, &st);
    assert_int_equal(st.state, GW_BREAKER_OPEN);
    assert_int_equal(st.window_requests, 5);
    assert_int_equal(st.times_opened, 1);
}

static void test_half_open_probes_close(void **state)
{
    (void)state;
    struct gw_breaker_conf c = conf_base();
    c.failure_threshold = 5;
    c.error_threshold_pct = 50;
    c.minimum_requests = 5;
    struct gw_breaker b;
    init_ok(&b, &c);
    open_it(&b, T0);

    uint64_t t = T0 + 30000;
    uint64_t ra = 0;
    for (int i = 0; i < 3; i++)
        assert_int_equal(gw_breaker_acquire(&b, t, &ra), GW_BREAKER_ALLOW_PROBE);
    assert_int_equal(gw_breaker_acquire(&b, t, &ra), GW_BREAKER_REJECT);
    assert_int_equal(ra, GW_BREAKER_PROBE_WAIT_MS);

    struct gw_breaker_stats st;
    gw_breaker_stats(&b, t, &st);
    assert_int_equal(st.state, GW_BREAKER_HALF_OPEN);
    assert_int_equal(st.probes_in_flight, 3);
    assert_int_equal(st.opened_at_ms, T0);

    gw_breaker_record(&b, t + 5, GW_BREAKER_SUCCESS, 5, true);
    gw_breaker_record(&b, t + 6, GW_BREAKER_SUCCESS, 5, true);
    gw_breaker_stats(&b, t + 6, &st);
    assert_int_equal(st.state, GW_BREAKER_HALF_OPEN);
    assert_int_equal(st.probes_in_flight, 1);
    assert_int_equal(gw_breaker_acquire(&b, t + 6, &ra), GW_BREAKER_REJECT);
    gw_breaker_record(&b, t + 7, GW_BREAKER_SUCCESS, 5, true);

    gw_breaker_stats(&b, t + 7, &st);
    assert_int_equal(st.state, GW_BREAKER_CLOSED);
    assert_int_equal(st.consecutive_failures, 0);
    assert_int_equal(st.window_requests, 0);
    /* Each transition counted once (gantry_circuit_transitions_total): three probes were one
     * open → half-open, and the last success one half-open → closed. */
    assert_int_equal(st.times_opened, 1);
    assert_int_equal(st.times_half_opened, 1);
    assert_int_equal(st.times_closed, 1);
    assert_int_equal(gw_breaker_acquire(&b, t + 7, &ra), GW_BREAKER_ALLOW);

    /* The failures that opened it are forgotten: one new failure does not reopen it even
     * though the window (10 s) has not moved past them... */
    call(&b, t + 8, GW_BREAKER_FAILURE);
    assert_int_equal(state_of(&b, t + 8), GW_BREAKER_CLOSED);
    /* ...but the thresholds work again as usual. */
    for (int i = 0; i < 4; i++)
        call(&b, t + 9, GW_BREAKER_FAILURE);
    assert_int_equal(state_of(&b, t + 9), GW_BREAKER_OPEN);
}

static void test_half_open_failure_reopens(void **state)
{
    (void)state;
    struct gw_breaker_conf c = conf_base();
    c.failure_threshold = 5;
    struct gw_breaker b;
    init_ok(&b, &c);
    open_it(&b, T0);

    uint64_t t = T0 + 30000;
    for (int i = 0; i < 3; i++)
        assert_int_equal(gw_breaker_acquire(&b, t, NULL), GW_BREAKER_ALLOW_PROBE);
    gw_breaker_record(&b, t + 1, GW_BREAKER_SUCCESS, 1, true);
    gw_breaker_record(&b, t + 2, GW_BREAKER_FAILURE, 1, true);

    struct gw_breaker_stats st;
    gw_breaker_stats(&b, t + 2, &st);
    assert_int_equal(st.state, GW_BREAKER_OPEN);
    assert_int_equal(st.times_opened, 2);
    assert_int_equal(st.times_half_opened, 1);
    assert_int_equal(st.times_closed, 0);
    assert_int_equal(st.opened_at_ms, t + 2);
    assert_int_equal(st.next_probe_ms, t + 2 + 30000);

    /* The third probe comes back late, after the round ended: ignored. */
    gw_breaker_record(&b, t + 3, GW_BREAKER_SUCCESS, 1, true);
    uint64_t ra = 0;
    assert_int_equal(gw_breaker_acquire(&b, t + 3, &ra), GW_BREAKER_REJECT);
    assert_int_equal(ra, 29999);

    /* A slow probe is a failed probe. */
    c.slow_call_ms = 100;
    init_ok(&b, &c);
    open_it(&b, T0);
    assert_int_equal(gw_breaker_acquire(&b, t, NULL), GW_BREAKER_ALLOW_PROBE);
    gw_breaker_record(&b, t + 200, GW_BREAKER_SUCCESS, 200, true);
    assert_int_equal(state_of(&b, t + 200), GW_BREAKER_OPEN);
}

static void test_half_open_ignore_and_lost_probes(void **state)
{
    (void)state;
    struct gw_breaker_conf c = conf_base();
    c.failure_threshold = 5;
    c.half_open_requests = 2;
    struct gw_breaker b;
    init_ok(&b, &c);
    open_it(&b, T0);

    uint64_t t = T0 + 30000;
    assert_int_equal(gw_breaker_acquire(&b, t, NULL), GW_BREAKER_ALLOW_PROBE);
    assert_int_equal(gw_breaker_acquire(&b, t, NULL), GW_BREAKER_ALLOW_PROBE);
    assert_int_equal(gw_breaker_acquire(&b, t, NULL), GW_BREAKER_REJECT);
    /* A cancelled probe gives its permit back. */
    gw_breaker_record(&b, t + 1, GW_BREAKER_IGNORE, 0, true);
    assert_int_equal(gw_breaker_acquire(&b, t + 1, NULL), GW_BREAKER_ALLOW_PROBE);
    assert_int_equal(gw_breaker_acquire(&b, t + 1, NULL), GW_BREAKER_REJECT);

    /* Nobody reports: after open_duration a new round starts rather than stay stuck. */
    uint64_t ra = 0;
    assert_int_equal(gw_breaker_acquire(&b, t + 29500, &ra), GW_BREAKER_REJECT);
    assert_int_equal(ra, 500);
    assert_int_equal(gw_breaker_acquire(&b, t + 30000, NULL), GW_BREAKER_ALLOW_PROBE);
    assert_int_equal(gw_breaker_acquire(&b, t + 30000, NULL), GW_BREAKER_ALLOW_PROBE);
    assert_int_equal(gw_breaker_acquire(&b, t + 30000, NULL), GW_BREAKER_REJECT);
    gw_breaker_record(&b, t + 30001, GW_BREAKER_SUCCESS, 1, true);
    gw_breaker_record(&b, t + 30002, GW_BREAKER_SUCCESS, 1, true);
    assert_int_equal(state_of(&b, t + 30002), GW_BREAKER_CLOSED);
    /* A non-probe IGNORE counts nothing. */
    gw_breaker_record(&b, t + 30003, GW_BREAKER_IGNORE, 0, false);
    struct gw_breaker_stats st;
    gw_breaker_stats(&b, t + 30003, &st);
    assert_int_equal(st.window_requests, 0);
}

static void test_reset(void **state)
{
    (void)state;
    struct gw_breaker_conf c = conf_base();
    c.failure_threshold = 5;
    struct gw_breaker b;
    init_ok(&b, &c);
    open_it(&b, T0);

    gw_breaker_reset(&b, T0 + 100);
    struct gw_breaker_stats st;
    gw_breaker_stats(&b, T0 + 100, &st);
    assert_int_equal(st.state, GW_BREAKER_CLOSED);
    assert_int_equal(st.window_requests, 0);
    assert_int_equal(st.consecutive_failures, 0);
    assert_int_equal(st.times_opened, 1);
    assert_int_equal(st.opened_at_ms, T0);
    assert_int_equal(gw_breaker_acquire(&b, T0 + 100, NULL), GW_BREAKER_ALLOW);

    /* Reset from half-open too; a probe finishing afterwards counts as a closed request. */
    open_it(&b, T0 + 200);
    assert_int_equal(gw_breaker_acquire(&b, T0 + 30200, NULL), GW_BREAKER_ALLOW_PROBE);
    gw_breaker_reset(&b, T0 + 30201);
    assert_int_equal(state_of(&b, T0 + 30201), GW_BREAKER_CLOSED);
    gw_breaker_record(&b, T0 + 30202, GW_BREAKER_SUCCESS, 1, true);
    gw_breaker_stats(&b, T0 + 30202, &st);
    assert_int_equal(st.state, GW_BREAKER_CLOSED);
    assert_int_equal(st.window_requests, 1);
    assert_int_equal(st.times_opened, 2);
}

static void test_window_directly(void **state)
{
    (void)state;
    struct gw_breaker_window w;
    assert_int_equal(gw_breaker_window_init(&w, 1000, 0), GW_EINVAL);
    assert_int_equal(gw_breaker_window_init(&w, 1000, 10), 0);
    uint64_t sum[2];

    /* Saturates instead of wrapping. */
    gw_breaker_window_add(&w, 0, 0, UINT32_MAX - 1);
    gw_breaker_window_add(&w, 0, 0, 5);
    gw_breaker_window_add(&w, 0, 1, 7);
    gw_breaker_window_sum(&w, 50, sum);
    assert_true(sum[0] == UINT32_MAX);
    assert_int_equal(sum[1], 7);

    /* A worker slightly ahead counted into the next bucket: a reader at the older time does
     * not see it yet, and a worker far behind adds to the newer bucket rather than wipe it. */
    assert_int_equal(gw_breaker_window_init(&w, 1000, 10), 0);
    gw_breaker_window_add(&w, 1100, 0, 1); /* bucket 11 (slot 1) */
    gw_breaker_window_add(&w, 1099, 0, 1); /* bucket 10 (slot 0) */
    gw_breaker_window_sum(&w, 1099, sum);
    assert_int_equal(sum[0], 1);
    gw_breaker_window_sum(&w, 1100, sum);
    assert_int_equal(sum[0], 2);
    gw_breaker_window_add(&w, 100, 0, 1); /* bucket 1 (slot 1, which holds bucket 11) */
    gw_breaker_window_sum(&w, 1100, sum);
    assert_int_equal(sum[0], 3);

    /* Wall-clock milliseconds work too (epochs compare modulo 2^32). */
    uint64_t wall = UINT64_C(1732400000000);
    gw_breaker_window_add(&w, wall, 1, 3);
    gw_breaker_window_sum(&w, wall + 999, sum);
    assert_int_equal(sum[1], 3);
    gw_breaker_window_sum(&w, wall + 1000, sum);
    assert_int_equal(sum[1], 0);
    gw_breaker_window_reset(&w, wall + 50);
    gw_breaker_window_sum(&w, wall + 60, sum);
    assert_int_equal(sum[1], 0);
}

/* ---- concurrency ---------------------------------------------------------------------- */

#define THREADS 4
#define PER_THREAD 200000

struct worker_arg {
    struct gw_breaker *b;
    unsigned id;
    bool transitions; /* drive state changes instead of counting */
};

static void *hammer(void *p)
{
    struct worker_arg *a = p;
    uint64_t x = 0x9e3779b97f4a7c15u * (a->id + 1);
    for (uint32_t i = 0; i < PER_THREAD; i++) {
        if (!a->transitions) {
            uint64_t ra;
            int r = gw_breaker_acquire(a->b, T0, &ra);
            if (r != GW_BREAKER_ALLOW)
                abort();
            gw_breaker_record(a->b, T0, i % 4 == 0 ? GW_BREAKER_FAILURE : GW_BREAKER_SUCCESS, 1,
                              false);
            continue;
        }
        /* xorshift: random outcomes, time marching on so every transition happens. */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint64_t now = T0 + i / 4;
        uint64_t ra = 0;
        int r = gw_breaker_acquire(a->b, now, &ra);
        if (r == GW_BREAKER_REJECT) {
            if (ra == 0)
                abort();
            continue;
        }
        int outcome = (x & 7) == 0 ? GW_BREAKER_FAILURE : (x & 7) == 1 ? GW_BREAKER_IGNORE : 0;
        gw_breaker_record(a->b, now, outcome, x >> 60, r == GW_BREAKER_ALLOW_PROBE);
        if ((x & 0xffff) == 0)
            gw_breaker_reset(a->b, now);
    }
    return NULL;
}

static void run_threads(struct gw_breaker *b, bool transitions)
{
    pthread_t th[THREADS];
    struct worker_arg args[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
        args[i] = (struct worker_arg){.b = b, .id = i, .transitions = transitions};
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &args[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
}

static void test_concurrent_counts_exact(void **state)
{
    (void)state;
    struct gw_breaker_conf c = conf_base(); /* never opens */
    struct gw_breaker *b = malloc(sizeof(*b));
    assert_non_null(b);
    init_ok(b, &c);
    run_threads(b, false);
    struct gw_breaker_stats st;
    gw_breaker_stats(b, T0, &st);
    assert_int_equal(st.state, GW_BREAKER_CLOSED);
    assert_int_equal(st.window_requests, THREADS * PER_THREAD);
    assert_int_equal(st.window_failures, THREADS * PER_THREAD / 4);
    free(b);
}

static void test_concurrent_transitions(void **state)
{
    (void)state;
    struct gw_breaker_conf c;
    gw_breaker_conf_default(&c);
    c.minimum_requests = 10;
    c.error_threshold_pct = 10;
    c.open_duration_ms = 200;
    c.window_ms = 1000;
    c.slow_call_ms = 14;
    struct gw_breaker *b = malloc(sizeof(*b));
    assert_non_null(b);
    init_ok(b, &c);
    run_threads(b, true);
    struct gw_breaker_stats st;
    gw_breaker_stats(b, T0 + PER_THREAD, &st);
    assert_true(st.state >= GW_BREAKER_CLOSED && st.state <= GW_BREAKER_HALF_OPEN);
    assert_true(st.times_opened > 10);
    assert_true(st.probes_in_flight <= c.half_open_requests);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_check),
        cmocka_unit_test(test_consecutive_failures_open),
        cmocka_unit_test(test_error_pct_needs_minimum_requests),
        cmocka_unit_test(test_old_buckets_age_out),
        cmocka_unit_test(test_slow_calls),
        cmocka_unit_test(test_open_rejects_with_retry_after),
        cmocka_unit_test(test_half_open_probes_close),
        cmocka_unit_test(test_half_open_failure_reopens),
        cmocka_unit_test(test_half_open_ignore_and_lost_probes),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_window_directly),
        cmocka_unit_test(test_concurrent_counts_exact),
        cmocka_unit_test(test_concurrent_transitions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
