/*
 * Value templates (policy/template.h): compiled once at load time into literal and variable
 * parts, rendered per request by appending each part.
 */
#include "policy/template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/hex.h"

static bool name_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool name_char(unsigned char c)
{
    return name_start(c) || (c >= '0' && c <= '9');
}

static const struct {
    const char *name;
    enum gw_tpl_kind kind;
} fixed_vars[] = {
    {"request_id", GW_TPL_REQUEST_ID}, {"client_ip", GW_TPL_CLIENT_IP},
    {"consumer", GW_TPL_CONSUMER},     {"user_id", GW_TPL_USER_ID},
    {"service", GW_TPL_SERVICE},       {"route", GW_TPL_ROUTE},
    {"trace_id", GW_TPL_TRACE_ID},
};

/* The kind of variable name[0..n), with *sub the part after "http_" / "arg_"; -1 when unknown. */
static int var_kind(const char *name, size_t n, size_t *sub)
{
    *sub = 0;
    for (size_t i = 0; i < sizeof fixed_vars / sizeof fixed_vars[0]; i++) {
        if (strlen(fixed_vars[i].name) == n && memcmp(fixed_vars[i].name, name, n) == 0)
            return (int)fixed_vars[i].kind;
    }
    if (n > 5 && memcmp(name, "http_", 5) == 0) {
        *sub = 5;
        return GW_TPL_HTTP;
    }
    if (n > 4 && memcmp(name, "arg_", 4) == 0) {
        *sub = 4;
        return GW_TPL_ARG;
    }
    return -1;
}

void gw_template_free(struct gw_template *t)
{
    if (t == NULL)
        return;
    free(t->text);
    free(t->parts);
    free(t);
}

/* Adds a part; literal parts next to each other are merged. */
static void add_part(struct gw_template *t, enum gw_tpl_kind kind, uint32_t off, uint32_t len)
{
    if (kind == GW_TPL_TEXT && t->nparts && t->parts[t->nparts - 1].kind == GW_TPL_TEXT &&
        t->parts[t->nparts - 1].off + t->parts[t->nparts - 1].len == off) {
        t->parts[t->nparts - 1].len += len;
        return;
    }
    t->parts[t->nparts].kind = kind;
    t->parts[t->nparts].off = off;
    t->parts[t->nparts].len = len;
    t->nparts++;
    t->uses |= 1u << kind;
}

int gw_template_parse(const char *s, size_t n, struct gw_template **out, size_t *err_at, char *why,
                      size_t why_cap)
{
    *out = NULL;
    *err_at = 0;
    if (why_cap)
        why[0] = '\0';
    if (n > GW_TEMPLATE_MAX) {
        snprintf(why, why_cap, "a template is at most %d bytes", GW_TEMPLATE_MAX);
        return GW_EINVAL;
    }
    struct gw_template *t = calloc(1, sizeof *t);
    if (t == NULL)
        return GW_ENOMEM;
    /* The text is never longer than the source; there are at most n + 1 parts. */
    t->text = malloc(n + 1);
    t->parts = calloc(n + 1, sizeof *t->parts);
    if (t->text == NULL || t->parts == NULL) {
        gw_template_free(t);
        return GW_ENOMEM;
    }
    uint32_t w = 0;
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c != '$' || i + 1 == n || (s[i + 1] != '$' && !name_start((unsigned char)s[i + 1]))) {
            t->text[w] = (char)c;
            add_part(t, GW_TPL_TEXT, w, 1);
            w++;
            i++;
            continue;
        }
        if (s[i + 1] == '$') {
            t->text[w] = '$';
            add_part(t, GW_TPL_TEXT, w, 1);
            w++;
            i += 2;
            continue;
        }
        size_t start = i + 1, end = start;
        while (end < n && name_char((unsigned char)s[end]))
            end++;
        size_t sub;
        int kind = var_kind(s + start, end - start, &sub);
        if (kind < 0) {
            *err_at = i;
            snprintf(why, why_cap,
                     "unknown variable \"$%.*s\" (known: $request_id, $client_ip, $consumer, "
                     "$user_id, $service, $route, $trace_id, $http_<header>, $arg_<parameter>; "
                     "\"$$\" is a literal \"$\")",
                     (int)(end - start > 64 ? 64 : end - start), s + start);
            gw_template_free(t);
            return GW_EINVAL;
        }
        uint32_t off = w;
        uint32_t len = 0;
        if (kind == GW_TPL_HTTP || kind == GW_TPL_ARG) {
            len = (uint32_t)(end - start - sub);
            memcpy(t->text + w, s + start + sub, len);
            w += len;
        }
        add_part(t, (enum gw_tpl_kind)kind, off, len);
        i = end;
    }
    t->text[w] = '\0';
    t->text_len = w;
    *out = t;
    return 0;
}

/* ---- rendering ------------------------------------------------------------------------------ */

/* Header name h equals name[0..n) (lowercase, '_' for '-') ignoring case, '_' matching '-'. */
static bool header_is(const struct gw_http1_header *h, const char *name, size_t n)
{
    if (h->name_len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char a = (unsigned char)h->name[i], b = (unsigned char)name[i];
        if (a >= 'A' && a <= 'Z')
            a = (unsigned char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
            b = (unsigned char)(b - 'A' + 'a');
        if (a == '-')
            a = '_';
        if (b == '-')
            b = '_';
        if (a != b)
            return false;
    }
    return true;
}

bool gw_template_query_name_is(const char *raw, size_t rn, const char *name, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < rn; i++) {
        unsigned char c = (unsigned char)raw[i];
        if (c == '%' && rn - i >= 3) {
            int hi = gw_hex_digit((unsigned char)raw[i + 1]);
            int lo = gw_hex_digit((unsigned char)raw[i + 2]);
            if (hi >= 0 && lo >= 0) {
                c = (unsigned char)(hi << 4 | lo);
                i += 2;
            }
        } else if (c == '+') {
            c = ' ';
        }
        if (k == n || (unsigned char)name[k] != c)
            return false;
        k++;
    }
    return k == n;
}

bool gw_template_query_value(const char *query, size_t query_len, const char *name, size_t n,
                             const char **val, size_t *val_len)
{
    if (query == NULL || query_len == 0)
        return false;
    const char *p = query, *end = query + query_len;
    if (*p == '?')
        p++;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        const char *ne = eq ? eq : pe;
        if (gw_template_query_name_is(p, (size_t)(ne - p), name, n)) {
            *val = eq ? eq + 1 : pe;
            *val_len = eq ? (size_t)(pe - eq - 1) : 0;
            return true;
        }
        p = amp ? amp + 1 : end;
    }
    return false;
}

static int put(struct gw_buf *out, const char *s)
{
    return s ? gw_buf_append_str(out, s) : 0;
}

int gw_template_render(const struct gw_template *t, const struct gw_tpl_source *src,
                       struct gw_buf *out)
{
    int rc = 0;
    for (size_t i = 0; i < t->nparts && rc == 0; i++) {
        const struct gw_tpl_part *p = &t->parts[i];
        const char *name = t->text + p->off;
        switch (p->kind) {
        case GW_TPL_TEXT:
            rc = gw_buf_append(out, name, p->len);
            break;
        case GW_TPL_REQUEST_ID:
            rc = put(out, src->request_id);
            break;
        case GW_TPL_CLIENT_IP:
            rc = put(out, src->client_ip);
            break;
        case GW_TPL_CONSUMER:
            rc = put(out, src->consumer);
            break;
        case GW_TPL_USER_ID:
            rc = put(out, src->user_id);
            break;
        case GW_TPL_SERVICE:
            rc = put(out, src->service);
            break;
        case GW_TPL_ROUTE:
            if (src->route)
                rc = gw_buf_append(out, src->route, src->route_len);
            break;
        case GW_TPL_TRACE_ID:
            rc = put(out, src->trace_id);
            break;
        case GW_TPL_HTTP: {
            bool first = true;
            for (uint32_t k = 0; src->msg && k < src->msg->num_headers && rc == 0; k++) {
                const struct gw_http1_header *h = &src->msg->headers[k];
                if (!header_is(h, name, p->len))
                    continue;
                if (!first)
                    rc = gw_buf_append(out, ", ", 2);
                if (rc == 0)
                    rc = gw_buf_append(out, h->value, h->value_len);
                first = false;
            }
            break;
        }
        case GW_TPL_ARG: {
            const char *v;
            size_t vl;
            if (gw_template_query_value(src->query, src->query_len, name, p->len, &v, &vl))
                rc = gw_buf_append(out, v, vl);
            break;
        }
        default:
            break;
        }
    }
    return rc;
}
