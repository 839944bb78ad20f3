/*
 * Internals of src/config/: the config schema machinery (tables of fields, value types, the
 * load context and its error list) and the JSON value locator. Not for use outside control/
 * (and its tests).
 */
#ifndef GW_CONFIG_INTERNAL_H
#define GW_CONFIG_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* ---- JSON value locator (json_locate.c) ------------------------------------------------------ */

/* One step of a key path: an object key (key != NULL, key_len bytes, may contain any byte but
 * NUL) or an array index (key == NULL). */
struct gw__json_seg {
    const char *key;
    size_t key_len;
    size_t index;
};

/* Finds the value at `path` (depth steps) in the JSON text [text, text+len) and stores its
 * 1-based line and column (columns count characters: UTF-8 continuation bytes do not count,
 * as in jansson's json_error_t). When the path leads nowhere (missing key, index out of range,
 * a step into a scalar) the position is that of the deepest value that was found: for a missing
 * key, its enclosing object's '{'. With want_key and a last step that is an object key found in
 * the text, the position is that of the key's opening quote instead of the value.
 * Returns the number of steps resolved (depth when the whole path was found). Never reads
 * outside the buffer; on text that is not valid JSON it stops early without failing. */
size_t gw__json_locate(const char *text, size_t len, const struct gw__json_seg *path, size_t depth,
                       bool want_key, int *line, int *column);

/* The key path of the value the byte offset `off` of a JSON text is in (the member or element
 * of each container open there; keys point into text, between their quotes, escapes as
 * written), at most cap steps: for a syntax error that jansson reports at an offset. The
 * text need only be valid up to off. Returns the number of steps stored. */
size_t gw__json_path_at(const char *text, size_t len, size_t off, struct gw__json_seg *path,
                        size_t cap);

/* Line and column (as above) of byte offset `off` (clamped to len). */
void gw__json_line_col(const char *text, size_t len, size_t off, int *line, int *column);

/* ---- YAML files (yaml_read.c) ---------------------------------------------------------------- */

/* Where one value of a YAML document starts (1-based, columns in characters like JSON's), found
 * by its parent container and its key (or index). parent NULL: the document itself. */
struct gw__pos {
    const json_t *parent;
    char *key; /* owned; NULL for an array element */
    size_t key_len;
    size_t index;
    int line;
    int column;
    int key_line;
    int key_column;
};

struct gw__pos_index {
    struct gw__pos *items;
    size_t count;
    size_t cap;
};

/* How a plain YAML scalar reads (YAML 1.2 core schema, as JSON values). */
enum gw__yaml_kind {
    GW__YAML_STRING,
    GW__YAML_NULL,
    GW__YAML_TRUE,
    GW__YAML_FALSE,
    GW__YAML_INT,
    GW__YAML_REAL,
    GW__YAML_BAD_NUMBER, /* .inf, .nan: YAML numbers with no JSON value */
};

/* Resolves the plain scalar s[0..n); *i or *d (either may be NULL) get an INT's or REAL's
 * value. The YAML writer uses it to know which strings must be quoted. */
enum gw__yaml_kind gw__yaml_resolve(const char *s, size_t n, json_int_t *i, double *d);

/* Parses the YAML text [text, text+len) into a new JSON tree (*root) and, when idx is not
 * NULL, the position of every value into *idx (free it with gw__pos_index_free, also after a
 * failure). Returns 0; GW_ECONFIG with the 1-based position and message of the first problem
 * (syntax, a second document, duplicate key, unsupported tag, too deep or too large); or
 * GW_ENOMEM. Never reads outside the buffer. */
int gw__yaml_parse(const char *text, size_t len, json_t **root, struct gw__pos_index *idx,
                   int *line, int *column, char *why, size_t why_cap);

void gw__pos_index_free(struct gw__pos_index *idx);

/* gw__json_locate's contract, over the tree root that gw__yaml_parse built and its index. */
size_t gw__pos_locate(const struct gw__pos_index *idx, const json_t *root,
                      const struct gw__json_seg *path, size_t depth, bool want_key, int *line,
                      int *column);

/* ---- schema ---------------------------------------------------------------------------------- */

struct gw__cfg_ctx;
struct gw__cfg_field;

/* A value type: parses a JSON value into the field at base + f->offset (errors go to ctx, the
 * field keeps a releasable value either way), and releases what parse allocated. */
struct gw__cfg_type {
    const char *doc; /* the type's name in docs/config.md's "type" column */
    void (*parse)(struct gw__cfg_ctx *ctx, json_t *v, void *base, const struct gw__cfg_field *f);
    void (*release)(void *base, const struct gw__cfg_field *f); /* NULL: nothing to free */
};

/* One row of an object's table. */
struct gw__cfg_field {
    const char *name;
    const struct gw__cfg_type *type;
    size_t offset;   /* of the destination, from the start of the object's struct */
    const void *arg; /* type-specific (range, names, nested table, ...) */
    /* Default, written as a JSON string value would be (every type accepts strings): applied
     * when the key is absent. NULL: leave what the object's init hook set (zero by default). */
    const char *def;
    bool required;
};

/* A JSON object's schema. Rows are processed in table order, so a row may rely on rows above it
 * (and an init hook on the rows of enclosing objects above it). */
struct gw__cfg_object {
    const char *what; /* "service", "target": for messages */
    const struct gw__cfg_field *fields;
    size_t nfields;
    size_t size; /* of one element, for arrays of these objects */
    /* Sets defaults that depend on other settings, before the rows are parsed. */
    void (*init)(struct gw__cfg_ctx *ctx, void *obj);
    /* Cross-field checks after the rows; json is the object (NULL when absent). */
    void (*check)(struct gw__cfg_ctx *ctx, void *obj, json_t *json);
    /* A section that can be switched off: it may also be written as a boolean (false: off,
     * true: on with the defaults), and the bool at enabled_offset (from the same base) records
     * which. An object means on. Its row's def ("true" or "false") says whether an absent
     * section is on. An off section still gets its defaults, but its required keys and its
     * check hook are skipped. */
    bool toggle;
    size_t enabled_offset;
};

/* arg of gw__cfg_object_type: the nested table; its offsets are from the same base. */
/* arg of gw__cfg_list_type: an array of objects stored as (T *, size_t count). */
struct gw__cfg_list {
    const struct gw__cfg_object *elem;
    size_t count_offset;   /* of the size_t count, from the same base as the row's offset */
    size_t min;            /* fewest elements */
    const char *shorthand; /* an element written as a bare string stands for {shorthand: s} */
};

/* arg of the integer, size and duration types. */
struct gw__cfg_range {
    uint64_t min;
    uint64_t max;
};

/* arg of gw__cfg_enum_type: rows up to one with name NULL. */
struct gw__cfg_enum {
    const char *name;
    int value;
};

/* Checks (and may normalize: free and replace *s) one string; false after reporting an error. */
typedef bool (*gw__cfg_str_check_fn)(struct gw__cfg_ctx *ctx, char **s);

/* arg of gw__cfg_string_type (or NULL: any string). */
struct gw__cfg_str {
    gw__cfg_str_check_fn check;
};

/* arg of gw__cfg_strlist_type: one string or an array of strings, stored as (char **, size_t). */
struct gw__cfg_strlist {
    size_t count_offset;
    size_t min;
    gw__cfg_str_check_fn check; /* may be NULL */
    bool unique;                /* reject repeated items (after normalization) */
};

/* The rows of a "match" object (prefix, methods) filling the struct gw_match_conf `member` of
 * `owner` (auth rules, limits, IP and security-header rules). */
#define GW__CFG_MATCH_ROWS(owner, member)                                                          \
    {.name = "prefix",                                                                             \
     .type = &gw__cfg_strlist_type,                                                                \
     .offset = offsetof(owner, member.prefixes),                                                   \
     .arg = &(const struct gw__cfg_strlist){.count_offset = offsetof(owner, member.nprefixes),     \
                                            .min = 1,                                              \
                                            .check = gw__cfg_check_prefix,                         \
                                            .unique = true}},                                      \
    {                                                                                              \
        .name = "methods", .type = &gw__cfg_methods_type,                                          \
        .offset = offsetof(owner, member.methods)                                                  \
    }

/* Types (config.c) */
extern const struct gw__cfg_type gw__cfg_object_type; /* arg: struct gw__cfg_object */
extern const struct gw__cfg_type gw__cfg_list_type;   /* arg: struct gw__cfg_list */

/* Types (config_values.c) */
extern const struct gw__cfg_type gw__cfg_string_type;   /* char *; arg: struct gw__cfg_str */
extern const struct gw__cfg_type gw__cfg_strlist_type;  /* arg: struct gw__cfg_strlist */
extern const struct gw__cfg_type gw__cfg_bool_type;     /* bool */
extern const struct gw__cfg_type gw__cfg_uint32_type;   /* uint32_t; arg: struct gw__cfg_range */
extern const struct gw__cfg_type gw__cfg_size32_type;   /* uint32_t bytes; arg: range */
extern const struct gw__cfg_type gw__cfg_size64_type;   /* uint64_t bytes; arg: range or NULL */
extern const struct gw__cfg_type gw__cfg_duration_type; /* uint64_t ms; arg: range or NULL */
extern const struct gw__cfg_type gw__cfg_enum_type;     /* int-sized enum; arg: gw__cfg_enum[] */
extern const struct gw__cfg_type gw__cfg_listen_type;   /* struct gw_config's listen_host/_port */
extern const struct gw__cfg_type gw__cfg_url_type;      /* struct gw_target_conf's url fields */
/* Reports why (core/url.h's words) about url at the current key, after a quote of url with its
 * user and password replaced by "***". */
void gw__cfg_url_error(struct gw__cfg_ctx *ctx, const char *url, const char *why);
extern const struct gw__cfg_type gw__cfg_methods_type;     /* uint32_t method bitmask */
extern const struct gw__cfg_type gw__cfg_host_header_type; /* gw_service_conf host_mode+value */

/* String checks (config_values.c), for gw__cfg_string_type / gw__cfg_strlist_type. */
bool gw__cfg_check_name(struct gw__cfg_ctx *ctx, char **s);
bool gw__cfg_check_prefix(struct gw__cfg_ctx *ctx, char **s);
bool gw__cfg_check_host_pattern(struct gw__cfg_ctx *ctx, char **s);
bool gw__cfg_check_access_log(struct gw__cfg_ctx *ctx, char **s);
bool gw__cfg_check_error_log(struct gw__cfg_ctx *ctx, char **s);

/* Per-service resilience sections (config_resilience.c), rows of the service table. */
extern const struct gw__cfg_object gw__cfg_load_balancer_obj;
extern const struct gw__cfg_object gw__cfg_health_check_obj;
extern const struct gw__cfg_object gw__cfg_outlier_obj;
extern const struct gw__cfg_object gw__cfg_breaker_obj;
extern const struct gw__cfg_object gw__cfg_retries_obj;

/* Rate limiting (config_ratelimit.c) and authentication (config_auth.c). */
extern const struct gw__cfg_object gw__cfg_rate_limit_obj;         /* root "rate_limit" */
extern const struct gw__cfg_object gw__cfg_service_rate_limit_obj; /* service "rate_limit" */
extern const struct gw__cfg_object gw__cfg_rule_match_obj;         /* auth rule "match" */
extern const struct gw__cfg_object gw__cfg_auth_obj;               /* root "auth" */
extern const struct gw__cfg_object gw__cfg_service_auth_obj;       /* service "auth" */
/* Transformations (config_transform.c). */
extern const struct gw__cfg_object gw__cfg_transform_obj;         /* root "transform" */
extern const struct gw__cfg_object gw__cfg_service_transform_obj; /* service "transform" */
/* Request validation (config_validation.c). */
extern const struct gw__cfg_object gw__cfg_validation_obj;         /* root "validation" */
extern const struct gw__cfg_object gw__cfg_service_validation_obj; /* service "validation" */
/* Response compression (config_compress.c). */
extern const struct gw__cfg_object gw__cfg_compression_obj;         /* root "compression" */
extern const struct gw__cfg_object gw__cfg_service_compression_obj; /* service "compression" */
/* Response cache (config_cache.c). */
extern const struct gw__cfg_object gw__cfg_cache_obj;           /* root "cache" */
extern const struct gw__cfg_object gw__cfg_service_cache_obj;   /* service "cache" */
extern const struct gw__cfg_object gw__cfg_metrics_obj;         /* root "metrics" */
extern const struct gw__cfg_object gw__cfg_service_metrics_obj; /* service "metrics" */
extern const struct gw__cfg_object gw__cfg_slo_obj;             /* service "slo" */
/* The browser policies (config_cors.c). */
extern const struct gw__cfg_object gw__cfg_cors_obj;         /* root "cors" */
extern const struct gw__cfg_object gw__cfg_service_cors_obj; /* service "cors" */
extern const struct gw__cfg_object gw__cfg_csrf_obj;         /* root "csrf" */
extern const struct gw__cfg_object gw__cfg_audit_obj;        /* root "audit" */
extern const struct gw__cfg_object gw__cfg_identity_obj;     /* root "identity" */
extern const struct gw__cfg_object gw__cfg_service_csrf_obj; /* service "csrf" */
/* Traffic policies: IP rules (config_iprules.c), security headers (config_sechdr.c). */
extern const struct gw__cfg_object gw__cfg_ip_rules_obj;                 /* root "ip_rules" */
extern const struct gw__cfg_object gw__cfg_service_ip_rules_obj;         /* service "ip_rules" */
extern const struct gw__cfg_object gw__cfg_security_headers_obj;         /* root */
extern const struct gw__cfg_object gw__cfg_service_security_headers_obj; /* service */
/* Tracing (config_tracing.c): the root and service "tracing" objects, "log.access_fields", and
 * a share (a number from 0 to 1, or a percentage string such as "10%"; double). */
extern const struct gw__cfg_object gw__cfg_tracing_obj;
extern const struct gw__cfg_object gw__cfg_service_tracing_obj;
extern const struct gw__cfg_type gw__cfg_log_fields_type;
extern const struct gw__cfg_type gw__cfg_share_type;
/* WebSocket upgrades (config_websocket.c). */
extern const struct gw__cfg_object gw__cfg_service_websocket_obj;    /* service "websocket" */
extern const struct gw__cfg_object gw__cfg_hub_obj;                  /* "hub" (config_hub.c) */
extern const struct gw__cfg_object gw__cfg_service_upstream_tls_obj; /* service "upstream_tls" */
extern const struct gw__cfg_object gw__cfg_service_client_cert_obj;  /* service "client_cert" */
/* The service table (config_service.c) and backend registration (config_registration.c). */
extern const struct gw__cfg_object gw__cfg_service_obj;
extern const struct gw__cfg_object gw__cfg_registration_obj;   /* root "registration" */
extern const struct gw__cfg_object gw__cfg_discovery_obj;      /* root "discovery" */
extern const struct gw__cfg_enum gw__cfg_discovery_kinds[];    /* services[].discovery */
extern const struct gw__cfg_enum gw__cfg_upstream_protocols[]; /* services[].upstream_protocol */
/* The service's cross-field checks (config_upstream_protocol.c): upstream_protocol against
 * the targets' schemes. */
void gw__cfg_service_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json);
/* The HTTPS listener (config_tls.c). */
extern const struct gw__cfg_object gw__cfg_tls_obj;   /* root "tls" */
extern const struct gw__cfg_object gw__cfg_http2_obj; /* root "http2" */
/* API versioning (config_version.c): the root section and the service keys' checks. */
extern const struct gw__cfg_object gw__cfg_versioning_obj;   /* root "versioning" */
extern const struct gw__cfg_object gw__cfg_version_rule_obj; /* a service's "versions" item */
bool gw__cfg_check_version(struct gw__cfg_ctx *ctx, char **s);
bool gw__cfg_check_time(struct gw__cfg_ctx *ctx, char **s);
bool gw__cfg_check_link_uri(struct gw__cfg_ctx *ctx, char **s);
/* Aggregated OpenAPI (config_openapi.c). */
extern const struct gw__cfg_object gw__cfg_openapi_obj;         /* root "openapi" */
extern const struct gw__cfg_object gw__cfg_service_openapi_obj; /* service "openapi" */
/* Reads a PEM file (at most 64 KiB) into a new NUL-terminated string (free()) of *len bytes;
 * NULL with why[0..cap) (config_auth.c). */
char *gw__cfg_read_pem(const char *path, size_t *len, char *why, size_t cap);

/* Drops identity's key ring (config_identity.c). */
void gw__cfg_identity_free_keys(struct gw_config *cfg);

/* Frees the JWT keys the auth section loaded (gw_config_free calls it). */
void gw__cfg_auth_free_keys(struct gw_config *cfg);

/* The top-level table (config_fields.c). */
extern const struct gw__cfg_object gw__cfg_root;

/* The root's own sections, rows of the top-level table. */
extern const struct gw__cfg_object gw__cfg_timeouts_obj; /* "timeouts" (config_limits.c) */
extern const struct gw__cfg_object gw__cfg_limits_obj;   /* "limits" (config_limits.c) */
extern const struct gw__cfg_object gw__cfg_upstream_obj; /* "upstream" (config_limits.c) */
extern const struct gw__cfg_object gw__cfg_log_obj;      /* "log" (config_log.c) */
extern const struct gw__cfg_object gw__cfg_admin_obj;    /* "admin" (config_admin.c) */
extern const struct gw__cfg_object gw__cfg_probes_obj;   /* "probes" (config_probes.c) */
/* "services": the list of gw__cfg_service_obj (config_service.c). */
extern const struct gw__cfg_list gw__cfg_service_list;

/* auth.jwt.issuer / audience, when set with identity on, must equal identity.issuer / audience
 * (config_identity.c): the error at auth.jwt's key. */
void gw__cfg_check_identity_claims(struct gw__cfg_ctx *ctx, const struct gw_config *cfg);
/* config_metrics.c: with metrics on the proxy port, no probe answers one of their endpoints
 * (the probes are answered first, so that endpoint could never be). */
void gw__cfg_check_metrics_paths(struct gw__cfg_ctx *ctx, const struct gw_config *cfg);

/* The rules across services (config_routes.c), run by the root's check once every service is
 * parsed: duplicate names, and routes two services would serve. services: the document's
 * "services" array (NULL when absent), for the errors' positions. */
void gw__cfg_check_names(struct gw__cfg_ctx *ctx, struct gw_config *cfg);
void gw__cfg_check_routes(struct gw__cfg_ctx *ctx, struct gw_config *cfg, json_t *services);

/* Parses the pure value syntaxes (no JSON, no env): true on success. A duration is a number
 * (decimals allowed) with a unit ms, s, m or h; without a unit it is seconds, as a JSON number. */
bool gw__cfg_parse_duration_ms(const char *s, uint64_t *ms, const char **why);
bool gw__cfg_parse_size(const char *s, uint64_t *bytes, const char **why);

/* ---- load context and errors (config_errors.c) ----------------------------------------------- */

#define GW__CFG_MAX_DEPTH 16

struct gw__cfg_ctx {
    const char *name; /* file name in messages */
    const char *text; /* the JSON text, for locating values */
    size_t len;
    struct gw__json_seg path[GW__CFG_MAX_DEPTH];
    size_t depth;
    size_t overflow; /* pushes beyond GW__CFG_MAX_DEPTH (kept balanced, not recorded) */
    struct gw_config_errors *errs;
    size_t dropped;         /* errors not recorded beyond GW_CONFIG_MAX_ERRORS */
    struct gw_config *root; /* the config being built */
    bool in_default;        /* parsing a built-in default: no ${ENV}, errors are bugs */
    bool oom;
    /* A YAML file: positions come from this index over tree instead of from the text. */
    const struct gw__pos_index *pos;
    const json_t *tree;
    /* Keys the environment overrode (config_env.c): their errors name the variable. */
    struct {
        const char *var;
        char path[64];
    } env[8];
    size_t nenv;
};

/* Finds the current path's position (the value, or its key with at_key) in the file. */
void gw__cfg_locate(const struct gw__cfg_ctx *ctx, bool at_key, int *line, int *column);

/* Applies the environment overrides (config_env.c) to the parsed tree root before the schema
 * walk: each variable that is set and not empty writes its value at its key path, creating the
 * objects on the way; a section the file switched off (false) stays off. The paths are
 * recorded in ctx->env. */
void gw__cfg_env_apply(struct gw__cfg_ctx *ctx, json_t *root);

void gw__cfg_push_key(struct gw__cfg_ctx *ctx, const char *key);
void gw__cfg_push_index(struct gw__cfg_ctx *ctx, size_t index);
void gw__cfg_pop(struct gw__cfg_ctx *ctx);

/* Records an error at the current path, located at its value (or at its key with at_key). */
void gw__cfg_error(struct gw__cfg_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void gw__cfg_error_at_key(struct gw__cfg_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Records an error at byte off of the current value, a JSON string: its column is that of the
 * character at off (after decoding the string's escapes), so a message can point inside a
 * template or a pattern. */
void gw__cfg_error_in_string(struct gw__cfg_ctx *ctx, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Records an error with an explicit position and path (syntax and file errors). */
void gw__cfg_error_raw(struct gw__cfg_ctx *ctx, int line, int column, const char *path,
                       const char *msg);
/* Records gw_tls_cert_check's why for the "cert" and "key" keys of the object at the top of
 * ctx's path: at "key" when the key file cannot be read or holds no key, else at "cert". */
void gw__cfg_cert_error(struct gw__cfg_ctx *ctx, const char *cert, const char *key,
                        const char *why);
/* Records a syntax error of the JSON text at byte offset off (line, column), with the key path
 * of the value it is in (none for an error outside any member). */
void gw__cfg_syntax_error(struct gw__cfg_ctx *ctx, int line, int column, size_t off,
                          const char *msg);
/* Sorts the errors by position and appends the "more errors" item if some were dropped. */
void gw__cfg_errors_finish(struct gw__cfg_ctx *ctx);

/* "a string", "an array", ... for "expected X, got <this>". */
const char *gw__cfg_json_kind(const json_t *v);

/* Writes s into buf as a quoted, escaped, possibly shortened string for messages. */
const char *gw__cfg_quote(const char *s, size_t len, char *buf, size_t cap);

/* Closest of the names (optimal string alignment distance <= 2, less than key's length), or
 * NULL. */
const char *gw__cfg_suggest(const char *key, size_t key_len, const char *const *names, size_t n);

/* ---- schema walking (config.c) ----------------------------------------------------------------
 */

/* Parses json (an object, or NULL when absent: defaults apply) into obj by spec. */
void gw__cfg_parse_object(struct gw__cfg_ctx *ctx, json_t *json, void *obj,
                          const struct gw__cfg_object *spec);
/* Frees what parse_object allocated inside obj (not obj itself). */
void gw__cfg_release_object(void *obj, const struct gw__cfg_object *spec);

/* Gets a string value with ${ENV} substituted (new allocation in *out); every scalar type also
 * goes through this for string values. False after reporting an error (*out NULL). */
bool gw__cfg_get_string(struct gw__cfg_ctx *ctx, json_t *v, char **out);

/* The addresses and CIDR blocks of v (a string, or an array of strings: the caller checked
 * which) into items (room for one per element). An element that is not one is reported at its
 * position and left out. Returns how many were stored. */
struct gw_cidr;
size_t gw__cfg_cidr_items(struct gw__cfg_ctx *ctx, json_t *v, struct gw_cidr *items);

/* Calls fn for each key path the schema knows, written as in docs/config.md:
 * "timeouts.client_header", "services", "services[].targets[].url". Returns fn's first non-zero
 * result or 0. */
int gw__cfg_each_key(int (*fn)(const char *path, const struct gw__cfg_field *f, void *ud),
                     void *ud);

#endif
