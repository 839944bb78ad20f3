/*
 * Error log with levels. Thread-safe: each line is formatted into a local buffer and
 * written with one write(2), so lines from different threads never interleave.
 */
#ifndef GW_CORE_LOG_H
#define GW_CORE_LOG_H

enum gw_log_level_id {
    GW_LOG_LEVEL_DEBUG = 0,
    GW_LOG_LEVEL_INFO,
    GW_LOG_LEVEL_WARN,
    GW_LOG_LEVEL_ERROR,
};

/* Sets the minimum level and the destination fd (default: INFO to stderr). */
void gw_log_setup(int level, int fd);

int gw_log_enabled(int level);

void gw_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define gw_log_debug(...)                                                                          \
    do {                                                                                           \
        if (gw_log_enabled(GW_LOG_LEVEL_DEBUG))                                                    \
            gw_log(GW_LOG_LEVEL_DEBUG, __VA_ARGS__);                                               \
    } while (0)
#define gw_log_info(...) gw_log(GW_LOG_LEVEL_INFO, __VA_ARGS__)
#define gw_log_warn(...) gw_log(GW_LOG_LEVEL_WARN, __VA_ARGS__)
#define gw_log_error(...) gw_log(GW_LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
