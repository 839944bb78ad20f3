/*
 * JSON Schema subset: compiler and validator (policy/jschema.h has the contract, docs/config.md
 * "Request validation" the keywords). A compiled schema is a graph of nodes owned by one
 * struct gw_jschema; $ref edges point at nodes of the root's $defs (or the root), resolved when
 * they are compiled, so a request never looks a name up.
 */
#include "policy/jschema.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"

/* A pattern that needs more backtracking steps than this fails the check (keyword "pattern"). */
#define JS_MATCH_LIMIT 100000

enum {
    T_NULL = 1u << 0,
    T_BOOLEAN = 1u << 1,
    T_OBJECT = 1u << 2,
    T_ARRAY = 1u << 3,
    T_NUMBER = 1u << 4,
    T_STRING = 1u << 5,
    T_INTEGER = 1u << 6,
};

static const struct {
    const char *name;
    unsigned bit;
} type_names[] = {
    {"null", T_NULL},     {"boolean", T_BOOLEAN}, {"object", T_OBJECT},   {"array", T_ARRAY},
    {"number", T_NUMBER}, {"string", T_STRING},   {"integer", T_INTEGER},
};

struct js_node;

struct js_prop {
    char *name;
    size_t name_len;
    struct js_node *schema;
};

struct js_node {
    bool never;     /* the schema false */
    unsigned types; /* 0: any */
    json_t *enum_;  /* an array, or NULL */
    json_t *const_; /* has_const: the value (may be JSON null) */
    bool has_const;
    json_t *minimum, *maximum, *xminimum, *xmaximum; /* numbers, or NULL */
    size_t min_len, max_len;                         /* code points; max SIZE_MAX: none */
    size_t min_items, max_items;                     /* max SIZE_MAX: none */
    pcre2_code *pattern;
    char *pattern_src;
    char **required;
    size_t nrequired;
    struct js_prop *props;
    size_t nprops;
    bool addl_false;         /* additionalProperties: false */
    struct js_node *addl;    /* additionalProperties as a schema, or NULL */
    struct js_node *items;   /* or NULL */
    struct js_node **prefix; /* prefixItems */
    size_t nprefix;
    struct js_node *ref;  /* $ref target, or NULL */
    const char *ref_name; /* for the cycle check's message */
};

struct js_def {
    char *name;
    struct js_node *node;
};

struct gw_jschema {
    struct js_node *root;
    struct js_node **nodes; /* every node, for freeing */
    size_t nnodes, cap;
    struct js_def *defs;
    size_t ndefs;
    pcre2_match_context *mctx;
};

/* ---- compiling ------------------------------------------------------------------------------ */

struct js_compile {
    struct gw_jschema *s;
    gw_jschema_error_fn err;
    void *ud;
    int rc; /* 0, GW_ECONFIG or GW_ENOMEM */
};

static void report(struct js_compile *c, const struct gw_jschema_where *at, bool at_key,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void report(struct js_compile *c, const struct gw_jschema_where *at, bool at_key,
                   const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->rc == 0)
        c->rc = GW_ECONFIG;
    if (c->err)
        c->err(c->ud, at, at_key, msg);
}

static struct js_node *new_node(struct js_compile *c)
{
    struct gw_jschema *s = c->s;
    if (s->nnodes == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct js_node **n = realloc(s->nodes, cap * sizeof *n);
        if (n == NULL)
            goto fail;
        s->nodes = n;
        s->cap = cap;
    }
    struct js_node *node = calloc(1, sizeof *node);
    if (node == NULL)
        goto fail;
    node->max_len = node->max_items = SIZE_MAX;
    s->nodes[s->nnodes++] = node;
    return node;
fail:
    c->rc = GW_ENOMEM;
    return NULL;
}

static const char *const annotations[] = {
    "$comment", "title",      "description", "default",
    "examples", "deprecated", "readOnly",    "writeOnly",
};

static const char *const known[] = {
    "type",
    "enum",
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "required",
    "properties",
    "additionalProperties",
    "minItems",
    "maxItems",
    "items",
    "prefixItems",
    "$ref",
    "$defs",
    "$schema",
    "$id",
};

static bool in_list(const char *k, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(k, list[i]) == 0)
            return true;
    return false;
}

static struct js_node *compile_node(struct js_compile *c, json_t *v,
                                    const struct gw_jschema_where *at, struct js_node *into);

/* A non-negative integer keyword value into *out. */
static void get_count(struct js_compile *c, json_t *v, const struct gw_jschema_where *at,
                      const char *kw, size_t *out)
{
    double d = json_is_real(v) ? json_real_value(v) : 0;
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (size_t)json_integer_value(v);
        return;
    }
    if (json_is_real(v) && d >= 0 && d == floor(d) && d < 9e15) {
        *out = (size_t)d;
        return;
    }
    report(c, at, false, "%s must be a non-negative integer", kw);
}

static void compile_type(struct js_compile *c, struct js_node *n, json_t *v,
                         const struct gw_jschema_where *at)
{
    size_t count = json_is_array(v) ? json_array_size(v) : 1;
    if (!json_is_string(v) && !json_is_array(v)) {
        report(c, at, false, "type must be a type name or an array of them");
        return;
    }
    for (size_t i = 0; i < count; i++) {
        json_t *t = json_is_array(v) ? json_array_get(v, i) : v;
        struct gw_jschema_where here = {at, NULL, i};
        const struct gw_jschema_where *w = json_is_array(v) ? &here : at;
        unsigned bit = 0;
        for (size_t k = 0; json_is_string(t) && k < sizeof type_names / sizeof type_names[0]; k++)
            if (strcmp(json_string_value(t), type_names[k].name) == 0)
                bit = type_names[k].bit;
        if (bit == 0) {
            report(c, w, false,
                   "unknown type (one of null, boolean, object, array, number, string, integer)");
            continue;
        }
        if (n->types & bit)
            report(c, w, false, "type listed twice");
        n->types |= bit;
    }
}

static void compile_pattern(struct js_compile *c, struct js_node *n, json_t *v,
                            const struct gw_jschema_where *at)
{
    if (!json_is_string(v)) {
        report(c, at, false, "pattern must be a string");
        return;
    }
    int code;
    PCRE2_SIZE off;
    n->pattern = pcre2_compile((PCRE2_SPTR)json_string_value(v), json_string_length(v),
                               PCRE2_UTF | PCRE2_NO_UTF_CHECK, &code, &off, NULL);
    if (n->pattern == NULL) {
        PCRE2_UCHAR why[160];
        pcre2_get_error_message(code, why, sizeof why);
        report(c, at, false, "invalid pattern at offset %zu: %s", (size_t)off, (char *)why);
        return;
    }
    (void)pcre2_jit_compile(n->pattern, PCRE2_JIT_COMPLETE);
    n->pattern_src = strdup(json_string_value(v));
    if (n->pattern_src == NULL)
        c->rc = GW_ENOMEM;
}

/* "#" or "#/$defs/<name>" (RFC 6901 escapes ~0, ~1) to a node. */
static void compile_ref(struct js_compile *c, struct js_node *n, json_t *v,
                        const struct gw_jschema_where *at)
{
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    if (s == NULL) {
        report(c, at, false, "$ref must be a string");
        return;
    }
    if (strcmp(s, "#") == 0) {
        n->ref = c->s->root;
        n->ref_name = "#";
        return;
    }
    if (strncmp(s, "#/$defs/", 8) != 0 || strchr(s + 8, '/') != NULL) {
        report(c, at, false, "$ref must be \"#\" or \"#/$defs/<name>\" (local references only)");
        return;
    }
    char name[256];
    size_t k = 0;
    for (const char *p = s + 8; *p; p++) {
        char ch = *p;
        if (ch == '~') {
            if (p[1] != '0' && p[1] != '1') {
                report(c, at, false, "$ref: invalid escape ~ (RFC 6901: ~0 or ~1)");
                return;
            }
            ch = p[1] == '0' ? '~' : '/';
            p++;
        }
        if (k + 1 >= sizeof name) {
            report(c, at, false, "$ref: name too long");
            return;
        }
        name[k++] = ch;
    }
    name[k] = '\0';
    for (size_t i = 0; i < c->s->ndefs; i++) {
        if (strcmp(c->s->defs[i].name, name) == 0) {
            n->ref = c->s->defs[i].node;
            n->ref_name = c->s->defs[i].name;
            return;
        }
    }
    report(c, at, false, "$ref: no \"%s\" in the root's $defs", name);
}

/* The root's $defs: nodes are made for every name first, so that references between them
 * (and recursive ones) resolve whatever their order. */
static void compile_defs(struct js_compile *c, json_t *defs, const struct gw_jschema_where *at)
{
    struct gw_jschema *s = c->s;
    if (!json_is_object(defs)) {
        report(c, at, false, "$defs must be an object");
        return;
    }
    s->defs = calloc(json_object_size(defs) + 1, sizeof *s->defs);
    if (s->defs == NULL) {
        c->rc = GW_ENOMEM;
        return;
    }
    const char *k;
    json_t *d;
    json_object_foreach(defs, k, d)
    {
        struct js_node *node = new_node(c);
        char *name = strdup(k);
        if (node == NULL || name == NULL) {
            free(name);
            c->rc = GW_ENOMEM;
            return;
        }
        s->defs[s->ndefs].name = name;
        s->defs[s->ndefs++].node = node;
    }
    size_t i = 0;
    json_object_foreach(defs, k, d)
    {
        struct gw_jschema_where here = {at, k, 0};
        compile_node(c, d, &here, s->defs[i++].node);
    }
}

static void compile_props(struct js_compile *c, struct js_node *n, json_t *v,
                          const struct gw_jschema_where *at)
{
    if (!json_is_object(v)) {
        report(c, at, false, "properties must be an object");
        return;
    }
    n->props = calloc(json_object_size(v) + 1, sizeof *n->props);
    if (n->props == NULL) {
        c->rc = GW_ENOMEM;
        return;
    }
    const char *k;
    json_t *p;
    json_object_foreach(v, k, p)
    {
        struct gw_jschema_where here = {at, k, 0};
        struct js_prop *pr = &n->props[n->nprops];
        pr->name = strdup(k);
        if (pr->name == NULL) {
            c->rc = GW_ENOMEM;
            return;
        }
        pr->name_len = strlen(k);
        n->nprops++;
        pr->schema = compile_node(c, p, &here, NULL);
    }
}

static void compile_required(struct js_compile *c, struct js_node *n, json_t *v,
                             const struct gw_jschema_where *at)
{
    if (!json_is_array(v)) {
        report(c, at, false, "required must be an array of strings");
        return;
    }
    n->required = calloc(json_array_size(v) + 1, sizeof *n->required);
    if (n->required == NULL) {
        c->rc = GW_ENOMEM;
        return;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *e = json_array_get(v, i);
        struct gw_jschema_where here = {at, NULL, i};
        if (!json_is_string(e)) {
            report(c, &here, false, "required must be an array of strings");
            continue;
        }
        for (size_t j = 0; j < n->nrequired; j++)
            if (strcmp(n->required[j], json_string_value(e)) == 0)
                report(c, &here, false, "required lists \"%s\" twice", n->required[j]);
        n->required[n->nrequired] = strdup(json_string_value(e));
        if (n->required[n->nrequired] == NULL) {
            c->rc = GW_ENOMEM;
            return;
        }
        n->nrequired++;
    }
}

static void compile_number(struct js_compile *c, json_t *v, const struct gw_jschema_where *at,
                           const char *kw, json_t **out)
{
    if (!json_is_number(v)) {
        report(c, at, false, "%s must be a number", kw);
        return;
    }
    *out = json_incref(v);
}

static void compile_keyword(struct js_compile *c, struct js_node *n, const char *k, json_t *v,
                            const struct gw_jschema_where *at)
{
    if (strcmp(k, "type") == 0) {
        compile_type(c, n, v, at);
    } else if (strcmp(k, "enum") == 0) {
        if (!json_is_array(v))
            report(c, at, false, "enum must be an array");
        else
            n->enum_ = json_incref(v);
    } else if (strcmp(k, "const") == 0) {
        n->const_ = json_incref(v);
        n->has_const = true;
    } else if (strcmp(k, "minimum") == 0) {
        compile_number(c, v, at, k, &n->minimum);
    } else if (strcmp(k, "maximum") == 0) {
        compile_number(c, v, at, k, &n->maximum);
    } else if (strcmp(k, "exclusiveMinimum") == 0) {
        compile_number(c, v, at, k, &n->xminimum);
    } else if (strcmp(k, "exclusiveMaximum") == 0) {
        compile_number(c, v, at, k, &n->xmaximum);
    } else if (strcmp(k, "minLength") == 0) {
        get_count(c, v, at, k, &n->min_len);
    } else if (strcmp(k, "maxLength") == 0) {
        get_count(c, v, at, k, &n->max_len);
    } else if (strcmp(k, "minItems") == 0) {
        get_count(c, v, at, k, &n->min_items);
    } else if (strcmp(k, "maxItems") == 0) {
        get_count(c, v, at, k, &n->max_items);
    } else if (strcmp(k, "pattern") == 0) {
        compile_pattern(c, n, v, at);
    } else if (strcmp(k, "required") == 0) {
        compile_required(c, n, v, at);
    } else if (strcmp(k, "properties") == 0) {
        compile_props(c, n, v, at);
    } else if (strcmp(k, "additionalProperties") == 0) {
        if (json_is_false(v))
            n->addl_false = true;
        else if (!json_is_true(v))
            n->addl = compile_node(c, v, at, NULL);
    } else if (strcmp(k, "items") == 0) {
        if (json_is_array(v))
            report(c, at, false, "items must be a schema (draft 2020-12: a tuple is prefixItems)");
        else
            n->items = compile_node(c, v, at, NULL);
    } else if (strcmp(k, "prefixItems") == 0) {
        if (!json_is_array(v) || json_array_size(v) == 0) {
            report(c, at, false, "prefixItems must be a non-empty array of schemas");
            return;
        }
        n->prefix = calloc(json_array_size(v), sizeof *n->prefix);
        if (n->prefix == NULL) {
            c->rc = GW_ENOMEM;
            return;
        }
        for (size_t i = 0; i < json_array_size(v); i++) {
            struct gw_jschema_where here = {at, NULL, i};
            n->prefix[n->nprefix++] = compile_node(c, json_array_get(v, i), &here, NULL);
        }
    } else if (strcmp(k, "$ref") == 0) {
        compile_ref(c, n, v, at);
    }
}

static struct js_node *compile_node(struct js_compile *c, json_t *v,
                                    const struct gw_jschema_where *at, struct js_node *into)
{
    bool root = into == c->s->root;
    struct js_node *n = into ? into : new_node(c);
    if (n == NULL)
        return NULL;
    if (json_is_boolean(v)) {
        n->never = json_is_false(v);
        return n;
    }
    if (!json_is_object(v)) {
        report(c, at, false, "a schema must be an object or a boolean");
        return n;
    }
    if (root) {
        json_t *defs = json_object_get(v, "$defs");
        if (defs) {
            struct gw_jschema_where here = {at, "$defs", 0};
            compile_defs(c, defs, &here);
        }
    }
    const char *k;
    json_t *kv;
    json_object_foreach(v, k, kv)
    {
        struct gw_jschema_where here = {at, k, 0};
        if (c->rc == GW_ENOMEM)
            return n;
        if (in_list(k, annotations, sizeof annotations / sizeof annotations[0]))
            continue;
        if (!in_list(k, known, sizeof known / sizeof known[0])) {
            report(c, &here, true,
                   "unknown or unsupported keyword \"%s\" (gantry enforces type, enum, const, "
                   "minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength, maxLength, "
                   "pattern, required, properties, additionalProperties, items, prefixItems, "
                   "minItems, maxItems, $ref, $defs)",
                   k);
            continue;
        }
        if (!root &&
            (strcmp(k, "$defs") == 0 || strcmp(k, "$id") == 0 || strcmp(k, "$schema") == 0)) {
            report(c, &here, true, "%s is accepted at the schema's root only", k);
            continue;
        }
        if (strcmp(k, "$schema") == 0 || strcmp(k, "$id") == 0) {
            if (!json_is_string(kv))
                report(c, &here, false, "%s must be a string", k);
            continue;
        }
        compile_keyword(c, n, k, kv, &here);
    }
    if (n->min_len > n->max_len || n->min_items > n->max_items)
        report(c, at, false, "a minimum is above its maximum");
    return n;
}

/* A $ref chain that comes back to where it started would check the same value forever. */
static bool ref_cycle(const struct gw_jschema *s, const struct js_node *n)
{
    const struct js_node *p = n;
    for (size_t steps = 0; p && p->ref; steps++) {
        p = p->ref;
        if (p == n || steps > s->ndefs + 1)
            return true;
    }
    return false;
}

int gw_jschema_compile(json_t *schema, gw_jschema_error_fn err, void *ud, struct gw_jschema **out)
{
    struct js_compile c = {.err = err, .ud = ud};
    *out = NULL;
    c.s = calloc(1, sizeof *c.s);
    if (c.s == NULL)
        return GW_ENOMEM;
    c.s->root = new_node(&c);
    c.s->mctx = pcre2_match_context_create(NULL);
    if (c.s->root == NULL || c.s->mctx == NULL) {
        c.rc = GW_ENOMEM;
        goto fail;
    }
    pcre2_set_match_limit(c.s->mctx, JS_MATCH_LIMIT);
    pcre2_set_depth_limit(c.s->mctx, JS_MATCH_LIMIT / 10);
    compile_node(&c, schema, NULL, c.s->root);
    for (size_t i = 0; i < c.s->ndefs && c.rc == 0; i++) {
        if (ref_cycle(c.s, c.s->defs[i].node)) {
            struct gw_jschema_where d = {NULL, "$defs", 0};
            struct gw_jschema_where here = {&d, c.s->defs[i].name, 0};
            report(&c, &here, false,
                   "$ref cycle: \"%s\" refers back to itself without checking "
                   "anything in between",
                   c.s->defs[i].name);
        }
    }
    if (c.rc == 0 && ref_cycle(c.s, c.s->root))
        report(&c, NULL, false, "$ref cycle at the schema's root");
    if (c.rc != 0)
        goto fail;
    *out = c.s;
    return 0;
fail:
    gw_jschema_free(c.s);
    return c.rc;
}

void gw_jschema_free(struct gw_jschema *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nnodes; i++) {
        struct js_node *n = s->nodes[i];
        json_decref(n->enum_);
        json_decref(n->const_);
        json_decref(n->minimum);
        json_decref(n->maximum);
        json_decref(n->xminimum);
        json_decref(n->xmaximum);
        pcre2_code_free(n->pattern);
        free(n->pattern_src);
        for (size_t k = 0; k < n->nrequired; k++)
            free(n->required[k]);
        free(n->required);
        for (size_t k = 0; k < n->nprops; k++)
            free(n->props[k].name);
        free(n->props);
        free(n->prefix);
        free(n);
    }
    for (size_t i = 0; i < s->ndefs; i++)
        free(s->defs[i].name);
    free(s->defs);
    free(s->nodes);
    pcre2_match_context_free(s->mctx);
    free(s);
}

/* ---- validating ----------------------------------------------------------------------------- */

/* Where in the instance: a chain of steps up to the root. */
struct js_loc {
    const struct js_loc *up;
    const char *key; /* or NULL: index */
    size_t index;
};

struct js_run {
    const struct gw_jschema *s;
    struct gw_jschema_result *res;
    bool stop; /* max reached, or out of memory */
};

static int put_pointer(struct gw_buf *b, const struct js_loc *l)
{
    if (l == NULL)
        return 0;
    int rc = put_pointer(b, l->up);
    if (rc < 0)
        return rc;
    rc = gw_buf_append(b, "/", 1);
    if (l->key == NULL)
        return rc < 0 ? rc : gw_buf_append_u64(b, l->index);
    for (const char *p = l->key; *p && rc == 0; p++) {
        if (*p == '~')
            rc = gw_buf_append(b, "~0", 2);
        else if (*p == '/')
            rc = gw_buf_append(b, "~1", 2);
        else
            rc = gw_buf_append(b, p, 1);
    }
    return rc;
}

static void fail_at(struct js_run *run, const struct js_loc *l, const char *kw, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

static void fail_at(struct js_run *run, const struct js_loc *l, const char *kw, const char *fmt,
                    ...)
{
    struct gw_jschema_result *res = run->res;
    size_t max = res->max ? res->max : 1;
    if (run->stop)
        return;
    if (res->count >= max) {
        res->more = true;
        run->stop = true;
        return;
    }
    if (res->items == NULL) {
        res->items = calloc(max, sizeof *res->items);
        if (res->items == NULL)
            goto oom;
    }
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct gw_buf b;
    gw_buf_init(&b, 64 * 1024);
    if (put_pointer(&b, l) < 0 || gw_buf_append(&b, "", 1) < 0) {
        gw_buf_free(&b);
        goto oom;
    }
    struct gw_jschema_error *e = &res->items[res->count];
    e->message = strdup(msg);
    if (e->message == NULL) {
        gw_buf_free(&b);
        goto oom;
    }
    e->pointer = b.data; /* the buffer's bytes are a malloc'd string */
    e->keyword = kw;
    res->count++;
    return;
oom:
    res->oom = true;
    run->stop = true;
}

static unsigned type_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_NULL:
        return T_NULL;
    case JSON_TRUE:
    case JSON_FALSE:
        return T_BOOLEAN;
    case JSON_OBJECT:
        return T_OBJECT;
    case JSON_ARRAY:
        return T_ARRAY;
    case JSON_STRING:
        return T_STRING;
    case JSON_INTEGER:
        return T_NUMBER | T_INTEGER;
    case JSON_REAL: {
        double d = json_real_value(v);
        return T_NUMBER | (d == floor(d) ? T_INTEGER : 0u);
    }
    }
    return 0;
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_NULL:
        return "null";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    }
    return "?";
}

/* <0, 0, >0 as a compares to b: exactly for two integers, as doubles otherwise. */
static int num_cmp(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return x < y ? -1 : x > y;
    }
    double x = json_number_value(a), y = json_number_value(b);
    return x < y ? -1 : x > y;
}

/* JSON equality as JSON Schema means it: numbers by value (1 equals 1.0). */
static bool same(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return num_cmp(a, b) == 0;
    if (json_typeof(a) != json_typeof(b))
        return false;
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!same(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    }
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b))
            return false;
        const char *k;
        json_t *va;
        json_object_foreach((json_t *)a, k, va)
        {
            json_t *vb = json_object_get(b, k);
            if (vb == NULL || !same(va, vb))
                return false;
        }
        return true;
    }
    return json_equal((json_t *)a, (json_t *)b);
}

static size_t code_points(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

static void check(struct js_run *run, const struct js_node *n, const json_t *v,
                  const struct js_loc *l, unsigned depth);

static void check_number(struct js_run *run, const struct js_node *n, const json_t *v,
                         const struct js_loc *l)
{
    if (n->minimum && num_cmp(v, n->minimum) < 0)
        fail_at(run, l, "minimum", "must be >= %g", json_number_value(n->minimum));
    if (n->maximum && num_cmp(v, n->maximum) > 0)
        fail_at(run, l, "maximum", "must be <= %g", json_number_value(n->maximum));
    if (n->xminimum && num_cmp(v, n->xminimum) <= 0)
        fail_at(run, l, "exclusiveMinimum", "must be > %g", json_number_value(n->xminimum));
    if (n->xmaximum && num_cmp(v, n->xmaximum) >= 0)
        fail_at(run, l, "exclusiveMaximum", "must be < %g", json_number_value(n->xmaximum));
}

static void check_string(struct js_run *run, const struct js_node *n, const json_t *v,
                         const struct js_loc *l)
{
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (n->min_len || n->max_len != SIZE_MAX) {
        size_t cp = code_points(s, len);
        if (cp < n->min_len)
            fail_at(run, l, "minLength", "must be at least %zu characters long", n->min_len);
        if (cp > n->max_len)
            fail_at(run, l, "maxLength", "must be at most %zu characters long", n->max_len);
    }
    if (n->pattern) {
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(n->pattern, NULL);
        if (md == NULL) {
            run->res->oom = run->stop = true;
            return;
        }
        int mr = pcre2_match(n->pattern, (PCRE2_SPTR)s, len, 0, 0, md, run->s->mctx);
        pcre2_match_data_free(md);
        if (mr == PCRE2_ERROR_NOMATCH)
            fail_at(run, l, "pattern", "must match the pattern %.160s", n->pattern_src);
        else if (mr < 0)
            fail_at(run, l, "pattern", "could not be matched against the pattern (%s)",
                    mr == PCRE2_ERROR_MATCHLIMIT || mr == PCRE2_ERROR_DEPTHLIMIT ? "match limit"
                                                                                 : "invalid UTF-8");
    }
}

static void check_object(struct js_run *run, const struct js_node *n, const json_t *v,
                         const struct js_loc *l, unsigned depth)
{
    for (size_t i = 0; i < n->nrequired; i++)
        if (json_object_get(v, n->required[i]) == NULL)
            fail_at(run, l, "required", "missing required property \"%.128s\"", n->required[i]);
    if (n->nprops == 0 && !n->addl_false && n->addl == NULL)
        return;
    const char *k;
    json_t *m;
    json_object_foreach((json_t *)v, k, m)
    {
        struct js_loc here = {l, k, 0};
        const struct js_node *sub = NULL;
        bool declared = false;
        for (size_t i = 0; i < n->nprops; i++) {
            if (strcmp(n->props[i].name, k) == 0) {
                sub = n->props[i].schema;
                declared = true;
                break;
            }
        }
        if (!declared && n->addl_false) {
            fail_at(run, &here, "additionalProperties", "property \"%.128s\" is not allowed", k);
            continue;
        }
        if (!declared)
            sub = n->addl;
        if (sub)
            check(run, sub, m, &here, depth + 1);
        if (run->stop)
            return;
    }
}

static void check_array(struct js_run *run, const struct js_node *n, const json_t *v,
                        const struct js_loc *l, unsigned depth)
{
    size_t size = json_array_size(v);
    if (size < n->min_items)
        fail_at(run, l, "minItems", "must have at least %zu items", n->min_items);
    if (size > n->max_items)
        fail_at(run, l, "maxItems", "must have at most %zu items", n->max_items);
    for (size_t i = 0; i < size && !run->stop; i++) {
        struct js_loc here = {l, NULL, i};
        const struct js_node *sub = i < n->nprefix ? n->prefix[i] : n->items;
        if (sub)
            check(run, sub, json_array_get(v, i), &here, depth + 1);
    }
}

static void check(struct js_run *run, const struct js_node *n, const json_t *v,
                  const struct js_loc *l, unsigned depth)
{
    if (n == NULL || run->stop)
        return;
    if (depth > GW_JSCHEMA_MAX_DEPTH) {
        fail_at(run, l, "$ref", "nested too deeply (more than %d levels)", GW_JSCHEMA_MAX_DEPTH);
        return;
    }
    if (n->never) {
        fail_at(run, l, "false", "no value is allowed here");
        return;
    }
    if (n->ref)
        check(run, n->ref, v, l, depth + 1);
    unsigned t = type_of(v);
    if (n->types && !(n->types & t)) {
        char want[96] = "";
        size_t w = 0;
        for (size_t k = 0; k < sizeof type_names / sizeof type_names[0]; k++)
            if (n->types & type_names[k].bit)
                w += (size_t)snprintf(want + w, sizeof want - w, "%s%s", w ? " or " : "",
                                      type_names[k].name);
        fail_at(run, l, "type", "expected %s, got %s", want, type_name(v));
        return; /* the other keywords would only repeat it */
    }
    if (n->enum_) {
        bool found = false;
        for (size_t i = 0; i < json_array_size(n->enum_) && !found; i++)
            found = same(v, json_array_get(n->enum_, i));
        if (!found)
            fail_at(run, l, "enum", "must be one of the listed values");
    }
    if (n->has_const && !same(v, n->const_))
        fail_at(run, l, "const", "must be the constant value");
    if (t & T_NUMBER)
        check_number(run, n, v, l);
    else if (t & T_STRING)
        check_string(run, n, v, l);
    else if (t & T_OBJECT)
        check_object(run, n, v, l, depth);
    else if (t & T_ARRAY)
        check_array(run, n, v, l, depth);
}

bool gw_jschema_validate(const struct gw_jschema *s, const json_t *v, struct gw_jschema_result *res)
{
    struct js_run run = {.s = s, .res = res};
    check(&run, s->root, v, NULL, 0);
    return res->count == 0 && !res->oom;
}

void gw_jschema_result_free(struct gw_jschema_result *res)
{
    for (size_t i = 0; i < res->count; i++) {
        free(res->items[i].pointer);
        free(res->items[i].message);
    }
    free(res->items);
    res->items = NULL;
    res->count = 0;
}
