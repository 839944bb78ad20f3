/*
 * The request validation sections' types (config_validation.c, docs/config.md "Request
 * validation").
 */
#ifndef GW_CONFIG_TYPES_VALIDATION_T_H
#define GW_CONFIG_TYPES_VALIDATION_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/types/match-t.h"

struct gw_jschema; /* policy/jschema.h: a compiled JSON Schema */

/* A route's schema: JSON request bodies of requests that match are checked against it. */
struct gw_val_rule_conf {
    struct gw_match_conf match;
    struct gw_jschema *schema; /* "schema" (inline) or "schema_file", compiled at load */
    char *schema_file;         /* as written, or NULL */
};

struct gw_validation_conf {
    bool enabled;            /* services: false turns validation off (the gateway's rules too) */
    bool inherit;            /* services: the gateway's rules apply too (true) */
    uint64_t max_body_bytes; /* "max_body_bytes": larger JSON bodies are refused 413; 64 KiB */
    uint32_t max_errors;     /* "max_errors": violations listed in a 400; default 10 */
    struct gw_val_rule_conf *rules;
    size_t nrules;
};

#endif
