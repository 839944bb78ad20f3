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

/* The endpoints under metrics.proxy_path on the proxy port, as the admin listener's under
 * /metrics: the path itself (Prometheus text, or JSON when Accept prefers it), then the four
 * named ones. conn/request.c serves them; config_metrics.c keeps the probes off them. */
enum gw_metrics_endpoint {
    GW_METRICS_EP_NEGOTIATED,
    GW_METRICS_EP_PROMETHEUS,
    GW_METRICS_EP_JSON,
    GW_METRICS_EP_PERFORMANCE,
    GW_METRICS_EP_HEALTH_SCORE,
    GW_METRICS_EP_COUNT
};

/* The suffix each endpoint adds to proxy_path ("" for the path itself), or NULL past the last.
 * Pure. */
const char *gw_metrics_endpoint_suffix(unsigned ep);

#endif
