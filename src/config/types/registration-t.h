/*
 * The "registration" section's types: backends that register themselves through the admin
 * API (config_registration.c, src/registry/, README "Registering backends").
 */
#ifndef GW_CONFIG_TYPES_REGISTRATION_T_H
#define GW_CONFIG_TYPES_REGISTRATION_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_t; /* jansson's json_t */

/* "registration": backends that register themselves through the admin API
 * (config_registration.c, README "Registering backends"); off when absent */
struct gw_registration_conf {
    bool enabled;
    /** "defaults": keys of the service made for a new registration prefix (a service
     * object without name, prefix and targets), as written; NULL when absent. A reference
     * into source: read-only, control thread. */
    struct json_t *defaults;
    uint64_t ttl_ms;            /* "ttl": when a registration gives none, default 30s */
    uint64_t max_ttl_ms;        /* "max_ttl": longest TTL accepted, default 24h */
    uint32_t max_registrations; /* "max_registrations", default 10000 */
    uint32_t failures;          /* "failures": in a row that make a registered target inactive, 3 */
    uint64_t publish_interval_ms; /* "publish_interval": least time between, default 100ms */
    /* "encryption_key": 64 hex digits, ${ENV} expanded; ENCRYPTION_KEY when absent. NULL:
     * none (registrations cannot carry tokens). */
    char *encryption_key;
    char **previous_keys; /* "previous_keys": older keys, to read tokens stored with them */
    size_t nprevious_keys;
    char *token_header; /* "token_header", default "Authorization" */
    char *token_prefix; /* "token_prefix", default "Bearer " */
    /* "store": file the registrations are kept in across restarts (read at start);
     * NULL: in memory only */
    char *store;
    /* "redis": redis://[[user]:password@]host[:port][/db] shared by the instances that
     * serve the same registrations; NULL: this instance's own */
    char *redis;
    char *redis_key_prefix; /* "redis_key_prefix", default "gantry:reg:" */
};

#endif
