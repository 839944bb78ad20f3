/*
 * The "compression" sections of the config schema: the gateway's (off by default), a service's
 * (it inherits the gateway's settings key by key and may switch the section off), and a
 * service's route "rules" that override the service for the requests they match.
 *
 * docs/config.md documents every row; docs/compression.md explains the behaviour.
 */
#include "config/internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])
#define CC(field) offsetof(struct gw_compress_conf, field)
#define RULE(field) offsetof(struct gw_compress_rule_conf, field)

/* "type/subtype", or a type with "*" as its subtype (RFC 9110 8.3.1 tokens, no parameters),
 * lowercased. */
static bool check_media_type(struct gw__cfg_ctx *ctx, char **s)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~";
    char *v = *s;
    size_t slash = 0, n = strlen(v);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '/' && slash == 0) {
            slash = i;
            continue;
        }
        if (!isalnum(c) && !(c && strchr(tchar, c))) {
            gw__cfg_error(ctx, "expected a media type such as \"application/json\" or \"text/*\"");
            return false;
        }
        v[i] = (char)tolower(c);
    }
    if (slash == 0 || slash + 1 == n || (v[0] == '*')) {
        gw__cfg_error(ctx, "expected a media type such as \"application/json\" or \"text/*\"");
        return false;
    }
    return true;
}

static bool check_algorithm(struct gw__cfg_ctx *ctx, char **s)
{
    if (strcmp(*s, "gzip") == 0 || strcmp(*s, "br") == 0)
        return true;
    gw__cfg_error(ctx, "unknown algorithm (expected \"br\" or \"gzip\")");
    return false;
}

static unsigned algorithm_bits(const struct gw_compress_conf *c)
{
    unsigned bits = 0;
    for (size_t i = 0; i < c->nalgorithm_names; i++)
        bits |= strcmp(c->algorithm_names[i], "br") == 0 ? GW_COMPRESS_BR : GW_COMPRESS_GZIP;
    return bits;
}

static void compress_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    struct gw_compress_conf *c = obj;
    (void)ctx;
    (void)json;
    if (c->nalgorithm_names)
        c->algorithms = algorithm_bits(c);
}

static const struct gw__cfg_range gzip_levels = {1, 9};
static const struct gw__cfg_range brotli_levels = {0, 11};

#define COMMON_ROWS(owner, gzip_def, brotli_def, min_def)                                          \
    {.name = "gzip_level",                                                                         \
     .type = &gw__cfg_uint32_type,                                                                 \
     .offset = offsetof(owner, gzip_level),                                                        \
     .arg = &gzip_levels,                                                                          \
     .def = gzip_def},                                                                             \
        {.name = "brotli_level",                                                                   \
         .type = &gw__cfg_uint32_type,                                                             \
         .offset = offsetof(owner, brotli_level),                                                  \
         .arg = &brotli_levels,                                                                    \
         .def = brotli_def},                                                                       \
    {                                                                                              \
        .name = "min_length", .type = &gw__cfg_size64_type, .offset = offsetof(owner, min_length), \
        .def = min_def                                                                             \
    }

#define LIST_ROWS                                                                                  \
    {.name = "types",                                                                              \
     .type = &gw__cfg_strlist_type,                                                                \
     .offset = CC(types),                                                                          \
     .arg = &(const struct gw__cfg_strlist){                                                       \
         .count_offset = CC(ntypes), .min = 1, .check = check_media_type, .unique = true}},        \
    {                                                                                              \
        .name = "algorithms", .type = &gw__cfg_strlist_type, .offset = CC(algorithm_names),        \
        .arg = &(const struct gw__cfg_strlist)                                                     \
        {                                                                                          \
            .count_offset = CC(nalgorithm_names), .min = 1, .check = check_algorithm,              \
            .unique = true                                                                         \
        }                                                                                          \
    }

/* ---- the gateway's --------------------------------------------------------------------------- */

static void gateway_init(struct gw__cfg_ctx *ctx, void *obj)
{
    struct gw_compress_conf *c = obj;
    (void)ctx;
    c->algorithms = GW_COMPRESS_BR | GW_COMPRESS_GZIP;
}

static const struct gw__cfg_field compress_fields[] = {
    COMMON_ROWS(struct gw_compress_conf, "6", "4", "256"),
    LIST_ROWS,
};
const struct gw__cfg_object gw__cfg_compression_obj = {
    .what = "compression",
    ROWS(compress_fields),
    .init = gateway_init,
    .check = compress_check,
    .toggle = true,
    .enabled_offset = CC(enabled),
};

/* ---- a service's, and its rules ----------------------------------------------------------------
 */

/* A rule's absent keys are the service's: marked here, resolved per request. */
static void rule_init(struct gw__cfg_ctx *ctx, void *obj)
{
    struct gw_compress_rule_conf *rl = obj;
    (void)ctx;
    rl->gzip_level = 0;
    rl->brotli_level = UINT32_MAX;
    rl->min_length = UINT64_MAX;
}

static const struct gw__cfg_field rule_fields[] = {
    {.name = "match",
     .type = &gw__cfg_object_type,
     .arg = &gw__cfg_rule_match_obj,
     .required = true},
    {.name = "enabled", .type = &gw__cfg_bool_type, .offset = RULE(enabled), .def = "true"},
    COMMON_ROWS(struct gw_compress_rule_conf, NULL, NULL, NULL),
};
static const struct gw__cfg_object rule_obj = {
    .what = "rule",
    ROWS(rule_fields),
    .size = sizeof(struct gw_compress_rule_conf),
    .init = rule_init,
};

/* A service starts from the gateway's settings (its lists are read from the gateway's when it
 * names none). Absent, the section is on exactly when the gateway's is (the service's own init,
 * config_service.c, sets that: the switch is decided before this runs). */
static void service_init(struct gw__cfg_ctx *ctx, void *obj)
{
    struct gw_compress_conf *c = obj;
    const struct gw_compress_conf *g = &ctx->root->compression;
    c->gzip_level = g->gzip_level;
    c->brotli_level = g->brotli_level;
    c->min_length = g->min_length;
    c->algorithms = g->algorithms;
}

static const struct gw__cfg_field service_fields[] = {
    COMMON_ROWS(struct gw_compress_conf, NULL, NULL, NULL),
    LIST_ROWS,
    {.name = "rules",
     .type = &gw__cfg_list_type,
     .offset = CC(rules),
     .arg = &(const struct gw__cfg_list){.elem = &rule_obj, .count_offset = CC(nrules)}},
};
const struct gw__cfg_object gw__cfg_service_compression_obj = {
    .what = "compression",
    ROWS(service_fields),
    .init = service_init,
    .check = compress_check,
    .toggle = true,
    .enabled_offset = CC(enabled),
};
