/*
 * The small helpers transform.c (the stage) and transform_build.c (its plans, per snapshot)
 * share: inline, as the stage calls them per header on the request path. Only those two files
 * include it.
 */
#ifndef GW_POLICY_TRANSFORM_HELP_H
#define GW_POLICY_TRANSFORM_HELP_H

#include <stdbool.h>
#include <stddef.h>

#include "http1/parser.h"
#include "policy/transform.h"

static inline bool gw__tf_fields_empty(const struct gw_tf_fields *f)
{
    return f->nremove == 0 && f->nrename == 0 && f->nset == 0 && f->nadd == 0;
}

static inline bool gw__tf_body_empty(const struct gw_tf_body *b)
{
    return b->nremove == 0 && b->nrename == 0 && b->nadd == 0;
}

/* Header name a[0..an) equals b (NUL-terminated) ignoring case, '_' matching '-'. */
static inline bool gw__tf_header_is(const char *a, size_t an, const char *b)
{
    /* Most names differ in their first character: a filter (letters compare without case;
     * other characters fall through to the exact loop). */
    char a0 = an && a[0] == '_' ? '-' : (an ? a[0] : '\0'), b0 = b[0] == '_' ? '-' : b[0];
    if ((a0 | 0x20) != (b0 | 0x20))
        return false;
    size_t i = 0;
    for (; i < an && b[i]; i++) {
        char x = a[i] == '_' ? '-' : a[i], y = b[i] == '_' ? '-' : b[i];
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return i == an && b[i] == '\0';
}

/* Drops every header named name (loosely; name_len = strlen(name)) from h[0..n); returns the new
 * count. The loose match maps byte to byte, so only names of the same length are compared. */
static inline size_t gw__tf_drop_named(struct gw_http1_header *h, size_t n, const char *name,
                                       size_t name_len)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (h[i].name_len != name_len || !gw__tf_header_is(h[i].name, h[i].name_len, name))
            h[w++] = h[i];
    }
    return w;
}

#endif
