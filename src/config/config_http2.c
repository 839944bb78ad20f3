/*
 * "http2": HTTP/2 to clients (docs/config.md "http2"): ALPN h2 on the TLS listener, h2c with
 * prior knowledge on the plain one, and the limits that bound what one connection may cost.
 */
#include "config/internal.h"

#define H2(f) offsetof(struct gw_config, http2.f)
#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])

static const struct gw__cfg_range streams_range = {1, 10000};
static const struct gw__cfg_range header_list_range = {1024, 1024 * 1024};
/* RFC 9113 6.5.2: at most 2^31 - 1; at least one frame's worth. */
static const struct gw__cfg_range window_range = {16384, 2147483647};
static const struct gw__cfg_range per_second_range = {1, 1000000};
static const struct gw__cfg_range continuation_range = {1, 1000};

/* The TLS listener offers h2 in ALPN when HTTP/2 is on. */
static void http2_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    (void)obj;
    (void)json;
    ctx->root->tls.alpn_h2 = ctx->root->http2.enabled;
}

static const struct gw__cfg_field http2_fields[] = {
    {.name = "cleartext", .type = &gw__cfg_bool_type, .offset = H2(cleartext), .def = "false"},
    {.name = "max_concurrent_streams",
     .type = &gw__cfg_uint32_type,
     .offset = H2(max_concurrent_streams),
     .arg = &streams_range,
     .def = "128"},
    {.name = "max_header_list_size",
     .type = &gw__cfg_size32_type,
     .offset = H2(max_header_list_size),
     .arg = &header_list_range,
     .def = "32768"},
    {.name = "initial_window_size",
     .type = &gw__cfg_size32_type,
     .offset = H2(initial_window_size),
     .arg = &window_range,
     .def = "65535"},
    {.name = "max_resets_per_second",
     .type = &gw__cfg_uint32_type,
     .offset = H2(max_resets),
     .arg = &per_second_range,
     .def = "100"},
    {.name = "max_control_frames_per_second",
     .type = &gw__cfg_uint32_type,
     .offset = H2(max_control),
     .arg = &per_second_range,
     .def = "100"},
    {.name = "max_continuation_frames",
     .type = &gw__cfg_uint32_type,
     .offset = H2(max_continuations),
     .arg = &continuation_range,
     .def = "8"},
    {.name = "max_empty_frames_per_second",
     .type = &gw__cfg_uint32_type,
     .offset = H2(max_empty),
     .arg = &per_second_range,
     .def = "1000"},
};

const struct gw__cfg_object gw__cfg_http2_obj = {
    .what = "http2",
    ROWS(http2_fields),
    .check = http2_check,
    .toggle = true,
    .enabled_offset = H2(enabled),
};
