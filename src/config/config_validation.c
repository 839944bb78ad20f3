/*
 * The request validation sections of the config schema: the gateway-wide "validation" object
 * (body cap, how many errors an answer lists, rules every service inherits) and a service's
 * "validation" (the same, plus "inherit"; false turns it off). A rule is a "match" and a JSON
 * Schema, inline ("schema") or in a file ("schema_file"), compiled here (policy/jschema.h) so
 * that every problem in a schema is reported with its position: in the config file for an
 * inline schema, in the schema's own file for a schema_file.
 *
 * docs/config.md "Request validation" documents every row.
 */
#include "config/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "policy/jschema.h"

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])
#define VAL(field) offsetof(struct gw_validation_conf, field)
#define RULE(field) offsetof(struct gw_val_rule_conf, field)

_Static_assert(offsetof(struct gw_val_rule_conf, match) ==
                   offsetof(struct gw_auth_rule_conf, match),
               "a rule's match is parsed with the auth rules' table");

/* A schema file larger than this is refused. */
#define SCHEMA_FILE_MAX (1u << 20)

/* Compile errors land at their key path under the current one (the "schema" key, or the root of
 * a schema file). */
static void on_schema_error(void *ud, const struct gw_jschema_where *at, bool at_key,
                            const char *msg)
{
    struct gw__cfg_ctx *ctx = ud;
    const struct gw_jschema_where *steps[256];
    size_t n = 0;
    for (const struct gw_jschema_where *w = at; w && n < 256; w = w->up)
        steps[n++] = w;
    for (size_t i = n; i-- > 0;) {
        if (steps[i]->key)
            gw__cfg_push_key(ctx, steps[i]->key);
        else
            gw__cfg_push_index(ctx, steps[i]->index);
    }
    if (at_key && n > 0)
        gw__cfg_error_at_key(ctx, "%s", msg);
    else
        gw__cfg_error(ctx, "%s", msg);
    for (size_t i = 0; i < n; i++)
        gw__cfg_pop(ctx);
}

static void compile_into(struct gw__cfg_ctx *ctx, json_t *v, struct gw_jschema **out)
{
    gw_jschema_free(*out);
    *out = NULL;
    if (gw_jschema_compile(v, on_schema_error, ctx, out) == GW_ENOMEM)
        ctx->oom = true;
}

/* "schema": taken as written (no ${ENV} substitution: a pattern's "$" stays a "$"). */
static void parse_schema(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                         const struct gw__cfg_field *f)
{
    compile_into(ctx, v, (struct gw_jschema **)((char *)base + f->offset));
}

static void release_schema(void *base, const struct gw__cfg_field *f)
{
    struct gw_jschema **s = (struct gw_jschema **)((char *)base + f->offset);
    gw_jschema_free(*s);
    *s = NULL;
}

static const struct gw__cfg_type schema_type = {"JSON Schema", parse_schema, release_schema};

static char *read_schema_file(const char *path, size_t *len, char *why, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(why, cap, "cannot read \"%s\": %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(SCHEMA_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, SCHEMA_FILE_MAX + 1, f) : 0;
    fclose(f);
    if (buf == NULL) {
        snprintf(why, cap, "out of memory");
        return NULL;
    }
    if (n > SCHEMA_FILE_MAX) {
        free(buf);
        snprintf(why, cap, "\"%s\" is larger than 1 MiB", path);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Compiles the schema in file path; its problems are reported at their position in that file
 * (the context is pointed at the file's text for the time being). */
static void load_schema_file(struct gw__cfg_ctx *ctx, const char *path, struct gw_jschema **out)
{
    char why[320];
    size_t len = 0;
    char *text = read_schema_file(path, &len, why, sizeof why);
    if (text == NULL) {
        gw__cfg_push_key(ctx, "schema_file");
        gw__cfg_error(ctx, "%s", why);
        gw__cfg_pop(ctx);
        return;
    }
    struct gw__cfg_ctx saved = *ctx;
    ctx->name = path;
    ctx->text = text;
    ctx->len = len;
    ctx->depth = 0;
    ctx->overflow = 0;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        gw__cfg_error_raw(ctx, jerr.line > 0 ? jerr.line : 1, jerr.column > 0 ? jerr.column : 1, "",
                          jerr.text);
    else
        compile_into(ctx, root, out);
    json_decref(root);
    free(text);
    ctx->name = saved.name;
    ctx->text = saved.text;
    ctx->len = saved.len;
    ctx->depth = saved.depth;
    ctx->overflow = saved.overflow;
    memcpy(ctx->path, saved.path, sizeof ctx->path);
}

static void rule_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    struct gw_val_rule_conf *rule = obj;
    bool inline_schema = json && json_object_get(json, "schema") != NULL;
    if (inline_schema && rule->schema_file) {
        gw__cfg_push_key(ctx, "schema_file");
        gw__cfg_error_at_key(ctx, "give \"schema\" or \"schema_file\", not both");
        gw__cfg_pop(ctx);
        return;
    }
    if (!inline_schema && rule->schema_file == NULL) {
        gw__cfg_error(ctx, "a rule needs \"schema\" (inline) or \"schema_file\"");
        return;
    }
    if (rule->schema_file)
        load_schema_file(ctx, rule->schema_file, &rule->schema);
}

static const struct gw__cfg_field rule_fields[] = {
    {.name = "match",
     .type = &gw__cfg_object_type,
     .arg = &gw__cfg_rule_match_obj,
     .required = true},
    {.name = "schema", .type = &schema_type, .offset = RULE(schema)},
    {.name = "schema_file", .type = &gw__cfg_string_type, .offset = RULE(schema_file)},
};

/* A schema_file's compiled schema goes where an inline one would (rule_check refuses both): the
 * "schema" row's release frees it either way. */
static const struct gw__cfg_object rule_obj = {
    .what = "rule",
    ROWS(rule_fields),
    .size = sizeof(struct gw_val_rule_conf),
    .check = rule_check,
};

static const struct gw__cfg_range body_range = {1, 64u << 20};
static const struct gw__cfg_range errors_range = {1, 50};

#define RULES_ROW                                                                                  \
    {                                                                                              \
        .name = "rules", .type = &gw__cfg_list_type, .offset = VAL(rules),                         \
        .arg = &(const struct gw__cfg_list)                                                        \
        {                                                                                          \
            .elem = &rule_obj, .count_offset = VAL(nrules)                                         \
        }                                                                                          \
    }

static const struct gw__cfg_field validation_fields[] = {
    {.name = "max_body_bytes",
     .type = &gw__cfg_size64_type,
     .offset = VAL(max_body_bytes),
     .arg = &body_range,
     .def = "64KiB"},
    {.name = "max_errors",
     .type = &gw__cfg_uint32_type,
     .offset = VAL(max_errors),
     .arg = &errors_range,
     .def = "10"},
    RULES_ROW,
};
const struct gw__cfg_object gw__cfg_validation_obj = {.what = "validation",
                                                      ROWS(validation_fields)};

/* A service inherits the gateway's cap and error count. */
static void service_validation_init(struct gw__cfg_ctx *ctx, void *obj)
{
    struct gw_validation_conf *v = obj;
    v->max_body_bytes = ctx->root->validation.max_body_bytes;
    v->max_errors = ctx->root->validation.max_errors;
    v->inherit = true;
}

static const struct gw__cfg_field service_validation_fields[] = {
    {.name = "inherit", .type = &gw__cfg_bool_type, .offset = VAL(inherit), .def = "true"},
    {.name = "max_body_bytes",
     .type = &gw__cfg_size64_type,
     .offset = VAL(max_body_bytes),
     .arg = &body_range},
    {.name = "max_errors",
     .type = &gw__cfg_uint32_type,
     .offset = VAL(max_errors),
     .arg = &errors_range},
    RULES_ROW,
};
const struct gw__cfg_object gw__cfg_service_validation_obj = {
    .what = "validation",
    ROWS(service_validation_fields),
    .init = service_validation_init,
    .toggle = true,
    .enabled_offset = VAL(enabled),
};
