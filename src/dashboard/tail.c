/*
 * The access-log tail: per-worker rings filled while a dashboard watches (see tail.h).
 */
#include "dashboard/tail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int gw_tail_new(struct gw_tail **out, unsigned nworkers)
{
    struct gw_tail *t = calloc(1, sizeof *t);
    unsigned i = 0;
    if (t == NULL)
        goto fail;
    t->rings = calloc(nworkers ? nworkers : 1, sizeof *t->rings);
    if (t->rings == NULL)
        goto fail;
    for (i = 0; i < nworkers; i++)
        if (uv_mutex_init(&t->rings[i].lock) != 0)
            goto fail;
    t->nrings = nworkers;
    atomic_init(&t->watchers, 0);
    *out = t;
    return 0;
fail:
    while (t && t->rings && i > 0)
        uv_mutex_destroy(&t->rings[--i].lock);
    if (t)
        free(t->rings);
    free(t);
    *out = NULL;
    return GW_ENOMEM;
}

void gw_tail_free(struct gw_tail *t)
{
    if (t == NULL)
        return;
    for (unsigned i = 0; i < t->nrings; i++) {
        uv_mutex_destroy(&t->rings[i].lock);
        free(t->rings[i].rec);
    }
    free(t->rings);
    free(t);
}

void gw_tail_push(struct gw_tail *t, unsigned worker, const struct gw_tail_record *rec)
{
    if (worker >= t->nrings)
        return;
    struct gw_tail_ring *r = &t->rings[worker];
    uv_mutex_lock(&r->lock);
    if (r->rec != NULL) {
        r->rec[r->head] = *rec;
        r->head = (r->head + 1) % GW_TAIL_RING;
        if (r->count == GW_TAIL_RING)
            r->dropped++;
        else
            r->count++;
    }
    uv_mutex_unlock(&r->lock);
}

int gw_tail_watch(struct gw_tail *t)
{
    for (unsigned i = 0; i < t->nrings; i++) {
        struct gw_tail_ring *r = &t->rings[i];
        if (r->rec != NULL)
            continue;
        struct gw_tail_record *rec = calloc(GW_TAIL_RING, sizeof *rec);
        if (rec == NULL)
            return GW_ENOMEM;
        uv_mutex_lock(&r->lock);
        r->rec = rec;
        uv_mutex_unlock(&r->lock);
    }
    atomic_fetch_add_explicit(&t->watchers, 1, memory_order_relaxed);
    return 0;
}

void gw_tail_unwatch(struct gw_tail *t)
{
    if (atomic_fetch_sub_explicit(&t->watchers, 1, memory_order_relaxed) != 1)
        return;
    /* The last watcher left: what is buffered would greet the next one with old lines. */
    for (unsigned i = 0; i < t->nrings; i++) {
        uv_mutex_lock(&t->rings[i].lock);
        t->rings[i].count = 0;
        t->rings[i].dropped = 0;
        uv_mutex_unlock(&t->rings[i].lock);
    }
}

static int by_time(const void *a, const void *b)
{
    const struct gw_tail_record *x = a, *y = b;
    return x->time_ms < y->time_ms ? -1 : x->time_ms > y->time_ms;
}

size_t gw_tail_take(struct gw_tail *t, struct gw_tail_record *out, size_t cap, uint64_t *dropped)
{
    size_t n = 0;
    *dropped = 0;
    for (unsigned i = 0; i < t->nrings; i++) {
        struct gw_tail_ring *r = &t->rings[i];
        uv_mutex_lock(&r->lock);
        size_t k = r->count;
        size_t start = (r->head + GW_TAIL_RING - k) % GW_TAIL_RING;
        for (size_t j = 0; j < k; j++) {
            if (n < cap)
                out[n++] = r->rec[(start + j) % GW_TAIL_RING];
            else
                (*dropped)++;
        }
        *dropped += r->dropped;
        r->count = 0;
        r->dropped = 0;
        uv_mutex_unlock(&r->lock);
    }
    qsort(out, n, sizeof *out, by_time);
    return n;
}

/* ---- filter ---------------------------------------------------------------------------------- */

void gw_tail_copy(char *dst, size_t cap, const char *s, size_t n)
{
    if (cap == 0)
        return;
    if (n > cap - 1)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent- and '+'-decodes s[0..n) into out (cap bytes, NUL-terminated). False when the value
 * does not fit, is malformed or decodes to a control byte. */
static bool decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= n)
                return false;
            int hi = hexval(s[i + 1]);
            int lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            c = hi * 16 + lo;
            i += 2;
        }
        if (c < 0x20 || c == 0x7f || o + 1 >= cap)
            return false;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return true;
}

static bool parse_status(const char *v, struct gw_tail_filter *f)
{
    size_t n = strlen(v);
    if (n == 0) {
        f->status_lo = 0;
        f->status_hi = 999;
        return true;
    }
    if (n != 3 || v[0] < '1' || v[0] > '5')
        return false;
    if ((v[1] == 'x' || v[1] == 'X') && (v[2] == 'x' || v[2] == 'X')) {
        f->status_lo = (v[0] - '0') * 100;
        f->status_hi = f->status_lo + 99;
        return true;
    }
    if (v[1] < '0' || v[1] > '9' || v[2] < '0' || v[2] > '9')
        return false;
    f->status_lo = f->status_hi = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
    return true;
}

int gw_tail_filter_parse(const char *query, size_t len, struct gw_tail_filter *f, char *why,
                         size_t why_cap)
{
    memset(f, 0, sizeof *f);
    f->status_hi = 999;
    size_t i = 0;
    while (i < len) {
        const char *amp = memchr(query + i, '&', len - i);
        size_t end = amp ? (size_t)(amp - query) : len;
        const char *eq = memchr(query + i, '=', end - i);
        size_t name_end = eq ? (size_t)(eq - query) : end;
        const char *name = query + i;
        size_t nlen = name_end - i;
        const char *val = eq ? eq + 1 : query + end;
        size_t vlen = eq ? end - name_end - 1 : 0;
        char buf[80];
        bool ok = decode(val, vlen, buf, sizeof buf);
        if (nlen == 7 && memcmp(name, "service", 7) == 0) {
            if (!ok || strlen(buf) >= sizeof f->service) {
                snprintf(why, why_cap, "service: at most %zu printable characters",
                         sizeof f->service - 1);
                return GW_EINVAL;
            }
            memcpy(f->service, buf, strlen(buf) + 1);
        } else if (nlen == 10 && memcmp(name, "request_id", 10) == 0) {
            if (!ok || strlen(buf) >= sizeof f->request_id) {
                snprintf(why, why_cap, "request_id: at most %zu printable characters",
                         sizeof f->request_id - 1);
                return GW_EINVAL;
            }
            memcpy(f->request_id, buf, strlen(buf) + 1);
        } else if (nlen == 6 && memcmp(name, "status", 6) == 0) {
            if (!ok || !parse_status(buf, f)) {
                snprintf(why, why_cap, "status: a code (404) or a class (5xx)");
                return GW_EINVAL;
            }
        }
        i = end + 1;
    }
    return 0;
}

bool gw_tail_filter_match(const struct gw_tail_filter *f, const struct gw_tail_record *rec)
{
    if (f->service[0] && strcmp(f->service, rec->service) != 0)
        return false;
    if (rec->status < f->status_lo || rec->status > f->status_hi)
        return false;
    if (f->request_id[0] && strstr(rec->id, f->request_id) == NULL)
        return false;
    return true;
}

/* A JSON string body: runs of bytes that need no escape are appended at once (a record is
 * formatted for every request while a live log is open, so this is the stream's hot loop). */
static int append_escaped(struct gw_buf *out, const char *v)
{
    size_t n = strlen(v), start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
            continue;
        if ((i > start && gw_buf_append(out, v + start, i - start) < 0) ||
            gw_buf_append_json_escaped(out, v + i, 1) < 0)
            return GW_ENOMEM;
        start = i + 1;
    }
    return n > start ? gw_buf_append(out, v + start, n - start) : 0;
}

static int append_field(struct gw_buf *out, const char *name, const char *v)
{
    int rc = gw_buf_append_str(out, name);
    if (rc == 0)
        rc = append_escaped(out, v);
    if (rc == 0)
        rc = gw_buf_append(out, "\"", 1);
    return rc;
}

/* Milliseconds with three decimals, as "%.3f" would write them (no printf: see above). */
static int append_ms(struct gw_buf *out, double ms)
{
    uint64_t us = (uint64_t)(ms * 1000.0 + 0.5);
    char frac[4] = {'.', (char)('0' + us / 100 % 10), (char)('0' + us / 10 % 10),
                    (char)('0' + us % 10)};
    int rc = gw_buf_append_u64(out, us / 1000);
    return rc == 0 ? gw_buf_append(out, frac, sizeof frac) : rc;
}

int gw_tail_record_json(const struct gw_tail_record *rec, struct gw_buf *out)
{
    int rc = gw_buf_append_str(out, "{\"time_ms\":");
    if (rc == 0)
        rc = gw_buf_append_u64(out, rec->time_ms);
    if (rc == 0)
        rc = gw_buf_append_str(out, ",\"status\":");
    if (rc == 0)
        rc = gw_buf_append_u64(out, rec->status > 0 ? (uint64_t)rec->status : 0);
    if (rc == 0)
        rc = gw_buf_append_str(out, ",\"duration_ms\":");
    if (rc == 0)
        rc = append_ms(out, rec->duration_ms > 0 ? rec->duration_ms : 0);
    if (rc == 0)
        rc = gw_buf_append_str(out, ",\"upstream_ms\":");
    if (rc == 0)
        rc = rec->upstream_ms >= 0 ? append_ms(out, rec->upstream_ms)
                                   : gw_buf_append_str(out, "null");
    if (rc == 0)
        rc = gw_buf_append_str(out, ",\"bytes_out\":");
    if (rc == 0)
        rc = gw_buf_append_u64(out, rec->bytes_out);
    if (rc == 0)
        rc = append_field(out, ",\"request_id\":\"", rec->id);
    if (rc == 0)
        rc = append_field(out, ",\"method\":\"", rec->method);
    if (rc == 0)
        rc = append_field(out, ",\"path\":\"", rec->path);
    if (rc == 0)
        rc = append_field(out, ",\"service\":\"", rec->service);
    if (rc == 0)
        rc = append_field(out, ",\"target\":\"", rec->target);
    if (rc == 0)
        rc = append_field(out, ",\"client\":\"", rec->client);
    if (rc == 0)
        rc = gw_buf_append(out, "}", 1);
    return rc;
}
