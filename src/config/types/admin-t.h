/*
 * The "admin" section's types: the admin listener (docs/config.md "admin").
 */
#ifndef GW_CONFIG_TYPES_ADMIN_T_H
#define GW_CONFIG_TYPES_ADMIN_T_H

#include <stdbool.h>
#include <stdint.h>

/* "admin": the admin listener (docs/config.md "admin"). */
struct gw_admin_conf {
    bool enabled;      /* false when "admin.listen" is "off" */
    char *listen_host; /* "admin.listen", default "127.0.0.1:9000" (NULL when off) */
    uint16_t listen_port;
    bool loopback; /* listen_host is in 127.0.0.0/8 or ::1 */
    /* "admin.api_key", ${ENV} expanded; NULL when absent or empty. Required (a load error)
     * when listen_host is not loopback. */
    char *api_key;
    bool dashboard; /* "admin.dashboard", default true: the web dashboard at /dashboard */
};

#endif
