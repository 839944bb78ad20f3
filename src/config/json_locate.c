/*
 * Where is a value in a JSON text?
 *
 * jansson reports positions only for syntax errors, not for the values it builds, but every
 * config error must name file:line:column. So after jansson has accepted the text, this small
 * lexer walks the same text along a key path, skipping everything off the path, and reports
 * where the value starts. It allocates nothing, never recurses (skipping a nested value only
 * counts brackets) and stops quietly on text that is not valid JSON, so it is safe on any input.
 */
#include "config/internal.h"

#include <limits.h>
#include <string.h>

#include "core/hex.h"

struct lex {
    const char *p;
    size_t len;
    size_t pos;
};

static void skip_ws(struct lex *l)
{
    while (l->pos < l->len) {
        char c = l->p[l->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        l->pos++;
    }
}

/* At an opening quote: moves past the closing quote. */
static bool skip_string(struct lex *l)
{
    l->pos++;
    while (l->pos < l->len) {
        char c = l->p[l->pos++];
        if (c == '\\')
            l->pos++;
        else if (c == '"')
            return true;
    }
    l->pos = l->len;
    return false;
}

/* Moves past one value of any kind. */
static bool skip_value(struct lex *l)
{
    if (l->pos >= l->len)
        return false;
    char c = l->p[l->pos];
    if (c == '"')
        return skip_string(l);
    if (c == '{' || c == '[') {
        size_t depth = 0;
        while (l->pos < l->len) {
            c = l->p[l->pos];
            if (c == '"') {
                if (!skip_string(l))
                    return false;
                continue;
            }
            l->pos++;
            if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (--depth == 0)
                    return true;
            }
        }
        return false;
    }
    size_t start = l->pos;
    while (l->pos < l->len) {
        c = l->p[l->pos];
        if (c == ',' || c == ']' || c == '}' || c == ':' || c == ' ' || c == '\t' || c == '\n' ||
            c == '\r' || c == '"' || c == '{' || c == '[')
            break;
        l->pos++;
    }
    return l->pos > start;
}

/* The value of the four hex digits at p (those of a JSON unicode escape), or -1. */
static int hex4(const char *p, size_t avail)
{
    uint64_t v;
    if (avail < 4 || !gw_hex_parse(p, 4, &v))
        return -1;
    return (int)v;
}

static size_t utf8_encode(unsigned long cp, unsigned char *out)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* At an opening quote: decodes the string (escapes included) while comparing it with key, and
 * moves past the closing quote. */
static bool match_string(struct lex *l, const char *key, size_t key_len, bool *eq)
{
    size_t k = 0;
    bool same = true;
    l->pos++;
    while (l->pos < l->len) {
        unsigned char c = (unsigned char)l->p[l->pos++];
        unsigned char buf[4];
        size_t n = 1;
        if (c == '"') {
            *eq = same && k == key_len;
            return true;
        }
        if (c != '\\') {
            buf[0] = c;
        } else {
            if (l->pos >= l->len)
                return false;
            char e = l->p[l->pos++];
            switch (e) {
            case '"':
            case '\\':
            case '/':
                buf[0] = (unsigned char)e;
                break;
            case 'b':
                buf[0] = '\b';
                break;
            case 'f':
                buf[0] = '\f';
                break;
            case 'n':
                buf[0] = '\n';
                break;
            case 'r':
                buf[0] = '\r';
                break;
            case 't':
                buf[0] = '\t';
                break;
            case 'u': {
                int hi = hex4(l->p + l->pos, l->len - l->pos);
                if (hi < 0)
                    return false;
                l->pos += 4;
                unsigned long cp = (unsigned long)hi;
                if (hi >= 0xD800 && hi < 0xDC00 && l->len - l->pos >= 6 && l->p[l->pos] == '\\' &&
                    l->p[l->pos + 1] == 'u') {
                    int lo = hex4(l->p + l->pos + 2, l->len - l->pos - 2);
                    if (lo >= 0xDC00 && lo < 0xE000) {
                        cp = 0x10000 + (((unsigned long)hi - 0xD800) << 10) +
                             ((unsigned long)lo - 0xDC00);
                        l->pos += 6;
                    }
                }
                n = utf8_encode(cp, buf);
                break;
            }
            default:
                return false;
            }
        }
        if (same) {
            if (n > key_len - k || memcmp(key + k, buf, n) != 0)
                same = false;
            else
                k += n;
        }
    }
    return false;
}

/* At '{': finds the member named by seg; on success l->pos is at its value, *key_pos at the
 * key's quote. */
static bool find_member(struct lex *l, const struct gw__json_seg *seg, size_t *key_pos)
{
    if (l->p[l->pos] != '{')
        return false;
    l->pos++;
    skip_ws(l);
    while (l->pos < l->len && l->p[l->pos] == '"') {
        bool eq = false;
        *key_pos = l->pos;
        if (!match_string(l, seg->key, seg->key_len, &eq))
            return false;
        skip_ws(l);
        if (l->pos >= l->len || l->p[l->pos] != ':')
            return false;
        l->pos++;
        skip_ws(l);
        if (eq)
            return l->pos < l->len;
        if (!skip_value(l))
            return false;
        skip_ws(l);
        if (l->pos >= l->len || l->p[l->pos] != ',')
            return false;
        l->pos++;
        skip_ws(l);
    }
    return false;
}

/* At '[': finds element number index; on success l->pos is at it. */
static bool find_element(struct lex *l, size_t index)
{
    if (l->p[l->pos] != '[')
        return false;
    l->pos++;
    skip_ws(l);
    if (l->pos >= l->len || l->p[l->pos] == ']')
        return false;
    for (size_t i = 0;; i++) {
        if (i == index)
            return true;
        if (!skip_value(l))
            return false;
        skip_ws(l);
        if (l->pos >= l->len || l->p[l->pos] != ',')
            return false;
        l->pos++;
        skip_ws(l);
        if (l->pos >= l->len)
            return false;
    }
}

void gw__json_line_col(const char *text, size_t len, size_t off, int *line, int *column)
{
    long ln = 1;
    long col = 0;
    if (off > len)
        off = len;
    for (size_t i = 0; i < off; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n') {
            ln++;
            col = 0;
        } else if ((c & 0xC0) != 0x80) {
            col++;
        }
    }
    *line = ln < INT_MAX ? (int)ln : INT_MAX;
    *column = col + 1 < INT_MAX ? (int)(col + 1) : INT_MAX;
}

size_t gw__json_locate(const char *text, size_t len, const struct gw__json_seg *path, size_t depth,
                       bool want_key, int *line, int *column)
{
    struct lex l = {.p = text, .len = len, .pos = 0};
    skip_ws(&l);
    size_t found = l.pos;
    size_t resolved = 0;
    while (resolved < depth && l.pos < l.len) {
        const struct gw__json_seg *seg = &path[resolved];
        size_t key_pos = 0;
        bool ok = seg->key ? find_member(&l, seg, &key_pos) : find_element(&l, seg->index);
        if (!ok)
            break;
        resolved++;
        found = (want_key && seg->key && resolved == depth) ? key_pos : l.pos;
    }
    gw__json_line_col(text, len, found, line, column);
    return resolved;
}

size_t gw__json_path_at(const char *text, size_t len, size_t off, struct gw__json_seg *path,
                        size_t cap)
{
    struct lex l = {.p = text, .len = off < len ? off : len, .pos = 0};
    size_t depth = 0; /* open containers, those beyond cap counted only */
    while (l.pos < l.len) {
        char c = l.p[l.pos];
        struct gw__json_seg *top = depth > 0 && depth <= cap ? &path[depth - 1] : NULL;
        if (c == '"') {
            size_t start = l.pos + 1;
            bool closed = skip_string(&l);
            /* a string where an object's member name goes: the current member */
            if (top && top->key != NULL && top->index == SIZE_MAX) {
                top->key = text + start;
                top->key_len = closed ? l.pos - 1 - start : l.len - start;
                top->index = 0;
            }
            continue;
        }
        if (c == '{' || c == '[') {
            if (depth < cap) /* an object's key is "" until its name is read, SIZE_MAX marks it */
                path[depth] =
                    (struct gw__json_seg){c == '{' ? "" : NULL, 0, c == '{' ? SIZE_MAX : 0};
            depth++;
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        } else if (c == ',' && top) {
            if (top->key == NULL)
                top->index++;
            else
                *top = (struct gw__json_seg){"", 0, SIZE_MAX};
        }
        l.pos++;
    }
    /* the members being read; an object between members ends the path */
    size_t n = 0;
    while (n < depth && n < cap && !(path[n].key != NULL && path[n].index == SIZE_MAX))
        n++;
    return n;
}
