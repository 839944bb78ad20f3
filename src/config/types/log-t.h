/*
 * The "log" section's types: levels, the access log's format and fields (config_tracing.c
 * parses "log.access_fields"; docs/config.md "log").
 */
#ifndef GW_CONFIG_TYPES_LOG_T_H
#define GW_CONFIG_TYPES_LOG_T_H

#include <stdint.h>

enum gw_log_format {
    GW_LOG_TEXT = 0,
    GW_LOG_JSON,
};

/* "log.access_fields": what an access-log line holds, in order (docs/config.md). */
enum gw_log_field {
    GW_LOG_F_TIME = 0,
    GW_LOG_F_REQUEST_ID,
    GW_LOG_F_CLIENT,
    GW_LOG_F_REQUEST, /* text: "METHOD path" (quoted); JSON: "method" and "path" */
    GW_LOG_F_METHOD,
    GW_LOG_F_PATH,
    GW_LOG_F_STATUS,
    GW_LOG_F_BYTES_IN,
    GW_LOG_F_BYTES_OUT,
    GW_LOG_F_DURATION_MS,
    GW_LOG_F_UPSTREAM_MS,
    GW_LOG_F_SERVICE,
    GW_LOG_F_TARGET,
    GW_LOG_F_TRACE_ID,
    GW_LOG_F_SPAN_ID,
    GW_LOG_F_UPSTREAM_STATUS,
    GW_LOG_F_RETRIES,
    GW_LOG_F_CACHE,
    GW_LOG_F_CONSUMER,
    GW_LOG_F_RATE_LIMIT,
    GW_LOG_F__COUNT,
};

/* Most fields "log.access_fields" may list. */
#define GW_LOG_MAX_FIELDS 32

enum gw_log_level {
    GW_LOG_DEBUG = 0,
    GW_LOG_INFO,
    GW_LOG_WARN,
    GW_LOG_ERROR,
};

/* "log": the error log and the access log (docs/config.md "log"). */
struct gw_log_conf {
    enum gw_log_level level;          /* "log.level": debug|info|warn|error, default info */
    enum gw_log_format access_format; /* "log.access_format": text|json, default text */
    char *access_log; /* "log.access": "stdout" (default) | "stderr" | "off" | file path */
    char *error_log;  /* "log.error": "stderr" (default) | "stdout" | file path */
    /* "log.access_fields": enum gw_log_field values, in order; default: time request_id
     * client request status bytes_in bytes_out duration_ms upstream_ms service target
     * trace_id */
    uint8_t access_fields[GW_LOG_MAX_FIELDS];
    uint8_t naccess_fields;
    /* The same for a JSON line: "request" becomes "method" and "path" (what it writes there) and
     * a field already written is left out, so that no key appears twice in one object. */
    uint8_t access_fields_json[GW_LOG_MAX_FIELDS];
    uint8_t naccess_fields_json;
};

#endif
