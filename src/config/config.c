/*
 * Config loading: read the file, parse it with jansson, walk the schema tables.
 *
 * How the schema is written (and how to add a section)
 * ----------------------------------------------------
 * There is no switch over key names anywhere. Each JSON object of the config is described by a
 * `static const struct gw__cfg_object` (config_<section>.c) holding a table of rows:
 *
 *     {.name = "client_header", .type = &gw__cfg_duration_type,
 *      .offset = offsetof(struct gw_config, timeouts.client_header_ms), .def = "10s"},
 *
 * A row names the key, its value type (a parse function and a release function, in
 * config_values.c / config_http.c), where the value goes (an offset from the struct the object
 * fills; types that fill several fields, such as a target URL, are "setters" that know their
 * struct), a type-specific argument (range, names, nested table), whether the key is required,
 * and its default, written as the string a user would write. A nested object is a row of type
 * gw__cfg_object_type whose argument is the nested table; an array of objects is a row of type
 * gw__cfg_list_type. Optional init / check hooks on a table handle defaults that come from
 * elsewhere and cross-field rules. A table marked `toggle` is a section that can be switched
 * off: it may be written as a boolean too, and its row's def ("true"/"false") says whether it is
 * on when absent (health_check, retries, ...: config_resilience.c).
 *
 * So adding a section (rate_limit, auth, health_check, circuit_breaker, ...) is: the fields in
 * struct gw_config or struct gw_service_conf, one table for the section, one row in its parent's
 * table, and its keys in docs/config.md (a unit test checks that the two agree). The generic
 * walker below gives it defaults, type errors, unknown-key errors with suggestions, positions,
 * and freeing, for free.
 *
 * Walking order: rows are processed in table order, not in the order of the JSON text, so a row
 * may depend on the rows above it (services come last and inherit the global limits). Errors
 * are collected, never fatal, and sorted by position at the end.
 */
#include "config/internal.h"

#include "core/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AT(base, off, T) ((T *)((char *)(base) + (off)))

/* ---- generic walker ----------------------------------------------------------------------------
 */

static void parse_default(struct gw__cfg_ctx *ctx, void *obj, const struct gw__cfg_field *row)
{
    json_t *v = json_string(row->def);
    if (v == NULL) {
        ctx->oom = true;
        return;
    }
    bool was = ctx->in_default;
    ctx->in_default = true;
    row->type->parse(ctx, v, obj, row);
    ctx->in_default = was;
    json_decref(v);
}

static bool known_key(const struct gw__cfg_object *spec, const char *key)
{
    for (size_t i = 0; i < spec->nfields; i++) {
        if (strcmp(spec->fields[i].name, key) == 0)
            return true;
    }
    return false;
}

static void unknown_key(struct gw__cfg_ctx *ctx, const struct gw__cfg_object *spec, const char *key)
{
    const char *names[64];
    size_t n = 0;
    for (size_t i = 0; i < spec->nfields && n < sizeof names / sizeof names[0]; i++)
        names[n++] = spec->fields[i].name;
    size_t key_len = strlen(key);
    const char *best = gw__cfg_suggest(key, key_len, names, n);
    char q[96];
    gw__cfg_quote(key, key_len, q, sizeof q);
    gw__cfg_push_key(ctx, key);
    if (best)
        gw__cfg_error_at_key(ctx, "unknown key %s (did you mean \"%s\"?)", q, best);
    else
        gw__cfg_error_at_key(ctx, "unknown key %s", q);
    gw__cfg_pop(ctx);
}

void gw__cfg_parse_object(struct gw__cfg_ctx *ctx, json_t *json, void *obj,
                          const struct gw__cfg_object *spec)
{
    if (spec->init)
        spec->init(ctx, obj);
    for (size_t i = 0; i < spec->nfields; i++) {
        const struct gw__cfg_field *row = &spec->fields[i];
        json_t *v = json ? json_object_get(json, row->name) : NULL;
        gw__cfg_push_key(ctx, row->name);
        if (v)
            row->type->parse(ctx, v, obj, row);
        else if (row->required)
            gw__cfg_error(ctx, "required key \"%s\" is missing", row->name);
        else if (row->def)
            parse_default(ctx, obj, row);
        else if (row->type == &gw__cfg_object_type)
            gw__cfg_parse_object(ctx, NULL, AT(obj, row->offset, char), row->arg);
        gw__cfg_pop(ctx);
    }
    if (json) {
        const char *key;
        json_t *v;
        json_object_foreach(json, key, v)
        {
            if (!known_key(spec, key))
                unknown_key(ctx, spec, key);
        }
    }
    if (spec->check)
        spec->check(ctx, obj, json);
}

void gw__cfg_release_object(void *obj, const struct gw__cfg_object *spec)
{
    for (size_t i = 0; i < spec->nfields; i++) {
        const struct gw__cfg_field *row = &spec->fields[i];
        if (row->type->release)
            row->type->release(obj, row);
    }
}

/* ---- nested objects and arrays of objects ---------------------------------------------------- */

/* The defaults of a section that is off: no required keys, no check hook. */
static void apply_defaults(struct gw__cfg_ctx *ctx, void *obj, const struct gw__cfg_object *spec)
{
    if (spec->init)
        spec->init(ctx, obj);
    for (size_t i = 0; i < spec->nfields; i++) {
        const struct gw__cfg_field *row = &spec->fields[i];
        gw__cfg_push_key(ctx, row->name);
        if (row->def)
            parse_default(ctx, obj, row);
        else if (row->type == &gw__cfg_object_type)
            apply_defaults(ctx, AT(obj, row->offset, char), row->arg);
        gw__cfg_pop(ctx);
    }
}

/* A section that can be switched off (spec->toggle): an object, or a boolean. */
static void parse_toggle(struct gw__cfg_ctx *ctx, json_t *v, void *obj,
                         const struct gw__cfg_object *spec)
{
    bool *enabled = AT(obj, spec->enabled_offset, bool);
    if (json_is_object(v)) {
        *enabled = true;
        gw__cfg_parse_object(ctx, v, obj, spec);
        return;
    }
    bool on = false;
    if (json_is_boolean(v) || json_is_string(v)) {
        const struct gw__cfg_field flag = {.name = "", .type = &gw__cfg_bool_type};
        gw__cfg_bool_type.parse(ctx, v, &on, &flag);
    } else {
        gw__cfg_error(ctx, "expected an object or a boolean, got %s", gw__cfg_json_kind(v));
    }
    *enabled = on;
    if (on)
        gw__cfg_parse_object(ctx, NULL, obj, spec);
    else
        apply_defaults(ctx, obj, spec);
}

static void parse_nested(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                         const struct gw__cfg_field *f)
{
    const struct gw__cfg_object *spec = f->arg;
    if (spec->toggle) {
        parse_toggle(ctx, v, AT(base, f->offset, char), spec);
        return;
    }
    if (!json_is_object(v)) {
        gw__cfg_error(ctx, "expected an object, got %s", gw__cfg_json_kind(v));
        v = NULL; /* still apply the defaults, so the struct is complete */
    }
    gw__cfg_parse_object(ctx, v, AT(base, f->offset, char), spec);
}

static void release_nested(void *base, const struct gw__cfg_field *f)
{
    gw__cfg_release_object(AT(base, f->offset, char), f->arg);
}

const struct gw__cfg_type gw__cfg_object_type = {"object", parse_nested, release_nested};

static void release_list(void *base, const struct gw__cfg_field *f)
{
    const struct gw__cfg_list *arg = f->arg;
    char **items = AT(base, f->offset, char *);
    size_t *count = AT(base, arg->count_offset, size_t);
    for (size_t i = 0; *items && i < *count; i++)
        gw__cfg_release_object(*items + i * arg->elem->size, arg->elem);
    free(*items);
    *items = NULL;
    *count = 0;
}

static void parse_list(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                       const struct gw__cfg_field *f)
{
    const struct gw__cfg_list *arg = f->arg;
    const struct gw__cfg_object *elem = arg->elem;
    if (!json_is_array(v)) {
        gw__cfg_error(ctx, "expected an array of %s objects, got %s", elem->what,
                      gw__cfg_json_kind(v));
        return;
    }
    size_t n = json_array_size(v);
    if (n < arg->min) {
        gw__cfg_error(ctx, "must have at least %zu %s%s", arg->min, elem->what,
                      arg->min == 1 ? "" : "s");
        return;
    }
    release_list(base, f);
    char *items = calloc(n ? n : 1, elem->size);
    if (items == NULL) {
        ctx->oom = true;
        return;
    }
    /* Stored before parsing so that a partly parsed list is released like a full one. */
    *AT(base, f->offset, char *) = items;
    *AT(base, arg->count_offset, size_t) = n;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        void *obj = items + i * elem->size;
        gw__cfg_push_index(ctx, i);
        if (json_is_object(e)) {
            gw__cfg_parse_object(ctx, e, obj, elem);
        } else if (arg->shorthand && json_is_string(e)) {
            json_t *wrap = json_object();
            if (wrap == NULL || json_object_set(wrap, arg->shorthand, e) != 0)
                ctx->oom = true;
            else
                gw__cfg_parse_object(ctx, wrap, obj, elem);
            json_decref(wrap);
        } else {
            if (elem->init)
                elem->init(ctx, obj);
            if (arg->shorthand)
                gw__cfg_error(ctx, "expected a %s object or a string, got %s", elem->what,
                              gw__cfg_json_kind(e));
            else
                gw__cfg_error(ctx, "expected a %s object, got %s", elem->what,
                              gw__cfg_json_kind(e));
        }
        gw__cfg_pop(ctx);
    }
}

const struct gw__cfg_type gw__cfg_list_type = {"array of objects", parse_list, release_list};

/* ---- schema introspection -------------------------------------------------------------------- */

static int each_key(const struct gw__cfg_object *spec, char *buf, size_t len, size_t cap,
                    int (*fn)(const char *, const struct gw__cfg_field *, void *), void *ud)
{
    for (size_t i = 0; i < spec->nfields; i++) {
        const struct gw__cfg_field *row = &spec->fields[i];
        int n = snprintf(buf + len, cap - len, "%s%s", len ? "." : "", row->name);
        if (n < 0 || (size_t)n >= cap - len)
            return -1;
        int rc;
        if (row->type == &gw__cfg_object_type) {
            rc = each_key(row->arg, buf, len + (size_t)n, cap, fn, ud);
        } else {
            rc = fn(buf, row, ud);
            if (rc == 0 && row->type == &gw__cfg_list_type) {
                size_t at = len + (size_t)n;
                if (cap - at < 3)
                    return -1;
                memcpy(buf + at, "[]", 3);
                rc = each_key(((const struct gw__cfg_list *)row->arg)->elem, buf, at + 2, cap, fn,
                              ud);
            }
        }
        buf[len] = '\0';
        if (rc != 0)
            return rc;
    }
    return 0;
}

int gw__cfg_each_key(int (*fn)(const char *path, const struct gw__cfg_field *f, void *ud), void *ud)
{
    char buf[256];
    buf[0] = '\0';
    return each_key(&gw__cfg_root, buf, 0, sizeof buf, fn, ud);
}

/* ---- loading --------------------------------------------------------------------------------- */

bool gw_config_is_yaml(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    return (n >= 5 && strcasecmp(name + n - 5, ".yaml") == 0) ||
           (n >= 4 && strcasecmp(name + n - 4, ".yml") == 0);
}

/* The tree of a JSON or YAML text (by ctx->name), or NULL after recording the syntax error.
 * For YAML, idx receives the positions. */
static json_t *parse_text(struct gw__cfg_ctx *ctx, const char *text, size_t len,
                          struct gw__pos_index *idx)
{
    json_t *root = NULL;
    if (gw_config_is_yaml(ctx->name)) {
        char why[300];
        int line = 1;
        int column = 1;
        int rc = gw__yaml_parse(text, len, &root, idx, &line, &column, why, sizeof why);
        if (rc == GW_ENOMEM)
            ctx->oom = true;
        else if (rc < 0)
            gw__cfg_error_raw(ctx, line, column, "", why);
        return root;
    }
    json_error_t jerr;
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        /* jansson reports the line and the character column of the offending token. A value
         * it refuses (a NUL in a string, an integer beyond 64 bits, a key given twice) is
         * named by its key path too: the value the byte offset is in. A misplaced token is
         * not (the member before it would be named). */
        enum json_error_code code = json_error_code(&jerr);
        const char *msg = jerr.text;
        if (code == json_error_null_character)
            msg = "\\u0000 (a NUL character) is not allowed in a string";
        int line = jerr.line > 0 ? jerr.line : 1;
        int column = jerr.column > 0 ? jerr.column : 1;
        if (code == json_error_null_character || code == json_error_numeric_overflow ||
            code == json_error_duplicate_key)
            gw__cfg_syntax_error(ctx, line, column, (size_t)jerr.position, msg);
        else
            gw__cfg_error_raw(ctx, line, column, "", msg);
    }
    return root;
}

static int load_text(struct gw__cfg_ctx *ctx, const char *text, size_t len, struct gw_config **out)
{
    struct gw_config *cfg = NULL;
    struct gw__pos_index idx = {0};
    ctx->text = text;
    ctx->len = len;
    json_t *root = parse_text(ctx, text, len, &idx);
    if (root == NULL)
        goto fail;
    if (gw_config_is_yaml(ctx->name)) {
        ctx->pos = &idx;
        ctx->tree = root;
    }
    if (!json_is_object(root)) {
        gw__cfg_error(ctx, "the top-level value must be an object, got %s",
                      gw__cfg_json_kind(root));
        goto fail;
    }
    gw__cfg_env_apply(ctx, root);
    cfg = calloc(1, sizeof *cfg);
    if (cfg == NULL) {
        ctx->oom = true;
        goto fail;
    }
    size_t nlen = strlen(ctx->name);
    cfg->path = malloc(nlen + 1);
    if (cfg->path == NULL) {
        ctx->oom = true;
        goto fail;
    }
    memcpy(cfg->path, ctx->name, nlen + 1);
    ctx->root = cfg;
    gw__cfg_parse_object(ctx, root, cfg, &gw__cfg_root);
    if (ctx->oom || ctx->errs->count > 0 || ctx->dropped > 0)
        goto fail;
    cfg->source = root; /* the reference moves to the config */
    ctx->pos = NULL;
    ctx->tree = NULL;
    gw__pos_index_free(&idx);
    *out = cfg;
    return 0;
fail:
    json_decref(root);
    gw_config_free(cfg);
    ctx->root = NULL;
    ctx->pos = NULL;
    ctx->tree = NULL;
    gw__pos_index_free(&idx);
    return ctx->oom ? GW_ENOMEM : GW_ECONFIG;
}

static int begin(const char *name, struct gw_config **out, struct gw_config_errors *errs,
                 struct gw__cfg_ctx *ctx)
{
    if (out)
        *out = NULL;
    if (errs) {
        errs->items = NULL;
        errs->count = 0;
    }
    if (out == NULL || errs == NULL || name == NULL)
        return GW_EINVAL;
    memset(ctx, 0, sizeof *ctx);
    ctx->name = name;
    ctx->errs = errs;
    return 0;
}

int gw_config_load_string(const char *name, const char *text, size_t len, struct gw_config **out,
                          struct gw_config_errors *errs)
{
    struct gw__cfg_ctx ctx;
    int rc = begin(name, out, errs, &ctx);
    if (rc < 0)
        return rc;
    if (text == NULL && len > 0)
        return GW_EINVAL;
    rc = load_text(&ctx, text ? text : "", len, out);
    gw__cfg_errors_finish(&ctx);
    return rc;
}

/* Reads the whole file; on failure records why and returns NULL. */
static char *read_file(struct gw__cfg_ctx *ctx, const char *path, size_t *len)
{
    char msg[320];
    size_t cap = 4096;
    size_t n = 0;
    char *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(msg, sizeof msg, "cannot open: %s", strerror(errno));
        gw__cfg_error_raw(ctx, 0, 0, "", msg);
        return NULL;
    }
    buf = malloc(cap);
    if (buf == NULL) {
        ctx->oom = true;
        goto fail;
    }
    for (;;) {
        if (n == cap) {
            if (cap > GW_CONFIG_MAX_FILE_BYTES) {
                snprintf(msg, sizeof msg, "file larger than %u bytes",
                         (unsigned)GW_CONFIG_MAX_FILE_BYTES);
                gw__cfg_error_raw(ctx, 0, 0, "", msg);
                goto fail;
            }
            char *p = realloc(buf, cap * 2);
            if (p == NULL) {
                ctx->oom = true;
                goto fail;
            }
            buf = p;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(msg, sizeof msg, "cannot read: %s", strerror(errno));
        gw__cfg_error_raw(ctx, 0, 0, "", msg);
        goto fail;
    }
    if (n > GW_CONFIG_MAX_FILE_BYTES) {
        snprintf(msg, sizeof msg, "file larger than %u bytes", (unsigned)GW_CONFIG_MAX_FILE_BYTES);
        gw__cfg_error_raw(ctx, 0, 0, "", msg);
        goto fail;
    }
    fclose(f);
    *len = n;
    return buf;
fail:
    free(buf);
    fclose(f);
    return NULL;
}

int gw_config_load(const char *path, struct gw_config **out, struct gw_config_errors *errs)
{
    struct gw__cfg_ctx ctx;
    size_t len = 0;
    int rc = begin(path, out, errs, &ctx);
    if (rc < 0)
        return rc;
    char *text = read_file(&ctx, path, &len);
    if (text == NULL)
        rc = ctx.oom ? GW_ENOMEM : GW_ECONFIG;
    else
        rc = load_text(&ctx, text, len, out);
    free(text);
    gw__cfg_errors_finish(&ctx);
    return rc;
}

int gw_config_read_tree(const char *path, json_t **out, struct gw_config_errors *errs)
{
    struct gw__cfg_ctx ctx;
    size_t len = 0;
    if (out)
        *out = NULL;
    if (errs) {
        errs->items = NULL;
        errs->count = 0;
    }
    if (out == NULL || errs == NULL || path == NULL)
        return GW_EINVAL;
    memset(&ctx, 0, sizeof ctx);
    ctx.name = path;
    ctx.errs = errs;
    char *text = read_file(&ctx, path, &len);
    if (text != NULL) {
        ctx.text = text;
        ctx.len = len;
        *out = parse_text(&ctx, text, len, NULL);
    }
    free(text);
    gw__cfg_errors_finish(&ctx);
    if (*out != NULL)
        return 0;
    return ctx.oom ? GW_ENOMEM : GW_ECONFIG;
}

void gw_config_free(struct gw_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->nservices; i++) {
        for (size_t k = 0; k < cfg->services[i].ntargets; k++) {
            struct gw_target_conf *t = &cfg->services[i].targets[k];
            if (t->secret_header)
                explicit_bzero(t->secret_header, t->secret_header_len);
            free(t->secret_header);
        }
    }
    gw__cfg_release_object(cfg, &gw__cfg_root);
    gw__cfg_auth_free_keys(cfg);
    gw__cfg_identity_free_keys(cfg);
    json_decref(cfg->source);
    free(cfg->path);
    free(cfg);
}
