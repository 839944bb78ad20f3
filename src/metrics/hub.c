/*
 * The metrics hub (metrics/hub.h): sets mapped onto the current layout, the base of folded
 * sets, totals, rates, and scrapes rendered for workers.
 */
#include "metrics/hub.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/hash.h"

struct gw_metrics_scrape {
    uv_async_t done; /* on the worker's loop: the control thread rendered it */
    struct gw_metrics_hub *hub;
    int format;
    int err;
    struct gw_buf out;
    gw_metrics_scrape_cb cb;
    void *arg;
    atomic_bool cancelled;
    struct gw_metrics_scrape *next;
};

struct gw_metrics_hub {
    unsigned nworkers;
    struct gw_metrics_set *sets; /* live sets, the current one first */
    struct gw_metrics_set *cur;
    uint64_t *base[GW_MX_KINDS]; /* folded sets, in cur's layout */
    uint64_t *total[GW_MX_KINDS];
    struct gw_metrics_rate *rates; /* per route row of cur */
    /* scrapes */
    uv_async_t wake;
    bool started;
    uv_mutex_t lock;
    struct gw_metrics_scrape *queue;
    gw_metrics_render_fn render;
    void *render_arg;
};

#define GROUP (1u << GW_HIST_SUB_BITS)

/* ---- keys to rows ---------------------------------------------------------------------------- */

static size_t key_len(const char *key)
{
    return strlen(key) + 1;
}

/* An open-addressing index of one kind's keys. */
struct key_index {
    const struct gw_metrics_layout *l;
    enum gw_mx_kind k;
    int32_t *slots;
    size_t mask;
};

static uint64_t key_hash(const char *key, size_t n)
{
    return gw_hash_mix64(gw_fnv1a64(key, n));
}

static int index_build(struct key_index *ix, const struct gw_metrics_layout *l, enum gw_mx_kind k)
{
    size_t n = l->nrows[k], cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    ix->l = l;
    ix->k = k;
    ix->mask = cap - 1;
    ix->slots = malloc(cap * sizeof *ix->slots);
    if (ix->slots == NULL)
        return GW_ENOMEM;
    memset(ix->slots, 0xff, cap * sizeof *ix->slots);
    for (size_t i = 0; i < n; i++) {
        const char *key = l->keys[k][i];
        size_t at = key_hash(key, key_len(key)) & ix->mask;
        while (ix->slots[at] >= 0)
            at = (at + 1) & ix->mask;
        ix->slots[at] = (int32_t)i;
    }
    return 0;
}

static int32_t index_find(const struct key_index *ix, const char *key)
{
    size_t n = key_len(key);
    size_t at = key_hash(key, n) & ix->mask;
    while (ix->slots[at] >= 0) {
        const char *k = ix->l->keys[ix->k][ix->slots[at]];
        if (key_len(k) == n && memcmp(k, key, n) == 0)
            return ix->slots[at];
        at = (at + 1) & ix->mask;
    }
    return -1;
}

/* map[k][row of from] = row of to, or -1. */
static int map_build(const struct gw_metrics_layout *from, struct key_index *to, int32_t **map)
{
    for (int k = 0; k < GW_MX_KINDS; k++) {
        int32_t *m = malloc((from->nrows[k] ? from->nrows[k] : 1) * sizeof *m);
        if (m == NULL) {
            for (int j = 0; j < k; j++) {
                free(map[j]);
                map[j] = NULL;
            }
            return GW_ENOMEM;
        }
        for (size_t i = 0; i < from->nrows[k]; i++)
            m[i] = index_find(&to[k], from->keys[k][i]);
        map[k] = m;
    }
    return 0;
}

/* ---- adding rows --------------------------------------------------------------------------------
 */

static void add_area_row(uint64_t *dst, const gw_mx_ctr *src, enum gw_mx_kind k)
{
    if (k != GW_MX_HIST) {
        /* The bound in a local: dst's stores could alias gw_mx_row_words (the same type). */
        size_t words = gw_mx_row_words[k];
        for (size_t w = 0; w < words; w++)
            dst[w] += gw_mx_get(&src[w]);
        return;
    }
    uint64_t used = gw_mx_get(&src[GW_MX_H_USED]);
    if (used == 0)
        return;
    dst[GW_MX_H_USED] |= used;
    dst[GW_MX_H_SUM] += gw_mx_get(&src[GW_MX_H_SUM]);
    for (unsigned g = 0; g < GW_HIST_GROUPS; g++) {
        if (!(used & (UINT64_C(1) << g)))
            continue;
        for (unsigned i = g * GROUP; i < (g + 1) * GROUP; i++)
            dst[GW_MX_H_B + i] += gw_mx_get(&src[GW_MX_H_B + i]);
    }
}

static void add_plain_row(uint64_t *dst, const uint64_t *src, enum gw_mx_kind k)
{
    if (k != GW_MX_HIST) {
        size_t words = gw_mx_row_words[k];
        for (size_t w = 0; w < words; w++)
            dst[w] += src[w];
        return;
    }
    uint64_t used = src[GW_MX_H_USED];
    if (used == 0)
        return;
    dst[GW_MX_H_USED] |= used;
    dst[GW_MX_H_SUM] += src[GW_MX_H_SUM];
    for (unsigned g = 0; g < GW_HIST_GROUPS; g++) {
        if (!(used & (UINT64_C(1) << g)))
            continue;
        for (unsigned i = g * GROUP; i < (g + 1) * GROUP; i++)
            dst[GW_MX_H_B + i] += src[GW_MX_H_B + i];
    }
}

/* dst (rows in the current layout) += every area of s, through s->map; histogram rows too
 * unless skip_hist. */
static void add_set(uint64_t **dst, const struct gw_metrics_set *s, bool skip_hist)
{
    for (unsigned w = 0; w < s->nworkers; w++) {
        for (int k = 0; k < GW_MX_KINDS; k++) {
            if (skip_hist && k == GW_MX_HIST)
                continue;
            size_t words = gw_mx_row_words[k];
            for (size_t r = 0; r < s->layout.nrows[k]; r++) {
                int32_t to = s->map[k][r];
                if (to >= 0)
                    add_area_row(dst[k] + (size_t)to * words, s->areas[w].rows[k] + r * words,
                                 (enum gw_mx_kind)k);
            }
        }
    }
}

static void rows_free(uint64_t **rows)
{
    for (int k = 0; k < GW_MX_KINDS; k++) {
        free(rows[k]);
        rows[k] = NULL;
    }
}

static int rows_alloc(uint64_t **rows, const struct gw_metrics_layout *l)
{
    for (int k = 0; k < GW_MX_KINDS; k++) {
        size_t n = l->nrows[k] * gw_mx_row_words[k];
        rows[k] = calloc(n ? n : 1, sizeof(uint64_t));
        if (rows[k] == NULL) {
            rows_free(rows);
            return GW_ENOMEM;
        }
    }
    return 0;
}

/* ---- the hub ------------------------------------------------------------------------------------
 */

static void on_wake(uv_async_t *a);

int gw_metrics_hub_new(struct gw_metrics_hub **out, uv_loop_t *loop, unsigned nworkers)
{
    struct gw_metrics_hub *h = calloc(1, sizeof *h);
    *out = NULL;
    if (h == NULL)
        return GW_ENOMEM;
    h->nworkers = nworkers;
    if (uv_mutex_init(&h->lock) != 0) {
        free(h);
        return GW_ENOMEM;
    }
    if (loop != NULL) {
        uv_async_init(loop, &h->wake, on_wake);
        h->wake.data = h;
        h->started = true;
    }
    *out = h;
    return 0;
}

void gw_metrics_hub_free(struct gw_metrics_hub *h)
{
    if (h == NULL)
        return;
    while (h->sets) {
        struct gw_metrics_set *s = h->sets;
        h->sets = s->next;
        gw_metrics_set_free(s);
    }
    rows_free(h->base);
    rows_free(h->total);
    free(h->rates);
    uv_mutex_destroy(&h->lock);
    free(h);
}

static void on_hub_closed(uv_handle_t *handle)
{
    (void)handle;
}

void gw_metrics_hub_close(struct gw_metrics_hub *h)
{
    if (h == NULL || !h->started || uv_is_closing((uv_handle_t *)&h->wake))
        return;
    uv_close((uv_handle_t *)&h->wake, on_hub_closed);
}

void gw_metrics_hub_set_render(struct gw_metrics_hub *h, gw_metrics_render_fn fn, void *arg)
{
    h->render = fn;
    h->render_arg = arg;
}

const struct gw_metrics_layout *gw_metrics_hub_layout(const struct gw_metrics_hub *h)
{
    return h->cur ? &h->cur->layout : NULL;
}

int gw_metrics_hub_adopt(struct gw_metrics_hub *h, struct gw_metrics_set *s)
{
    struct key_index ix[GW_MX_KINDS] = {0};
    uint64_t *base[GW_MX_KINDS] = {0};
    struct gw_metrics_rate *rates = NULL;
    size_t nsets = 1, n = 0;
    int rc = GW_ENOMEM;
    for (struct gw_metrics_set *o = h->sets; o; o = o->next)
        nsets++;
    int32_t *(*maps)[GW_MX_KINDS] = calloc(nsets, sizeof *maps);
    struct gw_metrics_set **lst = calloc(nsets, sizeof *lst);
    if (maps == NULL || lst == NULL)
        goto out;
    for (int k = 0; k < GW_MX_KINDS; k++)
        if (index_build(&ix[k], &s->layout, (enum gw_mx_kind)k) < 0)
            goto out;
    /* Every live set (the current one among them) and s itself get a map onto s's layout. */
    lst[n++] = s;
    for (struct gw_metrics_set *o = h->sets; o; o = o->next)
        lst[n++] = o;
    for (size_t i = 0; i < n; i++)
        if (map_build(&lst[i]->layout, ix, maps[i]) < 0)
            goto out;
    if (rows_alloc(base, &s->layout) < 0)
        goto out;
    rates = calloc(s->layout.nrows[GW_MX_ROUTE] ? s->layout.nrows[GW_MX_ROUTE] : 1, sizeof *rates);
    if (rates == NULL)
        goto out;
    /* The base and the rates follow the old current layout: the old current set's map. */
    if (h->cur) {
        int32_t **m = NULL;
        for (size_t i = 1; i < n; i++)
            if (lst[i] == h->cur)
                m = maps[i];
        for (int k = 0; m && k < GW_MX_KINDS; k++) {
            size_t words = gw_mx_row_words[k];
            for (size_t r = 0; r < h->cur->layout.nrows[k]; r++)
                if (m[k][r] >= 0)
                    add_plain_row(base[k] + (size_t)m[k][r] * words, h->base[k] + r * words,
                                  (enum gw_mx_kind)k);
        }
        for (size_t r = 0; m && h->rates && r < h->cur->layout.nrows[GW_MX_ROUTE]; r++)
            if (m[GW_MX_ROUTE][r] >= 0)
                rates[m[GW_MX_ROUTE][r]] = h->rates[r];
    }
    /* Commit. */
    for (size_t i = 0; i < n; i++) {
        free(lst[i]->inv_hist);
        lst[i]->inv_hist = NULL;
        for (int k = 0; k < GW_MX_KINDS; k++) {
            free(lst[i]->map[k]);
            lst[i]->map[k] = maps[i][k];
            maps[i][k] = NULL;
        }
    }
    rows_free(h->base);
    memcpy(h->base, base, sizeof base);
    memset(base, 0, sizeof base);
    rows_free(h->total);
    free(h->rates);
    h->rates = rates;
    rates = NULL;
    s->next = h->sets;
    h->sets = s;
    h->cur = s;
    rc = 0;
out:
    for (size_t i = 0; maps && i < n; i++)
        for (int k = 0; k < GW_MX_KINDS; k++)
            free(maps[i][k]);
    free(maps);
    free(lst);
    for (int k = 0; k < GW_MX_KINDS; k++)
        free(ix[k].slots);
    rows_free(base);
    free(rates);
    return rc;
}

void gw_metrics_hub_collect(struct gw_metrics_hub *h)
{
    struct gw_metrics_set **pp = &h->sets;
    while (*pp) {
        struct gw_metrics_set *s = *pp;
        /* The acquire pairs with the release of gw_metrics_set_release: every count written
         * before the snapshot's last reference went is visible here. */
        if (s == h->cur || !atomic_load_explicit(&s->released, memory_order_acquire)) {
            pp = &s->next;
            continue;
        }
        add_set(h->base, s, false);
        *pp = s->next;
        gw_metrics_set_free(s);
    }
}

/* Every kind but the histograms is summed into h->total here; a histogram row is summed when
 * it is read (gw_metrics_total_hist), one row at a time, so a scrape never holds a second copy
 * of every histogram. */
int gw_metrics_hub_total(struct gw_metrics_hub *h, struct gw_metrics_total *t)
{
    memset(t, 0, sizeof *t);
    if (h->cur == NULL)
        return GW_EINVAL;
    if (h->total[0] == NULL) {
        for (int k = 0; k < GW_MX_KINDS; k++) {
            size_t n = k == GW_MX_HIST ? 1 : h->cur->layout.nrows[k] * gw_mx_row_words[k];
            h->total[k] = calloc(n ? n : 1, sizeof(uint64_t));
            if (h->total[k] == NULL) {
                rows_free(h->total);
                return GW_ENOMEM;
            }
        }
    }
    /* Where each current histogram row is in each live set. */
    size_t nh = h->cur->layout.nrows[GW_MX_HIST];
    for (struct gw_metrics_set *s = h->sets; s; s = s->next) {
        if (s->inv_hist == NULL) {
            s->inv_hist = malloc((nh ? nh : 1) * sizeof *s->inv_hist);
            if (s->inv_hist == NULL)
                return GW_ENOMEM;
            memset(s->inv_hist, 0xff, (nh ? nh : 1) * sizeof *s->inv_hist);
            for (size_t r = 0; r < s->layout.nrows[GW_MX_HIST]; r++)
                if (s->map[GW_MX_HIST][r] >= 0)
                    s->inv_hist[s->map[GW_MX_HIST][r]] = (int32_t)r;
        }
    }
    for (int k = 0; k < GW_MX_KINDS; k++) {
        if (k == GW_MX_HIST)
            continue;
        size_t n = h->cur->layout.nrows[k] * gw_mx_row_words[k];
        memcpy(h->total[k], h->base[k], n * sizeof(uint64_t));
    }
    for (struct gw_metrics_set *s = h->sets; s; s = s->next)
        add_set(h->total, s, true);
    t->layout = &h->cur->layout;
    t->hub = h;
    for (int k = 0; k < GW_MX_KINDS; k++)
        t->rows[k] = h->total[k];
    return 0;
}

void gw_metrics_total_hist(const struct gw_metrics_total *t, size_t row, struct gw_hist_sum *out)
{
    /* Summed straight into out, visiting only the octave groups each source has touched; the
     * count is the sum of every value added. */
    const struct gw_metrics_hub *h = t->hub;
    const uint64_t *base = h->base[GW_MX_HIST] + row * GW_MX_H_WORDS;
    uint64_t used = base[GW_MX_H_USED], sum = used ? base[GW_MX_H_SUM] : 0, count = 0;
    memset(out->b, 0, sizeof out->b);
    for (uint64_t m = used & ((UINT64_C(1) << GW_HIST_GROUPS) - 1); m != 0; m &= m - 1) {
        unsigned g = (unsigned)__builtin_ctzll(m);
        for (unsigned i = g * GROUP; i < (g + 1) * GROUP; i++) {
            out->b[i] = base[GW_MX_H_B + i];
            count += out->b[i];
        }
    }
    for (const struct gw_metrics_set *s = h->sets; s; s = s->next) {
        int32_t r = s->inv_hist ? s->inv_hist[row] : -1;
        for (unsigned w = 0; r >= 0 && w < s->nworkers; w++) {
            const gw_mx_ctr *src = s->areas[w].rows[GW_MX_HIST] + (size_t)r * GW_MX_H_WORDS;
            uint64_t u = gw_mx_get(&src[GW_MX_H_USED]);
            if (u == 0)
                continue;
            used |= u;
            sum += gw_mx_get(&src[GW_MX_H_SUM]);
            for (uint64_t m = u & ((UINT64_C(1) << GW_HIST_GROUPS) - 1); m != 0; m &= m - 1) {
                unsigned g = (unsigned)__builtin_ctzll(m);
                for (unsigned i = g * GROUP; i < (g + 1) * GROUP; i++) {
                    uint64_t v = gw_mx_get(&src[GW_MX_H_B + i]);
                    out->b[i] += v;
                    count += v;
                }
            }
        }
    }
    out->used = (uint32_t)used;
    out->sum_ns = sum;
    out->count = count;
}

/* ---- rates ------------------------------------------------------------------------------------
 */

/* Adds the requests and 5xx answers of a route row to *req and *err. */
static void count_plain(const uint64_t *row, uint64_t *req, uint64_t *err)
{
    for (unsigned m = 0; m < GW_MX_METHODS; m++) {
        for (unsigned c = 0; c < GW_MX_CODES; c++) {
            uint64_t v = row[GW_MX_R_REQ_AT(m, c)];
            *req += v;
            if (gw_mx_code_class(c)[0] == '5')
                *err += v;
        }
    }
}

static void count_area(const gw_mx_ctr *row, uint64_t *req, uint64_t *err)
{
    for (unsigned m = 0; m < GW_MX_METHODS; m++) {
        for (unsigned c = 0; c < GW_MX_CODES; c++) {
            uint64_t v = gw_mx_get(&row[GW_MX_R_REQ_AT(m, c)]);
            *req += v;
            if (gw_mx_code_class(c)[0] == '5')
                *err += v;
        }
    }
}

void gw_metrics_hub_tick(struct gw_metrics_hub *h)
{
    if (h->cur == NULL || h->rates == NULL)
        return;
    size_t nr = h->cur->layout.nrows[GW_MX_ROUTE];
    uint64_t *req = calloc(2 * (nr ? nr : 1), sizeof *req);
    if (req == NULL)
        return;
    uint64_t *err = req + nr;
    for (size_t r = 0; r < nr; r++)
        count_plain(h->base[GW_MX_ROUTE] + r * GW_MX_R_WORDS, &req[r], &err[r]);
    for (const struct gw_metrics_set *s = h->sets; s; s = s->next) {
        for (size_t r = 0; r < s->layout.nrows[GW_MX_ROUTE]; r++) {
            int32_t to = s->map[GW_MX_ROUTE][r];
            for (unsigned w = 0; to >= 0 && w < s->nworkers; w++)
                count_area(s->areas[w].rows[GW_MX_ROUTE] + r * GW_MX_R_WORDS, &req[to], &err[to]);
        }
    }
    for (size_t r = 0; r < nr; r++)
        gw_metrics_rate_tick(&h->rates[r], req[r], err[r]);
    free(req);
}

const struct gw_metrics_rate *gw_metrics_hub_rate(const struct gw_metrics_hub *h, size_t route)
{
    if (h->cur == NULL || h->rates == NULL || route >= h->cur->layout.nrows[GW_MX_ROUTE])
        return NULL;
    return &h->rates[route];
}

void gw_metrics_hub_usage(const struct gw_metrics_hub *h, size_t *sets, size_t *bytes)
{
    size_t n = 0, b = sizeof *h;
    for (const struct gw_metrics_set *s = h->sets; s; s = s->next) {
        n++;
        b += gw_metrics_set_bytes(s);
    }
    if (h->cur) {
        for (int k = 0; k < GW_MX_KINDS; k++) {
            size_t words = h->cur->layout.nrows[k] * gw_mx_row_words[k];
            b += words * sizeof(uint64_t) * (h->total[0] && k != GW_MX_HIST ? 2 : 1);
        }
        b += h->cur->layout.nrows[GW_MX_ROUTE] * sizeof(struct gw_metrics_rate);
    }
    *sets = n;
    *bytes = b;
}

/* ---- scrapes for workers ----------------------------------------------------------------------
 */

static void on_scrape_closed(uv_handle_t *handle)
{
    struct gw_metrics_scrape *sc = handle->data;
    gw_buf_free(&sc->out);
    free(sc);
}

/* Worker: the control thread answered. */
static void on_scrape_done(uv_async_t *a)
{
    struct gw_metrics_scrape *sc = a->data;
    if (!atomic_load_explicit(&sc->cancelled, memory_order_relaxed))
        sc->cb(sc->arg, sc->err, &sc->out);
    uv_close((uv_handle_t *)&sc->done, on_scrape_closed);
}

/* Control: render every queued scrape and send each back to its worker. */
static void on_wake(uv_async_t *a)
{
    struct gw_metrics_hub *h = a->data;
    uv_mutex_lock(&h->lock);
    struct gw_metrics_scrape *q = h->queue;
    h->queue = NULL;
    uv_mutex_unlock(&h->lock);
    while (q) {
        struct gw_metrics_scrape *sc = q;
        q = q->next;
        if (atomic_load_explicit(&sc->cancelled, memory_order_relaxed))
            sc->err = GW_EINVAL;
        else if (h->render == NULL)
            sc->err = GW_EINVAL;
        else
            sc->err = h->render(h->render_arg, sc->format, &sc->out);
        uv_async_send(&sc->done);
    }
}

int gw_metrics_scrape_start(struct gw_metrics_hub *h, uv_loop_t *worker_loop, int format,
                            gw_metrics_scrape_cb cb, void *arg, struct gw_metrics_scrape **out)
{
    *out = NULL;
    if (!h->started)
        return GW_EINVAL;
    struct gw_metrics_scrape *sc = calloc(1, sizeof *sc);
    if (sc == NULL)
        return GW_ENOMEM;
    sc->hub = h;
    sc->format = format;
    sc->cb = cb;
    sc->arg = arg;
    gw_buf_init(&sc->out, (size_t)1 << 30);
    atomic_init(&sc->cancelled, false);
    if (uv_async_init(worker_loop, &sc->done, on_scrape_done) != 0) {
        free(sc);
        return GW_ENOMEM;
    }
    sc->done.data = sc;
    uv_mutex_lock(&h->lock);
    sc->next = h->queue;
    h->queue = sc;
    uv_mutex_unlock(&h->lock);
    uv_async_send(&h->wake);
    *out = sc;
    return 0;
}

void gw_metrics_scrape_cancel(struct gw_metrics_scrape *sc)
{
    if (sc)
        atomic_store_explicit(&sc->cancelled, true, memory_order_relaxed);
}
