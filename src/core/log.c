#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_level = GW_LOG_LEVEL_INFO;
static atomic_int log_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void gw_log_setup(int level, int fd)
{
    atomic_store(&log_level, level);
    atomic_store(&log_fd, fd);
}

int gw_log_reopen_file(int fd, const char *path)
{
    int nfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (nfd < 0)
        return -errno;
    int rc = 0;
    if (dup3(nfd, fd, O_CLOEXEC) < 0)
        rc = -errno;
    close(nfd);
    return rc;
}

int gw_log_enabled(int level)
{
    return level >= atomic_load_explicit(&log_level, memory_order_relaxed);
}

void gw_log(int level, const char *fmt, ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    if (!gw_log_enabled(level))
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, level_names[level & 3]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t w = write(atomic_load(&log_fd), line, len);
    (void)w;
}

int gw_log_limited(struct gw_log_limit *lim, int level, const char *fmt, ...)
{
    if (!gw_log_enabled(level))
        return 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    uint64_t next = atomic_load_explicit(&lim->next_ms, memory_order_relaxed);
    /* Of the threads that find the interval over, the one whose exchange succeeds writes. */
    if (now < next ||
        !atomic_compare_exchange_strong(&lim->next_ms, &next, now + lim->interval_ms)) {
        atomic_fetch_add_explicit(&lim->suppressed, 1, memory_order_relaxed);
        return 0;
    }
    char msg[1900];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (m < 0)
        msg[0] = '\0';
    uint64_t n = atomic_exchange_explicit(&lim->suppressed, 0, memory_order_relaxed);
    if (n > 0)
        gw_log(level, "%s (%llu more suppressed)", msg, (unsigned long long)n);
    else
        gw_log(level, "%s", msg);
    return 1;
}
