/*
 * The "metrics" section's types (config_metrics.c, docs/metrics.md).
 */
#ifndef GW_CONFIG_TYPES_METRICS_T_H
#define GW_CONFIG_TYPES_METRICS_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gw_cidr; /* net/addr.h */

/* "metrics" (docs/metrics.md) */
struct gw_metrics_conf {
    bool enabled;                /* "metrics.enabled", default true: request metrics recorded */
    bool expose_on_proxy;        /* "expose_on_proxy", default false */
    char *proxy_path;            /* "proxy_path", default "/metrics" */
    size_t proxy_path_len;       /* 0 unless expose_on_proxy */
    char *proxy_api_key;         /* "proxy_api_key", NULL = none */
    struct gw_cidr *proxy_allow; /* "proxy_allow": networks allowed to scrape */
    size_t nproxy_allow;
    uint32_t max_consumers; /* "max_consumers", default 100: consumer label values */
};

#endif
