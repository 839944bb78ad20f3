/*
 * Error log with levels. Thread-safe: each line is formatted into a local buffer and
 * written with one write(2), so lines from different threads never interleave.
 */
#ifndef GW_CORE_LOG_H
#define GW_CORE_LOG_H

#include <stdatomic.h>
#include <stdint.h>

enum gw_log_level_id {
    GW_LOG_LEVEL_DEBUG = 0,
    GW_LOG_LEVEL_INFO,
    GW_LOG_LEVEL_WARN,
    GW_LOG_LEVEL_ERROR,
};

/* Sets the minimum level and the destination fd (default: INFO to stderr). */
void gw_log_setup(int level, int fd);

int gw_log_enabled(int level);

/*
 * Reopens the log file at path onto the descriptor fd (logrotate renamed the file: the lines
 * after this call go to a new file of that name). The new file is opened (created, appended to)
 * and put in place with dup3, which swaps the file behind the descriptor number atomically:
 * threads writing with fd at that moment finish on the old file, later writes go to the new
 * one, and none ever writes to a closed or reused descriptor. So the writers (the workers'
 * access-log flushes, gw_log) need no coordination. 0, or a negative errno (fd unchanged).
 */
int gw_log_reopen_file(int fd, const char *path);

void gw_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * A rate limit for one kind of log line that a flood could repeat (an error hit on every
 * accept, every packet): at most one line per interval, shared by every thread that uses the
 * same limiter. The lines in between are counted, and the next line written says how many:
 * "... (N more suppressed)". Define one per call site, e.g.
 *     static struct gw_log_limit lim = {.interval_ms = 1000};
 */
struct gw_log_limit {
    uint64_t interval_ms;
    _Atomic uint64_t next_ms;        /** monotonic ms before which lines are only counted */
    atomic_uint_fast64_t suppressed; /** lines counted since the last one written */
};

/* Logs like gw_log unless lim wrote a line less than lim->interval_ms ago; then only counts
 * it. Lines below the log level are neither written nor counted. Thread-safe, lock-free.
 * Returns 1 when the line was written, 0 when it was suppressed or below the level. */
int gw_log_limited(struct gw_log_limit *lim, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define gw_log_debug(...)                                                                          \
    do {                                                                                           \
        if (gw_log_enabled(GW_LOG_LEVEL_DEBUG))                                                    \
            gw_log(GW_LOG_LEVEL_DEBUG, __VA_ARGS__);                                               \
    } while (0)
#define gw_log_info(...) gw_log(GW_LOG_LEVEL_INFO, __VA_ARGS__)
#define gw_log_warn(...) gw_log(GW_LOG_LEVEL_WARN, __VA_ARGS__)
#define gw_log_error(...) gw_log(GW_LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
