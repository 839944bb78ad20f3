/*
 * Config errors: the key path being parsed, error records with their located position,
 * suggestions for misspelled keys, printing.
 */
#include "config/internal.h"

#include "core/hex.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gw__cfg_push_key(struct gw__cfg_ctx *ctx, const char *key)
{
    if (ctx->depth < GW__CFG_MAX_DEPTH) {
        ctx->path[ctx->depth].key = key;
        ctx->path[ctx->depth].key_len = strlen(key);
        ctx->path[ctx->depth].index = 0;
        ctx->depth++;
    } else {
        ctx->overflow++;
    }
}

void gw__cfg_push_index(struct gw__cfg_ctx *ctx, size_t index)
{
    if (ctx->depth < GW__CFG_MAX_DEPTH) {
        ctx->path[ctx->depth].key = NULL;
        ctx->path[ctx->depth].key_len = 0;
        ctx->path[ctx->depth].index = index;
        ctx->depth++;
    } else {
        ctx->overflow++;
    }
}

void gw__cfg_pop(struct gw__cfg_ctx *ctx)
{
    if (ctx->overflow > 0)
        ctx->overflow--;
    else if (ctx->depth > 0)
        ctx->depth--;
}

const char *gw__cfg_json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "a value";
}

const char *gw__cfg_quote(const char *s, size_t len, char *buf, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    const size_t shown = 60;
    size_t o = 0;
    if (cap < 16) {
        if (cap > 0)
            buf[0] = '\0';
        return buf;
    }
    buf[o++] = '"';
    for (size_t i = 0; i < len && i < shown; i++) {
        unsigned char c = (unsigned char)s[i];
        if (o + 8 >= cap)
            break;
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7F) {
            buf[o++] = '\\';
            buf[o++] = 'x';
            buf[o++] = hex[c >> 4];
            buf[o++] = hex[c & 15];
        } else {
            buf[o++] = (char)c;
        }
    }
    if (len > shown && o + 5 < cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

/* A key is written bare ("timeouts") when it is made of these; otherwise ["quoted"]. */
static bool is_plain_key(const char *k, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

static void format_path(const struct gw__cfg_ctx *ctx, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < ctx->depth && o < cap; i++) {
        const struct gw__json_seg *s = &ctx->path[i];
        int n;
        if (s->key == NULL) {
            n = snprintf(buf + o, cap - o, "[%zu]", s->index);
        } else if (is_plain_key(s->key, s->key_len)) {
            n = snprintf(buf + o, cap - o, "%s%.*s", i > 0 ? "." : "", (int)s->key_len, s->key);
        } else {
            char q[96];
            n = snprintf(buf + o, cap - o, "[%s]", gw__cfg_quote(s->key, s->key_len, q, sizeof q));
        }
        if (n < 0)
            break;
        o += (size_t)n;
    }
    if (o >= cap)
        buf[cap - 1] = '\0';
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Appends one item; false when out of memory. */
static bool append_item(struct gw_config_errors *errs, const char *file, int line, int column,
                        const char *path, const char *msg)
{
    struct gw_config_error *items = realloc(errs->items, (errs->count + 1) * sizeof *items);
    if (items == NULL)
        return false;
    errs->items = items;
    struct gw_config_error *e = &items[errs->count];
    e->file = dup_str(file);
    e->path = dup_str(path);
    e->message = dup_str(msg);
    e->line = line;
    e->column = column;
    if (e->file == NULL || e->path == NULL || e->message == NULL) {
        free(e->file);
        free(e->path);
        free(e->message);
        return false;
    }
    errs->count++;
    return true;
}

static void add_error(struct gw__cfg_ctx *ctx, int line, int column, const char *path,
                      const char *msg)
{
    if (ctx->errs->count >= GW_CONFIG_MAX_ERRORS)
        ctx->dropped++;
    else if (!append_item(ctx->errs, ctx->name, line, column, path, msg))
        ctx->oom = true;
}

void gw__cfg_error_raw(struct gw__cfg_ctx *ctx, int line, int column, const char *path,
                       const char *msg)
{
    add_error(ctx, line, column, path, msg);
}

void gw__cfg_syntax_error(struct gw__cfg_ctx *ctx, int line, int column, size_t off,
                          const char *msg)
{
    char path[256];
    size_t depth = ctx->depth;
    ctx->depth = gw__json_path_at(ctx->text, ctx->len, off, ctx->path, GW__CFG_MAX_DEPTH);
    format_path(ctx, path, sizeof path);
    ctx->depth = depth;
    add_error(ctx, line, column, path, msg);
}

void gw__cfg_locate(const struct gw__cfg_ctx *ctx, bool at_key, int *line, int *column)
{
    if (ctx->pos != NULL)
        gw__pos_locate(ctx->pos, ctx->tree, ctx->path, ctx->depth, at_key, line, column);
    else
        gw__json_locate(ctx->text, ctx->len, ctx->path, ctx->depth, at_key, line, column);
}

/* Appends " (from environment variable NAME)" to msg when path is one the environment set. */
static void name_env(const struct gw__cfg_ctx *ctx, const char *path, char *msg, size_t cap)
{
    for (size_t i = 0; i < ctx->nenv; i++) {
        if (strcmp(ctx->env[i].path, path) == 0) {
            size_t o = strlen(msg);
            snprintf(msg + o, cap - o, " (from environment variable %s)", ctx->env[i].var);
            return;
        }
    }
}

static void verror(struct gw__cfg_ctx *ctx, bool at_key, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void verror(struct gw__cfg_ctx *ctx, bool at_key, const char *fmt, va_list ap)
{
    if (ctx->errs->count >= GW_CONFIG_MAX_ERRORS) {
        ctx->dropped++;
        return;
    }
    char msg[768];
    char path[512];
    size_t o = 0;
    int line;
    int column;
    if (ctx->in_default)
        o = (size_t)snprintf(msg, sizeof msg, "built-in default: ");
    vsnprintf(msg + o, sizeof msg - o, fmt, ap);
    format_path(ctx, path, sizeof path);
    name_env(ctx, path, msg, sizeof msg);
    gw__cfg_locate(ctx, at_key, &line, &column);
    add_error(ctx, line, column, path, msg);
}

void gw__cfg_error(struct gw__cfg_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(ctx, false, fmt, ap);
    va_end(ap);
}

void gw__cfg_error_at_key(struct gw__cfg_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(ctx, true, fmt, ap);
    va_end(ap);
}

/* Byte offset in text of (line, column) as gw__json_locate counts them (columns count
 * characters, UTF-8 continuation bytes do not), or len when past the end. */
static size_t offset_of(const char *text, size_t len, int line, int column)
{
    size_t i = 0;
    for (int l = 1; l < line && i < len; i++) {
        if (text[i] == '\n')
            l++;
    }
    for (int c = 1; i < len; i++) {
        if (((unsigned char)text[i] & 0xC0) == 0x80)
            continue;
        if (c == column)
            return i;
        c++;
    }
    return len;
}

/* UTF-8 length of code point cp. */
static size_t utf8_len(unsigned long cp)
{
    return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

void gw__cfg_error_in_string(struct gw__cfg_ctx *ctx, size_t off, const char *fmt, ...)
{
    if (ctx->errs->count >= GW_CONFIG_MAX_ERRORS) {
        ctx->dropped++;
        return;
    }
    char msg[768];
    char path[512];
    int line;
    int column;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    format_path(ctx, path, sizeof path);
    name_env(ctx, path, msg, sizeof msg);
    gw__cfg_locate(ctx, false, &line, &column);
    size_t i = offset_of(ctx->text, ctx->len, line, column);
    if (ctx->pos != NULL) {
        /* YAML: the value's start plus the offset, past the opening quote of a quoted scalar
         * (escapes and folded lines are not walked: the column is then approximate). */
        if (!ctx->in_default && off < (size_t)INT_MAX - (size_t)column)
            column += (int)off + (i < ctx->len && (ctx->text[i] == '"' || ctx->text[i] == '\''));
    } else if (!ctx->in_default && i < ctx->len && ctx->text[i] == '"') {
        /* Walk the string token, decoding escapes, until off decoded bytes are behind. */
        const char *t = ctx->text;
        size_t decoded = 0;
        int chars = 1; /* the opening quote */
        i++;
        while (i < ctx->len && t[i] != '"' && decoded < off) {
            if (t[i] == '\\' && i + 1 < ctx->len) {
                size_t n = 2;
                unsigned long cp = (unsigned char)t[i + 1];
                uint64_t hex = 0;
                if (t[i + 1] == 'u' && i + 6 <= ctx->len && gw_hex_parse(t + i + 2, 4, &hex)) {
                    cp = (unsigned long)hex;
                    n = 6;
                    if (cp >= 0xD800 && cp < 0xDC00 && i + 12 <= ctx->len && t[i + 6] == '\\') {
                        cp = 0x10000;
                        n = 12;
                    }
                }
                decoded += t[i + 1] == 'u' ? utf8_len(cp) : 1;
                chars += (int)n;
                i += n;
                continue;
            }
            if (((unsigned char)t[i] & 0xC0) != 0x80)
                chars++;
            decoded++;
            i++;
        }
        column += chars;
    }
    add_error(ctx, line, column, path, msg);
}

static bool before(const struct gw_config_error *a, const struct gw_config_error *b)
{
    return a->line < b->line || (a->line == b->line && a->column < b->column);
}

void gw__cfg_errors_finish(struct gw__cfg_ctx *ctx)
{
    struct gw_config_errors *errs = ctx->errs;
    /* Insertion sort: stable (errors at one position keep the order they were found in) and
     * the list is short. */
    for (size_t i = 1; i < errs->count; i++) {
        struct gw_config_error e = errs->items[i];
        size_t j = i;
        while (j > 0 && before(&e, &errs->items[j - 1])) {
            errs->items[j] = errs->items[j - 1];
            j--;
        }
        errs->items[j] = e;
    }
    if (ctx->dropped > 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "%zu more error%s not shown", ctx->dropped,
                 ctx->dropped == 1 ? "" : "s");
        if (!append_item(errs, ctx->name, 0, 0, "", msg))
            ctx->oom = true;
    }
}

/* Optimal string alignment distance (Levenshtein plus adjacent transpositions), for keys up to
 * 63 bytes. */
static size_t osa_distance(const char *a, size_t n, const char *b, size_t m)
{
    size_t d[64][64];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[n][m];
}

const char *gw__cfg_suggest(const char *key, size_t key_len, const char *const *names, size_t n)
{
    const char *best = NULL;
    size_t best_d = 3;
    if (key_len == 0 || key_len > 63)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        if (len > 63)
            continue;
        size_t d = osa_distance(key, key_len, names[i], len);
        if (d < best_d && d < key_len) {
            best = names[i];
            best_d = d;
        }
    }
    return best;
}

void gw_config_errors_free(struct gw_config_errors *errs)
{
    if (errs == NULL)
        return;
    for (size_t i = 0; i < errs->count; i++) {
        free(errs->items[i].file);
        free(errs->items[i].path);
        free(errs->items[i].message);
    }
    free(errs->items);
    errs->items = NULL;
    errs->count = 0;
}

void gw_config_errors_print(const struct gw_config_errors *errs, FILE *out)
{
    if (errs == NULL)
        return;
    for (size_t i = 0; i < errs->count; i++) {
        const struct gw_config_error *e = &errs->items[i];
        if (e->line <= 0)
            fprintf(out, "%s: ", e->file);
        else
            fprintf(out, "%s:%d:%d: ", e->file, e->line, e->column);
        if (e->path[0] != '\0')
            fprintf(out, "%s: ", e->path);
        fprintf(out, "%s\n", e->message);
    }
}
