/*
 * The Prometheus text format's writer (observe/internal.h): families with HELP and TYPE,
 * samples, label text and histograms. No printf per sample: lines are assembled from a label
 * prefix built once per row and integers written by hand.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "metrics/hub.h"
#include "observe/internal.h"

/* The exported bucket bounds of every latency histogram, in seconds. */
const char *const gw__prom_le_text[GW__PROM_NLE] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25",   "0.5",   "1",      "2.5",   "5",    "10",    "30",   "60"};
static const double le_ns[] = {5e5,   1e6, 2.5e6, 5e6,   1e7, 2.5e7, 5e7,  1e8,
                               2.5e8, 5e8, 1e9,   2.5e9, 5e9, 1e10,  3e10, 6e10};
_Static_assert(sizeof le_ns / sizeof le_ns[0] == GW__PROM_NLE, "one bound per label");

void gw__prom_put(struct gw__prom *o, const char *s, size_t n)
{
    if (o->rc == 0)
        o->rc = gw_buf_append(o->b, s, n);
}

void gw__prom_puts(struct gw__prom *o, const char *s)
{
    gw__prom_put(o, s, strlen(s));
}

void gw__prom_put_u64(struct gw__prom *o, uint64_t v)
{
    if (o->rc == 0)
        o->rc = gw_buf_append_u64(o->b, v);
}

/* ns as seconds, exactly: "12.000345678". */
void gw__prom_put_seconds(struct gw__prom *o, uint64_t ns)
{
    char frac[11] = ".000000000";
    gw__prom_put_u64(o, ns / 1000000000u);
    uint64_t f = ns % 1000000000u;
    for (int i = 9; i >= 1; i--) {
        frac[i] = (char)('0' + f % 10);
        f /= 10;
    }
    gw__prom_put(o, frac, 10);
}

void gw__prom_put_double(struct gw__prom *o, double v)
{
    char tmp[48];
    int n = snprintf(tmp, sizeof tmp, "%.17g", v);
    gw__prom_put(o, tmp, (size_t)n);
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

/* "name{labels} " of a sample line; labels without braces, may be "". */
static void sample_head(struct gw__prom *o, const char *name, const char *labels)
{
    gw__prom_puts(o, name);
    if (labels[0]) {
        gw__prom_put(o, "{", 1);
        gw__prom_puts(o, labels);
        gw__prom_put(o, "}", 1);
    }
    gw__prom_put(o, " ", 1);
}

/* "name{labels} value\n"; labels without braces, may be "". */
void gw__prom_sample_u64(struct gw__prom *o, const char *name, const char *labels, uint64_t v)
{
    sample_head(o, name, labels);
    gw__prom_put_u64(o, v);
    gw__prom_put(o, "\n", 1);
}

void gw__prom_sample_double(struct gw__prom *o, const char *name, const char *labels, double v)
{
    sample_head(o, name, labels);
    gw__prom_put_double(o, v);
    gw__prom_put(o, "\n", 1);
}

void gw__prom_lbl_reset(struct gw__prom_labels *l)
{
    l->n = 0;
    l->s[0] = '\0';
}

void gw__prom_lbl_add(struct gw__prom_labels *l, const char *name, const char *value)
{
    /* name="value" with the value escaped (text format 0.0.4: backslash, double quote and line
     * feed), cut where the buffer ends: the label set stays well formed whatever the value. */
    size_t cap = sizeof l->s, n = l->n, nl = strlen(name);
    if (n + (n ? 1 : 0) + nl + 4 > cap)
        return; /* not even name="" fits: the label is left out */
    if (n)
        l->s[n++] = ',';
    memcpy(l->s + n, name, nl);
    n += nl;
    l->s[n++] = '=';
    l->s[n++] = '"';
    for (const char *p = value; *p; p++) {
        bool esc = *p == '\\' || *p == '"' || *p == '\n';
        if (n + (esc ? 2 : 1) + 2 > cap) /* room for the closing quote and the NUL */
            break;
        if (esc) {
            l->s[n++] = '\\';
            l->s[n++] = *p == '\n' ? 'n' : *p;
        } else {
            l->s[n++] = *p;
        }
    }
    l->s[n++] = '"';
    l->s[n] = '\0';
    l->n = n;
}

/* A histogram row: buckets (cumulative, at the exported bounds), sum, count. Nothing when empty. */
void gw__prom_histogram(struct gw__prom *o, const char *name, const char *labels,
                        const struct gw_hist_sum *h)
{
    if (h->count == 0)
        return;
    uint64_t cum[GW__PROM_NLE];
    gw_hist_cumulative(h, le_ns, GW__PROM_NLE, cum);
    size_t nl = strlen(name);
    for (size_t i = 0; i <= GW__PROM_NLE; i++) {
        gw__prom_put(o, name, nl);
        gw__prom_puts(o, "_bucket{");
        if (labels[0]) {
            gw__prom_puts(o, labels);
            gw__prom_put(o, ",", 1);
        }
        gw__prom_puts(o, "le=\"");
        gw__prom_puts(o, i < GW__PROM_NLE ? gw__prom_le_text[i] : "+Inf");
        gw__prom_puts(o, "\"} ");
        gw__prom_put_u64(o, i < GW__PROM_NLE ? cum[i] : h->count);
        gw__prom_put(o, "\n", 1);
    }
    gw__prom_put(o, name, nl);
    gw__prom_puts(o, "_sum");
    if (labels[0]) {
        gw__prom_put(o, "{", 1);
        gw__prom_puts(o, labels);
        gw__prom_put(o, "}", 1);
    }
    gw__prom_put(o, " ", 1);
    gw__prom_put_seconds(o, h->sum_ns);
    gw__prom_put(o, "\n", 1);
    gw__prom_put(o, name, nl);
    gw__prom_puts(o, "_count");
    if (labels[0]) {
        gw__prom_put(o, "{", 1);
        gw__prom_puts(o, labels);
        gw__prom_put(o, "}", 1);
    }
    gw__prom_put(o, " ", 1);
    gw__prom_put_u64(o, h->count);
    gw__prom_put(o, "\n", 1);
}
