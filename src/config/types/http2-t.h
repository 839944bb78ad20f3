/*
 * The "http2" section's types: HTTP/2 to clients (config_http2.c, h2/, conn/h2_conn.c).
 */
#ifndef GW_CONFIG_TYPES_HTTP2_T_H
#define GW_CONFIG_TYPES_HTTP2_T_H

#include <stdbool.h>
#include <stdint.h>

/* "http2": HTTP/2 to clients (h2/, conn/h2_conn.c); on by default for the TLS listener. */
struct gw_http2_conf {
    bool enabled;                    /* ALPN "h2" on the TLS listener (default true) */
    bool cleartext;                  /* "cleartext": prior-knowledge h2c on "listen" (false) */
    uint32_t max_concurrent_streams; /* "max_concurrent_streams", default 128 */
    uint32_t max_header_list_size;   /* "max_header_list_size", default 64 KiB */
    uint32_t initial_window_size;    /* "initial_window_size", default 64 KiB - 1 */
    uint32_t max_resets;             /* "max_resets_per_second", default 100 */
    uint32_t max_control;            /* "max_control_frames_per_second", default 100 */
    uint32_t max_continuations;      /* "max_continuation_frames", default 8 */
    uint32_t max_empty;              /* "max_empty_frames_per_second", default 1000 */
};

#endif
