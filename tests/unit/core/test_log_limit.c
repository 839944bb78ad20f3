/*
 * Unit tests for the rate-limited log lines of src/core/log.c (gw_log_limited): at most one
 * line per interval, every other call counted and reported by the next line written, across
 * threads. The log goes to a temporary file that the tests read back. No test depends on how
 * fast it runs: each checks that every call is either a line or counted in a later line, and
 * that no more lines were written than intervals passed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "core/log.h"

static FILE *log_file;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits until the limiter's interval is over (polls the clock, the condition itself). */
static void wait_interval(const struct gw_log_limit *lim)
{
    uint64_t until = atomic_load(&lim->next_ms);
    while (now_ms() < until) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

static int setup(void **state)
{
    (void)state;
    log_file = tmpfile();
    assert_non_null(log_file);
    gw_log_setup(GW_LOG_LEVEL_INFO, fileno(log_file));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gw_log_setup(GW_LOG_LEVEL_INFO, 2);
    fclose(log_file);
    return 0;
}

struct tally {
    unsigned lines;
    unsigned long long suppressed; /* sum of the "(N more suppressed)" counts */
    char last[2200];
};

/* Reads back every line written so far. */
static struct tally read_log(void)
{
    struct tally t = {0};
    char line[2200];
    rewind(log_file);
    while (fgets(line, sizeof line, log_file)) {
        t.lines++;
        snprintf(t.last, sizeof t.last, "%s", line);
        const char *p = strstr(line, " more suppressed)");
        if (p) {
            while (p > line && p[-1] != '(')
                p--;
            t.suppressed += strtoull(p, NULL, 10);
        }
    }
    return t;
}

static void test_one_line_per_interval(void **state)
{
    (void)state;
    struct gw_log_limit lim = {.interval_ms = 1000};
    uint64_t t0 = now_ms();
    int written = 0;
    for (int i = 0; i < 200; i++)
        written += gw_log_limited(&lim, GW_LOG_LEVEL_WARN, "accept: too many open files %d", i);
    uint64_t elapsed = now_ms() - t0;
    assert_true(written >= 1); /* the first call always writes */
    assert_true((uint64_t)written <= 1 + elapsed / 1000);
    struct tally t = read_log();
    assert_int_equal(t.lines, (unsigned)written);
    assert_non_null(strstr(t.last, "warn accept: too many open files 0"));
}

static void test_next_line_counts_the_suppressed(void **state)
{
    (void)state;
    struct gw_log_limit lim = {.interval_ms = 20};
    int written = 0;
    for (int i = 0; i < 100; i++)
        written += gw_log_limited(&lim, GW_LOG_LEVEL_WARN, "line %d", i);
    wait_interval(&lim);
    assert_int_equal(gw_log_limited(&lim, GW_LOG_LEVEL_WARN, "after the pause"), 1);
    written++;
    struct tally t = read_log();
    assert_int_equal(t.lines, (unsigned)written);
    assert_int_equal(t.lines + t.suppressed, 101);
    assert_non_null(strstr(t.last, "after the pause"));
    if (written < 100) /* some were suppressed right before it */
        assert_non_null(strstr(t.last, " more suppressed)\n"));
    /* The count starts again: nothing suppressed since that line. */
    wait_interval(&lim);
    assert_int_equal(gw_log_limited(&lim, GW_LOG_LEVEL_WARN, "alone"), 1);
    t = read_log();
    assert_null(strstr(t.last, "suppressed"));
}

static void test_below_the_level_is_not_counted(void **state)
{
    (void)state;
    struct gw_log_limit lim = {.interval_ms = 20};
    for (int i = 0; i < 10; i++)
        assert_int_equal(gw_log_limited(&lim, GW_LOG_LEVEL_DEBUG, "debug %d", i), 0);
    assert_int_equal(gw_log_limited(&lim, GW_LOG_LEVEL_WARN, "first"), 1);
    struct tally t = read_log();
    assert_int_equal(t.lines, 1);
    assert_int_equal(t.suppressed, 0);
}

#define THREADS 4
#define CALLS 5000

static void hammer(void *arg)
{
    struct gw_log_limit *lim = arg;
    for (int i = 0; i < CALLS; i++)
        gw_log_limited(lim, GW_LOG_LEVEL_WARN, "from a thread %d", i);
}

static void test_threads_share_one_limit(void **state)
{
    (void)state;
    struct gw_log_limit lim = {.interval_ms = 1000};
    uv_thread_t th[THREADS];
    uint64_t t0 = now_ms();
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(uv_thread_create(&th[i], hammer, &lim), 0);
    for (int i = 0; i < THREADS; i++)
        uv_thread_join(&th[i]);
    uint64_t elapsed = now_ms() - t0;
    struct tally t = read_log();
    assert_true(t.lines >= 1);
    assert_true(t.lines <= 1 + elapsed / 1000);
    wait_interval(&lim);
    assert_int_equal(gw_log_limited(&lim, GW_LOG_LEVEL_WARN, "last"), 1);
    t = read_log();
    assert_int_equal(t.lines + t.suppressed, THREADS * CALLS + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_line_per_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_next_line_counts_the_suppressed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_below_the_level_is_not_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_share_one_limit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
