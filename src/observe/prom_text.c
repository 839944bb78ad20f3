/*
 * The Prometheus text format's writer (observe/internal.h): families with HELP and TYPE,
 * samples, label text and histograms. No printf per sample: lines are assembled from a label
 * prefix built once per row and integers written by hand.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "metrics/hub.h"
#include "observe/internal.h"

/* The exported bucket bounds of every latency histogram, in seconds. */
const char *const gw__prom_le_text[GW__PROM_NLE] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25",   "0.5",   "1",      "2.5",   "5",    "10",    "30",   "60"};
static const double le_ns[] = {5e5,   1e6, 2.5e6, 5e6,   1e7, 2.5e7, 5e7,  1e8,
                               2.5e8, 5e8, 1e9,   2.5e9, 5e9, 1e10,  3e10, 6e10};
_Static_assert(sizeof le_ns / sizeof le_ns[0] == GW__PROM_NLE, "one bound per label");

char *gw__prom_room_slow(struct gw__prom *o, size_t n)
{
    if (o->rc == 0)
        o->rc = gw_buf_reserve(o->b, n);
    return o->rc == 0 ? o->b->data + o->b->len : NULL;
}

void gw__prom_puts(struct gw__prom *o, const char *s)
{
    gw__prom_put(o, s, strlen(s));
}

/* "00" "01" ... "99": two digits at a time. */
static const char digit_pairs[201] = "00010203040506070809"
                                     "10111213141516171819"
                                     "20212223242526272829"
                                     "30313233343536373839"
                                     "40414243444546474849"
                                     "50515253545556575859"
                                     "60616263646566676869"
                                     "70717273747576777879"
                                     "80818283848586878889"
                                     "90919293949596979899";

char *gw__prom_u64_to(char *p, uint64_t v)
{
    if (v < 10) {
        *p = (char)('0' + v);
        return p + 1;
    }
    unsigned n = 2; /* digits of v */
    for (uint64_t t = v / 100; t > 0 && n < 20; t /= 10)
        n++;
    char *end = p + n, *q = end;
    while (v >= 100) {
        unsigned d = (unsigned)(v % 100) * 2;
        v /= 100;
        q -= 2;
        q[0] = digit_pairs[d];
        q[1] = digit_pairs[d + 1];
    }
    if (v >= 10) {
        q -= 2;
        q[0] = digit_pairs[v * 2];
        q[1] = digit_pairs[v * 2 + 1];
    } else {
        *--q = (char)('0' + v);
    }
    return end;
}

char *gw__prom_seconds_to(char *p, uint64_t ns)
{
    p = gw__prom_u64_to(p, ns / 1000000000u);
    uint32_t f = (uint32_t)(ns % 1000000000u);
    *p = '.';
    for (int i = 9; i >= 1; i--) {
        p[i] = (char)('0' + f % 10);
        f /= 10;
    }
    return p + 10;
}

void gw__prom_put_u64(struct gw__prom *o, uint64_t v)
{
    char *p = gw__prom_room(o, GW__PROM_U64_MAX);
    if (p != NULL)
        gw__prom_commit(o, gw__prom_u64_to(p, v));
}

void gw__prom_put_seconds(struct gw__prom *o, uint64_t ns)
{
    char *p = gw__prom_room(o, GW__PROM_SECONDS_MAX);
    if (p != NULL)
        gw__prom_commit(o, gw__prom_seconds_to(p, ns));
}

void gw__prom_put_double(struct gw__prom *o, double v)
{
    /* "%.17g" is exact (17 significant digits read back to the same double) but slow: the text
     * of the last value is kept, and a value with the same bits (-0 is not 0) reuses it. */
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    if (!o->dset || bits != o->dbits) {
        int n = snprintf(o->dtext, sizeof o->dtext, "%.17g", v);
        o->dlen = (uint8_t)(n > 0 && (size_t)n < sizeof o->dtext ? n : 0);
        o->dbits = bits;
        o->dset = true;
    }
    gw__prom_put(o, o->dtext, o->dlen);
}

void gw__prom_family(struct gw__prom *o, const char *name, const char *type, const char *help)
{
    gw__prom_puts(o, "# HELP ");
    gw__prom_puts(o, name);
    gw__prom_put(o, " ", 1);
    gw__prom_puts(o, help);
    gw__prom_puts(o, "\n# TYPE ");
    gw__prom_puts(o, name);
    gw__prom_put(o, " ", 1);
    gw__prom_puts(o, type);
    gw__prom_put(o, "\n", 1);
}

/* "name<suffix>{labels} " or "name<suffix> " at p; returns its end. */
char *gw__prom_series_to(char *p, const char *name, size_t nlen, const char *suffix, size_t slen,
                         const char *labels, size_t llen)
{
    memcpy(p, name, nlen);
    p += nlen;
    memcpy(p, suffix, slen);
    p += slen;
    if (llen) {
        *p++ = '{';
        memcpy(p, labels, llen);
        p += llen;
        *p++ = '}';
    }
    *p++ = ' ';
    return p;
}

void gw__prom_line_u64(struct gw__prom *o, const char *name, size_t nlen, const char *labels,
                       size_t llen, uint64_t v)
{
    char *p = gw__prom_room(o, nlen + llen + 4 + GW__PROM_U64_MAX);
    if (p == NULL)
        return;
    p = gw__prom_series_to(p, name, nlen, "", 0, labels, llen);
    p = gw__prom_u64_to(p, v);
    *p++ = '\n';
    gw__prom_commit(o, p);
}

/* "name{labels} value\n"; labels without braces, may be "". */
void gw__prom_sample_u64(struct gw__prom *o, const char *name, const char *labels, uint64_t v)
{
    gw__prom_line_u64(o, name, strlen(name), labels, strlen(labels), v);
}

void gw__prom_sample_double(struct gw__prom *o, const char *name, const char *labels, double v)
{
    gw__prom_puts(o, name);
    if (labels[0]) {
        gw__prom_put(o, "{", 1);
        gw__prom_puts(o, labels);
        gw__prom_put(o, "}", 1);
    }
    gw__prom_put(o, " ", 1);
    gw__prom_put_double(o, v);
    gw__prom_put(o, "\n", 1);
}

void gw__prom_lbl_reset(struct gw__prom_labels *l)
{
    l->n = 0;
    l->s[0] = '\0';
}

/* The characters a label value escapes (text format 0.0.4): backslash, double quote, line feed. */
static bool needs_escape(char c)
{
    return c == '\\' || c == '"' || c == '\n';
}

void gw__prom_lbl_add_n(struct gw__prom_labels *l, const char *name, const char *value, size_t vlen)
{
    /* name="value" with the value escaped, cut where the buffer ends: the label set stays well
     * formed whatever the value. */
    size_t cap = sizeof l->s, n = l->n, nl = strlen(name);
    if (n + (n ? 1 : 0) + nl + 4 > cap)
        return; /* not even name="" fits: the label is left out */
    if (n)
        l->s[n++] = ',';
    memcpy(l->s + n, name, nl);
    n += nl;
    l->s[n++] = '=';
    l->s[n++] = '"';
    for (size_t i = 0; i < vlen;) {
        /* A run that needs no escape, copied at once (as much as leaves room for the closing
         * quote and the NUL), then the character that does. */
        size_t run = 0, room = cap - n - 2;
        while (i + run < vlen && !needs_escape(value[i + run]))
            run++;
        if (run > room)
            run = room;
        memcpy(l->s + n, value + i, run);
        n += run;
        i += run;
        if (i == vlen || n + 2 + 2 > cap)
            break;
        l->s[n++] = '\\';
        l->s[n++] = value[i] == '\n' ? 'n' : value[i];
        i++;
    }
    l->s[n++] = '"';
    l->s[n] = '\0';
    l->n = n;
}

void gw__prom_lbl_add(struct gw__prom_labels *l, const char *name, const char *value)
{
    gw__prom_lbl_add_n(l, name, value, strlen(value));
}

void gw__prom_lbl_copy(struct gw__prom_labels *dst, const struct gw__prom_labels *src)
{
    memcpy(dst->s, src->s, src->n + 1);
    dst->n = src->n;
}

/* The end of a bucket line's labels, bound and value separator: le="0.0005"} ... le="+Inf"} */
#define LE_TAIL(x)                                                                                 \
    {                                                                                              \
        "le=\"" x "\"} ", sizeof("le=\"" x "\"} ") - 1                                             \
    }
static const struct {
    const char *s;
    size_t n;
} le_tail[GW__PROM_NLE + 1] = {
    LE_TAIL("0.0005"), LE_TAIL("0.001"), LE_TAIL("0.0025"), LE_TAIL("0.005"), LE_TAIL("0.01"),
    LE_TAIL("0.025"),  LE_TAIL("0.05"),  LE_TAIL("0.1"),    LE_TAIL("0.25"),  LE_TAIL("0.5"),
    LE_TAIL("1"),      LE_TAIL("2.5"),   LE_TAIL("5"),      LE_TAIL("10"),    LE_TAIL("30"),
    LE_TAIL("60"),     LE_TAIL("+Inf")};
#define LE_TAIL_MAX (sizeof("le=\"0.0005\"} ") - 1)

/* A histogram row: buckets (cumulative, at the exported bounds), sum, count. Nothing when empty.
 * The row's lines are written into room reserved once; every bucket line starts with the same
 * "name_bucket{labels," written once and copied. */
void gw__prom_histogram_n(struct gw__prom *o, const char *name, size_t nlen, const char *labels,
                          size_t llen, const struct gw_hist_sum *h)
{
    if (h->count == 0)
        return;
    uint64_t cum[GW__PROM_NLE];
    gw_hist_cumulative(h, le_ns, GW__PROM_NLE, cum);
    size_t head = nlen + sizeof "_bucket{" - 1 + llen + (llen ? 1 : 0);
    size_t total = (GW__PROM_NLE + 1) * (head + LE_TAIL_MAX + GW__PROM_U64_MAX + 1) +
                   2 * (nlen + sizeof "_count" + llen + 3 + GW__PROM_SECONDS_MAX + 1);
    char *p = gw__prom_room(o, total);
    if (p == NULL)
        return;
    const char *first = p; /* the first bucket line's head, copied for the others */
    memcpy(p, name, nlen);
    memcpy(p + nlen, "_bucket{", sizeof "_bucket{" - 1);
    if (llen) {
        memcpy(p + head - llen - 1, labels, llen);
        p[head - 1] = ',';
    }
    for (size_t i = 0; i <= GW__PROM_NLE; i++) {
        if (i > 0)
            memcpy(p, first, head);
        p += head;
        memcpy(p, le_tail[i].s, le_tail[i].n);
        p += le_tail[i].n;
        p = gw__prom_u64_to(p, i < GW__PROM_NLE ? cum[i] : h->count);
        *p++ = '\n';
    }
    p = gw__prom_series_to(p, name, nlen, "_sum", 4, labels, llen);
    p = gw__prom_seconds_to(p, h->sum_ns);
    *p++ = '\n';
    p = gw__prom_series_to(p, name, nlen, "_count", 6, labels, llen);
    p = gw__prom_u64_to(p, h->count);
    *p++ = '\n';
    gw__prom_commit(o, p);
}

void gw__prom_histogram(struct gw__prom *o, const char *name, const char *labels,
                        const struct gw_hist_sum *h)
{
    gw__prom_histogram_n(o, name, strlen(name), labels, strlen(labels), h);
}

/* ---- label sets of many rows --------------------------------------------------------------- */

void gw__prom_rows_init(struct gw__prom_rows *r)
{
    gw_buf_init(&r->text, UINT32_MAX);
    gw_buf_init(&r->at, SIZE_MAX);
    r->n = 0;
}

void gw__prom_rows_free(struct gw__prom_rows *r)
{
    gw_buf_free(&r->text);
    gw_buf_free(&r->at);
    r->n = 0;
}

int gw__prom_rows_push(struct gw__prom_rows *r, const struct gw__prom_labels *lb)
{
    uint32_t at = 0;
    int rc = r->at.len == 0 ? gw_buf_append(&r->at, &at, sizeof at) : 0;
    if (rc == 0)
        rc = gw_buf_append(&r->text, lb->s, lb->n);
    at = (uint32_t)r->text.len;
    if (rc == 0)
        rc = gw_buf_append(&r->at, &at, sizeof at);
    if (rc == 0)
        r->n++;
    return rc;
}

/* The longest key part gw__observe_key_part gives (a route prefix's bound). */
#define KEY_PART_MAX 1024

int gw__prom_rows_of_layout(struct gw__prom_rows *rows, const struct gw_metrics_layout *l, int kind)
{
    static const char *const second[GW_MX_KINDS] = {
        [GW_MX_ROUTE] = "route", [GW_MX_TARGET] = "target"};
    struct gw__prom_labels lb;
    gw__prom_rows_init(rows);
    for (size_t i = 0; i < l->nrows[kind]; i++) {
        /* The key's first two parts (gw__observe_key_part's, read in place). */
        const char *key = l->keys[kind][i], *sep = strchr(key, GW_MX_KEY_SEP);
        size_t n0 = sep ? (size_t)(sep - key) : strlen(key);
        gw__prom_lbl_reset(&lb);
        gw__prom_lbl_add_n(&lb, "service", key, n0 < KEY_PART_MAX ? n0 : KEY_PART_MAX);
        if (second[kind] != NULL) {
            const char *p1 = sep ? sep + 1 : "", *end = strchr(p1, GW_MX_KEY_SEP);
            size_t n1 = end ? (size_t)(end - p1) : strlen(p1);
            gw__prom_lbl_add_n(&lb, second[kind], p1, n1 < KEY_PART_MAX ? n1 : KEY_PART_MAX);
        }
        if (gw__prom_rows_push(rows, &lb) < 0) {
            gw__prom_rows_free(rows);
            return GW_ENOMEM;
        }
    }
    return 0;
}
