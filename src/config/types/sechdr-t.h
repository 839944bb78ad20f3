/*
 * The "security_headers" sections' types (config_sechdr.c).
 */
#ifndef GW_CONFIG_TYPES_SECHDR_T_H
#define GW_CONFIG_TYPES_SECHDR_T_H

#include <stdbool.h>
#include <stddef.h>

#include "config/types/match-t.h"

/* The security headers, in the order they are written (policy/sechdr.c has their names). */
enum gw_sechdr_id {
    GW_SECHDR_HSTS = 0,    /* Strict-Transport-Security (sent only over TLS) */
    GW_SECHDR_XCTO,        /* X-Content-Type-Options */
    GW_SECHDR_XFO,         /* X-Frame-Options */
    GW_SECHDR_REFERRER,    /* Referrer-Policy */
    GW_SECHDR_CSP,         /* Content-Security-Policy */
    GW_SECHDR_PERMISSIONS, /* Permissions-Policy */
    GW_SECHDR_COOP,        /* Cross-Origin-Opener-Policy */
    GW_SECHDR_CORP,        /* Cross-Origin-Resource-Policy */
    GW_SECHDR_COEP,        /* Cross-Origin-Embedder-Policy */
    GW_SECHDR_SERVER,      /* Server */
    GW_SECHDR__COUNT,
};

/* How a header gantry sets meets the same header in an upstream response. */
enum gw_sechdr_mode {
    GW_SECHDR_MODE_INHERIT = 0, /* absent: the enclosing level's mode */
    GW_SECHDR_OVERRIDE,         /* "override": gantry's value replaces the upstream's */
    GW_SECHDR_IF_ABSENT,        /* "if_absent": the upstream's value stays; gantry's fills in */
};

enum gw_sechdr_state {
    GW_SECHDR_INHERIT = 0, /* absent: the enclosing level's setting */
    GW_SECHDR_OFF,         /* false: not set by gantry (Server: "keep") */
    GW_SECHDR_SET,         /* a value to send */
    GW_SECHDR_HIDE,        /* Server only: "hide", the upstream's Server header is removed */
};

struct gw_sechdr_value {
    int state;   /* enum gw_sechdr_state */
    int mode;    /* enum gw_sechdr_mode: the header's own ({"value", "mode"}), or INHERIT */
    char *value; /* GW_SECHDR_SET: the field value (visible ASCII, spaces, tabs) */
};

struct gw_sechdr_rule_conf;

/* "security_headers" of the gateway, of a service, or of a rule (rules: services only). */
struct gw_sechdr_conf {
    bool enabled; /* false: no header at this level */
    int mode;     /* "mode": enum gw_sechdr_mode (the gateway's default "if_absent") */
    struct gw_sechdr_value h[GW_SECHDR__COUNT];
    struct gw_sechdr_rule_conf *rules; /* services only; the longest matching prefix wins */
    size_t nrules;
};

struct gw_sechdr_rule_conf {
    struct gw_match_conf match;
    struct gw_sechdr_conf set;
};

#endif
