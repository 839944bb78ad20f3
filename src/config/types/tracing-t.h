/*
 * The "tracing" section's types (config_tracing.c, docs/tracing.md).
 */
#ifndef GW_CONFIG_TYPES_TRACING_T_H
#define GW_CONFIG_TYPES_TRACING_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A name and a string value ("tracing.headers", "tracing.resource_attributes"). */
struct gw_kv {
    char *key;
    char *value;
};

/* "tracing" (config_tracing.c, docs/tracing.md). Off unless the section is there. */
struct gw_tracing_conf {
    bool enabled;              /* "tracing": an object or true; absent or false = off */
    char *endpoint;            /* "endpoint": OTLP/HTTP traces URL; NULL = export nothing */
    double sample_ratio;       /* "sample_ratio": head sampling of new traces, default 1 */
    bool parent_based;         /* "parent_based": follow the caller's sampled flag, default true */
    bool always_sample_errors; /* "always_sample_errors", default true */
    char *service_name;        /* "service_name", default "gantry" */
    char *service_instance_id; /* "service_instance_id"; NULL = one made at start */
    struct gw_kv *resource;    /* "resource_attributes" */
    size_t nresource;
    struct gw_kv *headers; /* "headers": sent with every export */
    size_t nheaders;
    uint32_t batch_size;        /* "batch_size": spans per export, default 512 */
    uint64_t flush_interval_ms; /* "flush_interval": a partial batch waits at most this, 5s */
    uint32_t queue_size;        /* "queue_size": finished traces per worker, default 8192 */
    uint64_t timeout_ms;        /* "timeout": one export, default 10s */
};

#endif
