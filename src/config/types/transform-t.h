/*
 * The transformation sections' types (config_transform.c, docs/transform.md).
 */
#ifndef GW_CONFIG_TYPES_TRANSFORM_T_H
#define GW_CONFIG_TYPES_TRANSFORM_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/types/match-t.h"

struct gw_template; /* policy/template.h: a compiled value template */
struct json_t;      /* jansson's json_t */

/* A header or query parameter to set or add: its name as written and its value. */
struct gw_tf_value {
    char *name;
    struct gw_template *value;
};

/* A header or query parameter (or a JSON field path) renamed. */
struct gw_tf_rename {
    char *from;
    char *to;
};

/* The edits of one list of headers or query parameters, applied in this order: remove,
 * rename, set (remove, then add), add. Header names are lowercased in remove, rename.from and
 * set (they are compared); the names written keep their case. */
struct gw_tf_fields {
    char **remove;
    size_t nremove;
    struct gw_tf_rename *rename;
    size_t nrename;
    struct gw_tf_value *set;
    size_t nset;
    struct gw_tf_value *add;
    size_t nadd;
};

/* JSON body edits on "application/json" bodies up to max_body_bytes, in this order: remove,
 * rename, add. Fields are dotted paths into nested objects ("meta.internal"). */
struct gw_tf_body {
    char **remove;
    size_t nremove;
    struct gw_tf_rename *rename;
    size_t nrename;
    char **add_names;    /* "add": field paths ... */
    struct json_t **add; /* ... and their values (string values are templates, see add_tpl) */
    struct gw_template **add_tpl; /* for string values: the template, else NULL */
    size_t nadd;
};

enum gw_tf_path_kind {
    GW_TF_PATH_NONE = 0,
    GW_TF_PATH_PREFIX, /* "prefix": {"from", "to"} */
    GW_TF_PATH_REGEX,  /* "regex" + "replace" */
};

/* One status mapped to another ("status": {"502": 503}). */
struct gw_tf_status {
    uint16_t from;
    uint16_t to;
};

/* The request side of a transformation. */
struct gw_tf_request_conf {
    struct gw_tf_fields headers;
    struct gw_tf_fields query;
    enum gw_tf_path_kind path_kind;
    char *path_from;    /* prefix: the normalised prefix replaced (segment boundaries) */
    char *path_to;      /* prefix: what replaces it */
    char *path_regex;   /* regex: PCRE2 pattern matched against the normalised path */
    char *path_replace; /* regex: the replacement, $0..$9 are captures */
    struct gw_tf_body body;
};

/* The response side. */
struct gw_tf_response_conf {
    struct gw_tf_fields headers;
    struct gw_tf_status *status;
    size_t nstatus;
    struct gw_tf_body body;
};

/* One set of transformations: the gateway's, a service's, or a route rule's. */
struct gw_tf_set {
    struct gw_tf_request_conf request;
    struct gw_tf_response_conf response;
};

/* A service's route rule: its transformations apply after the service's to matching requests
 * (the rule with the longest matching prefix, the first one on a tie). */
struct gw_tf_rule_conf {
    struct gw_match_conf match;
    struct gw_tf_set set;
};

struct gw_transform_conf {
    bool enabled;            /* services: false turns every transformation off */
    bool inherit;            /* services: apply the gateway's transformations first (true) */
    uint64_t max_body_bytes; /* "max_body_bytes": JSON bodies edited up to this size, 64 KiB */
    struct gw_tf_set set;
    struct gw_tf_rule_conf *rules; /* services: "rules" */
    size_t nrules;
};

#endif
