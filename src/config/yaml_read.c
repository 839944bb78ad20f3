/*
 * YAML config files: libyaml's event stream turned into the same jansson tree a JSON file gives,
 * plus an index of where each value (and its key) starts, so the schema walker, its errors and
 * their file:line:column positions are exactly those of JSON.
 *
 * The YAML accepted is the JSON data model written in YAML: one document whose values are
 * mappings with string keys, sequences and scalars. A plain scalar is resolved as the YAML 1.2
 * core schema says (null, ~ and the empty scalar are null; true/false; decimal, 0x, 0o
 * integers; decimal floats, .inf and .nan are refused as JSON has none); a quoted scalar, or
 * one tagged !!str, is always a string. Anchors and aliases are allowed (the alias shares the
 * anchored value); their expansion is capped so that a small file cannot stand for a huge one.
 * Duplicate keys are refused, as JSON files are parsed with JSON_REJECT_DUPLICATES.
 */
#include "config/internal.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/error.h"

/* Nesting deeper than this is refused (the builder recurses once per level). */
#define YAML_MAX_DEPTH 64
/* Values in the document, counting each alias as the whole value it stands for. */
#define YAML_MAX_NODES 200000
#define YAML_MAX_ANCHORS 1024

struct anchor {
    char *name;
    json_t *value; /* borrowed: the tree holds it */
    size_t weight; /* values under it, aliases expanded */
};

struct reader {
    yaml_parser_t parser;
    struct gw__pos_index *idx;
    struct anchor anchors[YAML_MAX_ANCHORS];
    size_t nanchors;
    size_t nodes;
    /* the first problem: position (1-based) and message */
    int line;
    int column;
    char why[256];
    bool failed;
    bool oom;
};

static bool fail_at(struct reader *r, const yaml_mark_t *m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool fail_at(struct reader *r, const yaml_mark_t *m, const char *fmt, ...)
{
    if (!r->failed) {
        va_list ap;
        r->failed = true;
        r->line = m->line < INT_MAX ? (int)m->line + 1 : INT_MAX;
        r->column = m->column < INT_MAX ? (int)m->column + 1 : INT_MAX;
        va_start(ap, fmt);
        vsnprintf(r->why, sizeof r->why, fmt, ap);
        va_end(ap);
    }
    return false;
}

static bool next_event(struct reader *r, yaml_event_t *ev)
{
    if (yaml_parser_parse(&r->parser, ev))
        return true;
    const yaml_mark_t *m = &r->parser.problem_mark;
    if (r->parser.error == YAML_MEMORY_ERROR) {
        r->oom = true;
        r->failed = true;
        return false;
    }
    char msg[200];
    if (r->parser.context)
        snprintf(msg, sizeof msg, "%s %s", r->parser.problem ? r->parser.problem : "syntax error",
                 r->parser.context);
    else
        snprintf(msg, sizeof msg, "%s", r->parser.problem ? r->parser.problem : "syntax error");
    memset(ev, 0, sizeof *ev);
    return fail_at(r, m, "YAML: %s", msg);
}

/* Where the value under parent (at key, or at index when key is NULL) starts, and its key. */
static bool record(struct reader *r, const json_t *parent, const char *key, size_t klen,
                   size_t index, const yaml_mark_t *m, const yaml_mark_t *kmark)
{
    struct gw__pos_index *idx = r->idx;
    if (idx == NULL)
        return true;
    if (idx->count == idx->cap) {
        size_t cap = idx->cap ? idx->cap * 2 : 64;
        struct gw__pos *items = realloc(idx->items, cap * sizeof *items);
        if (items == NULL) {
            r->oom = r->failed = true;
            return false;
        }
        idx->items = items;
        idx->cap = cap;
    }
    char *k = NULL;
    if (key != NULL) {
        k = malloc(klen + 1);
        if (k == NULL) {
            r->oom = r->failed = true;
            return false;
        }
        memcpy(k, key, klen);
        k[klen] = '\0';
    }
    struct gw__pos *p = &idx->items[idx->count++];
    p->parent = parent;
    p->key = k;
    p->key_len = klen;
    p->index = index;
    p->line = m->line < INT_MAX ? (int)m->line + 1 : INT_MAX;
    p->column = m->column < INT_MAX ? (int)m->column + 1 : INT_MAX;
    p->key_line = kmark ? (kmark->line < INT_MAX ? (int)kmark->line + 1 : INT_MAX) : p->line;
    p->key_column =
        kmark ? (kmark->column < INT_MAX ? (int)kmark->column + 1 : INT_MAX) : p->column;
    return true;
}

static bool eq(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/* YAML 1.2 core schema integers: [-+]?[0-9]+, 0o[0-7]+, 0x[0-9a-fA-F]+. */
static bool resolve_int(const char *s, size_t n, json_int_t *out)
{
    int base = 10;
    size_t i = 0;
    bool neg = false;
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
        base = s[1] == 'x' ? 16 : 8;
        i = 2;
    } else if (n > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == n)
        return false;
    unsigned long long v = 0;
    for (; i < n; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : 99;
        if (d >= base)
            return false;
        if (v > ((unsigned long long)LLONG_MAX + 1 - (unsigned long long)d) / (unsigned)base)
            return false; /* out of range: left a string, the schema says what it wanted */
        v = v * (unsigned)base + (unsigned)d;
    }
    if (!neg && v > (unsigned long long)LLONG_MAX)
        return false;
    *out = neg ? (json_int_t)(0 - v) : (json_int_t)v;
    return true;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool resolve_float(const char *s, size_t n, double *out)
{
    size_t i = 0;
    size_t digits = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        i++;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, digits++;
    }
    if (digits == 0)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            i++;
        size_t e = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, e++;
        if (e == 0)
            return false;
    }
    if (i != n || n > 64)
        return false;
    char buf[72];
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    char *end = NULL;
    double d = strtod(buf, &end);
    if (errno == ERANGE || end != buf + n)
        return false;
    *out = d;
    return true;
}

enum gw__yaml_kind gw__yaml_resolve(const char *s, size_t n, json_int_t *i, double *d)
{
    if (n == 0 || eq(s, n, "~") || eq(s, n, "null") || eq(s, n, "Null") || eq(s, n, "NULL"))
        return GW__YAML_NULL;
    if (eq(s, n, "true") || eq(s, n, "True") || eq(s, n, "TRUE"))
        return GW__YAML_TRUE;
    if (eq(s, n, "false") || eq(s, n, "False") || eq(s, n, "FALSE"))
        return GW__YAML_FALSE;
    json_int_t iv = 0;
    double dv = 0;
    if (resolve_int(s, n, &iv)) {
        if (i)
            *i = iv;
        return GW__YAML_INT;
    }
    if (resolve_float(s, n, &dv)) {
        if (d)
            *d = dv;
        return GW__YAML_REAL;
    }
    /* .inf, .nan and the like: numbers in YAML, but not in JSON. */
    if (n >= 4 && (s[0] == '.' || ((s[0] == '-' || s[0] == '+') && s[1] == '.'))) {
        const char *t = s[0] == '.' ? s + 1 : s + 2;
        size_t m = n - (size_t)(t - s);
        if (eq(t, m, "inf") || eq(t, m, "Inf") || eq(t, m, "INF") || eq(t, m, "nan") ||
            eq(t, m, "NaN") || eq(t, m, "NAN"))
            return GW__YAML_BAD_NUMBER;
    }
    return GW__YAML_STRING;
}

static json_t *scalar_value(struct reader *r, const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    const char *tag = (const char *)ev->data.scalar.tag;
    bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    if (tag != NULL && strcmp(tag, YAML_STR_TAG) != 0 && strcmp(tag, "!") != 0) {
        fail_at(r, &ev->start_mark, "YAML: tag %s is not supported (only !!str)", tag);
        return NULL;
    }
    if (plain && tag == NULL) {
        json_int_t iv = 0;
        double dv = 0;
        switch (gw__yaml_resolve(s, n, &iv, &dv)) {
        case GW__YAML_NULL:
            return json_null();
        case GW__YAML_TRUE:
            return json_true();
        case GW__YAML_FALSE:
            return json_false();
        case GW__YAML_INT:
            return json_integer(iv);
        case GW__YAML_REAL:
            return json_real(dv);
        case GW__YAML_BAD_NUMBER:
            fail_at(r, &ev->start_mark, "YAML: %.*s: infinities and NaN have no JSON value",
                    (int)(n < 16 ? n : 16), s);
            return NULL;
        case GW__YAML_STRING:
            break;
        }
    }
    if (memchr(s, '\0', n) != NULL) {
        fail_at(r, &ev->start_mark, "YAML: a NUL character in a string");
        return NULL;
    }
    return json_stringn(s, n);
}

static json_t *parse_node(struct reader *r, yaml_event_t *ev, unsigned depth);

/* After MAPPING-START: members until MAPPING-END. */
static bool parse_mapping(struct reader *r, json_t *obj, unsigned depth)
{
    for (;;) {
        yaml_event_t kev;
        if (!next_event(r, &kev))
            return false;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            return true;
        }
        if (kev.type != YAML_SCALAR_EVENT) {
            fail_at(r, &kev.start_mark, "YAML: a key must be a string");
            yaml_event_delete(&kev);
            return false;
        }
        const char *key = (const char *)kev.data.scalar.value;
        size_t klen = kev.data.scalar.length;
        yaml_mark_t kmark = kev.start_mark;
        if (memchr(key, '\0', klen) != NULL) {
            fail_at(r, &kmark, "YAML: a NUL character in a key");
            yaml_event_delete(&kev);
            return false;
        }
        if (klen == 2 && memcmp(key, "<<", 2) == 0 &&
            kev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
            fail_at(r, &kmark, "YAML: merge keys (<<) are not supported");
            yaml_event_delete(&kev);
            return false;
        }
        if (json_object_getn(obj, key, klen) != NULL) {
            char q[96];
            fail_at(r, &kmark, "YAML: duplicate key %s", gw__cfg_quote(key, klen, q, sizeof q));
            yaml_event_delete(&kev);
            return false;
        }
        char *k = malloc(klen + 1);
        if (k == NULL) {
            yaml_event_delete(&kev);
            r->oom = r->failed = true;
            return false;
        }
        memcpy(k, key, klen);
        k[klen] = '\0';
        yaml_event_delete(&kev);

        yaml_event_t vev;
        json_t *v = NULL;
        if (next_event(r, &vev)) {
            v = parse_node(r, &vev, depth + 1);
            if (v != NULL && !record(r, obj, k, klen, 0, &vev.start_mark, &kmark)) {
                json_decref(v);
                v = NULL;
            }
            yaml_event_delete(&vev);
        }
        if (v == NULL || json_object_setn_new_nocheck(obj, k, klen, v) != 0) {
            if (v != NULL)
                r->oom = r->failed = true;
            free(k);
            return false;
        }
        free(k);
    }
}

/* After SEQUENCE-START: items until SEQUENCE-END. */
static bool parse_sequence(struct reader *r, json_t *arr, unsigned depth)
{
    for (;;) {
        yaml_event_t ev;
        if (!next_event(r, &ev))
            return false;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return true;
        }
        json_t *v = parse_node(r, &ev, depth + 1);
        if (v != NULL && !record(r, arr, NULL, 0, json_array_size(arr), &ev.start_mark, NULL)) {
            json_decref(v);
            v = NULL;
        }
        yaml_event_delete(&ev);
        if (v == NULL)
            return false;
        if (json_array_append_new(arr, v) != 0) {
            r->oom = r->failed = true;
            return false;
        }
    }
}

static struct anchor *find_anchor(struct reader *r, const char *name)
{
    /* The latest definition wins: YAML allows an anchor to be redefined. */
    for (size_t i = r->nanchors; i-- > 0;) {
        if (strcmp(r->anchors[i].name, name) == 0)
            return &r->anchors[i];
    }
    return NULL;
}

static bool add_anchor(struct reader *r, const yaml_event_t *ev, const char *name, json_t *v,
                       size_t weight)
{
    if (r->nanchors == YAML_MAX_ANCHORS)
        return fail_at(r, &ev->start_mark, "YAML: more than 1024 anchors");
    char *copy = strdup(name);
    if (copy == NULL) {
        r->oom = r->failed = true;
        return false;
    }
    r->anchors[r->nanchors++] = (struct anchor){.name = copy, .value = v, .weight = weight};
    return true;
}

/* One value starting with ev (which the caller deletes). Returns a new reference or NULL after
 * recording why. */
static json_t *parse_node(struct reader *r, yaml_event_t *ev, unsigned depth)
{
    json_t *v = NULL;
    const char *anchor = NULL;
    size_t before = r->nodes;
    if (depth > YAML_MAX_DEPTH) {
        fail_at(r, &ev->start_mark, "YAML: nested deeper than 64 levels");
        return NULL;
    }
    if (ev->type != YAML_ALIAS_EVENT && ++r->nodes > YAML_MAX_NODES) {
        fail_at(r, &ev->start_mark, "YAML: more than 200000 values");
        return NULL;
    }
    switch (ev->type) {
    case YAML_ALIAS_EVENT: {
        struct anchor *a = find_anchor(r, (const char *)ev->data.alias.anchor);
        if (a == NULL) {
            fail_at(r, &ev->start_mark, "YAML: unknown alias *%s",
                    (const char *)ev->data.alias.anchor);
            return NULL;
        }
        if (a->weight > YAML_MAX_NODES - r->nodes) {
            fail_at(r, &ev->start_mark,
                    "YAML: more than 200000 values once aliases are expanded (*%s)",
                    (const char *)ev->data.alias.anchor);
            return NULL;
        }
        r->nodes += a->weight;
        return json_incref(a->value);
    }
    case YAML_SCALAR_EVENT:
        anchor = (const char *)ev->data.scalar.anchor;
        v = scalar_value(r, ev);
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = (const char *)ev->data.sequence_start.anchor;
        v = json_array();
        if (v == NULL) {
            r->oom = r->failed = true;
            return NULL;
        }
        if (!parse_sequence(r, v, depth)) {
            json_decref(v);
            return NULL;
        }
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = (const char *)ev->data.mapping_start.anchor;
        v = json_object();
        if (v == NULL) {
            r->oom = r->failed = true;
            return NULL;
        }
        if (!parse_mapping(r, v, depth)) {
            json_decref(v);
            return NULL;
        }
        break;
    default:
        fail_at(r, &ev->start_mark, "YAML: unexpected event");
        return NULL;
    }
    if (v == NULL) {
        if (!r->failed)
            r->oom = r->failed = true;
        return NULL;
    }
    if (anchor != NULL && !add_anchor(r, ev, anchor, v, r->nodes - before)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

int gw__yaml_parse(const char *text, size_t len, json_t **root, struct gw__pos_index *idx,
                   int *line, int *column, char *why, size_t why_cap)
{
    struct reader *r = calloc(1, sizeof *r);
    json_t *doc = NULL;
    yaml_event_t ev;
    int rc = GW_ECONFIG;
    *root = NULL;
    if (r == NULL)
        return GW_ENOMEM;
    r->idx = idx;
    if (!yaml_parser_initialize(&r->parser)) {
        free(r);
        return GW_ENOMEM;
    }
    yaml_parser_set_input_string(&r->parser, (const unsigned char *)text, len);
    /* STREAM-START, then DOCUMENT-START (or STREAM-END for an empty file). */
    if (!next_event(r, &ev))
        goto fail;
    yaml_event_delete(&ev);
    if (!next_event(r, &ev))
        goto fail;
    if (ev.type == YAML_STREAM_END_EVENT) {
        fail_at(r, &ev.start_mark, "YAML: the file holds no document");
        yaml_event_delete(&ev);
        goto fail;
    }
    yaml_event_delete(&ev);
    if (!next_event(r, &ev))
        goto fail;
    doc = parse_node(r, &ev, 0);
    if (doc != NULL && !record(r, NULL, NULL, 0, 0, &ev.start_mark, NULL)) {
        json_decref(doc);
        doc = NULL;
    }
    yaml_event_delete(&ev);
    if (doc == NULL)
        goto fail;
    if (!next_event(r, &ev)) /* DOCUMENT-END */
        goto fail;
    yaml_event_delete(&ev);
    if (!next_event(r, &ev))
        goto fail;
    if (ev.type != YAML_STREAM_END_EVENT) {
        fail_at(r, &ev.start_mark, "YAML: a config file holds one document, this is a second");
        yaml_event_delete(&ev);
        goto fail;
    }
    yaml_event_delete(&ev);
    *root = doc;
    doc = NULL;
    rc = 0;
fail:
    if (rc < 0) {
        if (r->oom) {
            rc = GW_ENOMEM;
        } else {
            *line = r->line > 0 ? r->line : 1;
            *column = r->column > 0 ? r->column : 1;
            snprintf(why, why_cap, "%s", r->why[0] ? r->why : "YAML: syntax error");
        }
    }
    json_decref(doc);
    for (size_t i = 0; i < r->nanchors; i++)
        free(r->anchors[i].name);
    yaml_parser_delete(&r->parser);
    free(r);
    return rc;
}

void gw__pos_index_free(struct gw__pos_index *idx)
{
    if (idx == NULL)
        return;
    for (size_t i = 0; i < idx->count; i++)
        free(idx->items[i].key);
    free(idx->items);
    idx->items = NULL;
    idx->count = idx->cap = 0;
}

/* The entry of the value under parent at seg (parent NULL: the document). Linear: called
 * only to place an error. */
static const struct gw__pos *find_pos(const struct gw__pos_index *idx, const json_t *parent,
                                      const struct gw__json_seg *seg)
{
    for (size_t i = 0; i < idx->count; i++) {
        const struct gw__pos *p = &idx->items[i];
        if (p->parent != parent)
            continue;
        if (parent == NULL)
            return p;
        if (seg->key == NULL ? (p->key == NULL && p->index == seg->index)
                             : (p->key != NULL && p->key_len == seg->key_len &&
                                memcmp(p->key, seg->key, seg->key_len) == 0))
            return p;
    }
    return NULL;
}

size_t gw__pos_locate(const struct gw__pos_index *idx, const json_t *root,
                      const struct gw__json_seg *path, size_t depth, bool want_key, int *line,
                      int *column)
{
    const json_t *v = root;
    const struct gw__pos *best = find_pos(idx, NULL, NULL);
    bool best_is_last = false;
    size_t resolved = 0;
    while (resolved < depth && v != NULL) {
        const struct gw__json_seg *seg = &path[resolved];
        const json_t *parent = v;
        if (seg->key != NULL)
            v = json_is_object(v) ? json_object_getn(v, seg->key, seg->key_len) : NULL;
        else
            v = json_is_array(v) ? json_array_get(v, seg->index) : NULL;
        if (v == NULL)
            break;
        resolved++;
        /* Values the environment overrides put in have no position: keep the nearest one. */
        const struct gw__pos *p = find_pos(idx, parent, seg);
        if (p != NULL) {
            best = p;
            best_is_last = resolved == depth && seg->key != NULL;
        }
    }
    if (best == NULL) {
        *line = 1;
        *column = 1;
    } else if (want_key && best_is_last) {
        *line = best->key_line;
        *column = best->key_column;
    } else {
        *line = best->line;
        *column = best->column;
    }
    return resolved;
}
