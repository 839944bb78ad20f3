/* Unit tests for src/core/log.c: the line format, levels, the length cap and whole lines from
 * concurrent threads. The log goes to a temp file opened with O_APPEND, read back after. */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/log.h"

struct logfile {
    char path[64];
    int fd;
};

static int setup(void **state)
{
    struct logfile *lf = calloc(1, sizeof *lf);
    if (lf == NULL)
        return -1;
    snprintf(lf->path, sizeof lf->path, "/tmp/gw-test-log-XXXXXX");
    int fd = mkstemp(lf->path);
    if (fd < 0)
        return -1;
    close(fd);
    lf->fd = open(lf->path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (lf->fd < 0)
        return -1;
    *state = lf;
    return 0;
}

static int teardown(void **state)
{
    struct logfile *lf = *state;
    gw_log_setup(GW_LOG_LEVEL_INFO, 2); /* the default again */
    close(lf->fd);
    unlink(lf->path);
    free(lf);
    return 0;
}

/* The whole file, NUL-terminated; *n its length. */
static char *slurp(const struct logfile *lf, size_t *n)
{
    FILE *f = fopen(lf->path, "rb");
    assert_non_null(f);
    char *buf = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (cap - len < 4097) {
            cap = cap ? cap * 2 : 8192;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t k = fread(buf + len, 1, cap - len - 1, f);
        len += k;
        if (k == 0)
            break;
    }
    fclose(f);
    buf[len] = '\0';
    *n = len;
    return buf;
}

static bool is_digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

/* "2026-12-06T10:11:12.345Z " */
static void assert_timestamp(const char *line)
{
    assert_true(is_digits(line, 4) && line[4] == '-' && is_digits(line + 5, 2) && line[7] == '-' &&
                is_digits(line + 8, 2) && line[10] == 'T' && is_digits(line + 11, 2) &&
                line[13] == ':' && is_digits(line + 14, 2) && line[16] == ':' &&
                is_digits(line + 17, 2) && line[19] == '.' && is_digits(line + 20, 3) &&
                line[23] == 'Z' && line[24] == ' ');
}

static void test_line_format(void **state)
{
    struct logfile *lf = *state;
    gw_log_setup(GW_LOG_LEVEL_DEBUG, lf->fd);
    gw_log_debug("d %d", 1);
    gw_log_info("i %s", "two");
    gw_log_warn("w");
    gw_log_error("e %u%%", 4u);
    size_t n;
    char *text = slurp(lf, &n);
    static const char *const want[] = {"debug d 1", "info i two", "warn w", "error e 4%"};
    char *line = text;
    for (size_t i = 0; i < 4; i++) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        assert_timestamp(line);
        assert_string_equal(line + 25, want[i]);
        line = nl + 1;
    }
    assert_string_equal(line, "");
    free(text);
}

static int evaluated;

static int count_evaluation(void)
{
    return ++evaluated;
}

static void test_levels(void **state)
{
    struct logfile *lf = *state;
    gw_log_setup(GW_LOG_LEVEL_WARN, lf->fd);
    assert_false(gw_log_enabled(GW_LOG_LEVEL_DEBUG));
    assert_false(gw_log_enabled(GW_LOG_LEVEL_INFO));
    assert_true(gw_log_enabled(GW_LOG_LEVEL_WARN));
    assert_true(gw_log_enabled(GW_LOG_LEVEL_ERROR));
    gw_log_info("not written");
    /* a disabled debug line does not even evaluate its arguments */
    evaluated = 0;
    gw_log_debug("not written %d", count_evaluation());
    assert_int_equal(evaluated, 0);
    gw_log_warn("written");
    size_t n;
    char *text = slurp(lf, &n);
    assert_null(strstr(text, "not written"));
    assert_non_null(strstr(text, " warn written\n"));
    free(text);
    gw_log_setup(GW_LOG_LEVEL_DEBUG, lf->fd);
    gw_log_debug("now %d", count_evaluation());
    assert_int_equal(evaluated, 1);
    gw_log_setup(GW_LOG_LEVEL_ERROR, lf->fd);
    assert_false(gw_log_enabled(GW_LOG_LEVEL_WARN));
}

/* A line longer than the 2 KiB line buffer is cut, still ends with a newline, and is one
 * write: nothing of it spills into a second line. */
static void test_long_lines_are_cut(void **state)
{
    struct logfile *lf = *state;
    gw_log_setup(GW_LOG_LEVEL_INFO, lf->fd);
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    gw_log_info("%s", big);
    gw_log_info("after");
    size_t n;
    char *text = slurp(lf, &n);
    char *nl = strchr(text, '\n');
    assert_non_null(nl);
    size_t first = (size_t)(nl - text) + 1;
    assert_true(first <= 2047);
    assert_true(first > 2000);
    for (size_t i = 30; i < first - 1; i++)
        assert_int_equal(text[i], 'x');
    assert_string_equal(nl + 1 + 25, "info after\n");
    free(text);
}

#define THREADS 4
#define LINES 300

static void *log_thread(void *arg)
{
    int t = (int)(intptr_t)arg;
    char payload[600];
    memset(payload, 'a' + t, sizeof payload - 1);
    payload[sizeof payload - 1] = '\0';
    for (int i = 0; i < LINES; i++)
        gw_log_info("t%d n%04d %s end", t, i, payload);
    return NULL;
}

static void test_threads_never_interleave_lines(void **state)
{
    struct logfile *lf = *state;
    gw_log_setup(GW_LOG_LEVEL_INFO, lf->fd);
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, log_thread, (void *)(intptr_t)t), 0);
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    size_t n;
    char *text = slurp(lf, &n);
    int next[THREADS] = {0};
    size_t lines = 0;
    for (char *line = text; *line; lines++) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        assert_timestamp(line);
        int t, i;
        char tail[700];
        if (sscanf(line + 25, "info t%d n%d %699s end", &t, &i, tail) != 3)
            fail_msg("mangled line: %s", line);
        assert_true(t >= 0 && t < THREADS);
        assert_int_equal(i, next[t]); /* each thread's lines in its order */
        next[t]++;
        assert_int_equal(strlen(tail), 599);
        for (size_t k = 0; k < 599; k++)
            assert_int_equal(tail[k], 'a' + t);
        assert_string_equal(line + strlen(line) - 4, " end");
        line = nl + 1;
    }
    assert_int_equal(lines, THREADS * LINES);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_line_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_lines_are_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_never_interleave_lines, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
