/*
 * The "audit" section's types (config_audit.c, docs/config.md "Audit", README "Audit log").
 */
#ifndef GW_CONFIG_TYPES_AUDIT_T_H
#define GW_CONFIG_TYPES_AUDIT_T_H

#include <stdbool.h>
#include <stdint.h>

/* What the audit log records ("audit.events"). */
enum gw_audit_event {
    GW_AUDIT_EV_ADMIN = 1u << 0,        /* "admin": changes made through the admin API */
    GW_AUDIT_EV_RELOAD = 1u << 1,       /* "reload": every reload, whoever asked */
    GW_AUDIT_EV_FORBIDDEN = 1u << 2,    /* "forbidden": every 403 gantry answers */
    GW_AUDIT_EV_UNAUTHORIZED = 1u << 3, /* "unauthorized": repeated 401s from one client */
    GW_AUDIT_EV_NEW_ADDRESS = 1u << 4,  /* "new_address": an API key from a new address */
    GW_AUDIT_EV_IDENTITY = 1u << 5,     /* "identity": registrations, logins, lockouts, ... */
    GW_AUDIT_EV_ALL = (1u << 6) - 1,
};

/* "audit" (README "Audit log", docs/config.md "Audit"); bound at start */
struct gw_audit_conf {
    bool enabled;      /* a sink is configured: file, sqlite or postgres.dsn */
    char *file;        /* "audit.file": JSON lines, append-only; NULL = none */
    char *sqlite;      /* "audit.sqlite": database file; NULL = none */
    char *pg_dsn;      /* "audit.postgres.dsn": libpq connection string; NULL = none */
    uint32_t pg_queue; /* "audit.postgres.queue", default 10000: entries held while down */
    uint32_t queue;    /* "audit.queue", default 4096: records on their way to the writer */
    uint32_t events;   /* GW_AUDIT_EV_* bits ("audit.events"), default all */
    uint32_t unauthorized_threshold; /* "unauthorized.threshold", default 5 */
    uint64_t unauthorized_window_ms; /* "unauthorized.window", default 60s */
};

#endif
