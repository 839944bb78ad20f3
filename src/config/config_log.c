/*
 * The "log" section: level, the access log's destination and format, the error log
 * ("log.access_fields" is config_tracing.c's type).
 */
#include "config/internal.h"

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])

static const struct gw__cfg_enum log_levels[] = {
    {"debug", GW_LOG_DEBUG},
    {"info", GW_LOG_INFO},
    {"warn", GW_LOG_WARN},
    {"error", GW_LOG_ERROR},
    {NULL, 0},
};
static const struct gw__cfg_enum log_formats[] = {
    {"text", GW_LOG_TEXT},
    {"json", GW_LOG_JSON},
    {NULL, 0},
};
static const struct gw__cfg_str access_log_check = {gw__cfg_check_access_log};
static const struct gw__cfg_str error_log_check = {gw__cfg_check_error_log};

static const struct gw__cfg_field log_fields[] = {
    {.name = "level",
     .type = &gw__cfg_enum_type,
     .offset = offsetof(struct gw_config, log.level),
     .arg = log_levels,
     .def = "info"},
    {.name = "access_format",
     .type = &gw__cfg_enum_type,
     .offset = offsetof(struct gw_config, log.access_format),
     .arg = log_formats,
     .def = "text"},
    {.name = "access",
     .type = &gw__cfg_string_type,
     .offset = offsetof(struct gw_config, log.access_log),
     .arg = &access_log_check,
     .def = "stdout"},
    {.name = "error",
     .type = &gw__cfg_string_type,
     .offset = offsetof(struct gw_config, log.error_log),
     .arg = &error_log_check,
     .def = "stderr"},
    {.name = "access_fields",
     .type = &gw__cfg_log_fields_type,
     .def = "time request_id client request status bytes_in bytes_out duration_ms upstream_ms "
            "service target trace_id"},
};
const struct gw__cfg_object gw__cfg_log_obj = {.what = "log", ROWS(log_fields)};
