/*
 * The compression sections' types (config_compress.c, docs/compression.md).
 */
#ifndef GW_CONFIG_TYPES_COMPRESS_T_H
#define GW_CONFIG_TYPES_COMPRESS_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/types/match-t.h"

/* Bits of gw_compress_conf.algorithms (1u << enum gw_coding, http1/accept_encoding.h). */
#define GW_COMPRESS_GZIP 2u
#define GW_COMPRESS_BR 4u

/* A service's route rule: overrides the service's settings for the requests it matches (the
 * rule with the longest matching prefix, the first one on a tie). */
struct gw_compress_rule_conf {
    struct gw_match_conf match; /* first: the shared "match" table's offsets start at 0 */
    bool enabled;               /* "enabled": default true */
    uint32_t gzip_level;        /* "gzip_level": 0 = the service's */
    uint32_t brotli_level;      /* "brotli_level": UINT32_MAX = the service's */
    uint64_t min_length;        /* "min_length": UINT64_MAX = the service's */
};

struct gw_compress_conf {
    bool enabled;          /* the section's switch: gateway default off; a service inherits */
    uint32_t gzip_level;   /* "gzip_level": 1..9, default 6 */
    uint32_t brotli_level; /* "brotli_level": 0..11, default 4 */
    uint64_t min_length;   /* "min_length": smaller known lengths are not compressed; 256 B */
    char **types;          /* "types": media types (a subtype may be "*"); none: the gateway's or
                            * the built-in list */
    size_t ntypes;
    char **algorithm_names; /* "algorithms": "br", "gzip" */
    size_t nalgorithm_names;
    unsigned algorithms;                 /* GW_COMPRESS_* bits, from algorithm_names */
    struct gw_compress_rule_conf *rules; /* services: "rules" */
    size_t nrules;
};

#endif
