/*
 * The gateway's own timeouts, size limits and upstream keep-alive: the root "timeouts",
 * "limits" and "upstream" objects (a service's "timeouts" and "limits" are in
 * config_service.c).
 */
#include "config/internal.h"

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])
#define KIB 1024ull
#define MIB (1024ull * 1024)

static const struct gw__cfg_field timeouts_fields[] = {
    {.name = "client_header",
     .type = &gw__cfg_duration_type,
     .offset = offsetof(struct gw_config, timeouts.client_header_ms),
     .def = "10s"},
    {.name = "client_idle",
     .type = &gw__cfg_duration_type,
     .offset = offsetof(struct gw_config, timeouts.client_idle_ms),
     .def = "60s"},
    {.name = "client_body",
     .type = &gw__cfg_duration_type,
     .offset = offsetof(struct gw_config, timeouts.client_body_ms),
     .def = "30s"},
    {.name = "upstream_connect",
     .type = &gw__cfg_duration_type,
     .offset = offsetof(struct gw_config, timeouts.upstream_connect_ms),
     .def = "5s"},
    {.name = "upstream_response",
     .type = &gw__cfg_duration_type,
     .offset = offsetof(struct gw_config, timeouts.upstream_response_ms),
     .def = "30s"},
};
const struct gw__cfg_object gw__cfg_timeouts_obj = {.what = "timeouts", ROWS(timeouts_fields)};

static const struct gw__cfg_range request_line_range = {256, 1 * MIB};
static const struct gw__cfg_range header_bytes_range = {1 * KIB, 1 * MIB};
static const struct gw__cfg_range max_headers_range = {1, 1000};

static const struct gw__cfg_field limits_fields[] = {
    {.name = "max_request_line",
     .type = &gw__cfg_size32_type,
     .offset = offsetof(struct gw_config, http.max_request_line),
     .arg = &request_line_range,
     .def = "8192"},
    {.name = "max_header_bytes",
     .type = &gw__cfg_size32_type,
     .offset = offsetof(struct gw_config, http.max_header_bytes),
     .arg = &header_bytes_range,
     .def = "32768"},
    {.name = "max_headers",
     .type = &gw__cfg_uint32_type,
     .offset = offsetof(struct gw_config, http.max_headers),
     .arg = &max_headers_range,
     .def = "100"},
    {.name = "max_body_bytes",
     .type = &gw__cfg_size64_type,
     .offset = offsetof(struct gw_config, max_body_bytes),
     .def = "10MiB"},
};
const struct gw__cfg_object gw__cfg_limits_obj = {.what = "limits", ROWS(limits_fields)};

static const struct gw__cfg_range max_idle_range = {0, 10000};

static const struct gw__cfg_field keepalive_fields[] = {
    {.name = "max_idle",
     .type = &gw__cfg_uint32_type,
     .offset = offsetof(struct gw_config, upstream.max_idle_per_target),
     .arg = &max_idle_range,
     .def = "64"},
    {.name = "idle_timeout",
     .type = &gw__cfg_duration_type,
     .offset = offsetof(struct gw_config, upstream.idle_timeout_ms),
     .def = "60s"},
};
static const struct gw__cfg_object keepalive_obj = {.what = "keepalive", ROWS(keepalive_fields)};

static const struct gw__cfg_field upstream_fields[] = {
    {.name = "keepalive", .type = &gw__cfg_object_type, .arg = &keepalive_obj},
};
const struct gw__cfg_object gw__cfg_upstream_obj = {.what = "upstream", ROWS(upstream_fields)};
