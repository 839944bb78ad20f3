/*
 * The transformations' pure editing functions (policy/transform.h "pure editing functions"):
 * query parameters, path prefixes, regular-expression replacements and JSON bodies. They know
 * nothing of requests or stages, so the stage (policy/transform.c), the unit tests and the fuzz
 * target call them alike.
 */
#include "policy/transform.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "route/normalize.h"

static bool name_in(const char *name, size_t n, char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (gw_template_query_name_is(name, n, list[i], strlen(list[i])))
            return true;
    }
    return false;
}

static bool value_named(const char *name, size_t n, const struct gw_tf_value *v, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (gw_template_query_name_is(name, n, v[i].name, strlen(v[i].name)))
            return true;
    }
    return false;
}

/* Appends s percent-encoded for a query value (everything but the unreserved characters). */
static int put_encoded(struct gw_buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = gw_buf_reserve(out, 3 * n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out->data[out->len++] = (char)c;
        } else {
            out->data[out->len++] = '%';
            out->data[out->len++] = hex[c >> 4];
            out->data[out->len++] = hex[c & 15];
        }
    }
    return rc;
}

int gw_tf_query_edit(const char *q, size_t n, const struct gw_tf_fields *f,
                     const struct gw_tpl_source *src, struct gw_buf *out)
{
    int rc = 0;
    bool first = true;
    const char *p = q, *end = q + n;
    while (p < end && rc == 0) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        size_t nl = (size_t)((eq ? eq : pe) - p);
        const char *pair = p;
        p = amp ? amp + 1 : end;
        if (pe == pair)
            continue; /* "a=1&&b=2": an empty pair is dropped */
        if (name_in(pair, nl, f->remove, f->nremove) || value_named(pair, nl, f->set, f->nset))
            continue;
        if (!first)
            rc |= gw_buf_append(out, "&", 1);
        first = false;
        size_t k = 0;
        while (k < f->nrename &&
               !gw_template_query_name_is(pair, nl, f->rename[k].from, strlen(f->rename[k].from)))
            k++;
        if (k < f->nrename) {
            rc |= gw_buf_append_str(out, f->rename[k].to);
            rc |= gw_buf_append(out, pair + nl, (size_t)(pe - pair) - nl);
        } else {
            rc |= gw_buf_append(out, pair, (size_t)(pe - pair));
        }
    }
    const struct gw_tf_value *lists[2] = {f->set, f->add};
    size_t counts[2] = {f->nset, f->nadd};
    struct gw_buf tmp;
    gw_buf_init(&tmp, GW_TEMPLATE_MAX * 16);
    for (size_t l = 0; l < 2 && rc == 0; l++) {
        for (size_t i = 0; i < counts[l] && rc == 0; i++) {
            gw_buf_reset(&tmp);
            rc |= gw_template_render(lists[l][i].value, src, &tmp);
            if (!first)
                rc |= gw_buf_append(out, "&", 1);
            first = false;
            rc |= gw_buf_append_str(out, lists[l][i].name);
            rc |= gw_buf_append(out, "=", 1);
            rc |= put_encoded(out, tmp.data ? tmp.data : "", tmp.len);
        }
    }
    gw_buf_free(&tmp);
    return rc ? GW_ENOMEM : 0;
}

int gw_tf_path_prefix(const char *norm, size_t nn, const char *spell, size_t sn, const char *from,
                      const char *to, struct gw_buf *norm_out, struct gw_buf *spell_out)
{
    size_t fl = strlen(from);
    bool root = fl == 1 && from[0] == '/';
    if (!root && (nn < fl || memcmp(norm, from, fl) != 0 || (nn > fl && norm[fl] != '/')))
        return 0;
    size_t nskip = root ? 0 : fl;
    size_t sskip = root ? 0 : gw_path_spelled_prefix(norm, fl, spell, sn);
    bool to_root = to[0] == '/' && to[1] == '\0';
    int rc = 0;
    struct {
        struct gw_buf *out;
        const char *rest;
        size_t rest_len;
    } sides[2] = {{norm_out, norm + nskip, nn - nskip}, {spell_out, spell + sskip, sn - sskip}};
    for (size_t i = 0; i < 2; i++) {
        /* "/v2" + "/7"; "/" + "/7" is "/7"; anything + "" is itself. */
        if (!to_root || sides[i].rest_len == 0)
            rc |= gw_buf_append_str(sides[i].out, to);
        rc |= gw_buf_append(sides[i].out, sides[i].rest, sides[i].rest_len);
    }
    return rc ? GW_ENOMEM : 1;
}

int gw_tf_expand(const char *repl, const char *s, const size_t *ovector, size_t ngroups,
                 struct gw_buf *out)
{
    int rc = 0;
    for (const char *p = repl; *p && rc == 0; p++) {
        if (*p != '$' || p[1] == '\0') {
            rc = gw_buf_append(out, p, 1);
            continue;
        }
        if (p[1] == '$') {
            rc = gw_buf_append(out, "$", 1);
            p++;
            continue;
        }
        if (p[1] >= '0' && p[1] <= '9') {
            size_t g = (size_t)(p[1] - '0');
            p++;
            if (g < ngroups && ovector[2 * g] != PCRE2_UNSET)
                rc = gw_buf_append(out, s + ovector[2 * g], ovector[2 * g + 1] - ovector[2 * g]);
            continue;
        }
        rc = gw_buf_append(out, p, 1);
    }
    return rc;
}

bool gw_tf_is_json(const char *v, size_t n)
{
    size_t e = 0;
    while (e < n && v[e] != ';' && v[e] != ' ' && v[e] != '\t')
        e++;
    if (e < 12 || strncasecmp(v, "application/", 12) != 0)
        return false;
    const char *sub = v + 12;
    size_t sl = e - 12;
    return (sl == 4 && strncasecmp(sub, "json", 4) == 0) ||
           (sl > 5 && strncasecmp(sub + sl - 5, "+json", 5) == 0);
}

/* ---- JSON bodies --------------------------------------------------------------------------- */

/* The object holding the last segment of dotted path (created on the way when create), and
 * that segment in *leaf (a copy: free it). NULL when the way is not made of objects. */
static json_t *walk(json_t *root, const char *path, bool create, char **leaf)
{
    *leaf = NULL;
    json_t *o = root;
    const char *p = path;
    for (;;) {
        const char *dot = strchr(p, '.');
        if (dot == NULL) {
            *leaf = strdup(p);
            return *leaf ? o : NULL;
        }
        char seg[256];
        size_t n = (size_t)(dot - p);
        if (n >= sizeof seg)
            return NULL;
        memcpy(seg, p, n);
        seg[n] = '\0';
        json_t *next = json_object_get(o, seg);
        if (next == NULL && create) {
            next = json_object();
            if (next == NULL || json_object_set_new(o, seg, next) != 0)
                return NULL;
        }
        if (!json_is_object(next))
            return NULL;
        o = next;
        p = dot + 1;
    }
}

static int apply_body(json_t *root, const struct gw_tf_json_layer *jl)
{
    const struct gw_tf_body *b = jl->body;
    char *leaf;
    for (size_t i = 0; i < b->nremove; i++) {
        json_t *o = walk(root, b->remove[i], false, &leaf);
        if (o)
            json_object_del(o, leaf);
        free(leaf);
    }
    for (size_t i = 0; i < b->nrename; i++) {
        json_t *o = walk(root, b->rename[i].from, false, &leaf);
        json_t *v = o ? json_object_get(o, leaf) : NULL;
        if (v) {
            json_incref(v);
            json_object_del(o, leaf);
            char *to_leaf;
            json_t *dst = walk(root, b->rename[i].to, true, &to_leaf);
            if (dst)
                json_object_set(dst, to_leaf, v);
            free(to_leaf);
            json_decref(v);
        }
        free(leaf);
    }
    for (size_t i = 0; i < b->nadd; i++) {
        json_t *o = walk(root, b->add_names[i], true, &leaf);
        json_t *v = NULL;
        if (o && b->add_tpl[i] == NULL) {
            /* A copy: the config's value is shared by every request (and a later edit may
             * change what was added). */
            v = json_deep_copy(b->add[i]);
        } else if (o) {
            /* Not valid UTF-8 (a header's obs-text): the field is left out, not mangled. */
            const char *text = jl->vals && jl->vals[i] ? jl->vals[i] : "";
            v = json_string(text);
        }
        if (v)
            json_object_set_new(o, leaf, v);
        free(leaf);
    }
    return 0;
}

/* Smallest precision in 15..17 with which every real of v prints back to itself: jansson
 * writes reals with one precision, and %.17g turns 0.1 into 0.10000000000000001. */
static int real_precision(json_t *v, int p)
{
    if (p >= 17)
        return 17;
    if (json_is_real(v)) {
        double d = json_real_value(v);
        char buf[40];
        for (; p < 17; p++) {
            snprintf(buf, sizeof buf, "%.*g", p, d);
            if (strtod(buf, NULL) == d)
                break;
        }
        return p;
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *e;
        json_object_foreach(v, k, e) p = real_precision(e, p);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) p = real_precision(e, p);
    }
    return p;
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
    return gw_buf_append(data, buffer, size) == 0 ? 0 : -1;
}

int gw_tf_json_edit(const char *body, size_t len, const struct gw_tf_json_layer *layers, size_t n,
                    struct gw_buf *out)
{
    json_error_t err;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
    if (root == NULL)
        return 0;
    if (!json_is_object(root)) {
        json_decref(root);
        return 0;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = apply_body(root, &layers[i]);
    if (rc == 0) {
        int prec = real_precision(root, 15);
        size_t before = out->len;
        if (json_dump_callback(root, dump_cb, out, JSON_COMPACT | JSON_REAL_PRECISION(prec)) != 0) {
            out->len = before;
            rc = GW_ENOMEM;
        }
    }
    json_decref(root);
    return rc < 0 ? rc : 1;
}
